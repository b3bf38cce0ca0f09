"""Localization metrics on hand-made maps whose answers are known."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from camlib import localize as loc
from camlib import reference
from camlib.localize import box_accuracy_curve, localization_accuracy, max_box_acc


def _blob(size, box, value=1.0):
    m = torch.zeros(size, size)
    x0, y0, x1, y1 = box
    m[y0:y1, x0:x1] = value
    return m


def test_localization_accuracy_counts_iou_at_least_half():
    gt = torch.tensor([[0, 0, 10, 10]] * 4)
    pred = torch.tensor([[0, 0, 10, 10],   # IoU 1
                         [0, 0, 10, 5],    # IoU 0.5 exactly: counts
                         [0, 0, 10, 4],    # IoU 0.4
                         [20, 20, 30, 30]])  # IoU 0
    assert localization_accuracy(pred, gt) == 0.5
    correct = torch.tensor([False, True, True, True])
    assert localization_accuracy(pred, gt, correct) == 0.25  # Top-1 Loc needs the class
    assert localization_accuracy(pred, gt, iou_threshold=0.3) == 0.75


def test_baseline_boxes():
    assert loc.full_image_box(2, 64).tolist() == [[0, 0, 64, 64]] * 2
    assert loc.centred_box(1, 64, (20, 30)).tolist() == [[22, 17, 42, 47]]
    assert loc.centred_box(1, 10, (20.4, 3)).tolist() == [[0, 3, 10, 6]]
    maps = loc.box_maps(torch.tensor([[1, 2, 3, 5]]), 6)
    assert maps.shape == (1, 6, 6) and maps.sum() == 2 * 3 and maps[0, 2:5, 1:3].all()
    # Images of H = 48, W = 64: the whole image is (0, 0, 64, 48); a 20×30 box sits at
    # x0 = (64 − 20) // 2 = 22, y0 = (48 − 30) // 2 = 9; a 100×100 box is clipped to it.
    assert loc.full_image_box(2, (48, 64)).tolist() == [[0, 0, 64, 48]] * 2
    assert loc.centred_box(1, (48, 64), (20, 30)).tolist() == [[22, 9, 42, 39]]
    assert loc.centred_box(1, (48, 64), (100, 100)).tolist() == [[0, 0, 64, 48]]


def test_the_baselines_of_an_evaluation_fit_images_that_are_not_square():
    """On 16×40 images whose ground truth is the whole image, the whole-image baseline
    is exactly right (IoU 1) and so is a centred box of the mean box size (40×16); a
    square box of side W = 40 would reach IoU 16/40 = 0.4 and score 0."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(4, 3)).eval()
    data = SimpleNamespace(images=np.zeros((3, 3, 16, 40), np.uint8), labels=np.arange(3),
                           boxes=np.tile([0, 0, 40, 16], (3, 1)))
    for method in ("full", "centred"):
        result = loc.evaluate_localization(model, data, method)
        assert (result.gt_known_loc, result.max_box_acc, result.max_box_acc_v2) == \
            (1.0, 1.0, 1.0), method


def test_box_accuracy_curve_two_blobs():
    """Image 0: the object (exactly its box) is weaker and smaller than a distractor.
    Image 1: only the object."""
    size = 20
    gt = torch.tensor([[2, 2, 6, 6], [10, 10, 18, 18]])
    m0 = _blob(size, (2, 2, 6, 6), 0.5) + _blob(size, (10, 10, 16, 16), 1.0)  # 16 vs 36 px
    m1 = _blob(size, (10, 10, 18, 18), 1.0)
    maps = torch.stack([m0, m1])
    curves = box_accuracy_curve(maps, gt, thresholds=(0.4, 0.6), iou_thresholds=(0.3, 0.5))
    # τ=0.4: image 0 keeps both blobs; the largest is the distractor (IoU 0), the best is
    # the object (IoU 1). Image 1: its blob, IoU 1. τ=0.6: image 0 keeps only the
    # distractor. Image 1 unchanged.
    expected = {"largest": [[0.5, 0.5], [0.5, 0.5]], "all": [[1.0, 1.0], [0.5, 0.5]]}
    for key, values in expected.items():  # exact fractions, in float64
        torch.testing.assert_close(curves[key], torch.tensor(values, dtype=torch.float64))


def test_max_box_acc_picks_one_threshold_for_the_whole_dataset():
    """Image A needs τ ≤ 0.3, image B needs τ > 0.6: no single τ serves both, so the
    dataset-wide best is 50%, although each image alone could reach 100%."""
    size = 16
    a = _blob(size, (0, 0, 8, 8), 0.3)  # the object, 64 px, weak
    a[12:14, 12:14] = 1.0  # a strong small spot: alone (and wrong) once τ > 0.3
    b = _blob(size, (0, 0, 16, 12), 0.6)  # a wide haze that merges with the object
    b[4:8, 4:8] = 1.0  # the object: alone (and right) once τ > 0.6
    gt = torch.tensor([[0, 0, 8, 8], [4, 4, 8, 8]])
    value, tau = max_box_acc(torch.stack([a, b]), gt, thresholds=(0.1, 0.25, 0.5, 0.9))
    assert value == 0.5
    assert tau == 0.1  # the first of the best thresholds
    per_image = [max_box_acc(m[None], g[None], (0.1, 0.25, 0.5, 0.9))[0]
                 for m, g in zip((a, b), gt, strict=True)]
    assert per_image == [1.0, 1.0]


def test_max_box_acc_v2_averages_three_iou_thresholds():
    size = 10
    gt = torch.tensor([[0, 0, 10, 10]])
    box = torch.tensor([[0, 0, 10, 5]])  # IoU 0.5: passes 0.3 and 0.5, fails 0.7
    assert loc.max_box_acc_v2(loc.box_maps(box, size), gt) == pytest.approx(2 / 3)
    assert loc.max_box_acc(loc.box_maps(box, size), gt)[0] == 1.0


def test_constant_map_gives_the_full_image():
    maps = torch.zeros(1, 8, 8)
    curves = box_accuracy_curve(maps, torch.tensor([[0, 0, 8, 8]]), (0.5,), (0.5,))
    assert curves["largest"].item() == 1.0


def test_the_curve_at_one_threshold_is_the_paper_box_of_the_reference():
    rng = np.random.default_rng(0)
    maps = torch.from_numpy(rng.random((6, 24, 24)).astype(np.float32))
    gt = torch.tensor([[2, 2, 12, 12]] * 6)
    curve = box_accuracy_curve(maps, gt, (0.6,), (0.1,))["largest"]
    normalized = reference.normalize(maps.numpy().astype(np.float64))
    hits = [reference.iou(reference.bounding_box(m, 0.6), g.tolist()) >= 0.1
            for m, g in zip(normalized, gt, strict=True)]
    assert curve.item() == pytest.approx(np.mean(hits))


class _Peak(nn.Module):
    """A GAP net by hand: its one feature map is the image's red channel, so the CAM of
    class 0 is the red channel (weight 1) and class 1's is its negative."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 1, 1, bias=False))
        self.features[0].weight.data = torch.tensor([1.0, 0, 0]).view(1, 3, 1, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.classifier = nn.Linear(1, 2)
        self.classifier.weight.data = torch.tensor([[1.0], [-1.0]])
        self.classifier.bias.data = torch.zeros(2)

    def forward(self, x):
        return self.classifier(self.flatten(self.pool(self.features(x))))


def _square_data(n=4, size=16):
    from camcourse.data import ClutteredDigits

    images = np.zeros((n, 3, size, size), np.uint8)
    boxes = np.array([[2 + i, 3, 8 + i, 9] for i in range(n)])
    masks = np.zeros((n, size, size), bool)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        images[i, 0, y0:y1, x0:x1] = 200
        masks[i, y0:y1, x0:x1] = True
    labels = np.array([0, 0, 0, 1])  # the last image is misclassified (red says class 0)
    return ClutteredDigits(images, labels, boxes, masks, np.arange(n), {})


def test_evaluate_localization_on_a_hand_made_net():
    data = _square_data()
    result = loc.evaluate_localization(_Peak(), data, "cam", thresholds=(0.5,))
    assert result.accuracy == 0.75
    assert result.top1_loc == 0.75  # every box is exact; the misclassified one fails
    # GT-known uses class 1's map for the last image: -red, max 0 on the background
    # (everything but the square) -> a box covering the whole image, IoU 36/256.
    assert result.gt_known_loc == 0.75
    full = loc.evaluate_localization(_Peak(), data, "full", thresholds=(0.5,))
    assert full.top1_loc == 0.0 and full.max_box_acc == 0.0 and full.accuracy == 0.75
    centred = loc.evaluate_localization(_Peak(), data, "centred", thresholds=(0.5,),
                                        box_size=(6, 6))
    # centred 6×6 box in 16 px: (5, 5, 11, 11); IoU with (2+i, 3, 8+i, 9) for i=0..3:
    ious = [reference.iou((5, 5, 11, 11), tuple(b)) for b in data.boxes]
    assert centred.gt_known_loc == pytest.approx(np.mean(np.array(ious) >= 0.5))


def test_saliency_is_the_input_gradient():
    model = _Peak()
    images = torch.rand(2, 3, 8, 8)
    maps, logits = loc.saliency_maps(model, images, torch.tensor([0, 1]))
    # S_0 = mean(red): ∂S_0/∂red = 1/64 everywhere, 0 for other channels; |.| the same
    # for S_1 = -mean(red).
    torch.testing.assert_close(maps, torch.full((2, 8, 8), 1 / 64))
    torch.testing.assert_close(logits[:, 0], images[:, 0].mean((1, 2)))


def test_cam_maps_are_upsampled_to_the_image():
    model = _Peak()
    images = torch.rand(3, 3, 8, 8)
    maps, logits = loc.cam_maps(model, images, 0)
    torch.testing.assert_close(maps, images[:, 0])  # 1×1 conv: already full size
    maps, _ = loc.cam_maps(model, images)  # predicted classes
    expected = torch.where(logits.argmax(1)[:, None, None] == 0, images[:, 0], -images[:, 0])
    torch.testing.assert_close(maps, expected)


def test_bad_method():
    with pytest.raises(ValueError, match="method"):
        loc.evaluate_localization(_Peak(), _square_data(), "gradcam++")


def test_cpu_boxes_equal_the_device_algorithm():
    from camlib import torch as ct

    rng = np.random.default_rng(1)
    maps = torch.from_numpy(rng.standard_normal((8, 20, 20)).astype(np.float32))
    maps[3] = -maps[3].abs() - 0.1  # no positive value: the mask is {M >= max M}
    maps[5] = 0.0  # constant: the whole image
    for threshold in (0.2, 0.5, 0.9):
        assert torch.equal(loc.boxes_from_maps(maps, threshold), ct.bounding_box(maps, threshold))
    assert loc.boxes_from_maps(maps, 0.2)[5].tolist() == [0, 0, 20, 20]


@pytest.mark.parametrize("protocol", ["camlib", "choe2020"])
@pytest.mark.parametrize("box", [[5, 5, 1, 1], [-1, 0, 4, 4], [0, 0, 9, 4], [0, 0, 4, 64]])
def test_ground_truth_outside_the_maps_is_refused_by_name(protocol, box):
    """Inverted boxes, negative corners and boxes beyond the maps (boxes in the image's
    pixels for maps at the feature resolution) would score 0 silently."""
    maps, gt = torch.rand(2, 8, 8), torch.tensor([[0, 0, 8, 8], box])
    for run in (lambda: loc.max_box_acc(maps, gt, protocol=protocol),
                lambda: loc.max_box_acc_v2(maps, gt, protocol=protocol),
                lambda: loc.box_accuracy_curve(maps, gt, protocol=protocol)):
        with pytest.raises(ValueError, match=r"gt_boxes must be boxes .* inside the maps, "
                                             r"0 <= x0 <= x1 <= W=8 .*\(box 1\)"):
            run()
    assert loc.max_box_acc(maps, torch.tensor([[0, 0, 8, 8]] * 2), (0.0,)) == (1.0, 0.0)


def test_a_set_with_bad_boxes_or_labels_is_refused_by_name():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(4, 3))
    data = SimpleNamespace(images=np.zeros((2, 3, 8, 8), np.uint8), labels=np.array([0, 1]),
                           boxes=np.array([[0, 0, 4, 4], [4, 4, 0, 0]]))
    with pytest.raises(ValueError, match=r"data.boxes must be boxes .* inside the images"):
        loc.evaluate_localization(model, data)
    data.boxes, data.labels = np.array([[0, 0, 4, 4]] * 2), np.array([0.0, 1.0])
    with pytest.raises(TypeError, match="data.labels must hold integers"):
        loc.evaluate_localization(model, data)
    data.labels = np.array([0, 3])  # C = 3 classes
    for method in ("cam", "full"):  # with maps, and with a fixed box
        with pytest.raises(ValueError, match=r"data.labels must be classes of the model, "
                                             r"0 <= label < C=3, got 3"):
            loc.evaluate_localization(model, data, method)


def test_accuracies_are_exact_fractions():
    """k/N rounded once, in float64: 1/3 is Python's 1/3, not a float32 0.33333334."""
    gt = torch.tensor([[0, 0, 4, 4]] * 3)
    pred = torch.tensor([[0, 0, 4, 4], [4, 4, 8, 8], [4, 4, 8, 8]])
    assert loc.localization_accuracy(pred, gt) == 1 / 3
    maps = loc.box_maps(pred, 8)
    assert loc.max_box_acc(maps, gt, (0.5,)) == (1 / 3, 0.5)
    assert loc.max_box_acc_v2(maps, gt, (0.5,)) == 1 / 3
