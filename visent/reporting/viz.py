"""Figures of the notebooks and the book: attention overlays, the data, training and results.

Every function returns a ``matplotlib.figure.Figure`` built without pyplot, so nothing is shown
and nothing lingers in pyplot's global figure list: a notebook displays the returned figure, a
script saves it. Conventions shared by all functions:

- attention weights ``o`` are eq. (5)'s ``(196,)`` vector in region order (region ``i`` is row
  ``i // 14``, column ``i % 14`` of the conv5_3 grid), or the ``(14, 14)`` grid itself;
- a box is ``(x0, y0, x1, y1)`` relative to the image, in [0, 1], NaN when unknown (the
  ``samples`` columns of ``visent.data.table``). The backbone resizes the whole image without
  cropping, so the same relative box lies over the image and over the 14 x 14 grid;
- labels are 1 = positive, 0 = negative.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
import torch
import torch.nn.functional as F
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from PIL import Image

from visent.data.table import CLASS_NAMES

__all__ = [
    "CLASS_COLOURS",
    "VizError",
    "attention_figure",
    "attention_overlay",
    "count_plots",
    "example_images",
    "glove_pca",
    "grid_maps",
    "overlay_grid",
    "results_bars",
    "training_curves",
    "upsample_attention",
]

#: Colour-blind safe pair (ColorBrewer Dark2), used for polarity in every figure.
CLASS_COLOURS: dict[str, str] = {"positive": "#1b9e77", "negative": "#d95f02"}
BOX_COLOUR = "white"
ATTENTION_CMAP = "jet"  # the usual heat map of attention figures, as in the paper's Fig. 1
EVIDENCE_CMAP = "RdBu_r"  # signed maps: red pushes towards positive, blue towards negative, white is 0

ImageLike = Image.Image | np.ndarray
Box = Sequence[float] | np.ndarray


class VizError(ValueError):
    """An input a figure cannot be drawn from; the message names the argument and what fits."""


# ------------------------------------------------------------------------------ attention maps


def _as_grid(o: np.ndarray | torch.Tensor, name: str = "o") -> np.ndarray:
    """``(n*n,)`` or ``(n, n)`` weights -> ``(n, n)`` float64 grid, row-major like ``to_regions``."""
    arr = o.detach().float().cpu().numpy() if isinstance(o, torch.Tensor) else np.asarray(o, dtype=np.float64)
    if arr.ndim == 1:
        side = int(round(np.sqrt(arr.size)))
        if side * side != arr.size or side == 0:
            raise VizError(f"{name} has {arr.size} weights; a flat map needs a square count (196 = 14 x 14)")
        arr = arr.reshape(side, side)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise VizError(f"{name} must be (196,) or a square grid such as (14, 14); got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise VizError(f"{name} holds NaN or infinite values; attention weights of eq. (5) are finite")
    return arr


def upsample_attention(o: np.ndarray | torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """Bilinear upsampling of the grid of weights ``o`` to an image of ``size`` = (height, width).

    Each grid cell covers an equal block of the resized image, so cell centres are placed at block
    centres (``align_corners=False``); a constant map stays constant.

    Returns:
        ``(height, width)`` float32.
    """
    grid = _as_grid(o)
    height, width = size
    if height < 1 or width < 1:
        raise VizError(f"size must be (height, width) with both >= 1, got {size}")
    x = torch.from_numpy(grid).float()[None, None]  # (1, 1, 14, 14)
    up = F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False)  # (1, 1, H, W)
    return up[0, 0].numpy()


def _image_array(image: ImageLike, name: str = "image") -> np.ndarray:
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    arr = np.asarray(image)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise VizError(f"{name} must be a PIL image or an (H, W) / (H, W, 3) array; got shape {arr.shape}")
    return arr


def _known_box(box: Box | None) -> np.ndarray | None:
    """The box as a (4,) array, or None when absent or NaN (region unknown)."""
    if box is None:
        return None
    arr = np.asarray(box, dtype=np.float64)
    if arr.shape != (4,):
        raise VizError(f"a box is (x0, y0, x1, y1) relative to the image; got shape {arr.shape}")
    if np.isnan(arr).any():
        return None
    x0, y0, x1, y1 = arr
    if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
        raise VizError(f"box {arr.tolist()} is not (x0, y0, x1, y1) with 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1")
    return arr


def _draw_box(ax: Axes, box: Box | None, width: float, height: float) -> None:
    known = _known_box(box)
    if known is not None:
        x0, y0, x1, y1 = known * [width, height, width, height]
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=BOX_COLOUR, linewidth=2))


def _draw_image(ax: Axes, image: ImageLike, box: Box | None = None, title: str | None = None) -> tuple[int, int]:
    """The image in pixel coordinates with its box; returns (height, width)."""
    pixels = _image_array(image)
    height, width = pixels.shape[:2]
    ax.imshow(pixels, extent=(0, width, height, 0), cmap="gray" if pixels.ndim == 2 else None)
    _draw_box(ax, box, width, height)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return height, width


def _draw_overlay(
    ax: Axes,
    image: ImageLike,
    o: np.ndarray,
    box: Box | None,
    title: str | None,
    alpha: float,
    vmax: float | None,
    signed: bool = False,
) -> None:
    height, width = _draw_image(ax, image, box, title)
    heat = upsample_attention(o, (height, width))
    vmax = vmax if vmax else max(float(np.abs(heat).max()), 1e-12)
    # The heat map shares the image's extent, so grid cell (r, c) lies over the pixels it pools.
    ax.imshow(
        heat,
        extent=(0, width, height, 0),
        cmap=EVIDENCE_CMAP if signed else ATTENTION_CMAP,
        alpha=alpha,
        vmin=-vmax if signed else 0.0,
        vmax=vmax,
    )


def attention_overlay(
    image: ImageLike,
    o: np.ndarray | torch.Tensor | None,
    box: Box | None = None,
    title: str | None = None,
    alpha: float = 0.5,
) -> Figure:
    """One image with its attention weights ``o`` (196,) upsampled over it and its box drawn; the
    image alone for ``o`` None (a head without attention)."""
    fig = Figure(figsize=(4, 4), layout="constrained")
    if o is None:
        _draw_image(fig.add_subplot(), image, box, title)
    else:
        _draw_overlay(fig.add_subplot(), image, _as_grid(o), box, title, alpha, None)
    return fig


def attention_figure(
    images: Sequence[ImageLike],
    maps: Mapping[str, np.ndarray | torch.Tensor],
    boxes: np.ndarray | Sequence[Box | None] | None = None,
    labels: Mapping[str, Sequence[str]] | None = None,
    row_titles: Sequence[str] | None = None,
    path: str | Path | None = None,
    alpha: float = 0.5,
    signed: bool = False,
) -> Figure:
    """The paper's Fig. 1 as a grid: one row per image, the image then one overlay per query.

    Args:
        images: ``n`` images.
        maps: query name (e.g. ``"true"``, ``"shuffled"``, ``"predicted"``) -> weights ``(n, 196)``.
        boxes: ``(n, 4)`` relative boxes, NaN rows where unknown; drawn on every panel.
        labels: query name -> ``n`` strings shown after the name (the adjective used).
        row_titles: ``n`` strings above each row's image (e.g. the label and ANP).
        path: when given, the figure is also saved there as PNG (parent folders are created).
        alpha: opacity of the heat map.
        signed: the maps hold signed values, such as ``AttributeAttention.region_evidence``: a
            diverging scale centred on 0 (red positive, blue negative) replaces the heat map.

    The colour scale is shared along a row, so a flatter map looks paler than a peaked one.
    """
    n = len(images)
    if n == 0 or not maps:
        raise VizError("attention_figure needs at least one image and one map")
    grids = {}
    for name, stack in maps.items():
        arr = stack.detach().float().cpu().numpy() if isinstance(stack, torch.Tensor) else np.asarray(stack)
        if len(arr) != n:
            raise VizError(f"maps[{name!r}] has {len(arr)} rows for {n} images; give one (196,) map per image")
        grids[name] = [_as_grid(row, f"maps[{name!r}][{i}]") for i, row in enumerate(arr)]
    for what, seq in (
        ("boxes", boxes),
        ("row_titles", row_titles),
        *((f"labels[{k!r}]", v) for k, v in (labels or {}).items()),
    ):
        if seq is not None and len(seq) != n:
            raise VizError(f"{what} has {len(seq)} entries for {n} images")
    unknown = set(labels or {}) - set(maps)
    if unknown:
        raise VizError(f"labels name queries {sorted(unknown)} that are not in maps {list(maps)}")

    ncols = 1 + len(maps)
    fig = Figure(figsize=(2.6 * ncols, 2.6 * n + 0.3), layout="constrained")
    axes = fig.subplots(n, ncols, squeeze=False)
    for r in range(n):
        box = None if boxes is None else boxes[r]
        _draw_image(axes[r, 0], images[r], box, row_titles[r] if row_titles is not None else None)
        vmax = max(float(np.abs(g).max()) for g in (grids[name][r] for name in maps))
        for c, name in enumerate(maps, start=1):
            title = f"{name}: {labels[name][r]}" if labels and name in labels else name
            _draw_overlay(axes[r, c], images[r], grids[name][r], box, title, alpha, vmax, signed)
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png", dpi=100)
    return fig


def overlay_grid(
    images: Sequence[ImageLike],
    o: np.ndarray | torch.Tensor,
    titles: Sequence[str] | None = None,
    ncols: int = 4,
    path: str | Path | None = None,
    alpha: float = 0.5,
) -> Figure:
    """Each image with its own attention ``o[k]`` over it, ``ncols`` to a row; saved as PNG at
    ``path`` when given. Every panel has its own colour scale (the maps of different images)."""
    weights = o.detach().float().cpu().numpy() if isinstance(o, torch.Tensor) else np.asarray(o)
    if len(images) == 0 or len(weights) != len(images):
        raise VizError(f"overlay_grid needs one map per image; got {len(images)} images and {len(weights)} maps")
    if titles is not None and len(titles) != len(images):
        raise VizError(f"titles has {len(titles)} entries for {len(images)} images")
    ncols = max(1, min(ncols, len(images)))
    nrows = -(-len(images) // ncols)
    fig = Figure(figsize=(2.6 * ncols, 2.7 * nrows), layout="constrained")
    axes = list(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for k, (ax, image) in enumerate(zip(axes, images)):
        _draw_overlay(ax, image, _as_grid(weights[k], f"o[{k}]"), None, titles[k] if titles else None, alpha, None)
    for ax in axes[len(images) :]:
        ax.remove()
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png", dpi=100)
    return fig


def grid_maps(
    maps: Mapping[str, np.ndarray | torch.Tensor],
    image: ImageLike | None = None,
    box: Box | None = None,
    ncols: int = 4,
    cmap: str = "viridis",
) -> Figure:
    """Grid-resolution heat maps (each ``(196,)`` or ``(14, 14)``) with a colour bar each.

    With ``image`` the first panel shows the image, so feature maps or scores can be read against
    it; ``box`` is drawn on every panel, scaled to the grid.
    """
    if not maps:
        raise VizError("grid_maps needs at least one map")
    if ncols < 1:
        raise VizError(f"ncols must be >= 1, got {ncols}")
    grids = {name: _as_grid(m, f"maps[{name!r}]") for name, m in maps.items()}
    panels = len(grids) + (image is not None)
    ncols = min(ncols, panels)
    nrows = -(-panels // ncols)
    fig = Figure(figsize=(3.2 * ncols, 2.9 * nrows), layout="constrained")
    axes = list(fig.subplots(nrows, ncols, squeeze=False).ravel())
    if image is not None:
        _draw_image(axes.pop(0), image, box, "image")
    for ax, (name, grid) in zip(axes, grids.items()):
        side = grid.shape[0]
        shown = ax.imshow(grid, extent=(0, side, side, 0), cmap=cmap)
        _draw_box(ax, box, side, side)
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(shown, ax=ax, shrink=0.8)
    for ax in axes[len(grids) :]:
        ax.remove()
    return fig


# ------------------------------------------------------------------------------ the data


def example_images(
    images: Sequence[ImageLike],
    boxes: np.ndarray | Sequence[Box | None] | None = None,
    titles: Sequence[str] | None = None,
    ncols: int = 4,
) -> Figure:
    """Images in a grid with their emotional-region boxes drawn."""
    n = len(images)
    if n == 0:
        raise VizError("example_images needs at least one image")
    for what, seq in (("boxes", boxes), ("titles", titles)):
        if seq is not None and len(seq) != n:
            raise VizError(f"{what} has {len(seq)} entries for {n} images")
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig = Figure(figsize=(2.6 * ncols, 2.7 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for i, ax in enumerate(axes):
        if i < n:
            _draw_image(ax, images[i], None if boxes is None else boxes[i], None if titles is None else titles[i])
        else:
            ax.remove()
    return fig


def count_plots(samples: pd.DataFrame) -> Figure:
    """Samples per ANP (adjective x noun counts) and the class balance of each split.

    The ANP panel appears only when the table has adjectives and nouns (VSO-style layouts); its
    adjective labels are coloured by the adjective's polarity.
    """
    missing = {"label"} - set(samples)
    if missing or samples.empty:
        raise VizError("count_plots needs a non-empty samples table with a 'label' column (visent.data.table)")
    with_anp = {"attribute", "noun"} <= set(samples) and samples[["attribute", "noun"]].notna().all().all()
    fig = Figure(figsize=(12 if with_anp else 5, 5), layout="constrained")
    if with_anp:
        ax_anp, ax_bal = fig.subplots(1, 2, width_ratios=[2.2, 1])
        counts = pd.crosstab(samples["attribute"], samples["noun"])  # (adjectives, nouns)
        polarity = samples.groupby("attribute")["label"].agg(lambda s: int(s.mean() >= 0.5))
        order = sorted(counts.index, key=lambda a: (-polarity[a], a))  # positive adjectives first
        counts = counts.loc[order]
        sns.heatmap(counts, annot=True, fmt="d", cmap="Greys", cbar=False, ax=ax_anp, linewidths=0.5)
        ax_anp.set_title(f"samples per ANP ({int((counts > 0).sum().sum())} ANPs)")
        ax_anp.set_xlabel("noun")
        ax_anp.set_ylabel("adjective")
        for tick in ax_anp.get_yticklabels():
            tick.set_color(CLASS_COLOURS[CLASS_NAMES[int(polarity[tick.get_text()])]])
    else:
        ax_bal = fig.add_subplot()
    split = samples["split"] if "split" in samples else pd.Series("all", index=samples.index)
    splits = [s for s in ("train", "val", "test", "all") if s in set(split)]
    counts = pd.crosstab(split, samples["label"].map(CLASS_NAMES)).reindex(
        index=splits, columns=list(CLASS_COLOURS), fill_value=0
    )  # (splits, classes); a class absent from a split still gets its (zero) bar
    width = 0.4
    for k, (name, colour) in enumerate(CLASS_COLOURS.items()):
        bars = ax_bal.bar(np.arange(len(splits)) + (k - 0.5) * width, counts[name], width, color=colour, label=name)
        ax_bal.bar_label(bars, fontsize=8)
    ax_bal.set_xticks(np.arange(len(splits)), splits)
    ax_bal.legend(title="class")
    ax_bal.set_title("class balance")
    ax_bal.set_ylabel("images")
    return fig


def glove_pca(words: Sequence[str], vectors: np.ndarray, polarity: Sequence[int]) -> Figure:
    """The adjectives' word vectors (the ``a`` of eq. (2)) on their first two principal components.

    Args:
        words: ``n`` adjectives; vectors: ``(n, dim)``; polarity: ``n`` labels (1 positive).
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    n = len(words)
    if vectors.ndim != 2 or len(vectors) != n or len(polarity) != n:
        raise VizError(
            f"glove_pca needs n words, (n, dim) vectors and n polarities; got {n}, {vectors.shape}, {len(polarity)}"
        )
    if n < 3:
        raise VizError(f"glove_pca needs at least 3 words for two principal components, got {n}")
    centred = vectors - vectors.mean(axis=0)
    _, singular, components = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ components[:2].T  # (n, 2)
    explained = singular**2 / (singular**2).sum()
    fig = Figure(figsize=(6, 5), layout="constrained")
    ax = fig.add_subplot()
    classes = [CLASS_NAMES[int(p)] for p in polarity]
    for name, colour in CLASS_COLOURS.items():
        pick = np.array([c == name for c in classes])
        if pick.any():
            ax.scatter(xy[pick, 0], xy[pick, 1], color=colour, label=name)
    for word, (x, y) in zip(words, xy):
        ax.annotate(word, (x, y), textcoords="offset points", xytext=(4, 3), fontsize=8)
    ax.set_xlabel(f"PC1 ({100 * explained[0]:.0f}% of variance)")
    ax.set_ylabel(f"PC2 ({100 * explained[1]:.0f}% of variance)")
    ax.set_title(f"GloVe {vectors.shape[1]}-d vectors of {n} adjectives")
    ax.legend(title="polarity")
    return fig


# ------------------------------------------------------------------------------ training, results


def training_curves(
    history: Sequence[Mapping[str, float]], best_epoch: int | None = None, stopped: str | None = None
) -> Figure:
    """Loss (train and val) and val accuracy per epoch, from a result's ``training.history``.

    ``best_epoch`` (the state kept, lowest val loss) is marked on both panels; when ``stopped`` is
    ``"early-stopping"`` the last epoch is marked as the stop.
    """
    needed = ("epoch", "train_loss", "val_loss", "val_accuracy")
    if not history:
        raise VizError("training_curves needs a non-empty history (result['training']['history'])")
    for i, entry in enumerate(history):
        absent = [k for k in needed if k not in entry]
        if absent:
            raise VizError(f"history[{i}] lacks {absent}; entries are written by visent.training.train.fit")
    frame = pd.DataFrame(list(history))
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    ax_loss.plot(frame["epoch"], frame["train_loss"], marker="o", label="train loss")
    ax_loss.plot(frame["epoch"], frame["val_loss"], marker="o", label="val loss")
    ax_loss.set_ylabel("cross-entropy")
    ax_acc.plot(frame["epoch"], frame["val_accuracy"], marker="o", color="C2", label="val accuracy")
    ax_acc.set_ylabel("accuracy")
    ax_acc.set_ylim(0, 1.02)
    for ax in (ax_loss, ax_acc):
        if best_epoch is not None:
            ax.axvline(best_epoch, color="k", linestyle="--", linewidth=1, label=f"best (epoch {best_epoch})")
        if stopped == "early-stopping":
            ax.axvline(int(frame["epoch"].iloc[-1]), color="C3", linestyle=":", linewidth=1.5, label="early stop")
        ax.set_xlabel("epoch")
        ax.legend(fontsize=8)
    fig.suptitle(f"{len(frame)} epochs" + (f", stopped by {stopped}" if stopped else ""))
    return fig


def results_bars(
    frame: pd.DataFrame,
    metric: str = "test_accuracy",
    paper: Mapping[str, float] | None = None,
    order: Sequence[str] | None = None,
) -> Figure:
    """Mean ``metric`` in percent per variant (bars, one hue per dataset and split; error bars are
    the standard deviation over seeds) beside the paper's numbers (black diamonds).

    Args:
        frame: one row per run with ``variant``, ``dataset``, ``split`` and ``metric`` (a fraction),
            e.g. ``visent.reporting.results.results_frame``.
        paper: variant -> the paper's value in percent (Table 1: gap 70, attention-truth 99).
        order: variants in display order (default: as they first appear).
    """
    fig = Figure(figsize=(9, 4.2), layout="constrained")
    ax = fig.add_subplot()
    if frame.empty:
        ax.text(0.5, 0.5, "no result files yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    missing = {"variant", "dataset", "split", metric} - set(frame)
    if missing:
        raise VizError(
            f"results_bars needs columns {sorted(missing)} in the frame (visent.reporting.results.results_frame)"
        )
    data = frame.assign(
        percent=100 * frame[metric].astype(float),
        run=frame["dataset"].astype(str) + " / " + frame["split"].astype(str),
    )
    order = list(order) if order is not None else list(dict.fromkeys(data["variant"]))
    order += [v for v in (paper or {}) if v not in order]
    sns.barplot(data=data, x="variant", y="percent", hue="run", order=order, errorbar="sd", ax=ax)
    if paper:
        xs = [order.index(v) for v in paper]
        ax.scatter(xs, list(paper.values()), marker="D", color="black", zorder=5, label="paper (Table 1)")
    ax.set_ylim(0, 105)
    ax.set_ylabel(f"{metric.replace('_', ' ')} (%)")
    ax.set_xlabel("")
    ax.tick_params(axis="x", labelrotation=20)
    # Above the axes, not inside them: a legend inside covers the bars of some variant.
    handles, labels = ax.get_legend_handles_labels()
    inside = ax.get_legend()  # seaborn's, for the hues
    if inside is not None:
        inside.remove()
    fig.legend(handles, labels, loc="outside upper center", ncol=len(labels), fontsize=8, frameon=False)
    return fig
