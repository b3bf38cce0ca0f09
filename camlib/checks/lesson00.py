"""Checks for lesson 00 (set-up and tour): images as numbers, and the box convention.

- Exercise 0.1 ``to_unit_float(images)``: uint8 pixels 0..255 -> floats in [0, 1].
- Exercise 0.2 ``crop_box(image, box)``: the pixels inside a half-open box (x0, y0, x1, y1).
"""

from __future__ import annotations

import numpy as np

from camlib.checks._core import Context, Factor, _to_array, exercise_check

__all__ = ["exercise_0_1", "exercise_0_2"]

_FACTOR_255 = Factor(
    "255", 255.0,
    too_large="did you forget to divide by 255?",
    too_small="did you divide by 255 twice?",
)


@exercise_check("0.1", function="to_unit_float")
def exercise_0_1(ctx: Context, fn) -> str:
    """Check ``to_unit_float(images)``: uint8 (N, 3, S, S) -> float array in [0, 1]."""
    for shape in [(2, 3, 8, 8), (3, 3, 5, 7)]:
        images = ctx.rng.integers(0, 256, size=shape, dtype=np.uint8)
        images.flat[0], images.flat[1] = 0, 255  # both ends of the range are present
        expected = images.astype(np.float64) / 255.0
        got = ctx.call(fn, images)
        ctx.compare(got, expected, axes=("N", "3", "S", "S"), factors=[_FACTOR_255])
        array = _to_array(got)
        ctx.require(array is not None and array.dtype.kind == "f",
                    f"the values are right but the dtype is {getattr(array, 'dtype', None)}; "
                    f"networks need floating-point input (float32)")
    return "uint8 0..255 becomes float 0..1"


def _crop(image: np.ndarray, box) -> np.ndarray:
    x0, y0, x1, y1 = box
    return image[:, y0:y1, x0:x1]


@exercise_check("0.2", function="crop_box")
def exercise_0_2(ctx: Context, fn) -> str:
    """Check ``crop_box(image, box)``: image[:, y0:y1, x0:x1] for a half-open box."""
    image = ctx.rng.integers(0, 256, size=(3, 12, 16), dtype=np.uint8)
    # Boxes wider than tall (and off-centre), so swapping x and y changes the shape.
    for box in [(2, 3, 9, 6), (0, 0, 5, 11), (7, 1, 16, 4)]:
        expected = _crop(image, box)
        got = ctx.call(fn, image, box)
        array = _to_array(got)
        if array is not None and array.shape != expected.shape:
            x0, y0, x1, y1 = box
            if array.shape == image[:, x0:x1, y0:y1].shape:
                ctx.fail(f"crop_box(image, {box}) has shape {array.shape}, expected "
                         f"{expected.shape}: x and y are swapped. x is the column (last axis), "
                         f"y the row: image[:, y0:y1, x0:x1]")
            if array.shape == image[:, y0:y1 + 1, x0:x1 + 1].shape:
                ctx.fail(f"crop_box(image, {box}) has shape {array.shape}, expected "
                         f"{expected.shape}: one row and one column too many. The box is "
                         f"half-open: x1 and y1 are the first column and row outside it")
            if array.shape == image[:, y0:y1 - 1, x0:x1 - 1].shape:
                ctx.fail(f"crop_box(image, {box}) has shape {array.shape}, expected "
                         f"{expected.shape}: one row and one column too few. x1 - x0 is the "
                         f"width, so image[:, y0:y1, x0:x1] already covers the whole box")
        ctx.compare(got, expected, what=f"crop_box(image, {box})", axes=("3", "h", "w"))
    return "the half-open box (x0, y0, x1, y1) is image[:, y0:y1, x0:x1]"
