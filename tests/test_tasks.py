"""camcourse.tasks: framed-digit images built exactly from the cluttered digits."""

import numpy as np
import pytest

from camcourse.data import make_cluttered_digits, source_digits, without_validation_digits
from camcourse.tasks import draw_frame, make_framed_digit_task


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def task_and_pool(cache):
    mp = pytest.MonkeyPatch()
    mp.setattr("camcourse.paths.CACHE_DIR", cache)
    pool = without_validation_digits(make_cluttered_digits(160, "test", seed=3))
    task = make_framed_digit_task(160, "test", seed=3)
    yield task, pool
    mp.undo()


def _find(pool, half: np.ndarray, outside: np.ndarray) -> int:
    """The pool image equal to ``half`` wherever ``outside`` (not the frame) is true."""
    matches = [i for i in range(len(pool.images))
               if np.array_equal(pool.images[i][:, outside], half[:, outside])]
    assert len(matches) == 1
    return matches[0]


def test_each_half_is_one_pool_image_used_once_with_its_label_box_and_frame(task_and_pool):
    task, pool = task_and_pool
    size = pool.images.shape[-1]
    assert task.images.shape == (len(task), 3, size, 2 * size)
    assert len(task) == len(pool) // 2
    used = []
    for i in range(len(task)):
        for side in (0, 1):
            half = task.images[i, :, :, side * size:(side + 1) * size]
            outside = np.ones((size, size), bool)
            if task.framed_side[i] == side:
                x0, y0, x1, y1 = task.frame_boxes[i] - np.array([side * size, 0, side * size, 0])
                outside[y0:y1, x0:x1] = False
                inner = (x0 + 2, y0 + 2, x1 - 2, y1 - 2)
                outside[inner[1]:inner[3], inner[0]:inner[2]] = True  # inside the frame
            j = _find(pool, half, outside)
            used.append(j)
            assert task.digits[i, side] == pool.labels[j]
            assert task.sources[i, side] == pool.sources[j]
            np.testing.assert_array_equal(task.boxes[i, side],
                                          pool.boxes[j] + np.array([side * size, 0] * 2))
            if task.framed_side[i] == side:
                x0, y0, x1, y1 = task.frame_boxes[i]
                bx0, by0, bx1, by1 = task.boxes[i, side]
                # The frame surrounds the digit's box, in the digit's tile.
                assert x0 <= bx0 and y0 <= by0 and x1 >= bx1 and y1 >= by1
                assert side * size <= x0 and x1 <= (side + 1) * size
    assert len(set(used)) == len(used)


def test_labels_sides_and_frame_boxes_agree(task_and_pool):
    task, _ = task_and_pool
    framed = task.labels == 1
    assert 0 < framed.mean() < 1
    np.testing.assert_array_equal(task.framed_side >= 0, framed)
    assert (task.frame_boxes[~framed] == 0).all()
    positive, frames = task.positives()
    np.testing.assert_array_equal(positive, np.flatnonzero(framed))
    _, others = task.unframed_boxes()
    assert len(frames) == len(others)
    # the other digit's box is in the other half
    size = task.images.shape[-2]
    assert ((others[:, 0] >= size) == (task.framed_side[positive] == 0)).all()


def test_test_task_shares_no_digit_with_the_validation_split(task_and_pool):
    task, _ = task_and_pool
    assert not np.isin(task.sources, source_digits("val")[2]).any()


def test_draw_frame_outline_and_clipping():
    canvas = np.zeros((3, 20, 20), np.uint8)
    box = draw_frame(canvas, (1, 1, 6, 6), (10, 20, 30), padding=3, width=2)
    assert box == (0, 0, 11, 11)  # clipped at the top-left corner
    assert (canvas[:, 10, 0:11] == np.array([10, 20, 30])[:, None]).all()
    assert canvas[:, 5, 5].sum() == 0  # the inside is left alone


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="pool_size"):
        make_framed_digit_task(2, "val")
    with pytest.raises(ValueError, match="positive_fraction"):
        make_framed_digit_task(10, "val", positive_fraction=1.5)
