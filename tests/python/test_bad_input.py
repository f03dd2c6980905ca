"""Bad input caught before training, through the CLI on the tiny world of test_stages_cli.py: each case of BAD_INPUTS
(broken or hostile model files, configs, tokenizers, datasets and options) gives exit 1 and an `error: ...` line naming
the file, what was expected and what was found, before the first step. With RLHF_BAD_INPUT_TABLE=FILE the messages are
written as the Markdown table of README.md's "Bad input" section. (Kills, full disks, damaged checkpoints, non-finite
steps and the output folder: test_reliability.py.)
"""
import json
import os
import shutil
import subprocess

import pytest
import torch
import transformers
from safetensors.torch import load_file, save_file

from test_stages_cli import ENV, make_world


def rlhf(rlhf_bin, *args):
    return subprocess.run([str(rlhf_bin), "--threads", "1", *map(str, args)], capture_output=True, text=True,
                          timeout=600, env=ENV)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-input")
    files, base, tokenizer = make_world(root)
    return {"root": root, "files": files, "base": base, "tokenizer": tokenizer}


def small_model(world, tmp_path, name, vocab_size=None, n_positions=128, classifier=False):
    """A GPT-2 beside a copy of the world's tokenizer files, saved by transformers."""
    folder = tmp_path / name
    tokenizer = world["tokenizer"]
    tokenizer.save_pretrained(folder)
    eot = tokenizer.eos_token_id
    config = transformers.GPT2Config(vocab_size=vocab_size or len(tokenizer), n_embd=32, n_layer=1, n_head=4,
                                     n_positions=n_positions, bos_token_id=eot, eos_token_id=eot, pad_token_id=eot)
    torch.manual_seed(0)
    model_class = transformers.GPT2ForSequenceClassification if classifier else transformers.GPT2LMHeadModel
    if classifier:
        config.num_labels = 1
    model_class(config).save_pretrained(folder)
    return folder


def other_tokenizer_rm(world, tmp_path):
    """A reward model directory whose tokenizer has the same size but different merges (trained on other text)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    folder = small_model(world, tmp_path, "other-rm", classifier=True)
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(["The reward model reads other tokens entirely."] * 50 + ["zzz yyy xxx"] * 50,
                                  trainers.BpeTrainer(vocab_size=280, special_tokens=["<|endoftext|>"],
                                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                      show_progress=False))
    transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|endoftext|>",
                                         pad_token="<|endoftext|>").save_pretrained(folder)
    (folder / "reward_normalization.json").write_text('{"offset": 0.0}')
    return folder


def no_eos_model(world, tmp_path):
    folder = small_model(world, tmp_path, "no-eos")
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config.update(eos_token=None, pad_token=None, bos_token=None)
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    (folder / "special_tokens_map.json").unlink(missing_ok=True)
    return folder


def huge_config_model(world, tmp_path):
    folder = small_model(world, tmp_path, "huge-config")
    config = json.loads((folder / "config.json").read_text())
    config.update(n_embd=8192, n_layer=48, n_head=64)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def nan_model(world, tmp_path):
    folder = small_model(world, tmp_path, "nan-weight")
    weights = load_file(folder / "model.safetensors")
    weights["transformer.h.0.mlp.c_fc.weight"][0, 0] = float("nan")
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    return folder


def edited_weights_model(world, tmp_path, name, edit, base=None):
    """A copy of a model (small_model's, or `base`) whose weights `edit` changes (a dict of tensors, edited in place)."""
    folder = tmp_path / name
    shutil.copytree(base or small_model(world, tmp_path, name + "-source"), folder)
    weights = load_file(folder / "model.safetensors")
    edit(weights)
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    return folder


def edited_config_model(folder, edit):
    config = json.loads((folder / "config.json").read_text())
    edit(config)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def llama_model(world, tmp_path, name):
    """A tiny Llama beside a copy of the world's tokenizer files, saved by transformers."""
    folder = tmp_path / name
    tokenizer = world["tokenizer"]
    tokenizer.save_pretrained(folder)
    eot = tokenizer.eos_token_id
    config = transformers.LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1,
                                      num_attention_heads=4, intermediate_size=64, max_position_embeddings=128,
                                      bos_token_id=eot, eos_token_id=eot, pad_token_id=eot)
    torch.manual_seed(0)
    transformers.LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def config_directory_model(world, tmp_path):
    folder = small_model(world, tmp_path, "config-dir")
    (folder / "config.json").unlink()
    (folder / "config.json").mkdir()
    return folder


def empty_vocab_model(world, tmp_path):
    folder = small_model(world, tmp_path, "empty-vocab")
    tokenizer = json.loads((folder / "tokenizer.json").read_text())
    tokenizer["model"].update(vocab={}, merges=[])
    (folder / "tokenizer.json").write_text(json.dumps(tokenizer))
    return folder


def truncated_weights_model(world, tmp_path):
    folder = small_model(world, tmp_path, "truncated")
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    return folder


def pickle_model(world, tmp_path):
    folder = small_model(world, tmp_path, "pickle")
    model = transformers.GPT2LMHeadModel.from_pretrained(folder)
    (folder / "model.safetensors").unlink()
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    return folder


def broken_tokenizer_model(world, tmp_path):
    folder = small_model(world, tmp_path, "broken-tokenizer")
    text = (folder / "tokenizer.json").read_text()
    (folder / "tokenizer.json").write_text(text[: len(text) // 3])
    return folder


def write(path, text):
    path.write_text(text)
    return path


DEEP = "[" * 100000 + "]" * 100000  # 200 KB; 60-75k levels crashed nlohmann's dump() (SIGSEGV, issue 29)


def with_deep_value(obj, put):
    """`obj` as JSON text with the value that `put` places (as the string "DEEP") nested 100,000 levels deep (Python's
    json would recurse on such a value)."""
    put(obj)
    return json.dumps(obj).replace('"DEEP"', DEEP)


def deep_model(world, tmp_path, file):
    """A good model whose `file` holds a value nested 100,000 levels deep where an error message printed it."""
    folder = small_model(world, tmp_path, "deep")
    path = folder / file
    if file == "model.safetensors":
        data = path.read_bytes()
        length = int.from_bytes(data[:8], "little")
        header = with_deep_value(json.loads(data[8:8 + length]), lambda h: h.update(__metadata__={"format": "DEEP"}))
        path.write_bytes(len(header.encode()).to_bytes(8, "little") + header.encode() + data[8 + length:])
    elif file == "config.json":
        path.write_text(with_deep_value(json.loads(path.read_text()), lambda c: c.update(architectures="DEEP")))
    elif file == "tokenizer.json":
        path.write_text(with_deep_value(json.loads(path.read_text()), lambda t: t["model"]["vocab"].update(a="DEEP")))
    else:
        path.write_text(with_deep_value(json.loads(path.read_text()), lambda c: c.update(eos_token="DEEP")))
    return folder


# (name shown in the README, a function (world, tmp_path) -> the CLI arguments, the start of the message expected).
BAD_INPUTS = [
    ("tokenizer with more ids than the model's embedding (sft)",
     lambda w, t: ["sft", "--model_name_or_path", small_model(w, t, "small-vocab", vocab_size=100),
                   "--dataset", w["files"]["sft"]],
     "expected an embedding with a row for each of the tokenizer's"),
    ("tokenizer with more ids than the model's embedding (rm)",
     lambda w, t: ["rm", "--model_name_or_path", small_model(w, t, "small-vocab", vocab_size=100),
                   "--dataset", w["files"]["rankings"]],
     "expected an embedding with a row for each of the tokenizer's"),
    ("tokenizer without an EOS token (sft)",
     lambda w, t: ["sft", "--model_name_or_path", no_eos_model(w, t), "--dataset", w["files"]["sft"]],
     "expected an end-of-response token for the plain format (eos_token)"),
    ("tokenizer without an EOS token (ppo)",
     lambda w, t: ["ppo", "--sft_model_path", no_eos_model(w, t), "--reward_model_path",
                   small_model(w, t, "rm", classifier=True), "--dataset", w["files"]["prompts"]],
     "expected an end-of-response token for the plain format (eos_token)"),
    ("every example longer than --max_length (sft, --max_length 6)",
     lambda w, t: ["sft", "--model_name_or_path", w["base"], "--dataset", w["files"]["sft"], "--max_length", "6"],
     "expected some examples that fit --max_length 6 tokens, found none: all 80 are longer"),
    ("every ranking longer than --max_length (rm, --max_length 6)",
     lambda w, t: ["rm", "--model_name_or_path", w["base"], "--dataset", w["files"]["rankings"], "--max_length", "6"],
     "expected some examples that fit --max_length 6 tokens"),
    ("every prompt longer than max_length - response_length (ppo)",
     lambda w, t: ["ppo", "--sft_model_path", w["base"], "--reward_model_path", small_model(w, t, "rm", classifier=True),
                   "--dataset", w["files"]["prompts"], "--max_length", "12", "--response_length", "8"],
     "expected some examples that fit --max_length minus --response_length = 4 tokens"),
    ("sequences longer than GPT-2's positions (n_positions 16)",
     lambda w, t: ["sft", "--model_name_or_path", small_model(w, t, "short", n_positions=16), "--dataset",
                   w["files"]["sft"], "--max_length", "32"],
     "expected sequences of at most the 16 positions of"),
    ("reward model with a different tokenizer (ppo)",
     lambda w, t: ["ppo", "--sft_model_path", w["base"], "--reward_model_path", other_tokenizer_rm(w, t),
                   "--dataset", w["files"]["prompts"]],
     "expected a reward model with the policy's tokenizer (same vocabulary and ids)"),
    ("--logging_steps 0 (was a division by zero)",
     lambda w, t: ["sft", "--model_name_or_path", w["base"], "--dataset", w["files"]["sft"], "--logging_steps", "0"],
     "sft: --logging_steps: expected 1 or more, found 0"),
    ("--max_length 0",
     lambda w, t: ["sft", "--model_name_or_path", w["base"], "--dataset", w["files"]["sft"], "--max_length", "0"],
     "sft: --max_length: expected 2 tokens or more, found 0"),
    ("--num_mini_batches 0 (ppo)",
     lambda w, t: ["ppo", "--sft_model_path", w["base"], "--reward_model_path", small_model(w, t, "rm", classifier=True),
                   "--dataset", w["files"]["prompts"], "--num_mini_batches", "0"],
     "ppo: --num_mini_batches: expected 1 or more, found 0"),
    ("a NaN weight in model.safetensors (was: non-finite losses steps later)",
     lambda w, t: ["sft", "--model_name_or_path", nan_model(w, t), "--dataset", w["files"]["sft"]],
     "nan-weight/model.safetensors tensor 'transformer.h.0.mlp.c_fc.weight': expected finite weights, found 1 NaN and "
     "0 inf of 4096 values (the first at flat index 0)"),
    ("an inf weight in the SFT model (ppo; was: generations changed silently)",
     lambda w, t: ["ppo", "--sft_model_path",
                   edited_weights_model(w, t, "inf-weight",
                                        lambda x: x["transformer.wpe.weight"].__setitem__((3, 5), float("inf"))),
                   "--reward_model_path", small_model(w, t, "rm", classifier=True), "--dataset", w["files"]["prompts"]],
     "inf-weight/model.safetensors tensor 'transformer.wpe.weight': expected finite weights, found 0 NaN and 1 inf of "
     "4096 values (the first at flat index 101)"),
    ("n_layer 1 in config.json on a 2-layer checkpoint (was: a layer dropped silently)",
     lambda w, t: ["sft", "--model_name_or_path",
                   edited_config_model(edited_weights_model(w, t, "fewer-layers", lambda x: None, base=w["base"]),
                                       lambda c: c.update(n_layer=1)),
                   "--dataset", w["files"]["sft"]],
     "fewer-layers/model.safetensors: expected only tensors that the model of"),
    ("a weight of shape [1] where [32] is expected (was: broadcast)",
     lambda w, t: ["sft", "--model_name_or_path",
                   edited_weights_model(w, t, "one-element",
                                        lambda x: x.update({"transformer.ln_f.weight": torch.ones(1)})),
                   "--dataset", w["files"]["sft"]],
     "one-element/model.safetensors tensor 'transformer.ln_f.weight': expected shape [32] from config.json, found [1]"),
    ("rope_theta 0 in config.json (was: RoPE computed silently wrong)",
     lambda w, t: ["sft", "--model_name_or_path",
                   edited_config_model(llama_model(w, t, "rope-theta"), lambda c: c.update(rope_theta=0)),
                   "--dataset", w["files"]["sft"]],
     "rope-theta/config.json: expected 'rope_theta' above 0 (and finite), found 0.0"),
    ("a RoPE scaling factor of 0 in config.json",
     lambda w, t: ["sft", "--model_name_or_path",
                   edited_config_model(llama_model(w, t, "rope-factor"),
                                       lambda c: c.update(rope_scaling={"rope_type": "linear", "factor": 0})),
                   "--dataset", w["files"]["sft"]],
     "rope-factor/config.json: expected 'rope_scaling.factor' above 0 (and finite), found 0.0"),
    ("config.json that is a directory",
     lambda w, t: ["sft", "--model_name_or_path", config_directory_model(w, t), "--dataset", w["files"]["sft"]],
     "config-dir/config.json: expected a file, found a directory"),
    ("pad_token_id beyond the vocabulary in config.json (was: torch's index out of range)",
     lambda w, t: ["sft", "--model_name_or_path",
                   edited_config_model(small_model(w, t, "pad-id"), lambda c: c.update(pad_token_id=100000)),
                   "--dataset", w["files"]["sft"]],
     "pad-id/config.json: expected 'pad_token_id' below vocab_size"),
    ("tokenizer.json with an empty vocabulary (was: torch's select(): index -1 out of range)",
     lambda w, t: ["sft", "--model_name_or_path", empty_vocab_model(w, t), "--dataset", w["files"]["sft"]],
     "empty-vocab/tokenizer.json: model.vocab: expected an object of token -> id with at least one token, found an "
     "empty one"),
    ("/dev/zero as the dataset (was: std::bad_alloc)",
     lambda w, t: ["sft", "--model_name_or_path", w["base"], "--dataset", "/dev/zero"],
     "/dev/zero:1: expected lines of at most 64 MiB (text, one record a line), found a longer one"),
    ("--resume_from_checkpoint true with no checkpoint in --output_dir (was: started over silently)",
     lambda w, t: ["sft", "--model_name_or_path", w["base"], "--dataset", w["files"]["sft"],
                   "--resume_from_checkpoint", "true"],
     "out/checkpoints: expected a checkpoint to resume from (--resume_from_checkpoint true), found none"),
    ("config.json sizes the weights cannot fill (n_embd 8192, 48 layers)",
     lambda w, t: ["sft", "--model_name_or_path", huge_config_model(w, t), "--dataset", w["files"]["sft"]],
     "config.json: expected sizes that the checkpoint's tensors can fill"),
    ("model.safetensors cut in half",
     lambda w, t: ["sft", "--model_name_or_path", truncated_weights_model(w, t), "--dataset", w["files"]["sft"]],
     "model.safetensors tensor"),
    ("only a pickle checkpoint (pytorch_model.bin)",
     lambda w, t: ["sft", "--model_name_or_path", pickle_model(w, t), "--dataset", w["files"]["sft"]],
     "expected model.safetensors (pickled .bin/.pt checkpoints are never loaded"),
    ("tokenizer.json cut short",
     lambda w, t: ["sft", "--model_name_or_path", broken_tokenizer_model(w, t), "--dataset", w["files"]["sft"]],
     "tokenizer.json: expected valid JSON"),
    ("config.json with \"architectures\" nested 100,000 levels deep (was a SIGSEGV)",
     lambda w, t: ["sft", "--model_name_or_path", deep_model(w, t, "config.json"), "--dataset", w["files"]["sft"]],
     "deep/config.json: expected JSON nested at most 256 levels deep, found nesting deeper than 256 at column"),
    ("tokenizer.json with a vocabulary id nested 100,000 levels deep (was a SIGSEGV)",
     lambda w, t: ["sft", "--model_name_or_path", deep_model(w, t, "tokenizer.json"), "--dataset", w["files"]["sft"]],
     "deep/tokenizer.json: expected JSON nested at most 256 levels deep, found nesting deeper than 256 at column"),
    ("tokenizer_config.json with eos_token nested 100,000 levels deep (was a SIGSEGV)",
     lambda w, t: ["sft", "--model_name_or_path", deep_model(w, t, "tokenizer_config.json"), "--dataset",
                   w["files"]["sft"]],
     "deep/tokenizer_config.json: expected JSON nested at most 256 levels deep, found nesting deeper than 256 at"),
    ("a model.safetensors header with __metadata__ nested 100,000 levels deep (was a SIGSEGV)",
     lambda w, t: ["sft", "--model_name_or_path", deep_model(w, t, "model.safetensors"), "--dataset",
                   w["files"]["sft"]],
     "deep/model.safetensors: expected JSON nested at most 256 levels deep, found nesting deeper than 256 at column"),
    ("a JSONL line nested 100,000 levels deep",
     lambda w, t: ["sft", "--model_name_or_path", w["base"], "--dataset",
                   write(t / "deep.jsonl", '{"prompt": "a", "completion": "b"}\n{"prompt": ' + DEEP + '}\n')],
     "deep.jsonl:2: expected JSON nested at most 256 levels deep, found nesting deeper than 256 at column 267"),
    ("a malformed JSONL line",
     lambda w, t: ["sft", "--model_name_or_path", w["base"], "--dataset",
                   write(t / "bad.jsonl", '{"prompt": "a", "completion": "b"}\n{"prompt": "a", "completion": \n')],
     "bad.jsonl:2: expected a JSON value, found invalid JSON at column"),
    ("a JSONL line of another format (rankings given to sft)",
     lambda w, t: ["sft", "--model_name_or_path", w["base"], "--dataset", w["files"]["rankings"]],
     "rankings.jsonl:1: expected"),
    ("an unknown key in --config YAML",
     lambda w, t: ["sft", "--config", write(t / "c.yaml", "learning_rat: 1e-4\n"), "--model_name_or_path", w["base"],
                   "--dataset", w["files"]["sft"]],
     "c.yaml:1: unknown option 'learning_rat' (did you mean 'learning_rate'?)"),
    ("a YAML list as key in --config",
     lambda w, t: ["sft", "--config", write(t / "c.yaml", "[a, b]: 1\n"), "--model_name_or_path", w["base"],
                   "--dataset", w["files"]["sft"]],
     "c.yaml:1: expected an option name, found a list, mapping or null as key"),
]


@pytest.mark.parametrize("name,make_args,expected", BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_is_refused_before_training(rlhf_bin, world, tmp_path, name, make_args, expected):
    args = make_args(world, tmp_path)
    result = rlhf(rlhf_bin, *args, "--output_dir", tmp_path / "out", "--device", "cpu", "--quiet", "true")
    message = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
    print(f"\n{name}: {message}")
    assert result.returncode == 1, f"exit {result.returncode}:\n{result.stderr}"
    assert message.startswith("error: ") and expected in message, message
    assert "(unexpected)" not in message  # every one is a checked rlhf::Error
    assert not (tmp_path / "out" / "checkpoints").exists()  # refused before the first step
    table = os.environ.get("RLHF_BAD_INPUT_TABLE")
    if table:
        shown = message.replace(str(tmp_path), "…").replace(str(world["root"]), "…").replace("|", "\\|")
        with open(table, "a", encoding="utf-8") as f:
            f.write(f"| {name} | `{shown}` |\n")
