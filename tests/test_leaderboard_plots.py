"""Leaderboard plots, written as SVG without a plotting library: hostile labels stay text, the files are
well-formed XML holding only shapes and text, ticks are nice, the bytes are the same each time; and what a
build imports (no plotting library, no lm-eval task registry, no metric library when every cell is cached)."""

from __future__ import annotations

import importlib
import itertools
import json
import math
import os
import pickle
import random
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

plots = importlib.import_module("ecomsuite.leaderboard.plots")
plot_specs = importlib.import_module("ecomsuite.leaderboard.plot_specs")
systems = importlib.import_module("ecomsuite.leaderboard.systems")
PlotPoint, PlotSeries, PlotSpec = plot_specs.PlotPoint, plot_specs.PlotSeries, plot_specs.PlotSpec

SVG = "{http://www.w3.org/2000/svg}"
SHAPES = {"svg", "title", "g", "rect", "line", "circle", "path", "polyline", "text"}
BUILDER = "/home/builder/private/checkpoints/model-x"
HOSTILE = ('<script>alert(1)</script><img src=x onerror=alert(2)>" onload="alert(3)\' &amp; \x00\x1b\ud800\ufffe '
           + BUILDER + " " + "z" * 300)


def _specs(label: str = HOSTILE) -> list:
    """One spec of each kind, every text field (title, axis label, series and point labels, note) = ``label``."""
    def pts(n, x=None):
        return [PlotPoint(x if x is not None else 10 ** (2 + k), 0.2 + 0.1 * k, 0.1 + 0.1 * k, 0.3 + 0.1 * k, label) for k in range(n)]

    return [
        PlotSpec("train_size", "t", label, "plots/a.svg", label,
                 [PlotSeries(label, pts(3)), PlotSeries(label, [PlotPoint(0, 0.25)], "hline")], label),
        PlotSpec("categories", "t", label, "plots/b.svg", label,
                 [PlotSeries(label, pts(1, label), "bar"), PlotSeries(label, pts(4, label), "dots")], label),
        PlotSpec("merges", "t", label, "plots/c.svg", label, [PlotSeries(label, pts(3, label), "bar")], label),
    ]


def _parse(doc: str) -> ET.Element:
    root = ET.fromstring(doc.encode("utf-8"))  # well-formed XML, or this raises
    assert root.tag == SVG + "svg"
    return root


def test_hostile_labels_stay_text(tmp_path):
    for spec in _specs():
        doc = plots.render(spec)
        root = _parse(doc)
        texts = []
        for el in root.iter():
            assert el.tag.startswith(SVG) and el.tag[len(SVG):] in SHAPES, el.tag  # no script, image, link, style, use
            for name, value in el.attrib.items():
                assert not name.lower().startswith("on") and "href" not in name.lower(), name
                assert "url(" not in value and "javascript" not in value.lower(), value
            if el.text and el.text.strip():
                texts.append(el.text)
        shown = HOSTILE.replace(BUILDER, "model-x")  # the model's own name, as on every page
        for bad in "\x00\x1b\ud800\ufffe":
            shown = shown.replace(bad, "\ufffd")
        hostile = [t for t in texts if t.startswith("<script>")]  # decoded: the payload is shown as the text it is
        assert len(hostile) >= 4 and all(shown.startswith(t.rstrip("…")) for t in hostile), hostile
        assert all(len(t) <= 120 for t in texts)  # capped, as every label is
        assert "<script" not in doc and "<img" not in doc and BUILDER not in doc and "/home/builder" not in doc
        assert plots.draw_safely((spec, str(tmp_path))) is None
        assert (tmp_path / spec.file).read_text(encoding="utf-8") == doc


def test_long_paths_and_names_are_scrubbed_before_they_are_capped():
    spec = _specs(f"zero-shot {BUILDER}")[0]
    doc = plots.render(spec)
    assert "/home/" not in doc and "model-x" in doc  # the model's own name, as on every page


def test_same_bytes_each_time(tmp_path):
    for spec in _specs("org/model · lora · single task"):
        again = pickle.loads(pickle.dumps(spec))
        assert plots.render(spec) == plots.render(again)
    code = ("import pickle, sys; from ecomsuite.leaderboard import plots; "
            "sys.stdout.write(''.join(plots.render(s) for s in pickle.loads(sys.stdin.buffer.read())))")
    other = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(_specs("x")), capture_output=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": "12345"}).stdout.decode("utf-8")
    assert other == "".join(plots.render(s) for s in _specs("x"))  # another process, another hash seed


def test_values_a_plot_cannot_place_do_not_break_it(tmp_path):
    nan, inf = float("nan"), float("inf")
    odd = [PlotPoint(1000, nan), PlotPoint(2000, inf, nan, inf), PlotPoint(3000, 0.5, None, nan), PlotPoint(-1, 0.4),
           PlotPoint(10 ** 400, 0.3)]  # a training size no float holds
    specs = [PlotSpec("train_size", "t", "t", "plots/a.svg", "m", [PlotSeries("s", odd)]),
             PlotSpec("categories", "t", "t", "plots/b.svg", "m", [PlotSeries("k", [PlotPoint("k", nan)], "bar"),
                                                                    PlotSeries("k", [PlotPoint("k", inf)], "dots")]),
             PlotSpec("merges", "t", "t", "plots/c.svg", "m", [PlotSeries("g", [PlotPoint("g", 0.0, 0.0, 0.0)], "bar")]),
             PlotSpec("train_size", "t", "t", "plots/d.svg", "m", [])]
    for spec in specs:
        doc = plots.render(spec)
        _parse(doc)
        assert "nan" not in doc.lower() and "inf" not in doc.lower()
    err = plots.draw_safely((PlotSpec("pie", "t", "t", "plots/e.svg", "m", []), str(tmp_path)))
    assert err is not None and err.startswith("ValueError: plot plots/e.svg: unknown kind 'pie'")


def _step(ticks: list[float]) -> float:
    steps = [b - a for a, b in itertools.pairwise(ticks)]
    assert max(steps) - min(steps) <= 1e-9 * max(abs(t) for t in ticks), steps  # evenly spaced (to float rounding)
    return sum(steps) / len(steps)


@pytest.mark.parametrize("seed", range(3))
def test_ticks_are_nice_and_inside_the_axis(seed):
    rng = random.Random(seed)
    for _ in range(300):
        lo = rng.uniform(-1, 1) * 10 ** rng.randint(-4, 4)
        hi = lo + rng.uniform(0.001, 10) * 10 ** rng.randint(-4, 4)
        ticks, decimals = plots.nice_ticks(lo, hi)
        span = hi - lo
        assert 3 <= len(ticks) <= 11 and ticks == sorted(ticks)
        assert all(lo - 1e-9 * span <= t <= hi + 1e-9 * span for t in ticks)
        step = _step(ticks)
        mantissa = step / 10 ** math.floor(math.log10(step))
        assert any(abs(mantissa - m) < 1e-6 for m in (1, 2, 2.5, 5, 10)), step  # 10: 0.0999.. rounded down
        labels = [plots._tick_label(t, decimals) for t in ticks]
        assert len(set(labels)) == len(labels) and all(abs(float(x) - t) <= step / 100 for x, t in zip(labels, ticks))


def test_log_ticks_label_each_place_once():
    rng = random.Random(7)
    for _ in range(300):
        lo = rng.uniform(0, 6)
        hi = lo + rng.uniform(0.05, 8)
        ticks = plots.log_ticks(lo, hi)
        assert len(ticks) >= 2 and ticks == sorted(ticks) and all(lo - 1e-9 <= t <= hi + 1e-9 for t in ticks)
        labels = [plots._si(round(10 ** t, 6)) for t in ticks]
        assert len(set(labels)) == len(labels), labels


# ---------------------------------------------------------------------------------------------
# the suite's group without lm-eval's task registry


def test_group_files_are_read_with_lm_evals_own_reader_without_its_task_registry(tmp_path, monkeypatch):
    from lm_eval.tasks._yaml_loader import load_yaml

    from ecomsuite import taskfolders

    ours = systems.lmeval_load_yaml()
    assert ours.__module__ in (systems._LOADER_MODULE, "lm_eval.tasks._yaml_loader")
    files = taskfolders.task_files(taskfolders.tasks_dir())
    assert len(files) > 1
    for f in files:
        assert ours(f, resolve_func=False) == load_yaml(f, resolve_func=False), f
    # a group defined by including another file, in an extra task folder
    extra = tmp_path / "family"
    extra.mkdir()
    (extra / "_base.yaml").write_text("task: [fam_a, {task: fam_b}, {group: nested}]\nmetadata: {version: 1}\n")
    (extra / "_fam.yaml").write_text("include: _base.yaml\ngroup: fam\n")
    monkeypatch.setenv(taskfolders.INCLUDE_ENV, str(extra))
    assert systems.defined_group("fam") == {"fam_a", "fam_b"}
    assert systems.defined_group("ecom") == set(load_yaml(taskfolders.tasks_dir() / "_ecom.yaml", resolve_func=False)["task"])
    # where the file can't be run on its own, the usual import gives the same answer
    monkeypatch.delitem(sys.modules, systems._LOADER_MODULE, raising=False)
    monkeypatch.delitem(sys.modules, "lm_eval.tasks._yaml_loader", raising=False)
    monkeypatch.setattr(importlib.util, "spec_from_file_location", lambda *a, **k: None)
    assert systems.lmeval_load_yaml().__module__ == "lm_eval.tasks._yaml_loader"
    assert systems.defined_group("fam") == {"fam_a", "fam_b"}


IMPORTS = """
import json, sys
from ecomsuite.leaderboard import build
s = build.build_site(build.BuildOptions(results=[sys.argv[1]], out=sys.argv[2], bootstrap_iters=50, plots=True, jobs=1,
                                        generated="fixed"))
heavy = ["matplotlib", "lm_eval.tasks", "lm_eval.api.task", "seqeval", "sklearn"]
print(json.dumps({"loaded": [m for m in heavy if m in sys.modules], "hits": s.sample_cache_hits, "files": s.sample_files,
                  "stats_hits": s.stats_cache_hits, "plots": len(list(__import__("pathlib").Path(sys.argv[2]).glob("plots/*.svg")))}))
"""


def test_a_rebuild_from_the_cache_imports_no_plotting_metric_or_task_library(tmp_path):
    """Each build in a new process, as the CLI runs: the first reads every samples file (span F1 of the
    QueryNER cells may import seqeval there), the second takes every cell from the cache."""
    synthetic = importlib.import_module("ecomsuite.leaderboard.synthetic")
    runs = tmp_path / "runs"
    synthetic.demo(runs, n_docs=12, xss=False, bad_files=False)
    site = tmp_path / "site"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    first, second = (json.loads(subprocess.run([sys.executable, "-c", IMPORTS, str(runs), str(site)], capture_output=True,
                                               check=True, env=env, text=True).stdout.splitlines()[-1]) for _ in range(2))
    assert first["plots"] > 0 and second["plots"] == first["plots"]
    assert first["hits"] == 0 and second["hits"] == second["files"] == first["files"] > 0
    assert second["stats_hits"] == second["files"]
    assert not {"matplotlib", "lm_eval.tasks", "lm_eval.api.task"} & set(first["loaded"])
    assert second["loaded"] == []
