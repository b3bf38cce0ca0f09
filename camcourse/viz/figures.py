"""Showing a lesson's figure: the picture, a caption a reader sees under it, and a
description (alt text) for those who cannot see it.

Every static figure of the lessons goes through `show`, so JupyterLab, Colab and the course's
website get the same caption and alt text: the PNG's output carries the alt text in its
metadata (``{"image/png": {"alt": ...}}``, read by the website's build), and the caption is
a Markdown output that wraps with the page.
"""

from __future__ import annotations

import io

__all__ = ["show"]


def show(caption: str, alt: str, fig=None) -> None:
    """Show ``fig`` (the current figure by default) with a caption and alt text, then close it.

    Parameters
    ----------
    caption : what the figure shows and what to look for in it, one or two sentences.
    alt : a description of the picture for a screen reader: what is drawn where, the
        numbers a sighted reader would read off it. Not the caption repeated.
    fig : a matplotlib Figure; ``None`` takes ``plt.gcf()``.

    Outside IPython (a plain script) the figure is left to matplotlib and the caption
    printed.

    Example
    -------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> _ = plt.plot([0, 1], [0, 1])
    >>> show("A rising line.", "A straight line from the lower left to the upper right.")
    Figure: A rising line.
    >>> show("", "a line")
    Traceback (most recent call last):
    ...
    ValueError: caption must be a non-empty string, got ''
    """
    import matplotlib.pyplot as plt

    for name, text in (("caption", caption), ("alt", alt)):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{name} must be a non-empty string, got {text!r}")
    fig = plt.gcf() if fig is None else fig
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:
        get_ipython = None
    if get_ipython is None or get_ipython() is None:
        plt.close(fig)
        print(f"Figure: {caption}")
        return
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    display({"image/png": buffer.getvalue(), "text/plain": f"<Figure: {alt}>"},
            metadata={"image/png": {"alt": alt}}, raw=True)
    display(Markdown(f"*Figure.* {caption}"))
