"""Student copies and the autograder, on a small test lesson and on the course's lessons.

The test lesson (number 90) has two exercises whose checks live in
tests/fixtures/coursework/fixture_checks.py; its notebooks are generated in tmp_path
(committed .ipynb files under tests/ would be collected by nbval).
"""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import pytest

from camcourse.coursework import find_exercises, grade, read_notebook, release, student_notebook
from camcourse.coursework.__main__ import main as coursework_main
from camcourse.coursework.catalogue import estimated_minutes, update_docs
from camcourse.coursework.nbgrader import nbgrader_notebook
from camcourse.coursework.notebooks import (
    import_statements,
    names_used,
    solution_lines,
    source,
    strip_solutions,
    tags,
)
from camcourse.paths import NOTEBOOKS_DIR, REPO_ROOT

FIXTURES = Path(__file__).parent / "fixtures" / "coursework"
CHECKS = str(FIXTURES / "fixture_checks.py")
COLAB = "https://colab.research.google.com/github/cam-course/cam-course/blob/main/"

# ---------------------------------------------------------------------------
# The test lesson
# ---------------------------------------------------------------------------

POOL = '''\
def average_pool(features):
    """F_k = (1/Z) Σ_{x,y} f_k(x, y): (N, K, H, W) -> (N, K)."""
    ### BEGIN SOLUTION
    return features.mean(axis=(2, 3))
    ### END SOLUTION'''

SCORES = '''\
def class_scores(pooled, weight, bias):
    """S = F Wᵀ + b: (N, K), (C, K), (C,) -> (N, C)."""
    ### BEGIN SOLUTION
    scores = pooled @ weight.T
    return scores + bias
    ### END SOLUTION'''


def md(text: str, *cell_tags: str) -> dict:
    return {"cell_type": "markdown", "metadata": {"tags": list(cell_tags)} if cell_tags else {},
            "source": text.splitlines(keepends=True)}


def code(text: str, *cell_tags: str, **metadata) -> dict:
    meta = dict(metadata)
    if cell_tags:
        meta["tags"] = list(cell_tags)
    return {"cell_type": "code", "execution_count": None, "metadata": meta, "outputs": [],
            "source": text.splitlines(keepends=True)}


def lesson() -> dict:
    cells = [
        md(f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
           f"({COLAB}notebooks/90_fixture.ipynb)", "colab-badge"),
        md("# 90 · A test lesson\n\nSee [the data](../data/README.md), "
           "[lesson 91](91_next.ipynb#top), [the paper](https://arxiv.org/abs/1512.04150) "
           "and <img src=\"figures/pool.png\">."),
        code("import numpy as np\n%matplotlib inline\nimport camcourse.checks", "setup"),
        md("Some text.\n\n### Exercise 90.1: average pooling\n\nWrite `average_pool`."),
        code(POOL, "exercise"),
        code("camcourse.checks.exercise_90_1(average_pool)", "check"),
        code("print(np.ones(2).mean())"),
        md("### Exercise 90.2: class scores\n\nWrite `class_scores`."),
        code(SCORES, "exercise", points=2),
        code("camcourse.checks.exercise_90_2(class_scores)", "check"),
    ]
    cells[4]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["x\n"]}]
    cells[4]["execution_count"] = 3
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}


def with_exercise(notebook: dict, cell: int, text: str) -> dict:
    changed = copy.deepcopy(notebook)
    changed["cells"][cell]["source"] = text.splitlines(keepends=True)
    return changed


def write(notebook: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------------------
# Reading the exercise format
# ---------------------------------------------------------------------------


def test_find_exercises_numbers_points_functions_and_check_cells():
    found = find_exercises(lesson())
    assert [(e.number, e.title, e.cell, e.check_cell, e.points, e.function) for e in found] == [
        ("90.1", "average pooling", 4, 5, 1.0, "average_pool"),
        ("90.2", "class scores", 8, 9, 2.0, "class_scores"),
    ]


def test_strip_solutions_keeps_indentation_and_everything_outside_the_markers():
    text = ("def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    y = x\n    ### END SOLUTION\n"
            "    if y:\n        ### BEGIN SOLUTION\n        return y\n        ### END SOLUTION\n"
            "    return 0\n")
    assert strip_solutions(text, "4.2") == (
        "def f(x):\n    y = 1\n"
        "    # YOUR CODE HERE\n    raise NotImplementedError(\"Exercise 4.2\")\n"
        "    if y:\n        # YOUR CODE HERE\n        raise NotImplementedError(\"Exercise 4.2\")\n"
        "    return 0\n")
    assert solution_lines(text) == ["    y = x", "        return y"]


@pytest.mark.parametrize("text", ["### BEGIN SOLUTION\nx = 1\n", "x = 1\n### END SOLUTION\n",
                                  "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n"])
def test_unbalanced_markers_are_an_error(text):
    with pytest.raises(ValueError, match="SOLUTION"):
        strip_solutions(text, "1.1")


def test_import_statements_come_from_non_exercise_cells_without_magics():
    assert import_statements(lesson()) == ["import numpy as np", "import camcourse.checks"]
    assert import_statements(lesson(), used=names_used(POOL)) == []  # `features.mean` only
    assert import_statements(lesson(), used=names_used("x = np.ones(2)")) == [
        "import numpy as np"]


# ---------------------------------------------------------------------------
# Student copies
# ---------------------------------------------------------------------------


def test_student_copy_of_the_test_lesson():
    original = lesson()
    kept = copy.deepcopy(original)
    student = student_notebook(original)
    assert original == kept  # the lesson itself is untouched
    cells = student["cells"]
    assert source(cells[4]) == (
        'def average_pool(features):\n    """F_k = (1/Z) Σ_{x,y} f_k(x, y): (N, K, H, W) -> '
        '(N, K)."""\n    # YOUR CODE HERE\n    raise NotImplementedError("Exercise 90.1")')
    assert 'raise NotImplementedError("Exercise 90.2")' in source(cells[8])
    for i in (4, 5, 8, 9):
        assert tags(cells[i])[-1] == "raises-exception"
    assert tags(cells[2]) == ["setup"] and tags(cells[6]) == []
    assert all(c["outputs"] == [] and c["execution_count"] is None
               for c in cells if c["cell_type"] == "code")
    assert source(cells[0]).endswith(f"({COLAB}notebooks/student/90_fixture.ipynb)")
    intro = source(cells[1])
    assert "[the data](../../data/README.md)" in intro
    assert "[lesson 91](91_next.ipynb#top)" in intro  # the sibling student copy
    assert "(https://arxiv.org/abs/1512.04150)" in intro
    assert '<img src="../figures/pool.png">' in intro
    assert cells[8]["metadata"]["points"] == 2


def test_a_student_copy_carries_no_hidden_cell_metadata_or_attachment():
    original = lesson()
    original["metadata"].update(answers={"90.1": "features.mean(axis=(2, 3))"},
                                widgets={"state": {}})
    original["cells"][6]["metadata"].update(jupyter={"source_hidden": True}, collapsed=True,
                                            solution="return features.mean(axis=(2, 3))")
    original["cells"][6]["attachments"] = {"a.png": {"image/png": "c29sdXRpb24="}}
    original["cells"][3]["attachments"] = {"shown.png": {"image/png": "eA=="},
                                           "answer.png": {"image/png": "eQ=="}}
    original["cells"][3]["source"] += "\n![a figure](attachment:shown.png)"
    student = student_notebook(original)
    assert student["metadata"] == {"kernelspec": {"name": "python3"}}
    assert student["cells"][6]["metadata"] == {} and "attachments" not in student["cells"][6]
    assert list(student["cells"][3]["attachments"]) == ["shown.png"]
    assert student["cells"][8]["metadata"]["points"] == 2
    assert "mean(axis=(2, 3))" not in json.dumps(student)


def test_a_released_copy_links_to_github_and_not_to_the_answers(tmp_path):
    """Downloaded on its own (or opened on Colab), a student copy's relative links would
    point nowhere: release makes them the linked files' GitHub pages, and leaves out the
    line that links to the answers page."""
    from camcourse.course import Setting

    root = tmp_path / "repo"
    (root / "data").mkdir(parents=True)
    (root / "data" / "README.md").write_text("data\n")
    (root / "docs").mkdir()
    (root / "docs" / "answers.md").write_text("# Answers\n")
    notebook = lesson()
    notebook["cells"][1]["source"] += "\n\nAnswers: [Lesson 90](../docs/answers.md#lesson-90).\n"
    write(notebook, root / "notebooks" / "90_fixture.ipynb")
    write(lesson(), root / "notebooks" / "91_next.ipynb")
    setting = Setting("https://github.com/ada/cam-course", "fall")
    release(root / "notebooks", root / "notebooks" / "student", repo_root=root,
            setting=setting)
    intro = source(read_notebook(root / "notebooks" / "student" / "90_fixture.ipynb")[
        "cells"][1])
    blob = "https://github.com/ada/cam-course/blob/fall/"
    assert f"[the data]({blob}data/README.md)" in intro
    assert f"[lesson 91]({blob}notebooks/student/91_next.ipynb#top)" in intro
    assert "answers" not in intro.lower() and "(https://arxiv.org/abs/1512.04150)" in intro
    assert '<img src="../figures/pool.png">' in intro  # no such file: left as it was


def test_the_committed_student_copies_have_no_relative_link_and_no_answers_link():
    import re

    for path in sorted((NOTEBOOKS_DIR / "student").glob("[0-9][0-9]_*.ipynb")):
        text = "\n".join(source(c) for c in read_notebook(path)["cells"]
                         if c["cell_type"] == "markdown")
        targets = re.findall(r"\]\(([^)\s]+)\)|href=[\"']([^\"']+)", text)
        relative = [t for pair in targets for t in pair
                    if t and not re.match(r"^(https?:|#|attachment:|mailto:)", t)]
        assert relative == [], (path.name, relative)
        assert "answers.md" not in text, path.name


def test_no_solution_line_survives_in_the_test_lesson():
    student_text = json.dumps(student_notebook(lesson()), ensure_ascii=False)
    for line in solution_lines(POOL) + solution_lines(SCORES):
        assert json.dumps(line.strip())[1:-1] not in student_text


def test_exercise_without_markers_or_heading_is_refused():
    leaky = with_exercise(lesson(), 4, "def average_pool(features):\n    return features.mean()")
    with pytest.raises(ValueError, match="no '### BEGIN SOLUTION' marker"):
        student_notebook(leaky)
    headless = copy.deepcopy(lesson())
    headless["cells"][3]["source"] = ["Write it."]
    with pytest.raises(ValueError, match="no '### Exercise N.M: title' heading"):
        student_notebook(headless)


def test_release_then_check_detects_stale_missing_and_leftover_copies(tmp_path, capsys):
    lessons, student = tmp_path / "notebooks", tmp_path / "notebooks" / "student"
    write(lesson(), lessons / "90_fixture.ipynb")
    assert release(lessons, student) == [f"wrote {student / '90_fixture.ipynb'}"]
    assert release(lessons, student, check=True) == []
    assert release(lessons, student) == []  # nothing to rewrite

    # a solution changed: the student copy is the same
    write(with_exercise(lesson(), 4, POOL.replace("mean", "sum")), lessons / "90_fixture.ipynb")
    assert release(lessons, student, check=True) == []
    # the docstring changed: the student copy is stale
    write(with_exercise(lesson(), 4, POOL.replace("(N, K)", "(N, K) array")),
          lessons / "90_fixture.ipynb")
    assert release(lessons, student, check=True) == [
        f"out of step with {lessons / '90_fixture.ipynb'}: {student / '90_fixture.ipynb'}"]
    argv = ["release", "--source", str(lessons), "--check"]
    assert coursework_main(argv) == 1
    assert "out of step" in capsys.readouterr().err

    write(lesson(), student / "91_gone.ipynb")
    (student / "90_fixture.ipynb").unlink()
    assert release(lessons, student, check=True) == [
        f"missing: {student / '90_fixture.ipynb'}", f"no lesson for: {student / '91_gone.ipynb'}"]
    assert coursework_main(["release", "--source", str(lessons)]) == 0
    assert not (student / "91_gone.ipynb").exists()
    assert coursework_main(argv) == 0


def test_nbgrader_metadata_marks_answers_and_locked_tests():
    cells = nbgrader_notebook(lesson())["cells"]
    assert cells[4]["metadata"]["nbgrader"] == {
        "grade": False, "grade_id": "exercise_90_1", "locked": False, "schema_version": 3,
        "solution": True, "task": False}
    assert cells[9]["metadata"]["nbgrader"] == {
        "grade": True, "grade_id": "check_90_2", "locked": True, "points": 2.0,
        "schema_version": 3, "solution": False, "task": False}
    assert "nbgrader" not in cells[6]["metadata"]
    assert "### BEGIN SOLUTION" in source(cells[4])  # nbgrader strips it, not us
    assert cells[4]["outputs"] == []


def test_learner_time_estimate_follows_its_formula():
    notebook = {"cells": [md(" ".join(["word"] * 600)), code("x = 1"), code("y = 2")]}
    assert estimated_minutes(notebook) == 10  # 600/120 + 2 * 0.5 = 6 -> rounded up to 10
    assert estimated_minutes(lesson()) == 25  # 2 exercises: 20 + 6 cells * 0.5 + words


# ---------------------------------------------------------------------------
# The course's own lessons and their committed student copies
# ---------------------------------------------------------------------------

LESSONS = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))


def test_committed_student_copies_are_in_step_with_the_lessons():
    problems = release(NOTEBOOKS_DIR, NOTEBOOKS_DIR / "student", check=True, repo_root=REPO_ROOT)
    assert problems == [], ("student copies out of step; run `python -m camcourse.coursework "
                            "release`:\n" + "\n".join(problems))


@pytest.mark.slow
def test_course_lessons_get_full_marks_and_their_student_copies_zero():
    # Every lesson's solutions; student copies of two lessons (one process each costs ~2 s).
    students = [NOTEBOOKS_DIR / "student" / p.name for p in LESSONS[:1] + LESSONS[-1:]]
    # A fixed secret seed, so that a run can be reproduced (`grade --seed 1`).
    rows = grade(LESSONS + students, lessons_dir=NOTEBOOKS_DIR, jobs=2, seed=1, verbose=False)
    for row in rows:
        solution = Path(row.submission).parent == NOTEBOOKS_DIR
        assert row.max_points > 0
        if solution:
            assert row.points == row.max_points, row
        else:
            assert row.points == 0 and "not attempted yet" in row.message, row
    expected = {e.number for p in LESSONS for e in find_exercises(read_notebook(p))}
    assert {r.exercise for r in rows} == expected


def test_teaching_guide_tables_are_in_step_with_the_lessons():
    changed = update_docs(REPO_ROOT / "docs" / "teaching.md", NOTEBOOKS_DIR, check=True)
    assert not changed, "docs/teaching.md is stale; run `python -m camcourse.coursework docs`"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_no_solution_line_survives_in_a_student_copy(path):
    lesson_nb = read_notebook(path)
    copy_path = NOTEBOOKS_DIR / "student" / path.name
    if not copy_path.exists():
        pytest.fail(f"no student copy of {path.name}; run `python -m camcourse.coursework release`")
    student_cells = [source(c) for c in read_notebook(copy_path)["cells"]]
    # Lines the lesson shows outside its solutions (e.g. `return out`) are not a leak.
    visible = {line.strip() for c in lesson_nb["cells"]
               for line in strip_solutions(source(c), "").splitlines()}
    for exercise in find_exercises(lesson_nb):
        for line in solution_lines(source(lesson_nb["cells"][exercise.cell])):
            line = line.strip()
            if not line or line.startswith("#") or line in visible:
                continue
            for text in student_cells:
                assert line not in text.splitlines() and line not in {
                    t.strip() for t in text.splitlines()}, (
                    f"{copy_path.name}: solution line of exercise {exercise.number} survives: "
                    f"{line!r}")


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_every_lesson_exercise_has_a_check_and_a_function(path):
    import camcourse.checks

    for exercise in find_exercises(read_notebook(path)):
        assert exercise.number, f"{path.name}: exercise cell {exercise.cell} has no heading"
        check = camcourse.checks.get_check(exercise.number)
        assert exercise.check_cell is not None, f"{path.name}: exercise {exercise.number}"
        assert check.function in (None, exercise.function), (
            f"{path.name}: exercise {exercise.number} defines {exercise.function}, "
            f"its check expects {check.function}")


# ---------------------------------------------------------------------------
# The autograder on the test lesson's submissions
# ---------------------------------------------------------------------------

LOOP = '''\
def average_pool(features):
    while True:
        pass'''

TOP_LEVEL_LOOP = SCORES + "\n\nwhile True:\n    pass\n"

CRASH = '''\
import os

def average_pool(features):
    os._exit(3)'''

DEAF = '''\
import signal

def average_pool(features):
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    signal.signal(signal.SIGPROF, signal.SIG_IGN)
    while True:
        pass'''


def _cpu_seconds() -> float:
    """CPU time (user + sys) of this process and of its finished child processes."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade every test submission once; returns (rows by submission name, CPU seconds, CSV)."""
    root = tmp_path_factory.mktemp("coursework")
    lessons = root / "lessons"
    write(lesson(), lessons / "90_fixture.ipynb")
    release(lessons, lessons / "student")
    wrong = with_exercise(lesson(), 4, POOL.replace("mean", "sum"))
    wrong["cells"][4]["metadata"]["points"] = 100  # a learner's own points are ignored
    no_checks = copy.deepcopy(lesson())
    del no_checks["cells"][9], no_checks["cells"][5]
    subs = root / "submissions"
    paths = {
        "solution": write(lesson(), subs / "solution.ipynb"),
        "student": write(read_notebook(lessons / "student" / "90_fixture.ipynb"),
                         subs / "student.ipynb"),
        "one_wrong": write(wrong, subs / "one_wrong.ipynb"),
        "infinite_loop": write(with_exercise(lesson(), 4, LOOP), subs / "infinite_loop.ipynb"),
        "top_level_loop": write(with_exercise(lesson(), 8, TOP_LEVEL_LOOP),
                                subs / "top_level_loop.ipynb"),
        "no_check_cells": write(no_checks, subs / "no_check_cells.ipynb"),
        "crash": write(with_exercise(lesson(), 4, CRASH), subs / "crash.ipynb"),
        "deaf_to_alarms": write(with_exercise(lesson(), 4, DEAF), subs / "deaf_to_alarms.ipynb"),
    }
    untagged = copy.deepcopy(lesson())
    for cell in untagged["cells"]:
        cell["metadata"] = {"colab": {"id": "x"}}  # an editor that drops tags
    paths["untagged"] = write(untagged, subs / "Copy of 90_fixture.ipynb")
    broken = subs / "90_not_json.ipynb"
    broken.write_text(json.dumps(lesson())[:500], encoding="utf-8")
    paths["not_json"] = broken
    out = root / "grades.csv"
    before = _cpu_seconds()
    rows = grade([subs], out=out, lessons_dir=lessons, cell_timeout=2.0, check_time_limit=1.0,
                 check_modules=[CHECKS], jobs=2, verbose=False)
    seconds = _cpu_seconds() - before
    by_name = {name: [r for r in rows if r.submission == str(p)] for name, p in paths.items()}
    return by_name, seconds, out


def scores(rows) -> list[tuple[str, float, float]]:
    return [(r.exercise, r.points, r.max_points) for r in rows]


@pytest.mark.slow
def test_solution_gets_full_marks(graded):
    rows = graded[0]["solution"]
    assert scores(rows) == [("90.1", 1, 1), ("90.2", 2, 2)]
    assert rows[0].message == "✔ Exercise 90.1 passed: F_k is the mean of f_k"


def test_released_student_copy_gets_zero(graded):
    rows = graded[0]["student"]
    assert scores(rows) == [("90.1", 0, 1), ("90.2", 0, 2)]
    assert all("not attempted yet" in r.message for r in rows)


def test_one_wrong_exercise_loses_exactly_its_points(graded):
    rows = graded[0]["one_wrong"]
    assert scores(rows) == [("90.1", 0, 1), ("90.2", 2, 2)]
    assert "Z = H·W = 16 times too large" in rows[0].message


def test_infinite_loop_in_the_function_is_stopped_by_the_check(graded):
    rows = graded[0]["infinite_loop"]
    assert scores(rows) == [("90.1", 0, 1), ("90.2", 2, 2)]
    assert "did not finish within the time limit of 1 s" in rows[0].message


def test_infinite_loop_at_the_top_of_a_cell_is_stopped_and_noted_and_the_function_graded(
        graded):
    """A demo loop below a right function runs out of the cell's CPU time: it is stopped,
    as a learner interrupts a demo, the row notes it, and the function keeps its points."""
    rows = graded[0]["top_level_loop"]
    assert scores(rows) == [("90.1", 1, 1), ("90.2", 2, 2)]
    assert "the statement ran out of CPU time" in rows[1].message
    assert "note:" in rows[1].message


def test_deleted_check_cells_change_nothing(graded):
    assert scores(graded[0]["no_check_cells"]) == [("90.1", 1, 1), ("90.2", 2, 2)]


def test_a_crashing_process_loses_one_exercise_and_the_rest_is_graded(graded):
    rows = graded[0]["crash"]
    assert scores(rows) == [("90.1", 0, 1), ("90.2", 2, 2)]
    assert "exited with status 3" in rows[0].message


def test_a_hung_process_is_killed_and_the_rest_is_graded(graded):
    rows = graded[0]["deaf_to_alarms"]
    assert scores(rows) == [("90.1", 0, 1), ("90.2", 2, 2)]
    assert "did not finish within the time limit" in rows[0].message


def test_exercise_cells_whose_tags_were_lost_are_found_by_their_function(graded):
    assert scores(graded[0]["untagged"]) == [("90.1", 1, 1), ("90.2", 2, 2)]


def test_a_file_that_is_not_json_gets_zero_for_its_lesson(graded):
    rows = graded[0]["not_json"]
    assert scores(rows) == [("90.1", 0, 1), ("90.2", 0, 2)]
    assert "not valid JSON" in rows[0].message


def test_csv_has_one_row_per_submission_and_exercise(graded):
    by_name, _, out = graded
    with open(out, newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert list(table[0]) == ["student", "lesson", "submission", "exercise", "points",
                              "max_points", "passed", "message", "isolation", "seed_sha256",
                              "camlib_version", "checks_sha256"]
    assert {r["lesson"] for r in table} == {"90"}
    assert len({r["seed_sha256"] for r in table}) == 1
    assert len(table) == 2 * len(by_name)
    solution = [r for r in table if r["submission"].endswith("solution.ipynb")]
    assert [(r["exercise"], r["points"], r["max_points"]) for r in solution] == [
        ("90.1", "1", "1"), ("90.2", "2", "2")]


def test_grading_cpu_time_stays_within_the_limits(graded):
    # 10 submissions, ~1-3 s of CPU each (a learner process importing NumPy, the checks);
    # the process that ignores its CPU alarm may spin until it is killed (3 × 1 s + 10 s).
    assert graded[1] < 90
