"""A manifest CSV: ``path,label`` and optional ``attribute``, ``split`` columns."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

from visent.data.layouts import files
from visent.data.layouts.base import DatasetNotFoundError, register
from visent.data.layouts.vso import attach_regions
from visent.data.table import SPLIT_NAMES, DataReport, Dataset, make_samples

MANIFEST_COLUMNS: tuple[str, ...] = ("path", "label", "attribute", "split")


@register(
    "manifest",
    "a CSV with path,label and optional attribute, split columns (the root may be the CSV)",
    config_options={"regions": "regions"},
    root_may_be_file=True,
    given_split=True,
)
def load_manifest(root: Path, *, regions: str | os.PathLike[str] | None = None, name: str | None = None) -> Dataset:
    """A CSV (``root``, or ``root/manifest.csv`` when ``root`` is a folder) listing images.

    Columns: ``path`` (relative to the CSV's folder, or absolute), ``label`` (0/1 or
    positive/negative), optional ``attribute`` (the image's adjective) and ``split``
    (train/val/test, kept as an extra column). Bad rows are reported by line number;
    a path listed twice keeps its first row. ``regions`` is an optional CSV of emotional-region
    boxes, as for the vso layout, with paths as in the manifest.
    """
    csv_path = root / "manifest.csv" if root.is_dir() else root
    if not csv_path.is_file():
        raise DatasetNotFoundError(f"{csv_path} does not exist; pass the manifest CSV as the root")
    base = csv_path.parent
    report = DataReport()
    first_seen: dict[str, tuple[str, int]] = {}
    outside: set[str] = set()
    rows = []
    for where, row in files.read_csv(csv_path, MANIFEST_COLUMNS[:2], "manifest", report, optional=MANIFEST_COLUMNS[2:]):
        raw_path = (row["path"] or "").strip()
        label = files.parse_label(row["label"])
        # A blank split cell means "not fixed": assign_splits decides for that row.
        split = (row.get("split") or "").strip().lower() or None
        if not raw_path or label is None:
            report.add(where, "malformed row", "need a path and a label of 0/1 or negative/positive")
            continue
        if split is not None and split not in SPLIT_NAMES:
            report.add(where, "malformed row", f"split {split!r} is not one of {', '.join(SPLIT_NAMES)}")
            continue
        path = manifest_path(raw_path, base)
        if path in first_seen:
            first_where, first_label = first_seen[path]
            reason = "duplicate row" if label == first_label else "conflicting labels"
            report.add(where, reason, f"{path} first listed at {first_where}; kept that one")
            continue
        first_seen[path] = (where, label)
        if not files.is_image_name(path):
            report.add(
                where, "not an image file", f"{path}: extension not in {', '.join(sorted(files.IMAGE_EXTENSIONS))}"
            )
            continue
        if posixpath.isabs(path):
            # The index cache watches the folders under `base`; an entry outside them is watched
            # through its own folder, whose time changes when the file appears or goes.
            outside.add(posixpath.dirname(path))
        if not (base / path).is_file():
            report.add(where, "listed image missing", f"{base / path} does not exist")
        else:
            attribute = (row.get("attribute") or "").strip() or None
            rows.append(
                {"path": path, "label": label, "attribute": attribute, **({"split": split} if "split" in row else {})}
            )
    samples = make_samples(rows)
    if regions is not None:
        attach_regions(samples, Path(regions), report)
    meta = {"layout": "manifest", "manifest": str(csv_path), "regions": None if regions is None else str(regions)}
    inputs = (str(csv_path), *([] if regions is None else [str(regions)]), *sorted(outside))
    return Dataset(name or base.name, base, samples, report, meta, inputs)


def manifest_path(raw_path: str, base: Path) -> str:
    """POSIX path relative to ``base``; absolute paths outside ``base`` stay absolute."""
    path = Path(raw_path)
    if path.is_absolute():
        try:
            return path.relative_to(base).as_posix()
        except ValueError:
            return path.as_posix()
    return files.normalise_relative(raw_path)
