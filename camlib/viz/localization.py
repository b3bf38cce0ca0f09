"""Figures of boxes, thresholds and localization results (lessons 06–10)."""

__all__: list[str] = []
