"""Scale: the per-document viewer score from sufficient statistics equals the library on one document,
and the realistic bench (items from the tasks' own process_results) builds a site at a tiny size."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest
from ecomsuite.leaderboard.samples import document_scores

from ecomsuite.metrics import aggregate

ROOT = Path(__file__).resolve().parents[1]

CASES = {
    "span_f1": [[["B-color", "O", "B-brand", "I-brand"], ["B-color", "O", "B-brand", "O"]],
                [["O", "O"], ["O", "O"]],
                [["B-color", "I-color"], ["O", "B-color"]]],
    "span_macro_f1": [[["B-color", "O", "B-brand", "I-brand"], ["B-color", "O", "B-brand", "I-brand"]],
                      [["B-color"], ["O"]]],
    "attr_f1": [[2, 1, 0], [0, 0, 3], [0, 0, 0]],
    "macro_f1": [["E", "E"], ["S", "I"]],
    "bleu": [["the red mug holds tea", ["a red mug for tea"]], ["", ["nothing here"]]],
}


@pytest.mark.parametrize("metric", sorted(CASES))
def test_document_scores_equal_the_library_on_each_document(metric):
    items = CASES[metric]
    got = document_scores(metric, items, aggregate)
    want = [float(aggregate(metric, [it])) for it in items]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g is not None and math.isclose(g, w, rel_tol=1e-9, abs_tol=1e-12), (metric, got, want)


def test_document_scores_fall_back_per_item_and_show_no_score_for_a_bad_item():
    items = [[["B-color"], ["B-color"]], [["B-color", "O"], ["O"]]]  # second: lengths differ
    got = document_scores("span_f1", items, aggregate)
    assert got[0] == 1.0 and got[1] is None


def _bench():
    spec = importlib.util.spec_from_file_location("bench_leaderboard", ROOT / "bench" / "bench_leaderboard.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _bench_script(name: str, monkeypatch):
    """bench/<name>.py loaded as the module ``name`` (registered: its pools pickle its functions by name),
    with bench/ on sys.path (the scripts import bench_leaderboard)."""
    import sys

    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, mod)
    spec.loader.exec_module(mod)
    return mod


def test_bench_of_samples_reading_compares_both_ways_on_the_builds_jobs(tmp_path, monkeypatch):
    """bench/bench_samples_reading.py: every task's files read with and without the line-beginning memo."""
    mod = _bench_script("bench_samples_reading", monkeypatch)
    out = tmp_path / "r.json"
    assert mod.main(["--runs", "4", "--docs", "20", "--files", "2", "--files-own", "1", "--workdir", str(tmp_path / "w"),
                     "--json", str(out)]) == 0
    fig = json.loads(out.read_text())
    for part in (fig, fig["beginnings_never_repeating"]):
        assert sorted(part["per_task"]) == sorted(_bench().TASKS)
        assert all(v["whole_ms_per_file"] > 0 and v["memo_ms_per_file"] > 0 for v in part["per_task"].values())
        assert part["whole_cpu_s"] > 0 and part["ratio"] > 0


def test_bench_of_two_checkouts_measures_each_file_in_both(tmp_path, monkeypatch):
    """bench/bench_worker_ab.py: one process per checkout, every task's files in each; the same checkout
    twice writes the same viewer files."""
    mod = _bench_script("bench_worker_ab", monkeypatch)
    out = tmp_path / "r.json"
    assert mod.main(["--impl", f"a={ROOT}", "--impl", f"b={ROOT}", "--runs", "4", "--docs", "20", "--files", "2",
                     "--workdir", str(tmp_path / "w"), "--json", str(out)]) == 0
    fig = json.loads(out.read_text())
    assert sorted(fig["per_task"]) == sorted(_bench().TASKS) and fig["viewer_files_equal"] is True
    assert all(v["a_ms_per_file"] > 0 and v["b_ms_per_file"] > 0 for v in fig["per_task"].values())
    assert fig["cpu_s"]["a"] > 0 and fig["ratio_to_a"]["b"] > 0
    with pytest.raises(SystemExit):
        mod.main(["--impl", f"a={ROOT}", "--runs", "4", "--files", "2", "--workdir", str(tmp_path / "w")])


def test_bench_of_disk_reading_reads_every_samples_file_whole(tmp_path, monkeypatch):
    """bench/bench_disk_read.py: every samples_*.jsonl under the roots read once, byte for byte, by each reader."""
    mod = _bench_script("bench_disk_read", monkeypatch)
    sizes = [0, 10, 4096, 4096 * 300 + 7, (1 << 20) + 4096]
    for i, n in enumerate(sizes):
        d = tmp_path / "in" / f"run{i}"
        d.mkdir(parents=True)
        (d / f"samples_t_{i}.jsonl").write_bytes(b"x" * n)
        (d / f"results_{i}.json").write_bytes(b"y" * 999)  # not a samples file: not read
    out = tmp_path / "r.json"
    assert mod.main([str(tmp_path / "in"), "--readers", "2", "--json", str(out)]) == 0
    fig = json.loads(out.read_text())
    assert fig["files"] == len(sizes) and fig["gb"] == round(sum(sizes) / 1e9, 3) and fig["readers"] == 2
    assert mod.read_files([str(p) for p in sorted((tmp_path / "in").rglob("samples_*"))])[0] == sum(sizes)


def test_bench_builds_a_site_from_the_tasks_own_items(tmp_path):
    bench = _bench()
    out = tmp_path / "figures.json"
    assert bench.main(["--runs", "3", "--docs", "20", "--jobs", "1", "--bootstrap-iters", "50", "--no-plots",
                       "--workdir", str(tmp_path / "w"), "--json", str(out)]) == 0
    fig = json.loads(out.read_text())
    # how much of the inputs was in the page cache (mincore) as each build started: just written, all of it
    assert fig["full"]["inputs_resident_at_start"] in (1.0, None)
    # what the inputs' block device read during the build, where Linux tells (the cache below a VM is not this one's)
    dev = fig["full"]["device_read_mb"]
    assert dev is None or (dev >= 0 and fig["full"]["device_read_mb_per_s"] >= 0)
    assert fig["data"] == "embedded sample" and fig["variants"] == 6
    site = tmp_path / "w" / "r3-t6-d20" / "site"
    assert (site / "index.html").is_file()
    assert fig["full"]["systems"] == 3 and fig["incremental_one_new_run"]["systems"] == 4
    assert fig["full"]["sample_data_files"] == 18 and fig["full"]["unusable_files"] == 0
    board = json.loads((site / "leaderboard.json").read_text())
    text = json.dumps(board)
    # the corpus metrics ran through the statistics (no "items are numbers ... averaged" fallback)
    report = json.loads((site / "build_report.json").read_text())
    assert not [w for w in report["warnings"] if "averaged" in json.dumps(w) or "mismatch" in json.dumps(w)], report
    assert "span_f1" in text and "attr_f1" in text and "macro_f1" in text
    # the reported values are the tasks' own aggregations of the logged items
    res = next((tmp_path / "w" / "r3-t6-d20" / "inputs").glob("run-0000/results_*.json"))
    data = json.loads(res.read_text())
    for task, metric in (("ecom_queryner", "span_f1"), ("ecom_review_summ", "bleu"), ("ecom_attr_extract", "attr_f1")):
        smp = next(res.parent.glob(f"samples_{task}_*.jsonl"))
        items = [json.loads(line)[metric] for line in smp.read_text().splitlines()]
        assert math.isclose(data["results"][task][f"{metric},none"], float(aggregate(metric, items)), rel_tol=1e-9)


def test_bench_variants_are_distinct_outputs_scored_by_the_task_and_name_their_corpus(tmp_path):
    """--variants K: K outputs per document, no two the same (the default corpus repeats ~100 lines a task, which
    flatters anything the build remembers by content); each line's items are the task's own for its output."""
    bench = _bench()
    bench.prepare_tasks(6, 6, None, 12)
    try:
        for t, bank in bench._BANK.items():
            for rows in bank:
                assert len(rows) == 12
                lines = [json.loads(line) for line, _ in rows]
                outs = [json.dumps(x["filtered_resps"]) for x in lines]
                if t not in ("ecom_esci", "ecom_esci_gen"):  # labels: few outputs; their loglikelihoods differ below
                    assert len(set(outs)) == 12, (t, outs)
                assert len({line for line, _ in rows}) == 12, t
                for x, (_, items) in zip(lines, rows):
                    assert all(x[m] == v for m, v in items.items())
        task = bench._TASKS["ecom_queryner"]
        rows = bench._BANK["ecom_queryner"][0]
        doc = json.loads(rows[0][0])["doc"]
        for line, items in rows:  # the items are process_results of that line's own output
            out = json.loads(line)["filtered_resps"]
            assert task.process_results(doc, out) == items
    finally:
        bench._PREPARED.clear()
    # each corpus its own folder: never one reused as another
    names = {bench.corpus_dir(tmp_path, 10, 6, 20, d, v).name for d in (None, str(tmp_path)) for v in (6, 40)}
    assert len(names) == 4 and bench.corpus_dir(tmp_path, 10, 6, 20).name == "r10-t6-d20"
    with pytest.raises(SystemExit, match="not a folder"):
        bench.generate(tmp_path / "w", 2, 6, 5, 1, data_dir=str(tmp_path / "missing"))
    with pytest.raises(SystemExit, match="at least 2"):
        bench.prepare_tasks(6, 5, None, 1)


def test_bench_extra_run_is_reused_only_as_the_same_run_of_the_same_corpus(tmp_path):
    bench = _bench()
    w = tmp_path / "w"
    bench.generate(w, 2, 1, 5, 1)
    try:
        extra = bench.one_more_run(w, 2, 1, 5)
        res = next(extra.glob("run-*/results_*.json"))
        res.write_text("{}")  # the same run asked again: not written again (its marker says it is that run)
        assert bench.one_more_run(w, 2, 1, 5) == extra and res.read_text() == "{}"
        bench.one_more_run(w, 3, 1, 5)  # another run: written anew
        assert not res.exists() and next(extra.glob("run-*/results_*.json")).read_text() != "{}"
        (w / "manifest.json").write_text(json.dumps({"another": "corpus"}))
        bench.one_more_run(w, 3, 1, 5)
        assert json.loads((extra / ".bench-run.json").read_text())["corpus"] == {"another": "corpus"}
    finally:
        bench._PREPARED.clear()


@pytest.mark.skipif(not (ROOT.parent / "shared" / "data").is_dir(), reason="no ../shared/data here")
def test_bench_reads_the_documents_of_its_data_dir():
    bench = _bench()
    bench.prepare_tasks(1, 50, str(ROOT.parent / "shared" / "data"), 2)  # ESCI: 16 documents in the embedded sample
    try:
        ids = {json.loads(rows[0][0])["doc"]["id"] for rows in bench._BANK["ecom_esci"]}
        assert len(ids) == 50 and not any("~" in str(i) for i in ids)  # 50 distinct real documents, none cycled
    finally:
        bench._PREPARED.clear()


def test_bench_tells_how_much_of_the_inputs_is_in_the_page_cache(tmp_path):
    bench = _bench()
    folder = tmp_path / "r"
    folder.mkdir()
    for i in range(3):
        (folder / f"samples_t{i}_x.jsonl").write_bytes(b'{"doc_id": 1}\n' * (3000 + i))
    (folder / "samples_empty_x.jsonl").write_bytes(b"")
    got = bench.resident_fraction([str(folder)])
    if got is None:  # no mincore here
        pytest.skip("mincore is not available")
    assert got == 1.0  # just written
    bench.set_inputs([str(folder)], "cold")  # dropped from the cache where the file system lets it go
    assert 0.0 <= bench.resident_fraction([str(folder)]) <= 1.0
    assert bench.resident_fraction([str(tmp_path / "nothing")]) is None
    # --inputs: warm reads every samples file once, cold drops them (where the file system lets it)
    bench.set_inputs([str(folder)], "warm")
    assert bench.resident_fraction([str(folder)]) == 1.0
    bench.set_inputs([str(folder)], "cold")
    cold = bench.resident_fraction([str(folder)])
    bench.set_inputs([str(folder)], "as-is")
    assert bench.resident_fraction([str(folder)]) == cold < 1.0


def _runs(tmp_path, n=3):
    from ecomsuite.leaderboard import synthetic

    runs = tmp_path / "runs"
    specs = [synthetic.RunSpec(name=f"org/m{i}", skill=0.3 + 0.2 * i, tasks=["ecom_queryner", "ecom_esci_gen"],
                               n_docs=12, seed=i) for i in range(n)]
    for s in specs:
        synthetic.write_run(runs, s)
    return runs, specs


def _build(runs, site, **kw):
    from ecomsuite.leaderboard import build

    kw.setdefault("bootstrap_iters", 50)
    kw.setdefault("plots", False)
    return build.build_site(build.BuildOptions(results=[str(r) for r in runs], out=str(site), generated="t", **kw))


def _site_files(site):
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}


def test_cached_rebuild_reads_only_the_new_file_and_gives_the_same_site(tmp_path):
    from ecomsuite.leaderboard import build, synthetic

    runs, _ = _runs(tmp_path)
    site = tmp_path / "site"
    first = _build([runs], site)
    assert first.sample_cache_hits == 0
    cache = build.cache_dir_for(site)
    assert len(list(cache.glob("*.lbcache"))) == first.sample_files == 6
    again = _build([runs], site)
    assert again.sample_cache_hits == 6
    cached = _site_files(site)
    _build([runs], tmp_path / "nocache", cache=False)
    assert cached == _site_files(tmp_path / "nocache")  # the cache changes nothing on the site
    assert not build.cache_dir_for(tmp_path / "nocache").exists()

    extra = tmp_path / "extra"
    synthetic.write_run(extra, synthetic.RunSpec(name="org/new", skill=0.9, tasks=["ecom_queryner", "ecom_esci_gen"],
                                                 n_docs=12, seed=9))
    inc = _build([runs, extra], site)
    assert inc.sample_cache_hits == 6 and inc.systems == 4


def test_a_changed_samples_file_is_read_again_and_stale_entries_are_pruned(tmp_path):
    import os

    from ecomsuite.leaderboard import build

    runs, _ = _runs(tmp_path)
    site = tmp_path / "site"
    _build([runs], site)
    smp = sorted(runs.rglob("samples_ecom_queryner_*.jsonl"))[0]
    lines = smp.read_text().splitlines()
    smp.write_text("\n".join(lines[:-1]) + "\n")  # one document fewer
    os.utime(smp, ns=(smp.stat().st_atime_ns, smp.stat().st_mtime_ns + 10**9))
    again = _build([runs], site)
    # 5 hits; 3 when that file is also the source of the task's shared docs (every entry of the task depends on them)
    assert again.sample_cache_hits in (3, 5)
    assert len(list(build.cache_dir_for(site).glob("*.lbcache"))) == 6  # the old entry of that file is gone
    uncached = _build([runs], tmp_path / "fresh", cache=False)
    assert _site_files(site) == _site_files(tmp_path / "fresh") and uncached.systems == 3


def test_a_code_version_change_invalidates_the_cache(tmp_path, monkeypatch):
    from ecomsuite.leaderboard import cache

    runs, _ = _runs(tmp_path)
    site = tmp_path / "site"
    _build([runs], site)
    monkeypatch.setattr(cache, "_VERSION", "another-version")
    assert _build([runs], site).sample_cache_hits == 0


def _entries(site):
    from ecomsuite.leaderboard import build

    return sorted(build.cache_dir_for(site).glob("*.lbcache"))


class _Boom:
    """Unpickling this writes a marker file: proof that a cache entry was unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "unpickled"))


def test_a_planted_pickle_or_corrupt_entry_is_never_loaded_and_the_site_is_the_same(tmp_path, capsys):
    import pickle

    from ecomsuite.leaderboard import cache

    runs, _ = _runs(tmp_path)
    site = tmp_path / "site"
    _build([runs], site)
    marker = tmp_path / "code-ran"
    entries = _entries(site)
    assert len(entries) == 6 and all(e.read_bytes().startswith(cache.MAGIC) for e in entries)  # not pickles
    entries[0].write_bytes(pickle.dumps(_Boom(marker)))  # would run code when unpickled
    entries[1].write_bytes(entries[1].read_bytes()[:200])  # truncated
    entries[2].write_bytes(entries[3].read_bytes())  # another key's entry under this name (foreign)
    entries[4].write_bytes(b"")
    capsys.readouterr()
    again = _build([runs], site)
    assert not marker.exists()
    assert again.sample_cache_hits == 2  # the four bad entries were refused and their files read again
    err = capsys.readouterr().err
    assert "note: 4 entries of the samples cache" in err and "not used" in err
    assert all(e.read_bytes().startswith(cache.MAGIC) for e in _entries(site)) and len(_entries(site)) == 6  # rewritten
    assert _build([runs], site).sample_cache_hits == 6
    fresh = tmp_path / "fresh"
    _build([runs], fresh, cache=False)
    assert _site_files(site) == _site_files(fresh)  # byte-identical with and without the cache


def _job(tmp_path, **kw):
    from ecomsuite.leaderboard.samples import SampleJob

    return SampleJob(system_id="org/m", task="t", metric="m", filter="none", path=str(tmp_path / "s.jsonl"),
                     out_file=None, **kw)


def test_every_kind_of_sample_data_round_trips_through_a_cache_entry(tmp_path):
    import numpy as np
    from ecomsuite.leaderboard import cache
    from ecomsuite.leaderboard.samples import SampleData

    job = _job(tmp_path)
    common = {"system_id": job.system_id, "task": job.task, "metric": job.metric, "path": job.path}
    cases = [
        SampleData(**common, doc_ids=np.asarray(["id:a", "h:\ud800b", "pos:3\x00"], dtype=object),
                   items=np.asarray([0.5, -0.0, 1e300]), numeric=True, parse_fail=np.asarray([np.nan, 1.0, 0.0]),
                   scores=np.asarray([0.5, np.nan, 1.0]), n_docs_in_file=4, warnings=["w </script>"],
                   clusters=["c1", None, "c\u2028"], n_nan=1, key_source="hash"),
        SampleData(**common, doc_ids=np.asarray(["id:1", "id:2"], dtype=object),
                   items=[[["B-x", "O"], ["O", "O"]], {"k": [1, 2.5, None, float("inf"), True]}], numeric=False,
                   parse_fail=None, scores=np.asarray([np.nan, 0.25]), n_docs_in_file=2, key_source="id"),
        SampleData(**common, doc_ids=np.zeros(0, dtype=np.int64), items=np.zeros(0), numeric=True,
                   parse_fail=None, scores=None, n_docs_in_file=0, warnings=["x"], error="no usable items"),
    ]
    for i, data in enumerate(cases):
        view = None if i == 2 else f"view {i} \u00e9".encode()
        assert cache.store(tmp_path, f"k{i}", data, view)
        got, got_view = cache.load(tmp_path, f"k{i}", job)
        assert got_view == view
        for name, want in vars(data).items():
            have = getattr(got, name)
            if isinstance(want, np.ndarray):
                assert have.dtype == want.dtype and have.shape == want.shape, name
                assert want.dtype == object and list(have) == list(want) or np.array_equal(have, want, equal_nan=True)
                if want.dtype.kind == "f":
                    assert np.signbit(have).tolist() == np.signbit(want).tolist()
            elif isinstance(want, float) or name == "items":
                assert json.dumps(have) == json.dumps(want), name
            else:
                assert have == want, name
    assert cache.load(tmp_path, "absent", job) is None
    assert not list(tmp_path.glob(".tmp-*"))


def test_an_entry_that_is_not_a_valid_entry_is_refused_with_its_reason(tmp_path):
    import os

    import numpy as np
    from ecomsuite.leaderboard import cache

    job = _job(tmp_path)

    def raw(index, body=b""):
        head = json.dumps(index).encode()
        return cache.MAGIC + len(head).to_bytes(8, "little") + head + body

    meta = b'{"format":"x","key":"old-format"}'
    bad = {
        "npy": lambda f: np.save(f, np.arange(3)),
        "npz": lambda f: np.savez(f, meta=np.frombuffer(b"{}", dtype=np.uint8)),
        "object-dtype": lambda f: f.write(raw({"meta": ["|O", [1], 0, 8]}, b"\0" * 8)),
        "past-the-end": lambda f: f.write(raw({"meta": ["|u1", [100], 0, 100]}, b"{}")),
        "inconsistent": lambda f: f.write(raw({"meta": ["<f8", [2], 0, 8]}, b"\0" * 16)),
        "truncated": lambda f: f.write(cache.pack({"meta": np.frombuffer(meta, np.uint8)})[:30]),
        "no-meta": lambda f: f.write(cache.pack({"items": np.arange(3.0)})),
        "not-json": lambda f: f.write(cache.pack({"meta": np.frombuffer(b"{nope", dtype=np.uint8)})),
        "old-format": lambda f: f.write(cache.pack({"meta": np.frombuffer(meta, np.uint8)})),
    }
    for k, write in bad.items():
        with open(tmp_path / f"{k}{cache.SUFFIX}", "wb") as fh:
            write(fh)
        with pytest.raises(cache.Unusable, match=k + r"\.lbcache: "):
            cache.load(tmp_path, k, job)
    with pytest.raises(TypeError):
        cache.pack({"meta": np.asarray([{"a": 1}], dtype=object)})  # never written either
    os.mkfifo(tmp_path / f"fifo{cache.SUFFIX}")  # never waited on
    with pytest.raises(cache.Unusable, match="regular file"):
        cache.load(tmp_path, "fifo", job)


# ---------------------------------------------------------------------------------------------
# the cell statistics (prepared metric + bootstrap array) cached with the samples file


def _stats_runs(tmp_path):
    """Three systems on the same 12 documents and one on 10 of them (its pairs take the subset path)."""
    from ecomsuite.leaderboard import synthetic

    runs, _ = _runs(tmp_path)
    synthetic.write_run(runs, synthetic.RunSpec(name="org/short", skill=0.6, tasks=["ecom_queryner", "ecom_esci_gen"],
                                                n_docs=10, seed=7))
    return runs


def test_cell_statistics_come_from_the_cache_and_equal_an_uncached_build(tmp_path):
    runs = _stats_runs(tmp_path)
    site = tmp_path / "site"
    first = _build([runs], site)
    assert first.sample_cache_hits == 0 and first.stats_cache_hits == 0 and first.sample_files == 8
    again = _build([runs], site)
    assert again.sample_cache_hits == 8 and again.stats_cache_hits == 8
    assert first.pair_groups_reused == 0 and again.pair_groups_reused >= 3  # two tasks and the overall score
    fresh = _build([runs], tmp_path / "fresh", cache=False, jobs=2)  # worker processes send the statistics back
    assert fresh.stats_cache_hits == 0 and fresh.pair_groups_reused == 0
    # every number of the statistics stage (boot arrays, CIs, every tested pair), bit for bit
    assert first.stats_digest == again.stats_digest == fresh.stats_digest
    assert _site_files(site) == _site_files(tmp_path / "fresh")


def test_an_incremental_rebuild_reuses_the_pairs_and_equals_an_uncached_build(tmp_path, capsys):
    from ecomsuite.leaderboard import build, cache, synthetic

    runs = _stats_runs(tmp_path)
    site = tmp_path / "site"
    _build([runs], site)
    pairs = sorted(build.cache_dir_for(site).glob(f"*{cache.PAIRS_SUFFIX}"))
    assert len(pairs) >= 3
    pairs[0].write_bytes(pairs[0].read_bytes()[:100])  # truncated: noted, its pairs computed again
    extra = tmp_path / "extra"
    for i, skill in enumerate((0.95, 0.1)):  # new systems at the top and the bottom of the rankings
        synthetic.write_run(extra, synthetic.RunSpec(name=f"org/new{i}", skill=skill,
                                                     tasks=["ecom_queryner", "ecom_esci_gen"], n_docs=12, seed=20 + i))
    capsys.readouterr()
    inc = _build([runs, extra], site)
    assert "pairs entry of the cache" in capsys.readouterr().err
    assert inc.sample_cache_hits == 8 and inc.stats_cache_hits == 8 and inc.pair_groups_reused >= 2
    fresh = _build([runs, extra], tmp_path / "fresh", cache=False)
    assert inc.systems == fresh.systems == 6 and inc.stats_digest == fresh.stats_digest
    assert _site_files(site) == _site_files(tmp_path / "fresh")
    again = _build([runs, extra], site)
    assert again.stats_digest == fresh.stats_digest
    assert len(list(build.cache_dir_for(site).glob(f"*{cache.PAIRS_SUFFIX}"))) == len(pairs)  # replaced, not piled up


@pytest.mark.parametrize("change", ["seed", "iters"])
def test_other_bootstrap_settings_recompute_the_statistics_but_not_the_samples(tmp_path, change):
    runs = _stats_runs(tmp_path)
    site = tmp_path / "site"
    base = _build([runs], site)
    kw = {"seed": 99} if change == "seed" else {"bootstrap_iters": 60}
    other = _build([runs], site, **kw)
    assert other.sample_cache_hits == 8 and other.stats_cache_hits == 0
    assert other.stats_digest != base.stats_digest
    assert other.stats_digest == _build([runs], tmp_path / "fresh", cache=False, **kw).stats_digest
    assert _build([runs], site, **kw).stats_cache_hits == 8  # the rewritten entries hold the new settings


def test_a_task_version_or_code_change_recomputes_the_statistics(tmp_path, monkeypatch):
    from ecomsuite.leaderboard import cache

    runs = _stats_runs(tmp_path)
    site = tmp_path / "site"
    _build([runs], site)
    res = sorted(runs.rglob("results_*.json"))[0]
    data = json.loads(res.read_text())
    data["versions"]["ecom_queryner"] = "9.9"  # the results file, not the samples file, changed
    res.write_text(json.dumps(data))
    changed = _build([runs], site)
    assert changed.sample_cache_hits == 8 and changed.stats_cache_hits == 7
    monkeypatch.setattr(cache, "_VERSION", "another-metric-definition")
    code = _build([runs], site)
    assert code.sample_cache_hits == 0 and code.stats_cache_hits == 0
    assert code.stats_digest == _build([runs], tmp_path / "fresh", cache=False).stats_digest


def test_cell_statistics_of_every_kind_round_trip_through_a_cache_entry(tmp_path):
    import numpy as np
    from ecomsuite.leaderboard import cache, stats
    from ecomsuite.leaderboard.samples import SampleData

    from ecomsuite import bootstrap as bs

    seed = stats.cell_seed(5, "t")
    cases = {  # metric -> items (one per document): mean, sufficient statistics, the library per resample
        "acc": [1.0, 0.0, -0.0, 1.0],
        "span_f1": [[["B-a", "O"], ["B-a", "O"]], [["B-b"], ["O"]], [["O"], ["B-a"]], [["B-a", "I-a"], ["B-a", "O"]]],
        "bleu": [["a b c", ["a b c d"]], ["x y", ["x y"]], ["", ["q"]], ["a", ["b"]]],
        "span_f1_paper": [[["B-a", "O"], ["B-a", "O"]], [["B-b"], ["O"]], [["O"], ["B-a"]], [["B-a"], ["B-a"]]],
    }
    for metric, items in cases.items():
        job = _job(tmp_path, boot=(40, seed), version="2.0")
        job.metric = metric
        numeric = all(isinstance(i, float) for i in items)
        ids = np.asarray([f"id:{i}" for i in range(len(items))], dtype=object)
        data = SampleData(job.system_id, job.task, metric, job.path, ids,
                          np.asarray(items) if numeric else items, numeric, None, None, len(items))
        data.cell = cp = stats.prepare_cell(metric, data.items, ids, None, 40, seed)
        assert cp.prepared is not None and cp.boot is not None
        assert cache.store(tmp_path, metric, data, None, job)
        got = cache.load(tmp_path, metric, job)[0].cell
        assert got.problems == cp.problems and got.docs_fp == cp.docs_fp
        assert got.boot.tobytes() == cp.boot.tobytes() and (got.ci, got.se) == (cp.ci, cp.se) and cp.ci is not None
        p, q = got.prepared, cp.prepared
        assert (p.kind, p.n, p.note, p.finish_id) == (q.kind, q.n, q.note, q.finish_id) and p.value == q.value
        if q.stats is not None:
            # counts come back in the integer type the entry stores them in (as the build holds them), else as floats
            assert p.stats.dtype in (np.dtype(np.float64), *cache._COMPACT)
            assert np.asarray(p.stats, dtype=np.float64).tobytes() == q.stats.tobytes()
            assert (p.stats.dtype != np.float64) == (metric in ("span_f1", "bleu"))  # their counts: integers
        counts = bs.resample_counts(3, 30, 1)  # the subset path (pairs on other documents) gives the same numbers
        assert p.subset([0, 2, 3]).boot(counts).tobytes() == q.subset([0, 2, 3]).boot(counts).tobytes()
        whole = bs.resample_counts(4, 30, 2)
        assert p.boot(whole).tobytes() == q.boot(whole).tobytes()
        # another seed: the samples part is used, the cell is not
        other = _job(tmp_path, boot=(40, stats.cell_seed(6, "t")), version="2.0")
        other.metric = metric
        assert cache.load(tmp_path, metric, other)[0].cell is None
    assert cases["span_f1_paper"] and bs.prepare("span_f1_paper", cases["span_f1_paper"]).kind == "direct"


# ---------------------------------------------------------------------------------------------
# per-sample data: what the viewer can derive is not stored


def test_viewer_records_store_neither_an_unchanged_parsed_value_nor_a_chosen_choice():
    from ecomsuite.leaderboard.samples import view_record

    gen = {"doc_id": 0, "arguments": {"gen_args_0": {"arg_0": "prompt", "arg_1": {}}}, "target": "ref",
           "resps": [["a long output"]], "filtered_resps": ["a long output"]}
    rec = view_record(gen, "rougeL", 0.5)
    assert rec["o"] == "a long output" and "x" not in rec  # the viewer shows "o" as the parsed value
    rec = view_record({**gen, "filtered_resps": ["parsed"]}, "rougeL", 0.5)
    assert (rec["o"], rec["x"]) == ("a long output", "parsed")

    def mc(lls):
        args = {f"gen_args_{k}": {"arg_0": "q", "arg_1": c} for k, c in enumerate([" exact", " substitute", " other"])}
        return {"doc_id": 1, "arguments": args, "target": 1, "resps": [[[str(v), "False"]] for v in lls],
                "filtered_resps": [[v, False] for v in lls]}

    rec = view_record(mc([-2.0, -1.0, -3.0]), "acc", 1.0)
    assert "o" not in rec and "x" not in rec and "k" not in rec  # derived from "ch": the first highest value
    assert rec["ch"] == [[" exact", -2.0], [" substitute", -1.0], [" other", -3.0]] and rec["t"] == "1:  substitute"
    rec = view_record(mc([-1.00004, -1.00001, -3.0]), "acc", 1.0)  # both show as -1.0: the choice is named
    assert rec["ch"][0][1] == rec["ch"][1][1] and rec["k"] == 1


# ---------------------------------------------------------------------------------------------
# incremental publishing: an incremental rebuild is a fresh build, byte for byte, and leaves
# the files it did not change as links to the previous site's


def _inodes(site):
    import os

    return {p.relative_to(site).as_posix(): os.stat(p).st_ino for p in site.rglob("*") if p.is_file()}


@pytest.mark.parametrize("side", ["works", "dies"])
def test_an_incremental_rebuild_with_workers_and_plots_equals_a_fresh_no_cache_build(tmp_path, monkeypatch, side):
    """Worker processes (samples read there; plots are written in-process, they take milliseconds), the
    files likely unchanged loaded from the cache in-process while the new run's are read in a forked
    process (or here, when that process dies), the site published by linking what did not change:
    the site is byte-identical to a fresh full build with --no-cache."""
    from ecomsuite.leaderboard import build, cache, synthetic

    sides = []
    real = build._Side

    def spy(jobs, *a):
        sides.append(len(jobs))
        return real(jobs, *a)

    monkeypatch.setattr(build, "_Side", spy)
    if side == "dies":
        monkeypatch.setattr(build, "_side_main", lambda conn, *a: conn.close())

    tasks = ["ecom_queryner", "ecom_esci_gen", "ecom_esci", "ecom_attr_extract"]
    runs = tmp_path / "runs"
    for i in range(4):  # two adapters with a training size: a score-vs-size plot per task too
        lineage = {"kind": "adapter", "name": f"a{i}", "base_model": "org/base", "method": "lora", "tasks": tasks,
                   "train_size": 1000 * (i + 1)} if i % 2 else None
        synthetic.write_run(runs, synthetic.RunSpec(name=f"org/m{i}", skill=0.2 + 0.2 * i, tasks=tasks, n_docs=12, seed=i,
                                                    lineage=lineage))
    site = tmp_path / "site"
    first = _build([runs], site, jobs=2, plots=True)
    assert first.sample_files == 16 and first.sample_cache_hits == 0 and first.published["linked"] == 0
    assert len(list(site.glob("plots/*.svg"))) > 6  # enough plots for the worker processes
    before = _site_files(site)
    old_inodes = _inodes(site)

    extra = tmp_path / "extra"
    synthetic.write_run(extra, synthetic.RunSpec(name="org/new", skill=0.7, tasks=tasks, n_docs=12, seed=9))
    inc = _build([runs, extra], site, jobs=2, plots=True)
    assert inc.systems == 5 and inc.sample_cache_hits == 16 and inc.stats_cache_hits == 16
    assert sides == [4]  # the new run's four files, beside the 16 cached ones
    fresh = _build([runs, extra], tmp_path / "fresh", cache=False, jobs=2, plots=True)
    assert _site_files(site) == _site_files(tmp_path / "fresh")
    assert inc.stats_digest == fresh.stats_digest
    # only this build's entries are left (two calls load the samples; each would prune the other's)
    assert len(list(build.cache_dir_for(site).glob(f"*{cache.SUFFIX}"))) == inc.sample_files == 20

    after, new_inodes = _site_files(site), _inodes(site)
    same = {f for f in after if before.get(f) == after[f] and f != ".ecomsuite-leaderboard"}
    assert same and any(f.startswith("data/") for f in same)  # the old systems' per-sample data files
    assert {f for f in same if new_inodes[f] == old_inodes[f]} == same  # each of them linked, not written again
    assert inc.published["linked"] == len(same)
    assert all(new_inodes[f] != old_inodes.get(f) for f in after if f not in same)  # the rest are new files
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging or old folder left


def test_publishing_never_links_a_symbolic_link_of_the_previous_site(tmp_path):
    """A file of the previous site replaced by a link to a file outside it (same bytes) is not carried
    into the new site: the new file is the builder's own, and the outside file is left alone."""
    import os

    runs, _ = _runs(tmp_path)
    site = tmp_path / "site"
    _build([runs], site)
    css = site / "static" / "site.css"
    outside = tmp_path / "outside.css"
    outside.write_bytes(css.read_bytes())
    css.unlink()
    os.symlink(outside, css)
    again = _build([runs], site)
    assert not css.is_symlink() and css.read_bytes() == outside.read_bytes()
    assert os.stat(css).st_ino != os.stat(outside).st_ino and outside.is_file()
    assert again.published["linked"] == again.published["files"] - 1  # every other file is unchanged


def test_a_corrupt_list_of_items_in_a_cache_entry_is_refused_before_it_is_read(tmp_path):
    """Corpus-metric items are decoded only when read; a damaged entry is still refused when loaded."""
    import numpy as np
    from ecomsuite.leaderboard import cache
    from ecomsuite.leaderboard.samples import SampleData

    job = _job(tmp_path)
    items = [[["B-x", "O"], ["O", "O"]], [["O"], ["O"]]]
    data = SampleData(job.system_id, job.task, job.metric, job.path, np.asarray(["id:1", "id:2"], dtype=object),
                      items, False, None, None, 2)
    assert cache.store(tmp_path, "k", data, None)
    got = cache.load(tmp_path, "k", job)[0]
    assert "items" not in vars(got) or not isinstance(vars(got)["items"], list)  # not decoded yet
    assert got.items == items and vars(got)["items"] == items
    entry = tmp_path / f"k{cache.SUFFIX}"
    raw = bytearray(entry.read_bytes())
    at = raw.index(b'[["B-x"')
    raw[at + 3] = ord("y")  # "B-y": still JSON, other items
    entry.write_bytes(bytes(raw))
    with pytest.raises(cache.Unusable, match="corrupt"):
        cache.load(tmp_path, "k", job)
