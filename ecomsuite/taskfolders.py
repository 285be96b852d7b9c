"""Where ecomsuite's task YAMLs are: the package's tasks/ and the extra task folders of
$ECOMSUITE_INCLUDE_PATH / ``--include-path``. Standard library only: the leaderboard reads its suite's
group definition from here without importing lm-eval (``ecomsuite.lmeval`` imports lm-eval's task
module when it is imported, 2-3 s). Re-exported by :mod:`ecomsuite.lmeval`."""
from __future__ import annotations

import os
from pathlib import Path

from ecomsuite import EcomError

TASKS_DIR = Path(__file__).resolve().parent.parent / "tasks"
INCLUDE_ENV = "ECOMSUITE_INCLUDE_PATH"   # extra task folders, os.pathsep-separated (like --include-path)


def tasks_dir() -> Path:
    """The folder holding the ecom task YAMLs (source checkout or installed package data)."""
    if (TASKS_DIR / "_ecom.yaml").exists():
        return TASKS_DIR
    import ecomsuite.tasks as pkg  # regular (non-editable) install: package data

    return Path(pkg.__file__).resolve().parent


def include_paths(extra=None) -> list[Path]:
    """The task folders every ecomsuite command sees: the package's tasks/, then $ECOMSUITE_INCLUDE_PATH,
    then ``extra`` (``--include-path``). A folder that does not exist is a one-line error."""
    env = [p for p in os.environ.get(INCLUDE_ENV, "").split(os.pathsep) if p]
    extra = [extra] if isinstance(extra, (str, os.PathLike)) else list(extra or [])
    paths = [tasks_dir()]
    for origin, p in [(INCLUDE_ENV, p) for p in env] + [("--include-path", p) for p in extra]:
        path = Path(p).expanduser().resolve()
        if not path.is_dir():
            raise EcomError(f"{p}: task folder not found (from {origin})")
        if path not in paths:
            paths.append(path)
    return paths


def task_files(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).rglob("*.yaml") if not set(p.parts) & {"__pycache__", ".ipynb_checkpoints"})
