"""The leaderboard on real lm-eval 0.4.13 output: a tiny random Llama evaluated on two ecom tasks
(through ecomsuite.evaluate, i.e. simple_evaluate + EvaluationTracker), then the site built from
those files with the real ecomsuite.metrics.aggregate."""

from __future__ import annotations

import importlib
import importlib.util
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow




@pytest.fixture(scope="module")
def real_runs(tmp_path_factory, tiny_llama) -> Path:
    evaluate = pytest.importorskip("ecomsuite.evaluate")
    out = tmp_path_factory.mktemp("lmeval_runs")
    for chat, tasks in ((False, ["ecom_esci", "ecom_queryner"]), (True, ["ecom_esci"])):
        evaluate.evaluate(model="hf", model_args=f"pretrained={tiny_llama}", tasks=tasks,
                          limit=4, output_path=out, device="cpu", batch_size=4, apply_chat_template=chat)
    return out


def test_site_from_real_lm_eval_files(real_runs, tmp_path):
    build = importlib.import_module("ecomsuite.leaderboard.build")
    stats = importlib.import_module("ecomsuite.leaderboard.stats")
    site = tmp_path / "site"
    summary = build.build_site(build.BuildOptions(results=[str(real_runs)], out=str(site), include_limited=True,
                                                  bootstrap_iters=200, plots=False))
    assert summary.files_seen == 2 and summary.runs == 2 and summary.systems == 2
    report = json.loads((site / "build_report.json").read_text())
    assert report["errors"] == [] and report["warnings"] == [], report
    board = json.loads((site / "leaderboard.json").read_text())
    cols = {c["task"]: c["metric"] for c in board["columns"]}
    assert cols == {"ecom_esci": "macro_f1", "ecom_queryner": "span_f1"}  # from the tasks' metadata.headline
    rows = {r["chat_template"]: r for r in board["rows"]}
    assert set(rows) == {True, False}
    for r in rows.values():
        assert r["ecom_esci:n_docs"] == 4 and r["ecom_esci:ci_low"] != "" and r["ecom_esci:data_source"]
    assert rows[False]["overall"] != "" and rows[True]["overall"] == ""  # the chat run lacks ecom_queryner
    # the viewer data: multiple-choice choices and per-document scores (acc for ESCI, span F1 for NER)
    samples = importlib.import_module("ecomsuite.leaderboard.samples")
    payload = samples.read_data_file(next((site / "data").glob("ecom_esci-*/[!_]*.js")))
    assert payload["score_metric"] == "acc" and len(payload["samples"]) == 4
    assert all("ch" in s and len(s["ch"]) == 4 for s in payload["samples"])
    ner = samples.read_data_file(next((site / "data").glob("ecom_queryner-*/[!_]*.js")))
    assert ner["score_metric"] == "span_f1 of this document"
    chat_page = next(p for p in (site / "systems").glob("*.html") if "(chat" in p.read_text())
    assert "--apply_chat_template" in chat_page.read_text()


def test_corpus_metric_bootstrap_uses_real_aggregate(real_runs):
    collect = importlib.import_module("ecomsuite.leaderboard.collect")
    systems = importlib.import_module("ecomsuite.leaderboard.systems")
    samples = importlib.import_module("ecomsuite.leaderboard.samples")
    stats = importlib.import_module("ecomsuite.leaderboard.stats")
    coll = collect.collect([real_runs])
    asm = systems.assemble(coll.runs)
    data = {}
    for s in asm.systems:
        for t, c in s.cells.items():
            data[(s.id, t)] = samples.read_samples(samples.SampleJob(s.id, t, c.metric, c.filter, c.samples_path, None),
                                                   stats.get_aggregate())
    st = stats.compute(asm, data, iters=100, seed=0, include_limited=True)
    for (sid, task), c in st.cells.items():
        assert c.kind == "sufficient" and c.ci_method == "bootstrap" and len(c.boot) == 100
        assert c.recomputed == pytest.approx(c.value)  # lm-eval's own aggregation agrees with the samples
