"""One leaderboard worker's CPU per samples file under two (or more) checkouts, interleaved file by file.

A full-size build (bench_leaderboard.py) takes minutes, and on these VMs the same build's CPU-s drift
by 10-20% within an hour (and by 2-3x between VMs), more than most changes measured. Here each
checkout gets its own long-lived process (its own ``ecomsuite``, loaded by
``bench_leaderboard.use_checkout``); the parent hands them the same files one at a time, in turn, in
an order that alternates which goes first (A B, B A, ...), and each process measures the CPU of its
worker's whole job on that file (``samples._work``: parsing, viewer record and file, cell
statistics, its cache entry written to an empty cache as in a full build, or with ``--no-cache``
the items held as text). Only one process works at a time, so both run under the same
drift and the same (idle) second vCPU, and their ratio is what the change does.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_worker_ab.py --impl before=/tmp/old --impl after=. \\
        --runs 100 --files 30 --json out.json

The inputs are bench_leaderboard.py's generated corpus (``--workdir``, reused when there); each process
makes the jobs a build of it makes (its collect and assemble stages, bench_samples_reading.build_jobs)
and writes the task's shared docs first, as the build does before it forks its workers. Two files
per task warm each process up (imports, the metric libraries' one-time checks) and are not counted.
The viewer files each process writes are compared at the end: a change that alters them is reported
(``viewer_files_equal``), as it would alter the site.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_leaderboard as bl  # noqa: E402


def child(root: str, inputs: str, out: str, use_cache: bool = True) -> int:
    """A checkout's process: reads "i" lines (a job's index) on stdin, answers "cpu-s" for samples._work
    on it; "digest" answers the SHA-256 of every viewer file written, in job order."""
    import gc
    import time

    proto = os.fdopen(os.dup(1), "w")  # the answers; anything else printed goes to stderr
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    bl.use_checkout(root)
    import bench_samples_reading as bsr
    from ecomsuite.leaderboard import samples
    from ecomsuite.leaderboard.stats import get_aggregate

    jobs, refs = bsr.build_jobs(Path(inputs), Path(out) / "site")
    for i, j in enumerate(jobs):
        j.out_file = str(Path(out) / f"view-{i}.js")
    get_aggregate()
    if use_cache:  # as a build with its cache (the default) does, the cache empty: every file read and stored
        from ecomsuite.leaderboard import cache

        samples._init_worker(refs, str(Path(out) / "cache"), {t: cache.refs_digest(r) for t, r in refs.items()})
    else:
        samples._init_worker(refs)
    print(json.dumps([[j.task, j.system_id] for j in jobs]), file=proto, flush=True)
    gc.disable()  # as the workers read (samples._no_cycle_collection)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "digest":
            h = hashlib.sha256()
            for j in jobs:
                p = Path(j.out_file)
                h.update(p.read_bytes() if p.is_file() else b"-")
            print(h.hexdigest(), file=proto, flush=True)
            continue
        j = jobs[int(cmd)]
        c = time.process_time()
        samples._work(j)
        print(time.process_time() - c, file=proto, flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--impl", action="append", default=[], metavar="LABEL=CHECKOUT",
                   help="a checkout to measure (at least two; the first is the base of the ratios)")
    bl.add_corpus_args(p, runs=50)
    p.add_argument("--files", type=int, default=20, help="files per task measured (after two that warm up)")
    p.add_argument("--no-cache", action="store_true",
                   help="as a build without its samples cache (default: with it, empty, as a full build)")
    p.add_argument("--json", metavar="FILE")
    p.add_argument("--child", nargs=3, metavar=("CHECKOUT", "INPUTS", "OUT"), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        return child(*a.child, use_cache=not a.no_cache)
    impls = []
    for spec in a.impl:
        label, sep, root = spec.partition("=")
        if not sep or not label or not (Path(root) / "leaderboard" / "build.py").is_file():
            p.error(f"--impl {spec!r}: expected LABEL=CHECKOUT, a folder with leaderboard/build.py")
        impls.append((label, str(Path(root).resolve())))
    if len(impls) < 2 or len({x for x, _ in impls}) != len(impls):
        p.error("--impl: at least two, with distinct labels")
    if a.files + 2 > a.runs:
        p.error("--files must be at most --runs - 2 (two files per task warm up)")
    _, inputs, _, _ = bl.corpus(a, len(bl.TASKS), os.cpu_count() or 1)
    with tempfile.TemporaryDirectory() as tmp:
        procs = {}
        for label, root in impls:
            out = Path(tmp) / label
            out.mkdir()
            procs[label] = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--child", root, str(inputs), str(out)] + (["--no-cache"] if a.no_cache else []),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=str(HERE.parent))
        try:
            listed = {label: json.loads(pr.stdout.readline()) for label, pr in procs.items()}
            first = next(iter(listed.values()))
            if any(v != first for v in listed.values()):
                raise SystemExit("the checkouts make different jobs of the same inputs: not comparable file by file")

            def ask(label: str, cmd: str) -> str:
                pr = procs[label]
                pr.stdin.write(cmd + "\n")
                pr.stdin.flush()
                got = pr.stdout.readline()
                if not got:
                    raise SystemExit(f"{label}: its process ended (exit {pr.wait()})")
                return got.strip()

            tasks = sorted({t for t, _ in first})
            by_task = {t: [i for i, (tt, _) in enumerate(first) if tt == t] for t in tasks}
            labels = [x for x, _ in impls]
            for t in tasks:  # warm-up, not counted
                for i in by_task[t][:2]:
                    for label in labels:
                        ask(label, str(i))
            cpu = {(t, label): 0.0 for t in tasks for label in labels}
            for k in range(a.files):
                for t in tasks:
                    i = by_task[t][2 + k]
                    order = labels if k % 2 == 0 else labels[::-1]  # which goes first alternates
                    for label in order:
                        cpu[(t, label)] += float(ask(label, str(i)))
            digests = {label: ask(label, "digest") for label in labels}
        finally:
            for pr in procs.values():
                pr.stdin.close()
                pr.wait()
    base = labels[0]
    per_task = {t: {**{f"{label}_ms_per_file": round(1000 * cpu[(t, label)] / a.files, 2) for label in labels},
                    **{f"{label}_ratio": round(cpu[(t, label)] / cpu[(t, base)], 3) for label in labels[1:]}}
                for t in tasks}
    totals = {label: sum(cpu[(t, label)] for t in tasks) for label in labels}
    figures = {"runs": a.runs, "docs": a.docs, "data": a.data_dir or "embedded sample", "variants": a.variants,
               "files_per_task": a.files, "cache": not a.no_cache, "cpu_calibration_s": bl.cpu_calibration(),
               "impls": dict(impls), "per_task": per_task,
               "cpu_s": {label: round(v, 3) for label, v in totals.items()},
               "ratio_to_" + base: {label: round(totals[label] / totals[base], 3) for label in labels[1:]},
               "viewer_files_equal": len(set(digests.values())) == 1}
    bl.emit(figures, a.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
