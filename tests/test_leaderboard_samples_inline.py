"""read_samples builds a generation line's viewer record itself (not through view_record), reads its
lines without the _lines generator, skips _check_item for lines orjson wrote back, and sorts the
records only when their ids are not ascending integers: none of it may change a byte of the viewer
file, a value for the statistics or a warning."""

from __future__ import annotations

import json
import random

import pytest
from ecomsuite.leaderboard import samples

LONG_TEXT = "y" * (samples.MAX_TEXT + 3)


def _line(i, **extra) -> dict:
    d = {"doc_id": i, "doc": {"id": f"d{i}", "cat": f"c{i % 3}"}, "target": f"ref {i}",
         "arguments": {"gen_args_0": {"arg_0": f"prompt {i}", "arg_1": {"until": ["\n"]}}},
         "resps": [[f"out {i}"]], "filtered_resps": [f"out {i}" if i % 4 else f"parsed {i}"], "filter": "none",
         "doc_hash": "%064x" % (i * 7919), "acc": float(i % 2), "span_f1": [["B-x", "O"], ["O", "O"]],
         "parse_fail": float(i % 3 == 0)}
    d.update(extra)
    return d


def _variants() -> list:
    """Lines of every shape the inline record meets or hands to view_record."""
    rows = [_line(i) for i in range(40)]
    odd = [
        dict(target=7), dict(target=None), dict(target=["a", ["b"]]), dict(target=LONG_TEXT), dict(target={"k": [1, 2]}),
        dict(resps=[]), dict(resps=[[["deep"]]]), dict(resps=[["a", "b"]]), dict(resps="plain"), dict(resps=[[LONG_TEXT]]),
        dict(resps=[[None]]), dict(filtered_resps=[]), dict(filtered_resps=[[3.5]]), dict(filtered_resps=None),
        dict(filtered_resps=[LONG_TEXT]), dict(filtered_resps={"a": 1}),
        dict(arguments={"gen_args_0": {"arg_0": LONG_TEXT, "arg_1": {}}}),  # a long prompt: view_record cuts it
        dict(arguments={"gen_args_0": {"arg_0": 5, "arg_1": {}}}), dict(arguments={"gen_args_0": {"arg_1": "b", "arg_0": "a"}}),
        dict(arguments={"gen_args_0": {"arg_0": "a", "arg_2": "b"}}), dict(arguments={"gen_args_0": ["ctx", "x"]}),
        dict(arguments={"gen_args_0": "ctx"}), dict(arguments={"gen_args_0": {"arg_0": "a"}}), dict(arguments=[["ctx"]]),
        dict(arguments={}), dict(arguments=None), dict(arguments={"gen_args_0": {"arg_0": "a", "arg_1": "b", "arg_2": "c"}}),
        dict(parse_fail=None), dict(parse_fail="1"), dict(parse_fail=True), dict(parse_fail=[1.0]), dict(parse_fail=2),
        dict(parse_fail="nan"), dict(acc=None), dict(acc=True), dict(acc=3), dict(acc="0.5"), dict(acc=[1]),
        dict(acc=1e-7), dict(acc=0.1234565), dict(acc=-0.0), dict(acc=2.5e12), dict(acc=0.3333333333333333),
        dict(doc={"q": "no id"}), dict(doc={"id": 12}), dict(doc={"id": ""}), dict(doc=None), dict(doc="text"),
        dict(filter="other"), dict(filter=None), dict(filter=["none"]), dict(doc_id=3.0), dict(doc_id="s-1"),
    ]
    for k, extra in enumerate(odd):
        rows.append(_line(100 + k, **extra))
    return rows


def _text_of(rows: list, plain: bool = False) -> str:
    text = [json.dumps(r) for r in rows]
    if plain:
        return "\n".join(text) + "\n"
    text[5] = text[5].replace('"acc": 1.0', '"acc": NaN')  # a line only json.loads reads (NaN)
    text[9] = text[9].replace('"acc": 1.0', '"acc": Infinity')
    text[7] = text[7].replace('"out 7', '"\\ud800 out 7')  # a lone surrogate: json.loads's line
    text[11] = text[11][:-3]  # truncated: malformed
    return "\n".join(text) + "\n\n"


def _read(tmp_path, text: str, metric: str, refs, name: str, monkeypatch, inline: bool = True, fast: bool = True):
    p = tmp_path / f"{name}.jsonl"
    p.write_text(text, encoding="utf-8")
    with monkeypatch.context() as m:
        m.setattr(samples, "_INLINE_VIEW", inline)
        if not fast:
            m.setattr(samples, "_fast_loads", None)
        job = samples.SampleJob("sys", "t", metric, "none", str(p), str(tmp_path / f"{name}.js"), cluster_field="cat")
        d = samples.read_samples(job, None, refs)
    result = (repr(d.doc_ids.tolist()), repr(d.items if isinstance(d.items, list) else d.items.tolist()), d.numeric,
              None if d.parse_fail is None else repr(d.parse_fail.tolist()), repr(None if d.scores is None else d.scores.tolist()),
              d.n_docs_in_file, d.warnings, d.error, d.clusters, d.n_nan, d.key_source)
    return result, (tmp_path / f"{name}.js").read_text(encoding="utf-8").split("=", 2)[-1]


def _refs(rows: list) -> dict:
    """Shared prompt and reference of every other document (some equal to this file's, some not)."""
    refs = {}
    for r in rows[::2]:
        i = r["doc_id"]
        if type(i) is not int:
            continue
        refs[i] = (samples._digest(f"prompt {i}"), samples._digest(f"ref {i}" if i % 3 else "another reference"))
    return refs


@pytest.mark.parametrize("metric", ["acc", "span_f1"])
@pytest.mark.parametrize("with_refs", [True, False])
def test_inline_records_are_view_records(tmp_path, monkeypatch, metric, with_refs):
    rows = _variants()
    text = _text_of(rows)
    refs = _refs(rows) if with_refs else None
    got = _read(tmp_path, text, metric, refs, "inline", monkeypatch)
    want = _read(tmp_path, text, metric, refs, "plain", monkeypatch, inline=False)
    assert got == want
    slow = _read(tmp_path, text, metric, refs, "slow", monkeypatch, fast=False)
    assert got == slow
    res = got[0]
    assert res[7] is None and any("malformed" in w for w in res[6]) and any("NaN/infinite" in w for w in res[6]) == (metric == "acc")
    recs = {r["d"]: r for r in samples.read_data_file(tmp_path / "inline.js")["samples"]}
    assert recs[1]["o"] == "out 1" and "x" not in recs[1] and recs[4]["x"] == "parsed 4"
    assert ("p" not in recs[2]) == with_refs and ("t" not in recs[2]) == with_refs and "t" in recs[3]


def test_records_sorted_whatever_the_line_order(tmp_path, monkeypatch):
    """Ascending integer ids need no sort; any other order (shuffled, descending, a text id among them)
    gives the same data file as the ascending one."""
    rows = [_line(i) for i in range(60)]
    want = _read(tmp_path, _text_of(rows, True), "acc", None, "asc", monkeypatch)
    rng = random.Random(5)
    for k, order in enumerate([rows[::-1], rng.sample(rows, len(rows)), rows[1:] + rows[:1], rows[:30] + rows[31:] + rows[30:31]]):
        assert _read(tmp_path, _text_of(order, True), "acc", None, f"o{k}", monkeypatch)[1] == want[1], k
    mixed = rows[:20] + [_line(200, doc_id="a-text-id")] + rows[20:]
    got = _read(tmp_path, _text_of(mixed, True), "acc", None, "mixed", monkeypatch)
    assert got == _read(tmp_path, _text_of(mixed[::-1], True), "acc", None, "mixed_rev", monkeypatch)
    ids = [r["d"] for r in samples.read_data_file(tmp_path / "mixed.js")["samples"]]
    assert ids == sorted(ids, key=lambda d: (1, 0, d) if isinstance(d, str) else (0, d, ""))


def test_a_corpus_item_only_json_loads_reads_is_still_checked(tmp_path, monkeypatch):
    """_check_item is skipped only for lines orjson wrote back; a json.loads line's item is checked."""
    calls = []
    real = samples._check_item
    monkeypatch.setattr(samples, "_check_item", lambda item: calls.append(item) or real(item))
    text = "\n".join([json.dumps(_line(0)), json.dumps(_line(1)).replace('"acc": 1.0', '"acc": NaN')]) + "\n"
    res, _ = _read(tmp_path, text, "span_f1", None, "c", monkeypatch)
    assert res[5] == 2 and calls == [[["B-x", "O"], ["O", "O"]]]


def _mc(i, **extra) -> dict:
    choices = [" exact", " substitute", " complement", " irrelevant"]
    d = {"doc_id": i, "doc": {"id": f"m{i}"}, "target": i % 4,
         "arguments": {f"gen_args_{k}": {"arg_0": f"prompt {i}", "arg_1": c} for k, c in enumerate(choices)},
         "filtered_resps": [[str(-1.0 - k * 0.35 - i % 3), "False"] for k in range(4)], "acc": float(i % 2)}
    d.update(extra)
    return d


def _mc_variants() -> list:
    lls = [["-1.0", "x"], ["-2.5", "x"]]
    two = {"gen_args_0": {"arg_0": "p", "arg_1": " a"}, "gen_args_1": {"arg_0": "p", "arg_1": " b"}}
    odd = [
        dict(target=1), dict(target=-1), dict(target=4), dict(target=True), dict(target=2.0), dict(target="2"),
        dict(target=None), dict(target=2.5), dict(target=[1]), dict(target=10**17),
        dict(filtered_resps=[["-1.0004", "x"], ["-1.0001", "x"], ["-3", "x"], ["-4", "x"]]),  # a tie once rounded: "k"
        dict(filtered_resps=[[-1.5, "x"], [-0.5, "x"], [-2, "x"], [True, "x"]]), dict(filtered_resps=[["nan", "x"]] * 4),
        dict(filtered_resps=[["-inf", "x"]] * 4), dict(filtered_resps=[["1" * 70, "x"]] * 4), dict(filtered_resps=[["abc", "x"]] * 4),
        dict(filtered_resps=[["-1", "x", "y"]] * 4), dict(filtered_resps=[-1.0, -2.0, -3.0, -4.0]), dict(filtered_resps=lls),
        dict(filtered_resps=[["-0.0", "x"], ["0", "x"], ["-0.0004", "x"], ["-1e-9", "x"]]),
        dict(arguments=dict(two, gen_args_2={"arg_0": "p", "arg_1": 3}), filtered_resps=lls + [["-3", "x"]]),
        dict(arguments=dict(two, gen_args_2={"arg_0": "p", "arg_1": LONG_TEXT}), filtered_resps=lls + [["-3", "x"]]),
        dict(arguments=dict(two, gen_args_2={"arg_1": "c", "arg_0": "p"}), filtered_resps=lls + [["-3", "x"]]),
        dict(arguments=dict(two, gen_args_2={"arg_0": "p", "arg_2": "c"}), filtered_resps=lls + [["-3", "x"]]),
        dict(arguments=dict(two, gen_args_2=["p", "c"]), filtered_resps=lls + [["-3", "x"]]),
        dict(arguments=dict(two, gen_args_2="c"), filtered_resps=lls + [["-3", "x"]]),
        dict(arguments={"gen_args_1": two["gen_args_1"], "gen_args_0": two["gen_args_0"]}, filtered_resps=lls),
        dict(arguments={f"gen_args_{k}": {"arg_0": f"p{k}", "arg_1": f" c{k}"} for k in (10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)},
             filtered_resps=[[str(-k), "x"] for k in range(11)]),
        dict(arguments={"b": {"arg_0": "p", "arg_1": " b"}, "a": {"arg_0": "q", "arg_1": " a"}}, filtered_resps=lls),
        dict(arguments={"gen_args_0": {"arg_0": 7, "arg_1": " a"}, "gen_args_1": {"arg_0": "p", "arg_1": " b"}}, filtered_resps=lls),
        dict(arguments={"gen_args_0": {"arg_0": LONG_TEXT, "arg_1": " a"}, "gen_args_1": {"arg_0": "p", "arg_1": " b"}},
             filtered_resps=lls),
        dict(arguments={"x_\u00b2": {"arg_0": "p", "arg_1": " a"}, "y": {"arg_0": "p", "arg_1": " b"}}, filtered_resps=lls),
        dict(arguments=[["p", " a"], ["p", " b"]], filtered_resps=lls), dict(filtered_resps=lls[:1] * 3),
    ]
    return [_mc(i) for i in range(12)] + [_mc(50 + k, **extra) for k, extra in enumerate(odd)]


@pytest.mark.parametrize("metric", ["acc", "macro_f1"])
def test_multiple_choice_records_of_the_common_shape_are_the_general_ones(tmp_path, monkeypatch, metric):
    rows = _mc_variants()
    for r in rows:
        r["macro_f1"] = ["E", "S"]
    text = _text_of(rows, True)
    refs = _refs(rows)
    got = _read(tmp_path, text, metric, refs, "fast", monkeypatch)
    taken = []
    with monkeypatch.context() as m:
        real = samples._choices_fast
        m.setattr(samples, "_choices_fast", lambda *a: taken.append(real(*a)) or None)
        want = _read(tmp_path, text, metric, refs, "general", monkeypatch)
    assert got == want
    assert sum(t is not None for t in taken) >= 15 and sum(t is None for t in taken) >= 10  # both readings were used
    for row in rows:
        assert _outcome(samples.view_record, row, metric) == _general(monkeypatch, row, metric), row["doc_id"]
    recs = {r["d"]: r for r in samples.read_data_file(tmp_path / "fast.js")["samples"]}
    assert any("k" in r for r in recs.values()) and any("ch" not in r for r in recs.values())


def _outcome(fn, *args):
    try:
        return repr(fn(*args, 0.5))
    except Exception as e:  # noqa: BLE001 - the same failure either way
        return f"{type(e).__name__}: {e}"


def _general(monkeypatch, row, metric):
    with monkeypatch.context() as m:
        m.setattr(samples, "_choices_fast", lambda *a: None)
        return _outcome(samples.view_record, row, metric)


def test_an_integer_target_names_its_choice_as_any_number_does():
    """The integer target's shortcut writes what _num's reading of the same index writes."""
    texts = {repr(t): samples.view_record(_mc(5, target=t), "acc", None)["t"] for t in (2, 2.0, "2", "2.0")}
    assert set(texts.values()) == {"2:  complement"}, texts
    assert samples.view_record(_mc(5, target=True), "acc", None)["t"] == samples.view_record(_mc(5, target=1), "acc", None)["t"]
    assert samples.view_record(_mc(5, target=4), "acc", None)["t"] == "4"


@pytest.mark.parametrize("ids", [[], [0], [3, 1, 2], [2**53 - 1, -(2**53 - 1)], [2**53], [-(2**53)], [True, 1], [1, False],
                                 [1.0, 2], ["1", 2], [5, "a"], [10**30, 1]])
def test_ids_as_steps_exactly_when_all_are_exact_integers(ids):
    recs = [{"d": i, "o": "x", "s": None} for i in ids]
    cols = samples.encode_view({"metric": "m", "score_metric": "m", "samples": recs})
    steps = all(type(i) is int and abs(i) < 2**53 for i in ids)
    assert ("di" in cols) == steps and ("d" in cols) != steps
    if steps:
        assert cols["di"] == [b - a for a, b in zip([0] + ids, ids)]
    assert [r["d"] for r in samples.decode_view(cols)["samples"]] == ids


def test_edge_lines_read_by_read_samples_as_json_loads_reads_them(tmp_path, monkeypatch):
    """read_samples' own (inline) line reading takes and refuses what the json.loads reading does."""
    from test_leaderboard_samples_fast import EDGE_LINES

    good = [json.dumps(_line(i)).encode() for i in range(3)]
    text = b"\n".join(good[:1] + EDGE_LINES + good[1:]) + b"\n\n  \n" + b"\r\n".join(good[1:]) + b"\r\n"
    p = tmp_path / "e.jsonl"
    out = {}
    for fast in (True, False):
        p.write_bytes(text)
        with monkeypatch.context() as m:
            if not fast:
                m.setattr(samples, "_fast_loads", None)
            job = samples.SampleJob("sys", "t", "acc", "none", str(p), str(tmp_path / f"e{fast}.js"))
            d = samples.read_samples(job, None)
        out[fast] = (repr(d.doc_ids.tolist()), d.warnings, d.n_docs_in_file, d.error,
                     (tmp_path / f"e{fast}.js").read_text(encoding="utf-8"))
    assert out[True] == out[False]
    assert out[True][3] is None and any("malformed" in w for w in out[True][1]) and any("UTF-8" in w for w in out[True][1])
