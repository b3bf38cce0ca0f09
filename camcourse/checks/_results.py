"""What a check returns or raises: :class:`CheckResult`, :class:`CheckFailed`, and the
internal signals a check body uses (not attempted, failure, time up).

:class:`LearnerError` stands for an exception raised by the learner's code in another
process (the autograder's): only its type name and message travel, as text.
"""

from __future__ import annotations

import linecache
import os
import traceback
from dataclasses import dataclass

import camlib

DEFAULT_TIME_LIMIT = 10.0
"""Seconds of learner code one check may run (all its calls together)."""




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


# The course's folders: a frame in one of them is the checks' (or the library they call),
# never the learner's.
COURSE_DIRS = tuple(os.path.dirname(os.path.abspath(path)) + os.sep
                    for path in (os.path.dirname(__file__), camlib.__file__))


def in_course(filename: str) -> bool:
    """Whether ``filename`` is a file of camcourse or camlib."""
    return os.path.abspath(filename).startswith(COURSE_DIRS)

_RED, _DIM, _RESET = "\x1b[0;31m", "\x1b[2m", "\x1b[0m"


class CheckFailed(AssertionError):
    """Raised by a check when the learner's answer is wrong; ``.result`` holds the record.

    In a notebook (IPython, as in JupyterLab, Colab and classic Jupyter) the failure is
    shown by :meth:`_render_traceback_`: the message first, then the learner's own line
    that called the check, and no frame inside camcourse or camlib. Elsewhere (plain Python, pytest)
    it is an ordinary ``AssertionError`` with its full traceback.
    """

    def __init__(self, message: str, result: CheckResult | None = None):
        super().__init__(message)
        self.result = result

    def _render_traceback_(self) -> list[str]:
        """The lines IPython shows for this exception instead of a traceback.

        IPython's ``showtraceback`` (used by ipykernel, so by JupyterLab, Colab and
        classic Jupyter) calls this when an exception defines it; each string is one
        line and may hold ANSI colours.

        >>> failure = CheckFailed("✘ Exercise 4.1: shape (2, 3), expected (3, 2)")
        >>> failure._render_traceback_()[0].endswith("expected (3, 2)\x1b[0m")
        True
        """
        lines = [f"{_RED}{line}{_RESET}" for line in str(self).splitlines() or [""]]
        where = _learner_line(self.__traceback__)
        if where:
            lines.append(f"{_DIM}(from the check called at {where} in this cell){_RESET}")
        return lines


def _learner_line(tb) -> str:
    """'line N: `code`' of the innermost frame outside the course (the learner's cell)."""
    chosen = None
    for frame in traceback.extract_tb(tb):
        if in_course(frame.filename):
            continue
        chosen = frame
    if chosen is None:
        return ""
    code = (chosen.line or linecache.getline(chosen.filename, chosen.lineno)).strip()
    return f"line {chosen.lineno}" + (f": `{code}`," if code else "")


class _NotAttempted(Exception):
    """The learner's function still raises ``NotImplementedError``: nothing to judge yet."""


class _Failure(Exception):
    """Internal: stops a check body with a diagnosis (no "✘ Exercise" prefix yet)."""


class _TimeUp(BaseException):
    """Raised by the alarm; a BaseException so a learner's ``except Exception`` can't eat it."""



class LearnerError(Exception):
    """An exception raised by the learner's code in the grading process, as plain text.

    Parameters
    ----------
    type_name : str
        The exception's class name, e.g. ``"ValueError"``.
    text : str
        The first line of its message.
    where : str
        ``" (line N: `code`)"`` for the learner's line that raised, or ``""``.
    """

    def __init__(self, type_name: str, text: str = "", where: str = ""):
        super().__init__(text)
        self.type_name = type_name
        self.text = text
        self.where = where
