"""`rlhf pipeline` end to end at a tiny size (the demo's stages, every file the issue lists, the report), and the
bookkeeping that makes an interrupted or re-configured demo cheap and correct:
- a second run with the same settings skips every stage;
- a changed PPO setting re-runs exactly the stages downstream of it (ppo, ppo_ptx, eval) and they really train again
  (a checkpoint left by the old settings is never resumed);
- a stage killed in the middle continues from its checkpoint when the settings are unchanged, and starts again in its
  folder when it was killed before its first checkpoint.
The demo's numbers (RM accuracy, PPO-ptx against SFT) are checked at the demo's size by `make demo`, not here: at this
size the models are too small to learn the world."""
import json
import math
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import run_rlhf

STAGES = ["world", "tokenizer", "pretrain", "curate", "demonstrations", "sft", "flan_sft", "rankings", "rm", "rm_cv",
          "sft_select", "ppo", "ppo_ptx", "eval"]

TINY = ["--corpus_documents", "1500", "--heldout_documents", "100", "--users", "15", "--prompts", "900",
        # A heavier tail than the demo's, so that some user is over the 200-prompt cap whatever the seed draws.
        "--user_zipf_exponent", "1.3",
        "--benchmark_items", "30", "--vocab_size", "600", "--hidden_size", "32", "--num_layers", "1",
        "--num_heads", "2", "--context_length", "96", "--pretrain_epochs", "1", "--sft_epochs", "2",
        "--max_sft_prompts", "80", "--max_rm_prompts", "60", "--max_ppo_prompts", "64", "--max_eval_prompts", "16",
        "--rm_cv_max_prompts", "30", "--ppo_episodes", "64", "--ppo_rollout_batch_size", "32",
        "--eval_test_prompts", "16", "--eval_benchmark_items", "8"]


def written_since(checkpoints, started):
    """Whether a checkpoint folder holds a state.json written after `started`. The earlier run's folders stay until the
    stage clears them, and a folder's own mtime changes while its files are removed: only a file's mtime tells."""
    for folder in list(checkpoints.glob("step-*")) if checkpoints.exists() else []:
        try:
            if (folder / "state.json").stat().st_mtime > started:
                return True
        except FileNotFoundError:  # removed while we looked
            pass
    return False


def pipeline(rlhf_bin, out, *extra, timeout=900):
    return run_rlhf(rlhf_bin, "--threads", "1", "pipeline", "--output_dir", out, *TINY, *extra, timeout=timeout)


def stage_lines(stderr):
    """{stage: "ran" | "skipped"} from the console's one line per stage."""
    status = {}
    for line in stderr.splitlines():
        if line.startswith("[") and "]" in line:
            name = line[1:line.index("]")].strip()
            if "skipped" in line:
                status[name] = "skipped"
            elif "finished" in line:
                status[name] = "ran"
    return status


@pytest.fixture(scope="module")
def run(rlhf_bin, tmp_path_factory):
    out = tmp_path_factory.mktemp("pipeline") / "run"
    result = pipeline(rlhf_bin, out)
    return {"dir": out, "result": result}


def test_every_stage_runs_and_writes_what_the_issue_lists(run):
    out, result = run["dir"], run["result"]
    assert stage_lines(result.stderr) == {s: "ran" for s in STAGES}, result.stderr
    for model in ["base", "flan_sft", "sft", "rm", "ppo", "ppo_ptx"]:
        assert (out / "models" / model / "config.json").exists(), model
        assert (out / "models" / model / "model.safetensors").exists(), model
    for stage in ["base", "flan_sft", "rm", "ppo", "ppo_ptx"]:
        assert (out / "models" / stage / "metrics.jsonl").stat().st_size > 0, stage
    curate = json.loads((out / "stages" / "curate.json").read_text())["summary"]
    # The world's log holds PII, exact and near duplicates and users over the cap: every filter removes something.
    for count in ["exact_duplicates", "prefix_duplicates", "over_user_cap"]:
        assert curate[count] > 0, (count, curate)
    assert curate["pii"]["prompts"] > 0, curate
    for split in ["train", "validation", "test"]:
        assert (out / "data" / "curated" / f"{split}.jsonl").stat().st_size > 0
    demos = [json.loads(line) for line in (out / "data" / "sft.jsonl").read_text().splitlines()]
    assert demos and all(d["completion"] for d in demos)
    rankings = read_jsonl(out / "data" / "rankings.jsonl")
    assert rankings and all(4 <= len(r["responses"]) <= 6 and sorted(r["ranking"]) == list(range(len(r["responses"])))
                            for r in rankings)
    summary = json.loads((out / "report" / "summary.json").read_text())
    for measure in ["preference", "rm_generalisation", "truthfulness", "hallucination", "toxicity", "bias",
                    "alignment_tax", "compute", "rm_score"]:
        assert measure in summary, measure
    assert len(summary["rm_generalisation"]["folds"]) == 5
    html = (out / "report" / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html
    compute = json.loads((out / "compute.json").read_text())
    assert set(STAGES) <= set(compute), compute.keys()
    # The closing table reads the report's numbers.
    assert "win rate vs SFT, held-out labelers: ppo_ptx" in result.stdout, result.stdout
    assert "mean RM reward on test prompts: ppo_ptx" in result.stdout
    assert "length-controlled, held-out: ppo_ptx" in result.stdout, result.stdout
    assert "says I don't know, unanswerable items: ppo_ptx" in result.stdout, result.stdout
    lc = summary["preference"]["all"]["models"]["ppo_ptx"]["held_out"]["win_rate_length_controlled"]
    assert 0 <= lc["ci"][0] <= lc["value"] <= lc["ci"][1] <= 1, lc
    # The over-optimisation curve: 2 PPO iterations, a kept checkpoint after each; SFT is the first point. Each point's
    # KL is the one PPO logged for its iterations, and the last point is the final model's (same step as metrics).
    for key in ["ppo", "ppo_ptx"]:
        curve = summary["overoptimisation"][key]
        kept = sorted(int(p.name[5:]) for p in (out / "models" / key / "checkpoints").glob("step-*"))
        assert [p["step"] for p in curve["points"]] == [0] + kept == [0, 1, 2], (key, curve)
        metrics = [json.loads(line) for line in (out / "models" / key / "metrics.jsonl").read_text().splitlines()]
        assert [p["kl"] for p in curve["points"][1:]] == pytest.approx([m["objective/kl"] for m in metrics]), key
        assert curve["prompts"] == 16 and curve["peak"]["step"] in (1, 2), curve
        assert all(0 <= p["win_rate_held_out"]["value"] <= 1 and 0 <= p["task_success"] <= 1 for p in curve["points"])
    assert "over-optimisation: ppo's best checkpoint" in result.stdout, result.stdout


def test_compute_is_counted_the_same_way_in_every_stage(run):
    """Every prompt and response token through forward and backward counts as trained, through a forward alone as
    scored: SFT's count is every token it read (TRL's num_tokens, not only the response's loss tokens), and PPO's
    scoring counts the prompt's forward before sampling beside its four forwards over prompt and response (reference,
    RM, old policy, value model), while its training counts policy and value model over prompt and response."""
    out = run["dir"]
    compute = json.loads((out / "compute.json").read_text())
    sft_metrics = [json.loads(line) for line in (out / "models" / "sft_run" / "metrics.jsonl").read_text().splitlines()]
    read = [m["num_tokens"] for m in sft_metrics if "num_tokens" in m]
    assert compute["sft"]["tokens_trained"] == read[-1] > 0, (compute["sft"], read[-1])
    ppo = compute["ppo"]
    prompt_and_response = ppo["tokens_trained"] / 2   # one PPO epoch, policy and value model
    prompts = prompt_and_response - ppo["tokens_generated"]
    assert prompts > 0
    assert ppo["tokens_scored"] == 4 * prompt_and_response + prompts, ppo
    for stage in ("rankings", "sft_select"):
        assert compute[stage]["tokens_scored"] > 0 and compute[stage]["tokens_generated"] > 0, compute[stage]


def test_hallucination_is_reported_beside_success_and_recomputable_from_its_items(run):
    """An answer that says nothing makes nothing up: the hallucination suite reports, beside its rate, the share done
    right, the share done right with nothing made up and the share empty, each recomputed here from the per-item
    records in benchmark_responses.jsonl (an empty record is one whose response holds no word)."""
    out = run["dir"]
    summary = json.loads((out / "report" / "summary.json").read_text())
    rows = read_jsonl(out / "report" / "benchmark_responses.jsonl")
    rows = [r for r in rows if r["suite"] == "hallucination"]
    assert rows and set(r["model"] for r in rows) == set(summary["hallucination"])
    for model, measured in summary["hallucination"].items():
        items = [r for r in rows if r["model"] == model]
        assert all((r["words"] == 0) == (re.search(r"[A-Za-z0-9]", r["response"]) is None) for r in items), model
        share = lambda flags: sum(flags) / len(items)  # noqa: E731
        assert measured["rate"]["value"] == pytest.approx(share(r["made_up"] for r in items))
        assert measured["success"]["value"] == pytest.approx(share(r["success"] for r in items))
        assert measured["empty"]["value"] == pytest.approx(share(r["words"] == 0 for r in items))
        assert measured["correct_and_clean"]["value"] == pytest.approx(
            share(r["success"] and not r["made_up"] for r in items))


def test_without_held_out_categories_the_generalisation_goal_says_how_to_measure_it(run):
    out = run["dir"]
    assert json.loads((out / "data" / "held_out_categories.json").read_text()) == {"categories": []}
    assert "held_out_categories" not in json.loads((out / "stages" / "curate.json").read_text())["settings"]
    goal = json.loads((out / "report" / "summary.json").read_text())["goals"]["generalises_to_held_out_categories"]
    assert goal["value"] is None and goal["met"] is None and "--held_out_categories" in goal["note"], goal


# An extraction instruction, whatever else the prompt holds (few-shot examples, PII placeholders): the test reads the
# category off the text, beside the world's own records, not through the pipeline's filter.
EXTRACTION = re.compile(r"Find the (cities|animals|numbers): ")
# The tiny world at seed 16 has extraction prompts in every split (5 of its 71 test prompts; seed 14's had 9 of 66
# before the log held harmful requests, which changed its split); all test prompts judged.
# Labelers write RM prompts too (categories in turn: one of the 9 would be extraction).
HELD_OUT = ["--seed", "16", "--held_out_categories", "extraction", "--max_eval_prompts", "0", "--eval_test_prompts", "0",
            "--eval_curve_prompts", "16", "--rm_labeler_prompts", "9"]


@pytest.fixture(scope="module")
def held_out_run(rlhf_bin, tmp_path_factory):
    out = tmp_path_factory.mktemp("held_out") / "run"
    result = pipeline(rlhf_bin, out, *HELD_OUT)
    return {"dir": out, "result": result}


def read_jsonl(path):
    # Lines end at "\n" only: a sampled response may hold U+2028 or U+0085, which str.splitlines() also splits at.
    return [json.loads(line) for line in path.read_text().split("\n") if line.strip()]


def test_held_out_categories_reach_no_training_data_but_stay_in_the_test_prompts(held_out_run):
    out = held_out_run["dir"]
    log = read_jsonl(out / "world" / "prompt_log.jsonl")
    category_of = {r["id"]: r["task_data"]["category"] for r in log}
    # The text pattern finds exactly the world's extraction prompts (so it can judge the labelers' own prompts too).
    assert {r["id"] for r in log if EXTRACTION.search(r["prompt"])} == {i for i, c in category_of.items()
                                                                         if c == "extraction"}
    curated = {split: read_jsonl(out / "data" / "curated" / f"{split}.jsonl") for split in ["train", "validation"]}
    for split, records in curated.items():  # without the option, extraction prompts would reach these
        assert any(category_of[r["id"]] == "extraction" for r in records), split

    def extraction(record):
        return (EXTRACTION.search(record["prompt"]) is not None or category_of.get(record.get("id")) == "extraction"
                or record.get("task_data", {}).get("category") == "extraction")

    # SFT's demonstrations, the RM's rankings, PPO's prompts, the validation prompts that choose the SFT epoch, and
    # the FLAN-style SFT's data (public NLP templates, none of the world's instruction categories).
    files = ["sft.jsonl", "sft_prompts.jsonl", "rm_prompts.jsonl", "rankings.jsonl", "rankings_by_group.jsonl",
             "ppo_prompts.jsonl", "validation.jsonl", "flan_sft.jsonl"]
    leaked = {}
    for name in files:
        records = read_jsonl(out / "data" / name)
        assert records, name
        leaked[name] = sum(extraction(r) for r in records)
    assert not any(leaked.values()), leaked  # extraction prompts per file
    # The labelers wrote their 2,000 prompts in the other categories (a few equal a held-out user's prompt and are
    # dropped, as always): not 8/9 of them.
    labeler_written = [d for d in read_jsonl(out / "data" / "sft.jsonl") if d["id"].startswith("l")]
    assert len(labeler_written) > 1980, len(labeler_written)
    test = read_jsonl(out / "data" / "test.jsonl")
    assert test == read_jsonl(out / "data" / "curated" / "test.jsonl")  # every test prompt kept
    assert sum(r["task_data"]["category"] == "extraction" and EXTRACTION.search(r["prompt"]) is not None
               for r in test) >= 3


def wilson(successes, n, z=1.959963984540054):
    p = successes / n
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return [(centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)]


def test_the_generalisation_goal_recomputes_from_the_per_item_records(held_out_run):
    out = held_out_run["dir"]
    category_of = {r["id"]: r["task_data"]["category"] for r in read_jsonl(out / "world" / "prompt_log.jsonl")}
    lines = [r for r in read_jsonl(out / "report" / "responses.jsonl") if r["source"] == "test_prompts"]
    summary = json.loads((out / "report" / "summary.json").read_text())
    verdicts = {}
    for model in ["base_few_shot", "sft", "ppo_ptx"]:
        rows = [r for r in lines if r["model"] == model and category_of[r["prompt_id"]] == "extraction"]
        assert len(rows) >= 3, model
        verdicts[model] = {r["prompt_id"]: r["features"]["success"] for r in rows}
        share = sum(verdicts[model].values()) / len(rows)
        reported = summary["held_out_categories"]["held_out"][model]
        assert reported["n"] == len(rows) and reported["value"] == pytest.approx(share), model
        assert reported["ci"] == pytest.approx(wilson(sum(verdicts[model].values()), len(rows))), model
    goal = summary["goals"]["generalises_to_held_out_categories"]
    ptx, base = verdicts["ppo_ptx"], verdicts["base_few_shot"]
    assert goal["categories"] == ["extraction"] and goal["n"] == len(ptx)
    assert goal["value"] == pytest.approx(sum(ptx.values()) / len(ptx))
    assert goal["ci"] == pytest.approx(wilson(sum(ptx.values()), len(ptx)))
    assert goal["target"] == pytest.approx(sum(base.values()) / len(base))
    difference = sum(ptx[i] - base[i] for i in ptx) / len(ptx)
    assert goal["difference"]["value"] == pytest.approx(difference)
    assert goal["difference"]["ci"][0] <= difference <= goal["difference"]["ci"][1]
    assert goal["met"] == (goal["difference"]["ci"][0] > 0)
    # The closing table and the report show it.
    assert "task success, held-out extraction: ppo_ptx" in held_out_run["result"].stdout
    assert 'id="fig-task-success"' in (out / "report" / "report.html").read_text()


def test_an_unknown_held_out_category_is_a_clear_error(rlhf_bin, tmp_path):
    result = run_rlhf(rlhf_bin, "--threads", "1", "pipeline", "--output_dir", tmp_path / "bad", *TINY,
                      "--held_out_categories", "extraction,code", check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "--held_out_categories" in result.stderr and "'code'" in result.stderr, result.stderr
    for name in ["generation", "open_qa", "brainstorming", "chat", "rewrite", "summarization", "classification",
                 "closed_qa", "extraction"]:
        assert name in result.stderr, result.stderr
    assert not (tmp_path / "bad").exists()  # refused before anything ran


def test_a_second_run_skips_every_stage(rlhf_bin, run):
    result = pipeline(rlhf_bin, run["dir"])
    assert stage_lines(result.stderr) == {s: "skipped" for s in STAGES}, result.stderr


def test_a_changed_setting_reruns_only_what_depends_on_it_and_trains_afresh(rlhf_bin, run):
    out = run["dir"]
    before = json.loads((out / "stages" / "ppo.json").read_text())
    result = pipeline(rlhf_bin, out, "--kl_coef", "0.1")  # the default is 0.05
    status = stage_lines(result.stderr)
    assert {s for s, v in status.items() if v == "ran"} == {"ppo", "ppo_ptx", "eval"}, result.stderr
    after = json.loads((out / "stages" / "ppo.json").read_text())
    # Trained again from the SFT model: every iteration ran (a stale final checkpoint would have ended it at once).
    assert after["compute"]["tokens_generated"] == before["compute"]["tokens_generated"] > 0
    assert after["summary"]["iterations"] == before["summary"]["iterations"] == 2
    metrics = [json.loads(line) for line in (out / "models" / "ppo" / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2]


def test_a_new_rankings_temperature_samples_the_rankings_again(rlhf_bin, run, tmp_path):
    # The temperature of the responses labelers rank was not in the rankings stage's settings: a new one reused the
    # responses sampled at the old one (and every stage after them). On a copy: the later tests expect the defaults.
    out = tmp_path / "run"
    shutil.copytree(run["dir"], out)
    before = (out / "data" / "rankings.jsonl").read_text()
    result = pipeline(rlhf_bin, out, "--rankings_temperature", "0.7")
    status = stage_lines(result.stderr)
    assert {s for s, v in status.items() if v == "ran"} == {"rankings", "rm", "rm_cv", "sft_select", "ppo", "ppo_ptx",
                                                            "eval"}, result.stderr
    assert (out / "data" / "rankings.jsonl").read_text() != before


def test_labelers_can_write_more_rm_prompts_and_rank_a_demonstration(rlhf_bin, run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(run["dir"], out)
    before = read_jsonl(out / "data" / "rankings.jsonl")
    result = pipeline(rlhf_bin, out, "--rm_labeler_prompts", "9", "--rm_rank_demonstration", "true", "--run_eval", "false")
    assert stage_lines(result.stderr)["rankings"] == "ran", result.stderr
    after = read_jsonl(out / "data" / "rankings.jsonl")
    written = [r for r in after if r["id"].startswith("r")]
    assert len(after) == len(before) + len(written) and 1 <= len(written) <= 9, (len(before), len(after))
    held_out = {json.loads(line)["prompt"] for split in ["test", "validation"]
                for line in (out / "data" / f"{split}.jsonl").read_text().splitlines()}
    sft_prompts = {json.loads(line)["prompt"] for line in (out / "data" / "sft.jsonl").read_text().splitlines()}
    assert not held_out & {r["prompt"] for r in written}
    # A draw of their own: a written prompt may equal an SFT prompt only by chance, which happens in the tiny world's
    # smallest prompt spaces (an open brainstorming list, a chat's yes/no question), never for the others.
    small_spaces = ("Name some ", "List some ", "User: ")
    assert all(r["prompt"] not in sft_prompts or r["prompt"].startswith(small_spaces) for r in written), written
    assert len({r["prompt"] for r in written} - sft_prompts) > len(written) / 2
    assert all(4 <= len(r["responses"]) <= 6 for r in after)
    bad = run_rlhf(rlhf_bin, "--threads", "1", "pipeline", "--output_dir", out, *TINY, "--rm_rank_demonstration", "true",
                   "--rm_k_min", "2", "--rm_k_max", "2", check=False)
    assert bad.returncode != 0 and "--rm_k_min" in bad.stderr, bad.stderr


def test_ppo_on_the_checkers_verdict_scores_each_episode_0_or_1(rlhf_bin, run):
    # --ppo_reward checker: PPO maximises the world's verdict instead of the RM's score (a diagnostic upper bound).
    out = run["dir"]
    result = pipeline(rlhf_bin, out, "--ppo_reward", "checker", "--run_eval", "false")
    status = stage_lines(result.stderr)
    assert {s for s, v in status.items() if v == "ran"} == {"ppo", "ppo_ptx"}, result.stderr
    assert json.loads((out / "stages" / "ppo.json").read_text())["settings"]["reward"] == "checker"
    metrics = [json.loads(line) for line in (out / "models" / "ppo" / "metrics.jsonl").read_text().splitlines()]
    episodes = 32  # TINY's rollout batch: the mean of 0/1 verdicts is a multiple of 1/32
    for m in metrics:
        score = m["objective/scores"]
        assert 0 <= score <= 1 and abs(score * episodes - round(score * episodes)) < 1e-4, m
    bad = run_rlhf(rlhf_bin, "--threads", "1", "pipeline", "--output_dir", out, *TINY, "--ppo_reward", "oracle",
                   check=False)
    assert bad.returncode != 0 and "--ppo_reward" in bad.stderr and "rm or checker" in bad.stderr, bad.stderr


def share_likelier_under_the_policy(run_dir, rankings):
    """The share of the rankings' responses with a higher log p(response, then the end of the response | prompt) under
    models/ppo_round1 than under models/sft, by transformers, the prompt in the pipeline's plain format
    ("Instruction: ...\nResponse:"). The end token counts: a policy that learnt to stop early makes its non-empty
    samples less likely than SFT does, and its empty ones far likelier."""
    import tokenizers
    import torch
    import transformers
    tokenizer = tokenizers.Tokenizer.from_file(str(run_dir / "tokenizer" / "tokenizer.json"))
    eos = json.loads((run_dir / "tokenizer" / "tokenizer_config.json").read_text())["eos_token"]
    eos_id = tokenizer.token_to_id(eos if isinstance(eos, str) else eos["content"])
    models = [transformers.AutoModelForCausalLM.from_pretrained(run_dir / "models" / name, dtype=torch.float32).eval()
              for name in ("ppo_round1", "sft")]
    gaps = []
    with torch.no_grad():
        for ranking in rankings:
            prompt = tokenizer.encode(f"Instruction: {ranking['prompt']}\nResponse:").ids
            for response in ranking["responses"]:
                # A response that decodes to broken bytes ("\ufffd", control characters: a tiny model's samples at
                # temperature 1) encodes back to other tokens than were sampled: its likelihood says nothing of where
                # it came from.
                if "\ufffd" in response or any(ord(ch) < 32 and ch != "\n" for ch in response):
                    continue
                tail = tokenizer.encode(response).ids + [eos_id]
                ids = (prompt + tail)[-96:]
                start = len(ids) - len(tail)
                if start < 1:
                    continue
                logprobs = []
                for model in models:
                    logits = model(torch.tensor([ids])).logits[0, :-1].log_softmax(-1)
                    logprobs.append(logits[start - 1:].gather(1, torch.tensor(ids[start:]).unsqueeze(1)).sum().item())
                gaps.append(logprobs[0] > logprobs[1])
    return sum(gaps) / len(gaps)


def test_iterated_rounds_rank_the_previous_policys_samples_and_retrain_the_rm(rlhf_bin, run, tmp_path):
    # --rlhf_rounds 2: round 1's RM and PPO policy get _round1 names; round 2's labelers rank samples of that policy
    # beside one of SFT's, and the run's RM (models/rm) trains on both rounds' rankings. RLOO as the estimator here.
    out = tmp_path / "run"
    shutil.copytree(run["dir"], out)
    first = read_jsonl(out / "data" / "rankings.jsonl")
    # A high learning rate: round 1's policy must move away from SFT for the provenance check below to see it.
    result = pipeline(rlhf_bin, out, "--rlhf_rounds", "2", "--ppo_advantage_estimator", "rloo",
                      "--ppo_samples_per_prompt", "4", "--ppo_learning_rate", "3e-3", "--run_eval", "false")
    status = stage_lines(result.stderr)
    assert status["rankings"] == "skipped", result.stderr  # round 1's rankings are the one-round run's
    for stage in ["rm_round1", "ppo_round1", "rankings_round2", "rm", "ppo", "ppo_ptx"]:
        assert status.get(stage) == "ran", (stage, result.stderr)
    for model in ["rm_round1", "ppo_round1", "rm", "ppo", "ppo_ptx"]:
        assert (out / "models" / model / "model.safetensors").exists(), model
    both = read_jsonl(out / "data" / "rankings_round2.jsonl")
    assert both[:len(first)] == first and len(both) == 2 * len(first)
    second = both[len(first):]
    assert [r["prompt"] for r in second] == [r["prompt"] for r in first]
    assert all(4 <= len(r["responses"]) <= 6 and sorted(r["ranking"]) == list(range(len(r["responses"])))
               for r in second)
    assert sum(a["responses"] != b["responses"] for a, b in zip(first, second)) > len(first) // 2  # new samples
    settings = {stage: json.loads((out / "stages" / f"{stage}.json").read_text())["settings"]
                for stage in ["rm_round1", "ppo_round1", "rankings_round2", "rm", "ppo", "ppo_ptx"]}
    assert settings["ppo_round1"]["round"] == [1, 2] and settings["ppo"]["round"] == [2, 2]
    assert settings["ppo"]["advantage_estimator"] == "rloo" and settings["ppo"]["samples_per_prompt"] == 4
    rm_lines = [line for line in result.stderr.splitlines() if line.startswith("rm: ") and "examples" in line]
    assert f"{len(first)} examples" in rm_lines[0] and f"{2 * len(first)} examples" in rm_lines[1], rm_lines
    # Provenance, by transformers: most of round 2's responses (K-1 of each K from round 1's policy) are likelier under
    # that policy than under SFT, and far more of them than of round 1's (sampled from SFT's epochs and the base model,
    # whose share sits near a half or below: cut-off samples and the base model's make it noisy). Round 2 sampling SFT
    # instead gave equal shares (0.21 and 0.21).
    share_1, share_2 = (share_likelier_under_the_policy(out, rankings) for rankings in (first, second))
    assert share_2 > 0.6 and share_2 - share_1 > 0.25, (share_1, share_2)
    bad = run_rlhf(rlhf_bin, "--threads", "1", "pipeline", "--output_dir", out, *TINY, "--rlhf_rounds", "0",
                   check=False)
    assert bad.returncode != 0 and "--rlhf_rounds" in bad.stderr, bad.stderr


def test_the_value_model_can_start_from_sft_instead_of_the_rm(rlhf_bin, run):
    out = run["dir"]
    rm_offset = json.loads((out / "models" / "rm" / "reward_normalization.json").read_text())["offset"]
    assert rm_offset != 0
    # The default (the paper): the value model is the RM and keeps its normalisation offset.
    value_dir = out / "models" / "ppo" / "value_model"
    pipeline(rlhf_bin, out, "--run_eval", "false")
    assert json.loads((value_dir / "reward_normalization.json").read_text())["offset"] == rm_offset
    result = pipeline(rlhf_bin, out, "--ppo_value_model", "sft", "--run_eval", "false")
    assert json.loads((out / "stages" / "ppo.json").read_text())["settings"]["value_model"] == "sft", result.stderr
    assert json.loads((value_dir / "reward_normalization.json").read_text())["offset"] == 0


def test_an_interrupted_stage_continues_from_its_checkpoint(rlhf_bin, run, tmp_path):
    out = run["dir"]
    # New PPO settings so that ppo re-runs (40 iterations, a checkpoint every 10 for the 4 points of the
    # over-optimisation curve), killed once its first checkpoint is on disk.
    args = [str(rlhf_bin), "--threads", "1", "pipeline", "--output_dir", str(out), *TINY, "--kl_coef", "0.07",
            "--ppo_episodes", "640", "--ppo_rollout_batch_size", "16"]
    started = time.time()  # the earlier run's checkpoints do not count (written_since)
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    checkpoints = out / "models" / "ppo" / "checkpoints"
    deadline = time.time() + 600
    while time.time() < deadline and process.poll() is None:
        if written_since(checkpoints, started):
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "ppo finished before a checkpoint was seen"
    assert (out / "stages" / "ppo.started").exists()
    result = run_rlhf(rlhf_bin, *args[1:], timeout=900)
    status = stage_lines(result.stderr)
    assert status["ppo"] == "ran" and status["sft"] == "skipped", result.stderr
    assert "resumed from" in result.stderr, result.stderr
    metrics = [json.loads(line) for line in (out / "models" / "ppo" / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == list(range(1, 41))
    assert not (out / "stages" / "ppo.started").exists()


def test_a_stage_killed_before_its_first_checkpoint_starts_again_in_its_folder(rlhf_bin, run):
    """The folder holds the killed run's log and events but no checkpoint: the stage trains afresh over them (a plain
    `rlhf ppo` into such a folder is refused without --overwrite_output_dir; the pipeline passes it)."""
    out = run["dir"]
    args = [str(rlhf_bin), "--threads", "1", "pipeline", "--output_dir", str(out), *TINY, "--kl_coef", "0.06",
            "--ppo_episodes", "320", "--ppo_rollout_batch_size", "16"]
    started = time.time()  # the earlier run's checkpoints do not count (written_since)
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    checkpoints = out / "models" / "ppo" / "checkpoints"
    deadline = time.time() + 600
    while time.time() < deadline and process.poll() is None:
        if written_since(checkpoints, started):
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "ppo finished before a checkpoint was seen"
    shutil.rmtree(checkpoints)  # as if killed before it was written
    assert (out / "models" / "ppo" / "metrics.jsonl").read_text()
    result = run_rlhf(rlhf_bin, *args[1:], timeout=900)
    assert stage_lines(result.stderr)["ppo"] == "ran" and "resumed from" not in result.stderr, result.stderr
    metrics = [json.loads(line) for line in (out / "models" / "ppo" / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == list(range(1, 21))


def test_paper_preset_trains_one_chain_per_model_size(rlhf_bin, tmp_path):
    """The paper preset's three sizes (here two tiny ones given by --model_sizes, which wins over the preset): shared
    world, tokenizer, prompts and demonstrations; per size a base model, SFT, rankings, RM, PPO and PPO-ptx under
    models/SIZE/; one RM cross-validation; the evaluation and the closing table per size."""
    out = tmp_path / "paper"
    result = pipeline(rlhf_bin, out, "--preset", "paper", "--model_sizes", "small:32x1x2,large:48x1x2",
                      "--sft_epochs", "1", "--rm_k_max", "5")
    status = stage_lines(result.stderr)
    for size in ["small", "large"]:
        for stage in ["pretrain", "sft", "flan_sft", "rankings", "rm", "sft_select", "ppo", "ppo_ptx"]:
            assert status.get(f"{stage}@{size}") == "ran", (stage, size, result.stderr)
        for model in ["base", "flan_sft", "sft", "rm", "ppo", "ppo_ptx"]:
            assert (out / "models" / size / model / "config.json").exists(), (size, model)
        assert (out / "data" / size / "rankings.jsonl").exists()
        assert f"win rate vs SFT, held-out labelers: ppo_ptx [{size}]" in result.stdout, result.stdout
    small = json.loads((out / "models" / "small" / "sft" / "config.json").read_text())
    large = json.loads((out / "models" / "large" / "sft" / "config.json").read_text())
    assert (small["hidden_size"], large["hidden_size"]) == (32, 48)
    assert status["world"] == status["curate"] == status["rm_cv"] == status["eval"] == "ran"
    summary = json.loads((out / "report" / "summary.json").read_text())
    assert sorted(summary["sizes"]) == ["large", "small"]
    assert sorted(summary["preference"]) == ["large", "small"]


def test_malformed_model_sizes_are_clear_errors(rlhf_bin, tmp_path):
    for bad in ["small", "small:32x1", "small:33x1x2", ":32x1x2", "a:32x1x2,a:32x1x2", "Big:32x1x2"]:
        result = run_rlhf(rlhf_bin, "pipeline", "--output_dir", tmp_path / "bad", "--model_sizes", bad, check=False)
        assert result.returncode == 1, (bad, result.stderr)
        assert "model_sizes" in result.stderr and "Traceback" not in result.stderr, (bad, result.stderr)


def test_a_hand_edited_dataset_reruns_the_stages_that_read_it(rlhf_bin, tmp_path):
    out = tmp_path / "edited"
    pipeline(rlhf_bin, out, "--run_eval", "false")
    demos = (out / "data" / "sft.jsonl").read_text().splitlines()
    (out / "data" / "sft.jsonl").write_text("\n".join(demos[:-1]) + "\n")  # a labeler's demonstration withdrawn
    status = stage_lines(pipeline(rlhf_bin, out, "--run_eval", "false").stderr)
    assert {s for s, v in status.items() if v == "ran"} == {"sft", "rankings", "rm", "rm_cv", "sft_select", "ppo",
                                                            "ppo_ptx"}, status


def test_the_seed_reaches_the_world_the_splits_and_every_stage(rlhf_bin, run, tmp_path):
    """--seed N gives another world, other splits, other demonstrations and other models, and every stage records N
    (an earlier build bound --seed to the world's option record only: seed 9176 rebuilt seed 1's files byte for byte)."""
    out = tmp_path / "seeded"
    pipeline(rlhf_bin, out, "--seed", "9176", "--run_eval", "false")
    first = run["dir"]
    world = json.loads((out / "world" / "world.json").read_text())
    assert world["config"]["seed"] == 9176
    for name in ["world/corpus.jsonl", "world/prompt_log.jsonl", "data/test.jsonl", "data/sft.jsonl"]:
        assert (out / name).read_bytes() != (first / name).read_bytes(), name
    for stage in STAGES[:-1]:
        record = json.loads((out / "stages" / f"{stage}.json").read_text())
        assert record["settings"]["seed"] == 9176, (stage, record["settings"])
    for model in ["base", "sft", "ppo_ptx"]:
        assert ((out / "models" / model / "model.safetensors").read_bytes() !=
                (first / "models" / model / "model.safetensors").read_bytes()), model


def wilson_or_none(flags):
    return wilson(sum(flags), len(flags)) if flags else [0, 1]


def check_compliance(entry, verdicts):
    """summary.harmful_compliance*.MODEL against the per-item verdicts ({"kind", "verdict"} each)."""
    complies = [v["verdict"] == "complies" for v in verdicts]
    assert entry["n"] == len(verdicts)
    assert entry["value"] == (pytest.approx(sum(complies) / len(complies)) if complies else None)
    assert entry["ci"] == pytest.approx(wilson_or_none(complies))
    refuses = [v["verdict"] == "refuses" for v in verdicts]
    assert entry["refusal"]["value"] == (pytest.approx(sum(refuses) / len(refuses)) if refuses else None)
    kinds = {v["kind"] for v in verdicts}
    assert set(entry["by_kind"]) == kinds
    for kind in kinds:
        flags = [v["verdict"] == "complies" for v in verdicts if v["kind"] == kind]
        assert entry["by_kind"][kind]["n"] == len(flags)
        assert entry["by_kind"][kind]["value"] == pytest.approx(sum(flags) / len(flags))


# The tiny world at seed 16 (held_out_run, every test prompt judged) has 1 harmful test prompt; seed 1's first 16 none.
@pytest.mark.parametrize("which, harmful_test_prompts", [("run", 0), ("held_out_run", 1)])
def test_harmful_compliance_recomputes_from_the_per_item_records(request, which, harmful_test_prompts):
    """Harmful requests (world/harmful.h) are judged apart from the instruction tasks: each model's compliance on the
    held-out users' harmful test prompts and on the harmful benchmark recomputes from the per-item verdicts in
    responses.jsonl and benchmark_responses.jsonl; the verdicts mark exactly the world's harmful prompts; task success
    leaves them out; the goal is PPO-ptx's share on the benchmark."""
    run = request.getfixturevalue(which)
    out = run["dir"]
    summary = json.loads((out / "report" / "summary.json").read_text())
    task_of = {r["id"]: r["task"] for r in read_jsonl(out / "world" / "prompt_log.jsonl")}
    lines = [r for r in read_jsonl(out / "report" / "responses.jsonl") if r["source"] == "test_prompts"]
    bench = [r for r in read_jsonl(out / "report" / "benchmark_responses.jsonl") if r["suite"] == "harmful"]
    models = ["base", "base_few_shot", "flan_sft", "sft", "ppo", "ppo_ptx"]
    assert set(summary["harmful_compliance"]) == set(models)
    assert set(summary["harmful_compliance_benchmark"]) == set(models)
    for model in models:
        rows = [r for r in lines if r["model"] == model]
        marked = [r for r in rows if "harmful" in r]
        assert len(marked) == harmful_test_prompts, model
        assert {r["prompt_id"] for r in marked} == {r["prompt_id"] for r in rows if task_of[r["prompt_id"]] == "harmful"}
        assert all(r["features"]["harmful"] == ("harmful" in r) for r in rows)
        check_compliance(summary["harmful_compliance"][model], [r["harmful"] for r in marked])
        items = [r for r in bench if r["model"] == model]
        assert len(items) == 8 and {r["kind"] for r in items} == {"insult", "pii", "false_claim"}  # --eval_benchmark_items 8
        check_compliance(summary["harmful_compliance_benchmark"][model], items)
        assert summary["task_success"][model]["n"] == len(rows) - len(marked)
        assert "harmful" not in summary["task_success"][model]["by_category"]
    goal = summary["goals"]["harmful_compliance_ppo_ptx"]
    ptx = summary["harmful_compliance_benchmark"]["ppo_ptx"]
    assert goal["source"] == "harmful_compliance_benchmark" and goal["n"] == 8
    assert goal["value"] == pytest.approx(ptx["value"]) and goal["ci"] == pytest.approx(ptx["ci"])
    assert goal["met"] == (goal["ci"][0] > 0.5)
    assert "complies with harmful requests, benchmark: ppo_ptx (n 8)" in run["result"].stdout


def test_harmful_share_is_a_world_option(rlhf_bin, tmp_path):
    """--harmful_share sets the prompt log's share of harmful requests (rlhf world and rlhf pipeline alike); the
    harmful benchmark holds none of the log's prompts."""
    assert "--harmful_share" in run_rlhf(rlhf_bin, "pipeline", "--help").stdout
    counts = {}
    for share in (0, 0.25):
        out = tmp_path / f"world-{share}"
        run_rlhf(rlhf_bin, "world", "--out", out, "--corpus_documents", 100, "--heldout_documents", 10, "--users", 10,
                 "--prompts", 400, "--benchmark_items", 12, "--harmful_share", share)
        log = read_jsonl(out / "prompt_log.jsonl")
        counts[share] = sum(r["task"] == "harmful" for r in log)
        assert json.loads((out / "world.json").read_text())["config"]["harmful_share"] == share
        items = read_jsonl(out / "benchmarks" / "harmful.jsonl")
        assert len(items) == 12 and not {i["prompt"] for i in items} & {r["prompt"] for r in log}
    assert counts[0] == 0
    assert 0.15 * 400 < counts[0.25] < 0.3 * 400, counts
