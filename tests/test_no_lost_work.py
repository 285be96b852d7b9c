"""No lost work in ``ecomsuite sft`` (issue 15), on a tiny random Llama with faults injected by monkeypatch:
--overwrite validates first and swaps the new output in only once it is saved (never deleting what sft did
not write, nor an input); --resume refuses a changed base model or data; a run killed after training (in the
final save, on a full disk, or in --eval) resumes into the save / eval only, to the very adapter an
uninterrupted run writes; read-only output, --out a file and injected model_args paths are one line."""
from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import pytest

from ecomsuite import EcomError, lineage, outputs
from ecomsuite.trainers import sft

TINY = dict(batch_size=4, logging_steps=1, lora_r=8, lora_alpha=16, lora_dropout=0.0, warmup=0)
# 16 documents / batch 4 = 4 steps an epoch: 6 steps end mid-epoch, where a resume from the last checkpoint
# used to train a 7th step (and report a negative tokens/s)
RUN = dict(TINY, tasks=["ecom_esci"], train_size=16, max_steps=6, save_steps=2, learning_rate=5e-3,
           lr_scheduler="constant")


def raw_for(model, out, **kw) -> dict:
    return {**RUN, "model": str(model), "out": str(out), **kw}


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def tensors(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


def assert_same_adapter(a: Path, b: Path) -> None:
    import torch

    ta, tb = tensors(a), tensors(b)
    assert ta.keys() == tb.keys()
    for k in ta:
        assert torch.equal(ta[k], tb[k]), k


def one_error_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [x for x in err.splitlines() if x.startswith("ecomsuite: error:")]
    assert len(lines) == 1, err
    return lines[0]


def no_training(*a, **k):
    raise AssertionError("a trainer was built: the run trained again")


@pytest.fixture(scope="module")
def reference(tiny_llama, tmp_path_factory) -> Path:
    """An uninterrupted run: the adapter every interrupted-and-resumed run must reproduce exactly."""
    return sft.run(sft.validate(raw_for(tiny_llama, tmp_path_factory.mktemp("ref") / "ref")))


@pytest.fixture
def finished(reference, tmp_path) -> Path:
    """A private copy of a complete adapter folder (the tests below try to destroy it)."""
    return Path(shutil.copytree(reference, tmp_path / "done"))


# ------------------------------------------------------------------------------------------- --overwrite
@pytest.mark.parametrize("bad", ["train size above the data", "empty data folder"])
def test_overwrite_checks_the_data_before_touching_the_old_adapter(tiny_llama, finished, tmp_path, bad):
    before = snapshot(finished)
    kw = {"train_size": 1000} if bad == "train size above the data" else {"data_dir": str(tmp_path / "empty")}
    (tmp_path / "empty").mkdir()
    with pytest.raises(EcomError, match="only 47 exist" if "size" in bad else "file not found"):
        sft.run(sft.validate(raw_for(tiny_llama, finished, overwrite=True, **kw)))
    assert snapshot(finished) == before                            # the complete adapter is intact
    assert not list(tmp_path.glob(".done.*"))


def test_overwrite_replaces_our_output_only_once_the_new_one_is_saved(tiny_llama, finished, tmp_path, monkeypatch):
    before = snapshot(finished)

    def die(*a, **k):
        raise RuntimeError("killed while saving")

    monkeypatch.setattr(sft, "save_final", die)
    with pytest.raises(RuntimeError, match="killed while saving"):
        sft.run(sft.validate(raw_for(tiny_llama, finished, overwrite=True, seed=1)))
    assert snapshot(finished) == before                            # the old output survives a crash of the new run
    monkeypatch.undo()
    sft.run(sft.validate(raw_for(tiny_llama, finished, overwrite=True, seed=1)))   # the stale staging is ours
    lin = lineage.read(finished)
    assert lin["complete"] and lin["seed"] == 1 and lin["name"] == "done"
    assert not list(tmp_path.glob(".done.*")) and (finished / outputs.MARKER).is_file()
    assert not (finished / "checkpoints").exists()


def test_overwrite_never_deletes_an_input_or_a_foreign_folder(tiny_llama, tmp_path, capsys):
    from ecomsuite.cli import main

    base = Path(shutil.copytree(tiny_llama, tmp_path / "models" / "base"))
    (tmp_path / "models" / "notes.txt").write_text("unrelated")
    before = snapshot(tmp_path / "models")
    args = ["sft", "--model", str(base), "--tasks", "ecom_esci", "--train-size", "4", "--max-steps", "1", "--overwrite"]
    assert main([*args, "--out", str(tmp_path / "models")]) == 2
    assert "contains the input" in one_error_line(capsys.readouterr().err)
    assert main([*args, "--out", str(base / "adapter")]) == 2
    assert "is inside the input" in one_error_line(capsys.readouterr().err)
    assert snapshot(tmp_path / "models") == before
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("x")
    assert main([*args, "--out", str(foreign)]) == 2
    assert "not an ecomsuite sft folder" in one_error_line(capsys.readouterr().err)
    assert (foreign / "keep.txt").read_text() == "x"


def test_out_is_a_file_and_read_only_out_are_one_line(tiny_llama, tmp_path, monkeypatch, capsys):
    from ecomsuite.cli import main

    f = tmp_path / "file.txt"
    f.write_text("mine")
    args = ["sft", "--model", str(tiny_llama), "--tasks", "ecom_esci", "--train-size", "4", "--max-steps", "1"]
    assert main([*args, "--out", str(f)]) == 2
    assert "is a file" in one_error_line(capsys.readouterr().err) and f.read_text() == "mine"
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    monkeypatch.setattr(outputs.os, "access", lambda p, mode: Path(p) != ro)  # chmod does not bind root
    monkeypatch.setattr(sft, "load_tokenizer", no_training)
    try:
        assert main([*args, "--out", str(ro / "run")]) == 2
        assert "is not writable" in one_error_line(capsys.readouterr().err)
    finally:
        ro.chmod(0o755)


def test_a_model_path_cannot_inject_lm_eval_model_args(tiny_llama, tmp_path):
    evil = Path(shutil.copytree(tiny_llama, tmp_path / "base,trust_remote_code=True"))
    out = tmp_path / "run"
    with pytest.raises(EcomError, match=r"may not contain ',' or '='"):
        sft.run(sft.validate(raw_for(evil, out, eval=True)))
    assert not out.exists()                                        # refused before anything was written


# ------------------------------------------------------------------------------------------- --resume
def _killed_mid_training(model: Path, out: Path) -> dict:
    from transformers import TrainerCallback

    class Die(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 3:
                raise RuntimeError("killed at step 3")

    raw = raw_for(model, out)
    with pytest.raises(RuntimeError, match="killed at step 3"):
        sft.run(sft.validate(raw), callbacks=[Die()])
    assert sft.last_checkpoint(out).name == "checkpoint-2"
    return raw


def test_resume_refuses_other_data_or_other_base_weights(tiny_llama, tmp_path, capsys):
    from conftest import build_tiny_llama

    from ecomsuite.cli import main

    base = Path(shutil.copytree(tiny_llama, tmp_path / "base"))
    out = tmp_path / "run"
    _killed_mid_training(base, out)
    state = sft.read_run_state(out)
    assert state["stage"] == "training" and state["base_model_hash"] == lineage.model_hash(base)
    assert state["data_fingerprint"] and state["config"]["learning_rate"] == 5e-3
    argv = ["sft", "--model", str(base), "--out", str(out), "--resume",
            *[f"{k}={json.dumps(v)}" for k, v in RUN.items()]]

    sft.write_run_state(out, data_fingerprint="0123456789abcdef")        # the data changed under the run
    assert main(argv) == 2
    assert "the training data differ" in one_error_line(capsys.readouterr().err)
    sft.write_run_state(out, data_fingerprint=state["data_fingerprint"])

    build_tiny_llama(base, tiny_llama, seed=1)                            # the base weights changed under the run
    assert main(argv) == 2
    err = one_error_line(capsys.readouterr().err)
    assert "base model's weights differ" in err and state["base_model_hash"] in err
    assert sft.last_checkpoint(out).name == "checkpoint-2" and not lineage.read(out)["complete"]


def test_killed_in_the_final_save_resumes_into_the_save_only(tiny_llama, reference, tmp_path, monkeypatch, capsys):
    """A full disk while the final adapter is written: one line, exit 2; --resume then saves without training
    (the Trainer's checkpoint at the last step holds the final weights): no 7th step of 6, same adapter."""
    from ecomsuite.cli import main

    out = tmp_path / "run"

    def disk_full(tmp, work):
        raise OSError(errno.ENOSPC, "No space left on device", str(work / "adapter_model.safetensors"))

    monkeypatch.setattr(sft, "_move_in", disk_full)
    argv = ["sft", "--model", str(tiny_llama), "--out", str(out), *[f"{k}={json.dumps(v)}" for k, v in RUN.items()]]
    assert main(argv) == 2
    assert "no space left on device" in one_error_line(capsys.readouterr().err)
    assert sft.read_run_state(out)["stage"] == "trained" and lineage.read(out)["complete"] is False
    monkeypatch.undo()
    monkeypatch.setattr(sft, "build_trainer", no_training)
    assert main([*argv, "--resume"]) == 0
    assert "resuming into the save only" in capsys.readouterr().err
    lin = lineage.read(out)
    assert lin["complete"] and lin["steps"] == 6 and [s for s, _ in lin["loss_curve"]] == [1, 2, 3, 4, 5, 6]
    assert lin["tokens_per_s"] > 0 and lin["train_time_s"] > 0
    assert_same_adapter(reference, out)
    assert not (out / "checkpoints").exists() and not (out / sft.FINAL_TMP).exists()


def test_killed_in_eval_resumes_into_the_eval_only(tiny_llama, reference, tmp_path, monkeypatch):
    import ecomsuite.evaluate as ev

    out = tmp_path / "run"
    raw = raw_for(tiny_llama, out, eval=True, eval_limit=1, eval_batch_size=1)
    real = ev.evaluate

    def killed(*a, **k):
        raise RuntimeError("killed during --eval")

    monkeypatch.setattr(ev, "evaluate", killed)
    with pytest.raises(RuntimeError, match="killed during --eval"):
        sft.run(sft.validate(raw))
    assert sft.read_run_state(out)["stage"] == "saved" and lineage.read(out)["status"] == "evaluating"
    monkeypatch.setattr(ev, "evaluate", real)
    monkeypatch.setattr(sft, "build_trainer", no_training)
    sft.run(sft.validate({**raw, "resume": True}))
    lin = lineage.read(out)
    assert lin["complete"] and lin["steps"] == 6 and lin["tokens_per_s"] > 0
    assert "acc" in lin["eval"]["results"]["ecom_esci"] and list((out / "eval").rglob("results_*.json"))
    assert_same_adapter(reference, out)


def test_checkpoint_at_the_last_step_counts_as_finished(tiny_llama, reference, tmp_path, monkeypatch):
    """Killed between the last step and recording 'trained' (no run-state stage yet): still no extra step."""
    out = tmp_path / "run"
    monkeypatch.setattr(sft, "write_run_state", _skip_trained(sft.write_run_state))
    monkeypatch.setattr(sft, "save_final", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("killed")))
    with pytest.raises(RuntimeError, match="killed"):
        sft.run(sft.validate(raw_for(tiny_llama, out)))
    assert sft.read_run_state(out)["stage"] == "training" and sft.last_checkpoint(out).name == "checkpoint-6"
    monkeypatch.undo()
    monkeypatch.setattr(sft, "build_trainer", no_training)
    sft.run(sft.validate(raw_for(tiny_llama, out, resume=True)))
    lin = lineage.read(out)
    assert lin["complete"] and lin["steps"] == 6 and lin["tokens_per_s"] is None   # no timing was recorded
    assert_same_adapter(reference, out)


def _skip_trained(write):
    def w(out, **fields):
        if fields.get("stage") != "trained":
            write(out, **fields)
    return w
