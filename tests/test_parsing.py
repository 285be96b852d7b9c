"""Model output -> label / entities / attributes: never raises, oracle round trips."""
import pytest

from ecomsuite.data import QUERYNER_TYPES, load_family
from ecomsuite.parsing import (align_tags, entities, format_attributes, format_ner_compact, format_ner_pairs,
                               parse_attributes, parse_esci, parse_ner)


@pytest.mark.parametrize("text,label", [
    (" exact", "E"), ("Substitute.", "S"), ("It is a COMPLEMENT", "C"), ("irrelevant!", "I"),
    (" E", "E"), ("I", "I"), ("the product is exact", "E"), ("", None), ("maybe", None), ("Is it?", None),
])
def test_parse_esci(text, label):
    assert parse_esci(text) == label


def test_parse_esci_never_raises_on_odd_input():
    assert parse_esci(None) is None
    assert parse_esci("\x00\ufffd<script>") is None


def _roundtrip(docs):
    for d in docs:
        for form, fmt in (("compact", format_ner_compact), ("pairs", format_ner_pairs)):
            tags, ok = parse_ner(fmt(d["tokens"], d["tags"]), d["tokens"], QUERYNER_TYPES, form=form)
            assert ok and tags == d["tags"], (form, d)


def test_ner_formats_roundtrip_on_sample():
    _roundtrip(load_family("queryner").splits["test"])


@pytest.mark.slow
def test_ner_formats_roundtrip_on_real_test_and_compact_is_cheaper(real_data):
    docs = load_family("queryner", real_data).splits["test"]
    _roundtrip(docs)
    compact = sum(len(format_ner_compact(d["tokens"], d["tags"])) for d in docs)
    pairs = sum(len(format_ner_pairs(d["tokens"], d["tags"])) for d in docs)
    assert compact < 0.8 * pairs


def test_alignment_keeps_the_rest_of_the_query_when_one_token_is_off():
    gold = ["teeth", "whitening", "sensitive", "teeth"]
    out = "core_product_type: teeth whitenning\nmodifier: sensitive teeth"   # a typo in one token
    tags, ok = parse_ner(out, gold, QUERYNER_TYPES)
    assert ok and tags == ["B-core_product_type", "O", "B-modifier", "I-modifier"]


def test_alignment_in_order_and_case_insensitive():
    assert align_tags(["a", "b", "a"], [("A", "B-color"), ("x", "B-time"), ("a", "B-shape")]) == ["B-color", "O", "B-shape"]


def test_unparseable_ner_output_is_counted_not_raised():
    tags, ok = parse_ner("I cannot help with that.", ["red", "shoes"], QUERYNER_TYPES)
    assert not ok and tags == ["O", "O"]
    tags, ok = parse_ner("none", ["red", "shoes"], QUERYNER_TYPES)
    assert ok and tags == ["O", "O"]
    tags, ok = parse_ner("brandish: red", ["red"], QUERYNER_TYPES)   # unknown type only
    assert not ok


def test_entities_orphan_i_starts_new_entity():
    assert entities(["a", "b", "c"], ["I-color", "B-time", "I-color"]) == [("color", ["a"]), ("time", ["b"]), ("color", ["c"])]


def test_attributes_roundtrip_and_garbage():
    attrs = [{"name": "Brand Name", "values": ["ACME"]}, {"name": "Size", "values": ["n/a"]},
             {"name": "Color", "values": ["n/a", "Red"]}]
    assert parse_attributes(format_attributes(attrs)) == {"Brand Name": "ACME", "Size": "n/a", "Color": "Red"}
    assert parse_attributes('Sure! {"a": "b"} and more {') == {"a": "b"}
    assert parse_attributes('{"a": {"nested": 1}} then {"a": null}') == {"a": "n/a"}
    for bad in ("", "no json here", "{broken", "[1, 2]", None):
        assert parse_attributes(bad) is None
