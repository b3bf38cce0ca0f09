"""A table of bad inputs for camlib's public functions and commands, and how each is met.

Every case calls one public function (or runs one command in-process) with one bad
argument and says which exception it expects and which argument the message must name.
The outcome of a case is one of

- ``clear``: the expected exception type, and the message names the argument;
- ``internal``: any other exception, or the right type with a message that does not name
  the argument (a raw NumPy/Torch error, an IndexError, a command's traceback);
- ``silent``: a value came back (or a command went on to work) although the input was
  meaningless.

``tests/test_errors.py`` asserts that every case is ``clear``. Run this file to count the
outcomes per module::

    PYTHONPATH=. python tests/bad_inputs.py            # this checkout
    PYTHONPATH=/path/to/other/checkout python tests/bad_inputs.py

Empty batches (N = 0) are not bad input: the batched functions return empty results,
which ``tests/test_errors.py`` checks separately.
"""

from __future__ import annotations

import contextlib
import io
import math
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np
import torch

import camlib.reference as ref
import camlib.torch as ct
from camcourse.models import GAPNet
from camlib import localize, sweep
from camlib.extract import CAMExtractor, GradCAMExtractor

NAN, INF = math.nan, math.inf


@dataclass
class Case:
    module: str  # the module (or command) the public function belongs to
    label: str  # what is wrong, in a few words
    call: Callable[[], object]
    names: str  # the argument the message must name
    errors: tuple[type[BaseException], ...] = (ValueError, TypeError)

    @property
    def id(self) -> str:
        return f"{self.module}: {self.label}"


class _Accepted(Exception):
    """Raised by a stand-in for a command's real work: the command accepted its arguments."""


def run_case(case: Case) -> tuple[str, str]:
    """(outcome, detail) of one case."""
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            result = case.call()
    except _Accepted:
        return "silent", "the command went on with the bad argument"
    except SystemExit as exc:
        text = stderr.getvalue()
        lines = [line for line in text.splitlines() if line.strip()]
        usage = any(line.startswith("usage:") for line in lines)
        if exc.code not in (0, None) and usage and case.names in text and "Traceback" not in text:
            return "clear", lines[-1]
        return ("silent" if exc.code in (0, None) else "internal"), f"exit {exc.code}: {text}"
    except case.errors as exc:
        message = str(exc)
        if case.names in message:
            return "clear", f"{type(exc).__name__}: {message}"
        return "internal", f"{type(exc).__name__} not naming {case.names!r}: {message}"
    except Exception as exc:  # noqa: BLE001 - every other exception is the finding
        return "internal", f"{type(exc).__name__}: {exc}"
    return "silent", f"returned {type(result).__name__}"


# --- generic bad values for an array argument --------------------------------------------


def _with(value: np.ndarray, x: float) -> np.ndarray:
    out = value.astype(np.float64).copy()
    out.flat[0] = x
    return out


def _array_cases(module: str, function: str, call: Callable[[object], object], good: np.ndarray,
                 name: str, convert: Callable[[np.ndarray], object], zero_axes: tuple[int, ...],
                 ragged: bool = False, ranks: bool = True) -> list[Case]:
    """Bad values for one array argument: ``call(value)`` runs the function with it."""

    def case(label, value, errors=(ValueError, TypeError)):
        return Case(module, f"{function}: {name} {label}", lambda v=value: call(v), name, errors)

    bad = [
        case("None", None),
        case("a string", "features"),
        case("NaN", convert(_with(good, NAN))),
        case("inf", convert(_with(good, INF))),
        case("bool dtype", convert(good > 0)),
        case("complex dtype", convert(good.astype(np.complex128))),
    ]
    if ranks:
        bad += [case("one dimension too few", convert(good[0])),
                case("one dimension too many", convert(good[None]))]
    else:  # any number of leading axes is accepted: one axis only is too few
        bad.append(case("1-D", convert(good.ravel())))
    for axis in zero_axes:
        shape = list(good.shape)
        shape[axis] = 0
        bad.append(case(f"size 0 along axis {axis}", convert(np.zeros(shape))))
    if ragged:
        bad.append(case("a ragged list", [[1.0, 2.0], [3.0]]))
    return bad


def _t(x: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x)) if np.asarray(x).dtype != np.float64 else \
        torch.as_tensor(np.asarray(x, dtype=np.float32))


def _a(x: np.ndarray) -> np.ndarray:
    return np.asarray(x)


FEATURES = np.arange(2 * 3 * 4 * 4, dtype=np.float64).reshape(2, 3, 4, 4) / 10
WEIGHT = np.linspace(-1, 1, 15).reshape(5, 3)
POOLED = FEATURES.mean(axis=(2, 3))
MAPS = FEATURES[:, 0]
BOX = np.array([0.0, 0.0, 2.0, 2.0])


# --- the two backends of the equations -----------------------------------------------------


def _backend_cases(lib, module: str, conv) -> list[Case]:
    f, w, p, m = conv(FEATURES), conv(WEIGHT), conv(POOLED), conv(MAPS)
    ragged = lib is ref
    cases: list[Case] = []
    cases += _array_cases(module, "global_average_pool", lib.global_average_pool, FEATURES,
                          "features", conv, (1, 2, 3), ragged)
    cases += _array_cases(module, "global_max_pool", lib.global_max_pool, FEATURES,
                          "features", conv, (1, 2, 3), ragged)
    cases += _array_cases(module, "class_scores", lambda v: lib.class_scores(v, w), POOLED,
                          "pooled", conv, (1,))
    cases += _array_cases(module, "class_scores", lambda v: lib.class_scores(p, v), WEIGHT,
                          "weight", conv, (0, 1))
    cases += _array_cases(module, "class_scores",
                          lambda v: lib.class_scores(p, w, v), WEIGHT[:, 0], "bias", conv, ())
    cases = [x for x in cases if x.label != "class_scores: bias None"]  # None: no bias
    cases += _array_cases(module, "softmax", lib.softmax, POOLED, "scores", conv, (1,), ragged)
    cases += _array_cases(module, "class_activation_maps",
                          lambda v: lib.class_activation_maps(v, w), FEATURES, "features", conv,
                          (1, 2, 3), ragged)
    cases += _array_cases(module, "class_activation_maps",
                          lambda v: lib.class_activation_maps(f, v), WEIGHT, "weight", conv,
                          (0, 1))
    cases += _array_cases(module, "upsample", lambda v: lib.upsample(v, 8), MAPS, "maps", conv,
                          (1, 2), ragged, ranks=False)
    cases += _array_cases(module, "normalize", lib.normalize, MAPS, "maps", conv, (1, 2), ragged,
                          ranks=False)

    def c(label, call, names, errors=(ValueError, TypeError)):
        return Case(module, label, call, names, errors)

    cases += [
        c("global_average_pool: reduce 'median'", lambda: lib.global_average_pool(f, "median"),
          "reduce"),
        c("class_scores: weight with the wrong K", lambda: lib.class_scores(p, conv(WEIGHT.T)),
          "weight"),
        c("class_scores: bias of the wrong length", lambda: lib.class_scores(p, w, conv(BOX)),
          "bias"),
        c("class_activation_maps: weight with the wrong K",
          lambda: lib.class_activation_maps(f, conv(WEIGHT.T)), "weight"),
        c("normalize: mode 'bogus'", lambda: lib.normalize(m, "bogus"), "mode"),
    ]
    for label, classes in [("-1", -1), ("= C", 5), ("1.0", 1.0), ("True", True),
                           ("of the wrong length", [0, 1, 2]), ("2-D", [[0], [1]]),
                           ("a string", "0"), ("NaN", NAN), ("None in a list", [0, None])]:
        cases.append(c(f"class_activation_maps: classes {label}",
                       lambda v=classes: lib.class_activation_maps(f, w, v), "classes"))
    for label, size in [("True", True), ("0", 0), ("-1", -1), ("2.5", 2.5), ("'4'", "4"),
                        ("None", None), ("(2,)", (2,)), ("(2, 2, 2)", (2, 2, 2)),
                        ("(True, 4)", (True, 4)), ("(4, 0)", (4, 0)), ("NaN", NAN)]:
        cases.append(c(f"upsample: size {label}", lambda v=size: lib.upsample(m, v), "size"))
    # The torch box functions are counted apart: their checks live with their rewrite.
    boxes = module if lib is ref else f"{module} (boxes)"

    def c(label, call, names, errors=(ValueError, TypeError)):  # noqa: F811
        return Case(boxes, label, call, names, errors)

    cam = conv(MAPS[0])
    for label, threshold in [("-1", -1), ("-0.1", -0.1), ("1.5", 1.5), ("NaN", NAN),
                             ("'0.2'", "0.2"), ("True", True), ("None", None)]:
        cases.append(c(f"bounding_box: threshold {label}",
                       lambda v=threshold: lib.bounding_box(cam, v), "threshold"))
    for label, connectivity in [("6", 6), ("None", None), ("'8'", "8")]:
        cases.append(c(f"bounding_box: connectivity {label}",
                       lambda v=connectivity: lib.bounding_box(cam, 0.2, v), "connectivity"))
    cases += _array_cases(boxes, "bounding_box", lambda v: lib.bounding_box(v), MAPS[0],
                          "cams" if lib is ct else "cam", conv, (0, 1), ranks=lib is ref)
    mask = conv(np.array([[1, 0], [0, 1]]) > 0)
    cases += [
        c("connected_components: mask of floats",
          lambda: lib.connected_components(conv(np.ones((2, 2))), 8), "mask"),
        c("connected_components: mask 4-D",
          lambda: lib.connected_components(conv(np.ones((1, 1, 2, 2)) > 0), 8), "mask"),
        c("connected_components: connectivity 6", lambda: lib.connected_components(mask, 6),
          "connectivity"),
        c("connected_components: mask None", lambda: lib.connected_components(None, 8), "mask"),
    ]
    labels = conv(np.array([[1, 0], [0, 2]]))
    counts = [("-1", -1), ("1.5", 1.5), ("True", True), ("'2'", "2"), ("None", None)]
    if lib is ref:  # a batch of label maps boxes a missing component as (0, 0, 0, 0)
        counts.append(("more than the labels", 3))
    for label, count in counts:
        cases.append(c(f"component_boxes: count {label}",
                       lambda v=count: lib.component_boxes(labels, v), "count"))
    cases += [
        c("component_boxes: labels of floats",
          lambda: lib.component_boxes(conv(np.ones((2, 2)) * 1.0), 1), "labels"),
        c("component_boxes: negative labels",
          lambda: lib.component_boxes(conv(np.array([[-1, 0], [0, 1]])), 1), "labels"),
        c("component_boxes: labels 4-D",
          lambda: lib.component_boxes(conv(np.ones((1, 1, 2, 2), np.int64)), 1), "labels"),
        c("component_boxes: labels 0×0 (no component to box)",
          lambda: lib.component_boxes(conv(np.zeros((0, 0), np.int64)), 1), "labels"),
    ]

    def c(label, call, names, errors=(ValueError, TypeError)):  # noqa: F811
        return Case(module, label, call, names, errors)

    box_a, box_b = ("box_a", "box_b") if lib is ref else ("boxes_a", "boxes_b")
    good = conv(BOX)
    for label, value in [("3 numbers", np.array([0.0, 0, 2])), ("NaN", _with(BOX, NAN)),
                         ("inf", np.array([0.0, 0, INF, 2])),
                         ("inverted", np.array([2.0, 0, 0, 2])),
                         ("bool", BOX > 0), ("complex", BOX.astype(np.complex64)),
                         ("5 numbers", np.zeros(5))]:
        cases.append(c(f"iou: {box_a} {label}", lambda v=value: lib.iou(conv(v), good), box_a))
        cases.append(c(f"iou: {box_b} {label}", lambda v=value: lib.iou(good, conv(v)), box_b))
    cases.append(c(f"iou: {box_a} None", lambda: lib.iou(None, good), box_a))
    cases.append(c(f"iou: {box_a} a string", lambda: lib.iou("0 0 2 2", good), box_a))
    if lib is ct:
        cases.append(c("iou: boxes_a and boxes_b of different shapes",
                       lambda: ct.iou(torch.zeros(2, 4), torch.zeros(3, 4)), "boxes_b"))
    return cases


# --- localize ------------------------------------------------------------------------------


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return GAPNet(channels=(4, 8, 8)).eval()


MODEL = _model()
IMAGES = torch.rand(2, 3, 16, 16)


def _localize_cases() -> list[Case]:
    module = "localize"

    def c(label, call, names, errors=(ValueError, TypeError)):
        return Case(module, label, call, names, errors)

    cases: list[Case] = []
    for fn in ("cam_maps", "saliency_maps"):
        function = getattr(localize, fn)
        for label, images in [("None", None), ("an ndarray", IMAGES.numpy()),
                              ("3-D", IMAGES[0]), ("1 channel", IMAGES[:, :1]),
                              ("uint8", (IMAGES * 255).to(torch.uint8)),
                              ("NaN", torch.where(IMAGES > 0.5, NAN, IMAGES)),
                              ("one inf pixel", IMAGES.clone().index_put_(
                                  (torch.tensor(0), torch.tensor(0), torch.tensor(3),
                                   torch.tensor(3)), torch.tensor(INF))),
                              ("size 0", torch.zeros(2, 3, 0, 0)),
                              ("1×1", torch.rand(2, 3, 1, 1)),
                              ("bool", IMAGES > 0.5)]:
            cases.append(c(f"{fn}: images {label}",
                           lambda f=function, v=images: f(MODEL, v), "images"))
        for label, classes in [("-1", -1), ("= C", 10), ("1.0", 1.0), ("True", True),
                               ("of the wrong length", [0, 1, 2]), ("a string", "3"),
                               ("a float tensor", torch.tensor([0.0, 1.0]))]:
            cases.append(c(f"{fn}: classes {label}",
                           lambda f=function, v=classes: f(MODEL, IMAGES, v), "classes"))
        for label, model in [("None", None), ("a function", lambda x: x)]:
            cases.append(c(f"{fn}: model {label}",
                           lambda f=function, v=model: f(v, IMAGES), "model"))

    pred = torch.tensor([[0, 0, 2, 2], [0, 0, 2, 2]])
    gt = torch.tensor([[0, 0, 2, 2], [1, 0, 3, 2]])
    acc = localize.localization_accuracy
    for label, value in [("1.5", 1.5), ("NaN", NAN), ("-0.1", -0.1), ("'0.5'", "0.5"),
                         ("True", True), ("None", None)]:
        cases.append(c(f"localization_accuracy: iou_threshold {label}",
                       lambda v=value: acc(pred, gt, iou_threshold=v), "iou_threshold"))
    for label, value in [("of length 1", torch.tensor([True])),
                         ("of length 3", torch.tensor([True, False, True])),
                         ("of floats", torch.tensor([0.5, 1.0])), ("a list", [True, False]),
                         ("2-D", torch.tensor([[True, False]]))]:
        cases.append(c(f"localization_accuracy: correct {label}",
                       lambda v=value: acc(pred, gt, v), "correct"))
    for label, value in [("(N, 3)", gt[:, :3]), ("with an extra row", torch.cat([gt, gt[:1]])),
                         ("a list", gt.tolist()), ("an ndarray", gt.numpy()),
                         ("NaN", gt.float().index_put_((torch.tensor(0), torch.tensor(0)),
                                                       torch.tensor(NAN))),
                         ("inverted", gt[:, [2, 1, 0, 3]])]:
        cases.append(c(f"localization_accuracy: gt_boxes {label}",
                       lambda v=value: acc(pred, v), "gt_boxes"))
    for label, value in [("(N, 3)", pred[:, :3]), ("a list", pred.tolist()),
                         ("inf", pred.float().index_put_((torch.tensor(0), torch.tensor(2)),
                                                         torch.tensor(INF))),
                         ("bool", pred > 0)]:
        cases.append(c(f"localization_accuracy: pred_boxes {label}",
                       lambda v=value: acc(v, gt), "pred_boxes"))

    for label, boxes in [("(N, 3)", pred[:, :3]), ("a list", pred.tolist()),
                         ("NaN", pred.float().index_put_((torch.tensor(0), torch.tensor(0)),
                                                         torch.tensor(NAN)))]:
        cases.append(c(f"box_maps: boxes {label}",
                       lambda v=boxes: localize.box_maps(v, 4), "boxes"))
    for label, size in [("0", 0), ("-1", -1), ("True", True), ("(2,)", (2,)), ("2.5", 2.5)]:
        cases.append(c(f"box_maps: size {label}",
                       lambda v=size: localize.box_maps(pred, v), "size"))
    for label, n in [("-1", -1), ("1.5", 1.5), ("True", True)]:
        cases.append(c(f"full_image_box: n {label}", lambda v=n: localize.full_image_box(v, 8),
                       "n"))
        cases.append(c(f"centred_box: n {label}",
                       lambda v=n: localize.centred_box(v, 8, (2, 2)), "n"))
    for label, size in [("0", 0), ("-1", -1), ("2.5", 2.5)]:
        cases.append(c(f"full_image_box: size {label}",
                       lambda v=size: localize.full_image_box(2, v), "size"))
        cases.append(c(f"centred_box: size {label}",
                       lambda v=size: localize.centred_box(2, v, (2, 2)), "size"))
    for label, box_size in [("NaN", (NAN, 2)), ("negative", (-3, 2)), ("3 numbers", (1, 2, 3)),
                            ("None", None)]:
        cases.append(c(f"centred_box: box_size {label}",
                       lambda v=box_size: localize.centred_box(2, 8, v), "box_size"))
    cases.append(c("mean_box_size: data a tensor", lambda: localize.mean_box_size(pred), "data"))

    data = _tiny_set()
    for label, value in [("0", 0), ("-1", -1), ("1.5", 1.5)]:
        cases.append(c(f"predict: batch_size {label}",
                       lambda v=value: localize.predict(MODEL, data, v), "batch_size"))
        cases.append(c(f"evaluate_localization: batch_size {label}",
                       lambda v=value: localize.evaluate_localization(
                           MODEL, data, batch_size=v, thresholds=None), "batch_size"))
    cases.append(c("predict: data a tensor", lambda: localize.predict(MODEL, IMAGES), "data"))
    ev = localize.evaluate_localization
    for label, value in [("2", 2), ("-0.1", -0.1), ("1.5", 1.5), ("NaN", NAN), ("'0.2'", "0.2")]:
        cases.append(c(f"evaluate_localization: threshold {label}",
                       lambda v=value: ev(MODEL, data, threshold=v, thresholds=None),
                       "threshold"))
    for label, value in [("empty", ()), ("with 1.5", (0.5, 1.5)), ("with -0.5", (-0.5, 0.5)),
                         ("with NaN", (NAN,)), ("a string", "0.5")]:
        cases.append(c(f"evaluate_localization: thresholds {label}",
                       lambda v=value: ev(MODEL, data, thresholds=v), "thresholds"))
    cases += [
        c("evaluate_localization: method 'bogus'", lambda: ev(MODEL, data, "bogus"), "method"),
        c("evaluate_localization: data a tensor", lambda: ev(MODEL, IMAGES), "data"),
        c("evaluate_localization: model None", lambda: ev(None, data), "model"),
        c("evaluate_localization: box_size (0, 0)",
          lambda: ev(MODEL, data, "centred", box_size=(0, 0)), "box_size"),
    ]
    return cases


def _tiny_set():
    from camcourse.data import ClutteredDigits

    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (4, 3, 16, 16), dtype=np.uint8)
    boxes = np.array([[2, 2, 10, 12]] * 4, dtype=np.int64)
    return ClutteredDigits(images, np.arange(4, dtype=np.int64), boxes,
                           np.zeros((4, 16, 16), bool), np.zeros(4, np.int64), {"n": 4})


def _perf_cases() -> list[Case]:
    """The box functions of `camlib.localize` (counted, their checks live with them)."""
    module = "localize (boxes)"
    maps = torch.rand(2, 8, 8)
    gt = torch.tensor([[0, 0, 4, 4], [2, 2, 6, 6]])

    def c(label, call, names):
        return Case(module, label, call, names)

    cases = []
    for label, value in [("1.5", 1.5), ("NaN", NAN), ("'0.2'", "0.2"), ("-0.01", -0.01)]:
        cases.append(c(f"boxes_from_maps: threshold {label}",
                       lambda v=value: localize.boxes_from_maps(maps, v), "threshold"))
    for label, value in [("2-D", maps[0]), ("an ndarray", maps.numpy()),
                         ("NaN", torch.full((2, 8, 8), NAN))]:
        cases.append(c(f"boxes_from_maps: maps {label}",
                       lambda v=value: localize.boxes_from_maps(v), "maps"))
    for fn in ("box_accuracy_curve", "max_box_acc", "max_box_acc_v2"):
        function = getattr(localize, fn)
        for label, value in [("with 1.5", (0.5, 1.5)), ("with NaN", (NAN,)), ("empty", ())]:
            cases.append(c(f"{fn}: thresholds {label}",
                           lambda f=function, v=value: f(maps, gt, v), "thresholds"))
        for label, value in [("too few rows", gt[:1]), ("a list", gt.tolist()),
                             ("an ndarray", gt.numpy()), ("(N, 3)", gt[:, :3]),
                             ("extra rows", torch.cat([gt, gt])),
                             ("inverted", gt.flip(1)), ("negative", gt - 1),
                             ("beyond the maps", gt * 4)]:
            cases.append(c(f"{fn}: gt_boxes {label}",
                           lambda f=function, v=value: f(maps, v), "gt_boxes"))
        for label, value in [("2-D", maps[0]), ("4-D", maps[None])]:
            cases.append(c(f"{fn}: maps {label}", lambda f=function, v=value: f(v, gt), "maps"))
        cases.append(c(f"{fn}: zero maps (no accuracy to give)",
                       lambda f=function: f(maps[:0], gt[:0]), "maps"))
        cases.append(c(f"{fn}: protocol 'typo'",
                       lambda f=function: f(maps, gt, protocol="typo"), "protocol"))
    for label, value in [("0", 0), ("1.5", 1.5), ("-1", -1)]:
        cases.append(c(f"box_accuracy_curve: batch_size {label}",
                       lambda v=value: localize.box_accuracy_curve(maps, gt, batch_size=v),
                       "batch_size"))
    return cases


# --- sweep (compiled: an unchecked array is read out of bounds, which can crash Python) ---


def _sweep_cases() -> list[Case]:
    module = "sweep"
    values = np.array([[2, 0, 1, 2, 0, 0], [0, 1, 1, 1, 0, 3]], np.float32)  # two 2×3 maps
    low, high = sweep.row_ranges(values)
    grid, gt = np.array([0.4, 0.9]), np.array([[0, 0, 1, 2], [1, 0, 3, 2]])
    levels = sweep.levels(values, low, high, grid, "camlib").reshape(2, 2, 3)

    def c(label, call, names):
        return Case(module, label, call, names)

    cases = [
        c("row_ranges: values a list", lambda: sweep.row_ranges(values.tolist()), "values"),
        c("row_ranges: values (N, H, W)", lambda: sweep.row_ranges(values.reshape(2, 2, 3)),
          "values"),
        c("row_ranges: values int64", lambda: sweep.row_ranges(values.astype(np.int64)),
          "values"),
        c("row_ranges: values of empty rows", lambda: sweep.row_ranges(values[:, :0]), "values"),
        c("levels: values float16", lambda: sweep.levels(values.astype(np.float16), low, high,
                                                          grid, "camlib"), "values"),
        c("levels: low of one row for two", lambda: sweep.levels(values, low[:1], high[:1],
                                                                  grid, "camlib"), "low"),
        c("levels: low and high NaN", lambda: sweep.levels(values, low * np.nan, high * np.nan,
                                                           grid, "camlib"), "low and high"),
        c("levels: thresholds descending", lambda: sweep.levels(values, low, high, grid[::-1],
                                                                "choe2020"), "thresholds"),
        c("levels: thresholds with 3.0", lambda: sweep.levels(values, low, high,
                                                              np.array([0.4, 3.0]), "camlib"),
          "thresholds"),
        c("levels: thresholds with NaN", lambda: sweep.levels(values, low, high,
                                                              np.array([np.nan]), "camlib"),
          "thresholds"),
        c("levels: threads 0", lambda: sweep.levels(values, low, high, grid, "camlib", 0),
          "threads"),
    ]
    for label, bad in [("above n_thresholds", levels * 50), ("negative", -levels),
                       ("float", levels + 0.5), ("(H, W)", levels[0])]:
        cases.append(c(f"threshold_boxes: levels {label}", lambda v=bad: sweep.threshold_boxes(
            v, gt, 2, "camlib", threads=1), "levels"))
    for label, bad in [("one row for two maps", gt[:1]), ("(4,)", gt[0]),
                       ("with a fraction", gt + 0.5)]:
        cases.append(c(f"threshold_boxes: gt_boxes {label}", lambda v=bad: sweep.threshold_boxes(
            levels, v, 2, "camlib", threads=1), "gt_boxes"))
        cases.append(c(f"map_boxes: gt_boxes {label}", lambda v=bad: sweep.map_boxes(
            values, (2, 3), grid, v, "choe2020", threads=1), "gt_boxes"))
    for label, bad in [("-1", -1), ("2.5", 2.5)]:
        cases.append(c(f"threshold_boxes: n_thresholds {label}", lambda v=bad: sweep.
                       threshold_boxes(levels, gt, v, "camlib"), "n_thresholds"))
    for label, bad in [("(20, 30) for rows of 6", (20, 30)), ("(1, 3) for rows of 6", (1, 3)),
                       ("an int", 6)]:
        cases.append(c(f"map_boxes: shape {label}", lambda v=bad: sweep.map_boxes(
            values, v, grid, gt, "camlib", threads=1), "shape"))
    cases += [
        c("map_boxes: values (N, H, W)", lambda: sweep.map_boxes(
            values.reshape(2, 2, 3), (2, 3), grid, gt, "camlib"), "values"),
        c("map_boxes: thresholds descending", lambda: sweep.map_boxes(
            values, (2, 3), grid[::-1], gt, "camlib"), "thresholds"),
    ]
    return cases


# --- extract -------------------------------------------------------------------------------


def _extract_cases() -> list[Case]:
    module = "extract"

    def c(label, call, names, errors=(ValueError, TypeError)):
        return Case(module, label, call, names, errors)

    def maps_with(classes):
        with CAMExtractor(MODEL) as cam:
            MODEL(IMAGES)
            return cam.maps(classes)

    def stale_maps():
        with CAMExtractor(MODEL) as cam:
            MODEL(IMAGES)
        MODEL(IMAGES[:1])  # a new batch after the block: the hook no longer sees it
        return cam.maps(0)

    def wrong_width():
        with CAMExtractor(MODEL, feature_layer="features.0") as cam:
            MODEL(IMAGES)
            return cam.maps(0)

    def gradcam(logits_of, classes=0):
        with GradCAMExtractor(MODEL) as g:
            logits = MODEL(IMAGES)
            return g.maps(logits_of(logits), classes)

    cases = [
        c("CAMExtractor: model None", lambda: CAMExtractor(None), "model"),
        c("CAMExtractor: a torch.compile'd model", lambda: CAMExtractor(torch.compile(MODEL)),
          "model"),
        c("GradCAMExtractor: a torch.compile'd model",
          lambda: GradCAMExtractor(torch.compile(MODEL)), "model"),
        c("CAMExtractor: feature_layer 'nope'", lambda: CAMExtractor(MODEL, "nope"),
          "feature_layer"),
        c("CAMExtractor: feature_layer 3", lambda: CAMExtractor(MODEL, 3), "feature_layer"),
        c("CAMExtractor: classifier a Conv2d", lambda: CAMExtractor(MODEL, None, "features.0.0"),
          "classifier"),
        c("CAMExtractor: feature_layer of the wrong width", wrong_width, "feature_layer"),
        c("CAMExtractor.maps: before any forward pass",
          lambda: CAMExtractor(MODEL).maps(), "no activation", (RuntimeError,)),
        c("CAMExtractor.maps: after the block, once the model ran again", stale_maps, "with",
          (RuntimeError,)),
        c("GradCAMExtractor: model None", lambda: GradCAMExtractor(None), "model"),
        c("GradCAMExtractor.maps: logits 1-D", lambda: gradcam(lambda x: x[0]), "logits"),
        c("GradCAMExtractor.maps: logits None", lambda: gradcam(lambda x: None), "logits"),
        c("GradCAMExtractor.maps: logits as integers", lambda: gradcam(lambda x: x.long()),
          "logits", (TypeError,)),
        c("GradCAMExtractor.maps: logits an ndarray",
          lambda: gradcam(lambda x: x.detach().numpy()), "logits", (TypeError,)),
        c("GradCAMExtractor.maps: logits of another batch size",
          lambda: gradcam(lambda x: x[:1]), "logits"),
    ]
    for label, classes in [("-1", -1), ("= C", 10), ("1.5", 1.5), ("True", True),
                           ("of the wrong length", [0, 1, 2])]:
        cases.append(c(f"CAMExtractor.maps: classes {label}",
                       lambda v=classes: maps_with(v), "classes"))
        cases.append(c(f"GradCAMExtractor.maps: classes {label}",
                       lambda v=classes: gradcam(lambda x: x, v), "classes"))
    return cases


# --- commands ------------------------------------------------------------------------------


def _train_command(*argv: str):
    import camcourse.train as train

    def accepted(*args, **kwargs):
        raise _Accepted

    with mock.patch.object(train, "make_cluttered_digits", accepted), \
            mock.patch.object(train, "set_threads", lambda *a: 1):
        return train.main(list(argv))


def _localization_command(*argv: str):
    import camcourse.benchmarks.localization as bench

    def accepted(*args, **kwargs):
        raise _Accepted

    with mock.patch.object(bench, "make_cluttered_digits", lambda *a, **k: None), \
            mock.patch.object(bench, "mean_box_size", lambda data: (1.0, 1.0)), \
            mock.patch.object(bench, "load_checkpoint", accepted), \
            mock.patch.object(bench, "set_threads", lambda *a: 1):
        return bench.main([*argv, "--no-write"])


def _grade_command(*argv: str):
    from camcourse.coursework.__main__ import main

    code = main(["grade", *argv])
    if code:
        raise SystemExit(code)
    return code


def _command_cases() -> list[Case]:
    cases = []
    train_bad = [("--epochs", "-1"), ("--epochs", "0"), ("--epochs", "2.5"),
                 ("--batch-size", "0"), ("--batch-size", "-1"), ("--train-size", "0"),
                 ("--test-size", "0"), ("--label-smoothing", "1.5"),
                 ("--label-smoothing", "-0.1"), ("--label-smoothing", "nan"), ("--lr", "-1"),
                 ("--lr", "0"), ("--lr", "nan"), ("--lr", "inf"), ("--threads", "0"),
                 ("--seed", "-1"), ("--map-stride", "5"), ("--pool", "bogus")]
    if not torch.cuda.is_available():
        train_bad.append(("--precision", "float16"))
    for flag, value in train_bad:
        cases.append(Case("python -m camcourse.train", f"{flag} {value}",
                          lambda f=flag, v=value: _train_command(f, v), flag))
    for flag, value in [("--test-size", "0"), ("--test-size", "-5"), ("--step", "0"),
                        ("--step", "-0.1"), ("--step", "2"), ("--step", "1"), ("--step", "nan"),
                        ("--seed", "-1")]:
        cases.append(Case("python -m camcourse.benchmarks.localization", f"{flag} {value}",
                          lambda f=flag, v=value: _localization_command(f, v), flag))
    cases.append(Case("python -m camcourse.coursework", "grade missing.ipynb",
                      lambda: _grade_command("missing-submission.ipynb"), "missing-submission"))
    # A folder without lessons (the default of a course installed with `pip install`, whose
    # notebooks stay in the clone) graded every submission 0/0.
    submission = str(Path(__file__).resolve().parent.parent / "notebooks" / "00_setup.ipynb")
    cases.append(Case("python -m camcourse.coursework", "grade --lessons without lessons",
                      lambda: _grade_command("--lessons", str(Path(__file__).parent),
                                             submission), "--lessons"))
    return cases


def all_cases() -> list[Case]:
    return [
        *_backend_cases(ref, "reference", _a),
        *_backend_cases(ct, "torch", _t),
        *_localize_cases(),
        *_perf_cases(),
        *_sweep_cases(),
        *_extract_cases(),
        *_command_cases(),
    ]


def main() -> None:
    counts: dict[str, Counter] = {}
    details = "-v" in sys.argv
    for case in all_cases():
        outcome, detail = run_case(case)
        counts.setdefault(case.module, Counter())[outcome] += 1
        if details and outcome != "clear":
            print(f"{outcome:8s} {case.id}: {detail.strip()[:160]}")
    print(f"{'module':45s} {'tried':>5s} {'clear':>5s} {'internal':>8s} {'silent':>6s}")
    total = Counter()
    for module, c in counts.items():
        total.update(c)
        print(f"{module:45s} {sum(c.values()):5d} {c['clear']:5d} {c['internal']:8d} "
              f"{c['silent']:6d}")
    print(f"{'all':45s} {sum(total.values()):5d} {total['clear']:5d} {total['internal']:8d} "
          f"{total['silent']:6d}")


if __name__ == "__main__":
    main()
