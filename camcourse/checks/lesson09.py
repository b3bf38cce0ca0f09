"""Checks for lesson 09, CAM on photographs: preparing an image, reading the top-k classes.

ImageNet networks expect x = (pixel / 255 - mean) / std per RGB channel, with
mean = (0.485, 0.456, 0.406) and std = (0.229, 0.224, 0.225), as a (1, 3, H, W) float
tensor; their logits S_c become probabilities P_c = softmax(S)_c.
"""

from __future__ import annotations

import numpy as np
import torch

from camcourse.checks._core import Context, exercise_check

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "exercise_9_1", "exercise_9_2"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _reference_preprocess(image: np.ndarray) -> np.ndarray:
    x = image.astype(np.float64) / 255.0
    x = (x - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    return np.moveaxis(x, -1, 0)[None]


@exercise_check("9.1", function="preprocess")
def exercise_9_1(ctx: Context, fn) -> str:
    """Check ``preprocess(image)``: uint8 (H, W, 3) -> float tensor (1, 3, H, W), normalized."""
    sizes = [(5, 7), (12, 9)]
    if ctx.hidden:  # grading: a single pixel, a tall and a wide image
        sizes += [(1, 1), (31, 4), (3, 40)]
    for height, width in sizes:
        image = ctx.rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
        expected = _reference_preprocess(image)
        got = ctx.call(fn, image.copy())
        if not torch.is_tensor(got):
            ctx.fail(f"preprocess should return a torch tensor (the network's input), got "
                     f"{type(got).__name__}; torch.as_tensor(...) or torch.from_numpy(...)")
        if not got.is_floating_point():
            ctx.fail(f"preprocess returned dtype {got.dtype}; the network needs floats "
                     f"(float32)")
        if got.dtype == torch.float64:
            ctx.fail("preprocess returned float64; the network's weights are float32, so "
                     "convert with .float() (or dtype=torch.float32)")
        x = image.astype(np.float64)
        mean, std = np.array(IMAGENET_MEAN), np.array(IMAGENET_STD)
        mistakes = {
            "you did not divide by 255 first: the mean and std are for pixels in [0, 1]":
                np.moveaxis((x - mean) / std, -1, 0)[None],
            "you scaled to [0, 1] but left out the ImageNet normalization (x - mean) / std":
                np.moveaxis(x / 255.0, -1, 0)[None],
            "the channels are in BGR order (OpenCV's); the mean and std are for RGB, in that "
            "order": np.moveaxis((x[..., ::-1] / 255.0 - mean) / std, -1, 0)[None],
            "you divided by 255 after standardizing; the mean and std are for pixels "
            "in [0, 1], so divide by 255 first: (x / 255 - mean) / std":
                np.moveaxis((x - mean) / std / 255.0, -1, 0)[None],
            "you swapped the mean and the std: subtract the mean (0.485, 0.456, 0.406), "
            "then divide by the std (0.229, 0.224, 0.225)":
                np.moveaxis((x / 255.0 - std) / mean, -1, 0)[None],
            "you multiplied by the std instead of dividing": np.moveaxis(
                (x / 255.0 - mean) * std, -1, 0)[None],
            "you subtracted the mean but did not divide by the std; standardize: "
            "(x / 255 - mean) / std": np.moveaxis(x / 255.0 - mean, -1, 0)[None],
            "you divided by the std but did not subtract the mean first; standardize: "
            "(x / 255 - mean) / std": np.moveaxis(x / 255.0 / std, -1, 0)[None],
            "you reshaped (H, W, 3) to (1, 3, H, W), which reorders the numbers without "
            "moving the channels; move the channel axis with permute(2, 0, 1) (or "
            "np.moveaxis), then add the batch axis":
                ((x / 255.0).reshape(1, 3, height, width) - mean[:, None, None])
                / std[:, None, None],
            "you standardized, then reshaped (H, W, 3) to (1, 3, H, W), which reorders the "
            "numbers without moving the channels; use permute(2, 0, 1) (or np.moveaxis)":
                ((x / 255.0 - mean) / std).reshape(1, 3, height, width),
        }
        ctx.compare(got.detach().double(), expected, axes=("N", "C", "H", "W"), atol=1e-5,
                    mistakes=mistakes)
    return "uint8 (H, W, 3) -> normalized float32 (1, 3, H, W), RGB order"


def _contiguous(value):
    """A NumPy array copied to positive strides (torch cannot wrap a reversed view)."""
    return np.ascontiguousarray(value) if isinstance(value, np.ndarray) else value


@exercise_check("9.2", function="top_k")
def exercise_9_2(ctx: Context, fn) -> str:
    """Check ``top_k(logits, k)`` -> (probabilities (N, k), classes (N, k)), best first."""
    cases = [(1, 10, 3), (4, 30, 5)]
    if ctx.hidden:  # grading: k = 1, k = C, and 1000 classes as ImageNet
        cases += [(3, 7, 1), (2, 6, 6), (2, 1000, 5)]
    for n, c, k in cases:
        logits = torch.as_tensor(ctx.rng.normal(0, 3, size=(n, c)), dtype=torch.float32)
        probabilities = torch.softmax(logits.double(), dim=1)
        expected_p, expected_i = probabilities.topk(k, dim=1)
        got = ctx.call(fn, logits.clone(), k)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            ctx.fail(f"top_k should return a pair (probabilities, classes), got "
                     f"{type(got).__name__}")
        p, i = got
        try:
            # NumPy answers are honest too, a reversed view (argsort(...)[:, ::-1]) included.
            p = torch.as_tensor(_contiguous(p)).detach().double()
            i = torch.as_tensor(_contiguous(i)).detach()
        except (TypeError, ValueError, RuntimeError):
            ctx.fail(f"top_k should return (probabilities, classes), two tensors of shape "
                     f"(N, k) = {(n, k)}, got {type(got[0]).__name__} and {type(got[1]).__name__}")
        logit_values = logits.double().topk(k, dim=1).values
        ctx.compare(p, expected_p.numpy(), what=f"the probabilities for N={n}, C={c}, k={k}",
                    axes=("N", "k"), mistakes={
                        "these are the logits S_c; turn them into probabilities with a "
                        "softmax over the classes (dim=1)": logit_values.numpy(),
                        "the softmax went over the wrong axis (dim=0, the samples; for a "
                        "single image every probability is then 1); the probabilities of "
                        "one image sum to 1 over its classes (dim=1)":
                            torch.softmax(logits.double(), dim=0).topk(k, dim=1).values.numpy(),
                        "these are the k smallest probabilities; take the largest (topk, or "
                        "argsort in descending order)":
                            probabilities.topk(k, dim=1, largest=False).values.numpy(),
                        "the right probabilities in ascending order; the best class comes "
                        "first": expected_p.flip(1).numpy(),
                        "these are the class indices: the pair is in the wrong order, return "
                        "(probabilities, classes)": expected_i.double().numpy(),
                        "these are log-probabilities (log_softmax); return the "
                        "probabilities themselves, torch.softmax(logits, dim=1)":
                            torch.log_softmax(logits.double(), dim=1).topk(k, dim=1)
                            .values.numpy(),
                        "you applied a sigmoid to each logit; class probabilities come from "
                        "a softmax over the classes (dim=1), which makes them sum to 1":
                            torch.sigmoid(logit_values).numpy(),
                        "you took the softmax over the k best logits only, so the k "
                        "probabilities sum to 1; the probabilities are over all C classes "
                        "(softmax first, then topk)": torch.softmax(logit_values, dim=1).numpy(),
                        **({"you left out the most probable class (the k classes after "
                            "the best, an off-by-one); keep the first k of the sorted "
                            "probabilities, the best included":
                            probabilities.topk(k + 1, dim=1).values[:, 1:].numpy()}
                           if k < c else {}),
                    })
        if i.is_floating_point() or i.dtype == torch.bool:
            ctx.fail(f"the classes for N={n}, C={c}, k={k} have dtype {i.dtype}; class "
                     "indices must be integers (torch.long, as topk returns them), or "
                     "they cannot index the maps (maps[n, classes])")
        ctx.compare(i, expected_i.numpy(), what=f"the classes for N={n}, C={c}, k={k}",
                    axes=("N", "k"))
    return "softmax probabilities and class indices of the k best classes, best first"
