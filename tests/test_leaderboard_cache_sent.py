"""A samples worker sends a corpus metric's items back as the cache entry's JSON text (cache.store_entry),
decoded only when read: the same items, a smaller pickle, nothing changed for numeric items."""

from __future__ import annotations

import math
import pickle

import numpy as np
from ecomsuite.leaderboard import cache, stats
from ecomsuite.leaderboard.samples import SampleData, SampleJob


def _job(tmp_path) -> SampleJob:
    return SampleJob(system_id="org/m", task="t", metric="macro_f1", filter="none", path=str(tmp_path / "s.jsonl"),
                     out_file=None, boot=(50, (1, "t")))


def _data(job: SampleJob, items) -> SampleData:
    n = len(items)
    ids = np.asarray([f"id:{i}" for i in range(n)], dtype=object)
    return SampleData(job.system_id, job.task, job.metric, job.path, ids, items, isinstance(items, np.ndarray),
                      None, np.full(n, math.nan), n, warnings=["w"])


def test_list_items_are_sent_as_the_entrys_text_and_read_back_equal(tmp_path):
    job = _job(tmp_path)
    items = [["E", "S" if i % 3 else "E"] for i in range(500)] + [["C", "<invalid>"], ["I", "é\u2028"]]
    data = _data(job, items)
    data.cell = stats.prepare_cell("macro_f1", items, data.doc_ids, None, 50, (1, "t"))
    stored, sent = cache.store_entry(tmp_path / "c", "k" * 64, data, None, job)
    assert stored and (tmp_path / "c" / f"{'k' * 64}{cache.SUFFIX}").is_file()
    assert isinstance(sent, cache.CachedSampleData) and isinstance(sent.__dict__["items"], cache._Pending)
    assert sent.cell is data.cell and sent.warnings == ["w"] and sent.doc_ids is data.doc_ids
    small, full = pickle.dumps(sent, protocol=pickle.HIGHEST_PROTOCOL), pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
    assert len(small) < len(full)
    back = pickle.loads(small)
    assert isinstance(back.__dict__["items"], cache._Pending)  # not decoded by unpickling
    assert back.items == items and back.cell.prepared.value == data.cell.prepared.value
    assert stats.prepare_cell("macro_f1", back.items, back.doc_ids, None, 50, (1, "t")).boot.tobytes() == \
        data.cell.boot.tobytes()


def test_numeric_items_and_unencodable_data_come_back_as_they_were(tmp_path):
    job = _job(tmp_path)
    data = _data(job, np.asarray([1.0, 0.0, 1.0]))
    stored, sent = cache.store_entry(tmp_path / "c", "a" * 64, data, None, job)
    assert stored and sent is data
    bad = _data(job, [["E", "S"], ["E", {1, 2}]])  # a set is not JSON: not cached, sent as it is
    stored, sent = cache.store_entry(tmp_path / "c", "b" * 64, bad, None, job)
    assert not stored and sent is bad
    assert cache.store(tmp_path / "c", "a" * 64, data, None, job) is True


def test_a_build_without_a_cache_holds_list_items_as_text_too(tmp_path):
    """load_all without a cache sends and holds a corpus metric's items as their JSON text as well (a
    --no-cache build held them as lists: 600 against 162 MB at 200 bench runs), and reads back the same
    items; numeric and unencodable items stay as they were."""
    import json

    from ecomsuite.leaderboard import samples

    jobs = []
    for k in range(9):
        p = tmp_path / f"s{k}.jsonl"
        rows = [{"doc_id": i, "doc": {"id": f"d{i}"}, "target": "E", "resps": [["E"]], "filtered_resps": ["E"],
                 "filter": "none", "macro_f1": ["E", "ESCI"[(i + k) % 4]], "acc": float(i % 2)} for i in range(20)]
        p.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        jobs.append(SampleJob(f"sys{k}", "t", "macro_f1" if k < 8 else "acc", "none", str(p), None,
                              boot=(50, (1, "t"))))
    for n_jobs in (1, 2):
        got = samples.load_all(jobs, n_jobs=n_jobs)
        for k, d in enumerate(got[:8]):
            assert isinstance(d, cache.CachedSampleData) and isinstance(d.__dict__["items"], cache._Pending)
            assert d.items == [["E", "ESCI"[(int(i[4:]) + k) % 4]] for i in d.doc_ids.tolist()]
        assert type(got[8]) is SampleData and got[8].items.tolist() == [float(int(i[4:]) % 2) for i in got[8].doc_ids]
    data = _data(_job(tmp_path), [["E", "S"], ["E", {1, 2}]])  # a set is not JSON: held as it is
    assert cache.items_as_text(data) is data


def test_items_text_reads_back_as_the_items_whichever_writer_wrote_it():
    """_items_text takes orjson's text only where it is ASCII without null; every item list reads back
    (safeio.loads, as _Pending does) to what json.dumps' text reads back to, type for type."""
    import json

    from ecomsuite.leaderboard import safeio

    cases = [
        [["B-x", "I-x"], ["B-x", "O"]],
        [["a summary", ["ref one", "ref two"]]] * 3,
        [[1, 2.5, -0.0, 1e-05, 1e16, 123456789012345678, 2**63 - 1, True, False]],
        [[2**64 + 1], [-(2**63) - 1]],  # past 64 bits: orjson refuses, json.dumps writes them
        [["null", "nullable"]],  # the text "null": the slow path, the same items
        [[None, "x"]], [[math.nan, 1.0]], [[math.inf, -math.inf]],
        [["é", "\u2028", "\U0001f600"]], [["\x7f\x00\x1f\"\\/"]], [["\ud800"]],
        [{"b": 1, "a": [2, {"c": "d"}]}], [[[[[]]]]], [],
        [("tuple", 1)],
    ]
    for items in cases:
        text = cache._items_text(items)
        assert text.isascii()
        ref = json.dumps(items, ensure_ascii=True, allow_nan=True, separators=(",", ":"))
        got, want = safeio.loads(text.decode("ascii")), safeio.loads(ref)
        assert json.dumps(got, allow_nan=True) == json.dumps(want, allow_nan=True), items
        assert [type(x) for x in _flat(got)] == [type(x) for x in _flat(want)], items
    assert cache._items_text([["B-x", "O"]]) == b'[["B-x","O"]]'  # the fast path is taken where it can be


def _flat(v):
    if isinstance(v, (list, tuple)):
        for x in v:
            yield from _flat(x)
    elif isinstance(v, dict):
        for k, x in v.items():
            yield k
            yield from _flat(x)
    else:
        yield v


def test_meta_text_reads_back_as_the_meta_whichever_writer_wrote_it():
    """_meta_text takes orjson's text only where it is ASCII and reads back equal; NaN, infinities, tuples,
    non-ASCII text and integers past 64 bits take json.dumps: either reads back (cache._loads_ascii) as json.dumps' text."""
    import json

    base = {"format": cache.FORMAT, "error": None, "warnings": ["w"], "doc_ids": {"strings": ["id:a", "id:b"]},
            "cell": {"value": 0.25, "ci": [0.1, 0.4]}}
    cases = [dict(base), {**base, "cell": {"value": math.nan}}, {**base, "cell": {"ci": [-math.inf, math.inf]}},
             {**base, "warnings": ["é \u2028"]}, {**base, "clusters": ("a", "b")}, {**base, "n": 2**64 + 3},
             {**base, "n": -0.0}, {**base, "x": 1e-07}]
    for meta in cases:
        text = cache._meta_text(meta)
        assert text.isascii()
        want = cache._loads_ascii(json.dumps(meta, ensure_ascii=True, allow_nan=True, separators=(",", ":")).encode())
        got = cache._loads_ascii(text)
        assert json.dumps(got, allow_nan=True) == json.dumps(want, allow_nan=True), meta
    assert cache._meta_text(base) == json.dumps(base, separators=(",", ":")).encode()  # the fast path, same text here
