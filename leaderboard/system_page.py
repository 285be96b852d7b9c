"""System pages: what a system is (summary, lineage), its result on every task, and the commands
that reproduce it. Lineage and results-file config are untrusted input: values are clipped, and
unknown lineage keys are named but not printed."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

from . import safeio
from .collect import Lineage, Run
from .fmt import fmt_int, fmt_params
from .paths import system_file, task_file
from .stats import RankEntry, Statistics
from .systems import Assembly, System


@dataclass
class LineageNode:
    title: str
    fields: list[tuple[str, str]]
    hyperparameters: list[tuple[str, str]]
    extra: list[tuple[str, str]]
    command: str | None
    inputs: list[LineageNode]
    unresolved: list[str]
    source: str | None
    href: str | None  # system page of this input, when it is on the board


@dataclass
class SystemResult:
    task: str
    task_href: str
    metric: str
    value: float | None
    ci: tuple[float, float] | None
    ci_method: str
    rank: str
    n_docs: int | None
    n_shot: int | None
    data_source: str
    parse_fail: float | None
    samples: bool  # the task page's viewer has this system's samples


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
    overall: float | None
    overall_ci: tuple[float, float] | None
    overall_rank: str
    results: list[SystemResult]
    lineage: LineageNode | None
    train_command: str | None
    runs: list[RunInfo]


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
EXTRA_SHOWN = frozenset(["num_parameters", "parameters", "params", "n_params", "dataset", "dataset_fingerprint", "license", "description"])


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


def _results(s: System, tasks: list[str], st: Statistics, rank_of: dict[tuple[str, str], RankEntry],
             sample_files: dict[tuple[str, str], str], hrefs: dict[str, str]) -> list[SystemResult]:
    """``hrefs``: task -> its page from a system page (made once per build, not once per system)."""
    out = []
    for t in tasks:
        if t not in s.cells:
            continue
        c = s.cells[t]
        cs = st.cells[(s.id, t)]
        te = rank_of.get((s.id, t))
        out.append(
            SystemResult(
                task=t,
                task_href=hrefs[t],
                metric=c.metric,
                value=cs.value,
                ci=cs.ci,
                ci_method=cs.ci_method or "none",
                rank=(f"{te.rank_label} of {len(st.task_rankings[t].entries)}" if te else "not ranked"),
                n_docs=cs.n_docs,
                n_shot=c.result.n_shot,
                data_source=c.data_source or "—",
                parse_fail=cs.parse_fail,
                samples=(s.id, t) in sample_files,
            )
        )
    return out


def _summary(s: System) -> list[tuple[str, str]]:
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
    return summary


def _run_info(s: System, r: Run) -> RunInfo:
    cfg = _kv(r.config)
    for k in ("lm_eval_version", "git_hash", "chat_template_sha", "system_instruction", "fewshot_as_multiturn"):
        v = getattr(r, k, None)
        if v is not None:
            cfg.append((k, _show(str(v))))
    if r.eval_seconds is not None:
        cfg.append(("total_evaluation_time_seconds", f"{r.eval_seconds:.1f}"))
    return RunInfo(path=r.path, tasks=[t for t in r.tasks if s.cells.get(t) and s.cells[t].result.run_path == r.path],
                   command=_show(command_for_run(r), 8 * SHOWN_TEXT), config=cfg)


def system_pages(assembly: Assembly, st: Statistics, sample_files: dict[tuple[str, str], str]) -> list[SystemPage]:
    overall = {e.system_id: e for e in st.overall_ranking.entries}
    rank_of = {(e.system_id, t): e for t, r in st.task_rankings.items() for e in r.entries}
    tasks = list(assembly.suite) + list(assembly.other_tasks)
    hrefs = {t: "../" + task_file(t) for t in tasks}
    page_of = {s.name: f"{s.id}.html" for s in assembly.systems}  # lineage inputs on the board, from a system page
    pages = []
    for s in assembly.systems:
        e = overall.get(s.id)
        o = st.overall[s.id]
        pages.append(
            SystemPage(
                id=s.id,
                file=system_file(s.id),
                name=s.name,
                display_name=s.display_name,
                summary=_summary(s),
                overall=o.value,
                overall_ci=o.ci,
                overall_rank=(f"{e.rank_label} of {len(st.overall_ranking.entries)}" if e else "not ranked"),
                results=_results(s, tasks, st, rank_of, sample_files, hrefs),
                lineage=_lineage_node(s.lineage, page_of) if s.lineage else None,
                train_command=s.lineage.command if s.lineage else None,
                runs=[_run_info(s, r) for r in s.runs],
            )
        )
    return pages
