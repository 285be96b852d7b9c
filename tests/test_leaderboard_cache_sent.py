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
