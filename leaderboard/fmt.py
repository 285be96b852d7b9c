"""How numbers read on the site: one definition each, used as Jinja filters (registered in
:func:`.render.environment`) and by the few sentences the page builders compose in Python."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .stats import Separation


def fmt_num(v: float | None) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    a = abs(v)
    if a >= 100:
        return f"{v:.1f}"
    if a >= 10:
        return f"{v:.2f}"
    return f"{v:.3f}"


def fmt_ci(ci: tuple[float, float] | None) -> str:
    if not ci:
        return ""
    for x in ci:
        if not math.isfinite(x):
            return ""
    return f"[{fmt_num(ci[0])}, {fmt_num(ci[1])}]"


def fmt_int(v: int | None) -> str:
    return "—" if v is None else f"{v:,}"


def fmt_params(v: int | None) -> str:
    if v is None:
        return "—"
    for div, suf in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if v >= div:
            return f"{v / div:.1f}{suf}"
    return str(v)


def fmt_seconds(v: float | None) -> str:
    if v is None:
        return "—"
    if v >= 3600:
        return f"{v / 3600:.1f} h"
    if v >= 60:
        return f"{v / 60:.1f} min"
    return f"{v:.1f} s"


def sort_key(v: float | None) -> str:
    """data-sort attribute: numbers as text, empty when missing (sorted last by table.js)."""
    return "" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{float(v):.10g}"


def separation_note(sep: Separation | None, short: bool = False) -> tuple[str, bool]:
    """The test of a ranked row against the next one, as a sentence; and whether the two are tied.
    ``short``: the index's form (one per row adds up at 1,000 rows)."""
    if sep is None:
        return "", False
    if sep.method == "different data":
        return "not compared with the next row: scored on different data", False
    if sep.separable is None:
        return "not tested against the next row (no common per-sample scores, or no stderr)", False
    verdict, tied = ("" if sep.separable else "NOT ") + "separable from the next row", not sep.separable
    ci = f" {fmt_ci(sep.ci)}" if sep.ci else ""
    n = f", {sep.n_common:,} common documents" if sep.n_common else ""
    p = f", p={sep.p:.3g}" if sep.p is not None else ""
    if short:  # the index's Rank header explains ≈ / better, the CI and the p-value once
        return f"{'≈' if tied else 'better than'} next row: {sep.method}, difference {fmt_num(sep.diff)}{ci}{p}{n}", tied
    ci95 = f", 95% CI{ci}" if ci else ""
    holm = f"{p} before Holm's correction" if p else ""
    return f"{verdict} ({sep.method}: difference {fmt_num(sep.diff)}{ci95}{n}{holm})", tied


# name in templates -> function ({{ x|fmt_num }}); none shadows a Jinja built-in filter
FILTERS = {f.__name__: f for f in (fmt_num, fmt_ci, fmt_int, fmt_params, fmt_seconds, sort_key)}
