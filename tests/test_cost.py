"""Cost recording (ecomsuite.cost): an eval run writes cost_<date_id>.ecomsuite.json beside lm-eval's files with
token counts equal to a direct tokenizer count of the logged samples; each task's requests are timed on their own;
API usage replaces the count when reported; prices give USD per 1,000 documents; training records its cost."""
import json

import pytest

from ecomsuite import EcomError, cost


def _direct_counts(samples_file, tok):
    """Prompt / generated tokens of a samples file, counted here without ecomsuite.cost."""
    prompt = generated = 0
    docs = set()
    for line in samples_file.read_text(encoding="utf-8").splitlines():
        s = json.loads(line)
        if s["doc_id"] in docs:
            continue
        docs.add(s["doc_id"])
        for i in range(len(s["arguments"])):
            req = s["arguments"][f"gen_args_{i}"]
            ctx = req["arg_0"]     # a chat API request is logged as [json messages]
            texts = [m["content"] for m in json.loads(ctx[0])] if isinstance(ctx, list) else [ctx]
            prompt += sum(len(tok.encode(t, add_special_tokens=False)) for t in texts)
            if isinstance(req["arg_1"], str):
                prompt += len(tok.encode(req["arg_1"], add_special_tokens=False))
            else:
                generated += sum(len(tok.encode(t, add_special_tokens=False)) for t in s["resps"][i])
    return len(docs), prompt, generated


def test_eval_writes_the_cost_record_beside_lm_evals_files(tiny_llama, tmp_path):
    from ecomsuite.leaderboard.collect import collect
    from transformers import AutoTokenizer

    from ecomsuite.evaluate import evaluate

    res = evaluate(model="hf", model_args=f"pretrained={tiny_llama}", tasks=["ecom_esci", "ecom_queryner"],
                   limit=3, output_path=tmp_path, batch_size=2, device="cpu", gen_kwargs="max_gen_toks=6",
                   price_per_mtok={"in": 1.0, "out": 4.0})
    results = next(tmp_path.rglob("results_*.json"))
    path = cost.cost_path(results)
    assert path.is_file() and path.parent == results.parent and res["ecomsuite_cost_file"] == str(path)
    assert path.name == "cost_" + results.name[len("results_"):-len(".json")] + ".ecomsuite.json"
    rec, problem = cost.read(results)
    assert problem is None and rec["results_file"] == results.name
    assert rec["device"] == "cpu" and rec["dtype"] == "torch.float32" and rec["batch_size"] == 2
    assert rec["timing"] == "per task" and rec["model"] == "hf"
    tok = AutoTokenizer.from_pretrained(tiny_llama)
    for task in ("ecom_esci", "ecom_queryner"):
        c = rec["tasks"][task]
        docs, prompt, generated = _direct_counts(next(results.parent.glob(f"samples_{task}_*.jsonl")), tok)
        assert (c["documents"], c["prompt_tokens"], c["generated_tokens"]) == (docs, prompt, generated), task
        assert docs == 3 and c["tokens_source"] == "tokenizer"
        assert c["model_seconds"] > 0 and c["seconds_per_document"] == pytest.approx(c["model_seconds"] / 3, rel=1e-3)
        k = c["per_1k_documents"]
        assert k["prompt_tokens"] == pytest.approx(prompt * 1000 / 3, abs=1e-3)
        assert k["usd"] == pytest.approx((prompt * 1.0 + generated * 4.0) / 1e6 * 1000 / 3, rel=1e-4)
    assert rec["tasks"]["ecom_esci"]["generated_tokens"] == 0          # loglikelihood: reads choices, generates none
    assert rec["tasks"]["ecom_esci"]["requests"] == 12                 # 4 choices x 3 documents
    assert rec["tasks"]["ecom_queryner"]["generated_tokens"] > 0
    col = collect([tmp_path])                                          # the leaderboard's reader: not a results file
    assert len(col.runs) == 1 and not [p for p in col.problems if p.severity == "error"]


def test_cost_file_name_is_never_taken_for_an_lm_eval_results_file():
    from ecomsuite.leaderboard.collect import RESULTS_RE

    p = cost.cost_path("/x/model/results_2026-01-01T00-00-00.123456.json")
    assert p.name == "cost_2026-01-01T00-00-00.123456.ecomsuite.json" and not RESULTS_RE.match(p.name)
    assert cost.cost_path("/x/model/out_2026-01-01T00-00-00.json").name == "cost_2026-01-01T00-00-00.ecomsuite.json"
    assert cost.cost_path("/x/results.json") is None


def test_read_names_a_broken_cost_file(tmp_path):
    res = tmp_path / "results_2026-01-01T00-00-00.json"
    assert cost.read(res) == (None, None)
    cost.cost_path(res).write_text("{trunc")
    rec, problem = cost.read(res)
    assert rec is None and "unreadable cost record" in problem and cost.cost_path(res).name in problem
    cost.cost_path(res).write_text("[]")
    assert "not an ecomsuite cost record" in cost.read(res)[1]


def test_sample_tokens_on_hand_made_samples():
    words = lambda t: len(t.split())  # a whitespace "tokenizer"
    mc = {"arguments": {"gen_args_0": {"arg_0": "a b c", "arg_1": " x"}, "gen_args_1": {"arg_0": "a b c", "arg_1": " y z"}},
          "resps": [[[-1.0, False]], [[-2.0, False]]]}
    gen = {"arguments": {"gen_args_0": {"arg_0": "p q", "arg_1": {"until": ["\n"]}}}, "resps": [["one two three"]]}
    assert cost.sample_tokens(mc, words) == (3 + 1 + 3 + 2, 0)
    assert cost.sample_tokens(gen, words) == (2, 3)
    chat = {"arguments": {"gen_args_0": {"arg_0": [json.dumps([{"role": "system", "content": "be brief"},
                                                               {"role": "user", "content": "a b c"}])],
                                         "arg_1": {"until": []}}}, "resps": [["x y"]]}
    assert cost.sample_tokens(chat, words) == (2 + 3, 2)
    # a document logged once per filter counts once
    two_filters = [dict(gen, doc_id=0, filter="a"), dict(gen, doc_id=0, filter="b"), dict(mc, doc_id=1)]
    assert cost.task_tokens(two_filters, words) == {"documents": 2, "requests": 3, "prompt_tokens": 11,
                                                    "generated_tokens": 3}


def test_per_1k_and_price():
    rec = {"documents": 4, "prompt_tokens": 400, "generated_tokens": 40, "model_seconds": 2.0}
    assert cost.per_1k(rec, None) == {"prompt_tokens": 100000.0, "generated_tokens": 10000.0, "seconds": 500.0,
                                      "usd": None}
    assert cost.per_1k(rec, {"in": 2.0, "out": 10.0})["usd"] == pytest.approx(0.2 + 0.1)
    assert cost.check_price({"in": 1, "out": 2}) == {"in": 1.0, "out": 2.0}
    for bad in ({"in": 1}, {"in": -1, "out": 2}, {"in": "1", "out": 2}, [1, 2], {"in": 1, "out": float("nan")}):
        with pytest.raises(EcomError, match="price_per_mtok"):
            cost.check_price(bad)


class _Req:
    def __init__(self, task, x):
        self.task_name, self.x = task, x


class _FakeLM:
    world_size = 1

    def __init__(self):
        self.calls = []

    def generate_until(self, reqs):
        self.calls.append([r.task_name for r in reqs])
        self.parse_generations({"usage": {"prompt_tokens": 10 * len(reqs), "completion_tokens": len(reqs)}})
        return [r.x * 2 for r in reqs]

    @staticmethod
    def parse_generations(outputs, **kw):
        return []


def test_request_timer_runs_each_tasks_requests_as_one_call_and_keeps_order():
    lm, timer = _FakeLM(), cost.RequestTimer()
    timer.install(lm)
    reqs = [_Req("a", 1), _Req("b", 2), _Req("a", 3), _Req("b", 4), _Req("b", 5)]
    assert lm.generate_until(reqs) == [2, 4, 6, 8, 10]
    assert lm.calls == [["a", "a"], ["b", "b", "b"]]
    assert set(timer.seconds) == {"a", "b"} and timer.split
    assert timer.usage["b"] == {"prompt_tokens": 30, "completion_tokens": 3, "calls": 1}


def test_api_usage_replaces_the_tokenizer_count_and_zero_usage_does_not():
    timer = cost.RequestTimer()
    timer.lm, timer.seconds = None, {"t": 1.0, "u": 1.0}
    timer.usage = {"t": {"prompt_tokens": 50, "completion_tokens": 7, "calls": 2},
                   "u": {"prompt_tokens": 0, "completion_tokens": 0, "calls": 2}}
    s = {"doc_id": 0, "arguments": {"gen_args_0": {"arg_0": "p q", "arg_1": {}}}, "resps": [["a"]]}
    rec = cost.eval_record({"config": {"model": "local-chat-completions"}}, {"t": [s], "u": [s]}, timer, ["t", "u"])
    t, u = rec["tasks"]["t"], rec["tasks"]["u"]
    assert (t["prompt_tokens"], t["generated_tokens"], t["tokens_source"]) == (50, 7, "api usage")
    assert u["tokens_source"] is None and u["prompt_tokens"] is None     # no tokenizer, no usage: not counted
    assert rec["tokenizer"] is None


def test_several_processes_are_timed_as_one_shared_call():
    lm, timer = _FakeLM(), cost.RequestTimer()
    lm.world_size = 2
    timer.install(lm)
    assert lm.generate_until([_Req("a", 1), _Req("b", 2)]) == [2, 4]
    assert lm.calls == [["a", "b"]] and timer.seconds == {} and timer.shared_seconds > 0


def test_peak_memory_on_cpu_is_the_process_rss():
    m = cost.peak_memory()
    assert m["peak_memory_bytes"] > 10 * 2**20 and m["peak_memory_source"].startswith(("ru_maxrss", "torch.cuda"))


def test_training_records_its_cost_in_lineage(tiny_llama, tmp_path):
    from ecomsuite.trainers import sft
    from test_sft import cfg_for

    from ecomsuite import lineage

    out = tmp_path / "lora"
    sft.run(cfg_for(tiny_llama, out, tasks=["ecom_esci"], train_size=8, max_steps=2), argv=["--out", str(out)])
    lin = lineage.read(out)
    c = lin["train_cost"]
    assert c["device"] == "cpu" and c["world_size"] == 1
    assert c["peak_memory_source"].startswith("ru_maxrss") and c["peak_memory_bytes"] > 0
    assert c["trained_tokens"] == lin["trained_tokens"] > 0 and c["train_time_s"] == lin["train_time_s"] > 0
    assert lin["train_tokens"] > 0 and lin["train_docs"] == {"ecom_esci": 8}


def test_a_study_may_price_base_and_api_models_and_a_bad_price_is_one_line():
    from ecomsuite.reproduce import load_study, study_problems

    study = load_study(__import__("ecomsuite.reproduce", fromlist=["find_study"]).find_study("smoke"))
    ok = {**study, "base_models": [{**study["base_models"][0], "price_per_mtok": {"in": 0.1, "out": 0.2}}],
          "api_models": [{"name": "big", "model_args": "model=big", "price_per_mtok": {"in": 2, "out": 6}}]}
    assert not [p for p in study_problems(ok) if "price" in p]
    bad = {**ok, "api_models": [{"name": "big", "model_args": "model=big", "price_per_mtok": {"in": 2}}]}
    assert [p for p in study_problems(bad) if p.startswith("api_models[0].price_per_mtok: expected {in:")]


def test_api_model_records_the_servers_usage_else_its_tokenizer_estimate(tiny_llama, tmp_path, monkeypatch):
    import types

    from transformers import AutoTokenizer

    from ecomsuite import fake_openai
    from ecomsuite.evaluate import evaluate

    sent = []

    def dumps(payload, *a, **kw):   # the fake server reports usage: words in, words out
        if isinstance(payload, dict) and "usage" in payload and sent:
            words_in = sum(len(m["content"].split()) for m in sent[-1])
            words_out = len(payload["choices"][0]["message"]["content"].split())
            payload = {**payload, "usage": {"prompt_tokens": words_in, "completion_tokens": words_out}}
        return json.dumps(payload, *a, **kw)

    def answer(messages):
        sent.append(messages)
        return "core_product_type: lid"

    args = "model=fake,base_url={},num_concurrent=1,max_retries=1,tokenized_requests=False"
    monkeypatch.setattr(fake_openai, "json", types.SimpleNamespace(dumps=dumps, loads=json.loads))
    with fake_openai.FakeOpenAI(answer) as url:
        res = evaluate(model="local-chat-completions", model_args=args.format(url), tasks=["ecom_queryner"],
                       limit=3, apply_chat_template=True, output_path=tmp_path / "usage")
    c = res["ecomsuite_cost"]["tasks"]["ecom_queryner"]
    assert c["tokens_source"] == "api usage" and len(sent) == 3
    assert c["prompt_tokens"] == sum(len(m["content"].split()) for msgs in sent for m in msgs)
    assert c["generated_tokens"] == 3 * 2
    monkeypatch.undo()
    with fake_openai.FakeOpenAI(answer) as url:     # usage all zeros: the model's tokenizer counts instead
        res = evaluate(model="local-chat-completions", tasks=["ecom_queryner"], limit=3, apply_chat_template=True,
                       model_args=args.format(url) + f",tokenizer_backend=huggingface,tokenizer={tiny_llama}",
                       output_path=tmp_path / "tok")
    c = res["ecomsuite_cost"]["tasks"]["ecom_queryner"]
    tok = AutoTokenizer.from_pretrained(tiny_llama)
    samples = next((tmp_path / "tok").rglob("samples_ecom_queryner_*.jsonl"))
    assert c["tokens_source"] == "tokenizer" and res["ecomsuite_cost"]["tokenizer"] == tiny_llama.name
    assert (c["documents"], c["prompt_tokens"], c["generated_tokens"]) == _direct_counts(samples, tok)


def test_a_hostile_cost_file_is_reported_not_read(tmp_path):
    """A FIFO or an oversized file named like a cost record is named as a problem; nothing hangs or loads."""
    import os

    from ecomsuite import cost

    results = tmp_path / "results_2026-01-01T00-00-00.000001.json"
    results.write_text("{}")
    path = cost.cost_path(results)
    os.mkfifo(path)
    rec, problem = cost.read(results)
    assert rec is None and "not a regular file" in problem
    path.unlink()
    path.write_bytes(b" " * (cost.MAX_BYTES + 1))
    rec, problem = cost.read(results)
    assert rec is None and "too large" in problem
    path.write_text('{"tasks": ' * 40000 + "1" + "}" * 40000)  # deep, under the size cap
    rec, problem = cost.read(results)
    assert rec is None and "nested too deeply" in problem
