"""Metric functions: small, pure, each checked against its reference library in tests/.

Corpus metrics aggregate over the corpus (F1 from summed counts, BLEU from corpus statistics),
never as a mean of per-document scores. ROUGE is the exception by convention (rouge-score and the
FewSum paper average per-document F-measures); with several references a document scores its best
reference (``rouge_score.RougeScorer.score_multi``).

lm-eval passes one *item* per document to an aggregation; the item shapes used by the ecom tasks:

=================  ==========================================  =============================
metric             item per document                           aggregation
=================  ==========================================  =============================
acc, parse_fail    float 0/1                                   mean
macro_f1, f1_X     [gold_label, predicted_label]               scikit-learn f1_score
span_f1,           [gold_tags, predicted_tags]                 seqeval, IOB2 strict
span_macro_f1
rouge1/2/L         float (best-reference F-measure)            mean
bleu               [prediction, [ref1, ref2, ...]]             sacrebleu corpus_bleu
attr_f1/_p/_r      [tp, fp, fn]                                micro P/R/F1 over summed counts
=================  ==========================================  =============================

``aggregate(name, items)`` maps a metric name to its aggregation (the leaderboard's bootstrap uses it).
"""
from __future__ import annotations

from functools import lru_cache
from statistics import fmean
from typing import Callable, Sequence

ESCI_LABELS = ("E", "S", "C", "I")
INVALID = "<invalid>"   # stands for an unparseable prediction: always wrong, never a gold label


# ------------------------------------------------------------------------------ classification
def accuracy(golds: Sequence[str], preds: Sequence[str]) -> float:
    return fmean(g == p for g, p in zip(golds, preds, strict=True)) if golds else 0.0


def f1_per_class(golds: Sequence[str], preds: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
    """F1 of each label (one-vs-rest). A label with no gold and no predicted instance scores 0."""
    out = {}
    for lab in labels:
        tp = sum(g == lab and p == lab for g, p in zip(golds, preds, strict=True))
        fp = sum(g != lab and p == lab for g, p in zip(golds, preds))
        fn = sum(g == lab and p != lab for g, p in zip(golds, preds))
        out[lab] = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return out


def macro_f1(golds: Sequence[str], preds: Sequence[str], labels: Sequence[str] = ESCI_LABELS) -> float:
    """Unweighted mean of per-label F1 over ``labels`` (sklearn ``f1_score(average='macro', labels=...)``)."""
    per = f1_per_class(golds, preds, labels)
    return fmean(per.values()) if per else 0.0


# ----------------------------------------------------------------------------------------- NER
def span_f1(gold_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]], average: str = "micro") -> float:
    """Entity-level F1, IOB2 strict (seqeval ``mode='strict', scheme=IOB2``): an entity counts only
    when its type and exact token span match."""
    from seqeval.metrics.v1 import precision_recall_fscore_support
    from seqeval.scheme import IOB2

    if not gold_tags:
        return 0.0
    gold = [list(t) for t in gold_tags]
    pred = [list(t) for t in pred_tags]
    for g, p in zip(gold, pred, strict=True):
        if len(g) != len(p):
            raise ValueError(f"tag sequences differ in length: {len(g)} gold vs {len(p)} predicted")
    if average == "micro":
        _, _, f, _ = precision_recall_fscore_support(gold, pred, average="micro", scheme=IOB2,
                                                     zero_division=0)
        return float(f)
    if average == "macro":
        # macro over the entity types present in gold (types only predicted count as errors of others)
        _, _, f, s = precision_recall_fscore_support(gold, pred, average=None, scheme=IOB2,
                                                     zero_division=0)
        f = [fi for fi, si in zip(f, s) if si > 0]
        return float(fmean(f)) if f else 0.0
    raise ValueError(f"average must be 'micro' or 'macro', got {average!r}")


# ---------------------------------------------------------------------------------- generation
@lru_cache(maxsize=1)
def _rouge_scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)


def rouge_doc(prediction: str, references: Sequence[str]) -> dict[str, float]:
    """ROUGE-1/2/L F-measure of one document against its best reference (per metric)."""
    refs = [r for r in references if r.strip()]
    if not refs:
        raise ValueError("rouge_doc needs at least one non-empty reference")
    scores = _rouge_scorer().score_multi(refs, prediction)
    return {k: float(v.fmeasure) for k, v in scores.items()}


def rouge(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """Mean over documents of the best-reference ROUGE F-measures."""
    per = [rouge_doc(p, r) for p, r in zip(predictions, references, strict=True)]
    return {k: fmean(d[k] for d in per) for k in ("rouge1", "rouge2", "rougeL")} if per else {}


def bleu(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """Corpus BLEU (sacrebleu defaults, 13a tokenizer), all references of a document used at once.
    Documents may have different numbers of references."""
    import sacrebleu

    if not predictions:
        return 0.0
    n = max(len(r) for r in references)
    # sacrebleu wants reference *streams*; a missing reference is None
    streams = [[r[i] if i < len(r) else None for r in references] for i in range(n)]
    return float(sacrebleu.corpus_bleu(list(predictions), streams).score)


# ------------------------------------------------------------------------ attribute extraction
def _norm(v: str) -> str:
    return " ".join(str(v).lower().split())


def attr_counts(gold: dict[str, Sequence[str]], pred: dict[str, str]) -> tuple[int, int, int]:
    """(tp, fp, fn) of one product. ``gold`` maps each attribute to its acceptable values, where
    "n/a" means "absent is acceptable"; ``pred`` maps attributes to one value ("n/a"/"" = absent).

    - predicted a value: TP when it is acceptable (case/space-insensitive), else FP; a wrong value
      for an attribute that has a real value (no "n/a" accepted) is also a FN;
    - predicted absent: FN unless "n/a" is acceptable;
    - predicted attributes that are not asked for are FP.
    """
    tp = fp = fn = 0
    pred_n = {_norm(k): _norm(v) for k, v in pred.items()}
    for attr, values in gold.items():
        acceptable = {_norm(v) for v in values}
        na_ok = "n/a" in acceptable
        p = pred_n.pop(_norm(attr), "n/a")
        if p in ("", "n/a", "none", "null"):
            fn += 0 if na_ok else 1
        elif p in acceptable:
            tp += 1
        else:
            fp += 1
            fn += 0 if na_ok else 1
    fp += sum(v not in ("", "n/a", "none", "null") for v in pred_n.values())
    return tp, fp, fn


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f}


# ---------------------------------------------------------------------- lm-eval aggregations
def _pairs(items):
    golds = [i[0] for i in items]
    preds = [i[1] for i in items]
    return golds, preds


def agg_mean(items) -> float:
    return float(fmean(float(i) for i in items)) if items else 0.0


def agg_macro_f1(items) -> float:
    return macro_f1(*_pairs(items))


def _agg_class_f1(label: str) -> Callable:
    def agg(items) -> float:
        return f1_per_class(*_pairs(items), labels=[label])[label]
    agg.__name__ = f"agg_f1_{label}"
    return agg


agg_f1_E, agg_f1_S, agg_f1_C, agg_f1_I = (_agg_class_f1(x) for x in ESCI_LABELS)


def agg_span_f1(items) -> float:
    return span_f1(*_pairs(items), average="micro")


def agg_span_macro_f1(items) -> float:
    return span_f1(*_pairs(items), average="macro")


def agg_bleu(items) -> float:
    return bleu([i[0] for i in items], [i[1] for i in items])


def _summed(items) -> tuple[int, int, int]:
    tp = sum(int(i[0]) for i in items); fp = sum(int(i[1]) for i in items); fn = sum(int(i[2]) for i in items)
    return tp, fp, fn


def agg_attr_f1(items) -> float:
    return prf(*_summed(items))["f1"]


def agg_attr_precision(items) -> float:
    return prf(*_summed(items))["precision"]


def agg_attr_recall(items) -> float:
    return prf(*_summed(items))["recall"]


AGGREGATIONS: dict[str, Callable] = {
    "acc": agg_mean, "parse_fail": agg_mean,
    "macro_f1": agg_macro_f1,
    "f1_E": agg_f1_E, "f1_S": agg_f1_S, "f1_C": agg_f1_C, "f1_I": agg_f1_I,
    "span_f1": agg_span_f1, "span_macro_f1": agg_span_macro_f1,
    "rouge1": agg_mean, "rouge2": agg_mean, "rougeL": agg_mean,
    "bleu": agg_bleu,
    "attr_f1": agg_attr_f1, "attr_precision": agg_attr_precision, "attr_recall": agg_attr_recall,
}

# parse_fail is the rate of unparseable outputs: lower is better
HIGHER_IS_BETTER = {name: name != "parse_fail" for name in AGGREGATIONS}


def aggregate(name: str, items) -> float:
    """Corpus value of metric ``name`` over per-document ``items`` (KeyError if unknown)."""
    return AGGREGATIONS[name](list(items))
