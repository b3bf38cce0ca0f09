"""Checks for lesson 01 (feature maps f_k(x, y)).

- Exercise 1.1 ``capture_output(model, layer, images)``: a forward hook that records a
  layer's output, always removed afterwards.
- Exercise 1.2 ``strongest_location(features)``: the (x, y) of each channel's maximum.

The checks build their test networks with a local ``torch.Generator``: running a check
never touches the learner's global random state (``torch.manual_seed``).

Mistakes named (``tests/test_wrong_answers_00_05.py`` tries each): for 1.1 a hook left
registered, no ``finally``, the layer's input (a pre-hook or ``inputs[0]``), the model's
own output, a tensor still attached to the autograd graph, a handle returned instead of
the tensor, the caller's own hook removed too (``_forward_hooks.clear()``), the output kept
as an attribute of the model, gradients left off after the call
(``torch.set_grad_enabled(False)`` outside a ``with``), the model's parameters frozen
(``model.requires_grad_(False)``); for 1.2 (y, x) order, the flat index, H used to split
it instead of W, argmin, the maximum of |f_k|, a ReLU before the argmax, 1-based
positions, float positions.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from camcourse.checks._core import Context, _to_array, exercise_check, run_with_time_limit
from camcourse.checks._diagnose import describe

__all__ = ["exercise_1_1", "exercise_1_2"]


def _tiny_net(seed: int) -> nn.Sequential:
    """A small conv net whose weights come from a local generator seeded by ``seed``.

    Building ``nn.Conv2d`` draws its initial weights from the global generator; doing it
    inside ``fork_rng`` puts the global state back afterwards, and the weights are then
    overwritten from the local generator, so the check is deterministic and the
    learner's random stream is left exactly as it was.
    """
    generator = torch.Generator().manual_seed(seed % (2**31))
    with torch.random.fork_rng(devices=[]):
        model = nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(),
            nn.Conv2d(4, 5, 3, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, 3),
        )
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    return model.eval()


class _Boom(nn.Module):
    def forward(self, x):
        raise RuntimeError("the forward pass failed on purpose")


def _hook_count(module: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in module.modules())


class _CallersHook:
    """A hook the caller registered before calling capture_output: it must survive.

    A class, not a function: the grader's learner process keeps the checks' classes
    (the model it receives carries this hook), not their functions."""

    def __call__(self, module, inputs, output) -> None:
        return None


def _require_callers_hook(ctx: Context, layer: nn.Module, handle) -> None:
    """Fail if the learner removed a hook that was not theirs; then remove it."""
    kept = handle.id in layer._forward_hooks
    handle.remove()
    ctx.require(kept, "your function also removed a hook it had not registered (one the "
                      "caller had put on the layer, e.g. with _forward_hooks.clear()); "
                      "remove only your own hook, with the handle that "
                      "register_forward_hook returned: handle.remove()")


def _attributes(model: nn.Module) -> dict[str, set[str]]:
    return {name: set(vars(module)) for name, module in model.named_modules()}


def _new_attribute(model: nn.Module, before: dict[str, set[str]]) -> str:
    """'model[3].saved' for an attribute the call added to a submodule, else ''."""
    for name, module in model.named_modules():
        extra = sorted(set(vars(module)) - before.get(name, set()))
        if extra:
            where = f"model[{name}]" if name.isdigit() else (f"model.{name}" if name
                                                              else "model")
            return f"{where}.{extra[0]}"
    return ""


@exercise_check("1.1", function="capture_output")
def exercise_1_1(ctx: Context, fn) -> str:
    """Check ``capture_output(model, layer, images)`` against a manual forward pass."""
    model = _tiny_net(ctx.seed)
    shapes = [(2, 3, 6, 6), (1, 3, 5, 7)]
    if ctx.hidden:
        shapes.append((int(ctx.rng.integers(1, 4)), 3, int(ctx.rng.integers(3, 10)),
                       int(ctx.rng.integers(3, 10))))
    for number, shape in enumerate(shapes):
        images = torch.from_numpy(ctx.rng.normal(size=shape)).float()
        # The caller's mode must survive the call: a function that calls model.eval() (or
        # .train()) changes the learner's model for every later cell.
        model.train(number % 2 == 0)
        for index in (3, 1):  # the last conv layer's ReLU, then the first ReLU
            layer = model[index]
            with torch.no_grad():
                expected = model[: index + 1](images)
                layer_input = model[:index](images)
                logits = model(images)
            attributes = _attributes(model)
            theirs = layer.register_forward_hook(_CallersHook())  # the caller's own hook
            got = ctx.call(fn, model, layer, images)
            _require_callers_hook(ctx, layer, theirs)
            ctx.require(_hook_count(model) == 0,
                        "a hook is still registered on the model after your function "
                        "returned; keep the handle of register_forward_hook and call "
                        "handle.remove()")
            added = _new_attribute(model, attributes)
            if added:
                ctx.fail(f"capture_output left a new attribute on the model ({added}): it "
                         f"keeps the stored tensor alive inside the caller's model. Leave "
                         f"the model as you found it: keep what the hook stores in a "
                         f"variable of your function")
            if isinstance(got, torch.utils.hooks.RemovableHandle):
                ctx.fail("capture_output returned the hook's handle; return the tensor the "
                         "hook stored (the handle is only for handle.remove())")
            array = _to_array(got)
            if array is not None and array.shape == tuple(logits.shape) and np.allclose(
                    array, logits.numpy(), atol=1e-5):
                ctx.fail(f"this is the model's final output (the logits), not the output of "
                         f"model[{index}]; store the output of `layer`, which the hook "
                         f"receives as its third argument")
            if torch.is_tensor(got) and got.requires_grad:
                ctx.fail("the returned tensor is still attached to the autograd graph "
                         "(requires_grad=True), which keeps every intermediate result in "
                         "memory; run the model under torch.no_grad() (or .detach() the "
                         "output)")
            ctx.compare(got, expected.numpy(), what=f"the output of model[{index}]",
                        axes=("N", "K", "H", "W"), mistakes={
                            f"you stored the input of model[{index}], not its output: a forward "
                            f"hook is called as hook(module, inputs, output); store `output` "
                            f"(a forward *pre*-hook sees only the inputs)": layer_input.numpy(),
                        })
    # A forward pass that raises must not leave the hook behind.
    images = torch.from_numpy(ctx.rng.normal(size=(1, 3, 4, 4))).float()
    with torch.random.fork_rng(devices=[]):
        broken = nn.Sequential(nn.Conv2d(3, 2, 1), _Boom())
    theirs = broken[0].register_forward_hook(_CallersHook())
    outcome, value = run_with_time_limit(fn, (broken, broken[0], images), seconds=5.0)
    _require_callers_hook(ctx, broken[0], theirs)
    ctx.require(_hook_count(broken) == 0,
                "when the forward pass raises an exception your hook stays registered; "
                "remove it in a `finally:` block (try: model(images) finally: handle.remove())")
    ctx.require(outcome != "ok",
                f"when the forward pass raises an exception, capture_output returned "
                f"{describe(value)} as if it had worked: let the exception through (try: ... "
                f"finally: handle.remove(), with no `except` that swallows it)")
    return "the hooked output equals a manual forward pass, and the hook is always removed"


def _locations(flat: np.ndarray, width: int) -> np.ndarray:
    return np.stack([flat % width, flat // width], axis=-1)


def _feature_batches(ctx: Context) -> list[np.ndarray]:
    # Non-square maps (H ≠ W, so the flat index split by H is wrong), and channels whose
    # values are all negative (a ReLU first makes their argmax position 0).
    first = ctx.rng.normal(size=(2, 3, 5, 7))
    second = ctx.rng.normal(size=(1, 4, 6, 3)) - 3.0
    second[0, 0] += 6.0  # one channel with both signs, the others all negative
    batches = [first, second]
    if ctx.hidden:
        shape = (int(ctx.rng.integers(1, 4)), int(ctx.rng.integers(1, 6)),
                 int(ctx.rng.integers(2, 12)), int(ctx.rng.integers(2, 12)))
        batches.append(ctx.rng.normal(size=shape) * ctx.rng.uniform(0.1, 100)
                       - ctx.rng.uniform(0, 50))
    return batches


@exercise_check("1.2", function="strongest_location")
def exercise_1_2(ctx: Context, fn) -> str:
    """Check ``strongest_location(features)`` (N, K, H, W) -> (N, K, 2) with (x, y)."""
    for features in _feature_batches(ctx):
        n, k, h, w = features.shape
        flat = features.reshape(n, k, -1).argmax(axis=-1)
        expected = _locations(flat, w)
        got = ctx.call(fn, features)
        array = _to_array(got)
        if array is not None and array.shape == expected.shape and not np.array_equal(
                array, expected) and np.array_equal(array, expected[..., ::-1]):
            ctx.fail("you returned (y, x), the NumPy index order; the course writes f_k(x, y) "
                     "with x the column and y the row, so return (x, y)")
        if array is not None and array.shape == flat.shape and np.array_equal(array, flat):
            ctx.fail("you returned the flat index i of each maximum, shape (N, K); split it "
                     "into the column x = i % W and the row y = i // W and return (N, K, 2)")
        lowest = features.reshape(n, k, -1).argmin(axis=-1)
        by_abs = np.abs(features).reshape(n, k, -1).argmax(axis=-1)
        relu = np.maximum(features, 0).reshape(n, k, -1).argmax(axis=-1)
        mistakes = {
            "you returned the flat index of the maximum as both numbers; split it into the "
            "row y = i // W and the column x = i % W": np.stack([flat, flat], axis=-1),
            "you split the flat index with H instead of W; a row holds W values, so "
            "y = i // W and x = i % W": _locations(flat, h),
            "you found the smallest value (argmin); take the largest (argmax)":
            _locations(lowest, w),
            "you took the largest |f_k|; the strongest response is the largest value, sign "
            "included": _locations(by_abs, w),
            "you clipped negative values to 0 first (a ReLU): for a channel whose values are "
            "all negative the largest value is still somewhere, not at (0, 0)":
            _locations(relu, w),
            "your positions start at 1; Python and NumPy count from 0": expected + 1,
        }
        mistakes = {m: v for m, v in mistakes.items() if not np.array_equal(v, expected)}
        ctx.compare(got, expected, axes=("N", "K", "xy"), rtol=0, atol=0, mistakes=mistakes)
        ctx.require(array is not None and array.dtype.kind in "iu",
                    f"the positions are right but their dtype is "
                    f"{getattr(array, 'dtype', None)}; return integers (they index the map: "
                    f"features[n, k, y, x])")
    return "(x, y) of every channel's strongest response, on non-square and all-negative maps"
