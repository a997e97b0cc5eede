"""Twitter II (Borth et al., ACM MM 2013): ``partition<k>/<id>.jpg`` with the tweet's text beside it.

The release's five folders are its official cross-validation partitions, ``groundTruthLabel.txt``
labels the images (``<image>\\t<positive|negative>``, a header line first), and each image has
``<id>_<hashtag>.txt``: the tweet page's HTML metadata with the tweet's text and, for Instagram
pages, its comments. The text kept for an image is the tweet's text and every comment that is not
a copy of it, with the HTML, the page boilerplate (user names, times, site names) and URLs dropped.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path, PurePosixPath

from visent.data.layouts import files
from visent.data.layouts.base import DatasetNotFoundError, LayoutError, load_dataset, register
from visent.data.ontology import load_ontology
from visent.data.table import NEGATIVE, POSITIVE, DataReport, Dataset, make_samples
from visent.data.text import words_in

LABEL_FILE = "groundTruthLabel.txt"
PARTITION = re.compile(r"partition(\d+)")
SENTIMENTS = {"positive": POSITIVE, "negative": NEGATIVE}
#: Label-file names listed in the detail of the one problem that reports rows without an image.
_SHOWN = 10

_META = re.compile(r"<meta\s+(?:property|name)=\"([^\"]+)\"\s+(?:content|value)=\"([^\"]*)\"", re.S)
_COMMENT = re.compile(r"^\s*Comment:[ \t]*\n(.*?)\n\s*Comment Time:", re.S | re.M)
_URL = re.compile(r"(?:https?://|www\.)\S+")
_TAG = re.compile(r"</?[A-Za-z][^>]*>")  # comments keep their links' HTML: <a href="/user">@user</a>
_VIA = re.compile(r"\s+-\s+via\s+@\w+\s*$")  # TwitPic's og:title suffix


def tweet_text(page: str) -> str:
    """The words people wrote about the image, from a tweet page's metadata: the tweet's own text
    (Instagram's ``twitter:title``, TwitPic's ``twitter:description`` or ``og:title``), then each
    comment that is not a copy of it, one per line; HTML tags and URLs removed, entities decoded."""
    meta: dict[str, str] = {}
    for key, value in _META.findall(page):
        meta.setdefault(key, html.unescape(value).strip())
    own = meta.get("twitter:title") or meta.get("twitter:description") or _VIA.sub("", meta.get("og:title", ""))
    parts = [own, *(html.unescape(c).strip() for c in _COMMENT.findall(page))]
    lines: list[str] = []
    for part in parts:
        clean = " ".join(_URL.sub(" ", _TAG.sub(" ", part)).split())
        if clean and clean not in lines:
            lines.append(clean)
    return "\n".join(lines)


def _read_labels(path: Path, report: DataReport) -> dict[str, int]:
    """Image file name -> label; malformed, repeated and conflicting rows reported by line."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise LayoutError(f"{path} is not UTF-8 text ({err}); re-save it as UTF-8") from None
    labels: dict[str, int] = {}
    first: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts or (number == 1 and [p.lower() for p in parts] == ["image", "sentiment"]):
            continue
        where = f"{path.name}:{number}"
        if len(parts) != 2 or parts[1].lower() not in SENTIMENTS:
            report.add(where, "malformed line", f"{line!r}: expected '<image file>\\t<positive|negative>'")
            continue
        name, label = parts[0], SENTIMENTS[parts[1].lower()]
        if name in labels:
            reason = "duplicate line" if labels[name] == label else "conflicting labels"
            report.add(where, reason, f"{name} first listed at line {first[name]}; kept that one")
            continue
        labels[name], first[name] = label, number
    return labels


@register(
    "twitter2",
    "<root>/partition1..K/<id>.jpg and <id>_<hashtag>.txt (the tweet's text), groundTruthLabel.txt",
    config_options={"ontology": "ontology"},
    has_attributes=False,
    has_text=True,
    fold_column="partition",
    feature_source=lambda root, cache: images_only(load_dataset("twitter2", root, cache=cache)),
)
def load_twitter2(root: Path, *, ontology: str | os.PathLike[str] | None = None, name: str | None = None) -> Dataset:
    """Twitter II: one row per labelled image of a partition folder, with its ``text``, ``hashtag``
    and ``partition`` (1..K); with an ``ontology`` (VSO's ``3244ANPs.txt``), ``vso_adjectives``: the
    ontology's adjectives found in the text, space-separated, in order of first occurrence.

    An image without a label row, or in two partitions, is reported and skipped; a missing or empty
    text is reported and kept (its text is empty); the label rows without an image are reported
    once, as one problem that lists them.
    """
    label_file = root / LABEL_FILE
    if not label_file.is_file():
        raise DatasetNotFoundError(f"{label_file} does not exist; the twitter2 layout reads its labels from there")
    names, folders = files.scan(root, root, DataReport())
    partitions = sorted((int(m.group(1)), f) for f in folders if (m := PARTITION.fullmatch(f)))
    if not partitions:
        raise DatasetNotFoundError(f"{root} has no partition<k>/ folder; the twitter2 layout keeps its images there")
    report = DataReport()
    labels = _read_labels(label_file, report)
    adjectives = frozenset(load_ontology(Path(ontology)).adjectives) if ontology is not None else None
    rows: list[dict] = []
    placed: dict[str, str] = {}
    read: list[str] = []
    for k, folder in partitions:
        entries, subfolders = files.scan(root / folder, root, report)
        for sub in subfolders:
            report.add(f"{folder}/{sub}", "nested folder (not searched)", "images sit directly in partition<k>/")
        texts: dict[str, list[str]] = {}
        for entry in entries:
            if entry.endswith(".txt"):
                texts.setdefault(entry.split("_", 1)[0], []).append(entry)
        images = [e for e in entries if files.is_image_name(e)]
        stems = {PurePosixPath(e).stem for e in images}
        for entry in entries:
            if not files.is_image_name(entry) and not (entry.endswith(".txt") and entry.split("_", 1)[0] in stems):
                what = "text without an image" if entry.endswith(".txt") else "not an image file"
                report.add(f"{folder}/{entry}", what, "skipped")
        for image in images:
            path = f"{folder}/{image}"
            if image in placed:
                report.add(path, "image in two partitions", f"also {placed[image]}; kept that one")
                continue
            if image not in labels:
                report.add(path, "image without a label", f"{LABEL_FILE} has no row for {image}; skipped")
                continue
            placed[image] = path
            stem = PurePosixPath(image).stem
            own = sorted(texts.get(stem, []))
            text, hashtag = "", None
            if not own:
                report.add(path, "missing text", f"no {stem}_<hashtag>.txt beside it; kept with an empty text")
            else:
                if len(own) > 1:
                    report.add(path, "several texts", f"{', '.join(own)}: read {own[0]}")
                read.append(str(root / folder / own[0]))
                page = (root / folder / own[0]).read_bytes().decode("utf-8", errors="replace")
                text, hashtag = tweet_text(page), own[0][len(stem) + 1 : -len(".txt")] or None
                if not text:
                    report.add(f"{folder}/{own[0]}", "empty text", "the page holds no tweet text or comment; kept")
            row = {"path": path, "label": labels[image], "text": text, "hashtag": hashtag, "partition": k}
            if adjectives is not None:
                row["vso_adjectives"] = " ".join(words_in(text, adjectives))
            rows.append(row)
    unplaced = sorted(set(labels) - set(placed), key=lambda n: (len(n), n))
    if unplaced:
        shown = ", ".join(unplaced[:_SHOWN]) + (", ..." if len(unplaced) > _SHOWN else "")
        report.add(
            LABEL_FILE,
            "label rows without an image",
            f"{len(unplaced)} of {len(labels)} rows name an image that no partition holds ({shown}); not used",
        )
    meta = {"layout": "twitter2", "partitions": [k for k, _ in partitions], "label_file": str(label_file)}
    if ontology is not None:
        meta["ontology"] = str(ontology)
    # The texts are inputs of the index: editing one changes no folder's times.
    inputs = (str(label_file), *((str(ontology),) if ontology is not None else ()), *read)
    return Dataset(name or "twitter2", root, make_samples(rows), report, meta, inputs)


def images_only(dataset: Dataset) -> Dataset:
    """The images and labels of a Twitter II dataset, without their texts: the dataset whose feature
    cache serves it, so that a change to the texts (or to how they are read) never re-extracts."""
    samples = make_samples(dataset.samples[["path", "label"]].to_dict("records"))
    return Dataset("twitter2-images", dataset.root, samples, DataReport(), {"layout": "twitter2"})
