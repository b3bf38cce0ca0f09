"""The autograder against honest, careless and hostile submissions (tests/grading_corpus.py).

Every case, on every lesson, is graded in one run, as a teacher would grade a class: each
must get the score it deserves, the run must survive all of them and give every row, and
the course files and the grades must be the same afterwards as what the grader wrote.
"""

from __future__ import annotations

import csv
import hashlib
import sys
import tempfile
import time
from pathlib import Path

import pytest

from camcourse.coursework import grade
from camcourse.paths import NOTEBOOKS_DIR, REPO_ROOT

sys.path.insert(0, str(Path(__file__).parent))
from grading_corpus import CASES, CLASSES, _lesson_path, write_corpus  # noqa: E402

from camcourse.coursework.notebooks import find_exercises, read_notebook  # noqa: E402


def _tree_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def test_corpus_covers_every_lesson_and_every_class():
    assert len(CASES) >= 80
    assert {c.lesson for c in CASES} >= set(range(12))
    assert {c.kind for c in CASES} == set(CLASSES)
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.slow
def test_corpus_gets_what_it_deserves(tmp_path, monkeypatch):
    import shutil

    from camcourse.coursework._sandbox import bubblewrap_problem, probe

    scratch = tmp_path / "scratch"  # where the run's learner processes get their folders
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))

    confinement = " ".join(probe())
    have = {"seccomp": "seccomp" in confinement.split(),
            "landlock": "Landlock ABI" in confinement or bubblewrap_problem() is None,
            "bubblewrap": bubblewrap_problem() is None}
    have["seccomp"] = have["seccomp"] or have["bubblewrap"]
    cases = {n: c for n, c in write_corpus(tmp_path / "subs").items()
             if not c.needs or have[c.needs]}
    for name in set(c.name for c in CASES) - set(cases):
        shutil.rmtree(tmp_path / "subs" / name)
    if len(cases) < len(CASES):
        print(f"confinement here: {confinement}; {len(CASES) - len(cases)} cases skipped "
              f"(`apt-get install bubblewrap` runs them)")
    checks_before = [_tree_hash(REPO_ROOT / p) for p in ("camlib", "camcourse")]
    out = tmp_path / "grades.csv"
    start = time.monotonic()
    rows = grade([tmp_path / "subs"], out=out, lessons_dir=NOTEBOOKS_DIR, cell_timeout=2,
                 check_time_limit=2, jobs=2, verbose=False)
    elapsed = time.monotonic() - start
    got: dict[str, float] = {}
    for row in rows:
        got[row.student] = got.get(row.student, 0.0) + row.points
    table = "\n".join(f"{c.kind:9} {n:36} lesson {c.lesson:02d} deserved {c.deserved} got "
                      f"{got.get(n)}" for n, c in cases.items())
    print(table, f"\n{elapsed:.0f} s")
    assert {n: got.get(n) for n in cases} == {n: c.deserved for n, c in cases.items()}, table
    message = {(r.student, r.exercise): r.message for r in rows}
    for (name, number), words in {
            ("reference_calls", "4.1"): "Exercise 4.1 asks you to write camlib.reference.class_",
            ("in_place", "4.2"): "modified its argument `maps` in place",
            ("infinite_loop_function", "4.2"): "did not finish within the time limit of 2 s",
            ("infinite_loop_cell", "4.2"): "raised TimeoutError: the statement ran out of CPU time",
            ("broken_json", "4.1"): "not a readable notebook",
            ("kill_self", "4.2"): "SIGKILL",
            ("l09_demo_then_consts", "9.1"): "note: a line of the exercise cell raised NameError",
            ("l09_sparse_answer", "9.2"): "could not be encoded as plain data",
            ("lesson02_as_04", "4.1"): "exercise headings are lesson 02's",
            ("unknown_lesson", ""): "the course has no lesson 12",
            ("l06_zero_grad_after_backward", "6.2"): "the gradients were zero when it ran",
            ("l06_step_before_backward", "6.2"): "it ran before loss.backward()",
            ("l06_no_step", "6.2"): "call optimizer.step() after loss.backward()",
            ("fifo_submission", "3.1"): "not a regular file (a FIFO)",
            ("dev_zero_link", "1.1"): "a symbolic link",
            ("link_to_solution", "4.1"): "a symbolic link",
            ("sparse_60mb", "6.1"): "over the limit",
            ("nested_reply", "4.2"): "the grader refuses to read",
            ("l07_sweep_engine", "7.2"): "camlib.sweep.threshold_boxes",
            ("l11_checks_helpers", "11.1"): "the checks' helper _mass",
            ("l07_wsol_inclusive_iou", "7.1"): "camcourse.benchmarks.wsol.inclusive_iou",
            ("l07_sweep_map_boxes", "7.2"): "camlib.sweep.map_boxes",
            ("l05_wsol_normalize", "5.2"): "camcourse.benchmarks.wsol.normalize",
            ("l09_forged_exception_name", "9.1"): "raised Exercise_9.1_passed",
            ("l05_viz_heat_mask_box", "5.3"): "camcourse.viz.maps.heat_mask_box",
            ("l05_viz_figure_mask", "5.3"): "camcourse.viz.localization.plot_box_from_cam",
            ("l07_sweep_overlap", "7.1"): "camlib.sweep._overlap",
            ("l08_weights_by_camlib_gap", "8.1"): "write camlib.torch.global_average_pool",
            ("l10_forged_malformed_replies", "10.1"): "returned None",
            ("l00_surrogate_error_text", "0.1"): "raised ValueError: \\udc80 \\ud800",
            ("l03_two_million_cells", "3.1"): "over the limit of 250,000",
            ("l11_sleeping_exercise_cells", "11.3"): "did not finish within 2 s"}.items():
        if name in cases:
            assert words in message[name, number], message[name, number]
    assert not any("memory or CPU" in m for m in message.values())
    # What a learner's process sent cannot write lines or escape sequences into a message.
    assert not [m for m in message.values() if not m.isprintable()]
    assert all(0 <= r.learner_cpu < 600 for r in rows)  # as reported, but plausible
    assert "the import `import forged` failed: Boom\\n\\n3.1: 2/2" in message[
        "l03_forged_rows_in_messages", "3.1"]
    # Every submission has a row for each exercise of its lesson, all graded.
    expected = {c.name: 1 if c.name == "unknown_lesson" else
                3 if c.name == "lesson02_as_04" else
                len([e for e in find_exercises(read_notebook(_lesson_path(c.lesson)))
                     if e.number]) for c in cases.values()}
    assert {n: sum(r.student == n for r in rows) for n in cases} == expected
    assert all(r.graded for r in rows)
    # Nothing a submission did changed the course or the grades afterwards.
    assert [_tree_hash(REPO_ROOT / p) for p in ("camlib", "camcourse")] == checks_before
    written = out.read_bytes()
    time.sleep(3)
    assert out.read_bytes() == written
    with open(out, encoding="utf-8", newline="") as handle:
        assert sum(1 for _ in csv.DictReader(handle)) == len(rows)
    with open(out.with_name("grades-totals.csv"), encoding="utf-8", newline="") as handle:
        totals = list(csv.reader(handle))  # a file name may hold line breaks, quoted
    assert len(totals) == 1 + len(cases)
    # No learner process or working directory of the run is left behind.
    assert list(scratch.glob("camlib-grade-*")) == []
