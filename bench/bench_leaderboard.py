"""Benchmark: ``ecomsuite leaderboard build`` on 1,000 synthetic runs x 6 tasks x 1,000 samples.

    python bench/bench_leaderboard.py                # full size (a few minutes on 2 cores)
    python bench/bench_leaderboard.py --small        # 50 runs x 6 tasks x 100 samples (seconds)
    python bench/bench_leaderboard.py --json out.json

Writes lm-eval-shaped inputs (results_*.json + samples_*.jsonl, lineage.json for adapters and
merges) under --workdir (reused when the same size was generated before), builds the site, and
reports the time of each build stage, the size of the index page (per-sample data is loaded per
task page, never by the index), and the size of the whole site.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import os
import resource
import shutil
import sys
import time
from pathlib import Path

TASKS = {
    "ecom_esci": ("macro_f1", ["acc", "macro_f1"]),
    "ecom_esci_gen": ("macro_f1", ["acc", "macro_f1", "parse_fail"]),
    "ecom_queryner": ("span_f1", ["span_f1", "parse_fail"]),
    "ecom_review_summ": ("rougeL", ["rouge1", "rougeL"]),
    "ecom_desc_gen": ("rougeL", ["rouge1", "rougeL"]),
    "ecom_attr_extract": ("attr_f1", ["attr_f1", "parse_fail"]),
}
DATE = "2025-01-01T00-00-00.000001"


def _leaderboard_build():
    try:
        from ecomsuite.leaderboard import build
    except ImportError:  # not installed yet: load the package from the source tree
        import importlib.util

        root = Path(__file__).resolve().parents[1] / "leaderboard"
        spec = importlib.util.spec_from_file_location("ecomsuite.leaderboard", root / "__init__.py",
                                                      submodule_search_locations=[str(root)])
        mod = importlib.util.module_from_spec(spec)
        sys.modules["ecomsuite.leaderboard"] = mod
        spec.loader.exec_module(mod)
        from ecomsuite.leaderboard import build
    return build


def _doc_parts(task: str, n_docs: int) -> list[tuple[str, str]]:
    """Pre-encoded JSON fragments of each document (the same for every run, as with lm-eval)."""
    parts = []
    for i in range(n_docs):
        doc = {"query": f"{task} query {i} wireless mouse", "title": f"Product {i} ergonomic 2.4GHz", "label": "E"}
        prompt = f"Query: {doc['query']}\nProduct: {doc['title']}\nRelevance:"
        target = "exact" if "esci" in task else f"reference text for document {i}"
        h = hashlib.sha256(prompt.encode()).hexdigest()
        head = (f'{{"doc_id": {i}, "doc": {json.dumps(doc)}, "target": {json.dumps(target)}, '
                f'"arguments": {{"gen_args_0": {{"arg_0": {json.dumps(prompt)}, "arg_1": {{"until": ["\\n\\n"]}}}}}}, ')
        tail = f'"filter": "none", "doc_hash": "{h}", "prompt_hash": "{h}", "target_hash": "{h}"'
        parts.append((head, tail))
    return parts


def _write_runs(args: tuple[Path, int, int, int, int]) -> int:
    out, start, stop, n_tasks, n_docs = args
    import random

    tasks = list(TASKS)[:n_tasks]
    parts = {t: _doc_parts(t, n_docs) for t in tasks}
    for r in range(start, stop):
        rng = random.Random(r)
        skill = rng.random()
        name = f"bench-org/model-{r:04d}"
        folder = out / f"run-{r:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        results, configs = {}, {}
        for t in tasks:
            headline, metrics = TASKS[t]
            sums = dict.fromkeys(metrics, 0.0)
            with open(folder / f"samples_{t}_{DATE}.jsonl", "w", encoding="utf-8") as fh:
                for i, (head, tail) in enumerate(parts[t]):
                    ok = rng.random() < skill * (0.5 + 0.5 * ((i * 7919) % 100) / 100)
                    pf = 0.0 if ok or rng.random() > 0.2 else 1.0
                    out_text = "exact" if ok else "substitute"
                    vals = []
                    for m in metrics:
                        v = pf if m == "parse_fail" else (1.0 if ok else 0.0) if m in ("acc", "macro_f1", "span_f1", "attr_f1") \
                            else round(rng.random() * (0.6 if not ok else 1.0), 3)
                        sums[m] += v
                        vals.append(f'"{m}": {v}')
                    fh.write(f'{head}"resps": [["{out_text}"]], "filtered_resps": ["{out_text}"], {tail}, '
                             f'"metrics": {json.dumps(metrics)}, {", ".join(vals)}}}\n')
            results[t] = {"alias": t, **{f"{m},none": sums[m] / n_docs for m in metrics},
                          **{f"{m}_stderr,none": "N/A" for m in metrics}}
            configs[t] = {"task": t, "num_fewshot": 0, "output_type": "generate_until",
                          "metadata": {"version": 1.0, "headline": headline, "data_source": "synthetic"}}
        model_args = f"pretrained={name}"
        if r % 3 == 1:  # an adapter with a training size, for the data-size plot
            ad = out / "adapters" / f"a{r:04d}"
            ad.mkdir(parents=True, exist_ok=True)
            (ad / "lineage.json").write_text(json.dumps(
                {"kind": "adapter", "name": f"adapter-{r:04d}", "base_model": f"bench-org/base-{r % 4}", "method": "lora",
                 "tasks": tasks, "train_size": [1000, 5000, 10000, 50000][r % 4], "command": "ecomsuite sft ..."}))
            model_args = f"pretrained=bench-org/base-{r % 4},peft={ad}"
        data = {
            "results": results, "group_subtasks": {"ecom": tasks}, "configs": configs,
            "versions": dict.fromkeys(tasks, 1.0), "n-shot": dict.fromkeys(tasks, 0),
            "higher_is_better": {t: {m: m != "parse_fail" for m in TASKS[t][1]} for t in tasks},
            "n-samples": {t: {"original": n_docs, "effective": n_docs} for t in tasks},
            "config": {"model": "hf", "model_args": model_args, "batch_size": 8, "limit": None,
                       "model_num_parameters": 1_000_000 * (r + 1)},
            "model_name": name, "date": 1735689600.0 + r, "total_evaluation_time_seconds": str(100 + r),
        }
        (folder / f"results_{DATE}.json").write_text(json.dumps(data), encoding="utf-8")
    return stop - start


def generate(workdir: Path, n_runs: int, n_tasks: int, n_docs: int, jobs: int) -> tuple[Path, float, bool]:
    inputs = workdir / "inputs"
    manifest = {"runs": n_runs, "tasks": n_tasks, "docs": n_docs, "version": 2}
    mf = workdir / "manifest.json"
    if mf.is_file() and json.loads(mf.read_text()) == manifest and inputs.is_dir():
        return inputs, 0.0, True
    shutil.rmtree(inputs, ignore_errors=True)
    inputs.mkdir(parents=True)
    t = time.perf_counter()
    chunk = max(1, n_runs // (jobs * 8))
    pieces = [(inputs, s, min(n_runs, s + chunk), n_tasks, n_docs) for s in range(0, n_runs, chunk)]
    with mp.get_context("fork").Pool(jobs) as pool:
        sum(pool.imap_unordered(_write_runs, pieces))
    mf.write_text(json.dumps(manifest))
    return inputs, time.perf_counter() - t, False


def _du(path: Path) -> tuple[int, int]:
    total = n = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
            n += 1
    return total, n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--small", action="store_true", help="50 runs x 6 tasks x 100 samples")
    p.add_argument("--runs", type=int, default=1000)
    p.add_argument("--tasks", type=int, default=6)
    p.add_argument("--docs", type=int, default=1000)
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--bootstrap-iters", type=int, default=1000)
    p.add_argument("--workdir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "ecomsuite-bench-leaderboard"))
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--clean", action="store_true", help="delete the generated inputs and site afterwards")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    a = p.parse_args(argv)
    if a.small:
        a.runs, a.docs = 50, 100
    workdir = Path(a.workdir) / f"r{a.runs}-t{a.tasks}-d{a.docs}"
    build = _leaderboard_build()

    inputs, gen_s, reused = generate(workdir, a.runs, a.tasks, a.docs, a.jobs)
    in_bytes, in_files = _du(inputs)
    site = workdir / "site"
    ru0 = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    load0 = os.getloadavg()[0]
    t = time.perf_counter()
    summary = build.build_site(build.BuildOptions(results=[str(inputs)], out=str(site), jobs=a.jobs,
                                                  bootstrap_iters=a.bootstrap_iters, plots=not a.no_plots, progress=True))
    wall = time.perf_counter() - t
    ru1 = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu = sum((b.ru_utime + b.ru_stime) - (a.ru_utime + a.ru_stime) for a, b in zip(ru0, ru1))
    site_bytes, site_files = _du(site)
    data_bytes, data_files = _du(site / "data")
    rss_mb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    figures = {
        "runs": a.runs, "tasks": a.tasks, "samples_per_task": a.docs, "jobs": a.jobs, "cpus": os.cpu_count(),
        "bootstrap_iters": a.bootstrap_iters,
        "input_generation_s": round(gen_s, 1), "inputs_reused": reused,
        "input_mb": round(in_bytes / 2**20, 1), "input_files": in_files,
        "build_s": round(wall, 1), "build_cpu_s_all_processes": round(cpu, 1),
        "stages_s": {k: round(v, 1) for k, v in summary.seconds.items()},
        "systems": summary.systems, "sample_data_files": summary.sample_files,
        "index_html_kb": round(summary.index_bytes / 1024, 1),
        "site_mb": round(site_bytes / 2**20, 1), "site_files": site_files,
        "per_sample_data_mb": round(data_bytes / 2**20, 1), "per_sample_file_kb_avg": round(data_bytes / max(1, data_files) / 1024, 1),
        "peak_rss_mb_largest_process": round(rss_mb),
        "load_average_1min_before_after": [round(load0, 1), round(os.getloadavg()[0], 1)],
    }
    print(json.dumps(figures, indent=2))
    if a.json:
        Path(a.json).write_text(json.dumps(figures, indent=2))
    if a.clean:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
