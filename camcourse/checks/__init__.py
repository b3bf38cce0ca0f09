"""Exercise checks: ``camcourse.checks.exercise_N_M(fn)`` tests a learner's function.

Each lesson's checks live in ``camcourse/checks/lessonNN.py`` (NN = two-digit lesson
number) and are imported here, so every ``exercise_N_M`` is an attribute of this
package and registered in ``CHECKS``. The framework (``exercise_check``, ``Context``,
``diagnose``, ...) is re-exported by ``_core``; its docstring explains how to write a
check. A lesson author adds the module and one import line below.

>>> import camcourse.checks
>>> result = camcourse.checks.exercise_4_1(my_function)  # doctest: +SKIP
✔ Exercise 4.1 passed: ...
"""

from __future__ import annotations

import pkgutil
import re

from camcourse.checks import (
    lesson00,
    lesson01,
    lesson02,
    lesson03,
    lesson04,
    lesson05,
    lesson06,
    lesson07,
    lesson08,
    lesson09,
    lesson10,
    lesson11,
)
from camcourse.checks._core import (
    CHECKS,
    CheckFailed,
    CheckResult,
    Context,
    Factor,
    _exercise_key,
    diagnose,
    exercise_check,
    factor_Z,
    get_check,
    pick,
    rng_for,
)

_LESSONS = (lesson00, lesson01, lesson02, lesson03, lesson04, lesson05, lesson06, lesson07,
            lesson08, lesson09, lesson10, lesson11)
_PUBLIC_CHECK = re.compile(r"^exercise_(\d+)_(\d+)$")
_LESSON_MODULE = re.compile(r"^lesson(\d{2})$")

for _module in _LESSONS:
    for _name in sorted(vars(_module)):
        if _PUBLIC_CHECK.match(_name):
            globals()[_name] = getattr(_module, _name)
del _module, _name


def lesson_modules() -> list[str]:
    """Names of the ``lessonNN`` modules in this package, sorted (deterministic order)."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if _LESSON_MODULE.match(m.name))


def load_all() -> list[str]:
    """The public check names, in exercise order (every lesson module is already imported)."""
    return [f"exercise_{n.replace('.', '_')}" for n in sorted(CHECKS, key=_exercise_key)]


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
    *load_all(),
]
