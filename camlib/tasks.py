"""New tasks built from the cluttered digits, for the generic-features lesson (10).

The paper's section 4 freezes a GAP network, trains a linear classifier on its pooled
features for a task the network never saw, and takes the CAM from that classifier's
weights. Here the new task is: *an image holds two digits side by side; does one of
them show the target digit (7)?* The network was trained on single digits with ten
classes and never saw two-digit images nor this yes/no label. The digit that decides the
answer (the 7) has a ground-truth box, so the CAM of the new classifier can be scored.

Images are two cluttered digits from :func:`camlib.data.make_cluttered_digits` placed
side by side: (N, 3, S, 2S) uint8. Boxes are half-open (x0, y0, x1, y1) in the wide
image, so the right digit's box is its own box shifted by S columns.

Example
-------
>>> task = make_two_digit_task(40, "test", seed=0)
>>> task.images.shape[1:], task.labels.dtype
((3, 64, 128), dtype('int64'))
>>> bool(((task.digits == 7).sum(1) == task.labels).all())   # label = holds one 7
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from camlib.data import make_cluttered_digits

__all__ = ["TwoDigitTask", "make_two_digit_task"]


@dataclass(frozen=True)
class TwoDigitTask:
    """Two-digit images labelled by whether one digit is ``target``.

    Attributes
    ----------
    images : (N, 3, S, 2S) uint8, the left digit in columns [0, S), the right in [S, 2S)
    labels : (N,) int64, 1 if one of the two digits is ``target``, else 0
    digits : (N, 2) int64, the left and the right digit
    boxes : (N, 2, 4) int64, half-open boxes of the left and right digit in the wide image
    target_side : (N,) int64, 0 (left) or 1 (right) for the target digit; -1 when absent
    target : the digit that decides the label
    """

    images: np.ndarray
    labels: np.ndarray
    digits: np.ndarray
    boxes: np.ndarray
    target_side: np.ndarray
    target: int

    def __len__(self) -> int:
        return len(self.labels)

    def deciding_boxes(self) -> tuple[np.ndarray, np.ndarray]:
        """(indices of the positive images, (P, 4) boxes of their target digit)."""
        positive = np.flatnonzero(self.labels == 1)
        return positive, self.boxes[positive, self.target_side[positive]]

    def other_boxes(self) -> tuple[np.ndarray, np.ndarray]:
        """(indices of the positive images, (P, 4) boxes of their *other* digit)."""
        positive = np.flatnonzero(self.labels == 1)
        return positive, self.boxes[positive, 1 - self.target_side[positive]]


def make_two_digit_task(pool_size: int, split: str = "train", target: int = 7,
                        image_size: int = 64, seed: int = 0) -> TwoDigitTask:
    """Pair the images of one cluttered-digits set into two-digit images.

    Every image of the pool is used at most once. Each image of the target digit is
    paired with a non-target one (a positive, the target on a random side); the remaining
    non-target images are paired with each other (negatives). No image holds two targets.
    About 10% of the pool shows the target, so roughly a fifth of the pairs are positive.

    Parameters
    ----------
    pool_size : number of single-digit images drawn (cached by `make_cluttered_digits`)
    split : "train" or "test"; the two splits use different handwritten digits
    target : the digit 0–9 that makes a pair positive
    image_size : side S of the single-digit images
    seed : seeds both the pool and the pairing

    Returns
    -------
    TwoDigitTask with about pool_size / 2 images, shuffled.
    """
    if not isinstance(target, (int, np.integer)) or not 0 <= target <= 9:
        raise ValueError(f"target must be a digit 0-9, got {target!r}")
    if not isinstance(pool_size, (int, np.integer)) or pool_size < 4:
        raise ValueError(f"pool_size must be an int >= 4, got {pool_size!r}")
    pool = make_cluttered_digits(int(pool_size), split, image_size=image_size, seed=seed)
    rng = np.random.default_rng([seed, 7919, int(target)])
    is_target = pool.labels == target
    targets = rng.permutation(np.flatnonzero(is_target))
    others = rng.permutation(np.flatnonzero(~is_target))
    positives = min(len(targets), len(others))
    if positives == 0:
        raise ValueError(f"the pool of {pool_size} images holds no digit {target} (or nothing "
                         f"else); use a larger pool_size")
    # Positive pairs: (target, other) with the target on a random side.
    swap = rng.integers(0, 2, positives).astype(bool)
    first = np.where(swap, others[:positives], targets[:positives])
    second = np.where(swap, targets[:positives], others[:positives])
    rest = others[positives:]
    rest = rest[: len(rest) // 2 * 2]
    left = np.concatenate([first, rest[0::2]])
    right = np.concatenate([second, rest[1::2]])
    order = rng.permutation(len(left))
    left, right = left[order], right[order]

    size = pool.images.shape[-1]
    images = np.concatenate([pool.images[left], pool.images[right]], axis=-1)
    digits = np.stack([pool.labels[left], pool.labels[right]], 1).astype(np.int64)
    shift = np.array([size, 0, size, 0])
    boxes = np.stack([pool.boxes[left], pool.boxes[right] + shift], 1).astype(np.int64)
    side = np.where(digits[:, 0] == target, 0, np.where(digits[:, 1] == target, 1, -1))
    return TwoDigitTask(images=images, labels=(side >= 0).astype(np.int64), digits=digits,
                        boxes=boxes, target_side=side.astype(np.int64), target=int(target))
