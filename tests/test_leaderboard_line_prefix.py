"""samples._lines parses only the rest of a line whose members before "resps" (doc_id, doc, target,
arguments) are the same bytes as a line parsed before in this process, and read_samples takes the
viewer's prompt, reference and choices from what it made of them then: the lines accepted and
refused, every value, warning and viewer byte must be those of parsing and reading each line whole."""

from __future__ import annotations

import json
import random

import pytest
from ecomsuite.leaderboard import safeio, samples

orjson = pytest.importorskip("orjson")

LONG = safeio.MAX_INT_DIGITS + 1  # the shortest integer safeio reads as a float


def _held() -> list[bytes]:
    """The line beginnings the memo holds, every task's."""
    return [k for heads in samples._PREFIXES.values() for cands in heads.values() for k, _ in cands]


def _line(i: int, **extra) -> dict:
    d = {"doc_id": i, "doc": {"id": f"d{i}", "q": f"query {i} \u00e9", "cat": f"c{i % 3}"}, "target": f"ref {i}",
         "arguments": {"gen_args_0": {"arg_0": f"prompt {i}", "arg_1": {"until": ["\n"], "max_gen_toks": 16}}},
         "resps": [[f"out {i}"]], "filtered_resps": [f"out {i}" if i % 4 else f"parsed {i}"], "filter": "none",
         "doc_hash": "%064x" % (i * 7919), "acc": float(i % 2), "span_f1": [["B-x", "O"], ["O", "O"]],
         "parse_fail": float(i % 3 == 0)}
    if i % 7 == 1:  # multiple choice: one loglikelihood request per choice, the target an index
        d["target"] = i % 3
        d["arguments"] = {f"gen_args_{k}": {"arg_0": f"prompt {i}", "arg_1": f" choice {k} of {i}"} for k in range(3)}
        d["resps"] = [[[str(-1.0 - k - i % 2), "False"]] for k in range(3)]
        d["filtered_resps"] = [[str(-1.0 - k - i % 2), "False"] for k in range(3)]
    d.update(extra)
    return d


def _ref_rows(n: int) -> list[dict]:
    rows = [_line(i) for i in range(n)]
    # lines whose beginning holds "resps" elsewhere: in a text, as a nested key, in a key's text
    rows[2]["doc"]["q"] = ["a", "resps", 'a text with , "resps": [1] in it']
    rows[3]["doc"] = {"x": 1, "resps": [2], "y": {"z": ', "resps"', "resps": {"resps": 1}}}
    rows[4]["target"] = '{"a": 1, "resps": 2}'
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
        if i % 7 == 1:
            other["filtered_resps"] = [[str(-2.0 + k - i % 3), "False"] for k in range(3)]
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
        12: head(12) + b'"resps": [["o"]], "target": "t2", "acc": 0.0}',  # a second "target"
        13: head(13) + b"}",  # "{P}": not JSON (a trailing comma)
        14: head(14)[:-7],  # shorter than the beginning
        15: b"\xef\xbb\xbf" + out[15],  # a BOM
        16: out[16][:-1] + b"}\r",  # (written with CRLF below, this line's own "\r" too)
        17: out[17].replace(b'"doc_id": 17, ', b'"doc_id":17, ', 1),  # other whitespace
        18: out[18].replace(b', "doc": ', b',  "doc": ', 1),
        19: head(20) + b'"resps": [["o"]], "acc": 1.0}',  # doc 20's beginning on doc 19's line (doc_id 20)
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
        35: head(35) + b'"resps": [["o"]], "acc": 0.1234567890123456789012, "x": -0}',
        36: head(36) + b'"resps": [["o"]], "acc": 1.0, "span_f1": [["B-x", ' + b"9" * LONG + b']]}',  # a float to safeio
        37: head(37) + b'"resps": [["o"]], "acc": 1.0, "span_f1": [["B-x", ' + b"9" * (LONG - 1) + b']]}',
        43: head(43) + b'"resps": [["o"]], "filtered_resps": [["-1.0", "x"], ["-9", "y"], ["nan", "z"]], "acc": 1.0}',
        50: head(50) + b'"resps": [["o"]], "filtered_resps": [["-1.0", "x"], ["-9", "y"]], "acc": 1.0}',
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


def _read(tmp_path, ref, path, metric: str, name: str, monkeypatch, memo: bool) -> tuple:
    """read_samples of ``path`` (with the shared docs of ``ref``, written first, as the build does):
    its arrays and warnings, its viewer file's bytes, and how many rests were parsed alone."""
    rests = []

    def loads(b):  # counts the rests parsed alone
        if type(b) is bytes and b.startswith(b'{"resps"'):
            rests.append(b)
        return orjson.loads(b)

    with monkeypatch.context() as m:
        m.setattr(samples, "_PREFIX_MEMO", memo)
        m.setattr(samples, "_fast_loads", loads)
        m.setattr(samples, "_PREFIXES", {})
        refs = samples.write_shared_docs("t", samples.SampleJob("ref", "t", metric, "none", str(ref), None),
                                         str(tmp_path / f"{name}_docs.js"))
        job = samples.SampleJob("sys", "t", metric, "none", str(path), str(tmp_path / f"{name}.js"), cluster_field="cat")
        d = samples.read_samples(job, None, refs)
    result = (repr(d.doc_ids.tolist()), repr(d.items if isinstance(d.items, list) else d.items.tolist()), d.numeric,
              None if d.parse_fail is None else repr(d.parse_fail.tolist()), repr(None if d.scores is None else d.scores.tolist()),
              d.n_docs_in_file, d.warnings, d.error, d.clusters, d.n_nan, d.key_source)
    return result, (tmp_path / f"{name}.js").read_bytes(), len(rests), (tmp_path / f"{name}_docs.js").read_bytes()


def test_beginnings_kept_only_where_they_are_the_leading_members(monkeypatch):
    rows = _ref_rows(12)
    rows[5]["doc"]["n"] = 2**54  # past 53 bits: the strict check refuses the whole line, so its beginning too
    rows[6] = {"doc_id": 6, "resps": [["o"]], "target": "after", "arguments": {}}  # nothing before "resps" but doc_id
    rows[7] = dict(_line(7), acc=1.0, doc={"later": 1})  # a repeated key after "resps": its value differs
    raw = json.dumps(rows[7]).encode()[:-1] + b', "doc": {"later": 2}}'
    monkeypatch.setattr(samples, "_PREFIXES", {})
    kept = {}
    for i, b in enumerate(_bytes(rows[:7]) + [raw] + _bytes(rows[8:])):
        cut = b.find(samples._PREFIX_SEP)
        obj = json.loads(b)
        kept[i] = samples._remember_prefix(b, cut, obj) if cut > 0 and i != 5 else None
    assert kept[3] is None  # "resps" first found inside doc: its beginning does not parse
    assert kept[5] is None and kept[7] is None
    assert kept[6] is not None and not kept[6].fixed  # target and arguments after "resps": made per line
    for i in (0, 1, 2, 4, 8, 9):
        pre = kept[i]
        assert list(pre.members) == ["doc_id", "doc", "target", "arguments"] and pre.fixed
        assert pre.members == {k: rows[i][k] for k in pre.members}
    assert len(_held()) == 9  # 12 lines, 3 not kept


@pytest.mark.parametrize("metric", ["acc", "span_f1", "doc"])
def test_memo_reads_what_a_whole_parse_reads(tmp_path, monkeypatch, metric):
    rows = _ref_rows(60)
    ref, path = _files(tmp_path, rows, _system_lines(rows), metric)
    got = _read(tmp_path, ref, path, metric, "on", monkeypatch, True)
    want = _read(tmp_path, ref, path, metric, "off", monkeypatch, False)
    assert got[:2] == want[:2] and got[3] == want[3]
    assert want[2] == 0 and got[2] > 35  # most lines were read by their rest alone
    res = got[0]
    assert res[7] is None and any("malformed" in w for w in res[6]) and any("not valid UTF-8" in w for w in res[6])
    # the reference file itself, read with the beginnings of its own lines
    assert (_read(tmp_path, ref, ref, metric, "ron", monkeypatch, True)[:2]
            == _read(tmp_path, ref, ref, metric, "roff", monkeypatch, False)[:2])


def test_viewer_parts_after_resps_are_made_per_line(tmp_path, monkeypatch):
    """Lines that write target and arguments after "resps" share their beginning (doc_id, doc) but
    not their reference or prompt: each record shows its own."""
    def line(i, sys_):
        return json.dumps({"doc_id": i, "doc": {"id": f"d{i}"}, "resps": [[f"o{sys_}"]], "filtered_resps": [f"o{sys_}"],
                           "target": f"ref {i} of {sys_}", "arguments": {"gen_args_0": {"arg_0": f"p{sys_}", "arg_1": {}}},
                           "acc": 1.0}).encode()
    ref, path = tmp_path / "r.jsonl", tmp_path / "s.jsonl"
    ref.write_bytes(b"\n".join(line(i, "a") for i in range(5)) + b"\n")
    path.write_bytes(b"\n".join(line(i, "b") for i in range(5)) + b"\n")
    got = _read(tmp_path, ref, path, "acc", "on", monkeypatch, True)
    want = _read(tmp_path, ref, path, "acc", "off", monkeypatch, False)
    assert got[:2] == want[:2] and got[2] == 5
    recs = samples.read_data_file(tmp_path / "on.js")["samples"]
    assert [r["t"] for r in recs] == [f"ref {i} of b" for i in range(5)] and {r["p"] for r in recs} == {"pb"}


def test_mutated_lines_read_as_whole_lines(tmp_path, monkeypatch):
    """Random byte edits of the lines (most near the beginning's end): whatever each mutant is, both readings agree."""
    rng = random.Random(11)
    rows = [_line(i) for i in range(400)]
    base = _bytes(rows)
    alphabet = b'{}[]",: \\0123456789eE.-+nNaItrufls\xff\xc3\xa9\r\t'
    lines = []
    for b in base:
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
    ref, p = _files(tmp_path, rows, lines, "m")
    got = _read(tmp_path, ref, p, "acc", "mon", monkeypatch, True)
    want = _read(tmp_path, ref, p, "acc", "moff", monkeypatch, False)
    assert got[:2] == want[:2] and got[2] > 100 and want[2] == 0


def test_a_different_prompt_is_parsed_whole(tmp_path, monkeypatch):
    """A system whose prompts differ (a chat template) begins no line as the reference does: every line parsed whole."""
    rows = _ref_rows(30)
    chat = [json.dumps(dict(r, arguments={"gen_args_0": {"arg_0": f"<|user|>{r['doc_id']}", "arg_1": {}}})).encode()
            for r in rows]
    ref, p = _files(tmp_path, rows, chat, "c")
    got = _read(tmp_path, ref, p, "acc", "con", monkeypatch, True)
    want = _read(tmp_path, ref, p, "acc", "coff", monkeypatch, False)
    assert got[:2] == want[:2] and got[2] == 0
    assert samples.read_data_file(tmp_path / "con.js")["samples"][0]["p"].startswith("<|user|>")


def test_memory_of_beginnings_is_bounded(monkeypatch):
    monkeypatch.setattr(samples, "_PREFIXES", {})
    monkeypatch.setattr(samples, "_PREFIX_MAX", 3000)
    monkeypatch.setattr(samples, "_prefix_bytes", [0])
    for i in range(100):
        b = json.dumps(_line(i)).encode()
        samples._remember_prefix(b, b.find(samples._PREFIX_SEP), json.loads(b))
        assert samples._prefix_bytes[0] <= 3000
        assert sum(map(len, _held())) == samples._prefix_bytes[0]
    assert 0 < len(samples._PREFIXES) < 100


def test_only_the_reference_files_beginnings_are_kept(tmp_path, monkeypatch):
    """A system's own beginnings are not kept: where they never repeat (a chat template per model)
    keeping them cost ~2.7x the parsing. Its lines that begin as the reference's are still read by their rest."""
    rows = _ref_rows(30)
    chat = [json.dumps(dict(r, arguments={"gen_args_0": {"arg_0": f"<|user|>{r['doc_id']}", "arg_1": {}}})).encode()
            for r in rows]
    ref, p = _files(tmp_path, rows, chat[:15] + _bytes(rows)[15:], "k")
    monkeypatch.setattr(samples, "_PREFIXES", {})
    assert [pre is None for _, _, pre in samples._lines(str(p), samples._LineLog(), task="t")] == [True] * 30
    assert _held() == []
    kept = [pre is not None for _, _, pre in samples._lines(str(ref), samples._LineLog(), remember=True, task="t")]
    assert sum(kept) == 29 and not kept[3]  # all but the one whose "resps" is first found inside its doc
    n = len(_held())
    got = [pre is not None for _, _, pre in samples._lines(str(p), samples._LineLog(), task="t")]
    assert got == [False] * 15 + kept[15:] and len(_held()) == n
    # another task's files do not look there
    assert [pre for _, _, pre in samples._lines(str(p), samples._LineLog(), task="other")] == [None] * 30


def test_a_file_whose_first_lines_miss_is_not_looked_up_further(tmp_path, monkeypatch):
    """MEMO_TRIES lines without a hit: the rest of the file is parsed whole (a file's prompts are all
    templated alike), and read the same; one hit before that keeps the file looked up to its end."""
    monkeypatch.setattr(samples, "MEMO_TRIES", 5)
    rows = _ref_rows(30)
    chat = [json.dumps(dict(r, arguments={"gen_args_0": {"arg_0": f"<|user|>{r['doc_id']}", "arg_1": {}}})).encode()
            for r in rows]
    plain = _bytes(rows)
    for name, lines, want in (("late", chat[:6] + plain[6:], [False] * 30),
                              ("early", chat[:4] + plain[4:5] + chat[5:12] + plain[12:], [False] * 4 + [True] + [False] * 7 + [True] * 18)):
        ref, p = _files(tmp_path, rows, lines, name)
        got = _read(tmp_path, ref, p, "acc", name + "on", monkeypatch, True)
        assert got[:2] == _read(tmp_path, ref, p, "acc", name + "off", monkeypatch, False)[:2]
        assert got[2] == sum(want)
