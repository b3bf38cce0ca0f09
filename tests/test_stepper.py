"""camcourse.viz.stepper: lesson 04's derivation, stepped through, on the shipped GAP net."""

from __future__ import annotations

import statistics
import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from IPython.core.pylabtools import print_figure  # noqa: E402

from camcourse.data import make_cluttered_digits, to_float  # noqa: E402
from camcourse.models import load_checkpoint  # noqa: E402
from camcourse.viz import _render, stepper  # noqa: E402

BUDGET_S = 0.100  # a widget redraw, the course's target
MARGIN = 2.5  # a shared 2-core machine: CPU time still grows with its load

SMALL_F = np.array([[[0, 1, 0], [1, 3, 1], [0, 1, 0]], [[2, 0, 0], [0, 0, 0], [0, 0, 1]]])
SMALL_W = np.array([[2.0, -1.0]])


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def network():
    test = make_cluttered_digits(8, "test", seed=0)
    model = load_checkpoint("gap")
    images = to_float(test.images)
    with torch.no_grad():
        features, logits = model.features(images), model(images)
    return features, model.classifier.weight.detach(), model.classifier.bias.detach(), logits


def test_every_line_reaches_the_networks_logit_for_every_image_and_class(network):
    features, weight, bias, logits = network
    for n in range(len(features)):
        for c in range(weight.shape[0]):
            d = stepper.derivation(features[n], weight, bias, c, float(logits[n, c]))
            assert d.positions == features.shape[2] * features.shape[3]
            for step in range(1, stepper.STEPS + 1):
                assert d.value(step) == pytest.approx(float(logits[n, c]), abs=1e-4)
                assert d.running_total(step)[0] == d.bias
                assert d.running_total(step)[-1] == pytest.approx(d.value(step), abs=1e-9)


def test_steps_add_the_same_numbers_in_different_orders(network):
    features, weight, bias, logits = network
    d = stepper.derivation(features[0], weight, bias, 3, float(logits[0, 3]))
    # Steps 2 and 3: the same K·Z terms, channel-major then position-major.
    assert sorted(d.added(2)) == sorted(d.added(3))
    assert not np.array_equal(d.added(2), d.added(3))
    np.testing.assert_allclose(d.added(2).reshape(d.shape[0], -1).sum(axis=1), d.added(1))
    np.testing.assert_allclose(d.added(3).reshape(d.positions, -1).sum(axis=1), d.added(4))


def test_a_logit_that_the_lines_do_not_reach_is_refused(network):
    features, weight, bias, logits = network
    with pytest.raises(ValueError, match="line 1 gives"):
        stepper.derivation(features[0], weight, bias, 3, float(logits[0, 3]) + 0.5)
    with pytest.raises(ValueError, match="features must be one image's maps"):
        stepper.derivation(features, weight, bias, 3)
    with pytest.raises(ValueError, match="weight must be"):
        stepper.derivation(features[0], weight[:, :5], bias, 3)
    with pytest.raises(ValueError, match="class_index"):
        stepper.derivation(features[0], weight, bias, 10)
    with pytest.raises(ValueError, match="step must be"):
        stepper.derivation(SMALL_F, SMALL_W, np.zeros(1), 0).added(5)


def test_each_step_boxes_the_one_term_it_changes():
    d = stepper.derivation(SMALL_F, SMALL_W, np.array([0.5]), 0)
    for step in range(1, stepper.STEPS + 1):
        text = stepper.step_text(d, step)
        assert text.count(r"\boxed{") == 1
        assert text.count(r"\\") == step - 1  # the lines so far, one per step
        assert f"{d.logit:.6g}" in text and "[[" not in text


def test_the_small_example_writes_every_number():
    d = stepper.derivation(SMALL_F, SMALL_W, np.array([0.5]), 0)
    texts = [t.get_text() for t in stepper.plot_step(d, 2).axes[0].texts]
    assert texts == [f"{v + 0.0:.2g}" for v in d.terms.ravel()]
    labels = [t.get_text() for t in stepper.plot_step(d, 1).axes[0].texts]
    assert labels == ["1.556", "-0.3333"]


def _redraw(d, step) -> bytes:
    fig = stepper.plot_step(d, step)
    png = print_figure(fig, "png", bbox_inches="tight")
    plt.close(fig)  # as the inline backend does after showing it
    return png


def test_redraws_are_printed_in_layers(network, monkeypatch):
    """The figure's tight box stays inside it, so the widget canvas never falls back to
    measuring and drawing everything again."""
    features, weight, bias, logits = network
    results = []
    original = _render.WidgetCanvas.tight_rgb

    def spy(self, pad):
        rgb = original(self, pad)
        results.append(rgb is not None)
        return rgb

    monkeypatch.setattr(_render.WidgetCanvas, "tight_rgb", spy)
    for step in range(1, stepper.STEPS + 1):
        for n in range(3):
            c = int(logits[n].argmax())
            _redraw(stepper.derivation(features[n], weight, bias, c, float(logits[n, c])), step)
    assert len(results) == 12 and all(results)


def test_a_redraw_takes_under_the_budget(network):
    """Median CPU time of a redraw (figure and PNG, as the inline backend prints it),
    each step, the image changing as the slider moves it."""
    features, weight, bias, logits = network
    derivations = [stepper.derivation(features[n], weight, bias, int(logits[n].argmax()),
                                      float(logits[n].max())) for n in range(len(features))]
    for step in range(1, stepper.STEPS + 1):
        _redraw(derivations[0], step)  # the first draw builds the figure
        times = []
        for d in derivations * 2:
            start = time.process_time()
            _redraw(d, step)
            times.append(time.process_time() - start)
        assert statistics.median(times) < BUDGET_S * MARGIN, (step, times)


def test_stills_are_shown_where_no_widget_frontend_runs(monkeypatch, capsys):
    for name in ("JPY_SESSION_NAME", "COLAB_RELEASE_TAG", "VSCODE_PID"):
        monkeypatch.delenv(name, raising=False)
    assert not stepper.has_widget_frontend()
    d = stepper.derivation(SMALL_F, SMALL_W, np.array([0.5]), 0, name="the 3×3 example")
    assert stepper.derivation_widget({"3×3": lambda i, c: d}, 1, {"c": 0}, stills=(d,)) is None
    out = capsys.readouterr().out
    assert [f"**Step {s} of 4**" in out for s in range(1, 5)] == [True] * 4
    assert out.count("Figure: Step") == 4
    monkeypatch.setenv("JPY_SESSION_NAME", "04.ipynb")
    assert stepper.has_widget_frontend()


def test_the_widget_draws_its_first_setting(capsys):
    d = stepper.derivation(SMALL_F, SMALL_W, np.array([0.5]), 0, name="the 3×3 example")
    widget = stepper.derivation_widget({"3×3": lambda i, c: d}, 1, {"c": 0}, static=False)
    assert widget is not None
    assert "**Step 1 of 4**" in capsys.readouterr().out


def test_step_4_draws_the_map_divided_by_z_and_ties_it_to_step_3():
    d = stepper.derivation(SMALL_F, SMALL_W, np.array([0.5]), 0, channel_base=1)
    fig = stepper.plot_step(d, 4)
    assert fig.axes[0].get_title() == r"added: $M_c(x,y)\,/\,Z$"
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), d.cam / 9)
    text = stepper.step_text(d, 4)
    assert ("$M_c(1, 1)$ = 6, ÷ 9 = 0.6667, the same number as step 3's position (1, 1)"
            in text)
    assert "(1, 1): 0.6667" in stepper.step_text(d, 3)
    # The running total writes its sum out: b_c + the sum = the total.
    assert "0.5 + 1.22222 = **1.72222**" in text


def test_the_small_example_numbers_its_channels_from_one():
    d = stepper.derivation(SMALL_F, SMALL_W, np.array([0.5]), 0, channel_base=1)
    assert "channel 1: 2 × 0.7778 = 1.556; channel 2:" in stepper.step_text(d, 1)
    assert "Channel 1: its map sums to 7" in stepper.step_text(d, 2)
    assert list(stepper.plot_step(d, 1).axes[0].get_xticks()) == [1, 2]
    fig = stepper.plot_step(d, 2)
    fig.canvas.draw()
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["1", "2"]
    with pytest.raises(ValueError, match="channel_base"):
        stepper.derivation(SMALL_F, SMALL_W, np.zeros(1), 0, channel_base=2)


def test_ticks_are_whole_numbers_and_the_logit_label_stays_clear(network):
    features, weight, bias, logits = network
    small = stepper.derivation(SMALL_F, SMALL_W, np.array([0.5]), 0, channel_base=1)
    big = stepper.derivation(features[0], weight, bias, 3, float(logits[0, 3]))
    for d in (small, big):
        for step in range(1, stepper.STEPS + 1):
            fig = stepper.plot_step(d, step)
            fig.canvas.draw()
            ax_total = fig.axes[1]
            assert all(float(t).is_integer() for t in ax_total.get_xticks())
            label = next(t for t in ax_total.texts if "logit" in t.get_text())
            box = label.get_window_extent()
            frame = ax_total.get_window_extent()
            assert frame.x0 <= box.x0 and box.x1 <= frame.x1
            assert frame.y0 <= box.y0 and box.y1 <= frame.y1, (d.name, step)
            end = ax_total.lines[-1]
            x, y = ax_total.transData.transform((end.get_xdata()[0], end.get_ydata()[0]))
            assert not box.expanded(1.0, 1.0).contains(x, y)
            plt.close(fig)
