"""Sphinx configuration of the course's website (``make book``; sources staged by build.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from docutils import nodes

project = "Class Activation Mapping, step by step"
author = "the CAM course"
copyright = "the CAM course authors, MIT licence"  # noqa: A001 (Sphinx's name)

# sphinx_togglebutton folds each exercise's solution ("Show solution", a dropdown admonition).
extensions = ["myst_nb", "sphinx_togglebutton"]
togglebutton_hint = "Show solution"
togglebutton_hint_hide = "Hide solution"
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
STAGE = Path(os.environ.get("CAMLIB_BOOK_STATIC", "_static")).parent


def _repository() -> str:
    """The course's repository (camcourse/course.json), linked from every page's footer."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from camcourse.course import load_setting

    return load_setting().repo_url


REPOSITORY = _repository()
html_theme_options = {
    "navigation_with_keys": True,
    "footer_icons": [{
        "name": "The course's repository",
        "url": REPOSITORY,
        "html": "The course's repository on GitHub",
        "class": "course-repository",
    }],
    "announcement": f'<a href="{REPOSITORY}">The course on GitHub</a>',
}

if os.environ.get("CAMLIB_BOOK_NITPICK"):
    nitpicky = True


def _image_alt_texts(app, doctree) -> None:
    """Put each lesson figure's alt text (build.py's image_alt.json, keyed by the SHA-256
    that myst-nb names the image file after) on its image."""
    path = STAGE / "image_alt.json"
    alts = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    for image in doctree.findall(nodes.image):
        alt = alts.get(Path(image.get("uri", "")).stem)
        if alt:
            image["alt"] = alt


def _figures_open_full_size(app, doctree, docname) -> None:
    """Make each lesson figure a link to its image file, so that on a phone, where the
    column shrinks a figure to a third of its size, a tap opens it at full size to zoom."""
    from sphinx.util.osutil import relative_uri

    if app.builder.format != "html" or not docname.startswith("lessons/"):
        return
    folder = relative_uri(app.builder.get_target_uri(docname), "_images")
    for image in list(doctree.findall(nodes.image)):
        uri = image.get("candidates", {}).get("*", image.get("uri", ""))
        if isinstance(image.parent, nodes.reference) or uri not in app.env.images \
                or not uri.lower().endswith(".png"):
            continue
        link = nodes.reference("", "", refuri=f"{folder}/{app.env.images[uri][1]}",
                               internal=True, classes=["figure-full-size"])
        image.replace_self(link)
        link.append(image)


def setup(app):
    # MathJax on every page: the navigation shows lesson titles with formulas everywhere.
    app.set_html_assets_policy("always")
    app.connect("doctree-read", _image_alt_texts)
    app.connect("doctree-resolved", _figures_open_full_size)
