"""``ecomsuite leaderboard build RESULTS_DIR... --out SITE_DIR`` — rank every model, adapter,
merge and baseline from lm-eval result files, as a static site that works from file://.

Example (synthetic runs, no model needed)::

    python -m ecomsuite.leaderboard.synthetic --out /tmp/lb-runs
    python -m ecomsuite.leaderboard.build build /tmp/lb-runs --out /tmp/lb-site
    xdg-open /tmp/lb-site/index.html

Stages: collect -> assemble -> samples -> statistics -> context -> render (see __init__).
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import collect as _collect
from .collect import Problem

EXAMPLE = "example: ecomsuite leaderboard build runs/ --out site/ && open site/index.html"


@dataclass
class BuildOptions:
    results: list[str]
    out: str
    include_limited: bool = False
    tasks: list[str] | None = None
    suite_group: str = "ecom"
    bootstrap_iters: int = 2000  # every metric; corpus metrics from per-document sufficient statistics
    seed: int = 1234
    jobs: int = 1
    title: str = "ecomsuite leaderboard"
    plots: bool = True
    progress: bool = False
    generated: str | None = None  # fixed timestamp text (tests, reproducible builds)
    publish_provenance: bool = False  # write provenance.json with the builder's full paths
    cache: bool = True  # reuse what each unchanged samples file gave last time (<out>.cache, see cache.py)
    model_roots: list[str] = field(default_factory=list)  # relative peft=/pretrained= paths resolve against these


@dataclass
class BuildSummary:
    out: str
    files_seen: int
    runs: int
    systems: int
    tasks: int
    unusable_files: int
    warnings: int
    sample_files: int
    index_bytes: int
    seconds: dict[str, float] = field(default_factory=dict)
    sample_cache_hits: int = 0  # samples files not read again (unchanged since the previous build)
    stats_cache_hits: int = 0  # cells whose statistics (prepared metric, bootstrap array) came from the cache
    stats_digest: str = ""  # stats.digest: equal for a cached and an uncached build of the same inputs
    pair_groups_reused: int = 0  # rankings whose earlier pair tests came from the cache (only new pairs computed)
    views_linked: int = 0  # cached files whose viewer file was linked from the published site (not written again)
    published: dict[str, Any] = field(default_factory=dict)  # render.publish: files, linked to the old site's, seconds


class BuildError(Exception):
    """A problem with the user's input; main() prints it as one line."""


def build_site(opts: BuildOptions) -> BuildSummary:
    """Build the whole site into a staging folder beside --out and swap it in at the end: a failed
    build leaves the previously published site as it was."""
    from . import render

    if opts.bootstrap_iters < 1:
        raise BuildError("--bootstrap-iters must be at least 1")
    missing = [p for p in opts.results if not Path(p).exists()]
    if missing:
        raise BuildError(f"results path not found: {missing[0]}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    out = Path(opts.out)
    for p in opts.results:
        real, real_out = Path(os.path.realpath(p)), Path(os.path.realpath(out))
        if real == real_out:
            raise BuildError(f"--out {out} is one of the results folders; choose another folder for the site")
        if real_out in real.parents:
            raise BuildError(f"results path {p} is inside --out {out}, which each build replaces; "
                             "move it out of the site folder")
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    try:
        render.check_out(out)
    except FileExistsError as e:
        raise BuildError(str(e)) from None
    times["check_out"] = time.perf_counter() - t0
    leftovers = list(out.parent.glob(f".{glob.escape(out.name)}.building-*")) + list(
        out.parent.glob(f".{glob.escape(out.name)}.old-*"))  # of an interrupted build
    from .cache import cache_dir_for

    coll = _collect.collect(opts.results, exclude=[out, cache_dir_for(out), *leftovers], progress=opts.progress,
                            model_roots=opts.model_roots)
    times["collect"] = time.perf_counter() - t0
    if coll.files_seen == 0:
        raise BuildError(
            "no lm-eval result files (results_*.json) under " + ", ".join(opts.results) + "; run lm_eval with --output_path"
        )
    from . import privacy

    privacy.set_roots(opts.results)
    final, out = out, render.staging_dir(out)  # everything is written here, then swapped in
    try:
        summary = _build_into(opts, out, coll, times, t0)
        t = time.perf_counter()
        summary.published = render.publish(out, final)
        times["publish"] = time.perf_counter() - t
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    times["total"] = time.perf_counter() - t0
    summary.out = str(final)
    return summary


def _build_into(opts: BuildOptions, out: Path, coll: Any, times: dict[str, float], t0: float) -> BuildSummary:
    from . import render
    from .cache import PairCache, cache_dir_for
    from .context import build_context, data_file, docs_file
    from .samples import LoadStats, SampleJob, write_shared_docs
    from .stats import cell_seed, cluster_field, compute, digest
    from .systems import assemble


    t = time.perf_counter()
    asm = assemble(coll.runs, suite_group=opts.suite_group, task_patterns=opts.tasks)
    times["assemble"] = time.perf_counter() - t

    t = time.perf_counter()
    jobs, rel_files = [], []  # each job's viewer file, relative to the site
    for s in asm.systems:
        for task, cell in s.cells.items():
            if cell.samples_path:
                rel_files.append(data_file(task, s.id))
                jobs.append(SampleJob(s.id, task, cell.metric, cell.filter, cell.samples_path, str(out / rel_files[-1]),
                                      cluster_field(cell.result.metadata),
                                      boot=(opts.bootstrap_iters, cell_seed(opts.seed, task)),
                                      version=cell.result.version))
    refs = {}
    docs_files: dict[str, str] = {}
    for job in jobs:  # one shared prompt/reference file per task, from its first system's samples
        if job.task not in refs:
            r = write_shared_docs(job.task, job, str(out / docs_file(job.task)))
            refs[job.task] = r
            if r is not None:
                docs_files[job.task] = docs_file(job.task)
    load_stats = LoadStats()
    loaded = _load_samples(jobs, opts, {t: r for t, r in refs.items() if r}, load_stats, out)
    problems: list[Problem] = list(coll.problems)
    sample_data = {}
    sample_files: dict[tuple[str, str], str] = {}
    for job, rel, d in zip(jobs, rel_files, loaded):
        for w in d.warnings:
            problems.append(Problem(d.path, "warning", w))
        if d.error:
            problems.append(Problem(d.path, "warning", d.error))
        else:
            sample_data[(d.system_id, d.task)] = d
        if os.path.isfile(job.out_file):
            sample_files[(d.system_id, d.task)] = rel
    times["samples"] = time.perf_counter() - t

    t = time.perf_counter()
    pairs = PairCache(cache_dir_for(opts.out)) if opts.cache else None
    st = compute(
        asm,
        sample_data,
        iters=opts.bootstrap_iters,
        seed=opts.seed,
        include_limited=opts.include_limited,
        n_jobs=opts.jobs,
        progress=opts.progress,
        pair_store=pairs,
    )
    if pairs is not None:
        pairs.prune()
        if pairs.unusable:
            print(f"note: {len(pairs.unusable)} pairs entr{'y' if len(pairs.unusable) == 1 else 'ies'} of the cache "
                  f"{cache_dir_for(opts.out)} not used, the pairs computed again instead (first: {pairs.unusable[0]})",
                  file=sys.stderr)
    times["statistics"] = time.perf_counter() - t
    stats_digest = digest(st)
    del sample_data, loaded

    t = time.perf_counter()
    ctx = build_context(
        asm, st, problems, sample_files, coll.files_seen, title=opts.title, include_limited=opts.include_limited,
        generated=opts.generated, docs_files=docs_files,
    )
    times["context"] = time.perf_counter() - t

    t = time.perf_counter()
    info = render.render_site(ctx, out, plots=opts.plots, progress=opts.progress, n_jobs=opts.jobs)
    times["render"] = time.perf_counter() - t
    if opts.publish_provenance:
        write_provenance(asm, out / PROVENANCE)
    times["total"] = time.perf_counter() - t0
    return BuildSummary(
        out=str(out),
        files_seen=coll.files_seen,
        runs=len(coll.runs),
        systems=len(asm.systems),
        tasks=len(asm.suite) + len(asm.other_tasks),
        unusable_files=len(ctx.report.errors),
        warnings=len(ctx.report.warnings),
        sample_files=len(sample_files),
        index_bytes=info["index_bytes"],
        seconds=times,
        sample_cache_hits=load_stats.cache_hits,
        stats_cache_hits=load_stats.stats_cache_hits,
        views_linked=load_stats.views_linked,
        stats_digest=stats_digest,
        pair_groups_reused=pairs.reused if pairs is not None else 0,
    )


def likely_cached(jobs: list, folder: Path) -> list[bool]:
    """Per job, whether its samples file is probably unchanged since the cache was last written to:
    it is older than the cache folder (whose time is that of the last entry added or removed). Only
    a guess, for where the file is loaded (see _load_samples): each job is still looked up by its
    full key, and a wrong guess costs time only."""
    try:
        since = os.stat(folder).st_mtime_ns
    except OSError:
        return [False] * len(jobs)
    out = []
    for job in jobs:
        try:
            out.append(os.stat(job.path).st_mtime_ns < since)
        except OSError:
            out.append(False)
    return out


OVERLAP_MAX = 256  # at most this many files read in a forked process while the cached ones load here


def _load_samples(jobs: list, opts: BuildOptions, refs: dict, stats: Any, stage: Path | None = None) -> list:
    """``samples.load_all`` of every job, in job order. With the cache and several workers, the files
    likely unchanged since the last build are loaded from their entries in this process, the others
    read elsewhere: sending a loaded entry back from a worker (pickling its arrays there, unpickling
    them here) cost more than loading it (measured: 300 entries of 1,000 documents 1.6 s and
    2.5 CPU-s through two workers, 1.0 s in-process). A few new files (one new run) are read by one
    forked process while this one loads the cached entries (their reading includes importing the
    metric libraries, ~2 s); many (a first build) by ``load_all``'s workers first. A cached file's
    viewer file is linked from the published site (``opts.out``) into ``stage`` when it is the same."""
    from .cache import pruning_deferred
    from .samples import LoadStats, load_all

    folder = cache_dir_for(opts.out) if opts.cache else None
    site = (str(stage), str(opts.out)) if stage is not None else None
    if folder is None or opts.jobs <= 1:
        return load_all(jobs, n_jobs=opts.jobs, progress=opts.progress, refs=refs, cache_dir=folder, stats=stats,
                        site=site)
    guess = likely_cached(jobs, folder)
    new, cached = [i for i, g in enumerate(guess) if not g], [i for i, g in enumerate(guess) if g]
    out: list = [None] * len(jobs)

    def load(idx: list[int], n_jobs: int) -> None:
        part = LoadStats()
        _put(out, idx, load_all([jobs[i] for i in idx], n_jobs=n_jobs, progress=opts.progress, refs=refs,
                                cache_dir=folder, stats=part, site=site), part, stats)

    with pruning_deferred() as pruned:  # each call would prune the other's entries
        side = None
        if new and cached and len(new) <= OVERLAP_MAX and hasattr(os, "fork"):
            side = _Side([jobs[i] for i in new], opts.jobs, refs, folder)
        elif new:
            load(new, opts.jobs)
        try:
            if cached:
                load(cached, 1)
            if side is not None:
                got = side.result()
                if got is None:  # the process failed: read them here
                    load(new, opts.jobs)
                else:
                    _put(out, new, *got, stats)
        finally:
            if side is not None:
                side.close()
    stats.cache_pruned = pruned["pruned"]
    return out


def _put(out: list, idx: list[int], loaded: list, part: Any, stats: Any) -> None:
    for i, d in zip(idx, loaded):
        out[i] = d
    stats.cache_hits += part.cache_hits
    stats.cache_misses += part.cache_misses
    stats.stats_cache_hits += part.stats_cache_hits
    stats.cache_unusable += part.cache_unusable
    stats.views_linked += part.views_linked


class _Side:
    """``load_all`` of some jobs in a process forked now (before this one loads anything), its
    results (and the cache entries it used, for the deferred prune) sent back through a pipe."""

    def __init__(self, jobs: list, n_jobs: int, refs: dict, folder: Path) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("fork")
        self.conn, child = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=_side_main, args=(child, jobs, n_jobs, refs, folder))
        self.proc.start()
        child.close()

    def result(self) -> tuple | None:
        """(loaded, LoadStats) or None when the process failed (the caller reads the files itself)."""
        from .cache import note_used

        try:
            status, loaded, part, used = self.conn.recv()
        except (EOFError, OSError):
            return None
        if status != "ok":
            return None
        note_used(used)
        return loaded, part

    def close(self) -> None:
        self.conn.close()
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join()


def _side_main(conn: Any, jobs: list, n_jobs: int, refs: dict, folder: Path) -> None:
    from .cache import deferred_used
    from .samples import LoadStats, load_all

    try:
        part = LoadStats()
        loaded = load_all(jobs, n_jobs=n_jobs, refs=refs, cache_dir=folder, stats=part)
        conn.send(("ok", loaded, part, deferred_used()))
    except BaseException as e:  # noqa: BLE001 - the parent reads the files itself
        conn.send(("error", f"{type(e).__name__}: {e}", None, None))
    finally:
        conn.close()


PROVENANCE = "provenance.json"
from .cache import cache_dir_for  # noqa: E402  (re-exported: where a site's cache lives)


def write_provenance(asm: Any, path: Path) -> None:
    """Full local paths behind each system (results, samples, lineage files, model_args): the only
    file of the site that shows them, written only with --publish-provenance."""
    import json

    doc = {s.id: {"name": s.name,
                  "results_files": [r.path for r in s.runs],
                  "samples_files": {t: c.samples_path for t, c in s.cells.items() if c.samples_path},
                  "lineage_file": s.lineage.source if s.lineage else None,
                  "model_args": s.model_args_raw}
           for s in asm.systems}
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False, default=str), encoding="utf-8")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ecomsuite leaderboard",
        description="Static leaderboard site from lm-eval result files.",
        epilog=EXAMPLE,
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    b = sub.add_parser(
        "build",
        help="build the site",
        description=(
            "Rank every model, adapter, merge and baseline found in lm-eval result files "
            "(results_*.json, with samples_*.jsonl when logged, and lineage.json when present)."
        ),
        epilog=EXAMPLE,
    )
    b.add_argument("results", nargs="+", metavar="RESULTS_DIR", help="folders searched for results_*.json (or result files)")
    b.add_argument("--out", required=True, metavar="SITE_DIR", help="folder to write the site into (new, empty, or a previous build)")
    b.add_argument("--include-limited", action="store_true", help="rank runs made with --limit too (default: listed apart)")
    b.add_argument(
        "--tasks",
        metavar="PATTERNS",
        help="comma-separated task names or globs used as the index columns and overall score "
        "(default: tasks that declare metadata.headline or belong to --suite-group)",
    )
    b.add_argument("--suite-group", default="ecom", metavar="GROUP", help="lm-eval group whose tasks form the suite (default: ecom)")
    b.add_argument("--bootstrap-iters", type=int, default=2000, metavar="N",
                   help="bootstrap resamples for every metric, corpus metrics included (default: 2000)")
    b.add_argument("--seed", type=int, default=1234, help="bootstrap seed (default: 1234)")
    b.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1), metavar="N", help="worker processes (default: CPUs, at most 4)")
    b.add_argument("--title", default="ecomsuite leaderboard", help="site title")
    b.add_argument("--no-plots", action="store_true", help="skip the SVG plots")
    b.add_argument("--publish-provenance", action="store_true",
                   help=f"also write {PROVENANCE}: the full local paths of every input (pages never show them)")
    b.add_argument("--no-cache", action="store_true",
                   help="read every samples file again (default: reuse what an unchanged file gave the previous "
                        "build, from SITE_DIR.cache beside the site; any code change invalidates it)")
    b.add_argument("--model-root", action="append", default=[], metavar="DIR",
                   help="a folder that relative peft=/pretrained= paths in the results are relative to (the folder "
                        "the evaluations ran from; repeatable). Without it such paths are not looked up: the builder "
                        "never searches its own working directory")
    b.add_argument("--quiet", action="store_true", help="no progress bars or summary")
    b.add_argument("--debug", action="store_true", help="show a traceback on unexpected errors")
    return p


def main(argv: list[str] | None = None) -> int:
    """CLI entry; ``argv`` starts after "leaderboard", e.g. ["build", "runs/", "--out", "site/"]."""
    p = parser()
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    if args.command != "build":
        p.print_help(sys.stderr)
        return 2
    opts = BuildOptions(
        results=list(args.results),
        out=args.out,
        include_limited=args.include_limited,
        tasks=[t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks else None,
        suite_group=args.suite_group,
        bootstrap_iters=args.bootstrap_iters,
        seed=args.seed,
        jobs=max(1, args.jobs),
        title=args.title,
        plots=not args.no_plots,
        progress=not args.quiet,
        publish_provenance=args.publish_provenance,
        cache=not args.no_cache,
        model_roots=list(args.model_root),
    )
    try:
        summary = build_site(opts)
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - one line for the user; --debug shows the traceback
        if args.debug:
            raise
        print(f"error: leaderboard build failed: {type(e).__name__}: {e} (rerun with --debug for the traceback)", file=sys.stderr)
        return 1
    if not args.quiet:
        index = Path(summary.out) / "index.html"
        print(
            f"wrote {index}: {summary.systems} systems, {summary.tasks} tasks from {summary.runs} of "
            f"{summary.files_seen} result files ({summary.seconds['total']:.1f} s)"
        )
        if summary.unusable_files or summary.warnings:
            print(
                f"note: {summary.unusable_files} result file(s) not used, {summary.warnings} warning(s): see "
                f"{Path(summary.out) / 'report.html'}"
            )
    if summary.runs == 0:
        print(f"error: no usable result file; reasons in {Path(summary.out) / 'report.html'}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
