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

Everything works on batched tensors on any device: boxes come from `camlib.torch`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from camlib import torch as ct
from camlib import validation
from camlib.data import ClutteredDigits, batches
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
    "LocalizationResult",
    "evaluate_localization",
    "THRESHOLDS",
]

THRESHOLDS = tuple(round(t / 100, 2) for t in range(1, 100))  # τ = 0.01, ..., 0.99


# --- maps ---------------------------------------------------------------------------------


def cam_maps(model: nn.Module, images: torch.Tensor, classes=None
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """CAMs upsampled to the image size, and the logits.

    Parameters
    ----------
    model : a GAP/GMP network (features -> pool -> flatten -> one linear layer)
    images : float tensor (N, 3, S, S), finite, on the model's device
    classes : None (the predicted class of each image), an int, or N ints

    Returns
    -------
    maps : (N, S, S) M_c(x, y) bilinearly upsampled, not normalized (thresholds are
        relative to each map's max)
    logits : (N, C)

    An empty batch (N = 0) gives empty maps and logits.

    Example
    -------
    >>> from camlib.models import GAPNet
    >>> maps, logits = cam_maps(GAPNet().eval(), torch.rand(2, 3, 64, 64))
    >>> maps.shape, logits.shape
    (torch.Size([2, 64, 64]), torch.Size([2, 10]))
    """
    images = _check_images(model, images)
    with torch.no_grad(), CAMExtractor(model) as extractor:
        logits = model(images)
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
    >>> from camlib.models import GAPNet
    >>> maps, logits = saliency_maps(GAPNet().eval(), torch.rand(2, 3, 64, 64), classes=3)
    >>> maps.shape, bool((maps >= 0).all())
    (torch.Size([2, 64, 64]), True)
    """
    images = _check_images(model, images).detach().clone().requires_grad_(True)
    with torch.enable_grad():
        logits = model(images)
        n, c = logits.shape
        chosen = logits.argmax(1) if classes is None else ct._class_indices(
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
    boxes = ct._check_boxes(boxes, "boxes")
    if boxes.ndim != 2:
        raise ValueError(f"boxes must have shape (N, 4), got shape {tuple(boxes.shape)}")
    ct._check_box_values(boxes, "boxes")
    height, width = ct._check_size(size)
    xs = torch.arange(width, device=boxes.device)
    ys = torch.arange(height, device=boxes.device)
    inside_x = (xs >= boxes[:, 0, None]) & (xs < boxes[:, 2, None])
    inside_y = (ys >= boxes[:, 1, None]) & (ys < boxes[:, 3, None])
    return (inside_y[:, :, None] & inside_x[:, None, :]).float()


def full_image_box(n: int, size: int) -> torch.Tensor:
    """The trivial baseline: every box is the whole image, (n, 4).

    >>> full_image_box(1, 64)
    tensor([[ 0,  0, 64, 64]])
    """
    n = validation.non_negative_int(n, "n")
    size = validation.positive_int(size, "size")
    return torch.tensor([0, 0, size, size]).expand(n, 4).clone()


def centred_box(n: int, size: int, box_size: tuple[float, float]) -> torch.Tensor:
    """A box of ``box_size`` (width, height), e.g. the mean training box, centred, (n, 4).

    >>> centred_box(1, 64, (20, 30))
    tensor([[22, 17, 42, 47]])
    """
    n = validation.non_negative_int(n, "n")
    size = validation.positive_int(size, "size")
    box_size = _check_box_size(box_size)
    width, height = (min(size, max(1, round(s))) for s in box_size)
    x0, y0 = (size - width) // 2, (size - height) // 2
    return torch.tensor([x0, y0, x0 + width, y0 + height]).expand(n, 4).clone()


# --- boxes and accuracies ---------------------------------------------------------------


def boxes_from_maps(maps: torch.Tensor, threshold: float = 0.2) -> torch.Tensor:
    """The paper's box of each map (N, H, W) at ``threshold``·max: (N, 4) long.

    Same result as `camlib.torch.bounding_box` (largest 8-connected component, ties to
    the first in raster order); on the CPU the components come from scipy, faster.
    """
    if maps.device.type != "cpu":
        return ct.bounding_box(maps, threshold)
    boxes, _, largest, _ = _components(maps, threshold)
    return boxes[largest]


def localization_accuracy(pred_boxes: torch.Tensor, gt_boxes: torch.Tensor,
                          correct: torch.Tensor | None = None, iou_threshold: float = 0.5
                          ) -> float:
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
    pred_boxes = ct._check_boxes(pred_boxes, "pred_boxes")
    gt_boxes = ct._check_boxes(gt_boxes, "gt_boxes")
    if pred_boxes.ndim != 2 or len(pred_boxes) == 0:
        raise ValueError(f"pred_boxes must have shape (N, 4) with N >= 1, got shape "
                         f"{tuple(pred_boxes.shape)}")
    n = len(pred_boxes)
    if gt_boxes.shape != (n, 4):
        raise ValueError(f"gt_boxes must have one box per predicted box, shape ({n}, 4), "
                         f"got shape {tuple(gt_boxes.shape)}")
    gt_boxes = gt_boxes.to(pred_boxes.device)
    ct._check_box_values(pred_boxes, "pred_boxes")
    ct._check_box_values(gt_boxes, "gt_boxes")
    hit = ct.iou(pred_boxes, gt_boxes) >= iou_threshold
    if correct is not None:
        if not isinstance(correct, torch.Tensor) or correct.dtype != torch.bool:
            kind = correct.dtype if isinstance(correct, torch.Tensor) else type(correct).__name__
            raise TypeError(f"correct must be a bool tensor (N,) or None, got {kind}")
        if correct.shape != (n,):
            raise ValueError(f"correct must have one entry per box, shape ({n},), got shape "
                             f"{tuple(correct.shape)}")
        hit = hit & correct.to(hit.device)
    return float(hit.float().mean())


def _label(masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """8-connected components of masks (N, H, W): (labels (N, H, W), counts (N,)).

    Labels are per image, 1..count_i, numbered in raster order (as scipy.ndimage.label).
    """
    labels, total = _label_batch(masks)
    n = len(masks)
    flat = labels.reshape(n, -1)
    counts = torch.zeros(n, dtype=torch.long, device=masks.device)
    if total:
        first = torch.cummax(flat.amax(1), 0).values  # last global label of images 0..i
        offsets = torch.cat([first.new_zeros(1), first[:-1]])
        counts = first - offsets
        labels = torch.where(labels > 0, labels - offsets[:, None, None], 0)
    return labels, counts


def _label_batch(masks: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Label every 8-connected component of a batch of masks (N, H, W) with one number
    1..total across the whole batch, image after image, raster order within an image.

    On the CPU scipy's single-pass labeling of the whole stack is much faster than the
    iterative device algorithm of `camlib.torch`, and numbers components identically.
    """
    if masks.device.type == "cpu":
        try:
            from scipy import ndimage
        except ImportError:  # scipy comes with scikit-image; stay correct without it
            ndimage = None
        if ndimage is not None:
            structure = np.zeros((3, 3, 3), dtype=bool)
            structure[1] = True  # 8-connected within an image, never across images
            labels, total = ndimage.label(masks.numpy(), structure=structure)
            return torch.from_numpy(labels.astype(np.int64, copy=False)), int(total)
    labels, counts = ct.connected_components(masks, 8)
    offsets = torch.cumsum(counts, 0) - counts
    labels = torch.where(labels > 0, labels + offsets[:, None, None], 0)
    return labels, int(counts.sum())


def _components(maps: torch.Tensor, threshold: float):
    """Every component of {M ≥ threshold·max M} (or {M ≥ max M} when max M ≤ 0) of a batch
    of maps (N, H, W), numbered 0..total-1 image after image.

    Returns (boxes (total, 4) half-open, image of each component (total,), index of each
    image's largest component (N,) (ties: the first in raster order), total).
    """
    n, h, w = maps.shape
    device = maps.device
    peak = maps.amax(dim=(1, 2), keepdim=True)
    masks = maps >= torch.where(peak > 0, peak * threshold, peak)
    labels, total = _label_batch(masks)
    flat = labels.reshape(-1)
    pixel = torch.nonzero(flat).squeeze(1)  # foreground pixels of the whole batch
    component = flat[pixel] - 1  # 0..total-1
    image, position = pixel // (h * w), pixel % (h * w)
    xs, ys = position % w, position // w

    def reduce(values: torch.Tensor, how: str, start: int) -> torch.Tensor:
        out = torch.full((total,), start, dtype=values.dtype, device=device)
        return out.scatter_reduce(0, component, values, how)

    image_of_component = reduce(image, "amax", 0)
    boxes = torch.stack([reduce(xs, "amin", w), reduce(ys, "amin", h),
                         reduce(xs, "amax", -1) + 1, reduce(ys, "amax", -1) + 1], dim=1)
    sizes = torch.bincount(component, minlength=total)
    biggest = torch.zeros(n, dtype=sizes.dtype, device=device).scatter_reduce(
        0, image_of_component, sizes, "amax")
    ids = torch.arange(total, device=device)
    candidates = torch.where(sizes == biggest[image_of_component], ids, total)
    largest = torch.full((n,), total, dtype=ids.dtype, device=device).scatter_reduce(
        0, image_of_component, candidates, "amin")
    return boxes, image_of_component, largest, total


def _component_ious(maps: torch.Tensor, gt_boxes: torch.Tensor, threshold: float
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """For each image, the IoU with the ground truth of (a) its largest component's box and
    (b) its best component's box, at ``threshold``·max of each map. Two tensors (N,)."""
    boxes, image_of_component, largest, _ = _components(maps, threshold)
    ious = ct.iou(boxes, gt_boxes.to(maps.device)[image_of_component]).float()
    best = torch.zeros(len(maps), device=maps.device).scatter_reduce(
        0, image_of_component, ious, "amax")
    return ious[largest], best


def box_accuracy_curve(maps: torch.Tensor, gt_boxes: torch.Tensor,
                       thresholds: Sequence[float] = THRESHOLDS,
                       iou_thresholds: Sequence[float] = (0.3, 0.5, 0.7),
                       batch_size: int = 1000) -> dict[str, torch.Tensor]:
    """BoxAcc(τ, δ) for every threshold τ and IoU threshold δ, over the whole dataset.

    Maps are min-max normalized first (Choe et al.), so τ is a fraction of each map's range.

    Returns
    -------
    {"largest": (T, D), "all": (T, D)}: the fraction of images whose largest component's
    box ("largest") or best component's box ("all") has IoU ≥ δ at threshold τ.
    """
    normalized = ct.normalize(maps, "minmax")
    deltas = torch.tensor(list(iou_thresholds))
    curves = {"largest": torch.zeros(len(thresholds), len(deltas)),
              "all": torch.zeros(len(thresholds), len(deltas))}
    for start in range(0, len(maps), batch_size):
        chunk = normalized[start:start + batch_size]
        gt = gt_boxes[start:start + batch_size]
        for t, tau in enumerate(thresholds):
            largest, best = _component_ious(chunk, gt, float(tau))
            curves["largest"][t] += (largest.cpu()[:, None] >= deltas).sum(0)
            curves["all"][t] += (best.cpu()[:, None] >= deltas).sum(0)
    return {key: value / len(maps) for key, value in curves.items()}


def max_box_acc(maps: torch.Tensor, gt_boxes: torch.Tensor,
                thresholds: Sequence[float] = THRESHOLDS) -> tuple[float, float]:
    """MaxBoxAcc = max_τ BoxAcc(τ, 0.5) with the largest component: (value, best τ)."""
    curve = box_accuracy_curve(maps, gt_boxes, thresholds, (0.5,))["largest"][:, 0]
    best = int(curve.argmax())
    return float(curve[best]), float(thresholds[best])


def max_box_acc_v2(maps: torch.Tensor, gt_boxes: torch.Tensor,
                   thresholds: Sequence[float] = THRESHOLDS) -> float:
    """MaxBoxAccV2 = mean over δ ∈ {0.3, 0.5, 0.7} of max_τ BoxAcc(τ, δ), all components."""
    curve = box_accuracy_curve(maps, gt_boxes, thresholds, (0.3, 0.5, 0.7))["all"]
    return float(curve.max(dim=0).values.mean())


# --- a whole evaluation -----------------------------------------------------------------


def predict(model: nn.Module, data: ClutteredDigits, batch_size: int = 500,
            device: torch.device | str | None = None) -> torch.Tensor:
    """Predicted classes (N,) of a model on a set, on the CPU."""
    _check_model(model)
    _check_data(data)
    batch_size = validation.positive_int(batch_size, "batch_size")
    device = device or next(model.parameters()).device
    with torch.no_grad():
        return torch.cat([model(x).argmax(1).cpu()
                          for x, _, _ in batches(data, batch_size, device=device)])


@dataclass
class LocalizationResult:
    """The columns of the course's Table 2 for one method (fractions in [0, 1])."""

    accuracy: float
    top1_loc: float
    gt_known_loc: float
    max_box_acc: float
    max_box_acc_threshold: float
    max_box_acc_v2: float

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in self.__dict__.items()}


MapFunction = Callable[[nn.Module, torch.Tensor, object], tuple[torch.Tensor, torch.Tensor]]


def evaluate_localization(model: nn.Module, data: ClutteredDigits,
                          method: str | MapFunction = "cam", threshold: float = 0.2,
                          thresholds: Sequence[float] | None = THRESHOLDS,
                          batch_size: int = 250,
                          box_size: tuple[float, float] | None = None,
                          device: torch.device | str | None = None) -> LocalizationResult:
    """Accuracy, Top-1 Loc, GT-known Loc at ``threshold``, MaxBoxAcc and MaxBoxAccV2.

    Parameters
    ----------
    model : the classifier (its predictions decide Top-1 Loc)
    data : a `ClutteredDigits` set (the ground-truth boxes are used only here)
    method : "cam", "saliency", "full" (whole-image box), "centred" (a centred box of the
        set's mean box size), or a function (model, images, classes) -> (maps, logits)
    threshold : τ of the fixed-threshold metrics (the paper's 20%)
    thresholds : the τ searched by MaxBoxAcc; None skips the search (reported as NaN)
    box_size : (width, height) of the "centred" baseline; default the set's mean box size
        (pass the training set's mean to keep the test boxes out of it)

    Example
    -------
    >>> from camlib.data import make_cluttered_digits
    >>> from camlib.models import load_checkpoint
    >>> result = evaluate_localization(load_checkpoint("gap"),
    ...                                make_cluttered_digits(200, "test"))   # doctest: +SKIP
    """
    _check_model(model)
    _check_data(data)
    threshold = validation.fraction(threshold, "threshold")
    if thresholds is not None:
        thresholds = validation.fractions(thresholds, "thresholds", "(0, 1)")
    batch_size = validation.positive_int(batch_size, "batch_size")
    if box_size is not None:
        box_size = _check_box_size(box_size)
    device = torch.device(device) if device else next(model.parameters()).device
    model = model.eval()
    size = data.images.shape[-1]
    fixed = {"full": lambda n: full_image_box(n, size),
             "centred": lambda n: centred_box(n, size, box_size or mean_box_size(data))}
    if isinstance(method, str):
        functions = {"cam": cam_maps, "saliency": saliency_maps}
        if method not in functions and method not in fixed:
            raise ValueError(f'method must be "cam", "saliency", "full", "centred" or a '
                             f"function, got {method!r}")
    predictions, top1_boxes, known_boxes, known_maps = [], [], [], []
    for images, labels, _ in batches(data, batch_size, device=device):
        if isinstance(method, str) and method in fixed:
            with torch.no_grad():
                predicted = model(images).argmax(1)
            boxes = fixed[method](len(images)).to(device)
            boxes_top1 = boxes_known = boxes
        else:
            function = functions[method] if isinstance(method, str) else method
            maps_top1, logits = function(model, images, None)
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
        mba, mba_tau = float((ious >= 0.5).float().mean()), float("nan")
        mba2 = float(torch.stack([(ious >= d).float().mean() for d in (0.3, 0.5, 0.7)]).mean())
    elif thresholds:
        maps = torch.cat(known_maps)
        curves = box_accuracy_curve(maps, gt, thresholds, (0.3, 0.5, 0.7))
        v1 = curves["largest"][:, 1]
        best = int(v1.argmax())
        mba, mba_tau = float(v1[best]), float(thresholds[best])
        mba2 = float(curves["all"].max(dim=0).values.mean())
    else:
        mba = mba_tau = mba2 = float("nan")
    return LocalizationResult(
        accuracy=float(correct.float().mean()),
        top1_loc=localization_accuracy(torch.cat(top1_boxes), gt, correct),
        gt_known_loc=localization_accuracy(torch.cat(known_boxes), gt),
        max_box_acc=mba, max_box_acc_threshold=mba_tau, max_box_acc_v2=mba2,
    )


def mean_box_size(data: ClutteredDigits) -> tuple[float, float]:
    """Mean (width, height) of a set's ground-truth boxes."""
    boxes = _check_data(data).boxes.astype(np.float64)
    return float((boxes[:, 2] - boxes[:, 0]).mean()), float((boxes[:, 3] - boxes[:, 1]).mean())


# --- input checks of the functions above ------------------------------------------------


def _check_model(model: object) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return model


def _check_data(data: object) -> ClutteredDigits:
    if not isinstance(data, ClutteredDigits):
        raise TypeError(f"data must be a ClutteredDigits set (camlib.data."
                        f"make_cluttered_digits), got {type(data).__name__}")
    return data


def _check_images(model: object, images: object) -> torch.Tensor:
    """A float batch (N, C, H, W) for ``model``: finite, on its device, C as its first
    convolution expects."""
    _check_model(model)
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a float torch.Tensor (N, 3, H, W), got "
                        f"{type(images).__name__}")
    if not images.is_floating_point():
        raise TypeError(f"images must be a float tensor (N, 3, H, W) in [0, 1], got dtype "
                        f"{images.dtype} (camlib.data.to_float converts uint8 images)")
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
    if not bool(torch.isfinite(images).all()):
        raise ValueError("images must be finite, got a tensor containing NaN or inf")
    return images


def _check_box_size(box_size: object) -> tuple[float, float]:
    if not isinstance(box_size, (tuple, list)) or len(box_size) != 2:
        raise TypeError(f"box_size must be a pair (width, height), got {box_size!r}")
    return tuple(validation.real(v.item() if hasattr(v, "item") else v, "box_size", low=0,
                                 low_open=True) for v in box_size)
