"""Stage 4 — statistics: confidence intervals, overall score, rank intervals. Pure and seeded.

Every interval and test comes from :mod:`ecomsuite.bootstrap` (the one bootstrap):

- **Cells with per-sample items**: the shown and ranked value is the one *recomputed* from the
  samples (``ecomsuite.metrics.aggregate``); a results file whose value disagrees is flagged
  (``CellStats.mismatch``) and ranked by what its samples show. CI: percentile bootstrap, 2,000
  resamples of the documents (corpus metrics from per-document sufficient statistics), or of whole
  clusters when the task's metadata names a ``bootstrap_cluster`` doc field (ESCI: ``query_id``).
  NaN items are left out and counted.
- **Without samples**: value ± 1.96·stderr when lm-eval reported a stderr; otherwise none.

Documents are keyed by their own identity (``samples.doc_key``), never by position. A cell's
*data identity* is the task metadata's ``(data_fingerprint, locale)``: cells on different data
are never compared; each task ranks the systems on its reference data (the data identity most
systems were scored on) and lists the others apart.

Resamples for a task are seeded by ``(seed, task)`` and the document count, so two systems scored on
the same documents get the same resamples (paired). **Rank intervals**: every pair of ranked
systems is compared by a paired bootstrap test on their common documents (p-value from the
bootstrap standard error of the difference, normal approximation) (a z-test on the stderrs
when there are no samples; untested when neither), with Holm's correction over all pairs of the
ranking. A pair is *separable* when Holm rejects "no difference" and the difference's 95% CI lies
on the side the order claims. A system's rank interval is ``[1 + #systems separably better,
n - #systems separably worse]``.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ecomsuite import bootstrap as bs

Z95 = bs.Z95
ALPHA = 0.05
MISMATCH_RTOL, MISMATCH_ATOL = 1e-4, 1e-6


def get_aggregate() -> Callable:
    """``ecomsuite.metrics.aggregate(metric_name, items) -> float`` (per-document viewer scores)."""
    from ecomsuite.metrics import aggregate

    return aggregate


def percentile_ci(boot: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    c = bs.percentile_ci(boot, level)
    return (math.nan, math.nan) if c is None else c


def normal_ci(value: float, se: float) -> tuple[float, float]:
    return value - Z95 * se, value + Z95 * se


# ----------------------------------------------------------------------------------------------
# comparisons


@dataclass
class Separation:
    """The paired test of two systems (a listed above b)."""

    separable: bool | None  # None: could not be tested
    method: str  # "paired bootstrap" | "z-test on stderr" | "untested" | "different data"
    diff: float | None = None  # score(a) - score(b) on the common documents
    ci: tuple[float, float] | None = None
    n_common: int | None = None
    p: float | None = None  # two-sided p-value before Holm's correction


def separation_from_dist(d0: float, dist: np.ndarray, n_common: int | None) -> Separation:
    c = bs.percentile_ci(dist)
    if c is None:
        return Separation(None, "untested")
    return Separation(not (c[0] <= 0.0 <= c[1]), "paired bootstrap", float(d0), c, n_common, bs.pvalue_normal(d0, dist))


def separation_z(a: float, b: float, se_a: float | None, se_b: float | None) -> Separation:
    if se_a is None or se_b is None or not (math.isfinite(se_a) and math.isfinite(se_b)):
        return Separation(None, "untested", a - b)
    se = math.sqrt(se_a**2 + se_b**2)
    if se == 0:
        return Separation(a != b, "z-test on stderr", a - b, (a - b, a - b), p=0.0 if a != b else 1.0)
    p = math.erfc(abs(a - b) / se / math.sqrt(2.0))
    return Separation(abs(a - b) > Z95 * se, "z-test on stderr", a - b, normal_ci(a - b, se), p=p)


# ----------------------------------------------------------------------------------------------
# cells


@dataclass
class CellStats:
    system_id: str
    task: str
    metric: str
    value: float | None  # shown and ranked: recomputed from the samples when there are any
    ci: tuple[float, float] | None
    ci_method: str | None  # "bootstrap" | "cluster bootstrap" | "stderr" | None
    se: float | None
    boot: np.ndarray | None = field(default=None, repr=False)
    kind: str | None = None  # "sufficient" | "direct" (see ecomsuite.bootstrap.Prepared)
    doc_ids: np.ndarray | None = field(default=None, repr=False)  # document identity keys
    n_docs: int | None = None
    recomputed: float | None = None
    parse_fail: float | None = None
    claimed: float | None = None  # the value the results file reports
    mismatch: bool = False  # claimed and recomputed disagree
    data_id: tuple = (None, None)  # (data_fingerprint, locale) of the task metadata
    clusters: list | None = field(default=None, repr=False)
    cluster_field: str | None = None
    n_nan: int = 0
    prepared: Any = field(default=None, repr=False)
    seed: Any = None
    docs_fp: str | None = None  # digest of (doc_ids, clusters): equal digests, same documents and resamples
    cache_key: str | None = None  # the cache's key of its statistics (cache.stats_key), when cached
    boot_ci: tuple[float, float] | None = None  # percentile CI and se of ``boot`` (CellPrep.ci, .se)
    boot_se: float | None = None


def _docs_digest(doc_ids: Sequence, clusters: Sequence | None) -> str:
    import hashlib

    h = hashlib.blake2b(digest_size=16)
    h.update("\x1f".join(map(str, doc_ids)).encode("utf-8", "surrogatepass"))
    if clusters is not None:
        h.update(b"\x1e" + "\x1f".join(map(str, clusters)).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def paired_key(c: CellStats) -> tuple | None:
    """Cells with equal keys are scored on the same documents with the same resamples, so the
    difference of their bootstrap arrays is their paired bootstrap (see :func:`paired`)."""
    if c.prepared is None or c.boot is None or c.docs_fp is None:
        return None
    return (c.data_id, c.seed, c.docs_fp, len(c.boot))


def _same_docs(a: CellStats, b: CellStats) -> bool:
    return (a.doc_ids is not None and b.doc_ids is not None and len(a.doc_ids) == len(b.doc_ids)
            and a.clusters == b.clusters and bool(np.all(a.doc_ids == b.doc_ids)))


def paired(a: CellStats, b: CellStats, iters: int) -> tuple[float, np.ndarray, int] | None:
    """(a - b, its paired bootstrap distribution, n_common) on the documents both were scored on."""
    if a.prepared is None or b.prepared is None or a.boot is None or b.boot is None or a.data_id != b.data_id:
        return None
    if _same_docs(a, b) and a.seed == b.seed:  # same documents, same resamples
        return a.prepared.value - b.prepared.value, a.boot - b.boot, len(a.doc_ids)
    pos_b = {k: i for i, k in enumerate(b.doc_ids)}
    ia = [i for i, k in enumerate(a.doc_ids) if k in pos_b]
    if len(ia) < 2:
        return None
    ib = [pos_b[a.doc_ids[i]] for i in ia]
    cl = None
    if a.clusters is not None and b.clusters is not None:
        cl = [a.clusters[i] for i in ia]
    pa, pb = a.prepared.subset(ia), b.prepared.subset(ib)
    counts = bs.resample_counts(len(ia), iters, a.seed, cl)
    return pa.value - pb.value, pa.boot(counts) - pb.boot(counts), len(ia)


def compare(a: CellStats, b: CellStats, iters: int = bs.N_BOOT_CORPUS) -> Separation:
    if a.data_id != b.data_id:
        return Separation(None, "different data", None)
    pd = paired(a, b, iters)
    if pd is not None:
        return separation_from_dist(*pd)
    if a.value is None or b.value is None:
        return Separation(None, "untested")
    if a.prepared is not None or b.prepared is not None:  # per-sample values are not the file's: no z-test mix
        return Separation(None, "untested", a.value - b.value)
    return separation_z(a.value, b.value, a.se, b.se)


# ----------------------------------------------------------------------------------------------
# rank intervals


@dataclass
class RankEntry:
    system_id: str
    position: int  # 1-based place in the sorted order
    group: int  # 0-based index of its distinct rank interval (for shading)
    rank_label: str  # "3" or "2–4"
    sep_next: Separation | None = None  # versus the next system down
    rank_lo: int = 0
    rank_hi: int = 0
    better: int = 0  # systems separably better
    worse: int = 0  # systems separably worse


def _decide(n: int, i: np.ndarray, j: np.ndarray, p: np.ndarray, tested: np.ndarray, on_side: Callable[[np.ndarray], np.ndarray],
            alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(separable per pair, systems separably better, separably worse): Holm's correction over the
    tested pairs, then ``on_side(rejected pair indices)`` -- whether each rejected pair's CI lies
    on the side the order claims."""
    rejected = np.zeros(len(p), dtype=bool)
    if bool(tested.any()):
        rejected[tested] = bs.holm_array(p[tested], alpha)
    sep = np.zeros(len(p), dtype=bool)
    idx = np.flatnonzero(rejected)
    if len(idx):
        sep[idx] = on_side(idx)
    return sep, np.bincount(j[sep], minlength=n), np.bincount(i[sep], minlength=n)


def _entries(ids: Sequence[str], better: np.ndarray, worse: np.ndarray, nxt: list) -> list[RankEntry]:
    n = len(ids)
    out: list[RankEntry] = []
    group, prev = -1, None
    for k, sid in enumerate(ids):
        lo, hi = 1 + int(better[k]), n - int(worse[k])
        if (lo, hi) != prev:
            group += 1
            prev = (lo, hi)
        out.append(RankEntry(sid, k + 1, group, str(lo) if lo == hi else f"{lo}\u2013{hi}",
                             nxt[k] if k < len(nxt) else None, lo, hi, int(better[k]), int(worse[k])))
    return out


def _dict_pairs(seps: dict[tuple[int, int], Separation]) -> tuple[list, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    keys = list(seps)
    tested = np.asarray([seps[k].p is not None and seps[k].ci is not None for k in keys], dtype=bool)
    p = np.asarray([seps[k].p if t else np.nan for k, t in zip(keys, tested)], dtype=np.float64)
    i = np.asarray([k[0] for k in keys], dtype=np.int64)
    j = np.asarray([k[1] for k in keys], dtype=np.int64)
    return keys, i, j, p, tested


def _dict_side(seps: dict, keys: list, higher_is_better: bool) -> Callable[[np.ndarray], np.ndarray]:
    def on_side(idx: np.ndarray) -> np.ndarray:
        out = []
        for x in idx.tolist():
            lo, hi = seps[keys[x]].ci
            out.append(lo > 0 if higher_is_better else -hi > 0)
        return np.asarray(out, dtype=bool)
    return on_side


def rank_intervals(ids: Sequence[str], seps: dict[tuple[int, int], Separation], higher_is_better: bool = True,
                   alpha: float = ALPHA) -> list[RankEntry]:
    """``seps[(i, j)]`` (i < j) tests ids[i] (listed above) against ids[j]. Holm's correction over
    every tested pair; a pair is separable when rejected *and* its CI lies on the claimed side.
    Sets ``separable`` of each Separation to that decision."""
    n = len(ids)
    keys, i, j, p, tested = _dict_pairs(seps)
    sep, better, worse = _decide(n, i, j, p, tested, _dict_side(seps, keys, higher_is_better), alpha)
    for x, k in enumerate(keys):
        seps[k].separable = bool(sep[x]) if tested[x] else None
    return _entries(ids, better, worse, [seps.get((k, k + 1)) for k in range(n - 1)])


@dataclass
class PairTable:
    """Every pair of one ranking (``i < j`` index its order) and its decision."""

    i: np.ndarray
    j: np.ndarray
    p: np.ndarray  # two-sided p-value before Holm's correction; NaN: untested
    separable: np.ndarray


@dataclass
class Ranking:
    task: str | None  # None: the overall score
    higher_is_better: bool
    entries: list[RankEntry]
    unranked: list[str]  # system ids with a value but left out (e.g. --limit runs, other data)
    reasons: dict[str, str] = field(default_factory=dict)  # system id -> why it is not ranked
    data_id: tuple | None = None
    pairs: PairTable | None = field(default=None, repr=False)


# system id -> (paired key, full-set value, bootstrap array, n_common or None[, cache key or None]):
# systems whose entries share a paired key were scored on the same documents with the same resamples
Block = dict


class PairStore:
    """Where the pair tests of a ranking's systems are kept between builds (see cache.PairCache):
    ``get(name)`` -> (member keys, p, n_finite, side, near) or None; ``put(name, keys, p, n_finite,
    side, near)`` replaces it; ``keep(name)``: what ``get`` gave is still right (not pruned). ``near``
    (3, members - 1): ``bootstrap.pairwise_pairs``' (lo, hi, p) of each pair of neighbours (x, x + 1)
    in the members' order (the shown next-row comparison); p NaN: not computed."""

    def get(self, name: str) -> tuple | None:  # pragma: no cover - interface
        return None

    def put(self, name: str, keys: list[str], p: np.ndarray, nfin: np.ndarray, side: np.ndarray,  # pragma: no cover
            near: np.ndarray) -> None:
        return None

    def keep(self, name: str) -> None:  # pragma: no cover
        return None


def group_tests(values: Sequence[float], boots: np.ndarray, keys: Sequence[str | None], store: PairStore | None = None,
                name: str = "", neighbours: np.ndarray | None = None, n_jobs: int = 1
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``bootstrap.pair_tests`` of every pair of one paired group (``triu_indices`` order): (p,
    n_finite, side). With ``store``, the pairs of two members both in the previous build's group
    (same member keys, same order) are taken from it -- a pair's numbers depend on its two members
    only, bit for bit (``bootstrap.pairwise_pairs``) -- and only the pairs of new members computed.
    Also ``near`` (see :class:`PairStore`): the CI and p of the pairs (x, x + 1) for x in ``neighbours``,
    taken from the store where the two were neighbours there too. When every pair is computed (no
    store, or nothing of the group in it): ``bootstrap.pair_tests_all`` (in tiles, ``n_jobs`` processes)."""
    size = len(values)
    iu, ju = np.triu_indices(size, 1)
    p = np.ones(len(iu))
    nfin = np.zeros(len(iu), dtype=np.int64)
    side = np.zeros(len(iu), dtype=np.int8)
    known = np.zeros(len(iu), dtype=bool)
    near = np.full((3, max(size - 1, 0)), np.nan)
    usable = store is not None and all(isinstance(k, str) for k in keys) and len(set(keys)) == size
    old = store.get(name) if usable else None  # type: ignore[union-attr]
    same = False
    if old is not None:
        okeys, op, onf, oside, onear = old
        pos = {k: x for x, k in enumerate(okeys)}
        oi = np.asarray([pos.get(k, -1) for k in keys], dtype=np.int64)
        if size > 1:
            adj = (oi[:-1] >= 0) & (oi[1:] == oi[:-1] + 1)  # neighbours there too
            near[:, adj] = onear[:, oi[:-1][adj]]
        kept = oi[oi >= 0]
        if len(kept) == len(okeys) and bool(np.all(kept[1:] > kept[:-1])):
            # every old member, in the old order (members added only): the known pairs, in triu
            # order, are the old pairs in the old triu order
            isnew = oi < 0
            known = ~(isnew[iu] | isnew[ju])
            p[known], nfin[known], side[known] = op, onf, oside
        else:
            a, b = oi[iu], oi[ju]
            known = (a >= 0) & (b >= 0) & (a < b)  # a pair whose order flipped is computed again
            a, b = a[known], b[known]
            lin = a * len(okeys) - a * (a + 1) // 2 + (b - a - 1)
            p[known], nfin[known], side[known] = op[lin], onf[lin], oside[lin]
        same = list(okeys) == list(keys)
    todo = ~known
    u = np.asarray([] if neighbours is None else neighbours, dtype=np.int64)
    if bool(todo.all()):
        res = bs.pair_tests_all(values, boots, n_jobs, near=bool(len(u)))
        _, p, nfin, side = res[:4]
        if len(u):
            near[:, u] = res[4][:, u]  # the bits of bs.pairwise_pairs on (u, u + 1)
    elif bool(todo.any()):
        _, p[todo], nfin[todo], side[todo] = bs.pair_tests(values, boots, iu[todo], ju[todo])
    u = u[np.isnan(near[2, u])]
    if len(u):
        _, near[0, u], near[1, u], near[2, u] = bs.pairwise_pairs(values, boots, u, u + 1)
    if usable and same and not len(u):
        store.keep(name)  # type: ignore[union-attr]
    elif usable:
        store.put(name, list(keys), p, nfin, side, near)  # type: ignore[union-attr]
    return p, nfin, side, near


def rank(task: str | None, values: dict[str, float], names: dict[str, str], higher_is_better: bool,
         separate: Callable[[str, str], Separation], unranked: list[str],
         reasons: dict[str, str] | None = None, data_id: tuple | None = None, block: Block | None = None,
         store: PairStore | None = None, n_jobs: int = 1) -> Ranking:
    """Rank intervals over ``values``; pairs of systems in ``block`` with the same paired key are
    tested together (vectorised, ``group_tests``; a CI is computed only where a decision or the
    shown next-row comparison needs it), the others one by one with ``separate``. ``n_jobs``: processes
    for a group's pair tests (see ``bootstrap.pair_tests_all``)."""
    ids = sorted(values, key=lambda s: (-values[s] if higher_is_better else values[s], names.get(s, s).lower(), s))
    n = len(ids)
    groups: dict[Any, list[int]] = {}
    for k, sid in enumerate(ids):
        e = (block or {}).get(sid)
        if e is not None and e[0] is not None:
            groups.setdefault(e[0], []).append(k)
    gid = np.full(n, -1, dtype=np.int64)
    parts = []  # per group: (members, values, boots, n_common, global i, global j, p, tested, side, next rows, near)
    for g, (gkey, ks) in enumerate(groups.items()):
        if len(ks) < 2:
            continue
        gid[ks] = g
        ents = [block[ids[k]] for k in ks]  # type: ignore[index]
        vals = [e[1] for e in ents]
        boots = np.stack([e[2] for e in ents])
        keys = [e[4] if len(e) > 4 else None for e in ents]
        name = f"{'task' if task is not None else 'overall'}\0{task}\0{gkey!r}"
        u = np.asarray([x for x in range(len(ks) - 1) if ks[x + 1] == ks[x] + 1], dtype=np.int64)  # next rows
        p, nfin, side, near = group_tests(vals, boots, keys, store, name, u, n_jobs)
        iu, ju = np.triu_indices(len(ks), 1)
        ka = np.asarray(ks, dtype=np.int64)
        parts.append((ks, vals, boots, ents[0][3], ka[iu], ka[ju], p, nfin > 0, side, u, near))
    seps: dict[tuple[int, int], Separation] = {}
    one_group = n > 0 and gid[0] >= 0 and bool((gid == gid[0]).all())  # every pair in group_tests
    for i in range(0 if one_group else n):
        rest = np.arange(i + 1, n)
        js = rest if gid[i] < 0 else rest[gid[i + 1:] != gid[i]]
        for j in js.tolist():
            seps[(i, j)] = separate(ids[i], ids[j])
    keys_d, i_d, j_d, p_d, t_d = _dict_pairs(seps)
    offs = np.cumsum([0, len(keys_d)] + [len(x[6]) for x in parts])
    all_i = np.concatenate([i_d] + [x[4] for x in parts]) if parts else i_d
    all_j = np.concatenate([j_d] + [x[5] for x in parts]) if parts else j_d
    all_p = np.concatenate([p_d] + [np.where(x[7], x[6], np.nan) for x in parts]) if parts else p_d
    tested = np.concatenate([t_d] + [x[7] for x in parts]) if parts else t_d
    dict_side = _dict_side(seps, keys_d, higher_is_better)
    claimed = 1 if higher_is_better else -1

    def on_side(idx: np.ndarray) -> np.ndarray:
        out = np.zeros(len(idx), dtype=bool)
        in_dict = idx < offs[1]
        if bool(in_dict.any()):
            out[in_dict] = dict_side(idx[in_dict])
        for g, (ks, vals, boots, _, _, _, _, _, side, _, _) in enumerate(parts):
            sel = (idx >= offs[g + 1]) & (idx < offs[g + 2])
            if not bool(sel.any()):
                continue
            loc = idx[sel] - offs[g + 1]
            res = side[loc] == claimed  # every difference on the claimed side: so is the CI
            other = np.flatnonzero(side[loc] == 0)  # else the CI decides (computed here, for these only)
            if len(other):  # lo > 0 (hi < 0) of bootstrap.pairwise_pairs' CI, decided mostly by counting
                iu, ju = np.triu_indices(len(ks), 1)
                res[other] = bs.pairs_ci_beyond_zero(vals, boots, iu[loc[other]], ju[loc[other]],
                                                     upper=not higher_is_better)
            out[sel] = res
        return out

    sep, better, worse = _decide(n, all_i, all_j, all_p, tested, on_side, ALPHA)
    for x, k in enumerate(keys_d):
        seps[k].separable = bool(sep[x]) if t_d[x] else None
    nxt: list[Separation | None] = [seps.get((k, k + 1)) for k in range(n - 1)]
    for g, (ks, vals, boots, n_common, _, _, _, _, _, u, near) in enumerate(parts):
        size = len(ks)
        if not len(u):
            continue
        v = np.asarray(vals, dtype=np.float64)
        d0, lo, hi, pv = v[u] - v[u + 1], near[0, u], near[1, u], near[2, u]  # as bs.pairwise_pairs gives them
        lin = u * size - u * (u + 1) // 2  # (u, u + 1) in triu order
        for x, uu in enumerate(u.tolist()):
            if math.isnan(lo[x]):
                nxt[ks[uu]] = Separation(None, "untested")
                continue
            nxt[ks[uu]] = Separation(bool(sep[offs[g + 1] + lin[x]]), "paired bootstrap", float(d0[x]),
                                     (float(lo[x]), float(hi[x])), n_common, float(pv[x]))
    table = PairTable(all_i.astype(np.int32), all_j.astype(np.int32), np.where(tested, all_p, np.nan), sep)
    return Ranking(task, higher_is_better, _entries(ids, better, worse, nxt), unranked, reasons or {}, data_id, table)


# ----------------------------------------------------------------------------------------------
# overall


@dataclass
class OverallStats:
    value: float | None
    ci: tuple[float, float] | None
    ci_method: str | None
    se: float | None
    boot: np.ndarray | None = field(default=None, repr=False)
    tasks: tuple[str, ...] = ()


def overall_from_cells(cells: list[CellStats]) -> OverallStats:
    """Unweighted mean of the headline values; CI from the mean of the per-task bootstraps when
    every task has one, else from the per-task standard errors."""
    vals = [c.value for c in cells]
    if not cells or any(v is None for v in vals):
        return OverallStats(None, None, None, None)
    value = float(np.mean(vals))
    tasks = tuple(c.task for c in cells)
    if all(c.boot is not None for c in cells):
        m = min(len(c.boot) for c in cells)  # type: ignore[arg-type]
        boot = np.mean([c.boot[:m] for c in cells], axis=0)  # type: ignore[index]
        lo, hi = percentile_ci(boot)
        return OverallStats(value, (lo, hi), "bootstrap", float(np.std(boot, ddof=1)) if m > 1 else None, boot, tasks)
    ses = [c.se for c in cells]
    if all(s is not None for s in ses):
        se = math.sqrt(sum(s * s for s in ses)) / len(ses)  # type: ignore[operator]
        return OverallStats(value, normal_ci(value, se), "stderr", se, None, tasks)
    return OverallStats(value, None, None, None, None, tasks)


def overall_many(cell_lists: list[list[CellStats]]) -> list[OverallStats]:
    """:func:`overall_from_cells` of each list, bit for bit, with the bootstrap ones of equal shape
    (same tasks, same resample count) computed together: a mean over stacked (tasks, systems,
    resamples) arrays (each element summed in the task order, as for one system; ~1 MB chunks of
    systems), one quantile and one standard deviation along the resamples of all rows that are finite."""
    out: list[OverallStats | None] = [None] * len(cell_lists)
    batches: dict[tuple, list[int]] = {}
    for x, cells in enumerate(cell_lists):
        if cells and all(c.value is not None and c.boot is not None and c.boot.dtype == np.float64 for c in cells):
            m = min(len(c.boot) for c in cells)  # type: ignore[arg-type]
            batches.setdefault((tuple(c.task for c in cells), m), []).append(x)
        else:
            out[x] = overall_from_cells(cells)
    for (tasks, m), xs in batches.items():
        boots = np.empty((len(xs), m))
        rows = max(1, (1 << 17) // max(1, m * len(tasks)))  # systems per chunk: ~1 MB stacked, in cache
        for c in range(0, len(xs), rows):
            part = xs[c:c + rows]
            stack = np.empty((len(tasks), len(part), m))  # the mean of each element alone: chunks change no bit
            for t in range(len(tasks)):
                np.stack([cell_lists[x][t].boot[:m] for x in part], out=stack[t])  # type: ignore[index]
            np.mean(stack, axis=0, out=boots[c:c + len(part)])
        finite = np.isfinite(boots).all(axis=1)
        q = np.full((2, len(xs)), np.nan)
        sd = np.full(len(xs), np.nan)
        if m and bool(finite.any()):
            rows = boots[finite]
            a = (1.0 - 0.95) / 2.0
            q[:, finite] = np.quantile(rows, [a, 1.0 - a], axis=1)
            if m > 1:
                sd[finite] = np.std(rows, axis=1, ddof=1)
        for s, x in enumerate(xs):
            cells = cell_lists[x]
            value = float(np.mean([c.value for c in cells]))
            b = boots[s]
            if finite[s] and m:
                ci = (float(q[0, s]), float(q[1, s]))
                se = float(sd[s]) if m > 1 else None
            else:
                ci = percentile_ci(b)
                se = float(np.std(b, ddof=1)) if m > 1 else None
            out[x] = OverallStats(value, ci, "bootstrap", se, b, tasks)
    return out  # type: ignore[return-value]


# ----------------------------------------------------------------------------------------------
# orchestration over an Assembly


@dataclass
class Statistics:
    cells: dict[tuple[str, str], CellStats]
    overall: dict[str, OverallStats]
    overall_tasks: list[str]
    excluded_from_overall: list[str]  # suite tasks whose headline is lower-is-better
    parse_fail_rate: dict[str, float | None]
    task_rankings: dict[str, Ranking]
    overall_ranking: Ranking
    problems: list  # collect.Problem
    iters: int
    corpus_iters: int
    seed: int


def _meta_str(meta: dict, key: str) -> str | None:
    v = meta.get(key)
    return None if v is None or isinstance(v, (dict, list)) else str(v)


def data_identity(metadata: dict) -> tuple:
    """(data_fingerprint, locale) of a task result: part of a cell's identity."""
    return (_meta_str(metadata, "data_fingerprint"), _meta_str(metadata, "locale"))


def cluster_field(metadata: dict) -> str | None:
    """The doc field a task names for a cluster bootstrap (``metadata.bootstrap_cluster``)."""
    v = metadata.get("bootstrap_cluster")
    return v.strip() if isinstance(v, str) and v.strip() else None


def _fmt_data(d: tuple) -> str:
    fp, loc = d
    return f"data {fp or 'unrecorded'}" + (f", locale {loc}" if loc else "")


# metrics whose values are proportions in [0, 1] (lm-eval and ecomsuite names)
_PROPORTION = re.compile(r"(^|_)(acc|acc_norm|exact_match|f1|precision|recall|parse_fail|accuracy)(_|$)")
ABSURD = 1e12  # no metric of any task reaches this


def implausible(metric: str, value: float | None, stderr: float | None) -> str | None:
    """Why a value cannot be a real measurement (flagged and shown, never ranked), or None."""
    if value is not None and (not math.isfinite(value) or abs(value) > ABSURD):
        return f"implausible value {value:.6g} for {metric}"
    if value is not None and _PROPORTION.search(metric) and not -1e-9 <= value <= 1 + 1e-9:
        return f"implausible value {value:.6g}: {metric} is a proportion in [0, 1]"
    if stderr is not None and (not math.isfinite(stderr) or stderr < 0 or stderr > ABSURD):
        return f"implausible standard error {stderr:.6g} for {metric}"
    return None


@dataclass
class CellPrep:
    """What one cell's statistics are, from its samples file alone (the metric, the bootstrap settings
    and the code): deterministic, so it is computed where the file is read (in the samples workers)
    and cached with it (see cache.py). ``problems`` are (level, message) about the samples file."""

    iters: int
    seed: Any
    prepared: Any = field(default=None, repr=False)  # ecomsuite.bootstrap.Prepared, or None (CI from stderr)
    boot: np.ndarray | None = field(default=None, repr=False)
    docs_fp: str | None = None
    problems: list = field(default_factory=list)
    key: str | None = None  # cache.stats_key of these statistics (set by the samples stage when it caches)
    ci: tuple[float, float] | None = None  # percentile CI of ``boot`` (None: no finite resample)
    se: float | None = None  # standard deviation of the finite resamples (None: fewer than 2)


def prepare_cell(metric: str, items: Any, doc_ids: Sequence, clusters: list | None, iters: int, seed: Any) -> CellPrep:
    """The prepared metric (``bootstrap.prepare``) and bootstrap array of one cell's per-sample items."""
    out = CellPrep(int(iters), seed)
    try:
        # the library check of span F1 (seqeval) once per metric and process: its statistics are exact
        prep = bs.prepare(metric, items, verify="once")
    except KeyError as e:
        from ecomsuite.metrics import AGGREGATIONS

        if metric in AGGREGATIONS:  # a known metric's library refused the items (seqeval: a tag 'b-x')
            out.problems.append(("warning", f"aggregate({metric!r}) failed on the samples: KeyError {e}"))
        else:
            out.problems.append(("warning", f"{metric!r} items are not numbers and ecomsuite.metrics "
                                 "does not know the metric; CI from stderr"))
        return out
    except Exception as e:  # noqa: BLE001 - items the metric cannot take: reported, CI from stderr
        out.problems.append(("warning", f"aggregate({metric!r}) failed on the samples: {e}"))
        return out
    if prep.note:
        out.problems.append(("info" if prep.kind == "sufficient" else "warning", f"{metric}: {prep.note}"))
    out.prepared = prep
    out.docs_fp = _docs_digest(doc_ids, clusters)
    try:
        out.boot = prep.boot(bs.resample_counts(prep.n, out.iters, seed, clusters))
    except Exception as e:  # noqa: BLE001
        out.problems.append(("warning", f"bootstrap of {metric} failed: {type(e).__name__}: {e}"))
    if out.boot is not None and len(out.boot) > 1:
        out.ci = bs.percentile_ci(out.boot)
        if out.ci is not None:
            fin = out.boot[np.isfinite(out.boot)]
            out.se = float(np.std(fin, ddof=1)) if len(fin) > 1 else None
    return out


def cell_seed(seed: int, task: str) -> tuple:
    """A cell's resamples are seeded by (build seed, task): systems on the same documents are paired."""
    return (seed, task)


def _cell_stats(sysm: Any, task: str, cell: Any, sd: Any, iters: int, seed: int, problems: list) -> CellStats:
    from .collect import Problem

    cs = CellStats(sysm.id, task, cell.metric, cell.value, None, None, cell.stderr)
    cs.claimed = cell.value
    cs.n_docs = cell.result.n_effective
    cs.parse_fail = cell.parse_fail
    cs.data_id = data_identity(cell.result.metadata)
    cs.cluster_field = cluster_field(cell.result.metadata)
    cs.seed = cell_seed(seed, task)
    if sd is None or sd.error is not None or len(sd.doc_ids) == 0:
        return cs
    cs.n_nan = sd.n_nan
    cs.n_docs = len(sd.doc_ids)
    if cs.parse_fail is None and sd.parse_fail is not None:
        cs.parse_fail = float(np.nanmean(sd.parse_fail))
    clusters = sd.clusters if cs.cluster_field else None
    cp = getattr(sd, "cell", None)  # computed (or cached) by the samples stage for these settings
    if cp is None or cp.iters != iters or cp.seed != cs.seed or (clusters is None) != (sd.clusters is None):
        cp = prepare_cell(cell.metric, sd.items, sd.doc_ids, clusters, iters, cs.seed)
    cs.cache_key = cp.key
    for level, msg in cp.problems:
        problems.append(Problem(sd.path, level, msg))
    if cp.prepared is None:
        return cs
    prep = cp.prepared
    cs.prepared, cs.kind, cs.doc_ids = prep, prep.kind, sd.doc_ids  # not the items: decoded from a cache entry only if read
    cs.recomputed = prep.value
    cs.clusters = clusters
    cs.docs_fp = cp.docs_fp
    cs.boot = cp.boot
    cs.boot_ci, cs.boot_se = cp.ci, cp.se
    if cs.claimed is not None and math.isfinite(cs.recomputed) and not math.isclose(
            cs.recomputed, cs.claimed, rel_tol=MISMATCH_RTOL, abs_tol=MISMATCH_ATOL):
        cs.mismatch = True
        problems.append(Problem(sd.path, "warning", f"per-sample {cell.metric} gives {cs.recomputed:.6g} but the "
                                f"results file reports {cs.claimed:.6g}: shown and ranked by the per-sample value"))
    cs.value = cs.recomputed if math.isfinite(cs.recomputed) else cs.value
    return cs


def _reference_data(cells: list[CellStats]) -> tuple:
    """The data identity most cells share (ties: more documents, then the name)."""
    groups: dict[tuple, list[CellStats]] = {}
    for c in cells:
        groups.setdefault(c.data_id, []).append(c)
    return max(groups, key=lambda d: (len(groups[d]), max(c.n_docs or 0 for c in groups[d]), str(d)))


def compute(
    assembly: Any,
    sample_data: dict[tuple[str, str], Any],
    iters: int = bs.N_BOOT_CORPUS,
    seed: int = 1234,
    include_limited: bool = False,
    n_jobs: int = 1,
    progress: bool = False,
    pair_store: PairStore | None = None,
) -> Statistics:
    """Statistics for every system x task of an :class:`~.systems.Assembly`. With ``pair_store``, the
    pair tests of systems already ranked together by a previous build are reused (``group_tests``)."""
    iters = int(iters)
    if iters < 1:
        raise ValueError("bootstrap iterations must be >= 1")
    problems: list = []
    cells: dict[tuple[str, str], CellStats] = {}
    implausible_why: dict[tuple[str, str], str] = {}
    for sysm in assembly.systems:
        for task, cell in sysm.cells.items():
            cs = cells[(sysm.id, task)] = _cell_stats(sysm, task, cell, sample_data.get((sysm.id, task)), iters, seed,
                                                      problems)
            why = implausible(cs.metric, cs.value, cell.stderr)
            if why:
                implausible_why[(sysm.id, task)] = why
                from .collect import Problem

                problems.append(Problem(cell.result.run_path, "warning", f"task {task!r}: {why}; shown, not ranked"))

    for cs in cells.values():
        if cs.boot_ci is not None:  # computed with the bootstrap array (prepare_cell), cached with it
            cs.ci = cs.boot_ci
            cs.ci_method = "cluster bootstrap" if cs.clusters is not None else "bootstrap"
            cs.se = cs.boot_se
        elif cs.se is not None and cs.value is not None:
            cs.ci = normal_ci(cs.value, cs.se)
            cs.ci_method = "stderr"

    names = {s.id: s.display_name for s in assembly.systems}
    eligible = {s.id for s in assembly.systems if include_limited or not s.limited}
    all_tasks = list(assembly.suite) + list(assembly.other_tasks)

    task_rankings: dict[str, Ranking] = {}
    reference: dict[str, tuple] = {}
    for task in all_tasks:
        h = assembly.headlines[task]
        present = [cells[(s.id, task)] for s in assembly.systems if (s.id, task) in cells and cells[(s.id, task)].value is not None]
        reasons: dict[str, str] = {}
        unr = [c.system_id for c in present if c.system_id not in eligible]
        for sid in unr:
            reasons[sid] = "run with --limit"
        for c in present:
            if (c.system_id, task) in implausible_why and c.system_id in eligible:
                unr.append(c.system_id)
                reasons[c.system_id] = implausible_why[(c.system_id, task)]
        pool = [c for c in present if c.system_id in eligible and (c.system_id, task) not in implausible_why]
        ref = _reference_data(pool) if pool else (None, None)
        reference[task] = ref
        for c in pool:
            if c.data_id != ref:
                unr.append(c.system_id)
                reasons[c.system_id] = f"scored on other data ({_fmt_data(c.data_id)}; ranked: {_fmt_data(ref)})"
        vals = {c.system_id: c.value for c in pool if c.data_id == ref}

        def sep(a: str, b: str, task: str = task) -> Separation:
            return compare(cells[(a, task)], cells[(b, task)], iters)

        block = {c.system_id: (paired_key(c), c.prepared.value, c.boot, len(c.doc_ids), c.cache_key)
                 for c in pool if c.system_id in vals and paired_key(c) is not None}
        task_rankings[task] = rank(task, vals, names, h.higher_is_better, sep, unr, reasons, ref, block,  # type: ignore[arg-type]
                                   pair_store, n_jobs)

    ranked_suite = [t for t in assembly.suite if t in set(getattr(assembly, "ranked_suite", assembly.suite))]
    overall_tasks = [t for t in ranked_suite if assembly.headlines[t].higher_is_better]
    excluded = [t for t in ranked_suite if not assembly.headlines[t].higher_is_better]
    overall: dict[str, OverallStats] = {}
    with_cells: dict[str, list[CellStats]] = {}
    for s in assembly.systems:
        cl = [cells.get((s.id, t)) for t in overall_tasks]
        if cl and all(c is not None for c in cl):
            with_cells[s.id] = cl  # type: ignore[assignment]
        overall[s.id] = OverallStats(None, None, None, None)
    overall.update(zip(with_cells, overall_many(list(with_cells.values()))))

    def sep_overall(a: str, b: str) -> Separation:
        dists, d0 = [], 0.0
        for t in overall_tasks:
            pd = paired(cells[(a, t)], cells[(b, t)], iters)
            if pd is None:
                break
            d0 += pd[0]
            dists.append(pd[1])
        else:
            if dists:
                m = min(len(d) for d in dists)
                return separation_from_dist(d0 / len(dists), np.mean([d[:m] for d in dists], axis=0), None)
        if any(cells[(x, t)].prepared is not None for t in overall_tasks for x in (a, b)):
            return Separation(None, "untested", (overall[a].value or 0.0) - (overall[b].value or 0.0))
        oa, ob = overall[a], overall[b]
        return separation_z(oa.value, ob.value, oa.se, ob.se)  # type: ignore[arg-type]

    ovals: dict[str, float] = {}
    ounr: list[str] = []
    oreasons: dict[str, str] = {}
    for sid, o in overall.items():
        if o.value is None:
            continue
        if sid not in eligible:
            ounr.append(sid)
            oreasons[sid] = "run with --limit"
            continue
        odd = [t for t in overall_tasks if (sid, t) in implausible_why]
        if odd:
            ounr.append(sid)
            oreasons[sid] = "implausible value for " + ", ".join(odd)
            continue
        off = [t for t in overall_tasks if cells[(sid, t)].data_id != reference.get(t)]
        if off:
            ounr.append(sid)
            oreasons[sid] = "scored on other data for " + ", ".join(off)
            continue
        ovals[sid] = o.value
    oblock: Block = {}
    for sid in ovals:
        cl = [cells[(sid, t)] for t in overall_tasks]
        keys = [paired_key(c) for c in cl]
        if overall_tasks and all(k is not None for k in keys) and overall[sid].boot is not None:
            ckeys = [c.cache_key for c in cl]
            okey = None
            if all(isinstance(k, str) for k in ckeys):
                okey = hashlib.sha256("\0".join(list(overall_tasks) + ckeys).encode()).hexdigest()  # type: ignore[arg-type]
            oblock[sid] = (tuple(keys), float(np.mean([c.prepared.value for c in cl])), overall[sid].boot, None, okey)
    overall_ranking = rank(None, ovals, names, True, sep_overall, ounr, oreasons, None, oblock, pair_store, n_jobs)

    pfr: dict[str, float | None] = {}
    for s in assembly.systems:
        num = den = 0.0
        for t in assembly.suite:
            c = cells.get((s.id, t))
            if c is None or c.parse_fail is None:
                continue
            w = float(c.n_docs) if c.n_docs else 1.0
            num += c.parse_fail * w
            den += w
        pfr[s.id] = num / den if den else None

    return Statistics(cells, overall, overall_tasks, excluded, pfr, task_rankings, overall_ranking, problems,
                      iters, iters, seed)


def digest(st: Statistics) -> str:
    """A sha256 over every number of the statistics stage, bit for bit: each cell (value, CI, se,
    bootstrap array, prepared value), each ranking (order, rank intervals, every tested pair), the
    overall scores. Equal digests: the same statistics (a cached build against ``--no-cache``)."""
    import hashlib

    h = hashlib.sha256()

    def put(*xs: Any) -> None:
        for x in xs:
            if isinstance(x, np.ndarray):
                h.update(f"a{x.dtype.str}{x.shape}".encode())
                h.update(np.ascontiguousarray(x).tobytes())
            elif isinstance(x, float):
                h.update(b"f" + np.float64(x).tobytes())
            else:
                h.update(("r" + repr(x)).encode("utf-8", "surrogatepass"))
            h.update(b"\0")

    for key in sorted(st.cells):
        c = st.cells[key]
        put(key, c.value, c.ci, c.ci_method, c.se, c.boot, c.kind, c.recomputed, c.mismatch, c.docs_fp,
            None if c.prepared is None else c.prepared.value)
    for sid in sorted(st.overall):
        o = st.overall[sid]
        put(sid, o.value, o.ci, o.se, o.boot)
    for r in [st.task_rankings[t] for t in sorted(st.task_rankings)] + [st.overall_ranking]:
        put(r.task, r.unranked, sorted(r.reasons.items()))
        if r.pairs is not None:
            put(r.pairs.i, r.pairs.j, r.pairs.p, r.pairs.separable)
        for e in r.entries:
            s = e.sep_next
            put(e.system_id, e.rank_lo, e.rank_hi, None if s is None else
                (s.separable, s.method, s.diff, s.ci, s.n_common, s.p))
    put(sorted(st.parse_fail_rate.items()))
    return h.hexdigest()
