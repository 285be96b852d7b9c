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
import tempfile
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from tqdm import tqdm

from . import fmt, privacy, safejson
from .context import ReportEntry, SiteContext

PKG = Path(__file__).resolve().parent
TEMPLATES = PKG / "templates"
STATIC = PKG / "static"
MARKER = ".ecomsuite-leaderboard"


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every template, whatever its extension
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # no builder path on any page: every printed string is scrubbed (see privacy)
        finalize=lambda v: v if isinstance(v, Markup) or not isinstance(v, str) else privacy.scrub(v),
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
    foreign = sorted(str(p.relative_to(out)) for p in out.rglob("*")
                     if (p.is_file() or p.is_symlink()) and p != marker and str(p.relative_to(out)) not in listed)
    if foreign:
        raise FileExistsError(
            f"--out {out} holds {len(foreign)} file(s) this tool did not write (first: {foreign[0]}); "
            "move them out of the site folder, the rebuild replaces it"
        )


def staging_dir(out: Path) -> Path:
    """A new empty folder beside --out (same filesystem, so the final swap is a rename)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))


def publish(stage: Path, out: Path) -> None:
    """Write the marker (listing every file of the new site) and swap ``stage`` in as ``out``.

    The old site stays complete until the new one is in place: it is renamed aside, the new one
    renamed in, then the old one removed (it held only files the builder wrote; see check_out)."""
    files = sorted(str(p.relative_to(stage)) for p in stage.rglob("*") if p.is_file())
    (stage / MARKER).write_text(
        "made by ecomsuite leaderboard build; this folder is replaced on each build. Files it wrote:\n"
        + "".join(f"- {f}\n" for f in files), encoding="utf-8")
    os.chmod(stage, 0o755)  # mkdtemp makes it private
    old = None
    if out.exists():
        old = Path(str(stage).replace(".building-", ".old-"))
        os.rename(out, old)
    os.rename(stage, out)
    if old is not None:
        shutil.rmtree(old)


def render_site(ctx: SiteContext, out: Path, plots: bool = True, progress: bool = False, n_jobs: int = 1) -> dict[str, Any]:
    """Write every page. Returns a few figures about what was written."""
    env = environment()
    (out / "static").mkdir(parents=True, exist_ok=True)
    for f in STATIC.iterdir():
        if f.is_file():
            shutil.copyfile(f, out / "static" / f.name)

    drawn: set[str] = set()
    if plots and ctx.plots:
        from .plots import draw_safely

        jobs = [(spec, str(out)) for spec in ctx.plots]
        kw = {"total": len(jobs), "desc": "plots", "unit": "svg", "disable": None if progress else True}
        if n_jobs > 1 and len(jobs) > 6:
            import multiprocessing as mp

            from .plots import _plt

            _plt()  # import matplotlib once, before forking

            mpctx = mp.get_context("fork") if hasattr(os, "fork") else mp.get_context()
            with mpctx.Pool(min(n_jobs, len(jobs))) as pool:
                results = list(tqdm(pool.imap(draw_safely, jobs), **kw))
        else:
            results = [draw_safely(j) for j in tqdm(jobs, **kw)]
        for spec, err in zip(ctx.plots, results):
            if err is None:
                drawn.add(spec.file)
            else:  # a plot failing must not lose the site
                ctx.report.warnings.append(ReportEntry(spec.file, "warning", f"plot not drawn: {err}"))
    ctx.plots[:] = [p for p in ctx.plots if p.file in drawn]
    for tp in ctx.task_pages:
        tp.plots[:] = [p for p in tp.plots if p.file in drawn]

    common = {"ctx": ctx}
    _write(out / "index.html", env.get_template("index.html").render(root="", page="index", **common))
    _write(out / "about.html", env.get_template("about.html").render(root="", page="about", **common))
    _write(out / "plots.html", env.get_template("plots.html").render(root="", page="plots", **common))
    _write(out / "report.html", env.get_template("report.html").render(root="", page="report", **common))
    _write(out / "tasks.html", env.get_template("tasks.html").render(root="", page="tasks", **common))
    t_task = env.get_template("task.html")
    for tp in ctx.task_pages:
        viewer = {
            "task": tp.task,
            "metric": tp.metric,
            "higher_is_better": tp.higher_is_better,
            "systems": [dataclasses.asdict(v) for v in tp.viewer_systems],
            "docs_file": tp.docs_file,
        }
        _write(out / tp.file, t_task.render(root="../", page="task", tp=tp, viewer=viewer, **common))
    t_sys = env.get_template("system.html")
    for sp in tqdm(ctx.system_pages, desc="system pages", unit="page", disable=None if progress else True):
        _write(out / sp.file, t_sys.render(root="../", page="system", sp=sp, **common))
    _write(out / ctx.csv_file, export_csv(ctx))
    _write(out / ctx.json_file, export_json(ctx))
    _write(out / "build_report.json", report_json(ctx))
    return {"index_bytes": (out / "index.html").stat().st_size, "plots": len(drawn)}
