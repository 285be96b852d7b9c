"""Large models behind an OpenAI-compatible API (lm-eval local-chat-completions): the generation
variants of every task work there, against a fake server on loopback."""
import pytest

from ecomsuite.evaluate import evaluate
from ecomsuite.fake_openai import FakeOpenAI

GEN_TASKS = ["ecom_esci_gen", "ecom_queryner", "ecom_review_summ", "ecom_desc_gen", "ecom_attr_extract"]


def _answer(messages):
    text = messages[-1]["content"]
    if "Relevance:" in text:
        return "Exact."
    if "Entities:" in text:
        return "core_product_type: " + text.split("Query: ")[-1].split("\n")[0].split()[-1]
    if "JSON:" in text:
        return '{"Brand Name": "n/a"}'
    return "A short summary of the product."


def test_generation_variants_through_chat_api(tmp_path):
    with FakeOpenAI(_answer) as url:
        srv_args = f"model=fake-giant,base_url={url},num_concurrent=1,max_retries=1,tokenized_requests=False"
        res = evaluate(model="local-chat-completions", model_args=srv_args, tasks=GEN_TASKS, limit=3,
                       apply_chat_template=True, output_path=tmp_path)
    for t in GEN_TASKS:
        assert res["n-samples"][t]["effective"] == 3
    assert res["results"]["ecom_esci_gen"]["parse_fail,none"] == 0.0
    assert res["results"]["ecom_queryner"]["parse_fail,none"] == 0.0
    assert 0 < res["results"]["ecom_review_summ"]["rougeL,none"] < 1
    assert list(tmp_path.rglob("results_*.json"))


def test_loglikelihood_task_is_refused_over_chat_api(tmp_path):
    with FakeOpenAI(_answer) as url:
        with pytest.raises(Exception):
            evaluate(model="local-chat-completions", model_args=f"model=x,base_url={url},max_retries=1",
                     tasks=["ecom_esci"], limit=2, apply_chat_template=True, output_path=tmp_path)
