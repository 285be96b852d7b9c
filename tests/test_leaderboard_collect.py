"""Leaderboard stage 1-2: reading lm-eval result files tolerantly, lineage, grouping into systems."""

from __future__ import annotations

import importlib
import importlib.util
import json
from pathlib import Path

import pytest




collect = importlib.import_module("ecomsuite.leaderboard.collect")
systems = importlib.import_module("ecomsuite.leaderboard.systems")
synthetic = importlib.import_module("ecomsuite.leaderboard.synthetic")


def minimal_results(**over) -> dict:
    """A results dict shaped like lm-eval 0.4.13 writes it (two tasks + a group)."""
    d = {
        "results": {
            "ecom": {"alias": "ecom", "acc,none": 0.5, "acc_stderr,none": 0.01},
            "ecom_esci": {"alias": " - ecom_esci", "name": "ecom_esci", "sample_len": 10,
                          "acc,none": 0.6, "acc_stderr,none": 0.05, "macro_f1,none": 0.55, "macro_f1_stderr,none": "N/A"},
            "arc_easy": {"alias": "arc_easy", "acc,none": 0.7, "acc_stderr,none": 0.02, "acc_norm,none": 0.65,
                         "acc_norm_stderr,none": 0.02},
        },
        "groups": {"ecom": {"alias": "ecom", "acc,none": 0.5}},
        "group_subtasks": {"ecom": ["ecom_esci"]},
        "configs": {
            "ecom_esci": {"task": "ecom_esci", "output_type": "multiple_choice", "num_fewshot": 0,
                          "metadata": {"version": 1.0, "headline": "macro_f1", "data_source": "embedded sample", "n_docs": 10}},
            "arc_easy": {"task": "arc_easy", "output_type": "multiple_choice", "metadata": {"version": 1.0}},
        },
        "versions": {"ecom_esci": 1.0, "arc_easy": "2", "ecom": 3},
        "n-shot": {"ecom_esci": 0, "arc_easy": "0"},
        "higher_is_better": {"ecom_esci": {"acc": True, "macro_f1": True}, "arc_easy": {"acc": True, "acc_norm": True}},
        "n-samples": {"ecom_esci": {"original": 10, "effective": 10}, "arc_easy": {"original": 2376, "effective": 2376}},
        "config": {"model": "hf", "model_args": "pretrained=org/model,dtype=bfloat16", "batch_size": 8, "limit": None},
        "model_name": "org/model",
        "date": 1700000000.0,
        "total_evaluation_time_seconds": "12.5",
    }
    d.update(over)
    return d


def write(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# reading one file


def test_reads_lm_eval_results_and_skips_group_rows(tmp_path):
    p = write(tmp_path / "org__model" / "results_2025-01-01T00-00-00.123456.json", minimal_results())
    probs = []
    run = collect.read_run(p, [tmp_path], probs)
    assert set(run.tasks) == {"ecom_esci", "arc_easy"}  # the "ecom" group row is not a task
    t = run.tasks["ecom_esci"]
    assert t.values[("macro_f1", "none")] == 0.55
    assert ("macro_f1", "none") not in t.stderrs  # "N/A" stderr is dropped, not an error
    assert t.stderrs[("acc", "none")] == 0.05
    assert t.metadata["headline"] == "macro_f1"
    assert t.n_effective == 10 and t.n_original == 10
    assert run.tasks["arc_easy"].version == "2" and run.tasks["arc_easy"].n_shot == 0
    assert run.model_args == {"pretrained": "org/model", "dtype": "bfloat16"}
    assert run.eval_seconds == 12.5
    assert run.top_level_tasks == ["ecom", "arc_easy"]
    assert not run.limited
    assert probs == []


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("pretrained=a/b,peft=/x/y", {"pretrained": "a/b", "peft": "/x/y"}),
        ({"pretrained": "a/b", "dtype": "float16"}, {"pretrained": "a/b", "dtype": "float16"}),
        ('{"pretrained": "a/b", "chat_template_args": {"x": 1}}', {"pretrained": "a/b", "chat_template_args": '{"x": 1}'}),
        (None, {}),
        ("", {}),
    ],
)
def test_model_args_variants(raw, expected):
    assert collect.parse_model_args(raw)[0] == expected


def test_dict_model_args_with_commas_reproduce_as_json():
    d, raw = collect.parse_model_args({"pretrained": "a", "stop": "x,y"})
    assert json.loads(raw) == {"pretrained": "a", "stop": "x,y"}


@pytest.mark.parametrize(
    "content, reason",
    [
        ('{"results": {"ecom_esci": {"acc,none": 0.5', "corrupt or truncated JSON"),
        ("", "empty file"),
        ('["a", "list"]', "top level is a list"),
        ('{"config": {}}', "no 'results' object"),
        ('{"results": {}}', "'results' is empty"),
        ('{"results": {"t": {"acc,none": "N/A"}}}', "no task with a numeric metric"),
        ('{"results": {"t": [1, 2]}}', "no task with a numeric metric"),
    ],
)
def test_unusable_files_are_reported_with_a_reason(tmp_path, content, reason):
    good = write(tmp_path / "good" / "results_2025-01-01T00-00-00.json", minimal_results())
    bad = write(tmp_path / "bad" / "results_2025-01-02T00-00-00.json", content)
    coll = collect.collect([tmp_path])
    assert coll.files_seen == 2
    assert [r.path for r in coll.runs] == [str(good)]  # the valid file is never dropped
    errs = [p for p in coll.problems if p.severity == "error"]
    assert len(errs) == 1 and errs[0].path == str(bad) and reason in errs[0].reason


def test_non_utf8_file_is_reported(tmp_path):
    p = tmp_path / "results_x.json"
    p.write_bytes(b'{"results": "\xff\xfe"}')
    coll = collect.collect([tmp_path])
    assert coll.runs == [] and "UTF-8" in coll.problems[0].reason


def test_partial_task_entries_become_warnings(tmp_path):
    d = minimal_results()
    d["results"]["broken_task"] = "oops"
    d["results"]["ecom_esci"]["weird,none"] = {"nested": 1}
    write(tmp_path / "results_2025-01-01T00-00-00.json", d)
    coll = collect.collect([tmp_path])
    assert len(coll.runs) == 1 and "broken_task" not in coll.runs[0].tasks
    reasons = " | ".join(p.reason for p in coll.problems)
    assert "'broken_task': entry is not an object" in reasons
    assert "'weird,none' is not a number" in reasons


def test_missing_config_is_tolerated(tmp_path):
    d = minimal_results()
    del d["config"], d["model_name"]
    p = write(tmp_path / "some_model" / "results_2025-01-01T00-00-00.json", d)
    probs = []
    run = collect.read_run(p, [tmp_path], probs)
    assert run.model_name == "some_model"
    assert any("no 'config'" in x.reason for x in probs)


def test_old_style_group_subtasks_with_empty_lists(tmp_path):
    d = minimal_results()
    d.pop("groups")
    d["group_subtasks"] = {"ecom": ["ecom_esci"], "ecom_esci": [], "arc_easy": []}
    run = collect.read_run(write(tmp_path / "results_a.json", d), [tmp_path], [])
    assert set(run.tasks) == {"ecom_esci", "arc_easy"}


def test_discovery_patterns(tmp_path):
    write(tmp_path / "m" / "results_2025-01-01T00-00-00.1.json", minimal_results())
    write(tmp_path / "m" / "myout_2025-01-01T00-00-00.2.json", minimal_results())  # --output_path myout.json
    write(tmp_path / "m" / "lineage.json", {"kind": "base"})
    write(tmp_path / "m" / "config.json", {"results": {}})
    write(tmp_path / ".git" / "results_x.json", minimal_results())
    names = sorted(p.name for p in collect.find_result_files([tmp_path]))
    assert names == ["myout_2025-01-01T00-00-00.2.json", "results_2025-01-01T00-00-00.1.json"]


def test_samples_file_found_by_date_id(tmp_path):
    folder = tmp_path / "m"
    res = write(folder / "results_2025-01-01T00-00-00.5.json", minimal_results())
    write(folder / "samples_ecom_esci_2025-01-01T00-00-00.5.jsonl", "{}\n")
    write(folder / "samples_ecom_esci_2024-01-01T00-00-00.5.jsonl", "{}\n")  # another run's
    run = collect.read_run(res, [tmp_path], [])
    assert run.tasks["ecom_esci"].samples_path == str(folder / "samples_ecom_esci_2025-01-01T00-00-00.5.jsonl")
    assert run.tasks["arc_easy"].samples_path is None


def test_samples_path_is_the_pathlib_text_and_only_a_regular_file_is_taken(tmp_path, monkeypatch):
    folder = tmp_path / "m"
    write(folder / "results_2025-01-01T00-00-00.5.json", minimal_results())
    write(folder / "samples_ecom_esci_2025-01-01T00-00-00.5.jsonl", "{}\n")
    (folder / "samples_arc_easy_2025-01-01T00-00-00.5.jsonl").mkdir()  # there, but not a regular file
    monkeypatch.chdir(folder)
    for res in (Path("results_2025-01-01T00-00-00.5.json"), folder / "results_2025-01-01T00-00-00.5.json"):
        probs = []
        run = collect.read_run(res, [tmp_path], probs)
        assert run.tasks["ecom_esci"].samples_path == str(res.parent / "samples_ecom_esci_2025-01-01T00-00-00.5.jsonl")
        assert run.tasks["arc_easy"].samples_path is None
        assert any("samples_arc_easy_2025-01-01T00-00-00.5.jsonl is not a regular file" in p.reason for p in probs)
    assert collect.read_run(Path("results_2025-01-01T00-00-00.5.json"), [tmp_path], []).tasks["ecom_esci"].samples_path \
        == "samples_ecom_esci_2025-01-01T00-00-00.5.jsonl"  # a bare name, as str(Path(".") / name) is


def test_a_results_file_reached_twice_is_read_once(tmp_path):
    write(tmp_path / "real" / "m" / "results_2025-01-01T00-00-00.5.json", minimal_results())
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "results_2025-01-01T00-00-00.5.json").symlink_to(
        tmp_path / "real" / "m" / "results_2025-01-01T00-00-00.5.json")
    coll = collect.collect([tmp_path / "real", tmp_path / "other"])
    assert coll.files_seen == 1 and [r.path for r in coll.runs] == [str(tmp_path / "real" / "m" / "results_2025-01-01T00-00-00.5.json")]


def test_samples_without_date_in_results_name(tmp_path):
    folder = tmp_path / "m"
    res = write(folder / "results.json", minimal_results())
    write(folder / "samples_ecom_esci_2025-01-01T00-00-00.5.jsonl", "{}\n")
    write(folder / "samples_arc_easy_2025-01-01T00-00-00.5.jsonl", "{}\n")
    write(folder / "samples_arc_easy_2025-02-01T00-00-00.5.jsonl", "{}\n")
    probs = []
    run = collect.read_run(res, [tmp_path], probs)
    assert run.tasks["ecom_esci"].samples_path.endswith("samples_ecom_esci_2025-01-01T00-00-00.5.jsonl")
    assert run.tasks["arc_easy"].samples_path is None
    assert any("2 samples files for task 'arc_easy'" in p.reason for p in probs)


# ---------------------------------------------------------------------------------------------
# lineage


def test_lineage_beside_results_then_peft_then_pretrained(tmp_path):
    adapter = tmp_path / "adapters" / "a1"
    base = tmp_path / "models" / "base"
    write(adapter / "lineage.json", {"kind": "adapter", "name": "a1", "train_size": "1000", "custom": [1, 2]})
    write(base / "lineage.json", {"kind": "base", "name": "base"})
    d = minimal_results()
    d["config"]["model_args"] = f"pretrained={base},peft={adapter}"
    run = collect.read_run(write(tmp_path / "r1" / "results_a.json", d), [tmp_path], [])
    assert run.lineage.name == "a1" and run.lineage.train_size == 1000
    assert run.lineage.extra == {"custom": [1, 2]}  # unknown fields kept as-is
    d["config"]["model_args"] = f"pretrained={base}"
    run = collect.read_run(write(tmp_path / "r2" / "results_a.json", d), [tmp_path], [])
    assert run.lineage.name == "base"
    write(tmp_path / "r2" / "lineage.json", {"kind": "baseline", "name": "beside"})
    run = collect.read_run(tmp_path / "r2" / "results_a.json", [tmp_path], [])
    assert run.lineage.name == "beside"


def test_lineage_relative_peft_path_resolved_against_results_root(tmp_path, monkeypatch):
    write(tmp_path / "runs" / "adapters" / "x" / "lineage.json", {"kind": "adapter", "name": "x"})
    d = minimal_results()
    d["config"]["model_args"] = "pretrained=org/m,peft=adapters/x"
    write(tmp_path / "runs" / "m" / "results_a.json", d)
    monkeypatch.chdir(tmp_path)  # the relative path does not exist from here
    coll = collect.collect([tmp_path / "runs"])
    assert coll.runs[0].lineage.name == "x"


def test_relative_peft_path_of_a_study_resolves_against_a_named_model_root_only(tmp_path, monkeypatch):
    """A study writes peft=runs/s/adapters/... relative to the folder it ran from: the builder finds the lineage
    (and a merge's inputs) only when that folder is named as a model root, never through its own working
    directory; without it, the run is kept and a warning says what to pass."""
    study = tmp_path / "study"
    sft = study / "runs" / "s" / "adapters" / "sft" / "a"
    write(sft / "lineage.json", {"kind": "adapter", "name": "a", "tasks": ["ecom_esci"], "train_size": 16})
    merge = study / "runs" / "s" / "adapters" / "merge" / "m"
    write(merge / "lineage.json", {"kind": "merge", "name": "m", "method": "ties",   # as trainers/merge writes it
                                   "inputs": [{"kind": "adapter", "name": "a", "path": str(sft)}]})
    for name, folder in (("a", "runs/s/adapters/sft/a"), ("m", "runs/s/adapters/merge/m")):
        d = minimal_results()
        d["config"]["model_args"] = f"pretrained=org/base,peft={folder}"
        write(study / "runs" / "s" / "results" / name / "results_a.json", d)
    monkeypatch.chdir(study)  # the builder's working directory holds the adapters: still not searched
    coll = collect.collect([study / "runs" / "s" / "results"])
    assert all(r.lineage is None for r in coll.runs)
    assert sum("--model-root" in p.reason for p in coll.problems) == 2
    monkeypatch.chdir(tmp_path)
    coll = collect.collect([study / "runs" / "s" / "results"], model_roots=[study])
    by = {r.lineage.name: r.lineage for r in coll.runs}
    assert by["a"].kind == "adapter" and by["a"].train_size == 16
    assert by["m"].kind == "merge" and [i.name for i in by["m"].inputs] == ["a"]
    assert not [p for p in coll.problems if "--model-root" in p.reason]


def test_merge_lineage_inputs_resolve_paths_and_stop_cycles(tmp_path):
    a = tmp_path / "a"
    m = tmp_path / "m"
    write(a / "lineage.json", {"kind": "adapter", "name": "A", "inputs": [str(m)]})  # cycle back to m
    write(m / "lineage.json", {"kind": "merge", "name": "M", "method": "ties",
                               "inputs": [str(a), {"kind": "adapter", "name": "inline"}, "/does/not/exist"]})
    probs = []
    lin = collect.read_lineage(m, probs, roots=[tmp_path])
    assert lin.method == "ties"
    names = [i.name if isinstance(i, collect.Lineage) else i for i in lin.inputs]
    assert names == ["A", "inline", "exist"]  # a path not followed is shown by its last part only
    assert lin.inputs[0].inputs == ["m"]  # the cycle is cut and kept as a path relative to its root
    assert lin.inputs[0].source_shown == "a/lineage.json"
    # outside the roots nothing is followed
    assert [i if isinstance(i, str) else i.name for i in collect.read_lineage(m, [], roots=[m]).inputs][0] == "a"
    assert any("cycle" in p.reason for p in probs)


def test_bad_lineage_is_a_warning_not_a_failure(tmp_path):
    write(tmp_path / "m" / "lineage.json", '["not", "a", "dict"]')
    write(tmp_path / "m" / "results_a.json", minimal_results())
    coll = collect.collect([tmp_path])
    assert len(coll.runs) == 1 and coll.runs[0].lineage is None
    assert any(p.severity == "warning" and "lineage" in p.reason for p in coll.problems)


# ---------------------------------------------------------------------------------------------
# systems, suite and headline


def _runs(tmp_path, *specs):
    for s in specs:
        synthetic.write_run(tmp_path, s)
    return collect.collect([tmp_path]).runs


def test_runs_of_one_model_merge_into_one_row_and_newer_supersedes(tmp_path):
    from datetime import datetime

    S = synthetic.RunSpec
    runs = _runs(
        tmp_path,
        S(name="org/m", skill=0.5, tasks=["ecom_esci"], n_docs=10, date=datetime(2025, 1, 1)),
        S(name="org/m", skill=0.5, tasks=["ecom_queryner"], n_docs=10, date=datetime(2025, 1, 2)),
        S(name="org/m", skill=0.9, tasks=["ecom_esci"], n_docs=10, date=datetime(2025, 1, 3), seed=7),
    )
    asm = systems.assemble(runs)
    assert len(asm.systems) == 1
    s = asm.systems[0]
    assert set(s.cells) == {"ecom_esci", "ecom_queryner"}
    assert "2025-01-03" in s.cells["ecom_esci"].result.run_path
    assert any("superseded" in p.reason for p in asm.problems)


def test_zero_shot_and_few_shot_are_separate_rows_chat_too(tmp_path):
    S = synthetic.RunSpec
    runs = _runs(
        tmp_path,
        S(name="org/m", skill=0.5, tasks=["ecom_esci"], n_docs=10),
        S(name="org/m", skill=0.5, tasks=["ecom_esci"], n_docs=10, n_shot=5, folder="b"),
        S(name="org/m", skill=0.5, tasks=["ecom_esci"], n_docs=10, chat=True, folder="c"),
    )
    asm = systems.assemble(runs)
    names = sorted(s.display_name for s in asm.systems)
    assert names == ["org/m", "org/m (5-shot)", "org/m (chat)"]
    assert len({s.id for s in asm.systems}) == 3


def test_runtime_model_args_do_not_split_a_system(tmp_path):
    S = synthetic.RunSpec
    runs = _runs(
        tmp_path,
        S(name="org/m", skill=0.5, tasks=["ecom_esci"], n_docs=10, model_args="pretrained=org/m,device_map=auto"),
        S(name="org/m", skill=0.5, tasks=["ecom_desc_gen"], n_docs=10, model_args={"pretrained": "org/m", "batch_size": 4},
          folder="b"),
    )
    assert len(systems.assemble(runs).systems) == 1


def test_kind_base_method_from_lineage_or_model_args(tmp_path):
    S = synthetic.RunSpec
    runs = _runs(
        tmp_path,
        S(name="org/m", skill=0.5, tasks=["ecom_esci"], n_docs=10),
        S(name="/ad/x", skill=0.5, tasks=["ecom_esci"], n_docs=10, model_args="pretrained=org/m,peft=/ad/x", folder="a"),
        S(name="gpt", skill=0.5, tasks=["ecom_esci"], n_docs=10, model_type="openai-chat-completions", model_args="model=gpt",
          folder="b"),
        S(name="bert", skill=0.5, tasks=["ecom_esci"], n_docs=10, folder="c",
          lineage={"kind": "baseline", "name": "BERT", "method": "cross-encoder", "base_model": "bert-base", "train_size": 5}),
    )
    by = {s.name: s for s in systems.assemble(runs).systems}
    assert (by["org/m"].kind, by["org/m"].method, by["org/m"].base_model) == ("base", "prompting", "org/m")
    assert (by["x"].kind, by["x"].base_model) == ("adapter", "org/m")  # a local path is named by its folder
    assert by["gpt"].kind == "api"
    assert (by["BERT"].kind, by["BERT"].method, by["BERT"].train_size) == ("baseline", "cross-encoder", 5)


def test_headline_declared_in_metadata_and_fallback(tmp_path):
    write(tmp_path / "results_a.json", minimal_results())
    asm = systems.assemble(collect.collect([tmp_path]).runs)
    assert asm.headlines["ecom_esci"].metric == "macro_f1" and asm.headlines["ecom_esci"].declared
    assert asm.headlines["arc_easy"].metric == "acc_norm" and not asm.headlines["arc_easy"].declared
    assert asm.suite == ["ecom_esci"] and asm.other_tasks == ["arc_easy"]


def test_headline_fallback_skips_parse_fail_and_respects_direction():
    TR = collect.TaskResult

    def tr(values, hib):
        return TR("t", "t", values, {}, hib, 0, None, None, None, {}, None, None, "x")

    h = systems._headline_for("t", [tr({("parse_fail", "none"): 0.1, ("bleu", "none"): 3.0}, {"parse_fail": False, "bleu": True})])
    assert h.metric == "bleu" and h.higher_is_better
    h = systems._headline_for("t", [tr({("ter", "none"): 0.4}, {"ter": False})])
    assert h.metric == "ter" and not h.higher_is_better
    h = systems._headline_for("t", [tr({("parse_fail", "none"): 0.1}, {})])
    assert h.metric == "parse_fail" and not h.higher_is_better  # parse_fail is lower-is-better by name


def test_headline_filter_choice(tmp_path):
    d = minimal_results()
    d["results"] = {"gen": {"exact_match,strict-match": 0.2, "exact_match,flexible-extract": 0.3}}
    d["configs"] = {"gen": {"metadata": {"headline": "exact_match,flexible-extract"}}}
    d["group_subtasks"] = {}
    d.pop("groups")
    write(tmp_path / "results_a.json", d)
    asm = systems.assemble(collect.collect([tmp_path]).runs)
    cell = asm.systems[0].cells["gen"]
    assert (cell.filter, cell.value) == ("flexible-extract", 0.3)


def test_suite_from_group_and_task_patterns(tmp_path):
    d = minimal_results()
    del d["configs"]["ecom_esci"]["metadata"]["headline"]
    write(tmp_path / "results_a.json", d)
    runs = collect.collect([tmp_path]).runs
    assert systems.assemble(runs).suite == ["ecom_esci"]  # member of group "ecom"
    # an unknown group ranks nothing overall (never "whatever the inputs contain"), and says so
    nope = systems.assemble(runs, suite_group="nope")
    assert nope.suite == [] and nope.ranked_suite == [] and nope.other_tasks == ["arc_easy", "ecom_esci"]
    assert any("'nope'" in p.reason for p in nope.problems)
    assert systems.assemble(runs, task_patterns=["arc_*"]).suite == ["arc_easy"]


def test_limited_runs_are_flagged(tmp_path):
    runs = _runs(tmp_path, synthetic.RunSpec(name="org/m", skill=0.5, tasks=["ecom_esci"], n_docs=20, limit=5))
    s = systems.assemble(runs).systems[0]
    assert s.limited and s.limit == 5 and "limit=5" in s.display_name
    assert s.cells["ecom_esci"].result.n_effective == 5


def test_limit_that_covers_every_document_is_not_limited(tmp_path):
    runs = _runs(tmp_path, synthetic.RunSpec(name="org/m", skill=0.5, tasks=["ecom_esci"], n_docs=20, limit=50))
    assert runs[0].limit == 50 and not runs[0].limited  # lm-eval scored all 20 documents
    assert not systems.assemble(runs).systems[0].limited


def test_lineage_train_size_per_task_mapping(tmp_path):
    write(tmp_path / "lineage.json", {"kind": "adapter", "train_size": {"ecom_esci": 1000, "ecom_queryner": 500}})
    lin = collect.read_lineage(tmp_path, [])
    assert lin.train_size == 1500 and lin.train_sizes == {"ecom_esci": 1000, "ecom_queryner": 500}


def test_data_is_sample_flag_is_shown(tmp_path):
    d = minimal_results()
    d["configs"]["ecom_esci"]["metadata"] = {"headline": "macro_f1", "data_source": "/data/esci", "data_is_sample": True}
    write(tmp_path / "results_a.json", d)
    cell = systems.assemble(collect.collect([tmp_path]).runs).systems[0].cells["ecom_esci"]
    assert cell.data_source == "esci (sample)"  # the dataset's name, not the builder's path


def test_per_task_limits_make_one_system_with_each_cells_limit(tmp_path):
    # a study's per-task limits: ESCI scored on 24 docs, QueryNER on 8, as two lm-eval calls
    from datetime import datetime

    runs = _runs(tmp_path,
                 synthetic.RunSpec(name="org/m", skill=0.5, tasks=["ecom_esci"], n_docs=50, limit=24, folder="a"),
                 synthetic.RunSpec(name="org/m", skill=0.5, tasks=["ecom_queryner"], n_docs=50, limit=8, folder="b",
                                   date=datetime(2025, 1, 2)),
                 synthetic.RunSpec(name="org/m", skill=0.5, tasks=["ecom_esci"], n_docs=50, folder="full"))
    asm = systems.assemble(runs)
    limited = [s for s in asm.systems if s.limited]
    full = [s for s in asm.systems if not s.limited]
    assert len(limited) == 1 and len(full) == 1          # a limited run never merges with a full one
    s = limited[0]
    assert set(s.cells) == {"ecom_esci", "ecom_queryner"} and "limit=8/24" in s.display_name
    assert (s.cells["ecom_esci"].run_limit, s.cells["ecom_queryner"].run_limit) == (24, 8)
    assert full[0].cells["ecom_esci"].run_limit is None
