"""`rlhf export-gguf` read back by the `gguf` package (llama.cpp's own reader): every tensor bit-identical to what
llama.cpp's converter produces from the same HF weights (computed in numpy here), every metadata key llama.cpp's loader
needs present with the config's values, and the tokenizer metadata equal to the HF tokenizer's."""
import json

import gguf
import numpy as np
import pytest

from _gguf_models import expected_gguf_tensors, make_model, rlhf_export, train_bpe, train_spm

Q = gguf.GGMLQuantizationType

# What llama.cpp's loader reads without a default (llama-model.cpp load_hparams / llama-vocab.cpp load), per architecture.
REQUIRED_KEYS = {
    "common": ["general.architecture", "{arch}.context_length", "{arch}.embedding_length", "{arch}.block_count",
               "{arch}.feed_forward_length", "{arch}.attention.head_count", "tokenizer.ggml.model",
               "tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.pre", "tokenizer.ggml.merges",
               "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "general.file_type"],
    "gpt2": ["{arch}.attention.layer_norm_epsilon"],
    "llama": ["{arch}.attention.head_count_kv", "{arch}.attention.layer_norm_rms_epsilon", "{arch}.rope.freq_base",
              "{arch}.rope.dimension_count"],
    "qwen2": ["{arch}.attention.head_count_kv", "{arch}.attention.layer_norm_rms_epsilon", "{arch}.rope.freq_base",
              "{arch}.rope.dimension_count"],
}
FILE_TYPE = {"f32": 0, "f16": 1, "q8_0": 7}
QTYPE = {"f32": Q.F32, "f16": Q.F16, "q8_0": Q.Q8_0}
PRE = {"gpt2": "gpt-2", "llama": "llama-bpe", "qwen2": "qwen2"}


def field(reader, key):
    f = reader.get_field(key)
    assert f is not None, f"metadata key {key} missing"
    return f.contents()


def build(tmp_path, family, extra_vocab=0, **overrides):
    model_dir = tmp_path / family
    tok = train_bpe(model_dir, PRE[family])
    vocab = tok.get_vocab_size() + extra_vocab
    bos, eos = tok.token_to_id("<|begin_of_text|>"), tok.token_to_id("<|end_of_text|>")
    model = make_model(family, model_dir, vocab, bos, eos, **overrides)
    return model_dir, tok, model


def check_tensors(reader, expected):
    got = {t.name: t for t in reader.tensors}
    assert sorted(got) == sorted(expected), f"tensor names differ: {sorted(set(got) ^ set(expected))}"
    for name, (qtype, data) in expected.items():
        t = got[name]
        assert t.tensor_type == qtype, f"{name}: {t.tensor_type.name} instead of {qtype.name}"
        if qtype in (Q.F32, Q.F16):
            assert list(t.shape) == list(reversed(data.shape)), f"{name}: ggml dims {list(t.shape)}"
        # Bit-identical: compare the raw bytes.
        assert t.data.tobytes() == np.ascontiguousarray(data).tobytes(), f"{name}: bytes differ"


def check_metadata(reader, family, model, tok, dtype, extra_vocab):
    arch = family
    cfg = model.config
    for key in REQUIRED_KEYS["common"] + REQUIRED_KEYS[family]:
        assert reader.get_field(key.format(arch=arch)) is not None, f"{key} missing"
    assert field(reader, "general.architecture") == arch
    assert field(reader, "general.file_type") == FILE_TYPE[dtype]
    assert reader.alignment == 32
    if family == "gpt2":
        hidden, layers, heads, ff, ctx = cfg.n_embd, cfg.n_layer, cfg.n_head, cfg.n_inner or 4 * cfg.n_embd, cfg.n_positions
        assert field(reader, f"{arch}.attention.layer_norm_epsilon") == pytest.approx(cfg.layer_norm_epsilon, rel=1e-6)
    else:
        hidden, layers, heads, ff = cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads, cfg.intermediate_size
        ctx = cfg.max_position_embeddings
        assert field(reader, f"{arch}.attention.head_count_kv") == cfg.num_key_value_heads
        assert field(reader, f"{arch}.attention.layer_norm_rms_epsilon") == pytest.approx(cfg.rms_norm_eps, rel=1e-6)
        assert field(reader, f"{arch}.rope.freq_base") == pytest.approx(cfg.rope_theta)
        assert field(reader, f"{arch}.rope.dimension_count") == hidden // heads
    assert field(reader, f"{arch}.context_length") == ctx
    assert field(reader, f"{arch}.embedding_length") == hidden
    assert field(reader, f"{arch}.block_count") == layers
    assert field(reader, f"{arch}.attention.head_count") == heads
    assert field(reader, f"{arch}.feed_forward_length") == ff

    # Tokenizer: HF's vocabulary in id order (padded to the model's vocab_size), its merges, special tokens as control.
    vocab = tok.get_vocab()
    by_id = {i: t for t, i in vocab.items()}
    tokens = [by_id[i] for i in range(len(by_id))] + [f"[PAD{i}]" for i in range(len(by_id), len(by_id) + extra_vocab)]
    assert field(reader, "tokenizer.ggml.model") == "gpt2"
    assert field(reader, "tokenizer.ggml.pre") == PRE[family]
    assert field(reader, "tokenizer.ggml.tokens") == tokens
    specials = {tok.token_to_id("<|begin_of_text|>"), tok.token_to_id("<|end_of_text|>")}
    types = [3 if i in specials else 1 for i in range(len(by_id))] + [5] * extra_vocab
    assert field(reader, "tokenizer.ggml.token_type") == types
    merges = json.loads(tok.to_str())["model"]["merges"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in merges]
    assert field(reader, "tokenizer.ggml.merges") == merges
    assert field(reader, "tokenizer.ggml.bos_token_id") == tok.token_to_id("<|begin_of_text|>")
    assert field(reader, "tokenizer.ggml.eos_token_id") == tok.token_to_id("<|end_of_text|>")


@pytest.mark.parametrize("family", ["gpt2", "llama", "qwen2"])
@pytest.mark.parametrize("dtype", ["f32", "f16", "q8_0"])
def test_gguf_package_reads_our_export(tmp_path, family, dtype):
    extra_vocab = 5 if family == "qwen2" else 0  # a model vocabulary larger than the tokenizer's: padded
    model_dir, tok, model = build(tmp_path, family, extra_vocab)
    out = rlhf_export(model_dir, tmp_path / f"{family}-{dtype}.gguf", dtype)
    reader = gguf.GGUFReader(out)
    check_tensors(reader, expected_gguf_tensors(family, model, QTYPE[dtype]))
    check_metadata(reader, family, model, tok, dtype, extra_vocab)


def test_llama_rope_scaling_and_attention_bias(tmp_path):
    """Llama with biases on q/k/v/o (permuted like the weights) and llama3 rope scaling (a rope_freqs tensor)."""
    scaling = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 64}
    model_dir, tok, model = build(tmp_path, "llama", attention_bias=True, rope_scaling=scaling)
    out = rlhf_export(model_dir, tmp_path / "llama3.gguf", "f32")
    reader = gguf.GGUFReader(out)
    expected = expected_gguf_tensors("llama", model, Q.F32)
    assert "blk.0.attn_q.bias" in expected and "blk.0.attn_output.bias" in expected
    # transformers' own llama3 rope: inv_freq after scaling over inv_freq before is 1 / factor per rotated pair.
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
    scaled, _ = ROPE_INIT_FUNCTIONS["llama3"](model.config, "cpu")
    cfg = model.config
    head_dim = cfg.hidden_size // cfg.num_attention_heads
    base = cfg.rope_theta ** -(np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    rope_factors = base / scaled.double().numpy()
    got = {t.name: t for t in reader.tensors}
    assert "rope_freqs.weight" in got
    np.testing.assert_allclose(got.pop("rope_freqs.weight").data, rope_factors, rtol=1e-5)
    assert len(set(rope_factors.round(4))) > 2, "the test model should hit the smooth part of llama3's ramp"
    reader.tensors = list(got.values())
    check_tensors(reader, expected)
    assert reader.get_field("llama.rope.scaling.type") is None  # llama3 travels as rope_freqs only


def test_sentencepiece_tokenizer_metadata(tmp_path):
    """A Llama with a SentencePiece tokenizer.model: llama.cpp's "llama" tokenizer with sentencepiece's pieces, scores
    and piece types, padded to the model's vocab_size."""
    sp = train_spm(tmp_path / "spm")
    n = sp.get_piece_size()
    model = make_model("llama", tmp_path / "spm", n + 3, sp.bos_id(), sp.eos_id())
    reader = gguf.GGUFReader(rlhf_export(tmp_path / "spm", tmp_path / "spm.gguf", "f16"))
    check_tensors(reader, expected_gguf_tensors("llama", model, Q.F16))
    assert field(reader, "tokenizer.ggml.model") == "llama"
    assert field(reader, "tokenizer.ggml.pre") == "default"
    assert field(reader, "tokenizer.ggml.tokens") == [sp.id_to_piece(i) for i in range(n)] + [
        f"[PAD{i}]" for i in range(n, n + 3)]
    assert field(reader, "tokenizer.ggml.scores") == pytest.approx([sp.get_score(i) for i in range(n)] + [-1000.0] * 3)

    def piece_type(i):
        return (2 if sp.is_unknown(i) else 3 if sp.is_control(i) else 6 if sp.is_byte(i) else 5 if sp.is_unused(i)
                else 1)
    assert field(reader, "tokenizer.ggml.token_type") == [piece_type(i) for i in range(n)] + [5] * 3
    assert reader.get_field("tokenizer.ggml.merges") is None
    assert field(reader, "tokenizer.ggml.unknown_token_id") == sp.unk_id()
    assert field(reader, "tokenizer.ggml.bos_token_id") == sp.bos_id()
    assert field(reader, "tokenizer.ggml.eos_token_id") == sp.eos_id()


def test_linear_rope_scaling_keys(tmp_path):
    model_dir, _, _ = build(tmp_path, "qwen2", rope_scaling={"rope_type": "linear", "factor": 2.0})
    reader = gguf.GGUFReader(rlhf_export(model_dir, tmp_path / "linear.gguf", "f16"))
    assert field(reader, "qwen2.rope.scaling.type") == "linear"
    assert field(reader, "qwen2.rope.scaling.factor") == 2.0


def test_export_errors_are_clear(tmp_path):
    import subprocess
    from _gguf_models import RLHF
    model_dir, _, _ = build(tmp_path, "llama")
    bad = subprocess.run([str(RLHF), "export-gguf", "--model", str(model_dir), "--out", str(tmp_path / "x.gguf"),
                          "--dtype", "q4_k"], capture_output=True, text=True)
    assert bad.returncode != 0 and "f32, f16 or q8_0" in bad.stderr
    (model_dir / "model.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    bad = subprocess.run([str(RLHF), "export-gguf", "--model", str(model_dir), "--out", str(tmp_path / "x.gguf")],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "token_embd.weight" in bad.stderr, bad.stderr
    assert not (tmp_path / "x.gguf").exists()
