"""Point the course at its repository and keep every notebook's first two cells in step.

The repository setting lives in ``camcourse/course.json`` (read with
``camcourse.course.load_setting``). Every lesson and student copy opens with an "Open in
Colab" badge and a set-up cell made from it (``camcourse.course.badge_markdown`` and
``setup_cell_source``), and the docs' Colab links come from it too. A teacher who forks or
publishes the course changes it with one command, which writes that file and regenerates
the badges, the set-up cells, the student copies and the docs::

    python -m camcourse.coursework publish https://github.com/ME/cam-course [--branch main]

Run without an address, ``publish`` brings everything in step with the current setting
(after a lesson changed); ``publish --check`` writes nothing and exits 1 if anything is
out of step.

The set-up cell makes, on Colab (or wherever camlib is missing), a sparse, blob-less clone
of the repository: only the top-level files, ``camlib/``, ``camcourse/`` and ``data/``
(the trained checkpoints) are downloaded, so the lessons with their solutions never reach
a learner's runtime.
"""

from __future__ import annotations

import re
from pathlib import Path

from camcourse.course import (
    BADGE_IMAGE,
    CLONE_DIR_ON_COLAB,
    COLAB,
    SETTING_FILE,
    Setting,
    badge_markdown,
    colab_url,
    load_setting,
    setup_cell_source,
    write_setting,
)
from camcourse.coursework.catalogue import update_docs
from camcourse.coursework.notebooks import read_notebook, write_notebook
from camcourse.coursework.release import lessons, release

__all__ = ["BADGE_CELL_TAG", "BADGE_IMAGE", "CLONE_DIR_ON_COLAB", "SETUP_CELL_TAG", "Setting",
           "badge_markdown", "colab_url", "load_setting", "publish", "setup_cell_source",
           "sync_notebook", "update_clone_line"]

SETUP_CELL_TAG = "setup"
BADGE_CELL_TAG = "colab-badge"


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def sync_notebook(path: Path, repo_root: Path, setting: Setting, *,
                  check: bool = False) -> bool:
    """Rewrite the badge cell and the set-up cell of one lesson; True if they differ.

    The badge is the first cell tagged ``colab-badge`` (a markdown cell), the set-up cell
    the first tagged ``setup`` (a code cell); a notebook lacking either gets it inserted
    at the top. Nothing else in the notebook changes. With ``check`` nothing is written.
    """
    notebook = read_notebook(path)
    cells = notebook["cells"]
    relative = path.resolve().relative_to(repo_root)
    wanted = {
        BADGE_CELL_TAG: ("markdown", badge_markdown(relative, setting)),
        SETUP_CELL_TAG: ("code", setup_cell_source(setting)),
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


def _rewrite_addresses(path: Path, old: Setting, new: Setting, check: bool) -> bool:
    """Replace the old repository's Colab and GitHub addresses in a text file."""
    text = path.read_text(encoding="utf-8")
    def prefix(setting: Setting) -> str:  # colab_url("") would end in "/." (Path(""))
        return f"{COLAB}{setting.github_path}/blob/{setting.branch}/"

    out = text.replace(prefix(old), prefix(new))
    out = re.sub(re.escape(old.repo_url) + r"(?![\w.-])", new.repo_url, out)
    if out != text and not check:
        path.write_text(out, encoding="utf-8")
    return out != text


CLONE_BLOCK = re.compile(r"(<!-- BEGIN GENERATED: clone -->\n```bash\n)(.*?)(\n```\n"
                         r"<!-- END GENERATED: clone -->)", re.DOTALL)


def update_clone_line(path: Path, setting: Setting, *, check: bool = False) -> bool:
    """Write ``setting``'s clone line into the ``clone`` block of a Markdown file (the
    README's and the get-started page's); True if it changed."""
    text = path.read_text(encoding="utf-8")
    new = CLONE_BLOCK.sub(lambda m: f"{m.group(1)}{setting.clone_line()}{m.group(3)}", text)
    if new != text and not check:
        path.write_text(new, encoding="utf-8")
    return new != text


def publish(repo_url: str | None = None, branch: str | None = None, *,
            repo_root: str | Path | None = None, check: bool = False) -> list[str]:
    """Point the course at ``repo_url``/``branch`` and bring every generated part in step.

    Rewrites, in this order: the setting file ``camcourse/course.json``; the addresses in
    README.md, pyproject.toml and docs/*.md, and the clone line of README.md and
    docs/get-started.md; every lesson's badge and set-up cell; the
    student copies (``release``); the generated tables of docs/teaching.md. Running it
    twice changes nothing the second time.

    Parameters
    ----------
    repo_url, branch : str, optional
        The new address (``https://github.com/OWNER/NAME``) and branch; by default those of
        the repository's current setting, which only re-synchronizes.
    repo_root : path, optional
        The repository to rewrite (default: the one this module lives in).
    check : bool
        Write nothing; return one line per file that would change.

    Returns
    -------
    list of str
        One line per file changed (or, with ``check``, out of step).
    """
    root = Path(repo_root) if repo_root is not None else SETTING_FILE.resolve().parents[1]
    setting_file = root / "camcourse" / SETTING_FILE.name
    old = load_setting(setting_file) if setting_file.exists() else None
    default = old if old is not None else load_setting()
    new = Setting(default.repo_url if repo_url is None else repo_url,
                  default.branch if branch is None else branch)
    report = []
    if write_setting(new, setting_file, check=check):
        report.append(f"setting: {setting_file}")
    if old is not None and old != new:
        docs = [root / "README.md", root / "pyproject.toml",
                *sorted((root / "docs").glob("*.md"))]
        for path in docs:
            if path.exists() and _rewrite_addresses(path, old, new, check):
                report.append(f"addresses: {path}")
    for path in [root / "README.md", root / "docs" / "get-started.md"]:
        if path.exists() and update_clone_line(path, new, check=check):
            report.append(f"clone line: {path}")
    notebooks = root / "notebooks"
    for lesson in lessons(notebooks):
        if sync_notebook(lesson, root.resolve(), new, check=check):
            report.append(f"badge and set-up cell: {lesson}")
    report += release(notebooks, notebooks / "student", check=check, repo_root=root,
                      setting=new)
    teaching = root / "docs" / "teaching.md"
    if teaching.exists() and update_docs(teaching, notebooks, check=check, setting=new):
        report.append(f"tables: {teaching}")
    return report
