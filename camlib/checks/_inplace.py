"""Detecting a learner function that modified its arguments in place."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from camlib.checks._diagnose import _is_tensor

__all__ = ["_same", "_snapshot"]


def _snapshot(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return x.copy()
    if _is_tensor(x):
        return x.detach().clone()
    if isinstance(x, (int, float, complex, str, bytes, bool, type(None), np.generic)):
        return x
    if hasattr(x, "state_dict") and callable(x.state_dict):  # torch.nn.Module
        return {k: v.detach().clone() for k, v in x.state_dict().items()}
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
        if not _is_tensor(after) or before.shape != after.shape:
            return False
        a, b = before.detach().cpu(), after.detach().cpu()
        if a.is_floating_point():
            return bool(((a == b) | (a.isnan() & b.isnan())).all())
        return bool((a == b).all())
    if isinstance(before, dict) and hasattr(after, "state_dict") and callable(after.state_dict):
        return _same(before, {k: v.detach() for k, v in after.state_dict().items()})
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


