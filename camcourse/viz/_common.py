"""What every figure of the course shares: arrays to NumPy, images ready for ``imshow``,
and half-open boxes drawn around the pixels they cover.

`camcourse.viz.maps` and `camcourse.viz.localization` (`show_samples` among them) draw
with these three functions, so an image or a box looks the same in every lesson.
"""

from __future__ import annotations

import numpy as np

__all__ = ["to_numpy", "display_image", "as_display_image", "draw_box"]


def to_numpy(value) -> np.ndarray:
    """A NumPy array from an array, a list or a tensor (any device, any dtype, with or
    without a graph). Floating tensors NumPy has no dtype for (bfloat16) become float32;
    float16, float32 and float64 keep their dtype.

    >>> import torch
    >>> to_numpy(torch.ones(2, dtype=torch.bfloat16)).dtype
    dtype('float32')
    """
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu()
        if value.dtype.is_floating_point and str(value.dtype)[6:] not in _NUMPY_FLOATS:
            value = value.float()
        value = value.numpy()
    return np.asarray(value)


def display_image(image) -> np.ndarray:
    """An image ready for ``imshow``: (H, W, 3) float in [0, 1], or (H, W) for grey.

    Parameters
    ----------
    image : array or tensor, (3, H, W), (H, W, 3), (1, H, W) or (H, W); uint8 (0–255) or
        float. Floats in [0, 1] are shown as they are; floats outside it (for example a
        normalized network input) are min–max scaled into it, so nothing is clipped away.

    Returns
    -------
    (H, W, 3) or (H, W) float64 array in [0, 1].

    Example
    -------
    >>> display_image(np.zeros((3, 4, 5), np.uint8)).shape
    (4, 5, 3)
    >>> display_image(np.array([[-2.0, 2.0]]))
    array([[0., 1.]])
    """
    array = to_numpy(image)
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
        array = np.moveaxis(array, 0, -1)
    elif array.ndim == 3 and array.shape[0] == 3 and array.shape[-1] == 3:
        array = np.moveaxis(array, 0, -1)  # 3×3 images: channels first, as torch stores them
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] != 3):
        raise ValueError(
            f"image must be (3, H, W), (H, W, 3) or (H, W), got shape {array.shape}"
        )
    if array.dtype == np.uint8:
        return array.astype(np.float64) / 255.0
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"image must hold numbers (uint8 or float), got dtype {array.dtype}")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError("image must be finite, got NaN or inf")
    low, high = (float(array.min()), float(array.max())) if array.size else (0.0, 1.0)
    if low < 0.0 or high > 1.0:
        array = (array - low) / (high - low) if high > low else np.zeros_like(array)
    return array


as_display_image = display_image  # the name lessons 00–05 use


def draw_box(ax, box, color: str = "lime", label: str | None = None, linewidth: float = 2.0,
             linestyle: str = "-"):
    """Draw a half-open box (x0, y0, x1, y1) around the pixels it covers; returns the
    Rectangle.

    Pixel (x, y) covers [x - 0.5, x + 0.5) in imshow's coordinates, so the box covering
    columns x0..x1-1 starts at x0 - 0.5 and is x1 - x0 wide.

    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> draw_box(ax, (1, 1, 3, 2)).get_xy(), draw_box(ax, (1, 1, 3, 2)).get_width()
    ((0.5, 0.5), 2.0)
    >>> plt.close(fig)
    """
    from matplotlib.patches import Rectangle

    values = to_numpy(box).ravel()
    if values.size != 4:
        raise ValueError(f"box must be 4 numbers (x0, y0, x1, y1), got {values.size}")
    x0, y0, x1, y1 = (float(v) for v in values)
    patch = Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor=color,
                      linewidth=linewidth, linestyle=linestyle, label=label)
    ax.add_patch(patch)
    return patch


_NUMPY_FLOATS = {"float16", "float32", "float64"}


class _Reused:
    """The artists of one widget figure, kept so that the next redraw updates them.

    A widget callback draws a figure and shows it, and ``plt.show()`` (or ``plt.close``)
    then closes it. Building the axes, ticks and colour bars again costs more than drawing
    them, so `reuse` hands the closed figure back to the next call with the same layout,
    and these methods create each artist on the first call and update it afterwards
    (``set_data``, ``set_clim``, new box corners). A figure still open is never touched:
    a caller that keeps figures gets a new one each call.

    Under the inline (or Agg) backend the figure's canvas is a
    `camcourse.viz._render.WidgetCanvas` (``canvas``; None under other backends): its tight
    PNG draws the axes' ticks and labels once and only what is inside the axes, the titles
    and the colour bars on every redraw.
    """

    def __init__(self, fig):
        self.fig = fig
        self.artists: dict[str, object] = {}
        self.fresh = True
        self.canvas = None

    def redraw_in_full(self, ax) -> None:
        """Tell the canvas that the limits or ticks of ``ax`` change from redraw to redraw
        (it would find out by itself, one slow redraw later)."""
        if self.canvas is not None:
            self.canvas.redraw_in_full(ax)

    def imshow(self, ax, name: str, data, **kwargs):
        """``ax.imshow(data, **kwargs)`` once; later the same image with new data and
        limits (``cmap`` and ``alpha`` included)."""
        image = self.artists.get(name)
        if image is None:
            image = self.artists[name] = ax.imshow(data, **kwargs)
            return image
        image.set_data(data)
        norm = kwargs.get("norm")
        if norm is not None:
            image.set_clim(norm.vmin, norm.vmax)
        elif "vmin" in kwargs or "vmax" in kwargs:
            image.set_clim(kwargs.get("vmin"), kwargs.get("vmax"))
        else:
            image.autoscale()
        # Only what differs: each change redraws the colour bar that follows the image.
        if "cmap" in kwargs and not _same_colormap(image.get_cmap(), kwargs["cmap"]):
            image.set_cmap(kwargs["cmap"])
        if "alpha" in kwargs and image.get_alpha() != kwargs["alpha"]:
            image.set_alpha(kwargs["alpha"])
        return image

    def colorbar(self, name: str, mappable, label: str | None = None, **kwargs):
        """One colour bar per mappable; it follows the mappable's limits by itself."""
        bar = self.artists.get(name)
        if bar is None:
            bar = self.artists[name] = self.fig.colorbar(mappable, label=label, **kwargs)
        elif label is not None and bar.ax.get_ylabel() != label:
            bar.set_label(label)
        return bar

    def box(self, ax, name: str, box, color: str = "lime", **kwargs):
        """`draw_box` once; later the same rectangle moved to the new box."""
        patch = self.artists.get(name)
        if patch is None:
            patch = self.artists[name] = draw_box(ax, box, color, **kwargs)
            return patch
        values = to_numpy(box).ravel()
        if values.size != 4:
            raise ValueError(f"box must be 4 numbers (x0, y0, x1, y1), got {values.size}")
        x0, y0, x1, y1 = (float(v) for v in values)
        patch.set_bounds(x0 - 0.5, y0 - 0.5, x1 - x0, y1 - y0)
        patch.set_edgecolor(color)
        return patch


def _same_colormap(current, cmap) -> bool:
    """Whether ``imshow(cmap=cmap)`` would give the colour map ``current`` (a name is
    compared by name, a Colormap by its colours)."""
    import matplotlib as mpl

    if cmap is None or isinstance(cmap, str):
        return current.name == (cmap or mpl.rcParams["image.cmap"])
    return current == cmap


_REUSABLE: dict[tuple, _Reused] = {}


def reuse(key: tuple, build) -> _Reused:
    """The figure built by ``build()`` for this layout ``key``, or the one built for it
    before if pyplot has closed it since (it is registered with pyplot again)."""
    import matplotlib.pyplot as plt
    from matplotlib import _pylab_helpers

    state = _REUSABLE.get(key)
    open_figures = [m.canvas.figure for m in _pylab_helpers.Gcf.get_all_fig_managers()]
    if state is None or any(f is state.fig for f in open_figures) or \
            plt.get_backend() != state.backend:
        state = _Reused(build())
        state.backend = plt.get_backend()
        _REUSABLE[key] = state
        _use_widget_canvas(state)
        return state
    _register_again(state)
    state.fresh = False
    return state


def _use_widget_canvas(state: _Reused) -> None:
    """Give a new figure a `WidgetCanvas`, where pyplot gave it a plain Agg canvas (the
    inline backend's and the Agg backend's); other backends keep their own canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from camcourse.viz._render import WidgetCanvas

    fig = state.fig
    if type(fig.canvas) is not FigureCanvasAgg:
        return
    manager = fig.canvas.manager
    state.canvas = WidgetCanvas(fig)
    state.canvas.manager = manager
    if manager is not None:
        manager.canvas = state.canvas


def _register_again(state: _Reused) -> None:
    """Hand a figure that pyplot has closed back to pyplot, under a new number, so that
    ``plt.show()`` shows it: ``plt.figure(fig)`` does this from matplotlib 3.11 on, and
    refuses a closed figure before. The figure keeps its `WidgetCanvas` (and the
    background it rendered); under other backends it gets a new canvas of the backend."""
    import matplotlib.pyplot as plt
    from matplotlib import _pylab_helpers
    from matplotlib.backend_bases import FigureManagerBase

    numbers = plt.get_fignums()
    number = max(numbers) + 1 if numbers else 1
    if state.canvas is not None:
        state.fig.set_canvas(state.canvas)
        manager = FigureManagerBase(state.canvas, number)
    else:
        manager = plt._get_backend_mod().new_figure_manager_given_figure(number, state.fig)
    _pylab_helpers.Gcf._set_new_active_manager(manager)
