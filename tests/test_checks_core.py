"""The exercise-check framework on real broken learner functions.

The exercises here are defined with ``_core`` in this file (numbers 97.x, outside the
course), so the tests do not depend on any lesson.
"""

from __future__ import annotations

import importlib
import os
import re
import time

import numpy as np
import pytest
import torch

from camcourse.checks import _core, _limits
from camcourse.checks._core import (
    CheckFailed,
    CheckResult,
    Context,
    diagnose,
    exercise_check,
    factor_Z,
    get_check,
    rng_for,
)

# ---------------------------------------------------------------------------
# Test exercises: pooling (mean over x, y), class scores with a bias, a scalar sum
# ---------------------------------------------------------------------------


@exercise_check("97.1", function="average_pool")
def exercise_97_1(ctx: Context, fn) -> str:
    """F_k = (1/Z) Σ_{x,y} f_k(x,y) on (N, K, H, W) features."""
    features = ctx.rng.normal(size=(2, 3, 16, 16))
    ctx.compare(ctx.call(fn, features), features.mean(axis=(2, 3)), axes=("N", "K"),
                factors=[factor_Z(16 * 16)])
    return "F_k is the mean of f_k over (x, y)"


@exercise_check("97.2")
def exercise_97_2(ctx: Context, fn) -> str:
    """S = F W^T + b on (N, K) features, (C, K) weight, (C,) bias."""
    pooled = ctx.rng.normal(size=(4, 3))
    weight = ctx.rng.normal(size=(5, 3))
    bias = ctx.rng.normal(size=5)
    ctx.compare(ctx.call(fn, pooled, weight, bias), pooled @ weight.T + bias,
                axes=("N", "C"), terms={"the bias b_c": bias})
    return "S_c = Σ_k w_k^c F_k + b_c"


@exercise_check("97.3")
def exercise_97_3(ctx: Context, fn) -> str:
    """M_c(x, y) = Σ_k w_k^c f_k(x, y) for one image: (K, H, W), (C, K) -> (C, H, W)."""
    features = ctx.rng.normal(size=(3, 4, 6))
    weight = ctx.rng.normal(size=(2, 3))
    ctx.compare(ctx.call(fn, features, weight), np.einsum("ck,khw->chw", weight, features),
                axes=("C", "H", "W"))
    return "M_c matches"


def good_pool(features):
    return features.mean(axis=(2, 3))


def run(check, fn, **kw) -> CheckResult:
    return check(fn, raise_on_fail=False, verbose=False, **kw)


# ---------------------------------------------------------------------------
# Pass and fail protocol
# ---------------------------------------------------------------------------


def test_pass_prints_message_and_returns_result(capsys):
    result = exercise_97_1(good_pool)
    message = "✔ Exercise 97.1 passed: F_k is the mean of f_k over (x, y)"
    assert result == CheckResult("97.1", True, message)
    assert capsys.readouterr().out.strip() == result.message
    assert bool(result)


def test_failure_raises_checkfailed_an_assertionerror_with_result():
    def summed(features):
        return features.sum(axis=(2, 3))

    with pytest.raises(AssertionError) as info:
        exercise_97_1(summed)
    assert isinstance(info.value, CheckFailed)
    assert info.value.result == CheckResult("97.1", False, str(info.value))
    assert str(info.value).startswith("✘ Exercise 97.1: ")
    # no chained learner traceback: the message stands alone
    assert info.value.__cause__ is None and info.value.__context__ is None


def test_registry_and_public_name():
    assert get_check("97.1") is exercise_97_1
    assert exercise_97_1.__name__ == "exercise_97_1"
    assert exercise_97_1.function == "average_pool"
    with pytest.raises(KeyError, match="no check for exercise '99.9'"):
        get_check("99.9")
    with pytest.raises(ValueError, match="N.M"):
        exercise_check("4")


def test_same_message_twice_and_seed_from_name():
    def wrong(features):
        return features.mean(axis=(2, 3)) + features[:, :, 0, 0] * 0.01

    first, second = run(exercise_97_1, wrong), run(exercise_97_1, wrong)
    assert first.message == second.message and not first.passed
    a, b = rng_for("97.1").normal(size=3), rng_for("97.1").normal(size=3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, rng_for("97.2").normal(size=3))


# ---------------------------------------------------------------------------
# Real wrong answers and their diagnoses
# ---------------------------------------------------------------------------


def test_sum_instead_of_mean_names_factor_Z():
    result = run(exercise_97_1, lambda f: f.sum(axis=(2, 3)))
    assert not result.passed
    assert "Z = H·W = 256 times too large" in result.message
    assert "sum" in result.message and "instead of averaging" in result.message


def test_mean_divided_twice_is_too_small():
    result = run(exercise_97_1, lambda f: f.mean(axis=(2, 3)) / 256)
    assert "256 times too small" in result.message


def test_transposed_axes_are_named():
    def transposed(features, weight):
        return np.einsum("ck,khw->cwh", weight, features)

    result = run(exercise_97_3, transposed)
    assert "shape (2, 6, 4), expected (2, 4, 6)" in result.message
    assert "axes are in the wrong order (yours are (C, W, H))" in result.message


def test_wrong_sign():
    result = run(exercise_97_2, lambda f, w, b: -(f @ w.T + b))
    assert "wrong sign" in result.message


def test_missing_bias_is_named():
    result = run(exercise_97_2, lambda f, w, b: f @ w.T)
    assert result.message.endswith("your result is missing the bias b_c")


def test_bias_twice_is_named():
    result = run(exercise_97_2, lambda f, w, b: f @ w.T + 2 * b)
    assert "the bias b_c twice" in result.message


def test_reduced_over_wrong_axis_reports_both_shapes():
    result = run(exercise_97_1, lambda f: f.mean(axis=(1, 2)))
    assert "shape (2, 16), expected (2, 3) (N, K)" in result.message
    assert "K has length 16, expected 3" in result.message


def test_in_place_modification_is_caught():
    def centred_in_place(features):
        features -= features.mean()
        return features.mean(axis=(2, 3))

    result = run(exercise_97_1, centred_in_place)
    assert "modified its argument `features` in place" in result.message


def test_exception_becomes_message_with_type_text_and_line():
    def broken(features):
        n = features.shape[0]
        return features.reshape(n, 7).mean(axis=1)

    result = run(exercise_97_1, broken)
    call = "broken(features=array(2, 3, 16, 16))"
    assert f"{call} raised ValueError: cannot reshape" in result.message
    assert "`return features.reshape(n, 7).mean(axis=1)`" in result.message
    assert "Traceback" not in result.message


def test_not_implemented_reads_not_attempted():
    def placeholder(features):
        raise NotImplementedError("Exercise 97.1")

    result = run(exercise_97_1, placeholder)
    assert "not attempted yet" in result.message


def test_returns_none():
    def forgot_return(features):
        features.mean(axis=(2, 3))

    result = run(exercise_97_1, forgot_return)
    assert "returned None: did you forget the `return` statement?" in result.message


def test_wrong_return_type():
    result = run(exercise_97_1, lambda f: "mean")
    assert "got an object of type str" in result.message or "got str" in result.message
    returns_checked = Context("97.9")
    with pytest.raises(_core._Failure, match="should return a ndarray, got a list of length 2"):
        returns_checked.call(lambda: [1, 2], returns=np.ndarray)


def test_not_a_function():
    result = run(exercise_97_1, good_pool(np.ones((1, 1, 2, 2))))
    assert "expected a function" in result.message


def test_infinite_loop_hits_time_limit():
    def forever(features):
        while True:
            pass

    start = time.monotonic()
    result = run(exercise_97_1, forever, time_limit=0.5)
    assert time.monotonic() - start < 3
    assert "did not finish within the time limit of 0.5 s" in result.message


def test_thread_fallback_time_limit(monkeypatch):
    monkeypatch.setattr(_limits, "_alarm_available", lambda: False)
    status, _ = _core.run_with_time_limit(time.sleep, (5,), seconds=0.2)
    assert status == "timeout"
    assert _core.run_with_time_limit(lambda x: x + 1, (1,), seconds=1) == ("ok", 2)
    status, exc = _core.run_with_time_limit(lambda: 1 / 0, seconds=1)
    assert status == "raised" and isinstance(exc, ZeroDivisionError)


def test_time_limit_never_interrupts_an_import(tmp_path, monkeypatch):
    """A limit that strikes during an import waits for it to finish: a module interrupted
    half-way stays "partially initialized" and breaks every later check that needs it."""
    if not _limits._alarm_available():
        pytest.skip("no SIGALRM here")
    import sys

    (tmp_path / "slow_inner_mod.py").write_text("import time\ntime.sleep(0.6)\nVALUE = 7\n")
    (tmp_path / "slow_outer_mod.py").write_text("import slow_inner_mod\n"
                                                "VALUE = slow_inner_mod.VALUE + 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("slow_outer_mod", "slow_inner_mod"):
        monkeypatch.delitem(sys.modules, name, raising=False)

    def learner():
        import slow_outer_mod

        while True:
            slow_outer_mod.VALUE += 0

    start = time.monotonic()
    status, _ = _core.run_with_time_limit(learner, seconds=0.2)
    assert status == "timeout"
    assert time.monotonic() - start < 3
    assert sys.modules["slow_outer_mod"].VALUE == 8  # imported whole, then interrupted


def test_time_limit_restores_outer_timer():
    import signal

    if not _limits._alarm_available():
        pytest.skip("no SIGALRM here")
    fired = []
    old = signal.signal(signal.SIGALRM, lambda *a: fired.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.6)
        assert _core.run_with_time_limit(lambda: 3, seconds=0.1) == ("ok", 3)
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 0.3 < remaining <= 0.6
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# ---------------------------------------------------------------------------
# diagnose() on hand-made answers
# ---------------------------------------------------------------------------

E = np.array([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]])


@pytest.mark.parametrize(
    ("answer", "expected_text"),
    [
        (None, "returned None"),
        (E.T, "shape (3, 2), expected (2, 3) (N, C): the values are right but the axes"),
        (E[None], "an axis of length 1 is extra"),
        (E.reshape(3, 2) * 0 + E.reshape(3, 2), "the right number of values in the wrong shape"),
        (E.sum(axis=0), "N (length 2) is missing"),
        (np.where(E > 4, np.nan, E), "1 of 6 values are NaN or inf (first: NaN at index (1, 1))"),
        (-E, "wrong sign"),
        (np.maximum(E, 0), "a ReLU or clip"),
        (np.abs(E), "absolute value"),
        (E * 3, "every value is 3 times the expected one"),
        (E + 0.5, "off by the same constant 0.5"),
        (E + np.array([[1.0], [2.0]]), "depends only on N"),
        (E + np.array([1.0, 2.0, 3.0]), "depends only on C"),
        (E.astype(int) + np.array([[0, 0, 1], [0, 0, 0]]) * 0 + 0.25 * 0, None),
        (np.where(E == 5, 7.0, E), "1 of 6 values differ; the largest error is at index (1, 1): "
                                    "got 7, expected 5 (along N only items 1 are wrong)"),
        ("text", "expected an array of shape (2, 3), got an object of type str"),
    ],
)
def test_diagnose_messages(answer, expected_text):
    message = diagnose(answer, E, axes=("N", "C"))
    if expected_text is None:
        assert message is None
    else:
        assert expected_text in message, message


def test_diagnose_accepts_tensors_lists_and_scalars():
    torch = pytest.importorskip("torch")
    assert diagnose(torch.tensor(E, dtype=torch.float32), E) is None
    assert diagnose(E.tolist(), E) is None
    assert diagnose(2.0, np.float64(2.0)) is None
    assert diagnose(np.array([2.0]), 2.0) is None
    assert "times the expected" in diagnose(6.0, 2.0)


def test_diagnose_integer_rounding_and_known_mistakes():
    expected = np.array([0.4, 1.6, 2.5])
    assert "rounded to integers" in diagnose(np.array([0, 2, 2]), expected)
    mistakes = {"you upsampled with align_corners=True": np.array([1.0, 2.0, 3.0])}
    assert diagnose(np.array([1.0, 2.0, 3.0]), expected, mistakes=mistakes) == (
        "you upsampled with align_corners=True")


def test_diagnose_scale_and_term_together():
    bias = np.array([1.0, -1.0, 2.0])
    mean_part = np.array([[0.5, 0.25, -1.0], [2.0, 1.0, 0.75]])
    expected = mean_part + bias
    answer = 16 * mean_part + bias  # summed M_c, kept the bias
    message = diagnose(answer, expected, factors=[factor_Z(16)], terms={"the bias b_c": bias})
    assert message.startswith(
        "apart from the bias b_c, every value is Z = H·W = 16 times too large")


def test_diagnose_tolerates_float32_rounding():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(2, 8, 16, 16))
    assert diagnose(f.astype(np.float32).mean(axis=(2, 3)), f.mean(axis=(2, 3))) is None


def test_lesson_checks_are_discovered_and_exported_lazily():
    import camcourse.checks

    names = camcourse.checks.load_all()
    for module_name in camcourse.checks.lesson_modules():
        module = importlib.import_module(f"camcourse.checks.{module_name}")
        for attr in vars(module):
            if re.fullmatch(r"exercise_\d+_\d+", attr):
                assert getattr(camcourse.checks, attr) is getattr(module, attr)
                assert attr in names and attr in dir(camcourse.checks)
    with pytest.raises(AttributeError):
        camcourse.checks.exercise_96_1  # noqa: B018 - no lesson 96


def test_pick_uses_the_learners_function_only_after_its_check_passed(capsys):
    from camcourse.checks import exercise_4_1, pick
    from camlib import reference

    def wrong(features, weight):
        return reference.class_activation_maps(features, weight) * 2

    def right(features, weight):
        return reference.class_activation_maps(features, weight)

    assert pick("4.1", right, reference.class_activation_maps) is \
        reference.class_activation_maps  # not checked yet
    exercise_4_1(wrong, raise_on_fail=False, verbose=False)
    assert pick("4.1", wrong, reference.class_activation_maps) is \
        reference.class_activation_maps
    exercise_4_1(right, verbose=False)
    assert pick("4.1", right, reference.class_activation_maps) is right
    assert pick("4.1", wrong, reference.class_activation_maps) is \
        reference.class_activation_maps  # passed with another function
    assert "Using your right" in capsys.readouterr().out


def test_hidden_seed_changes_the_inputs_but_not_the_notebooks():
    from camcourse.checks._core import Context

    visible = Context("4.1").rng.normal(size=3)
    assert np.array_equal(visible, Context("4.1").rng.normal(size=3))
    assert not Context("4.1").hidden
    hidden = Context("4.1", hidden_seed=12345)
    assert hidden.hidden and not np.array_equal(visible, hidden.rng.normal(size=3))


def test_every_lesson_module_is_imported_by_the_package():
    import camcourse.checks

    imported = {m.__name__.rsplit(".", 1)[1] for m in camcourse.checks._LESSONS}
    assert imported == set(camcourse.checks.lesson_modules())


@pytest.mark.slow
def test_a_check_cell_shows_its_message_once_and_no_value_for_nbgrader():
    # nbgrader reads a graded cell's execute_result as points; a check cell must have none,
    # and show its message once (a stream), as Jupyter runs it.
    nbformat = pytest.importorskip("nbformat")
    from camcourse.execute import LessonClient

    cell = nbformat.v4.new_code_cell(
        "import camcourse.checks\nfrom camlib import reference\n"
        "camcourse.checks.exercise_4_1(reference.class_activation_maps)")
    notebook = nbformat.v4.new_notebook(cells=[cell])
    LessonClient(notebook, timeout=120, kernel_name="python3").execute()
    outputs = notebook.cells[0].outputs
    assert [o.output_type for o in outputs] == ["stream"]
    assert outputs[0].text.count("✔ Exercise 4.1 passed") == 1


# --- a failed check shows its message first (IPython's _render_traceback_) ----------------

_FAILING_CELL = ("def f(x, reduce='mean'):\n"
                 "    return x.sum(axis=(2, 3))\n"
                 "\n"
                 "camcourse.checks.exercise_2_1(f)\n")


def _strip_ansi(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def test_a_failed_check_in_ipython_shows_the_message_first_and_no_camlib_frame():
    interactiveshell = pytest.importorskip("IPython.core.interactiveshell")
    from IPython.utils.capture import capture_output

    shell = interactiveshell.InteractiveShell.instance()
    try:
        shell.run_cell("import camcourse.checks")
        with capture_output() as shown:
            result = shell.run_cell(_FAILING_CELL)
    finally:  # later tests must not find a running IPython (camcourse.viz.show asks for one)
        interactiveshell.InteractiveShell.clear_instance()
    assert isinstance(result.error_in_exec, CheckFailed)
    lines = _strip_ansi(shown.stdout).strip().splitlines()
    assert lines[0].startswith("✘ Exercise 2.1: f(x=array(")
    assert "20 times too large" in lines[0]
    assert lines[-1] == ("(from the check called at line 4: `camcourse.checks.exercise_2_1(f)`, "
                         "in this cell)")
    assert len(lines) == 2, lines
    assert "camcourse" + os.sep + "checks" not in shown.stdout
    assert "Traceback" not in shown.stdout


def test_rendered_failure_names_the_learners_line_inside_a_helper_of_theirs():
    def my_test():
        get_check("4.1")(lambda features, weight: features, verbose=False)

    try:
        my_test()
    except CheckFailed as failure:
        lines = [_strip_ansi(line) for line in failure._render_traceback_()]
    assert lines[0].startswith("✘ Exercise 4.1:")
    assert 'get_check("4.1")(lambda features, weight: features, verbose=False)' in lines[-1]
    assert not any("_registry.py" in line for line in lines)


@pytest.mark.slow
def test_a_failed_check_in_a_notebook_has_a_short_traceback_starting_with_the_message():
    nbformat = pytest.importorskip("nbformat")
    from camcourse.execute import LessonClient

    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import camcourse.checks"),
        nbformat.v4.new_code_cell(_FAILING_CELL)])
    LessonClient(notebook, timeout=120, kernel_name="python3", allow_errors=True).execute()
    (error,) = [o for o in notebook.cells[1].outputs if o.output_type == "error"]
    assert error.ename == "CheckFailed"
    traceback = [_strip_ansi(line) for line in error.traceback]
    assert traceback[0].startswith("✘ Exercise 2.1:"), traceback
    assert len(traceback) == 2, traceback
    assert "exercise_2_1(f)" in traceback[1]
    assert not any(package + os.sep in line for line in traceback
                   for package in ("camlib", "camcourse"))


# --- one layer reads numbers: every honest form, NaN equals nothing -----------------------


@pytest.mark.parametrize("value", [
    0.5, np.float64(0.5), np.float32(0.5), np.array(0.5), np.array([0.5]),
    np.array(0.5, dtype=np.float32), torch.tensor(0.5), torch.tensor([0.5]),
    torch.tensor(0.5, dtype=torch.float64), torch.tensor(0.5, requires_grad=True) * 1,
])
def test_as_number_accepts_every_honest_form_of_one_number(value):
    from camcourse.checks._core import as_number

    assert as_number(value, "f()") == 0.5


@pytest.mark.parametrize("value, words", [
    (np.array([0.5, 0.25]), "a NumPy array of shape (2,)"),
    ("0.5", "an object of type str"),
    (True, "the boolean True"),
    ([0.5], "a list of length 1 holding it"),
    (None, "None"),
])
def test_as_number_names_what_came_back_instead(value, words):
    from camcourse.checks._core import _Failure, as_number

    with pytest.raises(_Failure) as info:
        as_number(value, "f()")
    assert words in str(info.value)
    assert "f() should return one number" in str(info.value)


def test_as_integer_accepts_whole_floats_and_names_a_fraction():
    from camcourse.checks._core import _Failure, as_integer

    assert as_integer(np.float64(16.0), "f()") == 16
    assert as_integer(np.int64(16), "f()") == 16
    assert as_integer(torch.tensor(16), "f()") == 16
    with pytest.raises(_Failure, match="16.5, which is not a whole number"):
        as_integer(16.5, "f()")


def test_same_number_never_matches_nan_or_inf_against_a_number():
    from camcourse.checks._core import same_number

    nan, inf = float("nan"), float("inf")
    assert same_number(0.5, 0.5) and same_number(1.0, 1.0 + 1e-12)
    assert not same_number(nan, 0.5) and not same_number(0.5, nan)
    assert not same_number(nan, nan)
    assert not same_number(inf, 1e308) and same_number(inf, inf)


@pytest.mark.parametrize("exercise, answer", [
    ("7.3", lambda ious, iou_threshold=0.5: (float("nan"), 0)),
    ("7.1", lambda a, b: float("nan")),
    ("10.2", lambda cams, boxes, threshold=0.2: float("nan")),
    ("11.1", lambda cam, box: np.float32("nan")),
    ("11.2", lambda a, b: np.nan),
])
def test_nan_passes_no_check_that_asks_for_a_number(exercise, answer):
    result = get_check(exercise)(answer, verbose=False, raise_on_fail=False)
    assert not result.passed, result.message
    assert "nan" in result.message.lower()


def test_a_training_mode_changed_by_the_learner_is_named():
    from camcourse.checks._core import Context

    model = torch.nn.Sequential(torch.nn.Linear(2, 2))
    model.train()

    def evaluates(m):
        m.eval()
        return 1.0

    with pytest.raises(Exception, match=r"`m`: m.training was True, now False"):
        Context("1.1").call(evaluates, model)
