"""Hostile and careless submissions of lesson 04, each with the score it deserves (of 3).

Each case starts from the lesson's solution notebook (4.1, 4.2, 4.3 right) and changes
it: an exercise cell's source (``cells={"4.2": code}``) or the file itself (``edit``).
``WRONG_42`` / ``WRONG_43`` are honest wrong answers that are wrong on any input (the
bias left out; the channels averaged instead of summed); unless a case says otherwise,
4.1 stays right. Used by tests/test_grading_corpus.py.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from camlib.coursework.notebooks import find_exercises, read_notebook, set_source
from camlib.paths import NOTEBOOKS_DIR

LESSON = NOTEBOOKS_DIR / "04_swapping_the_sums.ipynb"

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
    needs: str = ""  # "seccomp" or "landlock": the confinement the deserved score relies on


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
         _wrong(**{"4.2": "import camlib.checks._core as c\nimport camlib.checks as cc\n"
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
         _wrong(**{"4.2": "from camlib.checks import rng_for\n_table = {}\n"
                          "_r = rng_for('4.2')\n"
                          "for n, c, h, w in [(2, 4, 5, 5), (3, 10, 4, 6)]:\n"
                          "    m = _r.normal(size=(n, c, h, w)); b = _r.normal(size=c)\n"
                          "    _table[m.tobytes()] = m.mean(axis=(2, 3)) + b\n"
                          "def scores_from_maps(maps, bias, reduce='mean'):\n"
                          "    return _table.get(maps.tobytes(), np.zeros(maps.shape[:2]))\n"})),
    Case("right_every_other_call", 1, "right on odd calls only",
         _wrong(**{"4.2": "_n = [0]\ndef scores_from_maps(maps, bias, reduce='mean'):\n    _n[0] += 1\n"
                          "    return maps.mean(axis=(2, 3)) + (bias if _n[0] % 2 else 0)\n"})),
    Case("sys_exit_in_cell", 2, "the 4.2 cell calls sys.exit(); 4.3 right",
         {"4.2": "import sys\nsys.exit(0)\n" + RIGHT_42}),
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
    Case("rewrite_checks", 1, "rewrites camlib/checks/lesson04.py (installed and copies)",
         _wrong(**{"4.2": "import camlib.checks.lesson04 as m, os, pathlib, sys\n"
                          "p = pathlib.Path(m.__file__)\n"
                          "for f in [p] + [pathlib.Path(s) / 'camlib/checks/lesson04.py'\n"
                          "              for s in sys.path]:\n"
                          "    try:\n        os.chmod(f, 0o644); os.chmod(f.parent, 0o755)\n"
                          "        f.write_text(f.read_text().replace('ctx.compare(', "
                          "'0 and ctx.compare('))\n"
                          "    except OSError:\n        pass\n" + WRONG_42}), needs="landlock"),
    Case("rewrite_checks_z_next", 1, "graded after rewrite_checks: judged by the real checks",
         _wrong()),
    Case("forked_daemon", 2, "forks a daemon in the 4.2 cell; 4.3 right",
         {"4.2": "import os, time\npid = os.fork()\nif pid == 0:\n    os.setsid()\n"
                 "    time.sleep(30)\n    os._exit(0)\n" + RIGHT_42}, needs="seccomp"),
    Case("subprocess_daemon", 2, "starts a background shell in the 4.2 cell; 4.3 right",
         {"4.2": "import subprocess\nsubprocess.Popen(['sh', '-c', 'sleep 30'], "
                 "start_new_session=True)\n" + RIGHT_42}, needs="seccomp"),
    Case("infinite_loop_function", 2, "4.2 loops forever; 4.3 right",
         {"4.2": "def scores_from_maps(maps, bias, reduce='mean'):\n    while True:\n        pass\n"}),
    Case("infinite_loop_cell", 2, "the 4.2 cell loops at the top level; 4.3 right",
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
    Case("broken_json", 0, "not valid JSON", edit=lambda nb: b'{"cells": [ {"cell_type": '),
    Case("empty_file", 0, "an empty file", edit=lambda nb: b""),
    Case("deep_json", 0, "JSON nested 100000 deep",
         edit=lambda nb: b'{"cells": ' + b"[" * 100000 + b"]" * 100000 + b"}"),
    Case("cells_not_dicts", 0, "cells that are not cells", edit=lambda nb: {"cells": [1, "x"]}),
    Case("list_metadata", 3, "every cell's metadata is a list (tags lost); all right",
         edit=lambda nb: {**nb, "cells": [{**c, "metadata": []} for c in nb["cells"]]}),
    Case("no_tags_no_headings", 3, "tags and exercise headings removed; all right",
         edit=lambda nb: {**nb, "cells": [
             {**c, "metadata": {}, "source": "text"} if c["cell_type"] == "markdown"
             else {**c, "metadata": {}} for c in nb["cells"]]}),
    Case("heading_typo", 3, "### Exercise 4.3 above the 4.2 cell; all right",
         edit=lambda nb: _retitle(nb, "4.2", "### Exercise 4.3: typo")),
    Case("tag_on_wrong_cell", 3, "the exercise tag moved to a neighbouring cell; all right",
         edit=lambda nb: _move_tag(nb, "4.2")),
]


def _exercise_cell(nb: dict, number: str) -> int:
    return next(e.cell for e in find_exercises(nb) if e.number == number)


def _retitle(nb: dict, number: str, heading: str) -> dict:
    nb = copy.deepcopy(nb)
    cell = _exercise_cell(nb, number)
    j = max(i for i in range(cell) if nb["cells"][i]["cell_type"] == "markdown")
    set_source(nb["cells"][j], heading + "\n\nWrite the function.")
    return nb


def _move_tag(nb: dict, number: str) -> dict:
    nb = copy.deepcopy(nb)
    cell = _exercise_cell(nb, number)
    nb["cells"][cell]["metadata"]["tags"] = []
    nb["cells"][cell + 1]["metadata"].setdefault("tags", []).append("exercise")
    return nb


def write_corpus(folder: Path) -> dict[str, Case]:
    """Write each case as ``folder/<name>/submission.ipynb``; returns name -> case."""
    lesson = read_notebook(LESSON)
    for case in CASES:
        nb = copy.deepcopy(lesson)
        for number, code in case.cells.items():
            set_source(nb["cells"][_exercise_cell(nb, number)], code)
        content = case.edit(nb) if case.edit else nb
        target = folder / case.name / "submission.ipynb"
        target.parent.mkdir(parents=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(json.dumps(content), encoding="utf-8")
    return {case.name: case for case in CASES}
