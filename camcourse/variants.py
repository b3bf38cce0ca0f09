"""Variants of the cluttered digits for lesson 11, where CAM misleads.

Both are built from `camcourse.data.make_cluttered_digits` (same source digits, same split by
handwritten digit, same drawing), then changed in a way that is known exactly:

- `make_spurious_digits`: a small coloured square, the **cue**, is painted in a corner of
  every image, away from the digit. In the training split its colour is the colour of the
  image's class (``cue="label"``): a shortcut that predicts the label perfectly. In the test
  split its colour is drawn at random, independently of the class (``cue="random"``), or
  there is none (``cue="none"``). The cue's box is recorded, so one can measure how much of
  a map falls on it.
- `make_two_digits`: two handwritten digits in one image, of different classes (or of the
  same class with ``same_class=True``), with both boxes: the case the paper's "largest
  connected component" box was not designed for.

Boxes are half-open (x0, y0, x1, y1), like everywhere in the course.

Example
-------
>>> train = make_spurious_digits(4, split="train", seed=0)
>>> bool((train.cue_classes == train.labels).all())
True
>>> pairs = make_two_digits(4, seed=0)
>>> pairs.images.shape, pairs.labels.shape, pairs.boxes.shape
((4, 3, 64, 64), (4, 2), (4, 2, 4))
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

from camcourse.data import SPLITS, ClutteredDigits, make_cluttered_digits
from camlib.validation import non_negative_int, positive_int, real

__all__ = [
    "CUE_COLOURS",
    "CUES",
    "SpuriousDigits",
    "TwoDigits",
    "make_spurious_digits",
    "make_two_digits",
    "box_overlaps",
]

# Bump when the drawing of a variant changes (the base images are versioned by camcourse.data).
VARIANTS_VERSION = 1
CUES = ("label", "random", "none")
# Ten saturated hues, 36° apart: class c's cue colour is CUE_COLOURS[c] (RGB in [0, 1]).
CUE_COLOURS = np.array([colorsys.hsv_to_rgb(c / 10, 1.0, 1.0) for c in range(10)],
                       dtype=np.float32)
_CUE_STREAM = 11  # seeds the cue's generator apart from the images' own


def box_overlaps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether half-open boxes ``a`` (..., 4) and ``b`` (..., 4) share at least one pixel.

    >>> bool(box_overlaps(np.array([0, 0, 2, 2]), np.array([2, 0, 4, 2])))
    False
    """
    a, b = np.asarray(a), np.asarray(b)
    return ((np.minimum(a[..., 2], b[..., 2]) > np.maximum(a[..., 0], b[..., 0]))
            & (np.minimum(a[..., 3], b[..., 3]) > np.maximum(a[..., 1], b[..., 1])))


def _check_common(n, split, seed) -> tuple[int, int]:
    n, seed = positive_int(n, "n"), non_negative_int(seed, "seed")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return n, seed


def _arrays_equal(pairs) -> bool:
    return all(a.dtype == b.dtype and np.array_equal(a, b) for a, b in pairs)


# --- a spurious cue -------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SpuriousDigits(ClutteredDigits):
    """Cluttered digits with a coloured corner square, the cue.

    Attributes (besides those of `ClutteredDigits`, whose ``boxes`` and ``masks`` are the
    digit's)
    ----------
    cue_classes : (N,) int64, the class whose colour the cue has (-1: no cue)
    cue_boxes : (N, 4) int64, half-open box of the cue (all zeros when there is none)
    """

    cue_classes: np.ndarray = None
    cue_boxes: np.ndarray = None

    def __eq__(self, other: object) -> bool:
        """Equal when every array (the cue's included) and the parameters are equal."""
        if not isinstance(other, SpuriousDigits):
            return NotImplemented
        return ClutteredDigits.__eq__(self, other) and _arrays_equal(
            ((self.cue_classes, other.cue_classes), (self.cue_boxes, other.cue_boxes)))

    __hash__ = None

    def subset(self, index) -> SpuriousDigits:
        """The samples at ``index`` (slice, integer array or boolean mask)."""
        return SpuriousDigits(
            self.images[index], self.labels[index], self.boxes[index], self.masks[index],
            self.sources[index], dict(self.params),
            clutter_masks=None if self.clutter_masks is None else self.clutter_masks[index],
            cue_classes=self.cue_classes[index], cue_boxes=self.cue_boxes[index])


def _corner_boxes(image_size: int, side: int, inset: int) -> np.ndarray:
    """The four candidate cue boxes (4, 4): top-left, top-right, bottom-left, bottom-right."""
    near, far = inset, image_size - inset - side
    return np.array([[x, y, x + side, y + side] for y in (near, far) for x in (near, far)])


def make_spurious_digits(n: int, split: str = "train", seed: int = 0, cue: str | None = None,
                         side: int = 6, image_size: int = 64) -> SpuriousDigits:
    """Cluttered digits with a coloured square in a corner that the digit leaves free.

    Parameters
    ----------
    n : number of images (> 0)
    split : a split of `camcourse.data` ("train" or "test": disjoint handwritten source digits)
    seed : the same seed and parameters always give the same images
    cue : "label" (the square has its class's colour ``CUE_COLOURS[label]``: a perfect
        shortcut), "random" (a colour drawn uniformly from the ten, independent of the
        class), or "none"; default "label" for the training split and "random" for the test
        split: the cue predicts the class in training and not in test
    side : side of the square in pixels (2 to image_size // 4)
    image_size : side of the images (>= 16)

    Returns
    -------
    SpuriousDigits: the images with the cue painted in (digit pixels are never covered: the
    square is placed, 2 pixels in from the border, in a corner whose square stays at least
    one pixel away from the digit's box), the digit's ``labels``, ``boxes`` and ``masks``,
    and ``cue_classes``, ``cue_boxes``.

    Example
    -------
    >>> test = make_spurious_digits(200, split="test", seed=0)
    >>> float((test.cue_classes == test.labels).mean()) < 0.2    # about 1 in 10 by chance
    True
    """
    n, seed = _check_common(n, split, seed)
    cue = cue if cue is not None else ("label" if split == "train" else "random")
    if not isinstance(cue, str) or cue not in CUES:
        raise ValueError(f"cue must be one of {CUES} or None, got {cue!r}")
    image_size = positive_int(image_size, "image_size")
    if image_size < 16:
        raise ValueError(f"image_size must be at least 16, got {image_size}")
    side = positive_int(side, "side")
    if not 2 <= side <= image_size // 4:
        raise ValueError(f"side must be from 2 to image_size // 4 = {image_size // 4}, "
                         f"got {side}")
    base = make_cluttered_digits(n, split, image_size=image_size, seed=seed)
    rng = np.random.default_rng([seed, SPLITS.index(split), _CUE_STREAM, CUES.index(cue)])
    corners = _corner_boxes(image_size, side, inset=2)
    grown = corners + np.array([-1, -1, 1, 1])  # keep one pixel between cue and digit
    free = ~box_overlaps(grown[None, :, :], base.boxes[:, None, :])  # (N, 4)
    if not free.any(axis=1).all():  # cannot happen for the course's digit sizes
        raise ValueError("a digit covers all four corners; use a smaller side")
    # A uniformly random free corner per image.
    choice = np.argmax(rng.random((n, 4)) * free, axis=1)
    cue_boxes = corners[choice]
    if cue == "label":
        cue_classes = base.labels.copy()
    elif cue == "random":
        cue_classes = rng.integers(0, 10, n).astype(np.int64)
    else:
        cue_classes = np.full(n, -1, np.int64)
    images = base.images.copy()
    noise = base.params["noise"]
    if cue != "none":
        for i, (x0, y0, x1, y1) in enumerate(cue_boxes):
            colour = CUE_COLOURS[cue_classes[i]][:, None, None]
            patch = colour + noise * rng.standard_normal((3, side, side), np.float32)
            images[i, :, y0:y1, x0:x1] = np.clip(np.round(patch * 255), 0, 255)
    else:
        cue_boxes = np.zeros_like(cue_boxes)
    params = dict(base.params, variant="spurious", cue=cue, side=side,
                  variants_version=VARIANTS_VERSION)
    return SpuriousDigits(images, base.labels, base.boxes, base.masks, base.sources, params,
                          clutter_masks=base.clutter_masks, cue_classes=cue_classes,
                          cue_boxes=cue_boxes.astype(np.int64))


# --- two digits in one image ---------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class TwoDigits:
    """Images with two handwritten digits each.

    Attributes
    ----------
    images : (N, 3, S, S) uint8
    labels : (N, 2) int64, the two digits' classes
    boxes : (N, 2, 4) int64, their half-open boxes (they never overlap)
    masks : (N, 2, S, S) bool, their pixels
    params : the arguments that generated the set
    """

    images: np.ndarray
    labels: np.ndarray
    boxes: np.ndarray
    masks: np.ndarray
    params: dict

    def __len__(self) -> int:
        return len(self.labels)

    def __eq__(self, other: object) -> bool:
        """Equal when every array and the parameters are equal."""
        if not isinstance(other, TwoDigits):
            return NotImplemented
        return self.params == other.params and _arrays_equal(
            (getattr(self, k), getattr(other, k)) for k in ("images", "labels", "boxes", "masks"))

    __hash__ = None


def _background_level(data: ClutteredDigits) -> np.ndarray:
    """Mean brightness of each image off the digit (N,)."""
    grey = data.images.astype(np.float32).mean(axis=1)
    off = ~data.masks
    return (grey * off).sum(axis=(1, 2)) / off.sum(axis=(1, 2))


def make_two_digits(n: int, split: str = "test", seed: int = 0, same_class: bool = False,
                    scale: tuple[float, float] = (0.32, 0.42), gap: int = 2,
                    image_size: int = 64) -> TwoDigits:
    """Images that each hold two digits, side by side, never overlapping.

    The first digit and its cluttered background come from `make_cluttered_digits`; the
    second is cut out (its pixels, by its mask) of another image of the same set whose
    background is the closest in brightness, so it contrasts with the new background as
    it did with its own, and moved by whole pixels to a random place where its box stays
    ``gap`` pixels away from the first digit's box and one pixel inside the border.

    Parameters
    ----------
    n : number of images (> 0)
    split : a split of `camcourse.data` ("train" or "test")
    seed : the same seed and parameters always give the same images
    same_class : False: the two digits are of different classes; True: of the same class
        (two instances, different handwriting)
    scale : the digits' height range as a fraction of the image (smaller than the
        course's default so that two fit)
    gap : minimum number of pixels between the two boxes (>= 0)
    image_size : side of the images (>= 16)

    Example
    -------
    >>> two = make_two_digits(8, seed=0)
    >>> bool((two.labels[:, 0] != two.labels[:, 1]).all())
    True
    """
    n, seed = _check_common(n, split, seed)
    if not isinstance(same_class, bool):
        raise TypeError(f"same_class must be a bool, got {type(same_class).__name__}")
    gap = non_negative_int(gap, "gap")
    image_size = positive_int(image_size, "image_size")
    if not isinstance(scale, (tuple, list)) or len(scale) != 2:
        raise TypeError(f"scale must be a pair (low, high), got {scale!r}")
    low, high = (real(v, "scale") for v in scale)
    if not 0.05 <= low <= high <= 0.45:
        raise ValueError(f"scale must satisfy 0.05 <= low <= high <= 0.45 (two digits must "
                         f"fit side by side), got {scale}")
    pool_factor = 6
    data = make_cluttered_digits(pool_factor * n, split, image_size=image_size, seed=seed,
                                 scale=(low, high))
    levels = _background_level(data)
    rng = np.random.default_rng([seed, SPLITS.index(split), _CUE_STREAM + 1, int(same_class)])
    size = image_size
    used = np.zeros(len(data), bool)
    used[:n] = True
    images = data.images[:n].copy()
    labels = np.zeros((n, 2), np.int64)
    boxes = np.zeros((n, 2, 4), np.int64)
    masks = np.zeros((n, 2, size, size), bool)
    for i in range(n):
        first = data.boxes[i]
        wanted = data.labels == data.labels[i] if same_class else data.labels != data.labels[i]
        candidates = np.flatnonzero(wanted & ~used)
        candidates = candidates[np.argsort(np.abs(levels[candidates] - levels[i]),
                                           kind="stable")]
        for j in candidates:
            x0, y0, x1, y1 = data.boxes[j]
            w, h = x1 - x0, y1 - y0
            xs, ys = np.meshgrid(np.arange(1, size - w), np.arange(1, size - h))
            moved = np.stack([xs, ys, xs + w, ys + h], -1).reshape(-1, 4)
            grown = first + np.array([-gap, -gap, gap, gap])
            places = moved[~box_overlaps(moved, grown)]
            if len(places):
                break
        else:
            raise ValueError("no second digit fits beside the first; use a smaller scale")
        used[j] = True
        nx0, ny0 = places[rng.integers(len(places))][:2]
        dy, dx = ny0 - y0, nx0 - x0
        source = data.masks[j]
        target = np.roll(source, (dy, dx), axis=(0, 1))  # exact: the box stays inside
        images[i][:, target] = data.images[j][:, source]
        labels[i] = data.labels[i], data.labels[j]
        boxes[i] = first, (nx0, ny0, nx0 + w, ny0 + h)
        masks[i] = data.masks[i], target
    params = dict(n=n, split=split, seed=seed, same_class=same_class,
                  scale=[low, high], gap=gap, image_size=image_size,
                  variant="two_digits", base=data.params, variants_version=VARIANTS_VERSION)
    return TwoDigits(images, labels, boxes, masks, params)
