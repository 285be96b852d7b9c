"""Adding a task is adding a folder: a brand-new task family kept OUTSIDE the checkout (YAML + one pure
utils.py; data in an existing publisher format and in lm-eval's own json format) runs through
`ecomsuite tasks validate`, `eval`, `sft` and `baseline` without touching a file of the package."""
from __future__ import annotations

import json
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


@pytest.fixture
def family(tmp_path, monkeypatch):
    """(task folder, data root) in tmp_path, outside the checkout; the data root also holds a DIFFERENT
    ae110k/ folder, so a task reading the run-wide data folder instead of its own would score it."""
    assert not tmp_path.resolve().is_relative_to(REPO)
    tasks, data = tmp_path / "shop_tasks", tmp_path / "data"
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
    for name, task in load_tasks(names, metadata={"data_dir": str(data)}).items():
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
