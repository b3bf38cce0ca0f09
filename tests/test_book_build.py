"""book/build.py: how a lesson's exercises are shown in each edition of the site."""

from __future__ import annotations

import importlib.util
import json

import nbformat
import pytest

from camcourse import paths


def _build_module():
    path = paths.REPO_ROOT / "book" / "build.py"
    spec = importlib.util.spec_from_file_location("book_build", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lesson(folder, source: str):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    path = folder / "01_lesson.ipynb"
    nbformat.write(notebook, path)
    return path


@pytest.mark.slow
def test_a_cell_that_never_answers_fails_the_build(tmp_path, monkeypatch):
    from nbclient.exceptions import CellTimeoutError

    build = _build_module()
    monkeypatch.setattr(build, "CELL_TIMEOUT_S", 2)
    with pytest.raises(CellTimeoutError):
        build.execute(_lesson(tmp_path, "import time\ntime.sleep(60)"), tmp_path / "out.ipynb")


def _exercise_pair():
    lesson = nbformat.v4.new_notebook()
    solved = "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION"
    lesson.cells = [nbformat.v4.new_markdown_cell("### Exercise 1.1: f"),
                    nbformat.v4.new_code_cell(solved), nbformat.v4.new_code_cell("check(f)")]
    student = json.loads(json.dumps(lesson))
    student["cells"][1]["source"] = "def f(x):\n    raise NotImplementedError('Exercise 1.1')"
    return json.loads(nbformat.writes(lesson)), student


def test_the_full_edition_folds_the_solution_after_the_starting_code():
    build = _build_module()
    lesson, student = _exercise_pair()
    assert build.show_exercises_as_students_start(lesson, student, "full") == 1
    sources = ["".join(c["source"]) for c in lesson["cells"]]
    assert "NotImplementedError" in sources[1] and "BEGIN SOLUTION" not in sources[1]
    assert sources[2].startswith("````{admonition} Solution\n:class: dropdown")
    assert "return x" in sources[2] and sources[3] == "check(f)"


def test_the_student_edition_leaves_the_solution_out():
    build = _build_module()
    lesson, student = _exercise_pair()
    assert build.show_exercises_as_students_start(lesson, student, "student") == 1
    assert "return x" not in json.dumps(lesson) and len(lesson["cells"]) == 3


def test_figure_alt_texts_are_keyed_by_the_image_hash_that_myst_nb_uses():
    import base64
    import hashlib

    build = _build_module()
    png = b"\x89PNG fake bytes"
    output = {"output_type": "display_data", "data": {"image/png": base64.b64encode(
        png).decode()}, "metadata": {"image/png": {"alt": "Two bars; the left one is taller."}}}
    notebook = {"cells": [{"cell_type": "code", "outputs": [output]}]}
    assert build.image_alt_texts(notebook) == {
        hashlib.sha256(png).hexdigest(): "Two bars; the left one is taller."}


def test_download_names_tell_the_student_copy_apart():
    build = _build_module()
    lesson = paths.REPO_ROOT / "notebooks" / "04_swapping_the_sums.ipynb"
    assert build.download_name(lesson, True) == "04_swapping_the_sums.student.ipynb"
    assert build.download_name(lesson, False) == "04_swapping_the_sums.ipynb"


def _widget_notebook(cell_metadata: dict) -> dict:
    """A cell whose `interact` output is a box holding a slider, a dropdown and an Output
    widget that captured one PNG, as nbclient stores it in the notebook's widget state."""
    build = _build_module()
    png = {"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo="}, "metadata": {}}
    state = {
        "box": {"state": {"children": ["IPY_MODEL_slider", "IPY_MODEL_menu", "IPY_MODEL_out"]}},
        "slider": {"state": {"description": "image", "value": 3}},
        "menu": {"state": {"description": "class c", "value": 1, "_options_labels": ["0", "4"]}},
        "out": {"state": {"outputs": [png]}},
    }
    view = {"output_type": "display_data", "metadata": {},
            "data": {build.WIDGET_VIEW: {"model_id": "box"}}}
    return {"metadata": {"widgets": {build.WIDGET_STATE: {"state": state}}},
            "cells": [{"cell_type": "code", "metadata": cell_metadata, "outputs": [view]}]}


def test_a_widget_still_gets_alt_text_naming_the_setting_it_was_drawn_at():
    build = _build_module()
    notebook = _widget_notebook({})
    assert build.widgets_to_stills(notebook) == 1
    still, note = notebook["cells"][0]["outputs"]
    alt = still["metadata"]["image/png"]["alt"]
    assert "image = 3" in alt and "class c = 4" in alt, alt
    assert "widget-note" in note["data"]["text/html"]
    assert list(build.image_alt_texts(notebook).values()) == [alt]


def test_a_widget_cell_can_give_its_still_its_own_alt_text():
    build = _build_module()
    notebook = _widget_notebook({"alt": "The map of class 4 over image 3."})
    build.widgets_to_stills(notebook)
    still = notebook["cells"][0]["outputs"][0]
    assert still["metadata"]["image/png"]["alt"] == "The map of class 4 over image 3."


def test_the_student_edition_leaves_out_the_lines_that_link_to_the_answers():
    build = _build_module()
    root = paths.REPO_ROOT
    lesson = root / "notebooks" / "04_swapping_the_sums.ipynb"
    text = ("7. Why must the predicted class be chosen with the bias?\n\n"
            "Answers: [Lesson 04: swapping the sums](../docs/answers.md#lesson-04).\n\n"
            "## Exercises, see [x](#y).\n")
    hidden = frozenset({(root / "docs" / "answers.md").resolve()})
    new = build.relink(text, lesson, root / "build" / "x" / lesson.name, {}, hidden=hidden)
    assert new == ("7. Why must the predicted class be chosen with the bias?\n\n\n"
                   "## Exercises, see [x](#y).\n")
    full = build.relink(text, lesson, root / "build" / "x" / lesson.name, {})
    assert "Answers: [Lesson 04" in full


def test_every_lesson_and_the_readme_put_their_answers_link_on_a_line_of_its_own():
    """The student edition drops a line that links to the answers page: such a line must
    hold nothing else, or a sentence would go with it."""
    build = _build_module()
    root = paths.REPO_ROOT
    hidden = frozenset({(root / "docs" / "answers.md").resolve()})
    sources = [root / "README.md", *sorted((root / "docs").glob("*.md")),
               *sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))]
    lines = []
    for path in sources:
        if path.suffix == ".ipynb":
            text = "\n".join("".join(c["source"]) for c in json.loads(
                path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "markdown")
        else:
            text = path.read_text(encoding="utf-8")
        staged = root / "build" / "x" / path.name
        full = build.relink(text, path, staged, {}).splitlines()
        kept = set(build.relink(text, path, staged, {}, hidden=hidden).splitlines())
        lines += [(path.name, line) for line in full if line not in kept]
    lessons = sorted(p.name for p in (root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(name for name, _ in lines if name.endswith(".ipynb")) == lessons
    for name, line in lines:
        rest = build.MARKDOWN_LINK.sub("", line).strip(" .-*")
        assert rest in ("", "Answers:", "The answers to the end-of-lesson questions are on"), (
            name, line)


def test_a_link_to_a_repository_file_becomes_its_github_page():
    build = _build_module()
    root = paths.REPO_ROOT
    from camcourse.course import load_setting

    setting = load_setting()
    text = "See [Contributing](CONTRIBUTING.md) and [the lessons](notebooks/)."
    new = build.relink(text, root / "README.md", root / "build" / "x" / "index.md", {}, setting)
    assert f"[Contributing]({setting.repo_url}/blob/{setting.branch}/CONTRIBUTING.md)" in new
    assert "https:/github" not in new


def test_the_doctrees_are_written_beside_the_site_not_inside_it(tmp_path):
    build = _build_module()
    command = build.sphinx_command(tmp_path / "src", tmp_path / "book")
    assert command[-1] == str(tmp_path / "book" / "html")
    doctrees = command[command.index("-d") + 1]
    assert doctrees == str(tmp_path / "book" / "doctrees")


def test_the_full_lesson_for_download_links_to_github_not_to_a_missing_folder():
    """Downloaded on its own, the lesson has no ../docs beside it: its links to the
    repository's files (the answers among them, in this edition) point at GitHub."""
    from camcourse.course import Setting
    from camcourse.coursework.notebooks import source

    build = _build_module()
    setting = Setting("https://github.com/ada/cam-course", "fall")
    for lesson in sorted((paths.REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        original = json.loads(lesson.read_text(encoding="utf-8"))
        shipped = build.downloadable_lesson(lesson, setting)
        texts = [source(c) for c in shipped["cells"] if c["cell_type"] == "markdown"]
        assert not any("](../" in text for text in texts), lesson.name
        assert len(shipped["cells"]) == len(original["cells"])
        if any("../docs/answers.md" in source(c) for c in original["cells"]):
            assert any("](https://github.com/ada/cam-course/blob/fall/docs/answers.md#lesson-"
                       in text for text in texts), lesson.name
        code = [source(c) for c in shipped["cells"] if c["cell_type"] == "code"]
        assert code == [source(c) for c in original["cells"] if c["cell_type"] == "code"]


def test_a_relative_out_folder_is_made_absolute(tmp_path, monkeypatch):
    """Sphinx reads the static path from book/ (conf.py's folder): a relative --out would
    point it at book/build/book-src/_static, which does not exist."""
    build = _build_module()
    monkeypatch.chdir(tmp_path)
    out, staged, cache = build.folders(build.Path("site/book"), "student")
    assert out == tmp_path / "site" / "book"
    assert staged == tmp_path / "site" / "book-src"
    assert cache == tmp_path / "site" / "book-cache" / "student"


def test_a_lesson_page_badge_opens_the_exercises_and_downloads_have_distinct_names():
    from camcourse.course import Setting, colab_url

    build = _build_module()
    setting = Setting("https://github.com/ada/cam-course", "main")
    lesson = paths.REPO_ROOT / "notebooks" / "04_swapping_the_sums.ipynb"
    full = build._links_cell(lesson, setting, "full")
    student_colab = colab_url("notebooks/student/04_swapping_the_sums.ipynb", setting)
    assert full.startswith("[![Open the exercises in Colab](../_static/open-in-colab.svg)]"
                           f"({student_colab})")
    assert colab_url("notebooks/04_swapping_the_sums.ipynb", setting) in full
    assert "<../_notebooks/04_swapping_the_sums.student.ipynb>" in full
    assert "<../_notebooks/04_swapping_the_sums.ipynb>" in full
    student = build._links_cell(lesson, setting, "student")
    assert student.startswith(f"[![Open the exercises in Colab](../_static/open-in-colab.svg)]"
                              f"({student_colab})")
    assert "solutions" not in student and "<../_notebooks/04_swapping_the_sums.ipynb>" \
        not in student
    for line in (full, student):  # the way to open it at home, with its page of the site
        assert line.endswith(" · in JupyterLab on your computer ([get started]"
                             "(../get-started.md)): `notebooks/student/04_swapping_the_sums.ipynb`")


def test_every_interactive_figure_describes_its_still_for_the_website():
    """The site shows a widget as a still image: its figure's alt text comes from
    ``viz.show(caption, alt)`` inside the widget, or else from the cell's ``alt`` metadata
    (the generic text would name only the controls)."""
    lessons = sorted((paths.REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    widgets, missing = 0, []
    for lesson in lessons:
        for cell in json.loads(lesson.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code" and "interact(" in "".join(cell["source"]):
                widgets += 1
                alt = cell["metadata"].get("alt", "")
                if "viz.show(" not in "".join(cell["source"]) and len(alt.split()) < 12:
                    missing.append(lesson.name)
    assert widgets >= 4 and missing == [], missing


def test_the_student_edition_shows_its_student_copies_executed_not_the_lessons():
    build = _build_module()
    lesson = paths.REPO_ROOT / "notebooks" / "04_swapping_the_sums.ipynb"
    assert build.executed_notebook(lesson, "full") == lesson
    assert build.executed_notebook(lesson, "student") == (
        paths.REPO_ROOT / "notebooks" / "student" / lesson.name)
    with pytest.raises(ValueError, match="edition"):
        build.executed_notebook(lesson, "teacher")


def test_a_student_copy_link_to_the_repository_becomes_a_page_of_the_site():
    """A student copy links to the repository's files on GitHub (it may be downloaded on
    its own); on the site a link to a file the site has is a link to its page, and a line
    that links to the answers page is dropped."""
    from camcourse.course import Setting

    build = _build_module()
    root = paths.REPO_ROOT
    setting = Setting("https://github.com/ada/cam-course", "fall")
    copy = root / "notebooks" / "student" / "04_swapping_the_sums.ipynb"
    staged = root / "build" / "x" / "lessons" / "04_swapping_the_sums.ipynb"
    results = (root / "docs" / "results.md").resolve()
    pages = {results: root / "build" / "x" / "results.md"}
    blob = "https://github.com/ada/cam-course/blob/fall/"
    text = (f"See [the results]({blob}docs/results.md#top) and [the code]({blob}camlib/"
            f"reference.py).\nAnswers: [04]({blob}docs/answers.md#lesson-04).\n"
            "[other](https://github.com/ada/other/blob/fall/docs/results.md)\n")
    hidden = frozenset({(root / "docs" / "answers.md").resolve()})
    new = build.relink(text, copy, staged, pages, setting, hidden)
    assert new == ("See [the results](../results.md#top) and [the code]("
                   f"{blob}camlib/reference.py).\n"
                   "[other](https://github.com/ada/other/blob/fall/docs/results.md)\n")


def test_the_lines_the_student_edition_drops_for_the_teachers_guide_are_whole_sentences():
    """The student edition leaves out the teacher's guide (its table of exercises all but
    states some answers) and every line linking to it: each such line must be a sentence
    of its own, so that no paragraph loses half a sentence."""
    build = _build_module()
    root = paths.REPO_ROOT
    assert build.TEACHERS_ONLY == ("answers.md", "teaching.md")
    hidden = frozenset({(root / "docs" / "teaching.md").resolve()})
    dropped = []
    for path in (root / "README.md", *sorted((root / "docs").glob("*.md"))):
        text = path.read_text(encoding="utf-8")
        staged = root / "build" / "x" / path.name
        full = build.relink(text, path, staged, {}).splitlines()
        kept = build.relink(text, path, staged, {}, hidden=hidden).splitlines()
        gone = [i for i, line in enumerate(full) if line not in set(kept)]
        for i in gone:
            dropped.append(full[i])
            before = full[i - 1].strip() if i else ""
            after = full[i + 1].strip() if i + 1 < len(full) else ""
            assert full[i].strip().endswith("."), (path.name, full[i])
            assert before == "" or before.endswith((".", ":")) or before.startswith("#"), (
                path.name, before)
            assert not after[:1].islower(), (path.name, after)
    assert any("Teaching with the CAM course" in line for line in dropped)
