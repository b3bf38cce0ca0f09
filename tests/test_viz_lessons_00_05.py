"""Figures of lessons 00–05 that readers found hard to read: legends over bars, titles
over colour bars, a colour map colour-blind readers cannot use."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from camcourse import viz  # noqa: E402


def _extent(artist, renderer):
    return artist.get_window_extent(renderer)


def test_the_legend_of_bars_never_covers_a_bar():
    values = {"digit cells": np.full(8, 2.0), "clutter cells": np.full(8, 0.5),
              "background cells": np.full(8, 0.1)}
    fig = viz.plot_bars(values, ticks=[str(k) for k in range(8)])
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    legend = _extent(ax.get_legend(), renderer)
    for bar in ax.patches:
        assert not legend.overlaps(_extent(bar, renderer))
    plt.close(fig)


def test_overlay_titles_stay_clear_of_the_colour_bars():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(3, 64, 64), dtype=np.uint8)
    for normalization in ("minmax", "max", "none"):
        fig = viz.plot_cam_overlay(image, rng.normal(size=(16, 16)) * 20,
                                   normalization=normalization)
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        titles = [_extent(ax.title, renderer) for ax in fig.axes[:3]]
        colour_bars = [_extent(ax, renderer) for ax in fig.axes[3:]]
        for title in titles:
            for bar in colour_bars:
                assert not title.overlaps(bar), normalization
        plt.close(fig)


def test_overlays_use_a_colour_map_readable_by_colour_blind_readers():
    assert viz.maps.OVERLAY_CMAP != "jet"
    assert viz.maps.OVERLAY_CMAP in {"viridis", "inferno", "magma", "cividis", "plasma"}
    rng = np.random.default_rng(1)
    fig = viz.plot_top_k(rng.integers(0, 256, size=(3, 64, 64), dtype=np.uint8),
                         rng.normal(size=(2, 16, 16)), [0, 1], [0.7, 0.2])
    names = {im.get_cmap().name for ax in fig.axes for im in ax.get_images()}
    assert "jet" not in names
    plt.close(fig)


def test_lesson_05s_fallback_pipeline_is_a_right_answer_to_exercise_5_4():
    """Lesson 05 falls back on viz.heat_mask_box until 5.4 is solved: it must pass 5.4's
    check, and draw the boxes apart by line style, not colour alone."""
    from camcourse.checks.lesson05 import exercise_5_4

    assert exercise_5_4(viz.heat_mask_box, raise_on_fail=False, verbose=False).passed
    cam = np.zeros((4, 4))
    cam[1, 2] = 1.0
    heat, mask, box = viz.heat_mask_box(cam, (16, 16))
    fig = viz.plot_heat_mask_box(np.zeros((3, 16, 16)), heat, mask, box, truth=(0, 0, 4, 4))
    styles = {p.get_label(): p.get_linestyle() for p in fig.axes[2].patches}
    assert styles == {"box (solid)": "-", "truth (dashed)": "--"}
    plt.close(fig)


def test_bar_series_and_the_top_class_differ_by_pattern_as_well_as_colour():
    fig = viz.plot_bars({"a": [1.0, 2.0], "b": [2.0, 1.0], "c": [0.5, 0.5]})
    hatches = [{bar.get_hatch() for bar in container} for container in fig.axes[0].containers]
    assert len({frozenset(h) for h in hatches}) == 3
    fig = viz.plot_scores(np.array([0.0, 3.0, 1.0]), np.array([0.1, 0.8, 0.1]))
    for ax in fig.axes[:2]:
        assert [bool(bar.get_hatch()) for bar in ax.patches[:3]] == [False, True, False]
    plt.close("all")
