"""Generation on CPU, side by side: `rlhf generate` with the KV cache, the same without it, and transformers'
`generate`, on one random model that transformers creates and saves: the GPT-2-small shape (issue 11's acceptance)
or the demo's Llama shape (issue 13: rollout generation at batch 32).

Run with the venv's python:
  $VENV/bin/python bench/generate_vs_transformers.py [--rlhf build/rlhf] [--shape gpt2-small|demo] [--batch 32] [--write]
It waits for a quiet machine (1-minute load average below --max_load) before each timed run, takes the median of
--runs runs, checks that our greedy tokens equal transformers', prints a table and, with --write, updates its sections
of bench/RESULTS.md."""
import argparse
import datetime
import json
import os
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile
import time

# Both sides wait for work the same way: rlhf picks a bounded OpenMP spin (GOMP_SPINCOUNT=10000) on a quiet machine, and
# this process would otherwise run transformers with libgomp's default (300,000 spins). Set here, before torch loads
# libgomp, and inherited by the rlhf processes (which keep a setting they find). A policy given by the caller is kept.
if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
    os.environ["GOMP_SPINCOUNT"] = "10000"

import torch
import transformers

from cpu_label import cpu_label

REPO = pathlib.Path(__file__).resolve().parents[1]

# The models, random and created by transformers: GPT-2 small, and the Llama of `rlhf bench --preset demo` (the shape
# bench/peer/ppo_vs_trl.py uses for PPO; tied embeddings).
SHAPES = {
    "gpt2-small": lambda: transformers.GPT2Config(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12,
                                                  n_head=12),
    "demo": lambda: transformers.LlamaConfig(vocab_size=8192, hidden_size=256, intermediate_size=1024,
                                             num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=4,
                                             max_position_embeddings=256, tie_word_embeddings=True,
                                             bos_token_id=0, eos_token_id=0, pad_token_id=0),
}


def wait_for_quiet(max_load, max_wait):
    """Waits until the 1-minute load average is below max_load (at most max_wait seconds); returns the load seen."""
    start = time.time()
    while True:
        load = os.getloadavg()[0]
        if load < max_load or time.time() - start > max_wait:
            return load
        time.sleep(15)


def run_rlhf(rlhf, threads, args):
    result = subprocess.run([str(rlhf), "--threads", str(threads), *map(str, args)], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"rlhf {' '.join(map(str, args))} failed ({result.returncode}):\n{result.stderr}")
    return result


def timed_rlhf_generate(rlhf, threads, model_dir, ids_file, batch, new_tokens, use_cache, dtype="float32"):
    """One `rlhf generate` process; returns (tokens/s from its --timing line, generated ids per row)."""
    result = run_rlhf(rlhf, threads, ["generate", "--model", model_dir, "--ids", ids_file, "--batch_size", batch,
                                      "--max_new_tokens", new_tokens, "--do_sample", "false", "--eos_token_id", -1,
                                      "--use_cache", "true" if use_cache else "false", "--timing", "true",
                                      "--dtype", dtype])
    match = re.search(r"([0-9.eE+-]+) tokens/s", result.stderr)
    if not match:
        sys.exit(f"no tokens/s in rlhf generate's stderr:\n{result.stderr}")
    rows = [json.loads(line)["ids"] for line in result.stdout.splitlines() if line.strip()]
    return float(match.group(1)), rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rlhf", default=str(pathlib.Path(os.environ.get("RLHF_BUILD", REPO / "build")) / "rlhf"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--shape", default="gpt2-small", choices=sorted(SHAPES))
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--prompt_length", type=int, default=32)
    parser.add_argument("--new_tokens", type=int, default=128)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--recompute_runs", type=int, default=3, help="runs without the KV cache (minutes each)")
    parser.add_argument("--max_load", type=float, default=1.0, help="wait for a 1-minute load average below this")
    parser.add_argument("--max_wait", type=float, default=900, help="seconds to wait for that before measuring anyway")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"],
                        help="weights and activations on both sides (the fp32 checkpoint rounded to bf16 by each)")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    B, P, N = args.batch, args.prompt_length, args.new_tokens
    loads, loads_after = [], []  # 1-minute load average before and after each timed run

    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(args.seed)
        config = SHAPES[args.shape]()
        model = transformers.AutoModelForCausalLM.from_config(config).eval()
        parameters = sum(p.numel() for p in model.parameters())
        model_dir = os.path.join(tmp, f"{args.shape}-random")
        model.save_pretrained(model_dir)
        if args.dtype == "bfloat16":
            model = model.to(torch.bfloat16)
        prompts = torch.randint(0, config.vocab_size, (B, P), generator=torch.Generator().manual_seed(args.seed + 1))
        ids_file = os.path.join(tmp, "prompts.jsonl")
        with open(ids_file, "w") as f:
            for row in prompts.tolist():
                f.write(json.dumps({"ids": row}) + "\n")

        # GEMM rate of this machine in the same session, for context (the practical compute limit).
        loads.append(wait_for_quiet(args.max_load, args.max_wait))
        gemm = json.loads(run_rlhf(args.rlhf, args.threads, ["bench", "--gemm", "--json"]).stdout)["gemm"]

        measured = {"cache": [], "recompute": [], "transformers": []}
        mask = torch.ones_like(prompts)
        settings = dict(attention_mask=mask, do_sample=False, use_cache=True, pad_token_id=config.eos_token_id)
        with torch.inference_mode():
            model.generate(prompts, max_new_tokens=8, min_new_tokens=8, **settings)  # warm-up, not timed
        # (a) and (c) alternate, so that a change in the machine's load falls on both alike.
        for i in range(args.runs):
            loads.append(wait_for_quiet(args.max_load, args.max_wait))
            rate, ours_rows = timed_rlhf_generate(args.rlhf, args.threads, model_dir, ids_file, B, N, True, args.dtype)
            measured["cache"].append(rate)
            loads_after.append(os.getloadavg()[0])
            print(f"rlhf generate, KV cache, run {i + 1}: {rate:.1f} tokens/s (load {loads[-1]:.2f} before, "
                  f"{loads_after[-1]:.2f} after)", flush=True)
            loads.append(wait_for_quiet(args.max_load, args.max_wait))
            with torch.inference_mode():
                start = time.perf_counter()
                out = model.generate(prompts, max_new_tokens=N, min_new_tokens=N, **settings)
                seconds = time.perf_counter() - start
            measured["transformers"].append(B * N / seconds)
            loads_after.append(os.getloadavg()[0])
            print(f"transformers generate, run {i + 1}: {B * N / seconds:.1f} tokens/s (load {loads[-1]:.2f} before, "
                  f"{loads_after[-1]:.2f} after)", flush=True)
        theirs_rows = out[:, P:].tolist()

        for i in range(args.recompute_runs):
            loads.append(wait_for_quiet(args.max_load, args.max_wait))
            rate, _ = timed_rlhf_generate(args.rlhf, args.threads, model_dir, ids_file, B, N, False, args.dtype)
            measured["recompute"].append(rate)
            loads_after.append(os.getloadavg()[0])
            print(f"rlhf generate, no cache, run {i + 1}: {rate:.1f} tokens/s (load {loads[-1]:.2f} before, "
                  f"{loads_after[-1]:.2f} after)", flush=True)

    # Greedy tokens: ours (KV cache) against transformers', row by row.
    equal_rows = sum(a == b for a, b in zip(ours_rows, theirs_rows))
    first_diff = [next((t for t, (x, y) in enumerate(zip(a, b)) if x != y), None)
                  for a, b in zip(ours_rows, theirs_rows)]
    med = {k: statistics.median(v) for k, v in measured.items() if v}

    def runs_text(key):
        return ", ".join(f"{x:.1f}" for x in measured[key])

    cache_vs_recompute = med["cache"] / med["recompute"] if "recompute" in med else float("nan")
    recompute_lines = [] if "recompute" not in med else [
        f"| (b) `rlhf generate --use_cache false` | {med['recompute']:.1f} | {runs_text('recompute')} |"]
    cache_vs_transformers = med["cache"] / med["transformers"]

    date = datetime.date.today().isoformat()
    openmp = ", ".join(f"{k}={os.environ[k]}" for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT") if k in os.environ)
    machine = f"{cpu_label()}, {os.cpu_count()} cores, {args.threads} threads, OpenMP {openmp} on both sides"
    load_text = (f"1-minute load average before the runs: min {min(loads):.2f}, "
                 f"median {statistics.median(loads):.2f}, max {max(loads):.2f}; after them: "
                 f"min {min(loads_after):.2f}, median {statistics.median(loads_after):.2f}, "
                 f"max {max(loads_after):.2f} (2 cores; the figures include this benchmark's own threads)")
    gemm_lines = ["| dtype | n | GFLOP/s | ms |", "| --- | --- | --- | --- |"]
    for g in gemm:
        if "skipped" in g:
            gemm_lines.append(f"| {g['dtype']} | {g['size']} | skipped: {g['skipped']} | |")
        else:
            gemm_lines.append(f"| {g['dtype']} | {g['size']} | {g['gflops']:.1f} | {g['median_seconds'] * 1e3:.2f} |")

    table = [
        "| | tokens/s (median) | runs |",
        "| --- | --- | --- |",
        f"| (a) `rlhf generate`, KV cache | {med['cache']:.1f} | {runs_text('cache')} |",
        *recompute_lines,
        f"| (c) transformers `generate` (use_cache=True) | {med['transformers']:.1f} | {runs_text('transformers')} |",
        "",
        *([] if not recompute_lines else [
            f"- (a) / (b), KV cache over full re-computation: **{cache_vs_recompute:.2f}x** (issue 11 asks for >= 3x)"]),
        f"- (a) / (c), ours over transformers: **{cache_vs_transformers:.2f}x**",
        f"- greedy tokens of (a) equal to (c): {equal_rows} of {len(ours_rows)} rows"
        + ("" if equal_rows == len(ours_rows) else f" (first differing step per row: {first_diff})"),
    ]
    print("\n".join(["", f"{date}, {machine}, torch {torch.__version__}, transformers {transformers.__version__}",
                     load_text, "", *gemm_lines, "", *table]))

    if args.write:
        sections = {
            "GEMM (rlhf bench --gemm)": [
                f"{date}; {machine}; LibTorch {torch.__version__}; measured by bench/generate_vs_transformers.py "
                f"(`rlhf bench --gemm`): n x n x n, warm-up excluded, median of repeats. {load_text}.", "",
                *gemm_lines],
            f"Generation: rlhf vs transformers ({args.shape} shape, batch {B}"
            f"{', bf16' if args.dtype == 'bfloat16' else ''}, CPU)": [
                f"{date}; {machine}; torch {torch.__version__}, transformers {transformers.__version__}. "
                f"Random `{type(model).__name__}` ({parameters / 1e6:.1f}M parameters, seed {args.seed}) saved with "
                f"`save_pretrained`"
                f"{' in fp32, run in bf16 on both sides (ours `--dtype bfloat16`, theirs `model.to(torch.bfloat16)`)' if args.dtype == 'bfloat16' else ''}"
                f"; batch {B}, "
                f"prompt {P} random ids, {N} new tokens, greedy, no early stop (ours `--eos_token_id -1`, theirs "
                f"`min_new_tokens={N}`); tokens/s = batch x new tokens / wall time of the generate call (prefill "
                f"included); median of {args.runs} runs ({args.recompute_runs} without the cache); transformers "
                f"after one untimed warm-up, ours one fresh process per run. {load_text}. "
                f"Command: `$VENV/bin/python bench/generate_vs_transformers.py --shape {args.shape} --batch {B} "
                f"--new_tokens {N} --runs {args.runs} --recompute_runs {args.recompute_runs}"
                f"{' --dtype bfloat16' if args.dtype == 'bfloat16' else ''} --write`.", "", *table],
        }
        write_sections(REPO / "bench" / "RESULTS.md", sections)


def write_sections(path, sections):
    """Replaces (or appends) each '## title' section of the markdown file, leaving the other sections as they are."""
    text = path.read_text() if path.exists() else (
        "# Benchmark results\n\nFigures measured on the project's machines; each section says how it was measured "
        "and with which command.\n")
    for title, lines in sections.items():
        body = f"## {title}\n\n" + "\n".join(lines) + "\n"
        pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.M | re.S)
        if pattern.search(text):
            text = pattern.sub(lambda _: body + "\n", text).rstrip("\n") + "\n"
        else:
            text = text.rstrip("\n") + "\n\n" + body
    path.write_text(text)


if __name__ == "__main__":
    main()
