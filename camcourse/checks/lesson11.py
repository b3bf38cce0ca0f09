"""Checks for lesson 11, when CAM misleads: mass on a region, rank correlation, every box.

- 11.1 ``mass_inside(cam, box)``: the share of a map's positive evidence inside a box.
  Mistakes named: no ReLU (signed mass), ``abs`` instead of the positive part, a raw sum
  not divided by the total, a ratio of means, min–max normalization first, counting
  pixels instead of mass, an inclusive box, x and y swapped, the box read as (x, y, width,
  height), the positive mass divided by the signed total, a map with no positive value.
- 11.2 ``rank_correlation(a, b)``: Spearman's ρ of two maps (ties get their average rank).
  Mistakes named: Pearson's r on the values, ordinal ranks that break ties by position,
  the 1 − 6Σd²/(n(n²−1)) shortcut (exact only without ties), argsort taken for ranks,
  ranks per row instead of over the whole map, |ρ| instead of ρ, 1 − ρ, −ρ (one map ranked
  in descending order), Kendall's τ, ranks not centred (cosine), the covariance of the ranks,
  ranks of |M| or max(M, 0), scipy's result object returned whole.
- 11.3 ``instance_boxes(cam, threshold=0.2)``: the box of every 8-connected component of
  {cam ≥ threshold·max cam}, largest first. Mistakes named: only the largest component,
  4-connectivity, one box around the whole mask, the background counted as a component,
  inclusive ends, x and y swapped, an absolute threshold, a min–max normalized map, a
  strict > for ≥, the threshold argument ignored, components not ordered by pixel count (by
  box area, peak or label), a map with no positive value, one box returned for a list,
  corners with a fractional part, a level from max|cam| (a trough deeper than the peak).

Boxes are half-open (x0, y0, x1, y1): the region is ``cam[y0:y1, x0:x1]``.
"""

from __future__ import annotations

import numpy as np

from camcourse.checks._core import (
    Context,
    as_box,
    as_number,
    describe,
    exercise_check,
    number_or_none,
    same_number,
)
from camlib import reference

__all__ = ["exercise_11_1", "exercise_11_2", "exercise_11_3"]


def _blobs(rng: np.random.Generator, height: int, width: int, bumps: int = 3,
           negative: bool = True) -> np.ndarray:
    """A smooth signed map with a few bumps, like an upsampled CAM."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    cam = rng.normal(0, 0.03, size=(height, width))
    for index in range(bumps):
        cy, cx = rng.uniform(1, height - 1), rng.uniform(1, width - 1)
        sy, sx = rng.uniform(0.8, 3.0, size=2)
        sign = -1.0 if (negative and index == bumps - 1) else 1.0
        cam += sign * rng.uniform(0.4, 1.0) * np.exp(
            -((yy - cy) ** 2 / (2 * sy**2) + (xx - cx) ** 2 / (2 * sx**2)))
    return cam


def _random_box(rng: np.random.Generator, height: int, width: int) -> tuple[int, int, int, int]:
    """A half-open box inside a (height, width) map, not touching every border."""
    x0 = int(rng.integers(1, width // 2))
    y0 = int(rng.integers(0, height // 2))
    x1 = int(rng.integers(x0 + 2, width))
    y1 = int(rng.integers(y0 + 1, height - 1))
    return x0, y0, x1, y1


# --- 11.1 the share of the evidence inside a box ------------------------------------------------


def _mass(cam: np.ndarray, box) -> float:
    """Σ_box max(M, 0) / Σ max(M, 0); 0 when the map has no positive value."""
    x0, y0, x1, y1 = box
    positive = np.maximum(cam, 0.0)
    total = positive.sum()
    return float(positive[y0:y1, x0:x1].sum() / total) if total > 0 else 0.0


def _mass_mistakes(cam: np.ndarray, box) -> dict[str, float]:
    x0, y0, x1, y1 = box
    positive = np.maximum(cam, 0.0)
    total = positive.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        mistakes = {
            "you summed the signed map M: negative positions cancel evidence elsewhere. Take "
            "the positive part max(M, 0) first (the evidence for the class), then the share":
                cam[y0:y1, x0:x1].sum() / cam.sum(),
            "you took |M|: negative positions are evidence against the class, not for it; "
            "use the positive part max(M, 0)":
                np.abs(cam)[y0:y1, x0:x1].sum() / np.abs(cam).sum(),
            "you returned the positive mass inside the box without dividing by the map's "
            "total positive mass; return a fraction in [0, 1]":
                positive[y0:y1, x0:x1].sum(),
            "you divided the mean inside the box by the mean over the map (a density ratio); "
            "the share of the mass divides sums":
                positive[y0:y1, x0:x1].mean() / positive.mean(),
            "you min–max normalized the map first; that shifts every pixel by min M and "
            "gives mass to pixels that had none. Use max(M, 0)":
                _mass(reference.normalize(cam), box),
            "you counted positive pixels, not their values: the share of the *mass* weights "
            "each pixel by max(M, 0)":
                (cam[y0:y1, x0:x1] > 0).sum() / max((cam > 0).sum(), 1),
            "you clipped x1 and y1 to W − 1 and H − 1, leaving out the last column and row; "
            "the course's boxes are half-open, cam[y0:y1, x0:x1], so x1 = W includes the "
            "last column": positive[y0:min(y1, cam.shape[0] - 1),
                                    x0:min(x1, cam.shape[1] - 1)].sum() / total,
            "your box includes row y1 and column x1; the course's boxes are half-open: "
            "cam[y0:y1, x0:x1]":
                positive[y0:y1 + 1, x0:x1 + 1].sum() / total,
            "x and y are swapped: the box is (x0, y0, x1, y1) with x the column (axis 1), so "
            "the region is cam[y0:y1, x0:x1]":
                positive[x0:x1, y0:y1].sum() / total,
            "you read the box as (x, y, width, height); it is two corners (x0, y0, x1, y1), so "
            "the region is cam[y0:y1, x0:x1]":
                positive[y0:y0 + y1, x0:x0 + x1].sum() / total,
            "you divided the positive mass inside the box by the signed total Σ M; divide by "
            "the total positive mass Σ max(M, 0), so that the share lies in [0, 1]":
                positive[y0:y1, x0:x1].sum() / cam.sum(),
        }
    return {m: float(v) for m, v in mistakes.items() if np.isfinite(v)}


@exercise_check("11.1", function="mass_inside")
def exercise_11_1(ctx: Context, fn) -> str:
    """Check ``mass_inside(cam, box)`` = Σ_box max(M, 0) / Σ max(M, 0), 0 if no mass."""
    shapes = [(20, 20), (16, 24), (31, 17)]
    if ctx.hidden:
        shapes += [(int(ctx.rng.integers(9, 40)), int(ctx.rng.integers(9, 40)))
                   for _ in range(3)]
    cases = []
    for height, width in shapes:
        cam = _blobs(ctx.rng, height, width)
        cases.append((cam, _random_box(ctx.rng, height, width), f"a {height}×{width} map"))
    # Large spread and an offset: scale-free, and the negative part still ignored.
    cam = 1e3 * _blobs(ctx.rng, 18, 22) - 200.0
    cases.append((cam, _random_box(ctx.rng, 18, 22), "a map with values in the thousands"))
    # A box that holds the whole positive part.
    cam = -np.ones((12, 14))
    cam[3:6, 4:9] = ctx.rng.uniform(0.5, 2.0, (3, 5))
    cases.append((cam, (4, 3, 9, 6), "a map whose only positive values lie inside the box"))
    # No positive value: no evidence anywhere.
    cam = -np.abs(_blobs(ctx.rng, 10, 13)) - 0.1
    cases.append((cam, (2, 2, 8, 7), "a map with no positive value"))
    # Boxes on the image's edges: x0 = 0 or y0 = 0 (no row or column before them) and
    # x1 = W or y1 = H (the last column and row are inside), the whole map included.
    cam = _blobs(ctx.rng, 14, 18)
    for box in ((0, 0, 18, 14), (0, 3, 7, 14), (9, 0, 18, 6)):
        cases.append((cam, box, "a box along the map's edges"))
    for cam, box, what in cases:
        expected = _mass(cam, box)
        value = as_number(ctx.call(fn, cam, box), f"mass_inside(cam of shape {cam.shape}, {box})")
        where = f"on {what} with box {box}"
        if not np.isfinite(value):
            ctx.fail(f"{where} you returned {value}; a map with no positive value has no "
                     f"evidence anywhere: return 0.0 (guard the division)")
        if same_number(value, expected, atol=1e-6 * max(1.0, abs(expected))):
            continue
        if not (cam > 0).any():
            ctx.fail(f"{where} you returned {value:.4g}; a map with no positive value has no "
                     f"evidence anywhere, inside the box or out: return 0.0")
        if same_number(value, 100 * expected, atol=1e-4):
            ctx.fail(f"{where} you returned a percentage ({value:.2f}); return a fraction "
                     f"in [0, 1]")
        for message, wrong in _mass_mistakes(cam, box).items():
            if same_number(value, wrong, atol=1e-6 * max(1.0, abs(wrong))) and not same_number(
                    wrong, expected, atol=1e-6):
                ctx.fail(f"{where} you returned {value:.4g}, expected {expected:.4g}: {message}")
        ctx.fail(f"{where} you returned {value:.4g}, expected {expected:.4g} "
                 f"(Σ over the box of max(M, 0), divided by Σ over the map of max(M, 0))")
    return (f"the share of the positive evidence inside the box is right on {len(cases)} maps "
            f"(offset, large values, no positive value)")


# --- 11.2 Spearman's rank correlation -------------------------------------------------------------


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n of a 1-D array, ties sharing their average rank."""
    from scipy.stats import rankdata

    return rankdata(values, method="average")


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    return _pearson(_ranks(a.ravel()), _ranks(b.ravel()))


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def _spearman_mistakes(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    from scipy.stats import kendalltau, rankdata

    rho = _spearman(a, b)
    fa, fb = a.ravel(), b.ravel()
    n = fa.size
    ordinal = _pearson(rankdata(fa, method="ordinal"), rankdata(fb, method="ordinal"))
    d = _ranks(fa) - _ranks(fb)
    d_ordinal = rankdata(fa, method="ordinal") - rankdata(fb, method="ordinal")
    mistakes = {
        "you computed Pearson's r on the values; Spearman's ρ is Pearson's r on the *ranks*: "
        "it asks whether the two maps order the positions alike, whatever their scales":
            _pearson(fa, fb),
        "your ranks break ties by position (argsort of argsort, or method='ordinal'); tied "
        "values must share their average rank (scipy.stats.rankdata's default): a ReLU'd or "
        "saturated map has many equal values": ordinal,
        "you used ρ = 1 − 6Σd²/(n(n²−1)); it is exact only when there are no ties. Compute "
        "Pearson's r of the (average) ranks instead":
            1 - 6 * float((d**2).sum()) / (n * (n * n - 1)),
        "you used ρ = 1 − 6Σd²/(n(n²−1)) on ordinal ranks; with ties it is wrong twice. "
        "Compute Pearson's r of the average ranks":
            1 - 6 * float((d_ordinal**2).sum()) / (n * (n * n - 1)),
        "you took argsort for the ranks: argsort gives the *positions* of the sorted values, "
        "not the rank of each value (that would be argsort of argsort, and ties need "
        "averaging)": _pearson(np.argsort(fa, kind="stable").astype(float),
                               np.argsort(fb, kind="stable").astype(float)),
        "your ranks give tied values the lowest rank of their group (rankdata's "
        "method='min'); tied values must share their average rank (method='average', "
        "the default)": _pearson(rankdata(fa, method="min"), rankdata(fb, method="min")),
        "your ranks give tied values the highest rank of their group (rankdata's "
        "method='max'); tied values must share their average rank (method='average', "
        "the default)": _pearson(rankdata(fa, method="max"), rankdata(fb, method="max")),
        "your ranks are dense (rankdata's method='dense': no gap after a tie); tied values "
        "share their average rank and the next value's rank skips past the group "
        "(method='average', the default)":
            _pearson(rankdata(fa, method="dense"), rankdata(fb, method="dense")),
        "you returned |ρ|; the sign matters: ρ < 0 means the maps order the positions in "
        "opposite ways": abs(rho),
        "you returned 1 − ρ (a distance); return the correlation ρ itself": 1 - rho,
        "you returned −ρ: one of the maps is ranked in descending order (or negated); rank "
        "both from the smallest value up": -rho,
        "you computed Kendall's τ (concordant pairs); Spearman's ρ is Pearson's r of the "
        "ranks": float(kendalltau(fa, fb).statistic),
        "you did not subtract the mean rank: Σ r_a r_b / √(Σ r_a² Σ r_b²) is a cosine, not a "
        "correlation. Centre both rank vectors first": _cosine(_ranks(fa), _ranks(fb)),
        "you returned the covariance of the ranks; divide by both standard deviations (or "
        "use np.corrcoef) to get a correlation in [−1, 1]":
            float(np.cov(_ranks(fa), _ranks(fb))[0, 1]),
        "you ranked |M|: the sign is part of the map (evidence for or against the class); "
        "rank the values as they are": _spearman(np.abs(fa), np.abs(fb)),
        "you ranked max(M, 0): rank the values as they are, negative ones included":
            _spearman(np.maximum(fa, 0), np.maximum(fb, 0)),
    }
    if a.ndim == 2:
        rows = np.concatenate([rankdata(r) for r in a]), np.concatenate([rankdata(r) for r in b])
        mistakes["you ranked (or correlated) each row separately; rank all the positions "
                  "of the map together (flatten it first)"] = _pearson(*rows)
        mistakes["you averaged the correlations of the rows; rank all the positions of the map "
                 "together (flatten it first)"] = float(np.mean(
                     [_spearman(ra, rb) for ra, rb in zip(a, b, strict=True)
                      if np.ptp(ra) > 0 and np.ptp(rb) > 0]))
    return {m: v for m, v in mistakes.items() if np.isfinite(v) and abs(v - rho) > 1e-6}


def _correlation_cases(ctx: Context) -> list[tuple[np.ndarray, np.ndarray, str]]:
    rng = ctx.rng
    cases = []
    a = _blobs(rng, 12, 12)
    cases.append((a, a + rng.normal(0, 0.15, a.shape), "a map and a noisy copy"))
    a = _blobs(rng, 10, 14)
    cases.append((a, np.exp(3 * a), "a map and a monotone transform of it (ρ = 1)"))
    a = _blobs(rng, 9, 11)
    cases.append((a, -a ** 3 + rng.normal(0, 0.05, a.shape), "maps that disagree"))
    a = _blobs(rng, 16, 16, negative=False)
    cases.append((np.maximum(a - 0.3, 0), np.maximum(_blobs(rng, 16, 16) - 0.2, 0),
                  "two ReLU'd maps with many zeros (ties)"))
    a = np.round(4 * _blobs(rng, 13, 8)) / 4
    cases.append((a, np.round(4 * (a + rng.normal(0, 0.3, a.shape))) / 4,
                  "maps with few distinct values (many ties)"))
    if ctx.hidden:
        h, w = int(rng.integers(5, 30)), int(rng.integers(5, 30))
        a = 1e4 * _blobs(rng, h, w)
        cases.append((a, a + 1e4 * rng.normal(0, 0.3, (h, w)), "large values"))
        a = rng.integers(0, 3, (h, w)).astype(float)
        cases.append((a, rng.integers(0, 3, (h, w)).astype(float) + 0.5 * a, "three levels"))
        a = rng.normal(size=int(rng.integers(20, 60)))
        cases.append((a, a + rng.normal(size=a.shape), "1-D arrays"))
    return cases


@exercise_check("11.2", function="rank_correlation")
def exercise_11_2(ctx: Context, fn) -> str:
    """Check ``rank_correlation(a, b)``: Spearman's ρ over all positions, ties averaged."""
    cases = _correlation_cases(ctx)
    untied_passed = 0
    for a, b, what in cases:
        ties = np.unique(a).size < a.size or np.unique(b).size < b.size
        expected = _spearman(a, b)
        got = ctx.call(fn, a, b)
        if hasattr(got, "statistic") and not isinstance(got, np.ndarray):
            ctx.fail(f"rank_correlation returned scipy's {type(got).__name__} (statistic and "
                     f"p-value); return its .statistic, one float")
        value = as_number(got, f"rank_correlation(a, b) for {what} of shape {a.shape}",
                          expected="one number (flatten both maps: one correlation over all "
                                   "positions)")
        where = f"for {what} of shape {a.shape}"
        if same_number(value, expected, atol=1e-6):
            untied_passed += not ties
            continue
        named = [message for message, wrong in _spearman_mistakes(a, b).items()
                 if same_number(value, wrong, atol=1e-6)]
        if named:  # ranks with ties only at the bottom cannot tell 'max' from 'dense'
            ctx.fail(f"{where} you returned {value:.4f}, expected {expected:.4f}: "
                     + ("either " if len(named) > 1 else "") + "; or ".join(named))
        if ties and untied_passed:
            ctx.fail(f"{where} you returned {value:.4f}, expected {expected:.4f}: right on maps "
                     f"without ties, wrong on these, so your ranks break ties somehow (argsort "
                     f"of argsort orders equal values arbitrarily); tied values must share "
                     f"their average rank (scipy.stats.rankdata's default)")
        ctx.fail(f"{where} you returned {value:.4f}, expected ρ = {expected:.4f} (Pearson's r "
                 f"of the average ranks of all positions; scipy.stats.spearmanr on the "
                 f"flattened maps)")
    return f"Spearman's ρ is right on {len(cases)} pairs of maps, ties included"


# --- 11.3 a box for every component -------------------------------------------------------------


def _instance_boxes(cam: np.ndarray, threshold: float, connectivity: int = 8,
                    order: str = "size") -> list[tuple[int, int, int, int]]:
    peak = cam.max()
    mask = cam >= (threshold * peak if peak > 0 else peak)
    labels, count = reference.connected_components(mask, connectivity)
    boxes = [tuple(int(v) for v in b) for b in reference.component_boxes(labels, count)]
    if order == "size":
        sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
        boxes = [boxes[i] for i in np.argsort(-sizes, kind="stable")]
    return boxes


def _sizes(cam: np.ndarray, threshold: float) -> dict[tuple[int, ...], list[int]]:
    """Each component's box -> the pixel counts of the components with that box."""
    peak = cam.max()
    mask = cam >= (threshold * peak if peak > 0 else peak)
    labels, count = reference.connected_components(mask, 8)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    found: dict[tuple[int, ...], list[int]] = {}
    for box, size in zip(reference.component_boxes(labels, count), sizes, strict=True):
        found.setdefault(tuple(int(v) for v in box), []).append(int(size))
    return found


def _ordered_sizes(cam: np.ndarray, threshold: float) -> list[int]:
    """The pixel counts of the components, largest first (the order of _instance_boxes)."""
    peak = cam.max()
    mask = cam >= (threshold * peak if peak > 0 else peak)
    labels, count = reference.connected_components(mask, 8)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    return [int(sizes[i]) for i in np.argsort(-sizes, kind="stable")]


def _box_mistakes(cam: np.ndarray, threshold: float) -> dict[str, list]:
    peak = cam.max()
    mask = cam >= (threshold * peak if peak > 0 else peak)
    rows, cols = np.nonzero(mask)
    whole = [(int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1)]
    right = _instance_boxes(cam, threshold)
    background = []
    if (~mask).any():
        r, c = np.nonzero(~mask)
        background = [(int(c.min()), int(r.min()), int(c.max()) + 1, int(r.max()) + 1)]
    absolute = cam >= threshold
    by_abs = cam >= threshold * np.abs(cam).max()
    strict = cam > threshold * peak if peak > 0 else cam >= peak
    strict_labels, strict_count = reference.connected_components(strict, 8)
    strict_sizes = np.bincount(strict_labels.ravel(), minlength=strict_count + 1)[1:]
    strict_boxes = reference.component_boxes(strict_labels, strict_count)
    mistakes = {
        "you kept the pixels strictly above threshold × max(cam); keep those ≥ it (a pixel "
        "equal to the threshold belongs to the mask, as in camlib.reference.bounding_box)":
            [tuple(int(v) for v in strict_boxes[i])
             for i in np.argsort(-strict_sizes, kind="stable")],
        "you dropped the components of a single pixel; return a box for every component, "
        "however small (a 1-pixel component has a 1×1 box)":
            [b for b, size in zip(right, _ordered_sizes(cam, threshold), strict=True)
             if size > 1],
        "you returned only the largest component's box (the paper's single box); return a "
        "box for every component, however small": right[:1],
        "your components use 4-connectivity (edge neighbours only); join pixels that touch "
        "at a corner too (8-connectivity, skimage's connectivity=2)":
            _instance_boxes(cam, threshold, connectivity=4),
        "you returned one box around the whole mask; label the mask and box each component":
            whole,
        "you counted the background (label 0) as a component; components are labels 1..count":
            right + background,
        "your boxes' ends are inclusive (x1 = last column); the course's boxes are "
        "half-open, x1 = last column + 1": [(b[0], b[1], b[2] - 1, b[3] - 1) for b in right],
        "x and y are swapped: return (x0, y0, x1, y1) with x the column (axis 1)":
            [(b[1], b[0], b[3], b[2]) for b in right],
        "you thresholded at the fixed value `threshold`, not at threshold × max(cam)":
            _instance_boxes(np.where(absolute, 1.0, 0.0), 1.0) if absolute.any() else right,
        "you thresholded the min–max normalized map; keep pixels ≥ threshold × max(cam)":
            _instance_boxes(reference.normalize(cam), threshold),
        "you used the threshold 0.2 whatever the `threshold` argument says; use the argument":
            _instance_boxes(cam, 0.2),
        "you took the level from the largest |value|, threshold × max|cam|; the level is "
        "threshold × max(cam), and a deep negative region (evidence against the class) must "
        "not raise it": _instance_boxes(np.where(by_abs, 1.0, 0.0), 1.0)
        if peak > 0 and by_abs.any() else right,
    }
    return {m: b for m, b in mistakes.items() if b != right}


@exercise_check("11.3", function="instance_boxes")
def exercise_11_3(ctx: Context, fn) -> str:
    """Check ``instance_boxes(cam, threshold=0.2)``: every component's box, largest first."""
    cases = []
    for bumps, (height, width), threshold in [(2, (20, 20), 0.2), (3, (18, 26), 0.35),
                                              (4, (27, 15), 0.5), (1, (12, 12), 0.2)]:
        scale = 3.0 if threshold == 0.2 else 0.4  # far from 1: an absolute threshold shows
        cases.append((scale * _blobs(ctx.rng, height, width, bumps, negative=bumps > 2),
                      threshold))
    # A diagonal pair that only 8-connectivity joins, met first in raster order though it
    # is the smallest; a block; two equal squares.
    twins = np.zeros((9, 14))
    twins[0, 1] = twins[1, 2] = 0.9
    twins[2:8, 10:13] = 1.5
    twins[3:6, 1:4] = 1.2
    twins[3:6, 6:9] = 1.2
    twins[8, 0] = 0.9  # a component of one pixel
    cases.append((twins, 0.5))
    # Pixel count against box area: a 4×4 block (16 pixels) beside a diagonal stroke
    # (7 pixels, a 7×7 box), and a 2×3 patch exactly at threshold × max (kept by ≥).
    shapes = np.zeros((11, 16))
    shapes[1:5, 1:5] = 2.0
    shapes[np.arange(3, 10), np.arange(7, 14)] = 1.5
    shapes[7:9, 1:4] = 1.0
    cases.append((shapes, 0.5))
    cases.append((-1.0 - np.abs(_blobs(ctx.rng, 10, 12)), 0.2))  # max < 0: the max pixels
    # A trough deeper than the peak is high: a level from max|cam| (0.2 × 3 = 0.6) drops
    # the component at 0.4 that threshold × max(cam) (0.2 × 1 = 0.2) keeps, and keeps the
    # two others.
    trough = np.zeros((10, 16))
    trough[1:5, 1:6] = 1.0
    trough[6:9, 9:14] = 0.4
    trough[6:9, 1:4] = 0.8
    trough[1:4, 11:15] = -3.0
    cases.append((trough, 0.2))
    # Many components (a grid of 3×3 squares of different sizes, 12 of them): a list cut
    # at a fixed length loses some.
    many = np.zeros((17, 23))
    for index, (row, col) in enumerate((r, c) for r in range(3) for c in range(4)):
        side = 1 + (index * 5) % 4
        many[1 + 5 * row:1 + 5 * row + side, 1 + 5 * col:1 + 5 * col + side] = 1.0 + index / 12
    cases.append((many, 0.3))
    if ctx.hidden:
        for _ in range(4):
            height, width = int(ctx.rng.integers(7, 35)), int(ctx.rng.integers(7, 35))
            bumps = int(ctx.rng.integers(1, 6))
            scale = float(10 ** ctx.rng.uniform(-2, 3))
            cases.append((scale * _blobs(ctx.rng, height, width, bumps),
                          float(ctx.rng.choice([0.15, 0.2, 0.3, 0.6]))))
    for cam, threshold in cases:
        expected = _instance_boxes(cam, threshold)
        got = ctx.call(fn, cam, threshold)
        where = f"on a {cam.shape[0]}×{cam.shape[1]} map with threshold={threshold}"
        try:
            items = list(got)
        except TypeError:
            ctx.fail(f"instance_boxes should return a list of boxes (x0, y0, x1, y1), got "
                     f"{describe(got)}")
        if len(items) == 4 and all(number_or_none(b) is not None for b in items):
            ctx.fail(f"{where} instance_boxes returned one box, {tuple(items)}; return a list "
                     f"of boxes, one per component (a list of one box when there is one)")
        boxes = [as_box(b, f"instance_boxes {where}: box {i}") for i, b in enumerate(items)]
        if sorted(boxes) == sorted(expected):
            sizes = _sizes(cam, threshold)
            order = [sizes[b].pop(0) for b in boxes]
            if order != sorted(order, reverse=True):
                ctx.fail(f"{where} you returned the right boxes in the wrong order (component "
                         f"sizes {order}); put the largest component first (sort by pixel "
                         f"count, descending; not by box area, peak value or label)")
            continue
        if cam.max() <= 0 and not boxes:
            ctx.fail(f"{where} (its max is {cam.max():.3g} < 0) you returned {boxes}, expected "
                     f"{expected}: when no value is positive, threshold × max lies above the "
                     f"max and keeps nothing; keep the pixels equal to the max instead (as "
                     f"camlib.reference.bounding_box does)")
        for message, wrong in _box_mistakes(cam, threshold).items():
            if sorted(boxes) == sorted(wrong):
                ctx.fail(f"{where} you returned {boxes}, expected {expected}: {message}")
        ctx.fail(f"{where} you returned {boxes}, expected {expected} (the half-open box of "
                 f"each 8-connected component of {{cam ≥ {threshold} × max(cam)}}, largest "
                 f"first)")
    return f"every component's box, largest first, is right on {len(cases)} maps"
