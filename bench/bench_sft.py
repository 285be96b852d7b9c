"""Training throughput of ``ecomsuite sft`` against plain TRL ``SFTTrainer`` with its defaults, side by side
in one run, on the same model, data, LoRA config and batch size (CPU by default).

    HF_HUB_OFFLINE=1 python bench/bench_sft.py --data-dir ../shared/data            # SmolLM2-135M, ESCI
    HF_HUB_OFFLINE=1 python bench/bench_sft.py --data-dir ../shared/data --all      # + batching variants

What differs (everything else is equal: model, examples, LoRA r=16 all-linear, batch 8, lr, seed):
  trl_defaults      SFTTrainer(model=PATH, args=SFTConfig(defaults), prompt/completion strings): pads each
                    batch, gradient checkpointing on, bf16 autocast (TRL's default even on CPU)
  ecomsuite         ecomsuite.trainers.sft with its defaults: pre-tokenized rows, batching auto (padded on CPU,
                    padding_free on CUDA), no gradient checkpointing, fp32 on CPU, LM head only on
                    the labelled (completion) positions
  --all adds: trl_defaults_fp32 (TRL defaults without bf16 autocast: how much of the gap is the CPU's
                    bf16), ecomsuite_padding_free / _padded / _packing (each `batching` choice)

Real tokens/s counts prompt + completion + EOS tokens of the examples a step consumes (no padding);
a packing step consumes batch_size rows of up to max_length tokens (whole examples, bfd), so its
tokens per step are the data's tokens over its steps per epoch. Steps are timed after
``--warmup`` steps; the configs run in turn, ``--repeats`` rounds, and the median step time is used,
so a busy machine slows every config alike. Prints a table, the ratio, and a JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def step_timer():
    from transformers import TrainerCallback

    class Timer(TrainerCallback):
        def __init__(self):
            self.t = []

        def on_step_begin(self, args, state, control, **kw):
            if not self.t:
                self.t.append(time.perf_counter())

        def on_step_end(self, args, state, control, **kw):
            self.t.append(time.perf_counter())

    return Timer()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="HF folder (default: embedded SmolLM2-135M-Instruct)")
    p.add_argument("--data-dir", default=None, help="data folder (default: embedded sample)")
    p.add_argument("--task", default="ecom_esci")
    p.add_argument("--examples", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--steps", type=int, default=4, help="timed steps per config and round")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--all", action="store_true", help="also time ecomsuite's padded and packing batching")
    p.add_argument("--configs", default=None,
                   help="comma-separated subset of: trl_defaults, ecomsuite, trl_defaults_fp32, ecomsuite_padding_free, "
                        "ecomsuite_padded, ecomsuite_packing (default: the first two, or all with --all)")
    p.add_argument("--json", default=None, help="write the results here too")
    a = p.parse_args(argv)

    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    from ecomsuite.trainers import sft

    model_path = a.model
    if model_path is None:
        from ecomsuite.models import default_model_path

        model_path = str(default_model_path())
    cfg = sft.validate({"out": "/tmp/bench_sft", "model": model_path, "tasks": [a.task], "train_size": a.examples,
                        "allow_fewer": True, "data_dir": a.data_dir, "batch_size": a.batch_size, "seed": 0,
                        "lora_dropout": 0.05})
    tok = sft.load_tokenizer(model_path)
    rows, info = sft.render_rows(cfg, tok)
    examples, stats = sft.tokenize_rows(rows, tok, cfg.max_length)
    tok_per_ex = stats["tokens"] / stats["examples"]
    print(f"model {model_path}; {stats['examples']} {a.task} examples from {info['data_source']}, "
          f"{tok_per_ex:.1f} real tokens/example; batch {a.batch_size}; torch threads {torch.get_num_threads()}; "
          f"cuda {torch.cuda.is_available()}", flush=True)
    total = a.steps + a.warmup

    def trl_defaults(bf16):
        def go():
            timer = step_timer()
            args = SFTConfig(output_dir="/tmp/bench_sft_trl", per_device_train_batch_size=a.batch_size,
                             max_steps=total, learning_rate=cfg.lr, report_to="none", save_strategy="no",
                             disable_tqdm=True, logging_steps=1000, seed=0,
                             use_cpu=not torch.cuda.is_available(), **({} if bf16 else {"bf16": False}))
            lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                              target_modules="all-linear", task_type="CAUSAL_LM")
            ds = Dataset.from_list([{"prompt": r["prompt"], "completion": r["completion"]} for r in rows])
            tr = SFTTrainer(model=model_path, args=args, train_dataset=ds, processing_class=tok, peft_config=lora,
                            callbacks=[timer])
            tr.train()
            return timer.t, a.batch_size * tok_per_ex
        return go

    def ecomsuite(batching):
        def go():
            timer = step_timer()
            c = sft.validate({**cfg.to_dict(), "batching": batching, "max_steps": total, "save_steps": 10_000})
            model = sft.load_model(c, model_path)
            tr = sft.build_trainer(model, tok, examples, c, "/tmp/bench_sft_eco", callbacks=[timer],
                                   save_strategy="no", logging_steps=1000)
            tr.train()
            rows_per_epoch = len(tr.train_dataset)  # packed rows when packing, else examples
            steps_per_epoch = -(-rows_per_epoch // a.batch_size)
            return timer.t, stats["tokens"] / steps_per_epoch
        return go

    every = {"trl_defaults": trl_defaults(True), "ecomsuite": ecomsuite("auto"),
             "trl_defaults_fp32": trl_defaults(False), "ecomsuite_padding_free": ecomsuite("padding_free"),
             "ecomsuite_padded": ecomsuite("padded"), "ecomsuite_packing": ecomsuite("packing")}
    names = a.configs.split(",") if a.configs else (list(every) if a.all else ["trl_defaults", "ecomsuite"])
    unknown = [n for n in names if n not in every]
    if unknown or "trl_defaults" not in names or "ecomsuite" not in names:
        p.error(f"--configs: unknown {unknown}; trl_defaults and ecomsuite are always needed (the ratio)"
                if unknown else "--configs: trl_defaults and ecomsuite are always needed (the ratio)")
    configs = {n: every[n] for n in names}
    per_step: dict[str, list[float]] = {k: [] for k in configs}
    tokens_per_step: dict[str, float] = {}
    for rnd in range(a.repeats):
        for name, go in configs.items():
            t, tokens_per_step[name] = go()
            dts = [t[i + 1] - t[i] for i in range(a.warmup, len(t) - 1)]
            per_step[name] += dts
            print(f"round {rnd + 1} {name}: median step {statistics.median(dts):.2f}s "
                  f"({len(dts)} timed steps: {', '.join(f'{d:.1f}' for d in dts)})", flush=True)
    res = {}
    for name, dts in per_step.items():
        med = statistics.median(dts)
        res[name] = {"step_s": round(med, 3), "real_tokens_per_step": round(tokens_per_step[name]),
                     "real_tokens_per_s": round(tokens_per_step[name] / med, 1)}
    base = res["trl_defaults"]["real_tokens_per_s"]
    print(f"\n{'config':<20} {'step s':>8} {'real tok/s':>11} {'vs TRL defaults':>16}")
    for name, r in res.items():
        print(f"{name:<20} {r['step_s']:>8.2f} {r['real_tokens_per_s']:>11.1f} {r['real_tokens_per_s'] / base:>15.2f}x")
    ratio = res["ecomsuite"]["real_tokens_per_s"] / base
    print(f"\necomsuite sft / plain TRL defaults: {ratio:.2f}x real training tokens/s")
    out = {"model": Path(model_path).name, "task": a.task, "examples": stats["examples"], "tokens_per_example":
           round(tok_per_ex, 1), "batch_size": a.batch_size, "steps": a.steps, "repeats": a.repeats,
           "device": "cuda" if torch.cuda.is_available() else "cpu", "threads": torch.get_num_threads(),
           "ratio_ecomsuite_vs_trl_defaults": round(ratio, 2), **res}
    print(json.dumps(out))
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
