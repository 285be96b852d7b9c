"""safeio.lines: the same lines read through the page cache or past it (O_DIRECT), whatever the chunking."""
from __future__ import annotations

import errno
import json
import os

import pytest

from ecomsuite.leaderboard import safeio, samples


def _expected(path) -> list[bytes]:
    with open(path, "rb") as fh:
        return [ln[:-1] if ln.endswith(b"\n") else ln for ln in fh]


def _evict(path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _direct_fd(path) -> int:
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECT)
    except OSError as e:
        if e.errno == errno.EINVAL:
            pytest.skip("this filesystem has no O_DIRECT")
        raise


SHAPES = {
    "empty": b"",
    "one newline": b"\n",
    "blank lines": b"\n\n a \n\n\n",
    "no final newline": b"a\nbb\nccc",
    "carriage returns stay in the line": b"a\rb\n\r\n\r\rc\n" * 1000,
    "one line longer than many chunks": b"x" * 40000 + b"\nshort\n" + b"y" * 9000,
    "lines across chunk edges": b"".join(b"%d:" % i + b"z" * (i * 37 % 5000) + b"\n" for i in range(400)),
    "size a multiple of the block": b"w" * 4095 + b"\n" + b"v" * 8191 + b"\n",
    "newline at a chunk edge": b"u" * 8191 + b"\n" + b"t" * 8191 + b"\n" + b"s",
}


@pytest.mark.parametrize("name", sorted(SHAPES))
@pytest.mark.parametrize("chunk", [4096, 8192, 4 << 20])
def test_direct_lines_are_the_file_objects_lines(tmp_path, monkeypatch, name, chunk):
    p = tmp_path / "f"
    p.write_bytes(SHAPES[name])
    _evict(p)
    monkeypatch.setattr(safeio, "DIRECT_CHUNK", chunk)
    fd = _direct_fd(p)
    try:
        got = list(safeio._direct_lines(fd))
    finally:
        os.close(fd)
    assert got == _expected(p)
    # and through the page cache (the same function's other branch)
    monkeypatch.setattr(safeio, "_cold", lambda fd: False)
    assert list(safeio.lines(p, 1 << 30)) == _expected(p)


def test_a_cold_large_file_is_read_past_the_page_cache_and_a_cached_one_is_not(tmp_path, monkeypatch):
    p = tmp_path / "big.jsonl"
    p.write_bytes(b"".join(json.dumps({"doc_id": i, "x": "y" * 300}).encode() + b"\n" for i in range(5000)))
    monkeypatch.setattr(safeio, "DIRECT_MIN_BYTES", 1 << 16)
    fd = os.open(p, os.O_RDONLY)
    try:
        os.pread(fd, 1 << 20, 0)  # its start in the page cache
        assert safeio._cold(fd) is False
        _evict(p)
        cold = safeio._cold(fd)
    finally:
        os.close(fd)
    if not cold:
        pytest.skip("no RWF_NOWAIT or O_DIRECT here: every file is read through the page cache")
    direct = []
    real = safeio._direct_lines
    monkeypatch.setattr(safeio, "_direct_lines", lambda fd: direct.append(fd) or real(fd))
    _evict(p)
    assert list(safeio.lines(p, 1 << 30)) == _expected(p)
    assert len(direct) == 1
    assert list(safeio.lines(p, 1 << 30)) == _expected(p)  # read again: still right, whichever way


def test_small_files_go_through_the_page_cache(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"a\nb\n" * 1000)
    _evict(p)
    fd = os.open(p, os.O_RDONLY)
    try:
        assert safeio._cold(fd) is False  # smaller than DIRECT_MIN_BYTES
    finally:
        os.close(fd)


@pytest.mark.parametrize("err", [errno.EINVAL, errno.EIO])
@pytest.mark.parametrize("refused_read", [1, 3])  # the first read, or one past two chunks
def test_a_refused_direct_read_reads_the_rest_through_the_page_cache(tmp_path, monkeypatch, err, refused_read):
    """A file system that takes O_DIRECT at open but refuses a read (some FUSE ones): the file is read on
    through the page cache from where the refusal came, nothing lost or repeated."""
    import fcntl

    p = tmp_path / "f"
    p.write_bytes(b"".join(b"%d:" % i + b"q" * (i % 700) + b"\n" for i in range(3000)))
    _evict(p)
    monkeypatch.setattr(safeio, "DIRECT_CHUNK", 1 << 14)
    fd = _direct_fd(p)
    real = os.preadv
    calls = []

    def preadv(fd_, bufs, off, *flags):
        calls.append((off, bool(fcntl.fcntl(fd_, fcntl.F_GETFL) & os.O_DIRECT)))
        if len(calls) == refused_read:
            raise OSError(err, os.strerror(err))
        return real(fd_, bufs, off, *flags)

    monkeypatch.setattr(safeio.os, "preadv", preadv)
    try:
        assert list(safeio._direct_lines(fd)) == _expected(p)
    finally:
        os.close(fd)
    at = (refused_read - 1) << 14
    assert calls[refused_read - 1] == (at, True) and calls[refused_read] == (at, False)  # retried there, buffered


def test_a_samples_file_reads_the_same_cold_and_cached(tmp_path, monkeypatch):
    """The build's result, warnings included, does not depend on how the file was read: a line cut
    short at the end gives json.loads' message with the same position both ways."""
    rows = [json.dumps({"doc_id": i, "doc": {"id": f"d{i}"}, "arguments": {"gen_args_0": {"arg_0": f"p{i}", "arg_1": {}}},
                        "target": "t", "resps": [["o"]], "filtered_resps": ["o"], "acc": i % 2}) for i in range(3000)]
    rows[5] = rows[5][:-1]  # no closing brace: the error is at the end of the line
    rows[9] = "   "
    rows[11] = rows[11].replace('"acc": 1', '"acc": NaN')
    p = tmp_path / "samples_t.jsonl"
    p.write_text("\n".join(rows), encoding="utf-8")  # no final newline
    monkeypatch.setattr(safeio, "DIRECT_MIN_BYTES", 1 << 12)
    monkeypatch.setattr(safeio, "DIRECT_CHUNK", 1 << 14)  # many chunk edges
    out = {}
    for way in ("cache", "direct"):
        if way == "direct":
            _evict(p)
        else:
            p.read_bytes()
        job = samples.SampleJob("sys", "t", "acc", "none", str(p), str(tmp_path / f"{way}.js"))
        d = samples.read_samples(job, None)
        out[way] = (d.doc_ids.tolist(), d.items.tolist(), d.warnings, d.error, d.n_nan,
                    (tmp_path / f"{way}.js").read_bytes())
    assert out["cache"] == out["direct"]
    assert len(out["cache"][0]) == 2997 and any("line 6" in w for w in out["cache"][2])


def _digest_of_lines(path: str) -> str:
    import hashlib

    h = hashlib.sha256()
    for _ in range(3):
        if hasattr(os, "posix_fadvise"):
            _evict(path)
        for ln in safeio.lines(path, 1 << 30):
            h.update(ln + b"|")
    return h.hexdigest()


def test_forked_workers_read_into_their_own_buffers(tmp_path, monkeypatch):
    """The build's workers are forked from it after it read a file itself: each must read into memory
    of its own (an anonymous mmap is shared with forked children unless made private)."""
    import multiprocessing as mp

    monkeypatch.setattr(safeio, "DIRECT_MIN_BYTES", 1 << 12)
    monkeypatch.setattr(safeio, "DIRECT_CHUNK", 1 << 14)
    paths = []
    for k in range(8):
        p = tmp_path / f"f{k}"
        p.write_bytes(b"".join(b"%d-%d:" % (k, i) + bytes([97 + k]) * (i % 900) + b"\n" for i in range(2000)))
        paths.append(str(p))
    _evict(paths[0])
    fd = os.open(paths[0], os.O_RDONLY)
    try:
        cold = safeio._cold(fd)
    finally:
        os.close(fd)
    if not cold:
        pytest.skip("no O_DIRECT or RWF_NOWAIT here")
    _evict(paths[0])
    list(safeio.lines(paths[0], 1 << 30))  # the parent holds a buffer, as the build does before it forks
    assert len(safeio._BUFFERS) == 1
    want = [_digest_of_lines_expected(p) for p in paths]
    with mp.get_context("fork").Pool(2) as pool:
        got = pool.map(_digest_of_lines, paths * 6, chunksize=1)
    assert got == want * 6


def _digest_of_lines_expected(path: str) -> str:
    import hashlib

    h = hashlib.sha256()
    lines = _expected(path)
    for _ in range(3):
        for ln in lines:
            h.update(ln + b"|")
    return h.hexdigest()
