"""Class folders: ``<root>/<class or emotion>/<image>``, mapped to polarity."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from visent.data.layouts import files
from visent.data.layouts.base import register
from visent.data.table import NEGATIVE, POSITIVE, DataReport, Dataset, make_samples

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


@register("folders", "<root>/<class or emotion>/<image>; Mikels' emotions or positive/negative folders")
def load_folders(root: Path, *, mapping: Mapping[str, int | str] | None = None, name: str | None = None) -> Dataset:
    """``<root>/<class>/<image>``; ``mapping`` folder name -> polarity (0/1 or positive/negative).

    The default mapping is :data:`EMOTION_POLARITY` (FI, EmoSet). Folder names are matched
    case-insensitively; unmapped folders are reported with their file count and skipped.
    The stratification ``group`` is the folder (e.g. the emotion), which is finer than
    the label and implies it.
    """
    polarity = polarity_mapping(EMOTION_POLARITY if mapping is None else mapping)
    report = DataReport()
    names, folders = files.scan(root, root, report)
    for file_name in names:
        report.add(file_name, "stray file", "images must sit in a class folder")
    rows = []
    for folder in folders:
        label = polarity.get(folder.lower())
        if label is None:
            fix = f"add it to mapping= (known: {', '.join(polarity)})"
            files.skip_folder(root, folder, report, "unknown class folder", fix)
            continue
        images = files.list_images(root, folder, report)
        if not images:
            report.add(folder, "empty folder", "no image files in this class folder")
        rows += [{"path": path, "label": label, "group": folder} for path in images]
    meta = {"layout": "folders", "mapping": polarity}
    return Dataset(name or root.name, root, make_samples(rows), report, meta)


def polarity_mapping(mapping: Mapping[str, int | str]) -> dict[str, int]:
    """Lower-cased folder name -> 0/1; rejects values that are not a polarity."""
    polarity = {}
    for folder, value in mapping.items():
        label = files.parse_label(value)
        if label is None:
            raise ValueError(f"mapping[{folder!r}] = {value!r} is not a polarity; use 0/1 or 'negative'/'positive'")
        polarity[str(folder).lower()] = label
    return polarity
