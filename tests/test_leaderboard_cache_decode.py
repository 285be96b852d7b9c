"""The cheaper reading of a cache entry (orjson for its index and meta, messages made only on failure,
one read of the entry file) refuses what it refused before and gives what json.loads gave."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from ecomsuite.leaderboard import cache, stats
from ecomsuite.leaderboard.samples import SampleData, SampleJob


def _job(tmp_path, **kw) -> SampleJob:
    return SampleJob(system_id="org/m", task="t", metric="acc", filter="none", path=str(tmp_path / "s.jsonl"),
                     out_file=None, **kw)


def _data(job: SampleJob, clusters=None) -> SampleData:
    ids = np.asarray(["id:1", "id:2", "id:3"], dtype=object)
    return SampleData(job.system_id, job.task, job.metric, job.path, ids, np.asarray([1.0, 0.0, 1.0]), True,
                      None, np.asarray([1.0, math.nan, 1.0]), 3, warnings=["w1"], clusters=clusters)


def _rewrite_meta(entry, old: bytes, new: bytes) -> None:
    """The entry with ``old`` replaced by ``new`` in its meta member, its index kept consistent."""
    members = {n: a.copy() for n, a in cache.unpack(entry.read_bytes()).items()}
    meta = members["meta"].tobytes()
    assert meta.count(old) == 1
    members["meta"] = np.frombuffer(meta.replace(old, new), dtype=np.uint8)
    entry.write_bytes(cache.pack(members))


@pytest.mark.parametrize("text", [
    b'{"a":[1,2.5,-0.0,"x\\u00e9\\ud800"],"b":null,"c":true}',  # a lone surrogate: json.loads only
    b'[NaN,Infinity,-Infinity]',  # written by encode with allow_nan: json.loads only
    b'{"a":1,"a":2}', b'[1e5, 0.1, 123456789012345678]', b'["\\u0000"]',
])
def test_entry_json_is_parsed_to_what_json_loads_gives(text):
    got, want = cache._loads_ascii(text), json.loads(text.decode("ascii"))
    assert json.dumps(got, allow_nan=True) == json.dumps(want, allow_nan=True)
    assert [type(x) for x in (got if isinstance(got, list) else got.values())] == \
        [type(x) for x in (want if isinstance(want, list) else want.values())]  # a top-level list or object


@pytest.mark.parametrize("text", [b'{"a":"\xc3\xa9"}', b'{"a":1', b'', b'[1,]', b"{'a':1}"])
def test_entry_json_that_is_not_ascii_or_not_json_is_refused(text):
    with pytest.raises(ValueError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        cache._loads_ascii(text)


def test_an_entry_with_a_non_ascii_or_oversized_meta_value_is_refused(tmp_path):
    job = _job(tmp_path)
    assert cache.store(tmp_path, "k", _data(job), None)
    entry = tmp_path / f"k{cache.SUFFIX}"
    good = entry.read_bytes()
    assert cache.load(tmp_path, "k", job)[0].warnings == ["w1"]
    at = good.index(b'"w1"')
    entry.write_bytes(good[:at + 1] + b"\xc3\xa9" + good[at + 3:])  # same length, valid UTF-8, not ASCII
    with pytest.raises(cache.Unusable, match="UnicodeDecodeError"):
        cache.load(tmp_path, "k", job)
    entry.write_bytes(good)
    # beyond 64 bits: a float from orjson, not a count
    _rewrite_meta(entry, b'"n_docs_in_file":3', b'"n_docs_in_file":99999999999999999999')
    with pytest.raises(cache.Unusable, match="n_docs_in_file: not a count"):
        cache.load(tmp_path, "k", job)


@pytest.mark.parametrize("bad, why", [
    (b'"clusters":["a",1,"c"]', "clusters"), (b'"clusters":["a","b"]', "clusters"),
    (b'"warnings":[1]', "warnings"), (b'"key_source":"nope"', "key_source"),
])
def test_a_meta_field_of_the_wrong_type_is_refused_with_its_name(tmp_path, bad, why):
    job = _job(tmp_path)
    assert cache.store(tmp_path, "k", _data(job, clusters=["a", None, "c"]), None)
    entry = tmp_path / f"k{cache.SUFFIX}"
    assert cache.load(tmp_path, "k", job)[0].clusters == ["a", None, "c"]
    members = {n: a.copy() for n, a in cache.unpack(entry.read_bytes()).items()}
    meta = json.loads(members["meta"].tobytes())
    meta.update(json.loads(b"{" + bad + b"}"))
    members["meta"] = np.frombuffer(json.dumps(meta).encode("ascii"), dtype=np.uint8)
    entry.write_bytes(cache.pack(members))
    with pytest.raises(cache.Unusable, match=why):
        cache.load(tmp_path, "k", job)


def test_a_cached_cell_comes_back_with_its_stats_key_and_values(tmp_path):
    job = _job(tmp_path, boot=(50, stats.cell_seed(3, "t")), version="1.0")
    data = _data(job)
    data.cell = cp = stats.prepare_cell(job.metric, data.items, data.doc_ids, None, 50, job.boot[1])
    assert cp.ci is not None
    assert cache.store(tmp_path, "k", data, None, job)
    got = cache.load(tmp_path, "k", job)[0].cell
    assert got.key == cache.stats_key("k", job)
    assert (got.ci, got.se) == (cp.ci, cp.se) and all(type(x) is float for x in (*got.ci, got.se))
    assert got.boot.tobytes() == cp.boot.tobytes() and got.prepared.value == cp.prepared.value
    other = _job(tmp_path, boot=(51, job.boot[1]), version="1.0")  # other settings: no cell, no key
    assert cache.load(tmp_path, "k", other)[0].cell is None


def test_an_entry_file_is_read_whole_in_one_call_and_a_short_one_is_refused(tmp_path, monkeypatch):
    job = _job(tmp_path)
    assert cache.store(tmp_path, "k", _data(job), None)
    entry = tmp_path / f"k{cache.SUFFIX}"
    size = entry.stat().st_size
    import os

    calls = []
    real = os.read

    def read(fd, n):
        calls.append(n)
        return real(fd, n)

    monkeypatch.setattr(cache.os, "read", read)
    assert cache._read(entry) == entry.read_bytes() and calls == [size + 1]
    calls.clear()

    def short(fd, n):  # a read that returns less than asked: read on to the end
        calls.append(n)
        return real(fd, min(n, 100))

    monkeypatch.setattr(cache.os, "read", short)
    assert cache._read(entry) == entry.read_bytes() and len(calls) > 1
    monkeypatch.setattr(cache.os, "read", real)
    entry.write_bytes(entry.read_bytes()[:-5])
    with pytest.raises(cache.Unusable):
        cache.load(tmp_path, "k", job)


def test_prune_removes_only_unused_regular_entry_files(tmp_path):
    import os

    folder = tmp_path / "c"
    folder.mkdir()
    for name in ("used.lbcache", "old.lbcache", ".tmp-left.lbcache", "other.lbpairs", "note.txt"):
        (folder / name).write_bytes(b"x")
    (folder / "dir.lbcache").mkdir()
    outside = tmp_path / "outside.lbcache"
    outside.write_bytes(b"y")
    os.symlink(outside, folder / "link.lbcache")
    assert cache.prune(folder, {"used"}) == 2  # old and the temporary file left by an interrupted write
    assert sorted(p.name for p in folder.iterdir()) == ["dir.lbcache", "link.lbcache", "note.txt", "other.lbpairs",
                                                        "used.lbcache"]
    assert outside.read_bytes() == b"y"
    assert cache.prune(folder, set(), ".lbpairs") == 1 and not (folder / "other.lbpairs").exists()
    assert cache.prune(tmp_path / "absent", set()) == 0


def test_a_hit_without_its_view_reads_the_entry_only_up_to_the_view(tmp_path, monkeypatch):
    """A rebuild links the published viewer file: the entry's viewer bytes (written last, ~45% of an entry on
    long outputs) are not read. The entry is still checked against its whole size, and one whose view is not
    last (or has none) is read whole."""
    job = _job(tmp_path)
    view = b"v" * 100_000
    assert cache.store(tmp_path, "k", _data(job), view)
    entry = tmp_path / f"k{cache.SUFFIX}"
    whole = entry.read_bytes()
    data, total = cache._read_before(entry, "view")
    assert total == len(whole) and data == whole[:len(whole) - len(view)]
    with monkeypatch.context() as m:
        m.setattr(cache, "_read", lambda path: pytest.fail("the whole entry read"))
        got, ref = cache.load(tmp_path, "k", job, with_view=False)
    assert isinstance(ref, cache.ViewRef) and ref.size == len(view)
    want, full = cache.load(tmp_path, "k", job)
    assert full == view and got.warnings == want.warnings and np.array_equal(got.items, want.items)
    # a view member cut short: the entry is not what its index says, refused either way
    entry.write_bytes(whole[:-5])
    with pytest.raises(cache.Unusable, match="truncated or inconsistent"):
        cache.load(tmp_path, "k", job, with_view=False)
    # the view elsewhere than last (an entry written otherwise): read whole, decoded the same
    members = {n: a.copy() for n, a in cache.unpack(whole).items()}
    entry.write_bytes(cache.pack({"view": members.pop("view"), **members}))
    data, total = cache._read_before(entry, "view")
    assert data == entry.read_bytes()
    assert cache.load(tmp_path, "k", job, with_view=False)[1] == ref
    # no view at all: read whole
    assert cache.store(tmp_path, "n", _data(job), None)
    data, total = cache._read_before(tmp_path / f"n{cache.SUFFIX}", "view")
    assert data == (tmp_path / f"n{cache.SUFFIX}").read_bytes()
    # a big index (past the first read) and an entry smaller than the first read both work
    monkeypatch.setattr(cache, "_FIRST_READ", 16)
    entry.write_bytes(whole)
    data, total = cache._read_before(entry, "view")
    assert data == whole[:len(whole) - len(view)]


def test_document_keys_are_a_member_decoded_once_per_text_and_still_checked(tmp_path):
    """A task's document keys are the same text in every system's entry: stored as their own member, decoded
    once per process (the identical read-only array after), and every entry's length and CRC still checked."""
    cache._STRINGS.clear()
    job = _job(tmp_path)
    for k in ("a", "b"):
        assert cache.store(tmp_path, k, _data(job), None)
    a = cache.load(tmp_path, "a", job)[0].doc_ids
    b = cache.load(tmp_path, "b", job)[0].doc_ids
    assert a is b and a.tolist() == ["id:1", "id:2", "id:3"] and a.dtype == object and not a.flags.writeable
    entry = tmp_path / f"b{cache.SUFFIX}"
    good = entry.read_bytes()
    _rewrite_meta(entry, b'"len":3', b'"len":2')  # the text known, the entry's own length wrong: refused
    with pytest.raises(cache.Unusable, match="doc_ids: corrupt"):
        cache.load(tmp_path, "b", job)
    members = {n: x.copy() for n, x in cache.unpack(good).items()}
    members["doc_ids.texts"] = np.frombuffer(members["doc_ids.texts"].tobytes().replace(b"id:3", b"id:4"), dtype=np.uint8)
    entry.write_bytes(cache.pack(members))  # other keys under the old CRC: refused
    with pytest.raises(cache.Unusable, match="doc_ids: corrupt"):
        cache.load(tmp_path, "b", job)
    # keys with non-ASCII text (escaped), or not a list of text, each under its own right CRC and length
    import zlib

    for text, n, ok in (('["id:\\u00e9","x"]'.encode(), 2, True), (b'["a",1]', 2, False), (b'{"a":1}', 1, False)):
        cache._STRINGS.clear()
        m = {k: x.copy() for k, x in cache.unpack(good).items()}
        meta = json.loads(m["meta"].tobytes())
        meta["doc_ids"].update({"len": n, "crc32": zlib.crc32(text)})
        m["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        m["doc_ids.texts"] = np.frombuffer(text, dtype=np.uint8)
        entry.write_bytes(cache.pack(m))
        if ok:
            assert cache._strings(text, n, zlib.crc32(text), "doc_ids").tolist() == ["id:\u00e9", "x"]
        else:
            with pytest.raises(cache.Unusable, match="not a list of strings"):
                cache.load(tmp_path, "b", job)
