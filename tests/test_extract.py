"""CAMExtractor and GradCAMExtractor on torchvision models and on a course-style network."""

from collections import OrderedDict

import pytest
import torch
from torch import nn
from torchvision import models

from camlib.extract import CAMExtractor, GradCAMExtractor


def course_net(pool: nn.Module | None = None) -> nn.Module:
    """The layout of the course's own networks: features, pool, flatten, classifier."""
    torch.manual_seed(0)
    features = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 6, 3, padding=1), nn.ReLU()
    )
    return nn.Sequential(
        OrderedDict(
            features=features,
            pool=pool if pool is not None else nn.AdaptiveAvgPool2d(1),
            flatten=nn.Flatten(),
            classifier=nn.Linear(6, 5),
        )
    ).eval()


def tiny_densenet() -> nn.Module:
    torch.manual_seed(0)
    return models.DenseNet(
        growth_rate=4, block_config=(2, 2), num_init_features=8, num_classes=7
    ).eval()


@pytest.fixture(scope="module")
def resnet() -> nn.Module:
    """resnet18(weights=None) in eval mode, shared by the tests that do not change it."""
    torch.manual_seed(0)
    return models.resnet18(weights=None).eval()


def pooled_to_2x2() -> nn.Module:
    """A head CAM cannot explain: pooling to 2×2, then a linear layer on 4·K numbers."""
    return nn.Sequential(
        OrderedDict(
            features=nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU()),
            pool=nn.AdaptiveAvgPool2d(2),
            flatten=nn.Flatten(),
            classifier=nn.Linear(16, 3),
        )
    )


def no_hooks(model: nn.Module) -> bool:
    return all(not m._forward_hooks for m in model.modules())


def image(n: int = 1, size: int = 64) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(1))


def assert_cam_identity(cam: CAMExtractor, logits: torch.Tensor) -> None:
    """mean_{x,y} M_c(x, y) + b_c == S_c for every image and class (≤ 1e-4 relative)."""
    maps = cam.maps()
    assert maps.shape[:2] == logits.shape
    scores = maps.mean(dim=(2, 3)) + cam.bias
    torch.testing.assert_close(scores, logits, rtol=1e-4, atol=1e-4 * logits.abs().max().item())


# --- finding the layers and the CAM identity ------------------------------------------------


def test_resnet18_spatial_mean_plus_bias_is_the_logit(resnet):
    model = resnet
    with CAMExtractor(model) as cam:
        logits = model(image())
        assert cam.features.shape == (1, 512, 2, 2)
        assert_cam_identity(cam, logits)
        top = logits.argmax(1)
        one = cam.maps(top)
    assert (cam.feature_name, cam.classifier_name, cam.pool) == ("layer4", "fc", "avg")
    assert cam.weight.shape == (1000, 512)
    assert one.shape == (1, 2, 2)
    expected = logits[0, top] - cam.bias[top]
    torch.testing.assert_close(one.mean(dim=(1, 2)), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize(
    "build, feature_name, classifier_name",
    [
        (tiny_densenet, "features", "classifier"),
        (lambda: models.mobilenet_v2(weights=None, width_mult=0.25), "features", "classifier.1"),
        (lambda: models.efficientnet_b0(weights=None), "features", "classifier.1"),
        (course_net, "features", "classifier"),
    ],
    ids=["densenet", "mobilenet_v2", "efficientnet_b0", "course_net"],
)
def test_layers_found_without_a_forward_pass(build, feature_name, classifier_name):
    model = build().eval()
    calls = []
    model.register_forward_pre_hook(lambda *args: calls.append(1))
    with CAMExtractor(model) as cam:
        assert not calls  # nothing ran while the layers were found
        with torch.no_grad():
            logits = model(image(2))
        assert_cam_identity(cam, logits)
    assert (cam.feature_name, cam.classifier_name) == (feature_name, classifier_name)


def test_densenet_features_are_relu_applied():
    # DenseNet's forward() applies F.relu to the output of `features` before pooling:
    # that ReLU is part of f_k (the raw output has negative values).
    model = tiny_densenet()
    x = image()
    with torch.no_grad():
        raw = model.features(x)
        with CAMExtractor(model) as cam:
            model(x)
            features = cam.features
    assert cam.relu_features and raw.min() < 0
    torch.testing.assert_close(features, raw.clamp(min=0))


def test_max_pooled_course_net():
    model = course_net(nn.AdaptiveMaxPool2d(1))
    with CAMExtractor(model) as cam:
        logits = model(image(2))
        f, maps = cam.features, cam.maps()
    assert cam.pool == "max"
    # With max pooling the score is the weighted channel maxima, not the mean of M_c.
    torch.testing.assert_close(f.amax(dim=(2, 3)) @ cam.weight.T + cam.bias, logits)
    torch.testing.assert_close(maps, torch.einsum("ck,nkhw->nchw", cam.weight, f))


def test_two_linear_layers_are_refused_and_point_to_gradcam():
    model = models.mobilenet_v3_small(weights=None)
    with pytest.raises(ValueError, match=r"2 linear layers.*GradCAMExtractor"):
        CAMExtractor(model)
    with GradCAMExtractor(model) as gradcam:
        logits = model(image())
        maps = gradcam.maps(logits, 3)
    assert gradcam.feature_name == "features" and maps.shape == (1, 2, 2) and maps.min() >= 0


def test_non_linear_step_in_the_head_is_refused():
    model = course_net()
    model.flatten = nn.Sequential(nn.Flatten(), nn.ReLU())
    with pytest.raises(ValueError, match=r"ReLU.*GradCAMExtractor"):
        CAMExtractor(model)


def test_a_convolution_as_classifier_is_refused_by_name():
    """A 1×1 convolution after pooling is linear, but CAM reads w_k^c from an nn.Linear:
    the message names the layer and what may stand between pooling and the classifier."""
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                          nn.Conv2d(8, 4, 1), nn.Flatten())
    with pytest.raises(ValueError, match=r"other than Flatten, Dropout or Identity.*"
                                         r"3 \(Conv2d\).*GradCAMExtractor"):
        CAMExtractor(model)


@pytest.mark.parametrize("extractor", [CAMExtractor, GradCAMExtractor])
def test_a_compiled_model_is_refused_with_the_module_to_pass(extractor):
    """torch.compile's graph does not run hooks registered on the original layers, so a
    compiled model would record no f_k: it is refused, and the message says what to pass."""
    model = torch.compile(course_net())
    with pytest.raises(TypeError, match=r"model must be .*torch.compile.*_orig_mod"):
        extractor(model)
    with extractor(model._orig_mod) as ex:  # the original module works
        logits = model._orig_mod(image())
        maps = ex.maps(1) if extractor is CAMExtractor else ex.maps(logits, 1)
    assert maps.ndim == 3


def test_layers_by_name_or_module_give_the_same_maps(resnet):
    model = resnet
    x = image()
    results = []
    for layers in [(None, None), ("layer4", "fc"), (model.layer4, model.fc)]:
        with CAMExtractor(model, *layers) as cam:
            model(x)
            results.append(cam.maps())
    torch.testing.assert_close(results[0], results[1], rtol=0, atol=0)
    torch.testing.assert_close(results[0], results[2], rtol=0, atol=0)
    # An earlier layer by name: maps at its resolution need a matching classifier.
    with CAMExtractor(model, "layer3", "fc") as cam:
        model(x)
        # The message names the arguments the caller wrote: feature_layer and classifier.
        with pytest.raises(ValueError, match="feature_layer 'layer3' outputs K=256.*classifier"):
            cam.maps()


def test_unfindable_layers_and_bad_arguments(resnet):
    model = resnet
    with pytest.raises(ValueError, match="did you mean 'layer4'"):
        CAMExtractor(model, feature_layer="layer5")
    with pytest.raises(TypeError, match="classifier must be an nn.Linear"):
        CAMExtractor(model, classifier="layer4")
    with pytest.raises(ValueError, match="does not contain"):
        CAMExtractor(model, feature_layer=nn.Conv2d(1, 1, 1))
    with pytest.raises(TypeError, match="feature_layer must be a module name"):
        CAMExtractor(model, feature_layer=4)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        CAMExtractor("resnet18")
    with pytest.raises(ValueError, match="global pooling.*GradCAMExtractor"):
        CAMExtractor(pooled_to_2x2())


# --- hooks and state ------------------------------------------------------------------------


def test_no_hook_left_after_use_or_after_an_exception(resnet):
    model = resnet
    with CAMExtractor(model):
        assert len(model.layer4._forward_hooks) == 1
        model(image())
    assert no_hooks(model)
    with pytest.raises(RuntimeError):
        with CAMExtractor(model):
            model(torch.randn(1, 5, 64, 64))  # wrong channel count: conv1 raises
    assert no_hooks(model)
    with pytest.raises(KeyError):
        with GradCAMExtractor(model):
            raise KeyError("anything")
    assert no_hooks(model)


def test_second_extractor_on_the_same_model():
    model = course_net()
    with CAMExtractor(model) as first, CAMExtractor(model) as second:
        model(image())
        torch.testing.assert_close(first.maps(), second.maps(), rtol=0, atol=0)
    assert no_hooks(model)
    with first:  # an extractor can be used again after its block ends
        model(image(3))
        assert first.maps().shape[0] == 3
    with pytest.raises(RuntimeError, match="already active"):
        with first, first:
            pass
    assert no_hooks(model)


def test_works_under_inference_mode():
    model = course_net()
    with torch.inference_mode(), CAMExtractor(model) as cam:
        logits = model(image(2))
        maps = cam.maps([0, 4])
    assert maps.shape == (2, 64, 64)
    torch.testing.assert_close(maps.mean(dim=(1, 2)) + cam.bias[[0, 4]], logits[[0, 1], [0, 4]])


@pytest.mark.slow
@pytest.mark.parametrize("training", [True, False])
def test_train_eval_state_is_not_changed(training):
    model = models.resnet18(weights=None).train(training)
    with CAMExtractor(model) as cam, GradCAMExtractor(model) as gradcam:
        logits = model(image(2))
        cam.maps(0)
        gradcam.maps(logits, 0)
    assert all(m.training == training for m in model.modules())


def test_only_the_latest_activation_is_kept():
    model = course_net()
    with CAMExtractor(model) as cam:
        with pytest.raises(RuntimeError, match="no activation recorded"):
            cam.maps()
        model(image(1, 32))
        model(image(3, 16))
        assert cam.features.shape == (3, 6, 16, 16)


def test_maps_after_the_block_are_refused():
    """After the block the hook is gone: a later forward pass is not seen, so maps asked
    for then could belong to an older batch. The extractor says so instead."""
    model = course_net()
    with CAMExtractor(model) as cam, GradCAMExtractor(model) as gradcam:
        logits = model(image(2, 16))
        inside = cam.maps(0)
    model(image(1, 16))  # a new batch the extractors cannot see
    for call in (lambda: cam.maps(0), lambda: cam.features, lambda: gradcam.maps(logits, 0)):
        with pytest.raises(RuntimeError, match="block has ended"):
            call()
    with cam:  # entering again records afresh
        model(image(1, 16))
        assert cam.maps(0).shape == (1, 16, 16) and inside.shape == (2, 16, 16)
    assert no_hooks(model)


# --- Grad-CAM -------------------------------------------------------------------------------


def test_gradcam_alpha_is_w_over_z_on_a_gap_network():
    """α_k^c = (1/Z) Σ ∂S_c/∂f_k = w_k^c / Z, and Grad-CAM without ReLU is M_c / Z."""
    model = course_net()
    x = image(2, 16)
    with CAMExtractor(model) as cam, GradCAMExtractor(model) as gradcam:
        logits = model(x)
        alpha = gradcam.alphas(logits, [1, 3])
        grad_maps = gradcam.maps(logits, [1, 3], relu=False)
        relu_maps = gradcam.maps(logits, [1, 3])
        every = gradcam.maps(logits, relu=False)
        cam_maps, cam_every = cam.maps([1, 3]), cam.maps()
    z = 16 * 16
    torch.testing.assert_close(alpha, cam.weight[[1, 3]] / z)
    torch.testing.assert_close(grad_maps * z, cam_maps)
    torch.testing.assert_close(relu_maps, grad_maps.clamp(min=0))
    torch.testing.assert_close(every * z, cam_every)


def test_gradcam_uses_logits_not_probabilities():
    model = course_net()
    with GradCAMExtractor(model) as gradcam:
        logits = model(image(1, 8))
        from_logits = gradcam.alphas(logits, 2)
        from_probs = gradcam.alphas(logits.softmax(1), 2)
    assert not torch.allclose(from_logits, from_probs)
    torch.testing.assert_close(from_logits, model.classifier.weight[2:3].detach() / 64)


def test_gradcam_on_resnet18_and_densenet_equals_cam_over_z(resnet):
    for model in [resnet, tiny_densenet()]:
        with CAMExtractor(model) as cam, GradCAMExtractor(model) as gradcam:
            logits = model(image())
            grad_maps = gradcam.maps(logits, 7 % logits.shape[1], relu=False)
            z = cam.features.shape[2] * cam.features.shape[3]
            expected = cam.maps(7 % logits.shape[1]) / z
        torch.testing.assert_close(grad_maps, expected, rtol=1e-4, atol=1e-6)


def test_gradcam_leaves_parameter_gradients_alone_and_works_frozen():
    model = course_net()
    with GradCAMExtractor(model) as gradcam:
        gradcam.maps(model(image()), 0)
    assert all(p.grad is None for p in model.parameters())
    model.requires_grad_(False)  # a frozen, pretrained-style model
    with GradCAMExtractor(model) as gradcam:
        maps = gradcam.maps(model(image()), 0, relu=False)
    assert maps.abs().sum() > 0


def test_gradcam_needs_gradients_and_matching_logits():
    model = course_net()
    with GradCAMExtractor(model) as gradcam:
        with torch.no_grad():
            logits = model(image())
        with pytest.raises(RuntimeError, match="gradients enabled"):
            gradcam.maps(logits, 0)
        stale = model(image())
        model(image())
        with pytest.raises(RuntimeError, match="latest forward pass"):
            gradcam.maps(stale, 0)
        with pytest.raises(ValueError, match="classes"):
            gradcam.maps(model(image()), 5)


def test_gradcam_finds_a_layer_in_models_cam_cannot_use():
    model = pooled_to_2x2()
    with GradCAMExtractor(model) as gradcam:
        maps = gradcam.maps(model(image(1, 8)), 0)
    assert gradcam.feature_name == "features" and maps.shape == (1, 8, 8)
    assert GradCAMExtractor(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten())).feature_name == "0"


@pytest.mark.slow
def test_the_gpu_benchmark_runs_on_the_cpu(capsys, tmp_path):
    """`python -m camcourse.benchmarks.gpu --device cpu --quick`: every step runs, the
    anchors that are not installed are skipped with a note, MaxBoxAcc is projected, and
    ``--out`` writes the printout as a page with the command that made it."""
    from camcourse.benchmarks import gpu

    page = tmp_path / "gpu.md"
    results = gpu.main(["--device", "cpu", "--quick", "--no-tests", "--out", str(page)])
    out = capsys.readouterr().out
    text = page.read_text()
    assert text.startswith("# Benchmarks on a GPU\n")
    assert f"`python -m camcourse.benchmarks.gpu --device cpu --quick --no-tests --out {page}`" \
        in text
    assert out.strip() in text
    assert set(results) == {"resnet18", "GAPNet"}
    for rates in results.values():
        assert {"forward", "+ camlib CAM", "+ camlib Grad-CAM", "+ camlib CAM + boxes",
                "MaxBoxAcc maps/s"} <= set(rates)
        assert all(rate > 0 for rate in rates.values())
    for anchor, module in (("TorchCAM", "torchcam"), ("pytorch-grad-cam", "pytorch_grad_cam")):
        try:
            __import__(module)
        except ImportError:
            assert f"{anchor} not installed" in out
        else:
            assert f"+ {anchor}" in out
    assert "50,000 maps" in out


@pytest.mark.slow
def test_the_gpu_benchmark_skips_an_anchor_that_fails_at_its_precision(capsys):
    """pytorch-grad-cam hands tensors to NumPy, which has no bfloat16: under bfloat16
    autocast its row is skipped with the reason, and camlib's rows are measured."""
    pytest.importorskip("pytorch_grad_cam")
    from camcourse.benchmarks import gpu

    results = gpu.main(["--device", "cpu", "--quick", "--no-tests", "--precision", "bfloat16"])
    out = capsys.readouterr().out
    assert "pytorch-grad-cam fails under bfloat16" in out and "its row is skipped" in out
    for rates in results.values():
        assert "+ pytorch-grad-cam" not in rates
        assert {"+ camlib CAM", "+ camlib Grad-CAM", "+ camlib CAM + boxes"} <= set(rates)
