"""The project's set-up: the README's commands, CI, and the two dependency lists in step."""

import json
import re
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
        requirements += extra
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


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make lab" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [line for line in ci.splitlines() if line and not line.startswith("#")]
    assert commands[-3:] == ["make test", "make test-browser", "make book"]
    makefile = (ROOT / "Makefile").read_text()
    for target in ("test", "test-browser", "book", "colab-check", "publish"):
        assert re.search(rf"^{target}:", makefile, re.M), target
        assert f"make {target}" in readme, f"the README does not mention make {target}"


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
    assert re.search(r"^test: \$\(STAMP\)", makefile, re.M)
    assert 'pip install --quiet -e ".[dev]"' in makefile
    assert "--nbval-lax" in makefile


def test_notebooks_are_committed_without_outputs():
    notebooks = sorted((ROOT / "notebooks").rglob("*.ipynb"))
    notebooks = [p for p in notebooks if ".ipynb_checkpoints" not in p.parts]
    for path in notebooks:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [], f"{path.name} has outputs"
                assert cell["execution_count"] is None, f"{path.name} has execution counts"
