"""Cluttered digits: the course's weakly supervised localization set, generated on the fly.

Each image holds one real handwritten digit (scikit-learn's bundled 8×8 UCI digits),
upscaled smoothly, rotated a little, coloured and textured, and placed at a random position
and scale on a smooth coloured background covered with fragments of other digits and
pixel noise. The class is the digit. The ground-truth box is kept for evaluation but never
shown to the model: the network learns *what*, the CAM must find *where*.

Boxes follow the project's convention: (x0, y0, x1, y1) half-open, i.e. the digit's pixels
are ``image[:, y0:y1, x0:x1]``, and the box is tight (every edge row/column touches ink).

The 1797 source digits are split once, by source image, into train (70% of each class) and
test (30%): no handwritten digit appears in both splits, whatever the seed. A validation
split with boxes, for choosing a threshold as Choe et al. (CVPR 2020) do, draws on a fixed
third of each class's test digits (179 of the 539): ``split="val"``. The test images whose
source digit is one of those are removed by `without_validation_digits`, so that a
threshold chosen on "val" is judged on handwritten digits it never saw. (The "test" split
itself keeps all 539 test digits, so that its images stay the same for every lesson.)
The source digits come from only 13 writers (scikit-learn's description of the set), and
the split is by image, not by writer: the same writers' hands appear in every split.

Images are uint8 (N, 3, H, W); 30 000 float32 images would need about 1.5 GB, so convert
per batch with `to_float`. Generated sets are cached under ``camcourse.paths.CACHE_DIR``,
keyed by every parameter, so a second call is immediate and a changed parameter never
returns stale data.

Example
-------
>>> data = make_cluttered_digits(8, split="test", seed=0)
>>> data.images.shape, data.images.dtype, data.labels.shape, data.boxes.shape
((8, 3, 64, 64), dtype('uint8'), (8,), (8, 4))
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from camcourse import paths

__all__ = [
    "ClutteredDigits",
    "ClutteredDigitsDataset",
    "make_cluttered_digits",
    "source_digits",
    "without_validation_digits",
    "to_float",
    "batches",
    "data_loader",
    "GENERATOR_VERSION",
]

# Bump when the drawing changes, so old caches are never mistaken for new data.
GENERATOR_VERSION = 3
SPLITS = ("train", "test", "val")  # the order seeds the generators: train and test keep theirs
_TRAIN_FRACTION = 0.7
_VAL_FRACTION = 1 / 3  # of each class's test digits
_SPLIT_SEED = 20160627  # fixed: the split must not depend on the generation seed
_INK = 0.25  # an upscaled digit pixel belongs to the digit where its ink exceeds 25%


@dataclass(frozen=True)
class ClutteredDigits:
    """A generated set. Arrays are NumPy; use `to_float` or `data_loader` for tensors.

    Attributes
    ----------
    images : (N, 3, H, W) uint8
    labels : (N,) int64, the digit 0-9
    boxes : (N, 4) int64, half-open (x0, y0, x1, y1) tight around the digit's pixels
    masks : (N, H, W) bool, the digit's pixels (the box is their bounding box)
    sources : (N,) int64, index of the source digit in ``sklearn.datasets.load_digits()``
    params : the arguments that generated the set
    clutter_masks : (N, H, W) bool, the pixels where a clutter fragment was drawn (its ink
        above the same 25% as the digit's); the digit, drawn last, may cover some of them
    """

    images: np.ndarray
    labels: np.ndarray
    boxes: np.ndarray
    masks: np.ndarray
    sources: np.ndarray
    params: dict
    clutter_masks: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def __eq__(self, other: object) -> bool:
        """Two sets are equal when their arrays are equal element by element (same
        shapes and dtypes) and their parameters are equal."""
        if not isinstance(other, ClutteredDigits):
            return NotImplemented
        return self.params == other.params and all(
            a.dtype == b.dtype and np.array_equal(a, b)
            for a, b in ((self.images, other.images), (self.labels, other.labels),
                         (self.boxes, other.boxes), (self.masks, other.masks),
                         (self.sources, other.sources))
        ) and _same_optional(self.clutter_masks, other.clutter_masks)

    __hash__ = None  # arrays are mutable: a set is not hashable

    def subset(self, index) -> ClutteredDigits:
        """The samples at ``index`` (slice, integer array or boolean mask)."""
        clutter = None if self.clutter_masks is None else self.clutter_masks[index]
        return ClutteredDigits(
            self.images[index], self.labels[index], self.boxes[index], self.masks[index],
            self.sources[index], dict(self.params), clutter,
        )


def _same_optional(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    """Both absent, or both present and equal element by element."""
    if a is None or b is None:
        return a is None and b is None
    return a.dtype == b.dtype and np.array_equal(a, b)


# --- the source digits and their split --------------------------------------------------


@functools.lru_cache(maxsize=2)
def source_digits(split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 8×8 source digits of one split: (images (M, 8, 8) float in [0, 1], labels, indices).

    ``indices`` point into ``sklearn.datasets.load_digits()``; train and test share none.
    "val" is a fixed third of each class's test digits (see `without_validation_digits`).

    >>> val, test = source_digits("val")[2], source_digits("test")[2]
    >>> len(val), len(test), bool(np.isin(val, test).all())
    (179, 539, True)
    """
    if split not in SPLITS:
        raise ValueError(f'split must be "train", "test" or "val", got {split!r}')
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no download

    digits = load_digits()
    rng = np.random.default_rng(_SPLIT_SEED)
    chosen = []
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(digits.target == digit))
        cut = round(_TRAIN_FRACTION * len(members))
        if split == "train":
            chosen.append(members[:cut])
        elif split == "test":
            chosen.append(members[cut:])
        else:  # the first third of the test digits, in the same fixed order
            chosen.append(members[cut:cut + round(_VAL_FRACTION * (len(members) - cut))])
    indices = np.sort(np.concatenate(chosen))
    images = digits.images[indices].astype(np.float32) / 16.0
    return images, digits.target[indices].astype(np.int64), indices


def without_validation_digits(data: ClutteredDigits) -> ClutteredDigits:
    """The images of a set whose handwritten source digit is not a validation digit.

    Use it on a "test" set when a threshold (or anything else) was chosen on a "val" set:
    what is left shares no handwritten digit with the validation images, nor with training.

    >>> test = without_validation_digits(make_cluttered_digits(30, "test", seed=0))
    >>> bool(np.isin(test.sources, source_digits("val")[2]).any())
    False
    """
    if not isinstance(data, ClutteredDigits):
        raise TypeError(f"data must be a ClutteredDigits set, got {type(data).__name__}")
    return data.subset(~np.isin(data.sources, source_digits("val")[2]))


# --- drawing ------------------------------------------------------------------------------


def _placement_thetas(centres, sizes, angles, image_size: int) -> torch.Tensor:
    """Affine maps (N, 2, 3) from output to source coordinates, for `F.affine_grid`.

    Both are normalized to [-1, 1] (align_corners=False). An output pixel p (in pixels)
    sits at d = p - c from the digit's centre c; rotating d by -angle and dividing by the
    half size (w/2, h/2) gives its place in the 8×8 source frame.
    """
    half = image_size / 2.0
    cos, sin = np.cos(angles), np.sin(angles)
    # source = diag(2/w, 2/h) · R(-angle) · (half · out + half - c)
    a = np.stack([np.stack([cos, sin], -1), np.stack([-sin, cos], -1)], -2)  # R(-angle)
    a = a * (2.0 / sizes)[:, :, None]
    linear = a * half
    offset = np.einsum("nij,nj->ni", a, half - centres)
    return torch.from_numpy(np.concatenate([linear, offset[:, :, None]], -1).astype(np.float32))


def _warp(sources: np.ndarray, thetas: torch.Tensor, image_size: int) -> torch.Tensor:
    """Draw 8×8 sources (N, 8, 8) into (N, H, W) images with bicubic interpolation."""
    # The sampling grid of F.affine_grid, built by broadcasting (several times faster).
    coords = (torch.arange(image_size, dtype=torch.float32) * 2 + 1) / image_size - 1
    t = thetas[:, :, :, None, None]
    x, y = coords[None, None, :], coords[None, :, None]
    grid = torch.stack([t[:, 0, 0] * x + t[:, 0, 1] * y + t[:, 0, 2],
                        t[:, 1, 0] * x + t[:, 1, 1] * y + t[:, 1, 2]], dim=-1)
    src = torch.from_numpy(sources)[:, None]
    out = F.grid_sample(src, grid, mode="bicubic", padding_mode="zeros", align_corners=False)
    return out[:, 0].clamp_(0.0, 1.0)


def _random_placements(rng, n: int, image_size: int, scale: tuple[float, float], margin: bool):
    """Centres, sizes (w, h) in pixels and angles for n digits.

    With ``margin`` the rotated source frame, plus one source pixel on every side
    (bicubic ink can spill that far), fits inside the image (a large tilted digit is
    shrunk until it does), so a digit drawn in the middle is never cut. The digits are
    then moved by `_shift_anywhere`; fragments (no margin) may be cut by the border.
    """
    height = rng.uniform(*scale, n) * image_size
    width = height * rng.uniform(0.8, 1.15, n)
    angles = np.deg2rad(rng.uniform(-15.0, 15.0, n))
    sizes = np.stack([width, height], -1)
    if margin:
        padded = sizes * 10.0 / 8.0  # the frame grown by one source pixel per side
        cos, sin = np.abs(np.cos(angles)), np.abs(np.sin(angles))
        extent_x = (padded[:, 0] * cos + padded[:, 1] * sin) / 2
        extent_y = (padded[:, 0] * sin + padded[:, 1] * cos) / 2
        # A large, tilted digit may not fit: shrink it until it does.
        shrink = np.minimum(1.0, image_size / 2 / np.maximum(extent_x, extent_y))
        sizes, extent_x, extent_y = sizes * shrink[:, None], extent_x * shrink, extent_y * shrink
        cx = rng.uniform(extent_x, image_size - extent_x)
        cy = rng.uniform(extent_y, image_size - extent_y)
    else:
        cx, cy = rng.uniform(0, image_size, (2, n))
    return np.stack([cx, cy], -1), sizes, angles


def _random_colours(rng, n: int, background_level: np.ndarray) -> np.ndarray:
    """Colours (n, 3) whose brightness differs from the background's by 0.4 to 0.6."""
    sign = np.where(background_level < 0.5, 1.0, -1.0)
    level = background_level + sign * rng.uniform(0.4, 0.6, n)
    return np.clip(level[:, None] + rng.uniform(-0.15, 0.15, (n, 3)), 0.0, 1.0)


def _shift_anywhere(ink: torch.Tensor, masks: torch.Tensor, rng) -> torch.Tensor:
    """Move each digit by a whole number of pixels to a uniformly random place where its
    ink box stays at least one pixel from every border.

    Whole-pixel moves keep the drawn pixels (and so the box) exactly as drawn; placing
    the ink box, not the 8×8 frame (whose empty margins vary from digit to digit), spreads
    the digits evenly over the image.
    """
    n, h, w = ink.shape
    x0, y0, x1, y1 = _boxes_from_masks(masks.numpy()).T
    dx = np.floor(rng.uniform(1 - x0, w - x1)).astype(np.int64)  # new x0 in [1, w - x1 + x0 - 1]
    dy = np.floor(rng.uniform(1 - y0, h - y1)).astype(np.int64)
    rows = torch.arange(h)[None, :] - torch.from_numpy(dy)[:, None]  # (n, h) source rows
    cols = torch.arange(w)[None, :] - torch.from_numpy(dx)[:, None]
    valid = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]
    batch = torch.arange(n)[:, None, None]
    moved = ink[batch, rows.clamp(0, h - 1)[:, :, None], cols.clamp(0, w - 1)[:, None, :]]
    return torch.where(valid, moved, 0.0)


def _boxes_from_masks(masks: np.ndarray) -> np.ndarray:
    """Tight half-open boxes (N, 4) of boolean masks (N, H, W), each with at least one pixel."""
    cols, rows = masks.any(axis=1), masks.any(axis=2)
    width, height = masks.shape[2], masks.shape[1]
    x0 = cols.argmax(1)
    x1 = width - cols[:, ::-1].argmax(1)
    y0 = rows.argmax(1)
    y1 = height - rows[:, ::-1].argmax(1)
    return np.stack([x0, y0, x1, y1], -1).astype(np.int64)


_CHUNK = 500  # images drawn at once: bounds the memory of the sampling grids


def _generate(n, split, image_size, seed, scale, clutter, noise) -> ClutteredDigits:
    """Draw the set in chunks of 500 images, each with its own seeded generator."""
    parts = [_generate_chunk(min(_CHUNK, n - start), split, image_size,
                             [seed, SPLITS.index(split), image_size, start // _CHUNK],
                             scale, clutter, noise)
             for start in range(0, n, _CHUNK)]
    images, labels, masks, sources, clutter_masks = (np.concatenate(a)
                                                     for a in zip(*parts, strict=True))
    params = dict(n=n, split=split, image_size=image_size, seed=seed, scale=list(scale),
                  clutter=clutter, noise=noise, version=GENERATOR_VERSION)
    return ClutteredDigits(images, labels, _boxes_from_masks(masks), masks, sources, params,
                           clutter_masks)


def _generate_chunk(n, split, image_size, seed_sequence, scale, clutter, noise):
    digits, digit_labels, digit_indices = source_digits(split)
    rng = np.random.default_rng(seed_sequence)
    size = image_size

    def tensor(array) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))

    # A smooth coloured background: a random 4×4 colour field, bilinearly enlarged.
    level = rng.uniform(0.15, 0.85, n)
    field = level[:, None, None, None] + rng.uniform(-0.2, 0.2, (n, 3, 4, 4))
    canvas = F.interpolate(tensor(field), size=(size, size), mode="bilinear",
                           align_corners=False)

    # Clutter: fragments (a random window of another digit of the same split), drawn
    # first so that they never hide the digit. They look like strokes, not like digits.
    clutter_masks = np.zeros((n, size, size), dtype=bool)
    if clutter > 0:
        count = n * clutter
        picks = rng.integers(0, len(digits), count)
        windows = np.zeros((count, 8, 8), np.float32)
        x0, y0 = rng.integers(0, 5, (2, count))
        w, h = rng.integers(3, 5, (2, count))
        ys, xs = np.arange(8)[None, :, None], np.arange(8)[None, None, :]
        inside = (ys >= y0[:, None, None]) & (ys < (y0 + h)[:, None, None])
        inside = inside & (xs >= x0[:, None, None]) & (xs < (x0 + w)[:, None, None])
        windows[inside] = digits[picks][inside]
        centres, sizes, angles = _random_placements(rng, count, size, scale, margin=False)
        ink = _warp(windows, _placement_thetas(centres, sizes, angles, size), size)
        opacity = tensor(rng.uniform(0.3, 0.7, (count, 1, 1)))
        alpha = ((ink - _INK) / 0.5).clamp_(0, 1).mul_(opacity).view(n, clutter, 1, size, size)
        clutter_masks = (ink > _INK).view(n, clutter, size, size).any(dim=1).numpy()
        colours = tensor(_random_colours(rng, count, np.repeat(level, clutter)))
        colours = colours.view(n, clutter, 3, 1, 1)
        for layer in range(clutter):
            canvas.lerp_(colours[:, layer].expand_as(canvas), alpha[:, layer])

    # The digit: bicubic upscaling of the 8×8 source keeps the strokes smooth. Its pixels
    # are those with more than 25% ink; each is blended at 35% opacity or more, so it is
    # visibly different from the background, and the box is exactly their bounding box.
    picks = rng.integers(0, len(digits), n)
    centres, sizes, angles = _random_placements(rng, n, size, scale, margin=True)
    centres[:] = size / 2  # drawn in the middle first, then moved by whole pixels
    ink = _warp(digits[picks], _placement_thetas(centres, sizes, angles, size), size)
    ink = _shift_anywhere(ink, ink > _INK, rng)
    masks = ink > _INK
    alpha = torch.where(masks, 0.35 + 0.65 * ((ink - _INK) / 0.5).clamp(0, 1), 0.0)[:, None]
    texture = 1.0 + 0.15 * tensor(rng.standard_normal((n, 1, size, size), np.float32))
    colour = (tensor(_random_colours(rng, n, level))[:, :, None, None] * texture).clamp_(0, 1)
    canvas.lerp_(colour, alpha)

    if noise > 0:
        canvas += noise * tensor(rng.standard_normal(canvas.shape, np.float32))
    images = canvas.mul_(255).round_().clamp_(0, 255).to(torch.uint8).numpy()
    return images, digit_labels[picks], masks.numpy(), digit_indices[picks], clutter_masks


# --- the public generator with its disk cache ---------------------------------------------


def _cache_path(params: dict) -> Path:
    key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    return paths.CACHE_DIR / "cluttered_digits" / f"{params['split']}-{params['n']}-{key}.npz"


def make_cluttered_digits(
    n: int,
    split: str = "train",
    image_size: int = 64,
    seed: int = 0,
    scale: tuple[float, float] = (0.4, 0.65),
    clutter: int = 4,
    noise: float = 0.05,
    cache: bool = True,
) -> ClutteredDigits:
    """Generate (or load from the cache) ``n`` cluttered-digit images.

    Parameters
    ----------
    n : number of images (> 0)
    split : "train", "test" or "val"; train and test draw on disjoint sets of handwritten
        source digits, "val" on a third of the test digits (see `without_validation_digits`)
    image_size : side of the square images in pixels, H = W (>= 16)
    seed : the same seed (and parameters) always gives the same images
    scale : (low, high) range of the digit's height as a fraction of S
    clutter : number of digit fragments scattered over the background (>= 0)
    noise : standard deviation of the Gaussian pixel noise, in units of full intensity
    cache : read and write ``CACHE_DIR/cluttered_digits/<split>-<n>-<hash>.npz``

    Returns
    -------
    ClutteredDigits with ``images`` (N, 3, H, W) uint8, ``labels`` (N,), ``boxes`` (N, 4)
    half-open (x0, y0, x1, y1), ``masks`` (N, H, W), ``sources`` (N,) and
    ``clutter_masks`` (N, H, W).

    Example
    -------
    >>> test = make_cluttered_digits(4, split="test", seed=1)
    >>> x0, y0, x1, y1 = test.boxes[0]
    >>> bool(test.masks[0, y0:y1, x0:x1].sum() == test.masks[0].sum())
    True
    """
    for name, value in (("n", n), ("image_size", image_size), ("seed", seed),
                        ("clutter", clutter)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    if image_size < 16:
        raise ValueError(f"image_size must be at least 16, got {image_size}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if clutter < 0:
        raise ValueError(f"clutter must be non-negative, got {clutter}")
    if split not in SPLITS:
        raise ValueError(f'split must be "train", "test" or "val", got {split!r}')
    low, high = (float(s) for s in scale)
    if not 0.05 <= low <= high <= 0.75:
        raise ValueError(f"scale must satisfy 0.05 <= low <= high <= 0.75, got {scale}")
    if not 0.0 <= float(noise) <= 1.0:
        raise ValueError(f"noise must lie in [0, 1], got {noise}")
    params = dict(n=int(n), split=split, image_size=int(image_size), seed=int(seed),
                  scale=[low, high], clutter=int(clutter), noise=float(noise),
                  version=GENERATOR_VERSION)
    path = _cache_path(params)
    if cache and path.exists():
        try:
            with np.load(path) as stored:
                arrays = {k: stored[k] for k in ("images", "labels", "boxes", "masks",
                                                 "sources", "clutter_masks")}
            return ClutteredDigits(**arrays, params=params)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache file is regenerated below
    data = _generate(int(n), split, int(image_size), int(seed), (low, high), int(clutter),
                     float(noise))
    if cache:
        _save(path, data)
    return data


def _save(path: Path, data: ClutteredDigits) -> None:
    """Write atomically: a crash or a parallel writer never leaves half a file behind."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".npz")
        with os.fdopen(handle, "wb") as file:
            np.savez(file, images=data.images, labels=data.labels, boxes=data.boxes,
                     masks=data.masks, sources=data.sources, clutter_masks=data.clutter_masks)
        os.replace(temporary, path)
    except OSError:
        pass  # a read-only home still gets its data, just not cached


# --- from uint8 arrays to float tensors, per batch ----------------------------------------


def to_float(images, device: torch.device | str | None = None) -> torch.Tensor:
    """uint8 images (N, 3, H, W) -> float32 tensor in [0, 1] on ``device``.

    The copy to the device happens in uint8 (4× less traffic), the conversion after.

    >>> to_float(np.full((1, 3, 2, 2), 255, np.uint8)).max().item()
    1.0
    """
    tensor = torch.as_tensor(images)
    if tensor.dtype != torch.uint8:
        raise TypeError(f"images must be uint8, got {tensor.dtype}")
    return tensor.to(device).float().div_(255.0)


def batches(
    data: ClutteredDigits,
    batch_size: int = 256,
    shuffle: bool = False,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Yield (images float (B, 3, H, W), labels (B,), boxes (B, 4)) tensors on ``device``.

    The fast path for training and evaluation: slicing whole batches avoids the per-item
    overhead of a DataLoader. ``shuffle`` uses its own generator seeded by ``seed``.
    """
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    images = torch.from_numpy(data.images)
    labels = torch.from_numpy(data.labels)
    boxes = torch.from_numpy(data.boxes)
    if shuffle:
        order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    else:
        order = torch.arange(len(data))
    for start in range(0, len(data), batch_size):
        index = order[start:start + batch_size]
        yield to_float(images[index], device), labels[index].to(device), boxes[index].to(device)


class ClutteredDigitsDataset(torch.utils.data.Dataset):
    """A torch Dataset over a `ClutteredDigits` set: item i is (image float, label, box).

    >>> dataset = ClutteredDigitsDataset(make_cluttered_digits(2, "test"))
    >>> image, label, box = dataset[0]
    >>> image.shape, image.dtype
    (torch.Size([3, 64, 64]), torch.float32)
    """

    def __init__(self, data: ClutteredDigits):
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        d = self.data
        return (to_float(d.images[index]), torch.tensor(d.labels[index]),
                torch.from_numpy(d.boxes[index]))


def data_loader(data: ClutteredDigits, batch_size: int = 256, shuffle: bool = False,
                seed: int = 0) -> torch.utils.data.DataLoader:
    """A standard DataLoader over `ClutteredDigitsDataset` (seeded when shuffling)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(ClutteredDigitsDataset(data), batch_size=batch_size,
                                       shuffle=shuffle, generator=generator)
