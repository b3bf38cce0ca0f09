"""Honest work never loses a point: the catalogue of tests/honest_variations.py.

In the notebook: each variant cell runs in a real IPython shell (so ``%%time`` and
prints work as in Jupyter), after what the lesson's earlier cells define, and its
function passes the check with the notebook's inputs and with hidden grading inputs.
Under the grader: the lesson's student copy with each exercise cell replaced by one of
its variants is graded (four notebooks a lesson); each variant must get its exercise's
full points, and each honest layout (a helper or import between a cell and its check, a
fix checked again at the end, ...) of lessons 00 and 04 keeps every point.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from honest_variations import (  # tests/ is on sys.path under pytest
    GRADER_CAUSES,
    LAYOUTS,
    NOTE_FREE_LAYOUTS,
    VARIANTS,
    Variant,
    notebook,
)

from camcourse.checks import get_check

ROOT = Path(__file__).resolve().parents[1]
HIDDEN_SEEDS = (1, 20260101)


def _number(exercise: str) -> tuple[int, ...]:
    return tuple(int(p) for p in exercise.split("."))


@pytest.fixture(scope="module")
def shell():
    interactiveshell = pytest.importorskip("IPython.core.interactiveshell")
    import matplotlib

    matplotlib.use("Agg")
    shell = interactiveshell.InteractiveShell.instance()
    shell.baseline = set(shell.user_ns)  # IPython's own names (In, Out, get_ipython, ...)
    yield shell
    interactiveshell.InteractiveShell.clear_instance()  # later tests must find no IPython


def _run_variant(shell, variant: Variant):
    from IPython.utils.capture import capture_output

    name = get_check(variant.exercise).function
    for key in set(shell.user_ns) - shell.baseline:  # only what this lesson defines
        del shell.user_ns[key]
    with capture_output():
        setup = shell.run_cell(notebook(int(variant.exercise.split(".")[0])))
        assert setup.success, setup.error_in_exec
        result = shell.run_cell(variant.source)
    assert result.success, f"{variant.id}: the cell raised {result.error_in_exec!r}"
    return shell.user_ns[name]


def test_every_exercise_has_three_honest_variations():
    from camcourse.coursework.notebooks import find_exercises, read_notebook

    course = {e.number for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
              for e in find_exercises(read_notebook(path)) if e.number}
    counts = Counter(v.exercise for v in VARIANTS)
    assert set(counts) == course, course ^ set(counts)
    assert len(course) == 31
    assert min(counts.values()) >= 3, counts
    assert len({v.id for v in VARIANTS}) == len(VARIANTS)


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.id)
def test_honest_variation_passes_the_notebooks_check_and_the_hidden_one(shell, variant):
    fn = _run_variant(shell, variant)
    check = get_check(variant.exercise)
    result = check(fn, verbose=False, raise_on_fail=False)
    assert result.passed, f"{variant.id}: {result.message}"
    for seed in HIDDEN_SEEDS:
        result = check(fn, verbose=False, raise_on_fail=False, hidden_seed=seed)
        assert result.passed, f"{variant.id} (hidden seed {seed}): {result.message}"


# --- under the grader -------------------------------------------------------------------


def _round(variant: Variant) -> int:
    """Which of its exercise's variants this is (0, 1, 2, ...)."""
    return [v for v in VARIANTS if v.exercise == variant.exercise].index(variant)


def submission(lesson: int, round_: int, folder: Path) -> Path:
    """Lesson ``lesson``'s student copy with every exercise cell replaced by its variant
    number ``round_``: one graded notebook covers one variant of each exercise."""
    from camcourse.coursework.notebooks import find_exercises

    (path,) = sorted((ROOT / "notebooks" / "student").glob(f"{lesson:02d}_*.ipynb"))
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for exercise in find_exercises(notebook):
        chosen = [v for v in VARIANTS if v.exercise == exercise.number]
        if round_ < len(chosen):  # a later round covers some exercises only
            notebook["cells"][exercise.cell]["source"] = chosen[round_].source
    out = folder / f"round{round_}" / path.name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(notebook), encoding="utf-8")
    return out


_GRADED: dict[tuple[int, int], dict[str, object]] = {}


def _grader_row(variant: Variant, folder: Path):
    from camcourse.coursework.grade import grade_notebook

    lesson = int(variant.exercise.split(".")[0])
    key = (lesson, _round(variant))
    if key not in _GRADED:
        rows = grade_notebook(submission(lesson, key[1], folder), lessons_dir=ROOT / "notebooks",
                              seed=20260101, lesson=lesson)
        _GRADED[key] = {row.exercise: row for row in rows}
    return _GRADED[key][variant.exercise]


def _grader_cases():
    for variant in VARIANTS:
        marks = []
        if variant.id in GRADER_CAUSES:
            marks.append(pytest.mark.xfail(reason=GRADER_CAUSES[variant.id], strict=False))
        yield pytest.param(variant, id=variant.id, marks=marks)


@pytest.mark.slow
@pytest.mark.parametrize("variant", list(_grader_cases()))
def test_honest_variation_gets_full_marks_from_the_grader(variant, tmp_path_factory):
    row = _grader_row(variant, tmp_path_factory.getbasetemp())
    assert row.points == row.max_points > 0, f"{variant.id}: {row.message}"


def _solved(lesson: int) -> dict:
    """Lesson ``lesson``'s student copy with the lesson's own solution in each exercise cell."""
    from camcourse.coursework.notebooks import find_exercises, read_notebook, source

    (path,) = sorted((ROOT / "notebooks" / "student").glob(f"{lesson:02d}_*.ipynb"))
    (lesson_path,) = sorted((ROOT / "notebooks").glob(f"{lesson:02d}_*.ipynb"))
    solution = read_notebook(lesson_path)
    nb = read_notebook(path)
    for mine, theirs in zip(find_exercises(nb), find_exercises(solution), strict=True):
        nb["cells"][mine.cell]["source"] = source(solution["cells"][theirs.cell])
    return nb


@pytest.mark.slow
@pytest.mark.parametrize("lesson", [0, 4])
@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda f: f.__name__)
def test_honest_layout_keeps_full_marks(layout, lesson, tmp_path):
    from camcourse.coursework.grade import grade_notebook
    from camcourse.coursework.notebooks import find_exercises

    nb = _solved(lesson)
    layout(nb, [e.cell for e in find_exercises(nb)])
    path = tmp_path / f"{lesson:02d}_layout.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    rows = grade_notebook(path, lessons_dir=ROOT / "notebooks", seed=20260101)
    assert rows and all(r.points == r.max_points > 0 for r in rows), \
        [(r.exercise, r.message) for r in rows if r.points != r.max_points]
    if layout in NOTE_FREE_LAYOUTS:  # a passed row says only that it passed
        assert all("note" not in r.message and "failed" not in r.message for r in rows), \
            [r.message for r in rows]
