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
    assert not (clone / "notebooks").exists()
    installed = subprocess.run([str(python), "-c", IMPORTED], cwd=downloads,
                               capture_output=True, text=True,
                               env={k: v for k, v in env.items() if k != "PYTHONPATH"})
    assert installed.stdout.split() == [str(clone / "camlib" / "__init__.py"),
                                        str(clone / "camcourse" / "__init__.py")], installed.stderr
    print(f"downloaded student copy of lesson 04: set-up cell installed camlib and the lesson "
          f"ran in {seconds:.0f} s")


def test_the_set_up_cell_says_what_to_do_offline():
    cell = colab.setup_cell_source(SETTING)
    assert "Offline?" in cell and "python -m camcourse.course lab" in cell
    # Offline nothing installs, not even from a copied clone: the cell says to connect once.
    assert "Nothing can be installed without the network" in cell and "copy" not in cell
    assert 'find_spec("camlib")' in cell and 'find_spec("camcourse")' in cell
    assert '"sparse-checkout", "set",\n                            "camlib", "camcourse", "data"]' \
        in cell
    assert max(len(line) for line in cell.splitlines()) <= 88


def test_offline_the_set_up_cell_stops_with_one_line_that_says_what_to_do(tmp_path):
    """Where camlib is missing and the repository cannot be reached, Jupyter shows the
    cell's one line (``_render_traceback_``), not a traceback or git's command line."""
    cell = colab.setup_cell_source(SETTING).replace(
        f'"{SETTING.repo_url}"', f'"{(tmp_path / "nowhere").as_uri()}"')
    probe = ("try:\n    exec(compile(CELL, 'setup', 'exec'), {})\n"
             "except Exception as error:\n"
             "    print('\\n'.join(error._render_traceback_()))\n")
    # -S: no site-packages, so neither camlib nor camcourse can be imported
    shown = subprocess.run([sys.executable, "-S", "-c", f"CELL = {cell!r}\n{probe}"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=120,
                           env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
                                "CAMLIB_CACHE": str(tmp_path / "cache")})
    lines = shown.stdout.strip().splitlines()
    assert lines[0].startswith("Installing camlib and camcourse"), shown
    assert len(lines) == 2, shown.stdout
    message = lines[1]
    assert message.startswith("SET-UP FAILED: camlib and camcourse are not installed")
    assert "connect and run this cell again" in message and "Traceback" not in shown.stdout
    assert "git', 'clone'" not in message  # the reason, not the command line


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
