"""Cross-encoder baseline for multiple-choice tasks (ecom_esci): a sequence classifier over (text_a,
text_b), one label per task choice, scored through the task's own ``process_results``.

    ecomsuite baseline ecom_esci --model sentence-transformers/all-MiniLM-L6-v2 --train-size 1000 \\
        --data-dir ../shared/data --out runs/baselines/esci_minilm

A task fits when its metadata says ``baseline: {method: cross-encoder, text_a: [FIELD, ...], text_b:
[FIELD, ...]}``: text_a is its fields joined by spaces, text_b its fields joined by " | " (from the
second on as ``field: value``), as the task's prompt shows them. The classifier's log-probabilities over
the task's choices stand in for an LLM's log-likelihoods.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ecomsuite import EcomError

from .common import check_max_length, fit, forward_batches, load, save, task_fact

DEFAULTS = {"epochs": 3.0, "learning_rate": 5e-5, "batch_size": 16, "max_length": 256}
MODEL_TYPE = "ecomsuite-cross-encoder"  # results' config.model


def cross_encoder_texts(task_name: str, doc: dict) -> tuple[str, str]:
    """(text_a, text_b) of a document, from the task's metadata baseline.text_a / text_b."""
    a_fields, b_fields = task_fact(task_name, "text_a"), task_fact(task_name, "text_b")
    text_a = " ".join(str(doc[f]) for f in a_fields if doc.get(f))
    parts = []
    for i, f in enumerate(b_fields):
        v = str(doc.get(f) or "").strip()
        if v:
            parts.append(v if i == 0 else f"{f}: {v}")
    return text_a, " | ".join(parts)


def train(cfg, task, docs: list[dict], model_path: str, out_dir: Path, device: str) -> dict:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, set_seed

    choices = task.doc_to_choice(docs[0])
    tok = load("tokenizer", AutoTokenizer.from_pretrained, model_path)
    set_seed(cfg.seed)
    model = load("model", AutoModelForSequenceClassification.from_pretrained, model_path,
                 num_labels=len(choices), id2label=dict(enumerate(choices)),
                 label2id={c: i for i, c in enumerate(choices)}, ignore_mismatched_sizes=True)
    max_len = cfg.resolved("max_length")
    check_max_length(max_len, tok, model, cfg.model)
    data = []
    for doc in docs:
        enc = tok(*cross_encoder_texts(cfg.task, doc), truncation="longest_first", max_length=max_len)
        enc["labels"] = int(task.doc_to_target(doc))
        data.append(dict(enc))
    stats = fit(cfg, model, tok, data, DataCollatorWithPadding(tok), device)
    save(out_dir, model, tok)
    return {**stats, "labels": list(choices)}


class Predictor:
    """A trained sequence classifier -> log-probabilities over the task's choices, per document."""

    def __init__(self, model_path: str, task_name: str, max_length: int, batch_size: int = 32,
                 device: str = "cpu", model_name: str | None = None):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.task_name, self.max_length, self.batch_size, self.device = task_name, max_length, batch_size, device
        self.tok = load("tokenizer", AutoTokenizer.from_pretrained, model_path)
        self.model = load("model", AutoModelForSequenceClassification.from_pretrained, model_path).to(device).eval()
        check_max_length(max_length, self.tok, self.model, model_name or model_path)
        self.input_tokens = 0   # input ids read by predict (the cost record's prompt tokens)
        self.label2id = {str(k): int(v) for k, v in (self.model.config.label2id or {}).items()}

    def context(self, doc: dict) -> str:
        a, b = cross_encoder_texts(self.task_name, doc)
        return f"{a} [SEP] {b}"

    def predict(self, docs: list[dict], choices: Sequence[str]) -> list[list[float]]:
        missing = [c for c in choices if c not in self.label2id]
        if missing:
            raise EcomError(f"model: its labels {sorted(self.label2id)} lack the task's choice(s) "
                            f"{', '.join(missing)}; pass a model trained by `ecomsuite baseline {self.task_name}`")
        idx = [self.label2id[c] for c in choices]
        encs = [dict(self.tok(*cross_encoder_texts(self.task_name, d), truncation="longest_first",
                              max_length=self.max_length)) for d in docs]
        self.input_tokens += sum(len(e["input_ids"]) for e in encs)
        out: list[list[float] | None] = [None] * len(docs)
        for b, logits in forward_batches(self.model, self.tok, encs, self.batch_size, self.device):
            for i, row in zip(b, logits.float().log_softmax(-1)[:, idx].cpu().tolist()):
                out[i] = row
        return out  # type: ignore[return-value]


def score(task, docs: list[dict], predictor) -> list:
    """Rows for the results files; ``predictor`` has ``context(doc)`` and ``predict(docs, choices)``."""
    from .results import choice_row

    choices = task.doc_to_choice(docs[0]) if docs else []
    logps = predictor.predict(docs, choices)
    return [choice_row(task, i, d, lp, predictor.context(d)) for i, (d, lp) in enumerate(zip(docs, logps))]
