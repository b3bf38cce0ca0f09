"""Checks for lesson 01 (feature maps f_k(x, y)).

- Exercise 1.1 ``capture_output(model, layer, images)``: a forward hook that records a
  layer's output, always removed afterwards.
- Exercise 1.2 ``strongest_location(features)``: the (x, y) of each channel's maximum.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from camlib.checks._core import Context, _to_array, exercise_check, run_with_time_limit

__all__ = ["exercise_1_1", "exercise_1_2"]


def _tiny_net(seed: int) -> nn.Sequential:
    torch.manual_seed(seed % (2**31))
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(),
        nn.Conv2d(4, 5, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, 3),
    ).eval()


class _Boom(nn.Module):
    def forward(self, x):
        raise RuntimeError("the forward pass failed on purpose")


def _hook_count(module: nn.Module) -> int:
    return sum(len(m._forward_hooks) for m in module.modules())


@exercise_check("1.1", function="capture_output")
def exercise_1_1(ctx: Context, fn) -> str:
    """Check ``capture_output(model, layer, images)`` against a manual forward pass."""
    model = _tiny_net(ctx.seed)
    images = torch.from_numpy(ctx.rng.normal(size=(2, 3, 6, 6))).float()
    for index in (3, 1):  # the last conv layer's ReLU, then the first ReLU
        layer = model[index]
        with torch.no_grad():
            expected = model[: index + 1](images)
        got = ctx.call(fn, model, layer, images)
        ctx.require(_hook_count(model) == 0,
                    "a hook is still registered on the model after your function returned; "
                    "keep the handle of register_forward_hook and call handle.remove()")
        ctx.compare(got, expected.numpy(), what=f"the output of model[{index}]",
                    axes=("N", "K", "H", "W"))
    # A forward pass that raises must not leave the hook behind.
    broken = nn.Sequential(nn.Conv2d(3, 2, 1), _Boom())
    run_with_time_limit(fn, (broken, broken[0], images), seconds=5.0)
    ctx.require(_hook_count(broken) == 0,
                "when the forward pass raises an exception your hook stays registered; "
                "remove it in a `finally:` block (try: model(images) finally: handle.remove())")
    return "the hooked output equals a manual forward pass, and the hook is always removed"


@exercise_check("1.2", function="strongest_location")
def exercise_1_2(ctx: Context, fn) -> str:
    """Check ``strongest_location(features)`` (N, K, H, W) -> (N, K, 2) with (x, y)."""
    features = ctx.rng.normal(size=(2, 3, 5, 7))
    n, k, h, w = features.shape
    flat = features.reshape(n, k, -1).argmax(axis=-1)
    ys, xs = np.unravel_index(flat, (h, w))
    expected = np.stack([xs, ys], axis=-1)
    got = ctx.call(fn, features)
    array = _to_array(got)
    if array is not None and array.shape == expected.shape and np.array_equal(
            array, expected[..., ::-1]):
        ctx.fail("you returned (y, x), the NumPy index order; the course writes f_k(x, y) "
                 "with x the column and y the row, so return (x, y)")
    ctx.compare(got, expected, axes=("N", "K", "xy"),
                mistakes={"you returned the flat index of the maximum as both numbers; split "
                          "it into the row y = i // W and the column x = i % W":
                          np.stack([flat, flat], axis=-1)})
    return "(x, y) of every channel's strongest response"
