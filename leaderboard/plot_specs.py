"""Plot data (drawn by :mod:`.plots`): for each suite task, score vs. training size, the kinds of
systems (prompting, fine-tuning, merges, baselines), and merges vs. their inputs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .collect import Lineage
from .paths import task_slug
from .stats import Statistics
from .systems import Assembly, System


@dataclass
class PlotPoint:
    x: Any
    y: float
    lo: float | None = None
    hi: float | None = None
    label: str = ""


@dataclass
class PlotSeries:
    label: str
    points: list[PlotPoint]
    style: str = "line"  # line | hline | bar | dots


@dataclass
class PlotSpec:
    kind: str  # train_size | categories | merges
    task: str
    title: str
    file: str  # site-relative
    ylabel: str
    series: list[PlotSeries]
    note: str = ""


def _category(s: System) -> str:
    if s.kind in ("base", "api"):
        return "zero-shot" if s.n_shot == "0" else "few-shot"
    if s.kind == "adapter":
        return "fine-tuned"
    return s.kind


MAX_SERIES = 10
MAX_MERGES = 12


def task_plots(task: str, a: Assembly, st: Statistics, include_limited: bool) -> list[PlotSpec]:
    h = a.headlines[task]
    ts = task_slug(task)
    systems = [s for s in a.systems if (include_limited or not s.limited) and task in s.cells and st.cells[(s.id, task)].value is not None]

    def pt(s: System, x: Any, label: str = "") -> PlotPoint:
        cs = st.cells[(s.id, task)]
        return PlotPoint(x, float(cs.value), cs.ci[0] if cs.ci else None, cs.ci[1] if cs.ci else None, label or s.display_name)  # type: ignore[arg-type]

    out: list[PlotSpec] = []
    # 1. score vs training size
    groups: dict[str, list[System]] = {}
    for s in systems:
        if s.train_size is None or s.train_size <= 0:
            continue
        mix = "mixed tasks" if s.lineage and len(s.lineage.tasks) > 1 else "single task"
        label = f"{s.base_model or '?'} · {s.method or s.kind} · {mix}"
        groups.setdefault(label, []).append(s)
    if groups:
        series = []
        for label, ss in sorted(groups.items(), key=lambda kv: -len(kv[1]))[:MAX_SERIES]:
            pts = sorted((pt(s, s.train_size) for s in ss), key=lambda p: p.x)
            series.append(PlotSeries(label, pts, "line"))
        bases = {s.base_model for ss in groups.values() for s in ss}
        for s in systems:
            if s.kind in ("base", "api") and s.n_shot == "0" and (s.base_model in bases):
                series.append(PlotSeries(f"zero-shot {s.display_name}", [pt(s, 0)], "hline"))
        note = "" if len(groups) <= MAX_SERIES else f"{len(groups) - MAX_SERIES} more series not drawn"
        out.append(PlotSpec("train_size", task, f"{task}: {h.metric} vs. training size", f"plots/train-size-{ts}.svg", h.metric, series[: MAX_SERIES + 5], note))
    # 2. zero-shot vs few-shot vs fine-tuned vs merge vs baseline
    cats: dict[str, list[System]] = {}
    for s in systems:
        cats.setdefault(_category(s), []).append(s)
    if cats:
        order = ["zero-shot", "few-shot", "fine-tuned", "merge", "baseline"]
        keys = sorted(cats, key=lambda k: (order.index(k) if k in order else 99, k))
        series = []
        for k in keys:
            ss = cats[k]
            best = max(ss, key=lambda s: st.cells[(s.id, task)].value * (1 if h.higher_is_better else -1))  # type: ignore[operator]
            series.append(PlotSeries(k, [pt(best, k, f"best: {best.display_name}")], "bar"))
            series.append(PlotSeries(k, [pt(s, k) for s in ss], "dots"))
        out.append(PlotSpec("categories", task, f"{task}: prompting vs. fine-tuning vs. baselines", f"plots/categories-{ts}.svg", h.metric, series,
                            "bar: best system of each kind (with 95% CI); dots: every system"))
    # 3. merges vs their inputs
    merges = [s for s in systems if s.kind == "merge" and s.lineage and s.lineage.inputs]
    if merges:
        by_name = {s.name: s for s in systems}
        by_path: dict[str, System] = {}  # resolving every run's paths took ~1 s at 1,000 systems: only for merges
        for s in systems:
            for r in s.runs:
                for k in ("peft", "pretrained"):
                    v = r.model_args.get(k)
                    if v:
                        by_path[_norm_path(v)] = s
        series = []
        for m in merges[:MAX_MERGES]:
            pts = []
            for inp in m.lineage.inputs:  # type: ignore[union-attr]
                target = None
                if isinstance(inp, Lineage):
                    target = by_name.get(inp.name or "") or (by_path.get(_norm_path(str(Path(inp.source).parent))) if inp.source else None)
                else:
                    target = by_path.get(_norm_path(inp)) or by_name.get(Path(inp).name)
                if target is not None:
                    pts.append(pt(target, m.display_name, f"input: {target.display_name}"))
            pts.append(pt(m, m.display_name, f"merge ({m.method or '?'}): {m.display_name}"))
            series.append(PlotSeries(m.display_name, pts, "bar"))
        note = "" if len(merges) <= MAX_MERGES else f"{len(merges) - MAX_MERGES} more merges not drawn"
        out.append(PlotSpec("merges", task, f"{task}: merges vs. their inputs", f"plots/merges-{ts}.svg", h.metric, series, note))
    return out


def _norm_path(p: str) -> str:
    try:
        return str(Path(p).expanduser().resolve())
    except (OSError, ValueError):
        return p
