"""Task pages: a task's ranking, every metric its results report, quality vs. cost, its plots and
the per-sample viewer's list of systems. The tasks page lists these pages."""

from __future__ import annotations

import json
from dataclasses import dataclass

from . import costview
from .costview import CostView
from .fmt import fmt_ci, fmt_num, separation_note
from .paths import system_file, task_file, task_slug
from .plot_specs import PlotSpec, task_plots
from .stats import RankEntry, Statistics
from .systems import Assembly, System


@dataclass
class TaskRow:
    system_id: str
    href: str
    name: str
    kind: str
    rank_label: str
    group: int | None
    tie_note: str
    tied_with_next: bool
    value: float | None
    ci: tuple[float, float] | None
    ci_method: str
    n_docs: int | None
    n_original: int | None
    n_shot: int | None
    chat_template: bool
    parse_fail: float | None
    version: str
    data_source: str
    metrics: list[float | None]  # aligned with TaskPage.metric_names


@dataclass
class ViewerSystem:
    id: str
    name: str
    file: str  # relative to the task page
    value: str  # the headline value as the viewer's system lists show it


@dataclass
class TaskPage:
    task: str
    slug: str
    file: str
    metric: str
    higher_is_better: bool
    declared: bool
    in_suite: bool
    in_overall: bool
    meta: list[tuple[str, str]]
    metric_names: list[str]
    rows: list[TaskRow]
    unranked: list[TaskRow]
    viewer_systems: list[ViewerSystem]
    plots: list[PlotSpec]
    docs_file: str | None = None  # relative to the task page
    cost: CostView | None = None  # quality vs. inference cost (costview.build)


def _metric_label(metric: str, filt: str) -> str:
    return metric if filt == "none" else f"{metric} ({filt})"


def _task_row(s: System, t: str, st: Statistics, e: RankEntry | None, metric_names: list[str]) -> TaskRow:
    c = s.cells[t]
    cs = st.cells[(s.id, t)]
    ranking = st.task_rankings[t]
    vals = {_metric_label(m, f): v for (m, f), v in c.result.values.items()}
    note, tied = separation_note(e.sep_next if e else None)
    if e is None and s.id in ranking.reasons:
        note = "not ranked: " + ranking.reasons[s.id]
    cim = cs.ci_method or "none"
    if cs.mismatch:
        cim += f"; the results file claims {fmt_num(cs.claimed)}, its samples give {fmt_num(cs.recomputed)} (shown)"
    if cs.n_nan:
        cim += f"; {cs.n_nan} NaN item(s) left out"
    return TaskRow(
        system_id=s.id,
        href="../" + system_file(s.id),
        name=s.display_name,
        kind=s.kind,
        rank_label=e.rank_label if e else "—",
        group=e.group if e else None,
        tie_note=note,
        tied_with_next=tied,
        value=cs.value,
        ci=cs.ci,
        ci_method=cim,
        n_docs=cs.n_docs,
        n_original=c.result.n_original,
        n_shot=c.result.n_shot,
        chat_template=s.chat_template,
        parse_fail=cs.parse_fail,
        version=c.result.version or "—",
        data_source=c.data_source or "—",
        metrics=[vals.get(mn) for mn in metric_names],
    )


def task_page(t: str, assembly: Assembly, st: Statistics, sample_files: dict[tuple[str, str], str],
              docs_files: dict[str, str], include_limited: bool) -> TaskPage:
    h = assembly.headlines[t]
    ranking = st.task_rankings[t]
    scored = [s for s in assembly.systems if t in s.cells]
    metric_names: list[str] = []
    for s in scored:
        for (m, f) in s.cells[t].result.values:
            label = _metric_label(m, f)
            if label not in metric_names:
                metric_names.append(label)
    systems = {s.id: s for s in scored}
    ranked_ids = {e.system_id for e in ranking.entries}
    rows = [_task_row(systems[e.system_id], t, st, e, metric_names) for e in ranking.entries]
    unranked = [_task_row(s, t, st, None, metric_names) for s in scored if s.id not in ranked_ids]
    viewer = [ViewerSystem(r.system_id, r.name, "../" + sample_files[(r.system_id, t)], fmt_num(r.value))
              for r in rows + unranked if (r.system_id, t) in sample_files]
    meta = assembly.task_meta.get(t, {})
    in_suite = t in assembly.suite
    return TaskPage(
        task=t,
        slug=task_slug(t),
        file=task_file(t),
        metric=h.metric,
        higher_is_better=h.higher_is_better,
        declared=h.declared,
        in_suite=in_suite,
        in_overall=t in st.overall_tasks,
        meta=[(str(k), v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)) for k, v in meta.items()],
        metric_names=metric_names,
        rows=rows,
        unranked=unranked,
        viewer_systems=viewer,
        plots=task_plots(t, assembly, st, include_limited) if in_suite else [],
        docs_file=("../" + docs_files[t]) if t in docs_files else None,
        cost=costview.build(t, h.metric, h.higher_is_better,
                            [s for s in assembly.systems if include_limited or not s.limited],
                            st.cells, fmt_num, fmt_ci),
    )


def task_pages(assembly: Assembly, st: Statistics, sample_files: dict[tuple[str, str], str],
               docs_files: dict[str, str], include_limited: bool) -> list[TaskPage]:
    """Suite tasks first (the index's columns), then the other tasks found."""
    return [task_page(t, assembly, st, sample_files, docs_files, include_limited)
            for t in list(assembly.suite) + list(assembly.other_tasks)]
