"""Lesson 04's derivation, stepped through on live numbers.

The score of a mean-pooled network is rewritten in four lines,

    S_c = Σ_k w_k^c F_k + b_c                          (1) pool, then weight
        = Σ_k w_k^c (1/Z) Σ_{x,y} f_k(x,y) + b_c       (2) F_k is a mean
        = (1/Z) Σ_{x,y} Σ_k w_k^c f_k(x,y) + b_c       (3) swap the sums
        = (1/Z) Σ_{x,y} M_c(x,y) + b_c                 (4) name the inner sum M_c

and each line is a different order of adding the same numbers. `Derivation` computes
every line in its own order from one image's maps f_k (K, H, W), one class's weights
w_k^c and bias b_c, and refuses numbers that do not reach the network's logit. For each
step, `step_text` writes the derivation so far (the term the step changes boxed) with
the numbers the step adds, and `plot_step` draws them: on the left which channels or
positions the step adds, on the right the running total, starting at b_c and ending at
the logit. `derivation_widget` lets a learner pick the example, the image, the class and
the step; where no widget frontend runs the cell (nbval, the website's build),
`show_steps` shows a still of every step instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter, MaxNLocator

from camcourse.viz._common import reuse, to_numpy
from camcourse.viz.maps import DIVERGING_CMAP, signed_norm

__all__ = ["STEPS", "Derivation", "derivation", "step_text", "plot_step", "show_step",
           "show_steps", "derivation_widget", "has_widget_frontend"]

STEPS = 4
"""The number of lines of the derivation."""

_LINES = (
    r"S_c &= [[\sum_k w_k^c F_k]] + b_c",
    r"&= \sum_k w_k^c [[\tfrac{1}{Z}\sum_{x,y} f_k(x,y)]] + b_c",
    r"&= [[\tfrac{1}{Z}\sum_{x,y} \sum_k]] w_k^c f_k(x,y) + b_c",
    r"&= \tfrac{1}{Z}\sum_{x,y} [[M_c(x,y)]] + b_c",
)
"""The lines in LaTeX; [[...]] marks the term a step changes (boxed on that step)."""
_REASONS = (
    "the network's logit: pool, then weight",
    r"substitute $F_k = \frac{1}{Z}\sum_{x,y} f_k(x,y)$, the mean of map $k$",
    r"swap the two finite sums; $w_k^c$ and $\frac{1}{Z}$ do not depend on $(x,y)$",
    r"name the inner sum: $M_c(x,y) = \sum_k w_k^c f_k(x,y)$",
)
# The most terms a panel writes as numbers: beyond this, colours and the text's numbers.
_ANNOTATE_MAX = 40


@dataclass(frozen=True)
class Derivation:
    """One image's maps and one class's weights, with every line of the derivation.

    Parameters
    ----------
    features : (K, H, W) float64, the maps f_k(x, y) of one image
    weight : (K,) float64, the weights w_k^c of class c
    bias : b_c
    logit : the network's logit S_c, the number every line must reach
    name : what the example is, for titles ("test image 6, class 4")
    channel_base : the number of the first channel in text and axes: 0 for a network's
        channels (as the code indexes them), 1 for a hand example written f_1, f_2

    Build it with `derivation`, which checks the shapes and the lines.
    """

    features: np.ndarray
    weight: np.ndarray
    bias: float
    logit: float
    name: str
    channel_base: int = 0

    @property
    def shape(self) -> tuple[int, int, int]:
        """(K, H, W)."""
        return self.features.shape  # type: ignore[return-value]

    @property
    def positions(self) -> int:
        """Z = H·W, the positions of this map."""
        return self.shape[1] * self.shape[2]

    @cached_property
    def pooled(self) -> np.ndarray:
        """F_k = (1/Z) Σ_{x,y} f_k(x, y), (K,)."""
        return self.features.mean(axis=(1, 2))

    @cached_property
    def terms(self) -> np.ndarray:
        """w_k^c f_k(x, y) / Z for every channel and position, (K, Z), positions in
        reading order (row y, then column x)."""
        k = self.shape[0]
        return self.weight[:, None] * self.features.reshape(k, -1) / self.positions

    @cached_property
    def cam(self) -> np.ndarray:
        """M_c(x, y) = Σ_k w_k^c f_k(x, y), (H, W)."""
        return np.einsum("k,khw->hw", self.weight, self.features)

    def added(self, step: int) -> np.ndarray:
        """The numbers step ``step`` adds, in the order its line adds them.

        1: the K channel terms w_k^c F_k; 2: the K·Z terms w_k^c f_k(x, y)/Z, channel
        after channel; 3: the same K·Z terms, position after position; 4: the Z values
        M_c(x, y)/Z.
        """
        _check_step(step)
        if step == 1:
            return self.weight * self.pooled
        if step == 2:
            return self.terms.ravel()
        if step == 3:
            return self.terms.T.ravel()
        return self.cam.ravel() / self.positions

    def value(self, step: int) -> float:
        """Line ``step`` computed in its own order of summation, plus b_c."""
        _check_step(step)
        if step == 1:
            total = float(self.weight @ self.pooled)
        elif step == 2:
            total = float(sum(w * f.sum() / self.positions
                              for w, f in zip(self.weight, self.features, strict=True)))
        elif step == 3:
            total = float(self.terms.sum(axis=0).sum())
        else:
            total = float(self.cam.sum() / self.positions)
        return total + self.bias

    def running_total(self, step: int) -> np.ndarray:
        """b_c followed by b_c plus each partial sum of `added` (length len(added) + 1);
        its last value is `value`."""
        return self.bias + np.concatenate([[0.0], np.cumsum(self.added(step))])


def derivation(features, weight, bias, class_index: int, logit: float | None = None,
               name: str = "", rtol: float = 1e-5, atol: float = 1e-5,
               channel_base: int = 0) -> Derivation:
    """The derivation for one image (f_k, shape (K, H, W)) and class c.

    Parameters
    ----------
    features : (K, H, W) array or tensor
    weight : (C, K) weights w_k^c
    bias : (C,) biases b_c (zeros for a network without bias)
    class_index : c
    logit : the network's own logit S_c; None computes it (line 1)
    name : a title for the example
    rtol, atol : how closely every line must reach ``logit`` (a float32 network's logits
        differ from float64 sums by rounding)
    channel_base : 0 or 1, the number of the first channel in text and axes

    Returns
    -------
    Derivation, in float64.

    Raises
    ------
    ValueError : on shapes that do not fit, or when a line misses the logit.

    Example
    -------
    The 2-channel 3×3 example of lesson 04, mean-pooled with b_c = 0.5:

    >>> f = np.array([[[0, 1, 0], [1, 3, 1], [0, 1, 0]], [[2, 0, 0], [0, 0, 0], [0, 0, 1]]])
    >>> d = derivation(f, np.array([[2.0, -1.0]]), np.array([0.5]), 0)
    >>> d.positions, [round(d.value(s), 4) for s in range(1, 5)]
    (9, [1.7222, 1.7222, 1.7222, 1.7222])
    >>> d.added(1).tolist(), round(float(d.running_total(4)[-1]), 4)
    ([1.5555555555555556, -0.3333333333333333], 1.7222)
    >>> derivation(f, np.array([[2.0, -1.0]]), np.array([0.5]), 0, logit=3.0)
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: line 1 gives 1.72222 where the network's logit is 3: these maps, ...
    """
    f = to_numpy(features).astype(np.float64)
    w = to_numpy(weight).astype(np.float64)
    b = to_numpy(bias).astype(np.float64).ravel()
    if f.ndim != 3:
        raise ValueError(f"features must be one image's maps (K, H, W), got shape {f.shape}")
    if w.ndim != 2 or w.shape[1] != f.shape[0]:
        raise ValueError(f"weight must be (C, K) with K = {f.shape[0]}, got shape {w.shape}")
    if b.shape != (w.shape[0],):
        raise ValueError(f"bias must be (C,) with C = {w.shape[0]}, got shape {b.shape}")
    if not 0 <= int(class_index) < w.shape[0]:
        raise ValueError(f"class_index must lie in 0..{w.shape[0] - 1}, got {class_index}")
    if channel_base not in (0, 1):
        raise ValueError(f"channel_base must be 0 or 1, got {channel_base!r}")
    c = int(class_index)
    result = Derivation(f, w[c], float(b[c]), 0.0, name)
    target = result.value(1) if logit is None else float(logit)
    for step in range(1, STEPS + 1):
        value = result.value(step)
        if not np.isclose(value, target, rtol=rtol, atol=atol):
            raise ValueError(f"line {step} gives {value:.6g} where the network's logit is "
                             f"{target:.6g}: these maps, weights and bias are not this "
                             f"network's")
    return Derivation(f, w[c], float(b[c]), target, name, int(channel_base))


def _check_step(step) -> None:
    if not isinstance(step, int | np.integer) or not 1 <= step <= STEPS:
        raise ValueError(f"step must be an int from 1 to {STEPS}, got {step!r}")


def _num(value: float) -> str:
    return f"{float(value) + 0.0:.4g}"


def _position(index: int, width: int) -> str:
    return f"({index % width}, {index // width})"


def _largest(values: np.ndarray, count: int = 3) -> np.ndarray:
    """Indices of the ``count`` values largest in size, largest first."""
    return np.argsort(-np.abs(values), kind="stable")[:count]


def step_text(d: Derivation, step: int) -> str:
    """Markdown for step ``step``: the lines so far (the term this step changes boxed)
    and the numbers it adds.

    >>> f = np.ones((2, 2, 2))
    >>> print(step_text(derivation(f, np.array([[1.0, 2.0]]), np.zeros(1), 0), 1))
    ... # doctest: +ELLIPSIS
    **Step 1 of 4** (the network's logit: pool, then weight)
    ...
    """
    _check_step(step)
    k_count, height, width = d.shape
    z = d.positions
    base = d.channel_base
    lines = [_LINES[s].replace("[[", r"\boxed{" if s == step - 1 else "{").replace("]]", "}")
             for s in range(step)]
    equation = "$$\n\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}\n$$"
    added = d.added(step)
    if step == 1:
        top = _largest(added)
        detail = (f"It adds {k_count} numbers, one per channel $k$: $w_k^c F_k$. Largest "
                  f"in size: "
                  + "; ".join(f"channel {k + base}: {_num(d.weight[k])} × "
                              f"{_num(d.pooled[k])} = {_num(added[k])}" for k in top) + ".")
    elif step == 2:
        k = int(_largest(d.weight * d.pooled, 1)[0])
        detail = (f"Each $F_k$ is the mean of its map's $Z = {height}·{width} = {z}$ "
                  f"positions, so the step adds $K·Z = {k_count}·{z} = {added.size:,}$ "
                  f"numbers $w_k^c f_k(x,y)/Z$, channel after channel (on the left, "
                  f"the outlined row is added first). Channel {k + base}: its map sums "
                  f"to {_num(d.features[k].sum())}, divided by {z} that is "
                  f"$F_{{{k + base}}}$ = {_num(d.pooled[k])}.")
    elif step == 3:
        per_position = d.terms.sum(axis=0)
        top = _largest(per_position)
        detail = (f"The same {added.size:,} numbers, added position after position: at "
                  f"each $(x,y)$ the {k_count} channels first (on the left, the outlined "
                  f"column is added first). The positions' sums largest in size: "
                  + "; ".join(f"{_position(int(p), width)}: {_num(per_position[p])}"
                              for p in top) + ".")
    else:
        top = _largest(d.cam.ravel())
        first = int(top[0])
        detail = (f"The inner sum is the map $M_c$, {height}×{width}: it adds its {z} "
                  f"values divided by $Z$. Largest in size: "
                  + "; ".join(f"$M_c{_position(int(p), width)}$ = {_num(d.cam.ravel()[p])}"
                              for p in top)
                  + f". The swap in numbers: $M_c{_position(first, width)}$ = "
                  f"{_num(d.cam.ravel()[first])}, ÷ {z} = {_num(added[first])}, the same "
                  f"number as step 3's position {_position(first, width)}.")
    summed = float(added.sum())
    total = (f"Running total: $b_c$ + the sum above = {_num(d.bias)} "
             f"{'−' if summed < 0 else '+'} {abs(summed):.6g} = **{d.value(step):.6g}**; "
             f"the network's logit $S_c$ = **{d.logit:.6g}**.")
    return (f"**Step {step} of {STEPS}** ({_REASONS[step - 1]})\n\n{equation}\n\n"
            f"{detail} {total}")


def _layout() -> Figure:
    # Fixed margins that hold every label: the tight box stays inside the figure, so a
    # redraw is printed in layers (camcourse.viz._render), not measured again. Axes whose
    # limits follow the data are drawn whole on every redraw: few ticks, few labels.
    # x axes count channels, terms or columns: whole numbers only.
    fig = plt.figure(figsize=(6.4, 2.7))
    for box in ((0.13, 0.2, 0.32, 0.6), (0.62, 0.2, 0.35, 0.6)):
        ax = fig.add_axes(box)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
    return fig


# A cell label's size in points: 5 characters ("-0.22") at font size 8, and its height.
_LABEL_LONG, _LABEL_SHORT = 24.0, 10.0


def _label_rotation(ax, shape: tuple[int, int], equal: bool) -> float | None:
    """0 where a label fits across a cell, 90 where it fits only upright, None where
    it does not fit at all (the labels are then left out)."""
    box = ax.get_position()
    fig_w, fig_h = ax.figure.get_size_inches()
    across, down = 72 * box.width * fig_w / shape[1], 72 * box.height * fig_h / shape[0]
    if equal:
        across = down = min(across, down)
    if across >= _LABEL_LONG and down >= _LABEL_SHORT:
        return 0.0
    if down >= _LABEL_LONG and across >= _LABEL_SHORT:
        return 90.0
    return None


def _cell_texts(state, ax, name: str, values: np.ndarray, norm, equal: bool) -> None:
    """Every value written in its cell, black or white for contrast; updated in place.
    Written upright where the cells are narrow and tall, left out where they are small."""
    texts = state.artists.get(name)
    if texts is None:
        rotation = _label_rotation(ax, values.shape, equal)
        texts = state.artists[name] = [] if rotation is None else [
            ax.text(x, y, "", ha="center", va="center", fontsize=8, rotation=rotation)
            for (y, x), _ in np.ndenumerate(values)]
    for text, value in zip(texts, values.ravel(), strict=False):
        text.set_text(f"{float(value) + 0.0:.2g}")
        text.set_color("white" if abs(norm(value) - 0.5) > 0.3 else "black")


def plot_step(d: Derivation, step: int) -> Figure:
    """Step ``step`` as a figure: what it adds (left) and the running total (right).

    Left: step 1 the channel terms w_k^c F_k as stems; steps 2 and 3 the K×Z terms
    w_k^c f_k(x, y)/Z as an image, rows the channels and columns the positions (step 2
    adds them channel after channel, step 3 position after position; the part added
    first is outlined); step 4 the map M_c(x, y)/Z. Right: b_c plus the partial sums in
    the step's order, a dashed line at the network's logit, labelled on its left end, the
    end marked with a circle. A widget's redraws reuse the figure of the same step
    and shape (`camcourse.viz._common.reuse`): only the data change.

    >>> f = np.array([[[0, 1, 0], [1, 3, 1], [0, 1, 0]], [[2, 0, 0], [0, 0, 0], [0, 0, 1]]])
    >>> fig = plot_step(derivation(f, np.array([[2.0, -1.0]]), np.array([0.5]), 0), 3)
    >>> [ax.get_title() for ax in fig.axes[:2]]
    ['added: position after position', 'running total, position after position']
    >>> plt.close(fig)
    """
    _check_step(step)
    k_count, height, width = d.shape
    base = d.channel_base
    added = d.added(step)
    small = added.size <= _ANNOTATE_MAX
    state = reuse(("derivation step", step, d.shape, base), _layout)
    fig = state.fig
    ax_terms, ax_total = fig.axes[:2]
    if step == 1:
        channels = np.arange(k_count) + base
        segments = [((k, 0.0), (k, v)) for k, v in zip(channels, added, strict=True)]
        if state.fresh:
            state.artists["stems"] = ax_terms.vlines(channels, 0.0, added, color="black",
                                                     linewidth=1.0)
            state.artists["heads"], = ax_terms.plot(channels, added, "o", color="black",
                                                    markersize=3 if small else 1.5)
            ax_terms.axhline(0.0, color="grey", linewidth=0.6)
            if small:
                state.artists["labels"] = [
                    ax_terms.annotate("", (k, 0.0), textcoords="offset points",
                                      xytext=(6, 0), va="center", fontsize=8)
                    for k in channels]
                ax_terms.set_xticks(channels)
            ax_terms.set_xlabel("channel k")
            ax_terms.set_ylabel("term of channel k")  # plain text: lays out fast
            ax_terms.set_title("added: one term per channel", fontsize=9)
        else:
            state.artists["stems"].set_segments(segments)
            state.artists["heads"].set_data(channels, added)
        for label, k, value in zip(state.artists.get("labels", []), channels, added,
                                   strict=False):
            label.set_text(_num(value))
            label.xy = (k, value)
        ax_terms.relim()
        ax_terms.autoscale_view()
        if small:
            ax_terms.set_xlim(base - 0.6, base + k_count - 0.4)
        state.redraw_in_full(ax_terms)
    else:
        values = d.terms if step in (2, 3) else d.cam / d.positions
        norm = signed_norm(values)
        image = state.imshow(ax_terms, "terms", values, cmap=DIVERGING_CMAP, norm=norm,
                             interpolation="nearest",
                             aspect="auto" if step in (2, 3) else "equal")
        bar = state.colorbar("bar", image, ax=ax_terms, fraction=0.08, pad=0.03)
        bar.locator = MaxNLocator(nbins=4)
        if small:
            _cell_texts(state, ax_terms, "cells", values, norm, equal=step == 4)
        if state.fresh:
            ax_terms.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
        if state.fresh and step in (2, 3):
            ax_terms.set_xlabel(f"position, (0, 0) to ({width - 1}, {height - 1})")
            ax_terms.set_ylabel("channel k")
            ax_terms.set_title("added: channel after channel" if step == 2 else
                               "added: position after position", fontsize=9)
            # The terms added first: channel 1's row (step 2), position (0, 0)'s column
            # (step 3), outlined over the frame so that a thin row still shows.
            first = ((-0.5, -0.5), width * height, 1) if step == 2 else \
                ((-0.5, -0.5), 1, k_count)
            ax_terms.add_patch(Rectangle(*first, fill=False, edgecolor="black",
                                         linewidth=2.0, clip_on=False))
            ax_terms.yaxis.set_major_formatter(
                FuncFormatter(lambda value, _: f"{int(round(value)) + base}"))
            if small:
                ax_terms.set_yticks(range(k_count))
        elif state.fresh:
            ax_terms.set_xlabel("x (column)")
            ax_terms.set_ylabel("y (row)")
            ax_terms.set_title("added: $M_c(x,y)\\,/\\,Z$", fontsize=9)
    running = d.running_total(step)
    steps = np.arange(running.size)
    if state.fresh:
        state.artists["total"], = ax_total.plot(
            steps, running, color="black", linewidth=1.0,
            drawstyle="steps-post" if small else "default")
        state.artists["logit"] = ax_total.axhline(d.logit, color="black", linestyle="--",
                                                  linewidth=0.8)
        state.artists["end"], = ax_total.plot(
            [running.size - 1], [running[-1]], "o", markerfacecolor="none",
            markeredgecolor="black", markersize=7)
        # At the dashed line's left end, on the side away from b_c (where the total
        # starts): clear of the end marker, and the y limits make room for it. A pale
        # backing keeps it legible where a running total crosses it.
        state.artists["logit label"] = ax_total.annotate(
            "", (0.03, d.logit), xycoords=("axes fraction", "data"), fontsize=8,
            textcoords="offset points", xytext=(0, 2), ha="left", va="bottom",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 1.0})
        unit = {1: "channel", 2: "term", 3: "term", 4: "position"}[step]
        ax_total.set_xlabel(f"{unit}s added, after the bias")
        ax_total.set_title("running total, " + ("channel after channel" if step <= 2
                                                 else "position after position"),
                           fontsize=9)
        state.artists["title"] = fig.suptitle("", fontsize=10, y=0.96)
    else:
        state.artists["total"].set_data(steps, running)
        state.artists["logit"].set_ydata([d.logit, d.logit])
        state.artists["end"].set_data([running.size - 1], [running[-1]])
    label = state.artists["logit label"]
    label.set_text(f"the network's logit {d.logit:.4g}")
    label.xy = (0.03, d.logit)
    above = d.logit >= d.bias
    label.set_va("bottom" if above else "top")
    label.xyann = (0, 2 if above else -2)
    ax_total.relim()
    ax_total.autoscale_view()
    low, high = ax_total.get_ylim()
    room = 0.18 * (high - low)  # the label's height, about 12 points of 70
    if above:
        ax_total.set_ylim(low, max(high, d.logit + room))
    else:
        ax_total.set_ylim(min(low, d.logit - room), high)
    state.redraw_in_full(ax_total)
    title = f"{d.name}: step {step} of {STEPS}" if d.name else f"step {step} of {STEPS}"
    state.artists["title"].set_text(title)
    return fig


def _alt(d: Derivation, step: int) -> str:
    k_count, height, width = d.shape
    left = {1: f"{k_count} vertical stems, one per channel, the terms w_k^c F_k",
            2: f"a {k_count} by {d.positions} grid of the terms w_k^c f_k(x,y)/Z, channels "
               f"as rows, red positive and blue negative",
            3: f"the same {k_count} by {d.positions} grid of terms, added column by "
               f"column, position after position",
            4: f"the {height} by {width} map M_c(x,y)/Z, red positive and blue "
               f"negative"}[step]
    if step in (2, 3):
        left += (", the first row (channel " + str(d.channel_base) + ") outlined"
                 if step == 2 else ", the first column (position (0, 0)) outlined")
    return (f"Step {step} of the derivation for {d.name or 'the example'}. Left: {left}. "
            f"Right: a line starting at the bias {d.bias:.4g} and ending, after "
            f"{d.added(step).size} additions, at {d.value(step):.4g}, on the dashed line "
            f"of the network's logit {d.logit:.4g}.")


def show_step(d: Derivation, step: int) -> None:
    """Show step ``step``: its text (Markdown) and its figure, with caption and alt
    text (`camcourse.viz.show`)."""
    from camcourse.viz.figures import show

    text = step_text(d, step)
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:  # a plain script: the text as it is
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        display(Markdown(text))
    else:
        print(text)
    caption = (f"Step {step}: the numbers this line adds (left) and its running total "
               f"(right), from $b_c$ to {d.value(step):.6g}, the logit.")
    show(caption, _alt(d, step), plot_step(d, step))


def show_steps(d: Derivation) -> None:
    """A still of every step, one after the other (for pages without widgets)."""
    for step in range(1, STEPS + 1):
        show_step(d, step)


def has_widget_frontend() -> bool:
    """Whether the running kernel has a frontend that draws widgets.

    JupyterLab, Jupyter Server's notebooks and VS Code start kernels with
    ``JPY_SESSION_NAME`` set, Colab with ``COLAB_RELEASE_TAG``; nbval, nbclient and the
    website's build set neither and get the stills instead.
    """
    return (any(name in os.environ for name in ("JPY_SESSION_NAME", "COLAB_RELEASE_TAG",
                                               "VSCODE_PID"))
            or "google.colab" in sys.modules)


def derivation_widget(examples: Mapping[str, Callable[[int, int], Derivation]],
                      images: int, classes: Mapping[str, int], image: int = 0,
                      class_index: int = 0, stills: tuple[Derivation, ...] = (),
                      static: bool | None = None):
    """The stepper: pick the example, the image, the class and the step.

    Parameters
    ----------
    examples : name -> ``make(image, class_index)`` returning a `Derivation`; an example
        that ignores the image or the class (a fixed small one) simply does not use them
    images : how many images the slider offers (0..images-1)
    classes : label -> class index, the class menu
    image, class_index : the first setting
    stills : derivations shown step by step, as stills, where no widget frontend runs
    static : True always shows the stills, False never; None decides with
        `has_widget_frontend`

    Returns
    -------
    the ``ipywidgets.interact`` widget (None when only the stills were shown).
    """
    import ipywidgets as widgets

    if static is None:
        static = not has_widget_frontend()
    if static:
        for d in stills:
            show_steps(d)
        return None
    cache: dict[tuple, Derivation] = {}

    def draw(example, index, class_choice, step):
        key = (example, index, class_choice)
        if key not in cache:
            cache.clear()  # one example at a time: they hold K·Z terms
            cache[key] = examples[example](index, class_choice)
        show_step(cache[key], step)

    names = list(examples)
    return widgets.interact(
        draw,
        example=widgets.Dropdown(options=names, value=names[0], description="example"),
        index=widgets.IntSlider(value=image, min=0, max=images - 1, description="image"),
        class_choice=widgets.Dropdown(options=list(classes.items()), value=class_index,
                                      description="class c"),
        step=widgets.IntSlider(value=1, min=1, max=STEPS, description="step"),
    )
