"""``ecomsuite merge``: combine LoRA adapters, within a task or across tasks, with PEFT.

PEFT does the maths (``LoraModel.add_weighted_adapter`` and ``peft.utils.merge_utils``); this module
checks every input up front (configs only, no model loaded), runs the merge, and writes a merged
adapter (lm-eval loads it with ``peft=``) or, with ``--full``, a merged full model; either way with
the tokenizer + chat template and a ``lineage.json`` that lists every input, weight, method and density.

    ecomsuite merge --adapters runs/sft/esci_s1 runs/sft/esci_s2 --method cat --weights 0.5 0.5 \\
        --out runs/merge/esci_avg
    ecomsuite merge --adapters runs/sft/esci runs/sft/desc_gen --method ties --density 0.5 --out runs/merge/x
    ecomsuite merge trainers/recipes/merge_esci_within.yaml [key=value ...]   # same, from a recipe
    ecomsuite eval --model-args pretrained=BASE,peft=runs/merge/esci_avg --tasks ecom_esci

Methods (see docs/merge.md): ``cat`` / ``task_arithmetic`` are exact (sum of weighted deltas, rank =
sum of ranks); ``svd`` is that sum truncated to ``--svd-rank``; ``linear``, ``ties``, ``dare_*`` and
``magnitude_prune`` combine the A and B factors separately and need equal ranks; ``*_svd`` variants
prune/elect on the full deltas and accept any ranks.
"""
from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import math
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from ecomsuite import EcomError, lineage, outputs
from ecomsuite.config import ConfigParser, option

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"
MERGED = "default"  # name of the merged adapter inside the PeftModel (saved at the folder's top level)
WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin")
# LoraConfig keys whose adapters compute more than scaling * B @ A: add_weighted_adapter would give a wrong
# adapter without an error (peft issue #3761: use_rslora, lora_bias, use_dora, kasa_config; rsLoRA is
# corrected below instead of refused)
VARIANTS = ("use_dora", "lora_bias", "kasa_config", "velora_config", "monteclora_config", "alora_invocation_tokens",
            "use_qalora", "use_bdlora", "arrow_config", "target_parameters", "layer_replication")
TOKENIZER_FILES = ("tokenizer_config.json", "tokenizer.json", "tokenizer.model", "vocab.json")
OURS = ("merge",)  # lineage kinds `--overwrite` may replace (besides any folder holding outputs.MARKER)


@dataclass(frozen=True)
class Method:
    peft: str           # PEFT combination_type
    equal_ranks: bool   # PEFT requires every adapter to have the same r
    density: bool       # uses --density
    sign: bool          # uses --majority-sign (TIES sign election)
    svd: bool           # result re-factorised by SVD (uses --svd-rank)
    what: str


METHODS: dict[str, Method] = {
    "linear": Method("linear", True, False, False, False,
                     "A' = sum sqrt(w*s) A_i, B' = sum sqrt(w*s) B_i: factors averaged separately; exact for one "
                     "adapter, for several it adds cross terms B_i A_j (not a sum of deltas)"),
    "cat": Method("cat", False, False, False, False,
                  "A and B stacked: delta' = sum w_i * delta_i exactly; rank = sum of ranks"),
    "task_arithmetic": Method("cat", False, False, False, False,
                              "task arithmetic (Ilharco et al.): delta' = sum w_i * delta_i; runs PEFT's exact "
                              "'cat' (rank = sum of ranks); use svd for the same sum at a fixed rank"),
    "svd": Method("svd", False, False, False, True,
                  "delta' = sum w_i * delta_i, then truncated SVD to --svd-rank (default: max rank)"),
    "ties": Method("ties", True, True, True, False,
                   "TIES on the A and B factors: keep top-density magnitudes, elect sign, disjoint mean"),
    "ties_svd": Method("ties_svd", False, True, True, True, "TIES on the full deltas, then SVD"),
    "dare_linear": Method("dare_linear", True, True, False, False,
                          "DARE on the factors: drop entries at random (keep density), rescale by 1/density, "
                          "weighted sum"),
    "dare_ties": Method("dare_ties", True, True, True, False, "DARE drop + rescale, then TIES sign election"),
    "dare_linear_svd": Method("dare_linear_svd", False, True, False, True, "dare_linear on the full deltas, then SVD"),
    "dare_ties_svd": Method("dare_ties_svd", False, True, True, True, "dare_ties on the full deltas, then SVD"),
    "magnitude_prune": Method("magnitude_prune", True, True, False, False,
                              "keep the top-density magnitudes of each factor, weighted sum"),
    "magnitude_prune_svd": Method("magnitude_prune_svd", False, True, False, True,
                                  "magnitude_prune on the full deltas, then SVD"),
}
DTYPES = ("float32", "bfloat16", "float16")


@dataclass
class MergeConfig:
    """One merge. Every key can come from a recipe YAML, ``key=value`` or ``--key-name``."""
    adapters: list[str] = option(help="adapter folders (PEFT LoRA), in the order --weights follows",
                                 default_factory=list, metavar="DIR")
    method: str = option("", "merge method, one of the table below (required)")
    out: str = option("", "output folder for the merged adapter (or model, with --full) (required)")
    weights: list[float] | None = option(None, "one weight per adapter (default 1 each; 0.5 0.5 averages two "
                                               "deltas; negative subtracts)", metavar="W")
    density: float | None = option(None, "fraction of each delta kept, in (0, 1]: required by ties, dare_*, "
                                         "magnitude_prune*, refused by the others")
    full: bool = option(False, "write the merged full model (merge_and_unload) instead of an adapter")
    base: str | None = option(None, "base model (default: base_model_name_or_path of the adapters)")
    svd_rank: int | None = option(None, "rank of the result for *svd methods (default: the largest input rank)")
    majority_sign: str | None = option(None, "TIES sign election: total (default) or frequency")
    seed: int = option(0, "seed for DARE's random drop")
    dtype: str | None = option(None, "compute dtype: float32 (default), bfloat16, float16; a --full model is saved "
                                     "in the base checkpoint's dtype unless this is given")
    overwrite: bool = option(False, "replace a non-empty --out (only a folder this command or sft wrote)")
    dry_run: bool = option(False, "check everything and print the plan; load nothing")


@dataclass
class Plan:
    """Everything the checks found; the heavy part runs from this alone."""
    config: MergeConfig
    method: Method
    adapters: list[Path]
    adapter_configs: list[dict]
    lineages: list[dict | None]
    weights: list[float]
    base: str
    base_config: object
    task_type: str
    tokenizer_from: str
    out: Path
    warnings: list[str]

    @property
    def peft_combination(self) -> str:
        # PEFT merges a single adapter linearly whatever the requested type
        return "linear" if len(self.adapters) == 1 else self.method.peft


def _warn(msg: str) -> None:
    print(f"ecomsuite: warning: {msg}", file=sys.stderr)


def _rank(cfg: dict) -> int:
    """The rank PEFT allocates for an adapter (as in LoraModel._check_add_weighted_adapter)."""
    r = int(cfg.get("r") or 8)
    pattern = cfg.get("rank_pattern") or {}
    return max(r, *pattern.values()) if pattern else r


def _read_adapter(path: Path, problems: list[str]) -> dict | None:
    if not path.is_dir():
        problems.append(f"{path}: adapter folder not found (pass a folder written by `ecomsuite sft` or "
                        "PeftModel.save_pretrained)")
        return None
    cf = path / "adapter_config.json"
    if not cf.is_file():
        problems.append(f"{cf}: missing; {path} is not a PEFT adapter folder")
        return None
    try:
        cfg = json.loads(cf.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        problems.append(f"{cf}: not valid JSON ({e}); re-save the adapter")
        return None
    if not any((path / w).is_file() for w in WEIGHT_FILES):
        problems.append(f"{path}: no adapter weights ({' or '.join(WEIGHT_FILES)}); re-save the adapter")
    elif (path / WEIGHT_FILES[0]).is_file():
        bad = _safetensors_problem(path / WEIGHT_FILES[0])
        if bad:
            problems.append(f"{path / WEIGHT_FILES[0]}: corrupted or truncated ({bad}); re-save the adapter")
    if cfg.get("peft_type", "LORA") != "LORA":
        problems.append(f"{cf}: peft_type {cfg.get('peft_type')!r}; only LoRA adapters can be merged")
    for key in VARIANTS:
        if cfg.get(key):
            problems.append(f"{cf}: {key} is set; PEFT's add_weighted_adapter merges only the plain LoRA product "
                            f"B@A and would silently drop what {key} adds: merge plain LoRA adapters only")
    if cfg.get("bias", "none") != "none":
        problems.append(f"{cf}: bias is {cfg['bias']!r}; the trained biases cannot be merged (each input would "
                        "overwrite the last): merge adapters trained with bias 'none'")
    for key in ("modules_to_save", "trainable_token_indices"):
        if cfg.get(key):
            problems.append(f"{cf}: {key} is set ({cfg[key]}); add_weighted_adapter cannot merge those fully "
                            "trained copies, so the merged adapter would silently lose them: retrain without "
                            f"{key}")
    return cfg


def _safetensors_problem(f: Path) -> str | None:
    """Why a safetensors file cannot be read (header, and data length against it), or None. Reads no tensors."""
    import struct

    try:
        size = f.stat().st_size
        with open(f, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                return "shorter than its 8-byte header length"
            n = struct.unpack("<Q", head)[0]
            if n > size - 8:
                return f"header of {n} bytes in a {size}-byte file"
            meta = json.loads(fh.read(n))
    except (OSError, ValueError, UnicodeDecodeError) as e:
        return str(e).splitlines()[0] if str(e) else type(e).__name__
    if not isinstance(meta, dict):
        return "header is not a JSON object"
    ends = [v.get("data_offsets", [0, 0])[1] for k, v in meta.items() if k != "__metadata__" and isinstance(v, dict)]
    need = 8 + n + max(ends, default=0)
    if need != size:
        return f"{size} bytes, its header describes {need}"
    return None


def _load_base_config(base: str, source: str):
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(base)
    except Exception as e:  # noqa: BLE001 - any failure here is "cannot find/read the base"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise EcomError(f"base model {base!r} (from {source}) cannot be loaded: {first}; pass --base with a "
                        "local model folder or a Hub id in the cache") from None


def _quantization(base_config) -> str | None:
    q = getattr(base_config, "quantization_config", None)
    if not q:
        return None
    q = q if isinstance(q, dict) else (q.to_dict() if hasattr(q, "to_dict") else vars(q))
    bits = "4-bit" if q.get("load_in_4bit") else "8-bit" if q.get("load_in_8bit") else \
        f"{q['bits']}-bit" if q.get("bits") else "quantized"
    return f"{q.get('quant_method', 'quantized')} {bits}"


def option_problems(cfg: MergeConfig) -> list[str]:
    """What is wrong with the options themselves (no file is read): method, inputs, out, and which options the
    method uses. ``check`` adds what the adapters' files say; a study's --dry-run uses this alone."""
    if not cfg.method:
        return [f"--method is missing: choose one of {', '.join(METHODS)} (see ecomsuite merge --help)"]
    method = METHODS.get(cfg.method)
    if method is None:
        close = difflib.get_close_matches(str(cfg.method), METHODS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return [f"--method {cfg.method!r} is unknown{hint}; choose one of: {', '.join(METHODS)}"]
    problems: list[str] = []
    if not cfg.adapters:
        problems.append("--adapters is missing: give one or more adapter folders")
    if not cfg.out:
        problems.append("--out is missing: give the folder to write the merged adapter (or model, with --full) to")
    n = len(cfg.adapters)
    weights = [1.0] * n if cfg.weights is None else cfg.weights
    if len(weights) != n:
        problems.append(f"--weights has {len(weights)} value(s) for {n} adapter(s); give one weight per adapter, "
                        "in --adapters order")
    elif not all(math.isfinite(w) for w in weights):
        problems.append(f"--weights {weights}: every weight must be a finite number")
    if method.density:
        if cfg.density is None:
            problems.append(f"--method {cfg.method} needs --density in (0, 1]: the fraction of each delta kept "
                            "(e.g. --density 0.5)")
        elif not (0 < cfg.density <= 1):
            problems.append(f"--density {cfg.density} is outside (0, 1]: it is the fraction of each delta kept "
                            "(1 keeps everything)")
        if n == 1:
            problems.append(f"--method {cfg.method} needs at least 2 adapters (PEFT merges a single adapter "
                            "linearly, without pruning); use --method linear to rescale one adapter")
    elif cfg.density is not None:
        uses = ", ".join(k for k, m in METHODS.items() if m.density)
        problems.append(f"--density is not used by --method {cfg.method}; drop it, or choose one of: {uses}")
    if cfg.majority_sign is not None:
        if not method.sign:
            problems.append(f"--majority-sign is not used by --method {cfg.method}; it applies to "
                            + ", ".join(k for k, m in METHODS.items() if m.sign))
        elif cfg.majority_sign not in ("total", "frequency"):
            problems.append(f"--majority-sign {cfg.majority_sign!r}: choose total or frequency")
    if cfg.svd_rank is not None:
        if not method.svd:
            problems.append(f"--svd-rank is not used by --method {cfg.method}; it applies to "
                            + ", ".join(k for k, m in METHODS.items() if m.svd))
        elif int(cfg.svd_rank) < 1:
            problems.append(f"--svd-rank {cfg.svd_rank} must be a positive integer")
    if cfg.dtype is not None and cfg.dtype not in DTYPES:
        problems.append(f"--dtype {cfg.dtype!r}: choose one of {', '.join(DTYPES)}")
    return problems


def check(cfg: MergeConfig) -> Plan:
    """Validate the whole request from config files alone; raise one EcomError listing every problem."""
    problems = option_problems(cfg)
    if problems:
        raise _problems(problems)
    warnings: list[str] = []
    method = METHODS[cfg.method]
    n = len(cfg.adapters)
    weights = [1.0] * n if cfg.weights is None else [float(w) for w in cfg.weights]

    # the adapters themselves
    paths = [Path(a).expanduser() for a in cfg.adapters]
    configs = [_read_adapter(p, problems) for p in paths]
    out = Path(cfg.out).expanduser()
    for p in paths:
        if p.resolve() == out.resolve():
            problems.append(f"--out {out} is one of the input adapters; choose a new folder")
    if problems:
        raise _problems(problems)
    lineages = []
    for p in paths:
        try:
            lineages.append(lineage.require_complete(p, "adapter"))
        except EcomError as e:
            problems.append(str(e))
    if problems:
        raise _problems(problems)

    ranks = [_rank(c) for c in configs]
    if n > 1 and method.equal_ranks and len(set(ranks)) > 1:
        listed = ", ".join(f"{p.name}: r={r}" for p, r in zip(paths, ranks))
        problems.append(f"adapters have different LoRA ranks ({listed}); --method {cfg.method} needs equal ranks: "
                        "use --method cat or svd (or ties_svd, dare_ties_svd, dare_linear_svd, magnitude_prune_svd)")
    task_types = {c.get("task_type") or "CAUSAL_LM" for c in configs}
    if len(task_types) > 1:
        problems.append(f"adapters have different task_type ({', '.join(sorted(task_types))}); merge adapters of "
                        "one model type")
    tm_types = {type(c.get("target_modules")).__name__ for c in configs}
    if len(tm_types) > 1:
        problems.append("adapters give target_modules in different forms (a regex string in some, a list in others); "
                        "PEFT cannot combine them: retrain with the same target_modules form")
    bases = [c.get("base_model_name_or_path") for c in configs]
    if cfg.base:
        base = str(cfg.base)
        if len(set(bases)) > 1:
            warnings.append(f"adapters name different base models ({', '.join(map(str, sorted(set(map(str, bases)))))});"
                            f" merging them onto --base {base} as asked")
        base_source = "--base"
    else:
        missing = [p for p, b in zip(paths, bases) if not b]
        if missing:
            problems.append(f"{missing[0] / 'adapter_config.json'}: no base_model_name_or_path; pass --base")
        elif len(set(bases)) > 1:
            listed = ", ".join(f"{p.name}: {b}" for p, b in zip(paths, bases))
            problems.append(f"adapters were trained on different base models ({listed}); merge adapters of one base "
                            "(if these name the same model, pass --base to say which)")
        base = bases[0]
        base_source = f"{paths[0] / 'adapter_config.json'} base_model_name_or_path"
    try:  # a file, an input (or inside / above one), not writable
        outputs.check_out(out, [*paths, base if base and Path(base).expanduser().is_dir() else None],
                          inputs_name="input adapters or the base model")
        if not outputs.is_empty(out):
            if not cfg.overwrite:
                problems.append(f"--out {out} exists and is not empty; choose a new folder or pass --overwrite")
            else:
                outputs.refuse_foreign(out, OURS, "merge")
    except EcomError as e:
        problems.append(str(e))
    if problems:
        raise _problems(problems)

    base_config = _load_base_config(base, base_source)
    quant = _quantization(base_config)
    if quant:
        warnings.append(f"base model {base} is {quant}: merging into quantized weights degrades quality "
                        "(and needs its quantization backend); pass --base with the unquantized model")
    for p, lin in zip(paths, lineages):
        if lin and str(lin.get("method", "")).lower() == "qlora" and cfg.full:
            warnings.append(f"{p} was trained with QLoRA against a 4-bit base; --full adds its delta to the "
                            f"unquantized {base}, whose weights differ slightly from those it learned against")
    tok_hashes = {p: _tokenizer_fingerprint(p) for p in paths}
    if len({h for h in tok_hashes.values() if h}) > 1:
        warnings.append("the input adapters carry different tokenizers; the merged output gets the first one's "
                        f"({paths[0]})")
    tokenizer_from = str(paths[0]) if any((paths[0] / f).is_file() for f in TOKENIZER_FILES) else base

    return Plan(config=cfg, method=method, adapters=paths, adapter_configs=configs, lineages=lineages,
                weights=weights, base=base, base_config=base_config, task_type=task_types.pop(),
                tokenizer_from=tokenizer_from, out=out, warnings=warnings)


def _problems(problems: list[str]) -> EcomError:
    if len(problems) == 1:
        return EcomError(problems[0])
    return EcomError(f"{len(problems)} problems: " + "; ".join(problems))


def _tokenizer_fingerprint(path: Path) -> str | None:
    import hashlib

    h = hashlib.sha256()
    found = False
    for f in ("tokenizer.json", "tokenizer.model", "vocab.json", "chat_template.jinja"):
        if (path / f).is_file():
            h.update(f.encode() + (path / f).read_bytes())
            found = True
    return h.hexdigest() if found else None


# ----------------------------------------------------------------------------------------------- heavy part

def _auto_class(task_type: str):
    import transformers

    if task_type == "SEQ_2_SEQ_LM":
        return transformers.AutoModelForSeq2SeqLM
    return transformers.AutoModelForCausalLM


def merge_model(plan: Plan):
    """Load the base + inputs, run PEFT's add_weighted_adapter; return the PeftModel with only the merge."""
    import torch
    from peft import PeftModel
    from peft.tuners.lora import LoraLayer

    cfg = plan.config
    dtype = getattr(torch, cfg.dtype or "float32")
    try:
        base = _auto_class(plan.task_type).from_pretrained(plan.base, dtype=dtype)
    except Exception as e:  # noqa: BLE001
        raise EcomError(f"loading base model {plan.base} failed: {str(e).splitlines()[0] if str(e) else e!r}") from None
    names = [f"input{i}" for i in range(len(plan.adapters))]
    model = None
    for name, path in zip(names, plan.adapters):
        try:
            if model is None:
                model = PeftModel.from_pretrained(base, str(path), adapter_name=name)
            else:
                model.load_adapter(str(path), adapter_name=name)
        except Exception as e:  # noqa: BLE001 - a corrupted / unreadable adapter file is the user's to fix
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise EcomError(f"adapter {path} cannot be loaded ({type(e).__name__}: {first[:200]}); "
                            "re-save or retrain it") from None

    kwargs = {}
    if plan.method.density:
        kwargs["density"] = cfg.density
    if plan.method.sign:
        kwargs["majority_sign_method"] = cfg.majority_sign or "total"
    if plan.method.svd:
        kwargs["svd_rank"] = cfg.svd_rank
        kwargs["svd_full_matrices"] = False  # same truncated result, far less work
    torch.manual_seed(cfg.seed)  # DARE drops at random
    try:
        model.add_weighted_adapter(adapters=names, weights=plan.weights, adapter_name=MERGED,
                                   combination_type=plan.method.peft, **kwargs)
    except ValueError as e:  # a constraint the up-front checks did not foresee
        raise EcomError(f"PEFT refused the {cfg.method} merge: {e}") from None
    model.set_adapter(MERGED)
    for name in names:
        model.delete_adapter(name)

    merged_cfg = model.peft_config[MERGED]
    # PEFT folds every input's scaling into the merged factors and gives the merge lora_alpha = r, i.e. a
    # scaling of 1 -- unless the first input used rsLoRA (scaling alpha/sqrt(r)); make the merge plain LoRA.
    if merged_cfg.use_rslora:
        merged_cfg.use_rslora = False
        for module in model.modules():
            if isinstance(module, LoraLayer) and MERGED in module.scaling:
                module.scaling[MERGED] = 1.0
    if cfg.base:
        merged_cfg.base_model_name_or_path = cfg.base
    merged_cfg.inference_mode = True
    return model


def _save_tokenizer(source: str, out: Path) -> bool:
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(source)
    except Exception as e:  # noqa: BLE001
        raise EcomError(f"tokenizer in {source} cannot be loaded ({str(e).splitlines()[0] if str(e) else e!r}); "
                        "pass --base with a model folder that has one") from None
    tok.save_pretrained(out)
    return bool(getattr(tok, "chat_template", None))


def run(plan: Plan, command: str | None = None) -> Path:
    """Merge and write ``plan.out``: into a marked sibling staging folder, swapped in at the end, so a crash or
    a full disk leaves the old output (if any) intact and no half-written one."""
    model = merge_model(plan)
    with outputs.writing(plan.out, "merged output"):
        tmp = outputs.staging(plan.out, OURS)
        try:
            _write(plan, model, tmp, command)
            outputs.swap_in(tmp, plan.out, OURS)  # the old output (ours: check() made sure) goes only now
        except BaseException:
            outputs.discard(tmp)
            raise
    return plan.out


def _write(plan: Plan, model, tmp: Path, command: str | None) -> None:
    cfg = plan.config
    merged_cfg = model.peft_config[MERGED]
    merged_rank = merged_cfg.r
    if cfg.full:
        import torch

        full = model.merge_and_unload()
        save_dtype = getattr(torch, cfg.dtype) if cfg.dtype else _checkpoint_dtype(plan.base_config)
        if save_dtype is not None:
            full = full.to(save_dtype)
        full.save_pretrained(tmp)
    else:
        model.save_pretrained(str(tmp))
    has_template = _save_tokenizer(plan.tokenizer_from, tmp)
    if not has_template:
        _warn(f"the tokenizer from {plan.tokenizer_from} has no chat template; none was written to {plan.out}")

    inputs = []
    for path, acfg, lin in zip(plan.adapters, plan.adapter_configs, plan.lineages):
        inputs.append({**(lin or {"kind": "adapter"}), "path": str(path.resolve()), "adapter_config": acfg})
    tasks = []
    for lin in plan.lineages:
        for t in (lin or {}).get("tasks") or []:
            if t not in tasks:
                tasks.append(t)
    lineage.write(
        tmp, kind="merge", name=plan.out.name, method=cfg.method, peft_combination_type=plan.peft_combination,
        output="full" if cfg.full else "adapter", base_model=plan.base, base_model_hash=lineage.model_hash(plan.base),
        tasks=tasks, inputs=inputs, weights=plan.weights, density=cfg.density,
        hyperparameters={"svd_rank": cfg.svd_rank if plan.method.svd else None, "merged_rank": merged_rank,
                         "majority_sign_method": (cfg.majority_sign or "total") if plan.method.sign else None,
                         "seed": cfg.seed, "dtype": cfg.dtype or "float32"},
        config=dataclasses.asdict(cfg), command=command or _command_of(cfg), warnings=plan.warnings,
        tokenizer_from=plan.tokenizer_from, complete=True)


def _checkpoint_dtype(base_config):
    import torch

    dt = getattr(base_config, "dtype", None) or getattr(base_config, "torch_dtype", None)
    if isinstance(dt, str):
        dt = getattr(torch, dt, None)
    return dt if isinstance(dt, torch.dtype) else None


def _command_of(cfg: MergeConfig) -> str:
    args = ["ecomsuite", "merge", "--adapters", *cfg.adapters, "--method", cfg.method]
    if cfg.weights is not None:
        args += ["--weights", *map(str, cfg.weights)]
    for flag, val in (("--density", cfg.density), ("--svd-rank", cfg.svd_rank), ("--majority-sign", cfg.majority_sign),
                      ("--base", cfg.base), ("--dtype", cfg.dtype)):
        if val is not None:
            args += [flag, str(val)]
    if cfg.seed:
        args += ["--seed", str(cfg.seed)]
    args += ["--out", cfg.out] + (["--full"] if cfg.full else [])
    return shlex.join(args)


def merge(cfg: MergeConfig, command: str | None = None) -> Path:
    """Check, then merge. The Python API behind ``ecomsuite merge``."""
    plan = check(cfg)
    for w in plan.warnings:
        _warn(w)
    if cfg.dry_run:
        print(describe(plan))
        return plan.out
    return run(plan, command)


def describe(plan: Plan) -> str:
    lines = [f"merge {len(plan.adapters)} adapter(s) onto {plan.base} with {plan.config.method} "
             f"(PEFT combination_type={plan.peft_combination}) -> {plan.out}" + (" [full model]" if plan.config.full else "")]
    for p, c, w in zip(plan.adapters, plan.adapter_configs, plan.weights):
        lines.append(f"  {w:+g} x {p}  (r={_rank(c)}, alpha={c.get('lora_alpha')})")
    if plan.method.density:
        lines.append(f"  density {plan.config.density}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- command line

def _methods_table() -> str:
    return "methods:\n" + "\n".join(f"  {k:<20} {'any ranks' if not m.equal_ranks else 'equal ranks'}"
                                     f"{', --density' if m.density else ''}: {m.what}" for k, m in METHODS.items())


PARSER = ConfigParser(
    MergeConfig, "ecomsuite merge", "Merge LoRA adapters with PEFT into one adapter (or, with --full, a full model).",
    recipes=RECIPES_DIR, prefix="merge_", notes=_methods_table(),
    examples=["ecomsuite merge --adapters runs/sft/esci_s1 runs/sft/esci_s2 --method cat --weights 0.5 0.5 "
              "--out runs/merge/esci_avg",
              "ecomsuite merge --adapters runs/sft/esci runs/sft/desc_gen --method ties --density 0.5 "
              "--out runs/merge/esci_desc_ties",
              "ecomsuite merge trainers/recipes/merge_esci_within.yaml out=runs/merge/other",
              "ecomsuite eval --model-args pretrained=BASE,peft=runs/merge/esci_avg --tasks ecom_esci"])


def build_parser() -> argparse.ArgumentParser:
    return PARSER.build()


def config_from_args(argv: list[str]) -> MergeConfig:
    """Recipe + key=value + flags -> MergeConfig; every problem of the options at once (no file read)."""
    return PARSER.parse(argv, validate=option_problems)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or any(a in ("-h", "--help") for a in argv):
        build_parser().print_help()
        return 0
    cfg = config_from_args(argv)
    out = merge(cfg, command=shlex.join(["ecomsuite", "merge", *argv]))
    if not cfg.dry_run:
        what = "full model" if cfg.full else f"adapter (lm-eval: pretrained=BASE,peft={out})"
        print(f"wrote merged {what} to {out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except EcomError as e:
        print(f"ecomsuite: error: {e}", file=sys.stderr)
        sys.exit(2)
