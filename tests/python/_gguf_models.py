"""Tiny HF models and tokenizers for the GGUF tests, and what llama.cpp's converter makes of them.

The expected GGUF tensors are computed here from the HF weights with the `gguf` package (llama.cpp's own name table and
quantizer) and the converter's documented layout rules, independently of our C++ export.
"""
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("RLHF_BUILD", ROOT / "build"))
RLHF = BUILD / "rlhf"
GPT2_FILES = ROOT.parent / "shared" / "data" / "gpt2-tokenizer"

# The Split regexes of Llama 3's and Qwen2's tokenizer.json (llama.cpp names them "llama-bpe" and "qwen2").
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                r"\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
               r"\s*[\r\n]+|\s+(?!\S)|\s+")

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Human: What is the capital of France?\n\nAssistant: The capital of France is Paris.",
    "Once upon a time, there was a little robot who wanted to learn how to paint.",
    "It's 2024 and we've got 1234567 reasons to write tests, don't we?",
    "Reinforcement learning from human feedback trains a reward model on comparisons.",
    "Tokenizers split text into pieces; byte-level BPE never meets an unknown character.",
    "Café, naïve, jalapeño — and some emoji 🙂🚀 plus 日本語のテキスト.",
    "    indented code:\n\tfor i in range(10):\n\t\tprint(i * 2)\n",
    "The policy is optimised with PPO against the reward, with a KL penalty to the reference.",
] * 4


def rlhf_export(model_dir, out, dtype, *extra):
    """Runs `rlhf export-gguf`; the CLI must be built (make build)."""
    assert RLHF.exists(), f"{RLHF} is missing: build the rlhf CLI first (make build), or set RLHF_BUILD"
    result = subprocess.run([str(RLHF), "export-gguf", "--model", str(model_dir), "--out", str(out), "--dtype", dtype,
                             *extra], capture_output=True, text=True)
    assert result.returncode == 0, f"rlhf export-gguf failed:\n{result.stdout}\n{result.stderr}"
    return out


def train_bpe(out_dir, pre, vocab_size=320):
    """A byte-level BPE trained with HF tokenizers, saved as tokenizer.json (+ tokenizer_config.json).
    pre: "gpt-2" (ByteLevel's own regex), "llama-bpe" or "qwen2" (Split regex, then ByteLevel without regex)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    if pre == "gpt-2":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    else:
        split = LLAMA3_SPLIT if pre == "llama-bpe" else QWEN2_SPLIT
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(split), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    specials = ["<|begin_of_text|>", "<|end_of_text|>"]
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tok.save(str(out_dir / "tokenizer.json"))
    (out_dir / "tokenizer_config.json").write_text(json.dumps({"bos_token": specials[0], "eos_token": specials[1]}))
    return tok


def train_spm(out_dir, vocab_size=400):
    """A SentencePiece BPE with Llama 2's settings (byte fallback, identity normalisation, dummy prefix, digits split,
    unk/bos/eos = 0/1/2), saved as tokenizer.model."""
    import sentencepiece as spm
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS), model_prefix=str(out_dir / "tokenizer"), vocab_size=vocab_size,
        model_type="bpe", byte_fallback=True, normalization_rule_name="identity", add_dummy_prefix=True,
        remove_extra_whitespaces=False, split_digits=True, hard_vocab_limit=False, unk_id=0, bos_id=1, eos_id=2,
        pad_id=-1, minloglevel=2)
    return spm.SentencePieceProcessor(model_file=str(out_dir / "tokenizer.model"))


def copy_gpt2_files(out_dir):
    """GPT-2's real vocab.json + merges.txt (shared/data), or a skip where shared/ is absent."""
    if not (GPT2_FILES / "vocab.json").exists():
        pytest.skip(f"GPT-2's tokenizer files are not at {GPT2_FILES} (shared/ absent)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("vocab.json", "merges.txt"):
        (out_dir / name).write_bytes((GPT2_FILES / name).read_bytes())


def make_model(family, out_dir, vocab_size, bos_id, eos_id, seed=0, **overrides):
    """A tiny randomly initialised model saved with save_pretrained (safetensors). Every parameter is random (norm
    weights around 1, biases included) so that a wrong layout anywhere changes the numbers."""
    import transformers
    torch.manual_seed(seed)
    if family == "gpt2":
        kw = dict(vocab_size=vocab_size, n_embd=64, n_layer=2, n_head=4, n_positions=128, bos_token_id=bos_id,
                  eos_token_id=eos_id)
        kw.update(overrides)
        model = transformers.GPT2LMHeadModel(transformers.GPT2Config(**kw))
    elif family == "llama":
        kw = dict(vocab_size=vocab_size, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-5,
                  tie_word_embeddings=False, bos_token_id=bos_id, eos_token_id=eos_id)
        kw.update(overrides)
        model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**kw))
    elif family == "qwen2":
        kw = dict(vocab_size=vocab_size, hidden_size=48, intermediate_size=96, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-6,
                  tie_word_embeddings=True, bos_token_id=bos_id, eos_token_id=eos_id)
        kw.update(overrides)
        model = transformers.Qwen2ForCausalLM(transformers.Qwen2Config(**kw))
    else:
        raise ValueError(family)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 and name.endswith("weight"):  # norm gains
                p.uniform_(0.5, 1.5)
            else:
                p.normal_(0.0, 0.15)
    model.eval()
    model.save_pretrained(str(out_dir), safe_serialization=True)
    return model


def permute_like_converter(w, n_head, n_head_kv):
    """convert_hf_to_gguf.py's LlamaModel.permute: HF's rotate-half rope layout -> llama.cpp's pairwise one."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


ARCH = {"gpt2": "GPT2", "llama": "LLAMA", "qwen2": "QWEN2"}


def expected_gguf_tensors(family, model, qtype):
    """{gguf name: (ggml type, numpy array as stored)} as llama.cpp's converter writes the model: names from the gguf
    package's TensorNameMap, GPT-2 Conv1D transposed, Llama q/k permuted, 1-D / norm / position tensors F32, Q8_0 via
    gguf.quants (falling back to F16 where a row is not whole blocks), GPT-2's tied head stored as output.weight."""
    import gguf
    cfg = model.config
    n_layers = cfg.n_layer if family == "gpt2" else cfg.num_hidden_layers
    name_map = gguf.get_tensor_name_map(getattr(gguf.MODEL_ARCH, ARCH[family]), n_layers)
    tensors = {}
    for name, t in model.state_dict().items():
        if family == "gpt2" and name.endswith((".attn.bias", ".attn.masked_bias")):
            continue
        if family != "gpt2" and name == "lm_head.weight" and cfg.tie_word_embeddings:
            continue  # not in the safetensors file: tied
        data = t.detach().float().numpy()
        if family == "llama" and name.endswith(("q_proj.weight", "q_proj.bias")):
            data = permute_like_converter(data, cfg.num_attention_heads, cfg.num_attention_heads)
        if family == "llama" and name.endswith(("k_proj.weight", "k_proj.bias")):
            data = permute_like_converter(data, cfg.num_attention_heads, cfg.num_key_value_heads)
        if family == "gpt2" and name.endswith((".c_attn.weight", ".c_proj.weight", ".c_fc.weight")):
            data = np.ascontiguousarray(data.T)
        new_name = name_map.get_name(name, try_suffixes=(".weight", ".bias"))
        assert new_name is not None, name
        tensors[new_name] = data
    if family == "gpt2" and "output.weight" not in tensors:
        tensors["output.weight"] = tensors["token_embd.weight"]
    out = {}
    for name, data in tensors.items():
        if data.ndim <= 1 or name.endswith("_norm.weight") or name == "position_embd.weight":
            t = gguf.GGMLQuantizationType.F32
        else:
            t = qtype
        try:
            stored = gguf.quants.quantize(data.astype(np.float32), t)
        except gguf.QuantError:
            t = gguf.GGMLQuantizationType.F16
            stored = gguf.quants.quantize(data.astype(np.float32), t)
        out[name] = (t, stored)
    return out
