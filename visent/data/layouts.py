"""Indexing the on-disk layouts of sentiment datasets into a :class:`Dataset`.

Layouts list paths and labels only: no image is opened (decoding problems surface later,
in :func:`visent.data.images.load_image`). Every file or line that cannot be used is
recorded in the dataset's :class:`DataReport` with the reason and, where there is one, the
fix. Listings are sorted, so the same folder always yields the same table.

=============  ======================================================================
layout         folder structure
=============  ======================================================================
``vso``        ``<root>/<adjective>_<noun>/<image>``; labels from ``ontology=`` (VSO
               ``3244ANPs.txt`` or MVSO ``anp,score`` CSV); optional ``regions=`` CSV
``synthetic``  a folder written by ``visent synth``: the ``vso`` layout with
               ``ontology.txt``, ``regions.csv`` and ``synth.json`` inside it
``twitter``    ``<root>/images/`` and ``twitter_{five,four,three}_agrees.txt``
``folders``    ``<root>/<class or emotion>/<image>``, mapped to polarity by ``mapping=``
``manifest``   a CSV with ``path,label`` and optional ``attribute``, ``split`` columns
=============  ======================================================================
"""

from __future__ import annotations

import csv
import functools
import inspect
import json
import os
import posixpath
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from visent.data.index_cache import cached_index
from visent.data.table import NEGATIVE, POSITIVE, DataReport, Dataset, make_samples
from visent.ontology import load_ontology

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
)

#: Binary sentiment of the eight emotions of FI and EmoSet (Mikels' categories), plus
#: plain class folders.
EMOTION_POLARITY: dict[str, int] = {
    "amusement": POSITIVE,
    "awe": POSITIVE,
    "contentment": POSITIVE,
    "excitement": POSITIVE,
    "anger": NEGATIVE,
    "disgust": NEGATIVE,
    "fear": NEGATIVE,
    "sadness": NEGATIVE,
    "positive": POSITIVE,
    "negative": NEGATIVE,
}

TWITTER_SUBSETS: tuple[str, ...] = ("five", "four", "three")
MANIFEST_COLUMNS: tuple[str, ...] = ("path", "label", "attribute", "split")
REGION_COLUMNS: tuple[str, ...] = ("path", "x0", "y0", "x1", "y1", "width", "height")
SPLIT_NAMES: tuple[str, ...] = ("train", "val", "test")

_LABEL_WORDS: dict[str, int] = {
    "1": POSITIVE,
    "positive": POSITIVE,
    "pos": POSITIVE,
    "0": NEGATIVE,
    "negative": NEGATIVE,
    "neg": NEGATIVE,
}


class LayoutError(ValueError):
    """A dataset folder or index file does not follow its layout."""


class DatasetNotFoundError(FileNotFoundError):
    """The dataset root, or a file the layout needs inside it, does not exist."""


def load_dataset(layout: str, root: str | os.PathLike[str], *, cache: bool = True, **options: Any) -> Dataset:
    """Index the dataset at ``root`` stored in ``layout`` (one of :data:`LAYOUTS`).

    Every layout accepts ``name=`` (default: the root folder's name); the others are
    listed in the module docstring and in each ``_load_<layout>`` function. With ``cache``
    the index is saved in, and while its folders and files are unchanged served from, the
    user's index cache (:mod:`visent.data.index_cache`).

    Raises:
        ValueError: unknown layout, unknown or missing option.
        DatasetNotFoundError: ``root`` or a file the layout requires is missing.
        LayoutError: an index file is unreadable as a whole (bad header, not UTF-8).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown dataset layout {layout!r}; valid layouts: {', '.join(LAYOUTS)}")
    loader = LAYOUTS[layout]
    params = {n: p for n, p in inspect.signature(loader).parameters.items() if p.kind is p.KEYWORD_ONLY}
    unknown = sorted(set(options) - set(params))
    if unknown:
        raise ValueError(
            f"layout {layout!r} has no option {', '.join(unknown)}; valid options: {', '.join(params)}"
        )
    required = [n for n, p in params.items() if p.default is p.empty and n not in options]
    if required:
        raise ValueError(f"layout {layout!r} needs option {', '.join(f'{n}=...' for n in required)}")
    root = Path(root)
    if not root.exists():
        raise DatasetNotFoundError(f"dataset root {root} does not exist; check the path given for layout {layout!r}")
    build = functools.partial(loader, root, **options)
    return cached_index(layout, root, options, build) if cache else build()


# --------------------------------------------------------------------------- vso / synthetic


def _load_vso(
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
    return _index_vso(root, Path(ontology), None if regions is None else Path(regions), name, {"layout": "vso"})


def _load_synthetic(root: Path, *, name: str | None = None) -> Dataset:
    """A ``visent synth`` folder: the vso layout with its own ontology and region boxes.

    ``synth.json`` (the generator's config) goes into ``meta["synth"]``; a folder whose
    generation did not complete is refused. ``noise.csv`` (the label-noise audit) is
    expected at the root and recorded in ``meta["noise"]``.
    """
    needed = {f: root / f for f in ("ontology.txt", "regions.csv", "synth.json")}
    for file_name, path in needed.items():
        if not path.is_file():
            raise DatasetNotFoundError(
                f"{root} is not a synthetic dataset: {file_name} is missing; create it with `visent synth {root}`"
            )
    try:
        config = json.loads(needed["synth.json"].read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise LayoutError(f"{needed['synth.json']} is not valid JSON ({err}); regenerate with `visent synth`") from None
    if isinstance(config, dict) and config.get("complete") is False:
        raise LayoutError(f"{root}: synth.json says generation did not finish; run `visent synth` on it again")
    noise = root / "noise.csv"
    meta = {"layout": "synthetic", "synth": config, "noise": str(noise) if noise.is_file() else None}
    return _index_vso(
        root, needed["ontology.txt"], needed["regions.csv"], name, meta, needed["synth.json"], noise
    )


def _index_vso(
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
    files, folders = _scan(root, root, report)
    expected = {p.resolve() for p in (ontology_path, regions_path, *own_files) if p is not None}
    for file_name in files:
        if (root / file_name).resolve() not in expected:
            report.add(file_name, "stray file", "images must sit in an <adjective>_<noun> folder")
    rows = []
    for folder in folders:
        anp = _match_anp(folder, ontology.anps)
        if anp is None:
            fix = f"add the ANP to {ontology_path} or rename the folder"
            files_in, _ = _scan(root / folder, root, DataReport())
            report.add(folder, "ANP not in ontology", f"{len(files_in)} files skipped; {fix}")
            for file_name in files_in:
                report.add(f"{folder}/{file_name}", "image of an ANP not in ontology", f"skipped; {fix}")
            continue
        images = _list_images(root, folder, report)
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
        _attach_regions(samples, regions_path, report)
    meta = {
        **meta,
        "ontology": str(ontology_path),
        "ontology_source": ontology.source,
        "regions": None if regions_path is None else str(regions_path),
    }
    inputs = tuple(str(p) for p in (ontology_path, regions_path, *own_files) if p is not None)
    return Dataset(name or root.name, root, samples, report, meta, inputs)


def _match_anp(folder: str, anps: Mapping[str, Any]) -> str | None:
    """The ontology key for an ANP folder name; case is ignored, since VSO keys are lowercase."""
    for candidate in (folder, folder.lower()):
        if candidate in anps:
            return candidate
    return None


def _attach_regions(samples: pd.DataFrame, regions_path: Path, report: DataReport) -> None:
    """Fill ``x0, y0, x1, y1`` of ``samples`` in place from a pixel-box CSV, as fractions.

    Rows that are malformed, name an image not in the table, repeat an image, or hold a box
    outside its image are reported and ignored (the box stays NaN, i.e. unknown).
    """
    if not regions_path.is_file():
        raise DatasetNotFoundError(f"regions file {regions_path} does not exist; drop regions= or fix the path")
    row_of = {path: i for i, path in enumerate(samples["path"])}
    boxes: dict[int, tuple[float, float, float, float]] = {}
    for where, row in _read_csv(regions_path, REGION_COLUMNS, "regions file", report):
        path = _normalise_relative(row["path"] or "")
        try:
            x0, y0, x1, y1, width, height = (float(row[c]) for c in REGION_COLUMNS[1:])
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


# --------------------------------------------------------------------------- twitter


def _load_twitter(root: Path, *, subset: str = "five", name: str | None = None) -> Dataset:
    """Twitter I (You et al., AAAI 2015): ``images/`` and ``twitter_<subset>_agrees.txt``.

    Each line is ``<image file> <0|1>``. Malformed lines, lines naming missing images and
    repeated images are reported (for a repeated image the first line is kept, and a
    different label on the repeat is reported as a conflict).
    """
    if subset not in TWITTER_SUBSETS:
        raise ValueError(f"twitter subset {subset!r} is not one of {', '.join(TWITTER_SUBSETS)}")
    label_file = root / f"twitter_{subset}_agrees.txt"
    images_dir = root / "images"
    if not label_file.is_file():
        present = sorted(p.name for p in root.glob("twitter_*_agrees.txt"))
        raise DatasetNotFoundError(
            f"{label_file} does not exist (label files present: {present or 'none'}); "
            f"pick subset= among those, or copy the Twitter I label files into {root}"
        )
    if not images_dir.is_dir():
        raise DatasetNotFoundError(f"{images_dir} does not exist; the Twitter layout keeps its images there")
    report = DataReport()
    first_seen: dict[str, tuple[int, int]] = {}
    rows = []
    text = label_file.read_bytes().decode("utf-8-sig", errors="surrogateescape")
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{label_file.name}:{number}"
        parts = line.strip().rsplit(maxsplit=1)
        if not parts:
            continue
        if len(parts) != 2 or parts[1] not in ("0", "1"):
            report.add(where, "malformed line", f"{line!r}: expected '<image file> <0|1>'")
            continue
        file_name, label = parts[0], int(parts[1])
        if not _is_utf8(file_name):
            report.add(where, "undecodable file name", f"{_printable(file_name)}: rename the image to a UTF-8 name")
        elif file_name in first_seen:
            first_line, first_label = first_seen[file_name]
            reason = "duplicate line" if label == first_label else "conflicting labels"
            report.add(where, reason, f"{file_name} first listed at line {first_line} with label {first_label}; kept that one")
        else:
            first_seen[file_name] = (number, label)
            if (images_dir / file_name).is_file():
                rows.append({"path": f"images/{file_name}", "label": label})
            else:
                report.add(where, "listed image missing", f"{images_dir / file_name} does not exist")
    meta = {"layout": "twitter", "subset": subset, "label_file": str(label_file)}
    return Dataset(name or f"twitter-{subset}", root, make_samples(rows), report, meta, (str(label_file),))


def twitter_all(root: str | os.PathLike[str], *, cache: bool = True) -> Dataset:
    """Every image of the agreement subsets present, each once, three-agree first: the dataset
    whose feature cache serves all three subsets (in the release they are nested)."""
    present = [s for s in reversed(TWITTER_SUBSETS) if (Path(root) / f"twitter_{s}_agrees.txt").is_file()]
    seen: set[str] = set()
    rows = []
    for subset in present:
        part = load_dataset("twitter", root, cache=cache, subset=subset)
        for path, label in zip(part.samples["path"], part.samples["label"]):
            if path not in seen:
                seen.add(path)
                rows.append({"path": path, "label": int(label)})
    return Dataset("twitter-all", Path(root), make_samples(rows), DataReport(), {"layout": "twitter", "subset": "all"})


# --------------------------------------------------------------------------- folders


def _load_folders(root: Path, *, mapping: Mapping[str, int | str] | None = None, name: str | None = None) -> Dataset:
    """``<root>/<class>/<image>``; ``mapping`` folder name -> polarity (0/1 or positive/negative).

    The default mapping is :data:`EMOTION_POLARITY` (FI, EmoSet). Folder names are matched
    case-insensitively; unmapped folders are reported with their file count and skipped.
    The stratification ``group`` is the folder (e.g. the emotion), which is finer than
    the label and implies it.
    """
    polarity = _polarity_mapping(EMOTION_POLARITY if mapping is None else mapping)
    report = DataReport()
    files, folders = _scan(root, root, report)
    for file_name in files:
        report.add(file_name, "stray file", "images must sit in a class folder")
    rows = []
    for folder in folders:
        label = polarity.get(folder.lower())
        if label is None:
            fix = f"add it to mapping= (known: {', '.join(polarity)})"
            files_in, _ = _scan(root / folder, root, DataReport())
            report.add(folder, "unknown class folder", f"{len(files_in)} files skipped; {fix}")
            for file_name in files_in:
                report.add(f"{folder}/{file_name}", "image of an unknown class folder", f"skipped; {fix}")
            continue
        images = _list_images(root, folder, report)
        if not images:
            report.add(folder, "empty folder", "no image files in this class folder")
        rows += [{"path": path, "label": label, "group": folder} for path in images]
    meta = {"layout": "folders", "mapping": polarity}
    return Dataset(name or root.name, root, make_samples(rows), report, meta)


def _polarity_mapping(mapping: Mapping[str, int | str]) -> dict[str, int]:
    """Lower-cased folder name -> 0/1; rejects values that are not a polarity."""
    polarity = {}
    for folder, value in mapping.items():
        label = _parse_label(value)
        if label is None:
            raise ValueError(f"mapping[{folder!r}] = {value!r} is not a polarity; use 0/1 or 'negative'/'positive'")
        polarity[str(folder).lower()] = label
    return polarity


# --------------------------------------------------------------------------- manifest


def _load_manifest(root: Path, *, name: str | None = None) -> Dataset:
    """A CSV (``root``, or ``root/manifest.csv`` when ``root`` is a folder) listing images.

    Columns: ``path`` (relative to the CSV's folder, or absolute), ``label`` (0/1 or
    positive/negative), optional ``attribute`` (the image's adjective) and ``split``
    (train/val/test, kept as an extra column). Bad rows are reported by line number;
    a path listed twice keeps its first row.
    """
    csv_path = root / "manifest.csv" if root.is_dir() else root
    if not csv_path.is_file():
        raise DatasetNotFoundError(f"{csv_path} does not exist; pass the manifest CSV as the root")
    base = csv_path.parent
    report = DataReport()
    first_seen: dict[str, tuple[str, int]] = {}
    outside: set[str] = set()
    rows = []
    for where, row in _read_csv(csv_path, MANIFEST_COLUMNS[:2], "manifest", report, optional=MANIFEST_COLUMNS[2:]):
        raw_path = (row["path"] or "").strip()
        label = _parse_label(row["label"])
        # A blank split cell means "not fixed": assign_splits decides for that row.
        split = (row.get("split") or "").strip().lower() or None
        if not raw_path or label is None:
            report.add(where, "malformed row", "need a path and a label of 0/1 or negative/positive")
            continue
        if split is not None and split not in SPLIT_NAMES:
            report.add(where, "malformed row", f"split {split!r} is not one of {', '.join(SPLIT_NAMES)}")
            continue
        path = _manifest_path(raw_path, base)
        if path in first_seen:
            first_where, first_label = first_seen[path]
            reason = "duplicate row" if label == first_label else "conflicting labels"
            report.add(where, reason, f"{path} first listed at {first_where}; kept that one")
            continue
        first_seen[path] = (where, label)
        if not _is_image_name(path):
            report.add(where, "not an image file", f"{path}: extension not in {', '.join(sorted(IMAGE_EXTENSIONS))}")
            continue
        if posixpath.isabs(path):
            # The index cache watches the folders under `base`; an entry outside them is watched
            # through its own folder, whose time changes when the file appears or goes.
            outside.add(posixpath.dirname(path))
        if not (base / path).is_file():
            report.add(where, "listed image missing", f"{base / path} does not exist")
        else:
            attribute = (row.get("attribute") or "").strip() or None
            rows.append({"path": path, "label": label, "attribute": attribute, **({"split": split} if "split" in row else {})})
    meta = {"layout": "manifest", "manifest": str(csv_path)}
    return Dataset(name or base.name, base, make_samples(rows), report, meta, (str(csv_path), *sorted(outside)))


def _manifest_path(raw_path: str, base: Path) -> str:
    """POSIX path relative to ``base``; absolute paths outside ``base`` stay absolute."""
    path = Path(raw_path)
    if path.is_absolute():
        try:
            return path.relative_to(base).as_posix()
        except ValueError:
            return path.as_posix()
    return _normalise_relative(raw_path)


# --------------------------------------------------------------------------- shared helpers


def _parse_label(value: object) -> int | None:
    """0/1 from ``0``, ``1``, ``negative``, ``positive`` (any case); ``None`` otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value in (NEGATIVE, POSITIVE) else None
    return _LABEL_WORDS.get(str(value).strip().lower()) if value is not None else None


def _read_csv(
    path: Path,
    required: tuple[str, ...],
    what: str,
    report: DataReport,
    optional: tuple[str, ...] = (),
) -> list[tuple[str, dict[str, str | None]]]:
    """``(file:line, row)`` for each data row of a CSV with a header.

    Missing ``required`` columns raise :class:`LayoutError`; columns neither required nor
    ``optional`` are reported once as ignored; rows with more fields than the header are
    reported as malformed.
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [c.strip() for c in reader.fieldnames or []]
            reader.fieldnames = header
            missing = [c for c in required if c not in header]
            if missing:
                raise LayoutError(
                    f"{what} {path} lacks column(s) {', '.join(missing)} (header: {header}); "
                    f"its first line must name {', '.join(required + optional)}"
                )
            for column in header:
                if column not in required + optional:
                    report.add(f"{path.name}:1", "ignored column", f"column {column!r} is not used")
            rows = []
            for row in reader:
                where = f"{path.name}:{reader.line_num}"
                if None in row:
                    report.add(where, "malformed row", f"more fields than the {len(header)} header columns")
                    continue
                rows.append((where, row))
            return rows
    except UnicodeDecodeError as err:
        raise LayoutError(f"{what} {path} is not UTF-8 text ({err}); re-save it as UTF-8") from None


def _scan(folder: Path, root: Path, report: DataReport) -> tuple[list[str], list[str]]:
    """Sorted file and folder names directly inside ``folder``.

    Names that are not valid UTF-8 (possible on Linux file systems) cannot be stored in the
    table or written to JSON, so they are reported instead of listed.
    """
    files, folders = [], []
    with os.scandir(folder) as entries:
        for entry in entries:
            if not _is_utf8(entry.name):
                relative = os.path.relpath(entry.path, root)
                report.add(_printable(relative), "undecodable file name", "rename it to a UTF-8 name (e.g. with convmv)")
            elif entry.is_dir():
                folders.append(entry.name)
            else:
                files.append(entry.name)
    return sorted(files), sorted(folders)


def _list_images(root: Path, folder: str, report: DataReport) -> list[str]:
    """Root-relative POSIX paths of the image files in ``root/folder``; anything else reported."""
    files, subfolders = _scan(root / folder, root, report)
    for sub in subfolders:
        report.add(f"{folder}/{sub}", "nested folder (not searched)", "images must sit directly in the class/ANP folder")
    images = []
    for file_name in files:
        if _is_image_name(file_name):
            images.append(f"{folder}/{file_name}")
        else:
            report.add(
                f"{folder}/{file_name}", "not an image file", f"extension not in {', '.join(sorted(IMAGE_EXTENSIONS))}"
            )
    return images


def _is_image_name(name: str) -> bool:
    """Whether ``name`` has one of :data:`IMAGE_EXTENSIONS` (any case)."""
    return PurePosixPath(name).suffix.lower() in IMAGE_EXTENSIONS


def _is_utf8(name: str) -> bool:
    """False for names holding undecodable bytes (``surrogateescape`` code points)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _printable(name: str) -> str:
    """``name`` with undecodable bytes shown as ``\\xNN`` escapes."""
    return os.fsencode(name).decode("utf-8", errors="backslashreplace")


def _normalise_relative(path: str) -> str:
    """``./a//b.jpg`` -> ``a/b.jpg``: the form paths take in the samples table."""
    return posixpath.normpath(path.strip().replace("\\", "/"))


LAYOUTS: dict[str, Callable[..., Dataset]] = {
    "vso": _load_vso,
    "synthetic": _load_synthetic,
    "twitter": _load_twitter,
    "folders": _load_folders,
    "manifest": _load_manifest,
}
