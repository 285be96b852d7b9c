"""Seq2seq baseline for any generation task (output_type generate_until): a seq2seq model (T5) trained
on the task's own prompt -> target pairs, then scored by lm-eval itself (``--model hf --model_args
pretrained=DIR,backend=seq2seq``), like any LLM.

    ecomsuite baseline ecom_review_summ --model t5-base --epochs 5 --learning-rate 3e-4 \\
        --data-dir ../shared/data --out runs/baselines/summ_t5

Sources are the rendered prompts (ecomsuite.prompts.render_examples) left-truncated to --max-length
tokens, as lm-eval's seq2seq backend truncates them; targets are cut to the task's ``max_gen_toks``
and end with EOS.
"""
from __future__ import annotations

import sys
from pathlib import Path

from ecomsuite import EcomError

from .common import LOG, check_max_length, fit, load, save

# max_length: source tokens; 512 = T5's window, which lm-eval's seq2seq backend also uses
DEFAULTS = {"epochs": 3.0, "learning_rate": 3e-4, "batch_size": 8, "max_length": 512}


def max_target_length(task) -> int:
    """Target tokens: the task's generation limit (lm-eval's default 256)."""
    gk = task.config.generation_kwargs or {}
    return int(gk.get("max_gen_toks", 256))


def train(cfg, task, docs: list[dict], model_path: str, out_dir: Path, device: str) -> dict:
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, DataCollatorForSeq2Seq, set_seed

    from ecomsuite.prompts import render_examples

    tok = load("tokenizer", AutoTokenizer.from_pretrained, model_path)
    set_seed(cfg.seed)
    model = load("model", AutoModelForSeq2SeqLM.from_pretrained, model_path)
    if tok.pad_token_id is None:
        raise EcomError(f"model {cfg.model}: its tokenizer has no pad token; a seq2seq baseline needs one")
    max_len = cfg.resolved("max_length")
    check_max_length(max_len, tok, model, cfg.model)
    max_target = max_target_length(task)
    delim = task.config.target_delimiter or ""
    eos = tok.eos_token_id
    data, cut = [], 0
    for ex in render_examples(task, docs=docs):
        target = ex["completion"].removeprefix(delim)
        # lm-eval's seq2seq backend encodes the whole prompt and keeps its LAST max_length tokens
        src = tok(ex["prompt"])["input_ids"]
        cut += len(src) > max_len
        labels = tok(target)["input_ids"][:max_target]
        if eos is not None and (not labels or labels[-1] != eos):
            labels = labels[: max_target - 1] + [eos]
        data.append({"input_ids": src[-max_len:], "attention_mask": [1] * min(len(src), max_len), "labels": labels})
    if cut:
        print(f"{LOG}: {cut} training prompt(s) longer than {max_len} tokens, left-truncated as lm-eval does",
              file=sys.stderr)
    stats = fit(cfg, model, tok, data, DataCollatorForSeq2Seq(tok, model=model, label_pad_token_id=-100), device,
                target_tokens=True)
    save(out_dir, model, tok)
    return {**stats, "max_target_length": max_target, "train_prompts_truncated": cut}


def evaluate(task_name: str, model_dir: str, output_path: str | Path, limit: float | None,
             data_dir: str | None, batch_size: int, device: str) -> tuple[dict, Path]:
    """lm-eval itself: ``--model hf --model_args pretrained=DIR,backend=seq2seq --tasks TASK``; returns
    (results, results file path)."""
    from lm_eval.utils import sanitize_model_name

    from ecomsuite.evaluate import evaluate as lm_eval_evaluate
    from ecomsuite.evaluate import model_args_string

    # require_complete=False: the baseline being finished is evaluated while its lineage says complete: false
    res = lm_eval_evaluate(model="hf", model_args=model_args_string(pretrained=model_dir, backend="seq2seq"),
                           tasks=[task_name], limit=limit or None, data_dir=data_dir, output_path=output_path,
                           batch_size=batch_size, device=device, log_samples=True, require_complete=False)
    folder = Path(output_path) / sanitize_model_name(str(model_dir))
    files = sorted(folder.glob("results_*.json"), key=lambda p: p.stat().st_mtime)
    if not files:
        raise EcomError(f"{folder}: lm-eval wrote no results file; see its log above")
    return res, files[-1]
