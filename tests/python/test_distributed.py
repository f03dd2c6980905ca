"""Data parallelism over torch's c10d (Gloo) with two processes on 127.0.0.1, on the tiny world of test_stages_cli.py.

- SFT through `torchrun --no-python --nproc_per_node 2`: 2 ranks × batch 4 give the same per-step losses and final
  parameters as one process with batch 8 (76 examples: the last global micro-batch leaves rank 1 nothing, and the
  per-rank token counts differ, so the loss rescaling is exercised).
- RM through plain RANK/WORLD_SIZE/... variables: 2 ranks × 3 prompts equal one process with 6, with and without
  ZeRO-1 (--zero_stage 1).
- Resume: a 2-rank run stopped after one epoch and resumed (each rank loads the checkpoint) equals an uninterrupted
  2-rank run; with ZeRO-1 the checkpoint holds the full moments, so the resumed run also matches.
- A rank killed mid-run: the other exits non-zero with an error naming the failed collective, within --ddp_timeout.
- Inconsistent launcher variables are refused before anything is loaded.
- PPO: 2 ranks × 8 episodes equal one process with 16 (generated 8 at a time, so that both draw the same samples):
  the same per-iteration losses, the same rollouts row for row (advantages whitened over both ranks' episodes), the
  same pretraining windows for ptx (each rank its own half), the same final weights.
The references are one-process runs of the same binary: the per-step arithmetic they check (gradient of the global
mean, one optimizer step) is PyTorch's DistributedDataParallel contract, and one process is what it must reproduce.
"""
import json
import math
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from test_stages_cli import ENV, make_world, write_jsonl

TORCHRUN = pathlib.Path(sys.executable).parent / "torchrun"
TINY = ["--device", "cpu", "--quiet", "true", "--seed", "3", "--max_length", "48", "--logging_steps", "1"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("distributed")
    files, base, tokenizer = make_world(root)
    sft_rows = [json.loads(line) for line in open(files["sft"])]
    files["sft76"] = write_jsonl(root / "sft76.jsonl", sft_rows[:76])
    return {"root": root, "files": files, "base": base}


def run(cmd, env=None, timeout=600):
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, env=env or ENV)
    assert result.returncode == 0, f"{' '.join(map(str, cmd))} failed ({result.returncode}):\n{result.stderr[-3000:]}"
    return result


def rank_env(rank, world_size, port):
    return dict(ENV, RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                MASTER_PORT=str(port))


def start_ranks(cmd, world_size=2, timeout=600, ddp_timeout=120, stagger=0.0):
    """Starts `cmd` once per rank with torchrun's variables set by hand, rank r `stagger`·r seconds after rank 0;
    returns ([return codes], [(stdout, stderr)], a report of every rank's stderr). A short --ddp_timeout (unless `cmd`
    sets one) makes a rank whose peer died fail soon instead of waiting out the 1800 s default; ranks still running
    after `timeout` are killed."""
    cmd = [str(c) for c in cmd]
    if "--ddp_timeout" not in cmd:
        cmd += ["--ddp_timeout", str(ddp_timeout)]
    port = free_port()
    procs = []
    for r in range(world_size):
        if r > 0 and stagger > 0:
            time.sleep(stagger)
        procs.append(subprocess.Popen(cmd, env=rank_env(r, world_size, port), stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    outputs, deadline = [], time.monotonic() + timeout
    for p in procs:
        try:
            outputs.append(p.communicate(timeout=max(1.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            outputs = [q.communicate() for q in procs]
            break
    report = "\n".join(f"--- rank {r} (exit {p.returncode}, port {port}):\n{err[-3000:]}"
                       for r, (p, (_, err)) in enumerate(zip(procs, outputs)))
    return [p.returncode for p in procs], outputs, report


def run_ranks(cmd, world_size=2, timeout=600, stagger=0.0):
    """start_ranks, and every rank must succeed (on failure, every rank's output is shown: the first to fail says
    why)."""
    codes, outputs, report = start_ranks(cmd, world_size, timeout, stagger=stagger)
    assert all(c == 0 for c in codes), f"a rank failed or hung:\n{report}"
    return outputs


def losses(output_dir, key="loss"):
    rows = [json.loads(line) for line in open(pathlib.Path(output_dir) / "metrics.jsonl")]
    return [(r["step"], r[key]) for r in rows if key in r]


def assert_same_run(one, two, atol, noise_only=(), adam_bound=0.0):
    """Same per-step losses and final parameters within `atol`. `noise_only` names parameters whose gradient is zero
    in exact arithmetic, so that both runs feed AdamW nothing but rounding noise, which AdamW normalises into steps of
    up to about the learning rate: those are only held to `adam_bound` (learning rate × steps)."""
    a, b = losses(one), losses(two)
    assert [s for s, _ in a] == [s for s, _ in b] and a
    worst = max(abs(x - y) for (_, x), (_, y) in zip(a, b))
    assert worst <= atol, f"per-step losses differ by up to {worst:.3g}: {a} vs {b}"
    pa, pb = load_file(pathlib.Path(one) / "model.safetensors"), load_file(pathlib.Path(two) / "model.safetensors")
    assert pa.keys() == pb.keys()
    for k in noise_only:
        assert (pa[k] - pb[k]).abs().max().item() <= adam_bound, k
    worst_param = max((pa[k] - pb[k]).abs().max().item() for k in pa if k not in noise_only)
    assert worst_param <= atol, f"final parameters differ by up to {worst_param:.3g}"
    print(f"{one.name} vs {two.name}: {len(a)} steps, max loss difference {worst:.3g}, max parameter difference "
          f"{worst_param:.3g}")
    return worst, worst_param


def sft_args(world, batch, out, epochs=2, extra=()):
    return ["sft", "--model_name_or_path", world["base"], "--dataset", world["files"]["sft76"], "--num_train_epochs",
            epochs, "--per_device_train_batch_size", batch, "--gradient_accumulation_steps", "2", "--learning_rate",
            "3e-3", "--save_every_epoch", "false", *TINY, "--output_dir", out, *extra]


def rm_args(world, batch, out, extra=()):
    return ["rm", "--model_name_or_path", world["base"], "--dataset", world["files"]["rankings"], "--num_train_epochs",
            "1", "--per_device_train_batch_size", batch, "--learning_rate", "1e-3", *TINY, "--output_dir", out, *extra]


def test_sft_two_ranks_under_torchrun_equal_one_process_with_the_doubled_batch(rlhf_bin, world):
    root = world["root"]
    run([rlhf_bin, *sft_args(world, 8, root / "sft-one")])
    run([TORCHRUN, "--no-python", "--nproc_per_node", "2", "--master_addr", "127.0.0.1", "--master_port", free_port(),
         rlhf_bin, *sft_args(world, 4, root / "sft-two")])
    # fp32 sums in another order (two half batches, then an all-reduce): differences of rounding size only.
    assert_same_run(root / "sft-one", root / "sft-two", atol=2e-5)


@pytest.mark.parametrize("zero_stage", ["0", "1"])
def test_lora_sft_two_ranks_equal_one_process_with_the_doubled_batch(rlhf_bin, world, zero_stage):
    """LoRA under data parallelism: only the adapters are averaged, sharded and checked (the frozen base has no
    gradient); the merged models of both runs agree. Dropout off: each rank would draw its own masks."""
    root = world["root"]
    lora = ("--use_peft", "true", "--lora_r", "4", "--lora_alpha", "8", "--lora_dropout", "0")
    one, two = root / f"lora-one-{zero_stage}", root / f"lora-two-{zero_stage}"
    run([rlhf_bin, *sft_args(world, 8, one, epochs=1, extra=lora)])
    run_ranks([rlhf_bin, *sft_args(world, 4, two, epochs=1, extra=(*lora, "--zero_stage", zero_stage))])
    assert_same_run(one, two, atol=2e-5)


@pytest.mark.parametrize("zero_stage", ["0", "1"])
def test_rm_two_ranks_from_environment_equal_one_process_with_the_doubled_batch(rlhf_bin, world, zero_stage):
    root = world["root"]
    if not (root / "rm-one").exists():
        run([rlhf_bin, *rm_args(world, 6, root / "rm-one")])
    two = root / f"rm-two-zero{zero_stage}"
    run_ranks([rlhf_bin, *rm_args(world, 3, two, ["--zero_stage", zero_stage, "--ddp_check_parameters_steps", "1"])])
    # ln_f's bias adds the same w·b to every reward, which cancels in r_w − r_l: its gradient is zero in exact
    # arithmetic (measured: 2e-4 apart after 12 steps at lr 1e-3, every other parameter within 5e-6).
    steps = len(losses(root / "rm-one"))
    assert_same_run(root / "rm-one", two, atol=2e-5, noise_only=["transformer.ln_f.bias"], adam_bound=1e-3 * steps)
    accuracy_one, accuracy_two = losses(root / "rm-one", "accuracy"), losses(two, "accuracy")
    assert accuracy_one == accuracy_two  # counts summed over ranks: the same pairs, the same verdicts


@pytest.mark.parametrize("zero_stage", ["0", "1"])
def test_two_ranks_resume_from_a_checkpoint(rlhf_bin, world, zero_stage):
    root = world["root"]
    constant = ["--lr_scheduler_type", "constant", "--zero_stage", zero_stage]
    whole, split = root / f"resume-whole-{zero_stage}", root / f"resume-split-{zero_stage}"
    run_ranks([rlhf_bin, *sft_args(world, 4, whole, epochs=2, extra=constant)])
    run_ranks([rlhf_bin, *sft_args(world, 4, split, epochs=1, extra=constant)])
    run_ranks([rlhf_bin, *sft_args(world, 4, split, epochs=2, extra=[*constant, "--resume_from_checkpoint", "true"])])
    worst, worst_param = assert_same_run(whole, split, atol=0)  # the same ranks, the same arithmetic: bit for bit


def test_a_late_rank_accepts_the_folder_that_rank_0_has_begun_to_fill(rlhf_bin, world):
    """Rank 0 alone judges --output_dir (a fresh run into an earlier run's results is refused) and tells the others:
    rank 1, started 3 s late, finds what rank 0 of this very run has written there (PPO's rollouts/ folder) and must
    not take it for an earlier run's results. A folder that does hold an earlier run's results stops both ranks at
    once, with rank 0's reason, rather than leaving one to wait for the other until --ddp_timeout."""
    root = world["root"]
    ensure_sft_and_rm(rlhf_bin, world)
    late = root / "ppo-late-rank"
    run_ranks([rlhf_bin, *ppo_args(world, root / "rm-from-sft", "8", late)], stagger=3.0)
    assert (late / "rollouts").is_dir() and (late / "model.safetensors").exists()
    start = time.monotonic()
    codes, outputs, report = start_ranks([rlhf_bin, *ppo_args(world, root / "rm-from-sft", "8", late)], timeout=300)
    assert all(c not in (0, None) for c in codes), report
    assert time.monotonic() - start < 100, f"a refused run took until the --ddp_timeout of 120 s:\n{report}"
    assert "without an earlier run's results" in outputs[0][1] and "model.safetensors" in outputs[0][1], report
    assert "rank 0 refused it" in outputs[1][1], report


@pytest.mark.parametrize("how", ["SIGKILL", "SIGSTOP"])
def test_a_dead_or_stuck_rank_makes_the_other_fail_within_the_timeout(rlhf_bin, world, how):
    """SIGKILL closes rank 1's sockets (Gloo sees it at once); SIGSTOP leaves them open and silent, so only
    --ddp_timeout ends rank 0's wait."""
    root, port = world["root"], free_port()
    args = sft_args(world, 4, root / f"killed-{how}", epochs=100000, extra=["--ddp_timeout", "5"])
    procs = [subprocess.Popen([str(c) for c in [rlhf_bin, *args]], env=rank_env(r, 2, port), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for r in range(2)]
    metrics = root / f"killed-{how}" / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not metrics.exists() or len(metrics.read_text().splitlines()) < 3):
        assert procs[0].poll() is None, procs[0].communicate()[1]
        time.sleep(0.2)
    assert metrics.exists(), "the two ranks never trained"
    procs[1].send_signal(getattr(signal, how))
    start = time.time()
    try:
        _, err = procs[0].communicate(timeout=120)
    except subprocess.TimeoutExpired:
        procs[0].kill()
        pytest.fail(f"rank 0 still waits for rank 1 120 s after its {how} (--ddp_timeout 5)")
    finally:
        procs[1].kill()
        procs[1].communicate()
    print(f"rank 0 exited {procs[0].returncode} {time.time() - start:.1f} s after rank 1's {how}: "
          f"{err.strip().splitlines()[-1][:400]}")
    assert procs[0].returncode not in (0, None)
    assert "data parallel rank 0 of 2" in err and "failed" in err, err[-2000:]


@pytest.mark.parametrize("variables, message", [
    ({"RANK": "2", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "1"}, "RANK=2"),
    ({"RANK": "0"}, "WORLD_SIZE missing"),
    ({"OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "2", "SLURM_PROCID": "0", "SLURM_NTASKS": "2",
      "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "1"}, "same rank"),
])
def test_inconsistent_launcher_variables_are_refused(rlhf_bin, world, variables, message):
    result = subprocess.run([str(c) for c in [rlhf_bin, *sft_args(world, 4, world["root"] / "refused")]],
                            capture_output=True, text=True, timeout=60, env=dict(ENV, **variables))
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


def test_ppo_two_ranks_keep_identical_parameters(rlhf_bin, world):
    """Each rank its own rollouts; the parameter checksum of policy and value model is compared after every iteration
    (a difference fails the run: test_diverged_replicas_are_caught shows that it does), with and without ZeRO-1."""
    root = world["root"]
    if not (root / "rm-one").exists():
        run([rlhf_bin, *rm_args(world, 6, root / "rm-one")])
    f = world["files"]
    args = ["ppo", "--sft_model_path", world["base"], "--reward_model_path", root / "rm-one", "--dataset", f["prompts"],
            "--ptx_dataset", f["text"], "--ptx_coef", "0.5", "--ptx_ratio", "1", "--ptx_max_length", "16",
            "--total_episodes", "64", "--rollout_batch_size", "8", "--num_mini_batches", "2", "--num_ppo_epochs", "2",
            "--response_length", "8", "--learning_rate", "1e-3", "--value_learning_rate", "1e-3", "--kl_target", "1",
            "--whiten_rewards", "true", "--ddp_check_parameters_steps", "1", *TINY]
    for zero_stage in ("0", "1"):
        out = root / f"ppo-two-zero{zero_stage}"
        outputs = run_ranks([rlhf_bin, *args, "--zero_stage", zero_stage, "--output_dir", out])
        logged = [json.loads(line) for line in open(out / "metrics.jsonl")]
        assert len(logged) == 4  # 64 episodes / (2 ranks × 8)
        assert all(math.isfinite(row["objective/kl_coef"]) for row in logged)
        assert (out / "model.safetensors").exists() and (out / "value_model" / "model.safetensors").exists()


def ensure_sft_and_rm(rlhf_bin, world):
    """The SFT model PPO starts from (root/sft-one) and a reward model trained from it (root/rm-from-sft), made once
    per module; returns the reward model's folder."""
    root = world["root"]
    if not (root / "sft-one").exists():
        run([rlhf_bin, *sft_args(world, 8, root / "sft-one")])
    rm = root / "rm-from-sft"
    if not rm.exists():
        run([rlhf_bin, "rm", "--model_name_or_path", root / "sft-one", "--dataset", world["files"]["rankings"],
             "--num_train_epochs", "1", "--per_device_train_batch_size", "6", "--learning_rate", "1e-3", *TINY,
             "--output_dir", rm])
    return rm


def ppo_args(world, rm, batch, out, extra=()):
    """PPO from an SFT model that has learnt to end its answers (responses of different lengths, so the ranks hold
    different numbers of tokens), one minibatch and one epoch per iteration (a permutation of one rank's episodes is not
    a permutation of one process's), ptx, adaptive β and whitened rewards."""
    f = world["files"]
    return ["ppo", "--sft_model_path", world["root"] / "sft-one", "--reward_model_path", rm, "--dataset", f["prompts"],
            "--ptx_dataset", f["text"], "--ptx_coef", "0.5", "--ptx_ratio", "1", "--ptx_max_length", "16",
            "--total_episodes", "48", "--rollout_batch_size", batch, "--generation_batch_size", "8",
            "--num_mini_batches", "1", "--num_ppo_epochs", "1", "--response_length", "12", "--learning_rate", "1e-3",
            "--value_learning_rate", "1e-3", "--kl_target", "1", "--whiten_rewards", "true", "--warmup_steps", "0",
            "--save_rollouts", "true", *TINY, "--output_dir", out, *extra]


def test_ppo_two_ranks_equal_one_process_with_the_doubled_batch(rlhf_bin, world):
    root = world["root"]
    rm = ensure_sft_and_rm(rlhf_bin, world)
    one, two = root / "ppo-one", root / "ppo-two"
    run([rlhf_bin, *ppo_args(world, rm, "16", one)])
    run_ranks([rlhf_bin, *ppo_args(world, rm, "8", two, ["--ddp_check_parameters_steps", "1"])])

    metrics = [[json.loads(line) for line in open(d / "metrics.jsonl")] for d in (one, two)]
    assert len(metrics[0]) == len(metrics[1]) == 3
    lengths, counts, worst = set(), [], 0.0
    for step in (1, 2, 3):  # iteration by iteration: its rollouts, then what it logged
        whole = load_file(one / "rollouts" / f"iteration-{step}.safetensors")
        halves = [load_file(two / "rollouts" / f"iteration-{step}-rank-{r}.safetensors") for r in (0, 1)]
        # Each rank its own pretraining windows; together, the windows one process used.
        assert torch.equal(torch.cat([h["ptx_windows"] for h in halves], 1), whole["ptx_windows"]), step
        for r, half in enumerate(halves):
            rows = slice(8 * r, 8 * r + 8)
            mask = half["response_mask"]
            n = mask.shape[1]
            assert torch.equal(whole["response_mask"][rows, :n], mask) and not whole["response_mask"][rows, n:].any()
            assert torch.equal(whole["response_ids"][rows, :n] * mask, half["response_ids"] * mask), (step, r)
            lengths.update(mask.sum(1).tolist())
            counts.append((step, r, int(mask.sum())))
            assert torch.allclose(whole["scores"][rows], half["scores"], atol=1e-5)
            for key in ("logprobs", "ref_logprobs", "values", "rewards", "advantages", "returns"):
                gap = ((whole[key][rows, :n] - half[key]) * mask).abs().max().item()
                worst = max(worst, gap)
                assert gap < 1e-4, (step, r, key, gap)
        a, b = metrics[0][step - 1], metrics[1][step - 1]
        for key in ("loss/policy_avg", "loss/value_avg", "loss/ptx", "objective/scores", "objective/kl",
                    "objective/kl_coef", "objective/entropy", "objective/non_score_reward", "policy/approxkl_avg",
                    "policy/clipfrac_avg", "policy/entropy_avg", "val/clipfrac_avg", "val/ratio", "val/ratio_var",
                    "val/num_eos_tokens", "episode", "response_length", "eos_fraction"):
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=2e-5), (step, key, a[key], b[key])
    # The ranks hold different numbers of tokens: a mean of their token means is not the token mean over both.
    assert any(counts[i][2] != counts[i + 1][2] for i in range(0, len(counts), 2)), counts
    print(f"PPO two ranks vs one: rollouts within {worst:.3g}, response lengths {sorted(lengths)}, tokens per "
          f"(iteration, rank) {counts}")
    for name in ("model.safetensors", "value_model/model.safetensors"):
        a, b = load_file(one / name), load_file(two / name)
        worst_param = max((a[k] - b[k]).abs().max().item() for k in a)
        assert worst_param < 1e-4, (name, worst_param)


def test_diverged_replicas_are_caught(rlhf_bin, world):
    """Ranks given different learning rates apply different updates: the checksum after step 1 must catch it."""
    port, root = free_port(), world["root"]
    procs = []
    for rank, lr in enumerate(["3e-3", "1e-3"]):
        args = sft_args(world, 4, root / "diverged", extra=["--ddp_check_parameters_steps", "1", "--ddp_timeout", "30"])
        args[args.index("--learning_rate") + 1] = lr
        procs.append(subprocess.Popen([str(c) for c in [rlhf_bin, *args]], env=rank_env(rank, 2, port),
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert all(p.returncode != 0 for p in procs)
    assert all("step 1: expected identical parameters on every rank" in e for e in errors), errors
