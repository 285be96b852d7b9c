"""Issue 11 §1: the *definitions* of the ecom metrics, each pinned on hand-made cases with known
answers and against the reference library (sklearn, seqeval, rouge-score, sacrebleu)."""
import json
import math
import random
from pathlib import Path

import pytest

from ecomsuite import metrics as M
from ecomsuite.data import QUERYNER_TYPES
from ecomsuite.parsing import _lines_from_paper, format_ner_compact, format_ner_pairs, parse_esci, parse_ner

REPO = Path(__file__).resolve().parent.parent
LABELS = ["E", "S", "C", "I"]


# ------------------------------------------------------------------ 1. QueryNER: line order free
NER_CASES = [  # (tokens, tags): hand-made queries, some with a repeated word
    (["red", "running", "shoes"], ["B-color", "B-core_product_type", "I-core_product_type"]),
    (["travel", "backpack", "for", "women", "international", "travel"],
     ["B-occasion", "B-core_product_type", "B-modifier", "B-department", "B-modifier", "I-modifier"]),
    (["teeth", "whitening", "sensitive", "teeth"],
     ["B-core_product_type", "I-core_product_type", "B-modifier", "I-modifier"]),
    (["nike", "air", "max", "90", "white"], ["B-creator", "B-product_name", "I-product_name", "I-product_name", "B-color"]),
]


def test_running_shoes_then_red_scores_one():
    tokens, tags = NER_CASES[0]
    out = "core_product_type: running shoes\ncolor: red"
    got, ok = parse_ner(out, tokens, QUERYNER_TYPES)
    assert ok and got == tags
    assert M.span_f1([tags], [got]) == 1.0


@pytest.mark.parametrize("order", ["reversed", "sorted", "shuffled"])
def test_compact_oracle_lines_in_any_order_score_one(order):
    rnd = random.Random(0)
    gold, pred = [], []
    for tokens, tags in NER_CASES:
        lines = format_ner_compact(tokens, tags).split("\n")
        lines = {"reversed": lines[::-1], "sorted": sorted(lines)}.get(order) or rnd.sample(lines, len(lines))
        got, ok = parse_ner("\n".join(lines), tokens, QUERYNER_TYPES)
        assert ok and got == tags, (order, tokens, lines, got)
        gold.append(tags)
        pred.append(got)
    assert M.span_f1(gold, pred) == 1.0


def test_pairs_form_entities_in_any_order_score_one():
    for tokens, tags in NER_CASES:
        # entities (and O pairs) in reverse order, each entity's own pairs in order
        lines = _lines_from_paper(format_ner_pairs(tokens, tags), set(QUERYNER_TYPES))[::-1]
        out = ", ".join(f"({t}, {g})" for line in lines for t, g in line)
        got, ok = parse_ner(out, tokens, QUERYNER_TYPES, form="pairs")
        assert ok and got == tags, (out, got)


def test_a_repeated_word_is_placed_by_the_order_of_the_lines_when_nothing_else_decides():
    tokens, tags = ["red", "shoe", "red"], ["O", "B-core_product_type", "B-color"]
    # in query order the second "red" follows "shoe": unambiguous, as with the 1.0 parser
    assert parse_ner("core_product_type: shoe\ncolor: red", tokens, QUERYNER_TYPES)[0] == tags
    # out of order the output itself does not say which "red": the left-most unclaimed one
    assert parse_ner("color: red\ncore_product_type: shoe", tokens, QUERYNER_TYPES)[0] == \
        ["B-color", "B-core_product_type", "O"]


def test_order_within_a_line_still_matters():
    tokens, tags = NER_CASES[0]
    got, _ = parse_ner("color: red\ncore_product_type: shoes running", tokens, QUERYNER_TYPES)
    assert M.span_f1([tags], [got]) < 1.0


@pytest.mark.slow
def test_shuffled_oracle_scores_one_on_the_real_queryner_test_set(real_data):
    from ecomsuite.data import load_family

    docs = load_family("queryner", real_data).splits["test"]
    rnd = random.Random(0)
    gold, pred = [], []
    for d in docs:
        lines = format_ner_compact(d["tokens"], d["tags"]).split("\n")
        rnd.shuffle(lines)
        gold.append(d["tags"])
        pred.append(parse_ner("\n".join(lines), d["tokens"], QUERYNER_TYPES)[0])
    assert M.span_f1(gold, pred) == 1.0


# ------------------------------------------------------------- 2. macro-F1: undefined classes out
def test_perfect_classifier_on_a_subset_without_c_scores_one():
    golds = ["E"] * 15 + ["S"] * 5 + ["I"] * 4      # 24 documents, no complement
    items = [[g, g] for g in golds]
    assert M.aggregate("macro_f1", items) == 1.0     # was 0.75: C counted as F1 0
    assert M.agg_f1_C(items) is None                  # lm-eval hook: JSON null
    assert math.isnan(M.aggregate("f1_C", items))     # numeric entry point: nan
    assert json.dumps({"f1_C": M.agg_f1_C(items)}, allow_nan=False) == '{"f1_C": null}'
    assert M.aggregate("support_C", [float(g == "C") for g in golds]) == 0
    assert M.aggregate("support_E", [float(g == "E") for g in golds]) == 15


def test_every_bootstrap_resample_leaves_undefined_classes_out():
    """The leaderboard calls aggregate(name, items) per resample: each resample gets the rule."""
    rnd = random.Random(1)
    golds = ["E"] * 140 + ["S"] * 40 + ["I"] * 18 + ["C"] * 2
    items = [[g, g] for g in golds]
    n_without_c = 0
    for _ in range(200):
        sample = [items[rnd.randrange(len(items))] for _ in items]
        n_without_c += not any(g == "C" for g, _ in sample)
        assert M.aggregate("macro_f1", sample) == 1.0
    assert n_without_c > 0   # the case really happens at this size


@pytest.mark.parametrize("seed", range(5))
def test_macro_f1_equals_sklearn_over_present_labels(seed):
    from sklearn.metrics import f1_score

    rnd = random.Random(seed)
    golds = [rnd.choice("ESI") for _ in range(30)]            # no C in gold
    preds = [rnd.choice(["E", "S", "I", M.INVALID]) for _ in range(30)]
    if seed % 2:
        preds[0] = "C"                                        # predicted but never gold: F1 0, counted
    present = [lab for lab in LABELS if lab in golds or lab in preds]
    assert M.macro_f1(golds, preds) == pytest.approx(f1_score(golds, preds, labels=present, average="macro",
                                                              zero_division=0))
    assert ("C" in present) == bool(seed % 2)


def test_esci_task_reports_support_beside_per_class_f1():
    import importlib.util

    spec = importlib.util.spec_from_file_location("esci_utils", REPO / "tasks" / "esci" / "utils.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = mod.process_choice({"label": "S"}, [(-3.0, False), (-1.0, True), (-4.0, False), (-5.0, False)])
    assert out["acc"] == 1.0 and out["f1_S"] == ["S", "S"]
    assert {k: out[k] for k in out if k.startswith("support_")} == {
        "support_E": 0.0, "support_S": 1.0, "support_C": 0.0, "support_I": 0.0}


# --------------------------------------------------------------- 3. ROUGE: mean over references
def test_rouge_headline_is_the_mean_over_references_fewsum_convention():
    from rouge_score import rouge_scorer

    sc = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    pred = "The straps break quickly but the bag looks pretty."
    refs = ["The bag is pretty but its straps break quickly.", "Nice colour, cheap zipper.",
            "Reviewers like the look; several say the straps broke."]
    got = M.rouge_doc(pred, refs)
    for k in ("rouge1", "rouge2", "rougeL"):
        per = [sc.score(r, pred)[k].fmeasure for r in refs]
        assert got[k] == pytest.approx(sum(per) / 3)
        assert got[k + "_best"] == pytest.approx(max(per)) == pytest.approx(sc.score_multi(refs, pred)[k].fmeasure)
    # hand-checked ROUGE-1: identical to ref 0 up to order/stemming -> 1.0; 0 overlap with ref 1
    assert sc.score(refs[1], pred)["rouge1"].fmeasure == 0.0
    assert got["rouge1_best"] == pytest.approx(sc.score(refs[0], pred)["rouge1"].fmeasure)


def test_description_generation_one_reference_emits_only_the_headline_keys():
    import importlib.util

    spec = importlib.util.spec_from_file_location("desc_utils", REPO / "tasks" / "desc_gen" / "utils.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    doc = {"description": "Soft cotton socks for running, six pairs."}
    out = mod.process_results(doc, [" Six pairs of soft running socks."])
    assert set(out) == {"rouge1", "rouge2", "rougeL", "bleu"}
    full = M.rouge_doc("Six pairs of soft running socks.", [doc["description"]])
    assert all(out[k] == full[k] == full[k + "_best"] for k in ("rouge1", "rouge2", "rougeL"))


# -------------------------------------------------------------------- 4. ESCI generation parser
@pytest.mark.parametrize("text,label", [
    # bare letters only as the whole answer
    (" E", "E"), ("E.", "E"), ("(E)", "E"), ("I", "I"), (" S:", "S"),
    (" E-commerce listing", None), ("E commerce", None),
    # inflected label words
    (" Complementary", "C"), (" Substitutes", "S"), (" Exactly", "E"), (" substitution", "S"),
    (" Irrelevance", "I"), (" exact", "E"), ("It is a COMPLEMENT", "C"),
    # hedges and negations are parse failures
    (" I'm not sure", None), (" I cannot tell", None), (" not exact", None), (" maybe substitute", None),
    (" isn't exact", None), (" probably irrelevant", None),
    # two different labels: no commitment
    (" exact or substitute", None),
    ("", None), ("maybe", None),
])
def test_parse_esci_issue_strings(text, label):
    assert parse_esci(text) == label


# ------------------------------------------------------------------- 5. chat mode: ESCI choices
def _requests(task, doc, chat):
    ctx = task.fewshot_context(doc, 0, apply_chat_template=chat is not None, chat_template=chat,
                               gen_prefix=task.doc_to_prefix(doc))
    reqs = task.construct_requests(doc, ctx, apply_chat_template=chat is not None,
                                   metadata=("ecom_esci", 0, 1))
    return [r.args for r in reqs]


def _cont_ids(tok, ctx, cont):
    """lm-eval HFLM's split: tokens of context+continuation after the context's tokens."""
    whole = tok(ctx + cont, add_special_tokens=False).input_ids
    return whole[len(tok(ctx, add_special_tokens=False).input_ids):]


def test_chat_template_keeps_esci_choices_single_word_with_their_delimiter(tiny_tokenizer_dir):
    from transformers import AutoTokenizer

    from ecomsuite.prompts import chat_renderer, load_tasks

    tok = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    task = load_tasks(["ecom_esci"])["ecom_esci"]
    doc = task.dataset[task.config.test_split][0]
    plain = _requests(task, doc, None)
    chat = _requests(task, doc, chat_renderer(tok))
    words = [" exact", " substitute", " complement", " irrelevant"]
    assert [c for _, c in plain] == words
    assert [c for _, c in chat] == words        # the delimiter survives the chat template
    assert plain[0][0].endswith("\nRelevance:")
    assert chat[0][0].endswith("<|im_start|>assistant\nRelevance:")
    for (pctx, pc), (cctx, cc) in zip(plain, chat):
        assert _cont_ids(tok, pctx, pc) == _cont_ids(tok, cctx, cc) == tok(pc, add_special_tokens=False).input_ids
    # what 1.0 did in chat mode: no delimiter, the bare word after the generation prompt
    assert any(_cont_ids(tok, "<|im_start|>assistant\n", w.strip()) != tok(w, add_special_tokens=False).input_ids
               for w in words)


# ---------------------------------------------------------------- 6. ROUGE/BLEU beyond ASCII
def test_identical_japanese_and_spanish_strings_score_one():
    ja = "赤いランニングシューズ、軽量で通気性が良い。"
    es = "Zapatillas de running rojas, ligeras y transpirables para niños."
    for s in (ja, es):
        assert M.rouge_doc(s, [s]) == {k: 1.0 for k in M.rouge_doc(s, [s])}
        assert M.bleu([s], [[s]]) == pytest.approx(100.0)
    # rouge-score's own default tokenizer drops every Japanese character
    from rouge_score import rouge_scorer
    assert rouge_scorer.RougeScorer(["rouge1"], use_stemmer=True).score(ja, ja)["rouge1"].fmeasure == 0.0
    # partial overlap is partial, not all-or-nothing
    assert 0 < M.rouge_doc("赤いシューズ", ["青いシューズ"])["rouge1"] < 1
    assert 0 < M.bleu(["赤いランニングシューズです"], [["青いランニングシューズです"]]) < 100


ENGLISH = [
    "The bag’s straps break quickly — but it’s pretty™ & cheap!",
    "Great sound, weak battery; 2-pack (USB-C) “fast” charging… 10% off",
    "running shoes for men's trail_running, size 10.5 US",
    "Soft cotton socks for running, six pairs.",
]


def test_english_rouge_is_bit_identical_to_rouge_score_default():
    from rouge_score import rouge_scorer, tokenizers

    default = tokenizers.DefaultTokenizer(use_stemmer=True)
    for s in ENGLISH:
        assert M.unicode_rouge_tokenize(s) == default.tokenize(s), s
    sc = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    for p in ENGLISH:
        for r in ENGLISH:
            got = M.rouge_doc(p, [r])
            assert all(got[k] == sc.score(r, p)[k].fmeasure for k in ("rouge1", "rouge2", "rougeL"))


def test_english_bleu_is_bit_identical_to_sacrebleu_13a():
    import sacrebleu

    preds, refs = ENGLISH[:2], [[ENGLISH[2], ENGLISH[0]], [ENGLISH[1], ENGLISH[3]]]
    ref = sacrebleu.corpus_bleu(preds, [[r[0] for r in refs], [r[1] for r in refs]]).score
    assert M.bleu(preds, refs) == ref


# ---------------------------------------------------- 7. deviations from the reference scorers
def test_seqeval_strict_iob2_not_the_default_conlleval_mode():
    from seqeval.metrics import f1_score

    gold = [["B-color", "I-color", "O"]]
    pred = [["O", "I-color", "O"]]           # an orphan I-: conlleval (default mode) makes it an entity
    assert f1_score(gold, pred) == 0.0        # default mode: wrong span, but an entity
    gold2, pred2 = [["O", "B-color"]], [["O", "I-color"]]
    assert f1_score(gold2, pred2) == 1.0      # default mode: orphan I-color == B-color
    assert M.span_f1(gold2, pred2) == 0.0     # strict IOB2: an orphan I- is no entity


def test_span_macro_f1_averages_over_gold_types_only():
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    gold = [["B-color", "B-core_product_type"]]
    pred = [["B-color", "B-time"]]            # 'time' never in gold
    rep = classification_report(gold, pred, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    assert rep["macro avg"]["f1-score"] == pytest.approx(1 / 3)   # seqeval: color 1, core 0, time 0
    assert M.span_f1(gold, pred, average="macro") == pytest.approx(1 / 2)   # ours: color 1, core 0


def test_attribute_f1_rules_versus_extractgpt():
    # same as ExtractGPT: a wrong value for an attribute with a real value is FP and FN (their "VW")
    assert M.attr_counts({"Color": ["Red"]}, {"Color": "Blue"}) == (0, 1, 1)
    # same: predicted a value where gold is n/a -> FP ("NV"); n/a where gold has a value -> FN ("VN")
    assert M.attr_counts({"Color": ["n/a"]}, {"Color": "Blue"}) == (0, 1, 0)
    assert M.attr_counts({"Color": ["Red"]}, {"Color": "n/a"}) == (0, 0, 1)
    # deviation: values match case- and space-insensitively (ExtractGPT: exact string after strip)
    assert M.attr_counts({"Color": ["Red"]}, {"Color": " red "}) == (1, 0, 0)
    # deviation: n/a anywhere in the accepted list is accepted (ExtractGPT looks at the first value)
    assert M.attr_counts({"Size": ["XL", "n/a"]}, {"Size": "n/a"}) == (0, 0, 0)
    assert M.attr_counts({"Size": ["n/a", "XL"]}, {"Size": "XL"}) == (1, 0, 0)
    # deviation: attributes that were not asked for are FP (ExtractGPT ignores them)
    assert M.attr_counts({"Color": ["Red"]}, {"Color": "Red", "Brand": "ACME"}) == (1, 1, 0)


# ---------------------------------------------------------------------- 8./9. task metadata
def _configs():
    from ecomsuite.prompts import load_tasks

    names = ["ecom_esci", "ecom_esci_gen", "ecom_queryner", "ecom_queryner_pairs", "ecom_review_summ",
             "ecom_desc_gen", "ecom_attr_extract"]
    return {n: t.config for n, t in load_tasks(names).items()}


def test_every_task_is_version_2_with_a_changelog_line():
    for name, cfg in _configs().items():
        assert float(cfg.metadata["version"]) >= 2.0, name
    for readme in (REPO / "tasks").glob("*/README.md"):
        assert "2.0:" in readme.read_text(), readme
    import yaml
    assert float(yaml.safe_load((REPO / "tasks" / "_ecom.yaml").read_text())["metadata"]["version"]) == 2.0


def test_esci_tasks_declare_their_bootstrap_cluster():
    cfgs = _configs()
    for name in ("ecom_esci", "ecom_esci_gen"):
        key = cfgs[name].metadata["bootstrap_cluster"]
        assert key == "query_id"
    from ecomsuite.data import load_family
    assert all("query_id" in d for d in load_family("esci").splits["test"])
