"""The :class:`Context` a check body works with: seeded inputs, safe calls, comparisons."""

from __future__ import annotations

import hashlib
import inspect
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from camcourse.checks._diagnose import _fmt, _is_tensor, describe, diagnose
from camcourse.checks._inplace import (
    _dtype_change,
    _frozen_change,
    _mode_change,
    _same,
    _snapshot,
)
from camcourse.checks._limits import run_with_time_limit
from camcourse.checks._results import (
    DEFAULT_TIME_LIMIT,
    LearnerError,
    _Failure,
    _NotAttempted,
    _TimeUp,
    in_course,
)

__all__ = ["Context", "rng_for", "seed_for"]


def seed_for(exercise: str) -> int:
    """A 63-bit seed derived from the exercise number (stable across runs and machines).

    >>> seed_for("4.1") == seed_for("4.1")
    True
    >>> seed_for("7.1")  # the salt is fixed: a new one would change every check's inputs
    6629727197879731816
    """
    digest = hashlib.sha256(f"camlib.checks:{exercise}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def rng_for(exercise: str) -> np.random.Generator:
    """A fresh ``numpy.random.Generator`` seeded from the exercise number."""
    return np.random.default_rng(seed_for(exercise))


def _learner_frame(exc: BaseException, fn: Any) -> str:
    """' (line N: `code`)' for the deepest traceback frame in the learner's own code."""
    frames = traceback.extract_tb(exc.__traceback__)
    code = getattr(getattr(fn, "__wrapped__", fn), "__code__", None)
    filename = code.co_filename if code is not None else None
    chosen = None
    for frame in frames:
        if filename is not None and frame.filename == filename:
            chosen = frame
        elif filename is None and not in_course(frame.filename):
            chosen = frame
    if chosen is None or not chosen.line:
        return ""
    return f" (line {chosen.lineno}: `{chosen.line.strip()}`)"


def _fn_name(fn: Any) -> str:
    return getattr(fn, "__name__", None) or type(fn).__name__





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
        grad_mode = _grad_mode()
        start = time.monotonic()
        try:
            status, value = run_with_time_limit(fn, args, kwargs, budget)
        except _TimeUp:  # the grader's stand-in for the learner's function ran out of time
            status, value = "timeout", None
        self._time_used += time.monotonic() - start
        if status == "timeout":
            limit = self.time_limit if self.time_limit is not None else getattr(
                fn, "time_limit", None)
            within = f"the time limit of {_fmt(limit)} s" if limit else "the time limit"
            self.fail(f"{name} did not finish within {within} "
                      f"(an infinite loop, or a loop over every pixel?)")
        if status == "raised":
            if isinstance(value, LearnerError):  # raised in the grader's learner process
                type_name, text, where = value.type_name, value.text, value.where
            else:
                lines = str(value).strip().splitlines()
                type_name, text = type(value).__name__, lines[0] if lines else ""
                where = _learner_frame(value, fn)
            if type_name == "NotImplementedError":
                raise _NotAttempted(f"not attempted yet: {name} still raises NotImplementedError; "
                          f"replace the `raise NotImplementedError(...)` line with your code")
            if not type_name:  # the learner's process ended or sent something unreadable
                self.fail(f"{self.last_call}: {text}")
            self.fail(f"{self.last_call} raised {type_name}{': ' + text if text else ''}{where}")
        if grad_mode is not None and _grad_mode() != grad_mode:
            torch = sys.modules["torch"]
            torch.set_grad_enabled(grad_mode)  # put back for the cells after the check
            self.fail(f"{name} turned gradients {'off' if grad_mode else 'on'} for all the "
                      f"code that runs after it (torch.set_grad_enabled({not grad_mode}) "
                      f"outside a `with` block); use `with torch.no_grad():` around the "
                      f"forward pass, which turns them back on when it ends")
        names = self._argument_names(fn, len(args))
        for i, (before, after) in enumerate(zip(snapshots, args, strict=True)):
            change = _mode_change(before, after)
            if change:
                self.fail(f"{name} changed the mode of its argument `{names[i]}`: "
                          f"{names[i]}{change}. model.eval() or model.train() inside your "
                          f"function changes the caller's model; leave its mode as it was "
                          f"(torch.no_grad() is what turns gradients off)")
            frozen = _frozen_change(before, after)
            if frozen:
                self.fail(f"{name} changed which parameters of its argument `{names[i]}` "
                          f"train ({frozen}; {names[i]}.requires_grad_(False)?): a later "
                          f"training step would not update them. Leave the parameters as "
                          f"they were; torch.no_grad() turns gradients off for the forward "
                          f"pass only")
            converted = _dtype_change(before, after)
            if converted:
                self.fail(f"{name} converted its argument `{names[i]}` in place ({converted}): "
                          f".float(), .double(), .half() and .to(dtype) change the caller's "
                          f"model itself; convert the input tensor instead")
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


def _grad_mode() -> bool | None:
    """torch's global gradient mode (``torch.is_grad_enabled()``), None without torch."""
    torch = sys.modules.get("torch")
    return None if torch is None else bool(torch.is_grad_enabled())


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


