"""Stage 5 — the template context: one typed value (dataclasses) holding everything the site shows.

Templates only read these fields; every number is formatted here, so the context is what tests
check. Text from result files stays raw here: escaping is the renderer's job (Jinja autoescape,
:mod:`.safejson` for data), which keeps a single place where it happens.
"""

from __future__ import annotations

import json
import math
import shlex
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import costview, safeio
from .collect import Lineage, Problem, Run
from .costview import CostView
from .stats import RankEntry, Separation, Statistics
from .systems import Assembly, System, slug

KIND_ORDER = ("base", "api", "adapter", "merge", "baseline")


# ----------------------------------------------------------------------------------------------
# formatting


def fmt_num(v: float | None) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    a = abs(v)
    if a >= 100:
        return f"{v:.1f}"
    if a >= 10:
        return f"{v:.2f}"
    return f"{v:.3f}"


def fmt_ci(ci: tuple[float, float] | None) -> str:
    if not ci or any(not math.isfinite(x) for x in ci):
        return ""
    return f"[{fmt_num(ci[0])}, {fmt_num(ci[1])}]"


def fmt_int(v: int | None) -> str:
    return "—" if v is None else f"{v:,}"


def fmt_params(v: int | None) -> str:
    if v is None:
        return "—"
    for div, suf in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if v >= div:
            return f"{v / div:.1f}{suf}"
    return str(v)


def fmt_seconds(v: float | None) -> str:
    if v is None:
        return "—"
    if v >= 3600:
        return f"{v / 3600:.1f} h"
    if v >= 60:
        return f"{v / 60:.1f} min"
    return f"{v:.1f} s"


def sort_key(v: float | None) -> str:
    """data-sort attribute: numbers as text, empty when missing (sorted last by the JS)."""
    return "" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{float(v):.10g}"


def task_slug(task: str) -> str:
    return slug(task, "task:" + task)


def data_file(task: str, system_id: str) -> str:
    """Site-relative path of a system's per-sample viewer data for a task."""
    return f"data/{task_slug(task)}/{system_id}.js"


def docs_file(task: str) -> str:
    """Site-relative path of a task's shared prompts/references (system ids never start with _)."""
    return f"data/{task_slug(task)}/_docs.js"


# ----------------------------------------------------------------------------------------------
# context types


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
    task: str
    present: bool
    value: str = "—"
    ci: str = ""
    sort: str = ""
    n_docs: str = ""
    source: str = ""
    note: str = ""  # shown under the value when it differs from the column's usual n / data source
    measured_on: str = ""  # full "what was this measured on" sentence (tooltip)


@dataclass
class IndexRow:
    system_id: str
    href: str
    name: str
    kind: str
    base_model: str
    method: str
    train_size: str
    train_size_sort: str
    n_shot: str
    chat: str
    parameters: str
    parameters_sort: str
    rank_label: str
    position: int | None
    group: int | None
    tie_note: str
    tied_with_next: bool
    limited: bool
    cells: list[IndexCell]
    overall: str
    overall_ci: str
    overall_sort: str
    overall_note: str
    parse_fail: str
    parse_fail_sort: str
    eval_seconds: str
    eval_seconds_sort: str
    docs_per_s: str
    docs_per_s_sort: str
    tasks_present: list[str]  # indices of the columns this row has (for the task filter)
    export: dict[str, Any] = field(default_factory=dict)  # flat record for CSV/JSON


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
    value: str
    ci: str
    ci_method: str
    n_docs: str
    n_original: str
    n_shot: str
    chat: str
    parse_fail: str
    version: str
    data_source: str
    metrics: list[str]  # aligned with TaskPage.metric_names
    has_samples: bool


@dataclass
class ViewerSystem:
    id: str
    name: str
    file: str  # relative to the task page
    value: str


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


@dataclass
class LineageNode:
    title: str
    fields: list[tuple[str, str]]
    hyperparameters: list[tuple[str, str]]
    extra: list[tuple[str, str]]
    command: str | None
    inputs: list["LineageNode"]
    unresolved: list[str]
    source: str | None
    href: str | None  # system page of this input, when it is on the board


@dataclass
class SystemResult:
    task: str
    task_href: str
    metric: str
    value: str
    ci: str
    ci_method: str
    rank: str
    n_docs: str
    n_shot: str
    data_source: str
    parse_fail: str
    samples: bool


@dataclass
class RunInfo:
    path: str
    tasks: list[str]
    command: str
    config: list[tuple[str, str]]


@dataclass
class SystemPage:
    id: str
    file: str
    name: str
    display_name: str
    summary: list[tuple[str, str]]
    overall: str
    overall_ci: str
    overall_rank: str
    results: list[SystemResult]
    lineage: LineageNode | None
    train_command: str | None
    runs: list[RunInfo]


@dataclass
class ReportEntry:
    path: str
    severity: str
    reason: str


@dataclass
class BuildReport:
    files_seen: int
    runs_used: int
    systems: int
    errors: list[ReportEntry]
    warnings: list[ReportEntry]
    infos: list[ReportEntry]


@dataclass
class SiteContext:
    title: str
    generated: str
    columns: list[TaskColumn]
    rows: list[IndexRow]  # ranked first, then rows without an overall score
    limited_rows: list[IndexRow]  # --limit runs, not ranked
    kinds: list[str]
    base_models: list[str]
    overall_tasks: list[str]
    excluded_from_overall: list[str]
    include_limited: bool
    iters: int
    corpus_iters: int
    seed: int
    task_pages: list[TaskPage]
    system_pages: list[SystemPage]
    plots: list[PlotSpec]
    report: BuildReport
    csv_file: str = "leaderboard.csv"
    json_file: str = "leaderboard.json"


# ----------------------------------------------------------------------------------------------
# builders


def _sep_note(sep: Separation | None) -> tuple[str, bool]:
    if sep is None:
        return "", False
    if sep.method == "different data":
        return "not compared with the next row: scored on different data", False
    if sep.separable is None:
        return "not tested against the next row (no common per-sample scores, or no stderr)", False
    d = f"difference {fmt_num(sep.diff)}"
    ci = f", 95% CI {fmt_ci(sep.ci)}" if sep.ci else ""
    n = f", {sep.n_common:,} common documents" if sep.n_common else ""
    p = f", p={sep.p:.3g} before Holm's correction" if sep.p is not None else ""
    if sep.separable:
        return f"separable from the next row ({sep.method}: {d}{ci}{n}{p})", False
    return f"NOT separable from the next row ({sep.method}: {d}{ci}{n}{p})", True


def command_for_run(run: Run) -> str:
    """The lm_eval command line that reproduces a results file (from its recorded config)."""
    parts = ["lm_eval", "--model", run.model_type]
    if run.model_args_raw:
        parts += ["--model_args", run.model_args_raw]
    parts += ["--tasks", ",".join(run.top_level_tasks)]
    shots = {t.n_shot for t in run.tasks.values() if t.n_shot is not None}
    if len(shots) == 1:
        parts += ["--num_fewshot", str(shots.pop())]
    if run.batch_size not in (None, ""):
        parts += ["--batch_size", str(run.batch_size)]
    dev = run.config.get("device")
    if dev:
        parts += ["--device", str(dev)]
    if run.chat_template:
        parts.append("--apply_chat_template")
        if run.fewshot_as_multiturn is False:
            parts += ["--fewshot_as_multiturn", "false"]
    if run.system_instruction:
        parts += ["--system_instruction", run.system_instruction]
    if run.gen_kwargs:
        gk = run.gen_kwargs
        if isinstance(gk, dict):
            gk = json.dumps(gk) if any(isinstance(v, (list, dict)) or "," in str(v) for v in gk.values()) else ",".join(
                f"{k}={v}" for k, v in gk.items()
            )
        parts += ["--gen_kwargs", str(gk)]
    if run.limit is not None:
        parts += ["--limit", str(int(run.limit)) if run.limit == int(run.limit) else str(run.limit)]
    seeds = [run.config.get(k) for k in ("random_seed", "numpy_seed", "torch_seed", "fewshot_seed")]
    if any(s is not None for s in seeds) and seeds != [0, 1234, 1234, 1234]:
        parts += ["--seed", ",".join("None" if s is None else str(s) for s in seeds)]
    parts += ["--log_samples", "--output_path", "OUTPUT_DIR"]
    return " ".join(shlex.quote(p) for p in parts)


SHOWN_TEXT = 500  # characters of any one lineage value shown on a page
# unknown lineage keys whose values are shown; any other key is named, never printed (a lineage
# file is untrusted input and may hold tokens or paths)
EXTRA_SHOWN = frozenset("num_parameters parameters params n_params dataset dataset_fingerprint license description".split())


def _show(v: Any, limit: int = SHOWN_TEXT) -> str:
    try:
        text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str, sort_keys=True)
    except (RecursionError, ValueError, TypeError):
        text = "(not shown: nested too deeply)"
    return safeio.clip(text, limit)


def _kv(d: dict[str, Any], limit: int = 100) -> list[tuple[str, str]]:
    out = [(_show(str(k), 80), _show(v)) for k, v in list(d.items())[:limit]]
    if len(d) > limit:
        out.append(("…", f"{len(d) - limit} more not shown"))
    return out


def _extra(d: dict[str, Any]) -> list[tuple[str, str]]:
    out = _kv({k: v for k, v in d.items() if k in EXTRA_SHOWN})
    hidden = [str(k) for k in d if k not in EXTRA_SHOWN]
    if hidden:
        out.append(("other fields", _show(", ".join(hidden), 200) + " (values not published)"))
    return out


def _lineage_node(lin: Lineage, match: dict[str, str], depth: int = 0) -> LineageNode:
    fields = []
    for key in ("kind", "name", "base_model", "method", "tasks", "train_size", "seed", "data_source", "git_rev"):
        v = getattr(lin, key)
        if v is None or v == [] or v == "":
            continue
        if key == "train_size" and lin.train_sizes:
            v = f"{v:,} (" + ", ".join(f"{t}: {n:,}" for t, n in lin.train_sizes.items()) + ")"
        fields.append((key, _show(", ".join(v) if isinstance(v, list) else str(v))))
    if lin.versions:
        fields.append(("versions", _show(lin.versions)))
    inputs, unresolved = [], []
    for item in lin.inputs:
        if isinstance(item, Lineage):
            inputs.append(_lineage_node(item, match, depth + 1))
        else:
            unresolved.append(str(item))
    title = _show(lin.name or lin.base_model or (lin.kind or "model"), 200)
    href = match.get(lin.name or "") if depth > 0 else None
    return LineageNode(
        title=title,
        fields=fields,
        hyperparameters=_kv(lin.hyperparameters),
        extra=_extra(lin.extra),
        command=None if lin.command is None else _show(lin.command, 4 * SHOWN_TEXT),
        inputs=inputs,
        unresolved=unresolved,
        source=lin.source_shown,
        href=href,
    )


def _category(s: System) -> str:
    if s.kind in ("base", "api"):
        return "zero-shot" if s.n_shot == "0" else "few-shot"
    if s.kind == "adapter":
        return "fine-tuned"
    return s.kind


def build_context(
    assembly: Assembly,
    st: Statistics,
    collection_problems: list[Problem],
    sample_files: dict[tuple[str, str], str],
    files_seen: int,
    title: str = "ecomsuite leaderboard",
    include_limited: bool = False,
    generated: str | None = None,
    docs_files: dict[str, str] | None = None,
) -> SiteContext:
    systems = {s.id: s for s in assembly.systems}
    suite = list(assembly.suite)
    columns = []
    for t in suite:
        h = assembly.headlines[t]
        meta = assembly.task_meta.get(t, {})
        columns.append(
            TaskColumn(
                task=t,
                slug=task_slug(t),
                href=f"tasks/{task_slug(t)}.html",
                metric=h.metric,
                higher_is_better=h.higher_is_better,
                declared=h.declared,
                in_overall=t in st.overall_tasks,
                data_source=None if meta.get("data_source") is None else str(meta.get("data_source")),
                n_docs=meta.get("n_docs") if isinstance(meta.get("n_docs"), int) else None,
            )
        )

    overall_entry: dict[str, RankEntry] = {e.system_id: e for e in st.overall_ranking.entries}
    task_entry: dict[tuple[str, str], RankEntry] = {
        (e.system_id, t): e for t, r in st.task_rankings.items() for e in r.entries
    }

    def measured_on(s: System, t: str) -> str:
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

    def index_row(s: System) -> IndexRow:
        e = overall_entry.get(s.id)
        o = st.overall[s.id]
        cells = []
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
        for col in columns:
            t = col.task
            if t in s.cells and st.cells[(s.id, t)].value is not None:
                cs = st.cells[(s.id, t)]
                c = s.cells[t]
                cells.append(
                    IndexCell(
                        task=t,
                        present=True,
                        value=fmt_num(cs.value),
                        ci=fmt_ci(cs.ci),
                        sort=sort_key(cs.value),
                        n_docs=f"n={cs.n_docs:,}" if cs.n_docs is not None else "",
                        source=(c.data_source or "")[:24],
                        measured_on=measured_on(s, t),
                    )
                )
                export.update(
                    {
                        f"{t}:{c.metric}": cs.value,
                        f"{t}:ci_low": cs.ci[0] if cs.ci else "",
                        f"{t}:ci_high": cs.ci[1] if cs.ci else "",
                        f"{t}:n_docs": cs.n_docs if cs.n_docs is not None else "",
                        f"{t}:data_source": c.data_source or "",
                        f"{t}:n_shot": c.result.n_shot if c.result.n_shot is not None else "",
                        f"{t}:claimed": cs.claimed if cs.claimed is not None else "",
                        f"{t}:mismatch": cs.mismatch,
                    }
                )
            else:
                cells.append(IndexCell(task=t, present=False))
                export.update({f"{t}:{col.metric}": "", f"{t}:ci_low": "", f"{t}:ci_high": "", f"{t}:n_docs": "",
                               f"{t}:data_source": "", f"{t}:n_shot": "", f"{t}:claimed": "", f"{t}:mismatch": ""})
        secs = sum(r.eval_seconds for r in s.runs if r.eval_seconds is not None) if any(
            r.eval_seconds is not None for r in s.runs
        ) else None
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
        tie_note, tied = _sep_note(e.sep_next if e else None)
        missing = [t for t in st.overall_tasks if t not in s.cells or st.cells[(s.id, t)].value is None]
        if o.value is not None:
            onote = f"mean of {len(st.overall_tasks)} headline metrics; CI: {o.ci_method or 'none'}"
        elif missing:
            onote = "no overall: missing " + ", ".join(missing)
        else:
            onote = "no overall"
        return IndexRow(
            system_id=s.id,
            href=f"systems/{s.id}.html",
            name=s.display_name,
            kind=s.kind,
            base_model=s.base_model or "—",
            method=s.method or "—",
            train_size=fmt_int(s.train_size),
            train_size_sort=sort_key(s.train_size),
            n_shot=s.n_shot,
            chat="yes" if s.chat_template else "no",
            parameters=fmt_params(s.parameters),
            parameters_sort=sort_key(s.parameters),
            rank_label=e.rank_label if e else "—",
            position=e.position if e else None,
            group=e.group if e else None,
            tie_note=tie_note,
            tied_with_next=tied,
            limited=s.limited,
            cells=cells,
            overall=fmt_num(o.value),
            overall_ci=fmt_ci(o.ci),
            overall_sort=sort_key(o.value),
            overall_note=onote,
            parse_fail=fmt_num(pf),
            parse_fail_sort=sort_key(pf),
            eval_seconds=fmt_seconds(secs),
            eval_seconds_sort=sort_key(secs),
            docs_per_s=fmt_num(dps) if dps is not None else "—",
            docs_per_s_sort=sort_key(dps),
            tasks_present=[str(k) for k, col in enumerate(columns) if col.task in s.cells],
            export=export,
        )

    ranked_ids = [e.system_id for e in st.overall_ranking.entries]
    rest = sorted(
        (s for s in assembly.systems if s.id not in overall_entry and (include_limited or not s.limited)),
        key=lambda s: (-len([t for t in suite if t in s.cells]), s.display_name.lower(), s.id),
    )
    rows = [index_row(systems[i]) for i in ranked_ids] + [index_row(s) for s in rest]
    limited_rows = [] if include_limited else [index_row(s) for s in assembly.systems if s.limited]
    for k, col in enumerate(columns):
        present = [r.cells[k] for r in rows + limited_rows if r.cells[k].present]
        common_n = Counter(c.n_docs for c in present).most_common(1)[0][0] if present else ""
        common_src = Counter(c.source for c in present).most_common(1)[0][0] if present else ""
        col.measured = " · ".join(x for x in (common_n, common_src) if x)
        for c in present:
            c.note = " · ".join(x for x in (c.n_docs if c.n_docs != common_n else "", c.source if c.source != common_src else "") if x)
        # one tooltip per column for what most cells share (38% of a large index was repeated tooltips);
        # a cell keeps its own only where it differs
        col.measured_on = Counter(c.measured_on for c in present).most_common(1)[0][0] if present else ""
        for c in present:
            if c.measured_on == col.measured_on:
                c.measured_on = ""

    # task pages
    task_pages = []
    plots: list[PlotSpec] = []
    name_to_id = {s.name: s.id for s in assembly.systems}
    for t in suite + list(assembly.other_tasks):
        h = assembly.headlines[t]
        ranking = st.task_rankings[t]
        metric_names: list[str] = []
        for s in assembly.systems:
            if t in s.cells:
                for (m, f) in s.cells[t].result.values:
                    label = m if f == "none" else f"{m} ({f})"
                    if label not in metric_names:
                        metric_names.append(label)

        def trow(s: System, e: RankEntry | None) -> TaskRow:
            c = s.cells[t]
            cs = st.cells[(s.id, t)]
            vals = {}
            for (m, f), v in c.result.values.items():
                vals[m if f == "none" else f"{m} ({f})"] = v
            note, tied = _sep_note(e.sep_next if e else None)
            if e is None and s.id in ranking.reasons:
                note = "not ranked: " + ranking.reasons[s.id]
            cim = cs.ci_method or "none"
            if cs.mismatch:
                cim += f"; the results file claims {fmt_num(cs.claimed)}, its samples give {fmt_num(cs.recomputed)} (shown)"
            if cs.n_nan:
                cim += f"; {cs.n_nan} NaN item(s) left out"
            return TaskRow(
                system_id=s.id,
                href=f"../systems/{s.id}.html",
                name=s.display_name,
                kind=s.kind,
                rank_label=e.rank_label if e else "—",
                group=e.group if e else None,
                tie_note=note,
                tied_with_next=tied,
                value=fmt_num(cs.value),
                ci=fmt_ci(cs.ci),
                ci_method=cim,
                n_docs=fmt_int(cs.n_docs),
                n_original=fmt_int(c.result.n_original),
                n_shot="?" if c.result.n_shot is None else str(c.result.n_shot),
                chat="yes" if s.chat_template else "no",
                parse_fail=fmt_num(cs.parse_fail),
                version=c.result.version or "—",
                data_source=c.data_source or "—",
                metrics=[fmt_num(vals.get(mn)) for mn in metric_names],
                has_samples=(s.id, t) in sample_files,
            )

        ranked = [trow(systems[e.system_id], e) for e in ranking.entries]
        seen = {e.system_id for e in ranking.entries}
        unranked = [trow(s, None) for s in assembly.systems if t in s.cells and s.id not in seen]
        viewer = []
        order = [e.system_id for e in ranking.entries] + [s.id for s in assembly.systems if t in s.cells and s.id not in seen]
        for sid in order:
            if (sid, t) in sample_files:
                viewer.append(ViewerSystem(sid, systems[sid].display_name, "../" + sample_files[(sid, t)], fmt_num(st.cells[(sid, t)].value)))
        meta = assembly.task_meta.get(t, {})
        meta_rows = [(str(k), v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)) for k, v in meta.items()]
        tplots = _task_plots(t, assembly, st, name_to_id, include_limited) if t in suite else []
        plots.extend(tplots)
        task_pages.append(
            TaskPage(
                task=t,
                slug=task_slug(t),
                file=f"tasks/{task_slug(t)}.html",
                metric=h.metric,
                higher_is_better=h.higher_is_better,
                declared=h.declared,
                in_suite=t in suite,
                in_overall=t in st.overall_tasks,
                meta=meta_rows,
                metric_names=metric_names,
                rows=ranked,
                unranked=unranked,
                viewer_systems=viewer,
                plots=tplots,
                docs_file=("../" + docs_files[t]) if docs_files and t in docs_files else None,
                cost=costview.build(t, h.metric, h.higher_is_better,
                                    [s for s in assembly.systems if include_limited or not s.limited],
                                    st.cells, fmt_num, fmt_ci),
            )
        )

    # system pages
    system_pages = []
    for s in assembly.systems:
        e = overall_entry.get(s.id)
        o = st.overall[s.id]
        results = []
        for t in suite + list(assembly.other_tasks):
            if t not in s.cells:
                continue
            c = s.cells[t]
            cs = st.cells[(s.id, t)]
            te = task_entry.get((s.id, t))
            results.append(
                SystemResult(
                    task=t,
                    task_href=f"../tasks/{task_slug(t)}.html",
                    metric=c.metric,
                    value=fmt_num(cs.value),
                    ci=fmt_ci(cs.ci),
                    ci_method=cs.ci_method or "none",
                    rank=(f"{te.rank_label} of {len(st.task_rankings[t].entries)}" if te else "not ranked"),
                    n_docs=fmt_int(cs.n_docs),
                    n_shot="?" if c.result.n_shot is None else str(c.result.n_shot),
                    data_source=c.data_source or "—",
                    parse_fail=fmt_num(cs.parse_fail),
                    samples=(s.id, t) in sample_files,
                )
            )
        summary = [
            ("kind", s.kind),
            ("base model", s.base_model or "—"),
            ("method", s.method or "—"),
            ("training size", fmt_int(s.train_size)),
            ("n-shot", s.n_shot),
            ("chat template", "yes" if s.chat_template else "no"),
            ("system instruction", _show(s.system_instruction or "—", 4 * SHOWN_TEXT)),
            ("parameters", fmt_params(s.parameters)),
            ("model type", s.model_type),
            ("model_args", _show(s.model_args_raw or "—", 4 * SHOWN_TEXT)),
        ]
        if s.limited:
            summary.append(("--limit", f"{s.limit_label or format(s.limit, 'g')} (not ranked unless --include-limited)"))
        runs = []
        for r in s.runs:
            cfg = _kv(r.config)
            for k in ("lm_eval_version", "git_hash", "chat_template_sha", "system_instruction", "fewshot_as_multiturn"):
                v = getattr(r, k, None)
                if v is not None:
                    cfg.append((k, _show(str(v))))
            if r.eval_seconds is not None:
                cfg.append(("total_evaluation_time_seconds", f"{r.eval_seconds:.1f}"))
            runs.append(RunInfo(path=r.path, tasks=[t for t in r.tasks if s.cells.get(t) and s.cells[t].result.run_path == r.path], command=_show(command_for_run(r), 8 * SHOWN_TEXT), config=cfg))
        system_pages.append(
            SystemPage(
                id=s.id,
                file=f"systems/{s.id}.html",
                name=s.name,
                display_name=s.display_name,
                summary=summary,
                overall=fmt_num(o.value),
                overall_ci=fmt_ci(o.ci),
                overall_rank=(f"{e.rank_label} of {len(st.overall_ranking.entries)}" if e else "not ranked"),
                results=results,
                lineage=_lineage_node(s.lineage, {k: f"{v}.html" for k, v in name_to_id.items()}) if s.lineage else None,
                train_command=s.lineage.command if s.lineage else None,
                runs=runs,
            )
        )

    probs = list(collection_problems) + list(assembly.problems) + list(st.problems)
    rep = BuildReport(
        files_seen=files_seen,
        runs_used=len({r.path for s in assembly.systems for r in s.runs}),
        systems=len(assembly.systems),
        errors=[ReportEntry(p.path, p.severity, p.reason) for p in probs if p.severity == "error"],
        warnings=[ReportEntry(p.path, p.severity, p.reason) for p in probs if p.severity == "warning"],
        infos=[ReportEntry(p.path, p.severity, p.reason) for p in probs if p.severity not in ("error", "warning")],
    )
    kinds = sorted({s.kind for s in assembly.systems}, key=lambda k: (KIND_ORDER.index(k) if k in KIND_ORDER else 99, k))
    bases = sorted({s.base_model for s in assembly.systems if s.base_model})
    return SiteContext(
        title=title,
        generated=generated or datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        columns=columns,
        rows=rows,
        limited_rows=limited_rows,
        kinds=kinds,
        base_models=bases,
        overall_tasks=list(st.overall_tasks),
        excluded_from_overall=list(st.excluded_from_overall),
        include_limited=include_limited,
        iters=st.iters,
        corpus_iters=st.corpus_iters,
        seed=st.seed,
        task_pages=task_pages,
        system_pages=system_pages,
        plots=plots,
        report=rep,
    )


# ----------------------------------------------------------------------------------------------
# plot data (drawn by plots.py)

MAX_SERIES = 10
MAX_MERGES = 12


def _task_plots(task: str, a: Assembly, st: Statistics, name_to_id: dict[str, str], include_limited: bool) -> list[PlotSpec]:
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
    by_name = {s.name: s for s in systems}
    by_path: dict[str, System] = {}
    for s in systems:
        for r in s.runs:
            for k in ("peft", "pretrained"):
                v = r.model_args.get(k)
                if v:
                    by_path[_norm_path(v)] = s
    merges = [s for s in systems if s.kind == "merge" and s.lineage and s.lineage.inputs]
    if merges:
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
