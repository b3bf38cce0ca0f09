"""The student copies of lessons 00–05 run to their end with no exercise solved, executed
the way Colab's and classic Jupyter's "Run all" do: cell after cell, stopping at the first
exception, ignoring the ``raises-exception`` tag that nbval honours."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COPIES = sorted((ROOT / "notebooks" / "student").glob("0[0-5]_*.ipynb"))


def test_there_are_six_student_copies():
    assert [p.name[:2] for p in COPIES] == ["00", "01", "02", "03", "04", "05"]


@pytest.mark.slow
@pytest.mark.parametrize("path", COPIES, ids=lambda p: p.name)
def test_student_copy_runs_to_the_end_with_nothing_solved(path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT),
                                                                   os.environ.get("PYTHONPATH")])))
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError at the first cell that raises
    text = "\n".join(output.get("text", "") for cell in notebook.cells
                     for output in cell.get("outputs", []) if output.get("name") == "stdout")
    checks = sum("exercise" in cell.metadata.get("tags", []) for cell in notebook.cells)
    assert text.count("not attempted yet") == checks
    assert "✔" not in text
