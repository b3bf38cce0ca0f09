"""Every step of CAM on batched PyTorch tensors, on any device.

The same functions, arguments and meaning as :mod:`camlib.reference`, written with
tensor operations so that a whole batch runs at once on the CPU or a GPU. Inputs may be
float32, float16, bfloat16 or float64; every result stays on the input's device.

On the CPU the validity checks (for example "no NaN in features") read one ``bool``
each. On a GPU, ``class_activation_maps``, ``upsample`` and ``normalize`` never make the
host wait: their checks run on the device (`camlib.validation`), and ``check=False``
skips them. The boxes need the host: the labelling's convergence test and the number
of components are read there. A batch of N = 0 gives empty results.

The equations (f_k(x, y) is channel k of the last convolutional layer, Z = H·W)::

    F_k = (1/Z) Σ_{x,y} f_k(x, y)          global_average_pool
    S_c = Σ_k w_k^c F_k + b_c              class_scores
    P_c = exp(S_c) / Σ_c' exp(S_c')        softmax
    M_c(x, y) = Σ_k w_k^c f_k(x, y)        class_activation_maps
    S_c = (1/Z) Σ_{x,y} M_c(x, y) + b_c    (swap the two sums)

Boxes are half-open (x0, y0, x1, y1): columns x0 <= x < x1, rows y0 <= y < y1.

Where the batch makes a difference: masks, label images and maps may be (N, H, W) or a
single (H, W); ``connected_components`` returns one count per image; ``component_boxes``
gives (N, count, 4) with (0, 0, 0, 0) for the components an image does not have; class
indices may also be a tensor such as ``logits.argmax(1)``.

Note: inside this module ``import torch`` is PyTorch itself (imports are absolute).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from camlib import validation

__all__ = [
    "global_average_pool",
    "global_max_pool",
    "class_scores",
    "softmax",
    "class_activation_maps",
    "upsample",
    "normalize",
    "connected_components",
    "component_boxes",
    "bounding_box",
    "iou",
]


# ---------------------------------------------------------------------------
# Pooling, scores, probabilities
# ---------------------------------------------------------------------------

def global_average_pool(features: torch.Tensor, reduce: str = "mean") -> torch.Tensor:
    """Pool each feature map to one number: F_k = (1/Z) Σ_{x,y} f_k(x, y).

    Parameters
    ----------
    features : tensor (N, K, H, W)
        f_k(x, y) for a batch of N images.
    reduce : "mean" or "sum"
        "mean" divides by Z = H·W as torchvision and the released models do;
        "sum" is the paper's F_k = Σ_{x,y} f_k(x, y).

    Returns
    -------
    tensor (N, K)

    Example
    -------
    >>> global_average_pool(torch.ones(1, 2, 3, 3), reduce="sum")
    tensor([[9., 9.]])
    """
    features = validation.tensor(features, "features", "(N, K, H, W)", 4, nonempty=(1, 2, 3))
    if reduce == "mean":
        return features.mean(dim=(2, 3))
    if reduce == "sum":
        return features.sum(dim=(2, 3))
    raise ValueError(f'reduce must be "mean" or "sum", got {reduce!r}')


def global_max_pool(features: torch.Tensor) -> torch.Tensor:
    """Global max pooling: F_k = max_{x,y} f_k(x, y), (N, K, H, W) -> (N, K).

    Example
    -------
    >>> global_max_pool(torch.arange(4.0).reshape(1, 1, 2, 2))
    tensor([[3.]])
    """
    features = validation.tensor(features, "features", "(N, K, H, W)", 4, nonempty=(1, 2, 3))
    return features.amax(dim=(2, 3))


def class_scores(
    pooled: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """Class scores S_c = Σ_k w_k^c F_k + b_c (the linear layer after pooling).

    Parameters
    ----------
    pooled : tensor (N, K)
        F_k for each image.
    weight : tensor (C, K)
        w_k^c, the classifier's weight (``nn.Linear.weight``).
    bias : tensor (C,), optional
        b_c; None means no bias (the paper's form).

    Returns
    -------
    tensor (N, C)

    Example
    -------
    >>> class_scores(torch.tensor([[1.0, 2.0]]), torch.tensor([[1.0, -1.0]]), torch.tensor([0.5]))
    tensor([[-0.5000]])
    """
    pooled = validation.tensor(pooled, "pooled", "(N, K)", 2, nonempty=(1,))
    weight = validation.tensor(
        weight, "weight", "(C, K)", 2, like=(pooled, "pooled"), nonempty=(0, 1)
    )
    if weight.shape[1] != pooled.shape[1]:
        raise ValueError(
            f"weight must have K={pooled.shape[1]} columns (one per pooled feature), "
            f"got weight of shape {tuple(weight.shape)}"
        )
    dtype = _common_dtype(pooled, weight)
    scores = pooled.to(dtype) @ weight.to(dtype).T
    if bias is None:
        return scores
    bias = validation.tensor(bias, "bias", "(C,)", 1, like=(pooled, "pooled"))
    if bias.shape[0] != weight.shape[0]:
        raise ValueError(
            f"bias must have C={weight.shape[0]} entries (one per class), "
            f"got shape {tuple(bias.shape)}"
        )
    return scores + bias.to(dtype)


def softmax(scores: torch.Tensor) -> torch.Tensor:
    """Class probabilities P_c = exp(S_c) / Σ_c' exp(S_c'), per row, numerically stable.

    Subtracting max_c S_c before exponentiating changes nothing mathematically and keeps
    exp() from overflowing.

    Example
    -------
    >>> softmax(torch.tensor([[0.0, 0.0]]))
    tensor([[0.5000, 0.5000]])
    """
    scores = validation.tensor(scores, "scores", "(N, C)", 2, nonempty=(1,))
    shifted = scores - scores.amax(dim=1, keepdim=True)
    exp = shifted.exp()
    return exp / exp.sum(dim=1, keepdim=True)


# ---------------------------------------------------------------------------
# Class activation maps
# ---------------------------------------------------------------------------

def class_activation_maps(
    features: torch.Tensor,
    weight: torch.Tensor,
    classes: int | Sequence[int] | torch.Tensor | None = None,
    check: bool = True,
) -> torch.Tensor:
    """Class activation maps M_c(x, y) = Σ_k w_k^c f_k(x, y).

    Summing M_c over the positions gives back the score:
    S_c = Σ_{x,y} M_c(x, y) (sum pooling, no bias) or S_c = (1/Z) Σ_{x,y} M_c(x, y) + b_c
    (mean pooling with bias). M_c can be negative; no ReLU is applied.

    Parameters
    ----------
    features : tensor (N, K, H, W)
        f_k(x, y).
    weight : tensor (C, K)
        w_k^c, on the same device as ``features``.
    classes : None, int, or N ints (sequence, array or tensor)
        None: every class. An int: that class for the whole batch. N ints: one class
        per image (e.g. ``logits.argmax(1)``).
    check : bool
        Check the values: the maps finite, the class indices in range. On the CPU these
        raise ValueError at once; on a GPU they run on the device and never make the
        host wait (a device-side assert, reported at the next synchronization; see
        `camlib.validation`). False skips them, for a hot loop over trusted inputs.
        Shapes, dtypes and devices are always checked (they cost no synchronization).

    Returns
    -------
    tensor (N, C, H, W) when ``classes`` is None, else (N, H, W).

    Example
    -------
    >>> f = torch.ones(1, 2, 2, 2)
    >>> class_activation_maps(f, torch.tensor([[1.0, 2.0]]), classes=0)
    tensor([[[3., 3.],
             [3., 3.]]])
    """
    # Finiteness is checked on the maps, K times smaller than the features: NaN or inf in
    # f_k always reaches M_c (0·inf and inf − inf are NaN), so only then are the
    # features read again, to name them.
    features = validation.tensor(features, "features", "(N, K, H, W)", 4, nonempty=(1, 2, 3),
                                 finite=False)
    weight = _check_weight(features.shape[1], weight, features, check)
    dtype = _common_dtype(features, weight)
    features, weight = features.to(dtype), weight.to(dtype)
    if classes is None:
        maps = torch.einsum("nkhw,ck->nchw", features, weight)
    else:
        index = validation.class_indices(classes, features.shape[0], weight.shape[0],
                                         features.device, check)
        maps = torch.einsum("nkhw,nk->nhw", features, weight[index])
    if check:
        if validation.on_host(maps):
            if not bool(torch.isfinite(maps).all()):
                validation.all_finite(features, "features")
        else:
            validation.all_finite(maps, "features")
    return maps


def upsample(maps: torch.Tensor, size: int | tuple[int, int], check: bool = True
             ) -> torch.Tensor:
    """Bilinear upsampling of the last two axes to ``size`` (h, w).

    Uses the half-pixel convention of ``F.interpolate(mode="bilinear",
    align_corners=False)``: output pixel i samples the input at (i + 0.5)·H/h - 0.5.
    Bilinear interpolation is linear, so upsampling commutes with the weighting:
    upsample(Σ_k w_k f_k) = Σ_k w_k upsample(f_k).

    Parameters
    ----------
    maps : tensor (..., H, W), finite
    size : int or (h, w), positive
    check : refuse NaN and inf (on a GPU without synchronizing, as
        `class_activation_maps` says); False skips it

    Returns
    -------
    tensor (..., h, w)

    Example
    -------
    >>> upsample(torch.tensor([[0.0, 1.0]]), (1, 4))
    tensor([[0.0000, 0.2500, 0.7500, 1.0000]])
    """
    maps = validation.tensor(maps, "maps", "(..., H, W)", tuple(range(2, 9)),
                             nonempty=(-2, -1), check=check)
    h, w = validation.size(size)
    lead = maps.shape[:-2]
    if maps.numel() == 0:  # an empty batch: nothing to resample
        return maps.new_zeros(*lead, h, w)
    flat = maps.reshape(-1, 1, *maps.shape[-2:])
    out = F.interpolate(flat, size=(h, w), mode="bilinear", align_corners=False)
    return out.reshape(*lead, h, w)


def normalize(maps: torch.Tensor, mode: str = "minmax", check: bool = True) -> torch.Tensor:
    """Rescale each map (over its last two axes).

    - ``mode="minmax"``: (M - min M) / (max M - min M), into [0, 1]; a constant map -> zeros.
    - ``mode="max"``: M / max M, so that "20% of the max" is the level 0.2; a map whose
      max is <= 0 -> zeros (a constant positive map -> ones).

    ``check``: refuse NaN and inf (on a GPU without synchronizing, as
    `class_activation_maps` says); False skips it.

    Example
    -------
    >>> normalize(torch.tensor([[1.0, 3.0], [2.0, 5.0]]))
    tensor([[0.0000, 0.5000],
            [0.2500, 1.0000]])
    """
    maps = validation.tensor(maps, "maps", "(..., H, W)", tuple(range(2, 9)),
                             nonempty=(-2, -1), check=check)
    if mode not in ("minmax", "max"):
        raise ValueError(f'mode must be "minmax" or "max", got {mode!r}')
    dtype = maps.dtype
    if dtype in (torch.float16, torch.bfloat16):
        maps = maps.float()  # max M - min M can exceed float16's largest value, 65504
    if maps.numel() == 0:  # an empty batch
        return maps.to(dtype)
    high = maps.amax(dim=(-2, -1), keepdim=True)
    if mode == "minmax":
        low = maps.amin(dim=(-2, -1), keepdim=True)
        spread = high - low
        ok = spread > 0
        # The safe divisor keeps constant maps from producing 0/0 before torch.where.
        out = torch.where(ok, (maps - low) / torch.where(ok, spread, torch.ones_like(spread)), 0)
    else:
        ok = high > 0
        out = torch.where(ok, maps / torch.where(ok, high, torch.ones_like(high)), 0)
    return out.to(dtype)


# ---------------------------------------------------------------------------
# Connected components and boxes, for a whole batch at once
# ---------------------------------------------------------------------------

def _neighbour_min(labels: torch.Tensor, connectivity: int, fill: int) -> torch.Tensor:
    """min of each pixel's label and its 4 or 8 neighbours' labels, (N, H, W). The 3×3
    window of 8-connectivity is a row's minimum of three, then a column's: four
    comparisons a pixel instead of eight."""
    h, w = labels.shape[-2:]
    if connectivity == 8:
        rows = F.pad(labels, (1, 1), value=fill)
        across = torch.minimum(torch.minimum(rows[..., :w], rows[..., 1:w + 1]), rows[..., 2:])
        columns = F.pad(across, (0, 0, 1, 1), value=fill)
        return torch.minimum(torch.minimum(columns[..., :h, :], columns[..., 1:h + 1, :]),
                             columns[..., 2:, :])
    padded = F.pad(labels, (1, 1, 1, 1), value=fill)
    out = labels
    for dy, dx in ((0, 1), (1, 0), (1, 2), (2, 1)):
        out = torch.minimum(out, padded[:, dy : dy + h, dx : dx + w])
    return out


def connected_components(
    masks: torch.Tensor, connectivity: int = 8
) -> tuple[torch.Tensor, torch.Tensor]:
    """Label the connected components of a batch of binary masks on the device.

    Every foreground pixel starts with its own raster index y·W + x as label, so a label
    always names a pixel of the same component. Three steps repeat until nothing changes:

    1. m(p) = the smallest label among p and its 4 or 8 foreground neighbours
       (min-label propagation, one pixel per round);
    2. hooking: the pixel that p's label names also takes m(p),
       L(L(p)) <- min(L(L(p)), m(p)), so a whole chain learns a smaller label at once;
    3. pointer jumping: L(p) <- L(L(p)), which halves the chains.

    Steps 2 and 3 bring the rounds from about the component's length (80-100 on
    224×224 maps) down to about ten; the rounds never exceed H·W (see
    ``_first_pixel_labels``, which also starts each row's runs at their first pixel).
    On the CPU the labels come from ``scipy.ndimage.label`` instead, which numbers them
    identically and costs a small fraction of the rounds.

    At the fixed point every pixel of a component carries the index of the component's
    first pixel in raster order. Numbering those first pixels 1, 2, ... in raster order
    gives exactly the labels of ``scipy.ndimage.label`` (0 = background).

    Parameters
    ----------
    masks : bool tensor (N, H, W) or (H, W)
    connectivity : 4 or 8

    Returns
    -------
    labels : long tensor, same shape as ``masks``
    counts : long tensor (N,) (0-d for one mask): the number of components.

    Example
    -------
    >>> labels, counts = connected_components(torch.tensor([[[1, 0, 1], [1, 0, 0]]]) > 0)
    >>> labels, counts
    (tensor([[[1, 0, 2],
             [1, 0, 0]]]), tensor([2]))
    """
    masks = validation.mask(masks)
    connectivity = validation.connectivity(connectivity)
    single = masks.ndim == 2
    if single:
        masks = masks[None]
    if masks.device.type == "cpu":
        labels, counts = _label_scipy(masks, connectivity)
    else:
        labels, counts, _ = _label_rounds(masks, connectivity)
    return (labels[0], counts[0]) if single else (labels, counts)


def _label_scipy(masks: torch.Tensor, connectivity: int) -> tuple[torch.Tensor, torch.Tensor]:
    """On the CPU: ``scipy.ndimage.label`` of each mask, written in place (same numbering)."""
    from scipy import ndimage

    structure = ndimage.generate_binary_structure(2, 1 if connectivity == 4 else 2)
    array = masks.numpy()
    labels = np.zeros(array.shape, np.int64)
    counts = np.zeros(len(array), np.int64)
    if array.size:
        for i, mask in enumerate(array):
            counts[i] = ndimage.label(mask, structure=structure, output=labels[i])
    return torch.from_numpy(labels), torch.from_numpy(counts)


def _label_rounds(
    masks: torch.Tensor, connectivity: int
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """The device algorithm of :func:`connected_components` on masks (N, H, W):
    (labels, counts, rounds), the labels numbered as scipy numbers them."""
    n, h, w = masks.shape
    first, rounds = _first_pixel_labels(masks, connectivity)
    foreground = masks.reshape(n, h * w)
    index = torch.arange(h * w, device=masks.device).expand(n, -1)
    is_first = foreground & (first == index)
    number = torch.cumsum(is_first.long(), dim=1)  # 1, 2, ... at first pixels, raster order
    counts = number[:, -1] if h * w else torch.zeros(n, dtype=torch.long, device=masks.device)
    zero = torch.zeros((n, 1), dtype=torch.long, device=masks.device)
    labels = torch.cat([number, zero], dim=1).gather(1, first).reshape(n, h, w)
    return labels, counts, rounds


CHECKED_AFTER = 8  # the labelling's rounds run before its one convergence test


def _first_pixel_labels(masks: torch.Tensor, connectivity: int) -> tuple[torch.Tensor, int]:
    """Each foreground pixel's label, the raster index of its component's first pixel,
    and H·W for the background: (labels (N, H·W), rounds run).

    Every pixel of a row's run of foreground pixels starts with the index of the run's
    first pixel (one running maximum along the rows), so horizontal chains cost no
    round. Then rounds of `_label_round`. The rounds run blind, with no host read, up
    to `CHECKED_AFTER`; then one scalar is copied to the host: whether the last round
    changed nothing. CAM masks converge within 7 rounds (tests/test_torch.py), so one
    read is all a call makes on them; a mask with longer paths inside its components
    doubles the blind rounds and reads again.

    Bound: every round leaves each pixel a label no larger than its neighbours' labels
    of the round before, so after r rounds a pixel holds at most the smallest index
    within r steps inside its component. The labels are final after D rounds, D the
    longest shortest path inside a component (at most H·W − 1), and a round after that
    changes nothing: a read after H·W rounds or more finds them converged, and one that
    does not is a bug, which raises RuntimeError instead of looping.
    """
    n, h, w = masks.shape
    foreground = masks.reshape(n, h * w)
    background = h * w  # larger than every pixel index, so min() never picks it
    index = torch.arange(h * w, device=masks.device).expand(n, -1)
    starts = masks & ~F.pad(masks, (1, 0))[..., :w]
    runs = torch.where(starts, index.view(n, h, w), -1).cummax(dim=2).values
    labels = torch.where(foreground, runs.reshape(n, h * w), background)
    rounds, blind = 0, CHECKED_AFTER
    while True:
        for _ in range(blind - rounds):
            previous, labels = labels, _label_round(labels, foreground, connectivity, h, w)
        rounds = blind
        if torch.equal(labels, previous):  # the host read
            return labels, rounds
        if rounds >= h * w:
            raise RuntimeError(f"connected_components did not converge in {rounds} rounds")
        blind *= 2


def _label_round(labels: torch.Tensor, foreground: torch.Tensor, connectivity: int,
                 h: int, w: int) -> torch.Tensor:
    """One round of the device labelling on labels (N, H·W): m(p) = the smallest label
    among p and its neighbours; hooking, L(L(p)) <- min(L(L(p)), m(p)); two pointer
    jumps, L(p) <- L(L(p)). All on the device."""
    n = labels.shape[0]
    background = h * w
    beyond = torch.full((n, 1), background, dtype=torch.long, device=labels.device)
    smallest = _neighbour_min(labels.view(n, h, w), connectivity, background)
    smallest = torch.where(foreground, smallest.reshape(n, h * w), background)
    table = torch.cat([labels, beyond], dim=1).scatter_reduce(1, labels, smallest, "amin")
    table[:, :-1] = torch.minimum(table[:, :-1], smallest)
    labels = table.gather(1, table[:, :-1])  # L(p) <- L(L(p))
    table[:, :-1] = labels
    return table.gather(1, labels)  # and once more: the chains shrink four times


def _pixel_coordinates(h: int, w: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Column x and row y of every pixel in raster order, each a long tensor (H·W,)."""
    xs = torch.arange(w, device=device).repeat(h)
    ys = torch.arange(h, device=device).repeat_interleave(w)
    return xs, ys


def component_boxes(labels: torch.Tensor, count: int | torch.Tensor) -> torch.Tensor:
    """Boxes (x0, y0, x1, y1) of components 1..count, half-open: the component lies in
    columns x0 <= x < x1 and rows y0 <= y < y1.

    Parameters
    ----------
    labels : long tensor (N, H, W) or (H, W), as returned by :func:`connected_components`
    count : int, or the ``counts`` tensor (N,) (then its maximum is used; one scalar is
        copied to the host)

    Returns
    -------
    long tensor (N, count, 4) (or (count, 4) for one label image); a component that an
    image does not have gets the box (0, 0, 0, 0).

    Example
    -------
    >>> component_boxes(torch.tensor([[1, 0, 2], [1, 0, 0]]), 2)
    tensor([[0, 0, 1, 2],
            [2, 0, 3, 1]])
    """
    if not isinstance(labels, torch.Tensor):
        raise TypeError(
            f"labels must be a torch.Tensor of shape (N, H, W), got {type(labels).__name__}"
        )
    if labels.ndim not in (2, 3):
        raise ValueError(
            f"labels must have shape (N, H, W) or (H, W), got shape {tuple(labels.shape)}"
        )
    if labels.is_floating_point() or labels.dtype == torch.bool:
        raise TypeError(f"labels must be an integer tensor, got dtype {labels.dtype}")
    if 0 in labels.shape[-2:]:
        raise ValueError(f"labels must have H, W >= 1 (an empty image has no components), "
                         f"got shape {tuple(labels.shape)}")
    if labels.numel() and bool((labels < 0).any()):
        raise ValueError("labels must be non-negative (0 = background), got a negative label")
    if isinstance(count, torch.Tensor):
        if count.is_floating_point() or count.is_complex() or count.dtype == torch.bool:
            raise TypeError(f"count must be an int or an integer tensor, got dtype {count.dtype}")
        count = int(count.max()) if count.numel() else 0
    if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 0:
        raise ValueError(f"count must be a non-negative int, got {count!r}")
    single = labels.ndim == 2
    if single:
        labels = labels[None]
    n, h, w = labels.shape
    device = labels.device
    flat = labels.reshape(n, h * w).long()
    # Labels above count (and the background, 0) go to bin 0, which is dropped.
    bins = torch.where((flat > 0) & (flat <= count), flat, 0)
    xs, ys = _pixel_coordinates(h, w, device)
    xs, ys = xs.expand(n, -1), ys.expand(n, -1)

    def reduce(values: torch.Tensor, how: str, start: int) -> torch.Tensor:
        init = torch.full((n, count + 1), start, dtype=torch.long, device=device)
        return init.scatter_reduce(1, bins, values, reduce=how, include_self=True)[:, 1:]

    x0, y0 = reduce(xs, "amin", w), reduce(ys, "amin", h)
    x1, y1 = reduce(xs, "amax", -1) + 1, reduce(ys, "amax", -1) + 1
    boxes = torch.stack([x0, y0, x1, y1], dim=-1)
    boxes = torch.where((x1 > 0)[..., None], boxes, 0)
    return boxes[0] if single else boxes


def bounding_box(
    cams: torch.Tensor, threshold: float = 0.2, connectivity: int = 8
) -> torch.Tensor:
    """The paper's box: keep {M >= threshold·max M}, box the largest connected component.

    If max M <= 0 the kept set is {M >= max M}. "Largest" counts pixels; on a tie the
    component with the lowest label (the first in raster order) wins.

    On a GPU the call waits for the device once: the labelling's one convergence test
    (`CHECKED_AFTER` rounds run first; masks whose components need more rounds, unlike
    CAM masks, cost one more wait per doubling of them). On the CPU the labels are
    ``scipy.ndimage.label``'s, the same numbers.

    Parameters
    ----------
    cams : tensor (N, H, W) or (H, W)
    threshold : float in [0, 1] (τ = 0 keeps M >= 0); the paper uses 0.2, Grad-CAM 0.15
    connectivity : 4 or 8

    Returns
    -------
    long tensor (N, 4) (or (4,)) of half-open boxes (x0, y0, x1, y1).

    Example
    -------
    >>> bounding_box(torch.tensor([[0.0, 1.0, 0.9], [0.0, 0.0, 0.0], [0.5, 0.0, 0.0]]))
    tensor([1, 0, 3, 1])
    """
    cams = validation.tensor(cams, "cams", "(N, H, W)", (2, 3))
    if 0 in cams.shape[-2:]:
        raise ValueError(f"cams must have H, W >= 1, got shape {tuple(cams.shape)}")
    threshold = validation.threshold(threshold)
    connectivity = validation.connectivity(connectivity)
    single = cams.ndim == 2
    if single:
        cams = cams[None]
    if cams.dtype in (torch.float16, torch.bfloat16):
        cams = cams.float()  # τ·max rounded to bfloat16 moves the level by up to 0.4%
    n, h, w = cams.shape
    peak = cams.amax(dim=(1, 2), keepdim=True)
    level = torch.where(peak > 0, peak * threshold, peak)
    masks = cams >= level
    if masks.device.type == "cpu":
        labels, _ = _label_scipy(masks, connectivity)
        labels, background = labels.reshape(n, h * w), 0
    else:  # labels are first pixels' indices; no renumbering, no count on the host
        labels, _ = _first_pixel_labels(masks, connectivity)
        background = h * w
    box = _largest_box(labels, background, h, w)
    return box[0] if single else box


def _largest_box(labels: torch.Tensor, background: int, h: int, w: int) -> torch.Tensor:
    """The box (N, 4) of each image's largest component, from labels (N, H·W) that
    increase with the components' first pixels in raster order (``background`` is not a
    component): the most pixels, ties to the lowest label, the first in raster order.
    The box is read off the rows and columns the component occupies."""
    n = labels.shape[0]
    bins = h * w + 1
    offsets = torch.arange(n, device=labels.device)[:, None] * bins
    sizes = torch.bincount((labels + offsets).reshape(-1), minlength=n * bins).view(n, bins)
    sizes[:, background] = 0
    largest = sizes.argmax(dim=1, keepdim=True)  # argmax: the first maximum wins
    member = (labels == largest).view(n, h, w)
    rows, columns = member.any(dim=2), member.any(dim=1)  # (N, H), (N, W)
    y0, x0 = rows.byte().argmax(dim=1), columns.byte().argmax(dim=1)  # the first True
    y1 = h - rows.flip(1).byte().argmax(dim=1)
    x1 = w - columns.flip(1).byte().argmax(dim=1)
    return torch.stack([x0, y0, x1, y1], dim=1)


def iou(boxes_a: torch.Tensor, boxes_b: torch.Tensor) -> torch.Tensor:
    """Intersection over union of half-open boxes (x0, y0, x1, y1), row by row.

    area = (x1 - x0)·(y1 - y0); IoU = |A ∩ B| / (|A| + |B| - |A ∩ B|), 0 when the union
    is empty. Areas are computed in float64 whatever the boxes' dtype (uint8, int16 or
    float16 areas overflow), so the IoU is exact up to its final rounding.

    Parameters
    ----------
    boxes_a, boxes_b : tensors (..., 4) of the same shape, on the same device; integer or
        floating, finite, x0 <= x1 and y0 <= y1

    Returns
    -------
    tensor (...,): the boxes' dtype for floating boxes, the default dtype for integer boxes.

    Example
    -------
    >>> iou(torch.tensor([0, 0, 2, 2]), torch.tensor([1, 0, 3, 2]))
    tensor(0.3333)
    >>> iou(torch.tensor([0, 0, 20, 20], dtype=torch.uint8), torch.tensor([0, 0, 20, 10]))
    tensor(0.5000)
    """
    boxes_a, boxes_b = validation.boxes(boxes_a, "boxes_a"), validation.boxes(boxes_b, "boxes_b")
    if boxes_a.shape != boxes_b.shape:
        raise ValueError(
            f"boxes_a and boxes_b must have the same shape, got {tuple(boxes_a.shape)} "
            f"and {tuple(boxes_b.shape)}"
        )
    validation.same_device(boxes_a, "boxes_a", boxes_b, "boxes_b")
    validation.box_values(boxes_a, "boxes_a")
    validation.box_values(boxes_b, "boxes_b")
    dtype = _common_dtype(boxes_a, boxes_b)
    out_dtype = dtype if dtype.is_floating_point else torch.get_default_dtype()
    exact = _exact_dtype(boxes_a.device)
    a, b = boxes_a.to(exact), boxes_b.to(exact)
    x0, y0 = torch.maximum(a[..., 0], b[..., 0]), torch.maximum(a[..., 1], b[..., 1])
    x1, y1 = torch.minimum(a[..., 2], b[..., 2]), torch.minimum(a[..., 3], b[..., 3])
    inter = (x1 - x0).clamp(min=0) * (y1 - y0).clamp(min=0)
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a + area_b - inter
    ratio = inter / torch.where(union > 0, union, 1)
    return torch.where(union > 0, ratio, 0).to(out_dtype)


# ---------------------------------------------------------------------------
# Helpers. The input checks are camlib.validation's; `_check_weight` has a twin in
# camlib.reference, which checks NumPy arrays without torch.
# ---------------------------------------------------------------------------

def _common_dtype(*tensors: torch.Tensor) -> torch.dtype:
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    return dtype


def _check_weight(features_k: int, weight: object, features: torch.Tensor,
                  check: bool = True) -> torch.Tensor:
    weight = validation.tensor(
        weight, "weight", "(C, K)", 2, like=(features, "features"), nonempty=(0, 1),
        check=check,
    )
    if weight.shape[1] != features_k:
        raise ValueError(
            f"weight must have K={features_k} columns (one per feature channel), "
            f"got weight of shape {tuple(weight.shape)}"
        )
    return weight


def _exact_dtype(device: torch.device) -> torch.dtype:
    """float64 where the device has it: box areas and their ratio are exact for any pixel
    coordinates, whatever dtype the boxes came in (uint8 or float16 areas overflow)."""
    return torch.float32 if device.type == "mps" else torch.float64
