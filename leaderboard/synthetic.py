"""Synthetic lm-eval runs in lm-eval 0.4.x's exact file layout — for the docs example, tests and
the benchmark. No model is loaded: scores are drawn from a seeded generator.

    python -m ecomsuite.leaderboard.synthetic --out /tmp/lb-runs          # a study-like fleet
    python -m ecomsuite.leaderboard.synthetic --out /tmp/lb-runs --xss    # hostile text everywhere

Layout written (as ``lm_eval --output_path OUT --log_samples`` does)::

    OUT/<sanitized model name>/results_<date_id>.json
    OUT/<sanitized model name>/samples_<task>_<date_id>.jsonl
    OUT/adapters/<name>/lineage.json, OUT/merges/<name>/lineage.json   (referenced by peft=)

All per-sample metric items are numbers, so the reported value of a metric is the mean of its
items whatever ``ecomsuite.metrics.aggregate`` does.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

# task -> (headline, metrics, output_type); metric names follow the ecom tasks
SUITE: dict[str, tuple[str, list[str], str]] = {
    "ecom_esci": ("macro_f1", ["acc", "macro_f1", "f1_E", "f1_S", "f1_C", "f1_I"], "multiple_choice"),
    "ecom_esci_gen": ("macro_f1", ["acc", "macro_f1", "parse_fail"], "generate_until"),
    "ecom_queryner": ("span_f1", ["span_f1", "span_macro_f1", "parse_fail"], "generate_until"),
    "ecom_review_summ": ("rougeL", ["rouge1", "rouge2", "rougeL", "bleu"], "generate_until"),
    "ecom_desc_gen": ("rougeL", ["rouge1", "rouge2", "rougeL", "bleu"], "generate_until"),
    "ecom_attr_extract": ("attr_f1", ["attr_f1", "attr_precision", "attr_recall", "parse_fail"], "generate_until"),
}
CHOICES = ["Exact", "Substitute", "Complement", "Irrelevant"]
PAYLOADS = [
    "<script>window.__pwned=1</script>",
    '"><img src=x onerror=window.__pwned=1>',
    "</script><script>window.__pwned=1</script>",
    "'\"><svg onload=window.__pwned=1>",
    "\u2028\u2029<!--",
]
XSS = " ".join(PAYLOADS)


def sanitize_model_name(name: str) -> str:  # lm_eval.utils.sanitize_model_name
    return re.sub(r"[\"<>:/|\\?*\[\]]+", "__", name)


def _h(s: str) -> str:
    return hashlib.sha256(s.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class RunSpec:
    name: str  # model name (pretrained / peft path shown by lm-eval)
    skill: float  # 0..1, higher is better
    tasks: list[str]
    model_type: str = "hf"
    model_args: Any = None  # str or dict; default pretrained=<name>
    n_shot: int = 0
    chat: bool = False
    limit: float | None = None
    n_docs: int = 200
    samples: bool = True
    stderr: bool = True
    lineage: dict | None = None
    lineage_dir: str | None = None  # write lineage.json here (e.g. the adapter folder); None: beside results
    folder: str | None = None  # results folder name (default: sanitized model name)
    date: datetime = field(default_factory=lambda: datetime(2025, 1, 1, 12, 0, 0))
    eval_seconds: float = 600.0
    num_parameters: int | None = 6_738_415_616
    text: str = ""  # extra text put into prompts/outputs (e.g. XSS payloads)
    data_source: str = "embedded sample"
    seed: int = 0


class _DocBank:
    """Per-task documents shared by all runs (same doc_ids, same prompts)."""

    def __init__(self, task: str, n: int, text: str):
        rng = random.Random(_h(task))
        self.task = task
        self.difficulty = [rng.random() for _ in range(n)]
        self.docs = []
        for i in range(n):
            q = f"{task} query {i} {rng.choice(['red', 'usb-c', 'organic', 'kids', 'wireless'])} {rng.choice(['shoes', 'cable', 'tea', 'lamp', 'mouse'])}"
            if text and i % 7 == 0:
                q += " " + text
            label = CHOICES[i % 4]
            self.docs.append({"query": q, "product_title": f"Product {i} {text if text and i % 5 == 0 else ''}".strip(), "label": label})


def _prompt(task: str, doc: dict, n_shot: int, chat: bool) -> str:
    p = f"Query: {doc['query']}\nProduct: {doc['product_title']}\nAnswer:"
    if n_shot:
        p = "".join(f"Query: example {k}\nProduct: example product {k}\nAnswer: Exact\n\n" for k in range(n_shot)) + p
    if chat:
        p = f"<|user|>\n{p}<|end|>\n<|assistant|>\n"
    return p


def results_and_samples(spec: RunSpec, banks: dict[str, _DocBank]) -> tuple[dict, dict[str, list[str]]]:
    """The results dict and, per task, the samples JSONL lines of one run."""
    label = (spec.lineage or {}).get("name") or spec.name  # not the folder: scores must not depend on --out
    rng = random.Random(f"{label}|{spec.seed}|{spec.n_shot}|{spec.chat}")
    results: dict[str, Any] = {}
    configs, versions, nshot, hib, nsamples = {}, {}, {}, {}, {}
    sample_lines: dict[str, list[str]] = {}
    for task in spec.tasks:
        headline, metrics, otype = SUITE.get(task, ("acc", ["acc"], "generate_until"))
        bank = banks[task]
        n_all = len(bank.docs)
        n = n_all if spec.limit is None else min(n_all, int(spec.limit))
        items: dict[str, list[float]] = {m: [] for m in metrics}
        lines: list[str] = []
        task_skill = min(0.98, max(0.02, spec.skill + rng.uniform(-0.08, 0.08)))
        for i in range(n):
            d = bank.difficulty[i]
            p_ok = 1 / (1 + math.exp(-8 * (task_skill - d)))
            ok = rng.random() < p_ok
            pf = 1.0 if (not ok and rng.random() < 0.3 * (1 - spec.skill)) else 0.0
            row: dict[str, float] = {}
            for m in metrics:
                if m == "parse_fail":
                    row[m] = pf
                elif m.startswith("rouge") or m == "bleu" or m.startswith("attr_") or m.startswith("span"):
                    row[m] = round(max(0.0, min(1.0, p_ok + rng.uniform(-0.25, 0.25))) * (0 if pf else 1), 4)
                else:
                    row[m] = 1.0 if ok and not pf else 0.0
                items[m].append(row[m])
            if spec.samples:
                lines.append(_sample_line(task, otype, bank.docs[i], i, spec, ok, pf, row))
        r: dict[str, Any] = {"alias": task}
        for m in metrics:
            v = sum(items[m]) / len(items[m]) if items[m] else 0.0
            r[f"{m},none"] = v
            if spec.stderr and len(items[m]) > 1:
                var = sum((x - v) ** 2 for x in items[m]) / (len(items[m]) - 1)
                r[f"{m}_stderr,none"] = math.sqrt(var / len(items[m]))
            else:
                r[f"{m}_stderr,none"] = "N/A"
        results[task] = r
        meta = {"version": 1.0, "headline": headline, "data_source": spec.data_source, "n_docs": n_all}
        configs[task] = {"task": task, "tag": ["ecom"], "output_type": otype, "num_fewshot": spec.n_shot, "metadata": meta}
        versions[task] = 1.0
        nshot[task] = spec.n_shot
        hib[task] = {m: (m != "parse_fail") for m in metrics}
        nsamples[task] = {"original": n_all, "effective": n}
        sample_lines[task] = lines
    ecom = [t for t in spec.tasks if t in SUITE]
    if model_args := spec.model_args:
        args = model_args
    else:
        args = f"pretrained={spec.name},dtype=bfloat16"
    chat_tmpl = "{% for m in messages %}<|{{ m.role }}|>\n{{ m.content }}<|end|>\n{% endfor %}" if spec.chat else None
    data = {
        "results": results,
        "group_subtasks": {"ecom": ecom} if ecom else {},
        "configs": configs,
        "versions": versions,
        "n-shot": nshot,
        "higher_is_better": hib,
        "n-samples": nsamples,
        "config": {
            "model": spec.model_type,
            "model_args": args,
            "model_num_parameters": spec.num_parameters,
            "model_dtype": "torch.bfloat16",
            "batch_size": "8",
            "batch_sizes": [],
            "device": "cuda:0",
            "use_cache": None,
            "limit": spec.limit,
            "bootstrap_iters": 100000,
            "gen_kwargs": None,
            "random_seed": 0,
            "numpy_seed": 1234,
            "torch_seed": 1234,
            "fewshot_seed": 1234,
        },
        "git_hash": "0123abc",
        "date": spec.date.timestamp(),
        "lm_eval_version": "0.4.13",
        "transformers_version": "5.24.0",
        "model_source": spec.model_type,
        "model_name": spec.name,
        "model_name_sanitized": sanitize_model_name(spec.name),
        "system_instruction": None,
        "system_instruction_sha": None,
        "fewshot_as_multiturn": spec.chat,
        "chat_template": chat_tmpl,
        "chat_template_sha": _h(chat_tmpl) if chat_tmpl else None,
        "task_hashes": {},
        "total_evaluation_time_seconds": str(spec.eval_seconds),
    }
    return data, sample_lines


def _sample_line(task: str, otype: str, doc: dict, i: int, spec: RunSpec, ok: bool, pf: float, row: dict) -> str:
    prompt = _prompt(task, doc, spec.n_shot, spec.chat)
    if otype == "multiple_choice":
        gold = CHOICES.index(doc["label"])
        pred = gold if ok else (gold + 1) % 4
        lls = [round(-1.0 - abs(k - pred) * 0.7, 4) for k in range(4)]
        args = {f"gen_args_{k}": {"arg_0": prompt, "arg_1": " " + c} for k, c in enumerate(CHOICES)}
        resps = [[[str(lls[k]), str(k == pred)]] for k in range(4)]
        filtered = [[str(lls[k]), str(k == pred)] for k in range(4)]
        target = str(gold)
    else:
        target = doc["label"] if "esci" in task else f"summary of {doc['query']}"
        out = target if ok else ("???" if pf else "something else")
        if spec.text and i % 3 == 0:
            out = f"{out} {spec.text}"
        args = {"gen_args_0": {"arg_0": prompt, "arg_1": {"until": ["\n\n"], "max_gen_toks": 64}}}
        resps = [[out]]
        filtered = [out if not pf else "[unparseable]"]
    s = {
        "doc_id": i,
        "doc": doc,
        "target": target,
        "arguments": args,
        "resps": resps,
        "filtered_resps": filtered,
        "filter": "none",
        "metrics": list(row),
        "doc_hash": _h(json.dumps(doc)),
        "prompt_hash": _h(prompt),
        "target_hash": _h(target),
        **row,
    }
    return json.dumps(s, ensure_ascii=False)


def write_run(out: Path, spec: RunSpec, banks: dict[str, _DocBank] | None = None) -> Path:
    """Write one run in lm-eval's layout; returns the results file."""
    if banks is None:
        banks = {t: _DocBank(t, spec.n_docs, spec.text) for t in spec.tasks}
    data, lines = results_and_samples(spec, banks)
    folder = out / (spec.folder or sanitize_model_name(spec.name))
    folder.mkdir(parents=True, exist_ok=True)
    date_id = spec.date.isoformat().replace(":", "-") + ".000001"
    path = folder / f"results_{date_id}.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    for task, ls in lines.items():
        if ls:
            name = re.sub(r"\W", "_", task)
            (folder / f"samples_{name}_{date_id}.jsonl").write_text("\n".join(ls) + "\n", encoding="utf-8")
    if spec.lineage is not None:
        ldir = Path(spec.lineage_dir) if spec.lineage_dir else folder
        ldir.mkdir(parents=True, exist_ok=True)
        (ldir / "lineage.json").write_text(json.dumps(spec.lineage, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def demo(out: Path, n_docs: int = 200, xss: bool = False, bad_files: bool = True, seed: int = 0) -> list[Path]:
    """A study-like fleet: prompting (zero/few-shot, chat, API), LoRA at 1k–50k examples,
    mixed-task training, merges, baselines, a --limit smoke run, and broken files."""
    out.mkdir(parents=True, exist_ok=True)
    text = XSS if xss else ""
    tasks = list(SUITE)
    banks = {t: _DocBank(t, n_docs, text) for t in tasks}
    base = "meta-llama/Llama-2-7b-hf"
    t0 = datetime(2025, 1, 1, 12, 0, 0)
    specs: list[RunSpec] = []
    tag = f" {PAYLOADS[1]}" if xss else ""

    def spec(**kw: Any) -> RunSpec:
        kw.setdefault("n_docs", n_docs)
        kw.setdefault("text", text)
        kw.setdefault("date", t0 + timedelta(minutes=len(specs)))
        s = RunSpec(**kw)
        specs.append(s)
        return s

    spec(name=base + tag, skill=0.30, tasks=tasks)
    spec(name=base + tag, skill=0.38, tasks=tasks, n_shot=3)
    spec(name="meta-llama/Llama-2-7b-chat-hf", skill=0.42, tasks=tasks, chat=True)
    spec(name="mistralai/Mixtral-8x22B-Instruct-v0.1", skill=0.60, tasks=tasks, model_type="local-chat-completions",
         model_args="model=mistralai/Mixtral-8x22B-Instruct-v0.1,base_url=http://127.0.0.1:8000/v1/chat/completions,num_concurrent=4",
         chat=True, num_parameters=None, eval_seconds=3000.0, stderr=False)
    adapters = out / "adapters"
    for size, skill in ((1000, 0.5), (5000, 0.62), (10000, 0.68), (50000, 0.75)):
        name = f"llama2-7b-lora-mix-{size // 1000}k"
        d = adapters / name
        spec(name=str(d), skill=skill, tasks=tasks, model_args=f"pretrained={base},peft={d},dtype=bfloat16",
             lineage={"kind": "adapter", "name": name + tag, "base_model": base, "method": "lora", "tasks": tasks,
                      "train_size": size, "seed": 42, "data_source": "embedded sample" + tag,
                      "hyperparameters": {"r": 16, "lora_alpha": 32, "learning_rate": 2e-4, "epochs": 1, "note": text},
                      "command": f"ecomsuite sft --tasks ecom --train-size {size} --method lora --out {d}" + tag,
                      "versions": {"trl": "1.16.0", "peft": "0.21.2"}, "git_rev": "abc123", "gpu": "H100" + tag},
             lineage_dir=str(d))
    single = []
    for task, skill in (("ecom_esci", 0.7), ("ecom_queryner", 0.72)):
        for size in (1000, 10000):
            name = f"llama2-7b-lora-{task}-{size // 1000}k"
            d = adapters / name
            single.append(str(d))
            spec(name=str(d), skill=skill - (0.1 if size == 1000 else 0), tasks=[task],
                 model_args=f"pretrained={base},peft={d}",
                 lineage={"kind": "adapter", "name": name, "base_model": base, "method": "lora", "tasks": [task],
                          "train_size": size, "seed": 42, "command": f"ecomsuite sft --tasks {task} --train-size {size} --out {d}"},
                 lineage_dir=str(d))
    merges = out / "merges"
    for method, skill in (("ties", 0.66), ("linear", 0.58)):
        name = f"llama2-7b-{method}-esci+queryner"
        d = merges / name
        inputs = [single[1], single[3]]
        spec(name=str(d), skill=skill, tasks=tasks, model_args=f"pretrained={base},peft={d}",
             lineage={"kind": "merge", "name": name, "base_model": base, "method": method, "tasks": ["ecom_esci", "ecom_queryner"],
                      "inputs": inputs, "hyperparameters": {"density": 0.5, "weights": [0.5, 0.5]},
                      "command": f"ecomsuite merge --method {method} {' '.join(inputs)} --out {d}"},
             lineage_dir=str(d))
    spec(name="cross-encoder/ms-marco-MiniLM-L-6-v2", skill=0.55, tasks=["ecom_esci"], model_type="ecomsuite-baseline",
         folder="baseline-cross-encoder", num_parameters=22_700_000, eval_seconds=40.0,
         lineage={"kind": "baseline", "name": "BERT cross-encoder", "base_model": "cross-encoder/ms-marco-MiniLM-L-6-v2",
                  "method": "cross-encoder", "tasks": ["ecom_esci"], "train_size": 50000,
                  "command": "ecomsuite baseline --kind cross-encoder --task ecom_esci --train-size 50000"})
    spec(name="google/flan-t5-base", skill=0.5, tasks=["ecom_review_summ", "ecom_desc_gen"], model_type="hf",
         model_args="pretrained=google/flan-t5-base,backend=seq2seq", folder="baseline-t5", num_parameters=247_577_856,
         lineage={"kind": "baseline", "name": "T5 seq2seq", "base_model": "google/flan-t5-base", "method": "seq2seq fine-tune",
                  "tasks": ["ecom_review_summ", "ecom_desc_gen"], "train_size": 20000})
    spec(name="Qwen/Qwen2.5-0.5B", skill=0.35, tasks=tasks, limit=20.0, folder="smoke-limit")
    paths = [write_run(out, s, banks) for s in specs]
    if bad_files:
        bad = out / ("broken" + (tag.replace("/", "") if xss else ""))
        bad.mkdir(parents=True, exist_ok=True)
        (bad / "results_2025-01-02T00-00-00.000001.json").write_text('{"results": {"ecom_esci": {"acc,none": 0.5', encoding="utf-8")
        (bad / "results_2025-01-03T00-00-00.000001.json").write_text('{"results": {}, "config": {}}', encoding="utf-8")
        (bad / "results_2025-01-04T00-00-00.000001.json").write_text('["not", "a", "results", "file"]', encoding="utf-8")
    return paths


def _main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ecomsuite.leaderboard.synthetic", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="folder to write lm-eval style runs into")
    p.add_argument("--docs", type=int, default=200, help="documents per task (default 200)")
    p.add_argument("--xss", action="store_true", help="put hostile HTML/JS payloads into every text field")
    p.add_argument("--no-bad-files", action="store_true", help="don't add corrupt/partial result files")
    a = p.parse_args(argv)
    paths = demo(Path(a.out), n_docs=a.docs, xss=a.xss, bad_files=not a.no_bad_files)
    print(f"wrote {len(paths)} runs under {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
