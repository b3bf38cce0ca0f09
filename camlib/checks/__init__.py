"""Exercise checks: ``camlib.checks.exercise_N_M(fn)`` tests a learner's function.

Each lesson's checks live in ``camlib/checks/lessonNN.py`` (NN = two-digit lesson
number). This package imports every such module, in lesson order, and re-exports its
``exercise_N_M`` functions here, so a lesson author only adds the module. The
framework (``exercise_check``, ``Context``, ``diagnose``, ...) is in ``_core``; its
docstring explains how to write a check.

>>> import camlib.checks
>>> result = camlib.checks.exercise_4_1(my_function)  # doctest: +SKIP
✔ Exercise 4.1 passed: ...
"""

from __future__ import annotations

import importlib
import pkgutil
import re

from camlib.checks._core import (
    CHECKS,
    CheckFailed,
    CheckResult,
    Context,
    Factor,
    diagnose,
    exercise_check,
    factor_Z,
    get_check,
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
    "rng_for",
]

_LESSON_MODULE = re.compile(r"^lesson\d{2}$")
_PUBLIC_CHECK = re.compile(r"^exercise_\d+_\d+$")


def lesson_modules() -> list[str]:
    """Names of the ``lessonNN`` modules in this package, sorted (deterministic order)."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if _LESSON_MODULE.match(m.name))


def _export_lesson_checks() -> None:
    """Import each lesson module and re-export its ``exercise_N_M`` checks here."""
    for name in lesson_modules():
        module = importlib.import_module(f"{__name__}.{name}")
        for attr in sorted(vars(module)):
            if _PUBLIC_CHECK.match(attr):
                globals()[attr] = getattr(module, attr)
                __all__.append(attr)


_export_lesson_checks()
