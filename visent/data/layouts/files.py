"""Listing folders and reading index files, shared by the layouts."""

from __future__ import annotations

import csv
import os
import posixpath
from pathlib import Path, PurePosixPath

from visent.data.layouts.base import LayoutError
from visent.data.table import NEGATIVE, POSITIVE, DataReport

IMAGE_EXTENSIONS: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})

_LABEL_WORDS: dict[str, int] = {
    "1": POSITIVE,
    "positive": POSITIVE,
    "pos": POSITIVE,
    "0": NEGATIVE,
    "negative": NEGATIVE,
    "neg": NEGATIVE,
}


def parse_label(value: object) -> int | None:
    """0/1 from ``0``, ``1``, ``negative``, ``positive`` (any case); ``None`` otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value in (NEGATIVE, POSITIVE) else None
    return _LABEL_WORDS.get(str(value).strip().lower()) if value is not None else None


def read_csv(
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


def scan(folder: Path, root: Path, report: DataReport) -> tuple[list[str], list[str]]:
    """Sorted file and folder names directly inside ``folder``.

    Names that are not valid UTF-8 (possible on Linux file systems) cannot be stored in the
    table or written to JSON, so they are reported instead of listed; so are entries whose type
    cannot be read (a symbolic link that points to itself).
    """
    files: list[str] = []
    folders: list[str] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            relative = os.path.relpath(entry.path, root)
            if not is_utf8(entry.name):
                report.add(printable(relative), "undecodable file name", "rename it to a UTF-8 name (e.g. with convmv)")
                continue
            try:
                is_dir = entry.is_dir()
            except OSError as err:
                report.add(relative, "unreadable entry", f"{err.strerror}; fix or remove it (a symbolic link loop?)")
                continue
            (folders if is_dir else files).append(entry.name)
    return sorted(files), sorted(folders)


def skip_folder(root: Path, folder: str, report: DataReport, reason: str, fix: str) -> None:
    """Report a folder the layout cannot use, with its file count, and each of its files as
    ``image of an <reason>`` (e.g. "ANP not in ontology" -> "image of an ANP not in ontology")."""
    names, _ = scan(root / folder, root, DataReport())
    report.add(folder, reason, f"{len(names)} files skipped; {fix}")
    for name in names:
        report.add(f"{folder}/{name}", f"image of an {reason}", f"skipped; {fix}")


def list_images(root: Path, folder: str, report: DataReport) -> list[str]:
    """Root-relative POSIX paths of the image files in ``root/folder``; anything else reported."""
    files, subfolders = scan(root / folder, root, report)
    for sub in subfolders:
        report.add(
            f"{folder}/{sub}", "nested folder (not searched)", "images must sit directly in the class/ANP folder"
        )
    images = []
    for file_name in files:
        if is_image_name(file_name):
            images.append(f"{folder}/{file_name}")
        else:
            report.add(
                f"{folder}/{file_name}", "not an image file", f"extension not in {', '.join(sorted(IMAGE_EXTENSIONS))}"
            )
    return images


def is_image_name(name: str) -> bool:
    """Whether ``name`` has one of :data:`IMAGE_EXTENSIONS` (any case)."""
    return PurePosixPath(name).suffix.lower() in IMAGE_EXTENSIONS


def is_utf8(name: str) -> bool:
    """False for names holding undecodable bytes (``surrogateescape`` code points)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(name: str) -> str:
    """``name`` with undecodable bytes shown as ``\\xNN`` escapes."""
    return os.fsencode(name).decode("utf-8", errors="backslashreplace")


def normalise_relative(path: str) -> str:
    """``./a//b.jpg`` -> ``a/b.jpg``: the form paths take in the samples table."""
    return posixpath.normpath(path.strip().replace("\\", "/"))
