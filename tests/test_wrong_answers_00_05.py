"""The catalogue of classic wrong answers for the exercises of lessons 00–05.

Each entry is a function a learner could plausibly write, and the words the check's
message must contain: the mistake named, not just "values differ". Every entry must fail
its check, in the notebook (fixed inputs) and when grading (hidden inputs)
(tests/test_wrong_answers.py runs both catalogues); every right answer in RIGHT must pass
both. ``test_every_exercise_has_three_wrong_answers`` keeps the
catalogue at three or more per exercise.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from camcourse.checks import get_check
from camlib import reference

HIDDEN_SEEDS = (1, 20260101)


def _largest_box(cam, fraction):
    return reference.bounding_box(cam, fraction)


def _mask(cam, fraction):
    peak = cam.max()
    return cam >= (fraction * peak if peak > 0 else peak)


def _capture_swallowing_errors(model, layer, images):
    stored = {}
    handle = layer.register_forward_hook(lambda m, i, o: stored.update(out=o.detach()))
    try:
        with torch.no_grad():
            model(images)
    except Exception:  # noqa: BLE001 - the mistake: the caller never learns it failed
        pass
    finally:
        handle.remove()
    return stored.get("out")


def _softmax_mean_shift(scores):
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(scores - scores.mean(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


def _resize_shorter_side(maps, size):
    import torchvision.transforms.functional as TF

    return TF.resize(torch.as_tensor(maps), size, antialias=False).numpy()


def _normalize_nan_at_zero_max(maps, mode="minmax"):
    if mode == "minmax":
        return _normalize(maps, mode)
    high = maps.max(axis=(1, 2), keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(high < 0, 0.0, maps / high)


def _softmax_long_double(scores):
    # Exact for |S| up to about 11356, where exp overflows even in extended precision.
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(scores.astype(np.longdouble))
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float64)


def _mask_one_pixel_at_a_negative_max(cam, fraction=0.2):
    if cam.max() > 0:
        return cam >= fraction * cam.max()
    return np.arange(cam.size).reshape(cam.shape) == np.argmax(cam)


def _capture_clearing_every_hook(model, layer, images):
    stored = {}
    layer.register_forward_hook(lambda m, i, o: stored.update(out=o.detach()))
    try:
        with torch.no_grad():
            model(images)
    finally:
        layer._forward_hooks.clear()  # the caller's hooks on the layer go too
    return stored["out"]


def _capture_into_the_layer(model, layer, images):
    def hook(module, inputs, output):
        module.stored = output.detach()  # stays in the caller's model

    handle = layer.register_forward_hook(hook)
    try:
        with torch.no_grad():
            model(images)
    finally:
        handle.remove()
    return layer.stored


def _softmax_torch_float32(scores):
    # Honest float32: near ±12000 the scores themselves round to about 0.001.
    return torch.softmax(torch.as_tensor(scores).float(), dim=1)


# --- right answers (several styles each) ----------------------------------------------------


def _unit_float(images):
    return images.astype(np.float32) / 255.0


def _crop(image, box):
    x0, y0, x1, y1 = (int(v) for v in box)
    return image[:, y0:y1, x0:x1]


def _capture(model, layer, images):
    stored = {}
    handle = layer.register_forward_hook(lambda m, i, o: stored.update(out=o.detach()))
    try:
        with torch.no_grad():
            model(images)
    finally:
        handle.remove()
    return stored["out"]


def _strongest(features):
    n, k, h, w = features.shape
    flat = features.reshape(n, k, -1).argmax(-1)
    return np.stack([flat % w, flat // w], axis=-1)


def _gap(features, reduce="mean"):
    return features.sum(axis=(2, 3)) if reduce == "sum" else features.mean(axis=(2, 3))


def _counts(k, h, w, c):
    return k * h * w * c + c, k * c + c


def _softmax(scores):
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _scores_from_maps(maps, bias, reduce="mean"):
    pooled = maps.mean(axis=(2, 3)) if reduce == "mean" else maps.sum(axis=(2, 3))
    return pooled + bias


def _predicted(features, weight, bias):
    scores = features.mean(axis=(2, 3)) @ weight.T + bias
    return np.einsum("nk,nkhw->nhw", weight[scores.argmax(1)], features)


def _upsample(maps, size):
    t = torch.as_tensor(maps)[:, None]
    return F.interpolate(t, size=size, mode="bilinear", align_corners=False)[:, 0].numpy()


def _normalize(maps, mode="minmax"):
    high = maps.max(axis=(1, 2), keepdims=True)
    if mode == "minmax":
        low = maps.min(axis=(1, 2), keepdims=True)
        span = high - low
        return np.where(span > 0, (maps - low) / np.where(span > 0, span, 1), 0.0)
    return np.where(high > 0, maps / np.where(high > 0, high, 1), 0.0)


def _pipeline(cam, size, fraction=0.2):
    big = reference.upsample(cam, size)
    return reference.normalize(big), _mask(big, fraction), reference.bounding_box(big, fraction)


def _pipeline_torch(cam, size, fraction=0.2):
    big = F.interpolate(torch.as_tensor(cam)[None, None], size=tuple(size), mode="bilinear",
                        align_corners=False)[0, 0]
    heat = (big - big.min()) / (big.max() - big.min())
    peak = big.max()
    mask = big >= (fraction * peak if peak > 0 else peak)
    return heat, mask, list(reference.bounding_box(big.numpy(), fraction))


def _mask_float32(cam, fraction):
    # Honest float32 arithmetic: the check's boundary pixel must sit at the same level.
    cam = np.asarray(cam, dtype=np.float32)
    peak = cam.max()
    return cam >= (np.float32(fraction) * peak if peak > 0 else peak)


RIGHT = {
    "0.1": [_unit_float, lambda x: torch.as_tensor(x).float() / 255],
    "0.2": [_crop, lambda im, b: im[:, b[1]:b[3], b[0]:b[2]].copy()],
    "1.1": [_capture],
    "1.2": [_strongest,
            lambda f: np.stack(np.unravel_index(f.reshape(*f.shape[:2], -1).argmax(-1),
                                                f.shape[2:])[::-1], axis=-1)],
    "2.1": [_gap, lambda f, reduce="mean": reference.global_average_pool(f, reduce)],
    "2.2": [_counts, lambda k, h, w, c: [k * h * w * c + c, (k + 1) * c]],
    "2.3": [lambda f: f.max(axis=(2, 3)), lambda f: torch.as_tensor(f).amax(dim=(2, 3))],
    "3.1": [lambda p, w, b: p @ w.T + b, lambda p, w, b: np.einsum("nk,ck->nc", p, w) + b],
    "3.2": [_softmax, lambda s: torch.softmax(torch.as_tensor(s), dim=1),
            _softmax_torch_float32],
    "4.1": [lambda f, w: np.einsum("ck,nkhw->nchw", w, f),
            lambda f, w: np.tensordot(f, w, axes=([1], [1])).transpose(0, 3, 1, 2)],
    "4.2": [_scores_from_maps,
            lambda m, b, reduce="mean": m.sum(axis=(2, 3)) / (m.shape[2] * m.shape[3]
                                                             if reduce == "mean" else 1) + b],
    "4.3": [_predicted],
    "5.1": [_upsample, reference.upsample],
    "5.2": [_normalize, reference.normalize],
    "5.3": [_mask, lambda cam, fraction=0.2: cam >= (fraction * cam.max() if cam.max() > 0
                                                     else cam.max()),
            _mask_float32],
    "5.4": [_pipeline, _pipeline_torch],
}


# --- the catalogue of wrong answers ---------------------------------------------------------


def _hook_left_behind(model, layer, images):
    stored = {}
    layer.register_forward_hook(lambda m, i, o: stored.update(out=o.detach()))
    with torch.no_grad():
        model(images)
    return stored["out"]


def _no_finally(model, layer, images):
    stored = {}
    handle = layer.register_forward_hook(lambda m, i, o: stored.update(out=o.detach()))
    with torch.no_grad():
        model(images)
    handle.remove()
    return stored["out"]


def _keeps_input(model, layer, images):
    stored = {}
    handle = layer.register_forward_hook(lambda m, i, o: stored.update(out=i[0].detach()))
    try:
        with torch.no_grad():
            model(images)
    finally:
        handle.remove()
    return stored["out"]


def _pre_hook(model, layer, images):
    stored = {}
    handle = layer.register_forward_pre_hook(lambda m, i: stored.update(out=i[0].detach()))
    try:
        with torch.no_grad():
            model(images)
    finally:
        handle.remove()
    return stored["out"]


def _model_output(model, layer, images):
    with torch.no_grad():
        return model(images)


def _with_grad(model, layer, images):
    stored = {}
    handle = layer.register_forward_hook(lambda m, i, o: stored.update(out=o))
    try:
        model(images)
    finally:
        handle.remove()
    return stored["out"]


def _returns_handle(model, layer, images):
    handle = layer.register_forward_hook(lambda m, i, o: None)
    handle.remove()
    return handle


def _flat_split_by_h(features):
    n, k, h, w = features.shape
    flat = features.reshape(n, k, -1).argmax(-1)
    return np.stack([flat % h, flat // h], axis=-1)


def _in_place_softmax(scores):
    scores -= scores.max(axis=1, keepdims=True)
    e = np.exp(scores)
    return e / e.sum(axis=1, keepdims=True)


def _naive_softmax(scores):
    with np.errstate(over="ignore", invalid="ignore"):
        return np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)


def _min_softmax(scores):
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(scores - scores.min(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


def _batch_max_softmax(scores):
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        e = np.exp(scores - scores.max())
        return e / e.sum(axis=1, keepdims=True)


def _predicted_with(choose=None, transform=None):
    def predicted_class_maps(features, weight, bias):
        pooled = features.mean(axis=(2, 3))
        scores = pooled @ weight.T + bias
        top = choose(features, weight, bias, scores) if choose else scores.argmax(1)
        maps = np.einsum("nk,nkhw->nhw", weight[top], features)
        return transform(maps, bias[top]) if transform else maps
    return predicted_class_maps


def _up(options):
    def upsample_maps(maps, size):
        size = (size, size) if isinstance(size, int) else tuple(size)
        t = torch.as_tensor(maps)[:, None]
        return F.interpolate(t, size=size, **options)[:, 0].numpy()
    return upsample_maps


def _up_swapped(maps, size):
    size = (size, size) if isinstance(size, int) else tuple(size)
    return _upsample(maps, (size[1], size[0]))


def _normalize_global(maps, mode="minmax"):
    return (maps - maps.min()) / (maps.max() - maps.min())


def _normalize_unguarded(maps, mode="minmax"):
    low = maps.min(axis=(1, 2), keepdims=True)
    high = maps.max(axis=(1, 2), keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (maps - low) / (high - low) if mode == "minmax" else maps / high


def _normalize_constant_to_zeros(maps, mode="minmax"):
    """Zeros for every constant map, in both modes: min-max's rule applied to "max"."""
    out = _normalize(maps, mode)
    out[np.ptp(maps, axis=(1, 2)) == 0] = 0.0
    return out


def _normalize_by_abs(maps, mode="minmax"):
    if mode == "minmax":
        return _normalize(maps, mode)
    return maps / np.abs(maps).max(axis=(1, 2), keepdims=True)


def _normalize_by_signed_max(maps, mode="minmax"):
    if mode == "minmax":
        return _normalize(maps, mode)
    high = maps.max(axis=(1, 2), keepdims=True)
    return maps / np.where(high != 0, high, 1)


def _normalize_rows(maps, mode="minmax"):
    low = maps.min(axis=2, keepdims=True)
    high = maps.max(axis=2, keepdims=True)
    return (maps - low) / np.where(high > low, high - low, 1)


def _pipeline_with(heat=None, mask=None, box=None):
    def cam_pipeline(cam, size, fraction=0.2):
        big = reference.upsample(cam, size)
        right_heat, right_mask, right_box = _pipeline(cam, size, fraction)
        return (heat(cam, size, big) if heat else right_heat,
                mask(cam, size, big, fraction) if mask else right_mask,
                box(cam, size, big, fraction) if box else right_box)
    return cam_pipeline


def _first_component_box(cam, size, big, fraction):
    # scikit-image and SciPy number components in reading order: label 1 is the first met.
    labels, _ = reference.connected_components(_mask(big, fraction), 8)
    rows, cols = np.nonzero(labels == 1)
    return int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1


def _coarse_mask_then_resize(cam, size, big, fraction):
    small = _mask(cam, fraction).astype(np.float64)
    return F.interpolate(torch.as_tensor(small)[None, None], size=tuple(size),
                         mode="nearest")[0, 0].numpy() > 0.5


def _coarse_box_scaled(cam, size, big, fraction):
    x0, y0, x1, y1 = reference.bounding_box(cam, fraction)
    sy, sx = size[0] / cam.shape[0], size[1] / cam.shape[1]
    return round(x0 * sx), round(y0 * sy), round(x1 * sx), round(y1 * sy)


def _all_pixels_box(cam, size, big, fraction):
    rows, cols = np.nonzero(_mask(big, fraction))
    return cols.min(), rows.min(), cols.max() + 1, rows.max() + 1


def _capture_setting_mode(mode):
    def capture_output(model, layer, images):
        model.train(mode)  # changes the caller's model
        return _capture(model, layer, images)
    return capture_output


def _capture_grad_off_for_good(model, layer, images):
    torch.set_grad_enabled(False)  # not a `with`: gradients stay off after the call
    return _capture(model, layer, images)


def _capture_freezing_the_model(model, layer, images):
    model.requires_grad_(False)  # freezes the caller's parameters for good
    return _capture(model, layer, images)


def _naive_log_sum_exp(scores):
    with np.errstate(over="ignore", divide="ignore"):  # the overflow is the mistake
        return np.exp(scores - np.log(np.exp(scores).sum(axis=1, keepdims=True)))


def _first_images_class(features, weight, bias):
    top = (features.mean(axis=(2, 3)) @ weight.T + bias).argmax(axis=1)
    return np.einsum("k,nkhw->nhw", weight[top[0]], features)


def _minmax_over_max_guarded(maps, mode="minmax"):
    high = maps.max(axis=(1, 2), keepdims=True)
    low = maps.min(axis=(1, 2), keepdims=True)
    if mode == "max":
        return _normalize(maps, mode)
    return np.where(high > low, (maps - low) / np.where(high > 0, high, 1), 0.0)


def _pipeline_4_connected(cam, size, fraction=0.2):
    heat, mask, _ = _pipeline(cam, size, fraction)
    return heat, mask, reference.bounding_box(reference.upsample(cam, size), fraction, 4)


WRONG = [
    # issue 22's wrong answers and misdiagnosed messages, and more of the same classes ----
    ("1.1", "model.eval() on the caller's model", _capture_setting_mode(False),
     ["changed the mode of its argument `model`", "training was True, now False"]),
    ("1.1", "model.train() on the caller's model", _capture_setting_mode(True),
     ["changed the mode of its argument `model`", "training was False, now True"]),
    ("2.1", "mean over H only", lambda f, reduce="mean": f.mean(axis=2),
     ["over y (H, axis 2) only"]),
    ("2.2", "C hard-coded to 10", lambda k, h, w, c: (k * h * w * 10 + 10, k * 10 + 10),
     ["instead of the `classes` argument"]),
    ("2.3", "max over W only", lambda f: f.max(axis=3), ["over x (W, axis 3) only"]),
    ("3.2", "naive log-sum-exp", _naive_log_sum_exp, ["log-sum-exp taken naively"]),
    ("4.3", "the first image's class for all", _first_images_class,
     ["first image's top class"]),
    ("5.2", "(M - min) / max, guarded", _minmax_over_max_guarded, ["(M - min) / max"]),
    ("5.3", "fraction hard-coded to 0.2", lambda cam, fraction=0.2: _mask(cam, 0.2),
     ["fraction"]),
    ("5.4", "4-connected box", _pipeline_4_connected, ["the box: your components use "
                                                        "4-connectivity"]),
    ("1.2", "the flat index", lambda f: f.reshape(*f.shape[:2], -1).argmax(-1),
     ["flat index i of each maximum", "x = i % W"]),
    ("2.3", "argmax instead of max", lambda f: f.reshape(*f.shape[:2], -1).argmax(-1),
     ["where the maximum is (argmax"]),
    ("3.2", "no exp", lambda s: s / s.sum(axis=1, keepdims=True), ["without exp"]),
    ("3.2", "no exp, shifted", lambda s: (lambda d: d / d.sum(axis=1, keepdims=True))(
        s - s.max(axis=1, keepdims=True)), ["S_c − m by its sum without exp"]),
    ("4.1", "divided by each map's max |M|", lambda f, w: (lambda m: m / np.abs(m).max(
        axis=(2, 3), keepdims=True))(np.einsum("ck,nkhw->nchw", w, f)), ["largest |value|"]),
    ("4.1", "divided by the batch's max |M|", lambda f, w: (lambda m: m / np.abs(m).max())(
        np.einsum("ck,nkhw->nchw", w, f)), ["the batch's largest |value|"]),
    ("4.3", "class of the highest peak plus bias", _predicted_with(
        choose=lambda f, w, b, s: (np.einsum("ck,nkhw->nchw", w, f).max(axis=(2, 3))
                                   + b).argmax(1)), ["peak of its map plus the bias"]),
    ("4.3", "one class from the batch's summed scores", _predicted_with(
        choose=lambda f, w, b, s: np.full(len(s), s.sum(axis=0).argmax())),
     ["one class for every image", "summed over the batch"]),
    ("0.2", "crop clipped to the notebook image's 12 × 16",
     lambda im, box: im[:, box[1]:min(box[3], 12), box[0]:min(box[2], 16)],
     ["h has length 0"]),
    ("1.1", "forward error swallowed", _capture_swallowing_errors,
     ["let the exception through"]),
    ("3.2", "shift by the row's mean", _softmax_mean_shift, ["each row's mean"]),
    ("5.1", "shorter side resized (torchvision)", _resize_shorter_side,
     ["an int size means a square"]),
    ("5.2", "NaN for a map whose max is 0", _normalize_nan_at_zero_max,
     ["became NaN or inf"]),
    # 0.1 ---------------------------------------------------------------------------------
    ("0.1", "no division", lambda x: x.astype(np.float32), ["forget to divide by 255"]),
    ("0.1", "integer division", lambda x: x // 255, ["rounded to integers"]),
    ("0.1", "divide by 256", lambda x: x / 256.0, ["divided by 256"]),
    ("0.1", "batch max", lambda x: x / x.max(), ["largest value in the batch"]),
    ("0.1", "each image's max",
     lambda x: x / x.max(axis=(1, 2, 3), keepdims=True), ["each image by its own largest"]),
    ("0.1", "min-max per image",
     lambda x: (x - x.min(axis=(1, 2, 3), keepdims=True)) / (
         x.max(axis=(1, 2, 3), keepdims=True) - x.min(axis=(1, 2, 3), keepdims=True)),
     ["min-max normalized each image"]),
    ("0.1", "uint8 result", lambda x: (x / 255).astype(np.uint8), ["returned uint8"]),
    ("0.1", "in place", lambda x: np.divide(x, 255, out=x, casting="unsafe"), ["in place"]),
    ("0.1", "float16 result", lambda x: (x / 255).astype(np.float16), ["float16"]),
    # 0.2 ---------------------------------------------------------------------------------
    ("0.2", "x and y swapped", lambda im, b: im[:, b[0]:b[2], b[1]:b[3]],
     ["x and y are swapped"]),
    ("0.2", "inclusive box", lambda im, b: im[:, b[1]:b[3] + 1, b[0]:b[2] + 1],
     ["one row and one column too many", "half-open"]),
    ("0.2", "one too few", lambda im, b: im[:, b[1]:b[3] - 1, b[0]:b[2] - 1],
     ["one row and one column too few"]),
    ("0.2", "(x, y, w, h)", lambda im, b: im[:, b[1]:b[1] + b[3], b[0]:b[0] + b[2]],
     ["(x, y, width, height)"]),
    ("0.2", "channel axis sliced", lambda im, b: im[b[1]:b[3], b[0]:b[2]],
     ["colour-channel axis"]),
    # 1.1 ---------------------------------------------------------------------------------
    ("1.1", "hook left behind", _hook_left_behind, ["still registered", "handle.remove()"]),
    ("1.1", "no finally", _no_finally, ["finally"]),
    ("1.1", "the layer's input", _keeps_input, ["input of model[", "store `output`"]),
    ("1.1", "a pre-hook", _pre_hook, ["input of model[", "pre*-hook"]),
    ("1.1", "the model's output", _model_output, ["final output (the logits)"]),
    ("1.1", "no torch.no_grad", _with_grad, ["autograd graph", "no_grad"]),
    ("1.1", "the handle returned", _returns_handle, ["returned the hook's handle"]),
    # 1.2 ---------------------------------------------------------------------------------
    ("1.2", "(y, x)", lambda f: _strongest(f)[..., ::-1], ["(y, x)"]),
    ("1.2", "flat index twice",
     lambda f: np.repeat(f.reshape(*f.shape[:2], -1).argmax(-1)[..., None], 2, -1),
     ["flat index"]),
    ("1.2", "split by H", _flat_split_by_h, ["with H instead of W"]),
    ("1.2", "argmin", lambda f: _strongest(-f), ["argmin"]),
    ("1.2", "largest |f|", lambda f: _strongest(np.abs(f)), ["largest |f_k|"]),
    ("1.2", "ReLU first", lambda f: _strongest(np.maximum(f, 0)), ["ReLU"]),
    ("1.2", "1-based", lambda f: _strongest(f) + 1, ["start at 1"]),
    ("1.2", "float positions", lambda f: _strongest(f).astype(np.float64), ["return integers"]),
    # 2.1 ---------------------------------------------------------------------------------
    ("2.1", "always the sum", lambda f, reduce="mean": f.sum(axis=(2, 3)),
     ['reduce="mean" you returned the sum', "Z = H·W = 20 times too large"]),
    ("2.1", "always the mean", lambda f, reduce="mean": f.mean(axis=(2, 3)),
     ['reduce="sum" you returned the mean', "too small"]),
    ("2.1", "modes swapped", lambda f, reduce="mean": _gap(f, "sum" if reduce == "mean"
                                                            else "mean"),
     ["two cases swapped"]),
    ("2.1", "wrong axes", lambda f, reduce="mean": f.mean(axis=(1, 2)),
     ["shape (2, 5), expected (2, 3)"]),
    ("2.1", "one axis", lambda f, reduce="mean": f.mean(axis=3), ["shape (2, 3, 4)"]),
    ("2.1", "divide by H", lambda f, reduce="mean": f.sum(axis=(2, 3)) / (
        f.shape[2] if reduce == "mean" else 1), ["divided by H = 4 only"]),
    ("2.1", "keepdims", lambda f, reduce="mean": _gap(f, reduce)[..., None, None],
     ["axis of length 1 is extra"]),
    ("2.1", "max", lambda f, reduce="mean": f.max(axis=(2, 3)), ["that is GMP"]),
    ("2.1", "divide by K·H·W", lambda f, reduce="mean": _gap(f, reduce) / (
        f.shape[1] if reduce == "mean" else 1), ["divided by the K"]),
    ("2.1", "|f| pooled", lambda f, reduce="mean": _gap(np.abs(f), reduce), ["|f_k|"]),
    ("2.1", "ReLU first", lambda f, reduce="mean": _gap(np.maximum(f, 0), reduce), ["ReLU"]),
    # 2.2 ---------------------------------------------------------------------------------
    ("2.2", "no biases", lambda k, h, w, c: (k * h * w * c, k * c), ["missing the C biases"]),
    ("2.2", "flatten head no bias", lambda k, h, w, c: (k * h * w * c, k * c + c),
     ["flatten head is missing its C biases"]),
    ("2.2", "order", lambda k, h, w, c: (k * c + c, k * h * w * c + c), ["wrong order"]),
    ("2.2", "H·H", lambda k, h, w, c: (k * h * h * c + c, k * c + c), ["H·H"]),
    ("2.2", "no channels", lambda k, h, w, c: (h * w * c + c, k * c + c),
     ["forgot the channels"]),
    ("2.2", "no classes", lambda k, h, w, c: (k * h * w + c, k * c + c),
     ["one weight per input only"]),
    ("2.2", "one number", lambda k, h, w, c: k * c, ["should return two values"]),
    ("2.2", "GAP head on K·H·W", lambda k, h, w, c: (k * h * w * c + c, k * h * w * c + c),
     ["K pooled features"]),
    ("2.2", "bias per input", lambda k, h, w, c: (k * h * w * c + k * h * w, k * c + k),
     ["one bias per output"]),
    ("2.2", "hidden layer of 64", lambda k, h, w, c: (k * h * w * 64 + 64 + 64 * c + c,
                                                      k * c + c), ["hidden layer"]),
    # 2.3 ---------------------------------------------------------------------------------
    ("2.3", "mean", lambda f: f.mean(axis=(2, 3)), ["that is GAP"]),
    ("2.3", "max |f|", lambda f: np.abs(f).max(axis=(2, 3)), ["|f_k|"]),
    ("2.3", "min", lambda f: f.min(axis=(2, 3)), ["took the minimum"]),
    ("2.3", "ReLU first", lambda f: np.maximum(f, 0).max(axis=(2, 3)), ["ReLU"]),
    ("2.3", "one axis", lambda f: f.max(axis=3), ["shape (2, 3, 4)"]),
    # 3.1 ---------------------------------------------------------------------------------
    ("3.1", "no bias", lambda p, w, b: p @ w.T, ["missing the bias b_c"]),
    ("3.1", "bias twice", lambda p, w, b: p @ w.T + 2 * b, ["b_c twice"]),
    ("3.1", "bias subtracted", lambda p, w, b: p @ w.T - b, ["subtracted the bias"]),
    ("3.1", "weight not transposed", lambda p, w, b: p @ w + b, ["instead of weight.T"]),
    ("3.1", "bias per image", lambda p, w, b: p @ w.T + b[:, None] if len(p) == len(b)
     else p @ w.T + b, ["b_n to every score of image n"]),
    ("3.1", "softmax applied", lambda p, w, b: reference.softmax(p @ w.T + b),
     ["returned probabilities"]),
    ("3.1", "another class's weights", lambda p, w, b: p @ np.roll(w, -1, axis=0).T + b,
     ["(c + 1) mod C"]),
    ("3.1", "the argmax", lambda p, w, b: (p @ w.T + b).argmax(1), ["one number per image"]),
    # 3.2 ---------------------------------------------------------------------------------
    ("3.2", "row minimum", _min_softmax, ["subtracted each row's minimum"]),
    ("3.2", "naive", _naive_softmax, ["near ±800", "overflows"]),
    ("3.2", "batch maximum", _batch_max_softmax, ["maximum taken over the images"]),
    ("3.2", "over the images", lambda s: np.exp(s - s.max(0)) / np.exp(s - s.max(0)).sum(0),
     ["over the images"]),
    ("3.2", "no division", lambda s: np.exp(s - s.max(1, keepdims=True)),
     ["without dividing"]),
    ("3.2", "log-softmax", lambda s: np.log(_softmax(s)), ["log-probabilities"]),
    ("3.2", "divided by the batch's sum", lambda s: np.exp(s - s.max(1, keepdims=True)) / (
        np.exp(s - s.max(1, keepdims=True)).sum()), ["rows don't sum to 1", "whole batch"]),
    ("3.2", "in place", _in_place_softmax, ["in place"]),
    ("3.2", "identity", lambda s: s.copy(), ["scores unchanged"]),
    # 4.1 ---------------------------------------------------------------------------------
    ("4.1", "ReLU", lambda f, w: np.maximum(np.einsum("ck,nkhw->nchw", w, f), 0), ["ReLU"]),
    ("4.1", "abs", lambda f, w: np.abs(np.einsum("ck,nkhw->nchw", w, f)),
     ["absolute value"]),
    ("4.1", "divided by Z", lambda f, w: np.einsum("ck,nkhw->nchw", w, f) / (
        f.shape[2] * f.shape[3]), ["Z = H·W = 21 times too small"]),
    ("4.1", "H and W swapped", lambda f, w: np.einsum("ck,nkhw->ncwh", w, f),
     ["axes are in the wrong order", "(N, C, W, H)"]),
    ("4.1", "channels last", lambda f, w: np.einsum("ck,nkhw->nhwc", w, f),
     ["axes are in the wrong order"]),
    ("4.1", "weight transposed", lambda f, w: np.einsum("kc,nkhw->nchw", w, f)
     if w.shape[0] == w.shape[1] else np.einsum("ck,nkhw->nchw", w, f),
     ["weight transposed"]),
    ("4.1", "normalized", lambda f, w: reference.normalize(np.einsum("ck,nkhw->nchw", w, f)),
     ["min-max normalized"]),
    ("4.1", "normalized over the batch", lambda f, w: (lambda m: (m - m.min()) / (
        m.max() - m.min()))(np.einsum("ck,nkhw->nchw", w, f)), ["the whole batch"]),
    ("4.1", "softmax over classes",
     lambda f, w: torch.softmax(torch.as_tensor(np.einsum("ck,nkhw->nchw", w, f)), 1),
     ["softmax over the classes"]),
    # 4.2 ---------------------------------------------------------------------------------
    ("4.2", "1/Z missing (always sum)", lambda m, b, reduce="mean": m.sum(axis=(2, 3)) + b,
     ['reduce="mean": 1/Z is missing']),
    ("4.2", "1/Z extra (always mean)", lambda m, b, reduce="mean": m.mean(axis=(2, 3)) + b,
     ['reduce="sum": there is no 1/Z']),
    ("4.2", "b_c inside the 1/Z", lambda m, b, reduce="mean": (m.sum(axis=(2, 3)) + b) / (
        m.shape[2] * m.shape[3] if reduce == "mean" else 1), ["b_c is misplaced, divided by Z"]),
    ("4.2", "b_c missing", lambda m, b, reduce="mean": _scores_from_maps(m, 0 * b, reduce),
     ['reduce="mean": b_c is missing']),
    ("4.2", "b_c at every position", lambda m, b, reduce="mean": (
        (m + b[:, None, None]).mean(axis=(2, 3)) if reduce == "mean"
        else (m + b[:, None, None]).sum(axis=(2, 3))), ["added at every position"]),
    ("4.2", "b_c times Z", lambda m, b, reduce="mean": _scores_from_maps(m, b, reduce) + (
        (m.shape[2] * m.shape[3] - 1) * b if reduce == "mean" else 0),
     ["b_c is multiplied by Z"]),
    ("4.2", "divide by H", lambda m, b, reduce="mean": m.sum(axis=(2, 3)) / (
        m.shape[2] if reduce == "mean" else 1) + b, ["divided by H = 4 only"]),
    ("4.2", "divide by H²", lambda m, b, reduce="mean": m.sum(axis=(2, 3)) / (
        m.shape[2] ** 2 if reduce == "mean" else 1) + b, ["H² = 16", "Z = H·W = 4·6 = 24"]),
    ("4.2", "sum: b_c divided by Z", lambda m, b, reduce="mean": _scores_from_maps(m, b, reduce)
     if reduce == "mean" else m.sum(axis=(2, 3)) + b / (m.shape[2] * m.shape[3]),
     ['reduce="sum": b_c is divided by Z']),
    # 4.3 ---------------------------------------------------------------------------------
    ("4.3", "argmin", _predicted_with(choose=lambda f, w, b, s: s.argmin(1)),
     ["argmax, not argmin"]),
    ("4.3", "class 0", _predicted_with(choose=lambda f, w, b, s: np.zeros(len(s), int)),
     ["class 0 for every image"]),
    ("4.3", "no bias", _predicted_with(
        choose=lambda f, w, b, s: (f.mean(axis=(2, 3)) @ w.T).argmax(1)),
     ["without the bias b_c"]),
    ("4.3", "summed scores", _predicted_with(
        choose=lambda f, w, b, s: (f.sum(axis=(2, 3)) @ w.T + b).argmax(1)),
     ["sum pooling"]),
    ("4.3", "ReLU on the map", _predicted_with(transform=lambda m, b: np.maximum(m, 0)),
     ["ReLU to the map"]),
    ("4.3", "bias on the map", _predicted_with(transform=lambda m, b: m + b[:, None, None]),
     ["added b_c to every position"]),
    ("4.3", "normalized map", _predicted_with(transform=lambda m, b: reference.normalize(m)),
     ["min-max normalized"]),
    ("4.3", "every class's map", lambda f, w, b: np.einsum("ck,nkhw->nchw", w, f),
     ["every class's map"]),
    ("4.3", "class of the highest peak", _predicted_with(
        choose=lambda f, w, b, s: np.einsum("ck,nkhw->nchw", w, f).max(axis=(2, 3)).argmax(1)),
     ["highest peak"]),
    ("4.3", "averaged map", _predicted_with(transform=lambda m, b: m / (m.shape[1] * m.shape[2])),
     ["times too small"]),
    # 5.1 ---------------------------------------------------------------------------------
    ("5.1", "align_corners=True", _up(dict(mode="bilinear", align_corners=True)),
     ["align_corners=True"]),
    ("5.1", "nearest", _up(dict(mode="nearest")), ["nearest"]),
    ("5.1", "bicubic", _up(dict(mode="bicubic", align_corners=False)), ["bicubic"]),
    ("5.1", "height and width swapped", _up_swapped, ["height and width are swapped"]),
    ("5.1", "ReLU", lambda m, s: np.maximum(_upsample(m, s), 0), ["ReLU"]),
    ("5.1", "normalized", lambda m, s: _normalize(_upsample(m, s)), ["normalized the maps"]),
    ("5.1", "channel axis kept", lambda m, s: _upsample(m, s)[:, None],
     ["channel axis"]),
    ("5.1", "square only", lambda m, s: _upsample(m, s if isinstance(s, int) else s[0]),
     ["has length"]),
    # 5.2 ---------------------------------------------------------------------------------
    ("5.2", "NaN on a constant map", _normalize_unguarded, ["became NaN or inf"]),
    ("5.2", "zeros for a constant positive map", _normalize_constant_to_zeros,
     ["constant and positive", "all ones"]),
    ("5.2", "one scale for the batch", _normalize_global, ["each map over its own"]),
    ("5.2", "mode ignored", lambda maps, mode="minmax": _normalize(maps),
     ['mode="max" asks for M / max M']),
    ("5.2", "modes swapped", lambda maps, mode="minmax": _normalize(
        maps, "max" if mode == "minmax" else "minmax"), ['mode="minmax" asks for']),
    ("5.2", "divide by max |M|", _normalize_by_abs, ["largest |M|"]),
    ("5.2", "divide by a negative max", _normalize_by_signed_max,
     ["divided by a negative maximum"]),
    ("5.2", "(M - min) / max", lambda maps, mode="minmax": _normalize(maps, mode)
     if mode == "max" else (maps - maps.min(axis=(1, 2), keepdims=True)) / np.where(
         maps.max(axis=(1, 2), keepdims=True) != 0, maps.max(axis=(1, 2), keepdims=True), 1),
     ["(M - min) / max"]),
    ("5.2", "per row", _normalize_rows, ["each row on its own"]),
    ("5.2", "ReLU first", lambda maps, mode="minmax": _normalize(np.maximum(maps, 0), mode),
     ["ReLU"]),
    # 5.3 ---------------------------------------------------------------------------------
    ("5.3", "strict >", lambda cam, fraction: cam > fraction * cam.max(), ["you used >"]),
    ("5.3", "min-max map", lambda cam, fraction: reference.normalize(cam) >= fraction,
     ["min-max normalized map"]),
    ("5.3", "fraction of max |M|", lambda cam, fraction: cam >= fraction * np.abs(cam).max(),
     ["max |M|"]),
    ("5.3", "below", lambda cam, fraction: cam < fraction * cam.max(), ["below the threshold"]),
    ("5.3", "the fraction itself", lambda cam, fraction: cam >= fraction,
     ["fraction itself"]),
    ("5.3", "divide by the max first", lambda cam, fraction: cam / cam.max() >= fraction,
     ["keeps every pixel", "division by max M before comparing"]),
    ("5.3", "a ReLU first", lambda cam, fraction: np.maximum(cam, 0) >= fraction * np.maximum(
        cam, 0).max(), ["keeps every pixel", "a ReLU first"]),
    ("5.3", "empty when max < 0", lambda cam, fraction: cam >= fraction * cam.max(),
     ["mask is empty"]),
    ("5.3", "0/1 floats", lambda cam, fraction: _mask(cam, fraction).astype(float),
     ["return a boolean array"]),
    # 5.4 ---------------------------------------------------------------------------------
    ("5.4", "normalize before upsampling", _pipeline_with(
        heat=lambda cam, size, big: reference.upsample(reference.normalize(cam), size)),
     ["heat map: you normalized before upsampling"]),
    ("5.4", "ReLU before upsampling", _pipeline_with(
        heat=lambda cam, size, big: reference.normalize(reference.upsample(np.maximum(cam, 0),
                                                                           size))),
     ["heat map: you applied a ReLU before upsampling"]),
    ("5.4", "heat not normalized", _pipeline_with(heat=lambda cam, size, big: big),
     ["heat map: it is not normalized"]),
    ("5.4", "heat divided by max", _pipeline_with(
        heat=lambda cam, size, big: reference.normalize(big, "max")), ["mode \"max\""]),
    ("5.4", "nearest", _pipeline_with(heat=lambda cam, size, big: reference.normalize(
        _up(dict(mode="nearest"))(cam[None], size)[0])), ["nearest-neighbour"]),
    ("5.4", "threshold before upsampling", _pipeline_with(mask=_coarse_mask_then_resize),
     ["mask: you thresholded the coarse map and then resized"]),
    ("5.4", "threshold the heat map", _pipeline_with(
        mask=lambda cam, size, big, f: reference.normalize(big) >= f),
     ["mask: you thresholded the min-max heat map"]),
    ("5.4", "fraction of max |M|", _pipeline_with(
        mask=lambda cam, size, big, f: big >= f * np.abs(big).max()), ["max |M|"]),
    ("5.4", "box before upsampling", _pipeline_with(box=_coarse_box_scaled),
     ["box: you boxed the coarse map and scaled"]),
    ("5.4", "box of every pixel", _pipeline_with(box=_all_pixels_box),
     ["largest connected component"]),
    ("5.4", "inclusive box", _pipeline_with(
        box=lambda cam, size, big, f: tuple(np.array(_largest_box(big, f)) - [0, 0, 1, 1])),
     ["inclusive"]),
    ("5.4", "(y, x) box", _pipeline_with(
        box=lambda cam, size, big, f: tuple(np.array(_largest_box(big, f))[[1, 0, 3, 2]])),
     ["x and y are swapped"]),
    ("5.4", "height and width swapped", lambda cam, size, fraction=0.2: _pipeline(
        cam, (size[1], size[0]), fraction), ["shape"]),
    ("5.4", "two outputs", lambda cam, size, fraction=0.2: _pipeline(cam, size, fraction)[:2],
     ["return three things"]),
    # fourth reading: a map with no positive value ----------------------------------------
    ("5.4", "ReLU of the upsampled map before the mask", _pipeline_with(
        mask=lambda cam, size, big, f: np.maximum(big, 0) >= f * np.maximum(big, 0).max()),
     ["keeps every pixel", "exercise 5.3's rule"]),
    ("5.4", "threshold at max(max M, 0)", _pipeline_with(
        mask=lambda cam, size, big, f: big >= f * max(big.max(), 0)),
     ["mask is empty", "exercise 5.3's rule"]),
    # batch of one, ties at a negative max, long-double exp ------------------------------
    ("2.1", "squeezed (a batch of one loses its axis)", lambda features, reduce="mean": (
        features.mean(axis=(2, 3), keepdims=True) if reduce == "mean"
        else features.sum(axis=(2, 3), keepdims=True)).squeeze(), [".squeeze()", "missing"]),
    ("3.1", "squeezed (a batch of one loses its axis)", lambda pooled, weight, bias: (
        pooled @ weight.T + bias).squeeze(), [".squeeze()", "missing"]),
    ("3.2", "naive exp in long double", _softmax_long_double,
     ["overflows", "even in long double"]),
    ("4.2", "squeezed (a batch of one loses its axis)", lambda maps, bias, reduce="mean": (
        (maps.mean(axis=(2, 3)) if reduce == "mean" else maps.sum(axis=(2, 3))) + bias
    ).squeeze(), [".squeeze()", "missing"]),
    ("4.3", "squeezed (a batch of one loses its axis)", lambda features, weight, bias: np.einsum(
        "nk,nkhw->nhw", weight[(features.mean(axis=(2, 3)) @ weight.T + bias).argmax(axis=1)],
        features).squeeze(), ["a batch of one image", "keep the batch axis"]),
    ("5.4", "align_corners=True", _pipeline_with(
        heat=lambda cam, size, big: reference.normalize(F.interpolate(
            torch.as_tensor(cam)[None, None], size=tuple(size), mode="bilinear",
            align_corners=True)[0, 0].numpy(), "minmax")), ["align_corners=True"]),
    ("5.3", "only the argmax pixel when no value is positive", _mask_one_pixel_at_a_negative_max,
     ["every pixel equal to the max", "np.argmax"]),
    ("5.2", "divided by the batch's max", lambda maps, mode="minmax": reference.normalize(
        maps, "minmax") if mode == "minmax" else maps / maps.max(),
     ["largest value of the whole batch"]),
    ("5.1", "squeezed (a batch of one map loses its axis)", lambda maps, size: F.interpolate(
        torch.as_tensor(maps)[:, None], size=size, mode="bilinear").squeeze().numpy(),
     [".squeeze()", "missing"]),
    ("5.2", "squeezed (a batch of one map loses its axis)", lambda maps, mode="minmax":
     reference.normalize(maps, mode).squeeze(), [".squeeze()", "missing"]),
    ("4.1", "float16 maps", lambda features, weight: np.einsum(
        "ck,nkhw->nchw", weight, features).astype(np.float16), ["float16", "float32"]),
    ("1.1", "every hook on the layer cleared", _capture_clearing_every_hook,
     ["removed a hook it had not registered", "handle.remove()"]),
    ("1.1", "the output kept in the layer", _capture_into_the_layer,
     ["new attribute", "model[3].stored"]),
    ("0.1", "nested lists", lambda images: (images / 255.0).tolist(), ["nested lists"]),
    ("1.1", "gradients turned off for good", _capture_grad_off_for_good,
     ["turned gradients off", "with torch.no_grad()"]),
    ("1.1", "the model's parameters frozen", _capture_freezing_the_model,
     ["no longer requires grad", "requires_grad_(False)"]),
    ("5.4", "box clipped to width - 1 and height - 1", _pipeline_with(
        box=lambda cam, size, big, f: (lambda b: (b[0], b[1], min(b[2], size[1] - 1),
                                                  min(b[3], size[0] - 1)))(
            reference.bounding_box(big, f))), ["clipped to width − 1 and height − 1"]),
    ("5.4", "the first component's box", _pipeline_with(box=_first_component_box),
     ["first component (label 1", "the most pixels"]),
]


@pytest.mark.parametrize("exercise", sorted(RIGHT, key=lambda e: tuple(map(int, e.split(".")))))
def test_right_answers_pass_visible_and_hidden(exercise):
    for fn in RIGHT[exercise]:
        assert_passes_visible_and_hidden(exercise, fn)


def assert_passes_visible_and_hidden(exercise, fn):
    """A right answer passes the notebook's inputs and every hidden seed."""
    assert get_check(exercise)(fn, verbose=False).passed
    for seed in HIDDEN_SEEDS:
        result = get_check(exercise)(fn, verbose=False, raise_on_fail=False, hidden_seed=seed)
        assert result.passed, result.message


def test_no_message_repeats_what_it_names():
    # "..., the heat map: heat map: ..." read twice; the label already names the part.
    import re

    for exercise, _, fn, _ in WRONG:
        result = get_check(exercise)(fn, verbose=False, raise_on_fail=False)
        assert not re.search(r"\b(\w+(?: \w+)?): \1:", result.message), result.message
        assert "heat map: heat map" not in result.message


def test_every_exercise_has_three_wrong_answers():
    counts = Counter(entry[0] for entry in WRONG)
    assert set(counts) == set(RIGHT)
    assert min(counts.values()) >= 3, counts
