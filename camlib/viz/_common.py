"""What every figure of the course shares: arrays to NumPy, images ready for ``imshow``,
and half-open boxes drawn around the pixels they cover.

`camlib.viz.maps`, `camlib.viz.localization` and `camlib.data.show_samples` all draw
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
