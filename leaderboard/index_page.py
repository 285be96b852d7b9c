"""The index page: one column per suite task, one row per system (ranked rows first)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .fmt import fmt_num, separation_note
from .paths import system_file, task_file, task_slug
from .stats import RankEntry, Statistics
from .systems import Assembly, System


@dataclass
class TaskColumn:
    task: str
    slug: str
    href: str  # relative to the site root
    metric: str
    higher_is_better: bool
    declared: bool
    in_overall: bool
    data_source: str | None
    n_docs: int | None
    measured: str = ""  # what most rows were measured on, e.g. "n=500 · embedded sample"
    measured_on: str = ""  # the full sentence most rows share: the header's tooltip, not repeated per cell


@dataclass
class IndexCell:
    present: bool
    value: float | None = None
    ci: tuple[float, float] | None = None
    n_docs: str = ""  # "n=1,000"
    source: str = ""  # data source, cut to 24 characters
    note: str = ""  # shown under the value when it differs from the column's usual n / data source
    measured_on: str = ""  # full "what was this measured on" sentence (tooltip) where it differs from the column's


@dataclass
class IndexRow:
    system_id: str
    href: str
    name: str
    kind: str
    base_model: str
    method: str
    train_size: int | None
    n_shot: str
    chat_template: bool
    parameters: int | None
    rank_label: str
    position: int | None
    group: int | None
    tie_note: str  # the test against the next row (rank tooltip)
    tied_with_next: bool
    limited: bool
    cells: list[IndexCell]
    overall: float | None
    overall_ci: tuple[float, float] | None
    overall_note: str  # how the overall was made, or why there is none; "" where it is the Overall header's
    parse_fail: float | None
    eval_seconds: float | None
    docs_per_s: float | None
    tasks_present: list[str]  # indices of the columns this row has (for the task filter)
    export: dict[str, Any] = field(default_factory=dict)  # flat record for CSV/JSON


def columns(assembly: Assembly, st: Statistics) -> list[TaskColumn]:
    out = []
    for t in assembly.suite:
        h = assembly.headlines[t]
        meta = assembly.task_meta.get(t, {})
        out.append(
            TaskColumn(
                task=t,
                slug=task_slug(t),
                href=task_file(t),
                metric=h.metric,
                higher_is_better=h.higher_is_better,
                declared=h.declared,
                in_overall=t in st.overall_tasks,
                data_source=None if meta.get("data_source") is None else str(meta.get("data_source")),
                n_docs=meta.get("n_docs") if isinstance(meta.get("n_docs"), int) else None,
            )
        )
    return out


def measured_on(s: System, t: str, st: Statistics) -> str:
    """Everything a cell's number depends on, as one sentence (its tooltip)."""
    c = s.cells[t]
    cs = st.cells[(s.id, t)]
    parts = [f"{c.metric} on {t}"]
    if cs.n_docs is not None:
        of = f" of {c.result.n_original:,}" if c.result.n_original and c.result.n_original != cs.n_docs else ""
        parts.append(f"{cs.n_docs:,}{of} documents")
    parts.append(f"data: {c.data_source}" if c.data_source else "data source not recorded")
    parts.append(f"{c.result.n_shot}-shot" if c.result.n_shot is not None else "n-shot not recorded")
    parts.append("chat template" if s.chat_template else "no chat template")
    if cs.mismatch:
        parts.append(f"the results file claims {fmt_num(cs.claimed)}; its samples give {fmt_num(cs.recomputed)} "
                     "(shown and ranked)")
    if cs.n_nan:
        parts.append(f"{cs.n_nan} NaN item(s) left out")
    if cs.ci_method == "cluster bootstrap":
        parts.append(f"CI: cluster bootstrap over {cs.cluster_field} ({len(cs.boot) if cs.boot is not None else st.iters})")
    elif cs.ci_method == "bootstrap":
        parts.append(f"CI: bootstrap ({len(cs.boot) if cs.boot is not None else st.iters})")
    elif cs.ci_method == "stderr":
        parts.append("CI: ±1.96·stderr")
    else:
        parts.append("no CI (no samples, no stderr)")
    if c.run_limit is not None:
        parts.append(f"run with --limit {c.run_limit:g}")
    return "; ".join(parts)


def _cell_and_export(s: System, col: TaskColumn, st: Statistics) -> tuple[IndexCell, dict[str, Any]]:
    t = col.task
    if t not in s.cells or st.cells[(s.id, t)].value is None:
        return IndexCell(present=False), {f"{t}:{col.metric}": "", f"{t}:ci_low": "", f"{t}:ci_high": "", f"{t}:n_docs": "",
                                          f"{t}:data_source": "", f"{t}:n_shot": "", f"{t}:claimed": "", f"{t}:mismatch": ""}
    c, cs = s.cells[t], st.cells[(s.id, t)]
    cell = IndexCell(
        present=True,
        value=cs.value,
        ci=cs.ci,
        n_docs=f"n={cs.n_docs:,}" if cs.n_docs is not None else "",
        source=(c.data_source or "")[:24],
        measured_on=measured_on(s, t, st),
    )
    return cell, {
        f"{t}:{c.metric}": cs.value,
        f"{t}:ci_low": cs.ci[0] if cs.ci else "",
        f"{t}:ci_high": cs.ci[1] if cs.ci else "",
        f"{t}:n_docs": cs.n_docs if cs.n_docs is not None else "",
        f"{t}:data_source": c.data_source or "",
        f"{t}:n_shot": c.result.n_shot if c.result.n_shot is not None else "",
        f"{t}:claimed": cs.claimed if cs.claimed is not None else "",
        f"{t}:mismatch": cs.mismatch,
    }


def index_row(s: System, cols: list[TaskColumn], st: Statistics, e: RankEntry | None) -> IndexRow:
    o = st.overall[s.id]
    export: dict[str, Any] = {
        "rank": e.rank_label if e else "",
        "rank_group": (e.group + 1) if e else "",
        "system": s.display_name,
        "system_id": s.id,
        "kind": s.kind,
        "base_model": s.base_model or "",
        "method": s.method or "",
        "train_size": s.train_size if s.train_size is not None else "",
        "n_shot": s.n_shot,
        "chat_template": s.chat_template,
        "parameters": s.parameters if s.parameters is not None else "",
        "overall": o.value if o.value is not None else "",
        "overall_ci_low": o.ci[0] if o.ci else "",
        "overall_ci_high": o.ci[1] if o.ci else "",
    }
    cells = []
    for col in cols:
        cell, ex = _cell_and_export(s, col, st)
        cells.append(cell)
        export.update(ex)
    timed = [r.eval_seconds for r in s.runs if r.eval_seconds is not None]
    secs = sum(timed) if timed else None
    docs = sum(t.n_effective or 0 for r in s.runs for t in r.tasks.values())
    dps = docs / secs if secs and docs else None
    pf = st.parse_fail_rate.get(s.id)
    export.update(
        {
            "parse_fail_rate": pf if pf is not None else "",
            "eval_seconds": secs if secs is not None else "",
            "docs_per_second": dps if dps is not None else "",
            "limited": s.limited,
        }
    )
    tie_note, tied = separation_note(e.sep_next if e else None, short=True)
    missing = [t for t in st.overall_tasks if t not in s.cells or st.cells[(s.id, t)].value is None]
    if o.value is not None:
        onote = f"mean of {len(st.overall_tasks)} headline metrics; CI: {o.ci_method or 'none'}"
    elif missing:
        onote = "no overall: missing " + ", ".join(missing)
    else:
        onote = "no overall"
    return IndexRow(
        system_id=s.id,
        href=system_file(s.id),
        name=s.display_name,
        kind=s.kind,
        base_model=s.base_model or "—",
        method=s.method or "—",
        train_size=s.train_size,
        n_shot=s.n_shot,
        chat_template=s.chat_template,
        parameters=s.parameters,
        rank_label=e.rank_label if e else "—",
        position=e.position if e else None,
        group=e.group if e else None,
        tie_note=tie_note,
        tied_with_next=tied,
        limited=s.limited,
        cells=cells,
        overall=o.value,
        overall_ci=o.ci,
        overall_note=onote,
        parse_fail=pf,
        eval_seconds=secs,
        docs_per_s=dps,
        tasks_present=[str(k) for k, col in enumerate(cols) if col.task in s.cells],
        export=export,
    )


def _common(values: list[str]) -> str:
    return Counter(values).most_common(1)[0][0] if values else ""


def say_once_per_column(cols: list[TaskColumn], rows: list[IndexRow]) -> str:
    """What most cells of a column share (documents, data source, the measured-on sentence; how the
    overall was made) is said once, in its header; a cell keeps its own only where it differs (38% of
    a large index was repeated tooltips). Returns the Overall header's note."""
    for k, col in enumerate(cols):
        present = [r.cells[k] for r in rows if r.cells[k].present]
        common_n = _common([c.n_docs for c in present])
        common_src = _common([c.source for c in present])
        col.measured = " · ".join(x for x in (common_n, common_src) if x)
        col.measured_on = _common([c.measured_on for c in present])
        for c in present:
            c.note = " · ".join(x for x in (c.n_docs if c.n_docs != common_n else "", c.source if c.source != common_src else "") if x)
            if c.measured_on == col.measured_on:
                c.measured_on = ""
    overall_note = _common([r.overall_note for r in rows if r.overall is not None])
    for r in rows:
        if r.overall_note == overall_note:
            r.overall_note = ""
    return overall_note


def index_rows(assembly: Assembly, st: Statistics, cols: list[TaskColumn],
               include_limited: bool) -> tuple[list[IndexRow], list[IndexRow], str]:
    """(rows, limited_rows, the Overall header's note): systems ranked overall in rank order, then the
    others (most tasks first); runs made with --limit apart unless include_limited."""
    entry = {e.system_id: e for e in st.overall_ranking.entries}
    systems = {s.id: s for s in assembly.systems}
    rest = sorted(
        (s for s in assembly.systems if s.id not in entry and (include_limited or not s.limited)),
        key=lambda s: (-len([t for t in assembly.suite if t in s.cells]), s.display_name.lower(), s.id),
    )
    rows = [index_row(systems[e.system_id], cols, st, e) for e in st.overall_ranking.entries]
    rows += [index_row(s, cols, st, None) for s in rest]
    limited = [] if include_limited else [index_row(s, cols, st, entry.get(s.id)) for s in assembly.systems if s.limited]
    return rows, limited, say_once_per_column(cols, rows + limited)
