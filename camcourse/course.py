"""The course's repository setting, and its commands where ``make`` is missing (Windows).

The one setting that names the course's repository lives in ``camcourse/course.json``::

    {"repo_url": "https://github.com/OWNER/NAME", "branch": "main"}

Code reads it with :func:`load_setting` and passes the :class:`Setting` on; the clone line,
the "Open in Colab" links and every notebook's set-up cell are made from it here.
``python -m camcourse.coursework publish URL`` writes the file and regenerates what depends
on it. This module needs only the standard library, so its commands run before anything
is installed::

    python -m camcourse.course lab     # what `make lab` does: .venv, install, JupyterLab
    python -m camcourse.course test    # what `make test` does (test-fast: `make test-fast`)
    python -m camcourse.course lab --dry-run   # print the steps, run nothing
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from camlib import __version__

SETTING_FILE = Path(__file__).with_name("course.json")
REPO_ROOT = Path(__file__).resolve().parent.parent
GITHUB = "https://github.com/"
COLAB = "https://colab.research.google.com/github/"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
# Where the set-up cell puts the course's package and data when it has to fetch them.
CLONE_DIR_ON_COLAB = "/content/cam-course"
# What the set-up cell checks out: the packages and their data, never notebooks/.
SPARSE_PATHS = ("camlib", "camcourse", "data")
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
# The commands, as make names them: `make lab`, `make test`, `make test-fast`.
COMMANDS = ("lab", "test", "test-fast")
_REPO_URL = re.compile(r"^https://github\.com/[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+$")
_BRANCH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]*$")


@dataclass(frozen=True)
class Setting:
    """Where the course is published: a GitHub repository and a branch.

    >>> Setting("https://github.com/ada/cam-course", "main").clone_line()
    'git clone --branch main https://github.com/ada/cam-course && cd cam-course'
    >>> Setting("https://github.com/ada/cam-course.git", "main")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: repo_url must be a GitHub repository address like ... got '...git'
    """

    repo_url: str
    branch: str = "main"

    def __post_init__(self) -> None:
        url, branch = self.repo_url, self.branch
        if not isinstance(url, str) or not _REPO_URL.match(url) or url.endswith(".git"):
            raise ValueError(f"repo_url must be a GitHub repository address like "
                             f"https://github.com/OWNER/NAME (no .git, no trailing slash), "
                             f"got {url!r}")
        if not isinstance(branch, str) or not _BRANCH.match(branch) or ".." in branch:
            raise ValueError(f"branch must be a git branch name like 'main', got {branch!r}")

    @property
    def github_path(self) -> str:
        """``OWNER/NAME``."""
        return self.repo_url[len(GITHUB):]

    def clone_line(self) -> str:
        """The shell line that fetches the course and enters its folder."""
        name = self.github_path.split("/")[1]
        return f"git clone --branch {self.branch} {self.repo_url} && cd {name}"

    def blob_url(self, path: str | Path) -> str:
        """The GitHub page of a file of the repository (path relative to its root)."""
        return f"{self.repo_url}/blob/{self.branch}/{Path(path).as_posix().lstrip('/')}"


def load_setting(path: str | Path = SETTING_FILE) -> Setting:
    """The repository setting stored in ``path`` (default: ``camcourse/course.json``)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"path must be a JSON file with repo_url and branch, "
                         f"could not read {path}: {exc}") from None
    if not isinstance(data, dict) or set(data) != {"repo_url", "branch"}:
        raise ValueError(f"path {path} must hold exactly the keys repo_url and branch, "
                         f"got {data!r}")
    return Setting(data["repo_url"], data["branch"])


def write_setting(setting: Setting, path: str | Path = SETTING_FILE, *,
                  check: bool = False) -> bool:
    """Store ``setting`` in ``path``; True if the file changed (with ``check``, would change)."""
    path = Path(path)
    text = json.dumps({"repo_url": setting.repo_url, "branch": setting.branch}, indent=2) + "\n"
    old = path.read_text(encoding="utf-8") if path.exists() else None
    if old != text and not check:
        path.write_text(text, encoding="utf-8")
    return old != text


def colab_url(notebook_path: str | Path, setting: Setting) -> str:
    """The Colab address that opens ``notebook_path`` (relative to the repository root).

    >>> colab_url("notebooks/04_swapping_the_sums.ipynb",
    ...           Setting("https://github.com/ada/cam-course", "main"))
    'https://colab.research.google.com/github/ada/cam-course/blob/main/notebooks/04_swapping_the_sums.ipynb'
    """
    path = Path(notebook_path).as_posix().lstrip("/")
    return f"{COLAB}{setting.github_path}/blob/{setting.branch}/{path}"


def badge_markdown(notebook_path: str | Path, setting: Setting) -> str:
    """The "Open in Colab" badge of a notebook, as a markdown cell's source.

    >>> badge_markdown("notebooks/00_setup.ipynb", Setting("https://github.com/ada/c", "main"))
    '[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/ada/c/blob/main/notebooks/00_setup.ipynb)'
    """
    return f"[![Open In Colab]({BADGE_IMAGE})]({colab_url(notebook_path, setting)})"


_SETUP_CELL = '''\
# Set-up. camlib (the library) and camcourse (the course's data, models, figures and
# checks) are installed in the course's own environment. On Colab, or in a notebook
# downloaded on its own, this cell fetches both ({version}) and their data (never the
# lessons) from the course's repository and installs them.
import importlib.util
import os
import shutil
import subprocess
import sys

COURSE = "{repo_url}"
HELP = COURSE + "/blob/{branch}/docs/get-started.md"  # the ways to install
ON_COLAB = "google.colab" in sys.modules


class SetUpError(Exception):
    def _render_traceback_(self):  # Jupyter shows this one line instead of a traceback
        return [f"SET-UP FAILED: {{self}}"]


def _why(error):
    """What went wrong, and what to do, in one line."""
    said = (getattr(error, "stderr", None) or "").strip()
    last = said.splitlines()[-1] if said else str(error)
    if isinstance(error, FileNotFoundError) and error.filename == "git":
        return ("git is not installed, and this cell needs it to fetch the course: "
                "install git (https://git-scm.com/downloads), then run this cell "
                "again.")
    if "No module named pip" in said:
        return (f"this kernel's Python ({{sys.executable}}) has no pip: run "
                f"`{{sys.executable}} -m ensurepip --upgrade` in a terminal, then this "
                "cell again.")
    if "externally-managed-environment" in said:
        return (f"this kernel's Python ({{sys.executable}}) belongs to the system "
                "and pip may not install into it: open the lesson from a virtual "
                "environment (`python3 -m venv ~/cam && ~/cam/bin/pip install "
                "jupyterlab && ~/cam/bin/jupyter lab`), then run this cell again.")
    offline = ("resolve host", "unable to access", "name resolution", "NewConnection",
               "No matching distribution", "unreachable", "timed out")
    if any(word in said for word in offline):
        return (f"offline: {{COURSE}} could not be reached. Connect to the network and "
                "run this cell again; once is enough, afterwards no lesson needs the "
                f"network. [{{last}}]")
    return (f"camlib and camcourse could not be installed: run this cell again, and if "
            f"it fails again see {{HELP}} [{{last}}]")


OLDEST = (3, 10)  # the oldest Python the course runs on
if sys.version_info < OLDEST:
    raise SetUpError(
        f"this kernel runs Python {{sys.version.split()[0]}} and the course needs 3.10 "
        "or newer: pick a newer Python in Kernel > Change kernel, or install one.")
MISSING = None in (importlib.util.find_spec("camlib"),
                   importlib.util.find_spec("camcourse"))
HERE = os.path.abspath(os.getcwd())
CLONE = next((folder for folder in (HERE, os.path.dirname(HERE),
                                    os.path.dirname(os.path.dirname(HERE)))
              if os.path.isfile(os.path.join(folder, "camcourse", "course.json"))),
             None)
if MISSING and CLONE and not ON_COLAB:
    raise SetUpError(
        f"this lesson is in a clone of the course ({{CLONE}}), but this kernel's Python "
        f"({{sys.executable}}) has not installed it: run `make lab` there (without "
        "make: `python -m camcourse.course lab`) and open the lesson in the JupyterLab "
        "it starts.")
if ON_COLAB or MISSING:
    cache = os.environ.get("CAMLIB_CACHE", os.path.expanduser("~/.cache/camlib"))
    where = os.path.join(cache, "cam-course-{version}")
    if ON_COLAB:
        where = "{colab_dir}"
    print(f"Installing camlib and camcourse {version} from {{COURSE}} into {{where}} "
          "(needs git and the network; pip adds PyTorch and the rest only where "
          "they are missing)")
    try:
        if not os.path.isdir(where):
            # A sparse clone without blobs: top-level files, camlib/, camcourse/, data/,
            # made beside its place and moved there whole: a failed try leaves nothing.
            part = where + ".part"
            shutil.rmtree(part, ignore_errors=True)
            subprocess.run(["git", "clone", "--quiet", "--depth", "1",
                            "--filter=blob:none", "--sparse", "--branch", "{branch}",
                            COURSE, part], check=True, capture_output=True, text=True)
            subprocess.run(["git", "-C", part, "sparse-checkout", "set",
                            {sparse}],
                           check=True, capture_output=True, text=True)
            os.replace(part, where)
        # --no-deps on Colab: its torch, numpy and ipywidgets stay as they are.
        subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                        *(["--no-deps"] if ON_COLAB else []), "-e", where],
                       check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as error:
        raise SetUpError(_why(error)) from None
    sys.path.insert(0, where)
    if not ON_COLAB:  # Jupyter loads the sliders' code (ipywidgets) when a page opens
        print("Installed. The lessons' sliders need this page reloaded once (the "
              "kernel keeps running): if a figure shows as text, reload the page.")

import torch  # noqa: E402 - after the install above

import camlib  # noqa: E402
from camcourse import paths  # noqa: E402

if not any(paths.DATA_DIR.glob("*.pt")):
    raise SetUpError(
        f"the course's trained networks (data/*.pt) are not in {{paths.DATA_DIR}}: "
        f"install the course with `pip install .` in a clone of {{COURSE}}, or set "
        "the environment variable CAMLIB_DATA to that clone's data/ folder.")
if camlib.__version__ != "{version}":
    print(f"Note: this lesson was written for camlib {version}; "
          f"you have {{camlib.__version__}}.")
# Full float32 on a GPU too (no TF32 in convolutions), so that the numbers the lessons
# quote and check hold on any device.
torch.backends.cudnn.allow_tf32 = False
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print(f"camlib {{camlib.__version__}}, torch {{torch.__version__}}, device: {{device}}")'''


def setup_cell_source(setting: Setting, version: str = __version__) -> str:
    """The first code cell of every lesson and student copy: runs wherever it lands.

    Where camlib and camcourse import (the course's own environment) it only imports. On
    Colab, and wherever either is missing (a lesson downloaded on its own), it makes a
    sparse clone without blobs of the repository (``camlib/``, ``camcourse/`` and
    ``data/`` only, so no solution arrives) and installs the project, both packages, from
    it: ``--no-deps`` on Colab, which already has every dependency; elsewhere pip adds
    what is missing. If that fails (no network, no git) it says what to do. The device
    comes from ``torch.cuda.is_available()``.

    >>> cell = setup_cell_source(Setting("https://github.com/ada/cam-course", "main"))
    >>> "--sparse" in cell and max(len(line) for line in cell.splitlines()) <= 88
    True
    """
    sparse = ", ".join(f'"{p}"' for p in SPARSE_PATHS)
    return _SETUP_CELL.format(repo_url=setting.repo_url, branch=setting.branch,
                              version=version, colab_dir=CLONE_DIR_ON_COLAB, sparse=sparse)



# --- The commands: `make lab` and `make test` without make --------------------------------

def venv_python(venv: Path) -> Path:
    """The interpreter of a virtual environment (``Scripts\\python.exe`` on Windows)."""
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def plan(command: str, *, root: Path = REPO_ROOT, python: str = sys.executable,
         cpu: bool = False, fresh: bool | None = None, as_root: bool | None = None,
         ) -> list[list[str]]:
    """The commands that ``python -m camcourse.course COMMAND`` runs, in order.

    Parameters
    ----------
    command : {"lab", "test", "test-fast"}
        ``lab`` installs what a learner needs (the ``lab`` extra) and opens JupyterLab on
        the student copies; ``test`` installs the test tools (the ``test`` extra) and runs
        what ``make test`` runs; ``test-fast`` what ``make test-fast`` runs (no lesson
        executed, no test marked slow).
    root : Path
        The course's folder (the one holding pyproject.toml).
    python : str
        The interpreter that creates ``.venv`` if it is missing.
    cpu : bool
        Install the CPU-only PyTorch first (on Linux without the 4.6 GB of CUDA libraries).
    fresh : bool, optional
        Whether the install steps run; by default when ``.venv`` has not been installed
        since pyproject.toml last changed.
    as_root : bool, optional
        Whether JupyterLab runs as root (it then needs ``--allow-root``); default: detected.

    >>> steps = plan("lab", root=Path("/c"), python="python3", fresh=True, as_root=False)
    >>> [" ".join(s[1:4]) for s in steps][:3]
    ['-m venv /c/.venv', '-m pip install', '-m pip install']
    >>> steps[-1][1:3]
    ['-m', 'jupyterlab']
    """
    if command not in COMMANDS:
        raise ValueError(f"command must be 'lab', 'test' or 'test-fast', got {command!r}")
    extra = "test" if command == "test-fast" else command
    venv = root / ".venv"
    py = str(venv_python(venv))
    if fresh is None:
        stamp = venv / f".installed-{extra}"
        fresh = not stamp.exists() or stamp.stat().st_mtime < (root / "pyproject.toml").stat(
            ).st_mtime
    steps: list[list[str]] = []
    if not Path(py).exists() or fresh:
        if not Path(py).exists():
            steps.append([python, "-m", "venv", str(venv)])
        steps.append([py, "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
        if cpu:
            steps.append([py, "-m", "pip", "install", "--quiet", "torch", "torchvision",
                          "--index-url", CPU_TORCH_INDEX])
        steps.append([py, "-m", "pip", "install", "--quiet", "-e", f"{root}[{extra}]"])
    if command == "lab":
        if as_root is None:
            as_root = hasattr(os, "geteuid") and os.geteuid() == 0
        steps.append([py, "-m", "jupyterlab", *(["--allow-root"] if as_root else []),
                      f"--ServerApp.root_dir={root / 'notebooks'}",
                      "--LabApp.default_url=/lab/tree/student/00_setup.ipynb"])
    elif command == "test-fast":
        steps.append([py, "-m", "pytest", "tests", "camlib", "camcourse", "--doctest-modules",
                      "-m", "not slow", "-p", "no:cacheprovider"])
    else:
        lessons = sorted(str(p.relative_to(root)) for p in (root / "notebooks").glob(
            "[0-9]*.ipynb"))
        steps.append([py, "-m", "pytest", "tests", "camlib", "camcourse", *lessons,
                      "--doctest-modules", "--nbval-lax", "--nbval-cell-timeout=600", "-p",
                      "no:cacheprovider"])
    return steps


def _failed(step: list[str]) -> str:
    """What a failed step of :func:`plan` means for the learner, in one line."""
    if step[1:3] == ["-m", "venv"]:
        return ("could not create .venv (on Debian and Ubuntu: sudo apt install "
                "python3-venv)")
    if step[1:4] == ["-m", "pip", "install"]:
        return ("installing failed: the first run downloads the course's packages and "
                "needs the network; pip's message is above")
    if step[1:3] == ["-m", "pytest"]:
        return "some tests failed (listed above)"
    return "this step failed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m camcourse.course",
        description="The course's commands without make: lab (as `make lab`) and test "
                    "(as `make test`). Both create .venv on first use.")
    parser.add_argument("command", choices=(*COMMANDS, "clone-line"),
                        help="lab: install what a learner needs and open JupyterLab on the "
                             "student copies; test: install the test tools and run the "
                             "tests; test-fast: the same without the lessons and the slow "
                             "tests; clone-line: print the git clone line of the course")
    parser.add_argument("--cpu", action="store_true",
                        help="install the CPU-only PyTorch (smaller; the course needs no GPU)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the steps, run nothing")
    args = parser.parse_args(argv)
    if sys.version_info < (3, 10) and args.command != "clone-line":
        print(f"error: this is Python {sys.version.split()[0]} and the course needs 3.10 or "
              f"newer: install one from https://www.python.org/downloads/ and run this "
              f"command with it (on Windows: py -3.12 -m camcourse.course {args.command})",
              file=sys.stderr)
        return 2
    if args.command == "clone-line":
        print(load_setting().clone_line())
        return 0
    if not (REPO_ROOT / "pyproject.toml").exists():
        print(f"error: {REPO_ROOT} is not the course's folder (no pyproject.toml): run this "
              f"command in a clone of the course ({load_setting().clone_line()})",
              file=sys.stderr)
        return 2
    steps = plan(args.command, cpu=args.cpu)
    for step in steps:
        shown = subprocess.list2cmdline(step) if os.name == "nt" else shlex.join(step)
        print(f"$ {shown}", flush=True)
        if args.dry_run:
            continue
        env = dict(os.environ, MPLBACKEND="Agg") if args.command != "lab" else None
        code = subprocess.call(step, cwd=REPO_ROOT, env=env)
        if code != 0:
            print(f"error: {_failed(step)} (exit status {code})", file=sys.stderr)
            return code
        if "install" in step and step[-1].startswith(str(REPO_ROOT)):
            extra = "test" if args.command == "test-fast" else args.command
            (REPO_ROOT / ".venv" / f".installed-{extra}").touch()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
