"""Task-suite speed on the embedded default model (SmolLM2-135M-Instruct, CPU), measured side by side:

1. per task: documents/s through lm-eval, and the ratio of lm-eval's wall time to ONE bare batched
   forward pass over the same tokens (prompt + the tokens lm-eval generated / scored);
2. ESCI multiple choice: single-token choice words (the task's choice) vs. multi-token words vs.
   letters: wall time and accuracy / macro-F1 on the same documents;
3. QueryNER: target length in tokens of the compact form vs. the paper's (token, tag) form.

    python bench/bench_tasks.py --data-dir ../shared/data --limit 40
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent


def bare_forward_seconds(model, tok, texts: list[str], batch_size: int = 8) -> tuple[float, int]:
    import torch

    tok.padding_side = "right"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    n_tokens = 0
    t0 = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            enc = tok(texts[i:i + batch_size], return_tensors="pt", padding=True)
            n_tokens += int(enc["attention_mask"].sum())
            model(**enc)
    return time.perf_counter() - t0, n_tokens


def esci_choice_variants(tmp: Path) -> dict[str, str]:
    template = REPO / "tasks" / "esci" / "_esci_template"
    variants = {
        "words_single_token": None,  # the real ecom_esci
        "words_capitalised_multi_token": ["Exact", "Substitute", "Complement", "Irrelevant"],
        "letters": ["E", "S", "C", "I"],
    }
    names = {}
    for key, choices in variants.items():
        if choices is None:
            names[key] = "ecom_esci"
            continue
        y = tmp / f"bench_esci_{key}.yaml"
        y.write_text(
            f"include: {json.dumps(str(REPO / 'tasks' / 'esci' / 'ecom_esci.yaml'))}\n"
            f"task: bench_esci_{key}\ndoc_to_choice: {json.dumps(choices)}\n")
        names[key] = f"bench_esci_{key}"
    (tmp / "utils.py").write_text((REPO / "tasks" / "esci" / "utils.py").read_text())
    assert template.exists()
    return names


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--tasks", nargs="+", default=None)
    ap.add_argument("--batch-size", type=int, default=8)
    args = ap.parse_args(argv)

    import torch
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ecomsuite.data import load_family
    from ecomsuite.evaluate import DEFAULT_GROUP
    from ecomsuite.lmeval import group_tasks, tasks_dir
    from ecomsuite.models import default_model_path
    from ecomsuite.parsing import format_ner_compact, format_ner_pairs

    torch.manual_seed(0)
    path = default_model_path()
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    meta = {"data_dir": str(Path(args.data_dir).resolve())} if args.data_dir else None
    tmp = Path(tempfile.mkdtemp())
    esci_names = esci_choice_variants(tmp)
    tm = TaskManager(include_path=[str(tasks_dir()), str(tmp)], include_defaults=False, metadata=meta)

    from lm_eval.models.huggingface import HFLM
    lm = HFLM(pretrained=model, tokenizer=tok, batch_size=args.batch_size, device="cpu")

    def run(task):
        t0 = time.perf_counter()
        r = simple_evaluate(model=lm, tasks=[task], limit=args.limit, task_manager=tm, log_samples=True,
                            random_seed=0, numpy_random_seed=0, torch_random_seed=0, fewshot_random_seed=0)
        return time.perf_counter() - t0, r

    rows = []
    print(f"model {path.name} on CPU ({torch.get_num_threads()} threads), limit {args.limit}, batch {args.batch_size}")
    print(f"{'task':<22}{'docs':>6}{'docs/s':>9}{'lm-eval s':>11}{'bare fwd s':>11}{'ratio':>8}  tokens")
    for task in args.tasks or group_tasks(tm, DEFAULT_GROUP):
        wall, r = run(task)
        samples = r["samples"][task]
        texts = []
        for s in samples:
            ctx = s["arguments"]["gen_args_0"]["arg_0"] if isinstance(s["arguments"], dict) else s["arguments"][0][0]
            out = s["resps"][0][0] if isinstance(s["resps"][0], list) else s["resps"][0]
            texts.append(ctx + (out if isinstance(out, str) else ""))
            if not isinstance(out, str):  # multiple choice: every choice continuation is scored
                pass
        bare, n_tok = bare_forward_seconds(model, tok, texts, args.batch_size)
        n = len(samples)
        rows.append({"task": task, "docs": n, "docs_per_s": n / wall, "lm_eval_s": wall, "bare_forward_s": bare,
                     "ratio": wall / bare, "tokens": n_tok})
        print(f"{task:<22}{n:>6}{n / wall:>9.2f}{wall:>11.1f}{bare:>11.2f}{wall / bare:>8.1f}  {n_tok}")

    print("\nESCI multiple choice: choice words (same documents)")
    print(f"{'variant':<32}{'choice tokens':>14}{'s':>8}{'acc':>8}{'macro_f1':>10}")
    for key, name in esci_names.items():
        choices = {"ecom_esci": ["exact", "substitute", "complement", "irrelevant"]}.get(name) or \
            {"words_capitalised_multi_token": ["Exact", "Substitute", "Complement", "Irrelevant"],
             "letters": ["E", "S", "C", "I"]}[key]
        ntok = [len(tok(" " + c, add_special_tokens=False)["input_ids"]) for c in choices]
        wall, r = run(name)
        res = r["results"][name]
        print(f"{key:<32}{str(ntok):>14}{wall:>8.1f}{res['acc,none']:>8.3f}{res['macro_f1,none']:>10.3f}")
        rows.append({"esci_variant": key, "choice_tokens": ntok, "s": wall, "acc": res["acc,none"],
                     "macro_f1": res["macro_f1,none"]})

    docs = load_family("queryner", args.data_dir).splits["test"]
    comp = sum(len(tok(format_ner_compact(d["tokens"], d["tags"]))["input_ids"]) for d in docs)
    pairs = sum(len(tok(format_ner_pairs(d["tokens"], d["tags"]))["input_ids"]) for d in docs)
    print(f"\nQueryNER target tokens over {len(docs)} test queries: compact {comp}, pairs {pairs} "
          f"(compact = {comp / pairs:.2f}x)")
    rows.append({"queryner_target_tokens": {"compact": comp, "pairs": pairs}})
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
