"""Throughput on a CUDA GPU: ``python -m camlib.benchmarks.gpu [--repeats 10] [--no-tests]``.

On a machine with CUDA it first runs the CUDA tests (``pytest -m cuda tests/test_cuda.py``),
then measures images per second, median of ``--repeats`` timed runs after warm-up, of:

- forward: the model on a batch;
- forward + CAM: the same with `camlib.extract.CAMExtractor` and the maps of the
  predicted classes, upsampled to the image size;
- forward + CAM + boxes: and the paper's box of every map (`camlib.torch.bounding_box`,
  labelled on the device);
- MaxBoxAcc: `camlib.localize.box_accuracy_curve` of those maps over 100 thresholds
  (the maps are copied to the CPU, where their levels and the one-pass sweep are
  computed by compiled loops; the copy is part of the time).

for resnet50 (random weights, 224 px, batch 64) and the course's GAP net (64 px, batch
1024). Every timed run ends with ``torch.cuda.synchronize()``, so the clock stops when
the GPU has finished, not when the kernels were queued; the rounds of the device
labelling are reported. Without CUDA it says so and exits with status 0.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch

from camlib import localize
from camlib import torch as ct
from camlib.extract import CAMExtractor


def timed(step: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    """Median seconds of ``step`` on the GPU, synchronised before and after each run."""
    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(name: str, model: torch.nn.Module, images: torch.Tensor, repeats: int
            ) -> dict[str, float]:
    """Images per second of the four steps for one model and batch."""
    size = tuple(images.shape[-2:])
    gt = torch.tensor([[size[1] // 4, size[0] // 4, 3 * size[1] // 4, 3 * size[0] // 4]]
                      ).expand(len(images), 4).clone()

    def forward() -> torch.Tensor:
        with torch.no_grad():
            return model(images)

    def cams() -> torch.Tensor:
        with torch.no_grad(), CAMExtractor(model) as extractor:
            logits = model(images)
            return ct.upsample(extractor.maps(logits.argmax(1)), size)

    def boxes() -> torch.Tensor:
        return ct.bounding_box(cams())

    maps = cams()
    rates = {
        "forward": len(images) / timed(forward, repeats),
        "forward + CAM": len(images) / timed(cams, repeats),
        "forward + CAM + boxes": len(images) / timed(boxes, repeats),
        "MaxBoxAcc, 100 thresholds": len(images) / timed(
            lambda: localize.box_accuracy_curve(maps, gt, localize.THRESHOLDS), repeats),
    }
    peak = maps.amax(dim=(1, 2), keepdim=True)
    _, _, rounds = ct._label_rounds(maps >= 0.2 * peak, 8)
    print(f"{name}, batch {len(images)}, {size[0]} px, rounds of the device labelling: "
          f"{rounds}")
    for step, rate in rates.items():
        print(f"  {step:28s} {rate:10.0f} images/s")
    return rates


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(prog="python -m camlib.benchmarks.gpu", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--no-tests", action="store_true", help="skip the CUDA tests")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to measure (this benchmark needs a GPU)")
        return {}
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    if not args.no_tests:
        status = subprocess.call([sys.executable, "-m", "pytest", "-q", "-m", "cuda",
                                  "tests/test_cuda.py", "-p", "no:cacheprovider"])
        print(f"CUDA tests: {'passed' if status == 0 else 'FAILED'}")
    from torchvision.models import resnet50

    from camlib.models import GAPNet

    device = torch.device("cuda")
    torch.manual_seed(0)
    results = {
        "resnet50": measure("resnet50 (random weights)", resnet50(weights=None).to(device).eval(),
                            torch.randn(64, 3, 224, 224, device=device), args.repeats),
        "GAPNet": measure("the course's GAP net", GAPNet().to(device).eval(),
                          torch.rand(1024, 3, 64, 64, device=device), args.repeats),
    }
    return results


if __name__ == "__main__":
    main()
