"""The autograder's trust boundary: the channel, the private camlib, hidden inputs,
write-it-yourself, failed imports, and a loaded machine."""

from __future__ import annotations

import io
import json
import pickle
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from camlib.coursework import _wire, catalogue, grade
from camlib.coursework.notebooks import find_exercises, read_notebook
from camlib.paths import NOTEBOOKS_DIR

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
                  _code(f"camlib.checks.exercise_{number.replace('.', '_')}(f)", "check")]
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
    assert "91.3 asks you to write this; camlib's version is off while grading" in message["91.3"]
    checks = importlib.import_module("_coursework_checks_grading_checks")
    seen = [x.copy() for x in checks.SEEN]
    checks.SEEN.clear()
    grade([sub], lessons_dir=lesson91 / "lessons", check_modules=[CHECKS], seed=5, verbose=False)
    assert all(np.array_equal(a, b) for a, b in zip(seen, checks.SEEN, strict=True))  # --seed
    checks.SEEN.clear()
    grade([sub], lessons_dir=lesson91 / "lessons", check_modules=[CHECKS], verbose=False)
    assert not any(np.array_equal(a, b) for a, b in zip(seen, checks.SEEN, strict=True))


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


def test_write_it_yourself_switches_off_imported_and_later_imported_functions(tmp_path,
                                                                              monkeypatch):
    from camlib.coursework._runner import _block, _unblock

    (tmp_path / "later_module_xyz.py").write_text("def f():\n    return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    undo = _block(["later_module_xyz.f"], "9.9")  # not imported yet: switched off on import
    import later_module_xyz

    alias = later_module_xyz.f
    with pytest.raises(RuntimeError, match="9.9 asks you to write this; camlib's version is off"):
        alias()
    _unblock(undo)
    assert alias() == 1 and not [f for f in sys.meta_path if type(f).__name__ == "_OffOnImport"]
    undo = _block(["later_module_xyz.f"], "9.9")  # imported: every alias is switched off
    with pytest.raises(RuntimeError):
        alias()
    _unblock(undo)
    assert later_module_xyz.f() == 1
    sys.modules.pop("later_module_xyz")
