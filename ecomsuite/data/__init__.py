"""Readers of the publishers' raw formats -> task documents (plain dicts, fixed fields, stable ids).

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
import hashlib
import html
import json
import os
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable

from ecomsuite import EcomError

SAMPLE_DIR = Path(__file__).parent / "sample"
ENV_VAR = "ECOMSUITE_DATA"

ESCI_LABELS = ["E", "S", "C", "I"]
ESCI_LABEL_NAMES = {"E": "exact", "S": "substitute", "C": "complement", "I": "irrelevant"}
QUERYNER_TYPES = [
    "UoM", "color", "condition", "content", "core_product_type", "creator", "department",
    "material", "modifier", "occasion", "origin", "price", "product_name", "product_number",
    "quantity", "shape", "time",
]


DOC_ORDER_SALT = "ecomsuite-order-v1:"
DOC_ORDER = f"sha256({DOC_ORDER_SALT}id)"   # recorded in each task's metadata as ``doc_order``


class DataError(EcomError):
    """Bad or missing data; the message names the file, row and what is wrong."""


@dataclass
class FamilyData:
    family: str
    splits: dict[str, list[dict]]
    source: str                      # "sample" or the resolved data folder
    files: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)   # reason -> count (rows left out on purpose)
    split_files: dict[str, str] = field(default_factory=dict)  # split -> the file its documents come from

    @property
    def is_sample(self) -> bool:
        return self.source == "sample"

    def fingerprint(self) -> str:
        """sha256 over the raw files read (stable across machines for the same data)."""
        h = hashlib.sha256()
        for f in sorted(self.files):
            h.update(Path(f).name.encode())
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
        return h.hexdigest()[:16]


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
        raise DataError(f"{path}: file not found; expected the publisher's file here "
                        "(see `ecomsuite data info --help` for the layout)")
    return path


def _blank(v) -> bool:
    return v is None or (isinstance(v, float) and v != v) or (isinstance(v, str) and not v.strip())


def _text(v) -> str:
    return "" if _blank(v) else str(v).strip()


def normalise_text(text: str) -> str:
    """Lowercase, whitespace collapsed: the form in which two texts count as the same text."""
    return re.sub(r"\s+", " ", text.lower()).strip()


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


def order_docs(docs: list[dict]) -> list[dict]:
    """The documents in ``DOC_ORDER``: a seeded random order that depends on the ids only."""
    return sorted(docs, key=lambda d: doc_order_key(d["id"]))


def check_unique_ids(docs: list[dict], where: str) -> None:
    """Raise a DataError naming ``where`` (file and split) when two documents share an id."""
    first: dict[str, int] = {}
    for i, d in enumerate(docs):
        j = first.setdefault(d["id"], i)
        if j != i:
            raise DataError(f"{where}: document id {d['id']!r} occurs twice (documents {j} and {i} "
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


def strip_html(text: str) -> str:
    """Remove HTML markup and entities from a product description; collapse whitespace."""
    s = _Stripper()
    s.feed(text)
    s.close()
    out = html.unescape("".join(s.parts))
    return re.sub(r"\s+", " ", out).strip()


# --------------------------------------------------------------------------------------- ESCI
def _read_parquet(path: Path, columns: list[str]):
    import pandas as pd

    try:
        df = pd.read_parquet(_need(path))
    except DataError:
        raise
    except Exception as e:  # corrupt file
        raise DataError(f"{path}: cannot read parquet ({type(e).__name__}: {e})") from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, df.columns))}")
    return df


ESCI_EXAMPLE_COLS = ["example_id", "query", "query_id", "product_id", "product_locale", "esci_label", "split"]
ESCI_PRODUCT_COLS = ["product_id", "product_title", "product_description", "product_bullet_point",
                     "product_brand", "product_color", "product_locale"]


def _esci_tables(folder: Path, files: dict[str, str]):
    ex_path = folder / files["examples"]
    pr_path = folder / files["products"]
    ex = _read_parquet(ex_path, ESCI_EXAMPLE_COLS)
    pr = _read_parquet(pr_path, ESCI_PRODUCT_COLS)
    return ex, pr, [str(ex_path), str(pr_path)]


def _product_index(pr, pr_path: str) -> dict[tuple[str, str], dict]:
    products: dict[tuple[str, str], dict] = {}
    for i, row in enumerate(pr[ESCI_PRODUCT_COLS].itertuples(index=False)):
        key = (str(row.product_id), str(row.product_locale))
        if key in products:
            raise DataError(f"{pr_path}: row {i}: duplicate product {key[0]} in locale {key[1]}")
        products[key] = row._asdict()
    return products


def read_esci(folder: Path, files: dict[str, str], locale: str = "us") -> FamilyData:
    ex, pr, files = _esci_tables(folder, files)
    products = _product_index(pr, files[1])
    if locale != "all":
        ex = ex[ex["product_locale"] == locale]
    splits: dict[str, list[dict]] = {}
    for i, row in zip(ex.index, ex[ESCI_EXAMPLE_COLS].itertuples(index=False)):
        where = f"{files[0]}: row {i} (example_id {row.example_id})"
        label = _text(row.esci_label)
        if label not in ESCI_LABELS:
            raise DataError(f"{where}: unknown esci_label {label!r}; expected one of E, S, C, I")
        split = _text(row.split)
        if split not in ("train", "test", "dev", "validation"):
            raise DataError(f"{where}: unknown split {split!r}; expected train or test")
        prod = products.get((str(row.product_id), str(row.product_locale)))
        if prod is None:
            raise DataError(f"{where}: product {row.product_id} (locale {row.product_locale}) "
                            f"not in {files[1]}")
        splits.setdefault(split, []).append({
            "id": f"esci-{int(row.example_id)}",
            "query": _text(row.query),
            "query_id": int(row.query_id),
            "product_id": str(row.product_id),
            "locale": str(row.product_locale),
            "title": _text(prod["product_title"]),
            "brand": _text(prod["product_brand"]),
            "color": _text(prod["product_color"]),
            "bullets": _text(prod["product_bullet_point"]),
            "description": strip_html(_text(prod["product_description"])),
            "label": label,
        })
    return FamilyData("esci", splits, "", files, split_files={s: files[0] for s in splits})


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


def read_desc_gen(folder: Path, files: dict[str, str], locale: str = "us") -> FamilyData:
    _ex, pr, files = _esci_tables(folder, files)
    pr = pr[pr["product_locale"] == locale]
    _product_index(pr, files[1])  # duplicate check
    splits: dict[str, list[dict]] = {"train": [], "test": []}
    skipped: dict[str, int] = {}
    for row in pr[ESCI_PRODUCT_COLS].itertuples(index=False):
        title, bullets = _text(row.product_title), _text(row.product_bullet_point)
        desc = strip_html(_text(row.product_description))
        reason = desc_gen_skip_reason(title, bullets, desc)
        if reason:
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        pid = str(row.product_id)
        splits[desc_gen_split(desc)].append({
            "id": f"desc-{pid}",
            "product_id": pid,
            "title": title,
            "brand": _text(row.product_brand),
            "color": _text(row.product_color),
            "bullets": bullets,
            "description": desc,
        })
    return FamilyData("desc_gen", splits, "", [files[1]], skipped, {s: files[1] for s in splits})


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

    def __call__(self, root: Path, folder: str | None = None, files: dict | None = None,
                 where: str = "dataset_kwargs", **options) -> FamilyData:
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
        return self.read(path if path.is_absolute() else root / path, names, **options)


_ESCI_FILES = {"examples": "shopping_queries_dataset_examples.parquet",
               "products": "shopping_queries_dataset_products.parquet"}
READERS: dict[str, Reader] = {
    "esci": Reader(read_esci, "esci", _ESCI_FILES, ("locale",), "ESCI parquet pair: query-product labels"),
    "queryner": Reader(read_queryner, "queryner", {"train": "train.txt", "dev": "dev.txt", "test": "test.txt"},
                       ("bio",), "CoNLL token<TAB>tag, one query per block"),
    "review_summ": Reader(read_fewsum, "fewsum_amazon",
                          {"train": "train.csv", "validation": "val.csv", "test": "test.csv"}, (),
                          "FewSum TSV: 8 reviews, 3 summaries"),
    "desc_gen": Reader(read_desc_gen, "esci", _ESCI_FILES, ("locale",), "ESCI products parquet: descriptions"),
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


def info_table(data_dir: str | None = None, locale: str = "us") -> str:
    """Per task family and split: documents, label distribution, source (``ecomsuite data info``)."""
    rows = [("family", "split", "docs", "labels", "source")]
    notes = []
    for fam, reader in READERS.items():
        opts = {"locale": locale} if "locale" in reader.options else {}
        data = load_family(fam, data_dir, **opts)
        src = "embedded sample (not real data)" if data.is_sample else data.source
        for split, docs in data.splits.items():
            rows.append((fam, split, str(len(docs)), label_distribution(fam, docs), src))
        for reason, n in data.skipped.items():
            notes.append(f"{fam}: {n} row(s) left out or repaired: {reason}")
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines + ([""] + notes if notes else []))
