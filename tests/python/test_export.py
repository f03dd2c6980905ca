"""`rlhf export` checked by the tools that load its output.

- --format hf, causal LMs (GPT-2 sharded, Llama in bfloat16, Qwen2 with generation options): transformers'
  AutoModelForCausalLM loads the directory and its logits equal transformers' logits of the source (fp32: 1e-4; bf16:
  the stored weights are bit-for-bit the source's rounded to bf16, see test_hf_export_causal_lm); config.json names the
  architecture and torch_dtype; transformers.GenerationConfig loads generation_config.json.
- --format hf, reward models (a GPT-2 RM trained by `rlhf rm` with pad == eos; random ones saved by transformers: Llama
  with no pad id, Qwen2 with unused embedding rows and pad == eos, GPT-2 with only vocab.json + merges.txt, Llama with only
  a SentencePiece tokenizer.model): AutoModelForSequenceClassification + AutoTokenizer on the export, on a
  tokenizer-padded batch of two texts that end with EOS, give exactly our reward (`rlhf forward`'s score at the last real
  token) within 1e-4 — while the source directory, loaded the same way, gives other numbers (or refuses the batch).
- --format gguf: llama.cpp's greedy continuation equals `rlhf generate`'s greedy tokens for the same ids.
- Bad input (missing directory, bad dtype, bad shard size, --out equal to --model, an option of the other format):
  a non-zero exit with a message that says what was expected.
"""
import json
import os
import subprocess

import pytest
import torch
import transformers
from safetensors.torch import load_file

from _gguf_models import copy_gpt2_files, make_model, train_bpe, train_spm

ENV = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="passive")  # see test_stages_cli.py: tiny models, busy box
PRE = {"gpt2": "gpt-2", "llama": "llama-bpe", "qwen2": "qwen2"}
BOS, EOS = "<|begin_of_text|>", "<|end_of_text|>"


def rlhf(rlhf_bin, *args, check=True):
    result = subprocess.run([str(rlhf_bin), *map(str, args)], capture_output=True, text=True, timeout=600, env=ENV)
    if check and result.returncode != 0:
        raise AssertionError(f"rlhf {' '.join(map(str, args))} failed ({result.returncode}):\n{result.stderr}")
    return result


def build(root, family, extra_vocab=0, **overrides):
    """A tiny random causal LM with a byte-level BPE tokenizer.json (BOS/EOS specials), saved by transformers."""
    model_dir = root / family
    tok = train_bpe(model_dir, PRE[family])
    model = make_model(family, model_dir, tok.get_vocab_size() + extra_vocab, tok.token_to_id(BOS),
                       tok.token_to_id(EOS), **overrides)
    return model_dir, tok, model


def sample_ids(vocab_size, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab_size, (2, 11), generator=g)


def logits_of(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits.float()


def rlhf_scores(rlhf_bin, model_dir, rows, tmp_path):
    """`rlhf forward`'s scalar head at each row's last real token (rows right-padded with id 0 and masked)."""
    from test_stages_cli import right_padded, rlhf_forward
    ids, mask = right_padded(rows, 0)
    scores = rlhf_forward(rlhf_bin, model_dir, ids, mask, tmp_path)["scores"]
    return scores[torch.arange(len(rows)), mask.sum(1) - 1]


# ------------------------------------------------------------------------------------------------- causal LMs, hf

@pytest.mark.parametrize("family,options", [
    ("gpt2", ["--max_shard_size", "100KB"]),
    ("llama", ["--dtype", "bfloat16"]),
    ("qwen2", ["--do_sample", "true", "--temperature", "0.7", "--top_p", "0.9", "--max_new_tokens", "20"]),
])
def test_hf_export_causal_lm(rlhf_bin, tmp_path, family, options):
    src, tok, source = build(tmp_path, family)
    if family == "qwen2":  # no generation_config.json in the source: the export writes one from config + options
        (src / "generation_config.json").unlink()
    out = tmp_path / "out"
    rlhf(rlhf_bin, "export", "--model", src, "--out", out, "--format", "hf", *options)

    dtype = "bfloat16" if "bfloat16" in options else "float32"
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == [type(source).__name__], config["architectures"]
    assert config["torch_dtype"] == dtype
    for name in ("tokenizer.json", "tokenizer_config.json"):
        assert (out / name).read_bytes() == (src / name).read_bytes(), name  # causal LMs: copied unchanged

    generation = transformers.GenerationConfig.from_pretrained(out)
    assert generation.eos_token_id == tok.token_to_id(EOS) and generation.bos_token_id == tok.token_to_id(BOS)
    if family == "qwen2":
        assert (generation.do_sample, generation.temperature, generation.top_p, generation.max_new_tokens) == \
               (True, 0.7, 0.9, 20)
    else:
        assert json.loads((out / "generation_config.json").read_text()) == \
               json.loads((src / "generation_config.json").read_text())

    ids = sample_ids(tok.get_vocab_size())
    exported = transformers.AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    if dtype == "float32":
        diff = (logits_of(exported, ids) - logits_of(source, ids)).abs().max()
        assert diff <= 1e-4, diff
    else:
        # The file holds the source's weights rounded to bf16, bit for bit (round-to-nearest-even, as torch rounds).
        stored = {}
        for f in out.glob("*.safetensors"):
            stored.update(load_file(f))
        assert stored and set(stored) <= set(source.state_dict())
        for name, p in source.state_dict().items():
            if name in stored:
                assert stored[name].dtype == torch.bfloat16, name
                assert torch.equal(stored[name], p.to(torch.bfloat16)), name
        # So, computed in fp32, the export's logits are those of the source with bf16-rounded weights (1e-4, as fp32)...
        rounded = transformers.AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32).eval()
        with torch.no_grad():
            for p in rounded.parameters():
                p.copy_(p.to(torch.bfloat16).float())
        reference = logits_of(rounded, ids)
        assert (logits_of(exported, ids) - reference).abs().max() <= 1e-4
        # ...and run in bf16 they match the source run in bf16 (same weights, same kernels), and the fp32 reference
        # within bf16's precision: 8 significand bits give a relative rounding error of 2^-9 per operation, which over
        # two layers of matmuls, norms and softmax stays within a few percent of the largest logit.
        exported_bf16 = transformers.AutoModelForCausalLM.from_pretrained(out, dtype=torch.bfloat16).eval()
        source_bf16 = transformers.AutoModelForCausalLM.from_pretrained(src, dtype=torch.bfloat16).eval()
        got = logits_of(exported_bf16, ids)
        print(f"\nbf16 logits: max |bf16 run - fp32 run of the rounded weights| {(got - reference).abs().max():.3g}, "
              f"max |logit| {reference.abs().max():.3g}")
        assert (got - logits_of(source_bf16, ids)).abs().max() <= 1e-6
        assert (got - reference).abs().max() <= 0.03 * reference.abs().max()

    if family == "gpt2":
        index = json.loads((out / "model.safetensors.index.json").read_text())
        shards = sorted(set(index["weight_map"].values()))
        assert len(shards) > 1 and not (out / "model.safetensors").exists()
        for shard in shards:  # each under the limit, unless one tensor alone is larger (as transformers does)
            tensors = load_file(out / shard)
            assert (out / shard).stat().st_size <= 100_000 + 1000 or len(tensors) == 1, shard
        # Our own loader reads the shards back: `rlhf forward` equals transformers on the export.
        from test_stages_cli import rlhf_forward
        ours = rlhf_forward(rlhf_bin, out, ids, torch.ones_like(ids), tmp_path)["logits"]
        assert (ours - logits_of(exported, ids)).abs().max() <= 1e-4
        # Exporting again into the same directory, unsharded, leaves no stale shards or index behind.
        rlhf(rlhf_bin, "export", "--model", src, "--out", out)
        assert (out / "model.safetensors").exists() and not (out / "model.safetensors.index.json").exists()
        assert not list(out.glob("model-*-of-*.safetensors"))
        reloaded = transformers.AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
        assert (logits_of(reloaded, ids) - logits_of(source, ids)).abs().max() <= 1e-4


# ------------------------------------------------------------------------------------------------- reward models, hf

def gpt2_reward_model(rlhf_bin, root):
    """`rlhf rm` on test_stages_cli's tiny world: a GPT-2 tokenizer with <|endoftext|> as bos, eos and pad, so the RM's
    config has pad == eos, and reward_normalization.json beside it."""
    from test_stages_cli import EOT, make_world
    files, base, tokenizer = make_world(root)
    rm = root / "rm"
    rlhf(rlhf_bin, "rm", "--model_name_or_path", base, "--dataset", files["rankings"], "--normalize_dataset",
         files["sft_eval"], "--max_steps", "6", "--per_device_train_batch_size", "2", "--learning_rate", "1e-2",
         "--max_length", "48", "--device", "cpu", "--quiet", "true", "--seed", "3", "--output_dir", rm)
    texts = ["Instruction: What is 3 plus 4?\nResponse: 7.", "Instruction: What is 9 plus 0?\nResponse: I do not know."]
    return rm, tokenizer.convert_tokens_to_ids(EOT), [t + EOT for t in texts]


def transformers_reward_model(root, family, vocab_extra, pad_is_eos):
    """A random *ForSequenceClassification saved by transformers, with a byte-level BPE tokenizer.json: `pad_is_eos` sets
    pad_token_id = eos, else there is none."""
    model_dir = root / family
    tok = train_bpe(model_dir, PRE[family])
    (model_dir / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": BOS, "eos_token": EOS}
        | ({"pad_token": EOS} if pad_is_eos else {})))
    eos = tok.token_to_id(EOS)
    save_classifier(model_dir, family, tok.get_vocab_size() + vocab_extra, tok.token_to_id(BOS), eos,
                    eos if pad_is_eos else None)
    texts = ["The reward model reads this answer.", "Tokenizers split text into pieces; a longer answer here."]
    return model_dir, eos, [t + EOS for t in texts]


def save_classifier(model_dir, family, vocab_size, bos, eos, pad):
    torch.manual_seed(1)
    if family == "gpt2":
        model = transformers.GPT2ForSequenceClassification(transformers.GPT2Config(
            vocab_size=vocab_size, n_embd=32, n_layer=2, n_head=4, n_positions=128, bos_token_id=bos, eos_token_id=eos,
            pad_token_id=pad, num_labels=1))
    else:
        common = dict(vocab_size=vocab_size, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                      max_position_embeddings=128, bos_token_id=bos, eos_token_id=eos, pad_token_id=pad, num_labels=1)
        model = (transformers.LlamaForSequenceClassification(
                     transformers.LlamaConfig(hidden_size=64, intermediate_size=96, **common)) if family == "llama" else
                 transformers.Qwen2ForSequenceClassification(
                     transformers.Qwen2Config(hidden_size=48, intermediate_size=96, **common)))
    with torch.no_grad():
        for name, p in model.named_parameters():  # as _gguf_models.make_model: norm gains around 1, the rest random
            if p.dim() == 1 and name.endswith("weight"):
                p.uniform_(0.5, 1.5)
            else:
                p.normal_(0.0, 0.15)
    model.save_pretrained(model_dir)


def gpt2_vocab_merges_reward_model(root):
    """GPT-2's real vocab.json + merges.txt and nothing else (no tokenizer_config.json: the export must create it)."""
    model_dir = root / "gpt2-vocab"
    copy_gpt2_files(model_dir)
    save_classifier(model_dir, "gpt2", 50257, 50256, 50256, 50256)
    texts = ["Hello world", "A longer text, here it is."]
    return model_dir, 50256, [t + "<|endoftext|>" for t in texts]


def sentencepiece_reward_model(root):
    """A SentencePiece tokenizer.model only (Llama 2 style: unk/bos/eos 0/1/2, no pad)."""
    model_dir = root / "llama-spm"
    sp = train_spm(model_dir)
    (model_dir / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "LlamaTokenizer", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
         "add_bos_token": True}))
    save_classifier(model_dir, "llama", sp.get_piece_size(), sp.bos_id(), sp.eos_id(), None)
    texts = ["The reward model reads this answer.", "Tokenizers split text into pieces; a longer answer here."]
    return model_dir, sp.eos_id(), [t + "</s>" for t in texts]


@pytest.mark.parametrize("case", ["gpt2-rm-pad-is-eos", "llama-no-pad", "qwen2-unused-rows-pad-is-eos",
                                  "gpt2-vocab-merges-pad-is-eos", "llama-sentencepiece-no-pad"])
def test_hf_export_reward_model_scores_as_we_do(rlhf_bin, tmp_path, case):
    if case.startswith("gpt2-rm"):
        src, eos, texts = gpt2_reward_model(rlhf_bin, tmp_path)
    elif case == "llama-no-pad":
        src, eos, texts = transformers_reward_model(tmp_path, "llama", 0, pad_is_eos=False)
    elif case.startswith("qwen2"):
        src, eos, texts = transformers_reward_model(tmp_path, "qwen2", 8, pad_is_eos=True)
    elif case.startswith("gpt2-vocab"):
        src, eos, texts = gpt2_vocab_merges_reward_model(tmp_path)
    else:
        src, eos, texts = sentencepiece_reward_model(tmp_path)
    # The slow LlamaTokenizer for tokenizer.model: the fast one's conversion needs protobuf, which the venv lacks.
    use_fast = "sentencepiece" not in case
    source_config = json.loads((src / "config.json").read_text())
    out = tmp_path / "out"
    printed = rlhf(rlhf_bin, "export", "--model", src, "--out", out).stdout
    assert "reward model padding" in printed, printed

    config = json.loads((out / "config.json").read_text())
    assert config["architectures"][0].endswith("ForSequenceClassification") and len(config["id2label"]) == 1
    pad = config["pad_token_id"]
    assert pad is not None and pad != eos
    tokenizer = transformers.AutoTokenizer.from_pretrained(out, use_fast=use_fast)
    assert tokenizer.pad_token_id == pad and tokenizer.eos_token_id == eos
    # Where the pad id went: the tokenizer's next id, inside the embedding (Qwen2's unused rows) or one row past it.
    expected_vocab = source_config["vocab_size"] + (0 if case.startswith("qwen2") else 1)
    assert config["vocab_size"] == expected_vocab and pad == len(tokenizer) - 1

    # input_ids and attention_mask only: GPT-2 would add wte(token_type_ids) if the tokenizer's zeros were passed on.
    encoded = tokenizer(texts, padding=True, return_tensors="pt")
    batch = {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}
    lengths = batch["attention_mask"].sum(1)
    assert lengths[0] != lengths[1]  # one row is padded
    rows = [batch["input_ids"][i, :n].tolist() for i, n in enumerate(lengths)]
    assert all(row[-1] == eos for row in rows)
    source_tokenizer = transformers.AutoTokenizer.from_pretrained(src, use_fast=use_fast)
    assert rows == [source_tokenizer(t)["input_ids"] for t in texts]  # the added pad changed no tokenization

    model = transformers.AutoModelForSequenceClassification.from_pretrained(out, dtype=torch.float32).eval()
    with torch.no_grad():
        theirs = model(**batch).logits[:, 0]
    ours = rlhf_scores(rlhf_bin, src, rows, tmp_path)
    assert torch.allclose(theirs, ours, atol=1e-4), (theirs, ours)
    assert torch.allclose(rlhf_scores(rlhf_bin, out, rows, tmp_path), ours, atol=1e-5)  # we read the export too

    # Without the fix transformers scores something else: the same batch padded with the source's pad id (= eos) pools
    # at the token before the closing EOS, and with no pad id a batch is refused.
    source_model = transformers.AutoModelForSequenceClassification.from_pretrained(src, dtype=torch.float32).eval()
    source_pad = source_config.get("pad_token_id")
    unfixed_ids = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, eos if source_pad is None else source_pad)
    if source_pad is None:
        with pytest.raises(ValueError, match="padding token"):
            source_model(input_ids=unfixed_ids, attention_mask=batch["attention_mask"])
    else:
        with torch.no_grad():
            unfixed = source_model(input_ids=unfixed_ids, attention_mask=batch["attention_mask"]).logits[:, 0]
        assert (unfixed - ours).abs().min() > 1e-3, (unfixed, ours)
        print(f"\n{case}: ours {ours.tolist()}, transformers on the export {theirs.tolist()}, "
              f"on the source {unfixed.tolist()}")

    if case.startswith("gpt2-rm"):
        offset = json.loads((src / "reward_normalization.json").read_text())["offset"]
        assert (out / "reward_normalization.json").read_bytes() == (src / "reward_normalization.json").read_bytes()
        assert config["rlhf_reward_offset"] == pytest.approx(offset, abs=1e-12)
        assert "rlhf_reward_offset" in printed
    else:
        assert "rlhf_reward_offset" not in config


# ------------------------------------------------------------------------------------------------- gguf vs rlhf generate

@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_gguf_greedy_equals_rlhf_generate(rlhf_bin, tmp_path, family):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed: scripts/setup.sh builds it "
                                            "(requirements-llama.txt)")
    from test_gguf_llama_cpp import NEW_TOKENS, PROMPT, TOLERANCE, hf_greedy, llama_cpp_greedy, load
    src, tok, source = build(tmp_path, family)
    gguf_path = tmp_path / f"{family}.gguf"
    rlhf(rlhf_bin, "export", "--model", src, "--out", gguf_path, "--format", "gguf", "--dtype", "f32")
    # One code path: export-gguf writes the same bytes.
    rlhf(rlhf_bin, "export-gguf", "--model", src, "--out", tmp_path / "alias.gguf", "--dtype", "f32")
    assert (tmp_path / "alias.gguf").read_bytes() == gguf_path.read_bytes()

    ids = tok.encode(PROMPT).ids
    (tmp_path / "ids.jsonl").write_text(json.dumps({"ids": ids}) + "\n")
    generated = rlhf(rlhf_bin, "generate", "--model", src, "--ids", tmp_path / "ids.jsonl", "--do_sample", "false",
                     "--max_new_tokens", NEW_TOKENS, "--eos_token_id", -1).stdout
    ours = json.loads(generated.splitlines()[0])["ids"]
    got = llama_cpp_greedy(load(gguf_path, "f32"), ids, NEW_TOKENS)
    assert len(ours) == NEW_TOKENS
    # Token for token; where they part, the two candidates must have been a near-tie in transformers' logits (llama.cpp's
    # f32 tolerance of test_gguf_llama_cpp.py), else one of the two is wrong.
    expected, steps = hf_greedy(source, ids, NEW_TOKENS)
    tolerance = TOLERANCE[(family, "f32")] * max(float(abs(s).max()) for s in steps)
    for i, (a, b) in enumerate(zip(got, ours)):
        if a != b:
            gap = abs(steps[i][a] - steps[i][b])
            assert gap <= 2 * tolerance, f"step {i}: llama.cpp chose {a}, rlhf generate {b} (logit gap {gap:.3g})"
            break
    else:
        assert got == ours
    print(f"\n{family}: llama.cpp {got}\n{' ' * len(family)}  rlhf     {ours}")


# ------------------------------------------------------------------------------------------------- errors

def test_export_errors_are_clear(rlhf_bin, tmp_path):
    src, _, _ = build(tmp_path, "llama")
    out = tmp_path / "out"
    cases = [
        (["--model", tmp_path / "missing", "--out", out], "no such directory"),
        (["--model", tmp_path, "--out", out], "no config.json"),
        (["--model", src, "--out", out, "--dtype", "float8"], "float32, bfloat16 or float16"),
        (["--model", src, "--out", out, "--format", "gguf", "--dtype", "q4_k"], "f32, f16 or q8_0"),
        (["--model", src, "--out", out, "--max_shard_size", "2 GB"], "a size such as 2GB"),
        (["--model", src, "--out", out, "--max_shard_size", "10XB"], "a size such as 2GB"),
        (["--model", src, "--out", out, "--max_shard_size", "0"], "a size such as 2GB"),
        (["--model", src, "--out", src], "a path other than the model directory"),
        (["--model", src, "--out", src / ".", "--format", "gguf"], "a path other than the model directory"),
        (["--model", src, "--out", out, "--format", "onnx"], "hf or gguf"),
        (["--model", src, "--out", out, "--format", "gguf", "--max_shard_size", "1GB"], "an option of --format hf"),
    ]
    for args, message in cases:
        result = rlhf(rlhf_bin, "export", *args, check=False)
        assert result.returncode == 1, (args, result.returncode, result.stderr)  # an error, not a crash (signal)
        assert message in result.stderr, (args, result.stderr)
    assert not out.exists()  # nothing was written by any of them
