"""How long the lessons' own widgets take to redraw: ``python -m camcourse.benchmarks.widgets
[--repeats 9] [--lessons 01 04 ...] [--markdown]``.

Each lesson with a widget is executed in a Jupyter kernel, as a learner runs it, and then,
in that kernel, every control the lesson left on the page that redraws something (a
widget whose ``value`` is observed, as ``interact``'s sliders and dropdowns are, or a
button with a click handler) is moved through its values. Each move runs the lesson's own
function with the lesson's own arguments, ``plt.show()``, the inline backend's PNG and
its message to the front end, and is timed with the wall clock; the browser's display is
not included. A widget added to a lesson is timed without a change here.

Every move is timed three ways, interleaved so that the three see the same load:

- ``layers``: the figure reused and printed in layers with its own PNG writer
  (`camcourse.viz._render`), as the lessons run;
- ``matplotlib``: the figure reused (``set_data``), printed by Agg and Pillow as any figure
  is (`camcourse.viz._render.standard_printing`);
- ``mpl zlib 1``: the same with Pillow's fastest compression (``pil_kwargs``).

Prints the median of ``--repeats`` moves per control against the course's 100 ms target,
and the kernel's CPU time of a move, ``layers``' and ``matplotlib``'s (on a shared machine
the wall clock also counts the wait for a core).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import time
from pathlib import Path

TARGET_MS = 100.0
MARKER = "WIDGET-TIMES "
VARIANTS = ("layers", "matplotlib", "mpl zlib 1")
CPU = ("layers CPU", "mpl CPU")  # the kernel's CPU time of a move: without waiting for a core


def widget_lessons(folder: Path | None = None) -> list[Path]:
    """The lessons whose code, comments aside, names a widget (``interact``, ``widget``,
    ``stepper``).

    >>> [p.name[:2] for p in widget_lessons()][:2]
    ['01', '03']
    """
    from camcourse import paths

    folder = folder or paths.REPO_ROOT / "notebooks"
    found = []
    for lesson in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(lesson.read_text(encoding="utf-8"))["cells"]
        code = "\n".join(re.sub(r"#.*", "", "".join(c["source"])) for c in cells
                         if c["cell_type"] == "code")
        if re.search(r"interact|widget|stepper", code):
            found.append(lesson)
    return found


# --- in the lesson's kernel ---------------------------------------------------------------

def _live_widgets() -> list:
    import ipywidgets

    registry = getattr(ipywidgets.widgets.widget, "_instances", None)
    if registry is None:  # ipywidgets 7
        registry = ipywidgets.Widget.widgets
    return list(registry.values())


def _controls() -> list[tuple[str, object]]:
    """(name, widget) of each control whose change redraws something."""
    import ipywidgets

    owner = {}
    for widget in _live_widgets():
        if isinstance(widget, ipywidgets.interactive):
            for child in widget.kwargs_widgets:
                owner[child.model_id] = widget.f.__name__
    controls = []
    for widget in _live_widgets():
        if isinstance(widget, ipywidgets.Button):
            if widget._click_handlers.callbacks:
                controls.append((f"{widget.description or 'button'} (button)", widget))
            continue
        observed = widget._trait_notifiers.get("value", {}).get("change", [])
        if "value" in widget.trait_names() and observed and _moves(widget):
            label = widget.description or type(widget).__name__
            controls.append((f"{owner.get(widget.model_id, '?')}: {label}", widget))
    return controls


def _moves(widget) -> list:
    """Values to move ``widget`` through (indices for a selection), up to eight."""
    import numpy as np

    if hasattr(widget, "options") and hasattr(widget, "index"):
        return list(range(len(widget.options))) if len(widget.options) > 1 else []
    if isinstance(widget.value, bool):
        return [True, False]
    if hasattr(widget, "min") and hasattr(widget, "max") and widget.max > widget.min:
        values = np.linspace(widget.min, widget.max, 8)
        return sorted({int(round(v)) for v in values}) if isinstance(widget.value, int) \
            else [float(v) for v in values]
    return []


def _move(widget, value) -> None:
    if not hasattr(widget, "value"):
        widget.click()
    elif hasattr(widget, "options") and hasattr(widget, "index"):
        widget.index = value
    else:
        widget.value = value


@contextlib.contextmanager
def _printing(variant: str):
    """The inline backend prints figures the ``variant`` way within this block."""
    from IPython import get_ipython
    from IPython.core.pylabtools import select_figure_formats
    from matplotlib_inline.backend_inline import InlineBackend

    from camcourse.viz._render import standard_printing

    if variant == "layers":
        yield
        return
    shell, config = get_ipython(), InlineBackend.instance()
    kwargs = dict(config.print_figure_kwargs)
    if variant == "mpl zlib 1":
        kwargs["pil_kwargs"] = {"compress_level": 1}
    select_figure_formats(shell, config.figure_formats, **kwargs)
    try:
        with standard_printing():
            yield
    finally:
        select_figure_formats(shell, config.figure_formats, **config.print_figure_kwargs)


def time_controls(repeats: int) -> dict[str, dict[str, list[float]]]:
    """In a lesson's kernel: move each control ``repeats`` times per variant, interleaved;
    prints and returns {control: {variant: [seconds, ...]}}."""
    times: dict[str, dict[str, list[float]]] = {}
    for name, widget in _controls():
        values = _moves(widget) or [None]
        start = getattr(widget, "index", None) if hasattr(widget, "options") else \
            getattr(widget, "value", None)
        runs = times.setdefault(name, {v: [] for v in (*VARIANTS, *CPU)})
        for i in range(repeats + 1):  # the first round warms fonts, caches and layers
            for variant in VARIANTS:
                value = values[(i * len(VARIANTS) + VARIANTS.index(variant) + 1) % len(values)]
                with _printing(variant):
                    begin, cpu = time.perf_counter(), time.process_time()
                    _move(widget, value)
                    seconds, cpu = time.perf_counter() - begin, time.process_time() - cpu
                if i:
                    runs[variant].append(seconds)
                    if variant in ("layers", "matplotlib"):
                        runs[CPU[variant != "layers"]].append(cpu)
        if start is not None:
            _move(widget, start)
    print(MARKER + json.dumps(times))
    return times


# --- in this process ------------------------------------------------------------------------

def time_lesson(lesson: Path, repeats: int) -> dict[str, dict[str, list[float]]]:
    """Execute ``lesson`` in a kernel, then time its controls there (`time_controls`)."""
    import nbformat

    from camcourse.execute import LessonClient

    notebook = nbformat.read(lesson, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(
        f"from camcourse.benchmarks.widgets import time_controls\n"
        f"time_controls({int(repeats)});"))
    os.environ.pop("MPLBACKEND", None)  # the kernel's inline backend, as in Jupyter
    LessonClient(notebook, timeout=900, kernel_name="python3",
                 resources={"metadata": {"path": str(lesson.parent)}}).execute()
    printed = "".join(o.get("text", "") for o in notebook.cells[-1].outputs)
    line = next(x for x in printed.splitlines() if x.startswith(MARKER))
    return json.loads(line[len(MARKER):])


def table(medians: dict[str, dict[str, float]], markdown: bool = False) -> str:
    """Median milliseconds per control and variant, with the verdict on ``layers``'."""
    if markdown:
        columns = (*VARIANTS, *CPU)
        lines = ["| lesson: widget function: control | " + " | ".join(columns) + " |",
                 "|---|" + "---:|" * len(columns)]
        lines += [f"| {name} | " + " | ".join(f"{1000 * row[v]:.0f} ms" for v in columns)
                  + " |" for name, row in medians.items()]
        return "\n".join(lines)
    columns = (*VARIANTS, *CPU)
    lines = [f"  {'lesson: widget function: control':44s}" + "".join(f"{v:>12s}" for v in columns)]
    for name, row in medians.items():
        verdict = "ok" if 1000 * row["layers"] <= TARGET_MS else "OVER TARGET"
        lines.append(f"  {name[:44]:44s}" + "".join(f"{1000 * row[v]:9.0f} ms" for v in columns)
                     + f"  {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(prog="python -m camcourse.benchmarks.widgets",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=9, help="moves per control and way")
    parser.add_argument("--lessons", nargs="*", default=None,
                        help="lesson numbers (default: every lesson with a widget)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    lessons = widget_lessons()
    if args.lessons is not None:
        unknown = set(args.lessons) - {p.name[:2] for p in lessons}
        if unknown:
            parser.error(f"--lessons: no widget in lesson(s) {sorted(unknown)}; lessons with "
                         f"one: {[p.name[:2] for p in lessons]}")
        lessons = [p for p in lessons if p.name[:2] in args.lessons]
    medians = {}
    for lesson in lessons:
        for name, runs in time_lesson(lesson, args.repeats).items():
            medians[f"{lesson.name[:2]}: {name}"] = {v: statistics.median(runs[v])
                                                     for v in (*VARIANTS, *CPU)}
    print(f"widget redraw in the lesson's kernel, median of {args.repeats} moves "
          f"(target {TARGET_MS:.0f} ms for the layers):")
    print(table(medians, args.markdown))
    return medians


if __name__ == "__main__":
    main()
