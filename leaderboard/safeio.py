"""Reading untrusted input files: regular files only, bounded size, bounded JSON.

Every file the builder reads (results, samples, lineage) comes through here, so that a FIFO
cannot hang the build, a link to ``/dev/zero`` is never read, an oversized file is reported
instead of filling memory, and a JSON document nested 200,000 levels deep or holding a
400-digit integer becomes one reported problem instead of an exception that stops the build.
"""

from __future__ import annotations

import json
import os
import stat
from typing import Any, BinaryIO

MAX_RESULTS_BYTES = 64 << 20   # an lm-eval results file is a few hundred KB
MAX_LINEAGE_BYTES = 1 << 20    # lineage.json is a few KB
MAX_SAMPLES_BYTES = 4 << 30    # per-sample logs of big tasks reach hundreds of MB
MAX_INT_DIGITS = 18            # longer integers are read as floats (inf when absurd), never as bignums


class NotReadable(Exception):
    """A path that is not read (not a regular file, too large); the message says why."""


def open_regular(path: str | os.PathLike, max_bytes: int) -> BinaryIO:
    """Open ``path`` for binary reading if it is a regular file of at most ``max_bytes``.

    O_NONBLOCK makes opening a FIFO return at once; fstat on the opened descriptor then decides
    (no race between a check and the open). OSError (missing, link loop, permission) propagates."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotReadable("not a regular file (a FIFO, device or socket); not read")
        if st.st_size > max_bytes:
            raise NotReadable(f"too large: {st.st_size:,} bytes (limit {max_bytes:,}); not read")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: str | os.PathLike, max_bytes: int) -> bytes:
    with open_regular(path, max_bytes) as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:  # grew while being read
        raise NotReadable(f"too large: more than {max_bytes:,} bytes; not read")
    return data


def _int(text: str) -> int | float:
    return int(text) if len(text.lstrip("-")) <= MAX_INT_DIGITS else float(text)


def loads(text: str | bytes) -> Any:
    """json.loads for untrusted text: huge integers become floats (inf beyond float range, so
    every finite-number check catches them) and excessive nesting is a ValueError like any
    other malformed JSON."""
    try:
        return json.loads(text, parse_int=_int)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def decode(data: bytes) -> tuple[str, bool]:
    """UTF-8 text of ``data`` and whether it had to be re-encoded (invalid bytes -> U+FFFD)."""
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace"), True


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, with a marker saying how much was cut."""
    if len(text) <= limit:
        return text
    return text[:limit] + f" … [{len(text) - limit:,} more characters not shown]"
