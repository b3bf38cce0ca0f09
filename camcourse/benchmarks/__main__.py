"""camlib against the reference implementations, side by side in one run:
``python -m camcourse.benchmarks [--maps 1000] [--repeats 3] [--out docs/benchmarks.md]``.

Every row times camlib and the reference on the same inputs in the same process, on one
CPU thread, alternating between the two so that a busy machine slows both alike, and
reports the median CPU time (user + sys) and the ratio. Rows:

- MaxBoxAcc over grids of 10 to 1000 thresholds on the GAP checkpoint's CAMs of the test
  images: camlib's one-pass sweep (protocols "camlib" and "choe2020") against the
  threshold-by-threshold OpenCV loop of Choe et al.'s code (`camcourse.benchmarks.wsol`);
  the values of MaxBoxAcc and MaxBoxAccV2 of all three;
- connected components of 256 random masks: `camlib.torch.connected_components` on the
  CPU against ``scipy.ndimage.label`` one mask at a time, and the rounds of the device
  algorithm;
- MaxBoxAcc at ImageNet size: 224×224 ResNet-like maps, one thread and every core,
  against the loop, and the projection to 50,000 maps;
- the overhead of `camlib.extract.CAMExtractor` (forward pass plus the maps of the
  predicted classes) over the plain forward pass of the GAP net at batch 256;
- the lesson widgets' redraw time (`camcourse.benchmarks.widgets`).

It writes the Markdown page and a plot of time against the number of thresholds.
OpenCV (``opencv-python-headless``, a development dependency) is needed for the
reference columns.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from camcourse import paths
from camlib import localize
from camlib import torch as ct

GRIDS = (10, 30, 100, 300, 1000)


def cpu_seconds(step: Callable[[], object]) -> float:
    start = time.process_time()
    step()
    return time.process_time() - start


def side_by_side(steps: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median CPU seconds of each step, the steps alternating within every repeat."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            times[name].append(cpu_seconds(step))
    return {name: statistics.median(values) for name, values in times.items()}


def grid(count: int) -> list[float]:
    """0, 1/count, ..., (count - 1)/count: Choe et al.'s np.arange(0, 1, 1/count)."""
    return [float(t) for t in np.arange(0, 1, 1 / count)]


def course_maps(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    from camcourse.data import make_cluttered_digits, to_float
    from camcourse.models import load_checkpoint

    test = make_cluttered_digits(n, "test")
    maps, _ = localize.cam_maps(load_checkpoint("gap"), to_float(test.images),
                                torch.from_numpy(test.labels))
    return maps, torch.from_numpy(test.boxes)


def resnet_like_maps(n: int, size: int = 224, grid: int = 7, seed: int = 0
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Maps (n, size, size) as a ResNet's CAMs look at ImageNet size: a grid×grid map
    (noise plus one object's bump) upsampled bilinearly, and a ground-truth box (n, 4)
    around the bump, of random size.

    >>> maps, gt = resnet_like_maps(2, size=32, grid=4)
    >>> tuple(maps.shape), tuple(gt.shape)
    ((2, 32, 32), (2, 4))
    """
    generator = torch.Generator().manual_seed(seed)
    small = torch.randn(n, 1, grid, grid, generator=generator)
    yy, xx = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")
    cy, cx = (torch.randint(1, grid - 1, (n, 1, 1, 1), generator=generator) for _ in "yx")
    small = small + 3 * torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 2.0)
    maps = ct.upsample(small[:, 0], size)
    cell = size // grid
    half = torch.randint(max(1, cell // 2), 2 * cell, (n, 2), generator=generator)
    x, y = cx.view(n) * cell + cell // 2, cy.view(n) * cell + cell // 2
    gt = torch.stack([(x - half[:, 0]).clamp(0, size - 1), (y - half[:, 1]).clamp(0, size - 1),
                      (x + half[:, 0]).clamp(1, size), (y + half[:, 1]).clamp(1, size)], 1)
    return maps.contiguous(), gt


def maxboxacc_rows(maps: torch.Tensor, gt: torch.Tensor, repeats: int) -> dict:
    """MaxBoxAcc (largest component, δ = 0.5) and MaxBoxAccV2 (every component, three δ)
    of camlib against the reference loop computing the same, over each grid; where
    camlib's time goes at 100 thresholds; the values of all three."""
    from camcourse.benchmarks import wsol
    from camlib import sweep

    arrays = maps.numpy(), gt.numpy()
    for protocol in ("camlib", "choe2020"):  # compile
        localize.max_box_acc(maps[:4], gt[:4], (0.5,), protocol=protocol)
        localize.max_box_acc_v2(maps[:4], gt[:4], (0.5,), protocol=protocol)
    timings = {}
    for count in GRIDS:
        taus = grid(count)
        timings[count] = side_by_side({
            "camlib": lambda taus=taus: localize.max_box_acc(maps, gt, taus),
            "choe2020": lambda taus=taus: localize.max_box_acc(maps, gt, taus,
                                                               protocol="choe2020"),
            "loop": lambda taus=taus: wsol.correct_counts(*arrays, taus, (0.5,)).max(0),
        }, repeats if count <= 100 else 1)
    taus = grid(100)
    v2_timings = side_by_side({
        "camlib": lambda: localize.max_box_acc_v2(maps, gt, taus),
        "choe2020": lambda: localize.max_box_acc_v2(maps, gt, taus, protocol="choe2020"),
        "loop": lambda: wsol.correct_counts(*arrays, taus, every_contour=True).max(0),
    }, repeats)
    parts = {}
    for protocol in ("camlib", "choe2020"):
        levels = localize._levels(maps, taus, protocol)
        largest, _ = sweep.threshold_boxes(levels, arrays[1], len(taus), protocol, every=False)
        parts[protocol] = side_by_side({
            "MaxBoxAcc": lambda protocol=protocol: localize.max_box_acc(maps, gt, taus,
                                                                        protocol=protocol),
            "levels": lambda protocol=protocol: localize._levels(maps, taus, protocol),
            "sweep": lambda protocol=protocol, levels=levels: sweep.threshold_boxes(
                levels, arrays[1], len(taus), protocol, every=False),
            "IoU": lambda protocol=protocol, largest=largest: localize._ious(
                largest, gt, protocol) >= 0.5,
        }, repeats)
    n = len(maps)
    values = {}
    for protocol in ("camlib", "choe2020"):
        curve = localize.box_accuracy_curve(maps, gt, taus, protocol=protocol)
        values[protocol] = (float(curve["largest"][:, 1].max()),
                            float(curve["all"].max(0).values.mean()))
    v1 = wsol.correct_counts(*arrays, taus)
    v2 = wsol.correct_counts(*arrays, taus, every_contour=True)
    values["loop"] = (v1[:, 1].max() / n, float(np.mean(v2.max(0))) / n)
    return {"timings": timings, "v2": v2_timings, "parts": parts, "values": values}


def wall_and_cpu(step: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the whole process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    step()
    return time.perf_counter() - wall, time.process_time() - cpu


def imagenet_rows(n: int, loop_maps: int, repeats: int, released: str | None = None) -> dict:
    """MaxBoxAcc at ImageNet size: n ResNet-like maps of 224×224 (`resnet_like_maps`),
    100 thresholds, camlib on one thread and on every core, against Choe et al.'s loop on
    ``loop_maps`` of them (its time per map scaled to n), and against their released code
    when ``released`` names a checkout of it (`wsol.released_counts`); the projection to
    ILSVRC's 50,000 validation maps."""
    import numba

    from camcourse.benchmarks import wsol

    maps, gt = resnet_like_maps(n)
    taus = grid(100)
    cores = numba.config.NUMBA_NUM_THREADS
    for protocol in ("camlib", "choe2020"):  # compile
        localize.max_box_acc(maps[:4], gt[:4], taus, protocol=protocol)
    rows: dict = {"maps": n, "cores": cores}
    for protocol in ("camlib", "choe2020"):
        one, every = [], []
        loop, original = [], []
        for _ in range(repeats):  # interleaved: a busy machine slows all three alike
            numba.set_num_threads(1)
            one.append(wall_and_cpu(lambda p=protocol: localize.max_box_acc(
                maps, gt, taus, protocol=p)))
            numba.set_num_threads(cores)
            every.append(wall_and_cpu(lambda p=protocol: localize.max_box_acc(
                maps, gt, taus, protocol=p)))
            if protocol == "choe2020":
                loop.append(cpu_seconds(lambda: wsol.correct_counts(
                    maps[:loop_maps].numpy(), gt[:loop_maps].numpy(), taus, (0.5,))))
                if released:
                    original.append(cpu_seconds(lambda: wsol.released_counts(
                        released, maps[:loop_maps].numpy(), gt[:loop_maps].numpy(), taus)))
        rows[protocol] = {
            "one thread": statistics.median(w for w, _ in one),
            "one thread cpu": statistics.median(c for _, c in one),
            "all cores": statistics.median(w for w, _ in every),
            "all cores cpu": statistics.median(c for _, c in every),
        }
        if loop:
            rows["loop"] = statistics.median(loop) * n / loop_maps
        if original:
            rows["released"] = statistics.median(original) * n / loop_maps
    numba.set_num_threads(1)
    values = {protocol: localize.max_box_acc(maps[:loop_maps], gt[:loop_maps], taus,
                                             protocol=protocol)[0]
              for protocol in ("camlib", "choe2020")}
    counts = wsol.correct_counts(maps[:loop_maps].numpy(), gt[:loop_maps].numpy(), taus,
                                 (0.5,))
    rows["values"] = {**values, "loop": counts.max() / loop_maps, "n": loop_maps}
    if released:
        rows["values"]["released"] = wsol.released_counts(
            released, maps[:loop_maps].numpy(), gt[:loop_maps].numpy(), taus).max() / loop_maps
    return rows


def components_rows(repeats: int) -> dict:
    from scipy import ndimage

    rows = {}
    structure = np.ones((3, 3), bool)
    for size in (64, 224):
        masks = torch.from_numpy(np.random.default_rng(size).random((256, size, size)) < 0.5)
        smooth = ct.upsample(torch.rand(256, size // 8, size // 8), size)
        cams = smooth >= 0.6
        arrays = masks.numpy()
        times = side_by_side({
            "camlib": lambda masks=masks: ct.connected_components(masks),
            "scipy": lambda arrays=arrays: [ndimage.label(m, structure) for m in arrays],
        }, repeats)
        start = time.process_time()
        _, _, rounds_cam = ct._label_rounds(cams, 8)
        device_seconds = time.process_time() - start
        _, _, rounds_noise = ct._label_rounds(masks, 8)
        rows[size] = {**times, "device algorithm on the CPU": device_seconds,
                      "rounds": (rounds_cam, rounds_noise)}
    return rows


def extractor_row(repeats: int) -> dict:
    from camcourse.models import load_checkpoint
    from camlib.extract import CAMExtractor

    model = load_checkpoint("gap").eval()
    images = torch.rand(256, 3, 64, 64)

    def forward():
        with torch.no_grad():
            model(images)

    def with_cam():
        with torch.no_grad(), CAMExtractor(model) as extractor:
            logits = model(images)
            extractor.maps(logits.argmax(1))

    forward()
    with_cam()
    # A few percent is within one run's noise: many pairs, and the median of their ratios.
    pairs = [(cpu_seconds(forward), cpu_seconds(with_cam)) for _ in range(repeats)]
    return {"forward": statistics.median(f for f, _ in pairs),
            "forward + CAM": statistics.median(c for _, c in pairs),
            "overhead": statistics.median(c / f - 1 for f, c in pairs), "pairs": repeats}


def plot(timings: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    counts = list(timings)
    for key, label in (("loop", "Choe et al.'s loop (OpenCV, per threshold)"),
                       ("choe2020", 'camlib sweep, protocol "choe2020"'),
                       ("camlib", 'camlib sweep, protocol "camlib"')):
        ax.plot(counts, [timings[c][key] for c in counts], "o-", label=label)
    ax.set(xscale="log", yscale="log", xlabel="number of thresholds",
           ylabel="CPU seconds (one thread)", title="MaxBoxAcc of 1000 maps, 64×64")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def versions() -> str:
    import numba
    import scipy

    try:
        import cv2

        opencv = cv2.__version__
    except ImportError:
        opencv = "not installed"
    return (f"Python {platform.python_version()}, torch {torch.__version__}, numpy "
            f"{np.__version__}, scipy {scipy.__version__}, numba {numba.__version__}, "
            f"OpenCV {opencv}")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()}"


GPU_PAGE = "benchmarks-gpu.md"  # written by `python -m camcourse.benchmarks.gpu --out`


def gpu_section() -> list[str]:
    """Where the GPU's numbers are: the page the GPU benchmark wrote, or how to make it."""
    lines = [
        "Every number on this page is from the CPU. On a machine with CUDA,",
        "`python -m camcourse.benchmarks.gpu --out docs/benchmarks-gpu.md` measures, side by",
        "side and interleaved, resnet50 forward against forward + camlib's CAM and against",
        "TorchCAM's and pytorch-grad-cam's (each when installed; skipped with a note",
        "otherwise) on the same batch and precision, the boxes, and MaxBoxAcc of 50,000",
        "maps of 224×224; `--device cpu --quick` runs the same code on the CPU in seconds",
        "(it is tested that way).",
    ]
    if (paths.REPO_ROOT / "docs" / GPU_PAGE).exists():
        return lines + ["", f"The GPU's numbers: [{GPU_PAGE}]({GPU_PAGE})."]
    return lines + ["", "No page from a GPU run is in the repository yet."]


def imagenet_section(rows: dict) -> list[str]:
    n, cores = rows["maps"], rows["cores"]
    loop, released = rows["loop"], rows.get("released")
    lines = [
        "## MaxBoxAcc at ImageNet size (224×224)",
        "",
        f"{n} ResNet-like maps (a 7×7 map, noise plus an object's bump, upsampled",
        "bilinearly to 224×224; `resnet_like_maps`), 100 thresholds. Wall seconds, median",
        f"of the repeats, interleaved; \"all cores\" is numba's {cores} threads sweeping",
        "contiguous shares of the maps. Choe et al.'s evaluation ran on a subset, scaled to",
        f"{n} maps (one thread, CPU time): \"loop\" is this repository's port of it",
        "(`camcourse.benchmarks.wsol.correct_counts`: the same OpenCV calls, the peak of",
        "each map read once, one IoU computation per map)" + (
            ", \"released\" their released code itself (`BoxEvaluator.accumulate` of "
            "github.com/clovaai/wsolevaluation, run by `wsol.released_counts`; it reads the "
            "map's peak again at every threshold)." if released else
            "; `--wsolevaluation PATH` adds their released code itself."),
        "The boxes are the same for any number of threads (tested).",
        "",
        "| protocol | one thread (s) | all cores (s) | all cores / one thread | "
        "loop / one thread | " + ("released / one thread | " if released else "")
        + "ms a map, one thread (CPU) | 50,000 maps, one thread (CPU s) | "
        "50,000 maps, all cores (wall s) |",
        "|---|---:|---:|---:|---:|" + ("---:|" if released else "") + "---:|---:|---:|",
    ]
    for protocol in ("camlib", "choe2020"):
        row = rows[protocol]
        lines.append(
            f"| {protocol} | {row['one thread']:.2f} | {row['all cores']:.2f} | "
            f"{row['one thread'] / row['all cores']:.2f}× | {loop / row['one thread cpu']:.1f}× | "
            + (f"{released / row['one thread cpu']:.1f}× | " if released else "")
            + f"{1000 * row['one thread cpu'] / n:.2f} | "
            f"{50000 * row['one thread cpu'] / n:.0f} | "
            f"{50000 * row['all cores'] / n:.0f} |")
    v = rows["values"]
    lines += [
        "",
        f"CPU seconds (all threads together): one thread "
        f"{rows['choe2020']['one thread cpu']:.2f}, all cores "
        f"{rows['choe2020']['all cores cpu']:.2f} (\"choe2020\"); the loop "
        f"{loop:.2f} for {n} maps"
        + (f", the released code {released:.2f}" if released else "")
        + ". The ratios compare CPU times.",
        "",
        f"MaxBoxAcc of the first {v['n']} maps (%): \"choe2020\" {100 * v['choe2020']:.1f}, "
        f"the loop {100 * v['loop']:.1f}, "
        + (f"the released code {100 * v['released']:.1f}, " if "released" in v else "")
        + f"\"camlib\" {100 * v['camlib']:.1f}.",
    ]
    return lines


def page(mba: dict, components: dict, extractor: dict, widgets: dict, note: str,
         maps: int, imagenet: dict | None = None) -> str:
    t = mba["timings"]
    lines = [
        "# Benchmarks: camlib against the reference implementations",
        "",
        "Made by `python -m camcourse.benchmarks`; every row times camlib and the reference",
        "side by side in one run, on one CPU thread, as the median CPU time (user + sys).",
        "",
        f"- machine: {machine()}",
        f"- versions: {versions()}",
        f"- {note}" if note else "- the machine ran nothing else of note",
        "",
        "## GPU",
        "",
        *gpu_section(),
        "",
        "## MaxBoxAcc",
        "",
        f"{maps} CAMs of the GAP checkpoint on the test images (64×64), thresholds",
        "np.arange(0, 1, 1/T). camlib (`camlib.localize.max_box_acc`) reads each map once for",
        "the whole grid (`camlib.sweep`); the reference thresholds and traces contours once",
        "per map and threshold. Both compute BoxAcc(τ, 0.5) at every τ of the grid.",
        "",
        "| thresholds | loop / camlib sweep (\"camlib\") | loop / camlib sweep (\"choe2020\") "
        "| camlib (s) | choe2020 (s) | loop (s) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for count, row in t.items():
        lines.append(f"| {count} | {row['loop'] / row['camlib']:.1f}× | "
                     f"{row['loop'] / row['choe2020']:.1f}× | {row['camlib']:.3f} | "
                     f"{row['choe2020']:.3f} | {row['loop']:.2f} |")
    v2, parts = mba["v2"], mba["parts"]
    lines += [
        "",
        "MaxBoxAccV2 (the best box of every component, and in \"choe2020\" of every hole's",
        "contour, at δ = 0.3, 0.5, 0.7) at 100 thresholds: loop / camlib "
        f"{v2['loop'] / v2['camlib']:.1f}× (\"camlib\", {v2['camlib']:.3f} s), "
        f"{v2['loop'] / v2['choe2020']:.1f}× (\"choe2020\", {v2['choe2020']:.3f} s); "
        f"loop {v2['loop']:.2f} s. Holes are traced only for the maps that have them.",
        "",
        "Where camlib's MaxBoxAcc time goes at 100 thresholds (s; the whole and its parts",
        "timed in turn in one loop):",
        "",
        "| protocol | MaxBoxAcc | levels (normalize, count the thresholds each pixel passes) "
        "| sweep (union-find, boxes) | IoU with the ground truth |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {protocol} | {row['MaxBoxAcc']:.3f} | {row['levels']:.3f} | "
              f"{row['sweep']:.3f} | {row['IoU']:.3f} |" for protocol, row in parts.items()]
    v = mba["values"]
    lines += [
        "",
        "![time against the number of thresholds](benchmarks.png)",
        "",
        "Values over thresholds 0.00..0.99 (%): the protocol decides the number.",
        "",
        "| | MaxBoxAcc | MaxBoxAccV2 |",
        "|---|---:|---:|",
        f"| camlib, protocol \"camlib\" | {100 * v['camlib'][0]:.1f} | "
        f"{100 * v['camlib'][1]:.1f} |",
        f"| camlib, protocol \"choe2020\" | {100 * v['choe2020'][0]:.1f} | "
        f"{100 * v['choe2020'][1]:.1f} |",
        f"| Choe et al.'s evaluation, the port (OpenCV loop) | {100 * v['loop'][0]:.1f} | "
        f"{100 * v['loop'][1]:.1f} |",
        "",
        "The \"choe2020\" numbers equal the reference's exactly (every count at every",
        "threshold, tested in `tests/test_sweep.py` at 100 and 1000 thresholds); \"camlib\"",
        "equals camlib's threshold-by-threshold evaluation exactly.",
        "",
        *(imagenet_section(imagenet) + [""] if imagenet else []),
        "## Connected components on the CPU (256 masks)",
        "",
        "| masks | scipy / camlib | camlib (s) | scipy, one mask at a time (s) | "
        "device algorithm run on the CPU (s) | rounds run (CAM masks, noise) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for size, row in components.items():
        lines.append(f"| {size}×{size} | {row['scipy'] / row['camlib']:.2f}× | "
                     f"{row['camlib']:.3f} | {row['scipy']:.3f} | "
                     f"{row['device algorithm on the CPU']:.2f} | "
                     f"{row['rounds'][0]}, {row['rounds'][1]} |")
    overhead = extractor["overhead"]
    lines += [
        "",
        "On the CPU `camlib.torch.connected_components` is `scipy.ndimage.label` of each mask",
        "written in place; the iterative algorithm runs on CUDA, bounded by H·W rounds. It",
        "starts each row's runs at their first pixel and jumps twice a round, and",
        "`bounding_box` reads the largest component's box off its rows and columns. The",
        f"rounds run blind up to {ct.CHECKED_AFTER}, then one scalar tells the host whether",
        "the last round changed anything: one host read a call when the masks have converged",
        "by then, as CAM masks have (`tests/test_torch.py`, which also holds both paths",
        "equal); the rounds column counts the rounds run.",
        "",
        "## CAMExtractor",
        "",
        f"Median over {extractor['pairs']} pairs of runs of the ratio within each pair.",
        "",
        "| | overhead over the forward pass | forward (s) | forward + CAM (s) |",
        "|---|---:|---:|---:|",
        f"| GAP net, batch 256, 64 px | {100 * overhead:+.1f}% | {extractor['forward']:.3f} | "
        f"{extractor['forward + CAM']:.3f} |",
        "",
    ]
    return "\n".join(lines + widgets_section(widgets, WIDGET_REPEATS)) + "\n"


WIDGET_REPEATS = 5  # moves per control and way in the widget section


def widgets_section(medians: dict[str, dict[str, float]], repeats: int) -> list[str]:
    """The section of `camcourse.benchmarks.widgets`' medians ({control: {way: seconds}}):
    its table, and what the numbers say, computed from them."""
    from camcourse.benchmarks import widgets

    lines = [
        "## Lesson widgets in their kernels: layered printing against matplotlib's own",
        "",
        f"`python -m camcourse.benchmarks.widgets --repeats {repeats} --markdown` executes every",
        "lesson whose code names a widget in a Jupyter kernel, then moves each of the",
        "lesson's own controls through its values there: the lesson's function with the",
        "lesson's arguments, `plt.show()`, the inline backend's PNG and its message to the",
        "front end (the browser's display is not included). Each move is timed three ways,",
        "interleaved: **layers** (the figure reused and printed in layers by",
        "`camcourse.viz._render`, its own PNG writer), **matplotlib** (the same reused figure,",
        "updated with `set_data`, printed by Agg and Pillow as any figure is) and **mpl zlib",
        "1** (the same with `pil_kwargs={\"compress_level\": 1}`). Median of the moves; CPU is",
        "the kernel's CPU time of one move; wall times above CPU times are the wait for a",
        "core on a shared machine. Target: 100 ms.",
        "",
        widgets.table(medians, markdown=True),
    ]
    if medians:
        ms = {way: [1000 * row[way] for row in medians.values()]
              for way in ("layers", "matplotlib", "layers CPU", "mpl CPU")}
        over = [name for name, row in medians.items()
                if 1000 * row["layers"] > widgets.TARGET_MS]
        slow = sorted({name[:2] for name, row in medians.items()
                       if 1000 * row["mpl CPU"] > widgets.TARGET_MS})
        zlib = statistics.median(row["mpl zlib 1"] / row["matplotlib"] - 1
                                 for row in medians.values())
        lines += [
            "",
            f"The layers: {min(ms['layers CPU']):.0f}–{max(ms['layers CPU']):.0f} ms of CPU "
            f"a move, wall {min(ms['layers']):.0f}–{max(ms['layers']):.0f} ms; matplotlib's own "
            f"printing of the same reused figures: {min(ms['mpl CPU']):.0f}–"
            f"{max(ms['mpl CPU']):.0f} ms of CPU, wall {min(ms['matplotlib']):.0f}–"
            f"{max(ms['matplotlib']):.0f} ms. Over the target on the wall clock: "
            + (", ".join(over) if over else "none") + ".",
            "",
            "matplotlib's own means (the figure reused, `set_data`, a tight print) take more "
            "than the target's CPU on lessons " + (", ".join(slow) if slow else "none")
            + f"; Pillow's fastest compression changes the wall time by {100 * zlib:+.0f}% "
            "(median over the controls), so the PNG is not where the time goes: a tight print "
            "lays out and draws every tick label twice. "
            + ("`camcourse.viz._render`'s layers (matplotlib's blitting means, "
               "`copy_from_bbox`/`restore_region` and `draw_artist` of what changed, applied "
               "to a tight PNG print) are what brings those lessons under it." if slow else
               "matplotlib's own means reach the target on every lesson here."),
        ]
    return lines


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m camcourse.benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--maps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--note", default="", help="a line about the machine's load")
    parser.add_argument("--imagenet-maps", type=int, default=2000,
                        help="224×224 maps for the ImageNet-size rows")
    parser.add_argument("--loop-maps", type=int, default=100,
                        help="of them, how many Choe et al.'s loop evaluates")
    parser.add_argument("--wsolevaluation", metavar="PATH",
                        help="a checkout of github.com/clovaai/wsolevaluation: also time "
                        "its released evaluation code on the 224×224 maps")
    parser.add_argument("--out", default=str(paths.REPO_ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args(argv)
    if args.maps < 1 or args.repeats < 1:
        parser.error("--maps and --repeats must be at least 1")
    try:
        import cv2  # noqa: F401
    except ImportError:
        parser.error("the reference columns need OpenCV: pip install opencv-python-headless")
    import numba

    torch.set_num_threads(1)
    numba.set_num_threads(1)  # one thread, but where a row says "all cores"
    from camcourse.benchmarks import widgets

    maps, gt = course_maps(args.maps)
    mba = maxboxacc_rows(maps, gt, args.repeats)
    imagenet = imagenet_rows(args.imagenet_maps, min(args.loop_maps, args.imagenet_maps),
                             args.repeats, args.wsolevaluation)
    components = components_rows(args.repeats)
    extractor = extractor_row(max(10 * args.repeats, 40))
    redraws = widgets.main(["--repeats", str(WIDGET_REPEATS)])
    text = page(mba, components, extractor, redraws, args.note, args.maps, imagenet)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    plot(mba["timings"], out.with_suffix(".png"))
    print(text)
    return text


if __name__ == "__main__":
    main()
