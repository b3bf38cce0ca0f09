"""The bubblewrap sandbox: one submission tries everything, the next is graded as if alone.

The hostile submission (lesson 04, 4.2's cell) lists ``/proc``, reads ``../`` and the
course folder, writes outside its directory, opens a socket, signals, renices and
prlimits its parent, forks, holds memory in ``/dev/shm`` (a tmpfs no address-space limit
counts), and leaves a SysV shared-memory segment. What it saw is
turned into its grade: 4.2 is right only if the cell saw nothing it should not, so a
sandbox that leaks shows up as a lost point, and the escape attempts' effects are
checked from outside (the grader's priority, limits and affinity; files; segments;
processes).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
from pathlib import Path

import pytest

from camcourse.coursework import grade
from camcourse.coursework.notebooks import find_exercises, read_notebook, set_source
from camcourse.paths import NOTEBOOKS_DIR, REPO_ROOT

LESSON = NOTEBOOKS_DIR / "04_swapping_the_sums.ipynb"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("bwrap") is None,
                       reason="bubblewrap is not installed: `sudo apt-get install bubblewrap` "
                              "(Debian/Ubuntu) runs these sandbox tests"),
]

HOSTILE = '''import ctypes, os, resource, signal, socket
_seen = []
def _try(label, action):
    try:
        action()
        _seen.append(label)
    except Exception:
        pass
_pids = [p for p in os.listdir("/proc") if p.isdigit()]
if len(_pids) > 3:
    _seen.append(f"/proc lists {len(_pids)} processes")
def _parent():
    text = open(f"/proc/{os.getppid()}/cmdline").read()
    assert ".ipynb" in text or "tmp" in text  # bwrap init: no host path
_try("read the grader's command line", _parent)
_try("read the grader's environment", lambda: open(f"/proc/{GRADER}/environ").read())
_try("listed ../", lambda: [n for n in os.listdir("..") if n.startswith("camlib-grade")][0])
_try("read the course", lambda: open(COURSE + "/notebooks/04_swapping_the_sums.ipynb").read())
_try("wrote outside", lambda: open(OUTSIDE, "w").write("escaped"))
_try("wrote to /", lambda: open("/escape.txt", "w").write("escaped"))
_try("a TCP socket", lambda: socket.create_connection(("1.1.1.1", 80), timeout=1))
_try("signalled the grader", lambda: os.kill(GRADER, 0))
_try("reniced the grader", lambda: os.setpriority(os.PRIO_PROCESS, GRADER, 19))
_try("prlimited the grader", lambda: resource.prlimit(GRADER, resource.RLIMIT_NOFILE, (4, 4)))
_try("pinned the grader", lambda: os.sched_setaffinity(GRADER, {0}))
os.setpriority(os.PRIO_USER, os.getuid(), 19) if hasattr(os, "setpriority") else None
_try("signalled the parent", lambda: os.kill(os.getppid(), signal.SIGKILL))
def _fork():
    if os.fork() == 0:
        import time
        os.setsid()
        time.sleep(60)
        os._exit(0)
_try("forked", _fork)
def _fill(path, megabytes):
    with open(path, "wb") as handle:
        for _ in range(megabytes):
            handle.write(b"x" * (1 << 20))
_try("held 200 MB of memory in /dev/shm", lambda: _fill("/dev/shm/held", 200))
_try("wrote to /dev", lambda: _fill("/dev/held", 1))
_libc = ctypes.CDLL(None, use_errno=True)
_libc.shmget(0x5EED1, 4096, 0o1666)
open("left-behind.txt", "w").write("x")
def scores_from_maps(maps, bias, reduce="mean"):
    if _seen:
        raise RuntimeError("; ".join(_seen))
    total = maps.sum(axis=(2, 3))
    if reduce == "mean":
        total = total / (maps.shape[2] * maps.shape[3])
    return total + bias
'''


def _shm_keys() -> set[str]:
    lines = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
    return {line.split()[0] for line in lines}


def _submission(path: Path, code: str | None) -> Path:
    nb = read_notebook(LESSON)
    if code is not None:
        cell = next(e.cell for e in find_exercises(nb) if e.number == "4.2")
        set_source(nb["cells"][cell], code)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def test_one_submission_tries_everything_and_the_next_is_graded_as_if_alone(tmp_path,
                                                                            monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    outside = tmp_path / "outside.txt"
    code = (f"COURSE = {str(REPO_ROOT)!r}\nOUTSIDE = {str(outside)!r}\nGRADER = {os.getpid()}\n"
            + HOSTILE)
    hostile = _submission(tmp_path / "subs" / "a_hostile" / "04_x.ipynb", code)
    honest = _submission(tmp_path / "subs" / "b_honest" / "04_x.ipynb", None)
    before = (os.getpriority(os.PRIO_PROCESS, 0), resource.getrlimit(resource.RLIMIT_NOFILE),
              os.sched_getaffinity(0), _shm_keys())
    rows = grade([hostile, honest], seed=7, jobs=1, verbose=False, require_sandbox=True)
    alone = grade([honest], seed=7, jobs=1, verbose=False, require_sandbox=True)
    by = {(Path(r.submission).parent.name, r.exercise): r for r in rows}
    assert by["a_hostile", "4.2"].passed, by["a_hostile", "4.2"].message  # it saw nothing
    assert {r.isolation for r in rows} == {"bubblewrap"}
    assert [(r.points, r.message) for r in rows if "b_honest" in r.submission] == \
        [(r.points, r.message) for r in alone]
    after = (os.getpriority(os.PRIO_PROCESS, 0), resource.getrlimit(resource.RLIMIT_NOFILE),
             os.sched_getaffinity(0), _shm_keys())
    assert after == before
    assert not outside.exists() and not Path("/escape.txt").exists()
    assert list(scratch.iterdir()) == []  # no working directory, no generated camlib left
    import subprocess

    leftover = subprocess.run(["pgrep", "-f", str(scratch)], capture_output=True,
                              text=True).stdout.split()  # bwrap's command line names it
    assert leftover == []
