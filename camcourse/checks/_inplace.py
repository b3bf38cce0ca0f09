"""Detecting a learner function that modified its arguments in place."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from camcourse.checks._diagnose import _is_tensor

__all__ = ["_dtype_change", "_frozen_change", "_mode_change", "_same", "_snapshot"]


class _ModuleSnapshot(dict):
    """A module's state_dict copy, plus the training flag of each of its submodules."""

    modes: tuple[bool, ...] = ()
    trainable: dict[str, bool] = {}


def _modes(module: Any) -> tuple[bool, ...]:
    return tuple(bool(m.training) for m in module.modules())


def _mode_change(before: Any, after: Any) -> str | None:
    """'model.training was True, now False' when a module's mode changed, else None."""
    if not isinstance(before, _ModuleSnapshot) or not hasattr(after, "modules"):
        return None
    now = _modes(after)
    if now == before.modes:
        return None
    if before.modes and now and before.modes[0] != now[0]:
        return f".training was {before.modes[0]}, now {now[0]}"
    return "the training flag of a submodule changed"


def _trainable(module: Any) -> dict[str, bool]:
    return {name: bool(p.requires_grad) for name, p in module.named_parameters()}


def _frozen_change(before: Any, after: Any) -> str | None:
    """'weight of model[0] no longer requires grad' when the call changed a parameter's
    ``requires_grad`` (model.requires_grad_(False), p.requires_grad = False), else None."""
    if not isinstance(before, _ModuleSnapshot) or not hasattr(after, "named_parameters"):
        return None
    now = _trainable(after)
    for name, was in before.trainable.items():
        if name in now and now[name] != was:
            return f"`{name}` {'no longer requires' if was else 'now requires'} grad"
    return None


def _dtype_change(before: Any, after: Any) -> str | None:
    """'its parameters were float64, now float32' when a module was converted in place
    (model.float(), .double(), .half(), .to(dtype)), else None."""
    if not isinstance(before, _ModuleSnapshot) or not hasattr(after, "state_dict"):
        return None
    now = {k: v.dtype for k, v in after.state_dict().items()}
    for key, value in before.items():
        if key in now and now[key] != value.dtype:
            was, new = (str(d).replace("torch.", "") for d in (value.dtype, now[key]))
            return f"its parameters were {was}, now {new}"
    return None


def _snapshot(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return x.copy()
    if _is_tensor(x):
        return x.detach().clone()
    if isinstance(x, (int, float, complex, str, bytes, bool, type(None), np.generic)):
        return x
    if hasattr(x, "state_dict") and callable(x.state_dict):  # torch.nn.Module
        snapshot = _ModuleSnapshot({k: v.detach().clone() for k, v in x.state_dict().items()})
        if hasattr(x, "modules") and callable(x.modules):
            snapshot.modes = _modes(x)
        if hasattr(x, "named_parameters") and callable(x.named_parameters):
            snapshot.trainable = _trainable(x)
        return snapshot
    try:
        return copy.deepcopy(x)
    except Exception:  # noqa: BLE001 - uncopyable objects are simply not compared
        return _UNCOMPARABLE


_UNCOMPARABLE = object()


def _same(before: Any, after: Any) -> bool:
    """Whether ``after`` still equals the snapshot ``before`` (NaN equals NaN)."""
    if before is _UNCOMPARABLE:
        return True
    if isinstance(before, np.ndarray):
        if not isinstance(after, np.ndarray) or before.shape != after.shape:
            return False
        if before.dtype.kind in "fc":
            return bool(np.array_equal(before, after, equal_nan=True))
        return bool(np.array_equal(before, after))
    if _is_tensor(before):
        if not _is_tensor(after) or before.shape != after.shape or before.dtype != after.dtype:
            return False
        a, b = before.detach().cpu(), after.detach().cpu()
        if a.is_floating_point():
            return bool(((a == b) | (a.isnan() & b.isnan())).all())
        return bool((a == b).all())
    if isinstance(before, dict) and hasattr(after, "state_dict") and callable(after.state_dict):
        if _mode_change(before, after):
            return False
        return _same(dict(before), {k: v.detach() for k, v in after.state_dict().items()})
    if isinstance(before, dict):
        return (isinstance(after, dict) and before.keys() == after.keys()
                and all(_same(before[k], after[k]) for k in before))
    if isinstance(before, (list, tuple)):
        return (isinstance(after, (list, tuple)) and len(before) == len(after)
                and all(_same(b, a) for b, a in zip(before, after, strict=True)))
    try:
        return bool(before == after)
    except Exception:  # noqa: BLE001 - objects without a usable == are not compared
        return True


