"""The one place that names where the course lives, and what every notebook starts with.

Every lesson opens with a Colab badge and a set-up cell generated from REPO_URL and
BRANCH; `python -m camlib.course` rewrites them in every notebook, and a test fails when
a notebook is out of step.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO_URL = "https://github.com/cam-course/cam-course"
BRANCH = "main"
REPO_DIR_ON_COLAB = "/content/cam-course"

BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
SETUP_CELL_TAG = "setup"
BADGE_CELL_TAG = "colab-badge"


def _github_path(repo_url: str) -> str:
    prefix = "https://github.com/"
    if not repo_url.startswith(prefix):
        raise ValueError(f"REPO_URL must start with {prefix}, got {repo_url!r}")
    return repo_url[len(prefix) :].rstrip("/")


def colab_url(notebook_path: str | Path) -> str:
    """The Colab address that opens `notebook_path` (relative to the repository root).

    >>> colab_url("notebooks/04_swapping_the_sums.ipynb")
    'https://colab.research.google.com/github/cam-course/cam-course/blob/main/notebooks/04_swapping_the_sums.ipynb'
    """
    path = Path(notebook_path).as_posix().lstrip("/")
    return f"https://colab.research.google.com/github/{_github_path(REPO_URL)}/blob/{BRANCH}/{path}"


def badge_markdown(notebook_path: str | Path) -> str:
    """The "Open in Colab" badge for a notebook, as a markdown cell's source."""
    return f"[![Open In Colab]({BADGE_IMAGE})]({colab_url(notebook_path)})"


def setup_cell_source() -> str:
    """The first code cell of every lesson: works locally and on Colab.

    On Colab it fetches the course repository (so `data/` comes along) and installs
    `camlib` from it without touching Colab's own torch, numpy or ipywidgets; locally it
    only imports. The device comes from torch.cuda.is_available().
    """
    return f"""\
# Set-up: on Colab, fetch the course and install camlib; locally, camlib is already installed.
import sys

if "google.colab" in sys.modules:
    import os
    import subprocess

    if not os.path.isdir("{REPO_DIR_ON_COLAB}"):
        subprocess.run(["git", "clone", "--depth", "1", "--branch", "{BRANCH}", "{REPO_URL}",
                        "{REPO_DIR_ON_COLAB}"], check=True)
    # Colab already has every dependency; --no-deps keeps its torch and ipywidgets as they are.
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "-e",
                    "{REPO_DIR_ON_COLAB}"], check=True)
    sys.path.insert(0, "{REPO_DIR_ON_COLAB}")

import torch

import camlib

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"camlib {{camlib.__version__}}, torch {{torch.__version__}}, device: {{device}}")"""


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def sync_notebook(path: Path, repo_root: Path) -> bool:
    """Rewrite the badge cell and the set-up cell of one notebook; True if it changed.

    The badge is the first cell tagged "colab-badge" (a markdown cell), the set-up cell
    the first tagged "setup" (a code cell); a notebook lacking either gets it inserted at
    the top.
    """
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cells = notebook["cells"]
    wanted = {
        BADGE_CELL_TAG: ("markdown", badge_markdown(path.resolve().relative_to(repo_root))),
        SETUP_CELL_TAG: ("code", setup_cell_source()),
    }
    changed = False
    for position, (tag, (cell_type, source)) in enumerate(wanted.items()):
        cell = next((c for c in cells if tag in c.get("metadata", {}).get("tags", [])), None)
        if cell is None:
            cell = {"cell_type": cell_type, "metadata": {"tags": [tag]}, "source": ""}
            if cell_type == "code":
                cell.update(execution_count=None, outputs=[])
            cells.insert(position, cell)
            changed = True
        if _source(cell) != source:
            cell["source"] = source
            changed = True
    if changed:
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    """Bring every notebook's badge and set-up cell in step with REPO_URL and BRANCH."""
    from camlib.paths import NOTEBOOKS_DIR, REPO_ROOT

    paths = [Path(p) for p in (argv if argv is not None else sys.argv[1:])]
    paths = paths or sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        if sync_notebook(path, REPO_ROOT.resolve()):
            print(f"updated {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
