"""Checks for lesson 00 (set-up and tour): images as numbers, and the box convention.

- Exercise 0.1 ``to_unit_float(images)``: uint8 pixels 0..255 -> floats in [0, 1].
- Exercise 0.2 ``crop_box(image, box)``: the pixels inside a half-open box (x0, y0, x1, y1).

Mistakes named (``tests/test_wrong_answers_00_05.py`` tries each): for 0.1 no division,
integer division, division by 256, by the batch's or each image's largest value, min–max
per image, a result left in uint8 or in float16, nested lists for an array, an input
changed in place; for 0.2 x and y swapped, an inclusive box (one too many), one too few,
(x, y, width, height) read as corners, the channel axis sliced instead of kept.
"""

from __future__ import annotations

import numpy as np

from camcourse.checks._core import (
    Context,
    Factor,
    _is_tensor,
    _to_array,
    describe,
    exercise_check,
)

__all__ = ["exercise_0_1", "exercise_0_2"]

_FACTOR_255 = Factor(
    "255", 255.0,
    too_large="did you forget to divide by 255?",
    too_small="did you divide by 255 twice?",
)


def _batches_0_1(ctx: Context) -> list[np.ndarray]:
    """uint8 batches: both ends of 0..255, a non-square one, and one whose largest value
    is below 255 (dividing by the batch's max then differs from dividing by 255)."""
    full = ctx.rng.integers(0, 256, size=(2, 3, 8, 8), dtype=np.uint8)
    full[1] = ctx.rng.integers(30, 256, size=full.shape[1:], dtype=np.uint8)  # min above 0
    full.flat[0], full.flat[1] = 0, 255
    dim = ctx.rng.integers(20, 201, size=(3, 3, 5, 7), dtype=np.uint8)  # max ≤ 200, min ≥ 20
    dim[1] = ctx.rng.integers(60, 121, size=(3, 5, 7), dtype=np.uint8)  # another range
    batches = [full, dim]
    if ctx.hidden:
        for _ in range(2):
            shape = (int(ctx.rng.integers(1, 4)), 3, int(ctx.rng.integers(3, 12)),
                     int(ctx.rng.integers(3, 12)))
            low = int(ctx.rng.integers(0, 100))
            batches.append(ctx.rng.integers(low, 256, size=shape, dtype=np.uint8))
    return batches


@exercise_check("0.1", function="to_unit_float")
def exercise_0_1(ctx: Context, fn) -> str:
    """Check ``to_unit_float(images)``: uint8 (N, 3, H, W) -> float array in [0, 1]."""
    for images in _batches_0_1(ctx):
        expected = images.astype(np.float64) / 255.0
        wide = images.astype(np.float64)
        batch_max = max(float(wide.max()), 1.0)
        image_max = np.maximum(wide.max(axis=(1, 2, 3), keepdims=True), 1.0)
        low = wide.min(axis=(1, 2, 3), keepdims=True)
        span = np.maximum(image_max - low, 1.0)
        got = ctx.call(fn, images)
        array = _to_array(got)
        if array is not None and array.dtype == np.uint8:
            ctx.fail(f"to_unit_float returned uint8 values {describe_range(array)}: they are "
                     f"rounded to integers, because uint8 holds only whole numbers 0..255 "
                     f"(integer division //, or .astype(np.uint8) at the end?); convert "
                     f"first (images.astype(np.float32)) and then divide by 255")
        if array is not None and array.dtype == np.float16:
            ctx.fail("to_unit_float returned float16, which keeps only about 3 significant "
                     "digits, so most values come out slightly off; use float32")
        # float32's rounding is below 1e-7 of the value; a divisor of 255.02 is not.
        ctx.compare(got, expected, axes=("N", "3", "H", "W"), rtol=1e-6, factors=[_FACTOR_255],
                    mistakes={
            "you divided by 256; the largest byte is 255, so divide by 255 to send 255 to "
            "exactly 1": wide / 256.0,
            "you divided by the largest value in the batch; divide by 255, the largest "
            "possible byte, so a pixel value means the same in every batch": wide / batch_max,
            "you divided each image by its own largest value; divide by 255, so a pixel "
            "value means the same in every image": wide / image_max,
            "you min-max normalized each image; divide by 255 instead, so 0 stays 0 and a "
            "pixel value means the same in every image": (wide - low) / span,
            "your values are rounded to integers: integer division (//) or a uint8/int "
            "result; convert to float first, then divide by 255": np.floor(expected),
        })
        ctx.require(isinstance(got, np.ndarray) or _is_tensor(got),
                    f"the values are right but to_unit_float returned {describe(got)}; return "
                    f"an array of the images' shape (a network takes an array, not nested "
                    f"lists): drop the .tolist() or list(...)")
        ctx.require(array is not None and array.dtype.kind == "f",
                    f"the values are right but the dtype is {getattr(array, 'dtype', None)}; "
                    f"networks need floating-point input (float32)")
    return "uint8 0..255 becomes float 0..1"


def describe_range(array: np.ndarray) -> str:
    """'(from a to b)' for a message."""
    return f"(from {int(array.min())} to {int(array.max())})" if array.size else "(empty)"


def _crop(image: np.ndarray, box) -> np.ndarray:
    x0, y0, x1, y1 = box
    return image[:, y0:y1, x0:x1]


def _boxes_0_2(ctx: Context, height: int, width: int) -> list[tuple[int, int, int, int]]:
    # Boxes wider than tall or taller than wide, off-centre, touching the borders, so that
    # swapping x and y or reading (x, y, w, h) changes the shape or the values. Every box
    # lies inside the image, as the exercise promises (a crop of shape (3, y1 - y0,
    # x1 - x0)): the fixed ones are drawn for the 12 × 16 image, and a smaller hidden
    # image keeps only those that fit; one more ends at the image's far corner, whatever
    # its size.
    boxes = [box for box in [(2, 3, 9, 6), (0, 0, 5, 11), (7, 1, 16, 4)]
             if box[2] <= width and box[3] <= height]
    boxes.append((width - 9, height - 7, width, height))
    if ctx.hidden:
        for _ in range(4):
            x0 = int(ctx.rng.integers(0, width - 2))
            y0 = int(ctx.rng.integers(0, height - 2))
            x1 = int(ctx.rng.integers(x0 + 1, width + 1))
            y1 = int(ctx.rng.integers(y0 + 1, height + 1))
            boxes.append((x0, y0, x1, y1))
    return boxes


@exercise_check("0.2", function="crop_box")
def exercise_0_2(ctx: Context, fn) -> str:
    """Check ``crop_box(image, box)``: image[:, y0:y1, x0:x1] for a half-open box."""
    # Two sizes, so that a crop clipped to one image's size (a hard-coded 12 or 16) fails.
    images = [ctx.rng.integers(0, 256, size=(3, 12, 16), dtype=np.uint8),
              ctx.rng.integers(0, 256, size=(3, 21, 27), dtype=np.uint8)]
    if ctx.hidden:
        images.append(ctx.rng.integers(0, 256, size=(3, int(ctx.rng.integers(9, 40)),
                                                     int(ctx.rng.integers(9, 40))),
                                       dtype=np.uint8))
    for image in images:
        for box in _boxes_0_2(ctx, image.shape[1], image.shape[2]):
            _check_one_box(ctx, fn, image, box)
    return "the half-open box (x0, y0, x1, y1) is image[:, y0:y1, x0:x1]"


def _check_one_box(ctx: Context, fn, image: np.ndarray, box) -> None:
    x0, y0, x1, y1 = box
    expected = _crop(image, box)
    got = ctx.call(fn, image, box)
    array = _to_array(got)
    label = f"crop_box(image of shape {image.shape}, box={box})"
    named = [
        (image[:, x0:x1, y0:y1], "x and y are swapped. x is the column (last axis), y the "
                                 "row: image[:, y0:y1, x0:x1]"),
        (image[:, y0:y1 + 1, x0:x1 + 1], "one row and one column too many. The box is "
                                         "half-open: x1 and y1 are the first column and row "
                                         "outside it"),
        (image[:, y0:max(y1 - 1, y0), x0:max(x1 - 1, x0)],
         "one row and one column too few. x1 - x0 is the width, so image[:, y0:y1, x0:x1] "
         "already covers the whole box"),
        (image[:, y0:y0 + y1, x0:x0 + x1], "you read the box as (x, y, width, height). The "
                                           "course's boxes are corners: (x0, y0, x1, y1), "
                                           "so take image[:, y0:y1, x0:x1]"),
        (image[y0:y1, x0:x1], "you sliced the colour-channel axis. The image is (3, H, W): "
                              "keep all 3 channels with image[:, y0:y1, x0:x1]"),
        (image[:, y0:y1, x0:x1].transpose(0, 2, 1), "the crop is transposed (3, width, "
                                                    "height); rows come first: "
                                                    "image[:, y0:y1, x0:x1]"),
    ]
    if array is not None and not (array.shape == expected.shape
                                  and np.array_equal(array, expected)):
        for wrong, why in named:
            if array.shape == wrong.shape and np.array_equal(array, wrong) and not (
                    wrong.shape == expected.shape and np.array_equal(wrong, expected)):
                ctx.fail(f"{label} returned shape {array.shape}, expected {expected.shape}: "
                         f"{why}")
    ctx.compare(got, expected, what=label, axes=("3", "h", "w"))
