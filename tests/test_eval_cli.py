"""``ecomsuite eval`` exits non-zero unless lm-eval's files were really written (issue 15): results and samples
files are checked after writing (lm-eval itself only logs a hidden warning when it cannot write); read-only or
file output paths, incomplete adapters and model_args-injecting paths are one line, before any model loads."""
from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from ecomsuite import EcomError, lineage, outputs
from ecomsuite.cli import main
from ecomsuite.evaluate import model_args_string


def one_error_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [x for x in err.splitlines() if x.startswith("ecomsuite: error:")]
    assert len(lines) == 1, err
    return lines[0]


def eval_argv(model_args: str, out: Path) -> list[str]:
    return ["eval", "--model-args", model_args, "--tasks", "ecom_esci", "--limit", "2", "--device", "cpu",
            "--batch-size", "2", "--output-path", str(out)]


def no_model(*a, **k):
    raise AssertionError("lm-eval was started before the checks")


@pytest.fixture(scope="module")
def adapter(tiny_llama, tmp_path_factory) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    out = tmp_path_factory.mktemp("adapter") / "a"
    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_llama),
                           LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    model.save_pretrained(out)
    return out


def test_written_files_are_checked_and_named(tiny_llama, tmp_path, capsys):
    assert main(eval_argv(f"pretrained={tiny_llama}", tmp_path / "ev")) == 0
    out = capsys.readouterr().out
    assert "results written under" in out and "checked: 2 file(s)" in out
    samples = list((tmp_path / "ev").rglob("samples_ecom_esci_*.jsonl"))
    assert len(samples) == 1 and all(json.loads(x) for x in samples[0].read_text().splitlines())


def test_results_not_written_is_an_error_not_exit_0(tiny_llama, tmp_path, monkeypatch, capsys):
    """A full disk while lm-eval writes its results file: lm-eval logs a warning (hidden) and returns; we fail."""
    real = Path.write_text

    def full(self, *a, **k):
        if self.name.startswith("results_"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "write_text", full)
    assert main(eval_argv(f"pretrained={tiny_llama}", tmp_path / "ev")) == 2
    cap = capsys.readouterr()
    line = one_error_line(cap.err)
    assert "results_" in line and "not written" in line and "No space left on device" in line, line
    assert "results written under" not in cap.out


def test_truncated_samples_file_is_an_error(tiny_llama, tmp_path, monkeypatch, capsys):
    from lm_eval.loggers import EvaluationTracker

    def half(self, task_name, samples):
        folder = Path(self.output_path) / str(self.general_config_tracker.model_name_sanitized)
        (folder / f"samples_{task_name}_{self.date_id}.jsonl").write_text('{"doc_id": 0, "resps": [[')

    monkeypatch.setattr(EvaluationTracker, "save_results_samples", half)
    assert main(eval_argv(f"pretrained={tiny_llama}", tmp_path / "ev")) == 2
    assert "truncated or not JSON (line 1" in one_error_line(capsys.readouterr().err)


def test_read_only_output_path_fails_before_the_model_loads(tiny_llama, tmp_path, monkeypatch, capsys):
    import lm_eval

    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if os.geteuid() == 0:  # chmod does not bind root: report the folder as not writable instead
        monkeypatch.setattr(outputs.os, "access", lambda p, mode: Path(p) != ro)
    monkeypatch.setattr(lm_eval, "simple_evaluate", no_model)
    try:
        assert main(eval_argv(f"pretrained={tiny_llama}", ro / "ev")) == 2
        assert "is not writable" in one_error_line(capsys.readouterr().err)
    finally:
        ro.chmod(0o755)


def test_output_path_a_file_is_one_line(tiny_llama, tmp_path, monkeypatch, capsys):
    import lm_eval

    f = tmp_path / "f.txt"
    f.write_text("mine")
    monkeypatch.setattr(lm_eval, "simple_evaluate", no_model)
    assert main(eval_argv(f"pretrained={tiny_llama}", f)) == 2
    assert "is a file" in one_error_line(capsys.readouterr().err) and f.read_text() == "mine"


def test_incomplete_adapter_is_refused(tiny_llama, adapter, tmp_path, monkeypatch, capsys):
    import lm_eval

    monkeypatch.setattr(lm_eval, "simple_evaluate", no_model)
    lineage.write(adapter, kind="adapter", method="lora", complete=False, status="training")
    try:
        assert main(eval_argv(f"pretrained={tiny_llama},peft={adapter}", tmp_path / "ev")) == 2
        line = one_error_line(capsys.readouterr().err)
        assert f"adapter {adapter} is incomplete" in line and "complete: false" in line
    finally:
        (adapter / lineage.FILENAME).unlink()


def test_paths_cannot_inject_model_args():
    assert model_args_string(pretrained="/m/base", peft=Path("/r/a"), dtype=None) == "pretrained=/m/base,peft=/r/a"
    for evil in ("/m/base,trust_remote_code=True", "/m/a=b"):
        with pytest.raises(EcomError, match=r"may not contain ',' or '='"):
            model_args_string(pretrained=evil)
