"""Hooks of the review summarization task: pure functions over documents and model outputs."""
from ecomsuite.lmeval import load_docs  # noqa: F401  (custom_dataset hook)
from ecomsuite.metrics import agg_bleu, rouge_doc  # noqa: F401


def process_results(doc, results) -> dict:
    pred = results[0].strip()
    refs = list(doc["summaries"])
    return {**rouge_doc(pred, refs), "bleu": [pred, refs]}
