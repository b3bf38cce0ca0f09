"""The data variants of lesson 11: deterministic by seed, a cue that predicts the class in
training and not in test, never covering the digit, and two digits with the right boxes."""

import numpy as np
import pytest

from camcourse.data import make_cluttered_digits
from camcourse.variants import (
    CUE_COLOURS,
    SpuriousDigits,
    box_overlaps,
    make_spurious_digits,
    make_two_digits,
)


@pytest.fixture(scope="module")
def train():
    return make_spurious_digits(300, "train", seed=3)


@pytest.fixture(scope="module")
def test():
    return make_spurious_digits(300, "test", seed=3)


def test_deterministic_by_seed_and_different_across_seeds(train):
    again = make_spurious_digits(300, "train", seed=3)
    np.testing.assert_array_equal(train.images, again.images)
    np.testing.assert_array_equal(train.cue_boxes, again.cue_boxes)
    other = make_spurious_digits(300, "train", seed=4)
    assert not np.array_equal(train.images, other.images)


def test_the_cue_gives_the_label_away_in_training(train):
    assert isinstance(train, SpuriousDigits) and train.params["cue"] == "label"
    np.testing.assert_array_equal(train.cue_classes, train.labels)


def test_the_cue_is_independent_of_the_class_in_test(test):
    assert test.params["cue"] == "random"
    agreement = (test.cue_classes == test.labels).mean()
    # 300 draws at p = 0.1: 3 standard deviations is 0.052.
    assert abs(agreement - 0.1) < 0.052
    assert len(np.unique(test.cue_classes)) == 10


def test_the_cue_is_drawn_with_its_class_colour(train, test):
    for data in (train, test):
        for i in range(0, len(data), 17):
            x0, y0, x1, y1 = data.cue_boxes[i]
            patch = data.images[i, :, y0:y1, x0:x1].reshape(3, -1).mean(1) / 255
            distances = np.abs(CUE_COLOURS - patch).sum(1)
            assert distances.argmin() == data.cue_classes[i]
            assert distances.min() < 0.1


def test_the_cue_is_a_corner_square_away_from_the_digit(train, test):
    size = train.images.shape[-1]
    for data in (train, test):
        x0, y0, x1, y1 = data.cue_boxes.T
        assert ((x1 - x0) == 6).all() and ((y1 - y0) == 6).all()
        assert set(np.unique(x0)) <= {2, size - 8} and set(np.unique(y0)) <= {2, size - 8}
        grown = data.cue_boxes + np.array([-1, -1, 1, 1])
        assert not box_overlaps(grown, data.boxes).any()
        # All four corners are used.
        assert len({(a, b) for a, b in zip(x0, y0, strict=True)}) == 4


def test_only_the_cue_changes_the_base_images(test):
    base = make_cluttered_digits(300, "test", seed=3)
    np.testing.assert_array_equal(test.labels, base.labels)
    np.testing.assert_array_equal(test.boxes, base.boxes)
    changed = (test.images != base.images).any(axis=1)  # (N, S, S)
    for i in range(len(test)):
        x0, y0, x1, y1 = test.cue_boxes[i]
        outside = changed[i].copy()
        outside[y0:y1, x0:x1] = False
        assert not outside.any()


def test_no_cue_leaves_the_images_as_they_were():
    plain = make_spurious_digits(50, "test", seed=1, cue="none")
    base = make_cluttered_digits(50, "test", seed=1)
    np.testing.assert_array_equal(plain.images, base.images)
    assert (plain.cue_classes == -1).all() and (plain.cue_boxes == 0).all()


def test_subset_keeps_the_cue(test):
    part = test.subset(np.arange(5, 9))
    assert isinstance(part, SpuriousDigits)
    np.testing.assert_array_equal(part.cue_boxes, test.cue_boxes[5:9])


@pytest.mark.parametrize("kwargs, error", [
    (dict(n=0), ValueError), (dict(n=2.0), TypeError), (dict(split="validation"), ValueError),
    (dict(cue="colour"), ValueError), (dict(side=1), ValueError), (dict(side=17), ValueError),
    (dict(seed=-1), ValueError),
])
def test_spurious_bad_arguments_are_refused(kwargs, error):
    arguments = dict(n=4, split="train", seed=0) | kwargs
    with pytest.raises(error):
        make_spurious_digits(**arguments)


@pytest.fixture(scope="module")
def pairs():
    return make_two_digits(120, seed=2)


def test_two_digits_are_deterministic_and_of_different_classes(pairs):
    again = make_two_digits(120, seed=2)
    np.testing.assert_array_equal(pairs.images, again.images)
    assert (pairs.labels[:, 0] != pairs.labels[:, 1]).all()
    same = make_two_digits(60, seed=2, same_class=True)
    assert (same.labels[:, 0] == same.labels[:, 1]).all()


def test_two_digits_boxes_are_tight_apart_and_inside(pairs):
    size = pairs.images.shape[-1]
    for i in range(len(pairs)):
        for k in range(2):
            rows, cols = np.nonzero(pairs.masks[i, k])
            box = (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
            assert tuple(pairs.boxes[i, k]) == box
            assert box[0] >= 1 and box[1] >= 1 and box[2] <= size - 1 and box[3] <= size - 1
        grown = pairs.boxes[i, 0] + np.array([-2, -2, 2, 2])
        assert not box_overlaps(grown, pairs.boxes[i, 1])


def test_the_second_digit_is_pasted_pixel_for_pixel(pairs):
    base = make_cluttered_digits(6 * 120, "test", seed=2, scale=(0.32, 0.42))
    # The first digit and everything outside the second one are the base image's.
    changed = (pairs.images != base.images[:120]).any(axis=1)
    assert not (changed & ~pairs.masks[:, 1]).any()
    # The second digit's pixels come from one other image of the set, moved by whole pixels.
    i = 0
    source = np.flatnonzero(base.labels == pairs.labels[i, 1])
    target_pixels = pairs.images[i][:, pairs.masks[i, 1]]
    assert any(base.masks[j].sum() == pairs.masks[i, 1].sum()
               and np.array_equal(base.images[j][:, base.masks[j]], target_pixels)
               for j in source)


@pytest.mark.parametrize("kwargs, error", [
    (dict(n=-1), ValueError), (dict(same_class=1), TypeError), (dict(gap=-1), ValueError),
    (dict(scale=(0.3, 0.6)), ValueError), (dict(split="validation"), ValueError),
])
def test_two_digits_bad_arguments_are_refused(kwargs, error):
    with pytest.raises(error):
        make_two_digits(**(dict(n=4) | kwargs))


def test_box_overlaps_is_half_open():
    assert not box_overlaps(np.array([0, 0, 2, 2]), np.array([2, 0, 4, 2]))
    assert box_overlaps(np.array([0, 0, 3, 2]), np.array([2, 1, 4, 2]))
