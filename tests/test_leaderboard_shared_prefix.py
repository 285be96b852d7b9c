"""read_samples parses only the rest of a line that begins with the same bytes as the task's reference
file's line of its doc_id (the members before "resps": doc, target, arguments): the lines accepted and
refused, every value, warning and viewer byte must be those of parsing each line whole."""

from __future__ import annotations

import json
import pickle
import random

import pytest
from ecomsuite.leaderboard import cache, safeio, samples

orjson = pytest.importorskip("orjson")

LONG = safeio.MAX_INT_DIGITS + 1  # the shortest integer safeio reads as a float


def _line(i: int, **extra) -> dict:
    d = {"doc_id": i, "doc": {"id": f"d{i}", "q": f"query {i} \u00e9", "cat": f"c{i % 3}"}, "target": f"ref {i}",
         "arguments": {"gen_args_0": {"arg_0": f"prompt {i}", "arg_1": {"until": ["\n"], "max_gen_toks": 16}}},
         "resps": [[f"out {i}"]], "filtered_resps": [f"out {i}" if i % 4 else f"parsed {i}"], "filter": "none",
         "doc_hash": "%064x" % (i * 7919), "acc": float(i % 2), "span_f1": [["B-x", "O"], ["O", "O"]],
         "parse_fail": float(i % 3 == 0)}
    d.update(extra)
    return d


def _ref_rows(n: int) -> list[dict]:
    rows = [_line(i) for i in range(n)]
    # reference lines whose beginning holds "resps" elsewhere: in a text, as a nested key, in a key's text
    rows[1]["doc"]["q"] = ["a", "resps", 'a text with , "resps": [1] in it']
    rows[2]["doc"] = {"x": 1, "resps": [2], "y": {"z": ', "resps"', "resps": {"resps": 1}}}
    rows[3]["target"] = '{"a": 1, "resps": 2}'
    return rows


def _bytes(rows: list[dict]) -> list[bytes]:
    return [json.dumps(r).encode("utf-8") for r in rows]


def _system_lines(rows: list[dict]) -> list[bytes]:
    """Another system's lines: most begin as the reference's, with rests of every kind; some differ."""
    out = []
    for r in rows:
        i = r["doc_id"]
        other = dict(r, resps=[[f"other {i}"]], filtered_resps=[f"other {i}" if i % 5 else f"x {i}"],
                     acc=float(i % 3 == 0))
        out.append(json.dumps(other).encode("utf-8"))
    ref = _bytes(rows)
    cut = {i: ref[i].index(b', "resps"', ref[i].index(b'"arguments"')) + 2 for i in range(len(rows))}

    def head(i: int) -> bytes:
        return ref[i][:cut[i]]

    edits = {
        5: head(5) + b'"resps": [["o"]], "acc": NaN, "filter": "none"}',
        6: head(6) + b'"resps": [["o"]], "acc": Infinity, "filter": "none"}',
        7: head(7) + b'"resps": [["o"]], "acc": -Infinity, "filter": "none"}',
        8: head(8) + b'"resps": [["o"]], "big": ' + b"9" * LONG + b', "acc": 1.0, "filter": "none"}',
        9: head(9) + b'"resps": [["o"]], "big": 18446744073709551616, "acc": 1.0}',
        10: head(10) + b'"resps": [["o"]], "doc": {"id": "another"}, "acc": 1.0}',  # a second "doc"
        11: head(11) + b'"resps": [["o"]], "doc_id": 999, "acc": 1.0}',  # a second "doc_id"
        12: head(12) + b'"resps": [["o"]], "target": "t2", "acc": 0.0}',
        13: head(13) + b"}",  # "{P}": not JSON (a trailing comma)
        14: head(14)[:-7],  # shorter than the prefix
        15: b"\xef\xbb\xbf" + out[15],  # a BOM
        16: out[16][:-1] + b"}\r",  # (written with CRLF below, this line's own "\r" too)
        17: out[17].replace(b'"doc_id": 17, ', b'"doc_id":17, ', 1),  # other whitespace
        18: out[18].replace(b', "doc": ', b',  "doc": ', 1),
        19: head(20) + b'"resps": [["o"]], "acc": 1.0}',  # doc 20's beginning on doc 19's line... (doc_id 20)
        21: head(21) + b'"resps": [["o \xff\xfe"]], "acc": 1.0}',  # not UTF-8
        22: head(22) + b'"resps": [["o \\ud800"]], "acc": 1.0}',  # a lone surrogate
        23: head(23) + b'"resps": [["o"]], "acc": 1.0, "acc": 0.0, "resps": 5}',  # repeated keys in the rest
        24: head(24) + b'"resps": ' + b"[" * 300 + b"]" * 300 + b', "acc": 1.0}',  # too deep for the strict check
        25: head(25) + b'"resps": [["o"]], "acc": 1.0} trailing',
        26: head(26) + b' "resps": [["o"]], "acc": 1.0}',  # a space more before the rest
        27: head(27) + b'"resps": [["o"]], "acc": 1.0,}',
        28: head(28) + b'"resps": [["o"]], "acc": 1e400}',
        29: head(29) + b'"resps": [["o"]], "acc": 1.0}\x0b',
        30: out[30].replace(b'"prompt 30"', b'"<|user|>prompt 30<|assistant|>"'),  # a chat template: no match
        31: out[31].replace(b'"ref 31"', b'"ref 31 "'),
        32: head(32) + b'"resps": [["o"]], "acc": 1.0, "doc_hash": "%s"}' % (b"1" * 64),
        33: b'{"doc_id": 33, "resps": [["o"]], "acc": 1.0}',
        34: head(34).replace(b'{"doc_id": 34,', b'{"doc_id": 34.0,') + b'"resps": [["o"]], "acc": 1.0}',
        36: head(36) + b'"resps": [["o"]], "acc": 1.0, "span_f1": [["B-x", ' + b"9" * LONG + b']]}',  # a float to safeio
        37: head(37) + b'"resps": [["o"]], "acc": 1.0, "span_f1": [["B-x", ' + b"9" * (LONG - 1) + b']]}',
        35: head(35) + b'"resps": [["o"]], "acc": 0.1234567890123456789012, "x": -0}',
    }
    for i, b in edits.items():
        out[i] = b
    out.insert(40, b"")  # a blank line
    out.insert(41, out[41])  # a repeated line (duplicate doc_id)
    return out


def _files(tmp_path, rows: list[dict], lines: list[bytes], name: str):
    ref = tmp_path / f"{name}_ref.jsonl"
    ref.write_bytes(b"\n".join(_bytes(rows)) + b"\n")
    p = tmp_path / f"{name}.jsonl"
    p.write_bytes(b"\n".join(lines[:20]) + b"\n" + b"\r\n".join(lines[20:]) + b"\r\n")
    return ref, p


def _refs(tmp_path, ref, metric: str, name: str):
    job = samples.SampleJob("ref", "t", metric, "none", str(ref), None)
    return samples.write_shared_docs("t", job, str(tmp_path / f"{name}_docs.js"))


def _read(tmp_path, path, metric: str, refs, name: str, monkeypatch, shortcut: bool) -> tuple:
    rests = []

    def loads(b):  # counts the rests parsed alone
        if type(b) is bytes and b.startswith(b'{"resps"'):
            rests.append(b)
        return orjson.loads(b)

    with monkeypatch.context() as m:
        m.setattr(samples, "_SHARED_PREFIX", shortcut)
        m.setattr(samples, "_fast_loads", loads)
        job = samples.SampleJob("sys", "t", metric, "none", str(path), str(tmp_path / f"{name}.js"), cluster_field="cat")
        d = samples.read_samples(job, None, refs)
    result = (repr(d.doc_ids.tolist()), repr(d.items if isinstance(d.items, list) else d.items.tolist()), d.numeric,
              None if d.parse_fail is None else repr(d.parse_fail.tolist()), repr(None if d.scores is None else d.scores.tolist()),
              d.n_docs_in_file, d.warnings, d.error, d.clusters, d.n_nan, d.key_source)
    return result, (tmp_path / f"{name}.js").read_bytes(), len(rests)


def test_prefixes_kept_only_at_the_top_level(tmp_path):
    rows = _ref_rows(40)
    rows[4]["doc"]["n"] = 2**54  # past 53 bits: the strict check refuses this beginning
    ref, _ = _files(tmp_path, rows, [], "k")
    refs = _refs(tmp_path, ref, "acc", "k")
    pre = refs.prefixes
    assert pre is not None and b"4" not in pre.by_token and len(pre.by_token) == len(rows) - 1
    for i, r in enumerate(rows):
        if i == 4:
            continue
        p, d = pre.by_token[str(i).encode()]
        assert p.endswith(b", ") and json.loads(p[:-2] + b"}") == d
        assert list(d) == ["doc_id", "doc", "target", "arguments"] and d == {k: r[k] for k in d}
    assert pre.keys == {"doc_id", "doc", "target", "arguments"}
    with pytest.MonkeyPatch.context() as m:
        m.setattr(samples, "_SHARED_PREFIX", False)
        assert _refs(tmp_path, ref, "acc", "k2").prefixes is None
    assert cache.refs_digest(refs) == cache.refs_digest(dict(refs))  # the cache key is unchanged
    back = pickle.loads(pickle.dumps(refs))  # (a worker not forked gets them pickled)
    assert back == refs and back.prefixes == refs.prefixes


@pytest.mark.parametrize("metric", ["acc", "span_f1", "doc"])
def test_shortcut_reads_what_a_whole_parse_reads(tmp_path, monkeypatch, metric):
    rows = _ref_rows(60)
    ref, path = _files(tmp_path, rows, _system_lines(rows), metric)
    refs = _refs(tmp_path, ref, metric, metric)
    assert refs.prefixes is not None
    got = _read(tmp_path, path, metric, refs, "on", monkeypatch, True)
    want = _read(tmp_path, path, metric, refs, "off", monkeypatch, False)
    assert got[:2] == want[:2]
    assert want[2] == 0
    if metric == "doc":  # the item would be a member of the prefix (shared between files): no shortcut
        assert got[2] == 0
    else:
        assert got[2] > 30  # most lines were read by their rest alone
    res = got[0]
    assert res[7] is None and any("malformed" in w for w in res[6]) and any("not valid UTF-8" in w for w in res[6])
    # the reference file itself, read with its own prefixes
    assert (_read(tmp_path, ref, metric, refs, "ron", monkeypatch, True)[:2]
            == _read(tmp_path, ref, metric, refs, "roff", monkeypatch, False)[:2])


def test_mutated_lines_read_as_whole_lines(tmp_path, monkeypatch):
    """Random byte edits of the lines (most near the prefix's end): whatever each mutant is, both readings agree."""
    rng = random.Random(11)
    rows = [_line(i) for i in range(400)]
    ref, _ = _files(tmp_path, rows, [], "m")
    refs = _refs(tmp_path, ref, "acc", "m")
    base = _bytes(rows)
    alphabet = b'{}[]",: \\0123456789eE.-+nNaItrufls\xff\xc3\xa9\r\t'
    lines = []
    for i, b in enumerate(base):
        b = bytearray(b)
        cut = b.index(b', "resps"', b.index(b'"arguments"')) + 2
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            at = min(len(b) - 1, max(0, cut + int(rng.gauss(0, 12)) if rng.random() < 0.7 else rng.randrange(len(b))))
            op = rng.random()
            if op < 0.4:
                b[at] = rng.choice(alphabet)
            elif op < 0.7:
                b.insert(at, rng.choice(alphabet))
            else:
                del b[at]
        lines.append(bytes(b))
    p = tmp_path / "m.jsonl"
    p.write_bytes(b"\n".join(lines) + b"\n")
    got = _read(tmp_path, p, "acc", refs, "mon", monkeypatch, True)
    want = _read(tmp_path, p, "acc", refs, "moff", monkeypatch, False)
    assert got[:2] == want[:2] and got[2] > 100 and want[2] == 0


def test_a_different_prompt_falls_back(tmp_path, monkeypatch):
    """A system whose prompts differ (a chat template) begins no line as the reference does: every line parsed whole."""
    rows = _ref_rows(30)
    ref, _ = _files(tmp_path, rows, [], "c")
    refs = _refs(tmp_path, ref, "acc", "c")
    chat = [json.dumps(dict(r, arguments={"gen_args_0": {"arg_0": f"<|user|>{r['arguments']['gen_args_0']['arg_0']}",
                                                          "arg_1": {}}})).encode() for r in rows]
    p = tmp_path / "c.jsonl"
    p.write_bytes(b"\n".join(chat) + b"\n")
    got = _read(tmp_path, p, "acc", refs, "con", monkeypatch, True)
    want = _read(tmp_path, p, "acc", refs, "coff", monkeypatch, False)
    assert got[:2] == want[:2] and got[2] == 0
    assert samples.read_data_file(tmp_path / "con.js")["samples"][0]["p"].startswith("<|user|>")
