"""Checks for lesson 02 (pooling): F_k as a sum or a mean, max pooling, head sizes.

- Exercise 2.1 ``global_average_pool(features, reduce)``: F_k = Σ f_k or (1/Z) Σ f_k.
- Exercise 2.2 ``head_parameter_counts(channels, height, width, classes)``: the weights
  and biases of a flatten + linear head and of a GAP + linear head.
- Exercise 2.3 ``global_max_pool(features)``: F_k = max_{x,y} f_k(x, y).

Mistakes named (``tests/test_wrong_answers_00_05.py`` tries each): for 2.1 the sum where
the mean is asked and the reverse, ``reduce`` ignored, the two modes swapped, the wrong
axes, one spatial axis only, Z = H or W instead of H·W, K·H·W instead of H·W, keepdims, the
maximum, |f_k| or a ReLU first; for 2.2 the biases (one or both, or one per input), the
order, H·H for H·W, the channels or classes forgotten in the flatten head, K·H·W inputs for
the GAP head, the lesson's hidden-layer head; for 2.3 |f_k|, the minimum, the mean, a ReLU
first, one axis only.
"""

from __future__ import annotations

import numpy as np

from camcourse.checks._core import (
    Context,
    _to_array,
    as_items,
    as_number,
    exercise_check,
    factor_Z,
)
from camlib import reference

__all__ = ["exercise_2_1", "exercise_2_2", "exercise_2_3"]


def _shapes(ctx: Context, fixed: list[tuple[int, int, int, int]]) -> list[tuple[int, ...]]:
    shapes = list(fixed)
    if ctx.hidden:
        for _ in range(2):
            shapes.append((int(ctx.rng.integers(1, 5)), int(ctx.rng.integers(1, 9)),
                           int(ctx.rng.integers(2, 12)), int(ctx.rng.integers(2, 12))))
    return shapes


def _distinct(expected: np.ndarray, mistakes: dict) -> dict:
    """The mistakes whose value differs from the right answer on this input."""
    return {m: v for m, v in mistakes.items()
            if np.shape(v) != np.shape(expected) or not np.allclose(v, expected)}


def _features(ctx: Context, shape: tuple[int, ...]) -> np.ndarray:
    """Both signs, a large spread, and one all-negative channel (its max is below zero)."""
    features = ctx.rng.normal(size=shape) * ctx.rng.uniform(0.5, 4.0)
    features[:, 0] = -np.abs(features[:, 0]) - 0.5
    return features


@exercise_check("2.1", function="global_average_pool")
def exercise_2_1(ctx: Context, fn) -> str:
    """Check ``global_average_pool(features, reduce)`` for "mean" and "sum"."""
    # A batch of one image, and one channel: an answer squeezed to (K,) or (N,) fails.
    for shape in _shapes(ctx, [(2, 3, 4, 5), (3, 6, 7, 3), (1, 4, 3, 5), (2, 1, 5, 4)]):
        features = _features(ctx, shape)
        h, w = shape[2], shape[3]
        z = h * w
        mean = features.mean(axis=(2, 3))
        total = features.sum(axis=(2, 3))
        for reduce in ("mean", "sum"):
            expected = reference.global_average_pool(features, reduce)
            other = total if reduce == "mean" else mean
            other_name = "sum" if reduce == "mean" else "mean"
            got = ctx.call(fn, features, reduce)
            _one_spatial_axis(ctx, got, features, f'the {reduce} (reduce="{reduce}")',
                              np.mean if reduce == "mean" else np.sum)
            size = "large" if reduce == "mean" else "small"
            ctx.compare(got, expected, axes=("N", "K"), factors=[factor_Z(z)],
                        mistakes=_distinct(expected, {
                f'with reduce="{reduce}" you returned the {other_name}, every value Z = H·W = '
                f"{z} times too {size}: is `reduce` ignored, or are the two cases swapped? "
                f'"mean" is (1/Z) Σ_(x,y) f_k, "sum" is Σ_(x,y) f_k': other,
                f"you divided by H = {h} only; Z = H·W = {z} positions":
                total / h,
                f"you divided by W = {w} only; Z = H·W = {z} positions": total / w,
                "you took the maximum (that is GMP, exercise 2.3); GAP adds up the map":
                features.max(axis=(2, 3)),
                f"you also divided by the K = {shape[1]} channels; the mean runs over the "
                f"Z = H·W = {z} positions of each channel only": total / (z * shape[1]),
                "you pooled |f_k|; GAP adds the values with their signs (a negative map "
                "has a negative F_k)": reference.global_average_pool(np.abs(features), reduce),
                "you clipped negative values to 0 first (a ReLU); GAP adds the values as they "
                "are, negative ones included": reference.global_average_pool(
                    np.maximum(features, 0), reduce),
            }))
    return "F_k = Σ_{x,y} f_k (sum) and (1/Z) Σ_{x,y} f_k (mean), on non-square maps"


def _one_spatial_axis(ctx: Context, got, features: np.ndarray, what: str, reduce) -> None:
    """Fail with a named mistake when the answer is pooled over y only or over x only."""
    array = _to_array(got)
    if array is None or array.ndim != 3:
        return
    n, k, h, w = features.shape
    for axis, name, kept in ((3, "x (W, axis 3)", f"y (H = {h})"),
                             (2, "y (H, axis 2)", f"x (W = {w})")):
        pooled = reduce(features, axis=axis)
        if array.shape == pooled.shape and np.allclose(array, pooled, rtol=1e-4, atol=1e-8):
            ctx.fail(f"you took {what} over {name} only, so one value per {kept} is left, "
                     f"shape {array.shape}; pool over both spatial axes at once, "
                     f"axis=(2, 3), for one F_k per channel, shape {(n, k)}")


@exercise_check("2.3", function="global_max_pool")
def exercise_2_3(ctx: Context, fn) -> str:
    """Check ``global_max_pool(features)`` against the reference."""
    for shape in _shapes(ctx, [(2, 3, 4, 5), (1, 4, 6, 3)]):
        features = _features(ctx, shape)
        expected = reference.global_max_pool(features)
        got = ctx.call(fn, features)
        _one_spatial_axis(ctx, got, features, "the maximum", np.max)
        ctx.compare(got, expected, axes=("N", "K"), mistakes={
            "you took the maximum of |f_k|; max pooling keeps the largest value, sign "
            "included": np.abs(features).max(axis=(2, 3)),
            "you took the minimum; max pooling keeps the largest value":
            features.min(axis=(2, 3)),
            "you averaged (that is GAP); max pooling keeps only the largest value":
            features.mean(axis=(2, 3)),
            "you clipped negative values to 0 first (a ReLU): a channel whose values are all "
            "negative has a negative maximum": np.maximum(features, 0).max(axis=(2, 3)),
            "you returned where the maximum is (argmax, the flat index y·W + x); max pooling "
            "keeps its value (max)": features.reshape(*shape[:2], -1).argmax(axis=2),
        })
    return "F_k = max_{x,y} f_k(x, y), also where every value is negative"


@exercise_check("2.2", function="head_parameter_counts")
def exercise_2_2(ctx: Context, fn) -> str:
    """Check ``head_parameter_counts(K, H, W, C)`` -> (flatten + linear, GAP + linear)."""
    cases = [(3, 2, 5, 4), (64, 16, 16, 10), (512, 7, 7, 1000)]
    if ctx.hidden:
        cases += [(int(ctx.rng.integers(1, 300)), int(ctx.rng.integers(1, 20)),
                   int(ctx.rng.integers(1, 20)), int(ctx.rng.integers(2, 50)))
                  for _ in range(3)]
    for k, h, w, c in cases:
        flat = k * h * w * c + c
        gap = k * c + c
        label = f"head_parameter_counts(channels={k}, height={h}, width={w}, classes={c})"
        names = "(flatten + linear, GAP + linear)"
        pair = as_items(ctx.call(fn, k, h, w, c), 2, label, names=names)
        got = np.array([as_number(v, label, expected=f"two numbers {names}", item=i)
                        for i, v in enumerate(pair)])
        mistakes = {
            "both counts are missing the C biases of the linear layer (one b_c per class)":
            (flat - c, gap - c),
            "the flatten head is missing its C biases": (flat - c, gap),
            "the GAP head is missing its C biases": (flat, gap - c),
            "the two counts are in the wrong order: (flatten + linear, GAP + linear)":
            (gap, flat),
            "the flatten head uses H·H (or W·W); the flattened vector has K·H·W numbers, "
            "and H ≠ W here": (k * h * h * c + c, gap),
            "the flatten head uses W·W (or H·H); the flattened vector has K·H·W numbers, "
            "and H ≠ W here": (k * w * w * c + c, gap),
            "the flatten head forgot the channels: the flattened vector has K·H·W numbers, "
            "one per channel and position": (h * w * c + c, gap),
            "the flatten head has one weight per input only; Linear(K·H·W, C) has "
            "K·H·W weights for each of the C classes": (k * h * w + c, gap),
            "the GAP head has one weight per channel only; Linear(K, C) has K weights for "
            "each of the C classes": (flat, k + c),
            "the GAP head's input is the K pooled features, one per channel, not the K·H·W "
            "values of the maps: Linear(K, C)": (flat, k * h * w * c + c),
            "you counted one bias per input; a linear layer has one bias per output, "
            "C of them": (k * h * w * c + k * h * w, k * c + k),
            "you counted a head with a hidden layer of 64 (the lesson's FCNet); the exercise "
            "asks for a single Linear(K·H·W, C)": (k * h * w * 64 + 64 + 64 * c + c, gap),
            "you used C = 10 (the course's ten digits) instead of the `classes` argument":
            (k * h * w * 10 + 10, k * 10 + 10),
        }
        ctx.compare(got, (flat, gap), what=label, rtol=0, atol=0,  # counts: exact
                    mistakes=_distinct(np.array((flat, gap)), mistakes))
    return "flatten + linear has K·H·W·C + C parameters, GAP + linear K·C + C"
