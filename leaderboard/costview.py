"""Quality vs. cost per task: headline score (with CI) against inference cost per 1,000 documents.

Inputs: each run's cost record (read once, in ``collect``, with ``ecomsuite.cost.read``; ``Run.cost``) and an
adapter's training cost (``lineage.json`` ``train_cost``). A system's cost on a task is the cost record of the
run its cell came from. The cost axis is USD per 1,000 documents when every costed system of the task has a price,
else model seconds per 1,000 documents. A system is on the **Pareto frontier** when no other system is at least
as good and at least as cheap, and strictly better or cheaper (``pareto``). The plot is an inline SVG whose
coordinates are computed here; the template writes it with every point a link to its system page (Jinja escapes
all text; no scripts, no styles: CSP-safe).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from .collect import Run, to_float, to_int
from .systems import System

# SVG geometry (user units; the SVG scales to its box)
W, H = 640, 320
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 48


@dataclass
class TaskCost:
    """Inference cost of one system on one task, per 1,000 documents (None: not recorded)."""

    seconds: float | None
    usd: float | None
    prompt_tokens: float | None
    generated_tokens: float | None
    device: str
    dtype: str
    batch_size: str
    timing: str


@dataclass
class CostRow:
    system_id: str
    href: str
    name: str
    kind: str
    score: float
    value: str
    ci: str
    cost: float | None          # on the page's cost axis
    seconds: str
    usd: str
    prompt_tokens: str
    generated_tokens: str
    device: str
    frontier: bool = False
    label: str = ""             # the point's number in the plot
    x: float = 0.0
    y: float = 0.0
    y_lo: float | None = None   # CI bounds: score units from build(), SVG units after layout()
    y_hi: float | None = None


@dataclass
class TrainRow:
    system_id: str
    href: str
    name: str
    train_size: str
    trained_tokens: str
    train_time: str
    device: str
    peak_memory: str


@dataclass
class Tick:
    pos: float
    label: str


@dataclass
class CostView:
    task: str
    metric: str
    higher_is_better: bool
    axis: str                   # "USD" | "seconds"
    rows: list[CostRow]         # systems with a cost on the axis, cheapest first
    no_cost: list[tuple[str, str, str]] = field(default_factory=list)   # (href, name, why)
    training: list[TrainRow] = field(default_factory=list)
    frontier_path: str = ""     # SVG polyline points
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    width: int = W
    height: int = H
    left: int = LEFT
    top: int = TOP
    plot_w: int = W - LEFT - RIGHT
    plot_h: int = H - TOP - BOTTOM


# ------------------------------------------------------------------------------- pure pieces
def task_cost(record: dict | None, task: str) -> TaskCost | None:
    """One task's inference cost from a run's cost record; None when the record has no usable entry for it."""
    if not isinstance(record, dict) or not isinstance(record.get("tasks"), dict):
        return None
    entry = record["tasks"].get(task)
    if not isinstance(entry, dict):
        return None
    per = entry.get("per_1k_documents")
    per = per if isinstance(per, dict) else {}

    def num(v: Any) -> float | None:
        f = to_float(v)
        return f if f is not None and math.isfinite(f) and f >= 0 else None

    def text(v: Any) -> str:
        return "—" if v is None else str(v)[:80]

    return TaskCost(
        seconds=num(per.get("seconds")), usd=num(per.get("usd")),
        prompt_tokens=num(per.get("prompt_tokens")), generated_tokens=num(per.get("generated_tokens")),
        device=text(record.get("device")), dtype=text(record.get("dtype")),
        batch_size=text(record.get("batch_size")), timing=text(record.get("timing")),
    )


def system_task_cost(s: System, task: str) -> TaskCost | None:
    """The cost record of the run that ``s``'s cell for ``task`` came from."""
    cell = s.cells.get(task)
    if cell is None:
        return None
    run: Run | None = next((r for r in s.runs if r.path == cell.result.run_path), None)
    return task_cost(run.cost if run is not None else None, task)


def pareto(points: list[tuple[str, float, float]], higher_is_better: bool = True) -> set[str]:
    """Ids of the points (id, score, cost) that no other point dominates: at least as good and at least as cheap,
    and strictly better or strictly cheaper. Identical points are all on the frontier."""
    sign = 1.0 if higher_is_better else -1.0
    out: set[str] = set()
    best = -math.inf   # the best score among strictly cheaper points
    ordered = sorted(points, key=lambda p: (p[2], -sign * p[1]))
    for _, group in groupby(ordered, key=lambda p: p[2]):   # O(n log n): one sweep, cheapest first
        same_cost = list(group)
        top = sign * same_cost[0][1]
        if top > best:
            out.update(pid for pid, score, _ in same_cost if sign * score == top)
        best = max(best, top)
    return out


def fmt_cost(v: float | None, unit: str = "") -> str:
    if v is None:
        return "—"
    if unit == "USD":
        return f"${v:.4g}"
    if v >= 100:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def fmt_bytes(v: Any) -> str:
    n = to_float(v)
    if n is None or not math.isfinite(n) or n < 0:
        return "—"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return "—"  # pragma: no cover


def train_row(s: System) -> TrainRow | None:
    """Training cost of an adapter from its lineage's ``train_cost`` (None when it has none)."""
    tc = s.lineage.extra.get("train_cost") if s.lineage else None
    if not isinstance(tc, dict):
        return None
    secs = to_float(tc.get("train_time_s"))
    tokens = to_int(tc.get("trained_tokens"))
    return TrainRow(
        system_id=s.id, href=f"../systems/{s.id}.html", name=s.display_name,
        train_size="—" if s.train_size is None else f"{s.train_size:,}",
        trained_tokens="—" if tokens is None else f"{tokens:,}",
        train_time="—" if secs is None or not math.isfinite(secs) else f"{secs:,.1f} s",
        device="—" if tc.get("device") is None else str(tc.get("device"))[:80],
        peak_memory=fmt_bytes(tc.get("peak_memory_bytes")),
    )


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    return [lo + (hi - lo) * i / (n - 1) for i in range(n)]


def layout(view: CostView) -> None:
    """Plot coordinates: log10 cost on x when it spans more than a factor of 20, else linear; score on y."""
    pts = [r for r in view.rows if r.cost is not None]
    if not pts:
        return
    costs = [r.cost for r in pts]  # type: ignore[misc]
    logx = min(costs) > 0 and max(costs) / min(costs) > 20
    fx = (lambda c: math.log10(c)) if logx else (lambda c: c)
    xs = [fx(c) for c in costs]
    x0, x1 = min(xs), max(xs)
    if logx:
        x0, x1 = math.floor(x0), math.ceil(x1)
    else:
        x0 = 0.0
        x1 = x1 * 1.05 if x1 > 0 else 1.0
    ys = [v for r in pts for v in (r.score, r.y_lo, r.y_hi) if v is not None]
    y0, y1 = min(ys), max(ys)
    pad = (y1 - y0) * 0.08 or 0.05
    y0, y1 = y0 - pad, y1 + pad

    def px(c: float) -> float:
        return round(view.left + (fx(c) - x0) / ((x1 - x0) or 1) * view.plot_w, 1)

    def py(v: float) -> float:
        return round(view.top + (1 - (v - y0) / ((y1 - y0) or 1)) * view.plot_h, 1)

    for r in pts:
        r.x, r.y = px(r.cost), py(r.score)  # type: ignore[arg-type]
        r.y_lo = py(r.y_lo) if r.y_lo is not None else None
        r.y_hi = py(r.y_hi) if r.y_hi is not None else None
    front = sorted((r for r in pts if r.frontier), key=lambda r: (r.x, r.y))
    steps: list[tuple[float, float]] = []
    for r in front:   # a staircase: a frontier point's score holds until the next (dearer, better) point
        if steps:
            steps.append((r.x, steps[-1][1]))
        steps.append((r.x, r.y))
    view.frontier_path = " ".join(f"{x},{y}" for x, y in steps)
    unit = "USD" if view.axis == "USD" else ""
    if logx:
        view.x_ticks = [Tick(round(view.left + (e - x0) / ((x1 - x0) or 1) * view.plot_w, 1), fmt_cost(10.0 ** e, unit))
                        for e in range(int(x0), int(x1) + 1)]
    else:
        view.x_ticks = [Tick(px(c), fmt_cost(c, unit)) for c in _ticks(x0, x1)]
    view.y_ticks = [Tick(py(v), f"{v:.3g}") for v in _ticks(y0, y1)]


def build(task: str, metric: str, higher_is_better: bool, systems: list[System], cells: dict,
          fmt_num, fmt_ci) -> CostView | None:
    """The quality-vs-cost view of one task; ``cells[(system id, task)]`` are the statistics' cells (value, ci).
    None when no system has a score on the task."""
    scored = [s for s in systems if task in s.cells and cells[(s.id, task)].value is not None]
    if not scored:
        return None
    costs = {s.id: system_task_cost(s, task) for s in scored}
    priced = [c for c in costs.values() if c is not None]
    axis = "USD" if priced and all(c.usd is not None for c in priced) else "seconds"
    rows: list[CostRow] = []
    no_cost: list[tuple[str, str, str]] = []
    for s in scored:
        tc = costs[s.id]
        href = f"../systems/{s.id}.html"
        amount = None if tc is None else (tc.usd if axis == "USD" else tc.seconds)
        if tc is None or amount is None:
            why = "no cost record" if tc is None else f"cost record without {axis} per 1,000 documents" + (
                " (timing shared by several processes)" if tc.timing == "shared" else "")
            no_cost.append((href, s.display_name, why))
            continue
        cs = cells[(s.id, task)]
        rows.append(CostRow(
            system_id=s.id, href=href, name=s.display_name, kind=s.kind, score=float(cs.value),
            value=fmt_num(cs.value), ci=fmt_ci(cs.ci), cost=amount,
            seconds=fmt_cost(tc.seconds), usd=fmt_cost(tc.usd, "USD"),
            prompt_tokens=fmt_cost(tc.prompt_tokens), generated_tokens=fmt_cost(tc.generated_tokens),
            device=f"{tc.device} · {tc.dtype} · batch {tc.batch_size}",
            y_lo=cs.ci[0] if cs.ci else None, y_hi=cs.ci[1] if cs.ci else None,
        ))
    front = pareto([(r.system_id, r.score, r.cost) for r in rows], higher_is_better)  # type: ignore[misc]
    rows.sort(key=lambda r: (r.cost, -r.score if higher_is_better else r.score, r.name))
    for i, r in enumerate(rows, 1):
        r.frontier = r.system_id in front
        r.label = str(i)
    training = [t for t in (train_row(s) for s in scored if s.kind in ("adapter", "merge")) if t is not None]
    view = CostView(task, metric, higher_is_better, axis, rows, no_cost, training)
    layout(view)
    return view
