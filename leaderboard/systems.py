"""Stage 2 — assemble: runs -> systems (rows), suite tasks (columns) and headline metrics.

A *system* is one thing that can be ranked: a base model prompted zero- or few-shot, with or
without a chat template; an adapter; a merge; a baseline; an API model. Runs are the same system
when their :meth:`Run.identity` matches (model type, model_args without runtime-only keys, chat
template, system instruction, generation kwargs, limited or not). Runs of the same identity made with
different n-shot settings are merged into one row unless they measured the same task at different
n-shot values — then each n-shot setting is its own row (zero-shot vs. five-shot).

Headline metric per task: the task declares it in its YAML ``metadata: {headline: ...}`` (lm-eval
copies it into ``configs[task].metadata``); otherwise the first metric that ``higher_is_better``
knows, preferring acc_norm / acc / exact_match. No task names are hard-coded.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from .collect import API_MODEL_TYPES, Lineage, Problem, Run, TaskResult, to_int

PREFERRED_FALLBACK = ("acc_norm", "acc", "exact_match")
LOWER_IS_BETTER_NAMES = frozenset({"parse_fail"})
PARSE_FAIL = "parse_fail"


@dataclass
class Headline:
    task: str
    metric: str
    filter: str | None  # None: pick per cell ("none" if present, else the first filter)
    higher_is_better: bool
    declared: bool  # from task metadata, not the fallback rule


@dataclass
class Cell:
    """The result a system has for one task (after newer runs superseded older ones)."""

    task: str
    result: TaskResult
    metric: str
    filter: str
    value: float | None
    stderr: float | None
    parse_fail: float | None
    data_source: str | None
    n_docs_meta: int | None
    samples_path: str | None
    run_limit: float | None = None   # --limit of the run this cell comes from (None: not limited)


@dataclass
class System:
    id: str
    key: tuple
    name: str
    kind: str
    base_model: str | None
    method: str | None
    train_size: int | None
    n_shot: str
    chat_template: bool
    limited: bool
    limit: float | None
    parameters: int | None
    lineage: Lineage | None
    runs: list[Run]
    cells: dict[str, Cell] = field(default_factory=dict)
    model_type: str = ""
    model_args_raw: str = ""
    system_instruction: str | None = None
    limit_label: str = ""              # every --limit among its runs, e.g. "8/24" (per-task limits)
    display_name: str = ""


@dataclass
class Assembly:
    systems: list[System]
    suite: list[str]  # index columns, in display order
    other_tasks: list[str]
    headlines: dict[str, Headline]
    task_meta: dict[str, dict[str, Any]]  # task -> most recent metadata seen
    problems: list[Problem]
    ranked_suite: list[str] = field(default_factory=list)  # the overall score's tasks (the group or --tasks)


def slug(text: str, key: str | None = None, maxlen: int = 40) -> str:
    """File-name-safe, collision-free id: readable prefix + hash of the full key."""
    base = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-.")[:maxlen].strip("-.") or "x"
    h = hashlib.sha1((key if key is not None else text).encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{base}-{h}"


def _headline_for(task: str, results: list[TaskResult]) -> Headline:
    declared = Counter()
    for r in results:
        h = r.metadata.get("headline")
        if isinstance(h, str) and h.strip():
            declared[h.strip()] += 1
    hib: dict[str, bool | None] = {}
    for r in results:
        for k, v in r.higher_is_better.items():
            if hib.get(k) is None:
                hib[k] = v
    if declared:
        spec = declared.most_common(1)[0][0]
        metric, _, filt = spec.partition(",")
        is_declared = True
    else:
        metrics: list[str] = []
        for r in results:
            for m in r.metrics():
                if m not in metrics:
                    metrics.append(m)
        known = [m for m in metrics if m in hib and m not in LOWER_IS_BETTER_NAMES]
        metric = next((m for m in PREFERRED_FALLBACK if m in known), None)
        if metric is None:
            metric = next((m for m in known if hib.get(m) is not False), None)
        if metric is None:
            metric = next((m for m in known), None) or next(
                (m for m in metrics if m not in LOWER_IS_BETTER_NAMES), metrics[0]
            )
        filt = ""
        is_declared = False
    if metric in LOWER_IS_BETTER_NAMES:
        higher = False
    else:
        higher = hib.get(metric) is not False
    return Headline(task, metric, filt or None, higher, is_declared)


def _cell(task: str, r: TaskResult, h: Headline) -> Cell:
    filters = r.metric_filters(h.metric)
    if h.filter and h.filter in filters:
        filt = h.filter
    elif "none" in filters:
        filt = "none"
    elif filters:
        filt = filters[0]
    else:
        filt = h.filter or "none"
    pf = r.values.get((PARSE_FAIL, filt))
    if pf is None:
        pf = next((v for (m, _), v in r.values.items() if m == PARSE_FAIL), None)
    ds = r.metadata.get("data_source")
    if isinstance(ds, str) and privacy_path(ds):
        ds = _public(ds)
    if r.metadata.get("data_is_sample") is True:
        ds = "sample" if ds is None else (str(ds) if "sample" in str(ds).lower() else f"{ds} (sample)")
    return Cell(
        task=task,
        result=r,
        metric=h.metric,
        filter=filt,
        value=r.values.get((h.metric, filt)),
        stderr=r.stderrs.get((h.metric, filt)),
        parse_fail=pf,
        data_source=None if ds is None else str(ds),
        n_docs_meta=r.metadata.get("n_docs") if isinstance(r.metadata.get("n_docs"), int) else None,
        samples_path=r.samples_path,
    )


def privacy_path(v: str) -> bool:
    from . import privacy

    return privacy.looks_like_path(v)


def _infer_kind(run: Run, lineage: Lineage | None) -> str:
    if lineage and lineage.kind:
        return lineage.kind
    if run.model_args.get("peft"):
        return "adapter"
    if run.model_type in API_MODEL_TYPES or "api" in run.model_type.lower():
        return "api"
    return "base"


MAX_NAME = 120  # characters of a system or base-model name (a name is a label, not a document)


def _system_name(run: Run, lineage: Lineage | None) -> str:
    """The model's own name: the lineage's, else lm-eval's model name — never a local path
    (a cache or virtualenv folder becomes the model's config name or folder name)."""
    name = lineage.name if lineage and lineage.name else run.model_name
    return _public(name)


def _public(name: str) -> str:
    from . import privacy

    name = privacy.public_name(name) if privacy.looks_like_path(name) else name
    return name if len(name) <= MAX_NAME else name[:MAX_NAME] + "…"


def assemble(runs: list[Run], suite_group: str = "ecom", task_patterns: list[str] | None = None) -> Assembly:
    problems: list[Problem] = []
    by_identity: dict[tuple, list[Run]] = defaultdict(list)
    for r in runs:
        by_identity[r.identity()].append(r)

    partitions: list[tuple[tuple, list[Run]]] = []
    for ident, group in by_identity.items():
        by_label: dict[str, list[Run]] = defaultdict(list)
        for r in group:
            by_label[r.n_shot_label].append(r)
        task_labels: dict[str, set[str]] = defaultdict(set)
        for label, rs in by_label.items():
            for r in rs:
                for t in r.tasks:
                    task_labels[t].add(label)
        if any(len(v) > 1 for v in task_labels.values()):
            for label, rs in sorted(by_label.items()):
                partitions.append((ident + (label,), rs))
        else:
            partitions.append((ident, group))

    # headlines from every result of each task
    all_results: dict[str, list[TaskResult]] = defaultdict(list)
    for r in runs:
        for t, tr in r.tasks.items():
            all_results[t].append(tr)
    headlines = {t: _headline_for(t, rs) for t, rs in all_results.items()}
    task_meta: dict[str, dict[str, Any]] = {}
    for r in sorted(runs, key=lambda r: r.timestamp):
        for t, tr in r.tasks.items():
            if tr.metadata:
                task_meta[t] = tr.metadata

    systems: list[System] = []
    for key, rs in partitions:
        rs = sorted(rs, key=lambda r: (r.timestamp, r.path))
        newest = rs[-1]
        lineage = next((r.lineage for r in reversed(rs) if r.lineage is not None), None)
        cells: dict[str, Cell] = {}
        chosen: dict[str, Run] = {}
        for r in rs:  # oldest first; newer runs supersede
            for t, tr in r.tasks.items():
                if t in chosen:
                    problems.append(
                        Problem(chosen[t].path, "info", f"task {t!r} superseded by the newer run {r.path}")
                    )
                chosen[t] = r
                cells[t] = _cell(t, tr, headlines[t])
                cells[t].run_limit = r.limit if r.limited else None
        used_ids = {id(r) for r in chosen.values()}
        used = [r for r in rs if id(r) in used_ids]
        shots = sorted({c.result.n_shot for c in cells.values() if c.result.n_shot is not None})
        n_shot = "?" if not shots else "/".join(str(s) for s in shots)
        kind = _infer_kind(newest, lineage)
        base = (lineage.base_model if lineage and lineage.base_model else None) or (
            newest.model_args.get("pretrained") or newest.model_args.get("model") or None
        )
        base = None if base is None else _public(base)
        method = lineage.method if lineage and lineage.method else ("prompting" if kind in ("base", "api") else None)
        params = newest.num_parameters
        if params is None and lineage:
            for k in ("num_parameters", "parameters", "params", "n_params"):
                v = to_int(lineage.extra.get(k))
                if v is not None:
                    params = v
                    break
        lims = sorted({r.limit for r in used if r.limited and r.limit is not None})
        name = _system_name(newest, lineage)
        sid = slug(name, repr(key))
        systems.append(
            System(
                id=sid,
                key=key,
                name=name,
                kind=kind,
                base_model=base,
                method=method,
                train_size=lineage.train_size if lineage else None,
                n_shot=n_shot,
                chat_template=newest.chat_template,
                limited=any(r.limited for r in used),
                limit=lims[-1] if lims else None,
                limit_label="/".join(_fmt_limit(v) for v in lims),
                parameters=params,
                lineage=lineage,
                runs=used,
                cells=cells,
                model_type=newest.model_type,
                model_args_raw=newest.model_args_raw,
                system_instruction=newest.system_instruction,
            )
        )
    _display_names(systems)

    # suite = index columns
    leaf = sorted(all_results)
    if task_patterns:
        suite = [t for t in leaf if any(fnmatch.fnmatchcase(t, p) for p in task_patterns)]
        ranked = list(suite)
    else:
        members = group_members(suite_group, runs)
        ranked = [t for t in leaf if t in members]
        # index columns: the group's tasks plus tasks that declare a headline (shown, not in the overall)
        suite = [t for t in leaf if t in members or headlines[t].declared]
        if not members:
            problems.append(Problem("(suite)", "warning", f"no task of group {suite_group!r} is known (no run records "
                                    "it and no task folder defines it): nothing is ranked overall; "
                                    "pass --tasks or --suite-group"))
    other = [t for t in leaf if t not in suite]
    systems.sort(key=lambda s: (s.display_name.lower(), s.id))
    return Assembly(systems, suite, other, headlines, task_meta, problems, ranked)


def defined_group(group: str) -> set[str]:
    """Leaf tasks of a group as a task folder ecomsuite sees defines it: a group YAML (``group: NAME``, ``task:
    [...]``) in the package's tasks (``tasks/_ecom.yaml``) or in an extra task folder ($ECOMSUITE_INCLUDE_PATH,
    ``ecomsuite --include-path DIR``), read with lm-eval's loader; so a task family kept elsewhere names its suite."""
    import yaml

    from ecomsuite.taskfolders import include_paths, task_files

    load_yaml = None
    for folder in include_paths():
        for path in task_files(folder):
            try:
                if "group:" not in path.read_text(encoding="utf-8"):
                    continue
                load_yaml = load_yaml or lmeval_load_yaml()
                doc = load_yaml(path, resolve_func=False)
            except (OSError, ValueError, yaml.YAMLError):
                continue   # not a readable group definition (`ecomsuite tasks validate` names the file)
            if isinstance(doc, dict) and doc.get("group") == group and isinstance(doc.get("task"), list):
                return {t if isinstance(t, str) else t["task"] for t in doc["task"]
                        if isinstance(t, str) or (isinstance(t, dict) and isinstance(t.get("task"), str))}
    return set()


_LOADER_MODULE = "_ecomsuite_lm_eval_yaml_loader"


def lmeval_load_yaml() -> Any:
    """lm-eval's own YAML reader for task files (``lm_eval.tasks._yaml_loader.load_yaml``: ``include:`` merged,
    ``!function`` tags kept as names), without importing the package ``lm_eval.tasks``: its ``__init__``
    builds the task manager and imports datasets, pandas, requests (2-3 s of every leaderboard build, for
    reading one group file). The module itself imports only the standard library and yaml, so it is run
    from its file; where that fails (another lm-eval layout), it is imported the usual way."""
    import importlib.util
    import sys
    from pathlib import Path

    mod = sys.modules.get("lm_eval.tasks._yaml_loader") or sys.modules.get(_LOADER_MODULE)
    if mod is None:
        try:
            spec = importlib.util.find_spec("lm_eval")  # finds the package, runs none of it
            folder = Path(next(iter(spec.submodule_search_locations or [])))  # type: ignore[union-attr]
            fspec = importlib.util.spec_from_file_location(_LOADER_MODULE, folder / "tasks" / "_yaml_loader.py")
            mod = importlib.util.module_from_spec(fspec)  # type: ignore[arg-type]
            fspec.loader.exec_module(mod)  # type: ignore[union-attr]
            mod.load_yaml  # noqa: B018  (the function this needs is there)
            sys.modules[_LOADER_MODULE] = mod
        except Exception:  # noqa: BLE001
            from lm_eval.tasks import _yaml_loader as mod
    return mod.load_yaml


def group_members(group: str, runs: list[Run]) -> set[str]:
    """The ranked suite: the leaf tasks of ``group`` as the runs recorded it (lm-eval's
    ``group_subtasks``), plus its definition in a task folder (``defined_group``) — never "whatever the inputs
    contain", so one run with an extra task cannot change which systems get an overall score."""
    out = defined_group(group)
    for r in runs:
        out |= _descendants(group, r.group_subtasks)
    return out


def _descendants(group: str, subtasks: dict[str, list[str]], depth: int = 0) -> set[str]:
    out: set[str] = set()
    if depth > 10:
        return out
    for child in subtasks.get(group, []):
        if subtasks.get(child):
            out |= _descendants(child, subtasks, depth + 1)
        else:
            out.add(child)
    return out


def _display_names(systems: list[System]) -> None:
    for s in systems:
        tags = []
        if s.n_shot not in ("0", "?"):
            tags.append(f"{s.n_shot}-shot")
        if s.chat_template:
            tags.append("chat")
        if s.system_instruction:
            tags.append("system prompt")
        if s.limited:
            tags.append(f"limit={s.limit_label or _fmt_limit(s.limit)}")
        s.display_name = s.name + (f" ({', '.join(tags)})" if tags else "")
    seen = Counter(s.display_name for s in systems)
    for s in systems:
        if seen[s.display_name] > 1:
            s.display_name = f"{s.display_name} [{s.id[-6:]}]"


def _fmt_limit(v: float | None) -> str:
    if v is None:
        return ""
    return str(int(v)) if v == int(v) else f"{v:g}"
