"""Checkpoint folders and output folders as HF's Trainer has them, through the CLI on test_stages_cli's tiny world.

- Each checkpoint folder (OUT/checkpoints/step-N) is also a model directory: transformers' from_pretrained opens it
  (AutoModelForCausalLM for sft and the PPO policy, AutoModelForSequenceClassification for rm and PPO's value_model/,
  AutoTokenizer too), and the last step's gives the final model's logits / scores as `rlhf forward` computes them.
- --resume_from_checkpoint PATH continues from that checkpoint folder (of another run's folder here): the run logs only
  the steps after it and ends with the uninterrupted run's weights; a bare --resume_from_checkpoint means true.
- A fresh run into a folder holding an earlier run's results is refused, naming the folder and both ways on;
  --overwrite_output_dir removes those results (no stale checkpoint, epoch model or log line survives).
- --resume_from_checkpoint with nothing to resume (true on a folder without checkpoints, a missing path, a run's
  folder instead of one of its checkpoints) is an error naming the path.
"""
import json
import shutil
import subprocess

import pytest
import torch
import transformers
from safetensors.torch import load_file

from test_stages_cli import (ENV, assert_same_tensors, read_metrics, right_padded, rlhf_forward, run_rlhf, sample_rows,
                             stage_args, world)  # noqa: F401 (world is a fixture)


def with_value(args, option, value):
    """`args` with `option`'s value replaced (or the option and value appended)."""
    args = list(args)
    if option in args:
        args[args.index(option) + 1] = value
    else:
        args += [option, value]
    return args


def without(args, option):
    args = list(args)
    i = args.index(option)
    return args[:i] + args[i + 2:]


def run_failing(rlhf_bin, *args):
    result = subprocess.run([str(rlhf_bin), *map(str, args)], capture_output=True, text=True, timeout=300, env=ENV)
    assert result.returncode == 1, f"expected exit 1, got {result.returncode}:\n{result.stderr}"
    return result.stderr


@pytest.fixture(scope="module")
def runs(rlhf_bin, world):
    """sft (one step per epoch, a checkpoint at every step, all kept) -> rm -> ppo (no EMA: the final policy is the
    last step's), each a small run from the world's base model."""
    root, out = world["root"], {"base": world["base"]}
    sft = stage_args(world, "sft-one-step-epochs", out) + ["--save_steps", "1", "--save_total_limit", "10"]
    out["sft_args"] = sft
    out["sft"] = root / "checkpointed-sft"
    run_rlhf(rlhf_bin, *sft, "--output_dir", out["sft"])
    rm = with_value(stage_args(world, "rm", {"sft": world["base"]}), "--num_train_epochs", "1")
    out["rm"] = root / "checkpointed-rm"
    run_rlhf(rlhf_bin, *rm, "--output_dir", out["rm"])
    ppo = with_value(without(stage_args(world, "ppo", {"sft": world["base"], "rm": out["rm"]}), "--ema_decay"),
                     "--total_episodes", "32")
    out["ppo"] = root / "checkpointed-ppo"
    run_rlhf(rlhf_bin, *ppo, "--save_steps", "2", "--output_dir", out["ppo"])
    return out


def newest_checkpoint(out):
    folders = sorted((out / "checkpoints").glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
    return folders[-1]


def last_real_scores(scores, mask):
    return scores[torch.arange(scores.shape[0]), mask.sum(1) - 1]


@pytest.mark.parametrize("stage", ["sft", "rm", "ppo"])
def test_the_last_checkpoint_opens_in_transformers_as_the_final_model(rlhf_bin, world, runs, tmp_path, stage):
    out = runs[stage]
    checkpoint = newest_checkpoint(out)
    last_step = max(read_metrics(out / "metrics.jsonl"))
    assert json.loads((checkpoint / "state.json").read_text())["step"] == last_step
    tokenizer = transformers.AutoTokenizer.from_pretrained(checkpoint)
    text = "Instruction: What is 3 plus 4?\nResponse: 7."
    assert tokenizer(text)["input_ids"] == world["tokenizer"](text)["input_ids"]
    ids, mask = right_padded(sample_rows(world), world["tokenizer"].pad_token_id)
    real = mask.bool()
    if stage == "rm":
        model = transformers.AutoModelForSequenceClassification.from_pretrained(checkpoint).eval()
        with torch.no_grad():
            theirs = model(input_ids=ids[:2], attention_mask=mask[:2]).logits[:, 0]
        ours = last_real_scores(rlhf_forward(rlhf_bin, out, ids[:2], mask[:2], tmp_path)["scores"], mask[:2])
        assert torch.allclose(ours, theirs, atol=1e-4), (ours, theirs)
        return
    model = transformers.AutoModelForCausalLM.from_pretrained(checkpoint).eval()
    with torch.no_grad():
        theirs = model(input_ids=ids, attention_mask=mask).logits
    ours = rlhf_forward(rlhf_bin, out, ids, mask, tmp_path)["logits"]
    assert torch.allclose(ours[real], theirs[real], atol=1e-4), (ours[real] - theirs[real]).abs().max()
    if stage == "ppo":  # the value model beside it, with its offset
        value = transformers.AutoModelForSequenceClassification.from_pretrained(checkpoint / "value_model").eval()
        with torch.no_grad():
            theirs = value(input_ids=ids[:2], attention_mask=mask[:2]).logits[:, 0]
        ours = last_real_scores(rlhf_forward(rlhf_bin, out / "value_model", ids[:2], mask[:2], tmp_path)["scores"],
                                mask[:2])
        assert torch.allclose(ours, theirs, atol=1e-4), (ours, theirs)
        offsets = [json.loads((d / "reward_normalization.json").read_text())["offset"]
                   for d in (checkpoint / "value_model", out / "value_model", runs["rm"])]
        assert offsets[0] == offsets[1] == offsets[2]
    if stage == "sft":  # each checkpoint holds its own step's weights, not the final ones
        first = transformers.AutoModelForCausalLM.from_pretrained(out / "checkpoints" / "step-1").eval()
        with torch.no_grad():
            early = first(input_ids=ids, attention_mask=mask).logits
        assert not torch.allclose(early[real], ours[real], atol=1e-3)
        assert_same_tensors(out / "checkpoints" / "step-3" / "model.safetensors", out / "epoch-3" / "model.safetensors")


def test_resume_from_a_checkpoint_path(rlhf_bin, runs, tmp_path):
    source = runs["sft"] / "checkpoints" / "step-3"
    out = tmp_path / "continued"
    result = run_rlhf(rlhf_bin, *runs["sft_args"], "--output_dir", out, "--resume_from_checkpoint", source)
    assert f"resumed from {source} (step 3)" in result.stderr, result.stderr
    assert sorted(read_metrics(out / "metrics.jsonl")) == [4, 5, 6]  # the steps after the checkpoint, once each
    assert_same_tensors(runs["sft"] / "model.safetensors", out / "model.safetensors")
    assert not (out / "epoch-3").exists() and (out / "epoch-4").exists()


def test_a_used_output_folder_is_refused_unless_overwritten_or_resumed(rlhf_bin, runs, tmp_path):
    out = tmp_path / "used"
    shutil.copytree(runs["sft"], out)
    stderr = run_failing(rlhf_bin, *runs["sft_args"], "--output_dir", out)
    assert (f"error: {out}: expected an output folder without an earlier run's results, or --resume_from_checkpoint "
            "to continue that run, or --overwrite_output_dir to start over in it (its results are removed), found "
            "checkpoints, config.json, epoch-1, epoch-2, epoch-3, epoch-4, epoch-5, epoch-6, events.out.tfevents.") \
        in stderr, stderr
    assert sorted(p.name for p in (out / "checkpoints").glob("step-*")) == [f"step-{s}" for s in range(1, 7)]

    shorter = with_value(runs["sft_args"], "--num_train_epochs", "2")
    run_rlhf(rlhf_bin, *shorter, "--output_dir", out, "--overwrite_output_dir")
    assert sorted(p.name for p in (out / "checkpoints").glob("step-*")) == ["step-1", "step-2"]
    assert sorted(p.name for p in out.glob("epoch-*")) == ["epoch-1", "epoch-2"]
    assert sorted(read_metrics(out / "metrics.jsonl")) == [1, 2]
    assert len(list(out.glob("events.out.tfevents.*"))) == 1

    # A bare --resume_from_checkpoint is true: the overwritten run goes on from its own step-2.
    longer = with_value(runs["sft_args"], "--num_train_epochs", "3")
    result = run_rlhf(rlhf_bin, *longer, "--resume_from_checkpoint", "--output_dir", out)
    assert f"resumed from {out / 'checkpoints' / 'step-2'} (step 2)" in result.stderr, result.stderr
    assert sorted(read_metrics(out / "metrics.jsonl")) == [1, 2, 3]


def test_nothing_to_resume_is_an_error_naming_the_path(rlhf_bin, runs, tmp_path):
    args = runs["sft_args"]
    empty = tmp_path / "empty"
    stderr = run_failing(rlhf_bin, *args, "--output_dir", empty, "--resume_from_checkpoint", "true")
    assert f"error: {empty}/checkpoints: expected a checkpoint to resume from (--resume_from_checkpoint true), found " \
           "none" in stderr, stderr
    expected = ": expected a checkpoint folder (OUTPUT/checkpoints/step-N: state.json, modules.safetensors, " \
               "optimizers.safetensors), found "
    missing = tmp_path / "missing"
    stderr = run_failing(rlhf_bin, *args, "--output_dir", empty, "--resume_from_checkpoint", missing)
    assert f"error: --resume_from_checkpoint {missing}{expected}no such folder" in stderr, stderr
    stderr = run_failing(rlhf_bin, *args, "--output_dir", empty, "--resume_from_checkpoint", runs["sft"])
    assert (f"error: --resume_from_checkpoint {runs['sft']}{expected}a folder without state.json, modules.safetensors, "
            f"optimizers.safetensors (it holds checkpoints: pass one of them, e.g. "
            f"{runs['sft'] / 'checkpoints' / 'step-6'})") in stderr, stderr
    assert not (empty / "metrics.jsonl").exists()
