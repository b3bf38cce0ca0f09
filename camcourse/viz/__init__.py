"""Figures for the lessons: every widget callback draws with one of these functions.

`camlib.viz.maps` draws feature maps and class activation maps (lessons 01–05);
`camlib.viz.localization` draws boxes, thresholds and localization curves (lessons 06–10).
Both show images with `display_image` and boxes with `draw_box` (`camlib.viz._common`).
A widget's function reuses its figure from one redraw to the next (`camlib.viz._common`),
and its PNG is printed in layers, the axes' ticks and labels drawn once
(`camlib.viz._render`).
"""

from camlib.viz._common import *  # noqa: F403
from camlib.viz.figures import *  # noqa: F403
from camlib.viz.localization import *  # noqa: F403
from camlib.viz.maps import *  # noqa: F403
