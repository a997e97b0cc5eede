"""Synthetic VSO-style scenes: the embedded default dataset (``visent synth``).

Each image holds one emotional object whose adjective sets its look and whose polarity is the
label, among label-free clutter; the rules, the output files and the determinism guarantee are in
the book's architecture chapter (section "The synthetic scene set").
"""

from __future__ import annotations

import colorsys
import csv
import json
import math
import shutil
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from tqdm import tqdm

from visent.data.ontology import write_vso_ontology
from visent.version import __version__

__all__ = [
    "DEFAULT_ADJECTIVES",
    "DEFAULT_NOUNS",
    "VSO_ADJECTIVE_SCORES",
    "VSO_ANP_SCORES",
    "SynthConfig",
    "SynthConfigError",
    "SynthFolderError",
    "generate",
]

# Adjective -> sentiment score, from the adjective header lines of VSO's 3244ANPs.txt
# (Borth et al., "Large-scale visual sentiment ontology and detectors using adjective noun
# pairs", ACM MM 2013). Facts for the adjectives that have a look below, not a copy of the file.
VSO_ADJECTIVE_SCORES: dict[str, float] = {
    "beautiful": 1.0,
    "bright": 1.0,
    "colorful": 1.0,
    "cute": 1.0,
    "clean": 1.0,
    "happy": 1.0,
    "graceful": 1.0,
    "charming": 1.0,
    "dark": -1.0,
    "dirty": -1.0,
    "broken": -1.0,
    "creepy": -1.0,
    "dying": -1.0,
    "dusty": -1.0,
    "sad": -0.92,
    "scary": -1.0,
}

# ANP -> sentiment score, from the ANP lines of the same file: every pairing of the adjectives
# above with the nouns below that VSO contains. Pairs absent here take the adjective's score.
VSO_ANP_SCORES: dict[str, float] = {
    "beautiful_flower": 1.77,
    "beautiful_bird": 2.0,
    "bright_face": 1.53,
    "colorful_bird": 1.43,
    "cute_dog": 1.45,
    "cute_face": 1.53,
    "cute_bird": 2.0,
    "cute_cat": 1.44,
    "clean_house": 1.52,
    "clean_car": 1.4,
    "clean_face": 1.53,
    "happy_dog": 1.15,
    "happy_face": 1.53,
    "graceful_flower": 1.77,
    "graceful_tree": 1.59,
    "graceful_face": 1.53,
    "graceful_bird": 2.0,
    "charming_house": 1.52,
    "charming_face": 1.53,
    "dark_tree": -1.21,
    "dirty_house": -1.48,
    "dirty_dog": -1.55,
    "dirty_car": -1.6,
    "dirty_face": -1.47,
    "dirty_cat": -1.56,
    "broken_tree": -0.41,
    "broken_car": -1.6,
    "creepy_house": -1.48,
    "creepy_dog": -1.55,
    "creepy_tree": -1.08,
    "creepy_face": -0.47,
    "creepy_cat": -1.56,
    "dying_flower": -1.0,
    "dying_dog": -1.55,
    "dying_tree": -1.41,
    "dying_face": -1.47,
    "dusty_house": -1.48,
    "dusty_car": -1.6,
    "dusty_face": -1.47,
    "sad_dog": -1.47,
    "sad_face": -1.39,
    "sad_cat": -1.48,
    "scary_house": -1.48,
    "scary_dog": -1.55,
    "scary_tree": -0.41,
    "scary_face": -1.47,
    "scary_cat": -1.56,
}

DEFAULT_ADJECTIVES: tuple[str, ...] = tuple(VSO_ADJECTIVE_SCORES)
DEFAULT_NOUNS: tuple[str, ...] = ("flower", "house", "dog", "tree", "car", "face", "bird", "cat")

_JPEG_QUALITY = 90
_MAX_IMAGES = 1_000_000  # image ids are six digits
_OUTPUT_FILES = ("ontology.txt", "regions.csv", "noise.csv", "synth.json")

RGB = np.ndarray  # (3,) float in [0, 1]
Polygon = np.ndarray  # (n, 2) x, y in unit-box coordinates


class SynthConfigError(ValueError):
    """A SynthConfig field is out of range; the message names the field and what is allowed."""

    def __init__(self, field_name: str, value: object, allowed: str) -> None:
        super().__init__(f"SynthConfig.{field_name} = {value!r} is invalid: {allowed}")
        self.field_name = field_name


class SynthFolderError(RuntimeError):
    """The output folder holds something other than this exact synthetic dataset."""


# ---------------------------------------------------------------------------------------------
# Configuration


def _help(default: Any, text: str) -> Any:
    return field(default=default, metadata={"help": text})


@dataclass(frozen=True)
class SynthConfig:
    """Everything that determines a synthetic dataset; equal configs give identical files."""

    n_images: int = _help(2000, "images to generate (even when balanced)")
    seed: int = _help(0, "seed of every random choice: equal configs give identical files")
    image_size: int = _help(224, "side of the square images in pixels")
    region_frac: tuple[float, float] = _help((0.10, 0.25), "LOW HIGH: the emotional region's share of the image area")
    n_clutter: int = _help(6, "distractor shapes per image")
    clutter_salience: float = _help(0.5, "how much the distractors stand out, 0 .. 1")
    label_noise: float = _help(0.0, "share of images whose label is flipped (audited in noise.csv)")
    balanced: bool = _help(True, "equal numbers of positive and negative images")
    adjectives: tuple[str, ...] = _help(DEFAULT_ADJECTIVES, "the adjectives, each with a polarity in the ontology")
    nouns: tuple[str, ...] = _help(DEFAULT_NOUNS, "the nouns the scenes are built around")

    def __post_init__(self) -> None:
        # Lists arrive from JSON and the CLI; store tuples so the config stays hashable.
        for name in ("region_frac", "adjectives", "nouns"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        _check_int(self, "n_images", 2, _MAX_IMAGES)
        if self.balanced and self.n_images % 2:
            raise SynthConfigError("n_images", self.n_images, "must be even when balanced=True (equal classes)")
        _check_int(self, "seed", 0, 2**63 - 1)
        _check_int(self, "image_size", 64, 1024)
        _check_int(self, "n_clutter", 0, 32)
        _check_number(self, "clutter_salience", 0.0, 1.0)
        _check_number(self, "label_noise", 0.0, 0.5)
        if not isinstance(self.balanced, bool):
            raise SynthConfigError("balanced", self.balanced, "must be True or False")
        self._check_region_frac()
        self._check_vocabulary()

    def _check_region_frac(self) -> None:
        allowed = "a pair (low, high) with 0.01 <= low <= high <= 0.4 (fractions of the image area)"
        value = self.region_frac
        if not (isinstance(value, tuple) and len(value) == 2 and all(_is_number(v) for v in value)):
            raise SynthConfigError("region_frac", value, allowed)
        low, high = value
        if not 0.01 <= low <= high <= 0.4:
            raise SynthConfigError("region_frac", value, allowed)

    def _check_vocabulary(self) -> None:
        _check_names(self, "adjectives", "adjective", VSO_ADJECTIVE_SCORES, "look")
        # Clutter takes adjectives other than the object's, so each polarity needs a spare one.
        needed = 2 if self.n_clutter else 1
        for polarity, word in ((1, "positive"), (0, "negative")):
            if len(_adjectives_of(self.adjectives, polarity)) < needed:
                raise SynthConfigError(
                    "adjectives",
                    self.adjectives,
                    f"need at least {needed} {word} adjective(s) "
                    f"(2 per polarity when n_clutter > 0); choose from {sorted(VSO_ADJECTIVE_SCORES)}",
                )
        _check_names(self, "nouns", "noun", _NOUN_SHAPES, "shape")

    def to_dict(self) -> dict:
        """The config as JSON types (tuples become lists), as stored in ``synth.json``."""
        return json.loads(json.dumps(asdict(self)))


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_int(config: SynthConfig, name: str, low: int, high: int) -> None:
    value = getattr(config, name)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise SynthConfigError(name, value, f"must be an integer in [{low}, {high}]")


def _check_number(config: SynthConfig, name: str, low: float, high: float) -> None:
    value = getattr(config, name)
    if not _is_number(value) or not low <= value <= high:
        raise SynthConfigError(name, value, f"must be a number in [{low}, {high}]")


def _check_names(config: SynthConfig, name: str, word: str, defined: Mapping[str, object], what: str) -> None:
    """``config.<name>`` must be a non-empty tuple of distinct names that each have a ``what`` defined."""
    values = getattr(config, name)
    known = f"choose from {sorted(defined)}"
    if not (isinstance(values, tuple) and values and all(isinstance(v, str) for v in values)):
        raise SynthConfigError(name, values, f"must be a non-empty list of {word} names; {known}")
    unknown = [v for v in values if v not in defined]
    if unknown:
        raise SynthConfigError(name, values, f"{unknown} have no {what} defined; {known}")
    if len(set(values)) != len(values):
        raise SynthConfigError(name, values, "must not repeat a name")


def _adjectives_of(adjectives: tuple[str, ...], polarity: int) -> list[str]:
    return [a for a in adjectives if (VSO_ADJECTIVE_SCORES[a] > 0) == bool(polarity)]


# ---------------------------------------------------------------------------------------------
# Looks: what an adjective does to an object


@dataclass(frozen=True)
class HSVRange:
    """Uniform ranges of hue (wraps around 1), saturation and value for sampling one colour."""

    hue: tuple[float, float]
    saturation: tuple[float, float]
    value: tuple[float, float]

    def sample(self, rng: np.random.Generator) -> RGB:
        h, s, v = (rng.uniform(*bounds) for bounds in (self.hue, self.saturation, self.value))
        return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), dtype=np.float32)


# A texture paints a (h, w, 3) patch from unit coordinates u (1, w) and v (h, 1), the look's
# base and detail colours, and the item's generator.
Texture = Callable[[np.ndarray, np.ndarray, RGB, RGB, HSVRange, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class Look:
    """An adjective's appearance: palette, texture and outline. Nouns never change it."""

    base: HSVRange
    detail: HSVRange
    texture: Texture
    edge: str  # "smooth", "jagged" (regular spikes) or "ragged" (irregular)


def _mix(base: RGB, detail: RGB, t: np.ndarray) -> np.ndarray:
    return base + (detail - base) * t[..., None]  # (h, w, 3)


def _glow(u, v, base, detail, palette, rng, strength: float) -> np.ndarray:
    """A soft highlight: base colour rising towards the detail colour around a random spot."""
    cx, cy = rng.uniform(0.2, 0.6, size=2)
    t = np.exp(-((u - cx) ** 2 + (v - cy) ** 2) / 0.18)  # (h, w)
    return _mix(base, detail, strength * t)


def _rainbow(u, v, base, detail, palette, rng) -> np.ndarray:
    """Hard diagonal bands, each a fresh colour from the base palette."""
    angle = rng.uniform(0, np.pi)
    bands = int(rng.integers(4, 7))
    colours = np.stack([palette.sample(rng) for _ in range(bands)])  # (bands, 3)
    phase = (u * np.cos(angle) + v * np.sin(angle) + 2.0) * bands / 1.5
    return colours[phase.astype(np.int64) % bands]


def _stripes(u, v, base, detail, palette, rng, frequency: float, wave: float, vertical: bool) -> np.ndarray:
    """Soft sinusoidal stripes, wavy for ``wave`` > 0, running downwards when ``vertical``."""
    angle = np.pi / 2 if vertical else rng.uniform(0, np.pi)
    across = u * np.cos(angle) + v * np.sin(angle)
    along = -u * np.sin(angle) + v * np.cos(angle)
    phase = frequency * (across + wave * np.sin(2 * np.pi * 1.5 * along))
    return _mix(base, detail, 0.5 + 0.5 * np.sin(2 * np.pi * phase + rng.uniform(0, 2 * np.pi)))


def _rays(u, v, base, detail, palette, rng) -> np.ndarray:
    """A sunburst: bands radiating from the centre."""
    rays = int(rng.integers(8, 13))
    angle = np.arctan2(v - 0.5, u - 0.5)
    return _mix(base, detail, (np.sin(rays * angle + rng.uniform(0, 2 * np.pi)) > 0).astype(np.float32))


def _checks(u, v, base, detail, palette, rng) -> np.ndarray:
    """Gingham: two crossing sets of translucent bands."""
    cells = rng.uniform(4, 7)
    t = ((u * cells) % 1 < 0.5).astype(np.float32) * 0.5 + ((v * cells) % 1 < 0.5).astype(np.float32) * 0.5
    return _mix(base, detail, t)


def _dots(u, v, base, detail, palette, rng, scattered: bool) -> np.ndarray:
    """Polka dots on a grid, or a random spatter of dots of varied size."""
    h, w = v.shape[0], u.shape[1]
    t = np.zeros((h, w), dtype=np.float32)
    if scattered:
        centres = rng.uniform(0, 1, size=(int(rng.integers(12, 20)), 2))
        radii = rng.uniform(0.02, 0.08, size=len(centres))
    else:
        cells = int(rng.integers(4, 6))
        grid = (np.arange(cells) + 0.5) / cells
        centres = np.stack(np.meshgrid(grid, grid), axis=-1).reshape(-1, 2) + rng.uniform(-0.05, 0.05, 2)
        radii = np.full(len(centres), 0.3 / cells)
    for (cx, cy), r in zip(centres, radii):
        t = np.maximum(t, ((u - cx) ** 2 + (v - cy) ** 2 < r**2).astype(np.float32))
    return _mix(base, detail, t)


def _value_noise(h: int, w: int, cells: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth random field in [0, 1] with about ``cells`` blobs across, (h, w) float32."""
    if cells >= min(h, w):
        return rng.random((h, w), dtype=np.float32)
    coarse = Image.fromarray(rng.random((cells, cells), dtype=np.float32))
    return np.clip(np.asarray(coarse.resize((w, h), Image.Resampling.BICUBIC)), 0.0, 1.0)


def _blotches(u, v, base, detail, palette, rng, cells: int) -> np.ndarray:
    """Stains (few cells) or grain (cells as many as pixels) of the detail colour."""
    return _mix(base, detail, _value_noise(v.shape[0], u.shape[1], cells, rng))


def _lines(u, v, base, detail, palette, rng, wavy: bool) -> np.ndarray:
    """Cracks (straight zigzags) or veins (wavy curves) in the detail colour over the base."""
    h, w = v.shape[0], u.shape[1]
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    width = max(1, round(min(h, w) / 40))
    for _ in range(int(rng.integers(4, 8))):
        start, end = rng.uniform(0, 1, size=(2, 2))
        steps = np.linspace(0, 1, 24 if wavy else 5)[:, None]
        points = start + (end - start) * steps  # (steps, 2)
        normal = np.array([start[1] - end[1], end[0] - start[0]])
        if wavy:
            points = points + normal * 0.15 * np.sin(2 * np.pi * rng.uniform(1, 2.5) * steps)
        else:
            points = points + normal * rng.uniform(-0.15, 0.15, size=(len(steps), 1))
        draw.line((points * [w, h]).ravel().tolist(), fill=255, width=width)
    return _mix(base, detail, np.asarray(canvas, dtype=np.float32) / 255.0)


def _hsv(hue: tuple[float, float], saturation: tuple[float, float], value: tuple[float, float]) -> HSVRange:
    return HSVRange(hue, saturation, value)


# Positive looks are bright, saturated, smooth and patterned; negative ones dark or drab,
# stained, cracked or spiky. Each adjective has a distinct combination, so adjectives can also be
# told apart from the image (the attention-predicted variant relies on that).
LOOKS: dict[str, Look] = {
    "beautiful": Look(
        _hsv((0.86, 0.97), (0.5, 0.75), (0.85, 1.0)),
        _hsv((0.12, 0.16), (0.1, 0.3), (1.0, 1.0)),
        partial(_glow, strength=0.8),
        "smooth",
    ),
    "bright": Look(
        _hsv((0.12, 0.17), (0.7, 0.95), (0.95, 1.0)),
        _hsv((0.14, 0.16), (0.0, 0.15), (1.0, 1.0)),
        partial(_glow, strength=1.0),
        "smooth",
    ),
    "colorful": Look(
        _hsv((0.0, 1.0), (0.8, 1.0), (0.9, 1.0)), _hsv((0.0, 1.0), (0.8, 1.0), (0.9, 1.0)), _rainbow, "smooth"
    ),
    "cute": Look(
        _hsv((0.88, 0.96), (0.25, 0.4), (0.95, 1.0)),
        _hsv((0.52, 0.6), (0.3, 0.45), (0.95, 1.0)),
        partial(_dots, scattered=False),
        "smooth",
    ),
    "clean": Look(
        _hsv((0.5, 0.58), (0.0, 0.12), (0.93, 1.0)),
        _hsv((0.5, 0.58), (0.25, 0.4), (0.85, 0.95)),
        partial(_glow, strength=0.35),
        "smooth",
    ),
    "happy": Look(
        _hsv((0.07, 0.11), (0.85, 1.0), (0.95, 1.0)), _hsv((0.14, 0.17), (0.7, 0.9), (1.0, 1.0)), _rays, "smooth"
    ),
    "graceful": Look(
        _hsv((0.72, 0.8), (0.3, 0.5), (0.85, 0.95)),
        _hsv((0.45, 0.5), (0.4, 0.6), (0.85, 0.95)),
        partial(_stripes, frequency=3.0, wave=0.12, vertical=False),
        "smooth",
    ),
    "charming": Look(
        _hsv((0.97, 1.01), (0.65, 0.85), (0.85, 0.95)), _hsv((0.1, 0.13), (0.05, 0.2), (1.0, 1.0)), _checks, "smooth"
    ),
    "dark": Look(
        _hsv((0.0, 1.0), (0.1, 0.3), (0.04, 0.12)),
        _hsv((0.0, 1.0), (0.1, 0.3), (0.2, 0.3)),
        partial(_glow, strength=0.5),
        "smooth",
    ),
    "dirty": Look(
        _hsv((0.07, 0.13), (0.4, 0.6), (0.3, 0.45)),
        _hsv((0.15, 0.2), (0.5, 0.7), (0.1, 0.2)),
        partial(_blotches, cells=6),
        "ragged",
    ),
    "broken": Look(
        _hsv((0.0, 1.0), (0.0, 0.08), (0.4, 0.55)),
        _hsv((0.0, 1.0), (0.0, 0.1), (0.02, 0.1)),
        partial(_lines, wavy=False),
        "jagged",
    ),
    "creepy": Look(
        _hsv((0.22, 0.33), (0.4, 0.6), (0.15, 0.3)),
        _hsv((0.78, 0.85), (0.4, 0.6), (0.3, 0.45)),
        partial(_lines, wavy=True),
        "jagged",
    ),
    "dying": Look(
        _hsv((0.1, 0.14), (0.3, 0.45), (0.4, 0.55)),
        _hsv((0.05, 0.08), (0.5, 0.7), (0.12, 0.22)),
        partial(_blotches, cells=3),
        "ragged",
    ),
    "dusty": Look(
        _hsv((0.08, 0.12), (0.1, 0.2), (0.55, 0.68)),
        _hsv((0.08, 0.12), (0.05, 0.15), (0.3, 0.4)),
        partial(_blotches, cells=10_000),
        "ragged",
    ),
    "sad": Look(
        _hsv((0.58, 0.64), (0.15, 0.3), (0.3, 0.45)),
        _hsv((0.58, 0.64), (0.1, 0.2), (0.15, 0.25)),
        partial(_stripes, frequency=9.0, wave=0.0, vertical=True),
        "smooth",
    ),
    "scary": Look(
        _hsv((0.0, 1.0), (0.0, 0.2), (0.02, 0.1)),
        _hsv((0.98, 1.0), (0.85, 1.0), (0.5, 0.7)),
        partial(_dots, scattered=True),
        "jagged",
    ),
}


# ---------------------------------------------------------------------------------------------
# Shapes: what a noun does to an object


def _ellipse(cx: float, cy: float, rx: float, ry: float, angle: float = 0.0, n: int = 40) -> Polygon:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    x, y = rx * np.cos(t), ry * np.sin(t)
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([cx + c * x - s * y, cy + s * x + c * y], axis=1)


def _polygon(*points: tuple[float, float]) -> Polygon:
    return np.array(points, dtype=np.float64)


def _rect(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    return _polygon((x0, y0), (x1, y0), (x1, y1), (x0, y1))


# A shape is a list of (role, polygon): "body" parts take the look's texture and outline,
# "detail" parts (windows, eyes, wheels) its detail colour.
Shape = list[tuple[str, Polygon]]


def _flower(rng: np.random.Generator) -> Shape:
    petals = int(rng.integers(5, 9))
    turn = rng.uniform(0, np.pi)
    parts: Shape = []
    for k in range(petals):
        a = turn + 2 * np.pi * k / petals
        parts.append(("body", _ellipse(0.5 + 0.27 * np.cos(a), 0.5 + 0.27 * np.sin(a), 0.24, 0.1, a)))
    parts.append(("detail", _ellipse(0.5, 0.5, 0.13, 0.13)))
    return parts


def _house(rng: np.random.Generator) -> Shape:
    roof = rng.uniform(0.3, 0.45)
    return [
        ("body", _rect(0.1, roof, 0.9, 1.0)),
        ("body", _polygon((0.0, roof + 0.02), (0.5, 0.0), (1.0, roof + 0.02))),
        ("detail", _rect(0.42, 0.68, 0.58, 1.0)),
        ("detail", _rect(0.18, roof + 0.12, 0.34, roof + 0.26)),
        ("detail", _rect(0.66, roof + 0.12, 0.82, roof + 0.26)),
    ]


def _quadruped(rng: np.random.Generator, pointed_ears: bool) -> Shape:
    """Dog (drooping round ears) and cat (pointed ears): a body blob, head, ears, legs, tail."""
    head_y = rng.uniform(0.2, 0.3)
    if pointed_ears:
        ears = [
            _polygon((0.1, head_y - 0.05), (0.13, head_y - 0.22), (0.2, head_y - 0.09)),
            _polygon((0.24, head_y - 0.09), (0.31, head_y - 0.22), (0.34, head_y - 0.05)),
        ]
    else:
        ears = [_ellipse(0.09, head_y + 0.05, 0.05, 0.12, 0.3), _ellipse(0.35, head_y + 0.05, 0.05, 0.12, -0.3)]
    legs = [_rect(x, 0.62, x + 0.07, 1.0) for x in (0.33, 0.45, 0.7, 0.82)]
    return [
        ("body", _ellipse(0.6, 0.55, 0.33, 0.18)),
        ("body", _ellipse(0.22, head_y + 0.08, 0.14, 0.14)),
        *(("body", ear) for ear in ears),
        *(("body", leg) for leg in legs),
        ("body", _ellipse(0.95, 0.38, 0.04, 0.14, 0.5)),
        ("detail", _ellipse(0.17, head_y + 0.05, 0.025, 0.025)),
        ("detail", _ellipse(0.27, head_y + 0.05, 0.025, 0.025)),
    ]


def _tree(rng: np.random.Generator) -> Shape:
    lobes = [("body", _ellipse(0.5 + dx, 0.35 + dy, 0.26, 0.22)) for dx, dy in rng.uniform(-0.18, 0.18, (4, 2))]
    return [("detail", _rect(0.43, 0.55, 0.57, 1.0)), *lobes]


def _car(rng: np.random.Generator) -> Shape:
    cabin = rng.uniform(0.2, 0.35)
    return [
        ("body", _rect(0.0, 0.4, 1.0, 0.82)),
        ("body", _polygon((cabin, 0.42), (cabin + 0.12, 0.05), (0.75, 0.05), (0.88, 0.42))),
        ("detail", _polygon((cabin + 0.08, 0.38), (cabin + 0.16, 0.12), (0.7, 0.12), (0.8, 0.38))),
        ("detail", _ellipse(0.22, 0.82, 0.13, 0.18)),
        ("detail", _ellipse(0.78, 0.82, 0.13, 0.18)),
    ]


def _face(rng: np.random.Generator) -> Shape:
    eye_y = rng.uniform(0.38, 0.45)
    return [
        ("body", _ellipse(0.5, 0.5, 0.45, 0.5)),
        ("detail", _ellipse(0.33, eye_y, 0.08, 0.06)),
        ("detail", _ellipse(0.67, eye_y, 0.08, 0.06)),
        ("detail", _ellipse(0.5, 0.74, 0.18, 0.05)),
    ]


def _bird(rng: np.random.Generator) -> Shape:
    wing = rng.uniform(-0.5, 0.2)
    return [
        ("body", _ellipse(0.5, 0.58, 0.32, 0.2)),
        ("body", _ellipse(0.78, 0.35, 0.13, 0.13)),
        ("body", _polygon((0.22, 0.55), (0.0, 0.4), (0.05, 0.72))),
        ("body", _ellipse(0.42, 0.45, 0.25, 0.1, wing)),
        ("detail", _polygon((0.88, 0.3), (1.0, 0.36), (0.88, 0.42))),
        ("detail", _ellipse(0.8, 0.32, 0.025, 0.025)),
    ]


_NOUN_SHAPES: dict[str, Callable[[np.random.Generator], Shape]] = {
    "flower": _flower,
    "house": _house,
    "dog": partial(_quadruped, pointed_ears=False),
    "tree": _tree,
    "car": _car,
    "face": _face,
    "bird": _bird,
    "cat": partial(_quadruped, pointed_ears=True),
}

# Width / height of each noun's box, so the shape is not squashed.
_NOUN_ASPECT: dict[str, float] = {
    "flower": 1.0,
    "house": 0.9,
    "dog": 1.4,
    "tree": 0.75,
    "car": 1.8,
    "face": 0.8,
    "bird": 1.3,
    "cat": 1.2,
}


def _roughen(polygon: Polygon, edge: str, rng: np.random.Generator) -> Polygon:
    """Resample the outline evenly and push it along its normals: spikes (jagged) or noise (ragged)."""
    if edge == "smooth":
        return polygon
    closed = np.vstack([polygon, polygon[:1]])
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(closed, axis=0).T))])
    n = 48
    s = np.linspace(0, arc[-1], n, endpoint=False)
    points = np.stack([np.interp(s, arc, closed[:, 0]), np.interp(s, arc, closed[:, 1])], axis=1)  # (n, 2)
    tangent = np.roll(points, -1, axis=0) - np.roll(points, 1, axis=0)
    normal = np.stack([tangent[:, 1], -tangent[:, 0]], axis=1)
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9)
    if edge == "jagged":
        offset = np.where(np.arange(n) % 2 == 0, 1.0, -1.0) * rng.uniform(0.03, 0.06, n)
    else:
        offset = np.convolve(rng.normal(0, 0.04, n), np.ones(3) / 3, mode="same")
    return points + normal * offset[:, None]


def _rasterize(shape: Shape, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Fit the shape to the box exactly and draw antialiased body and detail masks, (h, w) each."""
    points = np.vstack([polygon for _, polygon in shape])
    low, high = points.min(axis=0), points.max(axis=0)
    scale = 2 * np.array([width, height]) / np.maximum(high - low, 1e-9)  # 2x supersampling
    masks = {role: Image.new("L", (2 * width, 2 * height), 0) for role in ("body", "detail")}
    draws = {role: ImageDraw.Draw(mask) for role, mask in masks.items()}
    for role, polygon in shape:
        draws[role].polygon(((polygon - low) * scale).ravel().tolist(), fill=255)
    body, detail = (np.asarray(masks[r].resize((width, height), Image.Resampling.BOX), np.float32) / 255 for r in masks)
    return body, detail


# ---------------------------------------------------------------------------------------------
# Scenes


@dataclass(frozen=True)
class _Item:
    """One object to draw: its adjective's look, noun's shape, pixel box and salience."""

    adjective: str
    noun: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1; x1 and y1 exclusive
    salience: float


def _paint(canvas: np.ndarray, item: _Item, rng: np.random.Generator) -> None:
    """Composite one item into the (S, S, 3) canvas in place."""
    x0, y0, x1, y1 = item.box
    width, height = x1 - x0, y1 - y0
    look = LOOKS[item.adjective]
    shape = [(role, _roughen(p, look.edge, rng) if role == "body" else p) for role, p in _NOUN_SHAPES[item.noun](rng)]
    body, detail = _rasterize(shape, width, height)  # (h, w) each
    base, accent = look.base.sample(rng), look.detail.sample(rng)
    u = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    v = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    colour = look.texture(u, v, base, accent, look.base, rng)  # (h, w, 3)
    colour = _mix(colour, accent, detail)
    alpha = np.maximum(body, detail)
    if item.salience < 1:
        # Dimmed, not erased: clutter must still carry its adjective's look to compete with the object.
        dimming = 0.5 + 0.5 * item.salience
        grey = colour.mean(axis=-1, keepdims=True)
        colour = grey + (colour - grey) * dimming
        colour, alpha = _blur(colour, alpha * dimming, (1 - item.salience) * canvas.shape[0] / 224)
    region = canvas[y0:y1, x0:x1]
    region += (colour - region) * alpha[..., None]


def _blur(colour: np.ndarray, alpha: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blur of a (h, w, 3) colour patch and its (h, w) alpha (PIL blurs 8-bit images only)."""
    if radius <= 0:
        return colour, alpha
    rgba = np.concatenate([colour, alpha[..., None]], axis=-1)  # (h, w, 4)
    image = Image.fromarray((np.clip(rgba, 0, 1) * 255 + 0.5).astype(np.uint8))
    blurred = np.asarray(image.filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32) / 255
    return blurred[..., :3], blurred[..., 3]


def _background(size: int, rng: np.random.Generator) -> np.ndarray:
    """Label-free backdrop: two muted tones at a random horizon, soft shading and grain, (S, S, 3)."""
    muted = HSVRange((0.0, 1.0), (0.05, 0.3), (0.3, 0.8))
    sky, ground = muted.sample(rng), muted.sample(rng)
    v = np.linspace(0, 1, size, dtype=np.float32)[:, None, None]
    t = np.clip((v - rng.uniform(0.3, 0.7)) / 0.08 + 0.5, 0, 1)  # (S, 1, 1)
    canvas = sky + (ground - sky) * t  # (S, 1, 3)
    shading = 0.85 + 0.3 * _value_noise(size, size, 5, rng)  # (S, S)
    grain = rng.normal(0, 0.02, (size, size, 1)).astype(np.float32)
    return (canvas * shading[..., None] + grain).astype(np.float32)


def _box(size: int, area_frac: float, noun: str, rng: np.random.Generator) -> tuple[int, int, int, int]:
    aspect = _NOUN_ASPECT[noun] * float(np.exp(rng.uniform(-0.15, 0.15)))
    area = area_frac * size * size
    width = int(np.clip(round(math.sqrt(area * aspect)), 4, size))
    height = int(np.clip(round(area / width), 4, size))
    x0 = int(rng.integers(0, size - width + 1))
    y0 = int(rng.integers(0, size - height + 1))
    return x0, y0, x0 + width, y0 + height


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _scene(config: SynthConfig, adjective: str, noun: str, rng: np.random.Generator) -> tuple[Image.Image, tuple]:
    """Draw one image: background, balanced clutter, then the emotional object on top."""
    size = config.image_size
    canvas = _background(size, rng)
    obj = _Item(adjective, noun, _box(size, rng.uniform(*config.region_frac), noun, rng), 1.0)
    for polarity in rng.integers(0, 2, config.n_clutter):
        others = [a for a in _adjectives_of(config.adjectives, polarity) if a != adjective]
        clutter_noun = str(rng.choice(config.nouns))
        area = rng.uniform(*config.region_frac) * config.clutter_salience**2
        for _ in range(20):  # keep the object's box free of clutter when there is room
            box = _box(size, area, clutter_noun, rng)
            if not _overlaps(box, obj.box):
                break
        _paint(canvas, _Item(str(rng.choice(others)), clutter_noun, box, config.clutter_salience), rng)
    _paint(canvas, obj, rng)
    pixels = (np.clip(canvas, 0, 1) * 255 + 0.5).astype(np.uint8)  # (S, S, 3)
    return Image.fromarray(pixels), obj.box


# ---------------------------------------------------------------------------------------------
# The dataset


@dataclass(frozen=True)
class _ImagePlan:
    """What image ``index`` shows (``drawn``) and where it is filed (``filed``, giving its label)."""

    index: int
    drawn: str  # adjective whose look the object gets
    filed: str  # adjective of the ANP folder; differs in polarity from ``drawn`` under label noise
    noun: str

    @property
    def path(self) -> str:
        return f"{self.filed}_{self.noun}/{self.index:06d}.jpg"


def _plan(config: SynthConfig) -> list[_ImagePlan]:
    """Assign labels (balanced), flipped labels, adjectives (round robin) and nouns to images."""
    rng = np.random.default_rng([config.seed, 0])
    n = config.n_images
    if config.balanced:
        labels = rng.permutation(np.arange(n) < n // 2).astype(np.int8)  # (n,)
    else:
        labels = rng.integers(0, 2, n).astype(np.int8)
    flips = round(config.label_noise * n)
    flipped = np.zeros(n, dtype=bool)
    for polarity, count in ((1, flips // 2), (0, flips - flips // 2)):
        members = np.flatnonzero(labels == polarity)
        flipped[rng.choice(members, min(count, members.size), replace=False)] = True
    drawn_polarity = np.where(flipped, 1 - labels, labels)
    drawn = np.empty(n, dtype=object)
    # Round robin within each polarity keeps the adjectives' image counts within one of each other.
    for polarity in (1, 0):
        members = np.flatnonzero(drawn_polarity == polarity)
        names = np.array(_adjectives_of(config.adjectives, polarity), dtype=object)
        drawn[members] = rng.permutation(np.resize(names, members.size))
    nouns = rng.permutation(np.resize(np.array(config.nouns, dtype=object), n))
    filed = drawn.copy()
    for index in np.flatnonzero(flipped):
        filed[index] = str(rng.choice(_adjectives_of(config.adjectives, int(labels[index]))))
    return [_ImagePlan(i, str(drawn[i]), str(filed[i]), str(nouns[i])) for i in range(n)]


def _anp_score(adjective: str, noun: str) -> float:
    return VSO_ANP_SCORES.get(f"{adjective}_{noun}", VSO_ADJECTIVE_SCORES[adjective])


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _metadata(config: SynthConfig) -> dict:
    return {"generator": "visent.data.synth", "visent_version": __version__, "config": config.to_dict()}


def _read_metadata(root: Path) -> dict | None:
    path = root / "synth.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise SynthFolderError(f"{path} is not valid JSON ({error}); delete {root} or choose another folder") from error


def _clear(root: Path, previous: dict | None, config: SynthConfig, overwrite: bool) -> None:
    """Make ``root`` ready for ``config``: refuse, or remove exactly what an earlier run wrote."""
    if previous is None:
        if any(root.iterdir()):
            raise SynthFolderError(
                f"{root} is not empty and has no synth.json, so it is not a synthetic dataset; "
                "choose an empty or new folder (nothing is deleted that visent did not write)"
            )
        return
    if previous.get("config") == config.to_dict() and previous.get("visent_version") == __version__:
        return  # an interrupted run of this same config: its files are simply rewritten
    if not overwrite:
        raise SynthFolderError(
            f"{root} holds a synthetic dataset of another config or version "
            f"(see {root / 'synth.json'}); pass overwrite=True to replace it, or choose another folder"
        )
    for folder in previous.get("folders", []):
        shutil.rmtree(root / folder, ignore_errors=True)
    for name in _OUTPUT_FILES:
        (root / name).unlink(missing_ok=True)


def generate(
    root: str | Path, config: SynthConfig = SynthConfig(), progress: bool = True, overwrite: bool = False
) -> dict:
    """Write the synthetic dataset of ``config`` under ``root`` and return a summary.

    A no-op (``"skipped": True``) when ``root/synth.json`` records the same config and package
    version and says the run completed. A folder holding another config raises
    :class:`SynthFolderError` unless ``overwrite`` is set; then only the files an earlier run wrote
    are removed. A non-empty folder that is not a synthetic dataset always raises.
    """
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise SynthFolderError(f"{root} is a file; generate() needs a folder path")
    root.mkdir(parents=True, exist_ok=True)
    previous = _read_metadata(root)
    metadata = _metadata(config)
    if previous is not None and previous.get("complete") and {k: previous.get(k) for k in metadata} == metadata:
        return {**previous["summary"], "root": str(root), "skipped": True}
    _clear(root, previous, config, overwrite)

    started = time.perf_counter()
    plans = _plan(config)
    folders = sorted({f"{plan.filed}_{plan.noun}" for plan in plans})
    # Written first, so an interrupted run is recognised (and may be overwritten) later.
    (root / "synth.json").write_text(json.dumps({**metadata, "complete": False, "folders": folders}, indent=2))
    for folder in folders:
        (root / folder).mkdir(exist_ok=True)

    regions = []
    for plan in tqdm(plans, desc="synth", unit="img", disable=not progress):
        image, box = _scene(config, plan.drawn, plan.noun, np.random.default_rng([config.seed, 1, plan.index]))
        image.save(root / plan.path, format="JPEG", quality=_JPEG_QUALITY)
        regions.append([plan.path, *box, config.image_size, config.image_size])
    _write_csv(root / "regions.csv", ["path", "x0", "y0", "x1", "y1", "width", "height"], regions)
    noisy = [[p.path, p.drawn, p.filed] for p in plans if p.drawn != p.filed]
    _write_csv(root / "noise.csv", ["path", "drawn_adjective", "filed_adjective"], noisy)
    anps = {f"{plan.filed}_{plan.noun}": (plan.filed, plan.noun, _anp_score(plan.filed, plan.noun)) for plan in plans}
    write_vso_ontology(
        root / "ontology.txt",
        dict(sorted(anps.items())),
        {adjective: VSO_ADJECTIVE_SCORES[adjective] for adjective in config.adjectives},
    )

    labels = Counter(VSO_ADJECTIVE_SCORES[plan.filed] > 0 for plan in plans)
    seconds = time.perf_counter() - started
    summary = {
        "n_images": len(plans),
        "n_positive": labels[True],
        "n_negative": labels[False],
        "n_flipped": len(noisy),
        "n_anps": len(anps),
        "seconds": round(seconds, 3),
        "images_per_second": round(len(plans) / seconds, 1),
    }
    (root / "synth.json").write_text(
        json.dumps({**metadata, "complete": True, "folders": folders, "summary": summary}, indent=2)
    )
    return {**summary, "root": str(root), "skipped": False}
