"""Coursework: student copies of the lessons and an autograder.

Commands (from the repository root)::

    python -m camcourse.coursework release            # notebooks/NN_*.ipynb -> notebooks/student/
    python -m camcourse.coursework release --check    # exit 1 if the student copies are stale
    python -m camcourse.coursework grade SUBMISSIONS... --out grades.csv
    python -m camcourse.coursework nbgrader SOURCE_DIR   # the lessons as nbgrader sources
    python -m camcourse.coursework docs [--check]     # the tables of docs/teaching.md
    python -m camcourse.coursework publish [URL] [--branch B] [--check]
        # the repository address (camcourse/course.json) and everything made from it:
        # badges, set-up cells, student copies, docs

docs/teaching.md explains how to assign, collect and grade a lesson.
"""

from camcourse.coursework.grade import Grade, grade, grade_notebook, summary, write_csv
from camcourse.coursework.notebooks import Exercise, find_exercises, read_notebook
from camcourse.coursework.release import release, student_notebook

__all__ = [
    "Exercise",
    "Grade",
    "find_exercises",
    "grade",
    "grade_notebook",
    "read_notebook",
    "release",
    "student_notebook",
    "summary",
    "write_csv",
]
