"""Checks for lesson 05 (seeing CAMs): upsampling, normalization, thresholding, in order.

- Exercise 5.1 ``upsample_maps(maps, size)``: bilinear, align_corners=False, to an int
  size or a (height, width) pair.
- Exercise 5.2 ``normalize_maps(maps, mode)``: "minmax" and "max", per map; a map with
  nothing to rescale -> zeros.
- Exercise 5.3 ``threshold_mask(cam, fraction)``: {M ≥ fraction · max M}; a map with no
  positive value keeps the pixels equal to its max (camlib's convention).
- Exercise 5.4 ``cam_pipeline(cam, size, fraction)``: from a coarse M_c to the heat map,
  the mask and the box at image size, in the right order.

Mistakes named (``tests/test_wrong_answers_00_05.py`` tries each): for 5.1
align_corners=True, nearest, bicubic, height and width swapped, a ReLU or normalization
inside, the channel axis left in; for 5.2 one scale for the whole batch, the modes swapped
or ignored, NaN on a constant map, zeros for a constant positive map in "max" mode,
division by a negative max or by max |M|, (M − min)/max, one scale per row; for 5.3 >, the
min–max normalized map, the pixels below, a fraction of max |M|, the fraction itself as
the threshold, dividing by the max first (wrong when the max is negative), an empty mask
when no value is positive or only np.argmax's pixel kept then, a mask that is not boolean;
for 5.4 every out-of-order step (normalizing, a ReLU or thresholding before upsampling, a
box from the coarse map), the wrong normalization, nearest, bicubic or align_corners=True
resizing, swapped height and width, the heat map thresholded instead of the raw map, a
fraction of max |M|, every kept pixel boxed instead of the largest component, the first
component (label 1) boxed instead of the largest, inclusive or (y, x) boxes, a box clipped
to width − 1 and height − 1.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from camcourse.checks._core import Context, _to_array, exercise_check
from camlib import reference

__all__ = ["exercise_5_1", "exercise_5_2", "exercise_5_3", "exercise_5_4"]


def _distinct(expected: np.ndarray, mistakes: dict) -> dict:
    """The mistakes whose value differs from the right answer on this input."""
    out = {}
    for message, value in mistakes.items():
        v = np.asarray(value)
        if v.shape != np.shape(expected) or not np.allclose(v.astype(np.float64),
                                                            np.asarray(expected, np.float64)):
            out[message] = v
    return out


def _interpolate(maps: np.ndarray, size: tuple[int, int], **options) -> np.ndarray:
    tensor = torch.from_numpy(np.ascontiguousarray(maps, dtype=np.float64))
    return F.interpolate(tensor[:, None], size=size, **options)[:, 0].numpy()


def _pair(size) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else tuple(size)


@exercise_check("5.1", function="upsample_maps")
def exercise_5_1(ctx: Context, fn) -> str:
    """Check ``upsample_maps(maps, size)`` (N, H, W) -> (N, height, width)."""
    # Non-square maps and a non-square (height, width): swapped axes change the shape.
    # The last: one map alone, so an answer squeezed to (height, width) fails.
    cases = [(2, 4, 4, 16), (3, 5, 3, (12, 20)), (2, 4, 6, (8, 24)), (2, 3, 5, 15),
             (1, 3, 4, (9, 10))]
    if ctx.hidden:
        for _ in range(2):
            h, w = int(ctx.rng.integers(2, 9)), int(ctx.rng.integers(2, 9))
            cases.append((int(ctx.rng.integers(1, 4)), h, w,
                          (int(ctx.rng.integers(h, 40)), int(ctx.rng.integers(w, 40)))))
    for n, h, w, size in cases:
        maps = ctx.rng.normal(size=(n, h, w)) * ctx.rng.uniform(0.5, 5.0)
        height, width = _pair(size)
        expected = reference.upsample(maps, (height, width))
        mistakes = {
            "you used align_corners=True; the course maps pixel centres onto pixel centres, "
            "nnf.interpolate's default: align_corners=False":
            _interpolate(maps, (height, width), mode="bilinear", align_corners=True),
            "you used nearest-neighbour resizing (blocky); use mode=\"bilinear\"":
            _interpolate(maps, (height, width), mode="nearest"),
            "you used bicubic resizing; use mode=\"bilinear\"":
            _interpolate(maps, (height, width), mode="bicubic", align_corners=False),
            "you clipped negative values to 0 (a ReLU); upsampling alone keeps the sign":
            np.maximum(expected, 0),
            "you normalized the maps (min-max); this function only resizes":
            reference.normalize(expected, "minmax"),
        }
        if height != width:
            mistakes["height and width are swapped: the maps were resized to (width, height) "
                     "and transposed back; size is (height, width), rows first"] = \
                reference.upsample(maps.transpose(0, 2, 1), (width, height)).transpose(0, 2, 1)
        got = ctx.call(fn, maps, size)
        array = _to_array(got)
        if array is not None and array.shape == (n, width, height) and height != width:
            ctx.fail(f"upsample_maps(maps, size={size}) returned shape {array.shape}, expected "
                     f"{expected.shape}: height and width are swapped; size is "
                     f"(height, width), rows first, as in nnf.interpolate")
        if isinstance(size, int) and h != w and array is not None and array.shape[0] == n \
                and array.shape != expected.shape and min(array.shape[1:]) == size:
            ctx.fail(f"upsample_maps(maps of shape {maps.shape}, size={size}) returned shape "
                     f"{array.shape}, expected {expected.shape}: an int size means a square "
                     f"size × size map (as in nnf.interpolate); you scaled the shorter side "
                     f"and kept the aspect ratio (torchvision's resize does that)")
        if array is not None and array.shape == (n, 1, height, width):
            ctx.fail(f"upsample_maps returned shape {array.shape}: the channel axis that "
                     f"nnf.interpolate needs is still there; remove it ([:, 0]) to return "
                     f"(N, height, width)")
        ctx.compare(got, expected, what=f"upsample_maps(maps of shape {maps.shape}, "
                    f"size={size})", axes=("N", "H", "W"), mistakes=_distinct(expected, mistakes))
    return "bilinear upsampling with align_corners=False, to (height, width)"


@exercise_check("5.2", function="normalize_maps")
def exercise_5_2(ctx: Context, fn) -> str:
    """Check ``normalize_maps(maps, mode)`` for both modes, with a constant map."""
    batches = [ctx.rng.normal(size=(5, 5, 6))]
    maps = batches[0]
    maps[0] += 2.0  # an all-positive map,
    maps[1] = -np.abs(maps[1]) - 0.5  # one whose max is below zero,
    maps[2] = 0.7  # a constant one: its min-max span is 0,
    maps[3] *= 30.0  # one with a large spread
    maps[4] = -np.abs(maps[4])  # and one whose max is exactly 0 (a ReLU'd map's edge case)
    maps[4, 2, 3] = 0.0
    batches.append(ctx.rng.normal(size=(1, 4, 7)) + 0.5)  # one map: not squeezed to (H, W)
    if ctx.hidden:
        extra = ctx.rng.normal(size=(int(ctx.rng.integers(2, 6)), int(ctx.rng.integers(2, 9)),
                                     int(ctx.rng.integers(2, 9))))
        extra *= ctx.rng.uniform(0.1, 50.0, size=(len(extra), 1, 1))
        extra[0] = extra[0] - np.abs(extra[0]).max() - 1.0
        extra[-1] = np.minimum(extra[-1], 0.0)  # max 0 (the whole map, if it drew no ≤ 0)
        extra[-1].flat[int(ctx.rng.integers(extra[-1].size))] = 0.0
        batches.append(extra)
    for maps in batches:
        for mode in ("minmax", "max"):
            _check_normalize(ctx, fn, maps, mode)
    return ("each map rescaled on its own; a map with nothing to rescale becomes zeros, "
            "not NaN")


def _check_normalize(ctx: Context, fn, maps: np.ndarray, mode: str) -> None:
    expected = reference.normalize(maps, mode)
    low = maps.min(axis=(1, 2), keepdims=True)
    high = maps.max(axis=(1, 2), keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        global_minmax = (maps - maps.min()) / (maps.max() - maps.min())
        by_abs = np.abs(maps).max(axis=(1, 2), keepdims=True)
        row_low = maps.min(axis=2, keepdims=True)
        row_high = maps.max(axis=2, keepdims=True)
        row_span = np.where(row_high > row_low, row_high - row_low, 1.0)
        mistakes = {
            "you normalized the whole batch with one min and max; normalize each map over "
            "its own (x, y)": global_minmax,
            "you divided by the max although mode=\"minmax\" asks for (M - min) / (max - min)"
            if mode == "minmax" else
            "you used min-max although mode=\"max\" asks for M / max M":
            reference.normalize(maps, "max" if mode == "minmax" else "minmax"),
            "you divided by the largest |M|; mode=\"max\" divides by max M, and a map whose "
            "max is ≤ 0 becomes zeros": np.where(by_abs > 0, maps / np.where(by_abs > 0,
                                                                               by_abs, 1), 0.0),
            "you divided by a negative maximum, which flips the map's sign; a map whose max "
            "is ≤ 0 has nothing to rescale: return zeros for it":
            np.where(high != 0, maps / np.where(high != 0, high, 1), 0.0),
            "you divided by a negative maximum, which flips the map's sign, and returned a "
            "map whose max is 0 unchanged; a map whose max is ≤ 0 has nothing to rescale: "
            "return zeros for it": maps / np.where(high != 0, high, 1),
            "you computed (M - min) / max; min-max divides by the span, max - min":
            np.where(high != 0, (maps - low) / np.where(high != 0, high, 1), 0.0),
            "you divided every map by the largest value of the whole batch; divide each map "
            "by its own max (axis=(1, 2), keepdims=True)": maps / maps.max()
            if maps.max() > 0 else np.zeros_like(maps),
            "you normalized each row on its own (axis=2 only); use each map's min and max "
            "over both axes (axis=(1, 2))": (maps - row_low) / row_span,
            "you clipped negative values to 0 first (a ReLU); keep them: min-max sends the "
            "smallest value to 0, divide-by-max keeps negatives below 0":
            reference.normalize(np.maximum(maps, 0), mode),
        }
    got = ctx.call(fn, maps, mode)
    array = _to_array(got)
    if array is not None and array.shape == maps.shape:
        finite = np.isfinite(array.astype(np.float64))
        if not finite.all():
            item = int(np.argwhere(~finite.reshape(len(maps), -1).all(1)).ravel()[0]) \
                if (~finite.reshape(len(maps), -1).all(1)).any() else 0
            what = ("constant (max - min = 0)" if np.ptp(maps[item]) == 0 else
                    "never positive (max ≤ 0)")
            ctx.fail(f'normalize_maps(maps, "{mode}"): map {item}, whose values are {what}, '
                     f"became NaN or inf: a division by zero. Return zeros for a map with "
                     f"nothing to rescale (np.where(span > 0, ..., 0))")
    label = f'normalize_maps(maps of shape {maps.shape}, "{mode}")'
    # A mistake is named from the ordinary maps (positive max, some spread) alone: how a
    # learner guards a constant or negative map must not hide what they did with the rest.
    ordinary = ((high > 0) & (high > low)).ravel()
    if array is not None and array.shape == maps.shape and ordinary.any():
        mine = array.astype(np.float64)[ordinary]
        if not np.allclose(mine, expected[ordinary], rtol=1e-4, atol=1e-8):
            for message, wrong in mistakes.items():
                theirs = np.asarray(wrong, dtype=np.float64)[ordinary]
                if (np.isfinite(theirs).all() and np.allclose(mine, theirs, rtol=1e-4, atol=1e-8)
                        and not np.allclose(theirs, expected[ordinary], rtol=1e-4, atol=1e-8)):
                    ctx.fail(f"{label}: {message}")
    if mode == "max" and array is not None and array.shape == maps.shape:
        # A constant positive map has a max to divide by: only max ≤ 0 gives zeros.
        for item in np.flatnonzero(((high == low) & (high > 0)).ravel()):
            if np.allclose(array[item].astype(np.float64), 0.0):
                ctx.fail(f"{label}: map {item} is constant and positive (every value "
                         f"{float(high.ravel()[item]):g}) and you returned zeros for it; "
                         f"divided by its max it is all ones. In mode \"max\" only a map "
                         f"whose max is ≤ 0 has nothing to divide by (max = min is "
                         f"min-max's zero rule)")
    ctx.compare(got, expected, what=label,
                axes=("N", "H", "W"),
                mistakes=_distinct(expected, {m: v for m, v in mistakes.items()
                                              if np.isfinite(v).all()}))


def _mask(cam: np.ndarray, fraction: float) -> np.ndarray:
    """camlib's rule: {M ≥ fraction · max M}, or {M = max M} when max M ≤ 0."""
    peak = cam.max()
    return cam >= (fraction * peak if peak > 0 else peak)


def _threshold_maps(ctx: Context) -> list[np.ndarray]:
    # Non-square; the most negative value far below -max (so max |M| ≠ max M); a pixel
    # exactly at 20% of the max; and a map whose max is below zero. The max is 5·2^e and
    # the pixel at 20% is 2^e: 0.2 · max rounds to 2^e exactly in float64 and in float32
    # alike, so a learner who computes in float32 meets the same boundary pixel.
    cam = ctx.rng.normal(size=(8, 11))
    scale = 2.0 ** int(ctx.rng.integers(-2, 3))
    cam *= 4.0 * scale / cam.max()
    cam[1, 7] = 5.0 * scale
    cam[0, 0] = -4.0 * cam.max()
    cam[2, 3] = 0.2 * cam.max()
    negative = -np.abs(ctx.rng.normal(size=(6, 5))) - 0.3
    # Its max reached by three pixels: with no positive value every pixel at the max is
    # kept, not only the one np.argmax finds.
    negative[[0, 2, 5], [4, 1, 3]] = negative.max()
    maps = [cam, negative]
    if ctx.hidden:
        hidden = ctx.rng.normal(size=(int(ctx.rng.integers(3, 12)), int(ctx.rng.integers(3, 12))))
        hidden = hidden * ctx.rng.uniform(0.1, 100.0) + ctx.rng.uniform(-1.0, 1.0)
        hidden.flat[0] = -3.0 * np.abs(hidden).max()
        maps.append(hidden)
    return maps


@exercise_check("5.3", function="threshold_mask")
def exercise_5_3(ctx: Context, fn) -> str:
    """Check ``threshold_mask(cam, fraction)`` -> bool (H, W)."""
    for cam in _threshold_maps(ctx):
        peak = cam.max()
        for fraction in (0.2, 0.5):
            expected = _mask(cam, fraction)
            level = fraction * peak
            with np.errstate(invalid="ignore", divide="ignore"):
                mistakes = {
                    **({} if peak > 0 else {
                        "no value is positive, and your mask keeps every pixel: a ReLU first "
                        "(every value becomes 0 ≥ 0), or a division by max M before comparing "
                        "(a negative max flips every comparison)? camlib's rule for such a "
                        "map keeps the pixels equal to its max (M == max M)":
                        np.ones(cam.shape, dtype=bool)}),
                    "your mask is empty: no value is positive, so fraction · max M is above "
                    "every value. camlib's rule for such a map keeps the pixels equal to "
                    "its max (M == max M)": cam >= level,
                    "you divided by max M before comparing: when max M < 0 the division "
                    "flips every comparison. Compare M >= fraction · max M, and when no "
                    "value is positive keep the pixels equal to the max":
                    cam / peak >= fraction,
                    "you used >; a pixel exactly at fraction · max belongs to the mask (>=)":
                    cam > level,
                    "you thresholded the min-max normalized map; the paper's rule is a "
                    "fraction of the max of the raw map: M >= fraction · max M":
                    reference.normalize(cam, "minmax") >= fraction,
                    "you kept the pixels below the threshold": cam < level,
                    "you used a fraction of max |M|; the rule is a fraction of max M (the "
                    "largest value, not the largest magnitude)":
                    cam >= fraction * np.abs(cam).max(),
                    "you compared M with the fraction itself; the threshold is fraction · "
                    "max M, relative to the map's maximum": cam >= fraction,
                    **({} if peak > 0 else {
                        f"no value is positive, so every pixel equal to the max belongs to "
                        f"the mask ({int((cam == peak).sum())} here), not only the one "
                        f"np.argmax finds: cam >= cam.max()":
                        np.arange(cam.size).reshape(cam.shape) == np.argmax(cam)}),
                    **{f"you ignored the `fraction` argument and used a fixed {fixed}; "
                       f"threshold at fraction · max M": _mask(cam, fixed)
                       for fixed in (0.2, 0.5) if fixed != fraction},
                }
            got = ctx.call(fn, cam, fraction)
            label = f"threshold_mask(cam of shape {cam.shape} with max {peak:.3g}, {fraction})"
            ctx.compare(got, expected, what=label, axes=("H", "W"),
                        mistakes=_distinct(expected, mistakes))
            array = _to_array(got)
            ctx.require(array is not None and array.dtype == bool,
                        f"{label}: the right pixels, but the mask has dtype "
                        f"{getattr(array, 'dtype', None)}; return a boolean array (the "
                        f"comparison cam >= level already is one)")
    return "the mask {M ≥ fraction · max M} (the pixels at the max when no value is positive)"


# --- 5.4: the pipeline --------------------------------------------------------------------


def _box_of(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.nonzero(mask)
    return int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1


def _pipeline(cam: np.ndarray, size: tuple[int, int], fraction: float):
    big = reference.upsample(cam, size)
    return (reference.normalize(big, "minmax"), _mask(big, fraction),
            reference.bounding_box(big, fraction))


def _pipeline_cases(ctx: Context) -> list[tuple[np.ndarray, tuple[int, int], float]]:
    """Coarse maps with a strong blob, a weaker separate blob, negative values far below
    -max, on non-square grids resized to non-square image sizes; every one drawn so that
    no upsampled pixel lies within rounding of the threshold (`_clear_of_the_level`)."""
    cases = []
    # The last grid has its strongest blob in the bottom-right corner: the first component
    # in reading order (labels start at the top left) is then not the largest one, and its
    # box ends at the image's border (x1 = width, y1 = height).
    for (h, w), size, first in [((4, 6), (24, 36), True), ((5, 5), (20, 20), True),
                                ((6, 4), (30, 16), False)]:
        def blobs(h=h, w=w, first=first):
            cam = ctx.rng.normal(size=(h, w)) * 0.3
            strong, weak = ((1, 1), (h - 2, w - 2)) if first else ((h - 1, w - 1), (1, 1))
            cam[strong] += 3.0  # the strongest blob
            cam[weak] += 1.5  # a second, weaker one: not the largest component
            cam[h - 1, 0] = -6.0  # negative values below -max (min-max lifts them to 0)
            return cam
        cases.append((_clear_draw(blobs, size, 0.2), size, 0.2))
    cases.append((_diagonal_chain(), (18, 24), 0.2))
    # No positive value: exercise 5.3's rule keeps the pixels at the max; a ReLU before
    # the threshold (or a threshold at max(max M, 0)) keeps every pixel or none.
    cases.append((_clear_draw(lambda: -np.abs(ctx.rng.normal(size=(4, 5))) - 0.3, (16, 20),
                              0.2), (16, 20), 0.2))
    if ctx.hidden:
        h, w = int(ctx.rng.integers(3, 9)), int(ctx.rng.integers(3, 9))
        size = (h * int(ctx.rng.integers(2, 7)), w * int(ctx.rng.integers(2, 7)))
        fraction = float(ctx.rng.choice([0.15, 0.2, 0.3, 0.5]))
        scale = ctx.rng.uniform(0.5, 20)
        cases.append((_clear_draw(lambda: ctx.rng.normal(size=(h, w)) * scale, size,
                                  fraction), size, fraction))
    return cases


def _clear_of_the_level(cam: np.ndarray, size: tuple[int, int], fraction: float,
                        margin: float = 1e-5) -> bool:
    """Whether every pixel of the upsampled map is clear of the mask's level by more
    than ``margin`` · max |M|, the level's own pixel aside when nothing is positive (then
    the level is the max, which must be one pixel alone). A pixel closer than that is
    on either side of the level by rounding alone: an upsampling in float32, or by
    another library, may put it in or out, and the answer would be judged by chance."""
    big = reference.upsample(cam, size)
    peak = big.max()
    level = fraction * peak if peak > 0 else peak
    near = np.abs(big - level) <= margin * max(float(np.abs(big).max()), 1e-12)
    return int(near.sum()) == (1 if peak <= 0 else 0)


def _clear_draw(draw, size: tuple[int, int], fraction: float) -> np.ndarray:
    """The first map ``draw()`` makes that is `_clear_of_the_level`."""
    for _ in range(1000):
        cam = draw()
        if _clear_of_the_level(cam, size, fraction):
            return cam
    raise RuntimeError("no map clear of its level in 1000 draws")  # a bug in the check


def _diagonal_chain() -> np.ndarray:
    """A coarse map whose upsampled mask (×2, fraction 0.2) has a diagonal chain of blobs
    touching only at corners, larger than a separate 2×2 block: the largest 8-connected
    component (the chain) is not the largest 4-connected one (the block)."""
    cam = np.zeros((9, 12))
    for i in range(6):
        cam[1 + i, 1 + i] = 1.0
    for i in range(5):  # negative neighbours keep the chain's links down to single corners
        cam[1 + i, 2 + i] = cam[2 + i, 1 + i] = -1.0
    cam[1:3, 8:10] = 0.9
    return cam


def _heat_mistakes(cam: np.ndarray, size: tuple[int, int]) -> dict:
    h, w = size
    big = reference.upsample(cam, size)
    nearest = _interpolate(cam[None], size, mode="nearest")[0]
    swapped = reference.upsample(cam.T, (w, h)).T
    return {
        "you normalized before upsampling. Upsampling blends neighbours and "
        "changes the extremes, so normalize(upsample(M)) ≠ upsample(normalize(M)): "
        "upsample first": reference.upsample(reference.normalize(cam, "minmax"), size),
        "you applied a ReLU before upsampling (and then normalized); a ReLU does "
        "not commute with upsampling, and the heat map keeps the sign: min-max of the "
        "upsampled raw map": reference.normalize(reference.upsample(np.maximum(cam, 0), size),
                                                 "minmax"),
        "you applied a ReLU; the heat map is min-max of the upsampled raw map":
        reference.normalize(np.maximum(big, 0), "minmax"),
        "it is not normalized; return min-max of the upsampled map, in [0, 1]":
        big,
        "you divided by the max (mode \"max\"); the heat map is min-max, in [0, 1]":
        reference.normalize(big, "max"),
        "you resized with nearest-neighbour (blocky); upsample bilinearly":
        reference.normalize(nearest, "minmax"),
        "you upsampled with align_corners=True; exercise 5.1's upsampling is bilinear with "
        "align_corners=False": reference.normalize(
            _interpolate(cam[None], size, mode="bilinear", align_corners=True)[0], "minmax"),
        "you upsampled bicubically; exercise 5.1's upsampling is bilinear":
        reference.normalize(_interpolate(cam[None], size, mode="bicubic",
                                         align_corners=False)[0], "minmax"),
        "height and width are swapped; size is (height, width), rows first":
        reference.normalize(swapped, "minmax"),
    }


def _mask_mistakes(cam: np.ndarray, size: tuple[int, int], fraction: float) -> dict:
    h, w = size
    big = reference.upsample(cam, size)
    coarse = _mask(cam, fraction).astype(np.float64)
    relu_before = ({} if big.max() <= 0 else {  # with no positive value: the entry below
        "you thresholded a map whose negative values were clipped (a ReLU) before "
        "upsampling; threshold the upsampled raw map":
        _mask(reference.upsample(np.maximum(cam, 0), size), fraction)})
    # With no positive value, name that first: several mistakes then keep all or nothing.
    no_positive = {} if big.max() > 0 else {
        "no value of this map is positive, and your mask keeps every pixel (a ReLU "
        "before the threshold makes every pixel 0 >= 0); use exercise 5.3's rule on the "
        "raw upsampled map: when max M <= 0, keep the pixels equal to the max":
        np.ones(size, dtype=bool),
        "no value of this map is positive, and your mask is empty; use exercise 5.3's "
        "rule: when max M <= 0, keep the pixels equal to the max":
        np.zeros(size, dtype=bool),
    }
    return {
        **no_positive,
        **relu_before,
        "you thresholded the coarse map and then resized the mask (blocky steps); "
        "threshold the upsampled map, after upsampling":
        _interpolate(coarse[None], size, mode="nearest")[0] > 0.5,
        "you thresholded the coarse map and then resized the mask bilinearly; "
        "threshold the upsampled map, after upsampling":
        reference.upsample(coarse, size) >= 0.5,
        "you thresholded the min-max heat map at the fraction; the rule is a fraction "
        "of the raw upsampled map's max, M >= fraction · max M":
        reference.normalize(big, "minmax") >= fraction,
        "you used a fraction of max |M|; the rule is a fraction of max M":
        big >= fraction * np.abs(big).max(),
        "you used >; a pixel exactly at fraction · max belongs to the mask (>=)":
        big > fraction * big.max(),
        "height and width are swapped": _mask(reference.upsample(cam.T, (w, h)).T,
                                                    fraction),
    }


def _box_mistakes(cam: np.ndarray, size: tuple[int, int], fraction: float) -> dict:
    h, w = size
    big = reference.upsample(cam, size)
    mask = _mask(big, fraction)
    box = reference.bounding_box(big, fraction)
    coarse_box = reference.bounding_box(cam, fraction)
    sy, sx = h / cam.shape[0], w / cam.shape[1]
    scaled = (round(coarse_box[0] * sx), round(coarse_box[1] * sy), round(coarse_box[2] * sx),
              round(coarse_box[3] * sy))
    inclusive = (box[0], box[1], box[2] - 1, box[3] - 1)
    clipped = (box[0], box[1], min(box[2], w - 1), min(box[3], h - 1))
    # A component in the bottom-right corner: both mistakes give the same box.
    inclusive_why = ("it is inclusive (x1 and y1 are the last pixel inside)" +
                     (", or clipped to width − 1 and height − 1" if clipped == inclusive
                      else "") + "; the course's boxes are half-open, x1 and y1 are the "
                     "first outside")
    return {
        "you boxed the coarse map and scaled the box up; box the upsampled map's "
        "mask (upsample first, then threshold, then box)": scaled,
        "you boxed every kept pixel; the paper boxes the largest connected component "
        "of the mask": _box_of(mask) if mask.any() else box,
        inclusive_why: inclusive,
        "x and y are swapped; return (x0, y0, x1, y1) with x the column":
        (box[1], box[0], box[3], box[2]),
        "you boxed the largest component of the min-max heat map's mask; threshold "
        "the raw upsampled map": _largest_box(reference.normalize(big, "minmax") >= fraction),
        "your components use 4-connectivity (edge neighbours only); the course joins "
        "pixels that touch at a corner too (8-connectivity)":
        reference.bounding_box(big, fraction, 4),
        "you boxed the first component (label 1, the one nearest the top left); the "
        "paper boxes the largest one, the component with the most pixels":
        _first_component_box(mask) if mask.any() else box,
        "you clipped x1 and y1 to width − 1 and height − 1; the box is half-open, so a "
        "component that reaches the border ends at x1 = width or y1 = height":
        clipped,
    }


def _first_component_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """The box of the 8-connected component met first in reading order (label 1 of
    scikit-image and SciPy)."""
    labels, _ = reference.connected_components(mask, 8)
    return _box_of(labels == labels.flat[int(np.argmax(mask.ravel()))])


def _tied_largest_boxes(mask: np.ndarray) -> set[tuple[int, int, int, int]]:
    """The boxes of every 8-connected component of ``mask`` with the most pixels."""
    if not mask.any():
        return set()
    labels, count = reference.connected_components(mask, 8)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    return {_box_of(labels == k + 1) for k in np.flatnonzero(sizes == sizes.max())}


def _largest_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    if not mask.any():
        return (0, 0, 0, 0)
    labels, count = reference.connected_components(mask, 8)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    return tuple(int(v) for v in reference.component_boxes(
        np.where(labels == int(np.argmax(sizes)) + 1, 1, 0), 1)[0])


@exercise_check("5.4", function="cam_pipeline")
def exercise_5_4(ctx: Context, fn) -> str:
    """Check ``cam_pipeline(cam, size, fraction)`` -> (heat map, mask, box) at image size."""
    for cam, size, fraction in _pipeline_cases(ctx):
        heat, mask, box = _pipeline(cam, size, fraction)
        label = f"cam_pipeline(cam of shape {cam.shape}, size={size}, fraction={fraction})"
        got = ctx.call(fn, cam, size, fraction, returns=(tuple, list))
        ctx.require(len(got) == 3, f"{label}: return three things (heat, mask, box), got "
                                   f"{len(got)}")
        got_heat, got_mask, got_box = got
        ctx.compare(got_heat, heat, what=f"{label}, the heat map", axes=("H", "W"),
                    mistakes=_distinct(heat, _heat_mistakes(cam, size)))
        ctx.compare(got_mask, mask, what=f"{label}, the mask", axes=("H", "W"),
                    mistakes=_distinct(mask, _mask_mistakes(cam, size, fraction)))
        array = _to_array(got_mask)
        ctx.require(array is not None and array.dtype == bool,
                    f"{label}: the mask has the right pixels but dtype "
                    f"{getattr(array, 'dtype', None)}; return a boolean array")
        box_array = _to_array(got_box)
        ctx.require(box_array is not None and box_array.shape == (4,),
                    f"{label}: the box must be four numbers (x0, y0, x1, y1), got "
                    f"{type(got_box).__name__} {got_box!r}")
        # Two components can tie for the most pixels; either one's box is right.
        tied = _tied_largest_boxes(mask)
        if box_array.dtype.kind in "iuf" and tuple(box_array.tolist()) in tied:
            continue
        ctx.compare(box_array, np.array(box), what=f"{label}, the box", rtol=0, atol=0,
                    mistakes=_distinct(np.array(box), {m: np.array(v) for m, v in
                                                       _box_mistakes(cam, size,
                                                                     fraction).items()}))
    return ("upsample first, then min-max for the heat map and the threshold on the raw "
            "map, then the box of the largest component")
