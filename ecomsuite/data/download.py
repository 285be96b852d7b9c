"""``ecomsuite data download``: fetch each dataset from its publisher, verify pinned checksums, and
write exactly the layout the readers in :mod:`ecomsuite.data` read.

    ecomsuite data download                            # all datasets -> ~/.cache/ecomsuite/data
    ecomsuite data download --tasks queryner review_summ --to ../data
    ecomsuite data download --mirror https://mirror.internal/ecomsuite   # or $ECOMSUITE_DATA_MIRROR
    ecomsuite data download --mirror hf://datasets/acme/ecomsuite-mirror  # a Hub dataset repo ($HF_ENDPOINT)

Every file is pinned (repository, commit, path, sha256, size) in :data:`DATASETS`. A file is written
to ``<name>.part`` (resumed with an HTTP Range request when a transfer was cut), checked against its
pinned size and sha256, and only then renamed into place; a mismatch removes it. Verified files are
recorded in ``<to>/ecomsuite-sources.json`` (url, sha256, licence), so a rerun downloads nothing, and
results can name the real source.

Mirror layout: ``MIRROR/<owner>/<repo>/<path in repo>`` -- what ``git clone`` (plus ``git lfs pull``
for esci-data) of each publisher repository under ``MIRROR/<owner>/`` gives, served by any static
HTTP server. The repositories are amazon-science/esci-data, bltlab/query-ner, abrazinskas/FewSum and
wbsg-uni-mannheim/ExtractGPT.

A Hub-hosted mirror, ``hf://datasets/<owner>/<repo>[@<revision>]``, is a dataset repository on the Hugging
Face Hub (or a private Hub: ``$HF_ENDPOINT``) holding the same layout ``<owner>/<repo>/<path in repo>``;
each file is fetched from ``{$HF_ENDPOINT or https://huggingface.co}/datasets/<owner>/<repo>/resolve/
<revision, default main>/<owner>/<repo>/<path>`` with the same resumable transfer and the same pinned size
and sha256 checks (a mirror is never trusted). ``$HF_TOKEN`` (else the token `hf auth login` saved), when there is one, is sent as ``Authorization: Bearer``
to that endpoint only (not to a host it redirects to) and is never printed.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ecomsuite import EcomError, __version__

MIRROR_ENV = "ECOMSUITE_DATA_MIRROR"
HF_DEFAULT_ENDPOINT = "https://huggingface.co"
MANIFEST = "ecomsuite-sources.json"
USER_AGENT = f"ecomsuite/{__version__} (data download)"


def default_data_dir() -> Path:
    """Where downloads go and where every command looks after ``--data-dir`` and ``$ECOMSUITE_DATA``:
    ``$XDG_CACHE_HOME/ecomsuite/data``, by default ``~/.cache/ecomsuite/data``."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "ecomsuite" / "data"


class DownloadError(EcomError):
    """A file could not be fetched or verified; the message is one line for the user."""


class Unreachable(DownloadError):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status      # the HTTP status when the server answered with an error


class ChecksumMismatch(DownloadError):
    pass


# ------------------------------------------------------------------------------ the pinned table
@dataclass(frozen=True)
class Source:
    """One publisher file, pinned. ``dest`` is where the verified file lands under the data folder."""
    repo: str        # owner/name on GitHub
    commit: str
    path: str        # inside the repository
    sha256: str
    size: int
    dest: str
    lfs: bool = False   # Git LFS object (the pointer in the repository gives sha256 and size)

    def url(self, mirror: str | None = None) -> str:
        if mirror:
            return f"{mirror.rstrip('/')}/{self.repo}/{self.path}"
        host = "https://media.githubusercontent.com/media" if self.lfs else "https://raw.githubusercontent.com"
        return f"{host}/{self.repo}/{self.commit}/{self.path}"


@dataclass(frozen=True)
class Dataset:
    name: str                       # folder under the data dir
    families: tuple[str, ...]       # ecomsuite.data reader families it serves
    licence: str
    homepage: str
    sources: tuple[Source, ...]
    outputs: tuple[str, ...]        # the files the readers read (relative to the data dir)
    manual: str                     # what to do by hand when the download is blocked
    convert: Callable[[Path], dict[str, str]] | None = None   # data dir -> {output: text}
    status: str = "pinned"          # "pinned" or "manual" (no official file could be pinned)


ESCI_COMMIT = "7916cdf6ab75a462e77f20ab40428a10923998d5"
QUERYNER_COMMIT = "3cbc24cc5f49df458e19f4e21ecef295d48c7966"
FEWSUM_COMMIT = "0786bca7ae9b9e9107dc456561401037a2b89dce"
EXTRACTGPT_COMMIT = "3f96461b28bd3f0c8ac7c479d595969a9b77d0ab"

ESCI_EXAMPLES = Source("amazon-science/esci-data", ESCI_COMMIT,
                       "shopping_queries_dataset/shopping_queries_dataset_examples.parquet",
                       "4a735b693b4a424a6fc67f5be6e4c811495c488bbf66d02a602d308b2744263a", 51_286_808,
                       "esci/shopping_queries_dataset_examples.parquet", lfs=True)
ESCI_PRODUCTS = Source("amazon-science/esci-data", ESCI_COMMIT,
                       "shopping_queries_dataset/shopping_queries_dataset_products.parquet",
                       "25124442d064d64b26f74082d6fa09438d679efc0c183cf28d19064a2b65a265", 1_108_857_465,
                       "esci/shopping_queries_dataset_products.parquet", lfs=True)
QUERYNER_OFFSETS = {
    "train": ("65044e65c38d6d4535cdcb65adfb0efd2f59378091e576a9349a41b41c3e60da", 768_349),
    "dev": ("ff87b8acd70ee333331d9b751e61d6096e7da03eeb2348e4e8f2b8678ada2d2e", 84_461),
    "test": ("e7d587da2de5256edbbeeb91015176fcf5a7b76d6db32d44ca9ba0537d431012", 97_255),
}
FEWSUM_FILES = {
    "train": ("708c90e209054c7e02095c40c70b7d84950603a13fc55abebb6feac9f8f57d2a", 83_709),
    "val": ("31e510aa2ffce8f6882481ecc5d2ee6c1d19be6e7e78265e1c3874b6a8f7e032", 36_630),
    "test": ("4fa81b4f2ea7a0b8239286ebc91faa350a02af0bb89cf66cc0f1a88d8cc4ac71", 59_245),
}
AE110K_FILES = {
    "train": ("17b3cf2e9bd31a21426b8889a55b5c76173c14a92480f970566d657ca53cce95", 399_194),
    "test": ("2172561fc99390619b5b7455c3d1aa866dd648a2c01eab4ae53ae0c054e8eb2a", 134_552),
}
QUERYNER_SPLITS = ("train", "dev", "test")


def _queryner_offset_source(split: str) -> Source:
    sha, size = QUERYNER_OFFSETS[split]
    path = f"offset-splits/{split}.jsonl"
    return Source("bltlab/query-ner", QUERYNER_COMMIT, path, sha, size, f".sources/bltlab/query-ner/{path}")


# ---------------------------------------------------------------------------- QueryNER assembly
def queryner_conll(offset_lines: Iterable[str], queries: Mapping[int, str], where: str) -> str:
    """QueryNER's published offsets (JSON lines ``{"example_id", "labels"}``) + ESCI queries ->
    CoNLL text (``token<TAB>tag`` a line, blank line after each query), exactly as the publisher's
    ``assemble_dataset.py`` writes it: tokens are ``query.strip().split()``."""
    from ecomsuite.data import DataError

    out: list[str] = []
    for i, line in enumerate(offset_lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            eid, labels = int(row["example_id"]), row["labels"]
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise DataError(f"{where}: line {i}: expected {{\"example_id\": int, \"labels\": [...]}} "
                            f"({type(e).__name__}: {e})") from None
        query = queries.get(eid)
        if query is None:
            raise DataError(f"{where}: line {i}: example_id {eid} is not in the ESCI examples file")
        tokens = query.strip().split()
        if len(tokens) != len(labels):
            raise DataError(f"{where}: line {i}: example_id {eid} has {len(labels)} labels but its query "
                            f"{query!r} has {len(tokens)} tokens")
        out.extend(f"{t}\t{label}" for t, label in zip(tokens, labels))
        out.append("")
    return "\n".join(out) + "\n" if out else ""


def esci_queries(path: Path, ids: set[int]) -> dict[int, str]:
    """example_id -> query for the wanted ids, read in record batches (the full file has 2.6M rows)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    wanted = pa.array(sorted(ids), type=pa.int64())
    found: dict[int, str] = {}
    for batch in pq.ParquetFile(path).iter_batches(columns=["example_id", "query"], batch_size=1 << 18):
        ex = batch.column(0).cast(pa.int64())
        sub = batch.filter(pc.is_in(ex, value_set=wanted))
        found.update(zip(sub.column(0).cast(pa.int64()).to_pylist(), sub.column(1).to_pylist()))
    return found


def convert_queryner(root: Path) -> dict[str, str]:
    offsets = {s: (root / _queryner_offset_source(s).dest).read_text(encoding="utf-8").splitlines()
               for s in QUERYNER_SPLITS}
    ids = {int(json.loads(line)["example_id"]) for lines in offsets.values() for line in lines if line.strip()}
    queries = esci_queries(root / ESCI_EXAMPLES.dest, ids)
    return {f"queryner/{s}.txt": queryner_conll(offsets[s], queries, str(root / _queryner_offset_source(s).dest))
            for s in QUERYNER_SPLITS}


DATASETS: dict[str, Dataset] = {d.name: d for d in (
    Dataset(
        "esci", ("esci", "desc_gen"), "Apache-2.0",
        "https://github.com/amazon-science/esci-data",
        (ESCI_EXAMPLES, ESCI_PRODUCTS),
        (ESCI_EXAMPLES.dest, ESCI_PRODUCTS.dest),
        "git clone https://github.com/amazon-science/esci-data && cd esci-data && git lfs pull; "
        "copy shopping_queries_dataset/shopping_queries_dataset_{examples,products}.parquet into DIR/esci/"),
    Dataset(
        "queryner", ("queryner",), "CC BY 4.0 (annotations; code MIT); queries from ESCI (Apache-2.0)",
        "https://github.com/bltlab/query-ner",
        (ESCI_EXAMPLES,) + tuple(_queryner_offset_source(s) for s in QUERYNER_SPLITS),
        tuple(f"queryner/{s}.txt" for s in QUERYNER_SPLITS),
        "git clone https://github.com/bltlab/query-ner && cd query-ner && ./prepare_dataset.sh; "
        "copy queryner_data/{train,dev,test}.txt into DIR/queryner/",
        convert=convert_queryner),
    Dataset(
        "fewsum_amazon", ("review_summ",), "MIT",
        "https://github.com/abrazinskas/FewSum",
        tuple(Source("abrazinskas/FewSum", FEWSUM_COMMIT, f"artifacts/amazon/gold_summs/{s}.csv", sha, size,
                     f"fewsum_amazon/{s}.csv") for s, (sha, size) in FEWSUM_FILES.items()),
        tuple(f"fewsum_amazon/{s}.csv" for s in FEWSUM_FILES),
        "git clone https://github.com/abrazinskas/FewSum; copy artifacts/amazon/gold_summs/{train,val,test}.csv "
        "into DIR/fewsum_amazon/"),
    Dataset(
        "ae110k", ("attr_extract",),
        "Apache-2.0 (ExtractGPT release; AE-110k from cubenlp/ACL19_Scaling_Up_Open_Tagging)",
        "https://github.com/wbsg-uni-mannheim/ExtractGPT",
        tuple(Source("wbsg-uni-mannheim/ExtractGPT", EXTRACTGPT_COMMIT, f"data/processed_datasets/ae-110k/{s}.jsonl",
                     sha, size, f"ae110k/{s}.jsonl") for s, (sha, size) in AE110K_FILES.items()),
        tuple(f"ae110k/{s}.jsonl" for s in AE110K_FILES),
        "git clone https://github.com/wbsg-uni-mannheim/ExtractGPT; copy data/processed_datasets/ae-110k/"
        "{train,test}.jsonl into DIR/ae110k/"),
)}


def holds_data(folder: Path) -> bool:
    """True when ``folder`` holds at least one complete file of the readers' layout."""
    return any((folder / rel).is_file() for d in DATASETS.values() for rel in d.outputs)


def select(names: Iterable[str] | None) -> list[Dataset]:
    """Datasets for ``--tasks``: dataset names (esci, queryner, fewsum_amazon, ae110k), reader families
    (desc_gen, review_summ, attr_extract) or lm-eval task names (ecom_esci, ecom_queryner_gen, ...)."""
    if not names:
        return list(DATASETS.values())
    chosen: list[Dataset] = []
    for raw in names:
        key = raw.removeprefix("ecom_")
        hits = [d for d in DATASETS.values()
                if key == d.name or any(key == f or key.startswith(f + "_") for f in d.families)]
        if not hits:
            known = sorted({n for d in DATASETS.values() for n in (d.name, *d.families)})
            raise EcomError(f"--tasks: unknown dataset or task {raw!r}; known: {', '.join(known)}")
        chosen.extend(d for d in hits if d not in chosen)
    return chosen


# ------------------------------------------------------------------------------------ mirrors
@dataclass(frozen=True)
class Mirror:
    """Where the mirror layout ``<owner>/<repo>/<path>`` hangs (``base``), and the Authorization header that
    goes with requests to it (a Hub mirror with ``$HF_TOKEN`` set)."""
    base: str
    hub: bool = False
    auth: str | None = None


_HF_MIRROR = re.compile(r"hf://datasets/(?P<repo>[^/@\s]+/[^/@\s]+)/?(?:@(?P<rev>\S+))?")


def parse_mirror(mirror: str | None) -> Mirror | None:
    """``--mirror`` / ``$ECOMSUITE_DATA_MIRROR``: a base URL, or ``hf://datasets/<owner>/<repo>[@<revision>]``
    (a Hub dataset repository at ``$HF_ENDPOINT``, default https://huggingface.co; revision default main)."""
    if not mirror:
        return None
    if not mirror.startswith("hf://"):
        return Mirror(mirror.rstrip("/"))
    m = _HF_MIRROR.fullmatch(mirror.strip())
    if not m:
        raise EcomError(f"--mirror {mirror!r}: a Hub mirror is hf://datasets/<owner>/<repo>[@<revision>] "
                        "(a dataset repository holding <owner>/<repo>/<path> of each publisher)")
    endpoint = (os.environ.get("HF_ENDPOINT") or HF_DEFAULT_ENDPOINT).rstrip("/")
    rev = urllib.parse.quote(m["rev"] or "main", safe="")
    token = _hub_token()
    return Mirror(f"{endpoint}/datasets/{m['repo']}/resolve/{rev}", hub=True,
                  auth=f"Bearer {token}" if token else None)


def _hub_token() -> str:
    """The Hub token the user gave: ``$HF_TOKEN``, else the one ``hf auth login`` saved (huggingface_hub's
    own lookup, so the same token a Hub task would use)."""
    try:
        from huggingface_hub import get_token
    except ImportError:
        return os.environ.get("HF_TOKEN", "").strip()
    return (get_token() or "").strip()


def _origin(url: str) -> tuple[str, str]:
    split = urllib.parse.urlsplit(url)
    return split.scheme.lower(), split.netloc.lower()


class _AuthSameOriginOnly(urllib.request.HTTPRedirectHandler):
    """Follows redirects as urllib does; the Authorization header (added unredirected) is sent again only
    when the redirect stays on the same scheme, host and port (the Hub sends large files to a CDN)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        auth = req.unredirected_hdrs.get("Authorization")
        if new is not None and auth and _origin(newurl) == _origin(req.full_url):
            new.add_unredirected_header("Authorization", auth)
        return new


# ---------------------------------------------------------------------------------- manifest
def _read_manifest(root: Path) -> dict:
    p = root / MANIFEST
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, json.JSONDecodeError):
        return {}


def _write_manifest(root: Path, manifest: dict) -> None:
    tmp = root / (MANIFEST + ".part")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, root / MANIFEST)


def _stat(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _verified(path: Path, sha: str, entry: dict | None) -> bool:
    """The file at ``path`` has sha256 ``sha``; trusts a manifest entry whose size and mtime still match."""
    if not path.is_file():
        return False
    if entry and entry.get("sha256") == sha and {k: entry.get(k) for k in ("size", "mtime_ns")} == _stat(path):
        return True
    return sha256_file(path) == sha


# ---------------------------------------------------------------------------------- transfer
def _reason(e: BaseException) -> str:
    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP {e.code} {e.reason}"
    if isinstance(e, urllib.error.URLError):
        e = e.reason if isinstance(e.reason, BaseException) else e
        return f"{type(e).__name__}: {e}" if not isinstance(e, str) else e
    return f"{type(e).__name__}: {e}"


def _transfer(url: str, part: Path, size: int, timeout: float, label: str, auth: str | None = None) -> None:
    """Append to ``part`` from where it stops (HTTP Range); a server without Range support restarts it.
    Returns when the server closes the stream, whether complete or cut (the caller checks the size).
    ``auth``: an Authorization header for ``url``'s origin (never sent to another host it redirects to)."""
    from tqdm.auto import tqdm

    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if have:
        request.add_header("Range", f"bytes={have}-")
    if auth:
        request.add_unredirected_header("Authorization", auth)
    try:
        resp = urllib.request.build_opener(_AuthSameOriginOnly).open(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:      # nothing left to send: the .part is complete (or too long)
            return
        raise Unreachable(_reason(e), status=e.code) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        raise Unreachable(_reason(e)) from None
    with resp:
        if have and getattr(resp, "status", None) != 206:
            have = 0                    # Range ignored: start over
        with open(part, "ab" if have else "wb") as fh, \
                tqdm(total=size, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                     desc=label, leave=False, disable=None) as bar:
            while True:
                try:
                    chunk = resp.read(1 << 20)
                except (http.client.HTTPException, OSError):
                    return              # connection cut mid-file: keep what arrived
                if not chunk:
                    return
                fh.write(chunk)
                bar.update(len(chunk))
                if fh.tell() > size:
                    return


def fetch_file(src: Source, root: Path, url: str, manifest: dict, licence: str,
               timeout: float = 60, retries: int = 3, auth: str | None = None) -> str:
    """Make ``root/src.dest`` the verified publisher file. Returns "cached", "downloaded" or "replaced"
    (a file was there whose checksum is not the pinned one; it is replaced once the new file verifies)."""
    dest = root / src.dest
    files = manifest.setdefault("files", {})
    if _verified(dest, src.sha256, files.get(src.dest)):
        files[src.dest] = {"url": url, "sha256": src.sha256, "licence": licence, **_stat(dest)}
        return "cached"
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = -1
    for _ in range(max(retries, 1)):
        before = part.stat().st_size if part.exists() else 0
        if before >= src.size or before == have:
            break
        have = before
        _transfer(url, part, src.size, timeout, Path(src.dest).name, auth)
    got = part.stat().st_size if part.exists() else 0
    if got < src.size:
        raise Unreachable(f"connection cut at {got:,} of {src.size:,} bytes; {part} kept, a rerun resumes it")
    digest = sha256_file(part) if got == src.size else "(size differs)"
    if digest != src.sha256:
        part.unlink()
        raise ChecksumMismatch(f"{src.dest}: checksum mismatch, refused and removed "
                               f"(got {got:,} bytes sha256 {digest[:16]}, pinned {src.size:,} bytes "
                               f"sha256 {src.sha256[:16]})")
    replaced = dest.exists()
    os.replace(part, dest)
    files[src.dest] = {"url": url, "sha256": src.sha256, "licence": licence, **_stat(dest)}
    return "replaced" if replaced else "downloaded"


def _write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    part.write_text(text, encoding="utf-8")
    os.replace(part, path)


def build_outputs(ds: Dataset, root: Path, manifest: dict) -> str:
    """Run ``ds.convert`` unless its outputs are present and were made from the same pinned inputs."""
    inputs = {s.dest: s.sha256 for s in ds.sources}
    derived = manifest.setdefault("derived", {})
    if all((e := derived.get(o)) and e.get("inputs") == inputs and _verified(root / o, e.get("sha256"), e)
           for o in ds.outputs):
        return "cached"
    texts = ds.convert(root)
    for rel, text in texts.items():
        _write_text_atomic(root / rel, text)
        derived[rel] = {"inputs": inputs, "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                        "licence": ds.licence, **_stat(root / rel)}
    return "converted"


# ------------------------------------------------------------------------------------ command
def download(to: Path, datasets: list[Dataset], mirror: str | None = None, out: Callable[[str], None] = print,
             timeout: float = 60, retries: int = 3) -> int:
    """Fetch, verify and lay out each dataset; one line per problem. Returns the exit code (0 or 2).
    ``mirror``: a base URL or ``hf://datasets/<owner>/<repo>[@<revision>]`` (:func:`parse_mirror`)."""
    from ecomsuite.data import DataError

    where = parse_mirror(mirror)
    to = Path(to).expanduser()
    to.mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(to)
    failed = 0
    for ds in datasets:
        out(f"{ds.name}: licence {ds.licence} -- {ds.homepage}")
        if ds.status != "pinned":
            out(f"{ds.name}: no official file could be pinned; manual: {ds.manual.replace('DIR', str(to))}")
            failed += 1
            continue
        url = ""
        try:
            states = []
            for src in ds.sources:
                url = src.url(where.base if where else None)
                states.append(fetch_file(src, to, url, manifest, ds.licence, timeout, retries,
                                         where.auth if where else None))
                if states[-1] == "replaced":
                    out(f"{ds.name}: replaced {to / src.dest} (its checksum was not the pinned one)")
            if ds.convert:
                url = ""
                states.append(build_outputs(ds, to, manifest))
        except Unreachable as e:
            failed += 1
            hint = ("; a private Hub repository needs $HF_TOKEN" if where and where.hub and not where.auth
                    and e.status in (401, 403, 404) else "")
            out(f"{ds.name}: cannot download {url} ({e}{hint}); manual: {ds.manual.replace('DIR', str(to))}")
            continue
        except ChecksumMismatch as e:
            failed += 1
            out(f"{ds.name}: {e} from {url}")
            continue
        except DataError as e:
            failed += 1
            out(f"{ds.name}: cannot convert the publisher's files: {e}")
            continue
        finally:
            _write_manifest(to, manifest)
        verb = "already verified, nothing downloaded" if set(states) == {"cached"} else "ok"
        out(f"{ds.name}: {verb} -> {', '.join(str(to / o) for o in ds.outputs)}")
    if failed:
        out(f"{failed} of {len(datasets)} dataset(s) not downloaded; see the lines above")
        return 2
    _summarise(to, [d for d in datasets if d.name == "esci"], out)
    missing = [d.name for d in DATASETS.values() if not all((to / o).is_file() for o in d.outputs)]
    if missing:
        out(f"note: {to} has no {', '.join(missing)} yet; tasks reading them stop with 'file not found' "
            f"until you run: ecomsuite data download --tasks {' '.join(missing)}"
            + ("" if to.resolve() == default_data_dir().resolve() else f" --to {to}"))
    env = os.environ.get("ECOMSUITE_DATA")
    if to.resolve() == default_data_dir().resolve() and not env:
        out(f"done: every command now reads {to} without flags (try: ecomsuite data info)")
    else:
        out(f"done: use it with --data-dir {to} or ECOMSUITE_DATA={to}"
            + (f" ($ECOMSUITE_DATA={env} is set and comes first)" if env else ""))
    return 0


def _summarise(to: Path, datasets: list[Dataset], out: Callable[[str], None]) -> None:
    """Compute what ``ecomsuite data info`` shows for the full ESCI release now (default locale; ~17 s on two
    cores), while the user waits for the download anyway: its summaries are cached by file identity, so the
    first ``data info`` after a download reads them (~0.3 s)."""
    from ecomsuite.data import DataError, info_table

    if not datasets:
        return
    out(f"{', '.join(d.name for d in datasets)}: summarising for `ecomsuite data info` (once per file; "
        "later runs read the cache)")
    try:
        info_table(str(to))   # the command's own path, so the cache keys are the ones it looks up
    except DataError as e:    # verified files the readers refuse: say so now, not at the first task
        out(f"the readers refuse the downloaded files: {e}")


def run(args) -> int:
    """Entry point of ``ecomsuite data download`` (arguments from ecomsuite.cli)."""
    to = Path(args.to).expanduser() if args.to else default_data_dir()
    mirror = args.mirror or os.environ.get(MIRROR_ENV) or None
    return download(to, select(args.tasks), mirror)
