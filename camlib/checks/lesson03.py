"""Checks for lesson 03 (class scores S_c and probabilities P_c).

- Exercise 3.1 ``class_scores(pooled, weight, bias)``: S_c = Σ_k w_k^c F_k + b_c.
- Exercise 3.2 ``softmax(scores)``: P_c = exp(S_c) / Σ_c' exp(S_c'), stable for large S.
"""

from __future__ import annotations

import numpy as np

from camlib import reference
from camlib.checks._core import Context, exercise_check

__all__ = ["exercise_3_1", "exercise_3_2"]


@exercise_check("3.1", function="class_scores")
def exercise_3_1(ctx: Context, fn) -> str:
    """Check ``class_scores(pooled, weight, bias)`` against the reference."""
    for n, k, c in [(4, 6, 3), (2, 5, 10)]:
        pooled = ctx.rng.normal(size=(n, k))
        weight = ctx.rng.normal(size=(c, k))
        bias = ctx.rng.normal(size=c)
        expected = reference.class_scores(pooled, weight, bias)
        ctx.compare(ctx.call(fn, pooled, weight, bias), expected, axes=("N", "C"),
                    terms={"the bias b_c": bias}, mistakes={
                        "you used the weight of class c' = (c + 1) mod C: index weight rows "
                        "by class": pooled @ np.roll(weight, -1, axis=0).T + bias})
    return "S_c = Σ_k w_k^c F_k + b_c"


@exercise_check("3.2", function="softmax")
def exercise_3_2(ctx: Context, fn) -> str:
    """Check ``softmax(scores)`` on ordinary scores, then on very large ones."""
    scores = ctx.rng.normal(size=(3, 5)) * 3
    expected = reference.softmax(scores)
    ctx.compare(ctx.call(fn, scores), expected, axes=("N", "C"), mistakes={
        "your probabilities sum to 1 down each column (over the images); normalize over "
        "the classes, the last axis": np.exp(scores) / np.exp(scores).sum(axis=0),
        "you returned exp(S_c) without dividing by Σ_c' exp(S_c')": np.exp(scores),
    })
    large = ctx.rng.normal(size=(2, 4)) * 5 + np.array([[800.0], [-800.0]])
    ctx.compare(ctx.call(fn, large), reference.softmax(large),
                what="softmax(scores) with scores near ±800", axes=("N", "C"))
    return "P_c sums to 1 over the classes and stays finite for scores near ±800"
