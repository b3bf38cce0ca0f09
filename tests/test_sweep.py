"""MaxBoxAcc in one pass (camlib.sweep) gives exactly the numbers of a threshold-by-threshold
evaluation: camlib's own (protocol "camlib") and Choe et al.'s OpenCV code ("choe2020")."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from camlib import localize as loc
from camlib import reference
from camlib import torch as ct

GRIDS = {100: [float(t) for t in np.arange(0, 1, 0.01)],
         1000: [float(t) for t in np.arange(0, 1, 0.001)]}


def _per_threshold_curve(maps, gt, thresholds, deltas=(0.3, 0.5, 0.7)):
    """camlib's evaluation before the one-pass sweep: label every mask, one τ at a time."""
    normalized = ct.normalize(maps, "minmax")
    delta = torch.tensor(deltas)
    out = {"largest": torch.zeros(len(thresholds), len(deltas)),
           "all": torch.zeros(len(thresholds), len(deltas))}
    structure = np.ones((3, 3), bool)
    for t, tau in enumerate(thresholds):
        peak = normalized.amax(dim=(1, 2), keepdim=True)
        masks = normalized >= torch.where(peak > 0, peak * tau, peak)
        for i, mask in enumerate(masks.numpy()):
            labels, count = ndimage.label(mask, structure)
            boxes = ct.component_boxes(torch.from_numpy(labels), count)
            sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
            ious = ct.iou(boxes, gt[i].expand(count, 4)).float()
            out["largest"][t] += (ious[int(np.argmax(sizes))] >= delta).float()
            out["all"][t] += (ious.max() >= delta).float()
    return {k: v / len(maps) for k, v in out.items()}


def _course_maps(n=60):
    from camlib.data import make_cluttered_digits, to_float
    from camlib.models import load_checkpoint

    test = make_cluttered_digits(n, "test")
    maps, _ = loc.cam_maps(load_checkpoint("gap"), to_float(test.images),
                           torch.from_numpy(test.labels))
    return maps, torch.from_numpy(test.boxes)


def _hard_maps(n=40, seed=0):
    """Noise, rings with holes, plateaus, ties and constant maps, odd sizes."""
    rng = np.random.default_rng(seed)
    maps = rng.random((n, 19, 23)).astype(np.float32)
    maps[1::4] = np.round(maps[1::4] * 3) / 3  # plateaus: many equal values
    yy, xx = np.mgrid[:19, :23]
    for i in range(2, n, 4):  # rings: masks with holes at many thresholds
        r = np.hypot(yy - rng.integers(5, 14), xx - rng.integers(5, 18))
        maps[i] = np.cos(r * rng.uniform(0.5, 1.5)) + 0.1 * rng.random((19, 23))
    maps[3] = 0.5  # constant
    boxes = np.stack([rng.integers(0, 8, n), rng.integers(0, 8, n),
                      rng.integers(10, 23, n), rng.integers(10, 19, n)], 1)
    return torch.from_numpy(maps), torch.from_numpy(boxes)


@pytest.mark.parametrize("grid", [100, pytest.param(1000, marks=pytest.mark.slow)])
@pytest.mark.parametrize("data", ["course", "hard"])
def test_camlib_protocol_equals_the_per_threshold_evaluation(grid, data):
    maps, gt = _course_maps() if data == "course" else _hard_maps()
    taus = GRIDS[grid] if grid == 100 else GRIDS[grid][::7]
    swept = loc.box_accuracy_curve(maps, gt, taus, batch_size=17)
    expected = _per_threshold_curve(maps, gt, taus)
    for key in ("largest", "all"):
        assert torch.equal(swept[key], expected[key]), key


@pytest.mark.parametrize("grid", [100, pytest.param(1000, marks=pytest.mark.slow)])
@pytest.mark.parametrize("data", ["course", "hard"])
def test_choe2020_protocol_equals_the_reference_opencv_code(grid, data):
    pytest.importorskip("cv2")
    from camlib.benchmarks import wsol

    maps, gt = _course_maps() if data == "course" else _hard_maps(seed=grid)
    taus = GRIDS[grid]
    swept = loc.box_accuracy_curve(maps, gt, taus, protocol="choe2020")
    for key, every in (("largest", False), ("all", True)):
        counts = wsol.correct_counts(maps.numpy(), gt.numpy(), taus, every_contour=every)
        assert np.array_equal((swept[key] * len(maps)).round().long().numpy(), counts), key
    v1 = loc.max_box_acc(maps, gt, taus, protocol="choe2020")[0]
    v2 = loc.max_box_acc_v2(maps, gt, taus, protocol="choe2020")
    reference_v1 = wsol.correct_counts(maps.numpy(), gt.numpy(), taus, (0.5,)).max()
    assert round(v1 * len(maps)) == reference_v1 and 0 <= v2 <= 1


def test_unsorted_grids_give_the_rows_in_the_order_asked():
    maps, gt = _hard_maps(12)
    taus = [0.7, 0.1, 0.5, 0.3]
    curve = loc.box_accuracy_curve(maps, gt, taus)
    for row, tau in enumerate(taus):
        single = loc.box_accuracy_curve(maps, gt, [tau])
        assert torch.equal(curve["largest"][row], single["largest"][0])
        assert torch.equal(curve["all"][row], single["all"][0])


maps_ok = torch.rand(2, 8, 8)
gt_ok = torch.tensor([[0, 0, 4, 4], [1, 1, 5, 5]])


@pytest.mark.parametrize("call, error, name", [
    (lambda: loc.box_accuracy_curve(maps_ok, gt_ok, (1.5,)), ValueError, "thresholds"),
    (lambda: loc.box_accuracy_curve(maps_ok, gt_ok, (float("nan"),)), ValueError,
     "thresholds"),
    (lambda: loc.box_accuracy_curve(maps_ok, gt_ok, ()), ValueError, "thresholds"),
    (lambda: loc.box_accuracy_curve(maps_ok, gt_ok, "0.5"), TypeError, "thresholds"),
    (lambda: loc.box_accuracy_curve(maps_ok, gt_ok, (-0.1,)), ValueError, "thresholds"),
    (lambda: loc.box_accuracy_curve(maps_ok, gt_ok, iou_thresholds=(1.2,)), ValueError,
     "iou_thresholds"),
    (lambda: loc.box_accuracy_curve(maps_ok, gt_ok[:1]), ValueError, "gt_boxes"),
    (lambda: loc.box_accuracy_curve(maps_ok, torch.tensor([[0, 0, 4, 4]] * 3)), ValueError,
     "gt_boxes"),
    (lambda: loc.box_accuracy_curve(maps_ok, gt_ok.tolist()), TypeError, "gt_boxes"),
    (lambda: loc.box_accuracy_curve(maps_ok, gt_ok.numpy()), TypeError, "gt_boxes"),
    (lambda: loc.box_accuracy_curve(maps_ok, gt_ok.float()), TypeError, "gt_boxes"),
    (lambda: loc.box_accuracy_curve(maps_ok, gt_ok, batch_size=0), ValueError, "batch_size"),
    (lambda: loc.box_accuracy_curve(maps_ok, gt_ok, batch_size=-1), ValueError, "batch_size"),
    (lambda: loc.box_accuracy_curve(maps_ok, gt_ok, batch_size=1.5), TypeError, "batch_size"),
    (lambda: loc.box_accuracy_curve(maps_ok[0], gt_ok), ValueError, "maps"),
    (lambda: loc.box_accuracy_curve(maps_ok[None], gt_ok), ValueError, "maps"),
    (lambda: loc.box_accuracy_curve(maps_ok.numpy(), gt_ok), TypeError, "maps"),
    (lambda: loc.box_accuracy_curve(torch.full((2, 8, 8), float("nan")), gt_ok), ValueError,
     "maps"),
    (lambda: loc.box_accuracy_curve(maps_ok, gt_ok, protocol="wsol"), ValueError, "protocol"),
    (lambda: loc.box_accuracy_curve(torch.rand(2, 0, 8), gt_ok), ValueError, "maps"),
    (lambda: loc.box_accuracy_curve(torch.rand(2, 8, 8).half().float().masked_fill(
        torch.rand(2, 8, 8) > 0.9, float("inf")), gt_ok, protocol="choe2020"), ValueError,
     "maps"),
    (lambda: loc.boxes_from_maps(torch.rand(2, 8, 0)), ValueError, "maps"),
    (lambda: loc.max_box_acc(maps_ok, gt_ok, (2.0,)), ValueError, "thresholds"),
    (lambda: loc.max_box_acc(maps_ok, gt_ok[:1]), ValueError, "gt_boxes"),
    (lambda: loc.max_box_acc_v2(maps_ok, gt_ok, ()), ValueError, "thresholds"),
    (lambda: loc.max_box_acc_v2(maps_ok[0], gt_ok), ValueError, "maps"),
    (lambda: loc.boxes_from_maps(maps_ok, 1.5), ValueError, "threshold"),
    (lambda: loc.boxes_from_maps(maps_ok, 0.0), ValueError, "threshold"),
    (lambda: loc.boxes_from_maps(maps_ok, float("nan")), ValueError, "threshold"),
    (lambda: loc.boxes_from_maps(maps_ok, "0.2"), TypeError, "threshold"),
    (lambda: loc.boxes_from_maps(maps_ok[0]), ValueError, "maps"),
    (lambda: loc.boxes_from_maps(maps_ok.numpy()), TypeError, "maps"),
    (lambda: loc.boxes_from_maps(torch.full((1, 4, 4), float("inf"))), ValueError, "maps"),
    (lambda: loc.boxes_from_maps(torch.full((1, 4, 4), float("nan"))), ValueError, "maps"),
])
def test_bad_input_gets_a_clear_error_naming_the_argument(call, error, name):
    with pytest.raises(error, match=name):
        call()


def test_an_empty_batch_gives_zero_curves():
    curve = loc.box_accuracy_curve(torch.zeros(0, 8, 8), torch.zeros(0, 4, dtype=torch.long),
                                   (0.5,), (0.5,))
    assert curve["largest"].tolist() == [[0.0]] and curve["all"].tolist() == [[0.0]]


def _labels():
    return torch.tensor([[[1, 0, 2], [1, 0, 0]]])


@pytest.mark.parametrize("call, error, name", [
    (lambda: ct.connected_components(torch.rand(2, 4, 4)), TypeError, "mask"),
    (lambda: ct.connected_components(np.zeros((4, 4), bool)), TypeError, "mask"),
    (lambda: ct.connected_components(torch.zeros(4, dtype=torch.bool)), ValueError, "mask"),
    (lambda: ct.connected_components(torch.zeros(2, 4, 4, dtype=torch.bool), 6), ValueError,
     "connectivity"),
    (lambda: ct.component_boxes(_labels(), torch.tensor([1.5])), TypeError, "count"),
    (lambda: ct.component_boxes(_labels(), -1), ValueError, "count"),
    (lambda: ct.component_boxes(_labels(), 1.5), ValueError, "count"),
    (lambda: ct.component_boxes(-_labels(), 2), ValueError, "labels"),
    (lambda: ct.component_boxes(_labels().float(), 2), TypeError, "labels"),
    (lambda: ct.component_boxes(_labels().numpy(), 2), TypeError, "labels"),
    (lambda: ct.bounding_box(torch.rand(2, 0, 5)), ValueError, "cams"),
    (lambda: ct.bounding_box(torch.rand(2, 5, 5), 0.0), ValueError, "threshold"),
    (lambda: ct.bounding_box(torch.rand(2, 5, 5), 1.5), ValueError, "threshold"),
    (lambda: ct.bounding_box(torch.full((2, 5, 5), float("nan"))), ValueError, "cams"),
    (lambda: ct.bounding_box(torch.rand(2, 5, 5), connectivity=3), ValueError, "connectivity"),
    (lambda: reference.component_boxes(np.array([[1, 0], [0, 2]]), 1.5), TypeError, "count"),
    (lambda: reference.component_boxes(np.array([[1, 0], [0, 2]]), -1), ValueError, "count"),
    (lambda: reference.component_boxes(np.array([[1.0, 0.0]]), 1), TypeError, "labels"),
    (lambda: reference.bounding_box(np.zeros((0, 4))), ValueError, "cam"),
    (lambda: reference.bounding_box(np.full((3, 3), np.nan)), ValueError, "cam"),
    (lambda: reference.connected_components(np.zeros((3, 3))), TypeError, "mask"),
])
def test_components_and_boxes_refuse_bad_input_by_name(call, error, name):
    with pytest.raises(error, match=name):
        call()


@pytest.mark.parametrize("connectivity", [4, 8])
def test_cpu_labels_equal_the_bounded_device_algorithm(connectivity):
    masks = torch.from_numpy(np.random.default_rng(connectivity).random((9, 21, 17)) < 0.5)
    labels, counts = ct.connected_components(masks, connectivity)
    rounds_labels, rounds_counts, rounds = ct._label_rounds(masks, connectivity)
    assert torch.equal(labels, rounds_labels) and torch.equal(counts, rounds_counts)
    assert 1 <= rounds <= 21 * 17
    single, count = ct.connected_components(masks[0], connectivity)
    assert torch.equal(single, labels[0]) and count == counts[0]
