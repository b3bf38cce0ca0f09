"""The process that runs a submission's code for the autograder (the learner's process).

Started by ``camcourse.coursework._remote`` as ``python -m camcourse.coursework._runner FD CONFIG``
with one end of a private socket pair as file descriptor ``FD``, inside bubblewrap's
namespaces where available; its standard streams go to ``/dev/null``. It confines itself
(``_sandbox.confine``), then answers requests:

- ``checks``: import extra check modules (so the grader's pickled inputs can be rebuilt);
- ``imports``: run the notebook's import statements, reporting each one that fails;
- ``installed``: which import statements import installed packages only (they get the
  import budget; a module the learner wrote does not);
- ``exec``: run an exercise cell under a CPU-time limit (magics through IPython's input
  transformer; a failing demo line is reported, the definitions after it still run);
- ``find``: which of some names the cells defined as callables, with parameter names;
- ``usage``: the CPU time this process has used (the grader's accounting);
- ``call``: unpickle the grader's arguments, call the learner's function under a CPU-time
  limit, and send back the result and the arguments' changes (in place) as plain data.

The camlib and camcourse this process imports were generated for the exercise being
graded, without the functions it asks the learner to write (``_library``).

Nothing here judges anything: whatever runs in this process can only change what it
sends back, and the grader reads that as plain data (``_wire``).
"""

from __future__ import annotations
import __future__

import ast
import importlib
import importlib.util
import inspect
import json
import linecache
import os
import pickle
import re
import signal
import socket
import sys
import time
import traceback
import types
from pathlib import Path
from typing import Any

from camcourse.coursework import _wire

_FUTURE_MASK = 0
for _feature in __future__.all_feature_names:
    _FUTURE_MASK |= getattr(__future__, _feature).compiler_flag
_FUTURE = [0]
"""The ``__future__`` features the learner's code has turned on in this process."""


def learner_compile(source: Any, filename: str, flags: int = 0) -> Any:
    """``compile`` as IPython compiles a cell: with the ``__future__`` features that the
    learner's earlier code turned on (they last for the session, as in Jupyter), never with
    this module's own (``from __future__ import annotations`` above would otherwise postpone
    every learner's annotations: a dataclass's ``InitVar[...]`` field then reads as a
    string, is taken for a plain field, and an honest ``__post_init__`` fails)."""
    code = compile(source, filename, "exec", flags=flags | _FUTURE[0], dont_inherit=True)
    _FUTURE[0] |= code.co_flags & _FUTURE_MASK
    return code


class _CpuTimeUp(BaseException):
    """The CPU-time alarm of one cell or call."""


def _on_alarm(signum, frame):
    raise _CpuTimeUp


_SECOND_WIND = [0.0]
"""CPU seconds the rest of a cell gets after one of its statements ran out of time: set
by each ``exec`` request, spent at most once (a nested ``%%time`` shares it)."""


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
# Cells: magics through IPython's transformer, demo lines that fail cost nothing
# ---------------------------------------------------------------------------

_RUN_BODY = {"time", "timeit", "capture", "prun"}
"""Cell and line magics whose code is run once (the rest are skipped, as are shell lines)."""


def as_python(code: str) -> str:
    """A cell's source with magics and shell lines turned into Python by IPython itself.

    ``%%time`` becomes ``get_ipython().run_cell_magic('time', '', ...)``, ``!ls``
    ``get_ipython().system('ls')``; :class:`_Shell` answers those calls. Without IPython
    the source is returned unchanged.
    """
    if "%" not in code and "!" not in code:
        return code
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return code
    try:
        return TransformerManager().transform_cell(code)
    except Exception:  # noqa: BLE001 - left to the compiler to report
        return code


class _Shell:
    """What ``get_ipython()`` returns in a graded cell: magics run once, no shell."""

    def __init__(self, namespace: dict[str, Any]):
        self.namespace = namespace
        self.user_ns = namespace

    def run_cell_magic(self, name: str, line: str, cell: str) -> None:
        if name in ("writefile", "file"):  # a module a later cell imports: written, as
            words = line.split()           # in Jupyter, in the working folder
            paths = [w for w in words if not w.startswith("-")]
            if paths:
                mode = "a" if {"-a", "--append"} & set(words) else "w"
                with open(paths[0], mode, encoding="utf-8") as handle:
                    handle.write(cell)
                importlib.invalidate_caches()
            return
        if name in _RUN_BODY:
            error = run_cell(as_python(cell), f"<exercise %%{name}>", self.namespace)
            if error is not None:
                raise error

    def run_line_magic(self, name: str, line: str, *args: Any) -> None:
        if name in _RUN_BODY:  # options first (``%timeit -n1 -r 3 f(x)``), then the code
            code = re.sub(r"^\s*(?:-[nrp]\s*\d+\s+|-[a-zA-Z]+\s+)*", "", line)
            exec(learner_compile(as_python(code), "<exercise %line>"),  # noqa: S102
                 self.namespace)

    def system(self, command: str) -> None:
        return None

    def getoutput(self, command: str, *args: Any) -> list[str]:
        return []

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def _display(*objects: Any, **kwargs: Any) -> None:
    """IPython's ``display`` where nobody looks: the objects' reprs are made, then dropped."""
    for value in objects:
        repr(value)


def run_cell(code: str, filename: str, namespace: dict[str, Any],
             definitions_only: bool = False) -> BaseException | None:
    """Run a cell's top-level statements in order; returns the first exception, if any.

    After a statement raises, only definitions (imports, ``def``, ``class``, assignments
    to names, ``try`` blocks of those: ``notebooks.statement_binds``) still run: a demo
    line using another cell's variables costs nothing, the function and the constants
    after it are graded. ``SyntaxError`` propagates. A statement that runs out of CPU
    time (a demo training loop) is stopped and reported like one that raises, once per
    ``exec`` request: the alarm is set again to :data:`_SECOND_WIND` for the definitions
    after it; otherwise, and for a second one, :class:`_CpuTimeUp` propagates.
    ``definitions_only``: run only the definitions from the start (an earlier exercise
    cell replayed once the submission's replay time is spent, ``grade.Replay``).
    """
    from camcourse.coursework.notebooks import statement_binds

    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
    tree = ast.parse(code, filename)
    first: BaseException | None = None
    for node in tree.body:
        if (first is not None or definitions_only) and statement_binds(node) is None:
            continue
        # IPython runs a top-level ``await`` (autoawait): so does the grader, to the end
        statement = learner_compile(ast.Module([node], type_ignores=[]), filename,
                                    flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        try:
            if statement.co_flags & inspect.CO_COROUTINE:
                import asyncio
                asyncio.run(eval(statement, namespace))  # noqa: S307 - as exec below
            else:
                exec(statement, namespace)  # noqa: S102 - running submissions is the job
        except _CpuTimeUp as exc:
            seconds, _SECOND_WIND[0] = _SECOND_WIND[0], 0.0
            if first is not None or seconds <= 0:
                raise
            signal.setitimer(signal.ITIMER_PROF, seconds, 0.05)
            first = TimeoutError("the statement ran out of CPU time and was stopped (Run "
                                 "All would have waited for it)").with_traceback(
                                     exc.__traceback__)
        except BaseException as exc:  # noqa: BLE001 - reported, the cell goes on
            first = first or exc
    return first


# ---------------------------------------------------------------------------
# Changes made to the arguments, as plain data
# ---------------------------------------------------------------------------


_STEPS: dict[int, int] = {}
"""Calls of ``step()`` per optimizer argument during one call (the grader replays its own
step hooks that many times: a check's hook is on the grader's optimizer, not this one)."""


def _count_steps(values: list[Any]) -> list[Any]:
    """Count ``step()`` on every optimizer among ``values``; returns the hooks' handles."""
    torch = sys.modules.get("torch")
    handles = []
    _STEPS.clear()
    if torch is None:
        return handles
    for value in values:
        if isinstance(value, torch.optim.Optimizer):
            key = id(value)
            _STEPS[key] = 0

            def counted(*_: Any, key: int = key) -> None:
                _STEPS[key] += 1
            handles.append(value.register_step_post_hook(counted))
    return handles


HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
"""A module's hook dicts whose keys (the handles' ids) the grader mirrors, in this order."""


def _hook_keys(hooks: Any) -> list[int]:
    """The ids of a module's hooks in one of :data:`HOOK_DICTS` (at most 200), ascending."""
    try:
        return sorted(k for k in hooks if type(k) is int)[:200]
    except TypeError:
        return []


_INTERNALS: list[frozenset[str]] = []


def _module_internals(torch: Any) -> frozenset[str]:
    """The attributes every ``nn.Module`` has (its parameters, hooks, mode): the grader
    mirrors them by their meaning, not as attributes."""
    if not _INTERNALS:
        _INTERNALS.append(frozenset(vars(torch.nn.Module())))
    return _INTERNALS[0]


def _separate_hook_ids(values: list[Any]) -> None:
    """Make the hooks the learner's function registers get ids that no hook already on an
    argument has: the grader's hooks arrive under the ids its own process gave them, and
    a hook registered here under one of those ids would replace the caller's hook (and
    ``handle.remove()`` then remove it), which never happens in the notebook."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    top = -1
    for value in values:
        if isinstance(value, torch.nn.Module):
            for module in value.modules():
                for name in HOOK_DICTS:
                    hooks = getattr(module, name, None)
                    if isinstance(hooks, dict):
                        top = max([top, *(k for k in hooks if type(k) is int)])
    handles = torch.utils.hooks.RemovableHandle
    handles.next_id = max(int(handles.next_id), top + 1)


def _state(value: Any) -> Any:
    """What the grader mirrors of an argument after a call (a plain-data description)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        if isinstance(value, torch.Tensor):
            return {"data": value.detach(), "requires_grad": bool(value.requires_grad),
                    "grad": None if value.grad is None else value.grad.detach()}
        if isinstance(value, torch.nn.Module):
            named = dict(value.named_modules())
            internal = _module_internals(torch)
            return {"kind": "module",
                    "state": dict(value.state_dict()),
                    "parameters": [n for n, _ in value.named_parameters()],
                    "grads": {n: None if p.grad is None else p.grad.detach()
                              for n, p in value.named_parameters()},
                    "hooks": {n: [_hook_keys(getattr(m, d, None)) for d in HOOK_DICTS]
                              for n, m in named.items()},
                    "attributes": {n: {k: v for k, v in vars(m).items() if k not in internal}
                                   for n, m in named.items()},
                    "training": {n: bool(m.training) for n, m in named.items()},
                    "requires_grad": {n: bool(p.requires_grad)
                                      for n, p in value.named_parameters()}}
        if isinstance(value, torch.optim.Optimizer):
            return {"kind": "optimizer", "state_dict": value.state_dict(),
                    "steps": _STEPS.get(id(value), 0)}
    if isinstance(value, (list, dict, tuple)):
        return {"kind": "container", "value": value}
    return value


def _describe_state(value: Any, tools: _Tools) -> tuple[str, list[bytes]]:
    blobs: list[bytes] = []
    tree = tools.encode(tools.state(value), blobs)
    return tools.dumps(tree, sort_keys=True), blobs


class _Tools:
    """What the runner reports with, bound before any learner code runs.

    The request loop and the calls use these references only, never the module's globals:
    a cell that replaces ``sys.modules['__main__']._state`` or ``_wire.send`` changes a
    name nobody looks up any more. (Anything else inside this process stays forgeable:
    docs/grading.md says why the grade does not rest on it.)
    """

    __slots__ = ("send", "receive", "encode", "state", "dumps", "count_steps", "budget",
                 "channel_error", "loads", "describe", "handle", "call", "separate")

    def __init__(self) -> None:
        self.send, self.receive, self.encode = _wire.send, _wire.receive, _wire.encode
        self.channel_error = _wire.ChannelError
        self.state, self.dumps, self.count_steps = _state, json.dumps, _count_steps
        self.budget, self.loads = _Budget, pickle.loads
        self.describe, self.handle, self.call = _describe_state, _handle, _call
        self.separate = _separate_hook_ids


# ---------------------------------------------------------------------------
# The request loop
# ---------------------------------------------------------------------------


def main(fd: int, config: dict[str, Any]) -> int:
    sock = socket.socket(fileno=fd)
    from camcourse.coursework._sandbox import confine

    report = confine(os.getcwd(), memory_bytes=config.get("memory_bytes"),
                     cpu_seconds=config.get("cpu_seconds"), file_bytes=config.get("file_bytes"),
                     namespaces=bool(config.get("namespaces")))
    import numpy  # noqa: F401 - the answers' arrays

    # As in IPython, the learner's namespace is the dict of the module ``__main__``: a
    # dataclass or ``typing.get_type_hints`` looks its class's names up there.
    main_module = types.ModuleType("__main__")
    sys.modules["__main__"] = main_module
    namespace: dict[str, Any] = main_module.__dict__
    shell = _Shell(namespace)
    namespace["get_ipython"] = lambda: shell
    namespace["display"] = _display  # always there in Jupyter, without an import
    tools = _Tools()
    send, receive = tools.send, tools.receive
    send(sock, {"status": "ready", "confinement": report})
    while True:
        try:
            header, blobs = receive(sock, None, limit=1 << 34)
        except tools.channel_error:
            return 0
        try:
            reply, out = tools.handle(header, blobs, namespace, tools)
        except _CpuTimeUp:  # the alarm fired while a reply was being made
            reply, out = {"status": "timeout"}, []
        except BaseException as exc:  # noqa: BLE001 - the request loop goes on
            reply, out = {"status": "unsendable", "text": f"{type(exc).__name__}: "
                                                          f"{_text(exc, 200)}"}, []
        reply["id"] = header.get("id")
        try:
            send(sock, reply, out)
        except (OSError, ValueError, TypeError) as exc:
            send(sock, {"id": header.get("id"), "status": "unsendable",
                              "text": _text(exc)})


def _installed_imports(statement: str) -> bool:
    """True when ``statement`` only imports (``notebooks.imports_only``) modules that are
    loaded already or installed outside this process's working directory."""
    from camcourse.coursework.notebooks import imports_only

    if not imports_only(statement):
        return False
    work = os.path.realpath(os.getcwd())
    for node in ast.walk(ast.parse(statement)):
        if isinstance(node, ast.ImportFrom) and (node.level or not node.module):
            return False
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module] if isinstance(node, ast.ImportFrom) else []
        for name in names:
            top = name.split(".")[0]
            if top in sys.modules:
                continue
            spec = importlib.util.find_spec(top)
            places = [spec.origin] if spec is not None and spec.origin else []
            places += list(spec.submodule_search_locations or []) if spec is not None else []
            if not places or any(os.path.realpath(p).startswith(work + os.sep)
                                 or os.path.realpath(p) == work for p in places):
                return False
    return True


def _handle(header: dict[str, Any], blobs: list[bytes], namespace: dict[str, Any],
            tools: _Tools) -> tuple[dict[str, Any], list[bytes]]:
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
                exec(learner_compile(statement, "<imports>"), namespace)  # noqa: S102
            except BaseException as exc:  # noqa: BLE001
                failed.append([statement, f"{type(exc).__name__}: {_text(exc)}"])
        return {"status": "ok", "failed": failed}, []
    if op == "define":  # another cell's definitions: each alone, failures only noted
        failed = []
        for statement in header["statements"]:
            # an import of an installed package (also in a try block) may take long on a
            # loaded machine: Torch, matplotlib; it gets the import budget, the rest
            # (a module the learner wrote in its folder included) the small one
            try:
                with tools.budget(header["cpu"]):
                    installed = _installed_imports(statement)
            except BaseException:  # noqa: BLE001 - a learner's import hook may do anything
                installed = False
            cpu = header.get("import_cpu", header["cpu"]) if installed else header["cpu"]
            try:
                with tools.budget(cpu):
                    exec(learner_compile(statement, "<another cell>"),  # noqa: S102
                         namespace)
            except _CpuTimeUp:
                failed.append([statement, f"more than {cpu:g} s of CPU time"])
            except BaseException as exc:  # noqa: BLE001
                failed.append([statement, f"{type(exc).__name__}: {_text(exc)}"])
        return {"status": "ok", "failed": failed}, []
    if op == "exec":
        code_text, filename = as_python(header["source"]), header["filename"]
        _SECOND_WIND[0] = float(header.get("rest_cpu") or 0.0)
        try:
            with tools.budget(header["cpu"]):
                error = run_cell(code_text, filename, namespace,
                                 bool(header.get("definitions_only")))
        except _CpuTimeUp:
            return {"status": "timeout"}, []
        except SyntaxError as exc:
            return {"status": "syntax", "line": exc.lineno, "text": _text(exc.msg)}, []
        except BaseException as exc:  # noqa: BLE001 - e.g. too deeply nested to compile
            return _raised(exc), []
        if error is not None:
            return dict(_raised(error), status="ok"), []
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
    if op == "installed":  # which import statements get the import budget
        answers = []
        for statement in header["statements"]:
            try:
                with tools.budget(header["cpu"]):
                    answers.append(bool(_installed_imports(statement)))
            except BaseException:  # noqa: BLE001 - a learner's import hook may do anything
                answers.append(False)
        return {"status": "ok", "installed": answers}, []
    if op == "call":
        return tools.call(header, blobs, namespace, tools)
    if op == "usage":
        import resource

        used = [resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                     resource.RUSAGE_CHILDREN)]
        return {"status": "ok", "cpu": sum(u.ru_utime + u.ru_stime for u in used)}, []
    return {"status": "unknown"}, []


def _restore_gradients(args: tuple, kwargs: dict, gradients: list) -> None:
    """Give the unpickled arguments the ``.grad`` pickle left behind (``_remote._gradients``)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    for kind, key, grads in gradients:
        value = args[key] if kind == "arg" else kwargs[key]
        tensors = _wire.trained_tensors(value, torch)
        if tensors is None:
            continue
        for tensor, grad in zip(tensors, grads, strict=False):
            if grad is not None and tensor.is_leaf:
                tensor.grad = grad


def _grad_mode() -> bool | None:
    torch = sys.modules.get("torch")
    return None if torch is None else bool(torch.is_grad_enabled())


def _call(header: dict[str, Any], blobs: list[bytes], namespace: dict[str, Any],
          tools: _Tools) -> tuple[dict[str, Any], list[bytes]]:
    fn = namespace.get(header["name"])
    args, kwargs, gradients = tools.loads(blobs[0])  # noqa: S301 - the grader's own inputs
    _restore_gradients(args, kwargs, gradients)
    keys = [("arg", i) for i in range(len(args))] + [("kw", k) for k in kwargs]
    values = list(args) + list(kwargs.values())
    tools.separate(values)
    before = [tools.describe(v, tools) for v in values]
    counting = tools.count_steps(values)
    budget = tools.budget(header["cpu"])
    reply: dict[str, Any]
    grad_mode = _grad_mode()
    try:
        with budget:
            value = fn(*args, **kwargs)
    except _CpuTimeUp:
        reply = {"status": "timeout"}
    except BaseException as exc:  # noqa: BLE001 - reported as text
        reply = _raised(exc)
    else:
        reply = {"status": "ok"}
    reply["cpu"] = getattr(budget, "used", 0.0)
    if grad_mode is not None and _grad_mode() != grad_mode:  # set_grad_enabled(False)
        reply["grad_mode"] = _grad_mode()  # outside a `with`: the check names it and,
        sys.modules["torch"].set_grad_enabled(grad_mode)  # as the check does, puts it back
    for handle in counting:
        handle.remove()
    out: list[bytes] = []
    try:
        if reply["status"] == "ok":
            reply["value"] = tools.encode(value, out)
        changes = []
        for (kind, key), value_now, (text, arrays) in zip(keys, values, before, strict=True):
            if tools.describe(value_now, tools) != (text, arrays):
                changes.append([kind, key, tools.encode(tools.state(value_now), out)])
    except BaseException as exc:  # noqa: BLE001 - e.g. a sparse or quantized tensor
        what = type(value).__name__ if reply["status"] == "ok" else "an argument"
        return {"status": "unsendable", "cpu": reply["cpu"],
                "text": f"{what} could not be encoded as plain data "
                        f"({type(exc).__name__}: {_text(exc, 200)})"}, []
    reply["changes"] = changes
    return reply, out


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), json.loads(sys.argv[2])))
