"""Hooks of the QueryNER tasks: pure functions over documents and model outputs."""
from ecomsuite.data import QUERYNER_TYPES
from ecomsuite.lmeval import load_docs  # noqa: F401  (custom_dataset hook)
from ecomsuite.metrics import agg_span_f1, agg_span_macro_f1  # noqa: F401
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
