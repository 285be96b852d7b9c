"""Hooks of the description generation task: pure functions over documents and model outputs."""
from ecomsuite.lmeval import load_docs  # noqa: F401  (custom_dataset hook)
from ecomsuite.metrics import ROUGE_KEYS, agg_bleu, rouge_doc  # noqa: F401


def process_results(doc, results) -> dict:
    pred = results[0].strip()
    refs = [doc["description"]]
    rouge = rouge_doc(pred, refs)   # one reference: mean-of-references == best, so no *_best keys
    return {**{k: rouge[k] for k in ROUGE_KEYS}, "bleu": [pred, refs]}
