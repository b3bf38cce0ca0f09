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
