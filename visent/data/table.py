"""The dataset table every layout produces, and the report of what was left out and why.

A :class:`Dataset` is one row per sample (an image file, or one of its deterministic
augmentations), with the columns in :data:`COLUMNS`. Layouts never decode images; they list
paths and labels, and every file they could not use becomes a :class:`Problem` in the
:class:`DataReport`, so nothing is dropped without a trace.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: Column name -> dtype of :attr:`Dataset.samples`. String columns are ``object`` so that
#: unknown values stay ``None`` (pandas' ``str`` dtype would turn them into NaN).
COLUMNS: dict[str, str] = {
    "path": "object",
    "label": "int8",
    "attribute": "object",
    "noun": "object",
    "anp": "object",
    "x0": "float32",
    "y0": "float32",
    "x1": "float32",
    "y1": "float32",
    "augment": "int16",
    "group": "object",
}

POSITIVE, NEGATIVE = 1, 0
CLASS_NAMES: dict[int, str] = {NEGATIVE: "negative", POSITIVE: "positive"}
SPLIT_NAMES: tuple[str, str, str] = ("train", "val", "test")


class DatasetError(ValueError):
    """A dataset table or its files are not in the expected state."""


@dataclass(frozen=True)
class Problem:
    """One thing a layout could not use: ``path`` (file, folder or ``file:line``) and why.

    ``reason`` is a short category (counted in reports); ``detail`` holds the specifics
    and, where there is one, the fix.
    """

    path: str
    reason: str
    detail: str = ""


@dataclass
class DataReport:
    """The problems met while indexing a dataset."""

    problems: list[Problem] = field(default_factory=list)

    def add(self, path: str | os.PathLike[str], reason: str, detail: str = "") -> None:
        """Record one problem."""
        self.problems.append(Problem(str(path), reason, detail))

    def extend(self, other: DataReport) -> None:
        """Append every problem of ``other``."""
        self.problems.extend(other.problems)

    def counts(self) -> dict[str, int]:
        """Number of problems per reason, most frequent first."""
        return dict(Counter(p.reason for p in self.problems).most_common())

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form: total, counts by reason, and the full list."""
        return {
            "n_problems": len(self.problems),
            "by_reason": self.counts(),
            "problems": [{"path": p.path, "reason": p.reason, "detail": p.detail} for p in self.problems],
        }

    def summary(self) -> str:
        """One line, e.g. ``"3 problems: 2 ANP not in ontology, 1 empty folder"``."""
        if not self.problems:
            return "no problems"
        parts = ", ".join(f"{n} {reason}" for reason, n in self.counts().items())
        noun = "problem" if len(self.problems) == 1 else "problems"
        return f"{len(self.problems)} {noun}: {parts}"

    def __len__(self) -> int:
        return len(self.problems)


#: The value of an optional column that a row leaves out (``group`` is derived, see make_samples).
_DEFAULTS: dict[str, Any] = {
    "attribute": None,
    "noun": None,
    "anp": None,
    "x0": np.nan,
    "y0": np.nan,
    "x1": np.nan,
    "y1": np.nan,
    "augment": 0,
}


def make_samples(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Build a samples table from row dicts; missing optional fields get their defaults.

    ``path`` and ``label`` are required; ``attribute``/``noun``/``anp`` default to ``None``,
    the box to NaN, ``augment`` to 0 and ``group`` to the ANP, else the label.
    Extra keys (e.g. a manifest's ``split``) become extra columns, in order of first
    appearance, NaN in the rows without them.
    """
    # Column by column: a full record per row would cost more memory than the table itself, and a
    # million-image crawl is indexed in one go.
    columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    for count, row in enumerate(rows):
        for key in row:
            if key not in columns:
                columns[key] = [np.nan] * count
        for name, values in columns.items():
            if name in row:
                values.append(row[name])
            elif name == "group":
                values.append(row["anp"] if row.get("anp") is not None else str(row["label"]))
            else:
                values.append(_DEFAULTS.get(name, np.nan))
    # Built as object first: inferring pandas' str dtype would turn None into NaN.
    return pd.DataFrame(
        {name: pd.Series(values, dtype=object).astype(COLUMNS.get(name, object)) for name, values in columns.items()}
    )


def validate_samples(samples: pd.DataFrame, where: str = "samples") -> None:
    """Raise :class:`DatasetError` unless ``samples`` has every column of :data:`COLUMNS`
    and binary labels."""
    missing = [c for c in COLUMNS if c not in samples.columns]
    if missing:
        raise DatasetError(f"{where}: missing columns {missing}; build the table with make_samples()")
    bad = sorted({int(v) for v in samples["label"].unique()} - {NEGATIVE, POSITIVE})
    if bad:
        raise DatasetError(f"{where}: labels must be 0 (negative) or 1 (positive), found {bad}")


@dataclass
class Dataset:
    """An indexed dataset: the samples table plus where it came from.

    ``samples.path`` is POSIX and relative to ``root`` (absolute only for manifest entries
    outside the manifest's folder). ``inputs`` are the paths besides the folders under ``root``
    that the index was read from (an ontology, a label file, the folders of manifest entries
    outside ``root``): the index cache watches them, and they stay out of result files.
    """

    name: str
    root: Path
    samples: pd.DataFrame
    report: DataReport = field(default_factory=DataReport)
    meta: dict[str, Any] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        validate_samples(self.samples, where=f"dataset {self.name!r}")

    def __len__(self) -> int:
        return len(self.samples)

    def absolute_paths(self) -> list[Path]:
        """The file of each row, joined onto :attr:`root`."""
        return [self.root / p for p in self.samples["path"]]

    def fingerprint(self) -> str:
        """sha256 over the name, every row, and each file's size and modification time.

        Changes whenever a label, path or file changes; no image is decoded, so this costs
        one ``stat`` per distinct file. Used to key feature caches.
        """
        digest = hashlib.sha256()
        digest.update(self.name.encode("utf-8"))
        digest.update(self.samples.to_csv(index=False, na_rep="").encode("utf-8"))
        for rel in sorted(set(self.samples["path"])):
            try:
                stat = (self.root / rel).stat()
            except FileNotFoundError:
                raise DatasetError(
                    f"dataset {self.name!r}: {self.root / rel} no longer exists; index the dataset again"
                ) from None
            digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode("utf-8"))
        return digest.hexdigest()

    def subset(self, rows: np.ndarray | pd.Series | Sequence[int] | Sequence[bool]) -> Dataset:
        """A new dataset with the selected rows (a boolean mask or integer positions).

        The report and meta are shared knowledge about the source, so they are copied over.
        """
        selector = np.asarray(rows)
        if selector.dtype == bool:
            if len(selector) != len(self.samples):
                raise DatasetError(
                    f"dataset {self.name!r}: mask has {len(selector)} entries for {len(self.samples)} rows"
                )
            picked = self.samples[selector]
        elif selector.size == 0 or np.issubdtype(selector.dtype, np.integer):
            picked = self.samples.iloc[selector.astype(np.int64)]
        else:
            raise DatasetError(f"subset() takes a boolean mask or integer positions, got dtype {selector.dtype}")
        return replace(
            self,
            samples=picked.reset_index(drop=True),
            report=DataReport(list(self.report.problems)),
            meta=dict(self.meta),
        )

    def summary(self) -> dict[str, Any]:
        """Sizes at a glance: rows, per-class counts, attributes, ANPs, problems by reason."""
        labels = self.samples["label"]
        return {
            "name": self.name,
            "n": len(self.samples),
            "n_images": int(self.samples["path"].nunique()),
            "classes": {CLASS_NAMES[c]: int((labels == c).sum()) for c in (POSITIVE, NEGATIVE)},
            "n_attributes": int(self.samples["attribute"].nunique()),
            "n_anps": int(self.samples["anp"].nunique()),
            "n_augmented": int((self.samples["augment"] > 0).sum()),
            "problems": self.report.counts(),
        }
