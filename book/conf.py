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

# MathJax 3 served from this site (build.py unpacks the npm package `mathjax` into
# _static/mathjax): formulas render with no network at view time.
mathjax_path = "mathjax/tex-chtml.js"

html_theme = "furo"
html_title = "CAM, step by step"
# build.py stages book/_static and MathJax together (Sphinx reads this path from here).
html_static_path = [os.environ.get("CAMLIB_BOOK_STATIC", "_static")]
html_css_files = ["course.css"]
html_last_updated_fmt = None
html_copy_source = False
html_show_sourcelink = False
html_theme_options = {"navigation_with_keys": True}

if os.environ.get("CAMLIB_BOOK_NITPICK"):
    nitpicky = True


def setup(app):
    # MathJax on every page: the navigation shows lesson titles with formulas everywhere.
    app.set_html_assets_policy("always")
