"""Figures of images, feature maps and class activation maps (lessons 00–05).

Every function draws one complete figure and returns it, so a widget callback is just
``plot_something(...); plt.show()`` and a test can inspect the figure without a screen.
Conventions shared by all of them:

- arrays may be NumPy arrays or Torch tensors (on any device); images are (3, H, W)
  uint8 or float in [0, 1], maps are (H, W);
- axes are labelled x (column) and y (row), the paper's f_k(x, y) indexing
  ``map[y, x]``;
- a signed map (M_c, a contribution w_k^c f_k) uses a diverging colour map centred at 0
  (red positive, blue negative, white zero) with a colour bar, so the sign is visible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import Normalize, TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from camcourse.viz._common import as_display_image, draw_box, reuse, to_numpy
from camlib import reference

__all__ = [
    "DIVERGING_CMAP",
    "SEQUENTIAL_CMAP",
    "as_display_image",
    "signed_norm",
    "draw_box",
    "plot_images",
    "plot_feature_maps",
    "plot_channel",
    "plot_maps",
    "plot_bars",
    "plot_scores",
    "plot_worked_example",
    "plot_class_map",
    "plot_contribution_split",
    "plot_cam_overlay",
    "heat_mask_box",
    "plot_heat_mask_box",
    "plot_top_k",
]

DIVERGING_CMAP = "RdBu_r"
"""Colour map for signed values: red > 0, white = 0, blue < 0."""
SEQUENTIAL_CMAP = "viridis"
"""Colour map for non-negative values (activations after a ReLU)."""
OVERLAY_CMAP = "inferno"
"""Colour map of a CAM laid over an image. The paper's figures use jet, which misleads
(its bright bands invent edges) and cannot be read with red-green colour blindness;
inferno runs from black through red to yellow, perceptually uniform and readable by
colour-blind readers, and stays readable in greyscale."""


_HATCHES = ("", "////", "....", "xxxx")
"""Bar patterns, one per series: series differ by pattern as well as by colour."""


# --- small helpers --------------------------------------------------------------------------


def _map2d(x, name: str) -> np.ndarray:
    array = to_numpy(x)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D map (H, W), got shape {array.shape}")
    return array.astype(np.float64)


def signed_norm(values, vmax: float | None = None) -> TwoSlopeNorm:
    """A colour norm centred at 0 with symmetric limits ±max|values|.

    Symmetric limits keep equal magnitudes equally saturated in red and in blue, so a
    map's positive and negative parts can be compared by eye.

    >>> norm = signed_norm(np.array([-1.0, 3.0]))
    >>> norm.vmin, norm.vcenter, norm.vmax
    (-3.0, 0.0, 3.0)
    """
    if vmax is None:
        vmax = float(np.max(np.abs(to_numpy(values)))) if np.size(to_numpy(values)) else 1.0
    vmax = vmax if vmax > 0 else 1.0  # an all-zero map still gets a valid norm
    return _SymmetricNorm(vmax)


class _SymmetricNorm(TwoSlopeNorm):
    """``TwoSlopeNorm(vcenter=0, vmin=-vmax, vmax=vmax)``, which is linear: its colour bar
    gets a linear axis. A colour bar gives any other TwoSlopeNorm a function axis, which
    sends every tick and every edge through the norm: the same pixels, slower to draw
    (tests/test_viz.py compares the two)."""

    def __init__(self, vmax: float):
        super().__init__(vcenter=0.0, vmin=-vmax, vmax=vmax)
        self._scale = "linear"  # read by Colorbar; Normalize sets it to None


def _fixed_layout(fig: Figure) -> None:
    """Margins for a row of panels, without ``tight_layout``.

    ``tight_layout`` draws every label once more to measure it; the widget figures have a
    fixed shape, so fixed margins save that pass on every redraw
    (``python -m camcourse.benchmarks.widgets`` times the redraws).
    """
    fig.subplots_adjust(left=0.06, right=0.97, bottom=0.15, top=0.84, wspace=0.4)


def _label_axes(ax, xlabel: str = "x (column)", ylabel: str = "y (row)") -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # pixels and cells are integers
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def _bare(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def _number(value: float) -> str:
    """A short number for titles: no "-0", at most 4 significant digits."""
    return f"{float(value) + 0.0:.4g}"


def _annotate_cells(ax, values: np.ndarray, norm: Normalize, fmt: str = "{:.2g}",
                    fontsize: float = 9) -> None:
    """Write each cell's value on the map, in black or white for contrast."""
    for (y, x), value in np.ndenumerate(values):
        if isinstance(norm, TwoSlopeNorm):
            strong = abs(norm(value) - 0.5) > 0.3  # deep red or deep blue
        else:
            strong = norm(value) < 0.4  # the dark end of viridis
        ax.text(x, y, fmt.format(float(value) + 0.0), ha="center", va="center",
                fontsize=fontsize, color="white" if strong else "black")


# --- images -------------------------------------------------------------------------------


def plot_images(images, titles: Sequence[str] | None = None, boxes=None, ncols: int = 8,
                size: float = 1.6) -> Figure:
    """A grid of images, optionally with their boxes (half-open (x0, y0, x1, y1)).

    Parameters
    ----------
    images : (N, 3, H, W) array or tensor (uint8 or float in [0, 1])
    titles : N strings, optional
    boxes : (N, 4) boxes, optional, drawn in green
    ncols : images per row
    size : inches per image

    Returns
    -------
    matplotlib Figure with one axis per image.
    """
    images = to_numpy(images)
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
            continue
        ax.imshow(as_display_image(images[i]))
        if boxes is not None:
            draw_box(ax, to_numpy(boxes)[i])
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
        _bare(ax)
    fig.tight_layout()
    return fig


# --- feature maps (lesson 01) -------------------------------------------------------------


def plot_feature_maps(features, channels: Sequence[int] | None = None, ncols: int = 8,
                      title: str | None = None, size: float = 1.3) -> Figure:
    """The channels f_k(x, y) of one image's last conv layer, one small map each.

    All maps share one colour scale (0 to the largest activation shown), so a bright
    channel really is more active than a dark one.

    Parameters
    ----------
    features : (K, H, W) array or tensor, one image's f_k
    channels : which k to show (default: all)
    ncols : maps per row
    title : figure title

    Returns
    -------
    matplotlib Figure: one axis per channel plus a shared colour bar.
    """
    features = to_numpy(features)
    if features.ndim != 3:
        raise ValueError(f"features must be (K, H, W) for one image, got shape {features.shape}")
    channels = list(range(len(features))) if channels is None else [int(k) for k in channels]
    shown = features[channels].astype(np.float64)
    norm = Normalize(vmin=min(0.0, float(shown.min())), vmax=max(float(shown.max()), 1e-12))
    ncols = max(1, min(ncols, len(channels)))
    nrows = -(-len(channels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols + 0.8, size * nrows + 0.5),
                             squeeze=False)
    image = None
    for i, ax in enumerate(axes.flat):
        if i >= len(channels):
            ax.axis("off")
            continue
        image = ax.imshow(shown[i], cmap=SEQUENTIAL_CMAP, norm=norm)
        ax.set_title(f"k = {channels[i]}", fontsize=8)
        _bare(ax)
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label="f_k(x, y)")
    if title:
        fig.suptitle(title)
    return fig


def plot_channel(image, feature_map, channel: int | None = None, box=None) -> Figure:
    """One image, one channel f_k (H×W) and that channel upsampled over the image.

    Parameters
    ----------
    image : (3, H, W) image
    feature_map : (H, W) map f_k of the same image
    channel : k, for the titles
    box : the object's ground-truth box (x0, y0, x1, y1), drawn on the image panels

    Returns
    -------
    matplotlib Figure with three axes (image, f_k, overlay) and a colour bar.
    """
    picture = as_display_image(image)
    fmap = _map2d(feature_map, "feature_map")
    name = "f_k" if channel is None else f"f_{channel}"
    state = reuse(("plot_channel", picture.shape, fmap.shape, box is None),
                  lambda: plt.subplots(1, 3, figsize=(10, 3.4))[0])
    fig = state.fig
    ax_img, ax_map, ax_over = fig.axes[:3]
    state.imshow(ax_img, "image", picture)
    ax_img.set_title("input image")
    mapped = state.imshow(ax_map, "map", fmap, cmap=SEQUENTIAL_CMAP, vmin=min(0.0, fmap.min()),
                          vmax=max(fmap.max(), 1e-12))
    ax_map.set_title(f"{name}(x, y), {fmap.shape[0]}×{fmap.shape[1]}")
    state.colorbar("bar", mapped, ax=ax_map, label=f"{name}(x, y)")
    big = reference.upsample(fmap, picture.shape[:2])
    state.imshow(ax_over, "under", picture)
    state.imshow(ax_over, "over", big, cmap=SEQUENTIAL_CMAP, alpha=0.6)
    ax_over.set_title(f"{name} upsampled over the image")
    for ax in (ax_img, ax_over):
        if box is not None:
            state.box(ax, f"box {id(ax)}", box)
    if state.fresh:
        for ax in (ax_img, ax_map, ax_over):
            _label_axes(ax)
        _fixed_layout(fig)
    return fig


# --- signed maps and bars (lessons 02–05) -------------------------------------------------


def plot_maps(maps, titles: Sequence[str] | None = None, signed: bool = True,
              annotate: bool = False, shared: bool = True, suptitle: str | None = None,
              fmt: str = "{:.2g}", size: float = 3.0) -> Figure:
    """A row of 2-D maps; signed ones on a diverging scale centred at 0.

    Parameters
    ----------
    maps : sequence of (H, W) maps (arrays or tensors; sizes may differ)
    titles : one title per map
    signed : diverging colours centred at 0 (True) or a sequential scale (False)
    annotate : write every value in its cell (for small maps, e.g. 3×3)
    shared : one colour scale for all maps (True) or one per map
    suptitle : figure title
    fmt : format of annotated values

    Returns
    -------
    matplotlib Figure with one axis (and one colour bar) per map.
    """
    arrays = [_map2d(m, f"maps[{i}]") for i, m in enumerate(maps)]
    if not arrays:
        raise ValueError("maps must hold at least one map")
    peak = max(float(np.abs(a).max()) for a in arrays)
    low = min(float(a.min()) for a in arrays)
    fig, axes = plt.subplots(1, len(arrays), figsize=(size * len(arrays) + 0.5, size),
                             squeeze=False)
    for i, (ax, values) in enumerate(zip(axes[0], arrays, strict=True)):
        if signed:
            norm = signed_norm(values, peak if shared else None)
            cmap = DIVERGING_CMAP
        else:
            lo = low if shared else float(values.min())
            hi = peak if shared else float(values.max())
            norm = Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1.0)
            cmap = SEQUENTIAL_CMAP
        image = ax.imshow(values, cmap=cmap, norm=norm)
        fig.colorbar(image, ax=ax, shrink=0.85)
        if annotate:
            _annotate_cells(ax, values, norm, fmt)
            ax.set_xticks(range(values.shape[1]))
            ax.set_yticks(range(values.shape[0]))
        if titles is not None:
            ax.set_title(titles[i], fontsize=10)
        _label_axes(ax)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_bars(values: Mapping[str, Sequence[float]], xlabel: str = "channel k",
              ylabel: str = "value", title: str | None = None,
              ticks: Sequence[str] | None = None) -> Figure:
    """Grouped bars: one series per entry of ``values`` (e.g. GAP and GMP features F_k).

    Parameters
    ----------
    values : mapping name -> 1-D values of equal length
    xlabel, ylabel, title : labels
    ticks : names of the positions (default 0, 1, ...)

    Returns
    -------
    matplotlib Figure with one axis and a legend beside it (it never hides a bar). Each
    series has its own hatching as well as its own colour, so the legend can be read
    without colour vision.
    """
    series = {name: to_numpy(v).astype(np.float64).ravel() for name, v in values.items()}
    if not series:
        raise ValueError("values must hold at least one series")
    length = len(next(iter(series.values())))
    if any(len(v) != length for v in series.values()):
        raise ValueError("every series in values must have the same length")
    fig, ax = plt.subplots(figsize=(max(5.0, 0.25 * length * len(series) + 2), 3.2))
    width = 0.8 / len(series)
    positions = np.arange(length)
    for i, (name, v) in enumerate(series.items()):
        ax.bar(positions + (i - (len(series) - 1) / 2) * width, v, width, label=name,
               hatch=_HATCHES[i % len(_HATCHES)], edgecolor="black", linewidth=0.5)
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_xticks(positions)
    ax.set_xticklabels(list(ticks) if ticks is not None else [str(i) for i in positions],
                       fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    # Beside the axes, never over the bars.
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False)
    fig.tight_layout()
    return fig


def plot_scores(scores, probabilities, class_names: Sequence[str] | None = None,
                title: str | None = None) -> Figure:
    """Class scores S_c (signed bars) beside the probabilities P_c = softmax(S)_c.

    Parameters
    ----------
    scores : (C,) logits of one image
    probabilities : (C,) their softmax
    class_names : C names (default "0".."C-1")
    title : figure title

    Returns
    -------
    matplotlib Figure with two axes; the top class is drawn in orange and hatched in
    both (the others plain blue), so it stands out without colour vision too.
    """
    s = to_numpy(scores).astype(np.float64).ravel()
    p = to_numpy(probabilities).astype(np.float64).ravel()
    if s.shape != p.shape:
        raise ValueError(f"scores and probabilities must have the same length, got "
                         f"{s.shape} and {p.shape}")
    names = list(class_names) if class_names is not None else [str(c) for c in range(len(s))]
    top = int(np.argmax(s))
    colours = ["tab:orange" if c == top else "tab:blue" for c in range(len(s))]
    hatches = ["////" if c == top else "" for c in range(len(s))]
    state = reuse(("plot_scores", tuple(names)), lambda: plt.subplots(1, 2, figsize=(10, 3.2))[0])
    fig = state.fig
    ax_s, ax_p = fig.axes[:2]
    if state.fresh:
        state.artists["scores"] = ax_s.bar(names, s, color=colours, hatch=hatches,
                                           edgecolor="black", linewidth=0.5)
        ax_s.axhline(0.0, color="black", linewidth=0.8)
        ax_s.set_xlabel("class c")
        ax_s.set_ylabel("score (logit) S_c")
        ax_s.set_title("class scores S_c")
        state.artists["probabilities"] = ax_p.bar(names, p, color=colours, hatch=hatches,
                                                  edgecolor="black", linewidth=0.5)
        ax_p.set_ylim(0.0, 1.0)
        ax_p.set_xlabel("class c")
        ax_p.set_ylabel("probability P_c")
        ax_p.set_title("P_c = softmax(S)_c")
        _fixed_layout(fig)
        state.redraw_in_full(ax_s)  # its y limits follow the scores
    else:
        for key, values in (("scores", s), ("probabilities", p)):
            for bar, value, colour, hatch in zip(state.artists[key], values, colours,
                                                 hatches, strict=True):
                bar.set_height(value)
                bar.set_facecolor(colour)
                bar.set_hatch(hatch)
        ax_s.relim()
        ax_s.autoscale_view()
    if title or fig._suptitle is not None:
        fig.suptitle(title or "")
    return fig


# --- lesson 04: M_c and S_c ----------------------------------------------------------------


def plot_worked_example(features, weight, class_index: int = 0, bias: float = 0.0,
                        reduce: str = "sum") -> Figure:
    """The swap of the sums on a tiny example, every number on screen, narrow enough for a
    phone (two columns).

    Rows: the channels f_k(x, y); the weighted channels w_k^c f_k(x, y); their sum over
    k, the map M_c(x, y), beside the two orders of summation written out. Each title gives
    the panel's sum over (x, y), so the learner sees Σ_k w_k^c Σ_{x,y} f_k = Σ_{x,y} M_c.

    Parameters
    ----------
    features : (K, H, W) one image's f_k (small: every value is written); K = 2 fills
        the two columns
    weight : (C, K) weights w_k^c
    class_index : c
    bias : b_c, added in the text
    reduce : "sum" writes the paper's bias-free S_c^Σ = Σ_k w_k^c Σ_{x,y} f_k (plus the
        bias, if any); "mean" the logit S_c = Σ_k w_k^c F_k + b_c with F_k the mean

    Returns
    -------
    matplotlib Figure with 3 rows of K axes (the last row: M_c and the text).
    """
    f = to_numpy(features).astype(np.float64)
    w = to_numpy(weight).astype(np.float64)
    if f.ndim != 3 or w.ndim != 2 or w.shape[1] != f.shape[0]:
        raise ValueError(f"features must be (K, H, W) and weight (C, K); got {f.shape} and "
                         f"{w.shape}")
    if reduce not in ("sum", "mean"):
        raise ValueError(f'reduce must be "sum" or "mean", got {reduce!r}')
    k_count = f.shape[0]
    columns = max(k_count, 2)
    weighted = w[class_index][:, None, None] * f
    cam = weighted.sum(axis=0)
    peak = max(float(np.abs(f).max()), float(np.abs(weighted).max()), float(np.abs(cam).max()))
    norm = signed_norm(f, peak)
    fig, axes = plt.subplots(3, columns, figsize=(2.5 * columns + 0.4, 7.4), squeeze=False,
                             layout="constrained")
    panels = [(axes[0, k], f[k], f"$f_{{{k + 1}}}$;  $\\Sigma$ = {_number(f[k].sum())}")
              for k in range(k_count)]
    panels += [(axes[1, k], weighted[k],
                f"${_number(w[class_index, k])}\\, f_{{{k + 1}}}$;  "
                f"$\\Sigma$ = {_number(weighted[k].sum())}")
               for k in range(k_count)]
    panels.append((axes[2, 0], cam, f"$M_c$;  $\\Sigma$ = {_number(cam.sum())}"))
    image = None
    for ax, values, title in panels:
        image = ax.imshow(values, cmap=DIVERGING_CMAP, norm=norm)
        _annotate_cells(ax, values, norm, fontsize=13)
        ax.set_title(title, fontsize=11)
        ax.set_xticks(range(values.shape[1]))
        ax.set_yticks(range(values.shape[0]))
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    for row, start in ((0, k_count), (1, k_count), (2, 1)):
        for ax in axes[row, start:]:
            ax.axis("off")
    pooled = f.sum(axis=(1, 2)) if reduce == "sum" else f.mean(axis=(1, 2))
    positions = f.shape[1] * f.shape[2]
    terms = " + ".join(f"({_number(w[class_index, k])})({_number(pooled[k])})"
                       for k in range(k_count))
    score = float(w[class_index] @ pooled) + bias
    bias_text = f" + {_number(bias)}" if bias else ""
    if reduce == "sum":
        lines = [r"$S_c^\Sigma = \sum_k w_k^c \sum_{x,y} f_k$", f"$= {terms}{bias_text}$",
                 f"$= {_number(score)}$", "", r"$\sum_{x,y} M_c(x,y)$" + bias_text,
                 f"$= {_number(cam.sum() + bias)}$"]
    else:
        lines = [r"$S_c = \sum_k w_k^c F_k + b_c$", f"$= {terms}{bias_text}$",
                 f"$= {_number(score)}$", "", r"$\frac{1}{Z}\sum_{x,y} M_c + b_c$",
                 f"$= {_number(cam.sum())}/{positions}{bias_text}$",
                 f"$= {_number(cam.sum() / positions + bias)}$"]
    axes[2, 1].text(0.0, 0.5, "\n".join(lines), fontsize=11, va="center",
                    transform=axes[2, 1].transAxes)
    fig.colorbar(image, ax=axes[:2, -1].tolist(), shrink=0.8, label="value")
    return fig


def _formula_title(state, parts: list[str]) -> None:
    """A figure title written in pieces, formulas and numbers in turn, one space apart,
    centred where ``fig.suptitle`` puts a title; ``fig.title_text`` holds it in one string.

    Laying out a formula (``$\\frac{1}{Z}...$``) takes milliseconds, and matplotlib keeps
    a laid-out formula only for the same whole string: as pieces, the formulas stay the
    same from redraw to redraw and only the plain numbers are laid out again.
    """
    from matplotlib import font_manager
    from matplotlib.offsetbox import AnchoredOffsetbox, HPacker, TextArea

    fig = state.fig
    pieces = state.artists.get("title pieces")
    if pieces is None or len(pieces) != len(parts):
        if "title" in state.artists:
            state.artists["title"].remove()
        size = font_manager.FontProperties(size=plt.rcParams["figure.titlesize"])
        props = {"fontsize": plt.rcParams["figure.titlesize"],
                 "fontweight": plt.rcParams["figure.titleweight"]}
        pieces = state.artists["title pieces"] = [TextArea(part, textprops=props)
                                                  for part in parts]
        space = 0.318 * size.get_size_in_points()  # DejaVu Sans: a space is 0.318 em
        row = HPacker(children=pieces, align="baseline", pad=0, sep=space)
        state.artists["title"] = fig.add_artist(AnchoredOffsetbox(
            "upper center", child=row, pad=0, borderpad=0, frameon=False,
            bbox_to_anchor=(0.5, 0.98), bbox_transform=fig.transFigure))
    for piece, part in zip(pieces, parts, strict=True):
        if piece.get_text() != part:
            piece.set_text(part)
    fig.title_text = " ".join(parts)  # type: ignore[attr-defined]


def plot_class_map(image, cam, class_name: str = "c", score: float | None = None,
                   bias: float | None = None, box=None, reduce: str = "mean") -> Figure:
    """An image beside its class activation map M_c on a diverging scale.

    The title checks the lesson's identity on screen: for a mean-pooled net,
    (1/Z) Σ_{x,y} M_c(x, y) + b_c equals the logit S_c.

    Parameters
    ----------
    image : (3, H, W) image
    cam : (H, W) map M_c (not upsampled, not normalized)
    class_name : name of class c, for the titles
    score : the model's logit S_c, shown for comparison
    bias : b_c (None: no bias)
    box : ground-truth box to draw on the image
    reduce : "mean" (Z = H·W) or "sum" (the paper's form)

    Returns
    -------
    matplotlib Figure with three axes: the image, M_c, M_c upsampled over the image;
    ``fig.title_text`` holds its title.
    """
    picture = as_display_image(image)
    m = _map2d(cam, "cam")
    pooled = m.mean() if reduce == "mean" else m.sum()
    total = pooled + (bias or 0.0)
    state = reuse(("plot_class_map", picture.shape, m.shape, box is None),
                  lambda: plt.subplots(1, 3, figsize=(9.6, 3.2))[0])
    fig = state.fig
    ax_img, ax_map, ax_over = fig.axes[:3]
    state.imshow(ax_img, "image", picture)
    ax_img.set_title("input image")
    norm = signed_norm(m)
    mapped = state.imshow(ax_map, "map", m, cmap=DIVERGING_CMAP, norm=norm)
    state.colorbar("bar", mapped, ax=ax_map, label="$M_c(x,y)$")
    ax_map.set_title(f"$M_c$ for class {class_name} ({m.shape[0]}×{m.shape[1]})")
    state.imshow(ax_over, "under", picture)
    big = reference.upsample(m, picture.shape[:2])
    state.imshow(ax_over, "over", big, cmap=DIVERGING_CMAP, norm=signed_norm(m), alpha=0.6)
    ax_over.set_title("$M_c$ upsampled over the image")
    for ax in (ax_img, ax_over):
        if box is not None:
            state.box(ax, f"box {id(ax)}", box, color="black")
    if state.fresh:
        for ax in (ax_img, ax_map, ax_over):
            _label_axes(ax)
    pooled_text = r"$\frac{1}{Z}\sum_{x,y} M_c$" if reduce == "mean" else r"$\sum_{x,y} M_c$"
    parts = [f"{pooled_text} =", f"{pooled:.4f}"]
    if bias is not None:
        sign = "+" if bias >= 0 else "−"
        parts = [f"{pooled_text} + $b_c$ =", f"{pooled:.4f} {sign} {abs(bias):.4f} = {total:.4f}"]
    if score is not None:
        parts[-1] += ";   the model's logit"
        parts += ["$S_c$ =", f"{float(score):.4f}"]
    _formula_title(state, parts)
    if state.fresh:
        _fixed_layout(fig)
        fig.subplots_adjust(top=0.78)  # room for the tall \frac in the title
    return fig


def plot_contribution_split(cam, class_name: str = "c") -> Figure:
    """M_c split into where it pushes the score up (M_c > 0) and down (M_c < 0).

    With M_c⁺ = max(M_c, 0) ≥ 0 and M_c⁻ = max(−M_c, 0) ≥ 0, M_c = M_c⁺ − M_c⁻.

    Returns
    -------
    matplotlib Figure with three signed maps on one scale: M_c, M_c⁺ and −M_c⁻ (the
    negative values, so that they keep their colour); each title gives the panel's
    mean, so mean M_c = mean M_c⁺ − mean M_c⁻ is on screen.
    """
    m = _map2d(cam, "cam")
    positive, negative = np.maximum(m, 0.0), np.maximum(-m, 0.0)
    return plot_maps(
        [m, positive, -negative],
        titles=[f"M_c, mean {m.mean():.3f}", f"M_c⁺, mean {positive.mean():.3f}",
                f"−M_c⁻, mean {-negative.mean():.3f}"],
        signed=True, suptitle=f"where the evidence for class {class_name} is, and against it",
    )


# --- lesson 05: upsampled, normalized, overlaid --------------------------------------------


def _display_cam(cam: np.ndarray, size: tuple[int, int], normalization: str) -> np.ndarray:
    big = reference.upsample(cam, size)  # upsample first: normalization does not commute
    if normalization == "none":
        return big
    return reference.normalize(big, normalization)


def plot_cam_overlay(image, cam, alpha: float = 0.5, normalization: str = "minmax",
                     class_name: str = "c", box=None) -> Figure:
    """The lesson-05 pipeline: upsample M_c to the image, normalize, lay it over the image.

    Parameters
    ----------
    image : (3, H, W) image
    cam : (H, W) map M_c at the network's resolution
    alpha : opacity of the map in the overlay, 0 (image only) to 1 (map only)
    normalization : "minmax" ([0, 1]), "max" (divide by the max; negatives stay < 0),
        or "none" (raw values, diverging colours centred at 0)
    class_name : for the titles
    box : ground-truth box drawn on the overlay

    Returns
    -------
    matplotlib Figure with three axes (coarse M_c, upsampled map, overlay), colour bars.
    """
    if normalization not in ("minmax", "max", "none"):
        raise ValueError(f'normalization must be "minmax", "max" or "none", got {normalization!r}')
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    picture = as_display_image(image)
    m = _map2d(cam, "cam")
    shown = _display_cam(m, picture.shape[:2], normalization)
    state = reuse(("plot_cam_overlay", picture.shape, m.shape, box is None, normalization),
                  lambda: plt.subplots(1, 3, figsize=(9.6, 3.2))[0])
    fig = state.fig
    ax_raw, ax_big, ax_over = fig.axes[:3]
    raw = state.imshow(ax_raw, "raw", m, cmap=DIVERGING_CMAP, norm=signed_norm(m))
    state.colorbar("raw bar", raw, ax=ax_raw, label="$M_c(x,y)$")
    ax_raw.set_title(f"$M_c$, class {class_name} ({m.shape[0]}×{m.shape[1]})")
    if normalization == "none":
        norm, cmap = signed_norm(shown), DIVERGING_CMAP
    elif normalization == "max":
        norm, cmap = Normalize(vmin=min(0.0, float(shown.min())), vmax=1.0), OVERLAY_CMAP
    else:
        norm, cmap = Normalize(vmin=0.0, vmax=1.0), OVERLAY_CMAP
    big = state.imshow(ax_big, "big", shown, cmap=cmap, norm=norm)
    state.colorbar("big bar", big, ax=ax_big, label=f"upsampled, {normalization}")
    ax_big.set_title(f"upsampled, {normalization}")  # short: it must not reach the colour bar
    state.imshow(ax_over, "under", picture)
    state.imshow(ax_over, "over", shown, cmap=cmap, norm=norm, alpha=float(alpha))
    ax_over.set_title(f"overlay, opacity {float(alpha):.2f}")
    if box is not None:
        state.box(ax_over, "box", box, color="white")
    if state.fresh:
        for ax in (ax_raw, ax_big, ax_over):
            _label_axes(ax)
        _fixed_layout(fig)
        fig.subplots_adjust(wspace=0.55)  # room between each colour bar and the next title
    return fig


def heat_mask_box(cam, size, fraction: float = 0.2):
    """The figure-ready steps of lesson 05 for one coarse map, in the right order.

    The map is upsampled first (only the weighting commutes with upsampling); the heat
    map is the upsampled map min-max normalized; the mask keeps the upsampled raw map's
    pixels ≥ ``fraction`` of its maximum (those equal to the maximum when no value is
    positive); the box is the half-open box of the mask's largest 8-connected component
    (`camlib.reference.bounding_box`).

    Parameters
    ----------
    cam : (H, W) map M_c at the network's resolution
    size : int or (height, width) of the image
    fraction : in (0, 1], the threshold as a fraction of the maximum

    Returns
    -------
    (heat, mask, box): (height, width) floats in [0, 1], (height, width) bool, and a
    tuple of 4 ints (x0, y0, x1, y1).

    Example
    -------
    >>> heat, mask, box = heat_mask_box(np.array([[0.0, 1.0], [0.0, 0.0]]), 4)
    >>> heat.shape, int(mask.sum()), box
    ((4, 4), 6, (1, 0, 4, 3))
    """
    big = reference.upsample(_map2d(cam, "cam"), size)
    peak = big.max()
    mask = big >= (fraction * peak if peak > 0 else peak)
    box = tuple(int(v) for v in reference.bounding_box(big, fraction))
    return reference.normalize(big, "minmax"), mask, box


def plot_heat_mask_box(image, heat, mask, box, truth=None, fraction: float = 0.2) -> Figure:
    """The heat map over the image, the thresholded mask, and the box beside the truth.

    Parameters
    ----------
    image : (3, H, W) image
    heat : (H, W) heat map in [0, 1]
    mask : (H, W) bool mask
    box : the predicted half-open box, drawn solid
    truth : the ground-truth box, drawn dashed (optional)
    fraction : the mask's threshold, for the title

    Returns
    -------
    matplotlib Figure with three axes. The boxes differ by line style as well as colour.
    """
    picture = as_display_image(image)
    fig, axes = plt.subplots(1, 3, figsize=(9.0, 3.3))
    axes[0].imshow(picture)
    axes[0].imshow(to_numpy(heat), cmap=OVERLAY_CMAP, alpha=0.5, vmin=0, vmax=1)
    axes[0].set_title("heat map over the image")
    axes[1].imshow(to_numpy(mask), cmap="gray", vmin=0, vmax=1)
    axes[1].set_title(f"mask, {fraction:.0%} of the max")
    axes[2].imshow(picture)
    draw_box(axes[2], box, color="magenta", label="box (solid)")
    title = "box (solid)"
    if truth is not None:
        draw_box(axes[2], truth, color="lime", linestyle="--", label="truth (dashed)")
        title += ", truth (dashed)"
    axes[2].set_title(title)
    for ax in axes:
        _bare(ax)
    fig.tight_layout()
    return fig


def plot_top_k(image, cams, classes: Sequence[int], probabilities: Sequence[float],
               class_names: Sequence[str] | None = None, alpha: float = 0.5,
               normalization: str = "minmax") -> Figure:
    """The CAMs of the k most probable classes of one image, side by side.

    Parameters
    ----------
    image : (3, H, W) image
    cams : (k, H, W) maps M_c of the classes in ``classes``
    classes : the k class indices, most probable first
    probabilities : their P_c
    class_names : names of all classes (default: the indices)
    alpha : opacity of the overlays
    normalization : "minmax" or "max", applied to each upsampled map

    Returns
    -------
    matplotlib Figure with 1 + k axes: the image, then one overlay per class.
    """
    picture = as_display_image(image)
    maps = to_numpy(cams).astype(np.float64)
    if maps.ndim != 3 or len(maps) != len(classes) or len(classes) != len(probabilities):
        raise ValueError(f"cams must be (k, H, W) with k = len(classes) = len(probabilities); "
                         f"got {maps.shape}, {len(classes)} classes, "
                         f"{len(probabilities)} probabilities")
    names = class_names if class_names is not None else [str(c) for c in range(max(classes) + 1)]
    fig, axes = plt.subplots(1, len(classes) + 1, figsize=(2.8 * (len(classes) + 1) + 0.6, 3.2),
                             squeeze=False)
    axes[0, 0].imshow(picture)
    axes[0, 0].set_title("input image")
    mapped = None
    for ax, m, c, p in zip(axes[0, 1:], maps, classes, probabilities, strict=True):
        ax.imshow(picture)
        mapped = ax.imshow(_display_cam(m, picture.shape[:2], normalization), cmap=OVERLAY_CMAP,
                           vmin=0.0, vmax=1.0, alpha=alpha)
        ax.set_title(f"class {names[int(c)]}: P = {float(p):.3f}", fontsize=10)
    _label_axes(axes[0, 0])
    for ax in axes[0, 1:]:
        ax.set_xlabel("x (column)")
    fig.colorbar(mapped, ax=axes[0].tolist(), shrink=0.8, label=f"CAM ({normalization})")
    return fig
