"""The autograder's worker: runs one submission's exercise cells and the course's checks.

Started by ``camlib.coursework.grade`` as ``python -m camlib.coursework._runner JOB EVENTS``
in a fresh interpreter. ``JOB`` is a JSON file::

    {"check_modules": [...], "prelude": ["import numpy as np", ...],
     "cells": [{"number": "4.1", "source": "...", "functions": ["name", ...],
                "grade": true}, ...],
     "cell_timeout": 10.0, "check_time_limit": 10.0}

Each event is one JSON line appended to ``EVENTS`` (flushed at once, so the parent sees
how far a worker got when it has to kill it): ``ready``, ``start`` (a cell), ``result``
(number, passed, message), ``done``.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import linecache
import os
import sys
from pathlib import Path
from typing import Any


def _load_module(spec: str) -> None:
    """Import a module by dotted name, or a ``.py`` file by path (extra exercise checks)."""
    if spec.endswith(".py") or os.sep in spec or "/" in spec:
        path = Path(spec)
        module_spec = importlib.util.spec_from_file_location(f"_coursework_checks_{path.stem}",
                                                             path)
        if module_spec is None or module_spec.loader is None:
            raise ImportError(f"cannot load checks from {spec}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_spec.name] = module
        module_spec.loader.exec_module(module)
    else:
        importlib.import_module(spec)


def _exec_cell(code: str, namespace: dict[str, Any], filename: str) -> None:
    # Registered with linecache so error messages can quote the learner's line.
    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
    exec(compile(code, filename, "exec"), namespace)  # noqa: S102 - running submissions is the job


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


def main(job_path: str, events_path: str) -> int:
    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    events = open(events_path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115

    def emit(**event: Any) -> None:
        events.write(json.dumps(event, ensure_ascii=False) + "\n")
        events.flush()

    from camlib.checks import _core, get_check
    from camlib.coursework.notebooks import without_magics

    for spec in job.get("check_modules", []):
        _load_module(spec)
    emit(event="ready")

    cell_timeout = float(job["cell_timeout"])
    check_limit = float(job["check_time_limit"])
    namespace: dict[str, Any] = {"__name__": "__main__"}
    quiet = open(os.devnull, "w")  # noqa: SIM115 - the learner's prints go nowhere
    for statement in job.get("prelude", []):
        with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            _core.run_with_time_limit(_exec_cell, (statement, namespace, "<imports>"),
                                      seconds=cell_timeout)

    for index, cell in enumerate(job["cells"]):
        number = cell["number"]
        emit(event="start", number=number, grade=cell["grade"])
        filename = f"<exercise {number or index}>"
        with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            status, value = _core.run_with_time_limit(
                _exec_cell, (without_magics(cell["source"]), namespace, filename),
                seconds=cell_timeout)
        if not cell["grade"]:
            continue

        def result(passed: bool, message: str, number: str = number) -> None:
            emit(event="result", number=number, passed=passed, message=message)

        if status == "timeout":
            result(False, f"✘ Exercise {number}: the exercise cell did not finish within "
                          f"{cell_timeout:g} s (a loop at the top level of the cell?)")
            continue
        if status == "raised":
            if isinstance(value, SyntaxError):
                result(False, f"✘ Exercise {number}: the exercise cell has a syntax error at "
                              f"line {value.lineno}: {value.msg}")
            else:
                result(False, f"✘ Exercise {number}: running the exercise cell raised "
                              f"{type(value).__name__}: {_first_line(value)}")
            continue
        try:
            check = get_check(number)
        except KeyError:
            result(False, f"✘ Exercise {number}: the course has no check for this exercise")
            continue
        candidates = [getattr(check, "function", None), *cell["functions"]]
        names = [n for n in dict.fromkeys(candidates) if n]
        fn = next((namespace[n] for n in names if n in namespace), None)
        if fn is None:
            wanted = f"`{names[0]}`" if names else "a function"
            result(False, f"✘ Exercise {number}: the exercise cell does not define {wanted} "
                          f"(renamed or deleted?)")
            continue
        with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            status, value = _core.run_with_time_limit(
                check, (fn,), {"raise_on_fail": False, "verbose": False,
                               "time_limit": check_limit},
                seconds=2 * check_limit + 5)
        if status == "ok" and isinstance(value, _core.CheckResult):
            result(value.passed, value.message)
        elif status == "timeout":
            result(False, f"✘ Exercise {number}: the check did not finish in time")
        else:
            result(False, f"✘ Exercise {number}: the check failed on your function "
                          f"({type(value).__name__}: {_first_line(value)})")
    emit(event="done")
    events.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
