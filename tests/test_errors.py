"""Bad input gets a clear error, in camlib.reference and camlib.torch alike.

One test per case. Each runs on both implementations and checks the exception type and
that the message names the argument.
"""

import numpy as np
import pytest
import torch

import camlib.reference as ref
import camlib.torch as ct


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


@pytest.mark.parametrize("threshold", [0.0, -0.2, 1.5, np.nan])
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
