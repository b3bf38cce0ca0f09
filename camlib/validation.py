"""Checks of the arguments of camlib's public functions and commands.

Every check names the argument the caller wrote, says what was expected and what came,
and raises ``TypeError`` (wrong kind of value) or ``ValueError`` (right kind, wrong value).
The same checks serve the commands' options through :func:`argument`, so
``python -m camlib.train --epochs 0`` stops at argument parsing with one usage line.

The array and tensor checks of the two backends live at the end of
:mod:`camlib.reference` and :mod:`camlib.torch` (each in its own library's terms); the
scalar checks they share are here.

>>> fraction(0.2, "threshold")
0.2
>>> fraction(0.0, "threshold")
Traceback (most recent call last):
ValueError: threshold must be in (0, 1], got 0.0
"""

from __future__ import annotations

import argparse
import math
import numbers
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = [
    "real",
    "fraction",
    "positive_int",
    "non_negative_int",
    "fractions",
    "argument",
    "existing_path",
]


def real(value: object, name: str, *, low: float | None = None, high: float | None = None,
         low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite float within [low, high] (open where asked), else raise.

    >>> real(3e-3, "lr", low=0, low_open=True)
    0.003
    """
    interval = _interval(low, high, low_open, high_open)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number{interval}, got {_show(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number{interval}, got {number}")
    too_low = low is not None and (number <= low if low_open else number < low)
    too_high = high is not None and (number >= high if high_open else number > high)
    if too_low or too_high:
        raise ValueError(f"{name} must be{interval}, got {value!r}")
    return number


def fraction(value: object, name: str, interval: str = "(0, 1]") -> float:
    """A number in ``interval``, one of "(0, 1]", "[0, 1]", "[0, 1)" or "(0, 1)"."""
    return real(value, name, low=0.0, high=1.0, low_open=interval[0] == "(",
                high_open=interval[-1] == ")")


def fractions(values: object, name: str, interval: str = "(0, 1)") -> tuple[float, ...]:
    """A non-empty sequence of numbers in ``interval`` (for example the thresholds τ).

    >>> fractions([0.25, 0.5], "thresholds")
    (0.25, 0.5)
    """
    if isinstance(values, (str, bytes)) or not (
        isinstance(values, Sequence) or hasattr(values, "tolist")
    ):
        raise TypeError(f"{name} must be a sequence of numbers in {interval}, "
                        f"got {_show(values)}")
    values = values.tolist() if hasattr(values, "tolist") else list(values)
    values = values if isinstance(values, list) else [values]
    if not values:
        raise ValueError(f"{name} must hold at least one number in {interval}, got none")
    return tuple(fraction(v, f"{name}[{i}]", interval) for i, v in enumerate(values))


def positive_int(value: object, name: str) -> int:
    """An int > 0 (not a bool, not a float such as 2.0).

    >>> positive_int(64, "batch_size")
    64
    """
    number = _integer(value, name, "a positive int")
    if number <= 0:
        raise ValueError(f"{name} must be a positive int, got {number}")
    return number


def non_negative_int(value: object, name: str) -> int:
    """An int >= 0 (not a bool, not a float)."""
    number = _integer(value, name, "a non-negative int")
    if number < 0:
        raise ValueError(f"{name} must be a non-negative int, got {number}")
    return number


def existing_path(value: str) -> Path:
    """An argparse type: a path that exists."""
    path = Path(value)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"no such file or folder: {value}")
    return path


def argument(check: Callable[..., object], convert: Callable[[str], object] = float,
             **options) -> Callable[[str], object]:
    """An argparse ``type=`` from a check: ``argument(positive_int, int)``.

    The option's string is converted by ``convert`` and checked by ``check(value, name,
    **options)``; a failure becomes argparse's one-line usage error, which names the option.

    >>> parser = argparse.ArgumentParser(prog="demo")
    >>> _ = parser.add_argument("--epochs", type=argument(positive_int, int))
    >>> parser.parse_args(["--epochs", "3"]).epochs
    3
    """

    def parse(text: str) -> object:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {_kind(convert)}, got {text!r}") from None
        try:
            return check(value, "the value", **options)
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(str(exc).replace("the value ", "")) from None

    parse.__name__ = _kind(convert)  # argparse names the type in its messages
    return parse


# --- helpers -----------------------------------------------------------------------------


def _integer(value: object, name: str, kind: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {kind}, got {_show(value)}")
    return int(value)


def _interval(low, high, low_open, high_open) -> str:
    if low is None and high is None:
        return ""
    if high is None:
        return f" {'>' if low_open else '>='} {low:g}"
    if low is None:
        return f" {'<' if high_open else '<='} {high:g}"
    return f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def _show(value: object) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) < 40 else text[:37] + '...'}"


def _kind(convert: Callable) -> str:
    return {int: "an int", float: "a number"}.get(convert, getattr(convert, "__name__", "?"))

