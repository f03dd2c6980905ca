"""Can the demo's reward model check a name at all? A capacity probe for issue 24 (not part of the pipeline).

The evaluation's name-swap row (summary.json `rm_name_swap`) says the RM does not prefer SFT's successful answer to the
same answer with a name swapped. That has two possible causes: the labelers' rankings seldom hold such a contrast
(data), or an RM of this size cannot learn the check from any amount of it (capacity). This script separates them.

1. From the run's rankings it builds name-swap twins: for each story prompt ("... about a toad in Varara ..."), the
   best-ranked response that names the prompt's animal and town, against the same response with the animal or the
   town swapped for another of the world's (chosen > rejected: the twin fails the checker, nothing else differs).
2. It trains an RM on those pairs alone with `rlhf rm` (the pipeline's RM settings, more epochs): direct supervision
   of exactly the check.
3. On the held-out users' test prompts, it scores SFT's successful stories against their twins (town and animal
   swapped apart) with the run's RM and with the probe RM, and the sentence-count twins (one sentence more) too.
4. With --mix N, also an RM trained as the pipeline trains it (3 epochs) on the rankings plus N copies of the twins
   (two-response rankings): what the check costs an RM that must learn everything else as well. To see what PPO makes
   of it, copy the run, put RUN/rm_probe/rm_mix in models/rm, delete stages/ppo*.json, stages/eval.json and
   models/ppo*, and run the same `rlhf pipeline` command again (only PPO, PPO-ptx and the evaluation run).

  VENV=$(cat build/.venv-path); $VENV/bin/python bench/rm_probe.py --run runs/demo --rlhf build/rlhf --epochs 10

Scores are read with transformers (AutoModelForSequenceClassification on the RM directory, the prompt in the plain
format, the response, then the end-of-text token, as `rlhf rm` scores it).
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys

import torch
from transformers import AutoModelForSequenceClassification, PreTrainedTokenizerFast

STORY = re.compile(r"about an? (\w+) (?:in|who visits) (\w+)")


def vowel(word):
    return word[0] in "aeiou"


def swap_animal(text, animal, animals, rng):
    # Same article ("a" / "an"), so that the twin differs in the name alone.
    other = rng.choice([a for a in animals if a != animal and vowel(a) == vowel(animal)])
    return re.sub(r"\b%s\b" % re.escape(animal), other, text)


def swap_town(text, town, towns, rng):
    return text.replace(town, rng.choice([t for t in towns if t != town]))


def twins_from_rankings(rankings, animals, towns, rng):
    pairs = []
    for d in rankings:
        m = STORY.search(d["prompt"])
        if not m:
            continue
        animal, town = m.groups()
        for i in d["ranking"]:  # best first
            r = d["responses"][i]
            if re.search(r"\b%s\b" % re.escape(animal), r) and town in r:
                twin = swap_town(r, town, towns, rng) if rng.random() < 0.5 else swap_animal(r, animal, animals, rng)
                pairs.append({"prompt": d["prompt"], "chosen": r, "rejected": twin})
                break
    return pairs


class Scorer:
    def __init__(self, rm_dir):
        self.tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(rm_dir, "tokenizer.json"))
        self.rm = AutoModelForSequenceClassification.from_pretrained(rm_dir).eval()
        self.eos = self.rm.config.eos_token_id if self.rm.config.eos_token_id is not None else 0

    def __call__(self, prompt, response):
        ids = self.tok.encode(f"Instruction: {prompt}\nResponse:") + self.tok.encode(" " + response) + [self.eos]
        with torch.no_grad():
            hidden = self.rm.model(torch.tensor([ids])).last_hidden_state[0, -1]
            return self.rm.score(hidden).item()


def probe(score, successes, animals, towns, seed):
    rng = random.Random(seed)
    hits = {"town": [], "animal": [], "one sentence more": []}
    for r in successes:
        animal, town = STORY.search(r["prompt"]).groups()
        s = score(r["prompt"], r["response"])
        if town in r["response"]:
            hits["town"].append(s > score(r["prompt"], swap_town(r["response"], town, towns, rng)))
        if re.search(r"\b%s\b" % re.escape(animal), r["response"]):
            hits["animal"].append(s > score(r["prompt"], swap_animal(r["response"], animal, animals, rng)))
        if re.search(r"\b(one|two|three) sentences?\b", r["prompt"]):
            longer = r["response"].replace(" I hope this helps.", "") + " It met a fox."
            hits["one sentence more"].append(s > score(r["prompt"], longer))
    return {k: (sum(v) / len(v) if v else float("nan"), len(v)) for k, v in hits.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True, help="a finished `rlhf pipeline` run directory")
    ap.add_argument("--rlhf", default="build/rlhf")
    ap.add_argument("--epochs", type=int, default=10, help="epochs of the probe RM over the twins")
    ap.add_argument("--out", default=None, help="where the twins and the probe RM go (default RUN/rm_probe)")
    ap.add_argument("--mix", type=int, default=0, help="also train an RM on the rankings plus this many copies of the twins")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    out = a.out or os.path.join(a.run, "rm_probe")
    os.makedirs(out, exist_ok=True)
    rankings = [json.loads(line) for line in open(os.path.join(a.run, "data", "rankings.jsonl"))]
    stories = [STORY.search(d["prompt"]) for d in rankings]
    animals = sorted({m.group(1) for m in stories if m})
    towns = sorted({m.group(2) for m in stories if m})
    pairs = twins_from_rankings(rankings, animals, towns, random.Random(a.seed))
    twins = os.path.join(out, "twins.jsonl")
    with open(twins, "w") as f:
        for p in pairs:
            f.write(json.dumps(p) + "\n")
    print(f"{len(pairs)} name-swap twins from {len(rankings)} rankings ({len(animals)} animals, {len(towns)} towns)")

    sft_epochs = sorted(e for e in os.listdir(os.path.join(a.run, "models", "sft_run")) if e.startswith("epoch-"))

    def train_rm(dataset, epochs, output_dir):  # the pipeline's RM settings (pipeline.h), from the last SFT epoch
        subprocess.run([a.rlhf, "rm", "--model_name_or_path", os.path.join(a.run, "models", "sft_run", sft_epochs[-1]),
                        "--dataset", dataset, "--eval_fraction", "0.15", "--normalize_dataset",
                        os.path.join(a.run, "data", "sft.jsonl"), "--learning_rate", "5e-4",
                        "--per_device_train_batch_size", "8", "--warmup_ratio", "0.05", "--max_length", "160",
                        "--num_train_epochs", str(epochs), "--seed", "1", "--group_by_length", "true", "--quiet",
                        "--output_dir", output_dir, "--overwrite_output_dir"], check=True)

    rms = [("run RM", os.path.join(a.run, "models", "rm")), ("probe RM", os.path.join(out, "rm"))]
    train_rm(twins, a.epochs, rms[1][1])
    if a.mix > 0:
        mixed = os.path.join(out, "rankings_mix.jsonl")
        with open(mixed, "w") as f:
            for d in rankings:
                f.write(json.dumps(d) + "\n")
            for copy in range(a.mix):
                for i, p in enumerate(pairs):
                    f.write(json.dumps({"id": f"twin{copy}_{i}", "prompt": p["prompt"],
                                        "responses": [p["chosen"], p["rejected"]], "ranking": [0, 1]}) + "\n")
        rms.append(("mixed RM", os.path.join(out, "rm_mix")))
        train_rm(mixed, 3, rms[2][1])

    responses = [json.loads(line) for line in open(os.path.join(a.run, "report", "responses.jsonl"))]
    successes = [r for r in responses if r["model"] == "sft" and r["source"] == "test_prompts"
                 and r["features"]["success"] and STORY.search(r["prompt"])]
    print(f"\nSFT's successful stories on the test prompts: {len(successes)}; "
          "share where the RM scores the story above its twin (0.5: blind)")
    rows = {name: probe(Scorer(d), successes, animals, towns, a.seed) for name, d in rms}
    print(f"{'twin':20s}" + "".join(f"{name:>12s}" for name, _ in rms))
    for k in rows["run RM"]:
        print(f"{k:20s}" + "".join(f"{rows[name][k][0]:12.3f}" for name, _ in rms) + f"   (n {rows['run RM'][k][1]})")
    json.dump({k: {**{name: rows[name][k][0] for name, _ in rms}, "n": rows["run RM"][k][1]} for k in rows["run RM"]},
              open(os.path.join(out, "probe.json"), "w"), indent=1)


if __name__ == "__main__":
    sys.exit(main())
