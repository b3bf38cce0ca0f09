"""The benchmark commands run, and docs/results.md agrees with the shipped checkpoints."""

import os
import re

import numpy as np
import pytest

from camcourse import paths, stats
from camcourse.benchmarks import localization, training
from camcourse.models import checkpoint_metrics


def test_results_md_quotes_the_shipped_checkpoints():
    text = (paths.REPO_ROOT / "docs" / "results.md").read_text()
    assert "on 1000 images of the test split" in text  # the checkpoints' own test set
    for row, name in [("GAP-CAM", "gap"), ("GMP-CAM", "gmp"), ("GAP-CAM, 8×8 map", "gap8")]:
        line = re.search(rf"^\| {re.escape(row)} \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|", text,
                         re.MULTILINE)
        assert line, f"no row {row!r} in docs/results.md"
        metrics = checkpoint_metrics(name)
        assert metrics["data"]["test"]["n"] == 1000
        quoted = [float(v) for v in line.groups()]
        recorded = [100 * metrics[k] for k in ("test_accuracy", "top1_loc", "gt_known_loc")]
        assert quoted == pytest.approx(recorded, abs=0.051), (
            f"{row}: docs/results.md says {quoted}, data/{name}.json {recorded}; rerun "
            "python -m camcourse.benchmarks.localization")


@pytest.mark.slow
def test_the_localization_table_on_a_few_images(capsys):
    text = localization.main(["--test-size", "40", "--val-size", "30", "--heldout-size", "45",
                              "--repeats", "20", "--no-write", "--step", "0.1"])
    first, second = text.split("\n\n")
    rows = first.splitlines()[2:]
    assert [r.split(" | ")[0].strip("| ") for r in rows] == [
        "GAP-CAM", "GMP-CAM", "GAP-CAM, 8×8 map", "backprop on GAP", "centred box",
        "full image"]
    # The whole image is never a tight box around a digit of 40-65% of its side.
    assert rows[-1].split(" | ")[2:4] == ["0.0", "0.0"]
    # Choe et al.'s protocol: every method with a map, each number with an interval and τ.
    protocol = second.splitlines()[2:]
    assert [r.split(" | ")[0].strip("| ") for r in protocol] == [
        "GAP-CAM", "GMP-CAM", "GAP-CAM, 8×8 map", "backprop on GAP"]
    assert all(re.search(r"\[[\d.]+, [\d.]+\] \(τ 0\.\d\d\)", r) for r in protocol)
    out = capsys.readouterr().out
    assert "s on" in out and "Validation τ against the oracle" in out


def test_source_bootstrap_resamples_whole_digits():
    import numpy as np

    # Two digits: one with 3 hits out of 3 images, one with 0 of 1. A replicate draws two
    # digits with replacement: the means can only be 1, 0 or (3 + 0) / 4 = 0.75 ...
    hits = np.array([1.0, 1.0, 1.0, 0.0])
    replicates = stats.source_bootstrap(hits, np.array([5, 5, 5, 9]), repeats=200)
    assert set(np.round(replicates, 6)) <= {0.0, 0.75, 1.0} and len(set(replicates)) == 3
    # ... and a (T, N) matrix gives (repeats, T).
    both = stats.source_bootstrap(np.stack([hits, 1 - hits]), np.arange(4), repeats=7)
    assert both.shape == (7, 2)
    np.testing.assert_allclose(both.sum(1), 1.0)
    assert stats.interval(np.arange(101.0)) == pytest.approx((2.5, 97.5))
    with pytest.raises(ValueError, match="normalization"):
        localization.prepare(np.zeros((1, 2, 2)), "max")



def test_paired_difference_of_oracles_is_the_difference_of_replicate_maxima():
    import numpy as np

    rng = np.random.default_rng(1)
    a, b = ((rng.random((5, 40)) < p).astype(float) for p in (0.7, 0.5))
    sources = rng.integers(0, 12, 40)
    value, low, high = stats.paired_difference(a, b, sources, repeats=300, seed=3)
    both = stats.source_bootstrap(np.stack([a, b]), sources, 300, 3)
    expected = stats.interval(both[:, 0].max(1) - both[:, 1].max(1))
    assert value == pytest.approx(a.mean(1).max() - b.mean(1).max())
    assert (low, high) == pytest.approx(expected)
    assert stats.paired_difference(a[0], a[0], sources) == (0.0, 0.0, 0.0)


def test_stats_say_what_they_need():
    import numpy as np

    with pytest.raises(ValueError, match="one value per image"):
        stats.source_bootstrap(np.ones(3), [0, 1])
    with pytest.raises(ValueError, match="at least one image"):
        stats.source_bootstrap(np.ones(0), [])
    with pytest.raises(ValueError, match="repeats"):
        stats.source_bootstrap(np.ones(2), [0, 1], repeats=0)
    with pytest.raises(ValueError, match="level"):
        stats.interval([1.0, 2.0], level=95)
    with pytest.raises(ValueError, match="one shape"):
        stats.paired_difference(np.ones(3), np.ones(4), [0, 1, 2])
    # Lesson 07 imports these two from the benchmark until it imports them from camcourse.stats.
    assert localization.interval is stats.interval
    assert localization.source_bootstrap is stats.source_bootstrap

@pytest.mark.slow
def test_the_training_benchmark_compares_two_precisions(capsys):
    medians = training.main(["--repeats", "1", "--steps", "1", "--batch-size", "4",
                             "--device", "cpu"])
    assert set(medians) == {"float32", "bfloat16"} and min(medians.values()) > 0
    out = capsys.readouterr().out
    assert "float32 / bfloat16" in out and "28000 steps" in out  # 16000 / 4 × 7
    with pytest.raises(SystemExit):
        training.main(["--steps", "0"])


def test_the_widget_benchmark_finds_every_lesson_with_interact():
    import json

    from camcourse.benchmarks import widgets

    with_interact = []
    for lesson in sorted((paths.REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(lesson.read_text())["cells"]
        if any("interact(" in "".join(c["source"]) for c in cells if c["cell_type"] == "code"):
            with_interact.append(lesson)
    assert with_interact and set(with_interact) <= set(widgets.widget_lessons())


@pytest.mark.slow
def test_the_widget_benchmark_moves_a_lessons_own_slider(capsys):
    from camcourse.benchmarks import widgets

    medians = widgets.main(["--repeats", "1", "--lessons", "03"])
    assert list(medians) == ["03: show_scores: image"]
    assert all(seconds > 0 for seconds in medians["03: show_scores: image"].values())
    assert "target 100 ms" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        widgets.main(["--repeats", "0"])
    with pytest.raises(SystemExit):
        widgets.main(["--lessons", "02"])


def test_the_gpu_benchmark_says_so_and_exits_cleanly_without_cuda(monkeypatch, capsys):
    import torch

    from camcourse.benchmarks import gpu

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu.main(["--repeats", "1"]) == {}
    assert "no CUDA device" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        gpu.main(["--repeats", "0"])


@pytest.mark.slow
def test_the_gpu_benchmark_command_exits_cleanly_without_cuda():
    import subprocess
    import sys

    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is here: the command would benchmark it")
    done = subprocess.run([sys.executable, "-m", "camcourse.benchmarks.gpu"],
                          capture_output=True, text=True, cwd=paths.REPO_ROOT)
    assert done.returncode == 0 and "no CUDA device" in done.stdout


@pytest.mark.slow
def test_the_benchmark_page_puts_camlib_and_the_references_side_by_side(tmp_path):
    pytest.importorskip("cv2")
    from camcourse.benchmarks.__main__ import main

    text = main(["--maps", "8", "--repeats", "1", "--out", str(tmp_path / "b.md")])
    assert (tmp_path / "b.png").exists() and (tmp_path / "b.md").read_text() == text
    for row in ("| 100 |", "| 1000 |", "choe2020", "| 224×224 |", "GAP net, batch 256"):
        assert row in text


@pytest.mark.slow
def test_the_benchmark_page_times_maxboxacc_against_the_reference_loop(monkeypatch):
    pytest.importorskip("cv2")
    from camcourse.benchmarks import __main__ as bench

    monkeypatch.setattr(bench, "GRIDS", (10, 100))
    maps, gt = bench.course_maps(12)
    mba = bench.maxboxacc_rows(maps, gt, repeats=1)
    assert mba["values"]["choe2020"] == pytest.approx(mba["values"]["loop"])  # same protocol
    for parts in mba["parts"].values():
        assert set(parts) == {"MaxBoxAcc", "levels", "sweep", "IoU"}
    extractor = {"forward": 1.0, "forward + CAM": 1.02, "overhead": 0.02, "pairs": 3}
    widgets = {"01: show_channel: image": {"layers": 0.05, "matplotlib": 0.2,
                                           "mpl zlib 1": 0.19, "layers CPU": 0.04,
                                           "mpl CPU": 0.15}}
    text = bench.page(mba, {}, extractor, widgets, "", len(maps))
    assert re.search(r"^\| 100 \| [\d.]+× \| [\d.]+× \|", text, re.MULTILINE)
    assert "| camlib, protocol \"choe2020\" |" in text and "+2.0%" in text
    assert "| 01: show_channel: image | 50 ms | 200 ms | 190 ms | 40 ms | 150 ms |" in text
    assert "Over the target on the wall clock: none." in text


def test_the_released_evaluation_needs_a_checkout_of_it(tmp_path):
    from camcourse.benchmarks import wsol

    with pytest.raises(FileNotFoundError, match="clovaai/wsolevaluation"):
        wsol.released_counts(tmp_path, np.zeros((1, 4, 4)), np.zeros((1, 4)), [0.5])


@pytest.mark.skipif(not os.environ.get("CAMCOURSE_WSOLEVALUATION"),
                    reason="set CAMCOURSE_WSOLEVALUATION to a clone of clovaai/wsolevaluation")
def test_the_released_evaluation_counts_what_the_port_counts():
    pytest.importorskip("cv2")
    from camcourse.benchmarks import wsol
    from camcourse.benchmarks.__main__ import grid, resnet_like_maps

    maps, gt = resnet_like_maps(20, size=96, seed=3)
    taus = grid(100)
    for _ in range(2):  # a second call finds the modules of the first
        released = wsol.released_counts(os.environ["CAMCOURSE_WSOLEVALUATION"], maps.numpy(),
                                        gt.numpy(), taus)
    port = wsol.correct_counts(maps.numpy(), gt.numpy(), taus, (0.5,))[:, 0]
    assert np.array_equal(released, port) and released.max() > 0


def test_the_imagenet_section_adds_the_released_code_when_it_was_timed():
    from camcourse.benchmarks.__main__ import imagenet_section

    row = {"one thread": 1.0, "one thread cpu": 1.0, "all cores": 0.5, "all cores cpu": 1.0}
    rows = {"maps": 2000, "cores": 2, "loop": 4.0, "camlib": row, "choe2020": row,
            "values": {"n": 100, "camlib": 0.4, "choe2020": 0.42, "loop": 0.42}}
    text = "\n".join(imagenet_section(rows))
    assert "| camlib | 1.00 | 0.50 | 2.00× | 4.0× | 0.50 | 25 | 12 |" in text
    assert "`--wsolevaluation PATH` adds their released code" in text
    rows["released"], rows["values"]["released"] = 5.0, 0.42
    text = "\n".join(imagenet_section(rows))
    assert "| camlib | 1.00 | 0.50 | 2.00× | 4.0× | 5.0× | 0.50 | 25 | 12 |" in text
    assert "the released code 42.0" in text


def test_the_lesson_times_page_reads_back_what_it_wrote():
    from camcourse.benchmarks.lessons import page, read_page

    times = {"00_setup.ipynb": {"wall": 16.4, "cpu": 4.5, "threads": 2},
             "06_training_a_gap_network.ipynb": {"wall": 284.6, "cpu": 84.3, "threads": 2}}
    text = page(times, "python -m camcourse.benchmarks.lessons")
    assert read_page(text) == {"00_setup": {"wall": 16.0, "cpu": 4.0, "threads": 2.0},
                               "06_training_a_gap_network": {"wall": 285.0, "cpu": 84.0,
                                                             "threads": 2.0}}
    assert "The longest lesson but 06 takes 4 CPU seconds" in text
    assert "Lesson 06, which trains a network, takes 84." in text
