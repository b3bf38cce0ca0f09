"""Figures of boxes, thresholds and localization results (lessons 06–10).

Every function draws one figure and returns it, so a widget callback is one call followed
by ``plt.show()``. Images may be uint8 or float, (3, H, W), (H, W, 3) or (H, W); class
activation maps are (h, w) arrays or tensors at any resolution and are upsampled
bilinearly to the image (the weighting commutes with upsampling, thresholding does not,
so boxes are always taken from the upsampled map).

Boxes follow the project's convention: (x0, y0, x1, y1), half-open, the object covers
columns x0 <= x < x1 and rows y0 <= y < y1. On screen a box is drawn around those pixels,
from x0 - 0.5 to x1 - 0.5 (pixel centres sit at integer coordinates in ``imshow``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from camcourse.viz._common import display_image, draw_box, reuse, to_numpy
from camcourse.viz.maps import signed_norm
from camlib import reference, validation

__all__ = [
    "plot_accuracy_vs_threshold",
    "plot_box_from_cam",
    "plot_box_gallery",
    "plot_cam_gallery",
    "plot_maps_side_by_side",
    "plot_metric_bars",
    "plot_training_curves",
    "show_samples",
]

GT_COLOR = "#2ca02c"  # ground truth: green
PRED_COLOR = "#d62728"  # predicted box: red


# --- small helpers ---------------------------------------------------------------------------


def _image_size(image: np.ndarray) -> tuple[int, int]:
    return image.shape[0], image.shape[1]


def _map_at(cam, size: tuple[int, int]) -> np.ndarray:
    """The map as a float (H, W) array at ``size``, upsampled bilinearly if needed."""
    cam = to_numpy(cam).astype(np.float64)
    if cam.ndim != 2:
        raise ValueError(f"cam must be a 2-D map (h, w), got shape {cam.shape}")
    if cam.shape != tuple(size):
        cam = reference.upsample(cam, size)
    return cam


def _clean(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


BAR_LABELS_INCHES = 0.8  # room right of the last panel for its colour bar's tick labels


def _fixed_layout(fig: Figure, title: str | None, bar_at_right: bool = False) -> None:
    """Fixed margins instead of ``tight_layout``, which costs a third of a widget redraw.
    With ``bar_at_right`` the last panel's colour bar keeps its labels inside the
    figure: a print whose tight box stays inside is drawn in layers
    (`camcourse.viz._render`), several times faster than one that must grow the canvas."""
    right = 0.97
    if bar_at_right:
        right = min(right, 1 - BAR_LABELS_INCHES / fig.get_figwidth())
    fig.subplots_adjust(left=0.01, right=right, bottom=0.02, top=0.80 if title else 0.86,
                        wspace=0.3)


# --- lesson 06 -------------------------------------------------------------------------------


# Curves differ by line style and bars by hatch, as well as by colour.
# (":" is kept for the threshold marker line.)
LINE_STYLES = ("-", "--", "-.", (0, (6, 2, 1, 2, 1, 2)))
HATCHES = ("", "//", "..", "xx")


def plot_training_curves(losses: Sequence[float], accuracies: Sequence[float] | None = None, *,
                         reference_accuracy: float | None = None,
                         title: str = "Training the GAP network") -> Figure:
    """Training loss per step, and optionally training accuracy, side by side.

    Parameters
    ----------
    losses : sequence of float
        Cross-entropy of each optimisation step.
    accuracies : sequence of float in [0, 1], optional
        Accuracy of each step's batch (or of each evaluation), same length or shorter.
    reference_accuracy : float, optional
        A horizontal line, e.g. the shipped checkpoint's test accuracy.

    Returns
    -------
    matplotlib Figure
    """
    losses = np.asarray(losses, dtype=np.float64)
    if losses.ndim != 1 or losses.size == 0:
        raise ValueError(f"losses must be a non-empty 1-D sequence, got shape {losses.shape}")
    panels = 1 if accuracies is None else 2
    fig, axes = plt.subplots(1, panels, figsize=(5.0 * panels, 3.4), squeeze=False)
    ax = axes[0, 0]
    steps = np.arange(1, losses.size + 1)
    ax.plot(steps, losses, color="0.7", linewidth=1, label="each step")
    if losses.size >= 10:
        window = max(losses.size // 20, 5)
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        ax.plot(steps[window - 1:], smooth, color="C0", linewidth=2,
                label=f"mean of {window} steps")
    ax.set_xlabel("optimisation step")
    ax.set_ylabel("cross-entropy loss")
    ax.set_title("loss")
    ax.legend(loc="upper right")
    if accuracies is not None:
        acc = np.asarray(accuracies, dtype=np.float64)
        ax = axes[0, 1]
        ax.plot(np.linspace(1, losses.size, acc.size), 100 * acc, color="C1", linewidth=1.5,
                label="training")
        if reference_accuracy is not None:
            ax.axhline(100 * reference_accuracy, color="k", linestyle="--",
                       label="shipped checkpoint (test)")
        ax.set_ylim(0, 100)
        ax.set_xlabel("optimisation step")
        ax.set_ylabel("accuracy (%)")
        ax.set_title("accuracy")
        ax.legend(loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_metric_bars(metrics: Mapping[str, Mapping[str, float]], *, ylabel: str = "%",
                     title: str = "", percent: bool = True,
                     reference: Mapping[str, Mapping[str, float]] | None = None) -> Figure:
    """Grouped bars: one group per metric, one bar per model.

    Parameters
    ----------
    metrics : {model name: {metric name: value}}
        Values in [0, 1] when ``percent`` (drawn as percentages).
    reference : {model name: {metric name: value}}, optional
        Drawn as hollow bars beside the measured ones (for example the paper's numbers).

    Example
    -------
    >>> fig = plot_metric_bars({"16×16": {"accuracy": 0.95, "Top-1 Loc": 0.78},
    ...                         "8×8": {"accuracy": 0.94, "Top-1 Loc": 0.36}})
    >>> plt.close(fig)
    """
    models = list(metrics)
    if not models:
        raise ValueError("metrics must name at least one model")
    names = list(dict.fromkeys(m for values in metrics.values() for m in values))
    scale = 100.0 if percent else 1.0
    fig, ax = plt.subplots(figsize=(1.8 + 1.4 * len(names) * max(len(models), 1) / 2, 3.6))
    width = 0.8 / len(models)
    x = np.arange(len(names))
    for i, model in enumerate(models):
        values = [scale * metrics[model].get(n, np.nan) for n in names]
        # A hatch per model as well as a colour: the bars are told apart without colour.
        bars = ax.bar(x + (i - (len(models) - 1) / 2) * width, values, width, label=model,
                      color=f"C{i}", hatch=HATCHES[i % len(HATCHES)], edgecolor="white")
        for bar, value in zip(bars, values, strict=True):
            if np.isfinite(value):
                ax.annotate(f"{value:.1f}" if percent else f"{value:.3g}",
                            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                            ha="center", va="bottom", fontsize=8)
        if reference and model in reference:
            ref = [scale * reference[model].get(n, np.nan) for n in names]
            ax.bar(x + (i - (len(models) - 1) / 2) * width, ref, width, fill=False,
                   edgecolor=f"C{i}", linestyle="--")
    ax.set_xticks(x)
    ax.set_xticklabels(names)
    ax.set_ylabel(ylabel)
    if percent:
        ax.set_ylim(0, 105)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


# --- lesson 07 -------------------------------------------------------------------------------


def plot_box_from_cam(image, cam, gt_box=None, threshold: float = 0.2, *,
                      connectivity: int = 8, title: str | None = None) -> Figure:
    """The paper's box, step by step: CAM, mask {M ≥ t·max M} with its largest component,
    and the image with the predicted box (red), the ground truth (green) and their IoU.

    Parameters
    ----------
    image : (3, H, W), (H, W, 3) or (H, W) array or tensor
    cam : (h, w) map; upsampled to (H, W) before thresholding
    gt_box : (x0, y0, x1, y1) half-open, optional
    threshold : fraction of the map's max in (0, 1]

    Returns
    -------
    matplotlib Figure; ``fig.box`` holds the predicted box and ``fig.iou`` the IoU (or None).
    """
    from scipy import ndimage

    threshold = validation.fraction(threshold.item() if isinstance(threshold, np.generic)
                                    else threshold, "threshold")
    if isinstance(connectivity, (bool, np.bool_)) or connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity!r}")
    picture = display_image(image)
    size = _image_size(picture)
    cam_up = _map_at(cam, size)
    if not np.all(np.isfinite(cam_up)):
        raise ValueError("cam must be finite, got NaN or inf")
    # reference.bounding_box, step by step: the mask, its components (the labels and
    # numbering of reference.connected_components, from SciPy: a redraw cannot wait for
    # the reference's breadth-first search), the largest one (the first of equal sizes),
    # and its box.
    peak = cam_up.max()
    mask = cam_up >= (threshold * peak if peak > 0 else peak)
    labels, count = ndimage.label(mask, np.ones((3, 3)) if connectivity == 8 else None)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    largest = int(np.argmax(sizes)) + 1
    box = tuple(int(v) for v in reference.component_boxes(np.where(labels == largest, 1, 0),
                                                          1)[0])

    aspect = size[0] / size[1]  # wide images (lesson 10) get shorter figures
    gt = None
    if gt_box is not None:
        gt = to_numpy(gt_box).ravel()
        if gt.size != 4:
            raise ValueError(f"gt_box must be 4 numbers (x0, y0, x1, y1), got {gt.size}")
    state = reuse(("plot_box_from_cam", picture.shape, gt is None, bool(title)),
                  lambda: plt.subplots(1, 3, figsize=(10.5, 2.9 * aspect + 0.9))[0])
    fig = state.fig
    axes = fig.axes[:3]
    shown = state.imshow(axes[0], "cam", cam_up, cmap="RdBu_r", norm=signed_norm(cam_up))
    if "contour" in state.artists:
        state.artists["contour"].remove()
    state.artists["contour"] = axes[0].contour(
        cam_up, levels=[threshold * peak if peak > 0 else peak], colors="k", linewidths=1)
    axes[0].set_title(f"CAM (contour at {threshold:.0%} of max)")
    state.colorbar("bar", shown, ax=axes[0], fraction=0.046 * aspect, pad=0.04,
                   label="M_c(x, y)")

    regions = np.where(mask, 1, 0) + np.where(labels == largest, 1, 0)
    state.imshow(axes[1], "regions", regions, cmap="Greys", vmin=0, vmax=2)
    axes[1].set_title(f"mask: {count} component{'s' if count != 1 else ''}, largest black")
    state.box(axes[1], "mask box", box, PRED_COLOR)

    state.imshow(axes[2], "image", picture, cmap="gray" if picture.ndim == 2 else None)
    state.box(axes[2], "box", box, PRED_COLOR, label="CAM box")
    overlap = None
    if gt is not None:
        state.box(axes[2], "gt", gt, GT_COLOR, label="ground truth", linestyle="--")
        overlap = reference.iou(box, gt)
        verdict = "correct" if overlap >= 0.5 else "wrong"
        axes[2].set_title(f"IoU = {overlap:.2f} ({verdict} at IoU ≥ 0.5)")
    else:
        axes[2].set_title("CAM box")
    if state.fresh:
        axes[2].legend(loc="lower right", fontsize=7, framealpha=0.7)
        for ax in axes:
            _clean(ax)
        _fixed_layout(fig, title)
    if title:
        fig.suptitle(title)
    fig.box = box  # type: ignore[attr-defined]
    fig.iou = overlap  # type: ignore[attr-defined]
    return fig


def _gallery_panels(axes, images):
    """Yield (i, axis, picture) for each image drawn on a grid of axes; hide spare axes."""
    for i, ax in enumerate(axes.ravel()):
        _clean(ax)
        if i >= len(images):
            ax.axis("off")
            continue
        picture = display_image(images[i])
        ax.imshow(picture, cmap="gray" if picture.ndim == 2 else None)
        yield i, ax, picture


def plot_box_gallery(images, pred_boxes, gt_boxes, *, titles: Sequence[str] | None = None,
                     columns: int = 6) -> Figure:
    """A grid of images with their predicted (red) and ground-truth (green) boxes and IoU.

    Parameters
    ----------
    images : sequence of images (N items, any layout accepted by :func:`display_image`)
    pred_boxes, gt_boxes : (N, 4) boxes, half-open
    titles : N strings, optional (default: the IoU)
    """
    images = list(images)
    pred = to_numpy(pred_boxes).reshape(-1, 4)
    gt = to_numpy(gt_boxes).reshape(-1, 4)
    if not len(images) == len(pred) == len(gt):
        raise ValueError(f"images, pred_boxes and gt_boxes must have the same length, got "
                         f"{len(images)}, {len(pred)} and {len(gt)}")
    rows = max(1, int(np.ceil(len(images) / columns)))
    fig, axes = plt.subplots(rows, columns, figsize=(1.9 * columns, 2.1 * rows), squeeze=False)
    for i, ax, _ in _gallery_panels(axes, images):
        draw_box(ax, gt[i], GT_COLOR, linestyle="--")
        draw_box(ax, pred[i], PRED_COLOR)
        overlap = reference.iou(pred[i], gt[i])
        text = titles[i] if titles is not None else f"IoU {overlap:.2f}"
        ax.set_title(text, fontsize=8, color="k" if overlap >= 0.5 else PRED_COLOR)
    fig.tight_layout()
    return fig


def plot_accuracy_vs_threshold(thresholds, curves: Mapping[str, Sequence[float]], *,
                               marker: float | None = 0.2, marker_label: str | None = None,
                               xlabel: str = "threshold τ",
                               ylabel: str = "localization accuracy (%)",
                               title: str = "Accuracy versus CAM threshold") -> Figure:
    """Localization accuracy as a function of the CAM threshold, one line per method.

    Each curve's best threshold (the one MaxBoxAcc picks for the whole dataset) is marked
    by a dot, and one threshold of interest (default 0.2) by a dotted line.

    Parameters
    ----------
    thresholds : (T,) thresholds τ
    curves : {name: (T,) accuracies in [0, 1]}
    marker : threshold drawn as a dotted vertical line, or None
    marker_label : its legend entry (default "τ = 0.2")
    """
    thresholds = np.asarray(to_numpy(thresholds), dtype=np.float64)
    fig, ax = plt.subplots(figsize=(6.0, 3.8))
    for i, (name, values) in enumerate(curves.items()):
        values = 100 * np.asarray(to_numpy(values), dtype=np.float64)
        if values.shape != thresholds.shape:
            raise ValueError(f"curve {name!r} has shape {values.shape}, expected "
                             f"{thresholds.shape} (one value per threshold)")
        # A line style per curve as well as a colour: readable without colour.
        style = LINE_STYLES[i % len(LINE_STYLES)]
        ax.plot(thresholds, values, color=f"C{i}", linestyle=style, label=name)
        if values.max() == values.min():
            continue  # a flat line (a fixed box) has no best threshold to mark
        best = int(np.argmax(values))
        ax.plot(thresholds[best], values[best], "o", color=f"C{i}")
        ax.annotate(f"{values[best]:.1f}% at {thresholds[best]:.2f}",
                    (thresholds[best], values[best]), textcoords="offset points",
                    xytext=(4, 4), fontsize=8, color=f"C{i}")
    if marker is not None:
        ax.axvline(marker, color="k", linestyle=":",
                   label=marker_label if marker_label is not None else f"τ = {marker:g}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 100)
    ax.set_xlim(float(thresholds.min()), float(thresholds.max()))
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig


# --- lessons 08–10 -----------------------------------------------------------------------------


def plot_maps_side_by_side(image, maps: Mapping[str, object], *, gt_box=None,
                           signed: Sequence[str] = (), title: str | None = None) -> Figure:
    """The image and several maps of it (CAM, Grad-CAM, saliency, ...) in one row.

    Maps named in ``signed`` are drawn on a diverging colour map centred at 0 with a
    colour bar; the others on "inferno" over the image (min–max normalized for display).

    Parameters
    ----------
    image : image in any layout accepted by :func:`display_image`
    maps : {panel title: (h, w) map}; each upsampled to the image
    gt_box : optional half-open box drawn on every panel
    signed : titles of maps whose sign matters
    """
    picture = display_image(image)
    size = _image_size(picture)
    panels = 1 + len(maps)
    aspect = size[0] / size[1]
    key = ("plot_maps_side_by_side", picture.shape, tuple(maps), tuple(n in signed for n in maps),
           gt_box is None, bool(title))
    state = reuse(key, lambda: plt.subplots(1, panels, figsize=(2.9 * panels, 2.5 * aspect + 0.6),
                                            squeeze=False)[0])
    fig = state.fig
    axes = fig.axes[:panels]
    grey = "gray" if picture.ndim == 2 else None
    state.imshow(axes[0], "image", picture, cmap=grey)
    axes[0].set_title("image")
    for i, (ax, (name, cam)) in enumerate(zip(axes[1:], maps.items(), strict=True)):
        up = _map_at(cam, size)
        if name in signed:
            shown = state.imshow(ax, f"map {i}", up, cmap="RdBu_r", norm=signed_norm(up))
            state.colorbar(f"bar {i}", shown, ax=ax, fraction=0.046 * aspect, pad=0.04)
        else:
            state.imshow(ax, f"under {i}", picture, cmap=grey)
            state.imshow(ax, f"map {i}", reference.normalize(up), cmap="inferno", alpha=0.5,
                         vmin=0, vmax=1)
        ax.set_title(name, fontsize=9)
    for i, ax in enumerate(axes):
        if gt_box is not None:
            state.box(ax, f"gt {i}", gt_box, GT_COLOR, linestyle="--")
    if state.fresh:
        for ax in axes:
            _clean(ax)
        _fixed_layout(fig, title, bar_at_right=bool(maps) and list(maps)[-1] in signed)
    if title:
        fig.suptitle(title)
    return fig


def plot_cam_gallery(images, maps, *, titles: Sequence[str] | None = None, boxes=None,
                     columns: int = 6, alpha: float = 0.45, map_boxes=None) -> Figure:
    """A grid of images with their CAMs laid over them (min–max normalized, "inferno").

    Parameters
    ----------
    images : N images in any layout accepted by :func:`display_image`
    maps : (N, h, w) maps; each upsampled to its image
    titles : N strings, optional
    boxes : (N, 4) half-open ground-truth boxes, optional (dashed green)
    map_boxes : (N, 4) half-open boxes found from the maps, optional (solid)
    """
    images = list(images)
    maps = to_numpy(maps)
    if maps.ndim != 3 or len(maps) != len(images):
        raise ValueError(f"maps must be (N, h, w) with N = {len(images)} images, got shape "
                         f"{maps.shape}")
    rows = max(1, int(np.ceil(len(images) / columns)))
    height, width = _image_size(display_image(images[0])) if images else (1, 1)
    side = 2.0 if width <= height else 3.0  # wide images get wider panels
    fig, axes = plt.subplots(rows, columns, squeeze=False,
                             figsize=(side * columns, (side * height / width + 0.35) * rows))
    for i, ax, picture in _gallery_panels(axes, images):
        ax.imshow(reference.normalize(_map_at(maps[i], _image_size(picture))), cmap="inferno",
                  alpha=alpha, vmin=0, vmax=1)
        if boxes is not None:
            draw_box(ax, to_numpy(boxes)[i], GT_COLOR, linestyle="--")
        if map_boxes is not None:
            draw_box(ax, to_numpy(map_boxes)[i], PRED_COLOR)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return fig


def show_samples(data, count: int = 8, boxes=None, columns: int = 8,
                 ax_size: float = 1.6, title: str | None = None):
    """A grid of samples of a set with ``images``, ``labels`` and ``boxes`` (the cluttered
    digits, `camcourse.data.ClutteredDigits`), with their ground-truth boxes (solid green)
    and optional predicted boxes (``boxes`` (count, 4), dashed red): told apart by line
    style, not colour alone.
    Returns the matplotlib Figure.

    >>> from camcourse.data import make_cluttered_digits
    >>> fig = show_samples(make_cluttered_digits(4, "test"), count=4)
    >>> len(fig.axes[0].patches)
    1
    """
    count = min(count, len(data))
    if boxes is not None:
        boxes = to_numpy(boxes)
        if boxes.ndim != 2 or boxes.shape[1] != 4 or len(boxes) < count:
            raise ValueError(f"boxes must be ({count}, 4), one box per sample shown, got "
                             f"shape {boxes.shape}")
    rows = math.ceil(count / columns)
    cols = min(columns, count)
    fig, axes = plt.subplots(rows, cols, figsize=(ax_size * cols, ax_size * rows + 0.3),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= count:
            continue
        ax.imshow(display_image(data.images[i]))
        draw_box(ax, data.boxes[i], color="lime", linewidth=1.5)
        if boxes is not None:
            draw_box(ax, boxes[i], color="red", linewidth=1.5, linestyle="--")
        ax.set_title(str(int(data.labels[i])), fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
