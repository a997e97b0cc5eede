"""Cross-validation folds: visent's own stratified k-fold, or published folds read from files.

A published-folds folder holds ``test1/ ... testK/``, each with ``train.txt`` and ``test.txt``
(``<image file> <0|1>`` per line), as Campos et al. (IMAVIS 2017) released them for Twitter I. A
folder of such folders per agreement subset (``five_agrees/``, ...) is accepted for the twitter
layout. Validation for early stopping is always carved from the training part of a fold.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from visent.data.table import Dataset

#: Share of a fold's training images held out, stratified by class, for early stopping.
VAL_FRACTION = 0.1
#: The split value of a row that takes no part in a fold (reported, never trained or tested on).
UNASSIGNED = "unassigned"
_FOLD_DIR = re.compile(r"test(\d+)")
_FOLD_FILES = ("train.txt", "test.txt")


class FoldsError(ValueError):
    """A published-folds folder that cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class PublishedFolds:
    """The folds of a folder: for fold ``k``, ``train[k]`` and ``test[k]`` map file name -> label."""

    root: Path
    train: tuple[dict[str, int], ...]
    test: tuple[dict[str, int], ...]
    sha256: str

    def __len__(self) -> int:
        return len(self.test)

    def describe(self) -> dict:
        """What a result file records: the folder, the number of folds and a digest of their files."""
        return {"path": str(self.root), "k": len(self), "sha256": self.sha256}


def folds_folder(path: str | Path, subset: str | None = None) -> Path:
    """``path``, or its ``<subset>_agrees/`` subfolder when it holds one (the Twitter I release)."""
    root = Path(path)
    if not root.is_dir():
        raise FoldsError(
            f"folds folder {root} does not exist; give the folder that holds test1/ ... testK/ "
            "(each with train.txt and test.txt)"
        )
    if subset and (root / f"{subset}_agrees").is_dir():
        return root / f"{subset}_agrees"
    return root


def _read_list(path: Path) -> dict[str, int]:
    if not path.is_file():
        raise FoldsError(f"{path} is missing; every fold folder needs {' and '.join(_FOLD_FILES)}")
    entries: dict[str, int] = {}
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise FoldsError(f"{path} is not UTF-8 text ({err}); re-save it as UTF-8") from None
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.strip().rsplit(maxsplit=1)
        if not parts:
            continue
        # A fold file defines the protocol: a line that cannot be read stops the run rather than
        # silently changing which images are tested.
        if len(parts) != 2 or parts[1] not in ("0", "1"):
            raise FoldsError(f"{path}:{number}: {line!r} is not '<image file> <0|1>'; fix or remove the line")
        if parts[0] in entries:
            raise FoldsError(f"{path}:{number}: {parts[0]} is listed twice; remove one of the lines")
        entries[parts[0]] = int(parts[1])
    return entries


def read_folds(path: str | Path) -> PublishedFolds:
    """Read ``path/test<k>/{train,test}.txt`` for k = 1..K (K >= 2, numbered without gaps)."""
    root = Path(path)
    found = {int(m.group(1)): d for d in root.iterdir() if d.is_dir() and (m := _FOLD_DIR.fullmatch(d.name))}
    if len(found) < 2:
        raise FoldsError(
            f"{root} holds {len(found)} fold folder(s); published folds are folders test1/ ... testK/ "
            "(K >= 2), each with train.txt and test.txt"
        )
    if sorted(found) != list(range(1, len(found) + 1)):
        raise FoldsError(f"{root}: fold folders are numbered {sorted(found)}; they must be test1 ... test{len(found)}")
    digest = hashlib.sha256()
    train, test = [], []
    for k in range(1, len(found) + 1):
        for name in _FOLD_FILES:
            file = found[k] / name
            if file.is_file():
                digest.update(f"test{k}/{name}\0".encode() + file.read_bytes())
        tr, te = _read_list(found[k] / "train.txt"), _read_list(found[k] / "test.txt")
        both = sorted(tr.keys() & te.keys())
        if both:
            raise FoldsError(f"{found[k]}: {len(both)} image(s) in both train.txt and test.txt, e.g. {both[0]}")
        train.append(tr)
        test.append(te)
    return PublishedFolds(root, tuple(train), tuple(test), digest.hexdigest())


def stratified_folds(labels: np.ndarray, folds: int, fold: int, seed: int) -> np.ndarray:
    """visent's own stratified k-fold: ``"test"`` for fold ``fold``, ``"train"`` for the others.
    Fold membership depends only on the labels and the seed, so the k runs partition the data."""
    rng = np.random.default_rng([seed, 5])
    fold_of = np.empty(len(labels), dtype=np.int64)
    for c in np.unique(labels):
        members = rng.permutation(np.nonzero(labels == c)[0])
        fold_of[members] = np.arange(len(members)) % folds
    return np.where(fold_of == fold, "test", "train").astype(object)


def carve_validation(split: np.ndarray, labels: np.ndarray, seed: int, fraction: float = VAL_FRACTION) -> np.ndarray:
    """Mark a stratified ``fraction`` of the ``"train"`` rows as ``"val"`` (a copy of ``split``);
    at least one image of each class that has two or more, so early stopping always has rows."""
    rng = np.random.default_rng([seed, 5, 1])
    out = split.copy()
    for c in np.unique(labels):
        rest = rng.permutation(np.nonzero((split == "train") & (labels == c))[0])
        n = max(1, int(round(len(rest) * fraction))) if len(rest) >= 2 else 0
        out[rest[:n]] = "val"
    return out


def published_split(dataset: Dataset, folds: PublishedFolds, fold: int) -> np.ndarray:
    """``"train"``/``"test"`` per row for fold ``fold`` (0-based), ``UNASSIGNED`` for the rest.

    Fold entries are matched to rows by path relative to the dataset root, else by file name.
    Every row left out, every fold entry without an image and every label that disagrees with
    the dataset's is recorded in ``dataset.report``.
    """
    paths = dataset.samples["path"].tolist()
    labels = dataset.samples["label"].to_numpy()
    by_name: dict[str, int | None] = {}
    for row, path in enumerate(paths):
        by_name[path] = row
        name = PurePosixPath(path).name
        by_name[name] = None if name in by_name and by_name[name] != row else row  # None: ambiguous
    where = folds.root / f"test{fold + 1}"
    split = np.full(len(paths), UNASSIGNED, dtype=object)
    for part, entries in (("train", folds.train[fold]), ("test", folds.test[fold])):
        if entries and not any(by_name.get(name) is not None for name in entries):
            raise FoldsError(
                f"{where}/{part}.txt lists {len(entries)} images and none of them is in {dataset.root}"
                f" (it lists e.g. {', '.join(list(entries)[:2])}; the dataset holds e.g. {', '.join(paths[:2])}):"
                " these are the folds of another dataset; give --folds of this one"
            )
        for name, label in entries.items():
            found = by_name.get(name)
            if found is None:
                dataset.report.add(f"{where}/{part}.txt", "fold entry not in the dataset", f"{name}: no such image")
            elif labels[found] != label:
                dataset.report.add(
                    paths[found],
                    "fold label differs",
                    f"{where}/{part}.txt says {label}, the dataset {int(labels[found])}; left out of this fold",
                )
            else:
                split[found] = part
    everywhere = set().union(*folds.train, *folds.test)
    for left_out in np.nonzero(split == UNASSIGNED)[0]:
        path = paths[left_out]
        if path not in everywhere and PurePosixPath(path).name not in everywhere:
            dataset.report.add(path, "in no published fold", f"labelled, but no fold of {folds.root} lists it")
        else:
            dataset.report.add(path, "not in this fold", f"{where} lists it in neither train.txt nor test.txt")
    return split
