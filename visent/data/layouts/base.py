"""The layout registry: each layout module registers its indexer with its options and description.

Layouts list paths and labels only: no image is opened (decoding problems surface later, in
:func:`visent.data.images.load_image`). Every file or line that cannot be used is recorded in the
dataset's :class:`~visent.data.table.DataReport` with the reason and, where there is one, the fix.
Listings are sorted, so the same folder always yields the same table.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from visent.data.index_cache import cached_index
from visent.data.table import Dataset
from visent.registry import Registry


class LayoutError(ValueError):
    """A dataset folder or index file does not follow its layout."""


class DatasetNotFoundError(FileNotFoundError):
    """The dataset root, or a file the layout needs inside it, does not exist."""


@dataclass(frozen=True)
class Layout:
    """One on-disk dataset layout.

    ``load(root, **options)`` indexes a dataset; its keyword-only parameters are the layout's
    options. ``config_options`` maps options to the ``RunConfig`` keys that fill them.
    """

    name: str
    load: Callable[..., Dataset]
    structure: str  # the folder structure, one line for tables and ``--help``
    config_options: Mapping[str, str] = field(default_factory=dict)
    #: Whether images carry their adjective (the attention-truth and -shuffled queries need it).
    has_attributes: bool = True
    #: Whether images carry a text that people wrote about them (a ``text`` column: the text queries).
    has_text: bool = False
    #: A column numbering each image's published cross-validation partition (1..K): the folds.
    fold_column: str | None = None
    #: Whether the root may be a file (a manifest CSV) rather than a folder.
    root_may_be_file: bool = False
    #: Whether its table may carry a ``split`` column, which ``--split given`` reads.
    given_split: bool = False
    #: A ``RunConfig`` key whose value joins the run id (two Twitter subsets never share one).
    run_name_key: str | None = None
    #: ``(root, cache) -> Dataset`` whose feature cache serves this layout's datasets (a superset).
    feature_source: Callable[[Path, bool], Dataset] | None = None

    @property
    def provides(self) -> frozenset[str]:
        """The per-image inputs besides the pixels that a query of eq. (2) can read."""
        return frozenset({"attribute"} if self.has_attributes else set()) | ({"text"} if self.has_text else set())

    @property
    def options(self) -> dict[str, inspect.Parameter]:
        return {n: p for n, p in inspect.signature(self.load).parameters.items() if p.kind is p.KEYWORD_ONLY}


LAYOUTS: Registry[Layout] = Registry("dataset layout", "visent.data.layouts")


def register(name: str, structure: str, **about: Any) -> Callable[[Callable[..., Dataset]], Callable[..., Dataset]]:
    """Decorator of a layout module's indexer: ``@register("vso", "<root>/<adjective>_<noun>/<image>")``."""

    def add(load: Callable[..., Dataset]) -> Callable[..., Dataset]:
        LAYOUTS.add(name, Layout(name, load, structure, **about))
        return load

    return add


def load_dataset(layout: str, root: str | os.PathLike[str], *, cache: bool = True, **options: Any) -> Dataset:
    """Index the dataset at ``root`` stored in ``layout`` (a name of :data:`LAYOUTS`).

    Every layout accepts ``name=`` (default: the root folder's name); the others are its
    indexer's keyword-only parameters. With ``cache`` the index is saved in, and while its
    folders and files are unchanged served from, the user's index cache
    (:mod:`visent.data.index_cache`).

    Raises:
        ValueError: unknown layout, unknown or missing option.
        DatasetNotFoundError: ``root`` or a file the layout requires is missing.
        LayoutError: an index file is unreadable as a whole (bad header, not UTF-8).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown dataset layout {layout!r}; valid layouts: {', '.join(LAYOUTS)}")
    entry = LAYOUTS[layout]
    params = entry.options
    unknown = sorted(set(options) - set(params))
    if unknown:
        raise ValueError(f"layout {layout!r} has no option {', '.join(unknown)}; valid options: {', '.join(params)}")
    required = [n for n, p in params.items() if p.default is p.empty and n not in options]
    if required:
        raise ValueError(f"layout {layout!r} needs option {', '.join(f'{n}=...' for n in required)}")
    root = Path(root)
    if not root.exists():
        raise DatasetNotFoundError(f"dataset root {root} does not exist; check the path given for layout {layout!r}")
    build = functools.partial(entry.load, root, **options)
    return cached_index(layout, root, options, build) if cache else build()
