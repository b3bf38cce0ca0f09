"""Checks for lesson 02 (pooling): F_k as a sum or a mean, max pooling, head sizes.

- Exercise 2.1 ``global_average_pool(features, reduce)``: F_k = Σ f_k or (1/Z) Σ f_k.
- Exercise 2.2 ``head_parameter_counts(channels, height, width, classes)``: the weights
  and biases of a flatten + linear head and of a GAP + linear head.
- Exercise 2.3 ``global_max_pool(features)``: F_k = max_{x,y} f_k(x, y).
"""

from __future__ import annotations

from camlib import reference
from camlib.checks._core import Context, exercise_check, factor_Z

__all__ = ["exercise_2_1", "exercise_2_2", "exercise_2_3"]


@exercise_check("2.1", function="global_average_pool")
def exercise_2_1(ctx: Context, fn) -> str:
    """Check ``global_average_pool(features, reduce)`` for "mean" and "sum"."""
    for shape in [(2, 3, 4, 5), (3, 6, 7, 7)]:
        features = ctx.rng.normal(size=shape)
        z = shape[2] * shape[3]
        for reduce in ("mean", "sum"):
            expected = reference.global_average_pool(features, reduce)
            got = ctx.call(fn, features, reduce)
            ctx.compare(got, expected, axes=("N", "K"), factors=[factor_Z(z)])
    return "F_k = Σ_{x,y} f_k (sum) and (1/Z) Σ_{x,y} f_k (mean)"


@exercise_check("2.3", function="global_max_pool")
def exercise_2_3(ctx: Context, fn) -> str:
    """Check ``global_max_pool(features)`` against the reference."""
    for shape in [(2, 3, 4, 5), (1, 4, 6, 6)]:
        features = ctx.rng.normal(size=shape)
        expected = reference.global_max_pool(features)
        ctx.compare(ctx.call(fn, features), expected, axes=("N", "K"), mistakes={
            "you took the maximum of |f_k|; max pooling keeps the largest value, sign "
            "included": abs(features).max(axis=(2, 3)),
            "you took the minimum; max pooling keeps the largest value":
            features.min(axis=(2, 3)),
            "you averaged (that is GAP); max pooling keeps only the largest value":
            features.mean(axis=(2, 3)),
        })
    return "F_k = max_{x,y} f_k(x, y)"


@exercise_check("2.2", function="head_parameter_counts")
def exercise_2_2(ctx: Context, fn) -> str:
    """Check ``head_parameter_counts(K, H, W, C)`` -> (flatten + linear, GAP + linear)."""
    for k, h, w, c in [(64, 16, 16, 10), (512, 7, 7, 1000), (3, 2, 5, 4)]:
        flat = k * h * w * c + c
        gap = k * c + c
        got = ctx.call(fn, k, h, w, c, returns=(tuple, list))
        ctx.require(len(got) == 2, f"return two numbers (flatten_fc, gap_fc), got {len(got)}")
        label = f"head_parameter_counts({k}, {h}, {w}, {c})"
        ctx.compare(got, (flat, gap), what=label, rtol=0, atol=0.5, mistakes={
            "both counts are missing the C biases of the linear layer (one b_c per class)":
            (flat - c, gap - c),
            "the flatten head is missing its C biases": (flat - c, gap),
            "the GAP head is missing its C biases": (flat, gap - c),
            "the two counts are in the wrong order: (flatten + linear, GAP + linear)":
            (gap, flat),
        })
    return "flatten + linear has K·H·W·C + C parameters, GAP + linear K·C + C"
