"""Output folders of ``sft``, ``merge`` and ``eval``: no lost work, no half-written results.

The rule every command follows, in this order:

1. validate everything first (:func:`check_out`): ``--out`` is not a file, is writable, and is not an
   input, nor a folder inside or above an input;
2. an existing output is replaced only when it is ours (:func:`is_ours`: a :data:`MARKER` file, or an
   ecomsuite ``lineage.json`` of an accepted kind) -- never a folder the command did not create;
3. the new output is written into a sibling staging folder (:func:`staging`) and swapped in at the end
   (:func:`swap_in`: old aside, new in, then the old deleted), so a crash leaves the old output intact;
4. a disk-full or read-only failure while writing is one line (:func:`writing`), not a traceback.
"""
from __future__ import annotations

import errno
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable

from ecomsuite import EcomError

MARKER = ".ecomsuite-output"  # written into every folder an ecomsuite command creates
# text of I/O failures that libraries re-raise as something other than OSError (safetensors, torch.save)
_IO_TEXT = ("no space left", "storagefull", "read-only file system", "readonlyfilesystem", "permission denied",
            "disk quota", "failed writing file", "file write failed")


def _resolved(p) -> Path:
    return Path(p).expanduser().resolve()


def _inside(child: Path, parent: Path) -> bool:
    return child != parent and parent in child.parents


def nearest_existing(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_out(out, inputs: Iterable = (), flag: str = "--out", inputs_name: str = "inputs") -> Path:
    """Validate an output folder before any work: one-line EcomError if it is a file, an input, inside or
    above an input, or not writable. Returns the resolved path."""
    o = _resolved(out)
    if o.exists() and not o.is_dir():
        raise EcomError(f"{flag} {o} is a file; give a folder")
    for raw in inputs:
        if raw is None or raw == "":
            continue
        i = _resolved(raw)
        if not i.exists():
            continue
        if o == i:
            raise EcomError(f"{flag} {o} is one of the {inputs_name}; choose a new folder")
        if _inside(i, o):
            raise EcomError(f"{flag} {o} contains the input {i}; choose a folder that holds no input")
        if _inside(o, i):
            raise EcomError(f"{flag} {o} is inside the input {i}; choose a folder outside every input")
    anc = nearest_existing(o)
    if not anc.is_dir():
        raise EcomError(f"{flag} {o}: {anc} is a file, so the folder cannot be created; choose another path")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise EcomError(f"{flag} {o}: {anc} is not writable (read-only or no permission); choose another folder")
    return o


def is_ours(folder, kinds: Iterable[str] = ()) -> bool:
    """True when ``folder`` was written by an ecomsuite command: it holds :data:`MARKER`, or a lineage.json
    whose kind is one of ``kinds``."""
    from ecomsuite import lineage

    f = Path(folder)
    if (f / MARKER).is_file():
        return True
    lin = lineage.read(f)
    return bool(lin) and lin.get("kind") in set(kinds)


def mark(folder) -> None:
    """Mark ``folder`` as created by an ecomsuite command (see :func:`is_ours`)."""
    (Path(folder) / MARKER).write_text("written by ecomsuite; `--overwrite` may replace this folder\n",
                                       encoding="utf-8")


def is_empty(folder) -> bool:
    f = Path(folder)
    return not f.exists() or (f.is_dir() and not any(f.iterdir()))


def refuse_foreign(out, kinds: Iterable[str], what: str, flag: str = "--out") -> None:
    """An existing non-empty ``out`` that is not ours may not be replaced: one-line EcomError."""
    if not is_empty(out) and not is_ours(out, kinds):
        raise EcomError(f"{flag} {out} is not empty and was not written by ecomsuite {what} (no {MARKER} or "
                        "lineage.json); refusing to replace it: choose a new folder")


def staging_path(out) -> Path:
    o = Path(out)
    return o.with_name(f".{o.name}.partial")


def aside_path(out) -> Path:
    o = Path(out)
    return o.with_name(f".{o.name}.old")


def _remove_stale(p: Path, kinds: Iterable[str]) -> None:
    if not p.exists() and not p.is_symlink():
        return
    if p.is_dir() and not p.is_symlink() and (is_empty(p) or is_ours(p, kinds)):
        shutil.rmtree(p)
        return
    raise EcomError(f"{p} is in the way and was not written by ecomsuite; move it away and run again")


def staging(out, kinds: Iterable[str] = ()) -> Path:
    """A fresh, marked sibling folder to write the new output into (a stale one of ours is removed)."""
    tmp = staging_path(out)
    _remove_stale(tmp, kinds)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    tmp.mkdir()
    mark(tmp)
    return tmp


def swap_in(staged, out, kinds: Iterable[str] = ()) -> Path:
    """Move ``staged`` to ``out``; an existing ``out`` (ours: callers checked) is renamed aside first and
    deleted only once the new one is in place."""
    staged, out = Path(staged), Path(out)
    old = None
    if out.exists():
        old = aside_path(out)
        _remove_stale(old, kinds)
        out.rename(old)
    try:
        staged.rename(out)
    except OSError:
        if old is not None:
            old.rename(out)  # put the old output back
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return out


def discard(staged) -> None:
    """Remove a staging folder of ours after a failure (never raises)."""
    p = Path(staged)
    if p.is_dir() and (p / MARKER).is_file():
        shutil.rmtree(p, ignore_errors=True)


def io_message(e: BaseException) -> str | None:
    """A one-line reason when ``e`` is a disk-full / read-only / permission failure; None otherwise."""
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT,
                                              errno.EFBIG, errno.EIO):
        where = f" ({e.filename})" if e.filename else ""
        return f"{os.strerror(e.errno).lower()}{where}"
    text = str(e).lower().replace(" ", "")
    if any(t.replace(" ", "") in text for t in _IO_TEXT):
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return first[:200]
    return None


@contextmanager
def writing(path, what: str = "output"):
    """Turn a disk-full / read-only / permission failure inside the block into one EcomError line."""
    try:
        yield
    except EcomError:
        raise
    except Exception as e:  # noqa: BLE001 - only I/O failures are converted; the rest re-raise
        msg = io_message(e)
        if msg is None:
            raise
        raise EcomError(f"{path}: cannot write the {what}: {msg}; free space or choose a writable folder") from None
