"""ecomsuite sft: config validation, data (mixture, nested subsample, golden prompts), training on a tiny
random Llama (LoRA / QLoRA / full), EOS, lineage, resume after a kill, lm-eval ``peft=`` loading, DDP."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ecomsuite import EcomError
from ecomsuite.trainers import sft

REPO = Path(__file__).resolve().parent.parent
TINY = dict(batch_size=4, save_steps=1000, logging_steps=1, lora_r=8, lora_alpha=16, lora_dropout=0.0, warmup=0)


def cfg_for(model, out, **kw):
    return sft.validate({"model": str(model), "out": str(out), **TINY, **kw}, "test")


def adapter_tensors(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


@pytest.fixture(scope="module")
def tok(tiny_llama):
    return sft.load_tokenizer(str(tiny_llama))


# ------------------------------------------------------------------------------------------- config
def test_validation_reports_all_problems_in_one_line():
    raw = {"out": "x", "lora_rr": 4, "method": "qlorax", "tasks": ["ecom_esci", "ecom_nope"], "batch_size": 0,
           "train_size": {"ecom_esci": -3}, "lora_dropout": 1.5, "resume": "yes"}
    with pytest.raises(EcomError) as e:
        sft.validate(raw, "my.yaml")
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("my.yaml: ")
    for needle in ("'lora_rr'", "did you mean 'lora_r'", "method:", "'ecom_nope'", "batch_size:",
                   "train_size.ecom_esci", "lora_dropout:", "resume:"):
        assert needle in msg, needle
    assert "8 problem(s)" in msg


def test_missing_out_and_bad_mixture():
    with pytest.raises(EcomError, match=r"out: is required.*mixture: must give a proportion for exactly"):
        sft.validate({"tasks": ["ecom_esci", "ecom_queryner"], "train_size": 10, "mixture": {"ecom_esci": 1}})
    with pytest.raises(EcomError, match="needs an integer train_size"):
        sft.validate({"out": "x", "mixture": {"ecom_esci": 1}})


def test_recipes_open_with_their_command_and_validate():
    recipes = sorted((REPO / "trainers" / "recipes").glob("sft_*.yaml"))
    names = {r.stem for r in recipes}
    assert {"sft_esci_lora", "sft_queryner_lora", "sft_mixed_lora", "sft_esci_qlora"} <= names
    for r in recipes:
        first = r.read_text().splitlines()[0]
        assert first.startswith(f"# ecomsuite sft trainers/recipes/{r.name} "), first
        cfg = sft.parse_args([str(r), "out=/tmp/x"] if r.stem != "sft_esci_qlora" else [str(r), "out=/tmp/x", "method=lora"])
        assert cfg.out == "/tmp/x"


def test_flags_recipe_and_overrides():
    cfg = sft.parse_args(["sft_mixed_lora", "--out", "runs/m", "--lora-r", "8", "epochs=2", "--eval",
                          "mixture.ecom_esci=3", "mixture.ecom_queryner=1"])
    assert (cfg.out, cfg.lora_r, cfg.epochs, cfg.eval, cfg.train_size) == ("runs/m", 8, 2, True, 2000)
    assert sft.split_sizes(cfg.tasks, cfg.train_size, cfg.mixture) == {"ecom_esci": 1500, "ecom_queryner": 500}
    cfg = sft.parse_args(["--tasks", "ecom_esci", "ecom_queryner", "train_size={ecom_esci: 5, ecom_queryner: null}",
                          "--out", "1000"])
    assert cfg.train_size == {"ecom_esci": 5, "ecom_queryner": None} and cfg.out == "1000"


def test_cli_exit_code_and_message(capsys):
    from ecomsuite.cli import main

    assert main(["sft", "--tasks", "ecom_esci", "--lora-r", "zero"]) == 2
    err = capsys.readouterr().err
    assert "out: is required" in err and "lora_r: must be a positive integer" in err


def test_split_sizes_proportions_add_up():
    assert sft.split_sizes(["a", "b", "c"], 10, {"a": 1, "b": 1, "c": 1}) == {"a": 4, "b": 3, "c": 3}
    assert sft.split_sizes(["a", "b"], 7, None) == {"a": 7, "b": 7}
    assert sft.split_sizes(["a", "b"], {"a": 2, "b": None}, None) == {"a": 2, "b": None}


# ------------------------------------------------------------------------------------------- data
def test_mixture_sizes_and_nested_subsample(tok, tmp_path):
    cfg = sft.validate({"out": str(tmp_path), "tasks": ["ecom_esci", "ecom_queryner"],
                        "train_size": {"ecom_esci": 10, "ecom_queryner": 20}})
    rows, info = sft.render_rows(cfg, tok)
    assert info["sizes"] == {"ecom_esci": 10, "ecom_queryner": 20}
    assert sum(r["task"] == "ecom_esci" for r in rows) == 10 and len(rows) == 30
    assert info["data_source"] == "sample" and info["data_fingerprint"]
    small, _ = sft.render_rows(sft.validate({"out": "x", "tasks": ["ecom_esci"], "train_size": 5}), tok)
    big, _ = sft.render_rows(sft.validate({"out": "x", "tasks": ["ecom_esci"], "train_size": 10}), tok)
    assert {r["id"] for r in small} < {r["id"] for r in big}          # the 5 set sits inside the 10 set
    other, _ = sft.render_rows(sft.validate({"out": "x", "tasks": ["ecom_esci"], "train_size": 10, "seed": 1}), tok)
    assert {r["id"] for r in other} != {r["id"] for r in big}
    mixed, info = sft.render_rows(sft.validate({"out": "x", "tasks": ["ecom_esci", "ecom_queryner"],
                                                "train_size": 20, "mixture": {"ecom_esci": 3, "ecom_queryner": 1}}), tok)
    assert info["sizes"] == {"ecom_esci": 15, "ecom_queryner": 5}
    with pytest.raises(EcomError, match="asked for 1000 documents but only 47 exist"):
        sft.render_rows(sft.validate({"out": "x", "tasks": ["ecom_esci"], "train_size": 1000}), tok)
    rows, info = sft.render_rows(sft.validate({"out": "x", "tasks": ["ecom_esci"], "train_size": 1000,
                                               "allow_fewer": True}), tok)
    assert info["sizes"] == {"ecom_esci": 47}


@pytest.mark.parametrize("chat", [False, True], ids=["plain", "chat"])
def test_golden_training_prompt_equals_lm_eval_request(tiny_llama, chat):
    """The training prompt of a document is the very context lm-eval builds for it in an evaluation
    request (arguments[0]); its tokens are the ones HFLM feeds the model (context / continuation split)."""
    from lm_eval.models.huggingface import HFLM

    from ecomsuite.prompts import chat_renderer, load_tasks, render_examples

    lm = HFLM(pretrained=str(tiny_llama), device="cpu", batch_size=1)
    tasks = load_tasks(["ecom_esci", "ecom_queryner"])
    for name, task in tasks.items():
        task.build_all_requests(limit=3, apply_chat_template=chat,
                                chat_template=lm.apply_chat_template if chat else None,
                                tokenizer_name=lm.tokenizer_name if chat else "")
        assert task.instances
        for inst in task.instances:
            ex = render_examples(task, docs=[inst.doc], chat_template=chat_renderer(lm.tokenizer) if chat else None)[0]
            assert ex["prompt"] == inst.arguments[0]
            ll = inst.request_type == "loglikelihood"
            ctx, comp = sft.encode_pair(lm.tokenizer, ex["prompt"], ex["completion"], loglikelihood=ll)
            if ll:
                if inst.arguments[1] == ex["completion"]:   # the gold choice: same tokens lm-eval scores
                    assert (ctx, comp) == tuple(lm._encode_pair(*inst.arguments))
            else:
                assert ctx == lm.tok_encode(inst.arguments[0])
        if task.OUTPUT_TYPE == "multiple_choice":
            assert any(i.arguments[1] == ex["completion"] for i in task.instances)


def test_tokenize_rows_masks_prompt_and_appends_eos(tok):
    rows = [{"prompt": "Query: red shoes\nRelevance:", "completion": " exact"}]
    ex, stats = sft.tokenize_rows(rows, tok, 1024)
    ids, labels = ex[0]["input_ids"], ex[0]["labels"]
    n_ctx = len(tok.encode("Query: red shoes\nRelevance:"))
    assert labels[:n_ctx] == [-100] * n_ctx and labels[n_ctx:] == ids[n_ctx:]
    assert ids[-1] == tok.eos_token_id and tok.decode(ids[n_ctx:-1]) == " exact"
    short, stats = sft.tokenize_rows(rows, tok, len(ids) - 2)  # the prompt is cut from the left
    assert short[0]["input_ids"] == ids[2:] and short[0]["labels"] == labels[2:]
    assert stats["prompts_cut"] == 1


def test_padding_free_batch_equals_separate_examples(tiny_llama, tok):
    """padding_free flattens a batch into one row with position_ids; attention must stay within each
    example (sdpa on CPU, via transformers' packed-sequence mask), so logits equal per-example ones."""
    import torch
    from transformers import AutoModelForCausalLM
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    model = AutoModelForCausalLM.from_pretrained(tiny_llama, attn_implementation="sdpa").eval()
    rows, _ = sft.tokenize_rows([{"prompt": "Query: red shoes\nRelevance:", "completion": " exact"},
                                 {"prompt": "Query: a much longer query about blue running shoes\nEntities:",
                                  "completion": "\ncolor: blue"}], tok, 1024)
    batch = DataCollatorForLanguageModeling(pad_token_id=tok.pad_token_id, padding_free=True)(rows)
    assert "attention_mask" not in batch and batch["input_ids"].shape[0] == 1
    with torch.no_grad():
        # use_cache=False as in training (TRL sets it): with a cache, transformers does not look for packing
        flat = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits[0]
        sep = torch.cat([model(input_ids=torch.tensor([r["input_ids"]])).logits[0] for r in rows])
    torch.testing.assert_close(flat, sep, atol=1e-4, rtol=1e-4)


def test_fused_head_on_label_positions_only_is_exact(tiny_llama, tok):
    """score_label_positions_only(): TRL's fused LM head projects only labelled positions on CPU too;
    log-probs and entropy equal TRL's score-everything path, and the loss equals the model's own."""
    import torch
    import trl.trainer.utils as tu
    from transformers import AutoModelForCausalLM
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    model = AutoModelForCausalLM.from_pretrained(tiny_llama).eval()
    rows, _ = sft.tokenize_rows([{"prompt": "Query: red shoes\nRelevance:", "completion": " exact"},
                                 {"prompt": "Query: blue running shoes\nEntities:", "completion": "\ncolor: blue"}],
                                tok, 1024)
    batch = DataCollatorForLanguageModeling(pad_token_id=tok.pad_token_id, padding_free=True)(rows)
    batch = {k: batch[k] for k in ("input_ids", "position_ids", "labels")}
    with torch.no_grad():
        ref_loss = model(**batch, use_cache=False).loss
        tu.add_fused_lm_head(model, outputs=("log_probs", "entropy", "is_top1"))
        assert sft.score_label_positions_only()
        orig, patched = tu._use_triton.original, tu._use_triton
        try:
            tu._use_triton = orig
            everything = model(**batch, fused_lm_head=True)
        finally:
            tu._use_triton = patched
        compact = model(**batch, fused_lm_head=True)
    mask = compact.label_mask
    torch.testing.assert_close(compact.log_probs[mask], everything.log_probs[mask])
    torch.testing.assert_close(compact.entropy[mask], everything.entropy[mask])
    torch.testing.assert_close(-compact.log_probs.sum() / mask.sum(), ref_loss)


# ------------------------------------------------------------------------------------------- training
@pytest.fixture(scope="module")
def lora_run(tiny_llama, tmp_path_factory):
    out = tmp_path_factory.mktemp("sft") / "esci_lora"
    cfg = cfg_for(tiny_llama, out, tasks=["ecom_esci"], train_size=16, max_steps=3, learning_rate=1e-2,
                  eval=True, eval_limit=2, eval_batch_size=2)
    sft.run(cfg, argv=["--out", str(out)])
    return out


def test_lora_changes_adapter_not_base(lora_run, tiny_llama):
    import torch
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    lora = adapter_tensors(lora_run)
    b = [v for k, v in lora.items() if "lora_B" in k]
    assert b and all(v.abs().sum() > 0 for v in b)            # lora_B starts at zero: every one has moved
    base_file = load_file(str(tiny_llama / "model.safetensors"))
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_llama), str(lora_run))
    merged_base = {k.replace("base_model.model.", "").replace(".base_layer", ""): v
                   for k, v in model.state_dict().items() if "lora_" not in k}
    for k, v in base_file.items():
        assert torch.equal(merged_base[k], v), k               # the base weights did not change
    assert (lora_run / "chat_template.jinja").is_file() and (lora_run / "tokenizer.json").is_file()


def test_lineage_complete_and_fields(lora_run, tiny_llama):
    from ecomsuite import lineage

    lin = lineage.read(lora_run)
    assert lin["complete"] is True and lin["kind"] == "adapter" and lin["method"] == "lora"
    for k in ("name", "base_model", "base_model_hash", "tasks", "train_size", "seed", "data_source",
              "data_fingerprint", "hyperparameters", "versions", "git_rev", "command", "steps", "loss_curve",
              "wall_time_s", "tokens_per_s"):
        assert k in lin, k
    assert lin["steps"] == 3 and len(lin["loss_curve"]) == 3 and lin["base_model"] == str(tiny_llama)
    assert lin["command"].startswith("ecomsuite sft") and lin["tokens_per_s"] > 0
    assert not (lora_run / "checkpoints").exists()
    with pytest.raises(EcomError, match="already holds a complete adapter"):
        sft.run(cfg_for(tiny_llama, lora_run, tasks=["ecom_esci"], train_size=16, max_steps=3, learning_rate=1e-2))


def test_eval_results_beside_adapter_and_plain_lm_eval_peft(lora_run, tiny_llama, tmp_path):
    """--eval wrote lm-eval's files under OUT/eval; plain lm-eval loads the adapter with peft=."""
    from ecomsuite import lineage
    from ecomsuite.evaluate import evaluate

    assert list((lora_run / "eval").rglob("results_*.json"))
    lin = lineage.read(lora_run)
    assert "acc" in lin["eval"]["results"]["ecom_esci"]
    res = evaluate(model="hf", model_args=f"pretrained={tiny_llama},peft={lora_run}", tasks=["ecom_esci"],
                   limit=2, output_path=tmp_path, batch_size=2, device="cpu")
    assert res["n-samples"]["ecom_esci"]["effective"] == 2
    assert f"peft={lora_run}" in str(res["config"]["model_args"])


def _train_rows(tok, n=4):
    from ecomsuite.prompts import load_tasks, render_examples, split_docs

    task = load_tasks(["ecom_esci_gen"])["ecom_esci_gen"]
    return render_examples(task, docs=split_docs(task, "train")[:n])


@pytest.mark.slow
def test_trained_model_stops_with_eos(tiny_llama, tok, tmp_path):
    """EOS is taught: after training, greedy decoding of a training prompt ends with EOS."""
    import torch

    rows = _train_rows(tok, 2)
    examples, _ = sft.tokenize_rows(rows, tok, 1024)
    cfg = cfg_for(tiny_llama, tmp_path, tasks=["ecom_esci_gen"], method="full", max_steps=20, learning_rate=5e-3,
                  lr_scheduler="constant", batch_size=2)
    model = sft.load_model(cfg, str(tiny_llama))
    sft.build_trainer(model, tok, examples, cfg, str(tmp_path / "ck"), save_strategy="no").train()
    model.eval()
    for r in rows:
        ids = torch.tensor([tok.encode(r["prompt"])])
        with torch.no_grad():
            gen = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=12, do_sample=False,
                                 eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)[0, ids.shape[1]:]
        assert gen[-1].item() == tok.eos_token_id, tok.decode(gen)
        assert tok.decode(gen[:-1]) == r["completion"]


def test_full_finetune_writes_a_model(tiny_llama, tmp_path):
    from transformers import AutoModelForCausalLM

    from ecomsuite import lineage

    out = sft.run(cfg_for(tiny_llama, tmp_path / "full", tasks=["ecom_queryner"], train_size=8, max_steps=2,
                          method="full", learning_rate=1e-3))
    lin = lineage.read(out)
    assert lin["kind"] == "model" and lin["complete"] and lin["method"] == "full"
    AutoModelForCausalLM.from_pretrained(out)


def test_qlora_on_cpu_tiny_model(tiny_llama, tmp_path):
    pytest.importorskip("bitsandbytes", reason="bitsandbytes cannot be imported here")
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from ecomsuite import lineage

    out = sft.run(cfg_for(tiny_llama, tmp_path / "qlora", tasks=["ecom_esci"], train_size=8, max_steps=2,
                          method="qlora", learning_rate=1e-2))
    lin = lineage.read(out)
    assert lin["complete"] and lin["method"] == "qlora" and all(l == l for _, l in lin["loss_curve"])
    assert any(v.abs().sum() > 0 for k, v in adapter_tensors(out).items() if "lora_B" in k)
    PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_llama), str(out))  # unquantized base


KILL = textwrap.dedent("""
    import os, sys
    from transformers import TrainerCallback
    from ecomsuite.trainers import sft

    class Die(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == int(sys.argv[2]):
                os._exit(17)                      # a hard kill: no cleanup, no final save

    cfg = sft.validate(__import__("json").loads(sys.argv[1]))
    sft.run(cfg, callbacks=[Die()])
""")


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_adapter(tiny_llama, tmp_path):
    from ecomsuite import lineage

    common = dict(TINY, model=str(tiny_llama), tasks=["ecom_esci"], train_size=16, max_steps=6, save_steps=2,
                  learning_rate=5e-3, lora_dropout=0.1)
    ref = sft.run(sft.validate({**common, "out": str(tmp_path / "ref")}))
    out = tmp_path / "killed"
    raw = {**common, "out": str(out)}
    p = subprocess.run([sys.executable, "-c", KILL, json.dumps(raw), "5"], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert p.returncode == 17, p.stderr[-2000:]
    lin = lineage.read(out)
    assert lin["complete"] is False                              # a half-written folder never looks complete
    assert sft.last_checkpoint(out).name == "checkpoint-4"
    with pytest.raises(EcomError, match="unfinished run; pass --resume"):
        sft.run(sft.validate(raw))
    with pytest.raises(EcomError, match="different settings .*learning_rate"):
        sft.run(sft.validate({**raw, "resume": True, "learning_rate": 1e-3}))
    sft.run(sft.validate({**raw, "resume": True}))
    lin = lineage.read(out)
    assert lin["complete"] is True and lin["resumed_from_step"] == 4 and lin["steps"] == 6
    a, b = adapter_tensors(ref), adapter_tensors(out)
    assert a.keys() == b.keys()
    import torch

    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert [s for s, _ in lin["loss_curve"]] == [1, 2, 3, 4, 5, 6]


@pytest.mark.slow
def test_ddp_two_cpu_processes(tiny_llama, tmp_path):
    """Two CPU processes (torchrun, gloo; on GPUs `accelerate launch` does the same): one valid adapter,
    world size 2 in lineage. (`accelerate launch --cpu` starts a single process, hence torchrun here.)"""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from ecomsuite import lineage

    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "ecomsuite.cli", "sft",
           "--model", str(tiny_llama), "--tasks", "ecom_esci", "--train-size", "16", "--max-steps", "2",
           "--batch-size", "2", "--logging-steps", "1", "--out", str(out)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                       env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)})
    assert p.returncode == 0, p.stderr[-3000:]
    lin = lineage.read(out)
    assert lin["complete"] and lin["hyperparameters"]["world_size"] == 2 and lin["steps"] == 2
    assert lin["hyperparameters"]["effective_batch_size"] == 4
    PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_llama), str(out))


def test_batching_auto_resolves_by_device(monkeypatch):
    from ecomsuite.trainers import sft

    cfg = sft.Config()
    assert cfg.batching == "auto"
    monkeypatch.setattr(sft, "_cuda", lambda: False)
    assert sft.resolved_batching(cfg) == "padded"            # no varlen kernel on CPU (bench/README.md)
    assert not sft.sft_args(cfg, "/tmp/ecomsuite_auto_cpu").padding_free
    monkeypatch.setattr(sft, "_cuda", lambda: True)
    assert sft.resolved_batching(cfg) == "padding_free"
    cfg.batching = "packing"
    assert sft.resolved_batching(cfg) == "packing"


# ------------------------------------------------------------------ the authors' protocol keys (issue 14 §1)
def test_every_key_has_help_and_new_keys_are_checked():
    assert set(sft.HELP) == set(sft.FIELDS)
    helptext = sft.build_parser().format_help()
    for flag in ("--optim", "--max-grad-norm", "--group-by-length", "--drop-longer", "--lr-scheduler"):
        assert flag in helptext
    with pytest.raises(EcomError) as e:
        sft.validate({"out": "x", "optim": "adamw_torhc", "max_grad_norm": -1, "lr_scheduler": "cosin",
                      "drop_longer": "yes", "group_by_length": 1})
    msg = str(e.value)
    for needle in ("optim:", "did you mean 'adamw_torch'", "max_grad_norm:", "lr_scheduler:", "drop_longer:",
                   "group_by_length:"):
        assert needle in msg, needle
    # 1e-5 on the command line is a number (PyYAML alone reads it as a string)
    assert sft.parse_args(["--out", "x", "--learning-rate", "1e-5"]).lr == 1e-5
    assert sft.parse_args(["--out", "x", "learning_rate=2E-4"]).lr == 2e-4


def test_gpu_optimizer_refused_on_cpu_in_one_line(monkeypatch):
    monkeypatch.setattr(sft, "_cuda", lambda: False)
    with pytest.raises(EcomError) as e:
        sft.parse_args(["--out", "x", "optim=paged_adamw_8bit"])
    assert "\n" not in str(e.value) and "optim: paged_adamw_8bit" in str(e.value) and "CUDA" in str(e.value)
    assert sft.parse_args(["--out", "x", "optim=paged_adamw_8bit"], check_env=False).optim == "paged_adamw_8bit"


def test_sft_args_carry_the_protocol_keys(tmp_path):
    cfg = sft.validate({"out": "x", "optim": "adamw_torch", "max_grad_norm": 0.3, "lr_scheduler": "cosine",
                        "warmup": 0.03, "group_by_length": True})
    a = sft.sft_args(cfg, str(tmp_path))
    assert (a.optim, a.max_grad_norm, a.lr_scheduler_type, a.warmup_steps, a.train_sampling_strategy) == \
        ("adamw_torch", 0.3, "cosine", 0.03, "group_by_length")


def test_drop_longer_drops_instead_of_cutting(tok):
    rows = [{"prompt": "Query: red shoes\nRelevance:", "completion": " exact", "task": "a"},
            {"prompt": "Query: " + "very long query " * 40 + "\nRelevance:", "completion": " exact", "task": "b"}]
    n_short = len(sft.tokenize_rows(rows[:1], tok, 4096)[0][0]["input_ids"])
    cut, st = sft.tokenize_rows(rows, tok, n_short + 2)
    assert len(cut) == 2 and st["prompts_cut"] == 1 and st["dropped_too_long"] == 0
    kept, st = sft.tokenize_rows(rows, tok, n_short + 2, drop_longer=True)
    assert len(kept) == 1 and st["prompts_cut"] == 0 and st["dropped_too_long"] == 1
    assert st["examples_per_task"] == {"a": 1}
    assert sft.actual_docs({"a": 1, "b": 1}, st) == {"a": 1, "b": 0}


def test_run_records_actual_docs_and_dropped_count(tiny_llama, tmp_path):
    """drop_longer + group_by_length + a named optimizer train; lineage says what was trained on."""
    from ecomsuite import lineage

    out = tmp_path / "drop"
    probe = cfg_for(tiny_llama, out, tasks=["ecom_esci"], train_size=1000, allow_fewer=True)
    tok = sft.load_tokenizer(str(tiny_llama))
    rows, _ = sft.render_rows(probe, tok)
    lengths = sorted(len(r["input_ids"]) for r in sft.tokenize_rows(rows, tok, 100_000)[0])
    cfg = cfg_for(tiny_llama, out, tasks=["ecom_esci"], train_size=1000, allow_fewer=True, max_steps=1,
                  max_length=lengths[len(lengths) // 2], drop_longer=True, group_by_length=True, optim="adamw_torch", max_grad_norm=0.3)
    sft.run(cfg)
    lin = lineage.read(out)
    dropped = lin["train_stats"]["dropped_too_long"]
    state = json.loads((out / sft.RUN_STATE).read_text())
    assert state["dropped_too_long"] == dropped > 0
    assert lin["train_size"] == lin["train_docs"]["ecom_esci"] == 47 - dropped   # the sample holds 47
    assert lin["train_size_requested"] == 1000
    assert lin["hyperparameters"]["optim"] == "adamw_torch" and lin["hyperparameters"]["max_grad_norm"] == 0.3
