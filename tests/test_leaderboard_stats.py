"""Leaderboard statistics: bootstrap CIs (hand-checked), determinism, paired comparisons, rank groups."""

from __future__ import annotations

import importlib
import importlib.util
import json

import numpy as np
import pytest




stats = importlib.import_module("ecomsuite.leaderboard.stats")
samples = importlib.import_module("ecomsuite.leaderboard.samples")
collect = importlib.import_module("ecomsuite.leaderboard.collect")
systems = importlib.import_module("ecomsuite.leaderboard.systems")
synthetic = importlib.import_module("ecomsuite.leaderboard.synthetic")


bs = importlib.import_module("ecomsuite.bootstrap")
from ecomsuite.metrics import aggregate as lib_aggregate  # noqa: E402


@pytest.fixture
def aggregate():
    return lib_aggregate


@pytest.fixture
def no_aggregate():
    return None


def test_rank_intervals_a_b_c_with_holm():
    # A ~ B, B ~ C, A > C: A "1-2", B "1-3", C "2-3" (not a flat group labelling C "3")
    S = stats.Separation
    seps = {(0, 1): S(None, "paired bootstrap", 0.01, (-0.01, 0.03), 100, 0.3),
            (1, 2): S(None, "paired bootstrap", 0.01, (-0.01, 0.03), 100, 0.3),
            (0, 2): S(None, "paired bootstrap", 0.2, (0.15, 0.25), 100, 1e-9)}
    e = stats.rank_intervals(["A", "B", "C"], seps)
    assert [x.rank_label for x in e] == ["1\u20132", "1\u20133", "2\u20133"]
    assert seps[(0, 2)].separable is True and seps[(0, 1)].separable is False


def test_holm_is_stricter_than_unadjusted():
    assert bs.holm([0.01, 0.02, 0.04]) == [True, True, True]
    assert bs.holm([0.01, 0.03, 0.04], alpha=0.05) == [True, False, False]  # 0.03 > 0.05/2


def test_separable_only_on_the_claimed_side():
    S = stats.Separation
    seps = {(0, 1): S(None, "paired bootstrap", -0.2, (-0.25, -0.15), 100, 1e-9)}  # order claims a > b, CI says b > a
    e = stats.rank_intervals(["a", "b"], seps)
    assert seps[(0, 1)].separable is False and [x.rank_label for x in e] == ["1\u20132", "1\u20132"]


def test_separation_z():
    assert stats.separation_z(0.8, 0.5, 0.01, 0.01).separable is True
    assert stats.separation_z(0.51, 0.5, 0.05, 0.05).separable is False
    assert stats.separation_z(0.8, 0.5, None, 0.01).separable is None


def test_overall_from_cells():
    rng = np.random.default_rng(0)
    c1 = stats.CellStats("s", "t1", "acc", 0.5, None, None, None, boot=rng.random(300))
    c2 = stats.CellStats("s", "t2", "acc", 0.8, None, None, None, boot=rng.random(300))
    o = stats.overall_from_cells([c1, c2])
    assert o.value == pytest.approx(0.65) and o.ci_method == "bootstrap"
    np.testing.assert_allclose(o.boot, (c1.boot + c2.boot) / 2)
    s1 = stats.CellStats("s", "t1", "acc", 0.5, None, None, 0.03)
    s2 = stats.CellStats("s", "t2", "acc", 0.8, None, None, 0.04)
    o = stats.overall_from_cells([s1, s2])
    assert o.se == pytest.approx(0.025) and o.ci == pytest.approx((0.65 - 1.959964 * 0.025, 0.65 + 1.959964 * 0.025))


def test_overall_many_is_overall_from_cells_bit_for_bit():
    rng = np.random.default_rng(3)

    def cell(task, b=300, se=None, boot=True):
        return stats.CellStats("s", task, "acc", float(rng.random()), None, None, se,
                               boot=rng.normal(0.5, 0.1, b) if boot else None)

    lists = [[cell("t1"), cell("t2"), cell("t3")] for _ in range(7)]
    lists[2][1].boot[5] = np.nan  # a non-finite resample: that system's CI from its finite ones
    lists.append([cell("t1", 301), cell("t2", 300), cell("t3", 299)])  # shortest bootstrap
    lists.append([cell("t1", 1), cell("t2", 1), cell("t3", 1)])  # no standard deviation
    lists.append([cell("t1", se=0.01, boot=False), cell("t2", se=0.02)])  # stderr only
    lists.append([cell("t1", boot=False), cell("t2")])  # neither
    lists.append([cell("t1"), cell("t2")])  # other tasks: another batch
    lists.append([])
    lists += [[cell("t1", 30_000), cell("t2", 30_000), cell("t3", 30_000)] for _ in range(5)]  # in chunks of systems
    lists[-2][2].boot[7] = -0.0
    lists[0][0].value = None
    got = stats.overall_many(lists)
    assert {"bootstrap", "stderr", None} <= {o.ci_method for o in got}
    for o, cl in zip(got, lists):
        w = stats.overall_from_cells(cl)
        assert (o.value, o.ci_method, o.tasks) == (w.value, w.ci_method, w.tasks)
        for a, b in ((o.ci, w.ci), (o.se, w.se)):
            assert np.asarray(a, dtype=float).tobytes() == np.asarray(b, dtype=float).tobytes()
        assert (o.boot is None) == (w.boot is None)
        if o.boot is not None:
            assert o.boot.tobytes() == w.boot.tobytes()


# ---------------------------------------------------------------------------------------------
# samples files and the whole statistics stage


def _sample_line(doc_id, item, **extra):
    s = {"doc_id": doc_id, "doc": {}, "target": "E", "arguments": {"gen_args_0": {"arg_0": f"prompt {doc_id}", "arg_1": {}}},
         "resps": [["out"]], "filtered_resps": ["E"], "filter": "none", "macro_f1": item}
    s.update(extra)
    return json.dumps(s)


def test_read_samples_corpus_items_and_per_doc_score(tmp_path, aggregate):
    p = tmp_path / "s.jsonl"
    lines = [_sample_line(2, ["S", "E"], parse_fail=1.0), _sample_line(0, ["E", "E"], parse_fail=0.0), "not json",
             _sample_line(1, ["S", "S"]), _sample_line(1, ["S", "S"]), _sample_line(3, ["E", "E"], filter="other")]
    p.write_text("\n".join(lines) + "\n")
    out = tmp_path / "v.js"
    sd = samples.read_samples(samples.SampleJob("sys", "t", "macro_f1", "none", str(p), str(out)), aggregate)
    assert sd.doc_ids.tolist() == ["pos:0", "pos:1", "pos:2"] and not sd.numeric  # empty docs: position
    assert sd.items == [["E", "E"], ["S", "S"], ["S", "E"]]
    assert sd.scores.tolist() == [1.0, 1.0, 0.0]  # macro F1 of each single document
    assert np.isnan(sd.parse_fail[1]) and sd.parse_fail[2] == 1.0
    assert any("malformed" in w for w in sd.warnings) and any("duplicate" in w for w in sd.warnings)
    assert out.is_file()


def _write_runs(tmp_path, specs):
    for s in specs:
        synthetic.write_run(tmp_path, s)
    runs = collect.collect([tmp_path]).runs
    asm = systems.assemble(runs)
    data = {}
    for s in asm.systems:
        for t, c in s.cells.items():
            if c.samples_path:
                data[(s.id, t)] = samples.read_samples(samples.SampleJob(s.id, t, c.metric, c.filter, c.samples_path, None), None)
    return asm, data


def test_compute_is_deterministic_and_separates_clear_winners(tmp_path, no_aggregate):
    S = synthetic.RunSpec
    asm, data = _write_runs(tmp_path, [
        S(name="strong", skill=0.9, tasks=["ecom_esci", "ecom_queryner"], n_docs=150),
        S(name="strong-twin", skill=0.9, tasks=["ecom_esci", "ecom_queryner"], n_docs=150, seed=1),
        S(name="weak", skill=0.1, tasks=["ecom_esci", "ecom_queryner"], n_docs=150),
        S(name="partial", skill=0.5, tasks=["ecom_esci"], n_docs=150),
        S(name="limited", skill=0.5, tasks=["ecom_esci", "ecom_queryner"], n_docs=150, limit=30),
    ])
    st1 = stats.compute(asm, data, iters=300, seed=11)
    st2 = stats.compute(asm, data, iters=300, seed=11)
    ids = {s.name: s.id for s in asm.systems}
    for key, c in st1.cells.items():
        assert c.ci == st2.cells[key].ci
        if c.ci is not None:
            assert c.ci_method == "bootstrap"
    order = [e.system_id for e in st1.overall_ranking.entries]
    assert order[-1] == ids["weak"] and set(order[:2]) == {ids["strong"], ids["strong-twin"]}
    assert ids["partial"] not in order  # incomplete rows get no overall
    assert ids["limited"] not in order and st1.overall_ranking.unranked == [ids["limited"]]
    e = st1.overall_ranking.entries
    assert e[1].sep_next.separable is True  # twin vs weak: clearly separable
    assert e[2].rank_label == "3" and e[0].rank_hi <= 2 and e[1].rank_lo <= 2  # rank intervals (Holm)
    assert st1.overall[ids["partial"]].value is None
    # the reported value agrees with the samples, so no mismatch warning
    assert not [p for p in st1.problems if "per-sample" in p.reason]
    # include_limited ranks it
    st3 = stats.compute(asm, data, iters=100, seed=11, include_limited=True)
    assert ids["limited"] in [x.system_id for x in st3.overall_ranking.entries]


def test_compute_uses_aggregate_for_corpus_metrics(tmp_path, aggregate):
    lines_a = [_sample_line(i, ["E", "E"] if i % 4 else ["S", "E"]) for i in range(40)]
    (tmp_path / "a.jsonl").write_text("\n".join(lines_a) + "\n")
    d = {
        "results": {"ecom_esci": {"macro_f1,none": lib_aggregate("macro_f1", [json.loads(x)["macro_f1"] for x in lines_a])}},
        "configs": {"ecom_esci": {"metadata": {"headline": "macro_f1"}}},
        "config": {"model": "hf", "model_args": "pretrained=m"},
    }
    run = collect.run_from_dict(d, tmp_path / "results_x.json", [tmp_path], [])
    run.tasks["ecom_esci"].samples_path = str(tmp_path / "a.jsonl")
    asm = systems.assemble([run])
    sid = asm.systems[0].id
    sd = samples.read_samples(samples.SampleJob(sid, "ecom_esci", "macro_f1", "none", str(tmp_path / "a.jsonl"), None), aggregate)
    st = stats.compute(asm, {(sid, "ecom_esci"): sd}, iters=2000, seed=3)
    c = st.cells[(sid, "ecom_esci")]
    assert c.kind == "sufficient" and c.ci_method == "bootstrap" and len(c.boot) == 2000
    assert c.recomputed == pytest.approx(c.value)
    assert c.ci[0] <= c.value <= c.ci[1]




def test_vectorised_rank_equals_the_pair_by_pair_tests():
    rng = np.random.default_rng(1)
    n, b = 60, 400
    counts = bs.resample_counts(n, b, (5, "t"))
    cells = {}
    for k in range(9):
        items = (rng.random(n) < 0.3 + 0.05 * k).astype(float)
        prep = bs.prepare("acc", items)
        c = stats.CellStats(f"s{k}", "t", "acc", prep.value, None, None, None, boot=prep.boot(counts),
                            doc_ids=np.asarray([f"d{i:02d}" for i in range(n)], dtype=object), prepared=prep, seed=(5, "t"))
        c.docs_fp = stats._docs_digest(c.doc_ids, None)
        cells[c.system_id] = c
    vals = {s: c.value for s, c in cells.items()}
    names = {s: s for s in cells}
    block = {s: (stats.paired_key(c), c.prepared.value, c.boot, n) for s, c in cells.items()}
    fast = stats.rank("t", vals, names, True, lambda a, b_: pytest.fail("all pairs are in the block"), [], block=block)
    slow = stats.rank("t", vals, names, True, lambda a, b_: stats.compare(cells[a], cells[b_], b), [])
    assert [(e.system_id, e.rank_label) for e in fast.entries] == [(e.system_id, e.rank_label) for e in slow.entries]
    for ef, es in zip(fast.entries, slow.entries):
        if ef.sep_next is not None:
            assert ef.sep_next.ci == pytest.approx(es.sep_next.ci, abs=1e-15) and ef.sep_next.p == pytest.approx(es.sep_next.p)
            assert ef.sep_next.separable == es.sep_next.separable and ef.sep_next.n_common == es.sep_next.n_common


def test_doc_key_id_then_content_hash_then_position():
    assert samples.doc_key({"id": 7, "q": "x"}, 0) == ("id:7", "id")
    k, src = samples.doc_key({"q": "x", "t": "y"}, 0)
    assert src == "hash" and k == samples.content_key({"t": "y", "q": "x"})  # key order does not matter
    assert samples.doc_key({}, 3) == ("pos:3", "position")
    # lm-eval's doc_hash only memoises the content key: the same document gives the same key with or without it
    h = "ab" * 32
    assert samples.doc_key({"q": "x", "t": "y"}, 0, h) == (k, "hash") == samples.doc_key({"q": "x", "t": "y"}, 9, h)
    assert samples.doc_key({"q": "z"}, 0, "ab" * 32 + "c")[0] == samples.content_key({"q": "z"})


class _MemStore(stats.PairStore):
    def __init__(self):
        self.d, self.puts = {}, 0

    def get(self, name):
        return self.d.get(name)

    def put(self, name, keys, p, nfin, side, near):
        self.d[name] = (list(keys), p.copy(), nfin.copy(), side.copy(), near.copy())
        self.puts += 1

    def keep(self, name):
        pass


def _block(vals, boots, keys):
    return {f"s{k}": (("same docs",), float(vals[k]), boots[k], 80, keys[k]) for k in range(len(vals))}


def _same_ranking(a, b):
    assert [(e.system_id, e.rank_label) for e in a.entries] == [(e.system_id, e.rank_label) for e in b.entries]
    for x, y in zip(a.entries, b.entries):
        sx, sy = x.sep_next, y.sep_next
        assert (sx is None) == (sy is None)
        if sx is not None:
            assert (sx.separable, sx.method, sx.diff, sx.ci, sx.n_common, sx.p) == \
                   (sy.separable, sy.method, sy.diff, sy.ci, sy.n_common, sy.p)
    for f in ("i", "j", "p", "separable"):
        assert getattr(a.pairs, f).tobytes() == getattr(b.pairs, f).tobytes(), f


def test_pairs_reused_from_a_store_give_the_same_ranking_bit_for_bit():
    rng = np.random.default_rng(2)
    n, b = 14, 300
    vals = np.linspace(0.8, 0.3, n) + rng.normal(0, 0.01, n)
    boots = vals[:, None] + rng.normal(0, 0.04, (n, b))
    boots[3, :7] = np.nan  # undefined resamples: left out
    keys = [f"k{i}" for i in range(n)]
    names = {f"s{k}": f"s{k}" for k in range(n)}
    store = _MemStore()
    sub = list(range(0, n, 2))  # the previous build had every other system
    prev = {f"s{k}": float(vals[k]) for k in sub}
    blk = _block(vals, boots, keys)
    stats.rank("t", prev, names, True, lambda a, b_: pytest.fail("in the block"), [],
               block={s: blk[s] for s in prev}, store=store)
    assert store.puts == 1
    now = {f"s{k}": float(vals[k]) for k in range(n)}
    cached = stats.rank("t", now, names, True, lambda a, b_: pytest.fail("in the block"), [], block=blk, store=store)
    plain = stats.rank("t", now, names, True, lambda a, b_: pytest.fail("in the block"), [], block=blk)
    _same_ranking(cached, plain)
    # two members tied on value swap places (a name changed, the keys did not): that pair is computed again
    vals2 = vals.copy()
    vals2[5] = vals2[4]  # a new value: a new key
    keys2 = keys[:5] + ["k5-tied"] + keys[6:]
    blk2 = _block(vals2, boots, keys2)
    now2 = {f"s{k}": float(vals2[k]) for k in range(n)}
    stats.rank("t", now2, names, True, None, [], block=blk2, store=store)
    blk3 = {("a4" if s_ == "s5" else s_): e for s_, e in blk2.items()}  # s5 is now listed first
    now3 = {("a4" if s_ == "s5" else s_): v for s_, v in now2.items()}
    names3 = {s_: s_ for s_ in now3}
    flipped = stats.rank("t", now3, names3, True, None, [], block=blk3, store=store)
    assert [e.system_id for e in flipped.entries].index("a4") < [e.system_id for e in flipped.entries].index("s4")
    _same_ranking(flipped, stats.rank("t", now3, names3, True, None, [], block=blk3))
    # and the vectorised decisions equal the pair-by-pair ones (every pair with its own CI)
    cells = {}
    for k in range(n):
        c = stats.CellStats(f"s{k}", "t", "acc", float(vals[k]), None, None, None, boot=boots[k])
        cells[c.system_id] = c

    def slow(a, b_):
        d0 = cells[a].value - cells[b_].value
        return stats.separation_from_dist(d0, cells[a].boot - cells[b_].boot, 80)

    one_by_one = stats.rank("t", now, names, True, slow, [])
    assert [e.rank_label for e in one_by_one.entries] == [e.rank_label for e in plain.entries]


def test_next_row_cis_reused_from_the_store_only_for_neighbours_there_too(monkeypatch):
    """The shown next-row CI of two systems that were neighbours in the stored group is taken from
    it (the same bits as computing it); only pairs that became neighbours are computed."""
    rng = np.random.default_rng(9)
    n, b = 12, 200
    vals = np.linspace(0.9, 0.2, n) + rng.normal(0, 0.002, n)
    boots = vals[:, None] + rng.normal(0, 0.05, (n, b))
    boots[4, :3] = np.nan
    keys = [f"k{i}" for i in range(n)]
    names = {f"s{k}": f"s{k}" for k in range(n)}
    blk = _block(vals, boots, keys)
    store = _MemStore()
    new = 5
    prev = {f"s{k}": float(vals[k]) for k in range(n) if k != new}
    stats.rank("t", prev, names, True, None, [], block={s: blk[s] for s in prev}, store=store)
    now = {f"s{k}": float(vals[k]) for k in range(n)}
    computed = []
    real = bs.pairwise_pairs

    def counting(values, boots_, iu, ju, *a, **k):
        computed.extend(zip(np.asarray(iu).tolist(), np.asarray(ju).tolist()))
        return real(values, boots_, iu, ju, *a, **k)

    monkeypatch.setattr(bs, "pairwise_pairs", counting)
    cached = stats.rank("t", now, names, True, None, [], block=blk, store=store)
    neighbours = {(x, x + 1) for x in range(n - 1)}
    assert neighbours & set(computed) == {(new - 1, new), (new, new + 1)}  # the new system's two neighbours
    _same_ranking(cached, stats.rank("t", now, names, True, None, [], block=blk))
    computed.clear()
    again = stats.rank("t", now, names, True, None, [], block=blk, store=store)
    assert not neighbours & set(computed)
    _same_ranking(again, cached)
