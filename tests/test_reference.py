"""Golden values for camlib.reference, worked by hand on a 2-channel 3×3 example.

    f_1 = [[1, 0, 2],    f_2 = [[0, 1, 0],    w^0 = (1, -1)    b = (0, 1)
           [0, 3, 0],           [2, 0, 2],    w^1 = (0.5, 2)
           [1, 1, 1]]           [0, 1, 0]]

    Σ f_1 = 9, Σ f_2 = 6, Z = 9
    S (sum, no bias)   = (9 - 6, 4.5 + 12)        = (3, 16.5)
    S (mean, bias)     = (1 - 2/3 + 0, 0.5 + 4/3 + 1) = (1/3, 17/6)
    M_0 = f_1 - f_2,  M_1 = 0.5 f_1 + 2 f_2
"""

import doctest

import numpy as np
import pytest

import camcourse.course
import camlib.reference as R

F1 = np.array([[1, 0, 2], [0, 3, 0], [1, 1, 1]], dtype=float)
F2 = np.array([[0, 1, 0], [2, 0, 2], [0, 1, 0]], dtype=float)
FEATURES = np.stack([F1, F2])[None]  # (1, 2, 3, 3)
WEIGHT = np.array([[1.0, -1.0], [0.5, 2.0]])
BIAS = np.array([0.0, 1.0])
M0 = np.array([[1, -1, 2], [-2, 3, -2], [1, 0, 1]], dtype=float)
M1 = np.array([[0.5, 2, 1], [4, 1.5, 4], [0.5, 2.5, 0.5]])


def test_docstring_examples_hold():
    for module in (R, camcourse.course):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0


def test_global_average_pool_sum_and_mean():
    np.testing.assert_array_equal(R.global_average_pool(FEATURES, "sum"), [[9.0, 6.0]])
    np.testing.assert_allclose(R.global_average_pool(FEATURES), [[1.0, 2 / 3]])


def test_global_max_pool_sees_only_the_peak():
    np.testing.assert_array_equal(R.global_max_pool(FEATURES), [[3.0, 2.0]])


def test_class_scores_with_and_without_bias():
    np.testing.assert_allclose(R.class_scores([[9.0, 6.0]], WEIGHT), [[3.0, 16.5]])
    np.testing.assert_allclose(R.class_scores([[1.0, 2 / 3]], WEIGHT, BIAS), [[1 / 3, 17 / 6]])


def test_softmax_by_hand_and_without_overflow():
    np.testing.assert_allclose(R.softmax(np.array([[0.0, np.log(3.0)]])), [[0.25, 0.75]])
    huge = np.array([[1000.0, 1000.0 + np.log(3.0)]])  # exp(1000) overflows float64
    np.testing.assert_allclose(R.softmax(huge), [[0.25, 0.75]])


def test_class_activation_maps_all_classes():
    maps = R.class_activation_maps(FEATURES, WEIGHT)
    assert maps.shape == (1, 2, 3, 3)
    np.testing.assert_allclose(maps[0, 0], M0)
    np.testing.assert_allclose(maps[0, 1], M1)


def test_class_activation_maps_one_class_for_all_or_one_per_sample():
    batch = np.concatenate([FEATURES, 2 * FEATURES])
    np.testing.assert_allclose(R.class_activation_maps(batch, WEIGHT, 1), [M1, 2 * M1])
    np.testing.assert_allclose(R.class_activation_maps(batch, WEIGHT, [1, 0]), [M1, 2 * M0])
    # a 0-d integer array (what logits.argmax() gives for one image) is one int, as in
    # camlib.torch; a 0-d float is refused
    np.testing.assert_allclose(R.class_activation_maps(batch, WEIGHT, np.array(1)), [M1, 2 * M1])
    with pytest.raises(TypeError, match="classes must be integers"):
        R.class_activation_maps(batch, WEIGHT, np.array(1.0))


def test_swapping_the_sums_gives_the_scores():
    # S_c = Σ_{x,y} M_c(x,y) (paper) and S_c = mean M_c + b_c (mean-pooled net with bias).
    assert M0.sum() == 3.0 and M1.sum() == 16.5
    np.testing.assert_allclose([M0.mean() + BIAS[0], M1.mean() + BIAS[1]], [1 / 3, 17 / 6])


def test_upsample_by_hand():
    # Along one axis 2 → 4 with align_corners=False: centres at -0.25 (clamped), 0.25, 0.75, 1.25.
    np.testing.assert_allclose(R.upsample(np.array([[0.0, 1.0]]), (1, 4)), [[0, 0.25, 0.75, 1]])
    ramp = np.array([0, 0.25, 0.75, 1.0])
    expected = ramp[None, :] + 2 * ramp[:, None]  # the map x + 2y is separable
    np.testing.assert_allclose(R.upsample(np.array([[0.0, 1.0], [2.0, 3.0]]), 4), expected)


@pytest.mark.parametrize("size", [(7, 7), (5, 11), (2, 3), (16, 9)])
def test_upsample_matches_torch_interpolate(size):
    torch = pytest.importorskip("torch")
    maps = np.random.default_rng(0).normal(size=(2, 3, 4, 6))
    expected = torch.nn.functional.interpolate(
        torch.from_numpy(maps), size=size, mode="bilinear", align_corners=False
    ).numpy()
    np.testing.assert_allclose(R.upsample(maps, size), expected, rtol=1e-12, atol=1e-12)


def test_normalize_minmax_max_and_constant_maps():
    maps = np.array([[[1.0, 3.0], [5.0, 9.0]], [[2.0, 2.0], [2.0, 2.0]]])
    np.testing.assert_allclose(R.normalize(maps), [[[0, 0.25], [0.5, 1]], np.zeros((2, 2))])
    np.testing.assert_allclose(R.normalize(maps, "max")[0], [[1 / 9, 3 / 9], [5 / 9, 1]])
    np.testing.assert_array_equal(R.normalize(-np.ones((2, 2)), "max"), np.zeros((2, 2)))
    # "max" of a constant positive map is M / M = 1, as the docstring says
    np.testing.assert_array_equal(R.normalize(maps, "max")[1], np.ones((2, 2)))


def test_connected_components_by_hand():
    mask = np.array(
        [
            [1, 1, 0, 0],
            [0, 0, 1, 0],
            [1, 0, 0, 0],
            [1, 0, 1, 1],
        ],
        dtype=bool,
    )
    labels8, count8 = R.connected_components(mask, 8)
    assert count8 == 3
    np.testing.assert_array_equal(
        labels8, [[1, 1, 0, 0], [0, 0, 1, 0], [2, 0, 0, 0], [2, 0, 3, 3]]
    )
    labels4, count4 = R.connected_components(mask, 4)
    assert count4 == 4
    np.testing.assert_array_equal(
        labels4, [[1, 1, 0, 0], [0, 0, 2, 0], [3, 0, 0, 0], [3, 0, 4, 4]]
    )
    np.testing.assert_array_equal(
        R.component_boxes(labels8, count8), [[0, 0, 3, 2], [0, 2, 1, 4], [2, 3, 4, 4]]
    )


def test_bounding_box_keeps_the_largest_component_above_the_threshold():
    cam = np.array(
        [
            [0.9, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.5, 1.0, 0.0],
            [0.0, 0.0, 0.3, 0.6, 0.0],
            [0.1, 0.0, 0.0, 0.0, 0.0],
        ]
    )
    # 20% of max 1.0: {0.9} alone, and the 2×2 block; 0.1 is below.
    assert R.bounding_box(cam, 0.2) == (2, 1, 4, 3)
    # 55%: {0.9} alone and the vertical pair {1.0, 0.6}; the pair is larger.
    assert R.bounding_box(cam, 0.55) == (3, 1, 4, 3)
    # 95%: only the max pixel.
    assert R.bounding_box(cam, 0.95) == (3, 1, 4, 2)
    # A map with no positive value keeps the pixels equal to its max.
    assert R.bounding_box(cam - 2.0, 0.2) == (3, 1, 4, 2)


def test_bounding_box_threshold_after_upsampling_differs_from_before():
    # Thresholding the 2×2 map keeps one cell, which scales to the box (4, 0, 8, 4); the
    # upsampled map spreads the peak bilinearly, so its 20% region is wider and taller.
    coarse = np.array([[0.0, 1.0], [0.0, 0.0]])
    assert R.bounding_box(coarse, 0.2) == (1, 0, 2, 1)
    assert R.bounding_box(R.upsample(coarse, 8), 0.2) == (3, 0, 8, 5)


def test_iou_by_hand():
    assert R.iou((0, 0, 2, 2), (1, 1, 3, 3)) == pytest.approx(1 / 7)
    assert R.iou((0, 0, 2, 2), (0, 0, 2, 2)) == 1.0
    assert R.iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0
    assert R.iou((0, 0, 4, 4), (1, 1, 3, 3)) == pytest.approx(4 / 16)
