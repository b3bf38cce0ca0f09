"""Checks for lesson 07, weakly supervised localization: IoU, the CAM box, MaxBoxAcc.

Boxes are half-open (x0, y0, x1, y1): the object covers columns x0 <= x < x1 and rows
y0 <= y < y1, and a box's area is (x1 - x0)·(y1 - y0), with no +1.
"""

from __future__ import annotations

import numpy as np

from camcourse.checks._core import (
    Context,
    as_box,
    as_integer,
    as_items,
    as_number,
    exercise_check,
    same_number,
)
from camlib import reference

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
    # Read as (x, y, width, height): the corners are (x, y) and (x + width, y + height).
    ca = np.array([a[0], a[1], a[0] + a[2], a[1] + a[3]])
    cb = np.array([b[0], b[1], b[0] + b[2], b[1] + b[3]])
    inter_wh = (max(min(ca[2], cb[2]) - max(ca[0], cb[0]), 0.0)
                * max(min(ca[3], cb[3]) - max(ca[1], cb[1]), 0.0))
    union_wh = area(ca) + area(cb) - inter_wh
    return {
        "right": inter / union,
        "inclusive": inter_incl / union_incl,
        "unclamped": (w * h) / (area(a) + area(b) - w * h) if area(a) + area(b) != w * h else 0,
        "no_subtraction": inter / (area(a) + area(b)),
        "over_a": inter / area(a),
        "over_b": inter / area(b),
        "over_min": inter / min(area(a), area(b)),
        "floor": inter // union,
        "xywh": inter_wh / union_wh if union_wh > 0 else float("nan"),
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
    "floor": "you used integer division (//), which rounds every IoU below 1 down to 0; "
             "IoU is a fraction: divide with /",
    "xywh": "you read the boxes as (x, y, width, height); the course's boxes are two "
            "corners (x0, y0, x1, y1), so width = x1 - x0 and height = y1 - y0",
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
    results = []
    for box_a, box_b, what in cases:
        a = tuple(int(v) for v in box_a)
        b = tuple(int(v) for v in box_b)
        value = as_number(ctx.call(fn, a, b), f"iou{a, b}")
        results.append((a, b, what, value, _iou_variants(np.array(a, float), np.array(b, float))))
    wrong = [r for r in results if not same_number(r[3], r[4]["right"], atol=1e-6)]
    if wrong:
        a, b, what, value, variants = wrong[0]
        expected = variants["right"]
        where = f"iou{a, b} ({what}) returned {value:.4g}, expected {expected:.4g}"
        if value < 0:
            ctx.fail(f"iou{a, b} ({what}) returned {value:.4g} < 0; {_IOU_HINTS['unclamped']}")
        # Two mistakes can give the same number on one pair (the intersection over the
        # smaller area and inclusive boxes both give 0.5 on the first pair): name the one
        # that explains the answer on every pair, else one that alone explains a pair.
        for name, hint in _IOU_HINTS.items():
            if all(same_number(r[3], r[4][name], atol=1e-6) for r in results):
                ctx.fail(f"{where}: {hint}")
        # Else name a mistake only when a second wrong pair confirms it: one pair alone
        # often fits a mistake the learner did not make.
        explains = {n: [r for r in wrong if same_number(r[3], r[4][n], atol=1e-6)]
                    for n in _IOU_HINTS}
        ranked = sorted(explains, key=lambda n: -len(explains[n]))
        top = ranked[0]
        if len(explains[top]) >= 2 and len(explains[top]) > len(explains[ranked[1]]):
            a, b, what, value, variants = explains[top][0]
            ctx.fail(f"iou{a, b} ({what}) returned {value:.4g}, expected "
                     f"{variants['right']:.4g}, and {len(explains[top]) - 1} other pair(s) "
                     f"fit the same mistake: {_IOU_HINTS[top]}")
        ctx.fail(f"{where} (IoU = area(A ∩ B) / (area(A) + area(B) - area(A ∩ B)), "
                 f"half-open corner boxes, width = x1 - x0)")
    a, b = (1, 2, 9, 7), (4, 0, 12, 5)
    if not same_number(as_number(ctx.call(fn, b, a), f"iou{b, a}"), reference.iou(a, b),
                       atol=1e-6):
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


def _diagonal_chain(rng: np.random.Generator) -> np.ndarray:
    """A map whose largest 8-connected component (a diagonal chain of 6 pixels touching at
    corners) is not its largest 4-connected one (a 2×2 block)."""
    cam = rng.uniform(-0.05, 0.05, size=(12, 12))
    for i in range(6):
        cam[2 + i, 1 + i] = 1.0
    cam[1:3, 9:11] = 0.9
    return cam


def _box_of(mask: np.ndarray, inclusive: bool = False) -> tuple[int, int, int, int]:
    rows, cols = np.nonzero(mask)
    end = 0 if inclusive else 1
    return int(cols.min()), int(rows.min()), int(cols.max()) + end, int(rows.max()) + end


def _strict_box(cam: np.ndarray, threshold: float) -> tuple[int, int, int, int]:
    """The box of the largest 8-connected component of {cam > threshold × max}."""
    mask = cam > threshold * cam.max()
    if not mask.any():
        return reference.bounding_box(cam, threshold)
    labels, count = reference.connected_components(mask, 8)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    return _box_of(labels == int(np.argmax(sizes)) + 1)


def _plateau(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """A map with a band exactly at threshold × max: >= keeps it, > drops it."""
    cam = rng.uniform(-0.05, 0.05, size=(12, 12))
    top = int(rng.integers(1, 4))
    cam[top:top + 3, 2:6] = 2.0
    cam[top + 3:top + 8, 2:6] = 1.0  # exactly 0.5 × 2.0
    return cam, 0.5


def _deep_trough(cam: np.ndarray) -> np.ndarray:
    """``cam`` with its lowest point pushed down to -2.5 × its maximum (evidence against
    the class), so that a level taken from max|cam| is 2.5 times the paper's."""
    y, x = np.unravel_index(int(np.argmin(cam)), cam.shape)
    yy, xx = np.mgrid[0:cam.shape[0], 0:cam.shape[1]]
    trough = np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * 1.5**2))
    return cam - (2.5 * cam.max() + cam[y, x]) * trough if cam[y, x] > -2.5 * cam.max() else cam


def _abs_level_box(cam: np.ndarray, threshold: float) -> tuple[int, ...] | None:
    """The box at threshold × max|cam| (None where that level keeps no pixel)."""
    peak, level = cam.max(), threshold * np.abs(cam).max()
    if peak <= 0 or level > peak:
        return None
    return reference.bounding_box(cam, level / peak)


def _area(box: tuple[int, ...]) -> int:
    return (box[2] - box[0]) * (box[3] - box[1])


def _three_rankings() -> np.ndarray:
    """A 20×20 map whose components rank differently by pixel count (a 6×6 block at
    0.25: the largest), by mass (a 4×4 block at 1.0) and by box area (an L of 24 pixels
    whose box is 16 × 9)."""
    cam = np.zeros((20, 20))
    cam[1:7, 1:7] = 0.25
    cam[1:5, 10:14] = 1.0
    cam[17, 0:15] = 0.3
    cam[9:18, 15] = 0.3
    return cam


def _tied_largest_boxes(cam: np.ndarray, threshold: float) -> set[tuple[int, ...]]:
    """The boxes of every component with the most pixels: the exercise leaves ties open."""
    peak = cam.max()
    labels, count = reference.connected_components(
        cam >= (threshold * peak if peak > 0 else peak), 8)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    return {_box_of(labels == k + 1) for k in np.flatnonzero(sizes == sizes.max())}


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
        "you kept pixels strictly above threshold × max (>); a pixel exactly at it belongs "
        "to the mask (>=)": _strict_box(cam, threshold),
        "you boxed the component with the most mass (the largest sum of M); the largest "
        "component is the one with the most pixels":
            _box_of(labels == int(np.argmax([cam[labels == k].sum()
                                             for k in range(1, count + 1)])) + 1),
        "you boxed the component with the largest box; the largest component is the one "
        "with the most pixels, whatever the size of its box":
            _box_of(labels == int(np.argmax([_area(_box_of(labels == k))
                                             for k in range(1, count + 1)])) + 1),
    }
    first = labels == labels.flat[int(np.argmax(mask.ravel()))]
    mistakes["you boxed the first component (label 1, the one nearest the top left); the "
             "paper boxes the largest one, the component with the most pixels"] = _box_of(first)
    by_abs = _abs_level_box(cam, threshold)
    if by_abs is not None:
        mistakes["you took the level from the largest |value|, threshold × max|cam|; the "
                 "paper's level is threshold × max(cam), and a deep negative region (evidence "
                 "against the class) must not raise it"] = by_abs
    return {m: tuple(int(v) for v in box) for m, box in mistakes.items() if tuple(box) != right}


@exercise_check("7.2", function="cam_to_box")
def exercise_7_2(ctx: Context, fn) -> str:
    """Check ``cam_to_box(cam, threshold)`` against ``camlib.reference.bounding_box``."""
    count = 0
    trials = 16 if ctx.hidden else 10
    for trial in range(trials + 3):
        cam = _blobs(ctx.rng, size=int(ctx.rng.integers(16, 28)))
        threshold = [0.2, 0.5, 0.35][trial % 3]
        if trial == trials:  # the largest 8-connected and 4-connected components differ
            cam, threshold = _diagonal_chain(ctx.rng), 0.2
        elif trial == trials + 1:  # pixels exactly at threshold × max
            cam, threshold = _plateau(ctx.rng)
        elif trial == trials + 2:  # the most pixels, the most mass, the largest box differ
            cam, threshold = _three_rankings(), 0.2
        elif trial == 3:  # a trough deeper than the peak is high: max|cam| is not max(cam)
            cam = _deep_trough(cam)
        elif trial == 4:  # every value positive: min-max (even of ReLU(M)) is not M / max
            cam = cam - cam.min() + 0.5 * (cam.max() - cam.min())
        elif trial >= 10:  # grading: non-square, odd-sized maps with a large spread of values
            cam = np.concatenate([cam, _blobs(ctx.rng, size=cam.shape[0])[:, :7]], axis=1)
            cam = cam * 10 ** ctx.rng.uniform(-3, 4)
            cam = cam - 0.2 * cam.max()  # a negative floor; the maximum stays positive
            threshold = float(ctx.rng.uniform(0.1, 0.6))
        expected = reference.bounding_box(cam, threshold)
        got = ctx.call(fn, cam, threshold)
        box = as_box(got, f"cam_to_box(a {cam.shape[0]}×{cam.shape[1]} map, "
                          f"threshold={threshold:.3g})")
        if box != expected and box not in _tied_largest_boxes(cam, threshold):
            where = f"on a {cam.shape[0]}×{cam.shape[1]} map with threshold={threshold}"
            for message, wrong in _box_mistakes(cam, threshold).items():
                if box == wrong:
                    ctx.fail(f"{where} you returned {box}, expected {expected}: {message}")
            ctx.fail(f"{where} you returned {box}, expected {expected} (largest 8-connected "
                     f"component of {{cam ≥ {threshold} × max(cam)}}, half-open box)")
        count += 1
    return f"the box of the largest component above threshold × max is right on {count} maps"


# --- 7.3 MaxBoxAcc ------------------------------------------------------------------------------


def _accuracy_mistakes(ious: np.ndarray) -> list[tuple[float, str]]:
    """(value, message) of the usual wrong MaxBoxAcc accuracies for these IoUs."""
    best = (ious >= 0.5).mean(axis=1).max()
    return [
        (float((ious >= 0.5).any(axis=0).mean()),
         "you chose the best threshold for each image separately. That uses the ground truth "
         "to tune every image and overstates accuracy; MaxBoxAcc picks one threshold for the "
         "whole dataset (the best row)"),
        (100 * best, "you returned a percentage; return a fraction in [0, 1]"),
        ((ious > 0.5).mean(axis=1).max(), "a box is correct when IoU ≥ 0.5 (use >=, not >)"),
        (ious.mean(axis=1).max(), "you returned the best mean IoU; MaxBoxAcc counts the "
                                  "fraction of images with IoU ≥ 0.5"),
        ((ious >= 0.5).mean(axis=0).max(), "you averaged over the wrong axis: rows are "
                                           "thresholds, columns are images; average over "
                                           "images (axis 1)"),
    ]


def _tied_ious(rng: np.random.Generator) -> np.ndarray:
    """IoUs where two thresholds (rows 1 and 3 of 5) tie for the best accuracy."""
    images = 8
    ious = rng.uniform(0.0, 0.45, size=(5, images))
    correct = {0: 2, 1: 5, 2: 3, 3: 5, 4: 1}  # images with IoU ≥ 0.5 at each threshold
    for row, count in correct.items():
        ious[row, rng.permutation(images)[:count]] = rng.uniform(0.5, 1.0, size=count)
    return ious


@exercise_check("7.3", function="max_box_acc")
def exercise_7_3(ctx: Context, fn) -> str:
    """Check ``max_box_acc(ious, iou_threshold=0.5)`` -> (best accuracy, best threshold index)."""
    shapes = [(5, 12), (9, 40), (3, 7)]
    if ctx.hidden:  # grading: one threshold, one image, many images
        shapes += [(1, 5), (7, 1), (int(ctx.rng.integers(10, 30)), 200)]
    sets = []
    for thresholds, images in shapes:
        ious = np.clip(ctx.rng.beta(2, 2, size=(thresholds, images))
                       + np.linspace(-0.2, 0.2, thresholds)[:, None] * ctx.rng.choice([-1, 1]),
                       0, 1)
        ious[:, ctx.rng.integers(images)] = 0.5  # one image exactly on the ≥ boundary
        sets.append(ious)
    sets.append(_tied_ious(ctx.rng))
    # The best mean IoU (row 1) is not the best accuracy (row 0): checked first.
    sets.insert(0, np.array([[0.6, 0.6, 0.6, 0.0], [0.9, 0.9, 0.45, 0.45]]))
    pending = ""
    for ious in sets:
        accuracy = (ious >= 0.5).mean(axis=1)
        best = int(np.argmax(accuracy))
        label = f"max_box_acc(ious of shape {ious.shape})"
        names = "(accuracy, threshold_index)"
        value, index = as_items(ctx.call(fn, ious), 2, label, names=names)
        swapped = [as_number(item, label, expected=f"two values {names}", item=position)
                   for position, item in ((0, value), (1, index))]
        if (same_number(swapped[0], best) and same_number(swapped[1], accuracy[best])
                and not same_number(swapped[0], accuracy[best])):
            ctx.fail(f"{label} returned ({swapped[0]:.4g}, {swapped[1]:.4g}), expected "
                     f"({accuracy[best]:.4f}, {best}): the pair is in the wrong order; "
                     f"return (accuracy, threshold_index), the accuracy first")
        value = as_number(value, label, expected=f"two values {names}", item=0)
        index = as_integer(index, label, expected=f"two values {names}", item=1)
        where = f"for IoUs of shape {ious.shape} (thresholds × images)"
        by_iou = int(np.argmax(ious.mean(axis=1)))
        # A tie with the best accuracy is left to the tie messages below; the first set
        # (no tie) already tells a choice by mean IoU apart.
        if (index == by_iou and accuracy[by_iou] != accuracy[best]
                and same_number(value, accuracy[by_iou])):
            ctx.fail(f"{where} you returned ({value:.4f}, {index}), expected "
                     f"({accuracy[best]:.4f}, {best}): you chose the threshold with the best "
                     f"mean IoU; MaxBoxAcc chooses the first threshold with the best accuracy "
                     f"(the largest fraction of images with IoU ≥ iou_threshold)")
        if not same_number(value, accuracy[best]):
            named = [message for wrong, message in _accuracy_mistakes(ious)
                     if same_number(value, wrong) and not same_number(wrong, accuracy[best])]
            got = f"{where} you returned {value:.4f}, expected {accuracy[best]:.4f}"
            if len(named) == 1:
                ctx.fail(f"{got}: {named[0]}")
            if named and not pending:  # two mistakes give this number: another set decides
                pending = f"{got}: either " + "; or ".join(named)
            if not named:
                ctx.fail(f"{where} you returned accuracy {value:.4f}, expected "
                         f"{accuracy[best]:.4f}")
            continue
        if index != best:
            ties = np.flatnonzero(accuracy == accuracy[best])
            if len(ties) > 1 and index == int(ties[-1]):
                ctx.fail(f"{where} the accuracy is right but the threshold index is {index}, "
                         f"expected {best}: thresholds {', '.join(map(str, ties))} tie for the "
                         f"best accuracy and you returned the last of them; return the first "
                         f"(np.argmax does; in a loop, replace the best only when strictly "
                         f"better, >, not >=)")
            if len(ties) > 1 and index in ties:
                ctx.fail(f"{where} the accuracy is right but the threshold index is {index}, "
                         f"expected {best}: thresholds {', '.join(map(str, ties))} tie for the "
                         f"best accuracy; return the first of them (np.argmax)")
            if index == best + 1 or index == best - 1:
                ctx.fail(f"{where} the accuracy is right but the threshold index is {index}, "
                         f"expected {best}: off by one (indices count from 0: the row of the "
                         f"best accuracy, np.argmax over axis 0 of the per-row accuracies)")
            ctx.fail(f"{where} the accuracy is right but the threshold index is {index}, "
                     f"expected {best} (the first row with the best accuracy; np.argmax)")
    if pending:
        ctx.fail(pending)
    # At 0.6 row 0 is best (2 of 3, one IoU exactly 0.6 counted); at a fixed 0.5, row 2.
    label = "max_box_acc(ious of shape (3, 3), iou_threshold=0.6)"
    strict = as_items(ctx.call(fn, np.array([[0.45, 0.7, 0.6], [0.2, 0.9, 0.55],
                                             [0.55, 0.55, 0.55]]), iou_threshold=0.6), 2,
                      label, names="(accuracy, threshold_index)")
    strict_value = as_number(strict[0], label, expected="two values", item=0)
    strict_index = as_integer(strict[1], label, expected="two values", item=1)
    if not same_number(strict_value, 2 / 3) or strict_index != 0:
        hint = ("use the iou_threshold argument instead of a fixed 0.5"
                if same_number(strict_value, 1.0) or strict_index == 2 else
                "an IoU equal to iou_threshold counts as correct (>=, not >)"
                if same_number(strict_value, 1 / 3) else
                "count the images with IoU ≥ iou_threshold in each row")
        ctx.fail(f"{label} returned ({strict_value:.4g}, {strict_index}), expected "
                 f"(0.6667, 0): {hint}")
    return "one threshold for the whole dataset, IoU ≥ 0.5 counted, on three random sets"
