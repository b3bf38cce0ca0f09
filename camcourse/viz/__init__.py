"""Figures for the lessons: every widget callback draws with one of these functions.

`camcourse.viz.maps` draws feature maps and class activation maps (lessons 01–05);
`camcourse.viz.localization` draws boxes, thresholds and localization curves (lessons 06–10).
Both show images with `display_image` and boxes with `draw_box` (`camcourse.viz._common`).
A widget's function reuses its figure from one redraw to the next (`camcourse.viz._common`),
and its PNG is printed in layers, the axes' ticks and labels drawn once
(`camcourse.viz._render`).
"""

from camcourse.viz._common import *  # noqa: F403
from camcourse.viz.figures import *  # noqa: F403
from camcourse.viz.localization import *  # noqa: F403
from camcourse.viz.maps import *  # noqa: F403
