"""The study's findings from finished runs, each with a 95% bootstrap confidence interval.

    ecomsuite reproduce smoke --report

A view over the leaderboard's gathered data: its runs and systems (``leaderboard.collect``,
``leaderboard.systems``), its samples reader (``leaderboard.samples``) and its cell statistics
(``leaderboard.stats`` over ``ecomsuite.bootstrap``): the report and the site give one value and one CI
for one cell; the paired comparisons below use the same bootstrap.

- **Score**: the task's headline metric (``metadata.headline``) recomputed from the per-sample items
  lm-eval logged, so corpus metrics (macro-F1, span-F1, BLEU) are resampled as corpus metrics.
- **Documents** are keyed by their own identity (the document's ``id``, else a hash of the document),
  never by lm-eval's positional ``doc_id``; a score's data is its task's ``data_fingerprint`` + ``locale``
  (lm-eval results ``configs.<task>.metadata``). Two scores are compared only within one task (one
  scoring protocol: multiple-choice likelihood and generation are never mixed) and on the same data.
- A task whose documents cluster (``metadata.bootstrap_cluster``, e.g. ESCI's ``query_id``) is
  resampled by cluster.
- **Systems** are the leaderboard's (``systems.assemble``), described by their ``lineage.json`` (kind, tasks,
  training size, seed); systems without lineage (zero/few-shot models, API models) are the model named in
  the results file, with its n-shot.
- **Selection**: a finding that picks "the best" system on the documents it then tests on is labelled
  *exploratory*; when a validation twin of the task was scored (a task whose ``metadata.validation_for``
  names it), systems are picked there and the finding is confirmatory. Within each section the paired
  comparisons are Holm-corrected (family-wise error 5%).
- **Break-even training size** (section 5): per task, the smallest training size from which on a single-task
  fine-tuned system is separably better (paired bootstrap, Holm over the section) than the best prompted
  (zero/few-shot) system, at that size and every larger size scored; a curve that is separably better at a
  size, then not at a larger one, says so. Its uncertainty: the paired difference's CI at that size and the
  bracket (the next smaller size scored, not separable). Otherwise "not reached up to N".
- **Cost** (section 6): inference per 1,000 documents from the eval run's cost record
  (``cost_<date_id>.ecomsuite.json`` beside the results file, ``ecomsuite.cost``), money when a price per
  million tokens is known (the record's own, else the study's ``price_per_mtok`` of the base model or API
  model whose results folder it is), and training cost from the adapter's ``lineage.json`` ``train_cost``.
- Bad lines of a samples file follow the leaderboard's reader: a line that cannot be used (truncated or
  corrupt JSON, a repeated document, no item, a NaN item) is left out, the cell is flagged (``‡``) and the
  file with its line (or count) is named under "Problems"; a file that cannot be used at all leaves its cell
  without a CI (``†``). Documents identified by position only (no ``doc`` logged) are flagged and never compared.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from ecomsuite import bootstrap, cost

SEED = 1234     # the leaderboard's build seed (leaderboard/build.py --seed): a cell's resamples are seeded by
                # (SEED, task) there and here, so the report and the site give one CI for one cell
ALPHA = 0.05
PROMPTED = ("base", "api")                  # systems used as they are, zero/few-shot
TRAINED = ("adapter", "model")              # ecomsuite sft outputs (LoRA/QLoRA adapters, full fine-tunes)
RULES = ("Rules: each value is the task's headline metric recomputed from the logged per-sample items, "
         f"with a 95% bootstrap CI (ecomsuite.bootstrap, {bootstrap.N_BOOT_CORPUS} resamples, seed ({SEED}, task) as on "
         "the leaderboard; clustered where the task names a "
         "bootstrap_cluster). Documents are matched by their own id; two systems are compared only within one "
         "task (one scoring protocol) and on the same data (fingerprint + locale). Paired differences are "
         "Holm-corrected within each section (family-wise 5%). A finding is *exploratory* when its systems "
         "were selected on the same test documents it is tested on (no validation twin of the task was scored).")


# ------------------------------------------------------------------------------------- values
@dataclass(frozen=True)
class System:
    """One system as its lineage (or, without one, its results file) identifies it."""
    label: str
    kind: str                                   # adapter | model | merge | baseline | base | api | ...
    tasks: tuple[str, ...] = ()                 # trained on (lineage ``tasks``)
    sizes: tuple[tuple[str, int], ...] = ()     # (task, training documents) pairs
    seed: object = None
    base: str | None = None
    complete: bool = True
    shots: str = "0"                            # n-shot of the evaluation
    chat: bool = False                          # evaluated through the chat template
    train_cost: dict | None = field(default=None, compare=False, hash=False)   # lineage ``train_cost``

    @property
    def zero_shot(self) -> bool:
        return self.kind in PROMPTED and self.shots == "0" and not self.chat

    def trained_on(self, task: str, mixed: bool = True) -> bool:
        """An sft output trained on this task (not one scored on it only as a cross-task check)."""
        return self.kind in TRAINED and task in self.tasks and (mixed or len(self.tasks) == 1)

    def size(self, task: str) -> int | None:
        return dict(self.sizes).get(task)


@dataclass
class Score:
    system: str
    task: str
    metric: str
    value: float
    items: dict = field(default_factory=dict)       # document id -> item
    n: int = 0
    limited: bool = False
    clusters: dict | None = None                    # document id -> cluster (bootstrap_cluster)
    data: tuple = (None, None)                      # (data fingerprint, locale)
    protocol: str | None = None                     # lm-eval output_type
    rigid: bool = False
    validation_for: str | None = None               # this task is the validation twin of that task
    sys: System | None = None
    problem: str | None = None                      # why there are no per-sample items
    file_value: float | None = None                 # what the results file claims
    cost: dict | None = None                        # this task's cost record (ecomsuite.cost) + run-level fields
    run_path: str | None = None                     # the results file
    ci: tuple[float, float] | None = None           # the leaderboard's bootstrap CI of this cell
    flags: tuple[str, ...] = ()                     # lines of the samples file left out (named under Problems)
    positional: bool = False                        # documents identified by position only: never compared
    higher: bool = True                             # the metric's direction (the results file's higher_is_better)

    @property
    def seed(self) -> tuple:
        return (SEED, self.task)

    def constant_answer(self) -> str | None:
        """The one label a classifier gave for every document (a majority-class collapse), else None."""
        if self.metric != "macro_f1" or len(self.items) < 2:
            return None
        preds = {str(it[1]) for it in self.items.values() if isinstance(it, (list, tuple)) and len(it) == 2}
        return preds.pop() if len(preds) == 1 else None

    def fmt(self) -> str:
        ci = self.ci
        const = self.constant_answer()
        claim = (f" (results file says {self.file_value:.3f})"
                 if self.file_value is not None and abs(self.file_value - self.value) > 5e-4 else "")
        return (f"{self.value:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else " [no CI]") + f" (n={self.n})"
                + claim + (f" [answers {const!r} for every document]" if const else "")
                + (" [partial: see Problems]" if self.flags else ""))


# ------------------------------------------------------------------------------------ reading
def load_scores(out: Path, problems: list[str] | None = None) -> dict[tuple[str, str], Score]:
    """(system label, task) -> Score, over the leaderboard's gathered data: its runs and systems
    (``collect`` -> ``systems.assemble``: newer runs supersede), its samples reader (``samples.load_all``)
    and its cell statistics (``stats.compute``, seed ``SEED``); a cell of every task that declares a headline."""
    from ecomsuite.leaderboard import collect, samples, stats, systems

    problems = [] if problems is None else problems
    roots = [p for p in (Path(out) / "results", Path(out) / "baselines") if p.exists()]
    if not roots:
        return {}
    col = collect.collect(roots, model_roots=[Path.cwd()])  # a study's adapter paths are relative to where it ran
    problems += [f"{p.path}: {p.reason}" for p in col.problems if p.severity != "info"]
    asm = systems.assemble(col.runs)
    pos = {r.path: i for i, r in enumerate(col.runs)}   # systems in the order of their first run, as collected
    order = sorted(asm.systems, key=lambda s: min((r.timestamp, pos[r.path]) for r in s.runs))
    cells = {(s.id, t): c for s in order for t, c in s.cells.items() if asm.headlines[t].declared and c.value is not None}
    jobs = [samples.SampleJob(sid, t, c.metric, c.filter, c.samples_path, None, stats.cluster_field(c.result.metadata))
            for (sid, t), c in cells.items() if c.samples_path]
    read = {(d.system_id, d.task): d for d in samples.load_all(jobs)}
    st = stats.compute(asm, {k: d for k, d in read.items() if d.error is None}, seed=SEED)
    said: dict[str, list[str]] = {}
    for p in st.problems:
        if p.severity != "info":
            said.setdefault(p.path, []).append(p.reason)
    named = _systems(order)
    runs = {r.path: r for s in asm.systems for r in s.runs}
    scores: dict[tuple[str, str], Score] = {}
    for (sid, task), cell in cells.items():
        sc = _score(cell, st.cells[(sid, task)], read.get((sid, task)), named[sid], runs[cell.result.run_path],
                    said, problems)
        sc.higher = asm.headlines[task].higher_is_better
        scores[(sc.system, task)] = sc
    return scores


def _systems(order: list) -> dict[str, System]:
    """The System of each leaderboard system (its identity: ``systems.assemble``), labelled by its lineage, else
    its model, and its n-shot; a label two systems share gets " #2", " #3" (in the order given)."""
    out: dict[str, System] = {}
    seen: dict[str, int] = {}
    for s in order:
        lin, name = s.lineage, s.runs[0].model_name
        if lin is not None and lin.kind:
            sizes = lin.extra.get("train_docs")
            if not isinstance(sizes, dict):
                sizes = lin.train_sizes or ({t: lin.train_size for t in lin.tasks} if lin.train_size is not None else {})
            tc = lin.extra.get("train_cost")
            sysm = System(lin.name or (Path(lin.source).parent.name if lin.source else name), s.kind, tuple(lin.tasks),
                          tuple(sorted((str(t), int(n)) for t, n in sizes.items() if isinstance(n, (int, float)))),
                          lin.seed, lin.base_model, lin.extra.get("complete") is not False, s.n_shot, s.chat_template,
                          tc if isinstance(tc, dict) else None)
        else:  # a model used as it is; a local folder is named by the folder
            sysm = System(Path(name).name if Path(name).is_absolute() else name, s.kind, base=name, shots=s.n_shot,
                          chat=s.chat_template)
        label = sysm.label
        if lin is None or not lin.kind or s.kind in PROMPTED or s.n_shot != "0" or s.chat_template:
            label += f" ({s.n_shot}-shot{', chat' if s.chat_template else ''})"
        seen[label] = seen.get(label, 0) + 1
        out[s.id] = dataclasses.replace(sysm, label=label if seen[label] == 1 else f"{label} #{seen[label]}")
    return out


RUN_COST_KEYS = ("model", "device", "dtype", "batch_size", "world_size", "timing", "price_per_mtok")


def _score(cell, cs, sd, sysm: System, run, said: dict[str, list[str]], problems: list[str]) -> Score:
    """A leaderboard cell (its statistics ``cs``, its samples ``sd``) as a Score. Lines of the samples file that
    the reader left out flag the cell (value and CI from the rest); the file is named once under Problems."""
    meta, path = cell.result.metadata or {}, cell.samples_path
    items, clusters, why = {}, None, None
    notes = list(sd.warnings) if sd else []
    if not path:
        why = f"no samples file for {cell.task} (run lm-eval with --log_samples); shown without a CI"
    elif sd.error:
        why = sd.error
    elif cs.prepared is None:
        why = f"per-sample {cell.metric!r} items that ecomsuite.metrics cannot aggregate; shown without a CI"
    else:
        items = dict(zip(cs.doc_ids.tolist(), sd.items))   # the items are decoded from the cache when read
        clusters = dict(zip(cs.doc_ids.tolist(), cs.clusters)) if cs.clusters is not None else None
    positional = bool(items) and sd.key_source == "position"
    if positional:
        notes.append("lines without their document ('doc'): identified by position only, never compared")
    problem = f"{path or run.path}: " + "; ".join([why, *notes] if why else [*notes, *said.get(path, [])])
    problems += [problem] if why or notes or said.get(path) else []
    rec = run.cost or {}
    tc = rec.get("tasks", {}).get(cell.task)
    return Score(sysm.label, cell.task, cell.metric, float(cs.value), items, cs.n_docs or 0, cell.run_limit is not None,
                 clusters, cs.data_id, cell.result.output_type,
                 cell.result.output_type == "multiple_choice" or meta.get("rigid") is True, meta.get("validation_for"),
                 sysm, problem if why else None, float(cell.value),
                 {**tc, **{k: rec.get(k) for k in RUN_COST_KEYS}} if isinstance(tc, dict) else None, run.path,
                 ci=cs.ci if "bootstrap" in (cs.ci_method or "") and len(items) > 1 else None,
                 flags=() if why else tuple(notes), positional=positional)


# ------------------------------------------------------------------------------- comparisons
@dataclass
class Comparison:
    """a - b on the documents both were scored on, within one task and one data set."""
    a: Score
    b: Score
    exploratory: bool = False
    refused: str | None = None
    diff: tuple | None = None       # (difference, lo, hi, n_common): the paired bootstrap's 95% CI
    p: float | None = None          # two-sided bootstrap p-value of "no difference"
    separable: bool = False         # rejected by Holm's procedure over the section
    family: int = 0                 # comparisons in the section's Holm family

    def __post_init__(self):
        self.refused = self.refused or _refusal(self.a, self.b)

    def compute(self) -> None:
        a, b = self.a, self.b
        clusters = {**(b.clusters or {}), **(a.clusters or {})} or None
        r = bootstrap.paired_distribution(a.metric, a.items, b.items, clusters=clusters, seed=a.seed)
        ci = None if r is None else bootstrap.percentile_ci(r[1])
        if ci is not None:
            self.diff, self.p = (r[0], ci[0], ci[1], r[2]), bootstrap.pvalue(r[1])

    def verdict(self) -> str:
        tag = " (exploratory: selected and tested on the same documents)" if self.exploratory else ""
        if self.refused:
            return f"not compared: {self.refused}{tag}"
        if self.diff is None:
            return f"no paired samples{tag}"
        d, lo, hi, n = self.diff
        sep = "separable" if self.separable else "NOT separable"
        return (f"diff {d:+.3f} [{lo:+.3f}, {hi:+.3f}] on {n} docs, p={self.p:.3g}: {sep} "
                f"(Holm, {self.family} comparison{'s' if self.family != 1 else ''} in this section){tag}")


def _refusal(a: Score, b: Score) -> str | None:
    if a.task != b.task or a.metric != b.metric:
        return f"different tasks/protocols ({a.task} {a.protocol} vs {b.task} {b.protocol})"
    if a.data != b.data:
        return f"different data ({_data(a)} vs {_data(b)})"
    if a.problem or b.problem:
        return "per-sample items missing (see Problems)"
    if a.positional or b.positional:
        return "documents identified by position only (see Problems)"
    return None


def _data(s: Score) -> str:
    fp, loc = s.data
    return f"data {fp or '?'}" + (f", locale {loc}" if loc else "")


def holm(comparisons: list[Comparison], alpha: float = ALPHA) -> list[Comparison]:
    """Paired bootstrap of every comparison of a section, then Holm's step-down over their p-values
    (``ecomsuite.bootstrap.holm``): ``separable`` holds the family-wise decision."""
    live = [c for c in comparisons if not c.refused]
    for c in live:
        c.compute()
    live = [c for c in live if c.diff is not None]
    for c, rejected in zip(live, bootstrap.holm([c.p for c in live], alpha)):
        c.separable, c.family = rejected, len(live)
    return comparisons


def _best(scores: list[Score]) -> Score:
    return max(scores, key=lambda s: s.value if s.higher else -s.value)


def _select(candidates: list[Score], task: str, by_task: dict, twin: dict) -> tuple[Score, bool]:
    """The best candidate, chosen on the task's validation twin when every candidate was scored
    there -> (choice, exploratory)."""
    val = twin.get(task)
    if val:
        on_val = [by_task[val].get(s.system) for s in candidates]
        if on_val and all(v is not None for v in on_val):
            pick = _best(on_val)
            return next(s for s in candidates if s.system == pick.system), False
    return _best(candidates), True


def _twins(scores: dict) -> dict[str, str]:
    """test task -> its validation twin (a scored task whose ``metadata.validation_for`` names it)."""
    return {sc.validation_for: sc.task for sc in scores.values() if sc.validation_for}


# ------------------------------------------------------------------------------------ report
def report(out: Path, study: dict | None = None) -> str:
    problems: list[str] = []
    scores = load_scores(Path(out), problems)
    if not scores and not problems:
        return f"no results under {out} yet (run the study first)"
    lines = [f"# Findings of {study.get('name') if study else out} (headline metric per task, 95% bootstrap CI)",
             "", RULES]
    incomplete = sorted({s.system for s in scores.values() if s.sys and not s.sys.complete})
    if incomplete:
        lines.append(f"note: lineage says incomplete (left out of the findings): {', '.join(incomplete)}")
    usable = {k: s for k, s in scores.items() if not (s.sys and not s.sys.complete)}
    if any(sc.limited for sc in usable.values()):
        lines.append("note: evaluated with a per-task document limit; CIs are wide on purpose.")
    tasks = sorted({t for _, t in usable})
    by_task = {t: {s: sc for (s, tt), sc in usable.items() if tt == t} for t in tasks}
    twin = _twins(usable)
    lines += _fine_tuned_vs_prompted(tasks, by_task, twin)
    lines += _size_curves(tasks, by_task)
    lines += _mixed_vs_single(tasks, by_task)
    lines += _merges(tasks, by_task, twin)
    lines += _break_even(tasks, by_task, twin)
    lines += _costs(tasks, by_task, Path(out), study)
    lines += _table(usable, tasks, by_task)
    if problems:
        lines.append("\n## Problems")
        lines += [f"- {p}" for p in dict.fromkeys(problems)]
    return "\n".join(lines)


def _by_data(scores: dict) -> dict[tuple, list[Score]]:
    out: dict[tuple, list[Score]] = {}
    for sc in scores.values():
        out.setdefault(sc.data, []).append(sc)
    return out


def _head(t: str, group: list[Score], n_data: int) -> str:
    s = group[0]
    return f"- {t} [{s.protocol or '?'}, {s.metric}" + (f", {_data(s)}" if n_data > 1 else "") + "]"


def _kind(sc: Score) -> str:
    return "rigid format" if sc.rigid else "free generation"


def _section(title: str, rows: list[tuple[str, Comparison | None]]) -> list[str]:
    holm([c for _, c in rows if c is not None])
    body = [text + (f" -> {c.verdict()}" if c is not None else "") for text, c in rows]
    return [f"\n## {title}", *(body or ["- (no runs of this kind)"])]


def _findings_tasks(tasks: list[str], by_task: dict) -> list[str]:
    """The test tasks (validation twins only serve to select)."""
    return [t for t in tasks if not any(s.validation_for for s in by_task[t].values())]


def _fine_tuned_vs_prompted(tasks, by_task, twin) -> list[str]:
    rows: list[tuple[str, Comparison | None]] = []
    for t in _findings_tasks(tasks, by_task):
        groups = _by_data(by_task[t])
        for group in groups.values():
            head = _head(t, group, len(groups))
            tuned = [s for s in group if s.sys.trained_on(t)]
            prompted = [s for s in group if s.sys.kind in PROMPTED]
            if tuned and prompted:
                bt, ex_t = _select(tuned, t, by_task, twin)
                bp, ex_p = _select(prompted, t, by_task, twin)
                rows.append((f"{head}: best fine-tuned {bt.system} {bt.fmt()} vs best prompted {bp.system} {bp.fmt()}",
                             Comparison(bt, bp, exploratory=ex_t or ex_p)))
            elif tuned or prompted:
                only, other = ("fine-tuned", "prompted") if tuned else ("prompted", "fine-tuned")
                b = _select(tuned or prompted, t, by_task, twin)[0]
                rows.append(((f"{head}: best {only} {b.system} {b.fmt()}; no {other} system was scored under this "
                             "protocol (never compared across tasks)"), None))
            if tuned:
                bt, ex_t = _select(tuned, t, by_task, twin)
                for b in sorted((s for s in group if s.sys.kind == "baseline"), key=lambda s: s.system):
                    rows.append((f"  - baseline {b.system} {b.fmt()} vs best fine-tuned", Comparison(bt, b, exploratory=ex_t)))
    return _section("1. Fine-tuned small model vs. prompted (zero/few-shot, API), each within its task's own "
                    "scoring protocol", rows)


def _size_curves(tasks, by_task) -> list[str]:
    rows: list[tuple[str, Comparison | None]] = []
    for t in _findings_tasks(tasks, by_task):
        groups = _by_data(by_task[t])
        for group in groups.values():
            curve: dict[int, list[Score]] = {}
            for s in group:
                if s.sys.trained_on(t, mixed=False) and s.sys.size(t) is not None:
                    curve.setdefault(s.sys.size(t), []).append(s)
            if not curve:
                continue
            pts = ", ".join(f"n={n}: {sum(x.value for x in v) / len(v):.3f}" + (f" (mean of {len(v)})" if len(v) > 1 else "")
                            for n, v in sorted(curve.items()))
            zs = "".join(f"zero-shot {s.system} {s.value:.3f}; " for s in group if s.sys.zero_shot)
            text = f"{_head(t, group, len(groups))} [{_kind(group[0])}]: {zs}{pts}"
            sizes = sorted(curve)
            if len(sizes) < 2:
                rows.append((text, None))
                continue
            small, large = _same_seed(curve[sizes[0]], curve[sizes[-1]])
            rows.append((f"{text}; largest vs smallest ({large.system} vs {small.system})", Comparison(large, small)))
    return _section("2. Training data needed (score vs. training documents, single-task adapters)", rows)


def _same_seed(a: list[Score], b: list[Score]) -> tuple[Score, Score]:
    """One run of each size, trained with the same seed where there is one."""
    for x in sorted(a, key=lambda s: str(s.sys.seed)):
        for y in b:
            if y.sys.seed == x.sys.seed and y.sys.base == x.sys.base:
                return x, y
    return a[0], b[0]


def _mixed_vs_single(tasks, by_task) -> list[str]:
    rows: list[tuple[str, Comparison | None]] = []
    for t in _findings_tasks(tasks, by_task):
        group = list(by_task[t].values())
        for m in sorted((s for s in group if s.sys.trained_on(t) and len(s.sys.tasks) > 1), key=lambda s: s.system):
            same = [s for s in group if s.sys.trained_on(t, mixed=False) and s.sys.size(t) == m.sys.size(t)
                    and s.sys.seed == m.sys.seed and s.sys.base == m.sys.base
                    and (s.sys.shots, s.sys.chat) == (m.sys.shots, m.sys.chat)]
            for single in same[:1]:
                rows.append(((f"- {t} (n={m.sys.size(t)} per task): mixed {m.system} {m.fmt()} vs single "
                             f"{single.system} {single.fmt()}"), Comparison(m, single)))
    return _section("3. Mixed-task vs. single-task training (same documents per task, same seed)", rows)


def _merges(tasks, by_task, twin) -> list[str]:
    rows: list[tuple[str, Comparison | None]] = []
    for t in _findings_tasks(tasks, by_task):
        group = list(by_task[t].values())
        singles = [s for s in group if s.sys.trained_on(t)]
        for m in sorted((s for s in group if s.sys.kind == "merge" and t in s.sys.tasks), key=lambda s: s.system):
            peers = [s for s in singles if s.data == m.data] or singles
            if not peers:
                continue
            best, ex = _select(peers, t, by_task, twin)
            rows.append(((f"- {t} [{_kind(m)}]: merge {m.system} {m.fmt()} vs best single adapter {best.system} "
                         f"{best.fmt()}"), Comparison(m, best, exploratory=ex)))
    return _section("4. Merging vs. output format (merged adapter vs. the best adapter trained on the task)", rows)


def _better(c: Comparison) -> bool:
    """Separably better: Holm rejected "no difference" and the difference points the metric's good way."""
    return bool(c.separable and c.diff is not None and (c.diff[0] > 0 if c.a.higher else c.diff[0] < 0))


def break_even_size(decisions: list[tuple[int, bool]]) -> tuple[int | None, int | None]:
    """(break-even, first) over (training size, separably better?) pairs: break-even is the smallest size from
    which on every larger size scored is separably better too; first is the smallest separably better size
    (different on a non-monotone curve). None where there is none."""
    pts = sorted(decisions)
    first = next((n for n, ok in pts if ok), None)
    stable = None
    for n, ok in reversed(pts):
        if not ok:
            break
        stable = n
    return stable, first


def _break_even_text(pts: list[tuple[int, Comparison]]) -> str:
    # an adapter giving one label for every document has learned the label prior, not the task: a separable gain
    # of that kind (the majority label beating a model that misses the rest) does not count as breaking even
    collapsed = {n: c.a.constant_answer() for n, c in pts if _better(c) and c.a.constant_answer()}
    decisions = [(n, _better(c) and n not in collapsed) for n, c in pts]
    stable, first = break_even_size(decisions)
    largest = max(n for n, _ in pts)
    why = "".join(f"; n={n} is separably better but answers {lab!r} for every document (not counted)"
                  for n, lab in sorted(collapsed.items()))
    if stable is None:
        tail = f" (separably better at n={first} only, not at larger sizes)" if first is not None else ""
        return f"break-even: not reached up to n={largest}{tail}{why}"
    c = dict(pts)[stable]
    d, lo, hi, docs = c.diff
    smaller = [n for n, _ in sorted(pts) if n < stable]
    bracket = (f"between n={smaller[-1]} (not separable) and n={stable}" if smaller
               else f"at or below n={stable}, the smallest size scored")
    dips = [n for n, ok in decisions if n < stable and ok]
    note = f"; also separably better at n={', '.join(map(str, dips))} but not at every size after it" if dips else ""
    return f"break-even: n={stable} ({bracket}; diff {d:+.3f} [{lo:+.3f}, {hi:+.3f}] on {docs} docs){note}{why}"


def _break_even(tasks, by_task, twin) -> list[str]:
    """Section 5: per task, each training size's best single-task adapter vs the best prompted system, Holm over
    every comparison of the section, then the break-even size of each curve."""
    curves: list[tuple[str, Score, bool, list[tuple[int, Comparison]]]] = []
    for t in _findings_tasks(tasks, by_task):
        groups = _by_data(by_task[t])
        for group in groups.values():
            prompted = [s for s in group if s.sys.kind in PROMPTED]
            sized: dict[int, list[Score]] = {}
            for s in group:
                if s.sys.trained_on(t, mixed=False) and s.sys.size(t) is not None:
                    sized.setdefault(s.sys.size(t), []).append(s)
            if not prompted or not sized:
                continue
            bp, ex_p = _select(prompted, t, by_task, twin)
            pts = []
            for n in sorted(sized):
                bt, ex_t = _select(sized[n], t, by_task, twin)
                pts.append((n, Comparison(bt, bp, exploratory=ex_t or ex_p)))
            curves.append((_head(t, group, len(groups)), bp, any(c.exploratory for _, c in pts), pts))
    holm([c for *_, pts in curves for _, c in pts])
    lines = [("\n## 5. Break-even training size (smallest size from which a single-task adapter is separably better "
              "than the best prompted system)")]
    for head, bp, exploratory, pts in curves:
        lines.append(f"{head}: vs best prompted {bp.system} {bp.fmt()}"
                     + (" (exploratory: selected and tested on the same documents)" if exploratory else ""))
        for n, c in pts:
            lines.append(f"  - n={n}: {c.a.system} {c.a.fmt()} -> {c.verdict()}")
        if any(c.refused or c.diff is None for _, c in pts):
            lines.append("  - break-even: not determined (a size could not be compared; see above)")
        else:
            lines.append(f"  - {_break_even_text(pts)}")
    if not curves:
        lines.append("- (no task has both prompted systems and single-task adapters with training sizes)")
    return lines


def _price(study: dict | None, out: Path, sc: Score) -> tuple[dict | None, str | None]:
    """(USD per million tokens, where it came from): the cost record's own price, else the study's
    ``price_per_mtok`` of the API model (results/api/<name>/) or base model (results/<name>/...) whose results
    folder holds the run (adapters and merges of a base model run at that base model's price)."""
    if sc.cost and sc.cost.get("price_per_mtok"):
        return sc.cost["price_per_mtok"], "recorded with the run"
    if not study or not sc.run_path:
        return None, None
    try:
        parts = Path(sc.run_path).resolve().relative_to((out / "results").resolve()).parts
    except ValueError:
        return None, None
    if len(parts) > 2 and parts[0] == "api":
        entries, name = study.get("api_models") or [], parts[1]
    elif parts:
        entries, name = study.get("base_models") or [], parts[0]
    else:
        return None, None
    entry = next((e for e in entries if isinstance(e, dict) and e.get("name") == name), None)
    price = entry.get("price_per_mtok") if entry else None
    return (cost.check_price(price, f"study {name}: price_per_mtok"), "study") if price is not None else (None, None)


def _fmt_int(v) -> str:
    return "?" if v is None else f"{v:,.0f}"


def _cost_text(sc: Score, price: dict | None) -> str:
    c = sc.cost
    if not c:
        return "no cost record (evaluated before cost recording, or not through ecomsuite eval)"
    k = c.get("per_1k_documents") or cost.per_1k(c, None)
    money = cost.usd(k.get("prompt_tokens"), k.get("generated_tokens"), price)
    src = c.get("tokens_source") or "not counted"
    secs = k.get("seconds")
    return (f"{_fmt_int(k.get('prompt_tokens'))} prompt + {_fmt_int(k.get('generated_tokens'))} generated tokens "
            f"({src}), {'?' if secs is None else f'{secs:,.1f}'} s"
            + (f", ${money:,.4g}" if money is not None else "")
            + f" [{c.get('device') or '?'}, {c.get('dtype') or '?'}, batch {c.get('batch_size')}, "
              f"{c.get('documents')} docs measured]")


def _train_text(tc: dict | None) -> str:
    if not tc:
        return ""
    mem = tc.get("peak_memory_bytes")
    src = str(tc.get("peak_memory_source") or "").split(" ")[0]
    return (f"; training: {_fmt_int(tc.get('trained_tokens'))} tokens, {tc.get('train_time_s')} s on "
            f"{tc.get('device')} x{tc.get('world_size') or 1}, peak memory "
            + ("?" if mem is None else f"{mem / 2**30:.2f} GiB ({src})"))


def _costs(tasks, by_task, out: Path, study: dict | None) -> list[str]:
    lines = [("\n## 6. Cost per 1,000 documents (inference: tokens, model seconds, USD when priced) and training "
              "cost (adapters)")]
    for t in _findings_tasks(tasks, by_task):
        lines.append(f"- {t}:")
        for name, sc in sorted(by_task[t].items()):
            price, where = _price(study, out, sc)
            lines.append(f"  - {name}: {_cost_text(sc, price)}" + (f" (price: {where})" if price else "")
                         + _train_text(sc.sys.train_cost if sc.sys else None))
    return lines


def _table(scores, tasks, by_task) -> list[str]:
    lines = ["\n## Scores by system (headline metric per task; - = not evaluated)"]
    systems = sorted({s for s, _ in scores})
    lines.append("| system | " + " | ".join(f"{t} ({next(iter(by_task[t].values())).metric})" for t in tasks) + " |")
    lines.append("|---|" + "---|" * len(tasks))
    for name in systems:
        cells = []
        for t in tasks:
            sc = by_task[t].get(name)
            cells.append("-" if sc is None else f"{sc.value:.3f}" + ("*" if sc.constant_answer() else "")
                         + ("†" if sc.problem else "") + ("‡" if sc.flags else ""))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if any(sc.constant_answer() for sc in scores.values()):
        lines.append("\n`*` = the same label for every document (majority-class collapse)")
    if any(sc.problem for sc in scores.values()):
        lines.append("\n`†` = no per-sample items (no CI; see Problems)")
    if any(sc.flags for sc in scores.values()):
        lines.append("\n`‡` = lines of the samples file left out (value and CI from the rest; see Problems)")
    lines.append("\n## All scores")
    for t in tasks:
        for name, s in sorted(by_task[t].items(), key=lambda kv: -kv[1].value if kv[1].higher else kv[1].value):
            lines.append(f"- {t:<20} {s.metric:<9} {s.fmt():<32} {name}")
    return lines
