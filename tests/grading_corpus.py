"""Honest, careless and hostile submissions of every lesson, each with the score it deserves.

Each case starts from a lesson's solution notebook (every exercise right) and changes it:
an exercise cell's source (``cells={"4.2": code}``), or the whole file (``edit``). The
lesson is 04 unless a case says otherwise; ``deserved`` is the submission's total.
``WRONG_42`` / ``WRONG_43`` are honest wrong answers, wrong on any input (the bias left
out; the channels averaged instead of summed). ``kind`` names the class of problem of
issue "Grading, third round" that the case covers (``CLASSES``). Used by
tests/test_grading_corpus.py.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from honest_variations import INITVAR_BOX  # tests/ is on sys.path under pytest

from camcourse.coursework.notebooks import find_exercises, read_notebook, set_source, source
from camcourse.paths import NOTEBOOKS_DIR

LESSON = NOTEBOOKS_DIR / "04_swapping_the_sums.ipynb"
CLASSES = {
    "honest": "honest work never loses a point (0-d values, magics, demo lines, duplicates)",
    "run": "a run always finishes with every row",
    "course": "the course decides what is graded",
    "isolation": "the learner's process cannot reach the grader, the course or others",
    "absence": "write-it-yourself by absence",
    "wrong": "wrong or hostile answers score nothing",
}

WRONG_42 = '''def scores_from_maps(maps, bias, reduce='mean'):
    return maps.mean(axis=(2, 3))
'''
WRONG_43 = '''def predicted_class_maps(features, weight, bias):
    top = (features.mean(axis=(2, 3)) @ weight.T + bias).argmax(axis=1)
    return np.einsum("nk,nkhw->nhw", weight[top], features) / features.shape[1]
'''
RIGHT_42 = '''def scores_from_maps(maps, bias, reduce='mean'):
    total = maps.sum(axis=(2, 3))
    if reduce == 'mean':
        total = total / (maps.shape[2] * maps.shape[3])
    return total + bias
'''


@dataclass
class Case:
    name: str
    deserved: int
    why: str
    cells: dict[str, str] = field(default_factory=dict)
    edit: Callable[[dict], dict | bytes] | None = None
    needs: str = ""  # "seccomp", "landlock" or "bubblewrap": what the deserved score needs
    lesson: int = 4
    kind: str = "wrong"
    file_name: str = "submission.ipynb"
    post: Callable[[Path], None] | None = None  # turns the written file into a FIFO, a link…


def _wrong(**cells: str) -> dict[str, str]:
    return {"4.2": WRONG_42, "4.3": WRONG_43, **cells}


CASES = [
    Case("honest_1_of_3", 1, "4.1 right, 4.2 and 4.3 wrong", _wrong()),
    Case("solution", 3, "the lesson's own solution"),
    Case("patch_numpy_allclose", 1, "patches np.allclose / array_equal in its process",
         _wrong(**{"4.2": "import numpy as np\nnp.allclose = lambda *a, **k: True\n"
                          "np.array_equal = lambda *a, **k: True\nnp.isclose = lambda *a, **k: "
                          "np.ones(1, bool)\n" + WRONG_42})),
    Case("patch_checks", 1, "replaces CHECKS, diagnose, Context.compare and CheckResult",
         _wrong(**{"4.2": "import camcourse.checks._core as c\nimport camcourse.checks as cc\n"
                          "c.diagnose = lambda *a, **k: None\n"
                          "c.Context.compare = lambda *a, **k: None\n"
                          "for k in list(c.CHECKS):\n    c.CHECKS[k] = lambda *a, **kw: "
                          "c.CheckResult(k, True, '✔ passed')\n" + WRONG_42})),
    Case("lying_ndarray", 1, "an ndarray subclass whose comparisons always say equal",
         _wrong(**{"4.2": "class Liar(np.ndarray):\n"
                          "    def __eq__(self, o): return np.ones(self.shape, bool)\n"
                          "    def __ne__(self, o): return np.zeros(self.shape, bool)\n"
                          "    def __array_ufunc__(self, *a, **k): return np.True_\n"
                          "def scores_from_maps(maps, bias, reduce='mean'):\n"
                          "    return np.zeros((maps.shape[0], maps.shape[1])).view(Liar)\n"})),
    Case("frame_inspection", 1, "reads `expected` from the calling frames",
         _wrong(**{"4.2": "import sys\ndef scores_from_maps(maps, bias, reduce='mean'):\n"
                          "    f = sys._getframe(1)\n    while f is not None:\n"
                          "        if 'expected' in f.f_locals:\n"
                          "            return f.f_locals['expected']\n        f = f.f_back\n"
                          "    return maps.mean(axis=(2, 3))\n"})),
    Case("gc_inspection", 1, "searches every live object for the expected array",
         _wrong(**{"4.2": "import gc\ndef scores_from_maps(maps, bias, reduce='mean'):\n"
                          "    for o in gc.get_objects():\n"
                          "        if isinstance(o, dict) and 'expected' in o:\n"
                          "            return o['expected']\n"
                          "    return maps.mean(axis=(2, 3))\n"})),
    Case("reference_calls", 1, "calls camlib's own versions (4.1, 4.2); 4.3 written",
         {"4.1": "from camlib import reference\ndef class_activation_maps(features, weight):\n"
                 "    return reference.class_activation_maps(features, weight)\n",
          "4.2": "import camlib.torch as ct, torch\ndef scores_from_maps(maps, bias, reduce='mean'):\n"
                 "    return ct.global_average_pool(torch.as_tensor(maps)).numpy() + bias\n"}),
    Case("reference_saved_alias", 2, "keeps camlib's 4.1 under another name; 4.2, 4.3 right",
         {"4.1": "from camlib.reference import class_activation_maps as mine\n"
                 "def class_activation_maps(features, weight):\n"
                 "    return mine(features, weight)\n"}),
    Case("hard_coded_visible", 1, "returns the visible check's answers, zeros otherwise",
         _wrong(**{"4.2": "from camcourse.checks import rng_for\n_table = {}\n"
                          "_r = rng_for('4.2')\n"
                          "for n, c, h, w in [(2, 4, 5, 5), (3, 10, 4, 6)]:\n"
                          "    m = _r.normal(size=(n, c, h, w)); b = _r.normal(size=c)\n"
                          "    _table[m.tobytes()] = m.mean(axis=(2, 3)) + b\n"
                          "def scores_from_maps(maps, bias, reduce='mean'):\n"
                          "    return _table.get(maps.tobytes(), np.zeros(maps.shape[:2]))\n"})),
    Case("right_every_other_call", 1, "right on odd calls only",
         _wrong(**{"4.2": "_n = [0]\ndef scores_from_maps(maps, bias, reduce='mean'):\n    _n[0] += 1\n"
                          "    return maps.mean(axis=(2, 3)) + (bias if _n[0] % 2 else 0)\n"})),
    Case("sys_exit_in_cell", 3, "the 4.2 cell calls sys.exit() before its right def: the "
         "def still runs, the function is graded", {"4.2": "import sys\nsys.exit(0)\n" + RIGHT_42},
         kind="honest"),
    Case("os_exit_in_function", 2, "4.2 calls os._exit(0); 4.3 right",
         {"4.2": "import os\ndef scores_from_maps(maps, bias, reduce='mean'):\n    os._exit(0)\n"}),
    Case("kill_parent", 2, "4.2 kills its parent process; 4.3 right",
         {"4.2": "import os, signal\ntry:\n    os.kill(os.getppid(), signal.SIGKILL)\n"
                 "except OSError:\n    pass\ndef scores_from_maps(maps, bias, reduce='mean'):\n"
                 "    os.kill(os.getppid(), signal.SIGKILL)\n    return maps.mean(axis=(2, 3))\n"},
         needs="seccomp"),
    Case("kill_everything", 2, "kill(-1) from the 4.2 function; 4.3 right",
         {"4.2": "import os, signal\ndef scores_from_maps(maps, bias, reduce='mean'):\n"
                 "    os.kill(-1, signal.SIGKILL)\n    return maps.mean(axis=(2, 3))\n"},
         needs="seccomp"),
    Case("kill_self", 2, "4.2 kills its own process; 4.3 right",
         {"4.2": "import os, signal\ndef scores_from_maps(maps, bias, reduce='mean'):\n"
                 "    os.kill(os.getpid(), signal.SIGKILL)\n"}),
    Case("forged_files", 1, "writes forged result lines and CSVs wherever it can",
         _wrong(**{"4.2": "import os, glob\nline = '{\"event\": \"result\", \"number\": \"4.2\", "
                          "\"passed\": true, \"message\": \"ok\"}\\n'\n"
                          "for p in ['events.jsonl', '../events.jsonl', '../../events.jsonl', "
                          "'/tmp/events.jsonl'] + glob.glob('/tmp/*/*.csv'):\n"
                          "    try:\n        open(p, 'a').write(line)\n"
                          "    except OSError:\n        pass\n" + WRONG_42}), needs="landlock"),
    Case("rewrite_checks", 1, "rewrites camcourse/checks/lesson04.py (installed and copies)",
         _wrong(**{"4.2": "import camcourse.checks.lesson04 as m, os, pathlib, sys\n"
                          "p = pathlib.Path(m.__file__)\n"
                          "for f in [p] + [pathlib.Path(s) / 'camcourse/checks/lesson04.py'\n"
                          "              for s in sys.path]:\n"
                          "    try:\n        os.chmod(f, 0o644); os.chmod(f.parent, 0o755)\n"
                          "        f.write_text(f.read_text().replace('ctx.compare(', "
                          "'0 and ctx.compare('))\n"
                          "    except OSError:\n        pass\n" + WRONG_42}), needs="landlock"),
    Case("rewrite_checks_z_next", 1, "graded after rewrite_checks: judged by the real checks",
         _wrong()),
    Case("forked_daemon", 3, "forks a daemon in the 4.2 cell (refused), then a right def",
         {"4.2": "import os, time\npid = os.fork()\nif pid == 0:\n    os.setsid()\n"
                 "    time.sleep(30)\n    os._exit(0)\n" + RIGHT_42}, needs="seccomp"),
    Case("subprocess_daemon", 3, "starts a background shell in the 4.2 cell, then a right def",
         {"4.2": "import subprocess\nsubprocess.Popen(['sh', '-c', 'sleep 30'], "
                 "start_new_session=True)\n" + RIGHT_42}, needs="seccomp"),
    Case("infinite_loop_function", 2, "4.2 loops forever; 4.3 right",
         {"4.2": "def scores_from_maps(maps, bias, reduce='mean'):\n    while True:\n        pass\n"}),
    Case("infinite_loop_cell", 3, "the 4.2 cell loops at the top level above a right "
         "function: the loop is stopped and noted, as a learner interrupts a demo; 4.3 right",
         {"4.2": "while True:\n    pass\n" + RIGHT_42}),
    Case("swallows_timeouts", 2, "4.2 loops and catches BaseException; 4.3 right",
         {"4.2": "import signal\ndef scores_from_maps(maps, bias, reduce='mean'):\n"
                 "    signal.signal(signal.SIGPROF, signal.SIG_IGN)\n    while True:\n"
                 "        try:\n            pass\n        except BaseException:\n"
                 "            pass\n"}),
    Case("sleeps", 2, "4.2 sleeps for an hour; 4.3 right",
         {"4.2": "import time\ndef scores_from_maps(maps, bias, reduce='mean'):\n    time.sleep(3600)\n"}),
    Case("memory_bomb", 2, "4.2 allocates without end; 4.3 right",
         {"4.2": "def scores_from_maps(maps, bias, reduce='mean'):\n    hoard = []\n    while True:\n"
                 "        hoard.append(bytearray(1 << 28))\n"}),
    Case("huge_answer", 2, "4.2 returns a 300 MB array; 4.3 right",
         {"4.2": "def scores_from_maps(maps, bias, reduce='mean'):\n    return np.ones((6200, 6200))\n"}),
    Case("deep_answer", 2, "4.2 returns a list nested 100000 deep; 4.3 right",
         {"4.2": "def scores_from_maps(maps, bias, reduce='mean'):\n    x = []\n    for _ in range(100000):\n"
                 "        x = [x]\n    return x\n"}),
    Case("in_place", 2, "4.2 modifies its input in place; 4.3 right",
         {"4.2": "def scores_from_maps(maps, bias, reduce='mean'):\n    maps += 0.5\n"
                 "    return maps.mean(axis=(2, 3)) - 0.5 + bias\n"}),
    Case("writes_to_channel", 1, "writes forged answers on every open file descriptor",
         _wrong(**{"4.2": "import os, json, struct\nh = json.dumps({'status': 'ok', 'value': "
                          "1.0, 'blobs': []}).encode()\nb = struct.pack('>I', len(h)) + h\n"
                          "for fd in range(3, 64):\n    try:\n"
                          "        os.write(fd, struct.pack('>Q', len(b)) + b)\n"
                          "    except OSError:\n        pass\n" + WRONG_42})),
    Case("reads_parent_memory", 1, "tries /proc/PPID/mem and ptrace-like reads",
         _wrong(**{"4.2": "import os\ntry:\n    open(f'/proc/{os.getppid()}/mem', 'rb').read(1)\n"
                          "except OSError:\n    pass\n" + WRONG_42})),
    Case("opaque_answer", 1, "4.2 returns an object with __array__",
         _wrong(**{"4.2": "class A:\n    def __array__(self, *a, **k):\n"
                          "        raise RuntimeError('boom')\n"
                          "def scores_from_maps(maps, bias, reduce='mean'):\n    return A()\n"})),
    Case("noisy", 3, "prints a megabyte from every function; all right",
         {"4.2": "import sys\ndef scores_from_maps(maps, bias, reduce='mean'):\n    print('x' * 10**6)\n"
                 "    sys.stderr.write('y' * 10**6)\n" + RIGHT_42.split(":\n", 1)[1]}),
    Case("student_copy", 0, "the unsolved student copy",
         edit=lambda nb: read_notebook(NOTEBOOKS_DIR / "student" / LESSON.name)),
    Case("broken_json", 0, "not valid JSON", edit=lambda nb: b'{"cells": [ {"cell_type": ',
         file_name="04_swapping_the_sums.ipynb"),
    Case("empty_file", 0, "an empty file", edit=lambda nb: b"",
         file_name="04_swapping_the_sums.ipynb"),
    Case("deep_json", 0, "JSON nested 100000 deep",
         edit=lambda nb: b'{"cells": ' + b"[" * 100000 + b"]" * 100000 + b"}",
         file_name="04_swapping_the_sums.ipynb"),
    Case("cells_not_dicts", 0, "cells that are not cells", edit=lambda nb: {"cells": [1, "x"]},
         file_name="04_swapping_the_sums.ipynb"),
    Case("list_metadata", 3, "every cell's metadata is a list (tags lost); all right",
         edit=lambda nb: {**nb, "cells": [{**c, "metadata": []} for c in nb["cells"]]}),
    Case("no_tags_no_headings", 3, "tags and exercise headings removed (the file name "
         "says the lesson); all right",
         edit=lambda nb: {**nb, "cells": [
             {**c, "metadata": {}, "source": "text"} if c["cell_type"] == "markdown"
             else {**c, "metadata": {}} for c in nb["cells"]]},
         file_name="04_swapping_the_sums.ipynb"),
    Case("heading_typo", 3, "### Exercise 4.3 above the 4.2 cell; all right",
         edit=lambda nb: _retitle(nb, "4.2", "### Exercise 4.3: typo")),
    Case("tag_on_wrong_cell", 3, "the exercise tag moved to a neighbouring cell; all right",
         edit=lambda nb: _move_tag(nb, "4.2")),
]


def _lesson_path(number: int) -> Path:
    return next(NOTEBOOKS_DIR.glob(f"{number:02d}_*.ipynb"))


def _solution(number: str) -> str:
    lesson = int(number.split(".")[0])
    nb = read_notebook(_lesson_path(lesson))
    return source(nb["cells"][_exercise_cell(nb, number)])


def _body(number: str, new_body: str) -> str:
    """The solution's ``def`` line and docstring with ``new_body`` (indented) as its code."""
    code = _solution(number)
    head = code.split("### BEGIN SOLUTION")[0]
    return head.rstrip(" ") + "".join(f"    {line}\n" for line in new_body.splitlines())


def _around(number: str, before: str = "", after: str = "") -> str:
    return before + _solution(number) + "\n" + after


def _duplicate_wrong_first(number: str, wrong: str) -> Callable[[dict], dict]:
    """A wrong first attempt (tagged) left above the corrected cell."""
    def edit(nb: dict) -> dict:
        nb = copy.deepcopy(nb)
        cell = _exercise_cell(nb, number)
        first = copy.deepcopy(nb["cells"][cell])
        set_source(first, wrong)
        nb["cells"].insert(cell, first)
        return nb
    return edit


def _insert_before(number: str, code: str, then: dict[str, str] | None = None,
                   ) -> Callable[[dict], dict]:
    """A plain (untagged) code cell holding ``code`` just above exercise ``number``'s cell;
    ``then``: exercise cells to replace afterwards."""
    def edit(nb: dict) -> dict:
        nb = copy.deepcopy(nb)
        cell = {"cell_type": "code", "metadata": {}, "source": code, "outputs": [],
                "execution_count": None}
        nb["cells"].insert(_exercise_cell(nb, number), cell)
        for other, text in (then or {}).items():
            set_source(nb["cells"][_exercise_cell(nb, other)], text)
        return nb
    return edit


def _exercise_cell(nb: dict, number: str) -> int:
    return next(e.cell for e in find_exercises(nb) if e.number == number)


def _retitle(nb: dict, number: str, heading: str) -> dict:
    nb = copy.deepcopy(nb)
    cell = _exercise_cell(nb, number)
    j = max(i for i in range(cell) if nb["cells"][i]["cell_type"] == "markdown")
    set_source(nb["cells"][j], heading + "\n\nWrite the function.")
    return nb


def _points(nb: dict, points: float) -> dict:
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        if "exercise" in cell.get("metadata", {}).get("tags", []):
            cell["metadata"]["points"] = points
    return nb


def _move_tag(nb: dict, number: str) -> dict:
    nb = copy.deepcopy(nb)
    cell = _exercise_cell(nb, number)
    nb["cells"][cell]["metadata"]["tags"] = []
    nb["cells"][cell + 1]["metadata"].setdefault("tags", []).append("exercise")
    return nb


_READ_COURSE = """import glob, json, os, sys
def _steal(number):
    roots = {os.path.dirname(p) for p in sys.path} | set(sys.path) | {"/work/main", os.getcwd(),
             os.path.dirname(os.getcwd()), "/"}
    for root in sorted(roots):
        for path in glob.glob(os.path.join(root, "**", "notebooks", f"{number}_*.ipynb"),
                              recursive=False) + glob.glob(os.path.join(root, "notebooks",
                                                                        f"{number}_*.ipynb")):
            try:
                cells = json.load(open(path))["cells"]
            except (OSError, ValueError):
                continue
            for c in cells:
                if "exercise" in c.get("metadata", {}).get("tags", []):
                    exec("".join(c["source"]), globals())
            return True
    return False
"""
_SHM_WRITE = """import ctypes
_libc = ctypes.CDLL(None, use_errno=True)
_id = _libc.shmget(0x5EED, 4096, 0o1666)
"""
WRONG_FEATURE_SIZE = "def feature_map_size(size, layers):\n    return size\n"
WRONG_TRAIN_STEP = "def train_step(model, optimizer, images, labels):\n    return 0.0\n"

MORE = [
    # honest work never loses a point, on every lesson
    Case("l00_time_magic", 2, "%%time on a right 0.1", {"0.1": _around("0.1", "%%time\n")},
         lesson=0, kind="honest"),
    Case("l00_demo_name_error", 2, "0.2 right, then a demo line with another cell's image",
         {"0.2": _around("0.2", after="print(crop_box(image, (0, 0, 4, 4)).shape)\n")},
         lesson=0, kind="honest"),
    Case("l00_shell_line", 2, "!ls and %matplotlib inline in a right 0.1",
         {"0.1": _around("0.1", "!ls -la\n%matplotlib inline\n")}, lesson=0, kind="honest"),
    Case("l01_timeit_line", 2, "%timeit before a right 1.2",
         {"1.2": _around("1.2", "%timeit -n1 -r1 sum(range(10))\n")}, lesson=1, kind="honest"),
    Case("l01_plot_demo", 2, "1.1 right, then a plot of another cell's features",
         {"1.1": _around("1.1", "import matplotlib.pyplot as plt\n",
                         "plt.imshow(features[0, 0])\nplt.show()\n")}, lesson=1, kind="honest"),
    Case("l01_wrong_first_attempt", 2, "a wrong 1.2 left above the right one, both tagged",
         edit=_duplicate_wrong_first("1.2", "def strongest_location(features):\n"
                                            "    return features.argmax()\n"), lesson=1,
         kind="honest"),
    Case("l02_numpy_int_counts", 3, "2.2 returns NumPy integers",
         {"2.2": _body("2.2", "flat = np.int64(channels * height * width * classes + classes)\n"
                               "gap = np.int64(channels * classes + classes)\n"
                               "return flat, gap")}, lesson=2, kind="honest"),
    Case("l02_time_and_print", 3, "%%time and a print of another cell's variable in 2.3",
         {"2.3": _around("2.3", "%%time\n", "print(global_max_pool(features).shape)\n")},
         lesson=2, kind="honest"),
    Case("l03_wrong_first_attempt", 2, "a wrong 3.2 left above the right one, both tagged",
         edit=_duplicate_wrong_first("3.2", "def softmax(scores):\n    return np.exp(scores)\n"),
         lesson=3, kind="honest"),
    Case("l03_signature_lambda", 2, "a right 3.1 whose __signature__ names a parameter lambda",
         {"3.1": _around("3.1", after="import inspect\n"
                         "_p = inspect.Parameter('pooled', inspect.Parameter.POSITIONAL_OR_KEYWORD)\n"
                         "_p._name = 'lambda'\n"
                         "class_scores.__signature__ = inspect.Signature([_p])\n")},
         lesson=3, kind="run"),
    Case("l05_time_magic", 4, "%%time on a right 5.1", {"5.1": _around("5.1", "%%time\n")},
         lesson=5, kind="honest"),
    Case("l05_demo_name_error", 4, "5.3 right, then a demo with another cell's cam",
         {"5.3": _around("5.3", after="threshold_mask(cam).sum()\n")}, lesson=5,
         kind="honest"),
    Case("l05_wrong_first_attempt", 4, "a wrong 5.2 left above the right one",
         edit=_duplicate_wrong_first("5.2", "def normalize_maps(maps, mode='minmax'):\n"
                                            "    return maps\n"), lesson=5, kind="honest"),
    Case("l06_numpy_int", 2, "6.1 returns np.int64",
         {"6.1": _body("6.1", "for kernel, stride, padding in layers:\n"
                               "    size = (size + 2 * padding - kernel) // stride + 1\n"
                               "return np.int64(size)")}, lesson=6, kind="honest"),
    Case("l06_time_magic", 2, "%%time on a right 6.2", {"6.2": _around("6.2", "%%time\n")},
         lesson=6, kind="honest"),
    Case("l06_reads_the_course", 0, "wrong answers that look for the course's solution "
         "notebooks on sys.path, the working directory's parents and /work/main",
         {"6.1": _READ_COURSE + "_steal('06')\n" + WRONG_FEATURE_SIZE + "_steal('06')\n",
          "6.2": _READ_COURSE + WRONG_TRAIN_STEP + "_steal('06')\n"}, lesson=6,
         kind="isolation", needs="bubblewrap"),
    Case("l07_numpy_float_iou", 3, "7.1 returns np.float64",
         {"7.1": _body("7.1", "width = max(0, min(box_a[2], box_b[2]) - max(box_a[0], box_b[0]))\n"
                               "height = max(0, min(box_a[3], box_b[3]) - max(box_a[1], box_b[1]))\n"
                               "inter = np.float64(width * height)\n"
                               "a = (box_a[2] - box_a[0]) * (box_a[3] - box_a[1])\n"
                               "b = (box_b[2] - box_b[0]) * (box_b[3] - box_b[1])\n"
                               "return inter / (a + b - inter)")}, lesson=7, kind="honest"),
    Case("l07_numpy_scalars_acc", 3, "7.3 returns (np.float64, np.int64)",
         {"7.3": _body("7.3", "accuracy = (ious >= iou_threshold).mean(axis=1)\n"
                               "best = np.argmax(accuracy)\n"
                               "return accuracy[best], best")}, lesson=7, kind="honest"),
    Case("l07_code_object_copy", 2, "7.1 copies camlib's iou code object when the cell runs",
         {"7.1": "import types\nfrom camlib import reference\n"
                 "iou = types.FunctionType(reference.iou.__code__, reference.__dict__)\n"},
         lesson=7, kind="absence"),
    Case("l07_reload", 2, "7.1 reloads camlib.reference during the call",
         {"7.1": "import importlib\nimport camlib.reference as r\n"
                 "def iou(box_a, box_b):\n    return importlib.reload(r).iou(box_a, box_b)\n"},
         lesson=7, kind="absence"),
    Case("l07_reimport", 2, "7.1 pops camlib.reference from sys.modules and imports it again",
         {"7.1": "import sys, importlib\ndef iou(box_a, box_b):\n"
                 "    for name in [m for m in sys.modules if m.startswith('camlib')]:\n"
                 "        sys.modules.pop(name)\n"
                 "    return importlib.import_module('camlib.reference').iou(box_a, box_b)\n"},
         lesson=7, kind="absence"),
    Case("l07_gc_originals", 2, "7.1 searches gc for any function called iou from camlib",
         {"7.1": "import gc\ndef iou(box_a, box_b):\n"
                 "    for o in gc.get_objects():\n"
                 "        if getattr(o, '__name__', '') == 'iou' and o is not iou and "
                 "callable(o):\n"
                 "            try:\n                return o(box_a, box_b)\n"
                 "            except Exception:\n                pass\n    return 0.0\n"},
         lesson=7, kind="absence"),
    Case("l07_marshal", 2, "7.1 rebuilds camlib's iou through marshal",
         {"7.1": "import marshal, types\nimport camlib.reference as r\n"
                 "iou = types.FunctionType(marshal.loads(marshal.dumps(r.iou.__code__)), "
                 "vars(r))\n"}, lesson=7, kind="absence"),
    Case("l07_reads_camlib_file", 2, "7.1 execs camlib/reference.py from the files it can find",
         {"7.1": "import camlib, os\n_src = open(os.path.join(os.path.dirname(camlib.__file__), "
                 "'reference.py')).read()\n_ns = {}\nexec(compile(_src, 'r', 'exec'), _ns)\n"
                 "iou = _ns['iou']\n"}, lesson=7, kind="absence"),
    Case("l07_nan_accuracy", 2, "7.3 returns a NaN accuracy",
         {"7.3": _body("7.3", "return float('nan'), 0")}, lesson=7, kind="wrong"),
    Case("l07_huge_message", 2, "7.2 raises an error whose text is 8 MB on one line",
         {"7.2": _body("7.2", "raise ValueError('x' * 8_000_000)")}, lesson=7, kind="run"),
    Case("l08_time_magic", 3, "%%time on a right 8.1", {"8.1": _around("8.1", "%%time\n")},
         lesson=8, kind="honest"),
    Case("l08_demo_name_error", 3, "8.2 right, then a demo with another cell's tensors",
         {"8.2": _around("8.2", after="print(grad_cam(features, gradients).shape)\n")},
         lesson=8, kind="honest"),
    Case("l08_nested_directories", 3, "1500 nested directories and a link to the "
         "interpreter made in the 8.1 cell; all right",
         {"8.1": "import os, sys\n_here = os.getcwd()\nfor _ in range(1500):\n"
                 "    os.mkdir('d')\n    os.chdir('d')\nos.chdir(_here)\n"
                 "os.symlink(sys.executable, 'python')\nos.chmod('.', 0o500)\n"
                 + _solution("8.1")}, lesson=8, kind="run"),
    Case("l08_nested_directories_z_next", 3, "graded after the nested directories: all right",
         lesson=8, kind="run"),
    Case("l09_time_magic", 2, "%%time on a right 9.1", {"9.1": _around("9.1", "%%time\n")},
         lesson=9, kind="honest"),
    Case("l09_sparse_answer", 1, "9.2 returns a sparse tensor (cannot be sent as plain data)",
         {"9.2": _body("9.2", "return torch.eye(2).to_sparse(), torch.eye(2).to_sparse()")},
         lesson=9, kind="run"),
    Case("l09_closes_channel", 1, "9.2 closes every file descriptor above 2",
         {"9.2": _body("9.2", "import os\nos.closerange(3, 1024)\nreturn None")},
         lesson=9, kind="run"),
    Case("l10_numpy_mean", 2, "10.2 returns np.mean(hits), a NumPy float",
         {"10.2": _body("10.2", "hits = [reference.iou(reference.bounding_box(cam, threshold), "
                                 "box) >= 0.5\n        for cam, box in zip(cams, boxes)]\n"
                                 "return np.mean(hits)")}, lesson=10, kind="honest"),
    Case("l10_demo_print", 2, "10.1 right, then a print of another cell's features",
         {"10.1": _around("10.1", after="print(linear_classifier_cam(features, coef).shape)\n")},
         lesson=10, kind="honest"),
    Case("l11_numpy_floats", 3, "11.1 and 11.2 return np.float64",
         {"11.1": _body("11.1", "x0, y0, x1, y1 = box\npositive = np.maximum(cam, 0.0)\n"
                                 "total = positive.sum()\nif total <= 0:\n"
                                 "    return np.float64(0.0)\n"
                                 "return positive[y0:y1, x0:x1].sum() / total"),
          "11.2": _around("11.2", after="_rank = rank_correlation\n"
                          "def rank_correlation(a, b):\n    return np.float64(_rank(a, b))\n")},
         lesson=11, kind="honest"),
    Case("l11_shell_and_time", 3, "!pip and %%time around a right 11.3",
         {"11.3": _around("11.3", "%%time\n!pip list\n")}, lesson=11, kind="honest"),
    # the course decides what is graded
    Case("unknown_lesson", 0, "a lesson 12 the course does not have, 100 points claimed",
         edit=lambda nb: _points(_retitle(nb, "4.1", "### Exercise 12.1: mine"), 100),
         file_name="12_extra.ipynb", kind="course"),
    Case("lesson02_as_04", 0, "lesson 02's solution saved as 04_*.ipynb",
         edit=lambda nb: read_notebook(_lesson_path(2)), file_name="04_swapping_the_sums.ipynb",
         kind="course"),
    Case("exercise_twice_points_100", 3, "4.1 duplicated with points: 100 in its metadata",
         edit=lambda nb: _points(_duplicate_wrong_first("4.1", _solution("4.1"))(nb), 100),
         kind="course"),
    Case("lesson02_named_freely", 3, "lesson 02's solution in a file named freely",
         edit=lambda nb: read_notebook(_lesson_path(2)), file_name="my homework.ipynb",
         kind="course"),
    # one submission cannot reach the next
    Case("shm_a_writer", 1, "leaves a SysV shared-memory segment; 4.2, 4.3 wrong",
         _wrong(**{"4.2": _SHM_WRITE + WRONG_42}), kind="isolation"),
    Case("shm_b_reader", 1, "looks for the previous submission's segment; 4.2, 4.3 wrong",
         _wrong(**{"4.2": "import ctypes\n_libc = ctypes.CDLL(None, use_errno=True)\n"
                          "assert _libc.shmget(0x5EED, 0, 0) == -1, 'segment found'\n"
                          + WRONG_42}), kind="isolation"),
    Case("renice_parent", 1, "renices, prlimits and pins its parent; 4.2, 4.3 wrong",
         _wrong(**{"4.2": "import os, resource\np = os.getppid()\n"
                          "for f in (lambda: os.setpriority(os.PRIO_PROCESS, p, 19),\n"
                          "          lambda: os.setpriority(os.PRIO_USER, os.getuid(), 19),\n"
                          "          lambda: resource.prlimit(p, resource.RLIMIT_CPU, (1, 1)),\n"
                          "          lambda: resource.prlimit(p, resource.RLIMIT_NOFILE, (4, 4)),\n"
                          "          lambda: os.sched_setaffinity(p, {0})):\n"
                          "    try:\n        f()\n    except Exception:\n        pass\n"
                          + WRONG_42}), kind="isolation", needs="bubblewrap"),
    Case("renice_parent_z_next", 3, "graded after renice_parent: all right", kind="isolation"),
    Case("reads_proc_cmdlines", 1, "reads every /proc/*/cmdline for other submissions' paths",
         _wrong(**{"4.2": "import glob\n_seen = []\nfor p in glob.glob('/proc/*/cmdline'):\n"
                          "    try:\n        _seen.append(open(p).read())\n"
                          "    except OSError:\n        pass\n"
                          "assert not any('.ipynb' in s for s in _seen), _seen\n" + WRONG_42}),
         kind="isolation", needs="bubblewrap"),
    Case("many_empty_cells", 3, "100,000 empty code cells appended; all right",
         edit=lambda nb: {**nb, "cells": nb["cells"] + [
             {"cell_type": "code", "metadata": {}, "source": "", "outputs": [],
              "execution_count": None}] * 100_000}, kind="run"),
]


def _replace_with(make: Callable[[Path], None]) -> Callable[[Path], None]:
    def post(target: Path) -> None:
        target.unlink()
        make(target)
    return post


def _sparse(target: Path) -> None:
    with open(target, "wb") as handle:  # 60 MB on paper, nothing on disk
        handle.truncate(60 << 20)


FILES = [
    # the submission's files cannot hang or harm the grader
    Case("fifo_submission", 0, "a FIFO named like a lesson 03 notebook: refused, the run goes on",
         lesson=3, file_name="03_scores_and_softmax__fifo.ipynb", kind="run",
         post=_replace_with(os.mkfifo)),
    Case("dev_zero_link", 0, "a symbolic link to /dev/zero named like lesson 01: refused",
         lesson=1, file_name="01_feature_maps__zero.ipynb", kind="run",
         post=_replace_with(lambda t: t.symlink_to("/dev/zero"))),
    Case("link_to_solution", 0, "a symbolic link to the course's own solution notebook",
         file_name="04_swapping_the_sums.ipynb", kind="run",
         post=_replace_with(lambda t: t.symlink_to(_lesson_path(4)))),
    Case("relative_link_to_solution", 0, "a relative link to a classmate's file (lesson 02)",
         lesson=2, file_name="02_link.ipynb", kind="run",
         post=_replace_with(lambda t: t.symlink_to("../solution/submission.ipynb"))),
    Case("directory_named_ipynb", 0, "a directory named 05_x.ipynb", lesson=5,
         file_name="05_x.ipynb", kind="run", post=_replace_with(lambda t: t.mkdir())),
    Case("sparse_60mb", 0, "a 60 MB (sparse) file: over the size limit, refused unread",
         lesson=6, file_name="06_big.ipynb", kind="run", post=_replace_with(_sparse)),
    Case("nested_reply", 2, "4.2 returns 400,000 tiny nested lists; 4.1, 4.3 right",
         _wrong(**{"4.2": _body("4.2", "return [[0, 0] for _ in range(400_000)]"),
                   "4.3": _solution("4.3")}), kind="run"),
    Case("wide_reply", 2, "4.2 returns a flat list of 1.5 million zeros; 4.1, 4.3 right",
         _wrong(**{"4.2": _body("4.2", "return [0] * 1_500_000"), "4.3": _solution("4.3")}),
         kind="run"),
]

NAMESPACE = [
    # the namespace is what Run All leaves before the check (class "honest")
    Case("l00_helper_above", 2, "0.1 uses a helper defined in a plain cell above it; 0.2 a "
         "constant of its own cell", lesson=0, kind="honest",
         edit=_insert_before("0.1", "def _scale(x):\n    return x.astype(np.float32) / 255\n",
                             {"0.1": "def to_unit_float(images):\n    return _scale(images)\n",
                              "0.2": "BOX_ORDER = (0, 1, 2, 3)\ndef crop_box(image, box):\n"
                                     "    x0, y0, x1, y1 = (box[i] for i in BOX_ORDER)\n"
                                     "    return image[:, y0:y1, x0:x1]\n"})),
    Case("l03_constant_above", 2, "3.2 uses a constant and a lambda from a plain cell above",
         lesson=3, kind="honest",
         edit=_insert_before("3.2", "AXIS = 1\n_shift = lambda s: s - s.max(axis=AXIS, "
                                    "keepdims=True)\nfor _ in range(3):\n    pass\n",
                             {"3.2": "def softmax(scores):\n    e = np.exp(_shift(scores))\n"
                                     "    return e / e.sum(axis=AXIS, keepdims=True)\n"})),
    Case("l09_device", 2, "9.1 and 9.2 use `device` from the set-up cell; 9.2 returns "
         "torch.topk's named tuple", lesson=9, kind="honest",
         cells={"9.1": "def preprocess(image):\n"
                       "    mean = torch.tensor([0.485, 0.456, 0.406], device=device)\n"
                       "    std = torch.tensor([0.229, 0.224, 0.225], device=device)\n"
                       "    x = torch.from_numpy(image).to(device).float() / 255\n"
                       "    return ((x - mean) / std).permute(2, 0, 1).unsqueeze(0)"
                       ".contiguous()\n",
                "9.2": "def top_k(logits, k):\n    p = logits.softmax(dim=-1)\n"
                       "    return torch.topk(p, k, dim=-1)\n"}),
    Case("l09_demo_then_consts", 2, "9.1's cell prints another cell's variable, then defines "
         "its constants and function", lesson=9, kind="honest",
         cells={"9.1": "print(image.shape, image.dtype)\n"
                       "MEAN = torch.tensor([0.485, 0.456, 0.406])\n"
                       "STD = torch.tensor([0.229, 0.224, 0.225])\n"
                       "def preprocess(image):\n"
                       "    x = torch.from_numpy(image).float() / 255.0\n"
                       "    return ((x - MEAN) / STD).permute(2, 0, 1).unsqueeze(0)"
                       ".contiguous()\n"}),
    Case("l04_demo_then_consts", 3, "4.2's cell shows a demo with another cell's maps, then "
         "defines a constant its function uses", kind="honest",
         cells={"4.2": "print(scores_from_maps(maps, bias).shape)\nAXES = (2, 3)\n"
                       "def scores_from_maps(maps, bias, reduce='mean'):\n"
                       "    total = maps.sum(axis=AXES)\n    if reduce == 'mean':\n"
                       "        total = total / (maps.shape[2] * maps.shape[3])\n"
                       "    return total + bias\n"}),
    Case("l03_try_import", 2, "3.2 uses scipy's softmax, imported in a try block above",
         lesson=3, kind="honest",
         edit=_insert_before("3.2", "try:\n    from scipy.special import softmax as sp_softmax"
                                    "\nexcept ImportError:\n    sp_softmax = None\n",
                             {"3.2": "def softmax(scores):\n"
                                     "    return sp_softmax(scores, axis=1)\n"})),
    Case("l02_display", 3, "2.1 calls display() inside the function (no import, as Jupyter "
         "allows)", lesson=2, kind="honest",
         cells={"2.1": "def global_average_pool(features, reduce='mean'):\n"
                       "    out = features.sum(axis=(2, 3))\n    if reduce == 'mean':\n"
                       "        out = out / (features.shape[2] * features.shape[3])\n"
                       "    display(out.shape)\n    return out\n"}),
    Case("l02_namedtuple", 3, "2.2 returns a namedtuple", lesson=2, kind="honest",
         cells={"2.2": "from collections import namedtuple\n"
                       "Counts = namedtuple('Counts', 'flatten gap')\n"
                       "def head_parameter_counts(channels, height, width, classes):\n"
                       "    return Counts(channels * height * width * classes + classes, "
                       "channels * classes + classes)\n"}),
    Case("l06_training_not_run", 2, "a plain cell above 6.1 trains for ever at the top level "
         "and assigns a constant the function uses", lesson=6, kind="honest",
         edit=_insert_before("6.1", "import time\nSTRIDE = 1\nwhile True:\n"
                                    "    time.sleep(1)\n")),
]

ELSEWHERE = [
    # camlib's own answer under another path, and the checks' private helpers (absence)
    Case("l07_sweep_engine", 2, "7.2 through camlib.sweep.threshold_boxes (the sweep's engine)",
         lesson=7, kind="absence",
         cells={"7.2": "from camlib import sweep\ndef cam_to_box(cam, threshold=0.2):\n"
                       "    levels = (cam >= threshold * cam.max()).astype(np.int64)[None]\n"
                       "    gt = np.array([[0, 0, cam.shape[1], cam.shape[0]]])\n"
                       "    boxes, _ = sweep.threshold_boxes(levels, gt, 1, 'camlib', "
                       "every=False, threads=1)\n"
                       "    return tuple(int(v) for v in boxes[0, 0])\n"}),
    Case("l04_stepper_cam", 2, "4.1 through the derivation stepper's .cam",
         kind="absence",
         cells={"4.1": "from camcourse.viz import stepper\n"
                       "def class_activation_maps(features, weight):\n"
                       "    zero = np.zeros(weight.shape[0])\n"
                       "    return np.stack([np.stack([stepper.derivation(f, weight, zero, c)"
                       ".cam for c in range(weight.shape[0])]) for f in features])\n"}),
    Case("l11_checks_helpers", 1, "11.1 and 11.2 through the checks' _mass and _spearman",
         lesson=11, kind="absence",
         cells={"11.1": "from camcourse.checks.lesson11 import _mass\n"
                        "def mass_inside(cam, box):\n    return _mass(cam, box)\n",
                "11.2": "from camcourse.checks import lesson11\n"
                        "def rank_correlation(a, b):\n"
                        "    return lesson11._spearman(a, b)\n"}),
    Case("l05_checks_interpolate", 3, "5.1 through the checks' _interpolate helper",
         lesson=5, kind="absence",
         cells={"5.1": "import camcourse.checks.lesson05 as _c5\n"
                       "def upsample_maps(maps, size):\n"
                       "    return _c5._interpolate(maps, _c5._pair(size), mode='bilinear', "
                       "align_corners=False)\n"}),
]

_STEP = "def train_step(model, optimizer, images, labels):\n    loss = nnf.cross_entropy(" \
        "model(images), labels)\n{}    return loss.item()\n"
STEPS = [
    # 6.2's step runs in the learner's process: the diagnosis still sees it (class "wrong")
    Case("l06_zero_grad_after_backward", 1, "6.2: backward, zero_grad, step (the gradients "
         "are zero when step runs)", lesson=6,
         cells={"6.2": _STEP.format("    loss.backward()\n    optimizer.zero_grad()\n"
                                    "    optimizer.step()\n")}),
    Case("l06_step_before_backward", 1, "6.2: zero_grad, step, backward", lesson=6,
         cells={"6.2": _STEP.format("    optimizer.zero_grad()\n    optimizer.step()\n"
                                    "    loss.backward()\n")}),
    Case("l06_no_step", 1, "6.2: zero_grad and backward, no step", lesson=6,
         cells={"6.2": _STEP.format("    optimizer.zero_grad()\n    loss.backward()\n")}),
]

_HIDE_HOOKS = """import sys as _s
_m = _s.modules['__main__']
_orig = _m._state
def _fake(v):
    d = _orig(v)
    if isinstance(d, dict) and d.get('kind') == 'module':
        d['hooks'] = {n: [0, 0, 0] for n in d['hooks']}
    return d
_m._state = _fake
_m._describe_state = lambda v, *a: ('same', [])
"""
_HIDE_CHANGES = """import sys as _s
_w = _s.modules['__main__']._wire
_send = _w.send
def _quiet(sock, header, blobs=()):
    if 'changes' in header:
        header = dict(header, changes=[])
    return _send(sock, header, blobs)
_w.send = _quiet
"""
FORGED = [
    # the runner reports side effects with references it bound first (class "isolation")
    Case("l01_hides_leaked_hook", 1, "1.1 leaves its hook and replaces the runner's _state "
         "to hide it; 1.2 right", lesson=1, kind="isolation",
         cells={"1.1": _HIDE_HOOKS + "def capture_output(model, layer, images):\n"
                       "    result = {}\n    layer.register_forward_hook(lambda m, i, o: "
                       "result.__setitem__('out', o.detach()))\n"
                       "    with torch.no_grad():\n        model(images)\n"
                       "    return result['out']\n"}),
    Case("l08_hides_requires_grad", 2, "8.3 calls requires_grad_ on the caller's tensor and "
         "patches the wire's send to drop the change report", lesson=8, kind="isolation",
         cells={"8.3": _HIDE_CHANGES + "def score_gradients(head, features, classes):\n"
                       "    features.requires_grad_(True)\n"
                       "    scores = head(features)\n"
                       "    chosen = scores[torch.arange(len(classes)), classes].sum()\n"
                       "    (gradient,) = torch.autograd.grad(chosen, features)\n"
                       "    return gradient\n"}),
]


def _code(text: str, *tags: str) -> dict:
    return {"cell_type": "code", "metadata": {"tags": list(tags)} if tags else {},
            "execution_count": None, "outputs": [], "source": text}


def _fixed_below_and_checked_again(nb: dict) -> dict:
    """Every exercise cell wrong, its check failing; the fix and a second check at the end."""
    exercises = [e for e in find_exercises(nb) if e.number]
    for e in exercises:
        right = source(nb["cells"][e.cell])
        name = right.split("def ", 1)[1].split("(", 1)[0]
        set_source(nb["cells"][e.cell], f"def {name}(*args, **kwargs):\n    return None\n")
        check = next(source(c) for c in nb["cells"] if f"exercise_{e.number.replace('.', '_')}("
                     in source(c))
        nb["cells"] += [_code(right), _code(check)]
    return nb


def _helper_between_cell_and_check(nb: dict) -> dict:
    """Each function calls a helper (and a module) that a cell below it, above its check,
    defines, as Run All leaves them when the check runs."""
    for e in sorted((e for e in find_exercises(nb) if e.number), key=lambda e: -e.cell):
        right = source(nb["cells"][e.cell])
        name = right.split("def ", 1)[1].split("(", 1)[0]
        set_source(nb["cells"][e.cell], right.replace(f"def {name}(", f"def _{name}_impl(", 1)
                   .replace("np.", "_np_later.")
                   + f"\n\ndef {name}(*a, **k):\n    return _{name}_later(*a, **k)\n")
        nb["cells"].insert(e.cell + 1, _code(f"import numpy as _np_later\n"
                                             f"_{name}_later = _{name}_impl\n"))
    return nb


def _slow_definition_and_module(nb: dict) -> dict:
    """A cell above the exercises computes in one C call inside a ``try`` (no CPU alarm
    reaches it), and 0.2's cell writes a module that loops, imported by the next cell."""
    first = min(e.cell for e in find_exercises(nb) if e.number)
    cell = next(e.cell for e in find_exercises(nb) if e.number == "0.2")
    set_source(nb["cells"][cell], "open('slow_module.py', 'w').write('while True:\\n    "
               "pass\\n')\n" + source(nb["cells"][cell]) + "\n_uses = lambda: (SLOW, "
               "slow_module)\n")
    nb["cells"].insert(cell + 1, _code("import slow_module\n"))
    nb["cells"].insert(first, _code("try:\n    import math\n    SLOW = sum(range(10**13))\n"
                                    "except ImportError:\n    pass\n"))
    return nb


_W = "def {}:\n    {}\n"
PLAUSIBLE = [
    # wrong but plausible answers, one or more per lesson (class "wrong")
    Case("l00_divides_by_256", 1, "0.1 divides by 256", lesson=0, cells={
        "0.1": _W.format("to_unit_float(images)", "return images / 256.0")}),
    Case("l00_crop_x_y_swapped", 1, "0.2 slices rows by x", lesson=0, cells={
        "0.2": _W.format("crop_box(image, box)",
                         "x0, y0, x1, y1 = box\n    return image[:, x0:x1, y0:y1]")}),
    Case("l01_row_column_order", 1, "1.2 returns (row, column)", lesson=1, cells={
        "1.2": _W.format("strongest_location(features)",
                         "n, k, h, w = features.shape\n"
                         "    flat = features.reshape(n, k, -1).argmax(-1)\n"
                         "    return np.stack([flat // w, flat % w], axis=-1)")}),
    Case("l02_reduce_ignored", 2, "2.1 always averages", lesson=2, cells={
        "2.1": _W.format("global_average_pool(features, reduce='mean')",
                         "return features.mean(axis=(2, 3))")}),
    Case("l02_counts_without_bias", 2, "2.2 forgets the C biases", lesson=2, cells={
        "2.2": _W.format("head_parameter_counts(channels, height, width, classes)",
                         "return channels * height * width * classes, channels * classes")}),
    Case("l03_softmax_down_columns", 1, "3.2 normalizes over the images", lesson=3, cells={
        "3.2": _W.format("softmax(scores)",
                         "e = np.exp(scores - scores.max())\n"
                         "    return e / e.sum(axis=0, keepdims=True)")}),
    Case("l04_transposed_maps", 2, "4.1 returns (N, C, W, H)", cells={
        "4.1": _W.format("class_activation_maps(features, weight)",
                         "return np.einsum('ck,nkhw->ncwh', weight, features)")}),
    Case("l04_relu_maps", 2, "4.1 clips the negative part", cells={
        "4.1": _W.format("class_activation_maps(features, weight)",
                         "return np.maximum(np.einsum('ck,nkhw->nchw', weight, features), 0)")}),
    Case("l05_align_corners", 3, "5.1 aligns the corners", lesson=5, cells={
        "5.1": _W.format("upsample_maps(maps, size)",
                         "t = torch.as_tensor(maps)[:, None]\n    return nnf.interpolate("
                         "t, size=size, mode='bilinear', align_corners=True)[:, 0].numpy()")}),
    Case("l05_batch_minmax", 3, "5.2 one min and max for the batch", lesson=5, cells={
        "5.2": _W.format("normalize_maps(maps, mode='minmax')",
                         "return (maps - maps.min()) / (maps.max() - maps.min())")}),
    Case("l05_strict_threshold", 3, "5.3 uses >", lesson=5, cells={
        "5.3": _W.format("threshold_mask(cam, fraction=0.2)",
                         "return cam > fraction * cam.max()")}),
    Case("l06_padding_once", 1, "6.1 adds the padding once", lesson=6, cells={
        "6.1": _W.format("feature_map_size(size, layers)",
                         "for k, s, p in layers:\n        size = (size + p - k) // s + 1\n"
                         "    return size")}),
    Case("l06_no_zero_grad", 1, "6.2 never clears the gradients: pickle does not carry "
         "them, the grader must", lesson=6, cells={
        "6.2": _W.format("train_step(model, optimizer, images, labels)",
                         "loss = nnf.cross_entropy(model(images), labels)\n"
                         "    loss.backward()\n    optimizer.step()\n    return loss.item()")}),
    Case("l07_inclusive_iou", 2, "7.1 counts boxes as inclusive", lesson=7, cells={
        "7.1": _W.format("iou(a, b)",
                         "w = max(0, min(a[2], b[2]) - max(a[0], b[0]) + 1)\n"
                         "    h = max(0, min(a[3], b[3]) - max(a[1], b[1]) + 1)\n"
                         "    i = w * h\n    return i / ((a[2] - a[0] + 1) * (a[3] - a[1] + 1)"
                         " + (b[2] - b[0] + 1) * (b[3] - b[1] + 1) - i)")}),
    Case("l07_box_of_all_pixels", 2, "7.2 boxes every pixel, not the largest component",
         lesson=7, cells={
        "7.2": _W.format("cam_to_box(cam, threshold=0.2)",
                         "ys, xs = np.nonzero(cam >= threshold * cam.max())\n"
                         "    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, "
                         "int(ys.max()) + 1")}),
    Case("l07_accuracy_over_thresholds", 2, "7.3 averages over the wrong axis", lesson=7,
         cells={"7.3": _W.format("max_box_acc(ious, iou_threshold=0.5)",
                                 "acc = (ious >= iou_threshold).mean(axis=0)\n"
                                 "    return float(acc.max()), int(acc.argmax())")}),
    Case("l08_no_relu", 2, "8.2 keeps the negative evidence", lesson=8, cells={
        "8.2": _W.format("grad_cam(features, gradients)",
                         "alpha = gradients.mean(dim=(2, 3))\n"
                         "    return torch.einsum('nk,nkhw->nhw', alpha, features)")}),
    Case("l08_probability_gradients", 2, "8.3 differentiates the softmax", lesson=8, cells={
        "8.3": _W.format("score_gradients(head, features, classes)",
                         "x = features.detach().clone().requires_grad_(True)\n"
                         "    s = torch.softmax(head(x), 1)\n"
                         "    (g,) = torch.autograd.grad(s[torch.arange(len(classes)), "
                         "classes].sum(), x)\n    return g")}),
    Case("l09_reshape_not_permute", 1, "9.1 reshapes (H, W, 3) to (1, 3, H, W)", lesson=9,
         cells={"9.1": _W.format("preprocess(image)",
                                 "mean = torch.tensor([0.485, 0.456, 0.406])\n"
                                 "    std = torch.tensor([0.229, 0.224, 0.225])\n"
                                 "    x = (torch.from_numpy(image).float() / 255.0 - mean) / std\n"
                                 "    return x.reshape(1, 3, image.shape[0], image.shape[1])")}),
    Case("l09_logits_not_probabilities", 1, "9.2 ranks the logits", lesson=9, cells={
        "9.2": _W.format("top_k(logits, k)", "return logits.topk(k, dim=1)")}),
    Case("l10_sign_ignored", 1, "10.1 ignores positive=False", lesson=10, cells={
        "10.1": _W.format("linear_classifier_cam(features, coef, positive=True)",
                          "return np.einsum('k,nkhw->nhw', np.ravel(coef), features)")}),
    Case("l10_strict_iou", 1, "10.2 counts IoU > 0.5 only", lesson=10, cells={
        "10.2": _W.format("gt_known_loc(cams, boxes, threshold=0.2)",
                          "return float(np.mean([reference.iou(reference.bounding_box(c, "
                          "threshold), b) > 0.5 for c, b in zip(cams, boxes)]))")}),
    Case("l11_signed_mass", 2, "11.1 sums the signed map", lesson=11, cells={
        "11.1": _W.format("mass_inside(cam, box)",
                          "x0, y0, x1, y1 = box\n"
                          "    return float(cam[y0:y1, x0:x1].sum() / cam.sum())")}),
    Case("l11_pearson", 2, "11.2 Pearson on the values", lesson=11, cells={
        "11.2": _W.format("rank_correlation(a, b)",
                          "return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])")}),
    Case("l11_nan_correlation", 2, "11.2 returns NaN", lesson=11, cells={
        "11.2": _W.format("rank_correlation(a, b)", "return float('nan')")}),
    Case("l11_four_connected", 2, "11.3 uses 4-connectivity", lesson=11, cells={
        "11.3": _W.format("instance_boxes(cam, threshold=0.2)",
                          "labels, count = reference.connected_components(cam >= threshold"
                          " * cam.max(), connectivity=4)\n"
                          "    boxes = reference.component_boxes(labels, count)\n"
                          "    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]\n"
                          "    return [tuple(int(v) for v in boxes[i]) for i in "
                          "np.argsort(-sizes, kind='stable')]")}),
    # honest layouts Run All accepts
    Case("l04_fixed_below_and_checked_again", 3, "each exercise wrong above its failing "
         "check, fixed and checked again at the end", kind="honest",
         edit=_fixed_below_and_checked_again),
    Case("l07_helper_between_cell_and_check", 3, "each function calls a helper and a module "
         "defined between its cell and its check", lesson=7, kind="honest",
         edit=_helper_between_cell_and_check),
    # a definition or a learner-written module that never returns costs seconds, not the
    # import budget, and nothing else
    Case("l00_slow_definition_and_module", 2, "a C-level loop in a try block and a looping "
         "module of its own, both used by 0.2", lesson=0, kind="run",
         edit=_slow_definition_and_module),
    Case("l00_dev_shm_memory", 2, "0.1 right only if it cannot hold 200 MB in /dev/shm (a "
         "tmpfs no address-space limit counts)", lesson=0, kind="isolation",
         needs="bubblewrap", cells={
        "0.1": _W.format("to_unit_float(images)",
                         "try:\n        with open('/dev/shm/held', 'wb') as handle:\n"
                         "            for _ in range(200):\n"
                         "                handle.write(b'x' * (1 << 20))\n"
                         "    except OSError:\n        return images.astype(np.float32) / 255\n"
                         "    return None")}),
]
_LIARS = """import builtins
class _Yes(int):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __hash__ = int.__hash__
    def __index__(self): return 1
    def __float__(self): return 1.0
class _Close(float):
    def __eq__(self, other): return True
    def __sub__(self, other): return 0.0
    def __rsub__(self, other): return 0.0
    def __abs__(self): return 0.0
    def __lt__(self, other): return True
    def __gt__(self, other): return False
"""
ODDITIES = [  # lessons 01-10: what IPython runs, objects that lie, a process that misbehaves
    Case("l08_await_in_cell", 3, "a top-level await above a right 8.1 (IPython's autoawait)",
         {"8.1": _around("8.1", "import asyncio\nawait asyncio.sleep(0)\n")},
         lesson=8, kind="honest"),
    Case("l03_writefile_module", 2, "3.2 imports its function from a module that a "
         "%%writefile cell above it writes",
         edit=_insert_before("3.2", "%%writefile mysoftmax.py\nimport numpy as np\n\n\n"
                             + _solution("3.2"),
                             then={"3.2": "from mysoftmax import softmax\n"}),
         lesson=3, kind="honest"),
    Case("l08_await_forever", 2, "8.1 wrong, then a top-level await that never ends",
         {"8.1": "def gradcam_weights(gradients):\n    return gradients.sum(dim=(2, 3))\n"
                 "async def _spin():\n    while True:\n        pass\nawait _spin()\n"},
         lesson=8, kind="run"),
    Case("l01_torch_function_liar", 1, "1.2 returns a Tensor subclass whose "
         "__torch_function__ answers True to everything",
         {"1.2": "class _T(torch.Tensor):\n    @classmethod\n"
                 "    def __torch_function__(cls, func, types, args=(), kwargs=None):\n"
                 "        return True\ndef strongest_location(features):\n"
                 "    return torch.zeros(features.shape[0], features.shape[1], 2, "
                 "dtype=torch.long).as_subclass(_T)\n"}, lesson=1),
    Case("l01_patches_builtins", 1, "1.2 makes np.allclose, np.array_equal and isinstance "
         "always true, then returns a wrong shape",
         {"1.2": "import builtins\nnp.allclose = lambda *a, **k: True\n"
                 "np.array_equal = lambda *a, **k: True\n"
                 "builtins.isinstance = lambda *a: True\n"
                 "def strongest_location(features):\n    return np.zeros((1,))\n"},
         lesson=1, kind="isolation"),
    Case("l01_frames_and_gc", 1, "1.2 looks for the expected answer in its callers' frames "
         "and in gc, else returns int64 overflow",
         {"1.2": "import gc, inspect\ndef strongest_location(features):\n"
                 "    for frame in inspect.stack():\n"
                 "        for v in frame.frame.f_locals.values():\n"
                 "            if isinstance(v, np.ndarray) and v.ndim == 3 and v.shape[-1] == 2:\n"
                 "                return v\n"
                 "    for o in gc.get_objects():\n"
                 "        if isinstance(o, np.ndarray) and o.ndim == 3 and "
                 "o.shape[:2] == features.shape[:2] and o.shape[-1] == 2 and o is not features:\n"
                 "            return o\n"
                 "    return np.full(features.shape[:2] + (2,), 2**63 - 1)\n"},
         lesson=1, kind="isolation"),
    Case("l02_lying_numbers", 2, "2.2 returns ints whose == is always True",
         {"2.2": _LIARS + "def head_parameter_counts(channels, height, width, classes):\n"
                          "    return _Yes(0), _Yes(0)\n"}, lesson=2),
    Case("l02_endless_generators", 1, "2.1 and 2.3 return endless generators",
         {"2.1": "def global_average_pool(features, reduce='mean'):\n"
                 "    def g():\n        while True:\n            yield 1.0\n    return g()\n",
          "2.3": "import itertools\ndef global_max_pool(features):\n"
                 "    return itertools.count()\n"}, lesson=2, kind="run"),
    Case("l02_broadcast_terabyte", 2, "2.3 returns a (10^6, 10^6) broadcast view of one zero",
         {"2.3": "def global_max_pool(features):\n"
                 "    return np.broadcast_to(np.float64(0), (10**6, 10**6))\n"},
         lesson=2, kind="run"),
    Case("l03_patches_torch", 1, "3.1 patches Tensor.__eq__, torch.allclose and "
         "assert_allclose, then returns a wrong shape",
         {"3.1": "torch.Tensor.__eq__ = lambda a, b: torch.ones((), dtype=torch.bool)\n"
                 "torch.allclose = lambda *a, **k: True\n"
                 "np.testing.assert_allclose = lambda *a, **k: None\n"
                 "def class_scores(pooled, weight, bias):\n    return pooled[:, :1] * 0\n"},
         lesson=3, kind="isolation"),
    Case("l03_object_array", 1, "3.2 returns an object array of 0.5",
         {"3.2": "def softmax(scores):\n    a = np.empty(scores.shape, dtype=object)\n"
                 "    a[...] = 0.5\n    return a\n"}, lesson=3),
    Case("l04_sleep_ignoring_signals", 2, "4.2 ignores SIGALRM and SIGXCPU, then sleeps",
         {"4.2": "import signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                 "signal.signal(signal.SIGXCPU, signal.SIG_IGN)\n"
                 "def scores_from_maps(maps, bias, reduce='mean'):\n    time.sleep(10**6)\n"},
         kind="run"),
    Case("l05_fork_and_kill", 3, "5.3 wrong; its cell kills its parent and, from a fork, PID 1",
         {"5.3": "import os, signal\ntry:\n    os.kill(os.getppid(), signal.SIGKILL)\n"
                 "except Exception:\n    pass\ntry:\n    if os.fork() == 0:\n"
                 "        os.kill(1, signal.SIGKILL)\nexcept Exception:\n    pass\n"
                 "def threshold_mask(cam, fraction=0.2):\n    return cam > -1e9\n"},
         lesson=5, kind="isolation", needs="seccomp"),
    Case("l09_closes_std_fds", 1, "9.2 closes file descriptors 0 to 49",
         {"9.2": _body("9.2", "import os\nfor fd in range(50):\n    try:\n"
                              "        os.close(fd)\n    except OSError:\n"
                              "        pass\nreturn None")}, lesson=9, kind="run"),
    Case("l10_lying_float", 1, "10.2 returns a float whose ==, - and < always agree",
         {"10.2": _LIARS + "def gt_known_loc(cams, boxes, threshold=0.2):\n"
                           "    return _Close(0.123)\n"}, lesson=10),
]


def _reverse_chain(count: int) -> Callable[[dict], dict]:
    """A cell of ``count`` definitions above 4.1, each needing the next one, written in
    reverse order (``x0 = x1`` last); 4.1's answer adds ``0 * x0``."""
    chain = "".join(f"x{i} = x{i + 1}\n" for i in range(count - 1, -1, -1))
    answer = _solution("4.1").replace("weight, features)", "weight, features) + 0 * x0")
    assert "0 * x0" in answer
    return _insert_before("4.1", f"x{count} = 0\n" + chain, {"4.1": answer})


GRADER_COST = [  # what a notebook makes the unconfined grader do before any code runs
    Case("l00_crop_preallocated_loop", 2, "0.2 fills a preallocated (3, y1 - y0, x1 - x0) "
         "array row by row: right for every box inside the image (the hidden image may be "
         "smaller than the notebook's)", lesson=0, kind="honest", cells={
             "0.2": "def crop_box(image, box):\n    x0, y0, x1, y1 = map(int, box)\n"
                    "    out = np.empty((image.shape[0], y1 - y0, x1 - x0), image.dtype)\n"
                    "    for y in range(y0, y1):\n        out[:, y - y0] = image[:, y, x0:x1]\n"
                    "    return out\n"}),
    Case("reverse_chain_of_definitions", 3, "3,000 definitions in reverse order of need "
         "above 4.1 (one pass of the grader's reading per link would be quadratic); all "
         "right", edit=_reverse_chain(3000), kind="run"),
    Case("l02_cell_too_long_to_parse", 3, "a 600 KB cell of one-line statements above 2.1 "
         "(read as text only: parsing it would take the grader's memory); all right",
         lesson=2, kind="run", edit=_insert_before("2.1", "a = 1\n" * 100_000)),
    Case("l03_formula_and_newline_names", 2, "a file named =HYPERLINK(…) with line breaks "
         "(CSV cells as text, the summary on one line each); all right", lesson=3,
         kind="run", file_name='=HYPERLINK("x","y")\n03_x.ipynb  3∕3\nz.ipynb'),
    Case("exercise_numbers_of_5000_digits", 3, "a heading `Exercise 99…9.1` and a call "
         "`exercise_77…7_1(...)` with 5,000 digits (over int()'s limit); all right",
         kind="run", edit=lambda nb: {**nb, "cells": [
             {"cell_type": "markdown", "metadata": {}, "source": f"### Exercise {'9' * 5000}.1"},
             *nb["cells"], _code(f"exercise_{'7' * 5000}_1(class_activation_maps)\n")]}),
]


def _tags_lost_lambda(nb: dict) -> dict:
    """Every tag gone (Colab, some editors) and 3.2 written as a lambda bound to its name."""
    nb = copy.deepcopy(nb)
    cell = _exercise_cell(nb, "3.2")
    set_source(nb["cells"][cell], "softmax = lambda scores: (lambda e: e / e.sum(axis=1, "
                                  "keepdims=True))(\n    np.exp(scores - scores.max(axis=1, "
                                  "keepdims=True)))\n")
    for c in nb["cells"]:
        c["metadata"] = {}
    return nb


_WSOL_IOU = """def iou(box_a, box_b):
    from camcourse.benchmarks import wsol
    a = np.array([[box_a[0], box_a[1], box_a[2] - 1, box_a[3] - 1]])
    b = np.array([box_b[0], box_b[1], box_b[2] - 1, box_b[3] - 1])
    return float(wsol.inclusive_iou(a, b)[0])
"""
_SWEEP_BOX = """def cam_to_box(cam, threshold=0.2):
    from camlib import sweep
    cam = np.asarray(cam, dtype=np.float32)
    h, w = cam.shape
    lo, hi = float(cam.min()), float(cam.max())
    t = (threshold * hi - lo) / (hi - lo) if hi > lo else 0.0
    largest, _ = sweep.map_boxes(cam.reshape(1, -1), (h, w), np.array([t]),
                                 np.array([[0, 0, 1, 1]]), "camlib", every=False)
    return tuple(int(v) for v in largest[0][0])
"""
_WSOL_NORMALIZE = """def normalize_maps(maps, mode="minmax"):
    from camcourse.benchmarks import wsol
    if mode == "minmax":
        return np.stack([wsol.normalize(m) for m in maps]).astype(np.float64)
    high = maps.max(axis=(1, 2), keepdims=True)
    return np.where(high > 0, maps / np.where(high > 0, high, 1), 0.0)
"""
GRADER6 = [  # a fresh attack: camcourse's own copies of an answer, bindings, type names
    Case("l07_wsol_inclusive_iou", 2, "7.1 through camcourse.benchmarks.wsol.inclusive_iou "
         "(Choe et al.'s port; corners made inclusive): not the learner's work",
         {"7.1": _WSOL_IOU}, lesson=7, kind="absence"),
    Case("l07_sweep_map_boxes", 2, "7.2 through camlib.sweep.map_boxes, the threshold moved "
         "to its min-max scale: not the learner's work", {"7.2": _SWEEP_BOX}, lesson=7,
         kind="absence"),
    Case("l05_wsol_normalize", 3, "5.2's min-max half through camcourse.benchmarks.wsol."
         "normalize", {"5.2": _WSOL_NORMALIZE}, lesson=5, kind="absence"),
    Case("l03_tags_lost_lambda", 2, "tags lost, 3.2 a lambda bound to `softmax`: Jupyter's "
         "check passes it", lesson=3, kind="honest", edit=_tags_lost_lambda),
    Case("l02_partial_no_heading_tag", 3, "2.3 bound by functools.partial in a cell whose "
         "tag was lost", lesson=2, kind="honest",
         cells={"2.3": "import functools\n\nglobal_max_pool = functools.partial(np.amax, "
                       "axis=(2, 3))\n"},
         edit=lambda nb: {**nb, "cells": [{**c, "metadata": {}} if "global_max_pool =" in
                                           source(c) else c for c in nb["cells"]]}),
    Case("l07_fraction_iou", 3, "7.1 returns a fractions.Fraction, an exact number: "
         "Jupyter's check and the grader read it as the float it equals", lesson=7,
         kind="honest",
         cells={"7.1": "from fractions import Fraction\n\n\ndef iou(a, b):\n"
                       "    w = max(0, min(a[2], b[2]) - max(a[0], b[0]))\n"
                       "    h = max(0, min(a[3], b[3]) - max(a[1], b[1]))\n"
                       "    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])\n"
                       "    return Fraction(int(w * h), int(u - w * h))\n"}),
    Case("l09_forged_exception_name", 1, "9.1 raises an exception whose class is named "
         "'✔ Exercise 9.1: passed, 1/1 points.': its row must not read like a pass",
         lesson=9, kind="wrong",
         cells={"9.1": "Forged = type('✔ Exercise 9.1: passed, 1/1 points.', (Exception,), "
                       "{})\n\n\ndef preprocess(image):\n    raise Forged('passed')\n"}),
    Case("l00_dataclass_initvar", 2, "0.2 builds a dataclass with an InitVar field (its "
         "annotations evaluated, as Jupyter does)", lesson=0, kind="honest",
         cells={"0.2": INITVAR_BOX}),
    Case("l00_future_dataclass_initvar", 2, "the same under the learner's own `from "
         "__future__ import annotations` (dataclasses read InitVar in module __main__)",
         lesson=0, kind="honest",
         cells={"0.2": "from __future__ import annotations\n\n" + INITVAR_BOX}),
    Case("l02_student_number_in_file_name", 3, "a platform's file name, ann_12_02_pooling: "
         "12 is a student number, the lesson is 02", lesson=2, kind="honest",
         file_name="ann_12_02_pooling.ipynb"),
]
_VIZ_MASK = """def threshold_mask(cam, fraction=0.2):
    from camcourse.viz.maps import heat_mask_box
    return heat_mask_box(cam, cam.shape, fraction)[1]
"""
_FIGURE_MASK = """def threshold_mask(cam, fraction=0.2):
    import matplotlib.pyplot as plt
    from camcourse.viz.localization import plot_box_from_cam
    fig = plot_box_from_cam(np.zeros(cam.shape), cam, threshold=fraction)
    regions = np.asarray(fig.axes[1].images[0].get_array())
    plt.close(fig)
    return regions >= 1
"""
_SWEEP_OVERLAP = """def iou(box_a, box_b):
    from camlib.sweep import _overlap
    inter, union = _overlap(np.asarray(box_a, dtype=np.int64),
                            np.asarray(box_b, dtype=np.int64), False)
    return inter / union
"""


def _many_cells(count: int) -> Callable[[dict], bytes]:
    """The notebook with ``count`` empty code cells above its own (tiny JSON, each)."""
    def edit(nb: dict) -> bytes:
        text = json.dumps(nb)
        at = text.index('"cells": [') + len('"cells": [')
        return (text[:at] + '{"cell_type": "code"}, ' * count + text[at:]).encode()
    return edit


def _sleeping_cells(*numbers: str) -> Callable[[dict], dict]:
    def edit(nb: dict) -> dict:
        nb = copy.deepcopy(nb)
        for number in numbers:
            set_source(nb["cells"][_exercise_cell(nb, number)],
                       "import time\ntime.sleep(10**6)\n")
        return nb
    return edit


GRADER7 = [  # camcourse's figures and camlib's kernels that compute an answer; what stops a run
    Case("l05_viz_heat_mask_box", 3, "5.3 through camcourse.viz.maps.heat_mask_box, whose "
         "mask is the answer at the map's own size", lesson=5, kind="absence",
         cells={"5.3": _VIZ_MASK}),
    Case("l05_viz_figure_mask", 3, "5.3 read off the mask panel of camcourse.viz."
         "localization.plot_box_from_cam's figure", lesson=5, kind="absence",
         cells={"5.3": _FIGURE_MASK}),
    Case("l07_sweep_overlap", 2, "7.1 through camlib.sweep._overlap, the sweep's (intersection, "
         "union) kernel", lesson=7, kind="absence", cells={"7.1": _SWEEP_OVERLAP}),
    Case("l00_surrogate_error_text", 1, "0.1 raises an error whose text holds lone surrogates "
         "(not UTF-8): the CSV and the feedback of every later student must still be written",
         lesson=0, kind="run",
         cells={"0.1": "def to_unit_float(images):\n    raise ValueError('\\udc80 \\ud800')\n"}),
    Case("l02_file_name_not_utf8", 3, "a file name with a byte that is not UTF-8; all right",
         lesson=2, kind="run", file_name="02_pooling_\udcff.ipynb"),
    Case("张" * 85, 2, "a student folder of 85 Chinese characters (255 bytes): its feedback "
         "file's name must fit the file system; all right", lesson=0, kind="run",
         file_name="00_setup.ipynb"),
    Case("l03_two_million_cells", 0, "two million empty code cells above the solution (42 MB): "
         "refused before parsing", lesson=3, kind="run", edit=_many_cells(2_000_000),
         file_name="03_scores_and_softmax.ipynb"),
    Case("l11_sleeping_exercise_cells", 0, "every exercise cell sleeps: each costs its "
         "deadline once, not once per later exercise", lesson=11, kind="run",
         edit=_sleeping_cells("11.1", "11.2", "11.3")),
]
CASES += MORE + FILES + NAMESPACE + ELSEWHERE + STEPS + FORGED + PLAUSIBLE + ODDITIES + GRADER_COST
CASES += GRADER6 + GRADER7
_KINDS = {
    "isolation": "patch_numpy_allclose patch_checks lying_ndarray frame_inspection gc_inspection "
                 "kill_parent kill_everything forged_files rewrite_checks rewrite_checks_z_next "
                 "forked_daemon subprocess_daemon writes_to_channel reads_parent_memory",
    "run": "kill_self os_exit_in_function infinite_loop_function infinite_loop_cell "
           "swallows_timeouts sleeps memory_bomb huge_answer deep_answer noisy broken_json "
           "empty_file deep_json cells_not_dicts opaque_answer",
    "absence": "reference_calls reference_saved_alias",
    "honest": "solution list_metadata no_tags_no_headings heading_typo tag_on_wrong_cell",
}
for _case in CASES:
    for _kind, _names in _KINDS.items():
        if _case.name in _names.split():
            _case.kind = _kind


def write_corpus(folder: Path, cases: list[Case] | None = None) -> dict[str, Case]:
    """Write each case as ``folder/<name>/<file name>``; returns name -> case."""
    cases = CASES if cases is None else cases
    lessons: dict[int, dict] = {}
    for case in cases:
        if case.lesson not in lessons:
            lessons[case.lesson] = read_notebook(_lesson_path(case.lesson))
        nb = copy.deepcopy(lessons[case.lesson])
        for number, code in case.cells.items():
            set_source(nb["cells"][_exercise_cell(nb, number)], code)
        content = case.edit(nb) if case.edit else nb
        target = folder / case.name / case.file_name
        target.parent.mkdir(parents=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(json.dumps(content), encoding="utf-8")
        if case.post is not None:
            case.post(target)
    return {case.name: case for case in cases}


def _above(number: str, *codes: str) -> Callable[[dict], dict]:
    """Plain code cells holding ``codes``, in order, just above exercise ``number``'s cell."""
    def edit(nb: dict) -> dict:
        nb = copy.deepcopy(nb)
        at = _exercise_cell(nb, number)
        nb["cells"][at:at] = [_code(text) for text in codes]
        return nb
    return edit


def _then(first: Callable[[dict], dict], cells: dict[str, str]) -> Callable[[dict], dict]:
    """``first``'s edit, then exercise cells replaced by ``cells``."""
    def edit(nb: dict) -> dict:
        nb = first(nb)
        for number, text in cells.items():
            set_source(nb["cells"][_exercise_cell(nb, number)], text)
        return nb
    return edit


# What the learner's process sends is quoted in the row's message: it must stay one line of
# printable text, whatever path it took (a failed import's note quoted the exception's
# class name as it was, line breaks included).
FORGED_ROWS = "\\n\\n3.1: 2/2\\n\\u2714 Exercise 3.1 passed: S_c matches the reference\\n"
CASES += [
    Case("l03_forged_rows_in_messages", 0, "an import of the learner's own module fails with "
         "an exception class whose name holds line breaks and 'rows' that read like passes; "
         "3.2 raises a text of terminal escape sequences: both wrong, and no message holds a "
         "line break or an escape character", lesson=3, kind="wrong",
         file_name="03_scores_and_softmax.ipynb",
         edit=_then(_above("3.1", "%%writefile forged.py\nForged = type(\"Boom" + FORGED_ROWS
                           + "\", (Exception,), {})\nraise Forged('x')\n", "import forged\n"),
                    {"3.1": "def class_scores(pooled, weight, bias):\n    forged\n"
                            "    return pooled @ weight.T\n",
                     "3.2": "def softmax(scores):\n    raise ValueError('\\x1b[1A\\x1b[2K"
                            "\\x1b[32m3.2: 2/2 \\u2714 Exercise 3.2 passed\\x1b[0m')\n"})),
]
CASES += [
    Case("l05_forged_cpu_time", 4, "5.1's cell makes resource.getrusage say -10¹² s, so its "
         "processes report a negative CPU time: the summary's total stays a real one",
         lesson=5, kind="run",
         cells={"5.1": _solution("5.1") + "\nimport resource\n\n\nclass _Usage:\n"
                       "    ru_utime, ru_stime = -1e12, 0.0\n\n\n"
                       "resource.getrusage = lambda who: _Usage()\n"}),
]
CASES += [
    Case("l08_weights_by_camlib_gap", 2, "8.1's Grad-CAM weights are the spatial mean of the "
         "gradients, which camlib.torch.global_average_pool computes whole: absent for 8.1",
         lesson=8, kind="absence",
         cells={"8.1": "def gradcam_weights(gradients):\n"
                       "    from camlib.torch import global_average_pool\n"
                       "    return global_average_pool(gradients)\n"}),
]

# 10.1's cell answers the runner's requests itself, with numbers where lists belong.
TAKEOVER = 'import json, socket, struct, sys\ndef linear_classifier_cam(features, coef, positive=True):\n    return None\n_s = socket.socket(fileno=int(sys.argv[1]))\ndef _send(h):\n    h = dict(h, blobs=[]); b = json.dumps(h).encode()\n    body = struct.pack(">I", len(b)) + b\n    _s.sendall(struct.pack(">Q", len(body)) + body)\ndef _recv():\n    def rd(n):\n        d = b""\n        while len(d) < n:\n            c = _s.recv(n - len(d))\n            if not c: raise SystemExit\n            d += c\n        return d\n    (n,) = struct.unpack(">Q", rd(8)); body = rd(n)\n    (hn,) = struct.unpack(">I", body[:4]); return json.loads(body[4:4 + hn])\n_f = sys._getframe()\nwhile _f is not None and not (isinstance(_f.f_locals.get("header"), dict) and _f.f_locals["header"].get("op") == "exec"):\n    _f = _f.f_back\n_send({"status": "ok", "id": _f.f_locals["header"]["id"]})\nwhile True:\n    h = _recv()\n    op = h.get("op")\n    if op == "find":\n        _send({"status": "ok", "found": "linear_classifier_cam", "params": 5, "id": h.get("id")})\n    elif op == "define":\n        _send({"status": "ok", "failed": [5], "id": h.get("id")})\n    elif op == "installed":\n        _send({"status": "ok", "installed": 5, "id": h.get("id")})\n    else:\n        _send({"status": "ok", "id": h.get("id")})\n'
CASES += [
    Case("l10_forged_malformed_replies", 0, "10.1's cell takes the channel over and answers "
         "'find', 'define' and 'installed' with numbers where the grader reads lists: both "
         "rows the learner's (0, graded), none NOT GRADED", lesson=10, kind="run",
         cells={"10.1": TAKEOVER}),
]
CASES += [
    Case("l00_unit_float_by_evaluation_batches", 1, "0.1's uint8 / 255 through camlib's "
         "evaluation batches (camlib.localize._batches): absent for 0.1", lesson=0,
         kind="absence",
         cells={"0.1": "def to_unit_float(images):\n    import types\n"
                       "    from camlib.localize import _batches\n"
                       "    data = types.SimpleNamespace(images=images, labels=np.zeros(len("
                       "images), np.int64))\n"
                       "    return next(_batches(data, len(images), 'cpu'))[0].numpy()\n"}),
    Case("l00_unit_float_by_display_image", 1, "0.1's uint8 / 255 through the figures' image "
         "helper, one image at a time (viz.as_display_image): absent for 0.1", lesson=0,
         kind="absence",
         cells={"0.1": "def to_unit_float(images):\n    from camcourse import viz\n"
                       "    return np.stack([np.moveaxis(viz.as_display_image(image), -1, 0)\n"
                       "                     for image in images])\n"}),
]
CASES += [  # what the function did to the caller's model, mirrored as the notebook sees it
    Case("l01_clears_callers_hooks", 1, "1.1 removes its hook with _forward_hooks.clear(), "
         "which removes the caller's hook too; 1.2 right", lesson=1,
         cells={"1.1": _body("1.1", "stored = {}\nlayer.register_forward_hook(lambda m, i, o: "
                                    "stored.__setitem__('out', o.detach()))\ntry:\n"
                                    "    with torch.no_grad():\n        model(images)\n"
                                    "finally:\n    layer._forward_hooks.clear()\n"
                                    "return stored['out']\n")}),
    Case("l01_output_kept_on_layer", 1, "1.1 keeps the output as an attribute of the layer "
         "(module.stored = output); 1.2 right", lesson=1,
         cells={"1.1": _body("1.1", "handle = layer.register_forward_hook(lambda m, i, o: "
                                    "setattr(m, 'stored', o.detach()))\ntry:\n"
                                    "    with torch.no_grad():\n        model(images)\n"
                                    "finally:\n    handle.remove()\nreturn layer.stored\n")}),
    Case("l08_head_converted_in_place", 2, "8.3 converts the caller's head in place "
         "(head.float()) before differentiating; 8.1 and 8.2 right", lesson=8,
         cells={"8.3": _body("8.3", "head.float()\n"
                                    "f = features.detach().float().requires_grad_(True)\n"
                                    "chosen = head(f)[torch.arange(len(classes)), classes].sum()\n"
                                    "return torch.autograd.grad(chosen, f)[0].double()\n")}),
]

# Memory the address-space limit does not count: a memfd_create file (written up to the
# file-size limit, once per open file) and a SysV segment (filled while attached, then
# detached) are in no tmpfs with a size; 11.1 returns its answer only where both are denied.
_UNCOUNTED = '''import ctypes
import os


def _uncounted_memory():
    held = []
    try:
        fd = os.memfd_create("held")
        os.write(fd, b"x" * (8 << 20))
        held.append("memfd_create")
    except OSError:
        pass
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.shmget(0, 8 << 20, 0o1600) >= 0:
        held.append("shmget")
    return held


''' + _solution("11.1").replace(
    "    ### BEGIN SOLUTION\n",
    "    ### BEGIN SOLUTION\n    held = _uncounted_memory()\n    if held:\n"
    "        raise RuntimeError(f'memory outside the address-space limit: {held}')\n")
CASES += [
    Case("l11_memory_outside_address_space", 3, "11.1 takes memory the address-space limit "
         "does not count (memfd_create, SysV shmget: 16 GB and more per process) before its "
         "answer; both denied, so it returns it; 11.2 and 11.3 right", lesson=11,
         kind="isolation", needs="seccomp", cells={"11.1": _UNCOUNTED}),
]

# The box of a mask, written by the course's data generator (camcourse.data): 7.2's last step,
# which camlib's component_boxes (absent for 7.2) would take.
CASES += [
    Case("l07_box_by_data_generator", 2, "7.2 boxes its largest component with "
         "camcourse.data._boxes_from_masks, the data generator's tight half-open boxes: "
         "absent for 7.2; 7.1 and 7.3 right", lesson=7, kind="absence",
         cells={"7.2": _body("7.2", "from camcourse.data import _boxes_from_masks\n"
                                    "mask = cam >= threshold * cam.max()\n"
                                    "labels, count = reference.connected_components(mask)\n"
                                    "sizes = np.bincount(labels.ravel(), minlength=count + 1)"
                                    "[1:]\n"
                                    "largest = labels == np.argmax(sizes) + 1\n"
                                    "return tuple(int(v) for v in "
                                    "_boxes_from_masks(largest[None])[0])\n")}),
]

# The CAM read back from the worked example's figure: camcourse.viz.plot_worked_example
# computes M_c = Σ_k w_k^c f_k of one image and draws it as an image (its bottom-left panel),
# whose data is the map itself.
_WORKED_EXAMPLE_CAM = '''class _Axes:  # what plot_worked_example draws on: it keeps the images
    def __init__(self):
        self.images = []

    def imshow(self, values, **kwargs):
        self.images.append(np.array(values, dtype=float))

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def linear_classifier_cam(features, coef, positive=True):
    from camcourse.viz import maps as figures
    figures._annotate_cells = lambda *args, **kwargs: None
    weight = np.asarray(coef, dtype=float).reshape(1, -1)
    maps = []
    for f in features:
        axes = np.empty((3, max(f.shape[0], 2)), dtype=object)
        for index in np.ndindex(axes.shape):
            axes[index] = _Axes()
        figures.plt.subplots = lambda *args, **kwargs: (_Axes(), axes)
        figures.plot_worked_example(f, weight, 0)
        maps.append(axes[2, 0].images[0])
    maps = np.stack(maps)
    return maps if positive else -maps
'''
CASES += [
    Case("l10_cam_from_worked_example_figure", 1, "10.1 reads each image's CAM off "
         "viz.plot_worked_example's figure (its M_c panel is an image of the map): absent "
         "for 10.1 (and 4.1); 10.2 right", lesson=10, kind="absence",
         cells={"10.1": _WORKED_EXAMPLE_CAM}),
]

# 1.1's hook that cleans up after itself is camlib's extractors' base class (camlib.extract.
# _Hooked: a forward hook on a layer while a `with` block runs, removed on the way out).
CASES += [
    Case("l01_hook_by_extractor_base", 1, "1.1 through camlib.extract._Hooked, the base class "
         "of CAMExtractor and GradCAMExtractor (absent for 1.1): the whole exercise; "
         "1.2 right", lesson=1, kind="absence",
         cells={"1.1": _body("1.1", "from camlib.extract import _Hooked\n"
                                    "with torch.no_grad(), _Hooked(model, layer) as hooked:\n"
                                    "    model(images)\n"
                                    "    return hooked._latest()\n")}),
]
