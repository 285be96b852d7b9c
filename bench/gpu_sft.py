"""GPU benchmark of ecomsuite's training path (``ecomsuite.trainers.sft.build_trainer``, the function
``ecomsuite sft`` runs, with its batching choices) against plain TRL ``SFTTrainer`` defaults, in one run,
on a Llama-2-7B-shaped model with random weights in bf16 and ESCI-shaped data (60-160 word prompts,
1-2 word answers, word-level tokenizer), sequence length 512. Same model build, data and LoRA config
(r=16, alpha=32, all-linear) as /work/shared/bench/trl_gpu_anchor.py, so its figures line up.

    PYTHONPATH=$PWD python bench/gpu_sft.py                  # CUDA machine, ~4-6 min on one H100
    SMALL=1 PYTHONPATH=$PWD python bench/gpu_sft.py          # tiny shape on CPU: checks the script

Runs (each: warm-up steps, then timed steps; real = non-pad tokens of the examples consumed):
  trl_defaults_lora_bs8     SFTTrainer(model, SFTConfig(defaults), prompt/completion strings): padded
                            batches, gradient checkpointing on, bf16 autocast  [the anchor's baseline]
  ecomsuite_lora_bs8        build_trainer: pre-tokenized rows, padding_free (one flattened row, position_ids),
                            no gradient checkpointing, same 8 examples per step
  ecomsuite_lora_bs32       the same with 32 examples per step (~3.6k tokens, like packing 8x512)
  trl_defaults_qlora_bs8    TRL defaults on the 4-bit NF4 model (bitsandbytes)
  ecomsuite_qlora_bs32      ecomsuite QLoRA: sft.load_model (BitsAndBytesConfig nf4, double quant, bf16
                            compute) + build_trainer, padding_free, no gradient checkpointing
QLoRA loads the model the way ``ecomsuite sft`` does (from a folder), so the random bf16 model is saved
to $BENCH_TMP (default /tmp) first. Prints one line per run and a JSON line (also $OUT/gpu_sft.json).
MFU uses 6*N*tokens/s over 989 TFLOP/s (dense bf16 H100/H200), as the anchor does.

Needs torch, transformers, peft, accelerate, trl, datasets (+ dill, multiprocess, pyarrow, xxhash) and
bitsandbytes; not lm-eval (sft.py imports it only inside render_rows, unused here).
"""
import importlib.util
import json
import os
import random
import shutil
import statistics
import sys
import time
import uuid
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
SMALL = os.environ.get("SMALL") == "1"
DEV = "cpu" if SMALL else "cuda"
PEAK = 989e12


def load_sft():
    """ecomsuite.trainers.sft from an install, else from the checkout (PYTHONPATH=repo: pyproject's
    package-dir mapping of trainers/ -> ecomsuite.trainers is not applied then)."""
    try:
        from ecomsuite.trainers import sft
        return sft
    except ImportError:
        import ecomsuite

        for name, path in (("ecomsuite.trainers", REPO / "trainers" / "__init__.py"),
                           ("ecomsuite.trainers.sft", REPO / "trainers" / "sft.py")):
            spec = importlib.util.spec_from_file_location(
                name, path, submodule_search_locations=[str(path.parent)] if path.name == "__init__.py" else None)
            mod = importlib.util.module_from_spec(spec)
            sys.modules[name] = mod
            spec.loader.exec_module(mod)
        ecomsuite.trainers = sys.modules["ecomsuite.trainers"]
        return sys.modules["ecomsuite.trainers.sft"]


def fix_datasets_fingerprint():
    # dill cannot hash pyarrow 26 types on py3.12: fall back to random fingerprints (as the anchor does)
    import datasets.fingerprint as fp

    orig = fp.Hasher.hash.__func__

    def safe(cls, value):
        try:
            return orig(cls, value)
        except Exception:
            return uuid.uuid4().hex
    fp.Hasher.hash = classmethod(safe)


def main() -> int:
    fix_datasets_fingerprint()
    sft = load_sft()
    from datasets import Dataset
    from peft import LoraConfig
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    V = 32000
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, "<pad>": 3} | {f"w{i}": i + 4 for i in range(V - 4)}
    tk = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                                  pad_token="<pad>")
    shape = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=4) if SMALL else \
        dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
             num_key_value_heads=32)
    lcfg = LlamaConfig(vocab_size=V, max_position_embeddings=4096, bos_token_id=1, eos_token_id=2, pad_token_id=3,
                       **shape)
    torch.manual_seed(0)
    random.seed(0)
    t0 = time.time()
    torch.set_default_dtype(torch.bfloat16)
    with torch.device(DEV):
        model = LlamaForCausalLM(lcfg)
    torch.set_default_dtype(torch.float32)
    model.config._attn_implementation = "sdpa"
    N = sum(p.numel() for p in model.parameters())
    print(f"model params {N / 1e9:.2f}B built in {time.time() - t0:.1f}s on {DEV}", flush=True)

    def words(n):
        return " ".join(f"w{random.randrange(V - 4)}" for _ in range(n))
    rows = [{"prompt": words(random.randint(60, 160)), "completion": " " + words(random.randint(1, 2))}
            for _ in range(3000)]
    real_per_ex = sum(len(r["prompt"].split()) + len(r["completion"].split()) + 1 for r in rows) / len(rows)
    base = {"out": "/tmp/gpu_sft_unused", "model": "", "tasks": ["ecom_esci"], "lora_r": 16, "lora_alpha": 32,
            "lora_dropout": 0.05, "target_modules": "all-linear", "max_length": 512, "learning_rate": 1e-4,
            "batching": "padding_free", "gradient_checkpointing": False, "logging_steps": 1000, "save_steps": 10_000}
    examples, stats = sft.tokenize_rows(rows, tok, 512)
    assert abs(stats["tokens"] / stats["examples"] - real_per_ex) < 1e-6, (stats, real_per_ex)
    steps, warm = (6, 2) if SMALL else (20, 5)
    out: dict = {}

    class Timer(TrainerCallback):
        def __init__(self):
            self.t = []

        def on_step_end(self, args, state, control, **kw):
            if DEV == "cuda":
                torch.cuda.synchronize()
            self.t.append(time.perf_counter())

    def record(name, timer, bs, trainer, tokens_per_step=None):
        dts = [timer.t[i + 1] - timer.t[i] for i in range(warm - 1, len(timer.t) - 1)]
        dt = statistics.median(dts)
        tps = (tokens_per_step or bs * real_per_ex) / dt
        mem = torch.cuda.max_memory_allocated() / 2**30 if DEV == "cuda" else 0.0
        out[name] = dict(step_s=round(dt, 3), real_tokens_per_s=round(tps), mfu_6N=round(6 * N * tps / PEAK, 3),
                         peak_GiB=round(mem, 1), examples_per_step=bs)
        print(name, out[name], flush=True)

    def trl_defaults(name, m, bs, **kw):
        timer = Timer()
        if kw.get("gradient_checkpointing") is False:
            m.gradient_checkpointing_disable()
        args = SFTConfig(output_dir=f"/tmp/gpu_sft_{name}", per_device_train_batch_size=bs, max_steps=steps,
                         learning_rate=1e-4, logging_steps=1000, save_strategy="no", report_to="none",
                         bf16=not SMALL, use_cpu=SMALL, max_length=512, dataset_num_proc=None, disable_tqdm=True, **kw)
        lora = LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM")
        tr = SFTTrainer(model=m, args=args, train_dataset=Dataset.from_list(rows), processing_class=tok,
                        peft_config=lora, callbacks=[timer])
        if DEV == "cuda":
            torch.cuda.reset_peak_memory_stats()
        tr.train()
        record(name, timer, bs, tr, bs * 512 if kw.get("packing") else None)
        return tr

    def ecomsuite(name, m, bs, method="lora", batching="padding_free"):
        timer = Timer()
        cfg = sft.validate({**base, "batch_size": bs, "max_steps": steps, "method": method, "batching": batching},
                           "gpu_sft")
        m.gradient_checkpointing_disable()  # a previous TRL-defaults run may have left it on
        tr = sft.build_trainer(m, tok, examples, cfg, f"/tmp/gpu_sft_{name}", callbacks=[timer],
                               save_strategy="no", **({"use_cpu": True, "bf16": False} if SMALL else {}))
        if DEV == "cuda":
            torch.cuda.reset_peak_memory_stats()
        tr.train()
        record(name, timer, bs, tr, bs * 512 if batching == "packing" else None)
        return tr

    def unload(tr):
        m = tr.model.unload() if hasattr(tr.model, "unload") else tr.model
        del tr
        return m

    if os.environ.get("EXTRA") == "1":
        # packing side by side: TRL's best in the anchor (packing, no gradient checkpointing) vs ecomsuite
        model = unload(trl_defaults("trl_packing_no_gc_bs8x512", model, 8, packing=True, gradient_checkpointing=False))
        model = unload(ecomsuite("ecomsuite_packing_bs8x512", model, 8, batching="packing"))
        model = unload(ecomsuite("ecomsuite_padding_free_bs48", model, 48))
        b = out["trl_packing_no_gc_bs8x512"]["real_tokens_per_s"]
        for k in ("ecomsuite_packing_bs8x512", "ecomsuite_padding_free_bs48"):
            out[f"ratio_{k}_vs_trl_packing_no_gc"] = round(out[k]["real_tokens_per_s"] / b, 2)
        res = {"device": torch.cuda.get_device_name() if DEV == "cuda" else "cpu", "params_B": round(N / 1e9, 2), **out}
        print(json.dumps(res), flush=True)
        if os.environ.get("OUT"):
            Path(os.environ["OUT"], "gpu_sft_extra.json").write_text(json.dumps(res, indent=2))
        return 0

    model = unload(trl_defaults("trl_defaults_lora_bs8", model, 8))
    model = unload(ecomsuite("ecomsuite_lora_bs8", model, 8))
    model = unload(ecomsuite("ecomsuite_lora_bs32", model, 32))

    # QLoRA: save the bf16 model, load it in 4-bit the way `ecomsuite sft` does (sft.load_model)
    try:
        import bitsandbytes  # noqa: F401
        have_bnb = True
    except Exception as e:  # noqa: BLE001
        have_bnb = False
        out["qlora"] = f"skipped: bitsandbytes cannot be imported ({type(e).__name__}: {e})"
        print(out["qlora"], flush=True)
    if have_bnb:
        folder = Path(os.environ.get("BENCH_TMP", "/tmp")) / "gpu_sft_llama"
        t = time.time()
        model.save_pretrained(folder)
        tok.save_pretrained(folder)
        del model
        if DEV == "cuda":
            torch.cuda.empty_cache()
        print(f"saved bf16 model to {folder} in {time.time() - t:.0f}s", flush=True)
        qcfg = sft.validate({**base, "method": "qlora", "model": str(folder), "attn_implementation": "sdpa"}, "gpu_sft")
        t = time.time()
        qmodel = sft.load_model(qcfg, str(folder))
        print(f"loaded 4-bit in {time.time() - t:.0f}s", flush=True)
        qmodel = unload(trl_defaults("trl_defaults_qlora_bs8", qmodel, 8))
        # a fresh 4-bit load: the TRL run cast and hooked things on the model (input grads, checkpointing)
        del qmodel
        qmodel = sft.load_model(qcfg, str(folder))
        unload(ecomsuite("ecomsuite_qlora_bs32", qmodel, 32, method="qlora"))
        shutil.rmtree(folder, ignore_errors=True)

    b = out["trl_defaults_lora_bs8"]["real_tokens_per_s"]
    out["ratio_ecomsuite_lora_bs8_vs_trl_defaults"] = round(out["ecomsuite_lora_bs8"]["real_tokens_per_s"] / b, 2)
    out["ratio_ecomsuite_lora_bs32_vs_trl_defaults"] = round(out["ecomsuite_lora_bs32"]["real_tokens_per_s"] / b, 2)
    if "ecomsuite_qlora_bs32" in out:
        out["ratio_ecomsuite_qlora_bs32_vs_trl_defaults_qlora"] = round(
            out["ecomsuite_qlora_bs32"]["real_tokens_per_s"] / out["trl_defaults_qlora_bs8"]["real_tokens_per_s"], 2)
    res = {"device": torch.cuda.get_device_name() if DEV == "cuda" else "cpu", "params_B": round(N / 1e9, 2),
           "real_tokens_per_example": round(real_per_ex, 1), "timed_steps": steps - warm, **out}
    print(json.dumps(res), flush=True)
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], "gpu_sft.json").write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
