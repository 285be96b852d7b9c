"""The ecom tasks run end to end through lm-eval: tiny random model, oracle, garbage, validation,
registration, and the golden check that training prompts equal evaluation contexts."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ecomsuite.evaluate import evaluate
from ecomsuite.lmeval import task_manager

# every packaged task, read from the task folders (adding a task adds it here without an edit)
_TM = task_manager()
ALL_TASKS = [t for t in _TM.all_subtasks if _TM.task_index[t].yaml_path is not None]
EXPECTED_METRICS = {
    "ecom_esci": {"acc", "macro_f1", "f1_E", "f1_S", "f1_C", "f1_I", "support_E", "support_S", "support_C",
                  "support_I"},
    "ecom_esci_gen": {"acc", "macro_f1", "parse_fail"},
    "ecom_queryner": {"span_f1", "span_macro_f1", "parse_fail"},
    "ecom_queryner_pairs": {"span_f1", "span_macro_f1", "parse_fail"},
    "ecom_review_summ": {"rouge1", "rouge2", "rougeL", "rouge1_best", "rouge2_best", "rougeL_best", "bleu"},
    "ecom_desc_gen": {"rouge1", "rouge2", "rougeL", "bleu"},
    "ecom_attr_extract": {"attr_f1", "attr_precision", "attr_recall", "parse_fail"},
}
REPO = Path(__file__).resolve().parent.parent


def expected_metrics(task: str) -> set:
    """The metrics pinned above for the core tasks; for any other task (a variant added as a folder), its own
    metric_list."""
    if task in EXPECTED_METRICS:
        return EXPECTED_METRICS[task]
    from ecomsuite.lmeval import task_config

    return {m["metric"] for m in task_config(_TM, task)["metric_list"]}


def metrics_of(results, task):
    return {k.split(",")[0]: v for k, v in results["results"][task].items()
            if "," in k and not k.split(",")[0].endswith("_stderr")}


# ----------------------------------------------------------------------------- fake models
def _make_lm(answer_fn, tokenizer_dir=None):
    from lm_eval.api.model import LM

    class FakeLM(LM):
        def __init__(self):
            super().__init__()
            self.contexts = []
            self.tokenizer = None
            if tokenizer_dir:
                from transformers import AutoTokenizer
                self.tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)

        @property
        def tokenizer_name(self):
            return "fake"

        def apply_chat_template(self, chat_history, add_generation_prompt=True):
            from ecomsuite.prompts import chat_renderer
            return chat_renderer(self.tokenizer)(chat_history, add_generation_prompt)

        def loglikelihood(self, requests):
            out = []
            for r in requests:
                ctx, cont = r.args
                self.contexts.append(ctx)
                good = answer_fn(ctx, cont)
                out.append((0.0 if good else -5.0, bool(good)))
            return out

        def loglikelihood_rolling(self, requests):
            raise NotImplementedError

        def generate_until(self, requests):
            out = []
            for r in requests:
                ctx = r.args[0]
                self.contexts.append(ctx)
                out.append(answer_fn(ctx, None))
            return out

    return FakeLM()


def _gold_map(chat_tokenizer=None, data_dir=None):
    """context string -> completion, rendered by ecomsuite.prompts (the training path)."""
    from ecomsuite.prompts import chat_renderer, load_tasks, render_examples

    tasks = load_tasks(ALL_TASKS, metadata={"data_dir": data_dir} if data_dir else None)
    renderer = chat_renderer(chat_tokenizer) if chat_tokenizer is not None else None
    gold = {}
    for name, task in tasks.items():
        for ex in render_examples(task, split="test", chat_template=renderer):
            gold.setdefault(ex["prompt"], {})[name] = ex["completion"]
    return gold


def _oracle(gold):
    def answer(ctx, cont):
        completions = list(gold[ctx].values())  # KeyError here = training prompt != eval context
        if cont is None:
            return completions[0].lstrip(" ").lstrip("\n") if len(set(completions)) == 1 else completions[0].strip()
        return any(c == cont or c.strip() == cont.strip() for c in completions)
    return answer


def _run(lm, tmp_path, **kw):
    return evaluate(model=lm, tasks=ALL_TASKS, limit=kw.pop("limit", None), output_path=tmp_path, **kw)


def test_oracle_scores_one_on_every_task(tmp_path):
    gold = _gold_map()
    lm = _make_lm(_oracle(gold))
    res = _run(lm, tmp_path)
    for task in ALL_TASKS:
        m = metrics_of(res, task)
        assert set(m) >= expected_metrics(task), task
        for k, v in m.items():
            expected = 0.0 if k == "parse_fail" else (100.0 if k == "bleu" else 1.0)
            if k.startswith("support_"):
                continue  # a count
            if task.startswith("ecom_review_summ") and k in ("rouge1", "rouge2", "rougeL"):
                assert 0 < v < 1, (k, v)   # mean over the 3 references; the oracle writes summ1 only
                continue
            if k.startswith("f1_") and k[-1] in "ESCI" and v is None:
                assert m["support_" + k[-1]] == 0, (task, k)   # undefined: no gold, never predicted
                continue
            assert v == pytest.approx(expected), (task, k, v)
    # golden: every context lm-eval built is exactly a prompt rendered for training
    assert lm.contexts and all(c in gold for c in lm.contexts)


def test_oracle_with_chat_template_and_golden_chat_prompts(tmp_path, tiny_tokenizer_dir):
    from transformers import AutoTokenizer

    gold = _gold_map(AutoTokenizer.from_pretrained(tiny_tokenizer_dir))
    lm = _make_lm(_oracle(gold), tokenizer_dir=tiny_tokenizer_dir)
    res = _run(lm, tmp_path, apply_chat_template=True)
    assert all(c.startswith("<|im_start|>") for c in lm.contexts)
    for task in ("ecom_esci", "ecom_esci_gen", "ecom_queryner", "ecom_attr_extract"):
        m = metrics_of(res, task)
        assert m.get("acc", m.get("span_f1", m.get("attr_f1"))) == pytest.approx(1.0), task


def test_garbage_output_is_parse_fail_not_a_crash(tmp_path):
    lm = _make_lm(lambda ctx, cont: False if cont is not None else "\u2603 <<< ??? >>> \x00")
    res = _run(lm, tmp_path, tasks=None) if False else _run(lm, tmp_path)
    for task in ("ecom_esci_gen", "ecom_queryner", "ecom_queryner_pairs", "ecom_attr_extract"):
        m = metrics_of(res, task)
        assert m["parse_fail"] == 1.0, task
        assert m.get("macro_f1", m.get("span_f1", m.get("attr_f1"))) == 0.0, task


def test_tiny_random_model_end_to_end_writes_every_metric(tmp_path, tiny_llama):
    res = evaluate(model_args=f"pretrained={tiny_llama}", tasks=ALL_TASKS, limit=2, output_path=tmp_path,
                   device="cpu", batch_size=4)
    files = list(Path(tmp_path).rglob("results_*.json"))
    assert len(files) == 1
    saved = json.loads(files[0].read_text())
    for task in ALL_TASKS:
        assert set(metrics_of(saved, task)) >= expected_metrics(task), task
        meta = saved["configs"][task]["metadata"]
        assert meta["data_is_sample"] is True and meta["data_source"] == "sample"
        assert meta["data_docs"] and meta["data_fingerprint"]
        assert saved["n-samples"][task]["effective"] == 2
        assert list(Path(tmp_path).rglob(f"samples_{task}_*.jsonl")), task
    assert res["config"]["limit"] == 2


def test_few_shot_uses_train_docs_not_the_evaluated_doc(tmp_path):
    gold = _gold_map()
    seen = []

    def answer(ctx, cont):
        seen.append(ctx)
        return False if cont is not None else "none"

    evaluate(model=_make_lm(answer), tasks=["ecom_queryner"], limit=3, num_fewshot=2, output_path=tmp_path)
    from ecomsuite.data import load_family
    test_queries = {d["query"] for d in load_family("queryner").splits["test"]}
    train_queries = {d["query"] for d in load_family("queryner").splits["train"]}
    for ctx in set(seen):
        shots = [line[len("Query: "):] for line in ctx.splitlines() if line.startswith("Query: ")]
        assert len(shots) == 3 and set(shots[:2]) <= train_queries and shots[2] in test_queries
        assert shots[2] not in shots[:2]
    assert gold  # rendered without error


def test_data_dir_metadata_is_recorded(tmp_path, real_data):
    lm = _make_lm(lambda ctx, cont: False if cont is not None else "exact")
    res = evaluate(model=lm, tasks=["ecom_esci_gen"], limit=3, data_dir=str(real_data), output_path=tmp_path)
    meta = res["configs"]["ecom_esci_gen"]["metadata"]
    assert meta["data_source"] == str(Path(real_data).resolve()) and meta["data_docs"]["test"] == 632


# ----------------------------------------------------------------------- validate / register
def test_lm_eval_validate_all_tasks():
    tasks = ",".join(ALL_TASKS + ["ecom"])
    r = subprocess.run([sys.executable, "-m", "lm_eval", "validate", "--tasks", tasks, "--include_path",
                        str(REPO / "tasks")], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]


def test_every_task_yaml_parses_and_is_indexed():
    """lm-eval skips a YAML that fails to parse silently: make sure every file is indexed."""
    from ecomsuite.lmeval import task_manager, task_yamls

    tm = task_manager()
    indexed = {Path(e.yaml_path).name for e in tm._index.values() if getattr(e, "yaml_path", None)} \
        if hasattr(tm, "_index") else None
    names = set(tm.all_tasks)
    assert set(ALL_TASKS) | {"ecom"} <= names
    if indexed is not None:
        assert {p.name for p in task_yamls()} <= indexed


def test_install_and_uninstall_stubs(tmp_path):
    from lm_eval.tasks import TaskManager

    from ecomsuite.lmeval import MANIFEST, install_tasks, uninstall_tasks

    written = install_tasks(target=tmp_path)
    assert {p.name for p in written} >= {"ecom_esci.yaml", "_ecom.yaml"}
    tm = TaskManager(include_path=str(tmp_path / "ecomsuite"), include_defaults=False)
    assert set(ALL_TASKS) <= set(tm.all_tasks)
    (tmp_path / "ecomsuite" / "mine.txt").write_text("user file")
    assert uninstall_tasks(target=tmp_path) == len(written)
    assert not (tmp_path / "ecomsuite" / MANIFEST).exists()
    assert (tmp_path / "ecomsuite" / "mine.txt").exists()  # never delete what we did not write


@pytest.mark.slow
def test_plain_lm_eval_cli_without_include_path(tmp_path, tiny_llama):
    from ecomsuite.lmeval import install_tasks

    install_tasks()  # the README's set-up step (idempotent)
    r = subprocess.run([sys.executable, "-m", "lm_eval", "run", "--model", "hf", "--model_args",
                        f"pretrained={tiny_llama}", "--tasks", "ecom_esci,ecom_queryner", "--limit", "2",
                        "--device", "cpu", "--output_path", str(tmp_path)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert list(tmp_path.rglob("results_*.json"))
