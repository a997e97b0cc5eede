"""A trained model applied to new photographs: ``visent.load(checkpoint).predict(images)``.

Everything about the model comes from the checkpoint: the variant and its head, the backbone
weights, image size, fine-tuned block and precision. The photographs go through the path of
``visent extract`` (``image_batches`` decodes them by content, ``backbone_regions`` runs the trunk),
batch by batch into the head, so a photograph gets the probability that ``visent evaluate`` computes
for it; no feature cache is written. Files that cannot be read are reported one by one and skipped.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from visent import distributed, precision
from visent.atomic import atomic_write
from visent.backbone import device_trunk, get_backbone, output_shape, uses_compile
from visent.config import ConfigError, RunConfig, locate_paths, run_folder_of
from visent.data.decode import choose_decoder, image_batches
from visent.data.images import load_image
from visent.data.layouts import files
from visent.data.table import CLASS_NAMES, DataReport, Dataset, make_samples
from visent.features import backbone_regions
from visent.model import VARIANTS
from visent.model.detector import AttributeDetector
from visent.model.embeddings import WordVectors, load_glove
from visent.training.train import CheckpointError, load_checkpoint

#: The settings ``load`` may change: where and how fast the photographs are read, never what the model computes.
OVERRIDES = ("device", "extract_batch_size", "num_workers", "decoder", "compile", "max_pixels")
#: Columns a manifest CSV given to ``predict`` may have (a training manifest's label and split are not read).
MANIFEST_COLUMNS = ("attribute", "label", "split")
#: The data report's reason for a photograph that could not be decoded.
UNREADABLE = "unreadable image"


@dataclass(frozen=True)
class Prediction:
    """One photograph's prediction: its path as given, the label, p(positive), the adjective that
    steered the attention (given, or the detector's top-1; None without one) and the attention ``o``
    of eq. (5) over the conv5_3 grid (None for a head without attention)."""

    path: str
    label: str
    p_positive: float
    attribute: str | None = None
    o: np.ndarray | None = field(default=None, repr=False)  # (N,) float32, N = 196 at 224 px

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "label": self.label,
            "p_positive": round(self.p_positive, 5),
            "attribute": self.attribute,
            "o": None if self.o is None else [round(float(w), 5) for w in self.o],
        }


@dataclass
class Predictions:
    """The predictions of one ``predict`` call in input order, and the report of what was skipped."""

    records: list[Prediction]
    report: DataReport
    about: dict[str, Any]  # checkpoint, run id, variant and config: written into every output file

    def __iter__(self) -> Iterator[Prediction]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, k: int) -> Prediction:
        return self.records[k]

    def to_json(self, maps: dict[str, str] | None = None) -> dict[str, Any]:
        """The records with their attention (and overlay PNG, with ``maps``), the report and ``about``."""
        records = [r.to_dict() | ({"map": maps.get(r.path)} if maps is not None else {}) for r in self.records]
        return {**self.about, "predictions": records, "skipped": self.report.to_dict()}

    def write_json(self, path: str | Path, maps: dict[str, str] | None = None) -> Path:
        text = json.dumps(self.to_json(maps), indent=1)
        return atomic_write(Path(path), lambda fh: fh.write(text.encode()))

    def write_maps(self, folder: str | Path, progress: bool = False) -> dict[str, str]:
        """One PNG per photograph in ``folder``: the photograph, its attention heat map and the
        prediction (``overlay_png``). Returns path -> PNG, named after the photograph (``-2`` and on
        where two share a name)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written, taken = {}, set()
        for record in tqdm(self.records, desc="attention maps", unit="img", disable=not progress):
            stem, k = Path(record.path).stem, 1
            name = f"{stem}.png"
            while name in taken:
                k += 1
                name = f"{stem}-{k}.png"
            taken.add(name)
            png = overlay_png(record, self.about["config"]["max_pixels"])
            written[record.path] = str(atomic_write(folder / name, lambda fh: fh.write(png)))
        return written

    def write_gallery(self, path: str | Path, progress: bool = False) -> Path:
        """One self-contained page of every photograph, its attention and its prediction
        (``visent.reporting.gallery``), sortable by p(positive) and filterable by label."""
        from visent.reporting.gallery import Card, write_gallery

        max_pixels = self.about["config"]["max_pixels"]
        cards = [
            Card(
                r.path,
                r.label,
                r.p_positive,
                r.attribute,
                photo_jpeg(r.path, max_pixels),
                None if r.o is None else overlay_png(r, max_pixels, title=False, dpi=60),
            )
            for r in tqdm(self.records, desc="gallery", unit="img", disable=not progress)
        ]
        skipped = f"; {len(self.report)} inputs skipped, each listed by visent predict" if len(self.report) else ""
        about = f"{self.about['variant']} from {self.about['checkpoint']}: {len(cards)} photographs{skipped}"
        return write_gallery(path, cards, f"visent predict: {self.about['run_id']}", about)

    def write_csv(self, path: str | Path | None, maps: dict[str, str] | None = None) -> str:
        """The records as CSV (``path,label,p_positive,attribute`` and ``map`` with ``maps``, path ->
        PNG); written to ``path`` when given, returned as text."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["path", "label", "p_positive", "attribute", *(["map"] if maps is not None else [])])
        for r in self.records:
            row = [r.path, r.label, f"{r.p_positive:.5f}", r.attribute or ""]
            writer.writerow(row + ([maps.get(r.path, "")] if maps is not None else []))
        text = buffer.getvalue()
        if path is not None:
            atomic_write(Path(path), lambda fh: fh.write(text.encode()))
        return text


def photo_jpeg(path: str, max_pixels: int, side: int = 240) -> bytes:
    """The photograph at ``path``, upright, its longer side ``side`` pixels, as JPEG bytes."""
    image = load_image(path, max_pixels)
    image.thumbnail((side, side))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def caption(record: Prediction) -> str:
    """A prediction in a few words: ``positive 0.87 · happy``."""
    return f"{record.label} {record.p_positive:.2f}" + (f" · {record.attribute}" if record.attribute else "")


def overlay_png(record: Prediction, max_pixels: int, title: bool = True, dpi: int = 100) -> bytes:
    """The photograph of ``record`` with its attention over it (``viz.attention_overlay``, the book's
    drawing) and, with ``title``, its caption, as PNG bytes; the photograph is shrunk to what the
    figure shows first."""
    from visent.reporting.viz import attention_overlay

    image = load_image(record.path, max_pixels)
    image.thumbnail((4 * dpi, 4 * dpi))  # the figure is 4 inches wide
    fig = attention_overlay(image, record.o, title=caption(record) if title else None)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def collect_images(paths: Sequence[str | os.PathLike[str]], report: DataReport) -> list[tuple[str, str | None]]:
    """``(path, adjective or None)`` for every photograph named by ``paths``: image files (decoded by
    content, whatever their extension), folders (searched recursively, files that are not images
    reported) and manifest CSVs (a ``path`` column, relative to the CSV's folder, and optionally
    ``attribute``). A missing path or a photograph named twice is reported."""
    found: dict[str, str | None] = {}

    def add(path: str, attribute: str | None, where: str) -> None:
        if path in found:
            report.add(where, "duplicate image", f"{path} is named twice; predicted once")
        else:
            found[path] = attribute

    for given in map(str, paths):
        path = Path(given)
        if path.is_dir():
            for name in _images_under(path, report):
                add(name, None, name)
        elif path.suffix.lower() == ".csv" and path.is_file():
            for where, row in files.read_csv(path, ("path",), "manifest", report, optional=MANIFEST_COLUMNS):
                raw = (row["path"] or "").strip()
                if not raw:
                    report.add(where, "malformed row", "the path cell is empty")
                    continue
                image = raw if Path(raw).is_absolute() else os.path.normpath(os.path.join(path.parent, raw))
                if not Path(image).is_file():
                    report.add(where, "listed image missing", f"{image} does not exist")
                    continue
                add(image, (row.get("attribute") or "").strip() or None, where)
        elif path.is_file():
            add(given, None, given)
        else:
            report.add(given, "missing file", "no such file or folder")
    return list(found.items())


def _images_under(folder: Path, report: DataReport) -> list[str]:
    """The image files under ``folder``, sorted, as paths joined onto it; other files reported."""
    names, subfolders = files.scan(folder, folder, report)
    images = []
    for name in names:
        path = os.path.join(folder, name)
        if files.is_image_name(name):
            images.append(path)
        else:
            report.add(path, "not an image file", f"extension not in {', '.join(sorted(files.IMAGE_EXTENSIONS))}")
    for sub in subfolders:
        images += _images_under(folder / sub, report)
    return images


#: A query source's eq. (2) query for new photographs: ``(predictor, their regions (B, N, C) on the
#: device, their adjectives) -> (queries (B, word_dim), the adjective that each one stands for)``.
NewQueries = Callable[["Predictor", torch.Tensor, list[str | None]], tuple[np.ndarray, list[str]]]


def _own_adjective(predictor: Predictor, V: torch.Tensor, words: list[str | None]) -> tuple[np.ndarray, list[str]]:
    vectors = predictor.vectors
    assert vectors is not None and all(w is not None for w in words)  # checked before decoding
    chosen = [str(w) for w in words]
    return np.stack([vectors[w] for w in chosen]).astype(np.float32), chosen


def _detected_adjective(predictor: Predictor, V: torch.Tensor, words: list[str | None]) -> tuple[np.ndarray, list[str]]:
    detector, vectors = predictor.detector, predictor.vectors
    assert detector is not None and vectors is not None
    pooled = V.float().mean(dim=1).cpu().numpy()  # (B, C): what pooled_features gives the detector in training
    top1 = [detector.vocabulary[k] for k in detector.probabilities(pooled).argmax(1)]
    return detector.queries(pooled, vectors, soft=predictor.config.detector_query == "soft"), top1


#: Query source -> how ``predict`` makes its query; the sources not here read what only a dataset has.
NEW_QUERIES: dict[str, NewQueries] = {"truth": _own_adjective, "predicted": _detected_adjective}
#: Query sources whose query is the image's own adjective, given with ``--attribute`` or a manifest column.
READS_ADJECTIVE = ("truth",)


class Predictor:
    """A checkpoint's model ready for new photographs (``load`` builds one)."""

    def __init__(self, checkpoint: Path, config: RunConfig, state: dict) -> None:
        from visent.pipeline import model_of, weights_for

        self.checkpoint, self.config = checkpoint, config
        self.variant = VARIANTS[config.variant]
        self.device = distributed.resolve_device(config.device)
        precision.check(config.amp, self.device)
        self.weights = weights_for(config)
        self.layer = get_backbone(config.backbone).finetune[config.finetune]
        source = self.variant.attribute_source
        if source is not None and source not in NEW_QUERIES:
            usable = [name for name, v in VARIANTS.items() if v.attribute_source in (None, *NEW_QUERIES)]
            raise ConfigError(
                f"{checkpoint}: {config.variant} attends to {self.variant.attends}, which a photograph alone does not"
                f" give; visent predict applies {', '.join(usable)}"
            )
        self.vectors: WordVectors | None = load_glove(config.glove) if source is not None else None
        self.detector: AttributeDetector | None = None
        if source == "predicted":
            saved = config.detector or checkpoint.with_name(f"{config.run_id}-detector.pt")
            self.detector = AttributeDetector.load(saved)
        word_dim = None if self.vectors is None else self.vectors.dim
        region_dim = output_shape(self.weights.transform.size, backbone=config.backbone)[1]
        self.model = model_of(config, self.weights, region_dim, word_dim)
        try:
            self.model.load_state_dict(state["best_state"])
        except RuntimeError as err:
            raise CheckpointError(
                f"{checkpoint}: its weights do not fit the {config.variant} model of this version"
                f" ({str(err).splitlines()[0]}); train it again with this version"
            ) from None
        self.model.to(self.device).eval()
        self._trunk: torch.nn.Module | None = None

    @property
    def about(self) -> dict[str, Any]:
        """What every output file records of the model: the checkpoint, its run and its config."""
        return {
            "checkpoint": str(self.checkpoint),
            "run_id": self.config.run_id,
            "variant": self.config.variant,
            "config": self.config.to_dict(),
        }

    def predict(
        self,
        images: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        attribute: str | None = None,
        progress: bool = False,
    ) -> Predictions:
        """Predictions for ``images`` (files, folders or manifest CSVs; see ``collect_images``).
        ``attribute``: the adjective of every photograph whose manifest row gives none, for the
        variants that attend to the image's own adjective."""
        report = DataReport()
        paths = [images] if isinstance(images, (str, os.PathLike)) else list(images)
        found = self._with_adjectives(collect_images(paths, report), attribute, report)
        return Predictions(self._run(found, report, progress), report, self.about)

    def _with_adjectives(
        self, found: list[tuple[str, str | None]], attribute: str | None, report: DataReport
    ) -> list[tuple[str, str | None]]:
        """``found`` with each photograph's adjective where the variant attends to it (its manifest
        cell, else ``attribute``); a photograph without one, or with a word GloVe lacks, is reported
        and left out."""
        if self.variant.attribute_source not in READS_ADJECTIVE:
            if attribute is not None:
                raise ConfigError(
                    f"{self.config.variant} attends to {self.variant.attends}, not to a given adjective:"
                    " drop --attribute"
                )
            return [(path, None) for path, _ in found]
        words = [(path, word or attribute) for path, word in found]
        if found and not any(word for _, word in words):
            raise ConfigError(
                f"{self.config.variant} attends to {self.variant.attends}: give it with --attribute WORD (the same"
                " for every photograph) or a manifest CSV with path,attribute columns"
            )
        assert self.vectors is not None
        kept: list[tuple[str, str | None]] = []
        for path, word in words:
            if not word:
                report.add(path, "no adjective", "its manifest row gives none and no --attribute was given")
            elif word not in self.vectors:
                report.add(path, "adjective not in GloVe", f"{word!r} is not in {self.vectors.source}")
            else:
                kept.append((path, word))
        return kept

    def trunk(self, n_images: int) -> torch.nn.Module:
        """The backbone up to the layer the head reads, built once (compiled as ``visent extract``
        would compile it for ``n_images``)."""
        if self._trunk is None:
            compiled = uses_compile(self.config.compile, self.device, n_images)
            self._trunk = device_trunk(self.weights, self.device, compiled, until=self.layer)
        return self._trunk

    @torch.inference_mode()
    def _run(self, found: list[tuple[str, str | None]], report: DataReport, progress: bool) -> list[Prediction]:
        if not found:
            return []
        config, transform = self.config, self.weights.transform
        dataset = Dataset(  # labels are unknown here: image_batches reads the paths alone
            "predict", Path.cwd(), make_samples({"path": path, "label": 0} for path, _ in found), report
        )
        batches = image_batches(
            dataset,
            np.arange(len(found)),
            transform,
            self.device,
            choose_decoder(config.decoder, self.device),
            batch_size=config.extract_batch_size,
            num_workers=config.num_workers,
            max_pixels=config.max_pixels,
        )
        source = self.variant.attribute_source
        records: dict[int, Prediction] = {}
        with tqdm(total=len(found), desc=f"predict ({config.run_id})", unit="img", disable=not progress) as bar:
            for rows, pixels, reasons in batches:
                V = backbone_regions(
                    self.trunk(len(found)), transform, pixels, config.amp, self.device
                )  # (B, N, C) fp16
                ok = [k for k, why in enumerate(reasons) if not why]
                for k, why in enumerate(reasons):
                    if why:
                        report.add(found[rows[k]][0], UNREADABLE, why)
                bar.update(len(rows))
                if not ok:
                    continue
                V = V[ok]
                words: list[str | None] = [found[rows[k]][1] for k in ok]
                a = None
                if source is not None:
                    queries, words = NEW_QUERIES[source](self, V, words)  # type: ignore[assignment]
                    a = torch.from_numpy(queries).to(self.device)
                with precision.autocast(config.amp, self.device):
                    logits, o = self.model(V, a, return_attention=True)
                probs = logits.float().softmax(-1).cpu().numpy()  # (B, classes)
                maps = None if o is None else o.float().cpu().numpy()  # (B, N)
                for j, k in enumerate(ok):
                    records[rows[k]] = Prediction(
                        found[rows[k]][0],
                        CLASS_NAMES[int(probs[j].argmax())],
                        float(probs[j, 1]),
                        words[j],
                        None if maps is None else maps[j],
                    )
        return [records[k] for k in sorted(records)]


def load(checkpoint: str | os.PathLike[str], **settings: Any) -> Predictor:
    """The model of a checkpoint written by ``visent train`` / ``run`` / ``cv``, ready to ``predict``.
    ``settings`` may change ``OVERRIDES`` (e.g. ``device="cpu"``); the rest comes from the checkpoint."""
    path = Path(checkpoint)
    fixed = [key for key in settings if key not in OVERRIDES]
    if fixed:
        raise ConfigError(f"{fixed} come from the checkpoint; load(...) may change only {list(OVERRIDES)}")
    state = load_checkpoint(path)
    try:
        config = RunConfig.from_dict(state["config"] | settings, command="predict")
    except (ConfigError, TypeError) as err:
        raise CheckpointError(
            f"{path} was written by another version of visent ({err}); use that version, or train it again"
        ) from None
    config = locate_paths(config, state.get("paths", {}), run_folder_of(path, config.checkpoint_dir))
    return Predictor(path, config, state)


__all__ = ["NEW_QUERIES", "OVERRIDES", "Prediction", "Predictions", "Predictor", "collect_images", "load"]
