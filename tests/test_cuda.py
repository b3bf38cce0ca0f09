"""The checks of test_torch / test_properties / test_extract, on a CUDA device.

Skipped cleanly where there is no GPU.
"""

import numpy as np
import pytest
import scipy.ndimage as ndi
import torch
from torchvision import models

import camlib.reference as ref
import camlib.torch as ct
from camlib.extract import CAMExtractor, GradCAMExtractor

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

CUDA = torch.device("cuda")


def close(actual: torch.Tensor, expected: np.ndarray, rtol: float) -> None:
    assert actual.device.type == "cuda"
    actual = actual.double().cpu().numpy()
    assert np.abs(actual - expected).max() <= rtol * max(np.abs(expected).max(), 1.0)


def test_every_function_matches_the_reference_on_cuda():
    rng = np.random.default_rng(0)
    f = np.maximum(rng.standard_normal((4, 32, 7, 7)), 0).astype(np.float32)
    w = rng.standard_normal((10, 32)).astype(np.float32)
    b = rng.standard_normal(10).astype(np.float32)
    f64, w64, b64 = (a.astype(np.float64) for a in (f, w, b))
    tf, tw, tb = (torch.from_numpy(a).to(CUDA) for a in (f, w, b))
    tol = 1e-5
    # TF32 matmuls would cost about 1e-3; the course's numbers are full float32.
    allow = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        pooled = ref.global_average_pool(f64)
        close(ct.global_average_pool(tf), pooled, tol)
        close(ct.global_max_pool(tf), ref.global_max_pool(f64), tol)
        scores = ref.class_scores(pooled, w64, b64)
        close(ct.class_scores(ct.global_average_pool(tf), tw, tb), scores, tol)
        close(ct.softmax(torch.from_numpy(scores).float().to(CUDA)), ref.softmax(scores), tol)
        maps = ref.class_activation_maps(f64, w64)
        tmaps = ct.class_activation_maps(tf, tw)
        close(tmaps, maps, tol)
        diagonal = ct.class_activation_maps(tf, tw, torch.arange(4, device=CUDA))
        close(diagonal, maps[range(4), range(4)], tol)
        close(ct.upsample(tmaps, 64), ref.upsample(maps, 64), tol)
        close(ct.normalize(tmaps), ref.normalize(maps), tol)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = allow


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_stays_on_cuda(dtype):
    f = torch.rand(2, 8, 7, 7, device=CUDA, dtype=dtype)
    w = torch.randn(5, 8, device=CUDA, dtype=dtype)
    maps = ct.upsample(ct.class_activation_maps(f, w, 1), 56)
    assert maps.device.type == "cuda" and maps.dtype == dtype
    boxes = ct.bounding_box(maps)
    assert boxes.device.type == "cuda" and boxes.shape == (2, 4)


@pytest.mark.parametrize("connectivity", [4, 8])
def test_components_and_boxes_equal_scipy_on_cuda(connectivity):
    rng = np.random.default_rng(connectivity)
    masks = rng.random((16, 40, 50)) < 0.45
    labels, counts = ct.connected_components(torch.from_numpy(masks).to(CUDA), connectivity)
    boxes = ct.component_boxes(labels, counts)
    assert labels.device.type == "cuda" and boxes.device.type == "cuda"
    structure = ndi.generate_binary_structure(2, 1 if connectivity == 4 else 2)
    for i, mask in enumerate(masks):
        expected, count = ndi.label(mask, structure)
        assert int(counts[i]) == count
        assert np.array_equal(labels[i].cpu().numpy(), expected)
        slices = ndi.find_objects(expected)
        scipy_boxes = [[s[1].start, s[0].start, s[1].stop, s[0].stop] for s in slices]
        assert boxes[i, :count].tolist() == scipy_boxes


def test_bounding_boxes_equal_the_reference_on_cuda():
    rng = np.random.default_rng(1)
    cams = ref.upsample(rng.standard_normal((32, 7, 7)), 112).astype(np.float32)
    for connectivity in (4, 8):
        for threshold in (0.15, 0.2, 0.5):
            boxes = ct.bounding_box(torch.from_numpy(cams).to(CUDA), threshold, connectivity)
            expected = [ref.bounding_box(c, threshold, connectivity) for c in cams]
            assert [tuple(b) for b in boxes.tolist()] == expected
    a = torch.tensor([[0, 0, 2, 2]], device=CUDA)
    b = torch.tensor([[1, 0, 3, 2]], device=CUDA)
    assert ct.iou(a, b).item() == pytest.approx(1 / 3)


def test_extractors_on_cuda_resnet18():
    model = models.resnet18(weights=None).eval().to(CUDA)
    x = torch.randn(2, 3, 64, 64, device=CUDA)
    allow = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        with CAMExtractor(model) as cam, GradCAMExtractor(model) as gradcam:
            logits = model(x)
            grad_maps = gradcam.maps(logits, 3, relu=False)
            maps = cam.maps()
        assert maps.device.type == "cuda"
        scores = maps.mean(dim=(2, 3)) + cam.bias
        torch.testing.assert_close(scores, logits, rtol=1e-4, atol=1e-4 * logits.abs().max().item())
        torch.testing.assert_close(grad_maps * 4, maps[:, 3], rtol=1e-4, atol=1e-5)
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = allow
    assert all(not m._forward_hooks for m in model.modules())


def test_cpu_weight_with_cuda_features_is_refused():
    with pytest.raises(ValueError, match="same device"):
        ct.class_activation_maps(torch.ones(1, 2, 3, 3, device=CUDA), torch.ones(4, 2))


def test_the_cam_path_never_synchronizes_with_the_host():
    """CAMExtractor.maps, class_activation_maps, upsample and normalize: with the checks on
    (run on the device) and off, no call waits for the GPU."""
    from camcourse.models import GAPNet

    model = GAPNet().to(CUDA).eval()
    images = torch.rand(8, 3, 64, 64, device=CUDA)
    classes = torch.randint(0, 10, (8,), device=CUDA)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for check in (True, False):
            with torch.no_grad(), CAMExtractor(model) as extractor:
                logits = model(images)
                maps = extractor.maps(logits.argmax(1), check=check)
                direct = ct.class_activation_maps(extractor.features, extractor.weight,
                                                  classes, check=check)
            ct.normalize(ct.upsample(maps, 64, check=check), check=check)
            ct.normalize(direct, "max", check=check)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()


def test_bounding_box_synchronizations_are_counted():
    """bounding_box reads only the labelling's convergence on the host, once on CAM
    masks (`camlib.torch.CHECKED_AFTER` rounds run blind first): counted under the
    "warn" mode."""
    import warnings

    cams = ct.upsample(torch.rand(16, 7, 7, device=CUDA), 224)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ct.bounding_box(cams, 0.2)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    syncs = [w for w in caught if "synchroniz" in str(w.message)]
    print(f"bounding_box of 16 maps 224×224: {len(syncs)} synchronizations")
    assert len(syncs) == 1  # the labelling must learn that it converged
