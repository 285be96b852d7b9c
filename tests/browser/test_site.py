"""The built leaderboard in headless Chromium, opened from file://: sorting, filtering, the
per-sample viewer, and proof that hostile text never runs and nothing leaves file://.

Needs Debian's chromium (``apt-get install -y chromium``) and Playwright's Python package
(``pip install playwright``; ``playwright install`` is NOT needed: we launch /usr/bin/chromium).
Run: ``pytest -m browser tests/browser``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]




@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    build = importlib.import_module("ecomsuite.leaderboard.build")
    synthetic = importlib.import_module("ecomsuite.leaderboard.synthetic")
    runs = tmp_path_factory.mktemp("runs")
    synthetic.demo(runs, n_docs=30, xss=True, bad_files=True)
    out = tmp_path_factory.mktemp("site") / "site"
    build.build_site(build.BuildOptions(results=[str(runs)], out=str(out), bootstrap_iters=200, jobs=2, plots=True))
    return out


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"chromium not found at {CHROMIUM} (Debian: apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright Python package is not installed (pip install playwright)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


class Watch:
    """Everything a page did that it must not: requests outside the site folder (file:// elsewhere on
    disk, or any network), dialogs, uncaught errors, console errors, CSP hits."""

    def __init__(self, context, root: Path):
        self.root = root.resolve().as_uri().rstrip("/") + "/"
        self.requests: list[str] = []
        self.leaked: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.console: list[str] = []
        context.on("request", lambda r: self.requests.append(r.url))
        context.route("**/*", self._route)

    def inside(self, url: str) -> bool:
        return url.startswith(self.root) or url == "about:blank"

    def _route(self, route):
        url = route.request.url
        if self.inside(url):
            route.continue_()
        else:
            self.leaked.append(url)
            route.abort()

    def attach(self, page):
        page.on("dialog", lambda d: (self.dialogs.append(f"{d.type}: {d.message}"), d.dismiss()))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}") if m.type in ("error", "assert") else None)
        page.on("request", lambda r: None if r.url in self.requests else self.requests.append(r.url))
        return page

    def clear(self) -> None:
        for seen in (self.requests, self.leaked, self.dialogs, self.errors, self.console):
            seen.clear()

    def check(self, page):
        assert page.evaluate("typeof window.__pwned") == "undefined", "a payload script ran"
        assert page.evaluate("window.__csp") == [], "content security policy violations"
        assert self.dialogs == [], self.dialogs
        assert self.errors == [], self.errors
        assert self.console == [], self.console
        assert self.leaked == [] and all(self.inside(u) for u in self.requests), self.requests


@pytest.fixture
def page(browser, site):
    context = browser.new_context(java_script_enabled=True, service_workers="block")
    context.add_init_script(
        "window.__csp = [];"
        "document.addEventListener('securitypolicyviolation', function (e) {"
        " window.__csp.push(e.violatedDirective + ' ' + e.blockedURI); });"
    )
    watch = Watch(context, site)
    pg = watch.attach(context.new_page())
    yield pg, watch
    watch.check(pg)
    context.close()


def wait_until(pg, js: str, timeout_ms: int = 10000) -> None:
    """Poll a JS function in the page (wait_for_function would need 'unsafe-eval', which our CSP forbids)."""
    waited = 0
    while not pg.evaluate(js):
        if waited > timeout_ms:
            raise AssertionError(f"timed out waiting for: {js}")
        pg.wait_for_timeout(50)
        waited += 50


def _column(pg, table: str, text: str) -> int:
    heads = pg.locator(f"{table} thead th").all_inner_texts()
    return next(i for i, h in enumerate(heads) if h.strip().startswith(text))


def _sort_values(pg, table: str, col: int) -> list[str]:
    return pg.evaluate(
        "([t, c]) => Array.from(document.querySelectorAll(t + ' tbody tr'))"
        ".filter(r => !r.hidden).map(r => r.cells[c].getAttribute('data-sort'))",
        [table, col],
    )


def test_index_sorts_and_filters(site, page):
    pg, watch = page
    pg.goto((site / "index.html").as_uri())
    rows = pg.locator("#board tbody tr")
    assert rows.count() == 16
    assert "17 of 17 shown" in pg.locator("[data-count]").inner_text()

    col = _column(pg, "#board", "Overall")
    pg.locator("#board thead th").nth(col).click()
    vals = _sort_values(pg, "#board", col)
    nums = [float(v) for v in vals if v]
    assert nums == sorted(nums, reverse=True) and vals[len(nums):] == [""] * (len(vals) - len(nums))  # missing last
    pg.locator("#board thead th").nth(col).click()
    vals = _sort_values(pg, "#board", col)
    nums = [float(v) for v in vals if v]
    assert nums == sorted(nums) and all(v == "" for v in vals[len(nums):])

    name_col = _column(pg, "#board", "System")
    pg.locator("#board thead th").nth(name_col).click()
    names = pg.evaluate("Array.from(document.querySelectorAll('#board tbody tr td.name')).map(td => td.textContent.trim())")
    assert names == sorted(names, key=lambda s: s) or names[0] <= names[-1]

    pg.select_option("select[data-filter=kind]", "adapter")
    kinds = pg.evaluate("Array.from(document.querySelectorAll('#board tbody tr')).filter(r => !r.hidden).map(r => r.dataset.kind)")
    assert kinds and set(kinds) == {"adapter"}
    pg.select_option("select[data-filter=kind]", "")

    task = pg.locator("select[data-filter=task] option").nth(5).get_attribute("value")
    pg.select_option("select[data-filter=task]", task)
    tasks = pg.evaluate("Array.from(document.querySelectorAll('#board tbody tr')).filter(r => !r.hidden).map(r => r.dataset.tasks)")
    assert tasks and all(task in t.split() for t in tasks)
    pg.select_option("select[data-filter=task]", "")

    pg.select_option("select[data-filter=base]", "google/flan-t5-base")
    assert pg.locator("#board tbody tr:not([hidden])").count() == 1
    pg.select_option("select[data-filter=base]", "")

    pg.fill("input[data-filter=text]", "ties")
    visible = pg.locator("#board tbody tr:not([hidden]) td.name")
    assert visible.count() == 1 and "ties" in visible.inner_text()
    # hostile model names are shown as text
    pg.fill("input[data-filter=text]", "")
    assert "<img src=x onerror=window.__pwned=1>" in pg.locator("#board").inner_text()
    watch.check(pg)


def test_per_sample_viewer_opens_compares_and_filters(site, page):
    pg, watch = page
    task_page = next((site / "tasks").glob("ecom_esci_gen-*.html"))
    pg.goto(task_page.as_uri())
    pg.wait_for_selector("#viewer details.sample")
    assert "documents match" in pg.locator("#viewer-status").inner_text()
    first = pg.locator("#viewer details.sample").first
    first.locator("summary").click()
    assert first.get_attribute("open") is not None
    prompt = first.locator("pre").first.inner_text()
    assert "<script>window.__pwned=1</script>" in prompt  # doc 0 carries the payloads: shown, not run

    options = pg.locator("#sys-b option")
    pg.select_option("#sys-b", options.nth(options.count() - 1).get_attribute("value"))
    wait_until(pg, "() => document.querySelectorAll('#viewer .cols').length > 0")
    assert " — B: " in pg.locator("#viewer details.sample summary").first.inner_text()

    pg.select_option("#show", "errors")
    wait_until(pg, "() => document.getElementById('viewer-status').textContent.indexOf('match') > 0")
    for s in pg.locator("#viewer details.sample summary").all_inner_texts():
        a_part = s.split(" — B: ")[0]
        assert "parse failure" in a_part or float(a_part.split()[-1]) < 1.0  # below the threshold (1)
    pg.select_option("#show", "differ")
    wait_until(pg, "() => document.getElementById('viewer-status').textContent.indexOf('match') > 0")
    pg.select_option("#show", "parse")
    for s in pg.locator("#viewer details.sample summary").all_inner_texts():
        assert "parse failure" in s.split(" — B: ")[0]
    pg.select_option("#show", "all")
    pg.fill("#vsearch", "query 7 ")
    wait_until(pg, "() => document.querySelectorAll('#viewer details.sample').length === 1")
    if pg.locator("#next").is_enabled():
        pg.locator("#next").click()
    watch.check(pg)


def test_viewer_decodes_exactly_what_the_build_wrote(site, page):
    """Every system's data file (and the task's shared documents), inflated and rebuilt by viewer.js in
    Chromium, equals what samples.read_data_file reads from it; hostile outputs are shown as text."""
    samples = importlib.import_module("ecomsuite.leaderboard.samples")
    pg, watch = page
    checked = 0
    for task_page in sorted((site / "tasks").glob("*.html")):
        pg.goto(task_page.as_uri())
        if not pg.locator("#viewer-data").count():
            continue
        cfg = pg.evaluate("JSON.parse(document.getElementById('viewer-data').textContent)")
        pg.wait_for_selector("#viewer details.sample")
        if cfg["docs_file"]:
            want = samples.read_data_file((task_page.parent / cfg["docs_file"]).resolve())["docs"]
            assert pg.evaluate("() => window.LBViewer.docs()") == want, task_page.name
        for s in cfg["systems"]:
            got = pg.evaluate("(id) => window.LBViewer.records(id)", s["id"])
            assert got == samples.read_data_file((task_page.parent / s["file"]).resolve()), (task_page.name, s["id"])
            checked += 1
    assert checked > 10
    task_page = next((site / "tasks").glob("ecom_queryner-*.html"))
    pg.goto(task_page.as_uri())
    pg.wait_for_selector("#viewer details.sample")
    pg.fill("#vsearch", "onerror=window.__pwned")
    wait_until(pg, "() => document.getElementById('viewer-status').textContent.indexOf(' of ') > 0")
    first = pg.locator("#viewer details.sample").first
    first.locator("summary").click()
    outputs = first.locator(".side pre").all_inner_texts()
    assert any("<img src=x onerror=window.__pwned=1>" in o for o in outputs), outputs
    watch.check(pg)


def test_viewer_says_why_when_the_browser_cannot_inflate(site, browser):
    context = browser.new_context(java_script_enabled=True, service_workers="block")
    context.add_init_script("delete window.DecompressionStream;")
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(next((site / "tasks").glob("ecom_esci-*.html")).as_uri())
    wait_until(pg, "() => document.getElementById('viewer-status').textContent.indexOf('DecompressionStream') >= 0")
    assert pg.locator("#viewer details.sample").count() == 0 and errors == []
    context.close()


def test_system_page_links_to_its_samples(site, page):
    pg, watch = page
    sys_page = next(p for p in (site / "systems").glob("llama2-7b-ties-*.html"))
    pg.goto(sys_page.as_uri())
    assert "Lineage" in pg.content() and pg.locator(".lineage-node").count() >= 3
    assert "lm_eval --model hf" in pg.locator("pre.cmd").last.inner_text()
    pg.locator("a", has_text="view").first.click()
    pg.wait_for_selector("#viewer details.sample")
    sid = sys_page.stem
    assert pg.eval_on_selector("#sys-a", "e => e.value") == sid
    watch.check(pg)


def test_every_page_is_inert(site, page):
    pg, watch = page
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 20
    for p in pages:
        pg.goto(p.as_uri())
        pg.wait_for_load_state("load")
        watch.check(pg)
    assert len(watch.requests) > len(pages)  # pages, CSS, JS and SVGs were all seen (all inside the site)
    # the exports are plain files in the site
    pg.goto((site / "index.html").as_uri())
    hrefs = pg.eval_on_selector_all(".exports a", "els => els.map(e => e.getAttribute('href'))")
    assert hrefs == ["leaderboard.csv", "leaderboard.json"]
    assert all((site / h).is_file() for h in hrefs)


def test_every_plot_is_drawn_and_inert(site, page):
    """The SVG plots (written by the builder, labels from result files) decode as images on the plots
    page, and opened on their own they run nothing and reach for nothing."""
    pg, watch = page
    pg.goto((site / "plots.html").as_uri())
    pg.wait_for_load_state("load")
    sizes = pg.eval_on_selector_all("figure img", "els => els.map(e => [e.complete, e.naturalWidth, e.naturalHeight])")
    svgs = sorted(site.glob("plots/*.svg"))
    assert len(sizes) == len(svgs) > 0 and all(done and w > 0 and h > 0 for done, w, h in sizes), sizes
    watch.check(pg)
    for f in svgs:
        pg.goto(f.as_uri())
        pg.wait_for_load_state("load")
        assert pg.evaluate("document.documentElement.localName") == "svg"  # parsed as SVG, not an XML error page
        assert pg.evaluate("document.querySelectorAll('text').length") > 3
        watch.check(pg)


def test_the_watch_sees_a_request_leaving_file(site, page):
    """Control: the tracking above would notice a page reaching for the network."""
    pg, watch = page
    pg.goto((site / "about.html").as_uri())
    pg.evaluate("() => { var i = new Image(); i.src = 'http://127.0.0.1:9/x.png'; document.body.appendChild(i); }")
    pg.wait_for_timeout(300)
    assert any(u.startswith("http://127.0.0.1:9/") for u in watch.requests + watch.leaked)
    assert pg.evaluate("window.__csp.length") >= 1  # and our CSP blocked it
    watch.clear()
    pg.evaluate("() => { window.__csp.length = 0; }")


def test_the_watch_sees_a_file_outside_the_site_a_dialog_and_a_console_error(site, page, tmp_path):
    """Controls: a file:// URL outside the site folder, a dialog and console.error are all noticed
    (and the page fixture's final check would fail on any of them)."""
    pg, watch = page
    outside = tmp_path / "outside.html"
    outside.write_text("<p>not the site</p>")
    pg.goto((site / "about.html").as_uri())
    pg.evaluate("() => { console.error('control error'); }")
    assert any("control error" in c for c in watch.console)
    pg.evaluate("() => { setTimeout(function () { alert('control dialog'); }, 0); }")
    pg.wait_for_timeout(300)
    assert any("control dialog" in d for d in watch.dialogs)
    try:
        pg.goto(outside.as_uri())
    except Exception:  # noqa: BLE001 - the route aborts it; what matters is that it was seen
        pass
    assert outside.as_uri() in watch.leaked
    pg.wait_for_timeout(500)  # let the aborted navigation settle on its error page, then come back
    pg.goto((site / "about.html").as_uri())
    watch.clear()
