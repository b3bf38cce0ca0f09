"""Sphinx configuration of the course's website (``make book``; sources staged by build.py)."""

from __future__ import annotations

import os

project = "Class Activation Mapping, step by step"
author = "the CAM course"
copyright = "the CAM course authors, MIT licence"  # noqa: A001 (Sphinx's name)

extensions = ["myst_nb"]
root_doc = "index"
exclude_patterns = ["_build", "_notebooks", "**.ipynb_checkpoints"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}

# build.py executes the lessons (with a cache) before Sphinx runs: Sphinx only renders.
nb_execution_mode = "off"
nb_merge_streams = True
# No widget JavaScript from a CDN: build.py replaces each widget by a still image and a note.
nb_ipywidgets_js: dict = {}
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type"]

# MathJax 2 served from this site (copied from the jupyter-server-mathjax package by
# build.py): formulas render with no network at build or view time.
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
mathjax2_config = {
    "tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]],
                "processEscapes": True},
    "HTML-CSS": {"availableFonts": ["TeX"], "imageFont": None, "webFont": "TeX"},
    "showMathMenu": False,
    "messageStyle": "none",
}

html_theme = "furo"
html_title = "CAM, step by step"
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_last_updated_fmt = None
html_copy_source = False
html_show_sourcelink = False
html_theme_options = {"navigation_with_keys": True}

if os.environ.get("CAMLIB_BOOK_NITPICK"):
    nitpicky = True
