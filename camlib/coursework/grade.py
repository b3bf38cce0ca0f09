"""The autograder: score submitted notebooks with the course's own checks.

The grader is the trusted side. For each submission it starts a learner process
(``_runner``, confined by ``_sandbox``: its own session, resource limits, no new
processes, no signals to others, writes only to an empty temporary directory where the
kernel offers it) that runs the notebook's import statements (with their own generous
time limit), then each exercise cell under a CPU-time limit. The checks run here, in
the grader: each receives a :class:`~camlib.coursework._remote.RemoteFunction` that
calls the learner's function in that process and brings the answer back as plain data
(``_wire``: JSON and ``.npy``, never unpickled). Inputs, expected values, comparisons and
messages never leave the grader, and the inputs come from a secret seed (a fresh one per
run unless ``seed`` is given), so they differ from the notebook's visible check. While an
exercise is graded, camlib's own version of what it asks for is switched off
(``catalogue.WRITE_IT_YOURSELF``).

Failures stay local: a cell that raises, loops or defines nothing scores 0 for its
exercise; a learner process that dies or hangs is killed (with its whole process group)
and a new one grades the rest; a file that is not a notebook scores 0 for every exercise
of its lesson. Exercises and points come from the lesson itself (``notebooks/NN_*.ipynb``),
exercise cells are found by their tag, heading or function name, and rows are written
as each submission finishes.
"""

from __future__ import annotations

import csv
import hashlib
import secrets
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from camlib.coursework.notebooks import (
    HEADING,
    Exercise,
    defined_names,
    find_exercises,
    import_statements,
    lesson_number,
    names_used,
    read_notebook,
    source,
    tags,
)

CSV_FIELDS = ("student", "lesson", "submission", "exercise", "points", "max_points", "message",
              "seed", "camlib_version", "checks_sha256")
TOTALS_FIELDS = ("student", "lesson", "submission", "points", "max_points", "seed",
                 "camlib_version", "checks_sha256")


@dataclass(frozen=True)
class Grade:
    """One row of the grades: a submission's score on one exercise."""

    submission: str
    exercise: str
    points: float
    max_points: float
    message: str
    student: str = ""
    lesson: str = ""


@dataclass(frozen=True)
class RunInfo:
    """What a grading run records with every row: its secret seed, camlib, the checks."""

    seed: int
    camlib_version: str
    checks_sha256: str


def _exercise_key(number: str) -> tuple[int, ...]:
    return tuple(int(p) for p in number.split(".") if p.isdigit())


def expand_submissions(paths: Iterable[str | Path]) -> list[tuple[Path, Path | None]]:
    """(file, the folder it was found in) pairs; folders searched for ``*.ipynb``."""
    found: list[tuple[Path, Path | None]] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += [(p, path) for p in sorted(path.rglob("*.ipynb"))
                      if ".ipynb_checkpoints" not in p.parts]
        else:
            found.append((path, None))
    return found


def student_name(path: Path, folder: Path | None) -> str:
    """The learner: the sub-folder under the submitted folder, else the file name's stem."""
    if folder is not None:
        parts = path.relative_to(folder).parts
        if len(parts) > 1:
            return parts[0]
    return path.stem


def reference_exercises(lessons_dir: str | Path | None,
                        lesson: int | None) -> list[Exercise] | None:
    """The exercises of lesson ``lesson`` as the course defines them, or None if unknown."""
    if lessons_dir is None or lesson is None:
        return None
    matches = sorted(Path(lessons_dir).glob(f"{lesson:02d}_*.ipynb"))
    if not matches:
        return None
    return [e for e in find_exercises(read_notebook(matches[0])) if e.number]


def checks_hash(extra: Sequence[str] = ()) -> str:
    """SHA-256 of camlib's check modules and the extra check files, in a stable order."""
    import camlib.checks

    digest = hashlib.sha256()
    files = sorted(Path(camlib.checks.__file__).parent.glob("*.py"))
    files += [Path(m) for m in extra if str(m).endswith(".py")]
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _load_check_module(spec: str) -> None:
    from camlib.coursework._runner import _load_module

    _load_module(spec)


# ---------------------------------------------------------------------------
# Which cell holds which exercise
# ---------------------------------------------------------------------------


def _heading_numbers(cells: list[dict[str, Any]], index: int) -> set[str]:
    for j in range(index - 1, -1, -1):
        if cells[j].get("cell_type") == "markdown":
            found = {f"{int(m.group(1))}.{int(m.group(2))}"
                     for m in HEADING.finditer(source(cells[j]))}
            if found:
                return found
        elif "exercise" in tags(cells[j]):
            return set()
    return set()


def match_cells(notebook: dict[str, Any], expected: list[Exercise]) -> dict[str, int]:
    """Exercise number -> the code cell that holds it.

    A cell defining the exercise's function wins (tagged ``exercise`` and under the right
    heading first, then tagged, then any, the first after the heading); a tagged cell
    under the right heading comes next (a renamed function). Each cell serves once.
    """
    cells = notebook["cells"]
    code = [i for i, c in enumerate(cells) if c.get("cell_type") == "code"]
    defines = {i: defined_names(source(cells[i])) for i in code}
    tagged = {i for i in code if "exercise" in tags(cells[i])}
    heads = {i: _heading_numbers(cells, i) for i in code}
    taken: set[int] = set()
    found: dict[str, int] = {}
    for e in expected:
        candidates = [i for i in code if i not in taken and e.function
                      and e.function in defines[i]]
        ranked = sorted(candidates, key=lambda i: (i not in tagged or e.number not in heads[i],
                                                   i not in tagged, e.number not in heads[i]))
        if not ranked:
            ranked = [i for i in code if i not in taken and i in tagged and e.number in heads[i]]
        if ranked:
            found[e.number] = ranked[0]
            taken.add(ranked[0])
    return found


# ---------------------------------------------------------------------------
# One submission
# ---------------------------------------------------------------------------


def _plan(path: Path, lessons_dir, lesson: int | None):
    """(notebook or None, expected exercises, lesson number, a problem or None)."""
    try:
        notebook = read_notebook(path)
    except (OSError, ValueError) as exc:
        number = lesson if lesson is not None else lesson_number(path)
        return None, reference_exercises(lessons_dir, number) or [], number, \
            f"not a readable notebook: {exc}"
    number = lesson if lesson is not None else lesson_number(path, notebook)
    expected = reference_exercises(lessons_dir, number)
    if expected is None:
        expected = [e for e in find_exercises(notebook) if e.number]
    return notebook, expected, number, None


def grade_notebook(path: str | Path, *, lessons_dir: str | Path | None = None,
                   cell_timeout: float = 10.0, check_time_limit: float = 10.0,
                   check_modules: Sequence[str] = (), name: str | None = None,
                   seed: int | None = None, lesson: int | None = None, student: str = "",
                   import_timeout: float = 300.0, memory_mb: int = 4096,
                   library: dict[str, bytes] | None = None) -> list[Grade]:
    """Grade one submitted notebook; one :class:`Grade` per expected exercise.

    Parameters
    ----------
    path : path
        The submitted ``.ipynb``.
    lessons_dir : path, optional
        Folder of the course's lessons; exercises and points come from the lesson with
        the same number. Without it, the submission's own exercise cells are graded.
    cell_timeout : float
        CPU seconds allowed to run each exercise cell (wall clock: three times that + 10).
    check_time_limit : float
        CPU seconds of the learner's code each check may use, all calls together.
    check_modules : sequence of str
        Extra modules (dotted names or ``.py`` files) defining checks with
        ``camlib.checks._core.exercise_check``, e.g. a teacher's own exercises.
    name : str, optional
        The submission's name in the rows (default: ``str(path)``).
    seed : int, optional
        The secret seed of the grading inputs (default: a fresh random one).
    lesson : int, optional
        The lesson, for files named freely (default: from headings or the file name).
    student : str
        The student column.
    import_timeout : float
        Seconds for the learner process to start and run the notebook's imports.
    memory_mb : int
        Address-space limit of the learner process.
    library : dict, optional
        camlib's files as read when the run started (default: read now).

    Returns
    -------
    list of Grade
    """
    import camlib
    from camlib.checks import get_check
    from camlib.checks._results import CheckResult
    from camlib.coursework._remote import LearnerProcess, RemoteFunction, package_files
    from camlib.coursework._wire import ChannelError, ChannelTimeout
    from camlib.coursework.catalogue import WRITE_IT_YOURSELF

    path = Path(path)
    name = name if name is not None else str(path)
    seed = seed if seed is not None else secrets.randbits(63)
    for spec in check_modules:
        _load_check_module(str(spec))
    try:
        notebook, expected, number, problem = _plan(path, lessons_dir, lesson)
    except Exception as exc:  # noqa: BLE001 - one bad file costs only itself
        notebook, expected, number = None, [], lesson
        problem = f"the grader could not read this notebook ({type(exc).__name__}: {exc})"
    lesson_text = f"{number:02d}" if isinstance(number, int) else ""

    def row(e: Exercise, passed: bool, message: str) -> Grade:
        return Grade(name, e.number, e.points if passed else 0.0, e.points, message,
                     student, lesson_text)

    if notebook is None or problem is not None:
        if not expected:
            return [Grade(name, "", 0.0, 0.0, problem or "no exercises", student, lesson_text)]
        return [row(e, False, f"✘ Exercise {e.number}: {problem}") for e in expected]
    try:
        where = match_cells(notebook, expected)
        cells = notebook["cells"]
        used = set().union(*(names_used(source(cells[i])) for i in where.values())) \
            if where else set()
        prelude = import_statements(notebook, used=used)
    except Exception as exc:  # noqa: BLE001
        message = f"the grader could not read this notebook ({type(exc).__name__}: {exc})"
        return [row(e, False, f"✘ Exercise {e.number}: {message}") for e in expected]

    if library is None:
        library = package_files(Path(camlib.__file__).parent)
    order = sorted(where.items(), key=lambda item: item[1])  # notebook order
    results: dict[str, tuple[bool, str]] = {}
    for e in expected:
        if e.number not in where:
            results[e.number] = (False, f"✘ Exercise {e.number}: no exercise cell for it in the "
                                        f"submission (deleted, or its function renamed?)")
    process = LearnerProcess(library, check_modules=check_modules, memory_mb=memory_mb,
                             start_timeout=import_timeout)
    executed: list[int] = []  # cells run so far in this process (replayed after a restart)
    broken: set[int] = set()  # cells that killed a process: not run again
    import_note = ""
    by_number = {e.number: e for e in expected}

    def exec_cell(index: int, label: str) -> tuple[str, str]:
        try:
            header, _ = process.request(
                {"op": "exec", "source": source(cells[index]), "filename": f"<exercise {label}>",
                 "cpu": cell_timeout}, timeout=3 * cell_timeout + 10)
        except ChannelTimeout:
            broken.add(index)
            return "fail", f"the exercise cell did not finish within {cell_timeout:g} s"
        except ChannelError:
            broken.add(index)
            return "fail", f"the Python process running the exercise cell ended: {process.ended()}"
        status = header.get("status")
        if status == "ok":
            return "ok", ""
        if status == "timeout":
            return "fail", (f"the exercise cell did not finish within {cell_timeout:g} s of CPU "
                            f"time (a loop at the top level of the cell?)")
        if status == "syntax":
            return "fail", (f"the exercise cell has a syntax error at line "
                            f"{header.get('line')}: {str(header.get('text'))[:200]}")
        return "fail", (f"running the exercise cell raised {str(header.get('type'))[:80]}: "
                        f"{str(header.get('text'))[:300]}")

    def ensure_process() -> str | None:
        nonlocal import_note
        if process.alive:
            return None
        try:
            process.start()
            header, _ = process.request({"op": "imports", "statements": prelude},
                                        timeout=import_timeout)
        except (ChannelError, OSError) as exc:
            process.kill()
            return f"the grader could not start the learner's process ({exc})"
        failed = header.get("failed") or []
        if failed:
            statement, error = (str(x)[:200] for x in failed[0])
            import_note = f" (the import `{statement}` failed: {error})"
        for index in list(executed):
            if index not in broken:
                exec_cell(index, "replay")
                if not process.alive:
                    return ensure_process()
        return None

    try:
        for number, index in order:
            e = by_number[number]
            trouble = ensure_process()
            if trouble:
                results[number] = (False, f"✘ Exercise {number}: {trouble}")
                continue
            status, message = exec_cell(index, number)
            executed.append(index)
            if status != "ok":
                results[number] = (False, f"✘ Exercise {number}: {message}{import_note}")
                continue
            try:
                check = get_check(number)
            except KeyError:
                results[number] = (False, f"✘ Exercise {number}: the course has no check for "
                                          f"this exercise")
                continue
            names = [n for n in dict.fromkeys([getattr(check, "function", None), e.function,
                                               *defined_names(source(cells[index]))]) if n]
            try:
                header, _ = process.request({"op": "find", "names": names}, timeout=30)
            except ChannelError:
                results[number] = (False, f"✘ Exercise {number}: the Python process running "
                                          f"this exercise ended: {process.ended()}")
                continue
            if not header.get("found"):
                wanted = f"`{names[0]}`" if names else "a function"
                results[number] = (False, f"✘ Exercise {number}: the exercise cell does not "
                                          f"define {wanted}{import_note}")
                continue
            fn = RemoteFunction(process, str(header["found"]),
                                [str(p) for p in header.get("params") or []], exercise=number,
                                block=list(WRITE_IT_YOURSELF.get(number, ())),
                                cpu_seconds=check_time_limit,
                                wall_seconds=3 * check_time_limit + 30)
            try:
                result = check(fn, raise_on_fail=False, verbose=False, time_limit=None,
                               hidden_seed=seed)
            except BaseException as exc:  # noqa: BLE001 - the check must not stop the run
                if isinstance(exc, KeyboardInterrupt):
                    raise
                result = CheckResult(number, False, f"✘ Exercise {number}: the check stopped "
                                                    f"({type(exc).__name__}: {exc})")
            message = result.message
            if not result.passed and import_note:
                message += import_note
            results[number] = (bool(result.passed), message)
    finally:
        process.kill()
    return [row(e, *results.get(e.number, (False, f"✘ Exercise {e.number}: not graded")))
            for e in expected]


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------


def write_csv(grades: Iterable[Grade], out: str | Path, info: RunInfo | None = None) -> None:
    """Write grades as CSV (columns ``CSV_FIELDS``)."""
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_FIELDS)
        for g in grades:
            writer.writerow(_csv_row(g, info))


def _csv_row(g: Grade, info: RunInfo | None) -> list[str]:
    run = [str(info.seed), info.camlib_version, info.checks_sha256] if info else ["", "", ""]
    return [g.student, g.lesson, g.submission, g.exercise, f"{g.points:g}", f"{g.max_points:g}",
            g.message, *run]


def totals(grades: Sequence[Grade]) -> list[tuple[str, str, str, float, float]]:
    """(student, lesson, submission, points, max_points), one per submission, in order."""
    out: dict[str, list] = {}
    for g in grades:
        entry = out.setdefault(g.submission, [g.student, g.lesson, g.submission, 0.0, 0.0])
        entry[3] += g.points
        entry[4] += g.max_points
    return [tuple(v) for v in out.values()]


def summary(grades: Sequence[Grade], seconds: float | None = None,
            info: RunInfo | None = None) -> str:
    """A plain-text summary: total per submission, pass count per exercise."""
    lines = []
    rows = totals(grades)
    width = max([len(r[2]) for r in rows] + [10])
    timing = ""
    if seconds is not None and rows:
        timing = f" in {seconds:.1f} s ({seconds / len(rows):.1f} s per submission)"
    lines.append(f"Graded {len(rows)} submission(s), {len(grades)} exercise row(s){timing}")
    if info is not None:
        lines.append(f"seed {info.seed}, camlib {info.camlib_version}, checks sha256 "
                     f"{info.checks_sha256[:16]}")
    lines.append(f"{'submission':<{width}}  points")
    for _, _, submission, got, total in rows:
        lines.append(f"{submission:<{width}}  {got:g}/{total:g}")
    by_exercise: dict[str, list[Grade]] = {}
    for g in grades:
        if g.exercise:
            by_exercise.setdefault(g.exercise, []).append(g)
    if by_exercise:
        lines.append("exercise  passed")
        for number in sorted(by_exercise, key=_exercise_key):
            group = by_exercise[number]
            passed = sum(1 for g in group if g.message.startswith("✔"))
            lines.append(f"{number:<8}  {passed}/{len(group)}")
    return "\n".join(lines)


def _grade_one(task: dict[str, Any]) -> list[Grade]:
    return grade_notebook(**task)


def grade(submissions: Iterable[str | Path], *, out: str | Path | None = None,
          totals_out: str | Path | None = None, lessons_dir: str | Path | None = None,
          cell_timeout: float = 10.0, check_time_limit: float = 10.0,
          check_modules: Sequence[str] = (), jobs: int = 1, verbose: bool = True,
          seed: int | None = None, lesson: int | None = None, import_timeout: float = 300.0,
          memory_mb: int = 4096,
          on_rows: Callable[[list[Grade]], None] | None = None) -> list[Grade]:
    """Grade every submission (files, or folders searched for ``*.ipynb``).

    ``jobs`` submissions are graded at once (each by its own grading process). Rows are
    appended to ``out`` (CSV) as each submission finishes, and its total to
    ``totals_out`` (default: ``out`` with ``-totals`` added to its name). Returns the rows
    in the order of the submissions; the other parameters are those of
    :func:`grade_notebook`.
    """
    import camlib
    from camlib.coursework._remote import package_files
    from camlib.coursework._sandbox import protect_grader

    start = time.monotonic()
    protect_grader()
    for spec in check_modules:
        _load_check_module(str(spec))
    seed = seed if seed is not None else secrets.randbits(63)
    info = RunInfo(seed, getattr(camlib, "__version__", "unknown"),
                   checks_hash([str(m) for m in check_modules]))
    library = package_files(Path(camlib.__file__).parent)
    found = expand_submissions(submissions)
    tasks = [dict(path=p, name=str(p), student=student_name(p, folder), lessons_dir=lessons_dir,
                  cell_timeout=cell_timeout, check_time_limit=check_time_limit,
                  check_modules=[str(m) for m in check_modules], seed=seed, lesson=lesson,
                  import_timeout=import_timeout, memory_mb=memory_mb, library=library)
             for p, folder in found]
    if out is not None and totals_out is None:
        totals_out = Path(out).with_name(Path(out).stem + "-totals.csv")
    files = []
    writers = []
    for target, fields in ((out, CSV_FIELDS), (totals_out, TOTALS_FIELDS)):
        if target is None:
            writers.append(None)
            continue
        handle = open(target, "w", newline="", encoding="utf-8")  # noqa: SIM115
        files.append(handle)
        writer = csv.writer(handle)
        writer.writerow(fields)
        handle.flush()
        writers.append((writer, handle))

    def record(rows: list[Grade]) -> None:
        if writers[0] is not None:
            writer, handle = writers[0]
            for g in rows:
                writer.writerow(_csv_row(g, info))
            handle.flush()
        if writers[1] is not None and rows:
            writer, handle = writers[1]
            for student, lesson_text, submission, got, total in totals(rows):
                writer.writerow([student, lesson_text, submission, f"{got:g}", f"{total:g}",
                                 info.seed, info.camlib_version, info.checks_sha256])
            handle.flush()
        if on_rows is not None:
            on_rows(rows)

    by_index: dict[int, list[Grade]] = {}
    try:
        if jobs <= 1 or len(tasks) <= 1:
            for i, task in enumerate(tasks):
                by_index[i] = _grade_one(task)
                record(by_index[i])
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor, as_completed

            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
                futures = {pool.submit(_grade_one, task): i for i, task in enumerate(tasks)}
                for future in as_completed(futures):
                    i = futures[future]
                    try:
                        by_index[i] = future.result()
                    except Exception as exc:  # noqa: BLE001 - a grading process that died
                        t = tasks[i]
                        by_index[i] = [Grade(t["name"], "", 0.0, 0.0,
                                             f"the grading process failed ({exc})",
                                             t["student"], "")]
                    record(by_index[i])
    finally:
        for handle in files:
            handle.close()
    grades = [row for i in range(len(tasks)) for row in by_index.get(i, [])]
    after = checks_hash([str(m) for m in check_modules])
    if after != info.checks_sha256:
        print("warning: the course's check files changed while grading; the grades above were "
              "computed with the checks as they were when grading started", file=sys.stderr)
    if verbose:
        print(summary(grades, time.monotonic() - start, info))
        if out is not None:
            print(f"wrote {out} and {totals_out}")
    return grades
