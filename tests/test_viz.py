"""camcourse.viz.maps: each figure function on its own, fast, with the artists it promises."""

from __future__ import annotations

import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import TwoSlopeNorm  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from camcourse import viz  # noqa: E402
from camcourse.viz import maps  # noqa: E402

RNG = np.random.default_rng(0)
IMAGE = RNG.integers(0, 256, size=(3, 64, 64), dtype=np.uint8)
CAM = RNG.normal(size=(16, 16))


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _images(ax):
    return ax.get_images()


def _colorbar_axes(fig: Figure) -> list:
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


def _assert_centred(norm):
    assert isinstance(norm, TwoSlopeNorm)
    assert norm.vcenter == 0.0
    assert norm.vmin == -norm.vmax


def test_everything_in_all_is_exported_by_camlib_viz():
    for name in maps.__all__:
        assert getattr(viz, name) is getattr(maps, name)


def test_as_display_image_scales_uint8_and_moves_channels_last():
    image = np.zeros((3, 2, 4), np.uint8)
    image[0, 1, 3] = 255
    image[2, 0, 0] = 51
    shown = viz.as_display_image(image)
    assert shown.shape == (2, 4, 3)
    assert shown[1, 3, 0] == 1.0 and shown[0, 0, 2] == pytest.approx(0.2)
    floats = viz.as_display_image(torch.full((3, 2, 2), 0.5))
    np.testing.assert_allclose(floats, 0.5)
    with pytest.raises(ValueError, match="image must be"):
        viz.as_display_image(np.zeros((4, 2, 2)))


def test_signed_norm_is_symmetric_about_zero():
    norm = viz.signed_norm(np.array([-1.0, 3.0]))
    assert (norm.vmin, norm.vcenter, norm.vmax) == (-3.0, 0.0, 3.0)
    assert norm(0.0) == pytest.approx(0.5)
    # An all-positive or all-zero map still gets a valid norm centred at 0.
    _assert_centred(viz.signed_norm(np.array([1.0, 2.0])))
    _assert_centred(viz.signed_norm(np.zeros(3)))


@pytest.mark.parametrize("scale", [1e-3, 1.0, 40.0])
def test_a_signed_norms_colour_bar_is_a_two_slope_norms_on_a_linear_axis(scale):
    """signed_norm's colour bar draws the pixels of a plain TwoSlopeNorm's, on a linear
    axis instead of a function axis (the slower one a colour bar gives a TwoSlopeNorm)."""
    def drawn(norm):
        fig, ax = plt.subplots(figsize=(3, 2.5))
        bar = fig.colorbar(ax.imshow(CAM * scale, cmap="RdBu_r", norm=norm), ax=ax, label="M")
        fig.canvas.draw()
        pixels = np.asarray(fig.canvas.buffer_rgba()).copy()
        plt.close(fig)
        return pixels, bar.ax.get_yscale()

    limit = float(np.abs(CAM * scale).max())
    ours, scale_ours = drawn(viz.signed_norm(CAM * scale))
    plain, scale_plain = drawn(TwoSlopeNorm(0.0, -limit, limit))
    assert np.array_equal(ours, plain)
    assert (scale_ours, scale_plain) == ("linear", "function")


def test_draw_box_covers_the_half_open_pixels():
    fig, ax = plt.subplots()
    ax.imshow(np.zeros((10, 10)))
    patch = viz.draw_box(ax, (2, 3, 6, 5))
    # Pixel x covers [x - 0.5, x + 0.5): columns 2..5 span [1.5, 5.5), 4 wide; rows 3..4.
    assert patch.get_xy() == (1.5, 2.5)
    assert (patch.get_width(), patch.get_height()) == (4.0, 2.0)


def test_plot_images_draws_one_axis_per_image_with_boxes():
    images = np.stack([IMAGE] * 5)
    boxes = np.array([[1, 2, 10, 20]] * 5)
    fig = viz.plot_images(images, titles=list("abcde"), boxes=boxes, ncols=3)
    assert isinstance(fig, Figure)
    visible = [ax for ax in fig.axes if ax.axison]
    assert len(visible) == 5
    assert [ax.get_title() for ax in visible] == list("abcde")
    assert all(sum(isinstance(p, Rectangle) for p in ax.patches) == 1 for ax in visible)


def test_plot_feature_maps_shares_one_scale_from_zero():
    features = np.abs(RNG.normal(size=(6, 4, 4)))
    fig = viz.plot_feature_maps(features, channels=[0, 2, 5], ncols=2)
    shown = [image for ax in fig.axes for image in _images(ax)]
    assert len(shown) == 3
    assert {(im.norm.vmin, im.norm.vmax) for im in shown} == {(0.0, features[[0, 2, 5]].max())}
    assert len(_colorbar_axes(fig)) == 1
    with pytest.raises(ValueError, match="K, H, W"):
        viz.plot_feature_maps(features[0])


def test_plot_channel_labels_axes_and_draws_the_box():
    fig = viz.plot_channel(IMAGE, np.abs(CAM), channel=7, box=(4, 5, 20, 30))
    image_ax, map_ax, over_ax = fig.axes[:3]
    assert "f_7" in map_ax.get_title()
    assert map_ax.get_xlabel() == "x (column)" and map_ax.get_ylabel() == "y (row)"
    assert over_ax.get_images()[1].get_array().shape == (64, 64)   # upsampled to the image
    assert len(image_ax.patches) == 1 and len(over_ax.patches) == 1
    assert len(_colorbar_axes(fig)) == 1


def test_plot_maps_signed_uses_a_shared_norm_centred_at_zero():
    a, b = np.array([[-1.0, 2.0]]), np.array([[0.5, -4.0]])
    fig = viz.plot_maps([a, b], titles=["a", "b"], annotate=True)
    images = [ax.get_images()[0] for ax in fig.axes if ax.get_images()]
    assert len(images) == 2
    for image in images:
        _assert_centred(image.norm)
        assert image.norm.vmax == 4.0
        assert image.get_cmap().name == viz.DIVERGING_CMAP
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["-1", "2"]
    assert len(_colorbar_axes(fig)) == 2


def test_plot_maps_sequential_per_map_scale():
    fig = viz.plot_maps([np.array([[0.0, 1.0]]), np.array([[0.0, 10.0]])], signed=False,
                        shared=False)
    limits = [(ax.get_images()[0].norm.vmin, ax.get_images()[0].norm.vmax)
              for ax in fig.axes if ax.get_images()]
    assert limits == [(0.0, 1.0), (0.0, 10.0)]


def test_plot_bars_draws_each_series():
    fig = viz.plot_bars({"mean": [1.0, 2.0, 3.0], "max": [2.0, 3.0, 4.0]}, ticks=list("abc"))
    ax = fig.axes[0]
    assert len(ax.patches) == 6
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["mean", "max"]
    with pytest.raises(ValueError, match="same length"):
        viz.plot_bars({"a": [1.0], "b": [1.0, 2.0]})


def test_plot_scores_bars_and_probability_axis():
    scores = np.array([1.0, -2.0, 3.0])
    probabilities = np.exp(scores) / np.exp(scores).sum()
    fig = viz.plot_scores(scores, probabilities, ["a", "b", "c"])
    ax_s, ax_p = fig.axes
    assert [p.get_height() for p in ax_s.patches] == pytest.approx(scores.tolist())
    assert ax_p.get_ylim() == (0.0, 1.0)
    assert ax_s.get_ylabel().startswith("score")


def test_plot_worked_example_writes_every_number_and_the_sums():
    f = np.array([[[0, 1, 0], [1, 3, 1], [0, 1, 0]], [[2, 0, 0], [0, 0, 0], [0, 0, 1]]], float)
    fig = viz.plot_worked_example(f, np.array([[2.0, -1.0]]))
    titles = " | ".join(ax.get_title() for ax in fig.axes)
    assert "= 7" in titles and "= 3" in titles and "= 14" in titles and "= 11" in titles
    cam_ax = next(ax for ax in fig.axes if ax.get_title().startswith("$M_c"))
    assert [t.get_text() for t in cam_ax.texts] == ["-2", "2", "0", "2", "6", "2", "0", "2", "-1"]
    _assert_centred(cam_ax.get_images()[0].norm)


def test_plot_class_map_title_shows_mean_plus_bias_equals_score():
    cam = np.array([[1.0, -3.0], [2.0, 4.0]])        # mean 1.0
    fig = viz.plot_class_map(IMAGE, cam, "7", score=1.5, bias=0.5, box=(1, 1, 9, 9))
    title = fig.title_text
    assert "1.0000 + 0.5000 = 1.5000" in title and "logit $S_c$ = 1.5000" in title
    shown = [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
    assert "1.0000 + 0.5000 = 1.5000;   the model's logit" in shown  # on screen
    map_ax = fig.axes[1]
    _assert_centred(map_ax.get_images()[0].norm)
    assert map_ax.get_images()[0].get_cmap().name == viz.DIVERGING_CMAP
    assert len(_colorbar_axes(fig)) == 1


def test_plot_contribution_split_parts_add_up():
    fig = viz.plot_contribution_split(CAM)
    parts = [ax.get_images()[0].get_array() for ax in fig.axes if ax.get_images()]
    np.testing.assert_allclose(parts[1] + parts[2], parts[0])
    assert parts[1].min() >= 0 and parts[2].max() <= 0


@pytest.mark.parametrize("normalization", ["minmax", "max", "none"])
def test_plot_cam_overlay_upsamples_then_normalizes(normalization):
    fig = viz.plot_cam_overlay(IMAGE, CAM, alpha=0.3, normalization=normalization,
                               box=(0, 0, 8, 8))
    raw_ax, big_ax, over_ax = fig.axes[:3]
    _assert_centred(raw_ax.get_images()[0].norm)
    big = big_ax.get_images()[0].get_array()
    assert big.shape == (64, 64)
    if normalization == "minmax":
        assert big.min() == pytest.approx(0.0) and big.max() == pytest.approx(1.0)
    if normalization == "max":
        assert big.max() == pytest.approx(1.0)
    if normalization == "none":
        _assert_centred(big_ax.get_images()[0].norm)
    assert over_ax.get_images()[1].get_alpha() == 0.3
    with pytest.raises(ValueError, match="normalization"):
        viz.plot_cam_overlay(IMAGE, CAM, normalization="softmax")


def test_plot_top_k_one_overlay_per_class():
    cams = RNG.normal(size=(3, 16, 16))
    fig = viz.plot_top_k(IMAGE, cams, [4, 1, 7], [0.7, 0.2, 0.05])
    titles = [ax.get_title() for ax in fig.axes if ax.get_images()]
    assert titles[1:] == ["class 4: P = 0.700", "class 1: P = 0.200", "class 7: P = 0.050"]
    with pytest.raises(ValueError, match="cams must be"):
        viz.plot_top_k(IMAGE, cams, [1, 2], [0.5, 0.5])


def test_tensors_on_any_device_are_accepted():
    fig = viz.plot_class_map(torch.from_numpy(IMAGE), torch.from_numpy(CAM).float())
    assert isinstance(fig, Figure)


def test_widget_figures_redraw_fast():
    """The lessons' widget callbacks redraw in well under 100 ms on a laptop (median)."""
    def median_seconds(draw):
        times = []
        for _ in range(3):
            start = time.process_time()  # CPU time: other processes on the machine don't count
            draw()
            plt.close("all")
            times.append(time.process_time() - start)
        return sorted(times)[1]

    calls = [
        lambda: viz.plot_class_map(IMAGE, CAM, "3", score=0.1, bias=0.0, box=(1, 2, 3, 4)),
        lambda: viz.plot_cam_overlay(IMAGE, CAM, 0.5, "minmax", box=(1, 2, 3, 4)),
        lambda: viz.plot_channel(IMAGE, np.abs(CAM), 3, box=(1, 2, 3, 4)),
        lambda: viz.plot_scores(np.arange(10.0), np.full(10, 0.1)),
    ]
    for draw in calls:
        # Figure construction only (no rendering to pixels); a shared 2-core CI machine
        # gets a generous margin over the 100 ms a laptop needs.
        assert median_seconds(draw) < 0.5
