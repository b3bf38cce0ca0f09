"""How long one redraw of lesson 04's derivation stepper takes, beside the lesson's
class-map widget: ``python -m camcourse.benchmarks.stepper [repeats]``.

The widget benchmark (`camcourse.benchmarks.widgets`) moves the controls of every
``interact`` a lesson's own code makes; the stepper's ``interact`` is made inside
`camcourse.viz.stepper.derivation_widget`, so its redraw is timed here, as the inline
backend runs it (the figure, a tight PNG, close).
"""

from __future__ import annotations

import os
import statistics
import sys
import time

import matplotlib.pyplot as plt
import torch
from IPython.core.pylabtools import print_figure

from camcourse.data import make_cluttered_digits, to_float
from camcourse.models import load_checkpoint
from camcourse.viz.maps import plot_class_map
from camcourse.viz.stepper import STEPS, derivation, plot_step, step_text


def time_redraws(repeats: int = 10, images: int = 8) -> dict[str, float]:
    """Median milliseconds of one redraw, as the inline backend runs it (figure, tight
    PNG, close), the image changing between redraws: the stepper's four steps and, in
    the same loop, lesson 04's class-map widget for comparison. Wall time
    (``perf_counter``) and this process's CPU time (``process_time``), which other
    processes on a shared machine do not inflate.

    ``python -m camcourse.benchmarks.stepper [repeats]`` prints them.
    """
    test = make_cluttered_digits(images, "test", seed=0)
    model = load_checkpoint("gap")
    batch = to_float(test.images)
    with torch.no_grad():
        features, logits = model.features(batch), model(batch)
    weight, bias = model.classifier.weight.detach(), model.classifier.bias.detach()
    maps = torch.einsum("ck,nkhw->nchw", weight, features)

    def stepper_redraw(n: int, step: int) -> None:
        c = int(logits[n].argmax())
        d = derivation(features[n], weight, bias, c, float(logits[n, c]))
        step_text(d, step)
        fig = plot_step(d, step)
        print_figure(fig, "png", bbox_inches="tight")
        plt.close(fig)

    def class_map_redraw(n: int, step: int) -> None:
        c = int(logits[n].argmax())
        fig = plot_class_map(test.images[n], maps[n, c], str(c), float(logits[n, c]),
                             float(bias[c]), test.boxes[n])
        print_figure(fig, "png", bbox_inches="tight")
        plt.close(fig)

    times: dict[str, list[float]] = {}
    for step in range(1, STEPS + 1):  # the first draws build the figures
        stepper_redraw(0, step)
        class_map_redraw(0, step)
    for r in range(repeats):
        for step in range(1, STEPS + 1):
            n = (r + step) % images
            for name, redraw in (("stepper", stepper_redraw), ("class map", class_map_redraw)):
                wall, cpu = time.perf_counter(), time.process_time()
                redraw(n, step)
                times.setdefault(f"{name} wall", []).append(time.perf_counter() - wall)
                times.setdefault(f"{name} cpu", []).append(time.process_time() - cpu)
    return {name: 1000 * statistics.median(values) for name, values in times.items()}


if __name__ == "__main__":
    import matplotlib

    matplotlib.use("Agg")
    medians = time_redraws(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
    print(", ".join(f"{name} {ms:.1f} ms" for name, ms in medians.items()),
          f"(medians; load average {os.getloadavg()[0]:.1f})")
