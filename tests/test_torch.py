"""camlib.torch: golden values worked by hand, batching, dtypes, and agreement with NumPy.

The hand-worked example has K=2 channels on a 3×3 grid:

    f_0 = [[1, 0, 2],     f_1 = [[0,  1, 0],     w = [[ 1, 2],    b = [0.5, -0.5]
           [0, 1, 0],            [1, -1, 1],          [-1, 1]]
           [3, 0, 1]]            [0,  1, 0]]

    Σ f_0 = 8, Σ f_1 = 3, max f_0 = 3, max f_1 = 1
    M_0 = f_0 + 2 f_1 = [[1, 2, 2], [2, -1, 2], [3, 2, 1]]        Σ M_0 = 14 = 1·8 + 2·3
    M_1 = f_1 - f_0   = [[-1, 1, -2], [1, -2, 1], [-3, 1, -1]]    Σ M_1 = -5 = -8 + 3
"""

import contextlib
from collections.abc import Iterator
from unittest import mock

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import camlib.reference as ref
import camlib.torch as ct

F0 = [[1.0, 0.0, 2.0], [0.0, 1.0, 0.0], [3.0, 0.0, 1.0]]
F1 = [[0.0, 1.0, 0.0], [1.0, -1.0, 1.0], [0.0, 1.0, 0.0]]
FEATURES = torch.tensor([[F0, F1]], dtype=torch.float64)  # (1, 2, 3, 3)
WEIGHT = torch.tensor([[1.0, 2.0], [-1.0, 1.0]], dtype=torch.float64)
BIAS = torch.tensor([0.5, -0.5], dtype=torch.float64)
M0 = torch.tensor([[1.0, 2.0, 2.0], [2.0, -1.0, 2.0], [3.0, 2.0, 1.0]], dtype=torch.float64)
M1 = torch.tensor([[-1.0, 1.0, -2.0], [1.0, -2.0, 1.0], [-3.0, 1.0, -1.0]], dtype=torch.float64)


def exact(actual: torch.Tensor, expected) -> None:
    expected = torch.as_tensor(expected, dtype=actual.dtype)
    torch.testing.assert_close(actual, expected, rtol=1e-12, atol=1e-12)


# --- golden values -----------------------------------------------------------------------


def test_pooling_golden():
    exact(ct.global_average_pool(FEATURES, reduce="sum"), [[8.0, 3.0]])
    exact(ct.global_average_pool(FEATURES), [[8.0 / 9.0, 3.0 / 9.0]])
    exact(ct.global_max_pool(FEATURES), [[3.0, 1.0]])


def test_class_scores_golden():
    exact(ct.class_scores(torch.tensor([[8.0, 3.0]], dtype=torch.float64), WEIGHT), [[14.0, -5.0]])
    pooled = ct.global_average_pool(FEATURES)
    exact(ct.class_scores(pooled, WEIGHT, BIAS), [[14.0 / 9.0 + 0.5, -5.0 / 9.0 - 0.5]])


def test_softmax_golden():
    scores = torch.tensor([[0.0, np.log(3.0)], [1000.0, 1000.0]], dtype=torch.float64)
    exact(ct.softmax(scores), [[0.25, 0.75], [0.5, 0.5]])


def test_class_activation_maps_golden():
    exact(ct.class_activation_maps(FEATURES, WEIGHT), torch.stack([M0, M1])[None])
    exact(ct.class_activation_maps(FEATURES, WEIGHT, classes=1), M1[None])
    two = torch.cat([FEATURES, FEATURES])
    exact(ct.class_activation_maps(two, WEIGHT, classes=[1, 0]), torch.stack([M1, M0]))
    exact(ct.class_activation_maps(two, WEIGHT, torch.tensor([0, 1])), torch.stack([M0, M1]))
    # The identity the course is built on, on the hand-worked numbers.
    assert ct.class_activation_maps(FEATURES, WEIGHT).sum(dim=(2, 3)).tolist() == [[14.0, -5.0]]


def test_upsample_golden():
    row = torch.tensor([[0.0, 1.0]], dtype=torch.float64)
    exact(ct.upsample(row, (1, 4)), [[0, 0.25, 0.75, 1]])
    # 2×2 -> 4×4: output i samples the input at (i + 0.5)/2 - 0.5, clamped: t = 0, .25, .75, 1.
    t = torch.tensor([0.0, 0.25, 0.75, 1.0], dtype=torch.float64)
    square = torch.tensor([[0.0, 1.0], [2.0, 3.0]], dtype=torch.float64)
    exact(ct.upsample(square, 4), 2 * t[:, None] + t[None, :])
    assert ct.upsample(torch.zeros(2, 3, 5, 7), (10, 1)).shape == (2, 3, 10, 1)


def test_normalize_golden():
    exact(ct.normalize(M0), (M0 + 1) / 4)
    exact(ct.normalize(M0, mode="max"), M0 / 3)
    exact(ct.normalize(torch.full((2, 3, 3), 7.0)), torch.zeros(2, 3, 3))
    exact(ct.normalize(M1 - 5, mode="max"), torch.zeros(3, 3))  # max <= 0 -> zeros
    exact(ct.normalize(torch.full((2, 3, 3), 7.0), mode="max"), torch.ones(2, 3, 3))  # M / M
    # Each map on its own: the batch axis does not mix maps.
    exact(ct.normalize(torch.stack([M0, 2 * M0])), torch.stack([(M0 + 1) / 4] * 2))


def test_connected_components_golden():
    mask = M0 >= 1.5  # [[0,1,1],[1,0,1],[1,1,0]]
    labels, count = ct.connected_components(mask, connectivity=8)
    assert labels.tolist() == [[0, 1, 1], [1, 0, 1], [1, 1, 0]] and int(count) == 1
    labels, count = ct.connected_components(mask, connectivity=4)
    assert labels.tolist() == [[0, 1, 1], [2, 0, 1], [2, 2, 0]] and int(count) == 2
    assert labels.dtype == torch.long
    # A batch: each mask is numbered on its own; an empty mask has no component.
    batch = torch.stack([mask, ~mask, torch.zeros_like(mask)])
    labels, counts = ct.connected_components(batch, connectivity=4)
    assert counts.tolist() == [2, 3, 0]
    assert labels[1].tolist() == [[1, 0, 0], [0, 2, 0], [0, 0, 3]]
    assert labels[2].sum() == 0


def test_component_boxes_golden():
    labels = torch.tensor([[0, 1, 1], [2, 0, 1], [2, 2, 0]])
    assert ct.component_boxes(labels, 2).tolist() == [[1, 0, 3, 2], [0, 1, 2, 3]]
    batch = torch.stack([labels, (labels > 0).long()])
    assert ct.component_boxes(batch, torch.tensor([2, 1])).tolist() == [
        [[1, 0, 3, 2], [0, 1, 2, 3]],
        [[0, 0, 3, 3], [0, 0, 0, 0]],  # the second image has one component: zero box
    ]


def test_bounding_box_golden():
    assert ct.bounding_box(M0, 0.2).tolist() == [0, 0, 3, 3]  # all but the centre
    assert ct.bounding_box(M0, 0.9).tolist() == [0, 2, 1, 3]  # only the 3 at row 2
    # At 50%: two 3-pixel components with 4-connectivity; the tie goes to the first.
    assert ct.bounding_box(M0, 0.5, connectivity=4).tolist() == [1, 0, 3, 2]
    assert ct.bounding_box(M0, 0.5, connectivity=8).tolist() == [0, 0, 3, 3]
    # max <= 0: the mask is {M = max}. M1 - 1 is 0 on the four edge midpoints: four
    # one-pixel components with 4-connectivity (the first wins), one ring with 8.
    assert ct.bounding_box(M1 - 1, 0.2, connectivity=4).tolist() == [1, 0, 2, 1]
    assert ct.bounding_box(M1 - 1, 0.2, connectivity=8).tolist() == [0, 0, 3, 3]
    batch = ct.bounding_box(torch.stack([M0, M1]), 0.9)
    assert batch.tolist() == [[0, 2, 1, 3], [0, 0, 3, 3]] and batch.dtype == torch.long


def test_iou_golden():
    a = torch.tensor([[0, 0, 2, 2], [0, 0, 2, 2], [0, 0, 1, 1], [0, 0, 0, 0]])
    b = torch.tensor([[1, 0, 3, 2], [0, 0, 2, 2], [5, 5, 6, 6], [0, 0, 0, 0]])
    out = ct.iou(a, b)
    torch.testing.assert_close(out, torch.tensor([1 / 3, 1.0, 0.0, 0.0]))
    assert ct.iou(a[0].double(), b[0].double()).item() == pytest.approx(1 / 3, abs=1e-15)


# --- batching, dtypes, devices -------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_low_precision_dtypes(dtype):
    gen = torch.Generator().manual_seed(0)
    f = torch.rand(2, 4, 5, 5, generator=gen)
    w = torch.randn(3, 4, generator=gen)
    expected = ct.class_activation_maps(f.double(), w.double())
    maps = ct.class_activation_maps(f.to(dtype), w.to(dtype))
    assert maps.dtype == dtype
    tol = {torch.float16: 1e-2, torch.bfloat16: 5e-2, torch.float32: 1e-6}[dtype]
    torch.testing.assert_close(maps.double(), expected, rtol=tol, atol=tol)
    up = ct.upsample(maps, 11)
    assert up.dtype == dtype and up.shape == (2, 3, 11, 11)
    assert ct.normalize(up).dtype == dtype
    assert ct.bounding_box(up[:, 0]).shape == (2, 4)


def test_mixed_dtypes_promote():
    f = torch.rand(1, 2, 3, 3, dtype=torch.float16)
    assert ct.class_activation_maps(f, torch.ones(4, 2)).dtype == torch.float32


def test_upsample_matches_interpolate():
    x = torch.randn(3, 5, 7, 9, dtype=torch.float64)
    for size in [(14, 18), (3, 4), (7, 9), (20, 5)]:
        exact(ct.upsample(x, size), F.interpolate(x, size=size, mode="bilinear"))


def test_components_of_a_winding_path():
    # One 1-pixel-wide serpentine of ~300 pixels (the slowest case for plain min-label
    # propagation) plus a separate dot: exactly two components with either connectivity.
    mask = torch.zeros(23, 25, dtype=torch.bool)
    mask[0:21:2, :22] = True
    for row in range(1, 21, 2):
        mask[row, 21 if row % 4 == 1 else 0] = True
    mask[22, 24] = True
    for connectivity in (4, 8):
        labels, count = ct.connected_components(mask, connectivity)
        assert int(count) == 2
        assert int(labels[20, 0]) == 1 and int(labels[22, 24]) == 2
        expected, _ = ref.connected_components(mask.numpy(), connectivity)
        assert np.array_equal(labels.numpy(), expected)


# --- reference vs camlib.torch: the number quoted in the docs --------------------------------


def _relative(actual: torch.Tensor, expected: np.ndarray) -> float:
    """max |a - e| / max |e|: the deviation relative to the size of the values."""
    actual = actual.double().numpy()
    return float(np.abs(actual - expected).max() / max(np.abs(expected).max(), 1e-30))


def deviations(seed: int = 0) -> dict[str, float]:
    """Max relative deviation of every float32 camlib.torch function from the reference.

    The reference runs in float64 on the same float32 inputs.
    """
    rng = np.random.default_rng(seed)
    f = rng.standard_normal((8, 64, 7, 7)).astype(np.float32)
    f = np.maximum(f, 0)  # post-ReLU features, as a real network's
    w = (rng.standard_normal((10, 64)) / 8).astype(np.float32)
    b = rng.standard_normal(10).astype(np.float32)
    t = {name: torch.from_numpy(a) for name, a in (("f", f), ("w", w), ("b", b))}
    f64, w64, b64 = f.astype(np.float64), w.astype(np.float64), b.astype(np.float64)
    maps = ref.class_activation_maps(f64, w64)
    pooled = ref.global_average_pool(f64)
    return {
        "global_average_pool": _relative(ct.global_average_pool(t["f"]), pooled),
        "global_max_pool": _relative(ct.global_max_pool(t["f"]), ref.global_max_pool(f64)),
        "class_scores": _relative(
            ct.class_scores(ct.global_average_pool(t["f"]), t["w"], t["b"]),
            ref.class_scores(pooled, w64, b64),
        ),
        "softmax": _relative(
            ct.softmax(ct.class_scores(ct.global_average_pool(t["f"]), t["w"], t["b"])),
            ref.softmax(ref.class_scores(pooled, w64, b64)),
        ),
        "class_activation_maps": _relative(ct.class_activation_maps(t["f"], t["w"]), maps),
        "upsample": _relative(
            ct.upsample(ct.class_activation_maps(t["f"], t["w"]), 224), ref.upsample(maps, 224)
        ),
        "normalize": _relative(
            ct.normalize(ct.class_activation_maps(t["f"], t["w"])), ref.normalize(maps)
        ),
    }


def resnet18_deviations() -> dict[str, float]:
    """The same comparison on a real network's f_k: resnet18's layer4 and fc (random init)."""
    from torchvision.models import resnet18

    from camlib.extract import CAMExtractor

    torch.manual_seed(0)
    model = resnet18(weights=None).eval()
    with torch.no_grad(), CAMExtractor(model) as cam:
        model(torch.randn(2, 3, 128, 128))
        features, weight = cam.features, cam.weight
    f64, w64 = features.double().numpy(), weight.double().numpy()
    maps = ref.class_activation_maps(f64, w64)
    tmaps = ct.class_activation_maps(features, weight)
    return {
        "resnet18 class_activation_maps": _relative(tmaps, maps),
        "resnet18 upsample": _relative(
            ct.upsample(tmaps[:, :20], 128), ref.upsample(maps[:, :20], 128)
        ),
    }


def test_deviation_reference_vs_torch_float32():
    """Run with ``-s -k deviation`` to print the numbers."""
    worst = resnet18_deviations()
    for seed in range(3):
        for name, value in deviations(seed).items():
            worst[name] = max(worst.get(name, 0.0), value)
    print("\nmax relative deviation, camlib.torch float32 vs camlib.reference float64:")
    for name, value in worst.items():
        print(f"  {name:32s} {value:.2e}")
    print(f"  {'overall':32s} {max(worst.values()):.2e}")
    assert max(worst.values()) <= 1e-5


@pytest.mark.parametrize("connectivity", [4, 8])
def test_the_device_boxes_equal_the_cpu_boxes(connectivity):
    """bounding_box's device path (first-pixel labels, the largest component's box read
    off its rows and columns), run on the CPU, against the scipy path."""
    generator = torch.Generator().manual_seed(connectivity)
    cams = torch.cat([ct.upsample(torch.randn(12, 7, 7, generator=generator), (45, 52)),
                      torch.rand(12, 45, 52, generator=generator),
                      (torch.rand(12, 45, 52, generator=generator) * 3).floor()])
    for threshold in (0.0, 0.2, 0.5, 1.0):
        peak = cams.amax(dim=(1, 2), keepdim=True)
        masks = cams >= torch.where(peak > 0, peak * threshold, peak)
        labels, rounds = ct._first_pixel_labels(masks, connectivity)
        device = ct._largest_box(labels, 45 * 52, 45, 52)
        assert torch.equal(device, ct.bounding_box(cams, threshold, connectivity)), threshold
        assert 1 <= rounds <= 45 * 52


def _rounds_to_converge(masks: torch.Tensor, connectivity: int) -> int:
    """The first round of the device labelling that changes nothing, found by running
    the rounds one at a time."""
    n, h, w = masks.shape
    foreground = masks.reshape(n, h * w)
    labels = ct._first_pixel_labels(masks, connectivity)[0]  # the fixed point
    index = torch.arange(h * w).expand(n, -1)
    starts = masks & ~torch.nn.functional.pad(masks, (1, 0))[..., :w]
    runs = torch.where(starts, index.view(n, h, w), -1).cummax(dim=2).values
    current = torch.where(foreground, runs.reshape(n, h * w), h * w)
    for rounds in range(1, h * w + 1):
        current, previous = ct._label_round(current, foreground, connectivity, h, w), current
        if torch.equal(current, previous):
            assert torch.equal(current, labels)
            return rounds
    raise AssertionError("no fixed point")


@pytest.mark.parametrize("connectivity", [4, 8])
def test_cam_masks_converge_before_the_one_convergence_test(connectivity):
    """CAM masks (a 7×7 map upsampled to 224×224, every threshold of the course) reach
    their fixed point within the rounds run blind, so the one host read finds them done."""
    cams = ct.upsample(torch.randn(16, 7, 7, generator=torch.Generator().manual_seed(0)), 224)
    peak = cams.amax(dim=(1, 2), keepdim=True)
    for threshold in (0.0, 0.15, 0.2, 0.5, 0.9):
        masks = cams >= torch.where(peak > 0, peak * threshold, peak)
        assert _rounds_to_converge(masks, connectivity) <= ct.CHECKED_AFTER, threshold
        assert ct._first_pixel_labels(masks, connectivity)[1] == ct.CHECKED_AFTER


@contextlib.contextmanager
def _host_reads() -> Iterator[list[str]]:
    """Count the calls that copy a tensor's value to the host: ``torch.equal``,
    ``Tensor.item``, ``bool``, ``int``, ``float`` and ``tolist`` of a tensor."""
    reads: list[str] = []
    patches = [mock.patch.object(torch, "equal", _counted(torch.equal, "equal", reads))]
    for name in ("item", "__bool__", "__int__", "__float__", "tolist", "__index__"):
        patches.append(mock.patch.object(torch.Tensor, name,
                                         _counted(getattr(torch.Tensor, name), name, reads)))
    with contextlib.ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        yield reads


def _counted(function, name: str, reads: list[str]):
    def counted(*args, **kwargs):
        reads.append(name)
        return function(*args, **kwargs)
    return counted


def test_the_device_path_of_bounding_box_reads_the_host_once():
    """bounding_box's device path (labelling and box), run on the CPU with every host
    read counted: one, the labelling's convergence test; CUDA's own count is in
    tests/test_cuda.py."""
    cams = ct.upsample(torch.randn(16, 7, 7, generator=torch.Generator().manual_seed(1)), 224)
    masks = cams >= 0.2 * cams.amax(dim=(1, 2), keepdim=True)
    with _host_reads() as reads:
        labels, _ = ct._first_pixel_labels(masks, 8)
        box = ct._largest_box(labels, 224 * 224, 224, 224)
    assert reads == ["equal"], reads
    assert torch.equal(box, ct.bounding_box(cams, 0.2))


def test_the_cam_path_reads_no_value_on_the_host():
    """CAMExtractor.maps, GradCAMExtractor.maps, class_activation_maps, upsample and
    normalize, checks on and off, on the meta device: it holds shapes and no values, so
    any read of a value on the host (``bool``, ``int``, ``.item()``, ``.tolist()``) raises
    there. What runs here is the path a GPU takes, and it never waits for the device
    (tests/test_cuda.py measures that on CUDA itself)."""
    from camcourse.models import GAPNet
    from camlib.extract import CAMExtractor, GradCAMExtractor

    meta = torch.device("meta")
    with pytest.raises(RuntimeError, match="meta"):  # a host read cannot pass unseen
        bool(torch.ones(2, device=meta).all())
    model = GAPNet().to(meta).eval()
    images = torch.empty(8, 3, 64, 64, device=meta)
    classes = torch.empty(8, dtype=torch.long, device=meta)
    for check in (True, False):
        with torch.no_grad(), CAMExtractor(model) as extractor:
            maps = extractor.maps(model(images).argmax(1), check=check)
            direct = ct.class_activation_maps(extractor.features, extractor.weight,
                                              classes, check=check)
            scalar = ct.class_activation_maps(extractor.features, extractor.weight,
                                              torch.tensor(3, device=meta), check=check)
        with GradCAMExtractor(model) as gradcam:
            grad_maps = gradcam.maps(model(images), classes)
        shown = ct.normalize(ct.upsample(maps, 64, check=check), check=check)
        assert shown.shape == (8, 64, 64) and shown.device == meta
        for m in (direct, scalar, grad_maps):
            assert ct.normalize(m, "max", check=check).shape == maps.shape
    assert all(not m._forward_hooks and not m._backward_hooks for m in model.modules())


def test_the_device_labelling_of_tiny_masks():
    for shape in [(2, 1, 1), (3, 1, 2), (2, 2, 1), (1, 2, 2)]:
        masks = torch.rand(shape, generator=torch.Generator().manual_seed(len(shape))) > 0.3
        labels, counts, _ = ct._label_rounds(masks, 8)
        expected, expected_counts = ct.connected_components(masks)
        assert torch.equal(labels, expected) and torch.equal(counts, expected_counts), shape


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_bounding_box_level_is_not_rounded_to_half_precision(dtype):
    """0.69921875 is bfloat16's nearest value to 0.7 and lies below 0.7·max = 0.7: the
    reference keeps only the peak; a level τ·max rounded to bfloat16 would keep all three."""
    cam = torch.tensor([[0.69921875, 0.69921875, 1.0]], dtype=dtype)
    assert ref.bounding_box(cam.double().numpy(), 0.7) == (2, 0, 3, 1)
    assert ct.bounding_box(cam, 0.7).tolist() == [2, 0, 3, 1]
