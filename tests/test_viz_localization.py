"""camcourse.viz.localization: every figure of lessons 06–10 draws what it says, quickly."""

import statistics
import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from camcourse.viz import localization as viz  # noqa: E402
from camlib import reference  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_everything_in_all_exists_and_is_reexported_by_camlib_viz():
    import camcourse.viz

    for name in viz.__all__:
        assert getattr(camcourse.viz, name) is getattr(viz, name)


def test_one_image_converter_and_one_box_drawer_serve_every_figure():
    import camcourse.viz
    from camcourse.viz import _common, maps

    for module in (camcourse.viz, maps, viz):
        assert module.draw_box is _common.draw_box
    assert camcourse.viz.as_display_image is camcourse.viz.display_image is _common.display_image


def test_bfloat16_maps_and_images_are_drawn():
    cam = torch.zeros(4, 4)
    cam[1, 1] = 1.0
    fig = viz.plot_box_from_cam(torch.rand(3, 16, 16).bfloat16(), cam.bfloat16())
    assert fig.box == viz.plot_box_from_cam(np.zeros((16, 16)), cam.numpy()).box
    out = viz.plot_cam_gallery([np.zeros((3, 8, 8))], torch.rand(1, 2, 2).bfloat16())
    assert out is not None


def test_as_display_image_handles_layouts_and_dtypes():
    chw = np.zeros((3, 2, 4), np.uint8)
    chw[0, 1, 3] = 255
    out = viz.display_image(chw)
    assert out.shape == (2, 4, 3) and out[1, 3, 0] == 1.0 and out.sum() == 1.0
    # Floats outside [0, 1] (a normalized input) are min–max scaled; inside, kept.
    np.testing.assert_allclose(viz.display_image(np.array([[-2.0, 2.0]])), [[0.0, 1.0]])
    np.testing.assert_allclose(viz.display_image(np.array([[0.25, 0.5]])), [[0.25, 0.5]])
    assert viz.display_image(torch.ones(3, 5, 5, requires_grad=True)).shape == (5, 5, 3)
    with pytest.raises(ValueError, match=r"image must be .* got shape \(2, 5, 5\)"):
        viz.display_image(np.zeros((2, 5, 5)))


def test_draw_box_surrounds_exactly_the_half_open_pixels():
    fig, ax = plt.subplots()
    ax.imshow(np.zeros((6, 6)))
    patch = viz.draw_box(ax, (1, 2, 4, 3), color="red")
    # Pixel centres are integers: columns 1..3 span [0.5, 3.5], row 2 spans [1.5, 2.5].
    assert patch.get_xy() == (0.5, 1.5)
    assert (patch.get_width(), patch.get_height()) == (3.0, 1.0)
    with pytest.raises(ValueError, match="box must be 4 numbers"):
        viz.draw_box(ax, (1, 2, 3))


def test_plot_box_from_cam_thresholds_the_upsampled_map():
    cam = np.zeros((4, 4))
    cam[1, 1] = 1.0  # one hot cell: its box at 16 px comes from the bilinear bump
    image = np.zeros((3, 16, 16), np.uint8)
    fig = viz.plot_box_from_cam(image, cam, gt_box=(2, 2, 8, 8), threshold=0.2)
    expected = reference.bounding_box(reference.upsample(cam, 16), 0.2)
    assert fig.box == expected
    assert fig.iou == pytest.approx(reference.iou(expected, (2, 2, 8, 8)))
    # Thresholding the coarse 4×4 map and scaling the box by 4 gives another box.
    assert tuple(4 * v for v in reference.bounding_box(cam, 0.2)) != expected
    assert "IoU" in fig.axes[2].get_title()


def test_plot_box_from_cam_draws_the_reference_box_and_components():
    """Its box is reference.bounding_box's, its component count reference's, for maps with
    many components, ties, a constant map and both connectivities; bad arguments are
    refused as the reference refuses them."""
    rng = np.random.default_rng(3)
    cams = [rng.normal(size=(12, 12)) for _ in range(12)] + [np.zeros((6, 6)),
                                                             -np.ones((5, 7))]
    for i, cam in enumerate(cams):
        threshold, connectivity = (0.05, 0.3, 0.6, 1.0)[i % 4], (4, 8)[i % 2]
        fig = viz.plot_box_from_cam(np.zeros(cam.shape), cam, threshold=threshold,
                                    connectivity=connectivity)
        assert fig.box == reference.bounding_box(cam, threshold, connectivity)
        peak = cam.max()
        _, count = reference.connected_components(
            cam >= (threshold * peak if peak > 0 else peak), connectivity)
        assert fig.axes[1].get_title().startswith(f"mask: {count} component")
        plt.close(fig)
    with pytest.raises(ValueError, match="threshold"):
        viz.plot_box_from_cam(np.zeros((4, 4)), cams[0][:4, :4], threshold=0.0)
    with pytest.raises(ValueError, match="connectivity must be 4 or 8"):
        viz.plot_box_from_cam(np.zeros((4, 4)), cams[0][:4, :4], connectivity=6)
    with pytest.raises(ValueError, match="cam must be finite"):
        viz.plot_box_from_cam(np.zeros((4, 4)), np.full((4, 4), np.nan))


def test_plot_box_from_cam_golden_box_on_a_hand_made_map():
    cam = np.zeros((8, 8))
    cam[2:5, 1:3] = 1.0  # the larger component: columns 1-2, rows 2-4
    cam[6, 6] = 0.9  # a second, single-pixel component
    fig = viz.plot_box_from_cam(np.zeros((8, 8)), cam, gt_box=(1, 2, 3, 5))
    assert fig.box == (1, 2, 3, 5)
    assert fig.iou == 1.0
    assert fig.axes[2].get_title().startswith("IoU = 1.00 (correct")


def test_widget_redraw_is_fast():
    """The lesson-07 widget callback: image × threshold at 64 px from a 16×16 map."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (3, 64, 64), dtype=np.uint8)
    cam = rng.normal(size=(16, 16))
    times = []
    for threshold in (0.1, 0.2, 0.3, 0.5, 0.7):
        start = time.process_time()  # CPU time: other processes on a shared machine don't count
        fig = viz.plot_box_from_cam(image, cam, (10, 10, 40, 40), threshold)
        fig.canvas.draw()
        times.append(time.process_time() - start)
        plt.close(fig)
    # About 100 ms on a laptop; a looser bound for slow CI machines.
    assert statistics.median(times) < 0.25


def test_plot_accuracy_vs_threshold_marks_each_best_threshold():
    thresholds = np.array([0.1, 0.2, 0.3, 0.4])
    fig = viz.plot_accuracy_vs_threshold(thresholds, {"CAM": [0.5, 0.8, 0.6, 0.2],
                                                      "box": [0.3, 0.3, 0.3, 0.3]})
    ax = fig.axes[0]
    dots = [line for line in ax.lines if line.get_marker() == "o"]
    # The flat curve (a fixed box) has no best threshold: no dot, no label.
    assert [(float(d.get_xdata()[0]), float(d.get_ydata()[0])) for d in dots] == [
        (0.2, 80.0)]
    assert [t.get_text() for t in ax.texts] == ["80.0% at 0.20"]
    assert "τ = 0.2" in [t.get_text() for t in ax.get_legend().get_texts()]
    with pytest.raises(ValueError, match="one value per threshold"):
        viz.plot_accuracy_vs_threshold(thresholds, {"bad": [0.1, 0.2]})
    unmarked = viz.plot_accuracy_vs_threshold(thresholds, {"CAM": [0.5, 0.8, 0.6, 0.2]},
                                              marker=None)
    assert all(line.get_linestyle() != ":" for line in unmarked.axes[0].lines)


def test_plot_box_gallery_colours_wrong_boxes():
    images = [np.zeros((8, 8))] * 3
    pred = np.array([[0, 0, 4, 4], [0, 0, 4, 4], [4, 4, 8, 8]])
    gt = np.array([[0, 0, 4, 4], [0, 0, 2, 2], [4, 4, 8, 8]])
    fig = viz.plot_box_gallery(images, pred, gt, columns=3)
    titles = [ax.get_title() for ax in fig.axes[:3]]
    assert titles == ["IoU 1.00", "IoU 0.25", "IoU 1.00"]
    assert fig.axes[1].title.get_color() == viz.PRED_COLOR
    with pytest.raises(ValueError, match="same length"):
        viz.plot_box_gallery(images, pred[:2], gt)


def test_plot_maps_side_by_side_centres_signed_maps_at_zero():
    cam = np.array([[-1.0, 3.0], [0.0, 1.0]])
    fig = viz.plot_maps_side_by_side(np.zeros((4, 4)), {"CAM": cam, "Grad-CAM": np.abs(cam)},
                                     signed=["CAM"])
    signed_image = fig.axes[1].images[0]
    norm = signed_image.norm
    assert (norm.vmin, norm.vcenter, norm.vmax) == (-3.0, 0.0, 3.0)
    assert signed_image.get_array().shape == (4, 4)  # upsampled to the image


def test_plot_training_curves_and_metric_bars():
    fig = viz.plot_training_curves(np.linspace(2, 0.5, 40), [0.1, 0.5, 0.9],
                                   reference_accuracy=0.95)
    assert len(fig.axes) == 2
    assert fig.axes[1].lines[0].get_ydata()[-1] == pytest.approx(90.0)
    with pytest.raises(ValueError, match="losses"):
        viz.plot_training_curves([])
    fig = viz.plot_metric_bars({"16×16": {"acc": 0.9, "loc": 0.8}, "8×8": {"acc": 0.9,
                                                                           "loc": 0.4}})
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == pytest.approx([90.0, 80.0, 90.0, 40.0])


def test_plot_cam_gallery_upsamples_each_map_to_its_image():
    maps = np.zeros((2, 2, 2))
    maps[0, 0, 0] = 1.0
    maps[1] = [[0.0, 1.0], [2.0, 3.0]]
    fig = viz.plot_cam_gallery([np.zeros((3, 4, 4), np.uint8)] * 2, maps, titles=["a", "b"],
                               boxes=np.array([[0, 0, 2, 2], [1, 1, 3, 3]]), columns=3)
    overlay = fig.axes[1].images[1].get_array()
    expected = reference.normalize(reference.upsample(maps[1], 4))
    np.testing.assert_allclose(overlay, expected)
    assert [ax.get_title() for ax in fig.axes[:2]] == ["a", "b"]
    assert not fig.axes[2].axison  # the empty third cell is hidden
    with pytest.raises(ValueError, match="maps must be"):
        viz.plot_cam_gallery([np.zeros((4, 4))], maps)


def test_plot_cam_gallery_draws_the_maps_boxes_solid_beside_the_dashed_truth():
    images = [np.zeros((8, 8))] * 2
    maps = np.zeros((2, 8, 8))
    maps[:, 2:5, 2:5] = 1.0
    fig = viz.plot_cam_gallery(images, maps, boxes=np.array([[0, 0, 4, 4]] * 2),
                               map_boxes=np.array([[2, 2, 5, 5]] * 2), columns=2)
    styles = sorted(p.get_linestyle() for p in fig.axes[0].patches)
    assert styles == ["-", "--"]
    assert len(fig.axes[1].patches) == 2
