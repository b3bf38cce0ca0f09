"""The exercise checks of lessons 06–10: a right answer passes, each classic mistake is named."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from camcourse.checks import CheckFailed
from camcourse.checks.lesson06 import exercise_6_1, exercise_6_2
from camcourse.checks.lesson07 import exercise_7_1, exercise_7_2, exercise_7_3
from camcourse.checks.lesson08 import exercise_8_1, exercise_8_2, exercise_8_3
from camcourse.checks.lesson09 import exercise_9_1, exercise_9_2
from camcourse.checks.lesson10 import exercise_10_1, exercise_10_2
from camlib import reference


def failure(check, fn) -> str:
    with pytest.raises(CheckFailed) as info:
        check(fn, verbose=False)
    return str(info.value)


def not_attempted(*args, **kwargs):
    raise NotImplementedError("Exercise")


ALL_CHECKS = [exercise_6_1, exercise_6_2, exercise_7_1, exercise_7_2, exercise_7_3,
              exercise_8_1, exercise_8_2, exercise_8_3, exercise_9_1, exercise_9_2,
              exercise_10_1, exercise_10_2]


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_the_student_placeholder_reads_not_attempted(check):
    # Never raises: a student copy run top to bottom must reach its end.
    result = check(not_attempted, verbose=False)
    assert not result.passed and "not attempted yet" in result.message


def test_checks_are_exported_from_camlib_checks():
    import camcourse.checks

    for check in ALL_CHECKS:
        assert getattr(camcourse.checks, check.__name__) is check


# --- 6.1 -------------------------------------------------------------------------------------


def feature_map_size(size, layers):
    for kernel, stride, padding in layers:
        size = (size + 2 * padding - kernel) // stride + 1
    return size


def test_6_1_right_answer_passes():
    assert exercise_6_1(feature_map_size, verbose=False).passed


def test_6_1_a_side_reaching_0_before_the_last_layer_is_skipped_not_a_crash():
    # Hidden seed 5 draws such a stack; max_pool2d used to raise inside the check.
    assert exercise_6_1(feature_map_size, verbose=False, hidden_seed=5).passed
    assert feature_map_size(2, [(3, 1, 0), (3, 1, 2)]) == 2  # 2 -> 0 -> 2 on paper


def test_6_1_golden_value_the_course_net_keeps_16_by_16():
    assert feature_map_size(64, [(3, 1, 1), (2, 2, 0)] * 2) == 16


def test_6_1_names_missing_padding_and_ceil():
    def no_padding(size, layers):
        for kernel, stride, _ in layers:
            size = (size - kernel) // stride + 1
        return size

    def ceil(size, layers):
        for kernel, stride, padding in layers:
            size = -(-(size + 2 * padding - kernel) // stride) + 1
        return size

    assert "n + 2p" in failure(exercise_6_1, no_padding)
    assert "rounds down" in failure(exercise_6_1, ceil)


# --- 6.2 -------------------------------------------------------------------------------------


def train_step(model, optimizer, images, labels):
    loss = F.cross_entropy(model(images), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def test_6_2_right_answer_passes():
    assert exercise_6_2(train_step, verbose=False).passed


def test_6_2_names_each_mistake():
    def no_zero_grad(model, optimizer, images, labels):
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        return loss.item()

    def no_step(model, optimizer, images, labels):
        loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        return loss.item()

    def softmax_first(model, optimizer, images, labels):
        loss = F.cross_entropy(torch.softmax(model(images), 1), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    def returns_tensor(model, optimizer, images, labels):
        loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    assert "zero_grad" in failure(exercise_6_2, no_zero_grad)
    assert "optimizer.step()" in failure(exercise_6_2, no_step)
    assert "softmax twice" in failure(exercise_6_2, softmax_first)
    assert "loss.item()" in failure(exercise_6_2, returns_tensor)


# --- 7.1 -------------------------------------------------------------------------------------


def iou(box_a, box_b):
    w = max(0, min(box_a[2], box_b[2]) - max(box_a[0], box_b[0]))
    h = max(0, min(box_a[3], box_b[3]) - max(box_a[1], box_b[1]))
    inter = w * h
    area = (box_a[2] - box_a[0]) * (box_a[3] - box_a[1]) + (box_b[2] - box_b[0]) * (
        box_b[3] - box_b[1])
    return inter / (area - inter)


def test_7_1_right_answer_passes_and_golden_value():
    assert iou((0, 0, 2, 2), (1, 0, 3, 2)) == pytest.approx(1 / 3)
    assert exercise_7_1(iou, verbose=False).passed


def test_7_1_names_inclusive_boxes_unclamped_and_missing_subtraction():
    def inclusive(a, b):
        w = max(0, min(a[2], b[2]) - max(a[0], b[0]) + 1)
        h = max(0, min(a[3], b[3]) - max(a[1], b[1]) + 1)
        area = (a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
        return w * h / (area - w * h)

    def unclamped(a, b):
        w = min(a[2], b[2]) - max(a[0], b[0])
        h = min(a[3], b[3]) - max(a[1], b[1])
        area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
        return w * h / (area - w * h)

    def no_subtraction(a, b):
        w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
        return w * h / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]))

    assert "half-open" in failure(exercise_7_1, inclusive)
    assert "clamp" in failure(exercise_7_1, unclamped)
    assert "counted twice" in failure(exercise_7_1, no_subtraction)


# --- 7.2 -------------------------------------------------------------------------------------


def cam_to_box(cam, threshold=0.2):
    return reference.bounding_box(cam, threshold)


def test_7_2_right_answer_passes():
    assert exercise_7_2(cam_to_box, verbose=False).passed


def test_7_2_any_of_the_tied_largest_components_passes():
    from scipy import ndimage

    def last_of_the_tied(cam, threshold=0.2):
        labels, _ = ndimage.label(cam >= threshold * cam.max(), structure=np.ones((3, 3)))
        sizes = np.bincount(labels.ravel())[1:]
        label = len(sizes) - int(np.argmax(sizes[::-1]))  # the last label of the largest
        rows, cols = np.nonzero(labels == label)
        return int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1

    cam = np.zeros((8, 8))
    cam[1:3, 1:3] = cam[5:7, 5:7] = 1.0
    assert last_of_the_tied(cam) == (5, 5, 7, 7) != cam_to_box(cam)
    for seed in (None, 1, 11, 20260101):  # hidden seed 11 draws two tied components
        assert exercise_7_2(last_of_the_tied, verbose=False, hidden_seed=seed).passed


def test_7_2_names_whole_mask_inclusive_end_and_swapped_axes():
    def whole_mask(cam, threshold=0.2):
        rows, cols = np.nonzero(cam >= threshold * cam.max())
        return cols.min(), rows.min(), cols.max() + 1, rows.max() + 1

    def inclusive(cam, threshold=0.2):
        x0, y0, x1, y1 = reference.bounding_box(cam, threshold)
        return x0, y0, x1 - 1, y1 - 1

    def swapped(cam, threshold=0.2):
        x0, y0, x1, y1 = reference.bounding_box(cam, threshold)
        return y0, x0, y1, x1

    assert "largest connected component" in failure(exercise_7_2, whole_mask)
    assert "half-open" in failure(exercise_7_2, inclusive)
    assert "swapped" in failure(exercise_7_2, swapped)


# --- 7.3 -------------------------------------------------------------------------------------


def max_box_acc(ious, iou_threshold=0.5):
    accuracy = (np.asarray(ious) >= iou_threshold).mean(axis=1)
    return float(accuracy.max()), int(accuracy.argmax())


def test_7_3_right_answer_passes_and_golden_value():
    ious = np.array([[0.6, 0.4, 0.5], [0.7, 0.8, 0.1]])
    assert max_box_acc(ious) == (pytest.approx(2 / 3), 0)
    assert exercise_7_3(max_box_acc, verbose=False).passed


def test_7_3_names_the_per_image_oracle_and_the_strict_inequality():
    def per_image(ious, iou_threshold=0.5):
        ious = np.asarray(ious)
        return float((ious >= iou_threshold).any(axis=0).mean()), 0

    def strict(ious, iou_threshold=0.5):
        accuracy = (np.asarray(ious) > iou_threshold).mean(axis=1)
        return float(accuracy.max()), int(accuracy.argmax())

    assert "one threshold for the whole dataset" in failure(exercise_7_3, per_image)
    assert ">=" in failure(exercise_7_3, strict)


# --- 8.1–8.3 ----------------------------------------------------------------------------------


def gradcam_weights(gradients):
    return gradients.mean(dim=(2, 3))


def grad_cam(features, gradients):
    alpha = gradients.mean(dim=(2, 3))
    return torch.relu((alpha[:, :, None, None] * features).sum(dim=1))


def score_gradients(head, features, classes):
    features = features.detach().clone().requires_grad_(True)
    scores = head(features)
    (gradient,) = torch.autograd.grad(scores[torch.arange(len(classes)), classes].sum(),
                                      features)
    return gradient


def test_8_right_answers_pass():
    assert exercise_8_1(gradcam_weights, verbose=False).passed
    assert exercise_8_2(grad_cam, verbose=False).passed
    assert exercise_8_3(score_gradients, verbose=False).passed


def test_8_1_names_sum_instead_of_mean():
    assert "divide by Z" in failure(exercise_8_1, lambda g: g.sum(dim=(2, 3)))


def test_8_2_names_the_missing_relu():
    def no_relu(features, gradients):
        return (gradients.mean(dim=(2, 3))[:, :, None, None] * features).sum(dim=1)

    assert "ReLU" in failure(exercise_8_2, no_relu)


def test_8_3_names_the_probability_gradient():
    def of_probability(head, features, classes):
        features = features.detach().clone().requires_grad_(True)
        p = torch.softmax(head(features), dim=1)
        p[torch.arange(len(classes)), classes].sum().backward()
        return features.grad

    assert "probability" in failure(exercise_8_3, of_probability)


# --- 9.1–9.2 ----------------------------------------------------------------------------------


def preprocess(image):
    x = torch.as_tensor(image, dtype=torch.float32) / 255.0
    x = (x - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor([0.229, 0.224, 0.225])
    return x.permute(2, 0, 1)[None]


def top_k(logits, k):
    return torch.softmax(logits, dim=1).topk(k, dim=1)


def test_9_right_answers_pass():
    assert exercise_9_1(preprocess, verbose=False).passed
    assert exercise_9_2(top_k, verbose=False).passed


def test_9_1_names_missing_division_and_channels_last():
    def no_255(image):
        x = torch.as_tensor(image, dtype=torch.float32)
        x = (x - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor([0.229, 0.224, 0.225])
        return x.permute(2, 0, 1)[None]

    assert "divide by 255" in failure(exercise_9_1, no_255)
    channels_last = lambda image: preprocess(image).permute(0, 2, 3, 1)  # noqa: E731
    assert "wrong order" in failure(exercise_9_1, channels_last)


def test_9_2_names_logits_and_ascending_order():
    assert "logits" in failure(exercise_9_2, lambda s, k: s.topk(k, dim=1))
    assert "ascending" in failure(
        exercise_9_2, lambda s, k: tuple(t.flip(1) for t in torch.softmax(s, 1).topk(k, dim=1)))


# --- 10.1–10.2 --------------------------------------------------------------------------------


def linear_classifier_cam(features, coef, positive=True):
    cam = np.einsum("k,nkhw->nhw", np.asarray(coef).reshape(-1), features)
    return cam if positive else -cam


def gt_known_loc(cams, boxes, threshold=0.2):
    hits = [reference.iou(reference.bounding_box(c, threshold), b) >= 0.5
            for c, b in zip(cams, boxes, strict=True)]
    return float(np.mean(hits))


def test_10_right_answers_pass():
    assert exercise_10_1(linear_classifier_cam, verbose=False).passed
    assert exercise_10_2(gt_known_loc, verbose=False).passed


def test_10_1_names_the_ignored_sign_of_the_negative_class():
    def always_positive(features, coef, positive=True):
        return np.einsum("k,nkhw->nhw", np.asarray(coef).reshape(-1), features)

    assert "negative class" in failure(exercise_10_1, always_positive)


def test_10_2_names_mean_iou_and_percentages():
    def mean_iou(cams, boxes, threshold=0.2):
        return float(np.mean([reference.iou(reference.bounding_box(c, threshold), b)
                              for c, b in zip(cams, boxes, strict=True)]))

    assert "mean IoU" in failure(exercise_10_2, mean_iou)
    assert "percentage" in failure(exercise_10_2, lambda c, b, threshold=0.2: 100 * gt_known_loc(
        c, b, threshold))


# --- grading: hidden cases -----------------------------------------------------------------


RIGHT_ANSWERS = {
    exercise_6_1: feature_map_size, exercise_6_2: train_step, exercise_7_1: iou,
    exercise_7_2: cam_to_box, exercise_7_3: max_box_acc, exercise_8_1: gradcam_weights,
    exercise_8_2: grad_cam, exercise_8_3: score_gradients, exercise_9_1: preprocess,
    exercise_9_2: top_k, exercise_10_1: linear_classifier_cam, exercise_10_2: gt_known_loc,
}


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("seed", [1, 2026])
def test_right_answers_pass_the_hidden_cases(check, seed):
    assert check(RIGHT_ANSWERS[check], verbose=False, hidden_seed=seed).passed


def hidden_failure(check, fn, seed=7) -> str:
    with pytest.raises(CheckFailed) as info:
        check(fn, verbose=False, hidden_seed=seed)
    return str(info.value)


def test_hidden_cases_catch_what_the_visible_ones_let_through():
    # Right only on the sizes and shapes the notebook shows.
    def square_only_size(size, layers):
        return feature_map_size(size, layers) if size in (64, 37, 224) else size // 4

    assert exercise_6_1(square_only_size, verbose=False).passed
    assert "expected" in hidden_failure(exercise_6_1, square_only_size)

    # A CAM box that only works on square maps: flat indices split with the height.
    def square_box(cam, threshold=0.2):
        components, count = reference.connected_components(cam >= threshold * cam.max(), 8)
        sizes = np.bincount(components.ravel(), minlength=count + 1)[1:]
        rows, cols = np.divmod(np.flatnonzero(components == np.argmax(sizes) + 1),
                               cam.shape[0])
        return int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1

    assert exercise_7_2(square_box, verbose=False).passed
    assert "expected" in hidden_failure(exercise_7_2, square_box)

    # top-k that assumes k < C.
    def top_k_short(logits, k):
        return top_k(logits, min(k, logits.shape[1] - 1))

    assert exercise_9_2(top_k_short, verbose=False).passed
    hidden_failure(exercise_9_2, top_k_short)


def test_hidden_6_2_names_a_missing_zero_grad_under_momentum():
    def no_zero_grad(model, optimizer, images, labels):
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        return loss.item()

    assert "zero_grad" in hidden_failure(exercise_6_2, no_zero_grad)


def test_10_1_names_a_relu_and_the_summed_weights():
    def relu_map(features, coef, positive=True):
        return np.maximum(linear_classifier_cam(features, coef, positive), 0)

    def summed_weights(features, coef, positive=True):
        return features.mean(axis=1) * np.asarray(coef).sum() * (1 if positive else -1)

    assert "ReLU" in failure(exercise_10_1, relu_map)
    assert "sum of the weights" in failure(exercise_10_1, summed_weights)


def test_10_2_names_the_strict_inequality():
    def strict(cams, boxes, threshold=0.2):
        return float(np.mean([reference.iou(reference.bounding_box(c, threshold), b) > 0.5
                              for c, b in zip(cams, boxes, strict=True)]))

    assert ">= 0.5" in failure(exercise_10_2, strict)
    assert ">= 0.5" in hidden_failure(exercise_10_2, strict)
