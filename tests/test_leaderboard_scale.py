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
