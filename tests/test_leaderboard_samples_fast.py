"""The fast samples reader (orjson for the common line, memoised argument order and digests) reads
exactly what the plain json.loads reader reads: the same lines accepted and refused, the same values
(types included), the same warnings, the same viewer file."""

from __future__ import annotations

import json
import random

import pytest
from ecomsuite.leaderboard import safeio, samples

orjson = pytest.importorskip("orjson")  # a dependency (pyproject.toml); the reader also works without it

LONG = safeio.MAX_INT_DIGITS + 1  # the shortest integer safeio reads as a float


def _line(i: int, **extra) -> dict:
    """A generation-task line shaped like lm-eval's."""
    d = {"doc_id": i, "doc": {"id": f"d{i}", "q": f"query {i}", "n": i * 7},
         "target": f"ref {i}", "arguments": {"gen_args_0": {"arg_0": f"prompt {i} \u00e9", "arg_1": {"until": ["\n"]}}},
         "resps": [[f"out {i}"]], "filtered_resps": [f"out {i}"], "filter": "none",
         "doc_hash": "%064x" % (i * 7919), "acc": float(i % 2), "parse_fail": 0.0}
    d.update(extra)
    return d


def _mc_line(i: int) -> dict:
    """A multiple-choice line: loglikelihoods written as text, as lm-eval does."""
    choices = [" exact", " substitute", " complement", " irrelevant"]
    return {"doc_id": i, "doc": {"query": f"q{i}", "label": "E"}, "target": i % 4,
            "arguments": {f"gen_args_{k}": {"arg_0": f"prompt {i}", "arg_1": c} for k, c in enumerate(choices)},
            "resps": [[[str(-1.0 - k * 0.35 - i % 3), "False"]] for k in range(4)],
            "filtered_resps": [[str(-1.0 - k * 0.35 - i % 3), "False"] for k in range(4)],
            "filter": "none", "macro_f1": ["E", "ES"[i % 2]], "acc": float(i % 2)}


EDGE_LINES = [
    b"", b"   ", b"\t\r", b"{}", b"[]", b"3", b"null", b'"text"',
    b'{"doc_id": 1, "x": NaN}', b'{"doc_id": 1, "x": Infinity}', b'{"doc_id": 1, "x": -Infinity}',
    b'{"doc_id": 1, "x": 1e400}', b'{"doc_id": 1, "x": -1e400}', b'{"doc_id": 1, "x": 1e-400}',
    b'{"doc_id": ' + b"9" * (LONG - 1) + b"}", b'{"doc_id": ' + b"9" * LONG + b"}",
    b'{"doc_id": -' + b"9" * LONG + b"}", b'{"doc_id": 18446744073709551615}', b'{"doc_id": 18446744073709551616}',
    b'{"doc_id": -9223372036854775808}', b'{"doc_id": ' + b"9" * 400 + b"}",
    b'{"doc_id": 1, "h": "' + b"1" * 30 + b'"}',  # a long digit run inside a string
    b'{"doc_id": 1, "x": 0.1234567890123456789012}', b'{"doc_id": 1, "x": -0}', b'{"doc_id": 1, "x": -0.0}',
    b'{"doc_id": 1, "s": "\\ud800"}', b'{"doc_id": 1, "s": "\\udc00\\ud800"}', b'{"doc_id": 1, "s": "\\ud834\\udd1e"}',
    b'{"doc_id": 1, "s": "\xed\xa0\x80"}', b'{"doc_id": 1, "s": "caf\xe9"}', b'{"doc_id": 1, "s": "\xff\xfe"}',
    b'\xef\xbb\xbf{"doc_id": 1}', b'{"doc_id": 1, "s": "a\tb"}', b'{"doc_id": 1, "s": "a\x00b"}',
    b'{"doc_id": 1, "s": "\xe2\x80\xa8"}', b'{"doc_id": 1, "a": 1, "a": 2}', b'{"doc_id": 1,}', b'{"doc_id": 1} x',
    b'{"doc_id": 1}\x0b', b"\x0c{}", b"{} {}", b"[1,]", b"01", b"1.", b".5", b"+1", b"'a'", b'{"doc_id": 01}',
    b'{"doc_id": 1, "x": 1E+2, "y": 2e-3, "z": 5e-324, "w": 1.7976931348623157e308}',
    b"[" * 300 + b"]" * 300, b"[" * 600 + b"]" * 600, b"[" * 1000 + b"]" * 1000, b"[" * 1024 + b"]" * 1024,
    b"[" * 1025 + b"]" * 1025, b'{"a":' * 700 + b"1" + b"}" * 700, b"[" * 200_000 + b"]" * 200_000,
]


def _read(path, fast: bool, monkeypatch) -> tuple[list, list, int, list]:
    with monkeypatch.context() as m:
        if not fast:
            m.setattr(samples, "_fast_loads", None)
        log = samples._LineLog()
        got = [(n, repr(v)) for n, v, _ in samples._lines(str(path), log)]  # repr: 1 and 1.0 differ, key order shows
    return got, log.bad, log.n_bad, log.reencoded


def test_edge_lines_read_as_json_loads_reads_them(tmp_path, monkeypatch):
    p = tmp_path / "s.jsonl"
    p.write_bytes(b"\n".join(EDGE_LINES) + b"\n" + b"\r\n".join([b'{"doc_id": 2}', b'{"doc_id": 3}']) + b"\r\n")
    fast = _read(p, True, monkeypatch)
    assert fast == _read(p, False, monkeypatch)
    assert fast[2] > 10 and fast[3]  # the file does hold refused and re-encoded lines
    values = dict(fast[0])
    at = EDGE_LINES.index(b'{"doc_id": ' + b"9" * LONG + b"}") + 1
    assert values[at] == repr({"doc_id": float("9" * LONG)})  # a long integer is a float, as safeio reads it
    assert values[at - 1] == repr({"doc_id": int("9" * (LONG - 1))})


def test_mutated_lines_read_as_json_loads_reads_them(tmp_path, monkeypatch):
    """Random byte edits of realistic lines: whatever each mutant is, both readers agree on it."""
    rng = random.Random(13)
    base = [json.dumps(_line(i)).encode() for i in range(4)] + [json.dumps(_mc_line(i)).encode() for i in range(4)]
    alphabet = b'0123456789{}[]",:.eE+-\\ute\xff\xc3\xa9 Nn'
    mutants = []
    for _ in range(3000):
        b = bytearray(rng.choice(base))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(b))
            op = rng.random()
            if op < 0.4:
                b[at] = rng.choice(alphabet)
            elif op < 0.7:
                b[at:at] = bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 22)))
            else:
                del b[at:at + rng.randint(1, 4)]
        mutants.append(bytes(b).replace(b"\n", b" "))
    p = tmp_path / "m.jsonl"
    p.write_bytes(b"\n".join(mutants) + b"\n")
    fast = _read(p, True, monkeypatch)
    assert fast == _read(p, False, monkeypatch)
    assert 100 < len(fast[0]) < len(mutants)  # both accepted and refused mutants


def _write(path, rows: list) -> None:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")


def _result(d: samples.SampleData) -> tuple:
    return (repr(d.doc_ids.tolist()), repr(d.items if isinstance(d.items, list) else d.items.tolist()), d.numeric,
            None if d.parse_fail is None else repr(d.parse_fail.tolist()), repr(None if d.scores is None else d.scores.tolist()),
            d.n_docs_in_file, d.warnings, d.error, d.clusters, d.n_nan, d.key_source)


@pytest.mark.parametrize("metric", ["acc", "macro_f1"])
def test_read_samples_is_the_same_with_and_without_orjson(tmp_path, monkeypatch, metric):
    rows = [_mc_line(i) for i in range(30)] + [_line(100 + i) for i in range(30)]
    rows[3]["doc_id"] = 10 ** LONG  # a float far beyond 2**53: no usable doc_id
    rows[4]["acc"] = "NaN"
    rows[5]["filtered_resps"][1][0] = "-1e999"  # an infinite loglikelihood: not multiple choice
    rows[6]["macro_f1"] = [[[["E"]]], "S"]
    rows[7]["arguments"] = {}  # no requests: no prompt (this used to fail the whole file)
    rows[8]["arguments"] = {"gen_args_1": {"arg_1": " b", "arg_0": "p"}, "gen_args_0": {"arg_0": "p", "arg_1": " a"}}
    rows[8]["filtered_resps"] = rows[8]["filtered_resps"][:2]
    rows[40]["doc"] = {"q": "no id", "n": 10 ** LONG}
    rows[41]["doc"] = {"q": "no id", "n": 10 ** LONG}  # the same document as line 41 (after the float reading)
    rows[42]["doc_id"] = 101  # a duplicate doc_id
    rows[43]["target"] = "x" * (samples.MAX_TEXT + 5)
    text = [json.dumps(r) for r in rows]
    text[10] = text[10].replace('"acc": 0.0', '"acc": NaN')
    text[11] = text[11][:-1]  # truncated
    text[12] = text[12].replace('"prompt 12', '"\\ud800 prompt 12')
    p = tmp_path / "s.jsonl"
    p.write_text("\n".join(text) + "\n", encoding="utf-8")
    refs = {100 + i: (samples._digest(f"prompt {100 + i} \u00e9"), samples._digest("other")) for i in range(10)}
    out = {}
    for fast in (True, False):
        with monkeypatch.context() as m:
            if not fast:
                m.setattr(samples, "_fast_loads", None)
            m.setattr(samples, "_ORDER_MEMO", {})
            m.setattr(samples, "_DIGEST_TEXT", {})
            m.setattr(samples, "_HASH_MEMO", {})
            job = samples.SampleJob("sys", "t", metric, "none", str(p), str(tmp_path / f"v{fast}.js"))
            d = samples.read_samples(job, None, refs)
            out[fast] = (_result(d), (tmp_path / f"v{fast}.js").read_text(encoding="utf-8").split("=", 2)[-1])
    assert out[True] == out[False]
    res = out[True][0]
    assert res[7] is None and res[5] >= 50 and any("malformed" in w for w in res[6])
    view = samples.read_data_file(tmp_path / "vTrue.js")["samples"]
    by_id = {r["d"]: r for r in view}
    assert by_id[7]["p"] == "" and by_id[8]["ch"][0][0] == " a"
    assert "p" not in by_id[100] and by_id[100]["t"] == "ref 100"  # the shared prompt left out, not the reference


def _ordered_reference(d: dict) -> list:
    """The argument order as it was worked out for every dict, before the memo."""
    if len(d) == 1:
        return list(d.values())
    first = next(iter(d))
    prefix = first.rpartition("_")[0] if isinstance(first, str) else None
    if prefix:
        try:
            return [d[f"{prefix}_{i}"] for i in range(len(d))]
        except KeyError:
            pass
    return [d[k] for k in sorted(d, key=samples._natural_key)]


@pytest.mark.parametrize("keys", [
    ["arg_0", "arg_1"], ["arg_1", "arg_0"], ["only"], [f"gen_args_{i}" for i in (10, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8)],
    ["b", "a"], ["x_0", "y_1"], ["a_0", "a_2"], ["_0", "_1"], ["a_1", "a_0", "b_0"], ["k_10", "k_9", "k_x"],
])
def test_argument_order_is_unchanged(keys, monkeypatch):
    monkeypatch.setattr(samples, "_ORDER_MEMO", {})
    d = {k: f"v{k}" for k in keys}
    for _ in range(2):  # worked out, then remembered
        assert samples._ordered(d) == _ordered_reference(d)
    assert samples._ordered({}) == []


def test_remembered_digests_are_bounded_and_exact(monkeypatch):
    monkeypatch.setattr(samples, "_DIGEST_TEXT", {})
    monkeypatch.setattr(samples, "_digest_chars", [0])
    monkeypatch.setattr(samples, "_DIGEST_TEXT_MAX", 25)
    a, b = "a" * 20, "b" * 20
    assert samples._has_digest(a, samples._digest(a)) and samples._has_digest(a, samples._digest(a))
    assert not samples._has_digest(b, samples._digest(a))
    assert samples._has_digest(b, samples._digest(b))
    assert list(samples._DIGEST_TEXT.values()) == [b]  # over the limit: started again


def test_choice_tables_key_labels_as_their_json():
    """Labels that are equal but write different JSON (1, 1.0, true; a list) get their own table rows."""
    recs = [{"d": i, "ch": [[lab, -1.0], ["b", -2.0]], "s": None}
            for i, lab in enumerate(["a", 1, 1.0, True, ["x"], "a", 1, ["x"]])]
    cols = samples.encode_view({"metric": "m", "score_metric": "m", "samples": recs})
    assert cols["cl"] == [["a", "b"], [1, "b"], [1.0, "b"], [True, "b"], [["x"], "b"]]
    assert cols["ci"] == [0, 1, 2, 3, 4, 0, 1, 4]
    assert json.dumps(cols["cl"]) == '[["a", "b"], [1, "b"], [1.0, "b"], [true, "b"], [["x"], "b"]]'
    assert samples.decode_view(cols)["samples"] == recs


def test_loglikelihoods_and_scores_round_as_round_does():
    rng = random.Random(3)
    xs = [0.0, -0.0, 0.0004, -0.0004, 0.0005, -0.0005, 0.0015, 2.675, -2.675, 1e-300, 999999.9995, 1e9, -1e300]
    xs += [-rng.expovariate(0.2) for _ in range(20000)]
    xs += [(rng.randint(-10**7, 10**7) + 0.5) / 10**samples.LL_DECIMALS * (1 + rng.choice([0, 1e-15, -1e-15]))
           for _ in range(20000)]  # at and beside the ties
    xs += [rng.random() for _ in range(20000)] + [rng.choice([0.0, 1.0, -0.0, 1e-7, -1e-7, 0.5, 1 / 3]) for _ in range(50)]
    xs += [(rng.randint(-10**9, 10**9) + 0.5) / 10**samples.SCORE_DECIMALS for _ in range(20000)]
    for d in (samples.LL_DECIMALS, samples.SCORE_DECIMALS):
        for x in xs:
            assert repr(samples._round(x, d)) == repr(round(x, d)), (x, d)


def test_ordinary_lines_take_the_fast_parser(tmp_path, monkeypatch):
    p = tmp_path / "s.jsonl"
    _write(p, [_line(i) for i in range(5)] + [_mc_line(i) for i in range(5, 10)] + ['{"doc_id": 10, "x": NaN}'])
    slow = []
    monkeypatch.setattr(safeio, "loads", lambda text: slow.append(text) or json.loads(text))
    assert len(list(samples._lines(str(p), samples._LineLog()))) == 11
    assert len(slow) == 1 and "NaN" in slow[0]


def test_an_empty_arguments_dict_in_the_shared_docs_file_costs_nothing(tmp_path):
    p = tmp_path / "s.jsonl"
    _write(p, [_line(0, arguments={}), _line(1, arguments={"gen_args_0": {}}), _line(2)])
    job = samples.SampleJob("sys", "t", "acc", "none", str(p), str(tmp_path / "v.js"))
    refs = samples.write_shared_docs("t", job, str(tmp_path / "docs.js"))
    assert sorted(refs) == [0, 1, 2]
    d = samples.read_samples(job, None, refs)
    assert d.error is None and d.n_docs_in_file == 3


@pytest.mark.parametrize("enabled", [True, False])
def test_cycle_collection_paused_while_a_file_is_read_and_restored(tmp_path, monkeypatch, enabled):
    """The collector is off while a samples file (and a task's shared docs) is read, back as it was
    afterwards -- also when the reading fails."""
    import gc

    p = tmp_path / "s.jsonl"
    _write(p, [_line(i) for i in range(5)])
    job = samples.SampleJob("sys", "t", "acc", "none", str(p), str(tmp_path / "v.js"))
    seen = []
    real = samples.read_samples

    def spy(*a, **k):
        seen.append(gc.isenabled())
        return real(*a, **k)

    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        monkeypatch.setattr(samples, "read_samples", spy)
        samples._init_worker({})
        assert samples._worker(job)[0].error is None
        assert samples.write_shared_docs("t", job, str(tmp_path / "docs.js"))
        assert gc.isenabled() is enabled
        monkeypatch.setattr(samples, "_write_shared_docs", lambda *a: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            samples.write_shared_docs("t", job, str(tmp_path / "docs.js"))
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
        samples._REFS.clear()
        samples._CACHE.clear()
    assert seen == [False]


def test_pool_results_are_the_serial_ones_and_the_collector_is_restored(tmp_path):
    """load_all through worker processes (the collector paused here while their results arrive)
    gives what one process gives, and leaves the collector as it was."""
    import gc

    jobs = []
    for k in range(8):
        p = tmp_path / f"s{k}.jsonl"
        _write(p, [_line(i) for i in range(k, k + 6)] + [_mc_line(50 + i) for i in range(3)])
        jobs.append(samples.SampleJob(f"sys{k}", "t", "acc", "none", str(p), str(tmp_path / f"v{k}.js")))
    serial = [_result(d) for d in samples.load_all(jobs, n_jobs=1)]
    views = [(tmp_path / f"v{k}.js").read_bytes() for k in range(8)]
    assert gc.isenabled()
    pooled = [_result(d) for d in samples.load_all(jobs, n_jobs=2)]
    assert gc.isenabled()
    assert pooled == serial and [(tmp_path / f"v{k}.js").read_bytes() for k in range(8)] == views


def _json_bytes_reference(obj) -> bytes:
    """The viewer file's JSON as pack wrote it before orjson: json.dumps, NaN/inf as null, surrogates replaced."""
    try:
        raw = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except ValueError:
        raw = json.dumps(samples.safejson.clean(obj), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return raw.encode("utf-8", "replace")


def _floats_outside(obj, keys) -> list:
    """Every float of ``obj`` not in a list under one of its top-level ``keys``."""
    out = []

    def walk(v):
        if isinstance(v, float):
            out.append(v)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)
    for k, v in obj.items():
        if k not in keys:
            walk(v)
    return out


def test_viewer_json_is_json_dumps_bytes_on_hostile_values():
    """pack's orjson path writes json.dumps' very bytes, or json.dumps writes them: floats on both sides
    of 1e-4 and 1e16 (where the notations part), subnormals, NaN/inf, -0.0, 64-bit and larger integers,
    every control character, lone surrogates, keys that are not text."""
    rng = random.Random(5)
    edges = [0.0, -0.0, 1e-4, -1e-4, 9.999999999999999e-05, 1e-05, 5e-324, 1e16, 9999999999999998.0, -1e16,
             1.5e16, 1e22, 1.7976931348623157e308, 0.1, 1 / 3, -2.5, 123456789.125, float("nan"), float("inf"),
             float("-inf"), None]
    texts = ["", "a\"b\\c/", "".join(chr(c) for c in range(0x20)) + "\x7f\u2028\u2029\ufeff\U0001f600", "caf\u00e9",
             "\ud800 lone", "x" * 50]
    ints = [0, -1, 2**53 + 1, 2**63 - 1, -2**63, 2**64 - 1, 2**64, -2**63 - 1, 10**30]
    n_fast = 0
    for trial in range(400):
        cols = {"metric": rng.choice(texts), "score_metric": "m", "n": 3,
                "di": [rng.choice(ints) for _ in range(3)] if trial % 7 == 0 else [0, 1, 1],
                "o": [rng.choice(texts) for _ in range(3)],
                "x": {str(rng.randrange(3)): rng.choice(texts)},
                "s": [rng.choice(edges) if rng.random() < 0.3 else round(rng.random(), 4) for _ in range(3)],
                "ll": [rng.choice(edges) if rng.random() < 0.2 else -rng.random() * 30 for _ in range(8)]}
        if trial % 11 == 0:
            cols["f"] = [rng.choice(edges) for _ in range(3)]
        if trial % 13 == 0:
            cols["k"] = {1: 2}  # a key that is not text: json.dumps writes "1", orjson refuses
        want = _json_bytes_reference(cols)
        assert samples._json_bytes(cols, samples._VIEW_FLOATS) == want, cols
        assert samples._json_bytes(cols, None) == want
        assert samples.unpack(samples.pack(cols, samples._VIEW_FLOATS)) == json.loads(want)
        try:
            n_fast += orjson.dumps(cols) == want
        except TypeError:
            pass
    assert n_fast > 40  # many took the fast path (the comparison above is not only json.dumps against itself)
    docs = {"docs": {"1": {"p": texts[2], "t": texts[4]}, "2": {"p": "", "t": "x"}}}
    assert samples._json_bytes(docs, ()) == _json_bytes_reference(docs)


def test_viewer_columns_hold_floats_only_where_pack_looks(tmp_path):
    """pack's fast path relies on encode_view putting floats only in _VIEW_FLOATS: the hostile lines of
    both task shapes, read into viewer files, keep that promise."""
    rows = [_mc_line(i) for i in range(12)] + [_line(100 + i) for i in range(12)]
    rows[1]["target"] = 2.0
    rows[2]["doc_id"] = 3.0
    rows[13]["target"] = {"a": [1.5, 1e-9]}
    rows[14]["resps"] = [[{"x": 1e30}]]
    rows[15]["filtered_resps"] = [[2.5e-7]]
    rows[16]["parse_fail"] = 1e-9
    rows[17]["arguments"] = {"gen_args_0": {"arg_0": 1e20, "arg_1": {}}}
    rows[3]["arguments"]["gen_args_1"]["arg_1"] = 1e-12  # a choice that is a number
    records = [samples.view_record(r, "acc", 1e-7 if i % 5 == 0 else 0.5, samples._doc_id(r)) for i, r in enumerate(rows)]
    cols = samples.encode_view({"metric": "acc", "score_metric": "acc", "samples": records})
    assert any(k in cols for k in ("ll", "s", "f"))
    assert _floats_outside(cols, samples._VIEW_FLOATS) == []
    assert samples._json_bytes(cols, samples._VIEW_FLOATS) == _json_bytes_reference(cols)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_cells_with_equal_documents_share_one_copy(tmp_path, n_jobs):
    """load_all keeps one copy of equal document keys and cluster labels per task (each worker's result
    brings its own), and a cell with other documents keeps its own: the values read are unchanged."""
    jobs, want_ids = [], []
    for k in range(10):
        p = tmp_path / f"s{k}.jsonl"
        docs = range(12) if k != 4 else range(1, 13)  # system 4 was scored on other documents
        rows = [_line(i, acc=float((i + k) % 2)) for i in docs]
        for r in rows:
            r["doc"]["grp"] = f"g{r['doc_id'] % 3}"
        _write(p, rows)
        task = "t" if k < 8 else "u"
        jobs.append(samples.SampleJob(f"sys{k}", task, "acc", "none", str(p), None, cluster_field="grp"))
        want_ids.append(sorted(f"id:d{i}" for i in docs))
    got = samples.load_all(jobs, n_jobs=n_jobs)
    assert [d.doc_ids.tolist() for d in got] == want_ids
    assert [d.items.tolist() for d in got] == [[float((int(i[4:]) + k) % 2) for i in want_ids[k]] for k in range(10)]
    same = [d for k, d in enumerate(got) if k < 8 and k != 4]
    assert all(d.doc_ids is same[0].doc_ids and d.clusters is same[0].clusters for d in same)
    assert got[4].doc_ids is not same[0].doc_ids and got[4].doc_ids.tolist() == want_ids[4]
    assert got[8].doc_ids is got[9].doc_ids and got[8].doc_ids is not same[0].doc_ids  # another task: its own
    assert [d.clusters for d in got] == [[f"g{int(i[4:]) % 3}" for i in ids] for ids in want_ids]


def test_integer_statistics_held_compactly_give_the_same_bits():
    """load_all holds a cell's integer statistics in the smallest integer type (cache.compact_integers):
    every resample, subset and value computed from them is the float64 one, bit for bit -- the
    float32 product, the per-kind span totals, einsum (means; sums past 2**24) and subsets."""
    import numpy as np
    from ecomsuite import bootstrap as bs
    from ecomsuite.leaderboard.cache import compact_integers

    rng = random.Random(3)
    tags = ["O", "B-a", "I-a", "B-b", "I-b", "B-c"]
    n = 300
    span = []
    for _ in range(n):
        g = [rng.choice(tags) for _ in range(rng.randint(1, 6))]
        span.append([g, [t if rng.random() < 0.7 else rng.choice(tags) for t in g]])
    cases = {
        "acc": [float(rng.random() < 0.6) for _ in range(n)],
        "macro_f1": [[rng.choice("ESCI"), rng.choice("ESCI")] for _ in range(n)],
        "span_f1": span, "span_macro_f1": span,
        "big counts": [float(rng.randrange(60000)) for _ in range(n)],  # sums past 2**24: einsum in float64
    }
    counts = bs.resample_counts(n, 500, 7)
    idx = sorted(rng.sample(range(n), 200))
    sub_counts = bs.resample_counts(len(idx), 500, 7)
    compacted = 0
    for name, items in cases.items():
        prep = bs.prepare("acc" if name == "big counts" else name, items, verify=False)
        assert prep.stats is not None and prep.stats.dtype == np.float64, name
        small = bs.Prepared(prep.metric, prep.n, prep.value, compact_integers(prep.stats), prep.finish, None,
                            prep.note, prep.finish_id)
        compacted += small.stats.dtype != np.float64
        assert small.boot(counts).tobytes() == prep.boot(counts).tobytes(), name
        a, b = prep.subset(idx), small.subset(idx)
        assert (a.value, a.n) == (b.value, b.n) and b.boot(sub_counts).tobytes() == a.boot(sub_counts).tobytes(), name
    assert compacted == len(cases)
