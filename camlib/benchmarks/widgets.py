"""How long the lessons' interactive widgets take to redraw: ``python -m
camlib.benchmarks.widgets [--repeats 15] [--compare | --png]``.

Moving a slider calls the widget's function, which updates one figure (`camlib.viz`
reuses it), and ``plt.show()`` then hands it to Jupyter's inline backend, which prints it
to a base64 PNG with ``bbox_inches="tight"`` and closes it; the browser shows that PNG.
This times those steps, exactly as the inline backend runs them, for each lesson's widget
on the shipped GAP net and real images at the lesson's dpi, and prints the median of
``--repeats`` redraws against the course's 100 ms target. The browser's own display time
is not included.

``--compare`` times the same redraws with the figure printed the standard way (every
artist drawn, matplotlib measuring the tight box) and in place (`camlib.viz._render`),
interleaved in one process so that both see the same load, and prints their ratio;
``--png`` does the same for the PNG writers alone.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Callable, Iterator

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from IPython.core.pylabtools import print_figure  # noqa: E402

from camlib import localize, viz  # noqa: E402
from camlib.data import make_cluttered_digits, to_float  # noqa: E402
from camlib.models import load_checkpoint  # noqa: E402
from camlib.torch import class_activation_maps  # noqa: E402
from camlib.viz import _common  # noqa: E402
from camlib.viz._render import standard_printing  # noqa: E402

TARGET_MS = 100.0
LESSON_DPI = {"07": 80, "08": 80, "09": 80}  # lessons 07-09 set rcParams["figure.dpi"] = 80


def _photographs() -> tuple[torch.Tensor, list[str]]:
    """Lesson 09's photographs, resized and centre-cropped to 224×224 as it does."""
    import skimage.data
    import torchvision.transforms.functional as TF

    names = ["chelsea", "coffee", "astronaut", "rocket"]
    crops = [TF.center_crop(TF.resize(torch.from_numpy(getattr(skimage.data, name)())
                                      .permute(2, 0, 1), 224, antialias=True), 224)
             for name in names]
    return torch.stack(crops), names


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
    # Lesson 09: photographs with maps on ResNet-18's 7×7 grid. Its ImageNet weights may be
    # absent here, so the maps are the GAP net's on the photographs, pooled to 7×7.
    photos, photo_names = _photographs()
    with torch.no_grad():
        photo_features = torch.nn.functional.adaptive_avg_pool2d(
            model.features(to_float(photos.numpy())), 7)
    photo_maps = class_activation_maps(photo_features, model.classifier.weight.detach())

    def cam(n: int) -> torch.Tensor:
        return predicted_maps[n]

    def photo(n: int) -> plt.Figure:
        n %= len(photo_names)
        c = (n * 3) % 10  # lesson 09's rank slider walks through the classes
        return viz.plot_maps_side_by_side(
            photos[n], {"M_c (signed)": photo_maps[n, c], "M_c over the image": photo_maps[n, c]},
            signed=["M_c (signed)"], title=f"{photo_names[n]}, rank {n}: class {c}, S = 1.00")

    return {
        "01 one channel f_k": lambda n: viz.plot_channel(test.images[n], features[n, 0], 0,
                                                         box=test.boxes[n]),
        "03 scores and softmax": lambda n: viz.plot_scores(
            logits[n], probabilities[n], names, title=f"image {n}: digit {test.labels[n]}"),
        "04 class map M_c": lambda n: viz.plot_class_map(test.images[n], cam(n).numpy(), "c",
                                                         score=logits[n, predicted[n]].item(),
                                                         bias=0.0, box=test.boxes[n]),
        "05 CAM overlay": lambda n: viz.plot_cam_overlay(test.images[n], cam(n).numpy(),
                                                         box=test.boxes[n]),
        "07 box from the CAM": lambda n: viz.plot_box_from_cam(
            test.images[n], cams[n], test.boxes[n], 0.2,
            title=f"digit {test.labels[n]}, predicted {predicted[n].item()}"),
        "08 maps side by side": lambda n: viz.plot_maps_side_by_side(
            test.images[n], {"CAM": cam(n), "Grad-CAM": torch.relu(cam(n)), "copy": cam(n)},
            gt_box=test.boxes[n], signed=["CAM"], title=f"class {int(predicted[n])}"),
        "09 photograph's maps": photo,
    }


def redraw_seconds(figure: Callable[[int], plt.Figure], index: int) -> float:
    """One redraw as the inline backend runs it after ``plt.show()``: the figure, its
    base64 PNG (``print_figure``, the backend's formatter, with ``bbox_inches="tight"``),
    then ``plt.close``; returns the wall-clock seconds."""
    return _redraw(figure, index)[0]


def _redraw(figure: Callable[[int], plt.Figure], index: int) -> tuple[float, float]:
    """(wall-clock seconds, CPU seconds of this process) of one redraw. On a shared
    machine the wall clock includes waiting for a core; the CPU time does not."""
    start, cpu = time.perf_counter(), time.process_time()
    fig = figure(index)
    png = print_figure(fig, fmt="png", base64=True, bbox_inches="tight")
    plt.close(fig)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    if not png:
        raise RuntimeError("the widget's figure printed no PNG")
    return seconds, cpu_seconds


def _dpi(name: str) -> dict:
    return {"figure.dpi": LESSON_DPI.get(name[:2], matplotlib.rcParams["figure.dpi"])}


@contextlib.contextmanager
def _own_figures(figures: dict) -> Iterator[None]:
    """Widget functions reuse the figures of ``figures`` within this block, so that each
    printing keeps its own figure (a standard print moves the figure's transforms, which
    the next print would otherwise pay for)."""
    kept = _common._REUSABLE
    _common._REUSABLE = figures
    try:
        yield
    finally:
        _common._REUSABLE = kept


def compare(repeats: int) -> dict[str, dict[str, float]]:
    """Each widget's redraw with the figure printed the standard way and in place,
    interleaved in one process; prints median wall times and their ratio, returns
    {widget: {"standard": seconds, "in place": seconds}}."""
    print(f"widget redraw, figure + PNG, median of {repeats}, the two printings interleaved:")
    print(f"  {'widget':24s} {'standard':>9s} {'in place':>9s} {'ratio':>6s}")
    times = {}
    for name, figure in redraws().items():
        standard_figures, in_place_figures = {}, {}
        with matplotlib.rc_context(_dpi(name)):
            with _own_figures(standard_figures), standard_printing():
                _redraw(figure, 0)  # fonts, caches, the figure
            with _own_figures(in_place_figures):
                _redraw(figure, 0)  # the figure and its background
            standard, in_place = [], []
            for i in range(1, repeats + 1):
                with _own_figures(standard_figures), standard_printing():
                    standard.append(_redraw(figure, i % 16)[0])
                with _own_figures(in_place_figures):
                    in_place.append(_redraw(figure, i % 16)[0])
        old, new = statistics.median(standard), statistics.median(in_place)
        times[name] = {"standard": old, "in place": new}
        print(f"  {name:24s} {1000 * old:6.0f} ms {1000 * new:6.0f} ms {new / old:6.2f}")
    return times


def compare_png(repeats: int) -> dict[str, float]:
    """The PNG writers on each widget's printed image, interleaved: matplotlib's
    (``matplotlib.image.imsave``, Pillow's default filters and compression, RGBA) and
    `camlib.viz._render.png_bytes`; prints median times and sizes, returns the time ratios
    (png_bytes / matplotlib)."""
    import io

    import numpy as np
    from matplotlib.image import imsave

    from camlib.viz._render import png_bytes

    print(f"PNG of each widget's tight figure, median of {repeats}, interleaved:")
    print(f"  {'widget':24s} {'matplotlib':>17s} {'png_bytes':>17s} {'ratio':>6s}")
    ratios = {}
    for name, figure in redraws().items():
        with matplotlib.rc_context(_dpi(name)):
            fig = figure(0)
            rgb = fig.canvas.tight_rgb(matplotlib.rcParams["savefig.pad_inches"])
            dpi = fig.dpi
            plt.close(fig)
        rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
        theirs, ours = [], []
        for _ in range(repeats):
            start, buffer = time.perf_counter(), io.BytesIO()
            imsave(buffer, rgba, format="png", dpi=dpi)
            theirs.append(time.perf_counter() - start)
            start = time.perf_counter()
            data = png_bytes(rgb, dpi)
            ours.append(time.perf_counter() - start)
        old, new = statistics.median(theirs), statistics.median(ours)
        ratios[name] = new / old
        print(f"  {name:24s} {1000 * old:5.1f} ms {len(buffer.getvalue()) / 1024:5.0f} KiB "
              f"{1000 * new:5.1f} ms {len(data) / 1024:5.0f} KiB {ratios[name]:6.2f}")
    return ratios


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m camlib.benchmarks.widgets",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--compare", action="store_true",
                        help="time the standard printing and the in-place one, interleaved "
                             "in this process, and print their ratio")
    parser.add_argument("--png", action="store_true",
                        help="time matplotlib's PNG writer against png_bytes on each "
                             "widget's figure, interleaved, and print sizes and ratio")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.compare:
        return compare(args.repeats)
    if args.png:
        return compare_png(args.repeats)
    medians, cpu_medians = {}, {}
    for name, figure in redraws().items():
        with matplotlib.rc_context(_dpi(name)):
            redraw_seconds(figure, 0)  # the first figure pays for fonts, caches, background
            times = [_redraw(figure, i % 16) for i in range(1, args.repeats + 1)]
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
