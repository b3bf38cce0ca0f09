"""Build the course's website: every lesson with its executed outputs, the README as home page,
the teacher's guide, results and benchmarks, with MathJax served from the site itself.

    python book/build.py [--jobs N] [--out build/book] [--edition full|student]

1. Each lesson is executed with nbclient (``camcourse.execute.LessonClient``) in its own
   folder (as nbval does), ``--jobs`` lessons at once, unless ``build/book-cache/EDITION``
   already holds it executed from the same notebook, the same ``camlib`` and
   ``camcourse`` sources and the same ``data/``. The full edition executes the lessons;
   the student edition their student copies (``notebooks/student``), so that no output
   on its pages comes from a solution: a check says "not attempted yet", not "passed",
   and a figure is drawn with camlib's own function, as a learner's first run draws it.
   A lesson that raises outside a cell tagged ``raises-exception``, or whose cell gets no
   answer within ``CELL_TIMEOUT_S``, stops the build. A widget's output becomes the still
   image(s) it showed for its first setting, and a note.
2. Sources are staged in ``build/book-src``: ``index.md`` from README.md, ``docs/*.md``,
   ``lessons/NN_name.ipynb`` (executed) with "Open in Colab" and download links, the
   clean notebooks for download (saved as ``NN_name.ipynb`` and
   ``NN_name.student.ipynb``), and MathJax 3 (the npm package, fetched once with
   ``npm pack`` into ``build/mathjax``). Each exercise cell shows the student's starting
   code; the full edition adds the solution folded under "Show solution"
   (sphinx-togglebutton's dropdown), the student edition (``--edition student``) leaves
   it, the answers page (docs/answers.md) and the teacher's guide (docs/teaching.md) out,
   with every line that links to them. A figure's alt text (``camcourse.viz.show``
   puts it in the PNG output's metadata) goes to ``image_alt.json``, which book/conf.py
   puts on the page's ``<img>``.
   Relative links are rewritten to the staged pages; a link to another file of the
   repository points at it on GitHub (``camcourse/course.json``'s setting).
3. ``sphinx-build`` (myst-nb, furo theme; book/conf.py) writes ``build/book/html``, the
   folder to host, and its doctrees beside it in ``build/book/doctrees``; any Sphinx
   warning fails the build.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
LESSON_GLOB = "[0-9][0-9]_*.ipynb"
# The slowest cell (lesson 06's training) takes about 75 s on two cores; a cell four times
# slower is a bug to see, not to wait on.
CELL_TIMEOUT_S = 300
MATHJAX = "mathjax@3.2.2"  # npm package: the browser build of MathJax 3 with its fonts
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_NOTE = ("<p class=\"widget-note\"><strong>Interactive widget.</strong> The figure above is "
               "its first setting; open the lesson in Jupyter or on Colab to move its "
               "controls.</p>")
EDITIONS = ("full", "student")
ANSWERS = "answers.md"  # the answers to the end-of-lesson questions
GUIDE = "teaching.md"  # the teacher's guide: its table of exercises all but states some answers
TEACHERS_ONLY = (ANSWERS, GUIDE)  # pages the student edition leaves out
SOLUTION_DROPDOWN = ("````{{admonition}} Solution\n:class: dropdown\n\n"
                     "```python\n{code}\n```\n````")
MARKDOWN_LINK = re.compile(r"\[([^\]\n]*)\]\(([^)\s]+)\)")
LINK = re.compile(r"(\]\(|<img[^>]*?\ssrc=[\"']|<a[^>]*?\shref=[\"'])([^)\"'\s]+)")

sys.path.insert(0, str(ROOT))


def fingerprint(lesson: Path) -> str:
    """Hash of what a lesson's outputs depend on: itself, camlib's and camcourse's
    sources and data/."""
    digest = hashlib.sha256(lesson.read_bytes())
    for path in sorted([*(ROOT / "camlib").rglob("*.py"), *(ROOT / "camcourse").rglob("*.py"),
                        *(ROOT / "data").glob("*")]):
        if path.is_file():
            digest.update(path.relative_to(ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def _widget_outputs(model_id: str, state: dict, seen: set | None = None) -> list[dict]:
    """The outputs captured by the Output widgets inside widget ``model_id``."""
    seen = set() if seen is None else seen
    if model_id in seen or model_id not in state:
        return []
    seen.add(model_id)
    model = state[model_id]
    found = list(model.get("state", {}).get("outputs", []))
    for child in model.get("state", {}).get("children", []):
        if isinstance(child, str) and child.startswith("IPY_MODEL_"):
            found += _widget_outputs(child[len("IPY_MODEL_"):], state, seen)
    return found


def _widget_controls(model_id: str, state: dict) -> list[str]:
    """``"description = value"`` for each control (slider, dropdown…) inside ``model_id``."""
    model = state.get(model_id, {}).get("state", {})
    found = []
    if "description" in model and "value" in model and model["description"]:
        value = model["value"]
        if "_options_labels" in model and isinstance(value, int) and not isinstance(value, bool):
            labels = model["_options_labels"]  # a dropdown's value is its label's index
            value = labels[value] if 0 <= value < len(labels) else value
        found.append(f"{model['description'].rstrip(':')} = {value}")
    for child in model.get("children", []):
        if isinstance(child, str) and child.startswith("IPY_MODEL_"):
            found += _widget_controls(child[len("IPY_MODEL_"):], state)
    return found


def _still_alt(cell: dict, controls: list[str]) -> str:
    """A still's alt text: the cell's own (metadata ``alt``) or the controls it was drawn at."""
    own = cell.get("metadata", {}).get("alt")
    if own:
        return own
    setting = ", ".join(controls) if controls else "its first setting"
    return (f"Still of the lesson's interactive figure drawn at {setting}; run the lesson "
            "to move its controls.")


def widgets_to_stills(notebook: dict) -> int:
    """Replace each widget output by the images it showed and a note; returns how many."""
    state = notebook.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    replaced = 0
    for cell in notebook["cells"]:
        outputs = []
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                outputs.append(output)
                continue
            shown = [o for o in _widget_outputs(view["model_id"], state)
                     if o.get("output_type") in ("display_data", "execute_result")]
            alt = _still_alt(cell, _widget_controls(view["model_id"], state))
            for o in shown:
                o.pop("execution_count", None)
                o["output_type"] = "display_data"
                o.setdefault("metadata", {})
                if "image/png" in o.get("data", {}):
                    o["metadata"].setdefault("image/png", {}).setdefault("alt", alt)
                outputs.append(o)
            outputs.append({"output_type": "display_data", "metadata": {},
                            "data": {"text/html": WIDGET_NOTE,
                                     "text/plain": "Interactive widget (see the lesson)."}})
            replaced += 1
        if "outputs" in cell:
            cell["outputs"] = outputs
    notebook.get("metadata", {}).pop("widgets", None)
    return replaced


def execute(lesson: Path, target: Path) -> tuple[str, float, int]:
    """Execute ``lesson`` in its folder and write it, widgets as stills, to ``target``."""
    import nbformat

    from camcourse.execute import LessonClient

    start = time.perf_counter()
    os.environ.pop("MPLBACKEND", None)  # the kernel's inline backend, so figures are captured
    notebook = nbformat.read(lesson, as_version=4)
    LessonClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                 resources={"metadata": {"path": str(lesson.parent)}}).execute()
    data = json.loads(nbformat.writes(notebook))
    stills = widgets_to_stills(data)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return lesson.name, time.perf_counter() - start, stills


def executed_notebook(lesson: Path, edition: str) -> Path:
    """The notebook a page of ``edition`` shows executed: the lesson (full edition) or its
    student copy (student edition: every output is what a learner's first run shows).

    >>> executed_notebook(Path("notebooks/04_x.ipynb"), "student").as_posix()
    'notebooks/student/04_x.ipynb'
    """
    if edition not in EDITIONS:
        raise ValueError(f"edition must be one of {EDITIONS}, got {edition!r}")
    return lesson if edition == "full" else lesson.parent / "student" / lesson.name


def relink(text: str, source: Path, staged: Path, pages: dict[Path, Path],
           setting=None, hidden: frozenset = frozenset()) -> str:
    """Rewrite the relative links of ``text`` (from repository file ``source``, staged at
    ``staged``) to staged pages, or to the repository on GitHub for other files. A line
    that links to a file in ``hidden`` (left out of this edition, the answers page) is
    left out with it: a lesson's "Answers: [Lesson 04](../docs/answers.md#…)." line would
    otherwise point learners at a page their site does not have."""
    from camcourse.course import load_setting

    setting = load_setting() if setting is None else setting
    blob = f"{setting.repo_url}/blob/{setting.branch}/"

    def repository_file(target: str) -> Path | None:
        """The file of this repository that a link names: relative to ``source``, or its
        page on GitHub under the configured address (a student copy's links)."""
        path = target.partition("#")[0]
        if path.startswith(blob) and len(path) > len(blob):
            return (ROOT / path[len(blob):]).resolve()
        if not path or re.match(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:", path) or path.startswith(
                ("/", "{")):
            return None
        return (source.parent / path).resolve()

    def links_hidden(line: str) -> bool:
        return any(repository_file(match.group(2)) in hidden
                   for match in MARKDOWN_LINK.finditer(line))

    def fix(match: re.Match) -> str:
        opening, target = match.group(1), match.group(2)
        resolved = repository_file(target)
        if resolved is None:
            return match.group(0)
        anchor = target.partition("#")[2]
        if resolved in hidden:
            return f"{opening}#"
        if resolved in pages:
            new = Path(os.path.relpath(pages[resolved], staged.parent)).as_posix()
        elif target.startswith(blob):
            return match.group(0)
        elif resolved.exists() and ROOT in resolved.parents:
            new = setting.blob_url(resolved.relative_to(ROOT))  # a URL: no Path() around it
        else:
            return match.group(0)
        return f"{opening}{new}{'#' + anchor if anchor else ''}"

    if hidden:
        text = "".join(line for line in text.splitlines(keepends=True)
                       if not links_hidden(line))
    return LINK.sub(fix, text)


def download_name(lesson: Path, student: bool) -> str:
    """The file name a downloaded notebook is saved under: distinct for the student copy.

    >>> download_name(Path("04_swapping_the_sums.ipynb"), student=True)
    '04_swapping_the_sums.student.ipynb'
    """
    return f"{lesson.stem}.student.ipynb" if student else lesson.name


def _links_cell(lesson: Path, setting, edition: str) -> str:
    """The lesson page's first line: the badge opens the student copy (the exercises left
    to the learner, what a learner came to do); the full edition adds the solved lesson.

    >>> from camcourse.course import Setting
    >>> line = _links_cell(Path("04_x.ipynb"), Setting("https://github.com/a/c"), "full")
    >>> line.split(")](")[1].split(")")[0]
    'https://colab.research.google.com/github/a/c/blob/main/notebooks/student/04_x.ipynb'
    """
    from camcourse.course import colab_url

    name = lesson.name  # the badge is served by the site: no image from Colab's servers
    badge = (f"[![Open the exercises in Colab](../_static/open-in-colab.svg)]"
             f"({colab_url(f'notebooks/student/{name}', setting)})")
    student_copy = f"{{download}}`the exercises <../_notebooks/{download_name(lesson, True)}>`"
    # On the learner's computer: JupyterLab from a clone (make lab) opens the same copy.
    local = (f" · in JupyterLab on your computer ([get started](../get-started.md)): "
             f"`notebooks/student/{name}`")
    if edition == "student":
        return f"{badge} the exercises · download {student_copy}{local}"
    return (f"{badge} the exercises, or [the lesson with its solutions]"
            f"({colab_url(f'notebooks/{name}', setting)}) · download {student_copy} or "
            f"{{download}}`the lesson with its solutions <../_notebooks/{name}>`{local}")


def show_exercises_as_students_start(notebook: dict, student: dict, edition: str) -> int:
    """Each code cell the student copy changes (an exercise's solution) shows the student's
    starting code; the full edition adds the solution after it, folded under "Show
    solution". Returns how many cells changed. The two notebooks have the same cells."""
    from camcourse.coursework.notebooks import source

    cells, starts = notebook["cells"], student["cells"]
    if len(cells) != len(starts):
        raise ValueError(f"the student copy has {len(starts)} cells, the lesson {len(cells)}: "
                         f"run `python -m camcourse.coursework release`")
    folded, changed = [], 0
    for index, (cell, start) in enumerate(zip(cells, starts, strict=True)):
        if cell.get("cell_type") != "code" or source(cell) == source(start):
            continue
        solution = source(cell)
        cell["source"] = source(start)
        changed += 1
        if edition == "full":
            code = solution.replace("```", "` ` `")
            folded.append((index + 1, {"cell_type": "markdown", "id": f"solution-{index}",
                                       "metadata": {},
                                       "source": SOLUTION_DROPDOWN.format(code=code)}))
    for index, cell in reversed(folded):
        cells.insert(index, cell)
    return changed


def image_alt_texts(notebook: dict) -> dict[str, str]:
    """``{sha256 of a PNG output: its alt text}`` for the figures shown with camcourse.viz.show.

    myst-nb names an output image after the SHA-256 of its bytes and keeps only its width
    and height from the output's metadata; book/conf.py uses this map to set the alt text.
    """
    import base64

    alts = {}
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            alt = output.get("metadata", {}).get("image/png", {}).get("alt")
            if png and alt:
                data = base64.b64decode("".join(png) if isinstance(png, list) else png)
                alts[hashlib.sha256(data).hexdigest()] = alt
    return alts


GET_STARTED = "get-started.md"


def downloadable_lesson(lesson: Path, setting) -> dict:
    """The full lesson as the site offers it for download: its links to other files of the
    repository (``../docs/answers.md#…``) point at their pages on GitHub, so they hold in a
    folder of downloads; nothing else changes."""
    from camcourse.coursework.notebooks import read_notebook, set_source, source
    from camcourse.coursework.release import downloadable_links

    notebook = read_notebook(lesson)
    for cell in notebook["cells"]:
        if cell.get("cell_type") == "markdown":
            set_source(cell, downloadable_links(source(cell), lesson.parent, ROOT, setting,
                                                answers=True))
    return notebook


def stage(stage_dir: Path, executed: dict[str, Path], edition: str = "full") -> list[Path]:
    """Write the Sphinx sources; returns the lesson pages."""
    from camcourse.course import load_setting

    if edition not in EDITIONS:
        raise ValueError(f"edition must be one of {EDITIONS}, got {edition!r}")
    setting = load_setting()
    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    (stage_dir / "lessons").mkdir(parents=True)
    lessons = sorted((ROOT / "notebooks").glob(LESSON_GLOB))
    docs = sorted((ROOT / "docs").glob("*.md"))
    hidden = frozenset()
    if edition == "student":
        hidden = frozenset(d.resolve() for d in docs if d.name in TEACHERS_ONLY)
        docs = [d for d in docs if d.name not in TEACHERS_ONLY]
    pages = {(ROOT / "README.md").resolve(): stage_dir / "index.md"}
    pages.update({d.resolve(): stage_dir / d.name for d in docs})
    pages.update({les.resolve(): stage_dir / "lessons" / les.name for les in lessons})
    for image in sorted((ROOT / "docs").glob("*")):
        if image.suffix.lower() in (".png", ".jpg", ".jpeg", ".svg", ".gif"):
            shutil.copy2(image, stage_dir / image.name)
            pages[image.resolve()] = stage_dir / image.name
    for student in sorted((ROOT / "notebooks" / "student").glob(LESSON_GLOB)):
        pages[student.resolve()] = stage_dir / "lessons" / student.name  # its lesson's page

    readme = relink((ROOT / "README.md").read_text(encoding="utf-8"), ROOT / "README.md",
                    stage_dir / "index.md", pages, setting, hidden)
    lesson_pages = "\n".join(f"lessons/{les.stem}" for les in lessons)
    first = [d.stem for d in docs if d.name == GET_STARTED]
    doc_pages = "\n".join(d.stem for d in docs if d.stem not in ("teaching", *first))
    guide = "teaching\n" if any(d.name == GUIDE for d in docs) else ""
    start = f"```{{toctree}}\n:hidden:\n\n{first[0]}\n```\n\n" if first else ""
    readme += (f"\n\n{start}"
               f"```{{toctree}}\n:hidden:\n:caption: Lessons\n\n{lesson_pages}\n```\n\n"
               f"```{{toctree}}\n:hidden:\n:caption: Teachers, results, benchmarks\n\n"
               f"{guide}{doc_pages}\n```\n")
    (stage_dir / "index.md").write_text(readme, encoding="utf-8")
    for doc in docs:
        text = relink(doc.read_text(encoding="utf-8"), doc, stage_dir / doc.name, pages,
                      setting, hidden)
        (stage_dir / doc.name).write_text(text, encoding="utf-8")

    from camcourse.coursework.notebooks import (
        read_notebook,
        set_source,
        source,
        tags,
        write_notebook,
    )

    alts: dict[str, str] = {}
    (stage_dir / "_notebooks").mkdir()
    for lesson in lessons:
        notebook = json.loads(executed[lesson.name].read_text(encoding="utf-8"))
        student_path = ROOT / "notebooks" / "student" / lesson.name
        origin = executed_notebook(lesson, edition)  # its links resolve from its folder
        show_exercises_as_students_start(notebook, read_notebook(student_path), edition)
        alts.update(image_alt_texts(notebook))
        page = stage_dir / "lessons" / lesson.name
        for cell in notebook["cells"]:
            if "setup" in tags(cell):  # the same in every lesson: folded on the site
                cell.setdefault("metadata", {})["tags"] = [*tags(cell), "hide-input"]
            if cell.get("cell_type") != "markdown":
                continue
            if "colab-badge" in tags(cell):
                set_source(cell, _links_cell(lesson, setting, edition))
            else:
                set_source(cell, relink(source(cell), origin, page, pages, setting, hidden))
        page.write_text(json.dumps(notebook, indent=1, ensure_ascii=False), encoding="utf-8")
        shutil.copy2(student_path, stage_dir / "_notebooks" / download_name(lesson, True))
        if edition == "full":
            write_notebook(downloadable_lesson(lesson, setting),
                           stage_dir / "_notebooks" / download_name(lesson, False))
    (stage_dir / "image_alt.json").write_text(json.dumps(alts, indent=1, ensure_ascii=False),
                                              encoding="utf-8")

    shutil.copytree(BOOK / "_static", stage_dir / "_static")
    shutil.copytree(mathjax_es5(stage_dir.parent / "mathjax"), stage_dir / "_static" / "mathjax")
    return [stage_dir / "lessons" / les.name for les in lessons]


def mathjax_es5(folder: Path) -> Path:
    """MathJax's browser build (``es5/``) from the npm registry, kept in ``folder``."""
    es5 = folder / MATHJAX / "es5"
    if not (es5 / "tex-chtml.js").exists():
        if shutil.which("npm") is None:
            raise SystemExit("make book needs npm to fetch MathJax (apt-get install npm)")
        folder.mkdir(parents=True, exist_ok=True)
        tarball = subprocess.run(["npm", "pack", MATHJAX, "--silent"], cwd=folder, check=True,
                                 capture_output=True, text=True).stdout.strip().splitlines()[-1]
        with tarfile.open(folder / tarball) as archive:
            members = [m for m in archive.getmembers() if m.name.startswith("package/es5/")]
            archive.extractall(folder / "unpacked", members=members, filter="data")
        (folder / "unpacked" / "package").rename(folder / MATHJAX)
        shutil.rmtree(folder / "unpacked")
    return es5


def sphinx_command(stage_dir: Path, out: Path) -> list[str]:
    """The ``sphinx-build`` call that writes the site to ``out/html``.

    Sphinx's pickled doctrees go to ``out/doctrees``, beside the site rather than in
    its default ``html/.doctrees``: a teacher hosts the ``html`` folder as it is, and the
    doctrees hold every page's source text (for the full edition, the solutions).

    >>> command = sphinx_command(Path("build/book-src"), Path("build/book"))
    >>> command[command.index("-d") + 1], command[-1]
    ('build/book/doctrees', 'build/book/html')
    """
    return [sys.executable, "-m", "sphinx", "-b", "html", "-c", str(BOOK), "-q", "-W",
            "--keep-going", "-j", "1", "-d", str(out / "doctrees"), str(stage_dir),
            str(out / "html")]


def folders(out: Path, edition: str) -> tuple[Path, Path, Path]:
    """The site's folder (``--out``), the staged sources and the cache of executed lessons,
    all absolute: Sphinx reads ``html_static_path`` (CAMLIB_BOOK_STATIC) relative to
    book/conf.py's folder, so a relative ``--out`` would point it at book/build/…"""
    out = Path(os.path.abspath(out))
    return out, out.parent / "book-src", out.parent / "book-cache" / edition


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "book")
    parser.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1),
                        help="lessons executed at once (default: the cores, at most 4)")
    parser.add_argument("--edition", choices=EDITIONS, default="full",
                        help="full: solutions folded under 'Show solution', and the answers "
                             "page; student: neither (default: %(default)s)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    out, stage_dir, cache = folders(args.out, args.edition)  # each edition its own cache
    cache.mkdir(parents=True, exist_ok=True)
    lessons = sorted((ROOT / "notebooks").glob(LESSON_GLOB))
    executed, todo = {}, []
    for lesson in lessons:
        run = executed_notebook(lesson, args.edition)
        target = cache / f"{lesson.stem}-{fingerprint(run)}.ipynb"
        executed[lesson.name] = target
        if not target.exists():
            todo.append((run, target))
    print(f"{len(lessons) - len(todo)} lessons from the cache, {len(todo)} to execute")
    if todo and args.jobs > 1:  # kernels side by side share the cores instead of fighting
        threads = str(max(1, (os.cpu_count() or 1) // args.jobs))
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(name, threads)
    if todo:
        # Fresh interpreters ("spawn"), not forked copies of this process and its event loop.
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=max(1, args.jobs), mp_context=spawn) as pool:
            for name, seconds, stills in pool.map(execute, *zip(*todo, strict=True)):
                print(f"  executed {name} in {seconds:.0f} s ({stills} widget(s) as stills)")
    for stale in cache.glob("*.ipynb"):
        if stale not in executed.values():
            stale.unlink()
    stage(stage_dir, executed, args.edition)
    html = out / "html"
    for built in (html, out / "doctrees"):  # an edition's site holds nothing of the
        if built.exists():                        # other's (answers, solutions)
            shutil.rmtree(built)
    subprocess.run(sphinx_command(stage_dir, out), check=True,
                   env={**os.environ, "CAMLIB_BOOK_STATIC": str(stage_dir / "_static"),
                        "CAMLIB_BOOK_EDITION": args.edition})
    pages = sorted(html.rglob("*.html"))
    print(f"wrote {len(pages)} pages to {html} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
