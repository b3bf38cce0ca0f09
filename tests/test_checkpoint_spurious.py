"""The shortcut net of lesson 11 (data/gap_spurious.pt): it reproduces its recorded metrics,
and it took the shortcut (right when the cue agrees, at chance when the cue is random)."""

import numpy as np
import pytest

from camcourse import paths
from camcourse.models import GAPNet, checkpoint_metrics, load_checkpoint
from camcourse.variants import make_spurious_digits
from camlib.localize import evaluate_localization, predict

NAME = "gap_spurious"


def test_the_shortcut_net_records_its_command_and_data():
    assert (paths.DATA_DIR / f"{NAME}.pt").stat().st_size < 2 * 2**20
    metrics = checkpoint_metrics(NAME)
    assert metrics["command"].startswith("python -m camcourse.train --variant spurious")
    assert metrics["data"]["train"]["cue"] == "label" and metrics["data"]["test"]["cue"] == "random"
    assert isinstance(load_checkpoint(NAME), GAPNet)


@pytest.mark.slow
def test_the_shortcut_net_reproduces_its_recorded_metrics():
    metrics = checkpoint_metrics(NAME)
    params = metrics["data"]["test"]
    test = make_spurious_digits(params["n"], "test", seed=params["seed"], cue=params["cue"])
    result = evaluate_localization(load_checkpoint(NAME), test, "cam", thresholds=None)
    assert result.accuracy == pytest.approx(metrics["test_accuracy"], abs=0.004)
    assert result.gt_known_loc == pytest.approx(metrics["gt_known_loc"], abs=0.004)


def test_the_shortcut_net_follows_the_cue():
    model = load_checkpoint(NAME)
    agree = make_spurious_digits(300, "test", seed=5, cue="label")
    random = make_spurious_digits(300, "test", seed=5, cue="random")
    assert (predict(model, agree).numpy() == agree.labels).mean() >= 0.97
    predicted = predict(model, random).numpy()
    assert (predicted == random.cue_classes).mean() >= 0.95
    assert (predicted == random.labels).mean() < 0.2


@pytest.mark.slow
def test_training_on_the_spurious_variant_is_an_option(tmp_path, monkeypatch):
    from camcourse.train import main, train

    monkeypatch.setattr(paths, "CACHE_DIR", tmp_path)
    with pytest.raises(ValueError, match="variant must be one of"):
        train(variant="shortcut", progress=False)
    with pytest.raises(SystemExit):
        main(["--variant", "shortcut"])
    _, metrics = train(epochs=1, train_size=256, test_size=32, batch_size=32,
                       variant="spurious", progress=False)
    assert metrics["data"]["train"]["variant"] == "spurious"
    assert metrics["data"]["test"]["cue"] == "random"
    assert np.isfinite(metrics["test_accuracy"])
