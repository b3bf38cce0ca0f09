"""Figures of feature maps and class activation maps (lessons 01–05)."""

__all__: list[str] = []
