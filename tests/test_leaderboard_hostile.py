"""Leaderboard under hostile input (issue 13): each case is a hand-made file in tmp_path, built
through the real entry point (``build_site``) beside a valid run. The build must finish, keep the
valid run, name the bad file with a reason, publish nothing from outside its inputs, and never hang."""

from __future__ import annotations

import importlib
import json
import os
import time
from pathlib import Path

import pytest

from test_leaderboard_integrity import DATE, ones, write_run

build = importlib.import_module("ecomsuite.leaderboard.build")
render = importlib.import_module("ecomsuite.leaderboard.render")

SECRET = "sk-SECRET-4f1c9e2b7a"
DOCS = [f"d{i}" for i in range(20)]


def valid(root: Path, name: str = "org/good", k: int = 12) -> Path:
    return write_run(root, name, {"ecom_esci": {"items": ones(20, k), "docs": DOCS}})


def run_build(root: Path | list, out: Path, **kw) -> dict:
    roots = root if isinstance(root, list) else [root]
    build.build_site(build.BuildOptions(results=[str(r) for r in roots], out=str(out), plots=False,
                                        generated="fixed", bootstrap_iters=50, **kw))
    return json.loads((out / "leaderboard.json").read_text(encoding="utf-8"))


def systems(lb: dict) -> set[str]:
    return {r["system"] for r in lb["rows"] + lb["limited_rows"]}


def report(out: Path) -> str:
    return (out / "build_report.json").read_text(encoding="utf-8")


def site_text(out: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in out.rglob("*") if p.is_file())


def results_file(folder: Path) -> Path:
    return folder / f"results_{DATE}.json"


def samples_file(folder: Path, task: str = "ecom_esci") -> Path:
    return folder / f"samples_{task}_{DATE}.jsonl"


# ------------------------------------------------------------------------------------ 1. security
def test_lineage_inputs_never_publish_a_file_outside_the_roots(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    creds = {"client_secret": SECRET, "refresh_token": SECRET + "-refresh", "kind": "x", "name": SECRET}
    (home / "creds.json").write_text(json.dumps(creds), encoding="utf-8")
    (home / "lineage.json").write_text(json.dumps(creds), encoding="utf-8")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(home)
    root = tmp_path / "runs"
    folder = valid(root, "org/adapter")
    (folder / "lineage.json").write_text(json.dumps({
        "kind": "adapter", "name": "my-adapter", "base_model": "org/base",
        "inputs": [str(home / "creds.json"), "~/creds.json", "creds.json", "../../home/creds.json", str(home),
                   "lineage.json", {"name": "inline", "api_key": SECRET}],
        "api_key": SECRET, "token": SECRET,
    }), encoding="utf-8")
    out = tmp_path / "site"
    lb = run_build(root, out)
    assert "my-adapter" in systems(lb)
    assert SECRET not in site_text(out)
    assert str(tmp_path) not in (out / "index.html").read_text(encoding="utf-8")


def test_csv_header_and_cells_are_protected_against_formula_injection(tmp_path):
    root = tmp_path / "runs"
    write_run(root, "=HYPERLINK(1)", {"=SUM(1+1)": {"items": ones(20, 5), "docs": DOCS},
                                      "@cmd": {"items": ones(20, 5), "docs": DOCS},
                                      "ecom_esci": {"items": ones(20, 5), "docs": DOCS}})
    out = tmp_path / "site"
    run_build(root, out)
    import csv
    rows = list(csv.reader((out / "leaderboard.csv").read_text(encoding="utf-8").splitlines()))
    for row in rows:
        for cell in row:
            assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), cell


# ---------------------------------------------------------------------- 2. one bad input, one line
HUGE = int("9" * 400)


@pytest.mark.parametrize("where", ["metric", "stderr", "config", "lineage", "n-samples"])
def test_a_400_digit_integer_does_not_stop_the_build(tmp_path, where):
    root = tmp_path / "runs"
    valid(root)
    bad = valid(root, "org/huge", k=3)
    data = json.loads(results_file(bad).read_text())
    if where == "metric":
        data["results"]["ecom_esci"]["acc,none"] = HUGE
    elif where == "stderr":
        data["results"]["ecom_esci"]["acc_stderr,none"] = HUGE
    elif where == "config":
        data["config"]["model_num_parameters"] = HUGE
        data["config"]["limit"] = HUGE
        data["date"] = HUGE
    elif where == "n-samples":
        data["n-samples"]["ecom_esci"] = {"original": HUGE, "effective": HUGE}
    else:
        (bad / "lineage.json").write_text(json.dumps({"name": "huge", "train_size": HUGE, "seed": HUGE,
                                                      "num_parameters": HUGE}), encoding="utf-8")
    results_file(bad).write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "site"
    lb = run_build(root, out)
    assert "org/good" in systems(lb)


def test_a_results_file_symlinked_to_itself_is_reported(tmp_path):
    root = tmp_path / "runs"
    valid(root)
    loop = root / "loop"
    loop.mkdir()
    os.symlink(loop / "results_x.json", loop / "results_x.json")
    out = tmp_path / "site"
    lb = run_build(root, out)
    assert "org/good" in systems(lb)
    assert "results_x.json" in report(out)


@pytest.mark.parametrize("line", [
    '{"doc_id": Infinity, "doc": {"id": "zz"}, "acc": 1}',
    '{"doc_id": NaN, "doc": {"id": "zz"}, "acc": 1}',
    '{"doc_id": -Infinity, "doc": {"id": "zz"}, "acc": 1}',
    '{"doc_id": 1e400, "doc": {"id": "zz"}, "acc": 1}',
    '{"doc_id": ' + "9" * 400 + ', "doc": {"id": "zz"}, "acc": 1}',
    '{"doc_id": 99, "doc": {"id": "zz"}, "acc": ' + "9" * 400 + "}",
    '{"doc_id": 99, "doc": {"id": "zz"}, "acc": 1, "target": NaN, "arguments": {"a": {"arg_0": "p", "arg_1": "x"},'
    ' "b": {"arg_0": "p", "arg_1": "y"}}, "filtered_resps": [[-1.0, false], [-2.0, false]]}',
    '{"doc_id": 99, "doc": {"id": "zz"}, "acc": 1, "target": Infinity, "arguments": {"a": {"arg_0": "p", "arg_1": "x"},'
    ' "b": {"arg_0": "p", "arg_1": "y"}}, "filtered_resps": [[NaN, false], [-2.0, false]]}',
    "[" * 200_000 + "]" * 200_000,
    '{"doc_id": 99, "doc": ' + "[" * 200_000 + "]" * 200_000 + ', "acc": 1}',
])
def test_one_bad_samples_line_costs_only_that_line(tmp_path, line):
    root = tmp_path / "runs"
    valid(root)
    bad = valid(root, "org/badline", k=15)
    with open(samples_file(bad), "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
    out = tmp_path / "site"
    lb = run_build(root, out)
    rows = {r["system"]: r for r in lb["rows"]}
    assert rows["org/good"]["ecom_esci:acc"] == pytest.approx(0.6)
    # the 20 good lines of the bad file still count (the bad line alone is left out)
    assert rows["org/badline"]["ecom_esci:n_docs"] in (20, 21)
    assert rows["org/badline"]["ecom_esci:ci_low"] is not None


def test_a_failed_rebuild_leaves_the_published_site_intact(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    valid(root)
    out = tmp_path / "site"
    run_build(root, out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def boom(*a, **k):
        raise RuntimeError("render failed")

    monkeypatch.setattr(render, "render_site", boom)
    with pytest.raises(RuntimeError):
        run_build(root, out)
    assert (out / "index.html").is_file()
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in tmp_path.iterdir() if p.name not in ("runs", "site", "site.cache")] == []  # no temp folder left (the cache is kept on purpose)


def test_a_results_file_inside_the_previous_site_is_not_deleted(tmp_path):
    root = tmp_path / "runs"
    folder = valid(root)
    out = tmp_path / "site"
    run_build(root, out)
    inside = out / "mine" / results_file(folder).name
    inside.parent.mkdir()
    inside.write_bytes(results_file(folder).read_bytes())
    try:
        run_build([root, inside], out)
    except build.BuildError as e:
        assert "inside --out" in str(e)
    assert inside.is_file()


# ------------------------------------------------------------------------------ 3. hangs and memory
def test_a_fifo_named_like_a_results_file_does_not_hang(tmp_path):
    root = tmp_path / "runs"
    valid(root)
    os.mkfifo(root / "results_fifo.json")
    (root / "side").mkdir()
    os.mkfifo(root / "side" / f"samples_ecom_esci_{DATE}.jsonl")
    os.mkfifo(root / "side" / "lineage.json")
    t = time.monotonic()
    out = tmp_path / "site"
    lb = run_build(root, out)
    assert time.monotonic() - t < 60
    assert "org/good" in systems(lb)
    assert "results_fifo.json" in report(out) and "not a regular file" in report(out)


def test_a_link_to_dev_zero_is_not_read(tmp_path):
    root = tmp_path / "runs"
    valid(root)
    bad = valid(root, "org/zero")
    os.unlink(samples_file(bad))
    os.symlink("/dev/zero", samples_file(bad))
    os.symlink("/dev/zero", root / "results_zero.json")
    out = tmp_path / "site"
    lb = run_build(root, out)
    assert "org/good" in systems(lb)
    assert "results_zero.json" in report(out)


def test_an_oversized_results_file_is_reported(tmp_path, monkeypatch):
    collect = importlib.import_module("ecomsuite.leaderboard.collect")
    root = tmp_path / "runs"
    valid(root)
    big = root / "results_big.json"
    big.write_text(json.dumps({"results": {"t": {"acc,none": 0.5}}, "pad": "x" * 5000}), encoding="utf-8")
    monkeypatch.setattr(collect, "MAX_RESULTS_BYTES", 4000)
    out = tmp_path / "site"
    lb = run_build(root, out)
    assert "org/good" in systems(lb)
    assert "results_big.json" in report(out) and "too large" in report(out)


def test_fan_out_lineage_finishes_in_seconds(tmp_path):
    root = tmp_path / "runs"
    folder = valid(root, "org/fan")
    chain = tmp_path / "runs" / "lin"
    for i in range(7):
        d = chain / f"l{i}"
        d.mkdir(parents=True)
        nxt = [str(chain / f"l{i + 1}")] * 20 if i < 6 else []
        (d / "lineage.json").write_text(json.dumps({"name": f"l{i}", "inputs": nxt}), encoding="utf-8")
    (folder / "lineage.json").write_text(json.dumps({"name": "fan", "inputs": [str(chain / "l0")] * 20}),
                                         encoding="utf-8")
    t = time.monotonic()
    out = tmp_path / "site"
    lb = run_build(root, out)
    assert time.monotonic() - t < 20
    assert "fan" in systems(lb)


def test_a_symlinked_run_folder_is_followed_once(tmp_path):
    real = tmp_path / "elsewhere"
    valid(real, "org/linked")
    root = tmp_path / "runs"
    valid(root)
    os.symlink(real / "org__linked", root / "linked")
    os.symlink(root, root / "loop")  # a link back up must not loop
    out = tmp_path / "site"
    lb = run_build(root, out)
    assert {"org/good", "org/linked"} <= systems(lb)


# ------------------------------------------------------------------------------------ 4. silent loss
def test_a_too_deep_lineage_keeps_its_run_and_blames_the_lineage(tmp_path):
    root = tmp_path / "runs"
    valid(root)
    bad = valid(root, "org/deep")
    (bad / "lineage.json").write_text('{"name": "deep", "hyperparameters": ' + "[" * 100_000 + "]" * 100_000 + "}",
                                      encoding="utf-8")
    out = tmp_path / "site"
    lb = run_build(root, out)
    assert "org/deep" in systems(lb) or "deep" in systems(lb)
    rep = json.loads(report(out))
    blamed = [p for p in rep["errors"] + rep["warnings"] if "lineage.json" in p["path"]]
    assert blamed, rep
    assert not any(results_file(bad).name in p["path"] for p in rep["errors"])


def test_latin1_samples_are_warned_about(tmp_path):
    root = tmp_path / "runs"
    valid(root)
    bad = valid(root, "org/latin")
    text = samples_file(bad).read_text(encoding="utf-8").replace("prompt d1", "prompt caf\u00e9")
    samples_file(bad).write_bytes(text.encode("latin-1"))
    out = tmp_path / "site"
    lb = run_build(root, out)
    assert "org/latin" in systems(lb)
    assert "not valid UTF-8" in report(out)


def test_shown_lengths_are_capped(tmp_path):
    root = tmp_path / "runs"
    valid(root)
    long_name = "m" * 100_000
    folder = valid(root, "org/long")
    (folder / "lineage.json").write_text(json.dumps({"name": long_name, "command": "x" * 3_000_000,
                                                     "hyperparameters": {"lr": "y" * 3_000_000}}), encoding="utf-8")
    other = valid(root, "org/n")
    data = json.loads(results_file(other).read_text())
    data["model_name"] = "n" * 100_000  # a model name from the results file itself
    data["config"]["gen_kwargs"] = "z" * 3_000_000
    data["config"]["model_args"] = "pretrained=" + "p" * 3_000_000
    data["system_instruction"] = "s" * 3_000_000
    results_file(other).write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "site"
    run_build(root, out)
    assert len((out / "index.html").read_bytes()) < 200_000
    assert max(p.stat().st_size for p in (out / "systems").iterdir()) < 1_000_000


@pytest.mark.parametrize("value,stderr", [(1e308, 0.01), (-0.5, 0.01), (0.5, -0.1), (1.5, 0.01)])
def test_absurd_numbers_are_flagged_not_ranked(tmp_path, value, stderr):
    root = tmp_path / "runs"
    valid(root)
    bad = valid(root, "org/absurd")
    os.unlink(samples_file(bad))  # only the claimed value
    data = json.loads(results_file(bad).read_text())
    data["results"]["ecom_esci"]["acc,none"] = value
    data["results"]["ecom_esci"]["acc_stderr,none"] = stderr
    results_file(bad).write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "site"
    lb = run_build(root, out)
    row = {r["system"]: r for r in lb["rows"] + lb["limited_rows"]}.get("org/absurd")
    assert row is None or not row.get("rank") or row["ecom_esci:acc"] is None
    assert "org/absurd" in report(out) or "absurd" in report(out)


# ------------------------------------------------------------------------------ 5. what a reader sees
def test_local_paths_never_become_system_names(tmp_path):
    root = tmp_path / "runs"
    cache = tmp_path / "cache" / "models--org--tiny" / "snapshots" / "0123456789abcdef0123"
    converted = tmp_path / "venv" / "lib" / "site-packages" / "pkg" / "model"
    for m in (cache, converted):
        m.mkdir(parents=True)
    (converted / "config.json").write_text(json.dumps({"_name_or_path": "HuggingFaceTB/SmolLM2-135M"}), encoding="utf-8")
    valid(root, str(cache))
    valid(root, str(converted), k=5)
    data = json.loads(results_file(root / str(cache).replace("/", "__")).read_text())
    data["configs"]["ecom_esci"]["metadata"]["data_source"] = str(tmp_path / "data" / "esci.parquet")
    results_file(root / str(cache).replace("/", "__")).write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "site"
    lb = run_build(root, out)
    assert systems(lb) == {"org/tiny", "HuggingFaceTB/SmolLM2-135M"}
    for f in out.rglob("*"):
        if f.is_file() and f.suffix in (".html", ".json", ".csv"):
            assert str(tmp_path) not in f.read_text(encoding="utf-8"), f
    assert "esci.parquet" in (out / "index.html").read_text(encoding="utf-8")
    assert not (out / "provenance.json").exists()  # off by default
    run_build(root, out, publish_provenance=True)
    prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert any(str(cache) in json.dumps(v) for v in prov.values())
