"""Per-sample data: lm-eval's samples_<task>_<date>.jsonl -> arrays for statistics + viewer files.

Each samples file is read exactly once and streamed: the per-document metric items are kept (as
a float array, or a list of objects for corpus metrics such as macro_f1 / span_f1 / bleu) for the
statistics stage, and the per-sample viewer data (prompt, reference, output, parsed value, score)
is written straight to its small ``.js`` data file. Keeping millions of prompts in memory until a
final render pass would not scale (see bench/bench_leaderboard.py); the wrapper of that file is
owned by :mod:`.safejson`.

A data file holds its records as columns (one list per field, sparse objects for fields few records
have), gzip-compressed and base64-encoded in one string (``encode_view`` / ``pack``): a page opened from
file:// cannot fetch, so the viewer inflates the string itself (DecompressionStream) and rebuilds the
records exactly as ``decode_view`` does here. Multiple-choice loglikelihoods are kept at the 3 decimals
the viewer shows.
"""

from __future__ import annotations

import base64
import contextlib
import gc
import gzip
import hashlib
import json
import math
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

try:  # the fast parser of a samples line (see _lines); without it every line is parsed by safeio.loads
    from orjson import OPT_STRICT_INTEGER as _FAST_STRICT
    from orjson import JSONDecodeError, JSONEncodeError
    from orjson import dumps as _fast_dumps
    from orjson import loads as _fast_loads

    _FastError: Any = (JSONDecodeError, JSONEncodeError)
except ImportError:  # pragma: no cover - orjson is a dependency (pyproject.toml)
    _fast_loads = _fast_dumps = None
    _FAST_STRICT = 0
    _FastError = ()

from . import safeio, safejson

SAMPLES_GLOBAL = "LB_SAMPLES"
DOCS_GLOBAL = "LB_DOCS"
MAX_TEXT = 20000  # characters per shown field; longer text is cut with a marker
LL_DECIMALS = 3  # multiple-choice loglikelihoods are stored (and shown) at this precision
VIEW_FORMAT = 1  # data files: columns, gzip, base64 (see encode_view); the viewer checks it
# zlib level 5: on long distinct outputs (product descriptions, 866 KB of viewer JSON a file) 0.8% larger than
# level 6 (zlib's default) for ~45% less CPU (30 vs 54 ms a file); level 4 is 4% larger, level 9 ~2x the CPU
# of 6 for <1% smaller (bench/README.md, session 12)
GZIP_LEVEL = 5
PARSE_FAIL = "parse_fail"


@dataclass
class SampleJob:
    system_id: str
    task: str
    metric: str
    filter: str
    path: str
    out_file: str | None  # absolute path of the viewer .js file to write (None: don't write)
    cluster_field: str | None = None  # doc field whose value groups documents (cluster bootstrap)
    boot: tuple | None = None  # (resamples, seed) of the cell's bootstrap: computed beside the file's reading
    version: str | None = None  # the task's version in the results file (part of the cache key)


@dataclass
class SampleData:
    system_id: str
    task: str
    metric: str
    path: str
    doc_ids: np.ndarray  # document identity keys (see doc_key), sorted; aligned with items
    items: Any  # np.ndarray[float] when numeric, else list of JSON items
    numeric: bool
    parse_fail: np.ndarray | None  # aligned with doc_ids, nan where absent
    scores: np.ndarray | None  # per-document score shown in the viewer (nan: unknown)
    n_docs_in_file: int
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    clusters: list | None = None  # cluster label per document (aligned with doc_ids), or None
    n_nan: int = 0  # numeric items that were NaN/inf, left out of the statistics (and counted)
    key_source: str = "position"  # how documents are identified: "id", "hash", "position" (mixed: worst)
    cell: Any = None  # stats.CellPrep for SampleJob.boot: the cell's prepared metric and bootstrap array


def _natural_key(k: Any) -> tuple:
    """"gen_args_10" after "gen_args_9"."""
    head, _, num = str(k).rpartition("_")
    return (head, int(num), "") if num.isdigit() else (str(k), -1, str(k))


_ORDER_MEMO: dict[tuple, Any] = {}  # a dict's keys, in their order -> the keys in argument order (None: as they are)
_ORDER_MEMO_MAX = 4096


def _key_order(keys: tuple) -> tuple | None:
    """The keys of an argument dict in argument order (lm-eval's own arg_0, arg_1 ... /
    gen_args_0, gen_args_1 ...; else a natural sort), or None when that is the order they have."""
    if len(keys) <= 1:
        return None
    first = keys[0]
    prefix = first.rpartition("_")[0] if isinstance(first, str) else None
    if prefix:
        want = tuple(f"{prefix}_{i}" for i in range(len(keys)))
        if set(want) == set(keys):
            return None if want == keys else want
    order = tuple(sorted(keys, key=_natural_key))
    return None if order == keys else order


def _ordered(d: dict) -> list:
    """The values of an argument dict in argument order. The order depends on the keys alone:
    it is worked out once per distinct key sequence (a file repeats the same few)."""
    if len(d) == 1:
        return list(d.values())
    if len(d) == 2 and "arg_0" in d and "arg_1" in d:  # one request (context, continuation): in that order
        return [d["arg_0"], d["arg_1"]]
    keys = tuple(d)
    order = _ORDER_MEMO.get(keys, False)
    if order is False:
        order = _key_order(keys)
        if len(keys) <= 64:  # a hostile dict of many keys is not remembered
            if len(_ORDER_MEMO) >= _ORDER_MEMO_MAX:
                _ORDER_MEMO.clear()
            _ORDER_MEMO[keys] = order
    return list(d.values()) if order is None else [d[k] for k in order]


def _requests(args: Any) -> list[list[Any]]:
    """lm-eval writes arguments as {"gen_args_0": {"arg_0": ctx, "arg_1": ...}, ...}."""
    if isinstance(args, dict):  # a request {"arg_0": context, "arg_1": continuation} as _ordered orders it, inline
        return [([v["arg_0"], v["arg_1"]] if len(v) == 2 and "arg_0" in v and "arg_1" in v else _ordered(v))
                if isinstance(v, dict) else v if isinstance(v, list) else [v] for v in _ordered(args)]
    if isinstance(args, list):
        return [a if isinstance(a, list) else [a] for a in args]
    return []


def _text(v: Any) -> str:
    if type(v) is str and len(v) <= MAX_TEXT:
        return v
    if v is None:
        return ""
    s = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
    if len(s) > MAX_TEXT:
        s = s[:MAX_TEXT] + f" … [{len(s) - MAX_TEXT} more characters not shown]"
    return s


def _unwrap(v: Any) -> Any:
    while isinstance(v, list) and len(v) == 1:
        v = v[0]
    return v


def _num(v: Any) -> float | None:
    """A finite number, else None."""
    if type(v) is float:
        return v if math.isfinite(v) else None
    if isinstance(v, bool):
        return float(v)
    try:
        f = float(v) if isinstance(v, (int, float)) or (isinstance(v, str) and len(v) < 64) else None
    except (ValueError, OverflowError):
        return None
    return f if f is not None and math.isfinite(f) else None


SCORE_DECIMALS = 6  # a document's score in the viewer
_ROUND_SCALES = {d: 10**d for d in (LL_DECIMALS, SCORE_DECIMALS)}
_LL_SCALE = _ROUND_SCALES[LL_DECIMALS]


def _round(x: float, decimals: int) -> float:
    """``round(x, decimals)`` of a finite float (decimals: LL_DECIMALS or SCORE_DECIMALS), without
    its decimal conversion where that cannot matter: x * 10**decimals is within 2**-23 of the exact
    product below 1e9, so an integer nearer to it than 0.4999 is the one the exact product rounds
    to, and k / 10**decimals (both exact doubles) is correctly rounded, as round's decimal-to-double
    step is. Near-ties, large values and small non-zero ones (the sign of a zero result) take round
    itself; a zero is its own rounding."""
    scale = _ROUND_SCALES[decimals]
    y = x * scale
    if -1e9 < y < 1e9:
        k = round(y)
        if k and -0.4999 < y - k < 0.4999:
            return k / scale
        if not x:
            return x
    return round(x, decimals)


class _Static:
    """What a viewer record takes from a line's arguments and target alone (its prompt; for several
    requests, the choices and the reference shown with the chosen index), worked out once per
    distinct line beginning (see _lines) instead of once per system. Read-only once made."""

    __slots__ = ("prompt", "reqs", "choices", "t_choice", "t_plain")

    def __init__(self, args: Any, target: Any) -> None:
        if type(args) is dict and len(args) == 1:  # one request (a generation): its first argument is the prompt
            (req,) = args.values()
            if type(req) is dict and len(req) == 2 and "arg_0" in req and "arg_1" in req:  # _ordered's order
                first = req["arg_0"]
                prompt = first if type(first) is str and len(first) <= MAX_TEXT else _text(first)
            else:
                req = _ordered(req) if isinstance(req, dict) else req if isinstance(req, list) else [req]
                prompt = _text(req[0]) if req else ""
            reqs: list = []  # not multiple choice (that needs 2+ requests): the others are not needed
        else:
            reqs = _requests(args)
            prompt = _text(reqs[0][0]) if reqs and reqs[0] else ""
        self.prompt, self.reqs = prompt, reqs
        self.choices: list[str] | None = None
        self.t_choice: str | None = None  # the reference as a multiple-choice record shows it
        if len(reqs) > 1:
            self.choices = choices = [_text(r[1]) if len(r) > 1 else "" for r in reqs]
            t = _num(target)
            if t is not None and t == int(t) and 0 <= int(t) < len(choices):
                self.t_choice = f"{int(t)}: {choices[int(t)]}"
            else:
                self.t_choice = _text(target)
        self.t_plain = target if type(target) is str and len(target) <= MAX_TEXT else _text(target)


def view_record(s: dict, metric: str, score: float | None, doc_id: Any = None, static: _Static | None = None) -> dict:
    """One sample as the viewer shows it: "d" document id, "p" prompt, "t" reference, "o" output,
    "x" parsed value (absent: the same as "o"), "ch" choices with their loglikelihoods at
    LL_DECIMALS decimals (multiple choice: "o" and "x" are derived from them by the viewer, "k" the
    chosen index where the rounded values tie), "s" score, "f" parse failure. Data files store
    these records as columns (encode_view). ``static``: the line's _Static (made from its arguments
    and target when not given)."""
    if static is None:
        static = _Static(s.get("arguments"), s.get("target"))
    filtered = s.get("filtered_resps")
    reqs = static.reqs
    rec: dict[str, Any] = {"d": s.get("doc_id") if doc_id is None else doc_id, "p": static.prompt}
    # multiple choice: one loglikelihood request per choice, filtered to [ll, is_greedy] pairs
    lls: list | None = None
    if isinstance(filtered, list) and len(reqs) > 1 and len(filtered) == len(reqs):
        lls = []
        for p in filtered:
            if not (isinstance(p, list) and len(p) == 2):
                lls = None
                break
            v = p[0]
            if type(v) is str and len(v) < 64:  # lm-eval writes the loglikelihood as text: _num, inline
                try:
                    v = float(v)
                except ValueError:
                    lls = None
                    break
            elif type(v) is not float:
                v = _num(v)
                if v is None:
                    lls = None
                    break
            if not math.isfinite(v):
                lls = None
                break
            lls.append(v)
    if lls is not None:
        pred = lls.index(max(lls))  # the first highest
        rec["t"] = static.t_choice
        shown = []
        for v in lls:  # _round(v, LL_DECIMALS), its common case inline
            y = v * _LL_SCALE
            if -1e9 < y < 1e9:
                k = round(y)
                if k and -0.4999 < y - k < 0.4999:
                    shown.append(k / _LL_SCALE)
                    continue
            shown.append(_round(v, LL_DECIMALS))
        rec["ch"] = [[c, v] for c, v in zip(static.choices, shown)]  # type: ignore[arg-type]
        # output and parsed value are the chosen choice: the viewer derives them from "ch" (the first
        # highest shown loglikelihood), so they are not stored; "k" names the choice when rounding tied it
        if shown.index(max(shown)) != pred:
            rec["k"] = pred
    else:  # _text(...) inline for short text, _unwrap inline
        rec["t"] = static.t_plain
        o = s.get("resps")
        while isinstance(o, list) and len(o) == 1:
            o = o[0]
        rec["o"] = o = o if type(o) is str and len(o) <= MAX_TEXT else _text(o)
        x = filtered
        while isinstance(x, list) and len(x) == 1:
            x = x[0]
        if type(x) is not str or len(x) > MAX_TEXT:
            x = _text(x)
        if x != o:  # the viewer shows the output as the parsed value when "x" is absent
            rec["x"] = x
    rec["s"] = None if score is None or not math.isfinite(score) else _round(score, SCORE_DECIMALS)
    pf = s.get(PARSE_FAIL)
    if pf is not None:
        if type(pf) is not float or not math.isfinite(pf):  # _num of a finite float is itself
            pf = _num(pf)
        if pf is not None:
            rec["f"] = pf
    return rec


_KEY_RANK = {"id": 0, "hash": 1, "position": 2}


_HASH_MEMO: dict[str, str] = {}  # lm-eval's doc_hash -> our content key (per process)
_HASH_MEMO_MAX = 1 << 18


def content_key(doc: dict) -> str:
    """Key of a document from its content (canonical JSON, sorted keys)."""
    text = json.dumps(doc, sort_keys=True, ensure_ascii=False, default=str)
    return "h:" + hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def doc_key(doc: Any, position: Any, lm_hash: Any = None) -> tuple[str, str]:
    """(identity key, its source) of a logged document: the document's own ``id`` field; else a
    hash of the document itself; only as a last resort lm-eval's positional ``doc_id``. Items are
    paired across systems by this key, never by position (a reordered or different split would
    otherwise be paired line by line).

    The content hash is the same whatever wrote the file; lm-eval's own ``doc_hash`` (a sha256 of
    the document's JSON) is only used to remember it, so that a document logged by many systems is
    serialised once per process instead of once per line."""
    if isinstance(doc, dict):
        v = doc.get("id")
        if isinstance(v, (str, int)) and not isinstance(v, bool) and str(v) != "":
            return f"id:{v}", "id"
        if doc:
            memo = isinstance(lm_hash, str) and len(lm_hash) >= 32
            key = _HASH_MEMO.get(lm_hash) if memo else None  # type: ignore[arg-type]
            if key is None:
                key = content_key(doc)
                if memo:
                    if len(_HASH_MEMO) >= _HASH_MEMO_MAX:
                        _HASH_MEMO.clear()
                    _HASH_MEMO[lm_hash] = key  # type: ignore[index]
            return key, "hash"
    return f"pos:{position}", "position"


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).digest()


_DIGEST_TEXT: dict[bytes, str] = {}  # digest -> the text it was computed from (shared prompts and references)
_DIGEST_TEXT_MAX = 32 << 20  # characters remembered per process; then it starts again
_digest_chars = [0]


def _has_digest(text: str, digest: bytes) -> bool:
    """``_digest(text) == digest``; a text seen before with that digest (the same prompt in each
    system's file of a task) is compared instead of encoded and hashed again."""
    if _DIGEST_TEXT.get(digest) == text:
        return True
    if _digest(text) != digest:
        return False
    if _digest_chars[0] + len(text) > _DIGEST_TEXT_MAX:
        _DIGEST_TEXT.clear()
        _digest_chars[0] = 0
    _DIGEST_TEXT[digest] = text
    _digest_chars[0] += len(text)
    return True


Refs = dict  # doc_id -> (digest of prompt, digest of reference) of the task's shared docs file


class _LineLog:
    """Per-line problems of one samples file: counted, the first few named by line number."""

    SHOWN = 3

    def __init__(self) -> None:
        self.bad: list[tuple[int, str]] = []
        self.n_bad = 0
        self.reencoded: list[int] = []

    def add(self, lineno: int, reason: str) -> None:
        self.n_bad += 1
        if len(self.bad) < self.SHOWN:
            self.bad.append((lineno, reason[:120]))

    def warnings(self) -> list[str]:
        out = []
        if self.n_bad:
            shown = "; ".join(f"line {n}: {r}" for n, r in self.bad)
            more = f"; and {self.n_bad - len(self.bad)} more" if self.n_bad > len(self.bad) else ""
            out.append(f"{self.n_bad} malformed line(s) skipped ({shown}{more})")
        if self.reencoded:
            first = ", ".join(str(n) for n in self.reencoded[: self.SHOWN])
            out.append(f"{len(self.reencoded)} line(s) not valid UTF-8 (first: line {first}); "
                       "invalid bytes shown as U+FFFD (re-encoded text)")
        return out


@contextlib.contextmanager
def _no_cycle_collection():
    """The cyclic garbage collector paused while one samples file is read (and resumed as it was).
    Reading allocates ~100 containers per line (the parsed line, the viewer record) and keeps the
    records and items until the file is done: the collector's passes over them (and, in a worker
    forked from the build, over the whole inherited heap) found nothing to free -- parsed JSON and
    the records built from it hold no cycles, and are freed by reference counting -- and cost ~20%
    of the reading (measured on the bench's 1,000-line files)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class _Prefix:
    """The members of a samples line before its top-level "resps" -- doc_id, doc, target, arguments
    as lm-eval writes them, the same bytes in every system's file of a task run with the same
    prompts -- parsed once, and the viewer's part of them (_Static, made on first use)."""

    __slots__ = ("members", "static", "fixed")

    def __init__(self, members: dict) -> None:
        self.members = members
        self.static: _Static | None = None
        # the viewer's part is the same for every line with these members only when they hold both
        # the arguments and the target (else the rest of a line may hold one)
        self.fixed = "arguments" in members and "target" in members


_PREFIX_MEMO = True  # (off: every line parsed whole; the tests compare both)
_PREFIX_SEP = b', "resps": '  # lm-eval's separators; a '"' inside a JSON string is always escaped
# task -> a line's first bytes (to its first comma: '{"doc_id": 12') -> [(its bytes before _PREFIX_SEP, their
# _Prefix)]: per task, as every task's files have a line that begins '{"doc_id": 12' (one candidate, not six)
_PREFIXES: dict[str, dict[bytes, list[tuple[bytes, _Prefix]]]] = {}
_PREFIX_MAX = 32 << 20  # bytes of line beginnings remembered per process; then it starts again
_prefix_bytes = [0]
_HEAD = 64  # the most bytes of a line's head
MEMO_TRIES = 32  # lines of a file without a hit after which it is parsed whole (its prompts are not the reference's)


def _head(raw: bytes) -> bytes:
    """The bytes of a line before its first comma (at most _HEAD): where lines with the same beginning
    are looked up."""
    h = raw.find(b",", 0, _HEAD)
    return raw[:h] if h > 0 else raw[:_HEAD]


def _remember_prefix(raw: bytes, cut: int, obj: Any, task: str = "") -> _Prefix | None:
    """The _Prefix of a line parsed whole (``obj``) whose bytes before ``cut`` (its first
    _PREFIX_SEP) are the object's first members: ``raw[:cut] + "}"`` parses to exactly the leading
    members of ``obj``. Else None (the separator inside a nested object, a key repeated after it,
    ...): such lines are always parsed whole."""
    if type(obj) is not dict:
        return None
    key = raw[:cut]
    known = _PREFIXES.get(task, {}).get(_head(raw))
    pre = next((p for k, p in known or () if k == key), None)
    if pre is None:
        try:
            members = _fast_loads(key + b"}")
        except _FastError:
            return None
        if type(members) is not dict:
            return None
    else:  # (this line's rest was refused alone, or repeats a member: this line must match all the same)
        members = pre.members
    if len(members) >= len(obj):
        return None
    for (k, v), (k2, v2) in zip(members.items(), obj.items()):
        if k != k2 or type(v) is not type(v2) or v != v2:
            return None
    if pre is not None:
        return pre
    if _prefix_bytes[0] + len(key) > _PREFIX_MAX:
        _PREFIXES.clear()
        _prefix_bytes[0] = 0
        known = None
    pre = _Prefix(members)
    if known is None:
        _PREFIXES.setdefault(task, {})[_head(raw)] = [(key, pre)]
    else:
        known.append((key, pre))
    _prefix_bytes[0] += len(key)
    return pre


def _lines(path: str, log: _LineLog, remember: bool = False, task: str = ""):
    """(line number, parsed object, its _Prefix or None) of each non-blank JSON line of a samples
    file; malformed lines go to ``log`` with their line number. Raises safeio.NotReadable / OSError
    for the file.

    A line is parsed by orjson, from its bytes. Its value is kept when orjson can also write it
    back with integers held to 53 bits and at most 254 levels of nesting: an integer safeio reads
    as a float (more than 18 digits) is past 53 bits, and json.loads reads 254 levels wherever it
    is called from. Any other line -- one orjson refuses (not JSON, not UTF-8, NaN/Infinity, lone
    surrogates) or one past those limits -- is parsed as before by ``safeio.loads``: the lines
    accepted, the values read and every message are json.loads's.

    A line whose bytes before its top-level "resps" member are those of a line of a file read with
    ``remember`` (in this process: the build reads each task's reference file so, for its shared docs,
    before it forks its workers) has only the rest parsed ("{" + rest, checked the same way) and
    joined to the members parsed then: the same object as parsing it whole, since both parts parse
    and share no key. Anything else is parsed whole. Only the reference files' beginnings are kept:
    keeping every file's would cost ~36 us a line where beginnings never repeat (a chat template
    per model), ~2.7x the parsing (bench/README.md, session 10). A file whose first MEMO_TRIES lines
    begin as none of them is not looked up further."""
    loads, dumps, strict, fast_error = _fast_loads, _fast_dumps, _FAST_STRICT, _FastError
    sep, memo, head = _PREFIX_SEP, _PREFIX_MEMO, _HEAD
    prefixes = _PREFIXES.get(task, {})  # (a reference file read with remember: filled as it is read)
    if remember:
        prefixes = _PREFIXES.setdefault(task, prefixes)
    tries = 0 if remember else MEMO_TRIES  # lines to look up before a file without a hit is given up
    # safeio.lines: many lines per read, past the page cache where the file is cold
    for lineno, raw in enumerate(safeio.lines(path, safeio.MAX_SAMPLES_BYTES), 1):
        if loads is not None:
            if memo:  # a line beginning as one parsed before: its rest parsed alone
                h = raw.find(b",", 0, head)
                hit = None
                for pfx, pre in prefixes.get(raw[:h] if h > 0 else raw[:head]) or ():
                    n = len(pfx)
                    if raw.startswith(sep, n) and raw.startswith(pfx):  # (its own bytes first: the memo's are not in the CPU cache)
                        try:
                            rest = loads(b"{" + raw[n + 2:])
                            dumps(rest, option=strict)
                        except fast_error:
                            break
                        if type(rest) is dict and rest.keys().isdisjoint(pre.members):
                            hit = pre
                        break
                if hit is not None:
                    obj = hit.members.copy()
                    obj.update(rest)
                    tries = 0
                    yield lineno, obj, hit
                    continue
                if tries:
                    tries -= 1
                    memo = tries > 0
            try:
                obj = loads(raw)
                dumps(obj, option=strict)
            except fast_error:
                pass
            else:
                pre = None
                if remember and memo:
                    cut = raw.find(sep)
                    if cut > 0:
                        pre = _remember_prefix(raw, cut, obj, task)
                yield lineno, obj, pre
                continue
        if not raw.strip():
            continue
        line, reencoded = safeio.decode(raw)
        if reencoded:
            log.reencoded.append(lineno)
        try:
            yield lineno, safeio.loads(line), None
        except ValueError as e:
            log.add(lineno, f"not JSON ({str(e)[:80]})")


def _doc_id(s: Any) -> Any:
    """The line's doc_id as an int or str key; None when absent or not usable (NaN, inf, objects)."""
    if not isinstance(s, dict) or "doc_id" not in s:
        return None
    d = s["doc_id"]
    if isinstance(d, bool):
        return None
    if isinstance(d, float):
        return int(d) if math.isfinite(d) and d == int(d) and abs(d) < 2**53 else None
    if isinstance(d, int) or (isinstance(d, str) and 0 < len(d) <= 1000):
        return d
    return None


def read_samples(job: SampleJob, aggregate: Callable | None, refs: Refs | None = None) -> SampleData:
    """Stream one samples file; write its viewer file; return the arrays the statistics need.

    With ``refs`` (the task's shared docs file), a prompt or reference identical to the shared one
    is left out of this system's data file; the viewer takes it from the shared file."""
    warnings: list[str] = []
    ids: list[Any] = []
    keys_seen: set = set()
    clusters: list[Any] = []
    no_cluster = nan = dup_key = 0
    key_source = "id"
    items: list[Any] = []
    pfs: list[float] = []
    scores: list[float] = []
    records: list[dict] = []
    seen: set = set()
    dup = other_filter = missing = 0
    n_lines = 0
    score_metric: str | None = None
    pending: list[tuple[dict, int | None, Any]] = []  # (viewer record, index in scores, item) scored at the end
    log = _LineLog()
    metric, want_filter, cluster_field = job.metric, job.filter, job.cluster_field
    isfinite, nan_f = math.isfinite, np.nan
    digest_text = _DIGEST_TEXT
    try:
        for lineno, s, pre in _lines(job.path, log, task=job.task):
            n_lines += 1
            doc_id = s.get("doc_id") if type(s) is dict else None
            if type(doc_id) is not int:
                doc_id = _doc_id(s)
                if doc_id is None:
                    log.add(lineno, "no usable doc_id (missing, NaN, infinite or not a number/string)")
                    continue
            f = s.get("filter")
            if f is not None and str(f) != want_filter:
                other_filter += 1
                continue
            if doc_id in seen:
                dup += 1
                continue
            # one line -> its viewer record and statistics; a malformed line is named and left out
            try:
                item = s.get(metric)
                if type(item) is float or type(item) is int:
                    v = float(item)
                    score, what = (v, metric) if isfinite(v) else (None, None)
                else:
                    score, what = _sample_score(metric, item, s, aggregate)
                if pre is None or not pre.fixed:
                    rec = view_record(s, metric, score, doc_id)
                else:
                    static = pre.static
                    if static is None:
                        members = pre.members
                        static = pre.static = _Static(members["arguments"], members["target"])
                    rec = view_record(s, metric, score, doc_id, static)
                if refs is not None:
                    ref = refs.get(doc_id)
                    if ref is not None:  # _has_digest, its memo looked up here first
                        if digest_text.get(ref[0]) == rec["p"] or _has_digest(rec["p"], ref[0]):
                            del rec["p"]
                        if digest_text.get(ref[1]) == rec["t"] or _has_digest(rec["t"], ref[1]):
                            del rec["t"]
                if item is None:
                    kind = "missing"
                elif isinstance(item, (int, float)) and not isinstance(item, bool) and not isfinite(float(item)):
                    kind = "nan"  # a NaN score must not erase the CI: left out, and counted
                else:
                    if not isinstance(item, (int, float)):
                        _check_item(item)  # a corpus item the statistics cannot serialise fails on its own line
                    doc = s.get("doc")
                    v = doc.get("id") if type(doc) is dict else None
                    if type(v) is str and v:  # doc_key of a document with a text id
                        key, src = "id:" + v, "id"
                    else:
                        key, src = doc_key(doc, doc_id, s.get("doc_hash"))
                    if key in keys_seen:
                        kind = "dup_key"
                    else:
                        kind = "ok"
                        cv = None
                        if cluster_field:
                            cv = doc.get(cluster_field) if isinstance(doc, dict) else None
                            cv = None if cv is None else str(cv)[:200]
            except (RecursionError, ValueError, TypeError, OverflowError, AttributeError) as e:
                log.add(lineno, f"{type(e).__name__}: {e}")
                continue
            seen.add(doc_id)
            if what == PENDING:
                pending.append((rec, len(scores) if kind == "ok" else None, item))
            elif score_metric is None and what:
                score_metric = what
            records.append(rec)
            if kind == "ok":
                keys_seen.add(key)
                if src != key_source and _KEY_RANK[src] > _KEY_RANK[key_source]:
                    key_source = src
                if cluster_field:
                    if cv is None:
                        no_cluster += 1
                    clusters.append(cv)
                ids.append(key)
                items.append(item)
                pfs.append(rec.get("f", nan_f))  # the line's parse failure (view_record: a finite number or absent)
                scores.append(nan_f if score is None else score)
            elif kind == "missing":
                missing += 1
            elif kind == "nan":
                nan += 1
            else:
                dup_key += 1
    except safeio.NotReadable as e:
        return _failed(job, f"samples file {e}")
    except OSError as e:
        return _failed(job, f"cannot read samples file: {e.strerror or e}")
    if pending:
        for (rec, at, _), v in zip(pending, document_scores(job.metric, [x[2] for x in pending], aggregate)):
            rec["s"] = None if v is None else _round(v, SCORE_DECIMALS)
            if at is not None:
                scores[at] = np.nan if v is None else v
            if v is not None and score_metric is None:
                score_metric = f"{job.metric} of this document"
    warnings.extend(log.warnings())
    if dup:
        warnings.append(f"{dup} duplicate doc_id line(s) skipped")
    if missing:
        warnings.append(f"{missing} document(s) without a {job.metric!r} item")
    if nan:
        warnings.append(f"{nan} NaN/infinite {job.metric!r} item(s) left out of the value and its CI")
    if dup_key:
        warnings.append(f"{dup_key} line(s) repeat a document already seen (same document id/content) and were skipped")
    if job.cluster_field and no_cluster:
        warnings.append(f"{no_cluster} document(s) lack the cluster field {job.cluster_field!r}: "
                        "documents resampled one by one instead of by cluster")
    if not ids:
        if job.out_file:
            _write_view(job, records, score_metric)
        return _failed(job, f"no usable per-sample {job.metric!r} items ({n_lines} lines)", warnings)

    doc_arr = np.asarray(ids, dtype=object)
    order = np.asarray(sorted(range(len(ids)), key=ids.__getitem__), dtype=np.int64)
    doc_arr = doc_arr[order]
    numeric = all(isinstance(i, (int, float)) for i in items)  # bool is an int
    if numeric:
        item_out: Any = np.asarray(items, dtype=np.float64)[order]
    else:
        item_out = [items[i] for i in order]
    pf_arr = np.asarray(pfs, dtype=np.float64)[order]
    if np.all(np.isnan(pf_arr)):
        pf_arr = None
    sc_arr = np.asarray(scores, dtype=np.float64)[order]
    records.sort(key=_record_order)
    if job.out_file:
        _write_view(job, records, score_metric)
    return SampleData(
        system_id=job.system_id,
        task=job.task,
        metric=job.metric,
        path=job.path,
        doc_ids=doc_arr,
        items=item_out,
        numeric=numeric,
        parse_fail=pf_arr,
        scores=sc_arr,
        n_docs_in_file=len(records),
        warnings=warnings,
        clusters=[clusters[i] for i in order] if job.cluster_field and not no_cluster else None,
        n_nan=nan,
        key_source=key_source,
    )


def _check_item(item: Any) -> None:
    """Raises where ``safejson.dumps(item)`` would: a corpus item the statistics cannot serialise
    fails on its own line. An item orjson writes (at most 254 levels, text that is UTF-8) is one
    safejson writes too, so only the others are encoded by it."""
    if _fast_dumps is not None:
        try:
            _fast_dumps(item)
            return
        except JSONEncodeError:
            pass
    safejson.dumps(item)


def _record_order(r: dict) -> tuple:
    d = r["d"]
    if isinstance(d, int) and not isinstance(d, bool):
        return (0, d, "")
    return (1, 0, str(d))


# ----------------------------------------------------------------------------------------------
# data files: columns, gzip, base64 (decoded by static/viewer.js the same way as decode_view)

_VIEW_FLOATS = ("ll", "s", "f")  # encode_view's only columns with floats (the others: text, integers, null)
_SPARSE = ("p", "t", "x", "k")  # fields few records have: {record index: value}
_MAX_EXACT = 2**53  # larger integer ids are not exact in JavaScript: stored as they are, not as steps


def encode_view(payload: dict) -> dict:
    """Viewer records (``view_record``'s rows, in order) -> columns. ``payload`` is {"metric",
    "score_metric", "samples": [record, ...]}. Ids that are all integers are stored as steps from
    the previous one ("di"; consecutive ids compress to almost nothing), else as they are ("d"); the
    choices of multiple-choice records as a table of distinct choice lists ("cl", every record of
    a task usually has the same ones), an index into it per record ("ci") and one flat list of
    loglikelihoods ("ll")."""
    recs = payload["samples"]
    cols: dict[str, Any] = {"metric": payload.get("metric"), "score_metric": payload.get("score_metric"), "n": len(recs)}
    ids = [r["d"] for r in recs]
    if all(isinstance(i, int) and not isinstance(i, bool) and abs(i) < _MAX_EXACT for i in ids):
        cols["di"] = [b - a for a, b in zip([0] + ids, ids)]
    else:
        cols["d"] = ids
    for k in _SPARSE:
        sparse = {str(i): r[k] for i, r in enumerate(recs) if k in r}
        if sparse:
            cols[k] = sparse
    if any("o" in r for r in recs):
        cols["o"] = [r.get("o") for r in recs]
    if any("ch" in r for r in recs):
        table: dict[Any, int] = {}
        cl: list[list[str]] = []
        ci: list[int | None] = []
        ll: list[float] = []
        for r in recs:
            ch = r.get("ch")
            if ch is None:
                ci.append(None)
                continue
            labels = [c[0] for c in ch]
            # text labels (view_record's) are keyed by their tuple (equal tuples of text, equal JSON),
            # anything else by its JSON (a text never equals a tuple)
            key: Any = tuple(labels)
            try:
                at = table.get(key)
            except TypeError:  # an unhashable label
                at = None
            if at is None:
                if not all(type(c) is str for c in labels):
                    key = json.dumps(labels, ensure_ascii=False)
                    at = table.get(key)
                if at is None:
                    table[key] = at = len(cl)
                    cl.append(labels)
            ci.append(at)
            ll += [c[1] for c in ch]
        cols.update(cl=cl, ci=ci, ll=ll)
    cols["s"] = [r.get("s") for r in recs]
    if any("f" in r for r in recs):
        cols["f"] = [r.get("f") for r in recs]
    return cols


def decode_view(cols: dict) -> dict:
    """Columns (``encode_view``) -> {"metric", "score_metric", "samples": records}: what viewer.js
    rebuilds in the browser, for tests and for reading a site's data back."""
    n = cols["n"]
    if "di" in cols:
        ids, at = [], 0
        for step in cols["di"]:
            at += step
            ids.append(at)
    else:
        ids = list(cols["d"])
    if len(ids) != n:
        raise ValueError(f"data file: {len(ids)} ids for {n} records")
    recs: list[dict] = [{"d": i} for i in ids]
    sparse = {k: cols.get(k) or {} for k in _SPARSE}
    lls = iter(cols.get("ll") or [])
    for i, r in enumerate(recs):
        for k in ("p", "t"):
            if str(i) in sparse[k]:
                r[k] = sparse[k][str(i)]
        if "ci" in cols and cols["ci"][i] is not None:
            r["ch"] = [[c, next(lls)] for c in cols["cl"][cols["ci"][i]]]
            if str(i) in sparse["k"]:
                r["k"] = sparse["k"][str(i)]
        if "o" in cols and cols["o"][i] is not None:
            r["o"] = cols["o"][i]
        if str(i) in sparse["x"]:
            r["x"] = sparse["x"][str(i)]
        r["s"] = cols["s"][i]
        if "f" in cols and cols["f"][i] is not None:
            r["f"] = cols["f"][i]
    return {"metric": cols.get("metric"), "score_metric": cols.get("score_metric"), "samples": recs}


def _json_bytes(obj: Any, floats: tuple[str, ...] | None) -> bytes:
    """``json.dumps(obj, ensure_ascii=False, separators=(",", ":"))`` as UTF-8, NaN/inf as null (as in
    safejson), text JSON cannot carry as UTF-8 (a lone surrogate) replaced.

    With ``floats`` -- the caller's promise that any float of ``obj`` is in a list under one of these
    top-level keys -- orjson writes it when that gives the same bytes: it writes text, integers up to
    64 bits and floats in [1e-4, 1e16) (and 0) exactly as json.dumps does (and refuses what it can't
    write: a lone surrogate, a larger integer, a key that is not text); it writes other floats in
    another notation (1e-05 as 0.00001, 1e+16 as 1e16), so any such float takes json.dumps.
    ~6x faster on a viewer file (tests/test_leaderboard_samples_fast.py pins the same bytes)."""
    if floats is not None and _fast_dumps is not None:
        plain = True
        for k in floats:
            v = obj.get(k)
            if v:  # None -> NaN (null either way), inf is outside
                a = np.abs(np.asarray(v, dtype=np.float64))
                if bool(np.any((a > 0) & ((a < 1e-4) | (a >= 1e16)))):
                    plain = False
                    break
        if plain:
            try:
                return _fast_dumps(obj)
            except (TypeError, JSONEncodeError):
                pass
    try:
        raw = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except ValueError:  # NaN/inf are not JSON: null, as in safejson
        raw = json.dumps(safejson.clean(obj), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return raw.encode("utf-8", "replace")


def pack(obj: Any, floats: tuple[str, ...] | None = None) -> str:
    """JSON (:func:`_json_bytes`) -> gzip (GZIP_LEVEL, no timestamp: the same data gives the same
    bytes) -> base64 text."""
    return base64.b64encode(gzip.compress(_json_bytes(obj, floats), GZIP_LEVEL, mtime=0)).decode("ascii")


def unpack(z: str) -> Any:
    return json.loads(gzip.decompress(base64.b64decode(z, validate=True)).decode("utf-8"))


def _write_js(out_file: str, global_name: str, key: str, obj: dict) -> None:
    out = Path(out_file)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8", errors="replace") as fh:
        fh.write(safejson.js_assign(global_name, key, obj))


def _write_view(job: SampleJob, records: list[dict], score_metric: str | None = None) -> None:
    cols = encode_view({"metric": job.metric, "score_metric": score_metric or job.metric, "samples": records})
    _write_js(job.out_file, SAMPLES_GLOBAL, job.system_id,
              {"system": job.system_id, "task": job.task, "format": VIEW_FORMAT, "z": pack(cols, _VIEW_FLOATS)})


_JS_FILE = re.compile(r'\A\(function\(w\)\{var g="(LB_SAMPLES|LB_DOCS)";w\[g\]=w\[g\]\|\|\{\};w\[g\]\[("[^"\\]*")\]=(\{.*\});\}\)\(window\);\n\Z',
                      re.DOTALL)


def read_data_file(path: str | os.PathLike) -> dict:
    """A site's data file read back as the viewer sees it: a system's file -> {"system", "task",
    "metric", "score_metric", "samples": records}; a task's shared docs file -> {"task", "docs"}."""
    text = Path(path).read_text(encoding="utf-8")
    m = _JS_FILE.match(text)
    if m is None:
        raise ValueError(f"{path}: not a leaderboard data file")
    outer = json.loads(m.group(3))
    if outer.get("format") != VIEW_FORMAT:
        raise ValueError(f"{path}: data format {outer.get('format')!r}, expected {VIEW_FORMAT}")
    inner = unpack(outer["z"])
    if m.group(1) == DOCS_GLOBAL:
        return {"task": outer["task"], "docs": inner["docs"]}
    return {"system": outer["system"], "task": outer["task"], **decode_view(inner)}


def _failed(job: SampleJob, reason: str, warnings: list[str] | None = None) -> SampleData:
    return SampleData(
        system_id=job.system_id,
        task=job.task,
        metric=job.metric,
        path=job.path,
        doc_ids=np.zeros(0, dtype=np.int64),
        items=np.zeros(0),
        numeric=True,
        parse_fail=None,
        scores=None,
        n_docs_in_file=0,
        warnings=warnings or [],
        error=reason,
    )


SCORE_FALLBACK = ("acc", "exact_match")


def _sample_score(metric: str, item: Any, sample: dict, aggregate: Callable | None) -> tuple[float | None, str | None]:
    """A document's own score and what it is: the item itself for mean-style metrics; else a
    per-document correctness metric the task also logged (acc, exact_match) — macro F1 of one
    document is meaningless; else the corpus metric computed over this one document (span F1 of
    one query, attribute F1 of one product)."""
    if item is None:
        return None, None
    if isinstance(item, (bool, int, float)):
        v = float(item)
        return (v, metric) if math.isfinite(v) else (None, None)
    for m in SCORE_FALLBACK:
        v = sample.get(m)
        if isinstance(v, (bool, int, float)) and math.isfinite(float(v)):
            return float(v), m
    if aggregate is None:
        return None, None
    return None, PENDING  # scored with the file's other documents, from sufficient statistics (document_scores)


PENDING = "pending"


def _finite(v: Any) -> float | None:
    try:
        v = float(v)
    except (TypeError, ValueError, OverflowError):
        return None
    return v if math.isfinite(v) else None


def document_scores(metric: str, items: list, aggregate: Callable) -> list[float | None]:
    """The corpus metric over each single document (span F1 of one query, attribute F1 of one product).

    One pass of ecomsuite.bootstrap's per-document sufficient statistics gives every document's own
    value at once (a row of the statistics is that document alone); re-running the library per
    document (seqeval per query) was 40% of a realistic build. Items without statistics, or that the
    statistics cannot take, are scored by the library one by one; a failure shows no score."""
    from ecomsuite import bootstrap as bs

    try:
        prep = bs.prepare(metric, items, verify=False)
        if prep.stats is not None and prep.finish is not None:
            vals = prep.finish(prep.stats, np.ones(len(items)))
            return [_finite(v) for v in vals]
    except Exception:  # noqa: BLE001 - fall back to the library, document by document
        pass
    out: list[float | None] = []
    for it in items:
        try:
            out.append(_finite(aggregate(metric, [it])))
        except Exception:  # noqa: BLE001 - a metric that can't score one document shows no score
            out.append(None)
    return out


# ----------------------------------------------------------------------------------------------
# parallel driver


def write_shared_docs(task: str, job: SampleJob, out_file: str) -> Refs | None:
    """The task's shared docs file (prompt + reference per doc_id, from one system's samples),
    so that each system's data file need not repeat identical prompts. Returns its digests."""
    with _no_cycle_collection():
        return _write_shared_docs(task, job, out_file)


def _write_shared_docs(task: str, job: SampleJob, out_file: str) -> Refs | None:
    docs: dict[str, dict[str, str]] = {}
    refs: Refs = {}
    try:
        for _, s, _pre in _lines(job.path, _LineLog(), remember=True, task=task):  # problems: reported when the file itself is read
            doc_id = _doc_id(s)
            if doc_id is None or doc_id in refs:
                continue
            if s.get("filter") is not None and str(s.get("filter")) != job.filter:
                continue
            try:
                rec = view_record(s, job.metric, None, doc_id)
            except (RecursionError, ValueError, TypeError, OverflowError, AttributeError):
                continue
            docs[str(doc_id)] = {"p": rec["p"], "t": rec["t"]}
            refs[doc_id] = (_digest(rec["p"]), _digest(rec["t"]))
    except (OSError, safeio.NotReadable):
        return None
    if not docs:
        return None
    _write_js(out_file, DOCS_GLOBAL, task, {"task": task, "format": VIEW_FORMAT, "z": pack({"docs": docs}, ())})
    return refs


_REFS: dict[str, Refs] = {}
_CACHE: dict[str, Any] = {}  # "dir": cache folder or absent; "refs": task -> digest of its shared docs;
# "placer": cache.ViewPlacer (a hit's viewer file linked from the published site) or absent


def _init_worker(refs: dict[str, Refs], cache_dir: str | None = None, refs_digests: dict[str, str] | None = None,
                 site: tuple[str, str] | None = None) -> None:
    _REFS.clear()
    _REFS.update(refs)
    _CACHE.clear()
    if cache_dir:
        _CACHE.update(dir=Path(cache_dir), refs=refs_digests or {})
        if site is not None:
            from .cache import ViewPlacer

            _CACHE["placer"] = ViewPlacer(*site)


def _read(job: SampleJob) -> SampleData:
    from .stats import get_aggregate

    try:
        return read_samples(job, get_aggregate(), _REFS.get(job.task))
    except Exception as e:  # noqa: BLE001 - one bad file must not stop the build; it is reported
        return _failed(job, f"samples file could not be processed: {type(e).__name__}: {e}")


def _prepare_cell(job: SampleJob, data: SampleData) -> Any:
    """The cell's statistics (stats.CellPrep) for ``job.boot``, or None (nothing to bootstrap)."""
    if job.boot is None or data.error is not None or len(data.doc_ids) == 0:
        return None
    from .stats import prepare_cell

    iters, seed = job.boot
    try:
        return prepare_cell(job.metric, data.items, data.doc_ids, data.clusters, iters, seed)
    except Exception:  # noqa: BLE001 - the statistics stage computes it again and reports what fails
        return None


def _worker(job: SampleJob) -> tuple[SampleData, str | None, bool, str | None, bool, bool]:
    """(data, cache key or None, whether it came from the cache, why an entry there was not used,
    whether the cell's statistics came from the cache, whether its viewer file was linked from the
    published site)."""
    with _no_cycle_collection():
        return _work(job)


def _work(job: SampleJob) -> tuple[SampleData, str | None, bool, str | None, bool, bool]:
    from . import cache

    folder = _CACHE.get("dir")
    k = cache.key(job, _CACHE["refs"].get(job.task, "-")) if folder else None
    unusable = None
    if k is not None:
        try:
            hit = cache.load(folder, k, job, with_view=False)
            if hit is not None:
                return _hit(folder, k, job, *hit)
        except cache.Unusable as e:
            unusable = str(e)
    data = _read(job)
    data.cell = _prepare_cell(job, data)
    if k is not None and cache.key(job, _CACHE["refs"].get(job.task, "-")) == k:  # unchanged while read
        view = None
        if job.out_file and Path(job.out_file).is_file():
            view = Path(job.out_file).read_bytes()
        stored, sent = cache.store_entry(folder, k, data, view, job)  # sent: its items as the entry's JSON text
        if stored and data.cell is not None:
            data.cell.key = cache.stats_key(k, job)
        data = sent
    elif k is None:  # no cache: the items held as text all the same (see cache.items_as_text)
        data = cache.items_as_text(data)
    return data, k, False, unusable, False, False


BATCH = 16  # files per message to and from a worker ...
BATCH_END = 2  # ... and at the end, where the workers should finish together


def _batches(jobs: list[SampleJob], n_jobs: int) -> list[list[SampleJob]]:
    """The jobs in order, cut into the batches the workers take: BATCH files each (each message costs
    the parent ~1 ms of its own CPU: 6,000 files in batches of 4 (before) took it 2.1 CPU-s, in 16s
    1.0), the last ``2 * n_jobs * BATCH`` in batches of BATCH_END so that no worker is left with a
    long batch while the others are idle."""
    tail = min(len(jobs), 2 * n_jobs * BATCH)
    head = len(jobs) - tail
    return ([jobs[i:min(i + BATCH, head)] for i in range(0, head, BATCH)]
            + [jobs[i:i + BATCH_END] for i in range(head, len(jobs), BATCH_END)])


def _worker_batch(jobs: list[SampleJob]) -> list[tuple]:
    return [_worker(j) for j in jobs]


def _hit(folder: Path, k: str, job: SampleJob, data: SampleData, ref: Any) -> tuple:
    """A cache hit: the viewer file placed (a link to the published site's identical file, else the
    entry's bytes written; the entry's view member is read only then), the cell's statistics
    computed when the entry holds other bootstrap settings. Unusable (nothing written) when the
    entry's viewer bytes are needed and unusable."""
    from . import cache

    cell_hit = data.cell is not None
    # the entry's viewer bytes, read only when needed (before anything is placed: a failure leaves nothing)
    view = cache.load_view(folder, k, ref) if ref is not None and not cell_hit else None
    linked = False
    if job.out_file and ref is not None:
        placer = _CACHE.get("placer")
        linked = placer is not None and placer.place(job.out_file, ref)
        if not linked:
            if view is None:
                view = cache.load_view(folder, k, ref)
            out = Path(job.out_file)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(view)
    if not cell_hit:  # other bootstrap settings than the entry's: the file is not read again
        data.cell = _prepare_cell(job, data)
        if data.cell is not None:
            cache.store(folder, k, data, view, job)
    if data.cell is not None and not cell_hit:  # a cell read from the entry has its key (cache.decode)
        data.cell.key = cache.stats_key(k, job)  # pairs of cells with unchanged keys are reused
    return data, k, True, None, cell_hit, linked


class _HeldCells:
    """What the build holds of each cell until the site is written, made smaller as it arrives:

    - one copy of a task's document keys and cluster labels for all the cells that have equal ones
      (every system of a task, as a rule): each cell's copy arrives from a worker as its own 1,000
      strings. Equal values are replaced by the identical object, so nothing reads differently;
      nothing changes these arrays and lists in place. At most ``KEEP`` distinct copies per task
      are looked up.
    - integer statistics in the smallest integer type that holds them (see :meth:`slim`).

    At 200 bench runs x 6 tasks x 1,000 samples the build's memory went 392 -> 263 -> 162 MB."""

    KEEP = 32

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], dict[int, Any]] = {}

    def _one(self, task: str, kind: str, value: Any, items: tuple) -> Any:
        table = self.seen.setdefault((task, kind), {})
        h = hash(items)
        old = table.get(h)
        if old is not None and old is not value and type(old) is type(value) and (
                old == value if kind == "clusters" else
                old.shape == value.shape and old.dtype == value.dtype and bool(np.array_equal(old, value))):
            return old
        if old is None and len(table) < self.KEEP:
            table[h] = value
        return value

    def slim(self, d: SampleData) -> None:
        prep = getattr(d.cell, "prepared", None)
        if prep is not None and type(prep.stats) is np.ndarray and prep.stats.dtype == np.float64:
            from .cache import compact_integers

            # integer statistics (counts: span F1's 51 columns, macro-F1's, 0/1 accuracies) in the smallest
            # integer type that holds them: every use converts them to floats again (einsum, matmul, the
            # float32 product), and sums of integers are exact in any order, so every number is the same
            prep.stats = compact_integers(prep.stats)
        if type(d.doc_ids) is np.ndarray and d.doc_ids.dtype == object and d.doc_ids.ndim == 1:
            held = self.seen.get((d.task, "ids"))
            if held is not None and any(v is d.doc_ids for v in held.values()):
                pass  # the copy already held (a cache hit's keys: cache._strings gives one array per text)
            else:
                try:
                    d.doc_ids = self._one(d.task, "ids", d.doc_ids, tuple(d.doc_ids.tolist()))
                except TypeError:  # an unhashable key: kept as it is
                    pass
        if type(d.clusters) is list:
            try:
                d.clusters = self._one(d.task, "clusters", d.clusters, tuple(d.clusters))
            except TypeError:
                pass


@dataclass
class LoadStats:
    cache_hits: int = 0
    cache_misses: int = 0
    cache_pruned: int = 0
    cache_unusable: list[str] = field(default_factory=list)  # entries not used (corrupt, foreign): why
    stats_cache_hits: int = 0  # cells whose prepared statistics and bootstrap array came from the cache
    views_linked: int = 0  # hits whose viewer file was linked from the published site (not written)


def load_all(
    jobs: list[SampleJob], n_jobs: int = 1, progress: bool = False, refs: dict[str, Refs] | None = None,
    cache_dir: str | os.PathLike | None = None, stats: LoadStats | None = None, site: tuple[str, str] | None = None,
) -> list[SampleData]:
    """Read every samples file (in ``n_jobs`` processes). With ``cache_dir``, a file whose identity and
    context are unchanged since a previous build is not read again (see :mod:`.cache`); with ``site``
    (the staging folder the jobs' viewer files go to, the published site it replaces), such a file's
    viewer file is a link to the published one when that holds the same bytes."""
    from . import cache
    from tqdm import tqdm

    it_kwargs = dict(total=len(jobs), desc="read samples", unit="file", disable=None if progress else True)
    refs = refs or {}
    digests = {t: cache.refs_digest(r) for t, r in refs.items()} if cache_dir else {}
    init = (refs, str(cache_dir) if cache_dir else None, digests, site)
    held = _HeldCells()
    if n_jobs <= 1 or len(jobs) < 8:
        _init_worker(*init)
        try:
            res = []
            for j in tqdm(jobs, **it_kwargs):
                res.append(_worker(j))
                held.slim(res[-1][0])
        finally:
            _REFS.clear()
            _CACHE.clear()
    else:
        import multiprocessing as mp

        ctx = mp.get_context("fork") if hasattr(os, "fork") else mp.get_context()
        # the results (their items, lists for corpus metrics) unpickled here hold no cycles: the collector
        # paused meanwhile, not walking this process's growing heap again and again
        res = []
        with ctx.Pool(n_jobs, initializer=_init_worker, initargs=init) as pool, _no_cycle_collection(), \
                tqdm(**it_kwargs) as bar:
            for part in pool.imap(_worker_batch, _batches(jobs, n_jobs), chunksize=1):
                for r in part:
                    held.slim(r[0])
                res.extend(part)
                bar.update(len(part))
    unusable = [why for _, _, _, why, *_ in res if why]
    if unusable:
        print(f"note: {len(unusable)} entr{'y' if len(unusable) == 1 else 'ies'} of the samples cache {cache_dir} "
              f"not used, the samples file read again instead (first: {unusable[0]})", file=sys.stderr)
    if stats is not None:
        stats.cache_hits = sum(1 for _, _, hit, *_ in res if hit)
        stats.cache_misses = len(res) - stats.cache_hits
        stats.stats_cache_hits = sum(1 for *_, cell_hit, _ in res if cell_hit)
        stats.views_linked = sum(1 for *_, linked in res if linked)
        stats.cache_unusable = unusable
    if cache_dir:
        pruned = cache.prune(Path(cache_dir), {k for _, k, *_ in res if k})
        if stats is not None:
            stats.cache_pruned = pruned
    return [d for d, *_ in res]
