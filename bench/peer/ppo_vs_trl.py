"""One PPO iteration, side by side: `rlhf ppo` and TRL's PPOTrainer (trl 1.12.0, the last release that ships it), on
the same random Llama models that transformers creates and saves (policy = SFT model, reward model, value model from
the reward model), the same prompt token ids, rollout batch, minibatches, one PPO epoch, response length,
temperature, fp32 and thread count.

Seconds per iteration:
- rlhf: two runs of `rlhf ppo` with N1 and N2 iterations; (wall(N2) - wall(N1)) / (N2 - N1), so that start-up and
  loading cancel out.
- TRL: the median interval between PPOTrainer's on_step_end callbacks (one per iteration), the first left out.
Tokens/s counts the episodes' generated tokens (rollout batch × response length), as TRL's own logs do.

Run:  PEER=$(bash bench/peer/setup.sh); $PEER/bin/python bench/peer/ppo_vs_trl.py --rlhf build/rlhf [--shape demo]
"""
import argparse
import json
import os
import pathlib
import random
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from cpu_label import cpu_label  # noqa: E402

# Both sides wait for work the same way (see bench/generate_vs_transformers.py): rlhf's choice on a quiet machine, a
# bounded OpenMP spin, unless the caller set a policy (e.g. OMP_WAIT_POLICY=ACTIVE for both). Set before torch loads.
if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
    os.environ["GOMP_SPINCOUNT"] = "10000"

SHAPES = {  # hidden, layers, heads, intermediate, vocab, positions (tied embeddings, like rlhf bench's presets)
    "demo": (256, 4, 4, 1024, 8192, 256),
    "gpt2-small": (768, 12, 12, 3072, 32768, 1024),
}


def make_tokenizer(vocab, path):
    """A byte-level BPE trained by HF tokenizers on random words; <|endoftext|> is EOS and pad."""
    import tokenizers
    import transformers
    rng = random.Random(0)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rng.choice(letters) for _ in range(rng.randint(2, 9))) for _ in range(20000)]
    corpus = [" ".join(rng.choice(words) for _ in range(30)) for _ in range(4000)]
    tok = tokenizers.Tokenizer(tokenizers.models.BPE())
    tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(vocab_size=vocab, special_tokens=["<|endoftext|>"],
                                             initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer)
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>",
                                                pad_token="<|endoftext|>")
    fast.save_pretrained(path)
    return fast, words


def make_models(shape, root):
    import torch
    import transformers
    hidden, layers, heads, inter, vocab, positions = SHAPES[shape]
    tokenizer, words = make_tokenizer(vocab, root / "tokenizer")
    config = transformers.LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=inter,
                                      num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads,
                                      max_position_embeddings=positions, tie_word_embeddings=True,
                                      bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
                                      pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    transformers.LlamaForCausalLM(config).save_pretrained(root / "sft")
    config.num_labels = 1
    transformers.LlamaForSequenceClassification(config).save_pretrained(root / "rm")
    for d in ("sft", "rm"):
        tokenizer.save_pretrained(root / d)
    return tokenizer, words


def make_prompts(tokenizer, words, count, length):
    """Prompts whose plain-format text ("Instruction: ...\\nResponse:", what `rlhf ppo` feeds the model) is exactly
    `length` tokens, so both sides see the same ids without padding."""
    rng = random.Random(1)
    texts, ids = [], []
    while len(texts) < count:
        prompt = " ".join(rng.choice(words) for _ in range(length))
        while True:
            encoded = tokenizer("Instruction: " + prompt + "\nResponse:", add_special_tokens=False)["input_ids"]
            if len(encoded) <= length:
                break
            prompt = prompt.rsplit(" ", 1)[0]
        if len(encoded) == length:
            texts.append(prompt)
            ids.append(encoded)
    return texts, ids


def time_rlhf(rlhf, threads, root, prompts_file, args, iterations):
    out = root / f"rlhf-{iterations}"
    cmd = [str(rlhf), "--threads", str(threads), "ppo", "--sft_model_path", root / "sft", "--reward_model_path",
           root / "rm", "--dataset", prompts_file, "--output_dir", out, "--total_episodes",
           args.rollout_batch_size * iterations, "--rollout_batch_size", args.rollout_batch_size,
           "--num_mini_batches", args.num_mini_batches, "--num_ppo_epochs", 1, "--response_length",
           args.response_length, "--temperature", 1.0, "--learning_rate", 1e-6, "--max_length",
           args.prompt_length + args.response_length, "--save_steps", 0, "--seed", 0, "--dtype",
           "bfloat16" if args.bf16 else "float32", "--device", args.device, *args.rlhf_args.split()]
    start = time.perf_counter()
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"rlhf ppo failed:\n{result.stderr}")
    return seconds


def time_trl(root, tokenizer, prompt_ids, args, iterations, threads):
    import datasets
    import torch
    import transformers
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    from trl.experimental.ppo import PPOConfig, PPOTrainer
    torch.set_num_threads(threads)
    policy = transformers.AutoModelForCausalLM.from_pretrained(root / "sft")
    reference = transformers.AutoModelForCausalLM.from_pretrained(root / "sft")
    reward = transformers.AutoModelForSequenceClassification.from_pretrained(root / "rm", num_labels=1)
    value = transformers.AutoModelForSequenceClassification.from_pretrained(root / "rm", num_labels=1)
    dataset = datasets.Dataset.from_dict({"input_ids": prompt_ids})
    micro = args.rollout_batch_size // args.num_mini_batches
    config = PPOConfig(output_dir=str(root / "trl"), per_device_train_batch_size=micro,
                       gradient_accumulation_steps=args.num_mini_batches, num_mini_batches=args.num_mini_batches,
                       num_ppo_epochs=1, total_episodes=args.rollout_batch_size * iterations,
                       response_length=args.response_length, temperature=1.0, learning_rate=1e-6,
                       num_sample_generations=0, report_to=[], save_strategy="no", logging_steps=1000,
                       local_rollout_forward_batch_size=args.rollout_batch_size, use_cpu=args.device == "cpu", seed=0,
                       stop_token=None, missing_eos_penalty=None, bf16=args.bf16, fp16=False)
    stamps = []

    class Stamp(transformers.TrainerCallback):
        def on_step_end(self, *unused, **kwargs):
            stamps.append(time.perf_counter())

    trainer = PPOTrainer(args=config, processing_class=tokenizer, model=policy, ref_model=reference,
                         reward_model=reward, train_dataset=dataset, value_model=value, callbacks=[Stamp()])
    start = time.perf_counter()
    trainer.train()
    intervals = [b - a for a, b in zip([start] + stamps, stamps)]
    return intervals


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rlhf", default="build/rlhf")
    parser.add_argument("--shape", default="demo", choices=sorted(SHAPES))
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--rollout_batch_size", type=int, default=16)
    parser.add_argument("--num_mini_batches", type=int, default=4)
    parser.add_argument("--prompt_length", type=int, default=32)
    parser.add_argument("--response_length", type=int, default=32)
    parser.add_argument("--iterations", type=int, nargs=2, default=[2, 6], help="N1 N2 for rlhf's difference")
    parser.add_argument("--rlhf_args", default="", help="more options for rlhf ppo, e.g. '--rollout_logprobs sampling' "
                        "(TRL's PPOTrainer takes the old log-probs from its sampling step)")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast on both sides (rlhf --dtype bfloat16, TRL "
                        "bf16=True); fp32 weights and optimizer state on both")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where both sides run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        tokenizer, words = make_models(args.shape, root)
        texts, ids = make_prompts(tokenizer, words, 4 * args.rollout_batch_size, args.prompt_length)
        prompts_file = root / "prompts.jsonl"
        prompts_file.write_text("".join(json.dumps({"prompt": t}) + "\n" for t in texts))
        n1, n2 = args.iterations
        ours = (time_rlhf(args.rlhf, args.threads, root, prompts_file, args, n2) -
                time_rlhf(args.rlhf, args.threads, root, prompts_file, args, n1)) / (n2 - n1)
        trl_intervals = time_trl(root, tokenizer, ids, args, n2, args.threads)
        theirs = statistics.median(trl_intervals[1:]) if len(trl_intervals) > 1 else trl_intervals[0]
    tokens = args.rollout_batch_size * args.response_length
    report = {"shape": args.shape, "device": args.device, "cpu": cpu_label(), "threads": args.threads,
              "openmp": {k: os.environ[k] for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT") if k in os.environ}, "rollout_batch_size": args.rollout_batch_size,
              "num_mini_batches": args.num_mini_batches, "prompt_length": args.prompt_length,
              "response_length": args.response_length, "rlhf_args": args.rlhf_args, "bf16": args.bf16,
              "rlhf": {"seconds_per_iteration": ours, "tokens_per_s": tokens / ours},
              "trl": {"seconds_per_iteration": theirs, "tokens_per_s": tokens / theirs,
                      "iteration_seconds": trl_intervals},
              "speedup": theirs / ours}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"PPO iteration, {args.shape} Llama shape, {args.rollout_batch_size} episodes × "
              f"({args.prompt_length} prompt + {args.response_length} generated tokens), {args.num_mini_batches} "
              f"minibatches, 1 PPO epoch, {'bf16 autocast' if args.bf16 else 'fp32'}, {args.device}, "
              f"{args.threads} threads, {cpu_label()}")
        print(f"  rlhf ppo {args.rlhf_args}")
        print(f"  rlhf ppo         {ours:8.3f} s/iteration  {tokens / ours:8.1f} tokens/s")
        print(f"  TRL PPOTrainer   {theirs:8.3f} s/iteration  {tokens / theirs:8.1f} tokens/s")
        print(f"  rlhf / TRL       {theirs / ours:8.2f}x")


if __name__ == "__main__":
    main()
