"""Shared fixtures: tiny random models built offline in seconds (no Hub access)."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Tests never read a user's downloaded data (`ecomsuite data download` -> $XDG_CACHE_HOME/ecomsuite/data):
# the cache root points at an empty folder, while the converted SmolLM2 keeps its own cache (reused).
os.environ.setdefault("ECOMSUITE_CACHE", str(Path.home() / ".cache" / "ecomsuite"))
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="ecomsuite-test-xdg-")
# removed when the test process ends (each run left one folder in /tmp: 163 of them on the dev machine)
atexit.register(shutil.rmtree, os.environ["XDG_CACHE_HOME"], True)
# ... and never a user's Hub token (`hf auth login` saves one; the Hub mirror tests decide who has a token)
os.environ.pop("HF_TOKEN", None)
os.environ["HF_TOKEN_PATH"] = str(Path(os.environ["XDG_CACHE_HOME"]) / "no-hf-token")

REPO = Path(__file__).resolve().parent.parent
REAL_DATA = Path(os.environ.get("ECOMSUITE_REAL_DATA", REPO.parent / "shared" / "data"))

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def _corpus() -> list[str]:
    """Text to train the tiny tokenizer on: the task prompts' words plus the embedded sample."""
    from ecomsuite.data import READERS, load_family

    lines = []
    for fam in READERS:
        for docs in load_family(fam).splits.values():
            for d in docs:
                lines.extend(str(v) for v in d.values())
    for y in (REPO / "tasks").rglob("*"):
        if y.is_file() and y.suffix in ("", ".yaml"):
            lines.append(y.read_text())
    return lines


def build_tokenizer(out: Path, vocab_size: int = 600):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.BPE(unk_token=None))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<pad>"]
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tk.train_from_iterator(_corpus(), trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<|endoftext|>", eos_token="<|im_end|>",
                                  pad_token="<pad>", unk_token=None)
    tok.chat_template = CHATML
    tok.save_pretrained(out)
    return tok


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny_tok")
    build_tokenizer(out)
    return out


def build_tiny_llama(out: Path, tok_dir: Path, hidden: int = 64, layers: int = 2, seed: int = 0) -> Path:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(tok_dir)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=2 * hidden,
                      num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=4,
                      max_position_embeddings=2048, bos_token_id=tok.bos_token_id,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, tie_word_embeddings=False)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory, tiny_tokenizer_dir) -> Path:
    """A 2-layer, 64-wide random Llama with a BPE tokenizer trained on local text and a ChatML template."""
    return build_tiny_llama(tmp_path_factory.mktemp("tiny_llama"), tiny_tokenizer_dir)


@pytest.fixture(scope="session")
def tiny_t5(tmp_path_factory, tiny_tokenizer_dir) -> Path:
    """A tiny random T5 (seq2seq) sharing the tiny tokenizer."""
    import torch
    from transformers import AutoTokenizer, T5Config, T5ForConditionalGeneration

    out = tmp_path_factory.mktemp("tiny_t5")
    tok = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    cfg = T5Config(vocab_size=len(tok), d_model=64, d_ff=128, d_kv=16, num_layers=2, num_decoder_layers=2,
                   num_heads=4, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                   decoder_start_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    T5ForConditionalGeneration(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A tiny random BERT encoder with a WordPiece tokenizer trained on local text."""
    import torch
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    out = tmp_path_factory.mktemp("tiny_bert")
    wp = BertWordPieceTokenizer(lowercase=True)
    wp.train_from_iterator(_corpus(), vocab_size=800, show_progress=False)
    wp.save_model(str(out))
    tok = BertTokenizerFast(vocab=str(out / "vocab.txt"))  # transformers 5: vocab_file= is ignored
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=128, max_position_embeddings=512)
    torch.manual_seed(0)
    BertModel(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def real_data() -> Path:
    if not (REAL_DATA / "esci").is_dir():
        pytest.skip(f"real data not found at {REAL_DATA} (set ECOMSUITE_REAL_DATA)")
    return REAL_DATA
