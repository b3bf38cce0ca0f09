"""Throughput on a GPU, side by side with the anchors:
``python -m camcourse.benchmarks.gpu [--device cuda] [--precision float32] [--quick]``.

On the device it first runs the CUDA tests (``pytest -m cuda tests/test_cuda.py``; not
with ``--no-tests`` or off CUDA), then times, interleaved (one run of each step in turn,
``--repeats`` rounds, medians) on one model, batch and precision:

- forward: the model on a batch;
- + camlib CAM: the same with `camlib.extract.CAMExtractor` and the min-max normalized
  maps of the predicted classes at the feature layer's resolution (``check=False``: the
  hot loop), which is what TorchCAM's ``CAM`` returns;
- + TorchCAM: TorchCAM's ``CAM`` of the predicted classes, when ``torchcam`` is
  installed (skipped with a note otherwise);
- + camlib Grad-CAM and + pytorch-grad-cam: Grad-CAM of the predicted classes, one
  backward pass, normalized and upsampled to the image size, which is what
  pytorch-grad-cam's ``GradCAM`` returns (when installed; it returns them as a NumPy
  array, so its time includes the copy to the host);
- + camlib CAM + boxes: the CAM step's maps upsampled to the image size and the paper's
  box of every map (`camlib.torch.bounding_box`);

and prints each step's images/s and its overhead over the forward pass, and the ratio of
camlib's overhead to each anchor's. Then MaxBoxAcc over 100 thresholds of the maps
(`camlib.localize.max_box_acc`, on the CPU's cores) and its projection to ILSVRC's
50,000 validation maps. Every timed run ends with a synchronization, so the clock stops
when the device has finished.

Models: resnet50 (random weights, 224 px, batch 64) and the course's GAP net (64 px,
batch 1024); ``--quick`` makes them small (resnet18, 64 px, batch 4; the GAP net at
batch 16; 2 rounds) so that ``--device cpu --quick`` runs the whole code in seconds.
Without the device asked for it says so and exits with status 0.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from camlib import localize
from camlib import torch as ct
from camlib.extract import CAMExtractor, GradCAMExtractor

ILSVRC_VAL = 50_000  # images in ILSVRC 2012's validation set


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def interleaved(steps: dict[str, Callable[[], object]], repeats: int, device: torch.device,
                warmup: int = 1) -> dict[str, list[float]]:
    """Seconds of each step in every round, the steps taking turns within a round."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    synchronize(device)
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
    return times


def overheads(times: dict[str, list[float]]) -> dict[str, float]:
    """Each step's overhead over the forward pass: the median over the rounds of
    step / forward − 1, the two paired within a round (a busy round slows both)."""
    forward = times["forward"]
    return {name: statistics.median(t / f for t, f in zip(values, forward, strict=True)) - 1
            for name, values in times.items()}


ANCHORED = (("+ camlib CAM", "+ TorchCAM"), ("+ camlib Grad-CAM", "+ pytorch-grad-cam"))


def anchors(model: torch.nn.Module, feature_layer: str, classifier: str
            ) -> tuple[dict[str, Callable[[torch.Tensor], object]], list[str]]:
    """The anchors' steps that can run here, and a note for each one that cannot."""
    steps, notes = {}, []
    try:
        from torchcam.methods import CAM
    except ImportError:
        notes.append("TorchCAM not installed (pip install torchcam): its row is skipped")
    else:
        def torchcam(images: torch.Tensor) -> object:
            extractor = CAM(model, target_layer=feature_layer, fc_layer=classifier)
            try:
                with torch.no_grad():
                    logits = model(images)
                    return extractor(logits.argmax(1).tolist(), logits)
            finally:
                extractor.remove_hooks()

        steps["+ TorchCAM"] = torchcam
    try:
        from pytorch_grad_cam import GradCAM
    except ImportError:
        notes.append("pytorch-grad-cam not installed (pip install grad-cam): its row is "
                     "skipped")
    else:
        layer = dict(model.named_modules())[feature_layer]

        def grad_cam(images: torch.Tensor) -> object:
            with GradCAM(model=model, target_layers=[layer]) as cam:
                return cam(input_tensor=images, targets=None)  # None: the predicted classes

        steps["+ pytorch-grad-cam"] = grad_cam
    return steps, notes


def side_by_side(model: torch.nn.Module, images: torch.Tensor, repeats: int, precision: str,
                 feature_layer: str | None = None, classifier: str | None = None
                 ) -> tuple[dict[str, list[float]], list[str]]:
    """The steps of the module docstring on one model and batch, interleaved: their
    seconds in every round ({step: [s, ...]}) and a note for each anchor not run."""
    device = images.device
    size = tuple(images.shape[-2:])
    dtype = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}[precision]

    def autocast():
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=dtype)

    def forward() -> object:
        with torch.no_grad(), autocast():
            return model(images)

    def cams() -> torch.Tensor:
        with torch.no_grad(), autocast(), CAMExtractor(model, feature_layer,
                                                       classifier) as extractor:
            logits = model(images)
            return ct.normalize(extractor.maps(logits.argmax(1), check=False), check=False)

    def grad_cams() -> torch.Tensor:
        with autocast(), GradCAMExtractor(model, feature_layer) as extractor:
            logits = model(images)
            maps = extractor.maps(logits, logits.argmax(1))
        return ct.normalize(ct.upsample(maps, size, check=False), check=False)

    def boxes() -> torch.Tensor:
        return ct.bounding_box(ct.upsample(cams(), size, check=False))

    steps = {"forward": forward, "+ camlib CAM": cams}
    layer = feature_layer or _last_conv_name(model)
    fc = classifier or _last_linear_name(model)
    extra, notes = anchors(model, layer, fc)
    runnable = {}
    for key, step in extra.items():
        try:  # an anchor may not support the precision (pytorch-grad-cam: no bfloat16)
            _under(autocast, step, images)
        except Exception as error:  # noqa: BLE001 - any failure of theirs skips their row
            notes.append(f"{key[2:]} fails under {precision}: "
                         f"{type(error).__name__}: {error}; its row is skipped")
        else:
            runnable[key] = lambda step=step: _under(autocast, step, images)
    steps.update({key: step for key, step in runnable.items() if "TorchCAM" in key})
    steps["+ camlib Grad-CAM"] = grad_cams
    steps.update({key: step for key, step in runnable.items() if "grad-cam" in key})
    steps["+ camlib CAM + boxes"] = boxes
    return interleaved(steps, repeats, device), notes


def measure(name: str, model: torch.nn.Module, images: torch.Tensor, repeats: int,
            precision: str, feature_layer: str | None = None, classifier: str | None = None
            ) -> dict[str, float]:
    """Images/s of every step for one model and batch (`side_by_side`); prints them with
    their overheads over the forward pass, then MaxBoxAcc's rate on the CAM maps."""
    times, notes = side_by_side(model, images, repeats, precision, feature_layer, classifier)
    rates = {key: len(images) / statistics.median(value) for key, value in times.items()}
    over = overheads(times)
    size = tuple(images.shape[-2:])
    print(f"{name}, batch {len(images)}, {size[0]} px, {precision}, {images.device}:")
    for note in notes:
        print(f"  note: {note}")
    for key, rate in rates.items():
        print(f"  {key:24s} {rate:10.0f} images/s   overhead {100 * over[key]:+6.1f}%")
    for ours, theirs in ANCHORED:
        if theirs in over and over[theirs] > 0:
            print(f"  {ours}'s overhead / {theirs}'s: {over[ours] / over[theirs]:.2f}")
        elif theirs in over:  # a ratio to a cost lost in the noise would mean nothing
            print(f"  {ours}'s overhead / {theirs}'s: none ({theirs}'s overhead is not "
                  "above zero in these rounds)")
    with torch.no_grad(), CAMExtractor(model, feature_layer, classifier) as extractor:
        logits = model(images)
        maps = ct.upsample(ct.normalize(extractor.maps(logits.argmax(1)).float()), size)
    rates["MaxBoxAcc maps/s"] = max_box_acc_rate(maps, repeats)
    print(f"  MaxBoxAcc, 100 thresholds: {rates['MaxBoxAcc maps/s']:.0f} maps/s, "
          f"{ILSVRC_VAL:,} maps of {size[0]}×{size[1]} in "
          f"{ILSVRC_VAL / rates['MaxBoxAcc maps/s']:.1f} s (projected from {len(maps)})")
    return rates


def _under(autocast, step, images):
    with autocast():
        return step(images)


def max_box_acc_rate(maps: torch.Tensor, repeats: int) -> float:
    """Maps per second of MaxBoxAcc (100 thresholds, "choe2020") on the CPU's cores, the
    copy from the device included."""
    h, w = maps.shape[-2:]
    gt = torch.tensor([[w // 4, h // 4, 3 * w // 4, 3 * h // 4]]).expand(len(maps), 4)
    taus = [float(t) for t in np.arange(0, 1, 0.01)]
    localize.max_box_acc(maps[:2].cpu(), gt[:2], taus, protocol="choe2020")  # compile
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        localize.max_box_acc(maps.cpu(), gt, taus, protocol="choe2020")
        times.append(time.perf_counter() - start)
    return len(maps) / statistics.median(times)


def _last_conv_name(model: torch.nn.Module) -> str:
    return [n for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)][-1]


def _last_linear_name(model: torch.nn.Module) -> str:
    return [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)][-1]


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(prog="python -m camcourse.benchmarks.gpu", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:1, cpu, ...")
    parser.add_argument("--precision", choices=("float32", "bfloat16", "float16"),
                        default="float32", help="autocast dtype of the forward pass")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--quick", action="store_true",
                        help="small models and batches, 2 rounds: a check that it all runs")
    parser.add_argument("--no-tests", action="store_true", help="skip the CUDA tests")
    parser.add_argument("--out", metavar="PATH",
                        help="also write the run's report there as a Markdown page (for a "
                             "GPU: docs/benchmarks-gpu.md, which docs/benchmarks.md links)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    try:
        device = torch.device(args.device)
    except RuntimeError:
        parser.error(f"--device: not a device: {args.device!r}")
    if device.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: nothing to measure (this benchmark needs a GPU; "
              "--device cpu runs it on the CPU)")
        return {}
    if args.out:
        report = io.StringIO()
        with contextlib.redirect_stdout(_Tee(sys.stdout, report)):
            results = _run(args, device)
        write_report(Path(args.out), report.getvalue(), argv if argv is not None
                     else sys.argv[1:])
        return results
    return _run(args, device)


class _Tee(io.TextIOBase):
    """Writes to several streams: the terminal and the report."""

    def __init__(self, *streams):
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)


def write_report(path: Path, printed: str, argv: list[str]) -> None:
    """The run's printout as a Markdown page, with the command that made it."""
    command = " ".join(["python -m camcourse.benchmarks.gpu", *argv])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Benchmarks on a GPU\n\n"
        f"Made by `{command}` on {time.strftime('%Y-%m-%d')}. Each step ran in turn within "
        "every round (interleaved), each run ended with a synchronization; images/s are "
        "medians over the rounds, an overhead is the median over the rounds of the step's "
        "time over the forward pass's in the same round, minus 1. See the module docstring "
        "of `camcourse.benchmarks.gpu` for what each step computes.\n\n"
        f"```text\n{printed.rstrip()}\n```\n")


def _run(args: argparse.Namespace, device: torch.device) -> dict[str, dict[str, float]]:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device: {name}, torch {torch.__version__}")
    if device.type == "cuda" and not args.no_tests:
        status = subprocess.call([sys.executable, "-m", "pytest", "-q", "-m", "cuda",
                                  "tests/test_cuda.py", "-p", "no:cacheprovider"])
        print(f"CUDA tests: {'passed' if status == 0 else 'FAILED'}")
    from torchvision.models import resnet18, resnet50

    from camcourse.models import GAPNet

    torch.manual_seed(0)
    repeats = 2 if args.quick else args.repeats
    big, size, batch = (resnet18, 64, 4) if args.quick else (resnet50, 224, 64)
    return {
        big.__name__: measure(f"{big.__name__} (random weights)",
                              big(weights=None).to(device).eval(),
                              torch.randn(batch, 3, size, size, device=device), repeats,
                              args.precision, "layer4", "fc"),
        "GAPNet": measure("the course's GAP net", GAPNet().to(device).eval(),
                          torch.rand(16 if args.quick else 1024, 3, 64, 64, device=device),
                          repeats, args.precision),
    }


if __name__ == "__main__":
    main()
