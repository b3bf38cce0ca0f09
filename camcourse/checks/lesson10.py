"""Checks for lesson 10, generic localizable features: a linear classifier's CAM, GT-known Loc.

A binary linear classifier on GAP features scores s = Σ_k w_k F_k + b for its positive
class (scikit-learn's ``coef_`` has one row, for ``classes_[1]``); the score of the other
class is -s. Its class activation map is M(x, y) = Σ_k w_k f_k(x, y), or -M for the
negative class. GT-known Loc is the fraction of images whose CAM box has IoU ≥ 0.5 with
the ground truth, the class being given (here: the one map each image has).
"""

from __future__ import annotations

import numpy as np

from camcourse.checks._core import Context, as_number, exercise_check, factor_Z, same_number
from camlib import reference

__all__ = ["exercise_10_1", "exercise_10_2"]


@exercise_check("10.1", function="linear_classifier_cam")
def exercise_10_1(ctx: Context, fn) -> str:
    """Check ``linear_classifier_cam(features, coef, positive=True)`` -> (N, H, W)."""
    # The last: one image alone, so an answer squeezed to (H, W) fails.
    cases = [(2, 5, 4, 4, True), (3, 8, 6, 5, False), (1, 4, 3, 5, True)]
    if ctx.hidden:  # grading: odd, non-square maps, signed features of a large spread
        cases += [(1, 3, 7, 2, True), (4, 6, 1, 9, False)]
    for index, (n, k, h, w, as_row) in enumerate(cases):
        features = np.abs(ctx.rng.normal(size=(n, k, h, w)))
        if index >= 3:
            features = ctx.rng.normal(size=(n, k, h, w)) * 10 ** ctx.rng.uniform(-2, 3)
        coef = ctx.rng.normal(size=(1, k) if as_row else (k,))
        weights = coef.reshape(-1)
        for positive in (True, False):
            expected = np.einsum("k,nkhw->nhw", weights, features) * (1 if positive else -1)
            got = ctx.call(fn, features.copy(), coef.copy(), positive=positive)
            what = (f"linear_classifier_cam(features {features.shape}, coef {coef.shape}, "
                    f"positive={positive})")
            mistakes = {
                "you min–max normalized the map; return the raw Σ_k w_k f_k(x, y) (its sign "
                "and scale carry the classifier's score)": reference.normalize(expected),
                "you applied a ReLU to the map; a linear classifier's CAM keeps its negative "
                "values (the evidence against the class)":
                    np.maximum(expected, 0),
                "you multiplied the channel mean by the sum of the weights; weight each "
                "channel by its own w_k before summing over k":
                    features.mean(axis=1) * weights.sum() * (1 if positive else -1),
            }
            if not positive:
                ctx.compare(got, expected, what=what, axes=("N", "H", "W"),
                            factors=[factor_Z(h * w)], mistakes={
                                **mistakes,
                                "with positive=False the map is of the negative class, "
                                "whose score is -s: return -Σ_k w_k f_k(x, y)": -expected,
                            })
            else:
                ctx.compare(got, expected, what=what, axes=("N", "H", "W"),
                            factors=[factor_Z(h * w)], mistakes=mistakes)
    return "M = ±Σ_k w_k f_k(x, y) from a binary classifier's weights, coef as (1, K) or (K,)"


def _smooth_cams(rng: np.random.Generator, n: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Blob-shaped maps and boxes around (or near) each blob, so IoUs spread over [0, 1]."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    cams = np.zeros((n, size, size))
    boxes = np.zeros((n, 4), dtype=np.int64)
    for i in range(n):
        cy, cx = rng.uniform(6, size - 6, size=2)
        sy, sx = rng.uniform(1.5, 4.0, size=2)
        cams[i] = np.exp(-((yy - cy) ** 2 / (2 * sy**2) + (xx - cx) ** 2 / (2 * sx**2)))
        cams[i] += rng.normal(0, 0.01, size=(size, size))
        shift = rng.integers(-4, 5, size=2)
        half = rng.integers(2, 7, size=2)
        x0 = int(np.clip(cx + shift[0] - half[0], 0, size - 2))
        y0 = int(np.clip(cy + shift[1] - half[1], 0, size - 2))
        boxes[i] = x0, y0, min(size, x0 + 2 * half[0]), min(size, y0 + 2 * half[1])
    return cams, boxes


def _gaussian(size: int, cy: float, cx: float, sigma: float) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    return np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))


def _fraction(cams: np.ndarray, boxes: np.ndarray, threshold: float,
              strict: bool = False) -> float:
    ious = np.array([reference.iou(reference.bounding_box(c, threshold), b)
                     for c, b in zip(cams, boxes, strict=True)])
    return float(np.mean(ious > 0.5 if strict else ious >= 0.5))


def _threshold_matters(rng: np.random.Generator, cams: np.ndarray, boxes: np.ndarray,
                       threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Add maps until a threshold hard-coded at 0.2 (or 0.5) gives another fraction.

    A round blob's box shrinks as the threshold rises (radius σ·√(2 ln(1/t))): at t = 0.2
    it has 0.43 of the area of the box at t = 0.5, so a ground-truth box equal to the box
    at the asked threshold is found there and missed at the other one.
    """
    size = cams.shape[-1]
    others = [t for t in (0.2, 0.5) if abs(t - threshold) > 0.1]
    for _ in range(6):
        # The other threshold's fraction must differ from the right one and from the one
        # with a strict > 0.5, so that each mistake gets its own message.
        right = (_fraction(cams, boxes, threshold), _fraction(cams, boxes, threshold, True))
        if all(_fraction(cams, boxes, t) not in right for t in others):
            break
        cy, cx = rng.uniform(size / 3, 2 * size / 3, size=2)
        cam = _gaussian(size, cy, cx, sigma=rng.uniform(size / 12, size / 8))
        box = np.array(reference.bounding_box(cam, threshold), dtype=boxes.dtype)
        cams, boxes = np.concatenate([cams, cam[None]]), np.concatenate([boxes, box[None]])
    return cams, boxes


def _plateau_case(threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """20×20 piecewise-constant maps, each built so that one mistake misses it.

    Every map but the last two is a hit for the right answer. Each mistake misses its own
    number of maps (the whole mask's box: 1, the min–max normalized map: 2,
    4-connectivity: 3, x and y swapped: 4, a fixed 0.2: 5), so the fraction a learner
    returns names the mistake. Boxes lie on the diagonal (x and y swapped give the same
    box) except the tall or wide ones made for the swap; the threshold must lie in (0, 0.5].
    """
    size = 20
    cams, boxes = [], []

    def add(cam, box):
        cams.append(cam)
        boxes.append(box)

    # Two components: the whole mask's box spans both.
    cam = np.zeros((size, size))
    cam[2:8, 2:8] = 1.0
    cam[15:17, 15:17] = 1.0
    add(cam, (2, 2, 8, 8))
    # A negative minimum: min–max normalizing lifts the 0-valued ring above threshold.
    for lo in (4, 9):
        cam = np.full((size, size), -1.0)
        cam[lo:lo + 10, lo:lo + 10] = 0.0
        cam[lo + 3:lo + 7, lo + 3:lo + 7] = 1.0
        add(cam, (lo + 3, lo + 3, lo + 7, lo + 7))
    # Two squares that touch only at a corner: one component with 8-connectivity.
    for shift in (0, 4, 8):
        cam = np.zeros((size, size))
        cam[1 + shift:6 + shift, 1 + shift:6 + shift] = 1.0
        cam[6 + shift:10 + shift, 6 + shift:10 + shift] = 1.0
        add(cam, (1 + shift, 1 + shift, 10 + shift, 10 + shift))
    # Tall or wide boxes off the diagonal: swapping x and y misses them.
    for x0, x1, y0, y1 in ((1, 4, 8, 18), (14, 18, 2, 9), (3, 6, 10, 19), (10, 19, 1, 4)):
        cam = np.zeros((size, size))
        cam[y0:y1, x0:x1] = 1.0
        add(cam, (x0, y0, x1, y1))
    # A ring between 0.2 and the threshold: a fixed 0.2 gets the other box.
    ring = (0.2 + threshold) / 2
    for lo in (0, 2, 5, 7, 10):
        cam = np.zeros((size, size))
        cam[lo:lo + 10, lo:lo + 10] = ring
        cam[lo + 3:lo + 7, lo + 3:lo + 7] = 1.0
        core, whole = (lo + 3, lo + 3, lo + 7, lo + 7), (lo, lo, lo + 10, lo + 10)
        add(cam, core if threshold > 0.2 else whole)
    # Two misses for everyone (IoU 1/3), so the expected fraction is not 1.
    for lo, box in ((2, (2, 2, 6, 14)), (11, (11, 3, 15, 15))):
        cam = np.zeros((size, size))
        cam[lo:lo + 4, lo:lo + 4] = 1.0
        add(cam, box)
    return np.stack(cams), np.array(boxes, dtype=np.int64)


def _whole_mask_box(cam: np.ndarray, threshold: float) -> tuple[int, int, int, int]:
    """The box of every pixel above threshold × max, components ignored."""
    peak = cam.max()
    rows, cols = np.nonzero(cam >= (threshold * peak if peak > 0 else peak))
    return int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1


def _swapped_box(cam: np.ndarray, threshold: float) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = reference.bounding_box(cam, threshold)
    return y0, x0, y1, x1


def _peak_component_box(cam: np.ndarray, threshold: float) -> tuple[int, int, int, int]:
    """The box of the component that holds the map's peak, not of the largest one."""
    peak = cam.max()
    labels, _ = reference.connected_components(cam >= (threshold * peak if peak > 0
                                                        else peak))
    rows, cols = np.nonzero(labels == labels.flat[int(np.argmax(cam))])
    return int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1


def _first_component_box(cam: np.ndarray, threshold: float) -> tuple[int, int, int, int]:
    """The box of the component met first in reading order, not of the largest one."""
    peak = cam.max()
    mask = cam >= (threshold * peak if peak > 0 else peak)
    labels, _ = reference.connected_components(mask)
    rows, cols = np.nonzero(labels == labels.flat[int(np.argmax(mask.ravel()))])
    return int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1


def _clipped_box(cam: np.ndarray, threshold: float) -> tuple[int, int, int, int]:
    """The right box with x1 and y1 clipped to W − 1 and H − 1 (an inclusive habit)."""
    x0, y0, x1, y1 = reference.bounding_box(cam, threshold)
    h, w = cam.shape
    return x0, y0, min(x1, w - 1), min(y1, h - 1)


def _edge_case() -> tuple[np.ndarray, np.ndarray]:
    """20×20 maps where the peak lies in a small component beside a larger one (boxed:
    the larger), and one-pixel-thin components along the right and the bottom border
    (their boxes end at W and H; clipped to W − 1 or H − 1 they are empty), then a 3×3
    square whose ground truth is 4×5 around it. The first three are hits; the peak's
    component misses one, boxes clipped to W − 1 and H − 1 miss two. The square is a miss
    (IoU 9/20 = 0.45) that inclusive boxes make a hit (16/30 = 0.53). Then three maps
    with every value positive: hits that a min–max normalized map (ReLU first or not)
    misses. Last, four maps whose first component in reading order (label 1 of SciPy and
    scikit-image) is a small square above and left of the largest one: hits that the
    first component's box misses, four of them, so that no other mistake (the peak's
    component 1, clipped boxes 2, min–max 3, the whole mask 5) gives the same fraction."""
    size = 20
    big_and_peak = np.zeros((size, size))
    big_and_peak[2:12, 2:12] = 0.6
    big_and_peak[15:17, 15:17] = 1.0
    right = np.zeros((size, size))
    right[2:12, 19] = 1.0
    bottom = np.zeros((size, size))
    bottom[19, 4:14] = 1.0
    square = np.zeros((size, size))
    square[2:5, 2:5] = 1.0
    maps = [big_and_peak, right, bottom, square]
    boxes = [(2, 2, 12, 12), (19, 2, 20, 12), (4, 19, 14, 20), (1, 1, 5, 6)]
    # Every value positive (a floor of 0.6 under a peak of 1): the whole map is kept at a
    # threshold up to 0.6, while min–max normalizing, even after a ReLU, sends the floor
    # to 0 and keeps only the peak's square.
    for y, x in ((3, 4), (9, 12), (13, 2)):
        floor = np.full((size, size), 0.6)
        floor[y:y + 5, x:x + 5] = 1.0
        maps.append(floor)
        boxes.append((0, 0, size, size))
    for a in range(4):  # a small component first, the largest (with the peak) after it
        first_small = np.zeros((size, size))
        first_small[a:a + 2, a:a + 2] = 0.8
        first_small[a + 6:a + 14, a + 6:a + 14] = 1.0
        maps.append(first_small)
        boxes.append((a + 6, a + 6, a + 14, a + 14))
    return np.stack(maps), np.array(boxes, dtype=np.int64)


def _inclusive_iou(a, b) -> float:
    """IoU with a + 1 on every side, as for inclusive boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0]) + 1
    h = min(a[3], b[3]) - max(a[1], b[1]) + 1
    inter = max(w, 0) * max(h, 0)
    union = ((a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
             - inter)
    return inter / union


_BOX_MISTAKES = (
    (_whole_mask_box, "you boxed the whole thresholded mask; box only its largest "
                      "connected component (a map can have several)"),
    (lambda c, t: reference.bounding_box(reference.normalize(c), t),
     "you thresholded the min–max normalized map; keep M ≥ threshold × max M of the map "
     "itself (min–max moves the cut: down for a negative minimum, up for a positive one)"),
    (lambda c, t: reference.bounding_box(np.abs(c), t),
     "you thresholded |M|, the magnitude; strongly negative pixels (evidence against the "
     "class) then count as evidence for it. Keep M ≥ threshold × max M of the signed map"),
    (lambda c, t: reference.bounding_box(c, t, 4),
     "your components use 4-connectivity; the course joins pixels that touch at a corner "
     "too (8-connectivity)"),
    (_swapped_box, "your box has x and y swapped: rows are y, columns are x, and a box is "
                   "(x0, y0, x1, y1)"),
    (_peak_component_box, "you boxed the component that holds the peak; the paper boxes "
                          "the largest connected component, which need not hold the peak"),
    (_first_component_box, "you boxed the first component (label 1, the one nearest the top "
                           "left); the paper boxes the largest one, the component with the "
                           "most pixels"),
    (_clipped_box, "you clipped x1 and y1 to W − 1 and H − 1; the box is half-open, "
                   "(x0, y0, x1, y1) covers cam[y0:y1, x0:x1], so a box along the border "
                   "ends at x1 = W or y1 = H"),
)


def _batch_level_hits(cams: np.ndarray, boxes: np.ndarray, threshold: float) -> float:
    """The fraction of hits when every map is cut at threshold × the batch's max."""
    level = threshold * cams.max()
    found = []
    for cam, box in zip(cams, boxes, strict=True):
        peak = cam.max()
        if peak <= 0 or level > peak:  # no pixel at that level: no box, a miss
            found.append(False)
        else:
            found.append(reference.iou(reference.bounding_box(cam, level / peak), box) >= 0.5)
    return float(np.mean(found))


@exercise_check("10.2", function="gt_known_loc")
def exercise_10_2(ctx: Context, fn) -> str:
    """Check ``gt_known_loc(cams, boxes, threshold=0.2)`` -> fraction with IoU ≥ 0.5."""
    cases = [(0, 20, 0.35), (-1, 20, 0.35), (12, 24, 0.2), (20, 20, 0.5)]
    if ctx.hidden:  # grading: other sizes and thresholds
        cases += [(0, 20, float(ctx.rng.uniform(0.25, 0.45))),
                  (-1, 20, float(ctx.rng.uniform(0.1, 0.55))),
                  (15, 31, float(ctx.rng.uniform(0.1, 0.6))), (9, 17, 0.35)]
    for n, size, threshold in cases:
        if n == 0:
            cams, boxes = _plateau_case(threshold)
        elif n == -1:
            cams, boxes = _edge_case()
        else:
            cams, boxes = _smooth_cams(ctx.rng, n, size)
            # A flat square map whose box has IoU exactly 0.5 with a box twice as tall: it
            # counts as correct (IoU ≥ 0.5, not > 0.5).
            cams[0] = 0.0
            cams[0, 2:6, 2:6] = 1.0
            boxes[0] = (2, 2, 6, 10)
            # Peaks from 0.1 to 10: a level taken from the batch's largest value keeps
            # too little of the weaker maps.
            cams *= 10 ** ctx.rng.uniform(-1, 1, size=(len(cams), 1, 1))
            cams, boxes = _threshold_matters(ctx.rng, cams, boxes, threshold)
        n = len(cams)
        ious = np.array([reference.iou(reference.bounding_box(c, threshold), b)
                         for c, b in zip(cams, boxes, strict=True)])
        expected = float((ious >= 0.5).mean())
        label = f"gt_known_loc({n} maps of {size}×{size}, threshold={threshold:.3g})"
        value = as_number(ctx.call(fn, cams.copy(), boxes.copy(), threshold=threshold), label,
                          expected="one number (a fraction)")
        if same_number(value, expected):
            continue
        where = f"for {n} maps of {size}×{size} with threshold={threshold:.3g}"

        def hits(box_of, t=threshold, cams=cams, boxes=boxes):
            return float(np.mean([reference.iou(box_of(c, t), b) >= 0.5
                                  for c, b in zip(cams, boxes, strict=True)]))

        wrong = [
            (100 * expected, "you returned a percentage; return a fraction in [0, 1]"),
            (float(ious.mean()), "you returned the mean IoU; GT-known Loc is the fraction of "
                                 "images whose IoU is at least 0.5"),
            (hits(reference.bounding_box, 0.2), "you ignored the threshold argument and used "
                                                "a fixed 0.2 (0.2 is only its default)"),
            (float((ious >= 0.5).sum()), "you returned the count of correct images; divide "
                                         "by the number of images"),
            (float((ious > 0.5).mean()), "an IoU of exactly 0.5 counts as correct: use >= "
                                         "0.5, not > 0.5"),
            (hits(reference.bounding_box, 0.5), "you ignored the threshold argument and used "
                                                "a fixed 0.5; pass `threshold` to the box"),
            (1 - expected, "you returned the fraction of images that are wrong (IoU < 0.5); "
                           "GT-known Loc is the fraction that are right"),
            (float(np.mean([_inclusive_iou(reference.bounding_box(c, threshold), b) >= 0.5
                            for c, b in zip(cams, boxes, strict=True)])),
             "your IoU treats the boxes as inclusive (width x1 − x0 + 1); the boxes are "
             "half-open, width x1 − x0, height y1 − y0 (lesson 07's iou)"),
            (_batch_level_hits(cams, boxes, threshold),
             "you took the level from the largest value of the whole batch, threshold × "
             "max over every map; each map is cut at threshold × its own max"),
        ] + [(hits(box_of), message) for box_of, message in _BOX_MISTAKES]
        named = [m for c, m in wrong if same_number(value, c) and not same_number(c, expected)]
        if len(named) == 1:
            ctx.fail(f"{where} you returned {value:.4g}, expected {expected:.4g}: {named[0]}")
        if named:  # two mistakes give this very number: name both
            ctx.fail(f"{where} you returned {value:.4g}, expected {expected:.4g}: either "
                     + "; or ".join(named))
        ctx.fail(f"{where} you returned {value:.4g}, expected {expected:.4g} (the fraction of "
                 f"maps whose box, bounding_box(cam, threshold), has IoU ≥ 0.5 with its "
                 f"ground-truth box: the largest 8-connected component of M ≥ threshold × "
                 f"max M, as (x0, y0, x1, y1))")
    return ("the fraction of boxes with IoU ≥ 0.5 at the given threshold, on maps with "
            "several components, negative minima, corner-touching parts and tall boxes")
