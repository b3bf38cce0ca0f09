"""Every wrong answer of both catalogues fails its check with its mistake named, on the
notebook's inputs and on hidden grading inputs.

The catalogues live beside the tests that only they need: lessons 00–05 in
tests/test_wrong_answers_00_05.py (with the right answers that must pass), lessons 06–11
in tests/test_wrong_answers_06_11.py. An entry is (exercise, what the mistake is, the
learner's function, words the check's message must contain).
"""

from __future__ import annotations

import numpy as np
import pytest
from test_wrong_answers_00_05 import HIDDEN_SEEDS  # tests/ is on sys.path under pytest
from test_wrong_answers_00_05 import WRONG as WRONG_00_05
from test_wrong_answers_06_11 import WRONG as WRONG_06_11

from camcourse.checks import CheckFailed, get_check

WRONG = WRONG_00_05 + WRONG_06_11


def _ids(entry) -> str:
    return f"{entry[0]}-{entry[1]}"


@pytest.mark.parametrize("entry", WRONG, ids=_ids)
def test_each_wrong_answer_fails_with_its_mistake_named(entry):
    exercise, _, fn, words = entry
    with pytest.raises(CheckFailed) as info:
        get_check(exercise)(fn, verbose=False)
    message = str(info.value)
    for word in words:
        assert word in message, f"{exercise} {entry[1]}: {word!r} not in {message!r}"
    assert "values differ" not in message, message  # named, not the generic fallback


@pytest.mark.parametrize("seed", HIDDEN_SEEDS)
@pytest.mark.parametrize("entry", WRONG, ids=_ids)
def test_each_wrong_answer_also_fails_on_hidden_inputs(entry, seed):
    exercise, _, fn, _ = entry
    result = get_check(exercise)(fn, verbose=False, raise_on_fail=False, hidden_seed=seed)
    assert not result.passed, result.message


def _pipeline_box_off_by(shift):
    from test_wrong_answers_00_05 import _pipeline

    def cam_pipeline(cam, size, fraction=0.2):
        heat, mask, box = _pipeline(cam, size, fraction)
        return heat, mask, tuple(float(v) + shift for v in box)
    return cam_pipeline


NEAR_MISSES = [
    ("0.1", "divided by 255.02", lambda x: x.astype(np.float32) / 255.02),
    ("2.2", "a count off by 0.4", lambda k, h, w, c: (k * h * w * c + c + 0.4, k * c + c)),
    ("5.4", "a box off by 0.4", _pipeline_box_off_by(0.4)),
]


@pytest.mark.parametrize("seed", (None, *HIDDEN_SEEDS))
@pytest.mark.parametrize("entry", NEAR_MISSES, ids=_ids)
def test_answers_a_rounding_error_away_from_right_fail(entry, seed):
    """Counts and boxes are whole numbers and 0.1's division is by 255 exactly: an answer
    within the looser tolerances of real-valued maps is still wrong."""
    exercise, _, fn = entry
    result = get_check(exercise)(fn, verbose=False, raise_on_fail=False, hidden_seed=seed)
    assert not result.passed, result.message


def test_every_exercise_of_the_course_has_three_wrong_answers():
    """Each catalogue checks only the exercises it holds: an exercise added to a lesson
    with no wrong answers would pass both. Here the lessons say which exercises exist."""
    from collections import Counter
    from pathlib import Path

    from camcourse.coursework.notebooks import find_exercises, read_notebook

    lessons = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob(
        "[0-9][0-9]_*.ipynb"))
    course = {e.number for path in lessons for e in find_exercises(read_notebook(path))}
    counts = Counter(entry[0] for entry in WRONG)
    assert len(course) >= 31
    assert course - set(counts) == set(), "exercises without wrong answers"
    assert set(counts) - course == set(), "wrong answers of no exercise of the course"
    assert {n: c for n, c in counts.items() if c < 3} == {}, "fewer than three"


def test_no_two_entries_share_an_id():
    ids = [_ids(entry) for entry in WRONG]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
