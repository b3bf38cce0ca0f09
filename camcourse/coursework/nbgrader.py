"""The lessons as nbgrader source notebooks.

The lessons already use nbgrader's solution markers; nbgrader also needs to know which
cell is an answer and which one is graded. This writes copies of the lessons with that
cell metadata (nbgrader's schema version 3):

- the ``exercise`` cell: an autograded answer (``solution: true``), which nbgrader's
  ``generate_assignment`` strips between the markers;
- the ``check`` cell: a locked autograder test worth the exercise's points (``grade:
  true``), which nbgrader restores from the source before ``autograde``, so a learner
  cannot edit the check away.

The "Open in Colab" badge points at the student copy, as in the released notebooks.

Put the copies in nbgrader's ``source/<assignment>/`` folder (docs/teaching.md).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from camcourse.coursework.notebooks import (
    find_exercises,
    read_notebook,
    set_source,
    source,
    tags,
    write_notebook,
)
from camcourse.coursework.release import lessons, student_badge


def nbgrader_notebook(notebook: dict[str, Any]) -> dict[str, Any]:
    """A copy of a lesson with nbgrader metadata on its exercise and check cells."""
    out = copy.deepcopy(notebook)
    for exercise in find_exercises(notebook):
        if exercise.number is None:
            continue
        ident = exercise.number.replace(".", "_")
        answer = out["cells"][exercise.cell].setdefault("metadata", {})
        answer["nbgrader"] = {"grade": False, "grade_id": f"exercise_{ident}", "locked": False,
                              "schema_version": 3, "solution": True, "task": False}
        if exercise.check_cell is not None:
            test = out["cells"][exercise.check_cell].setdefault("metadata", {})
            test["nbgrader"] = {"grade": True, "grade_id": f"check_{ident}", "locked": True,
                                "points": exercise.points, "schema_version": 3,
                                "solution": False, "task": False}
    for cell in out["cells"]:
        if cell.get("cell_type") == "markdown" and "colab-badge" in tags(cell):
            set_source(cell, student_badge(source(cell)))
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return out


def export(source_dir: str | Path, dest_dir: str | Path) -> list[Path]:
    """Write ``dest_dir/NN_name/NN_name.ipynb`` (one nbgrader assignment per lesson)."""
    written = []
    for lesson in lessons(source_dir):
        target = Path(dest_dir) / lesson.stem / lesson.name
        target.parent.mkdir(parents=True, exist_ok=True)
        write_notebook(nbgrader_notebook(read_notebook(lesson)), target)
        written.append(target)
    return written
