"""Bad input gets a clear error, in camlib.reference and camlib.torch alike.

The table of `tests/bad_inputs.py` covers every public function and command (one test
per case: the exception type and that the message names the argument); the tests below
it pin the answers that must not be silently wrong, and the documented empty batches.
"""

import numpy as np
import pytest
import torch
from bad_inputs import Case, all_cases, run_case  # tests/ is on sys.path under pytest

import camlib.reference as ref
import camlib.torch as ct
from camcourse.models import GAPNet
from camlib import localize, sweep, validation

TABLE = all_cases()


@pytest.mark.parametrize("case", TABLE, ids=[case.id for case in TABLE])
def test_bad_input_gets_a_clear_error(case: Case):
    outcome, detail = run_case(case)
    assert outcome == "clear", detail


def test_the_table_covers_every_public_function_and_command():
    tried = {case.id.split(":")[0] + ":" + case.id.split(":")[1] for case in all_cases()}
    for module, name in [(ref, "reference"), (ct, "torch")]:
        for function in module.__all__:
            assert any(t.startswith(f"{name}: {function}") or
                       t.startswith(f"{name} (boxes): {function}") for t in tried), function
    for function in sweep.__all__[1:]:  # PROTOCOLS is a constant
        assert any(t.startswith(f"sweep: {function}") for t in tried), function
    for function in ["cam_maps", "saliency_maps", "box_maps", "full_image_box", "centred_box",
                     "mean_box_size", "localization_accuracy", "predict",
                     "evaluate_localization"]:
        assert any(t.startswith(f"localize: {function}") for t in tried), function
    commands = {case.module for case in all_cases() if case.module.startswith("python -m")}
    assert commands == {"python -m camcourse.train", "python -m camcourse.benchmarks.localization",
                        "python -m camcourse.coursework"}


# --- answers that must not be silently wrong -----------------------------------------------


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int16, torch.int32, torch.float16,
                                   torch.bfloat16, torch.float32, torch.float64])
def test_torch_iou_is_exact_whatever_the_box_dtype(dtype):
    boxes_a = torch.tensor([[0, 0, 20, 20], [0, 0, 10, 10], [0, 0, 224, 224],
                            [256, 256, 512, 512]]).to(dtype)
    boxes_b = torch.tensor([[0, 0, 20, 10], [10, 10, 20, 20], [0, 0, 224, 112],
                            [256, 256, 512, 384]]).to(dtype)
    if dtype == torch.uint8:  # 224 fits, 512 does not
        boxes_a, boxes_b = boxes_a[:3], boxes_b[:3]
    expected = torch.tensor([0.5, 0.0, 0.5, 0.5])[: len(boxes_a)]
    got = ct.iou(boxes_a, boxes_b)
    assert got.dtype == (dtype if dtype.is_floating_point else torch.get_default_dtype())
    torch.testing.assert_close(got.float(), expected)
    np.testing.assert_allclose(
        [ref.iou(a, b) for a, b in zip(boxes_a.double().numpy(), boxes_b.double().numpy(),
                                        strict=True)], expected.numpy())


def test_localization_accuracy_of_uint8_boxes_counts_a_quarter_overlap_as_a_miss():
    pred = torch.tensor([[0, 0, 20, 20]], dtype=torch.uint8)
    gt = torch.tensor([[0, 0, 10, 10]], dtype=torch.uint8)  # IoU 100 / 400 = 0.25
    assert localize.localization_accuracy(pred, gt) == 0.0


def test_torch_normalize_of_float16_beyond_65504_is_finite():
    maps = torch.tensor([[-60000.0, 0.0], [30000.0, 60000.0]], dtype=torch.float16)
    out = ct.normalize(maps)
    assert out.dtype == torch.float16 and bool(torch.isfinite(out).all())
    torch.testing.assert_close(out, torch.tensor([[0.0, 0.5], [0.75, 1.0]], dtype=torch.float16))
    np.testing.assert_allclose(ref.normalize(maps.numpy()), [[0.0, 0.5], [0.75, 1.0]])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.int32, np.uint8])
def test_reference_computes_in_float64(dtype):
    features = (np.arange(16).reshape(1, 1, 4, 4) * 30).astype(dtype)
    assert ref.global_average_pool(features).dtype == np.float64
    assert ref.normalize(features[0]).dtype == np.float64
    assert ref.upsample(features[0], 8).dtype == np.float64
    weight = np.ones((1, 1), dtype)
    assert ref.class_activation_maps(features, weight, 0).dtype == np.float64


def test_saliency_maps_leave_no_gradient_on_the_parameters():
    torch.manual_seed(0)
    model = GAPNet(channels=(4, 8, 8)).eval()
    images = torch.rand(2, 3, 16, 16)
    first, _ = localize.saliency_maps(model, images, 1)
    assert all(p.grad is None for p in model.parameters())
    again, _ = localize.saliency_maps(model, images, 1)  # nothing accumulates
    torch.testing.assert_close(first, again)
    # The same gradient as autograd on one image at a time.
    image = images[1:].clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(image)[0, 1], image)
    torch.testing.assert_close(first[1], grad.abs().amax(dim=1)[0])


def test_empty_batches_give_empty_results():
    """N = 0 is not an error: the batched functions return empty results."""
    model = GAPNet(channels=(4, 8, 8)).eval()
    empty = torch.zeros(0, 3, 16, 16)
    for function in (localize.cam_maps, localize.saliency_maps):
        maps, logits = function(model, empty)
        assert maps.shape == (0, 16, 16) and logits.shape == (0, 10)
    assert ct.global_average_pool(torch.zeros(0, 3, 2, 2)).shape == (0, 3)
    assert ct.upsample(torch.zeros(0, 2, 2), 4).shape == (0, 4, 4)
    assert ct.normalize(torch.zeros(0, 2, 2)).shape == (0, 2, 2)
    assert ct.iou(torch.zeros(0, 4), torch.zeros(0, 4)).shape == (0,)
    assert ref.global_average_pool(np.zeros((0, 3, 2, 2))).shape == (0, 3)
    assert ref.class_activation_maps(np.zeros((0, 3, 2, 2)), np.ones((2, 3))).shape == (
        0, 2, 2, 2)
    assert ref.upsample(np.zeros((0, 2, 2)), 4).shape == (0, 4, 4)
    assert localize.full_image_box(0, 8).shape == (0, 4)
    with pytest.raises(ValueError, match="pred_boxes must have shape .N, 4. with N >= 1"):
        localize.localization_accuracy(torch.zeros(0, 4), torch.zeros(0, 4))


def as_array(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def as_tensor(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=np.float32))


@pytest.fixture(params=["reference", "torch"])
def lib(request):
    """(module, converter from nested lists/arrays to its input type)."""
    return (ref, as_array) if request.param == "reference" else (ct, as_tensor)


FEATURES = np.ones((2, 3, 4, 4))
WEIGHT = np.ones((5, 3))


def cams(lib, classes):
    module, arr = lib
    return module.class_activation_maps(arr(FEATURES), arr(WEIGHT), classes)


# --- wrong rank or shape --------------------------------------------------------------------


def test_features_wrong_rank(lib):
    module, arr = lib
    with pytest.raises(ValueError, match="features"):
        module.class_activation_maps(arr(np.ones((3, 4, 4))), arr(WEIGHT))


def test_pooling_features_wrong_rank(lib):
    module, arr = lib
    with pytest.raises(ValueError, match="features"):
        module.global_average_pool(arr(np.ones((2, 3))))


def test_weight_wrong_rank(lib):
    module, arr = lib
    with pytest.raises(ValueError, match="weight"):
        module.class_activation_maps(arr(FEATURES), arr(np.ones(3)))


def test_pooled_wrong_rank(lib):
    module, arr = lib
    with pytest.raises(ValueError, match="pooled"):
        module.class_scores(arr(np.ones(3)), arr(WEIGHT))


def test_bias_wrong_length(lib):
    module, arr = lib
    with pytest.raises(ValueError, match="bias"):
        module.class_scores(arr(np.ones((2, 3))), arr(WEIGHT), arr(np.ones(4)))


def test_scores_wrong_rank(lib):
    module, arr = lib
    with pytest.raises(ValueError, match="scores"):
        module.softmax(arr(np.ones(3)))


def test_maps_wrong_rank(lib):
    module, arr = lib
    with pytest.raises(ValueError, match="maps"):
        module.upsample(arr(np.ones(3)), 4)


def test_cam_wrong_rank(lib):
    module, arr = lib
    with pytest.raises(ValueError, match="cam"):
        module.bounding_box(arr(np.ones(3)))


def test_mask_wrong_rank(lib):
    module, _ = lib
    mask = np.ones(3, dtype=bool)
    with pytest.raises(ValueError, match="mask"):
        module.connected_components(mask if module is ref else torch.from_numpy(mask))


def test_box_wrong_length(lib):
    module, arr = lib
    with pytest.raises(ValueError, match="box"):
        module.iou(arr([0, 0, 1]), arr([0, 0, 1]))


def test_features_not_an_array(lib):
    module, _ = lib
    with pytest.raises(TypeError, match="features"):
        module.global_average_pool("features")


# --- K differs between features and weight --------------------------------------------------


def test_k_mismatch_features_weight(lib):
    module, arr = lib
    with pytest.raises(ValueError, match=r"weight.*K=|K=.*weight"):
        module.class_activation_maps(arr(FEATURES), arr(np.ones((5, 4))))


def test_k_mismatch_pooled_weight(lib):
    module, arr = lib
    with pytest.raises(ValueError, match=r"weight.*K="):
        module.class_scores(arr(np.ones((2, 3))), arr(np.ones((5, 4))))


# --- class indices ----------------------------------------------------------------------------


def test_class_out_of_range(lib):
    with pytest.raises(ValueError, match="classes.*5"):
        cams(lib, 5)


def test_class_negative(lib):
    with pytest.raises(ValueError, match="classes.*-1"):
        cams(lib, [0, -1])


@pytest.mark.parametrize("which", ["reference", "torch"])
def test_class_float_scalar(which):
    lib = (ref, as_array) if which == "reference" else (ct, as_tensor)
    with pytest.raises(TypeError, match="classes"):
        cams(lib, 1.0)


def test_class_float_sequence(lib):
    with pytest.raises(TypeError, match="classes"):
        cams(lib, [1.0, 2.0])


def test_class_bool(lib):
    with pytest.raises(TypeError, match="classes"):
        cams(lib, True)


def test_class_wrong_count(lib):
    with pytest.raises(ValueError, match="classes.*2"):
        cams(lib, [0, 1, 2])


def test_class_tensor_float_torch():
    with pytest.raises(TypeError, match="classes"):
        cams((ct, as_tensor), torch.tensor([0.0, 1.0]))


# --- NaN or inf -------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_features(lib, bad):
    module, arr = lib
    features = FEATURES.copy()
    features[1, 2, 3, 0] = bad
    with pytest.raises(ValueError, match="features"):
        module.class_activation_maps(arr(features), arr(WEIGHT))
    with pytest.raises(ValueError, match="features"):
        module.global_average_pool(arr(features))


def test_non_finite_cam(lib):
    module, arr = lib
    with pytest.raises(ValueError, match="cam"):
        module.bounding_box(arr([[0.0, np.nan], [1.0, 0.0]]))


# --- threshold outside (0, 1] -----------------------------------------------------------------


@pytest.mark.parametrize("threshold", [-0.2, 1.5, np.nan])
def test_threshold_out_of_range(lib, threshold):
    module, arr = lib
    with pytest.raises(ValueError, match="threshold"):
        module.bounding_box(arr(np.eye(3)), threshold)


def test_threshold_not_a_number(lib):
    module, arr = lib
    with pytest.raises(TypeError, match="threshold"):
        module.bounding_box(arr(np.eye(3)), "0.2")


def test_threshold_one_is_allowed(lib):
    module, arr = lib
    box = module.bounding_box(arr([[0.0, 1.0], [0.5, 0.0]]), 1.0)  # only the max is kept
    assert tuple(int(v) for v in box) == (1, 0, 2, 1)


# --- upsample size <= 0 -------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, -3, (4, 0), (-1, 4)])
def test_upsample_size_not_positive(lib, size):
    module, arr = lib
    with pytest.raises(ValueError, match="size"):
        module.upsample(arr(np.ones((2, 2))), size)


@pytest.mark.parametrize("which", ["reference", "torch"])
def test_upsample_size_float(which):
    module, arr = (ref, as_array) if which == "reference" else (ct, as_tensor)
    with pytest.raises(TypeError, match="size"):
        module.upsample(arr(np.ones((2, 2))), 2.5)


# --- other arguments -------------------------------------------------------------------------


def test_unknown_reduce(lib):
    module, arr = lib
    with pytest.raises(ValueError, match="reduce"):
        module.global_average_pool(arr(FEATURES), reduce="max")


def test_unknown_normalize_mode(lib):
    module, arr = lib
    with pytest.raises(ValueError, match="mode"):
        module.normalize(arr(np.eye(3)), mode="sum")


def test_bad_connectivity(lib):
    module, _ = lib
    mask = np.eye(3, dtype=bool)
    with pytest.raises(ValueError, match="connectivity"):
        module.connected_components(mask if module is ref else torch.from_numpy(mask), 6)


def test_mask_not_boolean(lib):
    module, _ = lib
    mask = np.eye(3, dtype=np.int64)
    with pytest.raises(TypeError, match="mask"):
        module.connected_components(mask if module is ref else torch.from_numpy(mask))


def test_inverted_box(lib):
    module, arr = lib
    with pytest.raises(ValueError, match="x0 <= x1"):
        module.iou(arr([2, 0, 1, 1]), arr([0, 0, 1, 1]))


# --- tensors on different devices (camlib.torch only) ----------------------------------------
# The "meta" device holds shapes without data: it exists on every machine.


def test_features_and_weight_on_different_devices():
    weight = torch.ones(5, 3, device="meta")
    with pytest.raises(ValueError, match="same device.*features.*weight"):
        ct.class_activation_maps(as_tensor(FEATURES), weight)


def test_pooled_and_bias_on_different_devices():
    with pytest.raises(ValueError, match="same device.*bias"):
        ct.class_scores(torch.ones(2, 3), torch.ones(5, 3), torch.ones(5, device="meta"))


def test_boxes_on_different_devices():
    with pytest.raises(ValueError, match="same device"):
        ct.iou(torch.zeros(2, 4), torch.zeros(2, 4, device="meta"))


def test_one_rule_for_the_threshold_everywhere():
    """τ ∈ [0, 1] in every function that takes one (camlib.validation.TAU_INTERVAL)."""
    from camlib import localize

    maps = torch.rand(2, 8, 8)
    gt = torch.tensor([[0, 0, 4, 4], [1, 1, 5, 5]])
    assert validation.TAU_INTERVAL == "[0, 1]"
    for tau in (0.0, 1.0):
        assert localize.boxes_from_maps(maps, tau).shape == (2, 4)
        assert ct.bounding_box(maps, tau).shape == (2, 4)
        assert len(ref.bounding_box(maps[0].numpy(), tau)) == 4
    assert localize.max_box_acc(maps, gt, (0.0, 1.0))[1] in (0.0, 1.0)
    for call in (lambda: localize.boxes_from_maps(maps, 1.01),
                 lambda: ct.bounding_box(maps, -0.01),
                 lambda: ref.bounding_box(maps[0].numpy(), 1.01),
                 lambda: localize.max_box_acc(maps, gt, (-0.01,))):
        with pytest.raises(ValueError, match=r"threshold.*\[0, 1\]"):
            call()


def test_float64_images_are_converted_to_the_model_dtype():
    from camcourse.models import GAPNet
    from camlib import localize

    model = GAPNet().eval()
    images = torch.rand(2, 3, 32, 32, dtype=torch.float64)
    maps, _ = localize.cam_maps(model, images)
    expected, _ = localize.cam_maps(model, images.float())
    assert maps.dtype == torch.float32 and torch.equal(maps, expected)
