"""The `paper` study is the authors' protocol (issue 14 §1): Alpaca task variants (training row == lm-eval
context), the authors' QueryNER rule and ROUGE, actual training sizes in the plan, the deviations table."""
from __future__ import annotations

from pathlib import Path

import pytest

from ecomsuite import metrics, parsing
from ecomsuite.reproduce import actual_sizes, deviations_table, find_study, load_study, main, plan

REPO = Path(__file__).resolve().parent.parent
ALPACA = ("Below is an instruction that describes a task, paired with an input that provides further context. "
          "Write a response that appropriately completes the request.\n\n### Instruction:\n")
VARIANTS = ["ecom_esci_alpaca", "ecom_queryner_alpaca", "ecom_review_summ_alpaca", "ecom_desc_gen_alpaca"]


# ------------------------------------------------------------------------------- Alpaca variants
def test_alpaca_training_row_is_the_lm_eval_context(tiny_llama):
    """Each Alpaca variant: the sft training prompt is exactly lm-eval's request context, wrapped as Alpaca,
    the completion is the bare target (no delimiter after '### Response:\\n'), and sft appends EOS."""
    from ecomsuite.prompts import load_tasks, render_examples
    from ecomsuite.trainers import sft

    tok = sft.load_tokenizer(str(tiny_llama))
    tasks = load_tasks(VARIANTS)
    for name, task in tasks.items():
        task.build_all_requests(limit=3)
        assert task.instances, name
        for inst in task.instances:
            ex = render_examples(task, docs=[inst.doc])[0]
            assert ex["prompt"] == inst.arguments[0], name
            assert ex["prompt"].startswith(ALPACA) and "\n\n### Input:\n" in ex["prompt"], name
            assert ex["prompt"].endswith("\n\n### Response:\n"), name
            assert ex["completion"] and not ex["completion"][0].isspace(), name
            rows, _ = sft.tokenize_rows([{**ex, "task": name}], tok, 4096)
            assert rows[0]["input_ids"][-1] == tok.eos_token_id


def test_paper_study_uses_the_alpaca_variants_and_the_authors_settings():
    study = load_study(find_study("paper"))
    assert study["tasks"] == VARIANTS and study["sft"]["tasks"] == VARIANTS
    assert study["sft"]["method"] == "qlora"
    p = study["sft"]["params"]
    assert (p["lora_r"], p["lora_alpha"], p["lora_dropout"], p["learning_rate"], p["lr_scheduler"], p["warmup"],
            p["optim"], p["max_grad_norm"], p["batch_size"], p["epochs"], p["max_length"], p["drop_longer"]) == \
        (8, 16, 0.05, 1e-5, "cosine", 0.03, "paged_adamw_8bit", 0.3, 8, 3, 512, True)
    assert "launcher" not in study   # one GPU
    sizes = study["sft"]["train_sizes"]
    assert sizes["ecom_esci_alpaca"] == [1000, 10000, 100000, 1000000]
    assert sizes["ecom_desc_gen_alpaca"] == [1000, 5000, 10000, 50000, 100000, 150000, 200000]
    assert sizes["ecom_review_summ_alpaca"] == [None]


def test_paper_dry_run_validates_shows_settings_and_deviations(capsys):
    assert main(["paper", "--dry-run"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "ecomsuite sft --tasks ecom_esci_alpaca" in x and "n1000 " in x)
    for kv in ("method=qlora", "lora_r=8", "lora_alpha=16", "lora_dropout=0.05", "learning_rate=1e-05",
               "lr_scheduler=cosine", "warmup=0.03", "optim=paged_adamw_8bit", "max_grad_norm=0.3", "batch_size=8",
               "epochs=3", "max_length=512", "drop_longer=True"):
        assert kv in line.split(), kv
    assert "Deviations from the paper:" in out
    study = load_study(find_study("paper"))
    assert deviations_table(study["deviations"]) in out


def test_deviations_table_in_docs_equals_the_study():
    """One owner: docs/reproduce.md repeats the table the study file holds."""
    study = load_study(find_study("paper"))
    table = deviations_table(study["deviations"]).split("\n", 2)[2]
    assert table in (REPO / "docs" / "reproduce.md").read_text()


def test_dry_run_refuses_no_bitsandbytes_run_but_a_real_run_checks_the_machine():
    """A dry run plans for another machine (GPU optimizers pass); the same run checked for this CPU machine
    is refused up front with one line naming the key."""
    from ecomsuite import EcomError
    from ecomsuite.reproduce import checked_plan

    path = find_study("paper")
    study = load_study(path)
    checked_plan(path, study, None, resolve_models=False, check_env=False)
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(EcomError, match=r"optim: paged_adamw_8bit is a bitsandbytes optimizer and needs a CUDA GPU"):
        checked_plan(path, study, None, resolve_models=False, check_env=True)


# ------------------------------------------------------------------------------- actual sizes
def test_actual_sizes():
    docs = {"q": 7841, "r": 28, "e": 2_000_000}
    assert actual_sizes(["e"], 1000, docs) == (1000, 1000)
    assert actual_sizes(["q"], 10000, docs) == (7841, None)       # capped: the whole split, labelled 7841
    assert actual_sizes(["r"], None, docs) == (28, None)
    assert actual_sizes(["q", "r"], 1000, docs) == (1028, {"q": 1000, "r": None})
    assert actual_sizes(["q", "e"], 1000, docs) == (2000, 1000)
    assert actual_sizes(["q"], 10000, None) == (10000, 10000)      # data unknown: as asked


def _grid_study():
    return {"name": "g", "tasks": ["ecom_queryner", "ecom_review_summ"],
            "base_models": [{"name": "m", "path": "some/model"}],
            "sft": {"tasks": ["ecom_queryner", "ecom_review_summ"],
                    "train_sizes": {"ecom_queryner": [1000, 10000, 100000], "ecom_review_summ": [1000, 5000]},
                    "mixed": True, "mixed_size": 1000},
            "merges": [{"name": "x", "method": "cat", "inputs": [{"task": "ecom_queryner", "size": 100000},
                                                                  {"task": "ecom_review_summ", "size": 5000}]}]}


def test_plan_uses_actual_sizes_and_drops_oversized_points():
    notes: list[str] = []
    runs = plan(_grid_study(), resolve_models=False, train_docs={"ecom_queryner": 7841, "ecom_review_summ": 28},
                notes=notes)
    sft_ids = [r.id for r in runs if r.kind == "sft"]
    assert sft_ids == ["sft/m/sft/ecom_queryner/n1000/s0", "sft/m/sft/ecom_queryner/n7841/s0",
                       "sft/m/sft/ecom_review_summ/n28/s0", "sft/m/sft/mixed/n1028/s0"]
    by_id = {r.id: r for r in runs}
    capped = by_id["sft/m/sft/ecom_queryner/n7841/s0"].argv
    assert not any(a.startswith("train_size=") for a in capped)          # all documents
    assert "name=m lora ecom_queryner n7841 s0" in capped
    mixed = by_id["sft/m/sft/mixed/n1028/s0"].argv
    assert 'train_size={"ecom_queryner": 1000, "ecom_review_summ": null}' in mixed
    merge = next(r for r in runs if r.kind == "merge")                   # inputs named by the asked size
    assert merge.deps == ["sft/m/sft/ecom_queryner/n7841/s0", "sft/m/sft/ecom_review_summ/n28/s0"]
    assert any("size 100000: dropped" in n for n in notes) and any("size 5000: dropped" in n for n in notes)
    assert any("size 10000" in n and "trains on 7841" in n for n in notes)
    # without data counts the plan is as asked (embedded sample: sft's allow_fewer decides)
    asked = [r.id for r in plan(_grid_study(), resolve_models=False) if r.kind == "sft"]
    assert "sft/m/sft/ecom_queryner/n100000/s0" in asked


def test_sizes_checked_against_real_data_in_the_dry_run(tmp_path, capsys):
    """With a data folder the dry run reads the train splits: QueryNER's 10k becomes n<all>."""
    from ecomsuite.reproduce import train_doc_counts

    real = REPO.parent / "shared" / "data"
    if not (real / "queryner" / "train.txt").is_file():
        pytest.skip("no real data in ../shared/data")
    counts = train_doc_counts(["ecom_queryner", "ecom_review_summ"], str(real))
    assert counts == {"ecom_queryner": 7841, "ecom_review_summ": 28}
    assert train_doc_counts(["ecom_queryner"], None) is None   # the embedded sample: not checked


# ------------------------------------------------------------------------- the authors' scorers
def test_paper_ner_rule_on_known_cases_vs_seqeval():
    from seqeval.metrics import f1_score

    tokens = ["red", "running", "shoes"]
    gold = ["B-color", "B-core_product_type", "I-core_product_type"]
    exact = "(red, B-color), (running, B-core_product_type), (shoes, I-core_product_type)"
    assert parsing.parse_ner_pairs_paper(exact, 3) == (gold, True)
    short = "(red, B-color), (running shoes, B-core_product_type)"          # 2 pairs for 3 words: all O
    assert parsing.parse_ner_pairs_paper(short, 3) == (["O", "O", "O"], False)
    assert parsing.parse_ner_pairs_paper("no idea", 3) == (["O"] * 3, False)
    # positional, no word alignment: the words the model wrote do not matter, their tags do
    assert parsing.parse_ner_pairs_paper("(a, O), (b, B-color), (c, I-color)", 3)[0] == ["O", "B-color", "I-color"]
    # conlleval reading: an I- after O starts an entity (strict IOB2 would not count it)
    golds = [gold, ["B-color", "O"], ["B-brand_x", "I-brand_x"]]
    preds = [parsing.parse_ner_pairs_paper(exact, 3)[0], ["I-color", "O"], ["O", "O"]]
    assert metrics.span_f1_conlleval(golds, preds) == pytest.approx(f1_score(golds, preds))
    assert metrics.span_f1_conlleval(golds, preds) == pytest.approx(2 * 3 / (3 + 4))   # 3 right of 3 predicted, 4 gold
    assert metrics.span_f1(golds, preds) < metrics.span_f1_conlleval(golds, preds)      # strict drops I-color
    assert metrics.aggregate("span_f1_paper", list(zip(golds, preds))) == metrics.span_f1_conlleval(golds, preds)


def test_queryner_hooks_report_both_rules():
    import importlib.util

    spec = importlib.util.spec_from_file_location("qutils", REPO / "tasks" / "queryner" / "utils.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    doc = {"tokens": ["red", "running", "shoes"], "tags": ["B-color", "B-core_product_type", "I-core_product_type"]}
    out = mod.process_pairs_paper(doc, ["(red, B-color), (running shoes, B-core_product_type)"])
    assert out["span_f1_paper"] == [doc["tags"], ["O", "O", "O"]]     # the authors: length differs -> all O
    assert out["span_f1"][1] != ["O", "O", "O"]                        # the suite aligns words
    assert out["parse_fail"] == 0.0


def test_rouge_paper_is_rouge_score_unstemmed_first_reference():
    from rouge_score import rouge_scorer

    pred = "The shoes are running small and the colors fade quickly."
    refs = ["These shoes run small; colours faded.", "Great shoes, true to size."]
    ref_scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)
    want = ref_scorer.score(refs[0], pred)
    got = metrics.rouge_doc_paper(pred, refs)
    assert got == {f"{k}_paper": pytest.approx(want[k].fmeasure) for k in ("rouge1", "rouge2", "rougeL")}
    assert got["rouge1_paper"] < metrics.rouge_doc(pred, refs[:1])["rouge1"]   # stemming matches run/running
    with pytest.raises(ValueError):
        metrics.rouge_doc_paper(pred, [""])
