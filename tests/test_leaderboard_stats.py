"""Leaderboard statistics: bootstrap CIs (hand-checked), determinism, paired comparisons, rank groups."""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest




stats = importlib.import_module("ecomsuite.leaderboard.stats")
samples = importlib.import_module("ecomsuite.leaderboard.samples")
collect = importlib.import_module("ecomsuite.leaderboard.collect")
systems = importlib.import_module("ecomsuite.leaderboard.systems")
synthetic = importlib.import_module("ecomsuite.leaderboard.synthetic")


def fake_macro_f1(metric, items):
    """Stand-in for ecomsuite.metrics.aggregate: items are [gold, pred] pairs."""
    if metric != "macro_f1":
        raise KeyError(metric)
    labels = sorted({g for g, _ in items} | {p for _, p in items})
    f1s = []
    for lab in labels:
        tp = sum(1 for g, p in items if g == lab and p == lab)
        fp = sum(1 for g, p in items if g != lab and p == lab)
        fn = sum(1 for g, p in items if g == lab and p != lab)
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return sum(f1s) / len(f1s)


@pytest.fixture
def aggregate():
    stats.set_aggregate(fake_macro_f1)
    yield fake_macro_f1
    stats.set_aggregate()


@pytest.fixture
def no_aggregate():
    stats.set_aggregate(None)
    yield
    stats.set_aggregate()


# ---------------------------------------------------------------------------------------------
# bootstrap, by hand


def test_bootstrap_ci_hand_checked():
    items = [0.0, 0.0, 1.0, 1.0]
    idx = np.array([[0, 0, 0, 0], [0, 1, 2, 3], [2, 3, 2, 3], [0, 2, 2, 2]])
    boot = stats.bootstrap("acc", items, "mean", None, idx)
    assert boot.tolist() == [0.0, 0.5, 1.0, 0.75]
    lo, hi = stats.percentile_ci(boot)
    # sorted [0, .5, .75, 1]; numpy linear quantile at 0.025*3 = 0.075 and 0.975*3 = 2.925
    assert lo == pytest.approx(0.0 + 0.075 * 0.5)  # 0.0375
    assert hi == pytest.approx(0.75 + 0.925 * 0.25)  # 0.98125


def test_corpus_bootstrap_hand_checked(aggregate):
    items = [["E", "E"], ["S", "E"], ["S", "S"]]
    assert aggregate("macro_f1", items) == pytest.approx((2 / 3 + 2 / 3) / 2)
    idx = np.array([[0, 0, 0], [0, 1, 2], [1, 1, 1]])
    boot = stats.bootstrap("macro_f1", items, "corpus", aggregate, idx)
    # [E,E]x3 -> 1.0 ; all three -> 2/3 ; [S,E]x3 -> labels E,S both F1 0 -> 0.0
    assert boot.tolist() == pytest.approx([1.0, 2 / 3, 0.0])


def test_weights_equal_index_means_and_seeded_determinism():
    r1 = stats.Resampler(200, seed=7)
    r2 = stats.Resampler(200, seed=7)
    r3 = stats.Resampler(200, seed=8)
    x = np.random.default_rng(0).random(50)
    assert np.array_equal(r1.indices("t", 50), r2.indices("t", 50))
    assert not np.array_equal(r1.indices("t", 50), r3.indices("t", 50))
    assert not np.array_equal(r1.indices("t", 50), r1.indices("other", 50))
    np.testing.assert_allclose(r1.weights("t", 50) @ x, x[r1.indices("t", 50)].mean(axis=1))


def test_bootstrap_ci_matches_normal_approximation_for_large_n():
    rng = np.random.default_rng(1)
    x = (rng.random(2000) < 0.7).astype(float)
    rs = stats.Resampler(2000, seed=1)
    boot = stats.bootstrap("acc", x, "mean", None, rs.indices("t", 2000), rs.weights("t", 2000))
    lo, hi = stats.percentile_ci(boot)
    se = x.std(ddof=1) / math.sqrt(len(x))
    assert lo == pytest.approx(x.mean() - 1.96 * se, abs=0.004)
    assert hi == pytest.approx(x.mean() + 1.96 * se, abs=0.004)


# ---------------------------------------------------------------------------------------------
# choosing mean vs corpus


def test_classify(aggregate):
    assert stats.classify("acc", [1.0, 0.0, 1.0], True, aggregate) == "mean"  # KeyError -> mean
    assert stats.classify("macro_f1", [["E", "E"]], False, aggregate) == "corpus"
    assert stats.classify("unknown", [["E", "E"]], False, aggregate) is None
    assert stats.classify("acc", [1.0, 0.0], True, None) == "mean"
    assert stats.classify("macro_f1", [["E", "E"]], False, None) is None

    def max_agg(metric, items):  # knows the metric, is not a mean
        return max(items)

    assert stats.classify("best", [0.1, 0.5, 0.2], True, max_agg) == "corpus"
    assert stats.classify("avg", [0.1, 0.5, 0.2], True, lambda m, it: sum(it) / len(it)) == "mean"


# ---------------------------------------------------------------------------------------------
# comparisons and rank groups


def test_rank_groups_labels():
    S = stats.Separation
    seps = [S(False, "paired bootstrap"), S(True, "paired bootstrap"), S(None, "untested"), S(False, "z")]
    entries = stats.rank_groups(["a", "b", "c", "d", "e"], seps)
    assert [e.rank_label for e in entries] == ["1–2", "1–2", "3", "4–5", "4–5"]
    assert [e.group for e in entries] == [0, 0, 1, 2, 2]
    with pytest.raises(ValueError):
        stats.rank_groups(["a", "b"], [])


def test_rank_groups_do_not_chain_past_the_group_leader():
    # a..e each 1 point apart; neighbours are never separable, but anything 2+ points apart is
    score = {"a": 5, "b": 4, "c": 3, "d": 2, "e": 1}

    def separate(x, y):
        return stats.Separation(abs(score[x] - score[y]) >= 2, "test")

    ids = list(score)
    seps = [separate(ids[i], ids[i + 1]) for i in range(4)]
    assert [e.rank_label for e in stats.rank_groups(ids, seps)] == ["1–5"] * 5  # plain chaining
    entries = stats.rank_groups(ids, seps, separate)
    assert [e.rank_label for e in entries] == ["1–2", "1–2", "3–4", "3–4", "5"]


def test_separation_z():
    assert stats.separation_z(0.8, 0.5, 0.01, 0.01).separable is True
    assert stats.separation_z(0.51, 0.5, 0.05, 0.05).separable is False
    assert stats.separation_z(0.8, 0.5, None, 0.01).separable is None


def _cell(task, ids, items, rs, kind="mean"):
    ids = np.asarray(ids)
    c = stats.CellStats("s", task, "acc", float(np.mean(items)), None, None, None)
    c.kind, c.doc_ids, c.items = kind, ids, np.asarray(items, dtype=float)
    c.boot = stats.bootstrap("acc", c.items, "mean", None, rs.indices(task, len(ids)), rs.weights(task, len(ids)))
    return c


def test_paired_bootstrap_same_docs_is_difference_of_boots():
    rs = stats.Resampler(500, seed=3)
    rng = np.random.default_rng(0)
    a_items = (rng.random(300) < 0.8).astype(float)
    b_items = a_items.copy()
    b_items[:6] = 1 - b_items[:6]  # b differs from a on 6 documents only
    a = _cell("t", range(300), a_items, rs)
    b = _cell("t", range(300), b_items, rs)
    d, n = stats.paired_diff(a, b, rs, None, None)
    assert n == 300
    np.testing.assert_allclose(d, a.boot - b.boot)
    # paired: nearly identical systems are not separable, yet the paired CI is far narrower than unpaired
    sep = stats.compare(a, b, rs, None, None)
    assert sep.method == "paired bootstrap" and sep.separable is False
    unpaired = a.boot - np.roll(b.boot, 1)  # break the pairing
    lo, hi = stats.percentile_ci(unpaired)
    assert sep.ci[1] - sep.ci[0] < (hi - lo) / 2


def test_paired_bootstrap_on_common_doc_ids_only():
    rs = stats.Resampler(400, seed=3)
    a = _cell("t", list(range(0, 200)), [1.0] * 200, rs)
    b = _cell("t", list(range(100, 300)), [0.0] * 100 + [1.0] * 100, rs)
    d, n = stats.paired_diff(a, b, rs, None, None)
    assert n == 100  # docs 100..199: a is right on all, b wrong on all
    assert np.allclose(d, 1.0)
    assert stats.compare(a, b, rs, None, None).separable is True


def test_compare_falls_back_to_stderr_without_samples():
    a = stats.CellStats("a", "t", "acc", 0.9, None, None, 0.01)
    b = stats.CellStats("b", "t", "acc", 0.5, None, None, 0.01)
    sep = stats.compare(a, b, stats.Resampler(10), None, None)
    assert sep.method == "z-test on stderr" and sep.separable is True


def test_overall_from_cells():
    rs = stats.Resampler(300, seed=5)
    c1 = _cell("t1", range(100), [1.0] * 50 + [0.0] * 50, rs)
    c2 = _cell("t2", range(100), [1.0] * 80 + [0.0] * 20, rs)
    o = stats.overall_from_cells([c1, c2])
    assert o.value == pytest.approx(0.65)
    assert o.ci_method == "bootstrap" and o.ci[0] < 0.65 < o.ci[1]
    np.testing.assert_allclose(o.boot, (c1.boot + c2.boot) / 2)
    # without samples: +-1.96 * sqrt(sum se^2) / T
    s1 = stats.CellStats("s", "t1", "acc", 0.5, None, None, 0.03)
    s2 = stats.CellStats("s", "t2", "acc", 0.8, None, None, 0.04)
    o = stats.overall_from_cells([s1, s2])
    assert o.se == pytest.approx(0.025) and o.ci == pytest.approx((0.65 - 1.959964 * 0.025, 0.65 + 1.959964 * 0.025))
    assert stats.overall_from_cells([s1, stats.CellStats("s", "t2", "acc", None, None, None, None)]).value is None


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
    assert sd.doc_ids.tolist() == [0, 1, 2] and not sd.numeric
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
    assert e[0].group == e[1].group  # the two equally strong systems share a rank group
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
        "results": {"ecom_esci": {"macro_f1,none": fake_macro_f1("macro_f1", [json.loads(x)["macro_f1"] for x in lines_a])}},
        "configs": {"ecom_esci": {"metadata": {"headline": "macro_f1"}}},
        "config": {"model": "hf", "model_args": "pretrained=m"},
    }
    run = collect.run_from_dict(d, tmp_path / "results_x.json", [tmp_path], [])
    run.tasks["ecom_esci"].samples_path = str(tmp_path / "a.jsonl")
    asm = systems.assemble([run])
    sid = asm.systems[0].id
    sd = samples.read_samples(samples.SampleJob(sid, "ecom_esci", "macro_f1", "none", str(tmp_path / "a.jsonl"), None), aggregate)
    st = stats.compute(asm, {(sid, "ecom_esci"): sd}, iters=1000, corpus_iters=50, seed=3)
    c = st.cells[(sid, "ecom_esci")]
    assert c.kind == "corpus" and c.ci_method == "bootstrap" and len(c.boot) == 50
    assert c.recomputed == pytest.approx(c.value)
    assert c.ci[0] <= c.value <= c.ci[1]


def test_real_ecomsuite_metrics_aggregate_contract():
    """Runs once the lead's ecomsuite.metrics.aggregate exists; skipped until then."""
    metrics = pytest.importorskip("ecomsuite.metrics", reason="ecomsuite.metrics not written yet")
    agg = getattr(metrics, "aggregate", None)
    if agg is None:
        pytest.skip("ecomsuite.metrics.aggregate not written yet")
    stats.set_aggregate()  # auto lookup
    assert stats.get_aggregate() is agg
    with pytest.raises(KeyError):
        agg("surely_not_a_metric_name", [1.0])
    # mean-style items work whatever aggregate knows: acc is (or behaves as) a mean
    assert stats.classify("acc", [1.0, 0.0, 1.0, 1.0], True, agg) == "mean"
