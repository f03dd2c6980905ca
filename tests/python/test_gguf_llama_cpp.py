"""llama.cpp itself (through llama-cpp-python, built from source by scripts/setup.sh) runs our GGUF export: its logits for
a prompt equal transformers' logits of the same HF model within the export type's tolerance, its greedy continuation
equals transformers' greedy continuation, and its tokenizer, reading our tokenizer metadata, gives HF's ids."""
import numpy as np
import pytest
import torch

from _gguf_models import GPT2_FILES, copy_gpt2_files, make_model, rlhf_export, train_bpe, train_spm

llama_cpp = pytest.importorskip(
    "llama_cpp", reason="llama-cpp-python is not installed: scripts/setup.sh builds it (requirements-llama.txt)")

PROMPT = "Human: What is the capital of France?\n\nAssistant: The capital of France is"
NEW_TOKENS = 12

# Largest |llama.cpp - transformers| logit difference allowed, as a fraction of the largest |logit|.
#  f32: llama.cpp computes in f32 (the KV cache is set to f32 below); GPT-2's GELU goes through ggml's fp16 lookup table
#       (ggml quantises the GELU input to fp16), hence its looser bound.
#  f16: ggml multiplies f16 weights with activations rounded to f16.
#  q8_0: weights and activations both 8-bit (mean error is checked too).
TOLERANCE = {("llama", "f32"): 2e-5, ("qwen2", "f32"): 2e-5, ("gpt2", "f32"): 2e-3,
             ("llama", "f16"): 1e-2, ("qwen2", "f16"): 1e-2, ("gpt2", "f16"): 1e-2,
             ("llama", "q8_0"): 0.1, ("gpt2", "q8_0"): 0.1}


class Case:
    def __init__(self, family, model, model_dir, hf_ids):
        self.family, self.model, self.model_dir, self.hf_ids = family, model, model_dir, hf_ids


def gpt2_case(root):
    from transformers import GPT2TokenizerFast
    model_dir = root / "gpt2"
    copy_gpt2_files(model_dir)
    hf_tok = GPT2TokenizerFast(vocab_file=str(GPT2_FILES / "vocab.json"), merges_file=str(GPT2_FILES / "merges.txt"))
    eos = hf_tok.convert_tokens_to_ids("<|endoftext|>")
    model = make_model("gpt2", model_dir, len(hf_tok), eos, eos)
    return Case("gpt2", model, model_dir, hf_tok.encode(PROMPT))


def bpe_case(root, family, pre, **overrides):
    model_dir = root / family
    tok = train_bpe(model_dir, pre, vocab_size=400)
    model = make_model(family, model_dir, tok.get_vocab_size(), tok.token_to_id("<|begin_of_text|>"),
                       tok.token_to_id("<|end_of_text|>"), **overrides)
    return Case(family, model, model_dir, tok.encode(PROMPT).ids)


def spm_case(root):
    model_dir = root / "llama-spm"
    sp = train_spm(model_dir)
    model = make_model("llama", model_dir, sp.get_piece_size(), sp.bos_id(), sp.eos_id())
    return Case("llama", model, model_dir, sp.encode(PROMPT))


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    root = tmp_path_factory.mktemp("gguf_llama_cpp")
    built = {}

    def get(name):
        if name not in built:
            if name == "gpt2":
                built[name] = gpt2_case(root)
            elif name == "llama":
                built[name] = bpe_case(root, "llama", "llama-bpe")
            elif name == "llama-bias-rope3":
                scaling = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                           "original_max_position_embeddings": 16}
                built[name] = bpe_case(root / name, "llama", "llama-bpe", attention_bias=True, rope_scaling=scaling)
            elif name == "llama-spm":
                built[name] = spm_case(root)
            elif name == "qwen2":
                built[name] = bpe_case(root, "qwen2", "qwen2")
        return built[name]
    return get


def load(path, dtype):
    # An f32 export is compared with an f32 KV cache (llama.cpp's default cache is f16). GGML type 0 = F32.
    kv = {"type_k": 0, "type_v": 0} if dtype == "f32" else {}
    return llama_cpp.Llama(model_path=str(path), n_ctx=128, n_batch=128, logits_all=True, n_threads=2, seed=0,
                           verbose=False, **kv)


def hf_logits(model, ids):
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].float().numpy()


def hf_greedy(model, ids, n):
    """Greedy continuation by transformers, with each step's logits (to judge near-ties)."""
    ids, steps = list(ids), []
    for _ in range(n):
        logits = hf_logits(model, ids)[-1]
        steps.append(logits)
        ids.append(int(np.argmax(logits)))
    return ids[-n:], steps


def llama_cpp_greedy(llm, ids, n):
    out = []
    for token in llm.generate(ids, top_k=1, top_p=1.0, min_p=0.0, temp=0.0, repeat_penalty=1.0, reset=True):
        out.append(int(token))
        if len(out) == n:
            break
    return out


@pytest.mark.parametrize("name,dtype", [
    ("gpt2", "f32"), ("gpt2", "f16"), ("gpt2", "q8_0"),
    ("llama", "f32"), ("llama", "f16"), ("llama", "q8_0"),
    ("llama-bias-rope3", "f32"), ("llama-spm", "f32"), ("qwen2", "f32"), ("qwen2", "f16"),
])
def test_llama_cpp_matches_transformers(cases, tmp_path, name, dtype):
    case = cases(name)
    path = rlhf_export(case.model_dir, tmp_path / f"{name}-{dtype}.gguf", dtype)
    llm = load(path, dtype)

    # llama.cpp's tokenizer, from our tokenizer metadata, splits the prompt as HF does.
    assert llm.tokenize(PROMPT.encode(), add_bos=False, special=False) == case.hf_ids

    ids = case.hf_ids
    llm.eval(ids)
    ours = np.array(llm.scores[:len(ids)], dtype=np.float32)
    theirs = hf_logits(case.model, ids)
    scale = float(np.abs(theirs).max())
    diff = np.abs(ours - theirs)
    tolerance = TOLERANCE[(case.family, dtype)] * scale
    assert diff.max() <= tolerance, f"max |diff| {diff.max():.3g} > {tolerance:.3g} (max |logit| {scale:.3g})"
    if dtype == "q8_0":
        assert diff.mean() <= 0.02 * scale, f"mean |diff| {diff.mean():.3g}"
        return  # 8-bit logits are close, not close enough to promise the same argmax at every step

    # Greedy continuation: equal token for token. Where they part, transformers' top two must have been within the
    # tolerance of each other (a near-tie that rounding may break either way), else the export is wrong.
    expected, steps = hf_greedy(case.model, ids, NEW_TOKENS)
    got = llama_cpp_greedy(llm, ids, NEW_TOKENS)
    for i, (a, b) in enumerate(zip(got, expected)):
        if a != b:
            gap = steps[i][b] - steps[i][a]
            assert gap <= 2 * tolerance, f"step {i}: llama.cpp chose {a}, transformers {b} (logit gap {gap:.3g})"
            break
    else:
        assert got == expected
