"""Hooks of the description generation task: pure functions over documents and model outputs."""
from ecomsuite.lmeval import load_docs  # noqa: F401  (custom_dataset hook)
from ecomsuite.metrics import ROUGE_KEYS, rouge_doc


def process_results(doc, results) -> dict:
    pred = results[0].strip()
    refs = [doc["description"]]
    rouge = rouge_doc(pred, refs)   # one reference: mean-of-references == best, so no *_best keys
    return {**{k: rouge[k] for k in ROUGE_KEYS}, "bleu": [pred, refs]}


def process_results_paper(doc, results) -> dict:
    """The suite's scores plus ROUGE as the authors computed it (rouge*_paper: no stemming)."""
    from ecomsuite.metrics import rouge_doc_paper

    return {**process_results(doc, results), **rouge_doc_paper(results[0].strip(), [doc["description"]])}
