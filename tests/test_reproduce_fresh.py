"""`ecomsuite reproduce`: no stale results (freshness records), children die with the study (kill -9),
one study per output folder (locks), every run's parameters checked up front, one-line errors.

Fast: no model is trained. Outputs are faked (a lineage.json / an lm-eval results file), and a job that
must run is a `launcher:` (a study may prefix its training runs with any command) that writes what a
finished `ecomsuite sft` would, or sleeps."""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from ecomsuite import EcomError
from ecomsuite.cli import main as cli_main
from ecomsuite.reproduce import (Freshness, find_study, load_study, locked, main, plan, study_problems,
                                 task_versions)

SFT0, SFT1 = "sft/tiny/sft/ecom_esci/n4/s0", "sft/tiny/sft/ecom_esci/n4/s1"
SFT_DESC, SFT_MIX = "sft/tiny/sft/ecom_desc_gen/n4/s0", "sft/tiny/sft/mixed/n4/s0"
MERGE = "merge/tiny/merge/within"
# a finished `ecomsuite sft`, faked: the complete lineage.json in out=..., and the arguments it got
FAKE_SFT = ("import json,pathlib,sys; a=dict(x.split('=',1) for x in sys.argv if '=' in x); "
            "o=pathlib.Path(a['out']); o.mkdir(parents=True,exist_ok=True); "
            "(o/'lineage.json').write_text(json.dumps({'kind':'adapter','complete':True})); "
            "open(o.parent/'argv.log','a').write(' '.join(sys.argv)+chr(10))")


def _study(tmp_path, base=None, **extra) -> tuple[Path, dict]:
    base = base or tmp_path / "base"
    Path(base).mkdir(exist_ok=True)
    s = {
        "name": "tiny",
        "output_dir": str(tmp_path / "study"),
        "tasks": ["ecom_esci", "ecom_desc_gen"],
        "eval": {"limit": 2, "num_fewshot": [0], "chat_template": [False], "batch_size": 4},
        "base_models": [{"name": "tiny", "path": str(base)}],
        "sft": {"method": "lora", "tasks": ["ecom_esci", "ecom_desc_gen"], "train_sizes": [4], "seeds": [0],
                "mixed": True, "params": {"max_steps": 2, "batch_size": 2, "lora_r": 4, "max_length": 256},
                "extra": [{"task": "ecom_esci", "size": 4, "seed": 1}]},
        "merges": [{"name": "within", "method": "task_arithmetic",
                    "inputs": [{"task": "ecom_esci", "size": 4, "seed": 0}, {"task": "ecom_esci", "size": 4, "seed": 1}]}],
        **extra,
    }
    f = tmp_path / "tiny.yaml"
    f.write_text(yaml.safe_dump(s))
    return f, s


def _fake_finished(runs, fresh: Freshness) -> None:
    """Every run's output as the job would leave it, and its record, as `reproduce` writes it."""
    for r in runs:
        if r.kind == "eval":
            d = r.out / "model"
            d.mkdir(parents=True, exist_ok=True)
            (d / f"results_{r.id.replace('/', '_')}.json").write_text(json.dumps({"results": {t: {} for t in r.tasks}}))
        else:
            r.out.mkdir(parents=True, exist_ok=True)
            (r.out / "lineage.json").write_text(json.dumps({"kind": r.kind, "complete": True}))
        fresh.write(r, time.time())


def _todo(s) -> dict[str, list[str]]:
    runs = plan(s, resolve_models=False)
    return {rid: st.why for rid, st in Freshness(runs, None).plan_status(runs).items() if not st.done}


# ------------------------------------------------------------------------------------------ stale results
def test_changed_lora_r_redoes_the_adapters_their_evals_and_merges_only(tmp_path):
    f, s = _study(tmp_path)
    runs = plan(s, resolve_models=False)
    _fake_finished(runs, Freshness(runs, None))
    assert _todo(s) == {}
    s["sft"]["params"]["lora_r"] = 8
    todo = _todo(s)
    sft = {r.id for r in runs if r.kind == "sft"}
    downstream = {r.id for r in runs if r.kind != "sft" and ("/sft/" in r.id or "/merge/" in r.id)}
    assert set(todo) == sft | downstream
    assert todo[SFT0] == ["command changed: lora_r=4 -> lora_r=8"]
    assert todo[MERGE] == [f"input {SFT0} is to do", f"input {SFT1} is to do"]
    assert "eval/tiny/base/k0" not in todo                              # the base model's scores stand


def test_a_retrained_adapter_redoes_exactly_its_evals_and_the_merges_built_from_it(tmp_path):
    f, s = _study(tmp_path)
    runs = plan(s, resolve_models=False)
    fresh = Freshness(runs, None)
    _fake_finished(runs, fresh)
    by_id = {r.id: r for r in runs}
    time.sleep(1.1)
    fresh.write(by_id[SFT1], time.time())             # seed 1 was trained again (a new record)
    todo = _todo(s)
    assert set(todo) == {"eval/tiny/sft/ecom_esci/n4/s1", MERGE, "eval/tiny/merge/within"}
    assert todo[MERGE] == [f"input {SFT1} changed (redone since)"]
    assert todo["eval/tiny/merge/within"] == [f"input {MERGE} is to do"]


def test_eval_limit_data_and_task_version_changes_redo_what_they_touch(tmp_path, monkeypatch):
    f, s = _study(tmp_path)
    s["eval"]["limit"] = {"ecom_desc_gen": 3, "default": 2}
    runs = plan(s, resolve_models=False)
    _fake_finished(runs, Freshness(runs, None))
    s["eval"]["limit"]["ecom_desc_gen"] = 5                     # only desc_gen's evaluations change
    todo = _todo(s)
    assert set(todo) == {"eval/tiny/base/k0/ecom_desc_gen", "eval/tiny/sft/ecom_desc_gen/n4/s0",
                         "eval/tiny/sft/mixed/n4/s0/ecom_desc_gen"}, todo
    assert todo["eval/tiny/sft/ecom_desc_gen/n4/s0"] == ["command changed: --limit 3 -> --limit 5"]
    s["eval"]["limit"]["ecom_desc_gen"] = 3
    assert _todo(s) == {}
    # a task's metadata.version bump (prompt or metric changed): every run training on it or scoring it
    now = task_versions()["ecom_desc_gen"]
    bumped = {**task_versions(), "ecom_desc_gen": "99.0"}
    monkeypatch.setattr("ecomsuite.reproduce.task_versions", lambda: bumped)
    todo = _todo(s)
    assert todo[SFT_DESC] == [f"task version changed: ecom_desc_gen {now} -> 99.0"]
    assert SFT0 not in todo and MERGE not in todo and SFT_MIX in todo
    monkeypatch.undo()
    # the data changed in place: everything that reads data (not the merges themselves)
    data = tmp_path / "data"
    (data / "esci").mkdir(parents=True)
    (data / "esci" / "x.txt").write_text("1")
    s["data_dir"] = str(data)
    runs = plan(s, data_dir=str(data), resolve_models=False)
    _fake_finished(runs, Freshness(runs, str(data)))
    (data / "esci" / "x.txt").write_text("2")
    st = Freshness(runs, str(data)).plan_status(runs)
    assert st[SFT0].why[0].startswith("data changed") and not st[MERGE].done
    assert st[MERGE].why == [f"input {SFT0} is to do", f"input {SFT1} is to do"]


def test_a_folder_being_written_is_not_done_and_the_record_comes_last(tmp_path):
    f, s = _study(tmp_path)
    runs = {r.id: r for r in plan(s, resolve_models=False)}
    r = runs[SFT0]
    r.out.mkdir(parents=True)
    (r.out / "lineage.json").write_text(json.dumps({"complete": True}))   # the job wrote its output, no record yet
    st = Freshness(list(runs.values()), None).status(r, {})
    assert not st.done and st.stale and "without a freshness record" in st.why[0]
    (r.out / ".ecomsuite-run.json").write_text("{trunc")                  # a torn record never counts
    assert not Freshness(list(runs.values()), None).status(r, {}).done


def test_run_writes_its_record_reruns_a_changed_run_from_scratch_and_reports_stale(tmp_path, capsys):
    f, s = _study(tmp_path, launcher=f"{shlex.quote(sys.executable)} -c {shlex.quote(FAKE_SFT)}")
    assert main([str(f), "--only", SFT0]) == 0
    rec = Path(s["output_dir"]) / "adapters" / "tiny" / "sft" / "ecom_esci" / "n4" / "s0" / ".ecomsuite-run.json"
    assert json.loads(rec.read_text())["command"][0] == "sft" and "finished_at" in json.loads(rec.read_text())
    capsys.readouterr()
    assert main([str(f), "--dry-run"]) == 0
    assert f"done  {SFT0}\n" in capsys.readouterr().out
    s["sft"]["params"]["lora_r"] = 8
    f.write_text(yaml.safe_dump(s))
    assert main([str(f), "--stale", "report"]) == 1                # listed, nothing run
    out = capsys.readouterr().out
    assert f"todo  {SFT0}  (command changed: lora_r=4 -> lora_r=8)" in out and "1 stale" in out
    assert main([str(f), "--only", SFT0]) == 0
    calls = (rec.parent.parent / "argv.log").read_text().splitlines()
    assert "resume=true" in calls[0] and "overwrite=true" in calls[1] and "resume=true" not in calls[1]
    assert "lora_r=8" in calls[1] and json.loads(rec.read_text())["command"] == plan(s)[[r.id for r in plan(s)].index(SFT0)].key_argv
    assert main([str(f), "--only", SFT0]) == 0                     # fresh now: not run a third time
    assert len((rec.parent.parent / "argv.log").read_text().splitlines()) == 2


# ------------------------------------------------------------------------------ processes and locking
def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _sleeper_study(tmp_path) -> tuple[Path, Path]:
    pidfile = tmp_path / "sleeper.pid"
    code = (f"import os,time; open({str(pidfile)!r},'w').write(f'{{os.getpid()}} {{os.getppid()}}'); "
            "time.sleep(300)")
    f, _ = _study(tmp_path, launcher=f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}")
    return f, pidfile


def _wait_for(pidfile: Path, proc, timeout=120) -> tuple[int, int]:
    t0 = time.time()
    while not (pidfile.exists() and len(pidfile.read_text().split()) == 2):
        assert proc.poll() is None, proc.communicate()
        assert time.time() - t0 < timeout, "the job never started"
        time.sleep(0.2)
    pid, ppid = map(int, pidfile.read_text().split())
    return pid, ppid


def _gone_within(pids, seconds=10.0) -> bool:
    t0 = time.time()
    while time.time() - t0 < seconds:
        if not any(_alive(p) for p in pids):
            return True
        time.sleep(0.2)
    return False


def _reproduce(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "ecomsuite.cli", "reproduce", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux")
def test_kill_9_of_the_study_kills_its_running_job(tmp_path):
    f, pidfile = _sleeper_study(tmp_path)
    proc = _reproduce(f, "--only", SFT0, "--isolate")
    pid, ppid = _wait_for(pidfile, proc)
    assert ppid == proc.pid and _alive(pid)
    proc.kill()                                           # kill -9: no handler runs in the study
    proc.wait()
    assert _gone_within([pid]), "the job outlived the study"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux")
def test_kill_9_of_the_study_kills_a_forked_job(tmp_path):
    """The default way: runs are forked from the forkserver; it exits with the study, its children with it."""
    f, pidfile = _sleeper_study(tmp_path)
    helper = tmp_path / "study.py"
    helper.write_text(
        "import sys\nfrom pathlib import Path\nfrom ecomsuite.reproduce import Run, _run_forked\n"
        "if __name__ == '__main__':\n"
        "    log = Path(sys.argv[3])\n"
        "    sys.exit(_run_forked(Run('x', 'eval', ['reproduce', sys.argv[1], '--only', sys.argv[2]], log.parent), log))\n")
    proc = subprocess.Popen([sys.executable, str(helper), str(f), SFT0, str(tmp_path / "forked.log")])
    pid, forked = _wait_for(pidfile, proc, timeout=300)   # forked: the forked `reproduce --only`, the job's parent
    assert _alive(forked) and forked != proc.pid
    proc.kill()
    proc.wait()
    assert _gone_within([forked, pid], 15), "the forked run or its job outlived the study"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="flock/PR_SET_PDEATHSIG")
def test_a_second_reproduce_on_the_same_folder_is_refused_naming_the_holder(tmp_path):
    f, pidfile = _sleeper_study(tmp_path)
    first = _reproduce(f, "--only", SFT0)
    pid, _ = _wait_for(pidfile, first)
    try:
        same_run = _reproduce(f, "--only", SFT0)
        out, err = same_run.communicate(timeout=120)
        assert same_run.returncode == 2 and err.count("\n") == 1, err
        assert f"run {SFT0} is in use by pid {first.pid}" in err and "--wait" in err
        whole = _reproduce(f, "--no-site")
        out, err = whole.communicate(timeout=120)
        assert whole.returncode == 2 and "study folder" in err and f"pid {first.pid}" in err, err
        assert not (tmp_path / "study" / "adapters" / "tiny" / "sft" / "ecom_esci" / "n4" / "s1").exists()
    finally:
        first.terminate()                                 # SIGTERM: the study stops its job too
        first.communicate(timeout=60)
    assert _gone_within([pid])


def test_wait_queues_behind_the_holder(tmp_path):
    lock = tmp_path / "x.lock"
    got = []
    with locked(lock, "study folder x"):
        with pytest.raises(EcomError, match=f"study folder x is in use by pid {os.getpid()}"):
            with locked(lock, "study folder x"):
                pass
        t = threading.Thread(target=lambda: locked(lock, "x", wait=True).__enter__() or got.append(time.time()))
        t.start()
        time.sleep(0.5)
        assert not got
        released = time.time()
    t.join(10)
    assert got and got[0] >= released


# ------------------------------------------------------------------------- up-front checks, one-line errors
def test_dry_run_reports_every_bad_parameter_at_once(tmp_path, capsys):
    f, s = _study(tmp_path)
    s["sft"]["train_sizes"] = [-4, 4]
    s["sft"]["params"].update(learning_rate="abc", lora_rr=8)
    s["sft"]["allow_fewer"] = True                                 # the key paper.yaml had: silently ignored
    s["tasks"].append("ecom_nope")
    s["merges"][0]["method"] = "tie"
    f.write_text(yaml.safe_dump(s))
    assert cli_main(["reproduce", str(f), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"ecomsuite: error: {f}: ")
    for bit in ("sft: unknown key 'allow_fewer'", "unknown task 'ecom_nope'", "got -4", "learning_rate",
                "(got 'abc')", "unknown key 'lora_rr' in lora_rr=8 (did you mean 'lora_r'?)",
                "--method 'tie' is unknown (did you mean ties?)"):
        assert bit in err, bit


def test_packaged_studies_have_no_unknown_or_misplaced_keys():
    for name in ("smoke", "cpu", "paper"):
        assert study_problems(load_study(find_study(name))) == [], name


@pytest.mark.parametrize("bad, says", [
    ([1, 2], "a study is a mapping"),
    ({"tasks": "ecom_esci", "base_models": [{"name": "m", "path": "x"}]}, "tasks: must be a list"),
    ({"tasks": ["ecom_esci"], "base_models": "m"}, "base_models: must be a list"),
    ({"tasks": ["ecom_esci"], "base_models": [{"name": "m"}]}, "base_models[0]: needs name and path"),
    ({"tasks": ["ecom_esci"], "base_models": [{"name": "m", "path": "x"}], "sft": [1]}, "sft: must be a mapping"),
    ({"tasks": ["ecom_esci"], "base_models": [{"name": "m", "path": "x"}], "merges": [1]}, "merges[0]: must be a mapping"),
    ({"tasks": ["ecom_esci"], "base_models": [{"name": "m", "path": "x"}],
      "sft": {"tasks": ["ecom_esci"], "extra": [{"size": 4}]}}, "sft.extra[0]: needs task"),
    ({"tasks": ["ecom_esci"], "base_models": [{"name": "m", "path": "x"}], "baselines": [{"name": "b"}]},
     "baselines[0]: needs task and model"),
    ({"tasks": ["ecom_esci"], "base_models": [{"name": "m", "path": "x"}], "eval": {"num_fewshot": "zero"}},
     "eval.num_fewshot: must be a non-empty list"),
    ({"tasks": ["ecom_esci"], "base_models": [{"name": "m", "path": "x"}], "eval": {"limit": "ten"}}, "eval.limit"),
    ({"tasks": ["ecom_esci"], "base_models": [{"name": "m", "path": "x"}], "sft": {"tasks": ["ecom_esci"], "seeds": 0}},
     "sft.seeds: must be a non-empty list"),
])
def test_malformed_study_is_one_line(tmp_path, capsys, bad, says):
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(bad))
    assert cli_main(["reproduce", str(f), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err and "Traceback" not in err, err


def test_only_with_an_unknown_run_is_one_line(tmp_path, capsys):
    f, s = _study(tmp_path)
    assert cli_main(["reproduce", str(f), "--only", "sft/tiny/sft/ecom_esci/n4/s9"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such run (did you mean sft/tiny/sft/ecom_esci/n4/s" in err


def test_model_paths_cannot_smuggle_model_args(tmp_path, capsys):
    evil = tmp_path / "m,trust_remote_code=True"
    f, s = _study(tmp_path, base=evil)
    assert cli_main(["reproduce", str(f), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "base_models[0].path" in err and "contains ',' or '='" in err
    f, s = _study(tmp_path)
    s["output_dir"] = str(tmp_path / "out=x")
    with pytest.raises(EcomError, match="output folder of an adapter"):
        plan(s, resolve_models=False)


def test_an_eval_that_exits_0_without_writing_results_is_not_done(tmp_path, monkeypatch, capsys):
    """An older results file in the system's shared results folder must not stand in for this run's."""
    from ecomsuite import reproduce

    f, s = _study(tmp_path)
    runs = plan(s, resolve_models=False)
    r = next(r for r in runs if r.id == "eval/tiny/base/k0")
    old = r.out / "model" / "results_old.json"
    old.parent.mkdir(parents=True)
    old.write_text(json.dumps({"results": {t: {} for t in r.tasks}}))
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    monkeypatch.setattr(reproduce, "_execute_one", lambda *a: (0, time.time()))   # "ok", wrote nothing
    assert reproduce.execute(runs, tmp_path / "logs", only=r.id) == 1
    assert "FAILED (0)" in capsys.readouterr().out and not r.record.exists()


def test_records_compare_model_specs_not_where_they_resolve(tmp_path, monkeypatch):
    """`path: embedded` resolves to a cache folder when running; --dry-run does not resolve it: same record."""
    f, s = _study(tmp_path)
    s["base_models"][0]["path"] = "embedded"
    monkeypatch.setattr("ecomsuite.reproduce._model_path", lambda spec: "/cache/smollm2" if spec == "embedded" else spec)
    running = plan(s)
    looking = plan(s, resolve_models=False)
    assert any("model=/cache/smollm2" in r.argv for r in running)
    assert [r.key_argv for r in running] == [r.argv for r in looking] == [r.key_argv for r in looking]


def test_a_killed_run_resumes_only_if_it_was_started_by_this_plan(tmp_path):
    from ecomsuite.reproduce import _restart_argv

    f, s = _study(tmp_path)
    runs = plan(s, resolve_models=False)
    logs = tmp_path / "study" / "logs"
    logs.mkdir(parents=True)
    fresh = Freshness(runs, None, logs)
    r = next(r for r in runs if r.id == SFT0)
    r.out.mkdir(parents=True)
    (r.out / "sft_config.json").write_text("{}")                    # a killed training run: checkpoints, no record
    fresh.mark_started(r)
    assert fresh.status(r, {}).why == ["unfinished (killed or failed): resumes"]
    assert "resume=true" in _restart_argv(r, fresh)
    s["sft"]["params"]["lora_r"] = 8                                 # the study changed since it was killed
    runs = plan(s, resolve_models=False)
    fresh = Freshness(runs, None, logs)
    r = next(r for r in runs if r.id == SFT0)
    assert fresh.status(r, {}).why == ["unfinished run of another plan (command changed: lora_r=4 -> lora_r=8): "
                                       "starts over"]
    argv = _restart_argv(r, fresh)
    assert "overwrite=true" in argv and "resume=true" not in argv
