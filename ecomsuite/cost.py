"""What a run cost: inference per task (tokens, seconds, money when priced) and training (tokens, time, memory).

An eval run's cost sits **beside** lm-eval's files (results are lm-eval's own files), in the same folder and with
the same date id: ``results_<date_id>.json`` -> ``cost_<date_id>.ecomsuite.json`` (:func:`cost_path`; the name
ends ``.ecomsuite.json`` so that no reader of lm-eval result files takes it for one). Its fields (docs/reproduce.md,
"Cost")::

    {"ecomsuite_cost": 1, "results_file": "results_<date_id>.json",
     "model": "hf", "device": "cpu", "dtype": "torch.float32", "batch_size": "8", "world_size": 1,
     "tokenizer": "<tokenizer class / encoding name>" | null,
     "timing": "per task" | "shared",
     "price_per_mtok": {"in": float, "out": float} | null,
     "tasks": {task: {"documents", "requests", "prompt_tokens", "generated_tokens", "tokens_source",
                      "model_seconds", "seconds_per_document", "prompt_tokens_per_document",
                      "generated_tokens_per_document", "per_1k_documents": {"prompt_tokens",
                      "generated_tokens", "seconds", "usd"}}}}

Tokens are counted with the model's own tokenizer on the logged samples (``arguments`` and ``resps``), without
special tokens (:func:`sample_tokens`); an API model's ``usage`` replaces the count when the server reports it.
"""
from __future__ import annotations

import json
import math
import time
from contextlib import contextmanager
from pathlib import Path

SUFFIX = ".ecomsuite.json"
PREFIX = "cost_"
VERSION = 1


# ----------------------------------------------------------------------------------- tokens
def count_tokens(tokenizer, text: str) -> int:
    """Tokens of ``text`` in ``tokenizer`` (a transformers tokenizer or a tiktoken encoding), no special tokens."""
    try:
        from transformers import PreTrainedTokenizerBase
    except ImportError:  # pragma: no cover - transformers is a dependency
        PreTrainedTokenizerBase = ()
    if isinstance(tokenizer, PreTrainedTokenizerBase):
        return len(tokenizer.encode(text, add_special_tokens=False))
    try:
        return len(tokenizer.encode(text, disallowed_special=()))   # tiktoken
    except TypeError:
        return len(tokenizer.encode(text))


def sample_tokens(sample: dict, count) -> tuple[int, int]:
    """(prompt tokens, generated tokens) of one logged lm-eval sample, ``count(text) -> int``.

    Each request ``arguments.gen_args_i`` reads ``arg_0`` (the context as the model saw it, chat template and
    few-shot examples included); a loglikelihood request also reads its continuation ``arg_1`` (every choice of a
    multiple-choice document is one request). A generation request's ``resps`` text is what it generated (lm-eval
    cuts it at the stop sequence, so tokens past the stop are not counted)."""
    args = sample.get("arguments") or {}
    reqs = [args[k] for k in sorted(args, key=_arg_order)] if isinstance(args, dict) else list(args)
    resps = sample.get("resps") or []
    prompt = generated = 0
    for i, req in enumerate(reqs):
        parts = [req[k] for k in sorted(req, key=_arg_order)] if isinstance(req, dict) else list(req)
        second = parts[1] if len(parts) > 1 else None
        prompt += sum(count(t) for t in context_texts(parts[0] if parts else ""))
        if isinstance(second, str):        # loglikelihood (context, continuation)
            prompt += count(second)
        elif isinstance(second, dict):     # generate_until (context, gen_kwargs)
            out = resps[i] if i < len(resps) else []
            generated += sum(count(t) for t in (out if isinstance(out, list) else [out]) if isinstance(t, str))
    return prompt, generated


def context_texts(ctx) -> list[str]:
    """The texts of a request's context: the string, or for a chat API request (lm-eval's ``JsonChatStr``, logged
    as a one-element list holding the JSON messages) each message's content (the server's chat-template tokens
    around them are not counted)."""
    if isinstance(ctx, str):
        return [ctx]
    chat = getattr(ctx, "prompt", None)
    if not isinstance(chat, str) and isinstance(ctx, (list, tuple)) and len(ctx) == 1 and isinstance(ctx[0], str):
        chat = ctx[0]
    if not isinstance(chat, str):
        return []
    try:
        messages = json.loads(chat)
    except ValueError:
        return [chat]
    if isinstance(messages, list) and all(isinstance(m, dict) for m in messages):
        return [str(m.get("content", "")) for m in messages]
    return [chat]


def _arg_order(key: str):
    digits = "".join(c for c in str(key) if c.isdigit())
    return (int(digits) if digits else 0, str(key))


def task_tokens(samples: list[dict], count) -> dict:
    """documents, requests, prompt and generated tokens of one task's logged samples (each document once: lm-eval
    logs a document once per filter, with the same requests)."""
    seen, prompt, generated, requests = set(), 0, 0, 0
    for s in samples:
        key = s.get("doc_id", id(s))
        if key in seen:
            continue
        seen.add(key)
        p, g = sample_tokens(s, count)
        prompt, generated = prompt + p, generated + g
        requests += len(s.get("arguments") or {})
    return {"documents": len(seen), "requests": requests, "prompt_tokens": prompt, "generated_tokens": generated}


# ------------------------------------------------------------------------------ model time
class RequestTimer:
    """Wraps an lm-eval LM's request methods so that each task's requests run as one call of their own and are
    timed (``seconds[task]``); an API model's reported ``usage`` is summed per task (``usage[task]``).

    lm-eval sends all tasks' requests of one type in one call; splitting it at task boundaries gives every task its
    own wall time (and a task's batches no longer depend on which other tasks ran beside it). With several
    processes (world_size > 1) the call is not split (ranks must make the same calls): timing is "shared" and each
    task gets None."""

    METHODS = ("loglikelihood", "loglikelihood_rolling", "generate_until")

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.usage: dict[str, dict] = {}
        self.shared_seconds = 0.0
        self.split = True
        self.lm = None
        self._task = None

    def install(self, lm) -> None:
        self.lm = lm
        self.split = int(getattr(lm, "world_size", 1) or 1) == 1
        for name in self.METHODS:
            orig = getattr(lm, name, None)
            if callable(orig):
                setattr(lm, name, self._wrap(orig))
        parse = getattr(lm, "parse_generations", None)
        if callable(parse):
            lm.parse_generations = self._usage_hook(parse)

    def _wrap(self, orig):
        def call(requests, *a, **kw):
            if not self.split:
                t0 = time.perf_counter()
                out = orig(requests, *a, **kw)
                self.shared_seconds += time.perf_counter() - t0
                return out
            order: dict[str, list[int]] = {}
            for i, r in enumerate(requests):
                order.setdefault(str(getattr(r, "task_name", None)), []).append(i)
            out: list = [None] * len(requests)
            for task, idx in order.items():
                self._task = task
                t0 = time.perf_counter()
                part = orig([requests[i] for i in idx], *a, **kw)
                self.seconds[task] = self.seconds.get(task, 0.0) + time.perf_counter() - t0
                for i, x in zip(idx, part, strict=True):
                    out[i] = x
            self._task = None
            return out
        return call

    def _usage_hook(self, parse):
        def hooked(outputs, *a, **kw):
            for o in outputs if isinstance(outputs, list) else [outputs]:
                u = o.get("usage") if isinstance(o, dict) else None
                if isinstance(u, dict) and self._task is not None:
                    acc = self.usage.setdefault(self._task, {"prompt_tokens": 0, "completion_tokens": 0, "calls": 0})
                    acc["prompt_tokens"] += int(u.get("prompt_tokens") or 0)
                    acc["completion_tokens"] += int(u.get("completion_tokens") or 0)
                    acc["calls"] += 1
            return parse(outputs, *a, **kw)
        return hooked


@contextmanager
def timed_evaluate(timer: RequestTimer):
    """While active, lm-eval's ``evaluator.evaluate`` installs ``timer`` on the LM it is given."""
    import lm_eval.evaluator as ev

    orig = ev.evaluate

    def evaluate(*a, **kw):
        lm = kw.get("lm", a[0] if a else None)
        if lm is not None:
            timer.install(lm)
        return orig(*a, **kw)

    ev.evaluate = evaluate
    try:
        yield timer
    finally:
        ev.evaluate = orig


# ------------------------------------------------------------------------------------ record
def tokenizer_of(lm):
    tok = getattr(lm, "tokenizer", None)
    return tok if tok is not None and hasattr(tok, "encode") else None


def tokenizer_name(tok) -> str | None:
    if tok is None:
        return None
    name = str(getattr(tok, "name_or_path", None) or getattr(tok, "name", None) or type(tok).__name__)
    return Path(name).name if Path(name).is_absolute() else name   # a local folder: its name, never the path


def per_1k(task: dict, price: dict | None) -> dict:
    """Cost of 1,000 documents of a task record: tokens, seconds and, with a price per million tokens, USD."""
    n = task.get("documents") or 0
    if not n:
        return {}
    out = {}
    for key, name in (("prompt_tokens", "prompt_tokens"), ("generated_tokens", "generated_tokens"),
                      ("model_seconds", "seconds")):
        v = task.get(key)
        out[name] = None if v is None else round(v * 1000 / n, 3)
    out["usd"] = usd(out.get("prompt_tokens"), out.get("generated_tokens"), price)
    return out


def usd(prompt_tokens, generated_tokens, price: dict | None) -> float | None:
    """Money for the tokens at ``price`` = {"in": USD per million prompt tokens, "out": USD per million generated}."""
    if not price or prompt_tokens is None or generated_tokens is None:
        return None
    return round((prompt_tokens * float(price["in"]) + generated_tokens * float(price["out"])) / 1e6, 6)


def check_price(price, where: str = "price_per_mtok") -> dict | None:
    """A price {"in": x, "out": y} (USD per million tokens, numbers >= 0) or None; EcomError otherwise."""
    from ecomsuite import EcomError

    if price is None:
        return None
    ok = (isinstance(price, dict) and set(price) == {"in", "out"}
          and all(isinstance(price[k], (int, float)) and not isinstance(price[k], bool)
                  and math.isfinite(price[k]) and price[k] >= 0 for k in ("in", "out")))
    if not ok:
        raise EcomError(f"{where}: expected {{in: USD per million prompt tokens, out: USD per million generated "
                        f"tokens}} (numbers >= 0), got {price!r}")
    return {"in": float(price["in"]), "out": float(price["out"])}


def per_document(rec: dict, model_seconds: float | None, price: dict | None) -> dict:
    """``rec`` (documents, prompt/generated tokens) + the model's seconds -> the per-document and per-1k fields."""
    rec["model_seconds"] = round(model_seconds, 4) if model_seconds is not None else None
    n = rec.get("documents") or 0
    rec["seconds_per_document"] = round(rec["model_seconds"] / n, 6) if n and rec["model_seconds"] is not None else None
    for k in ("prompt_tokens", "generated_tokens"):
        rec[f"{k}_per_document"] = round(rec[k] / n, 3) if n and rec.get(k) is not None else None
    rec["per_1k_documents"] = per_1k(rec, price)
    return rec


def encoder_record(task: str, model_type: str, device: str, dtype, batch_size: int, tokenizer, documents: int,
                   input_tokens: int | None, model_seconds: float) -> dict:
    """The cost record of an encoder baseline's scoring (no language model, so no lm-eval requests): one forward
    input per document, ``prompt_tokens`` = the input ids the encoder read (special tokens and truncation
    included), nothing generated."""
    rec = {"documents": documents, "requests": documents, "prompt_tokens": input_tokens, "generated_tokens": 0,
           "tokens_source": "encoder input ids" if input_tokens is not None else None}
    return {"ecomsuite_cost": VERSION, "model": model_type, "device": str(device),
            "dtype": None if dtype is None else str(dtype), "batch_size": batch_size, "batch_sizes": None,
            "world_size": 1, "tokenizer": tokenizer_name(tokenizer), "timing": "per task",
            "shared_model_seconds": None, "price_per_mtok": None,
            "tasks": {task: per_document(rec, model_seconds, None)}}


def eval_record(results: dict, samples: dict | None, timer: RequestTimer, names: list[str],
                price: dict | None = None) -> dict:
    """The cost record of one eval run (see the module docstring)."""
    lm = timer.lm
    tok = tokenizer_of(lm)
    cfg = results.get("config") or {}
    tasks = {}
    for name in names:
        rec: dict = {}
        use = timer.usage.get(name)
        if samples and name in samples:
            rec = task_tokens(samples[name], (lambda t: count_tokens(tok, t)) if tok is not None else (lambda t: 0))
            rec["tokens_source"] = "tokenizer" if tok is not None else None
            if tok is None:
                rec["prompt_tokens"] = rec["generated_tokens"] = None
        else:
            n = (results.get("n-samples") or {}).get(name, {})
            rec = {"documents": n.get("effective") if isinstance(n, dict) else None, "requests": None,
                   "prompt_tokens": None, "generated_tokens": None, "tokens_source": None}
        if use and use.get("prompt_tokens"):   # a server that reports 0 prompt tokens reports nothing
            rec["tokenizer_prompt_tokens"] = rec.get("prompt_tokens")
            rec["tokenizer_generated_tokens"] = rec.get("generated_tokens")
            rec["prompt_tokens"], rec["generated_tokens"] = use["prompt_tokens"], use["completion_tokens"]
            rec["tokens_source"] = "api usage"
        tasks[name] = per_document(rec, timer.seconds.get(name), price)
    dtype = cfg.get("model_dtype")
    if dtype is None:
        dtype = getattr(getattr(lm, "model", None), "dtype", None) if lm is not None else None
    device = getattr(lm, "device", None) if lm is not None else None
    return {
        "ecomsuite_cost": VERSION,
        "model": cfg.get("model"),
        "device": str(device if device is not None else cfg.get("device")) if (device or cfg.get("device")) else None,
        "dtype": None if dtype is None else str(dtype),
        "batch_size": cfg.get("batch_size"),
        "batch_sizes": cfg.get("batch_sizes") or None,
        "world_size": int(getattr(lm, "world_size", 1) or 1) if lm is not None else 1,
        "tokenizer": tokenizer_name(tok),
        "timing": "per task" if timer.split else "shared",
        "shared_model_seconds": round(timer.shared_seconds, 4) if not timer.split else None,
        "price_per_mtok": price,
        "tasks": tasks,
    }


# ------------------------------------------------------------------------------- files
MAX_BYTES = 1 << 20   # a cost record is a few KB; anything larger is not read


def cost_path(results_file: str | Path) -> Path | None:
    """``results_<date_id>.json`` -> ``cost_<date_id>.ecomsuite.json`` beside it (None when the name holds no
    date id)."""
    import re

    p = Path(results_file)
    m = re.search(r"_(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d+)?)\.json$", p.name)
    return p.with_name(f"{PREFIX}{m.group(1)}{SUFFIX}") if m else None


def write(results_file: str | Path, record: dict) -> Path:
    path = cost_path(results_file)
    if path is None:
        from ecomsuite import EcomError

        raise EcomError(f"{results_file}: no date id in the results file name; cost not recorded")
    record = {**record, "results_file": Path(results_file).name}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    tmp.replace(path)
    return path


def read(results_file: str | Path) -> tuple[dict | None, str | None]:
    """The cost record written with a results file -> (record, problem); (None, None) when there is none."""
    from ecomsuite.leaderboard import safeio  # untrusted file: regular files only, size cap, bounded JSON

    path = cost_path(results_file)
    if path is None or not (path.exists() or path.is_symlink()):
        return None, None
    try:
        data = safeio.loads(safeio.read_bytes(path, MAX_BYTES).decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, safeio.NotReadable) as e:
        return None, f"{path}: unreadable cost record ({e})"
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), dict):
        return None, f"{path}: not an ecomsuite cost record (no 'tasks' object)"
    return data, None


# ------------------------------------------------------------------------------ training
def peak_memory() -> dict:
    """Peak memory of this process: CUDA allocations when training on CUDA, else the process's peak RSS."""
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        return {"peak_memory_bytes": int(torch.cuda.max_memory_allocated()),
                "peak_memory_source": "torch.cuda.max_memory_allocated (this process's GPU)"}
    import resource
    import sys

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"peak_memory_bytes": int(rss if sys.platform == "darwin" else rss * 1024),
            "peak_memory_source": "ru_maxrss (peak resident memory of the whole process, CPU)"}


def train_record(trained_tokens: int | None, train_time_s: float | None, world_size: int = 1) -> dict:
    """Training cost for lineage (``train_cost``): tokens trained on (examples' tokens x epochs run), training
    seconds, device and peak memory (CUDA allocations on a GPU, else the process's peak RSS)."""
    return {"trained_tokens": trained_tokens, "train_time_s": train_time_s, "device": device_name(),
            "world_size": world_size, **peak_memory()}


def device_name() -> str:
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        return f"cuda ({torch.cuda.get_device_name()})"
    return "cpu"
