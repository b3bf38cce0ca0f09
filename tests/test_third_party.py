"""camlib against other people's implementations, run on the same inputs.

TorchCAM (CAM, Grad-CAM), pytorch-grad-cam (Grad-CAM), OpenCV's bilinear resize and
scipy's labelling compute what camlib computes; here they get the same models and
tensors and must give the same numbers, to float32 rounding. `make test` installs them
(the ``test`` extra); a test whose package is missing is skipped, not passed.

The models are torchvision's resnet18 with random weights (CAM's layout: a convolutional
trunk, global average pooling, one linear layer), the same trunk under a two-layer head
(where Grad-CAM is not CAM) and a trunk without strides (pytorch-grad-cam resizes its maps
to the input's size; at the input's resolution that resize is the identity).
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from torch import nn

import camlib.reference as ref
import camlib.torch as ct
from camlib.extract import CAMExtractor, GradCAMExtractor

CLASSES = [3, 1, 4, 1, 5, 9]  # one class per image, repeats included


def resnet18() -> nn.Module:
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    return torchvision.models.resnet18(num_classes=10).eval()


def images(n: int = len(CLASSES), size: int = 64) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(1))


def close(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    """Equal to float32 rounding of sums over a few hundred channels, relative to the
    maps' scale."""
    theirs = torch.as_tensor(theirs).to(ours.dtype)
    assert ours.shape == theirs.shape
    scale = max(float(theirs.abs().max()), 1e-12)
    assert float((ours - theirs).abs().max()) <= 1e-5 * scale


@pytest.fixture(autouse=True)
def _quiet_torchcam():
    """TorchCAM logs a warning when it picks a layer itself; the layers are named here."""
    logging.disable(logging.WARNING)
    yield
    logging.disable(logging.NOTSET)


def torchcam_maps(method, model: nn.Module, x: torch.Tensor, normalized: bool,
                  **layers) -> torch.Tensor:
    extractor = method(model, input_shape=tuple(x.shape[1:]), **layers)
    try:
        logits = model(x)
        return extractor(CLASSES[:len(x)], logits, normalized=normalized)[0]
    finally:
        extractor.remove_hooks()


def test_cam_is_torchcams_cam_on_resnet18():
    methods = pytest.importorskip("torchcam.methods")
    model, x = resnet18(), images()
    with CAMExtractor(model) as cam:
        model(x)
        ours = cam.maps(torch.tensor(CLASSES))
        features, weight = cam.features, cam.weight
    assert (cam.feature_name, cam.classifier_name) == ("layer4", "fc")
    raw = torchcam_maps(methods.CAM, model, x, False, target_layer="layer4", fc_layer="fc")
    close(ours, raw)
    close(torch.from_numpy(ref.class_activation_maps(features.numpy(), weight.numpy(),
                                                     CLASSES)), raw)
    # TorchCAM's normalization is min-max with ε = 1e-8 in the denominator.
    normalized = torchcam_maps(methods.CAM, model, x, True, target_layer="layer4",
                               fc_layer="fc")
    close(ct.normalize(ours), normalized)


def test_gradcam_is_torchcams_gradcam_under_cams_head_and_a_deeper_one():
    methods = pytest.importorskip("torchcam.methods")
    deep = resnet18()
    deep.fc = nn.Sequential(nn.Linear(512, 32), nn.ReLU(), nn.Linear(32, 10))
    for model in (resnet18(), deep.eval()):
        x = images()
        with GradCAMExtractor(model, "layer4") as gradcam:
            logits = model(x)
            ours = gradcam.maps(logits, torch.tensor(CLASSES))
        theirs = torchcam_maps(methods.GradCAM, model, x, False, target_layer="layer4")
        assert float(theirs.max()) > 0 and float((theirs == 0).float().mean()) < 1
        close(ours, theirs)


def test_gradcam_under_cams_head_is_cam_over_z_with_torchcam_too():
    """Grad-CAM on a GAP network is ReLU(M_c / Z), Z = H·W: TorchCAM's Grad-CAM against
    TorchCAM's CAM, and camlib's against both."""
    methods = pytest.importorskip("torchcam.methods")
    model, x = resnet18(), images()
    cam = torchcam_maps(methods.CAM, model, x, False, target_layer="layer4", fc_layer="fc")
    grad = torchcam_maps(methods.GradCAM, model, x, False, target_layer="layer4")
    z = cam.shape[-2] * cam.shape[-1]
    close(torch.relu(cam) / z, grad)


class _Nested(nn.Module):
    """Global pooling inside an nn.Sequential head: Sequential(pool, Flatten, Linear)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(8, 16, 3, stride=2), nn.ReLU())
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class _Blocks(nn.Module):
    """A trunk in an nn.ModuleList, run in turn by forward() (as MaxViT's blocks are),
    then an nn.Sequential head that pools."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU()),
                                     nn.Sequential(nn.Conv2d(8, 16, 3), nn.ReLU())])
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.head(x)


class _Wrapper(nn.Module):
    """A module that holds the network as its one child and runs it."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.module = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)


def _architecture(name: str) -> nn.Module:
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(3)
    vgg_gap = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                            nn.Flatten(), nn.Dropout(), nn.Linear(16, 10))
    build = {
        "nested sequential": _Nested,
        "wrapped vgg-gap": lambda: _Wrapper(vgg_gap),
        "wrapped twice": lambda: _Wrapper(_Wrapper(_Nested())),
        "module-list trunk": _Blocks,
        "shufflenet_v2": lambda: torchvision.models.shufflenet_v2_x0_5(num_classes=10),
        "mnasnet": lambda: torchvision.models.mnasnet0_5(num_classes=10),
        "wrapped mobilenet_v2": lambda: _Wrapper(
            torchvision.models.mobilenet_v2(num_classes=10, width_mult=0.25)),
    }[name]
    return build().eval()


# The layer whose output is pooled (the ReLU'd output for the VGG-like net, not the last
# Conv2d), and the classifier: what the forward pass reads, written down by hand.
LAYOUTS = {
    "nested sequential": ("body", "head.2"),
    "wrapped vgg-gap": ("module.4", "module.8"),
    "wrapped twice": ("module.module.body", "module.module.head.2"),
    "module-list trunk": ("blocks.1", "head.2"),  # the list is never called, its last block is
    "shufflenet_v2": ("conv5", "fc"),  # forward(): x.mean([2, 3]) after conv5
    "mnasnet": ("layers", "classifier.1"),  # forward(): x.mean([2, 3]) after layers
    "wrapped mobilenet_v2": ("module.features", "module.classifier.1"),
}


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_layers_are_found_beyond_resnet_and_the_maps_are_torchcams(name):
    """The extractors find the layer the pooling reads in networks that pool in forward(),
    inside an nn.Sequential head or inside a wrapper module; CAM and Grad-CAM there equal
    TorchCAM's at those layers, named by hand, and the maps give back the logits."""
    methods = pytest.importorskip("torchcam.methods")
    model, x = _architecture(name), images(size=64)
    feature, classifier = LAYOUTS[name]
    classes = torch.tensor(CLASSES)
    with CAMExtractor(model) as cam, GradCAMExtractor(model) as gradcam:
        logits = model(x)
        ours = cam.maps(classes)
        ours_grad = gradcam.maps(logits, classes)
    assert (cam.feature_name, cam.classifier_name, gradcam.feature_name) == \
        (feature, classifier, feature)
    close(ours.mean(dim=(1, 2)) + cam.bias[classes], logits.detach()[range(len(x)), classes])
    close(ours, torchcam_maps(methods.CAM, model, x, False, target_layer=feature,
                              fc_layer=classifier))
    close(ours_grad, torchcam_maps(methods.GradCAM, model, x, False, target_layer=feature))


def test_a_squeeze_and_excitation_pool_is_not_taken_for_the_network_s_pool():
    """Inside nn.Sequential children a global pool may be a squeeze-and-excitation
    block's; with convolutions after it, it is not the classifier's pooling: CAM refuses
    and Grad-CAM keeps its fallback, the last convolution."""

    class Squeezed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 8, 3), nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(8, 8, 1)),
                nn.Conv2d(8, 16, 1))
            self.fc = nn.Linear(16, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.features(x).mean((2, 3)))

    model = nn.Sequential()
    model.net, model.scale = Squeezed(), nn.Identity()  # two children: not a wrapper
    with pytest.raises(ValueError, match="could not find the feature_layer"):
        CAMExtractor(model)
    assert GradCAMExtractor(model).feature_name == "net.features.2"
    with pytest.raises(ValueError, match="could not find the feature_layer"):
        CAMExtractor(Squeezed())
    assert GradCAMExtractor(_Wrapper(Squeezed())).feature_name == "module.features.2"


def strideless() -> nn.Module:
    """A trunk whose maps have the input's size, then global pooling and two layers."""
    torch.manual_seed(2)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 10),
    ).eval()


def test_gradcam_is_pytorch_grad_cams_gradcam():
    pytest.importorskip("pytorch_grad_cam")
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    model, x = strideless(), images(size=20)
    with GradCAMExtractor(model, "3") as gradcam:
        logits = model(x)
        ours = gradcam.maps(logits, torch.tensor(CLASSES))
    with GradCAM(model, [model[3]]) as extractor:
        theirs = extractor(x, targets=[ClassifierOutputTarget(c) for c in CLASSES])
    # pytorch-grad-cam returns ReLU then min-max with ε = 1e-7: normalize(ReLU(L_c)).
    assert theirs.shape == (len(CLASSES), 20, 20)
    close(ct.normalize(ours), torch.from_numpy(theirs))


@pytest.mark.parametrize(("small", "size"), [((7, 7), (224, 224)), ((2, 2), (64, 64)),
                                             ((5, 9), (40, 33)), ((8, 8), (8, 8))])
def test_upsample_is_opencvs_bilinear_resize(small, size):
    """OpenCV's INTER_LINEAR (what pytorch-grad-cam and Choe et al.'s evaluation resize
    maps with) uses the same half-pixel centres as `upsample`."""
    cv2 = pytest.importorskip("cv2")
    maps = torch.randn(3, *small, generator=torch.Generator().manual_seed(3))
    theirs = np.stack([cv2.resize(m.numpy(), size[::-1], interpolation=cv2.INTER_LINEAR)
                       for m in maps])
    close(ct.upsample(maps, size), torch.from_numpy(theirs))
    close(torch.from_numpy(ref.upsample(maps.numpy(), size)).float(),
          torch.from_numpy(theirs))


@pytest.mark.parametrize("connectivity", [4, 8])
def test_connected_components_are_scipys_labels(connectivity):
    """The same components as scipy.ndimage.label, numbered in the same raster order:
    the NumPy reference's breadth-first search and the rounds camlib runs on a GPU (here
    on the CPU, where `camlib.torch.connected_components` itself calls scipy)."""
    from camlib.torch import _label_rounds

    ndimage = pytest.importorskip("scipy.ndimage")
    generator = np.random.default_rng(4)
    structure = np.ones((3, 3)) if connectivity == 8 else None
    for density in (0.2, 0.45, 0.6):
        mask = generator.random((37, 41)) < density
        theirs, count = ndimage.label(mask, structure=structure)
        ours, our_count = ref.connected_components(mask, connectivity)
        assert our_count == count
        np.testing.assert_array_equal(ours, theirs)
        labels, counts, _ = _label_rounds(torch.from_numpy(mask)[None], connectivity)
        assert int(counts[0]) == count
        np.testing.assert_array_equal(labels[0].numpy(), theirs)


def test_iou_is_torchvisions_box_iou():
    """torchvision's `box_iou` takes (x1, y1, x2, y2) with area (x2 − x1)(y2 − y1): the
    half-open convention of `camlib.torch.iou` and `camlib.reference.iou`."""
    ops = pytest.importorskip("torchvision.ops")
    generator = torch.Generator().manual_seed(5)
    corners = torch.randint(0, 64, (200, 2, 2), generator=generator).sort(dim=1).values
    boxes = corners.permute(0, 2, 1).reshape(200, 4)[:, [0, 2, 1, 3]].float()
    a, b = boxes[:100], boxes[100:]
    theirs = ops.box_iou(a, b).diagonal().nan_to_num(0.0)  # 0/0 for two empty boxes
    close(ct.iou(a, b), theirs)
    close(torch.tensor([ref.iou(p.tolist(), q.tolist()) for p, q in zip(a, b, strict=True)],
                       dtype=torch.float32), theirs)


def test_softmax_is_scipys():
    special = pytest.importorskip("scipy.special")
    scores = np.random.default_rng(6).normal(0, 30, (8, 10))
    np.testing.assert_allclose(ref.softmax(scores), special.softmax(scores, axis=1), rtol=1e-12)
    close(ct.softmax(torch.from_numpy(scores)), torch.from_numpy(special.softmax(scores, axis=1)))


# --- Choe et al.'s released box evaluation (github.com/clovaai/wsolevaluation) -------------
# Its steps as `camcourse.benchmarks.wsol` ports them (float64 min-max, uint8 quantization,
# cv2.threshold and findContours, inclusive IoU, each τ's best box), the port itself checked
# against a checkout of the released code in tests/test_benchmarks.py.


def released_counts(maps: np.ndarray, gt_boxes: np.ndarray, taus, deltas,
                    every_contour: bool) -> np.ndarray:
    """num_correct of ``BoxEvaluator`` after accumulating every map: (T, D) counts."""
    pytest.importorskip("cv2")
    from camcourse.benchmarks import wsol

    return wsol.correct_counts(maps, gt_boxes, taus, deltas, every_contour)


def wsol_maps(n: int, h: int, w: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Maps of four kinds (noise, upsampled 7×7 noise, blobs, few levels with ties and
    plateaus) and a ground-truth box each, inclusive corners inside the map."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((n, h, w))
    coarse = torch.from_numpy(rng.standard_normal((n, 1, 7, 7)))
    smooth = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear",
                                             align_corners=False)[:, 0].numpy()
    blobs = np.zeros((n, h, w))
    for blob in blobs:
        for _ in range(3):
            y, x = rng.integers(0, h), rng.integers(0, w)
            blob[max(0, y - 3):y + 4, max(0, x - 3):x + 4] += rng.random()
    levels = rng.integers(0, 4, (n, h, w)).astype(np.float64)
    maps = np.concatenate([noise, smooth, blobs, levels])
    x0, y0 = rng.integers(0, w, 4 * n), rng.integers(0, h, 4 * n)
    x1 = np.minimum(w - 1, x0 + rng.integers(0, max(w // 2, 1), 4 * n))
    y1 = np.minimum(h - 1, y0 + rng.integers(0, max(h // 2, 1), 4 * n))
    return maps, np.stack([x0, y0, x1, y1], 1)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(("h", "w"), [(24, 24), (13, 29), (1, 20), (20, 1)])
def test_choe2020_curves_are_the_released_codes_counts(dtype, h, w):
    """BoxAcc(τ, δ) of protocol "choe2020", largest contour and best contour, equals the
    released evaluation's counts at every τ of its grid np.arange(0, 1, 0.01) and every δ
    of MaxBoxAccV2, for float64 and float32 maps; MaxBoxAcc and MaxBoxAccV2 follow."""
    from camlib import localize

    maps, gt = wsol_maps(10, h, w, seed=h * 100 + w)
    maps = torch.from_numpy(maps).to(dtype)
    taus, deltas = np.arange(0, 1, 0.01).tolist(), (0.3, 0.5, 0.7)
    ours = localize.box_accuracy_curve(maps, torch.from_numpy(gt), taus, deltas,
                                       protocol="choe2020")
    for key, every in (("largest", False), ("all", True)):
        theirs = released_counts(maps.numpy(), gt, taus, deltas, every)
        np.testing.assert_array_equal(ours[key].numpy(), theirs / len(maps))  # exact k/N
    v1 = released_counts(maps.numpy(), gt, taus, (0.5,), False).max() / len(maps)
    assert localize.max_box_acc(maps, torch.from_numpy(gt), taus,
                                protocol="choe2020")[0] == pytest.approx(v1, abs=1e-7)
    v2 = np.mean(released_counts(maps.numpy(), gt, taus, deltas, True).max(0)) / len(maps)
    assert localize.max_box_acc_v2(maps, torch.from_numpy(gt), taus,
                                   protocol="choe2020") == pytest.approx(v2, abs=1e-7)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_choe2020_quantizes_in_float64_as_the_released_code(dtype):
    """The released code quantizes ⌊255·M̄⌋ after ``t2n`` made the map float64. On the
    map 1 + 3k/255 (k = 0..255) float32 arithmetic puts some pixels one step lower or
    higher; the levels of a grid with one cut per step, (k + ½)/255, count q exactly."""
    from camlib import sweep

    values = (1 + 3 * np.arange(256) / 255).astype(dtype)[None]
    expected = [int((float(v) - float(values.min())) / (float(values.max())
                    - float(values.min())) * 255) for v in values[0]]  # Python floats
    grid = (np.arange(255) + 0.5) / 255
    got = sweep.levels(values, *sweep.row_ranges(values), grid, "choe2020")[0]
    np.testing.assert_array_equal(got, expected)
    in_float32 = np.floor((values[0].astype(np.float32) - np.float32(1)) / np.float32(3)
                          * np.float32(255))
    assert (in_float32 != expected).any()  # the case is one float32 gets wrong


def test_choe2020_grid_starting_at_zero_matters_as_in_the_released_code():
    """The released grid np.arange(0, 1, δτ) starts at τ = 0, whose mask {q > 0} is not
    the whole map: a faint object (q = 2) beside a peak is boxed only there. camlib's
    default grid (0.01, ..., 0.99) misses it; the released grid, passed, does not."""
    from camlib import localize

    maps = torch.zeros(1, 8, 8, dtype=torch.float64)
    maps[0, :4, :4], maps[0, 7, 7] = 2.5 / 255, 1.0  # q = 2 on the object, 255 at the peak
    gt = torch.tensor([[0, 0, 4, 4]])  # the object, boundingRect's x + w = 4
    grid = np.arange(0, 1, 0.01).tolist()
    assert released_counts(maps.numpy(), gt.numpy(), grid, (0.5,), False)[:2, 0].tolist() \
        == [1, 0]
    assert localize.max_box_acc(maps, gt, grid, protocol="choe2020") == (1.0, 0.0)
    assert localize.max_box_acc(maps, gt, protocol="choe2020")[0] == 0.0
