"""Checks for lesson 03 (class scores S_c and probabilities P_c).

- Exercise 3.1 ``class_scores(pooled, weight, bias)``: S_c = Σ_k w_k^c F_k + b_c.
- Exercise 3.2 ``softmax(scores)``: P_c = exp(S_c) / Σ_c' exp(S_c'), stable for large S.

Mistakes named (``tests/test_wrong_answers_00_05.py`` tries each): for 3.1 the bias
missing, twice, subtracted or added per image, the weight not transposed (a square case
lets it run), another class's weights, probabilities instead of scores, the argmax
returned; for 3.2 the row minimum subtracted instead of the maximum, no shift at all (it
overflows, in long double too near ±12000), one maximum for the whole batch, the sum over
the images, exp without the division, log-probabilities, the scores unchanged, an input
changed in place.
"""

from __future__ import annotations

import numpy as np

from camcourse.checks._core import Context, _to_array, exercise_check
from camlib import reference

__all__ = ["exercise_3_1", "exercise_3_2"]


def _distinct(expected: np.ndarray, mistakes: dict) -> dict:
    """The mistakes whose value differs from the right answer on this input."""
    return {m: v for m, v in mistakes.items()
            if np.shape(v) != np.shape(expected) or not np.allclose(v, expected)}


@exercise_check("3.1", function="class_scores")
def exercise_3_1(ctx: Context, fn) -> str:
    """Check ``class_scores(pooled, weight, bias)`` against the reference."""
    # (N, K, C): C = K first (a weight used without .T still runs), N = C (a bias added
    # per image still broadcasts), then an ordinary case,
    # and one image alone (an answer squeezed to (C,) fails).
    cases = [(4, 5, 5), (3, 6, 3), (2, 5, 10), (1, 4, 6)]
    if ctx.hidden:
        cases += [(int(ctx.rng.integers(1, 8)), int(ctx.rng.integers(1, 12)),
                   int(ctx.rng.integers(2, 12))) for _ in range(2)]
    for n, k, c in cases:
        pooled = ctx.rng.normal(size=(n, k)) * ctx.rng.uniform(0.5, 3.0)
        weight = ctx.rng.normal(size=(c, k))
        bias = ctx.rng.normal(size=c) * 2.0
        expected = reference.class_scores(pooled, weight, bias)
        mistakes = {
            "you used the weight of class c' = (c + 1) mod C: index weight rows by class":
            pooled @ np.roll(weight, -1, axis=0).T + bias,
            "you subtracted the bias; S_c = Σ_k w_k^c F_k + b_c adds it":
            pooled @ weight.T - bias,
            "you returned probabilities (a softmax); the class scores S_c are the logits, "
            "before any softmax": reference.softmax(expected),
        }
        if k == c:
            mistakes["you multiplied by weight instead of weight.T: row c of weight holds "
                     "class c's weights w^c, so S = F @ weight.T + b"] = pooled @ weight + bias
        if n == c:
            mistakes["you added b_n to every score of image n (bias[:, None]); b_c belongs to "
                     "class c: add it along the last axis"] = pooled @ weight.T + bias[:, None]
        got = ctx.call(fn, pooled, weight, bias)
        array = _to_array(got)
        if array is not None and array.shape == (n,) and n != c:
            ctx.fail(f"class_scores returned shape {array.shape}, one number per image: the "
                     f"argmax? Return every class's score, shape (N, C) = {expected.shape}")
        ctx.compare(got, expected, axes=("N", "C"), terms={"the bias b_c": bias},
                    mistakes=_distinct(expected, mistakes))
    return "S_c = Σ_k w_k^c F_k + b_c"


def _stable(scores: np.ndarray, shift: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        e = np.exp(scores - shift)
        return e / e.sum(axis=-1, keepdims=True)


def _score_sets(ctx: Context) -> list[tuple[np.ndarray, str]]:
    ordinary = ctx.rng.normal(size=(3, 5)) * 3
    # Rows near +800 and -800 (the naive formula overflows or underflows), and rows with a
    # spread of 800 around 0 (subtracting the row minimum overflows; the naive formula
    # does not). Every row's largest score differs from the batch's.
    large = ctx.rng.normal(size=(2, 4)) * 5 + np.array([[800.0], [-800.0]])
    spread = np.sort(ctx.rng.uniform(-400.0, 400.0, size=(3, 4)), axis=1)
    spread[:, 0], spread[:, -1] = -400.0, 400.0
    spread = ctx.rng.permuted(spread, axis=1)
    # One score far above the rest: shifting by the row's mean or median still leaves an
    # exponent above 709, where exp overflows; only the maximum is safe.
    outlier = ctx.rng.normal(size=(2, 5)) + np.array([[0.0], [3.0]])
    outlier[0, 3] += 3000.0
    outlier[1, 0] -= 3000.0
    # Beyond even long double's exp (it overflows above 11356): the naive formula computed
    # in extended precision is right on every set above, and wrong here.
    huge = ctx.rng.normal(size=(2, 3)) * 5 + np.array([[12000.0], [-12000.0]])
    sets = [(ordinary, "softmax(scores)"),
            (large, "softmax(scores) with scores near ±800"),
            (spread, "softmax(scores) with rows spread from −400 to +400"),
            (outlier, "softmax(scores) with one score 3000 above (or below) the rest"),
            (huge, "softmax(scores) with scores near ±12000")]
    if ctx.hidden:
        n, c = int(ctx.rng.integers(1, 6)), int(ctx.rng.integers(2, 12))
        offsets = ctx.rng.uniform(-900, 900, size=(n, 1))
        sets.append((ctx.rng.normal(size=(n, c)) * ctx.rng.uniform(1, 300) + offsets,
                     "softmax(scores) with hidden large-spread scores"))
    return sets


@exercise_check("3.2", function="softmax")
def exercise_3_2(ctx: Context, fn) -> str:
    """Check ``softmax(scores)`` on ordinary scores, very large ones and large spreads."""
    for scores, label in _score_sets(ctx):
        expected = reference.softmax(scores)
        got = ctx.call(fn, scores)
        array = _to_array(got)
        row_min = _stable(scores, scores.min(axis=1, keepdims=True))
        naive = _stable(scores, 0.0)
        batch_max = _stable(scores, scores.max())
        row_mean = _stable(scores, scores.mean(axis=1, keepdims=True))
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            log_sum_exp = np.exp(scores - np.log(np.exp(scores).sum(axis=1, keepdims=True)))
        named = [
            (log_sum_exp, "you computed exp(S_c − log Σ_c' exp(S_c')) with the log-sum-exp "
                          "taken naively: exp(S_c') itself overflows to inf for large scores "
                          "(so every probability becomes exp(−inf) = 0) and underflows to 0 "
                          "for very negative ones (log 0 = −inf). Subtract each row's maximum "
                          "first: log Σ exp(S) = m + log Σ exp(S − m)"),
            (row_min, "you subtracted each row's minimum: then every exponent is ≥ 0 and "
                      "exp overflows for a row with a large spread (here 800). Subtract the "
                      "row's maximum, m = max_c S_c, so that every exponent is ≤ 0"),
            (row_mean, "you subtracted each row's mean (or another middle value): a score far "
                       "above it still overflows exp (here 3000 above the rest). Subtract the "
                       "row's maximum, so that every exponent is ≤ 0"),
            (naive, f"exp(S_c) overflows for large scores (inf / inf = NaN) and underflows "
                    f"to 0 for very negative ones (0 / 0){_beyond_long_double(scores)}; "
                    f"subtract each row's maximum before exp"),
            (batch_max, "you subtracted a maximum taken over the images (the whole batch's, "
                        "or each column's); a row far below it underflows to 0 / 0. Subtract "
                        "each row's own maximum (scores.max(axis=1, keepdims=True))"),
        ]
        if array is not None and array.shape == expected.shape:
            # Compared value for value, NaN and inf included: two mistakes can break the
            # same rows in different ways (0 / 0 = NaN, or exp(-inf) = 0).
            wrong_rows = ~np.isclose(array.astype(np.float64), expected, rtol=1e-4,
                                     atol=1e-12).all(axis=1)
            for wrong, why in named:
                if wrong_rows.any() and _same_values(array, wrong) and not _same_values(
                        wrong, expected):
                    ctx.fail(f"{label}: {why}")
            bad = ~np.isfinite(array)
            for wrong, why in named[1:]:  # the same NaN/inf pattern, other finite values
                if bad.any() and np.array_equal(np.isfinite(array), np.isfinite(wrong)) and (
                        not np.isfinite(wrong).all()):
                    ctx.fail(f"{label}: {why}")
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            mistakes = {
                "your probabilities sum to 1 down each column (over the images); normalize "
                "over the classes, the last axis": _column_softmax(scores),
                "you returned exp(S_c − m) without dividing by the sum over the classes":
                np.exp(scores - scores.max(axis=1, keepdims=True)),
                "you returned exp(S_c) without dividing by Σ_c' exp(S_c')": np.exp(scores),
                "you returned log-probabilities (log-softmax); return P_c itself, exp of "
                "that": np.log(np.maximum(expected, 1e-300)),
                "you returned the scores unchanged": scores,
                "you divided the scores by their sum without exp: P_c = exp(S_c) / Σ_c' "
                "exp(S_c') (exp makes every term positive)":
                scores / scores.sum(axis=1, keepdims=True),
                "you divided S_c − m by its sum without exp: P_c = exp(S_c − m) / Σ_c' "
                "exp(S_c' − m), m the row's maximum":
                (scores - scores.max(axis=1, keepdims=True))
                / (scores - scores.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True),
            }
        named_wrong = _distinct(expected, {m: v for m, v in mistakes.items()
                                           if np.isfinite(v).all()})
        if (array is not None and array.shape == expected.shape
                and np.isfinite(array.astype(np.float64)).all()
                and not any(_same_values(array, v) for v in named_wrong.values())):
            sums = array.astype(np.float64).sum(axis=1)
            if not np.allclose(sums, 1.0, rtol=1e-4, atol=1e-6):
                whole = np.isclose(sums.sum(), 1.0, rtol=1e-4)
                ctx.fail(f"{label}: your rows don't sum to 1 (row sums from "
                         f"{sums.min():.3g} to {sums.max():.3g}"
                         + (", and all together to 1: you divided by the whole batch's sum"
                            if whole else "")
                         + "); each image's P_c sums to 1 over its own classes: divide "
                         "each row by its own sum (axis=1, keepdims=True)")
        if array is not None and array.dtype == np.float32 and _same_values(
                array, reference.softmax(scores.astype(np.float32).astype(np.float64))):
            continue  # float32 input: scores near ±12000 are rounded to about 0.001 first
        ctx.compare(got, expected, what=label, axes=("N", "C"), mistakes=named_wrong)
    return ("P_c sums to 1 over the classes and stays finite for scores near ±800 and rows "
            "spread over 800")


def _beyond_long_double(scores: np.ndarray) -> str:
    """', even in long double' when the scores overflow extended precision's exp too."""
    return ", even in long double" if np.abs(scores).max() > 11356 else ""


def _same_values(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal value for value, NaN matching NaN and inf matching inf of the same sign."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-4, atol=1e-12,
                                                   equal_nan=True))


def _column_softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=0, keepdims=True))
    return shifted / shifted.sum(axis=0, keepdims=True)
