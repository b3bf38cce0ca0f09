"""Weakly supervised localization: maps -> boxes -> the metrics of the CAM paper and of
Choe et al. (CVPR 2020, "Evaluating Weakly Supervised Object Localization Methods Right").

For image i with ground-truth class y_i, box B_i, predicted class ŷ_i and a map M_i:

    box(M, τ)       the paper's box: largest connected component of {M ≥ τ·max M}
    GT-known Loc    = mean_i [ IoU(box(M_i^{y_i}, τ), B_i) ≥ 0.5 ]
    Top-1 Loc       = mean_i [ ŷ_i = y_i  and  IoU(box(M_i^{ŷ_i}, τ), B_i) ≥ 0.5 ]
    BoxAcc(τ, δ)    = mean_i [ IoU(box(M̄_i^{y_i}, τ), B_i) ≥ δ ],  M̄ = min-max normalized M
    MaxBoxAcc       = max_τ BoxAcc(τ, 0.5)            (largest component)
    MaxBoxAccV2     = mean_{δ ∈ {0.3, 0.5, 0.7}} max_τ BoxAcc_all(τ, δ)

where BoxAcc_all keeps every component and scores each image by its best-IoU component.
τ runs over {0.01, ..., 0.99} and is chosen once for the whole dataset, never per image:
a per-image threshold would use the ground truth to draw the box.

Everything works on batched tensors on any device: boxes come from `camlib.torch`. A
whole evaluation (`evaluate_localization`) reads a `LabelledImages` set: any object with
uint8 ``images`` (N, 3, H, W), ``labels`` (N,) and ground-truth ``boxes`` (N, 4), such as
the course's cluttered digits (``camcourse.data.make_cluttered_digits``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch import nn

from camlib import sweep, validation
from camlib import torch as ct
from camlib.extract import CAMExtractor

__all__ = [
    "cam_maps",
    "saliency_maps",
    "box_maps",
    "full_image_box",
    "centred_box",
    "mean_box_size",
    "boxes_from_maps",
    "localization_accuracy",
    "box_accuracy_curve",
    "max_box_acc",
    "max_box_acc_v2",
    "predict",
    "LabelledImages",
    "LocalizationResult",
    "evaluate_localization",
    "THRESHOLDS",
    "PAPER_THRESHOLD",
    "IOU_THRESHOLD",
    "V2_IOU_THRESHOLDS",
    "PROTOCOLS",
]

THRESHOLDS = tuple(round(t / 100, 2) for t in range(1, 100))  # τ = 0.01, ..., 0.99
PAPER_THRESHOLD = 0.2  # the paper's τ: 20% of the map's max
IOU_THRESHOLD = 0.5  # δ of Top-1 Loc, GT-known Loc and MaxBoxAcc
V2_IOU_THRESHOLDS = (0.3, 0.5, 0.7)  # the δ MaxBoxAccV2 averages over
PROTOCOLS = sweep.PROTOCOLS


# --- maps ---------------------------------------------------------------------------------


def cam_maps(model: nn.Module, images: torch.Tensor, classes=None
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """CAMs upsampled to the image size, and the logits.

    Parameters
    ----------
    model : a GAP/GMP network (features -> pool -> flatten -> one linear layer)
    images : float tensor (N, 3, S, S), finite, on the model's device (converted to the
        model's dtype); large enough for the model's layers
    classes : None (the predicted class of each image), an int, or N ints

    Returns
    -------
    maps : (N, S, S) M_c(x, y) bilinearly upsampled, not normalized (thresholds are
        relative to each map's max)
    logits : (N, C)

    An empty batch (N = 0) gives empty maps and logits.

    Example
    -------
    >>> model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
    ...                       nn.Flatten(), nn.Linear(8, 10)).eval()
    >>> maps, logits = cam_maps(model, torch.rand(2, 3, 64, 64))
    >>> maps.shape, logits.shape
    (torch.Size([2, 64, 64]), torch.Size([2, 10]))
    """
    images = _check_images(model, images)
    with torch.no_grad(), CAMExtractor(model) as extractor:
        logits = _forward(model, images)
        chosen = logits.argmax(1) if classes is None else classes
        maps = extractor.maps(chosen)
    return ct.upsample(maps, tuple(images.shape[-2:])), logits


def saliency_maps(model: nn.Module, images: torch.Tensor, classes=None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient saliency (Simonyan et al., 2014), the paper's "backprop" baseline.

    M(x, y) = max over colour channels of |∂S_c / ∂I(x, y)|, the class score's
    sensitivity to each pixel. Samples do not interact in eval mode, so the gradient of
    Σ_i S_{c_i}(I_i) with respect to the batch gives every image's own gradient. The
    gradient is taken with ``torch.autograd.grad`` on the images only: the parameters'
    ``.grad`` are left as they were.

    Parameters and returns as :func:`cam_maps`: (maps (N, S, S), logits (N, C)).

    Example
    -------
    >>> model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
    ...                       nn.Flatten(), nn.Linear(8, 10)).eval()
    >>> maps, logits = saliency_maps(model, torch.rand(2, 3, 64, 64), classes=3)
    >>> maps.shape, bool((maps >= 0).all())
    (torch.Size([2, 64, 64]), True)
    """
    images = _check_images(model, images).detach().clone().requires_grad_(True)
    with torch.enable_grad():
        logits = _forward(model, images)
        n, c = logits.shape
        chosen = logits.argmax(1) if classes is None else validation.class_indices(
            classes, n, c, logits.device)
        if n == 0:
            return images.detach().new_zeros(0, *images.shape[-2:]), logits.detach()
        selected = logits.gather(1, chosen[:, None]).sum()
        (gradient,) = torch.autograd.grad(selected, images)
    return gradient.abs().amax(dim=1), logits.detach()


def box_maps(boxes: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Indicator maps (N, H, W) of boxes (N, 4): a fixed box as a "map", so baselines go
    through the same metrics (every threshold gives back the box itself).

    >>> box_maps(torch.tensor([[1, 0, 3, 1]]), (2, 4))
    tensor([[[0., 1., 1., 0.],
             [0., 0., 0., 0.]]])
    """
    boxes = validation.boxes(boxes, "boxes")
    if boxes.ndim != 2:
        raise ValueError(f"boxes must have shape (N, 4), got shape {tuple(boxes.shape)}")
    validation.box_values(boxes, "boxes")
    height, width = validation.size(size)
    xs = torch.arange(width, device=boxes.device)
    ys = torch.arange(height, device=boxes.device)
    inside_x = (xs >= boxes[:, 0, None]) & (xs < boxes[:, 2, None])
    inside_y = (ys >= boxes[:, 1, None]) & (ys < boxes[:, 3, None])
    return (inside_y[:, :, None] & inside_x[:, None, :]).float()


def full_image_box(n: int, size: int | tuple[int, int]) -> torch.Tensor:
    """The trivial baseline: every box is the whole image (0, 0, W, H), (n, 4).

    ``size``: the images' (height, width), or one int for square images.

    >>> full_image_box(1, 64)
    tensor([[ 0,  0, 64, 64]])
    >>> full_image_box(1, (48, 64))
    tensor([[ 0,  0, 64, 48]])
    """
    n = validation.non_negative_int(n, "n")
    height, width = validation.size(size)
    return torch.tensor([0, 0, width, height]).expand(n, 4).clone()


def centred_box(n: int, size: int | tuple[int, int], box_size: tuple[float, float]
                ) -> torch.Tensor:
    """A box of ``box_size`` (width, height), e.g. the mean training box, centred in images
    of ``size`` (height, width), or one int for square images: (n, 4). The box's sides
    are rounded and clipped to the image's.

    >>> centred_box(1, 64, (20, 30))
    tensor([[22, 17, 42, 47]])
    >>> centred_box(1, (48, 64), (20, 30))
    tensor([[22,  9, 42, 39]])
    """
    n = validation.non_negative_int(n, "n")
    height, width = validation.size(size)
    box_size = _check_box_size(box_size)
    box_width, box_height = (min(side, max(1, round(s)))
                             for side, s in zip((width, height), box_size, strict=True))
    x0, y0 = (width - box_width) // 2, (height - box_height) // 2
    return torch.tensor([x0, y0, x0 + box_width, y0 + box_height]).expand(n, 4).clone()


# --- boxes and accuracies ---------------------------------------------------------------


def boxes_from_maps(maps: torch.Tensor, threshold: float = PAPER_THRESHOLD) -> torch.Tensor:
    """The paper's box of each map (N, H, W) at ``threshold``·max: (N, 4) long, τ in
    [0, 1] (`camlib.validation.threshold`).

    This is `camlib.torch.bounding_box` (largest 8-connected component of
    {M ≥ threshold·max M}, ties to the first in raster order), on the maps' device.

    >>> boxes_from_maps(torch.tensor([[[0.0, 1.0, 0.9], [0.0, 0.0, 0.0]]]))
    tensor([[1, 0, 3, 1]])
    """
    maps = _check_maps(maps)
    return ct.bounding_box(maps, validation.threshold(threshold))


def localization_accuracy(pred_boxes: torch.Tensor, gt_boxes: torch.Tensor,
                          correct: torch.Tensor | None = None,
                          iou_threshold: float = IOU_THRESHOLD) -> float:
    """mean_i [ correct_i and IoU(pred_i, gt_i) ≥ iou_threshold ].

    With ``correct=None`` this is GT-known Loc (boxes from the true class's map); with
    ``correct = (predicted == labels)`` and boxes from the predicted class it is Top-1 Loc.

    Parameters
    ----------
    pred_boxes, gt_boxes : tensors (N, 4), N >= 1, half-open boxes, one row per image
    correct : bool tensor (N,) or None
    iou_threshold : δ in [0, 1]

    >>> localization_accuracy(torch.tensor([[0, 0, 2, 2], [0, 0, 2, 2]]),
    ...                       torch.tensor([[0, 0, 2, 2], [1, 0, 3, 2]]))
    0.5
    """
    iou_threshold = validation.fraction(iou_threshold, "iou_threshold", "[0, 1]")
    pred_boxes = validation.boxes(pred_boxes, "pred_boxes")
    gt_boxes = validation.boxes(gt_boxes, "gt_boxes")
    if pred_boxes.ndim != 2 or len(pred_boxes) == 0:
        raise ValueError(f"pred_boxes must have shape (N, 4) with N >= 1, got shape "
                         f"{tuple(pred_boxes.shape)}")
    n = len(pred_boxes)
    if gt_boxes.shape != (n, 4):
        raise ValueError(f"gt_boxes must have one box per predicted box, shape ({n}, 4), "
                         f"got shape {tuple(gt_boxes.shape)}")
    gt_boxes = gt_boxes.to(pred_boxes.device)
    validation.box_values(pred_boxes, "pred_boxes")
    validation.box_values(gt_boxes, "gt_boxes")
    hit = ct.iou(pred_boxes, gt_boxes) >= iou_threshold
    if correct is not None:
        if not isinstance(correct, torch.Tensor) or correct.dtype != torch.bool:
            kind = correct.dtype if isinstance(correct, torch.Tensor) else type(correct).__name__
            raise TypeError(f"correct must be a bool tensor (N,) or None, got {kind}")
        if correct.shape != (n,):
            raise ValueError(f"correct must have one entry per box, shape ({n},), got shape "
                             f"{tuple(correct.shape)}")
        hit = hit & correct.to(hit.device)
    return float(hit.sum()) / len(hit)  # the exact fraction, rounded once


def _check_maps(maps: object, finite: bool = True) -> torch.Tensor:
    """maps must be a real, finite tensor (N, H, W); NaN or inf is refused by name
    (``finite=False``: the caller checks finiteness itself)."""
    return validation.tensor(maps, "maps", "(N, H, W)", 3, nonempty=(1, 2), finite=finite)


def _check_gt(gt_boxes: object, n: int, size: tuple[int, int]) -> torch.Tensor:
    """Integer boxes (N, 4) inside maps of ``size`` (H, W): 0 <= x0 <= x1 <= W and
    0 <= y0 <= y1 <= H. A box outside is in other coordinates (the image's, for maps at
    the feature resolution) and would silently score 0."""
    if not isinstance(gt_boxes, torch.Tensor):
        raise TypeError(f"gt_boxes must be a torch.Tensor (N, 4), got {type(gt_boxes).__name__}")
    if gt_boxes.is_floating_point() or gt_boxes.is_complex() or gt_boxes.dtype == torch.bool:
        raise TypeError(f"gt_boxes must hold integer pixel coordinates, got dtype "
                        f"{gt_boxes.dtype}")
    if gt_boxes.shape != (n, 4):
        raise ValueError(f"gt_boxes must have shape (N, 4) with one row per map (N={n}), "
                         f"got shape {tuple(gt_boxes.shape)}")
    gt_boxes = gt_boxes.long().cpu()
    _check_inside(gt_boxes, "gt_boxes", size, "the maps")
    return gt_boxes


def _check_inside(boxes: torch.Tensor, name: str, size: tuple[int, int], what: str) -> None:
    """Integer boxes (N, 4) on the CPU with 0 <= x0 <= x1 <= W, 0 <= y0 <= y1 <= H."""
    h, w = size
    x0, y0, x1, y1 = boxes.unbind(-1)
    bad = (x0 < 0) | (y0 < 0) | (x1 < x0) | (y1 < y0) | (x1 > w) | (y1 > h)
    if bool(bad.any()):
        first = int(bad.nonzero()[0, 0])
        raise ValueError(f"{name} must be boxes (x0, y0, x1, y1) inside {what}, "
                         f"0 <= x0 <= x1 <= W={w} and 0 <= y0 <= y1 <= H={h}, got "
                         f"{boxes[first].tolist()} (box {first})")


SWEEP_MAPS = sweep.MAPS_AT_A_TIME  # maps a thread levels and sweeps at a time


def _level_values(maps: torch.Tensor, protocol: str) -> np.ndarray:
    """Maps (n, H, W) as the rows (n, H·W) `camlib.sweep.levels` reads: float64 maps
    as they are, the others as float32 (float16 and bfloat16 values are all exactly
    float32 ones, and `camlib.torch.normalize` computes in float32 for them too; the
    "choe2020" levels are computed in float64 from either)."""
    flat = maps.detach().reshape(maps.shape[0], -1)
    if flat.dtype != torch.float64:
        flat = flat.float()
    return flat.cpu().numpy()


def _level_inputs(maps: torch.Tensor, protocol: str
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`_level_values` with their `camlib.sweep.row_ranges`; refused when not finite."""
    array = _level_values(maps, protocol)
    low, high = sweep.row_ranges(array)
    with np.errstate(over="ignore", invalid="ignore"):
        finite = np.isfinite(low).all() and np.isfinite(high - low).all()
    if not finite:
        raise ValueError("maps must be finite, and max − min of each map a finite number "
                         "in its dtype, got a tensor containing NaN or inf or a range "
                         "beyond the dtype's largest value")
    return array, low, high


def _levels(maps: torch.Tensor, thresholds: Sequence[float], protocol: str) -> np.ndarray:
    """For maps (n, H, W) and ascending thresholds τ_0 ≤ ... ≤ τ_{T-1}, the number of
    thresholds each pixel passes (n, H, W): the pixel is in the mask of τ_j iff level > j.

    "camlib": the mask of τ is {M̄ ≥ τ·max M̄} (M̄ min-max normalized; {M̄ ≥ max M̄}
    when max M̄ ≤ 0), computed exactly as `camlib.torch.normalize` computes M̄.
    "choe2020": q = ⌊255·M̄⌋ as uint8 and the mask {q > ⌊τ·max q⌋}, in float64 (the
    released code's ``t2n`` makes every map float64 before it is normalized).
    """
    array, low, high = _level_inputs(maps, protocol)
    return sweep.levels(array, low, high, np.asarray(thresholds), protocol).reshape(maps.shape)


def _threshold_boxes(maps: torch.Tensor, gt: np.ndarray, ascending: list[float],
                     protocol: str, every: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """`camlib.sweep.threshold_boxes` of maps (n, H, W) at ascending thresholds, their
    ranges, levels and boxes made a few maps per thread at a time
    (`camlib.sweep.map_boxes`, which also refuses maps that are not finite)."""
    return sweep.map_boxes(_level_values(maps, protocol), tuple(maps.shape[1:]),
                           np.asarray(ascending), gt, protocol, every=every,
                           at_a_time=SWEEP_MAPS, name="maps")


def _ious(boxes: np.ndarray, gt: torch.Tensor, protocol: str) -> torch.Tensor:
    """IoU of boxes (n, T, 4) with each map's ground truth (n, 4): (n, T).

    "camlib": `camlib.torch.iou` on half-open boxes, as float32; "choe2020": pixels
    counted inclusively (+1), in float64. This is not `camlib.sweep`'s exact integer
    comparison of two IoUs: an IoU is compared with δ here, and it must round as each
    protocol's own evaluation rounds it (camlib's float32, Choe et al.'s float64).
    """
    boxes = torch.from_numpy(boxes)
    truth = gt[:, None, :].expand_as(boxes)
    if protocol == "camlib":
        return ct.iou(boxes, truth).float()
    b, g = boxes, truth
    x0, y0 = torch.maximum(b[..., 0], g[..., 0]), torch.maximum(b[..., 1], g[..., 1])
    x1, y1 = torch.minimum(b[..., 2], g[..., 2]), torch.minimum(b[..., 3], g[..., 3])
    inter = (x1 - x0 + 1).clamp(min=0) * (y1 - y0 + 1).clamp(min=0)

    def area(b: torch.Tensor) -> torch.Tensor:
        return (b[..., 2] - b[..., 0] + 1) * (b[..., 3] - b[..., 1] + 1)

    union = area(boxes) + area(truth) - inter
    return torch.where(union > 0, inter.double() / torch.where(union > 0, union, 1).double(), 0.0)


def box_accuracy_curve(maps: torch.Tensor, gt_boxes: torch.Tensor,
                       thresholds: Sequence[float] = THRESHOLDS,
                       iou_thresholds: Sequence[float] = V2_IOU_THRESHOLDS,
                       batch_size: int = 1000, *, protocol: str = "camlib"
                       ) -> dict[str, torch.Tensor]:
    """BoxAcc(τ, δ) for every threshold τ and IoU threshold δ, over the whole dataset.

    Maps are min-max normalized first (Choe et al.), so τ is a fraction of each map's range.
    Every map is read once for the whole grid (`camlib.sweep`): the cost hardly grows
    with the number of thresholds.

    Parameters
    ----------
    maps : tensor (N, H, W), finite, on any device
    gt_boxes : integer tensor (N, 4), one box per map
    thresholds : the grid of τ, each in [0, 1] (any order; `camlib.validation.thresholds`).
        The default is the course's 0.01, ..., 0.99. Choe et al.'s released code sweeps
        np.arange(0, 1, cam_curve_interval) (0.001 by default), which starts at τ = 0:
        in "choe2020" its mask {q > 0} is not the whole map and can be the best τ, so
        pass that grid to reproduce its numbers.
    iou_thresholds : the δ, each in [0, 1]
    batch_size : maps swept at a time (memory: about 64·T bytes per map)
    protocol : "camlib" (masks {M̄ ≥ τ·max M̄}, half-open boxes, components by pixel
        count: the numbers of `camlib.torch.bounding_box` at every τ) or "choe2020"
        (the conventions of Choe et al.'s released code: uint8 maps, {q > ⌊τ·max q⌋},
        OpenCV contours and their areas, boxes x + w clipped to W − 1, IoU counting
        pixels inclusively; see `camlib.sweep`)

    Returns
    -------
    {"largest": (T, D), "all": (T, D)}, float64: the fraction of images whose largest
    component's box ("largest") or best component's box ("all") has IoU ≥ δ at threshold
    τ, the count divided by N and rounded once (a float32 fraction such as 21/40 would
    be off in its eighth digit). An empty
    batch (N = 0) is refused: zero images have no accuracy.

    Example
    -------
    >>> maps = torch.zeros(1, 8, 8); maps[0, 2:6, 2:6] = 1
    >>> box_accuracy_curve(maps, torch.tensor([[2, 2, 6, 6]]), (0.5,), (0.5,))["largest"]
    tensor([[1.]], dtype=torch.float64)
    """
    return _curves(maps, gt_boxes, thresholds, iou_thresholds, batch_size, protocol,
                   ("largest", "all"))


def _curves(maps: torch.Tensor, gt_boxes: torch.Tensor, thresholds: Sequence[float],
            iou_thresholds: Sequence[float], batch_size: int, protocol: str,
            keys: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """`box_accuracy_curve` for the curves named in ``keys``: the best of all components
    ("all") costs more than the largest alone."""
    maps = _check_maps(maps, finite=False)  # checked with each chunk's range, one pass
    if len(maps) == 0:
        raise ValueError("maps must hold at least one map (N >= 1): an evaluation of zero "
                         "images has no accuracy, got shape " + str(tuple(maps.shape)))
    gt = _check_gt(gt_boxes, len(maps), tuple(maps.shape[-2:]))
    taus = validation.thresholds(thresholds, "thresholds")
    deltas = validation.fractions(iou_thresholds, "iou_thresholds", "[0, 1]")
    batch_size = validation.positive_int(batch_size, "batch_size")
    sweep.protocol_code(protocol)
    order = sorted(range(len(taus)), key=taus.__getitem__)
    ascending = [taus[k] for k in order]
    delta = torch.tensor(deltas, dtype=torch.float32 if protocol == "camlib" else torch.float64)
    counts = {key: torch.zeros(len(taus), len(deltas), dtype=torch.long) for key in keys}
    for start in range(0, len(maps), batch_size):
        chunk, truth = maps[start:start + batch_size], gt[start:start + batch_size]
        largest, best = _threshold_boxes(chunk, truth.numpy(), ascending, protocol,
                                         "all" in keys)
        for key, boxes in (("largest", largest), ("all", best)):
            if key in keys:
                hits = _ious(boxes, truth, protocol)[..., None] >= delta  # (n, T, D)
                counts[key][order] += hits.sum(0)
    return {key: value.double() / len(maps) for key, value in counts.items()}


def _max_box_acc_of(curve: torch.Tensor, thresholds: Sequence[float]) -> tuple[float, float]:
    """(max_τ BoxAcc(τ), the first τ reaching it) of a curve (T,)."""
    best = int(curve.argmax())
    return float(curve[best]), float(thresholds[best])


def _max_box_acc_v2_of(curve: torch.Tensor) -> float:
    """The mean over δ of max_τ BoxAcc_all(τ, δ), of a curve (T, D)."""
    return float(curve.max(dim=0).values.mean())


def max_box_acc(maps: torch.Tensor, gt_boxes: torch.Tensor,
                thresholds: Sequence[float] = THRESHOLDS, *, protocol: str = "camlib",
                batch_size: int = 1000) -> tuple[float, float]:
    """MaxBoxAcc = max_τ BoxAcc(τ, 0.5) with the largest component: (value, best τ).

    ``protocol``: see `box_accuracy_curve`. The best τ is the first of equal ones.

    >>> maps = torch.zeros(1, 8, 8); maps[0, 2:6, 2:6] = 1
    >>> max_box_acc(maps, torch.tensor([[2, 2, 6, 6]]), (0.5,))
    (1.0, 0.5)
    """
    curve = _curves(maps, gt_boxes, thresholds, (IOU_THRESHOLD,), batch_size, protocol,
                    ("largest",))["largest"][:, 0]
    return _max_box_acc_of(curve, thresholds)


def max_box_acc_v2(maps: torch.Tensor, gt_boxes: torch.Tensor,
                   thresholds: Sequence[float] = THRESHOLDS, *, protocol: str = "camlib",
                   batch_size: int = 1000) -> float:
    """MaxBoxAccV2 = mean over δ ∈ {0.3, 0.5, 0.7} of max_τ BoxAcc(τ, δ), all components
    (in "choe2020", every contour, holes' included).

    >>> maps = torch.zeros(1, 8, 8); maps[0, 2:6, 2:6] = 1
    >>> max_box_acc_v2(maps, torch.tensor([[2, 2, 6, 6]]), (0.5,))
    1.0
    """
    curve = _curves(maps, gt_boxes, thresholds, V2_IOU_THRESHOLDS, batch_size, protocol,
                    ("all",))["all"]
    return _max_box_acc_v2_of(curve)


# --- a whole evaluation -----------------------------------------------------------------


class LabelledImages(Protocol):
    """What a whole evaluation reads: N images with their classes and ground-truth boxes.

    images : (N, 3, H, W) uint8 NumPy array (converted to float in [0, 1] batch by batch)
    labels : (N,) integer NumPy array, the class of each image
    boxes : (N, 4) integer NumPy array, half-open (x0, y0, x1, y1)
    """

    images: np.ndarray
    labels: np.ndarray
    boxes: np.ndarray


def predict(model: nn.Module, data: LabelledImages, batch_size: int = 500,
            device: torch.device | str | None = None) -> torch.Tensor:
    """Predicted classes (N,) of a model on a set, on the CPU."""
    _check_model(model)
    _check_data(data)
    batch_size = validation.positive_int(batch_size, "batch_size")
    device = device or next(model.parameters()).device
    with torch.no_grad():
        return torch.cat([model(x).argmax(1).cpu()
                          for x, _ in _batches(data, batch_size, device)])


@dataclass
class LocalizationResult:
    """The columns of the course's Table 2 for one method (fractions in [0, 1])."""

    accuracy: float
    top1_loc: float
    gt_known_loc: float
    max_box_acc: float
    max_box_acc_threshold: float
    max_box_acc_v2: float


MapFunction = Callable[[nn.Module, torch.Tensor, object], tuple[torch.Tensor, torch.Tensor]]


def evaluate_localization(model: nn.Module, data: LabelledImages,
                          method: str | MapFunction = "cam",
                          threshold: float = PAPER_THRESHOLD,
                          thresholds: Sequence[float] | None = THRESHOLDS,
                          batch_size: int = 250,
                          box_size: tuple[float, float] | None = None,
                          device: torch.device | str | None = None) -> LocalizationResult:
    """Accuracy, Top-1 Loc, GT-known Loc at ``threshold``, MaxBoxAcc and MaxBoxAccV2.

    Parameters
    ----------
    model : the classifier (its predictions decide Top-1 Loc)
    data : a `LabelledImages` set (its ground-truth boxes are used only for the metrics)
    method : "cam", "saliency", "full" (whole-image box), "centred" (a centred box of the
        set's mean box size), or a function (model, images, classes) -> (maps, logits)
    threshold : τ of the fixed-threshold metrics (the paper's 20%)
    thresholds : the τ searched by MaxBoxAcc; None skips the search (reported as NaN)
    box_size : (width, height) of the "centred" baseline; default the set's mean box size
        (pass the training set's mean to keep the test boxes out of it)

    Example
    -------
    >>> from types import SimpleNamespace
    >>> model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
    ...                       nn.Flatten(), nn.Linear(8, 10)).eval()
    >>> data = SimpleNamespace(images=np.zeros((4, 3, 32, 32), np.uint8),
    ...                        labels=np.arange(4), boxes=np.tile([0, 0, 32, 24], (4, 1)))
    >>> result = evaluate_localization(model, data, "full")   # the whole image as the box
    >>> result.gt_known_loc, result.max_box_acc_v2            # IoU 0.75 with each box
    (1.0, 1.0)
    """
    _check_model(model)
    _check_data(data)
    threshold = validation.threshold(threshold)
    if thresholds is not None:
        thresholds = validation.thresholds(thresholds)
    if len(data.labels) == 0:
        raise ValueError("data must hold at least one image: an evaluation of zero images "
                         "has no accuracy")
    batch_size = validation.positive_int(batch_size, "batch_size")
    if box_size is not None:
        box_size = _check_box_size(box_size)
    device = torch.device(device) if device else next(model.parameters()).device
    model = model.eval()
    size = tuple(data.images.shape[-2:])  # (H, W): the images need not be square
    fixed = {"full": lambda n: full_image_box(n, size),
             "centred": lambda n: centred_box(n, size, box_size or mean_box_size(data))}
    if isinstance(method, str):
        functions = {"cam": cam_maps, "saliency": saliency_maps}
        if method not in functions and method not in fixed:
            raise ValueError(f'method must be "cam", "saliency", "full", "centred" or a '
                             f"function, got {method!r}")
    predictions, top1_boxes, known_boxes, known_maps = [], [], [], []
    for images, labels in _batches(data, batch_size, device):
        if isinstance(method, str) and method in fixed:
            with torch.no_grad():
                logits = model(images)
            _check_labels(labels, logits)
            predicted = logits.argmax(1)
            boxes = fixed[method](len(images)).to(device)
            boxes_top1 = boxes_known = boxes
        else:
            function = functions[method] if isinstance(method, str) else method
            maps_top1, logits = function(model, images, None)
            _check_labels(labels, logits)
            predicted = logits.argmax(1)
            maps_known, _ = function(model, images, labels)
            boxes_top1 = boxes_from_maps(maps_top1, threshold)
            boxes_known = boxes_from_maps(maps_known, threshold)
        predictions.append(predicted.cpu())
        top1_boxes.append(boxes_top1.cpu())
        known_boxes.append(boxes_known.cpu())
        if thresholds and not (isinstance(method, str) and method in fixed):
            known_maps.append(maps_known.detach().cpu())
    predicted = torch.cat(predictions)
    labels = torch.from_numpy(data.labels)
    gt = torch.from_numpy(data.boxes)
    correct = predicted == labels
    if thresholds and isinstance(method, str) and method in fixed:
        # A fixed box ignores the threshold: every τ gives the same box.
        ious = ct.iou(torch.cat(known_boxes), gt)
        mba, mba_tau = float((ious >= IOU_THRESHOLD).sum()) / len(ious), float("nan")
        mba2 = _max_box_acc_v2_of((ious[:, None] >= torch.tensor(V2_IOU_THRESHOLDS)).double()
                                  .mean(0, keepdim=True))
    elif thresholds:
        # One sweep gives both curves; δ = 0.5 is looked up, not assumed second.
        deltas = tuple(dict.fromkeys((*V2_IOU_THRESHOLDS, IOU_THRESHOLD)))
        curves = box_accuracy_curve(torch.cat(known_maps), gt, thresholds, deltas)
        mba, mba_tau = _max_box_acc_of(curves["largest"][:, deltas.index(IOU_THRESHOLD)],
                                       thresholds)
        mba2 = _max_box_acc_v2_of(curves["all"][:, [deltas.index(d)
                                                    for d in V2_IOU_THRESHOLDS]])
    else:
        mba = mba_tau = mba2 = float("nan")
    return LocalizationResult(
        accuracy=float(correct.sum()) / len(correct),
        top1_loc=localization_accuracy(torch.cat(top1_boxes), gt, correct),
        gt_known_loc=localization_accuracy(torch.cat(known_boxes), gt),
        max_box_acc=mba, max_box_acc_threshold=mba_tau, max_box_acc_v2=mba2,
    )


def mean_box_size(data: LabelledImages) -> tuple[float, float]:
    """Mean (width, height) of a set's ground-truth boxes."""
    boxes = _check_data(data).boxes.astype(np.float64)
    return float((boxes[:, 2] - boxes[:, 0]).mean()), float((boxes[:, 3] - boxes[:, 1]).mean())


# --- input checks of the functions above ------------------------------------------------


def _check_model(model: object) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return model


def _check_data(data: object) -> LabelledImages:
    """A `LabelledImages` set: uint8 images (N, 3, H, W), labels (N,), boxes (N, 4)."""
    arrays = [getattr(data, name, None) for name in ("images", "labels", "boxes")]
    if not all(isinstance(a, np.ndarray) for a in arrays):
        raise TypeError(f"data must be a labelled set with NumPy arrays images (N, 3, H, W) "
                        f"uint8, labels (N,) and boxes (N, 4), such as camcourse.data."
                        f"make_cluttered_digits gives, got {type(data).__name__}")
    images, labels, boxes = arrays
    n = len(labels)
    if images.dtype != np.uint8 or images.ndim != 4 or labels.ndim != 1 \
            or boxes.shape != (n, 4) or len(images) != n:
        raise ValueError(f"data must hold images (N, 3, H, W) uint8, labels (N,) and boxes "
                         f"(N, 4) for the same N, got images {images.shape} {images.dtype}, "
                         f"labels {labels.shape}, boxes {boxes.shape}")
    for name, array in (("labels", labels), ("boxes", boxes)):
        if array.size and array.dtype.kind not in "iu":
            raise TypeError(f"data.{name} must hold integers, got dtype {array.dtype}")
    _check_inside(torch.from_numpy(boxes.astype(np.int64)), "data.boxes", images.shape[-2:],
                  "the images")
    return data


def _check_labels(labels: torch.Tensor, logits: torch.Tensor) -> None:
    """A set's labels must be classes of the model, 0..C − 1 for logits (B, C): a label
    the model cannot predict would count as a miss, silently."""
    c = logits.shape[-1]
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= c):
        bad = labels[(labels < 0) | (labels >= c)][0]
        raise ValueError(f"data.labels must be classes of the model, 0 <= label < C={c}, "
                         f"got {int(bad)}")


def _batches(data: LabelledImages, batch_size: int, device: torch.device | str
             ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(images float (B, 3, H, W) in [0, 1], labels (B,)) on ``device``, in order.

    The copy to the device happens in uint8 (4× less traffic), the conversion after.
    """
    for start in range(0, len(data.labels), batch_size):
        images = torch.from_numpy(data.images[start:start + batch_size]).to(device)
        labels = torch.from_numpy(data.labels[start:start + batch_size]).to(device)
        yield images.float().div_(255.0), labels


def _check_images(model: object, images: object) -> torch.Tensor:
    """A float batch (N, C, H, W) for ``model``: finite, on its device, C as its first
    convolution expects."""
    _check_model(model)
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a float torch.Tensor (N, 3, H, W), got "
                        f"{type(images).__name__}")
    if not images.is_floating_point():
        raise TypeError(f"images must be a float tensor (N, 3, H, W) in [0, 1], got dtype "
                        f"{images.dtype} (uint8 images: images.float() / 255)")
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, 3, H, W), got shape "
                         f"{tuple(images.shape)}")
    if images.shape[-1] == 0 or images.shape[-2] == 0:
        raise ValueError(f"images must not be empty (H, W >= 1), got shape "
                         f"{tuple(images.shape)}")
    first = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if first is not None and images.shape[1] != first.in_channels:
        raise ValueError(f"images must have {first.in_channels} channels, as the model's first "
                         f"convolution expects, got shape {tuple(images.shape)}")
    parameter = next(model.parameters(), None)
    if parameter is not None and parameter.device != images.device:
        raise ValueError(f"images must be on the model's device ({parameter.device}), got "
                         f"{images.device}")
    validation.all_finite(images, "images")
    if parameter is not None and parameter.is_floating_point() and images.dtype != parameter.dtype:
        images = images.to(parameter.dtype)  # float64 images for a float32 model: convert
    return images


def _forward(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The model's logits; an image too small for its layers is refused by name."""
    try:
        return model(images)
    except RuntimeError as error:
        if "size" not in str(error).lower():
            raise
        raise ValueError(f"images of {images.shape[-2]}×{images.shape[-1]} pixels are too "
                         f"small for this model (its layers need a larger input), got shape "
                         f"{tuple(images.shape)}") from error


def _check_box_size(box_size: object) -> tuple[float, float]:
    if not isinstance(box_size, (tuple, list)) or len(box_size) != 2:
        raise TypeError(f"box_size must be a pair (width, height), got {box_size!r}")
    return tuple(validation.real(v.item() if hasattr(v, "item") else v, "box_size", low=0,
                                 low_open=True) for v in box_size)
