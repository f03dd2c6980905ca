"""On a GPU machine: `rlhf bench --device cuda` beside transformers on the same GPU, one model shape per call.

For the shape's random model (transformers creates it and saves it; `rlhf bench --model` loads that same checkpoint):
- the GPU's bf16 and fp32 matrix-multiply rate, measured by `rlhf bench --gemm` in this run (the MFU denominator);
- generation: transformers' `generate` (KV cache, greedy, no early stop, bf16 weights) against `rlhf bench
  --generate --model DIR --dtype bfloat16`, the same batch, prompt length and new tokens, warm-up excluded, median;
- training: one plain transformers step (causal-LM loss over the whole row, backward, torch's AdamW, bf16 autocast
  over fp32 weights) against `rlhf bench --train` (SFT, RM with K=4, a PPO iteration by phase) on the preset of the
  same shape, bf16 autocast.
TRL's PPO on the GPU is bench/peer/ppo_vs_trl.py --device cuda.

Run there (python3 holds torch and transformers):
  python3 bench/gpu/peers.py --rlhf build/rlhf --shape gpt2-small [--batch 32] [--json out.json]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import transformers

SHAPES = {  # transformers config, rlhf bench preset and family of the same shape
    "gpt2-small": (lambda: transformers.GPT2Config(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12,
                                                   n_head=12), "gpt2"),
    "qwen2-0.5b": (lambda: transformers.Qwen2Config(vocab_size=151936, hidden_size=896, intermediate_size=4864,
                                                    num_hidden_layers=24, num_attention_heads=14,
                                                    num_key_value_heads=2, max_position_embeddings=4096,
                                                    rope_theta=1000000.0, tie_word_embeddings=True,
                                                    bos_token_id=0, eos_token_id=0, pad_token_id=0), "qwen2"),
}


def rlhf_bench(rlhf, args):
    cmd = [rlhf, "bench", "--device", "cuda", "--json", *map(str, args)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stderr}")
    return json.loads(result.stdout)


def timed(repeats, work):
    """Median seconds of `repeats` runs of work() after one untimed warm-up, each to the end of the GPU's work."""
    work()
    torch.cuda.synchronize()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), seconds


def transformers_generate(model, vocab, batch, prompt, new_tokens, repeats):
    prompts = torch.randint(0, vocab, (batch, prompt), generator=torch.Generator().manual_seed(1)).cuda()
    settings = dict(attention_mask=torch.ones_like(prompts), do_sample=False, use_cache=True, pad_token_id=0,
                    max_new_tokens=new_tokens, min_new_tokens=new_tokens)
    with torch.inference_mode():
        median, seconds = timed(repeats, lambda: model.generate(prompts, **settings))
    return {"tokens_per_s": batch * new_tokens / median, "median_seconds": median, "seconds": seconds}


def transformers_train_step(config, batch, length, repeats):
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = transformers.AutoModelForCausalLM.from_config(config).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    ids = torch.randint(1, config.vocab_size, (batch, length)).cuda()

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    median, seconds = timed(repeats, step)
    peak = torch.cuda.max_memory_allocated() / 2**20
    del model, optimizer
    torch.cuda.empty_cache()
    return {"tokens_per_s": batch * length / median, "median_seconds": median, "seconds": seconds,
            "peak_gpu_mb": peak}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rlhf", default="build/rlhf")
    parser.add_argument("--shape", default="gpt2-small", choices=sorted(SHAPES))
    parser.add_argument("--batch", type=int, default=32, help="generation batch")
    parser.add_argument("--prompt_length", type=int, default=32)
    parser.add_argument("--new_tokens", type=int, default=128)
    parser.add_argument("--train_batch", type=int, default=8, help="sequences per training step")
    parser.add_argument("--sequence_length", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip", default="", help="comma-separated parts to leave out: generate,train")
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    make_config, family = SHAPES[args.shape]
    report = {"shape": args.shape, "gpu": torch.cuda.get_device_name(), "torch": torch.__version__,
              "transformers": transformers.__version__}
    gemm = rlhf_bench(args.rlhf, ["--gemm", "--gemm_sizes", "4096,8192", "--gemm_dtypes", "bfloat16,float32",
                                  "--gemm_repeats", 10])["gemm"]
    report["gemm"] = gemm
    peak = max(g["gflops"] for g in gemm if g["dtype"] == "bfloat16" and "gflops" in g)
    print(f"{report['gpu']}: bf16 GEMM peak {peak / 1e3:.0f} TFLOP/s", flush=True)

    if "generate" not in skip:
        with tempfile.TemporaryDirectory() as tmp:
            torch.manual_seed(0)
            config = make_config()
            with torch.device("cuda"):  # initialised on the GPU: a 0.5B model's CPU init takes longer than its runs
                model = transformers.AutoModelForCausalLM.from_config(config).to(torch.bfloat16).eval()
            model.save_pretrained(tmp)  # bf16 on disk; ours reads it as it is
            theirs = transformers_generate(model, config.vocab_size, args.batch, args.prompt_length, args.new_tokens,
                                           args.repeats)
            del model
            torch.cuda.empty_cache()
            ours = rlhf_bench(args.rlhf, ["--generate", "--model", tmp, "--dtype", "bfloat16", "--batch_size",
                                          args.batch, "--prompt_length", args.prompt_length, "--max_new_tokens",
                                          args.new_tokens, "--modes", "cache", "--warmup", 1, "--repeats",
                                          args.repeats])["generate"]
        ours_rate = ours["runs"][0]["tokens_per_s"]
        report["generate"] = {"ours": ours, "transformers": theirs, "ratio": ours_rate / theirs["tokens_per_s"]}
        print(f"generate batch {args.batch}, {args.prompt_length} + {args.new_tokens} tokens, bf16: rlhf "
              f"{ours_rate:.0f} tokens/s, transformers {theirs['tokens_per_s']:.0f} tokens/s, "
              f"ratio {ours_rate / theirs['tokens_per_s']:.2f}x", flush=True)

    if "train" not in skip:
        theirs = transformers_train_step(make_config(), args.train_batch, args.sequence_length, args.repeats)
        ours = rlhf_bench(args.rlhf, ["--train", "--gemm", "--gemm_sizes", "8192", "--gemm_dtypes", "bfloat16",
                                      "--preset", args.shape, "--family", family, "--dtype", "bfloat16",
                                      "--train_dtype", "bfloat16", "--train_batch_size", args.train_batch,
                                      "--sequence_length", args.sequence_length, "--ppo_rollout_batch_size", 64,
                                      "--ppo_response_length", 64, "--warmup", 1, "--repeats",
                                      args.repeats])["train"]
        sft = next(r for r in ours["runs"] if r["phase"] == "sft")
        report["train"] = {"ours": ours, "transformers_sft_step": theirs,
                           "sft_ratio": sft["tokens_per_s"] / theirs["tokens_per_s"]}
        for r in ours["runs"]:
            print(f"rlhf {r['phase']}: {r['tokens_per_s']:.0f} tokens/s, {r['median_seconds'] * 1e3:.1f} ms, "
                  f"MFU {100 * r['mfu']:.1f} %, peak GPU {r['peak_rss_mb']:.0f} MB", flush=True)
        print(f"transformers SFT step: {theirs['tokens_per_s']:.0f} tokens/s, "
              f"{theirs['median_seconds'] * 1e3:.1f} ms, peak GPU {theirs['peak_gpu_mb']:.0f} MB; "
              f"rlhf SFT / transformers {report['train']['sft_ratio']:.2f}x", flush=True)

    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
