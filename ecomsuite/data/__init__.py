"""Readers of the publishers' raw formats -> task documents (plain dicts, fixed fields, stable ids).

Scale: the ESCI formats (``esci``, ``desc_gen``; 2.6M judgements, 1.8M products in the full release) are
read with Arrow and cleaned column-wise (``ecomsuite.data.arrowtext``: the values the Python text
functions below give, checked value for value by tests/test_data_scale.py); their splits are
``ArrowDocs``, sequences whose dicts are built when read, which lm-eval receives as one Arrow table.
``data info`` counts them without building documents, and keeps its counts and the files' fingerprint
for large files between runs (``ecomsuite.data.cache``, keyed by the files' identity).

Where data comes from, in order: the ``data_dir`` argument (``--data-dir`` flag, or lm-eval
``--metadata '{"data_dir": ...}'``), the ``ECOMSUITE_DATA`` environment variable, and otherwise
the embedded sample shipped with the package (hand-written, *not* real data).

A data folder holds any of these sub-folders, each in its publisher's format::

    esci/shopping_queries_dataset_examples.parquet + shopping_queries_dataset_products.parquet
    queryner/{train,dev,test}.txt                    (CoNLL, token<TAB>tag)
    fewsum_amazon/{train,val,test}.csv               (tab-separated despite the suffix)
    ae110k/{train,test}.jsonl                        (input, category, target_scores)

Document order: every split of every family is presented sorted by
``sha256("ecomsuite-order-v1:" + doc id)`` (``DOC_ORDER``), never in file order. Publishers' files
are often grouped (the ESCI test split runs query by query), so lm-eval's ``--limit N``, which takes
the first N documents, would score a biased slice; in this order it scores a seeded random subset,
the same one on every machine and for any row order of the files. ``load_family`` is the one place
that orders documents, and it refuses a split whose ids are not unique.

Document ids are stable: the publisher's own key where there is one (ESCI ``example_id``, FewSum
``group_id``, the product id for description generation); for QueryNER and AE-110k, which have no
key, a hash of the document's content (tokens and tags; title, category and attributes). A
positional id (``queryner-test-17``) would shift when a row is inserted or the file is re-sorted,
silently changing both the order and which document an id names; a content id does not.
Identical documents in one split get ``-2``, ``-3``, ... (they are interchangeable, so the order of
their content still does not depend on the file).

Example::

    from ecomsuite.data import load_family
    data = load_family("esci", data_dir="../shared/data")
    print(data.source, {k: len(v) for k, v in data.splits.items()})
"""
from __future__ import annotations

import csv
import functools
import hashlib
import html
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from ecomsuite import EcomError
from ecomsuite.metrics import ESCI_LABELS  # the one definition of the ESCI label letters

SAMPLE_DIR = Path(__file__).parent / "sample"
ENV_VAR = "ECOMSUITE_DATA"

QUERYNER_TYPES = [
    "UoM", "color", "condition", "content", "core_product_type", "creator", "department",
    "material", "modifier", "occasion", "origin", "price", "product_name", "product_number",
    "quantity", "shape", "time",
]


DOC_ORDER_SALT = "ecomsuite-order-v1:"
DOC_ORDER = f"sha256({DOC_ORDER_SALT}id)"   # recorded in each task's metadata as ``doc_order``


class DataError(EcomError):
    """Bad or missing data; the message names the file, row and what is wrong."""


class MissingDataError(DataError):
    """A data file is not there at all (``ecomsuite data info`` lists its family as missing)."""


@dataclass
class FamilyData:
    family: str
    splits: dict[str, Sequence[dict]]   # list[dict] or ArrowDocs (the large ESCI formats)
    source: str                      # "sample" or the resolved data folder
    files: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)   # reason -> count (rows left out on purpose)
    split_files: dict[str, str] = field(default_factory=dict)  # split -> the file its documents come from

    @property
    def is_sample(self) -> bool:
        return self.source == "sample"

    def fingerprint(self) -> str:
        """sha256 over the raw files read (stable across machines for the same data); kept for large files
        between runs (``ecomsuite.data.cache``: keyed by the files' identity)."""
        from ecomsuite.data.cache import cached

        def compute() -> str:
            h = hashlib.sha256()
            for f in sorted(self.files):
                h.update(Path(f).name.encode())
                with open(f, "rb") as fh:
                    for chunk in iter(lambda: fh.read(1 << 20), b""):
                        h.update(chunk)
            return h.hexdigest()[:16]

        return cached("fingerprint", self.files, {}, compute)


class ArrowDocs(Sequence):
    """A split's documents held as Arrow columns: a read-only sequence of plain dicts with fixed keys (the
    readers' contract: ``len``, ``docs[i]``, slicing and iteration give dicts, ``==`` compares with a list),
    each dict built only when it is read. ``rows`` holds one row per document; with ``lookup`` = (table,
    column of ``rows``), that column names a row of ``table`` whose columns are part of the document too
    (ESCI: the product fields, stored once per product). ``fields``: the documents' keys, in order.
    ``table()`` is the split as one Arrow table, which ``datasets.Dataset`` takes without building a dict."""

    def __init__(self, rows, fields: list[str], lookup=None):
        self.rows, self.fields, self.lookup = rows, list(fields), lookup

    def __len__(self) -> int:
        return self.rows.num_rows

    def _table(self, rows):
        import pyarrow as pa

        cols = {n: rows[n] for n in rows.column_names}
        if self.lookup is not None:
            table, key = self.lookup
            looked = table.take(rows[key])
            cols.update({n: looked[n] for n in looked.column_names})
        return pa.table({f: cols[f] for f in self.fields})

    def table(self):
        return self._table(self.rows)

    def take(self, indices) -> ArrowDocs:
        return ArrowDocs(self.rows.take(indices), self.fields, self.lookup)

    def ids(self) -> list[str]:
        return self.rows["id"].to_pylist()

    def __getitem__(self, i):
        if isinstance(i, slice):
            import pyarrow as pa

            return self._table(self.rows.take(pa.array(range(len(self))[i], pa.int64()))).to_pylist()
        if not -len(self) <= i < len(self):
            raise IndexError(f"document {i} of {len(self)}")
        return self._table(self.rows.slice(i % len(self), 1)).to_pylist()[0]

    def __iter__(self):
        for start in range(0, len(self), 4096):
            yield from self._table(self.rows.slice(start, 4096)).to_pylist()

    def __eq__(self, other):
        if not isinstance(other, (ArrowDocs, list, tuple)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None

    def __repr__(self) -> str:
        return f"ArrowDocs({len(self)} documents: {', '.join(self.fields)})"


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> tuple[Path, str]:
    """Return (folder, source label). The label is "sample" for the embedded sample.

    Order: ``data_dir``, ``$ECOMSUITE_DATA``, the download location (``ecomsuite data download``:
    ``$XDG_CACHE_HOME/ecomsuite/data``, default ``~/.cache/ecomsuite/data``) when it holds data,
    and otherwise the embedded sample."""
    chosen = data_dir or os.environ.get(ENV_VAR) or None
    if not chosen:
        from ecomsuite.data.download import default_data_dir, holds_data

        cache = default_data_dir()
        if holds_data(cache):
            return cache.resolve(), str(cache.resolve())
        return SAMPLE_DIR, "sample"
    p = Path(chosen).expanduser()
    if not p.is_dir():
        origin = "data_dir" if data_dir else ENV_VAR
        raise DataError(f"{p}: data folder not found (from {origin}); point it at a folder holding "
                        "esci/, queryner/, fewsum_amazon/, ae110k/ or unset it to use the embedded sample")
    return p.resolve(), str(p.resolve())


def _need(path: Path) -> Path:
    if not path.is_file():
        raise MissingDataError(f"{path}: file not found; expected the publisher's file here "
                        "(see `ecomsuite data info --help` for the layout)")
    return path


def _blank(v) -> bool:
    return v is None or (isinstance(v, float) and v != v) or (isinstance(v, str) and not v.strip())


def _text(v) -> str:
    return "" if _blank(v) else str(v).strip()


def normalise_text(text: str) -> str:
    """Lowercase, whitespace collapsed: the form in which two texts count as the same text."""
    return " ".join(text.lower().split())   # str.split's whitespace is re's \s


def content_id(prefix: str, content, seen: dict[str, int]) -> str:
    """A stable id for a document without a publisher's key: ``prefix-`` + 12 hex digits of the
    sha256 of its content (canonical JSON). ``seen`` (one dict per split) numbers repeats of the
    same content ``-2``, ``-3``, ... so ids stay unique."""
    blob = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    base = f"{prefix}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"
    seen[base] = seen.get(base, 0) + 1
    return base if seen[base] == 1 else f"{base}-{seen[base]}"


def doc_order_key(doc_id: str) -> str:
    return hashlib.sha256(f"{DOC_ORDER_SALT}{doc_id}".encode()).hexdigest()


def order_docs(docs):
    """The documents in ``DOC_ORDER``: a seeded random order that depends on the ids only. ``ArrowDocs``
    are sorted column-wise (the same order: sha256 digests sort as their hex forms do)."""
    if isinstance(docs, ArrowDocs):
        import pyarrow as pa
        import pyarrow.compute as pc

        from ecomsuite.data.arrowtext import sha256_each

        keys = pa.array(sha256_each(_prefixed(DOC_ORDER_SALT, docs.rows["id"])), pa.binary(32))
        return docs.take(pc.sort_indices(keys))
    return sorted(docs, key=lambda d: doc_order_key(d["id"]))


def _prefixed(prefix: str, col):
    """``f"{prefix}{value}"`` of each value of an Arrow column (large_string)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    sep = pa.scalar("", pa.large_string())
    return pc.binary_join_element_wise(pa.scalar(prefix, pa.large_string()), pc.cast(col, pa.large_string()), sep)


def check_unique_ids(docs, where: str) -> None:
    """Raise a DataError naming ``where`` (file and split) when two documents share an id."""
    if isinstance(docs, ArrowDocs):
        import pyarrow.compute as pc

        if pc.count_distinct(docs.rows["id"]).as_py() == len(docs):
            return
        ids = docs.ids()
    else:
        ids = [d["id"] for d in docs]
    first: dict[str, int] = {}
    for i, doc_id in enumerate(ids):
        j = first.setdefault(doc_id, i)
        if j != i:
            raise DataError(f"{where}: document id {doc_id!r} occurs twice (documents {j} and {i} "
                            "in file order); ids must be unique within a split")


# --------------------------------------------------------------------------------------- HTML
class _Stripper(HTMLParser):
    BLOCK = {"p", "br", "li", "div", "ul", "ol", "tr", "h1", "h2", "h3", "h4", "table"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.BLOCK:
            self.parts.append(" ")

    def handle_endtag(self, tag):
        if tag in self.BLOCK:
            self.parts.append(" ")

    def handle_data(self, data):
        self.parts.append(data)


# a tag the parser reads as a plain start or end tag: a name, then '>' or '/>', or whitespace and attributes
# without quotes or markup up to the first '>'. Written so that a text has one way to match (the earlier
# form, attributes as [^<>"'=]*(?:=[^<>"'\s]*[^<>"']*)* then /?>, read the same texts but in exponentially
# many ways: on a text it does not match, such as a real ESCI description with many "<br />", re took hours)
_SIMPLE_TAG = re.compile(r"<(/?)([a-zA-Z][-.a-zA-Z0-9:_]*)(?:[ \t\n\r\f][^<>\"']*>|/?>)")
_PLAIN_TAG_TEXT = re.compile(r"[^<]*(?:" + _SIMPLE_TAG.pattern + r"[^<]*)*\Z")


def _strip_simple_html(text: str) -> str | None:
    """``strip_html`` for text whose every ``<`` opens a simple tag (no comment, declaration, script or
    style): tags split the text (block tags with a space), entities decoded in each piece, as the
    parser does; None for anything else."""
    if not _PLAIN_TAG_TEXT.match(text):
        return None
    parts, pos = [], 0
    for m in _SIMPLE_TAG.finditer(text):
        name = m.group(2).lower()
        if name in ("script", "style"):
            return None
        parts.append(html.unescape(text[pos:m.start()]))
        parts.append(" " if name in _Stripper.BLOCK else "")
        pos = m.end()
    parts.append(html.unescape(text[pos:]))
    return " ".join(html.unescape("".join(parts)).split())


def strip_html(text: str) -> str:
    """Remove HTML markup and entities from a product description; collapse whitespace.
    Text without markup, and markup of plain tags only, take fast paths that give what the parser
    gives (tests/test_data.py compares them on generated markup)."""
    if "<" not in text and "&" not in text:   # no markup, no entity: the parser would keep it as is
        return " ".join(text.split())          # = re.sub(r"\s+", " ", text).strip(): same whitespace
    if "<" in text:
        fast = _strip_simple_html(text)
        if fast is not None:
            return fast
    return _strip_html_parser(text)


def _strip_html_parser(text: str) -> str:
    s = _Stripper()
    s.feed(text)
    s.close()
    out = html.unescape("".join(s.parts))
    return " ".join(out.split())


# --------------------------------------------------------------------------------------- ESCI
# The full release is 2.6M judgements and 1.8M products (a 1.1 GB products file). It is read with
# Arrow: only the columns a reader needs, rows filtered by locale in Arrow, and the products table
# read only for the products the kept examples name; product text is cleaned once per product.
ESCI_EXAMPLE_COLS = ["example_id", "query", "query_id", "product_id", "product_locale", "esci_label", "split"]
ESCI_PRODUCT_COLS = ["product_id", "product_title", "product_description", "product_bullet_point",
                     "product_brand", "product_color", "product_locale"]
ESCI_SPLITS = ("train", "test", "dev", "validation")
_ROW = "__row"   # file row number, kept through filters for error messages


def _parquet(path: Path, columns: list[str]):
    """One parquet file (``pq.ParquetFile``) whose schema has ``columns`` (one clear error if not). Read
    without ``pyarrow.dataset``, whose import alone costs ~0.5 s of a ``data info``."""
    import pyarrow.parquet as pq

    try:
        f = pq.ParquetFile(_need(path))
    except DataError:
        raise
    except Exception as e:  # corrupt file
        raise DataError(f"{path}: cannot read parquet ({type(e).__name__}: {e})") from None
    names = f.schema_arrow.names
    missing = [c for c in columns if c not in names]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(names)}")
    return f


def _scan(f, path: Path, columns: list[str], locale: str | None = None):
    """``columns`` of the file's rows (those of product ``locale`` only, when given), in file order."""
    import pyarrow.compute as pc

    try:
        if locale is None:
            return f.read(columns=columns)
        t = f.read(columns=list(dict.fromkeys([*columns, "product_locale"])))
        mine = pc.equal(t["product_locale"], locale)
        return t.filter(pc.and_kleene(mine, pc.is_valid(mine))).select(columns)
    except Exception as e:
        raise DataError(f"{path}: cannot read parquet ({type(e).__name__}: {e})") from None


def _locale_batches(path: Path, columns: list[str], locale: str | None, batch_size: int = 131_072):
    """The rows of ``locale`` (None: every row) of a products parquet file, as Arrow record batches in file
    order. Row groups are chosen by their statistics: one that holds only ``locale`` is read as it is, one
    that cannot hold it is skipped, any other is read with its locale column and filtered. (The dataset
    scanner's filter cost ~4x the decoding itself on the full release, even on row groups of one locale.)"""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        f = pq.ParquetFile(path)
        for i in range(f.metadata.num_row_groups):
            how = "all" if locale is None else _row_group_holds(f.metadata.row_group(i), locale)
            if how == "none":
                continue
            cols = columns if how == "all" else [*columns, "product_locale"]
            for batch in f.iter_batches(batch_size=batch_size, row_groups=[i], columns=cols):
                if how == "some":
                    mine = pc.equal(batch.column("product_locale"), locale)
                    batch = batch.filter(pc.and_kleene(mine, pc.is_valid(mine)))   # (a null locale: not mine)
                    batch = batch.select(columns)
                yield batch
    except (OSError, pa.ArrowException) as e:
        raise DataError(f"{path}: cannot read parquet ({type(e).__name__}: {e})") from None


def _row_group_holds(rg, locale: str) -> str:
    """"all" (statistics say every row is ``locale``), "none" (no row can be) or "some" (read and filter)."""
    for j in range(rg.num_columns):
        if rg.column(j).path_in_schema == "product_locale":
            st = rg.column(j).statistics
            break
    else:
        return "some"
    if st is None or not st.has_min_max or not isinstance(st.min, str) or not isinstance(st.max, str):
        return "some"
    if locale < st.min or locale > st.max:
        return "none"
    if st.min == st.max == locale and st.has_null_count and st.null_count == 0:
        return "all"
    return "some"


def _trimmed(col):
    """Arrow twin of ``_text`` for a string column: stripped, null -> ""."""
    import pyarrow.compute as pc

    return pc.fill_null(pc.utf8_trim_whitespace(col.cast("large_string")), "")


def _esci_key(t, id_col: str = "product_id", locale_col: str = "product_locale"):
    """(product id, locale) as one string column: a product id is unique only within a locale."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.binary_join_element_wise(pc.cast(t[id_col], "large_string"),
                                       pc.cast(t[locale_col], "large_string"),
                                       pa.scalar("\x1f", pa.large_string()))


def _first_true(mask) -> int | None:
    import pyarrow.compute as pc

    idx = pc.index(pc.fill_null(mask, True), True).as_py()
    return None if idx < 0 else idx


_UNIQUE_PRODUCTS: set = set()   # (file identity, locale) whose product keys this process found unique


def _file_identity(path: Path) -> tuple:
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino


def _check_unique_products(d, path: Path, locale: str | None = None):
    """Raise on a (product id, locale) pair twice in the products table (read: those two columns); returns
    those two columns (of ``locale``), or None when this process has already checked the same file (a check
    of every locale covers each one)."""
    import pyarrow.compute as pc

    ident = _file_identity(path)
    if (ident, None) in _UNIQUE_PRODUCTS or (ident, locale) in _UNIQUE_PRODUCTS:
        return None
    t = _scan(d, path, ["product_id", "product_locale"], locale)
    if t.num_rows == pc.count_distinct(_esci_key(t)).as_py():
        _UNIQUE_PRODUCTS.add((ident, locale))
        return t
    _first_repeat(_scan(d, path, ["product_id", "product_locale"]), path, locale)


def _first_repeat(t, path: Path, locale: str | None = None) -> None:
    """Raise on the first (product id, locale) pair of ``t`` (the whole file, in file order) that repeats one
    before it; with ``locale``, a pair of that locale (error path only)."""
    seen: set = set()
    for i, key in enumerate(zip(t["product_id"].to_pylist(), t["product_locale"].to_pylist())):
        if locale is not None and key[1] != locale:
            continue
        if key in seen:
            raise DataError(f"{path}: row {i}: duplicate product {key[0]} in locale {key[1]}")
        seen.add(key)


def _products_there(ex, prd, pr_path: Path, locale: str) -> int | None:
    """``_check_unique_products`` (every locale) and then the first example of ``ex`` whose (product id, locale)
    is not in the products file (None: none), with one hash pass: the ids of both files encoded together,
    a pair's key is (id code, locale code), uniqueness and presence are then numpy counts. Nulls in either
    file's key columns take the column-by-column path, whose answers they decide."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    keys = _scan(prd, pr_path, ["product_id", "product_locale"])
    cols = [keys["product_id"], keys["product_locale"], ex["product_id"], ex["product_locale"]]
    if any(c.null_count for c in cols):
        _check_unique_products(prd, pr_path)
        if locale != "all":   # one locale: product ids are unique within it
            keys = keys.filter(pc.equal(keys["product_locale"], locale))
            return _first_true(pc.invert(pc.is_in(ex["product_id"], value_set=keys["product_id"])))
        return _first_true(pc.invert(pc.is_in(_esci_key(ex), value_set=_esci_key(keys))))

    def codes(a, b):   # one dictionary for a product column and an example column: (codes of a, of b, size)
        enc = pc.dictionary_encode(pa.concat_arrays([pc.cast(c, pa.large_string()).combine_chunks() for c in (a, b)]))
        idx = enc.indices.to_numpy().astype(np.int64)
        return idx[:len(a)], idx[len(a):], len(enc.dictionary)

    pid, eid, n_ids = codes(keys["product_id"], ex["product_id"])
    ploc, eloc, n_locs = codes(keys["product_locale"], ex["product_locale"])
    pkey, ekey = pid * n_locs + ploc, eid * n_locs + eloc
    count = np.bincount(pkey, minlength=n_ids * n_locs)
    if count.max(initial=0) > 1:
        _first_repeat(keys, pr_path)
    _UNIQUE_PRODUCTS.add((_file_identity(pr_path), None))
    missing = count[ekey] == 0
    return int(np.argmax(missing)) if missing.any() else None


def _esci_examples(folder: Path, files: dict[str, str], locale: str, product_text: bool = True):
    """The kept examples (locale filter) as an Arrow table with trimmed label/split/query and the file row
    number, all checked: a label, a split and a product for every kept example. With ``product_text``, also
    each example's row (``__product``) in ``products``, the needed products' rows; else products is None.
    Returns (examples, products, [examples file, products file])."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    ex_path, pr_path = folder / files["examples"], folder / files["products"]
    exd = _parquet(ex_path, ESCI_EXAMPLE_COLS)
    prd = _parquet(pr_path, ESCI_PRODUCT_COLS)
    # without product text (the summary): not the query either, which nothing checks
    ex = _scan(exd, ex_path, ESCI_EXAMPLE_COLS if product_text else ESCI_EXAMPLE_COLS[:1] + ESCI_EXAMPLE_COLS[3:])
    ex = ex.append_column(_ROW, pa.array(np.arange(ex.num_rows, dtype=np.int64)))
    if locale != "all":
        ex = ex.filter(pc.equal(ex["product_locale"], locale))
    ex = ex.set_column(ex.schema.get_field_index("esci_label"), "esci_label", _trimmed(ex["esci_label"]))
    ex = ex.set_column(ex.schema.get_field_index("split"), "split", _trimmed(ex["split"]))
    if product_text:
        ex = ex.set_column(ex.schema.get_field_index("query"), "query", _trimmed(ex["query"]))

    def fail(k: int, what: str):
        row = ex.slice(k, 1).to_pylist()[0]
        raise DataError(f"{ex_path}: row {row[_ROW]} (example_id {row['example_id']}): "
                        + what.format(**row))

    bad = _first_true(pc.invert(pc.is_in(ex["esci_label"], pa.array(list(ESCI_LABELS)))))
    if bad is not None:
        fail(bad, "unknown esci_label {esci_label!r}; expected one of E, S, C, I")
    bad = _first_true(pc.invert(pc.is_in(ex["split"], pa.array(ESCI_SPLITS))))
    if bad is not None:
        fail(bad, "unknown split {split!r}; expected train or test")

    missing = f"product {{product_id}} (locale {{product_locale}}) not in {pr_path}"
    if not product_text:   # only that every example's product is there (and the products unique)
        bad = _products_there(ex, prd, pr_path, locale)
        if bad is not None:
            fail(bad, missing)
        return ex, None, [str(ex_path), str(pr_path)]
    _check_unique_products(prd, pr_path)
    needed = pc.unique(ex["product_id"])
    batches = [b.filter(pc.is_in(b.column("product_id"), value_set=needed))   # the products kept examples name
               for b in _locale_batches(pr_path, ESCI_PRODUCT_COLS, None if locale == "all" else locale)]
    pr = (pa.Table.from_batches(batches) if batches
          else pa.schema([prd.schema_arrow.field(c) for c in ESCI_PRODUCT_COLS]).empty_table())
    pos = pc.index_in(_esci_key(ex), value_set=_esci_key(pr))
    bad = _first_true(pc.is_null(pos))
    if bad is not None:
        fail(bad, missing)
    return ex.append_column("__product", pos), pr, [str(ex_path), str(pr_path)]


ESCI_FIELDS = ["id", "query", "query_id", "product_id", "locale", "title", "brand", "color", "bullets",
               "description", "label"]   # an ESCI document's keys, in order


def _esci_product_fields(pr):
    """The document fields of each product row as Arrow columns, cleaned once per product (shared by its
    examples): ``_text`` of title, brand, color and bullets, ``strip_html(_text(...))`` of the description
    (``ecomsuite.data.arrowtext``: the same values, computed column-wise)."""
    import pyarrow as pa

    from ecomsuite.data import arrowtext as at

    def clean(b) -> pa.Table:
        return pa.table({"title": at.strip(b["product_title"]), "brand": at.strip(b["product_brand"]),
                         "color": at.strip(b["product_color"]), "bullets": at.strip(b["product_bullet_point"]),
                         "description": at.strip_html(at.strip(b["product_description"]))})

    parts = list(_in_threads(clean, pr.to_batches(max_chunksize=131_072)))   # a few threads, in order
    return pa.concat_tables(parts) if parts else clean(pr)


def read_esci(folder: Path, files: dict[str, str], locale: str = "us") -> FamilyData:
    """Documents as ``ArrowDocs``: the examples' own columns per split, each naming its product's row in
    one table of cleaned product fields; a dict is built only when a document is read."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ex, pr, paths = _esci_examples(folder, files, locale)
    products = _esci_product_fields(pr)
    del pr
    rows = pa.table({
        "id": _prefixed("esci-", pc.cast(ex["example_id"], pa.int64())),
        "query": ex["query"], "query_id": pc.cast(ex["query_id"], pa.int64()),
        "product_id": pc.cast(ex["product_id"], pa.large_string()),
        "locale": pc.cast(ex["product_locale"], pa.large_string()), "label": ex["esci_label"],
        "__product": ex["__product"]})
    splits: dict[str, ArrowDocs] = {}
    for split in pc.unique(ex["split"]).to_pylist():   # first-appearance order, as the dict of lists was
        splits[split] = ArrowDocs(rows.filter(pc.equal(ex["split"], split)), ESCI_FIELDS, (products, "__product"))
    return FamilyData("esci", splits, "", paths, split_files={s: paths[0] for s in splits})


def esci_summary(folder: Path, files: dict[str, str], locale: str = "us") -> list[tuple[str, int, str]]:
    """(split, documents, label distribution) per split, as ``read_esci`` + ``load_family`` would give,
    column-wise (no documents built): the same checks, ids unique per split included."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    ex, _pr, paths = _esci_examples(folder, files, locale, product_text=False)
    splits = pc.dictionary_encode(ex["split"].combine_chunks())
    code = splits.indices.to_numpy(zero_copy_only=False)
    ids = pc.cast(ex["example_id"], pa.int64()).to_numpy()
    for c, split in enumerate(splits.dictionary.to_pylist()):   # first-appearance order, as read_esci's
        mine = np.sort(ids[code == c])
        twice = mine[1:][mine[1:] == mine[:-1]]
        if len(twice):
            raise DataError(f"{paths[0]}: split {split!r}: document id 'esci-{twice[0]}' occurs twice; "
                            "ids must be unique within a split")
    # labels are checked to be ESCI_LABELS: their counts per split as one bincount
    label = pc.index_in(ex["esci_label"], value_set=pa.array(list(ESCI_LABELS))).to_numpy(zero_copy_only=False)
    n_labels = len(ESCI_LABELS)
    by = np.bincount(code.astype(np.int64) * n_labels + label, minlength=len(splits.dictionary) * n_labels)
    out = []
    for c, split in enumerate(splits.dictionary.to_pylist()):
        n = by[c * n_labels:(c + 1) * n_labels].tolist()
        out.append((split, sum(n), " ".join(f"{k}={v}" for k, v in zip(ESCI_LABELS, n))))
    return out


def desc_gen_split(description: str) -> str:
    """Stable split for description generation, grouped by the normalised description text
    (``normalise_text``): ~25% of distinct descriptions are test, and products sharing a
    description always land in the same split, so no test target appears verbatim in train."""
    digest = hashlib.sha256(normalise_text(description).encode()).hexdigest()
    return "test" if int(digest, 16) % 4 == 0 else "train"


def desc_gen_skip_reason(title: str, bullets: str, description: str) -> str | None:
    """Why a product is not a description-generation document (None: it is one). The filters of
    the study this suite follows: a description is present, differs from the title and from the
    bullet points, and the title is shorter than the description (texts compared normalised)."""
    t, b, d = normalise_text(title), normalise_text(bullets), normalise_text(description)
    if not d:
        return "no description"
    if not t:
        return "no title"
    if d == t:
        return "description same as title"
    if d == b:
        return "description same as bullet points"
    if len(t) >= len(d):
        return "title not shorter than description"
    return None


DESC_GEN_REASONS = ("no description", "no title", "description same as title",
                    "description same as bullet points", "title not shorter than description")  # in test order


def _desc_gen_batches(folder: Path, files: dict[str, str], locale: str, documents: bool = True):
    """The products of ``locale`` in file order, streamed in Arrow batches (only their columns and the
    locale's rows: ``_locale_batches``) and cleaned column-wise (``arrowtext``: the values ``_text``,
    ``strip_html`` and ``normalise_text`` give). Yields per batch: each row's ``DESC_GEN_REASONS`` code (0: a
    document; i: reason i-1, ``desc_gen_skip_reason`` in column form); with ``documents``, the cleaned columns
    of every row (all the fields of a document), else the documents' description word counts; which rows are
    documents; and for the documents, which are in the test split (``desc_gen_split``: sha256 of the
    normalised description). Batches are cleaned in a few threads, yielded in file order. The products are
    checked unique (in ``locale``) after the last batch: ``data info`` computes the ESCI summary alongside,
    whose check of every locale, done by then, makes this one free."""
    if locale == "all":   # a product id names another product in each locale: ids would repeat
        raise DataError("desc_gen: locale 'all' is not available (a product id repeats across locales); "
                        "use us, es or jp")
    ex_path, pr_path = folder / files["examples"], folder / files["products"]
    _parquet(ex_path, ESCI_EXAMPLE_COLS)   # the pair is one dataset: both files, both schemas
    prd = _parquet(pr_path, ESCI_PRODUCT_COLS)
    cols = ESCI_PRODUCT_COLS[:6] if documents else ["product_title", "product_description", "product_bullet_point"]
    yield from _in_threads(functools.partial(_desc_gen_batch, documents=documents),
                           _locale_batches(pr_path, cols, locale))
    _check_unique_products(prd, pr_path, locale)


def _in_threads(fn, items, workers: int | None = None):
    """``fn(item)`` for each item, in order, computed in a few threads (Arrow and numpy release the GIL while
    they work), at most ``2 * workers`` items in flight (bounded memory)."""
    import collections
    import concurrent.futures

    workers = workers or min(4, os.cpu_count() or 1)
    if workers < 2:
        yield from map(fn, items)
        return
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        pending: collections.deque = collections.deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _desc_gen_batch(batch, documents: bool):
    """One batch of ``_desc_gen_batches``, every column aligned with the batch's rows; without ``documents``,
    the kept descriptions' word counts (``{"words": ...}``) in place of the cleaned columns."""
    import numpy as np
    import pyarrow.compute as pc

    from ecomsuite.data import arrowtext as at

    desc = at.strip_html(at.strip(batch.column("product_description"), nulls=True))   # a null stays null
    has = at._np(pc.greater(pc.binary_length(desc), 0))   # a description
    title = at.strip(batch.column("product_title"))
    # the description is collapsed already (strip_html), so lowercase is its normalised form
    ascii_d = at._np(pc.string_is_ascii(desc)) | ~has   # (a null or "": nothing to lowercase)
    nd = at.lower(desc, ascii=ascii_d)
    len_d = pc.fill_null((pc.binary_length if ascii_d.all() else pc.utf8_length)(nd), 0).to_numpy()
    len_t, eq_t = _normalised_vs(title, nd, len_d, has)
    eq_b = _normalises_to(batch.column("product_bullet_point"), nd, has)
    reason = np.where(has, 0, 1).astype(np.int8)   # 1: no description
    for code, hit in ((5, len_t >= len_d), (4, eq_b), (3, eq_t), (2, len_t == 0)):
        reason[hit & has] = code   # the earliest test that holds wins, as in desc_gen_skip_reason
    keep = reason == 0
    test = np.array([d[-1] % 4 == 0 for d in at.sha256_each(nd, np.flatnonzero(keep))], dtype=bool)
    if not documents:   # lowercase moves no whitespace: the normalised form has the description's words
        return reason, {"words": at.word_counts(nd)[keep]}, keep, test
    out = {"product_id": pc.cast(batch.column("product_id"), "large_string"), "title": title,
           "brand": batch.column("product_brand"), "color": batch.column("product_color"),
           "bullets": at.strip(batch.column("product_bullet_point")), "description": desc}
    return reason, out, keep, test


def _normalises_to(raw, nd, rows):
    """Whether ``normalise_text(_text(value))`` equals ``nd`` for each value of ``raw`` (a text column as read:
    nulls, unstripped) where ``rows`` (a numpy mask; ``nd`` there: normalised, never empty); False elsewhere.
    Whole values are normalised only where their start does not rule that out already: a null (its text is
    "") cannot equal ``nd``; nor can a value whose first k characters are ASCII and tidy (no whitespace at
    either end, single spaces between: then its stripped, normalised form starts with them lowercased) where
    ``nd`` does not start with them lowercased. Two lengths k (16 and 15), so that a space at the end of one
    start leaves the other."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from ecomsuite.data import arrowtext as at

    def tidy_and_not_nd(start, nd_start):   # (start ASCII and tidy, nd does not start with it lowercased): numpy
        tidy = at._np(pc.and_(pc.string_is_ascii(start), pc.invert(pc.match_substring_regex(start, at.ascii_untidy()))))
        return tidy, tidy & at._np(pc.not_equal(pc.ascii_lower(start), nd_start))

    start, nd_start = pc.utf8_slice_codeunits(raw, 0, 16), pc.utf8_slice_codeunits(nd, 0, 16)
    tidy, ruled_out = tidy_and_not_nd(start, nd_start)
    rows = rows & at._np(pc.is_valid(raw))   # a null value (its text is ""): ruled out
    again = np.flatnonzero(rows & ~tidy)     # the first 15 characters, where the 16th makes the start untidy
    if len(again):
        pick = pa.array(again)
        ruled_out[again] = tidy_and_not_nd(pc.utf8_slice_codeunits(start.take(pick), 0, 15),
                                           pc.utf8_slice_codeunits(nd_start.take(pick), 0, 15))[1]
    idx = np.flatnonzero(rows & ~ruled_out)
    equal = np.zeros(len(raw), dtype=bool)
    if len(idx):
        at_idx = pa.array(idx)
        equal[idx] = at._np(pc.equal(at.normalise(at.strip(raw.take(at_idx))), nd.take(at_idx)))
    return equal


def _normalised_vs(col, nd, len_d, rows):
    """(length of ``normalise_text`` of each value of ``col``, whether it equals ``nd``), for stripped values
    where ``rows`` (a numpy mask; elsewhere: their own length, False). Normalised only where that can matter:
    an ASCII value shorter than ``nd`` cannot normalise to it (ASCII lowercase keeps the length, collapsing
    never adds) and is longer than nothing it normalises to, so its own length stands in (it stays below
    ``len_d``; and a stripped value is empty exactly when its normalised form is)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from ecomsuite.data import arrowtext as at

    length = pc.utf8_length(col).to_numpy()
    need = rows & (~at._np(pc.string_is_ascii(col)) | (length >= len_d))
    equal = np.zeros(len(col), dtype=bool)
    if need.any():
        m = pa.array(need)
        norm = at.normalise(col.filter(m))
        length = length.copy()
        length[need] = pc.utf8_length(norm).to_numpy()
        equal[need] = at._np(pc.equal(norm, nd.filter(m)))
    return length, equal


def _skipped(first: dict[int, int], counts: dict[int, int]) -> dict[str, int]:
    """reason -> rows, in the order the reasons first occur in the file (as a row-by-row count gives)."""
    return {DESC_GEN_REASONS[c - 1]: counts[c] for c in sorted(first, key=first.get)}


def _tally(reason, offset: int, first: dict[int, int], counts: dict[int, int]) -> None:
    import numpy as np

    codes, where, n = np.unique(reason, return_index=True, return_counts=True)
    for c, w, k in zip(codes.tolist(), where.tolist(), n.tolist()):
        if c:
            first.setdefault(c, offset + w)
            counts[c] = counts.get(c, 0) + k


DESC_GEN_FIELDS = ["id", "product_id", "title", "brand", "color", "bullets", "description"]


def read_desc_gen(folder: Path, files: dict[str, str], locale: str = "us") -> FamilyData:
    import pyarrow as pa

    from ecomsuite.data import arrowtext as at

    parts: dict[str, list] = {"train": [], "test": []}
    first: dict[int, int] = {}
    counts: dict[int, int] = {}
    offset = 0
    for reason, cols, keep, test in _desc_gen_batches(folder, files, locale):
        _tally(reason, offset, first, counts)
        offset += len(reason)
        kept = pa.table({k: v.filter(pa.array(keep)) for k, v in cols.items()})
        kept = kept.append_column("id", _prefixed("desc-", kept["product_id"]))
        kept = kept.set_column(kept.schema.get_field_index("brand"), "brand", at.strip(kept["brand"]))
        kept = kept.set_column(kept.schema.get_field_index("color"), "color", at.strip(kept["color"]))
        for split, mask in (("train", ~test), ("test", test)):
            parts[split].append(kept.filter(pa.array(mask)).select(DESC_GEN_FIELDS))
    empty = pa.table({f: pa.array([], pa.large_string()) for f in DESC_GEN_FIELDS})
    splits = {s: ArrowDocs(pa.concat_tables([empty] + p) if p else empty, DESC_GEN_FIELDS)
              for s, p in parts.items()}
    pr_path = str(folder / files["products"])
    return FamilyData("desc_gen", splits, "", [pr_path], _skipped(first, counts), {s: pr_path for s in splits})


def desc_gen_summary(folder: Path, files: dict[str, str], locale: str = "us"):
    """What ``read_desc_gen`` + ``label_distribution`` report, streamed: no documents kept."""
    first: dict[int, int] = {}
    counts: dict[int, int] = {}
    offset = 0
    n = {"train": 0, "test": 0}
    words = {"train": [0, 0], "test": [0, 0]}   # sum, max
    for reason, cols, _keep, test in _desc_gen_batches(folder, files, locale, documents=False):
        _tally(reason, offset, first, counts)
        offset += len(reason)
        w = cols["words"]
        for split, mask in (("train", ~test), ("test", test)):
            ws = w[mask]
            n[split] += len(ws)
            words[split][0] += int(ws.sum())
            words[split][1] = max(words[split][1], int(ws.max(initial=0)))
    rows = [(s, n[s], f"description words: mean {words[s][0] / max(n[s], 1):.0f}, max {words[s][1]}")
            for s in n]
    return rows, _skipped(first, counts)


# ----------------------------------------------------------------------------------- QueryNER
def validate_bio(tags: list[str], where: str, repair: bool = False) -> int:
    """Check IOB2 tags. Unknown tags or types always raise. An I-x that does not continue an x
    entity raises when ``repair`` is False; otherwise it becomes B-x (the conlleval convention:
    it starts a new entity) and is counted. Returns the number of repaired tags."""
    prev, repaired = "O", 0
    for j, t in enumerate(tags):
        if t != "O":
            if len(t) < 3 or t[:2] not in ("B-", "I-"):
                raise DataError(f"{where}: token {j}: tag {t!r} is not BIO (expected O, B-type or I-type)")
            if t[2:] not in QUERYNER_TYPES:
                raise DataError(f"{where}: token {j}: unknown entity type {t[2:]!r}")
            if t.startswith("I-") and prev[2:] != t[2:]:
                if not repair:
                    raise DataError(f"{where}: token {j}: {t} does not continue {prev} (invalid IOB2; "
                                    "pass bio='repair' to read it as B-)")
                tags[j] = t = "B-" + t[2:]
                repaired += 1
        prev = t
    return repaired


def read_conll(path: Path, split: str, repair: bool = False) -> tuple[list[dict], int]:
    docs, tokens, tags = [], [], []
    start, repaired, seen = 1, 0, {}

    def flush():
        nonlocal repaired
        if tokens:
            where = f"{path}: line {start} (query {len(docs)})"
            repaired += validate_bio(tags, where, repair)
            docs.append({"id": content_id(f"queryner-{split}", [tokens, tags], seen), "tokens": list(tokens),
                         "tags": list(tags), "query": " ".join(tokens)})
        tokens.clear(); tags.clear()

    with open(_need(path), encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\n").rstrip("\r")
            if not line.strip():
                flush()
                start = lineno + 1
                continue
            parts = line.split("\t")
            if len(parts) != 2 or not parts[0] or not parts[1]:
                raise DataError(f"{path}: line {lineno}: expected 'token<TAB>tag', got {line[:60]!r}")
            tokens.append(parts[0]); tags.append(parts[1].strip())
        flush()
    return docs, repaired


def read_queryner(folder: Path, files: dict[str, str], bio: str = "repair") -> FamilyData:
    """``bio``: "repair" (default; the published test set has 2 orphan I- tags, read as B- and
    counted) or "strict" (any invalid IOB2 sequence is an error)."""
    if bio not in ("repair", "strict"):
        raise DataError(f"queryner: bio must be 'repair' or 'strict', got {bio!r}")
    paths = {s: folder / name for s, name in files.items()}
    splits, repaired = {}, {}
    for s, f in paths.items():
        splits[s], n = read_conll(f, s, repair=bio == "repair")
        if n:
            repaired[f"{s}: orphan I- tags read as B-"] = n
    return FamilyData("queryner", splits, "", [str(f) for f in paths.values()], repaired,
                      {s: str(f) for s, f in paths.items()})


# ------------------------------------------------------------------------------------- FewSum
FEWSUM_COLS = ["cat", "group_id"] + [f"rev{i}" for i in range(1, 9)] + [f"summ{i}" for i in range(1, 4)]


def read_fewsum_file(path: Path, split: str) -> list[dict]:
    with open(_need(path), encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t")  # default quoting, as pandas reads these files
        missing = [c for c in FEWSUM_COLS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}: missing column(s) {', '.join(missing)} (is it tab-separated?)")
        docs = []
        for i, row in enumerate(reader, 2):
            where = f"{path}: line {i} (group_id {row.get('group_id')})"
            if None in row:
                raise DataError(f"{where}: more fields than the header has (a stray tab?)")
            reviews = [_text(row[f"rev{k}"]) for k in range(1, 9)]
            summaries = [_text(row[f"summ{k}"]) for k in range(1, 4)]
            if not all(reviews):
                raise DataError(f"{where}: empty review rev{reviews.index('') + 1}")
            if not all(summaries):
                raise DataError(f"{where}: empty summary summ{summaries.index('') + 1}")
            docs.append({"id": f"fewsum-{split}-{_text(row['group_id'])}", "group_id": _text(row["group_id"]),
                         "category": _text(row["cat"]), "reviews": reviews, "summaries": summaries})
    return docs


def read_fewsum(folder: Path, files: dict[str, str]) -> FamilyData:
    paths = {s: folder / name for s, name in files.items()}
    splits = {s: read_fewsum_file(f, s) for s, f in paths.items()}
    return FamilyData("review_summ", splits, "", [str(f) for f in paths.values()],
                      split_files={s: str(f) for s, f in paths.items()})


# ------------------------------------------------------------------------------------ AE-110k
def read_ae_file(path: Path, split: str) -> list[dict]:
    docs, seen = [], {}
    with open(_need(path), encoding="utf-8") as fh:
        for i, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}: line {i}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{where}: invalid JSON ({e.msg})") from None
            for key in ("input", "category", "target_scores"):
                if key not in row:
                    raise DataError(f"{where}: missing key {key!r}")
            ts = row["target_scores"]
            if not isinstance(ts, dict) or not ts:
                raise DataError(f"{where}: target_scores must be a non-empty object")
            attrs = []
            for name, values in ts.items():
                if not isinstance(values, dict) or not values:
                    raise DataError(f"{where}: target_scores[{name!r}] must be an object of value: score")
                attrs.append({"name": str(name), "values": [html.unescape(str(v)) for v in values]})
            title, category = html.unescape(_text(row["input"])), _text(row["category"])
            content = [title, category, sorted([a["name"], a["values"]] for a in attrs)]
            docs.append({"id": content_id(f"ae110k-{split}", content, seen), "title": title,
                         "category": category, "attributes": attrs})
    return docs


def read_ae110k(folder: Path, files: dict[str, str]) -> FamilyData:
    paths = {s: folder / name for s, name in files.items()}
    splits = {s: read_ae_file(f, s) for s, f in paths.items()}
    return FamilyData("attr_extract", splits, "", [str(f) for f in paths.values()],
                      split_files={s: str(f) for s, f in paths.items()})


@dataclass(frozen=True)
class Reader:
    """One publisher format: its reader, the folder it reads under the data root by default, its files by
    role (a split, or a table), and the options it takes. A task chooses it with ``dataset_kwargs``::

        dataset_kwargs: {format: attr_extract, folder: oamine, files: {train: a.jsonl, test: b.jsonl}}

    ``folder`` is relative to the run's data root (``--data-dir``, ``$ECOMSUITE_DATA``, the download
    location or the embedded sample), or absolute; ``files`` replaces the default names role by role."""

    read: Callable[..., FamilyData]
    folder: str
    files: dict[str, str]
    options: tuple[str, ...] = ()
    description: str = ""
    # (folder, files, **options) -> ([(split, documents, labels)], skipped): what ``data info`` shows,
    # without building documents; None: info reads the documents (small formats)
    summary: Callable[..., tuple[list[tuple[str, int, str]], dict[str, int]]] | None = None

    def __call__(self, root: Path, folder: str | None = None, files: dict | None = None,
                 where: str = "dataset_kwargs", **options) -> FamilyData:
        return self.read(*self.locate(root, folder, files, where, options), **options)

    def locate(self, root: Path, folder: str | None, files: dict | None, where: str,
               options: dict) -> tuple[Path, dict[str, str]]:
        """The folder and file names to read (options checked)."""
        unknown = [k for k in options if k not in self.options]
        if unknown:
            raise DataError(f"{where}: unknown option {unknown[0]!r} for format {self.read.__name__[5:]}; "
                            f"known: format, folder, files{''.join(', ' + o for o in self.options)}")
        names = dict(self.files)
        for role, name in (files or {}).items():
            if role not in names:
                raise DataError(f"{where}: files: unknown role {role!r}; this format reads "
                                f"{', '.join(names)}")
            names[role] = str(name)
        path = Path(folder).expanduser() if folder else Path(self.folder)
        return (path if path.is_absolute() else root / path), names


_ESCI_FILES = {"examples": "shopping_queries_dataset_examples.parquet",
               "products": "shopping_queries_dataset_products.parquet"}
READERS: dict[str, Reader] = {
    "esci": Reader(read_esci, "esci", _ESCI_FILES, ("locale",), "ESCI parquet pair: query-product labels",
                   lambda folder, files, **o: (esci_summary(folder, files, **o), {})),
    "queryner": Reader(read_queryner, "queryner", {"train": "train.txt", "dev": "dev.txt", "test": "test.txt"},
                       ("bio",), "CoNLL token<TAB>tag, one query per block"),
    "review_summ": Reader(read_fewsum, "fewsum_amazon",
                          {"train": "train.csv", "validation": "val.csv", "test": "test.csv"}, (),
                          "FewSum TSV: 8 reviews, 3 summaries"),
    "desc_gen": Reader(read_desc_gen, "esci", _ESCI_FILES, ("locale",), "ESCI products parquet: descriptions",
                       desc_gen_summary),
    "attr_extract": Reader(read_ae110k, "ae110k", {"train": "train.jsonl", "test": "test.jsonl"}, (),
                           "AE-110k JSONL: input, category, target_scores"),
}
READER_KEYS = ("format", "folder", "files")   # dataset_kwargs keys every format takes


def load_family(family: str, data_dir: str | os.PathLike | None = None, folder: str | None = None,
                files: dict | None = None, where: str = "dataset_kwargs", **options) -> FamilyData:
    """Read one format's documents from ``folder`` (default: the format's own) under the resolved data root;
    every split comes in ``DOC_ORDER`` (see the module docstring), with unique ids. ``where`` names the
    task file in errors about options."""
    if family not in READERS:
        raise DataError(f"{where}: unknown format {family!r}; known: {', '.join(READERS)}")
    root, source = resolve_data_dir(data_dir)
    data = READERS[family](root, folder, files, where=where, **options)
    read_from = Path(data.files[0]).parent.resolve() if folder and data.files else None
    # a task's own folder is the source it names; under the embedded sample it is still the sample
    data.source = source if read_from is None or read_from.is_relative_to(SAMPLE_DIR) else str(read_from)
    for split, docs in data.splits.items():
        if not docs:
            raise DataError(f"{family}: split {split!r} is empty in {data.source} "
                            f"(files: {', '.join(data.files)})")
        check_unique_ids(docs, f"{data.split_files.get(split) or ', '.join(data.files)}: split {split!r}")
        data.splits[split] = order_docs(docs)
    return data


def subsample(docs: list[dict], n: int | None, seed: int = 0, allow_fewer: bool = False,
              what: str = "split") -> list[dict]:
    """Seeded, *nested* subsample: documents are ordered by sha256(seed:id) and the first ``n`` are
    kept, so the 1k set is inside the 5k set for the same seed. ``n=None`` keeps all (same order).
    The result depends on the ids and the seed only, not on the order ``docs`` come in.
    Asking for more than exists is an error unless ``allow_fewer``."""
    order = sorted(docs, key=lambda d: hashlib.sha256(f"{seed}:{d['id']}".encode()).hexdigest())
    if n is None:
        return order
    if n <= 0:
        raise DataError(f"{what}: train_size must be positive, got {n}")
    if n > len(order) and not allow_fewer:
        raise DataError(f"{what}: asked for {n} documents but only {len(order)} exist "
                        "(use a smaller size, or allow_fewer / --allow-fewer to take them all)")
    return order[:n]


def label_distribution(family: str, docs: list[dict]) -> str:
    from collections import Counter

    if family == "esci":
        c = Counter(d["label"] for d in docs)
        return " ".join(f"{k}={c.get(k, 0)}" for k in ESCI_LABELS)
    if family == "queryner":
        c = Counter(t[2:] for d in docs for t in d["tags"] if t.startswith("B-"))
        return f"{sum(c.values())} entities; top: " + ", ".join(f"{k}={v}" for k, v in c.most_common(4))
    if family == "attr_extract":
        present = sum(any(v.lower() != "n/a" for v in a["values"]) for d in docs for a in d["attributes"])
        total = sum(len(d["attributes"]) for d in docs)
        return f"{total} attribute slots, {present} with a value"
    if family == "review_summ":
        c = Counter(d["category"] for d in docs)
        return ", ".join(f"{k}={v}" for k, v in sorted(c.items()))
    if family == "desc_gen":
        words = [len(d["description"].split()) for d in docs]
        return f"description words: mean {sum(words) / max(len(words), 1):.0f}, max {max(words, default=0)}"
    return ""


def summarise_family(family: str, data_dir: str | os.PathLike | None = None, **options):
    """([(split, documents, label distribution)], rows left out, source) for one format's default folder:
    what ``load_family`` + ``label_distribution`` give, from the format's ``summary`` where it has one
    (ESCI: Arrow group-bys; no documents built)."""
    reader = READERS[family]
    if reader.summary is None:
        data = load_family(family, data_dir, **options)
        return ([(s, len(d), label_distribution(family, d)) for s, d in data.splits.items()],
                data.skipped, data.source)
    from ecomsuite.data.cache import cached

    root, source = resolve_data_dir(data_dir)
    folder, names = reader.locate(root, None, None, "data info", options)
    files = [str(_need(folder / n)) for n in names.values()]
    def compute():
        rows, skipped = reader.summary(folder, names, **options)
        return [[list(r) for r in rows], skipped]   # as JSON stores it

    rows, skipped = cached(f"summary-{family}", files, options, compute)
    rows = [tuple(r) for r in rows]
    for split, n, _labels in rows:
        if not n:
            raise DataError(f"{family}: split {split!r} is empty in {source} "
                            f"(files: {', '.join(str(folder / f) for f in names.values())})")
    return rows, skipped, source


def info_table(data_dir: str | None = None, locale: str = "us") -> str:
    """Per task family and split: documents, label distribution, source (``ecomsuite data info``).
    A family whose files are not in the folder is listed as missing, naming the file."""
    import concurrent.futures

    rows = [("family", "split", "docs", "labels", "source")]
    notes = []
    # the families side by side (the ESCI pair's two summaries each take seconds at full size, and neither
    # keeps two cores busy alone); their rows and errors in the table's order
    with concurrent.futures.ThreadPoolExecutor(len(READERS)) as pool:
        summaries = {fam: pool.submit(summarise_family, fam, data_dir,
                                      **({"locale": locale} if "locale" in reader.options else {}))
                     for fam, reader in READERS.items() if not (fam == "desc_gen" and locale == "all")}
    for fam in READERS:
        if fam not in summaries:
            rows.append((fam, "-", "n/a", "", "one locale at a time (--locale us, es or jp)"))
            continue
        try:
            splits, skipped, source = summaries[fam].result()
        except MissingDataError as e:
            rows.append((fam, "-", "missing", "", str(e).split(": file not found")[0] + " not found"))
            continue
        src = "embedded sample (not real data)" if source == "sample" else source
        rows += [(fam, split, str(n), labels, src) for split, n, labels in splits]
        notes += [f"{fam}: {n} row(s) left out or repaired: {reason}" for reason, n in skipped.items()]
    if any(r[2] == "missing" for r in rows[1:]):
        notes.append("missing: get the data with `ecomsuite data download` (or point --data-dir at it)")
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines + ([""] + notes if notes else []))
