"""The study's findings from finished runs, each with 95% bootstrap confidence intervals.

    ecomsuite reproduce smoke --report

Scores are each task's headline metric (``metadata.headline`` of the task), recomputed from the
per-sample items lm-eval logged (``ecomsuite.metrics.aggregate``), so corpus metrics (macro-F1,
span-F1, BLEU) are resampled as corpus metrics. Differences between two systems use a *paired*
bootstrap over the documents both were scored on.
"""
from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from ecomsuite.metrics import AGGREGATIONS, HIGHER_IS_BETTER, aggregate

N_BOOT = 300
RIGID = {"ecom_esci", "ecom_esci_gen", "ecom_queryner", "ecom_queryner_pairs", "ecom_attr_extract"}


@dataclass
class Score:
    system: str
    task: str
    metric: str
    value: float
    items: dict = field(default_factory=dict)       # doc_id -> item
    n: int = 0
    limited: bool = False

    def ci(self, seed: int = 0) -> tuple[float, float] | None:
        if len(self.items) < 2:
            return None
        rnd = random.Random(seed)
        ids = list(self.items)
        vals = sorted(aggregate(self.metric, [self.items[rnd.choice(ids)] for _ in ids]) for _ in range(N_BOOT))
        return vals[int(0.025 * N_BOOT)], vals[int(0.975 * N_BOOT) - 1]

    def constant_answer(self) -> str | None:
        """The one label a classifier gave for every document (a majority-class collapse), else None."""
        if self.metric != "macro_f1" or len(self.items) < 2:
            return None
        preds = {str(it[1]) for it in self.items.values() if isinstance(it, (list, tuple)) and len(it) == 2}
        return preds.pop() if len(preds) == 1 else None

    def fmt(self) -> str:
        ci = self.ci()
        const = self.constant_answer()
        return (f"{self.value:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "") + f" (n={self.n})"
                + (f" [answers {const!r} for every document]" if const else ""))


def paired_diff(a: Score, b: Score, seed: int = 0) -> tuple[float, float, float, int] | None:
    """a - b on common documents: (difference, ci_low, ci_high, n_common)."""
    common = sorted(set(a.items) & set(b.items))
    if len(common) < 2:
        return None
    rnd = random.Random(seed)
    d0 = aggregate(a.metric, [a.items[i] for i in common]) - aggregate(b.metric, [b.items[i] for i in common])
    diffs = []
    for _ in range(N_BOOT):
        s = [rnd.choice(common) for _ in common]
        diffs.append(aggregate(a.metric, [a.items[i] for i in s]) - aggregate(b.metric, [b.items[i] for i in s]))
    diffs.sort()
    return d0, diffs[int(0.025 * N_BOOT)], diffs[int(0.975 * N_BOOT) - 1], len(common)


def _system_id(results_file: Path, root: Path) -> str:
    rel = results_file.relative_to(root).parent
    parts = rel.parts
    if len(parts) > 2 and parts[-2] == "eval":  # baselines: OUT/eval/<model>/results_*.json
        parts = parts[:-2] + parts[-1:]
    # results/<rid...>/<sanitized model>/results_*.json  -> rid
    return "/".join(parts[:-1]) if len(parts) > 1 else str(rel)


def load_scores(out: Path) -> dict[tuple[str, str], Score]:
    """(system, task) -> Score, the newest results file per system."""
    scores: dict[tuple[str, str], Score] = {}
    for root in (out / "results", out / "baselines"):
        if not root.exists():
            continue
        for f in sorted(root.rglob("results_*.json")):
            try:
                res = json.loads(f.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue
            system = _system_id(f, root)
            if root.name != "results" and not system.startswith("baseline/"):
                system = "baseline/" + system
            date = f.stem[len("results_"):]
            for task, cfg in (res.get("configs") or {}).items():
                metric = (cfg.get("metadata") or {}).get("headline")
                row = (res.get("results") or {}).get(task, {})
                if not metric or f"{metric},none" not in row:
                    continue
                items = {}
                sf = f.parent / f"samples_{task}_{date}.jsonl"
                if sf.exists() and metric in AGGREGATIONS:
                    for line in sf.read_text(encoding="utf-8").splitlines():
                        s = json.loads(line)
                        if metric in s:
                            items[s.get("doc_id")] = s[metric]
                n = (res.get("n-samples") or {}).get(task, {}).get("effective", len(items))
                scores[(system, task)] = Score(system, task, metric, float(row[f"{metric},none"]), items, n,
                                               bool((res.get("config") or {}).get("limit")))
    return scores


def _trained_on(system: str, task: str, mixed: bool = True) -> bool:
    """An adapter fine-tuned on this task (not one scored on it only as a cross-task check, `also_eval`)."""
    return f"/sft/{task}/" in system or (mixed and "/sft/mixed/" in system)


def _size(system: str) -> int | None:
    m = re.search(r"/n(\d+)/", system + "/")
    return int(m.group(1)) if m else None


def _better(a: float, b: float, metric: str) -> bool:
    return a > b if HIGHER_IS_BETTER.get(metric, True) else a < b


def _verdict(d) -> str:
    if d is None:
        return "no paired samples"
    diff, lo, hi, n = d
    sep = "separable" if lo > 0 or hi < 0 else "NOT separable (CI spans 0)"
    return f"diff {diff:+.3f} [{lo:+.3f}, {hi:+.3f}] on {n} docs: {sep}"


def report(out: Path, study: dict | None = None) -> str:
    scores = load_scores(Path(out))
    if not scores:
        return f"no results under {out} yet (run the study first)"
    lines = [f"# Findings of {study.get('name') if study else out} (headline metric per task, 95% bootstrap CI)"]
    tasks = sorted({t for _, t in scores})
    by_task = {t: {s: sc for (s, tt), sc in scores.items() if tt == t} for t in tasks}
    limited = any(sc.limited for sc in scores.values())
    if limited:
        lines.append("note: evaluated with a per-task document limit; CIs are wide on purpose.")

    lines.append("\n## 1. Fine-tuned small model vs. zero/few-shot (incl. API giants)")
    for t in tasks:
        sc = by_task[t]
        tuned = [s for k, s in sc.items() if _trained_on(k, t)]
        baselines = [s for k, s in sc.items() if k.startswith("baseline/")]
        prompted = [s for k, s in sc.items() if "/base/" in k or k.startswith("api/")]
        if t == "ecom_esci":  # API models answer the generative variant
            prompted += [s for k, s in by_task.get("ecom_esci_gen", {}).items() if k.startswith("api/")]
        if not tuned or not prompted:
            continue
        bt = max(tuned, key=lambda s: s.value if HIGHER_IS_BETTER.get(s.metric, True) else -s.value)
        bp = max(prompted, key=lambda s: s.value)
        lines.append(f"- {t} ({bt.metric}): best fine-tuned {bt.system} {bt.fmt()} vs best prompted "
                     f"{bp.system} {bp.fmt()} -> {_verdict(paired_diff(bt, bp) if bt.metric == bp.metric else None)}")
        for b in baselines:
            lines.append(f"  - baseline {b.system} {b.fmt()} vs fine-tuned: {_verdict(paired_diff(bt, b))}")

    lines.append("\n## 2. Training data needed (score vs. training size, single-task adapters)")
    for t in tasks:
        curve = {}
        for k, s in by_task[t].items():
            if _trained_on(k, t, mixed=False) and _size(k) is not None:
                curve.setdefault(_size(k), []).append(s)
        base = [s for k, s in by_task[t].items() if "/base/k0" in k and not k.endswith("-chat")]
        if len(curve) < 1:
            continue
        pts = ", ".join(f"n={n}: {sum(x.value for x in v) / len(v):.3f}" for n, v in sorted(curve.items()))
        kind = "rigid-format/classification" if t in RIGID else "generation"
        zs = f"zero-shot {base[0].value:.3f}; " if base else ""
        sizes = sorted(curve)
        trend = ""
        if len(sizes) > 1:
            d = paired_diff(curve[sizes[-1]][0], curve[sizes[0]][0])
            trend = f"; largest vs smallest: {_verdict(d)}"
        lines.append(f"- {t} [{kind}]: {zs}{pts}{trend}")

    lines.append("\n## 3. Mixed-task vs. single-task training (same size per task)")
    for t in tasks:
        mixed = [s for k, s in by_task[t].items() if "/sft/mixed/" in k]
        for m in mixed:
            single = [s for k, s in by_task[t].items() if _trained_on(k, t, mixed=False) and _size(k) == _size(m.system)
                      and k.rsplit("/", 1)[-1] == m.system.rsplit("/", 1)[-1]]
            if single:
                lines.append(f"- {t}: mixed {m.fmt()} vs single {single[0].fmt()} -> {_verdict(paired_diff(m, single[0]))}")

    lines.append("\n## 4. Merging vs. output format (merged adapter vs. its inputs, per task)")
    for t in tasks:
        merges = {k: s for k, s in by_task[t].items() if "/merge/" in k}
        for k, m in merges.items():
            inputs = [s for kk, s in by_task[t].items() if _trained_on(kk, t)]
            best_in = max(inputs, key=lambda s: s.value) if inputs else None
            kind = "rigid format" if t in RIGID else "generation"
            if best_in:
                lines.append(f"- {t} [{kind}]: {k} {m.fmt()} vs best single adapter {best_in.system} {best_in.fmt()}"
                             f" -> {_verdict(paired_diff(m, best_in))}")

    lines.append("\n## Scores by system (headline metric per task; - = not evaluated)")
    systems = sorted({s for s, _ in scores})
    lines.append("| system | " + " | ".join(f"{t} ({next(iter(by_task[t].values())).metric})" for t in tasks) + " |")
    lines.append("|---|" + "---|" * len(tasks))
    for sysname in systems:
        cells = [(f"{by_task[t][sysname].value:.3f}" + ("*" if by_task[t][sysname].constant_answer() else ""))
                 if sysname in by_task[t] else "-" for t in tasks]
        lines.append(f"| {sysname} | " + " | ".join(cells) + " |")
    if any(sc.constant_answer() for sc in scores.values()):
        lines.append("\n`*` = the same label for every document (majority-class collapse)")

    lines.append("\n## All scores")
    for t in tasks:
        for k, s in sorted(by_task[t].items(), key=lambda kv: -kv[1].value):
            lines.append(f"- {t:<20} {s.metric:<9} {s.fmt():<32} {k}")
    return "\n".join(lines)
