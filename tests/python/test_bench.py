"""Smoke test of `rlhf bench` on tiny settings: it runs and prints well-formed JSON with positive figures. No timing
assertions (the machine is shared); the figures themselves are in bench/RESULTS.md."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

from conftest import run_rlhf


def test_generate_json(rlhf_bin):
    out = run_rlhf(rlhf_bin, "--threads", 1, "bench", "--generate", "--json", "--preset", "tiny", "--batch_size", 2,
                   "--prompt_length", 5, "--max_new_tokens", 6, "--repeats", 2)
    report = json.loads(out.stdout)
    assert report["machine"]["threads"] == 1
    assert "gemm" not in report
    generate = report["generate"]
    assert generate["model"] == "tiny" and generate["family"] == "gpt2"
    assert generate["parameters"] > 0
    assert (generate["batch_size"], generate["prompt_length"], generate["max_new_tokens"]) == (2, 5, 6)
    assert [run["mode"] for run in generate["runs"]] == ["cache", "recompute"]
    for run in generate["runs"]:
        assert len(run["seconds"]) == 2
        for key in ("median_seconds", "tokens_per_s", "prefill_seconds", "model_gflops_per_s", "peak_rss_mb"):
            assert run[key] > 0, key
    assert generate["cache_speedup"] > 0
    # Greedy decoding with and without the cache must pick the same tokens (the core tests check this exactly too).
    assert generate["tokens_equal"] is True


def test_gemm_json(rlhf_bin):
    out = run_rlhf(rlhf_bin, "--threads", 1, "bench", "--gemm", "--json", "--gemm_sizes", "32,64", "--gemm_repeats", 2)
    report = json.loads(out.stdout)
    assert "generate" not in report
    rows = report["gemm"]
    assert [(r["dtype"], r["size"]) for r in rows] == [("float32", 32), ("float32", 64), ("bfloat16", 32),
                                                      ("bfloat16", 64)]
    for r in rows:
        if r["dtype"] == "bfloat16" and not report["machine"]["bf16_native"]:
            assert "skipped" in r
            continue
        assert r["gflops"] > 0 and r["median_seconds"] > 0 and r["repeats"] == 2


def test_bad_options_are_clear_errors(rlhf_bin):
    out = run_rlhf(rlhf_bin, "bench", "--generate", "--preset", "huge", check=False)
    assert out.returncode != 0 and "tiny, demo, 25m, gpt2-small" in out.stderr
    out = run_rlhf(rlhf_bin, "bench", "--gemm", "--gemm_sizes", "12x", check=False)
    assert out.returncode != 0 and "--gemm_sizes" in out.stderr
    out = run_rlhf(rlhf_bin, "bench", "--generate", "--preset", "tiny", "--max_new_tokens", 500, check=False)
    assert out.returncode != 0 and "positions" in out.stderr


def test_train_json(rlhf_bin):
    out = run_rlhf(rlhf_bin, "--threads", 1, "bench", "--train", "--json", "--preset", "tiny", "--family", "llama",
                   "--repeats", 2, "--train_batch_size", 2, "--sequence_length", 16, "--rm_responses", 3,
                   "--ppo_rollout_batch_size", 4, "--ppo_mini_batches", 2, "--ppo_prompt_length", 4,
                   "--ppo_response_length", 5)
    report = json.loads(out.stdout)
    assert "gemm" not in report and "generate" not in report
    train = report["train"]
    assert train["model"] == "tiny" and train["architecture"] == "LlamaForCausalLM" and train["parameters"] > 0
    phases = [run["phase"] for run in train["runs"]]
    assert phases == ["sft", "rm", "ppo/generation", "ppo/scoring", "ppo/optimisation", "ppo"]
    tokens = {run["phase"]: run["tokens"] for run in train["runs"]}
    # What each phase processes, from the settings: SFT 2 rows x 16, RM 2 prompts x 3 responses x 16, PPO 4 episodes
    # of 5 generated tokens, 4 forwards (policy, reference, value, reward) and 2 trained models over 4 x (4 + 5).
    assert tokens == {"sft": 32, "rm": 96, "ppo/generation": 20, "ppo/scoring": 144, "ppo/optimisation": 72,
                      "ppo": 20}
    for run in train["runs"]:
        assert len(run["seconds"]) == 2, run
        for key in ("median_seconds", "tokens_per_s", "model_gflops_per_s", "peak_rss_mb"):
            assert run[key] > 0, (run["phase"], key)
        assert run["mfu"] == 0  # no GEMM peak measured in this run


def test_train_profile_has_each_ppo_phase(rlhf_bin):
    out = run_rlhf(rlhf_bin, "--threads", 1, "bench", "--train", "--json", "--preset", "tiny", "--family", "llama",
                   "--train_phases", "ppo", "--repeats", 1, "--warmup", 0, "--profile", "true",
                   "--ppo_rollout_batch_size", 4, "--ppo_mini_batches", 2, "--ppo_prompt_length", 4,
                   "--ppo_response_length", 5)
    profiles = json.loads(out.stdout)["train"]["profiles"]
    assert sorted(profiles) == ["ppo/generation", "ppo/optimisation", "ppo/scoring"]
    # One phase per iteration, after a warm-up iteration (which creates the optimizer's state).
    assert [profiles[p]["iteration"] for p in ("ppo/generation", "ppo/scoring", "ppo/optimisation")] == [1, 2, 3]
    for phase, profile in profiles.items():
        names = [op["name"] for op in profile["ops"]]
        assert profile["wall_ms"] > 0 and names, phase
        assert all(op["calls"] > 0 and op["self_ms"] <= op["total_ms"] + 1e-6 for op in profile["ops"]), phase
    # Only the optimisation phase trains: its profile holds the optimizer step, the other two do not.
    assert any("adam" in op["name"] for op in profiles["ppo/optimisation"]["ops"])
    assert not any("adam" in op["name"] for op in profiles["ppo/generation"]["ops"])


def test_train_bad_options(rlhf_bin):
    out = run_rlhf(rlhf_bin, "bench", "--train", "--preset", "tiny", "--train_phases", "sft,dpo", check=False)
    assert out.returncode != 0 and "sft, rm and/or ppo" in out.stderr
    out = run_rlhf(rlhf_bin, "bench", "--train", "--preset", "tiny", "--ppo_rollout_batch_size", 5, check=False)
    assert out.returncode != 0 and "multiple of ppo_mini_batches" in out.stderr


def _bench_machine(rlhf_bin, threads, **env):
    """`rlhf bench`'s machine section, run with OMP_WAIT_POLICY and GOMP_SPINCOUNT as given (absent unless named)."""
    environment = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    environment.update(env)
    result = subprocess.run([str(rlhf_bin), "--threads", str(threads), "bench", "--gemm", "--json", "--gemm_sizes", "16",
                             "--gemm_dtypes", "float32", "--gemm_repeats", "1"],
                            capture_output=True, text=True, env=environment, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["machine"]


def test_openmp_wait_policy_is_chosen_at_start_unless_the_user_chose(rlhf_bin):
    # More threads than this machine has cores: whatever else runs, spinning would steal cores, so rlhf waits passively.
    machine = _bench_machine(rlhf_bin, os.cpu_count() + 1)
    assert (machine["omp_wait_policy"], machine["gomp_spincount"]) == ("PASSIVE", "(unset)")
    # The user's variables are kept as they are, and nothing is added beside them.
    machine = _bench_machine(rlhf_bin, 1, OMP_WAIT_POLICY="ACTIVE")
    assert (machine["omp_wait_policy"], machine["gomp_spincount"]) == ("ACTIVE", "(unset)")
    machine = _bench_machine(rlhf_bin, 1, GOMP_SPINCOUNT="1234")
    assert (machine["omp_wait_policy"], machine["gomp_spincount"]) == ("(unset)", "1234")
    # One thread: a bounded spin where a core is free at start, passive otherwise (the rule is unit-tested in
    # tests/cpp/base/test_openmp_wait.cpp; which branch this run takes depends on the machine's load now).
    machine = _bench_machine(rlhf_bin, 1)
    assert (machine["omp_wait_policy"], machine["gomp_spincount"]) in [("(unset)", "10000"), ("PASSIVE", "(unset)")]


def test_gpu_presets_have_the_shape_transformers_builds(rlhf_bin):
    # bench/gpu/peers.py compares rlhf bench's presets with transformers' models of the same shape: their parameter
    # counts must agree (transformers' model is built on the meta device, no memory; ours reported without a phase).
    import torch
    import transformers
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench" / "gpu"))
    import peers
    for shape, (make_config, family) in peers.SHAPES.items():
        with torch.device("meta"):
            theirs = sum(p.numel() for p in transformers.AutoModelForCausalLM.from_config(make_config()).parameters())
        out = run_rlhf(rlhf_bin, "bench", "--train", "--train_phases", "none", "--json", "--preset", shape, "--family", family)
        assert json.loads(out.stdout)["train"]["parameters"] == theirs, shape
    # Qwen2-0.5B as published: 494,032,768 parameters with tied embeddings.
    assert theirs == 494032768


def test_a_gpu_that_is_not_there_is_a_clear_error(rlhf_bin):
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    out = run_rlhf(rlhf_bin, "bench", "--device", "cuda", "--gemm", check=False)
    assert out.returncode != 0 and "a CUDA device (none is available here)" in out.stderr
    out = run_rlhf(rlhf_bin, "generate", "--device", "cuda", "--model", "/nonexistent", "--ids", "-", input="",
                   check=False)  # the device is checked before the model is read
    assert out.returncode != 0 and "a CUDA device (none is available here)" in out.stderr
