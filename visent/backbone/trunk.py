"""The trunk of a backbone (:mod:`visent.backbone.architecture`) loaded with its weights, the part
``--finetune`` trains, and the state dicts that fill them.

The regions ``V_i`` of eq. (1) are the trunk's last map, ``(B, C, rows, columns)`` flattened row by
row (:func:`to_regions`): VGG-16 conv5_3 at 224 x 224 input is a 14 x 14 grid of 512-d vectors; the
grid follows the input size (448 px: 28 x 28 = 784 regions), :func:`output_shape` says which.

Fine-tuning cuts the trunk in two: the frozen part up to the cut runs once into the feature cache,
and the part after it trains with the head from that cache (VGG-16: pool4, then block 5).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from visent.atomic import atomic_write
from visent.backbone.architecture import BACKBONES, DEFAULT_BACKBONE, get_backbone, skeleton_state
from visent.backbone.errors import BackboneInputError, WeightsFileError, preview
from visent.backbone.preprocess import PREPROCESS_KEY, Preprocess
from visent.backbone.weights import Weights, get_weights

#: ``compile`` choices of :func:`device_trunk`; ``auto`` compiles on CUDA only, for long extractions.
COMPILE_MODES = ("auto", "on", "off")
#: Fewest images for which ``compile="auto"`` compiles: compiling costs tens of seconds once, which a
#: shorter extraction does not win back (benchmarks/gpu.py records the first call and both rates).
COMPILE_MIN_IMAGES = 20_000


def validate_trunk(state: Mapping[str, Any], source: str, backbone: str = DEFAULT_BACKBONE) -> dict[str, Tensor]:
    """``state`` checked against the trunk of ``backbone``: same keys, shapes and kinds of tensor;
    floating-point entries as float32."""
    arch = get_backbone(backbone)
    expected = skeleton_state(arch.name)
    missing, unexpected = expected.keys() - state.keys(), state.keys() - expected.keys()
    if missing or unexpected:
        first, last = next(iter(expected)), list(expected)[-1]
        other = [n for n in BACKBONES if n != arch.name and trunk_keys(state, n).keys() == skeleton_state(n).keys()]
        hint = f"; they are the keys of {other[0]}: add --backbone {other[0]}" if other else ""
        raise WeightsFileError(
            f"{source}: not a {arch.title} trunk state dict (missing: {preview(missing) or 'none'};"
            f" unexpected: {preview(unexpected) or 'none'}); expected keys {first!r} ... {last!r} of the"
            f" {arch.name} trunk, or a full torchvision {arch.name} state dict{hint}"
        )
    out = {}
    for key, (shape, dtype) in expected.items():
        tensor = state[key]
        floating = dtype.is_floating_point
        if not isinstance(tensor, Tensor) or tensor.is_floating_point() != floating:
            found = tensor.dtype if isinstance(tensor, Tensor) else type(tensor).__name__
            kind = "a floating-point" if floating else f"an integer ({dtype})"
            raise WeightsFileError(f"{source}: {key} must be {kind} tensor, got {found}")
        if tensor.shape != shape:
            raise WeightsFileError(
                f"{source}: {key} has shape {tuple(tensor.shape)}, {arch.title} needs {tuple(shape)}"
            )
        out[key] = (tensor.to(torch.float32) if floating else tensor.to(dtype)).contiguous()
    return out


def trunk_keys(state: Mapping[str, Any], backbone: str = DEFAULT_BACKBONE) -> dict[str, Any]:
    """Map a full torchvision state dict, or a :class:`Trunk`'s (``"features.N.weight"``), onto trunk keys."""
    heads = get_backbone(backbone).head_prefixes
    # Other keys pass through unchanged, so validate_trunk reports them as unexpected.
    return {key.removeprefix("features."): value for key, value in state.items() if not key.startswith(heads)}


def read_state_file(path: Path, backbone: str = DEFAULT_BACKBONE) -> tuple[dict[str, Tensor], Preprocess | None]:
    """Read a weights file of ``backbone``: the validated trunk state dict and its ``visent_preprocess``, if any."""
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
    return validate_trunk(trunk_keys(state, backbone), str(path), backbone), preprocess


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


def _loaded_trunk(weights: Weights) -> nn.Module:
    """The whole trunk of ``weights``' backbone at their input size, filled with their values."""
    arch = get_backbone(weights.backbone)
    size = weights.transform.size
    with torch.device("meta"):  # the layout without allocating (VGG-16 alone has 138M parameters)
        trunk = arch.build(size)
    trunk.to_empty(device="cpu")
    trunk.load_state_dict(arch.adapt(weights.state_dict(), size), strict=True)
    return trunk


def finetune_block(weights: Weights | str, block: str) -> nn.Module:
    """The trunk's layers after the cut of ``--finetune block``, with ``weights``' values and
    trainable: VGG-16's ``"conv5"`` is conv5_1 .. conv5_3 and their ReLUs, ``(B, 512, 14, 14)`` pool4 maps in."""
    weights = get_weights(weights) if isinstance(weights, str) else weights
    arch = get_backbone(weights.backbone)
    blocks = [b for b in arch.finetune if b != "none"]
    if block not in blocks:
        raise ValueError(f"{arch.name} has no trainable block {block!r}; choose one of {blocks}")
    return arch.cut(_loaded_trunk(weights), arch.finetune[block], None).requires_grad_(True)


class Trunk(nn.Module):
    """A backbone's trunk with its weights: normalised images ``(B, 3, H, W)`` -> its last map
    ``(B, C, rows, columns)`` (VGG-16 at 224 px: conv5_3 after ReLU, ``(B, 512, 14, 14)``).

    ``until`` stops earlier (VGG-16's ``"pool4"``: the input of block 5, the cache of a fine-tuned
    run). Frozen and in eval mode unless ``trainable``; ``state_dict()`` keys are the torchvision
    network's behind ``"features."`` and load back as ``file:`` weights.
    """

    to_regions = staticmethod(to_regions)

    def __init__(self, weights: Weights | str, *, trainable: bool = False, until: str | None = None) -> None:
        super().__init__()
        self.weights = get_weights(weights) if isinstance(weights, str) else weights
        arch = get_backbone(self.weights.backbone)
        if until is not None and until not in arch.layers:
            raise ValueError(f"until={until!r}: the {arch.name} trunk can end at {list(arch.layers)}")
        self.features = arch.cut(_loaded_trunk(self.weights), None, until)
        self.requires_grad_(trainable)
        self.eval()

    def forward(self, images: Tensor) -> Tensor:
        """Normalised images ``(B, 3, H, W)`` float -> the ``until`` layer's map ``(B, C, rows, columns)``."""
        if images.ndim != 4 or images.shape[1] != 3 or not images.is_floating_point():
            raise BackboneInputError(
                "the trunk needs float images (B, 3, H, W) from weights.transform;"
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


def device_trunk(weights: Weights, device: torch.device, compile: bool = False, until: str | None = None) -> nn.Module:
    """The frozen trunk up to ``until`` on ``device``: channels_last on CUDA (where cuDNN's bf16
    kernels want it), compiled if asked."""
    trunk: nn.Module = Trunk(weights, until=until).to(device)
    if device.type == "cuda":
        trunk = trunk.to(memory_format=torch.channels_last)
    return _OneShapeCompiled(trunk) if compile else trunk
