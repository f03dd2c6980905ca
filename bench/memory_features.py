"""Peak resident memory per training phase with and without each memory feature: `rlhf bench --train` once per setting
and stage (a fresh process each: freed heap stays resident in a process, so a stage run after another would start from
the earlier one's high-water mark), then one markdown table.

    python3 bench/memory_features.py --rlhf build/rlhf [--preset 25m --family llama]
"""
import argparse
import json
import subprocess

SETTINGS = [
    ("fp32 (baseline)", []),
    ("gradient checkpointing", ["--gradient_checkpointing", "true"]),
    ("LoRA r16 all-linear, dropout 0.05", ["--use_peft", "true", "--lora_target_modules", "all-linear"]),
    ("LoRA r16 all-linear, dropout 0", ["--use_peft", "true", "--lora_target_modules", "all-linear",
                                        "--lora_dropout", "0"]),
    ("LoRA (dropout 0.05) + checkpointing", ["--use_peft", "true", "--lora_target_modules", "all-linear",
                                             "--gradient_checkpointing", "true"]),
    ("bf16 autocast, fp32 weights", ["--train_dtype", "bfloat16", "--frozen_dtype", "float32"]),
    ("bf16 autocast + frozen in bf16", ["--train_dtype", "bfloat16"]),
    ("all three", ["--use_peft", "true", "--lora_target_modules", "all-linear", "--gradient_checkpointing", "true",
                   "--train_dtype", "bfloat16"]),
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rlhf", required=True)
    parser.add_argument("--preset", default="25m")
    parser.add_argument("--family", default="llama")
    parser.add_argument("--repeats", default="1")
    a = parser.parse_args()
    rows = []
    phases = None
    for name, flags in SETTINGS:
        runs, per_phase = {}, True
        for stage in ("sft", "rm", "ppo"):
            out = subprocess.run([a.rlhf, "bench", "--train", "--json", "--preset", a.preset, "--family", a.family,
                                  "--train_phases", stage, "--warmup", "1", "--repeats", a.repeats, *flags], check=True,
                                 capture_output=True, text=True).stdout
            train = json.loads(out)["train"]
            runs.update({r["phase"]: r for r in train["runs"]})
            per_phase = per_phase and train["peak_rss_per_phase"]
        phases = phases or [p for p in runs if p != "ppo"]
        rows.append((name, runs, per_phase))
        print(name, {p: round(runs[p]["peak_rss_mb"]) for p in runs}, flush=True)
    print(f"\n| setting | " + " | ".join(f"{p} MB" for p in phases) + " | " +
          " | ".join(f"{p} s" for p in ("sft", "rm", "ppo")) + " |")
    print("|---" * (1 + len(phases) + 3) + "|")
    for name, runs, per_phase in rows:
        mb = [f"{runs[p]['peak_rss_mb']:.0f}" for p in phases]
        seconds = [f"{runs[p]['median_seconds']:.2f}" for p in ("sft", "rm", "ppo")]
        print(f"| {name}{'' if per_phase else ' (peak so far)'} | " + " | ".join(mb) + " | " + " | ".join(seconds) + " |")


if __name__ == "__main__":
    main()
