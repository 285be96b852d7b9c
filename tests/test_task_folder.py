"""Adding a task is adding a folder: a brand-new task family kept OUTSIDE the checkout (YAML + one pure
utils.py; data in an existing publisher format and in lm-eval's own json format) runs through
`ecomsuite tasks validate`, `eval`, `sft` and `baseline` without touching a file of the package."""
from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest

from ecomsuite.cli import main

REPO = Path(__file__).resolve().parent.parent

ATTR_YAML = """\
task: shop_attrs
dataset_path: shop/oamine
custom_dataset: !function utils.load_docs
dataset_kwargs: {format: attr_extract, folder: oamine}
output_type: generate_until
training_split: train
test_split: test
doc_to_text: "Title: {{title}}\\nJSON:"
doc_to_target: !function utils.target
target_delimiter: " "
generation_kwargs: {until: ["\\n\\n"], max_gen_toks: 32, do_sample: false}
process_results: !function utils.process_results
metric_list:
  - {metric: attr_f1, aggregation: ecom_attr_f1, higher_is_better: true}
metadata: {version: 1.0, headline: attr_f1, rigid: true}
"""
UTILS = """\
from ecomsuite.lmeval import load_docs  # noqa: F401
from ecomsuite.metrics import attr_counts
from ecomsuite.parsing import format_attributes, parse_attributes


def target(doc):
    return format_attributes(doc["attributes"])


def process_results(doc, results):
    gold = {a["name"]: a["values"] for a in doc["attributes"]}
    return {"attr_f1": list(attr_counts(gold, parse_attributes(results[0]) or {}))}
"""
JSON_YAML = """\
task: shop_category
dataset_path: json
dataset_kwargs:
  data_files: {{train: "{d}/train.jsonl", test: "{d}/test.jsonl"}}
output_type: generate_until
training_split: train
test_split: test
doc_to_text: "Product: {{{{title}}}}\\nCategory:"
doc_to_target: "{{{{category}}}}"
target_delimiter: " "
generation_kwargs: {{until: ["\\n"], max_gen_toks: 8, do_sample: false}}
metric_list:
  - {{metric: exact_match, aggregation: mean, higher_is_better: true}}
metadata: {{version: 1.0, headline: exact_match}}
"""
PRODUCTS = [("red cotton shirt", "shirts", {"Color": "red", "Material": "cotton"}),
            ("blue wool sock", "socks", {"Color": "blue", "Material": "wool"}),
            ("green silk scarf", "scarves", {"Color": "green", "Material": "silk"}),
            ("black leather belt", "belts", {"Color": "black", "Material": "leather"}),
            ("white linen towel", "towels", {"Color": "white", "Material": "linen"}),
            ("grey fleece hat", "hats", {"Color": "grey", "Material": "fleece"})]


def _write_jsonl(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _write_family(root: Path) -> tuple[Path, Path]:
    """(task folder, data root) under ``root``, outside the checkout; the data root also holds a DIFFERENT
    ae110k/ folder, so a task reading the run-wide data folder instead of its own would score it."""
    assert not root.resolve().is_relative_to(REPO)
    tasks, data = root / "shop_tasks", root / "data"
    (tasks / "attrs").mkdir(parents=True)
    (tasks / "attrs" / "shop_attrs.yaml").write_text(ATTR_YAML)
    (tasks / "attrs" / "utils.py").write_text(UTILS)
    (tasks / "category").mkdir()
    (tasks / "category" / "shop_category.yaml").write_text(JSON_YAML.format(d=data / "category"))
    for split, rows in (("train", PRODUCTS[:4]), ("test", PRODUCTS[4:])):
        _write_jsonl(data / "oamine" / f"{split}.jsonl", [
            {"input": t, "category": c, "target_scores": {k: {v: 1} for k, v in a.items()}} for t, c, a in rows])
        _write_jsonl(data / "category" / f"{split}.jsonl",
                     [{"id": f"cat-{t}", "title": t, "category": c} for t, c, _a in rows])
    _write_jsonl(data / "ae110k" / "test.jsonl", [{"input": "wrong data", "category": "x",
                                                   "target_scores": {"Color": {"none": 1}}}])
    _write_jsonl(data / "ae110k" / "train.jsonl", [{"input": "wrong data", "category": "x",
                                                    "target_scores": {"Color": {"none": 1}}}])
    return tasks, data


@pytest.fixture
def family(tmp_path, monkeypatch):
    tasks, data = _write_family(tmp_path)
    monkeypatch.setenv("ECOMSUITE_INCLUDE_PATH", str(tasks))
    return tasks, data


def test_validate_eval_with_oracle_reads_the_tasks_own_folder(family, tmp_path):
    from test_tasks_lmeval import _make_lm

    from ecomsuite.evaluate import evaluate
    from ecomsuite.prompts import load_tasks, render_examples

    tasks, data = family
    assert main(["tasks", "validate", str(tasks), "--data-dir", str(data)]) == 0
    names = ["shop_attrs", "shop_category"]
    gold = {}
    for task in load_tasks(names, metadata={"data_dir": str(data)}).values():
        for ex in render_examples(task, split="test"):
            gold[ex["prompt"]] = ex["completion"].strip()
    res = evaluate(model=_make_lm(lambda ctx, cont: gold[ctx] if cont is None else gold[ctx] == cont.strip()),
                   tasks=names, limit=None, data_dir=str(data), output_path=tmp_path / "eval")
    assert res["results"]["shop_attrs"]["attr_f1,none"] == 1.0
    assert res["results"]["shop_category"]["exact_match,none"] == 1.0
    meta = res["configs"]["shop_attrs"]["metadata"]
    assert meta["data_source"] == str((data / "oamine").resolve())   # its own folder under --data-dir
    assert res["configs"]["shop_attrs"]["metric_list"][0]["aggregation"] == "ecom_attr_f1"


def test_sft_and_baseline_on_the_new_family(family, tmp_path, tiny_llama, tiny_t5):
    from transformers import AutoConfig, GenerationConfig

    tasks, data = family
    env_free = ["--include-path", str(tasks)]   # the flag, not only the environment variable
    out = tmp_path / "sft"
    assert main(env_free + ["sft", "--model", str(tiny_llama), "--tasks", "shop_attrs", "shop_category",
                            "--out", str(out), f"data_dir={data}", "max_steps=2", "batch_size=2",
                            "lora_r=4", "lora_alpha=8", "save_steps=1000", "eval=false"]) == 0
    assert (out / "adapter_model.safetensors").is_file()
    base = tmp_path / "t5_base"
    shutil.copytree(tiny_t5, base)
    gen = GenerationConfig.from_model_config(AutoConfig.from_pretrained(base))
    gen.max_new_tokens = 8
    gen.save_pretrained(base)
    for name in ("shop_attrs", "shop_category"):
        b = tmp_path / f"b_{name}"
        assert main(env_free + ["baseline", name, "--model", str(base), "--out", str(b), "--data-dir", str(data),
                                "--epochs", "1", "--batch-size", "2", "--max-length", "64"]) == 0
        (path,) = (b / "eval").rglob("results_*.json")
        assert name in json.loads(path.read_text())["results"]


def test_data_dir_is_a_root_and_unknown_options_are_one_line(family, tmp_path, capsys):
    from ecomsuite import EcomError
    from ecomsuite.prompts import load_tasks

    tasks, data = family
    task = load_tasks(["shop_attrs"], metadata={"data_dir": str(data)})["shop_attrs"]
    assert {d["title"] for d in task.dataset["test"]} == {t for t, _c, _a in PRODUCTS[4:]}
    f = tasks / "attrs" / "shop_attrs.yaml"
    f.write_text(ATTR_YAML.replace("folder: oamine", "foldr: oamine"))
    with pytest.raises(EcomError, match=r"shop_attrs.yaml:\d+: dataset_kwargs: unknown key 'foldr'"):
        load_tasks(["shop_attrs"], metadata={"data_dir": str(data)})
    assert main(["tasks", "validate", str(tasks)]) == 1
    assert "unknown key 'foldr'" in capsys.readouterr().err
    f.write_text(ATTR_YAML.replace("output_type:", "output_typ:"))
    with pytest.raises(EcomError, match=r"shop_attrs.yaml:5: unknown key 'output_typ' \(did you mean 'output_type'"):
        load_tasks(["shop_attrs"])
    f.write_text(ATTR_YAML.replace("training_split: train", "training_split: [train"))
    with pytest.raises(EcomError, match=r"unknown task 'shop_attrs'.*shop_attrs.yaml:\d+: YAML syntax error"):
        load_tasks(["shop_attrs"])


def test_every_packaged_task_validates():
    assert main(["tasks", "validate"]) == 0


def test_install_status_says_stale_when_task_files_change(tmp_path, monkeypatch):
    from ecomsuite import lmeval

    src = tmp_path / "tasks"
    shutil.copytree(lmeval.tasks_dir(), src, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(lmeval, "tasks_dir", lambda: src)
    monkeypatch.setattr(lmeval, "lm_eval_tasks_dir", lambda: tmp_path / "lm_eval_tasks")
    lmeval.install_tasks()
    assert lmeval.installed_status().startswith("installed in")
    (src / "esci" / "ecom_esci_es.yaml").write_text("include: ecom_esci.yaml\ntask: ecom_esci_es\n")
    assert "stale: new task file(s) ecom_esci_es.yaml" in lmeval.installed_status()
    lmeval.install_tasks()
    (src / "esci" / "ecom_esci_es.yaml").unlink()
    assert "stale: removed ecom_esci_es.yaml" in lmeval.installed_status()



# ------------------------------------------------------------------- a study of the new family: reproduce + site
NAMES = ["shop_attrs", "shop_category"]
GROUP_YAML = "group: shop\ntask: [shop_attrs, shop_category]\nmetadata: {version: 1.0}\n"


def _study(tasks_root: Path, data: Path, model: Path, api_url: str) -> dict:
    """Zero-shot tiny model, one LoRA adapter on one of the tasks, and an API model (the oracle)."""
    return {
        "name": "shop", "output_dir": str(tasks_root.parent / "study"), "data_dir": str(data), "tasks": NAMES,
        "eval": {"limit": 0, "num_fewshot": [0], "chat_template": [False], "batch_size": 2},
        "base_models": [{"name": "tiny", "path": str(model)}],
        "sft": {"method": "lora", "tasks": NAMES[:1], "train_sizes": [len(PRODUCTS[:4])], "seeds": [0],
                "params": {"max_steps": 2, "batch_size": 2, "lora_r": 4, "lora_alpha": 8, "max_length": 128}},
        "api_models": [{"name": "oracle", "model_args": f"model=oracle,base_url={api_url},num_concurrent=1,"
                        "max_retries=1,tokenized_requests=False"}],
        "leaderboard": {"bootstrap_iters": 50, "plots": False, "jobs": 1},
    }


def test_reproduce_dry_run_sees_and_checks_the_external_tasks(family, tmp_path, tiny_llama, monkeypatch, capsys):
    import yaml

    tasks, data = family
    f = tmp_path / "shop.yaml"
    f.write_text(yaml.safe_dump(_study(tasks, data, tiny_llama, "http://127.0.0.1:9/v1/chat/completions")))
    assert main(["reproduce", str(f), "--dry-run"]) == 0              # the folder from $ECOMSUITE_INCLUDE_PATH
    plan_text = capsys.readouterr().out
    assert "todo  eval/api/oracle" in plan_text and "todo  sft/tiny/sft/shop_attrs/n4/s0" in plan_text
    monkeypatch.delenv("ECOMSUITE_INCLUDE_PATH")
    assert main(["reproduce", str(f), "--dry-run"]) == 2
    assert "tasks: unknown task 'shop_attrs'" in capsys.readouterr().err
    flag = ["--include-path", str(tasks)]
    assert main(flag + ["reproduce", str(f), "--dry-run"]) == 0        # ... or from the flag
    capsys.readouterr()
    jobs = tmp_path / "jobs.jsonl"                                      # exported jobs carry the folder
    assert main(flag + ["reproduce", str(f), "--export-jobs", str(jobs)]) == 0
    commands = [shlex.split(json.loads(line)["command"]) for line in jobs.read_text().splitlines()]
    assert commands and all(c[:3] == ["ecomsuite", "--include-path", str(tasks.resolve())] for c in commands)
    # a broken file of a task the study only scores (no run loads it before its evaluation) fails the dry run
    cat = tasks / "category" / "shop_category.yaml"
    good = cat.read_text()
    cat.write_text(good.replace("output_type:", "output_typ:"))
    assert main(flag + ["reproduce", str(f), "--dry-run"]) == 2
    assert re.search(r"shop_category\.yaml:\d+: unknown key 'output_typ'", capsys.readouterr().err)
    cat.write_text(good.replace("training_split: train", "training_split: [train"))
    assert main(flag + ["reproduce", str(f), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "unknown task 'shop_category'" in err and re.search(r"shop_category\.yaml:\d+: YAML syntax error", err)


@pytest.fixture(scope="module")
def shop_study(tmp_path_factory, tiny_llama):
    """The study run once by `ecomsuite --include-path DIR reproduce STUDY`, the oracle answering every test
    prompt with its target: (study, task folder, the task's headline metrics, reproduce's stdout)."""
    import contextlib
    import io

    import yaml

    from ecomsuite.fake_openai import FakeOpenAI
    from ecomsuite.prompts import load_tasks, render_examples
    from ecomsuite.reproduce import Run, _run_forked, task_metadata

    root = tmp_path_factory.mktemp("shop")
    tasks, data = _write_family(root)
    (tasks / "_shop.yaml").write_text(GROUP_YAML)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ECOMSUITE_INCLUDE_PATH", str(tasks))
        gold = {ex["prompt"].strip(): ex["completion"].strip()
                for task in load_tasks(NAMES, metadata={"data_dir": str(data)}).values()
                for ex in render_examples(task, split="test")}
        headlines = {t: task_metadata()[t]["headline"] for t in NAMES}
        mp.delenv("ECOMSUITE_INCLUDE_PATH")
        # the forkserver the runs fork from starts before any task folder is named (as after another study in
        # the same process): the runs must still see the folder the study is given
        assert _run_forked(Run("probe", "eval", ["data", "info"], root), root / "probe.log") == 0
        with FakeOpenAI(lambda messages: gold[messages[-1]["content"].strip()]) as url:
            study = _study(tasks, data, tiny_llama, url)
            f = root / "shop.yaml"
            f.write_text(yaml.safe_dump(study))
            with contextlib.redirect_stdout(io.StringIO()) as out:
                rc = main(["--include-path", str(tasks), "reproduce", str(f)])
        assert rc == 0, out.getvalue() + "".join(p.read_text() for p in (root / "study" / "logs").glob("*.log"))
    return study, tasks, headlines, out.getvalue()


def _site(folder: Path) -> dict:
    return json.loads((folder / "leaderboard.json").read_text(encoding="utf-8"))


def _oracle_first_at_one(site: dict, headlines: dict) -> None:
    assert [c["task"] for c in site["columns"]] == NAMES and all(c["in_overall"] for c in site["columns"])
    assert {c["task"]: c["metric"] for c in site["columns"]} == headlines       # the tasks' declared headlines
    assert site["overall"]["tasks"] == NAMES
    top = site["rows"][0]
    assert top["system"].startswith("oracle") and top["rank"] in (1, "1") and top["overall"] == 1.0
    assert all(top[f"{t}:{m}"] == 1.0 for t, m in headlines.items())
    assert all(r["overall"] in ("", None) or r["overall"] < 1.0 for r in site["rows"][1:])


def test_reproduce_ranks_the_oracle_first_on_the_new_tasks(shop_study):
    study, _tasks, headlines, out = shop_study
    site = Path(study["output_dir"]) / "site"
    _oracle_first_at_one(_site(site), headlines)
    pages = (site / "index.html").read_text(encoding="utf-8") + (site / "tasks.html").read_text(encoding="utf-8")
    assert all(t in pages for t in NAMES)
    report = out[out.index("# Findings"):]
    table = report[report.index("## Scores by system"):]
    assert all(f"{t} ({m})" in table for t, m in headlines.items())          # the report's columns
    oracle_row = next(line for line in table.splitlines() if line.startswith("| oracle"))
    assert oracle_row.count("1.000") == len(NAMES)


def test_leaderboard_build_ranks_a_group_of_an_include_path(shop_study, tmp_path, monkeypatch, capsys):
    study, tasks, headlines, _out = shop_study
    results = Path(study["output_dir"]) / "results"
    args = ["leaderboard", "build", str(results), "--out", str(tmp_path / "site"), "--suite-group", "shop",
            "--bootstrap-iters", "50", "--no-plots", "--quiet"]
    assert main(["--include-path", str(tasks), *args]) == 0                   # the group the family defines
    _oracle_first_at_one(_site(tmp_path / "site"), headlines)
    monkeypatch.setenv("ECOMSUITE_INCLUDE_PATH", str(tasks))                  # ... also seen from the environment
    assert main([*args[:4], str(tmp_path / "site2"), *args[5:]]) == 0
    _oracle_first_at_one(_site(tmp_path / "site2"), headlines)
    monkeypatch.delenv("ECOMSUITE_INCLUDE_PATH")                              # without the folder: no such group
    assert main([*args[:4], str(tmp_path / "site3"), *args[5:]]) == 0
    assert _site(tmp_path / "site3")["overall"]["tasks"] == []


def test_report_gives_every_new_task_a_ci(shop_study):
    from ecomsuite.report import report

    study, tasks, _headlines, _out = shop_study
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ECOMSUITE_INCLUDE_PATH", str(tasks))
        text = report(Path(study["output_dir"]), study)
    assert "[no CI]" not in text and "no per-sample aggregation" not in text


def test_ecom_macro_f1_of_a_new_family_uses_its_own_labels():
    from lm_eval.api.registry import get_aggregation

    import ecomsuite.lmeval  # noqa: F401 - registers the ecom_* aggregations

    perfect = [[category, category] for _t, category, _a in PRODUCTS]
    assert get_aggregation("ecom_macro_f1")(perfect) == 1.0
    from sklearn.metrics import f1_score

    from ecomsuite import bootstrap
    from ecomsuite.metrics import INVALID

    assert bootstrap.ci("macro_f1", perfect, n_boot=50) == (1.0, 1.0)
    # imperfect, with an unparseable answer (a wrong answer, not a class): sklearn over the defined labels
    items = [["shirts", "shirts"], ["socks", "shirts"], ["hats", INVALID], ["socks", "socks"], ["belts", "hats"]]
    golds, preds = [i[0] for i in items], [i[1] for i in items]
    want = f1_score(golds, preds, labels=sorted(set(golds) | {"hats"}), average="macro", zero_division=0)
    assert get_aggregation("ecom_macro_f1")(items) == pytest.approx(want, abs=1e-12)
    assert bootstrap.distribution("macro_f1", items, n_boot=10)[0].value == pytest.approx(want, abs=1e-12)
