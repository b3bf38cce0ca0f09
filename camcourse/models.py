"""The course's networks, and a pretrained torchvision ResNet for real photographs.

`GAPNet` is the paper's "little tweaking" on a small scale: conv blocks that keep a fine
last feature map (16×16 at 64 px), global pooling, one linear layer. Its parts are named
so that hooks find them by structure:

    features    nn.Sequential of conv blocks        x -> f_k(x, y)      (N, K, H, W)
    pool        nn.AdaptiveAvgPool2d(1) (or Max)    f_k -> F_k          (N, K, 1, 1)
    flatten     nn.Flatten()                                            (N, K)
    classifier  nn.Linear(K, C)                     F_k -> S_c = Σ_k w_k^c F_k + b_c

`FCNet` is the conventional head it replaces: features -> flatten -> hidden -> ReLU ->
output, with far more parameters and no CAM.

Example
-------
>>> model = GAPNet()
>>> model(torch.zeros(2, 3, 64, 64)).shape, model.features(torch.zeros(1, 3, 64, 64)).shape
(torch.Size([2, 10]), torch.Size([1, 128, 16, 16]))
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from urllib.error import URLError

import torch
from torch import nn

from camcourse import paths

__all__ = [
    "GAPNet",
    "FCNet",
    "conv_features",
    "parameter_count",
    "save_checkpoint",
    "load_checkpoint",
    "checkpoint_metrics",
    "load_pretrained_resnet",
    "imagenet_categories",
    "PRETRAINED",
]

CHANNELS = (16, 32, 64, 128)


def _conv_block(in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1
                ) -> nn.Sequential:
    """Convolution (padding keeps the size up to the stride), batch norm, ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def conv_features(channels: tuple[int, ...] = CHANNELS, map_stride: int = 4) -> nn.Sequential:
    """The convolutional trunk: a 5×5 stride-2 conv block, then one 3×3 conv block per
    further entry of ``channels``, with a 2×2 max pool after the second block (and after
    the third when ``map_stride=8``).

    The last feature map is (image size / map_stride) on a side: 16×16 at 64 px with the
    default stride 4. ``map_stride=8`` gives the coarse 8×8 map that localizes worse: the
    paper removes layers from VGG and GoogLeNet precisely to keep 14×14 instead of 7×7.
    A stride-2 first layer is cheap (3 input channels) and halves the cost of the rest.
    """
    if map_stride not in (4, 8):
        raise ValueError(f"map_stride must be 4 or 8, got {map_stride!r}")
    pools = 1 if map_stride == 4 else 2
    if len(channels) < pools + 2:
        raise ValueError(
            f"channels must have at least {pools + 2} entries for map_stride={map_stride}, "
            f"got {channels}"
        )
    layers: list[nn.Module] = [_conv_block(3, channels[0], kernel=5, stride=2)]
    for index in range(1, len(channels)):
        layers.append(_conv_block(channels[index - 1], channels[index]))
        if index <= pools:
            layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class GAPNet(nn.Module):
    """Conv blocks -> global average (or max) pooling -> one linear layer.

    Parameters
    ----------
    num_classes : C, number of outputs
    pool : "avg" (GAP, the paper's choice) or "max" (GMP, its comparison)
    channels : widths of the conv blocks; the last one is K, the number of maps f_k
    map_stride : 4 gives a 16×16 last map at 64 px, 8 an 8×8 one

    Example
    -------
    >>> parameter_count(GAPNet())
    99738
    """

    def __init__(self, num_classes: int = 10, pool: str = "avg",
                 channels: tuple[int, ...] = CHANNELS, map_stride: int = 4):
        super().__init__()
        if pool not in ("avg", "max"):
            raise ValueError(f'pool must be "avg" or "max", got {pool!r}')
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
        self.config = dict(kind="GAPNet", num_classes=num_classes, pool=pool,
                           channels=list(channels), map_stride=map_stride)
        self.features = conv_features(tuple(channels), map_stride)
        self.pool = nn.AdaptiveAvgPool2d(1) if pool == "avg" else nn.AdaptiveMaxPool2d(1)
        self.flatten = nn.Flatten()
        self.classifier = nn.Linear(channels[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.flatten(self.pool(self.features(x))))


class FCNet(nn.Module):
    """The conventional head: conv blocks -> flatten -> hidden linear -> ReLU -> linear.

    Every position of every map gets its own weights, so the head is large and tied to one
    image size; there is no single weight per channel, hence no CAM.

    >>> parameter_count(FCNet())
    2196314
    """

    def __init__(self, num_classes: int = 10, hidden: int = 64, image_size: int = 64,
                 channels: tuple[int, ...] = CHANNELS, map_stride: int = 4):
        super().__init__()
        if image_size % map_stride:
            raise ValueError(f"image_size must be a multiple of {map_stride}, got {image_size}")
        self.config = dict(kind="FCNet", num_classes=num_classes, hidden=hidden,
                           image_size=image_size, channels=list(channels),
                           map_stride=map_stride)
        side = image_size // map_stride
        self.features = conv_features(tuple(channels), map_stride)
        self.flatten = nn.Flatten()
        self.hidden = nn.Linear(channels[-1] * side * side, hidden)
        self.relu = nn.ReLU(inplace=True)
        self.classifier = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.relu(self.hidden(self.flatten(self.features(x)))))


def parameter_count(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (weights and biases, not BatchNorm's running statistics).

    >>> parameter_count(nn.Linear(128, 10))   # 128·10 weights + 10 biases
    1290
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


# --- the course's checkpoints -------------------------------------------------------------

_KINDS = {"GAPNet": GAPNet, "FCNet": FCNet}


def save_checkpoint(model: nn.Module, path: str | Path, metrics: dict | None = None) -> None:
    """Write ``{"config", "state_dict"}`` to ``path`` and ``metrics`` to path.json."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"config": model.config, "state_dict": state}, path)
    if metrics is not None:
        path.with_suffix(".json").write_text(json.dumps(metrics, indent=2) + "\n")


def _checkpoint_path(name: str | Path) -> Path:
    path = Path(name)
    if path.suffix != ".pt":
        path = paths.DATA_DIR / f"{name}.pt"
    if not path.exists():
        shipped = sorted(p.stem for p in paths.DATA_DIR.glob("*.pt"))
        if Path(name).suffix != ".pt" and not shipped:
            from camcourse.course import load_setting

            raise FileNotFoundError(
                f"no checkpoint {str(name)!r}: the course's trained networks (data/*.pt) are "
                f"not in {paths.DATA_DIR}. Install the course from a clone of "
                f"{load_setting().repo_url} (`pip install .` carries them), or set CAMLIB_DATA "
                f"to the data/ folder of a clone")
        raise FileNotFoundError(f"no checkpoint {str(name)!r} at {path}; shipped: {shipped}")
    return path


def load_checkpoint(name: str | Path = "gap", device: torch.device | str | None = None
                    ) -> nn.Module:
    """Load a course checkpoint in eval mode: a shipped name ("gap", "gmp", "gap8", and
    lesson 11's "gap_spurious") from ``camcourse.paths.DATA_DIR`` or a path to a .pt file
    written by `save_checkpoint`.

    >>> load_checkpoint("gap").pool
    AdaptiveAvgPool2d(output_size=1)
    """
    stored = torch.load(_checkpoint_path(name), map_location="cpu", weights_only=True)
    config = dict(stored["config"])
    model = _KINDS[config.pop("kind")](**{k: tuple(v) if isinstance(v, list) else v
                                           for k, v in config.items()})
    model.load_state_dict(stored["state_dict"])
    return model.to(device).eval()


def checkpoint_metrics(name: str | Path = "gap") -> dict:
    """The metrics recorded next to a checkpoint when it was trained (its .json file)."""
    return json.loads(_checkpoint_path(name).with_suffix(".json").read_text())


# --- a pretrained torchvision ResNet ------------------------------------------------------

PRETRAINED = {"resnet18": "ResNet18_Weights", "resnet50": "ResNet50_Weights"}


def _weights(name: str):
    import torchvision.models as tvm

    if name not in PRETRAINED:
        raise ValueError(f"name must be one of {sorted(PRETRAINED)}, got {name!r}")
    return getattr(tvm, PRETRAINED[name]).IMAGENET1K_V1


def imagenet_categories(name: str = "resnet18") -> list[str]:
    """The 1000 ImageNet class names, from torchvision's weights enum (no download).

    >>> imagenet_categories()[281]
    'tabby'
    """
    return list(_weights(name).meta["categories"])


def load_pretrained_resnet(name: str = "resnet18", timeout: float = 10.0,
                           device: torch.device | str | None = None
                           ) -> tuple[nn.Module | None, str]:
    """A torchvision ResNet with ImageNet weights, or None and a plain explanation.

    The weights come from torch's hub cache (``$TORCH_HOME/hub/checkpoints``) when present,
    otherwise they are downloaded. Without a network the download fails; this function then
    returns ``(None, message)`` instead of raising, and never waits longer than ``timeout``
    seconds for a silent network.

    Parameters
    ----------
    name : "resnet18" or "resnet50"
    timeout : seconds to wait for each network operation
    device : where to put the model

    Returns
    -------
    (model in eval mode, message) or (None, message). The model's preprocessing is
    ``_weights(name).transforms()``: resize 256, centre crop 224, ImageNet mean/std.

    Example
    -------
    >>> model, message = load_pretrained_resnet("resnet18")  # doctest: +SKIP
    >>> print(message)  # doctest: +SKIP
    Loaded resnet18 ImageNet weights from /root/.cache/torch/hub/checkpoints/...
    """
    import torchvision.models as tvm

    weights = _weights(name)
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    previous = socket.getdefaulttimeout()
    try:
        # urllib has no timeout of its own: a firewall that drops packets would hang.
        socket.setdefaulttimeout(timeout)
        state = weights.get_state_dict(progress=False, check_hash=False)
    except (URLError, OSError, TimeoutError) as error:
        reason = getattr(error, "reason", error)
        return None, (
            f"Could not download the pretrained {name} weights ({reason}). "
            f"This needs a network connection once; the file is then kept in {cached.parent}. "
            "Without it, continue with the course's own model: camcourse.models.load_checkpoint()."
        )
    except RuntimeError as error:  # a truncated or corrupt file in the cache
        return None, f"The cached {name} weights in {cached} could not be read ({error})."
    finally:
        socket.setdefaulttimeout(previous)
    model = getattr(tvm, name)()
    model.load_state_dict(state)
    return model.to(device).eval(), f"Loaded {name} ImageNet weights ({cached})."
