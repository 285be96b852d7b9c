"""Stage 4 — statistics: confidence intervals, overall score, rank groups. Pure and seeded.

Confidence intervals (95%):
- With per-sample items: percentile bootstrap over documents. Resample b draws n document
  positions with replacement; the metric is recomputed on the resample — the mean for mean-style
  items (acc, parse_fail, rouge per document), ``ecomsuite.metrics.aggregate(metric, items)`` for
  corpus metrics (macro_f1, span_f1, bleu ...). CI = [2.5%, 97.5%] quantiles (numpy "linear").
- Without samples: value ± 1.96·stderr when lm-eval reported a stderr; otherwise none.

Determinism: the resample matrix for a task and document count n comes from
``numpy.random.default_rng([seed, crc32(task), n])``, so a build is reproducible, and two systems
scored on the same documents get the *same* resamples. Their bootstrap distributions are then
paired, and the difference of the two arrays is the paired bootstrap of the difference.

Rank groups: systems are sorted by their score; each neighbour pair is compared with a paired
bootstrap on their common doc_ids (two-sided 95%: separable when the interval of the difference
excludes 0). Without samples for a pair, a z-test on the stderrs is used; with neither, the pair
counts as untested (never as a tie). A system joins the rank group above it when it can be
separated neither from its neighbour above nor from the group's first (best) member; otherwise it
starts a new group. So every member of a group is statistically tied with the group's best.
"""

from __future__ import annotations

import math
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

Z95 = 1.959963984540054
_UNSET = object()
_override: Any = _UNSET
_imported: Any = _UNSET


# ----------------------------------------------------------------------------------------------
# the corpus-metric function (ecomsuite.metrics.aggregate), looked up by name


def set_aggregate(fn: Callable | None | object = _UNSET) -> None:
    """Use ``fn`` as the aggregate function (None: none available); no argument: auto again."""
    global _override
    _override = fn


def get_aggregate() -> Callable | None:
    """``ecomsuite.metrics.aggregate(metric_name, items) -> float`` when importable, else None."""
    global _imported
    if _override is not _UNSET:
        return _override  # type: ignore[return-value]
    if _imported is _UNSET:
        try:
            from ecomsuite.metrics import aggregate  # type: ignore[import-not-found]

            _imported = aggregate if callable(aggregate) else None
        except Exception:  # noqa: BLE001 - absent or broken: fall back to means, stderr CIs
            _imported = None
    return _imported  # type: ignore[return-value]


def classify(metric: str, items: Any, numeric: bool, aggregate: Callable | None) -> str | None:
    """'mean' (vectorisable), 'corpus' (needs aggregate per resample) or None (can't bootstrap).

    Numeric items count as mean-style when ``aggregate`` doesn't know the metric (KeyError) or
    agrees with the mean on the full set and on two fixed resamples.
    """
    if numeric:
        if aggregate is None:
            return "mean"
        arr = np.asarray(items, dtype=np.float64)
        try:
            checks = [arr]
            if len(arr) > 2:
                rng = np.random.default_rng(12345)
                checks += [arr[rng.integers(0, len(arr), len(arr))] for _ in range(2)]
            for c in checks:
                v = float(aggregate(metric, c.tolist()))
                m = float(np.mean(c))
                if not (math.isclose(v, m, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(v) and math.isnan(m))):
                    return "corpus"
            return "mean"
        except KeyError:
            return "mean"
        except Exception:  # noqa: BLE001
            return "mean"
    if aggregate is None:
        return None
    try:
        aggregate(metric, list(items[: min(len(items), 3)]))
    except KeyError:
        return None
    except Exception:  # noqa: BLE001 - items in a shape the metric doesn't take
        return None
    return "corpus"


def point_value(metric: str, items: Any, kind: str, aggregate: Callable | None) -> float:
    if kind == "mean":
        return float(np.mean(np.asarray(items, dtype=np.float64)))
    assert aggregate is not None
    return float(aggregate(metric, list(items)))


# ----------------------------------------------------------------------------------------------
# resampling


class Resampler:
    """Seeded bootstrap resamples, one fixed matrix per (task, n)."""

    def __init__(self, iters: int = 1000, seed: int = 1234, cache_size: int = 24):
        if iters < 1:
            raise ValueError("bootstrap iterations must be >= 1")
        self.iters = int(iters)
        self.seed = int(seed)
        self._cache: OrderedDict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._cache_size = cache_size

    def _get(self, task: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        key = (task, n)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        rng = np.random.default_rng([self.seed, zlib.crc32(task.encode("utf-8", "replace")), n])
        idx = rng.integers(0, n, size=(self.iters, n), dtype=np.int64)
        counts = np.bincount(
            (idx + (np.arange(self.iters, dtype=np.int64) * n)[:, None]).ravel(), minlength=self.iters * n
        ).reshape(self.iters, n)
        weights = counts.astype(np.float64) / n
        self._cache[key] = (idx, weights)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return idx, weights

    def indices(self, task: str, n: int) -> np.ndarray:
        return self._get(task, n)[0]

    def weights(self, task: str, n: int) -> np.ndarray:
        """weights @ x == the mean of x over each resample."""
        return self._get(task, n)[1]


def bootstrap(
    metric: str,
    items: Any,
    kind: str,
    aggregate: Callable | None,
    idx: np.ndarray,
    weights: np.ndarray | None = None,
    iters: int | None = None,
) -> np.ndarray:
    """The metric over each resample (rows of ``idx``; the first ``iters`` rows if given)."""
    rows = idx if iters is None else idx[:iters]
    if kind == "mean":
        x = np.asarray(items, dtype=np.float64)
        if weights is not None:
            w = weights if iters is None else weights[:iters]
            # einsum, not BLAS: a matrix-vector product this size is faster single-threaded, and
            # BLAS threads spin badly when the machine is busy
            return np.einsum("ij,j->i", w, x)
        return x[rows].mean(axis=1)
    assert aggregate is not None
    return np.fromiter(
        (float(aggregate(metric, [items[i] for i in row])) for row in rows), dtype=np.float64, count=len(rows)
    )


def percentile_ci(boot: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    a = (1.0 - level) / 2.0
    boot = boot[np.isfinite(boot)]
    if boot.size == 0:
        return (math.nan, math.nan)
    lo, hi = np.quantile(boot, [a, 1.0 - a])
    return float(lo), float(hi)


def normal_ci(value: float, se: float) -> tuple[float, float]:
    return value - Z95 * se, value + Z95 * se


# ----------------------------------------------------------------------------------------------
# comparisons and rank groups


@dataclass
class Separation:
    """Can system i be told apart from the next one down the ranking?"""

    separable: bool | None  # None: could not be tested
    method: str  # "paired bootstrap" | "z-test on stderr" | "untested"
    diff: float | None = None  # score(i) - score(i+1)
    ci: tuple[float, float] | None = None
    n_common: int | None = None


def separation_from_diffs(d: np.ndarray, n_common: int | None, level: float = 0.95) -> Separation:
    lo, hi = percentile_ci(d, level)
    if math.isnan(lo):
        return Separation(None, "untested")
    return Separation(not (lo <= 0.0 <= hi), "paired bootstrap", float(np.mean(d)), (lo, hi), n_common)


def separation_z(a: float, b: float, se_a: float | None, se_b: float | None) -> Separation:
    if se_a is None or se_b is None or not (math.isfinite(se_a) and math.isfinite(se_b)):
        return Separation(None, "untested", a - b)
    se = math.sqrt(se_a**2 + se_b**2)
    if se == 0:
        return Separation(a != b, "z-test on stderr", a - b, (a - b, a - b))
    return Separation(abs(a - b) > Z95 * se, "z-test on stderr", a - b, normal_ci(a - b, se))


@dataclass
class RankEntry:
    system_id: str
    position: int  # 1-based place in the sorted order
    group: int  # 0-based rank group
    rank_label: str  # "3" or "2–4" (ranks that cannot be separated)
    sep_next: Separation | None = None  # versus the next system down


def rank_groups(
    ids: Sequence[str], seps: Sequence[Separation], separate: Callable[[str, str], Separation] | None = None
) -> list[RankEntry]:
    """``seps[i]`` compares ids[i] with ids[i+1]. A system joins the group above when it cannot be
    separated from its neighbour above nor (given ``separate``) from the group's first member, so
    groups do not chain on indefinitely through many close neighbours."""
    if len(seps) != max(0, len(ids) - 1):
        raise ValueError("need one separation per neighbour pair")
    groups: list[int] = []
    g = 0
    leader = 0
    for i in range(len(ids)):
        if i > 0:
            joins = seps[i - 1].separable is False
            if joins and separate is not None and leader != i - 1:
                joins = separate(ids[leader], ids[i]).separable is False
            if not joins:
                g += 1
                leader = i
        groups.append(g)
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for i, gi in enumerate(groups):
        first.setdefault(gi, i + 1)
        last[gi] = i + 1
    out = []
    for i, sid in enumerate(ids):
        gi = groups[i]
        lo, hi = first[gi], last[gi]
        out.append(RankEntry(sid, i + 1, gi, str(lo) if lo == hi else f"{lo}\u2013{hi}", seps[i] if i < len(seps) else None))
    return out


# ----------------------------------------------------------------------------------------------
# the whole site's statistics


@dataclass
class CellStats:
    system_id: str
    task: str
    metric: str
    value: float | None  # as reported by lm-eval
    ci: tuple[float, float] | None
    ci_method: str | None  # "bootstrap" | "stderr" | None
    se: float | None
    boot: np.ndarray | None = field(default=None, repr=False)
    kind: str | None = None  # mean / corpus
    doc_ids: np.ndarray | None = field(default=None, repr=False)
    items: Any = field(default=None, repr=False)
    n_docs: int | None = None
    recomputed: float | None = None
    parse_fail: float | None = None


@dataclass
class Ranking:
    task: str | None  # None: the overall score
    higher_is_better: bool
    entries: list[RankEntry]
    unranked: list[str]  # system ids with a value but left out (e.g. --limit runs)


@dataclass
class OverallStats:
    value: float | None
    ci: tuple[float, float] | None
    ci_method: str | None
    se: float | None
    boot: np.ndarray | None = field(default=None, repr=False)
    tasks: tuple[str, ...] = ()


def _se(cell: CellStats) -> float | None:
    if cell.se is not None:
        return cell.se
    return None


def paired_diff(
    a: CellStats, b: CellStats, resampler: Resampler, aggregate: Callable | None, iters: int | None
) -> tuple[np.ndarray, int] | None:
    """Bootstrap distribution of score(a) - score(b) over their common documents."""
    if a.boot is None or b.boot is None or a.doc_ids is None or b.doc_ids is None:
        return None
    if a.kind != b.kind or a.kind is None:
        return None
    if a.doc_ids.shape == b.doc_ids.shape and np.array_equal(a.doc_ids, b.doc_ids):
        m = min(len(a.boot), len(b.boot))
        return a.boot[:m] - b.boot[:m], int(len(a.doc_ids))
    try:
        common, ia, ib = np.intersect1d(a.doc_ids, b.doc_ids, assume_unique=True, return_indices=True)
    except TypeError:
        return None
    n = len(common)
    if n < 2:
        return None
    idx = resampler.indices(a.task, n)
    w = resampler.weights(a.task, n) if a.kind == "mean" else None
    m = min(len(a.boot), len(b.boot))

    def sub(c: CellStats, ii: np.ndarray) -> Any:
        if c.kind == "mean":
            return np.asarray(c.items, dtype=np.float64)[ii]
        return [c.items[i] for i in ii]

    try:
        da = bootstrap(a.metric, sub(a, ia), a.kind, aggregate, idx, w, m)
        db = bootstrap(b.metric, sub(b, ib), b.kind, aggregate, idx, w, m)
    except Exception:  # noqa: BLE001
        return None
    return da - db, n


def compare(
    a: CellStats, b: CellStats, resampler: Resampler, aggregate: Callable | None, iters: int | None
) -> Separation:
    pd = paired_diff(a, b, resampler, aggregate, iters)
    if pd is not None:
        return separation_from_diffs(pd[0], pd[1])
    assert a.value is not None and b.value is not None
    return separation_z(a.value, b.value, _se(a), _se(b))


def rank(
    task: str | None,
    values: dict[str, float],
    names: dict[str, str],
    higher_is_better: bool,
    separate: Callable[[str, str], Separation],
    unranked: list[str],
) -> Ranking:
    ids = sorted(values, key=lambda s: (-values[s] if higher_is_better else values[s], names.get(s, s).lower(), s))
    seps = [separate(ids[i], ids[i + 1]) for i in range(len(ids) - 1)]
    return Ranking(task, higher_is_better, rank_groups(ids, seps, separate), unranked)


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
        # centre each task's bootstrap on its reported value (they agree when samples match)
        boot = np.mean([c.boot[:m] for c in cells], axis=0)  # type: ignore[index]
        lo, hi = percentile_ci(boot)
        return OverallStats(value, (lo, hi), "bootstrap", float(np.std(boot, ddof=1)) if m > 1 else None, boot, tasks)
    ses = [c.se for c in cells]
    if all(s is not None for s in ses):
        se = math.sqrt(sum(s * s for s in ses)) / len(ses)  # type: ignore[operator]
        return OverallStats(value, normal_ci(value, se), "stderr", se, None, tasks)
    return OverallStats(value, None, None, None, None, tasks)


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


def _corpus_job(args: tuple) -> tuple[tuple[str, str], np.ndarray | None, str | None]:
    key, metric, items, task, iters, seed = args
    try:
        rs = Resampler(iters, seed, cache_size=2)
        idx = rs.indices(task, len(items))
        return key, bootstrap(metric, items, "corpus", get_aggregate(), idx), None
    except Exception as e:  # noqa: BLE001
        return key, None, f"{type(e).__name__}: {e}"


def compute(
    assembly: Any,
    sample_data: dict[tuple[str, str], Any],
    iters: int = 1000,
    corpus_iters: int = 200,
    seed: int = 1234,
    include_limited: bool = False,
    n_jobs: int = 1,
    progress: bool = False,
) -> Statistics:
    """Statistics for every system x task of an :class:`~.systems.Assembly`."""
    from .collect import Problem

    aggregate = get_aggregate()
    resampler = Resampler(iters, seed)
    corpus_iters = max(1, min(int(corpus_iters), int(iters)))
    problems: list[Problem] = []
    cells: dict[tuple[str, str], CellStats] = {}
    corpus_jobs: list[tuple] = []
    for sysm in assembly.systems:
        for task, cell in sysm.cells.items():
            se = cell.stderr
            cs = CellStats(sysm.id, task, cell.metric, cell.value, None, None, se)
            cs.n_docs = cell.result.n_effective
            cs.parse_fail = cell.parse_fail
            sd = sample_data.get((sysm.id, task))
            if sd is not None and sd.error is None and len(sd.doc_ids) > 0:
                kind = classify(cell.metric, sd.items, sd.numeric, aggregate)
                if cs.n_docs is None:
                    cs.n_docs = len(sd.doc_ids)
                if cs.parse_fail is None and sd.parse_fail is not None:
                    cs.parse_fail = float(np.nanmean(sd.parse_fail))
                if kind is None:
                    problems.append(
                        Problem(sd.path, "warning", f"{cell.metric!r} items are not numbers and no aggregate "
                                "function knows them; CI from stderr")
                    )
                else:
                    cs.kind, cs.doc_ids, cs.items = kind, sd.doc_ids, sd.items
                    try:
                        cs.recomputed = point_value(cell.metric, sd.items, kind, aggregate)
                    except Exception as e:  # noqa: BLE001
                        problems.append(Problem(sd.path, "warning", f"aggregate({cell.metric!r}) failed: {e}"))
                        cs.kind = None
                    if cs.kind == "mean":
                        n = len(sd.doc_ids)
                        cs.boot = bootstrap(cell.metric, sd.items, "mean", None, resampler.indices(task, n), resampler.weights(task, n))
                    elif cs.kind == "corpus":
                        corpus_jobs.append(((sysm.id, task), cell.metric, sd.items, task, corpus_iters, seed))
                if cs.recomputed is not None and cs.value is not None:
                    if not math.isclose(cs.recomputed, cs.value, rel_tol=1e-4, abs_tol=1e-6):
                        problems.append(
                            Problem(sd.path, "warning", f"per-sample {cell.metric} gives {cs.recomputed:.6g} but the "
                                    f"results file reports {cs.value:.6g} (samples from another run?)")
                        )
                if cs.value is None and cs.recomputed is not None:
                    cs.value = cs.recomputed
            cells[(sysm.id, task)] = cs

    if corpus_jobs:
        from tqdm import tqdm

        kw = dict(total=len(corpus_jobs), desc="bootstrap corpus metrics", unit="cell", disable=None if progress else True)
        if n_jobs > 1 and len(corpus_jobs) > 1:
            import multiprocessing as mp
            import os

            ctx = mp.get_context("fork") if hasattr(os, "fork") else mp.get_context()
            with ctx.Pool(n_jobs) as pool:
                results = list(tqdm(pool.imap_unordered(_corpus_job, corpus_jobs), **kw))
        else:
            results = [_corpus_job(j) for j in tqdm(corpus_jobs, **kw)]
        for key, boot, err in results:
            cs = cells[key]
            if boot is None:
                problems.append(Problem(key[0], "warning", f"bootstrap of {cs.metric} on {key[1]} failed: {err}"))
                cs.kind = None
            else:
                cs.boot = boot

    for cs in cells.values():
        if cs.boot is not None and len(cs.boot) > 1:
            cs.ci = percentile_ci(cs.boot)
            cs.ci_method = "bootstrap"
            cs.se = float(np.std(cs.boot, ddof=1))
        elif cs.se is not None and cs.value is not None:
            cs.ci = normal_ci(cs.value, cs.se)
            cs.ci_method = "stderr"

    names = {s.id: s.display_name for s in assembly.systems}
    eligible = {s.id for s in assembly.systems if include_limited or not s.limited}
    all_tasks = list(assembly.suite) + list(assembly.other_tasks)

    def sep_task(task: str) -> Callable[[str, str], Separation]:
        return lambda a, b: compare(cells[(a, task)], cells[(b, task)], resampler, aggregate, None)

    task_rankings: dict[str, Ranking] = {}
    for task in all_tasks:
        h = assembly.headlines[task]
        vals = {sid: cells[(sid, task)].value for sid in eligible if (sid, task) in cells and cells[(sid, task)].value is not None}
        unr = [s.id for s in assembly.systems if s.id not in eligible and (s.id, task) in cells]
        task_rankings[task] = rank(task, vals, names, h.higher_is_better, sep_task(task), unr)  # type: ignore[arg-type]

    overall_tasks = [t for t in assembly.suite if assembly.headlines[t].higher_is_better]
    excluded = [t for t in assembly.suite if not assembly.headlines[t].higher_is_better]
    overall: dict[str, OverallStats] = {}
    for s in assembly.systems:
        cl = [cells.get((s.id, t)) for t in overall_tasks]
        overall[s.id] = overall_from_cells(cl) if cl and all(c is not None for c in cl) else OverallStats(None, None, None, None)  # type: ignore[arg-type]

    def sep_overall(a: str, b: str) -> Separation:
        diffs = []
        for t in overall_tasks:
            pd = paired_diff(cells[(a, t)], cells[(b, t)], resampler, aggregate, None)
            if pd is None:
                break
            diffs.append(pd[0])
        else:
            if diffs:
                m = min(len(d) for d in diffs)
                return separation_from_diffs(np.mean([d[:m] for d in diffs], axis=0), None)
        oa, ob = overall[a], overall[b]
        return separation_z(oa.value, ob.value, oa.se, ob.se)  # type: ignore[arg-type]

    ovals = {sid: o.value for sid, o in overall.items() if sid in eligible and o.value is not None}
    ounr = [sid for sid, o in overall.items() if sid not in eligible and o.value is not None]
    overall_ranking = rank(None, ovals, names, True, sep_overall, ounr)  # type: ignore[arg-type]

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

    return Statistics(
        cells, overall, overall_tasks, excluded, pfr, task_rankings, overall_ranking, problems, iters, corpus_iters, seed
    )
