"""Comparing an answer with the reference, and saying what is wrong with it.

:func:`diagnose` names a wrong type or shape, NaN/inf, a sign flip, a ReLU or ``abs``,
a known scale factor (:class:`Factor`, :func:`factor_Z`), a missing or extra term, a
known mistake, and otherwise the worst entry; :func:`describe` words a value for a
message.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Factor", "describe", "diagnose", "factor_Z"]


def _is_tensor(x: Any) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "detach") and hasattr(x, "shape")


def describe(x: Any) -> str:
    """Short description of a value for messages: type, dtype and shape of arrays."""
    if x is None:
        return "None"
    if isinstance(x, np.ndarray):
        return f"a NumPy array of shape {tuple(x.shape)} ({x.dtype})"
    if _is_tensor(x):
        return f"a Torch tensor of shape {tuple(x.shape)} ({str(x.dtype).replace('torch.', '')})"
    if isinstance(x, (bool, int, float, np.generic)):
        return f"{type(x).__name__} {x!r}"
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__} of length {len(x)}"
    return f"an object of type {type(x).__name__}"




@dataclass(frozen=True)
class Factor:
    """A known scale factor and what it means when the answer is off by it.

    ``too_large`` is the hint when answer = value * expected, ``too_small`` when
    answer = expected / value.
    """

    name: str
    value: float
    too_large: str = ""
    too_small: str = ""


def factor_Z(Z: float) -> Factor:  # noqa: N802 - Z is the paper's name
    """The pooling factor Z = H·W: the classic "sum instead of mean" mistake."""
    return Factor(
        "Z = H·W",
        float(Z),
        too_large="did you sum over (x, y) instead of averaging (divide by Z)?",
        too_small="did you average where the sum is wanted, or divide by Z twice?",
    )


def _to_array(answer: Any) -> np.ndarray | None:
    """The answer as a NumPy array, or None when it is not array-like."""
    if _is_tensor(answer):
        t = answer.detach().cpu()
        if str(t.dtype) == "torch.bfloat16":
            t = t.float()
        return t.numpy()
    if isinstance(answer, np.ndarray):
        return answer
    if isinstance(answer, (bool, int, float, np.generic)):
        return np.asarray(answer)
    if isinstance(answer, (list, tuple)):
        try:
            items = [_to_array(a) if (_is_tensor(a) or isinstance(a, np.ndarray)) else a
                     for a in answer]
            arr = np.asarray(items)
        except (ValueError, TypeError):
            return None
        return arr if arr.dtype.kind in "biufc" else None
    return None


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _shape_hint(a: np.ndarray, e: np.ndarray, axes: Sequence[str] | None) -> str:
    """Diagnosis for a shape mismatch; values are used to recognise permuted axes."""
    got, want = tuple(a.shape), tuple(e.shape)
    names = list(axes) if axes is not None and len(axes) == e.ndim else None
    base = f"shape {got}, expected {want}"
    if names:
        base += f" ({', '.join(names)})"
    if a.size == e.size and a.ndim == e.ndim and a.ndim <= 5:
        for perm in itertools.permutations(range(e.ndim)):
            if perm == tuple(range(e.ndim)):
                continue
            if e.transpose(perm).shape == got and _close(a, e.transpose(perm)):
                order = ", ".join(names[p] if names else f"axis {p}" for p in perm)
                return (f"{base}: the values are right but the axes are in the wrong order "
                        f"(yours are ({order})); transpose or fix the order of your indices")
    if a.size == e.size:
        if a.squeeze().shape == e.squeeze().shape:
            extra = a.ndim > e.ndim
            return (f"{base}: right values, but an axis of length 1 is "
                    f"{'extra' if extra else 'missing'} "
                    + ("(keepdims=True, or an extra [None]?)" if extra else
                       "(a .squeeze() or [0] that also drops a batch of one image or a "
                       "single channel? a missing [None]?)"))
        return f"{base}: the right number of values in the wrong shape"
    if a.ndim == e.ndim - 1:
        for k in range(e.ndim):
            if want[:k] + want[k + 1:] == got:
                name = names[k] if names else f"axis {k}"
                return (f"{base}: {name} (length {want[k]}) is missing; did you sum or average "
                        f"over it, or over the wrong axis?")
    if a.ndim == e.ndim:
        diffs = [k for k in range(e.ndim) if got[k] != want[k]]
        parts = [f"{names[k] if names else f'axis {k}'} has length {got[k]}, expected {want[k]}"
                 for k in diffs]
        return f"{base}: " + "; ".join(parts)
    return base


def _close(a: np.ndarray, e: np.ndarray, rtol: float = 1e-4, atol: float | None = None) -> bool:
    if a.shape != e.shape:
        return False
    a64 = a.astype(np.float64) if a.dtype.kind in "biu" else a
    e64 = e.astype(np.float64) if e.dtype.kind in "biu" else e
    if atol is None:
        finite = np.abs(e64[np.isfinite(e64)])
        scale = float(finite.max()) if finite.size else 1.0
        atol = 1e-6 * max(1.0, scale)
    with np.errstate(invalid="ignore", over="ignore"):
        return bool(np.allclose(a64, e64, rtol=rtol, atol=atol, equal_nan=True))


def diagnose(
    answer: Any,
    expected: Any,
    *,
    rtol: float = 1e-4,
    atol: float | None = None,
    axes: Sequence[str] | None = None,
    factors: Iterable[Factor] = (),
    terms: Mapping[str, Any] | None = None,
    mistakes: Mapping[str, Any] | None = None,
) -> str | None:
    """Say what is wrong with ``answer`` compared with ``expected``; ``None`` if they match.

    Parameters
    ----------
    answer : array-like
        What the learner's function returned (NumPy array, Torch tensor, number, sequence).
    expected : array-like
        The reference value.
    rtol, atol : float
        Tolerances of ``np.allclose``; ``atol`` defaults to ``1e-6 * max(1, max|expected|)``.
    axes : sequence of str, optional
        Axis names, e.g. ``("N", "C", "H", "W")``, used in messages.
    factors : iterable of Factor
        Known scale factors (``factor_Z(Z)``) to name when the answer is off by a constant.
    terms : mapping of str to array-like, optional
        Known additive terms (broadcast against ``expected``), e.g. ``{"the bias b_c": b}``.
    mistakes : mapping of str to array-like, optional
        Known wrong answers: the message to give when ``answer`` equals one of them.

    Returns
    -------
    str or None
        A one-sentence diagnosis, or ``None`` when ``answer`` equals ``expected``.

    Example
    -------
    >>> print(diagnose(np.ones((2, 2)) * 4, np.ones((2, 2)), factors=[factor_Z(4)]))
    ... # doctest: +NORMALIZE_WHITESPACE
    every value is Z = H·W = 4 times too large: did you sum over (x, y) instead of
    averaging (divide by Z)?
    """
    e = np.asarray(expected)
    if e.dtype == bool:
        e = e.astype(np.int64)
    if answer is None:
        return "your function returned None: did you forget the `return` statement?"
    a = _to_array(answer)
    if a is None:
        return f"expected an array of shape {tuple(e.shape)}, got {describe(answer)}"
    if a.dtype == bool:
        a = a.astype(np.int64)
    if e.ndim == 0 and a.size == 1:
        a = a.reshape(())
    if a.shape != e.shape:
        return _shape_hint(a, e, axes)
    if a.dtype.kind == "c" and e.dtype.kind != "c":
        return f"your result is complex ({a.dtype}); expected real numbers"

    a_finite, e_finite = np.isfinite(a), np.isfinite(e)
    bad = ~a_finite & e_finite
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        kind = "NaN" if np.isnan(a[where]) else "inf"
        return (f"{int(bad.sum())} of {a.size} values are NaN or inf (first: {kind} at index "
                f"{where}) where the reference is finite: a division by zero, or an overflow "
                f"(exp of a large number)?")
    if _close(a, e, rtol, atol):
        return None

    integer = a.dtype.kind in "iu" and e.dtype.kind == "f"
    note = (f" (your result has integer dtype {a.dtype}: integer division, astype(int) or an "
            f"integer input array?)" if integer else "")

    if a.dtype == np.float16 and e.dtype != np.float16 and _close(a, e, 2e-3, atol):
        return ("your result is float16, which keeps only about 3 significant digits, so "
                "the values come out slightly off; use float32 (or float64)")
    for message, wrong in (mistakes or {}).items():
        w = np.asarray(wrong)
        if w.shape == a.shape and _close(a, w, rtol, atol):
            return message
    if e.size == 0:
        return "values differ"

    e64 = e.astype(np.float64)
    a64 = a.astype(np.float64)
    nonzero = np.abs(e64) > 1e-12 * max(1.0, float(np.abs(e64).max()))
    if nonzero.any() and _close(a64, -e64, rtol, atol):
        return "every value has the wrong sign: your result is the negative of the expected one"
    if (e64 < 0).any():
        if _close(a64, np.maximum(e64, 0), rtol, atol):
            return ("negative values were set to 0 (a ReLU or clip?), but the expected result "
                    "keeps its negative values")
        if _close(a64, np.abs(e64), rtol, atol):
            return "your result is the absolute value of the expected one; keep the sign"

    factors = list(factors)
    scale_msg = _scale_hint(a64, e64, nonzero, factors, rtol, atol)
    if scale_msg:
        return scale_msg + note

    diff = a64 - e64
    for name, term in (terms or {}).items():
        try:
            t = np.broadcast_to(np.asarray(term, dtype=np.float64), e.shape)
        except ValueError:
            continue
        if _close(diff, -t, rtol, atol):
            return f"your result is missing {name}" + note
        if _close(diff, t, rtol, atol):
            return f"your result has {name} twice (or added where it should not be)" + note
        inner = _scale_hint(a64 - t, e64 - t, np.abs(e64 - t) > 1e-12, factors, rtol, atol)
        if inner:
            return f"apart from {name}, " + inner + note
    if _close(diff, np.full_like(diff, diff.flat[0]), rtol, atol):
        return (f"every value is off by the same constant {_fmt(diff.flat[0])}: a missing or "
                f"extra additive term (a bias?)" + note)
    if e.ndim >= 2:
        for k in range(e.ndim):
            others = tuple(i for i in range(e.ndim) if i != k)
            along = diff.mean(axis=others, keepdims=True)
            if _close(diff, np.broadcast_to(along, diff.shape), rtol, atol):
                name = axes[k] if axes is not None and len(axes) == e.ndim else f"axis {k}"
                return (f"the error depends only on {name}: your result is off by a term that "
                        f"changes along {name} only (a missing or extra per-{name} bias?)" + note)
    if integer and (_close(a64, np.round(e64), rtol, atol)
                    or _close(a64, np.floor(e64), rtol, atol)):
        return "your values are rounded to integers; keep the fractional part" + note

    tol = atol if atol is not None else 1e-6 * max(1.0, float(np.abs(e64).max()))
    wrong = ~np.isclose(a64, e64, rtol=rtol, atol=tol, equal_nan=True)
    worst = np.unravel_index(int(np.argmax(np.where(wrong, np.abs(diff), -1.0))), e.shape)
    worst = tuple(int(i) for i in worst)
    msg = (f"{int(wrong.sum())} of {e.size} values differ; the largest error is at index "
           f"{worst}: got {_fmt(a64[worst])}, expected {_fmt(e64[worst])}")
    if e.ndim >= 1 and e.shape[0] > 1:
        bad_items = [i for i in range(e.shape[0]) if wrong[i].any()]
        if len(bad_items) < e.shape[0]:
            name = axes[0] if axes is not None and len(axes) == e.ndim else "axis 0"
            shown = ", ".join(map(str, bad_items[:8])) + (", ..." if len(bad_items) > 8 else "")
            msg += f" (along {name} only items {shown} are wrong)"
    return msg + note


def _scale_hint(a: np.ndarray, e: np.ndarray, nonzero: np.ndarray, factors: list[Factor],
                rtol: float, atol: float | None) -> str | None:
    """A message if ``a`` is a constant multiple (≠ 1) of ``e``."""
    if not nonzero.any():
        return None
    ratio = float(np.median(a[nonzero] / e[nonzero]))
    if not math.isfinite(ratio) or abs(ratio) < 1e-12 or math.isclose(ratio, 1.0, rel_tol=1e-3):
        return None
    if not _close(a, ratio * e, rtol, atol):
        return None
    sign = "" if ratio > 0 else " and the sign is flipped"
    r = abs(ratio)
    for f in factors:
        # "Z = H·W = 256 times", but "255 times" rather than "255 = 255 times".
        size = _fmt(f.value) if f.name == _fmt(f.value) else f"{f.name} = {_fmt(f.value)}"
        if math.isclose(r, f.value, rel_tol=1e-3):
            hint = f": {f.too_large}" if f.too_large else ""
            return f"every value is {size} times too large{sign}{hint}"
        if math.isclose(r, 1.0 / f.value, rel_tol=1e-3):
            hint = f": {f.too_small}" if f.too_small else ""
            return f"every value is {size} times too small{sign}{hint}"
    return f"every value is {_fmt(ratio)} times the expected one (a scale error)"


