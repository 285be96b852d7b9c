"""Stage 5 — the template context: one typed value (dataclasses) holding everything the site shows.

One builder per page, each in its own module: :mod:`.index_page` (index), :mod:`.task_page` (task
pages and the tasks list), :mod:`.system_page`, :mod:`.plot_specs` (plots page and task-page plots);
the build report is assembled here and the about page reads the site-wide fields below. Numbers stay
numbers here: templates format them with the filters of :mod:`.fmt`; only sentences composed in
Python (tooltips, notes) hold formatted numbers. Text from result files stays raw: escaping is the
renderer's job (Jinja autoescape, :mod:`.safejson` for data), which keeps a single place where it happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from .collect import Problem
from .index_page import IndexRow, TaskColumn, columns, index_rows
from .paths import data_file, docs_file, task_slug
from .plot_specs import PlotSpec
from .stats import Statistics
from .system_page import SystemPage, command_for_run, system_pages
from .systems import Assembly
from .task_page import TaskPage, task_pages

# the names other modules and tests take from here
__all__ = ["BuildReport", "PlotSpec", "ReportEntry", "SiteContext", "build_context", "command_for_run", "data_file",
           "docs_file", "task_slug"]

KIND_ORDER = ("base", "api", "adapter", "merge", "baseline")


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
    overall_note: str  # how most rows' overall was made (the Overall header's tooltip)
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


def build_report(assembly: Assembly, st: Statistics, collection_problems: list[Problem], files_seen: int) -> BuildReport:
    probs = list(collection_problems) + list(assembly.problems) + list(st.problems)
    return BuildReport(
        files_seen=files_seen,
        runs_used=len({r.path for s in assembly.systems for r in s.runs}),
        systems=len(assembly.systems),
        errors=[ReportEntry(p.path, p.severity, p.reason) for p in probs if p.severity == "error"],
        warnings=[ReportEntry(p.path, p.severity, p.reason) for p in probs if p.severity == "warning"],
        infos=[ReportEntry(p.path, p.severity, p.reason) for p in probs if p.severity not in ("error", "warning")],
    )


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
    """``sample_files``: (system id, task) -> site-relative per-sample data file; ``docs_files``:
    task -> its shared prompts file (both written by the samples stage)."""
    cols = columns(assembly, st)
    rows, limited_rows, overall_note = index_rows(assembly, st, cols, include_limited)
    tps = task_pages(assembly, st, sample_files, docs_files or {}, include_limited)
    return SiteContext(
        title=title,
        generated=generated or datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        columns=cols,
        rows=rows,
        limited_rows=limited_rows,
        overall_note=overall_note,
        kinds=sorted({s.kind for s in assembly.systems}, key=lambda k: (KIND_ORDER.index(k) if k in KIND_ORDER else 99, k)),
        base_models=sorted({s.base_model for s in assembly.systems if s.base_model}),
        overall_tasks=list(st.overall_tasks),
        excluded_from_overall=list(st.excluded_from_overall),
        include_limited=include_limited,
        iters=st.iters,
        corpus_iters=st.corpus_iters,
        seed=st.seed,
        task_pages=tps,
        system_pages=system_pages(assembly, st, sample_files),
        plots=[p for tp in tps for p in tp.plots],
        report=build_report(assembly, st, collection_problems, files_seen),
    )
