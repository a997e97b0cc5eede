"""Twitter I (You et al., AAAI 2015): ``images/`` and ``twitter_{five,four,three}_agrees.txt``."""

from __future__ import annotations

import os
from pathlib import Path

from visent.data.layouts import files
from visent.data.layouts.base import DatasetNotFoundError, load_dataset, register
from visent.data.table import DataReport, Dataset, make_samples

#: The agreement subsets: images on whose polarity five, at least four, at least three of five
#: workers agreed.
TWITTER_SUBSETS: tuple[str, ...] = ("five", "four", "three")


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


@register(
    "twitter",
    "<root>/images/ and twitter_{five,four,three}_agrees.txt (no adjectives)",
    config_options={"subset": "twitter_subset"},
    has_attributes=False,
    run_name_key="twitter_subset",
    feature_source=lambda root, cache: twitter_all(root, cache=cache),
)
def load_twitter(root: Path, *, subset: str = "five", name: str | None = None) -> Dataset:
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
        if not files.is_utf8(file_name):
            report.add(
                where, "undecodable file name", f"{files.printable(file_name)}: rename the image to a UTF-8 name"
            )
        elif file_name in first_seen:
            first_line, first_label = first_seen[file_name]
            reason = "duplicate line" if label == first_label else "conflicting labels"
            report.add(
                where, reason, f"{file_name} first listed at line {first_line} with label {first_label}; kept that one"
            )
        else:
            first_seen[file_name] = (number, label)
            if (images_dir / file_name).is_file():
                rows.append({"path": f"images/{file_name}", "label": label})
            else:
                report.add(where, "listed image missing", f"{images_dir / file_name} does not exist")
    meta = {"layout": "twitter", "subset": subset, "label_file": str(label_file)}
    return Dataset(name or f"twitter-{subset}", root, make_samples(rows), report, meta, (str(label_file),))
