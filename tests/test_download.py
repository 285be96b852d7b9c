"""`ecomsuite data download` against a local HTTP server serving tiny hand-made files in the publishers'
formats (pinned checksums monkeypatched to theirs): download + readers, checksum refusal, resume after
a cut connection, offline message, idempotent rerun, the default location. The same against a Hub-hosted
mirror (``--mirror hf://datasets/<owner>/<repo>``) served by the local fake Hub in tests/fakehub.py, plus a
private repository's token (sent to the endpoint only, never printed) and a CDN redirect."""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fakehub import serve_bytes

from ecomsuite.data import SAMPLE_DIR, DataError, load_family, resolve_data_dir
from ecomsuite.data import download as dl

QUERIES = {101: "wool hiking socks", 102: "red  dress ", 103: "usb c cable 2m", 104: "oak desk"}
PRODUCTS = [f"B0{i:08d}" for i in range(8)]


def _parquet(df) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def publisher_files() -> dict[str, bytes]:
    """url path (= mirror layout /<owner>/<repo>/<path>) -> bytes, in each publisher's format."""
    import pandas as pd

    examples = pd.DataFrame({
        "example_id": list(QUERIES), "query": list(QUERIES.values()), "query_id": [1, 2, 3, 4],
        "product_id": PRODUCTS[:4], "product_locale": ["us"] * 4, "esci_label": ["E", "S", "C", "I"],
        "small_version": [1, 0, 1, 0], "large_version": [1] * 4, "split": ["train", "train", "test", "test"]})
    products = pd.DataFrame({
        "product_id": PRODUCTS, "product_title": [f"Product {i}" for i in range(8)],
        "product_description": [f"<p>Describes <b>product</b> {i}.</p>" for i in range(8)],
        "product_bullet_point": ["bullet"] * 8, "product_brand": ["Acme"] * 8, "product_color": [None] * 8,
        "product_locale": ["us"] * 8})
    offsets = {
        "train": [(101, ["B-material", "B-occasion", "B-core_product_type"]), (102, ["B-color", "B-core_product_type"])],
        "dev": [(103, ["B-modifier", "I-modifier", "B-core_product_type", "B-UoM"])],
        "test": [(104, ["B-material", "B-core_product_type"])],
    }
    header = "\t".join(["cat", "group_id"] + [f"rev{i}" for i in range(1, 9)] + [f"summ{i}" for i in range(1, 4)]
                       + [f"rating{i}" for i in range(1, 9)])
    files = {
        f"/amazon-science/esci-data/{dl.ESCI_EXAMPLES.path}": _parquet(examples),
        f"/amazon-science/esci-data/{dl.ESCI_PRODUCTS.path}": _parquet(products),
    }
    for split, rows in offsets.items():
        files[f"/bltlab/query-ner/offset-splits/{split}.jsonl"] = "".join(
            json.dumps({"example_id": e, "labels": labels}) + "\n" for e, labels in rows).encode()
    for split in ("train", "val", "test"):
        row = "\t".join(["shoes", f"G-{split}"] + [f"review {i} of {split}" for i in range(1, 9)]
                        + [f"summary {i}" for i in range(1, 4)] + ["5"] * 8)
        files[f"/abrazinskas/FewSum/artifacts/amazon/gold_summs/{split}.csv"] = f"{header}\n{row}\n".encode()
    for split in ("train", "test"):
        rec = {"input": f"Acme Wool Socks {split}", "category": "Socks",
               "target_scores": {"Brand Name": {"Acme": 1}, "Material": {"n/a": 1}}}
        files[f"/wbsg-uni-mannheim/ExtractGPT/data/processed_datasets/ae-110k/{split}.jsonl"] = \
            (json.dumps(rec) + "\n").encode()
    return files


class _Handler(BaseHTTPRequestHandler):
    """A static mirror: ``server.files`` by path; Range and a connection cut mid-file (``server.cut_once``,
    the first time only) as tests/fakehub.py serves them."""

    def do_GET(self):
        srv = self.server
        srv.log.append((self.path, self.headers.get("Range")))
        body = srv.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        serve_bytes(self, body, self.path, {})

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.files, srv.log, srv.cut_once = publisher_files(), [], set()
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def pinned(server, monkeypatch):
    """Pin every source to the served file's sha256 and size (the real table pins the publishers' files)."""
    def pin(src: dl.Source) -> dl.Source:
        body = server.files[f"/{src.repo}/{src.path}"]
        return dataclasses.replace(src, sha256=hashlib.sha256(body).hexdigest(), size=len(body))

    table = {n: dataclasses.replace(d, sources=tuple(pin(s) for s in d.sources)) for n, d in dl.DATASETS.items()}
    monkeypatch.setattr(dl, "DATASETS", table)
    return table


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("ECOMSUITE_DATA", raising=False)
    monkeypatch.delenv(dl.MIRROR_ENV, raising=False)
    return tmp_path / "cache" / "ecomsuite" / "data"


def run(to, mirror, tasks=None):
    lines: list[str] = []
    rc = dl.download(Path(to), dl.select(tasks), mirror, out=lines.append, timeout=5)
    return rc, lines


# ------------------------------------------------------------------------------------------ tests
def test_download_then_every_reader_loads(server, pinned, tmp_path):
    rc, lines = run(tmp_path / "d", server.url)
    assert rc == 0, lines
    root = tmp_path / "d"
    for ds in pinned.values():
        assert any(f"{ds.name}: licence {ds.licence}" in line for line in lines)
        for rel in ds.outputs:
            assert (root / rel).is_file(), rel
    assert not list(root.rglob("*.part"))
    esci = load_family("esci", root)
    assert sorted(" ".join(d["query"].split()) for d in esci.splits["train"]) == ["red dress", "wool hiking socks"]
    ner = load_family("queryner", root)
    assert ner.splits["dev"][0]["tokens"] == ["usb", "c", "cable", "2m"]
    assert sorted((d["tokens"], d["tags"]) for d in ner.splits["train"]) == [
        (["red", "dress"], ["B-color", "B-core_product_type"]),
        (["wool", "hiking", "socks"], ["B-material", "B-occasion", "B-core_product_type"])]
    assert len(load_family("review_summ", root).splits["validation"]) == 1
    assert load_family("attr_extract", root).splits["test"][0]["title"] == "Acme Wool Socks test"
    assert sum(map(len, load_family("desc_gen", root).splits.values())) == 8
    manifest = json.loads((root / dl.MANIFEST).read_text())
    assert manifest["files"]["fewsum_amazon/val.csv"]["url"].startswith(server.url + "/abrazinskas/FewSum/")
    assert manifest["files"]["fewsum_amazon/val.csv"]["licence"] == "MIT"
    assert set(manifest["derived"]) == {"queryner/train.txt", "queryner/dev.txt", "queryner/test.txt"}


def test_download_leaves_data_info_summarised(server, pinned, tmp_path, monkeypatch):
    """The full ESCI pair's first `data info` takes ~17 s; the download computes it while the user waits anyway,
    so the first `data info` after it reads the cache (and gives the same table)."""
    import dataclasses

    from ecomsuite import data
    from ecomsuite.data import cache

    monkeypatch.setattr(cache, "MIN_BYTES", 0)       # the test's files are tiny; the real ones are cached
    rc, lines = run(tmp_path / "d", server.url, ["esci"])
    assert rc == 0, lines
    assert any("summarising for `ecomsuite data info`" in x for x in lines), lines
    table = data.info_table(str(tmp_path / "d"))

    def not_again(*a, **k):
        raise AssertionError("summarised again: the download left no cache entry")
    for fam in ("esci", "desc_gen"):
        assert data.READERS[fam].summary is not None
        monkeypatch.setitem(data.READERS, fam, dataclasses.replace(data.READERS[fam], summary=not_again))
    assert data.info_table(str(tmp_path / "d")) == table


def test_rerun_downloads_nothing(server, pinned, tmp_path):
    assert run(tmp_path, server.url)[0] == 0
    n = len(server.log)
    rc, lines = run(tmp_path, server.url)
    assert rc == 0 and len(server.log) == n
    assert sum("already verified, nothing downloaded" in line for line in lines) == 4


def test_a_foreign_file_in_place_is_replaced_and_said(server, pinned, tmp_path):
    (tmp_path / "ae110k").mkdir()
    (tmp_path / "ae110k" / "test.jsonl").write_text("not the publisher's file\n")
    rc, lines = run(tmp_path, server.url, ["ae110k"])
    assert rc == 0 and f"ae110k: replaced {tmp_path / 'ae110k' / 'test.jsonl'} (its checksum was not the pinned one)" in lines
    assert dl.sha256_file(tmp_path / "ae110k" / "test.jsonl") == pinned["ae110k"].sources[1].sha256


def test_checksum_mismatch_is_refused_and_removed(server, pinned, tmp_path, monkeypatch):
    bad = dataclasses.replace(pinned["ae110k"].sources[0], sha256="0" * 64)
    monkeypatch.setitem(dl.DATASETS, "ae110k",
                        dataclasses.replace(pinned["ae110k"], sources=(bad,) + pinned["ae110k"].sources[1:]))
    rc, lines = run(tmp_path, server.url, ["attr_extract"])
    assert rc == 2
    [line] = [x for x in lines if "checksum mismatch" in x]
    assert line.startswith("ae110k: ae110k/train.jsonl: checksum mismatch, refused and removed") and server.url in line
    assert not (tmp_path / "ae110k" / "train.jsonl").exists()
    assert not (tmp_path / "ae110k" / "train.jsonl.part").exists()


def test_resume_after_cut_connection(server, pinned, tmp_path):
    path = f"/amazon-science/esci-data/{dl.ESCI_PRODUCTS.path}"
    server.cut_once.add(path)
    rc, lines = run(tmp_path, server.url, ["esci"])
    assert rc == 0, lines
    asked = [rng for p, rng in server.log if p == path]
    half = len(server.files[path]) // 2
    assert asked == [None, f"bytes={half}-"]
    assert (tmp_path / dl.ESCI_PRODUCTS.dest).read_bytes() == server.files[path]


def test_rerun_resumes_a_leftover_part(server, pinned, tmp_path):
    path = "/abrazinskas/FewSum/artifacts/amazon/gold_summs/val.csv"
    body = server.files[path]
    (tmp_path / "fewsum_amazon").mkdir()
    (tmp_path / "fewsum_amazon" / "val.csv.part").write_bytes(body[:10])
    assert run(tmp_path, server.url, ["review_summ"])[0] == 0
    assert [rng for p, rng in server.log if p == path] == ["bytes=10-"]
    assert (tmp_path / "fewsum_amazon" / "val.csv").read_bytes() == body


def test_partial_selection_names_what_is_missing(server, pinned, tmp_path):
    rc, lines = run(tmp_path, server.url, ["review_summ", "ae110k"])
    assert rc == 0
    assert any(x.startswith(f"note: {tmp_path} has no esci, queryner yet") and
               x.endswith(f"ecomsuite data download --tasks esci queryner --to {tmp_path}") for x in lines)


def test_cut_every_time_keeps_part_and_says_so(server, pinned, tmp_path, monkeypatch):
    monkeypatch.setattr(dl, "_transfer", lambda url, part, size, timeout, label, auth: part.write_bytes(b"x"))
    rc, lines = run(tmp_path, server.url, ["ae110k"])
    assert rc == 2
    assert any("connection cut at 1 of" in x and "rerun resumes it" in x for x in lines)
    assert not (tmp_path / "ae110k" / "train.jsonl").exists()


def _refused_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()                                   # nothing listens there: connection refused
    return f"http://127.0.0.1:{port}"


def test_offline_one_line_per_dataset_and_exit_2(pinned, tmp_path, monkeypatch, capsys):
    from ecomsuite.cli import main

    url = _refused_url()
    monkeypatch.setenv(dl.MIRROR_ENV, url)     # the environment variable is the --mirror default
    assert main(["data", "download", "--to", str(tmp_path)]) == 2
    failures = [x for x in capsys.readouterr().out.splitlines() if "cannot download" in x]
    assert [x.split(":")[0] for x in failures] == ["esci", "queryner", "fewsum_amazon", "ae110k"]
    for x, ds in zip(failures, pinned.values()):
        assert f"cannot download {ds.sources[0].url(url)} (" in x and "Connection" in x
        assert "; manual: git clone https://github.com/" in x
    assert not dl.holds_data(tmp_path) and not list(tmp_path.rglob("*.part"))


def test_missing_file_on_mirror_names_it(server, pinned, tmp_path):
    del server.files["/wbsg-uni-mannheim/ExtractGPT/data/processed_datasets/ae-110k/test.jsonl"]
    rc, lines = run(tmp_path, server.url, ["ecom_attr_extract"])
    assert rc == 2
    assert any("ae-110k/test.jsonl (HTTP 404" in x for x in lines)


def test_default_location_is_found(server, pinned, cache, tmp_path, monkeypatch):
    assert resolve_data_dir() == (SAMPLE_DIR, "sample")
    from ecomsuite.cli import main

    assert main(["data", "download", "--tasks", "review_summ", "--mirror", server.url]) == 0
    assert resolve_data_dir() == (cache.resolve(), str(cache.resolve()))
    assert load_family("review_summ").source == str(cache.resolve())
    # --data-dir and $ECOMSUITE_DATA still come first
    assert resolve_data_dir(tmp_path)[0] == tmp_path.resolve()
    monkeypatch.setenv("ECOMSUITE_DATA", str(tmp_path))
    assert resolve_data_dir()[0] == tmp_path.resolve()


def test_partial_download_does_not_count_as_data(cache):
    (cache / "esci").mkdir(parents=True)
    (cache / "esci" / "shopping_queries_dataset_examples.parquet.part").write_bytes(b"half")
    assert resolve_data_dir()[1] == "sample"


# ------------------------------------------------------- a Hub-hosted mirror (hf://), against a fake Hub
MIRROR_REPO = "acme/ecom-mirror"


@pytest.fixture
def hub(server, monkeypatch):
    """tests/fakehub.py at $HF_ENDPOINT, with the dataset repository acme/ecom-mirror holding the publishers'
    files (the ones ``server`` serves and ``pinned`` pins) in the mirror layout <owner>/<repo>/<path>."""
    import fakehub

    fake = fakehub.start()
    fake.add_repo(MIRROR_REPO, {path.lstrip("/"): body for path, body in server.files.items()})
    monkeypatch.setenv("HF_ENDPOINT", fake.url)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv(dl.MIRROR_ENV, raising=False)
    yield fake
    fakehub.stop(fake)


def _resolve(hub, src: dl.Source, rev: str = "main") -> str:
    return hub.resolve_path(MIRROR_REPO, f"{src.repo}/{src.path}", rev)


def test_hub_mirror_download_then_readers_load(hub, pinned, tmp_path):
    rc, lines = run(tmp_path, f"hf://datasets/{MIRROR_REPO}")
    assert rc == 0, lines
    for ds in pinned.values():
        assert all((tmp_path / rel).is_file() for rel in ds.outputs)
    assert load_family("attr_extract", tmp_path).splits["test"][0]["title"] == "Acme Wool Socks test"
    assert len(load_family("queryner", tmp_path).splits["train"]) == 2
    val = pinned["fewsum_amazon"].sources[1]
    files = json.loads((tmp_path / dl.MANIFEST).read_text())["files"]
    assert files[val.dest]["url"] == hub.url + _resolve(hub, val)
    assert files[val.dest]["sha256"] == val.sha256
    fetched = {s for ds in pinned.values() for s in ds.sources}
    assert sorted(hub.requests()) == sorted(f"GET {_resolve(hub, s)}" for s in fetched)   # no API calls


def test_hub_mirror_at_a_revision(hub, pinned, tmp_path):
    sha = hub.repos[MIRROR_REPO].sha
    assert run(tmp_path, f"hf://datasets/{MIRROR_REPO}@{sha}", ["review_summ"])[0] == 0
    assert hub.requests() == [f"GET {_resolve(hub, s, sha)}" for s in pinned["fewsum_amazon"].sources]
    rc, lines = run(tmp_path / "other", f"hf://datasets/{MIRROR_REPO}@v9", ["review_summ"])
    assert rc == 2 and any("/resolve/v9/abrazinskas/FewSum/" in x and "(HTTP 404" in x for x in lines)


def test_hub_mirror_rerun_downloads_nothing(hub, pinned, tmp_path):
    assert run(tmp_path, f"hf://datasets/{MIRROR_REPO}")[0] == 0
    n = len(hub.log)
    rc, lines = run(tmp_path, f"hf://datasets/{MIRROR_REPO}")
    assert rc == 0 and len(hub.log) == n
    assert sum("already verified, nothing downloaded" in line for line in lines) == len(pinned)


def test_hub_mirror_is_not_trusted_checksum_mismatch_refused_and_removed(hub, pinned, tmp_path):
    src = pinned["ae110k"].sources[0]
    files = hub.repos[MIRROR_REPO].files
    files[f"{src.repo}/{src.path}"] = files[f"{src.repo}/{src.path}"].replace(b"Acme", b"Acne")   # same size
    rc, lines = run(tmp_path, f"hf://datasets/{MIRROR_REPO}", ["ae110k"])
    assert rc == 2
    [line] = [x for x in lines if "checksum mismatch" in x]
    assert line.startswith(f"ae110k: {src.dest}: checksum mismatch, refused and removed")
    assert line.endswith(f"from {hub.url}{_resolve(hub, src)}")
    assert not (tmp_path / src.dest).exists() and not list(tmp_path.rglob("*.part"))


def test_hub_mirror_resumes_a_cut_connection_through_a_cdn_redirect(hub, pinned, tmp_path):
    """The Hub answers /resolve/ for a large file with a redirect to a CDN; the CDN cuts the connection
    after half of the file; the next request (to /resolve/ again) asks for the rest with Range."""
    src = dl.ESCI_PRODUCTS
    body = hub.repos[MIRROR_REPO].files[f"{src.repo}/{src.path}"]
    cdn = hub.cdn_url(body)
    hub.redirect[_resolve(hub, src)] = cdn
    hub.cut_once.add(cdn.split(str(hub.server_address[1]), 1)[1])
    rc, lines = run(tmp_path, f"hf://datasets/{MIRROR_REPO}", ["esci"])
    assert rc == 0, lines
    asked = [(m, p.split("/")[1], rng) for m, p, rng, _auth in hub.log if "/cdn/" in p or p == _resolve(hub, src)]
    half = len(body) // 2
    assert asked == [("GET", "datasets", None), ("GET", "cdn", None),
                     ("GET", "datasets", f"bytes={half}-"), ("GET", "cdn", f"bytes={half}-")]
    assert (tmp_path / src.dest).read_bytes() == body


def test_hub_mirror_private_repo_token_to_the_endpoint_only_never_printed(hub, pinned, tmp_path, monkeypatch):
    token = "hf_fake_secret_for_tests"
    repo = hub.add_repo(MIRROR_REPO, hub.repos[MIRROR_REPO].files, token=token)
    rc, lines = run(tmp_path, f"hf://datasets/{MIRROR_REPO}", ["ae110k"])
    assert rc == 2
    assert any("(HTTP 401 Unauthorized; a private Hub repository needs $HF_TOKEN); manual: git clone" in x
               for x in lines), lines
    src = pinned["ae110k"].sources[0]
    hub.redirect[_resolve(hub, src)] = hub.cdn_url(repo.files[f"{src.repo}/{src.path}"])   # another host
    monkeypatch.setenv("HF_TOKEN", token)
    hub.log.clear()
    rc, lines = run(tmp_path, f"hf://datasets/{MIRROR_REPO}", ["ae110k"])
    assert rc == 0, lines
    assert not any(token in x for x in lines)
    sent = {p.split("/")[1]: auth for _m, p, _rng, auth in hub.log}
    assert sent == {"datasets": f"Bearer {token}", "cdn": None}


def test_hub_mirror_uses_the_token_hf_auth_login_saved(hub, pinned, tmp_path, monkeypatch):
    import huggingface_hub.constants as hfc

    token = "hf_fake_saved_token"
    hub.add_repo(MIRROR_REPO, hub.repos[MIRROR_REPO].files, token=token)
    saved = tmp_path / "hf-token"
    saved.write_text(token + "\n")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(hfc, "HF_TOKEN_PATH", str(saved))
    rc, lines = run(tmp_path / "data", f"hf://datasets/{MIRROR_REPO}", ["ae110k"])
    assert rc == 0, lines
    assert {auth for _m, _p, _rng, auth in hub.log} == {f"Bearer {token}"}
    assert not any(token in x for x in lines)


def test_hub_mirror_offline_one_line_per_dataset_and_exit_2(pinned, tmp_path, monkeypatch, capsys):
    from ecomsuite.cli import main

    endpoint = _refused_url()
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setenv(dl.MIRROR_ENV, f"hf://datasets/{MIRROR_REPO}")
    assert main(["data", "download", "--to", str(tmp_path)]) == 2
    failures = [x for x in capsys.readouterr().out.splitlines() if "cannot download" in x]
    assert [x.split(":")[0] for x in failures] == list(pinned)
    for x, ds in zip(failures, pinned.values()):
        src = ds.sources[0]
        assert f"cannot download {endpoint}/datasets/{MIRROR_REPO}/resolve/main/{src.repo}/{src.path} (" in x
        assert "Connection" in x and "; manual: git clone https://github.com/" in x
    assert not dl.holds_data(tmp_path) and not list(tmp_path.rglob("*.part"))


@pytest.mark.parametrize("mirror,endpoint,base", [
    ("hf://datasets/acme/m", None, "https://huggingface.co/datasets/acme/m/resolve/main"),
    ("hf://datasets/acme/m/", "https://hub.internal/", "https://hub.internal/datasets/acme/m/resolve/main"),
    ("hf://datasets/acme/m@refs/convert/parquet", "http://h",
     "http://h/datasets/acme/m/resolve/refs%2Fconvert%2Fparquet"),
    ("https://mirror.internal/ecom/", "http://ignored", "https://mirror.internal/ecom"),
])
def test_mirror_forms(mirror, endpoint, base, monkeypatch):
    if endpoint:
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
    else:
        monkeypatch.delenv("HF_ENDPOINT", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    m = dl.parse_mirror(mirror)
    assert (m.base, m.hub, m.auth) == (base, mirror.startswith("hf://"), None)


@pytest.mark.parametrize("mirror", ["hf://models/acme/m", "hf://datasets/acme", "hf://datasets/a/b/c"])
def test_bad_hub_mirror_is_one_line(mirror, tmp_path, capsys):
    from ecomsuite.cli import main

    with pytest.raises(dl.EcomError, match=re.escape(f"--mirror {mirror!r}: a Hub mirror is hf://datasets/")):
        dl.parse_mirror(mirror)
    assert main(["data", "download", "--to", str(tmp_path), "--mirror", mirror]) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and "a Hub mirror is hf://datasets/<owner>/<repo>[@<revision>]" in err


# ------------------------------------------------------------------------ pure parts and the table
def test_queryner_conll_matches_the_publishers_assembly():
    lines = ['{"example_id": 7, "labels": ["B-color", "B-core_product_type"]}', "",
             '{"example_id": 9, "labels": ["B-core_product_type"]}']
    text = dl.queryner_conll(lines, {7: " red  dress\t", 9: "socks"}, "x.jsonl")
    assert text == "red\tB-color\ndress\tB-core_product_type\n\nsocks\tB-core_product_type\n\n"


@pytest.mark.parametrize("line,queries,msg", [
    ('{"example_id": 8, "labels": ["O"]}', {7: "a"}, "x.jsonl: line 1: example_id 8 is not in the ESCI"),
    ('{"example_id": 7, "labels": ["O", "O"]}', {7: "a"}, "x.jsonl: line 1: example_id 7 has 2 labels but"),
    ('{"id": 7}', {7: "a"}, "x.jsonl: line 1: expected"),
])
def test_queryner_conll_bad_input_names_the_line(line, queries, msg):
    with pytest.raises(DataError, match=re.escape(msg)):
        dl.queryner_conll([line], queries, "x.jsonl")


def test_esci_queries_reads_only_the_wanted_ids(tmp_path):
    p = tmp_path / "ex.parquet"
    p.write_bytes(publisher_files()[f"/amazon-science/esci-data/{dl.ESCI_EXAMPLES.path}"])
    assert dl.esci_queries(p, {101, 104, 999}) == {101: "wool hiking socks", 104: "oak desk"}


def test_urls_are_pinned_to_commits_and_mirror_layout():
    assert dl.ESCI_PRODUCTS.url() == ("https://media.githubusercontent.com/media/amazon-science/esci-data/"
                                      f"{dl.ESCI_COMMIT}/shopping_queries_dataset/"
                                      "shopping_queries_dataset_products.parquet")
    src = dl.DATASETS["fewsum_amazon"].sources[1]
    assert src.url() == (f"https://raw.githubusercontent.com/abrazinskas/FewSum/{dl.FEWSUM_COMMIT}/"
                         "artifacts/amazon/gold_summs/val.csv")
    assert src.url("http://m/x/") == "http://m/x/abrazinskas/FewSum/artifacts/amazon/gold_summs/val.csv"
    for ds in dl.DATASETS.values():
        assert ds.status == "pinned" and ds.licence
        for s in ds.sources:
            assert re.fullmatch(r"[0-9a-f]{64}", s.sha256) and s.size > 0 and re.fullmatch(r"[0-9a-f]{40}", s.commit)


def test_select_accepts_datasets_families_and_task_names():
    names = lambda xs: [d.name for d in dl.select(xs)]
    assert names(None) == ["esci", "queryner", "fewsum_amazon", "ae110k"]
    assert names(["ecom_desc_gen", "esci", "ecom_queryner_gen", "review_summ"]) == ["esci", "queryner", "fewsum_amazon"]
    with pytest.raises(dl.EcomError, match="unknown dataset or task 'nope'"):
        dl.select(["nope"])
