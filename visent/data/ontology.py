"""Adjective-noun-pair (ANP) sentiment ontologies: VSO (Borth et al. 2013) and MVSO English.

The paper labels an image with the polarity of its ANP and feeds the ANP's adjective to the
attention (eq. 2), so everything downstream needs the ANP -> (adjective, noun, score) table.
Two file formats exist:

* VSO ``3244ANPs.txt``: optional header prose, then per adjective a line
  ``N. adjective [sentiment: S] [#images: 1,234]`` followed by indented ANP lines
  ``adjective_noun [sentiment: S] [#imgs: 1,234]``. Circulating copies differ in line endings
  (CRLF / LF), in whether the header prose is present, and some carry a dummy ``0. sample``
  block, which is ignored (and recorded in ``Ontology.notes``).
* MVSO English ``mvso_sentiment_english.csv``: ``anp,score`` rows without a header. The
  adjective and noun come from splitting the ANP at its first underscore. MVSO publishes no
  adjective scores, so an adjective's score is defined here as the mean score of its ANPs.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "NoPolarityError",
    "Ontology",
    "OntologyError",
    "UnknownNameError",
    "load_ontology",
    "write_vso_ontology",
]

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)"
# Thousands separators must come in groups of three, so "12,34" is rejected rather than read as 1234.
_COUNT = r"\d{1,3}(?:,\d{3})+|\d+"
_IMAGES = rf"(?:\s*\[#(?:images|imgs):\s*(?P<count>{_COUNT})\])?"
_ADJECTIVE_LINE = re.compile(
    rf"^(?P<number>\d+)\.\s+(?P<name>\S+)\s+\[sentiment:\s*(?P<score>{_NUMBER})\]{_IMAGES}\s*$"
)
_ANP_LINE = re.compile(rf"^\s*(?P<name>\S+)\s+\[sentiment:\s*(?P<score>{_NUMBER})\]{_IMAGES}\s*$")
_SAMPLE_BLOCK = re.compile(r"^0\.\s+sample\b")
_MVSO_HEADER = re.compile(r"^\s*anp\s*,\s*(?:score|sentiment)\s*$", re.IGNORECASE)

_VSO_HEADER = (
    "Written by visent in the VSO 3244ANPs.txt format: one line per adjective, then its "
    "adjective-noun pairs, each with its sentiment score and, where known, its Flickr image count."
)


class OntologyError(ValueError):
    """A malformed or inconsistent ontology file, or a bad request made of an ontology."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        where = "" if path is None else f"{path}" + ("" if line is None else f", line {line}") + ": "
        super().__init__(where + message)


class UnknownNameError(OntologyError, KeyError):
    """An ANP or adjective that the ontology does not contain."""

    def __str__(self) -> str:
        # KeyError would print the message with quotes around it.
        return ValueError.__str__(self)


class NoPolarityError(OntologyError):
    """An ANP or adjective whose sentiment score is exactly 0, so it is neither positive nor negative."""


@dataclass(frozen=True)
class Ontology:
    """An ANP sentiment ontology.

    ``adjectives`` maps adjective -> score, ``anps`` maps ``"adj_noun"`` -> (adjective, noun,
    score), ``anp_images`` maps ANP -> Flickr image count (empty when the file has none),
    ``adjective_images`` maps adjective -> the count on its VSO line (empty for MVSO), ``source``
    is the file it was read from, ``format`` is ``"vso"`` or ``"mvso"``, and ``notes`` lists
    what the parser deliberately skipped.
    """

    adjectives: dict[str, float]
    anps: dict[str, tuple[str, str, float]]
    anp_images: dict[str, int]
    source: str
    format: str = "vso"
    adjective_images: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def __repr__(self) -> str:
        # The default repr would print all 3,244 ANPs into every traceback and notebook cell.
        return (
            f"Ontology(source={self.source!r}, format={self.format!r}, "
            f"adjectives={len(self.adjectives)}, anps={len(self.anps)})"
        )

    def polarity(self, anp: str) -> int:
        """1 if the ANP's score is positive, 0 if negative; a score of exactly 0 raises."""
        if anp not in self.anps:
            raise UnknownNameError(
                f"ANP {anp!r} is not in the ontology ({len(self.anps)} ANPs); ANP names are "
                "'adjective_noun', lower case",
                self.source,
            )
        return _polarity(self.anps[anp][2], f"ANP {anp!r}", self.source)

    def adjective_polarity(self, adjective: str) -> int:
        """1 if the adjective's score is positive, 0 if negative; a score of exactly 0 raises."""
        if adjective not in self.adjectives:
            raise UnknownNameError(
                f"adjective {adjective!r} is not in the ontology ({len(self.adjectives)} adjectives)",
                self.source,
            )
        return _polarity(self.adjectives[adjective], f"adjective {adjective!r}", self.source)

    @property
    def zero_score_anps(self) -> int:
        """How many ANPs have a score of exactly 0 and therefore no polarity."""
        return sum(score == 0 for _, _, score in self.anps.values())

    @property
    def nouns(self) -> list[str]:
        """The distinct nouns of all ANPs, sorted."""
        return sorted({noun for _, noun, _ in self.anps.values()})

    def describe(self) -> dict:
        """A JSON-able summary for result files."""
        positive = sum(score > 0 for _, _, score in self.anps.values())
        return {
            "source": self.source,
            "format": self.format,
            "adjectives": len(self.adjectives),
            "anps": len(self.anps),
            "positive_anps": positive,
            "negative_anps": len(self.anps) - positive - self.zero_score_anps,
            "zero_score_anps": self.zero_score_anps,
            "has_image_counts": bool(self.anp_images),
            "notes": list(self.notes),
        }


def _polarity(score: float, what: str, source: str) -> int:
    if score == 0:
        raise NoPolarityError(
            f"{what} has sentiment score exactly 0, so it has no polarity; leave it out of "
            "binary data sets (Ontology.zero_score_anps counts such ANPs)",
            source,
        )
    return int(score > 0)


def load_ontology(path: str | Path) -> Ontology:
    """Read a VSO ``3244ANPs.txt``-style file or an MVSO ``anp,score`` CSV, detecting which."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise OntologyError(f"cannot read the ontology file ({error.strerror})", path) from error
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise OntologyError(
            f"not UTF-8 text (byte {error.start}); an ontology is the VSO 3244ANPs.txt or the MVSO anp,score CSV",
            path,
        ) from error
    # Split on "\n" only so that reported line numbers match what an editor shows.
    lines = [line.rstrip("\r") for line in text.split("\n")]
    if any("[sentiment:" in line for line in lines):
        return _parse_vso(lines, path)
    first = next(((n, line) for n, line in enumerate(lines, 1) if line.strip()), None)
    if first is None:
        raise OntologyError("the file is empty", path)
    if "," in first[1]:
        return _parse_mvso(text, path)
    raise OntologyError(
        f"unrecognised format, first line {first[1]!r}: expected VSO lines "
        "'N. adjective [sentiment: S] [#images: N]' or MVSO 'anp,score' rows (a plain list of ANP "
        "names such as SentiBank's 1200ANPsv1.1.txt has no scores and is not an ontology)",
        path,
        first[0],
    )


def _parse_count(text: str | None) -> int | None:
    return None if text is None else int(text.replace(",", ""))


def _parse_vso(lines: list[str], path: Path) -> Ontology:
    adjectives: dict[str, float] = {}
    adjective_images: dict[str, int] = {}
    anps: dict[str, tuple[str, str, float]] = {}
    anp_images: dict[str, int] = {}
    anp_lines: dict[str, int] = {}
    missing_count_line: int | None = None
    notes: list[str] = []
    current: str | None = None
    in_sample_block = False
    seen_entry = False
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if not seen_entry and "[sentiment:" not in line and not _SAMPLE_BLOCK.match(line):
            continue  # header prose before the first entry
        seen_entry = True
        if _SAMPLE_BLOCK.match(line):
            in_sample_block = True
            notes.append(f"ignored the dummy '0. sample' block starting at line {number}")
            continue
        adjective_match = _ADJECTIVE_LINE.match(line)
        if adjective_match:
            in_sample_block = False
            current = adjective_match["name"]
            if current in adjectives:
                raise OntologyError(f"adjective {current!r} appears twice", path, number)
            adjectives[current] = float(adjective_match["score"])
            count = _parse_count(adjective_match["count"])
            if count is not None:
                adjective_images[current] = count
            continue
        anp_match = _ANP_LINE.match(line)
        if anp_match is None:
            raise OntologyError(
                f"malformed line {line.strip()!r}: expected 'N. adjective [sentiment: S] "
                "[#images: N]' or an indented 'adjective_noun [sentiment: S] [#imgs: N]'",
                path,
                number,
            )
        if in_sample_block:
            continue
        name = anp_match["name"]
        if current is None:
            raise OntologyError(f"ANP {name!r} comes before any adjective line", path, number)
        if not name.startswith(current + "_") or len(name) == len(current) + 1:
            raise OntologyError(
                f"ANP {name!r} is listed under adjective {current!r}; ANP names must be '{current}_<noun>'",
                path,
                number,
            )
        if name in anps:
            raise OntologyError(f"ANP {name!r} also appears on line {anp_lines[name]}", path, number)
        anps[name] = (current, name[len(current) + 1 :], float(anp_match["score"]))
        anp_lines[name] = number
        count = _parse_count(anp_match["count"])
        if count is None:
            missing_count_line = missing_count_line or number
        else:
            anp_images[name] = count
    if not adjectives:
        raise OntologyError("no adjective lines 'N. adjective [sentiment: S] ...' found", path)
    if anp_images and missing_count_line is not None:
        raise OntologyError(
            "this ANP has no [#imgs: N] count while others have one; give every ANP a count or none",
            path,
            missing_count_line,
        )
    return Ontology(
        adjectives=adjectives,
        anps=anps,
        anp_images=anp_images,
        source=str(path),
        format="vso",
        adjective_images=adjective_images,
        notes=tuple(notes),
    )


def _parse_mvso(text: str, path: Path) -> Ontology:
    anps: dict[str, tuple[str, str, float]] = {}
    anp_lines: dict[str, int] = {}
    for number, row in enumerate(csv.reader(io.StringIO(text)), 1):
        if not any(cell.strip() for cell in row):
            continue
        if number == 1 and _MVSO_HEADER.match(",".join(row)):
            continue
        if len(row) != 2:
            raise OntologyError(f"expected 2 fields 'anp,score', found {len(row)}: {row!r}", path, number)
        name, score_text = row[0].strip(), row[1].strip()
        adjective, _, noun = name.partition("_")
        if not adjective or not noun:
            raise OntologyError(f"ANP {name!r} is not of the form 'adjective_noun'", path, number)
        try:
            score = float(score_text)
        except ValueError:
            score = math.nan  # reported with the same message as "nan" or "inf"
        if not math.isfinite(score):
            raise OntologyError(f"score {score_text!r} of ANP {name!r} is not a finite number", path, number)
        if name in anps:
            raise OntologyError(f"ANP {name!r} also appears on line {anp_lines[name]}", path, number)
        anps[name] = (adjective, noun, score)
        anp_lines[name] = number
    if not anps:
        raise OntologyError("no 'anp,score' rows found", path)
    scores: dict[str, list[float]] = defaultdict(list)
    for adjective, _, score in anps.values():
        scores[adjective].append(score)
    # MVSO has no adjective scores; the mean of the adjective's ANP scores stands in for one.
    adjectives = {adjective: sum(values) / len(values) for adjective, values in scores.items()}
    return Ontology(adjectives=adjectives, anps=anps, anp_images={}, source=str(path), format="mvso")


def _format_score(score: float) -> str:
    # VSO prints two decimals; fall back to the exact repr when two decimals would lose information.
    short = f"{score:.2f}"
    return short if float(short) == score else repr(float(score))


def _format_images(count: int | None, label: str) -> str:
    return "" if count is None else f" [#{label}: {count:,}]"


def write_vso_ontology(
    path: str | Path,
    anps: dict[str, tuple[str, str, float]],
    adjective_scores: dict[str, float],
    anp_images: dict[str, int] | None = None,
) -> None:
    """Write an ontology in the VSO ``3244ANPs.txt`` format (LF line endings, a one-line header).

    Adjectives appear in the order of ``adjective_scores``, each followed by its ANPs in the order
    of ``anps``. An adjective's ``[#images: N]`` is the sum of its ANPs' counts, since only
    per-ANP counts are given. ``load_ontology`` reads the file back to the same tables.
    """
    path = Path(path)
    for name, (adjective, noun, score) in anps.items():
        if name != f"{adjective}_{noun}":
            raise OntologyError(f"ANP key {name!r} does not match its entry ({adjective!r}, {noun!r})", path)
        if adjective not in adjective_scores:
            raise OntologyError(
                f"ANP {name!r} has adjective {adjective!r}, which is missing from adjective_scores", path
            )
        if re.search(r"\s", name) or not math.isfinite(score):
            raise OntologyError(
                f"ANP {name!r} with score {score!r}: need a name without whitespace and a finite score", path
            )
    for adjective, score in adjective_scores.items():
        if not adjective or re.search(r"\s", adjective) or not math.isfinite(score):
            raise OntologyError(
                f"adjective {adjective!r} with score {score!r}: need a word without whitespace and a finite score",
                path,
            )
    if anp_images is not None:
        unknown = sorted(set(anp_images) - set(anps))
        missing = sorted(set(anps) - set(anp_images))
        if unknown or missing:
            raise OntologyError(
                f"anp_images must cover exactly the ANPs: missing {missing[:5]}, unknown {unknown[:5]}", path
            )
    by_adjective: dict[str, list[str]] = defaultdict(list)
    for name, (adjective, _, _) in anps.items():
        by_adjective[adjective].append(name)
    lines = [_VSO_HEADER, ""]
    for number, (adjective, score) in enumerate(adjective_scores.items(), 1):
        members = by_adjective[adjective]
        total = None if anp_images is None else sum(anp_images[name] for name in members)
        images = _format_images(total, "images")
        lines.append(f"{number}. {adjective} [sentiment: {_format_score(score)}]{images}")
        for name in members:
            images = _format_images(None if anp_images is None else anp_images[name], "imgs")
            lines.append(f"\t{name} [sentiment: {_format_score(anps[name][2])}]{images}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")
