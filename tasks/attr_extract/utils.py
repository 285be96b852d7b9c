"""Hooks of the attribute extraction task: pure functions over documents and model outputs."""
from ecomsuite.lmeval import load_docs  # noqa: F401  (custom_dataset hook)
from ecomsuite.metrics import attr_counts
from ecomsuite.parsing import format_attributes, parse_attributes


def target(doc) -> str:
    return format_attributes(doc["attributes"])


def process_results(doc, results) -> dict:
    pred = parse_attributes(results[0])
    gold = {a["name"]: a["values"] for a in doc["attributes"]}
    counts = list(attr_counts(gold, pred or {}))
    return {"attr_f1": counts, "attr_precision": counts, "attr_recall": counts,
            "parse_fail": float(pred is None)}
