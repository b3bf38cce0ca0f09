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
    requirements = project["dependencies"] + project["optional-dependencies"]["dev"]
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
    assert commands[-1] == "make test"


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
