"""The model variants: one module each, registered in :data:`VARIANTS`.

A variant is a head (``visent.model.heads``), the source of its attention query ``a``
(``visent.model.queries.QUERY_SOURCES``, or none) and its trainer. The variants differ in one
thing at a time, so every comparison of the book reads one change. ``--variant`` choices, the
default runs of ``visent run``, the book's variant table and the result files read the registry;
a new variant is one new module (the architecture chapter shows one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from torch import nn

from visent.model.heads import LEARNED_QUERY_DIM, AttributeAttention
from visent.registry import Registry

#: ``(region_dim, word_dim, hidden_dim, num_classes) -> head``; ``word_dim`` is None without queries.
HeadBuilder = Callable[[int, "int | None", int, int], nn.Module]
TRAINERS = ("sgd", "probe")


@dataclass(frozen=True)
class Variant:
    """One row of the book's tables.

    ``attribute_source`` names the query source of eq. (2) (``QUERY_SOURCES``), None for a head that
    needs no query. ``trainer`` is ``"sgd"`` (``visent.training.train.fit``, the paper's schedule)
    or ``"probe"`` (``visent.training.probe.fit_probe``, a convex fit). ``rank`` orders the tables;
    ``default_run`` puts the variant in ``visent run``'s default list where its inputs exist.
    """

    name: str
    build: HeadBuilder
    attends: str  # the attention query, in words, for the book's variant table
    purpose: str
    attribute_source: str | None = None
    uses_image: bool = True
    trainer: str = "sgd"
    rank: int = 100
    default_run: bool = False

    def __post_init__(self) -> None:
        if self.trainer not in TRAINERS:
            raise ValueError(f"variant {self.name!r}: trainer must be one of {TRAINERS}, got {self.trainer!r}")

    @property
    def finetunable(self) -> bool:
        """Whether ``--finetune`` can train a backbone block with it: an SGD head on the regions whose
        query is not computed from the frozen features (a detector's)."""
        from visent.model.queries import QUERY_SOURCES

        source = QUERY_SOURCES.get(self.attribute_source) if self.attribute_source else None
        return self.trainer == "sgd" and self.uses_image and not (source and source.reads_features)


VARIANTS: Registry[Variant] = Registry("model variant", "visent.model.variants", key=lambda v: v.rank)


def register(variant: Variant) -> Variant:
    """Add a variant module's variant to :data:`VARIANTS`."""
    return VARIANTS.add(variant.name, variant)


def attention(query: str) -> HeadBuilder:
    """The builder of eqs. (1)-(6) with ``query`` ``"attribute"``, ``"learned"`` or ``"none"`` (uniform)."""

    def build(region_dim: int, word_dim: int | None, hidden_dim: int, num_classes: int) -> nn.Module:
        return AttributeAttention(region_dim, word_dim or LEARNED_QUERY_DIM, hidden_dim, num_classes, query=query)

    return build


def build_model(
    variant: str, *, region_dim: int, hidden_dim: int, word_dim: int | None = None, num_classes: int = 2
) -> nn.Module:
    """The module for a variant name of ``VARIANTS``, sized by the data: ``region_dim`` channels
    per region (the feature cache's), ``word_dim`` the query vectors' size (None: no word vectors)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose one of {list(VARIANTS)}")
    spec = VARIANTS[variant]
    if word_dim is None and spec.attribute_source is not None:
        raise ValueError(f"variant {variant!r} reads word vectors: give their size as word_dim")
    return spec.build(region_dim, word_dim, hidden_dim, num_classes)


def missing_inputs(variant: str, provides: Iterable[str], options: Iterable[str]) -> list[str]:
    """What ``variant``'s query needs that a dataset does not give: the per-image input (``"attribute"``,
    ``"text"``) its layout lacks, and the config keys (``"ontology"``) that are not set."""
    from visent.model.queries import QUERY_SOURCES

    source = VARIANTS[variant].attribute_source
    if source is None:
        return []
    spec = QUERY_SOURCES[source]
    lacking = [] if spec.needs is None or spec.needs in set(provides) else [spec.needs]
    return lacking + [key for key in spec.options if key not in set(options)]


def default_variants(provides: Iterable[str], options: Iterable[str] = ()) -> list[str]:
    """``visent run``'s variants for a dataset: the ``default_run`` ones whose inputs it has, in table order."""
    provides, options = list(provides), list(options)
    return [n for n, v in VARIANTS.items() if v.default_run and not missing_inputs(n, provides, options)]


__all__ = ["VARIANTS", "Variant", "attention", "build_model", "default_variants", "missing_inputs", "register"]
