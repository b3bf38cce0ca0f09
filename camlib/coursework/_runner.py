"""The process that runs a submission's code for the autograder (the learner's process).

Started by ``camlib.coursework._remote`` as ``python -m camlib.coursework._runner FD CONFIG``
with one end of a private socket pair as file descriptor ``FD``; its standard streams go
to ``/dev/null``. It confines itself (``_sandbox.confine``), then answers requests:

- ``checks``: import extra check modules (so the grader's pickled inputs can be rebuilt);
- ``imports``: run the notebook's import statements, reporting each one that fails;
- ``exec``: run an exercise cell under a CPU-time limit;
- ``find``: which of some names the cells defined as callables, with parameter names;
- ``call``: unpickle the grader's arguments, call the learner's function under a CPU-time
  limit with the camlib functions the exercise asks the learner to write switched off,
  and send back the result and the arguments' changes (in place) as plain data.

Nothing here judges anything: whatever runs in this process can only change what it
sends back, and the grader reads that as plain data (``_wire``).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import inspect
import json
import linecache
import os
import pickle
import signal
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from camlib.coursework import _wire


class _CpuTimeUp(BaseException):
    """The CPU-time alarm of one cell or call."""


def _on_alarm(signum, frame):
    raise _CpuTimeUp


class _Budget:
    """Raise :class:`_CpuTimeUp` after ``seconds`` of CPU time (re-fired every 50 ms)."""

    def __init__(self, seconds: float):
        self.seconds = max(float(seconds), 0.01)

    def __enter__(self):
        self.start = time.process_time()
        signal.signal(signal.SIGPROF, _on_alarm)
        signal.setitimer(signal.ITIMER_PROF, self.seconds, 0.05)
        return self

    def __exit__(self, *exc):
        signal.setitimer(signal.ITIMER_PROF, 0)
        self.used = time.process_time() - self.start
        return False


def _text(value: Any, limit: int = 300) -> str:
    try:
        lines = str(value).strip().splitlines()
    except BaseException:  # noqa: BLE001 - a learner's __str__ may do anything
        return ""
    return lines[0][:limit] if lines else ""


def _where(exc: BaseException) -> str:
    try:
        frames = traceback.extract_tb(exc.__traceback__)
    except BaseException:  # noqa: BLE001
        return ""
    chosen = None
    for frame in frames:
        if frame.filename.startswith("<exercise"):
            chosen = frame
    if chosen is None or not chosen.line:
        return ""
    return f" (line {chosen.lineno}: `{chosen.line.strip()[:120]}`)"


def _raised(exc: BaseException) -> dict[str, Any]:
    return {"status": "raised", "type": type(exc).__name__[:80], "text": _text(exc),
            "where": _where(exc)}


def _load_module(spec: str) -> None:
    """Import a module by dotted name, or a ``.py`` file by path, named as the grader does."""
    if spec.endswith(".py") or os.sep in spec or "/" in spec:
        path = Path(spec)
        name = f"_coursework_checks_{path.stem}"
        if name in sys.modules:
            return
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise ImportError(f"cannot load checks from {spec}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        module_spec.loader.exec_module(module)
    else:
        importlib.import_module(spec)


# ---------------------------------------------------------------------------
# Write-it-yourself: camlib's own version of an exercise, switched off
# ---------------------------------------------------------------------------


def _switch_off(obj: Any, stub: Any, undo: list[tuple]) -> None:
    if inspect.isclass(obj):
        undo.append(("class", obj, obj.__dict__.get("__init__")))
        obj.__init__ = stub
    elif inspect.isfunction(obj) and not obj.__closure__:
        undo.append(("code", obj, obj.__code__))
        obj.__code__ = stub.__code__


class _OffOnImport(importlib.abc.MetaPathFinder):
    """Switches the targets off in a module imported during the call (``import`` inside it)."""

    def __init__(self, targets: dict[str, list[str]], stub: Any, undo: list[tuple]):
        self.targets, self.stub, self.undo = targets, stub, undo

    def find_spec(self, name, path, target=None):
        if name not in self.targets:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                break
        else:
            return None
        loader, names, finder_self = spec.loader, self.targets[name], self

        class Loader(importlib.abc.Loader):
            def create_module(self, spec):
                return loader.create_module(spec)

            def exec_module(self, module):
                loader.exec_module(module)
                for attr in names:
                    _switch_off(getattr(module, attr, None), finder_self.stub, finder_self.undo)

        spec.loader = Loader()
        return spec


def _block(targets: list[str], exercise: str) -> list[tuple]:
    """Switch off camlib's version of what ``exercise`` asks for; returns what to undo.

    Modules not imported yet are not imported here (that would cost the learner's process
    Torch for a NumPy exercise); if the learner's code imports one during the call, the
    targets are switched off as it loads.
    """
    message = (f"{exercise} asks you to write this; camlib's version is off while grading")
    namespace: dict[str, Any] = {}
    exec(f"def _off(*args, **kwargs):\n    raise RuntimeError({message!r})\n",  # noqa: S102
         namespace)
    stub = namespace["_off"]
    undo: list[tuple] = []
    later: dict[str, list[str]] = {}
    for target in targets:
        module_name, _, attr = target.rpartition(".")
        module = sys.modules.get(module_name)
        if module is None:
            later.setdefault(module_name, []).append(attr)
        else:
            _switch_off(getattr(module, attr, None), stub, undo)
    if later:
        finder = _OffOnImport(later, stub, undo)
        sys.meta_path.insert(0, finder)
        undo.append(("finder", finder, None))
    return undo


def _unblock(undo: list[tuple]) -> None:
    for kind, obj, saved in reversed(undo):
        try:
            if kind == "finder":
                if obj in sys.meta_path:
                    sys.meta_path.remove(obj)
            elif kind == "code":
                obj.__code__ = saved
            elif saved is None:
                del obj.__init__
            else:
                obj.__init__ = saved
        except (AttributeError, TypeError, ValueError):
            pass


# ---------------------------------------------------------------------------
# Changes made to the arguments, as plain data
# ---------------------------------------------------------------------------


def _state(value: Any) -> Any:
    """What the grader mirrors of an argument after a call (a plain-data description)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        if isinstance(value, torch.Tensor):
            return {"data": value.detach(), "requires_grad": bool(value.requires_grad),
                    "grad": None if value.grad is None else value.grad.detach()}
        if isinstance(value, torch.nn.Module):
            named = dict(value.named_modules())
            return {"kind": "module",
                    "state": dict(value.state_dict()),
                    "hooks": {n: [len(m._forward_hooks), len(m._forward_pre_hooks),
                                  len(m._backward_hooks)] for n, m in named.items()},
                    "training": {n: bool(m.training) for n, m in named.items()}}
        if isinstance(value, torch.optim.Optimizer):
            return {"kind": "optimizer", "state_dict": value.state_dict()}
    if isinstance(value, (list, dict, tuple)):
        return {"kind": "container", "value": value}
    return value


def _describe_state(value: Any) -> tuple[str, list[bytes]]:
    blobs: list[bytes] = []
    tree = _wire.encode(_state(value), blobs)
    return json.dumps(tree, sort_keys=True), blobs


# ---------------------------------------------------------------------------
# The request loop
# ---------------------------------------------------------------------------


def main(fd: int, config: dict[str, Any]) -> int:
    sock = socket.socket(fileno=fd)
    from camlib.coursework._sandbox import confine

    report = confine(os.getcwd(), memory_bytes=config.get("memory_bytes"),
                     cpu_seconds=config.get("cpu_seconds"), file_bytes=config.get("file_bytes"))
    import numpy  # noqa: F401 - the answers' arrays

    namespace: dict[str, Any] = {"__name__": "__main__"}
    _wire.send(sock, {"status": "ready", "confinement": report})
    while True:
        try:
            header, blobs = _wire.receive(sock, None, limit=1 << 34)
        except _wire.ChannelError:
            return 0
        reply, out = _handle(header, blobs, namespace)
        reply["id"] = header.get("id")
        try:
            _wire.send(sock, reply, out)
        except (OSError, ValueError, TypeError) as exc:
            _wire.send(sock, {"id": header.get("id"), "status": "unsendable",
                              "text": _text(exc)})


def _handle(header: dict[str, Any], blobs: list[bytes],
            namespace: dict[str, Any]) -> tuple[dict[str, Any], list[bytes]]:
    op = header.get("op")
    if op == "checks":
        failed = []
        for spec in header["modules"]:
            try:
                _load_module(spec)
            except BaseException as exc:  # noqa: BLE001
                failed.append([spec, f"{type(exc).__name__}: {_text(exc)}"])
        return {"status": "ok", "failed": failed}, []
    if op == "imports":
        failed = []
        for statement in header["statements"]:
            try:
                exec(compile(statement, "<imports>", "exec"), namespace)  # noqa: S102
            except BaseException as exc:  # noqa: BLE001
                failed.append([statement, f"{type(exc).__name__}: {_text(exc)}"])
        return {"status": "ok", "failed": failed}, []
    if op == "exec":
        code_text, filename = header["source"], header["filename"]
        linecache.cache[filename] = (len(code_text), None, code_text.splitlines(keepends=True),
                                     filename)
        try:
            code = compile(code_text, filename, "exec")
        except SyntaxError as exc:
            return {"status": "syntax", "line": exc.lineno, "text": _text(exc.msg)}, []
        except BaseException as exc:  # noqa: BLE001 - e.g. too deeply nested
            return _raised(exc), []
        try:
            with _Budget(header["cpu"]):
                exec(code, namespace)  # noqa: S102 - running submissions is the job
        except _CpuTimeUp:
            return {"status": "timeout"}, []
        except BaseException as exc:  # noqa: BLE001
            return _raised(exc), []
        return {"status": "ok"}, []
    if op == "find":
        for name in header["names"]:
            value = namespace.get(name)
            if callable(value):
                try:
                    params = [str(p)[:60] for p in inspect.signature(value).parameters]
                except BaseException:  # noqa: BLE001
                    params = []
                return {"status": "ok", "found": name, "params": params}, []
        return {"status": "ok", "found": None}, []
    if op == "call":
        return _call(header, blobs, namespace)
    return {"status": "unknown"}, []


def _call(header: dict[str, Any], blobs: list[bytes],
          namespace: dict[str, Any]) -> tuple[dict[str, Any], list[bytes]]:
    fn = namespace.get(header["name"])
    args, kwargs = pickle.loads(blobs[0])  # noqa: S301 - the grader's own inputs
    keys = [("arg", i) for i in range(len(args))] + [("kw", k) for k in kwargs]
    values = list(args) + list(kwargs.values())
    before = [_describe_state(v) for v in values]
    undo = _block(header.get("block", []), header.get("exercise", ""))
    budget = _Budget(header["cpu"])
    reply: dict[str, Any]
    try:
        with budget:
            value = fn(*args, **kwargs)
    except _CpuTimeUp:
        reply = {"status": "timeout"}
    except BaseException as exc:  # noqa: BLE001 - reported as text
        reply = _raised(exc)
    else:
        reply = {"status": "ok"}
    finally:
        _unblock(undo)
    reply["cpu"] = getattr(budget, "used", 0.0)
    out: list[bytes] = []
    if reply["status"] == "ok":
        reply["value"] = _wire.encode(value, out)
    changes = []
    for (kind, key), value_now, (text, arrays) in zip(keys, values, before, strict=True):
        if _describe_state(value_now) != (text, arrays):
            changes.append([kind, key, _wire.encode(_state(value_now), out)])
    reply["changes"] = changes
    return reply, out


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), json.loads(sys.argv[2])))
