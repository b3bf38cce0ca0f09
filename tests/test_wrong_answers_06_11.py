"""The catalogue of plausible wrong answers for the exercises of lessons 06–11.

The same contract as tests/test_wrong_answers_00_05.py: each entry is a function a
learner could write, and words its check's message must contain (the mistake named,
never the generic "values differ"); it must fail on the notebook's inputs and on hidden
grading inputs (tests/test_wrong_answers.py runs both catalogues). The classes: wrong
axis, off by one, wrong connectivity, wrong tie-breaking, a constant hard-coded to the
check's inputs, and changing the caller's data or model.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from camlib import reference


def _step_fresh_optimizer(model, optimizer, images, labels):
    fresh = type(optimizer)(model.parameters(), **optimizer.defaults)  # its momentum lost
    loss = F.cross_entropy(model(images), labels)
    fresh.zero_grad()
    loss.backward()
    fresh.step()
    return loss.item()


def _step_zero_grad_last(model, optimizer, images, labels):
    loss = F.cross_entropy(model(images), labels)
    loss.backward()  # onto the gradients the model arrived with
    optimizer.step()
    optimizer.zero_grad()
    return loss.item()


def _scores_grad_left_on_head(head, features, classes):
    f = features.detach().clone().requires_grad_(True)
    head(f)[torch.arange(len(classes)), classes].sum().backward()  # fills the head's .grad
    return f.grad


def _scores_head_made_float(head, features, classes):
    head.float()  # converts the caller's head in place
    f = features.detach().float().requires_grad_(True)
    (grad,) = torch.autograd.grad(head(f)[torch.arange(len(classes)), classes].sum(), f)
    return grad


def _acc_strict_unless_default(ious, iou_threshold=0.5):
    correct = ious >= 0.5 if iou_threshold == 0.5 else ious > iou_threshold
    accuracy = correct.mean(axis=1)
    return float(accuracy.max()), int(np.argmax(accuracy))


def _acc_index_at_half(ious, iou_threshold=0.5):
    accuracy = (ious >= iou_threshold).mean(axis=1)
    return float(accuracy.max()), int(np.argmax((ious >= 0.5).mean(axis=1)))


# --- 6.1 / 6.2 ------------------------------------------------------------------------------


def _size_true_division(size, layers):
    for kernel, stride, padding in layers:
        size = (size + 2 * padding - kernel) / stride + 1
    return size


def _size_hard_coded(size, layers):
    return 16  # the course net's 64 -> 16


def _size_off_by_one(size, layers):
    for kernel, stride, padding in layers:
        size = (size + 2 * padding - kernel) // stride
    return size


def _step_zero_grad_after_backward(model, optimizer, images, labels):
    loss = F.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
    return loss.item()


def _step_before_backward(model, optimizer, images, labels):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(images), labels)
    optimizer.step()
    loss.backward()
    return loss.item()


def _step_returns_graph(model, optimizer, images, labels):
    loss = F.cross_entropy(model(images), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss


def _step_loss_after_update(model, optimizer, images, labels):
    optimizer.zero_grad()
    F.cross_entropy(model(images), labels).backward()
    optimizer.step()
    with torch.no_grad():
        return F.cross_entropy(model(images), labels).item()


# --- 7.x -------------------------------------------------------------------------------------


def _iou_parts(a, b):
    w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    return w * h, area_a, area_b


def _iou_over_smaller(a, b):
    inter, area_a, area_b = _iou_parts(a, b)
    return inter / min(area_a, area_b)


def _iou_floor(a, b):
    inter, area_a, area_b = _iou_parts(a, b)
    return inter // (area_a + area_b - inter)


def _iou_inclusive(a, b):
    return _iou_parts((a[0], a[1], a[2] + 1, a[3] + 1), (b[0], b[1], b[2] + 1, b[3] + 1)) and (
        lambda i, x, y: i / (x + y - i))(*_iou_parts((a[0], a[1], a[2] + 1, a[3] + 1),
                                                  (b[0], b[1], b[2] + 1, b[3] + 1)))


def _box_4_connected(cam, threshold=0.2):
    return reference.bounding_box(cam, threshold, 4)


def _box_inclusive(cam, threshold=0.2):
    x0, y0, x1, y1 = reference.bounding_box(cam, threshold)
    return x0, y0, x1 - 1, y1 - 1


def _box_fixed_level(cam, threshold=0.2):
    return reference.bounding_box(np.where(cam >= threshold, 1.0, 0.0), 1.0)


def _acc_last_best(ious, iou_threshold=0.5):
    accuracy = (ious >= iou_threshold).mean(axis=1)
    best = 0
    for t in range(len(accuracy)):
        if accuracy[t] >= accuracy[best]:
            best = t
    return float(accuracy[best]), best


def _acc_one_based(ious, iou_threshold=0.5):
    accuracy = (ious >= iou_threshold).mean(axis=1)
    return float(accuracy.max()), int(accuracy.argmax()) + 1


def _acc_nan(ious, iou_threshold=0.5):
    return float("nan"), int(((ious >= iou_threshold).mean(axis=1)).argmax())


def _acc_wrong_axis(ious, iou_threshold=0.5):
    accuracy = (ious >= iou_threshold).mean(axis=0)
    return float(accuracy.max()), int(accuracy.argmax())


# --- 8.x -------------------------------------------------------------------------------------


def _scores_predicted(head, features, classes):
    f = features.detach().clone().requires_grad_(True)
    scores = head(f)
    scores[torch.arange(len(classes)), scores.argmax(dim=1)].sum().backward()
    return f.grad


def _scores_in_place(head, features, classes):
    features.requires_grad_(True)
    scores = head(features)
    (grad,) = torch.autograd.grad(scores[torch.arange(len(classes)), classes].sum(), features)
    return grad


def _scores_block(head, features, classes):
    f = features.detach().clone().requires_grad_(True)
    head(f)[:, classes].sum().backward()
    return f.grad


# --- 9.2 -------------------------------------------------------------------------------------


def _top_k_dim0(logits, k):
    return torch.softmax(logits, dim=0).topk(k, dim=1)


def _top_k_swapped(logits, k):
    values, indices = torch.softmax(logits, dim=1).topk(k, dim=1)
    return indices, values


def _top_k_softmax_of_k(logits, k):
    values, indices = logits.topk(k, dim=1)
    return torch.softmax(values, dim=1), indices


# --- 10.2 ------------------------------------------------------------------------------------


def _loc_at(fixed):
    def gt_known_loc(cams, boxes, threshold=0.2):
        return float(np.mean([reference.iou(reference.bounding_box(c, fixed), b) >= 0.5
                              for c, b in zip(cams, boxes, strict=True)]))
    return gt_known_loc


def _loc_strict(cams, boxes, threshold=0.2):
    return float(np.mean([reference.iou(reference.bounding_box(c, threshold), b) > 0.5
                          for c, b in zip(cams, boxes, strict=True)]))


def _loc_misses(cams, boxes, threshold=0.2):
    return float(np.mean([reference.iou(reference.bounding_box(c, threshold), b) < 0.5
                          for c, b in zip(cams, boxes, strict=True)]))


# --- 11.x ------------------------------------------------------------------------------------


def _instance_4_connected(cam, threshold=0.2):
    peak = cam.max()
    labels, count = reference.connected_components(
        cam >= (threshold * peak if peak > 0 else peak), connectivity=4)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    boxes = reference.component_boxes(labels, count)
    return [tuple(int(v) for v in boxes[i]) for i in np.argsort(-sizes, kind="stable")]


def _instance_by_area(cam, threshold=0.2):
    peak = cam.max()
    labels, count = reference.connected_components(
        cam >= (threshold * peak if peak > 0 else peak), connectivity=8)
    boxes = [tuple(int(v) for v in b) for b in reference.component_boxes(labels, count)]
    return sorted(boxes, key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))


def _spearman_pearson(a, b):
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def _spearman_per_row(a, b):
    from scipy.stats import spearmanr

    a, b = np.atleast_2d(a), np.atleast_2d(b)
    return float(np.mean([spearmanr(x, y).statistic for x, y in zip(a, b, strict=True)]))


def _spearman_argsort_ranks(a, b):
    ra = np.argsort(np.argsort(np.ravel(a))).astype(float)
    rb = np.argsort(np.argsort(np.ravel(b))).astype(float)
    return float(np.corrcoef(ra, rb)[0, 1])


def _mass_no_relu(cam, box):
    x0, y0, x1, y1 = box
    return float(cam[y0:y1, x0:x1].sum() / cam.sum())


def _mass_swapped(cam, box):
    x0, y0, x1, y1 = box
    positive = np.maximum(cam, 0)
    total = positive.sum()
    return float(positive[x0:x1, y0:y1].sum() / total) if total > 0 else 0.0


def _mass_inclusive(cam, box):
    x0, y0, x1, y1 = box
    positive = np.maximum(cam, 0)
    total = positive.sum()
    return float(positive[y0:y1 + 1, x0:x1 + 1].sum() / total) if total > 0 else 0.0


# --- findings of a learner's review: each once passed or got another mistake's message ---


def _step_in_eval_mode(model, optimizer, images, labels):
    model.eval()
    optimizer.zero_grad()
    loss = F.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step()
    return loss.item()


def _iou_xywh(a, b):
    return reference.iou((a[0], a[1], a[0] + a[2], a[1] + a[3]),
                         (b[0], b[1], b[0] + b[2], b[1] + b[3]))


def _box_strict(cam, threshold=0.2):
    labels, count = reference.connected_components(cam > threshold * cam.max(), 8)
    if count == 0:
        return reference.bounding_box(cam, threshold)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    return tuple(int(v) for v in reference.component_boxes(labels, count)[np.argmax(sizes)])


def _acc_by_mean_iou(ious, iou_threshold=0.5):
    best = int(np.asarray(ious).mean(axis=1).argmax())
    return float((np.asarray(ious)[best] >= iou_threshold).mean()), best


def _grad_cam_channel_mean(features, gradients):
    alpha = gradients.mean(dim=(2, 3))
    return torch.relu((alpha[:, :, None, None] * features).mean(dim=1))


def _grad_cam_no_relu(features, gradients):
    return (gradients.mean(dim=(2, 3))[:, :, None, None] * features).sum(dim=1)


def _grad_cam_pixelwise(features, gradients):
    return torch.relu((gradients * features).sum(dim=1))


def _scores_batch_mean(head, features, classes):
    f = features.detach().clone().requires_grad_(True)
    head(f)[torch.arange(len(classes)), classes].mean().backward()
    return f.grad


def _scores_cross_entropy(head, features, classes):
    f = features.detach().clone().requires_grad_(True)
    F.cross_entropy(head(f), torch.as_tensor(classes), reduction="sum").backward()
    return f.grad


_MEAN = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
_STD = torch.tensor([0.229, 0.224, 0.225])[:, None, None]


def _preprocess_reshape(image):
    h, w, _ = image.shape
    return (torch.as_tensor(image).float().div(255).reshape(1, 3, h, w) - _MEAN) / _STD


def _preprocess_mean_only(image):
    return torch.as_tensor(image).float().div(255).permute(2, 0, 1)[None] - _MEAN


def _preprocess_std_only(image):
    return torch.as_tensor(image).float().div(255).permute(2, 0, 1)[None] / _STD


def _acc_pair_swapped(ious, iou_threshold=0.5):
    accuracy = (ious >= iou_threshold).mean(axis=1)
    return int(np.argmax(accuracy)), float(accuracy.max())


def _preprocess_255_last(image):
    return ((torch.as_tensor(image).float().permute(2, 0, 1)[None] - _MEAN) / _STD) / 255


def _preprocess_mean_std_swapped(image):
    return (torch.as_tensor(image).float().div(255).permute(2, 0, 1)[None] - _STD) / _MEAN


def _top_k_skips_the_best(logits, k):
    values, indices = torch.softmax(logits, dim=1).topk(k + 1, dim=1)
    return values[:, 1:], indices[:, 1:]


def _top_k_float_classes(logits, k):
    values, indices = torch.softmax(logits, dim=1).topk(k, dim=1)
    return values, indices.float()


def _loc_with(box_of):
    def gt_known_loc(cams, boxes, threshold=0.2):
        return float(np.mean([reference.iou(box_of(c, threshold), b) >= 0.5
                              for c, b in zip(cams, boxes, strict=True)]))
    return gt_known_loc


def _loc_inclusive_iou(cams, boxes, threshold=0.2):
    def iou(a, b):  # + 1 on every side
        w = min(a[2], b[2]) - max(a[0], b[0]) + 1
        h = min(a[3], b[3]) - max(a[1], b[1]) + 1
        inter = max(w, 0) * max(h, 0)
        return inter / ((a[2] - a[0] + 1) * (a[3] - a[1] + 1)
                        + (b[2] - b[0] + 1) * (b[3] - b[1] + 1) - inter)
    return float(np.mean([iou(reference.bounding_box(c, threshold), b) >= 0.5
                          for c, b in zip(cams, boxes, strict=True)]))


def _whole_mask(cam, threshold):
    rows, cols = np.nonzero(cam >= threshold * cam.max())
    return int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1


def _swapped(cam, threshold):
    x0, y0, x1, y1 = reference.bounding_box(cam, threshold)
    return y0, x0, y1, x1


def _spearman_method(method):
    def rank_correlation(a, b):
        from scipy.stats import rankdata

        return float(np.corrcoef(rankdata(np.ravel(a), method=method),
                                 rankdata(np.ravel(b), method=method))[0, 1])
    return rank_correlation


def _instance_no_single_pixels(cam, threshold=0.2):
    peak = cam.max()
    labels, count = reference.connected_components(
        cam >= (threshold * peak if peak > 0 else peak), connectivity=8)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    boxes = reference.component_boxes(labels, count)
    return [tuple(int(v) for v in boxes[i]) for i in np.argsort(-sizes, kind="stable")
            if sizes[i] > 1]


def _size_one_sided_padding(size, layers):
    for kernel, stride, padding in layers:
        size = (size + padding - kernel) // stride + 1
    return size


def _grad_cam_relu_on_features(features, gradients):
    alpha = gradients.mean(dim=(2, 3))
    return torch.einsum("nk,nkhw->nhw", alpha, torch.relu(features))


def _size_same_padding_shortcut(size, layers):
    for kernel, stride, padding in layers:
        size = (-(-size // stride) if padding == kernel // 2
                else (size + 2 * padding - kernel) // stride + 1)
    return size


def _train_step_clipped(model, optimizer, images, labels):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(images), labels)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    optimizer.step()
    return loss.item()


def _grad_cam_relu_on_features_and_sum(features, gradients):
    alpha = gradients.mean(dim=(2, 3))
    return torch.einsum("nk,nkhw->nhw", alpha, torch.relu(features)).clamp(min=0)


def _box_of_label(labels, k):
    rows, cols = np.nonzero(labels == k)
    return int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1


def _size_two_floors(size, layers):
    for kernel, stride, padding in layers:
        size = (size - kernel) // stride + 2 * padding // stride + 1
    return size


def _box_by(key):
    def cam_to_box(cam, threshold):
        labels, count = reference.connected_components(cam >= threshold * cam.max())
        return _box_of_label(labels, 1 + int(np.argmax([key(cam, labels, k)
                                                         for k in range(1, count + 1)])))
    return cam_to_box


def _gt_known_loc_first_component(cams, boxes, threshold=0.2):
    hits = []
    for cam, box in zip(cams, boxes, strict=True):
        labels, _ = reference.connected_components(cam >= threshold * cam.max())
        hits.append(reference.iou(_box_of_label(labels, 1), tuple(box)) >= 0.5)
    return float(np.mean(hits))


def _gt_known_loc_peak_component(cams, boxes, threshold=0.2):
    hits = []
    for cam, box in zip(cams, boxes, strict=True):
        labels, _ = reference.connected_components(cam >= threshold * cam.max())
        mine = _box_of_label(labels, labels.flat[int(np.argmax(cam))])
        hits.append(reference.iou(mine, box) >= 0.5)
    return float(np.mean(hits))


def _gt_known_loc_clipped(cams, boxes, threshold=0.2):
    hits = []
    for cam, box in zip(cams, boxes, strict=True):
        x0, y0, x1, y1 = reference.bounding_box(cam, threshold)
        h, w = cam.shape
        hits.append(reference.iou((x0, y0, min(x1, w - 1), min(y1, h - 1)), box) >= 0.5)
    return float(np.mean(hits))


def _mass_inside_clipped(cam, box):
    x0, y0, x1, y1 = box
    positive = np.maximum(cam, 0.0)
    total = positive.sum()
    inside = positive[y0:min(y1, cam.shape[0] - 1), x0:min(x1, cam.shape[1] - 1)].sum()
    return float(inside / total) if total > 0 else 0.0


def _mass_inside_integral(cam, box):
    """A summed-area table guarded for y0 = 0 but not for x0 = 0 (S[:, -1] wraps)."""
    x0, y0, x1, y1 = box
    positive = np.maximum(cam, 0.0)
    table = positive.cumsum(0).cumsum(1)
    inside = table[y1 - 1, x1 - 1] - table[y1 - 1, x0 - 1]
    if y0 > 0:
        inside -= table[y0 - 1, x1 - 1] - table[y0 - 1, x0 - 1]
    total = positive.sum()
    return float(inside / total) if total > 0 else 0.0



# --- a level from the wrong maximum, min–max after a ReLU, NumPy's reversed views -----------


def _box_level_from_abs(cam, threshold=0.2):
    # threshold × max|cam|: a trough deeper than the peak raises the level.
    cam = np.asarray(cam, dtype=np.float64)
    return reference.bounding_box(cam, threshold * np.abs(cam).max() / cam.max())


def _instance_level_from_abs(cam, threshold=0.2):
    # threshold × max|cam|: a trough deeper than the peak raises the level.
    mask = cam >= threshold * np.abs(cam).max()
    if not mask.any():  # the rule for a map with no positive value, kept
        mask = cam == cam.max()
    labels, count = reference.connected_components(mask)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    boxes = reference.component_boxes(labels, count)
    return [tuple(int(v) for v in boxes[i]) for i in np.argsort(-sizes, kind="stable")]


def _loc_relu_then_minmax(cams, boxes, threshold=0.2):
    hits = []
    for cam, box in zip(cams, boxes, strict=True):
        positive = np.maximum(cam, 0)
        scaled = (positive - positive.min()) / (positive.max() - positive.min())
        hits.append(reference.iou(reference.bounding_box(scaled, threshold), box) >= 0.5)
    return float(np.mean(hits))


def _loc_batch_level(cams, boxes, threshold=0.2):
    # cams >= threshold * cams.max(): one level for the whole batch.
    level = threshold * cams.max()
    hits = []
    for cam, box in zip(cams, boxes, strict=True):
        if not (cam >= level).any():
            hits.append(False)
            continue
        hits.append(reference.iou(reference.bounding_box(cam, level / cam.max()), box) >= 0.5)
    return float(np.mean(hits))


def _box_centre_rounded_half(cam, threshold=0.2):
    # A box from the component's centre and half-sizes: fractional corners, which int()
    # would have truncated to the right box.
    x0, y0, x1, y1 = reference.bounding_box(cam, threshold)
    return x0 + 0.5, y0 + 0.5, x1 + 0.5, y1 + 0.5


def _instance_boxes_float_halves(cam, threshold=0.2):
    peak = cam.max()
    labels, count = reference.connected_components(
        cam >= (threshold * peak if peak > 0 else peak), 8)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    boxes = reference.component_boxes(labels, count)
    return [tuple(float(v) + 0.5 for v in boxes[i]) for i in np.argsort(-sizes, kind="stable")]


def _top_k_numpy_reversed(logits, k):
    # Honest: NumPy arrays sorted descending by a reversed view (negative strides).
    probabilities = torch.softmax(logits, dim=1).numpy()
    order = np.argsort(probabilities, axis=1)[:, ::-1][:, :k]
    return np.take_along_axis(probabilities, order, axis=1), order


RIGHT = {
    "7.2": [lambda cam, threshold=0.2: torch.tensor(reference.bounding_box(cam, threshold)),
            lambda cam, threshold=0.2: tuple(
                float(v) for v in reference.bounding_box(cam, threshold))],
    "9.2": [_top_k_numpy_reversed],
}


WRONG = [
    # 6.1 ---------------------------------------------------------------------------------
    ("6.1", "true division", _size_true_division, ["not a whole number", "//"]),
    ("6.1", "hard-coded 16", _size_hard_coded, ["returned 16 for every"]),
    ("6.1", "off by one (no + 1)", _size_off_by_one, ["the + 1", "is missing"]),
    ("6.1", "two floors, (n - k) // s + 2p // s", _size_two_floors,
     ["rounded (n - k) / s and 2p / s down separately"]),
    ("6.1", "'same' padding read as n / s", _size_same_padding_shortcut,
     ["an even kernel gives one more"]),
    ("6.2", "gradients clipped to norm 5", _train_step_clipped,
     ["the parameters differ from plain SGD"]),
    ("7.2", "largest by mass", _box_by(lambda cam, labels, k: cam[labels == k].sum()),
     ["the most mass"]),
    ("7.2", "largest by box area", _box_by(lambda cam, labels, k: (
        lambda b: (b[2] - b[0]) * (b[3] - b[1]))(_box_of_label(labels, k))),
     ["the largest box"]),
    ("7.2", "the first component", _box_by(lambda cam, labels, k: -k),
     ["first component (label 1"]),
    ("8.2", "ReLU on the features and on the sum", _grad_cam_relu_on_features_and_sum,
     ["applied the ReLU to the features"]),
    ("10.2", "the first component", _gt_known_loc_first_component,
     ["first component (label 1"]),
    ("10.2", "the peak's component", _gt_known_loc_peak_component,
     ["the component that holds the peak"]),
    ("10.2", "boxes clipped to W − 1, H − 1", _gt_known_loc_clipped,
     ["clipped x1 and y1 to W − 1 and H − 1"]),
    ("11.1", "box clipped to W − 1, H − 1", _mass_inside_clipped,
     ["clipped x1 and y1 to W − 1 and H − 1"]),
    ("11.1", "summed-area table wrapping at x0 = 0", _mass_inside_integral,
     ["a box along the map's edges"]),
    ("11.3", "the first five boxes only", lambda cam, threshold=0.2: __import__(
        "camcourse.checks.lesson11", fromlist=["_instance_boxes"])._instance_boxes(
        cam, threshold)[:5], ["on a 17×23 map"]),
    ("6.1", "padding on one side (n + p)", _size_one_sided_padding, ["n + 2p, not n + p"]),
    # 6.2 ---------------------------------------------------------------------------------
    ("6.2", "zero_grad after backward", _step_zero_grad_after_backward,
     ["optimizer.step() was called", "zero_grad() before loss.backward()"]),
    ("6.2", "step before backward", _step_before_backward,
     ["optimizer.step() was called", "before loss.backward()"]),
    ("6.2", "returns the graph", _step_returns_graph, ["loss.item()", "graph"]),
    ("6.2", "loss after the update", _step_loss_after_update, ["before the update"]),
    # 7.1 ---------------------------------------------------------------------------------
    ("7.1", "over the smaller area", _iou_over_smaller, ["smaller box's area"]),
    ("7.1", "integer division", _iou_floor, ["integer division"]),
    ("7.1", "inclusive boxes", _iou_inclusive, ["inclusive boxes"]),
    ("7.1", "NaN", lambda a, b: float("nan"), ["returned nan"]),
    # 7.2 ---------------------------------------------------------------------------------
    ("7.2", "4-connected", _box_4_connected, ["4-connectivity"]),
    ("7.2", "inclusive box", _box_inclusive, ["inclusive"]),
    ("7.2", "fixed level", _box_fixed_level, ["fixed value `threshold`"]),
    # 7.3 ---------------------------------------------------------------------------------
    ("7.3", "last best threshold", _acc_last_best, ["the last of them", "first"]),
    ("7.3", "one-based index", _acc_one_based, ["off by one"]),
    ("7.3", "NaN accuracy", _acc_nan, ["accuracy nan"]),
    ("7.3", "wrong axis", _acc_wrong_axis, ["wrong axis"]),
    # 8.3 ---------------------------------------------------------------------------------
    ("8.3", "predicted class", _scores_predicted, ["predicted class"]),
    ("8.3", "caller's tensor changed", _scores_in_place, ["caller's tensor"]),
    ("8.3", "(N, N) block of scores", _scores_block, ["one score per sample"]),
    # 9.2 ---------------------------------------------------------------------------------
    ("9.2", "softmax over dim 0", _top_k_dim0, ["wrong axis (dim=0"]),
    ("9.2", "pair swapped", _top_k_swapped, ["(probabilities, classes)"]),
    ("9.2", "softmax of the k best only", _top_k_softmax_of_k, ["over all C classes"]),
    # 10.2 --------------------------------------------------------------------------------
    ("10.2", "hard-coded 0.2", _loc_at(0.2), ["fixed 0.2"]),
    ("10.2", "hard-coded 0.5", _loc_at(0.5), ["fixed 0.5"]),
    ("10.2", "strict > 0.5", _loc_strict, [">= 0.5"]),
    ("10.2", "fraction of misses", _loc_misses, ["fraction that are right"]),
    # 11.1 --------------------------------------------------------------------------------
    ("11.1", "no ReLU", _mass_no_relu, ["max(M, 0)"]),
    ("11.1", "x and y swapped", _mass_swapped, ["swapped"]),
    ("11.1", "inclusive box", _mass_inclusive, ["half-open"]),
    # 11.2 --------------------------------------------------------------------------------
    ("11.2", "Pearson on values", _spearman_pearson, ["Pearson"]),
    ("11.2", "per row", _spearman_per_row, ["flatten"]),
    ("11.2", "argsort ranks", _spearman_argsort_ranks, ["average rank"]),
    # 11.3 --------------------------------------------------------------------------------
    ("11.3", "4-connected", _instance_4_connected, ["8-connectivity"]),
    ("11.3", "level from max|cam|", _instance_level_from_abs, ["max|cam|"]),
    ("11.3", "sorted by box area", _instance_by_area, ["wrong order"]),
    ("11.3", "every box inclusive", lambda cam, threshold=0.2: [
        (x0, y0, x1 - 1, y1 - 1) for x0, y0, x1, y1 in _instance_4_connected(cam, threshold)],
     ["expected"]),
    # review findings ------------------------------------------------------------------------
    ("6.2", "train step in eval mode", _step_in_eval_mode, ["model.eval()", "train mode"]),
    ("7.1", "(x, y, w, h) boxes", _iou_xywh, ["(x, y, width, height)"]),
    ("7.2", "strict > threshold", _box_strict, ["strictly above", ">="]),
    ("7.3", "threshold by mean IoU", _acc_by_mean_iou, ["best mean IoU"]),
    ("8.2", "mean over channels", _grad_cam_channel_mean, ["averaged", "over the channels"]),
    ("8.2", "no ReLU", _grad_cam_no_relu, ["left out the ReLU"]),
    ("8.2", "ReLU on the features, not on the sum", _grad_cam_relu_on_features,
     ["left out the ReLU after the weighted sum", "a ReLU on f_k does not do it"]),
    ("8.2", "gradients times features pixel by pixel", _grad_cam_pixelwise,
     ["pixel by pixel"]),
    ("8.3", "batch mean", _scores_batch_mean, [".mean()", ".sum()"]),
    ("8.3", "cross-entropy", _scores_cross_entropy, ["cross-entropy"]),
    ("9.1", "reshape, not permute", _preprocess_reshape, ["reshaped", "permute"]),
    ("9.1", "mean only", _preprocess_mean_only, ["did not divide by the std"]),
    ("9.1", "std only", _preprocess_std_only, ["did not subtract the mean"]),
    ("9.2", "log-softmax", lambda logits, k: torch.log_softmax(logits, dim=1).topk(k, dim=1),
     ["log_softmax"]),
    ("9.2", "sigmoid", lambda logits, k: torch.sigmoid(logits).topk(k, dim=1), ["sigmoid"]),
    ("10.2", "whole mask", _loc_with(_whole_mask), ["whole thresholded mask"]),
    ("10.2", "min-max normalized", _loc_with(
        lambda c, t: reference.bounding_box(reference.normalize(c), t)), ["min–max"]),
    ("10.2", "4-connected", _loc_with(lambda c, t: reference.bounding_box(c, t, 4)),
     ["4-connectivity"]),
    ("10.2", "x and y swapped", _loc_with(_swapped), ["x and y swapped"]),
    ("11.2", "method='min'", _spearman_method("min"), ["method='min'"]),
    ("11.2", "method='dense'", _spearman_method("dense"), ["method='dense'"]),
    ("11.3", "single pixels dropped", _instance_no_single_pixels, ["single pixel"]),
    # fourth reading ----------------------------------------------------------------------
    ("7.3", "(index, accuracy) pair", _acc_pair_swapped, ["wrong order",
                                                          "(accuracy, threshold_index)"]),
    ("9.1", "divided by 255 last", _preprocess_255_last, ["divided by 255 after"]),
    ("9.1", "mean and std swapped", _preprocess_mean_std_swapped, ["swapped the mean"]),
    ("9.2", "the best class skipped", _top_k_skips_the_best, ["left out the most probable"]),
    ("9.2", "float class indices", _top_k_float_classes, ["must be integers"]),
    ("7.2", "ReLU, then min-max", lambda cam, threshold=0.2: reference.bounding_box(
        reference.normalize(np.maximum(cam, 0)), threshold), ["min–max normalized"]),
    ("10.2", "threshold on |M|", _loc_with(
        lambda c, t: reference.bounding_box(np.abs(c), t)), ["|M|"]),
    # a batch of one, an optimizer made afresh, the iou_threshold argument ----------------
    ("6.2", "a new optimizer at every step", _step_fresh_optimizer,
     ["momentum was lost", "`optimizer` argument"]),
    ("7.3", "> for a threshold other than 0.5", _acc_strict_unless_default, [">=, not >"]),
    ("7.3", "the index chosen at a fixed 0.5", _acc_index_at_half,
     ["instead of a fixed 0.5"]),
    ("8.2", "squeezed (a batch of one loses its axis)", lambda features, gradients: (
        gradients.mean(dim=(2, 3))[:, :, None, None] * features).sum(1).clamp(min=0).squeeze(),
     [".squeeze()", "missing"]),
    ("8.1", "sum, not mean", lambda gradients: gradients.sum(dim=(2, 3)), ["divide by Z"]),
    ("8.1", "|gradients| averaged", lambda gradients: gradients.abs().mean(dim=(2, 3)),
     ["signed gradients"]),
    ("8.1", "ReLU on the gradients", lambda gradients: gradients.clamp(min=0).mean(dim=(2, 3)),
     ["the ReLU comes after the weighted sum"]),
    ("8.1", "squeezed (a batch of one loses its axis)",
     lambda gradients: gradients.mean(dim=(2, 3)).squeeze(), [".squeeze()", "missing"]),
    ("10.1", "the sign of the negative class ignored", lambda features, coef, positive=True:
     np.einsum("k,nkhw->nhw", np.ravel(coef), features), ["negative class"]),
    ("10.1", "a ReLU on the map", lambda features, coef, positive=True: np.maximum(
        (1 if positive else -1) * np.einsum("k,nkhw->nhw", np.ravel(coef), features), 0),
     ["ReLU"]),
    ("10.1", "min-max normalized", lambda features, coef, positive=True: reference.normalize(
        (1 if positive else -1) * np.einsum("k,nkhw->nhw", np.ravel(coef), features)),
     ["normaliz"]),
    ("10.2", "inclusive IoU", _loc_inclusive_iou, ["inclusive", "half-open"]),
    ("10.1", "squeezed (a batch of one loses its axis)",
     lambda features, coef, positive=True: ((1 if positive else -1) * np.einsum(
         "k,nkhw->nhw", np.ravel(coef), features)).squeeze(), [".squeeze()", "missing"]),
    ("6.2", "zero_grad after the step", _step_zero_grad_last,
     ["gradients that were on the model before the call", "before loss.backward()"]),
    ("8.3", "gradients left on the head", _scores_grad_left_on_head,
     ["head's parameters", ".grad"]),
    ("8.3", "the caller's head converted to float32", _scores_head_made_float,
     ["converted its argument `head` in place", "float64, now float32"]),
    ("7.2", "level from max|cam|", _box_level_from_abs, ["max|cam|"]),
    ("10.2", "ReLU, then min-max", _loc_relu_then_minmax, ["min–max normalized"]),
    ("10.2", "one level for the whole batch", _loc_batch_level, ["whole batch"]),
    ("7.2", "corners with a fraction", _box_centre_rounded_half, ["not a whole number",
                                                                  "pixel indices"]),
    ("7.2", "the box in a list", lambda cam, threshold=0.2: [
        reference.bounding_box(cam, threshold)], ["four values", "got 1"]),
    ("11.3", "corners with a fraction", _instance_boxes_float_halves,
     ["not a whole number", "pixel indices"]),
    ("11.3", "one box, not a list", lambda cam, threshold=0.2: reference.bounding_box(
        cam, threshold), ["returned one box", "a list of boxes"]),
]


def test_the_catalogue_covers_lessons_06_to_11():
    counts = Counter(entry[0] for entry in WRONG)
    assert min(counts.values()) >= 3, counts
    assert {e.split(".")[0] for e in counts} == {"6", "7", "8", "9", "10", "11"}


@pytest.mark.parametrize("exercise", sorted(RIGHT))
def test_right_answers_pass_visible_and_hidden(exercise):
    # tests/ is on sys.path under pytest
    from test_wrong_answers_00_05 import assert_passes_visible_and_hidden

    for fn in RIGHT[exercise]:
        assert_passes_visible_and_hidden(exercise, fn)
