"""metrics.f1_per_class counts (gold, predicted) pairs in one pass when everything is a str: a
differential test against the definition (three ``==`` passes per label) and sklearn, on random and
hostile inputs (other types, unhashable items, str subclasses, unequal lengths, no labels)."""
import math
import random
from statistics import fmean

import numpy as np
import pytest

from ecomsuite import metrics as M


def _by_definition(golds, preds, labels):
    out = {}
    for lab in labels:
        tp = sum(g == lab and p == lab for g, p in zip(golds, preds, strict=True))
        fp = sum(g != lab and p == lab for g, p in zip(golds, preds))
        fn = sum(g == lab and p != lab for g, p in zip(golds, preds))
        out[lab] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else math.nan
    return out


def _same(a: dict, b: dict) -> bool:
    return list(a) == list(b) and all(
        (math.isnan(x) and math.isnan(y)) or (x == y and math.copysign(1, x) == math.copysign(1, y))
        for x, y in zip(a.values(), b.values()))


class Weird(str):
    def __eq__(self, other):  # equal to everything: only the definition's == knows
        return True

    __hash__ = str.__hash__


@pytest.mark.parametrize("seed", range(40))
def test_str_items_equal_the_definition_and_sklearn(seed):
    from sklearn.metrics import f1_score

    rng = random.Random(seed)
    vocab = ["E", "S", "C", "I", M.INVALID, "x y", ""][: rng.randint(1, 7)]
    n = rng.choice([0, 1, 2, 17, 300])
    golds = [rng.choice(vocab) for _ in range(n)]
    preds = [rng.choice(vocab) if rng.random() < 0.7 else g for g in golds]
    labels = M.class_labels(golds, preds) + rng.sample(["E", "zz", "S"], rng.randint(0, 3))
    got = M.f1_per_class(golds, preds, labels)
    assert _same(got, _by_definition(golds, preds, labels))
    ref_macro = [v for v in _by_definition(golds, preds, M.class_labels(golds, preds)).values() if not math.isnan(v)]
    assert M.macro_f1(golds, preds) == (fmean(ref_macro) if ref_macro else 0.0)
    defined = [lab for lab in dict.fromkeys(labels) if lab in golds or lab in preds]
    if defined:
        ref = f1_score(golds, preds, labels=defined, average=None, zero_division=0)
        assert [got[lab] for lab in defined] == pytest.approx(list(ref), abs=1e-12)


HOSTILE = [
    ([1, 2, 2, 1], [1, 2, 1, 1], ["1", "2"]),                       # ints never equal their str labels
    ([1, 2, 2, 1], [1, 2, 1, 1], [1, 2]),                           # non-str labels
    (["E", None, "S", "E"], ["E", "E", None, "S"], ["E", "S"]),     # None among strings
    ([["E"], "S", "E"], ["E", ["S"], "E"], ["E", "S"]),             # unhashable items
    ([np.str_("E"), "S", "E"], ["E", np.str_("S"), "S"], ["E", "S"]),  # a str subclass
    ([Weird("Q"), "S", "E"], ["E", "S", Weird("Z")], ["E", "S"]),   # a subclass with its own ==
    ([Weird("Q"), "S"], ["E", "S"], ["E", "S"]),                    # ... among the golds alone
    ([["E"], "S"], ["E", "S"], ["E", "S"]),                         # unhashable golds alone
    (["E", "S"], [{"E": 1}, "S"], ["E", "S"]),                      # unhashable predictions alone
    (("E", "S", "E"), ("E", "E", "E"), ("E", "S")),                 # tuples
    (["E", 1.0, True], ["E", 1, 1], ["E", 1]),                      # 1 == 1.0 == True
]


@pytest.mark.parametrize("golds,preds,labels", HOSTILE)
def test_other_types_compare_as_the_definition(golds, preds, labels):
    assert _same(M.f1_per_class(golds, preds, labels), _by_definition(golds, preds, labels))


@pytest.mark.parametrize("golds,preds", [(["E", "S"], ["E"]), (["E"], ["E", "S"])])
def test_unequal_lengths_raise_zip_error_only_with_labels(golds, preds):
    with pytest.raises(ValueError) as want:
        _by_definition(golds, preds, ["E"])
    with pytest.raises(ValueError) as got:
        M.f1_per_class(golds, preds, ["E"])
    assert str(got.value) == str(want.value)
    assert M.f1_per_class(golds, preds, []) == {}
