"""The weights registry: each entry of :mod:`visent.backbone.entries` resolves a spec to
:class:`Weights`, which carry the preprocessing they were trained with, as torchvision's
``Weights`` enums do (features from mismatched preprocessing look plausible and are silently wrong).

A spec is an entry's name, or ``name:ARGUMENT`` for entries that take one (``file:PATH``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from torch import Tensor

from visent.backbone.errors import UnknownWeightsError
from visent.backbone.preprocess import Preprocess
from visent.registry import Registry
from visent.usercache import user_cache_dir

DEFAULT_WEIGHTS = "oxford-imagenet"


@dataclass(frozen=True)
class Weights:
    """Resolved weights: where the trunk's parameters come from and how to preprocess for them."""

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

    def resized(self, side: int) -> Weights:
        """These weights fed ``side`` x ``side`` images; the id says the size when it is not the
        entry's own, so features at two sizes never share a cache."""
        if (side, side) == self.transform.size:
            return self
        return replace(self, id=f"{self.id}@{side}px", transform=self.transform.resized(side))


@dataclass(frozen=True)
class WeightsEntry:
    """A registry entry: ``resolve(argument)`` gives the :class:`Weights` (argument None for
    entries without one)."""

    name: str
    resolve: Callable[[str | None], Weights]
    description: str
    argument: str | None = None  # e.g. "PATH": the spec is then name:PATH

    @property
    def usage(self) -> str:
        return self.name if self.argument is None else f"{self.name}:{self.argument}"


WEIGHTS: Registry[WeightsEntry] = Registry("weights", "visent.backbone.entries")


def register_weights(name: str, description: str, argument: str | None = None):
    """Decorator of an entry module's resolver ``(argument) -> Weights``."""

    def add(resolve: Callable[[str | None], Weights]) -> Callable[[str | None], Weights]:
        WEIGHTS.add(name, WeightsEntry(name, resolve, description, argument))
        return resolve

    return add


def valid_specs() -> str:
    return "; ".join(f"{entry.usage}: {entry.description}" for _, entry in WEIGHTS.items())


def weights_cache_dir() -> Path:
    """``$VISENT_CACHE/weights``, else ``$XDG_CACHE_HOME/visent/weights``, else ``~/.cache/visent/weights``."""
    return user_cache_dir("weights")


def get_weights(spec: str = DEFAULT_WEIGHTS) -> Weights:
    """Resolve a weights spec (``visent weights`` lists them).

    ``file:`` weights are read and validated here; the others load on ``state_dict()``.
    """
    if not isinstance(spec, str):
        raise UnknownWeightsError(f"a weights spec is a string, got {type(spec).__name__}; valid: {valid_specs()}")
    name, colon, argument = spec.partition(":")
    if name not in WEIGHTS:
        raise UnknownWeightsError(f"unknown weights {spec!r}; valid: {valid_specs()}")
    entry = WEIGHTS[name]
    if (entry.argument is None) != (not colon):
        form = entry.usage
        raise UnknownWeightsError(f"weights {spec!r}: write it as {form!r}; valid: {valid_specs()}")
    return entry.resolve(argument if colon else None)
