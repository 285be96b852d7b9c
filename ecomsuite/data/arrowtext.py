"""Arrow twins of the readers' Python text functions, equal to them value for value by construction.

A Python pass over the full ESCI release's 1.2M product descriptions (``strip_html``, ``normalise_text``,
a word count) takes minutes; these functions do the same on whole Arrow columns with pyarrow.compute,
and hand a value to the Python function itself wherever Arrow's semantics could differ:

- whitespace is Python's (``str.isspace``: the set ``str.split()`` and ``str.strip()`` use), spelled out
  as an explicit RE2 class, not RE2's or Arrow's own notion of it;
- lowercase is ``str.lower`` itself for any value that is not pure ASCII (Arrow's Unicode lowercase
  differs from Python's for ~80 characters, and Python lowercases a final capital sigma by context);
- ``strip_html`` runs in Arrow only for values whose markup is plain tags (the fast path's own
  grammar, ``_SIMPLE_TAG``) and whose entities are a few named/numeric ones decoded exactly as
  ``html.unescape`` decodes them, or a bare '&' that it leaves as it is ("Black & White": one in five
  real US descriptions); every other value goes through ``strip_html``.

tests/test_data_scale.py compares each function with its Python original on generated text (markup,
entities, Unicode whitespace, characters whose case mapping differs) and the old and new readers on a
synthetic release-shaped pair.
"""
from __future__ import annotations

import functools
import html
import itertools
import sys

# entities decoded in Arrow (each exactly what html.unescape gives); any other '&' sends the value to Python
_ENTITIES = ("lt;", "gt;", "quot;", "apos;", "nbsp;", "#39;", "#34;", "amp;")   # amp last: see _unescape
_BLOCK_NAMES = ("p", "br", "li", "div", "ul", "ol", "tr", "h1", "h2", "h3", "h4", "table")   # = _Stripper.BLOCK


@functools.cache
def python_whitespace() -> str:
    """Every character ``str.split()`` / ``str.strip()`` treat as whitespace."""
    return "".join(filter(str.isspace, map(chr, range(sys.maxunicode + 1))))


@functools.cache
def ascii_untidy() -> str:
    """An RE2 pattern that finds, in an ASCII text, what ``" ".join(text.split())`` would change: whitespace other
    than a single space between two other characters (``_patterns()["ws_untidy"]``, for ASCII only)."""
    ws = "".join(c for c in python_whitespace() if c.isascii())
    return _cls(ws) + "{2}|" + _cls(ws.replace(" ", "")) + "|^ | $"


def _cls(chars: str, negate: bool = False) -> str:
    """An RE2 character class of exactly ``chars``."""
    return "[" + ("^" if negate else "") + "".join(f"\\x{{{ord(c):x}}}" for c in chars) + "]"


def _nocase(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word)


@functools.cache
def _patterns() -> dict[str, str]:
    ws = python_whitespace()
    attrs = "(?:[ \\t\\n\\r\\f][^<>\"']*>|/?>)"   # ecomsuite.data._SIMPLE_TAG after the name
    tag = "<(/?)([a-zA-Z][-.a-zA-Z0-9:_]*)" + attrs
    return {
        "ws_untidy": _cls(ws) + "{2}|" + _cls(ws.replace(" ", "")) + "|^ | $",
        "ws_fix": _cls(ws) + "{2,}|" + _cls(ws.replace(" ", "")),
        "tag": tag,
        "block_tag": "</?(?:" + "|".join(_nocase(n) for n in _BLOCK_NAMES) + ")" + attrs,
        "plain_tag_text": "^[^<]*(?:" + tag + "[^<]*)*$",     # = _PLAIN_TAG_TEXT (re.match ... \Z)
        "script_style": "</?(?:" + _nocase("script") + "|" + _nocase("style") + ")",   # a superset: to Python
        "entity": "&(?:" + "|".join(e.replace("#", "\\#") for e in _ENTITIES) + ")",
        # a '&' that html.unescape's pattern could start a reference at (whether it decodes one: ``_decodes``)
        "live_amp": "&[^\\t\\n\\f <&;]",
    }


def _pc():
    import pyarrow.compute as pc

    return pc


def as_text(col):
    """A string column as large_string, one chunk (what the functions below take and give)."""
    import pyarrow as pa

    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    return col.cast(pa.large_string())


def _np(mask):
    """A boolean Arrow array as a numpy array (a null: False; ``and_kleene``, ~60x faster than ``fill_null``)."""
    if mask.null_count:
        mask = _pc().and_kleene(mask, _pc().is_valid(mask))
    return mask.to_numpy(zero_copy_only=False)


def _apply(col, mask, fn):
    """``col`` with the values under ``mask`` (numpy bool) replaced by ``fn`` of them (an Arrow column)."""
    import pyarrow as pa

    if not mask.any():
        return col
    if mask.all():   # every value: no copy out and back
        return as_text(fn(col))
    m = pa.array(mask)
    return _pc().replace_with_mask(col, m, as_text(fn(col.filter(m))))


def strip(col, nulls: bool = False):
    """``ecomsuite.data._text`` of each value of a string column: ``str.strip()``, null -> "" (with ``nulls``,
    a null stays null, which saves a copy of the column)."""
    import pyarrow as pa

    pc = _pc()
    col = pc.utf8_trim(as_text(col), characters=python_whitespace())
    if nulls or not col.null_count:
        return col
    return pc.if_else(pc.is_null(col), pa.scalar("", pa.large_string()), col)   # fill_null is slow on text


def collapse(col):
    """``" ".join(value.split())`` of each value (no nulls). Only values with something to change are
    rewritten (a run of whitespace, whitespace other than a space, a space at either end), and in them
    only those places: a regex replacement per single space would be slow."""
    pc = _pc()
    pat = _patterns()
    col = as_text(col)
    return _apply(col, _np(pc.match_substring_regex(col, pat["ws_untidy"])),
                  lambda v: pc.utf8_trim(pc.replace_substring_regex(v, pat["ws_fix"], " "), characters=" "))


@functools.cache
def _cased_class() -> str:
    """An RE2 class of the characters beyond ASCII that ``str.lower`` changes (Python's own table: ~1,400 of
    them, in ~600 ranges), found 256 code points at a time: a block that ``str.lower`` leaves as it is holds none."""
    changed = []
    for start in range(0x80, sys.maxunicode + 1, 256):
        block = "".join(chr(c) for c in range(start, min(start + 256, sys.maxunicode + 1))
                        if not 0xD800 <= c <= 0xDFFF)
        if block.lower() != block:
            changed += [c for c in map(ord, block) if chr(c).lower() != chr(c)]
    ranges: list[list[int]] = []
    for c in changed:
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1][1] = c
        else:
            ranges.append([c, c])
    return "[" + "".join(f"\\x{{{a:x}}}" + (f"-\\x{{{b:x}}}" if b > a else "") for a, b in ranges) + "]"


def lower(col, ascii=None):
    """``value.lower()`` of each value (a null stays null): Arrow's ASCII lowercase, and ``str.lower`` for the
    values with a character beyond ASCII that it changes (``_cased_class``: accented capitals, Greek, ...; not
    punctuation, symbols or CJK, which most non-ASCII descriptions hold only). ``ascii``: which values are
    ASCII, a numpy mask, when the caller knows. On collapsed text (``collapse``) this is already
    ``normalise``: no character gains or loses whitespace when lowercased (tests/test_data_scale.py checks
    every code point)."""
    import numpy as np
    import pyarrow as pa

    pc = _pc()
    col = as_text(col)
    cased = _np(pc.invert(pc.string_is_ascii(col))) if ascii is None else ~ascii
    if cased.any():
        rows = np.flatnonzero(cased)
        cased[rows] = _np(pc.match_substring_regex(col.take(pa.array(rows)), _cased_class()))
    return _apply(pc.ascii_lower(col), cased, lambda v: pa.array([x.lower() for x in v.to_pylist()], pa.large_string()))


def normalise(col):
    """``ecomsuite.data.normalise_text`` of each value (no nulls)."""
    return collapse(lower(col))


def _buffers(col):
    """(offsets, UTF-8 bytes) of a large_string column (no nulls) as numpy arrays, without copying."""
    import numpy as np

    col = as_text(col)
    bufs = col.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64, count=len(col) + 1, offset=col.offset * 8)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, dtype=np.uint8)
    return offsets, data


def word_counts(col):
    """``len(value.split())`` of each value of an already collapsed column (``collapse``, ``strip_html``), as a
    numpy array: its spaces + 1, or 0 for "" (a byte 32 in UTF-8 is always the space character). The spaces
    are counted as bits: bit i of 64-bit word w says whether byte 64w + i is a space, so a running count
    needs one step per 64 bytes (one per byte costs ~10x more), and a value's count is the difference of
    the running counts at its two ends, each the words before it plus the bits below it in its own word."""
    import numpy as np

    offsets, data = _buffers(col)
    start = int(offsets[0])
    rel = offsets - start
    size = int(rel[-1])
    words = np.zeros(size // 64 + 1, dtype=np.uint64)   # one spare word: an end offset may be 64w exactly
    as_bytes = words.view(np.uint8)
    for a in range(0, size, 1 << 20):   # in 1 MiB pieces (a multiple of 64): small temporaries, reused
        b = min(a + (1 << 20), size)
        bits = np.packbits(data[start + a:start + b] == 32, bitorder="little")
        as_bytes[a // 8:a // 8 + len(bits)] = bits
    before = np.zeros(len(words) + 1, dtype=np.int64)   # spaces in the words before word w
    np.cumsum(np.bitwise_count(words), out=before[1:])
    w, r = rel >> 6, (rel & 63).astype(np.uint64)
    upto = before[w] + np.bitwise_count(words[w] & ((np.uint64(1) << r) - np.uint64(1)))   # spaces before it
    return np.where(rel[1:] > rel[:-1], np.diff(upto) + 1, 0)


def _unescape(col):
    """``html.unescape`` of values whose every '&' starts one of ``_ENTITIES`` or is one it leaves as it is.
    ``&amp;`` goes last: an earlier replacement cannot then see the ``&`` it produces (the entities of one value
    are disjoint). An entity is replaced only if the column's text holds it (one search of its buffer: a
    replacement pass costs far more)."""
    pc = _pc()
    offsets, data = _buffers(col)
    text = data[offsets[0]:offsets[-1]].tobytes()   # the values one after another (replacements add no '&')
    for ent in _ENTITIES:
        if ("&" + ent).encode() in text:
            col = pc.replace_substring(col, "&" + ent, html.unescape("&" + ent))
    return col


def strip_html(col):
    """``ecomsuite.data.strip_html(ecomsuite.data._text(value))`` of each value; a null stays null. One pass over
    the column finds the values with anything to change (a '<' or '&', or whitespace to collapse:
    ``collapse``'s test); only those are copied out, cleaned (markup, then whitespace) and put back.
    Whitespace at either end of a value needs no ``strip`` first: the result is collapsed, and where the
    whitespace could matter to the markup (a '&' before it) the value goes to Python, stripped."""
    pc = _pc()
    pat = _patterns()
    col = as_text(col)

    def clean(v):   # values with markup or untidy whitespace: markup first, then collapse every one of them
        v = _apply(v, _np(pc.match_substring_regex(v, "[<&]")), _strip_markup)
        # = collapse(v): a tidy value has nothing for ws_fix to replace and no space at either end
        return pc.utf8_trim(pc.replace_substring_regex(v, pat["ws_fix"], " "), characters=" ")

    return _apply(col, _np(pc.match_substring_regex(col, "[<&]|" + pat["ws_untidy"])), clean)


def _strip_markup(col):
    """``strip_html`` of values each holding a '<' or a '&', up to collapsing the whitespace: in Arrow
    where that is exact, else ``strip_html`` itself (whose result is already collapsed)."""
    import numpy as np
    import pyarrow as pa

    from ecomsuite.data import strip_html as py_strip_html

    pc = _pc()
    pat = _patterns()
    has_lt, has_amp = _np(pc.match_substring_regex(col, "<")), _np(pc.match_substring_regex(col, "&"))

    def where(mask, test):   # numpy mask: ``test`` (a numpy mask) of the values under ``mask``, False elsewhere
        if mask.all():
            return test(col)
        out = np.zeros(len(col), dtype=bool)
        if mask.any():
            out[np.flatnonzero(mask)] = test(col.filter(pa.array(mask)))
        return out

    # to Python: a '&' that does not start one of _ENTITIES and that html.unescape decodes (``_decodes``; checked
    # on the raw text, as the pieces' unescape sees it: a bare '&', as in "Black & White" or "AT&T", is text to
    # it); markup other than plain tags, or a script/style tag (the parser treats their content). Whatever
    # joining the pieces makes of an '&' is checked on the result below.
    py = where(has_amp, lambda v: _decodes(pc.replace_substring_regex(v, pat["entity"], "")))
    py |= where(has_lt & ~py, lambda v: _np(pc.or_(pc.invert(pc.match_substring_regex(v, pat["plain_tag_text"])),
                                                   pc.match_substring_regex(v, pat["script_style"]))))
    # tags: block tags -> " ", others -> ""; then the entities
    out = _apply(col, has_lt & ~py, lambda v: pc.replace_substring_regex(
        pc.replace_substring_regex(v, pat["block_tag"], " "), pat["tag"], ""))
    out = _apply(out, has_amp & ~py, _unescape)
    # the second unescape (of the joined text) must find nothing to decode, else Python
    if (has_amp & ~py).any():
        m = has_amp & ~py
        py[np.flatnonzero(m)] |= _decodes(out.filter(pa.array(m)))
    if not py.any():
        return out
    m = pa.array(py)
    return pc.replace_with_mask(out, m, pa.array([py_strip_html(v.strip()) for v in col.filter(m).to_pylist()],
                                                 pa.large_string()))


def _decodes(col):
    """Whether ``html.unescape`` changes each value (no nulls), as a numpy mask: where a '&' could start a reference
    (``live_amp``: rare, a bare '&' is mostly followed by a space), ``html.unescape`` itself says (its table and
    rules: "&T" stays, "&notice" does not)."""
    import numpy as np
    import pyarrow as pa

    maybe = _np(_pc().match_substring_regex(col, _patterns()["live_amp"]))
    if maybe.any():
        rows = np.flatnonzero(maybe)
        maybe[rows] = [html.unescape(v) != v for v in col.take(pa.array(rows)).to_pylist()]
    return maybe


def sha256_each(col, rows=None) -> list[bytes]:
    """``hashlib.sha256(value.encode()).digest()`` of each value (no nulls; with ``rows``, a numpy array of
    positions, of those values only), read from the column's UTF-8 buffer without building a Python string
    per value."""
    import hashlib

    offsets, data = _buffers(col)
    view, sha = memoryview(data), hashlib.sha256
    if rows is None:
        return [sha(view[a:b]).digest() for a, b in itertools.pairwise(offsets.tolist())]
    return [sha(view[a:b]).digest() for a, b in zip(offsets[rows].tolist(), offsets[rows + 1].tolist())]
