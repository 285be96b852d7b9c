"""`ecomsuite reproduce`: plan, dry run, job export, a whole tiny study end to end (tiny models, a fake
OpenAI-compatible API model), resume after a lost run, and the findings report."""
import json
from pathlib import Path

import pytest
import yaml

from ecomsuite import EcomError
from ecomsuite.reproduce import find_study, load_study, main, plan


def _study(tmp_path, tiny_llama, tiny_bert=None, api_url=None):
    s = {
        "name": "tiny",
        "output_dir": str(tmp_path / "study"),
        "tasks": ["ecom_esci", "ecom_queryner", "ecom_desc_gen"],
        "eval": {"limit": 2, "num_fewshot": [0], "chat_template": [False], "batch_size": 4},
        "base_models": [{"name": "tiny", "path": str(tiny_llama)}],
        "sft": {"method": "lora", "tasks": ["ecom_esci", "ecom_desc_gen"], "train_sizes": [4], "seeds": [0],
                "mixed": True, "params": {"max_steps": 2, "batch_size": 2, "lora_r": 4, "max_length": 256},
                "extra": [{"task": "ecom_esci", "size": 4, "seed": 1}]},
        "merges": [{"name": "within", "method": "task_arithmetic",
                    "inputs": [{"task": "ecom_esci", "size": 4, "seed": 0}, {"task": "ecom_esci", "size": 4, "seed": 1}]}],
    }
    if tiny_bert:
        s["baselines"] = [{"name": "tinybert", "task": "ecom_esci", "model": str(tiny_bert), "train_sizes": [8],
                           "params": {"epochs": 1}}]
    if api_url:
        s["api_models"] = [{"name": "fake-giant", "model_args": f"model=fake,base_url={api_url},num_concurrent=1,"
                            "max_retries=1,tokenized_requests=False"}]
    f = tmp_path / "tiny.yaml"
    f.write_text(yaml.safe_dump(s))
    return f, s


def test_packaged_studies_plan(tmp_path):
    for name in ("smoke", "paper"):
        study = load_study(find_study(name))
        runs = plan(study, resolve_models=False)
        ids = [r.id for r in runs]
        assert len(ids) == len(set(ids))
        for r in runs:   # dependencies come earlier in the plan
            assert all(ids.index(d) < ids.index(r.id) for d in r.deps), r.id
    f, s = _study(tmp_path, "tiny", api_url="http://localhost:1/v1")
    s["eval"]["limit"] = {"ecom_esci": 5, "default": 2}
    api = [r for r in plan(s, resolve_models=False) if r.id.startswith("eval/api/")]
    esci = [r for r in api if "ecom_esci_gen" in r.argv]    # no loglikelihood over chat APIs: the task's twin
    assert len(esci) == 1 and "ecom_esci" not in esci[0].argv
    assert esci[0].argv[esci[0].argv.index("--limit") + 1] == "5"      # with the task's own limit
    paper = plan(load_study(find_study("paper")), resolve_models=False)
    api = [r for r in paper if r.id == "eval/api/mixtral-8x22b"][0]
    assert "ecom_esci_alpaca" in api.argv and "ecom_esci" not in api.argv  # generated labels: no loglikelihood over chat APIs


def test_smoke_study_pairs_a_queryner_adapter_that_learns_the_format_with_zero_shot():
    """`make demo` must show one real, separable effect (issue 14 §3): a QueryNER LoRA adapter at a size that
    learns the output format, scored on the very documents the zero-shot model is scored on (a paired test),
    beside one ESCI adapter, one merge and one baseline; small enough for ~15 min on 2 idle cores."""
    runs = {r.id: r for r in plan(load_study(find_study("smoke")), resolve_models=False)}

    def arg(r, flag):
        return r.argv[r.argv.index(flag) + 1]

    sft = [r for r in runs.values() if r.kind == "sft" and r.tasks == ["ecom_queryner"]]
    assert len(sft) == 1
    params = dict(a.split("=", 1) for a in sft[0].argv if "=" in a and not a.startswith("--"))
    assert int(params["train_size"]) >= 64 and float(params["learning_rate"]) >= 5e-4   # 2-4 steps learn nothing
    zero = [r for r in runs.values() if r.kind == "eval" and "/base/k0" in r.id and "ecom_queryner" in r.argv]
    tuned = runs[f"eval/{sft[0].id[len('sft/'):]}"]
    assert len(zero) == 1 and "ecom_queryner" in tuned.argv
    for flag in ("--limit", "--gen-kwargs"):       # the same documents, the same generation budget: paired
        assert arg(zero[0], flag) == arg(tuned, flag)
    assert int(arg(tuned, "--limit")) >= 40        # enough documents for a CI that can exclude zero
    kinds = [r.kind for r in runs.values()]
    assert kinds.count("merge") >= 1 and kinds.count("baseline") >= 1 and kinds.count("sft") >= 2
    assert len(runs) <= 10                         # each run costs a process start and a model load


def test_study_validation_reports_all_problems(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump({"tasks": [], "merges": [{"name": "m", "inputs": [{}]}], "typo": 1}))
    with pytest.raises(EcomError) as e:
        load_study(f)
    msg = str(e.value)
    assert "unknown key 'typo'" in msg and "base_models" in msg and "tasks" in msg and "at least two inputs" in msg


def test_dry_run_and_export(tmp_path, tiny_llama, capsys):
    f, s = _study(tmp_path, tiny_llama)
    assert main([str(f), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "todo  sft/tiny/sft/ecom_esci/n4/s0" in out and "after: sft/tiny/sft/ecom_esci/n4/s0" in out
    jobs = tmp_path / "jobs.jsonl"
    assert main([str(f), "--export-jobs", str(jobs)]) == 0
    rows = [json.loads(line) for line in jobs.read_text().splitlines()]
    merge = [r for r in rows if r["id"] == "merge/tiny/merge/within"][0]
    assert set(merge["deps"]) == {"sft/tiny/sft/ecom_esci/n4/s0", "sft/tiny/sft/ecom_esci/n4/s1"}
    assert merge["command"].startswith("ecomsuite merge --adapters")


@pytest.mark.slow
def test_tiny_study_end_to_end_resumes_and_reports(tmp_path, tiny_llama, tiny_bert, capsys):
    from ecomsuite.fake_openai import FakeOpenAI

    with FakeOpenAI(lambda m: "exact") as url:
        f, s = _study(tmp_path, tiny_llama, tiny_bert, url)
        assert main([str(f)]) == 0, capsys.readouterr().out
        out = Path(s["output_dir"])
        assert (out / "site" / "index.html").exists()
        first = capsys.readouterr().out
        assert "## 1." in first and "## 4." in first
        # lose one evaluation: only it runs again
        lost = out / "results" / "tiny" / "merge" / "within"
        import shutil
        shutil.rmtree(lost)
        assert main([str(f), "--no-site"]) == 0
        again = capsys.readouterr().out
        assert again.count("running") == 1 and "eval/tiny/merge/within" in again
        assert again.count("done already") >= 8
    assert main([str(f), "--report"]) == 0
    rep = capsys.readouterr().out
    assert "ecom_esci" in rep and "fake (0-shot)" in rep      # systems: lineage, else the results' model
    assert "| system |" in rep and "| within |" in rep


def test_per_task_limits_split_eval_runs(tmp_path, tiny_llama):
    f, s = _study(tmp_path, tiny_llama)
    s["eval"]["limit"] = {"ecom_esci": 40, "default": 3}
    runs = plan(s, resolve_models=False)
    base = [r for r in runs if r.id.startswith("eval/tiny/base/k0")]
    assert sorted(r.id for r in base) == ["eval/tiny/base/k0/ecom_esci", "eval/tiny/base/k0/ecom_queryner+ecom_desc_gen"]
    by_id = {r.id: r for r in base}
    a = by_id["eval/tiny/base/k0/ecom_esci"].argv
    assert a[a.index("--limit") + 1] == "40" and "ecom_queryner" not in a
    b = by_id["eval/tiny/base/k0/ecom_queryner+ecom_desc_gen"].argv
    assert b[b.index("--limit") + 1] == "3"
    assert len({str(r.out) for r in base}) == 1          # one results folder per system
    # an sft adapter evaluated on one task only keeps the plain id
    assert "eval/tiny/sft/ecom_esci/n4/s0" in [r.id for r in runs]
    # done() is per task: a results file holding only esci completes the esci run only
    out = by_id["eval/tiny/base/k0/ecom_esci"].out / "m"
    out.mkdir(parents=True)
    (out / "results_2026.json").write_text(json.dumps({"results": {"ecom_esci": {"acc,none": 0.5}}}))
    assert by_id["eval/tiny/base/k0/ecom_esci"].output_ok()
    assert not by_id["eval/tiny/base/k0/ecom_queryner+ecom_desc_gen"].output_ok()
    for bad in ({"ecom_nope": 3}, {"ecom_esci": -1}, "ten", True):
        s["eval"]["limit"] = bad
        with pytest.raises(EcomError, match="eval.limit"):
            plan(s, resolve_models=False)


def test_forked_run_writes_its_log_and_exit_code(tmp_path):
    from ecomsuite.reproduce import Run, _run_forked

    log = tmp_path / "ok.log"
    assert _run_forked(Run("x", "eval", ["data", "info"], tmp_path), log) == 0
    assert "embedded sample" in log.read_text()      # the child's stdout went to the log
    bad = tmp_path / "bad.log"
    assert _run_forked(Run("y", "eval", ["data", "info", "--data-dir", str(tmp_path / "none")], tmp_path), bad) == 2
    assert "ecomsuite: error:" in bad.read_text() and str(tmp_path / "none") in bad.read_text()


def test_also_eval_adds_cross_task_evaluations(tmp_path, tiny_llama):
    f, s = _study(tmp_path, tiny_llama)
    s["sft"]["extra"][0]["also_eval"] = ["ecom_desc_gen"]
    s["merges"][0]["also_eval"] = "all"
    runs = {r.id: r for r in plan(s, resolve_models=False)}
    tasks_of = lambda rid: [t for t in s["tasks"] if t in runs[rid].argv]  # noqa: E731
    assert tasks_of("eval/tiny/sft/ecom_esci/n4/s1") == ["ecom_esci", "ecom_desc_gen"]
    assert tasks_of("eval/tiny/sft/ecom_esci/n4/s0") == ["ecom_esci"]            # not asked: own task only
    assert tasks_of("eval/tiny/merge/within") == s["tasks"]
    s["merges"][0]["also_eval"] = ["ecom_nope"]
    with pytest.raises(EcomError, match="also_eval.*ecom_nope"):
        plan(s, resolve_models=False)


def test_per_task_gen_kwargs(tmp_path, tiny_llama):
    f, s = _study(tmp_path, tiny_llama)
    s["eval"]["gen_kwargs"] = {"ecom_desc_gen": "max_gen_toks=128"}
    base = [r for r in plan(s, resolve_models=False) if r.id.startswith("eval/tiny/base/k0")]
    by = {tuple(r.tasks): r.argv for r in base}
    assert set(by) == {("ecom_esci", "ecom_queryner"), ("ecom_desc_gen",)}
    assert "--gen-kwargs" not in by[("ecom_esci", "ecom_queryner")]       # the tasks' own settings
    a = by[("ecom_desc_gen",)]
    assert a[a.index("--gen-kwargs") + 1] == "max_gen_toks=128"
    s["eval"]["gen_kwargs"] = {"ecom_desc_gen": 128}
    with pytest.raises(EcomError, match="eval.gen_kwargs: 128 is not a string"):
        plan(s, resolve_models=False)
