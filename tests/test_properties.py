"""Property tests: the CAM identities, linearity of upsampling, NumPy == Torch, scipy labels.

Random inputs come from a seed drawn by hypothesis, so a failure prints a reproducible
example. scipy is used here only, as the independent judge of connected components.
"""

import numpy as np
import pytest
import scipy.ndimage as ndi
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import camlib.reference as ref
import camlib.torch as ct

# Modest and without deadlines: the whole file runs in seconds on a busy 2-core machine.
fast = settings(max_examples=80, deadline=None)

dims = st.integers(1, 5)
seeds = st.integers(0, 2**32 - 1)
sizes = st.tuples(st.integers(1, 12), st.integers(1, 12))


def problem(seed: int, n: int, k: int, h: int, w: int, c: int):
    """features (N, K, H, W), weight (C, K), bias (C,) in float64."""
    rng = np.random.default_rng(seed)
    scale = 10.0 ** rng.uniform(-2, 2)
    return (
        rng.standard_normal((n, k, h, w)) * scale,
        rng.standard_normal((c, k)),
        rng.standard_normal(c),
    )


def both(features, weight, bias):
    """The same inputs for the reference (arrays) and camlib.torch (float64 tensors)."""
    return [
        (ref, features, weight, bias),
        (ct, torch.from_numpy(features), torch.from_numpy(weight), torch.from_numpy(bias)),
    ]


def numpy(x) -> np.ndarray:
    return x.double().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=float)


def close(a, b, rtol: float) -> None:
    a, b = numpy(a), numpy(b)
    assert a.shape == b.shape
    scale = max(np.abs(b).max(initial=0.0), 1.0)
    assert np.abs(a - b).max(initial=0.0) <= rtol * scale


# --- the identities of the paper, to 1e-10 in float64 -----------------------------------------


@fast
@given(seeds, dims, dims, dims, dims, dims)
def test_sum_pooling_no_bias_score_is_sum_of_map(seed, n, k, h, w, c):
    """S_c = Σ_k w_k^c Σ_{x,y} f_k(x, y) = Σ_{x,y} M_c(x, y)."""
    for lib, f, wt, _ in both(*problem(seed, n, k, h, w, c)):
        scores = lib.class_scores(lib.global_average_pool(f, reduce="sum"), wt)
        maps = lib.class_activation_maps(f, wt)
        close(maps.sum(axis=(2, 3)) if lib is ref else maps.sum(dim=(2, 3)), scores, 1e-10)


@fast
@given(seeds, dims, dims, dims, dims, dims)
def test_mean_pooling_with_bias_score_is_mean_of_map_plus_bias(seed, n, k, h, w, c):
    """S_c = Σ_k w_k^c (1/Z) Σ_{x,y} f_k(x, y) + b_c = (1/Z) Σ_{x,y} M_c(x, y) + b_c."""
    for lib, f, wt, b in both(*problem(seed, n, k, h, w, c)):
        scores = lib.class_scores(lib.global_average_pool(f), wt, b)
        maps = lib.class_activation_maps(f, wt)
        mean = maps.mean(axis=(2, 3)) if lib is ref else maps.mean(dim=(2, 3))
        close(mean + b, scores, 1e-10)


@fast
@given(seeds, dims, dims, dims, dims, dims, sizes)
def test_upsampling_commutes_with_the_weighting(seed, n, k, h, w, c, size):
    """upsample(Σ_k w_k^c f_k) = Σ_k w_k^c upsample(f_k): bilinear resampling is linear."""
    for lib, f, wt, _ in both(*problem(seed, n, k, h, w, c)):
        first = lib.upsample(lib.class_activation_maps(f, wt), size)
        second = lib.class_activation_maps(lib.upsample(f, size), wt)
        close(first, second, 1e-10)


@fast
@given(seeds, dims, dims, dims, dims, dims)
def test_per_class_maps_are_slices_of_all_maps(seed, n, k, h, w, c):
    f, wt, _ = problem(seed, n, k, h, w, c)
    classes = np.random.default_rng(seed).integers(0, c, size=n)
    for lib, f_, w_, _ in both(f, wt, np.zeros(c)):
        every = numpy(lib.class_activation_maps(f_, w_))
        some = lib.class_activation_maps(f_, w_, [int(i) for i in classes])
        close(some, every[np.arange(n), classes], 1e-12)  # another summation order


# --- camlib.torch (float32) == camlib.reference (float64) ---------------------------------


@fast
@given(seeds, dims, dims, dims, dims, dims, sizes)
def test_torch_float32_matches_reference(seed, n, k, h, w, c, size):
    f, wt, b = problem(seed, n, k, h, w, c)
    f32, w32, b32 = (torch.from_numpy(a.astype(np.float32)) for a in (f, wt, b))
    f, wt, b = (a.astype(np.float32).astype(np.float64) for a in (f, wt, b))  # same inputs
    tol = 1e-5
    close(ct.global_average_pool(f32), ref.global_average_pool(f), tol)
    close(ct.global_average_pool(f32, "sum"), ref.global_average_pool(f, "sum"), tol)
    close(ct.global_max_pool(f32), ref.global_max_pool(f), tol)
    scores = ref.class_scores(ref.global_average_pool(f), wt, b)
    close(ct.class_scores(ct.global_average_pool(f32), w32, b32), scores, tol)
    close(ct.softmax(torch.from_numpy(scores.astype(np.float32))), ref.softmax(scores), tol)
    maps = ref.class_activation_maps(f, wt)
    close(ct.class_activation_maps(f32, w32), maps, tol)
    m32 = torch.from_numpy(maps.astype(np.float32))
    close(ct.upsample(m32, size), ref.upsample(numpy(m32), size), tol)
    for mode in ("minmax", "max"):
        close(ct.normalize(m32, mode), ref.normalize(numpy(m32), mode), tol)


# --- components and boxes == scipy.ndimage ----------------------------------------------------


def random_masks(seed: int, n: int, h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.random((n, h, w)) < rng.uniform(0.1, 0.9)


def scipy_structure(connectivity: int) -> np.ndarray:
    return ndi.generate_binary_structure(2, 1 if connectivity == 4 else 2)


@pytest.mark.parametrize("connectivity", [4, 8])
@fast
@given(seed=seeds, n=st.integers(1, 4), size=sizes)
def test_components_equal_scipy_label(connectivity, seed, n, size):
    masks = random_masks(seed, n, *size)
    labels, counts = ct.connected_components(torch.from_numpy(masks), connectivity)
    for i, mask in enumerate(masks):
        expected, count = ndi.label(mask, scipy_structure(connectivity))
        mine, mine_count = ref.connected_components(mask, connectivity)
        assert mine_count == count and np.array_equal(mine, expected)
        assert int(counts[i]) == count and np.array_equal(labels[i].numpy(), expected)


@pytest.mark.parametrize("connectivity", [4, 8])
@fast
@given(seed=seeds, n=st.integers(1, 4), size=sizes)
def test_component_boxes_equal_scipy_find_objects(connectivity, seed, n, size):
    masks = random_masks(seed, n, *size)
    labels, counts = ct.connected_components(torch.from_numpy(masks), connectivity)
    boxes = ct.component_boxes(labels, counts)
    for i, mask in enumerate(masks):
        expected, count = ndi.label(mask, scipy_structure(connectivity))
        slices = ndi.find_objects(expected)
        scipy_boxes = [[s[1].start, s[0].start, s[1].stop, s[0].stop] for s in slices]
        assert ref.component_boxes(expected, count).tolist() == scipy_boxes
        assert boxes[i, :count].tolist() == scipy_boxes
        assert not boxes[i, count:].any()


@pytest.mark.parametrize("connectivity", [4, 8])
@fast
@given(
    seed=seeds,
    n=st.integers(1, 4),
    coarse=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    size=sizes,
    threshold=st.floats(0.01, 1.0),
)
def test_bounding_box_equals_scipy_and_reference(connectivity, seed, n, coarse, size, threshold):
    rng = np.random.default_rng(seed)
    cams = ref.upsample(rng.standard_normal((n, *coarse)), size).astype(np.float32)
    boxes = ct.bounding_box(torch.from_numpy(cams), threshold, connectivity)
    for i, cam in enumerate(cams):
        peak = cam.max()
        mask = cam >= (threshold * peak if peak > 0 else peak)
        labels, count = ndi.label(mask, scipy_structure(connectivity))
        largest = int(np.argmax(np.bincount(labels.ravel())[1:])) + 1
        rows, cols = ndi.find_objects(labels)[largest - 1]
        expected = (cols.start, rows.start, cols.stop, rows.stop)
        assert ref.bounding_box(cam, threshold, connectivity) == expected
        assert tuple(boxes[i].tolist()) == expected


@fast
@given(st.lists(st.integers(0, 9), min_size=8, max_size=8))
def test_iou_torch_equals_reference(values):
    a = sorted(values[0:2]), sorted(values[2:4])
    b = sorted(values[4:6]), sorted(values[6:8])
    box_a = (a[0][0], a[1][0], a[0][1], a[1][1])
    box_b = (b[0][0], b[1][0], b[0][1], b[1][1])
    expected = ref.iou(box_a, box_b)
    assert 0.0 <= expected <= 1.0
    got = ct.iou(torch.tensor([box_a]), torch.tensor([box_b]))
    assert got.item() == pytest.approx(expected, rel=1e-6, abs=1e-7)
    assert ref.iou(box_b, box_a) == expected
