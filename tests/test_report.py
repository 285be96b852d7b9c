"""The findings report (ecomsuite.report) over hand-made lm-eval results folders: a view over the leaderboard's
gathered data (one reader, one system identity, one bootstrap: the site's value and CI for each cell), documents
keyed by identity, data + protocol in a score's identity, systems from lineage.json, selection labelled or done
on a validation twin with Holm per section, and bad lines of samples files flagged and named (the reader's rules)."""
import json
from pathlib import Path

import pytest

from ecomsuite import bootstrap
from ecomsuite.report import Comparison, Score, holm, load_scores, report

DATE = "2026-01-01T00-00-00.000000"
LABELS = ["E", "S", "C", "I"]


def esci_docs(n=24, per_query=3):
    return [{"id": f"esci-{i}", "query_id": i // per_query, "query": f"q{i // per_query}", "title": f"t{i}",
             "label": LABELS[i % 4]} for i in range(n)]


def write_run(folder: Path, tasks: dict, model_args="pretrained=tiny-base", model="hf", n_shot=0,
              lineage: dict | None = None, limit=None, date=DATE):
    """tasks: name -> {"docs": [doc], "items": [item per doc], "output_type", "meta": {...}, "metric"}.
    With ``lineage``, it is written to folder/adapter/lineage.json and passed as peft=."""
    folder.mkdir(parents=True, exist_ok=True)
    if lineage is not None:
        ad = folder / "adapter"
        ad.mkdir()
        (ad / "lineage.json").write_text(json.dumps({"complete": True, **lineage}))
        model_args += f",peft={ad}"
    res = {"results": {}, "configs": {}, "n-shot": {}, "n-samples": {}, "higher_is_better": {},
           "config": {"model": model, "model_args": model_args, "limit": limit}}
    for task, spec in tasks.items():
        metric = spec.get("metric", "macro_f1")
        items = spec["items"]
        from ecomsuite.metrics import aggregate

        res["results"][task] = {"alias": task, f"{metric},none": spec.get("claim", aggregate(metric, items)),
                                f"{metric}_stderr,none": "N/A"}
        meta = {"headline": metric, "data_fingerprint": "fp-A", "locale": "us", **spec.get("meta", {})}
        res["configs"][task] = {"task": task, "output_type": spec.get("output_type", "multiple_choice"),
                                "test_split": "test", "metadata": meta}
        res["n-shot"][task] = n_shot
        res["n-samples"][task] = {"original": len(items), "effective": len(items)}
        res["higher_is_better"][task] = {metric: True}
        docs = spec["docs"]
        order = spec.get("order", range(len(docs)))
        lines = [json.dumps({"doc_id": pos, "doc": docs[i], "filter": "none", metric: items[i]})
                 for pos, i in enumerate(order)]
        (folder / f"samples_{task}_{date}.jsonl").write_text("\n".join(lines) + "\n")
    (folder / f"results_{date}.json").write_text(json.dumps(res))
    return folder


def esci_items(docs, correct):
    """[gold, pred]: right on the first ``correct`` documents, 'irrelevant' after."""
    return [[d["label"], d["label"] if i < correct else "I"] for i, d in enumerate(docs)]


def adapter_lineage(task="ecom_esci", size=64, seed=0, name=None, tasks=None):
    return {"kind": "adapter", "name": name or f"lora {task} n{size} s{seed}", "base_model": "tiny-base",
            "tasks": tasks or [task], "train_size": size, "seed": seed,
            "train_docs": {t: size for t in (tasks or [task])}}


# ------------------------------------------------------------------------ 1. one bootstrap
def test_a_cells_value_and_ci_are_the_sites_and_the_paired_difference_the_shared_bootstrap(tmp_path):
    from ecomsuite.leaderboard import build

    docs = esci_docs()
    meta = {"bootstrap_cluster": "query_id"}
    write_run(tmp_path / "results" / "a" / "m", {"ecom_esci": {"docs": docs, "items": esci_items(docs, 20), "meta": meta}},
              lineage=adapter_lineage())
    write_run(tmp_path / "results" / "b" / "m", {"ecom_esci": {"docs": docs, "items": esci_items(docs, 8), "meta": meta}})
    scores = load_scores(tmp_path)
    a = scores[("lora ecom_esci n64 s0", "ecom_esci")]
    b = scores[("tiny-base (0-shot)", "ecom_esci")]
    keys = bootstrap.common_keys(a.items, a.items)
    assert a.clusters == {"id:" + d["id"]: str(d["query_id"]) for d in docs}   # clustered by query (task metadata)
    seed = (1234, "ecom_esci")                                               # the leaderboard's (seed, task)
    assert a.ci == bootstrap.ci("macro_f1", [a.items[k] for k in keys], clusters=[a.clusters[k] for k in keys], seed=seed)
    assert a.ci != bootstrap.ci("macro_f1", [a.items[k] for k in keys], seed=seed)   # the clusters were passed
    c = holm([Comparison(a, b)])[0]
    ref = bootstrap.paired_diff("macro_f1", a.items, b.items, clusters=a.clusters, seed=seed)
    assert c.diff == ref and c.separable
    # the site built from the same folder shows the same value and CI for each cell
    build.build_site(build.BuildOptions(results=[str(tmp_path / "results")], out=str(tmp_path / "site"), plots=False,
                                        generated="fixed", cache=False))
    rows = {r["system"]: r for r in json.loads((tmp_path / "site" / "leaderboard.json").read_text())["rows"]}
    for sc, row in ((a, rows["lora ecom_esci n64 s0"]), (b, rows["tiny-base"])):
        assert (row["ecom_esci:macro_f1"], row["ecom_esci:ci_low"], row["ecom_esci:ci_high"]) == (sc.value, *sc.ci)


# --------------------------------------------------------- 2. identity of documents and data
def test_documents_are_matched_by_identity_not_position(tmp_path):
    docs = esci_docs(12)
    items = esci_items(docs, 6)
    write_run(tmp_path / "results" / "a" / "m", {"ecom_esci": {"docs": docs, "items": items}})
    # the same predictions, logged in reverse order (lm-eval's doc_id is the position)
    write_run(tmp_path / "results" / "b" / "m", {"ecom_esci": {"docs": docs, "items": items,
                                                                "order": list(range(11, -1, -1))}},
              model_args="pretrained=other")
    # documents without an id: a hash of the document's content (the leaderboard's key), whatever the position
    nodocs = [{k: v for k, v in d.items() if k != "id"} for d in docs]
    for name, order in (("c", range(12)), ("d", range(11, -1, -1))):
        write_run(tmp_path / "results" / name / "m", {"ecom_esci_noid": {"docs": nodocs, "items": items, "order": list(order)}},
                  model_args=f"pretrained={name}")
    s = load_scores(tmp_path)
    a, b = s[("tiny-base (0-shot)", "ecom_esci")], s[("other (0-shot)", "ecom_esci")]
    assert set(a.items) == {"id:" + d["id"] for d in docs} and a.items == b.items
    c = holm([Comparison(a, b)])[0]
    assert c.diff[0] == 0 and c.diff[1] == 0 and c.diff[2] == 0 and not c.separable
    hc, hd = s[("c (0-shot)", "ecom_esci_noid")], s[("d (0-shot)", "ecom_esci_noid")]
    assert len(hc.items) == 12 and all(k.startswith("h:") for k in hc.items) and hc.items == hd.items
    assert not hc.flags and not hc.positional and holm([Comparison(hc, hd)])[0].diff[0] == 0


def _tuned_and_prompted(root, docs):
    """An adapter right on 10 of the documents, a zero-shot model on 3 -> the zero-shot samples file."""
    write_run(root / "results" / "ft" / "m", {"ecom_esci": {"docs": docs, "items": esci_items(docs, 10)}},
              lineage=adapter_lineage())
    zs = write_run(root / "results" / "zs" / "m", {"ecom_esci": {"docs": docs, "items": esci_items(docs, 3)}})
    return zs / f"samples_ecom_esci_{DATE}.jsonl"


def test_lines_without_their_document_are_flagged_and_never_compared(tmp_path):
    docs = esci_docs(12)
    f = _tuned_and_prompted(tmp_path, docs)
    rows = [json.loads(ln) for ln in f.read_text().splitlines()]
    f.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "doc"}) + "\n" for r in rows))
    rep = report(tmp_path)
    s = load_scores(tmp_path)
    zs_score = s[("tiny-base (0-shot)", "ecom_esci")]
    assert zs_score.positional and zs_score.flags and zs_score.ci is not None   # the site's CI, flagged
    c = Comparison(s[("lora ecom_esci n64 s0", "ecom_esci")], zs_score)
    assert c.refused == "documents identified by position only (see Problems)"
    assert f"{f}: " in rep and rep.count(str(f)) == 1 and "identified by position only" in rep
    assert "| tiny-base (0-shot) | 0.500\u2021 |" in rep


def test_comparisons_across_different_data_are_refused(tmp_path):
    docs = esci_docs(12)
    write_run(tmp_path / "results" / "ft" / "m", {"ecom_esci": {"docs": docs, "items": esci_items(docs, 11)}},
              lineage=adapter_lineage())
    write_run(tmp_path / "results" / "zs" / "m", {"ecom_esci": {"docs": docs, "items": esci_items(docs, 2),
                                                                 "meta": {"data_fingerprint": "fp-B"}}})
    rep = report(tmp_path)
    line = next(ln for ln in rep.splitlines() if ln.startswith("- ecom_esci") and "fine-tuned" in ln)
    assert "data fp-A" in line and "no prompted system" in line      # each data set is its own group
    s = load_scores(tmp_path)
    c = Comparison(s[("lora ecom_esci n64 s0", "ecom_esci")], s[("tiny-base (0-shot)", "ecom_esci")])
    assert c.refused == "different data (data fp-A, locale us vs data fp-B, locale us)"
    assert "not compared: different data" in holm([c])[0].verdict() and c.diff is None


# --------------------------------------------------------------------- 3. systems from lineage
def test_systems_come_from_lineage_not_folder_names(tmp_path):
    docs = esci_docs(12)
    # folder names that the old regexes would have misread (n999, sft/ecom_esci)
    write_run(tmp_path / "results" / "x" / "sft" / "ecom_esci" / "n999" / "s5" / "m",
              {"ecom_esci": {"docs": docs, "items": esci_items(docs, 5)}}, lineage=adapter_lineage(size=16, seed=1))
    write_run(tmp_path / "results" / "y" / "m", {"ecom_esci": {"docs": docs, "items": esci_items(docs, 9)}},
              lineage=adapter_lineage(size=64, seed=1))
    write_run(tmp_path / "results" / "z" / "m", {"ecom_esci": {"docs": docs, "items": esci_items(docs, 3)}},
              model_args="pretrained=tiny-base", n_shot=0)
    s = load_scores(tmp_path)
    a = s[("lora ecom_esci n16 s1", "ecom_esci")]
    assert a.sys.kind == "adapter" and a.sys.size("ecom_esci") == 16 and a.sys.seed == 1 and a.sys.trained_on("ecom_esci")
    assert s[("tiny-base (0-shot)", "ecom_esci")].sys.zero_shot
    rep = report(tmp_path)
    curve = next(ln for ln in rep.splitlines() if ln.startswith("- ecom_esci") and "n=16" in ln)
    assert "n=999" not in rep and "zero-shot tiny-base (0-shot) 0.500" in curve and "n=64" in curve
    assert "largest vs smallest (lora ecom_esci n64 s1 vs lora ecom_esci n16 s1)" in curve
    assert "[rigid format]" in curve                   # multiple_choice output: a task fact from the results file


def test_rigid_format_is_read_from_the_task_config(tmp_path):
    docs = esci_docs(8)
    gen = {"docs": docs, "items": esci_items(docs, 4), "output_type": "generate_until"}
    write_run(tmp_path / "results" / "a" / "m", {"ecom_free": gen, "ecom_rigid": {**gen, "meta": {"rigid": True}},
                                                "ecom_mc": {"docs": docs, "items": esci_items(docs, 4)}})
    s = load_scores(tmp_path)
    assert [s[("tiny-base (0-shot)", t)].rigid for t in ("ecom_free", "ecom_rigid", "ecom_mc")] == [False, True, True]


# -------------------------------------------------------- 4. selection on test, Holm per section
def _two_adapters_and_a_prompt(root, with_validation):
    docs = esci_docs(24)
    vdocs = [{**d, "id": "val-" + d["id"]} for d in docs]
    for name, seed, test_ok, val_ok in (("a", 0, 22, 10), ("b", 1, 14, 20)):
        tasks = {"ecom_esci": {"docs": docs, "items": esci_items(docs, test_ok)}}
        if with_validation:
            tasks["ecom_esci_val"] = {"docs": vdocs, "items": esci_items(vdocs, val_ok),
                                      "meta": {"validation_for": "ecom_esci"}}
        write_run(root / "results" / name / "m", tasks, lineage=adapter_lineage(seed=seed))
    tasks = {"ecom_esci": {"docs": docs, "items": esci_items(docs, 2)}}
    if with_validation:
        tasks["ecom_esci_val"] = {"docs": vdocs, "items": esci_items(vdocs, 2), "meta": {"validation_for": "ecom_esci"}}
    write_run(root / "results" / "zs" / "m", tasks)


def test_findings_selected_on_test_are_labelled_exploratory(tmp_path):
    _two_adapters_and_a_prompt(tmp_path, with_validation=False)
    rep = report(tmp_path)
    assert "exploratory" in rep.split("\n## 1.")[0]               # the rule is stated at the top
    line = next(ln for ln in rep.splitlines() if "best fine-tuned" in ln)
    assert "best fine-tuned lora ecom_esci n64 s0" in line       # the best on test (22 right)
    assert "(exploratory: selected and tested on the same documents)" in line and "Holm, 1 comparison" in line


def test_a_validation_twin_selects_and_the_finding_is_confirmatory(tmp_path):
    _two_adapters_and_a_prompt(tmp_path, with_validation=True)
    rep = report(tmp_path)
    line = next(ln for ln in rep.splitlines() if "best fine-tuned" in ln)
    assert line.startswith("- ecom_esci [") and "best fine-tuned lora ecom_esci n64 s1" in line   # chosen on validation
    assert "exploratory" not in line
    assert not any(ln.startswith("- ecom_esci_val [") for ln in rep.split("## Scores")[0].splitlines())
    assert "| lora ecom_esci n64 s1 |" in rep                      # the twin still shows in the table


def test_holm_step_down_over_a_sections_p_values():
    sc = Score("x", "t", "acc", 0.5)

    def comp(p):
        c = Comparison(sc, sc)
        c.compute = lambda c=c, p=p: (setattr(c, "diff", (0.1, 0.01, 0.2, 10)), setattr(c, "p", p))
        return c

    assert [c.separable for c in holm([comp(0.01), comp(0.02), comp(0.04)])] == [True, True, True]
    assert [c.separable for c in holm([comp(0.04), comp(0.01), comp(0.03)])] == [False, True, False]
    assert [c.separable for c in holm([comp(0.03)])] == [True]


# ------------------------------------------------------------------ 5. one protocol per comparison
def test_fine_tuned_and_prompted_are_compared_only_within_one_protocol(tmp_path):
    docs = esci_docs(12)
    write_run(tmp_path / "results" / "ft" / "m", {"ecom_esci": {"docs": docs, "items": esci_items(docs, 10)}},
              lineage=adapter_lineage())
    write_run(tmp_path / "results" / "api" / "m", {"ecom_esci_gen": {"docs": docs, "items": esci_items(docs, 11),
                                                                      "output_type": "generate_until"}},
              model="local-chat-completions", model_args="model=giant,base_url=http://x")
    rep = report(tmp_path)
    sec = rep.split("## 1.")[1].split("## 2.")[0]
    mc = next(ln for ln in sec.splitlines() if ln.startswith("- ecom_esci ["))
    gen = next(ln for ln in sec.splitlines() if ln.startswith("- ecom_esci_gen ["))
    assert "multiple_choice" in mc and "no prompted system was scored under this protocol" in mc
    assert "generate_until" in gen and "best prompted giant (0-shot)" in gen and "no fine-tuned" in gen
    assert "diff" not in sec
    s = load_scores(tmp_path)
    c = Comparison(s[("lora ecom_esci n64 s0", "ecom_esci")], s[("giant (0-shot)", "ecom_esci_gen")])
    assert c.refused.startswith("different tasks/protocols")
    assert s[("giant (0-shot)", "ecom_esci_gen")].sys.kind == "api"


# ------------------------------------------------------------------- 6. bad samples files
def test_a_truncated_samples_file_is_flagged_named_once_with_its_line_and_the_rest_is_used(tmp_path):
    from ecomsuite.metrics import aggregate

    docs = esci_docs(12)
    f = _tuned_and_prompted(tmp_path, docs)
    text = f.read_text()
    f.write_text(text[: len(text) // 2])                                   # cut inside a line
    whole = text[: len(text) // 2].count("\n")                              # the lines before it are whole
    rep = report(tmp_path)
    assert f"{f}: 1 malformed line(s) skipped (line {whole + 1}: not JSON" in rep and rep.count(str(f)) == 1
    sc = load_scores(tmp_path)[("tiny-base (0-shot)", "ecom_esci")]
    assert set(sc.items) == {"id:" + d["id"] for d in docs[:whole]} and sc.n == whole and sc.ci is not None
    assert sc.value == pytest.approx(aggregate("macro_f1", esci_items(docs, 3)[:whole])) and sc.flags
    line = next(ln for ln in rep.splitlines() if "best fine-tuned" in ln)
    assert f"tiny-base (0-shot) {sc.value:.3f} [" in line and "[partial: see Problems]" in line
    assert f"on {whole} docs" in line                                      # paired on the documents both have
    assert f"| tiny-base (0-shot) | {sc.value:.3f}\u2021 |" in rep and "`\u2021` = lines of the samples file" in rep


def test_each_kind_of_bad_line_flags_the_cell_and_is_named_with_its_file(tmp_path):
    good = [{"doc_id": i, "doc": {"id": f"d{i}", "query_id": i // 2}, "filter": "none", "acc": float(i % 3 == 0)}
            for i in range(6)]
    d6 = {"doc_id": 6, "doc": {"id": "d6", "query_id": 3}, "filter": "none"}
    cases = {  # name: (lines, what the report says of the file (None: nothing), the lines whose items are used)
        "corrupt": (good[:3] + ["{not json"] + good[3:], "1 malformed line(s) skipped (line 4: not JSON", good),
        "no item": (good + [d6], "1 document(s) without a 'acc' item", good),
        "nan item": (good + [{**d6, "acc": float("nan")}], "1 NaN/infinite 'acc' item(s) left out of the value", good),
        "same line twice": (good + [good[0]], "1 duplicate doc_id line(s) skipped", good),
        "same document twice": (good + [{**good[0], "doc_id": 6}], "1 line(s) repeat a document already seen", good),
        "no cluster": (good + [{**d6, "doc": {"id": "d6"}, "acc": 1.0}], "lack the cluster field 'query_id'",
                       good + [{**d6, "doc": {"id": "d6"}, "acc": 1.0}]),
        "another filter": (good + [{**good[0], "filter": "other", "acc": 0.0}], None, good),  # not this cell's line
        "empty": ([], "no usable per-sample 'acc' items", []),
    }
    for name, (lines, said, used) in cases.items():
        root = tmp_path / name.replace(" ", "_")
        run = write_run(root / "results" / "a" / "m", {"ecom_x": {"docs": [g["doc"] for g in good], "metric": "acc",
                        "items": [g["acc"] for g in good], "meta": {"bootstrap_cluster": "query_id"}}})
        f = run / f"samples_ecom_x_{DATE}.jsonl"
        f.write_text("".join((ln if isinstance(ln, str) else json.dumps(ln)) + "\n" for ln in lines))
        rep, sc = report(root), load_scores(root)[("tiny-base (0-shot)", "ecom_x")]
        assert sc.items == {"id:" + g["doc"]["id"]: g["acc"] for g in used}, name
        assert (str(f) in rep) == (said is not None) and (said is None or (said in rep and rep.count(str(f)) == 1)), name
        mark = "\u2020" if not used else "\u2021" if said else ""              # no items / flagged / clean
        assert f"| tiny-base (0-shot) | {sc.value:.3f}{mark} |" in rep, name
        assert (sc.ci is None) == (not used) and bool(sc.flags) == bool(said and used), name
        if used:
            assert sc.value == pytest.approx(sum(g["acc"] for g in used) / len(used)), name
            assert (sc.clusters is None) == (name == "no cluster"), name   # resampled one by one, and flagged


# --------------------------------------------------------------------------- kept features
def test_report_flags_a_classifier_that_gives_one_answer():
    const = Score("a", "ecom_esci", "macro_f1", 0.2, {i: ["exact" if i else "irrelevant", "exact"] for i in range(5)}, 5)
    mixed = Score("b", "ecom_esci", "macro_f1", 0.4, {0: ["exact", "exact"], 1: ["substitute", "irrelevant"]}, 2)
    assert const.constant_answer() == "exact" and "answers 'exact' for every document" in const.fmt()
    assert mixed.constant_answer() is None and "every document" not in mixed.fmt()
    assert Score("c", "ecom_queryner", "span_f1", 0.0, {0: 1, 1: 1}, 2).constant_answer() is None


def test_table_mixed_vs_single_merges_and_cross_task_checks(tmp_path):
    docs = esci_docs(12)
    ddocs = [{"id": f"desc-{i}", "title": f"t{i}"} for i in range(6)]
    rouge = {"docs": ddocs, "items": [0.1, 0.2, 0.3, 0.2, 0.1, 0.4], "metric": "rougeL", "output_type": "generate_until"}
    write_run(tmp_path / "results" / "single" / "m", {"ecom_esci": {"docs": docs, "items": esci_items(docs, 9)},
                                                     "ecom_desc_gen": rouge},     # also_eval: scored, not trained on
              lineage=adapter_lineage(size=16))
    write_run(tmp_path / "results" / "mixed" / "m", {"ecom_esci": {"docs": docs, "items": esci_items(docs, 7)}},
              lineage=adapter_lineage(size=16, name="lora mixed n16 s0", tasks=["ecom_esci", "ecom_desc_gen"]))
    write_run(tmp_path / "results" / "merge" / "m", {"ecom_esci": {"docs": docs, "items": [[d["label"], "E"] for d in docs]}},
              lineage={"kind": "merge", "name": "within", "tasks": ["ecom_esci"], "base_model": "tiny-base"})
    rep = report(tmp_path)
    assert "| system | ecom_desc_gen (rougeL) | ecom_esci (macro_f1) |" in rep
    assert "| within | - | 0.100* |" in rep and "majority-class collapse" in rep
    sec3 = rep.split("## 3.")[1].split("## 4.")[0]
    assert "mixed lora mixed n16 s0" in sec3 and "vs single lora ecom_esci n16 s0" in sec3 and "Holm, 1 comparison" in sec3
    sec4 = rep.split("## 4.")[1].split("## 5.")[0]
    assert "merge within" in sec4 and "best single adapter lora ecom_esci n16 s0" in sec4 and "exploratory" in sec4
    assert "ecom_desc_gen" not in rep.split("## 2.")[1].split("## 3.")[0]   # not trained on it: no size curve
    assert "ecom_desc_gen" not in sec4


def test_incomplete_lineage_is_left_out_and_no_results_says_so(tmp_path):
    assert "no results under" in report(tmp_path)
    docs = esci_docs(8)
    write_run(tmp_path / "results" / "a" / "m", {"ecom_esci": {"docs": docs, "items": esci_items(docs, 4)}},
              lineage={**adapter_lineage(), "complete": False})
    rep = report(tmp_path)
    assert "lineage says incomplete (left out of the findings): lora ecom_esci n64 s0" in rep
    assert "| lora ecom_esci n64 s0 |" not in rep


# ------------------------------------------------------------------ 5. break-even training size
def test_break_even_size_rule():
    from ecomsuite.report import break_even_size

    assert break_even_size([(100, False), (200, True), (400, True)]) == (200, 200)
    assert break_even_size([(100, False), (200, False)]) == (None, None)
    assert break_even_size([(100, True), (200, False), (400, True)]) == (400, 100)     # non-monotone
    assert break_even_size([(400, True), (100, True)]) == (100, 100)                   # order of the input
    assert break_even_size([(100, False), (200, True), (400, False)]) == (None, 200)


def _curve(root, correct_by_size, prompted_correct=5, n=60, validation=False):
    """A prompted zero-shot system and one single-task adapter per training size, each right on the first k docs."""
    docs = esci_docs(n)
    vdocs = [{**d, "id": "val-" + d["id"]} for d in docs]

    def tasks(k):
        out = {"ecom_esci": {"docs": docs, "items": esci_items(docs, k)}}
        if validation:
            out["ecom_esci_val"] = {"docs": vdocs, "items": esci_items(vdocs, k), "meta": {"validation_for": "ecom_esci"}}
        return out

    for size, k in correct_by_size.items():
        write_run(root / "results" / f"n{size}" / "m", tasks(k), lineage=adapter_lineage(size=size))
    write_run(root / "results" / "zs" / "m", tasks(prompted_correct))


def _section5(rep):
    return rep.split("## 5.")[1].split("\n## ")[0]


def test_break_even_reached_at_the_second_size(tmp_path):
    _curve(tmp_path, {100: 7, 200: 55, 400: 58}, validation=True)
    sec = _section5(report(tmp_path))
    assert "vs best prompted tiny-base (0-shot)" in sec and "exploratory" not in sec
    assert "n=100: lora ecom_esci n100 s0" in sec and "Holm, 3 comparisons" in sec
    line = next(ln for ln in sec.splitlines() if "break-even:" in ln)
    assert "break-even: n=200 (between n=100 (not separable) and n=200; diff +" in line, line


def test_break_even_never_reached(tmp_path):
    _curve(tmp_path, {100: 6, 200: 5, 400: 7})
    sec = _section5(report(tmp_path))
    assert "break-even: not reached up to n=400" in sec
    assert "(exploratory: selected and tested on the same documents)" in sec       # no validation twin


def test_break_even_on_a_non_monotone_curve(tmp_path):
    _curve(tmp_path, {100: 55, 200: 7, 400: 58})
    line = next(ln for ln in _section5(report(tmp_path)).splitlines() if "break-even:" in ln)
    assert "break-even: n=400 (between n=200 (not separable) and n=400" in line
    assert "also separably better at n=100 but not at every size after it" in line


def test_break_even_counts_only_a_difference_in_the_metrics_good_direction(tmp_path):
    _curve(tmp_path, {100: 1, 200: 0}, prompted_correct=58)        # adapters separably WORSE
    assert "break-even: not reached up to n=200" in _section5(report(tmp_path))


def test_break_even_does_not_count_an_adapter_that_answers_one_label_for_every_document(tmp_path):
    docs = esci_docs(60)
    shifted = [[d["label"], LABELS[(LABELS.index(d["label"]) + 1) % 4]] for d in docs]   # prompted: always wrong
    write_run(tmp_path / "results" / "zs" / "m", {"ecom_esci": {"docs": docs, "items": shifted}})
    write_run(tmp_path / "results" / "n100" / "m", {"ecom_esci": {"docs": docs, "items": [[d["label"], "E"]
                                                                                           for d in docs]}},
              lineage=adapter_lineage(size=100))
    write_run(tmp_path / "results" / "n200" / "m", {"ecom_esci": {"docs": docs, "items": esci_items(docs, 55)}},
              lineage=adapter_lineage(size=200))
    sec = _section5(report(tmp_path))
    n100 = next(ln for ln in sec.splitlines() if "n=100:" in ln)
    assert "separable" in n100 and "NOT separable" not in n100, n100       # the collapse IS separably better...
    line = next(ln for ln in sec.splitlines() if "break-even:" in ln)
    assert "break-even: n=200" in line, line                                # ...but is not the break-even
    assert "n=100 is separably better but answers 'E' for every document (not counted)" in line


# ------------------------------------------------------------------------------- 6. cost lines
def test_cost_lines_from_the_cost_record_the_study_price_and_training_cost(tmp_path):
    from ecomsuite import cost

    docs = esci_docs(24)
    lin = {**adapter_lineage(), "train_cost": {"trained_tokens": 123456, "train_time_s": 42.0, "device": "cpu",
                                               "world_size": 1, "peak_memory_bytes": 2**30,
                                               "peak_memory_source": "ru_maxrss (...)"}}
    ad = write_run(tmp_path / "results" / "smol" / "sft" / "m", {"ecom_esci": {"docs": docs, "items": esci_items(docs, 20)}},
                   lineage=lin)
    api = write_run(tmp_path / "results" / "api" / "big" / "m", {"ecom_esci": {"docs": docs, "items": esci_items(docs, 9)}},
                    model="local-chat-completions", model_args="model=big")
    rec = {"device": "cpu", "dtype": "torch.float32", "batch_size": 8, "tasks": {"ecom_esci": {
        "documents": 4, "prompt_tokens": 400, "generated_tokens": 20, "model_seconds": 2.0, "tokens_source": "api usage"}}}
    cost.write(api / f"results_{DATE}.json", rec)
    study = {"api_models": [{"name": "big", "model_args": "model=big", "price_per_mtok": {"in": 2.0, "out": 10.0}}]}
    sec = report(tmp_path, study).split("## 6.")[1].split("\n## ")[0]
    api_line = next(ln for ln in sec.splitlines() if ln.strip().startswith("- big"))
    # per 1,000 docs: 100,000 prompt + 5,000 generated tokens, 500 s; USD = (1e5*2 + 5e3*10)/1e6 = 0.25
    assert "100,000 prompt + 5,000 generated tokens (api usage), 500.0 s, $0.25" in api_line
    assert "(price: study)" in api_line
    ad_line = next(ln for ln in sec.splitlines() if "lora ecom_esci" in ln)
    assert "no cost record" in ad_line
    assert "training: 123,456 tokens, 42.0 s on cpu x1, peak memory 1.00 GiB (ru_maxrss)" in ad_line
    assert ad.is_dir()
