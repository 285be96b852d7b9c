"""Stage 6 — render a :class:`~.context.SiteContext` into a static site.

Jinja2 with autoescape ON for every template; data for scripts goes through :mod:`.safejson`.
The site has no external references: static/ is copied from the package, plots are SVG files.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from tqdm import tqdm

from . import fmt, privacy, safejson
from .context import ReportEntry, SiteContext
from .task_page import ViewerSystem

PKG = Path(__file__).resolve().parent
TEMPLATES = PKG / "templates"
STATIC = PKG / "static"
MARKER = ".ecomsuite-leaderboard"


def _finalize(v: Any) -> Any:
    """Every printed value: a string (not Markup) is scrubbed of builder paths (privacy.scrub; one
    without a "/" holds none, the common case, decided here without the call)."""
    if type(v) is str:
        return v if "/" not in v else privacy.scrub(v)
    return v if isinstance(v, Markup) or not isinstance(v, str) else privacy.scrub(v)


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every template, whatever its extension
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # no builder path on any page: every printed string is scrubbed (see privacy)
        finalize=_finalize,
    )
    env.filters["script_json"] = lambda obj: Markup(safejson.dumps(privacy.scrub_obj(obj)))
    env.filters.update(fmt.FILTERS)  # numbers are formatted where they are shown: {{ x|fmt_num }}
    return env


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", errors="replace", newline="\n") as fh:
        fh.write(text)


def _csv_cell(v: Any) -> Any:
    """Stop spreadsheet formula injection: text starting with = + - @ is prefixed with '."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return v


def export_csv(ctx: SiteContext) -> str:
    rows = [r.export for r in ctx.rows] + [r.export for r in ctx.limited_rows]
    buf = io.StringIO()
    if not rows:
        return ""
    fields: list[str] = []
    for r in rows:
        for k in r:
            if k not in fields:
                fields.append(k)
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([_csv_cell(privacy.scrub(k)) for k in fields])  # headers hold task names: protected like any cell
    for r in rows:
        w.writerow([_csv_cell(privacy.scrub_obj(r.get(k, ""))) for k in fields])
    return buf.getvalue()


def export_json(ctx: SiteContext) -> str:
    doc = {
        "title": ctx.title,
        "generated": ctx.generated,
        "overall": {
            "definition": "unweighted mean of the headline metrics of these tasks; rows missing one get none",
            "tasks": ctx.overall_tasks,
            "excluded_lower_is_better": ctx.excluded_from_overall,
        },
        "bootstrap": {"iterations": ctx.iters, "corpus_metric_iterations": ctx.corpus_iters, "seed": ctx.seed},
        "columns": [dataclasses.asdict(c) for c in ctx.columns],
        "rows": [r.export for r in ctx.rows],
        "limited_rows": [r.export for r in ctx.limited_rows],
    }
    return json.dumps(privacy.scrub_obj(safejson.clean(doc)), indent=1, ensure_ascii=False, default=str, allow_nan=False)


def report_json(ctx: SiteContext) -> str:
    return json.dumps(privacy.scrub_obj(safejson.clean(dataclasses.asdict(ctx.report))), indent=1, ensure_ascii=False, default=str,
                      allow_nan=False)


def _site_files(root: Path) -> list[str]:
    """Site-relative paths of every file (and link) under ``root``; folders are not listed."""
    out = []
    for folder, dirs, files in os.walk(root):
        rel = os.path.relpath(folder, root)
        for name in files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            out.append(name if rel == "." else os.path.join(rel, name))
    return out


def check_out(out: Path) -> None:
    """--out must be new, empty, or a previous build of ours holding only files the builder wrote
    (listed in its marker); anything else there is the user's and is never deleted."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise FileExistsError(f"--out {out} exists and is not a folder")
    if not out.is_dir() or not any(out.iterdir()):
        return
    marker = out / MARKER
    if not marker.is_file():
        raise FileExistsError(f"--out {out} is not empty and was not made by this tool; choose an empty or new folder")
    listed = {line[2:] for line in marker.read_text(encoding="utf-8", errors="replace").splitlines() if line.startswith("- ")}
    if not listed:  # a build from before the marker listed its files: everything in it was ours
        return
    foreign = sorted(p for p in _site_files(out) if p != MARKER and p not in listed)
    if foreign:
        raise FileExistsError(
            f"--out {out} holds {len(foreign)} file(s) this tool did not write (first: {foreign[0]}); "
            "move them out of the site folder, the rebuild replaces it"
        )


def staging_dir(out: Path) -> Path:
    """A new empty folder beside --out (same filesystem, so the final swap is a rename)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))


_CHUNK = 1 << 20


def _same_bytes(a: int, b: int) -> bool:
    """Whether the two open files (descriptors, at offset 0) hold the same bytes."""
    while True:
        x, y = os.read(a, _CHUNK), os.read(b, _CHUNK)
        if x != y:
            return False
        if not x:
            return True


def link_unchanged(stage: Path, old: Path, files: list[str]) -> int:
    """Each staged file whose bytes equal the published file at the same place in ``old`` is
    replaced by a hard link to that file; returns how many.

    The new site is the same bytes either way. What it saves is the old site's removal after the
    swap: removing a file whose data is still linked from the new site only drops a name, while
    freeing its blocks costs ~1-2 ms a file on a disk mounted with online discard (the old site's
    7,000 files took 12-27 s at 1,000 systems). Only regular files of ``old`` are linked (never a
    symbolic link: opened with O_NOFOLLOW, and the link must name the very file that was compared,
    same device, inode, size and mtime); where a link can't be made (a filesystem without hard links,
    a limit) the written copy stays. Nothing in ``old`` is ever written to."""
    linked = 0
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    for rel in files:
        new, prev = stage / rel, old / rel
        try:
            st_new, st_old = os.lstat(new), os.lstat(prev)
        except OSError:
            continue
        if not (stat.S_ISREG(st_new.st_mode) and stat.S_ISREG(st_old.st_mode)) or st_new.st_size != st_old.st_size:
            continue
        if (st_new.st_dev, st_new.st_ino) == (st_old.st_dev, st_old.st_ino):  # already that file (samples.load_all
            linked += 1  # linked a cached viewer file from the old site): nothing to compare
            continue
        tmp = new.with_name(new.name + ".link~")
        try:
            fa = os.open(prev, os.O_RDONLY | nofollow)
            try:
                fb = os.open(new, os.O_RDONLY | nofollow)
                try:
                    seen = os.fstat(fa)
                    same = _same_bytes(fa, fb)
                finally:
                    os.close(fb)
            finally:
                os.close(fa)
            if not same:
                continue
            os.link(prev, tmp, follow_symlinks=False)
            st = os.lstat(tmp)
            if (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) != (seen.st_dev, seen.st_ino, seen.st_size, seen.st_mtime_ns):
                os.unlink(tmp)  # the old file changed or was replaced while it was compared: keep the copy
                continue
            os.replace(tmp, new)
            linked += 1
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return linked


def publish(stage: Path, out: Path) -> dict[str, Any]:
    """Write the marker (listing every file of the new site) and swap ``stage`` in as ``out``.

    The old site stays complete until the new one is in place: it is renamed aside, the new one
    renamed in, then the old one removed (it held only files the builder wrote; see check_out).
    Before that, each new file equal to the old site's is made a link to it (:func:`link_unchanged`),
    so that removing the old site frees only the files that changed. Returns what it did, with seconds."""
    t = time.perf_counter()
    files = sorted(_site_files(stage))
    info: dict[str, Any] = {"files": len(files), "linked": 0}
    if out.is_dir() and not out.is_symlink():
        info["linked"] = link_unchanged(stage, out, files)
    info["link_s"] = time.perf_counter() - t
    (stage / MARKER).write_text(
        "made by ecomsuite leaderboard build; this folder is replaced on each build. Files it wrote:\n"
        + "".join(f"- {f}\n" for f in files), encoding="utf-8")
    os.chmod(stage, 0o755)  # mkdtemp makes it private
    old = None
    if out.exists():
        old = Path(str(stage).replace(".building-", ".old-"))
        os.rename(out, old)
    os.rename(stage, out)
    t = time.perf_counter()
    if old is not None:
        shutil.rmtree(old)
    info["remove_old_s"] = time.perf_counter() - t
    return info


_VIEWER_FIELDS = [f.name for f in dataclasses.fields(ViewerSystem)]  # each a str: no deep copy needed


def _viewer(tp: Any) -> dict[str, Any]:
    """The task page's per-sample viewer data (its systems' fields in field order, as dataclasses.asdict gives them)."""
    return {
        "task": tp.task,
        "metric": tp.metric,
        "higher_is_better": tp.higher_is_better,
        "systems": [{f: getattr(v, f) for f in _VIEWER_FIELDS} for v in tp.viewer_systems],
        "docs_file": tp.docs_file,
    }


# one render_site call's state, set before its pages are rendered (a forked worker inherits it)
_JOB: dict[str, Any] = {}
_SYSTEM_CHUNK = 100  # system pages per unit of work


def _units(ctx: SiteContext) -> list[tuple[str, int]]:
    """The pages and files to write, as (what, which); the large ones first (each worker takes the
    next one when it is free, so the big task pages do not end up in one process)."""
    tasks = sorted(range(len(ctx.task_pages)), key=lambda i: -len(ctx.task_pages[i].rows) - len(ctx.task_pages[i].unranked))
    return ([("task", i) for i in tasks] + [("json", 0), ("index", 0), ("csv", 0)]
            + [("systems", i) for i in range(0, len(ctx.system_pages), _SYSTEM_CHUNK)]
            + [(name, 0) for name in ("about", "tasks", "plots", "report", "build_report")])


def _render_unit(unit: tuple[str, int]) -> int:
    """Write one unit's files; returns how many pages it wrote."""
    what, i = unit
    env, ctx, out = _JOB["env"], _JOB["ctx"], _JOB["out"]
    common = {"ctx": ctx}
    if what == "task":
        tp = ctx.task_pages[i]
        _write(out / tp.file, env.get_template("task.html").render(root="../", page="task", tp=tp, viewer=_viewer(tp),
                                                                   **common))
    elif what == "systems":
        t_sys = env.get_template("system.html")
        chunk = ctx.system_pages[i:i + _SYSTEM_CHUNK]
        for sp in chunk:
            _write(out / sp.file, t_sys.render(root="../", page="system", sp=sp, **common))
        return len(chunk)
    elif what in ("about", "tasks", "index", "plots", "report"):
        _write(out / f"{what}.html", env.get_template(f"{what}.html").render(root="", page=what, **common))
    elif what == "csv":
        _write(out / ctx.csv_file, export_csv(ctx))
    elif what == "json":
        _write(out / ctx.json_file, export_json(ctx))
    elif what == "build_report":
        _write(out / "build_report.json", report_json(ctx))
    else:
        raise ValueError(f"unknown unit of the site: {what!r}")
    return 1


def render_site(ctx: SiteContext, out: Path, plots: bool = True, progress: bool = False, n_jobs: int = 1) -> dict[str, Any]:
    """Write every page. Returns a few figures about what was written.

    The plots are written first (milliseconds each, in this process), then the pages; the index,
    task, plots and report pages list the drawn plots, or a plot's failure (a plot failing must not
    lose the site). With ``n_jobs`` > 1 (and fork available) the pages are written by that many forked
    processes, each taking the next unit of :func:`_units` (a task page, 100 system pages, the index,
    ...); every file is written by one of them, so the site is the same bytes either way."""
    from .plots import draw_safely

    env = environment()
    (out / "static").mkdir(parents=True, exist_ok=True)
    for f in STATIC.iterdir():
        if f.is_file():
            shutil.copyfile(f, out / "static" / f.name)

    drawn: set[str] = set()
    specs = list(ctx.plots) if plots else []
    for spec in tqdm(specs, total=len(specs), desc="plots", unit="svg", disable=None if progress else True):
        err = draw_safely((spec, str(out)))
        if err is None:
            drawn.add(spec.file)
        else:
            ctx.report.warnings.append(ReportEntry(spec.file, "warning", f"plot not drawn: {err}"))
    ctx.plots[:] = [p for p in ctx.plots if p.file in drawn]
    for tp in ctx.task_pages:
        tp.plots[:] = [p for p in tp.plots if p.file in drawn]

    for name in ("about", "tasks", "system", "index", "plots", "report", "task"):
        env.get_template(f"{name}.html")  # compiled once, here (a forked worker inherits them)
    units = _units(ctx)
    bar = {"total": len(ctx.system_pages) + len(units) - len(range(0, len(ctx.system_pages), _SYSTEM_CHUNK)),
           "desc": "pages", "unit": "page", "disable": None if progress else True}
    _JOB.update(env=env, ctx=ctx, out=out)
    try:
        if n_jobs > 1 and hasattr(os, "fork"):
            import gc
            import multiprocessing as mp

            # the objects alive now are left out of the workers' garbage collections: a collection that
            # walked them would write to (and so copy) every page of this process in each worker
            gc.freeze()
            try:
                with mp.get_context("fork").Pool(min(n_jobs, len(units))) as pool, tqdm(**bar) as pbar:
                    for n in pool.imap_unordered(_render_unit, units):
                        pbar.update(n)
            finally:
                gc.unfreeze()
        else:
            with tqdm(**bar) as pbar:
                for u in units:
                    pbar.update(_render_unit(u))
    finally:
        _JOB.clear()
    return {"index_bytes": (out / "index.html").stat().st_size, "plots": len(drawn)}
