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


def test_bench_builds_a_site_from_the_tasks_own_items(tmp_path, monkeypatch):
    monkeypatch.delenv("ECOMSUITE_DATA_DIR", raising=False)
    bench = _bench()
    out = tmp_path / "figures.json"
    assert bench.main(["--runs", "3", "--docs", "20", "--jobs", "1", "--bootstrap-iters", "50", "--no-plots",
                       "--workdir", str(tmp_path / "w"), "--json", str(out)]) == 0
    fig = json.loads(out.read_text())
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

    return build.build_site(build.BuildOptions(results=[str(r) for r in runs], out=str(site), bootstrap_iters=50,
                                               plots=False, generated="t", **kw))


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
