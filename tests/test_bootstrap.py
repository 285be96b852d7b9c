"""ecomsuite.bootstrap: sufficient statistics give exactly the library's corpus value."""
import math
import os
import random
import time

import numpy as np
import pytest

from ecomsuite import bootstrap as bs
from ecomsuite.metrics import aggregate


def _cases():
    rnd = random.Random(0)
    mc = [[rnd.choice("ESCI"), rnd.choice("ESCIX")] for _ in range(60)]
    no_c = [[g, p] for g, p in mc if g != "C" and p != "C"]  # a subset with no C at all

    def tags(n):
        out, i = [], 0
        while i < n:
            if rnd.random() < 0.4:
                t = rnd.choice(["color", "brand", "type"])
                out.append("B-" + t)
                i += 1
                while i < n and rnd.random() < 0.5:
                    out.append("I-" + t)
                    i += 1
            else:
                out.append("O")
                i += 1
        return out[:n]

    sp = []
    for _ in range(50):
        n = rnd.randint(1, 6)
        sp.append([tags(n), tags(n)])
    words = "a b c d e f g".split()
    bl = [[" ".join(rnd.choices(words, k=5)), [" ".join(rnd.choices(words, k=6)) for _ in range(rnd.randint(1, 3))]]
          for _ in range(30)]
    at = [[rnd.randint(0, 3), rnd.randint(0, 2), rnd.randint(0, 2)] for _ in range(40)]
    # Japanese (no spaces: 13a alone would keep each sentence as one "word"), with some ASCII mixed in
    ja = list("赤い靴の商品説明軽量で防水ワイヤレスマウス高品質") + ["USB", "2.4GHz"]
    bl_ja = [["".join(rnd.choices(ja, k=8)), ["".join(rnd.choices(ja, k=9)) for _ in range(rnd.randint(1, 3))]]
             for _ in range(30)]
    return [("bleu", bl_ja), ("macro_f1", mc), ("macro_f1", no_c), ("f1_C", mc), ("span_f1", sp), ("span_macro_f1", sp),
            ("bleu", bl), ("attr_f1", at), ("attr_precision", at), ("attr_recall", at),
            ("acc", [float(rnd.random() < 0.5) for _ in range(40)])]


@pytest.mark.parametrize("metric,items", _cases())
def test_sufficient_statistics_equal_the_library(metric, items):
    p = bs.prepare(metric, items)
    assert p.kind == "sufficient", p.note
    assert p.value == pytest.approx(aggregate(metric, items), rel=1e-12, abs=1e-12)
    assert abs(p.value - aggregate(metric, items)) <= 1e-9
    counts = bs.resample_counts(len(items), 60, 7)
    ref = [aggregate(metric, [items[i] for i in np.repeat(np.arange(len(items)), r)]) for r in counts]
    np.testing.assert_allclose(p.boot(counts), ref, rtol=1e-12, atol=1e-12, equal_nan=True)
    # a Prepared crosses process boundaries (the leaderboard's samples workers): it pickles, and gives the same
    import pickle

    q = pickle.loads(pickle.dumps(p))
    assert q.boot(counts).tobytes() == p.boot(counts).tobytes() and q.finish_id == p.finish_id


def test_same_seed_same_docs_same_resamples_and_indices_match_counts():
    a = bs.resample_counts(30, 50, (1, "t"))
    assert np.array_equal(a, bs.resample_counts(30, 50, (1, "t")))
    idx = bs.resample_indices(30, 50, (1, "t"))
    assert np.array_equal(np.stack([np.bincount(r, minlength=30) for r in idx]), a)


def test_cluster_bootstrap_wider_than_iid_for_homogeneous_clusters():
    # 10 queries x 10 documents, every document of a query has the same score
    items = [float(q % 2) for q in range(10) for _ in range(10)]
    clusters = [q for q in range(10) for _ in range(10)]
    iid = bs.ci("acc", items, seed=0)
    cl = bs.ci("acc", items, clusters=clusters, seed=0)
    assert (cl[1] - cl[0]) > 2 * (iid[1] - iid[0])
    idx = bs.resample_indices(100, 20, 0, clusters)
    for row in idx:  # whole clusters only
        row = row[row >= 0]
        assert all(np.sum(np.asarray(clusters)[row] == c) % 10 == 0 for c in set(np.asarray(clusters)[row]))


def test_paired_diff_by_identity_not_position():
    a = {"x": 1.0, "y": 1.0, "z": 0.0, "w": 1.0}
    b = {"w": 1.0, "z": 0.0, "y": 1.0, "x": 1.0, "extra": 0.0}
    d, lo, hi, n = bs.paired_diff("acc", a, b)
    assert (d, lo, hi, n) == (0.0, 0.0, 0.0, 4)


def test_nan_items_are_refused_not_silently_used():
    with pytest.raises(ValueError, match="NaN"):
        bs.prepare("acc", [1.0, float("nan")])
    assert bs.finite_mask([1.0, float("nan"), ["E", "E"]]).tolist() == [True, False, True]


def test_pairwise_matches_the_per_pair_functions():
    rng = np.random.default_rng(3)
    boots = rng.normal(0.5, 0.05, size=(7, 500))
    boots[2, :40] = np.nan  # non-finite resamples are left out, as percentile_ci does
    boots[4, 7] = np.inf
    boots[5] = boots[6]  # identical: se 0
    values = boots[:, -1] + 0.001
    values[5] = values[6]
    d0, lo, hi, p = bs.pairwise(values, boots, max_elements=1000)  # several blocks
    iu, ju = np.triu_indices(7, 1)
    for x, (i, j) in enumerate(zip(iu, ju)):
        d = boots[i] - boots[j]
        ref = bs.percentile_ci(d)
        assert d0[x] == values[i] - values[j]
        assert (lo[x], hi[x]) == pytest.approx(ref, abs=1e-15)
        assert p[x] == pytest.approx(bs.pvalue_normal(values[i] - values[j], d), rel=1e-9, abs=1e-15)


def test_holm_matches_the_step_down_definition():
    rng = np.random.default_rng(0)
    for _ in range(200):
        ps = np.round(rng.random(rng.integers(1, 12)) ** 3, 3).tolist()
        order = sorted(range(len(ps)), key=lambda i: ps[i])
        want = [False] * len(ps)
        for r, i in enumerate(order):
            if ps[i] > 0.05 / (len(ps) - r):
                break
            want[i] = True
        assert bs.holm(ps) == want
    assert bs.holm([]) == []


def test_japanese_bleu_statistics_use_the_metrics_tokenizer():
    items = [["赤い靴です", ["赤い靴です"]], ["防水のマウス", ["防水マウス", "軽量マウス"]]]
    p = bs.prepare("bleu", items)
    assert p.kind == "sufficient" and p.note is None
    assert abs(p.value - aggregate("bleu", items)) <= 1e-9 and p.value > 0  # 13a alone: one "word", 0 matches


def test_a_pairs_numbers_do_not_depend_on_the_pairs_computed_with_it():
    """What a cache of earlier pairs relies on: any subset of pairs gives the same bits as all pairs."""
    rng = np.random.default_rng(4)
    boots = rng.normal(0.5, 0.05, size=(9, 300))
    boots[3, :5] = np.nan  # rows with non-finite differences take another path
    boots[6] = boots[7]
    values = boots[:, 0] + 0.01
    d0, lo, hi, p = bs.pairwise(values, boots, max_elements=2000)
    iu, ju = np.triu_indices(9, 1)
    pick = np.asarray([0, 5, 9, 17, 30, 35])  # scattered pairs, in another blocking
    got = bs.pairwise_pairs(values, boots, iu[pick], ju[pick], max_elements=900)
    for a, b in zip(got, (d0, lo, hi, p)):
        assert a.tobytes() == b[pick].tobytes()
    rev = bs.pairwise_pairs(values, boots, iu[pick][::-1], ju[pick][::-1])  # any order
    for a, b in zip(rev, (d0, lo, hi, p)):
        assert a.tobytes() == b[pick][::-1].tobytes()


def _span_items(n, seed, broken=0):
    """n documents of span items; ``broken`` of them have a tag seqeval refuses."""
    rnd = np.random.default_rng(seed)
    tags = ["O", "B-color", "I-color", "B-brand", "I-brand", "I-type"]
    items = [[list(rnd.choice(tags, 5)), list(rnd.choice(tags, 5))] for _ in range(n)]
    for i in range(broken):
        items[-1 - i][1][0] = "E-color"
    return items


def _counting_library(monkeypatch):
    calls = []

    def agg(metric, items):
        calls.append(len(items))
        return aggregate(metric, items)

    monkeypatch.setattr(bs, "_aggregate", lambda: agg)
    monkeypatch.setattr(bs, "_VERIFIED", set())
    return calls


def test_verify_once_checks_the_first_large_set_of_a_metric_and_every_small_one(monkeypatch):
    calls = _counting_library(monkeypatch)
    big = bs.VERIFY_ALWAYS_MAX_N + 1
    first, second = _span_items(big, 1), _span_items(big, 2)
    a = bs.prepare("span_f1", first, verify="once")
    assert calls == [big]                                    # the first: checked
    b = bs.prepare("span_f1", second, verify="once")
    assert calls == [big]                                    # then not, for this metric
    bs.prepare("span_macro_f1", second, verify="once")
    assert calls == [big, big]                               # another metric: its own first check
    small = _span_items(bs.VERIFY_ALWAYS_MAX_N, 3)
    bs.prepare("span_f1", small, verify="once")
    assert calls[-1] == len(small)                           # small sets: always
    mc = [["E", "S"], ["C", "C"]] * big
    n_calls = len(calls)
    bs.prepare("macro_f1", mc, verify="once")
    bs.prepare("macro_f1", mc, verify="once")
    assert len(calls) == n_calls + 2                         # statistics not proven exact: always checked
    # a skipped check gives what a passing one gives
    for items, got in ((first, a), (second, b)):
        ref = bs.prepare("span_f1", items, verify=True)
        assert (got.value, got.kind, got.note, got.finish_id) == (ref.value, ref.kind, ref.note, ref.finish_id)
        assert got.stats.tobytes() == ref.stats.tobytes()


def test_verify_once_keeps_checking_after_a_disagreement(monkeypatch):
    calls = _counting_library(monkeypatch)
    big = bs.VERIFY_ALWAYS_MAX_N + 1
    real = bs._aggregate()
    monkeypatch.setattr(bs, "_aggregate", lambda: (lambda m, items: real(m, items) + 0.5))  # "the library changed"
    for seed in (1, 2):
        p = bs.prepare("span_f1", _span_items(big, seed), verify="once")
        assert p.kind == "direct" and "ecomsuite.metrics gives" in p.note  # each cell falls back, each says so
    assert not bs._VERIFIED and calls == [big, big]


def test_a_skipped_check_raises_what_the_library_raises(monkeypatch):
    _counting_library(monkeypatch)
    big = bs.VERIFY_ALWAYS_MAX_N + 1
    bs.prepare("span_f1", _span_items(big, 1), verify="once")  # passes: later sets are not checked
    assert bs._VERIFIED
    bad = _span_items(big, 2, broken=3)
    bad[-1][0] = bad[-1][0][:3]  # a length mismatch the library finds first, the statistics last
    with pytest.raises(ValueError, match="Invalid token"):
        bs._span_stats(bad)
    errors = []
    for verify in (True, "once", False):
        with pytest.raises(Exception) as e:
            bs.prepare("span_f1", bad, verify=verify)
        errors.append((e.type, str(e.value)))
    assert errors[0] == errors[1] == errors[2] and "differ in length" in errors[0][1], errors
    with pytest.raises(ValueError, match="verify must be"):
        bs.prepare("span_f1", _span_items(3, 1), verify="sometimes")


def test_resample_sums_are_einsums_bits_on_every_path():
    """The float32 BLAS product is taken only where it is exact: the same bits as einsum in float64."""
    rng = np.random.default_rng(5)
    counts = bs.resample_counts(300, 50, 1)
    c = counts.astype(np.float64)
    cases = {
        "counts": rng.integers(0, 4, size=(300, 12)).astype(np.float64),
        "fractions": rng.random((300, 12)),
        "negative": rng.integers(-3, 4, size=(300, 12)).astype(np.float64),
        "huge": rng.integers(0, 4, size=(300, 12)).astype(np.float64) * float(1 << 20),
        "one column": rng.integers(0, 2, size=(300, 1)).astype(np.float64),
        "three columns": rng.integers(0, 6, size=(300, 3)).astype(np.float64),  # attribute tp/fp/fn
        "one fraction column": rng.random((300, 1)),  # a mean (rouge)
    }
    for name, st in cases.items():
        sums, totals = bs._resample_sums(counts, st)
        assert sums.dtype == totals.dtype == np.float64
        assert sums.tobytes() == np.einsum("bn,nk->bk", c, st).tobytes(), name
        assert totals.tobytes() == c.sum(axis=1).tobytes(), name
    for name, st in cases.items():  # again: the conversions of the cached counts are remembered
        assert bs._resample_sums(counts, st)[0].tobytes() == np.einsum("bn,nk->bk", c, st).tobytes(), name
    # float counts (a caller's weights) are summed as given
    w = c * 0.5
    assert bs._resample_sums(w, cases["counts"])[0].tobytes() == np.einsum("bn,nk->bk", w, cases["counts"]).tobytes()


def test_resample_sums_remember_only_read_only_counts():
    """A writable counts matrix changed between two calls is converted again (only resample_counts'
    read-only matrices are remembered), and the remembered conversions cannot be written."""
    rng = np.random.default_rng(6)
    st = rng.integers(0, 3, size=(40, 3)).astype(np.float64)
    mean = rng.random((40, 1))
    counts = np.ones((7, 40), dtype=np.int32)  # writable
    for s in (st, mean):
        bs._resample_sums(counts, s)
    counts[:, :20] = 3
    c = counts.astype(np.float64)
    for s in (st, mean):
        sums, totals = bs._resample_sums(counts, s)
        assert sums.tobytes() == np.einsum("bn,nk->bk", c, s).tobytes()
        assert totals.tobytes() == c.sum(axis=1).tobytes()
    fixed = bs.resample_counts(40, 7, 3)
    for s in (st, mean):
        bs._resample_sums(fixed, s)
    entry = bs._DERIVED[id(fixed)]
    assert entry["counts"] is fixed and {"f32", "f64"} <= set(entry)
    assert not any(a.flags.writeable for k in ("f32", "f64") for a in entry[k] if isinstance(a, np.ndarray))
    _, totals = bs._resample_sums(fixed, mean)
    totals[0] = -1.0  # the caller's copy
    assert bs._resample_sums(fixed, mean)[1][0] == fixed[0].sum()


def test_pair_tests_are_the_per_pair_definitions_bit_for_bit():
    """pair_tests (blocks, standard errors computed in place, sides screened on the first resamples)
    gives exactly pvalue_normal (to the last bit where all differences are finite) and the sign of
    the min/max of each pair's finite differences."""
    rng = np.random.default_rng(8)
    s, b = 14, 300
    boots = rng.normal(0.5, 0.01, size=(s, b)) + rng.permutation(np.linspace(0, 0.2, s))[:, None]  # one-signed pairs
    boots[2, :30] = np.nan
    boots[4, 9] = np.inf
    boots[5] = boots[6]
    boots[8, bs._SIDE_PREFIX + 50] = 10.0  # one-signed on the screened resamples, not after them
    boots[9, -1] = -10.0
    values = boots[:, 0] + 0.001
    iu, ju = np.triu_indices(s, 1)
    want_p, want_side = [], []
    for i, j in zip(iu, ju):
        d = boots[i] - boots[j]
        want_p.append(bs.pvalue_normal(values[i] - values[j], d))
        f = d[np.isfinite(d)]
        want_side.append(1 if f.size and f.min() > 0 else -1 if f.size and f.max() < 0 else 0)
    assert {1, -1, 0} <= set(want_side)
    for block in (bs.PAIR_BLOCK, 3 * b, b + 1, 7 * b + 5):
        _, p, nfin, side = bs.pair_tests(values, boots, iu, ju, max_elements=block)
        full = np.asarray([bool(np.isfinite(boots[i] - boots[j]).all()) for i, j in zip(iu, ju)])
        assert p[full].tobytes() == np.asarray(want_p)[full].tobytes(), block
        # with non-finite differences (numpy's nanstd over the row, as before): the same number
        np.testing.assert_allclose(p[~full], np.asarray(want_p)[~full], rtol=1e-12)
        assert side.tolist() == want_side, block
        assert nfin.tolist() == [int(np.isfinite(boots[i] - boots[j]).sum()) for i, j in zip(iu, ju)]


def test_an_undefined_class_f1_is_verified_not_called_a_disagreement():
    # no document has gold or predicted E: F1_E is 0/0 for the library and for the statistics alike
    items = [["S", "S"], ["C", "I"], ["I", "I"], ["S", "C"]] * 5
    assert math.isnan(aggregate("f1_E", items))
    p = bs.prepare("f1_E", items, verify=True)
    assert p.kind != "direct" and p.note is None, p.note
    assert math.isnan(p.value)


def _holm_by_definition(ps, alpha=0.05):
    order = sorted(range(len(ps)), key=lambda i: (math.isnan(ps[i]), ps[i]))  # NaN last: never rejected
    want = [False] * len(ps)
    for r, i in enumerate(order):
        if not ps[i] <= alpha / (len(ps) - r):
            break
        want[i] = True
    return want


def test_holm_array_ties_at_the_thresholds_and_many_pairs():
    """holm_array sorts only the p-values <= alpha: the same decisions as the step-down definition,
    with ties exactly at a threshold, ties across the stop, p-values above alpha and NaN."""
    alpha = 0.05
    rng = np.random.default_rng(11)
    for _ in range(100):
        m = int(rng.integers(1, 60))
        thr = alpha / (m - np.arange(m))
        ps = rng.choice(np.concatenate([thr, thr, [0.0, 1.0, alpha, np.nextafter(alpha, 1)]]), m)
        ps[rng.random(m) < 0.1] = np.nan
        assert bs.holm_array(ps, alpha).tolist() == _holm_by_definition(ps.tolist(), alpha)
    big = np.round(rng.random(20_000) ** 8, 9)  # many tiny p-values, many ties
    assert bs.holm_array(big).tolist() == _holm_by_definition(big.tolist())
    assert bs.holm_array(np.asarray([])).tolist() == []


@pytest.mark.parametrize("run_min", [1, 10**9])
def test_pairs_of_one_system_with_all_others_same_bits_either_way(monkeypatch, run_min):
    """A new system's pairs (one pair per other system: runs of one) are computed by gathering rows,
    long runs by one subtraction per system; each is the bits of all pairs computed together."""
    rng = np.random.default_rng(5)
    s, b = 12, 257
    boots = rng.normal(0.5, 0.05, size=(s, b))
    boots[2, :4] = np.nan
    boots[7, 3] = np.inf
    values = boots[:, 0] + 0.002
    iu, ju = np.triu_indices(s, 1)
    want = bs.pairwise_pairs(values, boots, iu, ju)
    want_t = bs.pair_tests(values, boots, iu, ju)
    monkeypatch.setattr(bs, "_RUN_MIN", run_min)
    new = 6  # the pairs (i, 6) for i < 6 and (6, j) for j > 6, in triu order
    pick = np.flatnonzero((iu == new) | (ju == new))
    got = bs.pairwise_pairs(values, boots, iu[pick], ju[pick], max_elements=5 * b)
    for a, w in zip(got, want):
        assert a.tobytes() == w[pick].tobytes()
    got_t = bs.pair_tests(values, boots, iu[pick], ju[pick], max_elements=3 * b)
    for a, w in zip(got_t, want_t):
        assert a.tobytes() == w[pick].tobytes()


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_pair_tests_all_is_pair_tests_bit_for_bit_in_tiles_and_processes(monkeypatch, jobs):
    """pair_tests_all (tiles of systems x systems, forked workers writing into shared memory) gives
    pair_tests' bits for every pair, whatever the tile and the number of processes; a matrix with
    non-finite values (or values near overflow) goes through pair_tests itself."""
    monkeypatch.setattr(bs, "PAIR_FORK_MIN", 1)  # fork even for these small groups
    rng = np.random.default_rng(21)
    for s, b, tile in ((13, 301, 3 * 301), (9, 64, 64 * 64), (17, 2000, bs.PAIR_TILE), (5, 7, 1), (2, 50, 10**6)):
        boots = rng.normal(0.5, 0.02, size=(s, b)) + rng.permutation(np.linspace(0, 0.3, s))[:, None]
        if s > 4:
            boots[1] = boots[3]  # se 0
            boots[4, bs._SIDE_PREFIX + 3:] += 1.0  # one-signed on the screened resamples only
            values = boots[:, 0] + 0.001
            values[s - 2] = np.nan
        else:
            values = boots[:, 0] + 0.001
        iu, ju = np.triu_indices(s, 1)
        want = bs.pair_tests(values, boots, iu, ju)
        got = bs.pair_tests_all(values, boots, n_jobs=jobs, tile=tile)
        for w, g, what in zip(want, got, ("d0", "p", "n_finite", "side")):
            assert g.dtype == w.dtype and g.tobytes() == w.tobytes(), (s, b, tile, what)
        x = np.arange(s - 1)
        got_near = bs.pair_tests_all(values, boots, n_jobs=jobs, tile=tile, near=True)
        assert len(got_near) == 5 and all(g.tobytes() == w.tobytes() for g, w in zip(got_near, got))
        assert got_near[4].tobytes() == np.stack(bs.pairwise_pairs(values, boots, x, x + 1)[1:]).tobytes(), (s, b, tile)
        assert {1, -1, 0} <= set(got[3].tolist()) or s < 9
    for bad in (np.nan, np.inf, 1e301):
        boots = rng.normal(0.5, 0.02, size=(6, 40))
        boots[2, 5] = bad
        values = boots[:, 0]
        iu, ju = np.triu_indices(6, 1)
        want = bs.pair_tests(values, boots, iu, ju)
        got = bs.pair_tests_all(values, boots, n_jobs=jobs, tile=40 * 4, near=True)
        assert all(g.tobytes() == w.tobytes() for g, w in zip(got, want)), bad
        x = np.arange(5)
        assert got[4].tobytes() == np.stack(bs.pairwise_pairs(values, boots, x, x + 1)[1:]).tobytes()
    for b in (0, 1):  # no spread to measure: as pair_tests
        boots = rng.normal(size=(4, b))
        got = bs.pair_tests_all(boots.sum(axis=1), boots, n_jobs=jobs)
        want = bs.pair_tests(boots.sum(axis=1), boots, *np.triu_indices(4, 1))
        assert all(g.tobytes() == w.tobytes() for g, w in zip(got, want))
    got = bs.pair_tests_all([0.5], np.ones((1, 10)), n_jobs=jobs)
    assert [len(x) for x in got] == [0, 0, 0, 0]


def test_pair_tests_all_a_failed_worker_fails_the_call(monkeypatch, tmp_path):
    monkeypatch.setattr(bs, "PAIR_FORK_MIN", 1)
    real = bs._band_into
    parent = os.getpid()
    taken = tmp_path / "child-took-a-band"

    def band_into(*a):
        if os.getpid() != parent:
            taken.touch()
            raise MemoryError("worker ran out")
        # The parent works too: without waiting it may take every band before the child reads one
        # (seen on a loaded CI machine), and then no worker fails. Wait until the child has one.
        deadline = time.monotonic() + 60
        while not taken.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        return real(*a)

    monkeypatch.setattr(bs, "_band_into", band_into)
    boots = np.random.default_rng(3).normal(size=(20, 30))
    with pytest.raises(RuntimeError, match="1 of 1 forked worker"):
        bs.pair_tests_all(boots[:, 0], boots, n_jobs=2, tile=30)


def test_pairs_ci_beyond_zero_is_the_quantile_decision():
    """pairs_ci_beyond_zero (counting the differences <= 0 / < 0, quantiles only near the boundary)
    decides lo > 0 and hi < 0 exactly as pairwise_pairs' CI: rows whose count of non-positive
    differences lands on every place around the interpolated quantile, ties at 0, -0.0, NaN/inf."""
    rng = np.random.default_rng(13)
    seen = set()
    for b in (2, 3, 40, 41, 200, 2000):
        s = 24
        boots = np.zeros((s, b))
        base = rng.normal(0.0, 1.0, size=b)
        for r in range(s):  # row r - row 0 has about r * b / (2 s) differences <= 0, some exactly 0
            d = rng.choice([-1.0, 0.0, 1.0, -0.0, 2.5, -2.5], size=b)
            k = int(rng.integers(0, b + 1))
            d[:k] = -np.abs(d[:k])
            d[k:] = np.abs(d[k:])
            boots[r] = base + d * (1 + r % 3)
        boots[5, 1 % b] = np.nan
        boots[6, 0] = np.inf
        values = boots[:, 0]
        iu, ju = np.triu_indices(s, 1)
        _, lo, hi, _ = bs.pairwise_pairs(values, boots, iu, ju)
        for block in (bs.PAIR_BLOCK_CI, 5 * b):
            assert bs.pairs_ci_beyond_zero(values, boots, iu, ju, max_elements=block).tolist() == (lo > 0).tolist(), b
            assert bs.pairs_ci_beyond_zero(values, boots, iu, ju, upper=True, max_elements=block).tolist() == \
                (-hi > 0).tolist(), b
        seen |= {("lo", x) for x in (lo > 0).tolist()} | {("hi", x) for x in (hi < 0).tolist()}
    assert len(seen) == 4  # both decisions, both ways
    # every count of non-positive differences from 40 to 60 at 2,000 resamples (the 2.5% place is ~50)
    b = 2000
    rows = []
    for c in range(40, 61):
        for zero in (0.0, -0.0):
            d = np.full(b, 1.0)
            d[:c] = -1.0
            d[c - 1] = zero
            rows.append(rng.permutation(d))
    boots = np.vstack([np.zeros(b), np.asarray(rows)]) * -1.0  # row 0 minus row r: d
    iu = np.zeros(len(rows), dtype=np.int64)
    ju = np.arange(1, len(rows) + 1)
    _, lo, hi, _ = bs.pairwise_pairs(boots[:, 0], boots, iu, ju)
    assert bs.pairs_ci_beyond_zero(boots[:, 0], boots, iu, ju).tolist() == (lo > 0).tolist()
    assert 0 < int((lo > 0).sum()) < len(rows)
    neg = -boots
    _, lo, hi, _ = bs.pairwise_pairs(neg[:, 0], neg, iu, ju)
    assert bs.pairs_ci_beyond_zero(neg[:, 0], neg, iu, ju, upper=True).tolist() == (hi < 0).tolist()
    assert 0 < int((hi < 0).sum()) < len(rows)
