"""Checks for lesson 05 (seeing CAMs): upsampling, normalization, thresholding.

- Exercise 5.1 ``upsample_maps(maps, size)``: bilinear, align_corners=False.
- Exercise 5.2 ``normalize_maps(maps, mode)``: "minmax" and "max", constant maps -> 0.
- Exercise 5.3 ``threshold_mask(cam, fraction)``: {M ≥ fraction · max M}.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from camlib import reference
from camlib.checks._core import Context, _to_array, exercise_check

__all__ = ["exercise_5_1", "exercise_5_2", "exercise_5_3"]


def _interpolate(maps: np.ndarray, size: int, **options) -> np.ndarray:
    tensor = torch.from_numpy(maps)[:, None]
    return F.interpolate(tensor, size=(size, size), **options)[:, 0].numpy()


@exercise_check("5.1", function="upsample_maps")
def exercise_5_1(ctx: Context, fn) -> str:
    """Check ``upsample_maps(maps, size)`` (N, H, W) -> (N, size, size)."""
    for n, h, size in [(2, 4, 16), (3, 5, 12)]:
        maps = ctx.rng.normal(size=(n, h, h))
        expected = reference.upsample(maps, size)
        ctx.compare(ctx.call(fn, maps, size), expected, axes=("N", "H", "W"), mistakes={
            "you used align_corners=True; the course maps pixel centres onto pixel centres, "
            "F.interpolate's default: align_corners=False":
            _interpolate(maps, size, mode="bilinear", align_corners=True),
            "you used nearest-neighbour resizing (blocky); use mode=\"bilinear\"":
            _interpolate(maps, size, mode="nearest"),
            "you used bicubic resizing; use mode=\"bilinear\"":
            _interpolate(maps, size, mode="bicubic", align_corners=False),
        })
    return "bilinear upsampling with align_corners=False"


@exercise_check("5.2", function="normalize_maps")
def exercise_5_2(ctx: Context, fn) -> str:
    """Check ``normalize_maps(maps, mode)`` for both modes, with a constant map."""
    maps = ctx.rng.normal(size=(3, 5, 6))
    maps[0] += 2.0  # an all-positive map,
    maps[2] = 0.7  # and a constant one: its min-max span is 0
    for mode in ("minmax", "max"):
        expected = reference.normalize(maps, mode)
        global_minmax = (maps - maps.min()) / (maps.max() - maps.min())
        got = ctx.call(fn, maps, mode)
        array = _to_array(got)
        if array is not None and array.shape == maps.shape and not np.isfinite(array[2]).all():
            ctx.fail(f'normalize_maps(maps, "{mode}"): the constant map (item 2, every value '
                     f"0.7) became NaN or inf: its max - min is 0. Return zeros for a map "
                     f"with nothing to rescale (np.where(span > 0, ..., 0))")
        ctx.compare(got, expected, axes=("N", "H", "W"), mistakes={
            "you normalized the whole batch with one min and max; normalize each map over "
            "its own (x, y)": global_minmax,
            "you divided by the max although mode=\"minmax\" asks for (M - min) / (max - min)":
            reference.normalize(maps, "max"),
            "you used min-max although mode=\"max\" asks for M / max M":
            reference.normalize(maps, "minmax"),
        })
    return "each map rescaled on its own; a constant map becomes zeros, not NaN"


@exercise_check("5.3", function="threshold_mask")
def exercise_5_3(ctx: Context, fn) -> str:
    """Check ``threshold_mask(cam, fraction)`` -> bool (H, W)."""
    cam = ctx.rng.normal(size=(8, 8))
    cam[2, 3] = 0.2 * cam.max()  # a pixel exactly at 20% of the max: kept by ">="
    for fraction in (0.2, 0.5):
        expected = cam >= fraction * cam.max()
        minmax = reference.normalize(cam[None], "minmax")[0] >= fraction
        got = ctx.call(fn, cam, fraction)
        ctx.compare(got, expected, what=f"threshold_mask(cam, {fraction})", axes=("H", "W"),
                    mistakes={
                        "you used >; a pixel exactly at fraction · max belongs to the mask "
                        "(>=)": cam > fraction * cam.max(),
                        "you thresholded the min-max normalized map; the paper's rule is a "
                        "fraction of the max: M >= fraction · max M": minmax,
                        "you kept the pixels below the threshold": cam < fraction * cam.max(),
                    })
    return "the mask {M ≥ fraction · max M}"
