"""Smoke test of `rlhf bench` on tiny settings: it runs and prints well-formed JSON with positive figures. No timing
assertions (the machine is shared); the figures themselves are in bench/RESULTS.md."""
import json

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
