"""Results computed from large data files (``data info`` counts, the files' fingerprint), kept between runs.

An entry is a small JSON file under ``$XDG_CACHE_HOME/ecomsuite/data-cache/`` (default
``~/.cache/ecomsuite/data-cache/``), named by a sha256 over: what was computed and with which options,
the source of the readers (``ecomsuite/data/*.py``: changed code never reads an old entry), the Python,
Unicode and pyarrow versions, and each file's identity -- resolved path, size, modification time (ns),
inode and a sha256 of its first MiB.
A file rewritten in place changes its mtime; one replaced by another gets a new inode; so an entry is
only read for the very file it was computed from.

Only files of at least ``MIN_BYTES`` in total are cached (small files are read in well under a second,
and tests on them then always exercise the readers). An entry that cannot be read or is not what was
stored is recomputed and rewritten; one that cannot be written is a warning, never an error.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path

MIN_BYTES = 64 << 20
HEAD_BYTES = 1 << 20
FORMAT = 1


def cache_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "ecomsuite" / "data-cache"


def _code_hash() -> str:
    h = hashlib.sha256()
    for f in sorted(Path(__file__).parent.glob("*.py")):
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def _runtime() -> list[str]:
    """What else the readers' results depend on: Python (its Unicode tables: whitespace, lowercase) and pyarrow."""
    import sys
    import unicodedata

    import pyarrow

    return [sys.version.split()[0], unicodedata.unidata_version, pyarrow.__version__]


def file_identity(path: str | os.PathLike) -> list:
    """[resolved path, size, mtime ns, inode, sha256 of the first MiB] of one file."""
    p = Path(path).resolve()
    st = p.stat()
    with open(p, "rb") as fh:
        head = hashlib.sha256(fh.read(HEAD_BYTES)).hexdigest()
    return [str(p), st.st_size, st.st_mtime_ns, st.st_ino, head]


def cached(kind: str, files: list[str], options: dict, compute: Callable[[], object]):
    """``compute()`` (a JSON value), or what it gave before for the same ``kind``, ``options``, reader code
    and files (see the module docstring)."""
    if sum(Path(f).stat().st_size for f in files) < MIN_BYTES:
        return compute()
    key_parts = {"format": FORMAT, "kind": kind, "options": options, "code": _code_hash(), "runtime": _runtime(),
                 "files": [file_identity(f) for f in files]}
    key = hashlib.sha256(json.dumps(key_parts, sort_keys=True).encode()).hexdigest()[:32]
    entry = cache_dir() / f"{kind}-{key}.json"
    try:
        stored = json.loads(entry.read_text(encoding="utf-8"))
        if isinstance(stored, dict) and stored.get("key") == key_parts:
            return stored["value"]
    except (OSError, ValueError, KeyError):
        pass   # absent or unusable: computed and rewritten below
    value = compute()
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps({"key": key_parts, "value": value}), encoding="utf-8")
        os.replace(tmp, entry)
    except OSError as e:
        warnings.warn(f"ecomsuite: could not write the data cache entry {entry} ({e}); nothing is lost but time",
                      stacklevel=2)
    return value
