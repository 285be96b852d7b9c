"""ESCI at scale (issue 16): the Arrow reader on a 20k-row synthetic pair written by bench/bench_data.py
(the real schema, three locales, HTML in descriptions): `data info` counts without building documents,
and documents identical to the reader before it (pandas + whole-table dicts, from the git history); the
column-wise text cleaning against the row-by-row Python definition on generated adversarial text; the
documents' contract (ArrowDocs), lm-eval's table, and the data-info cache."""
import hashlib
import importlib.util
import subprocess
from pathlib import Path

import pytest

import ecomsuite.data as data
from ecomsuite.data import info_table, load_family

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_data", ROOT / "bench" / "bench_data.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    return _bench().write_synthetic(tmp_path_factory.mktemp("esci20k"), 20_000, 4_000)


@pytest.fixture(scope="module")
def legacy():
    bench = _bench()
    have = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{bench.LEGACY_REV}^{{commit}}"],
                          capture_output=True).returncode == 0
    if not have:   # a shallow clone: said, not silent
        pytest.skip(f"old reader's commit {bench.LEGACY_REV[:10]} not in this clone's history")
    return bench.legacy_data_module()


@pytest.mark.parametrize("family,locale", [("esci", "us"), ("esci", "all"), ("esci", "jp"), ("desc_gen", "us")])
def test_documents_identical_to_the_old_reader(pair, legacy, family, locale):
    new, old = load_family(family, pair, locale=locale), legacy.load_family(family, pair, locale=locale)
    assert new.splits.keys() == old.splits.keys() and new.skipped == old.skipped
    for split in new.splits:
        assert len(new.splits[split]) > 100
        assert new.splits[split] == old.splits[split], (family, locale, split)
        assert [list(d) for d in new.splits[split][:5]] == [list(d) for d in old.splits[split][:5]]  # field order
    assert new.files == old.files and new.fingerprint() == old.fingerprint()


def test_info_counts_esci_without_building_documents(pair, monkeypatch):
    docs = {s: d for s, d in load_family("esci", pair).splits.items()}
    dg = load_family("desc_gen", pair)

    order_docs = data.order_docs

    def no_esci_docs(docs):
        assert not any("query_id" in d for d in docs), "data info built ESCI documents"
        return order_docs(docs)

    monkeypatch.setattr(data, "order_docs", no_esci_docs)
    monkeypatch.setattr(data, "_esci_product_fields", lambda *a: pytest.fail("data info read product text"))
    out = info_table(str(pair))
    for split, d in docs.items():
        line = next(ln for ln in out.splitlines() if ln.startswith("esci ") and f" {split} " in ln)
        assert f" {len(d)} " in line and data.label_distribution("esci", d) in line
    for split, d in dg.splits.items():
        line = next(ln for ln in out.splitlines() if ln.startswith("desc_gen ") and f" {split} " in ln)
        assert f" {len(d)} " in line and data.label_distribution("desc_gen", d) in line


def test_info_same_as_the_old_info(pair, legacy):
    assert info_table(str(pair)) == legacy.info_table(str(pair))
    assert info_table(str(pair), locale="es") == legacy.info_table(str(pair), locale="es")


# ------------------------------------------------ the column-wise readers vs the row-by-row Python path
# The Python functions (_text, strip_html, normalise_text, desc_gen_skip_reason, desc_gen_split) are the
# definition; ecomsuite.data.arrowtext computes the same column-wise. Generated text aims at every place
# the two could part: markup the fast path or the parser takes, entities (decoded twice), Unicode
# whitespace, characters whose lowercase differs between Python and Arrow (İ, Σ at a word's end, newer
# Unicode letters), and every reason a product is left out.
PIECES = ["<p>", "</p>", "<br>", "<br/>", "<BR />", "<b>", "</b>", "<li>", "</LI>", "<div class=x>", "&amp;", "&lt;",
          "&amp;lt;", "&nbsp;", "&#39;", "&#34;", "&quot;", "&apos;", "&gt;", "&bogus;", "&amp", "&", "& ", "&amp;copy",
          "&am<b>p;", "&#", "&#x27;", " ", "  ", "\n", "\t", "\r", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u3000",
          "\xa0", "word", "Word", "WORDS", "x>y", "a < b", "<", ">", "<!-- c -->", "<script>var a='<p>';</script>",
          "<style>p{}</style>", "<SCRIPT>", "<a href='u'>", "<img src=x.png/>", "</>", "<1>", "<?x?>", "<p", "<Pre>",
          "<p2>", "<p\xa0x>", "<a b = c>", "<p a=b/>", "</p x>", "<p\x0bq>", "</ p>", "<h1>", "<table>", "é", "İ",
          "Σ", "ΑΣ", "ΟΔΟΣ", "ǅ", "ẞ", "ſ", "K", "\ua7cb", "\U00010d50", "ﬀ", ";", "#"]


def _text_like(rng, n_max=14):
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, n_max)))


def test_arrowtext_equals_the_python_functions_value_for_value():
    import random
    import sys

    import pyarrow as pa

    from ecomsuite.data import _text, arrowtext, normalise_text, strip_html

    rng = random.Random(1)
    texts = [_text_like(rng) for _ in range(6000)] + [None, "", " ", "\u3000"]
    col = pa.array(texts, pa.large_string())
    stripped = [_text(v) for v in texts]
    assert arrowtext.strip(col).to_pylist() == stripped
    assert arrowtext.strip_html(arrowtext.strip(col)).to_pylist() == [strip_html(v) for v in stripped]
    assert arrowtext.normalise(arrowtext.strip(col)).to_pylist() == [normalise_text(v) for v in stripped]
    cleaned = [strip_html(v) for v in stripped]
    assert arrowtext.word_counts(pa.array(cleaned, pa.large_string())).tolist() == [len(v.split()) for v in cleaned]
    assert arrowtext.sha256_each(pa.array(cleaned)) == [hashlib.sha256(v.encode()).digest() for v in cleaned]
    # lowercase: Arrow's ASCII lowercase except where a character beyond ASCII has a lowercase of its own; every
    # code point, one a value between cased ASCII letters (a final sigma's context included)
    each = [f"A{chr(c)}b" for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF] + ["xΣ", "Σ.", "AΣ b"]
    assert arrowtext.lower(pa.array(each, pa.large_string())).to_pylist() == [v.lower() for v in each]
    # what lets the description's normalised form be its lowercase (no second collapse): lowercasing never
    # turns a character into whitespace or whitespace into something else
    assert not [c for c in map(chr, range(sys.maxunicode + 1))
                if any(x.isspace() for x in c.lower()) != c.isspace() and not 0xD800 <= ord(c) <= 0xDFFF]


def test_arrowtext_strip_html_takes_text_as_read_and_bare_ampersands():
    """``strip_html`` on a column as read (nulls, whitespace at either end: ``_text`` first), and the '&'s that
    html.unescape leaves as they are (Arrow keeps them) next to those it could read as a reference (Python)."""
    import random

    import pyarrow as pa

    from ecomsuite.data import _text, arrowtext, strip_html

    amps = ["Black & White", "AT&T", "x &", "& y", "&\r", "&\x0b", "&\t", "&;", "&&amp;", "&&lt;x", "&#", "&#39",
            "&<p>lt;", "&<b>lt;", "&<br>amp;", "a &amp; b", "&notice", "&not", "&amp", "& <b>x</b>", "&\xa0y",
            "&<p>", "<p>&</p>", "&\n<p>x", "Tools &amp; Home & Garden", "&copy 2020", "&Option"]
    rng = random.Random(7)
    texts = amps + [" \t" + a + "\u3000 " for a in amps] + [None, "", "  ", "\u3000<p> </p>"]
    texts += ["".join(rng.choice(amps + PIECES) for _ in range(rng.randint(1, 6))) for _ in range(3000)]
    col = pa.array(texts, pa.large_string())
    want = [None if v is None else strip_html(_text(v)) for v in texts]
    assert arrowtext.strip_html(col).to_pylist() == want
    assert arrowtext.strip_html(arrowtext.strip(col, nulls=True)).to_pylist() == want
    assert arrowtext.lower(col).to_pylist() == [None if v is None else v.lower() for v in texts]


def test_arrowtext_word_counts_across_its_pieces():
    """Word counts are taken 1 MiB at a time: values that cross a piece's end, and slices of a column."""
    import random

    import pyarrow as pa

    from ecomsuite.data import arrowtext

    rng = random.Random(5)
    texts = [" ".join("w" * rng.randint(1, 12) for _ in range(rng.choice([0, 1, 2, 50, 3000])))
             for _ in range(1500)]
    col = pa.array(texts, pa.large_string())
    assert sum(map(len, texts)) > 3 << 20
    for part in (col, col.slice(1, 700), col.slice(900), col.slice(3, 0)):
        assert arrowtext.word_counts(part).tolist() == [len(v.split()) for v in part.to_pylist()]


def _write_adversarial_pair(folder: Path, n_products: int = 4800, seed: int = 3) -> Path:
    """An ESCI pair whose product text is generated markup (PIECES) and every desc_gen case: no title, a
    description that is the title or the bullet points up to case and spacing, a title longer than it,
    markup only, nulls; us/es/jp products (ids repeat across locales) and examples on them."""
    import random

    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(seed)
    rows = []
    for i in range(n_products):
        loc = ("us", "es", "jp")[i % 3]
        title, bullets, desc = _text_like(rng, 6) or "Widget", _text_like(rng, 8), _text_like(rng)
        case = i % 11
        if case == 0:
            desc = None
        elif case == 1:
            title = None
        elif case == 2:
            desc = f"<b>{title.upper()}</b>\n "
        elif case == 3:
            desc = "  " + (bullets or "x").swapcase()
        elif case == 4:
            title, desc = "A long title " * 4, "Short."
        elif case == 5:
            desc = "<p></p><br>"
        rows.append({"product_id": f"B{i // 3:05d}", "product_title": title, "product_description": desc,
                     "product_bullet_point": None if case == 6 else bullets,
                     "product_brand": None if case == 7 else f" Brand{i % 5} ", "product_color": _text_like(rng, 2),
                     "product_locale": loc})
    esci = folder / "esci"
    esci.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), esci / "shopping_queries_dataset_products.parquet",
                   row_group_size=500)   # several batches, so the column-wise reader's per-batch joins are tested
    examples = [{"example_id": k, "query": _text_like(rng, 4) or "q", "query_id": k // 7,
                 "product_id": rows[j]["product_id"], "product_locale": rows[j]["product_locale"],
                 "esci_label": rng.choice("ESCI") + rng.choice(["", " "]), "small_version": 0, "large_version": 1,
                 "split": "test" if (k // 7) % 4 == 0 else "train"}
                for k, j in enumerate(rng.randrange(n_products) for _ in range(3 * n_products))]
    pq.write_table(pa.Table.from_pylist(examples), esci / "shopping_queries_dataset_examples.parquet")
    return folder


def _row_by_row(folder: Path, family: str, locale: str):
    """What the readers gave before they went column-wise: a Python pass per row (the definition)."""
    import pyarrow.parquet as pq

    from ecomsuite.data import (
        _text,
        desc_gen_skip_reason,
        desc_gen_split,
        order_docs,
        strip_html,
    )

    products = pq.read_table(folder / "esci" / "shopping_queries_dataset_products.parquet").to_pylist()
    splits: dict = {"train": [], "test": []} if family == "desc_gen" else {}
    skipped: dict = {}
    if family == "desc_gen":
        for p in products:
            if p["product_locale"] != locale:
                continue
            title, bullets = _text(p["product_title"]), _text(p["product_bullet_point"])
            desc = strip_html(_text(p["product_description"]))
            reason = desc_gen_skip_reason(title, bullets, desc)
            if reason:
                skipped[reason] = skipped.get(reason, 0) + 1
                continue
            splits[desc_gen_split(desc)].append({
                "id": f"desc-{p['product_id']}", "product_id": p["product_id"], "title": title,
                "brand": _text(p["product_brand"]), "color": _text(p["product_color"]), "bullets": bullets,
                "description": desc})
    else:
        by_key = {(p["product_id"], p["product_locale"]): p for p in products}
        for e in pq.read_table(folder / "esci" / "shopping_queries_dataset_examples.parquet").to_pylist():
            if locale != "all" and e["product_locale"] != locale:
                continue
            p = by_key[(e["product_id"], e["product_locale"])]
            splits.setdefault(_text(e["split"]), []).append({
                "id": f"esci-{e['example_id']}", "query": _text(e["query"]), "query_id": e["query_id"],
                "product_id": e["product_id"], "locale": e["product_locale"], "title": _text(p["product_title"]),
                "brand": _text(p["product_brand"]), "color": _text(p["product_color"]),
                "bullets": _text(p["product_bullet_point"]),
                "description": strip_html(_text(p["product_description"])), "label": _text(e["esci_label"])})
    return {s: order_docs(d) for s, d in splits.items()}, skipped


@pytest.fixture(scope="module")
def adversarial(tmp_path_factory):
    return _write_adversarial_pair(tmp_path_factory.mktemp("esci_adversarial"))


@pytest.mark.parametrize("family,locale", [("desc_gen", "us"), ("desc_gen", "jp"), ("esci", "us"), ("esci", "all")])
def test_column_wise_readers_give_the_row_by_row_documents_in_the_same_order(adversarial, family, locale):
    splits, skipped = _row_by_row(adversarial, family, locale)
    new = load_family(family, adversarial, locale=locale)
    assert list(new.splits) == list(splits) and new.skipped == skipped
    assert list(new.skipped) == list(skipped)   # reasons in the order they first occur, as a row-by-row count
    if family == "desc_gen":
        assert set(skipped) == set(data.DESC_GEN_REASONS)   # the pair exercises every reason
    for split, docs in splits.items():
        assert len(docs) > 40
        assert new.splits[split] == docs, (family, locale, split)   # same documents, same seeded order
        assert [list(d) for d in new.splits[split][:3]] == [list(d) for d in docs[:3]]   # field order
    rows, summary_skipped, _source = data.summarise_family(family, adversarial, locale=locale)
    assert summary_skipped == skipped and list(summary_skipped) == list(skipped)
    assert rows == [(s, len(d), data.label_distribution(family, d)) for s, d in splits.items()]


def test_arrow_docs_keep_the_readers_contract_and_lm_eval_gets_the_table(adversarial):
    import warnings

    import datasets

    from ecomsuite import lmeval

    docs = load_family("esci", adversarial).splits["test"]
    as_list = list(docs)
    assert isinstance(docs, data.ArrowDocs) and len(docs) == len(as_list)
    assert docs[0] == as_list[0] and docs[-1] == as_list[-1] and docs[3:9:2] == as_list[3:9:2]
    assert docs == as_list and as_list == docs and docs != as_list[:-1]
    with pytest.raises(IndexError):
        docs[len(docs)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # no calling lm-eval task to record the provenance in
        dd = lmeval.load_docs(format="esci", data_dir=str(adversarial))
        again = lmeval.load_docs(format="esci", data_dir=str(adversarial))
    assert list(dd["test"]) == as_list
    # its fast iteration gives what datasets' own (row by row) gives; a format or a selection: datasets' own
    assert list(dd["test"]) == list(datasets.Dataset(dd["test"].data.table))
    assert list(dd["test"].select([2, 0])) == [as_list[2], as_list[0]]
    assert next(iter(dd["test"].with_format("arrow"))).num_rows == 1
    # a fingerprint from what was read (datasets would otherwise pickle the whole table to hash it)
    assert dd["test"]._fingerprint == again["test"]._fingerprint != dd["train"]._fingerprint


def test_data_info_counts_are_cached_by_file_identity(adversarial, tmp_path, monkeypatch):
    import os
    import shutil

    from ecomsuite.data import cache

    folder = tmp_path / "copy"
    shutil.copytree(adversarial, folder)
    monkeypatch.setattr(cache, "MIN_BYTES", 0)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    first = info_table(str(folder))
    assert len(list((tmp_path / "xdg" / "ecomsuite" / "data-cache").glob("summary-*.json"))) == 2
    reader = data.READERS["desc_gen"]
    monkeypatch.setitem(data.READERS, "desc_gen", data.Reader(reader.read, reader.folder, reader.files,
                        reader.options, reader.description, lambda *a, **k: pytest.fail("recomputed")))
    assert info_table(str(folder)) == first               # the same files: read from the cache
    products = folder / "esci" / "shopping_queries_dataset_products.parquet"
    st = products.stat()
    os.utime(products, ns=(st.st_atime_ns, st.st_mtime_ns + 1))   # touched: the identity changed
    with pytest.raises(pytest.fail.Exception, match="recomputed"):
        info_table(str(folder))


def test_locale_batches_choose_row_groups_by_statistics_and_filter_the_rest(tmp_path, monkeypatch):
    """A row group of one locale is read whole, one without the locale skipped, a mixed one (or one with a
    null locale) filtered: the rows are those a plain filter keeps, in file order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    groups = [["us", "us"], ["es", "jp"], ["us", None], ["jp", "us", "es"], ["zz"]]
    path = tmp_path / "p.parquet"
    with pq.ParquetWriter(path, pa.schema([("product_id", pa.string()), ("product_locale", pa.string())])) as w:
        for g, locales in enumerate(groups):
            w.write_table(pa.table({"product_id": [f"{g}-{i}" for i in range(len(locales))],
                                    "product_locale": locales}))
    read = []
    real_read = pq.ParquetFile.iter_batches

    def spy(self, *a, row_groups=None, **k):
        read.extend(row_groups)
        return real_read(self, *a, row_groups=row_groups, **k)

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", spy)
    everything = pq.read_table(path).to_pylist()
    for locale in ("us", "es", "jp", "xx", None):
        read.clear()
        got = [r for b in data._locale_batches(path, ["product_id"], locale) for r in b.to_pylist()]
        assert got == [{"product_id": r["product_id"]} for r in everything
                       if locale is None or r["product_locale"] == locale], locale
        if locale == "us":
            assert read == [0, 2, 3]   # group 1 (es, jp) and 4 (zz) never read


def test_in_threads_keeps_the_order_and_raises_what_an_item_raises():
    import random
    import time

    rng = random.Random(0)
    delays = [rng.random() / 200 for _ in range(40)]

    def slow_square(i):
        time.sleep(delays[i])
        if i == 33:
            raise data.DataError("item 33")
        return i * i

    got = []
    with pytest.raises(data.DataError, match="item 33"):
        for x in data._in_threads(slow_square, range(40), workers=3):
            got.append(x)  # noqa: PERF402 - the items before the one that raises
    assert got == [i * i for i in range(33)]
    assert list(data._in_threads(lambda i: i + 1, iter(range(7)), workers=1)) == list(range(1, 8))
