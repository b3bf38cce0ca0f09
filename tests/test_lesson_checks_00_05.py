"""The exercise checks of lessons 00–05: the reference solution passes, and each classic
mistake fails with a message that names it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from camcourse.checks import CheckFailed
from camcourse.checks.lesson00 import exercise_0_1, exercise_0_2
from camcourse.checks.lesson01 import exercise_1_1, exercise_1_2
from camcourse.checks.lesson02 import exercise_2_1, exercise_2_2, exercise_2_3
from camcourse.checks.lesson03 import exercise_3_1, exercise_3_2
from camcourse.checks.lesson04 import exercise_4_1, exercise_4_2, exercise_4_3
from camcourse.checks.lesson05 import exercise_5_1, exercise_5_2, exercise_5_3, exercise_5_4
from camlib import reference


def failure(check, fn) -> str:
    with pytest.raises(CheckFailed) as info:
        check(fn, verbose=False)
    return str(info.value)


def passes(check, fn) -> bool:
    return check(fn, verbose=False).passed


def not_attempted(*args, **kwargs):
    raise NotImplementedError("Exercise")


ALL_CHECKS = [exercise_0_1, exercise_0_2, exercise_1_1, exercise_1_2, exercise_2_1,
              exercise_2_2, exercise_2_3, exercise_3_1, exercise_3_2, exercise_4_1,
              exercise_4_2, exercise_4_3, exercise_5_1, exercise_5_2, exercise_5_3,
              exercise_5_4]


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_the_student_placeholder_reads_not_attempted(check):
    # Never raises: a student copy run top to bottom must reach its end.
    result = check(not_attempted, verbose=False)
    assert not result.passed and "not attempted yet" in result.message


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_a_function_returning_none_is_named(check):
    assert "returned None" in failure(check, lambda *args, **kwargs: None)


def test_checks_are_exported_from_camlib_checks():
    import camcourse.checks

    for check in ALL_CHECKS:
        assert getattr(camcourse.checks, check.__name__) is check


# --- 0.1, 0.2 ------------------------------------------------------------------------------


def test_0_1_right_answer_passes_and_golden_value():
    def to_unit_float(images):
        return images.astype(np.float32) / 255.0

    assert passes(exercise_0_1, to_unit_float)
    np.testing.assert_allclose(to_unit_float(np.array([0, 51, 255], np.uint8)), [0, 0.2, 1])


def test_0_1_forgetting_to_divide_is_named():
    assert "forget to divide by 255" in failure(exercise_0_1, lambda x: x.astype(float))


def test_0_1_integer_division_is_named():
    assert "integer" in failure(exercise_0_1, lambda x: x // 255)


def test_0_1_in_place_change_is_named():
    def in_place(images):
        images //= 2
        return images.astype(float) / 127.5

    assert "in place" in failure(exercise_0_1, in_place)


def crop_box(image, box):
    x0, y0, x1, y1 = box
    return image[:, y0:y1, x0:x1]


def test_0_2_right_answer_passes():
    assert passes(exercise_0_2, crop_box)


def test_0_2_swapped_x_and_y_is_named():
    message = failure(exercise_0_2, lambda im, b: im[:, b[0]:b[2], b[1]:b[3]])
    assert "x and y are swapped" in message


def test_0_2_inclusive_box_is_named():
    message = failure(exercise_0_2, lambda im, b: im[:, b[1]:b[3] + 1, b[0]:b[2] + 1])
    assert "half-open" in message


# --- 1.1, 1.2 ------------------------------------------------------------------------------


def capture_output(model, layer, images):
    stored = {}
    handle = layer.register_forward_hook(lambda m, i, o: stored.update(out=o.detach()))
    try:
        with torch.no_grad():
            model(images)
    finally:
        handle.remove()
    return stored["out"]


def test_1_1_right_answer_passes():
    assert passes(exercise_1_1, capture_output)


def test_1_1_a_hook_left_behind_is_named():
    def leaves_hook(model, layer, images):
        stored = {}
        layer.register_forward_hook(lambda m, i, o: stored.update(out=o.detach()))
        model(images)
        return stored["out"]

    assert "still registered" in failure(exercise_1_1, leaves_hook)


def test_1_1_no_finally_is_named():
    def no_finally(model, layer, images):
        stored = {}
        handle = layer.register_forward_hook(lambda m, i, o: stored.update(out=o.detach()))
        model(images)
        handle.remove()
        return stored["out"]

    assert "finally" in failure(exercise_1_1, no_finally)


def test_1_1_the_input_instead_of_the_output_fails():
    def keeps_input(model, layer, images):
        stored = {}
        handle = layer.register_forward_hook(lambda m, i, o: stored.update(out=i[0].detach()))
        try:
            model(images)
        finally:
            handle.remove()
        return stored["out"]

    assert "Exercise 1.1" in failure(exercise_1_1, keeps_input)


def strongest_location(features):
    n, k, h, w = features.shape
    flat = features.reshape(n, k, -1).argmax(-1)
    return np.stack([flat % w, flat // w], axis=-1)


def test_1_2_right_answer_passes_and_golden_value():
    assert passes(exercise_1_2, strongest_location)
    f = np.zeros((1, 1, 2, 3))
    f[0, 0, 1, 2] = 5.0                        # row y = 1, column x = 2
    assert strongest_location(f).tolist() == [[[2, 1]]]


def test_1_2_y_x_order_is_named():
    assert "(y, x)" in failure(exercise_1_2, lambda f: strongest_location(f)[..., ::-1])


# --- 2.1, 2.2, 2.3 ---------------------------------------------------------------------------


def test_2_1_right_answer_passes():
    assert passes(exercise_2_1, lambda f, reduce="mean": reference.global_average_pool(f, reduce))


def test_2_1_sum_instead_of_mean_is_scale_by_z():
    message = failure(exercise_2_1, lambda f, reduce="mean": f.sum(axis=(2, 3)))
    assert "Z = H·W = 20 times too large" in message


def test_2_1_wrong_axes_is_a_shape_error():
    message = failure(exercise_2_1, lambda f, reduce="mean": f.mean(axis=(1, 2)))
    assert "shape (2, 5), expected (2, 3)" in message


def test_2_2_right_answer_passes_and_golden_value():
    def counts(k, h, w, c):
        return k * h * w * c + c, k * c + c

    assert passes(exercise_2_2, counts)
    assert counts(128, 16, 16, 10) == (327690, 1290)


def test_2_2_missing_biases_are_named():
    assert "missing the C biases" in failure(exercise_2_2, lambda k, h, w, c: (k * h * w * c,
                                                                              k * c))


def test_2_2_swapped_order_is_named():
    assert "wrong order" in failure(exercise_2_2, lambda k, h, w, c: (k * c + c,
                                                                      k * h * w * c + c))


def test_2_2_returning_one_number_is_named():
    assert "should return two values" in failure(exercise_2_2, lambda k, h, w, c: k * c)


def test_2_3_right_answer_passes():
    assert passes(exercise_2_3, reference.global_max_pool)


def test_2_3_mean_instead_of_max_is_named():
    assert "that is GAP" in failure(exercise_2_3, lambda f: f.mean(axis=(2, 3)))


def test_2_3_max_of_abs_is_named():
    assert "|f_k|" in failure(exercise_2_3, lambda f: np.abs(f).max(axis=(2, 3)))


# --- 3.1, 3.2 ------------------------------------------------------------------------------


def test_3_1_right_answer_passes():
    assert passes(exercise_3_1, reference.class_scores)


def test_3_1_missing_bias_is_named():
    assert "missing the bias b_c" in failure(exercise_3_1, lambda p, w, b: p @ w.T)


def test_3_1_bias_twice_is_named():
    assert "b_c twice" in failure(exercise_3_1, lambda p, w, b: p @ w.T + 2 * b)


def test_3_2_right_answer_passes():
    assert passes(exercise_3_2, reference.softmax)


def test_3_2_naive_softmax_overflows_and_is_named():
    def naive(s):
        with np.errstate(over="ignore", invalid="ignore"):
            return np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)

    message = failure(exercise_3_2, naive)
    assert "near ±800" in message and "overflow" in message


def test_3_2_normalizing_over_the_batch_is_named():
    message = failure(exercise_3_2, lambda s: np.exp(s) / np.exp(s).sum(axis=0))
    assert "over the images" in message


# --- 4.1, 4.2, 4.3 ---------------------------------------------------------------------------


def test_4_1_right_answer_passes():
    assert passes(exercise_4_1, lambda f, w: np.einsum("ck,nkhw->nchw", w, f))


def test_4_1_relu_is_named():
    message = failure(exercise_4_1, lambda f, w: np.maximum(reference.class_activation_maps(f, w),
                                                            0))
    assert "ReLU" in message


def test_4_1_channels_last_is_named():
    message = failure(exercise_4_1, lambda f, w: np.einsum("ck,nkhw->nhwc", w, f))
    assert "axes are in the wrong order" in message


def test_4_1_dividing_by_z_is_named():
    def averaged(f, w):
        return reference.class_activation_maps(f, w) / (f.shape[2] * f.shape[3])

    assert "Z = H·W = 21 times too small" in failure(exercise_4_1, averaged)


def scores_from_maps(maps, bias, reduce="mean"):
    total = maps.sum(axis=(2, 3))
    return (total / (maps.shape[2] * maps.shape[3]) if reduce == "mean" else total) + bias


def test_4_2_right_answer_passes_for_both_poolings():
    assert passes(exercise_4_2, scores_from_maps)
    maps = np.arange(12.0).reshape(1, 2, 2, 3)       # Z = 6
    bias = np.array([1.0, -1.0])
    np.testing.assert_allclose(scores_from_maps(maps, bias, "sum"), [[16.0, 50.0]])
    np.testing.assert_allclose(scores_from_maps(maps, bias, "mean"), [[1.0 + 15 / 6,
                                                                       -1.0 + 51 / 6]])


def test_4_2_paper_sum_for_a_mean_pooled_net_is_named():
    message = failure(exercise_4_2, lambda m, b, reduce="mean": m.sum(axis=(2, 3)) + b)
    assert 'reduce="mean": 1/Z is missing' in message


def test_4_2_missing_bias_is_named():
    message = failure(exercise_4_2, lambda m, b, reduce="mean": scores_from_maps(m, 0 * b,
                                                                                 reduce))
    assert "b_c is missing" in message


def test_4_2_bias_divided_by_z_is_named():
    def bias_averaged(m, b, reduce="mean"):
        return (m.sum(axis=(2, 3)) + b) / (m.shape[2] * m.shape[3])

    assert "b_c is misplaced, divided by Z" in failure(exercise_4_2, bias_averaged)


def predicted_class_maps(features, weight, bias):
    scores = reference.class_scores(reference.global_average_pool(features), weight, bias)
    return reference.class_activation_maps(features, weight, scores.argmax(1))


def test_4_3_right_answer_passes():
    assert passes(exercise_4_3, predicted_class_maps)


def test_4_3_ignoring_the_bias_is_named():
    def no_bias(features, weight, bias):
        scores = reference.class_scores(reference.global_average_pool(features), weight)
        return reference.class_activation_maps(features, weight, scores.argmax(1))

    assert "without the bias" in failure(exercise_4_3, no_bias)


def test_4_3_argmin_is_named():
    def lowest(features, weight, bias):
        scores = reference.class_scores(reference.global_average_pool(features), weight, bias)
        return reference.class_activation_maps(features, weight, scores.argmin(1))

    assert "argmax, not argmin" in failure(exercise_4_3, lowest)


# --- 5.1, 5.2, 5.3 ---------------------------------------------------------------------------


def upsample_with(**options):
    def upsample_maps(maps, size):
        tensor = torch.from_numpy(maps)[:, None]
        return F.interpolate(tensor, size=size, **options)[:, 0]
    return upsample_maps


def test_5_1_right_answer_passes_torch_or_numpy():
    assert passes(exercise_5_1, upsample_with(mode="bilinear", align_corners=False))
    assert passes(exercise_5_1, reference.upsample)


def test_5_1_align_corners_true_is_named():
    message = failure(exercise_5_1, upsample_with(mode="bilinear", align_corners=True))
    assert "align_corners=True" in message


def test_5_1_nearest_is_named():
    assert "nearest" in failure(exercise_5_1, upsample_with(mode="nearest"))


def test_5_2_right_answer_passes():
    assert passes(exercise_5_2, reference.normalize)


def test_5_2_nan_on_a_constant_map_is_named():
    def unguarded(maps, mode="minmax"):
        low = maps.min(axis=(1, 2), keepdims=True)
        high = maps.max(axis=(1, 2), keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (maps - low) / (high - low) if mode == "minmax" else maps / high

    message = failure(exercise_5_2, unguarded)
    assert "constant (max - min = 0)" in message and "became NaN" in message


def test_5_2_one_scale_for_the_whole_batch_is_named():
    def global_scale(maps, mode="minmax"):
        return (maps - maps.min()) / (maps.max() - maps.min())

    assert "each map over its own" in failure(exercise_5_2, global_scale)


def test_5_2_ignoring_the_mode_is_named():
    message = failure(exercise_5_2, lambda maps, mode="minmax": reference.normalize(maps))
    assert 'mode="max" asks for M / max M' in message


def threshold_mask(cam, fraction=0.2):
    peak = cam.max()
    return cam >= (fraction * peak if peak > 0 else peak)


def test_5_3_right_answer_passes():
    assert passes(exercise_5_3, threshold_mask)


def test_5_3_a_map_with_no_positive_value_keeps_its_maximum_as_camlib_does():
    cam = np.array([[-3.0, -1.0], [-1.0, -2.0]])
    assert threshold_mask(cam).tolist() == [[False, True], [True, False]]
    # The same rule as camlib's boxes: the box of that mask is reference.bounding_box's.
    assert reference.bounding_box(cam, 0.2) == (0, 0, 2, 2)


def test_5_3_forgetting_the_no_positive_value_rule_is_named():
    message = failure(exercise_5_3, lambda cam, fraction: cam >= fraction * cam.max())
    assert "mask is empty" in message


def test_5_3_strict_inequality_is_named():
    assert "you used >" in failure(exercise_5_3, lambda cam, fraction: cam > fraction * cam.max())


def test_5_3_minmax_threshold_is_named():
    def on_minmax(cam, fraction):
        return reference.normalize(cam[None])[0] >= fraction

    assert "fraction of the max" in failure(exercise_5_3, on_minmax)


def cam_pipeline(cam, size, fraction=0.2):
    big = reference.upsample(cam, size)
    return reference.normalize(big), threshold_mask(big, fraction), \
        reference.bounding_box(big, fraction)


def test_5_4_right_answer_passes():
    assert passes(exercise_5_4, cam_pipeline)


def test_5_4_any_of_the_tied_largest_components_passes():
    from scipy import ndimage

    def last_of_the_tied(cam, size, fraction=0.2):
        big = reference.upsample(cam, size)
        peak = big.max()
        mask = big >= (fraction * peak if peak > 0 else peak)
        labels, _ = ndimage.label(mask, structure=np.ones((3, 3)))
        sizes = np.bincount(labels.ravel())[1:]
        rows, cols = np.nonzero(labels == len(sizes) - int(np.argmax(sizes[::-1])))
        box = int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1
        return reference.normalize(big, "minmax"), mask, box

    for seed in (None, 1, 122, 161, 20260101):  # hidden seed 122 draws two tied components
        assert exercise_5_4(last_of_the_tied, verbose=False, hidden_seed=seed).passed


def test_5_4_each_out_of_order_step_is_named():
    def normalize_first(cam, size, fraction=0.2):
        _, mask, box = cam_pipeline(cam, size, fraction)
        return reference.upsample(reference.normalize(cam), size), mask, box

    def threshold_first(cam, size, fraction=0.2):
        heat, _, box = cam_pipeline(cam, size, fraction)
        small = threshold_mask(cam, fraction).astype(float)
        return heat, reference.upsample(small, size) >= 0.5, box

    assert "you normalized before upsampling" in failure(exercise_5_4, normalize_first)
    assert "thresholded the coarse map and then resized" in failure(exercise_5_4,
                                                                   threshold_first)


# --- the checks themselves ----------------------------------------------------------------


def test_checking_1_1_leaves_the_learners_global_random_state_alone():
    torch.manual_seed(1234)
    expected = torch.rand(3)
    torch.manual_seed(1234)
    exercise_1_1(capture_output, verbose=False)
    exercise_1_1(capture_output, verbose=False, hidden_seed=7)
    # Before, the check called torch.manual_seed itself and this draw came out different.
    assert torch.equal(torch.rand(3), expected)
    assert torch.initial_seed() == 1234


def test_1_1_networks_are_the_same_on_every_run():
    first = exercise_1_1(capture_output, verbose=False).message
    torch.manual_seed(99)
    assert exercise_1_1(capture_output, verbose=False).message == first


def test_a_failing_check_shows_the_learners_line_not_camlibs():
    def crop_box(image, box):
        x0, y0, x1, y1 = box
        return image[:, y0:y1, x0:x1] + undefined_name  # noqa: F821

    message = failure(exercise_0_2, crop_box)
    assert "NameError" in message and "image[:, y0:y1, x0:x1] + undefined_name" in message
    assert "camlib" not in message


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_hidden_inputs_are_not_the_notebooks(check):
    from camcourse.checks import Context

    visible = Context(check.exercise).rng.normal(size=4)
    hidden = Context(check.exercise, hidden_seed=5).rng.normal(size=4)
    assert not np.array_equal(visible, hidden)


def test_pick_uses_the_learners_function_only_after_it_passed(capsys):
    from camcourse.checks import pick

    def upsample_maps(maps, size):
        return reference.upsample(maps, size)

    assert pick("5.1", upsample_maps, reference.upsample) is reference.upsample
    assert "not solved yet" in capsys.readouterr().out
    exercise_5_1(upsample_maps, verbose=False)
    assert pick("5.1", upsample_maps, reference.upsample) is upsample_maps
    assert "Using your upsample_maps" in capsys.readouterr().out
    exercise_5_1(lambda maps, size: reference.upsample(maps, size) * 2, raise_on_fail=False,
                 verbose=False)
    assert pick("5.1", upsample_maps, reference.upsample) is reference.upsample
