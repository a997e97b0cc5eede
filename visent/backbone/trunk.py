"""VGG-16 up to conv5_3 + ReLU, its trainable last block, and the state dicts that fill them.

The paper describes every image by VGG-16's conv5_3 map: at 224 x 224 input a 14 x 14 grid of
512-d vectors, the 196 regions ``V_i`` of eq. (1). The trunk is fully convolutional, so the grid
follows the input size (448 px: 28 x 28 = 784 regions); :func:`output_shape` says which.

Fine-tuning cuts the trunk in two: the frozen part up to pool4 runs once into the feature cache,
and block 5 (conv5_1 .. conv5_3) trains with the head from that cache (:data:`FINETUNE_BLOCKS`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import Tensor, nn

from visent.atomic import atomic_write
from visent.backbone.errors import BackboneInputError, WeightsFileError, preview
from visent.backbone.preprocess import PREPROCESS_KEY, Preprocess
from visent.backbone.weights import DEFAULT_WEIGHTS, Weights, get_weights

TRUNK_LAYERS = 30  # vgg16().features[:30]: 13 convs and their ReLUs, 4 max-pools, no pool after conv5_3
#: Where the trunk may end, by the name of its last layer's output: ``vgg16().features[:n]``.
LAYER_ENDS = {"pool4": 24, "conv5_3": TRUNK_LAYERS}
#: ``--finetune`` choices: the block that training updates -> the layer whose output the cache holds.
FINETUNE_BLOCKS = {"none": "conv5_3", "conv5": "pool4"}
#: ``compile`` choices of :func:`device_trunk`; ``auto`` compiles on CUDA only, for long extractions.
COMPILE_MODES = ("auto", "on", "off")
#: Fewest images for which ``compile="auto"`` compiles: compiling costs tens of seconds once, which a
#: shorter extraction does not win back (benchmarks/gpu.py records the first call and both rates).
COMPILE_MIN_IMAGES = 20_000


def trunk_skeleton() -> nn.Sequential:
    # On the meta device: the layout of torchvision's trunk without allocating VGG-16's 138M parameters.
    with torch.device("meta"):
        return torchvision.models.vgg16(weights=None).features[:TRUNK_LAYERS]


@functools.cache
def trunk_shapes() -> dict[str, torch.Size]:
    """Key -> shape of every trunk parameter, in torchvision's order."""
    return {key: tensor.shape for key, tensor in trunk_skeleton().state_dict().items()}


def validate_trunk(state: Mapping[str, Any], source: str) -> dict[str, Tensor]:
    expected = trunk_shapes()
    missing, unexpected = expected.keys() - state.keys(), state.keys() - expected.keys()
    if missing or unexpected:
        raise WeightsFileError(
            f"{source}: not a VGG-16 conv trunk state dict (missing: {preview(missing) or 'none'};"
            f" unexpected: {preview(unexpected) or 'none'}); expected keys '0.weight' ... '28.bias'"
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


def trunk_keys(state: Mapping[str, Any]) -> dict[str, Any]:
    """Map a full torchvision vgg16 state dict ("features.N.weight") onto trunk keys ("N.weight")."""
    if not any(key.startswith("features.") for key in state):
        return dict(state)
    # classifier.* is VGG-16's fully connected head, which the conv5_3 trunk never uses.
    # Other keys pass through unchanged, so _validate_trunk reports them as unexpected.
    return {key.removeprefix("features."): value for key, value in state.items() if not key.startswith("classifier.")}


def output_shape(size: tuple[int, int], layer: str = "conv5_3") -> tuple[int, int, tuple[int, int]]:
    """``(regions, channels, (rows, columns))`` of the ``layer`` map of a ``(height, width)`` input."""
    layers = trunk_skeleton()[: LAYER_ENDS[layer]]
    stride = 2 ** sum(isinstance(m, nn.MaxPool2d) for m in layers)
    channels = [m.out_channels for m in layers if isinstance(m, nn.Conv2d)][-1]
    grid = (size[0] // stride, size[1] // stride)
    return grid[0] * grid[1], int(channels), grid


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
    return validate_trunk(trunk_keys(state), str(path)), preprocess


def save_weights_file(path: str | Path, state: Mapping[str, Tensor], preprocess: Preprocess | None = None) -> Path:
    """Write ``state`` (and ``preprocess`` as ``visent_preprocess``) atomically: a ``file:`` spec."""
    path = Path(path)
    payload: dict[str, Any] = dict(state)
    if preprocess is not None:
        payload[PREPROCESS_KEY] = preprocess.describe()
    return atomic_write(path, lambda fh: torch.save(payload, fh))  # a parallel worker may be reading it


def to_regions(fmap: Tensor) -> Tensor:
    """Conv map ``(B, C, H, W)`` -> regions ``(B, H*W, C)``; region i is row i // W, column i % W."""
    if fmap.ndim != 4:
        raise BackboneInputError(f"to_regions needs a (B, C, H, W) map, got shape {tuple(fmap.shape)}")
    return fmap.flatten(2).transpose(1, 2).contiguous()  # (B, 196, 512) at 224x224


def _loaded_trunk(weights: Weights) -> nn.Sequential:
    features = trunk_skeleton()
    features.to_empty(device="cpu")
    features.load_state_dict(weights.state_dict(), strict=True)
    return features


def finetune_block(weights: Weights | str, block: str) -> nn.Sequential:
    """The trunk's layers after the cut of ``--finetune block``, with ``weights``' values and
    trainable: for ``"conv5"``, conv5_1 .. conv5_3 and their ReLUs, ``(B, 512, 14, 14)`` pool4 maps in."""
    if block not in FINETUNE_BLOCKS or block == "none":
        raise ValueError(f"no trainable block {block!r}; choose one of {[b for b in FINETUNE_BLOCKS if b != 'none']}")
    features = _loaded_trunk(get_weights(weights) if isinstance(weights, str) else weights)
    return features[LAYER_ENDS[FINETUNE_BLOCKS[block]] : TRUNK_LAYERS].requires_grad_(True)


class VGG16Conv53(nn.Module):
    """VGG-16 up to conv5_3 + ReLU: ``(B, 3, 224, 224)`` -> ``(B, 512, 14, 14)``.

    Fully convolutional, so other input sizes give ``(B, 512, H // 16, W // 16)``. ``until``
    stops earlier (``"pool4"``: the input of block 5, the cache of a fine-tuned run). Frozen and in
    eval mode unless ``trainable``; the features are ``torchvision.models.vgg16().features[:30]``,
    so ``state_dict()`` keys are ``"features.N.weight"`` and load back as ``file:`` weights.
    """

    to_regions = staticmethod(to_regions)

    def __init__(
        self, weights: Weights | str = DEFAULT_WEIGHTS, *, trainable: bool = False, until: str = "conv5_3"
    ) -> None:
        super().__init__()
        if until not in LAYER_ENDS:
            raise ValueError(f"until={until!r}: the trunk can end at {list(LAYER_ENDS)}")
        self.weights = get_weights(weights) if isinstance(weights, str) else weights
        self.features = _loaded_trunk(self.weights)[: LAYER_ENDS[until]]
        self.requires_grad_(trainable)
        self.eval()

    def forward(self, images: Tensor) -> Tensor:
        """Normalised images ``(B, 3, H, W)`` float -> conv5_3 after ReLU ``(B, 512, H/16, W/16)``
        (or the ``until`` layer's map)."""
        if images.ndim != 4 or images.shape[1] != 3 or not images.is_floating_point():
            raise BackboneInputError(
                "VGG16Conv53 needs float images (B, 3, H, W) from weights.transform;"
                f" got {images.dtype} {tuple(images.shape)}"
            )
        return self.features(images)


def uses_compile(mode: str, device: torch.device, images: int) -> bool:
    """Whether ``mode`` means ``torch.compile`` for ``images`` images on ``device``."""
    if mode not in COMPILE_MODES:
        raise ValueError(f"compile={mode!r} is not one of {COMPILE_MODES}")
    return mode == "on" or (mode == "auto" and device.type == "cuda" and images >= COMPILE_MIN_IMAGES)


class _OneShapeCompiled(nn.Module):
    """The trunk compiled for the first batch size it sees; other sizes (the last, partial batch) run
    eager, since each new shape would compile again."""

    def __init__(self, trunk: nn.Module) -> None:
        super().__init__()
        self.eager = trunk
        self.compiled = torch.compile(trunk, dynamic=False)
        self.batch: int | None = None

    def forward(self, images: Tensor) -> Tensor:
        self.batch = self.batch or len(images)
        return self.compiled(images) if len(images) == self.batch else self.eager(images)


def device_trunk(weights: Weights, device: torch.device, compile: bool = False, until: str = "conv5_3") -> nn.Module:
    """The frozen trunk up to ``until`` on ``device``: channels_last on CUDA (where cuDNN's bf16
    kernels want it), compiled if asked."""
    trunk: nn.Module = VGG16Conv53(weights, until=until).to(device)
    if device.type == "cuda":
        trunk = trunk.to(memory_format=torch.channels_last)
    return _OneShapeCompiled(trunk) if compile else trunk
