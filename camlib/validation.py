"""Checks of the arguments of camlib's public functions and commands.

Every check names the argument the caller wrote, says what was expected and what came,
and raises ``TypeError`` (wrong kind of value) or ``ValueError`` (right kind, wrong value).
The same checks serve the commands' options through :func:`argument`, so
``python -m camcourse.train --epochs 0`` stops at argument parsing with one usage line.

This is camlib's one module of checks: the scalar rules both backends share (one rule
for the threshold τ, sizes, connectivity, the protocols' names), and the tensor checks
that `camlib.torch`, `camlib.localize` and `camlib.extract` share. The NumPy arrays of
`camlib.reference` are checked at the end of that module, in NumPy's terms: the
reference computes without torch, so its array checks do not go through tensors.

The threshold τ is a fraction of a map's maximum in [0, 1], everywhere (`threshold`,
`thresholds`): τ = 0 keeps every pixel with M ≥ 0 (of a min-max normalized map, every
pixel; Choe et al.'s grid np.arange(0, 1, 1/T) starts there), τ = 1 the maxima.

Checks that read a tensor's values (finite, class indices in range) cost one copy to
the host. For tensors on a GPU they run on the device instead and raise later
(``torch._assert_async``: a device-side assert, reported at the next synchronization;
like any device-side assert it leaves the CUDA context unusable), so that a batch
is never stalled by its own checks; ``check=False`` skips them in a hot loop. Meta
tensors (shapes, no values) take the device path too, which is how the tests show on
the CPU that it reads nothing on the host.

>>> threshold(0.2)
0.2
>>> threshold(1.5)
Traceback (most recent call last):
ValueError: threshold must be in [0, 1], got 1.5
"""

from __future__ import annotations

import argparse
import math
import numbers
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "TAU_INTERVAL",
    "threshold",
    "thresholds",
    "real",
    "fraction",
    "positive_int",
    "non_negative_int",
    "fractions",
    "argument",
    "existing_path",
]


TAU_INTERVAL = "[0, 1]"  # the one rule for a threshold τ (see the module docstring)


def threshold(value: object, name: str = "threshold") -> float:
    """A threshold τ in `TAU_INTERVAL` (a NumPy scalar is fine).

    >>> threshold(0.0)
    0.0
    """
    if isinstance(value, np.generic):
        value = value.item()
    return fraction(value, name, TAU_INTERVAL)


def thresholds(values: object, name: str = "thresholds") -> tuple[float, ...]:
    """A non-empty grid of thresholds τ, each in `TAU_INTERVAL` (any order).

    >>> thresholds([0.0, 0.5])
    (0.0, 0.5)
    """
    return fractions(values, name, TAU_INTERVAL)


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


def size(value: object) -> tuple[int, int]:
    """An output size: a positive int or a pair (height, width) of them.

    >>> size(7), size((2, 3))
    ((7, 7), (2, 3))
    """
    if isinstance(value, (tuple, list)) and len(value) == 2:
        pair = tuple(value)
    elif isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        pair = (value, value)
    else:
        raise TypeError(f"size must be an int or a pair (height, width), got {value!r}")
    for axis, number in zip(("height", "width"), pair, strict=True):
        if isinstance(number, (bool, np.bool_)) or not isinstance(number, numbers.Integral):
            raise TypeError(f"size must be positive integers, got {axis}={number!r}")
        if number <= 0:
            raise ValueError(f"size must be positive integers, got {axis}={number!r}")
    return int(pair[0]), int(pair[1])


def connectivity(value: object) -> int:
    """4 or 8 (the neighbours of a pixel in a connected component)."""
    if isinstance(value, (bool, np.bool_)) or value not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {value!r}")
    return int(value)


# --- tensors (camlib.torch, camlib.localize, camlib.extract) ------------------------------


def tensor(x: object, name: str, shape: str, ndim: int | tuple[int, ...],
           like: tuple[torch.Tensor, str] | None = None, nonempty: tuple[int, ...] = (),
           finite: bool = True, check: bool = True) -> torch.Tensor:
    """``x`` as a floating tensor with ``ndim`` dimensions, else raise.

    Integer tensors become the default float dtype (as the reference turns integer arrays
    into floats); bool and complex tensors are refused. ``like`` = (tensor, its name):
    ``x`` must be on that tensor's device. No axis in ``nonempty`` may have size 0.
    ``finite``: NaN and inf are refused (`all_finite`; ``check=False`` skips it).
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {shape}, got {type(x).__name__}")
    if x.dtype == torch.bool or x.is_complex():
        raise TypeError(f"{name} must hold real numbers (float32, float16, bfloat16 or "
                        f"float64), got dtype {x.dtype}")
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if x.ndim not in allowed:
        raise ValueError(f"{name} must have shape {shape} ({' or '.join(map(str, allowed))} "
                         f"dimensions), got shape {tuple(x.shape)}")
    if any(x.shape[axis] == 0 for axis in nonempty):
        raise ValueError(f"{name} must not have a dimension of size 0, got shape "
                         f"{tuple(x.shape)}")
    if like is not None:
        same_device(like[0], like[1], x, name)
    if finite and check:
        all_finite(x, name)
    return x


def on_host(x: torch.Tensor) -> bool:
    """Whether reading ``x``'s values costs no synchronization (CPU, or a meta tensor)."""
    return x.device.type == "cpu"


def device_assert(condition: torch.Tensor, message: str) -> None:
    """Raise ``ValueError(message)`` unless ``condition`` (a 0-d bool tensor) holds: at
    once on the CPU, later on a device (see the module docstring)."""
    if on_host(condition):
        if condition.device.type == "cpu" and not bool(condition):
            raise ValueError(message)
    else:
        torch._assert_async(condition, message)


def all_finite(x: torch.Tensor, name: str) -> None:
    """NaN or inf in ``x`` is refused by name (a NaN would spread silently into every
    map)."""
    device_assert(torch.isfinite(x).all(), f"{name} must be finite, got a tensor "
                                            f"containing NaN or inf")


def same_device(a: torch.Tensor, name_a: str, b: torch.Tensor, name_b: str) -> None:
    if a.device != b.device:
        raise ValueError(f"{name_a} and {name_b} must be on the same device, "
                         f"got {name_a} on {a.device} and {name_b} on {b.device}")


def class_indices(classes: object, n: int, c: int, device: torch.device,
                  check: bool = True) -> torch.Tensor:
    """``classes`` (one int, or one int per sample) as a long tensor (N,) on ``device``,
    each in 0..C − 1 (a tensor's range is read as `device_assert` says; ``check=False``
    skips that)."""
    expected = f"classes must be an int or a sequence of N={n} ints"
    if isinstance(classes, bool) or (isinstance(classes, torch.Tensor)
                                     and classes.dtype == torch.bool):
        raise TypeError(f"{expected}, got a bool")
    if isinstance(classes, numbers.Integral):
        index = int(classes)
        if index < 0:
            raise ValueError(f"classes must be non-negative (0 <= class < C={c}), got {index}")
        if index >= c:
            raise ValueError(f"classes must be < C={c} (the number of classes), got {index}")
        return torch.full((n,), index, dtype=torch.long, device=device)
    if isinstance(classes, numbers.Real):
        raise TypeError(f"{expected}, got float {classes!r}")
    if isinstance(classes, torch.Tensor):
        index = classes
    elif isinstance(classes, (Sequence, np.ndarray)) and not isinstance(classes, str):
        array = np.asarray(classes)
        if array.size and array.dtype.kind not in "iu":
            raise TypeError(f"classes must hold integers, got dtype {array.dtype} "
                            f"({array.ravel()[:3]})")
        index = torch.as_tensor(array.astype(np.int64))
    else:
        raise TypeError(f"{expected}, got {type(classes).__name__}")
    if index.is_floating_point() or index.is_complex():
        raise TypeError(f"classes must hold integers, got a tensor of dtype {index.dtype}")
    if index.ndim == 0:
        if not on_host(index):
            index = index.expand(n)
        else:
            return class_indices(int(index), n, c, device)
    if index.ndim != 1 or index.shape[0] != n:
        raise ValueError(f"classes must hold one index per sample (N={n}), got shape "
                         f"{tuple(index.shape)}")
    if index.numel() and check:
        if on_host(index):
            low, high = int(index.min()), int(index.max())
            if low < 0:
                raise ValueError(f"classes must be non-negative (0 <= class < C={c}), "
                                 f"got {low}")
            if high >= c:
                raise ValueError(f"classes must be < C={c} (the number of classes), "
                                 f"got {high}")
        else:
            low, high = index.aminmax()
            device_assert((low >= 0) & (high < c),
                          f"classes must be in 0..{c - 1} (C={c} classes), got an index "
                          f"outside")
    return index.to(device=device, dtype=torch.long)


def boxes(value: object, name: str) -> torch.Tensor:
    """Boxes (..., 4) of real numbers (their values: `box_values`)."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (N, 4), got "
                        f"{type(value).__name__}")
    if value.dtype == torch.bool or value.is_complex():
        raise TypeError(f"{name} must hold real coordinates, got dtype {value.dtype}")
    if value.ndim == 0 or value.shape[-1] != 4:
        raise ValueError(f"{name} must have shape (N, 4) or (4,), got shape "
                         f"{tuple(value.shape)}")
    return value


def box_values(value: torch.Tensor, name: str) -> None:
    """Finite coordinates with x0 <= x1 and y0 <= y1 (read on the host)."""
    if value.is_floating_point() and not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} must be finite, got a tensor containing NaN or inf")
    inverted = (value[..., 2] < value[..., 0]) | (value[..., 3] < value[..., 1])
    if bool(inverted.any()):
        first = value[inverted][0].tolist()
        raise ValueError(f"{name} must have x0 <= x1 and y0 <= y1 in every box, got {first}")


def mask(value: object) -> torch.Tensor:
    """A bool tensor (N, H, W) or (H, W)."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"mask must be a torch.Tensor of shape (N, H, W), got "
                        f"{type(value).__name__}")
    if value.dtype != torch.bool:
        raise TypeError(f"mask must be a boolean tensor, got dtype {value.dtype}")
    if value.ndim not in (2, 3):
        raise ValueError(f"mask must have shape (N, H, W) or (H, W), got shape "
                         f"{tuple(value.shape)}")
    return value


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

