"""Metric functions: small, pure, each checked against its reference library in tests/.

Corpus metrics aggregate over the corpus (F1 from summed counts, BLEU from corpus statistics),
never as a mean of per-document scores. ROUGE is the exception by convention (rouge-score and the
FewSum paper average per-document F-measures). With several references a document's ROUGE is the
**mean over its references** of the per-reference F-measure (FewSum's convention); the best
reference (``RougeScorer.score_multi``) is kept only under the explicit ``*_best`` names.

lm-eval passes one *item* per document to an aggregation; the item shapes used by the ecom tasks:

=================  ==========================================  =============================
metric             item per document                           aggregation
=================  ==========================================  =============================
acc, parse_fail    float 0/1                                   mean
macro_f1, f1_X     [gold_label, predicted_label]               per-class F1, undefined classes
                                                               left out (see ``macro_f1``)
support_X          float 0/1 (gold label is X)                 sum (a count, not a score)
span_f1,           [gold_tags, predicted_tags]                 seqeval, IOB2 strict
span_macro_f1
rouge1/2/L         float (mean-over-references F-measure)      mean
rouge1/2/L_best    float (best-reference F-measure)            mean
bleu               [prediction, [ref1, ref2, ...]]             sacrebleu corpus_bleu
attr_f1/_p/_r      [tp, fp, fn]                                micro P/R/F1 over summed counts
=================  ==========================================  =============================

Undefined values. A class with no gold and no predicted instance has an undefined F1 (0/0). It is
left out of ``macro_f1``; its ``f1_X`` is ``None`` from the lm-eval aggregation (JSON ``null`` in
lm-eval's results file, never a bare NaN) and ``nan`` from ``aggregate`` (the numeric entry point of
the leaderboard's bootstrap, which drops non-finite resamples).

ROUGE and BLEU tokenize Unicode text (``unicode_rouge_tokenize``, ``bleu_tokenize``): identical to
rouge-score's default tokenizer and sacrebleu's 13a on text whose letters and digits are ASCII; words
in other alphabets are kept (rouge-score drops them), and CJK/kana characters are single tokens.

``aggregate(name, items)`` maps a metric name to its aggregation (the leaderboard's bootstrap uses it).
"""
from __future__ import annotations

import math
import re
from collections import Counter
from functools import lru_cache
from statistics import fmean
from typing import Callable, Sequence

ESCI_LABELS = ("E", "S", "C", "I")
INVALID = "<invalid>"   # stands for an unparseable prediction: always wrong, never a gold label


# ------------------------------------------------------------------------------ classification
def accuracy(golds: Sequence[str], preds: Sequence[str]) -> float:
    return fmean(g == p for g, p in zip(golds, preds, strict=True)) if golds else 0.0


def f1_per_class(golds: Sequence[str], preds: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
    """F1 of each label (one-vs-rest). A label with no gold and no predicted instance is undefined
    (0/0) and gets ``nan``; a label only predicted, or only in gold, scores 0.

    When every label, gold and prediction is a ``str`` (the suite's items), the counts come from one
    pass over the documents (how often each (gold, predicted) pair occurs): the same integers as the
    three passes per label below, which serve anything else (other types compare by ``==``)."""
    out = {}
    pairs = _str_pair_counts(golds, preds) if labels and all(type(lab) is str for lab in labels) else None
    for lab in labels:
        if pairs is not None:
            tp = pairs.get((lab, lab), 0)
            fp = sum(c for (g, p), c in pairs.items() if p == lab and g != lab)
            fn = sum(c for (g, p), c in pairs.items() if g == lab and p != lab)
        else:
            tp = sum(g == lab and p == lab for g, p in zip(golds, preds, strict=True))
            fp = sum(g != lab and p == lab for g, p in zip(golds, preds))
            fn = sum(g == lab and p != lab for g, p in zip(golds, preds))
        out[lab] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else math.nan
    return out


def _str_pair_counts(golds: Sequence, preds: Sequence) -> dict[tuple[str, str], int] | None:
    """{(gold, predicted): number of documents} when both are sequences of ``str`` alone, else None.
    Unequal lengths raise as ``zip(..., strict=True)`` does."""
    if not (isinstance(golds, (list, tuple)) and isinstance(preds, (list, tuple))):
        return None
    if len(golds) != len(preds):
        for _ in zip(golds, preds, strict=True):  # zip's own error
            pass
    if not (all(type(g) is str for g in golds) and all(type(p) is str for p in preds)):
        return None
    return Counter(zip(golds, preds))


def class_labels(golds: Sequence[str], preds: Sequence[str]) -> list[str]:
    """The labels defined on these documents: every gold label and every predicted one except
    :data:`INVALID` (an unparseable answer is a wrong answer, not a class). Sorted."""
    return sorted({str(g) for g in golds} | {str(p) for p in preds if p != INVALID})


def macro_f1(golds: Sequence[str], preds: Sequence[str], labels: Sequence[str] | None = None) -> float:
    """Unweighted mean of per-label F1 over the labels that are *defined* on these documents (present
    in gold or predicted; ``labels``, when given, restricts them): sklearn ``f1_score(average='macro',
    labels=[l for l in labels if l in golds or l in preds], zero_division=0)``. A class absent from a
    subset and never predicted is left out instead of counting as 0, so a perfect classifier scores
    1.0 on any subset, whatever the task's label vocabulary (no task's labels are assumed here).
    0.0 when no label is defined (no documents)."""
    if labels is None:
        labels = class_labels(golds, preds)
    defined = [f for f in f1_per_class(golds, preds, labels).values() if not math.isnan(f)]
    return fmean(defined) if defined else 0.0


def support(golds: Sequence[str], labels: Sequence[str] = ESCI_LABELS) -> dict[str, int]:
    """Number of gold instances of each label."""
    return {lab: sum(g == lab for g in golds) for lab in labels}


# ----------------------------------------------------------------------------------------- NER
def _tag_lists(gold_tags, pred_tags) -> tuple[list[list[str]], list[list[str]]]:
    """Tag sequences as lists, one gold and one predicted per document, of equal lengths (else ValueError)."""
    gold = [list(t) for t in gold_tags]
    pred = [list(t) for t in pred_tags]
    for g, p in zip(gold, pred, strict=True):
        if len(g) != len(p):
            raise ValueError(f"tag sequences differ in length: {len(g)} gold vs {len(p)} predicted")
    return gold, pred


def span_f1(gold_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]], average: str = "micro") -> float:
    """Entity-level F1, IOB2 strict (seqeval ``mode='strict', scheme=IOB2``): an entity counts only
    when its type and exact token span match."""
    from seqeval.metrics.v1 import precision_recall_fscore_support
    from seqeval.scheme import IOB2

    if not gold_tags:
        return 0.0
    gold, pred = _tag_lists(gold_tags, pred_tags)
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
# Characters that are one token each (no spaces between words in these scripts): CJK radicals,
# symbols and punctuation, kana, CJK ideographs, half-/full-width forms (as sacrebleu's 'zh'
# tokenizer does for Han, extended to kana; sacrebleu's 'ja-mecab' needs MeCab, not installed).
_CJK = "\u2e80-\u2fdf\u3000-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK_RE = re.compile(f"([{_CJK}])")
_ROUGE_TOKEN_RE = re.compile(f"(?=[^\\W_])[{_CJK}]|(?:(?![{_CJK}])[^\\W_])+")


@lru_cache(maxsize=1)
def _porter():
    from nltk.stem import porter

    return porter.PorterStemmer()


def unicode_rouge_tokenize(text: str) -> list[str]:
    """rouge-score's default tokenization (lowercase, letters/digits only, Porter stem of words over
    3 characters) made Unicode-aware: a word is a run of Unicode letters/digits, and each CJK/kana
    character is a word of its own. On ASCII text it *is* rouge-score's own function; on other text
    whose letters and digits are ASCII (curly quotes, dashes, symbols) it gives the same tokens."""
    from rouge_score import tokenize

    if text.isascii():
        return tokenize.tokenize(text, _porter())
    stem = _porter().stem
    return [stem(t) if len(t) > 3 else t for t in _ROUGE_TOKEN_RE.findall(text.lower())]


class _UnicodeTokenizer:
    """rouge_score tokenizer object (``RougeScorer(tokenizer=...)``)."""

    def tokenize(self, text: str) -> list[str]:
        return unicode_rouge_tokenize(text)


@lru_cache(maxsize=1)
def _rouge_scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(list(ROUGE_KEYS), use_stemmer=True, tokenizer=_UnicodeTokenizer())


ROUGE_KEYS = ("rouge1", "rouge2", "rougeL")


def rouge_doc(prediction: str, references: Sequence[str]) -> dict[str, float]:
    """ROUGE-1/2/L F-measure (stemmed) of one document. ``rouge1``/``rouge2``/``rougeL``: mean over
    the references of the per-reference F-measure (FewSum's convention); ``*_best``: the best
    reference's (rouge-score ``score_multi``). With one reference both are the same number."""
    refs = [r for r in references if r.strip()]
    if not refs:
        raise ValueError("rouge_doc needs at least one non-empty reference")
    per_ref = [_rouge_scorer().score(r, prediction) for r in refs]
    out = {k: fmean(s[k].fmeasure for s in per_ref) for k in ROUGE_KEYS}
    out.update({f"{k}_best": max(s[k].fmeasure for s in per_ref) for k in ROUGE_KEYS})
    return {k: float(v) for k, v in out.items()}


def rouge(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """Mean over documents of ``rouge_doc`` (mean-of-references and ``*_best`` keys)."""
    per = [rouge_doc(p, r) for p, r in zip(predictions, references, strict=True)]
    return {k: fmean(d[k] for d in per) for k in per[0]} if per else {}


@lru_cache(maxsize=1)
def _tok13a():
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    return Tokenizer13a()


def bleu_tokenize(line: str) -> str:
    """sacrebleu's 13a tokenization with each CJK/kana character as a token of its own (13a keeps a
    Japanese sentence as one "word"). Exactly 13a on text without such characters."""
    return _tok13a()(_CJK_RE.sub(r" \1 ", line) if _CJK_RE.search(line) else line)


def bleu(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """Corpus BLEU (sacrebleu, ``bleu_tokenize``), all references of a document used at once.
    Documents may have different numbers of references."""
    import sacrebleu

    if not predictions:
        return 0.0
    n = max(len(r) for r in references)
    # sacrebleu wants reference *streams*; a missing reference is None
    streams = [[bleu_tokenize(r[i]) if i < len(r) else None for r in references] for i in range(n)]
    hyps = [bleu_tokenize(p) for p in predictions]
    return float(sacrebleu.corpus_bleu(hyps, streams, tokenize="none").score)


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
    def agg(items) -> float | None:
        f = f1_per_class(*_pairs(items), labels=[label])[label]
        return None if math.isnan(f) else f   # undefined -> JSON null in lm-eval's results
    agg.__name__ = f"agg_f1_{label}"
    return agg


agg_f1_E, agg_f1_S, agg_f1_C, agg_f1_I = (_agg_class_f1(x) for x in ESCI_LABELS)


def agg_sum(items) -> float:
    """Sum of per-document values (``support_X``: the number of gold instances of X)."""
    return float(sum(float(i) for i in items))


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
    **{f"support_{x}": agg_sum for x in ESCI_LABELS},
    "span_f1": agg_span_f1, "span_macro_f1": agg_span_macro_f1,
    "rouge1": agg_mean, "rouge2": agg_mean, "rougeL": agg_mean,
    "rouge1_best": agg_mean, "rouge2_best": agg_mean, "rougeL_best": agg_mean,
    "bleu": agg_bleu,
    "attr_f1": agg_attr_f1, "attr_precision": agg_attr_precision, "attr_recall": agg_attr_recall,
}

# parse_fail is the rate of unparseable outputs: lower is better. support_X is a count, not a
# score: its direction means nothing (True only because lm-eval wants a bool).
HIGHER_IS_BETTER = {name: name != "parse_fail" for name in AGGREGATIONS}


def aggregate(name: str, items) -> float:
    """Corpus value of metric ``name`` over per-document ``items`` (KeyError if unknown); an
    undefined value (per-class F1 of a class with no gold and no predicted instance) is ``nan``."""
    v = AGGREGATIONS[name](list(items))
    return math.nan if v is None else v


# ------------------------------------------------- the paper's scorers (Palen-Michel et al., 2024)
# Named variants beside the suite's metrics, so a result can be compared with the published numbers:
# ``span_f1_paper`` (seqeval's default, conlleval-compatible mode, over the tags of
# ``parsing.parse_ner_pairs_paper``: all O when the predicted length differs) and ``rouge*_paper``
# (Hugging Face ``evaluate``'s rouge as the authors called it: rouge-score, default tokenizer, no
# stemming, one reference = the first; mean of per-document F-measures).
def span_f1_conlleval(gold_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]]) -> float:
    """Micro entity F1 in seqeval's default mode (``seqeval.metrics.f1_score(y_true, y_pred)``, the
    conlleval-compatible reading: an ``I-x`` after ``O`` starts an entity). 0.0 on no documents."""
    from seqeval.metrics import f1_score

    if not gold_tags:
        return 0.0
    gold, pred = _tag_lists(gold_tags, pred_tags)
    return float(f1_score(gold, pred, zero_division=0))


def agg_span_f1_paper(items) -> float:
    return span_f1_conlleval(*_pairs(items))


@lru_cache(maxsize=1)
def _rouge_scorer_paper():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(list(ROUGE_KEYS), use_stemmer=False)


def rouge_doc_paper(prediction: str, references: Sequence[str]) -> dict[str, float]:
    """ROUGE-1/2/L F-measure as the authors computed it: rouge-score's default tokenizer (ASCII letters
    and digits), no stemming, against the first reference only. Keys ``rouge1_paper`` etc.
    (``evaluate``'s default aggregator reports the bootstrap median of the mean; the mean is taken
    here: deterministic, and within the bootstrap's noise of it)."""
    if not references or not str(references[0]).strip():
        raise ValueError("rouge_doc_paper needs a non-empty first reference")
    s = _rouge_scorer_paper().score(str(references[0]), prediction)
    return {f"{k}_paper": float(s[k].fmeasure) for k in ROUGE_KEYS}


AGGREGATIONS.update({"span_f1_paper": agg_span_f1_paper,
                     **{f"{k}_paper": agg_mean for k in ROUGE_KEYS}})
HIGHER_IS_BETTER.update({name: True for name in ("span_f1_paper", *(f"{k}_paper" for k in ROUGE_KEYS))})
