"""A TRL user's configs as they are, through `rlhf sft|rm|ppo --config FILE`, on test_stages_cli's tiny world.

- Every key of HF's TrainingArguments (read from transformers in the venv) and of TRL's ScriptArguments, ModelConfig and
  SFTConfig / RewardConfig / PPOConfig (tests/python/data/trl_config_keys.json: trl is not in the venv), written at its
  default in one YAML file per stage, is accepted: the run finishes, and each key that is not one of our options prints
  its "ignoring 'KEY'" note on stderr. A key taken out of the table makes the run fail (unknown option).
- An unknown key stays an error with the closest name.
- TRL's example commands for SFT, reward modelling and PPO (trl/scripts/sft.py, examples/scripts/reward_modeling.py,
  examples/scripts/ppo/ppo.py), written as YAML with the model and data paths changed to the tiny local ones and the
  sizes to tiny ones, run unmodified otherwise; dataset_name is a folder with train/test files, and the logged metrics
  carry TRL's names (eval/loss and eval/mean_token_accuracy, eval/accuracy, objective/*, policy/*_avg, ...) in
  metrics.jsonl and in TensorBoard (read with its own EventAccumulator); the RM's last evaluation equals transformers'
  scores of the test split's pairs.
- SFT's evaluation equals transformers' loss and top-1 accuracy over the trained tokens, with completion_only_loss and
  assistant_only_loss true and false.
"""
import dataclasses
import enum
import json
import pathlib
import subprocess

import pytest
import torch
import transformers
import yaml
from tensorboard.backend.event_processing import event_accumulator

from test_stages_cli import COMMON, ENV, run_rlhf, stage_args, world, write_jsonl  # noqa: F401 (world: a fixture)

TRL_KEYS = json.loads((pathlib.Path(__file__).parent / "data" / "trl_config_keys.json").read_text())
STAGE_CONFIG = {"sft": "SFTConfig", "rm": "RewardConfig", "ppo": "PPOConfig"}


def training_arguments_defaults():
    """Every init field of transformers.TrainingArguments at its default, as YAML would hold it."""
    out = {}
    for f in dataclasses.fields(transformers.TrainingArguments):
        if not f.init:
            continue
        if f.default is not dataclasses.MISSING:
            value = f.default
        elif f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()
        else:
            value = None
        if isinstance(value, enum.Enum):
            value = value.value
        out[f.name] = value
    return out


def all_keys(stage):
    """name -> default of every key a TRL config for `stage` can hold (later classes override earlier ones)."""
    keys = training_arguments_defaults()
    for name in ("ScriptArguments", "ModelConfig", STAGE_CONFIG[stage]):
        keys.update(TRL_KEYS[name])
    return keys


def run(rlhf_bin, *args):
    return subprocess.run([str(rlhf_bin), *map(str, args)], capture_output=True, text=True, timeout=600, env=ENV)


def help_lines(rlhf_bin, stage):
    """--KEY -> its help text, from `rlhf STAGE --help`."""
    text = run(rlhf_bin, stage, "--help").stdout
    out = {}
    for line in text.splitlines():
        parts = line.strip().split(None, 1)
        if parts and parts[0].startswith("--"):
            out[parts[0][2:]] = parts[1] if len(parts) > 1 else ""
    return out


@pytest.fixture(scope="module")
def models(rlhf_bin, world):
    """A one-step SFT model and a one-step reward model from it (the PPO runs need a reward model)."""
    root = world["root"]
    out = {"sft": root / "trl-sft-model", "rm": root / "trl-rm-model"}
    run_rlhf(rlhf_bin, *stage_args(world, "sft", {"base": world["base"]}), "--max_steps", "1", "--output_dir", out["sft"])
    run_rlhf(rlhf_bin, *stage_args(world, "rm", {"sft": out["sft"]}), "--max_steps", "1", "--output_dir", out["rm"])
    return out


def tiny_run_args(world, models, stage, out):
    """The command-line part of a tiny run (the command line wins over the YAML file)."""
    f = world["files"]
    common = ["--output_dir", out, "--max_steps", "1", *COMMON]
    if stage == "sft":
        return ["--model_name_or_path", world["base"], "--dataset_name", f["sft"], "--max_length", "48",
                "--per_device_train_batch_size", "4", *common]
    if stage == "rm":
        return ["--model_name_or_path", models["sft"], "--dataset_name", f["rankings"], "--max_length", "48",
                "--per_device_train_batch_size", "2", *common]
    return ["--model_name_or_path", models["sft"], "--sft_model_path", models["sft"], "--reward_model_path", models["rm"],
            "--dataset_name", f["prompts"], "--max_length", "48", "--response_length", "8", "--num_ppo_epochs", "1",
            "--num_mini_batches", "1", "--per_device_train_batch_size", "4", "--total_episodes", "4",
            "--local_rollout_forward_batch_size", "4", *common]


@pytest.mark.parametrize("stage", ["sft", "rm", "ppo"])
def test_every_trl_and_hf_key_is_honoured_or_noted(rlhf_bin, world, models, tmp_path, stage):
    keys = all_keys(stage)
    assert len(keys) > 150  # TrainingArguments alone has over a hundred
    config = tmp_path / f"{stage}-all-keys.yaml"
    config.write_text(yaml.safe_dump(keys, sort_keys=False))
    result = run(rlhf_bin, stage, "--config", config, *tiny_run_args(world, models, stage, tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    options = help_lines(rlhf_bin, stage)
    for key, value in keys.items():
        assert key in options, f"{key} is no option of rlhf {stage}"
        noted = f"ignoring '{key}'" in result.stderr
        if options[key].startswith("accepted") and value is not None:
            assert noted, f"{key}: accepted without its note\n{result.stderr}"
    # One line per key, not one per occurrence.
    for line in result.stderr.splitlines():
        if "ignoring '" in line:
            assert result.stderr.count(line) == 1, line


def test_an_unknown_key_is_an_error_with_the_closest_name(rlhf_bin, world, models, tmp_path):
    config = tmp_path / "typo.yaml"
    config.write_text("dataset_nme: data.jsonl\n")
    result = run(rlhf_bin, "sft", "--config", config, *tiny_run_args(world, models, "sft", tmp_path / "out"))
    assert result.returncode == 1
    assert "unknown option 'dataset_nme'" in result.stderr and "did you mean 'dataset_name'" in result.stderr


def test_a_hub_dataset_name_is_a_clear_error(rlhf_bin, world, models, tmp_path):
    """(Folders that datasets' save_to_disk wrote are read: test_arrow_datasets.py.)"""
    args = tiny_run_args(world, models, "sft", tmp_path / "out")
    i = args.index("--dataset_name")
    hub = run(rlhf_bin, "sft", *args[:i + 1], "trl-lib/Capybara", *args[i + 2:])
    assert hub.returncode == 1 and "nothing is downloaded" in hub.stderr and "save_to_disk" in hub.stderr, hub.stderr


# ------------------------------------------------------------------------------------------ TRL's example configs

def split_folder(root, name, rows, test_rows):
    """A dataset folder as `Dataset.to_json` per split leaves it: train.jsonl and test.jsonl."""
    folder = root / name
    folder.mkdir(exist_ok=True)
    write_jsonl(folder / "train.jsonl", rows)
    write_jsonl(folder / "test.jsonl", test_rows)
    return folder


def read_jsonl(path):
    return [json.loads(line) for line in pathlib.Path(path).read_text().splitlines() if line.strip()]


def test_trl_example_configs_run_as_written(rlhf_bin, world, models, tmp_path):
    f = world["files"]
    sft_rows, sft_eval = read_jsonl(f["sft"]), read_jsonl(f["sft_eval"])
    rankings = read_jsonl(f["rankings"])
    # TRL's preference format: {"chosen", "rejected"} (rankings' best response and, in turn, each worse one).
    pairs = []
    for n, r in enumerate(rankings):
        order = sorted(range(len(r["responses"])), key=lambda i: r["ranks"][i])
        pairs.append({"prompt": r["prompt"], "chosen": r["responses"][order[0]],
                      "rejected": r["responses"][order[1 + n % 3]]})
    sft_data = split_folder(tmp_path, "capybara", sft_rows, sft_eval)
    rm_data = split_folder(tmp_path, "ultrafeedback_binarized", pairs[:64], pairs[64:])
    ppo_folder = tmp_path / "descriptiveness"
    ppo_folder.mkdir()
    write_jsonl(ppo_folder / "descriptiveness.jsonl", read_jsonl(f["prompts"]))

    # trl/scripts/sft.py's command, as YAML: model, data and sizes tiny; everything else as TRL writes it.
    sft = {"model_name_or_path": str(world["base"]), "dataset_name": str(sft_data), "learning_rate": 2.0e-5,
           "num_train_epochs": 1, "packing": True, "per_device_train_batch_size": 2, "gradient_accumulation_steps": 8,
           "eos_token": "<|im_end|>", "eval_strategy": "steps", "eval_steps": 2, "output_dir": str(tmp_path / "sft"),
           "push_to_hub": True, "max_length": 48, "max_steps": 4, "report_to": "none", "logging_steps": 1,
           "gradient_checkpointing": True, "bf16": False, "use_peft": True, "lora_target_modules": ["c_attn"],
           "save_strategy": "no", "seed": 3}
    # examples/scripts/reward_modeling.py's command.
    rm = {"model_name_or_path": str(models["sft"]), "dataset_name": str(rm_data), "output_dir": str(tmp_path / "rm"),
          "per_device_train_batch_size": 8, "num_train_epochs": 1, "gradient_checkpointing": True,
          "learning_rate": 1.0e-5, "eval_strategy": "steps", "eval_steps": 4, "max_length": 48, "logging_steps": 2,
          "report_to": "none", "seed": 3}
    # examples/scripts/ppo/ppo.py's command (its reward model path given, as its second command does).
    ppo = {"dataset_name": str(ppo_folder), "dataset_train_split": "descriptiveness", "learning_rate": 3e-6,
           "output_dir": str(tmp_path / "ppo"), "per_device_train_batch_size": 4, "gradient_accumulation_steps": 1,
           "total_episodes": 16, "model_name_or_path": str(models["sft"]), "sft_model_path": str(models["sft"]),
           "reward_model_path": str(models["rm"]), "local_rollout_forward_batch_size": 4, "missing_eos_penalty": 1.0,
           "num_ppo_epochs": 1, "num_mini_batches": 1, "response_length": 8, "max_length": 48, "report_to": "none"}
    for stage, config in (("sft", sft), ("rm", rm), ("ppo", ppo)):
        path = tmp_path / f"{stage}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        result = run(rlhf_bin, stage, "--config", path, "--device", "cpu", "--quiet")
        assert result.returncode == 0, result.stderr
        if stage == "sft":
            assert "ignoring 'push_to_hub'" in result.stderr and "ignoring 'eos_token'" in result.stderr

    sft_lines = read_jsonl(tmp_path / "sft" / "metrics.jsonl")
    train_lines = [m for m in sft_lines if "loss" in m]
    assert [m["step"] for m in train_lines] == [1, 2, 3, 4]
    for name in ("loss", "grad_norm", "learning_rate", "epoch", "mean_token_accuracy", "num_tokens"):
        assert all(name in m for m in train_lines), name
    tokens = [m["num_tokens"] for m in train_lines]
    assert tokens == sorted(tokens) and tokens[0] > 0
    evals = [m for m in sft_lines if "eval/loss" in m]
    assert [m["step"] for m in evals] == [2, 4]  # eval_strategy steps, eval_steps 2, max_steps 4
    assert all(0 <= m["eval/mean_token_accuracy"] <= 1 for m in evals)
    assert not (tmp_path / "sft" / "checkpoints").exists()  # save_strategy no

    rm_lines = read_jsonl(tmp_path / "rm" / "metrics.jsonl")
    assert all("accuracy" in m and "margin" in m and "num_tokens" in m for m in rm_lines if "loss" in m)
    evals = [m for m in rm_lines if "eval/accuracy" in m]
    assert [m["step"] for m in evals] == [4, 8]  # 64 pairs in batches of 8: 8 steps, an evaluation every 4
    # The last evaluation (the final model's) against transformers on the test split: chosen vs rejected scores read at
    # each sequence's last token (plain format: the prompt and the response encoded separately, then EOS).
    tok = world["tokenizer"]
    model = transformers.AutoModelForSequenceClassification.from_pretrained(tmp_path / "rm").eval()

    def score(prompt, response):
        ids = (tok(f"Instruction: {prompt}\nResponse:", add_special_tokens=False)["input_ids"]
               + tok(f" {response}", add_special_tokens=False)["input_ids"] + [tok.eos_token_id])
        with torch.no_grad():  # EOS is also the pad token here: the head is read at the last position by hand
            hidden = model.transformer(input_ids=torch.tensor([ids])).last_hidden_state
            return model.score(hidden)[0, -1, 0].item()

    margins = torch.tensor([score(p["prompt"], p["chosen"]) - score(p["prompt"], p["rejected"]) for p in pairs[64:]])
    print(f"RM on the test split: accuracy {evals[-1]['eval/accuracy']:.3f}, margin {evals[-1]['eval/margin']:.4f}")
    assert evals[-1]["eval/accuracy"] == pytest.approx((margins > 0).double().mean().item(), abs=1e-9)
    assert evals[-1]["eval/margin"] == pytest.approx(margins.mean().item(), rel=1e-4, abs=1e-6)
    assert evals[-1]["eval/loss"] == pytest.approx(-torch.nn.functional.logsigmoid(margins).mean().item(), rel=1e-4)

    ppo_lines = read_jsonl(tmp_path / "ppo" / "metrics.jsonl")
    assert [m["step"] for m in ppo_lines] == [1, 2, 3, 4]  # 16 episodes, 4 x 1 x 1 per iteration
    for name in ("objective/kl", "objective/entropy", "objective/non_score_reward", "objective/rlhf_reward",
                 "objective/scores", "policy/approxkl_avg", "policy/clipfrac_avg", "loss/policy_avg", "loss/value_avg",
                 "val/clipfrac_avg", "val/ratio", "val/ratio_var", "val/num_eos_tokens", "lr", "episode"):
        assert all(name in m for m in ppo_lines), name
    assert [m["episode"] for m in ppo_lines] == [4, 8, 12, 16]

    # TensorBoard (its own reader) shows the same names.
    expected = {"sft": {"loss", "grad_norm", "learning_rate", "epoch", "mean_token_accuracy", "num_tokens", "eval/loss",
                        "eval/mean_token_accuracy"},
                "rm": {"loss", "accuracy", "margin", "num_tokens", "eval/loss", "eval/accuracy", "eval/margin"},
                "ppo": {"objective/kl", "objective/rlhf_reward", "policy/approxkl_avg", "loss/policy_avg",
                        "val/ratio", "val/num_eos_tokens", "lr", "episode"}}
    for stage, names in expected.items():
        accumulator = event_accumulator.EventAccumulator(str(tmp_path / stage))
        accumulator.Reload()
        assert names <= set(accumulator.Tags()["scalars"]), (stage, sorted(accumulator.Tags()["scalars"]))


def as_messages(rows):
    return [{"messages": [{"role": "user", "content": r["prompt"]}, {"role": "assistant", "content": r["completion"]}]}
            for r in rows]


@pytest.mark.parametrize("form,only_reply", [("prompt_completion", True), ("prompt_completion", False),
                                             ("messages", True), ("messages", False)])
def test_sft_evaluation_matches_transformers(rlhf_bin, world, tmp_path, form, only_reply):
    """eval/loss and eval/mean_token_accuracy of the final model on the test split equal transformers' own token mean
    of the cross-entropy and of top-1 hits over the trained tokens: the reply (and EOS) with completion_only_loss
    (prompt-completion data) or assistant_only_loss (messages data), every token after the first without."""
    f = world["files"]
    train, test = read_jsonl(f["sft"]), read_jsonl(f["sft_eval"])
    if form == "messages":
        train, test = as_messages(train), as_messages(test)
    data = split_folder(tmp_path, "data", train, test)
    flag = "--completion_only_loss" if form == "prompt_completion" else "--assistant_only_loss"
    out = tmp_path / "out"
    run_rlhf(rlhf_bin, "sft", "--model_name_or_path", world["base"], "--dataset_name", data, "--max_length", "48",
             "--per_device_train_batch_size", "8", "--per_device_eval_batch_size", "3", "--learning_rate", "3e-3",
             "--max_steps", "3", "--eval_strategy", "epoch", flag, str(only_reply).lower(), "--output_dir", out, *COMMON)
    logged = [m for m in read_jsonl(out / "metrics.jsonl") if "eval/loss" in m]
    assert [m["step"] for m in logged] == [3]
    tok = world["tokenizer"]
    model = transformers.AutoModelForCausalLM.from_pretrained(out).eval()
    total, hits, count = 0.0, 0, 0
    for row in read_jsonl(f["sft_eval"]):
        prompt = tok(f"Instruction: {row['prompt']}\nResponse:", add_special_tokens=False)["input_ids"]
        ids = prompt + tok(f" {row['completion']}", add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0, :-1]
        targets = torch.tensor(ids[1:])
        first = len(prompt) - 1 if only_reply else 0  # logits[t] predicts ids[t + 1]
        total += torch.nn.functional.cross_entropy(logits[first:], targets[first:], reduction="sum").item()
        hits += (logits[first:].argmax(-1) == targets[first:]).sum().item()
        count += len(targets) - first
    assert logged[0]["eval/loss"] == pytest.approx(total / count, rel=1e-4)
    assert logged[0]["eval/mean_token_accuracy"] == pytest.approx(hits / count, abs=1e-9)
