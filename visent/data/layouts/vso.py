"""VSO: ``<root>/<adjective>_<noun>/<image>``, labels from the ontology's ANP sentiment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from visent.data.layouts import files
from visent.data.layouts.base import DatasetNotFoundError, register
from visent.data.ontology import load_ontology
from visent.data.table import DataReport, Dataset, make_samples

REGION_COLUMNS: tuple[str, ...] = ("path", "x0", "y0", "x1", "y1", "width", "height")


@register(
    "vso",
    "<root>/<adjective>_<noun>/<image>; labels from the ANP scores of a VSO 3244ANPs.txt or MVSO csv",
    config_options={"ontology": "ontology", "regions": "regions"},
)
def load_vso(
    root: Path,
    *,
    ontology: str | os.PathLike[str],
    regions: str | os.PathLike[str] | None = None,
    name: str | None = None,
) -> Dataset:
    """``<root>/<adjective>_<noun>/<image>``; label = the ANP's polarity in ``ontology``.

    Folders whose ANP is missing from the ontology, or has sentiment score 0 (no polarity),
    are reported with their file count and skipped. ``regions`` is an optional CSV of
    emotional-region boxes in pixels (``path,x0,y0,x1,y1,width,height``, paths relative to
    ``root``).
    """
    return index_vso(root, Path(ontology), None if regions is None else Path(regions), name, {"layout": "vso"})


def index_vso(
    root: Path,
    ontology_path: Path,
    regions_path: Path | None,
    name: str | None,
    meta: dict[str, Any],
    *own_files: Path,
) -> Dataset:
    """Shared indexing of the vso and synthetic layouts.

    ``own_files`` (and the ontology and regions files) may sit in ``root`` without being
    reported as stray.
    """
    ontology = load_ontology(ontology_path)
    report = DataReport()
    names, folders = files.scan(root, root, report)
    expected = {p.resolve() for p in (ontology_path, regions_path, *own_files) if p is not None}
    for file_name in names:
        if (root / file_name).resolve() not in expected:
            report.add(file_name, "stray file", "images must sit in an <adjective>_<noun> folder")
    rows = []
    for folder in folders:
        anp = match_anp(folder, ontology.anps)
        if anp is None:
            fix = f"add the ANP to {ontology_path} or rename the folder"
            files.skip_folder(root, folder, report, "ANP not in ontology", fix)
            continue
        images = files.list_images(root, folder, report)
        adjective, noun, score = ontology.anps[anp]
        if not images:
            report.add(folder, "empty folder", "no image files in this ANP folder")
        elif score == 0:
            report.add(folder, "neutral ANP (score 0)", f"{len(images)} images skipped: the ANP has no polarity")
        else:
            label = ontology.polarity(anp)
            rows += [
                {"path": path, "label": label, "attribute": adjective, "noun": noun, "anp": anp} for path in images
            ]
    samples = make_samples(rows)
    if regions_path is not None:
        attach_regions(samples, regions_path, report)
    meta = {
        **meta,
        "ontology": str(ontology_path),
        "ontology_source": ontology.source,
        "regions": None if regions_path is None else str(regions_path),
    }
    inputs = tuple(str(p) for p in (ontology_path, regions_path, *own_files) if p is not None)
    return Dataset(name or root.name, root, samples, report, meta, inputs)


def match_anp(folder: str, anps: Mapping[str, Any]) -> str | None:
    """The ontology key for an ANP folder name; case is ignored, since VSO keys are lowercase."""
    for candidate in (folder, folder.lower()):
        if candidate in anps:
            return candidate
    return None


def attach_regions(samples: pd.DataFrame, regions_path: Path, report: DataReport) -> None:
    """Fill ``x0, y0, x1, y1`` of ``samples`` in place from a pixel-box CSV, as fractions.

    Rows that are malformed, name an image not in the table, repeat an image, or hold a box
    outside its image are reported and ignored (the box stays NaN, i.e. unknown).
    """
    if not regions_path.is_file():
        raise DatasetNotFoundError(f"regions file {regions_path} does not exist; drop regions= or fix the path")
    row_of = {path: i for i, path in enumerate(samples["path"])}
    boxes: dict[int, tuple[float, float, float, float]] = {}
    for where, row in files.read_csv(regions_path, REGION_COLUMNS, "regions file", report):
        path = files.normalise_relative(row["path"] or "")
        try:
            x0, y0, x1, y1, width, height = (float(str(row[c])) for c in REGION_COLUMNS[1:])  # None: malformed
        except (TypeError, ValueError):
            report.add(where, "malformed region row", "x0,y0,x1,y1,width,height must be numbers")
            continue
        if path not in row_of:
            report.add(where, "region for unknown image", f"{path!r} is not in the dataset")
        elif row_of[path] in boxes:
            report.add(where, "duplicate region row", f"{path!r} has a box already; the first is kept")
        elif not (width > 0 and height > 0 and 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
            report.add(where, "bad region box", f"need 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height for {path!r}")
        else:
            boxes[row_of[path]] = (x0 / width, y0 / height, x1 / width, y1 / height)
    for j, column in enumerate(("x0", "y0", "x1", "y1")):
        values = samples[column].to_numpy(copy=True)
        for row_index, box in boxes.items():
            values[row_index] = box[j]
        samples[column] = values
