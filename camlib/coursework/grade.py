"""The autograder: score submitted notebooks with the course's own checks.

For each submission the grader reads the exercise cells (tagged ``exercise``, numbered
by the ``### Exercise N.M`` heading above them) and runs them, in order, in a fresh
Python process (``camlib.coursework._runner``) after the notebook's top-level imports,
with a time limit per cell. It then calls the full check ``camlib.checks.exercise_N_M``
on the learner's function. The submission's own check cells are never run, so editing
or deleting them changes nothing.

Failures stay local: a cell that raises, loops or defines nothing scores 0 for its
exercise; a worker process that dies or hangs is killed, that exercise scores 0 and a
new worker grades the rest; a file that is not a notebook scores 0 for every exercise
of its lesson. Exercises and points come from the lesson itself (``notebooks/NN_*.ipynb``,
cell metadata ``points``, default 1), so a learner cannot change what is graded.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from camlib.coursework.notebooks import (
    Exercise,
    find_exercises,
    import_statements,
    lesson_number,
    names_used,
    read_notebook,
    source,
    untagged_exercise_cell,
)

CSV_FIELDS = ("submission", "exercise", "points", "max_points", "message")


@dataclass(frozen=True)
class Grade:
    """One row of the grades: a submission's score on one exercise."""

    submission: str
    exercise: str
    points: float
    max_points: float
    message: str


def _exercise_key(number: str) -> tuple[int, ...]:
    return tuple(int(p) for p in number.split(".") if p.isdigit())


def expand_submissions(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given; folders searched recursively for ``*.ipynb`` (checkpoints skipped)."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        else:
            found.append(path)
    return found


def reference_exercises(lessons_dir: str | Path | None,
                        lesson: int | None) -> list[Exercise] | None:
    """The exercises of lesson ``lesson`` as the course defines them, or None if unknown."""
    if lessons_dir is None or lesson is None:
        return None
    matches = sorted(Path(lessons_dir).glob(f"{lesson:02d}_*.ipynb"))
    if not matches:
        return None
    return [e for e in find_exercises(read_notebook(matches[0])) if e.number]


def _run_worker(job: dict[str, Any], workdir: Path, *, startup_timeout: float,
                step_timeout: float) -> tuple[list[dict[str, Any]], str | None]:
    """Run one worker on ``job``; return its events and, if it did not finish, why."""
    job_path = workdir / "job.json"
    events_path = workdir / "events.jsonl"
    job_path.write_text(json.dumps(job), encoding="utf-8")
    events_path.write_text("", encoding="utf-8")
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "camlib.coursework._runner", str(job_path), str(events_path)],
        cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True, errors="replace")
    stderr_lines: list[str] = []
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + startup_timeout
    seen = 0
    problem = None
    with open(events_path, encoding="utf-8") as reader:
        while True:
            for line in reader.readlines():
                if line.strip():
                    events.append(json.loads(line))
            if len(events) > seen:
                seen = len(events)
                deadline = time.monotonic() + step_timeout
            if process.poll() is not None:
                for line in reader.readlines():
                    if line.strip():
                        events.append(json.loads(line))
                break
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                problem = "hung"
                break
            time.sleep(0.02)
    if process.stderr is not None:
        stderr_lines = process.stderr.read().strip().splitlines()
        process.stderr.close()
    if problem is None and not (events and events[-1].get("event") == "done"):
        tail = stderr_lines[-1] if stderr_lines else ""
        problem = f"crashed (exit code {process.returncode}{'; ' + tail if tail else ''})"
    return events, problem


def grade_notebook(path: str | Path, *, lessons_dir: str | Path | None = None,
                   cell_timeout: float = 10.0, check_time_limit: float = 10.0,
                   check_modules: Sequence[str] = (), name: str | None = None,
                   startup_timeout: float = 120.0, hang_grace: float = 30.0) -> list[Grade]:
    """Grade one submitted notebook; one :class:`Grade` per exercise of its lesson.

    Parameters
    ----------
    path : path
        The submitted ``.ipynb``.
    lessons_dir : path, optional
        Folder of the course's lessons; exercises and points come from the lesson with
        the same number. Without it, the submission's own exercise cells are graded.
    cell_timeout : float
        Seconds allowed to run each exercise cell.
    check_time_limit : float
        Seconds of the learner's code each check may run.
    check_modules : sequence of str
        Extra modules (dotted names or ``.py`` files) defining checks with
        ``camlib.checks._core.exercise_check``, e.g. a teacher's own exercises.
    name : str, optional
        The submission's name in the rows (default: ``str(path)``).
    startup_timeout, hang_grace : float
        Seconds before a worker that stopped responding is killed (before it is ready;
        after that, on top of the cell and check limits).

    Returns
    -------
    list of Grade
    """
    path = Path(path)
    name = name if name is not None else str(path)
    try:
        notebook = read_notebook(path)
    except (OSError, ValueError) as exc:
        lesson = lesson_number(path)
        reference = reference_exercises(lessons_dir, lesson)
        message = f"not a readable notebook: {exc}"
        if not reference:
            return [Grade(name, "", 0.0, 0.0, message)]
        return [Grade(name, e.number, 0.0, e.points, message) for e in reference]

    submitted = find_exercises(notebook)
    reference = reference_exercises(lessons_dir, lesson_number(path, notebook))
    if reference is not None:  # exercise cells whose tag was lost, found by their function
        present = {e.number for e in submitted}
        taken = {e.cell for e in submitted}
        for e in reference:
            cell = (None if e.number in present
                    else untagged_exercise_cell(notebook, e.number, e.function, taken))
            if cell is not None:
                submitted.append(replace(e, cell=cell, check_cell=None))
                taken.add(cell)
        submitted.sort(key=lambda e: e.cell)
    graded = reference if reference is not None else [e for e in submitted if e.number]
    max_points = {e.number: e.points for e in graded}
    ref_function = {e.number: e.function for e in graded}
    order = list(dict.fromkeys(e.number for e in graded))

    last_cell = {e.number: e.cell for e in submitted if e.number}  # a repeated exercise: the last
    cells = []
    for e in submitted:
        grade_it = e.number in max_points and last_cell.get(e.number) == e.cell
        functions = [f for f in (ref_function.get(e.number), e.function) if f]
        cells.append({"number": e.number or "", "source": source(notebook["cells"][e.cell]),
                      "functions": functions, "grade": grade_it})
    results: dict[str, tuple[bool, str]] = {}
    for number in order:
        if number not in last_cell:
            results[number] = (False, f"✘ Exercise {number}: no exercise cell for it in the "
                                      f"submission (deleted, or its heading or tag changed?)")

    job = {"check_modules": [str(m) for m in check_modules],
           "prelude": import_statements(notebook, used=set().union(
               *(names_used(c["source"]) for c in cells))),
           "cell_timeout": cell_timeout, "check_time_limit": check_time_limit}
    broken: set[int] = set()  # cells that killed a worker: not run again
    step_timeout = cell_timeout + 2 * check_time_limit + hang_grace
    with tempfile.TemporaryDirectory(prefix="camlib-grade-") as tmp:
        while any(c["grade"] and c["number"] not in results for c in cells):
            job["cells"] = [dict(c, grade=c["grade"] and c["number"] not in results)
                            for i, c in enumerate(cells) if i not in broken]
            index_of = [i for i in range(len(cells)) if i not in broken]
            events, problem = _run_worker(job, Path(tmp), startup_timeout=startup_timeout,
                                          step_timeout=step_timeout)
            for event in events:
                if event.get("event") == "result":
                    results[event["number"]] = (bool(event["passed"]), event["message"])
            if problem is None:
                break
            if not any(e.get("event") == "ready" for e in events):
                for c in cells:
                    if c["grade"] and c["number"] not in results:
                        results[c["number"]] = (False, f"✘ Exercise {c['number']}: the grader "
                                                       f"could not start ({problem})")
                break
            starts = [e for e in events if e.get("event") == "start"]
            culprit = index_of[len(starts) - 1] if starts else index_of[0]
            broken.add(culprit)
            what = ("stopped responding and was killed" if problem == "hung"
                    else f"{problem}")
            number = cells[culprit]["number"]
            if cells[culprit]["grade"] and number not in results:
                results[number] = (False, f"✘ Exercise {number}: the Python process running "
                                          f"this exercise {what}")

    rows = []
    for number in order:
        passed, message = results.get(number, (False, f"✘ Exercise {number}: not graded"))
        rows.append(Grade(name, number, max_points[number] if passed else 0.0,
                          max_points[number], message))
    return rows


def write_csv(grades: Iterable[Grade], out: str | Path) -> None:
    """Write grades as CSV with columns submission, exercise, points, max_points, message."""
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_FIELDS)
        for g in grades:
            writer.writerow([g.submission, g.exercise, f"{g.points:g}", f"{g.max_points:g}",
                             g.message])


def summary(grades: Sequence[Grade], seconds: float | None = None) -> str:
    """A plain-text summary: total per submission, pass count per exercise."""
    lines = []
    by_submission: dict[str, list[Grade]] = {}
    for g in grades:
        by_submission.setdefault(g.submission, []).append(g)
    width = max([len(s) for s in by_submission] + [10])
    timing = ""
    if seconds is not None and by_submission:
        timing = f" in {seconds:.1f} s ({seconds / len(by_submission):.1f} s per submission)"
    lines.append(f"Graded {len(by_submission)} submission(s), {len(grades)} exercise row(s)"
                 f"{timing}")
    lines.append(f"{'submission':<{width}}  points")
    for submission, rows in by_submission.items():
        got = sum(g.points for g in rows)
        total = sum(g.max_points for g in rows)
        lines.append(f"{submission:<{width}}  {got:g}/{total:g}")
    by_exercise: dict[str, list[Grade]] = {}
    for g in grades:
        if g.exercise:
            by_exercise.setdefault(g.exercise, []).append(g)
    if by_exercise:
        lines.append("exercise  passed")
        for number in sorted(by_exercise, key=_exercise_key):
            rows = by_exercise[number]
            passed = sum(1 for g in rows if g.points > 0 or g.max_points == 0 and
                         g.message.startswith("✔"))
            lines.append(f"{number:<8}  {passed}/{len(rows)}")
    return "\n".join(lines)


def grade(submissions: Iterable[str | Path], *, out: str | Path | None = None,
          lessons_dir: str | Path | None = None, cell_timeout: float = 10.0,
          check_time_limit: float = 10.0, check_modules: Sequence[str] = (),
          hang_grace: float = 30.0, jobs: int = 1, verbose: bool = True) -> list[Grade]:
    """Grade every submission (files, or folders searched for ``*.ipynb``).

    ``jobs`` submissions are graded at once (each in its own process); rows keep the
    order of the submissions. Writes ``out`` as CSV when given and prints the summary
    when ``verbose``; the other parameters are those of :func:`grade_notebook`.
    """
    start = time.monotonic()
    paths = expand_submissions(submissions)

    def one(path: Path) -> list[Grade]:
        return grade_notebook(path, lessons_dir=lessons_dir, cell_timeout=cell_timeout,
                              check_time_limit=check_time_limit, check_modules=check_modules,
                              hang_grace=hang_grace)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        grades = [row for rows in pool.map(one, paths) for row in rows]
    elapsed = time.monotonic() - start
    if out is not None:
        write_csv(grades, out)
    if verbose:
        print(summary(grades, elapsed))
        if out is not None:
            print(f"wrote {out}")
    return grades
