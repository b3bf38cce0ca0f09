"""Honest work never loses a point: the catalogue of tests/honest_variations.py.

In the notebook: each variant cell runs in a real IPython shell (so ``%%time`` and
prints work as in Jupyter), after what the lesson's earlier cells define, and its
function passes the check with the notebook's inputs and with hidden grading inputs.
Under the grader: the lesson's student copy with the exercise cell replaced by the
variant is graded; it must get the exercise's full points.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path

import pytest
from honest_variations import (  # tests/ is on sys.path under pytest
    GRADER_CAUSES,
    VARIANTS,
    Variant,
    notebook,
)

from camlib.checks import get_check

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
    return shell


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
    from camlib.coursework.notebooks import find_exercises, read_notebook

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


def _lesson_path(exercise: str) -> Path:
    lesson = int(exercise.split(".")[0])
    (path,) = sorted((ROOT / "notebooks" / "student").glob(f"{lesson:02d}_*.ipynb"))
    return path


def submission(variant: Variant, folder: Path) -> Path:
    """The lesson's student copy with this exercise's cell replaced by the variant."""
    from camlib.coursework.notebooks import find_exercises

    path = _lesson_path(variant.exercise)
    notebook = json.loads(path.read_text(encoding="utf-8"))
    exercises = {e.number: e for e in find_exercises(notebook)}
    cell = notebook["cells"][exercises[variant.exercise].cell]
    cell["source"] = variant.source
    out = folder / path.name
    out.write_text(json.dumps(copy.deepcopy(notebook)), encoding="utf-8")
    return out


def _grader_cases():
    for variant in VARIANTS:
        marks = []
        if variant.id in GRADER_CAUSES:
            marks.append(pytest.mark.xfail(reason=GRADER_CAUSES[variant.id], strict=False))
        yield pytest.param(variant, id=variant.id, marks=marks)


@pytest.mark.slow
@pytest.mark.parametrize("variant", list(_grader_cases()))
def test_honest_variation_gets_full_marks_from_the_grader(variant, tmp_path):
    from camlib.coursework.grade import grade_notebook

    path = submission(variant, tmp_path)
    rows = grade_notebook(path, lessons_dir=ROOT / "notebooks", seed=20260101,
                          lesson=int(variant.exercise.split(".")[0]))
    (row,) = [r for r in rows if r.exercise == variant.exercise]
    assert row.points == row.max_points > 0, f"{variant.id}: {row.message}"
