"""The autograder: score submitted notebooks with the course's own checks.

A submission is graded in five layers, one function each:

1. :func:`read_submission`: which lesson (``--lesson``, else the file name, else the
   headings) and, from the course's own lesson notebook, which exercises and points. The
   submission never adds an exercise or changes a point.
2. :func:`match_cells`: which code cell holds each exercise, in one pass over the cells
   (the last definition before the exercise's check, as Run All leaves it).
3. :func:`run_exercise`: a fresh learner process per exercise (``_remote``; inside
   bubblewrap where available, ``_sandbox``) imports a camlib and camcourse generated
   without the functions that exercise asks for (``_library``), runs the notebook's
   imports and the exercise cells up to this one, and hands the check a
   :class:`~camcourse.coursework._remote.RemoteFunction`.
4. The check runs here, in the grader, on inputs from a secret seed; answers come back
   as plain data (``_wire``), never unpickled.
5. :func:`grading_rows` turns the results into one :class:`Grade` per exercise;
   :func:`grade` writes them (CSV, totals, per-student feedback) as each submission
   finishes, with ``jobs`` grading processes, and restarts one that dies.

Every step is inside a ``try`` that yields rows: whatever a submission does, each
expected exercise gets a row, and a row the grader itself could not produce says so
(``graded=False``; the command then exits with status 1). docs/grading.md describes it
for teachers and maintainers.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import secrets
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from keyword import iskeyword
from pathlib import Path
from typing import Any

from camcourse.coursework.notebooks import (
    CHECK_TAG,
    EXERCISE_TAG,
    HEADING,
    MAX_PARSED_CELL,
    Exercise,
    bound_names,
    defined_names,
    definitions,
    file_lessons,
    find_exercises,
    free_names,
    imports_only,
    needed_definitions,
    read_notebook,
    source,
    tags,
)

CSV_FIELDS = ("student", "lesson", "submission", "exercise", "points", "max_points", "passed",
              "message", "isolation", "seed_sha256", "camlib_version", "checks_sha256")
TOTALS_FIELDS = ("student", "lesson", "submission", "points", "max_points", "isolation",
                 "seed_sha256", "camlib_version", "checks_sha256")
MESSAGE_LIMIT = 2000
"""Characters of a message in the CSV; the full text goes to the student's feedback file."""
MATCH_SECONDS = 30.0
"""Time allowed to read a notebook and find its exercise cells."""
DEFINE_SECONDS = 2.0
"""CPU seconds for each definition replayed from a cell other than the exercise's (a
``device = …``, a helper, a constant); one that takes longer is skipped with a note."""
REPLAY_SECONDS = 30.0
"""Seconds of waiting for other cells' definitions (imports of installed packages aside),
in all, per submission (its exercises share them, :class:`Replay`): a lesson's need
milliseconds, and a notebook of thousands of definitions that each take their 2 s (or
end the process, which is then started again) would otherwise hold its grading process
for hours. Those left when it is spent are skipped with a note."""
CHECK_SECONDS = 60.0
"""Seconds of the grader's own work allowed to a check beyond the time its calls may wait
for the learner's process. The check reads what came back in this (unconfined) process:
11.3's check turns every box into a tuple, and a reply of 8 million one-byte "boxes" took
it 38 s and 470 MB (the wire allows 256 MB: some 16 minutes and 12 GB); an answer the
exercise asks for takes it milliseconds."""
# at most 4 digits: int() of a learner's 5,000-digit "exercise_999…_1(" would raise.
# A check is called as ``exercise_3_2(softmax)``, through an alias imported in the same
# place (``from camcourse.checks import exercise_3_2 as check``) or as
# ``get_check("3.2")(softmax)``; ``function`` is the name it is given, if a plain name.
CHECK_CALL = re.compile(r"exercise_(\d{1,4})_(\d{1,4})\s*(?:\(\s*(?P<function>[^\W\d]\w*)?|as\s)"
                        r"|get_check\(\s*[\"'](\d{1,4})\.(\d{1,4})[\"']\s*\)\s*\("
                        r"\s*(?P<function2>[^\W\d]\w*)?")


@dataclass(frozen=True)
class Grade:
    """One row of the grades: a submission's score on one exercise.

    ``passed``: the check passed. ``graded``: False when the grader itself could not grade
    (a grading process that died twice, a grader error), never for the learner's faults.
    """

    submission: str
    exercise: str
    points: float
    max_points: float
    message: str
    student: str = ""
    lesson: str = ""
    passed: bool = False
    graded: bool = True
    isolation: str = ""
    learner_cpu: float = 0.0
    """CPU seconds the learner's processes used for this exercise, as they reported it
    (kept between 0 and what their lifetime allows: ``_remote._plausible_cpu``)."""

    def __post_init__(self) -> None:
        # Every text of a row can be written: a file name read from bytes that are not
        # UTF-8, or a learner's exception text with a lone surrogate ("\udcff"), would
        # otherwise stop the CSV, the feedback and the summary for every student after it.
        for name in ("submission", "exercise", "message", "student", "lesson", "isolation"):
            object.__setattr__(self, name, writable(getattr(self, name)))
        # A message quotes what the learner's process sent (an exception's text and class
        # name, a failed import's note, a source line): one line of printable text, so that
        # "\n\n3.1: 2/2\n✔ Exercise 3.1 passed" or a terminal's escape sequences cannot
        # write lines that read like grades into the feedback file or the teacher's terminal.
        object.__setattr__(self, "message", printable(self.message))


def writable(text: object) -> str:
    """``text`` as a string that UTF-8 can encode: a lone surrogate (a file name's byte
    that is not UTF-8, as Python reads it, or one a learner's code put in an exception)
    is written as its escape.

    >>> writable("ann_\\udcff.ipynb")
    'ann_\\\\udcff.ipynb'
    """
    text = text if isinstance(text, str) else str(text)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass(frozen=True)
class RunInfo:
    """What a grading run records with every row: the seed's fingerprint, camlib, the checks.

    The seed itself is for the teacher only (:func:`grade` writes it to a file of its
    own); rows carry :attr:`seed_sha256`.
    """

    seed: int
    camlib_version: str
    checks_sha256: str

    @property
    def seed_sha256(self) -> str:
        return seed_fingerprint(self.seed)


@dataclass
class Settings:
    """How a run grades: limits, checks, the secret seed, the isolation."""

    lessons_dir: Path
    cell_timeout: float = 10.0
    check_time_limit: float = 10.0
    check_modules: tuple[str, ...] = ()
    seed: int = 0
    import_timeout: float = 300.0
    memory_mb: int = 4096
    library: dict[str, bytes] = field(default_factory=dict)
    sandbox: bool = False


@dataclass
class Plan:
    """What :func:`read_submission` found: the notebook, the lesson, the expected exercises."""

    notebook: dict[str, Any] | None
    expected: list[Exercise]
    lesson: int | None
    problem: str | None = None
    note: str = ""


def seed_fingerprint(seed: int) -> str:
    """A fingerprint of a grading seed (16 hex digits of SHA-256), safe to publish.

    >>> seed_fingerprint(1)
    'd8185725de98665a'
    """
    return hashlib.sha256(f"camlib-grading-seed:{seed}".encode()).hexdigest()[:16]


def read_seed(path: str | Path) -> int:
    """The seed in a file :func:`grade` wrote (its first line)."""
    first = Path(path).read_text(encoding="utf-8").strip().splitlines()[:1]
    try:
        return int(first[0])
    except (IndexError, ValueError):
        raise ValueError(f"{path}: no seed on its first line") from None


NOT_SUBMISSIONS = (".ipynb_checkpoints", "__MACOSX")
"""Folders a submitted folder may hold that are no learner's work: Jupyter's autosaved
copies, and the resource forks that a zip made on macOS unpacks (``__MACOSX/ann/._03_….ipynb``,
and ``._03_….ipynb`` beside the notebook where unpacked without that folder)."""


def expand_submissions(paths: Iterable[str | Path]) -> list[tuple[Path, Path | None]]:
    """(file, the folder it was found in) pairs; folders searched for ``*.ipynb``, but for
    :data:`NOT_SUBMISSIONS` and macOS's ``._`` files."""
    found: list[tuple[Path, Path | None]] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += [(p, path) for p in notebooks_under(path)]
        else:
            found.append((path, None))
    return found


def notebooks_under(folder: Path) -> list[Path]:
    """Every ``*.ipynb`` under ``folder`` (files, links and directories so named), sorted,
    as ``folder.rglob("*.ipynb")`` finds them: links are listed, never followed into; the
    folders of :data:`NOT_SUBMISSIONS` are not searched and macOS's ``._`` files are left out.

    Iterative: ``rglob`` recurses once per level, and a submitted folder holding 1,500
    nested directories (an archive a learner made) raised ``RecursionError`` before a
    single row was written. A directory that cannot be listed (a path over the system's
    length limit) is skipped.
    """
    found, stack = [], [folder]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as listing:
                entries = list(listing)
        except OSError:
            continue
        for entry in entries:
            path = current / entry.name
            if entry.name.endswith(".ipynb") and not entry.name.startswith("._"):
                found.append(path)
            try:
                inside = entry.is_dir(follow_symlinks=False)
            except OSError:
                inside = False
            if inside and entry.name not in NOT_SUBMISSIONS:
                stack.append(path)
    return sorted(found)


def student_name(path: Path, folder: Path | None) -> str:
    """The learner: the sub-folder under the submitted folder, else the file name's stem."""
    if folder is not None:
        parts = path.relative_to(folder).parts
        if len(parts) > 1:
            return parts[0]
    return path.stem


def student_names(found: list[tuple[Path, Path | None]]) -> list[str]:
    """:func:`student_name` of each (file, folder), told apart where two would share one.

    ``grade ann/ bob/`` finds ``ann/04_x.ipynb`` and ``bob/04_x.ipynb``: both would be
    "04_x", their rows indistinguishable and their messages in one feedback file. A file
    named by its stem that shares the name with a file in another folder is named by its
    folder instead ("ann", "bob"), or by the folder's path when those are alike too.
    """
    names = [student_name(p, folder) for p, folder in found]
    # A sub-folder inside one submitted folder names a learner only within it: in
    # ``grade ann/ bob/``, ann's archive holding ``bob/03_x.ipynb`` would otherwise be
    # graded as bob, in bob's feedback file, and the real bob renamed. A sub-folder's name
    # that another submitted folder's files get (its own name, a file's stem in it) or a
    # file submitted alone gets is prefixed with its submitted folder's: "ann/bob".
    # (Sub-folders of two class folders, ``grade week1/ week2/``, name their learners as
    # before.)
    # Names are compared as a file system and a reader compare them: "Zoë" written as
    # e + ¨ (what macOS's zip writes) or "BOB" is bob's name too (``_file_key``).
    claims: dict[str, set[Path | None]] = {}
    for (p, folder), name in zip(found, names, strict=True):
        if folder is None or len(p.relative_to(folder).parts) == 1:
            claims.setdefault(_file_key(name), set()).add(folder)
        if folder is not None:
            claims.setdefault(_file_key(folder.resolve().name), set()).add(folder)
    names = [f"{folder.resolve().name}/{name}" if folder is not None
             and len(p.relative_to(folder).parts) > 1
             and claims.get(_file_key(name), set()) - {folder}
             else name
             for (p, folder), name in zip(found, names, strict=True)]
    folders: dict[str, set[Path]] = {}
    for (p, _), name in zip(found, names, strict=True):
        folders.setdefault(name, set()).add(p.parent)
    clashing = {name for name, parents in folders.items() if len(parents) > 1}
    renamed = [p.parent.resolve().name if name in clashing and name == p.stem else name
               for (p, _), name in zip(found, names, strict=True)]
    counts: dict[str, set[Path]] = {}
    for (p, _), name in zip(found, renamed, strict=True):
        counts.setdefault(name, set()).add(p.parent)
    return [str(p.parent) if name in clashing and len(counts[new]) > 1 else new
            for (p, _), name, new in zip(found, names, renamed, strict=True)]


MAX_NOTEBOOKS_PER_LEARNER = 50
"""Notebooks graded from one learner's sub-folder of a submitted folder (the course has 12
lessons: four versions of each would still be graded). Each notebook costs processes and
waits (seconds, up to minutes for cells that sleep), and an archive of 5,000 copies of a
lesson held the whole class's grading for hours; the notebooks after these, in sorted
order, get one row each saying so. Files directly in a submitted folder (an LMS's flat
export of a class) are not counted: ``grade submissions/ann/`` grades every notebook of
that folder."""


def over_the_limit(found: list[tuple[Path, Path | None]]) -> list[int | None]:
    """For each (file, folder): None, or how many notebooks its learner's sub-folder holds
    when the file comes after the first :data:`MAX_NOTEBOOKS_PER_LEARNER` of them."""
    groups: dict[tuple[Path, str], list[int]] = {}
    for i, (p, folder) in enumerate(found):
        if folder is not None:
            parts = p.relative_to(folder).parts
            if len(parts) > 1:
                groups.setdefault((folder, parts[0]), []).append(i)
    over: list[int | None] = [None] * len(found)
    for members in groups.values():
        if len(members) > MAX_NOTEBOOKS_PER_LEARNER:
            for i in sorted(members, key=lambda i: found[i][0])[MAX_NOTEBOOKS_PER_LEARNER:]:
                over[i] = len(members)
    return over


LEARNER_SECONDS = 1800.0
"""Seconds of grading allowed to the notebooks of one learner's sub-folder, in all (the
grading processes' time on them, counted as each notebook finishes). Each notebook's
waits are bounded (a cell that sleeps, a function that sleeps in its check, an import
that never returns: some 13 minutes for lesson 05 at the default limits), but 50 of
them, the :data:`MAX_NOTEBOOKS_PER_LEARNER` of one learner, held a grading process for
some 11 hours. A learner's notebooks take seconds each: the notebooks that would start
after this is spent get rows saying so (``NOT GRADED``); grading that learner's folder
alone grades them all."""


def learner_of(path: Path, folder: Path | None) -> str | None:
    """The learner's sub-folder of a submitted folder that ``path`` is in, as text (the
    key of :data:`LEARNER_SECONDS`), else None (a file directly in a submitted folder, as
    an LMS exports a class, or submitted alone)."""
    if folder is None:
        return None
    parts = path.relative_to(folder).parts
    return f"{folder}{os.sep}{parts[0]}" if len(parts) > 1 else None


class _LearnerClock:
    """The grading time each learner's notebooks took so far (:data:`LEARNER_SECONDS`)."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}

    def add(self, task: dict[str, Any], seconds: float) -> None:
        if task.get("learner") is not None:
            self.spent[task["learner"]] = self.spent.get(task["learner"], 0.0) + seconds

    def over(self, task: dict[str, Any]) -> list[Grade] | None:
        """``NOT GRADED`` rows for ``task`` when its learner's time is spent, else None."""
        key = task.get("learner")
        if key is None or self.spent.get(key, 0.0) < LEARNER_SECONDS:
            return None
        return _ungraded(task, f"this learner's notebooks took more than {LEARNER_SECONDS:,g} "
                               f"s of grading in all ({self.spent[key]:,.0f} s); grade the "
                               f"learner's folder alone to grade the rest")


def reference_exercises(lessons_dir: str | Path | None,
                        lesson: int | None) -> list[Exercise] | None:
    """The exercises of lesson ``lesson`` as the course defines them (each number once).

    None when the course has no such lesson.
    """
    if lessons_dir is None or lesson is None:
        return None
    matches = sorted(Path(lessons_dir).glob(f"{lesson:02d}_*.ipynb"))
    if not matches:
        return None
    found: dict[str, Exercise] = {}
    for e in find_exercises(read_notebook(matches[0])):
        if e.number and e.number not in found:
            found[e.number] = e
    return list(found.values())


def checks_hash(extra: Sequence[str] = ()) -> str:
    """SHA-256 of the course's check modules and the extra check files, in a stable order."""
    import camcourse.checks

    digest = hashlib.sha256()
    files = sorted(Path(camcourse.checks.__file__).parent.glob("*.py"))
    files += [Path(m) for m in extra if str(m).endswith(".py")]
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _load_check_module(spec: str) -> None:
    from camcourse.coursework._runner import _load_module

    _load_module(spec)


# ---------------------------------------------------------------------------
# 1. Read the submission: the course decides what is graded
# ---------------------------------------------------------------------------


def _content_lesson(notebook: dict[str, Any]) -> int | None:
    """The lesson of most ``Exercise N.M`` headings, else of most check calls (headings
    renamed or translated: ``Übung 3.1``, and the check cells still call ``exercise_3_1``)."""
    numbers = [int(m.group(1)) for c in notebook["cells"] if c.get("cell_type") == "markdown"
               for m in HEADING.finditer(source(c))]
    if not numbers:
        numbers = [int(m.group(1) or m.group(4)) for c in notebook["cells"]
                   if c.get("cell_type") == "code" for line in source(c).splitlines()
                   if not line.lstrip().startswith("#") for m in CHECK_CALL.finditer(line)]
    return max(set(numbers), key=numbers.count) if numbers else None


def read_submission(path: Path, lessons_dir: Path, lesson: int | None = None) -> Plan:
    """The submission's lesson and the exercises the course expects of it.

    The lesson is ``lesson``, else the file name's first ``NN_`` that is a lesson of the
    course (the headings' lesson where the name holds several), else its first ``NN_``,
    else the notebook's exercise headings, else its check calls. Exercises and points come
    only from the course's lesson notebook; a lesson the course does not have gives a plan
    with no exercises and a problem.
    """
    number = lesson
    notebook = None
    try:
        notebook = read_notebook(path, follow_symlinks=False)
    except (OSError, ValueError) as exc:
        problem = f"not a readable notebook: {exc}"
    else:
        problem = None
    content = _content_lesson(notebook) if notebook is not None else None
    if number is None:  # the file name's first NN_ that is a lesson of the course
        named = file_lessons(path)
        known = [n for n in named if reference_exercises(lessons_dir, n) is not None]
        number = content if content in known else known[0] if known else \
            named[0] if named else content
    expected = reference_exercises(lessons_dir, number)
    if expected is None:
        what = f"lesson {number:02d}" if number is not None else "no lesson number (neither " \
            "in the file name, NN_name.ipynb, nor in Exercise N.M headings or check calls)"
        return Plan(notebook, [], number, f"the course has {what}: nothing to grade"
                    if number is None else f"the course has no {what}: nothing to grade")
    note = ""
    if content is not None and content != number:
        note = (f" (this notebook's exercise headings are lesson {content:02d}'s; it is "
                f"graded as lesson {number:02d}, as its file name says)")
    return Plan(notebook, expected, number, problem, note)


# ---------------------------------------------------------------------------
# 2. Match cells: one pass, the last definition before the check
# ---------------------------------------------------------------------------


@dataclass
class _CodeCell:
    index: int
    tagged: bool
    heads: frozenset[str]
    defines: list[str]


def _scan(cells: list[dict[str, Any]], deadline: float) -> tuple[list[_CodeCell], dict, dict]:
    """Every code cell (tag, headings above it, names it defines), each exercise's last
    check call (commented-out lines are not calls) and the name that call passes."""
    heads: frozenset[str] = frozenset()
    code: list[_CodeCell] = []
    checks: dict[str, int] = {}
    passed: dict[str, str | None] = {}
    for i, cell in enumerate(cells):
        if i % 512 == 0 and time.monotonic() > deadline:
            raise TimeoutError(f"reading the notebook's cells took more than {MATCH_SECONDS:g} s")
        kind, text = cell.get("cell_type"), source(cell)
        if kind == "markdown":
            found = frozenset(f"{int(m.group(1))}.{int(m.group(2))}"
                              for m in HEADING.finditer(text))
            heads = found or heads
        elif kind == "code":
            cell_tags = tags(cell)
            code.append(_CodeCell(i, EXERCISE_TAG in cell_tags, heads,
                                  bound_names(text) if text.strip() else []))
            if CHECK_TAG in cell_tags or "exercise_" in text or "get_check" in text:
                calls = "\n".join(line for line in text.splitlines()
                                  if not line.lstrip().startswith("#"))
                for m in CHECK_CALL.finditer(calls):
                    major, minor = (m.group(1), m.group(2)) if m.group(1) else \
                        (m.group(4), m.group(5))
                    checks[f"{int(major)}.{int(minor)}"] = i
                    passed[f"{int(major)}.{int(minor)}"] = m.group("function") or \
                        m.group("function2")
    return code, checks, passed


def match_cells(notebook: dict[str, Any], expected: list[Exercise], *,
                seconds: float = MATCH_SECONDS) -> dict[str, int]:
    """Exercise number -> the code cell that holds it; linear in the number of cells.

    A cell defining the exercise's function wins: the last one before the exercise's
    last check call or holding it (what Run All leaves in force when that check runs: a
    fix written below a failed check and checked again counts, and so does a function
    written in the check's own cell above the call); without a check cell, the last of
    the best kind (tagged ``exercise`` under the exercise's heading, then tagged, then
    any). A tagged cell under the exercise's heading comes next (a renamed function).
    Each cell serves one exercise. Raises ``TimeoutError`` after ``seconds``.
    """
    return locate_cells(notebook, expected, seconds=seconds)[0]


def locate_cells(notebook: dict[str, Any], expected: list[Exercise], *,
                 seconds: float = MATCH_SECONDS,
                 arguments: dict[str, str] | None = None) -> tuple[dict[str, int], dict[str, int]]:
    """(:func:`match_cells`'s answer, exercise number -> the cell of its last check call).

    ``arguments``, if given, receives exercise number -> the name that last check call
    passes (``exercise_7_1(my_iou)``: ``my_iou``), where it passes a plain name.
    """
    code, checks, passed = _scan(notebook["cells"], time.monotonic() + seconds)
    if arguments is not None:
        arguments.update({n: f for n, f in passed.items() if f and not iskeyword(f)})
    by_name: dict[str, list[_CodeCell]] = {}
    for cell in code:
        for name in dict.fromkeys(cell.defines):
            by_name.setdefault(name, []).append(cell)
    taken: set[int] = set()
    found: dict[str, int] = {}
    for e in expected:
        candidates = [c for c in by_name.get(e.function or "", []) if c.index not in taken]
        check = checks.get(e.number)
        own = passed.get(e.number)  # the check passes the learner's own name for it
        if own and own != e.function and check is not None:
            renamed = [c for c in by_name.get(own, []) if c.index not in taken
                       and c.index <= check]
            if renamed and (not candidates or renamed[-1].index > candidates[-1].index
                            or candidates[-1].index > check):
                candidates = renamed
        # the check's own cell counts: a function written above the call in that cell
        # (the stub left where it was) is what the call passes
        before = [c for c in candidates if check is not None and c.index <= check]
        if before:
            chosen = before[-1]
        elif candidates:
            best = min((not c.tagged or e.number not in c.heads, not c.tagged)
                       for c in candidates)
            chosen = [c for c in candidates
                      if (not c.tagged or e.number not in c.heads, not c.tagged) == best][-1]
        else:
            renamed = [c for c in code if c.index not in taken and c.tagged
                       and e.number in c.heads]
            chosen = renamed[-1] if renamed else None
        if chosen is not None:
            found[e.number] = chosen.index
            taken.add(chosen.index)
    return found, checks


# ---------------------------------------------------------------------------
# 3-4. Run one exercise in its own learner process, and check it here
# ---------------------------------------------------------------------------


def _define(process, statements: list[str], settings: Settings,
            dropped: dict[str, str], left: list[float] | None = None,
            imports_left: list[float] | None = None) -> list[list[str]]:
    """Run another cell's definitions, each alone under a small CPU budget; the failed ones.

    Consecutive import statements travel together with the import budget; every other
    statement travels alone, with a deadline of its own: the CPU alarm of the learner's
    process fires only between Python instructions, so a definition that spends its time
    in one C call (``N = sum(range(10**12))``) is stopped by this deadline, never given
    the minutes an import of Torch may take on a loaded machine. Statements in
    ``dropped`` are left out; those of a request that ends the process are added to it
    (with why), and the caller starts the process again without them. ``left`` holds
    the seconds still allowed for the statements that are not imports of installed
    packages (:data:`REPLAY_SECONDS`), shared by the calls for one exercise; once it is
    spent, those are skipped. ``imports_left`` holds the seconds of waiting still allowed
    for imports of installed packages in one exercise's replay, its restarts included
    (``--import-timeout`` in all): which imports are of installed packages is the learner's
    process's word (a module its code put in ``sys.modules`` is "loaded already"), and
    each group of them alone had the import budget, so a notebook of K such imports, with
    a statement between each two, held one exercise for K × ``--import-timeout``. Once it
    is spent, they get the small budget like any other statement.
    """
    left = [float("inf")] if left is None else left
    imports_left = [settings.import_timeout] if imports_left is None else imports_left
    from camcourse.coursework._wire import ChannelError

    cpu = min(DEFINE_SECONDS, settings.cell_timeout)
    groups: list[list[str]] = []
    for text in statements:
        if text in dropped:
            continue
        if groups and imports_only(text) and imports_only(groups[-1][0]):
            groups[-1].append(text)
        else:
            groups.append([text])
    failed: list[list[str]] = []
    imports = [t for g in groups if imports_only(g[0]) for t in g]
    installed: set[str] = set()
    if imports:
        try:  # the learner's process says which imports are of installed packages
            header, _ = process.request({"op": "installed", "cpu": cpu, "statements": imports},
                                        timeout=3 * cpu + 10)
        except ChannelError:
            why = f"the learner's process was stopped while importing: {process.ended()}"
            dropped.update(dict.fromkeys(imports, why))
            return failed
        installed = {t for t, yes in zip(imports, _listed(header, "installed"), strict=False)
                     if yes is True}
        split: list[list[str]] = []  # installed imports together, any other alone, in order
        for text in (t for g in groups for t in g):
            if text in installed and split and split[-1][0] in installed:
                split[-1].append(text)
            else:
                split.append([text])
        groups = split
    for group in groups:
        counted = group[0] not in installed or imports_left[0] <= 0
        if counted and left[0] <= 0:
            failed += [[text[:200], f"skipped: the definitions of other cells took more than "
                                    f"{REPLAY_SECONDS:g} s in all"] for text in group]
            continue
        import_cpu = cpu if counted else min(settings.import_timeout, imports_left[0])
        timeout = import_cpu + 10 if not counted else 3 * cpu + 10
        start = time.monotonic()
        try:
            header, _ = process.request({"op": "define", "statements": group, "cpu": cpu,
                                         "import_cpu": import_cpu},
                                        timeout=timeout)
        except ChannelError:
            why = f"the learner's process was stopped after {timeout:g} s: {process.ended()}"
            dropped.update(dict.fromkeys(group, why))
            return failed
        finally:
            (left if counted else imports_left)[0] -= time.monotonic() - start
        failed += [[str(f[0])[:200], str(f[1])[:200]] for f in _listed(header, "failed")
                   if isinstance(f, list) and len(f) == 2]
    return failed[:50]


def _listed(header: dict[str, Any], key: str) -> list:
    """``header[key]`` when the learner's process sent a list there, else ``[]``: the
    replies are made in its process, whose own code can answer in the runner's place
    (``"failed": [5]``); a malformed one must cost its own row, not read as the grader's
    failure (``NOT GRADED``, exit status 1)."""
    value = header.get(key)
    return value if isinstance(value, list) else []


PLATFORM_MODULES = ("google.colab", "kaggle_secrets", "kaggle_datasets", "kaggle_web_client",
                    "piplite", "micropip", "pyodide", "js")
"""Modules of the platforms learners run a lesson on (Colab, Kaggle, JupyterLite), never
installed where the course is graded. A line that imports one (``from google.colab import
drive``) worked on the learner's platform: when it finds no such module here, a passed row
says nothing of it (:func:`_platform_import`)."""

_MISSING_MODULE = re.compile(r"No module named '([\w.]+)'")


def _platform_import(statement: str, error: str) -> bool:
    """Whether ``error`` is a missing module of :data:`PLATFORM_MODULES` imported by
    ``statement`` (a source line or statement).

    >>> _platform_import("from google.colab import drive", "ModuleNotFoundError: No module "
    ...                  "named 'google'")
    True
    >>> _platform_import("import pandas", "ModuleNotFoundError: No module named 'pandas'")
    False
    """
    found = _MISSING_MODULE.search(error)
    if not found:
        return False
    missing = found.group(1)
    return any((missing == module or module.startswith(missing + ".")
                or missing.startswith(module + ".")) and module in statement
               for module in PLATFORM_MODULES)


def _exec(process, code: str, label: str, settings: Settings,
          definitions_only: bool = False) -> tuple[bool, str]:
    """Run one cell: (ran, what to say). ``ran`` with a message is a note, not a failure.

    ``definitions_only``: only the cell's definitions, each cell under the small budget of
    other cells' definitions (:data:`DEFINE_SECONDS`)."""
    from camcourse.coursework._wire import ChannelError, ChannelTimeout, type_label

    limit = settings.cell_timeout
    if definitions_only:
        limit = min(DEFINE_SECONDS, limit)
    # a demo statement that runs out of time is stopped and noted like one that raises;
    # the definitions after it get the same time again (the runner's ``_SECOND_WIND``)
    try:
        header, _ = process.request({"op": "exec", "source": code, "cpu": limit,
                                     "rest_cpu": 0.0 if definitions_only else limit,
                                     "filename": f"<exercise {label}>",
                                     "definitions_only": definitions_only},
                                    timeout=(3 if definitions_only else 6) * limit + 10)
    except ChannelTimeout:
        return False, f"the exercise cell did not finish within {limit:g} s"
    except ChannelError:
        return False, f"the Python process running the exercise cell ended: {process.ended()}"
    status = header.get("status")
    text = f"{type_label(header.get('type'), 'Exception')}: {str(header.get('text'))[:300]}"
    if status == "ok" and header.get("type"):
        if _platform_import(str(header.get("where", "")), text):
            return True, ""  # ``from google.colab import drive``: it worked on Colab
        return True, (f" (note: a line of the exercise cell raised {text}"
                      f"{str(header.get('where', ''))[:200]}; the cell's definitions were kept "
                      f"and the function graded)")
    if status == "ok":
        return True, ""
    if status == "timeout":
        return False, (f"the exercise cell did not finish within {limit:g} s of CPU time "
                       f"(a loop at the top level of the cell?)")
    if status == "syntax":
        return False, (f"the exercise cell has a syntax error at line {header.get('line')}: "
                       f"{str(header.get('text'))[:200]}")
    return False, f"running the exercise cell raised {text}"


@dataclass
class Replay:
    """What one submission's replays have learnt, shared by all its exercises.

    ``ended``: exercise cells whose run ended the learner's process (a cell that sleeps
    or loops in one C call is stopped by its wall-clock deadline, 6 × ``--timeout`` +
    10 s); a later exercise skips them instead of waiting for that deadline again.
    ``dropped``: other cells' definitions that ended it, with why. ``left``: seconds of
    :data:`REPLAY_SECONDS` still allowed. Without it, a notebook whose every exercise
    cell sleeps would cost each of them once per exercise at or after it (lesson 05's
    four cells: ten deadlines, 7 minutes), not once.
    """

    ended: set[str] = field(default_factory=set)
    dropped: dict[str, str] = field(default_factory=dict)
    left: list[float] = field(default_factory=lambda: [REPLAY_SECONDS])
    cells_left: list[float] = field(default_factory=lambda: [REPLAY_SECONDS])
    """Seconds of waiting for earlier exercise cells run again in a later exercise's
    process, in all; once spent, only their definitions run (a cell that sleeps just under
    its deadline, run again for every later exercise, held lesson 05's grading for
    10 × 70 s while each cell passed)."""
    imports_spent: list[bool] = field(default_factory=lambda: [False])
    """Whether an exercise's replay spent its whole import budget (``--import-timeout``):
    an honest import never takes that long, so the later exercises give the imports the
    learner's process calls installed only the small budget of other statements."""


def _prepare(process, steps: list[tuple[str, Any]], settings: Settings,
             after: Sequence[str] = (), replay: Replay | None = None) -> tuple[bool, str, str]:
    """Start the process and replay what Run All leaves before the exercise's check.

    ``steps``: ("define", statements) for other cells' definitions, ("exec", source) for
    the earlier exercise cells and, last, this one. A step that ends the process is left
    out and the process started again (``replay``, shared by a submission's exercises,
    remembers it). Returns (this cell ran, its message with notes, a note on what was
    skipped, for a failed check).
    """
    replay = Replay() if replay is None else replay
    dropped, left = replay.dropped, replay.left  # definitions that ended it -> why
    # this exercise's, over its restarts too; none once an earlier exercise spent its own
    imports_left = [0.0 if replay.imports_spent[0] else settings.import_timeout]
    while True:
        process.start()
        failed: list[list[str]] = [[text, why] for text, why in dropped.items()]
        for kind, payload in steps[:-1]:
            if kind == "exec" and payload in replay.ended:
                continue
            if kind == "define":
                failed += _define(process, payload, settings, dropped, left, imports_left)
                replay.imports_spent[0] = imports_left[0] <= 0
            else:
                start, spent = time.monotonic(), replay.cells_left[0] <= 0
                _exec(process, payload, "earlier", settings, definitions_only=spent)
                replay.cells_left[0] -= time.monotonic() - start
                if not process.alive:
                    replay.ended.add(payload)
            if not process.alive:
                break
        else:
            ran, message = _exec(process, steps[-1][1], "cell", settings)
            if not process.alive:
                replay.ended.add(steps[-1][1])
            if ran and after and process.alive:
                failed += _define(process, list(after), settings, dropped, left,
                                  imports_left)
                replay.imports_spent[0] = imports_left[0] <= 0
                if not process.alive:
                    continue
            imports = [f for f in failed if f[0].startswith(("import ", "from "))
                       and not _platform_import(f[0], f[1])]
            if imports:
                message += f" (the import `{imports[0][0]}` failed: {imports[0][1]})"
            others = [f for f in failed if not f[0].startswith(("import ", "from "))]
            skipped_note = ""
            if replay.cells_left[0] <= 0 and any(k == "exec" for k, _ in steps[:-1]):
                skipped_note = (f" (note: running the earlier exercise cells again took more "
                                f"than {REPLAY_SECONDS:g} s in all; after that only their "
                                f"definitions ran)")
            if others:
                statement = others[0][0].splitlines()[0][:80]
                skipped_note += (f" (note: {len(others)} statement(s) of other cells were "
                                f"skipped, e.g. `{statement}`: {others[0][1][:160]})")
            return ran, message, skipped_note


def run_exercise(e: Exercise, steps: list[tuple[str, Any]], settings: Settings,
                 after: Sequence[str] = (), replay: Replay | None = None,
                 function: str | None = None
                 ) -> tuple[bool, str, float]:
    """Grade exercise ``e`` whose cell is the last of ``steps`` (see :func:`_prepare`).

    ``after``: definitions of the cells between the exercise's cell and its check, run
    after the cell as Run All does. ``replay``: what the submission's earlier exercises
    learnt (:class:`Replay`). ``function``: the name the exercise's check call passes,
    the function graded when the cells define it (else the lesson's name, else the last
    public name the exercise cell defines: helpers come first). Returns (passed, message,
    CPU seconds of the learner's process).
    """
    holder: list = []  # the learner's process, once started, for its CPU time
    passed, message = _run_exercise(e, steps, settings, holder, list(after), replay,
                                    function)
    return passed, message, holder[0].cpu_seconds_used if holder else 0.0


class _CheckTooLong(BaseException):
    """A check's own work ran past its deadline (a BaseException: no check catches it)."""


class _deadline:
    """Raise :class:`_CheckTooLong` in this thread after ``seconds`` of wall-clock time
    (re-fired every 0.5 s, in case the check swallowed one), where a timer signal can:
    in the main thread of a process with ``setitimer``; elsewhere nothing is timed."""

    def __init__(self, seconds: float):
        import signal
        import threading

        self.seconds, self.signal = seconds, signal
        self.armed = hasattr(signal, "setitimer") and \
            threading.current_thread() is threading.main_thread()

    def _fire(self, signum, frame):
        raise _CheckTooLong

    def __enter__(self):
        if self.armed:
            self.previous = self.signal.signal(self.signal.SIGALRM, self._fire)
            self.signal.setitimer(self.signal.ITIMER_REAL, max(self.seconds, 0.01), 0.5)
        return self

    def __exit__(self, *exc):
        if self.armed:
            self.signal.setitimer(self.signal.ITIMER_REAL, 0)
            self.signal.signal(self.signal.SIGALRM, self.previous)
        return False


def _run_exercise(e: Exercise, steps: list[tuple[str, Any]], settings: Settings,
                  holder: list, after: list[str], replay: Replay | None = None,
                  function: str | None = None
                  ) -> tuple[bool, str]:
    from camcourse.checks import get_check
    from camcourse.checks._results import CheckResult
    from camcourse.coursework._library import library_without
    from camcourse.coursework._remote import LearnerProcess, RemoteFunction
    from camcourse.coursework._wire import ChannelError
    from camcourse.coursework.catalogue import WRITE_IT_YOURSELF

    try:
        check = get_check(e.number)
    except KeyError:
        return False, f"✘ Exercise {e.number}: the course has no check for this exercise"
    library = library_without(settings.library, WRITE_IT_YOURSELF.get(e.number, ()), e.number)
    process = LearnerProcess(library, check_modules=settings.check_modules,
                             memory_mb=settings.memory_mb, start_timeout=settings.import_timeout,
                             sandbox=settings.sandbox)
    holder.append(process)
    try:
        try:
            ran, message, skipped_note = _prepare(process, steps, settings, after, replay)
        except (ChannelError, OSError) as exc:
            return False, f"✘ Exercise {e.number}: the learner's process did not start ({exc})"
        if not ran:
            return False, f"✘ Exercise {e.number}: {message}"
        defined = defined_names(steps[-1][1])
        public = [n for n in defined if not n.startswith("_")]
        names = [n for n in dict.fromkeys([function, getattr(check, "function", None),
                                           e.function, *public[::-1], *defined[::-1]]) if n]
        try:
            header, _ = process.request({"op": "find", "names": names}, timeout=30)
        except ChannelError:
            return False, (f"✘ Exercise {e.number}: the Python process running this exercise "
                           f"ended: {process.ended()}")
        if not header.get("found"):
            wanted = f"`{names[0]}`" if names else "a function"
            return False, f"✘ Exercise {e.number}: the exercise cell does not define {wanted}" \
                + message + skipped_note
        fn = RemoteFunction(process, str(header["found"]),
                            [str(p) for p in _listed(header, "params")], exercise=e.number,
                            cpu_seconds=settings.check_time_limit,
                            wall_seconds=3 * settings.check_time_limit + 30)
        seconds = fn.wall_left + CHECK_SECONDS
        try:
            with _deadline(seconds):
                result = check(fn, raise_on_fail=False, verbose=False, time_limit=None,
                               hidden_seed=settings.seed)
        except _CheckTooLong:
            result = CheckResult(e.number, False, (
                f"✘ Exercise {e.number}: checking what {fn.name} returned took the grader more "
                f"than {seconds:g} s (an answer far larger than the exercise asks for?)"))
        except Exception as exc:  # noqa: BLE001 - the check must not stop the run
            result = CheckResult(e.number, False, f"✘ Exercise {e.number}: the check stopped "
                                                  f"({type(exc).__name__}: {exc})")
        return bool(result.passed), result.message + message + (
            "" if result.passed else skipped_note)
    finally:
        process.kill()


# ---------------------------------------------------------------------------
# 5. One submission: its rows
# ---------------------------------------------------------------------------


def grading_rows(plan: Plan, results: dict[str, tuple], *, name: str,
                 student: str, isolation: str) -> list[Grade]:
    """One :class:`Grade` per expected exercise (or one row saying why there is none)."""
    lesson = f"{plan.lesson:02d}" if isinstance(plan.lesson, int) else ""
    if not plan.expected:
        return [Grade(name, "", 0.0, 0.0, plan.problem or "no exercises", student, lesson,
                      isolation=isolation)]
    rows = []
    for e in plan.expected:
        passed, message, graded, *cpu = results.get(
            e.number, (False, f"✘ Exercise {e.number}: not graded", False))
        rows.append(Grade(name, e.number, e.points if passed else 0.0, e.points,
                          message + plan.note, student, lesson, passed, graded, isolation,
                          cpu[0] if cpu else 0.0))
    return rows


def _results(plan: Plan, settings: Settings) -> dict[str, tuple]:
    """(passed, message, graded[, learner CPU]) per expected exercise of a submission."""
    if plan.problem:
        return {e.number: (False, f"✘ Exercise {e.number}: {plan.problem}", True)
                for e in plan.expected}
    try:
        arguments: dict[str, str] = {}
        where, checks = locate_cells(plan.notebook, plan.expected, arguments=arguments)
    except TimeoutError as exc:
        return {e.number: (False, f"✘ Exercise {e.number}: {exc}", True) for e in plan.expected}
    cells = plan.notebook["cells"]
    chosen = set(where.values())
    # Run All runs the cells between an exercise's cell and its check before the check
    # calls the function: a helper or an import written there is in force.
    ends = {n: max(i, checks.get(n, i)) for n, i in where.items()}
    last = max(ends.values(), default=-1)
    others = [i for i, c in enumerate(cells[:last])
              if c.get("cell_type") == "code" and i not in chosen]
    used = set().union(*(free_names(source(cells[i])) for i in chosen))
    needed = dict(zip(others, needed_definitions([source(cells[i]) for i in others], used),
                      strict=True))
    results = {}
    replay = Replay()  # shared by the exercises: what ended the process is not run again
    for e in plan.expected:
        if e.number not in where:
            results[e.number] = (False, f"✘ Exercise {e.number}: no exercise cell for it in the "
                                        f"submission (deleted, or its function renamed?)", True)
            continue
        steps: list[tuple[str, Any]] = []
        for i in range(where[e.number] + 1):
            if i in chosen:
                steps.append(("exec", source(cells[i])))
            elif needed.get(i):
                if steps and steps[-1][0] == "define":
                    steps[-1][1].extend(needed[i])
                else:
                    steps.append(("define", list(needed[i])))
        after = [t for i in range(where[e.number] + 1, ends[e.number])
                 if i not in chosen for t in needed.get(i, ())]
        try:
            passed, message, cpu = run_exercise(e, steps, settings, after, replay,
                                                function=arguments.get(e.number))
            message = _defined_above(message, cells, where[e.number])
            if not passed:
                message += _defined_below(message, cells, ends[e.number]) + \
                    _not_installed(message)
            results[e.number] = (passed, message, True, cpu)
        except Exception as exc:  # noqa: BLE001 - one exercise's trouble costs only its row
            results[e.number] = (False, f"✘ Exercise {e.number}: the grader failed on this "
                                        f"exercise ({type(exc).__name__}: {exc})", False)
    return results


_NO_MODULE = re.compile(r"No module named '([\w.]+)'")


def _not_installed(message: str) -> str:
    """A hint for a failed row whose notes say an import found no such module: the package
    the learner had (Colab has pandas) is not in the environment the course grades in."""
    found = _NO_MODULE.search(message)
    if not found:
        return ""
    return (f" (the package `{found.group(1).partition('.')[0]}` is not installed where the "
            f"course is graded; the course's own packages are: NumPy, SciPy, PyTorch, "
            f"torchvision, scikit-learn, scikit-image, numba, tqdm)")


_NOT_DEFINED = re.compile(r"NameError: name '(\w+)' is not defined")

_DEMO_NOTE = re.compile(r" \(note: a line of the exercise cell raised NameError: name '(\w+)' "
                        r"is not defined.*?; the cell's definitions were kept and the function "
                        r"graded\)", re.DOTALL)


def _defined_above(message: str, cells: list[dict[str, Any]], start: int) -> str:
    """``message`` without the note of a demo line of the exercise cell that raised
    ``NameError`` for a name a code cell above the exercise binds (``print(softmax(S))``,
    ``S`` the lesson's scores): Run All defined it there and the line worked; the grader
    replays only what the functions need, so the note would report an error the learner
    never had."""
    found = _DEMO_NOTE.search(message)
    if not found:
        return message
    name, parses = found.group(1), 100  # a bounded look, as _defined_below's
    for cell in cells[:start]:
        text = source(cell)
        if cell.get("cell_type") != "code" or name not in text or len(text) > MAX_PARSED_CELL:
            continue
        parses -= 1
        if parses < 0:
            break
        if any(name in bound for _, bound, *_ in definitions(text)):
            return message[:found.start()] + message[found.end():]
    return message


def _defined_below(message: str, cells: list[dict[str, Any]], end: int) -> str:
    """A hint for a failed row whose error is a ``NameError`` for a name that a code cell
    below the exercise's check defines (run out of order in the learner's session, as its
    execution count may show): Run All reaches that cell only after the check."""
    found = _NOT_DEFINED.search(message)
    if not found:
        return ""
    name, number, parses = found.group(1), 0, 100  # a bounded look: it is only a hint
    for i, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        number += 1
        text = source(cell)
        if i <= end or name not in text or len(text) > MAX_PARSED_CELL:
            continue
        parses -= 1
        if parses < 0:
            break
        if any(name in bound for _, bound, *_ in definitions(text)):
            return (f" (`{name}` is defined only below the check, in code cell {number}: "
                    f"Run All runs that cell after the check, so move it above the exercise)")
    return ""


def grade_notebook(path: str | Path, *, lessons_dir: str | Path | None = None,
                   cell_timeout: float = 10.0, check_time_limit: float = 10.0,
                   check_modules: Sequence[str] = (), name: str | None = None,
                   seed: int | None = None, lesson: int | None = None, student: str = "",
                   import_timeout: float = 300.0, memory_mb: int = 4096,
                   library: dict[str, bytes] | None = None,
                   sandbox: bool | None = None) -> list[Grade]:
    """Grade one submitted notebook; one :class:`Grade` per exercise the course expects.

    ``lessons_dir``: the course's lessons (default: the course's ``notebooks/``), which
    alone define exercises and points. ``cell_timeout``: CPU seconds per exercise cell.
    ``check_time_limit``: CPU seconds of learner code per check. ``check_modules``: extra
    modules defining checks. ``seed``: the secret seed of the hidden inputs (default: a
    fresh one). ``lesson``: the lesson of a file named freely. ``import_timeout``: seconds
    to start a learner process and run the imports. ``memory_mb``: its address space.
    ``library``: the files of camlib and camcourse (default: read now). ``sandbox``:
    bubblewrap or not (default: where it works).
    """
    from camcourse.coursework._remote import learner_files
    from camcourse.coursework._sandbox import bubblewrap_problem
    from camcourse.paths import NOTEBOOKS_DIR

    path = Path(path)
    name = name if name is not None else str(path)
    for spec in check_modules:
        _load_check_module(str(spec))
    sandbox = bubblewrap_problem() is None if sandbox is None else sandbox
    settings = Settings(Path(lessons_dir or NOTEBOOKS_DIR), cell_timeout, check_time_limit,
                        tuple(map(str, check_modules)),
                        seed if seed is not None else secrets.randbits(63), import_timeout,
                        memory_mb, library or learner_files(),
                        sandbox)
    isolation = "bubblewrap" if sandbox else "process"
    try:
        plan = read_submission(path, settings.lessons_dir, lesson)
    except Exception as exc:  # noqa: BLE001 - one bad file costs only itself
        plan = Plan(None, [], lesson, f"the grader could not read this notebook "
                                      f"({type(exc).__name__}: {exc})")
    try:
        results = _results(plan, settings)
    except Exception as exc:  # noqa: BLE001
        results = {e.number: (False, f"✘ Exercise {e.number}: the grader failed on this "
                                     f"notebook ({type(exc).__name__}: {exc})", False)
                   for e in plan.expected}
    return grading_rows(plan, results, name=name, student=student, isolation=isolation)


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------


SAFE_NAME_BYTES = 120
"""UTF-8 bytes of a feedback file's name before its hash and ``.txt`` (a file system
allows 255: 85 Chinese characters, a folder name's longest, are 255 bytes)."""


def _safe_name(text: str) -> str:
    """``text`` as a file name: letters of any script, digits, ``._-``; else ``_``; at
    most :data:`SAFE_NAME_BYTES` bytes of UTF-8, cut between characters.

    >>> len(_safe_name("张" * 85).encode())
    120
    """
    name = re.sub(r"[^\w.-]+", "_", text).strip("._")[:100]
    name = name.encode("utf-8")[:SAFE_NAME_BYTES].decode("utf-8", "ignore")
    return name.strip("._") or "submission"


def _file_key(name: str) -> str:
    """``name`` as a case-insensitive, normalization-insensitive file system compares it."""
    import unicodedata

    return unicodedata.normalize("NFC", name).casefold()


def _capped(message: str, feedback: str | None) -> str:
    if len(message) <= MESSAGE_LIMIT:
        return message
    where = f"; the full text is in {feedback}" if feedback else ""
    return message[:MESSAGE_LIMIT - 120] + f" … (cut at {MESSAGE_LIMIT} of {len(message)} " \
        f"characters{where})"


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet reads as the start of a formula in a CSV cell."""


def csv_text(text: str) -> str:
    """``text`` as a CSV cell that a spreadsheet shows as text, never runs as a formula.

    The student and submission columns come from file and folder names that learners
    choose: ``=HYPERLINK("http://…", "feedback")`` would be a live link, or worse, in
    the teacher's spreadsheet. Such a cell gets a leading apostrophe (OWASP's advice).

    >>> csv_text("=1+1"), csv_text("ann")
    ("'=1+1", 'ann')
    """
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def printable(text: str) -> str:
    """``text`` on one line of the terminal: line breaks and other control characters
    escaped, so that a file name cannot print lines of the summary that look like
    another student's total.

    >>> printable("02_x\\nalice.ipynb  3/3")
    '02_x\\\\nalice.ipynb  3/3'
    """
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


def _csv_row(g: Grade, info: RunInfo | None, feedback: str | None = None) -> list[str]:
    run = [info.seed_sha256, info.camlib_version, info.checks_sha256] if info else ["", "", ""]
    return [csv_text(g.student), g.lesson, csv_text(g.submission), g.exercise,
            f"{g.points:g}", f"{g.max_points:g}", "yes" if g.passed else "no",
            csv_text(_capped(g.message, feedback)), g.isolation, *run]


def write_csv(grades: Iterable[Grade], out: str | Path, info: RunInfo | None = None) -> None:
    """Write grades as CSV (columns ``CSV_FIELDS``, messages capped at ``MESSAGE_LIMIT``)."""
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_FIELDS)
        for g in grades:
            writer.writerow(_csv_row(g, info))


def totals(grades: Sequence[Grade]) -> list[tuple[str, str, str, float, float, str]]:
    """(student, lesson, submission, points, max_points, isolation), one per submission."""
    out: dict[str, list] = {}
    for g in grades:
        entry = out.setdefault(g.submission, [g.student, g.lesson, g.submission, 0.0, 0.0,
                                              g.isolation])
        entry[3] += g.points
        entry[4] += g.max_points
    return [tuple(v) for v in out.values()]


def summary(grades: Sequence[Grade], seconds: float | None = None,
            info: RunInfo | None = None) -> str:
    """A plain-text summary: total per submission, passes per exercise, the isolation."""
    from camcourse.checks._registry import _exercise_key

    rows = [(*r[:2], printable(r[2]), *r[3:]) for r in totals(grades)]
    width = max([len(r[2]) for r in rows] + [10])
    timing = ""
    if seconds is not None and rows:
        timing = f" in {seconds:.1f} s ({seconds / len(rows):.1f} s per submission)"
    lines = [f"Graded {len(rows)} submission(s), {len(grades)} exercise row(s){timing}"]
    if rows:
        learner = sum(g.learner_cpu for g in grades)
        lines.append(f"CPU time of the learners' processes: {learner:.1f} s "
                     f"({learner / len(rows):.1f} s per submission)")
    if info is not None:
        lines.append(f"seed fingerprint {info.seed_sha256}, camlib {info.camlib_version}, "
                     f"checks sha256 {info.checks_sha256[:16]}")
    isolations = sorted({r[5] for r in rows})
    lines.append("isolation: " + ", ".join(
        f"{kind} ({sum(r[5] == kind for r in rows)} submission(s))" for kind in isolations))
    ungraded = [g for g in grades if not g.graded]
    if ungraded:
        lines.append(f"NOT GRADED: {len(ungraded)} row(s) the grader could not grade "
                     f"(see their messages)")
    lines.append(f"{'submission':<{width}}  points")
    for _, _, submission, got, total, _ in rows:
        lines.append(f"{submission:<{width}}  {got:g}/{total:g}")
    by_exercise: dict[str, list[Grade]] = {}
    for g in grades:
        if g.exercise:
            by_exercise.setdefault(g.exercise, []).append(g)
    if by_exercise:
        lines.append("exercise  passed")
        for number in sorted(by_exercise, key=_exercise_key):
            group = by_exercise[number]
            lines.append(f"{number:<8}  {sum(g.passed for g in group)}/{len(group)}")
    return "\n".join(lines)


class _Output:
    """The run's files: grades CSV, totals CSV, per-student feedback, the teacher's seed."""

    def __init__(self, out: Path | None, totals_out: Path | None, info: RunInfo):
        self.info, self.handles, self.writers = info, [], []
        self.feedback = out.with_name(out.stem + "-feedback") if out is not None else None
        self.seed_file = out.with_name(out.stem + "-seed.txt") if out is not None else None
        self.started: set[str] = set()
        self.keys: dict[str, str] = {}  # student -> feedback file name, one file each
        for target, fields in ((out, CSV_FIELDS), (totals_out, TOTALS_FIELDS)):
            if target is None:
                self.writers.append(None)
                continue
            handle = open(target, "w", newline="", encoding="utf-8")  # noqa: SIM115
            self.handles.append(handle)
            writer = csv.writer(handle)
            writer.writerow(fields)
            handle.flush()
            self.writers.append((writer, handle))
        if self.seed_file is not None:
            fd = os.open(self.seed_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(f"{info.seed}\n# The secret seed of this grading run (fingerprint "
                             f"{info.seed_sha256} in the CSV). Keep it private: regrade with "
                             f"--seed-file {self.seed_file.name}, never --seed on a shared "
                             f"command line.\n")
        if self.feedback is not None:
            self.feedback.mkdir(exist_ok=True)

    def _feedback_file(self, rows: list[Grade]) -> str | None:
        if self.feedback is None or not rows:
            return None
        student = rows[0].student or Path(rows[0].submission).stem
        if student not in self.keys:  # two students whose names read alike get two files
            key = _safe_name(student)
            # alike to the file system too: macOS and Windows treat "Li" and "LI" (and an
            # "ë" written as e + ¨) as one file name, and the second would truncate the first
            # (and the name with its hash may be another student's name: "li-<hash of LI>")
            taken = {_file_key(k) for k in self.keys.values()}
            base, salt = key, 0
            while _file_key(key) in taken:
                text = student if not salt else f"{student}\0{salt}"
                key, salt = base + "-" + hashlib.sha256(text.encode()).hexdigest()[:8], salt + 1
            self.keys[student] = key
        key = self.keys[student]
        path = self.feedback / f"{key}.txt"
        mode = "a" if key in self.started else "w"
        self.started.add(key)
        with open(path, mode, encoding="utf-8") as handle:
            handle.write(f"== {printable(rows[0].submission)} (lesson {rows[0].lesson or '?'})\n")
            for g in rows:
                handle.write(f"{g.exercise or '-'}: {g.points:g}/{g.max_points:g}\n"
                             f"{g.message}\n\n")
        return f"{self.feedback.name}/{path.name}"

    def record(self, rows: list[Grade]) -> None:
        try:
            feedback = self._feedback_file(rows)
        except OSError:  # one student's feedback file must not cost the others their rows
            feedback = None
        if self.writers[0] is not None:
            writer, handle = self.writers[0]
            for g in rows:
                writer.writerow(_csv_row(g, self.info, feedback))
            handle.flush()
        if self.writers[1] is not None and rows:
            writer, handle = self.writers[1]
            for student, lesson_text, submission, got, total, isolation in totals(rows):
                writer.writerow([csv_text(student), lesson_text, csv_text(submission),
                                 f"{got:g}", f"{total:g}",
                                 isolation, self.info.seed_sha256, self.info.camlib_version,
                                 self.info.checks_sha256])
            handle.flush()

    def close(self) -> None:
        for handle in self.handles:
            handle.close()


def default_jobs() -> int:
    """The cores this process may use (``os.sched_getaffinity``; else ``os.cpu_count``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _grade_one(task: dict[str, Any]) -> list[Grade]:
    if task.get("over"):
        # NOT GRADED, so that the run exits with status 1: a folder of a whole class's
        # notebooks (``submissions/week04/*.ipynb``) is told from one learner's only here
        return [Grade(task["name"], "", 0.0, 0.0,
                      f"NOT GRADED: this learner's folder holds {task['over']:,} notebooks, "
                      f"more than the {MAX_NOTEBOOKS_PER_LEARNER} graded per learner (the "
                      f"first in sorted order); grade the folder itself to grade them all",
                      task["student"], graded=False,
                      isolation="bubblewrap" if task["sandbox"] else "process")]
    try:
        return grade_notebook(**{k: v for k, v in task.items()
                                 if k not in ("over", "learner")})
    except Exception as exc:  # noqa: BLE001 - a row, whatever happened
        return [_ungraded(task, f"the grader failed on this notebook ({type(exc).__name__}: "
                                f"{exc})")[0]]


def _ungraded(task: dict[str, Any], why: str) -> list[Grade]:
    """Rows saying that the grader could not grade this submission, and why."""
    try:
        plan = read_submission(Path(task["path"]), Path(task["lessons_dir"]), task["lesson"])
        expected, lesson = plan.expected, plan.lesson
    except Exception:  # noqa: BLE001
        expected, lesson = [], task.get("lesson")
    lesson_text = f"{lesson:02d}" if isinstance(lesson, int) else ""
    base = Grade(task["name"], "", 0.0, 0.0, f"NOT GRADED: {why}", task["student"], lesson_text,
                 graded=False, isolation="bubblewrap" if task["sandbox"] else "process")
    if not expected:
        return [base]
    return [replace(base, exercise=e.number, max_points=e.points,
                    message=f"✘ Exercise {e.number}: NOT GRADED: {why}") for e in expected]


def _worker(conn) -> None:
    """A grading process: grade each task received until told to stop (None)."""
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        conn.send(_grade_one(task))


def _died(i: int, code: int | None, tasks: list[dict[str, Any]], deaths: dict[int, int],
          pending: list[int], record: Callable[[int, list[Grade]], None]) -> None:
    """A grading process died on task ``i``: grade it again once, else say so in its rows."""
    deaths[i] = deaths.get(i, 0) + 1
    how = f"signal {-code}" if code is not None and code < 0 else f"exit status {code}"
    if deaths[i] < 2:
        pending.append(i)
    else:
        record(i, _ungraded(tasks[i], f"the grading process died twice while grading this "
                                      f"submission (the last time: {how})"))


def _run_tasks(tasks: list[dict[str, Any]], jobs: int,
               record: Callable[[int, list[Grade]], None],
               clock: _LearnerClock | None = None) -> None:
    """Grade ``tasks`` in ``jobs`` processes; a process that dies is replaced.

    Its submission is graded once more by a new process; if that one dies too, the
    submission gets rows saying so (``graded=False``). ``clock``: the time each learner's
    notebooks took; a task whose learner's time is spent is not started (its rows say so).
    """
    clock = _LearnerClock() if clock is None else clock
    import multiprocessing
    from multiprocessing.connection import wait

    context = multiprocessing.get_context("spawn")
    pending = list(range(len(tasks)))[::-1]
    deaths: dict[int, int] = {}
    busy: dict[Any, tuple[Any, int]] = {}  # connection -> (process, task index)
    started: dict[int, float] = {}

    def next_task() -> int | None:
        while pending:
            i = pending.pop()
            rows = clock.over(tasks[i])
            if rows is None:
                return i
            record(i, rows)
        return None

    def assign(conn, process, i: int) -> None:
        busy[conn] = (process, i)
        started[i] = time.monotonic()
        try:
            conn.send(tasks[i])
        except OSError:
            pass  # the process died: its sentinel says so below

    def finished(i: int) -> None:
        clock.add(tasks[i], time.monotonic() - started.pop(i, time.monotonic()))

    while pending or busy:
        while pending and len(busy) < jobs:
            i = next_task()
            if i is None:
                break
            conn, child = context.Pipe()
            process = context.Process(target=_worker, args=(child,), daemon=True)
            process.start()
            child.close()
            assign(conn, process, i)
        if not busy:
            break
        ready = wait(list(busy) + [p.sentinel for p, _ in busy.values()])
        for conn in list(busy):
            process, i = busy[conn]
            if conn not in ready and process.sentinel not in ready:
                continue
            try:
                rows = conn.recv() if conn.poll() else None
            except (EOFError, OSError):
                rows = None
            if rows is not None:
                finished(i)
                record(i, rows)
                del busy[conn]
                following = next_task()
                if following is not None:
                    assign(conn, process, following)
                else:
                    conn.send(None)
                    conn.close()
                    process.join(timeout=10)
                continue
            if not process.is_alive():
                finished(i)
                del busy[conn]
                conn.close()
                _died(i, process.exitcode, tasks, deaths, pending, record)


def grade(submissions: Iterable[str | Path], *, out: str | Path | None = None,
          totals_out: str | Path | None = None, lessons_dir: str | Path | None = None,
          cell_timeout: float = 10.0, check_time_limit: float = 10.0,
          check_modules: Sequence[str] = (), jobs: int | None = None, verbose: bool = True,
          seed: int | None = None, lesson: int | None = None, import_timeout: float = 300.0,
          memory_mb: int = 4096, sandbox: bool | None = None, require_sandbox: bool = False,
          on_rows: Callable[[list[Grade]], None] | None = None) -> list[Grade]:
    """Grade every submission (files, or folders searched for ``*.ipynb``).

    ``jobs`` submissions are graded at once (default: the usable cores). Rows are
    appended to ``out`` (CSV) as each submission finishes, its total to ``totals_out``
    (default: ``out`` with ``-totals``), the full messages to ``OUT-feedback/STUDENT.txt``
    and the secret seed to ``OUT-seed.txt`` (the CSV has its fingerprint only).
    ``sandbox``: bubblewrap or not (default: where it works); ``require_sandbox``:
    raise ``RuntimeError`` rather than grade without it. Returns the rows in the order of
    the submissions; other parameters are :func:`grade_notebook`'s.
    """
    import camlib
    from camcourse.coursework._remote import learner_files
    from camcourse.coursework._sandbox import bubblewrap_problem, protect_grader
    from camcourse.paths import NOTEBOOKS_DIR

    start = time.monotonic()
    problem = bubblewrap_problem() if sandbox is not False else "not asked for"
    if require_sandbox and problem:
        raise RuntimeError(f"--require-sandbox: {problem}")
    protect_grader()
    for spec in check_modules:
        _load_check_module(str(spec))
    seed = seed if seed is not None else secrets.randbits(63)
    info = RunInfo(seed, getattr(camlib, "__version__", "unknown"),
                   checks_hash([str(m) for m in check_modules]))
    library = learner_files()  # once: every task grades with it
    found = expand_submissions(submissions)
    tasks = [dict(path=p, name=str(p), student=student, learner=learner_of(p, folder),
                  lessons_dir=Path(lessons_dir) if lessons_dir is not None else NOTEBOOKS_DIR,
                  cell_timeout=cell_timeout, check_time_limit=check_time_limit,
                  check_modules=[str(m) for m in check_modules], seed=seed, lesson=lesson,
                  import_timeout=import_timeout, memory_mb=memory_mb,
                  library=library, sandbox=problem is None, over=over)
             for (p, folder), student, over in zip(found, student_names(found),
                                              over_the_limit(found), strict=True)]
    if out is not None and totals_out is None:
        totals_out = Path(out).with_name(Path(out).stem + "-totals.csv")
    output = _Output(Path(out) if out is not None else None,
                     Path(totals_out) if totals_out is not None else None, info)
    by_index: dict[int, list[Grade]] = {}

    def record(i: int, rows: list[Grade]) -> None:
        by_index[i] = rows
        output.record(rows)
        if on_rows is not None:
            on_rows(rows)

    jobs = default_jobs() if jobs is None else max(1, jobs)
    clock = _LearnerClock()
    try:
        if jobs == 1 or len(tasks) <= 1:
            for i, task in enumerate(tasks):
                rows = clock.over(task)
                if rows is None:
                    begun = time.monotonic()
                    rows = _grade_one(task)
                    clock.add(task, time.monotonic() - begun)
                record(i, rows)
        else:
            _run_tasks(tasks, min(jobs, len(tasks)), record, clock)
    finally:
        output.close()
    grades = [row for i in range(len(tasks)) for row in by_index.get(i, [])]
    if verbose:
        _report(grades, time.monotonic() - start, info, output, problem)
    if checks_hash([str(m) for m in check_modules]) != info.checks_sha256:
        print("warning: the course's check files changed while grading; the grades above were "
              "computed with the checks as they were when grading started", file=sys.stderr)
    return grades


def _report(grades: list[Grade], seconds: float, info: RunInfo, output: _Output,
            problem: str | None) -> None:
    print(summary(grades, seconds, info))
    if problem and problem != "not asked for":
        print(f"isolation: process only, because {problem}")
    if output.seed_file is not None:
        print(f"wrote {output.handles[0].name}, its totals, {output.feedback}/ and the secret "
              f"seed to {output.seed_file} (keep it private)")
