"""Accuracies that other works publish on this book's datasets, from ``book/published.yml``: the
one place where a number the code did not measure enters the book.

Each entry names its work (a key of ``book/references.bib``), its model, its protocol and where the
figure was read; :func:`published_frame` puts the entries of one dataset in a table, beside which
the chapters place ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from visent.reporting.results import ResultsError

#: The file, relative to the repository root.
PUBLISHED = Path("book") / "published.yml"
#: The subsets an accuracy may be given for, in table order, with their display names; ``unstated``
#: is a figure whose source does not say on which subset or folds it was measured.
SUBSETS = {"five": "5-agree", "four": "4-agree", "three": "3-agree", "unstated": "subset not stated"}
_KEYS = ("work", "model", "protocol", "read_in", "accuracy")


@dataclass(frozen=True)
class Published:
    """One published figure set: a model of a work, under its protocol."""

    work: str
    model: str
    protocol: str
    read_in: str
    accuracy: dict[str, float]


def _entry(path: Path, dataset: str, k: int, raw: Any) -> Published:
    where = f"{path}: {dataset}[{k}]"
    if not isinstance(raw, dict):
        raise ResultsError(f"{where} is a {type(raw).__name__}, not a mapping of {', '.join(_KEYS)}")
    unknown, missing = sorted(set(raw) - set(_KEYS)), [key for key in _KEYS if key not in raw]
    if unknown or missing:
        raise ResultsError(f"{where}: unknown keys {unknown}, missing keys {missing}; an entry has {', '.join(_KEYS)}")
    accuracy = raw["accuracy"]
    if not isinstance(accuracy, dict) or not accuracy or set(accuracy) - set(SUBSETS):
        raise ResultsError(f"{where}: accuracy must map some of {', '.join(SUBSETS)} to a percentage, got {accuracy!r}")
    for subset, value in accuracy.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 100:
            raise ResultsError(f"{where}: accuracy {subset} must be a percentage in (0, 100], got {value!r}")
    return Published(**{key: raw[key] for key in _KEYS[:4]}, accuracy={s: float(v) for s, v in accuracy.items()})


def load_published(path: str | Path = PUBLISHED) -> dict[str, list[Published]]:
    """Every entry of the file, per dataset layout (``twitter``, ``twitter2``); an unreadable or
    malformed file raises :class:`ResultsError` naming the file and the entry."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ResultsError(f"{path}: not readable as YAML ({err})") from err
    if not isinstance(data, dict):
        raise ResultsError(f"{path}: holds a {type(data).__name__}, not a mapping of dataset -> entries")
    out = {}
    for dataset, entries in data.items():
        if not isinstance(entries, list):
            raise ResultsError(f"{path}: {dataset} must be a list of entries, got {type(entries).__name__}")
        out[str(dataset)] = [_entry(path, str(dataset), k, raw) for k, raw in enumerate(entries)]
    return out


def published_frame(entries: list[Published]) -> pd.DataFrame:
    """One row per entry: work (a citation), model, protocol, one column per subset any entry
    gives (``–`` where it gives none), and where the figure was read."""
    subsets = [s for s in SUBSETS if any(s in e.accuracy for e in entries)]
    rows = [
        {"work": f"{{cite:t}}`{e.work}`", "model": e.model}
        | {f"{SUBSETS[s]} (%)": repr(e.accuracy[s]) if s in e.accuracy else "–" for s in subsets}
        | {"protocol": e.protocol, "read in": e.read_in}
        for e in entries
    ]
    return pd.DataFrame(rows)
