"""book/build.py runs a lesson again with a fresh kernel when a cell never answers."""

from __future__ import annotations

import importlib.util

import nbformat
import pytest

from camlib import paths


def _build_module():
    path = paths.REPO_ROOT / "book" / "build.py"
    spec = importlib.util.spec_from_file_location("book_build", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lesson(folder, source: str):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    path = folder / "01_lesson.ipynb"
    nbformat.write(notebook, path)
    return path


@pytest.mark.slow
def test_a_cell_that_never_answers_fails_the_build(tmp_path, monkeypatch):
    from nbclient.exceptions import CellTimeoutError

    build = _build_module()
    monkeypatch.setattr(build, "CELL_TIMEOUT_S", 2)
    with pytest.raises(CellTimeoutError):
        build.execute(_lesson(tmp_path, "import time\ntime.sleep(60)"), tmp_path / "out.ipynb")
