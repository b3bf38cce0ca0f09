"""A widget's figure, redrawn in place: what did not change is not drawn again.

Moving a lesson's slider calls a `camcourse.viz` function, which updates the artists of one
figure (`camcourse.viz._common.reuse`), and the inline backend then prints that figure to a
PNG with ``bbox_inches="tight"``. Printed the usual way, every redraw lays out and renders
every tick label twice (once to measure the tight box, once to draw) although the axes and
their ticks are the same as before. `WidgetCanvas`, the canvas of every reused figure
under the inline (or Agg) backend, prints it in two layers instead:

- the *background*, rendered once: the figure's face, and of each axes its face, its
  ticks, tick labels and axis labels;
- the *foreground*, drawn over a copy of the background on every print: everything inside
  each axes (images, boxes, contours, legends, the frame), the titles, the figure's texts,
  and in full the axes whose scale changes from one redraw to the next (colour bars, an
  autoscaled bar chart).

The background is rendered again as soon as the figure's size or an axes' position,
limits, ticks or labels differ from when it was rendered; an axes whose ticks changed is
drawn in full from then on. The tight box is the union matplotlib computes, taken from the
background's parts once and from the foreground's on every print, so the PNG has the same
size and content as a tight ``savefig``; it is cut from the canvas and written by
`png_bytes`. A print this canvas cannot reproduce (another format or dpi, a transparent
face, a layout engine, content outside the figure) is printed the usual way.

``python -m camcourse.benchmarks.widgets`` times both paths side by side on the lessons' own
widgets, and matplotlib's path with Pillow's fastest compression as well.
"""

from __future__ import annotations

import contextlib
import os
import struct
import zlib
from collections.abc import Iterator

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.colors import to_rgba
from matplotlib.transforms import Bbox

__all__ = ["WidgetCanvas", "png_bytes", "standard_printing"]

_IN_PLACE = [True]


@contextlib.contextmanager
def standard_printing() -> Iterator[None]:
    """Within this block a widget's figure prints as any figure does (every artist drawn,
    the tight box measured by matplotlib): the baseline of the widget benchmark.

    >>> with standard_printing():
    ...     pass
    """
    _IN_PLACE.append(False)
    try:
        yield
    finally:
        _IN_PLACE.pop()


def png_bytes(rgb: np.ndarray, dpi: float = 100.0) -> bytes:
    """An RGB image as PNG: every row filtered by "Up" (its difference from the row above),
    zlib level 1, the dpi in a pHYs chunk.

    A figure is flat colour and smooth images, which one fixed filter and fast compression
    pack about as small as Pillow's search for the best filter of every row does, in a
    fraction of its time.

    Parameters
    ----------
    rgb : (H, W, 3) uint8 array
    dpi : pixels per inch recorded in the file

    Returns
    -------
    The PNG file's bytes.

    Example
    -------
    >>> png_bytes(np.zeros((2, 3, 3), np.uint8))[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"rgb must be an (H, W, 3) uint8 array, got {rgb.dtype} {rgb.shape}")
    height, width, _ = rgb.shape
    flat = rgb.reshape(height, 3 * width)
    rows = np.empty((height, 1 + 3 * width), np.uint8)
    rows[:, 0] = 2  # filter type 2, "Up": each byte minus the one above it, modulo 256
    rows[:1, 1:] = flat[:1]
    np.subtract(flat[1:], flat[:-1], out=rows[1:, 1:])
    per_metre = round(dpi / 0.0254)
    return b"".join([
        b"\x89PNG\r\n\x1a\n",
        _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)),
        _chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1)),
        _chunk(b"IDAT", zlib.compress(rows.tobytes(), 1)),
        _chunk(b"IEND", b""),
    ])


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


class WidgetCanvas(FigureCanvasAgg):
    """An Agg canvas that prints a redrawn figure's PNG from a background rendered once.

    Everything but a tight PNG print is `FigureCanvasAgg`'s. `camcourse.viz._common.reuse`
    gives each widget figure one, and axes whose limits or ticks change on every redraw
    can be named in advance with `redraw_in_full` (colour bars are found by themselves).

    Example
    -------
    >>> import io
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> canvas = WidgetCanvas(fig)
    >>> image = ax.imshow(np.eye(3))
    >>> fig.savefig(io.BytesIO(), format="png", bbox_inches="tight")
    >>> image.set_data(np.eye(3)[::-1])  # the next print draws only the axes' contents
    >>> fig.savefig(io.BytesIO(), format="png", bbox_inches="tight")
    >>> canvas.background_renders
    1
    >>> plt.close(fig)
    """

    def __init__(self, figure=None):
        super().__init__(figure)
        self.in_full: set = set()
        self.background_renders = 0
        self._layer_renderer: RendererAgg | None = None
        self._background = None
        self._signature: tuple | None = None
        self._static_box: Bbox | None = None
        self._titles: dict = {}
        self.outside_streak = 0  # prints in a row whose tight box left the figure

    def redraw_in_full(self, ax) -> None:
        """Draw ``ax`` whole on every print (its limits or ticks change with the data)."""
        if ax not in self.in_full:
            self.in_full.add(ax)
            self._background = None

    # --- printing -------------------------------------------------------------------------

    def print_figure(self, filename, dpi=None, facecolor=None, edgecolor=None,
                     orientation="portrait", format=None, *, bbox_inches=None,
                     pad_inches=None, bbox_extra_artists=None, backend=None, **kwargs):
        """`FigureCanvasAgg.print_figure`; a tight PNG at the figure's dpi comes from
        `tight_rgb` (same size and content, drawn in layers)."""
        rgb = None
        # Labels that reach outside usually do so on every redraw (a colour bar's long tick
        # labels): after a few, the layers are tried on every eighth print only.
        if self.outside_streak >= 3 and self.outside_streak % 8:
            self.outside_streak += 1
        elif self._prints_in_layers(filename, dpi, facecolor, edgecolor, orientation, format,
                                    bbox_inches, bbox_extra_artists, backend, kwargs):
            pad = mpl.rcParams["savefig.pad_inches"] if pad_inches in (None, "layout") \
                else pad_inches
            rgb = self.tight_rgb(float(pad))
        if rgb is None:
            return super().print_figure(
                filename, dpi=dpi, facecolor=facecolor, edgecolor=edgecolor,
                orientation=orientation, format=format, bbox_inches=bbox_inches,
                pad_inches=pad_inches, bbox_extra_artists=bbox_extra_artists, backend=backend,
                **kwargs)
        data = png_bytes(rgb, self.figure.dpi)
        if isinstance(filename, (str, os.PathLike)):
            with open(filename, "wb") as file:
                file.write(data)
        else:
            filename.write(data)
        return None

    def _prints_in_layers(self, filename, dpi, facecolor, edgecolor, orientation, format,
                          bbox_inches, bbox_extra_artists, backend, kwargs) -> bool:
        fig = self.figure
        if not _IN_PLACE[-1] or kwargs or backend is not None or bbox_extra_artists is not None:
            return False
        if format is None and isinstance(filename, (str, os.PathLike)):
            # A name without a suffix is left to savefig, which adds one.
            format = os.path.splitext(os.fspath(filename))[1][1:]
        elif format is None:
            format = mpl.rcParams["savefig.format"]
        format = str(format).lower()
        bbox_inches = mpl.rcParams["savefig.bbox"] if bbox_inches is None else bbox_inches
        dpi = mpl.rcParams["savefig.dpi"] if dpi is None else dpi
        dpi = getattr(fig, "_original_dpi", fig.dpi) if dpi == "figure" else dpi
        if (format != "png" or not isinstance(bbox_inches, str) or bbox_inches != "tight"
                or orientation != "portrait" or float(dpi) != fig.dpi):
            return False
        for prop, color in (("facecolor", facecolor), ("edgecolor", edgecolor)):
            color = mpl.rcParams[f"savefig.{prop}"] if color is None else color
            own = fig.get_facecolor() if prop == "facecolor" else fig.get_edgecolor()
            if not (isinstance(color, str) and color == "auto") and to_rgba(color) != to_rgba(own):
                return False
        return (to_rgba(fig.get_facecolor())[3] == 1.0 and fig.patch.get_visible()
                and fig.get_layout_engine() is None and not fig.subfigs
                and all(ax.name == "rectilinear" for ax in fig.axes))

    def tight_rgb(self, pad_inches: float) -> np.ndarray | None:
        """Draw the figure (background once, foreground now) and cut the tight box padded
        by ``pad_inches`` from it, as an (H, W, 3) uint8 array; None where the tight box
        reaches outside the figure, which a print with ``bbox_inches="tight"`` would
        enlarge."""
        fig = self.figure
        width, height = fig.bbox.size
        renderer = self._layer_renderer
        if renderer is None or (renderer.width, renderer.height, renderer.dpi) != \
                (width, height, fig.dpi):
            renderer = self._layer_renderer = RendererAgg(width, height, fig.dpi)
            self._background = None
        with _setattr(self, "_is_saving", True):
            signature = self._axes_signature()
            if self._background is not None and signature != self._signature:
                then = self._signature[1]
                for ax, now in signature[1].items():
                    if ax in then and then[ax] != now:
                        self.in_full.add(ax)  # its ticks change: drawn whole from now on
                self._background = None
                signature = self._axes_signature()
            if self._background is None:
                self._render_background(renderer)
                self._signature = signature
            renderer.restore_region(self._background)
            self._render_foreground(renderer)
            box = self._tight_box(renderer)
        if box is None or box.x0 < 0 or box.y0 < 0 or box.x1 > width or box.y1 > height:
            self.outside_streak += box is not None
            return None
        self.outside_streak = 0
        # In inches, as savefig pads and sizes it (the same rounding, the same pixels).
        return self._cut(renderer, box.transformed(fig.dpi_scale_trans.inverted())
                         .padded(pad_inches))

    # --- the two layers -------------------------------------------------------------------

    def _whole(self, ax) -> bool:
        return ax in self.in_full or ax.get_axes_locator() is not None  # colour bars

    def _axes_signature(self) -> tuple:
        """What the background depends on: the figure's size and face, and each axes'
        position, limits, ticks and labels (axes drawn whole are left out)."""
        fig = self.figure
        axes = {}
        for ax in fig.axes:
            if self._whole(ax):
                axes[ax] = "whole"
                continue
            axes[ax] = (
                ax.get_visible(), ax.axison, ax.get_frame_on(), tuple(ax.get_position().bounds),
                ax.get_xlim(), ax.get_ylim(), ax.get_xscale(), ax.get_yscale(),
                to_rgba(ax.patch.get_facecolor()), ax.get_xlabel(), ax.get_ylabel(),
                *((axis.get_visible(), tuple(axis.get_majorticklocs()),
                   tuple(axis.get_minorticklocs()), id(axis.get_major_formatter()),
                   id(axis.get_minor_formatter()), axis.get_label_position(),
                   axis.get_ticks_position()) for axis in (ax.xaxis, ax.yaxis)))
        return ((tuple(fig.bbox.size), fig.dpi, to_rgba(fig.get_facecolor()),
                 to_rgba(fig.get_edgecolor()), fig.patch.get_linewidth()), axes)

    def _render_background(self, renderer: RendererAgg) -> None:
        """The figure's face, and each axes' face and axes (ticks, labels), as
        ``Figure.draw`` and ``Axes.draw`` draw them."""
        fig = self.figure
        renderer.clear()
        fig.patch.draw(renderer)
        boxes = []
        for ax in fig.axes:
            if self._whole(ax) or not ax.get_visible():
                continue
            ax.apply_aspect()
            if ax.axison and ax.get_frame_on():
                ax.patch.draw(renderer)
            boxes.append(ax.get_window_extent(renderer))
            if ax.axison:
                for axis in (ax.xaxis, ax.yaxis):
                    axis.draw(renderer)
                    if axis.get_visible():
                        boxes.append(axis.get_tightbbox(renderer))
            # The frame is drawn with the foreground (over the images) but its extent, ticks
            # included, is the background's.
            boxes += [spine.get_tightbbox(renderer) for spine in self._frame(ax)]
            ax._update_title_position(renderer)
        self._titles = self._title_texts()
        self._background = renderer.copy_from_bbox(fig.bbox)
        self._static_box = Bbox.union(_usable(boxes)) if _usable(boxes) else None
        self.background_renders += 1

    @staticmethod
    def _frame(ax) -> list:
        """The spines of ``ax`` that are drawn (none where its frame or axes are off)."""
        return list(ax.spines.values()) if ax.axison and ax.get_frame_on() else []

    def _content(self, ax) -> list:
        """The artists of ``ax`` that the foreground draws: all but its face and axes."""
        skip = {id(ax.patch), id(ax.xaxis), id(ax.yaxis)}
        skip |= {id(spine) for spine in ax.spines.values()} - {id(s) for s in self._frame(ax)}
        return [a for a in ax.get_children() if id(a) not in skip]

    def _title_texts(self) -> dict:
        return {ax: (ax.title.get_text(), ax._left_title.get_text(), ax._right_title.get_text())
                for ax in self.figure.axes}

    def _render_foreground(self, renderer: RendererAgg) -> None:
        fig = self.figure
        titles = self._title_texts()
        children = [a for a in fig.get_children() if a is not fig.patch and not a.get_animated()]
        for artist in sorted(children, key=lambda a: a.get_zorder()):
            if artist not in fig.axes:
                artist.draw(renderer)
            elif self._whole(artist):
                artist.draw(renderer)
            elif artist.get_visible():
                if titles[artist] != self._titles.get(artist):
                    # A title is placed by its own extent (a deep one moves up); the rest of
                    # what places it is the background's.
                    artist._update_title_position(renderer)
                for child in sorted(self._content(artist), key=lambda a: a.get_zorder()):
                    child.draw(renderer)
        self._titles = titles

    def _tight_box(self, renderer: RendererAgg) -> Bbox | None:
        """``Figure.get_tightbbox``: the background's part, kept, and the foreground's."""
        fig = self.figure
        boxes = [] if self._static_box is None else [self._static_box]
        for artist in fig.get_children():
            if artist is fig.patch or artist in fig.axes:
                continue
            if artist.get_visible() and artist.get_in_layout():
                boxes.append(artist.get_tightbbox(renderer))
        for ax in fig.axes:
            if not ax.get_visible():
                continue
            if self._whole(ax):
                boxes.append(ax.get_tightbbox(renderer))
                continue
            for title in (ax.title, ax._left_title, ax._right_title):
                if title.get_visible():
                    boxes.append(title.get_window_extent(renderer))
            frame = {id(spine) for spine in self._frame(ax)}  # in the background's part
            boxes += [a.get_tightbbox(renderer) for a in ax.get_default_bbox_extra_artists()
                      if id(a) not in frame]
        boxes = _usable(boxes)
        return Bbox.union(boxes) if boxes else None

    def _cut(self, renderer: RendererAgg, inches: Bbox) -> np.ndarray:
        """The pixels of the box ``inches`` as a tight print lays them out: its top-left
        corner at the box's (to the nearest pixel), its size truncated to whole pixels,
        the figure's face where the padding reaches past the figure."""
        dpi = self.figure.dpi
        rgba = np.asarray(renderer.buffer_rgba())
        rows, cols = int(inches.height * dpi), int(inches.width * dpi)
        top, left = round(renderer.height - inches.y1 * dpi), round(inches.x0 * dpi)
        face = (np.array(to_rgba(self.figure.get_facecolor())[:3]) * 255).round()
        out = np.empty((rows, cols, 3), np.uint8)
        out[:] = face.astype(np.uint8)
        r0, c0 = max(top, 0), max(left, 0)
        r1, c1 = min(top + rows, rgba.shape[0]), min(left + cols, rgba.shape[1])
        for channel in range(3):  # one at a time: copying 3 bytes of every 4 at once is slow
            out[r0 - top:r1 - top, c0 - left:c1 - left, channel] = rgba[r0:r1, c0:c1, channel]
        return out


def _usable(boxes: list) -> list:
    return [b for b in boxes if b is not None and np.isfinite(b.width) and np.isfinite(b.height)
            and np.all(np.isfinite(b.get_points())) and (b.width != 0 or b.height != 0)]


@contextlib.contextmanager
def _setattr(obj, name: str, value):
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)
