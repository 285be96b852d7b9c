"""SVG plots written directly: no plotting library (matplotlib took ~1 s to import and ~0.3 s a plot
at 1,000 systems; this takes milliseconds), no JS, no CDN; works from file://.

Every text on a plot (system, model, task and metric names) comes from result files, i.e. from
anyone who can submit one. Each goes through :func:`_text`: builder paths scrubbed as on every page
(:func:`.privacy.scrub`), length capped (:func:`_label`), characters XML forbids replaced, then
XML-escaped (quotes too, where it lands in an attribute). The files hold only shapes and text with
presentation attributes: no script, no style element, no link, no reference to anything outside
themselves. The bytes are a function of the spec alone (fixed number formatting, no timestamps), so
a rebuild of the same inputs writes the same file.
"""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path
from xml.sax.saxutils import escape

from . import privacy
from .context import PlotSpec

_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
_FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"

# canvas and plot area (pixels)
W, H = 800, 420
LEFT, RIGHT, TOP, BOTTOM = 72, W - 18, 44, H - 74

# characters XML 1.0 does not allow (C0 controls but tab/newline/CR, lone surrogates, U+FFFE/U+FFFF)
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ATTR = {'"': "&quot;", "'": "&apos;"}


def _label(s: str, n: int = 60) -> str:
    s = " ".join(str(s).split())  # newlines and tabs: one line
    return s if len(s) <= n else s[: n - 1] + "…"


def _text(s: str, n: int = 60) -> str:
    """Untrusted text as XML character data (also safe inside a double- or single-quoted attribute)."""
    return escape(_NOT_XML.sub("\ufffd", _label(privacy.scrub(str(s)), n)), _ATTR)


def _num(v: float) -> str:
    """A coordinate: at most 2 decimals, no trailing zeros, never '-0'."""
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _finite(v) -> bool:
    """A number a plot can place (not NaN, not infinite, not an int too large for a float)."""
    try:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    except OverflowError:
        return False


def text_width(s: str, size: float) -> float:
    """Rough advance width of ``s`` in a sans-serif font of ``size`` px (for layout only)."""
    w = 0.0
    for ch in s:
        if ch in "iljI.,:;'|!() ":
            w += 0.3
        elif ch in "mwMW@%":
            w += 0.86
        elif ch.isupper() or ch in "…–—":
            w += 0.68
        else:
            w += 0.56
    return w * size


# ---------------------------------------------------------------------------------------------
# ticks


def nice_ticks(lo: float, hi: float, target: int = 6) -> tuple[list[float], int]:
    """Tick values inside [lo, hi] at a step of 1, 2, 2.5 or 5 x 10^k (at most about ``target`` of
    them, at least three), and the decimals their labels need."""
    if not (hi > lo):
        hi = lo + 1.0
    raw = (hi - lo) / max(1, target - 1)
    exp0 = math.floor(math.log10(raw))
    steps = [(m, e) for e in (exp0 - 1, exp0, exp0 + 1) for m in (1, 2, 2.5, 5)]  # ascending
    i = next(k for k, (m, e) in enumerate(steps) if m * 10.0 ** e >= raw * (1 - 1e-9))
    while True:
        mult, exp = steps[i]
        step = mult * 10.0 ** exp
        first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
        if last - first >= 2 or i == 0:
            break
        i -= 1  # fewer than three ticks: the next smaller step
    decimals = max(0, -exp) + (1 if mult == 2.5 and exp <= 0 else 0)
    return [round(k * step, decimals + 2) for k in range(first, last + 1)], decimals


def _tick_label(v: float, decimals: int) -> str:
    s = f"{v:.{decimals}f}"
    return s[1:] if s.startswith("-") and float(s) == 0 else s


def _si(v: float) -> str:
    """A training-set size as a tick label: 500, 2k, 2.5k, 10k, 1M."""
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if v >= div:
            return f"{v / div:g}{suffix}"
    return f"{v:g}"


def log_ticks(lo: float, hi: float) -> list[float]:
    """Tick values inside [lo, hi] (both in log10 units): the powers of ten; over three decades or less,
    also 2x and 5x; where that makes fewer than two, nice linear values."""
    first, last = math.ceil(lo - 1e-9), math.floor(hi + 1e-9)
    every = max(1, math.ceil((last - first + 1) / 9))
    ticks = [float(k) for k in range(first, last + 1) if k % every == 0]
    if hi - lo <= 3:
        ticks = sorted({k + math.log10(m) for k in range(first - 1, last + 1) for m in (1, 2, 5)})
        ticks = [t for t in ticks if lo - 1e-9 <= t <= hi + 1e-9]
    if len(ticks) < 2:
        lin, _ = nice_ticks(10 ** lo, 10 ** hi, 5)
        ticks = [math.log10(v) for v in lin if v > 0 and lo - 1e-9 <= math.log10(v) <= hi + 1e-9]
    return ticks


# ---------------------------------------------------------------------------------------------
# the canvas


class _Axis:
    """Data value -> pixel along one axis (linear, or log10 when ``log``; lo/hi in those units)."""

    def __init__(self, lo: float, hi: float, p0: float, p1: float, log: bool = False) -> None:
        self.lo, self.hi, self.p0, self.p1, self.log = lo, hi, p0, p1, log

    def __call__(self, v: float) -> float:
        if self.log:
            v = math.log10(v)
        return self.p0 + (v - self.lo) / (self.hi - self.lo) * (self.p1 - self.p0)


class _Svg:
    def __init__(self, title: str) -> None:
        t = _text(title, 90)
        self.parts = [
            '<?xml version="1.0" encoding="utf-8"?>',
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img" aria-label="{t}">',
            f"<title>{t}</title>",
            f'<rect width="{W}" height="{H}" fill="#ffffff"/>',
            f'<g font-family="{_FONT}" fill="#222222">',
        ]
        self.text(W / 2, 24, title, size=14, anchor="middle", cap=90)

    def add(self, s: str) -> None:
        self.parts.append(s)

    def line(self, x1: float, y1: float, x2: float, y2: float, color: str, width: float = 1, extra: str = "") -> None:
        self.add(f'<line x1="{_num(x1)}" y1="{_num(y1)}" x2="{_num(x2)}" y2="{_num(y2)}" stroke="{color}" '
                 f'stroke-width="{_num(width)}"{extra}/>')

    def rect(self, x: float, y: float, w: float, h: float, fill: str, extra: str = "") -> None:
        self.add(f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(max(w, 0))}" height="{_num(max(h, 0))}" fill="{fill}"{extra}/>')

    def circle(self, x: float, y: float, r: float, fill: str, extra: str = "") -> None:
        self.add(f'<circle cx="{_num(x)}" cy="{_num(y)}" r="{_num(r)}" fill="{fill}"{extra}/>')

    def text(self, x: float, y: float, s: str, size: float = 11, anchor: str = "start", cap: int = 60, fill: str = "",
             rotate: float = 0) -> None:
        attrs = f' font-size="{_num(size)}"' + (f' text-anchor="{anchor}"' if anchor != "start" else "")
        attrs += f' fill="{fill}"' if fill else ""
        attrs += f' transform="rotate({_num(rotate)} {_num(x)} {_num(y)})"' if rotate else ""
        self.add(f'<text x="{_num(x)}" y="{_num(y)}"{attrs}>{_text(s, cap)}</text>')

    def errorbar(self, x: float, lo: float, hi: float, cap: float, color: str) -> None:
        lo, hi = max(lo, hi), min(lo, hi)  # pixels: lo is the lower end, drawn further down
        if lo - hi < 0.5:
            return
        self.add(f'<path d="M{_num(x)} {_num(lo)}V{_num(hi)}M{_num(x - cap)} {_num(lo)}H{_num(x + cap)}'
                 f'M{_num(x - cap)} {_num(hi)}H{_num(x + cap)}" stroke="{color}" stroke-width="1" fill="none"/>')

    def finish(self) -> str:
        return "\n".join(self.parts + ["</g>", "</svg>", ""])


def _ci(p) -> tuple[float, float]:
    """The point's error bar ends (y itself where the CI is unknown or does not contain it)."""
    lo = min(p.y, p.lo) if _finite(p.lo) else p.y
    hi = max(p.y, p.hi) if _finite(p.hi) else p.y
    return lo, hi


def _y_axis(svg: _Svg, spec: PlotSpec, values: list[float], zero: bool, headroom: float = 0.05) -> _Axis:
    """The y axis (nice ticks, grid, its label) for these values; ``zero``: bars start at 0, so it is in range;
    ``headroom``: the share of the range left free above the highest value (for labels there)."""
    vals = [v for v in values if _finite(v)] + ([0.0] if zero else [])
    lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
    if hi - lo < 1e-12:
        pad = abs(hi) * 0.1 or 0.5
        lo, hi = lo - pad, hi + pad
    span = hi - lo
    lo = lo if zero and lo == 0 else lo - 0.05 * span
    hi = hi if zero and hi == 0 else hi + headroom * span
    ticks, decimals = nice_ticks(lo, hi)
    ax = _Axis(lo, hi, BOTTOM, TOP)
    for t in ticks:
        y = ax(t)
        svg.line(LEFT, y, RIGHT, y, "#e3e3e3")
        svg.line(LEFT - 4, y, LEFT, y, "#444444")
        svg.text(LEFT - 7, y + 4, _tick_label(t, decimals), size=11, anchor="end")
    svg.text(16, (TOP + BOTTOM) / 2, spec.ylabel, size=12, anchor="middle", rotate=-90)
    return ax


def _frame(svg: _Svg) -> None:
    svg.add(f'<rect x="{LEFT}" y="{TOP}" width="{RIGHT - LEFT}" height="{BOTTOM - TOP}" fill="none" stroke="#444444" stroke-width="1"/>')


def _legend(svg: _Svg, entries: list[tuple[str, str, str]], occupied: list[tuple[float, float]]) -> None:
    """Entries (label, color, "line" | "bar") in a box at the corner of the plot covering the fewest
    ``occupied`` pixels (the first of upper right, upper left, lower left, lower right on a tie)."""
    if not entries:
        return
    size, row, pad = 10, 15, 6
    labels = [_label(privacy.scrub(str(e[0])), 50) for e in entries]
    w = min(RIGHT - LEFT - 2 * pad, 30 + max(text_width(t, size) for t in labels) + pad)
    h = row * len(entries) + pad
    spots = [(RIGHT - w - pad, TOP + pad), (LEFT + pad, TOP + pad), (LEFT + pad, BOTTOM - h - pad), (RIGHT - w - pad, BOTTOM - h - pad)]
    x, y = min(spots, key=lambda s: sum(1 for px, py in occupied if s[0] <= px <= s[0] + w and s[1] <= py <= s[1] + h))
    svg.rect(x, y, w, h, "#ffffff", ' fill-opacity="0.85" stroke="#cccccc" stroke-width="1"')
    for i, (label, (_, color, kind)) in enumerate(zip(labels, entries)):
        cy = y + pad + row * i + row / 2 - 2
        if kind == "bar":
            svg.rect(x + 8, cy - 5, 16, 10, color)
        else:
            svg.line(x + 6, cy, x + 26, cy, color, 1.5)
            svg.circle(x + 16, cy, 2.5, color)
        svg.text(x + 30, cy + 3.5, label, size=size, cap=50)


# ---------------------------------------------------------------------------------------------
# the three kinds


def render(spec: PlotSpec) -> str:
    """The SVG document of one plot."""
    svg = _Svg(spec.title)
    if spec.kind == "train_size":
        _train_size(svg, spec)
    elif spec.kind == "categories":
        _categories(svg, spec)
    elif spec.kind == "merges":
        _merges(svg, spec)
    else:
        raise ValueError(f"plot {spec.file}: unknown kind {spec.kind!r}")
    _frame(svg)
    if spec.note:
        svg.text(8, H - 8, spec.note, size=9, fill="#555555", cap=120)
    return svg.finish()


def draw(spec: PlotSpec, out_dir: Path) -> Path:
    path = out_dir / spec.file
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = render(spec)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(doc)
    return path


def draw_safely(job: tuple[PlotSpec, str]) -> str | None:
    """draw(), reporting a failure instead of raising: returns None, or the error as one line."""
    spec, out = job
    try:
        draw(spec, Path(out))
        return None
    except Exception as e:  # noqa: BLE001
        return f"{type(e).__name__}: {e}"


def _train_size(svg: _Svg, spec: PlotSpec) -> None:
    lines = [s for s in spec.series if s.style != "hline"]
    hlines = [s for s in spec.series if s.style == "hline" and s.points and _finite(s.points[0].y)]
    pts = [p for s in lines for p in s.points if _finite(p.y) and _finite(p.x) and p.x > 0]
    ys = [v for p in pts for v in (p.y, *_ci(p))] + [s.points[0].y for s in hlines]
    ay = _y_axis(svg, spec, ys, zero=False)
    xs = [math.log10(p.x) for p in pts]
    lo, hi = (min(xs), max(xs)) if xs else (2.0, 4.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    margin = (hi - lo) * 0.05
    ax = _Axis(lo - margin, hi + margin, LEFT, RIGHT, log=True)
    for t in log_ticks(ax.lo, ax.hi):
        x = ax.p0 + (t - ax.lo) / (ax.hi - ax.lo) * (ax.p1 - ax.p0)
        svg.line(x, BOTTOM, x, BOTTOM + 4, "#444444")
        svg.text(x, BOTTOM + 17, _si(round(10 ** t, 6)), size=11, anchor="middle")
    svg.text((LEFT + RIGHT) / 2, BOTTOM + 36, "training examples", size=12, anchor="middle")
    for s in hlines:
        y = ay(s.points[0].y)
        svg.line(LEFT, y, RIGHT, y, "#888888", 1, ' stroke-dasharray="5 3"')
        svg.text(LEFT + 0.01 * (RIGHT - LEFT), y - 3, s.label, size=9, fill="#555555", cap=40)
    occupied: list[tuple[float, float]] = []
    entries = []
    for ci, s in enumerate(lines):
        color = _COLORS[ci % len(_COLORS)]
        good = [p for p in s.points if _finite(p.y) and _finite(p.x) and p.x > 0]
        coords = [(ax(p.x), ay(p.y)) for p in good]
        if len(coords) > 1:
            svg.add(f'<polyline points="{" ".join(f"{_num(x)},{_num(y)}" for x, y in coords)}" fill="none" stroke="{color}" '
                    'stroke-width="1.5" stroke-linejoin="round"/>')
        for (x1, y1), (x2, y2) in itertools.pairwise(coords):  # the legend avoids the lines too
            occupied += [(x1 + (x2 - x1) * k / 8, y1 + (y2 - y1) * k / 8) for k in range(1, 8)]
        for p, (x, y) in zip(good, coords):
            lo_, hi_ = _ci(p)
            svg.errorbar(x, ay(lo_), ay(hi_), 3, color)
            svg.circle(x, y, 2.5, color)
            occupied += [(x, y), (x, ay(lo_)), (x, ay(hi_))]
        entries.append((s.label, color, "line"))
    for s in hlines:
        occupied += [(LEFT + k * (RIGHT - LEFT) / 20, ay(s.points[0].y)) for k in range(21)]
    _legend(svg, entries, occupied)


def _categories(svg: _Svg, spec: PlotSpec) -> None:
    cats: list[str] = []
    for s in spec.series:
        if s.label not in cats:
            cats.append(s.label)
    pos = {c: i for i, c in enumerate(cats)}
    ys = [v for s in spec.series for p in s.points if _finite(p.y) for v in (p.y, *_ci(p))]
    ay = _y_axis(svg, spec, ys, zero=any(s.style == "bar" for s in spec.series), headroom=0.1)
    n = max(len(cats), 1)
    slot = (RIGHT - LEFT) / n

    def cx(i: float) -> float:
        return LEFT + slot * (i + 0.5)

    for c, i in pos.items():
        svg.line(cx(i), BOTTOM, cx(i), BOTTOM + 4, "#444444")
        svg.text(cx(i), BOTTOM + 17, c, size=11, anchor="middle", cap=20)
    cap = max(6, min(34, int(slot / text_width("n", 9))))  # a label no wider than its slot
    labels = []
    for s in spec.series:
        i = pos[s.label]
        color = _COLORS[i % len(_COLORS)]
        if s.style == "bar":
            p = s.points[0]
            if not _finite(p.y):
                continue
            y0, y = ay(0.0), ay(p.y)
            svg.rect(cx(i) - 0.3 * slot, min(y, y0), 0.6 * slot, abs(y0 - y), color, ' fill-opacity="0.55"')
            lo, hi = _ci(p)
            svg.errorbar(cx(i), ay(lo), ay(hi), 4, "#222222")
            labels.append((cx(i), max(TOP + 11, min(ay(hi), y) - 5), p.label))
        else:  # every system: jittered dots, one group (a thousand of them)
            svg.add('<g fill="#000000" fill-opacity="0.5">')
            for k, p in enumerate(s.points):
                if _finite(p.y):
                    x = cx(i + (((k * 0.6180339) % 1.0) - 0.5) * 0.45)
                    svg.add(f'<circle cx="{_num(x)}" cy="{_num(ay(p.y))}" r="1.8"/>')
            svg.add("</g>")
    for x, y, label in labels:  # on top of the dots
        svg.text(x, y, label, size=9, anchor="middle", cap=cap)


def _merges(svg: _Svg, spec: PlotSpec) -> None:
    ys = [v for s in spec.series for p in s.points if _finite(p.y) for v in (p.y, *_ci(p))]
    ay = _y_axis(svg, spec, ys, zero=True)
    n = max(len(spec.series), 1)
    slot = (RIGHT - LEFT) / n
    y0 = ay(0.0)
    occupied = []
    for gi, s in enumerate(spec.series):
        center = LEFT + slot * (gi + 0.5)
        k_n = len(s.points)
        width = 0.8 * slot / max(k_n, 1)
        for k, p in enumerate(s.points):
            if not _finite(p.y):
                continue
            x = center - 0.4 * slot + width * (k + 0.5)
            y = ay(p.y)
            svg.rect(x - 0.45 * width, min(y, y0), 0.9 * width, abs(y0 - y), "#d62728" if k == k_n - 1 else "#9e9e9e")
            lo, hi = _ci(p)
            svg.errorbar(x, ay(lo), ay(hi), min(4, 0.3 * width), "#222222")
            occupied += [(x, y), (x, (y + y0) / 2), (x, ay(hi))]
        svg.line(center, BOTTOM, center, BOTTOM + 4, "#444444")
        svg.text(center + 4, BOTTOM + 14, s.label, size=10, anchor="end", cap=24, rotate=-20)
    _legend(svg, [("input", "#9e9e9e", "bar"), ("merge", "#d62728", "bar")], occupied)
