"""SVG plots with matplotlib's Agg backend (no JS, no CDN; works from file://).

Text is drawn as paths (``svg.fonttype = 'path'``), so labels taken from result files end up as
glyph outlines, not as markup; ``$`` is escaped so a model name can't trigger mathtext.
"""

from __future__ import annotations

from pathlib import Path

from .context import PlotSpec

_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def _label(s: str, n: int = 60) -> str:
    s = s.replace("\\", "/").replace("$", r"\$")
    return s if len(s) <= n else s[: n - 1] + "…"


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "path", "svg.hashsalt": "ecomsuite-leaderboard", "font.size": 9})
    return plt


def draw(spec: PlotSpec, out_dir: Path) -> Path:
    plt = _plt()
    path = out_dir / spec.file
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 4.2))
    try:
        if spec.kind == "train_size":
            _train_size(ax, spec)
        elif spec.kind == "categories":
            _categories(ax, spec)
        else:
            _merges(ax, spec)
        ax.set_title(_label(spec.title, 90))
        ax.set_ylabel(_label(spec.ylabel))
        ax.grid(axis="y", alpha=0.3)
        if spec.note:
            fig.text(0.01, 0.01, _label(spec.note, 120), fontsize=7, color="#555")
        fig.subplots_adjust(left=0.08, right=0.98, top=0.9, bottom=0.2)
        fig.savefig(path, format="svg", metadata={"Date": None})
    finally:
        plt.close(fig)
    return path


def draw_safely(job: tuple[PlotSpec, str]) -> str | None:
    """draw() for a worker process: returns None, or the error as one line."""
    spec, out = job
    try:
        draw(spec, Path(out))
        return None
    except Exception as e:  # noqa: BLE001
        return f"{type(e).__name__}: {e}"


def _err(points):
    lo = [p.y - p.lo if p.lo is not None else 0.0 for p in points]
    hi = [p.hi - p.y if p.hi is not None else 0.0 for p in points]
    return [max(0.0, v) for v in lo], [max(0.0, v) for v in hi]


def _train_size(ax, spec: PlotSpec) -> None:
    ci = 0
    for s in spec.series:
        if s.style == "hline":
            p = s.points[0]
            ax.axhline(p.y, ls="--", lw=1, color="#888")
            ax.annotate(_label(s.label, 40), (0.01, p.y), xycoords=("axes fraction", "data"), fontsize=7, color="#555", va="bottom")
            continue
        xs = [p.x for p in s.points]
        ys = [p.y for p in s.points]
        color = _COLORS[ci % len(_COLORS)]
        ci += 1
        ax.errorbar(xs, ys, yerr=_err(s.points), marker="o", ms=4, capsize=3, lw=1.5, color=color, label=_label(s.label, 50))
    ax.set_xscale("log")
    ax.set_xlabel("training examples")
    if ci:
        ax.legend(fontsize=7, loc="best")


def _categories(ax, spec: PlotSpec) -> None:
    cats: list[str] = []
    for s in spec.series:
        if s.label not in cats:
            cats.append(s.label)
    pos = {c: i for i, c in enumerate(cats)}
    for s in spec.series:
        i = pos[s.label]
        color = _COLORS[i % len(_COLORS)]
        if s.style == "bar":
            p = s.points[0]
            lo, hi = _err([p])
            ax.bar([i], [p.y], yerr=[lo, hi], capsize=4, color=color, alpha=0.55, width=0.6)
            ax.annotate(_label(p.label, 34), (i, p.y), ha="center", va="bottom", fontsize=6, xytext=(0, 8), textcoords="offset points")
        else:
            n = len(s.points)
            xs = [i + (((k * 0.6180339) % 1.0) - 0.5) * 0.45 for k in range(n)]
            ax.scatter(xs, [p.y for p in s.points], s=8, color="black", alpha=0.5, zorder=3)
    ax.set_xticks(range(len(cats)), [_label(c, 20) for c in cats])


def _merges(ax, spec: PlotSpec) -> None:
    ticks = []
    for gi, s in enumerate(spec.series):
        n = len(s.points)
        width = 0.8 / max(n, 1)
        for k, p in enumerate(s.points):
            x = gi - 0.4 + width * (k + 0.5)
            is_merge = k == n - 1
            lo, hi = _err([p])
            ax.bar([x], [p.y], width=width * 0.9, yerr=[lo, hi], capsize=2, color="#d62728" if is_merge else "#9e9e9e",
                   label=("merge" if is_merge else "input") if gi == 0 and (is_merge or k == 0) else None)
        ticks.append(_label(s.label, 24))
    ax.set_xticks(range(len(ticks)), ticks, rotation=20, ha="right")
    ax.legend(fontsize=7)
