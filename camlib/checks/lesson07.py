"""Checks for lesson 07, weakly supervised localization: IoU, the CAM box, MaxBoxAcc.

Boxes are half-open (x0, y0, x1, y1): the object covers columns x0 <= x < x1 and rows
y0 <= y < y1, and a box's area is (x1 - x0)·(y1 - y0), with no +1.
"""

from __future__ import annotations

import numpy as np

from camlib import reference
from camlib.checks._core import Context, exercise_check

__all__ = ["exercise_7_1", "exercise_7_2", "exercise_7_3"]


# --- 7.1 IoU ----------------------------------------------------------------------------------


def _iou_variants(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """The IoU and the usual wrong versions of it, for one pair of boxes."""
    def area(box, plus=0.0):
        return (box[2] - box[0] + plus) * (box[3] - box[1] + plus)

    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(w, 0.0) * max(h, 0.0)
    union = area(a) + area(b) - inter
    wi, hi = w + 1, h + 1
    inter_incl = max(wi, 0.0) * max(hi, 0.0)
    union_incl = area(a, 1) + area(b, 1) - inter_incl
    return {
        "right": inter / union,
        "inclusive": inter_incl / union_incl,
        "unclamped": (w * h) / (area(a) + area(b) - w * h) if area(a) + area(b) != w * h else 0,
        "no_subtraction": inter / (area(a) + area(b)),
        "over_a": inter / area(a),
        "over_b": inter / area(b),
        "over_min": inter / min(area(a), area(b)),
    }


_IOU_HINTS = {
    "inclusive": "you used inclusive boxes (width x1 - x0 + 1); the course's boxes are "
                 "half-open: width = x1 - x0, height = y1 - y0, with no +1",
    "unclamped": "for boxes that do not overlap, min(x1) - max(x0) is negative: clamp the "
                 "intersection's width and height at 0 before multiplying (two negative "
                 "sides make a positive 'intersection')",
    "no_subtraction": "the union is area(A) + area(B) - area(A ∩ B): you did not subtract "
                      "the intersection, which is counted twice",
    "over_a": "you divided the intersection by the area of box_a; IoU divides by the union",
    "over_b": "you divided the intersection by the area of box_b; IoU divides by the union",
    "over_min": "you divided by the smaller box's area; IoU divides by the union",
}


@exercise_check("7.1", function="iou")
def exercise_7_1(ctx: Context, fn) -> str:
    """Check ``iou(box_a, box_b)`` on hand-picked and random half-open boxes."""
    cases = [
        ((0, 0, 2, 2), (1, 0, 3, 2), "two 2×2 boxes sharing one column"),
        ((0, 0, 4, 4), (0, 0, 4, 4), "identical boxes"),
        ((0, 0, 2, 2), (2, 0, 4, 2), "boxes that touch along an edge (half-open: no overlap)"),
        ((0, 0, 2, 2), (5, 6, 9, 8), "boxes far apart"),
        ((0, 0, 8, 8), (2, 2, 4, 4), "a box inside another"),
        ((3, 1, 7, 9), (1, 4, 10, 6), "a cross of two boxes"),
    ]
    span = 1000 if ctx.hidden else 40  # grading: large, non-square boxes, more of them
    for _ in range(14 if ctx.hidden else 6):
        x = np.sort(ctx.rng.integers(0, span, size=(2, 2)), axis=1)
        y = np.sort(ctx.rng.integers(0, span // 3 if ctx.hidden else span, size=(2, 2)), axis=1)
        x[:, 1] += 1
        y[:, 1] += 1
        cases.append(((x[0, 0], y[0, 0], x[0, 1], y[0, 1]), (x[1, 0], y[1, 0], x[1, 1], y[1, 1]),
                      "random boxes"))
    for box_a, box_b, what in cases:
        a = tuple(int(v) for v in box_a)
        b = tuple(int(v) for v in box_b)
        got = ctx.call(fn, a, b)
        try:
            value = float(got)
        except (TypeError, ValueError):
            ctx.fail(f"iou{a, b} should return one number, got {type(got).__name__}")
        variants = _iou_variants(np.array(a, float), np.array(b, float))
        expected = variants.pop("right")
        if abs(value - expected) <= 1e-6:
            continue
        if value < 0:
            ctx.fail(f"iou{a, b} ({what}) returned {value:.4g} < 0; {_IOU_HINTS['unclamped']}")
        for name, wrong in variants.items():
            if abs(value - wrong) <= 1e-6 and abs(wrong - expected) > 1e-6:
                ctx.fail(f"iou{a, b} ({what}) returned {value:.4g}, expected {expected:.4g}: "
                         f"{_IOU_HINTS[name]}")
        ctx.fail(f"iou{a, b} ({what}) returned {value:.4g}, expected {expected:.4g}")
    a, b = (1, 2, 9, 7), (4, 0, 12, 5)
    if abs(float(ctx.call(fn, b, a)) - reference.iou(a, b)) > 1e-6:
        ctx.fail("iou(b, a) differs from iou(a, b); IoU is symmetric")
    return f"IoU is right on {len(cases)} pairs (touching, disjoint, nested, random)"


# --- 7.2 the CAM box ---------------------------------------------------------------------------


def _blobs(rng: np.random.Generator, size: int = 24) -> np.ndarray:
    """A smooth map with 2–4 bumps of either sign, like a CAM."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    cam = rng.normal(0, 0.02, size=(size, size))
    for index in range(int(rng.integers(2, 5))):
        cy, cx = rng.uniform(2, size - 2, size=2)
        sy, sx = rng.uniform(1.0, 3.5, size=2)
        height = rng.uniform(0.4, 1.0) * (1 if index < 2 else rng.choice([-1, 1]))
        cam += height * np.exp(-((yy - cy) ** 2 / (2 * sy**2) + (xx - cx) ** 2 / (2 * sx**2)))
    return cam


def _box_of(mask: np.ndarray, inclusive: bool = False) -> tuple[int, int, int, int]:
    rows, cols = np.nonzero(mask)
    end = 0 if inclusive else 1
    return int(cols.min()), int(rows.min()), int(cols.max()) + end, int(rows.max()) + end


def _box_mistakes(cam: np.ndarray, threshold: float) -> dict[str, tuple[int, ...]]:
    peak = cam.max()
    mask = cam >= threshold * peak
    labels, count = reference.connected_components(mask, 8)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    largest = labels == int(np.argmax(sizes)) + 1
    right = reference.bounding_box(cam, threshold)
    mistakes = {
        "the box covers every pixel above the threshold: keep only the largest connected "
        "component (label the mask, count each label's pixels, box the biggest)":
            _box_of(mask),
        "the box's end is inclusive (x1 = last column): the course's boxes are half-open, "
        "x1 = last column + 1, so that cam[y0:y1, x0:x1] is the region":
            _box_of(largest, inclusive=True),
        "x and y are swapped: return (x0, y0, x1, y1) with x the column (axis 1) and y the "
        "row (axis 0)": (right[1], right[0], right[3], right[2]),
        "you thresholded at the fixed value `threshold`, not at threshold × max(cam)":
            reference.bounding_box(np.where(cam >= threshold, 1.0, 0.0), 1.0)
            if (cam >= threshold).any() else right,
        "you thresholded the min–max normalized map; the paper keeps pixels ≥ threshold × max":
            reference.bounding_box(reference.normalize(cam), threshold),
        "your components use 4-connectivity (edge neighbours only); the course joins pixels "
        "that touch at a corner too (8-connectivity)": reference.bounding_box(cam, threshold, 4),
    }
    return {m: tuple(int(v) for v in box) for m, box in mistakes.items() if tuple(box) != right}


@exercise_check("7.2", function="cam_to_box")
def exercise_7_2(ctx: Context, fn) -> str:
    """Check ``cam_to_box(cam, threshold)`` against ``camlib.reference.bounding_box``."""
    count = 0
    for trial in range(16 if ctx.hidden else 10):
        cam = _blobs(ctx.rng, size=int(ctx.rng.integers(16, 28)))
        threshold = [0.2, 0.5, 0.35][trial % 3]
        if trial >= 10:  # grading: non-square, odd-sized maps with a large spread of values
            cam = np.concatenate([cam, _blobs(ctx.rng, size=cam.shape[0])[:, :7]], axis=1)
            cam = cam * 10 ** ctx.rng.uniform(-3, 4)
            cam = cam - 0.2 * cam.max()  # a negative floor; the maximum stays positive
            threshold = float(ctx.rng.uniform(0.1, 0.6))
        expected = reference.bounding_box(cam, threshold)
        got = ctx.call(fn, cam, threshold)
        try:
            box = tuple(int(v) for v in np.asarray(got).ravel())
        except (TypeError, ValueError):
            ctx.fail(f"cam_to_box should return 4 integers (x0, y0, x1, y1), got {got!r}")
        if len(box) != 4:
            ctx.fail(f"cam_to_box should return 4 numbers (x0, y0, x1, y1), got {len(box)}")
        if box != expected:
            where = f"on a {cam.shape[0]}×{cam.shape[1]} map with threshold={threshold}"
            for message, wrong in _box_mistakes(cam, threshold).items():
                if box == wrong:
                    ctx.fail(f"{where} you returned {box}, expected {expected}: {message}")
            ctx.fail(f"{where} you returned {box}, expected {expected} (largest 8-connected "
                     f"component of {{cam ≥ {threshold} × max(cam)}}, half-open box)")
        count += 1
    return f"the box of the largest component above threshold × max is right on {count} maps"


# --- 7.3 MaxBoxAcc ------------------------------------------------------------------------------


@exercise_check("7.3", function="max_box_acc")
def exercise_7_3(ctx: Context, fn) -> str:
    """Check ``max_box_acc(ious, iou_threshold=0.5)`` -> (best accuracy, best threshold index)."""
    shapes = [(5, 12), (9, 40), (3, 7)]
    if ctx.hidden:  # grading: one threshold, one image, many images
        shapes += [(1, 5), (7, 1), (int(ctx.rng.integers(10, 30)), 200)]
    for thresholds, images in shapes:
        ious = np.clip(ctx.rng.beta(2, 2, size=(thresholds, images))
                       + np.linspace(-0.2, 0.2, thresholds)[:, None] * ctx.rng.choice([-1, 1]),
                       0, 1)
        ious[:, ctx.rng.integers(images)] = 0.5  # one image exactly on the ≥ boundary
        accuracy = (ious >= 0.5).mean(axis=1)
        best = int(np.argmax(accuracy))
        got = ctx.call(fn, ious)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            ctx.fail(f"max_box_acc should return a pair (accuracy, threshold_index), got "
                     f"{got!r:.80}")
        value, index = got
        value = float(value)
        where = f"for IoUs of shape {ious.shape} (thresholds × images)"
        oracle = float((ious >= 0.5).any(axis=0).mean())
        if abs(value - accuracy[best]) > 1e-9:
            if abs(value - oracle) < 1e-9 and oracle != accuracy[best]:
                ctx.fail(f"{where} you returned {value:.4f}, expected {accuracy[best]:.4f}: you "
                         f"chose the best threshold for each image separately. That uses the "
                         f"ground truth to tune every image and overstates accuracy; MaxBoxAcc "
                         f"picks one threshold for the whole dataset (the best row)")
            if abs(value - 100 * accuracy[best]) < 1e-6:
                ctx.fail(f"{where} you returned a percentage ({value:.2f}); return a fraction "
                         f"in [0, 1]")
            if abs(value - (ious > 0.5).mean(axis=1).max()) < 1e-9:
                ctx.fail(f"{where} you returned {value:.4f}, expected {accuracy[best]:.4f}: a "
                         f"box is correct when IoU ≥ 0.5 (use >=, not >)")
            if abs(value - ious.mean(axis=1).max()) < 1e-9:
                ctx.fail(f"{where} you returned the best mean IoU; MaxBoxAcc counts the "
                         f"fraction of images with IoU ≥ 0.5")
            if abs(value - (ious >= 0.5).mean(axis=0).max()) < 1e-9:
                ctx.fail(f"{where} you averaged over the wrong axis: rows are thresholds, "
                         f"columns are images; average over images (axis 1)")
            ctx.fail(f"{where} you returned accuracy {value:.4f}, expected {accuracy[best]:.4f}")
        if int(index) != best:
            ctx.fail(f"{where} the accuracy is right but the threshold index is {int(index)}, "
                     f"expected {best} (the first row with the best accuracy; np.argmax)")
    iou_strict = ctx.call(fn, np.array([[0.5, 0.7], [0.2, 0.9]]), iou_threshold=0.6)
    if abs(float(iou_strict[0]) - 0.5) > 1e-9:
        ctx.fail(f"with iou_threshold=0.6 you returned {iou_strict[0]}, expected 0.5: use the "
                 f"iou_threshold argument instead of a fixed 0.5")
    return "one threshold for the whole dataset, IoU ≥ 0.5 counted, on three random sets"
