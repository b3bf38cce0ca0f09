"""Checks for lesson 08, Grad-CAM: the weights α_k^c, the map, and the gradient itself.

Grad-CAM (Selvaraju et al., 2017):
    α_k^c = (1/Z) Σ_{x,y} ∂S_c/∂f_k(x, y),   Grad-CAM_c = ReLU(Σ_k α_k^c f_k(x, y)).
On a GAP network α_k^c = w_k^c / Z, so Grad-CAM is CAM up to the scale 1/Z and a ReLU.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as nnf

from camcourse.checks._core import Context, exercise_check, factor_Z

__all__ = ["exercise_8_1", "exercise_8_2", "exercise_8_3"]


def _as_tensor(value) -> torch.Tensor:
    return torch.as_tensor(np.asarray(value, dtype=np.float32))


@exercise_check("8.1", function="gradcam_weights")
def exercise_8_1(ctx: Context, fn) -> str:
    """Check ``gradcam_weights(gradients)``: (N, K, H, W) -> α (N, K), the spatial mean."""
    shapes = [(2, 3, 4, 5), (1, 6, 7, 7)]
    if ctx.hidden:  # grading: odd, non-square maps and gradients of every scale
        shapes += [(3, 5, 1, 9), (2, 4, 11, 3)]
    for n, k, h, w in shapes:
        gradients = _as_tensor(ctx.rng.normal(size=(n, k, h, w))
                               * 10 ** ctx.rng.uniform(-3, 3, size=(n, k, 1, 1)))
        expected = gradients.double().mean(dim=(2, 3)).numpy()
        got = ctx.call(fn, gradients.clone())
        ctx.compare(got, expected, axes=("N", "K"), factors=[factor_Z(h * w)],
                    mistakes={
                        "you took the absolute value of the gradients first; Grad-CAM averages "
                        "the signed gradients": gradients.double().abs().mean(dim=(2, 3)).numpy(),
                        "you applied a ReLU to the gradients first; Grad-CAM averages the "
                        "signed gradients (the ReLU comes after the weighted sum)":
                            gradients.double().clamp(min=0).mean(dim=(2, 3)).numpy(),
                    })
    return "α_k^c = (1/Z) Σ_{x,y} ∂S_c/∂f_k(x, y) on two random batches"


@exercise_check("8.2", function="grad_cam")
def exercise_8_2(ctx: Context, fn) -> str:
    """Check ``grad_cam(features, gradients)`` -> ReLU(Σ_k α_k f_k), shape (N, H, W)."""
    shapes = [(2, 4, 5, 5), (3, 8, 6, 4), (2, 5, 4, 6), (1, 3, 4, 7)]  # last: one image
    if ctx.hidden:  # grading: odd, non-square maps, features of every scale
        shapes += [(1, 3, 9, 2), (4, 6, 3, 7)]
    for index, (n, k, h, w) in enumerate(shapes):
        # Features after a ReLU (≥ 0), and once a layer's signed output (Grad-CAM works
        # on any layer): a ReLU on f_k inside the sum then changes the map.
        draw = ctx.rng.normal if index == 2 else lambda size: ctx.rng.gamma(1.0, size=size)
        features = _as_tensor(draw(size=(n, k, h, w))
                              * (10 ** ctx.rng.uniform(-2, 3) if ctx.hidden else 1.0))
        gradients = _as_tensor(ctx.rng.normal(size=(n, k, h, w)))
        f, g = features.double(), gradients.double()
        alpha = g.mean(dim=(2, 3))
        raw = torch.einsum("nk,nkhw->nhw", alpha, f)
        expected = raw.clamp(min=0).numpy()
        got = ctx.call(fn, features.clone(), gradients.clone())
        ctx.compare(got, expected, axes=("N", "H", "W"), factors=[factor_Z(h * w)],
                    mistakes={
                        "you left out the ReLU after the weighted sum: Grad-CAM keeps only "
                        "the positive evidence, ReLU(Σ_k α_k f_k), so negative values of the "
                        "sum must become 0 (a ReLU on f_k does not do it: the features are "
                        "already ≥ 0 after the network's own ReLU)": raw.numpy(),
                        "you applied the ReLU to the features f_k; Grad-CAM weights the "
                        "layer's output as it is and applies the ReLU once, to the weighted "
                        "sum: ReLU(Σ_k α_k f_k)":
                            torch.einsum("nk,nkhw->nhw", alpha, f.clamp(min=0)).clamp(
                                min=0).numpy(),
                        "you multiplied features and gradients pixel by pixel (Σ_k f·∂S/∂f) "
                        "instead of weighting each channel by its averaged gradient α_k":
                            (f * g).sum(dim=1).clamp(min=0).numpy(),
                        "you applied the ReLU to α_k (or to the gradients) before the sum; it "
                        "belongs after the weighted sum":
                            torch.einsum("nk,nkhw->nhw", alpha.clamp(min=0), f).numpy(),
                        "you averaged α_k f_k over the channels (a mean over k); Grad-CAM "
                        "sums them, ReLU(Σ_k α_k f_k)": (raw.clamp(min=0) / k).numpy(),
                        "you min–max normalized the map; return the raw ReLU(Σ_k α_k f_k) (the "
                        "lesson normalizes only to display it)":
                            _minmax(raw.clamp(min=0)).numpy(),
                    })
    return "Grad-CAM = ReLU(Σ_k α_k^c f_k) on three random batches, one with signed features"


def _minmax(maps: torch.Tensor) -> torch.Tensor:
    low = maps.amin(dim=(1, 2), keepdim=True)
    high = maps.amax(dim=(1, 2), keepdim=True)
    return (maps - low) / (high - low).clamp(min=1e-12)


class _TwoLayerHead(torch.nn.Module):
    """GAP, then two linear layers with a ReLU: ∂S_c/∂f depends on f (as in a real net)."""

    def __init__(self, k: int, hidden: int, c: int, generator: torch.Generator):
        super().__init__()
        self.first = torch.nn.Linear(k, hidden)
        self.second = torch.nn.Linear(hidden, c)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=generator, dtype=p.dtype))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        pooled = features.mean(dim=(2, 3))
        return self.second(torch.relu(self.first(pooled)))


@exercise_check("8.3", function="score_gradients")
def exercise_8_3(ctx: Context, fn) -> str:
    """Check ``score_gradients(head, features, classes)`` -> ∂S_c/∂f, (N, K, H, W)."""
    generator = torch.Generator().manual_seed(ctx.seed % (2**31))
    n, k, h, w, c = (5, 6, 3, 7, 9) if ctx.hidden else (3, 5, 4, 4, 6)  # grading: non-square
    head = _TwoLayerHead(k, 7, c, generator).double()
    features = torch.randn(n, k, h, w, generator=generator, dtype=torch.float64).abs()
    classes = (torch.randint(0, c, (n,), generator=generator) if ctx.hidden
               else torch.tensor([1, 4, 1]))
    classes[0] = classes[-1] = 1  # a shared class, so "the first sample's class" can be told
    with torch.no_grad():  # at least one given class that is not the predicted one
        predicted = head(features).argmax(dim=1)
    if bool((predicted == classes).all()):
        classes[1] = (predicted[1] + 1) % c

    def gradient_of(select) -> np.ndarray:
        f = features.clone().requires_grad_(True)
        (gradient,) = torch.autograd.grad(select(head(f)), f)  # no .grad left on the head
        return gradient.numpy()

    rows = torch.arange(n)
    expected = gradient_of(lambda s: s[rows, classes].sum())
    given = features.clone()
    got = ctx.call(fn, head, given, classes.clone())
    if torch.is_tensor(got) and got.requires_grad:
        got = got.detach()
    ctx.compare(got, expected, axes=("N", "K", "H", "W"), factors=[factor_Z(h * w)], mistakes={
        "this is the gradient of the probability P_c = softmax(S)_c; Grad-CAM differentiates "
        "the score (logit) S_c, before the softmax":
            gradient_of(lambda s: torch.softmax(s, dim=1)[rows, classes].sum()),
        "this is the gradient of log P_c (log-softmax, or minus the cross-entropy); Grad-CAM "
        "differentiates the score S_c itself":
            gradient_of(lambda s: torch.log_softmax(s, dim=1)[rows, classes].sum()),
        "this is the gradient of the cross-entropy loss (minus log P_c); Grad-CAM "
        "differentiates the class score S_c itself, not a loss":
            gradient_of(lambda s: nnf.cross_entropy(s, classes, reduction="sum")),
        "this is the gradient of the mean cross-entropy loss (minus log P_c over N); "
        "Grad-CAM differentiates the class score S_c itself, summed over the batch":
            gradient_of(lambda s: nnf.cross_entropy(s, classes)),
        "you averaged the selected scores over the batch (.mean()), which divides every "
        "gradient by N; sum them (.sum()): each sample's score depends only on its own "
        "features, so the sum's gradient is each score's gradient":
            gradient_of(lambda s: s[rows, classes].mean()),
        "you differentiated the sum of all class scores; select each sample's own class "
        "S[n, classes[n]] before calling backward":
            gradient_of(lambda s: s.sum()),
        "every sample used the class of the first sample; pick S[n, classes[n]] per sample "
        "(logits[torch.arange(N), classes])":
            gradient_of(lambda s: s[:, int(classes[0])].sum()),
        "you differentiated the score of each sample's predicted class (argmax of the "
        "logits); use the class you are given, S[n, classes[n]], which may not be the "
        "predicted one":
            gradient_of(lambda s: s[rows, s.argmax(dim=1)].sum()),
        "you differentiated S[classes] for every sample (a (N, N) block of scores); pick one "
        "score per sample, S[n, classes[n]] (logits[torch.arange(N), classes])":
            gradient_of(lambda s: s[:, classes].sum()),
    })
    if given.grad is not None or given.requires_grad:
        ctx.fail("score_gradients changed the caller's tensor (it now requires grad or holds "
                 ".grad); work on features.detach().clone().requires_grad_(True)")
    left = [name for name, p in head.named_parameters()
            if p.grad is not None and bool(p.grad.any())]
    if left:
        names = ", ".join(f"{name}.grad" for name in left[:2]) + (", ..." if len(left) > 2
                                                                  else "")
        ctx.fail(f"score_gradients left gradients in the head's parameters ({names}): "
                 f".backward() fills .grad of every parameter, and "
                 f"the caller's next training step adds its own to them. Leave the head as "
                 f"you found it: torch.autograd.grad(score, features) computes only the "
                 f"gradient asked for")
    return "∂S_c/∂f_k(x, y) of each sample's class, through a two-layer head"
