"""Lesson 09 runs both ways: with pretrained weights (photographs) and offline (digits).

The online path needs ResNet-18's ImageNet weights. Here they come from torch's hub cache,
filled with a randomly initialised ResNet-18 under the file name torchvision expects, so the
notebook takes the online path with no network; the numbers are meaningless, the code path
is the real one. The offline path runs with an empty cache and a blocked download.
"""

import json
import os

import nbformat
import pytest
import torch

from camcourse import paths
from camcourse.execute import LessonClient as NotebookClient

LESSON = paths.REPO_ROOT / "notebooks" / "09_cam_on_real_photographs.ipynb"


def _run(torch_home, env_extra=None) -> str:
    notebook = nbformat.read(LESSON, as_version=4)
    env = dict(os.environ, TORCH_HOME=str(torch_home), MPLBACKEND="Agg",
               PYTHONPATH=str(paths.REPO_ROOT), **(env_extra or {}))
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(LESSON.parent)}})
    client.km = client.create_kernel_manager()
    client.start_new_kernel(env=env)
    client.start_new_kernel_client()
    try:
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
    finally:
        client._cleanup_kernel()
    return json.dumps([cell.get("outputs", []) for cell in notebook.cells])


@pytest.mark.slow
def test_online_path_with_cached_weights(tmp_path):
    from torchvision.models import ResNet18_Weights, resnet18

    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    name = ResNet18_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[-1]
    torch.manual_seed(0)
    torch.save(resnet18().state_dict(), checkpoints / name)
    outputs = _run(tmp_path)
    assert "Loaded resnet18" in outputs and "four photographs" in outputs
    assert "chelsea" in outputs and "Downloading" not in outputs


@pytest.mark.slow
def test_offline_path_describes_the_digits_and_leaks_no_download_message(tmp_path):
    outputs = _run(tmp_path, {"http_proxy": "http://127.0.0.1:9", "https_proxy":
                              "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"})
    assert "four cluttered test digits" in outputs
    assert "Downloading" not in outputs and "half the ink covers" in outputs
