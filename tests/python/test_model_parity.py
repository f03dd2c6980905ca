"""Our transformer against transformers' on tiny random GPT-2, Llama (GQA, llama3 RoPE scaling, untied) and Qwen2 models
that transformers itself creates and saves: logits on a left-padded batch within 1e-4 (fp32), and 32 greedy tokens per
row equal to transformers' generate."""
import json

import pytest
import torch
import transformers
from safetensors.torch import load_file, save_file

from conftest import run_rlhf

VOCAB = 120


def make_model(family):
    torch.manual_seed({"gpt2": 1, "llama": 2, "qwen2": 3}[family])
    if family == "gpt2":
        config = transformers.GPT2Config(vocab_size=VOCAB, n_embd=64, n_layer=2, n_head=4, n_positions=128,
                                         bos_token_id=0, eos_token_id=1, pad_token_id=2)
        model = transformers.GPT2LMHeadModel(config)
    elif family == "llama":
        config = transformers.LlamaConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                                          num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                                          rope_theta=500000.0, tie_word_embeddings=False,
                                          rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                        "high_freq_factor": 4.0,
                                                        "original_max_position_embeddings": 32},
                                          bos_token_id=0, eos_token_id=1, pad_token_id=2)
        model = transformers.LlamaForCausalLM(config)
    else:
        config = transformers.Qwen2Config(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                                          num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                                          tie_word_embeddings=True, bos_token_id=0, eos_token_id=1, pad_token_id=2)
        model = transformers.Qwen2ForCausalLM(config)
    # Larger weights than HF's 0.02 so that next-token distributions are peaked and greedy choices are not ties.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" not in name and "ln_" not in name and p.dim() > 1:
                p.normal_(0.0, 0.25)
            elif "bias" in name:
                p.normal_(0.0, 0.1)
    return model.eval()


def left_padded_batch():
    rows = [[5, 17, 33, 8, 90, 41, 7, 12], [44, 3, 61], [9, 99, 23, 23, 70]]
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), 2, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, width - len(row):] = torch.tensor(row)
        mask[i, width - len(row):] = 1
    return rows, ids, mask


@pytest.fixture(scope="module", params=["gpt2", "llama", "qwen2"])
def saved_model(request, tmp_path_factory):
    family = request.param
    model = make_model(family)
    path = tmp_path_factory.mktemp(family)
    # The Llama model is saved in shards to exercise model.safetensors.index.json.
    model.save_pretrained(path, safe_serialization=True, max_shard_size="100KB" if family == "llama" else "5GB")
    if family == "llama":
        assert (path / "model.safetensors.index.json").exists()
    return family, model, path


def test_logits_match_transformers(saved_model, rlhf_bin, tmp_path):
    family, model, path = saved_model
    _, ids, mask = left_padded_batch()
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        expected = model(input_ids=ids, attention_mask=mask, position_ids=positions).logits
    save_file({"input_ids": ids, "attention_mask": mask}, tmp_path / "in.safetensors")
    run_rlhf(rlhf_bin, "forward", "--model", path, "--input", tmp_path / "in.safetensors",
             "--output", tmp_path / "out.safetensors")
    ours = load_file(tmp_path / "out.safetensors")["logits"]
    real = mask.bool()
    assert ours.shape == expected.shape
    diff = (ours[real] - expected[real]).abs().max().item()
    assert diff < 1e-4, f"{family}: max |logit difference| {diff}"


def test_greedy_generation_matches_transformers(saved_model, rlhf_bin, tmp_path):
    family, model, path = saved_model
    rows, ids, mask = left_padded_batch()
    with torch.no_grad():
        expected = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=32, do_sample=False,
                                  pad_token_id=2, eos_token_id=None)[:, ids.shape[1]:]
    prompts = "".join(json.dumps({"ids": row}) + "\n" for row in rows)
    out = run_rlhf(rlhf_bin, "generate", "--model", path, "--ids", "-", "--max_new_tokens", 32, "--do_sample", "false",
                   "--eos_token_id", -1, input=prompts).stdout
    results = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert len(results) == len(rows)
    for i, result in enumerate(results):
        assert result["ids"] == expected[i].tolist(), f"{family} row {i}"
