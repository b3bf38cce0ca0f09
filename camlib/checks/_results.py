"""What a check returns or raises: :class:`CheckResult`, :class:`CheckFailed`, and the
internal signals a check body uses (not attempted, failure, time up).

:class:`LearnerError` stands for an exception raised by the learner's code in another
process (the autograder's): only its type name and message travel, as text.
"""

from __future__ import annotations

from dataclasses import dataclass

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
