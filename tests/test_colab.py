"""Colab, as Colab runs it: the set-up cell, the repository setting, student copies run to the end.

- The set-up cell of a student copy is executed with ``google.colab`` imported (a stand-in
  module) against a local bare repository served by a ``file://`` URL, then the rest of
  the lesson runs in the same kernel. The interpreter is ``CAMLIB_COLAB_PYTHON`` when set
  (``make colab-check`` sets it to the environment pinned to Colab's versions), else this
  test's own. The kernel runs in a throw-away environment layered over that interpreter's
  packages, so the set-up cell's ``pip install`` changes nothing outside a temporary folder.
- Every student copy is executed by a plain nbclient executor with the
  ``raises-exception`` tags removed: Colab's "Run all" stops at the first exception.
- A student copy downloaded on its own, executed outside the checkout in a fresh virtual
  environment without camlib or camcourse (its other packages layered from this test's
  interpreter), installs both with its own set-up cell from a local bare repository and
  runs.
- ``publish`` moves the course to another address consistently, and is idempotent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from camcourse.course import load_setting
from camcourse.coursework import colab
from camcourse.coursework.notebooks import read_notebook, source, tags

ROOT = Path(__file__).resolve().parent.parent
STUDENT = sorted((ROOT / "notebooks" / "student").glob("[0-9][0-9]_*.ipynb"))
COLAB_PYTHON = os.environ.get("CAMLIB_COLAB_PYTHON") or sys.executable
SETTING = load_setting()
IMPORTED = "import camlib, camcourse; print(camlib.__file__, camcourse.__file__)"
FAKE_COLAB = "import google.colab  # a stand-in: what Colab's kernel has imported\n"


def _git(*args: str, cwd: Path | None = None) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    out = subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                         text=True)
    return out.stdout


def _bare_repository(tmp: Path) -> Path:
    """A bare repository holding this working tree's tracked files, as GitHub would serve it."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout of the course")
    files = _git("ls-files", "-z", cwd=ROOT).split("\0")
    work = tmp / "work"
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, work / name)
    _git("init", "-q", "-b", SETTING.branch, str(work))
    _git("add", "-A", cwd=work)
    _git("commit", "-q", "-m", "the course", cwd=work)
    bare = tmp / "cam-course.git"
    _git("clone", "-q", "--bare", str(work), str(bare))
    # What GitHub allows: partial clones, and fetching the missing blobs later.
    _git("config", "uploadpack.allowFilter", "true", cwd=bare)
    _git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=bare)
    return bare


def _layered_environment(tmp: Path, python: str) -> Path:
    """A venv whose packages are ``python``'s (read-only) plus what is installed into it."""
    env_dir = tmp / "colab-env"
    base = subprocess.run([python, "-c", "import site, sys; print(sys.base_prefix); "
                           "print('\\n'.join(site.getsitepackages()))"],
                          check=True, capture_output=True, text=True).stdout.split("\n")
    base_python = Path(base[0]) / "bin" / Path(python).name
    if not base_python.exists():
        base_python = Path(base[0]) / "bin" / "python3"
    subprocess.run([str(base_python), "-m", "venv", "--without-pip", str(env_dir)], check=True)
    env_python = env_dir / "bin" / "python"
    site_dir = subprocess.run([str(env_python), "-c", "import sysconfig; "
                               "print(sysconfig.get_paths()['purelib'])"],
                              check=True, capture_output=True, text=True).stdout.strip()
    # A plain path line: the base packages are importable, but the base's own .pth files
    # (an editable camlib among them) are not processed.
    (Path(site_dir) / "_colab_base.pth").write_text(
        "\n".join(p for p in base[1:] if p.strip()) + "\n")
    return env_python


def _fake_google_colab(tmp: Path) -> Path:
    folder = tmp / "fake-colab"
    (folder / "google" / "colab").mkdir(parents=True)
    (folder / "google" / "__init__.py").write_text("")
    (folder / "google" / "colab" / "__init__.py").write_text('"""Stand-in for Colab."""\n')
    return folder


def _kernel(tmp: Path, python: Path, extra_path: Path) -> tuple[str, dict]:
    """A kernelspec for ``python`` in a private JUPYTER_PATH; returns (name, environment)."""
    spec = tmp / "jupyter" / "kernels" / "colab"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab stand-in", "language": "python"}))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(JUPYTER_PATH=str(tmp / "jupyter"), PYTHONPATH=str(extra_path),
               MPLBACKEND="Agg", PIP_DISABLE_PIP_VERSION_CHECK="1",
               CAMLIB_CACHE=os.environ.get("CAMLIB_CACHE", str(tmp / "cache")))
    return "colab", env


def _without_raises_exception(notebook: dict) -> dict:
    for cell in notebook["cells"]:
        cell_tags = cell.get("metadata", {}).get("tags")
        if cell_tags and "raises-exception" in cell_tags:
            cell["metadata"]["tags"] = [t for t in cell_tags if t != "raises-exception"]
    return notebook


def _execute(notebook: dict, cwd: Path, kernel_name: str, env: dict, timeout: int = 600):
    import nbformat

    from camcourse.execute import LessonClient as NotebookClient

    nb = nbformat.reads(json.dumps(notebook), as_version=4)
    old = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)  # the kernel inherits the environment of this process
    try:
        client = NotebookClient(nb, kernel_name=kernel_name, timeout=timeout,
                                resources={"metadata": {"path": str(cwd)}})
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return nb


@pytest.mark.slow
def test_student_copy_set_up_cell_on_colab_installs_camlib_without_the_lessons(tmp_path):
    lesson = ROOT / "notebooks" / "student" / "04_swapping_the_sums.ipynb"
    notebook = _without_raises_exception(read_notebook(lesson))
    setup = next(c for c in notebook["cells"] if colab.SETUP_CELL_TAG in tags(c))
    assert source(setup) == colab.setup_cell_source(SETTING)

    bare = _bare_repository(tmp_path)
    content = tmp_path / "content"
    content.mkdir()
    clone = content / "cam-course"
    cell = source(setup).replace(f'"{SETTING.repo_url}"', f'"{bare.as_uri()}"')
    cell = cell.replace(colab.CLONE_DIR_ON_COLAB, str(clone))
    assert bare.as_uri() in cell and str(clone) in cell
    setup["source"] = cell
    probe = {"cell_type": "code", "id": "camlib-probe", "metadata": {}, "execution_count": None,
             "outputs": [],
             "source": "import camlib, camcourse\n"
                       "print('CAMLIB_FILE', camlib.__file__, camcourse.__file__)"}
    index = notebook["cells"].index(setup)
    notebook["cells"][index + 1:index + 1] = [probe]
    notebook["cells"].insert(0, {"cell_type": "code", "id": "fake-colab", "metadata": {},
                                 "execution_count": None,
                                 "outputs": [], "source": FAKE_COLAB})

    python = _layered_environment(tmp_path, COLAB_PYTHON)
    name, env = _kernel(tmp_path, python, _fake_google_colab(tmp_path))
    start = time.perf_counter()
    executed = _execute(notebook, content, name, env)
    seconds = time.perf_counter() - start

    printed = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code"
                      for o in c.outputs if o.output_type == "stream")
    assert f"CAMLIB_FILE {clone / 'camlib' / '__init__.py'} " \
           f"{clone / 'camcourse' / '__init__.py'}" in printed, printed[-2000:]
    assert "not attempted yet" in printed
    assert "reloaded" not in printed  # Colab has ipywidgets' code loaded already
    # The clone holds camlib, camcourse and data, and none of the notebooks, not even as
    # git objects.
    assert (clone / "camlib" / "reference.py").is_file() and (clone / "data" / "gap.pt").is_file()
    assert (clone / "camcourse" / "checks").is_dir()
    assert not (clone / "notebooks").exists()
    blobs = [line.split()[2] for line in
             _git("ls-tree", "-r", "HEAD", "notebooks", cwd=bare).splitlines()]
    assert blobs
    missing = {line[1:] for line in _git("-C", str(clone), "rev-list", "--objects", "--all",
                                         "--missing=print").splitlines() if line[:1] == "?"}
    assert set(blobs) <= missing, "notebooks were downloaded into the Colab runtime"
    # Both packages are installed in the kernel's environment, not only put on sys.path.
    installed = subprocess.run([str(python), "-c", IMPORTED], cwd=tmp_path, capture_output=True,
                               text=True, env={k: v for k, v in env.items() if k != "PYTHONPATH"})
    assert installed.stdout.split() == [str(clone / "camlib" / "__init__.py"),
                                        str(clone / "camcourse" / "__init__.py")], installed.stderr
    versions = subprocess.run([str(python), "-c", "import numpy, matplotlib, ipywidgets, torch;"
                               "print(numpy.__version__, matplotlib.__version__, "
                               "ipywidgets.__version__, torch.__version__)"],
                              capture_output=True, text=True, env=env).stdout.strip()
    print(f"Colab set-up and lesson 04 (student copy) in {seconds:.0f} s wall with "
          f"{COLAB_PYTHON} (numpy, matplotlib, ipywidgets, torch: {versions})")


@pytest.mark.slow
@pytest.mark.parametrize("path", STUDENT, ids=lambda p: p.name)
def test_student_copy_runs_to_the_end_with_a_plain_executor(path, tmp_path):
    """No ``raises-exception`` honoured: an unsolved exercise must not stop "Run all"."""
    import nbformat
    from nbclient.exceptions import CellExecutionError

    from camcourse.execute import LessonClient

    nb = nbformat.reads(json.dumps(_without_raises_exception(read_notebook(path))),
                        as_version=4)
    client = LessonClient(nb, timeout=300, kernel_name="python3",
                          resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except CellExecutionError as exc:
        pytest.fail(f"{path.name} stops before its end: {str(exc)[-1500:]}")
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                      for o in c.outputs if o.output_type == "stream")
    checks = sum("exercise" in c.metadata.get("tags", []) for c in nb.cells)
    assert printed.count("not attempted yet") == checks, path.name
    assert "✔" not in printed, path.name


@pytest.mark.slow
def test_a_downloaded_student_copy_installs_camlib_itself_outside_the_checkout(tmp_path):
    """As downloaded from the website: alone in a folder, in an environment without camlib."""
    lesson = ROOT / "notebooks" / "student" / "04_swapping_the_sums.ipynb"
    notebook = _without_raises_exception(read_notebook(lesson))
    setup = next(c for c in notebook["cells"] if colab.SETUP_CELL_TAG in tags(c))
    bare = _bare_repository(tmp_path)
    setup["source"] = source(setup).replace(f'"{SETTING.repo_url}"', f'"{bare.as_uri()}"')
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    python = _layered_environment(tmp_path, COLAB_PYTHON)
    name, env = _kernel(tmp_path, python, tmp_path / "nothing")  # no google.colab here
    env.update(HOME=str(tmp_path / "home"), CAMLIB_CACHE=str(tmp_path / "cache"))
    (tmp_path / "home").mkdir()
    for package in ("camlib", "camcourse"):
        probe = subprocess.run([str(python), "-c", f"import {package}"], capture_output=True,
                               text=True, env=env, cwd=downloads)
        assert probe.returncode != 0, f"{package} must not be importable before the set-up cell"
    start = time.perf_counter()
    executed = _execute(notebook, downloads, name, env)
    seconds = time.perf_counter() - start
    printed = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code"
                      for o in c.outputs if o.output_type == "stream")
    clone = Path(env["CAMLIB_CACHE"]) / "cam-course-0.1.0"
    assert f"Installing camlib and camcourse 0.1.0 from {bare.as_uri()} into {clone} " \
        in printed
    assert "not attempted yet" in printed and "Note: this lesson" not in printed
    # JupyterLab loads ipywidgets' code when a page opens: installed while the page is open,
    # the sliders show as text until it is reloaded; the cell says so once it installed.
    assert "Installed. The lessons' sliders need this page reloaded once" in printed
    assert not (clone / "notebooks").exists()
    installed = subprocess.run([str(python), "-c", IMPORTED], cwd=downloads,
                               capture_output=True, text=True,
                               env={k: v for k, v in env.items() if k != "PYTHONPATH"})
    assert installed.stdout.split() == [str(clone / "camlib" / "__init__.py"),
                                        str(clone / "camcourse" / "__init__.py")], installed.stderr
    print(f"downloaded student copy of lesson 04: set-up cell installed camlib and the lesson "
          f"ran in {seconds:.0f} s")


def test_the_set_up_cell_fetches_only_the_packages_and_their_data():
    cell = colab.setup_cell_source(SETTING)
    assert 'find_spec("camlib")' in cell and 'find_spec("camcourse")' in cell
    assert '"sparse-checkout", "set",\n                            "camlib", "camcourse", "data"]' \
        in cell
    assert max(len(line) for line in cell.splitlines()) <= 88


SHOW = ("try:\n    exec(compile(CELL, 'setup', 'exec'), {})\n"
        "except Exception as error:\n"
        "    print('\\n'.join(error._render_traceback_()))\n")


def _run_set_up_cell(tmp: Path, python: str, *flags: str, cwd: Path | None = None,
                     path: str | None = None, before: str = "",
                     repo: str = "https://camlib.invalid/cam/course") -> list[str]:
    """What Jupyter shows when the set-up cell runs in ``python`` (the cell's failure is
    one line, through ``_render_traceback_``); ``repo`` replaces the repository's address
    (``.invalid`` never resolves: offline, whatever the network)."""
    cell = colab.setup_cell_source(SETTING).replace(f'"{SETTING.repo_url}"', f'"{repo}"')
    shown = subprocess.run([python, *flags, "-c", f"{before}CELL = {cell!r}\n{SHOW}"],
                           cwd=cwd or tmp, capture_output=True, text=True, timeout=120,
                           env={"PATH": path if path is not None else os.environ["PATH"],
                                "HOME": str(tmp), "CAMLIB_CACHE": str(tmp / "cache")})
    assert "Traceback" not in shown.stdout + shown.stderr, shown
    return shown.stdout.strip().splitlines()


def _one_line(lines: list[str]) -> str:
    failed = [line for line in lines if line.startswith("SET-UP FAILED: ")]
    assert len(failed) == 1 and lines[-1] == failed[0], lines
    return failed[0]


def test_offline_the_set_up_cell_says_so_in_one_line_and_leaves_no_partial_clone(tmp_path):
    """-S: no site-packages, so neither camlib nor camcourse can be imported."""
    if shutil.which("git") is None:
        pytest.skip("needs git (without it the cell says to install git)")
    lines = _run_set_up_cell(tmp_path, sys.executable, "-S")
    assert lines[0].startswith("Installing camlib and camcourse") and len(lines) == 2, lines
    message = _one_line(lines)
    assert message.startswith("SET-UP FAILED: offline: https://camlib.invalid/cam/course "
                              "could not be reached. Connect to the network and run this "
                              "cell again"), message
    assert "git', 'clone'" not in message  # the reason, not the command line
    assert list((tmp_path / "cache").glob("*")) == []  # a second try starts afresh


def test_without_git_the_set_up_cell_says_to_install_git(tmp_path):
    bin_dir = tmp_path / "bin"  # a PATH with Python and no git
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)
    message = _one_line(_run_set_up_cell(tmp_path, sys.executable, "-S", path=str(bin_dir)))
    assert message == ("SET-UP FAILED: git is not installed, and this cell needs it to fetch "
                       "the course: install git (https://git-scm.com/downloads), then run "
                       "this cell again.")


def test_without_pip_the_set_up_cell_says_how_to_get_it(tmp_path):
    env_dir = tmp_path / "no-pip"
    base = subprocess.run([sys.executable, "-c", "import sys; print(sys.base_prefix)"],
                          capture_output=True, text=True, check=True).stdout.strip()
    base_python = next((Path(base) / "bin" / name for name in ("python3", "python")
                        if (Path(base) / "bin" / name).exists()), None)
    if base_python is None:
        pytest.skip("no base interpreter to make a virtual environment from")
    subprocess.run([str(base_python), "-m", "venv", "--without-pip", str(env_dir)], check=True)
    (tmp_path / "cache" / "cam-course-0.1.0").mkdir(parents=True)  # fetched before
    python = env_dir / "bin" / "python"
    message = _one_line(_run_set_up_cell(tmp_path, str(python)))
    assert message == (f"SET-UP FAILED: this kernel's Python ({python}) has no pip: run "
                       f"`{python} -m ensurepip --upgrade` in a terminal, then this cell "
                       "again.")


def test_on_an_old_python_the_set_up_cell_names_the_version_it_needs(tmp_path):
    old = "import sys\nsys.version = '3.9.18 (main)'\nsys.version_info = (3, 9, 18)\n"
    lines = _run_set_up_cell(tmp_path, sys.executable, "-S", before=old)
    assert lines == ["SET-UP FAILED: this kernel runs Python 3.9.18 and the course needs 3.10 "
                     "or newer: pick a newer Python in Kernel > Change kernel, or install one."]


def test_in_a_clone_without_the_course_installed_the_set_up_cell_says_make_lab(tmp_path):
    """A lesson opened from the clone's notebooks/student/ in a kernel without the course
    (another Python's Jupyter): nothing is fetched, the line names the clone and make lab."""
    lines = _run_set_up_cell(tmp_path, sys.executable, "-S",
                             cwd=ROOT / "notebooks" / "student")
    assert lines == [f"SET-UP FAILED: this lesson is in a clone of the course ({ROOT}), but "
                     f"this kernel's Python ({sys.executable}) has not installed it: run "
                     "`make lab` there (without make: `python -m camcourse.course lab`) and "
                     "open the lesson in the JupyterLab it starts."]
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("stderr, expected", [
    ("error: externally-managed-environment\n\nhint: See PEP 668",
     "belongs to the system and pip may not install into it: open the lesson from a "
     "virtual environment (`python3 -m venv ~/cam && ~/cam/bin/pip install jupyterlab && "
     "~/cam/bin/jupyter lab`)"),
    ("WARNING: Retrying ... NewConnectionError\nERROR: No matching distribution found for "
     "torch>=2.2", "offline: "),
    ("ERROR: something else broke", "could not be installed: run this cell again, and if it "
     "fails again see https://github.com/"),
])
def test_the_set_up_cell_tells_pip_failures_apart(stderr, expected):
    cell = colab.setup_cell_source(SETTING)
    namespace: dict = {}
    exec(cell[:cell.index("if sys.version_info")], namespace)  # the definitions only
    error = subprocess.CalledProcessError(1, ["python", "-m", "pip"], stderr=stderr)
    said = namespace["_why"](error)
    assert expected in said and "\n" not in said
    assert said.endswith(f"[{stderr.splitlines()[-1]}]") or "virtual" in said


@pytest.mark.slow
def test_a_wheel_of_the_course_carries_the_checkpoints(tmp_path):
    """``pip install .`` (not editable): the lessons load the trained networks from the
    installed package, whatever the working directory."""
    if not (ROOT / "pyproject.toml").exists():
        pytest.skip("needs the course's source tree")
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(wheels), str(ROOT)], check=True, capture_output=True)
    prefix = tmp_path / "prefix"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--ignore-installed", "--prefix", str(prefix),
                    *map(str, wheels.glob("*.whl"))], check=True, capture_output=True)
    site = next(prefix.rglob("site-packages"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("CAMLIB_DATA", "PYTHONPATH")}
    loaded = subprocess.run(
        [sys.executable, "-c", "import camcourse, camcourse.paths as p, camcourse.models as m;"
         "print(camcourse.__file__); print(p.DATA_DIR); print(m.load_checkpoint('gap').pool)"],
        cwd=elsewhere, capture_output=True, text=True, env={**env, "PYTHONPATH": str(site)})
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    package, data, pool = loaded.stdout.split("\n")[:3]
    assert Path(package).is_relative_to(site)
    assert Path(data) == (prefix / "share" / "camcourse" / "data").resolve()
    assert pool == "AdaptiveAvgPool2d(output_size=1)"


def test_without_its_checkpoints_the_course_says_how_to_get_them(tmp_path, monkeypatch):
    from camcourse import models, paths

    monkeypatch.setattr(paths, "DATA_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"pip install \.\` carries them\), or set "
                                                r"CAMLIB_DATA"):
        models.load_checkpoint("gap")


def _copy_course(tmp: Path) -> Path:
    root = tmp / "course"
    for name in ("camlib", "camcourse", "notebooks", "docs"):
        shutil.copytree(ROOT / name, root / name,
                        ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    for name in ("README.md", "pyproject.toml"):
        shutil.copy2(ROOT / name, root / name)
    return root


def test_publish_moves_every_address_and_is_idempotent(tmp_path):
    root = _copy_course(tmp_path)
    new, branch = "https://github.com/ada-lovelace/cam-course-2027", "fall"
    assert colab.publish(repo_root=root, check=True) == []  # the repository is in step
    report = colab.publish(new, branch, repo_root=root)
    assert any(line.startswith("setting:") for line in report)
    assert colab.publish(new, branch, repo_root=root) == []
    assert colab.publish(new, branch, repo_root=root, check=True) == []
    assert load_setting() == SETTING  # this process's setting file is unchanged
    assert load_setting(root / "camcourse" / "course.json") == colab.Setting(new, branch)
    assert (root / "camcourse" / "coursework" / "colab.py").read_text() == (
        ROOT / "camcourse" / "coursework" / "colab.py").read_text()  # code is never rewritten
    colab_prefix = "https://colab.research.google.com/github/ada-lovelace/cam-course-2027/blob/fall/"
    old_prefix = f"github/{SETTING.github_path}/"
    for path in sorted((root / "notebooks").rglob("[0-9][0-9]_*.ipynb")):
        notebook = read_notebook(path)
        badge = next(c for c in notebook["cells"] if colab.BADGE_CELL_TAG in tags(c))
        relative = path.relative_to(root).as_posix()
        assert source(badge).endswith(f"({colab_prefix}{relative})"), relative
        setup = next(c for c in notebook["cells"] if colab.SETUP_CELL_TAG in tags(c))
        assert source(setup) == colab.setup_cell_source(colab.Setting(new, branch))
        assert old_prefix not in path.read_text() and SETTING.repo_url not in path.read_text()
    teaching = (root / "docs" / "teaching.md").read_text()
    assert f"{colab_prefix}notebooks/student/04_swapping_the_sums.ipynb" in teaching
    for doc in [root / "README.md", *(root / "docs").glob("*.md")]:
        assert SETTING.repo_url not in doc.read_text() and old_prefix not in doc.read_text(), doc
    assert f"git clone --branch fall {new} && cd cam-course-2027" in (
        root / "docs" / "get-started.md").read_text()


@pytest.mark.parametrize("url", ["http://github.com/a/b", "https://github.com/a",
                                 "https://github.com/a/b/", "https://github.com/a/b.git",
                                 "https://gitlab.com/a/b", "", None])
def test_publish_refuses_an_address_that_is_not_a_github_repository(url, tmp_path):
    with pytest.raises(ValueError, match="repo_url"):
        colab.publish(url if url is not None else 42, repo_root=tmp_path, check=True)


def test_publish_refuses_a_bad_branch(tmp_path):
    with pytest.raises(ValueError, match="branch"):
        colab.publish("https://github.com/a/b", "main; rm -rf /", repo_root=tmp_path,
                      check=True)


def test_student_copies_and_nbgrader_sources_badge_the_student_copy():
    from camcourse.coursework.nbgrader import nbgrader_notebook

    for path in STUDENT:
        badge = next(c for c in read_notebook(path)["cells"] if colab.BADGE_CELL_TAG in tags(c))
        assert source(badge) == colab.badge_markdown(f"notebooks/student/{path.name}", SETTING)
        lesson = read_notebook(ROOT / "notebooks" / path.name)
        exported = nbgrader_notebook(lesson)
        badge = next(c for c in exported["cells"] if colab.BADGE_CELL_TAG in tags(c))
        assert source(badge) == colab.badge_markdown(f"notebooks/student/{path.name}", SETTING)


def test_the_repository_is_in_step_with_the_colab_setting():
    tomllib = pytest.importorskip("tomllib")

    assert colab.publish(check=True) == [], "run `python -m camcourse.coursework publish`"

    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    assert urls["Repository"] == SETTING.repo_url
