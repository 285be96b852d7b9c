"""ecomsuite merge on tiny random Llama adapters: exactness of the exact methods, --full, every method,
the up-front errors, lineage, and loading the merge through lm-eval's ``peft=``."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

torch = pytest.importorskip("torch")
peft = pytest.importorskip("peft")

from ecomsuite import EcomError, lineage  # noqa: E402
from ecomsuite.trainers import merge as M  # noqa: E402

ATOL = 1e-5


def _base(tiny_llama):
    from transformers import LlamaForCausalLM

    return LlamaForCausalLM.from_pretrained(tiny_llama, dtype=torch.float32).eval()


def make_adapter(tiny_llama: Path, out: Path, r=4, alpha=8, targets=("q_proj", "v_proj"), seed=1, **kw) -> Path:
    """A LoRA adapter as `ecomsuite sft` writes it: weights + config + tokenizer (+ lineage), lora_B non-zero."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoTokenizer

    torch.manual_seed(seed)
    model = get_peft_model(_base(tiny_llama), LoraConfig(r=r, lora_alpha=alpha, target_modules=list(targets),
                                                         task_type="CAUSAL_LM", **kw))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.2)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_llama).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def adapters(tiny_llama, tmp_path_factory):
    root = tmp_path_factory.mktemp("adapters")
    a = {
        "a": make_adapter(tiny_llama, root / "a", seed=1),
        "b": make_adapter(tiny_llama, root / "b", alpha=16, targets=("q_proj", "k_proj", "v_proj"), seed=2),
        "r8": make_adapter(tiny_llama, root / "r8", r=8, seed=3),
        "rs": make_adapter(tiny_llama, root / "rs", seed=4, use_rslora=True),
    }
    lineage.write(a["a"], kind="adapter", method="lora", tasks=["ecom_esci"], train_size=300, seed=1)
    lineage.write(a["b"], kind="adapter", method="lora", tasks=["ecom_desc_gen"], train_size=100, seed=2)
    return a


@pytest.fixture(scope="module")
def ids(tiny_llama):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_llama)
    return tok(["query: usb c cable 2m\nproduct: braided charger cord", "Is it relevant? yes"],
               return_tensors="pt", padding=True)


def logits(model, ids):
    with torch.no_grad():
        return model(**ids).logits


def adapter_logits(tiny_llama, path, ids):
    from peft import PeftModel

    return logits(PeftModel.from_pretrained(_base(tiny_llama), str(path)).eval(), ids)


def summed_delta_logits(tiny_llama, weighted: list[tuple[Path, float]], ids):
    """Reference: base weights + sum_i w_i * delta_i, with each delta from PEFT's own get_delta_weight."""
    from peft import PeftModel
    from peft.tuners.lora import LoraLayer

    deltas: dict[str, torch.Tensor] = {}
    for path, w in weighted:
        pm = PeftModel.from_pretrained(_base(tiny_llama), str(path))
        for name, mod in pm.base_model.model.named_modules():
            if isinstance(mod, LoraLayer):
                d = w * mod.get_delta_weight("default")
                deltas[name] = deltas.get(name, 0) + d
    model = _base(tiny_llama)
    with torch.no_grad():
        for name, d in deltas.items():
            model.get_submodule(name).weight += d
    return logits(model, ids)


def run_merge(argv: list[str]) -> int:
    return M.main([str(a) for a in argv])


# --------------------------------------------------------------------------------------------- exactness

def test_adapters_change_logits(tiny_llama, adapters, ids):
    base = logits(_base(tiny_llama), ids)
    assert (adapter_logits(tiny_llama, adapters["a"], ids) - base).abs().max() > 1e-3


@pytest.mark.parametrize("method", ["linear", "cat"])
def test_one_adapter_weight_one_reproduces_its_logits(tiny_llama, adapters, ids, tmp_path, method):
    out = tmp_path / method
    assert run_merge(["--adapters", adapters["a"], "--method", method, "--out", out]) == 0
    torch.testing.assert_close(adapter_logits(tiny_llama, out, ids), adapter_logits(tiny_llama, adapters["a"], ids),
                               atol=ATOL, rtol=0)


def test_cat_of_two_equals_both_deltas_applied_in_turn(tiny_llama, adapters, ids, tmp_path):
    from peft import PeftModel

    out = tmp_path / "cat"
    run_merge(["--adapters", adapters["a"], adapters["b"], "--method", "cat", "--out", out])
    model = _base(tiny_llama)
    for p in (adapters["a"], adapters["b"]):  # merge_and_unload each adapter into the base, one after the other
        model = PeftModel.from_pretrained(model, str(p)).merge_and_unload()
    torch.testing.assert_close(adapter_logits(tiny_llama, out, ids), logits(model, ids), atol=ATOL, rtol=0)
    cfg = json.loads((out / "adapter_config.json").read_text())
    assert cfg["r"] == 8 and set(cfg["target_modules"]) == {"q_proj", "k_proj", "v_proj"}


def test_task_arithmetic_is_the_weighted_sum_of_deltas(tiny_llama, adapters, ids, tmp_path):
    out = tmp_path / "ta"
    run_merge(["--adapters", adapters["a"], adapters["b"], "--method", "task_arithmetic", "--weights", "0.7", "-0.3",
               "--out", out])
    ref = summed_delta_logits(tiny_llama, [(adapters["a"], 0.7), (adapters["b"], -0.3)], ids)
    torch.testing.assert_close(adapter_logits(tiny_llama, out, ids), ref, atol=ATOL, rtol=0)
    lin = lineage.read(out)
    assert lin["peft_combination_type"] == "cat" and lin["weights"] == [0.7, -0.3]


def test_svd_at_the_summed_rank_is_exact(tiny_llama, adapters, ids, tmp_path):
    out = tmp_path / "svd"
    run_merge(["--adapters", adapters["a"], adapters["r8"], "--method", "svd", "--svd-rank", "12",
               "--weights", "0.5", "0.5", "--out", out])
    ref = summed_delta_logits(tiny_llama, [(adapters["a"], 0.5), (adapters["r8"], 0.5)], ids)
    torch.testing.assert_close(adapter_logits(tiny_llama, out, ids), ref, atol=1e-4, rtol=0)


def test_rslora_input_keeps_its_scale(tiny_llama, adapters, ids, tmp_path):
    out = tmp_path / "rs"
    run_merge(["--adapters", adapters["rs"], "--method", "cat", "--out", out])
    torch.testing.assert_close(adapter_logits(tiny_llama, out, ids), adapter_logits(tiny_llama, adapters["rs"], ids),
                               atol=ATOL, rtol=0)
    assert json.loads((out / "adapter_config.json").read_text())["use_rslora"] is False


def test_full_model_equals_the_adapter(tiny_llama, adapters, ids, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "full"
    run_merge(["--adapters", adapters["a"], "--method", "linear", "--out", out, "--full"])
    assert not (out / "adapter_config.json").exists()
    full = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    torch.testing.assert_close(logits(full, ids), adapter_logits(tiny_llama, adapters["a"], ids), atol=ATOL, rtol=0)
    tok = AutoTokenizer.from_pretrained(out)
    assert tok.chat_template and "<|im_start|>" in tok.chat_template
    lin = lineage.read(out)
    assert lin["kind"] == "merge" and lin["output"] == "full" and lin["complete"] is True


# --------------------------------------------------------------------------------------------- every method

@pytest.mark.parametrize("method", list(M.METHODS))
def test_every_method_writes_a_loadable_adapter_with_lineage(tiny_llama, adapters, ids, tmp_path, method):
    from peft import PeftModel

    out = tmp_path / method
    argv = ["--adapters", adapters["a"], adapters["b"], "--method", method, "--weights", "0.6", "0.4", "--out", out]
    if M.METHODS[method].density:
        argv += ["--density", "0.5"]
    assert run_merge(argv) == 0
    model = PeftModel.from_pretrained(_base(tiny_llama), str(out)).eval()
    assert torch.isfinite(logits(model, ids)).all()
    assert (out / "adapter_model.safetensors").is_file() and (out / "tokenizer_config.json").is_file()
    assert not list(tmp_path.glob(".*.partial")) and not list(tmp_path.glob(".*.old")), "staging folder left behind"

    lin = lineage.read(out)
    assert lin["kind"] == "merge" and lin["method"] == method and lin["weights"] == [0.6, 0.4]
    assert lin["density"] == (0.5 if M.METHODS[method].density else None)
    assert lin["base_model"] == json.loads((adapters["a"] / "adapter_config.json").read_text())["base_model_name_or_path"]
    assert [i["path"] for i in lin["inputs"]] == [str(adapters["a"].resolve()), str(adapters["b"].resolve())]
    assert lin["inputs"][0]["tasks"] == ["ecom_esci"] and lin["inputs"][1]["adapter_config"]["lora_alpha"] == 16
    assert lin["tasks"] == ["ecom_esci", "ecom_desc_gen"]
    assert lin["command"].startswith("ecomsuite merge --adapters")


# --------------------------------------------------------------------------------------------- errors

@pytest.fixture
def other_base(adapters, tmp_path):
    p = tmp_path / "other_base"
    shutil.copytree(adapters["b"], p)
    cf = p / "adapter_config.json"
    cfg = json.loads(cf.read_text())
    cfg["base_model_name_or_path"] = "HuggingFaceTB/SmolLM2-360M-Instruct"
    cf.write_text(json.dumps(cfg))
    return p


@pytest.fixture
def no_weights(adapters, tmp_path):
    p = tmp_path / "no_weights"
    shutil.copytree(adapters["a"], p)
    (p / "adapter_model.safetensors").unlink()
    return p


@pytest.fixture
def dora(adapters, tmp_path):
    p = tmp_path / "dora"
    shutil.copytree(adapters["a"], p)
    cfg = json.loads((p / "adapter_config.json").read_text())
    (p / "adapter_config.json").write_text(json.dumps({**cfg, "use_dora": True}))
    return p


ERRORS = {
    "different base": (lambda a, t: ["--adapters", a["a"], t["other_base"], "--method", "cat"],
                       "trained on different base models"),
    "rank mismatch": (lambda a, t: ["--adapters", a["a"], a["r8"], "--method", "ties", "--density", "0.5"],
                      "different LoRA ranks (a: r=4, r8: r=8); --method ties needs equal ranks: use --method cat or svd"),
    "missing folder": (lambda a, t: ["--adapters", a["a"], t["tmp"] / "nope", "--method", "cat"],
                       "adapter folder not found"),
    "missing config": (lambda a, t: ["--adapters", a["a"], t["tmp"], "--method", "cat"],
                       "adapter_config.json: missing"),
    "missing weights": (lambda a, t: ["--adapters", a["a"], t["no_weights"], "--method", "cat"],
                        "no adapter weights (adapter_model.safetensors or adapter_model.bin)"),
    "weights count": (lambda a, t: ["--adapters", a["a"], a["b"], "--method", "cat", "--weights", "1", "1", "1"],
                      "--weights has 3 value(s) for 2 adapter(s)"),
    "unknown method": (lambda a, t: ["--adapters", a["a"], a["b"], "--method", "tie"],
                       "--method 'tie' is unknown (did you mean ties?)"),
    "density zero": (lambda a, t: ["--adapters", a["a"], a["b"], "--method", "ties", "--density", "0"],
                     "--density 0.0 is outside (0, 1]"),
    "density above one": (lambda a, t: ["--adapters", a["a"], a["b"], "--method", "dare_linear", "--density", "1.5"],
                          "--density 1.5 is outside (0, 1]"),
    "density missing": (lambda a, t: ["--adapters", a["a"], a["b"], "--method", "dare_ties"],
                        "--method dare_ties needs --density"),
    "density unused": (lambda a, t: ["--adapters", a["a"], a["b"], "--method", "cat", "--density", "0.5"],
                       "--density is not used by --method cat"),
    "one adapter ties": (lambda a, t: ["--adapters", a["a"], "--method", "ties", "--density", "0.5"],
                         "needs at least 2 adapters"),
    "out is input": (lambda a, t: ["--adapters", a["a"], a["b"], "--method", "cat", "--out", a["a"]],
                     "is one of the input adapters"),
    "dora input": (lambda a, t: ["--adapters", a["a"], t["dora"], "--method", "cat"],
                   "use_dora is set; PEFT's add_weighted_adapter merges only the plain LoRA product"),
    "bad flag": (lambda a, t: ["--adapters", a["a"], "--method", "cat", "--wieghts", "1"],
                 "unrecognized arguments: --wieghts"),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_errors_are_one_line_and_come_before_any_model_loads(adapters, other_base, no_weights, dora, tmp_path,
                                                             monkeypatch, case):
    def no_loading(*a, **k):
        raise AssertionError("a model was loaded before the checks finished")

    monkeypatch.setattr(M, "merge_model", no_loading)
    argv_of, expected = ERRORS[case]
    argv = argv_of(adapters, {"other_base": other_base, "no_weights": no_weights, "dora": dora, "tmp": tmp_path})
    if "--out" not in argv:
        argv += ["--out", tmp_path / "out"]
    with pytest.raises(EcomError) as e:
        run_merge(argv)
    msg = str(e.value)
    assert expected in msg, msg
    assert "\n" not in msg


def test_cli_prints_one_error_line_and_exits_2(adapters, tmp_path, capsys):
    from ecomsuite.cli import main

    rc = main(["merge", "--adapters", str(adapters["a"]), str(adapters["r8"]), "--method", "dare_ties",
               "--density", "0.3", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert err.startswith("ecomsuite: error: adapters have different LoRA ranks")


def test_non_empty_out_needs_overwrite_and_only_our_own_output_is_replaced(adapters, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(EcomError, match="exists and is not empty"):
        run_merge(["--adapters", adapters["a"], "--method", "cat", "--out", out])
    with pytest.raises(EcomError, match="was not written by ecomsuite merge"):   # a folder merge did not create
        run_merge(["--adapters", adapters["a"], "--method", "cat", "--out", out, "--overwrite"])
    assert (out / "keep.txt").read_text() == "x"
    mine = tmp_path / "mine"
    run_merge(["--adapters", adapters["a"], "--method", "cat", "--out", mine])
    (mine / "stale.txt").write_text("old output")
    run_merge(["--adapters", adapters["b"], "--method", "cat", "--out", mine, "--overwrite"])
    assert lineage.read(mine)["inputs"][0]["path"] == str(adapters["b"].resolve()) and not (mine / "stale.txt").exists()
    assert not list(tmp_path.glob(".mine.*")), "staging or aside folder left behind"


# --------------------------------------------------------------------------------------------- no lost work

@pytest.fixture
def parent_of_inputs(adapters, tmp_path):
    root = tmp_path / "work"
    root.mkdir()
    a, b = shutil.copytree(adapters["a"], root / "a"), shutil.copytree(adapters["b"], root / "b")
    (root / "notes.txt").write_text("unrelated")
    return root, Path(a), Path(b)


def one_error_line(err: str) -> str:
    """The single `ecomsuite: error:` line of a failed command (progress bars aside), no traceback."""
    assert "Traceback" not in err, err
    lines = [x for x in err.splitlines() if x.startswith("ecomsuite: error:")]
    assert len(lines) == 1, err
    return lines[0]


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_overwrite_never_deletes_the_parent_of_its_inputs(parent_of_inputs, capsys):
    from ecomsuite.cli import main

    root, a, b = parent_of_inputs
    before = _snapshot(root)
    rc = main(["merge", "--adapters", str(a), str(b), "--method", "cat", "--out", str(root), "--overwrite"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "contains the input" in one_error_line(err)
    assert _snapshot(root) == before                                  # both adapters and notes.txt intact
    with pytest.raises(EcomError, match="is inside the input"):
        run_merge(["--adapters", a, b, "--method", "cat", "--out", a / "merged"])


def test_incomplete_adapter_is_refused(adapters, tmp_path):
    p = shutil.copytree(adapters["a"], tmp_path / "killed")
    lineage.write(p, kind="adapter", method="lora", complete=False, status="training")
    with pytest.raises(EcomError, match=r"killed is incomplete: its lineage.json says complete: false \(status: training\)"):
        run_merge(["--adapters", adapters["b"], p, "--method", "cat", "--out", tmp_path / "m"])
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("damage", ["truncated", "garbage header"])
def test_corrupted_safetensors_is_one_line(adapters, tmp_path, damage, capsys):
    from ecomsuite.cli import main

    p = shutil.copytree(adapters["a"], tmp_path / "bad")
    f = p / "adapter_model.safetensors"
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"\xff" * 64)
    rc = main(["merge", "--adapters", str(p), "--method", "cat", "--out", str(tmp_path / "m")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "adapter_model.safetensors: corrupted or truncated" in one_error_line(err)


def test_corrupted_weights_that_pass_the_header_check_are_one_line_too(adapters, tmp_path, monkeypatch):
    p = shutil.copytree(adapters["a"], tmp_path / "bad")
    monkeypatch.setattr(M, "_safetensors_problem", lambda f: None)
    (p / "adapter_model.safetensors").write_bytes(b"\x00" * 100)
    with pytest.raises(EcomError, match="bad cannot be loaded"):
        run_merge(["--adapters", p, "--method", "cat", "--out", tmp_path / "m"])


def test_out_is_a_file_is_one_line(adapters, tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("mine")
    with pytest.raises(EcomError, match="is a file; give a folder"):
        run_merge(["--adapters", adapters["a"], "--method", "cat", "--out", f])
    assert f.read_text() == "mine"


def test_disk_full_while_writing_keeps_the_old_output(adapters, tmp_path, monkeypatch, capsys):
    import errno

    from ecomsuite.cli import main

    out = tmp_path / "m"
    run_merge(["--adapters", adapters["a"], "--method", "cat", "--out", out])
    before = _snapshot(out)

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(out) + "/tokenizer.json")

    monkeypatch.setattr(M, "_save_tokenizer", full)
    rc = main(["merge", "--adapters", str(adapters["b"]), "--method", "cat", "--out", str(out), "--overwrite"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "no space left on device" in one_error_line(err)
    assert _snapshot(out) == before and not list(tmp_path.glob(".m.*"))


def test_read_only_out_fails_before_loading(adapters, tmp_path, monkeypatch):
    """A read-only parent (chmod has no effect as root, so os.access is what reports it) stops the merge up front."""
    import os as _os

    from ecomsuite import outputs

    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if _os.geteuid() == 0:
        monkeypatch.setattr(outputs.os, "access", lambda p, mode: Path(p) != ro)
    monkeypatch.setattr(M, "merge_model", lambda plan: (_ for _ in ()).throw(AssertionError("loaded a model")))
    try:
        with pytest.raises(EcomError, match="is not writable"):
            run_merge(["--adapters", adapters["a"], "--method", "cat", "--out", ro / "m"])
    finally:
        ro.chmod(0o755)


def test_quantized_base_warns(adapters, tiny_llama, tmp_path, capsys):
    qbase = tmp_path / "qbase"
    shutil.copytree(tiny_llama, qbase)
    cfg = json.loads((qbase / "config.json").read_text())
    cfg["quantization_config"] = {"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4"}
    (qbase / "config.json").write_text(json.dumps(cfg))
    run_merge(["--adapters", adapters["a"], "--method", "cat", "--base", qbase, "--out", tmp_path / "m", "--dry-run"])
    err = capsys.readouterr().err
    assert "warning: base model" in err and "bitsandbytes 4-bit" in err and "degrades quality" in err
    assert not (tmp_path / "m").exists()


def test_base_override_is_written_to_the_adapter(adapters, tiny_llama, tmp_path):
    out = tmp_path / "m"
    run_merge(["--adapters", adapters["a"], "--method", "cat", "--base", tiny_llama, "--out", out])
    assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"] == str(tiny_llama)


# --------------------------------------------------------------------------------------------- recipes, lm-eval

RECIPES = sorted((Path(M.__file__).parent / "recipes").glob("merge_*.yaml"))


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_recipes_open_with_their_command_and_parse(recipe):
    first = recipe.read_text().splitlines()[0]
    assert first.startswith("# ecomsuite merge trainers/recipes/" + recipe.name)
    needs_density = M.METHODS[yaml.safe_load(recipe.read_text())["method"]].density
    cfg = M.config_from_args([str(recipe), "density=0.7"] if needs_density else [str(recipe)])  # options checked
    assert cfg.method in M.METHODS and len(cfg.adapters) >= 2 and cfg.out


def test_recipe_overrides_and_flags(adapters, tmp_path):
    r = tmp_path / "r.yaml"
    r.write_text(f"adapters: [{adapters['a']}, {adapters['b']}]\nmethod: ties\ndensity: 0.2\nout: {tmp_path / 'o'}\n")
    cfg = M.config_from_args([str(r), "density=0.4", "--weights", "0.5", "0.5"])
    assert cfg.density == 0.4 and cfg.weights == [0.5, 0.5] and cfg.method == "ties"
    r.write_text("adapters: [x]\nmethd: ties\n")
    with pytest.raises(EcomError, match="unknown key 'methd'"):
        M.config_from_args([str(r)])


def test_merged_adapter_loads_through_lm_eval_peft(tiny_llama, adapters, tmp_path):
    from ecomsuite.evaluate import evaluate

    merged = tmp_path / "merged"
    run_merge(["--adapters", adapters["a"], adapters["b"], "--method", "ties", "--density", "0.5", "--out", merged])
    res = evaluate(model_args=f"pretrained={tiny_llama},peft={merged}", tasks=["ecom_esci"], limit=2,
                   output_path=tmp_path / "eval", batch_size=2, device="cpu")
    assert "ecom_esci" in res["results"]
    assert f"peft={merged}" in str(res["config"]["model_args"])
    assert list((tmp_path / "eval").rglob("results_*.json"))
