"""Where the course is published, and what every notebook starts with.

``REPO_URL`` and ``BRANCH`` below are the one setting that names the course's repository.
Every lesson and student copy opens with an "Open in Colab" badge and a set-up cell made
from them, and the docs' Colab links come from them too. A teacher who forks or
publishes the course changes them with one command, which rewrites this file, the
badges, the set-up cells, the student copies and the docs::

    python -m camlib.coursework publish https://github.com/ME/cam-course [--branch main]

Run without an address, ``publish`` brings everything in step with the current setting
(after a lesson changed); ``publish --check`` writes nothing and exits 1 if anything is
out of step.

On Colab the set-up cell makes a sparse, blob-less clone of the repository: only the
top-level files, ``camlib/`` and ``data/`` (the trained checkpoints) are downloaded, so
the lessons with their solutions never reach a learner's runtime. It then installs
``camlib`` from that clone with ``--no-deps`` (Colab's torch, numpy and ipywidgets stay).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO_URL = "https://github.com/cam-course/cam-course"
BRANCH = "main"

REPO_DIR_ON_COLAB = "/content/cam-course"
# What the set-up cell checks out: the package and its data, never notebooks/.
SPARSE_PATHS = ("camlib", "data")
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
SETUP_CELL_TAG = "setup"
BADGE_CELL_TAG = "colab-badge"
GITHUB = "https://github.com/"
_SETTING = re.compile(r'^(REPO_URL|BRANCH) = "([^"]*)"$', re.MULTILINE)
_REPO_URL = re.compile(r"^https://github\.com/[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+$")
_BRANCH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]*$")


def _check_setting(repo_url: str, branch: str) -> None:
    if not isinstance(repo_url, str) or not _REPO_URL.match(repo_url) or repo_url.endswith(".git"):
        raise ValueError(f"repo_url must be a GitHub repository address like "
                         f"https://github.com/OWNER/NAME (no .git, no trailing slash), "
                         f"got {repo_url!r}")
    if not isinstance(branch, str) or not _BRANCH.match(branch) or ".." in branch:
        raise ValueError(f"branch must be a git branch name like 'main', got {branch!r}")


def _github_path(repo_url: str) -> str:
    return repo_url[len(GITHUB):]


def colab_url(notebook_path: str | Path, repo_url: str | None = None,
              branch: str | None = None) -> str:
    """The Colab address that opens ``notebook_path`` (relative to the repository root).

    Parameters
    ----------
    notebook_path : str or Path
        The notebook's path inside the repository, e.g. ``notebooks/student/04_x.ipynb``.
    repo_url, branch : str, optional
        The repository and branch; by default ``REPO_URL`` and ``BRANCH``.

    Returns
    -------
    str
        ``https://colab.research.google.com/github/OWNER/NAME/blob/BRANCH/PATH``.

    Examples
    --------
    >>> colab_url("notebooks/04_swapping_the_sums.ipynb",
    ...           repo_url="https://github.com/ada/cam-course", branch="main")
    'https://colab.research.google.com/github/ada/cam-course/blob/main/notebooks/04_swapping_the_sums.ipynb'
    """
    repo_url = REPO_URL if repo_url is None else repo_url
    branch = BRANCH if branch is None else branch
    _check_setting(repo_url, branch)
    path = Path(notebook_path).as_posix().lstrip("/")
    return f"https://colab.research.google.com/github/{_github_path(repo_url)}/blob/{branch}/{path}"


def badge_markdown(notebook_path: str | Path, repo_url: str | None = None,
                   branch: str | None = None) -> str:
    """The "Open in Colab" badge of a notebook, as a markdown cell's source.

    >>> badge_markdown("notebooks/00_setup.ipynb", "https://github.com/ada/cam-course", "main")
    '[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ada/cam-course/blob/main/notebooks/00_setup.ipynb)'
    """
    return f"[![Open In Colab]({BADGE_IMAGE})]({colab_url(notebook_path, repo_url, branch)})"


def setup_cell_source(repo_url: str | None = None, branch: str | None = None) -> str:
    """The first code cell of every lesson and student copy: works locally and on Colab.

    On Colab it clones the course sparsely and without blobs (``git clone --filter=blob:none
    --sparse``, then ``sparse-checkout set camlib data``), so the notebooks, solutions
    included, are never downloaded; it installs ``camlib`` from that clone with ``--no-deps``
    and puts the clone on ``sys.path``. Locally it only imports. The device comes from
    ``torch.cuda.is_available()``.

    >>> "--sparse" in setup_cell_source("https://github.com/ada/cam-course", "main")
    True
    """
    repo_url = REPO_URL if repo_url is None else repo_url
    branch = BRANCH if branch is None else branch
    _check_setting(repo_url, branch)
    sparse = ", ".join(f'"{p}"' for p in SPARSE_PATHS)
    return f"""\
# Set-up: on Colab, fetch camlib and its data (not the lessons) and install camlib;
# locally, camlib is already installed.
import sys

if "google.colab" in sys.modules:
    import os
    import subprocess

    if not os.path.isdir("{REPO_DIR_ON_COLAB}"):
        # A sparse clone without blobs: only the top-level files, camlib/ and data/ arrive.
        subprocess.run(["git", "clone", "--quiet", "--depth", "1", "--filter=blob:none",
                        "--sparse", "--branch", "{branch}",
                        "{repo_url}",
                        "{REPO_DIR_ON_COLAB}"], check=True)
        subprocess.run(["git", "-C", "{REPO_DIR_ON_COLAB}", "sparse-checkout", "set",
                        {sparse}], check=True)
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


def sync_notebook(path: Path, repo_root: Path, *, check: bool = False) -> bool:
    """Rewrite the badge cell and the set-up cell of one lesson; True if they differ.

    The badge is the first cell tagged ``colab-badge`` (a markdown cell), the set-up cell
    the first tagged ``setup`` (a code cell); a notebook lacking either gets it inserted
    at the top. Nothing else in the notebook changes. With ``check`` nothing is written.
    """
    from camlib.coursework.notebooks import read_notebook, write_notebook

    notebook = read_notebook(path)
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
    if changed and not check:
        write_notebook(notebook, path)
    return changed


def _set_setting(module_path: Path, repo_url: str, branch: str, check: bool) -> bool:
    text = module_path.read_text(encoding="utf-8")
    values = {"REPO_URL": repo_url, "BRANCH": branch}
    new = _SETTING.sub(lambda m: f'{m.group(1)} = "{values[m.group(1)]}"', text)
    if new != text and not check:
        module_path.write_text(new, encoding="utf-8")
    return new != text


def _rewrite_addresses(path: Path, old: tuple[str, str], new: tuple[str, str],
                       check: bool) -> bool:
    """Replace the old repository's Colab and GitHub addresses in a text file."""
    text = path.read_text(encoding="utf-8")
    (old_url, old_branch), (new_url, new_branch) = old, new
    old_path, new_path = _github_path(old_url), _github_path(new_url)
    colab = "https://colab.research.google.com/github/"
    out = text.replace(f"{colab}{old_path}/blob/{old_branch}/",
                       f"{colab}{new_path}/blob/{new_branch}/")
    out = re.sub(re.escape(old_url) + r"(?![\w.-])", new_url, out)
    if out != text and not check:
        path.write_text(out, encoding="utf-8")
    return out != text


def publish(repo_url: str | None = None, branch: str | None = None, *,
            repo_root: str | Path | None = None, check: bool = False) -> list[str]:
    """Point the course at ``repo_url``/``branch`` and bring every generated part in step.

    Rewrites, in this order: the setting in this module; the addresses in README.md,
    pyproject.toml and docs/*.md; every lesson's badge and set-up cell; the student
    copies (``release``); the generated tables of docs/teaching.md. Running it twice
    changes nothing the second time.

    Parameters
    ----------
    repo_url, branch : str, optional
        The new address (``https://github.com/OWNER/NAME``) and branch; by default the
        current setting, which only re-synchronizes.
    repo_root : path, optional
        The repository to rewrite (default: the one this module lives in).
    check : bool
        Write nothing; return one line per file that would change.

    Returns
    -------
    list of str
        One line per file changed (or, with ``check``, out of step).
    """
    from camlib.coursework.catalogue import update_docs
    from camlib.coursework.release import lessons, release

    global REPO_URL, BRANCH
    new = (REPO_URL if repo_url is None else repo_url, BRANCH if branch is None else branch)
    _check_setting(*new)
    root = Path(repo_root) if repo_root is not None else Path(__file__).resolve().parents[2]
    old = (REPO_URL, BRANCH)
    report = []
    module = root / "camlib" / "coursework" / "colab.py"
    if module.exists():
        match = dict(_SETTING.findall(module.read_text(encoding="utf-8")))
        old = (match.get("REPO_URL", REPO_URL), match.get("BRANCH", BRANCH))
        if _set_setting(module, *new, check):
            report.append(f"setting: {module}")
    docs = [root / "README.md", root / "pyproject.toml", *sorted((root / "docs").glob("*.md"))]
    if old != new:
        for path in docs:
            if path.exists() and _rewrite_addresses(path, old, new, check):
                report.append(f"addresses: {path}")
    saved = REPO_URL, BRANCH
    REPO_URL, BRANCH = new  # what the badges, cells and tables below are made from
    try:
        notebooks = root / "notebooks"
        for lesson in lessons(notebooks):
            if sync_notebook(lesson, root.resolve(), check=check):
                report.append(f"badge and set-up cell: {lesson}")
        report += release(notebooks, notebooks / "student", check=check, repo_root=root)
        teaching = root / "docs" / "teaching.md"
        if teaching.exists() and update_docs(teaching, notebooks, check=check):
            report.append(f"tables: {teaching}")
    finally:
        REPO_URL, BRANCH = saved
    return report


def main(argv: list[str] | None = None) -> int:
    """``python -m camlib.coursework.colab``: ``python -m camlib.coursework publish``."""
    from camlib.coursework.__main__ import main as coursework_main

    return coursework_main(["publish", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
