"""The course's networks: structure, shapes, parameter counts, checkpoints, ResNet loading."""

from urllib.error import URLError

import pytest
import torch
from torch import nn

from camcourse import models
from camcourse.models import FCNet, GAPNet, parameter_count


def _conv_params(cin, cout, k):
    return cin * cout * k * k + 2 * cout  # conv weights (no bias) + batch norm γ, β


def test_gapnet_structure_is_features_pool_flatten_one_linear():
    model = GAPNet()
    assert [name for name, _ in model.named_children()] == [
        "features", "pool", "flatten", "classifier"]
    assert isinstance(model.features, nn.Sequential)
    assert isinstance(model.pool, nn.AdaptiveAvgPool2d) and model.pool.output_size == 1
    assert isinstance(GAPNet(pool="max").pool, nn.AdaptiveMaxPool2d)
    assert isinstance(model.classifier, nn.Linear)
    assert model.classifier.in_features == 128 and model.classifier.out_features == 10


def test_last_map_is_16x16_at_64px_and_8x8_with_stride_8():
    x = torch.zeros(2, 3, 64, 64)
    assert GAPNet().eval().features(x).shape == (2, 128, 16, 16)
    assert GAPNet(map_stride=8).eval().features(x).shape == (2, 128, 8, 8)
    assert GAPNet(num_classes=7).eval()(x).shape == (2, 7)
    # global pooling makes the net accept any image size
    assert GAPNet().eval()(torch.zeros(1, 3, 96, 80)).shape == (1, 10)


def test_parameter_counts_by_hand():
    trunk = (_conv_params(3, 16, 5) + _conv_params(16, 32, 3) + _conv_params(32, 64, 3)
             + _conv_params(64, 128, 3))
    assert parameter_count(GAPNet()) == trunk + 128 * 10 + 10 == 99738
    assert parameter_count(GAPNet(map_stride=8)) == 99738  # pooling has no parameters
    fc = trunk + (128 * 16 * 16) * 64 + 64 + 64 * 10 + 10
    assert parameter_count(FCNet()) == fc == 2196314
    assert parameter_count(nn.Linear(3, 2)) == 8
    frozen = nn.Linear(3, 2)
    frozen.bias.requires_grad_(False)
    assert parameter_count(frozen, trainable_only=True) == 6


def test_gap_forward_is_pool_then_linear():
    torch.manual_seed(0)
    model = GAPNet().eval()
    x = torch.rand(3, 3, 64, 64)
    f = model.features(x)
    expected = f.mean(dim=(2, 3)) @ model.classifier.weight.T + model.classifier.bias
    torch.testing.assert_close(model(x), expected)
    gmp = GAPNet(pool="max").eval()
    f = gmp.features(x)
    expected = f.amax(dim=(2, 3)) @ gmp.classifier.weight.T + gmp.classifier.bias
    torch.testing.assert_close(gmp(x), expected)


def test_fcnet_head_is_flatten_hidden_relu_output():
    model = FCNet(hidden=32).eval()
    assert isinstance(model.hidden, nn.Linear) and model.hidden.in_features == 128 * 16 * 16
    assert model(torch.zeros(2, 3, 64, 64)).shape == (2, 10)
    with pytest.raises(ValueError, match="image_size"):
        FCNet(image_size=63)


@pytest.mark.parametrize("kwargs, name", [(dict(pool="sum"), "pool"),
                                          (dict(map_stride=3), "map_stride"),
                                          (dict(num_classes=0), "num_classes")])
def test_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        GAPNet(**kwargs)
    with pytest.raises(TypeError, match="model"):
        parameter_count("resnet")


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(1)
    model = GAPNet(pool="max", map_stride=8).eval()
    models.save_checkpoint(model, tmp_path / "net.pt", {"test_accuracy": 0.5})
    loaded = models.load_checkpoint(tmp_path / "net.pt")
    assert isinstance(loaded.pool, nn.AdaptiveMaxPool2d) and not loaded.training
    x = torch.rand(2, 3, 64, 64)
    torch.testing.assert_close(loaded(x), model(x))
    assert models.checkpoint_metrics(tmp_path / "net.pt") == {"test_accuracy": 0.5}
    with pytest.raises(FileNotFoundError, match="shipped"):
        models.load_checkpoint("no-such-net")


def test_imagenet_categories_need_no_download():
    names = models.imagenet_categories()
    assert len(names) == 1000 and names[281] == "tabby" and names[0] == "tench"
    assert models.imagenet_categories("resnet50") == names
    with pytest.raises(ValueError, match="resnet18"):
        models.imagenet_categories("vgg")


@pytest.mark.slow
def test_pretrained_resnet_loads_from_the_torch_cache_without_network(tmp_path, monkeypatch):
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    weights = torchvision.models.ResNet18_Weights.IMAGENET1K_V1
    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.manual_seed(0)
    reference = torchvision.models.resnet18().eval()
    torch.save(reference.state_dict(), checkpoints / weights.url.rsplit("/", 1)[1])

    def no_network(*args, **kwargs):
        raise AssertionError("the network must not be used when the file is cached")

    monkeypatch.setattr("torch.hub.urlopen", no_network)
    model, message = models.load_pretrained_resnet("resnet18")
    assert model is not None and "Loaded resnet18" in message and not model.training
    x = torch.rand(1, 3, 64, 64)
    torch.testing.assert_close(model(x), reference(x))


def test_pretrained_resnet_without_network_returns_a_message(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr("torch.hub.urlopen", offline)
    model, message = models.load_pretrained_resnet("resnet18", timeout=1.0)
    assert model is None
    assert "network" in message and "load_checkpoint" in message
    with pytest.raises(ValueError, match="resnet18"):
        models.load_pretrained_resnet("alexnet")


def test_pretrained_resnet_gives_up_on_a_silent_network(tmp_path, monkeypatch):
    import socket

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    seen = []

    def silent(*args, **kwargs):
        seen.append(socket.getdefaulttimeout())  # the timeout the download runs under
        raise TimeoutError("timed out")

    monkeypatch.setattr("torch.hub.urlopen", silent)
    before = socket.getdefaulttimeout()
    model, message = models.load_pretrained_resnet("resnet50", timeout=0.5)
    assert model is None and "timed out" in message
    assert seen == [0.5] and socket.getdefaulttimeout() == before
