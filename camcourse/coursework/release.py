"""Student copies of the lessons: ``notebooks/NN_*.ipynb`` -> ``notebooks/student/NN_*.ipynb``.

A student copy is the lesson with each solution region (between ``### BEGIN SOLUTION``
and ``### END SOLUTION``, markers included) replaced by::

    # YOUR CODE HERE
    raise NotImplementedError("Exercise N.M")

at the marker's indentation; the ``exercise`` and ``check`` cells tagged
``raises-exception`` (so nbval runs the copy end to end); outputs and execution counts
cleared; Colab links pointing at the student copy; relative links re-rooted one folder
down, and, where the repository is known (``release``), made into the linked files' pages
on GitHub, so that they hold in a copy downloaded on its own, with the lines that link to
the answers page left out. Student copies are generated, never edited:
``release(check=True)`` reports copies that are missing, stale or left over.
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any

from camcourse.course import Setting, badge_markdown, load_setting
from camcourse.coursework.notebooks import (
    BEGIN,
    CHECK_TAG,
    EXERCISE_TAG,
    RAISES_TAG,
    find_exercises,
    read_notebook,
    set_source,
    source,
    strip_solutions,
    tags,
    write_notebook,
)

LESSON_GLOB = "[0-9][0-9]_*.ipynb"
COLAB_LINK = re.compile(
    r"(https://colab\.research\.google\.com/github/[^\s()\"'<>]*?/)notebooks/(\d{2}_[^\s()\"'<>/]+\.ipynb)")
MARKDOWN_LINK = re.compile(r"(\]\(|<img[^>]*?\ssrc=[\"']|<a[^>]*?\shref=[\"'])([^)\"'\s]+)")
SIBLING_LESSON = re.compile(r"^\d{2}_[^/]+\.ipynb(#.*)?$")
# What a student copy keeps of the lesson's metadata: nothing hidden, nothing extra (a
# hidden or collapsed cell shows; a field or attachment holding an answer does not travel).
CELL_METADATA = ("tags", "alt", "points")
NOTEBOOK_METADATA = ("kernelspec", "language_info")


def lessons(source_dir: str | Path) -> list[Path]:
    """The lesson notebooks of a folder (``NN_name.ipynb``), in order."""
    return sorted(Path(source_dir).glob(LESSON_GLOB))


def _relink(text: str, up: str) -> str:
    """Point Colab links at the student copy and re-root relative links by ``up``."""
    text = student_badge(text)

    def reroot(match: re.Match) -> str:
        opening, target = match.group(1), match.group(2)
        if (re.match(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:", target) or target.startswith(("#", "/"))
                or SIBLING_LESSON.match(target)):
            return match.group(0)
        return f"{opening}{up}/{target}"

    return MARKDOWN_LINK.sub(reroot, text)


def student_badge(text: str) -> str:
    """A badge's markdown with its Colab link moved from the lesson to its student copy.

    >>> student_badge("[![Open In Colab](b.svg)](https://colab.research.google.com/github/"
    ...               "ada/cam/blob/main/notebooks/04_x.ipynb)")
    '[![Open In Colab](b.svg)](https://colab.research.google.com/github/ada/cam/blob/main/notebooks/student/04_x.ipynb)'
    """
    return COLAB_LINK.sub(r"\1notebooks/student/\2", text)


def student_notebook(notebook: dict[str, Any], up: str = "..",
                     badge: str | None = None) -> dict[str, Any]:
    """The student copy of one lesson notebook (a new dict; the lesson is not changed).

    Parameters
    ----------
    notebook : dict
        The lesson's JSON.
    up : str
        Relative path from the student folder back to the lessons' folder, used to
        re-root relative links (``".."`` for ``notebooks/student``).
    badge : str, optional
        Markdown for the cell tagged ``colab-badge`` (``camcourse.course.badge_markdown``
        of the student copy's path); by default the lesson's badge with its link rewritten.

    Raises
    ------
    ValueError
        An exercise cell without a heading ``### Exercise N.M`` or without solution
        markers, or unbalanced markers.
    """
    student = copy.deepcopy(notebook)
    exercises = {e.cell: e for e in find_exercises(notebook)}
    number = ""
    student["metadata"] = {k: v for k, v in student.get("metadata", {}).items()
                           if k in NOTEBOOK_METADATA}
    for i, cell in enumerate(student["cells"]):
        text = source(cell)
        cell["metadata"] = {k: v for k, v in cell.get("metadata", {}).items()
                            if k in CELL_METADATA}
        if "attachments" in cell:  # only the images the cell's own text shows
            kept = {name: data for name, data in cell["attachments"].items()
                    if cell.get("cell_type") == "markdown" and f"attachment:{name}" in text}
            if kept:
                cell["attachments"] = kept
            else:
                del cell["attachments"]
        if cell.get("cell_type") == "markdown":
            if badge is not None and "colab-badge" in tags(cell):
                set_source(cell, badge)
            else:
                set_source(cell, _relink(text, up))
            continue
        if cell.get("cell_type") != "code":
            continue
        if i in exercises:
            exercise = exercises[i]
            if exercise.number is None:
                raise ValueError(f"exercise cell {i} has no '### Exercise N.M: title' heading "
                                 f"above it")
            if BEGIN not in text:
                raise ValueError(f"exercise {exercise.number} (cell {i}) has no "
                                 f"'{BEGIN}' marker: its solution would be published")
            number = exercise.number
        if BEGIN in text:  # markers outside an exercise cell are stripped too
            try:
                set_source(cell, strip_solutions(text, number))
            except ValueError as exc:
                raise ValueError(f"cell {i}: {exc}") from None
        cell_tags = tags(cell)
        if (EXERCISE_TAG in cell_tags or CHECK_TAG in cell_tags) and RAISES_TAG not in cell_tags:
            cell.setdefault("metadata", {})["tags"] = cell_tags + [RAISES_TAG]
        cell["outputs"] = []
        cell["execution_count"] = None
    return student


# The answers to the end-of-lesson questions: a student copy does not point at them.
ANSWERS_PAGE = "docs/answers.md"
TEXT_LINK = re.compile(r"((?<!!)\[[^\]\n]*\]\(|<a[^>]*?\shref=[\"'])([^)\"'\s]+)")


def downloadable_links(text: str, lesson_dir: Path, repo_root: Path, setting: Setting, *,
                       answers: bool = False) -> str:
    """A student copy's markdown as it reads outside the repository (downloaded on its own,
    on Colab): a link to another file of the repository points at its page on GitHub, and
    a line that links to the answers page (docs/answers.md) is left out (kept, and
    pointed at GitHub too, with ``answers=True``: the full lesson downloaded from the
    website).

    ``lesson_dir`` is the lesson's folder, against which the links of ``text`` resolve.

    >>> from camcourse.course import Setting
    >>> root = Path("/r")
    >>> downloadable_links("See [results](../docs/results.md#t).\\nAnswers: [04]"
    ...                    "(../docs/answers.md#lesson-04).\\n", root / "notebooks", root,
    ...                    Setting("https://github.com/a/c"))
    'See [results](https://github.com/a/c/blob/main/docs/results.md#t).\\n'
    """
    root = repo_root.resolve()

    def target(link: str) -> Path | None:
        path = link.partition("#")[0]
        if not path or re.match(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:", link) or link.startswith("/"):
            return None
        resolved = Path(os.path.normpath(lesson_dir.resolve() / path))
        return resolved if root in resolved.parents else None

    def links_answers(line: str) -> bool:
        return any(target(m.group(2)) == root / ANSWERS_PAGE for m in TEXT_LINK.finditer(line))

    def absolute(match: re.Match) -> str:
        found = target(match.group(2))
        if found is None:
            return match.group(0)
        anchor = match.group(2).partition("#")[2]
        url = setting.blob_url(found.relative_to(root))
        return f"{match.group(1)}{url}{'#' + anchor if anchor else ''}"

    kept = "".join(line for line in text.splitlines(keepends=True)
                   if answers or not links_answers(line))
    return TEXT_LINK.sub(absolute, kept)


def _student_copy_of(lesson: Path, dest_dir: Path, repo_root: Path | None,
                     setting: Setting) -> dict[str, Any]:
    notebook = read_notebook(lesson)
    up = Path(os.path.relpath(lesson.parent.resolve(), dest_dir.resolve())).as_posix()
    badge = None
    if repo_root is not None:
        target = (dest_dir / lesson.name).resolve()
        try:
            badge = badge_markdown(target.relative_to(repo_root.resolve()).as_posix(),
                                   setting)
        except ValueError:  # destination outside the repository: keep the rewritten link
            badge = None
    try:
        student = student_notebook(notebook, up=up, badge=badge)
    except ValueError as exc:
        raise ValueError(f"{lesson}: {exc}") from None
    if repo_root is not None:
        for cell in student["cells"]:
            if cell.get("cell_type") == "markdown" and "colab-badge" not in tags(cell):
                set_source(cell, downloadable_links(source(cell), dest_dir, repo_root,
                                                    setting))
    return student


def _load(path: Path) -> Any:
    """A file's JSON, or None if it is missing or not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def release(source_dir: str | Path, dest_dir: str | Path, *, check: bool = False,
            repo_root: str | Path | None = None, setting: Setting | None = None) -> list[str]:
    """Write (or, with ``check=True``, verify) the student copy of every lesson.

    Parameters
    ----------
    source_dir : path
        Folder of the lessons ``NN_name.ipynb``.
    dest_dir : path
        Folder of the student copies (created if missing).
    check : bool
        Write nothing; report what is missing, stale or left over.
    repo_root : path, optional
        Repository root, for the student copies' Colab badges (paths are relative to it).
    setting : camcourse.course.Setting, optional
        The repository the badges point at (default: ``camcourse.course.load_setting()``).

    Returns
    -------
    list of str
        With ``check``, one line per problem (empty: in step); otherwise one line per
        file written or removed.
    """
    source_dir, dest_dir = Path(source_dir), Path(dest_dir)
    root = Path(repo_root) if repo_root is not None else None
    setting = load_setting() if setting is None else setting
    report = []
    wanted = set()
    if not check:
        dest_dir.mkdir(parents=True, exist_ok=True)
    for lesson in lessons(source_dir):
        target = dest_dir / lesson.name
        wanted.add(lesson.name)
        student = _student_copy_of(lesson, dest_dir, root, setting)
        if check:
            current = _load(target)
            if not target.exists():
                report.append(f"missing: {target}")
            elif current is None:
                report.append(f"not valid JSON: {target}")
            elif current != student:
                report.append(f"out of step with {lesson}: {target}")
        else:
            if _load(target) != student:
                write_notebook(student, target)
                report.append(f"wrote {target}")
    if dest_dir.is_dir():
        for leftover in sorted(dest_dir.glob(LESSON_GLOB)):
            if leftover.name not in wanted:
                if check:
                    report.append(f"no lesson for: {leftover}")
                else:
                    leftover.unlink()
                    report.append(f"removed {leftover}")
    return report
