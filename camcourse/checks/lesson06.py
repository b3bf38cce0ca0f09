"""Checks for lesson 06, training a GAP network: the last map's size, one training step.

A convolution or pooling layer with kernel k, stride s and padding p turns a side of n
pixels into floor((n + 2p - k) / s) + 1 pixels; the CAM's resolution is the last map's.
One step of training: logits = model(x); loss = cross_entropy(logits, y);
optimizer.zero_grad(); loss.backward(); optimizer.step().
"""

from __future__ import annotations

import inspect

import numpy as np
import torch
import torch.nn.functional as F

from camcourse.checks._core import Context, as_integer, as_number, exercise_check

__all__ = ["exercise_6_1", "exercise_6_2"]


def _side(n: int, layers) -> int:
    for kernel, stride, padding in layers:
        n = (n + 2 * padding - kernel) // stride + 1
    return n


@exercise_check("6.1", function="feature_map_size")
def exercise_6_1(ctx: Context, fn) -> str:
    """Check ``feature_map_size(size, layers)`` against real ``nn.Conv2d`` / ``nn.MaxPool2d``."""
    stacks = [
        [(3, 1, 1), (2, 2, 0), (3, 1, 1), (2, 2, 0)],  # the course net's pattern: 64 -> 16
        [(3, 1, 1), (2, 2, 0), (3, 1, 1), (2, 2, 0), (3, 1, 1), (2, 2, 0)],  # one more: 8×8
        [(7, 2, 3), (3, 2, 1)],  # a ResNet stem
        [(5, 1, 0), (3, 2, 0)],  # no padding
        [(3, 2, 1), (3, 2, 1), (3, 2, 1)],  # odd sizes: floor, not ceil
        [(4, 2, 2), (2, 1, 1), (3, 2, 1)],  # even kernels: "same" padding is not n / s
        [(6, 3, 1), (7, 2, 2)],  # stride 3: 2p / s is not whole, one floor for the sum
    ]
    for _ in range(7 if ctx.hidden else 3):  # grading: more stacks, larger kernels, stride 3
        depth = int(ctx.rng.integers(1, 6 if ctx.hidden else 5))
        kernels = [1, 2, 3, 4, 5, 7] if ctx.hidden else [1, 3, 5]
        stacks.append([(int(k), int(s), int(ctx.rng.integers(0, k // 2 + 1)))
                       for k, s in zip(ctx.rng.choice(kernels, depth),
                                       ctx.rng.integers(1, 4 if ctx.hidden else 3, depth),
                                       strict=True)])
    sizes = (64, 37, 224)
    if ctx.hidden:  # odd and unusual input sizes the notebook never tried
        sizes += tuple(int(v) for v in ctx.rng.integers(9, 400, 3))
    answers: list[tuple[int, int]] = []  # (expected, returned) so far
    for layers in stacks:
        for size in sizes:
            # Every layer must leave at least one position (a real network raises
            # otherwise), not only the last: a side can reach 0 and grow back by padding.
            if min(_side(size, layers[:depth]) for depth in range(1, len(layers) + 1)) < 1:
                continue
            # The size PyTorch itself gives, so the formula is not taken on trust.
            x = torch.zeros(1, 1, size, size)
            for kernel, stride, padding in layers:
                x = F.max_pool2d(x, kernel, stride, padding)
            expected = x.shape[-1]
            got = ctx.call(fn, size, list(layers))
            value = as_integer(got, f"feature_map_size({size}, {layers})")
            answers.append((expected, value))
            if value == expected:
                continue
            if len({v for _, v in answers}) == 1 and len({e for e, _ in answers}) > 1:
                ctx.fail(f"feature_map_size returned {value} for every stack and size so far "
                         f"(expected {', '.join(str(e) for e, _ in answers)}): a number "
                         f"hard-coded for one network; compute it from `size` and `layers`")
            no_padding = _side(size, [(k, s, 0) for k, s, _ in layers])
            ceil = size
            for kernel, stride, padding in layers:
                ceil = -(-(ceil + 2 * padding - kernel) // stride) + 1
            only_strides = size
            for _, stride, _ in layers:
                only_strides //= stride
            no_plus_one = size
            for kernel, stride, padding in layers:
                no_plus_one = (no_plus_one + 2 * padding - kernel) // stride
            one_side = _side(size, [(k, s, p / 2) for k, s, p in layers])  # n + p, not n + 2p
            split = size  # floor((n - k) / s) + floor(2p / s) + 1: two floors
            for kernel, stride, padding in layers:
                split = (split - kernel) // stride + 2 * padding // stride + 1
            same = size  # "same" padding (p = k // 2) read as n / s, rounded up
            for kernel, stride, padding in layers:
                same = (-(-same // stride) if padding == kernel // 2
                        else (same + 2 * padding - kernel) // stride + 1)
            where = f"feature_map_size({size}, {layers})"
            hints = [
                (no_padding, "padding p adds p pixels on each side, so the formula uses n + 2p"),
                (one_side, "padding p adds p pixels on each side, 2p in all: the formula uses "
                           "n + 2p, not n + p"),
                (same, "a layer with p = k // 2 keeps n / s positions only for an odd kernel "
                       "k; an even kernel gives one more. Use floor((n + 2p - k) / s) + 1 for "
                       "every layer"),
                (ceil, "PyTorch rounds down, floor((n + 2p - k) / s) + 1 (use //)"),
                (split, "you rounded (n - k) / s and 2p / s down separately; round the "
                        "whole (n + 2p - k) / s down once: (n + 2 * p - k) // s + 1"),
                (no_plus_one, "each layer gives floor((n + 2p - k) / s) + 1 positions; the "
                              "+ 1 counts the first position of the kernel, and is missing"),
                (only_strides, "dividing by the strides ignores the kernel and padding; use "
                               "floor((n + 2p - k) / s) + 1 for every layer"),
            ]
            named = list(dict.fromkeys(hint for wrong, hint in hints if value == wrong))
            if named:
                ctx.fail(f"{where} returned {value}, expected {expected}: "
                         + ("; or ".join(named) if len(named) == 1 else
                            "either " + "; or ".join(named)))
            ctx.fail(f"{where} returned {value}, expected {expected} "
                     f"(floor((n + 2p - k) / s) + 1, layer after layer)")
    return (f"floor((n + 2p - k) / s) + 1 through every layer, on {len(stacks)} stacks "
            f"(even kernels too) and {len(sizes)} sizes")


class _TinyGAPNet(torch.nn.Module):
    """conv -> ReLU -> GAP -> linear: the course's architecture at toy size."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))


def _setup(seed: int, hidden: bool = False):
    with torch.random.fork_rng(devices=[]):  # the learner's global random state is left alone
        torch.manual_seed(seed)
        model = _TinyGAPNet().double()
    # Momentum, so that the optimizer's state matters: an optimizer made afresh inside the
    # step (its momentum lost) moves the parameters elsewhere from the second step on.
    # Grading: another momentum, an odd batch size, a non-square image and three steps.
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.5 if hidden else 0.9)
    generator = torch.Generator().manual_seed(seed)
    size, shape, steps = (7, (3, 5, 8), 3) if hidden else (6, (3, 5, 5), 2)
    batches = [(torch.randn(size, *shape, generator=generator, dtype=torch.float64),
                torch.randint(0, 3, (size,), generator=generator)) for _ in range(steps)]
    # The first batch bright: a gradient norm of 25-35, so a step that clips or rescales
    # the gradient (clip_grad_norm_ at 1 or 5) moves the parameters elsewhere.
    batches[0] = (50 * batches[0][0], batches[0][1])
    # Gradients left on the model by earlier work (an evaluation's backward, lesson 08's
    # gradients): the step must clear them before its own backward, not after its step.
    for parameter in model.parameters():
        parameter.grad = torch.randn(parameter.shape, generator=generator,
                                     dtype=parameter.dtype)
    return model, optimizer, batches


def _reference_step(model, optimizer, images, labels, *, zero_grad=True, step=True,
                    softmax_first=False, fresh_optimizer=False, zero_grad_last=False) -> float:
    if fresh_optimizer:  # a new optimizer at every step: its momentum starts from zero
        optimizer = type(optimizer)(model.parameters(), **optimizer.defaults)
    logits = model(images)
    if softmax_first:
        logits = torch.softmax(logits, dim=1)
    loss = F.cross_entropy(logits, labels)
    if zero_grad:
        optimizer.zero_grad()
    loss.backward()
    if step:
        optimizer.step()
    if zero_grad_last:
        optimizer.zero_grad()
    return loss.item()


def _parameters(model) -> np.ndarray:
    return torch.cat([p.detach().ravel() for p in model.parameters()]).numpy().copy()


def _batch_signature(fn) -> inspect.Signature:
    """The signature the check's ``run(images, labels)`` shows in messages: the learner's
    own names of train_step's last two parameters (``x``, ``y`` for ``train_step(m, opt,
    x, y)``), ``images, labels`` when they cannot be read. Without it a message names the
    batch by the learner's first two parameters, ``model=tensor(…), optimizer=tensor(…)``.
    """
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY,
                                                          p.POSITIONAL_OR_KEYWORD)]
    names = positional[2:4] if len(positional) >= 4 else ["images", "labels"]
    return inspect.Signature([inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                              for n in names])


@exercise_check("6.2", function="train_step")
def exercise_6_2(ctx: Context, fn) -> str:
    """Check ``train_step(model, optimizer, images, labels) -> float`` over two steps."""
    seed = ctx.seed % (2**31)
    outcomes = {}
    for name, options in {"right": {}, "no_zero_grad": {"zero_grad": False},
                          "no_step": {"step": False},
                          "softmax_first": {"softmax_first": True},
                          "fresh_optimizer": {"fresh_optimizer": True},
                          "zero_grad_last": {"zero_grad": False,
                                             "zero_grad_last": True}}.items():
        model, optimizer, batches = _setup(seed, ctx.hidden)
        losses = [_reference_step(model, optimizer, x, y, **options) for x, y in batches]
        outcomes[name] = (losses, _parameters(model))

    model, optimizer, batches = _setup(seed, ctx.hidden)

    def run(images, labels):
        return fn(model, optimizer, images, labels)

    run.__name__ = getattr(fn, "__name__", "train_step")
    run.__wrapped__ = fn  # type: ignore[attr-defined]
    run.__signature__ = _batch_signature(fn)  # type: ignore[attr-defined]
    steps = []
    handle = optimizer.register_step_post_hook(lambda *_: steps.append(1))
    model.train()  # a train step leaves it so; model.eval() belongs to evaluation
    losses = []
    try:
        for _step, (images, labels) in enumerate(batches, start=1):
            loss = ctx.call(run, images, labels)
            if torch.is_tensor(loss) and loss.requires_grad:
                ctx.fail("train_step returned the loss tensor, still attached to the autograd "
                         "graph; return loss.item(), a Python float (the tensor keeps the "
                         "whole graph of the step alive and fills the memory)")
            losses.append(as_number(loss, "train_step(model, optimizer, images, labels)",
                                    expected="the loss as one number (loss.item())"))
    finally:
        handle.remove()
    if not model.training:
        ctx.fail("train_step put the model in evaluation mode (model.eval()): a training step "
                 "must run in train mode, where dropout drops and batch norm uses the batch's "
                 "statistics; call model.train() (or leave the mode alone) and keep "
                 "model.eval() for evaluation")
    parameters = _parameters(model)
    gradients = [p.grad for p in model.parameters()]
    cleared = all(g is None or not bool(g.any()) for g in gradients)
    expected_losses, expected_parameters = outcomes["right"]
    if np.allclose(losses, expected_losses, rtol=1e-6) and np.allclose(
            parameters, expected_parameters, rtol=1e-6, atol=1e-9):
        return "forward, cross-entropy on logits, zero_grad, backward, step: two steps match"
    hints = {
        "no_step": "the parameters did not move: call optimizer.step() after loss.backward()",
        "no_zero_grad": "each step also used the gradients already on the model (the "
                        "previous step's, or those there before the call): call "
                        "optimizer.zero_grad() before loss.backward() (PyTorch adds gradients "
                        "up until they are cleared)",
        "fresh_optimizer": "the optimizer's momentum was lost between steps: a new "
                           "optimizer made inside train_step starts from zero every call; "
                           "use the `optimizer` argument, which keeps its state",
        "zero_grad_last": "the first step also used gradients that were on the model before "
                          "the call (PyTorch adds new gradients to them): clear them with "
                          "optimizer.zero_grad() before loss.backward(), not after the step",
        "softmax_first": "nnf.cross_entropy takes the logits S_c and applies log-softmax itself; "
                         "passing probabilities applies the softmax twice",
    }
    moved = not np.allclose(parameters, _parameters(_setup(seed, ctx.hidden)[0]), rtol=0,
                            atol=0)
    if not moved and steps and cleared:
        ctx.fail("optimizer.step() was called but the parameters did not move: the gradients "
                 "were zero when it ran. Call optimizer.zero_grad() before loss.backward(), not "
                 "between loss.backward() and optimizer.step() (which clears what backward "
                 "just computed)")
    if not moved and steps:
        ctx.fail("optimizer.step() was called but the parameters did not move: it ran before "
                 "loss.backward() had filled the gradients; the order is zero_grad, backward, "
                 "step")
    for name, hint in hints.items():
        wrong_losses, wrong_parameters = outcomes[name]
        if np.allclose(losses, wrong_losses, rtol=1e-6) and np.allclose(
                parameters, wrong_parameters, rtol=1e-6, atol=1e-9):
            ctx.fail(hint)
    if not np.allclose(losses[:1], expected_losses[:1], rtol=1e-6):
        ctx.fail(f"the first loss is {losses[0]:.6f}, expected {expected_losses[0]:.6f}: return "
                 f"nnf.cross_entropy(model(images), labels) computed before the update")
    if np.allclose(parameters, outcomes["right"][1], rtol=1e-6, atol=1e-9):
        ctx.fail(f"the parameters are right but the losses are {losses}, expected "
                 f"{expected_losses}: return the loss of this batch, computed before the update")
    ctx.fail("after two steps the parameters differ from plain SGD on the cross-entropy: "
             "forward, loss, zero_grad, backward, step, once per call")
