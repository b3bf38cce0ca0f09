"""Honest variations: every exercise's right answer, written four other honest ways,
and whole-notebook layouts (``LAYOUTS``) that Run All accepts.

A learner who returns ``np.float64(0.5)`` instead of ``0.5``, works in float32, returns a
list, a tensor or an array where the lesson used another type, prints a demo line,
draws a plot, or times the cell with ``%%time`` has answered the exercise. Each entry
below is a whole exercise cell as a learner could write it; every one must earn full
marks in the notebook (the check, in-process) and under the grader.

``VARIANTS`` holds the cells; ``notebook(lesson)`` is what the lesson's earlier cells leave
defined when the exercise cell runs (its imports, and the variables a demo line uses),
so a cell runs here as in the lesson. ``GRADER_CAUSES`` would name, for a variant the
grader could not yet give full marks, the grader-side cause (tests/test_honest_variations.py
marks such a case ``xfail`` with it); it is empty: every variant earns full marks there.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    """One honest way to write an exercise cell.

    Parameters
    ----------
    exercise : str
        ``"N.M"``.
    kind : str
        What differs from the lesson's solution, in a few words.
    source : str
        The whole exercise cell.
    """

    exercise: str
    kind: str
    source: str

    @property
    def id(self) -> str:
        return f"{self.exercise}-{self.kind}"


_IMPORTS = """\
import numpy as np
import torch
import matplotlib.pyplot as plt
import camlib
import camcourse.checks
"""
_LESSON_IMPORTS = {  # what else each lesson imports, of what the variants use
    "from camlib import reference": (0, 2, 3, 4, 5, 7, 10, 11),
    "import torch.nn.functional as nnf": (5, 6, 8),
    "from scipy.stats import rankdata, spearmanr": (11,),
}


def notebook(lesson: int) -> str:
    """What lesson ``lesson``'s earlier cells leave defined: its imports and demo data."""
    extra = [line for line, lessons in _LESSON_IMPORTS.items() if lesson in lessons]
    return _IMPORTS + "\n".join(extra) + "\n" + _DEMO


_DEMO = """\
# Variables the lesson's earlier cells define, used by demo lines.
images = np.random.default_rng(0).integers(0, 256, size=(2, 3, 8, 8), dtype=np.uint8)
image = images[0]
features = np.random.default_rng(1).normal(size=(2, 4, 5, 5))
weight = np.random.default_rng(2).normal(size=(3, 4))
bias = np.zeros(3)
maps = features[:, 0]
cam = maps[0]
scores = np.random.default_rng(3).normal(size=(2, 5))
"""
"""A few variables like those the lessons' earlier cells define (used by demo lines)."""


V = Variant
VARIANTS: list[Variant] = [
    # 0.1 to_unit_float --------------------------------------------------------------------
    V("0.1", "float64 and a print", """\
def to_unit_float(images):
    return images / 255.0

print(to_unit_float(images).dtype, to_unit_float(images).max())
"""),
    V("0.1", "a tensor", """\
def to_unit_float(images):
    return torch.from_numpy(images).float() / 255
"""),
    V("0.1", "%%time and np.divide", """\
%%time
def to_unit_float(images):
    return np.divide(images, np.float32(255), dtype=np.float32)
"""),
    # 0.2 crop_box ---------------------------------------------------------------------------
    V("0.2", "NumPy ints from the box", """\
def crop_box(image, box):
    x0, y0, x1, y1 = np.asarray(box)
    return image[:, y0:y1, x0:x1]
"""),
    V("0.2", "a copy and a plot", """\
def crop_box(image, box):
    x0, y0, x1, y1 = box
    return image[:, y0:y1, x0:x1].copy()

plt.imshow(crop_box(image, (1, 1, 6, 5)).transpose(1, 2, 0))
plt.close("all")
"""),
    V("0.2", "a tensor", """\
def crop_box(image, box):
    x0, y0, x1, y1 = (int(v) for v in box)
    return torch.as_tensor(image)[:, y0:y1, x0:x1]
"""),
    # 1.1 capture_output ---------------------------------------------------------------------
    V("1.1", "a list and detach afterwards", """\
def capture_output(model, layer, images):
    outputs = []
    handle = layer.register_forward_hook(lambda module, inputs, output: outputs.append(output))
    try:
        with torch.no_grad():
            model(images)
    finally:
        handle.remove()
    return outputs[0].detach()
"""),
    V("1.1", "a NumPy array", """\
def capture_output(model, layer, images):
    stored = {}

    def hook(module, inputs, output):
        stored["out"] = output.detach().numpy()

    handle = layer.register_forward_hook(hook)
    try:
        with torch.inference_mode():
            model(images)
    finally:
        handle.remove()
    return stored["out"]
"""),
    V("1.1", "%%time and clone", """\
%%time
def capture_output(model, layer, images):
    stored = {}
    handle = layer.register_forward_hook(
        lambda m, i, o: stored.__setitem__("o", o.detach().clone()))
    try:
        with torch.no_grad():
            model(images)
    finally:
        handle.remove()
    return stored["o"]
"""),
    # 1.2 strongest_location -----------------------------------------------------------------
    V("1.2", "unravel_index", """\
def strongest_location(features):
    n, k, h, w = features.shape
    rows, cols = np.unravel_index(features.reshape(n, k, -1).argmax(-1), (h, w))
    return np.stack([cols, rows], axis=-1)
"""),
    V("1.2", "a tensor and a demo print", """\
def strongest_location(features):
    t = torch.as_tensor(features)
    n, k, h, w = t.shape
    flat = t.reshape(n, k, -1).argmax(-1)
    return torch.stack([flat % w, flat // w], dim=-1)

print(strongest_location(features)[0, 0])
"""),
    V("1.2", "nested lists", """\
def strongest_location(features):
    n, k, h, w = features.shape
    out = []
    for i in range(n):
        row = []
        for j in range(k):
            y, x = divmod(int(np.argmax(features[i, j])), w)
            row.append([x, y])
        out.append(row)
    return out
"""),
    # 2.1 global_average_pool ----------------------------------------------------------------
    V("2.1", "float32", """\
def global_average_pool(features, reduce="mean"):
    f = features.astype(np.float32)
    return f.sum(axis=(2, 3)) if reduce == "sum" else f.mean(axis=(2, 3))
"""),
    V("2.1", "a tensor", """\
def global_average_pool(features, reduce="mean"):
    t = torch.as_tensor(features)
    return t.sum(dim=(2, 3)) if reduce == "sum" else t.mean(dim=(2, 3))
"""),
    V("2.1", "a loop and a print", """\
def global_average_pool(features, reduce="mean"):
    n, k, h, w = features.shape
    total = features.reshape(n, k, h * w).sum(axis=-1)
    return total if reduce == "sum" else total / (h * w)

print(global_average_pool(features).shape)
"""),
    # 2.2 head_parameter_counts --------------------------------------------------------------
    V("2.2", "NumPy ints", """\
def head_parameter_counts(channels, height, width, classes):
    flat = np.int64(channels) * height * width * classes + classes
    return flat, np.int64(channels * classes + classes)
"""),
    V("2.2", "a list of floats", """\
def head_parameter_counts(channels, height, width, classes):
    return [float(channels * height * width * classes + classes),
            float(channels * classes + classes)]
"""),
    V("2.2", "counted with torch and an array", """\
def head_parameter_counts(channels, height, width, classes):
    def count(n_in):
        return sum(p.numel() for p in torch.nn.Linear(n_in, classes).parameters())
    return np.array([count(channels * height * width), count(channels)])
"""),
    # 2.3 global_max_pool --------------------------------------------------------------------
    V("2.3", "amax float32", """\
def global_max_pool(features):
    return np.amax(features, axis=(2, 3)).astype(np.float32)
"""),
    V("2.3", "a tensor", """\
def global_max_pool(features):
    return torch.as_tensor(features).amax(dim=(2, 3))
"""),
    V("2.3", "%%time and reshape", """\
%%time
def global_max_pool(features):
    n, k = features.shape[:2]
    return features.reshape(n, k, -1).max(axis=-1)
"""),
    # 3.1 class_scores -----------------------------------------------------------------------
    V("3.1", "einsum float32", """\
def class_scores(pooled, weight, bias):
    return (np.einsum("nk,ck->nc", pooled, weight) + bias).astype(np.float32)
"""),
    V("3.1", "a tensor", """\
def class_scores(pooled, weight, bias):
    return torch.as_tensor(pooled) @ torch.as_tensor(weight).T + torch.as_tensor(bias)
"""),
    V("3.1", "lists and a demo print", """\
def class_scores(pooled, weight, bias):
    return [[float(np.dot(p, w) + b) for w, b in zip(weight, bias)] for p in pooled]

print(np.round(class_scores(features.mean(axis=(2, 3)), weight, bias), 2))
"""),
    # 3.2 softmax ----------------------------------------------------------------------------
    V("3.2", "torch.softmax", """\
def softmax(scores):
    return torch.softmax(torch.as_tensor(scores), dim=1)
"""),
    V("3.2", "log-sum-exp with the max", """\
def softmax(scores):
    m = scores.max(axis=-1, keepdims=True)
    return np.exp(scores - m - np.log(np.exp(scores - m).sum(axis=-1, keepdims=True)))
"""),
    V("3.2", "%%time and a print", """\
%%time
def softmax(scores):
    e = np.exp(scores - np.max(scores, axis=1)[:, None])
    return e / np.sum(e, axis=1)[:, None]

print(softmax(scores).sum(axis=1))
"""),
    # 4.1 class_activation_maps --------------------------------------------------------------
    V("4.1", "tensordot", """\
def class_activation_maps(features, weight):
    return np.tensordot(weight, features, axes=([1], [1])).transpose(1, 0, 2, 3)
"""),
    V("4.1", "a tensor in float32", """\
def class_activation_maps(features, weight):
    f = torch.as_tensor(features, dtype=torch.float32)
    w = torch.as_tensor(weight, dtype=torch.float32)
    return torch.einsum("ck,nkhw->nchw", w, f)
"""),
    V("4.1", "a loop and a plot", """\
def class_activation_maps(features, weight):
    n, k, h, w = features.shape
    out = np.zeros((n, weight.shape[0], h, w))
    for c in range(weight.shape[0]):
        for j in range(k):
            out[:, c] += weight[c, j] * features[:, j]
    return out

plt.imshow(class_activation_maps(features, weight)[0, 0])
plt.close("all")
"""),
    # 4.2 scores_from_maps -------------------------------------------------------------------
    V("4.2", "mean directly, float32", """\
def scores_from_maps(maps, bias, reduce="mean"):
    pooled = maps.mean(axis=(2, 3)) if reduce == "mean" else maps.sum(axis=(2, 3))
    return (pooled + bias).astype(np.float32)
"""),
    V("4.2", "a tensor", """\
def scores_from_maps(maps, bias, reduce="mean"):
    m = torch.as_tensor(maps)
    total = m.sum(dim=(2, 3)) if reduce == "sum" else m.mean(dim=(2, 3))
    return total + torch.as_tensor(bias)
"""),
    V("4.2", "a demo line", """\
def scores_from_maps(maps, bias, reduce="mean"):
    z = maps.shape[-1] * maps.shape[-2]
    return maps.sum(axis=(-2, -1)) / (z if reduce == "mean" else 1) + bias

print(scores_from_maps(np.einsum("ck,nkhw->nchw", weight, features), bias))
"""),
    # 4.3 predicted_class_maps ---------------------------------------------------------------
    V("4.3", "a loop over images", """\
def predicted_class_maps(features, weight, bias):
    maps = []
    for f in features:
        c = int(np.argmax(weight @ f.mean(axis=(1, 2)) + bias))
        maps.append(np.tensordot(weight[c], f, axes=1))
    return np.stack(maps)
"""),
    V("4.3", "a tensor", """\
def predicted_class_maps(features, weight, bias):
    f, w, b = (torch.as_tensor(x) for x in (features, weight, bias))
    top = (f.mean(dim=(2, 3)) @ w.T + b).argmax(dim=1)
    return torch.einsum("nk,nkhw->nhw", w[top], f)
"""),
    V("4.3", "take_along_axis and %%time", """\
%%time
def predicted_class_maps(features, weight, bias):
    all_maps = np.einsum("ck,nkhw->nchw", weight, features)
    top = (features.mean(axis=(2, 3)) @ weight.T + bias).argmax(axis=1)
    return np.take_along_axis(all_maps, top[:, None, None, None], axis=1)[:, 0]
"""),
    # 5.1 upsample_maps ----------------------------------------------------------------------
    V("5.1", "a tensor kept", """\
def upsample_maps(maps, size):
    return nnf.interpolate(torch.as_tensor(maps)[:, None], size=size, mode="bilinear",
                         align_corners=False)[:, 0]
"""),
    V("5.1", "camlib's torch helper size as tuple", """\
def upsample_maps(maps, size):
    size = (size, size) if isinstance(size, int) else tuple(size)
    x = torch.from_numpy(np.ascontiguousarray(maps, dtype=np.float64)).unsqueeze(1)
    return nnf.interpolate(x, size=size, mode="bilinear").squeeze(1).numpy()
"""),
    V("5.1", "float32 and a plot", """\
def upsample_maps(maps, size):
    x = torch.as_tensor(maps, dtype=torch.float32)[:, None]
    return nnf.interpolate(x, size=size, mode="bilinear", align_corners=False)[:, 0].numpy()

plt.imshow(upsample_maps(maps, 20)[0])
plt.close("all")
"""),
    # 5.2 normalize_maps ---------------------------------------------------------------------
    V("5.2", "a loop per map", """\
def normalize_maps(maps, mode="minmax"):
    out = np.zeros(maps.shape)
    for i, m in enumerate(maps):
        low = m.min() if mode == "minmax" else 0.0
        span = m.max() - low
        if span > 0 and m.max() > (low if mode == "minmax" else 0):
            out[i] = (m - low) / span
    return out
"""),
    V("5.2", "a tensor", """\
def normalize_maps(maps, mode="minmax"):
    m = torch.as_tensor(maps)
    high = m.amax(dim=(1, 2), keepdim=True)
    low = m.amin(dim=(1, 2), keepdim=True) if mode == "minmax" else torch.zeros_like(high)
    span = high - low
    ok = (span > 0) & (high > low)
    return torch.where(ok, (m - low) / torch.where(ok, span, torch.ones_like(span)), 0.0)
"""),
    V("5.2", "errstate and nan_to_num, with a print", """\
def normalize_maps(maps, mode="minmax"):
    high = maps.max(axis=(1, 2), keepdims=True)
    low = maps.min(axis=(1, 2), keepdims=True) if mode == "minmax" else 0 * high
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (maps - low) / (high - low)
    out[np.broadcast_to(high <= low, out.shape) | ~np.isfinite(out)] = 0.0
    return out

print(normalize_maps(maps).min(), normalize_maps(maps).max())
"""),
    # 5.3 threshold_mask ---------------------------------------------------------------------
    V("5.3", "a tensor mask", """\
def threshold_mask(cam, fraction=0.2):
    t = torch.as_tensor(cam)
    peak = t.max()
    return t >= (fraction * peak if peak > 0 else peak)
"""),
    V("5.3", "np.where branch", """\
def threshold_mask(cam, fraction=0.2):
    peak = np.max(cam)
    if peak <= 0:
        return cam == peak
    return np.greater_equal(cam, fraction * peak)
"""),
    V("5.3", "%%time and a plot", """\
%%time
def threshold_mask(cam, fraction=0.2):
    level = fraction * cam.max() if cam.max() > 0 else cam.max()
    return cam >= level

plt.imshow(threshold_mask(cam))
plt.close("all")
"""),
    # 5.4 cam_pipeline -----------------------------------------------------------------------
    V("5.4", "a list with a NumPy box", """\
def cam_pipeline(cam, size, fraction=0.2):
    big = reference.upsample(cam, size)
    heat = reference.normalize(big, "minmax")
    peak = big.max()
    mask = big >= (fraction * peak if peak > 0 else peak)
    return [heat, mask, np.array(reference.bounding_box(big, fraction))]
"""),
    V("5.4", "tensors for heat and mask", """\
def cam_pipeline(cam, size, fraction=0.2):
    big = nnf.interpolate(torch.as_tensor(cam)[None, None], size=size, mode="bilinear",
                        align_corners=False)[0, 0]
    heat = (big - big.min()) / (big.max() - big.min())
    peak = big.max()
    mask = big >= (fraction * peak if peak > 0 else peak)
    return heat, mask, reference.bounding_box(big.numpy(), fraction)
"""),
    V("5.4", "float32 heat and a print", """\
def cam_pipeline(cam, size, fraction=0.2):
    big = reference.upsample(cam, size)
    heat = reference.normalize(big, "minmax").astype(np.float32)
    mask = reference.upsample(cam, size) >= fraction * big.max() if big.max() > 0 else (
        big >= big.max())
    x0, y0, x1, y1 = reference.bounding_box(big, fraction)
    return heat, mask, (np.int64(x0), np.int64(y0), np.int64(x1), np.int64(y1))

print(cam_pipeline(cam, (20, 20))[2])
"""),
    # 6.1 feature_map_size -------------------------------------------------------------------
    V("6.1", "np.floor (a NumPy float)", """\
def feature_map_size(size, layers):
    for kernel, stride, padding in layers:
        size = np.floor((size + 2 * padding - kernel) / stride) + 1
    return size
"""),
    V("6.1", "measured with torch (a 0-d tensor... as int)", """\
def feature_map_size(size, layers):
    x = torch.zeros(1, 1, size, size)
    for kernel, stride, padding in layers:
        x = nnf.max_pool2d(x, kernel, stride, padding)
    return torch.tensor(x.shape[-1])
"""),
    V("6.1", "%%time and NumPy int", """\
%%time
def feature_map_size(size, layers):
    n = np.int64(size)
    for k, s, p in layers:
        n = (n + 2 * p - k) // s + 1
    return n
"""),
    # 6.2 train_step -------------------------------------------------------------------------
    V("6.2", "set_to_none=False and float()", """\
def train_step(model, optimizer, images, labels):
    optimizer.zero_grad(set_to_none=False)
    loss = nnf.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step()
    return float(loss)
"""),
    V("6.2", "a detached 0-d tensor", """\
def train_step(model, optimizer, images, labels):
    model.zero_grad()
    loss = torch.nn.CrossEntropyLoss()(model(images), labels)
    loss.backward()
    optimizer.step()
    return loss.detach()
"""),
    V("6.2", "a NumPy float and a print", """\
def train_step(model, optimizer, images, labels):
    logits = model(images)
    loss = nnf.nll_loss(nnf.log_softmax(logits, dim=1), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return np.float64(loss.item())

print("train_step defined")
"""),
    # 7.1 iou --------------------------------------------------------------------------------
    V("7.1", "a NumPy scalar", """\
def iou(box_a, box_b):
    a, b = np.asarray(box_a, float), np.asarray(box_b, float)
    w = np.clip(np.minimum(a[2], b[2]) - np.maximum(a[0], b[0]), 0, None)
    h = np.clip(np.minimum(a[3], b[3]) - np.maximum(a[1], b[1]), 0, None)
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
"""),
    V("7.1", "a 0-d tensor in float32", """\
def iou(box_a, box_b):
    a = torch.tensor(box_a, dtype=torch.float32)
    b = torch.tensor(box_b, dtype=torch.float32)
    wh = (torch.minimum(a[2:], b[2:]) - torch.maximum(a[:2], b[:2])).clamp(min=0)
    inter = wh[0] * wh[1]
    area = lambda x: (x[2] - x[0]) * (x[3] - x[1])
    return inter / (area(a) + area(b) - inter)
"""),
    V("7.1", "a print with a demo", """\
def iou(box_a, box_b):
    ax0, ay0, ax1, ay1 = box_a
    bx0, by0, bx1, by1 = box_b
    inter = max(0, min(ax1, bx1) - max(ax0, bx0)) * max(0, min(ay1, by1) - max(ay0, by0))
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return inter / union

print(iou((0, 0, 2, 2), (1, 0, 3, 2)))
"""),
    # 7.2 cam_to_box -------------------------------------------------------------------------
    V("7.2", "a NumPy array box", """\
def cam_to_box(cam, threshold=0.2):
    mask = cam >= threshold * cam.max()
    labels, count = reference.connected_components(mask, connectivity=8)
    sizes = np.bincount(labels.ravel())[1:]
    rows, cols = np.nonzero(labels == np.argmax(sizes) + 1)
    return np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1])
"""),
    V("7.2", "a list of NumPy ints", """\
def cam_to_box(cam, threshold=0.2):
    labels, count = reference.connected_components(cam >= threshold * cam.max(), 8)
    biggest = max(range(1, count + 1), key=lambda i: (labels == i).sum())
    ys, xs = np.where(labels == biggest)
    return [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
"""),
    V("7.2", "%%time and a tensor", """\
%%time
def cam_to_box(cam, threshold=0.2):
    labels, count = reference.connected_components(cam >= threshold * cam.max(), 8)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    ys, xs = np.nonzero(labels == sizes.argmax() + 1)
    return torch.tensor([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
"""),
    # 7.3 max_box_acc ------------------------------------------------------------------------
    V("7.3", "NumPy scalars", """\
def max_box_acc(ious, iou_threshold=0.5):
    accuracy = np.mean(ious >= iou_threshold, axis=1)
    best = np.argmax(accuracy)
    return accuracy[best], best
"""),
    V("7.3", "a list and float32", """\
def max_box_acc(ious, iou_threshold=0.5):
    accuracy = (ious >= iou_threshold).astype(np.float32).mean(axis=1)
    return [accuracy.max(), int(accuracy.argmax())]
"""),
    V("7.3", "tensors", """\
def max_box_acc(ious, iou_threshold=0.5):
    accuracy = (torch.as_tensor(ious) >= iou_threshold).double().mean(dim=1)
    best = torch.argmax(accuracy)
    return accuracy[best], best
"""),
    # 8.1 gradcam_weights --------------------------------------------------------------------
    V("8.1", "a NumPy array", """\
def gradcam_weights(gradients):
    return gradients.detach().numpy().mean(axis=(2, 3))
"""),
    V("8.1", "sum over Z in float32", """\
def gradcam_weights(gradients):
    n, k, h, w = gradients.shape
    return gradients.float().sum(dim=(2, 3)) / (h * w)
"""),
    V("8.1", "avg_pool and %%time", """\
%%time
def gradcam_weights(gradients):
    return nnf.adaptive_avg_pool2d(gradients, 1).flatten(1)
"""),
    # 8.2 grad_cam ---------------------------------------------------------------------------
    V("8.2", "clamp and broadcasting", """\
def grad_cam(features, gradients):
    alpha = gradients.mean(dim=(2, 3), keepdim=True)
    return (alpha * features).sum(dim=1).clamp(min=0)
"""),
    V("8.2", "NumPy", """\
def grad_cam(features, gradients):
    alpha = gradients.numpy().mean(axis=(2, 3))
    return np.maximum(np.einsum("nk,nkhw->nhw", alpha, features.numpy()), 0)
"""),
    V("8.2", "float32 and a print", """\
def grad_cam(features, gradients):
    alpha = gradients.float().mean(dim=(2, 3))
    return nnf.relu((alpha[:, :, None, None] * features.float()).sum(dim=1))

print(grad_cam(torch.ones(1, 2, 3, 3), torch.ones(1, 2, 3, 3)).shape)
"""),
    # 8.3 score_gradients --------------------------------------------------------------------
    V("8.3", "backward and gather, the head's .grad cleared", """\
def score_gradients(head, features, classes):
    f = features.detach().clone().requires_grad_()
    head(f).gather(1, classes.view(-1, 1)).sum().backward()
    head.zero_grad()
    return f.grad
"""),
    V("8.3", "a NumPy array", """\
def score_gradients(head, features, classes):
    f = features.detach().clone().requires_grad_(True)
    scores = head(f)
    total = sum(scores[n, int(c)] for n, c in enumerate(classes))
    (grad,) = torch.autograd.grad(total, f)
    return grad.numpy()
"""),
    V("8.3", "one-hot and %%time", """\
%%time
def score_gradients(head, features, classes):
    f = features.detach().clone().requires_grad_(True)
    scores = head(f)
    onehot = nnf.one_hot(classes, scores.shape[1]).to(scores.dtype)
    (gradient,) = torch.autograd.grad(scores, f, grad_outputs=onehot)
    return gradient.detach()
"""),
    # 9.1 preprocess -------------------------------------------------------------------------
    V("9.1", "NumPy then torch", """\
def preprocess(image):
    x = (image / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    return torch.from_numpy(x.transpose(2, 0, 1)[None].astype(np.float32))
"""),
    V("9.1", "unsqueeze and a print", """\
def preprocess(image):
    x = torch.as_tensor(image, dtype=torch.float32).permute(2, 0, 1) / 255
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    return ((x - mean) / std).unsqueeze(0)

print(preprocess(np.zeros((4, 4, 3), np.uint8)).shape)
"""),
    V("9.1", "%%time and torchvision", """\
%%time
def preprocess(image):
    import torchvision.transforms.functional as TF
    x = TF.to_tensor(image)
    return TF.normalize(x, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])[None]
"""),
    # 9.2 top_k ------------------------------------------------------------------------------
    V("9.2", "the topk result itself", """\
def top_k(logits, k):
    return torch.softmax(logits, dim=-1).topk(k)
"""),
    V("9.2", "NumPy arrays", """\
def top_k(logits, k):
    p = torch.softmax(logits.double(), dim=1).numpy()
    order = np.argsort(-p, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(p, order, axis=1), order
"""),
    V("9.2", "sort and a list", """\
def top_k(logits, k):
    values, indices = torch.sort(torch.softmax(logits, dim=1), dim=1, descending=True)
    return [values[:, :k], indices[:, :k]]
"""),
    # 10.1 linear_classifier_cam -------------------------------------------------------------
    V("10.1", "a tensor", """\
def linear_classifier_cam(features, coef, positive=True):
    w = torch.as_tensor(np.ravel(coef))
    cam = torch.einsum("k,nkhw->nhw", w, torch.as_tensor(features))
    return cam if positive else -cam
"""),
    V("10.1", "tensordot float32", """\
def linear_classifier_cam(features, coef, positive=True):
    sign = 1.0 if positive else -1.0
    return (sign * np.tensordot(np.reshape(coef, -1), features, axes=([0], [1]))).astype(
        np.float32)
"""),
    V("10.1", "a loop and %%time", """\
%%time
def linear_classifier_cam(features, coef, positive=True):
    weights = np.asarray(coef).ravel()
    cam = sum(w * features[:, j] for j, w in enumerate(weights))
    return cam if positive else -cam
"""),
    # 10.2 gt_known_loc ----------------------------------------------------------------------
    V("10.2", "np.mean (a NumPy scalar)", """\
def gt_known_loc(cams, boxes, threshold=0.2):
    return np.mean([reference.iou(reference.bounding_box(c, threshold), b) >= 0.5
                    for c, b in zip(cams, boxes)])
"""),
    V("10.2", "a count divided, float32", """\
def gt_known_loc(cams, boxes, threshold=0.2):
    hits = sum(reference.iou(reference.bounding_box(cams[i], threshold), boxes[i]) >= 0.5
               for i in range(len(cams)))
    return np.float32(hits) / np.float32(len(cams))
"""),
    V("10.2", "a 0-d tensor and a print", """\
def gt_known_loc(cams, boxes, threshold=0.2):
    ious = torch.tensor([reference.iou(reference.bounding_box(c, threshold), b)
                         for c, b in zip(cams, boxes)])
    return (ious >= 0.5).double().mean()

print("defined gt_known_loc")
"""),
    # 11.1 mass_inside -----------------------------------------------------------------------
    V("11.1", "a NumPy scalar", """\
def mass_inside(cam, box):
    x0, y0, x1, y1 = box
    positive = np.clip(cam, 0, None)
    total = positive.sum()
    return positive[y0:y1, x0:x1].sum() / total if total > 0 else np.float64(0)
"""),
    V("11.1", "a 0-d tensor", """\
def mass_inside(cam, box):
    x0, y0, x1, y1 = (int(v) for v in box)
    p = torch.as_tensor(cam).clamp(min=0)
    return p[y0:y1, x0:x1].sum() / p.sum() if p.sum() > 0 else torch.tensor(0.0)
"""),
    V("11.1", "a mask and float32", """\
def mass_inside(cam, box):
    x0, y0, x1, y1 = box
    inside = np.zeros(cam.shape, bool)
    inside[y0:y1, x0:x1] = True
    positive = np.maximum(cam, 0).astype(np.float64)
    total = positive.sum()
    return np.float32(0.0) if total == 0 else np.float32(positive[inside].sum() / total)
"""),
    # 11.2 rank_correlation ------------------------------------------------------------------
    V("11.2", "spearmanr's statistic (a NumPy float)", """\
def rank_correlation(a, b):
    return spearmanr(np.ravel(a), np.ravel(b)).statistic
"""),
    V("11.2", "corrcoef of ranks", """\
def rank_correlation(a, b):
    return np.corrcoef(rankdata(a, axis=None), rankdata(b, axis=None))[0, 1]
"""),
    V("11.2", "a 0-d tensor and %%time", """\
%%time
def rank_correlation(a, b):
    ra = torch.as_tensor(rankdata(np.ravel(a)))
    rb = torch.as_tensor(rankdata(np.ravel(b)))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return (ra * rb).sum() / torch.sqrt((ra * ra).sum() * (rb * rb).sum())
"""),
    # 11.3 instance_boxes --------------------------------------------------------------------
    V("11.3", "an (n, 4) array", """\
def instance_boxes(cam, threshold=0.2):
    peak = cam.max()
    labels, count = reference.connected_components(
        cam >= (threshold * peak if peak > 0 else peak), connectivity=8)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    boxes = np.asarray(reference.component_boxes(labels, count))
    return boxes[np.argsort(-sizes, kind="stable")]
"""),
    V("11.3", "lists of NumPy ints", """\
def instance_boxes(cam, threshold=0.2):
    peak = cam.max()
    mask = cam >= (threshold * peak if peak > 0 else peak)
    labels, count = reference.connected_components(mask, 8)
    found = []
    for i in range(1, count + 1):
        ys, xs = np.nonzero(labels == i)
        found.append((len(ys), i, [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]))
    found.sort(key=lambda item: (-item[0], item[1]))
    return [box for _, _, box in found]
"""),
    V("11.3", "a print and a plot", """\
def instance_boxes(cam, threshold=0.2):
    peak = cam.max()
    mask = cam >= (threshold * peak if peak > 0 else peak)
    labels, count = reference.connected_components(mask, connectivity=8)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    boxes = reference.component_boxes(labels, count)
    return [tuple(int(v) for v in boxes[i]) for i in np.argsort(-sizes, kind="stable")]

print(instance_boxes(cam))
plt.imshow(cam)
plt.close("all")
"""),
]
"""Four honest cells for each of the 31 exercises."""

VARIANTS += [  # a fourth round: other algorithms and styles, each alone in its cell
    V("0.1", "true_divide into float64", """\
def to_unit_float(images):
    return np.true_divide(images, 255, dtype=np.float64)
"""),
    V("0.2", "map(int) and two slicings", """\
def crop_box(image, box):
    x0, y0, x1, y1 = map(int, box)
    return image[:, y0:y1][:, :, x0:x1].copy()
"""),
    V("0.2", "a preallocated crop filled row by row", """\
def crop_box(image, box):
    x0, y0, x1, y1 = map(int, box)
    out = np.empty((image.shape[0], y1 - y0, x1 - x0), dtype=image.dtype)
    for y in range(y0, y1):  # the box lies inside the image, as the exercise says
        out[:, y - y0] = image[:, y, x0:x1]
    return out
"""),
    V("1.1", "a callable hook object and inference_mode", """\
class _Grab:
    def __init__(self):
        self.out = None

    def __call__(self, module, inputs, output):
        self.out = output.detach().clone()


def capture_output(model, layer, images):
    grab = _Grab()
    handle = layer.register_forward_hook(grab)
    try:
        with torch.inference_mode():
            model(images)
    finally:
        handle.remove()
    return grab.out
"""),
    V("1.2", "a loop of unravel_index into int32, as lists", """\
def strongest_location(features):
    n, k, h, w = features.shape
    out = np.zeros((n, k, 2), dtype=np.int32)
    for a in range(n):
        for b in range(k):
            y, x = np.unravel_index(np.argmax(features[a, b]), (h, w))
            out[a, b] = (x, y)
    return out.tolist()
"""),
    V("2.1", "type hints and a torch sum", """\
def global_average_pool(features: np.ndarray, reduce: str = "mean") -> np.ndarray:
    t = torch.as_tensor(np.asarray(features))
    s = t.sum(dim=(2, 3))
    if reduce == "sum":
        return s.numpy()
    return (s / (t.shape[2] * t.shape[3])).numpy()
"""),
    V("2.2", "a lambda returning a list of NumPy ints", """\
head_parameter_counts = lambda channels, height, width, classes: [  # noqa: E731
    np.int64(channels * height * width * classes + classes), np.int64((channels + 1) * classes)]
"""),
    V("2.3", "torch amax over a reshaped view", """\
def global_max_pool(features):
    n, k = features.shape[:2]
    return torch.from_numpy(features.reshape(n, k, -1)).amax(-1)
"""),
    V("3.1", "einsum and an in-place bias", """\
def class_scores(pooled, weight, bias):
    out = np.einsum("nk,ck->nc", pooled, weight)
    out += bias[None, :]
    return out
"""),
    V("3.2", "scipy.special.softmax", """\
from scipy.special import softmax as _scipy_softmax


def softmax(scores):
    return _scipy_softmax(scores, axis=1)
"""),
    V("4.1", "broadcasting and a sum", """\
def class_activation_maps(features, weight):
    return (weight[None, :, :, None, None] * features[:, None]).sum(axis=2)
"""),
    V("4.2", "a match statement", """\
def scores_from_maps(maps, bias, reduce="mean"):
    match reduce:
        case "sum":
            return maps.sum(axis=(2, 3)) + bias
        case _:
            return maps.mean(axis=(2, 3)) + bias
"""),
    V("4.3", "all maps, then fancy indexing", """\
def predicted_class_maps(features, weight, bias):
    maps = np.einsum("ck,nkhw->nchw", weight, features)
    top = (maps.mean(axis=(2, 3)) + bias).argmax(1)
    return maps[np.arange(len(top)), top]
"""),
    V("5.1", "a float64 tensor, squeezed", """\
def upsample_maps(maps, size):
    t = torch.from_numpy(np.asarray(maps)).unsqueeze(1).double()
    return nnf.interpolate(t, size=size, mode="bilinear", align_corners=False).squeeze(1)
"""),
    V("5.2", "a list of maps stacked", """\
def normalize_maps(maps, mode="minmax"):
    out = []
    for m in maps:
        low = m.min() if mode == "minmax" else 0.0
        span = m.max() - low
        out.append((m - low) / span if span > 0 else np.zeros_like(m))
    return np.stack(out)
"""),
    V("5.3", "np.greater_equal with a Python float", """\
def threshold_mask(cam, fraction=0.2):
    top = float(np.max(cam))
    return np.greater_equal(cam, fraction * top if top > 0 else top)
"""),
    V("5.4", "torch upsampling, NumPy min-max", """\
def cam_pipeline(cam, size, fraction=0.2):
    t = torch.from_numpy(np.asarray(cam, dtype=np.float64))[None, None]
    big = nnf.interpolate(t, size=size, mode="bilinear", align_corners=False)[0, 0].numpy()
    span = big.max() - big.min()
    heat = (big - big.min()) / span if span > 0 else np.zeros_like(big)
    peak = big.max()
    mask = big >= (fraction * peak if peak > 0 else peak)
    return heat, mask, reference.bounding_box(big, fraction)
"""),
    V("6.1", "functools.reduce of a lambda with math.floor", """\
import functools
import math

feature_map_size = lambda size, layers: functools.reduce(  # noqa: E731
    lambda n, layer: math.floor((n + 2 * layer[2] - layer[0]) / layer[1]) + 1, layers, size)
"""),
    V("6.2", "zero_grad first, the loss module, a float32", """\
def train_step(model, optimizer, images, labels):
    optimizer.zero_grad(set_to_none=True)
    loss = torch.nn.CrossEntropyLoss()(model(images), labels)
    loss.backward()
    optimizer.step()
    return np.float32(loss.detach())
"""),
    V("7.1", "arrays and clip", """\
def iou(box_a, box_b):
    a, b = np.asarray(box_a, float), np.asarray(box_b, float)
    low, high = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
    inter = np.prod(np.clip(high - low, 0, None))
    def area(r):
        return (r[2] - r[0]) * (r[3] - r[1])
    return inter / (area(a) + area(b) - inter)
"""),
    V("7.2", "scipy.ndimage label and find_objects", """\
from scipy import ndimage


def cam_to_box(cam, threshold=0.2):
    labels, n = ndimage.label(cam >= threshold * cam.max(), structure=np.ones((3, 3)))
    sizes = ndimage.sum_labels(np.ones_like(labels), labels, index=range(1, n + 1))
    rows, cols = ndimage.find_objects(labels)[int(np.argmax(sizes))]
    return (cols.start, rows.start, cols.stop, rows.stop)
"""),
    V("7.3", "a list of NumPy means", """\
def max_box_acc(ious, iou_threshold=0.5):
    accuracies = [np.mean(row >= iou_threshold) for row in ious]
    best = np.argmax(accuracies)
    return accuracies[best], best
"""),
    V("8.1", "sum divided by Z, in the input's dtype", """\
def gradcam_weights(gradients):
    return gradients.sum((2, 3)) / (gradients.shape[2] * gradients.shape[3])
"""),
    V("8.2", "broadcast product and clamp", """\
def grad_cam(features, gradients):
    alpha = gradients.sum((2, 3)) / (gradients.shape[2] * gradients.shape[3])
    return (alpha[:, :, None, None] * features).sum(1).clamp(min=0)
"""),
    V("8.3", "enable_grad and backward of a one-hot, the head's .grad cleared", """\
def score_gradients(head, features, classes):
    x = features.detach().clone().requires_grad_()
    with torch.enable_grad():
        scores = head(x)
        onehot = torch.zeros_like(scores)
        onehot[torch.arange(len(classes)), classes] = 1
        scores.backward(onehot)
    for parameter in head.parameters():
        parameter.grad = None
    return x.grad
"""),
    V("9.1", "torchvision to_tensor and normalize", """\
import torchvision.transforms.functional as TF


def preprocess(image):
    x = TF.to_tensor(image)
    return TF.normalize(x, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]).unsqueeze(0)
"""),
    V("9.2", "softmax in float64, sorted", """\
def top_k(logits, k):
    p = torch.softmax(logits.double(), 1).float()
    s = torch.sort(p, dim=1, descending=True)
    return s.values[:, :k], s.indices[:, :k]
"""),
    V("10.1", "a sign and tensordot", """\
def linear_classifier_cam(features, coef, positive=True):
    w = np.ravel(coef)
    sign = 1 if positive else -1
    return sign * np.tensordot(features, w, axes=([1], [0]))
"""),
    V("10.2", "a counter of NumPy bools", """\
def gt_known_loc(cams, boxes, threshold=0.2):
    hits = 0
    for cam, box in zip(cams, boxes):
        hits += reference.iou(reference.bounding_box(cam, threshold), tuple(box)) >= 0.5
    return np.float64(hits) / len(cams)
"""),
    V("11.1", "clip and a NumPy zero", """\
def mass_inside(cam, box):
    x0, y0, x1, y1 = box
    positive = np.clip(cam, 0, None)
    total = positive.sum()
    return np.float64(0) if total == 0 else positive[y0:y1, x0:x1].sum() / total
"""),
    V("11.2", "Pearson of rankdata ranks by hand", """\
def rank_correlation(a, b):
    ra = rankdata(np.ravel(a)) - (np.size(a) + 1) / 2
    rb = rankdata(np.ravel(b)) - (np.size(b) + 1) / 2
    return (ra @ rb) / np.sqrt((ra @ ra) * (rb @ rb))
"""),
    V("11.3", "scipy.ndimage, sorted by size", """\
from scipy import ndimage


def instance_boxes(cam, threshold=0.2):
    peak = cam.max()
    labels, n = ndimage.label(cam >= (threshold * peak if peak > 0 else peak),
                              structure=np.ones((3, 3)))
    sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    found = ndimage.find_objects(labels)
    order = sorted(range(n), key=lambda i: -sizes[i])
    return [(found[i][1].start, found[i][0].start, found[i][1].stop, found[i][0].stop)
            for i in order]
"""),
]

# A dataclass with an InitVar field: its annotations must be evaluated as the learner
# wrote them (not postponed by the grader's own __future__ import). The grading corpus
# uses it too.
INITVAR_BOX = """from dataclasses import InitVar, dataclass, field


@dataclass
class Box:
    coords: InitVar[tuple]
    x0: int = field(init=False)
    y0: int = field(init=False)
    x1: int = field(init=False)
    y1: int = field(init=False)

    def __post_init__(self, coords):
        self.x0, self.y0, self.x1, self.y1 = (int(v) for v in coords)


def crop_box(image, box):
    b = Box(box)
    return image[:, b.y0:b.y1, b.x0:b.x1]
"""

VARIANTS += [  # a fifth round, on some exercises: what IPython accepts and plain Python not
    V("1.2", "tqdm over the images and a note on stderr", """\
import sys
from tqdm.auto import tqdm

def strongest_location(features):
    n, k, h, w = features.shape
    out = np.zeros((n, k, 2), dtype=np.int64)
    for i in tqdm(range(n)):
        rows, cols = np.unravel_index(features[i].reshape(k, -1).argmax(-1), (h, w))
        out[i] = np.stack([cols, rows], axis=-1)
    print("done", file=sys.stderr)
    return out
"""),
    V("2.3", "functools.partial of np.max", """\
import functools

global_max_pool = functools.partial(np.max, axis=(2, 3))
"""),
    V("3.1", "an np.matrix", """\
def class_scores(pooled, weight, bias):
    return np.asmatrix(pooled) @ np.asmatrix(weight).T + bias
"""),
    V("8.1", "a top-level await in the cell", """\
import asyncio

await asyncio.sleep(0)

def gradcam_weights(gradients):
    return gradients.mean(dim=(2, 3))
"""),
    # grader6: a fresh attack's honest answers
    V("3.2", "a callable object", """\
class Softmax:
    \"\"\"A stable softmax, as an object.\"\"\"

    def __call__(self, scores):
        m = scores.max(axis=1, keepdims=True)
        log_z = m + np.log(np.exp(scores - m).sum(axis=1, keepdims=True))
        return np.exp(scores - log_z)


softmax = Softmax()
"""),
    V("2.3", "functools.partial", """\
import functools

global_max_pool = functools.partial(np.amax, axis=(2, 3))
"""),
    V("5.4", "a typing.NamedTuple", """\
from typing import NamedTuple


class Pipeline(NamedTuple):
    heat: np.ndarray
    mask: np.ndarray
    box: tuple


def cam_pipeline(cam, size, fraction=0.2):
    big = nnf.interpolate(torch.as_tensor(cam, dtype=torch.float64)[None, None], size=size,
                          mode="bilinear", align_corners=False)[0, 0].numpy()
    low, high = big.min(), big.max()
    heat = (big - low) / (high - low) if high > low else np.zeros_like(big)
    mask = big >= (fraction * high if high > 0 else high)
    return Pipeline(heat, mask, reference.bounding_box(big, fraction))
"""),
    V("7.2", "scipy.ndimage.label and an array", """\
from scipy import ndimage


def cam_to_box(cam, threshold=0.2):
    labels, count = ndimage.label(cam >= threshold * cam.max(), structure=np.ones((3, 3)))
    sizes = ndimage.sum_labels(np.ones_like(labels), labels, index=np.arange(1, count + 1))
    ys, xs = ndimage.find_objects(labels)[int(np.argmax(sizes))]
    return np.array([xs.start, ys.start, xs.stop, ys.stop])
"""),
    V("7.3", "a namedtuple of NumPy scalars", """\
from collections import namedtuple

Best = namedtuple("Best", ["accuracy", "index"])


def max_box_acc(ious, iou_threshold=0.5):
    acc = np.mean(np.asarray(ious) >= iou_threshold, axis=1)
    return Best(acc.max(), acc.argmax())
"""),
    V("8.3", "create_graph=True: a gradient with a graph", """\
def score_gradients(head, features, classes):
    x = features.detach().requires_grad_()
    picked = head(x).gather(1, classes.view(-1, 1)).sum()
    (g,) = torch.autograd.grad(picked, x, create_graph=True)
    return g
"""),
    V("9.1", "NumPy first, a permuted view", """\
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def preprocess(image):
    x = (image.astype(np.float32) / 255.0 - MEAN) / STD
    return torch.from_numpy(x).permute(2, 0, 1).unsqueeze(0)
"""),
    V("11.3", "a generator turned into a list", """\
def _boxes(cam, threshold):
    peak = cam.max()
    mask = cam >= (threshold * peak if peak > 0 else peak)
    labels, count = reference.connected_components(mask, connectivity=8)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    for i in sorted(range(count), key=lambda i: -sizes[i]):
        ys, xs = np.nonzero(labels == i + 1)
        yield (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)


def instance_boxes(cam, threshold=0.2):
    return list(_boxes(cam, threshold))
"""),
    V("0.2", "a dataclass with an InitVar field", INITVAR_BOX),
    # annotations are evaluated at the ``def``: the names they use come from other cells
    V("0.1", "type hints naming np", """\
def to_unit_float(images: np.ndarray) -> np.ndarray:
    \"\"\"uint8 -> floats in [0, 1].\"\"\"
    return images / 255.0
"""),
    V("9.1", "type hints naming np and torch", """\
def preprocess(image: np.ndarray, *, mean: tuple[float, ...] = (0.485, 0.456, 0.406),
               std: tuple[float, ...] = (0.229, 0.224, 0.225)) -> torch.Tensor:
    x = torch.from_numpy(image).float().div(255)
    x = (x - torch.tensor(mean)) / torch.tensor(std)
    return x.permute(2, 0, 1).unsqueeze(0)
"""),
    V("0.2", "a dataclass defined below, a forward reference", """\
from __future__ import annotations

from dataclasses import dataclass


def crop_box(image: np.ndarray, box: Box | tuple[int, int, int, int]) -> np.ndarray:
    b = box if isinstance(box, Box) else Box(*(int(v) for v in box))
    return image[:, b.y0:b.y1, b.x0:b.x1]


@dataclass(frozen=True)
class Box:
    x0: int
    y0: int
    x1: int
    y1: int
"""),
]

VARIANTS += [  # a sixth round: other libraries, algorithms and Python features
    V("0.1", "a lambda, float32", """\
to_unit_float = lambda images: np.true_divide(images, np.float32(255)).astype("float32")
"""),
    V("0.2", "unicode names and slice objects", """\
def crop_box(image, box):
    gauche, haut, droite, bas = (int(c) for c in box)
    lignes, colonnes = slice(haut, bas), slice(gauche, droite)
    résultat = image[:, lignes, colonnes]
    return résultat
"""),
    V("0.2", "np.take twice", """\
def crop_box(image, box):
    x0, y0, x1, y1 = np.asarray(box).astype(int).tolist()
    rows = image.take(np.arange(y0, y1), axis=1)
    return rows.take(np.arange(x0, x1), axis=2)
"""),
    V("1.1", "contextlib.ExitStack and a lambda hook", """\
import contextlib


def capture_output(model, layer, images):
    seen = []
    with contextlib.ExitStack() as stack:
        handle = layer.register_forward_hook(lambda m, i, o: seen.append(o))
        stack.callback(handle.remove)
        with torch.no_grad():
            model(images)
    return seen[0]
"""),
    V("1.1", "a no_grad decorator and setdefault", """\
@torch.no_grad()
def capture_output(model, layer, images):
    box = {}
    handle = layer.register_forward_hook(lambda m, i, o: box.setdefault("out", o))
    try:
        model(images)
    finally:
        handle.remove()
    return box["out"]
"""),
    V("1.2", "pure Python loops", """\
def strongest_location(features):
    n, k, h, w = features.shape
    out = np.zeros((n, k, 2), dtype=int)
    for a in range(n):
        for b in range(k):
            best, where = None, (0, 0)
            for y in range(h):
                for x in range(w):
                    value = features[a, b, y, x]
                    if best is None or value > best:
                        best, where = value, (x, y)
            out[a, b] = where
    return out
"""),
    V("1.2", "torch flatten and floor division", """\
def strongest_location(features):
    t = torch.as_tensor(features)
    w = t.shape[-1]
    flat = t.flatten(2).argmax(dim=-1)
    return torch.stack([flat % w, torch.div(flat, w, rounding_mode="floor")], dim=-1).numpy()
"""),
    V("2.1", "a dict of reducers", """\
REDUCERS = {"mean": np.mean, "sum": np.sum}


def global_average_pool(features, reduce="mean"):
    return REDUCERS[reduce](features, axis=(-2, -1))
"""),
    V("2.1", "einsum and a match statement", """\
def global_average_pool(features, reduce="mean"):
    total = np.einsum("nkhw->nk", features)
    match reduce:
        case "sum":
            return total
        case "mean":
            return total / (features.shape[2] * features.shape[3])
        case _:
            raise ValueError(reduce)
"""),
    V("2.2", "nn.Linear on the meta device", """\
def count(layer):
    return sum(p.numel() for p in layer.parameters())


def head_parameter_counts(channels, height, width, classes):
    flat = torch.nn.Linear(channels * height * width, classes, device="meta")
    gap = torch.nn.Linear(channels, classes, device="meta")
    return count(flat), count(gap)
"""),
    V("2.2", "0-d tensors", """\
def head_parameter_counts(channels, height, width, classes):
    k = torch.tensor(channels)
    return (k * height * width + 1) * classes, (k + 1) * classes
"""),
    V("2.3", "adaptive_max_pool2d", """\
import torch.nn.functional as F


def global_max_pool(features):
    t = torch.from_numpy(np.ascontiguousarray(features))
    return F.adaptive_max_pool2d(t, 1).flatten(1).numpy()
"""),
    V("3.1", "F.linear", """\
import torch.nn.functional as F


def class_scores(pooled, weight, bias):
    return F.linear(torch.as_tensor(pooled), torch.as_tensor(weight),
                    torch.as_tensor(bias)).numpy()
"""),
    V("3.1", "pure Python loops", """\
def class_scores(pooled, weight, bias):
    n, k = pooled.shape
    out = np.empty((n, weight.shape[0]))
    for i in range(n):
        for j in range(weight.shape[0]):
            out[i, j] = sum(pooled[i, q] * weight[j, q] for q in range(k)) + bias[j]
    return out
"""),
    V("3.2", "logsumexp in a class instance", """\
from scipy.special import logsumexp


class Softmax:
    def __init__(self, axis=1):
        self.axis = axis

    def __call__(self, scores):
        return np.exp(scores - logsumexp(scores, axis=self.axis, keepdims=True))


softmax = Softmax()
"""),
    V("3.2", "a loop over rows, stacked", """\
def softmax(scores):
    rows = []
    for row in np.asarray(scores, dtype=np.float64):
        e = np.exp(row - row.max())
        rows.append(e / e.sum())
    return np.vstack(rows)
"""),
    V("4.1", "a 1×1 convolution", """\
import torch.nn.functional as F


def class_activation_maps(features, weight):
    f = torch.from_numpy(np.asarray(features, dtype=np.float64))
    w = torch.from_numpy(np.asarray(weight, dtype=np.float64))[:, :, None, None]
    return F.conv2d(f, w).numpy()
"""),
    V("4.2", "np.mean or np.sum chosen first", """\
def scores_from_maps(maps, bias, reduce="mean"):
    pool = np.mean if reduce == "mean" else np.sum
    return pool(maps, axis=(2, 3)) + bias
"""),
    V("4.3", "helpers for scores and maps", """\
def _scores(features, weight, bias):
    return np.einsum("nkhw,ck->nc", features, weight) / np.prod(features.shape[2:]) + bias


def predicted_class_maps(features, weight, bias):
    top = np.argmax(_scores(features, weight, bias), axis=1)
    return np.stack([np.tensordot(weight[t], f, axes=1) for t, f in zip(top, features)])
"""),
    V("5.1", "bilinear by hand in NumPy", """\
def _taps(n_in, n_out):
    centre = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    lo = np.floor(centre).astype(int)
    return lo, np.minimum(lo + 1, n_in - 1), centre - lo


def upsample_maps(maps, size):
    h_out, w_out = (size, size) if np.isscalar(size) else size
    ylo, yhi, fy = _taps(maps.shape[1], h_out)
    xlo, xhi, fx = _taps(maps.shape[2], w_out)
    top = maps[:, ylo][:, :, xlo] * (1 - fx) + maps[:, ylo][:, :, xhi] * fx
    bottom = maps[:, yhi][:, :, xlo] * (1 - fx) + maps[:, yhi][:, :, xhi] * fx
    return top * (1 - fy)[:, None] + bottom * fy[:, None]
"""),
    V("5.4", "interpolate and scipy.ndimage for the box", """\
from scipy import ndimage


def cam_pipeline(cam, size, fraction=0.2):
    big = nnf.interpolate(torch.as_tensor(cam, dtype=torch.float64)[None, None], size=size,
                          mode="bilinear", align_corners=False)[0, 0].numpy()
    span = big.max() - big.min()
    heat = (big - big.min()) / span if span > 0 else np.zeros_like(big)
    peak = big.max()
    mask = big >= (fraction * peak if peak > 0 else peak)
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    ys, xs = ndimage.find_objects(labels)[int(np.argmax(sizes))]
    return heat, mask, (xs.start, ys.start, xs.stop, ys.stop)
"""),
    V("6.1", "recursion", """\
def feature_map_size(size, layers):
    if not layers:
        return size
    (k, s, p), *rest = layers
    return feature_map_size((size + 2 * p - k) // s + 1, rest)
"""),
    V("6.1", "a numba-compiled helper", """\
import numba


@numba.njit
def _one(n, k, s, p):
    return (n + 2 * p - k) // s + 1


def feature_map_size(size, layers):
    for k, s, p in layers:
        size = _one(size, k, s, p)
    return int(size)
"""),
    V("6.2", "log_softmax and nll_loss, the loss read before backward", """\
def train_step(model, optimizer, images, labels):
    optimizer.zero_grad()
    loss = nnf.nll_loss(nnf.log_softmax(model(images), dim=1), labels)
    value = loss.item()
    loss.backward()
    optimizer.step()
    return value
"""),
    V("7.1", "lengths of ranges", """\
def iou(box_a, box_b):
    def area(b):
        return len(range(b[0], b[2])) * len(range(b[1], b[3]))
    inter = (len(range(max(box_a[0], box_b[0]), min(box_a[2], box_b[2])))
             * len(range(max(box_a[1], box_b[1]), min(box_a[3], box_b[3]))))
    return inter / (area(box_a) + area(box_b) - inter)
"""),
    V("7.1", "torchvision's box_iou", """\
from torchvision.ops import box_iou


def iou(box_a, box_b):
    a = torch.tensor([list(box_a)], dtype=torch.float64)
    b = torch.tensor([list(box_b)], dtype=torch.float64)
    return box_iou(a, b)[0, 0].item()
"""),
    V("7.1", "an exact Fraction", """\
from fractions import Fraction


def iou(box_a, box_b):
    w = max(0, min(box_a[2], box_b[2]) - max(box_a[0], box_b[0]))
    h = max(0, min(box_a[3], box_b[3]) - max(box_a[1], box_b[1]))
    inter = w * h
    union = ((box_a[2] - box_a[0]) * (box_a[3] - box_a[1])
             + (box_b[2] - box_b[0]) * (box_b[3] - box_b[1]) - inter)
    return Fraction(int(inter), int(union))
"""),
    V("7.2", "a breadth-first search in pure Python", """\
from collections import deque


def cam_to_box(cam, threshold=0.2):
    h, w = cam.shape
    mask = (cam >= threshold * cam.max()).tolist()
    seen = [[False] * w for _ in range(h)]
    best = None
    for y in range(h):
        for x in range(w):
            if not mask[y][x] or seen[y][x]:
                continue
            seen[y][x] = True
            queue, count, box = deque([(y, x)]), 0, [x, y, x + 1, y + 1]
            while queue:
                cy, cx = queue.popleft()
                count += 1
                box = [min(box[0], cx), min(box[1], cy), max(box[2], cx + 1), max(box[3], cy + 1)]
                for dy in (-1, 0, 1):
                    for dx in (-1, 0, 1):
                        ny, nx = cy + dy, cx + dx
                        if 0 <= ny < h and 0 <= nx < w and mask[ny][nx] and not seen[ny][nx]:
                            seen[ny][nx] = True
                            queue.append((ny, nx))
            if best is None or count > best[0]:
                best = (count, tuple(box))
    return best[1]
"""),
    V("7.2", "skimage's label and a tensor box", """\
from skimage.measure import label as sk_label


def cam_to_box(cam, threshold=0.2):
    labels = sk_label(cam >= threshold * cam.max(), connectivity=2)
    biggest = np.argmax(np.bincount(labels.ravel())[1:]) + 1
    ys, xs = np.nonzero(labels == biggest)
    return torch.tensor([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
"""),
    V("7.3", "a loop keeping the first best, an np.int64 index", """\
def max_box_acc(ious, iou_threshold=0.5):
    best_acc, best_t = -1.0, 0
    for t, row in enumerate(ious):
        acc = np.mean(row >= iou_threshold)
        if acc > best_acc:
            best_acc, best_t = acc, t
    return best_acc, np.int64(best_t)
"""),
    V("8.1", "adaptive_avg_pool2d", """\
def gradcam_weights(gradients):
    return nnf.adaptive_avg_pool2d(gradients, 1).flatten(start_dim=1)
"""),
    V("8.1", "an nn.Module instance", """\
class GradCAMWeights(torch.nn.Module):
    def forward(self, gradients):
        return gradients.mean(dim=(-2, -1))


gradcam_weights = GradCAMWeights()
"""),
    V("8.3", "torch.func.vjp of a one-hot", """\
def score_gradients(head, features, classes):
    scores, pullback = torch.func.vjp(head, features.detach())
    onehot = nnf.one_hot(classes.long(), scores.shape[1]).to(scores.dtype)
    (gradient,) = pullback(onehot)
    return gradient
"""),
    V("9.1", "ResNet18 weights' own mean and std", """\
import torchvision.transforms.functional as TF
from torchvision.models import ResNet18_Weights

_T = ResNet18_Weights.DEFAULT.transforms()


def preprocess(image):
    x = torch.from_numpy(image).permute(2, 0, 1).float().div(255)
    return TF.normalize(x, _T.mean, _T.std).unsqueeze(0)
"""),
    V("9.2", "argsort in NumPy, then gather", """\
def top_k(logits, k):
    probs = torch.softmax(logits.double(), 1).to(logits.dtype)
    idx = torch.from_numpy(np.argsort(-probs.numpy(), axis=1, kind="stable")[:, :k].copy())
    return torch.gather(probs, 1, idx), idx
"""),
    V("10.1", "torch einsum in float64", """\
def linear_classifier_cam(features, coef, positive=True):
    w = torch.as_tensor(np.asarray(coef, dtype=np.float64)).reshape(-1)
    m = torch.einsum("k,nkhw->nhw", w, torch.as_tensor(features, dtype=torch.float64))
    return (m if positive else -m).numpy()
"""),
    V("10.2", "its own box and IoU with scipy.ndimage", """\
from scipy import ndimage as ndi


def _box(cam, threshold):
    labels, _ = ndi.label(cam >= threshold * cam.max(), structure=np.ones((3, 3)))
    ys, xs = ndi.find_objects(labels)[int(np.argmax(np.bincount(labels.ravel())[1:]))]
    return xs.start, ys.start, xs.stop, ys.stop


def _iou(a, b):
    inter = (max(0, min(a[2], b[2]) - max(a[0], b[0]))
             * max(0, min(a[3], b[3]) - max(a[1], b[1])))
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def gt_known_loc(cams, boxes, threshold=0.2):
    good = 0
    for cam, box in zip(cams, boxes):
        if _iou(_box(cam, threshold), box) >= 0.5:
            good += 1
    return good / len(cams)
"""),
    V("10.2", "an exact Fraction", """\
from fractions import Fraction


def gt_known_loc(cams, boxes, threshold=0.2):
    hits = sum(reference.iou(reference.bounding_box(c, threshold), tuple(b)) >= 0.5
               for c, b in zip(cams, boxes))
    return Fraction(int(hits), len(cams))
"""),
    V("11.1", "torch clamp and item", """\
def mass_inside(cam, box):
    x0, y0, x1, y1 = (int(v) for v in box)
    positive = torch.as_tensor(cam).clamp(min=0)
    total = positive.sum()
    return (positive[y0:y1, x0:x1].sum() / total).item() if total > 0 else 0.0
"""),
    V("11.1", "a global call counter and a boolean mask", """\
calls = 0


def mass_inside(cam, box):
    global calls
    calls += 1
    positive = np.clip(cam, 0, None)
    inside = np.zeros(cam.shape, dtype=bool)
    inside[box[1]:box[3], box[0]:box[2]] = True
    total = positive.sum()
    return positive[inside].sum() / total if total else 0.0
"""),
    V("11.2", "average ranks in torch with unique", """\
def _average_ranks(x):
    x = torch.as_tensor(np.ravel(x), dtype=torch.float64)
    _, inverse, counts = torch.unique(x, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0).double()
    return ((ends - counts + 1 + ends) / 2)[inverse]


def rank_correlation(a, b):
    return torch.corrcoef(torch.stack([_average_ranks(a), _average_ranks(b)]))[0, 1]
"""),
    V("11.3", "skimage's regionprops", """\
from skimage.measure import label as sk_label
from skimage.measure import regionprops


def instance_boxes(cam, threshold=0.2):
    peak = cam.max()
    mask = cam >= (threshold * peak if peak > 0 else peak)
    regions = sorted(regionprops(sk_label(mask, connectivity=2)), key=lambda r: -r.area)
    return [(r.bbox[1], r.bbox[0], r.bbox[3], r.bbox[2]) for r in regions]
"""),    V("5.1", "OpenCV's resize, map by map", """\
import cv2


def upsample_maps(maps, size):
    h, w = (size, size) if isinstance(size, int) else size
    return np.stack([cv2.resize(np.asarray(m, dtype=np.float64), (w, h),
                                interpolation=cv2.INTER_LINEAR) for m in maps])
"""),
    V("5.1", "skimage's resize, edge mode", """\
from skimage.transform import resize


def upsample_maps(maps, size):
    h, w = (size, size) if isinstance(size, int) else size
    return resize(maps, (maps.shape[0], h, w), order=1, mode="edge", anti_aliasing=False,
                  preserve_range=True)
"""),
    V("7.3", "exact Decimal accuracies", """\
from decimal import Decimal


def max_box_acc(ious, iou_threshold=0.5):
    accs = [Decimal(int((row >= iou_threshold).sum())) / Decimal(len(row)) for row in ious]
    best = max(range(len(accs)), key=lambda t: (accs[t], -t))
    return accs[best], best
"""),
    V("11.2", "statistics.correlation of rankdata ranks", """\
import statistics


def rank_correlation(a, b):
    return statistics.correlation(rankdata(a, axis=None).tolist(),
                                  rankdata(b, axis=None).tolist())
"""),
]


GRADER_CAUSES: dict[str, str] = {}
"""Variant id -> a grader-side cause that still costs it points (an xfail reason); none."""


# --- whole-notebook layouts -------------------------------------------------------------
# A solved lesson rearranged as learners do; Run All passes every check, and so must the
# grader. Each function changes a notebook (nbformat dict) in place; ``cells`` are the
# indices of its exercise cells, in order.


def _code_cell(text: str, *tags: str) -> dict:
    return {"cell_type": "code", "metadata": {"tags": list(tags)} if tags else {},
            "execution_count": None, "outputs": [], "source": text}


def _text(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _function_name(code: str) -> str:
    return code.split("def ", 1)[1].split("(", 1)[0]


def helper_between_cell_and_check(nb: dict, cells: list[int]) -> None:
    """The function calls a helper that a cell between it and its check defines."""
    for i in reversed(cells):
        code = _text(nb["cells"][i])
        name = _function_name(code)
        nb["cells"][i]["source"] = code.replace(f"def {name}(", f"def _{name}_impl(", 1) + (
            f"\n\ndef {name}(*args, **kwargs):\n    return _{name}_later(*args, **kwargs)\n")
        nb["cells"].insert(i + 1, _code_cell(f"_{name}_later = _{name}_impl\n"))


def import_between_cell_and_check(nb: dict, cells: list[int]) -> None:
    """The function uses a module imported in a cell between it and its check."""
    for i in reversed(cells):
        code = _text(nb["cells"][i])
        nb["cells"][i]["source"] = code.replace("np.", "_numpy_later.")
        nb["cells"].insert(i + 1, _code_cell("import numpy as _numpy_later\n"))


def fixed_below_and_checked_again(nb: dict, cells: list[int]) -> None:
    """A wrong answer above its (failing) check; the fix and a second check at the end."""
    checks = [_text(c) for c in nb["cells"] if "check" in c.get("metadata", {}).get("tags", [])]
    for i, check in zip(cells, checks, strict=True):
        code = _text(nb["cells"][i])
        name = _function_name(code)
        nb["cells"][i]["source"] = f"def {name}(*args, **kwargs):\n    return None\n"
        nb["cells"] += [_code_cell(code), _code_cell(check)]


def wrong_attempt_above(nb: dict, cells: list[int]) -> None:
    """A wrong first attempt, also tagged, above the right cell; one check below both."""
    for i in reversed(cells):
        name = _function_name(_text(nb["cells"][i]))
        nb["cells"].insert(i, _code_cell(f"def {name}(*args, **kwargs):\n    return None\n",
                                         "exercise"))


def windows_lines_and_plain_metadata(nb: dict, cells: list[int]) -> None:
    """CRLF line ends, trailing spaces, sources as one string, no cell ids, another kernel."""
    nb["nbformat_minor"] = 1
    nb["metadata"] = {"kernelspec": {"name": "my-env", "display_name": "Mine",
                                     "language": "python"}}
    for cell in nb["cells"]:
        cell.pop("id", None)
        cell["source"] = _text(cell).replace("\n", "\r\n") + "   "


def decorated_with_a_main_guard(nb: dict, cells: list[int]) -> None:
    """A wrapping decorator, unicode comments, a warning, and an ``if __name__`` demo."""
    for i in cells:
        nb["cells"][i]["source"] = (
            "import functools\nimport warnings\n\n\ndef _traced(f):  # ✓ λ ünïcødé\n"
            "    @functools.wraps(f)\n    def inner(*a, **k):\n        return f(*a, **k)\n"
            "    return inner\n\n\n@_traced\n" + _text(nb["cells"][i])
            + "\nwarnings.warn('slow?')\nif __name__ == '__main__':\n"
              "    print(undefined_demo_variable)\n")


def module_from_writefile(nb: dict, cells: list[int]) -> None:
    """Each function in a module that a ``%%writefile`` cell above writes; the exercise
    cell imports it from there."""
    for k, i in reversed(list(enumerate(cells))):
        code = _text(nb["cells"][i])
        nb["cells"].insert(i, _code_cell(f"%%writefile mine_{k}.py\nimport numpy as np\n"
                                         f"import torch\n\n\n{code}"))
        nb["cells"][i + 1]["source"] = f"from mine_{k} import {_function_name(code)}\n"


def tags_lost_functions_bound_by_assignment(nb: dict, cells: list[int]) -> None:
    """Tags lost (Colab, some editors), and each function bound by an assignment
    (``name = _name_impl``, as a lambda or ``functools.partial`` would bind it)."""
    for i in cells:
        code = _text(nb["cells"][i])
        name = _function_name(code)
        nb["cells"][i]["source"] = code.replace(f"def {name}(", f"def _{name}_impl(", 1) + (
            f"\n\n{name} = _{name}_impl\n")
    for cell in nb["cells"]:
        cell["metadata"] = {}


def call_counter_in_a_cell_above(nb: dict, cells: list[int]) -> None:
    """Each function counts its calls in a module variable that a cell above sets
    (``global calls`` in the function, ``calls = 0`` elsewhere)."""
    for i in reversed(cells):
        code = _text(nb["cells"][i])
        name = _function_name(code)
        nb["cells"][i]["source"] = code.replace(f"def {name}(", f"def _{name}_impl(", 1) + (
            f"\n\ndef {name}(*args, **kwargs):\n    global calls\n    calls += 1\n"
            f"    return _{name}_impl(*args, **kwargs)\n")
        nb["cells"].insert(i, _code_cell("calls = 0\n"))


def slow_demo_after_the_last_function(nb: dict, cells: list[int]) -> None:
    """The last exercise cell tries its function in a demo loop that takes longer than the
    grader's time for a cell (10 s of CPU); Run All waits for it."""
    nb["cells"][cells[-1]]["source"] = _text(nb["cells"][cells[-1]]) + (
        "\n\nimport time\n\nstart = time.process_time()\nwhile time.process_time() - start < 12:"
        "\n    pass\nprint('tried')\nTRIED = True\n")


def renamed_with_a_helper_above_it(nb: dict, cells: list[int]) -> None:
    """Each function renamed (``my_iou``), after a helper of its own in the same cell; the
    check is given the new name, or a lambda calling it."""
    checks = [k for k, c in enumerate(nb["cells"])
              if "check" in c.get("metadata", {}).get("tags", [])]
    for n, (i, k) in enumerate(zip(cells, checks, strict=True)):
        code = _text(nb["cells"][i])
        name = _function_name(code)
        nb["cells"][i]["source"] = "def _unused_helper(x):\n    return x\n\n\n" + code.replace(
            f"def {name}(", f"def my_{name}(", 1)
        passed = f"my_{name}" if n % 2 == 0 else f"lambda *a, **k: my_{name}(*a, **k)"
        nb["cells"][k]["source"] = _text(nb["cells"][k]).replace(f"({name})", f"({passed})")


def fixed_below_and_checked_through_an_alias(nb: dict, cells: list[int]) -> None:
    """A wrong answer above its (failing) check; the fix at the end, checked through an
    alias of the check (``from camcourse.checks import exercise_0_1 as check_it``) or
    ``camcourse.checks.get_check("0.1")``."""
    checks = [_text(c) for c in nb["cells"] if "check" in c.get("metadata", {}).get("tags", [])]
    for n, (i, check) in enumerate(zip(cells, checks, strict=True)):
        code = _text(nb["cells"][i])
        name = _function_name(code)
        check_name = check.split("(", 1)[0].rsplit(".", 1)[-1]  # exercise_N_M
        number = check_name.removeprefix("exercise_").replace("_", ".")
        nb["cells"][i]["source"] = f"def {name}(*args, **kwargs):\n    return None\n"
        again = (f"from camcourse.checks import {check_name} as check_it\n\ncheck_it({name})\n"
                 if n % 2 == 0 else f"camcourse.checks.get_check({number!r})({name})\n")
        nb["cells"] += [_code_cell(code), _code_cell(again)]


def impl_in_a_timed_cell_above(nb: dict, cells: list[int]) -> None:
    """Each function's code in a ``%%time`` (or ``%%capture``) cell above; the exercise
    cell calls it."""
    for k, i in reversed(list(enumerate(cells))):
        code = _text(nb["cells"][i])
        name = _function_name(code)
        magic = "%%time" if k % 2 == 0 else "%%capture"
        nb["cells"][i]["source"] = (f"def {name}(*args, **kwargs):\n"
                                    f"    return _{name}_impl(*args, **kwargs)\n")
        nb["cells"].insert(i, _code_cell(f"{magic}\n" + code.replace(
            f"def {name}(", f"def _{name}_impl(", 1) + "\nprint('defined')\n"))


def imports_in_guarded_blocks_above(nb: dict, cells: list[int]) -> None:
    """The functions use NumPy imported in a ``try`` block with a print in its
    ``except``, in a ``with warnings.catch_warnings()`` block, or bound in an ``if`` block
    that also prints, in a cell above the first exercise."""
    nb["cells"].insert(cells[0], _code_cell(
        "import warnings\n\ntry:\n    import numpy as _np_try\nexcept ImportError:\n"
        "    print('no NumPy')\n    _np_try = None\n\nwith warnings.catch_warnings():\n"
        "    warnings.simplefilter('ignore')\n    import numpy as _np_with\n\n"
        "if _np_with is not None:\n    print('NumPy', _np_with.__version__)\n"
        "    _np_if = _np_with\n"))
    for k, i in enumerate(cells):
        alias = ("_np_try", "_np_with", "_np_if")[k % 3]
        nb["cells"][i + 1]["source"] = _text(nb["cells"][i + 1]).replace("np.", f"{alias}.")


def objects_filled_in_place_above(nb: dict, cells: list[int]) -> None:
    """The functions reach NumPy through objects that a cell above fills in place: a dict
    filled by a loop, a list appended to, an attribute set (``cfg.np = np``) and one set
    with ``setattr``; Run All leaves them filled when the exercise runs."""
    nb["cells"].insert(cells[0], _code_cell(
        "import types\n\n_MODS = {}\nfor _name in ['np']:\n    _MODS[_name] = np\n"
        "_LIST = []\n_LIST.append(np)\n_cfg = types.SimpleNamespace()\n_cfg.np = np\n"
        "_ops = types.SimpleNamespace()\nsetattr(_ops, 'np', np)\n"))
    for k, i in enumerate(cells):
        reach = ("_MODS['np']", "_LIST[0]", "_cfg.np", "_ops.np")[k % 4]
        nb["cells"][i + 1]["source"] = _text(nb["cells"][i + 1]).replace("np.", f"{reach}.")


def function_written_in_its_check_cell(nb: dict, cells: list[int]) -> None:
    """The stub left in the exercise cell (still raising), the function written in the
    check's cell above the check call."""
    checks = [k for k, c in enumerate(nb["cells"])
              if "check" in c.get("metadata", {}).get("tags", [])]
    for i, k in zip(cells, checks, strict=True):
        code = _text(nb["cells"][i])
        name = _function_name(code)
        nb["cells"][i]["source"] = (f"def {name}(*args, **kwargs):\n    # YOUR CODE HERE\n"
                                    f"    raise NotImplementedError\n")
        nb["cells"][k]["source"] = code + "\n\n" + _text(nb["cells"][k])


def renamed_with_tags_lost(nb: dict, cells: list[int]) -> None:
    """Tags lost (a front end that drops cell metadata) and each function renamed; the
    check call passes the new name."""
    checks = [k for k, c in enumerate(nb["cells"])
              if "check" in c.get("metadata", {}).get("tags", [])]
    for i, k in zip(cells, checks, strict=True):
        code = _text(nb["cells"][i])
        name = _function_name(code)
        nb["cells"][i]["source"] = code.replace(f"def {name}(", f"def mine_{name}(", 1)
        nb["cells"][k]["source"] = _text(nb["cells"][k]).replace(f"({name})",
                                                                  f"(mine_{name})")
    for cell in nb["cells"]:
        cell["metadata"] = {}


def saved_in_format_3(nb: dict, cells: list[int]) -> None:
    """Saved by IPython 1–3: nbformat 3, cells in ``worksheets``, code in ``input``."""
    old = [{**{k: v for k, v in c.items() if k != "source"}, "input": c["source"],
            "language": "python", "prompt_number": None} if c["cell_type"] == "code" else c
           for c in nb["cells"]]
    nb.clear()
    nb.update({"nbformat": 3, "nbformat_minor": 0, "metadata": {"name": ""},
               "worksheets": [{"cells": old, "metadata": {}}]})


def saved_by_colab_with_outputs(nb: dict, cells: list[int]) -> None:
    """Colab's metadata (``colab``, ``accelerator``, cell ``id`` and ``outputId``) and every
    cell's outputs kept, a stream, a result and an image among them."""
    nb["metadata"] = {"colab": {"provenance": [], "toc_visible": True},
                      "kernelspec": {"name": "python3", "display_name": "Python 3"},
                      "language_info": {"name": "python"}, "accelerator": "GPU"}
    for k, cell in enumerate(nb["cells"]):
        cell["metadata"] = {**cell.get("metadata", {}), "id": f"c{k:05d}",
                            "outputId": f"o{k:05d}", "colab": {"height": 35}}
        if cell["cell_type"] == "code":
            cell["execution_count"] = k + 1
            cell["outputs"] = [
                {"output_type": "stream", "name": "stdout", "text": ["Mounted at /content\n"]},
                {"output_type": "execute_result", "execution_count": k + 1, "metadata": {},
                 "data": {"text/plain": ["'ok'"]}},
                {"output_type": "display_data", "metadata": {},
                 "data": {"image/png": "iVBORw0KGgo=", "text/plain": ["<Figure>"]}}]


def very_long_outputs_kept(nb: dict, cells: list[int]) -> None:
    """Every code cell keeps a 20,000-line output (a training log printed per batch)."""
    log = [f"batch {k}: loss 0.{k:05d}\n" for k in range(20_000)]
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": log}]
            cell["execution_count"] = 7


def saved_by_vscode_with_notes_before_checks(nb: dict, cells: list[int]) -> None:
    """VS Code's notebook metadata, cell tags dropped, and a markdown note of the
    learner's between each exercise cell and its check."""
    nb["metadata"] = {"kernelspec": {"display_name": ".venv", "language": "python",
                                     "name": "python3"},
                      "language_info": {"name": "python", "version": "3.11.7"},
                      "vscode": {"interpreter": {"hash": "0" * 64}}}
    for i in reversed(cells):
        nb["cells"].insert(i + 1, {"cell_type": "markdown", "metadata": {},
                                   "source": "> Note: I did the derivation on paper first."})
    for cell in nb["cells"]:
        cell["metadata"] = {}


def saved_by_jupyterlab4_with_cell_ids(nb: dict, cells: list[int]) -> None:
    """nbformat 4.5 as JupyterLab 4 writes it: a cell ``id`` each, execution timing
    metadata, a ``Python 3 (ipykernel)`` kernel."""
    nb["nbformat"], nb["nbformat_minor"] = 4, 5
    nb["metadata"] = {"kernelspec": {"display_name": "Python 3 (ipykernel)",
                                     "language": "python", "name": "python3"}}
    for k, cell in enumerate(nb["cells"]):
        cell["id"] = f"{k:08x}-0000-4000-8000-000000000000"
        if cell["cell_type"] == "code":
            cell["metadata"]["execution"] = {"iopub.execute_input": "2026-12-01T10:00:00Z"}


def demo_cell_between_cell_and_check(nb: dict, cells: list[int]) -> None:
    """A code cell between each exercise cell and its check tries the function on a
    value of its own and prints; it defines nothing the function needs."""
    for i in reversed(cells):
        name = _function_name(_text(nb["cells"][i]))
        nb["cells"].insert(i + 1, _code_cell(
            f"print({name}.__name__, 'defined')\ntry:\n    {name}(None)\n"
            f"except Exception as error:\n    print('expected:', type(error).__name__)\n"))


def defined_in_blocks_with_tags_lost(nb: dict, cells: list[int]) -> None:
    """Tags lost, and each function defined inside a top-level block: a ``try`` with an
    ``except ImportError`` fallback, or an ``if``/``else`` choosing a version."""
    for k, i in enumerate(cells):
        body = "".join("    " + line if line.strip() else line
                       for line in _text(nb["cells"][i]).splitlines(keepends=True))
        nb["cells"][i]["source"] = (
            "try:\n    import scipy\n" + body + "\nexcept ImportError:\n    scipy = None\n"
            if k % 2 == 0 else "FAST = True\n\nif FAST:\n" + body + "\nelse:\n    pass\n")
    for cell in nb["cells"]:
        cell["metadata"] = {}


def colab_platform_lines(nb: dict, cells: list[int]) -> None:
    """Lines only Colab runs: a cell mounting Drive at the top, ``#@title`` forms, each
    exercise cell starting with ``from google.colab import output`` and a cell between it
    and its check importing ``google.colab.files``. They worked on Colab: no row may
    carry a note about them (``NOTE_FREE_LAYOUTS``)."""
    for i in reversed(cells):
        nb["cells"][i]["source"] = ("#@title My answer { display-mode: \"form\" }\n"
                                    "from google.colab import output\n" + _text(nb["cells"][i]))
        nb["cells"].insert(i + 1, _code_cell("from google.colab import files\n"))
    nb["cells"].insert(1, _code_cell("from google.colab import drive\n"
                                     "drive.mount('/content/drive')\n"))


def demo_lines_on_slow_lesson_data(nb: dict, cells: list[int]) -> None:
    """Each exercise cell ends with a demo line on a value that a cell above computes
    slowly (as the lessons compute their data): Run All has it, the grader skips its
    definition (over its 2 s) and the line raises there; no row may carry a note."""
    for i in reversed(cells):
        nb["cells"][i]["source"] = _text(nb["cells"][i]) + '\nprint("demo:", DEMO_TOTAL % 7)\n'
    nb["cells"].insert(cells[0], _code_cell("DEMO_TOTAL = sum(i * i for i in range(10**8))\n"))


LAYOUTS = [helper_between_cell_and_check, import_between_cell_and_check,
           fixed_below_and_checked_again, wrong_attempt_above,
           windows_lines_and_plain_metadata, decorated_with_a_main_guard,
           module_from_writefile, tags_lost_functions_bound_by_assignment,
           call_counter_in_a_cell_above, slow_demo_after_the_last_function,
           renamed_with_a_helper_above_it, fixed_below_and_checked_through_an_alias,
           impl_in_a_timed_cell_above, imports_in_guarded_blocks_above,
           objects_filled_in_place_above, function_written_in_its_check_cell,
           renamed_with_tags_lost, saved_in_format_3, saved_by_colab_with_outputs,
           very_long_outputs_kept, saved_by_vscode_with_notes_before_checks,
           saved_by_jupyterlab4_with_cell_ids, demo_cell_between_cell_and_check,
           defined_in_blocks_with_tags_lost, colab_platform_lines,
           demo_lines_on_slow_lesson_data]
"""Honest notebook layouts; each must keep every exercise's full marks."""

NOTE_FREE_LAYOUTS = [colab_platform_lines, saved_by_colab_with_outputs,
                     saved_by_jupyterlab4_with_cell_ids, demo_cell_between_cell_and_check,
                     defined_in_blocks_with_tags_lost, demo_lines_on_slow_lesson_data]
"""Layouts whose rows must also carry no note: nothing in them failed for the learner."""
