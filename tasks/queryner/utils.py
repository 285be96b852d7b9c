"""Hooks of the QueryNER tasks: pure functions over documents and model outputs."""
from ecomsuite.data import QUERYNER_TYPES
from ecomsuite.lmeval import load_docs  # noqa: F401  (custom_dataset hook)
from ecomsuite.parsing import format_ner_compact, format_ner_pairs, parse_ner


def target_compact(doc) -> str:
    return format_ner_compact(doc["tokens"], doc["tags"])


def target_pairs(doc) -> str:
    return format_ner_pairs(doc["tokens"], doc["tags"])


def _process(doc, text, form) -> dict:
    tags, ok = parse_ner(text, doc["tokens"], QUERYNER_TYPES, form=form)
    pair = [list(doc["tags"]), tags]
    return {"span_f1": pair, "span_macro_f1": pair, "parse_fail": float(not ok)}


def process_compact(doc, results) -> dict:
    return _process(doc, results[0], "compact")


def process_pairs(doc, results) -> dict:
    return _process(doc, results[0], "pairs")


def process_pairs_paper(doc, results) -> dict:
    """The suite's scores of the pairs form, plus the authors' rule (span_f1_paper: the predicted tags by
    position, all O when their number differs from the query's; seqeval default mode)."""
    from ecomsuite.parsing import parse_ner_pairs_paper

    tags, _ = parse_ner_pairs_paper(results[0], len(doc["tokens"]))
    return {**_process(doc, results[0], "pairs"), "span_f1_paper": [list(doc["tags"]), tags]}
