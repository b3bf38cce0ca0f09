"""Where the course keeps its files.

DATA_DIR holds what ships with the repository (the trained checkpoints and their
metrics); CACHE_DIR holds what is generated on first use (the cluttered-digits sets).
Both can be moved with an environment variable.

In a checkout (and an editable install) DATA_DIR is the ``data/`` folder beside the
packages. A wheel (``pip install .``) carries the same files to
``<prefix>/share/camcourse/data`` (pyproject.toml's ``data-files``), where the installed
distribution's file list finds them, whatever the working directory.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# Where a wheel installs data/, relative to its installation prefix (pyproject.toml).
INSTALLED_DATA = ("share", "camcourse", "data")


def installed_data_dir() -> Path | None:
    """The checkpoints' folder that an installed wheel of the course carries, if any."""
    from importlib import metadata

    try:
        files = metadata.distribution("camlib").files or []
    except metadata.PackageNotFoundError:
        return None
    for file in files:
        if file.suffix == ".pt" and tuple(file.parts[-4:-1]) == INSTALLED_DATA:
            folder = Path(file.locate()).resolve().parent
            if folder.is_dir():
                return folder
    return None


def _data_dir() -> Path:
    if "CAMLIB_DATA" in os.environ:
        return Path(os.environ["CAMLIB_DATA"])
    beside = REPO_ROOT / "data"
    if beside.is_dir():
        return beside
    return installed_data_dir() or beside


DATA_DIR = _data_dir()
CACHE_DIR = Path(os.environ.get("CAMLIB_CACHE", Path.home() / ".cache" / "camlib"))
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
