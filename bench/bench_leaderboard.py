"""Benchmark: ``ecomsuite leaderboard build`` on realistic runs (default 1,000 runs x 6 tasks x 1,000 samples).

    python bench/bench_leaderboard.py                      # full size (long on 2 cores: see bench/README.md)
    python bench/bench_leaderboard.py --runs 50 --docs 1000 --json out.json   # mid size, minutes
    python bench/bench_leaderboard.py --small              # 50 runs x 6 tasks x 100 samples

Per-sample items are real ecom items: documents are the tasks' own test documents (lm-eval task
objects; the embedded sample -- 4 to 16 test documents a task -- or, with ``--data-dir``, the real
data in the publishers' formats), cycled to --docs with distinct ids; each document gets
``--variants`` model outputs (default 6: the reference and five kinds of wrong: a dropped or changed
JSON attribute, half the lines/words, shuffled words, another document's reference, an unparseable
answer; more variants add seeded edits of the reference, each distinct) scored by the task's OWN
process_results hook, so macro-F1, span F1, BLEU and attribute F1 run through the leaderboard's
corpus-metric bootstrap. A run answers each document right with its skill, else with one of the
wrong outputs. Inputs are lm-eval-shaped (results_*.json + samples_*.jsonl, lineage.json for
adapters) under --workdir, in a folder named by their size, data and variants (``corpus_dir``),
reused when its manifest says the same.

The default corpus repeats itself: 16 documents' outputs at most, 6 each, so a task's files hold
~100 distinct lines, and anything the build remembers by content (a line's beginning, a text's
digest, an item's statistics) hits far more often than on real runs, where every system writes
its own outputs for distinct documents. ``--data-dir ../shared/data --variants 40`` makes a
corpus nearer to that (bench/README.md compares the two).

Measured, side by side in one invocation: the full build, then the rebuild after one new run
(``incremental_one_new_run``, with the per-samples-file cache, which also holds each cell's
statistics and each ranking's pair tests; then the same rebuild with ``cache=False``, i.e.
``--no-cache``): wall, CPU seconds of the build and its workers, peak RSS, stage times, index page
size, site and per-sample data size, cache hits, and whether the cached rebuild's statistics equal
the uncached ones bit for bit (``incremental_statistics_equal_no_cache``, from ``stats.digest``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import os
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

TASKS = ["ecom_esci", "ecom_esci_gen", "ecom_queryner", "ecom_review_summ", "ecom_desc_gen", "ecom_attr_extract"]
DATE = "2025-01-01T00-00-00.000001"
N_VARIANTS = 6  # model outputs per document (default): the reference and five kinds of wrong


ROOTS = {"ecomsuite": "ecomsuite", "ecomsuite.leaderboard": "leaderboard", "ecomsuite.tasks": "tasks",
         "ecomsuite.trainers": "trainers"}  # as setup.py maps them


class _CheckoutFinder:
    """Imports ``ecomsuite`` and its three mapped sub-packages from another checkout (``--checkout``):
    put first on ``sys.meta_path`` before anything of ecomsuite is imported, it wins over the
    editable install, whose finder maps ``ecomsuite.leaderboard`` to this repository whatever
    ``PYTHONPATH`` says."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        import importlib.util

        if fullname not in ROOTS:
            return None  # submodules: found through the package's __path__ (inside the checkout)
        folder = self.root / ROOTS[fullname]
        return importlib.util.spec_from_file_location(fullname, folder / "__init__.py",
                                                      submodule_search_locations=[str(folder)])


def use_checkout(root: str | os.PathLike) -> None:
    """Make ``import ecomsuite...`` load the sources of the checkout at ``root`` (this process and
    the workers it forks). Refused once ecomsuite is imported: the two would mix."""
    root = Path(root).resolve()
    if not (root / "leaderboard" / "build.py").is_file():
        raise SystemExit(f"--checkout {root}: no leaderboard/build.py there (not an ecomsuite checkout)")
    if any(m == "ecomsuite" or m.startswith("ecomsuite.") for m in sys.modules):
        raise SystemExit("--checkout: ecomsuite was already imported in this process")
    sys.meta_path.insert(0, _CheckoutFinder(root))


def _leaderboard_build():
    try:
        from ecomsuite.leaderboard import build
    except ImportError:  # not installed yet: load the package from the source tree
        import importlib.util

        root = Path(__file__).resolve().parents[1] / "leaderboard"
        spec = importlib.util.spec_from_file_location("ecomsuite.leaderboard", root / "__init__.py",
                                                      submodule_search_locations=[str(root)])
        mod = importlib.util.module_from_spec(spec)
        sys.modules["ecomsuite.leaderboard"] = mod
        spec.loader.exec_module(mod)
        from ecomsuite.leaderboard import build
    return build


def bench_docs(docs: list[dict], n: int) -> list[dict]:
    """n test documents from the task's own documents, cycled; copies get a distinct ``id`` (the
    leaderboard's document identity) and otherwise keep the document as the task reads it."""
    out = []
    for i in range(n):
        d = dict(docs[i % len(docs)])
        if i >= len(docs):
            d["id"] = f"{d.get('id', i)}~{i // len(docs)}"
        out.append(d)
    return out


def wrong_outputs(target: str, other: str, k: int) -> list[str]:
    """k plausible wrong outputs of a generative task: a JSON object with a key dropped and a value
    changed, half the lines or words, another document's reference, an unparseable answer; past
    those (k > 8), the repeats among them left out and seeded edits of the reference added: a JSON
    value changed, or a word dropped and two swapped, each marked with its number, so that no two
    are the same."""
    import random

    rng = random.Random(target)
    outs: list[str] = []
    try:
        obj = json.loads(target)
    except ValueError:
        obj = None
    if isinstance(obj, dict) and obj:
        keys = list(obj)
        outs.append(json.dumps({x: v for x, v in obj.items() if x != keys[-1]}))
        outs.append(json.dumps({**obj, keys[0]: "other"}))
    lines = target.splitlines()
    if len(lines) > 1:
        outs.append("\n".join(lines[: len(lines) // 2]))
    words = target.split()
    outs.append(" ".join(w for j, w in enumerate(words) if j % 3 != 1) or "none")
    rng.shuffle(words)
    outs.append(" ".join(words))
    outs += [other, "I cannot answer that.", ""]
    if k <= len(outs):  # (the default corpus: as it always was, repeats included)
        return (outs * k)[:k]
    outs = [o for o in dict.fromkeys(outs) if o != target]  # (a one-word target's halves and shuffles are itself)
    for j in range(len(outs), k):
        if isinstance(obj, dict) and obj and j % 2:
            keys = list(obj)
            outs.append(json.dumps({**obj, keys[j % len(keys)]: f"value {j}"}))
            continue
        w = target.split() or ["none"]
        w.pop(rng.randrange(len(w)))
        if len(w) > 1:
            a, b = rng.randrange(len(w)), rng.randrange(len(w))
            w[a], w[b] = w[b], w[a]
        outs.append(" ".join(w + [f"({j})"]))
    return outs


_MEMO: dict[str, Any] = {}  # copies of a document differ only in id: hooks and prompts run once per content


def _memo(kind: str, task, doc: dict, extra: Any, fn) -> Any:
    key = json.dumps([kind, task.config.task, {k: v for k, v in doc.items() if k != "id"}, extra],
                     sort_keys=True, default=str)
    if key not in _MEMO:
        _MEMO[key] = fn()
    return _MEMO[key]


def _line(task, doc: dict, i: int, results: list, resps: list, filtered: list, target: Any) -> tuple[str, dict]:
    """One lm-eval samples line, its metric items from the task's own process_results hook."""
    items = _memo("items", task, doc, results, lambda: task.process_results(doc, results))
    prompt = _memo("prompt", task, doc, None, lambda: task.doc_to_text(doc))
    if task.OUTPUT_TYPE == "multiple_choice":
        args = {f"gen_args_{k}": {"arg_0": prompt, "arg_1": " " + c} for k, c in enumerate(task.doc_to_choice(doc))}
    else:
        args = {"gen_args_0": {"arg_0": prompt, "arg_1": task.config.generation_kwargs}}
    h = hashlib.sha256
    s = {"doc_id": i, "doc": doc, "target": target, "arguments": args, "resps": resps, "filtered_resps": filtered,
         "filter": "none", "metrics": list(items), "doc_hash": h(json.dumps(doc).encode()).hexdigest(),
         "prompt_hash": h(prompt.encode()).hexdigest(), "target_hash": h(str(target).encode()).hexdigest(), **items}
    return json.dumps(s, ensure_ascii=False, default=str), items


def task_variants(task, docs: list[dict], variants: int = N_VARIANTS) -> list[list[tuple[str, dict]]]:
    """Per document, ``variants`` (samples line, items) pairs; variant 0 is the reference answer."""
    from ecomsuite.prompts import target_text

    out = []
    for i, doc in enumerate(docs):
        if task.OUTPUT_TYPE == "multiple_choice":
            n_choices = len(task.doc_to_choice(doc))
            gold = task.doc_to_target(doc)
            rows = []
            for v in range(variants):
                pred = (gold + v) % n_choices
                lls = [round(-1.0 - abs(k - pred) * 0.7 - 0.01 * v, 4) for k in range(n_choices)]
                pairs = [(ll, k == pred) for k, ll in enumerate(lls)]
                rows.append(_line(task, doc, i, [list(x) for x in pairs], [[[str(a), str(b)]] for a, b in pairs],
                                  [[str(a), str(b)] for a, b in pairs], gold))
        else:
            target = _memo("target", task, doc, None, lambda: target_text(task, doc))
            nxt = docs[(i + 1) % len(docs)]
            other = _memo("target", task, nxt, None, lambda: target_text(task, nxt))
            outs = [target] + wrong_outputs(target, other, variants - 1)
            rows = [_line(task, doc, i, [o], [[o]], [o], target) for o in outs]
        out.append(rows)
    return out


_BANK: dict[str, list] = {}  # task -> task_variants (filled before the workers fork)
_PREP: dict[str, dict] = {}  # task -> metric -> ecomsuite.bootstrap.Prepared over every (document, variant)
_TASKS: dict[str, Any] = {}


def _write_runs(args: tuple[Path, int, int]) -> int:
    out, start, stop = args
    import random

    for r in range(start, stop):
        write_run(out, r, random.Random(r))
    return stop - start


def write_run(out: Path, r: int, rng: Any) -> None:
    """One system's results file and samples files: each document answered right with the system's
    skill, else one of the wrong variants; the reported values are the tasks' own aggregations."""
    skill = rng.random()
    name = f"bench-org/model-{r:04d}"
    folder = out / f"run-{r:04d}"
    folder.mkdir(parents=True, exist_ok=True)
    results, configs, hib, nsamp = {}, {}, {}, {}
    for t, task in _TASKS.items():
        bank = _BANK[t]
        picks = [0 if rng.random() < skill else rng.randrange(1, len(rows)) for rows in bank]
        with open(folder / f"samples_{t}_{DATE}.jsonl", "w", encoding="utf-8") as fh:
            fh.writelines(rows[v][0] + "\n" for rows, v in zip(bank, picks))
        prep = _PREP[t]
        idx = [d * len(rows) + v for d, (rows, v) in enumerate(zip(bank, picks))]
        results[t] = {"alias": t, **{f"{m},none": p.subset(idx).value for m, p in prep.items()},
                      **{f"{m}_stderr,none": "N/A" for m in prep}}
        configs[t] = {"task": t, "num_fewshot": 0, "output_type": task.OUTPUT_TYPE,
                      "metadata": {**(task.config.metadata or {}), "data_source": "bench"}}
        hib[t] = task.higher_is_better()
        nsamp[t] = {"original": len(bank), "effective": len(bank)}
    tasks = list(_TASKS)
    model_args = f"pretrained={name}"
    if r % 3 == 1:  # an adapter with a training size, for the data-size plot
        ad = out / "adapters" / f"a{r:04d}"
        ad.mkdir(parents=True, exist_ok=True)
        (ad / "lineage.json").write_text(json.dumps(
            {"kind": "adapter", "name": f"adapter-{r:04d}", "base_model": f"bench-org/base-{r % 4}", "method": "lora",
             "tasks": tasks, "train_size": [1000, 5000, 10000, 50000][r % 4], "command": "ecomsuite sft ..."}))
        model_args = f"pretrained=bench-org/base-{r % 4},peft={ad}"
    data = {
        "results": results, "group_subtasks": {"ecom": tasks}, "configs": configs,
        "versions": {t: (_TASKS[t].config.metadata or {}).get("version") for t in tasks}, "n-shot": dict.fromkeys(tasks, 0),
        "higher_is_better": hib, "n-samples": nsamp,
        "config": {"model": "hf", "model_args": model_args, "batch_size": 8, "limit": None,
                   "model_num_parameters": 1_000_000 * (r + 1)},
        "model_name": name, "date": 1735689600.0 + r, "total_evaluation_time_seconds": str(100 + r),
    }
    (folder / f"results_{DATE}.json").write_text(json.dumps(data, default=str), encoding="utf-8")


_PREPARED: list = []  # (tasks, docs, data_dir, variants) the bank was made for


def prepare_tasks(n_tasks: int, n_docs: int, data_dir: str | None = None, variants: int = N_VARIANTS) -> None:
    """Load the tasks (lm-eval task objects; their data from the embedded sample, or from ``data_dir``
    as ``--metadata '{"data_dir": ...}'`` gives it to lm-eval) and every document's answer variants,
    once, in this process (the writers fork from it)."""
    from ecomsuite import bootstrap as bs
    from ecomsuite.prompts import load_tasks, split_docs

    want = (n_tasks, n_docs, data_dir, variants)
    if _PREPARED == [want]:
        return
    if variants < 2:
        raise SystemExit(f"--variants {variants}: at least 2 (the reference and one wrong output)")
    _PREPARED.clear()
    _TASKS.clear()
    _BANK.clear()
    _PREP.clear()
    _TASKS.update(load_tasks(TASKS[:n_tasks], metadata={"data_dir": data_dir} if data_dir else None))
    for t, task in _TASKS.items():
        _BANK[t] = bank = task_variants(task, bench_docs(split_docs(task, "test"), n_docs), variants)
        # a system's reported value is the task's aggregation over the variants it picked; per-document
        # sufficient statistics (pinned to the library's corpus value by tests/test_bootstrap*) are
        # computed once per (document, variant) instead of once per system (sacrebleu: ~4 s a system)
        _PREP[t] = {m: bs.prepare(m, [rows[v][1][m] for rows in bank for v in range(variants)], verify=False)
                    for m in task.aggregation() if m in bank[0][0][1]}
    _PREPARED.append(want)


def corpus_dir(root: str | os.PathLike, n_runs: int, n_tasks: int, n_docs: int, data_dir: str | None = None,
               variants: int = N_VARIANTS) -> Path:
    """The folder of a generated corpus under ``--workdir``: named by its size, and by its data and
    variants where they are not the defaults (a corpus of other documents is never reused as this one)."""
    name = f"r{n_runs}-t{n_tasks}-d{n_docs}"
    if variants != N_VARIANTS:
        name += f"-v{variants}"
    if data_dir:
        name += "-data" + hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:8]
    return Path(root) / name


def add_corpus_args(p: argparse.ArgumentParser, runs: int) -> None:
    """The options that say which corpus a bench reads (every bench of the leaderboard takes the same)."""
    p.add_argument("--runs", type=int, default=runs)
    p.add_argument("--docs", type=int, default=1000)
    p.add_argument("--data-dir", metavar="DIR",
                   help="documents from this data folder (the publishers' formats, as `ecomsuite eval --data-dir`); "
                        "default: the embedded sample (4-16 test documents a task, cycled)")
    p.add_argument("--variants", type=int, default=N_VARIANTS,
                   help=f"model outputs per document, the reference one of them (default {N_VARIANTS})")
    p.add_argument("--workdir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "ecomsuite-bench-leaderboard"))


def corpus(a: argparse.Namespace, n_tasks: int, jobs: int) -> tuple[Path, Path, float, bool]:
    """(its folder, and :func:`generate`'s inputs, seconds, reused) of the corpus the options of
    :func:`add_corpus_args` name."""
    workdir = corpus_dir(a.workdir, a.runs, n_tasks, a.docs, a.data_dir, a.variants)
    return (workdir, *generate(workdir, a.runs, n_tasks, a.docs, jobs, a.data_dir, a.variants))


def generate(workdir: Path, n_runs: int, n_tasks: int, n_docs: int, jobs: int, data_dir: str | None = None,
             variants: int = N_VARIANTS) -> tuple[Path, float, bool]:
    if data_dir and not Path(data_dir).is_dir():
        raise SystemExit(f"--data-dir {data_dir}: not a folder")
    inputs = workdir / "inputs"
    manifest: dict[str, Any] = {"runs": n_runs, "tasks": n_tasks, "docs": n_docs, "version": 3,
                                "data": str(Path(data_dir).resolve()) if data_dir else "embedded sample"}
    if variants != N_VARIANTS:
        manifest["variants"] = variants
    mf = workdir / "manifest.json"
    if mf.is_file() and json.loads(mf.read_text()) == manifest and inputs.is_dir():
        return inputs, 0.0, True
    shutil.rmtree(inputs, ignore_errors=True)
    inputs.mkdir(parents=True)
    t = time.perf_counter()
    prepare_tasks(n_tasks, n_docs, data_dir, variants)
    chunk = max(1, n_runs // (jobs * 8))
    pieces = [(inputs, s, min(n_runs, s + chunk)) for s in range(0, n_runs, chunk)]
    if jobs <= 1:
        for piece in pieces:
            _write_runs(piece)
    else:
        with mp.get_context("fork").Pool(jobs) as pool:
            sum(pool.imap_unordered(_write_runs, pieces))
    mf.write_text(json.dumps(manifest))
    return inputs, time.perf_counter() - t, False


def one_more_run(workdir: Path, r: int, n_tasks: int, n_docs: int, folder: str = "extra", data_dir: str | None = None,
                 variants: int = N_VARIANTS) -> Path:
    """A new run in its own results folder (the incremental rebuild's input); the cached inputs stay as named.
    Reused when its marker says it is run ``r`` of this corpus (``workdir``'s manifest): making it needs the
    corpus's task bank (every document's outputs) in this process, ~5 GB with ``--data-dir --variants 40``,
    and a build's peak RSS measured after that includes it (``bench_bank_in_process``)."""
    import random

    extra = workdir / folder
    marker = extra / ".bench-run.json"
    mf = workdir / "manifest.json"
    want = {"corpus": json.loads(mf.read_text()) if mf.is_file() else None, "run": r}
    try:
        if json.loads(marker.read_text()) == want:
            return extra
    except (OSError, ValueError):
        pass
    shutil.rmtree(extra, ignore_errors=True)
    prepare_tasks(n_tasks, n_docs, data_dir, variants)
    write_run(extra, r, random.Random(r))
    marker.write_text(json.dumps(want))
    return extra


def _du(path: Path) -> tuple[int, int]:
    total = n = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
            n += 1
    return total, n


def site_hashes(site: Path) -> dict[str, str]:
    """relative path -> sha256 of every file of a built site."""
    out = {}
    for root, _, files in os.walk(site):
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, site)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def site_changes(before: dict[str, str], after: dict[str, str]) -> dict[str, Any]:
    """How many files of ``after`` are new or differ from ``before`` (per top-level folder), and how
    many of ``before`` are gone."""
    changed: dict[str, int] = {}
    for rel, h in after.items():
        if before.get(rel) != h:
            top = rel.split(os.sep, 1)[0] if os.sep in rel else "(top)"
            changed[top] = changed.get(top, 0) + 1
    return {"files": len(after), "new_or_changed": sum(changed.values()), "by_folder": dict(sorted(changed.items())),
            "removed": len(set(before) - set(after))}


def resident_fraction(roots: list[str]) -> float | None:
    """The share of the samples files' bytes under ``roots`` that is in the page cache now (mincore over a
    private mapping of each file), or None where that can't be asked (not Linux, no libc). A full build's
    wall time depends on it: some machines page out file pages that were not read for a minute (DAMON's
    proactive reclaim), so a 17 GB corpus is read partly from disk, more or less from build to build."""
    import ctypes
    import mmap

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        mincore = libc.mincore
    except (OSError, AttributeError):
        return None
    mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    page = mmap.PAGESIZE
    total = resident = 0
    for root in roots:
        for path in Path(root).rglob("samples_*.jsonl"):
            size = path.stat().st_size
            if not size:
                continue
            with open(path, "rb") as fh:
                mm = mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_COPY)
            try:
                anchor = ctypes.c_char.from_buffer(mm)
                n = -(-size // page)
                vec = (ctypes.c_ubyte * n)()
                if mincore(ctypes.addressof(anchor), size, vec) != 0:
                    return None
                del anchor
                total += n
                resident += sum(bytes(vec))  # 1 per resident page
            finally:
                mm.close()
    return round(resident / total, 3) if total else None


def set_inputs(roots: list[str], how: str) -> None:
    """``how`` "cold": every samples file under ``roots`` dropped from the page cache (fsync, then fadvise
    DONTNEED, which leaves dirty pages: inputs this bench just wrote; as if written long ago); "warm": every
    one read once (as if just written); "as-is": left alone."""
    if how == "as-is":
        return
    for root in roots:
        for path in Path(root).rglob("samples_*.jsonl"):
            if how == "warm":
                with open(path, "rb") as fh:
                    while fh.read(1 << 22):
                        pass
                continue
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


_CALIBRATION_LINE = json.dumps({
    "doc_id": 7, "doc": {"id": "d7", "query": "air fryer 6 quart", "title": "a product " * 20, "label": "E"},
    "target": "exact", "arguments": {f"gen_args_{k}": {"arg_0": "a prompt " * 60, "arg_1": f" choice {k}"} for k in range(4)},
    "resps": [[[f"-{k}.5", "False"]] for k in range(4)], "filtered_resps": [[f"-{k}.5", "False"] for k in range(4)],
    "filter": "none", "metrics": ["acc", "macro_f1"], "acc": 1.0, "macro_f1": ["E", "E"]}).encode()


def emit(figures: dict, json_path: str | None) -> None:
    """A bench's figures printed, and written to ``json_path`` when given (--json)."""
    text = json.dumps(figures, indent=2)
    print(text)
    if json_path:
        Path(json_path).write_text(text)


def cpu_calibration(lines: int = 20000) -> float:
    """CPU-s of a fixed piece of work like a build's (JSON lines parsed, their fields walked in Python):
    the same code and inputs take 2-3x as long on some of these VMs as on others (issue 13's session 10:
    75-77 s in session 9, 205-247 s in session 10 for one full-size build of 3486928), so each build records it next to its figures."""
    import orjson

    t = time.process_time()
    n = 0
    for _ in range(lines):
        d = orjson.loads(_CALIBRATION_LINE)
        for k, v in d.items():
            n += len(k) + (len(v) if isinstance(v, (str, list, dict)) else 1)
        n += sum(float(p[0]) < 0 for p in d["filtered_resps"])
    assert n
    return round(time.process_time() - t, 3)


def device_read_bytes(path: str | os.PathLike) -> int | None:
    """Bytes read so far from the block device that holds ``path`` (Linux: /sys/dev/block/MAJ:MIN/stat,
    sectors of 512 bytes), or None where that can't be asked. "Inputs cold" drops the files from this
    VM's page cache only: on these VMs a cache below the VM then serves files read recently at ~4x the
    rate of the disk (bench/README.md, session 11), so a cold build's figures need what the device read
    beside them, and at what rate."""
    try:
        st = os.stat(path)
        with open(f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}/stat") as fh:
            return int(fh.read().split()[2]) * 512
    except (OSError, ValueError, IndexError):
        return None


def timed_build(build, results: list[str], site: Path, a: argparse.Namespace, **extra: Any) -> dict:
    """One build_site call: wall, CPU seconds (user and kernel) of this process and its workers, peak RSS,
    sizes, and how much of the samples files was in the page cache when it started (after ``--inputs``).
    The pages' build time is fixed (``generated``) so that two builds of the same inputs can be compared
    byte for byte."""
    calibration = cpu_calibration()
    set_inputs(results, a.inputs)
    resident = resident_fraction(results)
    ru0 = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    load = os.getloadavg()[0]
    dev0 = device_read_bytes(results[0])
    t = time.perf_counter()
    summary = build.build_site(build.BuildOptions(results=results, out=str(site), jobs=a.jobs,
                                                  bootstrap_iters=a.bootstrap_iters, plots=not a.no_plots,
                                                  progress=a.progress, generated="(bench)", **extra))
    wall = time.perf_counter() - t
    dev1 = device_read_bytes(results[0])
    ru1 = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu = sum((b.ru_utime + b.ru_stime) - (a0.ru_utime + a0.ru_stime) for a0, b in zip(ru0, ru1))
    site_bytes, site_files = _du(site)
    data_bytes, data_files = _du(site / "data")
    stages = {k: round(v, 2) for k, v in summary.seconds.items()}
    return {
        "build_s": round(wall, 2), "cpu_s_all_processes": round(cpu, 1), "load_average_1min_at_start": round(load, 1),
        "kernel_cpu_s_all_processes": round(sum(b.ru_stime - a0.ru_stime for a0, b in zip(ru0, ru1)), 1),
        "inputs": a.inputs, "inputs_resident_at_start": resident,
        # read from the inputs' block device during the build (anything else on it included), and its rate over the build
        "device_read_mb": None if dev0 is None or dev1 is None else round((dev1 - dev0) / 2**20, 1),
        "device_read_mb_per_s": None if dev0 is None or dev1 is None else round((dev1 - dev0) / 2**20 / wall, 1),
        "cpu_calibration_s_before": calibration, "cpu_calibration_s_after": cpu_calibration(),
        "stages_s": stages,
        # what build_site's "total" leaves out (before this bench's leaderboard: swapping the site in)
        "outside_stages_s": round(wall - summary.seconds.get("total", 0.0), 2),
        "systems": summary.systems, "sample_data_files": summary.sample_files,
        "warnings": summary.warnings, "unusable_files": summary.unusable_files,
        "sample_cache_hits": summary.sample_cache_hits,
        "stats_cache_hits": getattr(summary, "stats_cache_hits", None),
        "pair_groups_reused": getattr(summary, "pair_groups_reused", None),
        "views_linked": getattr(summary, "views_linked", None),  # cached viewer files linked from the old site
        "published": {k: round(v, 2) if isinstance(v, float) else v for k, v in getattr(summary, "published", {}).items()},
        "stats_digest": getattr(summary, "stats_digest", None),
        "index_html_kb": round(summary.index_bytes / 1024, 1),
        "site_mb": round(site_bytes / 2**20, 1), "site_files": site_files,
        "per_sample_data_mb": round(data_bytes / 2**20, 1),
        "per_sample_file_kb_avg": round(data_bytes / max(1, data_files) / 1024, 1),
        # ru_maxrss is a high-water mark: of this process over its life, and of its largest finished child
        # (the bench's own task bank, when this process made inputs, is in the high-water mark too)
        "bench_bank_in_process": bool(_PREPARED),
        "peak_rss_mb_so_far": round(max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                                        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024),
    }


def _floor_file(path: str, loads: Any = json.loads) -> int:
    n = 0
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                loads(line)
                n += 1
    return n


def _floor_file_orjson(path: str) -> int:
    import orjson

    return _floor_file(path, orjson.loads)


def read_floor(inputs: Path, jobs: int) -> dict[str, Any]:
    """What only reading and parsing every line of every samples file costs (the least any full build
    does with them): wall and CPU-s in one process with ``json.loads`` and with ``orjson.loads`` (the
    build's parser), and with ``json.loads`` in ``jobs`` processes."""
    files = sorted(str(p) for p in inputs.rglob("samples_*.jsonl"))
    size = sum(os.path.getsize(f) for f in files)
    for f in files:  # warm the page cache: the floor is the parsing, not this disk
        with open(f, "rb") as fh:
            while fh.read(1 << 24):
                pass
    c0, t = time.process_time(), time.perf_counter()
    lines = sum(_floor_file(f) for f in files)
    one = {"wall_s": round(time.perf_counter() - t, 2), "cpu_s": round(time.process_time() - c0, 2)}
    c0, t = time.process_time(), time.perf_counter()
    sum(_floor_file_orjson(f) for f in files)  # the parser the build uses (json.loads only for lines it refuses)
    one_orjson = {"wall_s": round(time.perf_counter() - t, 2), "cpu_s": round(time.process_time() - c0, 2)}
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    with mp.get_context("fork").Pool(jobs) as pool:
        sum(pool.imap_unordered(_floor_file, files, chunksize=4))
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    par = {"wall_s": round(time.perf_counter() - t, 2),
           "cpu_s": round(ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime, 2), "processes": jobs}
    return {"files": len(files), "lines": lines, "mb": round(size / 2**20, 1), "one_process": one, "one_process_orjson": one_orjson, "pool": par,
            "load_average_1min": round(os.getloadavg()[0], 1)}


def run_builds(a: argparse.Namespace, workdir: Path, inputs: Path, site: Path) -> dict[str, Any]:
    """Full build with a cold cache, the rebuild after one new run with the cache, the same rebuild with
    ``--no-cache``; which files each rebuild changed, and whether the two rebuilds are the same site."""
    build = _leaderboard_build()
    shutil.rmtree(site, ignore_errors=True)
    shutil.rmtree(build.cache_dir_for(site), ignore_errors=True)  # the full build starts cold
    out: dict[str, Any] = {"leaderboard_source": str(Path(build.__file__).parent),
                           "full": timed_build(build, [str(inputs)], site, a)}
    if a.no_incremental:
        return out
    before = site_hashes(site)
    extra = one_more_run(workdir, a.runs, a.tasks, a.docs, data_dir=a.data_dir, variants=a.variants)
    inc = out["incremental_one_new_run"] = timed_build(build, [str(inputs), str(extra)], site, a)
    cached = site_hashes(site)
    inc["site_changes"] = site_changes(before, cached)
    ref = out["incremental_one_new_run_no_cache"] = timed_build(build, [str(inputs), str(extra)], site, a, cache=False)
    out["cache_mb"] = round(_du(build.cache_dir_for(site))[0] / 2**20, 1)
    if inc["stats_digest"] is not None:  # the cached rebuild's statistics are the uncached ones, bit for bit
        out["incremental_statistics_equal_no_cache"] = inc["stats_digest"] == ref["stats_digest"]
    uncached = site_hashes(site)
    differ = sorted(k for k in set(cached) | set(uncached) if cached.get(k) != uncached.get(k))
    out["incremental_site_equal_no_cache"] = not differ
    if differ:
        out["incremental_site_differs_from_no_cache"] = {"files": len(differ), "first": differ[:5]}
    # as a user runs it: a new process (its imports included: the metric libraries for the new run's files,
    # lm-eval for the task groups, matplotlib), the cache of the build before, one more new run
    extra2 = one_more_run(workdir, a.runs + 1, a.tasks, a.docs, "extra2", a.data_dir, a.variants)
    out["incremental_one_new_run_new_process"] = cli_build(a, [inputs, extra, extra2], site)
    return out


def cli_build(a: argparse.Namespace, results: list[Path], site: Path) -> dict[str, Any]:
    """``ecomsuite leaderboard build`` in a new process (of the checkout in use): wall and CPU-s of it and its workers."""
    root = a.checkout or Path(__file__).resolve().parents[1]
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); import bench_leaderboard as b; "
            f"b.use_checkout({str(root)!r}); from ecomsuite.leaderboard import build; sys.exit(build.main(sys.argv[1:]))")
    args = ["build", *map(str, results), "--out", str(site), "--jobs", str(a.jobs), "--bootstrap-iters",
            str(a.bootstrap_iters), "--quiet"] + (["--no-plots"] if a.no_plots else [])
    import subprocess

    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, *args], check=True)
    wall = time.perf_counter() - t
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"build_s": round(wall, 2), "cpu_s_all_processes": round(ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime, 1),
            "load_average_1min_at_start": round(load, 1)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--small", action="store_true", help="50 runs x 6 tasks x 100 samples")
    add_corpus_args(p, runs=1000)
    p.add_argument("--tasks", type=int, default=len(TASKS))
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--bootstrap-iters", type=int, default=2000)
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--no-incremental", action="store_true", help="skip the rebuild after one new run")
    p.add_argument("--impl", action="append", default=[], metavar="LABEL=CHECKOUT",
                   help="build with the leaderboard of this checkout (e.g. before=/tmp/old, after=.); repeatable: "
                        "each in its own process, one after the other on the same inputs, figures under 'impls'")
    p.add_argument("--checkout", metavar="DIR", help=argparse.SUPPRESS)  # one --impl's process
    p.add_argument("--site-name", default="site", help=argparse.SUPPRESS)
    p.add_argument("--read-floor", action="store_true",
                   help="also time only reading + json.loads of every samples line (the least a full build costs)")
    p.add_argument("--progress", action="store_true")
    p.add_argument("--inputs", choices=["as-is", "cold", "warm"], default="as-is",
                   help="before each build: leave the samples files' pages as they are, drop them from the page "
                        "cache (cold: as if written long ago), or read them once (warm)")
    p.add_argument("--clean", action="store_true", help="delete the generated inputs and site afterwards")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    a = p.parse_args(argv)
    if a.small:
        a.runs, a.docs = 50, 100
    if a.checkout:
        use_checkout(a.checkout)
    workdir, inputs, gen_s, reused = corpus(a, a.tasks, a.jobs)
    in_bytes, in_files = _du(inputs)
    load0 = os.getloadavg()[0]
    figures: dict[str, Any] = {
        "runs": a.runs, "tasks": a.tasks, "samples_per_task": a.docs, "jobs": a.jobs, "cpus": os.cpu_count(),
        "data": a.data_dir or "embedded sample", "variants": a.variants,
        "bootstrap_iters": a.bootstrap_iters,
        "input_generation_s": round(gen_s, 1), "inputs_reused": reused,
        "input_mb": round(in_bytes / 2**20, 1), "input_files": in_files,
    }
    if a.read_floor:
        figures["read_floor"] = read_floor(inputs, a.jobs)
    if a.impl:
        import subprocess
        import tempfile

        figures["impls"] = {}
        for spec in a.impl:
            label, sep, root = spec.partition("=")
            if not sep or not label or not root:
                p.error(f"--impl {spec!r}: expected LABEL=CHECKOUT")
            with tempfile.TemporaryDirectory() as tmp:
                child = [sys.executable, str(Path(__file__).resolve()), "--checkout", root, "--json", f"{tmp}/f.json",
                         "--runs", str(a.runs), "--tasks", str(a.tasks), "--docs", str(a.docs), "--jobs", str(a.jobs),
                         "--bootstrap-iters", str(a.bootstrap_iters), "--workdir", a.workdir, "--site-name", f"site-{label}",
                         "--inputs", a.inputs, "--variants", str(a.variants)] + (["--data-dir", a.data_dir] if a.data_dir else [])
                child += [f for f, on in (("--no-plots", a.no_plots), ("--no-incremental", a.no_incremental),
                                          ("--progress", a.progress)) if on]
                subprocess.run(child, check=True, stdout=subprocess.DEVNULL)
                sub = json.loads(Path(f"{tmp}/f.json").read_text())
            figures["impls"][label] = {"checkout": str(Path(root).resolve()),
                                       **{k: v for k, v in sub.items() if k not in figures}}
            shutil.rmtree(workdir / f"site-{label}", ignore_errors=True)  # each checkout's site is left, deleted
            shutil.rmtree(workdir / f"site-{label}.cache", ignore_errors=True)  # here: the disk holds one at a time
    else:
        figures.update(run_builds(a, workdir, inputs, workdir / a.site_name))
    figures["load_average_1min_before_after"] = [round(load0, 1), round(os.getloadavg()[0], 1)]
    emit(figures, a.json)
    if a.clean:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
