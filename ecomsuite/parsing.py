"""Model output -> label / entities / attributes. Never raises on model output: a failure returns
``None`` (or ``ok=False``), the caller scores it as wrong and counts it in ``parse_fail``.

Each task's *target* formatter lives beside its parser, so that ``parse(format(gold)) == gold`` is
testable (the oracle property).
"""
from __future__ import annotations

import json
import re
from typing import Sequence

# ------------------------------------------------------------------------------------- ESCI
ESCI_WORDS = {"exact": "E", "substitute": "S", "complement": "C", "irrelevant": "I"}
_ESCI_WORD_RE = re.compile(r"\b(exact|substitute|complement|irrelevant)\b", re.I)
_ESCI_LETTER_RE = re.compile(r"^\W*([ESCI])\b")


def esci_label_word(label: str) -> str:
    return {v: k for k, v in ESCI_WORDS.items()}[label]


def parse_esci(text: str) -> str | None:
    """First label word in the output (exact/substitute/complement/irrelevant, any case), or a
    bare leading letter E/S/C/I; ``None`` if neither is present."""
    if not isinstance(text, str):
        return None
    m = _ESCI_WORD_RE.search(text)
    if m:
        return ESCI_WORDS[m.group(1).lower()]
    m = _ESCI_LETTER_RE.match(text.strip())
    return m.group(1) if m else None


# ---------------------------------------------------------------------------------- QueryNER
def entities(tokens: Sequence[str], tags: Sequence[str]) -> list[tuple[str, list[str]]]:
    """IOB2 tags -> [(type, tokens)] in order (an orphan I-x starts a new entity)."""
    out: list[tuple[str, list[str]]] = []
    prev = "O"
    for tok, tag in zip(tokens, tags, strict=True):
        if tag.startswith("I-") and prev != "O" and prev[2:] == tag[2:]:
            out[-1][1].append(tok)
        elif tag != "O":
            out.append((tag[2:], [tok]))
        prev = tag
    return out


def format_ner_compact(tokens: Sequence[str], tags: Sequence[str]) -> str:
    """One entity per line, ``type: span``; ``none`` when the query has no entity. Example::

        core_product_type: teeth whitening
        modifier: sensitive teeth
    """
    ents = entities(tokens, tags)
    return "\n".join(f"{t}: {' '.join(toks)}" for t, toks in ents) if ents else "none"


def format_ner_pairs(tokens: Sequence[str], tags: Sequence[str]) -> str:
    """The paper's form: ``(token, tag), (token, tag), ...`` over every token."""
    return ", ".join(f"({tok}, {tag})" for tok, tag in zip(tokens, tags))


_COMPACT_LINE = re.compile(r"^\s*[-*]?\s*([A-Za-z_]+)\s*:\s*(.+?)\s*$")
_PAIR = re.compile(r"\(\s*([^()]+?)\s*,\s*([BI]-[A-Za-z_]+|O)\s*\)")


def _pairs_from_compact(text: str, types: set[str]) -> list[tuple[str, str]] | None:
    pairs: list[tuple[str, str]] = []
    found = False
    for line in text.splitlines():
        if line.strip().lower() in ("none", "none."):
            found = True
            continue
        m = _COMPACT_LINE.match(line)
        if not m or m.group(1) not in types:
            continue
        found = True
        for j, tok in enumerate(m.group(2).split()):
            pairs.append((tok, ("B-" if j == 0 else "I-") + m.group(1)))
    return pairs if found else None


def _pairs_from_paper(text: str, types: set[str]) -> list[tuple[str, str]] | None:
    pairs = [(tok, tag) for tok, tag in _PAIR.findall(text) if tag == "O" or tag[2:] in types]
    return pairs or None


def align_tags(gold_tokens: Sequence[str], pairs: Sequence[tuple[str, str]]) -> list[str]:
    """Align predicted (token, tag) pairs to the gold tokens in order: each pair claims the next gold
    token (from the current position on) that equals it (case-insensitive); pairs with no match are
    ignored; gold tokens nobody claimed get ``O``. One wrong token never discards the whole query."""
    tags = ["O"] * len(gold_tokens)
    low = [t.lower() for t in gold_tokens]
    pos = 0
    for tok, tag in pairs:
        t = tok.lower()
        try:
            j = low.index(t, pos)
        except ValueError:
            continue
        tags[j] = tag
        pos = j + 1
    return tags


def parse_ner(text: str, gold_tokens: Sequence[str], types: Sequence[str], form: str = "compact") -> tuple[list[str], bool]:
    """Model output -> (IOB2 tags aligned to ``gold_tokens``, parsed_ok). Unparseable output gives
    all-``O`` tags and ``False``."""
    if not isinstance(text, str):
        return ["O"] * len(gold_tokens), False
    reader = _pairs_from_compact if form == "compact" else _pairs_from_paper
    pairs = reader(text, set(types))
    if pairs is None:
        return ["O"] * len(gold_tokens), False
    return align_tags(gold_tokens, pairs), True


# ----------------------------------------------------------------------- attribute extraction
def format_attributes(attributes: Sequence[dict]) -> str:
    """Target JSON: every asked attribute with its first real value, or "n/a"."""
    out = {}
    for a in attributes:
        real = [v for v in a["values"] if v.lower() != "n/a"]
        out[a["name"]] = real[0] if real else "n/a"
    return json.dumps(out, ensure_ascii=False)


_DECODER = json.JSONDecoder()


def parse_attributes(text: str) -> dict[str, str] | None:
    """The first JSON object in the output whose values are scalars; ``None`` if there is none."""
    if not isinstance(text, str):
        return None
    i = text.find("{")
    while i != -1:
        try:
            obj, end = _DECODER.raw_decode(text, i)
        except json.JSONDecodeError:
            i = text.find("{", i + 1)
            continue
        if isinstance(obj, dict) and all(isinstance(v, (str, int, float)) or v is None for v in obj.values()):
            return {str(k): "n/a" if v is None else str(v) for k, v in obj.items()}
        i = text.find("{", end)  # skip the whole non-flat object, not into it
    return None
