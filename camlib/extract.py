"""Getting f_k, w_k^c and b_c out of a real network: CAM and Grad-CAM extractors.

A CAM network ends with  features -> global pooling -> one linear layer::

    f_k(x, y)  the output of the feature layer, (N, K, H, W)
    F_k        = (1/Z) Σ_{x,y} f_k(x, y)          (a pooling module, or functional)
    S_c        = Σ_k w_k^c F_k + b_c               (nn.Linear: weight (C, K), bias (C,))
    M_c(x, y)  = Σ_k w_k^c f_k(x, y),   so   S_c = (1/Z) Σ_{x,y} M_c(x, y) + b_c

:class:`CAMExtractor` hooks the feature layer to keep the latest f_k and reads w and b
from the linear layer. :class:`GradCAMExtractor` needs no particular head: it weights
the channels by the mean gradient of the logit, α_k^c = (1/Z) Σ_{x,y} ∂S_c/∂f_k(x, y).

Both find their layers by looking at the model's structure (no dummy forward pass) for
torchvision's ResNet, DenseNet, MobileNet v2/v3, EfficientNet, ShuffleNet v2, MNASNet,
RegNet and for any network whose children read ``features ... ->
nn.AdaptiveAvgPool2d(1) (or Max) -> [nn.Flatten] -> nn.Linear`` (the course's own
networks), also inside nn.Sequential children and inside a wrapper module that holds
the network as its one child; otherwise pass the layers by name or as modules.

Example
-------
>>> from torchvision.models import resnet18
>>> model = resnet18(weights=None).eval()
>>> x = torch.randn(1, 3, 64, 64)
>>> with CAMExtractor(model) as cam:
...     logits = model(x)
...     maps = cam.maps(logits.argmax(1))          # (1, 2, 2): M_c at the layer4 resolution
>>> scores = maps.mean(dim=(1, 2)) + cam.bias[logits.argmax(1)]
>>> torch.allclose(scores, logits.max(1).values, rtol=1e-4, atol=1e-5)
True
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

import torch
import torch.nn.functional as F
from torch import nn

from camlib import torch as cam_torch
from camlib import validation

__all__ = ["CAMExtractor", "GradCAMExtractor"]

Classes = int | Sequence[int] | torch.Tensor | None

# Layers that may sit between global pooling and the classifier without changing S_c.
_TRANSPARENT = (nn.Flatten, nn.Dropout, nn.Identity)


@dataclass
class _Layout:
    """What the model's structure says: where f_k comes from and what follows it."""

    feature_layer: str
    pool: str  # "avg" or "max"
    head: list[tuple[str, nn.Module]]  # the modules after global pooling, in order
    relu_features: bool = False  # the model applies F.relu to the feature layer's output


def _is_torchvision(model: nn.Module, module: str, name: str) -> bool:
    """isinstance(model, torchvision.models.<module>.<name>), without importing torchvision
    (a model of that class can only exist if its module was imported)."""
    loaded = sys.modules.get(f"torchvision.models.{module}")
    return loaded is not None and isinstance(model, getattr(loaded, name))


def _is_compiled(model: nn.Module) -> bool:
    """Whether ``model`` is what torch.compile returns (an OptimizedModule), without
    importing torch._dynamo (such a module can only exist if it was imported)."""
    loaded = sys.modules.get("torch._dynamo.eval_frame")
    return loaded is not None and isinstance(model, getattr(loaded, "OptimizedModule", ()))


def _is_global_pool(module: nn.Module) -> bool:
    if not isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        return False
    size = module.output_size
    return size == 1 or (isinstance(size, (tuple, list)) and tuple(size) == (1, 1))


def _leaves(prefix: str, module: nn.Module) -> list[tuple[str, nn.Module]]:
    """The modules a head applies in order; only nn.Sequential is opened up."""
    if isinstance(module, nn.Sequential):
        out = []
        for name, child in module.named_children():
            out += _leaves(f"{prefix}.{name}", child)
        return out
    return [(prefix, module)]


# torchvision networks that pool in forward() (F.adaptive_avg_pool2d, x.mean([2, 3])), not
# in a child: their feature layer and the child that takes the pooled vector. DenseNet
# also applies F.relu to the output of `features`, so that ReLU belongs to f_k.
_FUNCTIONAL_POOL = {
    ("densenet", "DenseNet"): ("features", "classifier", True),
    ("mobilenetv2", "MobileNetV2"): ("features", "classifier", False),
    ("shufflenetv2", "ShuffleNetV2"): ("conv5", "fc", False),
    ("mnasnet", "MNASNet"): ("layers", "classifier", False),
}


def _locate(model: nn.Module, prefix: str = "") -> _Layout | None:
    """Find the feature layer and the head from the model's children, without running it.

    The children are read in order; the layer before the first global pooling child is
    the feature layer. Where no child pools, a wrapper with one child (a module that
    holds the network, ``Wrapper(net)``) is looked through, and so are the
    ``nn.Sequential`` children that hold the pooling (``Sequential(body, Sequential(pool,
    Flatten, Linear))``): their order is their forward order."""
    for (module, name), (feature, head, relu) in _FUNCTIONAL_POOL.items():
        if _is_torchvision(model, module, name):
            return _Layout(prefix + feature, "avg", _leaves(prefix + head, getattr(model, head)),
                           relu)
    children = [(prefix + name, module) for name, module in model.named_children()]
    layout = _pool_in(children)
    if layout is not None or not children:
        return layout
    if len(children) == 1:  # a wrapper: the network is its one child
        name, child = children[0]
        return _locate(child, name + ".")
    opened = _open_sequentials(children)
    return _pool_in(opened, nested=True) if opened != children else None


def _pool_in(children: list[tuple[str, nn.Module]], nested: bool = False) -> _Layout | None:
    """The layout of modules applied in this order, if one of them pools globally.
    ``nested``: the list was opened up from nn.Sequential children, where a global pool
    may also be a squeeze-and-excitation block's: it counts only when no convolution and
    no other pooling follows it (a classifier head does not convolve)."""
    for i, (_, module) in enumerate(children):
        if _is_global_pool(module):
            # Auxiliary classifiers (GoogLeNet, Inception) are children but not on the path.
            before = [(n, m) for n, m in children[:i] if not n.rsplit(".", 1)[-1].lower()
                      .startswith("aux")]
            if not before:
                return None
            feature, container = before[-1]
            while isinstance(container, nn.ModuleList) and len(container):
                # A ModuleList is never called: forward() runs its modules in turn
                # (MaxViT's blocks), so the last of them outputs f_k.
                feature, container = f"{feature}.{len(container) - 1}", container[-1]
            rest = children[i + 1:]
            if nested and any(isinstance(m, (nn.Conv2d, nn.AdaptiveAvgPool2d,
                                             nn.AdaptiveMaxPool2d))
                              for _, child in rest for m in child.modules()):
                continue
            head = [leaf for n, m in rest for leaf in _leaves(n, m)]
            pool = "avg" if isinstance(module, nn.AdaptiveAvgPool2d) else "max"
            return _Layout(feature, pool, head)
    return None


def _open_sequentials(children: list[tuple[str, nn.Module]]) -> list[tuple[str, nn.Module]]:
    """The children with every nn.Sequential that holds a global pool replaced by its own
    children, again and again: the modules in the order they run."""
    out = []
    for name, module in children:
        if isinstance(module, nn.Sequential) and any(_is_global_pool(m)
                                                     for m in module.modules()):
            out += _open_sequentials([(f"{name}.{n}", m) for n, m in module.named_children()])
        else:
            out.append((name, module))
    return out


def _resolve(model: nn.Module, layer: str | nn.Module, argument: str) -> tuple[str, nn.Module]:
    """A layer given by name or as a module -> (name, module), checked to be in ``model``."""
    modules = dict(model.named_modules())
    if isinstance(layer, str):
        if layer not in modules:
            close = difflib.get_close_matches(layer, [n for n in modules if n], n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise ValueError(
                f"{argument} must name a submodule of the model, got {layer!r}, "
                f"which {type(model).__name__} does not have{hint}"
            )
        return layer, modules[layer]
    if isinstance(layer, nn.Module):
        for name, module in modules.items():
            if module is layer:
                return name, module
        raise ValueError(
            f"{argument} must be a submodule of the model, got a {type(layer).__name__} "
            f"that {type(model).__name__} does not contain"
        )
    raise TypeError(
        f"{argument} must be a module name (str) or an nn.Module, got {type(layer).__name__}"
    )


def _not_found(model: nn.Module, argument: str) -> ValueError:
    names = [n for n, _ in model.named_children()]
    return ValueError(
        f"could not find the {argument} of {type(model).__name__}: none of its children "
        f"{names} is a global pooling layer (nn.AdaptiveAvgPool2d(1) or "
        f"nn.AdaptiveMaxPool2d(1)); pass {argument}= as a module name or an nn.Module. "
        "CAM needs a network that ends with global pooling and one linear layer; "
        "GradCAMExtractor works for any convolutional network"
    )


class _Hooked:
    """Registers one forward hook on the feature layer while the ``with`` block runs."""

    def __init__(self, model: nn.Module, feature_layer: str | nn.Module | None = None) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if _is_compiled(model):
            raise TypeError(
                "model must be the network itself, not its torch.compile wrapper: the "
                "compiled graph does not run the forward hooks that record f_k. Pass "
                "model._orig_mod (the original module) and run that inside the block"
            )
        self.model = model
        self._layout = _locate(model)
        if feature_layer is None:
            feature_layer = self._default_feature_layer()
        self.feature_name, self.feature_layer = _resolve(model, feature_layer, "feature_layer")
        layout = self._layout
        self.relu_features = bool(
            layout and layout.relu_features and self.feature_name == layout.feature_layer
        )
        self._activation: torch.Tensor | None = None
        self._handle: torch.utils.hooks.RemovableHandle | None = None

    def _default_feature_layer(self) -> str:
        if self._layout is None:
            raise _not_found(self.model, "feature_layer")
        return self._layout.feature_layer

    def _hook(self, module: nn.Module, inputs: tuple, output: object) -> None:
        if not isinstance(output, torch.Tensor):
            raise TypeError(
                f"feature_layer {self.feature_name!r} must output a tensor (N, K, H, W), "
                f"got {type(output).__name__}"
            )
        self._activation = output  # only the latest activation is kept

    def __enter__(self):
        if self._handle is not None:
            raise RuntimeError(
                f"this {type(self).__name__} is already active; create a second extractor "
                "for the same model instead of entering this one twice"
            )
        self._activation = None
        self._handle = self.feature_layer.register_forward_hook(self._hook)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Runs whether or not an exception passes through: no hook is ever left behind.
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def _latest(self) -> torch.Tensor:
        if self._handle is None and self._activation is not None:
            # Without its hook the extractor cannot see later forward passes, so the
            # recorded f_k may belong to an older batch than the caller's latest one.
            raise RuntimeError(
                f"the `with {type(self).__name__}(model)` block has ended, so the hook no "
                "longer records the model's forward passes: ask for features and maps "
                "inside the block, right after the forward pass they belong to"
            )
        if self._activation is None:
            raise RuntimeError(
                f"no activation recorded yet: run the model inside `with {type(self).__name__}"
                "(model) as ...:` before asking for maps"
            )
        f = self._activation
        return F.relu(f) if self.relu_features else f


class CAMExtractor(_Hooked):
    """Class activation maps of a network that ends with global pooling and one linear layer.

    M_c(x, y) = Σ_k w_k^c f_k(x, y), where f_k is the latest output of ``feature_layer`` and
    w the weight of ``classifier``. For a mean-pooled network the maps give back the
    logits: S_c = (1/Z) Σ_{x,y} M_c(x, y) + b_c (Z = H·W).

    Parameters
    ----------
    model : nn.Module
        Never run nor switched between train and eval by the extractor.
    feature_layer : str, nn.Module or None
        The layer whose output is f_k; None finds it (see the module docstring).
    classifier : str, nn.Module or None
        The nn.Linear after pooling; None finds it. A head with anything but one linear
        layer (and Flatten/Dropout/Identity) is refused: use :class:`GradCAMExtractor`.

    Attributes
    ----------
    features : tensor (N, K, H, W), f_k of the latest forward pass (detached); like
        :meth:`maps`, only inside the ``with`` block (after it, a RuntimeError: the
        extractor no longer sees the model's forward passes)
    weight : tensor (C, K), w_k^c
    bias : tensor (C,) or None, b_c
    pool : "avg", "max" or None (unknown, when the layers were given by hand)

    Example
    -------
    >>> model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
    ...                       nn.Flatten(), nn.Linear(4, 2))
    >>> x = torch.randn(5, 3, 8, 8)
    >>> with CAMExtractor(model) as cam:
    ...     logits = model(x)
    ...     maps = cam.maps(logits.argmax(1))     # (N, H, W); cam.maps() gives (N, C, H, W)
    >>> cam.feature_name, cam.classifier_name, tuple(maps.shape)
    ('1', '4', (5, 6, 6))
    >>> scores = maps.mean(dim=(1, 2)) + cam.bias[logits.argmax(1)]   # (1/Z) Σ M_c + b_c
    >>> torch.allclose(scores, logits.max(1).values, atol=1e-6)
    True
    """

    def __init__(
        self,
        model: nn.Module,
        feature_layer: str | nn.Module | None = None,
        classifier: str | nn.Module | None = None,
    ) -> None:
        super().__init__(model, feature_layer)
        layout = self._layout
        if classifier is None:
            if layout is None:
                raise _not_found(model, "classifier")
            classifier = self._single_linear(layout)
        self.classifier_name, self.classifier = _resolve(model, classifier, "classifier")
        if not isinstance(self.classifier, nn.Linear):
            raise TypeError(
                f"classifier must be an nn.Linear (weight (C, K)), got "
                f"{type(self.classifier).__name__} {self.classifier_name!r}"
            )
        found = layout is not None and self.feature_name == layout.feature_layer
        self.pool: str | None = layout.pool if found else None

    def _single_linear(self, layout: _Layout) -> str:
        model = type(self.model).__name__
        linear = [name for name, m in layout.head if isinstance(m, nn.Linear)]
        other = [
            f"{name} ({type(m).__name__})"
            for name, m in layout.head
            if not isinstance(m, (nn.Linear, *_TRANSPARENT))
        ]
        if len(linear) == 1 and not other:
            return linear[0]
        if len(linear) > 1:
            why = f"{len(linear)} linear layers ({', '.join(linear)})"
        elif other:
            why = (f"a layer other than Flatten, Dropout or Identity between pooling and "
                   f"the classifier: {', '.join(other)}")
        else:
            why = "no linear layer"
        raise ValueError(
            f"CAM needs global pooling followed by exactly one linear layer, so that "
            f"S_c = Σ_k w_k^c F_k + b_c; the head of {model} has {why}. "
            "Use GradCAMExtractor(model) instead, which works for any head."
        )

    def _hook(self, module: nn.Module, inputs: tuple, output: object) -> None:
        super()._hook(module, inputs, output)
        self._activation = self._activation.detach()  # CAM needs no graph

    @property
    def features(self) -> torch.Tensor:
        """f_k(x, y) of the latest forward pass, (N, K, H, W)."""
        return self._latest()

    @property
    def weight(self) -> torch.Tensor:
        """w_k^c, the classifier's weight, (C, K)."""
        return self.classifier.weight.detach()

    @property
    def bias(self) -> torch.Tensor | None:
        """b_c, the classifier's bias, (C,), or None."""
        bias = self.classifier.bias
        return None if bias is None else bias.detach()

    def maps(self, classes: Classes = None, check: bool = True) -> torch.Tensor:
        """M_c(x, y) = Σ_k w_k^c f_k(x, y) for the latest forward pass.

        Parameters
        ----------
        classes : None, int, or N ints (e.g. ``logits.argmax(1)``)
            None: every class, (N, C, H, W). Otherwise one map per image, (N, H, W).
        check : check the values (finite maps, classes in range): on the CPU at once, on
            a GPU on the device without making the host wait
            (`camlib.torch.class_activation_maps`); False skips them

        Returns
        -------
        tensor on the features' device; not upsampled, not normalized, no ReLU.

        Raises RuntimeError outside the ``with`` block (before a forward pass, or after the
        block, when the maps could describe an older batch than the model's latest).
        """
        features, weight = self.features, self.weight
        if features.ndim == 4 and features.shape[1] != weight.shape[1]:
            raise ValueError(
                f"feature_layer {self.feature_name!r} outputs K={features.shape[1]} channels "
                f"but classifier {self.classifier_name!r} takes K={weight.shape[1]} inputs: "
                "feature_layer must be the layer whose output is pooled into the classifier"
            )
        return cam_torch.class_activation_maps(features, weight, classes, check)


class GradCAMExtractor(_Hooked):
    """Grad-CAM (Selvaraju et al., 2017): CAM for any convolutional network.

    α_k^c = (1/Z) Σ_{x,y} ∂S_c/∂f_k(x, y)     (S_c the logit, not the probability)
    L_c(x, y) = ReLU(Σ_k α_k^c f_k(x, y))

    On a network with global average pooling and one linear layer, ∂S_c/∂f_k(x, y) =
    w_k^c / Z at every position, so α_k^c = w_k^c / Z and, without the ReLU,
    L_c = M_c / Z: Grad-CAM is CAM up to a positive factor.

    Parameters
    ----------
    model : nn.Module
        Never switched between train and eval; parameter gradients (``.grad``) are not
        touched (the gradient is taken with ``torch.autograd.grad``).
    feature_layer : str, nn.Module or None
        None finds the layer before global pooling as :class:`CAMExtractor` does, else
        the child called ``features``, else the last nn.Conv2d.

    The forward pass must run with gradients enabled (not under ``torch.no_grad()``).

    Example
    -------
    >>> model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
    ...                       nn.Flatten(), nn.Linear(4, 2))
    >>> x = torch.randn(5, 3, 8, 8)
    >>> with GradCAMExtractor(model) as gradcam, CAMExtractor(model) as cam:
    ...     logits = model(x)
    ...     maps = gradcam.maps(logits, logits.argmax(1))   # (N, H, W)
    ...     cams = cam.maps(logits.argmax(1))
    >>> torch.allclose(maps, torch.relu(cams) / 36, atol=1e-7)    # ReLU(M_c / Z), Z = 6·6
    True
    """

    def _default_feature_layer(self) -> str:
        if self._layout is not None:
            return self._layout.feature_layer
        children = list(self.model.named_children())
        for i, (_, module) in enumerate(children):
            if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)) and i > 0:
                return children[i - 1][0]
        if "features" in dict(children):
            return "features"
        convs = [n for n, m in self.model.named_modules() if isinstance(m, nn.Conv2d)]
        if not convs:
            raise ValueError(
                f"could not find a convolutional layer in {type(self.model).__name__}; "
                "pass feature_layer= as a module name or an nn.Module"
            )
        return convs[-1]

    def _hook(self, module: nn.Module, inputs: tuple, output: object) -> torch.Tensor | None:
        super()._hook(module, inputs, output)
        if torch.is_grad_enabled() and not output.requires_grad:
            # A frozen model (no parameter needs a gradient) builds no graph up to here.
            # Nothing upstream needs one, so start the graph at f_k; the clone keeps
            # in-place operations after this layer (DenseNet's ReLU) legal.
            output = output.detach().requires_grad_().clone()
            self._activation = output
            return output
        return None

    def _gradient(self, logits: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """∂(Σ_n S_{c_n}(image n))/∂f, which is ∂S_{c_n}/∂f_n for each image n."""
        f = self._activation
        selected = logits.gather(1, index[:, None]).sum()
        (grad,) = torch.autograd.grad(selected, f, retain_graph=True, allow_unused=True)
        if grad is None:
            raise RuntimeError(
                "logits must come from the latest forward pass run inside this "
                f"{type(self).__name__}; the recorded f_k is not in their graph"
            )
        return grad

    def alphas(self, logits: torch.Tensor, classes: Classes = None) -> torch.Tensor:
        """α_k^c = (1/Z) Σ_{x,y} ∂S_c/∂f_k(x, y), (N, K), or (N, C, K) when classes is None."""
        f = self._latest()
        if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
            kind = logits.dtype if isinstance(logits, torch.Tensor) else type(logits).__name__
            raise TypeError(f"logits must be the model's floating-point output tensor (N, C), "
                            f"with its graph, got {kind}")
        if logits.ndim != 2:
            raise ValueError(f"logits must be a tensor (N, C), got shape {tuple(logits.shape)}")
        if logits.shape[0] != f.shape[0]:
            raise ValueError(
                f"logits must have one row per image of the latest forward pass "
                f"(N={f.shape[0]}), got shape {tuple(logits.shape)}"
            )
        if logits.grad_fn is None or self._activation.grad_fn is None:
            raise RuntimeError(
                "Grad-CAM needs the gradient of the logits: run the forward pass with "
                "gradients enabled (not under torch.no_grad() or torch.inference_mode())"
            )
        n, c = logits.shape
        if classes is None:
            every = [torch.full((n,), k, dtype=torch.long, device=logits.device) for k in range(c)]
            return torch.stack([self._gradient(logits, i).mean(dim=(2, 3)) for i in every], 1)
        index = validation.class_indices(classes, n, c, logits.device)
        return self._gradient(logits, index).mean(dim=(2, 3))

    def maps(
        self, logits: torch.Tensor, classes: Classes = None, relu: bool = True
    ) -> torch.Tensor:
        """Grad-CAM maps L_c(x, y) = ReLU(Σ_k α_k^c f_k(x, y)) for the latest forward pass.

        Parameters
        ----------
        logits : tensor (N, C), the model's output for that pass (with its graph)
        classes : None, int, or N ints
            None: every class, (N, C, H, W) (one backward pass per class); otherwise
            (N, H, W).
        relu : bool
            False keeps the negative part: on a GAP network this is exactly M_c / Z.

        Returns
        -------
        tensor, detached, on the features' device, at the feature layer's resolution.
        """
        alpha = self.alphas(logits, classes).detach()
        f = self._latest().detach()
        if classes is None:
            out = torch.einsum("nck,nkhw->nchw", alpha.to(f.dtype), f)
        else:
            out = torch.einsum("nk,nkhw->nhw", alpha.to(f.dtype), f)
        return F.relu(out) if relu else out
