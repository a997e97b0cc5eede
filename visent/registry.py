"""A name -> entry table that fills itself from the modules of one package.

Dataset layouts (:mod:`visent.data.layouts`) and backbone weights (:mod:`visent.backbone.entries`)
are registries: each entry lives in its own module, registers itself on import, and carries its
description and options. Config choices, CLI flags and ``visent weights`` read the registry, so
adding an entry is one new module.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class UnknownEntryError(ValueError):
    """A name that no entry of a registry has; the message lists the valid ones."""


class Registry(Generic[T]):
    """Entries by name, in name order (or in the order of ``key(entry)``, ties by name);
    ``package``'s modules are imported on first use."""

    def __init__(self, kind: str, package: str, key: Callable[[T], Any] | None = None) -> None:
        self.kind = kind
        self.package = package
        self._key = key
        self._entries: dict[str, T] = {}
        self._loaded = False

    def add(self, name: str, entry: T) -> T:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = entry
        return entry

    def _load(self) -> dict[str, T]:
        if not self._loaded:
            self._loaded = True  # before importing: the modules import this registry back
            package = importlib.import_module(self.package)
            for module in pkgutil.iter_modules(package.__path__):
                importlib.import_module(f"{self.package}.{module.name}")
        return self._entries

    def __getitem__(self, name: str) -> T:
        entries = self._load()
        if name not in entries:
            close = difflib.get_close_matches(str(name), list(entries), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UnknownEntryError(f"unknown {self.kind} {name!r}{hint} Valid: {', '.join(self.names())}")
        return entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._load()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._load())

    def names(self) -> tuple[str, ...]:
        entries = self._load()
        key = self._key
        if key is None:
            return tuple(sorted(entries))
        return tuple(sorted(entries, key=lambda name: (key(entries[name]), name)))

    def values(self) -> list[T]:
        entries = self._load()
        return [entries[name] for name in self.names()]

    def items(self) -> list[tuple[str, T]]:
        entries = self._load()
        return [(name, entries[name]) for name in self.names()]
