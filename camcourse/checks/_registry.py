"""The decorator that makes a public check, the registry ``CHECKS``, and :func:`pick`."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from camcourse.checks._context import Context, _fn_name
from camcourse.checks._results import (
    DEFAULT_TIME_LIMIT,
    CheckFailed,
    CheckResult,
    _Failure,
    _NotAttempted,
    _TimeUp,
)

__all__ = ["CHECKS", "exercise_check", "get_check", "pick"]


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
