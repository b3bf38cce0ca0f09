"""Choe et al.'s box evaluation, threshold by threshold with OpenCV: the yardstick for
`camlib.localize`'s ``protocol="choe2020"`` and for the speed of its one-pass sweep.

A port, in a few lines, of the box evaluation of the code released with "Evaluating
Weakly Supervised Object Localization Methods Right" (Choe et al., CVPR 2020,
github.com/clovaai/wsolevaluation), with its conventions: each map is min-max normalized
in float64 (a constant map becomes zeros) and quantized to uint8 by truncation; for each
threshold τ the mask is {q > int(τ · max q)} (``cv2.threshold`` with ``THRESH_BINARY``); the
contours come from ``cv2.findContours`` (``RETR_TREE``, ``CHAIN_APPROX_SIMPLE``); MaxBoxAcc
keeps the contour of largest ``cv2.contourArea`` (the first of equal ones), MaxBoxAccV2
every contour; a contour's box is ``x, y, x + w, y + h`` of ``cv2.boundingRect`` with the
right and bottom clipped to W − 1 and H − 1, an empty mask gives (0, 0, 0, 0); IoU counts
pixels inclusively (+1). OpenCV (``opencv-python-headless``) is needed only here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _cv2():
    try:
        import cv2
    except ImportError as error:  # a development dependency only
        raise ImportError("the reference evaluation needs OpenCV: pip install "
                          "opencv-python-headless") from error
    return cv2


def normalize(scoremap: np.ndarray) -> np.ndarray:
    """(M − min M) / max(M − min M) in float64, as the released code computes it (its
    ``t2n`` makes every map float64 first); a constant map becomes zeros."""
    scoremap = np.asarray(scoremap, dtype=np.float64)
    if scoremap.min() == scoremap.max():
        return np.zeros_like(scoremap)
    shifted = scoremap - scoremap.min()
    return shifted / shifted.max()


def boxes_at_thresholds(scoremap: np.ndarray, thresholds: Sequence[float],
                        every_contour: bool) -> list[np.ndarray]:
    """For each threshold, the boxes (k, 4) of the largest contour (k = 1) or of every
    contour, of a normalized map (H, W) in [0, 1]."""
    cv2 = _cv2()
    height, width = scoremap.shape
    quantized = (scoremap * 255).astype(np.uint8)
    peak = quantized.max()
    out = []
    for tau in thresholds:
        _, mask = cv2.threshold(quantized, int(tau * peak), 255, cv2.THRESH_BINARY)
        contours = cv2.findContours(mask, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[-2]
        if not contours:
            out.append(np.zeros((1, 4), np.int64))
            continue
        if not every_contour:
            contours = [max(contours, key=cv2.contourArea)]
        boxes = []
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            boxes.append([x, y, min(x + w, width - 1), min(y + h, height - 1)])
        out.append(np.asarray(boxes, np.int64))
    return out


def inclusive_iou(boxes: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """IoU of boxes (k, 4) with one box (4,), pixels counted inclusively, float64."""
    boxes = boxes.astype(np.int64)
    gt = np.asarray(gt, np.int64)
    width = np.maximum(0, np.minimum(boxes[:, 2], gt[2]) - np.maximum(boxes[:, 0], gt[0]) + 1)
    height = np.maximum(0, np.minimum(boxes[:, 3], gt[3]) - np.maximum(boxes[:, 1], gt[1]) + 1)
    inter = width * height
    area = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1)
    union = area + (gt[2] - gt[0] + 1) * (gt[3] - gt[1] + 1) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def correct_counts(maps: np.ndarray, gt_boxes: np.ndarray, thresholds: Sequence[float],
                   iou_thresholds: Sequence[float] = (0.3, 0.5, 0.7),
                   every_contour: bool = False) -> np.ndarray:
    """Number of maps (N, H, W) whose box has IoU ≥ δ with their ground truth, for every
    threshold τ and IoU threshold δ: an int array (T, D). MaxBoxAcc is
    ``counts[:, δ=0.5].max() / N`` (``every_contour=False``); MaxBoxAccV2 the mean over δ
    of ``counts[:, δ].max() / N`` with ``every_contour=True``.

    As the released code does, each map's boxes at all thresholds go through one IoU
    computation, then the best box of each threshold is taken."""
    counts = np.zeros((len(thresholds), len(iou_thresholds)), np.int64)
    for scoremap, gt in zip(maps, gt_boxes, strict=True):
        per_threshold = boxes_at_thresholds(normalize(scoremap), thresholds, every_contour)
        ious = inclusive_iou(np.concatenate(per_threshold), gt)
        starts = np.cumsum([0] + [len(boxes) for boxes in per_threshold[:-1]])
        best = np.maximum.reduceat(ious, starts)
        for d, delta in enumerate(iou_thresholds):
            counts[:, d] += best >= delta
    return counts


def released_counts(checkout: str | Path, maps: np.ndarray, gt_boxes: np.ndarray,
                    thresholds: Sequence[float], iou_threshold: float = 0.5) -> np.ndarray:
    """`correct_counts` (MaxBoxAcc, one δ) by the released code itself: ``BoxEvaluator.
    accumulate`` of ``evaluation.py`` from a checkout of github.com/clovaai/wsolevaluation,
    map by map, on the maps min-max normalized in float64 as its ``normalize_scoremap``
    and ``t2n`` leave them. Returns counts (T,).

    The checkout's modules are imported from ``checkout``. Two shims let them run with
    today's packages, and nothing else of them changes: ``np.float`` (removed in
    NumPy 1.24; the released ``check_scoremap_validity`` compares a dtype with it) is
    Python's float during the call, and ``munch`` (imported by its ``config.py``, not
    used by the evaluator) is an empty stand-in module when it is not installed. The
    evaluator's metadata is set directly: the thresholds, δ and each map's ground truth.
    """
    import importlib
    import importlib.util
    import sys
    import types

    checkout = str(Path(checkout).resolve())
    if not (Path(checkout) / "evaluation.py").is_file():
        raise FileNotFoundError(f"checkout must be a clone of clovaai/wsolevaluation "
                                f"(holding evaluation.py), got {checkout}")
    added_float = not hasattr(np, "float")
    if added_float:
        np.float = float  # noqa: NPY001 (the released code's own name)
    if "munch" not in sys.modules and importlib.util.find_spec("munch") is None:
        sys.modules["munch"] = types.ModuleType("munch")
    sys.path.insert(0, checkout)
    try:
        evaluation = importlib.import_module("evaluation")
        evaluator = object.__new__(evaluation.BoxEvaluator)
        percent = round(100 * iou_threshold)
        evaluator.cam_threshold_list = list(thresholds)
        evaluator.iou_threshold_list = [percent]
        evaluator.multi_contour_eval = False
        evaluator.num_correct = {percent: np.zeros(len(thresholds))}
        evaluator.cnt = 0
        evaluator.gt_bboxes = {i: [list(map(int, box))] for i, box in enumerate(gt_boxes)}
        for i, scoremap in enumerate(maps):
            scoremap = scoremap.astype(np.float64) - scoremap.min()
            top = scoremap.max()
            evaluator.accumulate(scoremap / top if top > 0 else scoremap, i)
        return evaluator.num_correct[percent].astype(np.int64)
    finally:
        sys.path.remove(checkout)
        if added_float:
            del np.float  # noqa: NPY001
