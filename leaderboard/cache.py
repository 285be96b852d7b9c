"""Per-samples-file cache of the samples stage and of the cell's statistics, so that a rebuild after
one new run reads one new file and bootstraps one new run.

An entry holds what reading one samples file produced (the statistics' arrays and the viewer file's
bytes). Its key is the file's identity (:func:`file_identity`: device, inode, size, mtime, ctime and a
sha256 of its first and last 4 KiB) plus everything else the result depends on: the job (system, task, metric, filter, cluster field,
viewer file name), the task's shared docs digests, and the code version (a hash of the leaderboard's
own sources, of ecomsuite's bootstrap/metrics/parsing and the versions of the libraries the metrics
call), so a code change invalidates everything.

The same entry holds the cell's statistics (``stats.CellPrep``: the prepared metric's per-document
sufficient statistics, its full-set value, the bootstrap array and the notes), under a *stats key*:
the entry's key + the resample count, the seed, the task's version and the format of this part. An
entry whose stats key differs (another ``--seed`` or ``--bootstrap-iters``) still gives the samples
part; the statistics are computed again from its items and the entry rewritten. The finishing
function of a metric is stored by name (``bootstrap.FINISHERS``), never as code.

The cache folder sits beside the site (``<out>.cache``); only files named ``*.lbcache`` in it are
ever written or pruned. An entry is one flat file (:func:`pack`): a magic line, a JSON index
naming each member's dtype (little-endian numbers or bytes only), shape and place, then the raw
arrays: a ``meta`` member (JSON: the format, the entry's own key, the scalar fields, string
lists), the numeric arrays, a corpus metric's JSON items as their own member (with a CRC in the
meta; decoded only when something reads them, :class:`CachedSampleData`), and the viewer file's
bytes (their size and sha256 in the meta). At a rebuild the viewer member is not read at all when
the published site's file at the same place holds those bytes: the staged file is a hard link to
it (:class:`ViewPlacer`). Arrays are copied out of the entry's bytes (views would keep every entry of a build in
memory). A build loads in more than one call (:func:`pruning_deferred`). Reading it is one ``read`` and
``numpy.frombuffer`` per member -- nothing in it can run code when read (there is no pickle, no
object dtype). A planted pickle, a corrupt, truncated or foreign entry (another key's, another
format) is refused with a reason, and the samples file is read again. (An ``.npz`` archive, used
before, cost ~5 ms an entry in zip and header parsing: 30 s for the 6,000 entries of 1,000 runs.)
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import stat
import tempfile
import zlib
from collections.abc import Iterator
from itertools import repeat
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from . import safeio
from .samples import SampleData, SampleJob, _fast_dumps, _fast_loads  # orjson's, or None (samples imports it)

SUFFIX = ".lbcache"
FORMAT = "ecomsuite-lbcache/6"
CELL_FORMAT = "cell/1"
HEAD_BYTES = 1 << 12  # hashed at each end of a samples file (see file_identity)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_VERSION: str | None = None


MAGIC = b"ECOMSUITE-LBCACHE\n"
_DTYPES = frozenset({"|u1", "|i1", "<u2", "<i2", "<i4", "<u4", "<i8", "<f8"})  # numbers only: no object, no pickle
_DTYPE_OF = {d: np.dtype(d) for d in _DTYPES}


def pack(members: dict[str, np.ndarray]) -> bytes:
    """MAGIC, the index's length (8 bytes, little-endian), the index (ASCII JSON: name -> [dtype,
    shape, offset, length]), then each member's raw bytes."""
    index: dict[str, list] = {}
    blobs: list[bytes] = []
    off = 0
    for name, a in members.items():
        a = np.ascontiguousarray(a)
        dt = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
        if dt.str not in _DTYPES:
            raise TypeError(f"{name}: dtype {a.dtype} is not stored")
        b = a.astype(dt, copy=False).tobytes()
        index[name] = [dt.str, [int(x) for x in a.shape], off, len(b)]
        blobs.append(b)
        off += len(b)
    head = json.dumps(index, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return MAGIC + len(head).to_bytes(8, "little") + head + b"".join(blobs)


def unpack(data: bytes, total: int | None = None, omit: str | None = None) -> dict[str, np.ndarray]:
    """The members of :func:`pack`'s bytes (read-only views of ``data``); Unusable when anything
    is not as :func:`pack` writes it. ``data`` may be the first bytes of an entry of ``total``
    bytes that stop where member ``omit`` begins (:func:`_read_before`): that member is checked against
    ``total`` like the others and left out."""
    _need(data[:len(MAGIC)] == MAGIC, "not a cache entry of this tool (no magic line)")
    start = len(MAGIC) + 8
    _need(len(data) >= start, "truncated")
    n = int.from_bytes(data[len(MAGIC):start], "little")
    _need(n <= len(data) - start, "truncated index")
    index = _loads_ascii(data[start:start + n])  # ASCII JSON; anything odd raises
    _need(isinstance(index, dict), "index is not an object")
    base, size = start + n, (len(data) if total is None else total) - start - n
    out: dict[str, np.ndarray] = {}
    for name, spec in index.items():  # plain loops: this runs for every member of every entry of a rebuild
        if type(spec) is not list or len(spec) != 4 or spec[0] not in _DTYPES:
            raise Unusable(f"{str(name)[:40]}: bad index entry")
        dts, shape, off, length = spec
        count = 1
        ok = type(shape) is list and type(off) is int and type(length) is int and off >= 0 and length >= 0
        for x in shape if ok else ():
            if type(x) is not int or x < 0:  # type(True) is bool, not int
                ok = False
                break
            count *= x
        if not ok:
            raise Unusable(f"{str(name)[:40]}: bad shape or place")
        dt = _DTYPE_OF[dts]
        if count * dt.itemsize != length or off + length > size:
            raise Unusable(f"{str(name)[:40]}: truncated or inconsistent")
        if name == omit:
            continue
        a = np.frombuffer(data, dtype=dt, count=count, offset=base + off)
        out[name] = a if len(shape) == 1 else a.reshape(shape)
    return out


def _loads_ascii(text: bytes) -> Any:
    """JSON of ASCII bytes (UnicodeDecodeError otherwise), by orjson where it can (an entry's index
    and meta: twice per entry of a rebuild), else by json.loads (NaN, a lone surrogate: what orjson
    refuses). An integer beyond 64 bits comes back a float (json.loads: an int); :func:`encode`
    writes none, and every count and place is checked to be an int, so such an entry is refused."""
    if not text.isascii():
        text.decode("ascii")  # raises: the entry is refused as before
    if _fast_loads is not None:
        try:
            return _fast_loads(text)
        except ValueError:  # orjson.JSONDecodeError: parsed (or refused) by json below
            pass
    return json.loads(text.decode("ascii"))


def cache_dir_for(out: str | os.PathLike) -> Path:
    out = Path(out)
    return out.parent / f"{out.name}.cache"


def code_version() -> str:
    """A hash of every source file whose change could change a cached result."""
    global _VERSION
    if _VERSION is None:
        here = Path(__file__).resolve().parent
        import ecomsuite

        core = Path(ecomsuite.__file__).resolve().parent
        files = sorted(here.glob("*.py")) + [core / n for n in ("bootstrap.py", "metrics.py", "parsing.py")]
        h = hashlib.sha256()
        for f in files:
            h.update(f.name.encode())
            h.update(f.read_bytes() if f.is_file() else b"-")
        for dist in ("numpy", "seqeval", "sacrebleu"):  # the RNG stream and the metrics' own definitions
            h.update(f"\0{dist}={_dist_version(dist)}".encode())
        _VERSION = h.hexdigest()[:16]
    return _VERSION


def _dist_version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


def file_identity(path: str) -> str | None:
    """What identifies the file's bytes without reading them all: device, inode, size, mtime and
    ctime (of the opened descriptor: no race between looking and reading) + a sha256 of its first
    and last HEAD_BYTES; None when it can't be looked at (missing, not a regular file).

    Any write changes mtime and ctime, and ctime cannot be set back (``utime`` restoring an mtime
    sets ctime to now), so a same-size rewrite whose mtime was put back still changes the key; the
    head/tail hash also catches one in the same clock tick that changes either end of the file. A
    rename or copy is another inode (a miss; the same file under another path is the same key)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | _CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        h = hashlib.sha256(os.pread(fd, HEAD_BYTES, 0))
        if st.st_size > HEAD_BYTES:
            h.update(os.pread(fd, HEAD_BYTES, max(HEAD_BYTES, st.st_size - HEAD_BYTES)))
    except OSError:
        return None
    finally:
        os.close(fd)
    return f"{st.st_dev}\0{st.st_ino}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{h.hexdigest()}"


def key(job: Any, refs_digest: str) -> str | None:
    ident = file_identity(job.path)
    if ident is None:
        return None
    out_name = os.path.basename(job.out_file) if job.out_file else ""
    parts = [code_version(), ident, job.system_id, job.task, job.metric, job.filter, str(job.cluster_field),
             out_name, refs_digest]
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def stats_key(k: str, job: Any) -> str | None:
    """Key of the cell's statistics in the entry ``k``: everything they depend on beyond the samples
    file and the code (both in ``k``): the resample count, the seed and the task's version."""
    if job.boot is None:
        return None
    iters, seed = job.boot
    parts = [k, CELL_FORMAT, str(int(iters)), repr(seed), repr(job.version)]
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def refs_digest(refs: Any) -> str:
    if not refs:
        return "-"
    h = hashlib.sha256()
    for k in sorted(refs, key=repr):
        p, t = refs[k]
        h.update(repr(k).encode("utf-8", "surrogatepass") + p + t)
    return h.hexdigest()


class Unusable(Exception):
    """A cache entry that exists but is not used (corrupt, foreign, not an entry); the message says why."""


_ARRAY_FIELDS = ("doc_ids", "items", "parse_fail", "scores")
_KEY_SOURCES = ("id", "hash", "position")


def _encode_field(value: Any, name: str, arrays: dict[str, np.ndarray]) -> Any:
    """None | "array" (a numeric numpy array, stored as its own member) | {"texts": member, "len": n,
    "crc32": c} (an object array of str, stored as the ASCII JSON text of its list in its own member:
    a task's document keys are the same text in every system's entry, decoded once per process, see
    :func:`_strings`) | {"lazy": member, "len": n, "crc32": c} (a list of JSON items, stored as JSON
    text in its own member and decoded only when read: see :class:`CachedSampleData`)."""
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biuf" and value.ndim == 1:
            arrays[name] = value
            return "array"
        if value.dtype == object:
            strings = value.tolist()
            if all(map(isinstance, strings, repeat(str))):
                text = _orjson_ascii(strings) or json.dumps(strings, ensure_ascii=True, separators=(",", ":")).encode("ascii")
                member = f"{name}.texts"
                arrays[member] = np.frombuffer(text, dtype=np.uint8)
                return {"texts": member, "len": len(strings), "crc32": zlib.crc32(text)}
        raise TypeError(f"{name}: {value.dtype} array of {value.ndim} dimension(s) is not cached")
    if isinstance(value, list):
        text = _items_text(value)
        member = f"{name}.json"
        arrays[member] = np.frombuffer(text, dtype=np.uint8)
        return {"lazy": member, "len": len(value), "crc32": zlib.crc32(text)}
    raise TypeError(f"{name}: {type(value).__name__} is not cached")


def _orjson_ascii(value: Any) -> bytes | None:
    """orjson's JSON text of ``value`` when it writes one and it is ASCII; else None."""
    if _fast_dumps is None:
        return None
    try:
        text = _fast_dumps(value)
    except TypeError:  # (orjson.JSONEncodeError is one)
        return None
    return text if text.isascii() else None


def _items_text(value: list) -> bytes:
    """A list of JSON items as ASCII JSON text that ``safeio.loads`` reads back as ``value``:
    orjson's where it writes only ASCII and no ``null`` (the same values as json.dumps' text, ~8x
    faster; NaN and infinities would come back None), else ``json.dumps(ensure_ascii=True,
    allow_nan=True)``'s (non-ASCII text, NaN, None, a lone surrogate, integers past 64 bits, keys
    that are not text). The two texts differ only in spacing and number notation (tests pin the values)."""
    text = _orjson_ascii(value)
    if text is not None and b"null" not in text:
        return text
    return json.dumps(value, ensure_ascii=True, allow_nan=True, separators=(",", ":")).encode("ascii")


def _meta_text(meta: dict) -> bytes:
    """An entry's meta as ASCII JSON text that reads back as ``meta``: orjson's where its text is ASCII
    and reads back equal (~10x faster on a thousand document ids), else ``json.dumps(ensure_ascii=True,
    allow_nan=True)``'s -- NaN or an infinity (orjson writes null: not equal), non-ASCII text, a tuple,
    an integer past 64 bits."""
    text = _orjson_ascii(meta)
    if text is not None and _fast_loads(text) == meta:
        return text
    return json.dumps(meta, ensure_ascii=True, allow_nan=True, separators=(",", ":")).encode("ascii")


_COMPACT = tuple(np.dtype(t) for t in (np.uint8, np.int8, np.uint16, np.int16, np.int32))  # compact_integers' types


def compact_integers(a: np.ndarray) -> np.ndarray:
    """The smallest integer dtype that holds ``a`` exactly (counts), else ``a`` as it is."""
    if a.size == 0 or not np.all(np.isfinite(a)) or not np.array_equal(a, np.round(a)) or \
            bool(np.any(np.signbit(a) & (a == 0))):
        return a
    lo, hi = float(a.min()), float(a.max())
    for dt in _COMPACT:
        info = np.iinfo(dt)
        if info.min <= lo and hi <= info.max:
            return a.astype(dt)
    return a


def _encode_cell(cell: Any, data: SampleData, sk: str, arrays: dict[str, np.ndarray]) -> dict:
    prep = cell.prepared
    out: dict[str, Any] = {"stats_key": sk, "problems": [[str(lv), str(m)] for lv, m in cell.problems],
                           "prepared": None, "docs_fp": cell.docs_fp, "boot": cell.boot is not None}
    if cell.boot is not None:
        arrays["cell_boot"] = np.asarray(cell.boot, dtype=np.float64)
    if cell.ci is not None:  # [lo, hi, se] (se NaN: None)
        arrays["cell_ci"] = np.asarray([cell.ci[0], cell.ci[1], np.nan if cell.se is None else cell.se], dtype=np.float64)
    out["ci"] = cell.ci is not None
    if prep is None:
        return out
    if prep.n != len(data.doc_ids):
        raise ValueError("cell statistics not aligned with the documents")
    arrays["cell_value"] = np.asarray([prep.value], dtype=np.float64)
    if prep.stats is None:
        source = "direct"  # the library per resample: the items are the entry's own
    elif (prep.finish_id == "mean" and data.numeric and prep.stats.shape == (prep.n, 1)
          and np.array_equal(np.asarray(prep.stats[:, 0], dtype=np.float64).view(np.int64),
                             np.asarray(data.items, dtype=np.float64).view(np.int64))):
        source = "items"  # a mean's statistics are the numeric items themselves (bit for bit)
    else:
        source = "array"
        arrays["cell_stats"] = compact_integers(np.asarray(prep.stats, dtype=np.float64))
    out["prepared"] = {"n": int(prep.n), "finish_id": prep.finish_id, "note": prep.note, "source": source}
    return out


def encode(data: SampleData, view: bytes | None, k: str, sk: str | None = None) -> dict[str, np.ndarray]:
    """The members of the entry (see :func:`pack`); TypeError/ValueError when ``data`` holds something
    the format does not carry (then it is not cached). ``data.cell`` is stored under the stats key ``sk``."""
    arrays: dict[str, np.ndarray] = {}
    meta = {
        "format": FORMAT, "key": k, "numeric": bool(data.numeric), "n_docs_in_file": int(data.n_docs_in_file),
        "warnings": [str(w) for w in data.warnings], "error": data.error, "clusters": data.clusters,
        "n_nan": int(data.n_nan), "key_source": data.key_source, "cell": None,
        "view": None if view is None else [len(view), hashlib.sha256(view).hexdigest()],
    }
    for name in _ARRAY_FIELDS:
        meta[name] = _encode_field(getattr(data, name), name, arrays)
    if data.cell is not None and sk is not None:
        cell_arrays: dict[str, np.ndarray] = {}
        try:
            meta["cell"] = _encode_cell(data.cell, data, sk, cell_arrays)
            arrays.update(cell_arrays)
        except (TypeError, ValueError):
            pass  # the samples part is still cached; the statistics are computed again next time
    arrays["meta"] = np.frombuffer(_meta_text(meta), dtype=np.uint8)
    if view is not None:
        arrays["view"] = np.frombuffer(view, dtype=np.uint8)
    return arrays


def _need(ok: bool, what: str, name: str | None = None) -> None:
    """Unusable(``what``, after ``name: `` when given) unless ``ok`` (the message is made only then:
    this runs ~40 times per entry of a rebuild)."""
    if not ok:
        raise Unusable(what if name is None else f"{name}: {what}")


def _decode_field(spec: Any, name: str, members: dict[str, np.ndarray]) -> Any:
    """The field's value; for a lazily decoded list, ``_Pending`` (its JSON text, checked against its
    length and CRC here: a corrupt entry is refused now, not when the list is first read)."""
    if spec is None:
        return None
    if spec == "array":
        a = members.get(name)
        _need(a is not None, "array missing", name)
        _need(a.ndim == 1 and a.dtype.kind in "biuf", "not a 1-D numeric array", name)
        return a.copy()  # not a view: it would keep the whole entry's bytes alive
    _need(isinstance(spec, dict), "unknown encoding", name)
    texts = "texts" in spec  # else "lazy": the same shape, {kind: member, "len": n, "crc32": c}
    member, n, crc = spec.get("texts" if texts else "lazy"), spec.get("len"), spec.get("crc32")
    _need(len(spec) == 3 and isinstance(member, str) and isinstance(n, int) and isinstance(crc, int),
          "unknown encoding", name)
    raw = members.get(member)
    _need(raw is not None and raw.dtype == np.uint8 and raw.ndim == 1, f"{name}: {member[:40]} missing")
    text = raw.tobytes()
    if texts:
        return _strings(text, n, crc, name)
    _need(zlib.crc32(text) == crc, f"{name}: {member[:40]} corrupt (CRC)")
    return _Pending(text, n)


_STRINGS: dict[bytes, tuple[np.ndarray, int]] = {}  # a "texts" member's bytes -> (its strings, its CRC), per process
_STRINGS_MAX = 256  # distinct texts remembered (a build's tasks x the few key sets each has); then it starts again


def _strings(text: bytes, n: int, crc: int, name: str) -> np.ndarray:
    """The object array of strings of a "texts" member (ASCII JSON of a list of text), checked against the
    entry's length and CRC. The same text gives the identical array, read-only (nothing changes a cell's
    document keys in place; the build holds one copy of each task's keys, ``samples._HeldCells``)."""
    known = _STRINGS.get(text)
    if known is not None:
        _need(known[1] == crc and len(known[0]) == n, f"{name}: corrupt (CRC or length)")
        return known[0]
    _need(zlib.crc32(text) == crc, f"{name}: corrupt (CRC)")
    v = _loads_ascii(text)
    _need(isinstance(v, list) and len(v) == n and all(map(isinstance, v, repeat(str))), "not a list of strings", name)
    a = np.asarray(v, dtype=object).reshape(n)
    a.flags.writeable = False
    if len(_STRINGS) >= _STRINGS_MAX:
        _STRINGS.clear()
    _STRINGS[text] = (a, crc)
    return a


class _Pending:
    """A list field's JSON text, decoded when the field is first read."""

    __slots__ = ("n", "text")

    def __init__(self, text: bytes, n: int) -> None:
        self.text, self.n = text, n

    def decode(self, what: str) -> list:
        v = safeio.loads(self.text.decode("ascii"))
        if not isinstance(v, list) or len(v) != self.n:
            raise ValueError(f"{what}: not a list of {self.n} items")  # past the CRC: a bug of this module
        return v


class _LazyField:
    """A field of :class:`CachedSampleData` held as :class:`_Pending` until it is read."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return None  # the dataclass default of the field
        d = obj.__dict__
        v = d.get(self.name)
        if isinstance(v, _Pending):
            v = d[self.name] = v.decode(f"cache entry of {obj.path}: {self.name}")
        return v

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.name] = value


class CachedSampleData(SampleData):
    """SampleData read from a cache entry whose per-document JSON items (corpus metrics) are decoded
    only when something reads them: a cell whose statistics come from the same entry never does
    (parsing them was most of reading an entry: ~1-1.5 ms of ~2 ms at 1,000 documents)."""

    items = _LazyField("items")


class ViewRef(NamedTuple):
    """An entry's viewer file: what :class:`ViewPlacer` checks a published file against."""

    size: int
    digest: str  # sha256, hex


def _meta(members: dict[str, np.ndarray], k: str) -> dict:
    _need("meta" in members, "no meta member")
    raw = members["meta"]
    _need(raw.dtype == np.uint8 and raw.ndim == 1, "meta is not text")
    meta = _loads_ascii(raw.tobytes())  # ASCII JSON written by encode; anything odd raises
    _need(isinstance(meta, dict), "meta is not an object")
    _need(meta.get("format") == FORMAT, f"format {str(meta.get('format'))[:40]!r}, not {FORMAT!r}")
    _need(meta.get("key") == k, "entry of another key (foreign or renamed)")
    return meta


def _view_ref(meta: dict) -> ViewRef | None:
    v = meta.get("view")
    if v is None:
        return None
    _need(type(v) is list and len(v) == 2 and type(v[0]) is int and v[0] >= 0 and isinstance(v[1], str)
          and len(v[1]) == 64, "view: not [size, sha256]")
    return ViewRef(v[0], v[1])


def _view_bytes(members: dict[str, np.ndarray], ref: ViewRef) -> bytes:
    raw = members.get("view")
    _need(raw is not None and raw.dtype == np.uint8 and raw.ndim == 1, "view missing")
    view = raw.tobytes()
    _need(len(view) == ref.size and hashlib.sha256(view).hexdigest() == ref.digest, "view corrupt (sha256)")
    return view


def decode(members: dict[str, np.ndarray], k: str, job: SampleJob, with_view: bool = True
           ) -> tuple[SampleData, bytes | ViewRef | None]:
    """The entry's data (identity fields from ``job``, whose key it is) and viewer bytes (checked
    against their sha256), or only their :class:`ViewRef` (``with_view=False``: the view member is
    not looked at); Unusable when anything is missing, of the wrong type or inconsistent."""
    meta = _meta(members, k)
    numeric, error, clusters = meta.get("numeric"), meta.get("error"), meta.get("clusters")
    _need(isinstance(numeric, bool), "numeric: not a bool")
    for name in ("n_docs_in_file", "n_nan"):
        v = meta.get(name)
        _need(isinstance(v, int) and not isinstance(v, bool) and v >= 0, "not a count", name)
    warnings = meta.get("warnings")
    _need(isinstance(warnings, list) and all(map(isinstance, warnings, repeat(str))), "warnings: not strings")
    _need(error is None or isinstance(error, str), "error: not a string")
    _need(meta.get("key_source") in _KEY_SOURCES, "key_source: unknown")
    f = {name: _decode_field(meta.get(name), name, members) for name in _ARRAY_FIELDS}
    _need(f["doc_ids"] is not None and f["items"] is not None, "doc_ids/items missing")
    n = len(f["doc_ids"])
    items = f["items"]
    _need(isinstance(items, np.ndarray) == numeric, "items do not match 'numeric'")
    _need((items.n if isinstance(items, _Pending) else len(items)) == n, "items not aligned with doc_ids")
    for name in ("parse_fail", "scores"):
        v = f[name]
        _need(v is None or (isinstance(v, np.ndarray) and v.dtype == _F8 and len(v) == n),
              "not a float array aligned with doc_ids", name)
    _need(clusters is None or (isinstance(clusters, list) and len(clusters) == n
                               and set(map(type, clusters)) <= _LABEL_TYPES),  # JSON: exact types
          "clusters: not labels aligned with doc_ids")
    view: bytes | ViewRef | None = _view_ref(meta)
    if with_view and view is not None:
        view = _view_bytes(members, view)
    data = CachedSampleData(
        system_id=job.system_id, task=job.task, metric=job.metric, path=job.path, doc_ids=f["doc_ids"],
        items=items, numeric=numeric, parse_fail=f["parse_fail"], scores=f["scores"],
        n_docs_in_file=meta["n_docs_in_file"], warnings=warnings, error=error, clusters=clusters,
        n_nan=meta["n_nan"], key_source=meta["key_source"],
    )
    cell = meta.get("cell")
    sk = stats_key(k, job)
    if cell is not None and sk is not None:
        _need(isinstance(cell, dict), "cell: not an object")
        if cell.get("stats_key") == sk:  # else: other bootstrap settings, computed again by the caller
            data.cell = _decode_cell(cell, data, job, members)
            data.cell.key = sk
    return data, view


def _decode_cell(cell: dict, data: SampleData, job: SampleJob, members: dict[str, np.ndarray]) -> Any:
    bs, CellPrep = _cell_modules()
    iters, seed = job.boot
    problems = cell.get("problems")
    _need(isinstance(problems, list) and all(isinstance(x, list) and len(x) == 2 and x[0] in ("info", "warning")
                                             and isinstance(x[1], str) for x in problems), "cell problems: malformed")
    out = CellPrep(int(iters), seed, problems=[(lv, m) for lv, m in problems])
    if cell.get("boot") is True:
        b = members.get("cell_boot")
        _need(b is not None and b.dtype == _F8 and b.shape == (int(iters),), "cell_boot: not the resamples")
        out.boot = b.copy()  # not a view of the entry's bytes (it would keep them all alive)
    else:
        _need(cell.get("boot") is False, "cell boot: not a bool")
    if cell.get("ci") is True:
        c = members.get("cell_ci")
        _need(out.boot is not None and c is not None and c.dtype == _F8 and c.shape == (3,), "cell_ci: not [lo, hi, se]")
        lo, hi, se = c.tolist()
        out.ci = (lo, hi)
        out.se = None if math.isnan(se) else se
    else:
        _need(cell.get("ci") is False, "cell ci: not a bool")
    prep = cell.get("prepared")
    if prep is None:
        return out
    _need(isinstance(prep, dict), "cell prepared: not an object")
    n = len(data.doc_ids)
    _need(prep.get("n") == n, "cell prepared: not aligned with the documents")
    fid, note, source = prep.get("finish_id"), prep.get("note"), prep.get("source")
    _need(note is None or isinstance(note, str), "cell note: not a string")
    _need(isinstance(cell.get("docs_fp"), str), "cell docs_fp: not a string")
    v = members.get("cell_value")
    _need(v is not None and v.dtype == _F8 and v.shape == (1,), "cell_value: not one float")
    if source == "direct":
        stats = None
        items = list(data.items)  # as bootstrap.prepare holds them
    elif source == "items":
        _need(data.numeric, "cell statistics from items that are not numbers")
        stats, items = np.asarray(data.items, dtype=np.float64).reshape(n, 1), None
    else:
        _need(source == "array", "cell statistics: unknown source")
        st = members.get("cell_stats")
        _need(st is not None and st.ndim == 2 and st.shape[0] == n and st.dtype.kind in "iuf", "cell_stats: not (n, k)")
        stats, items = st.astype(np.float64), None
    if stats is not None and not (isinstance(fid, str) and fid in bs.FINISHERS):
        raise Unusable(f"cell finish: unknown {str(fid)[:40]!r}")
    out.prepared = bs.restore(job.metric, n, float(v[0]), stats, fid, items, note)
    if source == "array" and st.dtype in _COMPACT:
        # integer counts as encode wrote them (compact_integers): what the build's HeldCells.slim would make of the
        # float copy again, kept instead (every use converts them to floats: the same numbers)
        out.prepared.stats = st.copy()  # not a view of the entry's bytes
    out.docs_fp = cell["docs_fp"]
    return out


_F8 = np.dtype("<f8")
_LABEL_TYPES = frozenset({str, type(None)})
_CELL_MODULES: tuple | None = None


def _cell_modules() -> tuple:
    """(ecomsuite.bootstrap, stats.CellPrep), imported on first use (stats imports this module)."""
    global _CELL_MODULES
    if _CELL_MODULES is None:
        from ecomsuite import bootstrap as bs

        from .stats import CellPrep

        _CELL_MODULES = (bs, CellPrep)
    return _CELL_MODULES


def load(folder: Path, k: str, job: SampleJob, with_view: bool = True) -> tuple[SampleData, bytes | ViewRef | None] | None:
    """The entry of key ``k`` (:func:`decode`); None when there is none; Unusable (with the reason)
    when there is a file that is not a usable entry. Never unpickles anything (see :func:`unpack`)."""
    path = folder / f"{k}{SUFFIX}"
    try:
        if with_view:
            return decode(unpack(_read(path)), k, job)
        data, total = _read_before(path, "view")
        return decode(unpack(data, total, "view"), k, job, False)
    except FileNotFoundError:
        return None
    except Unusable as e:
        raise Unusable(f"{path.name}: {e}") from None
    except Exception as e:  # noqa: BLE001 - a bad entry (pickle, truncated, bad JSON ...) only costs a re-read
        raise Unusable(f"{path.name}: {type(e).__name__}: {str(e)[:120]}") from None


def _open_entry(path: str | os.PathLike) -> tuple[int, int]:
    """(descriptor, size) of an entry file: a regular file (O_NONBLOCK: a FIFO is not waited on) of at
    most safeio.MAX_SAMPLES_BYTES; Unusable otherwise (closed), FileNotFoundError when there is none."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | _CLOEXEC)
    try:
        st = os.fstat(fd)
        _need(stat.S_ISREG(st.st_mode), "not a regular file")
        _need(st.st_size <= safeio.MAX_SAMPLES_BYTES, f"too large: {st.st_size:,} bytes")
    except BaseException:
        os.close(fd)
        raise
    return fd, st.st_size


def _read(path: str | os.PathLike) -> bytes:
    """An entry's bytes (:func:`_open_entry`), read in one call where it can (safeio.read_bytes without
    its buffered file object: this runs for every entry of a rebuild)."""
    fd, size = _open_entry(path)
    try:
        data = os.read(fd, size + 1)  # all of it in one call: a regular file is not read short
        while len(data) < size:  # short read: read on to the end
            more = os.read(fd, max(1 << 16, size + 1 - len(data)))
            if not more:
                break
            data += more
            _need(len(data) <= safeio.MAX_SAMPLES_BYTES, "too large")
        return data
    finally:
        os.close(fd)


_FADV_RANDOM = getattr(os, "POSIX_FADV_RANDOM", None)
_FIRST_READ = 1 << 16  # an entry's first read where its viewer bytes are not wanted: its index and, mostly, the rest


def _read_before(path: str | os.PathLike, last: str) -> tuple[bytes, int]:
    """(an entry's bytes up to where its member ``last`` begins, the entry's size) when ``last`` is the
    entry's final member (:func:`encode` writes the viewer bytes last: ~45% of an entry, and a rebuild
    links the published viewer file instead of reading them), else (all its bytes, their size). The
    same checks as :func:`_read` (:func:`_open_entry`); anything odd in the index reads the whole entry,
    for :func:`unpack` to judge."""
    fd, size = _open_entry(path)
    try:
        if _FADV_RANDOM is not None:  # no readahead past what is asked: it would read the viewer bytes in
            try:
                os.posix_fadvise(fd, 0, 0, _FADV_RANDOM)
            except OSError:
                pass
        start = len(MAGIC) + 8
        data = os.pread(fd, min(size, max(_FIRST_READ, start)), 0)
        end = size
        if len(data) >= start and data[:len(MAGIC)] == MAGIC:
            n = int.from_bytes(data[len(MAGIC):start], "little")
            if len(data) < start + n <= size:  # an index past the first read: read to its end
                data += os.pread(fd, start + n - len(data), len(data))
            if n <= len(data) - start:
                try:
                    spec = _loads_ascii(data[start:start + n]).get(last)
                    if type(spec) is list and len(spec) == 4 and type(spec[2]) is int and type(spec[3]) is int \
                            and start + n + spec[2] + spec[3] == size and spec[2] >= 0:
                        end = start + n + spec[2]
                except Exception:  # noqa: BLE001 - read whole: unpack says what is wrong
                    end = size
        if len(data) > end:
            data = data[:end]
        while len(data) < end:  # the rest, up to ``end`` (a regular file is not read short, but loop anyway)
            more = os.pread(fd, end - len(data), len(data))
            if not more:
                break
            data += more
        return data, size
    finally:
        os.close(fd)


def load_view(folder: Path, k: str, ref: ViewRef) -> bytes:
    """The viewer bytes of the entry of key ``k``, which must be those of ``ref``; Unusable (with
    the reason) otherwise, a missing entry included."""
    path = folder / f"{k}{SUFFIX}"
    try:
        members = unpack(_read(path))
        _need(_view_ref(_meta(members, k)) == ref, "view: not the one of the entry read before")
        return _view_bytes(members, ref)
    except Unusable as e:
        raise Unusable(f"{path.name}: {e}") from None
    except Exception as e:  # noqa: BLE001 - a missing or bad entry only costs a re-read
        raise Unusable(f"{path.name}: {type(e).__name__}: {str(e)[:120]}") from None


class ViewPlacer:
    """Places an entry's viewer file in the staging folder ``stage`` as a hard link to the same
    file of the published site ``site`` (the one being replaced), when that holds exactly the
    entry's viewer bytes: nothing decoded or written, and publishing finds the file already the
    old site's (``render.link_unchanged``). Only regular files reached through real folders (no
    symbolic link from ``site`` down) are linked, and the link must be the very inode that was
    read (device, inode, size, mtime); else nothing is placed and the caller writes the bytes."""

    def __init__(self, stage: str, site: str) -> None:
        self.stage, self.site = os.path.join(os.path.abspath(stage), ""), os.path.abspath(site)
        self.dirs: dict[str, bool] = {}
        self.made: set[str] = set()
        self.linked = 0

    def _real_dir(self, folder: str) -> bool:
        ok = self.dirs.get(folder)
        if ok is None:
            try:
                ok = stat.S_ISDIR(os.lstat(folder).st_mode)
            except OSError:
                ok = False
            if ok and folder != self.site:
                up = os.path.dirname(folder)
                ok = up != folder and (up == self.site or up.startswith(os.path.join(self.site, ""))) and self._real_dir(up)
            self.dirs[folder] = ok
        return ok

    def place(self, out_file: str, ref: ViewRef) -> bool:
        out_file = os.path.abspath(out_file)
        if not out_file.startswith(self.stage):
            return False
        published = os.path.normpath(os.path.join(self.site, out_file[len(self.stage):]))
        if not published.startswith(os.path.join(self.site, "")) or not self._real_dir(os.path.dirname(published)):
            return False
        try:
            fd = os.open(published, os.O_RDONLY | os.O_NONBLOCK | _NOFOLLOW | _CLOEXEC)
        except OSError:
            return False
        try:
            seen = os.fstat(fd)
            if not stat.S_ISREG(seen.st_mode) or seen.st_size != ref.size:
                return False
            data = os.read(fd, ref.size + 1)  # one byte more: a file that grew since fstat is seen
            while len(data) < ref.size:
                more = os.read(fd, ref.size + 1 - len(data))
                if not more:
                    break
                data += more
            if len(data) != ref.size or hashlib.sha256(data).hexdigest() != ref.digest:
                return False
        except OSError:
            return False
        finally:
            os.close(fd)
        parent = os.path.dirname(out_file)
        try:
            if parent not in self.made:
                os.makedirs(parent, exist_ok=True)
                self.made.add(parent)
            os.link(published, out_file, follow_symlinks=False)
        except OSError:
            return False
        try:
            st = os.lstat(out_file)
            if (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) == (seen.st_dev, seen.st_ino, seen.st_size,
                                                                      seen.st_mtime_ns):
                self.linked += 1
                return True
        except OSError:
            pass
        try:
            os.unlink(out_file)  # changed or replaced while it was read: the caller writes the entry's bytes
        except OSError:
            pass
        return False


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def store(folder: Path, k: str, data: SampleData, view: bytes | None, job: SampleJob | None = None) -> bool:
    """Written to a temporary name and renamed: a concurrent or interrupted build never sees half an
    entry. False (nothing written) when the folder can't be written or ``data`` can't be encoded:
    a missing entry only costs time. ``data.cell`` is stored when ``job`` names its bootstrap settings."""
    return store_entry(folder, k, data, view, job)[0]


def store_entry(folder: Path, k: str, data: SampleData, view: bytes | None, job: SampleJob | None = None
                ) -> tuple[bool, SampleData]:
    """:func:`store`, and ``data`` as a :class:`CachedSampleData` whose list of items (a corpus
    metric's) is the entry's JSON text, decoded only when read -- what a worker sends back: pickling
    the text costs a fraction of pickling the list there and unpickling it in the build, which reads
    the items only when the cell's statistics must be computed again (as it reads an entry's). ``data``
    itself when it was not encoded or has no such list."""
    try:
        members = encode(data, view, k, stats_key(k, job) if job is not None else None)
    except (TypeError, ValueError, RecursionError):
        return False, data
    return _write(folder, f"{k}{SUFFIX}", members), _with_pending_items(data, members)


def items_as_text(data: SampleData) -> SampleData:
    """``data`` as :func:`store_entry` sends it back (a corpus metric's items as their JSON text, decoded
    only when read), for a build without a cache: held as Python lists, the items of 200 bench runs took a
    ``--no-cache`` build to 600 MB against 162 MB. ``data`` itself when it has no such list or it cannot be
    encoded."""
    if not _sends_list_items(data):
        return data
    members: dict[str, np.ndarray] = {}
    try:
        _encode_field(data.items, "items", members)
    except (TypeError, ValueError, RecursionError):
        return data
    return _with_pending_items(data, members)


def _sends_list_items(data: SampleData) -> bool:
    """Whether ``data`` is read samples whose items are a list (a corpus metric's): sent as their JSON text."""
    return type(data.items) is list and type(data) is SampleData


def _with_pending_items(data: SampleData, members: dict[str, np.ndarray]) -> SampleData:
    raw = members.get("items.json")
    if raw is None or not _sends_list_items(data):
        return data
    out = CachedSampleData(**{f.name: getattr(data, f.name) for f in dataclasses.fields(data)})
    out.items = _Pending(raw.tobytes(), len(data.items))
    return out


def _write(folder: Path, name: str, members: dict[str, np.ndarray]) -> bool:
    """``folder/name`` (:func:`pack`) written to a temporary name and renamed; False when it can't be written."""
    tmp = None
    try:
        data = pack(members)
    except TypeError:
        return False
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=Path(name).suffix)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, folder / name)
        return True
    except OSError:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        return False


_DEFERRED: dict[tuple[str, str], set[str]] | None = None  # (folder, suffix) -> entries used, while pruning is deferred


@contextlib.contextmanager
def pruning_deferred() -> Iterator[dict[str, int]]:
    """Within this, :func:`prune` only notes what was used; on leaving (without an error) each folder is
    pruned once, of what *no* call used -- for a build that loads its samples files in more than one
    call (``samples.load_all`` prunes what its own call did not use). Yields {"pruned": count}."""
    global _DEFERRED
    if _DEFERRED is not None:
        raise RuntimeError("pruning_deferred() is not reentrant")
    _DEFERRED = {}
    out = {"pruned": 0}
    try:
        yield out
        todo = _DEFERRED
    finally:
        _DEFERRED = None
    for (folder, suffix), used in todo.items():
        out["pruned"] += prune(Path(folder), used, suffix)


def deferred_used() -> dict[tuple[str, str], set[str]]:
    """What this process's :func:`prune` calls noted while pruning is deferred (to send to the process
    that prunes: :func:`note_used`)."""
    return {k: set(v) for k, v in (_DEFERRED or {}).items()}


def note_used(used: dict[tuple[str, str], set[str]]) -> None:
    """Entries another process used while pruning is deferred here: kept."""
    if _DEFERRED is None:
        raise RuntimeError("note_used() outside pruning_deferred()")
    for k, v in used.items():
        _DEFERRED.setdefault(k, set()).update(v)


def prune(folder: Path, used: set[str], suffix: str = SUFFIX) -> int:
    """Remove the entries this build did not use (files of runs that are gone or changed)."""
    if _DEFERRED is not None:
        _DEFERRED.setdefault((str(folder), suffix), set()).update(used)
        return 0
    n = 0
    if not folder.is_dir():
        return 0
    try:
        with os.scandir(folder) as it:  # the entry's type from the listing: no stat per entry (6,000 at 1,000 runs)
            gone = [e.path for e in it if e.name.endswith(suffix) and e.name[: -len(suffix)] not in used
                    and e.is_file(follow_symlinks=False)]  # a regular file, not a link to one
    except OSError:
        return 0
    for path in gone:
        try:
            os.unlink(path)
            n += 1
        except OSError:
            pass
    return n


# ----------------------------------------------------------------------------------------------
# pair tests of a ranking, kept between builds


PAIRS_SUFFIX = ".lbpairs"
PAIRS_FORMAT = "ecomsuite-lbpairs/3"


class PairCache:
    """``stats.PairStore`` in the cache folder: one ``*.lbpairs`` entry (:func:`pack`) per ranking
    group (the systems of one task, or of the overall score, that share documents and resamples):
    the member keys (each cell's stats key, see :func:`stats_key`) and the
    ``bootstrap.pair_tests`` of every pair of them (and the CI of
    each pair of neighbours, see ``stats.PairStore``). A pair is reused only when both members' keys are
    unchanged, so an entry can never give a pair of other numbers; an unusable entry is noted and
    computed again. The file name hashes the group's name with the code version."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.used: set[str] = set()
        self.unusable: list[str] = []
        self.reused = self.written = 0

    def _key(self, name: str) -> str:
        return hashlib.sha256(f"{code_version()}\0pairs\0{name}".encode("utf-8", "surrogatepass")).hexdigest()

    def get(self, name: str) -> tuple | None:
        k = self._key(name)
        path = self.folder / f"{k}{PAIRS_SUFFIX}"
        try:
            members = unpack(safeio.read_bytes(path, safeio.MAX_SAMPLES_BYTES))
            _need("meta" in members and members["meta"].dtype == np.uint8, "no meta member")
            meta = safeio.loads(members["meta"].tobytes().decode("ascii"))
            _need(isinstance(meta, dict) and meta.get("format") == PAIRS_FORMAT, "not a pairs entry of this format")
            _need(meta.get("key") == k, "entry of another key (foreign or renamed)")
            keys = meta.get("members")
            _need(isinstance(keys, list) and all(isinstance(x, str) for x in keys) and len(set(keys)) == len(keys),
                  "members: not distinct keys")
            n_pairs = len(keys) * (len(keys) - 1) // 2
            p, nfin, side = members.get("p"), members.get("n_finite"), members.get("side")
            _need(p is not None and p.dtype == np.float64 and p.shape == (n_pairs,), "p: not one float per pair")
            _need(nfin is not None and nfin.dtype.kind in "iu" and nfin.shape == (n_pairs,), "n_finite: not a count per pair")
            _need(side is not None and side.dtype == np.int8 and side.shape == (n_pairs,), "side: not one sign per pair")
            near = members.get("near")
            _need(near is not None and near.dtype == np.float64 and near.shape == (3, max(len(keys) - 1, 0)),
                  "near: not (lo, hi, p) per pair of neighbours")
        except FileNotFoundError:
            return None
        except Exception as e:  # noqa: BLE001 - a bad entry only costs computing the pairs again
            why = str(e) if isinstance(e, Unusable) else f"{type(e).__name__}: {str(e)[:120]}"
            self.unusable.append(f"{path.name}: {why}")
            return None
        self.reused += 1
        return keys, p, nfin.astype(np.int64), side, near

    def keep(self, name: str) -> None:
        self.used.add(self._key(name))

    def put(self, name: str, keys: list[str], p: np.ndarray, nfin: np.ndarray, side: np.ndarray, near: np.ndarray) -> None:
        k = self._key(name)
        self.used.add(k)
        meta = json.dumps({"format": PAIRS_FORMAT, "key": k, "members": list(keys)}, ensure_ascii=True)
        members = {"meta": np.frombuffer(meta.encode("ascii"), dtype=np.uint8), "p": np.asarray(p, dtype=np.float64),
                   "n_finite": np.asarray(nfin, dtype=np.int32), "side": np.asarray(side, dtype=np.int8),
                   "near": np.asarray(near, dtype=np.float64)}
        if _write(self.folder, f"{k}{PAIRS_SUFFIX}", members):
            self.written += 1

    def prune(self) -> int:
        """Remove the pairs entries this build did not use (rankings that are gone or changed)."""
        return prune(self.folder, self.used, PAIRS_SUFFIX)
