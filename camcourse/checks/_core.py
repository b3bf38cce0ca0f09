"""The machinery behind every exercise check in ``camcourse.checks``, in one namespace.

This module re-exports what check modules use; each job lives in its own module:
``_results`` (CheckResult, CheckFailed), ``_limits`` (time limits), ``_inplace``
(in-place modification), ``_diagnose`` (comparing and describing), ``_context``
(seeds and :class:`Context`), ``_registry`` (the decorator, ``CHECKS``, ``pick``).

A lesson's checks live in ``camcourse/checks/lessonNN.py``; ``camcourse.checks`` imports every
such module and re-exports its ``exercise_N_M`` functions. A check is a plain function
decorated with :func:`exercise_check`; it receives the learner's function and a
:class:`Context`, and returns a one-line description of what passed::

    import numpy as np

    from camlib import reference
    from camcourse.checks._core import Context, exercise_check, factor_Z

    @exercise_check("4.1", function="class_activation_maps")
    def exercise_4_1(ctx: Context, fn) -> str:
        \"\"\"Check ``class_activation_maps(features, weight)``: M_c = Σ_k w_k^c f_k.\"\"\"
        for n, k, h, w in [(2, 3, 4, 4), (1, 5, 7, 3)]:
            features = ctx.rng.normal(size=(n, k, h, w))
            weight = ctx.rng.normal(size=(6, k))
            expected = reference.class_activation_maps(features, weight)
            got = ctx.call(fn, features, weight)
            ctx.compare(got, expected, axes=("N", "C", "H", "W"),
                        factors=[factor_Z(h * w)])
        return "M_c matches the reference on two random batches"

The learner then calls ``camcourse.checks.exercise_4_1(class_activation_maps)``:

- pass: it prints ``✔ Exercise 4.1 passed: <description>`` and returns
  ``CheckResult("4.1", True, message)``;
- fail: it raises :class:`CheckFailed` (an ``AssertionError``) whose message says what is
  wrong (``✘ Exercise 4.1: ...``); with ``raise_on_fail=False`` it returns
  ``CheckResult("4.1", False, message)`` instead (the autograder does this).

Public check signature (made by the decorator)::

    exercise_N_M(fn, *, raise_on_fail=True, verbose=True, time_limit=10.0,
                 hidden_seed=None) -> CheckResult

What the check body can use:

- ``ctx.rng``: ``numpy.random.Generator`` seeded from the exercise name, so the same
  learner function gets the same inputs and the same message every time. When the
  autograder passes ``hidden_seed``, the seed mixes it in and ``ctx.hidden`` is true: a
  check then adds cases the notebook never shows (see :class:`Context`).
  ``ctx.seed`` is that seed as an int (for ``torch.Generator().manual_seed(ctx.seed)``).
- ``ctx.call(fn, *args, returns=None, **kwargs)``: calls the learner's function under
  a time limit (shared by all calls of one check), turns an exception, ``None``, a
  wrong return type (``returns=``: a type or tuple of types) or an infinite loop into
  a failure message, and fails if the function modified any argument in place.
  ``NotImplementedError`` (the student copy's placeholder) reads "not attempted yet".
- ``ctx.compare(answer, expected, *, what=None, rtol=1e-4, atol=None, axes=None,
  factors=(), terms=None, mistakes=None)``: fails with a diagnosis unless ``answer``
  (NumPy array, Torch tensor, number, sequence) equals ``expected`` within tolerance.
  It names: a wrong type or shape (both shapes; a missing axis; axes in the wrong
  order, named by ``axes``), NaN/inf, a sign flip, a ReLU or ``abs`` applied, a
  constant scale (``factors``: known factors such as ``factor_Z(Z)``, which explains
  "sum instead of mean"), a missing or extra additive term (``terms``: e.g.
  ``{"the bias b_c": bias}``, broadcast against ``expected``), a constant offset or one
  that depends on a single axis, integer rounding, known wrong answers (``mistakes``:
  ``{"message": wrong_array}`` computed from the reference), items along the first
  axis that are right or wrong, and otherwise the worst entry and how many are wrong.
- ``as_number(value, what)``, ``as_integer(value, what)``, ``as_items(value, n, what)``,
  ``as_box(value, what)``
  and ``same_number(a, b, atol=...)`` (``_numbers``): the one way a check reads a number
  or a few values from an answer (Python and NumPy scalars, 0-d arrays and tensors,
  float32 all accepted) and compares numbers (NaN equals nothing).
- ``ctx.fail(message)`` and ``ctx.require(condition, message)`` for anything else.
- ``diagnose(answer, expected, ...)``: the diagnosis alone, ``None`` when equal.
- Helpers kept stable for check modules: ``_to_array(answer)`` (NumPy array from an
  array, tensor, number or sequence; ``None`` if not array-like), ``describe(value)``
  (a short description for messages), ``run_with_time_limit(fn, args, kwargs, seconds)``
  (``("ok", value)``, ``("raised", exc)`` or ``("timeout", None)``), ``Factor``.

``function=`` in :func:`exercise_check` names the learner's function in the exercise
cell, so the autograder knows what to pass; without it, the autograder takes the
exercise cell's only public top-level ``def``/``class`` (or the one its check cell
passes). Exercise functions must be self-contained: they may use modules the notebook
imports, not other notebook variables.

``get_check("4.1")`` and ``CHECKS`` (exercise number -> public check) serve tools.
"""

from camcourse.checks._context import Context, _fn_name, _learner_frame, _short, rng_for, seed_for
from camcourse.checks._diagnose import (
    Factor,
    _close,
    _fmt,
    _is_tensor,
    _to_array,
    describe,
    diagnose,
    factor_Z,
)
from camcourse.checks._inplace import _same, _snapshot
from camcourse.checks._limits import run_with_time_limit
from camcourse.checks._numbers import (
    as_box,
    as_integer,
    as_items,
    as_number,
    number_or_none,
    same_number,
)
from camcourse.checks._registry import (
    _LAST_RESULTS,
    CHECKS,
    _exercise_key,
    exercise_check,
    get_check,
    pick,
)
from camcourse.checks._results import (
    DEFAULT_TIME_LIMIT,
    CheckFailed,
    CheckResult,
    LearnerError,
    _Failure,
    _NotAttempted,
    _TimeUp,
)

__all__ = [
    "CHECKS",
    "DEFAULT_TIME_LIMIT",
    "CheckFailed",
    "CheckResult",
    "Context",
    "Factor",
    "LearnerError",
    "_LAST_RESULTS",
    "_Failure",
    "_NotAttempted",
    "_TimeUp",
    "_close",
    "_exercise_key",
    "_fmt",
    "_fn_name",
    "_is_tensor",
    "_learner_frame",
    "_same",
    "_short",
    "_snapshot",
    "_to_array",
    "as_box",
    "as_integer",
    "as_items",
    "as_number",
    "describe",
    "diagnose",
    "exercise_check",
    "factor_Z",
    "get_check",
    "number_or_none",
    "pick",
    "rng_for",
    "run_with_time_limit",
    "same_number",
    "seed_for",
]
