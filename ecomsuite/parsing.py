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
# a label word and its inflections (exactly, substitutes/substitution, complementary, irrelevance)
_ESCI_WORD_RE = re.compile(r"\b(?:(exact(?:ly)?)|(substitut(?:e|es|ed|ion|ions))"
                           r"|(complement(?:s|ed|ary)?)|(irrelevan(?:t|ce|tly)))\b", re.I)
# a bare letter is an answer only when it is the whole answer: "E", " E", "E.", "(E)", "E)"
_ESCI_LETTER_RE = re.compile(r"^[\s(\[\"'*]*([ESCI])[\s)\]\"'*.:!]*$")
# hedges and negations: the answer does not commit to a label
_ESCI_HEDGE_RE = re.compile(r"\b(?:not|no|never|neither|nor|cannot|can't|can ?not|don't|doesn't|isn't|"
                            r"won't|unsure|uncertain|unclear|unknown|maybe|perhaps|possibly|probably|"
                            r"might|hard to (?:say|tell))\b|n't\b", re.I)


def esci_label_word(label: str) -> str:
    return {v: k for k, v in ESCI_WORDS.items()}[label]


def parse_esci(text: str) -> str | None:
    """The label of a generated answer, or ``None`` (a parse failure, scored as wrong):

    - a label word or an inflection of one, any case: exact/exactly, substitute(s/d)/substitution,
      complement(s/ed/ary), irrelevant/irrelevance/irrelevantly ("Complementary" -> C);
    - a bare letter E/S/C/I only when it is the whole answer (" E", "E.", "(E)"): "E-commerce
      listing" and "I'm ..." are not letters;
    - ``None`` for hedges and negations ("I'm not sure", "I cannot tell", "not exact", "maybe
      substitute"), for answers naming two different labels, and for anything else.
    """
    if not isinstance(text, str):
        return None
    m = _ESCI_LETTER_RE.match(text)
    if m:
        return m.group(1)
    if _ESCI_HEDGE_RE.search(text):
        return None
    found = {"ESCI"[next(i for i, g in enumerate(m.groups()) if g)] for m in _ESCI_WORD_RE.finditer(text)}
    return found.pop() if len(found) == 1 else None


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


Line = list[tuple[str, str]]   # one predicted entity (or one O token): [(token, tag), ...]


def _lines_from_compact(text: str, types: set[str]) -> list[Line] | None:
    """Compact output -> one line per entity: its words tagged ``B-type, I-type, ...``. Lines whose
    type is not one of ``types`` are ignored; ``None`` when no line (nor ``none``) parses."""
    lines: list[Line] = []
    found = False
    for line in text.splitlines():
        if line.strip().lower() in ("none", "none."):
            found = True
            continue
        m = _COMPACT_LINE.match(line)
        if not m or m.group(1) not in types:
            continue
        found = True
        lines.append([(tok, ("B-" if j == 0 else "I-") + m.group(1)) for j, tok in enumerate(m.group(2).split())])
    return lines if found else None


def _lines_from_paper(text: str, types: set[str]) -> list[Line] | None:
    """The paper's ``(token, tag)`` list -> one line per entity (a ``B-x`` or orphan ``I-x`` pair and
    the ``I-x`` pairs that continue it) and one line per ``O`` pair; ``None`` when no pair parses."""
    lines: list[Line] = []
    for tok, tag in _PAIR.findall(text):
        if tag != "O" and tag[2:] not in types:
            continue
        if tag.startswith("I-") and lines and lines[-1][-1][1] != "O" and lines[-1][-1][1][2:] == tag[2:]:
            lines[-1].append((tok, tag))
        else:
            lines.append([(tok, tag)])
    return lines or None


def _fits(low: list[str], free: list[bool] | None, words: list[str], j: int) -> bool:
    """``words`` equal the gold tokens from position ``j`` on (and all are unclaimed, if ``free``)."""
    return j + len(words) <= len(low) and all(low[j + i] == w and (free is None or free[j + i])
                                              for i, w in enumerate(words))


def _spans(low: list[str], free: list[bool] | None, words: list[str], start: int = 0) -> list[int]:
    """Positions >= ``start`` where ``words`` match the gold tokens contiguously (unclaimed ones)."""
    return [j for j in range(start, len(low)) if _fits(low, free, words, j)]


def align_lines(gold_tokens: Sequence[str], lines: Sequence[Line]) -> list[str]:
    """Align predicted lines to the gold tokens, each line on its own (case-insensitive). The order
    of the lines does not matter; the order of the words within a line does:

    1. a line whose words match exactly one contiguous span of the gold tokens claims it;
    2. every other line, in output order, claims the left-most *unclaimed* contiguous matching span,
       preferring one after the span of the nearest earlier line already placed (of two equal
       spans, lines written in query order get them in query order), else the left-most anywhere;
    3. a line with no such span (a misspelt or invented word) is aligned word by word last: each
       word claims the next unclaimed equal gold token after the previous word of its line; words
       with no match are ignored, so one wrong word never discards the rest of the query.

    Gold tokens nobody claimed get ``O``."""
    tags = ["O"] * len(gold_tokens)
    low = [t.lower() for t in gold_tokens]
    free = [True] * len(gold_tokens)
    words = [[tok.lower() for tok, _ in line] for line in lines]
    placed: dict[int, int] = {}   # line index -> end of its span

    def claim(n: int, j: int) -> None:
        for i, (_, tag) in enumerate(lines[n]):
            tags[j + i], free[j + i] = tag, False
        placed[n] = j + len(lines[n])

    for n in range(len(lines)):
        cands = _spans(low, None, words[n])
        if len(cands) == 1 and _fits(low, free, words[n], cands[0]):
            claim(n, cands[0])
    for n in range(len(lines)):
        if n in placed:
            continue
        after = next((placed[m] for m in range(n - 1, -1, -1) if m in placed), 0)
        cands = _spans(low, free, words[n], after) or _spans(low, free, words[n])
        if cands:
            claim(n, cands[0])
    for n in range(len(lines)):
        if n in placed:
            continue
        pos = 0
        for w, (_, tag) in zip(words[n], lines[n]):
            j = next((i for i in range(pos, len(low)) if free[i] and low[i] == w), -1)
            if j >= 0:
                tags[j], free[j], pos = tag, False, j + 1
    return tags


def align_tags(gold_tokens: Sequence[str], pairs: Sequence[tuple[str, str]]) -> list[str]:
    """Align a flat list of predicted (token, tag) pairs, each pair on its own (``align_lines``)."""
    return align_lines(gold_tokens, [[p] for p in pairs])


def parse_ner(text: str, gold_tokens: Sequence[str], types: Sequence[str], form: str = "compact") -> tuple[list[str], bool]:
    """Model output -> (IOB2 tags aligned to ``gold_tokens``, parsed_ok). Unparseable output gives
    all-``O`` tags and ``False``."""
    if not isinstance(text, str):
        return ["O"] * len(gold_tokens), False
    reader = _lines_from_compact if form == "compact" else _lines_from_paper
    lines = reader(text, set(types))
    if lines is None:
        return ["O"] * len(gold_tokens), False
    return align_lines(gold_tokens, lines), True


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


# ------------------------------------------------------------------ the QueryNER paper's own rule
def parse_ner_pairs_paper(text: str, n_gold: int) -> tuple[list[str], bool]:
    """The authors' reading of a ``(token, tag), ...`` answer (Palen-Michel et al., 2024): the predicted
    tags in order, taken position by position; when their number differs from the gold sequence's
    length, every tag is ``O``. No alignment by word (``parse_ner`` aligns). Returns (tags, lengths_match);
    tags are as predicted (``[BI]-type`` or ``O``; an unknown type is a wrong entity, not dropped)."""
    tags = [tag for _, tag in _PAIR.findall(text)] if isinstance(text, str) else []
    if len(tags) != n_gold:
        return ["O"] * n_gold, False
    return tags, True
