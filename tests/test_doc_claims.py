"""The documentation's numbers and commands, checked against what produces them.

A sentence in README.md, CONTRIBUTING.md or docs/ that quotes a number quotes something the
repository makes: a checkpoint's metrics (data/*.json), the tables of docs/results.md
(written by ``python -m camcourse.benchmarks.localization``) or the learner-time estimates
of ``camcourse.coursework.catalogue``. These tests read the source of truth and the sentence
and fail when the two part. The commands shown are parsed by the modules' own argument
parsers (nothing runs), the ``make`` targets looked up in the Makefile, and every relative
link resolved; the grading and regrading commands of the teacher's guide and the grader's
page are run as written on a class of two. No training and no lesson is executed here.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from camcourse.coursework.catalogue import estimated_minutes
from camcourse.models import checkpoint_metrics

ROOT = Path(__file__).resolve().parent.parent
DOCS = ["README.md", "CONTRIBUTING.md", "docs/get-started.md", "docs/teaching.md",
        "docs/results.md", "docs/answers.md", "docs/grading.md", "docs/benchmarks.md",
        "docs/lesson-times.md"]
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _read(name: str) -> str:
    return (ROOT / name).read_text()


def _flat(text: str) -> str:
    """The text with line breaks as spaces, so a sentence reads as one line."""
    return re.sub(r"\s+", " ", text)


def _whole(fraction: float) -> str:
    """A fraction as a whole percentage, halves rounded up as a reader does: 0.245 -> '25'."""
    return str(int((Decimal(str(fraction)) * 100).quantize(Decimal(1), ROUND_HALF_UP)))


def _pct(fraction: float) -> str:
    """A checkpoint's fraction as the results page writes it: 0.957 -> '95.7'."""
    return f"{100 * fraction:.1f}"


def _table_rows(text: str, header_start: str) -> dict[str, list[str]]:
    """The rows of the markdown table whose header starts with ``header_start``:
    ``{first cell: the other cells}``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


def _number(cell: str) -> float:
    """The first number of a table cell: '79.8 [77.5, 83.3] (τ 0.40)' -> 79.8."""
    return float(re.match(r"-?[\d,]+(\.\d+)?", cell).group(0).replace(",", ""))


# --- learner time --------------------------------------------------------------------


def _lesson_minutes() -> dict[str, int]:
    return {path.name[:2]: estimated_minutes(json.loads(path.read_text()))
            for path in LESSONS}


def test_the_readme_gives_each_lesson_the_catalogue_estimate():
    rows = re.findall(r"^\| (\d\d) \|.*\| (\d+) min \|$", _read("README.md"), flags=re.M)
    assert {number: int(minutes) for number, minutes in rows} == _lesson_minutes()


def test_the_run_time_sentences_hold_for_the_measured_lessons():
    """"Under a minute each" and "lesson 06 in under two minutes" against the kernel CPU
    seconds of docs/lesson-times.md (``python -m camcourse.benchmarks.lessons``), which
    times every lesson."""
    from camcourse.benchmarks.lessons import read_page

    times = read_page(_read("docs/lesson-times.md"))
    assert sorted(times) == [p.stem for p in LESSONS]
    for stem, measured in times.items():
        limit = 120 if stem.startswith("06") else 60
        assert measured["cpu"] < limit, (stem, measured)
    sentences = {
        "README.md": "run in under a minute each on a laptop CPU, and lesson 06, which "
                     "trains a network, in under two minutes",
        "docs/get-started.md": "a lesson runs in under a minute, and lesson 06, which trains "
                               "a network, in under two minutes",
        "docs/teaching.md": "run in under a minute each on a laptop CPU, and lesson 06, which "
                            "trains a network, in under two minutes",
        "notebooks/00_setup.ipynb": "Each runs in under a minute on a laptop CPU, lesson 06 "
                                    "in under two",
    }
    for name, sentence in sentences.items():
        text = _read(name)
        if name.endswith(".ipynb"):
            text = "".join("".join(c["source"]) for c in json.loads(text)["cells"])
        assert sentence in _flat(text), name
        assert "about a minute" not in _flat(text), name


def test_the_total_study_time_is_the_sum_of_the_estimates():
    total = sum(_lesson_minutes().values())
    hours = round(total / 60)
    assert f"Twelve lessons, about {hours} hours of study" in _flat(_read("README.md"))
    assert len(LESSONS) == 12
    assert f"Total: about {hours} hours ({total} minutes)." in _flat(_read("docs/teaching.md"))


# --- the shipped checkpoints -----------------------------------------------------------


def test_the_readme_quotes_the_shipped_checkpoints():
    gap, gmp = checkpoint_metrics("gap"), checkpoint_metrics("gmp")
    readme = _flat(_read("README.md"))
    assert round(gap["parameters"], -3) == 100_000 and "about 100k parameters" in readme
    assert gap["model"]["map_stride"] == 4 and gap["data"]["test"]["image_size"] == 64
    assert "a 16×16 last map at 64 px" in readme
    assert (f"reaches {_whole(gap['test_accuracy'])}% accuracy and "
            f"{_whole(gap['top1_loc'])}% Top-1 Loc at the paper's 20% threshold") in readme
    assert gap["loc_threshold"] == 0.2
    assert gmp["test_accuracy"] >= gap["test_accuracy"]
    assert (f"classifies at least as well ({_whole(gmp['test_accuracy'])}%) and localizes "
            f"at {_whole(gmp['top1_loc'])}%") in readme


def test_the_baselines_of_table_1_share_the_gap_nets_accuracy():
    """The nets' rows against their checkpoints: tests/test_benchmarks.py. The baselines'
    rows use the GAP net's predictions, as the page says, so they show its accuracy."""
    rows = _table_rows(_read("docs/results.md"), "| method | accuracy |")
    assert "The baselines' rows use the GAP net's predictions" in _flat(_read("docs/results.md"))
    for method in ("backprop on GAP", "centred box", "full image"):
        assert rows[method][0] == _pct(checkpoint_metrics("gap")["test_accuracy"]), method


def test_the_training_table_of_the_results_is_each_checkpoints_record():
    rows = _table_rows(_read("docs/results.md"), "| name | command |")
    assert set(rows) == {"gap", "gmp", "gap8"}
    for name, cells in rows.items():
        m = checkpoint_metrics(name)
        command, parameters, total, data, _rss, threads, precision = cells
        assert command == f"`{m['command']}`"
        assert parameters == f"{m['parameters']:,}"
        assert (total, data) == (f"{m['seconds']['total']:.0f} s",
                                 f"{m['seconds']['data']:.0f} s")
        assert (threads, precision) == (str(m["environment"]["threads"]),
                                        m["environment"]["precision"])


def test_the_quoted_training_times_are_the_gap_checkpoints():
    seconds = checkpoint_metrics("gap")["seconds"]["total"]
    environment = checkpoint_metrics("gap")["environment"]
    assert environment["threads"] == 2 and environment["precision"] == "bfloat16"
    assert abs(seconds - 100) / 100 < 0.1
    assert "in about 100 s on a 2-core CPU with bfloat16 support" in _flat(
        _read("CONTRIBUTING.md"))
    assert f"(about {seconds:.0f} s)" in _flat(_read("docs/answers.md"))
    assert f"against the shipped {seconds:.0f} s" in _flat(_read("docs/answers.md"))


def test_the_retraining_options_quoted_are_the_checkpoints_commands():
    """CONTRIBUTING quotes, per checkpoint, the options its JSON file records."""
    text = _flat(_read("CONTRIBUTING.md"))
    quoted = {"gmp": "`--pool max` for the GMP net",
              "gap8": "`--map-stride 8` for the 8×8 map",
              "gap_spurious": "`--variant spurious --train-size 6000 --epochs 4` for lesson 11's"}
    assert checkpoint_metrics("gap")["command"] == "python -m camcourse.train --no-progress"
    for name, sentence in quoted.items():
        assert sentence in text, sentence
        options = sentence.split("`")[1].split()
        recorded = checkpoint_metrics(name)["command"].split()
        assert sorted(set(recorded) - {"--no-progress"}) == sorted(
            ["python", "-m", "camcourse.train", *options]), (name, recorded)


# --- the results page's prose and the pages that quote it -------------------------------


def _results_tables() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    text = _read("docs/results.md")
    return (_table_rows(text, "| method | accuracy |"),
            _table_rows(text, "| method | min–max: BoxAcc"))


def test_the_results_prose_agrees_with_its_tables():
    table1, table2 = _results_tables()
    text = _flat(_read("docs/results.md"))
    oracle = {m: (_number(cells[1]), _number(cells[3])) for m, cells in table2.items()}
    gap, gmp, coarse = oracle["GAP-CAM"], oracle["GMP-CAM"], oracle["GAP-CAM, 8×8 map"]
    assert (f"the oracle MaxBoxAcc is {gap[0]:.1f} with min–max normalization of the signed "
            f"map and {gap[1]:.1f} with a ReLU first, {gap[1] - gap[0]:.1f} points apart") in text
    assert f"for GMP-CAM {gmp[0]:.1f} against {gmp[1]:.1f}" in text
    assert (f"{coarse[1] - coarse[0]:.1f} points for the 8×8 map ({coarse[0]:.1f} against "
            f"{coarse[1]:.1f})") in text
    backprop = oracle["backprop on GAP"]
    assert backprop[0] == backprop[1] and f"({backprop[0]:.1f} both)" in text
    # "choe2020" against "camlib" in Table 1, over the rows whose maps give a box.
    shifts = [_number(cells[4]) - _number(cells[3]) for method, cells in table1.items()
              if method != "full image"]
    assert f'"choe2020" reads {min(shifts):.1f} to {max(shifts):.1f} points higher' in text
    gaps = [_number(cells[i + 1]) - _number(cells[i]) for cells in table2.values()
            for i in (0, 2)]
    assert (f"scores between {min(gaps):.1f} and {max(gaps):.1f} points below the "
            f"oracle") in text


def test_the_readme_quotes_table_2_of_the_results():
    _, table2 = _results_tables()
    readme = _flat(_read("README.md"))
    oracle = {m: (_number(cells[1]), _number(cells[3])) for m, cells in table2.items()}
    gap, coarse, backprop = (oracle["GAP-CAM"], oracle["GAP-CAM, 8×8 map"],
                             oracle["backprop on GAP"])
    assert (f"raises the GAP network's oracle MaxBoxAcc from {gap[0]:.1f} to {gap[1]:.1f}, "
            f"the 8×8 map's from {coarse[0]:.1f} to {coarse[1]:.1f}") in readme
    assert backprop[0] == backprop[1] and f"({backprop[0]:.1f} both:" in readme


def test_the_answers_quote_the_results_page():
    table1, table2 = _results_tables()
    answers = _flat(_read("docs/answers.md"))
    gap = table1["GAP-CAM"]
    assert f"on 1000 images (`docs/results.md`) {_number(gap[3]):.1f} against " \
           f"{_number(gap[4]):.1f}" in answers
    held_out = table2["GAP-CAM"]
    assert (f"({_number(held_out[1]):.1f}% against {_number(held_out[3]):.1f}% on the 1030 "
            f"held-out images of `docs/results.md`)") in answers
    assert "1030 held-out test images" in _flat(_read("docs/results.md"))



def _lesson_prose(number: str) -> str:
    """The markdown cells of lesson ``number``, as one line."""
    path = next(path for path in LESSONS if path.name.startswith(number))
    cells = json.loads(path.read_text())["cells"]
    return _flat(" ".join("".join(cell["source"]) for cell in cells
                          if cell["cell_type"] == "markdown"))


def test_lessons_07_and_08_quote_the_results_page():
    """The numbers lessons 07 and 08 cite from docs/results.md (not computed in the lesson,
    whose 300 images give their own) are the page's."""
    table1, table2 = _results_tables()
    camlib_value, choe_value = _number(table1["GAP-CAM"][3]), _number(table1["GAP-CAM"][4])
    minmax, relu = _number(table2["GAP-CAM"][1]), _number(table2["GAP-CAM"][3])
    lesson07, lesson08 = _lesson_prose("07"), _lesson_prose("08")
    assert f"1000 test images of its main table): {minmax:.1f}% against {relu:.1f}%." in lesson07
    assert (f'reports {camlib_value:.1f} for `"camlib"` and {choe_value:.1f} for `"choe2020"` '
            f"(not the {minmax:.1f} of section 5, which is on the 1030 held-out images") in lesson07
    assert (f"{minmax:.1f}% against {relu:.1f}% on the 1030 held-out test images of "
            "`docs/results.md`") in lesson07
    assert (f"on 1030 held-out test images: {minmax:.1f}% with min–max on the signed CAM, "
            f"{relu:.1f}% with a ReLU first") in lesson08
    assert (f"{minmax:.1f}% for the signed CAM against {relu:.1f}% for Grad-CAM on the 1030 "
            "held-out images of `docs/results.md`") in lesson08
    assert "1030 held-out test images" in _flat(_read("docs/results.md"))

# --- links and commands ------------------------------------------------------------------


def _anchors(path: Path) -> set[str]:
    """The anchors of a markdown file's headings, as GitHub and MyST make them."""
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", path.read_text(), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


@pytest.mark.parametrize("name", DOCS)
def test_every_relative_link_resolves(name):
    path = ROOT / name
    # Code is not a link: `CHECKS["3.2"](f)` in backticks or a fenced block is a call.
    text = re.sub(r"```.*?```|`[^`\n]*`", "", path.read_text(), flags=re.S)
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    for link in links:
        if re.match(r"[a-z]+:", link):
            continue
        target, _, anchor = link.partition("#")
        resolved = (path.parent / target).resolve() if target else path
        assert resolved.exists(), f"{name}: {link} points at nothing"
        assert ROOT in resolved.parents, f"{name}: {link} leaves the repository"
        if anchor:
            assert anchor in _anchors(resolved), f"{name}: no heading for #{anchor}"


COMMAND_DOCS = ["README.md", "CONTRIBUTING.md", "docs/get-started.md", "docs/teaching.md",
                "docs/grading.md", "docs/benchmarks.md", "docs/lesson-times.md",
                "docs/results.md", "docs/answers.md"]
# Options the prose quotes on their own, with the command they belong to.
QUOTED_OPTIONS = [("CONTRIBUTING.md", "python -m camcourse.train --pool max"),
                  ("CONTRIBUTING.md", "python -m camcourse.train --variant spurious"),
                  ("docs/results.md", "python -m camcourse.train --precision auto"),
                  ("docs/results.md", "python -m camcourse.train --precision float32"),
                  ("docs/answers.md", "python -m camcourse.train --train-size 4000 --epochs 6"),
                  ("docs/teaching.md", "python -m camcourse.coursework grade --lesson 04 --jobs 2 "
                                       "--checks my_checks.py --lessons my_notebooks/ "
                                       "submissions/")]


def _shown_commands(prefix: str) -> list[tuple[str, str]]:
    """(doc, command) for each command starting with ``prefix`` in a code block or span."""
    found = []
    for name in COMMAND_DOCS:
        text = _read(name)
        code = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
        code += re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
        for chunk in code:
            for line in chunk.splitlines():
                line = re.sub(r"^# or: ", "", line.strip())
                for part in line.split("&&"):
                    part = part.split(" #")[0].strip()
                    if part.startswith(prefix):
                        found.append((name, part))
    return found


def test_every_make_target_and_variable_shown_exists():
    makefile = _read("Makefile")
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, flags=re.M))
    shown = _shown_commands("make ")
    assert len(shown) >= 10
    for name, command in shown:
        words = command.split()
        assert words[1] in targets, f"{name}: `{command}`: no target {words[1]!r}"
        for assignment in words[2:]:
            variable = assignment.split("=")[0]
            assert f"$({variable})" in makefile, f"{name}: `{command}`: no {variable}"


class _Parsed(Exception):
    """Raised instead of running a command once its arguments parsed."""


# The module whose main() a `python -m NAME` runs.
MAINS = {"camcourse.course": "camcourse.course",
         "camcourse.coursework": "camcourse.coursework.__main__",
         "camcourse.train": "camcourse.train",
         "camcourse.benchmarks": "camcourse.benchmarks.__main__",
         "camcourse.benchmarks.gpu": "camcourse.benchmarks.gpu",
         "camcourse.benchmarks.localization": "camcourse.benchmarks.localization",
         "camcourse.benchmarks.training": "camcourse.benchmarks.training",
         "camcourse.benchmarks.lessons": "camcourse.benchmarks.lessons",
         "camcourse.benchmarks.widgets": "camcourse.benchmarks.widgets"}


def _book_main():
    spec = importlib.util.spec_from_file_location("book_build", ROOT / "book" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_every_python_command_shown_parses(monkeypatch, tmp_path):
    """Each `python -m camcourse...` and `python book/build.py` line of the docs, given to
    its module's own parser: a removed option or subcommand fails here; nothing runs.
    The teacher's example files exist in a scratch folder; /path/to/repo is this one."""
    parse = argparse.ArgumentParser.parse_args
    (tmp_path / "submissions" / "ana").mkdir(parents=True)
    (tmp_path / "grades-seed.txt").write_text("0\n")
    monkeypatch.chdir(tmp_path)

    def parse_then_stop(self, args=None, namespace=None):
        raise _Parsed(parse(self, args, namespace))

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
    (tmp_path / "my_notebooks").mkdir()
    (tmp_path / "my_checks.py").write_text("")
    shown = _shown_commands("python ")
    for name, command in QUOTED_OPTIONS:
        options = [word for word in command.split() if word.startswith("--")]
        assert all(option in _read(name) for option in options), (name, options)
    shown += QUOTED_OPTIONS
    checked = 0
    for name, command in shown:
        words = shlex.split(command.replace("/path/to/repo", str(ROOT)))
        if words[1] == "-m" and words[2] in MAINS:
            main, argv = importlib.import_module(MAINS[words[2]]).main, words[3:]
        elif words[1] == "book/build.py":
            main, argv = _book_main(), words[2:]
        else:
            continue
        try:
            main(argv)
        except _Parsed:
            pass
        except SystemExit as exit_:
            # --help prints and exits 0; any other exit is a refusal of the arguments.
            assert exit_.code == 0 and "--help" in argv, \
                f"{name}: `{command}` does not parse (exit {exit_.code})"
        else:
            pytest.fail(f"{name}: `{command}` ran without parsing its arguments")
        checked += 1
    assert checked >= 15, shown


REPOSITORY_FOLDERS = ("camlib/", "camcourse/", "tests/", "notebooks/", "docs/", "book/",
                      "data/", ".ci/")


def test_every_repository_path_shown_exists():
    """A file or folder of the repository named in a doc's code (a test file to run, a module
    to edit, a lesson to execute) exists: renaming one fails here, not in a reader's
    terminal. ``NN`` stands for any lesson number; a path after ``--out`` is written."""
    checked = 0
    for name in COMMAND_DOCS:
        text = _read(name)
        code = re.findall(r"```\w*\n(.*?)```", text, flags=re.S)
        code += re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
        for chunk in code:
            written = set(re.findall(r"--out\s+(\S+)", chunk))
            for word in re.findall(r"[\w./*\[\]-]+", chunk):
                path = word.rstrip(".,:;")
                if not path.startswith(REPOSITORY_FOLDERS) or path in written:
                    continue
                pattern = path.replace("NN", "[0-9][0-9]").replace("_name", "_*")
                assert any(ROOT.glob(pattern)), f"{name}: `{path}` is not in the repository"
                checked += 1
    assert checked >= 30, checked


@pytest.mark.slow
@pytest.mark.parametrize("doc", ["docs/teaching.md", "docs/grading.md"])
def test_the_teachers_grading_and_regrading_commands_run_as_written(doc, tmp_path):
    """The page's `grade` and regrade commands, word for word, in a folder holding
    `submissions/` of two learners (lesson 00: ana's solved, ben's untouched): the files
    the guide names appear, and the regrade gives every learner the first run's rows under
    the same name."""
    import csv

    shown = [command for name, command in _shown_commands("python -m camcourse.coursework grade")
             if name == doc and "--help" not in command
             and "my_checks.py" not in command]
    assert len(shown) == 2 and "--seed-file" in shown[1], shown
    for learner, lesson in (("ana", "notebooks/00_setup.ipynb"),
                            ("ben", "notebooks/student/00_setup.ipynb")):
        (tmp_path / "submissions" / learner).mkdir(parents=True)
        shutil.copy(ROOT / lesson, tmp_path / "submissions" / learner / "00_setup.ipynb")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    rows = []
    for command in shown:
        words = shlex.split(command)
        done = subprocess.run([sys.executable, *words[1:]], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"`{command}`: {done.stderr[-2000:]}"
        out = tmp_path / words[words.index("--out") + 1]
        with open(out, encoding="utf-8", newline="") as handle:
            rows.append(sorted((r["student"], r["exercise"], r["points"], r["message"])
                               for r in csv.DictReader(handle)))
    first = tmp_path / "grades.csv"
    for written in ("grades-totals.csv", "grades-seed.txt", "grades-feedback/ana.txt",
                    "grades-feedback/ben.txt"):
        assert (tmp_path / written).exists(), f"{doc}: {written} not written"
    assert first.exists() and "grades-seed.txt" in shown[1]
    assert {(r[0], r[2]) for r in rows[0]} == {("ana", "1"), ("ben", "0")}, rows[0]
    assert rows[1] == rows[0]


def test_the_pip_extras_shown_exist():
    pyproject = _read("pyproject.toml")
    for extra in re.findall(r'pip install -e "\.\[(\w+)\]"', " ".join(_read(n) for n in DOCS)):
        assert re.search(rf"^{extra} = \[", pyproject, flags=re.M), extra
    for extra in ("lab", "test", "book"):
        assert re.search(rf"^{extra} = \[", pyproject, flags=re.M), extra


def test_the_camlib_line_count_quoted_in_the_readme():
    lines = sum(len(path.read_text().splitlines()) for path in (ROOT / "camlib").rglob("*.py"))
    quoted = int(re.search(r"about ([\d,]+) lines", _read("README.md")).group(1).replace(",", ""))
    assert abs(lines - quoted) / quoted < 0.1, lines


# --- answers that no lesson prints -----------------------------------------------------


def test_the_two_instance_thresholds_of_the_lesson_11_answer():
    """Lesson 11 prints the outcome at 20% only; its answer quotes four thresholds. The
    lesson's own computation (same images, seed and checkpoint) at each of them."""
    import numpy as np
    import torch

    import camlib.torch as cam_torch
    from camcourse.data import to_float
    from camcourse.models import load_checkpoint
    from camcourse.variants import make_two_digits
    from camlib import localize

    gap = load_checkpoint("gap", device=torch.device("cpu"))
    same = make_two_digits(300, seed=0, same_class=True)
    maps, _ = localize.cam_maps(gap, to_float(same.images, torch.device("cpu")),
                                torch.as_tensor(same.labels[:, 0]))
    around_both = torch.as_tensor(np.concatenate(
        [same.boxes[:, :, :2].min(1), same.boxes[:, :, 2:].max(1)], 1))
    quoted = []
    for threshold in (0.1, 0.2, 0.3, 0.5):
        largest = localize.boxes_from_maps(maps, threshold)
        iou_each = torch.stack([cam_torch.iou(largest, torch.as_tensor(same.boxes[:, j]))
                                for j in (0, 1)], dim=1)
        one = (iou_each.max(1).values >= 0.5).numpy()
        both = (cam_torch.iou(largest, around_both) >= 0.5).numpy() & ~one
        shares = [_whole(share) for share in (one.mean(), both.mean(), (~one & ~both).mean())]
        quoted.append(" / ".join(f"{share}%" for share in shares))
    text = _flat(_read("docs/answers.md"))
    assert (f"one instance / both / neither: {quoted[0]} at t = 0.1, {quoted[1]} at 0.2, "
            f"{quoted[2]} at 0.3, {quoted[3]} at 0.5") in text, quoted
