"""How long each lesson takes to run, as a learner's Run All runs it:
``python -m camcourse.benchmarks.lessons [--lessons 04 06 ...] [--out docs/lesson-times.md]``.

Each lesson (the full edition, solutions in place) is executed top to bottom in a new
Jupyter kernel started in the lessons' folder, as nbval and JupyterLab start it. Two
clocks: the wall seconds from the kernel's start to the last cell's reply, and the
kernel's CPU seconds (all its threads; ``time.process_time`` read by a cell added at the
end). On a machine shared with other work the wall clock also counts the wait for a core
and the CPU seconds do not; on an idle machine with as many cores as PyTorch's threads
the wall seconds are at most the CPU seconds, imports included.

The page it writes (``--out``) is what the course's sentences about run time are tested
against (``tests/test_doc_claims.py``): a lesson "runs in about a minute" when its
CPU seconds are under `ABOUT_A_MINUTE`, and lesson 06, which trains a network, "in a few
minutes" when they are under `A_FEW_MINUTES`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ABOUT_A_MINUTE = 90.0  # seconds: what "about a minute" may mean
A_FEW_MINUTES = 300.0
MARKER = "LESSON-CPU "


def lessons(numbers: list[str] | None = None) -> list[Path]:
    """The lesson notebooks, all or those whose number is in ``numbers``.

    >>> [p.name for p in lessons(["04"])]
    ['04_swapping_the_sums.ipynb']
    """
    from camcourse import paths

    found = sorted((paths.REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    return [p for p in found if numbers is None or p.name[:2] in numbers]


def time_lesson(lesson: Path) -> dict[str, float]:
    """Execute ``lesson`` in a new kernel: {"wall": s, "cpu": s, "threads": PyTorch's}."""
    import nbformat

    from camcourse.execute import LessonClient

    notebook = nbformat.read(lesson, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(
        "import json as _json, time as _time, torch as _torch\n"
        f"print({MARKER!r} + _json.dumps([_time.process_time(), _torch.get_num_threads()]))"))
    os.environ.pop("MPLBACKEND", None)  # the kernel's inline backend, as in Jupyter
    begin = time.perf_counter()
    LessonClient(notebook, timeout=900, kernel_name="python3",
                 resources={"metadata": {"path": str(lesson.parent)}}).execute()
    wall = time.perf_counter() - begin
    printed = "".join(o.get("text", "") for o in notebook.cells[-1].outputs)
    line = next(x for x in printed.splitlines() if x.startswith(MARKER))
    cpu, threads = json.loads(line[len(MARKER):])
    return {"wall": wall, "cpu": cpu, "threads": threads}


def page(times: dict[str, dict[str, float]], command: str) -> str:
    """The markdown page of ``times`` (lesson file name -> `time_lesson`'s numbers)."""
    rows = [f"| {name[:-6]} | {t['wall']:.0f} | {t['cpu']:.0f} | {t['threads']:.0f} |"
            for name, t in times.items()]
    others = [t["cpu"] for name, t in times.items() if not name.startswith("06")]
    training = [t["cpu"] for name, t in times.items() if name.startswith("06")]
    summary = []
    if others:
        summary.append(f"The longest lesson but 06 takes {max(others):.0f} CPU seconds "
                       f"(median {sorted(others)[len(others) // 2]:.0f}).")
    if training:
        summary.append(f"Lesson 06, which trains a network, takes {training[0]:.0f}.")
    return "\n".join([
        "# How long each lesson takes to run",
        "",
        f"Made by `{command}` on {platform.machine()} with {os.cpu_count()} cores "
        f"(Python {platform.python_version()}). Each lesson, solutions in place, runs top to "
        "bottom in a new Jupyter kernel, as Run All runs it. Wall seconds from the kernel's "
        "start to the last cell's reply; CPU seconds of the kernel, all its threads (a "
        "shared machine's wait for a core is in the first, not in the second).",
        "",
        "| lesson | wall (s) | kernel CPU (s) | PyTorch threads |",
        "|---|---:|---:|---:|",
        *rows,
        "",
        " ".join(summary),
        "",
    ])


def read_page(text: str) -> dict[str, dict[str, float]]:
    """The times of a page `page` wrote, by lesson stem.

    >>> read_page("| 04_x | 30 | 41 | 2 |")
    {'04_x': {'wall': 30.0, 'cpu': 41.0, 'threads': 2.0}}
    """
    times = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0][:2].isdigit():
            numbers = map(float, cells[1:])
            times[cells[0]] = dict(zip(("wall", "cpu", "threads"), numbers, strict=True))
    return times


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(prog="python -m camcourse.benchmarks.lessons",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lessons", nargs="+", metavar="NN", help="only these lessons")
    parser.add_argument("--out", metavar="PATH", help="write the page here")
    args = parser.parse_args(argv)
    times = {}
    for lesson in lessons(args.lessons):
        times[lesson.name] = time_lesson(lesson)
        t = times[lesson.name]
        print(f"{lesson.stem:45s} wall {t['wall']:6.1f} s   CPU {t['cpu']:6.1f} s", flush=True)
    command = "python -m camcourse.benchmarks.lessons" + (
        f" --lessons {' '.join(args.lessons)}" if args.lessons else "") + (
        f" --out {args.out}" if args.out else "")
    text = page(times, command)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        print(text)
    return times


if __name__ == "__main__":
    main(sys.argv[1:])
