"""The generator's clutter masks: where the fragments of other digits were drawn."""

import numpy as np
import pytest

from camcourse import data as cd
from camcourse.data import make_cluttered_digits


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(cd.paths, "CACHE_DIR", tmp_path / "cache")


def test_outside_the_digit_and_the_clutter_masks_only_the_smooth_background_remains():
    d = make_cluttered_digits(30, "test", noise=0.0, cache=False)
    assert d.clutter_masks.shape == d.masks.shape and d.clutter_masks.dtype == bool
    assert d.clutter_masks.any(axis=(1, 2)).mean() > 0.9  # nearly every image has clutter
    drawn = d.masks | d.clutter_masks
    for image, mark in zip(d.images.astype(int), drawn, strict=True):
        # The background is a 4×4 colour field enlarged bilinearly: neighbours differ by a
        # few levels. A fragment or the digit differs from it by 30 levels or more.
        jumps = np.abs(np.diff(image, axis=2)).max(0)           # (H, W - 1)
        clean = ~mark[:, 1:] & ~mark[:, :-1]
        assert jumps[clean].max() <= 10
        assert jumps[~clean].max() > 20


def test_without_clutter_the_masks_are_empty_and_the_cache_keeps_them():
    assert not make_cluttered_digits(8, "test", clutter=0, cache=False).clutter_masks.any()
    first = make_cluttered_digits(12, "test", seed=3)
    again = make_cluttered_digits(12, "test", seed=3)  # from the cache
    np.testing.assert_array_equal(first.clutter_masks, again.clutter_masks)
    np.testing.assert_array_equal(first.subset([2, 5]).clutter_masks,
                                  first.clutter_masks[[2, 5]])
