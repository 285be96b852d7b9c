"""ecomsuite leaderboard: lm-eval result files -> a static, self-contained site.

Pipeline (each stage is a plain function over typed values, so each is testable alone):

    collect.collect(paths)            result files, samples files, lineage -> Collection
    systems.assemble(collection)      runs grouped into systems, suite tasks, headline metrics
    samples.load_all(...)             per-sample items (streamed; viewer data files written here)
    stats.compute(...)                confidence intervals, overall score, rank groups
    context.build_context(...)        SiteContext (dataclasses) = everything the templates show
    render.render_site(ctx, out)      Jinja2 (autoescape) pages, JS data, CSV/JSON, SVG plots

Command line: ``ecomsuite leaderboard build RESULTS_DIR... --out SITE_DIR``
(or ``python -m ecomsuite.leaderboard.build build RESULTS_DIR... --out SITE_DIR``).
"""

__all__ = ["main"]


def main(argv=None) -> int:
    """Entry point; see :func:`ecomsuite.leaderboard.build.main`."""
    from .build import main as _main

    return _main(argv)
