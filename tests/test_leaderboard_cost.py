"""Leaderboard quality-vs-cost view: cost read once in collect, Pareto frontier, training cost, escaping."""

from __future__ import annotations

import importlib
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

build = importlib.import_module("ecomsuite.leaderboard.build")
collect = importlib.import_module("ecomsuite.leaderboard.collect")
costview = importlib.import_module("ecomsuite.leaderboard.costview")

DATE = "2024-05-01T10-00-00.000001"
HOSTILE = "org/<img src=x onerror=window.__pwned=1>"


def results(model: str, score: float) -> dict:
    return {
        "results": {"ecom_esci": {"alias": "ecom_esci", "macro_f1,none": score, "macro_f1_stderr,none": 0.02}},
        "configs": {"ecom_esci": {"task": "ecom_esci", "output_type": "multiple_choice", "num_fewshot": 0,
                                  "metadata": {"version": 1.0, "headline": "macro_f1"}}},
        "versions": {"ecom_esci": 1.0}, "n-shot": {"ecom_esci": 0},
        "higher_is_better": {"ecom_esci": {"macro_f1": True}},
        "n-samples": {"ecom_esci": {"original": 100, "effective": 100}},
        "config": {"model": "hf", "model_args": f"pretrained={model}", "batch_size": 8, "limit": None},
        "model_name": model, "date": 1714557600.0,
    }


def cost_record(seconds: float | None, usd: float | None = None) -> dict:
    return {"ecomsuite_cost": 1, "results_file": f"results_{DATE}.json", "model": "hf", "device": "cpu",
            "dtype": "torch.float32", "batch_size": "8", "world_size": 1, "timing": "per task",
            "price_per_mtok": None,
            "tasks": {"ecom_esci": {"documents": 100, "prompt_tokens": 5000, "generated_tokens": 0,
                                    "per_1k_documents": {"prompt_tokens": 50000, "generated_tokens": 0,
                                                         "seconds": seconds, "usd": usd}}}}


# name -> (score, seconds per 1k documents); None: no cost file; "bad": a corrupt cost file
SYSTEMS = {
    "org/a": (0.80, 100.0),     # frontier
    "org/b": (0.70, 50.0),      # frontier (cheapest)
    "org/c": (0.60, 80.0),      # dominated by b (better and cheaper)
    HOSTILE: (0.90, 400.0),     # frontier (best)
    "org/e": (0.75, 150.0),     # dominated by a
    "org/f": (0.95, None),      # no cost record: listed, not plotted
    "org/g": (0.99, "bad"),     # malformed cost record: reported, not fatal
}
FRONTIER = {"org/a", "org/b", HOSTILE}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("costruns")
    for i, (model, (score, secs)) in enumerate(SYSTEMS.items()):
        d = root / f"m{i}"
        d.mkdir()
        (d / f"results_{DATE}.json").write_text(json.dumps(results(model, score)), encoding="utf-8")
        if secs == "bad":
            (d / f"cost_{DATE}.ecomsuite.json").write_text("{not json", encoding="utf-8")
        elif secs is not None:
            (d / f"cost_{DATE}.ecomsuite.json").write_text(json.dumps(cost_record(secs)), encoding="utf-8")
    # an adapter with a training cost in its lineage
    d = root / "adapter"
    d.mkdir()
    (d / f"results_{DATE}.json").write_text(json.dumps(results("org/base-lora", 0.65) | {
        "config": {"model": "hf", "model_args": "pretrained=org/base,peft=/x/base-lora", "batch_size": 8}}), encoding="utf-8")
    (d / f"cost_{DATE}.ecomsuite.json").write_text(json.dumps(cost_record(200.0)), encoding="utf-8")
    (d / "lineage.json").write_text(json.dumps({
        "kind": "adapter", "name": "base-lora", "base_model": "org/base", "method": "lora", "tasks": ["ecom_esci"],
        "train_size": 1000, "train_cost": {"trained_tokens": 123456, "train_time_s": 61.5, "device": "cpu",
                                           "peak_memory_bytes": 3 * 1024 ** 3}}), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def site(runs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("costsite") / "site"
    build.build_site(build.BuildOptions(results=[str(runs)], out=str(out), bootstrap_iters=50, plots=False,
                                        generated="fixed", cache=False))
    return out


# ------------------------------------------------------------------------------------------- pure
def test_pareto_known_sets():
    pts = [("a", 0.8, 100), ("b", 0.7, 50), ("c", 0.6, 80), ("d", 0.9, 400), ("e", 0.75, 150)]
    assert costview.pareto(pts) == {"a", "b", "d"}
    # lower is better: the scores' order flips
    assert costview.pareto(pts, higher_is_better=False) == {"b", "c"}
    # identical points are both on the frontier; a point equal in cost but worse is not
    assert costview.pareto([("x", 0.5, 10), ("y", 0.5, 10), ("z", 0.4, 10)]) == {"x", "y"}
    assert costview.pareto([]) == set()


def test_task_cost_is_tolerant():
    assert costview.task_cost(None, "t") is None
    assert costview.task_cost({"tasks": []}, "t") is None
    tc = costview.task_cost({"tasks": {"t": {"per_1k_documents": {"seconds": "nan", "usd": -1, "prompt_tokens": "12"}}}}, "t")
    assert tc is not None and tc.seconds is None and tc.usd is None and tc.prompt_tokens == 12.0


# ---------------------------------------------------------------------------------------- collect
def test_collect_attaches_cost_and_reports_a_malformed_record(runs):
    coll = collect.collect([runs])
    by_model = {r.model_name: r for r in coll.runs}
    assert len(by_model) == len(SYSTEMS) + 1  # the malformed cost file did not cost the run
    assert by_model["org/a"].cost["tasks"]["ecom_esci"]["per_1k_documents"]["seconds"] == 100.0
    assert by_model["org/f"].cost is None and by_model["org/g"].cost is None
    bad = [p for p in coll.problems if p.path.endswith(f"cost_{DATE}.ecomsuite.json")]
    assert len(bad) == 1 and bad[0].severity == "warning" and "m6" in bad[0].path
    assert "unreadable cost record" in bad[0].reason and "without cost" in bad[0].reason
    # a cost file is never taken for a results file
    assert not any("cost_" in Path(p.path).name for p in coll.problems if p.severity == "error")


# ------------------------------------------------------------------------------------------- site
def test_frontier_is_exactly_the_expected_systems(runs):
    from ecomsuite.leaderboard import context, stats, systems

    coll = collect.collect([runs])
    asm = systems.assemble(coll.runs)
    st = stats.compute(asm, {}, iters=50, seed=1)
    ctx = context.build_context(asm, st, coll.problems, {}, coll.files_seen, generated="fixed")
    page = next(tp for tp in ctx.task_pages if tp.task == "ecom_esci")
    cv = page.cost
    assert cv is not None and cv.axis == "seconds"
    name_of = {s.id: s.name for s in asm.systems}
    on = {name_of[r.system_id] for r in cv.rows if r.frontier}
    assert on == {n for n in name_of.values() if any(m in n for m in ("org/a", "org/b", "onerror"))}
    assert len(on) == len(FRONTIER)
    assert len(cv.frontier_path.split()) == 2 * len(FRONTIER) - 1   # a staircase through the frontier
    assert [r.cost for r in cv.rows] == sorted(r.cost for r in cv.rows)   # cheapest first
    assert all(r.href == f"../systems/{r.system_id}.html" for r in cv.rows)
    assert all(r.ci != "—" for r in cv.rows)                               # every point carries its CI
    why = {name: reason for _, name, reason in cv.no_cost}
    assert len(why) == 2 and set(why.values()) == {"no cost record"}
    assert [t.trained_tokens for t in cv.training] == ["123,456"]
    assert cv.training[0].peak_memory == "3 GiB" and cv.training[0].train_time == "61.5 s"


def test_usd_axis_when_every_costed_system_is_priced():
    from types import SimpleNamespace as NS

    def sysm(i, usd):
        run = NS(path=f"r{i}", cost=cost_record(10.0 * i, usd))
        cell = NS(result=NS(run_path=f"r{i}"))
        return NS(id=f"s{i}", cells={"ecom_esci": cell}, runs=[run], display_name=f"s{i}", kind="api", lineage=None)

    cells = {(f"s{i}", "ecom_esci"): NS(value=v, ci=(v - 0.1, v + 0.1)) for i, v in ((1, 0.5), (2, 0.6), (3, 0.55))}
    ss = [sysm(1, 3.0), sysm(2, 1.0), sysm(3, 2.0)]
    cv = costview.build("ecom_esci", "macro_f1", True, ss, cells, str, str)
    assert cv.axis == "USD" and {r.system_id for r in cv.rows if r.frontier} == {"s2"}
    ss[0].runs[0].cost["tasks"]["ecom_esci"]["per_1k_documents"]["usd"] = None   # one unpriced -> seconds
    cv = costview.build("ecom_esci", "macro_f1", True, ss, cells, str, str)
    assert cv.axis == "seconds" and {r.system_id for r in cv.rows if r.frontier} == {"s1", "s2"}


class _Audit(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.bad: list[str] = []
        self.links: list[str] = []
        self.in_svg = 0

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k.lower().startswith("on") or k.lower() == "style":
                self.bad.append(f"<{tag} {k}>")
        if tag in ("script", "img", "iframe", "object", "embed", "foreignobject"):
            self.bad.append(f"<{tag}>")
        if tag == "svg":
            self.in_svg += 1
        if tag == "a" and self.in_svg:
            self.links.append(dict(attrs).get("href", ""))

    def handle_endtag(self, tag):
        if tag == "svg":
            self.in_svg -= 1


def test_page_shows_the_view_and_escapes_a_hostile_name(site):
    from ecomsuite.leaderboard import context

    page = (site / "tasks" / f"{context.task_slug('ecom_esci')}.html").read_text(encoding="utf-8")
    assert "Quality vs. cost" in page and 'id="cost-board"' in page and 'id="train-cost-board"' in page
    assert "<img src=x onerror" not in page
    assert "&lt;img src=x onerror=window.__pwned=1&gt;" in page     # shown as text, in table and SVG title
    _, _, view = page.partition('<h2 id="cost">')
    view = view.split("<h2>", 1)[0].split('<h2 id="samples">', 1)[0]
    audit = _Audit()
    audit.feed(view)
    assert audit.bad == []
    assert len(audit.links) == len(SYSTEMS) - 2 + 1  # costed systems + the adapter, each point a link
    assert all(h.startswith("../systems/") for h in audit.links)
    assert view.count('class="frontier"') == len(FRONTIER)
    assert view.count("no cost record") >= 2
    report = (site / "report.html").read_text(encoding="utf-8")
    assert "unreadable cost record" in report


def test_pareto_sweep_matches_the_definition_on_random_points():
    import random

    rng = random.Random(7)
    for _ in range(200):
        pts = [(str(i), rng.choice([0.1, 0.2, 0.3, 0.4]), rng.choice([1.0, 2.0, 3.0])) for i in range(rng.randint(1, 9))]
        for hib in (True, False):
            sign = 1 if hib else -1
            brute = {p for p, s, c in pts if not any(sign * s2 >= sign * s and c2 <= c and (s2 != s or c2 != c)
                                                    for _, s2, c2 in pts)}
            assert costview.pareto(pts, hib) == brute, (pts, hib)
