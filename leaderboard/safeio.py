"""Reading untrusted input files: regular files only, bounded size, bounded JSON.

Every file the builder reads (results, samples, lineage) comes through here, so that a FIFO
cannot hang the build, a link to ``/dev/zero`` is never read, an oversized file is reported
instead of filling memory, and a JSON document nested 200,000 levels deep or holding a
400-digit integer becomes one reported problem instead of an exception that stops the build.
"""

from __future__ import annotations

import io
import json
import mmap
import os
import stat
from typing import Any, BinaryIO, Iterator

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


DIRECT_CHUNK = 4 << 20  # bytes per read of a file read past the page cache (a multiple of any block size)
DIRECT_MIN_BYTES = 1 << 20  # smaller files are read through the page cache: too short to pay for the probe
_BUFFER = 1 << 20  # read buffer of a file read through the page cache: many lines per read


def lines(path: str | os.PathLike, max_bytes: int) -> Iterator[bytes]:
    """The lines of a regular file (:func:`open_regular`), split at b"\\n" only, without it:
    iterating the file object gives the same lines, each with its b"\\n".

    A file of at least DIRECT_MIN_BYTES that is not in the page cache is read with O_DIRECT, from the
    disk straight into this process's buffer (see :func:`_cold`): on these 2-vCPU VMs, copying cold
    pages out of the page cache cost ~2 s of kernel CPU per GB (a full-size leaderboard build read
    17 GB: 34-39 s of kernel CPU, 8.5-9.4 s with O_DIRECT; bench/README.md, session 9). A build reads each samples
    file once, so the page cache only costs there. A cached file, or a filesystem or kernel without
    O_DIRECT or RWF_NOWAIT: the page cache, as before; a direct read refused midway: the rest of the file
    through the page cache, from where it stopped (an error there is the file's error)."""
    raw = open_regular(path, max_bytes).detach()  # the unbuffered file: its descriptor is read
    try:
        if _cold(raw.fileno()):
            yield from _direct_lines(raw.fileno())
        else:
            for line in io.BufferedReader(raw, _BUFFER):
                yield line[:-1] if line[-1:] == b"\n" else line
    finally:
        raw.close()


def _cold(fd: int) -> bool:
    """Whether ``fd`` is worth reading with O_DIRECT: large, the 4 KB in its middle not in the page
    cache (RWF_NOWAIT finds them there or says it would wait), and O_DIRECT set on it."""
    nowait = getattr(os, "RWF_NOWAIT", None)
    direct = getattr(os, "O_DIRECT", None)
    if nowait is None or direct is None or not hasattr(os, "preadv"):
        return False
    try:
        size = os.fstat(fd).st_size
        if size < DIRECT_MIN_BYTES:
            return False
        probe = bytearray(4096)
        try:  # its middle: the build reads a file's first and last 4 KB for its identity (cache.file_identity)
            if os.preadv(fd, [probe], size // 2 // 4096 * 4096, nowait) > 0:
                return False  # cached: the page cache is the cheap way
        except BlockingIOError:
            pass  # not cached
        _set_direct(fd, True)
        return True
    except OSError:  # no RWF_NOWAIT (EOPNOTSUPP), no O_DIRECT (EINVAL): the page cache
        return False


def _set_direct(fd: int, on: bool) -> None:
    """O_DIRECT set on (or cleared from) an open descriptor (fcntl: Unix only, imported here)."""
    import fcntl

    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, (flags | os.O_DIRECT) if on else (flags & ~os.O_DIRECT))


_BUFFERS: list[mmap.mmap] = []  # direct-read buffers not in use: reused, never faulted in again


def _direct_lines(fd: int) -> Iterator[bytes]:
    # page-aligned, as O_DIRECT needs, and reused: a new one per file has its pages zeroed by the
    # kernel as the disk fills them, as much kernel CPU as the page cache cost. Lines are cut from it
    # directly (one copy of the file's bytes: on these VMs each copy of a 3 MB file costs ~1 ms)
    buf = _BUFFERS.pop() if _BUFFERS else None
    if buf is None or len(buf) != DIRECT_CHUNK:
        # private: an anonymous mmap is shared with forked processes by default, and the build's
        # workers are forked from it (two of them read into one buffer: other files' lines)
        buf = mmap.mmap(-1, DIRECT_CHUNK, flags=mmap.MAP_PRIVATE)
    find = buf.find
    try:
        off = 0
        direct = True
        head: list[bytes] = []  # the start of a line begun in earlier chunks
        while True:
            try:
                k = os.preadv(fd, [buf], off)
            except OSError:
                if not direct:
                    raise
                _set_direct(fd, False)  # a direct read refused (some FUSE file systems): the rest through the page cache
                direct = False
                continue
            if k <= 0:
                break
            off += k
            start = 0
            end = find(b"\n", 0, k)
            if end >= 0 and head:
                head.append(buf[:end])
                yield b"".join(head)
                head, start = [], end + 1
                end = find(b"\n", start, k)
            while end >= 0:
                yield buf[start:end]
                start = end + 1
                end = find(b"\n", start, k)
            if start < k:
                head.append(buf[start:k])
            if direct and k % 4096:  # a direct read that ends off the block grid: the end of the file
                break
        if head:
            yield b"".join(head)
    finally:
        if len(_BUFFERS) < 2:
            _BUFFERS.append(buf)
        else:
            buf.close()


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
