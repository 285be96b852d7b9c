"""Token-classifier baseline for tagging tasks (ecom_queryner): one IOB2 tag per word, the first
sub-token of each word labelled, scored with the task's own span metrics.

    ecomsuite baseline ecom_queryner --model bert-base-uncased --train-size 1000 --seed 1 \\
        --data-dir ../shared/data --out runs/baselines/queryner_bert

A task fits when its metadata says ``baseline: {method: token-classifier, words: FIELD, tags: FIELD}``
and lists its entity types in ``labels``; the model's labels are O and B-/I- of each type. Predicted
tags are made valid IOB2 (an I- that starts an entity is read as B-) before scoring.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

from ecomsuite import EcomError

from .common import LOG, check_max_length, fit, forward_batches, load, save, task_fact

DEFAULTS = {"epochs": 3.0, "learning_rate": 5e-5, "batch_size": 32, "max_length": 64}
MODEL_TYPE = "ecomsuite-token-classifier"  # results' config.model


def tag_labels(task_name: str) -> list[str]:
    """O and B-/I- of each entity type the task's metadata ``labels`` lists."""
    return ["O"] + [f"{p}-{t}" for t in task_fact(task_name, "labels") for p in ("B", "I")]


def tagging_fields(task_name: str) -> tuple[str, str]:
    """(words field, IOB2 tags field) of the task's documents: metadata baseline.words / baseline.tags."""
    return task_fact(task_name, "words"), task_fact(task_name, "tags")


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
    """Sub-token labels: the first sub-token of each word gets the word's label; later sub-tokens of
    the word and special tokens get -100 (ignored by the loss)."""
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


def word_tokenizer(model_path: str):
    """The model's fast tokenizer, able to take pre-split words (``word_ids`` needs a fast one)."""
    from transformers import AutoTokenizer

    tok = load("tokenizer", AutoTokenizer.from_pretrained, model_path)
    if not tok.is_fast:
        raise EcomError(f"model {model_path}: the token classifier needs a fast tokenizer (word_ids); "
                        "pass a model with a tokenizer.json")
    try:
        tok(["a", "b"], is_split_into_words=True)
    except Exception:  # noqa: BLE001 - byte-level BPE tokenizers need add_prefix_space for word input
        tok = load("tokenizer", AutoTokenizer.from_pretrained, model_path, add_prefix_space=True)
    return tok


def train(cfg, task, docs: list[dict], model_path: str, out_dir: Path, device: str) -> dict:
    from transformers import AutoModelForTokenClassification, DataCollatorForTokenClassification, set_seed

    words_key, tags_key = tagging_fields(cfg.task)
    labels = tag_labels(cfg.task)
    label2id = {t: i for i, t in enumerate(labels)}
    tok = word_tokenizer(model_path)
    set_seed(cfg.seed)
    model = load("model", AutoModelForTokenClassification.from_pretrained, model_path,
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
    stats = fit(cfg, model, tok, data, DataCollatorForTokenClassification(tok), device)
    save(out_dir, model, tok)
    return {**stats, "labels": labels, "train_words_cut": cut}


class Predictor:
    """A trained token classifier -> one IOB2 tag per word, per document."""

    def __init__(self, model_path: str, task_name: str, max_length: int, batch_size: int = 64,
                 device: str = "cpu", model_name: str | None = None):
        from transformers import AutoModelForTokenClassification

        self.words_key, self.tags_key = tagging_fields(task_name)
        self.max_length, self.batch_size, self.device = max_length, batch_size, device
        self.tok = word_tokenizer(model_path)
        self.model = load("model", AutoModelForTokenClassification.from_pretrained, model_path).to(device).eval()
        check_max_length(max_length, self.tok, self.model, model_name or model_path)
        self.input_tokens = 0   # input ids read by predict (the cost record's prompt tokens)
        self.id2label = {int(k): str(v) for k, v in self.model.config.id2label.items()}
        self.words_cut = 0
        self.repaired = 0

    def context(self, doc: dict) -> str:
        return " ".join(doc[self.words_key])

    def notes(self) -> list[str]:
        """What ``predict`` has had to make up so far, for the log."""
        return [f"{n} {what}" for n, what in ((self.words_cut, "test word(s) cut by max_length, predicted O"),
                                              (self.repaired, "predicted I- tag(s) that started an entity, read as B-"))
                if n]

    def predict(self, docs: list[dict]) -> list[list[str]]:
        encs = [self.tok(list(d[self.words_key]), is_split_into_words=True, truncation=True,
                         max_length=self.max_length) for d in docs]
        self.input_tokens += sum(len(e["input_ids"]) for e in encs)
        out: list[list[str] | None] = [None] * len(docs)
        for b, logits in forward_batches(self.model, self.tok, [dict(e) for e in encs], self.batch_size, self.device):
            for i, row in zip(b, logits.argmax(-1).cpu().tolist()):
                tags, missing = word_predictions(encs[i].word_ids(), row, len(docs[i][self.words_key]), self.id2label)
                fixed = repair_iob2(tags)
                self.words_cut += missing
                self.repaired += sum(x != y for x, y in zip(tags, fixed))
                out[i] = fixed
        return out  # type: ignore[return-value]


def score(task, docs: list[dict], predictor) -> list:
    """Rows for the results files; ``predictor`` has ``context(doc)`` and ``predict(docs)``."""
    from .results import tagging_row

    words_key, tags_key = tagging_fields(task.config.task)
    tags = predictor.predict(docs)
    return [tagging_row(task, i, d, t, predictor.context(d), words_key, tags_key)
            for i, (d, t) in enumerate(zip(docs, tags))]
