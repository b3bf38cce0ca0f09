"""The benchmark commands run, and docs/results.md agrees with the shipped checkpoints."""

import re

import pytest

from camlib import paths
from camlib.benchmarks import localization, training
from camlib.models import checkpoint_metrics


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
            "python -m camlib.benchmarks.localization")


@pytest.mark.slow
def test_the_localization_table_on_a_few_images(capsys):
    text = localization.main(["--test-size", "40", "--no-write", "--step", "0.1"])
    rows = text.splitlines()[2:]
    assert [r.split(" | ")[0].strip("| ") for r in rows] == [
        "GAP-CAM", "GMP-CAM", "GAP-CAM, 8×8 map", "backprop on GAP", "centred box",
        "full image"]
    # The whole image is never a tight box around a digit of 40-65% of its side.
    assert rows[-1].split(" | ")[2:4] == ["0.0", "0.0"]
    assert "s on" in capsys.readouterr().out


@pytest.mark.slow
def test_the_training_benchmark_compares_two_precisions(capsys):
    medians = training.main(["--repeats", "1", "--steps", "1", "--batch-size", "4",
                             "--device", "cpu"])
    assert set(medians) == {"float32", "bfloat16"} and min(medians.values()) > 0
    out = capsys.readouterr().out
    assert "float32 / bfloat16" in out and "28000 steps" in out  # 16000 / 4 × 7
    with pytest.raises(SystemExit):
        training.main(["--steps", "0"])


@pytest.mark.slow
def test_the_widget_benchmark_times_every_lesson_widget(capsys):
    from camlib.benchmarks import widgets

    medians = widgets.main(["--repeats", "1"])
    assert [name[:2] for name in medians] == ["01", "03", "04", "05", "07", "08"]
    assert all(seconds > 0 for seconds in medians.values())
    assert "target 100 ms" in capsys.readouterr().out
