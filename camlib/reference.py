"""Class Activation Mapping in pure NumPy: one function per equation of the paper.

Zhou et al., "Learning Deep Features for Discriminative Localization", CVPR 2016.
Notation, for one image:

    f_k(x, y)   activation of channel k of the last conv layer at (x, y); K×H×W
    F_k         = Σ_{x,y} f_k(x, y)               (paper)   or  (1/Z) Σ_{x,y} f_k(x, y), Z = H·W
    S_c         = Σ_k w_k^c F_k (+ b_c)           class score (logit)
    P_c         = exp(S_c) / Σ_c' exp(S_c')       class probability
    M_c(x, y)   = Σ_k w_k^c f_k(x, y)             class activation map
    S_c         = Σ_{x,y} M_c(x, y)               (sum pooling, no bias)
                = (1/Z) Σ_{x,y} M_c(x, y) + b_c   (mean pooling with a bias)

Every function takes a batch: features are (N, K, H, W), weights (C, K). This module is
the course's reference: readable first, fast enough second. It computes in float64
whatever it is given (float16, integers), and a batch of N = 0 gives empty results.
`camlib.torch` has the same functions on batched tensors on any device. The input
checks, which name the argument they reject, come after the equations.

Boxes are (x0, y0, x1, y1) half-open pixel boxes: the object covers columns x0 <= x < x1
and rows y0 <= y < y1, i.e. ``cam[y0:y1, x0:x1]``, and its area is (x1 - x0)·(y1 - y0).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np

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


# --- the equations ------------------------------------------------------------------------


def global_average_pool(features: np.ndarray, reduce: str = "mean") -> np.ndarray:
    """F_k = (1/Z) Σ_{x,y} f_k(x, y), or the paper's F_k = Σ_{x,y} f_k(x, y).

    Parameters
    ----------
    features : (N, K, H, W) array
        The last conv layer's activations f_k(x, y).
    reduce : "mean" or "sum"
        "mean" divides by Z = H·W, as real networks (torchvision, the released Caffe
        models) do; "sum" is the form the paper writes.

    Returns
    -------
    (N, K) array of pooled features F_k.

    Example
    -------
    >>> f = np.arange(8.0).reshape(1, 2, 2, 2)
    >>> global_average_pool(f, "sum")
    array([[ 6., 22.]])
    >>> global_average_pool(f)
    array([[1.5, 5.5]])
    """
    features = _check_features(features)
    if reduce == "mean":
        return features.mean(axis=(2, 3))
    if reduce == "sum":
        return features.sum(axis=(2, 3))
    raise ValueError(f'reduce must be "mean" or "sum", got {reduce!r}')


def global_max_pool(features: np.ndarray) -> np.ndarray:
    """F_k = max_{x,y} f_k(x, y): global max pooling (GMP), the paper's comparison.

    Only the strongest location of each channel reaches the score.

    >>> global_max_pool(np.arange(8.0).reshape(1, 2, 2, 2))
    array([[3., 7.]])
    """
    return _check_features(features).max(axis=(2, 3))


def class_scores(
    pooled: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None
) -> np.ndarray:
    """S_c = Σ_k w_k^c F_k + b_c: the logits of the linear layer after pooling.

    Parameters
    ----------
    pooled : (N, K) array of F_k.
    weight : (C, K) array; row c holds the weights w_k^c of class c.
    bias : (C,) array or None; the paper sets b_c = 0.

    Returns
    -------
    (N, C) array of class scores S_c.

    Example
    -------
    >>> weight, bias = np.array([[1.0, -1.0], [0.5, 0.5]]), np.array([0.0, 1.0])
    >>> class_scores(np.array([[1.0, 2.0]]), weight, bias)
    array([[-1. ,  2.5]])
    """
    pooled = _as_float_array(pooled, "pooled (N, K)", 2, nonempty=(1,))
    weight = _as_float_array(weight, "weight (C, K)", 2, nonempty=(0, 1))
    if weight.shape[1] != pooled.shape[1]:
        raise ValueError(
            f"weight has K={weight.shape[1]} columns but pooled has K={pooled.shape[1]}; "
            f"weight must be (C, {pooled.shape[1]})"
        )
    scores = pooled @ weight.T
    if bias is None:
        return scores
    bias = _as_float_array(bias, "bias (C,)", 1)
    if bias.shape[0] != weight.shape[0]:
        raise ValueError(f"bias must have C={weight.shape[0]} entries, got {bias.shape[0]}")
    return scores + bias


def softmax(scores: np.ndarray) -> np.ndarray:
    """P_c = exp(S_c) / Σ_c' exp(S_c'), computed stably over the last axis.

    Subtracting max_c S_c first changes nothing mathematically (it cancels between the
    numerator and the denominator) but keeps exp from overflowing for large scores.

    >>> softmax(np.array([[1000.0, 1000.0]]))
    array([[0.5, 0.5]])
    """
    scores = _as_float_array(scores, "scores (N, C)", 2, nonempty=(1,))
    shifted = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def class_activation_maps(
    features: np.ndarray, weight: np.ndarray, classes: int | Sequence[int] | None = None
) -> np.ndarray:
    """M_c(x, y) = Σ_k w_k^c f_k(x, y): the class activation map.

    Swapping the sums in S_c = Σ_k w_k^c Σ_{x,y} f_k(x, y) gives S_c = Σ_{x,y} M_c(x, y).
    No ReLU is applied: M_c is negative where the features argue against class c.

    Parameters
    ----------
    features : (N, K, H, W) array of f_k(x, y).
    weight : (C, K) array of w_k^c.
    classes : None, int, or sequence of N ints
        None gives the maps of every class, (N, C, H, W). An int gives that class for
        every sample; a sequence gives one class per sample; both return (N, H, W).

    Example
    -------
    >>> f = np.stack([np.eye(2), np.ones((2, 2))])[None]   # K=2 channels, 2×2
    >>> class_activation_maps(f, np.array([[2.0, -1.0]]), classes=0)
    array([[[ 1., -1.],
            [-1.,  1.]]])
    """
    features = _check_features(features)
    weight = _check_weight(weight, features.shape[1])
    if classes is None:
        return np.einsum("ck,nkhw->nchw", weight, features)
    indices = _check_classes(classes, features.shape[0], weight.shape[0])
    return np.einsum("nk,nkhw->nhw", weight[indices], features)


def _interpolation_taps(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neighbours and weights of bilinear resampling along one axis (align_corners=False).

    Output pixel i has its centre at (i + 0.5)·in/out - 0.5 in input coordinates
    (clamped at 0, as PyTorch does); it blends the two input pixels around that point.
    """
    scale = in_size / out_size
    source = np.maximum((np.arange(out_size) + 0.5) * scale - 0.5, 0.0)
    lower = np.minimum(np.floor(source).astype(np.int64), in_size - 1)
    upper = np.minimum(lower + 1, in_size - 1)
    return lower, upper, source - lower


def upsample(maps: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Bilinear resize of the last two axes, as torch ``F.interpolate(mode="bilinear")``.

    Uses the ``align_corners=False`` convention: pixels are squares and their centres are
    mapped, so a map is stretched over the whole image. Resampling is linear, so it
    commutes with the weighting: upsample(Σ_k w_k f_k) = Σ_k w_k upsample(f_k).

    Parameters
    ----------
    maps : array (..., H, W)
    size : int or (height, width), each > 0

    Returns
    -------
    array (..., height, width)

    Example
    -------
    >>> upsample(np.array([[0.0, 1.0]]), (1, 4))
    array([[0.  , 0.25, 0.75, 1.  ]])
    """
    maps = _check_maps(maps)
    height, width = validation.size(size)
    top, bottom, dy = _interpolation_taps(maps.shape[-2], height)
    left, right, dx = _interpolation_taps(maps.shape[-1], width)
    rows = maps[..., top, :] * (1 - dy)[:, None] + maps[..., bottom, :] * dy[:, None]
    return rows[..., left] * (1 - dx) + rows[..., right] * dx


def normalize(maps: np.ndarray, mode: str = "minmax") -> np.ndarray:
    """Rescale each map (the last two axes) for display or thresholding.

    mode="minmax": (M - min M) / (max M - min M), into [0, 1]; a constant map becomes
                   zeros rather than NaN (as Choe et al.'s normalize_scoremap does).
    mode="max":    M / max M, the form of the paper's "20% of the max value" rule; a map
                   with max M ≤ 0 becomes zeros (a constant positive map becomes ones).
    Neither mode commutes with upsampling in general: normalize after upsampling.

    >>> normalize(np.array([[1.0, 3.0]]))
    array([[0., 1.]])
    >>> normalize(np.array([[1.0, 4.0]]), "max")
    array([[0.25, 1.  ]])
    """
    maps = _check_maps(maps)
    high = maps.max(axis=(-2, -1), keepdims=True)
    if mode == "minmax":
        low = maps.min(axis=(-2, -1), keepdims=True)
        span = high - low
        return np.where(span > 0, (maps - low) / np.where(span > 0, span, 1), 0.0)
    if mode == "max":
        return np.where(high > 0, maps / np.where(high > 0, high, 1), 0.0)
    raise ValueError(f'mode must be "minmax" or "max", got {mode!r}')


# --- from a map to a box ------------------------------------------------------------------

_NEIGHBOURS = {
    4: [(-1, 0), (1, 0), (0, -1), (0, 1)],
    8: [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)],
}


def connected_components(mask: np.ndarray, connectivity: int = 8) -> tuple[np.ndarray, int]:
    """Label the connected regions of a boolean mask by breadth-first search.

    Components are numbered 1, 2, ... in the raster order of their first pixel (the
    numbering of ``scipy.ndimage.label``); background is 0. With ``connectivity=8``
    pixels touching at a corner belong together; with 4, only edge neighbours do.

    Returns
    -------
    labels : (H, W) int array
    count : number of components

    Example
    -------
    >>> labels, count = connected_components(np.array([[1, 0, 1], [0, 1, 0]], bool), 4)
    >>> labels, count
    (array([[1, 0, 2],
           [0, 3, 0]]), 3)
    """
    mask = np.asarray(mask)
    if mask.dtype != bool:
        raise TypeError(f"mask must be a boolean array, got dtype {mask.dtype}")
    if mask.ndim != 2:
        raise ValueError(f"mask must have 2 dimensions (H, W), got shape {mask.shape}")
    steps = _NEIGHBOURS[validation.connectivity(connectivity)]
    height, width = mask.shape
    labels = np.zeros(mask.shape, dtype=np.int64)
    count = 0
    for y, x in zip(*np.nonzero(mask), strict=True):  # np.nonzero walks in raster order
        if labels[y, x]:
            continue
        count += 1
        labels[y, x] = count
        queue = deque([(y, x)])
        while queue:
            cy, cx = queue.popleft()
            for dy, dx in steps:
                ny, nx = cy + dy, cx + dx
                if 0 <= ny < height and 0 <= nx < width and mask[ny, nx] and not labels[ny, nx]:
                    labels[ny, nx] = count
                    queue.append((ny, nx))
    return labels, count


def component_boxes(labels: np.ndarray, count: int) -> np.ndarray:
    """The half-open box (x0, y0, x1, y1) of each component 1..count, as a (count, 4) array.

    >>> component_boxes(np.array([[1, 0], [0, 2]]), 2)
    array([[0, 0, 1, 1],
           [1, 1, 2, 2]])
    """
    labels, count = _check_labels(labels, count)
    boxes = np.zeros((count, 4), dtype=np.int64)
    for index in range(count):
        rows, cols = np.nonzero(labels == index + 1)
        if rows.size == 0:
            raise ValueError(f"labels has no pixel with label {index + 1} but count={count}")
        boxes[index] = cols.min(), rows.min(), cols.max() + 1, rows.max() + 1
    return boxes


def bounding_box(
    cam: np.ndarray, threshold: float = 0.2, connectivity: int = 8
) -> tuple[int, int, int, int]:
    """The paper's box: keep {M ≥ threshold·max M}, box the largest connected component.

    Zhou et al.: "we first segment the regions of which the value is above 20% of the max
    value of the CAM. Then we take the bounding box that covers the largest connected
    component." Ties go to the component met first in raster order. A map with no
    positive value has no meaningful 20%; its mask is then the pixels equal to its max.
    Threshold the upsampled map, not the coarse one: thresholding does not commute with
    upsampling.

    Parameters
    ----------
    cam : (H, W) array
    threshold : fraction of the max in [0, 1] (τ = 0: M ≥ 0 if max M > 0)
    connectivity : 4 or 8

    Returns
    -------
    (x0, y0, x1, y1), half-open: the component covers cam[y0:y1, x0:x1].

    Example
    -------
    >>> cam = np.array([[0.0, 0.1, 0.0], [0.0, 1.0, 0.5], [0.9, 0.0, 0.0]])
    >>> bounding_box(cam, 0.2)
    (0, 1, 3, 3)
    >>> bounding_box(cam, 0.2, connectivity=4)
    (1, 1, 3, 2)
    """
    cam = _as_float_array(cam, "cam (H, W)", 2, nonempty=(0, 1))
    threshold = validation.threshold(threshold)
    peak = cam.max()
    mask = cam >= (threshold * peak if peak > 0 else peak)
    labels, count = connected_components(mask, connectivity)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    largest = int(np.argmax(sizes)) + 1  # argmax keeps the first of equal sizes
    x0, y0, x1, y1 = component_boxes(np.where(labels == largest, 1, 0), 1)[0]
    return int(x0), int(y0), int(x1), int(y1)


def iou(box_a: Sequence[float], box_b: Sequence[float]) -> float:
    """Intersection over union of two half-open boxes (x0, y0, x1, y1).

    IoU = |A ∩ B| / |A ∪ B|; a localization counts as correct when IoU ≥ 0.5.

    >>> iou((0, 0, 2, 2), (1, 0, 3, 2))
    0.3333333333333333
    """
    a = _as_float_array(box_a, "box_a (x0, y0, x1, y1)", 1)
    b = _as_float_array(box_b, "box_b (x0, y0, x1, y1)", 1)
    for name, box in (("box_a", a), ("box_b", b)):
        if box.shape != (4,):
            raise ValueError(f"{name} must have 4 numbers (x0, y0, x1, y1), got shape {box.shape}")
        if box[2] < box[0] or box[3] < box[1]:
            raise ValueError(f"{name} must have x0 <= x1 and y0 <= y1, got {tuple(box)}")
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    intersection = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - intersection
    return float(intersection / union) if union > 0 else 0.0


# --- input checks: every public function names the argument it rejects -----------------
# (the scalar checks shared with camlib.torch and the commands are in camlib.validation;
# the array checks below are NumPy's twins of its tensor checks, so that the reference
# computes with NumPy alone)


def _as_float_array(value, name: str, ndim: int, nonempty: tuple[int, ...] = ()) -> np.ndarray:
    """``value`` as a float64 array with ``ndim`` dimensions, finite, and no axis of
    ``nonempty`` of size 0 (negative axes count from the end), else raise."""
    if not isinstance(value, (np.ndarray, list, tuple, float, int, np.generic)) or isinstance(
        value, bool
    ):
        raise TypeError(f"{name} must be a NumPy array, got {type(value).__name__}")
    try:
        array = np.asarray(value)
    except ValueError:  # a ragged nested list
        raise ValueError(f"{name} must be a rectangular array, got a ragged list") from None
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    if np.iscomplexobj(array):
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    if array.ndim != ndim:
        raise ValueError(
            f"{name} must have {ndim} dimensions, got shape {array.shape} ({array.ndim} dimensions)"
        )
    empty = [axis for axis in nonempty if array.shape[axis] == 0]
    if empty:
        raise ValueError(f"{name} must not have a dimension of size 0, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or inf")
    return array.astype(np.float64)  # the reference computes in float64, whatever it is given


def _check_features(features) -> np.ndarray:
    return _as_float_array(features, "features (N, K, H, W)", 4, nonempty=(1, 2, 3))


def _check_weight(weight, channels: int) -> np.ndarray:
    weight = _as_float_array(weight, "weight (C, K)", 2, nonempty=(0, 1))
    if weight.shape[1] != channels:
        raise ValueError(
            f"weight has K={weight.shape[1]} columns but the features have K={channels} "
            f"channels; weight must be (C, {channels})"
        )
    return weight


def _check_classes(classes, batch: int, num_classes: int) -> np.ndarray:
    """One class index per sample, from an int or a sequence of N ints."""
    if isinstance(classes, (bool, np.bool_)):
        raise TypeError(f"classes must be an int or a sequence of ints, got {classes!r}")
    if isinstance(classes, (float, np.floating)):
        raise TypeError(f"classes must be an int or a sequence of ints, got float {classes!r}")
    if isinstance(classes, (int, np.integer)):
        indices = np.full(batch, int(classes))
    else:
        try:
            indices = np.asarray(classes)
        except ValueError:
            raise ValueError("classes must be a 1-D sequence of ints, got a ragged list") from None
        if indices.ndim == 0:  # a 0-d array or tensor: one int for every sample
            if not np.issubdtype(indices.dtype, np.integer):
                raise TypeError(f"classes must be integers, got dtype {indices.dtype}: "
                                f"{classes!r}")
            indices = np.full(batch, int(indices))
        if indices.ndim != 1:
            raise ValueError(f"classes must be an int or a 1-D sequence, got shape {indices.shape}")
        if indices.size and not np.issubdtype(indices.dtype, np.integer):
            raise TypeError(f"classes must be integers, got dtype {indices.dtype}: {classes!r}")
        if len(indices) != batch:
            raise ValueError(
                f"classes must give one class per sample: expected {batch}, got {len(indices)}"
            )
    bad = (indices < 0) | (indices >= num_classes)
    if np.any(bad):
        raise ValueError(
            f"classes must lie in [0, {num_classes - 1}] (C={num_classes}), got {indices[bad][0]}"
        )
    return indices.astype(np.int64)


def _check_maps(maps, name: str = "maps") -> np.ndarray:
    try:
        ndim = np.ndim(maps)
    except ValueError:  # a ragged nested list
        raise ValueError(f"{name} must be a rectangular array, got a ragged list") from None
    if ndim < 2:
        raise ValueError(f"{name} must have at least 2 dimensions (..., H, W), got {ndim}")
    return _as_float_array(maps, f"{name} (..., H, W)", ndim, nonempty=(-2, -1))


def _check_labels(labels, count) -> tuple[np.ndarray, int]:
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must have 2 dimensions (H, W), got shape {labels.shape}")
    if labels.dtype == bool or not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels must be an integer array, got dtype {labels.dtype}")
    if 0 in labels.shape:
        raise ValueError(f"labels must have H, W >= 1 (an empty image has no components), "
                         f"got shape {labels.shape}")
    if labels.size and labels.min() < 0:
        raise ValueError(f"labels must be >= 0 (0 is the background), got {labels.min()}")
    if isinstance(count, np.integer):
        count = int(count)
    count = validation.non_negative_int(count, "count")
    return labels, count
