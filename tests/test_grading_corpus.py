"""The autograder against hostile and careless submissions (tests/grading_corpus.py).

Every case is graded in one run, as a teacher would grade a class: each must get the
score it deserves, the run must survive all of them, and the course files and the
grades must be the same afterwards as what the grader wrote.
"""

from __future__ import annotations

import csv
import hashlib
import sys
import tempfile
import time
from pathlib import Path

import pytest

from camlib.coursework import grade
from camlib.paths import NOTEBOOKS_DIR, REPO_ROOT

sys.path.insert(0, str(Path(__file__).parent))
from grading_corpus import CASES, write_corpus  # noqa: E402

pytestmark = pytest.mark.slow


def _tree_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def test_corpus_gets_what_it_deserves(tmp_path, monkeypatch):
    from camlib.coursework._sandbox import probe

    scratch = tmp_path / "scratch"  # where the run's learner processes get their folders
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))

    assert len(CASES) >= 30
    confinement = " ".join(probe())
    have = {"seccomp": "seccomp" in confinement.split(),
            "landlock": "Landlock ABI" in confinement}
    cases = {n: c for n, c in write_corpus(tmp_path / "subs").items()
             if not c.needs or have[c.needs]}
    if len(cases) < len(CASES):
        import shutil

        for name in set(c.name for c in CASES) - set(cases):
            shutil.rmtree(tmp_path / "subs" / name)
        print(f"confinement here: {confinement}; {len(CASES) - len(cases)} cases skipped")
    checks_before = _tree_hash(REPO_ROOT / "camlib")
    out = tmp_path / "grades.csv"
    start = time.monotonic()
    rows = grade([tmp_path / "subs"], out=out, lessons_dir=NOTEBOOKS_DIR, lesson=4,
                 cell_timeout=2, check_time_limit=2, jobs=2, verbose=False)
    elapsed = time.monotonic() - start
    got: dict[str, float] = {}
    for row in rows:
        got[row.student] = got.get(row.student, 0.0) + row.points
    table = "\n".join(f"{n:28} deserved {c.deserved} got {got.get(n)}" for n, c in cases.items())
    print(table, f"\n{elapsed:.0f} s")
    assert {n: got.get(n) for n in cases} == {n: c.deserved for n, c in cases.items()}, table
    message = {(r.student, r.exercise): r.message for r in rows}
    for (name, number), words in {
            ("reference_calls", "4.1"): "4.1 asks you to write this; camlib's version is off",
            ("in_place", "4.2"): "modified its argument `maps` in place",
            ("infinite_loop_function", "4.2"): "did not finish within the time limit of 2 s",
            ("infinite_loop_cell", "4.2"): "the exercise cell did not finish within 2 s",
            ("broken_json", "4.1"): "not a readable notebook",
            ("kill_self", "4.2"): "ended: it was killed by SIGKILL"}.items():
        if name in cases:
            assert words in message[name, number], message[name, number]
    # Every submission has a row for each of the lesson's 3 exercises.
    assert all(sum(r.student == n for r in rows) == 3 for n in cases)
    # Nothing a submission did changed the course or the grades afterwards.
    assert _tree_hash(REPO_ROOT / "camlib") == checks_before
    written = out.read_bytes()
    time.sleep(3)
    assert out.read_bytes() == written
    with open(out, encoding="utf-8") as handle:
        assert sum(1 for _ in csv.DictReader(handle)) == 3 * len(cases)
    totals = out.with_name("grades-totals.csv").read_text(encoding="utf-8").splitlines()
    assert len(totals) == 1 + len(cases)
    # No learner process or working directory of the run is left behind.
    assert list(scratch.glob("camlib-grade-*")) == []
