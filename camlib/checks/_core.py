"""The machinery behind every exercise check in ``camlib.checks``.

A lesson's checks live in ``camlib/checks/lessonNN.py``; ``camlib.checks`` imports every
such module and re-exports its ``exercise_N_M`` functions. A check is a plain function
decorated with :func:`exercise_check`; it receives the learner's function and a
:class:`Context`, and returns a one-line description of what passed::

    import numpy as np

    from camlib import reference
    from camlib.checks._core import Context, exercise_check, factor_Z

    @exercise_check("4.1", function="class_activation_maps")
    def exercise_4_1(ctx: Context, fn) -> str:
        \"\"\"Check ``class_activation_maps(features, weight)``: M_c = Σ_k w_k^c f_k.\"\"\"
        for n, k, h, w in [(2, 3, 4, 4), (1, 5, 7, 3)]:
            features = ctx.rng.normal(size=(n, k, h, w))
            weight = ctx.rng.normal(size=(6, k))
            expected = reference.class_activation_maps(features, weight)
            got = ctx.call(fn, features, weight)
            ctx.compare(got, expected, axes=("N", "C", "H", "W"),
                        factors=[factor_Z(h * w)])
        return "M_c matches the reference on two random batches"

The learner then calls ``camlib.checks.exercise_4_1(class_activation_maps)``:

- pass: it prints ``✔ Exercise 4.1 passed: <description>`` and returns
  ``CheckResult("4.1", True, message)``;
- fail: it raises :class:`CheckFailed` (an ``AssertionError``) whose message says what is
  wrong (``✘ Exercise 4.1: ...``); with ``raise_on_fail=False`` it returns
  ``CheckResult("4.1", False, message)`` instead (the autograder does this).

Public check signature (made by the decorator)::

    exercise_N_M(fn, *, raise_on_fail=True, verbose=True, time_limit=10.0,
                 hidden_seed=None) -> CheckResult

What the check body can use:

- ``ctx.rng``: ``numpy.random.Generator`` seeded from the exercise name, so the same
  learner function gets the same inputs and the same message every time. When the
  autograder passes ``hidden_seed``, the seed mixes it in and ``ctx.hidden`` is true: a
  check then adds cases the notebook never shows (see :class:`Context`).
  ``ctx.seed`` is that seed as an int (for ``torch.Generator().manual_seed(ctx.seed)``).
- ``ctx.call(fn, *args, returns=None, **kwargs)``: calls the learner's function under
  a time limit (shared by all calls of one check), turns an exception, ``None``, a
  wrong return type (``returns=``: a type or tuple of types) or an infinite loop into
  a failure message, and fails if the function modified any argument in place.
  ``NotImplementedError`` (the student copy's placeholder) reads "not attempted yet".
- ``ctx.compare(answer, expected, *, what=None, rtol=1e-4, atol=None, axes=None,
  factors=(), terms=None, mistakes=None)``: fails with a diagnosis unless ``answer``
  (NumPy array, Torch tensor, number, sequence) equals ``expected`` within tolerance.
  It names: a wrong type or shape (both shapes; a missing axis; axes in the wrong
  order, named by ``axes``), NaN/inf, a sign flip, a ReLU or ``abs`` applied, a
  constant scale (``factors``: known factors such as ``factor_Z(Z)``, which explains
  "sum instead of mean"), a missing or extra additive term (``terms``: e.g.
  ``{"the bias b_c": bias}``, broadcast against ``expected``), a constant offset or one
  that depends on a single axis, integer rounding, known wrong answers (``mistakes``:
  ``{"message": wrong_array}`` computed from the reference), items along the first
  axis that are right or wrong, and otherwise the worst entry and how many are wrong.
- ``ctx.fail(message)`` and ``ctx.require(condition, message)`` for anything else.
- ``diagnose(answer, expected, ...)``: the diagnosis alone, ``None`` when equal.
- Helpers kept stable for check modules: ``_to_array(answer)`` (NumPy array from an
  array, tensor, number or sequence; ``None`` if not array-like), ``describe(value)``
  (a short description for messages), ``run_with_time_limit(fn, args, kwargs, seconds)``
  (``("ok", value)``, ``("raised", exc)`` or ``("timeout", None)``), ``Factor``.

``function=`` in :func:`exercise_check` names the learner's function in the exercise
cell, so the autograder knows what to pass; without it, the autograder takes the
exercise cell's only public top-level ``def``/``class`` (or the one its check cell
passes). Exercise functions must be self-contained: they may use modules the notebook
imports, not other notebook variables.

``get_check("4.1")`` and ``CHECKS`` (exercise number -> public check) serve tools.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import inspect
import itertools
import math
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "CHECKS",
    "CheckFailed",
    "CheckResult",
    "Context",
    "Factor",
    "diagnose",
    "exercise_check",
    "factor_Z",
    "get_check",
    "rng_for",
    "seed_for",
]

DEFAULT_TIME_LIMIT = 10.0
"""Seconds of learner code one check may run (all its calls together)."""


# ---------------------------------------------------------------------------
# Results and failures
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: what the autograder records.

    Parameters
    ----------
    exercise : str
        Exercise number, e.g. ``"4.1"``.
    passed : bool
        Whether the learner's function passed.
    message : str
        The pass message or the diagnosis, as shown to the learner.
    """

    exercise: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def _ipython_display_(self) -> None:
        # The check has already printed its message; a notebook cell that ends with the
        # call shows nothing more (no repr, which nbgrader would try to read as points).
        pass


class CheckFailed(AssertionError):
    """Raised by a check when the learner's answer is wrong; ``.result`` holds the record."""

    def __init__(self, message: str, result: CheckResult | None = None):
        super().__init__(message)
        self.result = result


class _NotAttempted(Exception):
    """The learner's function still raises ``NotImplementedError``: nothing to judge yet."""


class _Failure(Exception):
    """Internal: stops a check body with a diagnosis (no "✘ Exercise" prefix yet)."""


class _TimeUp(BaseException):
    """Raised by the alarm; a BaseException so a learner's ``except Exception`` can't eat it."""


# ---------------------------------------------------------------------------
# Seeds
# ---------------------------------------------------------------------------


def seed_for(exercise: str) -> int:
    """A 63-bit seed derived from the exercise number (stable across runs and machines).

    >>> seed_for("4.1") == seed_for("4.1")
    True
    """
    digest = hashlib.sha256(f"camlib.checks:{exercise}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def rng_for(exercise: str) -> np.random.Generator:
    """A fresh ``numpy.random.Generator`` seeded from the exercise number."""
    return np.random.default_rng(seed_for(exercise))


# ---------------------------------------------------------------------------
# Time limits
# ---------------------------------------------------------------------------


def _alarm_available() -> bool:
    return (
        hasattr(signal, "setitimer")
        and hasattr(signal, "SIGALRM")
        and threading.current_thread() is threading.main_thread()
    )


@contextmanager
def _alarm(seconds: float):
    """Raise ``_TimeUp`` in the main thread after ``seconds`` (SIGALRM); restore outer timers."""

    def on_alarm(signum, frame):
        raise _TimeUp

    previous_handler = signal.signal(signal.SIGALRM, on_alarm)
    # Re-fire every 50 ms, so a learner's `except BaseException: pass` in a loop can't hide it.
    outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-3), 0.05)
    start = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if outer_delay > 0:  # someone else (pytest-timeout, a grader) had a timer running
            left = max(outer_delay - (time.monotonic() - start), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, outer_interval)


def run_with_time_limit(fn: Callable[..., Any], args: Sequence = (), kwargs: Mapping | None = None,
                        seconds: float | None = DEFAULT_TIME_LIMIT) -> tuple[str, Any]:
    """Call ``fn(*args, **kwargs)`` for at most ``seconds``.

    Returns ``("ok", value)``, ``("raised", exception)`` or ``("timeout", None)``.
    In the main thread of a POSIX process the call is interrupted by SIGALRM; elsewhere
    (Windows, a worker thread) it runs in a daemon thread that is abandoned on timeout.
    """
    kwargs = dict(kwargs or {})
    if seconds is None:
        try:
            return "ok", fn(*args, **kwargs)
        except (Exception, SystemExit) as exc:
            return "raised", exc
    if _alarm_available():
        try:
            with _alarm(seconds):
                try:
                    return "ok", fn(*args, **kwargs)
                except (Exception, SystemExit) as exc:
                    return "raised", exc
        except _TimeUp:
            return "timeout", None
    box: dict[str, Any] = {}

    def target():
        try:
            box["ok"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - reported to the caller
            box["raised"] = exc

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        return "timeout", None
    if "raised" in box:
        return "raised", box["raised"]
    return "ok", box.get("ok")


# ---------------------------------------------------------------------------
# Describing values and errors
# ---------------------------------------------------------------------------


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


def _learner_frame(exc: BaseException, fn: Any) -> str:
    """' (line N: `code`)' for the deepest traceback frame in the learner's own code."""
    frames = traceback.extract_tb(exc.__traceback__)
    code = getattr(getattr(fn, "__wrapped__", fn), "__code__", None)
    filename = code.co_filename if code is not None else None
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    chosen = None
    for frame in frames:
        if filename is not None and frame.filename == filename:
            chosen = frame
        elif filename is None and not os.path.abspath(frame.filename).startswith(here):
            chosen = frame
    if chosen is None or not chosen.line:
        return ""
    return f" (line {chosen.lineno}: `{chosen.line.strip()}`)"


def _fn_name(fn: Any) -> str:
    return getattr(fn, "__name__", None) or type(fn).__name__


# ---------------------------------------------------------------------------
# In-place modification
# ---------------------------------------------------------------------------


def _snapshot(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return x.copy()
    if _is_tensor(x):
        return x.detach().clone()
    if isinstance(x, (int, float, complex, str, bytes, bool, type(None), np.generic)):
        return x
    if hasattr(x, "state_dict") and callable(x.state_dict):  # torch.nn.Module
        return {k: v.detach().clone() for k, v in x.state_dict().items()}
    try:
        return copy.deepcopy(x)
    except Exception:  # noqa: BLE001 - uncopyable objects are simply not compared
        return _UNCOMPARABLE


_UNCOMPARABLE = object()


def _same(before: Any, after: Any) -> bool:
    """Whether ``after`` still equals the snapshot ``before`` (NaN equals NaN)."""
    if before is _UNCOMPARABLE:
        return True
    if isinstance(before, np.ndarray):
        if not isinstance(after, np.ndarray) or before.shape != after.shape:
            return False
        if before.dtype.kind in "fc":
            return bool(np.array_equal(before, after, equal_nan=True))
        return bool(np.array_equal(before, after))
    if _is_tensor(before):
        if not _is_tensor(after) or before.shape != after.shape:
            return False
        a, b = before.detach().cpu(), after.detach().cpu()
        if a.is_floating_point():
            return bool(((a == b) | (a.isnan() & b.isnan())).all())
        return bool((a == b).all())
    if isinstance(before, dict) and hasattr(after, "state_dict") and callable(after.state_dict):
        return _same(before, {k: v.detach() for k, v in after.state_dict().items()})
    if isinstance(before, dict):
        return (isinstance(after, dict) and before.keys() == after.keys()
                and all(_same(before[k], after[k]) for k in before))
    if isinstance(before, (list, tuple)):
        return (isinstance(after, (list, tuple)) and len(before) == len(after)
                and all(_same(b, a) for b, a in zip(before, after, strict=True)))
    try:
        return bool(before == after)
    except Exception:  # noqa: BLE001 - objects without a usable == are not compared
        return True


# ---------------------------------------------------------------------------
# Comparing an answer with the reference
# ---------------------------------------------------------------------------


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
            return (f"{base}: right values, but an axis of length 1 is "
                    f"{'extra' if a.ndim > e.ndim else 'missing'} "
                    f"(keepdims=True? a missing [None]?)")
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
        if math.isclose(r, f.value, rel_tol=1e-3):
            hint = f": {f.too_large}" if f.too_large else ""
            return (f"every value is {f.name} = {_fmt(f.value)} times too large{sign}"
                    f"{hint}")
        if math.isclose(r, 1.0 / f.value, rel_tol=1e-3):
            hint = f": {f.too_small}" if f.too_small else ""
            return (f"every value is {f.name} = {_fmt(f.value)} times too small{sign}"
                    f"{hint}")
    return f"every value is {_fmt(ratio)} times the expected one (a scale error)"


# ---------------------------------------------------------------------------
# The context a check body works with
# ---------------------------------------------------------------------------


class Context:
    """What a check body receives: the seeded RNG, safe calls, comparisons.

    Parameters
    ----------
    exercise : str
        Exercise number, e.g. ``"4.1"``.
    time_limit : float or None
        Seconds of learner code allowed in total for this check (``None``: no limit).
    hidden_seed : int or None
        ``None`` in a notebook: the inputs come from the exercise number alone, so the
        learner sees the same inputs and messages every time. The autograder passes a
        secret seed: ``ctx.rng`` then draws inputs the learner never saw, and
        ``ctx.hidden`` is true so a check can add the cases it keeps for grading
        (non-square maps, odd sizes, negative and large-spread values).
    """

    def __init__(self, exercise: str, time_limit: float | None = DEFAULT_TIME_LIMIT,
                 hidden_seed: int | None = None):
        self.exercise = exercise
        self.hidden = hidden_seed is not None
        self.seed = seed_for(exercise if hidden_seed is None else f"{exercise}:{hidden_seed}")
        self.rng = np.random.default_rng(self.seed)
        self.time_limit = time_limit
        self._time_used = 0.0
        self.last_call = ""

    # -- failing ----------------------------------------------------------
    def fail(self, message: str) -> None:
        """Stop the check with ``message`` as the diagnosis."""
        raise _Failure(message)

    def require(self, condition: Any, message: str) -> None:
        """Fail with ``message`` unless ``condition`` is true."""
        if not condition:
            self.fail(message)

    # -- calling the learner's function -----------------------------------
    def call(self, fn: Any, *args: Any, returns: type | tuple[type, ...] | None = None,
             **kwargs: Any) -> Any:
        """Call the learner's ``fn(*args, **kwargs)`` safely and return its result.

        Fails (with a message, never a traceback) when ``fn`` is not callable, raises,
        runs past the time limit, returns ``None`` or a value that is not a ``returns``
        instance, or modifies any argument in place.
        """
        name = _fn_name(fn)
        if not callable(fn):
            public = f"exercise_{self.exercise.replace('.', '_')}"
            self.fail(f"expected a function, got {describe(fn)}; pass the function itself, "
                      f"without calling it: {public}(my_function)")
        self.last_call = self._describe_call(fn, name, args, kwargs)
        snapshots = [_snapshot(x) for x in args]
        kw_snapshots = {k: _snapshot(v) for k, v in kwargs.items()}
        budget = None
        if self.time_limit is not None:
            budget = max(self.time_limit - self._time_used, 0.05)
        start = time.monotonic()
        status, value = run_with_time_limit(fn, args, kwargs, budget)
        self._time_used += time.monotonic() - start
        if status == "timeout":
            self.fail(f"{name} did not finish within the time limit of {_fmt(self.time_limit)} s "
                      f"(an infinite loop, or a loop over every pixel?)")
        if status == "raised":
            if isinstance(value, NotImplementedError):
                raise _NotAttempted(f"not attempted yet: {name} still raises NotImplementedError; "
                          f"replace the `raise NotImplementedError(...)` line with your code")
            text = str(value).strip().splitlines()
            text = text[0] if text else ""
            self.fail(f"{self.last_call} raised {type(value).__name__}"
                      f"{': ' + text if text else ''}{_learner_frame(value, fn)}")
        names = self._argument_names(fn, len(args))
        for i, (before, after) in enumerate(zip(snapshots, args, strict=True)):
            if not _same(before, after):
                self.fail(f"{name} modified its argument `{names[i]}` in place; work on a copy "
                          f"(x = x - m, not x -= m; or x.copy()) so the caller's data is unchanged")
        for k, before in kw_snapshots.items():
            if not _same(before, kwargs[k]):
                self.fail(f"{name} modified its argument `{k}` in place; work on a copy")
        if value is None:
            self.fail(f"{name} returned None: did you forget the `return` statement?")
        if returns is not None and not isinstance(value, returns):
            types = returns if isinstance(returns, tuple) else (returns,)
            wanted = " or ".join(t.__name__ for t in types)
            self.fail(f"{name} should return a {wanted}, got {describe(value)}")
        return value

    @staticmethod
    def _argument_names(fn: Any, n: int) -> list[str]:
        try:
            params = list(inspect.signature(fn).parameters)
        except (TypeError, ValueError):
            params = []
        return [params[i] if i < len(params) else f"#{i + 1}" for i in range(n)]

    def _describe_call(self, fn: Any, name: str, args: Sequence, kwargs: Mapping) -> str:
        names = self._argument_names(fn, len(args))
        parts = [f"{n}={_short(a)}" for n, a in zip(names, args, strict=True)]
        parts += [f"{k}={_short(v)}" for k, v in kwargs.items()]
        return f"{name}({', '.join(parts)})"

    # -- comparing ----------------------------------------------------------
    def compare(self, answer: Any, expected: Any, *, what: str | None = None,
                **options: Any) -> None:
        """Fail with a diagnosis unless ``answer`` equals ``expected``; see :func:`diagnose`.

        ``what`` names the value in the message; by default the last call, e.g.
        ``class_activation_maps(features=array(2, 3, 4, 4), weight=array(6, 3))``.
        """
        problem = diagnose(answer, expected, **options)
        if problem is not None:
            label = what if what is not None else self.last_call
            self.fail(f"{label}: {problem}" if label else problem)


def _short(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"array{tuple(x.shape)}" if x.ndim else repr(x.item())
    if _is_tensor(x):
        return f"tensor{tuple(x.shape)}"
    if isinstance(x, (bool, int, float, str, np.generic)) or x is None:
        text = repr(x)
        return text if len(text) <= 20 else text[:17] + "..."
    if isinstance(x, (list, tuple)) and len(x) <= 4 and all(isinstance(i, (int, float)) for i in x):
        return repr(x)
    return type(x).__name__


# ---------------------------------------------------------------------------
# The decorator that makes a public check, and the registry
# ---------------------------------------------------------------------------


CHECKS: dict[str, Callable[..., CheckResult]] = {}
"""Exercise number (``"4.1"``) -> public check function."""


_LAST_RESULTS: dict[str, tuple[Any, bool]] = {}
"""Exercise number -> (the function last checked, whether it passed), for :func:`pick`."""


def pick(exercise: str, mine: Any, fallback: Any) -> Any:
    """The learner's function if its check passed, else camlib's, said in one line.

    Lesson code after an exercise uses the learner's own function when the check
    passed with that very function, so the learner builds the pipeline; otherwise it
    falls back to camlib's, so the lesson still runs to the end.

    >>> from camlib import reference
    >>> fn = pick("4.1", None, reference.class_activation_maps)
    Exercise 4.1 is not solved yet: the next cells use camlib's class_activation_maps.
    >>> fn is reference.class_activation_maps
    True
    """
    checked, passed = _LAST_RESULTS.get(exercise, (None, False))
    if passed and mine is not None and checked is mine:
        print(f"Using your {_fn_name(mine)} from exercise {exercise}.")
        return mine
    print(f"Exercise {exercise} is not solved yet: the next cells use camlib's "
          f"{_fn_name(fallback)}.")
    return fallback


def get_check(exercise: str) -> Callable[..., CheckResult]:
    """The public check for an exercise number, e.g. ``get_check("4.1")``."""
    try:
        return CHECKS[exercise]
    except KeyError:
        known = ", ".join(sorted(CHECKS, key=_exercise_key)) or "none"
        raise KeyError(f"no check for exercise {exercise!r}; known: {known}") from None


def _exercise_key(number: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in number.split("."))


def exercise_check(exercise: str, *, function: str | None = None):
    """Decorator turning ``body(ctx, fn) -> str`` into the public check ``exercise_N_M(fn)``.

    Parameters
    ----------
    exercise : str
        Exercise number ``"N.M"`` (lesson N, exercise M).
    function : str, optional
        Name of the learner's function in the exercise cell (used by the autograder).

    Returns
    -------
    callable
        ``check(fn, *, raise_on_fail=True, verbose=True, time_limit=10.0) -> CheckResult``;
        registered in ``CHECKS[exercise]``.
    """
    parts = exercise.split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"exercise must look like 'N.M' (e.g. '4.1'), got {exercise!r}")

    def decorate(body: Callable[[Context, Any], str | None]) -> Callable[..., CheckResult]:
        @functools.wraps(body)
        def check(fn: Any, *, raise_on_fail: bool = True, verbose: bool = True,
                  time_limit: float | None = DEFAULT_TIME_LIMIT,
                  hidden_seed: int | None = None) -> CheckResult:
            __tracebackhide__ = True  # IPython and pytest show the message, not our frames
            ctx = Context(exercise, time_limit=time_limit, hidden_seed=hidden_seed)
            try:
                summary = body(ctx, fn)
            except _NotAttempted as not_attempted:
                # Not an error: a student copy run top to bottom (Colab's "Run all", classic
                # Jupyter) must reach its end with no exercise done, so this never raises.
                result = CheckResult(exercise, False, f"… Exercise {exercise}: {not_attempted}")
                _LAST_RESULTS[exercise] = (fn, False)
                if verbose:
                    print(result.message)
                return result
            except _Failure as failure:
                problem = str(failure)
            except _TimeUp:  # the learner's code swallowed our alarm's first delivery
                problem = "your function did not finish within the time limit"
            except Exception as exc:  # noqa: BLE001 - an answer the check could not handle
                problem = (f"the check could not use your answer ({type(exc).__name__}: {exc}); "
                           f"{ctx.last_call or 'your function'} returned something unexpected")
            else:
                message = f"✔ Exercise {exercise} passed" + (f": {summary}" if summary else "")
                result = CheckResult(exercise, True, message)
                _LAST_RESULTS[exercise] = (fn, True)
                if verbose:
                    print(message)
                return result
            result = CheckResult(exercise, False, f"✘ Exercise {exercise}: {problem}")
            _LAST_RESULTS[exercise] = (fn, False)
            if raise_on_fail:
                raise CheckFailed(result.message, result)
            if verbose:
                print(result.message)
            return result

        check.__name__ = check.__qualname__ = f"exercise_{parts[0]}_{parts[1]}"
        check.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
            inspect.Parameter("fn", inspect.Parameter.POSITIONAL_OR_KEYWORD),
            inspect.Parameter("raise_on_fail", inspect.Parameter.KEYWORD_ONLY, default=True),
            inspect.Parameter("verbose", inspect.Parameter.KEYWORD_ONLY, default=True),
            inspect.Parameter("time_limit", inspect.Parameter.KEYWORD_ONLY,
                              default=DEFAULT_TIME_LIMIT),
            inspect.Parameter("hidden_seed", inspect.Parameter.KEYWORD_ONLY, default=None),
        ])
        check.exercise = exercise  # type: ignore[attr-defined]
        check.function = function  # type: ignore[attr-defined]
        previous = CHECKS.get(exercise)
        if previous is not None and previous.__module__ != check.__module__:
            raise ValueError(f"exercise {exercise} already has a check in {previous.__module__}")
        CHECKS[exercise] = check
        return check

    return decorate
