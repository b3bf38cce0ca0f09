"""Confining the process that runs a learner's code.

Two layers. The outer one is the operating system's: :func:`bubblewrap_command` wraps the
learner's process in bubblewrap (``bwrap``, the sandbox behind Flatpak) with new user,
PID, IPC, network, UTS, cgroup and mount namespaces, ``--die-with-parent`` and
``--new-session``. Inside, the process sees the interpreter and its site-packages
read-only (the virtual environment mounted at ``/venv``, so a path an editable install's
``.pth`` adds, such as the course checkout, does not exist there), the camlib and
camcourse generated for the exercise (``/library``, read-only), a size-capped tmpfs
working directory
(``/work``) and its own ``/proc`` and ``/dev``; everything else is absent. When it ends,
its namespaces go with it: files, SysV shared memory and processes.

The inner layer, :func:`confine`, is what the process does to itself before any learner
code runs:

- resource limits: address space, CPU time, file size, open files, no core files
  (namespaces do not limit resources);
- seccomp (Linux x86-64 and arm64): no new processes, threads allowed, and no memory the
  address-space limit does not count (``memfd_create``, SysV ``shmget`` and ``msgget``:
  :data:`UNCOUNTED_MEMORY`). Under bubblewrap these are what it adds (a PID namespace
  contains processes but does not count them: a fork bomb would still fill the machine;
  an IPC namespace frees its segments only when it ends); without bubblewrap it also denies
  signals to other processes, ``ptrace`` and reading another process's memory;
- Landlock (Linux ≥ 5.13), only without bubblewrap (the mount namespace already confines
  files, the network namespace sockets): files may be written only under the working
  directory; from ABI 4 no TCP, from ABI 6 no signals or abstract sockets outside.

Without bubblewrap (not installed, or user namespaces refused) grading still works with
the inner layer only; the grades say which isolation each submission had.
:func:`protect_grader` makes the grader itself non-dumpable, so a process of the same
user cannot read its memory through ``/proc/PID/mem`` or ``ptrace``.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import shutil
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
        "landlock_restrict_self": 446, "memfd_create": 319, "memfd_secret": 447,
        "shmget": 29, "msgget": 68}),
    "aarch64": (0xC00000B7, {
        "clone": 220, "clone3": 435, "kill": 129, "tkill": 130, "tgkill": 131,
        "rt_sigqueueinfo": 138, "rt_tgsigqueueinfo": 240, "ptrace": 117,
        "process_vm_readv": 270, "process_vm_writev": 271, "pidfd_send_signal": 424,
        "landlock_create_ruleset": 444, "landlock_add_rule": 445,
        "landlock_restrict_self": 446, "memfd_create": 279, "memfd_secret": 447,
        "shmget": 194, "msgget": 186}),
}

UNCOUNTED_MEMORY = ("memfd_create", "memfd_secret", "shmget", "msgget")
"""System calls that give memory the address-space limit does not count, denied: a
``memfd_create`` file is written up to the file-size limit (64 MB) once per open file
(256), and a SysV segment (``shmget``, then ``shmat``, fill, ``shmdt``) holds its pages
unmapped, 4,096 segments of any size; neither is in the process's address space nor in
any tmpfs with a size. A learner's process held 1.2 GB of them beside its 4,096 MB limit
(its ``VmSize`` unchanged), and could have held the grading machine's memory. POSIX
shared memory (``shm_open``) is a file in ``/dev/shm``, a tmpfs of 64 MiB under
bubblewrap."""


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
    """No fork, no signals or ptrace towards other processes, no memory outside the
    address-space limit (:data:`UNCOUNTED_MEMORY`) (EPERM); threads allowed."""
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
                 "pidfd_send_signal", *UNCOUNTED_MEMORY):
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
            file_bytes: int | None, namespaces: bool = False) -> list[str]:
    """Confine the calling process; returns one line per layer saying what was applied.

    ``namespaces``: the process runs inside bubblewrap, so Landlock is skipped.
    """
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
    if not namespaces:  # under bubblewrap the mount and network namespaces do this
        try:
            report.append(_landlock(table, [workdir, os.devnull]))
        except OSError as exc:
            report.append(f"Landlock failed: {exc}")
    try:  # under bubblewrap too: namespaces contain processes but do not count them
        _seccomp(table, arch)
        report.append("seccomp")
    except OSError as exc:
        report.append(f"seccomp failed: {exc}")
    return report


# ---------------------------------------------------------------------------
# bubblewrap
# ---------------------------------------------------------------------------

VENV_MOUNT = "/venv"
LIBRARY_MOUNT = "/library"
WORK_MOUNT = "/work"


def interpreter_mounts() -> tuple[list[str], str]:
    """bwrap arguments mounting the interpreter read-only, and its path inside.

    The base interpreter's prefix is mounted where it is (its binary's links point there);
    a virtual environment is mounted at ``/venv``, never at its own path, whose parent may
    be the course checkout.
    """
    base = os.path.realpath(sys.base_prefix)
    args = ["--ro-bind", base, base]
    if os.path.realpath(sys.prefix) != base:
        args += ["--ro-bind", os.path.realpath(sys.prefix), VENV_MOUNT]
        python = f"{VENV_MOUNT}/bin/{os.path.basename(sys.executable)}"
    else:
        python = sys.executable
    return args, python


def _system_mounts() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for name in ("/etc/ld.so.cache", "/etc/localtime"):
        if os.path.exists(name):
            args += ["--ro-bind", name, name]
    return args


def bubblewrap_command(library: str, *, work_mb: int, env: dict[str, str]) -> list[str]:
    """The ``bwrap ... --`` prefix and the interpreter that run the learner's process.

    ``library`` (the folder holding the generated camlib and camcourse) is mounted
    read-only at ``/library``; ``/work`` and ``/dev/shm`` are tmpfs of ``work_mb`` MiB
    each, the only places it can write; ``env`` is the whole environment.

    Every writable tmpfs has a size: tmpfs pages are memory that no address-space limit
    of the process counts, and bwrap's ``--dev`` is an uncapped tmpfs (half the
    machine's memory) whose ``shm`` would otherwise hold gigabytes after the process's
    own limit stopped it. ``--remount-ro`` is not recursive, hence ``/dev`` named on
    its own (device nodes such as ``/dev/null`` stay writable on a read-only mount).
    """
    bwrap = shutil.which("bwrap") or "bwrap"
    mounts, python = interpreter_mounts()
    args = [bwrap, "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-net",
            "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent", "--new-session",
            "--cap-drop", "ALL", "--hostname", "grading", "--clearenv",
            *_system_mounts(), *mounts,
            "--ro-bind", library, LIBRARY_MOUNT,
            "--proc", "/proc", "--dev", "/dev",
            "--size", str(work_mb << 20), "--tmpfs", "/dev/shm",
            "--size", str(work_mb << 20), "--tmpfs", WORK_MOUNT,
            "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", WORK_MOUNT]
    for key, value in env.items():
        args += ["--setenv", key, value]
    return args + ["--", python]


_BWRAP_STATE: dict[str, str] = {}


def bubblewrap_problem() -> str | None:
    """None when bubblewrap runs a Python process here; else why not (cached)."""
    if "problem" in _BWRAP_STATE:
        return _BWRAP_STATE["problem"] or None
    problem = ""
    if not sys.platform.startswith("linux"):
        problem = f"bubblewrap needs Linux (this is {sys.platform})"
    elif shutil.which("bwrap") is None:
        problem = "bubblewrap is not installed (apt-get install bubblewrap)"
    else:
        import subprocess
        import tempfile

        with tempfile.TemporaryDirectory() as library:
            command = bubblewrap_command(library, work_mb=1, env={"PATH": "/usr/bin:/bin"})
            try:
                result = subprocess.run([*command, "-c", "print('ok')"], capture_output=True,
                                        text=True, timeout=60, stdin=subprocess.DEVNULL)
                if result.stdout.strip() != "ok":
                    problem = f"bubblewrap failed here: {result.stderr.strip()[-300:]}"
            except (OSError, subprocess.SubprocessError) as exc:
                problem = f"bubblewrap failed here: {exc}"
    _BWRAP_STATE["problem"] = problem
    return problem or None


def probe() -> list[str]:
    """What :func:`confine` achieves on this machine (run in a throw-away process)."""
    import json
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as work:
        code = ("import json, sys; from camcourse.coursework._sandbox import confine; "
                "print(json.dumps(confine(sys.argv[1], memory_bytes=None, cpu_seconds=None, "
                "file_bytes=None)))")
        result = subprocess.run([sys.executable, "-c", code, work], capture_output=True,
                                text=True, timeout=120, env=dict(os.environ, TMPDIR=work))
    try:
        return json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return [f"probe failed: {result.stderr.strip()[-200:]}"]
