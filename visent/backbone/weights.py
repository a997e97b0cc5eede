"""The weights registry: each entry of :mod:`visent.backbone.entries` resolves a spec, for one
backbone architecture, to :class:`Weights`, which carry the preprocessing they were trained with, as
torchvision's ``Weights`` enums do (features from mismatched preprocessing look plausible and are
silently wrong).

A spec is an entry's name, or ``name:ARGUMENT`` for entries that take one (``file:PATH``). Most
entries serve every architecture (``random``, ``torchvision-imagenet``, ``file:PATH``); an entry
may name the ones it serves (``oxford-imagenet``: VGG-16 only).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from torch import Tensor

from visent.backbone.architecture import BACKBONES, DEFAULT_BACKBONE, get_backbone
from visent.backbone.errors import UnknownWeightsError
from visent.backbone.preprocess import Preprocess
from visent.registry import Registry
from visent.usercache import user_cache_dir


@dataclass(frozen=True)
class Weights:
    """Resolved weights: where the trunk's parameters come from and how to preprocess for them."""

    id: str
    is_random: bool
    transform: Preprocess
    source: str
    loader: Callable[[], dict[str, Tensor]] = field(repr=False, compare=False)
    sha256: str | None = None  # of the file, for file: weights
    backbone: str = DEFAULT_BACKBONE  # the architecture the parameters fill

    def state_dict(self) -> dict[str, Tensor]:
        """The trunk's parameters at its native input size, keyed as in torchvision's network
        (VGG-16: ``torchvision.models.vgg16().features[:30]``)."""
        return self.loader()

    def describe(self) -> dict[str, Any]:
        """JSON-able provenance for result files and feature-cache manifests."""
        return {
            "id": self.id,
            "backbone": self.backbone,
            "is_random": self.is_random,
            "source": self.source,
            "sha256": self.sha256,
            "transform": self.transform.describe(),
        }

    def resized(self, side: int) -> Weights:
        """These weights fed ``side`` x ``side`` images; the id says the size when it is not the
        entry's own, so features at two sizes never share a cache."""
        if (side, side) == self.transform.size:
            return self
        return replace(self, id=f"{self.id}@{side}px", transform=self.transform.resized(side))


@dataclass(frozen=True)
class WeightsEntry:
    """A registry entry: ``resolve(argument, backbone)`` gives the :class:`Weights` (argument None
    for entries without one)."""

    name: str
    resolve: Callable[[str | None, str], Weights]
    description: str
    argument: str | None = None  # e.g. "PATH": the spec is then name:PATH
    backbones: tuple[str, ...] | None = None  # the architectures it serves; None: all

    @property
    def usage(self) -> str:
        return self.name if self.argument is None else f"{self.name}:{self.argument}"


WEIGHTS: Registry[WeightsEntry] = Registry("weights", "visent.backbone.entries")


def register_weights(
    name: str, description: str, argument: str | None = None, backbones: tuple[str, ...] | None = None
):
    """Decorator of an entry module's resolver ``(argument, backbone) -> Weights``."""

    def add(resolve: Callable[[str | None, str], Weights]) -> Callable[[str | None, str], Weights]:
        WEIGHTS.add(name, WeightsEntry(name, resolve, description, argument, backbones))
        return resolve

    return add


def serves(entry: WeightsEntry, backbone: str) -> bool:
    return entry.backbones is None or backbone in entry.backbones


def valid_specs(backbone: str | None = None) -> str:
    """The specs (of ``backbone``, or of any) with their descriptions."""
    return "; ".join(
        f"{entry.usage}: {entry.description}"
        for _, entry in WEIGHTS.items()
        if backbone is None or serves(entry, backbone)
    )


def weights_id(name: str, backbone: str) -> str:
    """A weights id: the entry's name, after the architecture's but for VGG-16 (whose ids predate
    other backbones), so caches and results of two architectures never share a name."""
    return name if backbone == DEFAULT_BACKBONE else f"{backbone}-{name}"


def weights_cache_dir() -> Path:
    """``$VISENT_CACHE/weights``, else ``$XDG_CACHE_HOME/visent/weights``, else ``~/.cache/visent/weights``."""
    return user_cache_dir("weights")


def weights_error(spec: Any, backbone: str = DEFAULT_BACKBONE) -> str | None:
    """Why ``spec`` names no weights of ``backbone``, or None."""
    if backbone not in BACKBONES:
        return f"unknown backbone {backbone!r}; choose one of {list(BACKBONES)}"
    if not isinstance(spec, str):
        return f"a weights spec is a string, got {type(spec).__name__}; valid: {valid_specs(backbone)}"
    name, colon, _ = spec.partition(":")
    if name not in WEIGHTS:
        return f"unknown weights {spec!r}; valid: {valid_specs(backbone)}"
    entry = WEIGHTS[name]
    if not serves(entry, backbone):
        fit = entry.backbones or ()
        return (
            f"weights {name!r} are {' and '.join(get_backbone(b).title for b in fit)} weights, not {backbone}'s;"
            f" valid for {backbone}: {valid_specs(backbone)}"
        )
    if (entry.argument is None) != (not colon):
        return f"weights {spec!r}: write it as {entry.usage!r}; valid: {valid_specs(backbone)}"
    return None


def get_weights(spec: str | None = None, backbone: str = DEFAULT_BACKBONE) -> Weights:
    """Resolve a weights spec for ``backbone`` (``visent weights`` lists them); None: the
    backbone's default weights.

    ``file:`` weights are read and validated here; the others load on ``state_dict()``.
    """
    spec = get_backbone(backbone).default_weights if spec is None else spec
    why = weights_error(spec, backbone)
    if why is not None:
        raise UnknownWeightsError(why)
    name, colon, argument = spec.partition(":")
    return WEIGHTS[name].resolve(argument if colon else None, backbone)
