"""Hooks of the ESCI tasks: pure functions over documents and model outputs."""
from ecomsuite.lmeval import load_docs  # noqa: F401  (custom_dataset hook)
from ecomsuite.metrics import ESCI_LABELS, INVALID
from ecomsuite.parsing import esci_label_word, parse_esci


def label_index(doc) -> int:
    return ESCI_LABELS.index(doc["label"])


def label_word(doc) -> str:
    return esci_label_word(doc["label"])


def _scores(gold: str, pred: str) -> dict:
    pair = [gold, pred]
    return {"acc": float(gold == pred), "macro_f1": pair,
            **{f"f1_{x}": pair for x in ESCI_LABELS},
            **{f"support_{x}": float(gold == x) for x in ESCI_LABELS}}


def process_choice(doc, results) -> dict:
    lls = [ll for ll, _greedy in results]
    pred = ESCI_LABELS[max(range(len(lls)), key=lls.__getitem__)]
    return _scores(doc["label"], pred)


def process_generation(doc, results) -> dict:
    pred = parse_esci(results[0])
    gold = doc["label"]
    return {"acc": float(gold == pred), "macro_f1": [gold, pred or INVALID],
            "parse_fail": float(pred is None)}
