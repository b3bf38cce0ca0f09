"""Figures of lessons 00–05 that readers found hard to read: legends over bars, titles
over colour bars, a colour map colour-blind readers cannot use."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from camlib import viz  # noqa: E402


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
