"""Per-samples-file cache of the samples stage, so a rebuild after one new run reads one new file.

An entry holds what reading one samples file produced (the statistics' arrays and the viewer file's
text). Its key is the file's identity - real path, size, mtime and a sha256 of its first 64 KiB -
plus everything else the result depends on: the job (system, task, metric, filter, cluster field,
viewer file name), the task's shared docs digests, and the code version (a hash of the leaderboard's
own sources and of ecomsuite's bootstrap/metrics/parsing), so a code change invalidates everything.

The cache folder sits beside the site (``<out>.cache``); only files named ``*.lbcache`` in it are
ever written or pruned. Entries are pickles: the folder is as trusted as the site folder itself.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

SUFFIX = ".lbcache"
HEAD_BYTES = 1 << 16
_VERSION: str | None = None


def cache_dir_for(out: str | os.PathLike) -> Path:
    out = Path(out)
    return out.parent / f"{out.name}.cache"


def code_version() -> str:
    """A hash of every source file whose change could change a cached result."""
    global _VERSION
    if _VERSION is None:
        here = Path(__file__).resolve().parent
        import ecomsuite

        core = Path(ecomsuite.__file__).resolve().parent
        files = sorted(here.glob("*.py")) + [core / n for n in ("bootstrap.py", "metrics.py", "parsing.py")]
        h = hashlib.sha256()
        for f in files:
            h.update(f.name.encode())
            h.update(f.read_bytes() if f.is_file() else b"-")
        _VERSION = h.hexdigest()[:16]
    return _VERSION


def file_identity(path: str) -> str | None:
    """real path + size + mtime + sha256 of the first bytes; None when the file can't be looked at."""
    try:
        real = os.path.realpath(path)
        st = os.stat(real)
        with open(real, "rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError:
        return None
    return f"{real}\0{st.st_size}\0{st.st_mtime_ns}\0{hashlib.sha256(head).hexdigest()}"


def key(job: Any, refs_digest: str) -> str | None:
    ident = file_identity(job.path)
    if ident is None:
        return None
    out_name = os.path.basename(job.out_file) if job.out_file else ""
    parts = [code_version(), ident, job.system_id, job.task, job.metric, job.filter, str(job.cluster_field),
             out_name, refs_digest]
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def refs_digest(refs: Any) -> str:
    if not refs:
        return "-"
    h = hashlib.sha256()
    for k in sorted(refs, key=repr):
        p, t = refs[k]
        h.update(repr(k).encode("utf-8", "surrogatepass") + p + t)
    return h.hexdigest()


def load(folder: Path, k: str) -> tuple[Any, bytes | None] | None:
    try:
        with open(folder / f"{k}{SUFFIX}", "rb") as fh:
            return pickle.load(fh)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError, TypeError):
        return None


def store(folder: Path, k: str, data: Any, view: bytes | None) -> None:
    """Written to a temporary name and renamed: a concurrent or interrupted build never sees half an entry."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=SUFFIX)
        with os.fdopen(fd, "wb") as fh:
            pickle.dump((data, view), fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, folder / f"{k}{SUFFIX}")
    except OSError:
        pass  # a cache that can't be written only costs time


def prune(folder: Path, used: set[str]) -> int:
    """Remove the entries this build did not use (files of runs that are gone or changed)."""
    n = 0
    if not folder.is_dir():
        return 0
    for f in folder.glob(f"*{SUFFIX}"):
        if f.is_file() and not f.is_symlink() and f.name[: -len(SUFFIX)] not in used:
            try:
                f.unlink()
                n += 1
            except OSError:
                pass
    return n
