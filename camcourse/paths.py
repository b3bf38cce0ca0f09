"""Where the course keeps its files.

DATA_DIR holds what ships with the repository (the trained checkpoints and their
metrics); CACHE_DIR holds what is generated on first use (the cluttered-digits sets).
Both can be moved with an environment variable.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("CAMLIB_DATA", REPO_ROOT / "data"))
CACHE_DIR = Path(os.environ.get("CAMLIB_CACHE", Path.home() / ".cache" / "camlib"))
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
