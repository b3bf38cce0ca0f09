"""Checks for lesson 04 (swapping the sums): M_c and S_c = (1/Z) Σ M_c + b_c.

- Exercise 4.1 ``class_activation_maps(features, weight)``: M_c(x, y) = Σ_k w_k^c f_k(x, y).
- Exercise 4.2 ``scores_from_maps(maps, bias)``: S_c = (1/Z) Σ_{x,y} M_c(x, y) + b_c.
- Exercise 4.3 ``predicted_class_maps(features, weight, bias)``: the map of each image's
  top class, chosen from the scores.
"""

from __future__ import annotations

import numpy as np

from camlib import reference
from camlib.checks._core import Context, exercise_check, factor_Z

__all__ = ["exercise_4_1", "exercise_4_2", "exercise_4_3"]


@exercise_check("4.1", function="class_activation_maps")
def exercise_4_1(ctx: Context, fn) -> str:
    """Check ``class_activation_maps(features, weight)`` -> (N, C, H, W)."""
    for n, k, h, w, c in [(2, 3, 4, 4, 6), (1, 5, 7, 3, 4)]:
        features = ctx.rng.normal(size=(n, k, h, w))
        weight = ctx.rng.normal(size=(c, k))
        expected = reference.class_activation_maps(features, weight)
        ctx.compare(ctx.call(fn, features, weight), expected, axes=("N", "C", "H", "W"),
                    factors=[factor_Z(h * w)])
    return "M_c(x, y) = Σ_k w_k^c f_k(x, y) for every class and position"


@exercise_check("4.2", function="scores_from_maps")
def exercise_4_2(ctx: Context, fn) -> str:
    """Check ``scores_from_maps(maps, bias)`` = mean over (x, y) of M_c, plus b_c."""
    for n, c, h, w in [(2, 4, 5, 5), (3, 10, 4, 6)]:
        maps = ctx.rng.normal(size=(n, c, h, w))
        bias = ctx.rng.normal(size=c)
        expected = maps.mean(axis=(2, 3)) + bias
        ctx.compare(ctx.call(fn, maps, bias), expected, axes=("N", "C"),
                    factors=[factor_Z(h * w)], terms={"the bias b_c": bias}, mistakes={
                        "you summed M_c over (x, y) (the paper's form) and then added b_c; "
                        "this network averages: divide the sum by Z = H·W before adding b_c":
                        maps.sum(axis=(2, 3)) + bias,
                        "you divided the bias by Z too: (1/Z)(Σ M_c + b_c); only the sum is "
                        "averaged, b_c is added afterwards": (maps.sum(axis=(2, 3)) + bias)
                        / (h * w),
                    })
    return "S_c = (1/Z) Σ_{x,y} M_c(x, y) + b_c"


@exercise_check("4.3", function="predicted_class_maps")
def exercise_4_3(ctx: Context, fn) -> str:
    """Check ``predicted_class_maps(features, weight, bias)`` -> (N, H, W)."""
    n, k, h, w, c = 6, 4, 5, 5, 5
    features = np.maximum(ctx.rng.normal(size=(n, k, h, w)), 0)
    weight = ctx.rng.normal(size=(c, k))
    bias = ctx.rng.normal(size=c) * 2  # large enough to change some predictions
    scores = reference.class_scores(reference.global_average_pool(features), weight, bias)
    top = scores.argmax(axis=1)
    expected = reference.class_activation_maps(features, weight, top)
    no_bias = reference.class_scores(reference.global_average_pool(features), weight).argmax(1)
    mistakes = {
        "you took the map of the class with the lowest score; take argmax, not argmin":
        reference.class_activation_maps(features, weight, scores.argmin(axis=1)),
        "you took the map of class 0 for every image; take each image's own top class":
        reference.class_activation_maps(features, weight, 0),
    }
    if not np.array_equal(no_bias, top):
        mistakes["you chose the class without the bias b_c; the prediction is the argmax of "
                 "the full score S_c = Σ_k w_k^c F_k + b_c"] = \
            reference.class_activation_maps(features, weight, no_bias)
    ctx.compare(ctx.call(fn, features, weight, bias), expected, axes=("N", "H", "W"),
                factors=[factor_Z(h * w)], mistakes=mistakes)
    return "each image's map is M_c of its own top class"
