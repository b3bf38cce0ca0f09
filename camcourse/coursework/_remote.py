"""The grader's side of the learner's process: start it, talk to it, call through it.

:class:`LearnerProcess` starts ``camcourse.coursework._runner`` for one exercise, inside
bubblewrap where it works (``_sandbox``), else in its own session with an empty temporary
working directory, with the camlib and camcourse generated for that exercise on its
path (``_library``), and kills it with everything it started when done;
:func:`remove_tree` cleans up without following links. :class:`RemoteFunction` is what a check
receives as the learner's function: calling it sends the check's inputs to that process,
calls the learner's function there, and returns the answer rebuilt from plain data;
changes the function made to its arguments (arrays, tensors, a model's parameters,
hooks added and removed, attributes, an optimizer's state) are applied to the grader's own
objects, so the check sees them exactly as it would in a notebook.
"""

from __future__ import annotations

import importlib
import inspect
import json
import keyword
import math
import os
import pickle
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from camcourse.checks._results import LearnerError, _TimeUp
from camcourse.coursework import _wire


def package_files(package_dir: Path) -> dict[str, bytes]:
    """Every file of a package (``__pycache__`` skipped), read now: relative path -> bytes."""
    files = {}
    for path in sorted(package_dir.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            files[path.relative_to(package_dir.parent).as_posix()] = path.read_bytes()
    return files


PACKAGES = ("camlib", "camcourse")
"""What the learner's process imports: the library, and the course's modules the lessons
import (data, models, figures); the checks' answers are stripped (``_library``)."""


def learner_files() -> dict[str, bytes]:
    """:func:`package_files` of each of :data:`PACKAGES`, as this process imports them.

    Paths are relative to each package's parent (``camlib/reference.py``,
    ``camcourse/checks/lesson07.py``): written under one folder, they import side by side,
    and the generated camcourse imports the generated camlib.
    """
    files: dict[str, bytes] = {}
    for name in PACKAGES:
        files.update(package_files(Path(importlib.import_module(name).__file__).parent))
    return files


def write_package(files: dict[str, bytes], root: Path) -> None:
    """Write :func:`package_files` under ``root``, read-only."""
    for name, data in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        target.chmod(0o444)
    for directory in sorted({p for p in root.rglob("*") if p.is_dir()}, reverse=True):
        directory.chmod(0o555)


def remove_tree(root: str | Path) -> None:
    """Delete ``root`` and everything under it without following a link, iteratively.

    Works on directory file descriptors (``openat``/``unlinkat``), so neither depth nor
    path length matters (no recursion), and a symbolic link is removed, never followed
    or ``chmod``-ed through. Real directories (opened with ``O_NOFOLLOW``) are made
    writable first, in case a learner made them read-only. What cannot be removed stays;
    nothing outside ``root`` is touched.
    """
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        top = os.open(root, flags)
        os.fchmod(top, 0o700)
    except OSError:
        return
    stack: list[tuple[int, str, set[str]]] = [(top, "", set())]  # (fd, name, stuck)
    while stack:
        fd, name, stuck = stack[-1]
        child = None
        try:
            with os.scandir(fd) as entries:
                for entry in entries:
                    if entry.name in stuck:
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        child = entry.name
                        break
                    try:
                        os.unlink(entry.name, dir_fd=fd)
                    except OSError:
                        stuck.add(entry.name)
        except OSError:
            pass
        if child is not None:
            try:
                opened = os.open(child, flags, dir_fd=fd)
            except OSError:
                stuck.add(child)
                continue
            try:
                os.fchmod(opened, 0o700)
            except OSError:
                pass
            stack.append((opened, child, set()))
            continue
        stack.pop()
        os.close(fd)
        if stack:
            try:
                os.rmdir(name, dir_fd=stack[-1][0])
            except OSError:
                stack[-1][2].add(name)
    try:
        os.rmdir(root)
    except OSError:
        pass


class LearnerProcess:
    """One learner process for one exercise of one submission.

    ``sandbox``: run it inside bubblewrap (``_sandbox.bubblewrap_command``); otherwise
    as a plain process in its own session with a temporary working directory.
    """

    def __init__(self, library: dict[str, bytes], *, check_modules=(), memory_mb: int = 4096,
                 cpu_seconds: int = 600, file_mb: int = 64, start_timeout: float = 300.0,
                 sandbox: bool = False):
        self.library = library
        self.check_modules = [str(m) for m in check_modules]
        self.memory_mb, self.cpu_seconds, self.file_mb = memory_mb, cpu_seconds, file_mb
        self.start_timeout = start_timeout
        self.sandbox = sandbox
        self.process: subprocess.Popen | None = None
        self.sock: socket.socket | None = None
        self.root: Path | None = None
        self.confinement: list[str] = []
        self.exit_code: int | None = None
        self.cpu_seconds_used = 0.0  # by the learner's processes, as they report it
        self.started = time.monotonic()
        self.peer_closed, self.healthy = False, True

    @property
    def alive(self) -> bool:
        return self.process is not None and self.sock is not None

    def _command(self, fd: int, config: dict[str, Any]) -> tuple[list[str], dict, Path | None]:
        """(argv, environment, working directory) of the learner's process."""
        from camcourse.coursework._sandbox import LIBRARY_MOUNT, WORK_MOUNT, bubblewrap_command

        lib = self.root / "lib"
        runner = ["-s", "-m", "camcourse.coursework._runner", str(fd), json.dumps(config)]
        env = {key: os.environ[key] for key in ("LANG", "LC_ALL", "SYSTEMROOT")
               if key in os.environ}
        env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONNOUSERSITE="1", MPLBACKEND="Agg",
                   OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   CUDA_VISIBLE_DEVICES="")
        if self.sandbox:
            env.update(PATH="/usr/bin:/bin", PYTHONPATH=LIBRARY_MOUNT, HOME=WORK_MOUNT,
                       TMPDIR=WORK_MOUNT, MPLCONFIGDIR=WORK_MOUNT)
            prefix = bubblewrap_command(str(lib), work_mb=self.file_mb, env=env)
            # bwrap's options travel through a pipe (``--args FD``), so that the command
            # line of bwrap's init, the one process the learner can see, names no host path.
            read, write = os.pipe()
            os.write(write, b"".join(a.encode() + b"\0" for a in prefix[1:-2]))
            os.close(write)
            self.extra_fds = [read]
            return [prefix[0], "--args", str(read), *prefix[-2:], *runner], env, None
        work = self.root / "work"
        work.mkdir()
        env.update(PATH=os.environ.get("PATH", ""), PYTHONPATH=str(lib), HOME=str(work),
                   TMPDIR=str(work), MPLCONFIGDIR=str(work))
        return [sys.executable, *runner], env, work

    def start(self) -> None:
        import tempfile

        self.exit_code = None
        self.peer_closed, self.healthy = False, True
        self.started = time.monotonic()
        self.root = Path(tempfile.mkdtemp(prefix="camlib-grade-"))
        write_package(self.library, self.root / "lib")
        parent, child = socket.socketpair()
        config = {"memory_bytes": self.memory_mb << 20, "cpu_seconds": self.cpu_seconds,
                  "file_bytes": self.file_mb << 20, "namespaces": self.sandbox}
        self.extra_fds: list[int] = []
        argv, env, cwd = self._command(child.fileno(), config)
        try:
            self.process = subprocess.Popen(
                argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, pass_fds=[child.fileno(), *self.extra_fds],
                start_new_session=True)
        finally:
            child.close()
            for fd in self.extra_fds:
                os.close(fd)
        self.sock = parent
        try:
            header, _ = self._receive(time.monotonic() + self.start_timeout, None)
        except _wire.ChannelError:
            self.kill()
            raise
        self.confinement = [str(x) for x in header.get("confinement", [])][:8]
        if self.check_modules:
            self.request({"op": "checks", "modules": self.check_modules},
                         timeout=self.start_timeout)

    def _receive(self, deadline: float, ident: str | None) -> tuple[dict, list[bytes]]:
        for _ in range(1000):  # messages not answering this request are dropped
            header, blobs = _wire.receive(self.sock, deadline)
            if ident is None or header.get("id") == ident:
                return header, blobs
        raise _wire.ChannelError("too many unrequested messages")

    def request(self, header: dict[str, Any], blobs: list[bytes] = (), *,
                timeout: float) -> tuple[dict[str, Any], list[bytes]]:
        """Send a request and wait for its answer; kills the process on any failure."""
        if not self.alive:
            raise _wire.ChannelError("the learner's process is not running")
        ident = secrets.token_hex(8)
        try:
            _wire.send(self.sock, dict(header, id=ident), blobs)
            return self._receive(time.monotonic() + timeout, ident)
        except (OSError, _wire.ChannelError) as exc:
            self.peer_closed = not isinstance(exc, _wire.ChannelTimeout)
            self.healthy = False
            self.kill()
            if isinstance(exc, _wire.ChannelError):
                raise
            raise _wire.ChannelError(f"the channel failed ({type(exc).__name__})") from None
        except BaseException:
            self.healthy = False
            self.kill()
            raise

    def ended(self) -> str:
        """How the process ended, in words: its exit status or signal (after :meth:`kill`).

        Under bubblewrap a process killed by signal N is reported by ``bwrap`` as exit
        status 128 + N; both are named.
        """
        code = self.exit_code
        if code is None:
            return "it stopped answering and the grader stopped it"
        if code < 0:
            return f"it was killed by signal {-code} ({_signal_name(-code)})"
        if self.sandbox and code > 128:
            return (f"it exited with status {code} (bubblewrap's way of saying signal "
                    f"{code - 128}, {_signal_name(code - 128)})")
        return f"it exited with status {code}"

    def kill(self) -> None:
        """Kill the process (with its session, and under bubblewrap its namespaces); clean up."""
        if self.alive and self.healthy:
            try:  # ask first: under bubblewrap its CPU time never reaches the grader's rusage
                _wire.send(self.sock, {"op": "usage", "id": "usage"})
                header, _ = self._receive(time.monotonic() + 2, "usage")
                self.cpu_seconds_used += _plausible_cpu(header.get("cpu"),
                                                        time.monotonic() - self.started)
            except (OSError, _wire.ChannelError, ValueError):
                pass
        if self.process is not None:
            try:  # a process that closed the channel is ending: let it say how
                self.exit_code = self.process.wait(timeout=2 if self.peer_closed else 0.01)
            except subprocess.TimeoutExpired:
                self.exit_code = None
            try:
                if hasattr(os, "killpg"):
                    os.killpg(self.process.pid, signal.SIGKILL)
                else:
                    self.process.kill()
            except OSError:
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            self.process = None
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.root is not None:
            remove_tree(self.root)
            self.root = None


def _plausible_cpu(used: Any, lifetime: float) -> float:
    """The CPU seconds a learner's process reported, as a number the summary may add up:
    its own code can make the reply (``resource.getrusage`` patched) say -10¹² or 10³⁰⁰,
    which would print a class's CPU time as negative or infinite. Kept between 0 and what
    its lifetime allows on every core of this machine.

    >>> _plausible_cpu(1.5, 10.0), _plausible_cpu(-1e12, 10.0), _plausible_cpu("x", 10.0)
    (1.5, 0.0, 0.0)
    >>> _plausible_cpu(1e300, 10.0) <= 10.0 * (os.cpu_count() or 1)
    True
    """
    if type(used) not in (int, float) or not math.isfinite(used):
        return 0.0
    return min(max(float(used), 0.0), max(lifetime, 0.0) * (os.cpu_count() or 1))


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown signal"


# ---------------------------------------------------------------------------
# The learner's function as a check sees it
# ---------------------------------------------------------------------------


def _mirrored_hook(*args: Any) -> None:
    """Stands for a hook the learner's function left on a module (it does nothing)."""
    return None


def _apply(target: Any, state: Any) -> None:
    """Apply a change the learner's function made to an argument to the grader's object."""
    import torch

    if isinstance(target, np.ndarray):
        if isinstance(state, np.ndarray) and target.flags.writeable:
            for attribute in ("dtype", "shape"):  # a.dtype = ..., a.shape = ... there: the
                if getattr(state, attribute) != getattr(target, attribute):  # same views
                    try:                                             # here, never a copy
                        setattr(target, attribute, getattr(state, attribute))
                    except (AttributeError, ValueError, TypeError):
                        pass
            if state.shape == target.shape:
                np.copyto(target, state, casting="unsafe")
        return
    if isinstance(target, torch.Tensor) and isinstance(state, dict):
        data = state.get("data")
        with torch.no_grad():
            if isinstance(data, torch.Tensor):
                if data.shape == target.shape and data.dtype == target.dtype:
                    target.copy_(data)
                else:  # x.data = x.data.float(), x.resize_(...) there
                    try:
                        target.data = data
                    except RuntimeError:
                        if data.shape == target.shape:
                            target.copy_(data.to(target.dtype))
        if target.is_leaf and target.is_floating_point():
            target.requires_grad_(bool(state.get("requires_grad")))
            grad = state.get("grad")
            if isinstance(grad, torch.Tensor) and grad.shape == target.shape:
                target.grad = grad.to(target.dtype)
            elif grad is None:
                target.grad = None
        return
    if not isinstance(state, dict):
        return
    kind = state.get("kind")
    if kind == "module" and isinstance(target, torch.nn.Module):
        _apply_module(target, state, torch)
    elif kind == "optimizer" and isinstance(target, torch.optim.Optimizer):
        try:
            target.load_state_dict(state.get("state_dict"))
        except Exception:  # noqa: BLE001 - a state the optimizer refuses is not mirrored
            pass
        steps = state.get("steps")
        # step() ran in the learner's process: the grader's own step hooks (a check's) run
        # once per step, after the parameters and gradients were mirrored (modules come
        # first in a call's changes only when they come first in its arguments; the hooks
        # of a check read the model after the call, not inside the hook).
        if isinstance(steps, int) and steps > 0:
            for hook in list(getattr(target, "_optimizer_step_post_hooks", {}).values())[:8]:
                for _ in range(min(steps, 1000)):
                    hook(target, (), {})
    elif kind == "container":
        value = state.get("value")
        if isinstance(target, list) and isinstance(value, list):
            target[:] = value
        elif isinstance(target, dict) and isinstance(value, dict):
            target.clear()
            target.update(value)


HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
"""A module's hook dicts, in the order the learner's process reports their ids
(``_runner.HOOK_DICTS``)."""

MAX_HOOKS = 100
"""Hooks mirrored per hook dict of one module (a leak is told by one)."""


def _module_internals(torch: Any) -> frozenset[str]:
    """The attributes every ``nn.Module`` has: mirrored by their meaning (parameters,
    hooks, mode), never replaced or removed as attributes."""
    return frozenset(vars(torch.nn.Module()))


def _mirror_tensor(module: Any, leaf: str, value: Any, parameter: bool, torch: Any) -> None:
    """Give ``module`` the parameter or buffer ``leaf`` as the learner's process left it:
    values copied in place; a new dtype or shape (``head.double()``, ``.to(dtype)``, a
    replaced weight) set through ``.data``, as ``Module._apply`` converts, so the
    parameter stays the object the caller and the optimizer hold; a new one registered."""
    table = module._parameters if parameter else module._buffers
    current = table.get(leaf)
    with torch.no_grad():
        if isinstance(current, torch.Tensor):
            if current.shape == value.shape and current.dtype == value.dtype:
                current.copy_(value)
            else:
                current.data = value.detach().clone().to(current.device)
        elif leaf.isidentifier() and leaf not in vars(module) and leaf not in module._modules:
            if parameter and value.is_floating_point():
                module.register_parameter(leaf, torch.nn.Parameter(value.detach().clone()))
            elif not parameter:
                module.register_buffer(leaf, value.detach().clone())


def _apply_module(target: Any, state: dict, torch: Any) -> None:
    """Mirror on the grader's module what the learner's function did to it: parameters and
    buffers (values, dtype, shape, added or removed), ``.grad``, hooks added and removed
    (by the ids the grader's own hooks travelled with), attributes added, removed or given
    a new plain value, and each submodule's training flag. Only plain data is used: a
    learner's object becomes an inert stand-in (``_wire.Opaque``)."""
    modules = dict(target.named_modules())
    internal = _module_internals(torch)
    reported = state.get("state")
    if isinstance(reported, dict):
        named = [(n, p, True) for n, p in target.named_parameters()] + \
            [(n, b, False) for n, b in target.named_buffers()]
        persistent = set(target.state_dict())
        for name, _, parameter in named:  # removed (del module.weight) in the learner's
            if name in persistent and name not in reported:
                prefix, _, leaf = name.rpartition(".")
                module = modules.get(prefix)
                if module is not None:
                    (module._parameters if parameter else module._buffers).pop(leaf, None)
        parameters = set(state.get("parameters") or ()) if isinstance(
            state.get("parameters"), list) else set()
        for name, value in reported.items():
            if not isinstance(name, str) or not isinstance(value, torch.Tensor):
                continue
            prefix, _, leaf = name.rpartition(".")
            module = modules.get(prefix)
            if module is None:
                continue
            parameter = leaf in module._parameters or (leaf not in module._buffers
                                                       and name in parameters)
            _mirror_tensor(module, leaf, value, parameter, torch)
    named_parameters = dict(target.named_parameters())
    for name, grad in dict(state.get("grads") or {}).items():
        parameter = named_parameters.get(name)
        if parameter is None:
            continue
        if grad is None:
            parameter.grad = None
        elif isinstance(grad, torch.Tensor) and grad.shape == parameter.shape:
            parameter.grad = grad.detach().to(parameter.dtype)
    for name, reported_hooks in dict(state.get("hooks") or {}).items():
        module = modules.get(name)
        if module is None or not isinstance(reported_hooks, (list, tuple)):
            continue
        for attribute, ids in zip(HOOK_DICTS, reported_hooks, strict=False):
            hooks = getattr(module, attribute, None)
            if not isinstance(hooks, dict) or not isinstance(ids, (list, tuple)):
                continue
            kept = {i for i in ids if type(i) is int}
            for key in [k for k in hooks if k not in kept]:  # removed in the learner's
                for table in (hooks, getattr(module, attribute + "_with_kwargs", None),
                              getattr(module, attribute + "_always_called", None)):
                    if isinstance(table, dict):
                        table.pop(key, None)
            # registered there: inert stand-ins, each under a fresh id of this process (put
            # in the dict directly: register_full_backward_hook refuses a module that has
            # old-style backward hooks, and the check only counts them)
            for _ in range(min(len(kept - set(hooks)), MAX_HOOKS)):
                hooks[torch.utils.hooks.RemovableHandle(hooks).id] = _mirrored_hook
    for name, attributes in dict(state.get("attributes") or {}).items():
        module = modules.get(name)
        if module is not None and isinstance(attributes, dict):
            _mirror_attributes(module, attributes, internal, torch)
    for name, training in dict(state.get("training") or {}).items():
        if name in modules and isinstance(training, bool):
            modules[name].training = training
    named_parameters = dict(target.named_parameters())
    for name, flag in dict(state.get("requires_grad") or {}).items():
        parameter = named_parameters.get(name)
        if parameter is not None and isinstance(flag, bool) and (
                parameter.is_floating_point() or not flag):
            parameter.requires_grad_(flag)


def _mirror_attributes(module: Any, attributes: dict, internal: frozenset[str],
                       torch: Any) -> None:
    """Attributes (``vars(module)``, the internals aside) as the learner's process left
    them: a new one set (``module.stored = out``), one deleted there deleted, a plain value
    (number, text, tuple, tensor, array) that changed set; an attribute that became a
    learner's object keeps the grader's value. A name the module's class defines (a
    method) is left alone: the grader cannot call what replaced it."""
    mine = vars(module)
    for key in [k for k in mine if k not in internal and k not in attributes]:
        del mine[key]
    for key, value in list(attributes.items())[:1000]:
        if type(key) is not str or key in internal or key.startswith("__") \
                or hasattr(type(module), key):
            continue
        if key not in mine:
            mine[key] = value
            continue
        old = mine[key]
        if isinstance(value, _wire.Opaque):  # a learner's object: the grader's own is kept
            continue
        if isinstance(old, (torch.Tensor, np.ndarray)) or isinstance(value, (
                torch.Tensor, np.ndarray)):
            same = type(old) is type(value) and old.shape == value.shape \
                and old.dtype == value.dtype and bool((old == value).all())
        else:
            try:
                same = type(old) is type(value) and bool(old == value)
            except Exception:  # noqa: BLE001 - e.g. a tuple of tensors
                same = False
        if not same:
            mine[key] = value


def _gradients(args: tuple, kwargs: dict) -> list[tuple[str, Any, list[Any]]]:
    """The ``.grad`` of every tensor among the arguments, which pickle leaves behind.

    A tensor or a parameter is pickled without its gradient: a learner's function that
    forgets ``zero_grad()`` would find the gradients cleared at every call, as if it had
    cleared them, and pass. Returns (``"arg"`` or ``"kw"``, key, gradients) for each
    tensor, module (its parameters in order) and optimizer (its groups' parameters in
    order); :func:`camcourse.coursework._runner._restore_gradients` puts them back.
    """
    torch = sys.modules.get("torch")
    if torch is None:  # no tensor among the arguments either
        return []
    found = []
    for kind, key, value in [("arg", i, v) for i, v in enumerate(args)] + [
            ("kw", k, v) for k, v in kwargs.items()]:
        tensors = _wire.trained_tensors(value, torch)
        if tensors is None:
            continue
        grads = [None if t.grad is None else t.grad.detach().clone() for t in tensors]
        if any(g is not None for g in grads):
            found.append((kind, key, grads))
    return found


def _signature(params: list[str]) -> inspect.Signature:
    """A signature with the learner's parameter names where Python allows them.

    A name that is not a usable identifier (a keyword such as ``lambda``, set through a
    forged ``__signature__``) becomes ``argN``; any other trouble gives ``(*args, **kwargs)``.
    """
    names = []
    for i, p in enumerate(dict.fromkeys(str(p) for p in params)):
        names.append(p if p.isidentifier() and not keyword.iskeyword(p) else f"arg{i}")
    try:
        return inspect.Signature([inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                                  for n in dict.fromkeys(names)])
    except (ValueError, TypeError):
        return inspect.Signature([
            inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL),
            inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)])


class RemoteFunction:
    """The learner's function, called in the learner's process; see the module docstring.

    ``cpu_seconds`` of the learner's CPU time are allowed over all calls (one check), and
    ``wall_seconds`` of waiting in all.
    """

    def __init__(self, process: LearnerProcess, name: str, params: list[str], *,
                 exercise: str, cpu_seconds: float, wall_seconds: float):
        self.process, self.name, self.exercise = process, name, exercise
        self.__name__ = self.__qualname__ = name
        self.__signature__ = _signature(params)
        self.cpu_left, self.wall_left = cpu_seconds, wall_seconds
        self.time_limit = cpu_seconds
        self.lost: str | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self.process.alive:
            raise LearnerError("", f"the Python process running {self.name} had ended: "
                                   f"{self.lost or self.process.ended()}")
        try:
            payload = pickle.dumps((args, kwargs, _gradients(args, kwargs)),
                                   protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - a check's input that cannot travel
            raise LearnerError("", f"the grader could not send the inputs ({exc})") from None
        cpu = max(self.cpu_left, 0.05)
        wall = min(3 * cpu + 10, max(self.wall_left, 1.0))
        start = time.monotonic()
        try:
            header, blobs = self.process.request(
                {"op": "call", "name": self.name, "cpu": cpu}, [payload], timeout=wall)
        except _wire.ChannelTimeout:
            self.lost = "it did not answer in time"
            raise _TimeUp from None
        except _wire.ChannelRefused as exc:
            self.lost = f"the grader refused its reply: {exc}"
            raise LearnerError("", f"{self.name} returned something the grader refuses to "
                                   f"read: {exc}") from None
        except _wire.ChannelError as exc:
            self.lost = self.process.ended()
            raise LearnerError("", f"the Python process running {self.name} ended during "
                                   f"the call: {self.lost} ({exc})") from None
        finally:
            self.wall_left -= time.monotonic() - start
        used = header.get("cpu")
        self.cpu_left -= float(used) if isinstance(used, (int, float)) and used > 0 else 0.0
        status = header.get("status")
        try:
            for change in header.get("changes") or []:
                kind, key, tree = change
                target = args[key] if kind == "arg" else kwargs[key]
                _apply(target, _wire.decode(tree, blobs))
            value = _wire.decode(header.get("value"), blobs) if status == "ok" else None
            grad_mode = header.get("grad_mode")
            if isinstance(grad_mode, bool) and "torch" in sys.modules:  # the function's
                sys.modules["torch"].set_grad_enabled(grad_mode)  # global change, mirrored
        except (_wire.ChannelError, TypeError, ValueError, KeyError, IndexError) as exc:
            self.process.kill()
            raise LearnerError("", f"{self.name} returned something the grader cannot read "
                                   f"({exc})") from None
        if status == "ok":
            return value
        if status == "timeout":
            raise _TimeUp
        if status == "raised":
            raise LearnerError(_wire.type_label(header.get("type"), "Exception"),
                               str(header.get("text", ""))[:300],
                               str(header.get("where", ""))[:200])
        raise LearnerError("", f"what {self.name} returned could not be sent to the grader: "
                               f"{str(header.get('text', status))[:200]}")
