"""Time limits on the learner's code: SIGALRM in the main thread, a thread elsewhere."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from camcourse.checks._results import DEFAULT_TIME_LIMIT, _TimeUp

__all__ = ["run_with_time_limit"]


def _alarm_available() -> bool:
    return (
        hasattr(signal, "setitimer")
        and hasattr(signal, "SIGALRM")
        and threading.current_thread() is threading.main_thread()
    )


_IMPORT_GRACE = 60.0
"""Seconds past the limit that an import under way may still take before it is interrupted."""


def _importing(frame) -> bool:
    """Whether ``frame`` or a frame below it runs Python's import machinery."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


@contextmanager
def _alarm(seconds: float):
    """Raise ``_TimeUp`` in the main thread after ``seconds`` (SIGALRM); restore outer timers."""

    def on_alarm(signum, frame):
        # Never inside an import: a module interrupted half-way stays broken for the rest of
        # the session ("partially initialized module"), failing every later check that
        # needs it. The timer re-fires every 50 ms, so the limit strikes once the import
        # is done; an import that never ends is interrupted after a minute more.
        if time.monotonic() - start < seconds + _IMPORT_GRACE and _importing(frame):
            return
        raise _TimeUp

    start = time.monotonic()
    previous_handler = signal.signal(signal.SIGALRM, on_alarm)
    # Re-fire every 50 ms, so a learner's `except BaseException: pass` in a loop can't hide it.
    outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-3), 0.05)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if outer_delay > 0:  # someone else (pytest-timeout, a grader) had a timer running
            left = max(outer_delay - (time.monotonic() - start), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, outer_interval)


def run_with_time_limit(fn: Callable[..., Any], args: Sequence = (), kwargs: Mapping | None = None,
                        seconds: float | None = DEFAULT_TIME_LIMIT) -> tuple[str, Any]:
    """Call ``fn(*args, **kwargs)`` for at most ``seconds``.

    Returns ``("ok", value)``, ``("raised", exception)`` or ``("timeout", None)``.
    In the main thread of a POSIX process the call is interrupted by SIGALRM; elsewhere
    (Windows, a worker thread) it runs in a daemon thread that is abandoned on timeout.
    """
    kwargs = dict(kwargs or {})
    if seconds is None:
        try:
            return "ok", fn(*args, **kwargs)
        except (Exception, SystemExit) as exc:
            return "raised", exc
    if _alarm_available():
        try:
            with _alarm(seconds):
                try:
                    return "ok", fn(*args, **kwargs)
                except (Exception, SystemExit) as exc:
                    return "raised", exc
        except _TimeUp:
            return "timeout", None
    box: dict[str, Any] = {}

    def target():
        try:
            box["ok"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - reported to the caller
            box["raised"] = exc

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        return "timeout", None
    if "raised" in box:
        return "raised", box["raised"]
    return "ok", box.get("ok")


