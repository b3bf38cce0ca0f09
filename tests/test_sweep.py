"""MaxBoxAcc in one pass (camlib.sweep) gives exactly the numbers of a threshold-by-threshold
evaluation: camlib's own (protocol "camlib") and Choe et al.'s OpenCV code ("choe2020")."""

import numba
import numpy as np
import pytest
import torch
from scipy import ndimage

from camlib import localize as loc
from camlib import reference, sweep
from camlib import torch as ct

GRIDS = {100: [float(t) for t in np.arange(0, 1, 0.01)],
         1000: [float(t) for t in np.arange(0, 1, 0.001)]}


def _per_threshold_curve(maps, gt, thresholds, deltas=(0.3, 0.5, 0.7)):
    """camlib's evaluation before the one-pass sweep: label every mask, one τ at a time."""
    normalized = ct.normalize(maps, "minmax")
    delta = torch.tensor(deltas)
    # Counts, then k/N in float64 as camlib reports them.
    out = {"largest": torch.zeros(len(thresholds), len(deltas), dtype=torch.float64),
           "all": torch.zeros(len(thresholds), len(deltas), dtype=torch.float64)}
    structure = np.ones((3, 3), bool)
    for t, tau in enumerate(thresholds):
        peak = normalized.amax(dim=(1, 2), keepdim=True)
        masks = normalized >= torch.where(peak > 0, peak * tau, peak)
        for i, mask in enumerate(masks.numpy()):
            labels, count = ndimage.label(mask, structure)
            boxes = ct.component_boxes(torch.from_numpy(labels), count)
            sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
            ious = ct.iou(boxes, gt[i].expand(count, 4)).float()
            out["largest"][t] += (ious[int(np.argmax(sizes))] >= delta).double()
            out["all"][t] += (ious.max() >= delta).double()
    return {k: v / len(maps) for k, v in out.items()}


def _course_maps(n=60):
    from camcourse.data import make_cluttered_digits, to_float
    from camcourse.models import load_checkpoint

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
    from camcourse.benchmarks import wsol

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


def _tiny_maps(n=300, seed=0):
    """Small maps of few values: plateaus, ties, thin lines, many components and holes."""
    rng = np.random.default_rng(seed)
    h, w = 6, 7
    maps = rng.integers(0, 5, (n, h, w)).astype(np.float32) / 4
    maps[::5] = (maps[::5] > 0.5) * 1.0  # two values: masks as they are
    corners = np.stack([rng.integers(0, w - 1, n), rng.integers(0, h - 1, n)], 1)
    gt = np.concatenate([corners, corners + 1 + rng.integers(0, 4, (n, 2))], 1)
    gt[:, 2], gt[:, 3] = np.minimum(gt[:, 2], w), np.minimum(gt[:, 3], h)
    return torch.from_numpy(maps), torch.from_numpy(gt)


DELTAS = tuple(float(d) for d in np.linspace(0.05, 0.95, 19))  # sensitive to every box


@pytest.mark.parametrize("seed", [0, 1])
def test_tiny_maps_equal_the_per_threshold_evaluation_at_many_deltas(seed):
    maps, gt = _tiny_maps(seed=seed)
    taus = [0.0, 0.2, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 1.0]
    swept = loc.box_accuracy_curve(maps, gt, taus, DELTAS)
    expected = _per_threshold_curve(maps, gt, taus, DELTAS)
    for key in ("largest", "all"):
        assert torch.equal(swept[key], expected[key]), key
    alone = loc._curves(maps, gt, taus, DELTAS, 1000, "camlib", ("largest",))
    assert torch.equal(alone["largest"], expected["largest"])


@pytest.mark.parametrize("seed", [0, 1])
def test_tiny_maps_equal_the_reference_opencv_code_at_many_deltas(seed):
    pytest.importorskip("cv2")
    from camcourse.benchmarks import wsol

    maps, gt = _tiny_maps(seed=seed)
    taus = [0.0, 0.2, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9]
    for key, every in (("largest", False), ("all", True)):
        swept = loc._curves(maps, gt, taus, DELTAS, 1000, "choe2020", (key,))[key]
        counts = wsol.correct_counts(maps.numpy(), gt.numpy(), taus, DELTAS, every)
        assert np.array_equal((swept * len(maps)).round().long().numpy(), counts), key


@pytest.mark.parametrize("data", ["course", "hard"])
@pytest.mark.parametrize("protocol", ["camlib", "choe2020"])
def test_the_largest_alone_equals_the_largest_read_with_every_component(data, protocol):
    maps, gt = _course_maps() if data == "course" else _hard_maps(seed=3)
    both = loc.box_accuracy_curve(maps, gt, GRIDS[100], DELTAS, protocol=protocol)
    alone = loc._curves(maps, gt, GRIDS[100], DELTAS, 1000, protocol, ("largest",))
    assert torch.equal(alone["largest"], both["largest"])


def test_equal_contour_areas_go_to_the_last_contour_even_after_the_first_one_grows():
    # Two thin components (contour area 0) at every threshold: A enters at (2, 1), then
    # grows up to (0, 1) and starts before B at (0, 5) in raster order. OpenCV lists the
    # contour found last first, and max() keeps the first of equal areas: B's box.
    levels = np.zeros((1, 3, 8), np.int64)
    levels[0, 2, 1] = levels[0, 0, 5] = 3
    levels[0, 1, 0] = 2
    levels[0, 0, 1] = 1
    gt = np.array([[0, 0, 2, 2]])
    # Thresholds from the lowest: B; A, which still starts after B; A, alone at the top.
    expected = [[5, 0, 6, 1], [0, 1, 2, 2], [1, 2, 2, 2]]
    for every in (False, True):
        largest, _ = sweep.threshold_boxes(levels, gt, 3, "choe2020", every=every)
        assert largest[0].tolist() == expected, every
    pytest.importorskip("cv2")
    from camcourse.benchmarks import wsol

    for j, tau in enumerate((0.0, 0.34, 0.67)):  # q = 0, 85, 170, 255: masks of level > j
        boxes = wsol.boxes_at_thresholds(levels[0] / 3, [tau], every_contour=False)[0]
        assert boxes.tolist() == [expected[j]], tau


def _torch_levels(maps, thresholds, protocol):
    """The levels computed with torch operations, as `camlib.torch.normalize` does."""
    flat = maps.reshape(len(maps), -1)
    grid = torch.tensor(thresholds, dtype=torch.float64)
    if protocol == "camlib":
        low, high = flat.aminmax(dim=1, keepdim=True)
        spread = high - low
        values = torch.where(spread > 0, (flat - low) / torch.where(spread > 0, spread, 1), 0)
        peak = values.amax(dim=1, keepdim=True)
        cuts = torch.cat([torch.where(peak > 0, peak * t, peak) for t in thresholds], 1)
        passed = values[..., None] >= cuts[:, None, :]
    else:
        shifted = flat.double() - flat.double().amin(dim=1, keepdim=True)  # the released t2n
        spread = shifted.amax(dim=1, keepdim=True)
        q = (torch.where(spread > 0, shifted / torch.where(spread > 0, spread, 1), 0) * 255)
        q = q.to(torch.uint8).long()
        cuts = (grid * q.amax(dim=1, keepdim=True).double()).floor().long()
        passed = q[..., None] > cuts[:, None, :]
    return passed.sum(-1).reshape(maps.shape).numpy()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("protocol", ["camlib", "choe2020"])
def test_levels_equal_thresholding_the_normalized_tensor(dtype, protocol):
    rng = np.random.default_rng(5)
    maps = rng.standard_normal((60, 9, 11)) * 10.0 ** rng.uniform(-20, 20, (60, 1, 1))
    maps[::6] = 2.5  # constant
    maps[1::6] = np.round(maps[1::6] * 2) / 2  # plateaus
    maps[2::6] += 1e7  # a large offset: the spread is a few ulps
    maps = torch.from_numpy(maps).to(dtype)
    # Cuts closer than the buckets of `sweep._normalized_levels` (1/(16·T + 1) wide), as
    # 0.3 and 0.30001, share a bucket and take its comparison path; equal cuts do not.
    fine = [k / 1000 for k in range(1000)]
    for thresholds in (GRIDS[100], sorted(rng.random(37).tolist()), [0.0, 1.0], fine,
                       [0.3, 0.3, 0.30001, 0.5, 0.5]):
        assert np.array_equal(loc._levels(maps, thresholds, protocol),
                              _torch_levels(maps, thresholds, protocol))


def test_the_curves_do_not_depend_on_how_many_maps_are_swept_at_a_time(monkeypatch):
    maps, gt = _hard_maps(12)
    whole = loc.box_accuracy_curve(maps, gt, GRIDS[100], protocol="choe2020")
    monkeypatch.setattr(loc, "SWEEP_MAPS", 1)  # one thread sweeps a few maps at a time
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        parts = loc.box_accuracy_curve(maps, gt, GRIDS[100], protocol="choe2020",
                                       batch_size=5)
    finally:
        numba.set_num_threads(threads)
    assert all(torch.equal(whole[key], parts[key]) for key in whole)


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
    (lambda: loc.boxes_from_maps(maps_ok, -0.5), ValueError, "threshold"),
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


def test_an_evaluation_of_zero_maps_is_refused():
    for function in (loc.box_accuracy_curve, loc.max_box_acc, loc.max_box_acc_v2):
        with pytest.raises(ValueError, match="maps must hold at least one map"):
            function(torch.zeros(0, 8, 8), torch.zeros(0, 4, dtype=torch.long), (0.5,))


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
    (lambda: ct.bounding_box(torch.rand(2, 5, 5), -1.0), ValueError, "threshold"),
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


def _imagenet_maps(n):
    from camcourse.benchmarks.__main__ import resnet_like_maps

    return resnet_like_maps(n, size=224, grid=7, seed=n)


def test_choe2020_boxes_at_224_equal_the_reference_opencv_code_image_by_image():
    """ImageNet size: every map's box at every threshold of the 100 is the reference's."""
    pytest.importorskip("cv2")
    from camcourse.benchmarks import wsol

    maps, gt = _imagenet_maps(4)
    taus = GRIDS[100]
    largest, best = sweep.threshold_boxes(loc._levels(maps, taus, "choe2020"), gt.numpy(),
                                          len(taus), "choe2020", every=True)
    for i in range(len(maps)):
        expected = wsol.boxes_at_thresholds(wsol.normalize(maps[i].numpy()), taus, False)
        assert np.array_equal(largest[i], np.concatenate(expected)), i
        every = wsol.boxes_at_thresholds(wsol.normalize(maps[i].numpy()), taus, True)
        best_iou = [wsol.inclusive_iou(boxes, gt[i].numpy()).max() for boxes in every]
        assert np.array_equal(wsol.inclusive_iou(best[i], gt[i].numpy()), best_iou), i


def test_camlib_protocol_at_224_equals_the_per_threshold_evaluation_image_by_image():
    maps, gt = _imagenet_maps(3)
    taus = GRIDS[100]
    for i in range(len(maps)):  # one image at a time: the counts are per image
        swept = loc.box_accuracy_curve(maps[i:i + 1], gt[i:i + 1], taus)
        expected = _per_threshold_curve(maps[i:i + 1], gt[i:i + 1], taus)
        for key in ("largest", "all"):
            assert torch.equal(swept[key], expected[key]), (i, key)


@pytest.mark.parametrize("protocol", sweep.PROTOCOLS)
def test_the_boxes_do_not_depend_on_the_number_of_threads(protocol):
    maps, gt = _hard_maps(23, seed=7)
    levels = loc._levels(maps, GRIDS[100], protocol)
    one = sweep.threshold_boxes(levels, gt.numpy(), 100, protocol, threads=1)
    for threads in (2, 5, 64):
        many = sweep.threshold_boxes(levels, gt.numpy(), 100, protocol, threads=threads)
        assert all(np.array_equal(a, b) for a, b in zip(one, many, strict=True)), threads
    flat = maps.reshape(len(maps), -1).numpy()
    ranges = sweep.row_ranges(flat)
    assert np.array_equal(sweep.levels(flat, *ranges, np.array(GRIDS[100]), protocol, 1),
                          sweep.levels(flat, *ranges, np.array(GRIDS[100]), protocol, 3))
    # Levels and sweep in one call, a few maps at a time on each thread: the same boxes.
    for threads, at_a_time in ((1, 1), (1, 8), (2, 3), (3, 8), (64, 2)):
        fused = sweep.map_boxes(flat, maps.shape[1:], np.array(GRIDS[100]),
                                gt.numpy(), protocol, threads=threads, at_a_time=at_a_time)
        assert all(np.array_equal(a, b) for a, b in zip(one, fused, strict=True)), threads


@pytest.mark.parametrize("call", [
    lambda: sweep.levels(np.zeros((1, 4), np.float32), np.zeros(1), np.ones(1),
                         np.array([0.5]), "typo"),
    lambda: sweep.threshold_boxes(np.zeros((1, 2, 2), np.int32), np.zeros((1, 4)), 1, "typo"),
    lambda: loc.max_box_acc(maps_ok, gt_ok, protocol="choe"),
])
def test_a_protocol_is_checked_by_name(call):
    with pytest.raises(ValueError, match="protocol must be one of 'camlib', 'choe2020'"):
        call()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_levels_of_values_at_and_beside_every_cut_equal_thresholding(dtype):
    # Normalized values equal to each cut and one ulp either side: the buckets of the
    # look-up table must never put a value on the wrong side of a cut.
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    for thresholds in (GRIDS[100], [k / 1000 for k in range(1000)], [0.1, 1 / 3, 0.7]):
        cuts = np.asarray(thresholds, np_dtype)
        values = np.concatenate([cuts, np.nextafter(cuts, np_dtype(0)),
                                 np.nextafter(cuts, np_dtype(1)), [0, 1]]).astype(np_dtype)
        maps = torch.from_numpy(values.reshape(1, 1, -1))
        assert np.array_equal(loc._levels(maps, thresholds, "camlib"),
                              _torch_levels(maps, thresholds, "camlib"))


@pytest.mark.parametrize("protocol", sweep.PROTOCOLS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, "overflow"])
def test_map_boxes_refuses_a_map_that_is_not_finite_and_names_it(protocol, bad):
    maps = np.random.default_rng(0).random((5, 36), dtype=np.float32)
    if bad == "overflow":  # every value finite, max − min beyond float32
        maps[3, 0], maps[3, 1] = -3e38, 3e38
    else:
        maps[3, 7] = bad
    with pytest.raises(ValueError, match=r"scores must be finite.*\(map 3\)"):
        sweep.map_boxes(maps, (6, 6), np.array([0.5]), np.zeros((5, 4)), protocol,
                        threads=2, at_a_time=2, name="scores")
    with pytest.raises(ValueError, match="maps must be finite"):
        loc.max_box_acc(torch.from_numpy(maps.reshape(5, 6, 6)), torch.zeros(5, 4).long(),
                        protocol=protocol)
