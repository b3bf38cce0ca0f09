"""How long the lessons' interactive widgets take to redraw: ``python -m
camlib.benchmarks.widgets [--repeats 15]``.

Moving a slider calls the widget's function, which builds one figure; Jupyter's inline
backend then renders it to a PNG and the browser shows it. This times those two steps,
figure and PNG, for the figure of each lesson's widget, on the shipped GAP net and real
test images, and prints the median of ``--repeats`` redraws against the course's 100 ms
target. The browser's own display time is not included.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from camlib import localize, viz  # noqa: E402
from camlib.data import make_cluttered_digits, to_float  # noqa: E402
from camlib.models import load_checkpoint  # noqa: E402
from camlib.torch import class_activation_maps  # noqa: E402

TARGET_MS = 100.0


def redraws() -> dict[str, Callable[[int], plt.Figure]]:
    """Each lesson widget's figure, as a function of the image index the slider moves."""
    test = make_cluttered_digits(16, "test", seed=0)
    model = load_checkpoint("gap")
    images = to_float(test.images)
    with torch.no_grad():
        features = model.features(images)
        logits = model(images)
    probabilities = torch.softmax(logits, dim=1)
    predicted = logits.argmax(1)
    predicted_maps = class_activation_maps(features, model.classifier.weight.detach(),
                                           predicted)  # (N, H, W), M_c of the predicted c
    cams, _ = localize.cam_maps(model, images)  # the same maps upsampled, as lesson 07 has them
    names = [str(d) for d in range(10)]

    def cam(n: int) -> torch.Tensor:
        return predicted_maps[n]

    return {
        "01 one channel f_k": lambda n: viz.plot_channel(test.images[n], features[n, 0], 0,
                                                         box=test.boxes[n]),
        "03 scores and softmax": lambda n: viz.plot_scores(logits[n], probabilities[n], names),
        "04 class map M_c": lambda n: viz.plot_class_map(test.images[n], cam(n).numpy(), "c",
                                                         score=logits[n, predicted[n]].item(),
                                                         box=test.boxes[n]),
        "05 CAM overlay": lambda n: viz.plot_cam_overlay(test.images[n], cam(n).numpy(),
                                                         box=test.boxes[n]),
        "07 box from the CAM": lambda n: viz.plot_box_from_cam(test.images[n], cams[n],
                                                               test.boxes[n], 0.2),
        "08 maps side by side": lambda n: viz.plot_maps_side_by_side(
            test.images[n], {"CAM": cam(n), "Grad-CAM": torch.relu(cam(n)), "copy": cam(n)},
            gt_box=test.boxes[n], signed=["CAM"]),
    }


def redraw_seconds(figure: Callable[[int], plt.Figure], index: int) -> float:
    """Build the figure and render it to PNG the way the inline backend does, then close
    it as ``plt.show()`` does; returns the wall-clock seconds."""
    return _redraw(figure, index)[0]


def _redraw(figure: Callable[[int], plt.Figure], index: int) -> tuple[float, float]:
    """(wall-clock seconds, CPU seconds of this process) of one redraw. On a shared
    machine the wall clock includes waiting for a core; the CPU time does not."""
    start, cpu = time.perf_counter(), time.process_time()
    fig = figure(index)
    fig.savefig(io.BytesIO(), format="png", bbox_inches="tight")
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    plt.close(fig)
    return seconds, cpu_seconds


def compare_new_figures(repeats: int) -> dict[str, float]:
    """Reused figure against a new figure per redraw, interleaved in one process (so both
    see the same load); prints median CPU times and their ratio, returns the ratios."""
    from camlib.viz import _common

    print(f"CPU per redraw, figure + PNG, median of {repeats}, interleaved in one process:")
    print(f"  {'widget':24s} {'new figure':>10s} {'reused':>8s} {'ratio':>6s}")
    ratios = {}
    for name, figure in redraws().items():
        _redraw(figure, 0)
        fresh, reused = [], []
        for i in range(repeats):
            _common._REUSABLE.clear()
            fresh.append(_redraw(figure, i % 16)[1])
            _redraw(figure, (i + 5) % 16)  # leaves a closed figure of this layout to reuse
            reused.append(_redraw(figure, i % 16)[1])
        new_cpu, reused_cpu = statistics.median(fresh), statistics.median(reused)
        ratios[name] = reused_cpu / new_cpu
        print(f"  {name:24s} {1000 * new_cpu:7.0f} ms {1000 * reused_cpu:5.0f} ms "
              f"{ratios[name]:6.2f}")
    return ratios


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(prog="python -m camlib.benchmarks.widgets",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--compare-new-figures", action="store_true",
                        help="also time a new figure per redraw (no reuse), interleaved with "
                             "the reused one in this process, and print the CPU ratio")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.compare_new_figures:
        return compare_new_figures(args.repeats)
    medians, cpu_medians = {}, {}
    for name, figure in redraws().items():
        redraw_seconds(figure, 0)  # the first figure pays for fonts and caches
        times = [_redraw(figure, i % 16) for i in range(args.repeats)]
        medians[name] = statistics.median(wall for wall, _ in times)
        cpu_medians[name] = statistics.median(cpu for _, cpu in times)
    print(f"widget redraw, figure + PNG (median of {args.repeats}; target {TARGET_MS:.0f} ms; "
          "CPU = this process's user + system time):")
    for name, seconds in medians.items():
        verdict = "within target" if 1000 * seconds <= TARGET_MS else "over target"
        print(f"  {name:24s} {1000 * seconds:6.1f} ms wall  {1000 * cpu_medians[name]:6.1f} ms CPU"
              f"  {verdict}")
    return medians


if __name__ == "__main__":
    main()
