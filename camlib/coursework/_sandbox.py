"""Confining the process that runs a learner's code (Linux; elsewhere, what the OS allows).

:func:`confine` is called by that process on itself before any learner code runs:

- resource limits: address space, CPU time, file size, open files, no core files;
- seccomp (Linux x86-64 and arm64): no new processes (threads are allowed), no signals
  to other processes, no ``ptrace`` or reading another process's memory;
- Landlock (Linux ≥ 5.13): files may be written only under the working directory (and
  ``/dev/null``); from Landlock ABI 4 no TCP connections, from ABI 6 no signals and no
  abstract sockets outside the process.

Each layer that the kernel does not offer is skipped and reported by :func:`confine`.
:func:`protect_grader` makes the grader itself non-dumpable, so a process of the same
user cannot read its memory through ``/proc/PID/mem`` or ``ptrace``.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct
import sys

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_SECCOMP = 22
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_MODE_FILTER = 2
CLONE_THREAD = 0x00010000

# syscall numbers: (audit arch, {name: number})
_SYSCALLS = {
    "x86_64": (0xC000003E, {
        "fork": 57, "vfork": 58, "clone": 56, "clone3": 435, "kill": 62, "tkill": 200,
        "tgkill": 234, "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297, "ptrace": 101,
        "process_vm_readv": 310, "process_vm_writev": 311, "pidfd_send_signal": 424,
        "landlock_create_ruleset": 444, "landlock_add_rule": 445,
        "landlock_restrict_self": 446}),
    "aarch64": (0xC00000B7, {
        "clone": 220, "clone3": 435, "kill": 129, "tkill": 130, "tgkill": 131,
        "rt_sigqueueinfo": 138, "rt_tgsigqueueinfo": 240, "ptrace": 117,
        "process_vm_readv": 270, "process_vm_writev": 271, "pidfd_send_signal": 424,
        "landlock_create_ruleset": 444, "landlock_add_rule": 445,
        "landlock_restrict_self": 446}),
}


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def protect_grader() -> bool:
    """Make the calling (grading) process non-dumpable; False where not possible."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return _libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _limits(memory_bytes: int | None, cpu_seconds: int | None, file_bytes: int | None) -> str:
    try:
        import resource
    except ImportError:
        return "no resource limits on this platform"
    wanted = [("RLIMIT_CORE", 0), ("RLIMIT_FSIZE", file_bytes), ("RLIMIT_CPU", cpu_seconds),
              ("RLIMIT_AS", memory_bytes), ("RLIMIT_NOFILE", 256)]
    done = []
    for name, value in wanted:
        which = getattr(resource, name, None)
        if which is None or value is None:
            continue
        try:
            _, hard = resource.getrlimit(which)
            value = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(which, (value, value))
            done.append(name)
        except (ValueError, OSError):
            pass
    return "limits " + ",".join(done)


def _seccomp(table: dict[str, int], arch: int) -> None:
    """No fork, no signals or ptrace towards other processes (EPERM); threads allowed."""
    pid = os.getpid()
    code: list[tuple[int, int, int, int]] = []
    ld, jeq, jset, ret = 0x20, 0x15, 0x45, 0x06
    allow, deny = 0x7FFF0000, 0x00050000 | errno.EPERM
    nosys = 0x00050000 | errno.ENOSYS
    code.append((ld, 0, 0, 4))                       # A = arch
    code.append((jeq, 1, 0, arch))                   # arch ok -> skip next
    code.append((ret, 0, 0, deny))
    code.append((ld, 0, 0, 0))                       # A = nr
    if arch == 0xC000003E:
        code.append((0x35, 0, 1, 0x40000000))        # x32 ABI -> deny
        code.append((ret, 0, 0, deny))
    for name in ("fork", "vfork", "tkill", "ptrace", "process_vm_readv", "process_vm_writev",
                 "pidfd_send_signal"):
        if name in table:
            code.append((jeq, 0, 1, table[name]))
            code.append((ret, 0, 0, deny))
    code.append((jeq, 0, 1, table["clone3"]))        # glibc falls back to clone
    code.append((ret, 0, 0, nosys))
    code.append((jeq, 0, 4, table["clone"]))
    code.append((ld, 0, 0, 16))                      # A = flags (low 32 bits)
    code.append((jset, 0, 1, CLONE_THREAD))
    code.append((ret, 0, 0, allow))
    code.append((ret, 0, 0, deny))
    for name, own in (("kill", (pid, 0, -pid)), ("tgkill", (pid,)), ("rt_sigqueueinfo", (pid,)),
                      ("rt_tgsigqueueinfo", (pid,))):
        code.append((jeq, 0, 2 + 2 * len(own), table[name]))  # no match: to the reload
        code.append((ld, 0, 0, 16))                  # A = target pid
        for value in own:
            code.append((jeq, 0, 1, value & 0xFFFFFFFF))
            code.append((ret, 0, 0, allow))
        code.append((ret, 0, 0, deny))
        code.append((ld, 0, 0, 0))                   # A = nr again (jump target if no match)
    code.append((ret, 0, 0, allow))
    fixed = code
    program = b"".join(struct.pack("HBBI", c, jt, jf, k) for c, jt, jf, k in fixed)
    buffer = ctypes.create_string_buffer(program)

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = Prog(len(fixed), ctypes.addressof(buffer))
    libc = _libc()
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "seccomp")


def _landlock(table: dict[str, int], writable: list[str]) -> str:
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    abi = libc.syscall(table["landlock_create_ruleset"], None, ctypes.c_size_t(0),
                       ctypes.c_uint32(1))
    if abi < 1:
        return "no Landlock"
    write = 2 | 16 | 32 | 64 | 128 | 256 | 512 | 1024 | 2048 | 4096
    if abi >= 2:
        write |= 8192  # REFER
    if abi >= 3:
        write |= 16384  # TRUNCATE
    net = 1 | 2 if abi >= 4 else 0  # BIND_TCP | CONNECT_TCP
    scoped = 1 | 2 if abi >= 6 else 0  # abstract unix sockets, signals
    if abi >= 6:
        attr = struct.pack("QQQ", write, net, scoped)
    elif abi >= 4:
        attr = struct.pack("QQ", write, net)
    else:
        attr = struct.pack("Q", write)
    attr_buffer = ctypes.create_string_buffer(attr)
    fd = libc.syscall(table["landlock_create_ruleset"], attr_buffer, ctypes.c_size_t(len(attr)),
                      ctypes.c_uint32(0))
    if fd < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset")
    try:
        for path in writable:
            is_dir = os.path.isdir(path)
            allowed = write if is_dir else (2 | (16384 if abi >= 3 else 0))
            path_fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = ctypes.create_string_buffer(struct.pack("=Qi", allowed, path_fd))
                if libc.syscall(table["landlock_add_rule"], fd, 1, rule, 0) != 0:
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule {path}")
            finally:
                os.close(path_fd)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
        if libc.syscall(table["landlock_restrict_self"], fd, 0) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self")
    finally:
        os.close(fd)
    return f"Landlock ABI {abi}"


def confine(workdir: str, *, memory_bytes: int | None, cpu_seconds: int | None,
            file_bytes: int | None) -> list[str]:
    """Confine the calling process; returns one line per layer saying what was applied."""
    report = [_limits(memory_bytes, cpu_seconds, file_bytes)]
    if not sys.platform.startswith("linux"):
        return report + ["no seccomp or Landlock: not Linux"]
    try:
        import signal

        _libc().prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        pass
    arch, table = _SYSCALLS.get(platform.machine(), (None, None))
    if table is None:
        return report + [f"no seccomp or Landlock table for {platform.machine()}"]
    try:
        report.append(_landlock(table, [workdir, os.devnull]))
    except OSError as exc:
        report.append(f"Landlock failed: {exc}")
    try:
        _seccomp(table, arch)
        report.append("seccomp")
    except OSError as exc:
        report.append(f"seccomp failed: {exc}")
    return report


def probe() -> list[str]:
    """What :func:`confine` achieves on this machine (run in a throw-away process)."""
    import json
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as work:
        code = ("import json, sys; from camlib.coursework._sandbox import confine; "
                "print(json.dumps(confine(sys.argv[1], memory_bytes=None, cpu_seconds=None, "
                "file_bytes=None)))")
        result = subprocess.run([sys.executable, "-c", code, work], capture_output=True,
                                text=True, timeout=120, env=dict(os.environ, TMPDIR=work))
    try:
        return json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return [f"probe failed: {result.stderr.strip()[-200:]}"]
