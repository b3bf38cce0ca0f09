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

A pixel's eight neighbours already in the mask form one of 256 patterns. A table made
once per pattern says which neighbours to join (one per group of neighbours already
connected to each other around the pixel, so usually one), and what the pixel adds to
the Euler number and the area that "choe2020" needs: the pixel's work is a table
look-up, not eight tests.

Two protocols decide what a mask, a box and "largest" are:

- ``"camlib"``: the mask is {M ≥ τ·max M}; boxes are half-open (x0, y0, x1, y1); the
  largest component has the most pixels, ties to the first in raster order. These are
  `camlib.torch.bounding_box`'s conventions.
- ``"choe2020"``: the conventions of Choe et al.'s released evaluation code. The map is
  min-max normalized and quantized to uint8 in float64 (q = ⌊255·M̄⌋, whatever the
  map's dtype, as the released code's ``t2n`` leaves it), the mask is {q > ⌊τ·max q⌋};
  a component is an outer contour as OpenCV's ``findContours`` traces it, and
  MaxBoxAccV2 also scores the contours of holes; "largest" compares contour areas (the
  area of the polygon through the border pixels' centres, which is the component with
  its holes filled counted by 2×2 windows: 1 for a full window, 1/2 for three pixels),
  ties to the contour OpenCV lists first (the component found last in raster order); a
  box is (x, y, x + w, y + h) of the contour's bounding rectangle with x + w and y + h
  clipped to W − 1 and H − 1, and an empty mask gives (0, 0, 0, 0).

A mask with holes (background pixels 4-disconnected from the border) in ``"choe2020"``
is finished by a direct pass over that one mask, which traces the holes; the boxes of
the holes' own contours (MaxBoxAccV2) come from a second sweep over the background,
made only for maps that have holes at some threshold.

The loops are compiled with numba. The maps are independent: ``threads`` shares them
out among numba's threads (contiguous ranges, each with its own work arrays), and the
boxes do not depend on how many there are. The compiled loops index without bounds
checks, so every public function checks its arrays first (shapes that agree, levels in
0..T, an ascending grid in [0, 1]) and names the argument it refuses: a wrong array
would otherwise be read out of bounds, silently or fatally.
"""

from __future__ import annotations

import numba
import numpy as np

from camlib import validation

__all__ = ["PROTOCOLS", "threshold_boxes", "levels", "map_boxes", "row_ranges"]

PROTOCOLS = ("camlib", "choe2020")  # the conventions of a mask, a box and "largest"
CAMLIB, CHOE2020 = 0, 1  # their codes in the compiled loops


def protocol_code(protocol: object) -> int:
    """The code of a protocol named in `PROTOCOLS`; anything else is refused by name.

    >>> protocol_code("choe2020")
    1
    """
    if not isinstance(protocol, str) or protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(map(repr, PROTOCOLS))}, "
                         f"got {protocol!r}")
    return PROTOCOLS.index(protocol)

# A pixel's neighbours, clockwise from the top left: (row, column) offsets.
RING = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))

# What a component keeps, one row of ``comp`` per root (BORDER: the background sweep's
# components that touch the image border).
SIZE, FIRST, X0, Y0, X1, Y1, AREA, BORDER = range(8)


def _quad_euler(a: bool, b: bool, c: bool, d: bool) -> tuple[int, int]:
    """4 × the Euler-number contribution of a 2×2 window (a b / c d) for 8-connected
    foreground (Gray's counts: +1 for one pixel, −1 for three, −2 for a diagonal pair),
    and its pixel count."""
    count = a + b + c + d
    if count == 1:
        return 1, count
    if count == 3:
        return -1, count
    if count == 2 and ((a and d) or (b and c)):
        return -2, count
    return 0, count


def _ring_tables() -> tuple[np.ndarray, ...]:
    """For each pattern of active neighbours (bit k: RING[k] is in the mask), a pixel's
    arrival in four tables: the ring positions to join, one per 8-connected group of
    active neighbours (a 4-neighbour first, which touches the most others); how many;
    the change of 4 × the Euler number; the change of twice the area (one per 2×2
    window that holds the pixel and now has three or four pixels)."""
    joins = np.full((256, 4), -1, np.int8)
    groups = np.zeros(256, np.int8)
    euler = np.zeros(256, np.int8)
    area = np.zeros(256, np.int8)
    for code in range(256):
        on = [k for k in range(8) if code >> k & 1]
        seen: set[int] = set()
        for k in sorted(on, key=lambda k: (k % 2 == 0, k)):
            if k in seen:
                continue
            joins[code, groups[code]] = k
            groups[code] += 1
            stack = [k]
            seen.add(k)
            while stack:
                a = stack.pop()
                for b in on:
                    near = max(abs(RING[a][0] - RING[b][0]), abs(RING[a][1] - RING[b][1])) <= 1
                    if near and b not in seen:
                        seen.add(b)
                        stack.append(b)
        nw, n, ne, e, se, s, sw, w = (bool(code >> k & 1) for k in range(8))
        # The four windows that hold the pixel, before and after it enters.
        for before, after in (((nw, n, w, False), (nw, n, w, True)),
                              ((n, ne, False, e), (n, ne, True, e)),
                              ((w, False, sw, s), (w, True, sw, s)),
                              ((False, e, s, se), (True, e, s, se))):
            (old, _), (new, count) = _quad_euler(*before), _quad_euler(*after)
            euler[code] += new - old
            area[code] += count >= 3
    return joins, groups, euler, area


JOINS, GROUPS, EULER_STEP, AREA_STEP = _ring_tables()


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


@numba.njit(cache=True, inline="always")
def _merge(parent, comp, a, b):
    """Join the components of roots a ≠ b, the smaller under the larger: the new root."""
    if comp[a, SIZE] < comp[b, SIZE]:
        a, b = b, a
    parent[b] = a
    comp[a, SIZE] += comp[b, SIZE]
    comp[a, AREA] += comp[b, AREA]
    comp[a, FIRST] = min(comp[a, FIRST], comp[b, FIRST])
    comp[a, BORDER] = max(comp[a, BORDER], comp[b, BORDER])
    comp[a, X0] = min(comp[a, X0], comp[b, X0])
    comp[a, Y0] = min(comp[a, Y0], comp[b, Y0])
    comp[a, X1] = max(comp[a, X1], comp[b, X1])
    comp[a, Y1] = max(comp[a, Y1], comp[b, Y1])
    return a


@numba.njit(cache=True, inline="always")
def _track_largest(parent, comp, r, big, big_area, big_first, dirty, choe):
    """The largest component ``big`` after root r changed: (big, its area, its first
    pixel, dirty), dirty when big cannot be trusted and the roots must be read.

    A component's pixel count only grows, so r beats everything else when it holds the
    largest; its contour area may stay the same while its first pixel moves, and then
    the roots are read (choe2020 breaks ties by the first pixel)."""
    if big < 0:
        big = r
    elif big == r or parent[big] != big:  # it grew, or was merged into r
        dirty = dirty or (choe and comp[r, AREA] == big_area
                          and comp[r, FIRST] != big_first)
        big = r
    elif (comp[r, AREA] > comp[big, AREA] or (comp[r, AREA] == comp[big, AREA]
                                             and comp[r, FIRST] > comp[big, FIRST])
          if choe else
          comp[r, SIZE] > comp[big, SIZE] or (comp[r, SIZE] == comp[big, SIZE]
                                             and comp[r, FIRST] < comp[big, FIRST])):
        big = r
    return big, comp[big, AREA], comp[big, FIRST], dirty


@numba.njit(cache=True, inline="always")
def _store(comp, r, size, first, x0, y0, x1, y1, area):
    comp[r, SIZE], comp[r, FIRST], comp[r, AREA] = size, first, area
    comp[r, X0], comp[r, Y0], comp[r, X1], comp[r, Y1] = x0, y0, x1, y1


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
def _hole_boxes(entries, starts, holes, h, w, gt, hole_box, hole_overlap):
    """The hole contours of choe2020 at the thresholds j where ``holes[j]``: background
    pixels (level ≤ j at threshold j) enter from the lowest level up, a union-find joins
    4-neighbours, and the components that do not touch the border are holes. A hole's
    contour runs through the foreground pixels around it, so its box is the hole's box
    grown by one pixel. Writes the best hole box against ``gt`` and its (intersection,
    union), (-1, -1) for none. ``entries`` and ``starts`` are `_entry_order`'s counting
    sort (highest level first)."""
    n_thresholds = holes.shape[0]
    stride = w + 2
    padded = (h + 2) * stride
    parent = np.empty(padded, np.int32)
    comp = np.zeros((padded, 8), np.int32)
    active = np.zeros(padded, np.uint8)
    roots = np.empty(h * w, np.int32)
    box = np.empty(4, np.int64)
    last = -1
    for j in range(n_thresholds):
        if holes[j]:
            last = j
    n_roots = 0
    taken = h * w  # the background at j is entries[starts[T − j − 1]:]
    for j in range(last + 1):
        begin = starts[n_thresholds - j - 1]
        for t in range(begin, taken):
            x, y, _ = _unpack(entries[t])
            c = (y + 1) * stride + x + 1
            active[c] = 1
            parent[c] = c
            comp[c, SIZE] = 1
            comp[c, BORDER] = y == 0 or x == 0 or y == h - 1 or x == w - 1
            comp[c, X0], comp[c, Y0], comp[c, X1], comp[c, Y1] = x, y, x, y
            roots[n_roots] = c
            n_roots += 1
            a = c
            for q in (c - stride, c - 1, c + 1, c + stride):
                if active[q]:
                    b = _find(parent, q)
                    if a != b:
                        a = _merge(parent, comp, a, b)
        taken = begin
        hole_overlap[j, 0], hole_overlap[j, 1] = -1, -1
        if not holes[j]:
            continue
        kept = 0
        for k in range(n_roots):
            root = roots[k]
            if parent[root] != root or comp[root, BORDER]:
                continue  # merged away, or touching the border: never a hole again
            roots[kept] = root
            kept += 1
            _box_of(comp[root, X0] - 1, comp[root, Y0] - 1, comp[root, X1] + 1,
                    comp[root, Y1] + 1, h, w, True, box)
            inter, union = _overlap(box, gt, True)
            if hole_overlap[j, 1] < 0 or _better_iou(inter, union, hole_overlap[j, 0],
                                                     hole_overlap[j, 1]):
                hole_overlap[j, 0], hole_overlap[j, 1] = inter, union
                hole_box[j] = box
        n_roots = kept


@numba.njit(cache=True, inline="always")
def _unpack(entry):
    """(x, y, neighbour pattern) of an entry of `_entry_order`."""
    return (entry >> 8) & 0xFFFFFF, entry >> 32, entry & 0xFF


@numba.njit(cache=True)
def _entry_order(level, n_thresholds, stride, padded_level, starts, entries, codes,
                 histograms):
    """Counting sort of one map's pixels, highest level first and raster order within a
    level, with each pixel's neighbour pattern at its entry: neighbour q is already in
    when its level is higher, or equal and q comes first in raster order (the rows
    above and the pixel to the left). Writes ``entries``, each pixel's y, x and pattern
    packed in one integer (`_unpack`: one array to scatter into, not four), in entry
    order; ``starts[k]`` ends the bucket of level T − k. ``codes`` (W,) and
    ``histograms`` (4, ≥ T + 2) are work arrays."""
    h, w = level.shape
    for y in range(h):
        for x in range(w):
            padded_level[y + 1, x + 1] = level[y, x]
    # Four histograms, one per column modulo 4: neighbours often share a level, and
    # one counter incremented twice in a row waits for its own store.
    hist = histograms[:, :n_thresholds + 2]
    hist[:] = 0
    for y in range(h):
        row = level[y]
        x = 0
        while x + 4 <= w:
            hist[0, n_thresholds - row[x] + 1] += 1
            hist[1, n_thresholds - row[x + 1] + 1] += 1
            hist[2, n_thresholds - row[x + 2] + 1] += 1
            hist[3, n_thresholds - row[x + 3] + 1] += 1
            x += 4
        for rest in range(x, w):
            hist[0, n_thresholds - row[rest] + 1] += 1
    starts[0] = 0
    for k in range(1, n_thresholds + 2):
        starts[k] = starts[k - 1] + hist[0, k] + hist[1, k] + hist[2, k] + hist[3, k]
    for y in range(h):
        above, here, below = padded_level[y], padded_level[y + 1], padded_level[y + 2]
        # The patterns of a row first, in a loop of its own that the compiler
        # vectorizes; then the scatter into the buckets.
        for x in range(w):
            v = here[x + 1]
            codes[x] = ((above[x] >= v) | (above[x + 1] >= v) << 1 | (above[x + 2] >= v) << 2
                        | (here[x + 2] > v) << 3 | (below[x + 2] > v) << 4
                        | (below[x + 1] > v) << 5 | (below[x] > v) << 6 | (here[x] >= v) << 7)
        base = np.int64(y) << 32
        for x in range(w):
            k = n_thresholds - here[x + 1]
            t = starts[k]
            entries[t] = base | (x << 8) | codes[x]
            starts[k] = t + 1


@numba.njit(cache=True)
def _sweep_map(level, g, n_thresholds, choe, every, joins, groups, euler_step, area_step,
               largest_out, best_out, scratch):
    """The sweep of one map (H, W) against its ground truth ``g``: writes largest_out
    (T, 4) and, with ``every``, best_out (T, 4). ``scratch`` holds the work arrays.

    The union-find runs on component numbers, given in order of creation, not on
    pixels: ``label`` holds a pixel's root when it entered (brought up to date when a
    neighbour reads it after a merge), and ``parent`` and
    ``comp``, as small as the components are few, stay in the fastest cache."""
    (padded_level, label, parent, comp, roots, entries, codes, histograms, starts, box,
     overlap, holes, best_overlap, hole_box, hole_overlap) = scratch
    h, w = level.shape
    stride = w + 2
    ring = np.empty(8, np.int64)
    for k in range(8):
        ring[k] = RING[k][0] * stride + RING[k][1]
    step = np.empty(256, np.int64)  # the offset of each pattern's first neighbour to join
    for code in range(256):
        step[code] = ring[max(joins[code, 0], 0)]
    _entry_order(level, n_thresholds, stride, padded_level, starts, entries, codes,
                 histograms)
    holes[:] = False
    n_roots = 0
    created = 0
    components = 0
    euler4 = 0
    taken = 0
    big, big_area, big_first, dirty = -1, 0, 0, False  # dirty: big is not trusted
    # The component the last pixels joined, its numbers held in variables rather
    # than in ``comp``: consecutive pixels mostly join the same component, and a
    # number updated in memory pixel after pixel waits for its own store each time.
    cur, size, low, x0, y0, x1, y1, area = -1, 0, 0, 0, 0, 0, 0, 0
    for j in range(n_thresholds - 1, -1, -1):
        # starts[k] ends the bucket of level T − k: the pixels of level > j are
        # order[:starts[T − j − 1]].
        end = starts[n_thresholds - j - 1]
        for t in range(taken, end):
            x, y, code = _unpack(entries[t])
            c = (y + 1) * stride + x + 1
            first = y * w + x
            if groups[code] == 1:  # joins one component, usually the one before
                q = c + step[code]
                r = label[q]
                if parent[r] != r:  # rarely: q's component was merged since
                    r = _find(parent, r)
                    label[q] = r  # the next pixel to read q finds the root at once
                label[c] = r
                if r != cur:
                    if cur >= 0:
                        _store(comp, cur, size, low, x0, y0, x1, y1, area)
                    cur = r
                    size, low, area = comp[r, SIZE], comp[r, FIRST], comp[r, AREA]
                    x0, y0, x1, y1 = comp[r, X0], comp[r, Y0], comp[r, X1], comp[r, Y1]
                size += 1
                low = min(low, first)
                x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
                if choe:
                    euler4 += euler_step[code]
                    area += area_step[code]
                # `_track_largest` with r's numbers held here (big ≠ r is stored).
                if big == r:
                    dirty = dirty or (choe and area == big_area and low != big_first)
                    big_area, big_first = area, low
                elif (area > comp[big, AREA] or (area == comp[big, AREA]
                                                 and low > comp[big, FIRST])
                      if choe else
                      size > comp[big, SIZE] or (size == comp[big, SIZE]
                                                 and low < comp[big, FIRST])):
                    big, big_area, big_first = r, area, low
                continue
            if cur >= 0:  # the components change in memory from here
                _store(comp, cur, size, low, x0, y0, x1, y1, area)
                cur = -1
            if groups[code] == 0:  # a new component
                r = created
                created += 1
                parent[r] = r
                comp[r, SIZE], comp[r, FIRST], comp[r, AREA] = 1, first, 0
                comp[r, X0], comp[r, Y0], comp[r, X1], comp[r, Y1] = x, y, x, y
                roots[n_roots] = r
                n_roots += 1
                components += 1
            else:  # joins its first neighbour's component, then merges the others
                r = _find(parent, label[c + ring[joins[code, 0]]])
                comp[r, SIZE] += 1
                comp[r, FIRST] = min(comp[r, FIRST], first)
                comp[r, X0], comp[r, Y0] = min(comp[r, X0], x), min(comp[r, Y0], y)
                comp[r, X1], comp[r, Y1] = max(comp[r, X1], x), max(comp[r, Y1], y)
                for k in range(1, groups[code]):
                    s = _find(parent, label[c + ring[joins[code, k]]])
                    if s != r:
                        r = _merge(parent, comp, r, s)
                        components -= 1
            label[c] = r
            if choe:
                euler4 += euler_step[code]
                comp[r, AREA] += area_step[code]
            big, big_area, big_first, dirty = _track_largest(
                parent, comp, r, big, big_area, big_first, dirty, choe)
        if cur >= 0:  # the components are read from memory below
            _store(comp, cur, size, low, x0, y0, x1, y1, area)
        taken = end
        largest = largest_out[j]
        if components == 0:  # the outputs start at (0, 0, 0, 0)
            continue
        holed = choe and euler4 != 4 * components
        if not (every or holed or dirty):
            _box_of(comp[big, X0], comp[big, Y0], comp[big, X1], comp[big, Y1],
                    h, w, choe, largest)
            continue
        # Drop the roots merged away since the last threshold, then read the others.
        kept = 0
        key_size, key_first = -1, -1
        overlap[0], overlap[1] = 0, -1
        rival = -1  # 2 × the largest area a contour other than the chosen one can have
        chosen_bound = -1
        for k in range(n_roots):
            root = roots[k]
            if parent[root] != root:
                continue
            roots[kept] = root
            kept += 1
            _box_of(comp[root, X0], comp[root, Y0], comp[root, X1], comp[root, Y1],
                    h, w, choe, box)
            if choe:
                better = comp[root, AREA] > key_size or (
                    comp[root, AREA] == key_size and comp[root, FIRST] > key_first)
                bound = 2 * (comp[root, X1] - comp[root, X0]) * (
                    comp[root, Y1] - comp[root, Y0])
                if better:
                    rival = max(rival, chosen_bound)
                    chosen_bound = bound
                    key_size, key_first = comp[root, AREA], comp[root, FIRST]
                    largest[:] = box
                    big = root
                else:
                    rival = max(rival, bound)
            else:
                better = comp[root, SIZE] > key_size or (
                    comp[root, SIZE] == key_size and comp[root, FIRST] < key_first)
                if better:
                    key_size, key_first = comp[root, SIZE], comp[root, FIRST]
                    largest[:] = box
                    big = root
            if every:
                inter, union = _overlap(box, g, choe)
                if overlap[1] < 0 or _better_iou(inter, union, overlap[0], overlap[1]):
                    overlap[0], overlap[1] = inter, union
                    best_out[j] = box
        n_roots = kept
        big_area, big_first, dirty = comp[big, AREA], comp[big, FIRST], False
        if holed:  # some component has a hole
            holes[j] = True
            best_overlap[j] = overlap
            # Holes add area to their component's contour. Another contour can beat
            # the chosen one only if the polygon of its box could: read the mask.
            if rival >= key_size:
                _filled_largest((level > j).ravel(), h, w, largest)
    if every and holes.any():  # the holes' own contours compete for the best box
        _hole_boxes(entries, starts, holes, h, w, g, hole_box, hole_overlap)
        for j in range(n_thresholds):
            if holes[j] and hole_overlap[j, 1] >= 0 and _better_iou(
                    hole_overlap[j, 0], hole_overlap[j, 1],
                    best_overlap[j, 0], best_overlap[j, 1]):
                best_out[j] = hole_box[j]


@numba.njit(cache=True)
def _scratch(h, w, n_thresholds):
    """The work arrays of `_sweep_map` for maps (H, W) and T thresholds."""
    n = h * w
    stride = w + 2
    padded = (h + 2) * stride
    padded_level = np.full((h + 2, stride), -1, np.int32)  # the border is never in a mask
    return (padded_level, np.empty(padded, np.int32), np.empty(n, np.int32),
            np.zeros((n, 8), np.int32), np.empty(n, np.int32), np.empty(n, np.int64),
            np.empty(w, np.int64), np.empty((4, n_thresholds + 2), np.int32),
            np.zeros(n_thresholds + 2, np.int32), np.empty(4, np.int64),
            np.empty(2, np.int64), np.zeros(n_thresholds, np.bool_),
            np.zeros((n_thresholds, 2), np.int64), np.zeros((n_thresholds, 4), np.int64),
            np.zeros((n_thresholds, 2), np.int64))


@numba.njit(cache=True)
def _sweep_maps(levels, gt, start, stop, n_thresholds, choe, every, joins, groups,
                euler_step, area_step, largest_out, best_out):
    """`_sweep_map` over maps start..stop − 1, with one set of work arrays."""
    _, h, w = levels.shape
    scratch = _scratch(h, w, n_thresholds)
    for i in range(start, stop):
        _sweep_map(levels[i], gt[i], n_thresholds, choe, every, joins, groups, euler_step,
                   area_step, largest_out[i], best_out[i] if every else best_out[0],
                   scratch)


@numba.njit(cache=True, parallel=True)
def _sweep_parallel(levels, gt, chunks, n_thresholds, choe, every, joins, groups,
                    euler_step, area_step, largest_out, best_out):
    """The maps split into ``chunks`` contiguous ranges, one per task: the maps are
    independent, so the threads share nothing but the read-only inputs and write
    disjoint rows of the outputs."""
    n = levels.shape[0]
    for k in numba.prange(chunks):
        _sweep_maps(levels, gt, k * n // chunks, (k + 1) * n // chunks, n_thresholds,
                    choe, every, joins, groups, euler_step, area_step, largest_out,
                    best_out)


@numba.njit(cache=True)
def _level_and_sweep(kernel, values, grid, h, w, gt, start, stop, at_a_time, choe, every,
                     joins, groups, euler_step, area_step, largest_out, best_out, finite):
    """Maps start..stop − 1, ``at_a_time`` maps at a time: their ranges and their levels
    made by ``kernel`` into small buffers, then swept while the maps are in the cache.
    ``finite[i]`` says whether map i and its range are finite (its boxes mean nothing
    otherwise)."""
    n_thresholds = grid.shape[0]
    levels = np.empty((at_a_time, h, w), np.int32)
    flat = levels.reshape(at_a_time, h * w)
    low = np.empty(at_a_time, values.dtype)
    high = np.empty(at_a_time, values.dtype)
    scratch = _scratch(h, w, n_thresholds)
    for a in range(start, stop, at_a_time):
        b = min(a + at_a_time, stop)
        _row_ranges(values[a:b], low, high)
        for i in range(a, b):
            finite[i] = np.isfinite(low[i - a]) and np.isfinite(high[i - a] - low[i - a])
            if not finite[i]:  # swept as a constant map (its levels could be any index)
                low[i - a] = high[i - a] = 0
        kernel(values[a:b], low, high, grid, flat[:b - a])
        for i in range(a, b):
            _sweep_map(levels[i - a], gt[i], n_thresholds, choe, every, joins, groups,
                       euler_step, area_step, largest_out[i],
                       best_out[i] if every else best_out[0], scratch)


@numba.njit(cache=True, parallel=True)
def _level_and_sweep_parallel(kernel, values, grid, h, w, gt, chunks, at_a_time, choe,
                              every, joins, groups, euler_step, area_step, largest_out,
                              best_out, finite):
    """`_level_and_sweep` on ``chunks`` contiguous shares of the maps, one per task."""
    n = values.shape[0]
    for k in numba.prange(chunks):
        _level_and_sweep(kernel, values, grid, h, w, gt, k * n // chunks,
                         (k + 1) * n // chunks, at_a_time, choe, every, joins, groups,
                         euler_step, area_step, largest_out, best_out, finite)


# --- the arrays the compiled loops trust: checked once, at the public functions -----------


def _check_rows(values: object, name: str) -> np.ndarray:
    """Maps flattened to rows: a float32 or float64 array (N, P), P >= 1 when N >= 1."""
    if not isinstance(values, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array (N, H·W), got {type(values).__name__}")
    if values.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} must be float32 or float64, got dtype {values.dtype}")
    if values.ndim != 2:
        raise ValueError(f"{name} must have shape (N, H·W), one flattened map a row, got "
                         f"shape {values.shape}")
    if len(values) and values.shape[1] == 0:
        raise ValueError(f"{name} must not have empty rows (a map has H·W >= 1 pixels), "
                         f"got shape {values.shape}")
    return np.ascontiguousarray(values)


def _check_ranges(low: object, high: object, n: int, dtype: np.dtype
                  ) -> tuple[np.ndarray, np.ndarray]:
    """One finite (min, max) per row, as `row_ranges` gives them, with max − min finite."""
    out = []
    for name, value in (("low", low), ("high", high)):
        if not isinstance(value, np.ndarray) or value.shape != (n,):
            shape = value.shape if isinstance(value, np.ndarray) else type(value).__name__
            raise ValueError(f"{name} must be a NumPy array (N,) = ({n},), one per row "
                             f"(row_ranges(values)), got {shape}")
        out.append(np.ascontiguousarray(value, dtype))
    with np.errstate(over="ignore", invalid="ignore"):
        spread = out[1] - out[0]
        if not (np.isfinite(out[0]).all() and np.isfinite(spread).all() and (spread >= 0).all()):
            raise ValueError("low and high must be each row's finite min and max "
                             "(row_ranges(values)), with high − low finite and >= 0")
    return out[0], out[1]


def _check_grid(thresholds: object) -> np.ndarray:
    """An ascending grid of thresholds τ, each in [0, 1], as a 1-D array."""
    grid = np.asarray(thresholds)
    if grid.ndim != 1 or grid.dtype.kind not in "iuf":
        raise ValueError(f"thresholds must be a 1-D array of numbers in [0, 1], got "
                         f"shape {grid.shape}, dtype {grid.dtype}")
    if not np.all((grid >= 0) & (grid <= 1)):  # NaN fails both
        outside = grid[~((grid >= 0) & (grid <= 1))][0]
        raise ValueError(f"thresholds must be in [0, 1], got {outside}")
    if np.any(np.diff(grid) < 0):
        raise ValueError(f"thresholds must be ascending (the levels count the thresholds a "
                         f"pixel passes), got {grid.tolist()[:8]}")
    return grid


def _check_gt(gt_boxes: object, n: int) -> np.ndarray:
    """One integer box (x0, y0, x1, y1) a map: (N, 4) of whole numbers."""
    gt = np.asarray(gt_boxes)
    if gt.shape != (n, 4) or gt.dtype.kind not in "iuf":
        raise ValueError(f"gt_boxes must be an array (N, 4) = ({n}, 4) of integer boxes, "
                         f"one a map, got shape {gt.shape}, dtype {gt.dtype}")
    boxes = gt.astype(np.int64)
    if gt.dtype.kind == "f" and not np.array_equal(boxes, gt):
        raise ValueError("gt_boxes must hold whole pixel coordinates, got a fraction, NaN "
                         "or inf")
    return np.ascontiguousarray(boxes)


@numba.njit(cache=True)
def _row_ranges(values, low, high):
    """Each row's min and max; NaN when the row holds NaN or ±inf."""
    for i in range(values.shape[0]):
        lo = hi = values[i, 0]
        finite = True
        for v in values[i]:
            lo = min(lo, v)
            hi = max(hi, v)
            finite = finite and np.isfinite(v)
        low[i] = lo if finite else np.nan
        high[i] = hi if finite else np.nan


def row_ranges(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(min, max) of each row of a float array (N, P); NaN for a row that is not finite.

    >>> row_ranges(np.array([[3.0, -1.0], [0.0, np.inf]]))
    (array([-1., nan]), array([ 3., nan]))
    """
    values = _check_rows(values, "values")
    low = np.empty(values.shape[0], values.dtype)
    high = np.empty(values.shape[0], values.dtype)
    _row_ranges(values, low, high)
    return low, high


@numba.njit(cache=True, inline="always")
def _bucket(v, scale, buckets):
    """The bucket of a value v ≥ 0 of [0, 1]: ⌊v·B⌋ in v's dtype, clipped to B."""
    return min(np.int32(v * scale), buckets)


@numba.njit(cache=True)
def _bucket_tables(grid, buckets):
    """The tables of `_normalized_levels` for an ascending grid: for each bucket b,
    how many cuts lie in lower buckets, how many in b, and their value (+inf for none);
    ``mixed`` when some bucket holds two different cuts.

    A value v falls in bucket ⌊v·B⌋ (clipped to B), computed in v's dtype. Rounding
    may put a value beside the one its exact product names, but never out of order:
    the product and the truncation are monotone, so a cut g ≤ v has a bucket ≤ v's and
    a cut g > v one ≥ v's, and only the cuts of v's own bucket need a comparison."""
    t = grid.shape[0]
    below = np.empty(buckets + 1, np.int32)
    inside = np.zeros(buckets + 1, np.int32)
    cut = np.full(buckets + 1, np.inf, grid.dtype)
    scale = grid.dtype.type(buckets)
    mixed = False
    k = 0
    for b in range(buckets + 1):
        below[b] = k
        while k < t and _bucket(grid[k], scale, buckets) <= b:
            if inside[b] and grid[k] != cut[b]:
                mixed = True
            if not inside[b]:
                cut[b] = grid[k]
            inside[b] += 1
            k += 1
    return below, inside, cut, mixed


@numba.njit(cache=True)
def _normalized_levels(values, low, high, grid, out):
    """The "camlib" levels: M̄ = (M − min M)/(max M − min M) in the maps' dtype, and
    the number of cuts ≤ M̄ read from a table of buckets of [0, 1] (`_bucket_tables`)
    with one comparison; a bucket holding two different cuts, which only a grid finer
    than the buckets has, falls back to counting them."""
    t = grid.shape[0]
    buckets = 16 * t + 1  # fine enough that a bucket rarely holds two cuts
    below, inside, cut, mixed = _bucket_tables(grid, buckets)
    scale = values.dtype.type(buckets)
    normalized = np.empty(values.shape[1], values.dtype)
    index = np.empty(values.shape[1], np.int32)
    for i in range(values.shape[0]):
        spread = high[i] - low[i]
        if not spread > 0:
            out[i] = t  # a constant map is 0 everywhere, and 0 ≥ τ·0 for every τ
            continue
        # The arithmetic first, in loops of their own that the compiler vectorizes;
        # then the look-ups.
        lo = low[i]
        for p in range(values.shape[1]):
            normalized[p] = (values[i, p] - lo) / spread
        for p in range(values.shape[1]):
            index[p] = _bucket(normalized[p], scale, buckets)
        row = out[i]
        for p in range(values.shape[1]):
            b = index[p]
            row[p] = below[b] + inside[b] * (normalized[p] >= cut[b])
        if mixed:
            for p in range(values.shape[1]):
                b = index[p]
                if inside[b] > 1:
                    v, m = normalized[p], below[b]
                    while m < t and grid[m] <= v:
                        m += 1
                    row[p] = m


@numba.njit(cache=True)
def _quantized_levels(values, low, high, grid, out):
    """The "choe2020" levels: in float64 whatever the maps' dtype, as the released code
    computes after ``t2n`` (float32 and narrower values are exact in float64), M̄ =
    (M − min M)/(max M − min M), q = ⌊255·M̄⌋ as uint8, and the number of cuts ⌊τ·max q⌋
    below q. A map's float32 arithmetic would put some pixels one q lower."""
    t = grid.shape[0]
    quantized = np.empty(values.shape[1], np.uint8)
    table = np.empty(256, np.int32)
    for i in range(values.shape[0]):
        lo = np.float64(low[i])
        spread = np.float64(high[i]) - lo
        peak = 0
        for p in range(values.shape[1]):
            q = np.uint8(((np.float64(values[i, p]) - lo) / spread) * 255.0) if spread > 0 else 0
            quantized[p] = q
            peak = max(peak, q)
        k = 0
        for v in range(256):  # q passes the cut ⌊τ_j·peak⌋ when q > it
            while k < t and np.floor(grid[k] * peak) < v:
                k += 1
            table[v] = k
        for p in range(values.shape[1]):
            out[i, p] = table[quantized[p]]


@numba.njit(cache=True, parallel=True)
def _levels_parallel(kernel, values, low, high, grid, out, chunks):
    """``kernel`` over ``chunks`` contiguous shares of the rows, one per task."""
    n = values.shape[0]
    for k in numba.prange(chunks):
        a, b = k * n // chunks, (k + 1) * n // chunks
        kernel(values[a:b], low[a:b], high[a:b], grid, out[a:b])


def levels(values: np.ndarray, low: np.ndarray, high: np.ndarray, thresholds: np.ndarray,
           protocol: str, threads: int | None = None) -> np.ndarray:
    """How many thresholds of an ascending grid each pixel passes, (N, P) int32, for
    maps flattened to rows (N, P) with their finite `row_ranges` (high − low finite): the
    pixel is in the mask of τ_j exactly when its level > j.

    - ``"camlib"``: M̄ = (M − min M)/(max M − min M) in the maps' dtype, mask {M̄ ≥ τ}
      (max M̄ is 1; a constant map, all 0, passes every τ).
    - ``"choe2020"``: q = ⌊255·M̄⌋ as uint8, mask {q > ⌊τ·max q⌋}, computed in float64
      whatever the maps' dtype, as Choe et al.'s released code computes (its ``t2n``
      turns every map into float64 before ``normalize_scoremap``).

    The arithmetic is `camlib.torch.normalize`'s, operation for operation, so the masks
    are the ones thresholding a normalized tensor gives. ``threads`` as in
    `threshold_boxes`.

    >>> maps = np.array([[0.0, 1.0, 2.0, 4.0]], np.float32)
    >>> levels(maps, *row_ranges(maps), np.array([0.25, 0.5]), "camlib")
    array([[0, 1, 2, 2]], dtype=int32)
    >>> levels(maps, *row_ranges(maps), np.array([0.25, 0.5]), "choe2020")
    array([[0, 0, 1, 2]], dtype=int32)
    """
    values = _check_rows(values, "values")
    low, high = _check_ranges(low, high, len(values), values.dtype)
    out = np.empty(values.shape, np.int32)
    kernel, grid = _levels_kernel(values.dtype, thresholds, protocol)
    chunks = _chunks(len(values), threads)
    if chunks == 1:
        kernel(values, low, high, grid, out)
    else:
        _levels_parallel(kernel, values, low, high, grid, out, chunks)
    return out


def _levels_kernel(dtype: np.dtype, thresholds: np.ndarray, protocol: str
                   ) -> tuple[object, np.ndarray]:
    """The compiled loop that makes a protocol's levels, and the grid in its dtype."""
    grid = _check_grid(thresholds)
    if protocol_code(protocol) == CAMLIB:
        return _normalized_levels, grid.astype(dtype)
    return _quantized_levels, grid.astype(np.float64)


def _chunks(n: int, threads: int | None) -> int:
    """How many shares to split n maps into: one per thread, at most one per map."""
    if threads is not None:
        threads = validation.positive_int(threads, "threads")
    return max(1, min(n, numba.get_num_threads() if threads is None else threads))


def threshold_boxes(levels: np.ndarray, gt_boxes: np.ndarray, n_thresholds: int,
                    protocol: str, every: bool = True, threads: int | None = None
                    ) -> tuple[np.ndarray, np.ndarray | None]:
    """The boxes of every mask of a grid of thresholds, one pass per map.

    Parameters
    ----------
    levels : int array (N, H, W) in 0..T: pixel p is in the mask of the j-th threshold
        (j = 0 the lowest) exactly when levels[p] > j
    gt_boxes : int array (N, 4), the ground truth the best component is chosen against
    n_thresholds : T
    protocol : one of `PROTOCOLS` (see the module docstring)
    every : also find the best of all components (MaxBoxAccV2); without it only the
        largest component's box is read, which is all MaxBoxAcc needs
    threads : how many threads sweep the maps (each a contiguous share of them); None
        uses numba's thread count (``numba.set_num_threads``), 1 runs in the calling
        thread. The boxes do not depend on it.

    Returns
    -------
    largest : int64 (N, T, 4), the box of the largest component at each threshold
    best : int64 (N, T, 4), the box with the highest IoU with the ground truth among all
        components (and, in "choe2020", hole contours); (0, 0, 0, 0) for an empty mask;
        None when ``every`` is false

    Example
    -------
    >>> levels = np.array([[[2, 0, 1], [2, 0, 0]]])   # two thresholds
    >>> largest, best = threshold_boxes(levels, np.array([[2, 0, 3, 1]]), 2, "camlib")
    >>> largest[0].tolist(), best[0].tolist()
    ([[0, 0, 1, 2], [0, 0, 1, 2]], [[2, 0, 3, 1], [0, 0, 1, 2]])
    """
    choe = protocol_code(protocol) == CHOE2020
    n_thresholds = validation.non_negative_int(n_thresholds, "n_thresholds")
    if not isinstance(levels, np.ndarray) or levels.dtype.kind not in "iu":
        what = levels.dtype if isinstance(levels, np.ndarray) else type(levels).__name__
        raise TypeError(f"levels must be an integer NumPy array (N, H, W), got {what}")
    if levels.ndim != 3:
        raise ValueError(f"levels must have shape (N, H, W), got shape {levels.shape}")
    if levels.size and (levels.min() < 0 or levels.max() > n_thresholds):
        raise ValueError(f"levels must lie in 0..n_thresholds = 0..{n_thresholds}, got "
                         f"values in {levels.min()}..{levels.max()}")
    levels = np.ascontiguousarray(levels, dtype=np.int32)
    n = levels.shape[0]
    gt = _check_gt(gt_boxes, n)
    largest = np.zeros((n, n_thresholds, 4), np.int64)
    best = np.zeros((n if every else 1, n_thresholds, 4), np.int64)
    chunks = _chunks(n, threads)
    args = (int(n_thresholds), choe, bool(every), JOINS, GROUPS, EULER_STEP, AREA_STEP,
            largest, best)
    if n and levels.shape[1] * levels.shape[2]:
        if chunks == 1:
            _sweep_maps(levels, gt, 0, n, *args)
        else:
            _sweep_parallel(levels, gt, chunks, *args)
    return largest, best if every else None


MAPS_AT_A_TIME = 8  # maps a thread levels and sweeps at a time (their levels: 1.6 MB at 224²)


def map_boxes(values: np.ndarray, shape: tuple[int, int], thresholds: np.ndarray,
              gt_boxes: np.ndarray, protocol: str, every: bool = True,
              threads: int | None = None, at_a_time: int = MAPS_AT_A_TIME, *,
              name: str = "values") -> tuple[np.ndarray, np.ndarray | None]:
    """`threshold_boxes` of the `levels` of maps flattened to rows (N, H·W), in one
    compiled call: each thread takes ``at_a_time`` maps of its share, finds their
    `row_ranges`, makes their levels and sweeps them while they are in its cache (a
    separate pass for the ranges, or the levels of a whole batch at 4 bytes a pixel,
    would go to memory and back). ``values`` (float32 or float64), ``thresholds``
    (ascending) and ``protocol`` as in `levels`; ``shape`` the maps' (H, W);
    ``gt_boxes``, ``every`` and ``threads`` as in `threshold_boxes`, whose outputs it
    returns, identical.

    A map holding NaN or ±inf, or whose max − min overflows its dtype, has no levels: a
    ValueError names ``name`` (the caller's word for the maps) and the first such map.
    The check reads the ranges the sweep computes anyway, so it costs no extra pass.

    >>> maps = np.array([[2, 0, 1, 2, 0, 0]], np.float32)
    >>> largest, _ = map_boxes(maps, (2, 3), np.array([0.4, 0.9]),
    ...                        np.array([[0, 0, 1, 2]]), "camlib", every=False)
    >>> largest[0].tolist()
    [[0, 0, 1, 2], [0, 0, 1, 2]]
    """
    values = _check_rows(values, name)
    kernel, grid = _levels_kernel(values.dtype, thresholds, protocol)
    choe = protocol_code(protocol) == CHOE2020
    n = values.shape[0]
    if not isinstance(shape, (tuple, list)) or len(shape) != 2 \
            or not all(isinstance(v, (int, np.integer)) and v > 0 for v in shape) \
            or (n and shape[0] * shape[1] != values.shape[1]):
        raise ValueError(f"shape must be the maps' (H, W), positive ints with H·W = "
                         f"{values.shape[1]} pixels a row of {name}, got {shape!r}")
    h, w = shape
    gt = _check_gt(gt_boxes, n)
    largest = np.zeros((n, len(grid), 4), np.int64)
    best = np.zeros((n if every else 1, len(grid), 4), np.int64)
    finite = np.ones(n, np.bool_)
    chunks = _chunks(n, threads)
    args = (kernel, values, grid, int(h), int(w), gt)
    rest = (max(1, int(at_a_time)), choe, bool(every), JOINS, GROUPS, EULER_STEP,
            AREA_STEP, largest, best, finite)
    if n and h * w:
        if chunks == 1:
            _level_and_sweep(*args, 0, n, *rest)
        else:
            _level_and_sweep_parallel(*args, chunks, *rest)
    if not finite.all():
        raise ValueError(f"{name} must be finite, and max − min of each map a finite "
                         f"number in its dtype, got a map containing NaN or inf or a range "
                         f"beyond the dtype's largest value (map {int(np.argmin(finite))})")
    return largest, best if every else None
