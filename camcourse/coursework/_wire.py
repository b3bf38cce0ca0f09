"""The grader's channel to the learner's process: framed messages of JSON and ``.npy`` data.

A message is ``length (8 bytes, big-endian)``, then ``header length (4 bytes)``, the header
as UTF-8 JSON, and the binary blobs it lists (``"blobs": [sizes]``). Values that come
*from* the learner's process are plain data only (:func:`encode` / :func:`decode`): JSON
numbers, strings and booleans, tagged lists, tuples and dicts, and arrays as ``.npy``
read with ``allow_pickle=False``; Torch tensors travel as arrays with their dtype name;
another real number of Python's number tower (``fractions.Fraction``, ``decimal.Decimal``,
an ``IntEnum``) travels as the float or int it equals; anything else arrives as an
:class:`Opaque` that only names its type. Nothing from the learner is ever unpickled.
What the grader sends *to* that process may be pickled (the grader's own objects: a
check's model, optimizer, inputs).
"""

from __future__ import annotations

import decimal
import io
import json
import math
import numbers
import select
import socket
import struct
import time
from typing import Any

import numpy as np

MAX_MESSAGE = 256 << 20
"""Bytes one message may carry (a learner's answer larger than this is refused)."""

MAX_HEADER = 16 << 20
"""Bytes of a message's JSON header (arrays travel as blobs, so answers stay far below)."""

MAX_NODES = 200_000
"""Lists, tuples, dicts and tagged values one message may describe."""

MAX_ITEMS = 1_000_000
"""Elements (JSON commas) one message may hold: 3 million tiny nested lists are refused
before they are parsed, so a reply cannot make the grader's memory grow by gigabytes."""

MAX_DEPTH = 40
MAX_TEXT = 2000
ARRAY_KINDS = "biufc"
TORCH_DTYPES = ("float16", "bfloat16", "float32", "float64", "complex64", "complex128",
                "uint8", "int8", "int16", "int32", "int64", "bool")


class ChannelError(Exception):
    """The other side closed the channel, sent too much, or sent something unreadable."""


class ChannelRefused(ChannelError):
    """A message the grader refuses to read (too large, too many values): the learner's
    answer, not a failure of its process."""


class ChannelTimeout(ChannelError):
    """No complete message before the deadline."""


def type_label(text: object, default: str = "object") -> str:
    """A type name the learner's process sent, as the grader may print it: letters, digits,
    ``_`` and ``.`` only (at most 80), so that a class named ``"✔ Exercise 9.1: passed"``
    cannot write a line that reads like a grade into a message.

    >>> type_label("Fraction"), type_label("✔ Exercise 9.1: passed, 1/1"), type_label("")
    ('Fraction', 'Exercise_9.1_passed_1_1', 'object')
    """
    import re

    label = re.sub(r"[^\w.]+", "_", str(text)).strip("_")[:80]
    return label or default


class Opaque:
    """Stands for a value that is not plain data (a learner's object): only its type name.

    Build one with :func:`opaque`: its class is then named after the learner's type, so a
    check saying ``type(x).__name__`` names ``Fraction`` or ``generator``, not ``Opaque``.
    """

    def __init__(self, type_name: str):
        self.type_name = type_name
        self.__name__ = type_name

    def __repr__(self) -> str:
        return f"<{self.type_name} object>"

    def __str__(self) -> str:
        return repr(self)


_OPAQUE_TYPES: dict[str, type] = {}
MAX_OPAQUE_TYPES = 1000
"""Distinct learner type names given a class of their own in one grading process."""


def opaque(type_name: object) -> Opaque:
    """An :class:`Opaque` for a learner's value of type ``type_name`` (see :func:`type_label`).

    >>> value = opaque("Fraction")
    >>> type(value).__name__, isinstance(value, Opaque), repr(value)
    ('Fraction', True, '<Fraction object>')
    """
    name = type_label(type_name)
    cls = _OPAQUE_TYPES.get(name)
    if cls is None:
        cls = type(name, (Opaque,), {"__module__": "learner", "__qualname__": name})
        if len(_OPAQUE_TYPES) < MAX_OPAQUE_TYPES:
            _OPAQUE_TYPES[name] = cls
    return cls(name)


# ---------------------------------------------------------------------------
# Framing
# ---------------------------------------------------------------------------


def send(sock: socket.socket, header: dict[str, Any], blobs: list[bytes] = ()) -> None:
    """Send one message (blocking)."""
    blobs = list(blobs)
    header = dict(header, blobs=[len(b) for b in blobs])
    head = json.dumps(header, allow_nan=False).encode()
    body = struct.pack(">I", len(head)) + head + b"".join(blobs)
    sock.sendall(struct.pack(">Q", len(body)) + body)


def _read_exactly(sock: socket.socket, n: int, deadline: float | None) -> bytes:
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChannelTimeout("no answer in time")
            ready, _, _ = select.select([sock], [], [], min(left, 1.0))
            if not ready:
                continue
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            raise ChannelError("the learner's process closed the channel")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def receive(sock: socket.socket, deadline: float | None = None,
            limit: int = MAX_MESSAGE) -> tuple[dict[str, Any], list[bytes]]:
    """Read one message; raises :class:`ChannelError` (or :class:`ChannelTimeout`)."""
    (size,) = struct.unpack(">Q", _read_exactly(sock, 8, deadline))
    if size < 4:
        raise ChannelError("a malformed message")
    if size > limit:  # refused unread: the channel is out of step, the sender must go
        raise ChannelRefused(f"a reply of {size:,} bytes (the limit is {limit:,}; an answer "
                             f"this large is not what the exercise asks for)")
    body = _read_exactly(sock, size, deadline)
    (head_size,) = struct.unpack(">I", body[:4])
    if head_size > size - 4:
        raise ChannelError("a malformed message")
    head = body[4:4 + head_size]
    if head_size > MAX_HEADER:
        raise ChannelRefused(f"a reply whose description takes {head_size:,} bytes (the limit "
                           f"is {MAX_HEADER:,}; return arrays, not nested lists)")
    nodes, items = head.count(b"{") + head.count(b"["), head.count(b",")
    if nodes > MAX_NODES or items > MAX_ITEMS:
        raise ChannelRefused(f"a reply of {nodes:,} nested lists/tuples/dicts and {items:,} "
                           f"elements (the limits are {MAX_NODES:,} and {MAX_ITEMS:,}; "
                           f"return an array, not nested lists)")
    try:
        header = json.loads(head.decode())
    except (ValueError, RecursionError) as exc:
        raise ChannelError(f"an unreadable message ({type(exc).__name__})") from None
    if not isinstance(header, dict) or not isinstance(header.get("blobs"), list):
        raise ChannelError("a malformed message")
    blobs, offset = [], 4 + head_size
    for n in header["blobs"]:
        if not isinstance(n, int) or n < 0 or offset + n > size:
            raise ChannelError("a malformed message")
        blobs.append(body[offset:offset + n])
        offset += n
    return header, blobs


# ---------------------------------------------------------------------------
# Plain values: encode in the learner's process, decode in the grader
# ---------------------------------------------------------------------------


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    # np.require, not np.ascontiguousarray: the latter makes a 0-d array 1-d, and a check
    # asking for one number would then see an array of shape (1,).
    np.lib.format.write_array(buffer, np.require(array, requirements="C"), allow_pickle=False)
    return buffer.getvalue()


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def _make_encoder():
    """:func:`encode`, whose recursion and helpers are bound in its closure: replacing
    ``_wire.encode`` or ``_wire._npy`` in the learner's process after the runner took its
    reference changes nothing the runner uses."""
    _npy_, _is_tensor_, isfinite = _npy, _is_tensor, math.isfinite
    real, integral, exact_decimal = numbers.Real, numbers.Integral, decimal.Decimal

    def encode(value: Any, blobs: list[bytes], depth: int = 0) -> Any:
        """A JSON-able tree for ``value``; arrays appended to ``blobs`` as ``.npy``."""
        if depth > MAX_DEPTH:
            return {"t": "obj", "type": "deeply nested value"}
        if value is None or isinstance(value, (bool, str)) and type(value) in (bool, str):
            return value if not isinstance(value, str) else value[:MAX_TEXT * 50]
        if type(value) is int:
            return value if abs(value) < 2**63 else {"t": "float", "v": str(float(value))}
        if type(value) is float:
            return value if isfinite(value) else {"t": "float", "v": str(value)}
        if isinstance(value, np.generic) and value.dtype.kind in ARRAY_KINDS:
            blobs.append(_npy_(np.asarray(value)))
            return {"t": "np", "b": len(blobs) - 1}
        if isinstance(value, np.ndarray) and value.dtype.kind in ARRAY_KINDS:
            blobs.append(_npy_(np.asarray(value)))
            return {"t": "nd", "b": len(blobs) - 1}
        if _is_tensor_(value) and hasattr(value, "shape"):
            tensor = value.detach().cpu()
            dtype = str(tensor.dtype).replace("torch.", "")
            if dtype == "bfloat16":
                tensor = tensor.float()
            blobs.append(_npy_(tensor.resolve_conj().resolve_neg().numpy()))
            return {"t": "tensor", "b": len(blobs) - 1, "dtype": dtype,
                    "requires_grad": bool(value.requires_grad)}
        if isinstance(value, (list, tuple)):  # a namedtuple, torch.return_types.topk: plain
            kind = "tuple" if isinstance(value, tuple) else "list"
            return {"t": kind, "v": [encode(v, blobs, depth + 1) for v in value]}
        if isinstance(value, dict):
            return {"t": "dict", "v": [[encode(k, blobs, depth + 1), encode(v, blobs, depth + 1)]
                                       for k, v in value.items()]}
        if isinstance(value, (real, exact_decimal)):  # Fraction(1, 3), Decimal, an IntEnum
            try:
                number = int(value) if isinstance(value, integral) else float(value)
            except Exception:  # noqa: BLE001 - a learner's number that will not convert
                return {"t": "obj", "type": type(value).__name__[:80]}
            return encode(number, blobs, depth + 1)
        return {"t": "obj", "type": type(value).__name__[:80]}

    return encode


encode = _make_encoder()


def _array(blob: bytes) -> np.ndarray:
    try:
        array = np.lib.format.read_array(io.BytesIO(blob), allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - anything unreadable is refused
        raise ChannelError(f"an unreadable array ({type(exc).__name__})") from None
    if type(array) is not np.ndarray or array.dtype.kind not in ARRAY_KINDS \
            or array.dtype.fields is not None:
        raise ChannelError("an array of an unsupported dtype")
    return array


def decode(tree: Any, blobs: list[bytes], depth: int = 0) -> Any:
    """The value :func:`encode` described, rebuilt from plain data only."""
    if depth > MAX_DEPTH + 2:
        raise ChannelError("a value nested too deeply")
    if tree is None or type(tree) in (bool, int, float):
        return tree
    if type(tree) is str:
        return tree
    if type(tree) is not dict:
        raise ChannelError("a malformed value")
    kind = tree.get("t")
    if kind == "float":
        return float(str(tree.get("v")))
    if kind in ("nd", "np", "tensor"):
        index = tree.get("b")
        if type(index) is not int or not 0 <= index < len(blobs):
            raise ChannelError("a malformed value")
        array = _array(blobs[index])
        if kind == "nd":
            return array
        if kind == "np":
            return array[()] if array.ndim == 0 else array
        import torch

        dtype = tree.get("dtype")
        if dtype not in TORCH_DTYPES:
            raise ChannelError("a tensor of an unsupported dtype")
        tensor = torch.from_numpy(array.copy()).to(getattr(torch, dtype))
        if tree.get("requires_grad") is True and tensor.is_floating_point():
            tensor.requires_grad_(True)
        return tensor
    if kind in ("list", "tuple"):
        items = tree.get("v")
        if type(items) is not list:
            raise ChannelError("a malformed value")
        values = [decode(v, blobs, depth + 1) for v in items]
        return values if kind == "list" else tuple(values)
    if kind == "dict":
        pairs = tree.get("v")
        if type(pairs) is not list:
            raise ChannelError("a malformed value")
        out = {}
        for pair in pairs:
            if type(pair) is not list or len(pair) != 2:
                raise ChannelError("a malformed value")
            key = decode(pair[0], blobs, depth + 1)
            try:
                out[key] = decode(pair[1], blobs, depth + 1)
            except TypeError:
                raise ChannelError("a dict with an unhashable key") from None
        return out
    if kind == "obj":
        return opaque(tree.get("type", "object"))
    raise ChannelError("a malformed value")


def trained_tensors(value: Any, torch: Any) -> list | None:
    """The tensors whose ``.grad`` an argument carries, in a fixed order: the tensor itself,
    a module's parameters, an optimizer's groups' parameters; None for anything else.
    Both ends of the channel list them alike, so gradients match tensors by position."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, torch.nn.Module):
        return list(value.parameters())
    if isinstance(value, torch.optim.Optimizer):
        return [p for group in value.param_groups for p in group["params"]]
    return None
