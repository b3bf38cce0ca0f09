"""One place that turns an answer into a number or a sequence, and compares numbers.

Honest work never loses a point: a learner who returns ``np.float64(0.5)``,
``np.mean(hits)``, ``np.array(0.5)``, ``torch.tensor(0.5)``, a float32 value or
``np.int64(16)`` where a number is asked has answered the question, exactly as one
who returns ``0.5``. Every check that asks for a number reads the answer through
:func:`as_number` (or :func:`as_integer`), every check that asks for a few values
(a pair, a box) through :func:`as_items`, and compares numbers with :func:`same_number`,
so the forms accepted, the messages and NaN's handling are the same in every lesson.

Decisions, stated once:

- A number is a Python ``int``/``float``, a NumPy scalar, any other real number of
  Python's number tower (``fractions.Fraction(1, 3)`` for an exact IoU, a
  ``decimal.Decimal``), or an array or tensor holding exactly one value (0-d, or shape
  (1,), (1, 1), ...), as Python's own ``float()`` accepted them in the notebook's checks.
  ``bool`` is not a number here (``True`` for an accuracy is a mistake, not a form).
- float32 is honest: numbers are compared to about 7 significant digits by default.
- NaN equals nothing: ``same_number(nan, x)`` is false for every ``x`` (and so is inf
  against a finite value). ``abs(a - b) > tol`` is false for NaN, so a check that
  writes its test that way lets NaN through; this module is the only place that
  compares.
- An integer answer may be an integer-valued float (``16.0`` from ``np.floor``); a
  value with a fractional part is named, never truncated.
"""

from __future__ import annotations

import decimal
import math
import numbers
from typing import Any

import numpy as np

from camcourse.checks._diagnose import _is_tensor, _to_array, describe
from camcourse.checks._results import _Failure

__all__ = ["as_box", "as_integer", "as_items", "as_number", "number_or_none", "same_number"]


def number_or_none(value: Any) -> float | None:
    """``value`` as a float when it holds exactly one real number, else ``None``.

    >>> number_or_none(np.float32(0.25)), number_or_none(np.array([[3]]))
    (0.25, 3.0)
    >>> number_or_none(np.array([1.0, 2.0])) is None, number_or_none(True) is None
    (True, True)
    >>> from fractions import Fraction
    >>> number_or_none(Fraction(1, 4)), number_or_none(decimal.Decimal("0.5"))
    (0.25, 0.5)
    """
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, (numbers.Real, decimal.Decimal)):  # Fraction, Decimal: exact numbers
        try:
            return float(value)
        except (TypeError, ValueError, OverflowError, ArithmeticError):
            return None
    if _is_tensor(value) or isinstance(value, np.ndarray):
        array = _to_array(value)
        if array is None or array.size != 1 or array.dtype.kind not in "iuf":
            return None
        return float(array.reshape(()))
    return None


def _fail(message: str) -> None:
    raise _Failure(message)


def as_number(value: Any, what: str, *, expected: str = "one number",
              item: int | None = None) -> float:
    """The answer as a float, or a failure that says what came back instead.

    Parameters
    ----------
    value : Any
        What the learner's function returned.
    what : str
        The call, for the message, e.g. ``"iou((0, 0, 2, 2), (1, 0, 3, 2))"``.
    expected : str
        What the call should return, in words (``"two numbers (accuracy, index)"``).
    item : int, optional
        The position of ``value`` in what the call returned, when it is one of several.

    >>> as_number(np.array(0.5), "f()"), as_number(np.int64(3), "f()")
    (0.5, 3.0)
    """
    number = number_or_none(value)
    if number is None:
        got = f"got {describe(value)}" + ("" if item is None else f" as item {item}")
        if isinstance(value, (bool, np.bool_)):
            got = f"got the boolean {bool(value)}" + ("" if item is None else f" as item {item}")
            _fail(f"{what} should return {expected}, {got}; return the value itself (a "
                  f"fraction, a count), not a comparison")
        if isinstance(value, (list, tuple)) and len(value) == 1:
            _fail(f"{what} should return {expected}, {got} holding it; return the number "
                  f"itself")
        _fail(f"{what} should return {expected}, {got}")
    return number


def as_integer(value: Any, what: str, *, expected: str = "one whole number",
               item: int | None = None, hint: str = "") -> int:
    """The answer as an int: integer types, or floats with no fractional part.

    >>> as_integer(np.float64(16.0), "f()"), as_integer(np.array(7), "f()")
    (16, 7)
    """
    number = as_number(value, what, expected=expected, item=item)
    part = "" if item is None else f" as item {item}"
    if not math.isfinite(number):
        _fail(f"{what} returned {number}{part}, expected a whole number")
    if number != round(number):
        _fail(f"{what} returned {number:g}{part}, which is not a whole number: " + (
            hint or "use floor division (//) where a size is divided, or round down with "
                    "math.floor"))
    return int(round(number))


def as_items(value: Any, length: int, what: str, *, names: str = "") -> list[Any]:
    """The ``length`` items of a tuple, list, 1-d array or 1-d tensor, as a list.

    ``names`` says what the items are (``"(accuracy, threshold_index)"``) in the message.

    >>> as_items(np.array([3, 4]), 2, "f()")
    [3, 4]
    """
    count = {2: "two", 3: "three", 4: "four"}.get(length, str(length))
    wanted = f"{count} values {names}".rstrip()
    if isinstance(value, (tuple, list)):
        items = list(value)
    elif isinstance(value, np.ndarray) or _is_tensor(value):
        array = _to_array(value)
        if array is None or array.ndim != 1:
            _fail(f"{what} should return {wanted}, got {describe(value)}")
        items = array.tolist()
    else:
        _fail(f"{what} should return {wanted}, got {describe(value)}")
    if len(items) != length:
        _fail(f"{what} should return {wanted}, got {len(items)}")
    return items


def as_box(value: Any, what: str) -> tuple[int, int, int, int]:
    """A box answer (x0, y0, x1, y1) as four ints, each read by :func:`as_integer`.

    A coordinate with a fractional part fails with its name rather than being truncated
    by ``int()``; a box wrapped in a list fails as one value, not four.

    >>> as_box(np.array([1, 2, 5, 7]), "f()"), as_box((1.0, 2, np.int64(5), 7), "f()")
    ((1, 2, 5, 7), (1, 2, 5, 7))
    """
    names = "(x0, y0, x1, y1)"
    items = as_items(value, 4, what, names=names)
    hint = ("a box's corners are pixel indices, whole numbers (the first column and row "
            "inside the box, and the first ones after it)")
    return tuple(as_integer(v, what, expected=f"four whole numbers {names}", item=i, hint=hint)
                 for i, v in enumerate(items))


def same_number(a: float, b: float, *, atol: float = 1e-9, rtol: float = 1e-6) -> bool:
    """Whether ``a`` equals ``b`` within ``atol + rtol·|b|``; NaN equals nothing.

    The default ``rtol`` admits an answer computed in float32 (about 7 digits); the
    mistakes the checks name differ by far more (a fraction 1/N, a factor, a percentage).

    >>> same_number(0.5, 0.5 + 1e-12), same_number(float("nan"), 0.5)
    (True, False)
    >>> same_number(float("nan"), float("nan"))
    False
    """
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return False
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= atol + rtol * abs(b)
