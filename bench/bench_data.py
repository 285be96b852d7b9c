"""ESCI at full size: `ecomsuite data info` and the data loading of `ecom_esci --limit 100`, the current
readers vs an earlier version of them, side by side in one run.

    git worktree add /tmp/old_ecom HEAD                 # the version to compare with (any commit)
    python bench/bench_data.py --before /tmp/old_ecom   # writes /tmp/ecomsuite_esci_full once, then measures
    python bench/bench_data.py --examples 20000 --products 14000 --out /tmp/esci_small   # quick look

The data is synthetic, with the real schema and the real size: 2.6M judgements (us/es/jp as in the
release), 1.8M products with realistic text lengths (titles ~110 characters, descriptions ~900 with
HTML markup in 40% of them and missing in 45%, bullet points ~700), written with numpy/pyarrow into
/tmp, never the repository. The folder also gets the embedded sample's small families, so `data info`
(which reads every family) has something to read for them. ``--real-like ../shared/data --out DIR`` writes the
same sizes from the real ESCI slices instead, repeated (real HTML, entities and Unicode; timing only).

Implementations (``--impls``): ``new`` (this checkout), ``before`` (the ``ecomsuite`` package of the
``--before`` source folder, e.g. a git worktree of an earlier commit) and ``legacy`` (the pandas reader
at LEGACY_REV, loaded with `git show`). Measurements (``--what``): ``info`` (`ecomsuite data info`, all
families) with an empty data cache, ``info_cached`` (the same, run again with the cache ``info`` left;
new only), ``load`` (``ecomsuite.lmeval.load_docs``: what lm-eval calls to build ``ecom_esci``,
fingerprint included and also reported on its own, then the test split's first 100 documents) and
``task`` (lm-eval building ``ecom_esci`` through ``ecomsuite.prompts.load_tasks``: ``load`` plus lm-eval's
own pass, which lists the whole train split for its few-shot sampler; all that `ecom_esci --limit 100`
does before its first request).

Each measurement runs in its own process (its own empty $XDG_CACHE_HOME): wall time of the call, peak RSS
(ru_maxrss), the load average before and after, and a watchdog that stops it past --max-gb or --max-s
(reported as not finished, with what it had reached).
"""
from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LEGACY_REV = "9f3e25e80bfc606efd7a14bfabe58be0ecb24d14"   # ecomsuite/data before the Arrow reader
# the release's proportions: 2,621,288 judgements (us 1,818,825 / es 356,410 / jp 445,927),
# 1,814,924 products (us 1,215,851 / es 259,973 / jp 339,059 -- rounded), labels E 65% S 22% C 3% I 10%
LOCALES = {"us": (0.694, 0.670), "es": (0.136, 0.143), "jp": (0.170, 0.187)}   # share of examples, products
LABELS = (["E", "S", "C", "I"], [0.65, 0.22, 0.03, 0.10])
EXAMPLES_FILE = "shopping_queries_dataset_examples.parquet"
PRODUCTS_FILE = "shopping_queries_dataset_products.parquet"


# ------------------------------------------------------------------------------ synthetic data
def _text_buffer(rng, n_words: int, html: bool):
    """A long ASCII text of random words (numpy bytes); with ``html``, paragraph and line-break tags
    and entities sprinkled in, as product descriptions have."""
    import numpy as np

    vocab = ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), rng.integers(2, 11)))
             for _ in range(4000)]
    if html:
        vocab += ["<p>", "</p>", "<br>", "<b>", "</b>", "&amp;", "<li>", "</li>"] * 25
    words = np.array(vocab)[rng.integers(0, len(vocab), n_words)]
    return np.frombuffer(" ".join(words.tolist()).encode(), dtype=np.uint8)


def _strings(rng, buf, lengths):
    """A large_string array whose values are consecutive slices of ``buf`` (tiled from a random
    start) with the given lengths: vectorised, no Python string per value."""
    import numpy as np
    import pyarrow as pa

    offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
    data = np.resize(np.roll(buf, -int(rng.integers(0, len(buf)))), int(offsets[-1]))
    return pa.LargeStringArray.from_buffers(len(lengths), pa.py_buffer(offsets), pa.py_buffer(data))


def _lengths(rng, n: int, mean: float, lo: int, hi: int):
    import numpy as np

    sigma = 0.6
    return np.clip(rng.lognormal(np.log(mean) - sigma ** 2 / 2, sigma, n), lo, hi).astype(np.int64)


def _with_nulls(rng, arr, rate: float):
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.if_else(pa.array(rng.random(len(arr)) < rate), pa.scalar(None, pa.large_string()), arr)


def _ids(prefix: str, numbers):
    import numpy as np
    import pyarrow as pa

    return pa.array(np.char.add(prefix, np.char.zfill(numbers.astype(str), 8)), pa.large_string())


def write_products(path: Path, n: int, seed: int = 0, chunk: int = 100_000) -> dict[str, int]:
    """The products table, written in chunks (bounded memory); returns products per locale."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    plain, html = _text_buffer(rng, 2_000_000, False), _text_buffer(rng, 2_000_000, True)
    per_locale = {loc: int(round(n * share[1])) for loc, share in LOCALES.items()}
    per_locale["us"] += n - sum(per_locale.values())
    schema = pa.schema([(c, pa.large_string()) for c in (
        "product_id", "product_title", "product_description", "product_bullet_point", "product_brand",
        "product_color", "product_locale")])
    with pq.ParquetWriter(path, schema) as w:
        for loc, count in per_locale.items():
            for start in range(0, count, chunk):
                m = min(chunk, count - start)
                desc_len = _lengths(rng, m, 900, 20, 4000)
                is_html = rng.random(m) < 0.4
                desc = pa.concat_arrays([_strings(rng, plain, desc_len[~is_html]),
                                         _strings(rng, html, desc_len[is_html])])
                order = np.argsort(np.concatenate([np.flatnonzero(~is_html), np.flatnonzero(is_html)]))
                cols = [
                    _ids("B0", np.arange(start, start + m)),   # the same ids recur across locales
                    _strings(rng, plain, _lengths(rng, m, 110, 10, 300)),
                    _with_nulls(rng, desc.take(pa.array(order)), 0.45),
                    _with_nulls(rng, _strings(rng, plain, _lengths(rng, m, 700, 20, 3000)), 0.15),
                    _with_nulls(rng, _strings(rng, plain, _lengths(rng, m, 9, 3, 20)), 0.05),
                    _with_nulls(rng, _strings(rng, plain, _lengths(rng, m, 7, 3, 15)), 0.4),
                    pa.array(np.full(m, loc), pa.large_string()),
                ]
                w.write_table(pa.Table.from_arrays(cols, schema=schema))
    return per_locale


def write_examples(path: Path, n: int, products: dict[str, int], seed: int = 1) -> None:
    """The examples table: queries of ~20 judgements each, grouped by query as the release is; each
    query has one locale and one split (~25% of queries test); products drawn from its locale."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    n_queries = max(1, n // 20)
    locales = np.array(list(LOCALES))
    q_locale = rng.choice(len(locales), n_queries, p=[s[0] for s in LOCALES.values()])
    q_of = np.sort(rng.integers(0, n_queries, n))          # grouped by query
    loc_idx = q_locale[q_of]
    sizes = np.array([products[loc] for loc in locales])
    pid = (rng.random(n) * sizes[loc_idx]).astype(np.int64)
    query_text = _strings(rng, _text_buffer(rng, 500_000, False), _lengths(rng, n_queries, 22, 3, 120))
    table = pa.table({
        "example_id": pa.array(np.arange(n, dtype=np.int64)),
        "query": query_text.take(pa.array(q_of)),
        "query_id": pa.array(q_of.astype(np.int64)),
        "product_id": _ids("B0", pid),
        "product_locale": pa.array(locales[loc_idx], pa.large_string()),
        "esci_label": pa.array(rng.choice(LABELS[0], n, p=LABELS[1]), pa.large_string()),
        "small_version": pa.array(rng.integers(0, 2, n)),
        "large_version": pa.array(np.ones(n, dtype=np.int64)),
        "split": pa.array(np.where(rng.random(n_queries) < 0.25, "test", "train")[q_of], pa.large_string()),
    })
    pq.write_table(table, path)


def write_synthetic(folder: Path, n_examples: int, n_products: int, seed: int = 0) -> Path:
    """A data folder: a synthetic ESCI pair of the given size + the embedded sample's other families."""
    from ecomsuite.data import SAMPLE_DIR

    (folder / "esci").mkdir(parents=True, exist_ok=True)
    per_locale = write_products(folder / "esci" / PRODUCTS_FILE, n_products, seed)
    write_examples(folder / "esci" / EXAMPLES_FILE, n_examples, per_locale, seed + 1)
    for fam in ("queryner", "fewsum_amazon", "ae110k"):
        if not (folder / fam).exists():
            shutil.copytree(SAMPLE_DIR / fam, folder / fam)
    return folder


def write_real_like(src: Path, folder: Path, n_examples: int, n_products: int, chunk: int = 100_000) -> Path:
    """A data folder of the release's size made of real rows: the ESCI pair under ``src`` (e.g. the real slices in
    ../shared/data) repeated, copy after copy, up to ``n_products`` products and ``n_examples`` examples. Copy k
    suffixes its product ids with "-k" (unique in each locale) and offsets example and query ids; the examples of copy
    k name the products of copy k modulo the whole copies of the products. The text is the real text: real HTML, entities and Unicode, which the synthetic
    words do not have (counts are those of repeated rows: only the timing means something)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from ecomsuite.data import SAMPLE_DIR

    (folder / "esci").mkdir(parents=True, exist_ok=True)
    products = pq.read_table(src / "esci" / PRODUCTS_FILE)
    examples = pq.read_table(src / "esci" / EXAMPLES_FILE)
    whole = n_products // products.num_rows
    if not whole:
        raise SystemExit(f"--real-like: --products must be at least {products.num_rows} (one copy of {src})")
    step_example = int(pc.max(examples["example_id"]).as_py()) + 1
    step_query = int(pc.max(examples["query_id"]).as_py()) + 1

    def copies(table, n, change):
        done = 0
        for k in range(-(-n // table.num_rows)):
            part = change(table, k).slice(0, n - done)
            done += part.num_rows
            yield part

    def suffixed(t, column, k):
        return t.set_column(t.schema.get_field_index(column), column,
                            pc.binary_join_element_wise(pc.cast(t[column], pa.large_string()),
                                                        pa.scalar(f"-{k}", pa.large_string()),
                                                        pa.scalar("", pa.large_string())))

    def write(path, parts):   # row groups of ``chunk`` rows, as the synthetic files have; a few copies in memory
        parts = iter(parts)
        first = next(parts)
        with pq.ParquetWriter(path, first.schema) as w:
            pending, rows = [], 0
            for part in itertools.chain([first], parts, [None]):
                if part is not None:
                    pending.append(part)
                    rows += part.num_rows
                if rows >= chunk or (part is None and rows):
                    table = pa.concat_tables(pending)
                    whole = table.num_rows if part is None else table.num_rows // chunk * chunk
                    for start in range(0, whole, chunk):
                        w.write_table(table.slice(start, min(chunk, whole - start)))
                    pending, rows = [table.slice(whole)], table.num_rows - whole

    write(folder / "esci" / PRODUCTS_FILE, copies(products, n_products, lambda t, k: suffixed(t, "product_id", k)))

    def example_copy(t, k):
        t = suffixed(t, "product_id", k % whole)
        for column, step in (("example_id", step_example), ("query_id", step_query)):
            t = t.set_column(t.schema.get_field_index(column), column,
                             pa.array(t[column].to_numpy() + np.int64(k * step)))
        return t

    write(folder / "esci" / EXAMPLES_FILE, copies(examples, n_examples, example_copy))
    for fam in ("queryner", "fewsum_amazon", "ae110k"):
        if not (folder / fam).exists():
            shutil.copytree(SAMPLE_DIR / fam, folder / fam)
    return folder


# ----------------------------------------------------------------------------- readers, old/new
def legacy_data_module(rev: str = LEGACY_REV):
    """ecomsuite/data/__init__.py at ``rev`` as a module of its own (needs the git history)."""
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:ecomsuite/data/__init__.py"],
                         capture_output=True, text=True)
    if src.returncode:
        raise RuntimeError(f"git show {rev}:ecomsuite/data/__init__.py failed: {src.stderr.strip()}")
    folder = tempfile.mkdtemp(prefix="ecomsuite_legacy_")
    try:  # the file is needed only while the module is executed (each call left a folder in /tmp)
        tmp = Path(folder) / "ecomsuite_data_legacy.py"
        tmp.write_text(src.stdout)
        spec = importlib.util.spec_from_file_location("ecomsuite_data_legacy", tmp)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        spec.loader.exec_module(mod)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    mod.SAMPLE_DIR = Path(__import__("ecomsuite.data").data.SAMPLE_DIR)
    return mod


def _module(impl: str):
    if impl == "legacy":
        return legacy_data_module()
    import ecomsuite.data as mod

    if impl == "before" and not Path(mod.__file__).resolve().is_relative_to(Path(os.environ["BENCH_BEFORE"]).resolve()):
        raise RuntimeError(f"'before' imported {mod.__file__}, not the package under {os.environ['BENCH_BEFORE']}")
    return mod


def measure(what: str, impl: str, data: str) -> dict:
    """One measurement in this process: the call's wall time and this process's peak RSS."""
    mod = _module(impl)
    extra: dict = {"module": str(Path(mod.__file__).resolve().parent)}
    if what in ("load", "task"):   # imported (lm-eval with it) before the clock starts
        from ecomsuite import lmeval
        from ecomsuite.prompts import load_tasks
    t0 = time.perf_counter()
    cpu0 = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
    if what in ("info", "info_cached"):
        out = mod.info_table(data)
        extra["esci_rows"] = [" ".join(ln.split()[:7]) for ln in out.splitlines() if ln.startswith("esci ")]
        extra["desc_gen_rows"] = [" ".join(ln.split()[:9]) for ln in out.splitlines() if ln.startswith("desc_gen ")]
    elif what == "load":   # what lm-eval's ecom_esci --limit 100 needs from ecomsuite
        import warnings

        if impl == "legacy":
            raise ValueError("load: the legacy reader has no lm-eval hook of its own")
        timed = {"fingerprint_s": 0.0}
        fingerprint = mod.FamilyData.fingerprint

        def timed_fingerprint(self):
            t1 = time.perf_counter()
            try:
                return fingerprint(self)
            finally:
                timed["fingerprint_s"] += time.perf_counter() - t1

        mod.FamilyData.fingerprint = timed_fingerprint
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # no calling task here to record the provenance in
            dd = lmeval.load_docs(format="esci", data_dir=data)
        docs = [dd["test"][i] for i in range(100)]
        extra.update(docs={k: len(v) for k, v in dd.items()}, first_ids=[d["id"] for d in docs[:3]],
                     fingerprint_s=round(timed["fingerprint_s"], 2))
    elif what == "task":   # lm-eval building ecom_esci (the data above, then its own pass: it lists the train split)
        import logging

        from ecomsuite.prompts import load_tasks

        logging.getLogger("lm_eval").setLevel(logging.ERROR)
        task = load_tasks(["ecom_esci"], metadata={"data_dir": data})["ecom_esci"]
        extra.update(docs=task.config.metadata.get("data_docs"),
                     first_ids=[task.test_docs()[i]["id"] for i in range(3)])
    else:
        raise ValueError(what)
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    # CPU seconds of the call (all threads): less dependent on the machine's load than the wall time
    cpu = usage.ru_utime + usage.ru_stime - cpu0
    return {"what": what, "impl": impl, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "peak_rss_gb": round(usage.ru_maxrss / 2 ** 20, 2), **extra}


def run_child(what: str, impl: str, data: Path, max_gb: float, max_s: float, env: dict) -> dict:
    """``measure`` in a child process, stopped past ``max_gb`` RSS or ``max_s`` seconds."""
    cmd = [sys.executable, __file__, "--child", what, impl, str(data)]
    load_before = os.getloadavg()[0]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    t0, peak = time.time(), 0.0
    while proc.poll() is None:
        try:
            rss_kb = int(next(ln for ln in Path(f"/proc/{proc.pid}/status").read_text().splitlines()
                              if ln.startswith("VmRSS")).split()[1])
            peak = max(peak, rss_kb / 2 ** 20)
        except (OSError, StopIteration):
            pass
        if peak > max_gb or time.time() - t0 > max_s:
            proc.kill()
            proc.wait()
            return {"what": what, "impl": impl, "finished": False, "stopped_after_s": round(time.time() - t0, 1),
                    "peak_rss_gb_seen": round(peak, 2), "limit": f"{max_gb} GB / {max_s} s",
                    "loadavg_1min": [round(load_before, 1), round(os.getloadavg()[0], 1)]}
        time.sleep(0.2)
    out, err = proc.communicate()
    load = [round(load_before, 1), round(os.getloadavg()[0], 1)]   # 1-minute load average, before / after
    if proc.returncode:
        return {"what": what, "impl": impl, "finished": False, "error": err.strip().splitlines()[-1:],
                "loadavg_1min": load}
    return {**json.loads(out.strip().splitlines()[-1]), "finished": True, "loadavg_1min": load}


def child_env(impl: str, before: str | None, cache: str) -> dict:
    env = {**os.environ, "XDG_CACHE_HOME": cache}
    if impl == "before":
        if not before:
            raise SystemExit("--impls before needs --before SRC (e.g. `git worktree add /tmp/old_ecom HEAD`)")
        paths = [str(Path(before).resolve()), *filter(None, [os.environ.get("PYTHONPATH")])]
        env["PYTHONPATH"] = os.pathsep.join(paths)
        env["BENCH_BEFORE"] = str(Path(before).resolve())
    return env


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="/tmp/ecomsuite_esci_full", help="data folder (written if absent)")
    p.add_argument("--examples", type=int, default=2_621_288)
    p.add_argument("--products", type=int, default=1_814_924)
    p.add_argument("--real-like", metavar="SRC", help="write --out (when absent) from the real ESCI rows under SRC "
                   "(e.g. ../shared/data) repeated to the size asked, not from synthetic words")
    p.add_argument("--impls", default="new,before", help="comma list of new, before, legacy")
    p.add_argument("--before", default=None, metavar="SRC", help="source folder of the earlier version "
                   "(its ecomsuite/ package is imported for --impls before)")
    p.add_argument("--what", default="info,info_cached,load,task", help="comma list of info, info_cached, load, task")
    p.add_argument("--max-gb", type=float, default=12.0, help="stop a measurement past this RSS")
    p.add_argument("--max-s", type=float, default=600.0, help="stop a measurement past this time")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--child", nargs=3, metavar=("WHAT", "IMPL", "DATA"), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        print(json.dumps(measure(*a.child)))
        return 0
    out = Path(a.out)
    if not (out / "esci" / EXAMPLES_FILE).is_file():
        t0 = time.perf_counter()
        if a.real_like:
            write_real_like(Path(a.real_like), out, a.examples, a.products)
        else:
            write_synthetic(out, a.examples, a.products)
        print(f"wrote {out} in {time.perf_counter() - t0:.0f} s", flush=True)
    sizes = {f: round((out / "esci" / f).stat().st_size / 2 ** 20, 1) for f in (EXAMPLES_FILE, PRODUCTS_FILE)}
    print(f"files (MiB): {sizes}", flush=True)
    results = []
    caches = {impl: tempfile.mkdtemp(prefix=f"bench-data-cache-{impl}-") for impl in a.impls.split(",")}
    for what in a.what.split(","):
        for impl in a.impls.split(","):
            if what == "info_cached" and impl != "new":
                continue   # only the new readers keep a cache
            # info_cached reads what new's info left; every other measurement starts with an empty cache
            fresh = what not in ("info", "info_cached") or impl != "new"
            cache = tempfile.mkdtemp(prefix="bench-data-cache-", dir=caches[impl]) if fresh else caches[impl]
            r = run_child(what, impl, out, a.max_gb, a.max_s, child_env(impl, a.before, cache))
            print(json.dumps(r), flush=True)
            results.append(r)
    for c in caches.values():
        shutil.rmtree(c, ignore_errors=True)
    if a.json:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=False).stdout.strip()
        before = (subprocess.run(["git", "-C", a.before, "rev-parse", "--short", "HEAD"], capture_output=True,
                                 text=True, check=False).stdout.strip() if a.before else None)
        Path(a.json).write_text(json.dumps({
            "command": "python bench/bench_data.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "files_mib": sizes, "cpus": os.cpu_count(), "new_at": head + " + working tree",
            "before_at": before, "results": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
