"""Leaderboard context and rendering: what the site shows, exports, escaping of hostile text, CLI."""

from __future__ import annotations

import csv
import importlib
import importlib.util
import io
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

build = importlib.import_module("ecomsuite.leaderboard.build")
collect = importlib.import_module("ecomsuite.leaderboard.collect")
context = importlib.import_module("ecomsuite.leaderboard.context")
render = importlib.import_module("ecomsuite.leaderboard.render")
safejson = importlib.import_module("ecomsuite.leaderboard.safejson")
samples = importlib.import_module("ecomsuite.leaderboard.samples")
stats = importlib.import_module("ecomsuite.leaderboard.stats")
synthetic = importlib.import_module("ecomsuite.leaderboard.synthetic")
systems = importlib.import_module("ecomsuite.leaderboard.systems")

PAYLOAD_MARKERS = ["<script>window.__pwned", "<img src=x onerror", "<svg onload", "</script><script>"]


@pytest.fixture(scope="module")
def xss_runs(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    synthetic.demo(out, n_docs=40, xss=True, bad_files=True)
    return out


@pytest.fixture(scope="module")
def xss_site(xss_runs, tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("site") / "site"
    build.build_site(build.BuildOptions(results=[str(xss_runs)], out=str(site), bootstrap_iters=200, plots=False,
                                        generated="fixed"))
    return site


def make_context(runs: Path, **kw):
    coll = collect.collect([runs])
    asm = systems.assemble(coll.runs)
    data, files = {}, {}
    for s in asm.systems:
        for t, c in s.cells.items():
            if c.samples_path:
                data[(s.id, t)] = samples.read_samples(samples.SampleJob(s.id, t, c.metric, c.filter, c.samples_path, None), None)
                files[(s.id, t)] = context.data_file(t, s.id)
    st = stats.compute(asm, data, iters=200, seed=1, include_limited=kw.get("include_limited", False))
    return context.build_context(asm, st, coll.problems, files, coll.files_seen, generated="fixed", **kw), asm


# ---------------------------------------------------------------------------------------------
# context


def test_context_columns_rows_and_overall(xss_runs):
    ctx, _ = make_context(xss_runs)
    assert [c.task for c in ctx.columns] == sorted(synthetic.SUITE)
    assert {c.task: c.metric for c in ctx.columns} == {t: v[0] for t, v in synthetic.SUITE.items()}
    assert ctx.overall_tasks == sorted(synthetic.SUITE) and ctx.excluded_from_overall == []
    ranked = [r for r in ctx.rows if r.position is not None]
    unranked = [r for r in ctx.rows if r.position is None]
    assert len(ranked) == 10  # base 0/3-shot, chat, API, 4 mixed LoRA, 2 merges
    assert [r.position for r in ranked] == list(range(1, 11))
    assert all(r.overall is not None and r.overall_ci for r in ranked)
    assert all(r.overall is None and r.rank_label == "—" and "missing" in r.overall_note for r in unranked)
    assert ctx.rows.index(ranked[-1]) < ctx.rows.index(unranked[0])  # ranked rows first
    overall = [r.overall for r in ranked]
    assert overall == sorted(overall, reverse=True)
    # the --limit run is listed apart, not ranked
    assert [r.name for r in ctx.limited_rows] == ["Qwen/Qwen2.5-0.5B (limit=20)"]
    assert all("Qwen" not in r.name for r in ctx.rows)
    assert ctx.report.errors and len(ctx.report.errors) == 3
    assert {r.kind for r in ctx.rows} == {"base", "api", "adapter", "merge", "baseline"}


def test_every_number_says_what_it_was_measured_on(xss_runs):
    ctx, _ = make_context(xss_runs)
    row = next(r for r in ctx.rows if r.name.startswith("meta-llama/Llama-2-7b-chat-hf"))
    cell = row.cells[0]
    assert cell.present and cell.ci[0] <= cell.value <= cell.ci[1]
    sentence = cell.measured_on or ctx.columns[0].measured_on  # the column's tooltip unless the cell differs
    for part in ("40 documents", "data: embedded sample", "0-shot", "chat template", "CI: bootstrap (200)"):
        assert part in sentence
    assert ctx.columns[0].measured == "n=40 · embedded sample"
    # what most cells share is said once, in the column header, not repeated in every cell's tooltip
    shared = ctx.columns[0].measured_on
    cells = [r.cells[0] for r in ctx.rows + ctx.limited_rows if r.cells[0].present]
    assert shared and sum(c.measured_on == "" for c in cells) >= len(cells) // 2
    assert all(c.measured_on != shared for c in cells)
    lim = ctx.limited_rows[0].cells[0]
    assert lim.note == "n=20" and "run with --limit 20" in lim.measured_on  # deviation is visible in the cell


def test_api_row_without_stderr_still_gets_bootstrap_ci(xss_runs):
    ctx, _ = make_context(xss_runs)
    api = next(r for r in ctx.rows if r.kind == "api")
    assert all(c.ci for c in api.cells)


def test_include_limited_ranks_limited_runs(xss_runs):
    ctx, _ = make_context(xss_runs, include_limited=True)
    assert ctx.limited_rows == []
    qwen = next(r for r in ctx.rows if r.name.startswith("Qwen"))
    assert qwen.position is not None


def test_task_pages_and_system_pages(xss_runs):
    ctx, _ = make_context(xss_runs)
    esci = next(tp for tp in ctx.task_pages if tp.task == "ecom_esci")
    assert esci.metric == "macro_f1" and esci.in_overall
    assert len(esci.viewer_systems) == len(esci.rows) + len(esci.unranked)
    assert all(v.file.startswith("../data/") and v.file.endswith(".js") for v in esci.viewer_systems)
    assert "acc" in esci.metric_names and "f1_E" in esci.metric_names
    merge = next(sp for sp in ctx.system_pages if sp.name == "llama2-7b-ties-esci+queryner")
    assert merge.lineage.fields[0] == ("kind", "merge")
    assert [n.title for n in merge.lineage.inputs] == ["llama2-7b-lora-ecom_esci-10k", "llama2-7b-lora-ecom_queryner-10k"]
    assert merge.train_command.startswith("ecomsuite merge --method ties")
    assert merge.runs[0].command.startswith("lm_eval --model hf --model_args ")
    assert "--tasks ecom --num_fewshot 0" in merge.runs[0].command


def test_reproduce_command_from_results_config(tmp_path):
    data = {
        "results": {"ecom_esci": {"acc,none": 0.5}, "arc_easy": {"acc,none": 0.5}},
        "group_subtasks": {"ecom": ["ecom_esci"]},
        "n-shot": {"ecom_esci": 5, "arc_easy": 5},
        "n-samples": {"ecom_esci": {"original": 100, "effective": 10}},
        "config": {"model": "hf", "model_args": {"pretrained": "org/m", "peft": "/a d/x"}, "batch_size": "auto",
                   "limit": 10.0, "gen_kwargs": {"temperature": 0}, "random_seed": 1, "numpy_seed": 2, "torch_seed": 3,
                   "fewshot_seed": 4},
        "chat_template": "{{ x }}",
        "system_instruction": "Be brief; don't 'quote'",
        "fewshot_as_multiturn": False,
    }
    run = collect.run_from_dict(data, tmp_path / "results_a.json", [tmp_path], [])
    cmd = context.command_for_run(run)
    assert cmd == (
        "lm_eval --model hf --model_args 'pretrained=org/m,peft=/a d/x' --tasks ecom,arc_easy --num_fewshot 5 "
        "--batch_size auto --apply_chat_template --fewshot_as_multiturn false "
        "--system_instruction 'Be brief; don'\"'\"'t '\"'\"'quote'\"'\"'' --gen_kwargs temperature=0 --limit 10 "
        "--seed 1,2,3,4 --log_samples --output_path OUTPUT_DIR"
    )


def test_plot_specs(xss_runs):
    ctx, _ = make_context(xss_runs)
    kinds = {(p.kind, p.task) for p in ctx.plots}
    assert ("train_size", "ecom_esci") in kinds and ("categories", "ecom_esci") in kinds and ("merges", "ecom_esci") in kinds
    ts = next(p for p in ctx.plots if p.kind == "train_size" and p.task == "ecom_queryner")
    mixed = next(s for s in ts.series if "mixed tasks" in s.label)
    assert [p.x for p in mixed.points] == [1000, 5000, 10000, 50000]
    merges = next(p for p in ctx.plots if p.kind == "merges" and p.task == "ecom_esci")
    for s in merges.series:  # of the two inputs only the ESCI adapter was scored on ecom_esci
        assert [p.label.split(":")[0] for p in s.points] == ["input", f"merge ({s.label.split('-')[2]})"]
        assert s.points[0].label == "input: llama2-7b-lora-ecom_esci-10k"


# ---------------------------------------------------------------------------------------------
# the written site


def test_site_files(xss_site):
    for f in ("index.html", "about.html", "plots.html", "report.html", "tasks.html", "leaderboard.csv", "leaderboard.json",
              "build_report.json", "static/site.css", "static/table.js", "static/viewer.js"):
        assert (xss_site / f).is_file(), f
    rep = json.loads((xss_site / "build_report.json").read_text())
    assert len(rep["errors"]) == 3 and rep["files_seen"] == 20
    assert "corrupt or truncated JSON" in (xss_site / "report.html").read_text()
    board = json.loads((xss_site / "leaderboard.json").read_text())
    assert len(board["rows"]) == 16 and len(board["limited_rows"]) == 1
    rows = list(csv.DictReader(io.StringIO((xss_site / "leaderboard.csv").read_text())))
    assert len(rows) == 17 and rows[0]["rank"] == "1" and "ecom_esci:macro_f1" in rows[0]
    n_js = len([f for f in (xss_site / "data").rglob("*.js") if not f.name.startswith("_")])
    assert len(list((xss_site / "data").rglob("_docs.js"))) == 6  # one shared prompt file per task
    n_cells = sum(1 for r in board["rows"] + board["limited_rows"] for k, v in r.items() if k.endswith(":n_docs") and v != "")
    assert n_js == n_cells  # one data file per system x task


class _Cells(HTMLParser):
    """The first table's header cells (attributes) and its body cells' attributes, by column."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.head: list[dict] = []
        self.body: list[tuple[int, dict]] = []
        self.part, self.col, self.tables = "", 0, 0

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables += 1
        if self.tables != 1:
            return
        if tag in ("thead", "tbody"):
            self.part = tag
        elif tag == "tr":
            self.col = 0
        elif tag in ("th", "td"):
            (self.head.append(dict(attrs)) if self.part == "thead" else self.body.append((self.col, dict(attrs))))
            self.col += 1


def test_index_says_what_rows_share_once(xss_site):
    """What rows share (what a column was measured on, how the overall was made, what the rank test means)
    is said in a header's tooltip; a body cell has a tooltip only where it says something of its own."""
    t = _Cells()
    t.feed((xss_site / "index.html").read_text())
    head = " ".join(a.get("title", "") for a in t.head)
    body = [a["title"] for _, a in t.body if "title" in a]
    assert "before Holm's correction" in head and not any("Holm" in x for x in body)
    assert "Most rows: macro_f1 on ecom_esci;" in head and "mean of 6 headline metrics; CI: bootstrap for most rows" in head
    assert body and all(x not in head for x in body)
    assert any(x.startswith("≈ next row: paired bootstrap, difference ") for x in body)
    assert any(x.startswith("better than next row: paired bootstrap, difference ") for x in body)
    # a score sorts by the value it shows: no data-sort but in the Overall column
    tasks = [k for k, a in enumerate(t.head) if "task-col" in a.get("class", "")]
    overall = next(k for k, a in enumerate(t.head) if a.get("title", "").startswith("Overall:"))
    assert len(tasks) == len(synthetic.SUITE)
    assert not any("data-sort" in a for k, a in t.body if k in tasks)
    assert all("data-sort" in a for k, a in t.body if k == overall)


def test_per_sample_data_is_not_on_the_index(xss_site):
    index = (xss_site / "index.html").read_text()
    assert "Query: ecom_esci query" not in index and "LB_SAMPLES" not in index
    assert "viewer.js" not in index
    task = next((xss_site / "tasks").glob("ecom_esci-*.html")).read_text()
    assert "Query: ecom_esci query" not in task  # loaded on demand from data/*.js
    assert "viewer.js" in task


class _Audit(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.scripts: list[dict] = []
        self.bad: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts.append(a)
        for k, v in attrs:
            if k.lower().startswith("on"):
                self.bad.append(f"<{tag} {k}=...>")
            if k in ("href", "src") and v and v.strip().lower().startswith(("javascript:", "data:", "http:", "https:", "//")):
                self.bad.append(f"<{tag} {k}={v}>")
        if tag in ("img", "svg", "iframe", "object", "embed") and tag != "img":
            self.bad.append(f"<{tag}>")
        if tag == "img" and not (a.get("src") or "").startswith(("plots/", "../plots/")):
            self.bad.append(f"<img src={a.get('src')}>")


def test_hostile_text_is_escaped_in_every_page(xss_site):
    pages = list(xss_site.rglob("*.html"))
    assert len(pages) > 20
    for page in pages:
        raw = page.read_text()
        for marker in PAYLOAD_MARKERS:
            assert marker not in raw, (page, marker)
        audit = _Audit()
        audit.feed(raw)
        assert audit.bad == [], (page, audit.bad)
        for s in audit.scripts:
            ok = (s.get("src") or "").lstrip("./").startswith("static/") or s.get("type") == "application/json"
            assert ok, (page, s)
    index = (xss_site / "index.html").read_text()
    assert "&lt;img src=x onerror=window.__pwned=1&gt;" in index  # shown as text
    report = (xss_site / "report.html").read_text()
    assert "broken &#34;&gt;&lt;img src=x onerror" in report  # hostile file name, escaped


def test_js_data_files_cannot_break_out(xss_site):
    files = list((xss_site / "data").rglob("*.js"))
    assert files
    seen_payload = False
    pat = re.compile(r'^\(function\(w\)\{var g="(?:LB_SAMPLES|LB_DOCS)";w\[g\]=w\[g\]\|\|\{\};w\[g\]\["[a-z0-9._-]+"\]=(.*);\}\)\(window\);\n$', re.DOTALL)
    for f in files:
        text = f.read_text()
        for ch in "<>&\u2028\u2029":
            assert ch not in text, (f, ch)
        m = pat.match(text)
        assert m, f
        outer = json.loads(m.group(1))
        # besides the (slugged) system id and the task name, the file holds one base64 string
        assert set(outer) == ({"task", "format", "z"} if f.name == "_docs.js" else {"system", "task", "format", "z"}), f
        assert re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", outer["z"]), f
        blob = json.dumps(samples.read_data_file(f), ensure_ascii=False)
        if "</script><script>window.__pwned=1</script>" in blob:
            seen_payload = True
    assert seen_payload  # the payload survives as data (and is shown with textContent)


def test_identical_prompts_are_stored_once_per_task(xss_site):
    folder = next((xss_site / "data").glob("ecom_esci-*"))
    docs = samples.read_data_file(folder / "_docs.js")
    assert docs["task"] == "ecom_esci" and len(docs["docs"]) == 40
    by_prompt = {}
    for f in folder.glob("[!_]*.js"):
        data = samples.read_data_file(f)
        by_prompt[f.stem] = sum("p" in r for r in data["samples"])
    assert 0 in by_prompt.values()  # zero-shot plain prompts: all taken from _docs.js
    assert max(by_prompt.values()) > 0  # chat / few-shot prompts differ and stay inline


def _built_records(runs: Path, monkeypatch) -> dict[tuple[str, str], dict]:
    """The viewer records each system's data file is written from, caught on their way to the file."""
    caught = {}
    write = samples._write_view

    def catch(job, records, score_metric=None):
        caught[(job.system_id, job.task)] = {"system": job.system_id, "task": job.task, "metric": job.metric,
                                             "score_metric": score_metric or job.metric,
                                             "samples": json.loads(json.dumps(records))}
        write(job, records, score_metric)

    monkeypatch.setattr(samples, "_write_view", catch)
    coll = collect.collect([runs])
    asm = systems.assemble(coll.runs)
    for s in asm.systems:
        for t, c in s.cells.items():
            if c.samples_path:
                out = runs.parent / "rt" / context.data_file(t, s.id)
                samples.read_samples(samples.SampleJob(s.id, t, c.metric, c.filter, c.samples_path, str(out)), None)
                caught[(s.id, t)]["file"] = out
    return caught


def test_data_files_round_trip_to_the_records(xss_runs, monkeypatch):
    """What a data file decodes to (decode_view, mirrored by viewer.js) is exactly the records it was
    written from: every field of every kind of record (multiple choice, parsed values, inline prompts,
    parse failures, unscored documents), hostile text included."""
    caught = _built_records(xss_runs, monkeypatch)
    kinds = set()
    for (sid, task), want in caught.items():
        got = samples.read_data_file(want.pop("file"))
        assert got == want, (sid, task)
        for r in want["samples"]:
            kinds.update(k for k in r if k not in ("d", "s"))
            kinds.update(["no score"] if r["s"] is None else [])
    assert kinds >= {"p", "t", "o", "x", "ch", "f"}, kinds


@pytest.mark.parametrize("recs", [
    [],
    [{"d": "b:2", "o": "x", "s": None}, {"d": 7, "o": "y", "s": 0.5, "f": 1.0}],  # mixed ids: kept as they are
    [{"d": 2**60, "o": "big", "s": 1.0}, {"d": -3, "o": "", "x": "", "s": 0.0}],  # beyond 2**53: not as steps
    [{"d": 5, "ch": [["a", -1.5], ["b", -0.25]], "s": 1.0},
     {"d": 6, "ch": [["a", -1.0], ["b", -1.0]], "k": 1, "s": 0.0},
     {"d": 9, "ch": [["x", -2.0], ["y", -3.0], ["z", -1.0]], "s": 1.0, "p": "own prompt"},
     {"d": 10, "o": "free text after choices", "t": "ref \u2028 </script> \U0001F600", "s": None}],
])
def test_encode_view_round_trips_edge_cases(recs):
    payload = {"metric": "m", "score_metric": "acc", "samples": recs}
    assert samples.decode_view(samples.unpack(samples.pack(samples.encode_view(payload)))) == payload


def test_data_files_are_smaller_than_the_plain_records(xss_runs, monkeypatch):
    """Size accounting: each data file against the same records written as the plain JSON rows the
    site used to publish; the columns + gzip + base64 file is the smaller one, and the bytes saved
    add up over the site."""
    caught = _built_records(xss_runs, monkeypatch)
    packed = plain = n = 0
    for (sid, _), want in caught.items():
        size = want.pop("file").stat().st_size
        rows = len(safejson.js_assign(samples.SAMPLES_GLOBAL, sid, want).encode("utf-8"))
        assert size < rows, (sid, size, rows)
        packed, plain, n = packed + size, plain + rows, n + len(want["samples"])
    assert n and packed < plain


def test_a_data_file_of_another_format_is_refused(tmp_path):
    f = tmp_path / "x.js"
    f.write_text(safejson.js_assign(samples.SAMPLES_GLOBAL, "s", {"system": "s", "task": "t", "samples": []}))
    with pytest.raises(ValueError, match="data format None, expected"):
        samples.read_data_file(f)
    f.write_text("window.x = 1;\n")
    with pytest.raises(ValueError, match="not a leaderboard data file"):
        samples.read_data_file(f)


def test_viewer_island_is_safe(xss_site):
    page = next((xss_site / "tasks").glob("ecom_esci-*.html")).read_text()
    m = re.search(r'<script type="application/json" id="viewer-data">(.*?)</script>', page, re.DOTALL)
    island = m.group(1)
    assert "<" not in island and ">" not in island
    cfg = json.loads(island)
    assert cfg["task"] == "ecom_esci" and cfg["systems"]
    assert any("<img src=x onerror" in s["name"] for s in cfg["systems"])


def test_safejson_and_csv_guard_and_autoescape():
    assert safejson.dumps("</script>\u2028&") == '"\\u003c/script\\u003e\\u2028\\u0026"'
    assert safejson.dumps({"x": float("nan")}) == '{"x":null}'
    assert render._csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and render._csv_cell(-0.5) == -0.5
    env = render.environment()
    assert env.from_string("{{ x }}").render(x="<b>\"") == "&lt;b&gt;&#34;"
    assert env.from_string("{{ x|script_json }}").render(x="</script>") == '"\\u003c/script\\u003e"'
    # numbers are formatted by the filters, where they are shown (the context holds numbers)
    assert env.from_string("{{ a|fmt_num }} {{ b|fmt_num }} {{ c|fmt_ci }} {{ n|fmt_int }} {{ p|fmt_params }}").render(
        a=None, b=12.3456, c=(0.1, 0.25), n=12345, p=7_000_000_000) == "— 12.35 [0.100, 0.250] 12,345 7.0B"
    assert env.from_string("{{ a|sort_key }}|{{ b|sort_key }}|{{ s|fmt_seconds }}").render(a=float("nan"), b=0.5, s=90) == "|0.5|1.5 min"


def test_rebuild_is_deterministic(xss_runs, tmp_path):
    outs = []
    for name in ("a", "b"):
        site = tmp_path / name
        build.build_site(build.BuildOptions(results=[str(xss_runs)], out=str(site), bootstrap_iters=100, plots=False,
                                            generated="fixed", seed=5))
        outs.append(site)
    assert (outs[0] / "leaderboard.json").read_text() == (outs[1] / "leaderboard.json").read_text()
    assert (outs[0] / "index.html").read_text() == (outs[1] / "index.html").read_text()


def test_pages_written_by_forked_workers_are_the_serial_ones(xss_runs, tmp_path, monkeypatch):
    monkeypatch.setattr(render, "_SYSTEM_CHUNK", 2)  # several units of system pages, spread over the workers
    files = {}
    for n_jobs in (1, 2):
        ctx, _ = make_context(xss_runs)
        site = tmp_path / f"site{n_jobs}"
        info = render.render_site(ctx, site, plots=True, n_jobs=n_jobs)
        assert info["plots"] > 0
        files[n_jobs] = {str(p.relative_to(site)): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    assert len(ctx.system_pages) > 2 and sum(f.startswith("systems/") for f in files[2]) == len(ctx.system_pages)
    assert files[1] == files[2]


def test_a_page_failing_in_a_worker_fails_the_render(xss_runs, tmp_path, monkeypatch):
    def boom(ctx):
        raise RuntimeError("csv export failed")
    monkeypatch.setattr(render, "export_csv", boom)
    ctx, _ = make_context(xss_runs)
    with pytest.raises(RuntimeError, match="csv export failed"):
        render.render_site(ctx, tmp_path / "site", plots=False, n_jobs=2)


def test_every_printed_string_is_scrubbed_but_markup(monkeypatch):
    class Text(str):
        pass
    monkeypatch.setattr(render.privacy, "_roots", [("/home/builder/results", "results")])
    render.privacy._public_path.cache_clear()
    env = render.environment()
    got = env.from_string("{{ a }}|{{ b }}|{{ c }}|{{ d }}").render(
        a="/home/builder/results/m/x.json", b=Text("/home/builder/results/m/y.json"), c=render.Markup("<i>/home/x/y</i>"), d=3)
    render.privacy._public_path.cache_clear()
    assert got == "results/m/x.json|results/m/y.json|<i>/home/x/y</i>|3"


def test_plots_are_svg_without_scripts(tmp_path):
    runs = tmp_path / "runs"
    synthetic.demo(runs, n_docs=20, xss=True, bad_files=False)
    site = tmp_path / "site"
    build.build_site(build.BuildOptions(results=[str(runs)], out=str(site), bootstrap_iters=50, plots=True,
                                        tasks=["ecom_esci"], jobs=2))
    svgs = list((site / "plots").glob("*.svg"))
    assert len(svgs) == 3  # suite task(s) x (training size, categories, merges)
    for f in svgs:
        text = f.read_text()
        assert text.lstrip().startswith("<?xml") and "<script" not in text and "onerror" not in text
    plots_page = (site / "plots.html").read_text()
    assert plots_page.count("<img src=\"plots/") == 3
    task_page = next((site / "tasks").glob("ecom_esci-*.html")).read_text()
    assert task_page.count("<img src=\"../plots/") == 3


# ---------------------------------------------------------------------------------------------
# command line


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert build.main(["build", str(tmp_path / "missing"), "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: results path not found:")
    (tmp_path / "empty").mkdir()
    assert build.main(["build", str(tmp_path / "empty"), "--out", str(tmp_path / "s")]) == 2
    assert "no lm-eval result files" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build.main(["build", str(tmp_path / "empty")])  # --out is required (argparse usage error)


def test_cli_refuses_foreign_out_dir_and_rebuilds_its_own(tmp_path, capsys):
    runs = tmp_path / "runs"
    synthetic.write_run(runs, synthetic.RunSpec(name="org/m", skill=0.5, tasks=["ecom_esci"], n_docs=10))
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    assert build.main(["build", str(runs), "--out", str(foreign), "--quiet"]) == 2
    assert "not empty" in capsys.readouterr().err and (foreign / "keep.txt").exists()
    site = tmp_path / "site"
    assert build.main(["build", str(runs), "--out", str(site), "--quiet", "--no-plots", "--jobs", "1"]) == 0
    assert build.main(["build", str(runs), "--out", str(site), "--quiet", "--no-plots"]) == 0  # its own: rebuilt
    (site / "stale.html").write_text("old")  # a file the builder did not write is never deleted: refused
    assert build.main(["build", str(runs), "--out", str(site), "--quiet", "--no-plots"]) == 2
    assert "did not write" in capsys.readouterr().err and (site / "stale.html").read_text() == "old"
    (site / "stale.html").unlink()
    assert build.main(["build", str(runs), "--out", str(site), "--quiet", "--no-plots"]) == 0
    assert (site / "index.html").exists()


def test_cli_all_files_unusable_exits_nonzero_with_report(tmp_path, capsys):
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "results_2025-01-01T00-00-00.json").write_text("{oops")
    assert build.main(["build", str(runs), "--out", str(tmp_path / "site"), "--quiet", "--no-plots"]) == 1
    assert "no usable result file" in capsys.readouterr().err
    assert "corrupt" in (tmp_path / "site" / "report.html").read_text()


def test_python_dash_m_entry_point(tmp_path):
    if importlib.util.find_spec("ecomsuite.leaderboard") is None or "ecomsuite.leaderboard" not in sys.modules or \
            not sys.modules["ecomsuite.leaderboard"].__file__.startswith(str(Path(__file__).resolve().parents[1])):
        pytest.skip("ecomsuite is not installed (pip install -e .)")
    runs = tmp_path / "runs"
    synthetic.write_run(runs, synthetic.RunSpec(name="org/m", skill=0.5, tasks=["ecom_esci"], n_docs=10))
    r = subprocess.run([sys.executable, "-m", "ecomsuite.leaderboard.build", "build", str(runs), "--out", str(tmp_path / "s"),
                        "--no-plots", "--quiet"], check=False, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "s" / "index.html").is_file()


def test_only_limited_runs_explains_the_empty_ranking(tmp_path):
    runs = tmp_path / "runs"
    synthetic.write_run(runs, synthetic.RunSpec(name="org/m", skill=0.5, tasks=["ecom_esci"], n_docs=30, limit=10))
    site = tmp_path / "site"
    assert build.main(["build", str(runs), "--out", str(site), "--quiet", "--no-plots"]) == 0
    index = (site / "index.html").read_text()
    assert "--include-limited" in index and 'class="notice"' in index
    assert build.main(["build", str(runs), "--out", str(site), "--quiet", "--no-plots", "--include-limited"]) == 0
    assert 'class="notice"' not in (site / "index.html").read_text()


def test_hostile_task_and_metric_names(tmp_path):
    task = '<script>window.__pwned=1</script>"x'
    metric = "<b>m</b>"
    data = {
        "results": {task: {f"{metric},none": 0.5, f"{metric}_stderr,none": 0.1}},
        "configs": {task: {"metadata": {"headline": metric, "data_source": "<i>src</i>"}}},
        "higher_is_better": {task: {metric: True}},
        "config": {"model": "hf", "model_args": "pretrained=<svg onload=alert(1)>"},
    }
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "results_2025-01-01T00-00-00.json").write_text(json.dumps(data))
    site = tmp_path / "site"
    assert build.main(["build", str(runs), "--out", str(site), "--quiet", "--no-plots"]) == 0
    pages = list(site.rglob("*.html"))
    assert all(re.fullmatch(r"[a-z0-9._-]+\.html", p.name) for p in pages)  # file names are slugs
    for p in pages:
        raw = p.read_text()
        assert "<script>window" not in raw and "<b>m</b>" not in raw and "<svg onload" not in raw and "<i>src" not in raw
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;&#34;x" in (site / "index.html").read_text()
