"""ecomsuite.bootstrap's fast IOB2 entity reading is seqeval's strict IOB2, on every input.

A randomized differential test against seqeval over a hostile tag alphabet (malformed prefixes,
types that strip to nothing, lower case, prefixes seqeval rejects, non-strings, empty sequences),
and the real QueryNER test split with perturbed predictions."""
import random
from pathlib import Path

import numpy as np
import pytest
from seqeval.scheme import IOB2, Entities

from ecomsuite import bootstrap as bs
from ecomsuite.metrics import aggregate

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "queryner" / "test.txt"

# tags seqeval reads (prefix B/I/O): types that differ only in '-' around them, that strip to '_',
# that have no delimiter at all, lower/upper case types, spaces, non-ASCII
READABLE = ["O", "B-X", "I-X", "B-Y", "I-Y", "B-x", "I-x", "B-", "I-", "B", "I", "B-_", "I-_", "B--X", "I-X-",
            "I--X--", "BX", "IX", "O-X", "Ox", "B-X Y", "I-X Y", "B-é", "I-é", "B-X-Y", "I-X-Y", "I-Y-", "B-_-",
            "B- X", "I- X", "I-X ", "I-X\t", "B-X_", "I-X_"]
# tags seqeval rejects (KeyError / IndexError at reading, ValueError for a prefix IOB2 does not allow),
# and non-strings (TypeError, or read in ways of their own)
REJECTED = ["E-X", "S-X", "U-X", "L-X", "b-x", "i-x", "o", "", "-", "X", "1", " B-X", None, 3, ("B", "-X"),
            ["I"], b"B-X"]


def _seqeval(tags):
    """(entities as (start, end, type), None) or (None, (exception type, message))."""
    try:
        return [(e.start, e.end, e.tag) for e in Entities([list(tags)], IOB2, False).entities[0]], None
    except Exception as e:  # noqa: BLE001 - the exception itself is what is compared
        return None, (type(e), str(e))


def _ours(tags):
    try:
        return bs.span_entities(tags), None
    except Exception as e:  # noqa: BLE001
        return None, (type(e), str(e))


def _hostile(rnd, alphabet, max_len=9):
    return [rnd.choice(alphabet) for _ in range(rnd.randint(0, max_len))]


def test_entities_equal_seqeval_on_hostile_sequences():
    rnd = random.Random(13)
    n_raise = n_ents = 0
    for k in range(6000):
        alphabet = READABLE if k % 3 else READABLE + REJECTED
        tags = _hostile(rnd, alphabet)
        want, ours = _seqeval(tags), _ours(tags)
        assert ours == want, tags
        n_raise += want[1] is not None
        n_ents += len(want[0] or [])
    # the test covers both sides: sequences seqeval rejects and plenty of entities
    assert n_raise > 100 and n_ents > 1000
    # the fast path itself (not the seqeval fallback) is what reads every readable sequence
    for _ in range(500):
        tags = _hostile(rnd, READABLE)
        assert bs._iob2_entities(tags) == _seqeval(tags)[0], tags


def test_entities_hand_cases():
    assert bs.span_entities([]) == []
    assert bs.span_entities(["I-X", "I-X", "O"]) == []                      # I without B: nothing
    assert bs.span_entities(["B-X", "I-Y", "I-Y"]) == [(0, 1, "X")]          # a type switch ends it
    assert bs.span_entities(["B-", "I", "I-_"]) == [(0, 3, "_")]            # all strip to '_'
    assert bs.span_entities(["B-X", "B-X", "I--X-"]) == [(0, 1, "X"), (1, 3, "X")]
    with pytest.raises(ValueError, match="Invalid token"):
        bs.span_entities(["B-X", "E-X"])
    with pytest.raises(KeyError):
        bs.span_entities(["b-x"])


def _items_value(metric, items):
    """(prepared value and kind, or the exception) without the library check, and the library's."""
    try:
        p = bs.prepare(metric, items, verify=False)
        ours = (p.value, p.kind)
    except Exception as e:  # noqa: BLE001
        ours = (type(e), str(e))
    try:
        lib = (aggregate(metric, items), "sufficient")
    except Exception as e:  # noqa: BLE001
        lib = (type(e), str(e))
    return ours, lib


@pytest.mark.parametrize("metric", ["span_f1", "span_macro_f1"])
def test_corpus_value_equals_the_library_on_hostile_corpora(metric):
    rnd = random.Random(metric)
    raised = 0
    for k in range(150):
        alphabet = READABLE if k % 4 else READABLE + REJECTED[:8]
        items = []
        for _ in range(rnd.randint(1, 12)):
            g = _hostile(rnd, alphabet, 7)
            # a prediction of another length now and then (both must refuse it the same way)
            p = _hostile(rnd, alphabet, 7) if rnd.random() < 0.03 else [rnd.choice(alphabet) for _ in g]
            items.append([g, p])
        ours, lib = _items_value(metric, items)
        if isinstance(lib[0], type):
            raised += 1
            assert ours[0] is lib[0], (items, ours, lib)
        else:
            assert ours[1] == "sufficient" and ours[0] == pytest.approx(lib[0], rel=1e-12, abs=1e-12), items
    assert raised > 5


def _read_conll(path):
    docs, cur = [], []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            if cur:
                docs.append(cur)
            cur = []
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            raise ValueError(f"{path}:{n}: expected token<TAB>tag, got {line!r}")
        cur.append(parts[1])
    if cur:
        docs.append(cur)
    return docs


def _perturb(rnd, tags, types):
    out = list(tags)
    for i in range(len(out)):
        r = rnd.random()
        if r < 0.08:
            out[i] = "O"
        elif r < 0.14:
            out[i] = "I-" + out[i][2:] if out[i].startswith("B-") else out[i]      # B -> I (I without B)
        elif r < 0.20:
            out[i] = out[i][:2] + rnd.choice(types) if out[i][:1] in "BI" else out[i]  # type switch
        elif r < 0.24:
            out[i] = "B-" + rnd.choice(types)
    return out


def test_real_queryner_split_with_perturbed_predictions():
    if not REAL.is_file():
        pytest.skip(f"no QueryNER test split at {REAL}")
    gold = _read_conll(REAL)
    assert len(gold) > 500
    types = sorted({t[2:] for g in gold for t in g if t != "O"})
    rnd = random.Random(2024)
    for g in gold:  # every gold sequence, and a perturbed prediction of each
        assert bs._iob2_entities(g) == _seqeval(g)[0], g
        p = _perturb(rnd, g, types)
        assert bs._iob2_entities(p) == _seqeval(p)[0], p
    for metric in ("span_f1", "span_macro_f1"):
        for level in (0, 1, 3):  # the same predictions, then more and more perturbed ones
            preds = [g for g in gold]
            for _ in range(level):
                preds = [_perturb(rnd, p, types) for p in preds]
            items = [[g, p] for g, p in zip(gold, preds)]
            p = bs.prepare(metric, items, verify=False)
            lib = aggregate(metric, items)
            assert p.kind == "sufficient" and p.value == pytest.approx(lib, rel=1e-12, abs=1e-12), (metric, level)
            # and resamples: the statistics of a subset are the library on that subset
            counts = bs.resample_counts(len(items), 3, ("queryner", level))
            idx = np.arange(len(items))
            ref = [aggregate(metric, [items[i] for i in np.repeat(idx, row)]) for row in counts]
            np.testing.assert_allclose(p.boot(counts), ref, rtol=1e-12, atol=1e-12)


def test_leaderboard_cell_of_refused_tags_says_what_failed(monkeypatch):
    """A cell whose tags seqeval refuses: the library's error, whether or not its check is skipped."""
    from ecomsuite.leaderboard import stats

    monkeypatch.setattr(bs, "_VERIFIED", set())
    n = bs.VERIFY_ALWAYS_MAX_N + 1
    good = [[["B-X", "I-X", "O"], ["B-X", "O", "O"]]] * n
    assert stats.prepare_cell("span_f1", good, list(range(n)), None, 20, 0).prepared is not None
    assert bs._VERIFIED  # later large cells of span_f1 are not checked by the library
    for bad_tag, kind in (("b-x", "KeyError"), ("E-X", "Invalid token")):
        bad = good[:-1] + [[["O", "O", "O"], ["O", bad_tag, "O"]]]
        cp = stats.prepare_cell("span_f1", bad, list(range(n)), None, 20, 0)
        assert cp.prepared is None and len(cp.problems) == 1, cp.problems
        level, msg = cp.problems[0]
        assert level == "warning" and "aggregate('span_f1') failed on the samples" in msg and kind in msg, msg


def test_remembered_entities_are_the_entities_of_each_sequence(monkeypatch):
    """_span_stats remembers the entities of an all-text tag sequence (the same gold tags in every
    system's file); a sequence seqeval must read (a tag it refuses) is never remembered, and
    unhashable tags go to seqeval: the statistics and errors are those without the memo."""
    monkeypatch.setattr(bs, "_SPAN_MEMO", {})
    monkeypatch.setattr(bs, "_SPAN_DOC_MEMO", {})
    rnd = random.Random(7)
    types = ["X", "Y", "core_product_type"]
    seqs = [[rnd.choice(["O", "B-X", "I-X", "B-Y", "I-Y", "I-core_product_type", "B-", "I"]) for _ in range(rnd.randint(0, 9))]
            for _ in range(300)]
    items = [[g, _perturb(rnd, g, types)] for g in seqs]
    first = bs._span_stats(items)
    assert bs._SPAN_MEMO and bs._SPAN_DOC_MEMO  # remembered
    assert bs._span_stats(items).tobytes() == first.tobytes()
    # each document's counts as the library's entities give them, remembered or not
    for (g, p), row in zip(items, first):
        eg, ep = _seqeval(g)[0], _seqeval(p)[0]
        assert row.sum() == len(set(eg) & set(ep)) + len(ep) + len(eg)  # tp + n_pred + n_gold
    monkeypatch.setattr(bs, "_SPAN_DOC_MEMO", {})
    assert bs._span_stats(items[::-1]).tobytes() == first[::-1].tobytes()  # other order, memo refilled
    for tags in seqs:
        assert bs._memo_entities(tags) == _seqeval(tags)[0], tags
    for bad in (["O", "b-x"], ["E-X"], ["O", ["B-X"]]):
        with pytest.raises(Exception) as memo_err:
            bs._span_stats([[bad, ["O"] * len(bad)]])
        with pytest.raises(Exception) as plain_err:
            bs.span_entities(bad)
        assert (memo_err.type, str(memo_err.value)) == (plain_err.type, str(plain_err.value))
        assert tuple(map(str, bad)) not in bs._SPAN_MEMO
        assert not any(bad == list(k[0]) for k in bs._SPAN_DOC_MEMO)
    monkeypatch.setattr(bs, "_SPAN_MEMO", {})
    monkeypatch.setattr(bs, "_SPAN_DOC_MEMO", {})
    monkeypatch.setattr(bs, "_SPAN_MEMO_MAX", 2)
    assert bs._span_stats(items).tobytes() == first.tobytes()
    assert len(bs._SPAN_MEMO) <= 2  # bounded
