"""The exercise checks of lesson 11: right answers pass (visible and hidden inputs), and a
catalogue of wrong answers is caught, each with the mistake named."""

import numpy as np
import pytest
from scipy.stats import kendalltau, rankdata, spearmanr
from skimage.measure import label

from camcourse.checks import CheckFailed
from camcourse.checks.lesson11 import exercise_11_1, exercise_11_2, exercise_11_3
from camlib import reference

ALL_CHECKS = [exercise_11_1, exercise_11_2, exercise_11_3]
HIDDEN_SEEDS = [1, 7, 2024]


def failure(check, fn, hidden_seed=None) -> str:
    with pytest.raises(CheckFailed) as info:
        check(fn, verbose=False, hidden_seed=hidden_seed)
    return str(info.value)


def not_attempted(*args, **kwargs):
    raise NotImplementedError("Exercise")


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_the_student_placeholder_reads_not_attempted(check):
    result = check(not_attempted, verbose=False)
    assert not result.passed and "not attempted yet" in result.message


def test_checks_are_exported_from_camlib_checks():
    import camcourse.checks

    assert camcourse.checks.exercise_11_2 is exercise_11_2


# --- right answers, written independently of the checks' own code ----------------------------


def mass_inside(cam, box):
    x0, y0, x1, y1 = box
    positive = np.clip(cam, 0, None)
    total = positive.sum()
    return float(positive[y0:y1, x0:x1].sum() / total) if total > 0 else 0.0


def rank_correlation(a, b):
    return float(spearmanr(np.ravel(a), np.ravel(b)).statistic)


def instance_boxes(cam, threshold=0.2):
    peak = cam.max()
    mask = cam >= (threshold * peak if peak > 0 else peak)
    labels = label(mask, connectivity=2)
    sizes = np.bincount(labels.ravel())[1:]
    boxes = []
    for index in np.argsort(-sizes, kind="stable"):
        rows, cols = np.nonzero(labels == index + 1)
        boxes.append((cols.min(), rows.min(), cols.max() + 1, rows.max() + 1))
    return boxes


RIGHT = {exercise_11_1: mass_inside, exercise_11_2: rank_correlation,
         exercise_11_3: instance_boxes}


@pytest.mark.parametrize("hidden_seed", [None, *HIDDEN_SEEDS])
@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_right_answers_pass_visible_and_hidden(check, hidden_seed):
    assert check(RIGHT[check], verbose=False, hidden_seed=hidden_seed).passed


def test_other_right_answers_pass():
    # Torch-free alternatives a learner may write.
    def mass_loop(cam, box):
        inside = total = 0.0
        for y in range(cam.shape[0]):
            for x in range(cam.shape[1]):
                v = max(cam[y, x], 0.0)
                total += v
                if box[0] <= x < box[2] and box[1] <= y < box[3]:
                    inside += v
        return inside / total if total else 0.0

    def rho_by_hand(a, b):
        ra, rb = rankdata(a.ravel()), rankdata(b.ravel())
        return np.corrcoef(ra, rb)[0, 1]

    def boxes_with_reference(cam, threshold=0.2):
        peak = cam.max()
        labels, count = reference.connected_components(
            cam >= (threshold * peak if peak > 0 else peak))
        sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
        boxes = reference.component_boxes(labels, count)
        return [tuple(boxes[i]) for i in sorted(range(count), key=lambda i: -sizes[i])]

    assert exercise_11_1(mass_loop, verbose=False).passed
    assert exercise_11_2(rho_by_hand, verbose=False).passed
    assert exercise_11_3(boxes_with_reference, verbose=False).passed


# --- the catalogue of wrong answers --------------------------------------------------------------

MASS_WRONG = {
    "signed": (lambda c, b: c[b[1]:b[3], b[0]:b[2]].sum() / c.sum(), "signed map"),
    "abs": (lambda c, b: np.abs(c)[b[1]:b[3], b[0]:b[2]].sum() / np.abs(c).sum(), "|M|"),
    "not divided": (lambda c, b: np.maximum(c, 0)[b[1]:b[3], b[0]:b[2]].sum(),
                    "without dividing"),
    "ratio of means": (lambda c, b: np.maximum(c, 0)[b[1]:b[3], b[0]:b[2]].mean()
                       / np.maximum(c, 0).mean(), "density ratio"),
    "min-max": (lambda c, b: mass_inside((c - c.min()) / (c.max() - c.min()), b),
                "min–max normalized"),
    "pixel count": (lambda c, b: (c[b[1]:b[3], b[0]:b[2]] > 0).sum() / (c > 0).sum(),
                    "counted positive pixels"),
    "inclusive": (lambda c, b: mass_inside(c, (b[0], b[1], b[2] + 1, b[3] + 1)),
                  "half-open"),
    "swapped": (lambda c, b: np.maximum(c, 0)[b[0]:b[2], b[1]:b[3]].sum()
                / np.maximum(c, 0).sum(), "x and y are swapped"),
    "percentage": (lambda c, b: 100 * mass_inside(c, b), "percentage"),
    "no guard": (lambda c, b: np.maximum(c, 0)[b[1]:b[3], b[0]:b[2]].sum()
                 / np.maximum(c, 0).sum(), "return 0.0"),
    "one when empty": (lambda c, b: mass_inside(c, b) if (c > 0).any() else 1.0,
                       "return 0.0"),
    "x, y, width, height": (lambda c, b: np.maximum(c, 0)[b[1]:b[1] + b[3], b[0]:b[0] + b[2]]
                            .sum() / max(np.maximum(c, 0).sum(), 1e-300), "width, height"),
    "signed total": (lambda c, b: np.maximum(c, 0)[b[1]:b[3], b[0]:b[2]].sum() / c.sum(),
                     "signed"),  # where the box holds no negative value: "signed map"
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("hidden_seed", [None, 7])
@pytest.mark.parametrize("name", MASS_WRONG)
def test_11_1_names_each_wrong_answer(name, hidden_seed):
    fn, expected = MASS_WRONG[name]
    assert expected in failure(exercise_11_1, fn, hidden_seed)


def _ordinal(a, b):
    return float(np.corrcoef(rankdata(a.ravel(), "ordinal"), rankdata(b.ravel(), "ordinal"))[0, 1])


def _d_squared(a, b):
    d = rankdata(a.ravel()) - rankdata(b.ravel())
    n = d.size
    return 1 - 6 * (d**2).sum() / (n * (n**2 - 1))


def _per_row(a, b):
    ra = np.concatenate([rankdata(r) for r in np.atleast_2d(a)])
    rb = np.concatenate([rankdata(r) for r in np.atleast_2d(b)])
    return float(np.corrcoef(ra, rb)[0, 1])


SPEARMAN_WRONG = {
    "pearson": (lambda a, b: float(np.corrcoef(a.ravel(), b.ravel())[0, 1]), "Pearson's r on"),
    "ordinal ranks": (_ordinal, "break ties"),
    "argsort of argsort": (lambda a, b: float(np.corrcoef(
        a.ravel().argsort().argsort(), b.ravel().argsort().argsort())[0, 1]), "break ties"),
    "d squared": (_d_squared, "exact only when there are no ties"),
    "argsort": (lambda a, b: float(np.corrcoef(a.ravel().argsort(kind="stable"),
                                               b.ravel().argsort(kind="stable"))[0, 1]),
                "argsort gives the *positions*"),
    "abs": (lambda a, b: abs(rank_correlation(a, b)), "|ρ|"),
    "distance": (lambda a, b: 1 - rank_correlation(a, b), "1 − ρ"),
    "per row": (_per_row, "each row separately"),
    "mean of rows": (lambda a, b: float(np.mean([rank_correlation(ra, rb)
                                                 for ra, rb in zip(a, b, strict=True)])),
                     "each row separately"),
    "scipy on 2-D": (lambda a, b: spearmanr(a, b).statistic, "one number"),
    "scipy's result": (lambda a, b: spearmanr(a.ravel(), b.ravel()), ".statistic"),
    "minus rho": (lambda a, b: -rank_correlation(a, b), "−ρ"),
    "kendall": (lambda a, b: float(kendalltau(a.ravel(), b.ravel()).statistic), "Kendall"),
    "cosine of ranks": (lambda a, b: float(rankdata(a.ravel()) @ rankdata(b.ravel()) / np.sqrt(
        (rankdata(a.ravel()) ** 2).sum() * (rankdata(b.ravel()) ** 2).sum())), "mean rank"),
    "covariance": (lambda a, b: float(np.cov(rankdata(a.ravel()), rankdata(b.ravel()))[0, 1]),
                   "covariance"),
    "ranks of |M|": (lambda a, b: rank_correlation(np.abs(a), np.abs(b)), "|M|"),
    "ranks of max(M, 0)": (lambda a, b: rank_correlation(np.maximum(a, 0), np.maximum(b, 0)),
                           "max(M, 0)"),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", SPEARMAN_WRONG)
def test_11_2_names_each_wrong_answer(name):
    fn, expected = SPEARMAN_WRONG[name]
    assert expected in failure(exercise_11_2, fn)


def _only_largest(cam, threshold=0.2):
    return instance_boxes(cam, threshold)[:1]


def _four_connected(cam, threshold=0.2):
    peak = cam.max()
    labels, count = reference.connected_components(
        cam >= (threshold * peak if peak > 0 else peak), connectivity=4)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    boxes = reference.component_boxes(labels, count)
    return [tuple(boxes[i]) for i in np.argsort(-sizes, kind="stable")]


def _whole_mask(cam, threshold=0.2):
    rows, cols = np.nonzero(cam >= threshold * cam.max())
    return [(cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)]


def _with_background(cam, threshold=0.2):
    peak = cam.max()
    labels = label(cam >= (threshold * peak if peak > 0 else peak), connectivity=2)
    boxes = []
    for index in range(labels.max() + 1):
        rows, cols = np.nonzero(labels == index)
        boxes.append((cols.min(), rows.min(), cols.max() + 1, rows.max() + 1))
    return boxes


def _label_order(cam, threshold=0.2):
    peak = cam.max()
    labels = label(cam >= (threshold * peak if peak > 0 else peak), connectivity=2)
    boxes = []
    for index in range(1, labels.max() + 1):
        rows, cols = np.nonzero(labels == index)
        boxes.append((cols.min(), rows.min(), cols.max() + 1, rows.max() + 1))
    return boxes


def _no_max_rule(cam, threshold=0.2):
    labels = label(cam >= threshold * cam.max(), connectivity=2)
    sizes = np.bincount(labels.ravel())[1:]
    boxes = []
    for index in np.argsort(-sizes, kind="stable"):
        rows, cols = np.nonzero(labels == index + 1)
        boxes.append((cols.min(), rows.min(), cols.max() + 1, rows.max() + 1))
    return boxes


def _strict(cam, threshold=0.2):
    peak = cam.max()
    labels = label(cam > threshold * peak if peak > 0 else cam >= peak, connectivity=2)
    sizes = np.bincount(labels.ravel())[1:]
    boxes = []
    for index in np.argsort(-sizes, kind="stable"):
        rows, cols = np.nonzero(labels == index + 1)
        boxes.append((cols.min(), rows.min(), cols.max() + 1, rows.max() + 1))
    return boxes


def _by_box_area(cam, threshold=0.2):
    return sorted(instance_boxes(cam, threshold), key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))


BOXES_WRONG = {
    "only the largest": (_only_largest, "only the largest component"),
    "4-connectivity": (_four_connected, "4-connectivity"),
    "whole mask": (_whole_mask, "one box around the whole mask"),
    "background": (_with_background, "background"),
    "inclusive": (lambda c, t=0.2: [(b[0], b[1], b[2] - 1, b[3] - 1)
                                    for b in instance_boxes(c, t)], "inclusive"),
    "swapped": (lambda c, t=0.2: [(b[1], b[0], b[3], b[2]) for b in instance_boxes(c, t)],
                "x and y are swapped"),
    "absolute": (lambda c, t=0.2: instance_boxes(np.where(c >= t, 1.0, 0.0), 1.0),
                 "fixed value"),
    "min-max": (lambda c, t=0.2: instance_boxes((c - c.min()) / (c.max() - c.min()), t),
                "min–max"),
    "label order": (_label_order, "wrong order"),
    "negative max": (_no_max_rule, "equal to the max"),
    "strict >": (_strict, "strictly above"),
    "sorted by box area": (_by_box_area, "wrong order"),
    "threshold ignored": (lambda c, t=0.2: instance_boxes(c, 0.2), "whatever the `threshold`"),
}


@pytest.mark.parametrize("name", BOXES_WRONG)
def test_11_3_names_each_wrong_answer(name):
    fn, expected = BOXES_WRONG[name]
    assert expected in failure(exercise_11_3, fn)


@pytest.mark.parametrize("hidden_seed", HIDDEN_SEEDS)
def test_hidden_grading_also_rejects_the_classic_mistakes(hidden_seed):
    assert "Pearson" in failure(exercise_11_2, SPEARMAN_WRONG["pearson"][0], hidden_seed)
    assert "only the largest" in failure(exercise_11_3, _only_largest, hidden_seed)


def test_hidden_grading_adds_cases():
    visible = exercise_11_2(rank_correlation, verbose=False).message
    hidden = exercise_11_2(rank_correlation, verbose=False, hidden_seed=3).message
    assert visible != hidden
