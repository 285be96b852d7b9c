"""What produced a model, adapter, merge or baseline: one small ``lineage.json`` beside it.

Schema (all keys optional except kind; unknown keys are kept and shown by the leaderboard)::

    {"kind": "base" | "adapter" | "merge" | "baseline" | "api",
     "name": str, "base_model": str, "base_model_hash": str | None,
     "method": "lora" | "qlora" | "full" | "linear" | "ties" | ... | "cross-encoder" | ...,
     "tasks": [str], "train_size": int | {task: int} | None, "seed": int,
     "data_source": str, "data_fingerprint": str,
     "hyperparameters": {...}, "inputs": [lineage dicts, for merges],
     "command": "the exact command line", "versions": {package: version}, "git_rev": str | None,
     "created": ISO time, "complete": bool,
     "train_docs": {task: int}, "train_tokens": int, "trained_tokens": int, "train_time_s": float,
     "train_cost": {"trained_tokens", "train_time_s", "device", "world_size", "peak_memory_bytes",
                    "peak_memory_source"}, ...}

An eval's inference cost is not lineage: it sits beside lm-eval's results (``ecomsuite.cost``).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

FILENAME = "lineage.json"
PACKAGES = ("ecomsuite", "torch", "transformers", "peft", "trl", "accelerate", "datasets", "lm_eval", "bitsandbytes")


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for p in PACKAGES:
        try:
            out[p] = version(p.replace("_", "-"))
        except PackageNotFoundError:
            pass
    return out


def git_rev() -> str | None:
    """The project's git revision (with '+dirty' when the tree has changes), if run from a checkout."""
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (rev + ("+dirty" if dirty else "")) or None


def command_line(argv: list[str] | None = None) -> str:
    argv = sys.argv if argv is None else argv
    prog = "ecomsuite" if argv and Path(argv[0]).name in ("ecomsuite", "cli.py", "__main__.py") else argv[0]
    return shlex.join([prog, *argv[1:]])


def model_hash(path: str | os.PathLike) -> str | None:
    """sha256 (first 16 hex) of a local model's weight files; None for Hub ids not on disk."""
    p = Path(path)
    if not p.is_dir():
        return None
    files = sorted(list(p.glob("*.safetensors")) + list(p.glob("*.bin")))
    if not files:
        return None
    h = hashlib.sha256()
    for f in files:
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


def write(folder: str | os.PathLike, kind: str, **fields) -> Path:
    """Write ``folder/lineage.json`` atomically; returns its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = {"kind": kind, **fields}
    data.setdefault("versions", versions())
    data.setdefault("git_rev", git_rev())
    data.setdefault("created", _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    tmp = folder / (FILENAME + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    tmp.replace(folder / FILENAME)
    return folder / FILENAME


def read(folder: str | os.PathLike) -> dict | None:
    f = Path(folder) / FILENAME
    if not f.is_file():
        return None
    try:
        return json.loads(f.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def require_complete(folder: str | os.PathLike, role: str = "input") -> dict | None:
    """Refuse (one-line EcomError) a folder whose lineage.json says ``complete: false``, i.e. the output of a
    killed or still-running command; returns its lineage (None when it has none, e.g. a Hub model)."""
    from ecomsuite import EcomError

    lin = read(folder)
    if lin is not None and lin.get("complete") is False:
        status = f" (status: {lin['status']})" if lin.get("status") else ""
        raise EcomError(f"{role} {folder} is incomplete: its lineage.json says complete: false{status}; finish it "
                        "(ecomsuite sft ... --resume) or retrain it")
    return lin
