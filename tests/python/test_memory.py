"""LoRA through the CLI on test_stages_cli's tiny world (byte-level BPE, a tiny GPT-2 saved by transformers):

- sft --use_peft (all-linear, with gradient checkpointing): the output directory is a plain merged model that
  transformers loads; its logits equal `rlhf forward`'s and those of transformers' base model with the saved adapter
  loaded by PEFT itself (PeftModel.from_pretrained) within 1e-4, and so does the last checkpoint's adapter/; the adapter
  file has PEFT's key names and shapes; the checkpoint's base weights are the base model's, bit for bit.
- A LoRA run interrupted (SIGINT) after its first checkpoint and resumed ends with the same merged model and adapter.
- rm --use_peft: a sequence classifier transformers loads, scores equal to ours, and equal to PEFT's from the SFT
  model and the adapter (the head saved through modules_to_save).
- ppo --use_peft: runs with the policy as its own reference and the value model over the reward model's base; the
  first iteration's KL is 0 (adapters start at zero) and the saved policy and value model load in transformers.
"""
import json

import peft
import pytest
import torch
import transformers
from safetensors.torch import load_file

from test_stages_cli import (COMMON, assert_same_tensors, interrupt_after_first_checkpoint, make_world, right_padded,
                             rlhf_forward, run_rlhf, sample_rows)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("memory")
    files, base, tokenizer = make_world(root)
    return {"root": root, "files": files, "base": base, "tokenizer": tokenizer}


LORA = ["--use_peft", "true", "--lora_r", "4", "--lora_alpha", "8", "--lora_dropout", "0.0",
        "--lora_target_modules", "all-linear"]


def sft_args(world, steps, extra=()):
    f = world["files"]
    return ["sft", "--model_name_or_path", world["base"], "--dataset", f["sft"], "--max_steps", str(steps),
            "--per_device_train_batch_size", "4", "--learning_rate", "1e-2", "--lr_scheduler_type", "constant",
            "--max_length", "48", "--logging_steps", "1", "--save_every_epoch", "false", *LORA, *COMMON, *extra]


RESUMABLE = ["--gradient_checkpointing", "true", "--save_steps", "2"]


@pytest.fixture(scope="module")
def lora_sft(rlhf_bin, world):
    out = world["root"] / "lora-sft"
    run_rlhf(rlhf_bin, *sft_args(world, 8, RESUMABLE), "--output_dir", out)
    return out


def peft_model(base_dir, adapter_dir, auto=transformers.AutoModelForCausalLM, **kwargs):
    """transformers' model of `base_dir` with our adapter loaded by PEFT's own loader."""
    return peft.PeftModel.from_pretrained(auto.from_pretrained(base_dir, **kwargs), adapter_dir).eval()


def test_lora_sft_saves_a_merged_model_and_a_peft_adapter(rlhf_bin, world, lora_sft, tmp_path):
    adapter = lora_sft / "adapter"
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA" and config["task_type"] == "CAUSAL_LM"
    assert config["r"] == 4 and config["lora_alpha"] == 8 and config["fan_in_fan_out"] is True
    assert sorted(config["target_modules"]) == ["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"]
    tensors = load_file(adapter / "adapter_model.safetensors")
    base = transformers.AutoModelForCausalLM.from_pretrained(world["base"]).eval()
    n_embd = base.config.n_embd
    expected_keys = set()
    for i in range(base.config.n_layer):
        for module, (fan_in, fan_out) in {"attn.c_attn": (n_embd, 3 * n_embd), "attn.c_proj": (n_embd, n_embd),
                                          "mlp.c_fc": (n_embd, 4 * n_embd), "mlp.c_proj": (4 * n_embd, n_embd)}.items():
            prefix = f"base_model.model.transformer.h.{i}.{module}"
            expected_keys |= {prefix + ".lora_A.weight", prefix + ".lora_B.weight"}
            assert tensors[prefix + ".lora_A.weight"].shape == (4, fan_in)
            assert tensors[prefix + ".lora_B.weight"].shape == (fan_out, 4)
            assert tensors[prefix + ".lora_B.weight"].abs().max() > 0  # trained away from zero
    assert set(tensors) == expected_keys
    assert not (lora_sft / "adapter_config.json").exists()  # the merged directory stays a plain model

    ids, mask = right_padded(sample_rows(world), world["tokenizer"].pad_token_id)
    real = mask.bool()
    merged = transformers.AutoModelForCausalLM.from_pretrained(lora_sft).eval()
    with torch.no_grad():
        theirs = merged(input_ids=ids, attention_mask=mask).logits
        via_adapter = peft_model(world["base"], adapter)(input_ids=ids, attention_mask=mask).logits
        via_checkpoint = peft_model(world["base"], lora_sft / "checkpoints" / "step-8" / "adapter")(
            input_ids=ids, attention_mask=mask).logits
        original = base(input_ids=ids, attention_mask=mask).logits
    ours = rlhf_forward(rlhf_bin, lora_sft, ids, mask, tmp_path)["logits"]
    assert torch.allclose(ours[real], theirs[real], atol=1e-4), (ours[real] - theirs[real]).abs().max()
    assert torch.allclose(via_adapter[real], ours[real], atol=1e-4), (via_adapter[real] - ours[real]).abs().max()
    assert torch.allclose(via_checkpoint[real], ours[real], atol=1e-4), (via_checkpoint[real] - ours[real]).abs().max()
    assert not torch.allclose(original[real], theirs[real], atol=1e-3)

    # The frozen base in the checkpoint is the base model's weights, untouched (GPT-2's Conv1D is [in, out]).
    checkpoint = load_file(lora_sft / "checkpoints" / "step-8" / "modules.safetensors")
    hf = base.state_dict()
    assert torch.equal(checkpoint["model/embed_tokens"], hf["transformer.wte.weight"])
    for i in range(base.config.n_layer):
        assert torch.equal(checkpoint[f"model/layers.{i}.qkv_weight"], hf[f"transformer.h.{i}.attn.c_attn.weight"].T)
        assert torch.equal(checkpoint[f"model/layers.{i}.down_weight"], hf[f"transformer.h.{i}.mlp.c_proj.weight"].T)
    assert any(k.endswith("_lora_B") for k in checkpoint)


def test_lora_sft_resumes_to_the_same_weights(rlhf_bin, world, lora_sft):
    out = world["root"] / "lora-resumed"
    code, _, stderr = interrupt_after_first_checkpoint(rlhf_bin, sft_args(world, 8, RESUMABLE), out)
    assert code == 130, f"expected exit 130 after SIGINT, got {code}:\n{stderr}"
    stopped_at = int((out / "checkpoints" / "latest").read_text().strip().split("-")[1])
    assert stopped_at < 8, "the run finished before the interrupt: nothing was resumed"
    run_rlhf(rlhf_bin, *sft_args(world, 8, RESUMABLE), "--output_dir", out, "--resume_from_checkpoint", "true")
    assert_same_tensors(lora_sft / "model.safetensors", out / "model.safetensors")
    assert_same_tensors(lora_sft / "adapter" / "adapter_model.safetensors", out / "adapter" / "adapter_model.safetensors")


def test_lora_rm_and_ppo(rlhf_bin, world, lora_sft, tmp_path):
    f = world["files"]
    rm = world["root"] / "lora-rm"
    run_rlhf(rlhf_bin, "rm", "--model_name_or_path", lora_sft, "--dataset", f["rankings"], "--eval_fraction", "0.2",
             "--max_steps", "4", "--per_device_train_batch_size", "2", "--learning_rate", "1e-2", "--max_length", "48",
             *LORA, *COMMON, "--output_dir", rm)
    config = json.loads((rm / "adapter" / "adapter_config.json").read_text())
    assert config["task_type"] == "SEQ_CLS" and config["modules_to_save"] == ["score"]
    assert "base_model.model.score.weight" in load_file(rm / "adapter" / "adapter_model.safetensors")
    ids, mask = right_padded(sample_rows(world)[:2], world["tokenizer"].pad_token_id)  # as test_stages_cli's RM test
    classifier = transformers.AutoModelForSequenceClassification.from_pretrained(rm).eval()
    with torch.no_grad():
        theirs = classifier(input_ids=ids, attention_mask=mask).logits[:, 0]
    ours = rlhf_forward(rlhf_bin, rm, ids, mask, tmp_path)["scores"]
    last = mask.sum(1) - 1
    ours_last = ours[torch.arange(len(last)), last]
    assert torch.allclose(ours_last, theirs, atol=1e-4), (ours_last, theirs)
    with torch.no_grad():  # the SFT model with a fresh score head, which the adapter's modules_to_save replaces
        via_adapter = peft_model(lora_sft, rm / "adapter", transformers.AutoModelForSequenceClassification,
                                 num_labels=1)(input_ids=ids, attention_mask=mask).logits[:, 0]
    assert torch.allclose(via_adapter, ours_last, atol=1e-4), (via_adapter, ours_last)

    ppo = world["root"] / "lora-ppo"
    run_rlhf(rlhf_bin, "ppo", "--sft_model_path", lora_sft, "--reward_model_path", rm, "--dataset", f["prompts"],
             "--total_episodes", "16", "--rollout_batch_size", "8", "--num_mini_batches", "2", "--response_length", "8",
             "--learning_rate", "1e-2", "--value_learning_rate", "1e-2", "--max_length", "48",
             "--gradient_checkpointing", "true", *LORA, *COMMON, "--output_dir", ppo)
    metrics = [json.loads(line) for line in (ppo / "metrics.jsonl").read_text().splitlines()]
    kl = [m["objective/kl"] for m in metrics if "objective/kl" in m]
    assert kl[0] == 0.0 and kl[1] != 0.0, kl  # the reference is the policy's base: identical before any update
    policy = transformers.AutoModelForCausalLM.from_pretrained(ppo).eval()
    value = transformers.AutoModelForSequenceClassification.from_pretrained(ppo / "value_model").eval()
    with torch.no_grad():
        assert torch.isfinite(policy(input_ids=ids, attention_mask=mask).logits).all()
        assert torch.isfinite(value(input_ids=ids, attention_mask=mask).logits).all()
    assert (ppo / "adapter" / "adapter_model.safetensors").exists()
