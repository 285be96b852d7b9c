"""Every metric against its reference library on known inputs."""
import random

import pytest

from ecomsuite import metrics as M

LABELS = ["E", "S", "C", "I"]


def _random_labels(n, seed, extra=()):
    rnd = random.Random(seed)
    return [rnd.choice(LABELS + list(extra)) for _ in range(n)]


@pytest.mark.parametrize("seed", range(5))
def test_classification_matches_sklearn(seed):
    from sklearn.metrics import accuracy_score, f1_score

    golds = _random_labels(60, seed)
    preds = _random_labels(60, seed + 100, extra=[M.INVALID])
    assert M.accuracy(golds, preds) == pytest.approx(accuracy_score(golds, preds))
    present = [lab for lab in LABELS if lab in golds or lab in preds]
    assert M.macro_f1(golds, preds) == pytest.approx(
        f1_score(golds, preds, labels=present, average="macro", zero_division=0))
    per = f1_score(golds, preds, labels=LABELS, average=None, zero_division=0)
    assert [M.f1_per_class(golds, preds, LABELS)[lab] for lab in LABELS] == pytest.approx(list(per))
    items = [[g, p] for g, p in zip(golds, preds)]
    assert M.aggregate("macro_f1", items) == pytest.approx(M.macro_f1(golds, preds))
    assert M.aggregate("f1_C", items) == pytest.approx(per[2])


def test_macro_f1_leaves_undefined_classes_out_like_sklearn_present_labels():
    from sklearn.metrics import f1_score

    golds, preds = ["E", "E", "S"], ["E", "S", "S"]   # C and I: no gold, never predicted
    assert M.macro_f1(golds, preds) == pytest.approx(
        f1_score(golds, preds, labels=["E", "S"], average="macro", zero_division=0))
    assert M.macro_f1(golds, preds) == pytest.approx((2 / 3 + 2 / 3) / 2)


def _random_tags(rnd, n):
    types = ["color", "brand", "core_product_type"]
    tags, prev = [], "O"
    for _ in range(n):
        r = rnd.random()
        if r < 0.3:
            t = "O"
        elif r < 0.6 and prev != "O":
            t = "I-" + prev[2:]
        elif r < 0.9:
            t = "B-" + rnd.choice(types)
        else:
            t = "I-" + rnd.choice(types)  # invalid IOB2 on purpose: strict mode must drop it
        tags.append(t)
        prev = t
    return tags


@pytest.mark.parametrize("seed", range(5))
def test_span_f1_matches_seqeval_strict(seed):
    from seqeval.metrics import classification_report, f1_score
    from seqeval.scheme import IOB2

    rnd = random.Random(seed)
    lens = [rnd.randint(1, 8) for _ in range(40)]
    gold = [_random_tags(rnd, n) for n in lens]
    pred = [_random_tags(rnd, n) for n in lens]
    ref = f1_score(gold, pred, mode="strict", scheme=IOB2, average="micro", zero_division=0)
    assert M.span_f1(gold, pred) == pytest.approx(ref)
    rep = classification_report(gold, pred, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    per_type = [v["f1-score"] for k, v in rep.items() if "avg" not in k and v["support"] > 0]
    assert M.span_f1(gold, pred, average="macro") == pytest.approx(sum(per_type) / len(per_type))


def test_span_f1_strict_differs_from_lenient_on_orphan_i():
    gold = [["B-color", "I-color"]]
    pred = [["O", "I-color"]]   # lenient conlleval would count an entity; strict does not
    assert M.span_f1(gold, pred) == 0.0
    assert M.span_f1(gold, gold) == 1.0


def test_rouge_matches_rouge_score_mean_and_best_of_references():
    from rouge_score import rouge_scorer

    sc = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    preds = ["the bag is pretty but the straps break quickly", "great sound, weak battery"]
    refs = [["Reviewers love the look of the bag but its straps break.", "Pretty purse, poor straps."],
            ["Sound is great and the battery is weak.", "Good audio; battery life disappoints.", "x"]]
    got = M.rouge(preds, refs)
    for k in ("rouge1", "rouge2", "rougeL"):
        mean = [sum(sc.score(r, p)[k].fmeasure for r in rs) / len(rs) for p, rs in zip(preds, refs)]
        best = [sc.score_multi(rs, p)[k].fmeasure for p, rs in zip(preds, refs)]
        assert got[k] == pytest.approx(sum(mean) / len(mean))
        assert got[k + "_best"] == pytest.approx(sum(best) / len(best))
        assert got[k + "_best"] > got[k]


def test_bleu_matches_sacrebleu_multi_reference():
    import sacrebleu

    preds = ["the cat sat on the mat", "a quick brown dog jumps"]
    refs = [["the cat is on the mat", "there is a cat on the mat"], ["the quick brown fox jumps", "a fast brown dog leaps"]]
    ref = sacrebleu.corpus_bleu(preds, [[r[0] for r in refs], [r[1] for r in refs]]).score
    assert M.bleu(preds, refs) == pytest.approx(ref)
    assert M.aggregate("bleu", [[p, r] for p, r in zip(preds, refs)]) == pytest.approx(ref)
    # corpus BLEU is not the mean of sentence BLEUs
    sent = sum(sacrebleu.sentence_bleu(p, r).score for p, r in zip(preds, refs)) / 2
    assert M.bleu(preds, refs) != pytest.approx(sent)


def test_bleu_uneven_reference_counts():
    import sacrebleu

    preds = ["red shoes for men", "blue bag"]
    refs = [["red shoes for men"], ["a blue bag", "blue bag for women"]]
    ref = sacrebleu.corpus_bleu(preds, [["red shoes for men", "a blue bag"], [None, "blue bag for women"]]).score
    assert M.bleu(preds, refs) == pytest.approx(ref)


def test_attribute_counts_and_micro_f1():
    gold = {"Brand Name": ["ACME"], "Color": ["n/a"], "Size": ["XL", "n/a"], "Material": ["Cotton"]}
    pred = {"brand name": "acme", "Color": "Red", "Size": "n/a", "Material": "Wool", "Extra": "x"}
    # brand TP; color FP (n/a acceptable so no FN); size absent & n/a ok; material FP+FN; extra FP
    assert M.attr_counts(gold, pred) == (1, 3, 1)
    assert M.attr_counts(gold, {}) == (0, 0, 2)
    items = [[1, 3, 1], [2, 0, 0]]
    p, r = 3 / 6, 3 / 4
    assert M.aggregate("attr_f1", items) == pytest.approx(2 * p * r / (p + r))
    assert M.aggregate("attr_precision", items) == pytest.approx(p)
    assert M.aggregate("attr_recall", items) == pytest.approx(r)


def test_attr_micro_f1_equals_sklearn_on_binary_decisions():
    """Micro-F1 over (attribute, value) pairs == sklearn's binary F1 over the same pair decisions."""
    from sklearn.metrics import f1_score

    docs = [({"A": ["x"], "B": ["n/a"]}, {"A": "x", "B": "y"}), ({"A": ["z"]}, {"A": "n/a"}),
            ({"A": ["q"], "B": ["w"]}, {"A": "q", "B": "w"})]
    y_true, y_pred = [], []
    for gold, pred in docs:   # enumerate every (attr, value) pair either side claims
        pairs = {(a, v) for a, vs in gold.items() for v in vs if v != "n/a"} | {(a, v) for a, v in pred.items() if v != "n/a"}
        for a, v in sorted(pairs):
            y_true.append(v in gold.get(a, []))
            y_pred.append(pred.get(a) == v)
    items = [list(M.attr_counts(g, p)) for g, p in docs]
    assert M.aggregate("attr_f1", items) == pytest.approx(f1_score(y_true, y_pred))


def test_unknown_metric_raises_keyerror():
    with pytest.raises(KeyError):
        M.aggregate("nope", [1.0])
