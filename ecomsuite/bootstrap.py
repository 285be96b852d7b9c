"""The one bootstrap: confidence intervals and paired tests for every metric of the suite.

    from ecomsuite.bootstrap import ci, paired_diff
    ci("span_f1", items)                               # 95% percentile CI, 2,000 resamples
    ci("macro_f1", items, clusters=query_ids)          # cluster bootstrap (whole queries resampled)
    paired_diff("acc", items_a, items_b)                # dicts keyed by document id -> (a-b, lo, hi, n)

The value of a resample is, by definition, ``ecomsuite.metrics.aggregate(metric, resampled items)``.
Calling the library 2,000 times per cell is too slow for corpus metrics (seqeval re-parses every
tag sequence), so each metric's aggregation is reduced once to **per-document sufficient
statistics** (a row of counts per document); a resample is then a matrix product of its
multiplicities with those rows, and the metric is finished from the summed counts:

==========================  ==========================================================
aggregation                 per-document statistics
==========================  ==========================================================
mean (acc, rouge, ...)      the item
macro-F1, per-class F1      one-hot tp / fp / fn per label
span F1 (micro / macro)     tp / n_pred / n_gold per entity type (seqeval's strict IOB2 entities)
BLEU                        sacrebleu's sentence statistics on ``metrics.bleu_tokenize`` text
attribute P / R / F1        tp / fp / fn (the item itself)
==========================  ==========================================================

The statistics are matched to the aggregation *function* registered in
``ecomsuite.metrics.AGGREGATIONS``, never to a metric name, and :func:`prepare` checks them against
the library on the full document set (``verify=True``): when they disagree (the library changed),
that cell falls back to calling the library once per resample and says so in ``Prepared.note``.
The leaderboard's ``verify="once"`` skips that check for span F1 after the first large set of each
metric in a process: its statistics (:func:`span_entities`) are seqeval's entities on every input,
which ``tests/test_span_stats.py`` proves against seqeval (seqeval per cell was the largest single
cost of a full build).
``tests/test_bootstrap.py`` pins full-set and resample values against ``metrics.aggregate``.

Resamples: :func:`resample_counts` gives an ``(n_boot, n)`` matrix of multiplicities drawn from
``numpy.random.default_rng`` seeded by ``(seed, n, number of clusters)``. The same seed and the same
(ordered) documents give the same resamples, so two systems scored on the same documents are
*paired*: the difference of their bootstrap arrays is the paired bootstrap of the difference.
With ``clusters`` (one label per document, e.g. the ESCI ``query_id``) whole clusters are drawn
with replacement (cluster bootstrap): documents that share a query are not independent.

CIs are percentile intervals (numpy "linear" quantiles) over the finite resample values. Items
must be finite: a NaN item raises ``ValueError``; use :func:`finite_mask` to drop and count them.
"""
from __future__ import annotations

import contextlib
import math
import warnings
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

N_BOOT_CORPUS = 2000  # resamples for corpus metrics (and, as it is cheap, for every metric)
N_BOOT = N_BOOT_CORPUS
Z95 = 1.959963984540054
VERIFY_RTOL = 1e-9
VERIFY_ATOL = 1e-12


# ------------------------------------------------------------------------------------ seeding
def _entropy(seed: Any) -> list[int]:
    """Seed material for numpy from an int, a string, or a (nested) tuple/list of them."""
    if isinstance(seed, (bool, np.bool_)):
        return [int(seed)]
    if isinstance(seed, (int, np.integer)):
        v = int(seed) % (1 << 64)
        return [v & 0xFFFFFFFF, v >> 32]
    if isinstance(seed, str):
        return [zlib.crc32(seed.encode("utf-8", "surrogatepass"))]
    if isinstance(seed, (tuple, list)):
        out: list[int] = []
        for s in seed:
            out += _entropy(s)
        return out
    if seed is None:
        return [0]
    raise TypeError(f"bootstrap seed must be an int, a string or a tuple of them, got {type(seed).__name__}")


def cluster_codes(clusters: Sequence, n: int) -> tuple[np.ndarray, int]:
    """(cluster index of each document, number of clusters); labels compared as strings."""
    if len(clusters) != n:
        raise ValueError(f"clusters has {len(clusters)} labels for {n} documents")
    if n == 0:
        return np.zeros(0, dtype=np.int64), 0
    labels = np.asarray([str(c) for c in clusters])
    uniq, codes = np.unique(labels, return_inverse=True)
    return codes.astype(np.int64).ravel(), int(len(uniq))


def _draw(n: int, n_boot: int, seed: Any, codes: np.ndarray | None, k: int) -> np.ndarray:
    """Raw draws: (n_boot, n) document indices, or (n_boot, k) cluster indices."""
    m = n if codes is None else k
    rng = np.random.default_rng(_entropy(seed) + [n, k])
    return rng.integers(0, m, size=(n_boot, m), dtype=np.int64)


def _row_counts(draw: np.ndarray, m: int) -> np.ndarray:
    b = draw.shape[0]
    flat = (draw + (np.arange(b, dtype=np.int64) * m)[:, None]).ravel()
    return np.bincount(flat, minlength=b * m).reshape(b, m).astype(np.int32)


_COUNTS: OrderedDict[tuple, np.ndarray] = OrderedDict()
_COUNTS_MAX = 16


def resample_counts(n: int, n_boot: int, seed: Any, clusters: Sequence | None = None) -> np.ndarray:
    """(n_boot, n) int32 multiplicities: how often each document is in each resample.

    Without clusters a row sums to n; with clusters whole clusters are drawn (as many draws as
    there are clusters), so a row's total varies. Cached (read-only) per (n, n_boot, seed, clusters)."""
    if n_boot < 1:
        raise ValueError("n_boot must be >= 1")
    codes, k = (None, 0) if clusters is None else cluster_codes(clusters, n)
    key = (n, n_boot, tuple(_entropy(seed)), None if codes is None else zlib.crc32(codes.tobytes()), k)
    hit = _COUNTS.get(key)
    if hit is not None:
        _COUNTS.move_to_end(key)
        return hit
    if n == 0:
        out = np.zeros((n_boot, 0), dtype=np.int32)
    else:
        draw = _draw(n, n_boot, seed, codes, k)
        # the clusters' columns taken are a view (of a transposed array); its copy in the same layout
        # owns its data, so its conversions are made once (_derived), not once per cell (1.5 ms each)
        out = _row_counts(draw, n) if codes is None else _row_counts(draw, k)[:, codes].copy(order="K")
    out.setflags(write=False)
    _COUNTS[key] = out
    if len(_COUNTS) > _COUNTS_MAX:
        _COUNTS.popitem(last=False)
    return out


def resample_indices(n: int, n_boot: int, seed: Any, clusters: Sequence | None = None) -> np.ndarray:
    """Document indices of each resample, the same draws as :func:`resample_counts`.

    Without clusters: an ``(n_boot, n)`` int array. With clusters a row is the concatenated members
    of the drawn clusters, so rows differ in length: the array is ``(n_boot, L)`` with ``L`` the
    longest row, shorter rows padded with -1 (use ``row[row >= 0]``)."""
    if n_boot < 1:
        raise ValueError("n_boot must be >= 1")
    if clusters is None:
        return _draw(n, n_boot, seed, None, 0) if n else np.zeros((n_boot, 0), dtype=np.int64)
    codes, k = cluster_codes(clusters, n)
    if n == 0:
        return np.zeros((n_boot, 0), dtype=np.int64)
    draw = _draw(n, n_boot, seed, codes, k)
    order = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes, minlength=k)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rows = [np.concatenate([order[starts[c]:starts[c] + sizes[c]] for c in r]) for r in draw]
    width = max(len(r) for r in rows)
    out = np.full((n_boot, width), -1, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


# ------------------------------------------------------------------- sufficient statistics
Finish = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (summed stats (B, k), totals (B,)) -> (B,)


@dataclass
class Prepared:
    """A metric over one ordered document set, ready to be evaluated on resamples."""

    metric: str
    n: int
    value: float  # the metric on the full set
    stats: np.ndarray | None = field(default=None, repr=False)  # (n, k) per-document statistics
    finish: Finish | None = field(default=None, repr=False)
    items: list | None = field(default=None, repr=False)  # the "direct" path: the library per resample
    note: str | None = None  # why the direct path is used
    finish_id: str | None = None  # the name of ``finish`` in FINISHERS (a cache stores this, never code)

    @property
    def kind(self) -> str:
        return "direct" if self.stats is None else "sufficient"

    def boot(self, counts: np.ndarray) -> np.ndarray:
        """The metric on each resample (rows of multiplicities)."""
        if counts.shape[1] != self.n:
            raise ValueError(f"resamples are over {counts.shape[1]} documents, the metric over {self.n}")
        if self.stats is not None:
            assert self.finish is not None
            if self.finish is _finish_span_micro:
                micro = _span_micro_boot(counts, self.stats)
                if micro is not None:
                    return micro
            sums, totals = _resample_sums(counts, self.stats)
            return np.asarray(self.finish(sums, totals), dtype=np.float64)
        agg = _aggregate()
        idx = np.arange(self.n)
        items = self.items or []
        return np.fromiter(
            (float(agg(self.metric, [items[i] for i in np.repeat(idx, row)])) for row in counts),
            dtype=np.float64, count=len(counts))

    def subset(self, idx: Sequence[int]) -> "Prepared":
        """The same metric on the documents ``idx`` (statistics are per document, so rows are taken)."""
        idx = np.asarray(idx, dtype=np.int64)
        if self.stats is not None:
            assert self.finish is not None
            st = self.stats[idx]
            c = np.ones((1, len(idx)))
            v = float(self.finish(c @ st, c.sum(axis=1))[0]) if len(idx) else math.nan
            return Prepared(self.metric, len(idx), v, st, self.finish, None, self.note, self.finish_id)
        items = [self.items[i] for i in idx] if self.items is not None else []
        v = float(_aggregate()(self.metric, items)) if items else math.nan
        return Prepared(self.metric, len(idx), v, None, None, items, self.note)


_F32_EXACT = float(1 << 24)  # integers below this are exact in float32, and so are their sums
_BLAS_MIN_COLUMNS = 2  # a mean (one column) costs einsum less than the checks; 3 columns (attribute F1) ~10x more
_DERIVED: OrderedDict[int, dict] = OrderedDict()  # id(read-only counts) -> {"counts": it, what was derived from it}


def _derived(counts: np.ndarray, what: str, make: Callable[[np.ndarray], Any]) -> Any:
    """``make(counts)``, remembered for the read-only matrices of :func:`resample_counts` (every
    system of a task is resampled with the same one, so its conversions are made once per process,
    not once per cell); the entry holds the matrix itself, so its id is not reused while remembered."""
    if counts.flags.writeable or not counts.flags.owndata:
        return make(counts)
    entry = _DERIVED.get(id(counts))
    if entry is None or entry["counts"] is not counts:
        entry = _DERIVED[id(counts)] = {"counts": counts}
        if len(_DERIVED) > _COUNTS_MAX:
            _DERIVED.popitem(last=False)
    else:
        _DERIVED.move_to_end(id(counts))
    if what not in entry:
        entry[what] = make(counts)
    return entry[what]


def _frozen(*arrays: np.ndarray) -> tuple:
    for a in arrays:
        a.setflags(write=False)
    return arrays


def _as_f32(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    return (*_frozen(counts.astype(np.float32), counts.sum(axis=1, dtype=np.int64)), int(counts.min()))


def _as_f64(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = counts.astype(np.float64)
    return _frozen(c, c.sum(axis=1))


_BLAS: Any = None  # threadpoolctl's controller of the loaded BLAS (False: not available)


def _one_blas_thread() -> Any:
    """A context in which BLAS runs single-threaded (threadpoolctl, when installed: scikit-learn,
    which seqeval needs, requires it). On 2 cores already busy (two samples workers, or anything
    else), OpenBLAS's second thread waits to be scheduled while the first spins: a (2000 x 1000) @
    (1000 x 3) float32 product took 5-7 ms and as much CPU instead of 0.7 ms (measured). The bits
    do not depend on it (the product is exact, see _resample_sums)."""
    global _BLAS
    if _BLAS is None:
        try:
            from threadpoolctl import ThreadpoolController

            _BLAS = ThreadpoolController()
        except Exception:  # noqa: BLE001 - not installed or unusable: BLAS as configured
            _BLAS = False
    if _BLAS is False:
        return contextlib.nullcontext()
    return _BLAS.limit(limits=1, user_api="blas")


def _resample_sums(counts: np.ndarray, stats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(``counts @ stats``, ``counts.sum(axis=1)``) as float64: the summed statistics and the
    number of documents of each resample.

    Multiplicities are integers, and most statistics are counts: then every product and every
    partial sum is an integer, exact in floating point whatever the order of summation, so a
    float32 BLAS product (5x faster than einsum on span F1's 51 columns) gives the very bits of
    numpy's einsum. That path is taken only when it is exact: non-negative integer counts and
    statistics (no -0.0), and every row's sum of ``count x |stat|`` below 2**24; anything else
    (means of fractions, huge counts) goes through einsum in float64, single-threaded, in one fixed
    order, as before."""
    if stats.shape[1] >= _BLAS_MIN_COLUMNS:
        exact = _exact_f32_sums(counts, stats)
        if exact is not None:
            return exact
    c, totals = _derived(counts, "f64", _as_f64)
    # einsum, not BLAS: single-threaded is faster at these sizes on a busy machine
    return np.einsum("bn,nk->bk", c, stats), totals.copy()


def _exact_f32_sums(counts: np.ndarray, stats: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(``counts @ stats``, row totals) as float64 by a float32 BLAS product (one thread), where that
    is exact (see :func:`_resample_sums`): integer multiplicities, non-negative integer statistics and
    every row's sum below 2**24. None otherwise."""
    if not (np.issubdtype(counts.dtype, np.integer) and counts.size):
        return None
    cf32, totals, low = _derived(counts, "f32", _as_f32)
    smax = float(stats.max(initial=0.0))
    if not (low >= 0 and float(stats.min(initial=0.0)) >= 0.0 and smax < _F32_EXACT
            and float(totals.max()) * smax < _F32_EXACT and bool(np.all(np.floor(stats) == stats))):
        return None
    with _one_blas_thread():
        sums = cf32 @ stats.astype(np.float32)
    return sums.astype(np.float64), totals.astype(np.float64)


def restore(metric: str, n: int, value: float, stats: np.ndarray | None, finish_id: str | None,
            items: list | None = None, note: str | None = None) -> Prepared:
    """A :class:`Prepared` from what :func:`prepare` gave (e.g. read back from a cache): the
    statistics, or the items of the direct path, and the *name* of the finishing function."""
    if stats is None:
        if items is None or len(items) != n:
            raise ValueError(f"{metric}: the direct path needs the {n} items")
        return Prepared(metric, n, value, None, None, list(items), note)
    if stats.ndim != 2 or stats.shape[0] != n:
        raise ValueError(f"{metric}: statistics of shape {stats.shape} for {n} documents")
    return Prepared(metric, n, value, np.asarray(stats, dtype=np.float64), finisher(finish_id), None, note, finish_id)


def _aggregate() -> Callable:
    from ecomsuite.metrics import aggregate

    return aggregate


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den != 0)


# Each aggregation = per-document statistics (a function of the items) + a finishing function of the
# summed statistics alone (never of the items), named in FINISHERS so that a cache can store the name.
def _finish_mean(s: np.ndarray, t: np.ndarray) -> np.ndarray:
    return _safe_div(s[:, 0], t)


def _mean_stats(items: list) -> np.ndarray:
    return np.asarray([float(i) for i in items], dtype=np.float64)[:, None]


def _class_stats(labels: Sequence[str], items: list) -> np.ndarray:
    """(n, 3L): tp, fp, fn of each label (one-vs-rest) per document."""
    g = np.asarray([str(i[0]) for i in items], dtype=object)
    p = np.asarray([str(i[1]) for i in items], dtype=object)
    cols = []
    for lab in labels:
        gl, pl = g == lab, p == lab
        cols += [gl & pl, ~gl & pl, gl & ~pl]
    return np.stack(cols, axis=1).astype(np.float64) if cols else np.zeros((len(items), 0))


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    return np.where(tp > 0, _safe_div(2 * tp, 2 * tp + fp + fn), 0.0)


def _finish_macro_f1(s: np.ndarray, _t: np.ndarray) -> np.ndarray:
    tp, fp, fn = s[:, 0::3], s[:, 1::3], s[:, 2::3]
    f = _f1(tp, fp, fn)
    defined = (tp + fp + fn) > 0  # a label with no gold and no predicted instance is left out
    k = defined.sum(axis=1)
    return _safe_div(np.where(defined, f, 0.0).sum(axis=1), k.astype(np.float64))


def _finish_class_f1(s: np.ndarray, _t: np.ndarray) -> np.ndarray:
    tp, fp, fn = s[:, 0], s[:, 1], s[:, 2]
    return np.where(tp + fp + fn > 0, _f1(tp, fp, fn), np.nan)  # no gold, none predicted: undefined


def _iob2_entities(tags: list) -> list[tuple[int, int, str]] | None:
    """seqeval's strict IOB2 entities (``Entities(..., IOB2)``) of one tag sequence, as
    ``(start, end, type)``; None when seqeval itself must read the sequence (a tag that is not a
    string starting with B, I or O: seqeval raises on those, and only seqeval's error is right).

    seqeval's reading, restated: a tag's prefix is its first character and its type the rest with
    '-' stripped at both ends ('_' when nothing is left: 'B', 'B-' and 'I-_' share the type '_');
    every B starts an entity, which runs over the following I tags of the *same* type string; an I
    that does not continue an entity is ignored; O, B and an I of another type end an entity.
    ``tests/test_span_stats.py`` checks this against seqeval on hostile sequences."""
    out = []
    start, cur = -1, ""
    for i, t in enumerate(tags):
        if type(t) is not str:
            return None
        p = t[:1]
        if p == "I":
            if start >= 0:
                if (t[1:].strip("-") or "_") == cur:
                    continue
                out.append((start, i, cur))
                start = -1
        elif p == "B":
            if start >= 0:
                out.append((start, i, cur))
            start, cur = i, t[1:].strip("-") or "_"
        elif p == "O":
            if start >= 0:
                out.append((start, i, cur))
                start = -1
        else:
            return None
    if start >= 0:
        out.append((start, len(tags), cur))
    return out


def _seqeval_entities(tags: list) -> list[tuple[int, int, str]]:
    """The entities of one sequence as seqeval reads them (raises what seqeval raises)."""
    from seqeval.scheme import IOB2, Entities

    return [(e.start, e.end, e.tag) for e in Entities([tags], IOB2, False).entities[0]]


def span_entities(tags: Sequence) -> list[tuple[int, int, str]]:
    """``(start, end, type)`` of each entity of one tag sequence, exactly as seqeval's strict IOB2
    (``mode='strict', scheme=IOB2``, what ``ecomsuite.metrics.span_f1`` scores): a fast reading of
    well-formed prefixes, seqeval itself for anything else."""
    tags = list(tags)
    ents = _iob2_entities(tags)
    return _seqeval_entities(tags) if ents is None else ents


_SPAN_MEMO: dict[tuple, list] = {}  # tag sequence (all text) -> its entities (the same gold tags in every system's file)
_SPAN_MEMO_MAX = 1 << 17


def _memo_entities(tags: list) -> list[tuple[int, int, str]]:
    """:func:`span_entities` of a tag sequence, remembered when every tag is text (the fast reading
    took it; JSON text cannot be a str subclass, so an equal key is the same sequence)."""
    try:
        key = tuple(tags)
        hit = _SPAN_MEMO.get(key)
    except TypeError:  # an unhashable tag: seqeval's own reading (and error)
        return span_entities(tags)
    if hit is not None:
        return hit
    ents = _iob2_entities(tags)
    if ents is None:
        return _seqeval_entities(tags)
    if len(_SPAN_MEMO) >= _SPAN_MEMO_MAX:
        _SPAN_MEMO.clear()
    _SPAN_MEMO[key] = ents
    return ents


_SPAN_DOC_MEMO: dict[tuple, Any] = {}  # (gold tags, predicted tags) -> _span_doc (the same pair in a file's two passes)


def _span_doc(eg: list, ep: list) -> dict[str, list[int]] | None:
    """{type: [tp, n_pred, n_gold]} of one document from its gold and predicted entities; None when
    neither has any. Read only by its callers (it may be remembered)."""
    if not eg and not ep:
        return None
    d: dict[str, list[int]] = {}
    sg = set(eg)
    for e in ep:
        c = d.setdefault(e[2], [0, 0, 0])
        c[1] += 1
        c[0] += e in sg
    for e in eg:
        d.setdefault(e[2], [0, 0, 0])[2] += 1
    return d


def _span_stats(items: list) -> np.ndarray:
    """(n, 3T): tp, n_pred, n_gold of each entity type per document (seqeval strict IOB2, via
    :func:`span_entities`); types in sorted order, as seqeval's ``target_names``.

    A document's counts are remembered by its (gold, predicted) tags, and documents with the same
    counts object share one row of a table that the statistics are gathered from."""
    at: list[int] = []  # each document's row of ``table`` (0: no entities)
    table_docs: list[dict | None] = [None]
    row_of: dict[int, int] = {}  # id of a counts dict -> its row (the dicts are held by table_docs)
    types: set[str] = set()
    memo, miss = _SPAN_DOC_MEMO, _SPAN_DOC_MEMO  # a document's counts by (gold, predicted) tags; the memo is the "missing" mark
    for it in items:
        g, p = it[0], it[1]
        try:
            key: tuple | None = (tuple(g), tuple(p))
        except TypeError:  # not iterable: list() raises as before
            key = None
        gold, pred = (list(g), list(p)) if key is None else key
        if len(gold) != len(pred):
            raise ValueError(f"tag sequences differ in length: {len(gold)} gold vs {len(pred)} predicted")
        try:
            d = miss if key is None else memo.get(key, miss)
        except TypeError:  # an unhashable tag
            key, d = None, miss
        if d is miss:
            d = _span_doc(_memo_entities(list(gold)), _memo_entities(list(pred)))
            # remembered when both sequences were read by the fast reading (all text: see _memo_entities)
            if key is not None and key[0] in _SPAN_MEMO and key[1] in _SPAN_MEMO:
                if len(memo) >= _SPAN_MEMO_MAX:
                    memo.clear()
                memo[key] = d
        if d is None:
            at.append(0)
            continue
        r = row_of.get(id(d))
        if r is None:
            row_of[id(d)] = r = len(table_docs)
            table_docs.append(d)
            types.update(d)
        at.append(r)
    order = sorted(types)
    table = np.zeros((len(table_docs), 3 * len(order)))
    col = {t: 3 * i for i, t in enumerate(order)}
    rows: list[int] = []  # one assignment of every count (a slice assignment per type and row: ~3x the time)
    cols: list[int] = []
    vals: list[int] = []
    for r, d in enumerate(table_docs):
        if d:
            for t, c in d.items():
                k = col[t]
                rows += (r, r, r)
                cols += (k, k + 1, k + 2)
                vals += c
    if vals:
        table[rows, cols] = vals
    return table[np.asarray(at, dtype=np.intp)]


def _seqeval_f(tp: np.ndarray, npred: np.ndarray, ngold: np.ndarray) -> np.ndarray:
    """seqeval's F1 from counts, with its own operations and zero_division=0."""
    p = _safe_div(tp, npred)
    r = _safe_div(tp, ngold)
    den = p + r
    den = np.where(den == 0.0, 1.0, den)
    return (1 + 1.0) * p * r / den


def _finish_span_micro(s: np.ndarray, _t: np.ndarray) -> np.ndarray:
    return _seqeval_f(s[:, 0::3].sum(axis=1), s[:, 1::3].sum(axis=1), s[:, 2::3].sum(axis=1))


def _span_micro_boot(counts: np.ndarray, stats: np.ndarray) -> np.ndarray | None:
    """:func:`_finish_span_micro` of the resamples from the per-kind totals over the entity types (tp,
    n_pred, n_gold: 3 columns instead of 3 per type, the product ~3x cheaper at 17 types), or None
    (then the general path). Only where every sum is an exact integer both ways: non-negative integer
    statistics and multiplicities whose resample sums of the totals stay below 2**24, so the general
    path's float32 product is exact too and summing its columns per kind gives these very numbers."""
    k = stats.shape[1]
    if (k == 0 or k % 3 or not counts.size or not np.issubdtype(counts.dtype, np.integer)
            or float(stats.min(initial=0.0)) < 0.0 or not bool(np.all(np.floor(stats) == stats))):
        return None
    kinds = np.stack([stats[:, j::3].sum(axis=1) for j in range(3)], axis=1)  # exact: integers below 2**53
    exact = _exact_f32_sums(counts, kinds)
    if exact is None:
        return None
    s = exact[0]
    return np.asarray(_seqeval_f(s[:, 0].copy(), s[:, 1].copy(), s[:, 2].copy()), dtype=np.float64)


def _finish_span_macro(s: np.ndarray, _t: np.ndarray) -> np.ndarray:
    tp, npred, ngold = s[:, 0::3], s[:, 1::3], s[:, 2::3]
    f = _seqeval_f(tp, npred, ngold)
    support = ngold > 0  # macro over the entity types present in gold
    return _safe_div(np.where(support, f, 0.0).sum(axis=1), support.sum(axis=1).astype(np.float64))


_BLEU_SCORER: Any = None


def _bleu_scorer() -> Any:
    global _BLEU_SCORER
    if _BLEU_SCORER is None:
        from sacrebleu.metrics import BLEU

        _BLEU_SCORER = BLEU(tokenize="none")  # as metrics.bleu: text tokenized by bleu_tokenize, corpus_bleu's defaults
    return _BLEU_SCORER


def _bleu_stats(items: list) -> np.ndarray:
    from ecomsuite.metrics import bleu_tokenize  # the tokenizer choice of metrics.bleu, never a copy

    preds = [bleu_tokenize(i[0]) for i in items]
    refs = [list(i[1]) for i in items]
    m = max((len(r) for r in refs), default=0)
    streams = [[bleu_tokenize(r[j]) if j < len(r) else None for r in refs] for j in range(m)]
    st = np.asarray(_bleu_scorer()._extract_corpus_statistics(preds, streams), dtype=np.float64)
    return st.reshape(len(items), -1)


def _finish_bleu(s: np.ndarray, _t: np.ndarray) -> np.ndarray:
    scorer = _bleu_scorer()
    return np.asarray([scorer._compute_score_from_stats([int(round(v)) for v in row]).score for row in s])


def _attr_stats(items: list) -> np.ndarray:
    return np.asarray([[float(i[0]), float(i[1]), float(i[2])] for i in items], dtype=np.float64).reshape(-1, 3)


def _attr_pr(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tp, fp, fn = s[:, 0], s[:, 1], s[:, 2]
    return _safe_div(tp, tp + fp), _safe_div(tp, tp + fn)


# module-level functions (not closures): a Prepared crosses process boundaries (the samples workers)
def _finish_attr_f1(s: np.ndarray, _t: np.ndarray) -> np.ndarray:
    p, r = _attr_pr(s)
    return _safe_div(2 * p * r, p + r)


def _finish_attr_precision(s: np.ndarray, _t: np.ndarray) -> np.ndarray:
    return _attr_pr(s)[0]


def _finish_attr_recall(s: np.ndarray, _t: np.ndarray) -> np.ndarray:
    return _attr_pr(s)[1]


FINISHERS: dict[str, Finish] = {
    "mean": _finish_mean, "macro_f1": _finish_macro_f1, "class_f1": _finish_class_f1,
    "span_micro": _finish_span_micro, "span_macro": _finish_span_macro, "bleu": _finish_bleu,
    "attr_f1": _finish_attr_f1, "attr_precision": _finish_attr_precision, "attr_recall": _finish_attr_recall,
}


def finisher(finish_id: str | None) -> Finish:
    fn = FINISHERS.get(str(finish_id))
    if fn is None:
        raise ValueError(f"unknown finishing function {finish_id!r}")
    return fn


Builder = tuple[Callable[[list], np.ndarray], str]  # (per-document statistics, finish id)


def _builders() -> dict[Callable, Builder]:
    """Sufficient statistics per aggregation *function* of ecomsuite.metrics."""
    from ecomsuite import metrics as M

    labels = tuple(getattr(M, "ESCI_LABELS", ()))
    table: dict[str, Builder] = {
        "agg_mean": (_mean_stats, "mean"),
        "agg_macro_f1": (lambda items: _class_stats(M.class_labels([i[0] for i in items], [i[1] for i in items]),
                                                    items), "macro_f1"),
        "agg_span_f1": (_span_stats, "span_micro"),
        "agg_span_macro_f1": (_span_stats, "span_macro"),
        "agg_bleu": (_bleu_stats, "bleu"),
        "agg_attr_f1": (_attr_stats, "attr_f1"),
        "agg_attr_precision": (_attr_stats, "attr_precision"),
        "agg_attr_recall": (_attr_stats, "attr_recall"),
    }
    for lab in labels:
        table[f"agg_f1_{lab}"] = ((lambda items, lab=lab: _class_stats([lab], items)), "class_f1")
    return {getattr(M, name): b for name, b in table.items() if callable(getattr(M, name, None))}


_BUILDERS: dict[Callable, Builder] | None = None


def _builder_for(metric: str) -> tuple[Builder | None, bool]:
    """(sufficient-statistics builder or None, whether the library knows the metric)."""
    global _BUILDERS
    from ecomsuite.metrics import AGGREGATIONS

    if _BUILDERS is None:
        _BUILDERS = _builders()
    fn = AGGREGATIONS.get(metric)
    if fn is None:
        return None, False
    return _BUILDERS.get(fn), True


def is_numeric(items: Sequence) -> bool:
    return all(isinstance(i, (int, float, np.integer, np.floating)) for i in items)


def finite_mask(items: Sequence) -> np.ndarray:
    """True for items that can be scored: a number must be finite (NaN/inf items are to be dropped
    and counted by the caller); structured items (pairs, counts) are kept."""
    out = np.ones(len(items), dtype=bool)
    for i, it in enumerate(items):
        if isinstance(it, (int, float, np.integer, np.floating)) and not math.isfinite(float(it)):
            out[i] = False
    return out


# Statistics proven equal to the library on *every* input, errors included (the same exception
# whenever the library raises; tests/test_span_stats.py: a differential test against seqeval). For
# these alone ``verify="once"`` may skip the library: a skipped check cannot change a value or a note.
EXACT_FINISHERS = frozenset({"span_micro", "span_macro"})
VERIFY_ALWAYS_MAX_N = 200  # verify="once": document sets this small are always checked (cheap)
_VERIFIED: set[tuple] = set()  # (metric, aggregation function) that passed a check in this process


def _verified_key(metric: str) -> tuple:
    """What a passed check vouches for: the metric with the aggregation function it is scored by."""
    from ecomsuite.metrics import AGGREGATIONS

    return metric, AGGREGATIONS.get(metric)


def _needs_check(verify: bool | str, metric: str, n: int, finish_id: str | None) -> bool:
    if verify == "once":
        if finish_id not in EXACT_FINISHERS or n <= VERIFY_ALWAYS_MAX_N:
            return True
        return _verified_key(metric) not in _VERIFIED
    if isinstance(verify, bool):
        return verify
    raise ValueError(f"verify must be True, False or 'once', got {verify!r}")


def _agree(value: float, library: float) -> bool:
    """The statistics' value equals the library's: within tolerance, or both undefined (NaN: e.g. the
    F1 of a class with no gold and no predicted document)."""
    if math.isnan(value) and math.isnan(library):
        return True
    return math.isclose(value, library, rel_tol=VERIFY_RTOL, abs_tol=VERIFY_ATOL)


def prepare(metric: str, items: Sequence, *, verify: bool | str = True) -> Prepared:
    """Reduce ``items`` (one per document, in a fixed order) to what a resample needs.

    A metric unknown to ``ecomsuite.metrics`` is a mean when its items are numbers (lm-eval's
    acc, exact_match ...); otherwise ``KeyError``. Non-finite numeric items raise ``ValueError``.

    ``verify``: True checks the statistics against ``ecomsuite.metrics`` on the full set (a
    disagreement falls back to the library per resample, with a note); False does not; ``"once"``
    (the leaderboard, 1,000s of cells) checks always, except for the statistics in
    :data:`EXACT_FINISHERS` (span F1: seqeval per cell was the largest cost of a build), which are
    checked on the first set of each metric in this process that has more than
    :data:`VERIFY_ALWAYS_MAX_N` documents, on every smaller set, and again after any
    disagreement. Without a check the result is what a passing check gives, and an error is the
    one the library raises (it is asked when the statistics fail), so it never depends on which
    cell came first unless a check fails."""
    items = list(items)
    n = len(items)
    bad = int((~finite_mask(items)).sum())
    if bad:
        raise ValueError(f"{bad} of {n} {metric!r} item(s) are NaN or infinite; drop them first (finite_mask)")
    builder, known = _builder_for(metric)
    numeric = is_numeric(items)
    if not known:
        if not numeric:
            raise KeyError(f"metric {metric!r} is not in ecomsuite.metrics and its items are not numbers")
        st = _mean_stats(items)
        return Prepared(metric, n, float(np.mean(st[:, 0])) if n else math.nan, st, _finish_mean, finish_id="mean")
    if numeric and n and (builder is None or builder[1] != "mean"):
        try:
            _aggregate()(metric, items[:1])
        except (TypeError, IndexError, KeyError, ValueError):
            # plain numbers logged for a corpus metric (lm-eval tasks that score each document):
            # they are per-document scores, and their mean is the value
            st = _mean_stats(items)
            return Prepared(metric, n, float(np.mean(st[:, 0])), st, _finish_mean, finish_id="mean",
                            note=f"{metric!r} items are numbers, not what ecomsuite.metrics aggregates: averaged")
    check = _needs_check(verify, metric, n, None if builder is None else builder[1]) and n > 0
    library = float(_aggregate()(metric, items)) if check or (builder is None and n) else math.nan
    if builder is None:
        return Prepared(metric, n, library, None, None, items,
                        note="no sufficient statistics for this aggregation: the library is called per resample")
    stats_fn, finish_id = builder
    fin = finisher(finish_id)
    try:
        st = stats_fn(items)
    except Exception:
        if not check and n:
            _aggregate()(metric, items)  # the library's own error, as when it is asked first
        raise
    ones = np.ones((1, n))
    value = float(fin(ones @ st, ones.sum(axis=1))[0]) if n else math.nan
    if check and not _agree(value, library):
        return Prepared(metric, n, library, None, None, items,
                        note=f"sufficient statistics give {value!r} but ecomsuite.metrics gives {library!r}: "
                             "the library is called per resample")
    if check and verify == "once" and n > VERIFY_ALWAYS_MAX_N:
        _VERIFIED.add(_verified_key(metric))
    return Prepared(metric, n, value, st, fin, finish_id=finish_id)


# --------------------------------------------------------------------------------- intervals
def percentile_ci(boot: np.ndarray, level: float = 0.95) -> tuple[float, float] | None:
    boot = np.asarray(boot, dtype=np.float64)
    boot = boot[np.isfinite(boot)]
    if boot.size == 0:
        return None
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(boot, [a, 1.0 - a])
    return float(lo), float(hi)


def pvalue(diffs: np.ndarray) -> float:
    """Two-sided bootstrap p-value of "the difference is 0": twice the smaller tail, (k+1)/(B+1)."""
    d = np.asarray(diffs, dtype=np.float64)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return 1.0
    tail = min(int((d <= 0).sum()), int((d >= 0).sum()))
    return min(1.0, 2.0 * (tail + 1) / (d.size + 1))


def pvalue_normal(d0: float, diffs: np.ndarray) -> float:
    """Two-sided p-value of "the difference is 0" from the bootstrap standard error (normal
    approximation). Unlike :func:`pvalue` its resolution is not limited to 1/B, so Holm's thresholds
    (alpha / number of pairs) stay reachable with many systems."""
    d = np.asarray(diffs, dtype=np.float64)
    d = d[np.isfinite(d)]
    if d.size < 2 or not math.isfinite(d0):
        return 1.0
    se = float(np.std(d, ddof=1))
    if se == 0.0:
        return 0.0 if d0 != 0 else 1.0
    return math.erfc(abs(d0) / se / math.sqrt(2.0))


PAIR_BLOCK = 1 << 18  # differences per block in pair_tests: 2 MB, in cache (2**23, 64 MB, was 2x slower)
PAIR_BLOCK_CI = 1 << 17  # differences per block in pairs_ci_beyond_zero


def pairwise(values: Sequence[float], boots: np.ndarray, level: float = 0.95,
             max_elements: int = 1 << 23) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Paired tests of every pair of systems scored on the same documents with the same resamples.

    ``values[s]`` is system s's full-set value, ``boots[s]`` its bootstrap array (one row per system,
    the same resamples for all). For the pairs ``i < j`` in ``numpy.triu_indices`` order returns
    ``(d0, lo, hi, p)``: ``values[i] - values[j]``, the percentile CI of ``boots[i] - boots[j]`` and
    the two-sided p-value from its bootstrap standard error -- the same numbers as
    :func:`percentile_ci` and :func:`pvalue_normal` on each difference, in a few numpy operations
    (see :func:`pairwise_pairs`). A pair whose differences are all non-finite gets NaN bounds
    (untested) and p = 1."""
    iu, ju = np.triu_indices(len(values), 1)
    return pairwise_pairs(values, boots, iu, ju, level, max_elements)


_RUN_MIN = 8  # pairs per system below which _diff_blocks gathers rows instead of one subtraction per system


def _diff_blocks(values: Sequence[float], boots: np.ndarray, iu: np.ndarray, ju: np.ndarray, max_elements: int):
    """(d0, then per block: (slice of the pairs, differences (pairs, B) with NaN for non-finite,
    finite counts)). Each row is ``boots[iu] - boots[ju]`` alone: nothing mixes rows."""
    v = np.asarray(values, dtype=np.float64)
    m = np.asarray(boots, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != len(v):
        raise ValueError(f"boots must be (systems, resamples) for {len(v)} systems, got shape {m.shape}")
    iu = np.asarray(iu, dtype=np.int64)
    ju = np.asarray(ju, dtype=np.int64)
    n_pairs, width = len(iu), m.shape[1]
    fin = np.isfinite(m)
    # a difference of two finite values below 1e300 is finite: only rows with a NaN need counting
    if bool(fin.all()):  # the usual case: no copy of the matrix, read as given
        has_nan = np.zeros(len(m), dtype=bool)
        no_overflow = bool(m.max(initial=-np.inf) < 1e300 and m.min(initial=np.inf) > -1e300)
    else:
        m = np.where(fin, m, np.nan)
        has_nan = ~fin.all(axis=1)
        no_overflow = bool(np.nanmax(np.abs(m), initial=0.0) < 1e300) if m.size else True
    yield v[iu] - v[ju]
    step = max(1, max_elements // max(1, width))
    buf = np.empty((min(step, n_pairs), width))
    for s in range(0, n_pairs, step):
        ii, jj = iu[s:s + step], ju[s:s + step]
        d = buf[:len(ii)]
        cut = np.flatnonzero(ii[1:] != ii[:-1]) + 1  # runs of one system against others
        if len(cut) * _RUN_MIN >= len(ii):  # short runs (a new system's pairs, next rows): one gather
            np.subtract(m[ii], m[jj], out=d)
        else:
            starts, ends = np.concatenate([[0], cut]), np.concatenate([cut, [len(ii)]])
            step1 = np.concatenate([[False], np.diff(jj) == 1])  # jj[x] == jj[x - 1] + 1
            for x, y in zip(starts.tolist(), ends.tolist()):
                js = jj[x:y]
                if bool(step1[x + 1:y].all()):
                    np.subtract(m[ii[x]], m[js[0]:js[-1] + 1], out=d[x:y])
                else:
                    np.subtract(m[ii[x]], m[js], out=d[x:y])
        if not width:
            nf = np.zeros(len(ii), dtype=np.int64)
        elif no_overflow:
            nf = np.full(len(ii), width, dtype=np.int64)
            bad = has_nan[ii] | has_nan[jj]
            if bool(bad.any()):
                nf[bad] = np.isfinite(d[bad]).sum(axis=1)
        else:
            nf = np.isfinite(d).sum(axis=1)
            d[~np.isfinite(d)] = np.nan  # an overflow to inf is left out like a NaN
        yield slice(s, s + len(ii)), d, nf


def _rows_pvalue(d: np.ndarray, nf: np.ndarray, d0: np.ndarray, se_full: np.ndarray | None = None) -> np.ndarray:
    """:func:`pvalue_normal` of each row of differences (non-finite values left out); ``se_full``:
    the standard errors already computed, when every row is finite (``d`` is then not read)."""
    width = d.shape[1]
    se = np.full(len(d), np.nan)
    full = nf == width
    if se_full is not None:
        se = se_full
    elif width > 1:
        if bool(full.any()):
            se[full] = np.std(d if bool(full.all()) else d[full], axis=1, ddof=1)
        part = ~full & (nf > 1)
        if bool(part.any()):
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                se[part] = np.nanstd(d[part], axis=1, ddof=1)
    return _pvalue_se(d0, se, nf)


def _pvalue_se(d0: np.ndarray, se: np.ndarray, nf: np.ndarray) -> np.ndarray:
    """:func:`pvalue_normal` from each difference ``d0``, the standard error ``se`` of its finite
    resampled differences and their count ``nf`` (elementwise: the same bits however many at once)."""
    ok = (nf >= 2) & np.isfinite(d0)
    pv = np.ones(len(d0))
    zero = ok & (se == 0.0)
    pv[zero] = np.where(d0[zero] != 0, 0.0, 1.0)
    pos = ok & (se > 0.0)
    pv[pos] = list(map(math.erfc, (np.abs(d0[pos]) / se[pos] / math.sqrt(2.0)).tolist()))
    return pv


def pairwise_pairs(values: Sequence[float], boots: np.ndarray, iu: np.ndarray, ju: np.ndarray,
                   level: float = 0.95, max_elements: int = 1 << 23
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`pairwise` for the given pairs ``(iu[x], ju[x])`` only.

    Each pair's numbers depend on its two rows alone (never on which other pairs are computed with
    it), bit for bit, so that a cache of earlier pairs gives exactly what computing them again would.
    Pairs are processed in blocks of at most ``max_elements`` differences; pairs listed by ascending
    ``iu`` (as ``triu_indices``) are computed with one broadcast subtraction per system."""
    gen = _diff_blocks(values, boots, iu, ju, max_elements)
    d0 = next(gen)
    lo, hi, p = np.full(len(d0), np.nan), np.full(len(d0), np.nan), np.ones(len(d0))
    a = (1.0 - level) / 2.0
    for sl, d, nf in gen:
        q = _rows_ci(d, nf, a)
        lo[sl], hi[sl] = q[0], q[1]
        p[sl] = _rows_pvalue(d, nf, d0[sl])
    return d0, lo, hi, p


def _rows_ci(d: np.ndarray, nf: np.ndarray, a: float) -> np.ndarray:
    """(2, rows): the percentile CI (quantiles ``a``, ``1 - a``) of each row's finite differences
    (``d`` holds NaN for a non-finite one; ``nf`` counts the finite ones); NaN where none is finite."""
    q = np.full((2, len(d)), np.nan)
    full = nf == d.shape[1]
    if d.shape[1] and bool(full.any()):
        q[:, full] = np.quantile(d if bool(full.all()) else d[full], [a, 1.0 - a], axis=1)
    part = ~full & (nf > 0)
    if bool(part.any()):  # rows with non-finite differences: left out, as percentile_ci does
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            q[:, part] = np.nanquantile(d[part], [a, 1.0 - a], axis=1)
    return q


def pairs_ci_beyond_zero(values: Sequence[float], boots: np.ndarray, iu: np.ndarray, ju: np.ndarray,
                         upper: bool = False, level: float = 0.95, max_elements: int = PAIR_BLOCK_CI) -> np.ndarray:
    """Whether each pair's percentile CI lies above 0 (``lo > 0``), or with ``upper`` below 0
    (``hi < 0``), exactly as :func:`pairwise_pairs`' ``lo``/``hi`` say, mostly without the quantiles:
    a bound is interpolated between two neighbouring order statistics of the differences (numpy's
    "linear" method), so it is > 0 when both are > 0 and <= 0 when both are <= 0 (and < 0 / >= 0
    alike); counting the differences <= 0 (< 0) of a finite row tells which, and only a row whose
    count puts those neighbours on both sides of 0 (or within one place of it) gets the quantile
    itself (:func:`_rows_ci`, as pairwise_pairs computes it), as does a row with non-finite
    differences."""
    gen = _diff_blocks(values, boots, iu, ju, max_elements)
    next(gen)
    out = np.zeros(len(iu), dtype=bool)
    a = (1.0 - level) / 2.0
    for sl, d, nf in gen:
        width = d.shape[1]
        res = np.zeros(len(d), dtype=bool)
        exact = ~(nf == width) & (nf > 0)
        full = np.flatnonzero(nf == width) if width else np.zeros(0, dtype=np.int64)
        if len(full):
            rows = d if len(full) == len(d) else d[full]
            k = math.floor((width - 1) * (1.0 - a if upper else a))  # the lower neighbour's place (+-1)
            if upper:
                c = np.count_nonzero(rows < 0, axis=1)  # sorted: the first c are < 0
                yes, no = c >= k + 3, c <= k - 1
            else:
                c = np.count_nonzero(rows <= 0, axis=1)  # sorted: the first c are <= 0
                yes, no = c <= k - 1, c >= k + 3
            res[full[yes]] = True
            exact[full[~(yes | no)]] = True
        if bool(exact.any()):
            x = np.flatnonzero(exact)
            q = _rows_ci(d[x], nf[x], a)
            res[x] = q[1] < 0 if upper else q[0] > 0
        out[sl] = res
    return out


_SIDE_PREFIX = 32  # resamples screened before a row's full min/max (most rows change sign in them)


def _rows_std_inplace(d: np.ndarray) -> np.ndarray:
    """``np.std(d, axis=1, ddof=1)`` with numpy's own operations in numpy's order (so the same
    bits), computed in ``d`` itself: no (rows, B) temporaries. Destroys ``d``."""
    m = np.add.reduce(d, axis=1, keepdims=True)
    np.true_divide(m, d.shape[1], out=m)
    np.subtract(d, m, out=d)
    np.square(d, out=d)
    v = np.add.reduce(d, axis=1)
    np.true_divide(v, max(d.shape[1] - 1, 0), out=v)
    return np.sqrt(v, out=v)


def _rows_side(d: np.ndarray, nf: np.ndarray) -> np.ndarray:
    """+1 where every finite difference of a row is > 0, -1 where every one is < 0, else 0."""
    side = np.zeros(len(d), dtype=np.int8)
    if not d.shape[1]:
        return side
    full = nf == d.shape[1]
    if bool(full.any()):
        rows = np.flatnonzero(full)
        head = d[rows, :_SIDE_PREFIX] if not bool(full.all()) else d[:, :_SIDE_PREFIX]
        # a row is one-signed only if its first resamples are: the full pass for those rows alone
        pos = rows[head.min(axis=1) > 0]
        neg = rows[head.max(axis=1) < 0]
        if len(pos):
            side[pos[d[pos].min(axis=1) > 0]] = 1
        if len(neg):
            side[neg[d[neg].max(axis=1) < 0]] = -1
    part = ~full & (nf > 0)
    if bool(part.any()):  # NaN: left out
        rows = d[part]
        lo_ok = np.where(np.isnan(rows), np.inf, rows).min(axis=1) > 0
        hi_ok = np.where(np.isnan(rows), -np.inf, rows).max(axis=1) < 0
        side[part] = np.where(lo_ok, 1, np.where(hi_ok, -1, 0))
    return side


def _finite_rows_side(d: np.ndarray) -> np.ndarray:
    """:func:`_rows_side` of rows that are all finite: a row is one-signed only if its first resamples
    are; its full minimum (maximum) is taken over the whole tile at once when many rows are candidates
    (no gathered copy), else over those rows alone."""
    side = np.zeros(len(d), dtype=np.int8)
    if not d.shape[1]:
        return side
    head = d[:, :_SIDE_PREFIX]
    for rows, red, sign in ((np.flatnonzero(head.min(axis=1) > 0), np.minimum, 1),
                            (np.flatnonzero(head.max(axis=1) < 0), np.maximum, -1)):
        if not len(rows):
            continue
        ext = red.reduce(d, axis=1)[rows] if 4 * len(rows) >= len(d) else red.reduce(d[rows], axis=1)
        side[rows[ext > 0 if sign > 0 else ext < 0]] = sign
    return side


def pair_tests(values: Sequence[float], boots: np.ndarray, iu: np.ndarray, ju: np.ndarray,
               max_elements: int = PAIR_BLOCK) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What a rank interval needs of each pair, without its CI: ``(d0, p, n_finite, side)`` where
    ``p`` is :func:`pairwise_pairs`'s p-value (the same bits), ``n_finite`` the finite differences
    (0: untested) and ``side`` +1 when every finite difference is > 0, -1 when every one is < 0,
    else 0. A percentile CI lies between the smallest and the largest difference, so ``side`` = +1
    already proves its lower bound > 0 (-1: its upper bound < 0); only the other pairs that a test
    rejects need their CI (see :func:`pairwise_pairs`). The partition behind a CI is most of the cost
    of all pairs.

    Speed (a full build at 1,000 systems: 7 rankings of ~500,000 pairs x 2,000 resamples): small
    blocks that stay in cache, the standard error computed in the block itself
    (:func:`_rows_std_inplace`), and ``side`` screened on the first resamples of each row."""
    gen = _diff_blocks(values, boots, iu, ju, max_elements)
    d0 = next(gen)
    p, nfin, side = np.ones(len(d0)), np.zeros(len(d0), dtype=np.int64), np.zeros(len(d0), dtype=np.int8)
    for sl, d, nf in gen:
        nfin[sl] = nf
        side[sl] = _rows_side(d, nf)  # before the standard error, which overwrites the block
        if d.shape[1] > 1 and bool((nf == d.shape[1]).all()):
            p[sl] = _rows_pvalue(d, nf, d0[sl], se_full=_rows_std_inplace(d))
        else:
            p[sl] = _rows_pvalue(d, nf, d0[sl])
    return d0, p, nfin, side


PAIR_TILE = 1 << 17  # differences per tile in pair_tests_all: 1 MB (8 x 8 systems at 2,000 resamples), in L2
PAIR_FORK_MIN = 1 << 24  # differences below which pair_tests_all computes in this process alone


def _tile_edge(width: int, tile: int) -> int:
    return max(1, math.isqrt(max(1, tile // max(1, width))))


def _band_into(m: np.ndarray, v: np.ndarray, i0: int, edge: int, buf: np.ndarray, p: np.ndarray, side: np.ndarray,
               near: np.ndarray | None = None) -> None:
    """The pairs ``(i, j > i)`` for i in ``[i0, i0 + edge)`` (a band of rows of the pair matrix), in
    tiles against ``edge`` systems j at a time: ``p[i, j]`` and ``side[i, j]`` as :func:`pair_tests`
    gives them, and with ``near`` the CI of each pair of neighbours ``(i, i + 1)`` into ``near[:, i]``
    (as :func:`pairwise_pairs` gives it). The rows of ``m`` are finite and the differences cannot
    overflow (see :func:`pair_tests_all`); each difference row is computed and reduced alone, as
    pair_tests does."""
    n, width = m.shape
    i1 = min(i0 + edge, n)
    a = m[i0:i1]
    se = np.empty((i1 - i0, n - i0))
    for j0 in range(i0, n, edge):
        b = m[j0:j0 + edge]
        d3 = buf[:len(a) * len(b) * width].reshape(len(a), len(b), width)
        np.copyto(d3, a[:, None, :])  # then subtract in place: numpy's in-place loop is ~2x faster here than
        np.subtract(d3, b[None, :, :], out=d3)  # writing a third array (same a - b, same bits)
        d = d3.reshape(-1, width)
        if near is not None and j0 <= i1 and j0 + len(b) > i0 + 1:  # the tile holds pairs (i, i + 1)
            ii = np.arange(max(i0, j0 - 1), min(i1, j0 + len(b) - 1))
            rows = (ii - i0) * len(b) + (ii + 1 - j0)
            near[:2, ii] = _rows_ci(d[rows], np.full(len(rows), width), (1.0 - 0.95) / 2.0)
        side[i0:i1, j0:j0 + len(b)] = _finite_rows_side(d).reshape(len(a), len(b))
        se[:, j0 - i0:j0 - i0 + len(b)] = _rows_std_inplace(d).reshape(len(a), len(b))
    li, lj = np.nonzero(np.arange(i1 - i0)[:, None] < np.arange(n - i0)[None, :])  # j > i (tiles on the diagonal)
    gi, gj = li + i0, lj + i0
    d0 = v[gi] - v[gj]
    p[gi, gj] = _pvalue_se(d0, se[li, lj], np.full(len(d0), width, dtype=np.int64))


def _shared_array(shape: tuple[int, ...], dtype: Any, shared: bool) -> np.ndarray:
    """A zeroed array; with ``shared``, in an anonymous shared mapping that forked children write into."""
    if not shared:
        return np.zeros(shape, dtype=dtype)
    import mmap

    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    return np.frombuffer(mmap.mmap(-1, max(1, nbytes)), dtype=dtype, count=int(np.prod(shape))).reshape(shape)


def _run_forked(chunks: Sequence, jobs: int, fn: Callable[[Any], None]) -> None:
    """``fn(chunk)`` for every chunk, by this process and ``jobs - 1`` forked children (which write their
    results into shared memory and exit), each taking the next chunk from a pipe of chunk numbers
    until none is left (a process slowed by other load takes fewer). Raises when a child failed."""
    import os
    import sys
    import traceback

    if jobs <= 1 or len(chunks) <= 1:
        for c in chunks:
            fn(c)
        return
    if len(chunks) >= 1 << 15:
        raise ValueError("too many chunks for the pipe of chunk numbers")
    r, w = os.pipe()
    try:
        os.write(w, np.arange(len(chunks), dtype="<u2").tobytes())  # < 64 KiB: fits the pipe, one write
    finally:
        os.close(w)  # end of the numbers: a read past the last one gives b""

    def work() -> None:
        while True:
            got = os.read(r, 2)  # a read takes a whole number: every write was whole pairs of bytes
            if not got:
                return
            fn(chunks[int.from_bytes(got, "little")])

    pids = []
    try:
        for _ in range(jobs - 1):
            pid = os.fork()
            if pid == 0:  # the child: never returns into the caller's code
                code = 1
                try:
                    work()
                    code = 0
                except KeyboardInterrupt:  # Ctrl-C reaches the parent too: it says so, once
                    code = 130
                except BaseException:  # noqa: BLE001 - reported by the parent as a failed worker
                    traceback.print_exc()
                finally:
                    try:
                        sys.stderr.flush()
                    finally:
                        os._exit(code)
            pids.append(pid)
        work()
    finally:
        codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
        os.close(r)
    bad = [c for c in codes if c != 0]
    if bad:
        raise RuntimeError(f"pair tests: {len(bad)} of {len(pids)} forked worker(s) failed (exit status {bad[0]})")


def pair_tests_all(values: Sequence[float], boots: np.ndarray, n_jobs: int = 1, tile: int = PAIR_TILE,
                   near: bool = False) -> tuple[np.ndarray, ...]:
    """:func:`pair_tests` of every pair ``i < j`` (``numpy.triu_indices`` order), the same bits,
    computed in tiles: the differences of ``edge`` systems against ``edge`` others (``tile``
    differences, in cache, from rows read once per tile rather than once per pair), a band of
    ``edge`` rows of the pair matrix at a time (p-values included), with ``n_jobs`` processes (forked;
    each takes the next band as it finishes one, the longest first) when there is enough work. Each
    difference row is still reduced alone, so no number depends on the tiling. A matrix with non-finite values
    (or values whose differences could overflow) goes through :func:`pair_tests` as it is. With
    ``near``, a fifth array (3, systems - 1): :func:`pairwise_pairs`' ``(lo, hi, p)`` of each pair of
    neighbours ``(x, x + 1)``, the same bits (its CI taken in the band that holds it)."""
    import os

    v = np.asarray(values, dtype=np.float64)
    m = np.asarray(boots, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != len(v):
        raise ValueError(f"boots must be (systems, resamples) for {len(v)} systems, got shape {m.shape}")
    n, width = m.shape
    iu, ju = np.triu_indices(n, 1)
    plain = width < 2 or not len(iu) or not (m.min() > -1e300 and m.max() < 1e300)  # NaN: False
    if plain:
        out = pair_tests(v, m, iu, ju)
        if near:
            x = np.arange(max(n - 1, 0))
            _, lo, hi, pv = pairwise_pairs(v, m, x, x + 1)
            out += (np.stack([lo, hi, pv]),)
        return out
    m = np.ascontiguousarray(m)
    edge = _tile_edge(width, tile)
    bands = list(range(0, n, edge))  # the largest first: the last ones taken are the shortest
    jobs = max(1, min(int(n_jobs), len(bands)))
    if len(iu) * width < PAIR_FORK_MIN or not hasattr(os, "fork"):
        jobs = 1
    p = _shared_array((n, n), np.float64, jobs > 1)
    side = _shared_array((n, n), np.int8, jobs > 1)
    nr = _shared_array((3, n - 1), np.float64, jobs > 1) if near else None
    buf = np.empty(edge * edge * width)
    _run_forked(bands, jobs, lambda i0: _band_into(m, v, i0, edge, buf, p, side, nr))
    p_p, side_p = p[iu, ju], side[iu, ju]
    out = v[iu] - v[ju], p_p, np.full(len(iu), width, dtype=np.int64), side_p
    if nr is not None:
        x = np.arange(n - 1)
        nr = np.array(nr)  # out of the shared mapping
        nr[2] = p[x, x + 1]
        out += (nr,)
    return out


def distribution(metric: str, items: Sequence, *, clusters: Sequence | None = None,
                 n_boot: int | None = None, seed: Any = 0, verify: bool = True) -> tuple[Prepared, np.ndarray]:
    """(prepared metric with its full-set value, the metric on each of ``n_boot`` resamples)."""
    p = prepare(metric, items, verify=verify)
    counts = resample_counts(p.n, n_boot or N_BOOT_CORPUS, seed, clusters)
    return p, p.boot(counts)


def ci(metric: str, items: Sequence, *, clusters: Sequence | None = None, n_boot: int | None = None,
       seed: Any = 0, level: float = 0.95) -> tuple[float, float] | None:
    """Percentile bootstrap CI of ``aggregate(metric, items)``; None with fewer than 2 documents."""
    if len(items) < 2:
        return None
    _, boot = distribution(metric, items, clusters=clusters, n_boot=n_boot, seed=seed)
    return percentile_ci(boot, level)


def _key_order(k: Any) -> tuple:
    return (0, k, "") if isinstance(k, (int, np.integer)) and not isinstance(k, bool) else (1, 0, str(k))


def common_keys(a: dict, b: dict) -> list:
    """Keys of both, in a fixed order (ints numerically, then strings)."""
    return sorted(set(a) & set(b), key=_key_order)


def paired_distribution(metric: str, items_a: dict, items_b: dict, *, clusters: dict | None = None,
                        n_boot: int | None = None, seed: Any = 0) -> tuple[float, np.ndarray, int] | None:
    """(a - b on the common documents, its paired bootstrap distribution, n_common); None below 2."""
    keys = common_keys(items_a, items_b)
    if len(keys) < 2:
        return None
    cl = None if clusters is None else [clusters[k] for k in keys]
    pa = prepare(metric, [items_a[k] for k in keys])
    pb = prepare(metric, [items_b[k] for k in keys])
    counts = resample_counts(len(keys), n_boot or N_BOOT_CORPUS, seed, cl)
    return pa.value - pb.value, pa.boot(counts) - pb.boot(counts), len(keys)


def paired_diff(metric: str, items_a: dict, items_b: dict, *, clusters: dict | None = None,
                n_boot: int | None = None, seed: Any = 0,
                level: float = 0.95) -> tuple[float, float, float, int] | None:
    """a - b on the documents both were scored on (keyed by document identity, never position):
    (difference, ci_low, ci_high, n_common); None with fewer than 2 common documents."""
    r = paired_distribution(metric, items_a, items_b, clusters=clusters, n_boot=n_boot, seed=seed)
    if r is None:
        return None
    d, dist, n = r
    c = percentile_ci(dist, level)
    if c is None:
        return None
    return d, c[0], c[1], n


def holm(pvalues: Sequence[float], alpha: float = 0.05) -> list[bool]:
    """Holm's step-down procedure: which hypotheses are rejected at family-wise level ``alpha``."""
    return holm_array(pvalues, alpha).tolist()


def holm_array(pvalues: Sequence[float] | np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """:func:`holm` as a boolean array (for hundreds of thousands of pairs). Which hypotheses are
    rejected does not depend on the order of equal p-values."""
    p = np.asarray(pvalues, dtype=np.float64).reshape(-1)
    m = len(p)
    # only p <= alpha can be rejected (the last threshold is alpha), and the smallest of them are the
    # smallest of all: sort those values alone (no argsort of every pair)
    ps = np.sort(p[p <= alpha])
    ok = ps <= alpha / (m - np.arange(len(ps)))
    k = len(ps) if bool(ok.all()) else int(np.argmin(ok))  # step down: stop at the first acceptance
    if k == 0:
        return np.zeros(m, dtype=bool)
    # the k smallest; a p equal to the k-th passes the next (larger) threshold too, so ties are never
    # split at the stop and "p <= the k-th smallest" is exactly them
    return p <= ps[k - 1]
