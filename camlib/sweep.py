"""Boxes at every threshold of a grid in one pass per map: the engine of MaxBoxAcc.

MaxBoxAcc (Choe et al., CVPR 2020) needs, for every map and every threshold τ of a grid,
the box of the largest component of the thresholded map and the box of its best
component. Thresholding once per τ costs T labellings per map. Here each map is read
once: its pixels enter from the highest level to the lowest (a counting sort), a
union-find merges each new pixel with its active 8-neighbours and keeps, for every
component, its pixel count, its box and its first pixel in raster order; each time the
level falls below the next threshold of the grid, the components present are exactly
the components of that threshold's mask, and their boxes are read off. The cost is one
union-find over the pixels plus the components read at each threshold, so it hardly
grows with the number of thresholds.

Two protocols decide what a mask, a box and "largest" are:

- ``"camlib"``: the mask is {M ≥ τ·max M}; boxes are half-open (x0, y0, x1, y1); the
  largest component has the most pixels, ties to the first in raster order. These are
  `camlib.torch.bounding_box`'s conventions.
- ``"choe2020"``: the conventions of Choe et al.'s released evaluation code. The map is
  quantized to uint8 (q = ⌊255·M⌋), the mask is {q > ⌊τ·max q⌋}; a component is an
  outer contour as OpenCV's ``findContours`` traces it, and MaxBoxAccV2 also scores the
  contours of holes; "largest" compares contour areas (the area of the polygon through
  the border pixels' centres, which is the component with its holes filled counted by
  2×2 windows: 1 for a full window, 1/2 for three pixels), ties to the contour OpenCV
  lists first (the component found last in raster order); a box is (x, y, x + w, y + h)
  of the contour's bounding rectangle with x + w and y + h clipped to W − 1 and H − 1,
  and an empty mask gives (0, 0, 0, 0).

A mask with holes (background pixels 4-disconnected from the border) in ``"choe2020"``
is finished by a direct pass over that one mask, which traces the holes.

The loops are compiled with numba.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["threshold_boxes", "count_passed"]

CAMLIB, CHOE2020 = 0, 1


@numba.njit(cache=True)
def _find(parent, p):
    root = p
    while parent[root] != root:
        root = parent[root]
    while parent[p] != root:  # path compression
        nxt = parent[p]
        parent[p] = root
        p = nxt
    return root


@numba.njit(cache=True)
def _better_iou(inter_a, union_a, inter_b, union_b):
    """inter_a / union_a > inter_b / union_b, exactly (an empty union counts as IoU 0)."""
    if union_a <= 0:
        return False
    if union_b <= 0:
        return inter_a > 0
    return inter_a * union_b > inter_b * union_a


@numba.njit(cache=True)
def _overlap(box, gt, inclusive):
    """(intersection, union) of two boxes as integers, in the protocol's convention."""
    one = 1 if inclusive else 0
    iw = min(box[2], gt[2]) - max(box[0], gt[0]) + one
    ih = min(box[3], gt[3]) - max(box[1], gt[1]) + one
    inter = max(iw, 0) * max(ih, 0)
    area_a = (box[2] - box[0] + one) * (box[3] - box[1] + one)
    area_b = (gt[2] - gt[0] + one) * (gt[3] - gt[1] + one)
    if not inclusive:
        area_a = max(box[2] - box[0], 0) * max(box[3] - box[1], 0)
        area_b = max(gt[2] - gt[0], 0) * max(gt[3] - gt[1], 0)
    return inter, area_a + area_b - inter


@numba.njit(cache=True)
def _box_of(x0, y0, xmax, ymax, h, w, choe, out):
    out[0] = x0
    out[1] = y0
    if choe:
        out[2] = min(xmax + 1, w - 1)
        out[3] = min(ymax + 1, h - 1)
    else:
        out[2] = xmax + 1
        out[3] = ymax + 1


@numba.njit(cache=True, inline="always")
def _quad(a, b, c, d):
    """Euler-number contribution (×4) of a 2×2 window (a b / c d) and its pixel count."""
    count = int(a) + int(b) + int(c) + int(d)
    if count == 1:
        return 1, count
    if count == 3:
        return -1, count
    if count == 2 and ((a and d) or (b and c)):
        return -2, count
    return 0, count


@numba.njit(cache=True)
def _filled_largest(active, h, w, largest):
    """The largest contour of one mask with holes (choe2020), read directly.

    The exterior is the background 4-connected to the border. Each 8-connected blob of
    the rest (a top-level component with its holes and whatever lies inside them) is the
    polygon of one top-level outer contour, whose area is counted by 2×2 windows.
    Writes ``largest``, the box of the largest contour.
    """
    n = h * w
    exterior = np.zeros(n, np.bool_)
    stack = np.empty(n, np.int64)
    top = 0
    for p in range(n):
        y, x = p // w, p % w
        if not active[p] and (y == 0 or x == 0 or y == h - 1 or x == w - 1):
            exterior[p] = True
            stack[top] = p
            top += 1
    while top:
        top -= 1
        p = stack[top]
        y, x = p // w, p % w
        for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            ny, nx = y + dy, x + dx
            if 0 <= ny < h and 0 <= nx < w:
                q = ny * w + nx
                if not active[q] and not exterior[q]:
                    exterior[q] = True
                    stack[top] = q
                    top += 1
    # Blobs: 8-connected components of the non-exterior pixels, found in raster order.
    blob = np.full(n, -1, np.int64)
    best_area2 = -1
    best_first = -1
    for p in range(n):
        if exterior[p] or blob[p] >= 0:
            continue
        blob[p] = p
        stack[0] = p
        top = 1
        x0, y0, xmax, ymax = w, h, -1, -1
        area2 = 0
        while top:
            top -= 1
            q = stack[top]
            y, x = q // w, q % w
            x0, y0, xmax, ymax = min(x0, x), min(y0, y), max(xmax, x), max(ymax, y)
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    ny, nx = y + dy, x + dx
                    if 0 <= ny < h and 0 <= nx < w:
                        r = ny * w + nx
                        if not exterior[r] and blob[r] < 0:
                            blob[r] = p
                            stack[top] = r
                            top += 1
        # 2 × the window area of the blob: windows whose top-left pixel is in the blob's
        # box or one row/column before it.
        for wy in range(y0 - 1, ymax + 1):
            for wx in range(x0 - 1, xmax + 1):
                count = 0
                for yy, xx in ((wy, wx), (wy, wx + 1), (wy + 1, wx), (wy + 1, wx + 1)):
                    if 0 <= yy < h and 0 <= xx < w and blob[yy * w + xx] == p:
                        count += 1
                if count == 4:
                    area2 += 2
                elif count == 3:
                    area2 += 1
        if area2 > best_area2 or (area2 == best_area2 and p > best_first):
            best_area2, best_first = area2, p
            _box_of(x0, y0, xmax, ymax, h, w, True, largest)


@numba.njit(cache=True)
def _hole_boxes(flat, order, h, w, n_thresholds, gt, hole_box, hole_overlap):
    """The hole contours of choe2020 at every threshold: background pixels (level ≤ j at
    threshold j) enter from the lowest level up, a union-find joins 4-neighbours, and the
    components that do not touch the border are holes. A hole's contour runs through the
    foreground pixels around it, so its box is the hole's box grown by one pixel. Writes
    the best hole box against ``gt`` and its (intersection, union), (-1, -1) for none."""
    n = h * w
    parent = np.empty(n, np.int64)
    size = np.zeros(n, np.int64)
    border = np.zeros(n, np.bool_)
    x0 = np.zeros(n, np.int64)
    y0 = np.zeros(n, np.int64)
    x1 = np.zeros(n, np.int64)
    y1 = np.zeros(n, np.int64)
    active = np.zeros(n, np.bool_)
    roots = np.empty(n, np.int64)
    box = np.empty(4, np.int64)
    n_roots = 0
    taken = n - 1  # ``order`` is highest level first: read it backwards
    for j in range(n_thresholds):
        while taken >= 0 and flat[order[taken]] <= j:
            p = order[taken]
            taken -= 1
            y, x = p // w, p % w
            active[p] = True
            parent[p] = p
            size[p] = 1
            border[p] = y == 0 or x == 0 or y == h - 1 or x == w - 1
            x0[p], y0[p], x1[p], y1[p] = x, y, x, y
            roots[n_roots] = p
            n_roots += 1
            a = p
            for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                ny, nx = y + dy, x + dx
                if 0 <= ny < h and 0 <= nx < w and active[ny * w + nx]:
                    b = _find(parent, ny * w + nx)
                    if a != b:
                        if size[a] < size[b]:
                            a, b = b, a
                        parent[b] = a
                        size[a] += size[b]
                        border[a] = border[a] or border[b]
                        x0[a], y0[a] = min(x0[a], x0[b]), min(y0[a], y0[b])
                        x1[a], y1[a] = max(x1[a], x1[b]), max(y1[a], y1[b])
        hole_overlap[j, 0], hole_overlap[j, 1] = -1, -1
        kept = 0
        for r in range(n_roots):
            root = roots[r]
            if parent[root] != root or border[root]:
                continue  # merged away, or touching the border: never a hole again
            roots[kept] = root
            kept += 1
            _box_of(x0[root] - 1, y0[root] - 1, x1[root] + 1, y1[root] + 1, h, w, True, box)
            inter, union = _overlap(box, gt, True)
            if hole_overlap[j, 1] < 0 or _better_iou(inter, union, hole_overlap[j, 0],
                                                     hole_overlap[j, 1]):
                hole_overlap[j, 0], hole_overlap[j, 1] = inter, union
                hole_box[j] = box
        n_roots = kept


@numba.njit(cache=True)
def _sweep(levels, gt, n_thresholds, protocol, largest_out, best_out):
    """levels (N, H, W) int: a pixel is in the mask of threshold j (0 = the lowest τ)
    when its level > j. Writes largest_out, best_out (N, T, 4)."""
    n_images, h, w = levels.shape
    n = h * w
    choe = protocol == CHOE2020
    parent = np.empty(n, np.int64)
    size = np.zeros(n, np.int64)
    area2 = np.zeros(n, np.int64)
    first = np.zeros(n, np.int64)
    x0 = np.zeros(n, np.int64)
    y0 = np.zeros(n, np.int64)
    x1 = np.zeros(n, np.int64)
    y1 = np.zeros(n, np.int64)
    active = np.zeros((h + 2) * (w + 2), np.bool_)  # padded by one pixel
    roots = np.empty(n, np.int64)
    order = np.empty(n, np.int64)
    mask = np.zeros(n, np.bool_)
    starts = np.zeros(n_thresholds + 2, np.int64)
    box = np.empty(4, np.int64)
    overlap = np.empty(2, np.int64)
    hole_box = np.zeros((n_thresholds, 4), np.int64)
    hole_overlap = np.zeros((n_thresholds, 2), np.int64)
    for i in range(n_images):
        flat = levels[i].ravel()
        g = gt[i]
        # Counting sort, highest level first.
        starts[:] = 0
        for p in range(n):
            starts[n_thresholds - flat[p] + 1] += 1
        for k in range(1, n_thresholds + 2):
            starts[k] += starts[k - 1]
        for p in range(n):
            k = n_thresholds - flat[p]
            order[starts[k]] = p
            starts[k] += 1
        if choe:
            _hole_boxes(flat, order, h, w, n_thresholds, g, hole_box, hole_overlap)
        active[:] = False
        n_roots = 0
        components = 0
        euler4 = 0
        taken = 0
        for j in range(n_thresholds - 1, -1, -1):
            while taken < n and flat[order[taken]] > j:
                p = order[taken]
                taken += 1
                y, x = p // w, p % w
                c = (y + 1) * (w + 2) + x + 1  # p in the padded mask
                n00, n01, n02 = active[c - w - 3], active[c - w - 2], active[c - w - 1]
                n10, n12 = active[c - 1], active[c + 1]
                n20, n21, n22 = active[c + w + 1], active[c + w + 2], active[c + w + 3]
                active[c] = True
                parent[p] = p
                size[p] = 1
                area2[p] = 0
                first[p] = p
                x0[p], y0[p], x1[p], y1[p] = x, y, x, y
                roots[n_roots] = p
                n_roots += 1
                components += 1
                a = p
                for dy in (-1, 0, 1):
                    for dx in (-1, 0, 1):
                        if (dy or dx) and active[c + dy * (w + 2) + dx]:
                            b = _find(parent, (y + dy) * w + x + dx)
                            if a != b:
                                if size[a] < size[b]:
                                    a, b = b, a
                                parent[b] = a
                                size[a] += size[b]
                                area2[a] += area2[b]
                                first[a] = min(first[a], first[b])
                                x0[a], y0[a] = min(x0[a], x0[b]), min(y0[a], y0[b])
                                x1[a], y1[a] = max(x1[a], x1[b]), max(y1[a], y1[b])
                                components -= 1
                if choe:
                    # The four 2×2 windows that hold p, before and after p enters.
                    for wa, wb, wc, wd, corner in ((n00, n01, n10, False, 3),
                                                   (n01, n02, False, n12, 2),
                                                   (n10, False, n20, n21, 1),
                                                   (False, n12, n21, n22, 0)):
                        before, _ = _quad(wa, wb, wc, wd)
                        if corner == 3:
                            after, count = _quad(wa, wb, wc, True)
                        elif corner == 2:
                            after, count = _quad(wa, wb, True, wd)
                        elif corner == 1:
                            after, count = _quad(wa, True, wc, wd)
                        else:
                            after, count = _quad(True, wb, wc, wd)
                        euler4 += after - before
                        if count >= 3:  # 3 pixels: half a window; the 4th: the other half
                            area2[a] += 1
            largest = largest_out[i, j]
            best = best_out[i, j]
            if components == 0:
                largest[:] = 0
                best[:] = 0
                continue
            # Drop the roots merged away since the last threshold, then read the others.
            kept = 0
            key_size, key_first = -1, -1
            overlap[0], overlap[1] = 0, -1
            rival = -1  # 2 × the largest area a contour other than the chosen one can have
            chosen_bound = -1
            for r in range(n_roots):
                root = roots[r]
                if parent[root] != root:
                    continue
                roots[kept] = root
                kept += 1
                _box_of(x0[root], y0[root], x1[root], y1[root], h, w, choe, box)
                if choe:
                    better = area2[root] > key_size or (
                        area2[root] == key_size and first[root] > key_first)
                    bound = 2 * (x1[root] - x0[root]) * (y1[root] - y0[root])
                    if better:
                        rival = max(rival, chosen_bound)
                        chosen_bound = bound
                        key_size, key_first = area2[root], first[root]
                        largest[:] = box
                    else:
                        rival = max(rival, bound)
                else:
                    better = size[root] > key_size or (
                        size[root] == key_size and first[root] < key_first)
                    if better:
                        key_size, key_first = size[root], first[root]
                        largest[:] = box
                inter, union = _overlap(box, g, choe)
                if overlap[1] < 0 or _better_iou(inter, union, overlap[0], overlap[1]):
                    overlap[0], overlap[1] = inter, union
                    best[:] = box
            n_roots = kept
            if choe and euler4 != 4 * components:  # some component has a hole
                if hole_overlap[j, 1] >= 0 and _better_iou(
                        hole_overlap[j, 0], hole_overlap[j, 1], overlap[0], overlap[1]):
                    best[:] = hole_box[j]
                # Holes add area to their component's contour. Another contour can beat
                # the chosen one only if the polygon of its box could: read the mask.
                if rival >= key_size:
                    mask[:] = active.reshape(h + 2, w + 2)[1:-1, 1:-1].ravel()
                    _filled_largest(mask, h, w, largest)


@numba.njit(cache=True)
def _count_passed(values, cuts, strict, out):
    """A bucket table over each row's cuts gives a starting count, which exact
    comparisons then correct: about one comparison per value on an even grid."""
    buckets = 4 * cuts.shape[1] + 1
    table = np.empty(buckets + 1, np.int64)
    for i in range(values.shape[0]):
        row = cuts[i]
        t = row.shape[0]
        low, high = row[0], row[t - 1]
        scale = buckets / (high - low) if high > low else 0.0
        k = 0
        for b in range(buckets + 1):
            edge = low + b / scale if scale > 0 else low
            while k < t and row[k] < edge:
                k += 1
            table[b] = k
        for p in range(values.shape[1]):
            v = values[i, p]
            b = int((v - low) * scale) if v > low else 0
            k = table[min(b, buckets)]
            while k > 0 and not (row[k - 1] < v or (not strict and row[k - 1] == v)):
                k -= 1
            while k < t and (row[k] < v or (not strict and row[k] == v)):
                k += 1
            out[i, p] = k


def count_passed(values: np.ndarray, cuts: np.ndarray, strict: bool) -> np.ndarray:
    """For values (N, P) and ascending cuts (N, T): how many cuts each value passes,
    (N, P) int64: #{j : cuts[i, j] < v} with ``strict``, else #{j : cuts[i, j] ≤ v}.

    >>> count_passed(np.array([[0.0, 0.5, 1.0]]), np.array([[0.0, 0.5]]), strict=True)
    array([[0, 1, 2]])
    """
    values = np.ascontiguousarray(values)
    cuts = np.ascontiguousarray(cuts, dtype=values.dtype)
    out = np.empty(values.shape, np.int64)
    _count_passed(values, cuts, bool(strict), out)
    return out


def threshold_boxes(levels: np.ndarray, gt_boxes: np.ndarray, n_thresholds: int,
                    protocol: str) -> tuple[np.ndarray, np.ndarray]:
    """The boxes of every mask of a grid of thresholds, one pass per map.

    Parameters
    ----------
    levels : int array (N, H, W) in 0..T: pixel p is in the mask of the j-th threshold
        (j = 0 the lowest) exactly when levels[p] > j
    gt_boxes : int array (N, 4), the ground truth the best component is chosen against
    n_thresholds : T
    protocol : "camlib" or "choe2020" (see the module docstring)

    Returns
    -------
    largest : int64 (N, T, 4), the box of the largest component at each threshold
    best : int64 (N, T, 4), the box with the highest IoU with the ground truth among all
        components (and, in "choe2020", hole contours); (0, 0, 0, 0) for an empty mask

    Example
    -------
    >>> levels = np.array([[[2, 0, 1], [2, 0, 0]]])   # two thresholds
    >>> largest, best = threshold_boxes(levels, np.array([[2, 0, 3, 1]]), 2, "camlib")
    >>> largest[0].tolist(), best[0].tolist()
    ([[0, 0, 1, 2], [0, 0, 1, 2]], [[2, 0, 3, 1], [0, 0, 1, 2]])
    """
    code = {"camlib": CAMLIB, "choe2020": CHOE2020}[protocol]
    levels = np.ascontiguousarray(levels, dtype=np.int64)
    gt = np.ascontiguousarray(gt_boxes, dtype=np.int64)
    n = levels.shape[0]
    largest = np.zeros((n, n_thresholds, 4), np.int64)
    best = np.zeros((n, n_thresholds, 4), np.int64)
    if n and levels.shape[1] * levels.shape[2]:
        _sweep(levels, gt, int(n_thresholds), code, largest, best)
    return largest, best
