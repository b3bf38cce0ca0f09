"""Exercise checks: ``camlib.checks.exercise_N_M(fn)`` tests a learner's function.

Each lesson's checks live in ``camlib/checks/lessonNN.py`` (NN = two-digit lesson
number); a lesson author only adds that module. This package finds the modules by name
and imports one the first time one of its checks is asked for
(``camlib.checks.exercise_4_1`` imports ``lesson04``), so importing ``camlib.checks``
stays cheap and a lesson without Torch never loads Torch. ``load_all()`` imports every
lesson module, in lesson order. The framework (``exercise_check``, ``Context``,
``diagnose``, ...) is in ``_core``; its docstring explains how to write a check.

>>> import camlib.checks
>>> result = camlib.checks.exercise_4_1(my_function)  # doctest: +SKIP
✔ Exercise 4.1 passed: ...
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from typing import Any

from camlib.checks import _core
from camlib.checks._core import (
    CHECKS,
    CheckFailed,
    CheckResult,
    Context,
    Factor,
    diagnose,
    exercise_check,
    factor_Z,
    pick,
    rng_for,
)

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
    "lesson_modules",
    "load_all",
    "pick",
    "rng_for",
]

_LESSON_MODULE = re.compile(r"^lesson(\d{2})$")
_PUBLIC_CHECK = re.compile(r"^exercise_(\d+)_(\d+)$")


def lesson_modules() -> list[str]:
    """Names of the ``lessonNN`` modules in this package, sorted (deterministic order)."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if _LESSON_MODULE.match(m.name))


def _load_lesson(lesson: int) -> bool:
    """Import ``lessonNN`` if it exists and re-export its checks here; False if none."""
    name = f"lesson{lesson:02d}"
    if name not in lesson_modules():
        return False
    module = importlib.import_module(f"{__name__}.{name}")
    for attr in sorted(vars(module)):
        if _PUBLIC_CHECK.match(attr):
            globals()[attr] = getattr(module, attr)
    return True


def load_all() -> list[str]:
    """Import every lesson module; returns the public check names, in exercise order."""
    for name in lesson_modules():
        _load_lesson(int(_LESSON_MODULE.match(name).group(1)))
    return [f"exercise_{n.replace('.', '_')}" for n in sorted(CHECKS, key=_core._exercise_key)]


def get_check(exercise: str) -> Callable[..., CheckResult]:
    """The public check of an exercise number, e.g. ``get_check("4.1")``.

    Imports the lesson's module on first use; raises ``KeyError`` for an unknown number.
    """
    if exercise not in CHECKS:
        lesson = exercise.split(".")[0]
        if lesson.isdigit():
            _load_lesson(int(lesson))
    return _core.get_check(exercise)


def __getattr__(name: str) -> Any:
    match = _PUBLIC_CHECK.match(name)
    if match and _load_lesson(int(match.group(1))) and name in globals():
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(load_all()))
