"""Stage 1 — collect: find lm-eval result files, read them tolerantly, attach samples and lineage.

Nothing here decides rankings or formats anything; it turns files on disk into typed values
(:class:`Run`, :class:`TaskResult`, :class:`Lineage`) plus a list of :class:`Problem` for the
build report. A file that cannot be used is *reported*, never silently skipped, and never stops
the build.

Accepted shapes (lm-eval 0.4.x, older and newer):
- ``results`` mapping task -> {"metric,filter": value, "metric_stderr,filter": value|"N/A",
  "alias", "name", "sample_len"}; entries that are groups are recognised via ``groups`` /
  ``group_subtasks`` and kept apart from leaf tasks.
- ``config.model_args`` as "k=v,k2=v2", a JSON string, or a dict.
- ``versions`` values of any type; ``n-shot`` values int or str; stderr "N/A".
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from . import safeio

# lm-eval names its files results_<date_id>.json / samples_<task>_<date_id>.jsonl, where
# date_id = datetime.now().isoformat().replace(":", "-"); with --output_path x.json: x_<date_id>.json
DATE_ID = r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d+)?"
RESULTS_RE = re.compile(rf"^(?:results.*|.+_{DATE_ID})\.json$")
DATE_RE = re.compile(rf"_({DATE_ID})\.jsonl?$")
SKIP_DIRS = {".git", "node_modules", "__pycache__", ".venv", "venv", ".ipynb_checkpoints"}
NOT_RESULTS = {"lineage.json", "build_report.json", "leaderboard.json"}
# model_args that change how a model runs, not what it is
RUNTIME_ARGS = frozenset(
    "device device_map parallelize batch_size max_batch_size num_concurrent max_retries timeout "
    "max_memory_per_gpu max_cpu_memory offload_folder cache_dir".split()
)
# lm-eval model types that call a remote API (used only to label the kind when no lineage exists)
API_MODEL_TYPES = frozenset(
    "openai-completions openai-chat-completions local-completions local-chat-completions "
    "anthropic anthropic-completions anthropic-chat anthropic-chat-completions textsynth "
    "watsonx_llm gemini google-genai".split()
)
LINEAGE_FIELDS = (
    "kind name base_model method tasks train_size seed data_source hyperparameters inputs "
    "command versions git_rev".split()
)
MAX_LINEAGE_DEPTH = 6
MAX_RESULTS_BYTES = safeio.MAX_RESULTS_BYTES  # module attribute so that tests and operators can lower it


@dataclass
class Problem:
    """One line of the build report."""

    path: str
    severity: str  # "error": file not used | "warning": used, with a caveat | "info"
    reason: str


@dataclass
class Lineage:
    """What produced a model (ecomsuite.lineage's lineage.json); every field optional."""

    kind: str | None = None
    name: str | None = None
    base_model: str | None = None
    method: str | None = None
    tasks: list[str] = field(default_factory=list)
    train_size: int | None = None  # total; a per-task mapping is summed
    train_sizes: dict[str, int] = field(default_factory=dict)  # per task, when given as a mapping
    seed: Any = None
    data_source: str | None = None
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    inputs: list["Lineage | str"] = field(default_factory=list)
    command: str | None = None
    versions: dict[str, Any] = field(default_factory=dict)
    git_rev: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # unknown fields, shown as-is
    source: str | None = None  # file it was read from (provenance only; never on a page)
    source_shown: str | None = None  # that file relative to its results/adapter root (what pages show)


@dataclass
class TaskResult:
    """One leaf task of one run."""

    task: str
    alias: str
    values: dict[tuple[str, str], float]  # (metric, filter) -> value
    stderrs: dict[tuple[str, str], float]  # (metric, filter) -> stderr (absent when "N/A")
    higher_is_better: dict[str, bool | None]
    n_shot: int | None
    version: str | None
    n_effective: int | None
    n_original: int | None
    metadata: dict[str, Any]
    output_type: str | None
    samples_path: str | None
    run_path: str  # results file this came from

    def metric_filters(self, metric: str) -> list[str]:
        return [f for (m, f) in self.values if m == metric]

    def metrics(self) -> list[str]:
        out: list[str] = []
        for m, _ in self.values:
            if m not in out:
                out.append(m)
        return out


@dataclass
class Run:
    """One lm-eval results file."""

    path: str
    date_id: str | None
    timestamp: float  # for "latest wins"; date field, else date_id, else mtime
    model_type: str
    model_args: dict[str, str]
    model_args_raw: str
    model_name: str
    chat_template: bool
    chat_template_sha: str | None
    system_instruction: str | None
    fewshot_as_multiturn: bool | None
    limit: float | None
    gen_kwargs: Any
    batch_size: Any
    eval_seconds: float | None
    num_parameters: int | None
    lm_eval_version: str | None
    git_hash: str | None
    config: dict[str, Any]
    tasks: dict[str, TaskResult]
    top_level_tasks: list[str]
    group_subtasks: dict[str, list[str]] = field(default_factory=dict)
    lineage: Lineage | None = None
    cost: dict[str, Any] | None = None  # ecomsuite's cost record beside the results file (ecomsuite.cost), if any

    @property
    def n_shot_label(self) -> str:
        shots = sorted({t.n_shot for t in self.tasks.values() if t.n_shot is not None})
        if not shots:
            return "?"
        return str(shots[0]) if len(shots) == 1 else "/".join(str(s) for s in shots)

    @property
    def limited(self) -> bool:
        """Run with --limit that left documents out (a limit >= the task size changes nothing)."""
        if self.limit is None:
            return False
        return any(
            t.n_effective is None or t.n_original is None or t.n_effective < t.n_original for t in self.tasks.values()
        )

    def identity(self) -> tuple:
        """What makes two runs the same system (n-shot handled by systems.assemble)."""
        args = tuple(sorted((k, v) for k, v in self.model_args.items() if k not in RUNTIME_ARGS))
        return (
            self.model_type,
            args if args else ("name", self.model_name),
            self.chat_template,
            self.chat_template_sha,
            self.system_instruction,
            self.fewshot_as_multiturn if self.chat_template else None,
            json.dumps(self.gen_kwargs, sort_keys=True, default=str) if self.gen_kwargs else None,
            # a --limit run never merges with a full one; runs with different limits (a study's per-task
            # limits) are the same system, each cell shows its own limit
            "limited" if self.limited else None,
        )


@dataclass
class Collection:
    runs: list[Run]
    problems: list[Problem]
    files_seen: int


# ----------------------------------------------------------------------------------------------
# small tolerant converters


def to_float(v: Any) -> float | None:
    if type(v) is float:  # the common case (a metric's value), first
        return v if math.isfinite(v) else None
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)):
        try:
            f = float(v)
        except OverflowError:  # an integer beyond float range
            return None
        return f if math.isfinite(f) else None
    if isinstance(v, str):
        if len(v) > 64:
            return None
        try:
            f = float(v.strip())
        except ValueError:
            return None
        return f if math.isfinite(f) else None
    return None


def to_int(v: Any) -> int | None:
    f = to_float(v)
    if f is None or f != int(f):
        return None
    return int(f)


def parse_model_args(raw: Any) -> tuple[dict[str, str], str]:
    """model_args as lm-eval accepts them -> ({key: str(value)}, original text)."""
    if raw is None:
        return {}, ""
    if isinstance(raw, dict):
        d = {str(k): _arg_str(v) for k, v in raw.items()}
        if any(isinstance(v, (dict, list)) or any(c in str(v) for c in ",=") for v in raw.values()):
            return d, json.dumps(raw, default=str)
        return d, ",".join(f"{k}={v}" for k, v in d.items())
    text = str(raw).strip()
    if text.startswith("{"):
        try:
            obj = safeio.loads(text)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            return {str(k): _arg_str(v) for k, v in obj.items()}, text
    out: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        k, sep, v = part.partition("=")
        out[k.strip()] = v.strip() if sep else ""
    return out, text


def _arg_str(v: Any) -> str:
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True)
    return str(v)


def _as_dict(v: Any) -> dict:
    return v if isinstance(v, dict) else {}


def _date_from_id(date_id: str | None) -> float | None:
    if not date_id:
        return None
    from datetime import datetime

    try:
        head, _, frac = date_id.partition(".")
        dt = datetime.strptime(head, "%Y-%m-%dT%H-%M-%S")
        return dt.timestamp() + (float("0." + frac) if frac else 0.0)
    except ValueError:
        return None


# ----------------------------------------------------------------------------------------------
# discovery


def find_result_files(
    paths: Iterable[str | os.PathLike], exclude: Iterable[Path] = (), problems: list[Problem] | None = None
) -> list[Path]:
    """Result files under each path (a path that is a file is taken as a result file).

    Symlinked folders are followed, each real folder once (a link back up cannot loop); a folder
    seen again through another link is reported as an "info" problem, never dropped silently."""
    excl = [os.path.realpath(p) for p in exclude]
    found: list[tuple[Path, str | None]] = []  # (file, its real path where known from its folder's)
    visited: set[str] = set()
    reals: dict[str, str] = {}  # folder -> its real path, known from its parent's when it is not a link
    for p in paths:
        p = Path(p)
        if not p.is_dir():
            found.append((p, None))
            continue
        for root, dirs, files in os.walk(p, followlinks=True):
            rootp = Path(root)
            real = reals.pop(root, None) or os.path.realpath(root)
            if real in visited:
                if problems is not None and rootp != p:
                    problems.append(Problem(str(rootp), "info", f"folder already searched as {real}; not searched again"))
                dirs[:] = []
                continue
            visited.add(real)
            keep = []
            for d in sorted(dirs):
                if d in SKIP_DIRS:
                    continue
                sub = os.path.join(root, d)
                rs = os.path.realpath(sub) if os.path.islink(sub) else os.path.join(real, d)
                if any(rs == e or rs.startswith(e.rstrip(os.sep) + os.sep) for e in excl):
                    continue
                reals[sub] = rs
                keep.append(d)
            dirs[:] = keep
            for name in sorted(files):
                if name in NOT_RESULTS or not RESULTS_RE.match(name):
                    continue
                # a file that is not a link is its folder's real path + its name (one lstat, not realpath's one a component)
                found.append((rootp / name, None if os.path.islink(os.path.join(root, name)) else os.path.join(real, name)))
    seen: set[str] = set()
    unique = []
    for f, r in found:
        if r is None:
            r = os.path.realpath(f)  # never raises, even on a link loop (the read reports it)
        if r not in seen:
            seen.add(r)
            unique.append(f)
    return unique


_NO_SUCH_FILE = (errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP)  # what Path.is_file reads as "no"


def find_samples_file(results_path: Path, task: str) -> tuple[str | None, str | None]:
    """The samples_<task>_<date_id>.jsonl written with this results file -> (path, problem)."""
    sanitized = re.sub(r"\W", "_", task)  # lm_eval.utils.sanitize_task_name
    m = DATE_RE.search(results_path.name)
    folder = results_path.parent
    if m:
        name = f"samples_{sanitized}_{m.group(1)}.jsonl"
        # the same text as str(folder / name) and the same test as (folder / name).is_file(), without pathlib
        parent = str(folder)
        cand = name if parent == "." else os.path.join(parent, name)
        try:
            st = os.stat(cand)
        except OSError as e:
            if e.errno not in _NO_SUCH_FILE:
                raise
            st = None
        if st is not None and stat.S_ISREG(st.st_mode):
            return cand, None
        if os.path.lexists(cand):
            return None, f"samples file {name} is not a regular file (link to a device, FIFO, loop); not read"
        return None, None
    cands = sorted(folder.glob(f"samples_{glob_escape(sanitized)}_*.jsonl"))
    cands = [c for c in cands if re.fullmatch(rf"samples_{re.escape(sanitized)}_{DATE_ID}\.jsonl", c.name)]
    if len(cands) == 1:
        return str(cands[0]), None
    if len(cands) > 1:
        return None, (
            f"{len(cands)} samples files for task {task!r} and no date in the results file "
            "name to pick one; per-sample data not used"
        )
    return None, None


def glob_escape(s: str) -> str:
    return re.sub(r"([\[\]*?])", r"[\1]", s)


# ----------------------------------------------------------------------------------------------
# lineage


MAX_LINEAGE_NODES = 200  # lineage nodes kept per system (a fan-out of shared inputs is counted once per use)


@dataclass
class _LineageReader:
    """Reads lineage files for one build: inputs are followed only to ``lineage.json`` files (or
    folders holding one) inside ``roots``; never via ``~`` or the working directory. Each file is
    parsed once (memoised by real path) and each top-level read keeps at most
    ``MAX_LINEAGE_NODES`` nodes, so files that fan out to each other cannot grow exponentially."""

    roots: list[Path]
    problems: list[Problem]
    memo: dict[str, tuple[Lineage | None, int]] = field(default_factory=dict)
    budget: int = MAX_LINEAGE_NODES

    def within_roots(self, p: Path) -> Path | None:
        real = Path(os.path.realpath(p))
        for r in self.roots:
            try:
                real.relative_to(os.path.realpath(r))
                return Path(os.path.realpath(r))
            except ValueError:
                continue
        return None

    def shown(self, p: Path | str) -> str:
        """A path as a page may show it: relative to its root; else only its last component."""
        real = Path(os.path.realpath(p))
        root = self.within_roots(real)
        if root is not None:
            return str(real.relative_to(root)) or "."
        return Path(str(p)).name or "?"

    def read(self, path: Path, depth: int = 0, stack: frozenset = frozenset()) -> tuple[Lineage | None, int]:
        p = path / "lineage.json" if path.is_dir() else path
        key = os.path.realpath(p)
        if key in stack:
            self.problems.append(Problem(self.shown(p), "warning", "lineage inputs form a cycle; stopped there"))
            return None, 0
        if key in self.memo:
            return self.memo[key]
        try:
            text, reencoded = safeio.decode(safeio.read_bytes(p, safeio.MAX_LINEAGE_BYTES))
            data = safeio.loads(text)
        except (OSError, safeio.NotReadable) as e:
            return self._fail(p, key, f"lineage file unreadable: {getattr(e, 'strerror', None) or e}")
        except ValueError as e:
            return self._fail(p, key, f"lineage file is not valid JSON: {str(e)[:200]}")
        if reencoded:
            self.problems.append(Problem(str(p), "warning", "lineage file is not valid UTF-8; invalid bytes shown as U+FFFD"))
        if not isinstance(data, dict):
            return self._fail(p, key, f"lineage file holds a {type(data).__name__}, not an object")
        try:
            out = self.from_dict(data, p, depth, stack | {key})
        except RecursionError:
            return self._fail(p, key, "lineage file is nested too deeply")
        out[0].source_shown = self.shown(p)
        self.memo[key] = out
        return out

    def _fail(self, p: Path, key: str, reason: str) -> tuple[None, int]:
        self.problems.append(Problem(str(p), "warning", reason))
        self.memo[key] = (None, 0)
        return None, 0

    def from_dict(self, data: dict, source: Path | None, depth: int, stack: frozenset) -> tuple[Lineage, int]:
        size = 1
        self.budget -= 1
        inputs: list[Lineage | str] = []
        raw_inputs = data.get("inputs")
        if isinstance(raw_inputs, (str, dict)):
            raw_inputs = [raw_inputs]
        if isinstance(raw_inputs, list):
            base_dir = source.parent if source else None
            for item in raw_inputs[:MAX_LINEAGE_NODES]:
                if depth >= MAX_LINEAGE_DEPTH or self.budget <= 0:
                    inputs.append(self.label(item))
                    continue
                if isinstance(item, dict):
                    lin, n = self.from_dict(item, source, depth + 1, stack)
                    inputs.append(lin)
                    size += n
                elif isinstance(item, str):
                    found = self.locate(item, base_dir)
                    lin, n = None, 0
                    if found is not None:
                        hit = os.path.realpath(found / "lineage.json" if found.is_dir() else found) in self.memo
                        lin, n = self.read(found, depth + 1, stack)
                        if hit:  # a shared input: its whole subtree counts again against the budget
                            if n > self.budget:
                                lin, n = None, 0
                            self.budget -= n
                    inputs.append(lin if lin is not None else self.label(item))
                    size += n
                else:
                    inputs.append(self.label(item))
        return lineage_from_dict(data, None if source is None else str(source), self.problems, inputs), size

    def label(self, item: Any) -> str:
        if isinstance(item, dict):
            return _clip(str(item.get("name", "…")))
        if isinstance(item, str):
            return _clip(self.shown(item) if item.startswith(("/", "~")) else item)
        return _clip(json.dumps(item, default=str))

    def locate(self, value: str, base_dir: Path | None) -> Path | None:
        """A lineage input that is a lineage.json (or a folder holding one) inside the roots."""
        if not value or len(value) > 4096 or "\x00" in value or value.startswith("~"):
            return None
        p = Path(value)
        if not p.is_absolute():
            if base_dir is None:
                return None
            p = base_dir / p
        try:
            ok = (p / "lineage.json").is_file() if p.is_dir() else (p.name == "lineage.json" and p.is_file())
        except OSError:
            return None
        return p if ok and self.within_roots(p) is not None else None


def _clip(text: str, limit: int = 200) -> str:
    return safeio.clip(text, limit)


def read_lineage(
    path: Path, problems: list[Problem], roots: list[Path] | None = None
) -> Lineage | None:
    """Read a lineage.json (path may be the file or the folder holding it). Its inputs are
    followed only inside ``roots`` (default: the folder holding the lineage file)."""
    folder = path if path.is_dir() else path.parent
    return _LineageReader(list(roots) if roots else [folder], problems).read(path)[0]


def lineage_from_dict(
    data: dict, source: str | None, problems: list[Problem], inputs: list["Lineage | str"] | None = None
) -> Lineage:
    def s(key: str) -> str | None:
        v = data.get(key)
        if v is None:
            return None
        return _clip(v if isinstance(v, str) else json.dumps(v, default=str), 2000)

    tasks = data.get("tasks")
    if isinstance(tasks, str):
        tasks = [tasks]
    tasks = [_clip(str(t)) for t in tasks[:1000]] if isinstance(tasks, list) else []
    raw_size = data.get("train_size")
    train_sizes: dict[str, int] = {}
    if isinstance(raw_size, dict):  # per-task sizes of a mixture
        train_sizes = {str(k): v for k, v in ((k, to_int(v)) for k, v in raw_size.items()) if v is not None}
        train_size = sum(train_sizes.values()) if train_sizes else None
    else:
        train_size = to_int(raw_size)
    if raw_size is not None and train_size is None and source:
        problems.append(
            Problem(source, "warning", f"lineage train_size {_clip(repr(raw_size), 60)} is not an integer")
        )
    extra = {k: v for k, v in data.items() if k not in LINEAGE_FIELDS}
    hp = data.get("hyperparameters")
    vers = data.get("versions")
    return Lineage(
        kind=s("kind"),
        name=s("name"),
        base_model=s("base_model"),
        method=s("method"),
        tasks=tasks,
        train_size=train_size,
        train_sizes=train_sizes,
        seed=data.get("seed"),
        data_source=s("data_source"),
        hyperparameters=hp if isinstance(hp, dict) else ({} if hp is None else {"value": hp}),
        inputs=inputs or [],
        command=s("command"),
        versions=vers if isinstance(vers, dict) else ({} if vers is None else {"value": vers}),
        git_rev=s("git_rev"),
        extra=extra,
        source=source,
    )


def _resolve_local(value: str, bases: list[Path]) -> Path | None:
    """A model_args path (peft=/pretrained=) relative to a results root or absolute, if it
    exists on this machine (no ``~`` expansion, no working-directory lookup)."""
    if not value or len(value) > 4096 or "\x00" in value or value.startswith("~"):
        return None
    p = Path(value)
    cands = [p] if p.is_absolute() else [b / p for b in bases]
    for c in cands:
        try:
            if c.exists():
                return c
        except OSError:
            continue
    return None


def find_lineage(
    results_path: Path, model_args: dict[str, str], roots: list[Path], problems: list[Problem],
    model_roots: list[Path] = (),
) -> Lineage | None:
    """lineage.json beside the results file, else in the peft= folder, else in pretrained=.

    The peft=/pretrained= folders are the configured adapter/model roots of this run: the
    lineage found there may follow its inputs within that folder's parent, the results roots and the
    ``model_roots`` (folders the operator named: relative peft=/pretrained= paths resolve against
    them, e.g. the folder a study ran from; the builder's working directory is never used implicitly)."""
    model_roots = list(model_roots)
    beside = results_path.parent / "lineage.json"
    if os.path.lexists(beside):
        return read_lineage(beside, problems, roots + [results_path.parent] + model_roots)
    bases = roots + [results_path.parent] + model_roots
    for key in ("peft", "pretrained"):
        v = model_args.get(key)
        if not v:
            continue
        found = _resolve_local(v, bases)
        if found is not None and found.is_dir() and (found / "lineage.json").is_file():
            return read_lineage(found, problems, roots + [found.parent] + model_roots)
        if key == "peft" and found is None and not Path(v).is_absolute():
            problems.append(Problem(str(results_path), "warning",
                                    f"peft={v[:200]} is a relative path not found under the results roots: its "
                                    "lineage (kind, base, training size) is unknown; name the folder it is relative "
                                    "to with --model-root"))
    return None


# ----------------------------------------------------------------------------------------------
# results files


class UnusableFile(Exception):
    """A results file that cannot be used; the message is the build report's reason."""


def read_run(path: Path, roots: list[Path], problems: list[Problem], model_roots: list[Path] = ()) -> Run:
    try:
        raw = safeio.read_bytes(path, MAX_RESULTS_BYTES)
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UnusableFile(f"not UTF-8 text: {e}") from None
    except safeio.NotReadable as e:
        raise UnusableFile(str(e)) from None
    except OSError as e:
        raise UnusableFile(f"cannot read: {e.strerror or e}") from None
    if not text.strip():
        raise UnusableFile("empty file (partial write?)")
    try:
        data = safeio.loads(text)
    except ValueError as e:
        raise UnusableFile(f"corrupt or truncated JSON: {str(e)[:200]}") from None
    return run_from_dict(data, path, roots, problems, model_roots)


def run_from_dict(data: Any, path: Path, roots: list[Path], problems: list[Problem],
                  model_roots: list[Path] = ()) -> Run:
    spath = str(path)
    if not isinstance(data, dict):
        raise UnusableFile(f"unknown shape: top level is a {type(data).__name__}, not an object")
    results = data.get("results")
    if not isinstance(results, dict):
        raise UnusableFile("not an lm-eval results file: no 'results' object")
    if not results:
        raise UnusableFile("partial: 'results' is empty")

    config = _as_dict(data.get("config"))
    if not config:
        problems.append(Problem(spath, "warning", "no 'config' object; model identity guessed from the file"))
    group_names = set(_as_dict(data.get("groups")))
    subtasks = _as_dict(data.get("group_subtasks"))
    for g, children in subtasks.items():
        if isinstance(children, list) and children:
            group_names.add(g)
    configs = _as_dict(data.get("configs"))
    versions = _as_dict(data.get("versions"))
    nshot = _as_dict(data.get("n-shot"))
    hib_all = _as_dict(data.get("higher_is_better"))
    nsamples = _as_dict(data.get("n-samples"))

    tasks: dict[str, TaskResult] = {}
    for task, entry in results.items():
        task = str(task)
        if task in group_names:
            continue
        if not isinstance(entry, dict):
            problems.append(Problem(spath, "warning", f"task {task!r}: entry is not an object; task skipped"))
            continue
        values: dict[tuple[str, str], float] = {}
        stderrs: dict[tuple[str, str], float] = {}
        for key, raw in entry.items():
            if not isinstance(key, str) or key in ("alias", "name", "sample_len"):
                continue
            metric, _, filt = key.partition(",")
            filt = filt or "none"
            if metric.endswith("_stderr"):
                v = to_float(raw)
                if v is not None:
                    stderrs[(metric[: -len("_stderr")], filt)] = v
                continue
            v = to_float(raw)
            if v is None:
                if raw not in (None, "N/A", ""):
                    problems.append(
                        Problem(spath, "warning", f"task {task!r}: metric {key!r} is not a number ({str(raw)[:40]!r})")
                    )
                continue
            values[(metric, filt)] = v
        if not values:
            problems.append(Problem(spath, "warning", f"task {task!r}: no numeric metric; task skipped"))
            continue
        tcfg = _as_dict(configs.get(task))
        meta = _as_dict(tcfg.get("metadata"))
        hib = {
            str(k): (v if isinstance(v, bool) or v is None else bool(v))
            for k, v in _as_dict(hib_all.get(task)).items()
        }
        ns = nsamples.get(task)
        n_eff = n_orig = None
        if isinstance(ns, dict):
            n_eff, n_orig = to_int(ns.get("effective")), to_int(ns.get("original"))
        elif ns is not None:
            n_eff = to_int(ns)
        if n_eff is None:
            n_eff = to_int(entry.get("sample_len"))
        n_shot = to_int(nshot.get(task))
        if n_shot is None:
            n_shot = to_int(tcfg.get("num_fewshot"))
        ver = versions.get(task)
        sp, sproblem = find_samples_file(path, task)
        if sproblem:
            problems.append(Problem(spath, "warning", sproblem))
        tasks[task] = TaskResult(
            task=task,
            alias=str(entry.get("alias") or task).strip(" -") or task,
            values=values,
            stderrs=stderrs,
            higher_is_better=hib,
            n_shot=n_shot,
            version=None if ver is None else str(ver),
            n_effective=n_eff,
            n_original=n_orig,
            metadata=meta,
            output_type=str(tcfg["output_type"]) if tcfg.get("output_type") is not None else None,
            samples_path=sp,
            run_path=spath,
        )
    if not tasks:
        raise UnusableFile("partial: no task with a numeric metric (only groups or empty entries)")

    model_args, raw_args = parse_model_args(config.get("model_args"))
    model_type = str(config.get("model") or data.get("model_source") or "unknown")
    model_name = (
        _first_str(data.get("model_name"))
        or next((model_args[k] for k in ("peft", "delta", "pretrained", "model", "path", "engine") if model_args.get(k)), None)
        or (model_type if config.get("model") else None)
        or path.parent.name
        or path.stem
    )
    date_id_m = DATE_RE.search(path.name)
    date_id = date_id_m.group(1) if date_id_m else None
    ts = to_float(data.get("date")) or _date_from_id(date_id)
    if ts is None:
        try:
            ts = path.stat().st_mtime
        except OSError:
            ts = 0.0
    chat_sha = _first_str(data.get("chat_template_sha"))
    chat = bool(data.get("chat_template") or chat_sha or config.get("apply_chat_template"))
    limit = to_float(config.get("limit"))
    under = {str(c) for v in subtasks.values() if isinstance(v, list) for c in v}
    top = [str(g) for g in subtasks if str(g) in group_names and str(g) not in under]
    top += [t for t in tasks if t not in under and t not in top]
    run = Run(
        path=spath,
        date_id=date_id,
        timestamp=float(ts),
        model_type=model_type,
        model_args=model_args,
        model_args_raw=raw_args,
        model_name=str(model_name),
        chat_template=chat,
        chat_template_sha=chat_sha,
        system_instruction=_first_str(data.get("system_instruction")),
        fewshot_as_multiturn=data.get("fewshot_as_multiturn") if isinstance(data.get("fewshot_as_multiturn"), bool) else None,
        limit=limit,
        gen_kwargs=config.get("gen_kwargs") or None,
        batch_size=config.get("batch_size"),
        eval_seconds=to_float(data.get("total_evaluation_time_seconds")),
        num_parameters=to_int(config.get("model_num_parameters")),
        lm_eval_version=_first_str(data.get("lm_eval_version")),
        git_hash=_first_str(data.get("git_hash")),
        config=config,
        tasks=tasks,
        top_level_tasks=top,
        group_subtasks={str(g): [str(c) for c in v] for g, v in subtasks.items() if isinstance(v, list)},
    )
    run.lineage = find_lineage(path, model_args, roots, problems, model_roots)
    run.cost = read_cost(path, problems)
    return run


def read_cost(results_path: Path, problems: list[Problem]) -> dict[str, Any] | None:
    """The cost record beside a results file (``ecomsuite.cost.read``, the one reader); a corrupt record is a
    warning in the build report (the run is used without cost), never fatal."""
    from ecomsuite import cost

    try:
        record, problem = cost.read(results_path)
    except (OSError, RecursionError, ValueError, TypeError) as e:  # read() handles JSON errors; belt and braces
        record, problem = None, f"unreadable cost record ({type(e).__name__}: {str(e)[:200]})"
    if problem:
        where = str(cost.cost_path(results_path) or results_path)
        reason = problem[len(where) + 2:] if problem.startswith(where + ": ") else problem
        problems.append(Problem(where, "warning", f"{reason}; the run is shown without cost"))
    return record


def _first_str(v: Any) -> str | None:
    if v is None:
        return None
    s = v if isinstance(v, str) else str(v)
    return s or None


def collect(paths: list[str | os.PathLike], exclude: Iterable[Path] = (), progress: bool = False,
            model_roots: Iterable[str | os.PathLike] = ()) -> Collection:
    """Read every result file under ``paths``. Unusable files become build-report problems.
    ``model_roots``: folders that relative peft=/pretrained= paths of the runs resolve against."""
    roots = [Path(p) if Path(p).is_dir() else Path(p).parent for p in paths]
    mroots = [Path(p).resolve() for p in model_roots]
    problems: list[Problem] = []
    files = find_result_files(paths, exclude, problems)
    runs: list[Run] = []
    it: Iterable[Path] = files
    if progress:
        from tqdm import tqdm

        it = tqdm(files, desc="collect results", unit="file", disable=None)
    for f in it:
        try:
            runs.append(read_run(f, roots, problems, mroots))
        except UnusableFile as e:
            problems.append(Problem(str(f), "error", str(e)))
        except RecursionError:
            problems.append(Problem(str(f), "error", "unknown shape: nesting too deep"))
        except (OverflowError, ValueError, TypeError) as e:  # one odd file never stops the build
            problems.append(Problem(str(f), "error", f"unusable value: {type(e).__name__}: {str(e)[:200]}"))
    return Collection(runs=runs, problems=problems, files_seen=len(files))
