"""``ecomsuite sft``: LoRA / QLoRA / full fine-tuning with TRL's SFTTrainer on the tasks' own prompts.

Training examples are the tasks' train documents rendered through lm-eval's own task objects
(``ecomsuite.prompts``), so a model is trained on exactly the strings lm-eval evaluates it on (plain
or chat-template mode), tokenized the way lm-eval's HF model tokenizes them, with the EOS token
appended to the completion and the loss on the completion alone. The adapter it writes loads with
``PeftModel.from_pretrained`` and with plain lm-eval (``--model_args pretrained=BASE,peft=OUT``).

    ecomsuite sft trainers/recipes/sft_esci_lora.yaml data_dir=../shared/data out=runs/sft_esci_lora
    ecomsuite sft --model ~/.cache/ecomsuite/SmolLM2-135M-Instruct --tasks ecom_esci --train-size 1000 \\
        --data-dir ../shared/data --out runs/esci_lora --eval --eval-limit 200
    ecomsuite sft --tasks ecom_esci ecom_queryner --train-size '{ecom_esci: 500, ecom_queryner: 1000}' \\
        --data-dir ../shared/data --out runs/mixed --resume          # continue a killed run

Every recipe key is also a flag (``--lora-r 8``) and a ``key=value`` override (``lora_r=8``); all
keys are checked before anything runs and every problem is reported in one message. Scale out with
``accelerate launch [--num_processes N] -m ecomsuite.cli sft ...`` (see docs/sft.md).

Output folder: adapter (or full model) + tokenizer/chat template, ``lineage.json`` (``complete: true``
written last), ``sft_config.json``, ``checkpoints/`` while running, ``eval/`` with ``--eval``.
"""
from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import math
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecomsuite import EcomError
from ecomsuite.config import ConfigParser, option

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"
CONFIG_FILE = "sft_config.json"
RUN_STATE = "run_state.json"                     # stage + base/data fingerprints, see plan_output()
CHECKPOINTS = "checkpoints"
FINAL_TMP = ".final.tmp"
METHODS = ("lora", "qlora", "full")
BATCHING = ("auto", "padding_free", "packing", "padded")
DTYPES = ("auto", "float32", "bfloat16", "float16")
# keys that may change between a killed run and its --resume
RESUME_FREE = {"resume", "overwrite", "eval", "eval_limit", "eval_batch_size", "logging_steps", "name",
               "keep_checkpoints"}


@dataclass
class Config:
    """One fine-tuning run. Defaults suit a small model on CPU; recipes in trainers/recipes/."""
    out: str = option('',
                'output folder (required): adapter/model, lineage.json, sft_config.json, run_state.json')
    model: str = option('',
                "base model: a Hugging Face folder or a cached Hub id ('' = the embedded SmolLM2-135M-Instruct)")
    tasks: list[str] = option(default_factory=lambda: ['ecom_esci'], help=
                'task names, e.g. ecom_esci ecom_queryner (several = mixed-task training)')
    train_size: Any = option(None,
                'documents per task (int), {task: n}, the total with mixture, or null for the whole train split')
    mixture: dict | None = option(None,
                '{task: proportion}: split an integer train_size across the tasks')
    allow_fewer: bool = option(False,
                'take all documents when a task has fewer than train_size (else an error)')
    data_dir: str | None = option(None,
                'data folder (default: $ECOMSUITE_DATA, else the download cache, else the embedded sample)')
    chat_template: bool = option(False,
                'train (and --eval) on the chat-template prompt lm-eval builds with --apply_chat_template')
    method: str = option('lora',
                'lora | qlora (4-bit NF4 base, double quantisation; needs bitsandbytes) | full')
    lora_r: int = option(16,
                'LoRA rank')
    lora_alpha: int = option(32,
                'LoRA alpha (scaling alpha/r)')
    lora_dropout: float = option(0.05,
                'LoRA dropout in [0, 1)')
    target_modules: Any = option('all-linear',
                "'all-linear' or a list of module names, e.g. [q_proj, v_proj]")
    epochs: float = option(1.0,
                'passes over the training set (ignored when max_steps > 0)')
    max_steps: int = option(-1,
                'optimizer steps; > 0 overrides epochs, -1 = train for epochs')
    learning_rate: Any = option(None,
                'peak learning rate (null: 2e-4 for lora/qlora, 2e-5 for full)')
    batch_size: int = option(8,
                'examples per device per step')
    grad_accum: int = option(1,
                'gradient accumulation steps')
    warmup: float = option(0.03,
                'learning-rate warmup: a fraction of the steps when < 1 (0.03 = 3%), else a number of steps')
    lr_scheduler: str = option('linear',
                'learning-rate schedule: linear, cosine, constant, constant_with_warmup, cosine_with_restarts, polynomial, inverse_sqrt')
    weight_decay: float = option(0.0,
                'AdamW weight decay')
    optim: str = option('adamw_torch_fused',
                'optimizer, a transformers name: adamw_torch_fused (default), adamw_torch, sgd, adafactor, ...; bitsandbytes ones (paged_adamw_8bit, adamw_bnb_8bit, ...) need bitsandbytes and a CUDA GPU')
    max_grad_norm: float = option(1.0,
                'clip the gradient norm to this value (0 = no clipping)')
    group_by_length: bool = option(False,
                "sample batches of similar length (less padding; transformers' group_by_length sampler)")
    max_length: int = option(1024,
                'tokens per example; longer ones lose prompt tokens from the left (as lm-eval cuts contexts), or are dropped with drop_longer')
    drop_longer: bool = option(False,
                'drop examples longer than max_length instead of cutting their prompt; the count is recorded in lineage.json (train_stats.dropped_too_long) and run_state.json')
    batching: str = option('auto',
                'auto (padding_free on CUDA, padded on CPU) | padding_free | packing | padded')
    gradient_checkpointing: bool = option(False,
                'recompute activations in the backward pass (less memory, ~30% slower)')
    dtype: str = option('auto',
                'weights dtype: auto (bf16 on a bf16 GPU, fp32 for full and on CPU) | float32 | bfloat16 | float16')
    attn_implementation: str = option('sdpa',
                'sdpa | eager | flash_attention_2')
    seed: int = option(0,
                'seed of the subsample and of training')
    save_steps: int = option(50,
                'checkpoint every N optimizer steps')
    keep_checkpoints: int = option(2,
                'checkpoints kept while training')
    logging_steps: int = option(10,
                'print the loss every N steps')
    eval: bool = option(False,
                "score the tasks' test split with lm-eval right after training (results in OUT/eval/)")
    eval_limit: Any = option(200,
                'documents per task for --eval (0 or null = all)')
    eval_batch_size: Any = option(8,
                "lm-eval batch size or 'auto'")
    resume: bool = option(False,
                'continue a killed run from its newest complete checkpoint')
    overwrite: bool = option(False,
                'replace an existing sft output folder (trained beside it, swapped in once saved)')
    name: str | None = option(None,
                "name in lineage.json (default: the output folder's name)")


    @property
    def lr(self) -> float:
        return float(self.learning_rate) if self.learning_rate is not None else (2e-5 if self.method == "full" else 2e-4)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


FIELDS = {f.name: f for f in dataclasses.fields(Config)}
BOOL_FIELDS = [n for n, f in FIELDS.items() if f.type in ("bool", bool)]

HELP = {n: f.metadata["help"] for n, f in FIELDS.items()}   # one sentence per key (--help)
SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup", "cosine_with_restarts", "polynomial",
              "inverse_sqrt")
# optimizers transformers builds from bitsandbytes (its paged / 8-bit kernels run on CUDA)
BNB_OPTIMS = ("adamw_bnb_8bit", "adamw_8bit", "ademamix_8bit", "lion_8bit", "lion_32bit", "paged_adamw_32bit",
              "paged_adamw_8bit", "paged_ademamix_32bit", "paged_ademamix_8bit", "paged_lion_32bit", "paged_lion_8bit",
              "rmsprop_bnb", "rmsprop_bnb_8bit", "rmsprop_bnb_32bit")


def optimizer_names() -> list[str]:
    from transformers.training_args import OptimizerNames

    return [o.value for o in OptimizerNames]


# ============================================================================ config: parse + validate
def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def known_tasks() -> list[str]:
    """Task names defined in tasks/ (read from the YAMLs; no lm-eval import)."""
    from ecomsuite.lmeval import task_yamls

    names = []
    for y in task_yamls():
        m = re.search(r"^task:\s*([\w.-]+)\s*$", y.read_text(encoding="utf-8"), re.M)
        if m:
            names.append(m.group(1))
    return sorted(names)


def split_sizes(tasks: list[str], train_size, mixture) -> dict[str, int | None]:
    """Per-task document counts from ``train_size`` (int | {task: int} | None) and ``mixture``."""
    if isinstance(train_size, dict):
        return {t: train_size.get(t) for t in tasks}
    if mixture:
        total = sum(float(mixture[t]) for t in tasks)
        raw = {t: int(train_size) * float(mixture[t]) / total for t in tasks}
        sizes = {t: math.floor(v) for t, v in raw.items()}
        # largest remainder: the sizes add up to train_size exactly
        for t in sorted(tasks, key=lambda t: raw[t] - sizes[t], reverse=True)[: int(train_size) - sum(sizes.values())]:
            sizes[t] += 1
        return sizes
    return {t: train_size for t in tasks}


def _bnb_problem() -> str | None:
    try:
        import bitsandbytes  # noqa: F401
    except Exception as e:  # ImportError, or a broken native library
        return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    return None


def environment_problems(cfg: Config) -> list[str]:
    """What this machine lacks for the run (bitsandbytes, CUDA). ``reproduce --dry-run`` plans a study for
    another machine and skips these; a run checks them before anything loads."""
    problems = []
    if cfg.method == "qlora":
        why = _bnb_problem()
        if why:
            problems.append(f"method: qlora needs bitsandbytes (pip install 'ecomsuite[qlora]', i.e. "
                            f"bitsandbytes==0.50.2); it cannot be imported here ({why})")
    if cfg.optim in BNB_OPTIMS:
        why = _bnb_problem()
        if why or not _cuda():
            problems.append(f"optim: {cfg.optim} is a bitsandbytes optimizer and needs a CUDA GPU with bitsandbytes "
                            f"({why or 'no CUDA device here'}); use optim=adamw_torch on this machine")
    return problems


def validate(raw: dict, source: str = "config", check_env: bool = True, where: dict | None = None,
             problems: list[str] | None = None) -> Config:
    """Check every key at once; raise one EcomError naming all problems, else return a Config.
    ``check_env``: also check that this machine can run it (bitsandbytes, CUDA; see environment_problems).
    ``where``/``problems``: the key sources and problems ecomsuite.config found parsing a command line."""
    found = list(problems or [])
    problems = []
    unknown = [k for k in raw if k not in FIELDS]
    for k in unknown:
        near = difflib.get_close_matches(k, FIELDS, n=1)
        problems.append(f"unknown key {k!r}" + (f" (did you mean {near[0]!r}?)" if near else ""))
    v = {k: raw[k] for k in raw if k in FIELDS}
    cfg = Config()
    for k, val in v.items():
        setattr(cfg, k, val)

    def bad(key, msg):
        problems.append(f"{key}: {msg} (got {getattr(cfg, key)!r})")

    for k in BOOL_FIELDS:
        if not isinstance(getattr(cfg, k), bool):
            bad(k, "must be true or false")
    for k in ("lora_r", "lora_alpha", "batch_size", "grad_accum", "max_length", "save_steps", "keep_checkpoints",
              "logging_steps"):
        if not _is_int(getattr(cfg, k)) or getattr(cfg, k) < 1:
            bad(k, "must be a positive integer")
    if not _is_int(cfg.max_steps) or (cfg.max_steps < 1 and cfg.max_steps != -1):
        bad("max_steps", "must be a positive integer, or -1 to train for `epochs`")
    if not _is_int(cfg.seed):
        bad("seed", "must be an integer")
    if not _is_num(cfg.epochs) or cfg.epochs <= 0:
        bad("epochs", "must be a positive number")
    if not _is_num(cfg.lora_dropout) or not 0 <= cfg.lora_dropout < 1:
        bad("lora_dropout", "must be a number in [0, 1)")
    if not _is_num(cfg.warmup) or cfg.warmup < 0:
        bad("warmup", "must be >= 0 (a fraction of the steps when < 1, else a number of steps)")
    if not _is_num(cfg.weight_decay) or cfg.weight_decay < 0:
        bad("weight_decay", "must be a number >= 0")
    if cfg.learning_rate is not None and (not _is_num(cfg.learning_rate) or cfg.learning_rate <= 0):
        bad("learning_rate", "must be a positive number, or null for the method's default")
    if cfg.method not in METHODS:
        bad("method", f"must be one of {', '.join(METHODS)}")
    if cfg.batching not in BATCHING:
        bad("batching", f"must be one of {', '.join(BATCHING)}")
    if cfg.dtype not in DTYPES:
        bad("dtype", f"must be one of {', '.join(DTYPES)}")
    if cfg.lr_scheduler not in SCHEDULERS:
        bad("lr_scheduler", f"must be one of {', '.join(SCHEDULERS)}")
    if not _is_num(cfg.max_grad_norm) or cfg.max_grad_norm < 0:
        bad("max_grad_norm", "must be a number >= 0 (0 = no clipping)")
    if not isinstance(cfg.optim, str) or cfg.optim not in optimizer_names():
        near = difflib.get_close_matches(str(cfg.optim), optimizer_names(), n=1)
        bad("optim", "must be a transformers optimizer name such as adamw_torch, adamw_torch_fused, paged_adamw_8bit"
                     + (f" (did you mean {near[0]!r}?)" if near else ""))
    if not isinstance(cfg.attn_implementation, str) or not cfg.attn_implementation:
        bad("attn_implementation", "must be a string such as sdpa, eager, flash_attention_2")
    tm = cfg.target_modules
    if not (tm == "all-linear" or (isinstance(tm, list) and tm and all(isinstance(x, str) and x for x in tm))):
        bad("target_modules", "must be 'all-linear' or a non-empty list of module names, e.g. [q_proj, v_proj]")
    if not isinstance(cfg.out, str) or not cfg.out.strip():
        bad("out", "is required: the output folder (--out DIR or out=DIR; see ecomsuite sft --help)")
    if not isinstance(cfg.model, str):
        bad("model", "must be a model folder or a Hub id")
    elif cfg.model:
        mp = Path(cfg.model).expanduser()
        looks_local = cfg.model.startswith((".", "/", "~")) or cfg.model.count("/") > 1
        if (mp.exists() and not mp.is_dir()) or (looks_local and not mp.is_dir()):
            bad("model", "folder not found; give a Hugging Face model folder or a Hub id")
    if cfg.data_dir is not None and (not isinstance(cfg.data_dir, str) or not Path(cfg.data_dir).expanduser().is_dir()):
        bad("data_dir", "folder not found; point it at a folder holding esci/, queryner/, ... or leave it unset")
    for k in ("eval_limit",):
        if cfg.eval_limit is not None and (not _is_int(cfg.eval_limit) or cfg.eval_limit < 0):
            bad(k, "must be a number of documents per task (0 or null = all)")
    if not (_is_int(cfg.eval_batch_size) and cfg.eval_batch_size > 0) and cfg.eval_batch_size not in ("auto",):
        bad("eval_batch_size", "must be a positive integer or 'auto'")
    if cfg.name is not None and not isinstance(cfg.name, str):
        bad("name", "must be a string")
    if cfg.resume and cfg.overwrite:
        problems.append("resume and overwrite: choose one (resume continues the run in out, overwrite starts over)")

    # tasks and sizes
    tasks_ok = isinstance(cfg.tasks, list) and cfg.tasks and all(isinstance(t, str) for t in cfg.tasks)
    if isinstance(cfg.tasks, str):
        cfg.tasks = [cfg.tasks]
        tasks_ok = True
    if not tasks_ok:
        bad("tasks", "must be a non-empty list of task names, e.g. [ecom_esci, ecom_queryner]")
    else:
        known = known_tasks()
        for t in cfg.tasks:
            if t not in known:
                near = difflib.get_close_matches(t, known, n=1)
                problems.append(f"tasks: unknown task {t!r}" + (f" (did you mean {near[0]!r}?)" if near else "")
                                + f"; known: {', '.join(known)}")
        if len(set(cfg.tasks)) != len(cfg.tasks):
            bad("tasks", "lists a task twice")
    ts = cfg.train_size
    if isinstance(ts, dict):
        if tasks_ok:
            extra = [t for t in ts if t not in cfg.tasks]
            missing = [t for t in cfg.tasks if t not in ts]
            if extra:
                problems.append(f"train_size: {', '.join(map(str, extra))} not in tasks ({', '.join(cfg.tasks)})")
            if missing:
                problems.append(f"train_size: no size for {', '.join(missing)} (give every task a size, or null for all)")
        for t, n in ts.items():
            if n is not None and (not _is_int(n) or n < 1):
                problems.append(f"train_size.{t}: must be a positive integer or null (got {n!r})")
        if cfg.mixture:
            problems.append("mixture: give either per-task sizes in train_size or a total train_size with mixture "
                            "proportions, not both")
    elif ts is not None and (not _is_int(ts) or ts < 1):
        bad("train_size", "must be a positive integer (documents per task, or the total with mixture), "
                          "a {task: size} mapping, or null for the whole train split")
    if cfg.mixture is not None and not isinstance(ts, dict):
        mx = cfg.mixture
        if not isinstance(mx, dict) or not mx or not all(_is_num(w) and w >= 0 for w in mx.values()) \
                or not sum(mx.values()) > 0:
            bad("mixture", "must map each task to a proportion >= 0, e.g. {ecom_esci: 0.5, ecom_queryner: 0.5}")
        elif tasks_ok and set(mx) != set(cfg.tasks):
            bad("mixture", f"must give a proportion for exactly the tasks ({', '.join(cfg.tasks)})")
        if not _is_int(ts):
            problems.append("mixture: needs an integer train_size (the total number of documents to split)")

    if check_env and not problems and not found:
        problems += environment_problems(cfg)
    problems = found + [PARSER.locate(p, where or {}) for p in problems]
    if problems:
        raise EcomError(f"{source}: {len(problems)} problem(s): " + "; ".join(problems))
    return cfg


PARSER = ConfigParser(
    Config, "ecomsuite sft", "Fine-tune LoRA / QLoRA / full with TRL on the tasks' own prompts.",
    recipes=RECIPES_DIR, prefix="sft_",
    examples=["ecomsuite sft trainers/recipes/sft_esci_lora.yaml data_dir=../shared/data out=runs/esci_lora",
              "ecomsuite sft --tasks ecom_esci --train-size 1000 --data-dir ../shared/data --out runs/x --eval",
              "ecomsuite sft sft_mixed_lora data_dir=../shared/data out=runs/mixed --resume"],
    notes="a.b=v sets one entry of a mapping: train_size.ecom_esci=500, mixture.ecom_esci=0.5")


def build_parser() -> argparse.ArgumentParser:
    return PARSER.build()


def parse_args(argv: list[str], check_env: bool = True) -> Config:
    """Recipe + key=value + flags (ecomsuite.config) -> a validated Config; every problem in one EcomError."""
    raw, where, source, problems = PARSER.gather(argv)
    return validate(raw, source, check_env=check_env, where=where, problems=problems)


# ============================================================================ data
def render_rows(cfg: Config, tokenizer) -> tuple[list[dict], dict]:
    """The training examples: each task's train split, nested-subsampled, rendered through lm-eval.
    Returns (rows [{prompt, completion, id, task}], info {sizes, data_source, data_fingerprint})."""
    import logging

    from ecomsuite.data import subsample
    from ecomsuite.prompts import chat_renderer, load_tasks, render_examples, split_docs

    logging.getLogger("lm_eval").setLevel(logging.ERROR)  # its per-task custom_dataset notice is noise here

    data_dir = str(Path(cfg.data_dir).expanduser().resolve()) if cfg.data_dir else None
    tasks = load_tasks(cfg.tasks, metadata={"data_dir": data_dir} if data_dir else None)
    renderer = chat_renderer(tokenizer) if cfg.chat_template else None
    sizes = split_sizes(cfg.tasks, cfg.train_size, cfg.mixture)
    rows, used, sources, prints, available = [], {}, {}, {}, {}
    for name in cfg.tasks:
        task = tasks[name]
        docs = split_docs(task, "train")
        available[name] = len(docs)
        if sizes[name] == 0:
            continue
        sub = subsample(docs, sizes[name], seed=cfg.seed, allow_fewer=cfg.allow_fewer, what=f"{name}: train split")
        ll = task.OUTPUT_TYPE in ("multiple_choice", "loglikelihood")  # how lm-eval splits its requests
        rows += [{**r, "loglikelihood": ll} for r in render_examples(task, "train", docs=sub, chat_template=renderer)]
        used[name] = len(sub)
        meta = task.config.metadata if isinstance(task.config.metadata, dict) else {}
        sources[name] = meta.get("data_source")
        prints[name] = meta.get("data_fingerprint")
    if not rows:
        raise EcomError("no training examples: every task got size 0 (check train_size / mixture)")
    one = len(set(sources.values())) == 1
    info = {"sizes": used, "available": available,
            "data_source": next(iter(sources.values())) if one else sources,
            "data_fingerprint": prints if len(prints) > 1 else next(iter(prints.values()))}
    return rows, info


def _encode(tokenizer, text: str) -> list[int]:
    """Encode like lm-eval's HFLM.tok_encode (tokenizer default special tokens, none if BOS already there)."""
    bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    bos_str = tokenizer.decode(bos) if bos is not None else None
    if bos_str and text.startswith(bos_str):
        return tokenizer.encode(text, add_special_tokens=False)
    return tokenizer.encode(text)


def encode_pair(tokenizer, prompt: str, completion: str, loglikelihood: bool = False) -> tuple[list[int], list[int]]:
    """(prompt ids, completion ids) as lm-eval's HF model sees them.

    loglikelihood requests (multiple choice): exactly ``_encode_pair``: trailing spaces of the context
    move to the continuation, and the continuation is the whole encoding minus the context's length.
    generate_until requests: the context is encoded as is (that is what the model generates from), the
    completion is what follows it in the whole encoding (or, where tokens merge across the boundary,
    the completion encoded alone)."""
    if loglikelihood:
        n = len(prompt) - len(prompt.rstrip())
        if n:
            prompt, completion = prompt[:-n], prompt[-n:] + completion
        whole = _encode(tokenizer, prompt + completion)
        ctx = _encode(tokenizer, prompt)
        return ctx, whole[len(ctx):]
    ctx = _encode(tokenizer, prompt)
    whole = _encode(tokenizer, prompt + completion)
    if whole[:len(ctx)] == ctx:
        return ctx, whole[len(ctx):]
    return ctx, tokenizer.encode(completion, add_special_tokens=False)


def actual_docs(sizes: dict[str, int], stats: dict) -> dict[str, int]:
    """Documents each task trains on: the subsample's size, less examples dropped as too long."""
    kept = stats.get("examples_per_task") or {}
    return {t: kept.get(t, 0) for t in sizes} if kept else dict(sizes)


def tokenize_rows(rows: list[dict], tokenizer, max_length: int, drop_longer: bool = False) -> tuple[list[dict], dict]:
    """prompt/completion rows -> {input_ids, labels} with EOS appended and the prompt masked (-100);
    a row's ``loglikelihood`` flag (set by render_rows) picks lm-eval's split for that request type.
    Over-long examples lose prompt tokens from the left (lm-eval left-truncates contexts too), or, with
    ``drop_longer``, are left out (the authors' protocol: examples over 512 tokens dropped). Examples whose
    completion alone is too long are always dropped. ``stats["examples_per_task"]``: what is kept, per task."""
    eos = tokenizer.eos_token_id
    if eos is None:
        raise EcomError(f"tokenizer {tokenizer.name_or_path}: no EOS token; the model could not learn to stop")
    out, cut, dropped, per_task = [], 0, 0, {}
    for r in rows:
        ctx, comp = encode_pair(tokenizer, r["prompt"], r["completion"], r.get("loglikelihood", False))
        comp = comp + [eos]
        if len(ctx) + len(comp) > max_length:
            keep = max_length - len(comp)
            if keep < 1 or drop_longer:
                dropped += 1
                continue
            ctx, cut = ctx[len(ctx) - keep:], cut + 1
        out.append({"input_ids": ctx + comp, "labels": [-100] * len(ctx) + comp})
        if r.get("task") is not None:
            per_task[r["task"]] = per_task.get(r["task"], 0) + 1
    if not out:
        raise EcomError(f"max_length {max_length}: every example is longer than that"
                        f"{' (drop_longer)' if drop_longer else ''}; raise max_length")
    lengths = [len(r["input_ids"]) for r in out]
    stats = {"examples": len(out), "tokens": sum(lengths), "completion_tokens": sum(
        sum(1 for x in r["labels"] if x != -100) for r in out), "max_len": max(lengths),
        "mean_len": round(sum(lengths) / len(lengths), 1), "prompts_cut": cut, "dropped_too_long": dropped,
        "examples_per_task": per_task}
    return out, stats


# ============================================================================ model + trainer
def resolved_batching(cfg: Config) -> str:
    """`auto`: padding_free on CUDA; padded on CPU, where no varlen attention kernel exists and SDPA does L^2 work
    over the whole flattened batch (measured on SmolLM2/ESCI, bench/bench_sft.py: padded 14.0 s/step vs
    padding_free 16.7 s/step)."""
    if cfg.batching != "auto":
        return cfg.batching
    return "padding_free" if _cuda() else "padded"


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _bf16_ok() -> bool:
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def weight_dtype(cfg: Config):
    import torch

    if cfg.dtype != "auto":
        return getattr(torch, cfg.dtype)
    return torch.bfloat16 if (_bf16_ok() and cfg.method != "full") else torch.float32


def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as e:
        raise EcomError(f"model {path}: cannot load its tokenizer ({str(e).splitlines()[0]}); "
                        "give a Hugging Face model folder or a Hub id that is cached") from None
    if tok.pad_token is None:  # no new token: the embeddings stay the base model's
        tok.pad_token = tok.eos_token
    return tok


def load_model(cfg: Config, path: str):
    import torch
    from transformers import AutoModelForCausalLM

    kwargs: dict = {"dtype": weight_dtype(cfg), "attn_implementation": cfg.attn_implementation}
    if cfg.method == "qlora":
        from transformers import BitsAndBytesConfig

        compute = torch.bfloat16 if _bf16_ok() else torch.float32
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute, bnb_4bit_quant_storage=torch.uint8)
        kwargs["dtype"] = compute
        kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", 0))} if _cuda() else {"": "cpu"}
    try:
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except (OSError, ValueError, ImportError, RuntimeError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if cfg.method == "qlora":
            raise EcomError(f"method: qlora cannot run here: bitsandbytes 4-bit loading failed ({msg}); "
                            "use method: lora, or a machine bitsandbytes supports") from None
        raise EcomError(f"model {path}: cannot load ({msg})") from None
    if cfg.method == "qlora":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing)
    return model


def peft_config(cfg: Config):
    if cfg.method == "full":
        return None
    from peft import LoraConfig

    return LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=cfg.target_modules, bias="none", task_type="CAUSAL_LM")


def sft_args(cfg: Config, output_dir: str, **extra):
    """TRL SFTConfig for a run: rows are tokenized already (prompt masked, EOS appended), so TRL only
    batches them: padding_free flattens a batch into one sequence with position_ids (no pad tokens,
    attention kept within each example), packing fills fixed max_length rows, padded pads per batch."""
    from trl import SFTConfig

    batching = resolved_batching(cfg)
    bf16 = _bf16_ok() and cfg.dtype in ("auto", "bfloat16")
    fp16 = _cuda() and cfg.dtype == "float16"
    kw = dict(
        output_dir=output_dir, seed=cfg.seed, data_seed=cfg.seed,
        per_device_train_batch_size=cfg.batch_size, gradient_accumulation_steps=cfg.grad_accum,
        num_train_epochs=cfg.epochs, max_steps=cfg.max_steps, learning_rate=cfg.lr,
        lr_scheduler_type=cfg.lr_scheduler, warmup_steps=cfg.warmup, weight_decay=cfg.weight_decay,
        optim=cfg.optim, max_grad_norm=cfg.max_grad_norm,
        train_sampling_strategy="group_by_length" if cfg.group_by_length else "random",
        logging_steps=cfg.logging_steps, logging_first_step=True, save_strategy="steps",
        save_steps=cfg.save_steps, save_total_limit=cfg.keep_checkpoints, report_to="none",
        disable_tqdm=True, bf16=bf16, fp16=fp16, use_cpu=not _cuda(),
        gradient_checkpointing=cfg.gradient_checkpointing,
        max_length=cfg.max_length if batching == "packing" else None,  # rows are truncated already
        packing=batching == "packing", packing_strategy="bfd",
        padding_free=batching in ("padding_free", "packing"),
        completion_only_loss=True, dataset_num_proc=None, dataloader_num_workers=0,
        ddp_find_unused_parameters=False if cfg.method != "full" else None,
    )
    kw.update(extra)
    return SFTConfig(**kw)


def score_label_positions_only() -> bool:
    """Make TRL's fused LM head project only the positions that carry a label, on every device.

    TRL 1.16 (``trl.trainer.utils.add_fused_lm_head``) does so only where Triton runs its kernel; on CPU it
    projects every position through the LM head (and folds entropy / top-1 over the whole vocabulary)
    and masks afterwards. ecom completions are 1-40 tokens after prompts of ~150, so that is nearly all
    waste. The compact path is exact everywhere (TRL avoids it elsewhere only to spare Neuron
    recompiles); the kernel choice (Triton or torch ops) is untouched. Returns whether it is active."""
    try:
        import trl.trainer.utils as tu
    except ImportError:
        return False
    orig = getattr(tu, "_use_triton", None)
    if orig is None:
        return False
    if getattr(orig, "_ecomsuite_compact", False):
        return True

    def compact(device) -> bool:
        return device.type in ("cpu", "cuda") or orig(device)
    compact._ecomsuite_compact = True
    compact.original = orig
    tu._use_triton = compact
    return True


def build_trainer(model, tokenizer, rows: list[dict], cfg: Config, output_dir: str, callbacks=(), **args_extra):
    """The training core (no lm-eval import): tokenized rows ({input_ids, labels}) -> a TRL SFTTrainer
    (LoRA/QLoRA via peft_config, or full). ``bench/gpu_sft.py`` runs this same function."""
    from datasets import Dataset
    from transformers import PrinterCallback
    from trl import SFTTrainer

    args = sft_args(cfg, output_dir, **args_extra)
    score_label_positions_only()
    ds = Dataset.from_list([{"input_ids": r["input_ids"], "labels": r["labels"]} for r in rows])
    if cfg.group_by_length:  # the sampler reads the lengths from transformers' `length` column
        ds = ds.add_column("length", [len(r["input_ids"]) for r in rows])
    trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tokenizer,
                         peft_config=peft_config(cfg), callbacks=list(callbacks))
    trainer.remove_callback(PrinterCallback)  # raw log dicts: progress_callback() prints readable lines
    return trainer


def progress_callback(total_tokens_per_epoch: int | None = None, stream=None):
    """Prints `step i/N (p%) loss L lr R | tok/s | elapsed, ETA` at each logging step (main process)."""
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        def __init__(self):
            self.t0 = None
            self.step0 = 0
            self.curve: list[list] = []

        def on_train_begin(self, args, state, control, **kw):
            self.t0, self.step0 = time.time(), state.global_step
            if state.is_world_process_zero:
                what = f"resuming at step {state.global_step}/{state.max_steps}" if state.global_step else \
                    f"training {state.max_steps} steps"
                print(f"ecomsuite sft: {what}", file=stream or sys.stderr, flush=True)

        def on_log(self, args, state, control, logs=None, **kw):
            if not state.is_world_process_zero or not logs or "loss" not in logs:
                return
            done = state.global_step - self.step0
            el = time.time() - self.t0
            eta = el / done * (state.max_steps - state.global_step) if done else float("nan")
            tps = ""
            if total_tokens_per_epoch and state.num_train_epochs:
                ep0 = self.step0 / max(state.max_steps, 1) * state.num_train_epochs
                tps = f" | {total_tokens_per_epoch * (state.epoch - ep0) / max(el, 1e-9):,.0f} tok/s"
            print(f"step {state.global_step}/{state.max_steps} ({100 * state.global_step / max(state.max_steps, 1):.0f}%) "
                  f"loss {logs['loss']:.4f} lr {logs.get('learning_rate', 0):.2e}{tps} | "
                  f"elapsed {_hms(el)}, ETA {_hms(eta)}", file=stream or sys.stderr, flush=True)

    return Progress()


def _hms(s: float) -> str:
    if s != s:
        return "?"
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


# ============================================================================ output folder
# Output folder states (RUN_STATE's "stage"): training -> trained (training finished; its figures recorded)
# -> saved (adapter in OUT) -> lineage complete: true. --resume continues from the recorded stage, so a kill
# during the final save or --eval never trains again.
OURS = ("adapter", "model")  # lineage kinds sft writes (besides outputs.MARKER)
CHECKPOINT_STATE = ("optimizer.pt", "scheduler.pt", "scaler.pt", "trainer_state.json", "training_args.bin")


def last_checkpoint(out: Path) -> Path | None:
    """Newest checkpoint whose trainer_state.json (written last by the Trainer) is there and parses."""
    best = None
    for d in (out / CHECKPOINTS).glob("checkpoint-*"):
        m = re.fullmatch(r"checkpoint-(\d+)", d.name)
        st = d / "trainer_state.json"
        if not m or not st.is_file():
            continue
        try:
            json.loads(st.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if best is None or int(m.group(1)) > best[0]:
            best = (int(m.group(1)), d)
    return best[1] if best else None


def _ours(out: Path) -> bool:
    from ecomsuite import outputs

    return (out / CONFIG_FILE).is_file() or outputs.is_ours(out, OURS)


def plan_output(cfg: Config, out: Path) -> str:
    """What to do with the output folder: 'fresh' (new or empty), 'replace' (--overwrite of our own output:
    the new run is written beside it and swapped in once saved), 'resume', 'done'; raises EcomError otherwise."""
    from ecomsuite import lineage

    if out.exists() and not out.is_dir():
        raise EcomError(f"out: {out} is a file; give a folder")
    if not out.exists() or not any(out.iterdir()):
        return "fresh"
    lin = lineage.read(out) or {}
    if cfg.overwrite:
        if not _ours(out):
            raise EcomError(f"out: {out} is not empty and is not an ecomsuite sft folder; refusing to overwrite it, "
                            "choose another folder")
        return "replace"
    if cfg.resume:
        if not _ours(out):
            raise EcomError(f"out: {out} holds no ecomsuite sft run to resume; choose the folder of a killed run")
        saved = json.loads((out / CONFIG_FILE).read_text()) if (out / CONFIG_FILE).is_file() else {}
        now = cfg.to_dict()
        # a key added to ecomsuite after the run started is absent from its config: it ran with the default
        old = {k: saved.get(k, FIELDS[k].default if k in FIELDS and k not in ("tasks",) else None)
               for k in set(saved) | set(now)}
        diff = [k for k in sorted(old) if k not in RESUME_FREE and old[k] != now.get(k)]
        if diff:
            raise EcomError(f"resume: {out} was started with different settings ({', '.join(f'{k}: {old[k]!r} -> {now.get(k)!r}' for k in diff)}); "
                            "resume with the same recipe and values, or overwrite=true to start over")
        return "done" if lin.get("complete") else "resume"
    if lin.get("complete"):
        raise EcomError(f"out: {out} already holds a complete {lin.get('kind', 'adapter')}; "
                        "pass --overwrite to replace it or choose another folder")
    if _ours(out):
        raise EcomError(f"out: {out} holds an unfinished run; pass --resume to continue it or --overwrite to start over")
    raise EcomError(f"out: {out} is not empty; choose a new or empty folder")


def read_run_state(out: Path) -> dict:
    f = out / RUN_STATE
    if not f.is_file():
        return {}
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def write_run_state(out: Path, **fields) -> None:
    """Update ``out/run_state.json`` atomically (main process only)."""
    data = {**read_run_state(out), **fields}
    tmp = out / (RUN_STATE + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    tmp.replace(out / RUN_STATE)


def check_resume(state: dict, out: Path, base_hash: str | None, data_fingerprint) -> None:
    """Refuse a resume whose base model weights or training data differ from those the run started on."""
    if not state:
        print(f"ecomsuite sft: warning: {out} has no {RUN_STATE} (started by an older ecomsuite); the base model "
              "and data of the checkpoint cannot be checked", file=sys.stderr)
        return
    if state.get("base_model_hash") != base_hash:
        raise EcomError(f"resume: the base model's weights differ from those {out} was trained on (fingerprint "
                        f"{state.get('base_model_hash')} -> {base_hash}); resume with the same base model, or "
                        "--overwrite to start over")
    if state.get("data_fingerprint") != data_fingerprint:
        raise EcomError(f"resume: the training data differ from those {out} was trained on (data fingerprint "
                        f"{state.get('data_fingerprint')} -> {data_fingerprint}); resume with the same data, or "
                        "--overwrite to start over")


def finished_checkpoint(out: Path) -> tuple[Path, dict] | None:
    """The newest checkpoint if training had reached its last step there (then resuming must not train)."""
    ck = last_checkpoint(out)
    if ck is None:
        return None
    st = json.loads((ck / "trainer_state.json").read_text())
    if st.get("max_steps") and st.get("global_step", 0) >= st["max_steps"]:
        return ck, st
    return None


def _train_figures(state, step0: int, train_s: float | None, tokens: float | None, train_loss) -> dict:
    """What lineage records about training, from a TrainerState (or its trainer_state.json dict)."""
    get = state.get if isinstance(state, dict) else (lambda k, d=None: getattr(state, k, d))
    curve = [[h["step"], round(h["loss"], 5)] for h in get("log_history") or [] if "loss" in h and "step" in h]
    return {"steps": get("global_step"), "epochs": round(get("epoch") or 0, 4),
            "train_loss": round(train_loss, 5) if train_loss is not None and train_loss == train_loss else None,
            "loss_curve": curve, "train_time_s": round(train_s, 1) if train_s is not None else None,
            "tokens_per_s": round(tokens / train_s, 1) if tokens is not None and train_s else None,
            "trained_tokens": round(tokens) if tokens is not None else None,
            "resumed_from_step": step0 or None}


def _train_cost(figures: dict, world_size: int) -> dict:
    """Training cost for lineage (``train_cost``): tokens trained on (examples' tokens x epochs run here), training
    seconds, device and peak memory (ecomsuite.cost: CUDA allocations on a GPU, else the process's peak RSS)."""
    from ecomsuite import cost

    return cost.train_record(figures.get("trained_tokens"), figures.get("train_time_s"), world_size)


def _final_from_checkpoint(ck: Path, out: Path) -> None:
    """Training finished before a kill: the final weights are the last checkpoint's (the Trainer saves one at
    the last step); copy its model files into ``out`` without training again."""
    for p in ck.iterdir():
        if p.is_file() and p.name not in CHECKPOINT_STATE and not p.name.startswith("rng_state"):
            shutil.copy2(p, out / p.name)


def _move_in(tmp: Path, out: Path) -> None:
    (tmp / "training_args.bin").unlink(missing_ok=True)
    for p in tmp.iterdir():
        dest = out / p.name
        if dest.is_dir():
            shutil.rmtree(dest)
        p.replace(dest)
    tmp.rmdir()


def save_final(trainer, work: Path, state) -> None:
    """The trained weights (every rank: FSDP gathers) -> ``work`` via ``work/.final.tmp`` (main process moves)."""
    tmp = work / FINAL_TMP
    if state.is_main_process and tmp.exists():
        shutil.rmtree(tmp)
    state.wait_for_everyone()
    trainer.save_model(str(tmp))
    state.wait_for_everyone()
    if state.is_main_process:
        _move_in(tmp, work)


def _eval_summary(results: dict) -> dict:
    out = {}
    for task, metrics in (results.get("results") or {}).items():
        out[task] = {k.split(",")[0]: v for k, v in metrics.items()
                     if isinstance(v, (int, float)) and "stderr" not in k and not isinstance(v, bool)}
    return out


def _eval_args(cfg: Config, model_path: str, out: Path) -> str:
    from ecomsuite.evaluate import model_args_string

    return model_args_string(pretrained=out) if cfg.method == "full" else \
        model_args_string(pretrained=model_path, peft=out)


# ============================================================================ run
def run(cfg: Config, argv: list[str] | None = None, callbacks=()) -> Path:
    """Train (or resume) one run end to end; returns the output folder."""
    from ecomsuite import outputs

    out = Path(cfg.out).expanduser().resolve()
    with outputs.writing(out, "sft output"):
        return _run(cfg, out, argv, callbacks)


def _run(cfg: Config, out: Path, argv, callbacks) -> Path:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import warnings

    from ecomsuite import lineage, outputs

    for what in ("gradient_checkpointing", "is_gradient_checkpointing"):  # TRL 1.16 sets the old name itself
        warnings.filterwarnings("ignore", message=f"`{what}` is deprecated", category=FutureWarning)

    model_path = cfg.model
    if not model_path:
        from ecomsuite.models import default_model_path

        model_path = str(default_model_path())
    elif Path(model_path).expanduser().is_dir():
        model_path = str(Path(model_path).expanduser().resolve())
    # validate everything before anything is written: the folder, the data, the eval arguments
    local_model = model_path if Path(model_path).is_dir() else None
    outputs.check_out(out, [local_model, cfg.data_dir], flag="out", inputs_name="inputs (base model, data folder)")
    plan = plan_output(cfg, out)  # every rank reads the folder before rank 0 writes to it
    if plan == "done":
        print(f"ecomsuite sft: {out} is complete already (lineage.json); nothing to do", file=sys.stderr)
        return out
    if cfg.eval:
        _eval_args(cfg, model_path, out)
    tokenizer = load_tokenizer(model_path)
    rows, info = render_rows(cfg, tokenizer)
    examples, stats = tokenize_rows(rows, tokenizer, cfg.max_length, drop_longer=cfg.drop_longer)
    trained_docs = actual_docs(info["sizes"], stats)
    base_hash = lineage.model_hash(model_path)
    run_state = read_run_state(out) if plan == "resume" else {}
    if plan == "resume":
        check_resume(run_state, out, base_hash, info["data_fingerprint"])
    stage = run_state.get("stage", "training")
    done_ck = finished_checkpoint(out) if plan == "resume" else None
    if stage == "training" and done_ck is not None:  # killed after the last step, before "trained" was recorded
        stage = "trained"

    # --overwrite: the new run goes into a sibling folder; the old output stays until the new one is saved
    work = outputs.staging_path(out) if plan == "replace" else out
    ckpt_dir = work / CHECKPOINTS
    # SFTConfig first: it sets up the distributed state (accelerate launch / torchrun) for the barriers below
    probe = sft_args(cfg, str(ckpt_dir))
    from accelerate import PartialState

    state = PartialState()
    state.wait_for_everyone()
    resume_from = last_checkpoint(out) if plan == "resume" and stage == "training" else None
    t_start = time.time()
    requested = cfg.train_size if not cfg.mixture else {"total": cfg.train_size, "mixture": cfg.mixture}
    base = dict(name=cfg.name or out.name, base_model=model_path, method=cfg.method, tasks=list(cfg.tasks),
                # what was trained on (leaderboard plots and the report read it), not what was asked for
                train_size=trained_docs if len(trained_docs) > 1 else next(iter(trained_docs.values())),
                train_size_requested=requested,
                seed=cfg.seed, chat_template=cfg.chat_template,
                command=lineage.command_line(["ecomsuite", "sft", *argv]) if argv is not None else lineage.command_line())
    kind = "model" if cfg.method == "full" else "adapter"
    if state.is_main_process:
        if plan == "replace":
            outputs.staging(out, OURS)
        work.mkdir(parents=True, exist_ok=True)
        if not (work / outputs.MARKER).is_file():
            outputs.mark(work)
        (work / CONFIG_FILE).write_text(json.dumps(cfg.to_dict(), indent=2), encoding="utf-8")
        if plan != "resume" or not run_state:
            write_run_state(work, stage=stage, base_model=model_path, base_model_hash=base_hash,
                            data_source=info["data_source"], data_fingerprint=info["data_fingerprint"],
                            train_docs=trained_docs, dropped_too_long=stats["dropped_too_long"],
                            config=cfg.to_dict())
        prev = {k: v for k, v in (lineage.read(work) or {}).items() if k not in ("kind", "created")}
        status = {"training": f"training (resuming from {resume_from.name})" if resume_from else "training",
                  "trained": "saving", "saved": "evaluating" if cfg.eval else "finishing"}[stage]
        lineage.write(work, kind, **{**prev, **base, "complete": False, "status": status})
        if plan == "resume" and stage == "training" and resume_from is None:
            print(f"ecomsuite sft: no complete checkpoint in {ckpt_dir}; starting from step 0", file=sys.stderr)
        if stage != "training":
            print(f"ecomsuite sft: training had finished ({RUN_STATE}: {stage}); resuming into the "
                  f"{'save' if stage == 'trained' else 'evaluation' if cfg.eval else 'finish'} only",
                  file=sys.stderr)
    state.wait_for_everyone()
    if state.is_main_process:
        print(f"ecomsuite sft: {stats['examples']} examples ({', '.join(f'{t}={n}' for t, n in info['sizes'].items())}), "
              f"{stats['tokens']:,} tokens (mean {stats['mean_len']}, max {stats['max_len']}), method {cfg.method}, "
              f"batching {resolved_batching(cfg)}, out {out}", file=sys.stderr, flush=True)
        if stats["prompts_cut"] or stats["dropped_too_long"]:
            print(f"ecomsuite sft: {'' if cfg.drop_longer else 'warning: '}max_length {cfg.max_length}: "
                  f"{stats['prompts_cut']} prompt(s) cut from the left, {stats['dropped_too_long']} example(s) dropped"
                  f"{' (drop_longer)' if cfg.drop_longer else ''}; training on "
                  f"{', '.join(f'{t}={n}' for t, n in trained_docs.items())}", file=sys.stderr)
    del probe

    if stage == "training":
        model = load_model(cfg, model_path)
        prog = progress_callback(stats["tokens"])
        trainer = build_trainer(model, tokenizer, examples, cfg, str(ckpt_dir), callbacks=[prog, *callbacks])
        if resume_from is not None and state.is_main_process:
            print(f"ecomsuite sft: resuming from {resume_from}", file=sys.stderr)
        step0 = json.loads((resume_from / "trainer_state.json").read_text()).get("global_step", 0) if resume_from else 0
        t_train = time.time()
        result = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
        st = trainer.state
        epochs_here = (st.epoch or 0) - (step0 / max(st.max_steps, 1)) * (st.num_train_epochs or 0)
        figures = _train_figures(st, step0, time.time() - t_train, stats["tokens"] * epochs_here,
                                 result.training_loss)
        figures["train_cost"] = _train_cost(figures, state.num_processes)
        if state.is_main_process:  # recorded before saving: a kill from here on never trains again
            write_run_state(work, stage="trained", train=figures)
        save_final(trainer, work, state)
        del trainer, model
    else:
        figures = run_state.get("train") or (_train_figures(done_ck[1], 0, None, None, None) if done_ck else {})
        ck = done_ck[0] if done_ck else None
        if stage == "trained" and (ck is None or ck.name != f"checkpoint-{figures.get('steps')}"):
            raise EcomError(f"resume: {out}: training finished but its last checkpoint is missing, so the final "
                            "weights cannot be saved; --overwrite to train again")
        if stage == "trained" and state.is_main_process:
            if (work / FINAL_TMP).exists():
                shutil.rmtree(work / FINAL_TMP)
            _final_from_checkpoint(ck, work)
        state.wait_for_everyone()
    if not state.is_main_process:
        return out
    write_run_state(work, stage="saved")
    if plan == "replace":  # the new output is saved: only now does the old one go
        outputs.swap_in(work, out, OURS)
    hyper = {k: v for k, v in cfg.to_dict().items()
             if k not in ("out", "model", "tasks", "train_size", "mixture", "seed", "data_dir", "resume", "overwrite",
                          "eval", "eval_limit", "eval_batch_size", "name")}
    hyper["learning_rate"] = cfg.lr
    hyper["world_size"] = state.num_processes
    hyper["effective_batch_size"] = cfg.batch_size * cfg.grad_accum * state.num_processes
    prev_lin = lineage.read(out) or {}
    if stage != "training" and prev_lin.get("wall_time_s"):
        t_start -= prev_lin["wall_time_s"]  # the earlier attempt's time counts too
    fields = {**base, "base_model_hash": base_hash,
              "data_source": info["data_source"], "data_fingerprint": info["data_fingerprint"],
              "train_docs": trained_docs, "train_tokens": stats["tokens"], "train_stats": stats,
              "hyperparameters": hyper, **figures, "wall_time_s": round(time.time() - t_start, 1)}
    lineage.write(out, kind, **fields, complete=False, status="evaluating" if cfg.eval else "finishing")
    if cfg.eval:
        from ecomsuite.evaluate import evaluate, results_table

        margs = _eval_args(cfg, model_path, out)
        print(f"ecomsuite sft: evaluating with lm-eval ({margs}, limit {cfg.eval_limit or 'all'})", file=sys.stderr)
        res = evaluate(model="hf", model_args=margs, tasks=list(cfg.tasks), limit=cfg.eval_limit or None,
                       apply_chat_template=cfg.chat_template, data_dir=cfg.data_dir, output_path=out / "eval",
                       batch_size=cfg.eval_batch_size, require_complete=False)
        print(results_table(res))
        fields["eval"] = {"model_args": margs, "limit": cfg.eval_limit or None, "results_dir": "eval",
                          "apply_chat_template": cfg.chat_template, "results": _eval_summary(res)}
    ckpt = out / CHECKPOINTS
    if ckpt.exists():
        shutil.rmtree(ckpt)  # the run is done: the adapter is in out/
    fields["wall_time_s"] = round(time.time() - t_start, 1)
    lineage.write(out, kind, **fields, complete=True)  # last: only now does the folder look complete
    curve = fields.get("loss_curve") or []
    print(f"ecomsuite sft: wrote {kind} to {out} ({fields.get('steps')} steps, final loss "
          f"{curve[-1][1] if curve else float('nan')}, {fields.get('tokens_per_s')} tok/s)", file=sys.stderr)
    return out


def main(argv: list[str]) -> int:
    cfg = parse_args(argv)
    run(cfg, argv=argv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
