"""camlib.tasks: two-digit images built exactly from the cluttered digits."""

import numpy as np
import pytest

from camlib.data import make_cluttered_digits
from camlib.tasks import make_two_digit_task


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def task_and_pool(cache):
    mp = pytest.MonkeyPatch()
    mp.setattr("camlib.paths.CACHE_DIR", cache)
    pool = make_cluttered_digits(120, "test", seed=3)
    task = make_two_digit_task(120, "test", seed=3)
    yield task, pool
    mp.undo()


def _find(pool, half: np.ndarray) -> int:
    matches = [i for i in range(len(pool.images)) if np.array_equal(pool.images[i], half)]
    assert len(matches) == 1
    return matches[0]


def test_each_half_is_one_pool_image_used_once_with_its_label_and_shifted_box(task_and_pool):
    task, pool = task_and_pool
    size = pool.images.shape[-1]
    assert task.images.shape == (len(task), 3, size, 2 * size)
    used = []
    for i in range(len(task)):
        left = _find(pool, task.images[i, :, :, :size])
        right = _find(pool, task.images[i, :, :, size:])
        used += [left, right]
        assert tuple(task.digits[i]) == (pool.labels[left], pool.labels[right])
        np.testing.assert_array_equal(task.boxes[i, 0], pool.boxes[left])
        np.testing.assert_array_equal(task.boxes[i, 1], pool.boxes[right] + [size, 0, size, 0])
    assert len(used) == len(set(used))


def test_labels_mark_exactly_one_seven_and_every_seven_is_used(task_and_pool):
    task, pool = task_and_pool
    sevens = (task.digits == 7).sum(axis=1)
    assert sevens.max() == 1  # never two sevens in one image
    np.testing.assert_array_equal(task.labels, sevens)
    assert task.labels.sum() == (pool.labels == 7).sum()
    positive = task.labels == 1
    np.testing.assert_array_equal(task.digits[positive, task.target_side[positive]], 7)
    assert (task.target_side[~positive] == -1).all()
    # Both sides occur, so "always left" cannot solve the localization.
    assert set(task.target_side[positive]) == {0, 1}


def test_deciding_and_other_boxes(task_and_pool):
    task, _ = task_and_pool
    index, boxes = task.deciding_boxes()
    _, others = task.other_boxes()
    np.testing.assert_array_equal(index, np.flatnonzero(task.labels))
    for i, box, other in zip(index, boxes, others, strict=True):
        side = task.target_side[i]
        np.testing.assert_array_equal(box, task.boxes[i, side])
        np.testing.assert_array_equal(other, task.boxes[i, 1 - side])


def test_same_seed_same_task_and_bad_arguments(task_and_pool, cache, monkeypatch):
    monkeypatch.setattr("camlib.paths.CACHE_DIR", cache)
    task, _ = task_and_pool
    again = make_two_digit_task(120, "test", seed=3)
    np.testing.assert_array_equal(again.images, task.images)
    with pytest.raises(ValueError, match="target must be a digit 0-9, got 10"):
        make_two_digit_task(120, "test", target=10)
    with pytest.raises(ValueError, match="pool_size must be an int >= 4"):
        make_two_digit_task(2, "test")
