"""Figures for the lessons: every widget callback draws with one of these functions.

`camlib.viz.maps` draws feature maps and class activation maps (lessons 01–05);
`camlib.viz.localization` draws boxes, thresholds and localization curves (lessons 06–10).
"""

from camlib.viz.localization import *  # noqa: F403
from camlib.viz.maps import *  # noqa: F403
