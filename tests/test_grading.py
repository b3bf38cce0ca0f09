"""The autograder's trust boundary: the channel, the private camlib, hidden inputs,
write-it-yourself, failed imports, and a loaded machine."""

from __future__ import annotations

import importlib
import io
import json
import pickle
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from camcourse.coursework import _wire, catalogue, grade
from camcourse.coursework.notebooks import find_exercises, read_notebook
from camcourse.paths import NOTEBOOKS_DIR

FIXTURES = Path(__file__).parent / "fixtures" / "coursework"
CHECKS = str(FIXTURES / "grading_checks.py")


# ---------------------------------------------------------------------------
# The channel: plain data only
# ---------------------------------------------------------------------------


def _round_trip(value):
    blobs: list[bytes] = []
    tree = _wire.encode(value, blobs)
    a, b = socket.socketpair()
    with a, b:
        _wire.send(a, {"value": tree}, blobs)
        header, got = _wire.receive(b, time.monotonic() + 5)
    return _wire.decode(header["value"], got)


def test_plain_values_travel_and_come_back_as_they_were():
    import torch

    value = {"a": (1, 2.5, float("nan"), "s", None, True), 3: [np.arange(6).reshape(2, 3)],
             "t": torch.ones(2, dtype=torch.bfloat16, requires_grad=True), "g": np.float32(2)}
    back = _round_trip(value)
    assert back["a"][:2] == (1, 2.5) and np.isnan(back["a"][2]) and back["a"][3:] == (
        "s", None, True)
    assert np.array_equal(back[3][0], np.arange(6).reshape(2, 3))
    assert back["t"].dtype == torch.bfloat16 and back["t"].requires_grad
    assert back["g"] == np.float32(2) and back["g"].dtype == np.float32


def test_learner_objects_arrive_as_their_type_name_only():
    class Liar(np.ndarray):
        def __eq__(self, other):
            return True

    back = _round_trip([object(), np.zeros(3).view(Liar), np.array([object()])])
    assert isinstance(back[0], _wire.Opaque) and back[0].type_name == "object"
    assert type(back[1]) is np.ndarray  # the subclass is gone, the numbers stay
    assert isinstance(back[2], _wire.Opaque)


def test_pickles_and_object_arrays_are_refused():
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(_wire.ChannelError):
        _wire.decode({"t": "nd", "b": 0}, [buffer.getvalue()])
    with pytest.raises(_wire.ChannelError):
        _wire.decode({"t": "nd", "b": 0}, [pickle.dumps(np.zeros(2))])
    with pytest.raises(_wire.ChannelError):
        _wire.decode({"t": "tensor", "b": 0, "dtype": "os.system"},
                     [_wire._npy(np.zeros(2))])


def test_oversized_deep_or_broken_messages_are_refused():
    a, b = socket.socketpair()
    with a, b:
        a.sendall((10**12).to_bytes(8, "big"))
        with pytest.raises(_wire.ChannelError, match="limit"):
            _wire.receive(b, time.monotonic() + 5)
    a, b = socket.socketpair()
    with a, b:
        head = b"[" * 100000 + b"]" * 100000
        body = len(head).to_bytes(4, "big") + head
        a.sendall(len(body).to_bytes(8, "big") + body)
        with pytest.raises(_wire.ChannelError):
            _wire.receive(b, time.monotonic() + 5)
    a, b = socket.socketpair()
    with a, b:
        with pytest.raises(_wire.ChannelTimeout):
            _wire.receive(b, time.monotonic() + 0.2)
    tree = {"t": "list", "v": []}
    for _ in range(100):
        tree = {"t": "list", "v": [tree]}
    with pytest.raises(_wire.ChannelError, match="deeply"):
        _wire.decode(tree, [])


def test_many_small_values_are_refused_before_parsing():
    a, b = socket.socketpair()
    with a, b:
        head = (b'{"blobs":[],"value":{"t":"list","v":[' + b'{"t":"list","v":[0,0]},' * 300_000
                + b'0]}}')
        body = len(head).to_bytes(4, "big") + head
        import threading

        sender = threading.Thread(target=a.sendall, args=(len(body).to_bytes(8, "big") + body,),
                                  daemon=True)
        sender.start()
        with pytest.raises(_wire.ChannelRefused, match="nested lists"):
            _wire.receive(b, time.monotonic() + 20)
        sender.join(20)


def test_tuple_and_list_subclasses_travel_as_plain_ones():
    import collections

    import torch

    pair = collections.namedtuple("Pair", "a b")(1, 2)
    top = torch.topk(torch.tensor([0.1, 0.7, 0.2]), 2)
    blobs: list[bytes] = []
    back = _wire.decode(_wire.encode([pair, top], blobs), blobs)
    assert back[0] == (1, 2) and type(back[0]) is tuple
    assert type(back[1]) is tuple and back[1][1].tolist() == [1, 2]


def test_only_regular_files_are_read_as_submissions(tmp_path):
    import os

    from camcourse.coursework.notebooks import read_file_bytes

    fifo = tmp_path / "a.ipynb"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="FIFO"):
        read_file_bytes(fifo)  # does not block
    link = tmp_path / "b.ipynb"
    link.symlink_to("/dev/zero")
    with pytest.raises(ValueError, match="character device"):
        read_file_bytes(link)
    with pytest.raises(ValueError, match="symbolic link"):
        read_file_bytes(link, follow_symlinks=False)
    big = tmp_path / "c.ipynb"
    big.write_bytes(b"x" * 100)
    with pytest.raises(ValueError, match="over the limit"):
        read_file_bytes(big, limit=10)
    assert read_file_bytes(big, limit=100) == b"x" * 100


def test_other_cells_give_only_the_definitions_the_exercises_need():
    from camcourse.coursework.notebooks import needed_definitions

    cells = ["import numpy as np\nimport os\ntrain_for_hours()\nhistory = fit(model)\n",
             "try:\n    import scipy\nexcept ImportError:\n    scipy = None\n"
             "SCALE = 2\ndef helper(x):\n    return np.asarray(x) * SCALE\n"
             "for _ in range(10**9):\n    pass\n"]
    got = needed_definitions(cells, {"helper", "scipy", "model"})
    assert got == [["import numpy as np"],
                   ["try:\n    import scipy\nexcept ImportError:\n    scipy = None",
                    "SCALE = 2", "def helper(x):\n    return np.asarray(x) * SCALE"]]



def test_other_cells_changes_to_a_needed_object_are_kept_with_its_definition():
    """A table filled by a loop, a list appended to, a dict item or an attribute set in
    another cell are in force when Run All reaches the exercise: they are replayed after
    the name's definition, and only for a name the notebook itself defines (not
    ``np.random.seed(0)``, not a training loop of an object no exercise reads)."""
    from camcourse.coursework.notebooks import needed_definitions

    cells = ["import numpy as np\nnp.random.seed(0)\nTABLE = np.zeros(256)\n"
             "for i in range(256):\n    TABLE[i] = i / 255\n",
             "SCALE = []\nSCALE.append(255.0)\nOPTS = {}\nOPTS['axis'] = 1\n",
             "from types import SimpleNamespace\ncfg = SimpleNamespace()\ncfg.axis = 1\n"
             "model = make()\nfor epoch in range(10):\n    model.fit(epoch)\nprint(TABLE)\n"]
    got = needed_definitions(cells, {"TABLE", "SCALE", "OPTS", "cfg"})
    assert got == [["import numpy as np", "TABLE = np.zeros(256)",
                    "for i in range(256):\n    TABLE[i] = i / 255"],
                   ["SCALE = []", "SCALE.append(255.0)", "OPTS = {}", "OPTS['axis'] = 1"],
                   ["from types import SimpleNamespace", "cfg = SimpleNamespace()",
                    "cfg.axis = 1"]]
    assert needed_definitions(cells, {"model"})[2] == [
        "model = make()", "for epoch in range(10):\n    model.fit(epoch)"]
    # a call that changes its first argument, Torch's in-place ``_``, a walrus in a print
    cells = ["import types\nops = types.SimpleNamespace()\nsetattr(ops, 'spec', 'k')\n"
             "w = torch.empty(3)\ntorch.nn.init.zeros_(w)\nprint(w)\nprint(f'{(AX := 2)}')\n"]
    assert needed_definitions(cells, {"ops", "w", "AX"}) == [[
        "import types", "ops = types.SimpleNamespace()", "setattr(ops, 'spec', 'k')",
        "w = torch.empty(3)", "torch.nn.init.zeros_(w)", "print(f'{(AX := 2)}')"]]


def test_reading_other_cells_is_linear_in_their_statements():
    """Thousands of one-line statements, and a chain of definitions written in reverse
    order (``x0 = x1`` above ``x1 = x2``), are read in about a second: the grader's
    process, not the learner's, does this work."""
    from camcourse.coursework.notebooks import definitions, needed_definitions

    n = 20_000
    start = time.monotonic()
    assert len(definitions("a = 1\n" * n)) == n
    chain = "".join(f"x{i} = x{i + 1}\n" for i in range(n - 1, -1, -1)) + f"x{n} = 0\n"
    got = needed_definitions([chain, "z = 1\n"], {"x0"})
    assert time.monotonic() - start < 15
    assert len(got[0]) == n + 1 and got[1] == []
    assert got[0][-2:] == ["x0 = x1", f"x{n} = 0"]  # in the cell's order



def test_cells_full_of_magics_are_read_in_bounded_time():
    """IPython's transformer reads a whole cell again after each magic it turns into a
    call (2,000 ``%time`` lines: 17 s); beyond MAX_MAGIC_COST a cell's magic lines are
    commented out instead, and the other cells together get ten times that."""
    from camcourse.coursework.notebooks import (
        definitions,
        free_names,
        needed_definitions,
        without_magics,
    )

    start = time.monotonic()
    many = "%time x = 1\n" * 20_000 + "def helper(v):\n    return v\n"
    assert [d[1] for d in definitions(many)] == [{"helper"}]
    assert "helper" in free_names(many + "helper(1)\n")
    cells = ["%time x = 1\n" * 220 + "y = 1\n"] * 1_000
    assert sum(map(len, needed_definitions(cells, {"y"}))) == 1_000
    assert time.monotonic() - start < 30
    # a lesson's cell still goes through IPython: the magic becomes a call
    assert without_magics("%time x = 1\nz = 2") == (
        "get_ipython().run_line_magic('time', 'x = 1')\nz = 2\n")

def test_a_cell_too_long_to_parse_is_read_as_text_only():
    """The parser needs hundreds of times a source's size in memory, in the unconfined
    grader: a cell over MAX_PARSED_CELL is scanned for ``def`` lines, never parsed."""
    from camcourse.coursework import notebooks
    from camcourse.coursework.notebooks import (
        MAX_PARSED_CELL,
        defined_names,
        definitions,
        free_names,
    )

    big = "def helper(x):\n    return x\n" + "a = 1\n" * (MAX_PARSED_CELL // 6 + 1)
    parsed = []
    real = notebooks.ast.parse
    try:
        notebooks.ast.parse = lambda code, *a, **k: parsed.append(len(code)) or real(code)
        assert defined_names(big) == ["helper"]
        assert {"helper", "x", "a"} <= free_names(big)
        assert definitions(big) == []
    finally:
        notebooks.ast.parse = real
    assert parsed == []

def test_the_learner_camlib_has_no_check_helpers():
    from camcourse.coursework._library import library_without
    from camcourse.coursework._remote import learner_files

    files = library_without(learner_files(), (), "0.1")
    lesson07 = files["camcourse/checks/lesson07.py"].decode()
    assert "def _iou_variants(*args, **kwargs):" in lesson07
    lesson06 = files["camcourse/checks/lesson06.py"].decode()
    assert "class _TinyGAPNet" in lesson06 and "def exercise_6_2(*args" in lesson06


# ---------------------------------------------------------------------------
# A test lesson graded end to end
# ---------------------------------------------------------------------------


def _md(text):
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _code(text, *tags):
    return {"cell_type": "code", "metadata": {"tags": list(tags)}, "outputs": [],
            "execution_count": None, "source": text}


EXERCISES = {
    "91.1": "def camlib_source(name):\n    import camlib, pathlib\n"
            "    p = pathlib.Path(camlib.__file__).parent / name\n"
            "    return str(p), p.read_text(encoding='utf-8')\n",
    "91.2": "def identity(x):\n    return np.asarray(x)\n",
    "91.3": "def my_iou(a, b):\n    return reference.iou(a, b)\n",
    "91.4": "def uses_iou(a, b):\n    return reference.iou(a, b)\n",
}


def _lesson(setup="import numpy as np\nfrom camlib import reference\n"):
    cells = [_md("# 91 · grading"), _code(setup, "setup")]
    for number, source in EXERCISES.items():
        cells += [_md(f"### Exercise {number}: x"), _code(source, "exercise"),
                  _code(f"camcourse.checks.exercise_{number.replace('.', '_')}(f)", "check")]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _write(nb, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def lesson91(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    _write(_lesson(), root / "lessons" / "91_grading.ipynb")
    return root


def test_private_camlib_hidden_inputs_and_write_it_yourself(lesson91, monkeypatch):
    monkeypatch.setitem(catalogue.WRITE_IT_YOURSELF, "91.3", ("camlib.reference.iou",))
    sub = _write(_lesson(), lesson91 / "subs" / "a.ipynb")
    import importlib

    rows = grade([sub], lessons_dir=lesson91 / "lessons", check_modules=[CHECKS], seed=5,
                 verbose=False)
    message = {r.exercise: r.message for r in rows}
    assert [r.points for r in rows] == [1, 1, 0, 1], message
    assert "Exercise 91.3 asks you to write camlib.reference.iou; it is not in camlib while " \
        "this exercise is graded" in message["91.3"]
    checks = importlib.import_module("_coursework_checks_grading_checks")
    seen = [x.copy() for x in checks.SEEN]
    checks.SEEN.clear()
    grade([sub], lessons_dir=lesson91 / "lessons", check_modules=[CHECKS], seed=5, verbose=False)
    assert all(np.array_equal(a, b) for a, b in zip(seen, checks.SEEN, strict=True))  # --seed
    checks.SEEN.clear()
    grade([sub], lessons_dir=lesson91 / "lessons", check_modules=[CHECKS], verbose=False)
    assert not any(np.array_equal(a, b) for a, b in zip(seen, checks.SEEN, strict=True))



def test_other_cells_definitions_have_a_time_budget_in_all(lesson91, monkeypatch):
    """Ten definitions that each spin until their CPU alarm stop once the budget for
    other cells' definitions (REPLAY_SECONDS) is spent: a notebook of thousands would
    otherwise hold its grading process for hours."""
    grading = importlib.import_module("camcourse.coursework.grade")

    monkeypatch.setattr(grading, "REPLAY_SECONDS", 2.0)
    spin = "".join(f"s{i} = next(j for j in iter(int, 1) if j) + s{i + 1}\n"
                   for i in range(10))
    nb = _lesson("import numpy as np\nfrom camlib import reference\ns10 = 0\n" + spin)
    cell = next(i for i, c in enumerate(nb["cells"]) if "def identity" in c["source"])
    nb["cells"][cell]["source"] = "def identity(x):\n    return s0\n"
    sub = _write(nb, lesson91 / "subs" / "spin.ipynb")
    rows = grade([sub], lessons_dir=lesson91 / "lessons", check_modules=[CHECKS], seed=5,
                 cell_timeout=1, verbose=False, jobs=1)
    row = next(r for r in rows if r.exercise == "91.2")
    assert row.points == 0 and "statement(s) of other cells were skipped" in row.message
    assert row.learner_cpu < 6, row.learner_cpu  # not 10 s: 1 s each, until 2 s were spent
    assert [r.points for r in rows if r.exercise != "91.2"] == [1, 1, 1]


def test_imports_the_learner_calls_installed_share_one_import_budget(lesson91, monkeypatch):
    """91.1's cell puts an object in ``sys.modules`` whose attributes never come back;
    eight cells import from it, a constant between each two, and 91.2 needs them all.
    Each import is "installed" (loaded already) in the learner's process's words, and
    each group of them had the whole import budget: 8 × (import timeout + 10 s) for one
    exercise, 8 × 310 s at the default. They share one budget per exercise now, and the
    later exercises none once it was spent: the run takes one budget and some small ones."""
    grading = importlib.import_module("camcourse.coursework.grade")

    monkeypatch.setattr(grading, "REPLAY_SECONDS", 1.0)
    nb = _lesson()
    first = next(i for i, c in enumerate(nb["cells"]) if "def camlib_source" in c["source"])
    nb["cells"][first]["source"] += ("import sys, time\nclass _Stall:\n"
                                     "    def __getattr__(self, name):\n"
                                     "        time.sleep(10**6)\n"
                                     "sys.modules['stall'] = _Stall()\n")
    stalls = []
    for i in range(8):
        stalls += [_code(f"from stall import a{i}\n"), _code(f"x{i} = {i}\n")]
    nb["cells"][first + 2:first + 2] = stalls
    cell = next(i for i, c in enumerate(nb["cells"]) if "def identity" in c["source"])
    names = ", ".join(f"a{i}, x{i}" for i in range(8))
    nb["cells"][cell]["source"] = f"def identity(x):\n    ({names})\n    return np.asarray(x)\n"
    sub = _write(nb, lesson91 / "subs" / "stall.ipynb")
    start = time.monotonic()
    rows = grade([sub], lessons_dir=lesson91 / "lessons", check_modules=[CHECKS], seed=5,
                 cell_timeout=1, import_timeout=3, verbose=False, jobs=1)
    elapsed = time.monotonic() - start
    message = {r.exercise: r.message for r in rows}
    assert [r.points for r in rows][:2] == [1, 0] and all(r.graded for r in rows), message
    # stopped within the one budget: 3 s + 10 s, less what the exercise's other imports
    # (numpy's) took of it first
    stopped = re.search(r"`from stall import a0` failed: the learner's process was stopped "
                        r"after ([\d.]+) s", message["91.2"])
    assert stopped and 10 <= float(stopped[1]) <= 13, message["91.2"]
    # 8 × 13 s before; now 13 s (the budget) + 13 s (one small deadline, REPLAY_SECONDS
    # 1 s; its own imports in the later exercises get the small budget too)
    assert elapsed < 60, elapsed


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_learners_notebooks_share_one_grading_time(lesson91, monkeypatch, jobs):
    """Each notebook's waits are bounded, 50 of one learner's are not: a learner's
    notebooks get LEARNER_SECONDS of grading in all, and those that would start after it is
    spent get NOT GRADED rows that say so; another learner is graded as before."""
    grading = importlib.import_module("camcourse.coursework.grade")

    monkeypatch.setattr(grading, "LEARNER_SECONDS", 0.5)
    root = lesson91 / f"class_{jobs}"
    for name in ("ann/a.ipynb", "ann/b.ipynb", "ann/c.ipynb", "bob/a.ipynb"):
        _write(_lesson(), root / name)
    rows = grade([root], lessons_dir=lesson91 / "lessons", check_modules=[CHECKS], seed=5,
                 verbose=False, jobs=jobs)
    graded = {(r.student, Path(r.submission).name) for r in rows if r.graded}
    # jobs=2: ann's a and b start together, before either has taken any time
    assert graded == {("ann", "a.ipynb"), ("bob", "a.ipynb")} | (
        {("ann", "b.ipynb")} if jobs == 2 else set())
    assert all(r.points == r.max_points == 1 for r in rows if r.graded)
    late = [r for r in rows if not r.graded]
    assert len(late) == 4 * (4 - len(graded)) and all(
        "this learner's notebooks took more than 0.5 s of grading in all" in r.message
        for r in late), [r.message for r in late]


@pytest.mark.slow
def test_without_bubblewrap_grading_works_with_process_isolation(lesson91):
    sub = _write(_lesson(), lesson91 / "subs_process" / "a.ipynb")
    rows = grade([sub], lessons_dir=lesson91 / "lessons", check_modules=[CHECKS], seed=5,
                 verbose=False, sandbox=False)
    assert [r.points for r in rows] == [1, 1, 1, 1] and {r.isolation for r in rows} == {
        "process"}


def test_a_failed_import_is_reported_as_such(lesson91):
    nb = _lesson(setup="import numpy as np\nimport no_such_module_anywhere\n"
                       "from camlib import reference\n")
    nb["cells"][6]["source"] = "def identity(x):\n    return no_such_module_anywhere.f(x)\n"
    sub = _write(nb, lesson91 / "subs_import" / "b.ipynb")
    rows = grade([sub], lessons_dir=lesson91 / "lessons", check_modules=[CHECKS], verbose=False)
    by = {r.exercise: r for r in rows}
    assert by["91.2"].points == 0
    assert "the import `import no_such_module_anywhere` failed: ModuleNotFoundError" in \
        by["91.2"].message


# ---------------------------------------------------------------------------
# The course on a loaded machine
# ---------------------------------------------------------------------------


@pytest.mark.slow
def test_solutions_get_full_marks_and_student_copies_zero_on_a_loaded_machine(tmp_path):
    lessons = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    students = [NOTEBOOKS_DIR / "student" / p.name for p in lessons]
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        start = time.monotonic()
        rows = grade(lessons + students, out=tmp_path / "grades.csv", lessons_dir=NOTEBOOKS_DIR,
                     seed=2, verbose=False)  # a fixed secret seed: reproducible
        elapsed = time.monotonic() - start
    finally:
        for process in busy:
            process.kill()
            process.wait()
    solutions = [r for r in rows if Path(r.submission).parent == NOTEBOOKS_DIR]
    copies = [r for r in rows if Path(r.submission).parent != NOTEBOOKS_DIR]
    expected = {e.number for p in lessons for e in find_exercises(read_notebook(p))}
    assert {r.exercise for r in solutions} == {r.exercise for r in copies} == expected
    assert [r for r in solutions if r.points != r.max_points] == []
    assert sum(r.points for r in solutions) == sum(r.max_points for r in solutions)
    assert [r for r in copies if r.points or "not attempted yet" not in r.message] == []
    print(f"{len(lessons) + len(students)} notebooks graded under load in {elapsed:.0f} s; "
          f"solutions {sum(r.points for r in solutions):g}/"
          f"{sum(r.max_points for r in solutions):g}, student copies "
          f"{sum(r.points for r in copies):g}")


# ---------------------------------------------------------------------------
# Write-it-yourself by absence
# ---------------------------------------------------------------------------


def test_every_catalogue_name_is_a_top_level_definition_in_its_module_source():
    import ast

    from camcourse.coursework._library import module_path
    from camcourse.paths import REPO_ROOT

    for exercise, targets in catalogue.WRITE_IT_YOURSELF.items():
        for target in targets:
            path, name = module_path(target)
            tree = ast.parse((REPO_ROOT / path).read_text(encoding="utf-8"))
            defined = {n.name for n in tree.body
                       if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
            assert name in defined, f"{exercise}: {target} is not defined in {path}"


def test_the_generated_camlib_lacks_the_exercise_functions_and_says_so(tmp_path):
    from camcourse.coursework._library import library_without
    from camcourse.coursework._remote import learner_files

    files = learner_files()
    lib = library_without(files, catalogue.WRITE_IT_YOURSELF["7.1"], "7.1")
    text = lib["camlib/reference.py"].decode()
    original = files["camlib/reference.py"].decode()
    body = original.split("def iou(")[1].split("\ndef ")[0]
    assert body not in text and "def iou(*args, **kwargs)" in text
    namespace: dict = {}
    exec(compile(text, "reference.py", "exec"), namespace)  # noqa: S102
    with pytest.raises(RuntimeError, match="Exercise 7.1 asks you to write "
                                           "camlib.reference.iou; it is not in camlib"):
        namespace["iou"]((0, 0, 1, 1), (0, 0, 1, 1))
    with pytest.raises(LookupError, match="no top-level def or class 'renamed_iou'"):
        library_without(files, ("camlib.reference.renamed_iou",), "7.1")


def test_the_course_functions_a_lesson_imports_call_the_generated_camlib(tmp_path):
    """The learner's process imports camcourse (the lessons' figures, data, models) beside
    the generated camlib: a course function built on an absent camlib function gets its
    stub, and a camcourse target is absent too, each naming its package."""
    from camcourse.coursework._library import library_without
    from camcourse.coursework._remote import learner_files, write_package

    targets = ("camlib.reference.bounding_box", "camcourse.data.to_float")
    write_package(library_without(learner_files(), targets, "7.2"), tmp_path / "lib")
    code = ("import numpy as np, camlib, camcourse\n"
            "from camcourse.viz.maps import heat_mask_box\n"
            "from camcourse.data import to_float\n"
            "print(camlib.__file__, camcourse.__file__)\n"
            "for call in (lambda: heat_mask_box(np.eye(2), 4), lambda: to_float(np.eye(2))):\n"
            "    try:\n"
            "        call()\n"
            "    except RuntimeError as error:\n"
            "        print(error)\n")
    env = {"PYTHONPATH": str(tmp_path / "lib"), "MPLBACKEND": "Agg", "HOME": str(tmp_path),
           "PYTHONDONTWRITEBYTECODE": "1"}
    run = subprocess.run([sys.executable, "-s", "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=300)
    lines = run.stdout.splitlines()
    assert run.returncode == 0, run.stderr[-2000:]
    assert lines[0] == f"{tmp_path / 'lib' / 'camlib' / '__init__.py'} " \
                       f"{tmp_path / 'lib' / 'camcourse' / '__init__.py'}"
    assert lines[1:] == [
        "Exercise 7.2 asks you to write camlib.reference.bounding_box; it is not in camlib "
        "while this exercise is graded",
        "Exercise 7.2 asks you to write camcourse.data.to_float; it is not in camcourse "
        "while this exercise is graded"]


# ---------------------------------------------------------------------------
# Honest work: 0-d values, magics, demo lines, signatures
# ---------------------------------------------------------------------------


def test_zero_dimensional_values_stay_zero_dimensional():
    import torch

    for value in (np.float64(2.5), np.int64(3), np.array(1.5), np.float32(2)):
        back = _round_trip(value)
        assert np.shape(back) == () and back == value and np.asarray(back).dtype == \
            np.asarray(value).dtype
    assert type(_round_trip(np.float64(2.5))) is np.float64
    tensor = _round_trip(torch.tensor(4.0))
    assert tensor.shape == () and tensor.item() == 4.0


def test_magics_run_through_ipython_and_demo_lines_cost_nothing():
    from camcourse.coursework._runner import _Shell, as_python, run_cell

    namespace: dict = {}
    namespace["get_ipython"] = lambda: shell
    shell = _Shell(namespace)
    code = as_python("%%time\nimport math\ndef f(x):\n    return math.sqrt(x)\n")
    assert run_cell(code, "<exercise t>", namespace) is None and namespace["f"](4) == 2
    code = as_python("!ls\n%timeit -n1 -r1 1 + 1\nprint(images.shape)\ndef g():\n    return 1\n"
                     "g(undefined)\n")
    error = run_cell(code, "<exercise t>", namespace)
    assert isinstance(error, NameError) and namespace["g"]() == 1


def test_a_demo_that_runs_out_of_time_is_a_note_once_per_cell(monkeypatch):
    from camcourse.coursework import _runner

    spin = "import time\nt = time.process_time()\nwhile time.process_time() - t < 5:\n    pass\n"
    namespace: dict = {}
    monkeypatch.setattr(_runner, "_SECOND_WIND", [0.3])
    with _runner._Budget(0.3):
        error = _runner.run_cell("def f():\n    return 1\n" + spin + "def g():\n    return 2\n"
                                 "N = 3\n", "<exercise t>", namespace)
    assert isinstance(error, TimeoutError) and "line 5" in _runner._where(error)
    assert namespace["f"]() + namespace["g"]() == 3 and namespace["N"] == 3
    assert _runner._SECOND_WIND == [0.0]  # spent: a second slow statement fails the cell
    for wind, code in ((0.0, spin), (0.3, spin + "x = 1\n" + spin.replace("5", "6"))):
        monkeypatch.setattr(_runner, "_SECOND_WIND", [wind])
        with pytest.raises(_runner._CpuTimeUp), _runner._Budget(0.3):
            _runner.run_cell(code + "x = 1\ny = sum(1 for _ in iter(int, 1))\n",
                             "<exercise t>", {})


def test_a_class_folder_unzipped_on_macos_or_saved_by_jupyter_holds_one_notebook_each(tmp_path):
    from camcourse.coursework.grade import expand_submissions, student_name

    for name in ("ann/03_x.ipynb", "ann/.ipynb_checkpoints/03_x-checkpoint.ipynb",
                 "ann/._03_x.ipynb", "__MACOSX/ann/._03_x.ipynb", "bob/lesson/04_y.ipynb"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"\x00\x05\x16\x07Mac OS X" if "._" in name else b"{}")
    found = expand_submissions([tmp_path])
    assert [(p.relative_to(tmp_path).as_posix(), student_name(p, f)) for p, f in found] == [
        ("ann/03_x.ipynb", "ann"), ("bob/lesson/04_y.ipynb", "bob")]


def test_a_renamed_file_with_translated_headings_is_known_by_its_check_calls(tmp_path):
    from camcourse.coursework.grade import read_submission
    from camcourse.coursework.notebooks import read_notebook, source, write_notebook
    from camcourse.paths import REPO_ROOT as ROOT

    notebook = read_notebook(ROOT / "notebooks" / "student" / "03_scores_and_softmax.ipynb")
    for cell in notebook["cells"]:
        cell["metadata"] = {}
        if cell["cell_type"] == "markdown":
            cell["source"] = source(cell).replace("Exercise 3.", "Übung 3.")
    write_notebook(notebook, tmp_path / "lektion3.ipynb")
    plan = read_submission(tmp_path / "lektion3.ipynb", ROOT / "notebooks")
    assert plan.lesson == 3 and [e.number for e in plan.expected] == ["3.1", "3.2"]


def test_a_notebook_saved_with_a_byte_order_mark_is_read(tmp_path):
    from camcourse.coursework.notebooks import read_notebook

    path = tmp_path / "03_scores_and_softmax.ipynb"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"cells": [], "nbformat": 4}).encode())
    assert read_notebook(path)["cells"] == []


def test_the_function_graded_is_the_one_the_check_call_passes():
    from camcourse.coursework.grade import locate_cells
    from camcourse.coursework.notebooks import Exercise

    def code(text: str) -> dict:
        return {"cell_type": "code", "metadata": {}, "source": text}

    nb = {"cells": [code("def softmax(s):\n    return s\n"), code("exercise_3_2(softmax)"),
                    code("def softmax(s):\n    return 2 * s\n"),  # the fix, checked again
                    code("from camcourse.checks import exercise_3_2 as check\ncheck(softmax)"),
                    code("def my_iou(a, b):\n    return 0\n"), code("exercise_7_1(my_iou)"),
                    code("get_check('3.1')(lambda x: x)")]}
    expected = [Exercise("3.2", "", 0, 1, 1.0, "softmax"), Exercise("7.1", "", 4, 5, 1.0, "iou"),
                Exercise("3.1", "", 6, None, 1.0, "class_scores")]
    arguments: dict = {}
    where, checks = locate_cells(nb, expected, arguments=arguments)
    assert checks == {"3.2": 3, "7.1": 5, "3.1": 6} and where["3.2"] == 2
    assert arguments == {"7.1": "my_iou"}  # the alias call passes no name on its line


def test_annotations_and_global_statements_need_the_names_they_read():
    from camcourse.coursework.notebooks import free_names, needed_definitions

    assert free_names("def f(x: np.ndarray, *a: T, k: K = 1, **kw: W) -> torch.Tensor:\n"
                      "    return x\n") == {"np", "T", "K", "W", "torch"}
    assert free_names("def f(x):\n    global calls\n    calls += 1\n    return x\n") == \
        {"calls"}
    kept = needed_definitions(["import numpy as np\ncalls = 0\nother = 1\n"],
                              free_names("def f(x: np.ndarray):\n    global calls\n"
                                         "    calls += 1\n"))
    assert kept == [["import numpy as np", "calls = 0"]]


def test_a_top_level_await_runs_as_in_ipython():
    from camcourse.coursework._runner import run_cell

    namespace: dict = {}
    code = ("import asyncio\nasync def two():\n    return 2\nx = await two()\n"
            "def f():\n    return x\n")
    assert run_cell(code, "<exercise t>", namespace) is None and namespace["f"]() == 2


def test_a_module_written_by_writefile_is_written_and_importable(tmp_path, monkeypatch):
    from camcourse.coursework._runner import _Shell, as_python, run_cell
    from camcourse.coursework.notebooks import defined_names, needed_definitions

    cell = "%%writefile mine.py\ndef f(x):\n    return 2 * x\n"
    assert defined_names(cell) == [] and defined_names("%%time\ndef g():\n    pass\n") == ["g"]
    (kept,) = needed_definitions([cell], {"unrelated"})  # always kept: a later import reads it
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    namespace: dict = {}
    shell = _Shell(namespace)
    namespace["get_ipython"] = lambda: shell
    assert run_cell(kept[0], "<another cell>", namespace) is None
    assert run_cell(as_python("from mine import f\n"), "<exercise t>", namespace) is None
    assert namespace["f"](2) == 4


def test_submissions_that_would_share_a_student_name_are_named_by_their_folders():
    from camcourse.coursework.grade import student_names

    def names(*pairs):
        return student_names([(Path(p), Path(f) if f else None) for p, f in pairs])

    # grade ann/ bob/: both files are 04_x.ipynb
    assert names(("ann/04_x.ipynb", "ann"), ("bob/04_x.ipynb", "bob")) == ["ann", "bob"]
    # grade class/: sub-folders name the learners, files alone in it their stems
    assert names(("c/ann/04_x.ipynb", "c"), ("c/ann/02_x.ipynb", "c"),
                 ("c/bob.ipynb", "c")) == ["ann", "ann", "bob"]
    # folders alike too: their paths
    assert names(("x/a/04_x.ipynb", None), ("y/a/04_x.ipynb", None),
                 ("z/b/03_x.ipynb", None)) == ["x/a", "y/a", "03_x"]
    # grade ann/ bob/: ann's archive holds a folder bob/ with a notebook; it stays ann's
    # ("ann/bob"), and the real bob keeps his name, rows and feedback file
    assert names(("ann/03_x.ipynb", "ann"), ("ann/bob/03_x.ipynb", "ann"),
                 ("bob/03_x.ipynb", "bob")) == ["ann", "ann/bob", "bob"]
    assert names(("ann/bob/03_x.ipynb", "ann"), ("bob/04_x.ipynb", "bob"),
                 ("carl/03_x.ipynb", "carl")) == ["ann/bob", "04_x", "03_x"]
    assert names(("ann/bob/03_x.ipynb", "ann"), ("bob.ipynb", None)) == ["ann/bob", "bob"]


def test_a_forged_signature_with_a_keyword_parameter_cannot_stop_the_grader():
    from camcourse.coursework._remote import _signature

    assert list(_signature(["lambda", "x", "x", "1a"]).parameters) == ["arg0", "x", "arg2"]


# ---------------------------------------------------------------------------
# A run always finishes with every row
# ---------------------------------------------------------------------------


@pytest.mark.slow
def test_clean_up_is_iterative_and_never_follows_links(tmp_path):
    import os
    import stat

    from camcourse.coursework._remote import remove_tree

    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    outside.chmod(0o600)
    root = tmp_path / "work"
    deep = root
    deep.mkdir()
    for _ in range(1500):
        deep = deep / "d"
        os.mkdir(deep)
    (root / "link").symlink_to(outside)
    (root / "dirlink").symlink_to(tmp_path)
    (root / "ro").mkdir()
    (root / "ro" / "f").write_text("x")
    (root / "ro").chmod(0o500)
    root.chmod(0o500)
    remove_tree(root)
    assert not root.exists() and outside.read_text() == "keep"
    assert stat.S_IMODE(outside.stat().st_mode) == 0o600


def test_cell_matching_is_linear_and_the_last_definition_before_the_check_counts():
    from camcourse.coursework.grade import match_cells

    expected = [e for e in find_exercises(_lesson()) if e.number]
    nb = _lesson()
    first = dict(nb["cells"][3], source="def identity(x):\n    return 0\n")
    nb["cells"].insert(3, first)  # a wrong first attempt above the right cell, both tagged
    nb["cells"] += [{"cell_type": "code", "metadata": {}, "source": ""}] * 100_000
    start = time.monotonic()
    where = match_cells(nb, expected)
    assert time.monotonic() - start < 10
    assert "return np.asarray(x)" in nb["cells"][where["91.2"]]["source"]



def test_a_function_written_in_its_check_cell_above_the_call_is_the_one_graded():
    """The stub left in the exercise cell and the function written above the check call in
    the check's cell: Run All's check passes the latter. In the learner's process the
    public check is a stub that returns None (the grader runs the check), so the call in
    that cell is no error; the checks' helpers still raise."""
    from camcourse.coursework._library import check_helpers_removed
    from camcourse.coursework.grade import match_cells

    expected = [e for e in find_exercises(_lesson()) if e.number]
    nb = _lesson()
    stub = next(i for i, c in enumerate(nb["cells"]) if "def identity" in c["source"])
    nb["cells"][stub]["source"] = "def identity(x):\n    raise NotImplementedError\n"
    nb["cells"][stub + 1]["source"] = ("def identity(x):\n    return np.asarray(x)\n\n"
                                       "camcourse.checks.exercise_91_2(identity)\n")
    assert match_cells(nb, expected)["91.2"] == stub + 1
    namespace: dict = {}
    exec(check_helpers_removed(  # noqa: S102 - the stubs of a module written here
        "def exercise_3_2(fn):\n    return fn(1)\n\ndef _spearman(a, b):\n    return 1\n"),
        namespace)
    assert namespace["exercise_3_2"](lambda x: 1 / 0) is None
    with pytest.raises(RuntimeError, match="the checks' helper _spearman"):
        namespace["_spearman"](1, 2)


def test_a_notebook_saved_in_format_3_is_read_as_its_cells(tmp_path):
    """IPython 1–3 saved ``worksheets`` of cells with the code in ``input``: the same
    exercises are found in it, not "no list of cells"."""
    from camcourse.coursework.grade import match_cells
    from camcourse.coursework.notebooks import read_notebook

    nb = _lesson()
    old = [{**c, "input": c.pop("source")} if c["cell_type"] == "code" else c
           for c in nb["cells"]]
    path = _write({"nbformat": 3, "nbformat_minor": 0, "metadata": {"name": ""},
                   "worksheets": [{"cells": old, "metadata": {}}]}, tmp_path / "91_old.ipynb")
    expected = [e for e in find_exercises(_lesson()) if e.number]
    assert sorted(match_cells(read_notebook(path), expected)) == [e.number for e in expected]


def test_a_name_defined_only_below_the_check_is_named_in_the_failed_row():
    """A helper or an import run out of order (its cell below the check): Run All raises
    NameError, and the row says where the name is and what to do."""
    from camcourse.coursework.grade import _defined_below

    cells = [_code("def f(x):\n    return F.relu(x)\n"), _md("text"),
             _code("camcourse.checks.exercise_91_1(f)"),
             _code("print(F)"), _code("import torch.nn.functional as F\n")]
    message = "✘ f(x=1) raised NameError: name 'F' is not defined (line 2)"
    assert _defined_below(message, cells, 2) == (
        " (`F` is defined only below the check, in code cell 4: Run All runs that cell "
        "after the check, so move it above the exercise)")
    assert _defined_below(message.replace("'F'", "'G'"), cells, 2) == ""
    assert _defined_below("✘ wrong values", cells, 2) == ""


def test_a_package_the_grader_lacks_is_named_in_the_failed_row():
    """Colab has pandas, the course's environment does not: the row says so."""
    from camcourse.coursework.grade import _not_installed

    message = ("✘ f raised NameError: name 'pd' is not defined (note: a line of the exercise "
               "cell raised ModuleNotFoundError: No module named 'pandas.core' (line 1))")
    assert _not_installed(message).startswith(
        " (the package `pandas` is not installed where the course is graded")
    assert _not_installed("✘ f raised NameError: name 'pd' is not defined") == ""


def test_a_renamed_function_in_an_untagged_cell_is_found_by_the_name_its_check_passes():
    """Tags lost (a front end that drops metadata) and the function renamed: the check
    call ``exercise_91_2(my_identity)`` names the cell's function."""
    from camcourse.coursework.grade import match_cells

    expected = [e for e in find_exercises(_lesson()) if e.number]
    nb = _lesson()
    cell = next(i for i, c in enumerate(nb["cells"]) if "def identity" in c["source"])
    nb["cells"][cell] = _code("def my_identity(x):\n    return np.asarray(x)\n")
    nb["cells"][cell + 1] = _code("camcourse.checks.exercise_91_2(my_identity)")
    for c in nb["cells"]:
        c["metadata"] = {}
    assert match_cells(nb, expected)["91.2"] == cell


def test_numbers_too_long_for_int_are_no_exercise_numbers():
    """``int()`` refuses 5,000 digits: a heading or a check call with such a number is
    text, not a reason to lose the notebook's rows."""
    from camcourse.coursework.grade import _content_lesson, match_cells

    expected = [e for e in find_exercises(_lesson()) if e.number]
    nb = _lesson()
    nb["cells"].insert(0, _md("### Exercise " + "9" * 5000 + ".1: x"))
    nb["cells"].append(_code("exercise_" + "7" * 5000 + "_1(f)\n"))
    assert _content_lesson(nb) == 91
    assert sorted(match_cells(nb, expected)) == ["91.1", "91.2", "91.3", "91.4"]

def test_each_student_gets_a_feedback_file_of_their_own(tmp_path):
    import unicodedata

    from camcourse.coursework.grade import Grade, RunInfo, _Output

    out = _Output(tmp_path / "g.csv", None, RunInfo(1, "0", "abc"))
    for student in ("张伟", "李娜", "Zoë", "Zoé", "ann b", "ann_b", "张伟", "Li", "LI",
                    "Zoe\u0308"):  # one file name each on macOS and Windows too
        out.record([Grade("s.ipynb", "1.1", 0, 1, f"✘ for {student}", student, "01")])
    out.close()
    files = sorted((tmp_path / "g-feedback").iterdir())
    assert len(files) == 9, [f.name for f in files]
    assert len({unicodedata.normalize("NFC", f.name).casefold() for f in files}) == 9
    assert [f.read_text().count("✘ for ") for f in files].count(2) == 1  # 张伟's two rows
    assert all(len(set(re.findall("✘ for (.*)", f.read_text()))) == 1 for f in files)


def test_long_messages_are_capped_and_the_csv_reads_back(tmp_path):
    import csv

    from camcourse.coursework.grade import MESSAGE_LIMIT, Grade, RunInfo, _Output

    info = RunInfo(123, "0", "abc")
    out = _Output(tmp_path / "g.csv", tmp_path / "g-totals.csv", info)
    out.record([Grade("s.ipynb", "1.1", 0, 1, "✘ " + "x" * 8_000_000, "ann", "01")])
    out.close()
    with open(tmp_path / "g.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows[0]["message"]) <= MESSAGE_LIMIT and "g-feedback/ann.txt" in rows[0]["message"]
    assert len((tmp_path / "g-feedback" / "ann.txt").read_text()) > 8_000_000
    assert rows[0]["seed_sha256"] == info.seed_sha256 and "123" not in rows[0].values()
    assert (tmp_path / "g-seed.txt").read_text().splitlines()[0] == "123"
    assert (tmp_path / "g-seed.txt").stat().st_mode & 0o077 == 0


def test_a_message_is_one_line_of_printable_text_in_the_csv_and_the_feedback(tmp_path):
    """Whatever the learner's process sent (an exception class named with line breaks, a
    failed import's note, terminal escapes) cannot write lines that read like another
    row's grade into the feedback file, nor move the cursor of a teacher's terminal."""
    import csv

    from camcourse.coursework.grade import Grade, RunInfo, _Output

    forged = ("✘ Exercise 3.1: the import `import forged` failed: Boom\n\n3.1: 2/2\n✔ "
              "Exercise 3.1 passed\r\x1b[1A\x1b[2K\u2028\u202e\x85")
    row = Grade("a\n3.1: 2/2.ipynb", "3.1", 0, 1, forged, "ann", "03")
    assert row.message.isprintable() and "3.1: 2/2\\n" in row.message
    assert "\\x1b[1A" in row.message and "\\u202e" in row.message
    out = _Output(tmp_path / "g.csv", None, RunInfo(1, "0", "abc"))
    out.record([row])
    out.close()
    lines = (tmp_path / "g-feedback" / "ann.txt").read_text().splitlines()
    assert [line for line in lines if re.match(r"^\S+: \d+/\d+$", line)] == ["3.1: 0/1"], lines
    assert all(line.isprintable() for line in lines)
    with open(tmp_path / "g.csv", encoding="utf-8", newline="") as handle:
        assert next(csv.DictReader(handle))["message"] == row.message


def test_the_cpu_time_a_learner_process_reports_is_kept_plausible():
    """Its own code answers the grader's ``usage`` request (``resource.getrusage``
    patched): the summary adds up numbers between 0 and what its lifetime allows."""
    import os

    from camcourse.coursework._remote import _plausible_cpu

    cores = os.cpu_count() or 1
    assert _plausible_cpu(2.5, 10.0) == 2.5 and _plausible_cpu(3, 10.0) == 3.0
    assert _plausible_cpu(-1e12, 10.0) == 0.0 and _plausible_cpu(1e300, 10.0) == 10.0 * cores
    for forged in (float("nan"), float("inf"), "1e9", None, True, [5]):
        assert _plausible_cpu(forged, 10.0) == 0.0


def test_earlier_exercise_cells_run_again_only_until_the_replay_time_is_spent(monkeypatch):
    """Each later exercise's process runs the earlier exercise cells again; a cell that
    waits just under its deadline (and passes) would cost it once per later exercise.
    Once the submission's replay time is spent, only their definitions run."""
    import types

    from camcourse.coursework._runner import run_cell

    grading = importlib.import_module("camcourse.coursework.grade")
    namespace: dict = {}
    start = time.monotonic()
    assert run_cell("import time\ntime.sleep(30)\nfor i in range(10**9): pass\n"
                    "def f():\n    return 1\n", "<exercise t>", namespace,
                    definitions_only=True) is None
    assert time.monotonic() - start < 5 and namespace["f"]() == 1

    clock = [0.0]
    monkeypatch.setattr(grading, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))

    class Process:
        alive, requests = True, []

        def start(self):
            pass

        def request(self, header, *args, **kwargs):
            self.requests.append(header)
            clock[0] += 0.0 if header.get("definitions_only") else 20.0  # each run waits
            return {"status": "ok"}, []

    replay = grading.Replay()
    settings = grading.Settings(Path("."))
    cells = [("exec", f"def f{i}():\n    pass\n") for i in range(4)]
    for last in range(1, 5):  # lesson 05: four exercises, each after the earlier cells
        process = Process()
        process.requests = []
        ran, _, note = grading._prepare(process, cells[:last], settings, replay=replay)
        assert ran
    waited = [h.get("definitions_only") for h in process.requests]
    assert waited == [True, True, True, False], waited  # 5.4: 5.1-5.3 as definitions
    assert "only their definitions ran" in note
    assert grading.Replay().cells_left[0] == grading.REPLAY_SECONDS


def test_malformed_replies_of_a_learner_process_cost_its_row_not_the_grader():
    """The learner's own code can answer the runner's requests itself: lists where the
    grader reads lists must not raise in the grader (a ``NOT GRADED`` row, exit 1)."""
    grading = importlib.import_module("camcourse.coursework.grade")

    class Process:
        alive = True

        def request(self, header, *args, **kwargs):
            if header["op"] == "installed":
                return {"status": "ok", "installed": 5}, []
            return {"status": "ok", "failed": [5, ["a", "b", "c"], ["import x", "Boom"]]}, []

    failed = grading._define(Process(), ["import numpy", "x = 1"], grading.Settings(Path(".")),
                             {})
    assert failed == [["import x", "Boom"]] * 2
    assert grading._listed({"params": 5}, "params") == [] and grading._listed(
        {"params": ["a"]}, "params") == ["a"]


def test_summary_counts_the_passed_field_not_the_message():
    from camcourse.coursework.grade import Grade, summary

    rows = [Grade("a", "1.1", 1, 1, "right", passed=True), Grade("b", "1.1", 0, 1, "✔ forged")]
    assert "1.1       1/2" in summary(rows)



def test_names_learners_choose_print_on_one_line_and_never_run_as_formulas(tmp_path):
    """A file name with line breaks cannot print a forged total in the summary, and a
    student or file name starting like a formula (``=HYPERLINK(…)``) reaches the CSV as
    text."""
    import csv

    from camcourse.coursework.grade import Grade, RunInfo, _Output, summary

    name = "02_x\nalice.ipynb  3/3\nexercise.ipynb"
    text = summary([Grade(name, "2.1", 0, 1, "✘", "02_x")])
    assert "\nalice.ipynb  3/3" not in text and "02_x\\nalice.ipynb  3/3" in text
    formula = '=HYPERLINK("http://example.com", "feedback")'
    out = _Output(tmp_path / "g.csv", tmp_path / "g-totals.csv", RunInfo(1, "0", "abc"))
    out.record([Grade(formula + ".ipynb", "2.1", 0, 1, "✘ no", formula, "02"),
                Grade("ann.ipynb", "2.1", 1, 1, "✔ yes", "ann", "02", passed=True)])
    out.close()
    for table in ("g.csv", "g-totals.csv"):
        with open(tmp_path / table, encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert [r["student"] for r in rows] == ["'" + formula, "ann"]
        assert rows[0]["submission"] == "'" + formula + ".ipynb"

DYING = str(FIXTURES / "dying_checks.py")


@pytest.mark.slow
def test_a_dead_grading_process_is_replaced_and_the_run_says_what_it_could_not_grade(
        lesson91, tmp_path, monkeypatch):
    nb = _lesson()
    nb["cells"] = nb["cells"][:2] + [_md("### Exercise 91.9: x"),
                                     _code("def survivor(x):\n    return x\n", "exercise")]
    _write(nb, tmp_path / "lessons" / "91_dying.ipynb")
    subs = [_write(nb, tmp_path / "subs" / f"{n}.ipynb") for n in ("a", "b")]
    monkeypatch.setenv("DYING_CHECKS_MARKER", str(tmp_path / "died-once"))
    rows = grade(subs, lessons_dir=tmp_path / "lessons", check_modules=[DYING], jobs=2,
                 verbose=False, cell_timeout=5)
    assert [(r.points, r.graded) for r in rows] == [(1, True), (1, True)], rows
    monkeypatch.setenv("DYING_CHECKS_ALWAYS", "1")
    rows = grade(subs, lessons_dir=tmp_path / "lessons", check_modules=[DYING], jobs=2,
                 verbose=False, cell_timeout=5)
    assert [r.graded for r in rows] == [False, False]
    assert all("NOT GRADED: the grading process died twice" in r.message for r in rows)


def test_require_sandbox_refuses_to_grade_without_bubblewrap(monkeypatch, tmp_path):
    from camcourse.coursework import _sandbox

    monkeypatch.setitem(_sandbox._BWRAP_STATE, "problem", "bubblewrap is not installed")
    with pytest.raises(RuntimeError, match="--require-sandbox: bubblewrap is not installed"):
        grade([tmp_path], require_sandbox=True, verbose=False)


@pytest.mark.slow
def test_only_installed_imports_get_the_import_budget(tmp_path):
    """A computation in a ``try`` block, or a module the learner wrote and imports, is a
    definition like any other: skipped after the small budget, not given the minutes an
    import of Torch may need on a loaded machine."""
    from camcourse.coursework.notebooks import set_source

    nb = read_notebook(NOTEBOOKS_DIR / "04_swapping_the_sums.ipynb")
    cells = {e.number: e.cell for e in find_exercises(nb)}
    first = cells["4.1"]
    set_source(nb["cells"][cells["4.2"]], "open('slow_helper.py', 'w').write("
               "'while True:\\n    pass\\n')\n" + "".join(nb["cells"][cells["4.2"]]["source"])
               + "\n_uses = lambda: (SLOW, slow_helper)\n")
    nb["cells"][first:first] = [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
         "source": "try:\n    import math\n    SLOW = sum(range(10**12))\n"
                   "except ImportError:\n    pass\n"}]
    nb["cells"].insert(cells["4.2"] + 2, {"cell_type": "code", "metadata": {}, "outputs": [],
                                          "execution_count": None,
                                          "source": "import slow_helper\n"})
    path = tmp_path / "04_slow.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    start = time.monotonic()
    from camcourse.coursework.grade import grade_notebook

    rows = grade_notebook(path, cell_timeout=2, import_timeout=240)
    assert time.monotonic() - start < 120
    assert [r.points for r in rows] == [1, 1, 1], [r.message for r in rows]


# ---------------------------------------------------------------------------
# grader6: a fresh attack (paths to an answer, cells bound by assignment, type names)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("exercise", "target"), [
    ("5.2", "camcourse.benchmarks.wsol.normalize"),
    ("7.1", "camcourse.benchmarks.wsol.inclusive_iou"),
    ("7.2", "camlib.sweep.map_boxes"),
    ("7.3", "camlib.sweep.map_boxes"),
    ("5.3", "camcourse.viz.maps.heat_mask_box"),
    ("5.3", "camcourse.viz.localization.plot_box_from_cam"),
    ("7.1", "camlib.sweep._overlap"),
    # 0.1's answer, uint8 / 255 as floats: camlib's evaluation batches
    # (``next(_batches(SimpleNamespace(images=x, labels=...), len(x), "cpu"))[0]``) and the
    # figures' image helper (``display_image``, also ``viz.as_display_image``) per image
    ("0.1", "camlib.localize._batches"),
    ("0.1", "camcourse.viz._common.display_image"),
    # 1.1's hook removed when a with block ends; one image's M_c drawn as an image whose
    # data is the map (4.1, 10.1); the tight half-open box of a mask (7.2's last step)
    ("1.1", "camlib.extract._Hooked"),
    ("4.1", "camcourse.viz.maps.plot_worked_example"),
    ("10.1", "camcourse.viz.maps.plot_worked_example"),
    ("7.2", "camcourse.data._boxes_from_masks")])
def test_camcourse_copies_of_an_answer_are_out_of_the_learner_library(exercise, target):
    """Choe et al.'s port (``camcourse.benchmarks.wsol``) normalizes a map (5.2's min-max
    half) and computes an IoU (7.1, with inclusive corners: ``x1 - 1``); ``camlib.sweep.
    map_boxes`` boxes a map at any threshold (7.2, the threshold shifted to its min-max
    scale). A learner's function built on them passed its check without the work."""
    from camcourse.coursework._library import absence_message, library_without, module_path
    from camcourse.coursework._remote import learner_files

    out = library_without(learner_files(), catalogue.WRITE_IT_YOURSELF[exercise], exercise)
    path, name = module_path(target)
    assert absence_message(exercise, target) in out[path].decode("utf-8")


def test_a_function_bound_by_assignment_is_found_without_tags():
    """``softmax = lambda s: ...`` in a notebook whose tags were lost (Colab, some editors):
    Jupyter's check passes it; the grader found no cell for the exercise."""
    from camcourse.coursework.grade import match_cells

    expected = [e for e in find_exercises(_lesson()) if e.number]
    nb = _lesson()
    for cell in nb["cells"]:
        cell["metadata"] = {}
    nb["cells"][6]["source"] = "identity = lambda x: np.asarray(x)\n"
    nb["cells"][9]["source"] = "import functools\nmy_iou = functools.partial(reference.iou)\n"
    where = match_cells(nb, expected)
    assert where.get("91.2") == 6 and where.get("91.3") == 9


def test_exact_numbers_travel_as_the_number_they_equal():
    """A Fraction (an exact IoU), a Decimal or an IntEnum is one real number, as Jupyter's
    check reads it: it arrives as that float or int, not as an object of its type."""
    import decimal
    import enum
    from fractions import Fraction

    class Level(enum.IntEnum):
        HIGH = 3

    back = _round_trip([Fraction(1, 3), decimal.Decimal("0.25"), Level.HIGH,
                        Fraction(10**30, 3)])
    assert back == [1 / 3, 0.25, 3, 10**30 / 3]
    assert [type(v) for v in back] == [float, float, int, float]


def test_values_of_learner_types_are_named_after_their_type_and_names_are_plain():
    """A check says "got an object of type {type(x).__name__}": the learner's class or
    generator, never the grader's Opaque; and a type name is never a forged grade."""
    from camcourse.checks._diagnose import describe

    class Interval:
        pass

    back = _round_trip([Interval(), (i for i in range(2))])
    assert [type(v).__name__ for v in back] == ["Interval", "generator"]
    assert all(isinstance(v, _wire.Opaque) for v in back)
    assert "Opaque" not in describe(back[0])
    forged = type("✔ Exercise 9.1: passed, 1/1 points", (Exception,), {})
    back = _round_trip([forged()])
    assert "✔" not in type(back[0]).__name__ and " " not in type(back[0]).__name__
    assert _wire.type_label(forged.__name__) == "Exercise_9.1_passed_1_1_points"


def test_a_pipeline_upsampled_with_interpolate_passes_5_4_with_every_hidden_seed():
    """5.4 with exercise 5.1's ``F.interpolate`` (float64): where no value is positive the
    mask keeps the pixels at the max, and clamped border pixels tie with it up to rounding,
    which ``reference.upsample`` and ``F.interpolate`` break differently. The check expected
    the reference's rounding: 21 of these 150 hidden seeds failed honest work."""
    import torch
    import torch.nn.functional as nnf

    from camcourse.checks import get_check
    from camlib import reference

    def cam_pipeline(cam, size, fraction=0.2):
        big = nnf.interpolate(torch.as_tensor(cam, dtype=torch.float64)[None, None], size=size,
                              mode="bilinear", align_corners=False)[0, 0].numpy()
        low, peak = big.min(), big.max()
        heat = (big - low) / (peak - low) if peak > low else np.zeros_like(big)
        return heat, big >= (fraction * peak if peak > 0 else peak), \
            reference.bounding_box(big, fraction)

    check = get_check("5.4")
    failed = [seed for seed in range(1000, 1150) if not check(
        cam_pipeline, raise_on_fail=False, verbose=False, hidden_seed=seed).passed]
    assert failed == []


def test_a_file_name_with_a_student_number_before_the_lesson_is_graded_as_the_lesson(tmp_path):
    """``ann_12_02_pooling.ipynb`` (a learning platform's export, or a learner's renaming):
    the first ``NN_`` is a student number, not a lesson; the notebook is lesson 02's."""
    from camcourse.coursework.grade import read_submission

    path = tmp_path / "ann_12_02_pooling.ipynb"
    path.write_bytes((NOTEBOOKS_DIR / "02_pooling.ipynb").read_bytes())
    plan = read_submission(path, NOTEBOOKS_DIR)
    assert plan.lesson == 2 and plan.problem is None
    assert [e.number for e in plan.expected] == ["2.1", "2.2", "2.3"]
    # a name that holds no lesson of the course still says so
    path = path.rename(tmp_path / "12_x.ipynb")
    assert "no lesson 12" in read_submission(path, NOTEBOOKS_DIR).problem


INITVAR_BOX = '''from dataclasses import InitVar, dataclass, field


@dataclass
class Box:
    coords: InitVar[tuple]
    x1: int = field(init=False)

    def __post_init__(self, coords):
        self.x1 = int(coords[2])


def right_edge(box) -> int:
    return Box(box).x1
'''


def test_learner_cells_compile_with_their_own_future_features_only():
    """The runner's ``from __future__ import annotations`` postponed every learner's
    annotations: a dataclass's ``InitVar[tuple]`` read as a string was taken for a plain
    field, and an honest ``__post_init__(self, coords)`` raised TypeError (Jupyter, on
    Python 3.11, evaluates them). A learner's own future import lasts, as in IPython."""
    from camcourse.coursework import _runner

    run_cell, future = _runner.run_cell, getattr(_runner, "_FUTURE", [0])
    saved = future[0]
    try:
        future[0] = 0  # a fresh learner's process
        namespace = {"__name__": "__main__"}
        assert run_cell(INITVAR_BOX, "<exercise t>", namespace) is None
        assert namespace["right_edge"]((0, 0, 7, 9)) == 7
        assert namespace["right_edge"].__annotations__["return"] is int
        assert run_cell("from __future__ import annotations\n", "<exercise t>", namespace) is None
        assert run_cell("def g(x: Undefined) -> int:\n    return 1\n", "<exercise t>",
                        namespace) is None
        assert namespace["g"].__annotations__ == {"x": "Undefined", "return": "int"}
    finally:
        future[0] = saved


# ---------------------------------------------------------------------------
# What stopped a run for everybody, or held it: text, names, cells, sleeping cells
# ---------------------------------------------------------------------------


def test_text_that_utf8_cannot_encode_is_written_escaped(tmp_path):
    """A file name whose bytes are not UTF-8 (Python reads them as lone surrogates) or a
    learner's error text holding one stopped the CSV and the feedback of every later
    student with UnicodeEncodeError; a folder of 85 Chinese characters (255 bytes) made a
    feedback file name too long for the file system."""
    from camcourse.coursework.grade import Grade, RunInfo, _Output

    out = _Output(tmp_path / "g.csv", tmp_path / "t.csv", RunInfo(1, "0", "abc"))
    out.record([Grade("subs/02_x\udcff.ipynb", "2.1", 0, 1, "raised ValueError: \udc80",
                      "ann\udcff", "02")])
    out.record([Grade("subs/00_setup.ipynb", "0.1", 1, 1, "✔ passed", "张" * 85, "00",
                      passed=True)])
    out.close()
    text = (tmp_path / "g.csv").read_text(encoding="utf-8")
    assert "ann\\udcff" in text and "\\udc80" in text and "张" * 85 in text
    files = sorted((tmp_path / "g-feedback").iterdir())
    assert len(files) == 2 and all(len(f.name.encode()) <= 255 for f in files)
    assert any("✔ passed" in f.read_text(encoding="utf-8") for f in files)


def test_a_notebook_of_too_many_cells_is_refused_before_parsing(tmp_path, monkeypatch):
    from camcourse.coursework import notebooks

    path = tmp_path / "03_x.ipynb"
    path.write_text('{"cells": [' + '{"cell_type": "code"}, ' * (notebooks.MAX_CELLS + 1)
                    + '{"cell_type": "code"}]}', encoding="utf-8")
    with pytest.raises(ValueError, match="over the limit of 250,000"):
        read_notebook(path)
    parsed = []
    real = notebooks.definitions
    monkeypatch.setattr(notebooks, "definitions",
                        lambda code, **kw: parsed.append(code) or real(code, **kw))
    cells = [""] * 100_000 + ["x = 1"] * 100_000
    needed = notebooks.needed_definitions(cells, {"x"})
    assert len(needed) == len(cells) and needed[100_000] == ["x = 1"]
    # empty cells are never parsed; the others cost CELL_PARSE_COST of the budget at least
    assert len(parsed) == notebooks.MAX_PARSED_NOTEBOOK // notebooks.CELL_PARSE_COST


@pytest.mark.slow
def test_an_exercise_cell_that_ended_the_process_runs_once_per_submission(lesson91,
                                                                        monkeypatch):
    """91.1's cell sleeps: its own exercise waits for the cell's deadline, and the three
    exercises after it skip the cell instead of waiting for it again (four deadlines)."""
    grading = importlib.import_module("camcourse.coursework.grade")

    nb = _lesson()
    cell = next(i for i, c in enumerate(nb["cells"]) if "def camlib_source" in c["source"])
    nb["cells"][cell]["source"] = "import time\ntime.sleep(10**6)\n"
    sub = _write(nb, lesson91 / "subs_sleep" / "sleep.ipynb")
    runs = []
    real = grading._exec
    monkeypatch.setattr(grading, "_exec", lambda process, code, *a, **k: (
        runs.append(code), real(process, code, *a, **k))[1])
    rows = grade([sub], lessons_dir=lesson91 / "lessons", check_modules=[CHECKS], seed=5,
                 cell_timeout=1, verbose=False, jobs=1)
    assert [r.points for r in rows] == [0, 1, 1, 1], [r.message for r in rows]
    assert runs.count("import time\ntime.sleep(10**6)\n") == 1, len(runs)


def test_a_folder_nested_deeper_than_the_recursion_limit_is_searched(tmp_path):
    """1,500 nested directories in a submitted folder (an archive a learner made) raised
    RecursionError in ``rglob`` before any row was written; the search is iterative."""
    from camcourse.coursework._remote import remove_tree

    grading = importlib.import_module("camcourse.coursework.grade")
    root = tmp_path / "subs"
    deep = root / "ann"
    deep.mkdir(parents=True)
    try:
        for _ in range(1500):
            deep = deep / "d"
            deep.mkdir()
        (deep / "00_setup.ipynb").write_text("{}", encoding="utf-8")
        (root / "bob.ipynb").write_text("{}", encoding="utf-8")
        (root / "link.ipynb").symlink_to(root / "ann")  # listed, never followed into
        found = grading.expand_submissions([root])
        assert [p.name for p, _ in found] == ["00_setup.ipynb", "bob.ipynb", "link.ipynb"]
        assert grading.student_names(found) == ["ann", "bob", "link"]
    finally:
        remove_tree(root)  # iterative too: shutil.rmtree recurses as rglob did


def test_the_grader_s_own_work_on_an_answer_has_a_deadline():
    """11.3's check turned each of 200 million one-byte "boxes" into a tuple, in the
    grader: 20 minutes and some 15 GB. The check runs under a wall-clock deadline
    (``_deadline``) whose exception no check catches; an outer timer is put back."""
    import signal

    grading = importlib.import_module("camcourse.coursework.grade")
    outer = signal.signal(signal.SIGALRM, signal.SIG_IGN)
    try:
        start = time.monotonic()
        with pytest.raises(grading._CheckTooLong), grading._deadline(0.3):
            while True:
                try:
                    sum(range(10**5))
                except Exception:  # noqa: BLE001, S112 - a check's broad except
                    continue
        assert time.monotonic() - start < 5
        assert signal.getsignal(signal.SIGALRM) is signal.SIG_IGN
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    finally:
        signal.signal(signal.SIGALRM, outer)


# ---------------------------------------------------------------------------
# A learner's folder of thousands of notebooks
# ---------------------------------------------------------------------------


def test_a_learners_folder_gets_at_most_the_limit_of_notebooks_graded(tmp_path, monkeypatch):
    """An archive of 5,000 copies of a lesson in ``submissions/ann/`` cost a process per
    exercise of each (some 2 s, minutes for cells that sleep): hours of the whole class's
    grading. Past the limit a notebook gets one row saying so and runs nothing; another
    learner's folder and the files directly in the submitted folder are not counted."""
    grading = importlib.import_module("camcourse.coursework.grade")

    monkeypatch.setattr(grading, "MAX_NOTEBOOKS_PER_LEARNER", 3)
    for folder in ("ann", "bob"):
        (tmp_path / folder).mkdir()
    for i in range(5):
        (tmp_path / "ann" / f"00_setup_{i}.ipynb").write_text("{}")
        (tmp_path / f"flat_{i}.ipynb").write_text("{}")
    (tmp_path / "bob" / "00_setup.ipynb").write_text("{}")
    found = grading.expand_submissions([tmp_path])
    over = dict(zip((p.relative_to(tmp_path).as_posix() for p, _ in found),
                    grading.over_the_limit(found), strict=True))
    assert [name for name, n in over.items() if n] == ["ann/00_setup_3.ipynb",
                                                         "ann/00_setup_4.ipynb"]
    assert set(over.values()) == {None, 5}
    rows = grading._grade_one(dict(path=tmp_path / "ann" / "00_setup_4.ipynb",
                                   name="ann/00_setup_4.ipynb", student="ann",
                                   sandbox=True, over=5))
    assert len(rows) == 1 and not rows[0].graded and not rows[0].passed  # exit status 1
    assert rows[0].max_points == 0 and "holds 5 notebooks, more than the 3" in rows[0].message


def test_a_feedback_file_name_with_its_hash_is_never_another_students(tmp_path):
    """"Li" and "LI" are one file name to macOS: the second gets the name plus a hash of
    it, "LI-<hash>". A learner whose folder is named exactly that, graded before, had the
    second student's feedback appended to their own file (and the CSV pointing both at it)."""
    import hashlib

    grading = importlib.import_module("camcourse.coursework.grade")

    attacker = "LI-" + hashlib.sha256(b"LI").hexdigest()[:8]
    output = grading._Output(tmp_path / "grades.csv", None, grading.RunInfo(1, "0", "0"))
    try:
        for student in ("Li", attacker, "LI"):
            output.record([grading.Grade(f"{student}/00_setup.ipynb", "0.1", 1.0, 1.0,
                                       f"message of {student}", student, "00")])
    finally:
        output.close()
    files = sorted((tmp_path / "grades-feedback").iterdir())
    assert len(files) == 3
    for path in files:
        assert path.read_text(encoding="utf-8").count("message of") == 1
    assert f"message of {attacker}" in (tmp_path / "grades-feedback" /
                                        f"{attacker}.txt").read_text(encoding="utf-8")


def test_a_sub_folder_cannot_take_another_learners_name_in_another_spelling(tmp_path):
    """In ``grade ann/ Zoë/ bob/``, ann's archive holding ``Zoë/`` written with e + ¨ (as
    macOS's zip writes it) or ``BOB/`` was graded as "Zoë" and "BOB": rows that read as the
    other learners', one of them identical on screen. They are ann's sub-folders."""
    import unicodedata

    grading = importlib.import_module("camcourse.coursework.grade")
    nfc, nfd = (unicodedata.normalize(form, "Zoë") for form in ("NFC", "NFD"))
    for folder in (f"ann/{nfd}", "ann/BOB", nfc, "bob"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "04_swapping_the_sums.ipynb").write_text("{}")
    found = grading.expand_submissions([tmp_path / "ann", tmp_path / nfc, tmp_path / "bob"])
    names = {p.relative_to(tmp_path).as_posix(): name
             for (p, _), name in zip(found, grading.student_names(found), strict=True)}
    assert names == {f"ann/{nfd}/04_swapping_the_sums.ipynb": f"ann/{nfd}",
                     "ann/BOB/04_swapping_the_sums.ipynb": "ann/BOB",
                     f"{nfc}/04_swapping_the_sums.ipynb": nfc,
                     "bob/04_swapping_the_sums.ipynb": "bob"}


# ---------------------------------------------------------------------------
# The caller's objects after a call: the grader's view is the notebook's
# ---------------------------------------------------------------------------

PARITY_CELL = '''
import numpy as np
import torch
import torch.nn as nn

def _hooked(layer, model, images, store):
    def hook(module, inputs, output):
        store["out"] = output.detach()
    return layer.register_forward_hook(hook)

def capture_output(model, layer, images):
    store = {}
    handle = _hooked(layer, model, images, store)
    try:
        with torch.no_grad():
            model(images)
    finally:
        handle.remove()
    return store["out"]

def clears_hooks(model, layer, images):
    store = {}
    _hooked(layer, model, images, store)
    try:
        with torch.no_grad():
            model(images)
    finally:
        layer._forward_hooks.clear()
    return store["out"]

def keeps_on_layer(model, layer, images):
    handle = layer.register_forward_hook(lambda m, i, o: setattr(m, "stored", o.detach()))
    try:
        with torch.no_grad():
            model(images)
    finally:
        handle.remove()
    return layer.stored

def keeps_on_model(model, layer, images):
    model._saved = capture_output(model, layer, images)
    return model._saved

def _gradient(head, features, classes):
    features = features.detach().clone().to(head.first.weight.dtype).requires_grad_(True)
    chosen = head(features)[torch.arange(len(classes)), classes].sum()
    return torch.autograd.grad(chosen, features)[0].double()

def score_gradients(head, features, classes):
    return _gradient(head, features, classes)

def converts_float(head, features, classes):
    head.float()
    return _gradient(head, features, classes)

def converts_to(head, features, classes):
    head.to(torch.float32)
    return _gradient(head, features, classes)

def evaluates(head, features, classes):
    head.eval()
    return _gradient(head, features, classes)

def keeps_buffer(head, features, classes):
    head.register_buffer("seen", features.detach().clone())
    return _gradient(head, features, classes)

def shrinks_features(head, features, classes):
    gradient = _gradient(head, features, classes)
    features.data = features.data[:1]
    return gradient

def reshapes_in_place(features):
    n, k, h, w = features.shape
    features.shape = (n, k, h * w)
    flat = features.argmax(axis=-1)
    return np.stack([flat % w, flat // w], axis=-1)

def train_step(model, optimizer, images, labels):
    loss = torch.nn.functional.cross_entropy(model(images), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    model.last_loss = loss.item()
    return model.last_loss

def trains_in_float64(model, optimizer, images, labels):
    model.double()
    return train_step(model, optimizer, images.double(), labels)

def trains_in_eval_mode(model, optimizer, images, labels):
    model.eval()
    return train_step(model, optimizer, images, labels)

def grad_off_for_good(model, layer, images):
    torch.set_grad_enabled(False)
    store = {}
    handle = _hooked(layer, model, images, store)
    try:
        model(images)
    finally:
        handle.remove()
    return store["out"]

def freezes_model(model, layer, images):
    model.requires_grad_(False)
    return capture_output(model, layer, images)

def replaces_weight(head, features, classes):
    gradient = _gradient(head, features, classes)
    head.second.weight = nn.Parameter(torch.zeros(1, 1, dtype=torch.float64))
    return gradient
'''
PARITY = [("1.1", "capture_output", True), ("1.1", "clears_hooks", False),
          ("1.1", "keeps_on_layer", False), ("1.1", "keeps_on_model", False),
          ("8.3", "score_gradients", True), ("8.3", "converts_float", False),
          ("8.3", "converts_to", False), ("8.3", "evaluates", False),
          ("8.3", "keeps_buffer", False), ("8.3", "replaces_weight", False),
          ("6.2", "train_step", True), ("6.2", "trains_in_float64", None),
          ("6.2", "trains_in_eval_mode", False), ("8.3", "shrinks_features", False),
          ("1.2", "reshapes_in_place", False), ("1.1", "grad_off_for_good", False),
          ("1.1", "freezes_model", False)]


def test_the_grader_sees_the_callers_objects_as_the_notebook_check_does():
    """Hooks removed (the caller's own, by ``_forward_hooks.clear()``), attributes added
    (``module.stored = out``), a head converted in place (``.float()``, ``.to(dtype)``), its
    mode, a buffer added, a weight replaced, a model trained in float64 (its optimizer
    holds the converted parameters), an argument's dtype or shape changed in place
    (``x.data = x.data[:1]``, ``a.shape = ...``), parameters frozen
    (``model.requires_grad_(False)``), torch's gradient mode left off
    (``torch.set_grad_enabled(False)``): each check gives the same verdict and message to
    the learner's function run in the learner's process as to the same function run in the
    notebook, and the right answers pass. The honest answer's
    ``handle.remove()`` used to take the caller's hook with it there: the caller's hook
    arrived under an id that the learner's process gave its own new hook."""
    from camcourse.checks import get_check
    from camcourse.coursework._library import library_without
    from camcourse.coursework._remote import LearnerProcess, RemoteFunction, learner_files

    local: dict = {}
    exec(PARITY_CELL, local)  # noqa: S102 - the test's own code
    process = LearnerProcess(library_without(learner_files(), (), "1.1"))
    process.start()
    try:
        # hooks registered in earlier cells: the process's hook ids are past the grader's
        header, _ = process.request({"op": "exec", "filename": "<exercise>", "cpu": 60,
                                     "source": PARITY_CELL + "for _ in range(50):\n"
                                     "    nn.ReLU().register_forward_hook(print)\n"},
                                    timeout=120)
        assert header["status"] == "ok" and "type" not in header, header
        for exercise, name, passes in PARITY:
            check = get_check(exercise)
            params = list(__import__("inspect").signature(local[name]).parameters)
            remote = RemoteFunction(process, name, params, exercise=exercise,
                                    cpu_seconds=30, wall_seconds=60)
            notebook = check(local[name], raise_on_fail=False, verbose=False, hidden_seed=3)
            graded = check(remote, raise_on_fail=False, verbose=False, time_limit=None,
                           hidden_seed=3)
            assert passes is None or notebook.passed is passes, (name, notebook.message)
            assert (graded.passed, graded.message) == (notebook.passed, notebook.message), name
    finally:
        process.kill()


def test_a_learner_process_s_report_of_a_module_is_applied_as_inert_data_only():
    """What the learner's process says about a module is plain data: odd names, ids and
    values change nothing they must not (internals, methods, dunders) and never raise."""
    import torch

    from camcourse.coursework import _remote

    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU())
    handle = model[0].register_forward_hook(lambda *a: None)
    weight = model[0].weight
    opaque = _wire.opaque("Evil")
    _remote._apply(model, {"kind": "module", "state": {
        "0.weight": torch.ones(3, 2, dtype=torch.float64), "0.x": "x", 7: torch.ones(1),
        "0.bias": torch.zeros(3, dtype=torch.float64),
        "9.extra": torch.ones(1), "0.new": torch.zeros(2)}, "parameters": "0.new",
        "grads": {"0.weight": "x"},
        "hooks": {"0": [[handle.id, "x", 10**9]], "": "nonsense", "1": [[], [1, 2], [], []]},
        "attributes": {"0": {"forward": opaque, "__class__": opaque, "_parameters": opaque,
                             "training": opaque, "in_features": "2", "kept": [1, 2],
                             "out_features": opaque},
                       "": 5},
        "training": {"0": "yes", "1": False},
        "requires_grad": {"0.weight": "no", "0.missing": False, 3: False}})
    assert weight.requires_grad  # only a bool is applied
    assert model[0].weight is weight and weight.dtype == torch.float64  # .double() there
    assert float(weight.detach().sum()) == 6.0 and model[0].out_features == 3
    assert handle.id in model[0]._forward_hooks and len(model[0]._forward_hooks) == 2
    assert len(model[1]._forward_pre_hooks) == 2 and model[1].training is False
    assert model[0].in_features == "2" and model[0].kept == [1, 2]
    assert isinstance(model[0]._parameters, dict) and model[0].training is True
    assert model[0].new.shape == (2,) and "new" in model[0]._buffers
    assert model(torch.ones(1, 2, dtype=torch.float64)).shape == (1, 3)  # forward untouched
    _remote._apply(model, {"kind": "module", "state": {}, "attributes": {"0": {}},
                           "hooks": {"0": [[]]}})
    assert "kept" not in vars(model[0]) and "in_features" not in vars(model[0])
    assert len(model[0]._forward_hooks) == 0 and list(model.state_dict()) == []


def test_get_check_in_a_graded_cell_is_a_quiet_no_op_as_exercise_n_m_is(tmp_path):
    """``get_check("3.2")(f)`` left in an exercise cell: the checks' registry of the learner's
    process was empty, so a passing row carried a KeyError note; every exercise's stub is
    registered there now, and does nothing, as ``exercise_3_2(f)`` does."""
    from camcourse.checks import CHECKS
    from camcourse.coursework._library import library_without
    from camcourse.coursework._remote import learner_files, write_package

    write_package(library_without(learner_files(), (), "3.2"), tmp_path / "lib")
    code = ("import json\nfrom camcourse.checks import CHECKS, get_check\n"
            "print(json.dumps({n: get_check(n)(print) for n in sorted(CHECKS)}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(tmp_path / "lib"), "MPLBACKEND": "Agg"},
                         cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    course = sorted(n for n, c in CHECKS.items()  # other tests register checks of their own
                    if c.__module__.startswith("camcourse.checks.lesson"))
    assert len(course) >= 31 and json.loads(out.stdout.splitlines()[-1]) == dict.fromkeys(course)


def test_6_2_names_the_batch_by_the_learner_s_own_parameters():
    """6.2 calls train_step through a wrapper taking (images, labels): its messages named
    them by the learner's first two parameters (``model=tensor(…)``)."""
    import torch.nn.functional as nnf

    from camcourse.checks import get_check

    def train_step(m, opt, x, y):
        x.mul_(2)
        loss = nnf.cross_entropy(m(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    def raises(model, optimizer, *batch):
        raise ValueError("boom")

    check = get_check("6.2")
    message = check(train_step, raise_on_fail=False, verbose=False).message
    assert "modified its argument `x` in place" in message, message
    message = check(raises, raise_on_fail=False, verbose=False).message
    assert "raises(images=tensor(" in message and ", labels=tensor(" in message, message
