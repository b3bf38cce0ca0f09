"""A new task built from the cluttered digits, for the generic-features lesson (10).

The paper's section 4 freezes a GAP network, trains a linear classifier on its pooled
features for a task the network never saw, and takes the CAM from that classifier's
weights. The new task must be a concept the network never learned, not one of its ten
classes in disguise. Here it is: *an image holds two digits side by side; is one of them
framed?* A frame is a rectangle drawn around a digit in the digit's own colour, two pixels
thick, three pixels away from its ink: nothing like it occurs in the training images, whose
only label is the digit. The frame decides the answer and has a box (the frame's outer
edge), so the CAM of the new classifier can be scored against it.

Images are two cluttered digits from :func:`camcourse.data.make_cluttered_digits` placed side
by side: (N, 3, S, 2S) uint8. Boxes are half-open (x0, y0, x1, y1) in the wide image, so
the right digit's box is its own box shifted by S columns. The "val" split (digits the
network never trained on) makes fresh training images for the new classifier; "test" uses
the test digits that are not validation digits, so the two share no handwritten digit.

Example
-------
>>> task = make_framed_digit_task(40, "test", seed=0)
>>> task.images.shape[1:], task.labels.dtype
((3, 64, 128), dtype('int64'))
>>> bool(((task.framed_side >= 0) == (task.labels == 1)).all())
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from camcourse.data import make_cluttered_digits, without_validation_digits

__all__ = ["FramedDigitTask", "make_framed_digit_task", "draw_frame", "FRAME_PADDING",
           "FRAME_WIDTH"]

FRAME_PADDING = 3  # pixels between the digit's box and the frame's inner edge
FRAME_WIDTH = 2  # thickness of the frame's strokes, in pixels


@dataclass(frozen=True)
class FramedDigitTask:
    """Two-digit images labelled by whether one digit is framed.

    Attributes
    ----------
    images : (N, 3, S, 2S) uint8, the left digit in columns [0, S), the right in [S, 2S)
    labels : (N,) int64, 1 if one of the two digits is framed, else 0
    digits : (N, 2) int64, the left and the right digit (their classes)
    boxes : (N, 2, 4) int64, half-open boxes of the left and right digit in the wide image
    frame_boxes : (N, 4) int64, the frame's outer box; (0, 0, 0, 0) when there is no frame
    framed_side : (N,) int64, 0 (left) or 1 (right) for the framed digit; -1 when none
    sources : (N, 2) int64, the handwritten source digits (see `camcourse.data`)
    """

    images: np.ndarray
    labels: np.ndarray
    digits: np.ndarray
    boxes: np.ndarray
    frame_boxes: np.ndarray
    framed_side: np.ndarray
    sources: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def positives(self) -> tuple[np.ndarray, np.ndarray]:
        """(indices of the images with a frame, (P, 4) the frames' boxes)."""
        positive = np.flatnonzero(self.labels == 1)
        return positive, self.frame_boxes[positive]

    def unframed_boxes(self) -> tuple[np.ndarray, np.ndarray]:
        """(indices of the images with a frame, (P, 4) boxes of their *unframed* digit)."""
        positive = np.flatnonzero(self.labels == 1)
        return positive, self.boxes[positive, 1 - self.framed_side[positive]]


def draw_frame(image: np.ndarray, box, colour, padding: int = FRAME_PADDING,
               width: int = FRAME_WIDTH) -> tuple[int, int, int, int]:
    """Draw, in place, a rectangle of ``width`` pixels ``padding`` pixels around ``box``.

    Parameters
    ----------
    image : (3, H, W) uint8, changed in place
    box : half-open (x0, y0, x1, y1) of the digit
    colour : 3 values 0-255

    Returns
    -------
    the frame's outer box (x0, y0, x1, y1), clipped to the image

    >>> canvas = np.zeros((3, 16, 16), np.uint8)
    >>> draw_frame(canvas, (6, 6, 10, 10), (255, 255, 255), padding=1, width=1)
    (4, 4, 12, 12)
    >>> int(canvas[0].sum() // 255)   # the 8×8 outline minus its 6×6 inside
    28
    """
    _, height, wide = image.shape
    x0, y0, x1, y1 = (int(v) for v in box)
    a0, b0 = max(x0 - padding - width, 0), max(y0 - padding - width, 0)
    a1, b1 = min(x1 + padding + width, wide), min(y1 + padding + width, height)
    paint = np.asarray(colour, dtype=np.uint8)[:, None, None]
    image[:, b0:b0 + width, a0:a1] = paint
    image[:, b1 - width:b1, a0:a1] = paint
    image[:, b0:b1, a0:a0 + width] = paint
    image[:, b0:b1, a1 - width:a1] = paint
    return a0, b0, a1, b1


def make_framed_digit_task(pool_size: int, split: str = "val", image_size: int = 64,
                           seed: int = 0, positive_fraction: float = 0.5) -> FramedDigitTask:
    """Pair the images of one cluttered-digits set into two-digit images, frame some.

    Every image of the pool is used once (pool_size // 2 pairs). In a random
    ``positive_fraction`` of the pairs one digit, on a random side, gets a frame in its own
    colour (the mean colour of its pixels).

    Parameters
    ----------
    pool_size : number of single-digit images drawn (cached by `make_cluttered_digits`);
        for "test" the images of validation digits are then dropped (about a third)
    split : "val" (digits the course's networks never trained on: fresh training images
        for a new classifier), "test" (test digits that are not validation digits), or
        "train" (the networks' own training digits)
    image_size : side S of the single-digit images
    seed : seeds both the pool and the pairing
    positive_fraction : probability that a pair holds a framed digit

    Returns
    -------
    FramedDigitTask with about pool_size / 2 images.
    """
    if not isinstance(pool_size, (int, np.integer)) or isinstance(pool_size, bool) \
            or pool_size < 4:
        raise ValueError(f"pool_size must be an int >= 4, got {pool_size!r}")
    if not 0.0 <= float(positive_fraction) <= 1.0:
        raise ValueError(f"positive_fraction must lie in [0, 1], got {positive_fraction!r}")
    pool = make_cluttered_digits(int(pool_size), split, image_size=image_size, seed=seed)
    if split == "test":
        pool = without_validation_digits(pool)
    rng = np.random.default_rng([seed, 31337])
    order = rng.permutation(len(pool))[: len(pool) // 2 * 2]
    left, right = order[0::2], order[1::2]
    size = pool.images.shape[-1]
    images = np.concatenate([pool.images[left], pool.images[right]], axis=-1)
    digits = np.stack([pool.labels[left], pool.labels[right]], 1).astype(np.int64)
    sources = np.stack([pool.sources[left], pool.sources[right]], 1).astype(np.int64)
    shift = np.array([size, 0, size, 0])
    boxes = np.stack([pool.boxes[left], pool.boxes[right] + shift], 1).astype(np.int64)
    framed = rng.random(len(left)) < positive_fraction
    side = np.where(framed, rng.integers(0, 2, len(left)), -1).astype(np.int64)
    frame_boxes = np.zeros((len(left), 4), np.int64)
    for n in np.flatnonzero(framed):
        source = (left if side[n] == 0 else right)[n]
        colour = pool.images[source][:, pool.masks[source]].mean(axis=1).round()
        offset = side[n] * size
        tile = images[n, :, :, offset:offset + size]  # a view: the frame stays in its tile
        x0, y0, x1, y1 = draw_frame(tile, pool.boxes[source], colour)
        frame_boxes[n] = (x0 + offset, y0, x1 + offset, y1)
    return FramedDigitTask(images=images, labels=framed.astype(np.int64), digits=digits,
                           boxes=boxes, frame_boxes=frame_boxes, framed_side=side,
                           sources=sources)
