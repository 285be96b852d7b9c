"""One leaderboard worker's CPU per samples file, with and without the line-beginning memo
(``samples._PREFIX_MEMO``), the two ways interleaved file by file in one process.

A full-size build (bench_leaderboard.py) takes minutes, and on these VMs the same build's CPU-s drift
by 10-20% within an hour, more than the change measured here. Interleaving the two readings of each
file in one process puts both under the same drift, so their ratio is what the change does.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/bench_samples_reading.py --runs 100 --files 40 --json out.json

The inputs are bench_leaderboard.py's generated corpus (``--workdir``, reused when there); the jobs are
those a build makes of it (its collect and assemble stages), with the task's shared docs written
first as the build does (they fill the memo before the workers fork). Each file is read by
``samples._work``, the worker's whole job: parsing, viewer record and file, cell statistics, cache
entry (none: no cache folder). The same is measured on copies of some files whose prompts begin with
a text of their own (as a chat template per model makes them): no line begins as the task's reference
file's, so there the memo can only cost.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_leaderboard as bl  # noqa: E402


def build_jobs(inputs: Path, out: Path) -> tuple[list, dict]:
    """The SampleJobs and shared-docs digests a build of ``inputs`` makes (its samples stage skipped)."""
    from ecomsuite.leaderboard import build, samples

    got: dict = {}

    class _Stop(Exception):
        pass

    def capture(jobs, n_jobs=1, progress=False, refs=None, **kw):
        got["jobs"], got["refs"] = jobs, refs or {}
        raise _Stop

    real = samples.load_all
    samples.load_all = capture
    try:
        build.build_site(build.BuildOptions(results=[str(inputs)], out=str(out), jobs=1, plots=False, cache=False))
    except _Stop:
        pass
    finally:
        samples.load_all = real
    if "jobs" not in got:
        raise SystemExit("the build did not reach its samples stage")
    return got["jobs"], got["refs"]


def _own_prompts(job, folder: Path, k: int):
    """``job`` on a copy of its samples file whose prompts begin with a text of its own."""
    import dataclasses

    out = folder / f"own-{k}-{Path(job.path).name}"
    with open(job.path, "rb") as src, open(out, "wb") as dst:
        for line in src:
            dst.write(line.replace(b'{"arg_0": "', b'{"arg_0": "(variant %d) ' % k, 1))
    return dataclasses.replace(job, path=str(out))


def _interleaved(files: dict[str, list]) -> dict[tuple[str, bool], float]:
    """CPU-s of ``samples._work`` per (task, memo on) over ``files``, each file read both ways in turn."""
    from ecomsuite.leaderboard import samples

    cpu = {(t, m): 0.0 for t in files for m in (False, True)}
    gc.disable()  # as the workers read (samples._no_cycle_collection)
    try:
        for i in range(max(map(len, files.values()))):
            for t, jobs in files.items():
                if i >= len(jobs):
                    continue
                for memo in ((False, True) if i % 2 else (True, False)):  # which goes first alternates
                    samples._PREFIX_MEMO = memo
                    c = time.process_time()
                    samples._work(jobs[i])
                    cpu[(t, memo)] += time.process_time() - c
    finally:
        gc.enable()
        samples._PREFIX_MEMO = True
    return cpu


def _figures(cpu: dict[tuple[str, bool], float], n: int) -> dict:
    tasks = sorted({t for t, _ in cpu})
    whole, memo = (sum(v for (_, m), v in cpu.items() if m is k) for k in (False, True))
    return {"per_task": {t: {"whole_ms_per_file": round(1000 * cpu[(t, False)] / n, 2),
                             "memo_ms_per_file": round(1000 * cpu[(t, True)] / n, 2),
                             "ratio": round(cpu[(t, True)] / cpu[(t, False)], 3)} for t in tasks},
            "whole_cpu_s": round(whole, 2), "memo_cpu_s": round(memo, 2), "ratio": round(memo / whole, 3)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    bl.add_corpus_args(p, runs=50)
    p.add_argument("--files", type=int, default=20, help="files per task, each read both ways")
    p.add_argument("--files-own", type=int, default=6,
                   help="files per task copied with prompts of their own (no beginning repeats), each read both ways")
    p.add_argument("--json", metavar="FILE")
    a = p.parse_args(argv)
    if max(a.files, a.files_own) + 2 > a.runs:
        p.error("--files and --files-own must be at most --runs - 2 (two files per task warm up)")
    _, inputs, _, _ = bl.corpus(a, len(bl.TASKS), os.cpu_count() or 1)
    from ecomsuite.leaderboard import samples
    from ecomsuite.leaderboard.stats import get_aggregate

    with tempfile.TemporaryDirectory() as tmp:
        jobs, refs = build_jobs(inputs, Path(tmp) / "site")
        for j in jobs:  # viewer files written, to a folder of this bench's
            j.out_file = str(Path(tmp) / f"{abs(hash((j.system_id, j.task)))}.js")
        get_aggregate()
        samples._init_worker(refs)
        tasks = sorted({j.task for j in jobs})
        by_task = {t: [j for j in jobs if j.task == t] for t in tasks}
        for t in tasks:  # one-time costs (imports, the metric libraries' checks) out of the figures
            samples._PREFIX_MEMO = True
            samples._work(by_task[t][0])
            samples._PREFIX_MEMO = False
            samples._work(by_task[t][1])
        # the same files with a prompt of their own (as a chat template per model makes them): no line
        # begins as the reference's, so the memo can only cost
        own = {t: [_own_prompts(j, Path(tmp), k) for k, j in enumerate(by_task[t][2:2 + a.files_own])] for t in tasks}
        cpu = _interleaved({t: by_task[t][2:2 + a.files] for t in tasks})
        cpu_own = _interleaved(own)
        samples._init_worker({})
    figures = {"runs": a.runs, "docs": a.docs, "data": a.data_dir or "embedded sample", "variants": a.variants,
               "cpu_calibration_s": bl.cpu_calibration(),
               "files_per_task": a.files, **_figures(cpu, a.files),
               "beginnings_never_repeating": {"files_per_task": a.files_own, **_figures(cpu_own, a.files_own)}}
    bl.emit(figures, a.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
