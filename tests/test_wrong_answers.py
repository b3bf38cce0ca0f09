"""Every wrong answer of both catalogues fails its check with its mistake named, on the
notebook's inputs and on hidden grading inputs.

The catalogues live beside the tests that only they need: lessons 00–05 in
tests/test_wrong_answers_00_05.py (with the right answers that must pass), lessons 06–11
in tests/test_wrong_answers_06_11.py. An entry is (exercise, what the mistake is, the
learner's function, words the check's message must contain).
"""

from __future__ import annotations

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


def test_no_two_entries_share_an_id():
    ids = [_ids(entry) for entry in WRONG]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
