"""Checks for lesson 04 (swapping the sums): M_c and S_c from the maps.

- Exercise 4.1 ``class_activation_maps(features, weight)``: M_c(x, y) = Σ_k w_k^c f_k(x, y).
- Exercise 4.2 ``scores_from_maps(maps, bias, reduce)``: the derivation's last line for
  both poolings, S_c = Σ_{x,y} M_c(x, y) + b_c ("sum", the paper) and
  S_c = (1/Z) Σ_{x,y} M_c(x, y) + b_c ("mean", real networks).
- Exercise 4.3 ``predicted_class_maps(features, weight, bias)``: the map of each image's
  top class, chosen from the scores.

Mistakes named (``tests/test_wrong_answers_00_05.py`` tries each): for 4.1 a ReLU, |M|,
a factor 1/Z, H and W swapped (square and non-square maps), the weight transposed,
channels last, min–max normalized maps (each map, each image's, the batch's), a softmax
over the classes; for 4.2 which of 1/Z and b_c is missing or misplaced in each pooling
(1/Z missing or extra, b_c missing, divided by Z, added at every position, multiplied by
Z), Z = H, W, H² or W² instead of H·W, ``reduce`` ignored; for 4.3 argmin, class 0 for
all, the class chosen without the bias, from the summed map or by the highest map peak
(the inputs make these three different answers where a few hundred draws allow), a ReLU
on the map (the top class's maps here are partly or wholly negative), b_c added to the
map, min–max normalized maps, every class's map returned.
"""

from __future__ import annotations

import numpy as np

from camcourse.checks._core import Context, _to_array, exercise_check, factor_Z
from camlib import reference

__all__ = ["exercise_4_1", "exercise_4_2", "exercise_4_3"]


def _distinct(expected: np.ndarray, mistakes: dict) -> dict:
    """The mistakes whose value differs from the right answer on this input."""
    return {m: v for m, v in mistakes.items()
            if np.shape(v) != np.shape(expected) or not np.allclose(v, expected)}


def _softmax_over_classes(maps: np.ndarray) -> np.ndarray:
    shifted = np.exp(maps - maps.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _minmax(maps: np.ndarray, axes: tuple[int, ...] | None = None) -> np.ndarray:
    """Min-max normalized over ``axes`` (None: each map over its own (H, W))."""
    if axes is None:
        return reference.normalize(maps, "minmax")
    low = maps.min(axis=axes, keepdims=True)
    return (maps - low) / (maps.max(axis=axes, keepdims=True) - low)


@exercise_check("4.1", function="class_activation_maps")
def exercise_4_1(ctx: Context, fn) -> str:
    """Check ``class_activation_maps(features, weight)`` -> (N, C, H, W)."""
    # (N, K, H, W, C): non-square first (H and W swapped shows in the shape), then a square
    # map (swapped H and W shows only in the values), then C = K (a transposed weight runs).
    cases = [(1, 5, 7, 3, 4), (2, 3, 4, 4, 6), (2, 4, 3, 5, 4)]
    if ctx.hidden:
        cases += [(int(ctx.rng.integers(1, 4)), int(ctx.rng.integers(1, 9)),
                   int(ctx.rng.integers(2, 10)), int(ctx.rng.integers(2, 10)),
                   int(ctx.rng.integers(2, 9))) for _ in range(2)]
    for n, k, h, w, c in cases:
        features = ctx.rng.normal(size=(n, k, h, w)) * ctx.rng.uniform(0.5, 5.0)
        weight = ctx.rng.normal(size=(c, k))
        expected = reference.class_activation_maps(features, weight)
        mistakes = {
            "the maps are transposed: you swapped H and W (e.g. einsum '...->ncwh'); M_c is "
            "indexed [n, c, y, x] like f_k": expected.transpose(0, 1, 3, 2),
            "you min-max normalized the maps; M_c is the raw weighted sum (normalizing is for "
            "display, lesson 05)": _minmax(expected),
            "you min-max normalized the whole batch of maps to [0, 1]; M_c is the raw "
            "weighted sum (normalizing is for display, lesson 05)":
            _minmax(expected, (0, 1, 2, 3)),
            "you min-max normalized each image's maps together to [0, 1]; M_c is the raw "
            "weighted sum (normalizing is for display, lesson 05)":
            _minmax(expected, (1, 2, 3)),
            "you applied a softmax over the classes; M_c is a weighted sum of the channels, "
            "with no softmax": _softmax_over_classes(expected),
            "you divided each map by its largest |value| (a normalization); M_c is the raw "
            "weighted sum (normalizing is for display, lesson 05)":
            expected / np.abs(expected).max(axis=(2, 3), keepdims=True),
            "you divided each map by its maximum (a normalization); M_c is the raw weighted "
            "sum (normalizing is for display, lesson 05)":
            expected / expected.max(axis=(2, 3), keepdims=True),
            "you divided the maps by the batch's largest |value| (a normalization); M_c is the "
            "raw weighted sum (normalizing is for display, lesson 05)":
            expected / np.abs(expected).max(),
        }
        if k == c:
            mistakes["you used weight[k, c] instead of weight[c, k] (the weight transposed): "
                     "row c of weight holds class c's weights w_k^c"] = \
                np.einsum("kc,nkhw->nchw", weight, features)
        got = ctx.call(fn, features, weight)
        ctx.compare(got, expected, axes=("N", "C", "H", "W"), factors=[factor_Z(h * w)],
                    mistakes=_distinct(expected, mistakes))
    return "M_c(x, y) = Σ_k w_k^c f_k(x, y) for every class and position, H ≠ W included"


def _derivation_mistakes(maps: np.ndarray, bias: np.ndarray, reduce: str) -> dict:
    """Every way of misplacing 1/Z or b_c, named for the pooling asked for."""
    n, c, h, w = maps.shape
    z = h * w
    total = maps.sum(axis=(2, 3))
    mean = total / z
    if reduce == "mean":
        return {
            f'reduce="mean": 1/Z is missing. You returned Σ M_c + b_c (the sum-pooling '
            f"line); mean pooling divides the sum by Z = H·W = {z} before adding b_c "
            f"(is `reduce` ignored?)": total + bias,
            'reduce="mean": b_c is misplaced, divided by Z: (1/Z)(Σ M_c + b_c). Only the '
            "sum is averaged; b_c is added once, after the 1/Z": (total + bias) / z,
            'reduce="mean": b_c is missing: S_c = (1/Z) Σ M_c + b_c': mean,
            f'reduce="mean": b_c is multiplied by Z = {z}. b_c is added once, after '
            f"averaging": mean + z * bias,
            'reduce="mean": both 1/Z and b_c are missing': total,
            f"you divided by H = {h} only; Z = H·W = {z} positions": total / h + bias,
            f"you divided by W = {w} only; Z = H·W = {z} positions": total / w + bias,
            f"you divided by H² = {h * h}; Z = H·W = {h}·{w} = {z}, not H² (the map "
            f"need not be square)": total / (h * h) + bias,
            f"you divided by W² = {w * w}; Z = H·W = {h}·{w} = {z}, not W² (the map "
            f"need not be square)": total / (w * w) + bias,
        }
    return {
        'reduce="sum": there is no 1/Z with sum pooling. You returned (1/Z) Σ M_c + b_c '
        "(the mean-pooling line); the paper's S_c = Σ M_c + b_c (is `reduce` ignored?)":
        mean + bias,
        'reduce="sum": b_c is missing: S_c = Σ_{x,y} M_c(x, y) + b_c': total,
        f'reduce="sum": b_c was added at every position before summing, Σ (M_c + b_c) = '
        f"Σ M_c + Z·b_c with Z = {z}; b_c does not depend on (x, y), add it once":
        total + z * bias,
        f'reduce="sum": b_c is divided by Z = {z}; with sum pooling nothing is divided':
        total + bias / z,
        f'reduce="sum": you divided everything by Z = {z}: (1/Z)(Σ M_c + b_c); sum pooling '
        f"has no 1/Z": (total + bias) / z,
        'reduce="sum": both the sum and b_c went wrong: you returned the mean of M_c':
        mean,
    }


@exercise_check("4.2", function="scores_from_maps")
def exercise_4_2(ctx: Context, fn) -> str:
    """Check ``scores_from_maps(maps, bias, reduce)``: Σ M_c + b_c or (1/Z) Σ M_c + b_c."""
    shapes = [(2, 4, 4, 6), (3, 10, 5, 5), (1, 3, 4, 3)]  # one image: not squeezed to (C,)
    if ctx.hidden:
        shapes += [(int(ctx.rng.integers(1, 5)), int(ctx.rng.integers(2, 12)),
                    int(ctx.rng.integers(2, 12)), int(ctx.rng.integers(2, 12)))
                   for _ in range(2)]
    for n, c, h, w in shapes:
        maps = ctx.rng.normal(size=(n, c, h, w)) * ctx.rng.uniform(0.5, 4.0)
        bias = ctx.rng.normal(size=c) * 3.0 + 0.5
        for reduce in ("mean", "sum"):
            total = maps.sum(axis=(2, 3))
            expected = (total / (h * w) if reduce == "mean" else total) + bias
            got = ctx.call(fn, maps, bias, reduce)
            ctx.compare(got, expected, axes=("N", "C"), factors=[factor_Z(h * w)],
                        terms={"the bias b_c": bias},
                        mistakes=_distinct(expected, _derivation_mistakes(maps, bias, reduce)))
    return "S_c = Σ_{x,y} M_c + b_c (sum pooling) and (1/Z) Σ_{x,y} M_c + b_c (mean pooling)"


def _predicted_case(ctx: Context, n: int, k: int, h: int, w: int, c: int):
    """Inputs where the bias changes some predictions, the top class's map has negative
    values, and one image's top-class map is negative everywhere; where a few hundred
    draws find them, also inputs where the class chosen without the bias, from the summed
    map and by the highest map peak are three different answers, so that the check names
    the one mistake made."""
    fallback = None
    for _ in range(400):
        features = np.maximum(ctx.rng.normal(size=(n, k, h, w)), 0)  # after a ReLU
        weight = ctx.rng.normal(size=(c, k))
        bias = ctx.rng.normal(size=c) * 2.0
        # The last image: one channel on everywhere, with a negative weight in every class,
        # so every class's map (the top one included) is negative at every position.
        features[-1] = 0.0
        features[-1, 0] = ctx.rng.uniform(1.0, 2.0, size=(h, w))
        weight[:, 0] = -np.abs(weight[:, 0]) - 0.2
        scores = reference.class_scores(reference.global_average_pool(features), weight, bias)
        top = scores.argmax(axis=1)
        no_bias = reference.class_scores(reference.global_average_pool(features), weight)
        maps = reference.class_activation_maps(features, weight, top)
        if (not np.array_equal(no_bias.argmax(axis=1), top) and (maps[:-1] < 0).any()
                and len(set(top.tolist())) > 1 and (top != 0).any()):
            fallback = fallback or (features, weight, bias)
            summed = reference.class_scores(reference.global_average_pool(features, "sum"),
                                            weight, bias).argmax(axis=1)
            peak = reference.class_activation_maps(features, weight).max(axis=(2, 3))
            answers = [no_bias.argmax(axis=1), summed, peak.argmax(axis=1)]
            # On a non-square map, Z taken as H² or W² must change some prediction too.
            total = features.sum(axis=(2, 3)) @ weight.T
            squares = [(total / side**2 + bias).argmax(axis=1) for side in {h, w} - {0}]
            if all(not np.array_equal(answers[i], answers[j])
                   for i, j in ((0, 1), (0, 2), (1, 2))) and (
                    h == w or not any(np.array_equal(s, top) for s in squares)):
                return features, weight, bias
    if fallback is None:  # pragma: no cover
        raise RuntimeError("could not draw inputs for exercise 4.3")
    return fallback


@exercise_check("4.3", function="predicted_class_maps")
def exercise_4_3(ctx: Context, fn) -> str:
    """Check ``predicted_class_maps(features, weight, bias)`` -> (N, H, W)."""
    shapes = [(7, 4, 5, 7, 5), (6, 6, 4, 4, 8)]
    if ctx.hidden:
        shapes.append((int(ctx.rng.integers(4, 9)), int(ctx.rng.integers(2, 8)),
                       int(ctx.rng.integers(2, 10)), int(ctx.rng.integers(2, 10)),
                       int(ctx.rng.integers(3, 10))))
    for n, k, h, w, c in shapes:
        features, weight, bias = _predicted_case(ctx, n, k, h, w, c)
        pooled = reference.global_average_pool(features)
        scores = reference.class_scores(pooled, weight, bias)
        top = scores.argmax(axis=1)
        expected = reference.class_activation_maps(features, weight, top)
        no_bias = reference.class_scores(pooled, weight).argmax(axis=1)
        summed = reference.class_scores(reference.global_average_pool(features, "sum"),
                                        weight, bias).argmax(axis=1)
        without_bias = ("you chose the class without the bias b_c; the prediction is the argmax "
                        "of the full score S_c = Σ_k w_k^c F_k + b_c, and b_c can change the "
                        "winner")
        from_sum = ("you chose the class from Σ_k w_k^c Σ_{x,y} f_k + b_c (sum pooling); this "
                    "network averages, F_k = (1/Z) Σ f_k, and with a bias the winner can differ")
        if np.array_equal(no_bias, summed):  # on these inputs the two mistakes coincide
            without_bias = from_sum = ("you chose the class without the bias b_c, or from the "
                                       "summed map (sum pooling, where b_c weighs Z times "
                                       "less); the prediction is the argmax of the full score "
                                       "S_c = (1/Z) Σ_k w_k^c Σ_{x,y} f_k + b_c")
        peak = reference.class_activation_maps(features, weight).max(axis=(2, 3)).argmax(1)
        by_peak = ("you chose the class whose map has the highest peak, max_{x,y} M_c; the "
                   "prediction is the class with the highest score S_c = (1/Z) Σ_{x,y} M_c + "
                   "b_c")
        # Where the peak's class is also a class chosen without the bias (or from the sum),
        # the two maps are the same: one message names both mistakes.
        also = ", or by the highest peak of its map (max_{x,y} M_c); the prediction"
        if np.array_equal(peak, no_bias):
            without_bias = by_peak = without_bias.replace("; the prediction", also, 1)
        elif np.array_equal(peak, summed):
            from_sum = by_peak = from_sum.replace("; the prediction", also, 1)
        peak_bias = (reference.class_activation_maps(features, weight).max(axis=(2, 3))
                     + bias).argmax(1)
        batch_top = int(scores.sum(axis=0).argmax())  # one class for the whole batch
        first = (f"you took the first image's top class (class {int(top[0])}) for every "
                 f"image; take each image's own top class, scores.argmax(axis=1)")
        whole = (f"you took one class for every image (class {batch_top}, the top of the "
                 f"scores summed over the batch); take each image's own top class, "
                 f"scores.argmax(axis=1)")
        if batch_top == int(top[0]):
            first = whole = (f"you took one class for every image (class {batch_top}: the "
                             f"first image's top class, or the top of the scores summed over "
                             f"the batch); take each image's own top class, "
                             f"scores.argmax(axis=1)")
        mistakes = {
            "you took the map of the class with the lowest score; take argmax, not argmin":
            reference.class_activation_maps(features, weight, scores.argmin(axis=1)),
            "you took the map of class 0 for every image; take each image's own top class":
            reference.class_activation_maps(features, weight, 0),
            first: reference.class_activation_maps(features, weight, int(top[0])),
            whole: reference.class_activation_maps(features, weight, batch_top),
            "you chose the class by the highest peak of its map plus the bias, max_{x,y} M_c "
            "+ b_c; the prediction is the class with the highest score S_c = (1/Z) Σ_{x,y} "
            "M_c + b_c, the mean of the map, not its peak":
            reference.class_activation_maps(features, weight, peak_bias),
            without_bias: reference.class_activation_maps(features, weight, no_bias),
            from_sum: reference.class_activation_maps(features, weight, summed),
            by_peak: reference.class_activation_maps(features, weight, peak),
            "you applied a ReLU to the map (negative values became 0); M_c keeps its sign, "
            "and here the top class's map is negative in places, for the last image "
            "everywhere": np.maximum(expected, 0),
            "you added b_c to every position of the map; the bias belongs to the score, "
            "not to any position": expected + bias[top][:, None, None],
            "you min-max normalized the maps; return the raw M_c":
            reference.normalize(expected, "minmax"),
            "you min-max normalized the maps, the whole batch together; return the raw M_c":
            _minmax(expected, (0, 1, 2)),
        }
        got = ctx.call(fn, features, weight, bias)
        array = _to_array(got)
        if array is not None and array.shape == (n, c, h, w):
            ctx.fail(f"predicted_class_maps returned every class's map {array.shape}; return "
                     f"only the map of each image's top class, shape (N, H, W) = "
                     f"{expected.shape}")
        ctx.compare(got, expected, axes=("N", "H", "W"), factors=[factor_Z(h * w)],
                    mistakes=_distinct(expected, mistakes))
    # One image alone (the last case's first): its map keeps the batch axis, (1, H, W).
    one = features[:1]
    expected = expected[:1]
    got = ctx.call(fn, one, weight, bias)
    array = _to_array(got)
    if array is not None and array.shape == expected.shape[1:]:
        ctx.fail(f"for a batch of one image, predicted_class_maps returned shape {array.shape}, "
                 f"expected {expected.shape}: keep the batch axis (no .squeeze(), no [0])")
    ctx.compare(got, expected, what="predicted_class_maps on a batch of one image",
                axes=("N", "H", "W"))
    return "each image's map is M_c of its own top class, bias included, sign kept"
