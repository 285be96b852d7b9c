"""The results writer of the encoder baselines: the task suite's own metric code, lm-eval's own files.

An encoder baseline (a cross-encoder classifier, a token classifier) is no language model, so lm-eval
cannot run it. Everything after the model's forward pass, though, is lm-eval's: for each document of
the task's test split (the very ``task.eval_docs`` lm-eval iterates, in its order, so ``doc_id`` and
``doc_hash`` match any LLM run on the same task) we build the per-document metric items the way the
task would, then hand them to lm-eval's own post-processing (``lm_eval.evaluator_utils.
_process_results``: the task's aggregation functions, lm-eval's stderr rules, ``dump_config()``,
versions, n-shot, higher_is_better, n-samples) and write ``results_<date_id>.json`` +
``samples_<task>_<date_id>.jsonl`` in lm-eval's layout (``OUTPUT/<sanitized model name>/``).

Per-document items:

- multiple choice (``ecom_esci``): the classifier's log-probabilities over the task's choices are the
  "loglikelihoods"; the items are ``task.process_results(doc, [(logp, is_argmax), ...])``, the same
  hook call lm-eval makes for an LLM. The samples row has lm-eval's multiple-choice shape (one
  ``(input, choice)`` argument and one ``[logp, is_argmax]`` response per choice) plus
  ``prediction`` (the chosen label word).
- tagging (``ecom_queryner``): the token classifier's tags, one per word, are scored directly:
  ``[gold_tags, predicted_tags]`` for every span metric and ``parse_fail = 0`` -- the shape the task's
  ``process_results`` returns. (Formatting the tags as text and parsing them back with the task's
  parser would lose information when an entity word also occurs earlier in the query, so the tags
  themselves are scored; the samples row still shows the formatted entities as the response.)
"""
from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from ecomsuite import EcomError

FILTER = "none"  # lm-eval's filter name when a task defines no filter_list


@dataclass
class Row:
    """One scored document: what lm-eval would log for it."""

    doc_id: int
    doc: dict
    arguments: list[list[Any]]
    resps: list[list[Any]]
    filtered_resps: list[Any]
    metrics: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)


def eval_docs(task, limit: float | None = None) -> list[dict]:
    """The documents lm-eval scores for ``task`` with ``--limit limit``, in lm-eval's order.

    Same rule as lm-eval's ``get_sample_size``: ``None``/0 = all, < 1 = that fraction (rounded up),
    else the first ``int(limit)``."""
    from ecomsuite.prompts import split_docs

    docs = split_docs(task, "test")
    if not limit:
        return docs
    n = int(math.ceil(len(docs) * limit)) if limit < 1.0 else int(limit)
    return docs[:n]


def metric_names(task) -> list[str]:
    return [m["metric"] for m in task.config.metric_list]


# ---------------------------------------------------------------------------------- per document
def choice_row(task, doc_id: int, doc: dict, logprobs: Sequence[float], context: str) -> Row:
    """A multiple-choice document scored from a classifier's log-probabilities over the task's
    choices (``task.doc_to_choice(doc)`` order), through the task's own ``process_results``."""
    choices = task.doc_to_choice(doc)
    if len(logprobs) != len(choices):
        raise EcomError(f"{task.config.task}: the classifier gives {len(logprobs)} scores but the task has "
                        f"{len(choices)} choices ({', '.join(choices)})")
    best = max(range(len(logprobs)), key=lambda i: logprobs[i])
    pairs = [(float(lp), i == best) for i, lp in enumerate(logprobs)]
    delim = task.config.target_delimiter
    return Row(
        doc_id=doc_id, doc=doc,
        arguments=[[context, f"{delim}{c}"] for c in choices],
        resps=[[p] for p in pairs],
        filtered_resps=list(pairs),
        metrics=task.process_results(doc, pairs),
        extra={"prediction": choices[best]},
    )


def tagging_row(task, doc_id: int, doc: dict, pred_tags: Sequence[str], context: str,
                tokens_key: str = "tokens", tags_key: str = "tags") -> Row:
    """A tagging document scored from predicted IOB2 tags (one per word)."""
    from ecomsuite.parsing import format_ner_compact

    gold = list(doc[tags_key])
    pred = list(pred_tags)
    if len(pred) != len(gold):
        raise EcomError(f"{task.config.task}: document {doc.get('id', doc_id)}: {len(pred)} predicted tags "
                        f"for {len(gold)} words")
    pair = [gold, pred]
    metrics = {m: (0.0 if m == "parse_fail" else pair) for m in metric_names(task)}
    text = format_ner_compact(doc[tokens_key], pred)
    return Row(doc_id=doc_id, doc=doc, arguments=[[context]], resps=[[text]], filtered_resps=[text],
               metrics=metrics, extra={"predicted_tags": pred})


# ----------------------------------------------------------------------------------- aggregation
def logged_sample(task, row: Row) -> dict:
    """The samples-file record lm-eval's evaluator builds for one document (before sanitising)."""
    from lm_eval.utils import handle_non_serializable, hash_string

    target = task.doc_to_target(row.doc)
    sample = {
        "doc_id": row.doc_id,
        "doc": row.doc,
        "target": target,
        "arguments": row.arguments,
        "resps": row.resps,
        "filtered_resps": row.filtered_resps,
        "filter": FILTER,
        "metrics": list(row.metrics.keys()),
        "doc_hash": hash_string(json.dumps(row.doc, indent=2, default=handle_non_serializable,
                                           ensure_ascii=False)),
        "prompt_hash": hash_string(row.arguments[0][0]),
        "target_hash": hash_string(str(target)),
    }
    sample.update(row.metrics)
    sample.update(row.extra)
    return sample


def aggregate(task, rows: list[Row], bootstrap_iters: int = 100000) -> dict:
    """lm-eval's results dict (results, configs, versions, n-shot, higher_is_better, n-samples,
    samples) for ``rows``, computed by lm-eval's own post-processing with the task's aggregations."""
    from lm_eval.evaluator_utils import _process_results

    name = task.config.task
    expected = set(metric_names(task))
    raw: dict[tuple[str, str], list] = defaultdict(list)
    samples = []
    for row in rows:
        if set(row.metrics) != expected:
            raise EcomError(f"{name}: baseline items have metrics {sorted(row.metrics)} but the task defines "
                            f"{sorted(expected)}; update the row builders in ecomsuite/trainers/baselines/results.py")
        for metric, value in row.metrics.items():
            raw[(metric, FILTER)].append(value)
        samples.append(logged_sample(task, row))
    acc = {name: {"task": task, "raw_metrics": raw, "logged_samples": samples}}
    return _process_results(acc, {}, bootstrap_iters)._to_eval_results(samples={name: samples})


# --------------------------------------------------------------------------------------- writing
def write(results: dict, output_path: str | Path, model_name: str, model_source: str,
          started: float) -> Path:
    """Write ``results`` as lm-eval's EvaluationTracker does (``OUTPUT/<sanitized model_name>/``):
    samples files first, the results file last (its presence means the run is complete). Unlike the
    tracker, a failed write raises. Returns the results file's path."""
    from lm_eval.utils import handle_non_serializable, hash_string, sanitize_list, sanitize_model_name

    samples = results.pop("samples", {}) or {}
    folder = Path(output_path) / sanitize_model_name(model_name)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise EcomError(f"{folder}: cannot create the results folder ({e.strerror or e}); pass another --out") from None
    date_id = datetime.now().isoformat().replace(":", "-")  # lm-eval's date_id
    task_hashes = {}
    for task_name, rows in samples.items():
        task_hashes[task_name] = hash_string("".join(s["doc_hash"] + s["prompt_hash"] + s["target_hash"]
                                                     for s in rows))
        with open(folder / f"samples_{task_name}_{date_id}.jsonl", "w", encoding="utf-8") as fh:
            for s in rows:
                s = dict(s)
                s["arguments"] = {f"gen_args_{i}": {f"arg_{j}": a for j, a in enumerate(arg)}
                                  for i, arg in enumerate(s["arguments"])}
                s["resps"] = sanitize_list(s["resps"])
                s["filtered_resps"] = sanitize_list(s["filtered_resps"])
                s["target"] = str(s["target"])
                fh.write(json.dumps(s, default=handle_non_serializable, ensure_ascii=False) + "\n")
    results["task_hashes"] = task_hashes
    results.update({
        "model_source": model_source,
        "model_name": model_name,
        "model_name_sanitized": sanitize_model_name(model_name),
        "system_instruction": None, "system_instruction_sha": None,
        "fewshot_as_multiturn": False, "chat_template": None, "chat_template_sha": None,
        "total_evaluation_time_seconds": str(time.perf_counter() - started),
    })
    out = folder / f"results_{date_id}.json"
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2, default=handle_non_serializable, ensure_ascii=False),
                   encoding="utf-8")
    tmp.replace(out)
    if samples:
        results["samples"] = samples
    return out


def add_run_info(results: dict, model_type: str, model_args: str, limit: float | None,
                 batch_size: int, device: str, extra: dict | None = None) -> dict:
    """The ``config`` block and environment keys simple_evaluate adds, for a baseline run."""
    from lm_eval.loggers.utils import add_env_info, get_git_commit_hash

    results["config"] = {
        "model": model_type,
        "model_args": model_args,
        "batch_size": batch_size,
        "batch_sizes": [],
        "device": device,
        "use_cache": None,
        "limit": limit,
        "bootstrap_iters": 100000,
        "gen_kwargs": None,
        **(extra or {}),
    }
    results["git_hash"] = get_git_commit_hash()
    results["date"] = time.time()
    add_env_info(results)
    return results
