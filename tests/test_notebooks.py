"""Every lesson notebook follows the course's conventions (COURSE.md, "Every notebook").

These are static checks on the committed .ipynb files; `make test` also executes every
notebook under nbval.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from camcourse.course import load_setting
from camcourse.coursework.colab import (
    BADGE_CELL_TAG,
    SETUP_CELL_TAG,
    badge_markdown,
    setup_cell_source,
)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

EXERCISE_HEADING = re.compile(r"^### Exercise (\d+)\.(\d+): \S", re.M)
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
# Widgets common to ipywidgets 7.7 (Colab) and 8.
WIDGETS_7_AND_8 = {"interact", "interactive", "fixed", "IntSlider", "FloatSlider", "Dropdown",
                   "Checkbox", "RadioButtons", "ToggleButtons", "SelectionSlider", "Layout",
                   "HBox", "VBox", "Output", "Text", "Label", "IntText", "FloatText"}


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def _code(notebook: dict) -> list[str]:
    return [_source(c) for c in notebook["cells"] if c["cell_type"] == "code"]


def _lesson_number(path: Path) -> int:
    return int(path.name[:2])


def _exercises(notebook: dict) -> list[tuple[int, str, dict, dict]]:
    """(index of the heading cell, "N.M", exercise cell, check cell) for every exercise."""
    cells = notebook["cells"]
    found = []
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        match = EXERCISE_HEADING.search(_source(cell))
        if match:
            exercise = cells[index + 1] if index + 1 < len(cells) else {}
            check = cells[index + 2] if index + 2 < len(cells) else {}
            found.append((index, f"{match.group(1)}.{match.group(2)}", exercise, check))
    return found


def test_there_are_lesson_notebooks():
    names = [p.name for p in NOTEBOOKS]
    for expected in ["00_setup.ipynb", "01_feature_maps.ipynb", "02_pooling.ipynb",
                     "03_scores_and_softmax.ipynb", "04_swapping_the_sums.ipynb",
                     "05_seeing_cams.ipynb"]:
        assert expected in names


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.name)
def notebook(request) -> tuple[Path, dict]:
    return request.param, _load(request.param)


def test_badge_title_and_setup_cells_are_in_step_with_the_colab_setting(notebook):
    path, nb = notebook
    cells = nb["cells"]
    assert cells[0]["cell_type"] == "markdown" and BADGE_CELL_TAG in _tags(cells[0])
    assert _source(cells[0]) == badge_markdown(path.relative_to(ROOT), load_setting()), (
        f"{path.name}: badge out of step; run python -m camcourse.coursework publish")
    assert cells[1]["cell_type"] == "markdown" and _source(cells[1]).startswith("# ")
    first_code = next(c for c in cells if c["cell_type"] == "code")
    assert first_code is cells[2] and SETUP_CELL_TAG in _tags(first_code)
    assert _source(first_code) == setup_cell_source(load_setting()), (
        f"{path.name}: set-up cell out of step; run python -m camcourse.coursework publish")


def test_intro_says_what_the_learner_will_be_able_to_do(notebook):
    path, nb = notebook
    assert "you will be able to" in _source(nb["cells"][1]), path.name


def test_no_outputs_and_no_execution_counts(notebook):
    path, nb = notebook
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, path.name


def test_no_hard_coded_cuda(notebook):
    path, nb = notebook
    for source in _code(nb):
        assert ".cuda(" not in source, f"{path.name}: use `device`, never .cuda()"
        assert "device=\"cuda\"" not in source and "device='cuda'" not in source, path.name


def test_equations_are_checked_by_asserts(notebook):
    path, nb = notebook
    lesson_code = "\n".join(_source(c) for c in nb["cells"] if c["cell_type"] == "code"
                            and "exercise" not in _tags(c) and "check" not in _tags(c))
    asserts = len(re.findall(r"assert_allclose|assert_close|assert_array_equal|^\s*assert ",
                             lesson_code, re.M))
    assert asserts >= 1, f"{path.name} checks no equation"


def test_seeds_are_set(notebook):
    path, nb = notebook
    code = "\n".join(_code(nb))
    assert re.search(r"manual_seed\(|default_rng\(|seed=", code), f"{path.name} sets no seed"


def test_only_widgets_common_to_ipywidgets_7_and_8(notebook):
    path, nb = notebook
    code = "\n".join(_code(nb))
    used = set(re.findall(r"\bwidgets\.(\w+)", code))
    used |= {n.strip() for line in re.findall(r"from ipywidgets import ([\w, ]+)", code)
             for n in line.split(",")}
    assert used <= WIDGETS_7_AND_8, f"{path.name} uses {sorted(used - WIDGETS_7_AND_8)}"


def test_ends_with_summary_exercises_and_further_reading(notebook):
    path, nb = notebook
    markdown = "\n".join(_source(c) for c in nb["cells"] if c["cell_type"] == "markdown")
    positions = [markdown.find(f"\n## {h}") for h in ("Summary", "Exercises", "Further reading")]
    assert all(p >= 0 for p in positions), f"{path.name}: missing a closing section"
    assert positions == sorted(positions), f"{path.name}: closing sections out of order"
    reading = markdown[positions[2]:]
    for reference in ("Learning Deep Features for", "Grad-CAM", "Choe"):
        assert reference in reading, f"{path.name}: Further reading lacks {reference}"


def test_exercises_follow_the_course_format(notebook):
    path, nb = notebook
    exercises = _exercises(nb)
    assert 2 <= len(exercises) <= 4, f"{path.name} has {len(exercises)} exercises"
    numbers = [number for _, number, _, _ in exercises]
    lesson = _lesson_number(path)
    assert numbers == [f"{lesson}.{m}" for m in range(1, len(numbers) + 1)], numbers
    for _, number, exercise, check in exercises:
        assert exercise.get("cell_type") == "code" and "exercise" in _tags(exercise), number
        source = _source(exercise)
        assert source.count(BEGIN) == 1 and source.count(END) == 1, number
        head, body = source.split(BEGIN)
        assert re.search(r"^def \w+\(", head, re.M), f"{number}: signature inside the markers"
        assert '"""' in head, f"{number}: the docstring must stay outside the markers"
        assert body.index(END) > 0
        assert check.get("cell_type") == "code" and "check" in _tags(check), number
        call = f"camcourse.checks.exercise_{number.replace('.', '_')}("
        assert call in _source(check), f"{number}: the check cell must call {call}...)"


def test_no_stray_exercise_or_check_cells(notebook):
    path, nb = notebook
    paired = {id(e) for _, _, e, _ in _exercises(nb)} | {id(c) for _, _, _, c in _exercises(nb)}
    for cell in nb["cells"]:
        if {"exercise", "check"} & set(_tags(cell)):
            assert id(cell) in paired, f"{path.name}: an exercise/check cell without a heading"


def test_student_copy_of_each_exercise_still_compiles(notebook):
    path, nb = notebook
    for _, number, exercise, _ in _exercises(nb):
        source = _source(exercise)
        start, stop = source.index(BEGIN), source.index(END) + len(END)
        indent = source[:start].rsplit("\n", 1)[-1]
        student = (source[:start] + f'raise NotImplementedError("Exercise {number}")'
                   + source[stop:])
        assert indent.strip() == "", f"{number}: markers must start their own line"
        compile(student, f"{path.name}:{number}", "exec")


def test_lesson_code_never_calls_the_learners_function(notebook):
    path, nb = notebook
    cells = nb["cells"]
    for index, number, exercise, _ in _exercises(nb):
        name = re.search(r"^def (\w+)\(", _source(exercise), re.M).group(1)
        # A bare call (not camlib's `reference.name(` or `torch.name(`) after the check.
        pattern = re.compile(rf"(?<![\w.]){name}\s*\(")
        for later in cells[index + 3:]:
            if later["cell_type"] == "code" and "check" not in _tags(later):
                assert not pattern.search(_source(later)), (
                    f"{path.name}: lesson code after exercise {number} calls the learner's "
                    f"{name}(); use camlib's function so a student copy still runs")
