"""The project's set-up: the README's commands, CI, and the two dependency lists in step."""

import json
import re
import shlex
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parent.parent

# conda-forge names that differ from PyPI's.
CONDA_TO_PIP = {"pytorch": "torch", "opencv": "opencv-python-headless"}


def _requirement_name_and_range(requirement: str) -> tuple[str, str]:
    match = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", requirement)
    return match.group(1).lower(), match.group(2).replace(" ", "")


def _pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += [r for r in extra if not r.startswith(f"{project['name']}[")]
    return dict(_requirement_name_and_range(r) for r in requirements)


def _environment_requirements() -> dict[str, str]:
    names = {}
    text = (ROOT / "environment.yml").read_text()
    for line in text.split("dependencies:")[1].splitlines():
        match = re.match(r"\s*-\s+([A-Za-z][^\s#]*)\s*$", line)
        if match and not match.group(1).startswith(("pip:", "-e")):
            name, spec = _requirement_name_and_range(match.group(1))
            names[CONDA_TO_PIP.get(name, name)] = spec
    names.pop("python")
    names.pop("pip")
    return names


def test_environment_yml_names_the_same_packages_and_ranges_as_pyproject():
    assert _environment_requirements() == _pyproject_requirements()


def test_ci_runs_the_documented_commands_and_colab_check():
    readme = (ROOT / "README.md").read_text()
    assert "make lab" in readme and "python -m camcourse.course lab" in readme
    contributing = (ROOT / "CONTRIBUTING.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [line for line in ci.splitlines() if line.startswith("make ")]
    assert commands == ["make colab-check", "make test", "make test-browser", "make book"]
    # Colab's environment holds a second copy of torch: gone before the main one is made.
    lines = ci.splitlines()
    assert lines.index("rm -rf .venv-colab") < lines.index("make test")
    makefile = (ROOT / "Makefile").read_text()
    for target in ("test", "test-browser", "book", "colab-check", "publish"):
        assert re.search(rf"^{target}:", makefile, re.M), target
        assert f"make {target}" in contributing, f"CONTRIBUTING.md does not mention {target}"


def test_the_readme_and_get_started_page_give_the_clone_line_of_the_setting():
    from camcourse.course import load_setting

    line = load_setting().clone_line()
    for path in (ROOT / "README.md", ROOT / "docs" / "get-started.md"):
        assert f"```bash\n{line}\n```" in path.read_text(), path


def test_the_readme_is_for_learners_first_and_links_by_title():
    readme = (ROOT / "README.md").read_text()
    headings = re.findall(r"^## (.+)$", readme, re.M)
    assert headings[:2] == ["Get started", "The lessons"], headings
    for developer_word in ("pytest", "nbval", "sudo", ".ci/run", "ruff"):
        assert developer_word not in readme, developer_word
    links = re.findall(r"\[([^\]]+)\]\(([^)]+)\)", readme)
    by_path = [text for text, target in links if text.strip("`") == target]
    assert by_path == [], f"links that show their path instead of a title: {by_path}"
    assert "10 points" not in readme or "2.4" in readme  # 10 holds for GAP-CAM only


def test_every_lesson_row_of_the_readme_opens_its_exercises_on_colab():
    """On GitHub the README's lesson links open the full lessons (solutions included): the
    row's Colab link is the way to the exercises, the student copy."""
    from camcourse.course import colab_url, load_setting

    readme = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| (\d\d) \| \[[^\]]+\]\(notebooks/(\d\d_\w+\.ipynb)\) \| "
                      r"\[Colab\]\(([^)]+)\) \|.*\|$", readme, re.M)
    lessons = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert [name for _, name, _ in rows] == lessons
    for number, name, link in rows:
        assert name.startswith(number)
        assert link == colab_url(f"notebooks/student/{name}", load_setting())


def test_the_readme_opens_with_plain_words_before_get_started():
    """On a phone the first screen is the opening paragraph: a display formula there is
    wider than the screen and pushes "Get started" out of sight."""
    readme = (ROOT / "README.md").read_text()
    opening = readme[:readme.index("\n## Get started")]
    assert "$$" not in opening
    assert len(opening.split()) < 120, len(opening.split())


def test_colab_check_pins_every_dependency_of_camlib():
    """A dependency Colab lacks (numba was one) must show up in `make colab-check`."""
    makefile = (ROOT / "Makefile").read_text()
    pins = makefile[makefile.index("COLAB_PINS :="):].split("\ncolab-check:")[0]
    pinned = {m.lower() for m in re.findall(r"([A-Za-z0-9_.\-]+)==", pins)}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    needed = {_requirement_name_and_range(r)[0] for r in project["dependencies"]}
    assert needed - {"torch", "torchvision"} <= pinned, needed - pinned


def test_make_lab_installs_only_what_a_learner_needs():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lab = {_requirement_name_and_range(r)[0] for r in project["optional-dependencies"]["lab"]}
    assert lab == {"jupyterlab", "ipykernel"}
    assert "sphinx-togglebutton" in {_requirement_name_and_range(r)[0] for r in
                                     project["optional-dependencies"]["book"]}


def test_make_lab_lands_on_the_student_copies():
    makefile = (ROOT / "Makefile").read_text()
    lab = makefile[makefile.index("\nlab:"):].split("\n\n")[0]
    assert "--ServerApp.root_dir=notebooks" in lab
    assert "--LabApp.default_url=/lab/tree/student/00_setup.ipynb" in lab
    assert (ROOT / "notebooks" / "student" / "00_setup.ipynb").exists()


def test_editable_install_is_a_plain_path_entry_without_a_warning(tmp_path):
    """An editable install (what `make lab` does) prints no setuptools warning framed in "!!".

    Its cause was setuptools' import-finder strategy for a package beside other top-level
    folders; ``package-dir = {"" = "."}`` makes the install a plain path entry instead.
    """
    import subprocess
    import sys
    import zipfile

    code = ("import sys, setuptools.build_meta as b; "
            "print('WHEEL', b.build_editable(sys.argv[1]))")
    run = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    output = run.stdout + run.stderr
    assert "!!" not in output and "take precedence" not in output, output[-2000:]
    wheel = tmp_path / output.split("WHEEL ")[1].split()[0]
    names = zipfile.ZipFile(wheel).namelist()
    pth = [n for n in names if n.endswith(".pth")]
    assert len(pth) == 1 and not any("finder" in n for n in names), names
    assert zipfile.ZipFile(wheel).read(pth[0]).decode().strip() == str(ROOT)


def test_makefile_creates_the_venv_for_both_commands():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^lab: \$\(STAMP\)", makefile, re.M)
    assert re.search(r"^test: \$\(TEST_STAMP\)", makefile, re.M)
    assert 'pip install --quiet -e ".[lab]"' in makefile
    assert 'pip install --quiet -e ".[test]"' in makefile
    assert "--nbval-lax" in makefile


# --- python -m camcourse.course: `make lab` and `make test` without make ----------------------

def test_course_lab_plan_creates_the_venv_installs_the_lab_extra_and_opens_the_copies(tmp_path):
    from camcourse.course import plan, venv_python

    (tmp_path / "pyproject.toml").write_text("")
    steps = plan("lab", root=tmp_path, python="python3", as_root=False)
    py = str(venv_python(tmp_path / ".venv"))
    assert steps[0] == ["python3", "-m", "venv", str(tmp_path / ".venv")]
    assert steps[1][:4] == [py, "-m", "pip", "install"]
    assert steps[2] == [py, "-m", "pip", "install", "--quiet", "-e", f"{tmp_path}[lab]"]
    assert steps[3] == [py, "-m", "jupyterlab", f"--ServerApp.root_dir={tmp_path / 'notebooks'}",
                        "--LabApp.default_url=/lab/tree/student/00_setup.ipynb"]
    assert "--allow-root" in plan("lab", root=tmp_path, python="p", as_root=True)[-1]
    cpu = plan("lab", root=tmp_path, python="p", cpu=True, as_root=False)
    assert any("https://download.pytorch.org/whl/cpu" in step for step in cpu)


def test_course_test_plan_runs_what_make_test_runs(tmp_path):
    from camcourse.course import plan

    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "04_x.ipynb").write_text("{}")
    steps = plan("test", root=tmp_path, python="python3")
    assert steps[-2][-1] == f"{tmp_path}[test]"
    makefile = (ROOT / "Makefile").read_text()
    for flag in ("--doctest-modules", "--nbval-lax", "--nbval-cell-timeout=600"):
        assert flag in steps[-1] and flag in makefile
    assert "notebooks/04_x.ipynb" in steps[-1] and "tests" in steps[-1]
    assert "camlib" in steps[-1] and "camcourse" in steps[-1]  # both packages' doctests


def test_course_test_fast_plan_runs_what_make_test_fast_runs(tmp_path):
    """A contributor without make (Windows) has the inner loop too, with the test extra."""
    from camcourse.course import plan

    (tmp_path / "pyproject.toml").write_text("")
    steps = plan("test-fast", root=tmp_path, python="python3")
    assert steps[-2][-1] == f"{tmp_path}[test]"
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile[makefile.index("\ntest-fast:"):].split("\n\n")[0].splitlines()[-1]
    words = shlex.split(recipe)
    assert words[words.index("pytest") - 1:] == steps[-1][1:]  # the same arguments


def test_course_skips_the_install_once_it_is_done(tmp_path):
    from camcourse.course import plan, venv_python

    (tmp_path / "pyproject.toml").write_text("")
    python = venv_python(tmp_path / ".venv")
    python.parent.mkdir(parents=True)
    python.touch()
    assert len(plan("lab", root=tmp_path, python="p", as_root=False)) == 3  # no venv step
    (tmp_path / ".venv" / ".installed-lab").touch()
    assert len(plan("lab", root=tmp_path, python="p", as_root=False)) == 1  # only JupyterLab


def test_course_command_dry_run_prints_the_steps_and_runs_nothing(tmp_path):
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "camcourse.course", "lab", "--dry-run"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    assert "jupyterlab" in run.stdout and "-e" in run.stdout
    assert run.stdout.count("$ ") >= 1
    bad = subprocess.run([sys.executable, "-m", "camcourse.course", "install"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert bad.returncode == 2 and "invalid choice: 'install'" in bad.stderr
    line = subprocess.run([sys.executable, "-m", "camcourse.course", "clone-line"],
                          capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert line.stdout.startswith("git clone --branch ")


def test_course_command_on_an_old_python_names_the_version_it_needs(tmp_path):
    """Windows' `python` may be older than the course: one line before anything is made."""
    import subprocess
    import sys

    old = ("import sys; sys.version = '3.9.13 (main)'; sys.version_info = (3, 9, 13); "
           "import camcourse.course as c; raise SystemExit(c.main(['lab']))")
    run = subprocess.run([sys.executable, "-c", old], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr == ("error: this is Python 3.9.13 and the course needs 3.10 or newer: "
                          "install one from https://www.python.org/downloads/ and run this "
                          "command with it (on Windows: py -3.12 -m camcourse.course lab)\n")


def test_course_command_says_what_a_failed_step_means(tmp_path, monkeypatch, capsys):
    from camcourse import course

    steps = course.plan("lab", root=tmp_path, python="python3", fresh=True, as_root=False)
    venv, pip = steps[0], steps[1]
    monkeypatch.setattr(course, "plan", lambda *a, **k: [pip])
    monkeypatch.setattr(course.subprocess, "call", lambda *a, **k: 1)
    assert course.main(["lab"]) == 1
    assert capsys.readouterr().err == ("error: installing failed: the first run downloads the "
                                       "course's packages and needs the network; pip's "
                                       "message is above (exit status 1)\n")
    monkeypatch.setattr(course, "plan", lambda *a, **k: [venv])
    assert course.main(["lab"]) == 1
    assert "could not create .venv (on Debian and Ubuntu: sudo apt install python3-venv)" in \
        capsys.readouterr().err


def _make_in_copy(tmp_path, *args, python_says: str | None = None, pip_fails=False):
    """``make ARGS`` in a folder with the course's Makefile and pyproject.toml; an old
    Python is a script that answers the Makefile's version probes; a failing pip is a
    .venv whose python fails as pip does offline."""
    import shutil
    import subprocess

    if shutil.which("make") is None:
        pytest.skip("needs make")
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy2(ROOT / name, tmp_path / name)
    if python_says is not None:
        old = tmp_path / "oldpython"
        old.write_text(f'#!/bin/sh\nif [ "$1" = "-c" ]; then case "$2" in *platform*) echo '
                       f'{python_says};; *) exit 1;; esac; fi\nexit 1\n')
        old.chmod(0o755)
        args = (*args, f"PYTHON={old}")
    if pip_fails:
        (tmp_path / ".venv" / "bin").mkdir(parents=True)
        fake = tmp_path / ".venv" / "bin" / "python"
        fake.write_text("#!/bin/sh\necho 'ERROR: No matching distribution found for torch' "
                        ">&2\nexit 1\n")
        fake.chmod(0o755)
    return subprocess.run(["make", *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("target", ["lab", "test"])
def test_make_on_an_old_python_names_the_version_it_needs(tmp_path, target):
    run = _make_in_copy(tmp_path, target, python_says="3.9.18")
    assert run.returncode != 0 and not (tmp_path / ".venv").exists()
    assert run.stderr.splitlines()[0] == (
        f"error: {tmp_path / 'oldpython'} is Python 3.9.18, the course needs 3.10 or newer: "
        f"install one and name it, e.g. make {target} PYTHON=python3.12")


def test_make_lab_says_a_failed_install_needs_the_network(tmp_path):
    run = _make_in_copy(tmp_path, "lab", pip_fails=True)
    assert run.returncode != 0
    lines = run.stderr.splitlines()
    assert lines[0] == "ERROR: No matching distribution found for torch"
    assert lines[1] == ("error: installing failed: the first run downloads the course's "
                        "packages and needs the network; pip's message is above")


def test_make_publish_without_an_address_stops_with_the_usage():
    import shutil
    import subprocess

    if shutil.which("make") is None:
        pytest.skip("needs make")
    run = subprocess.run(["make", "-n", "publish"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode != 0
    assert "make publish REPO=https://github.com/OWNER/NAME [BRANCH=main]" in run.stderr


def test_course_plan_refuses_an_unknown_command():
    from camcourse.course import plan

    with pytest.raises(ValueError, match="command must be 'lab', 'test' or 'test-fast'"):
        plan("install")


def test_the_repository_setting_is_a_data_file_that_travels_with_the_package():
    from camcourse.course import SETTING_FILE, Setting, load_setting

    assert SETTING_FILE.name == "course.json" and SETTING_FILE.parent.name == "camcourse"
    assert isinstance(load_setting(), Setting)
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "course.json" in data["package-data"]["camcourse"]


@pytest.mark.parametrize("content", ['{"repo_url": "https://github.com/a/b"}', "not json",
                                     '{"repo_url": "https://gitlab.com/a/b", "branch": "m"}'])
def test_a_bad_setting_file_is_refused_with_what_is_expected(content, tmp_path):
    from camcourse.course import load_setting

    path = tmp_path / "course.json"
    path.write_text(content)
    with pytest.raises(ValueError, match="repo_url|path"):
        load_setting(path)


def test_coursework_has_no_import_cycle_through_colab():
    """colab -> release/catalogue -> course; nothing in coursework imports colab back."""
    for name in ("release.py", "catalogue.py", "notebooks.py", "nbgrader.py"):
        text = (ROOT / "camcourse" / "coursework" / name).read_text()
        assert "coursework.colab" not in text and "coursework import colab" not in text, name
    colab = (ROOT / "camcourse" / "coursework" / "colab.py").read_text()
    assert "__main__" not in colab and "global " not in colab


# The library imports nothing of the course: importing camcourse fails in this child.
_NO_COURSE = """
import importlib, json, pkgutil, sys

class NoCourse:
    def find_spec(self, name, path=None, target=None):
        if name == "camcourse" or name.startswith("camcourse."):
            raise ImportError(f"camlib imported {name}")

sys.meta_path.insert(0, NoCourse())
import camlib
names = [m.name for m in pkgutil.walk_packages(camlib.__path__, "camlib.")]
for name in names:
    importlib.import_module(name)
print(json.dumps([camlib.__file__, names, [m for m in sys.modules if m.startswith("camcourse")]]))
"""


def test_camlib_imports_nothing_of_the_course():
    """Every camlib module imports with camcourse made unimportable, and none loads it;
    no import of camcourse hides in a function either. The library can be read,
    documented and vendored alone; the course depends on it, never the reverse."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", _NO_COURSE], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    where, names, loaded = json.loads(run.stdout.strip().splitlines()[-1])
    assert Path(where) == ROOT / "camlib" / "__init__.py"
    sources = sorted((ROOT / "camlib").glob("*.py"))
    assert sorted(names) == sorted(f"camlib.{p.stem}" for p in sources if p.stem != "__init__")
    assert loaded == []
    for path in sources:
        assert not re.search(r"^\s*(import|from)\s+camcourse\b", path.read_text(), re.M), path


def test_notebooks_are_committed_without_outputs():
    notebooks = sorted((ROOT / "notebooks").rglob("*.ipynb"))
    notebooks = [p for p in notebooks if ".ipynb_checkpoints" not in p.parts]
    for path in notebooks:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [], f"{path.name} has outputs"
                assert cell["execution_count"] is None, f"{path.name} has execution counts"
