"""Leaderboard ranking integrity (issue 11 §3-4), each on a hand-made case with a known answer,
built through the real entry point (``build_site``): data identity, claimed-vs-sampled values,
the ranked suite, NaN items, one CI per cell shared with ``ecomsuite.bootstrap``."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pytest

build = importlib.import_module("ecomsuite.leaderboard.build")
context = importlib.import_module("ecomsuite.leaderboard.context")
bs = importlib.import_module("ecomsuite.bootstrap")

DATE = "2025-01-01T00-00-00.000001"
ITERS = 2000


def _reject(c: str):
    raise ValueError(f"non-standard JSON constant {c}")


def write_run(root: Path, name: str, tasks: dict[str, dict], group: list[str] | None = None) -> Path:
    """One lm-eval output folder. ``tasks[t]``: ``items`` (per-document acc values; None = NaN),
    ``docs`` (document ids), optional ``claimed`` (the results file's value), ``meta`` (metadata)."""
    folder = root / name.replace("/", "__")
    folder.mkdir(parents=True)
    results, configs = {}, {}
    for t, spec in tasks.items():
        items, docs = spec["items"], spec["docs"]
        with open(folder / f"samples_{t}_{DATE}.jsonl", "w", encoding="utf-8") as fh:
            for i, (d, v) in enumerate(zip(docs, items)):
                # NaN is what Python's json writes for float("nan") (lm-eval logs it like that)
                fh.write(json.dumps({"doc_id": i, "doc": {"id": d, "q": f"q{d}"}, "target": "E",
                                     "arguments": {"gen_args_0": {"arg_0": f"prompt {d}", "arg_1": {}}},
                                     "resps": [["E"]], "filtered_resps": ["E"], "filter": "none",
                                     "acc": float("nan") if v is None else float(v)}) + "\n")
        finite = [v for v in items if v is not None]
        results[t] = {"alias": t, "acc,none": spec.get("claimed", sum(finite) / len(finite)), "acc_stderr,none": "N/A"}
        configs[t] = {"task": t, "num_fewshot": 0, "output_type": "generate_until",
                      "metadata": {"version": 1.0, "headline": "acc", **spec.get("meta", {})}}
    data = {"results": results, "configs": configs, "group_subtasks": {"ecom": group if group is not None else list(tasks)},
            "versions": dict.fromkeys(tasks, 1.0), "n-shot": dict.fromkeys(tasks, 0),
            "higher_is_better": {t: {"acc": True} for t in tasks},
            "n-samples": {t: {"original": len(s["items"]), "effective": len(s["items"])} for t, s in tasks.items()},
            "config": {"model": "hf", "model_args": f"pretrained={name}", "limit": None},
            "model_name": name, "date": 1735689600.0}
    (folder / f"results_{DATE}.json").write_text(json.dumps(data), encoding="utf-8")
    return folder


def site(root: Path, out: Path, **kw) -> dict:
    build.build_site(build.BuildOptions(results=[str(root)], out=str(out), plots=False, generated="fixed",
                                        bootstrap_iters=ITERS, **kw))
    return json.loads((out / "leaderboard.json").read_text(encoding="utf-8"), parse_constant=_reject)


def rows_by_name(lb: dict) -> dict[str, dict]:
    return {r["system"]: r for r in lb["rows"]}


def task_page(out: Path, task: str) -> str:
    return (out / f"tasks/{context.task_slug(task)}.html").read_text(encoding="utf-8")


def ones(n: int, k: int) -> list[int]:
    """n items, the first k of them 1 (a known accuracy k/n)."""
    return [1] * k + [0] * (n - k)


# ------------------------------------------------------------------------------ (a) data identity
def test_runs_on_different_data_are_never_compared(tmp_path):
    root = tmp_path / "runs"
    # 0.62 on an embedded 50-document sample vs 0.60 on a 1,000-document real set (other fingerprint)
    write_run(root, "org/sample-run", {"ecom_esci": {"items": ones(50, 31), "docs": [f"d{i}" for i in range(50)],
                                                     "meta": {"data_fingerprint": "sample50", "locale": "us"}}})
    write_run(root, "org/real-run", {"ecom_esci": {"items": ones(1000, 600), "docs": [f"d{i}" for i in range(1000)],
                                                   "meta": {"data_fingerprint": "real1000", "locale": "us"}}})
    out = tmp_path / "site"
    lb = site(root, out)
    rows = rows_by_name(lb)
    assert rows["org/sample-run"]["ecom_esci:acc"] == pytest.approx(0.62)
    assert rows["org/real-run"]["ecom_esci:acc"] == pytest.approx(0.60)
    # never one ranking: the real set (more documents) is the reference, the sample run is not ranked
    assert rows["org/real-run"]["rank"] == "1" and rows["org/sample-run"]["rank"] == ""
    html = task_page(out, "ecom_esci")
    assert "not ranked: scored on other data (data sample50, locale us; ranked: data real1000, locale us)" in html
    assert "separable" not in html.lower().replace("not separable", "")  # no pair was declared separable


def test_compare_refuses_pairs_across_data():
    stats = importlib.import_module("ecomsuite.leaderboard.stats")
    a = stats.CellStats("a", "t", "acc", 0.62, None, None, None, data_id=("sample50", "us"))
    b = stats.CellStats("b", "t", "acc", 0.60, None, None, None, data_id=("real1000", "us"))
    s = stats.compare(a, b)
    assert s.method == "different data" and s.separable is None and s.p is None


# ---------------------------------------------------------------------------- (b) claimed vs sampled
def test_claimed_value_disagreeing_with_samples_is_shown_and_ranked_as_sampled(tmp_path):
    root = tmp_path / "runs"
    docs = [f"d{i}" for i in range(100)]
    write_run(root, "org/liar", {"ecom_esci": {"items": ones(100, 10), "docs": docs, "claimed": 0.90}})
    write_run(root, "org/honest", {"ecom_esci": {"items": ones(100, 50), "docs": docs}})
    out = tmp_path / "site"
    lb = site(root, out)
    rows = rows_by_name(lb)
    liar = rows["org/liar"]
    assert liar["ecom_esci:acc"] == pytest.approx(0.10) and liar["overall"] == pytest.approx(0.10)
    assert liar["ecom_esci:ci_low"] <= 0.10 <= liar["ecom_esci:ci_high"]  # the CI contains the shown value
    assert liar["ecom_esci:mismatch"] is True and liar["ecom_esci:claimed"] == pytest.approx(0.90)
    assert rows["org/honest"]["ecom_esci:mismatch"] is False
    assert [r["system"] for r in lb["rows"]][:2] == ["org/honest", "org/liar"]  # ranked by 0.10, not 0.90
    assert rows["org/honest"]["rank"] == "1" and rows["org/liar"]["rank"] == "2"
    assert "the results file claims 0.900, its samples give 0.100" in task_page(out, "ecom_esci")
    report = json.loads((out / "build_report.json").read_text(encoding="utf-8"))
    assert "per-sample acc gives 0.1 but the results file reports 0.9" in json.dumps(report)


# ---------------------------------------------------------------------------- (c) ranked suite
def test_an_extra_task_run_leaves_the_others_ranked(tmp_path):
    root = tmp_path / "runs"
    suite = ["ecom_esci", "ecom_queryner"]
    docs = [f"d{i}" for i in range(200)]
    for name, k in (("org/a", 180), ("org/b", 120), ("org/c", 60)):
        write_run(root, name, {t: {"items": ones(200, k), "docs": docs} for t in suite})
    weak = {t: {"items": ones(200, 20), "docs": docs} for t in suite}
    weak["extra_task"] = {"items": ones(200, 100), "docs": docs}
    write_run(root, "org/weak", weak, group=suite)  # the extra task is not in the ecom group
    out = tmp_path / "site"
    lb = site(root, out)
    assert lb["overall"]["tasks"] == suite
    rows = rows_by_name(lb)
    assert [r["system"] for r in lb["rows"]] == ["org/a", "org/b", "org/c", "org/weak"]
    assert [rows[n]["rank"] for n in ("org/a", "org/b", "org/c", "org/weak")] == ["1", "2", "3", "4"]
    cols = {c["task"]: c for c in lb["columns"]}
    assert "extra_task" in cols and cols["extra_task"]["in_overall"] is False  # shown as a column
    assert rows["org/weak"]["extra_task:acc"] == pytest.approx(0.5) and rows["org/a"]["extra_task:acc"] == ""
    assert rows["org/weak"]["overall"] == pytest.approx(0.1)  # the extra task does not touch the overall


# ---------------------------------------------------------------------------- (d) NaN items
def test_a_nan_item_is_dropped_and_counted_and_the_json_stays_valid(tmp_path):
    root = tmp_path / "runs"
    docs = [f"d{i}" for i in range(100)]
    items = ones(100, 70)
    items[5] = None  # one NaN among 100 (a one: 69 of the 99 finite items are 1)
    write_run(root, "org/nan", {"ecom_esci": {"items": items, "docs": docs, "claimed": 69 / 99}})
    write_run(root, "org/ok", {"ecom_esci": {"items": ones(100, 30), "docs": docs}})
    out = tmp_path / "site"
    lb = site(root, out)  # parses with parse_constant=_reject: no NaN / Infinity anywhere
    r = rows_by_name(lb)["org/nan"]
    assert r["ecom_esci:acc"] == pytest.approx(69 / 99) and r["ecom_esci:n_docs"] == 99
    assert isinstance(r["ecom_esci:ci_low"], float) and r["ecom_esci:ci_low"] < 69 / 99 < r["ecom_esci:ci_high"]
    assert r["ecom_esci:mismatch"] is False and r["rank"] == "1"
    report = json.dumps(json.loads((out / "build_report.json").read_text(encoding="utf-8"), parse_constant=_reject))
    assert "1 NaN/infinite 'acc' item(s) left out of the value and its CI" in report
    assert "1 NaN item(s) left out" in task_page(out, "ecom_esci")


# ---------------------------------------------------------------------------- (e) one CI per cell
def test_site_ci_equals_the_bootstrap_module_with_the_site_seed(tmp_path):
    root = tmp_path / "runs"
    rng = np.random.default_rng(5)
    docs = [f"doc-{i:03d}" for i in range(120)]
    items = (rng.random(120) < 0.6).astype(int).tolist()
    write_run(root, "org/x", {"ecom_esci": {"items": items, "docs": docs}})
    write_run(root, "org/y", {"ecom_esci": {"items": ones(120, 40), "docs": docs}})
    lb = site(root, tmp_path / "site", seed=77)
    r = rows_by_name(lb)["org/x"]
    # the site orders documents by identity key ("id:<id>") and seeds the task's resamples with (seed, task)
    keys = sorted(f"id:{d}" for d in docs)
    by_key = {f"id:{d}": v for d, v in zip(docs, items)}
    lo, hi = bs.ci("acc", [by_key[k] for k in keys], seed=(77, "ecom_esci"), n_boot=ITERS)
    assert (r["ecom_esci:ci_low"], r["ecom_esci:ci_high"]) == (lo, hi)


def test_rank_intervals_a_b_c_from_the_builder(tmp_path):
    """A ~ B, B ~ C, A > C: A "1-2", B "1-3", C "2-3" (Holm over all pairs)."""
    root = tmp_path / "runs"
    # per-document (A, B, C) outcomes: A > C on 20 documents and never worse (z ~ 4.5); A - B and
    # B - C are +10 documents each over 40 discordant ones (z ~ 1.6, not significant after Holm)
    pattern = [(1, 1, 0)] * 10 + [(1, 0, 0)] * 10 + [(1, 0, 1)] * 15 + [(0, 1, 0)] * 15 + [(1, 1, 1)] * 100 + [(0, 0, 0)] * 250
    docs = [f"d{i}" for i in range(len(pattern))]
    a, b, c = (np.asarray([p[k] for p in pattern]) for k in range(3))
    assert (a.mean(), b.mean(), c.mean()) == (135 / 400, 125 / 400, 115 / 400)
    for name, it in (("org/A", a), ("org/B", b), ("org/C", c)):
        write_run(root, name, {"ecom_esci": {"items": it.tolist(), "docs": docs}})
    lb = site(root, tmp_path / "site")
    rows = rows_by_name(lb)
    assert [rows[x]["rank"] for x in ("org/A", "org/B", "org/C")] == ["1\u20132", "1\u20133", "2\u20133"]
