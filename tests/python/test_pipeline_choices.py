"""`rlhf pipeline`'s choices made the honest way (issue 25): β chosen on validation prompts by the training labelers
(--kl_coef_candidates), and PPO's own luck measured by training it with several seeds (--eval_seeds). Each test runs
on a copy of one tiny run, so only the stages a choice touches run again."""
import json
import shutil
import statistics

import pytest

from conftest import run_rlhf
from test_pipeline import TINY, stage_lines


def pipeline(rlhf_bin, out, *extra, check=True):
    return run_rlhf(rlhf_bin, "--threads", "1", "pipeline", "--output_dir", out, *TINY, *extra, timeout=900, check=check)


@pytest.fixture(scope="module")
def tiny_run(rlhf_bin, tmp_path_factory):
    out = tmp_path_factory.mktemp("choices") / "run"
    pipeline(rlhf_bin, out)
    return out


def test_eval_seeds_train_ppo_again_and_the_summary_reports_each_seed_and_the_spread(rlhf_bin, tiny_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(tiny_run, out)
    result = pipeline(rlhf_bin, out, "--eval_seeds", "2")
    ran = {s for s, v in stage_lines(result.stderr).items() if v == "ran"}
    assert ran == {"ppo_seed2", "ppo_ptx_seed2", "eval"}, result.stderr
    for key in ["ppo", "ppo_ptx"]:
        # Another seed: other samples, so other weights (the same seed would give the same ones: PPO is seeded).
        assert (out / "models" / f"{key}_seed2" / "model.safetensors").read_bytes() != \
            (out / "models" / key / "model.safetensors").read_bytes(), key
    summary = json.loads((out / "report" / "summary.json").read_text())
    for key in ["ppo", "ppo_ptx"]:
        block = summary["seeds"]["all"][key]
        rows = block["seeds"]
        assert [r["seed_number"] for r in rows] == [1, 2]
        assert rows[1]["dir"].endswith(f"models/{key}_seed2")
        # Seed 1 is the run's own model: the same numbers as the rest of the summary.
        assert rows[0]["task_success"] == pytest.approx(summary["task_success"][key]["value"])
        assert rows[0]["win_rate_held_out"] == pytest.approx(
            summary["preference"]["all"]["models"][key]["held_out"]["win_rate"]["value"])
        assert rows[0]["task_success_minus_sft"] == pytest.approx(
            summary["task_success"][key]["value"] - summary["task_success"]["sft"]["value"])
        for measure in ["task_success", "task_success_minus_sft", "win_rate_training", "win_rate_held_out"]:
            values = [r[measure] for r in rows]
            assert block[measure]["n"] == 2
            assert block[measure]["mean"] == pytest.approx(statistics.mean(values)), measure
            assert block[measure]["std"] == pytest.approx(statistics.stdev(values)), measure
            assert block[measure]["min"] == min(values) and block[measure]["max"] == max(values)
    assert "over 2 seeds: ppo_ptx" in result.stdout, result.stdout
    assert "Over 2 PPO seeds, PPO-ptx" in (out / "report" / "report.html").read_text()
    # Asked again, nothing runs: the seeds' stages and the evaluation keep their keys.
    again = pipeline(rlhf_bin, out, "--eval_seeds", "2")
    assert {s for s, v in stage_lines(again.stderr).items() if v == "ran"} == set(), again.stderr
    # Back to one seed: the evaluation runs again and reports no seeds, though seed 2's models are still on disk.
    one = pipeline(rlhf_bin, out, "--eval_seeds", "1")
    assert {s for s, v in stage_lines(one.stderr).items() if v == "ran"} == {"eval"}, one.stderr
    assert (out / "models" / "ppo_ptx_seed2" / "model.safetensors").exists()
    assert "seeds" not in json.loads((out / "report" / "summary.json").read_text())
    assert "over 2 seeds" not in one.stdout, one.stdout


def test_ppo_settings_are_chosen_by_training_labelers_on_validation_prompts(rlhf_bin, tiny_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(tiny_run, out)
    result = pipeline(rlhf_bin, out, "--kl_coef_candidates", "0.01,0.3", "--ppo_learning_rate_candidates", "1e-4,3e-3",
                      "--ppo_select_prompts", "16")
    ran = {s for s, v in stage_lines(result.stderr).items() if v == "ran"}
    assert ran == {"ppo_select", "ppo", "ppo_ptx", "eval"}, result.stderr
    select = json.loads((out / "stages" / "ppo_select.json").read_text())["summary"]
    tried = select["candidates"]
    assert [(c["kl_coef"], c["learning_rate"]) for c in tried] == [(0.01, 1e-4), (0.01, 3e-3), (0.3, 1e-4), (0.3, 3e-3)]
    for c in tried:
        assert c["prompts"] == 16 and 0 <= c["win_rate_training_vs_sft"] <= 1 and 0 <= c["task_success"] <= 1, c
        assert (out / "models" / "ppo_select" / f"kl_{c['kl_coef']:g}_lr_{c['learning_rate']:g}" / "config.json").exists(), c
    assert 0 <= select["sft_task_success"] <= 1
    best = max(tried, key=lambda c: c["win_rate_training_vs_sft"])  # the first of equals, as the stage keeps it
    assert (select["chosen_kl_coef"], select["chosen_learning_rate"]) == (best["kl_coef"], best["learning_rate"])
    # The run's PPO and PPO-ptx trained with the chosen settings (their stage keys hold them).
    for stage in ["ppo", "ppo_ptx"]:
        settings = json.loads((out / "stages" / f"{stage}.json").read_text())["settings"]
        assert (settings["kl"], settings["lr"]) == (select["chosen_kl_coef"], select["chosen_learning_rate"]), settings
    # The validation prompts chose: none of them is a test prompt.
    validation = [json.loads(line)["prompt"] for line in (out / "data" / "validation.jsonl").read_text().splitlines()]
    test = {json.loads(line)["prompt"] for line in (out / "data" / "test.jsonl").read_text().splitlines()}
    assert validation[:16] and not set(validation[:16]) & test


def test_a_malformed_candidate_list_is_refused_before_anything_runs(rlhf_bin, tmp_path):
    for option, bad, found in [("--kl_coef_candidates", "0.05,abc", "'abc'"), ("--kl_coef_candidates", "0.05", "two or more"),
                               ("--kl_coef_candidates", "0.1,-0.2", "'-0.2'"),
                               ("--ppo_learning_rate_candidates", "1e-4,0", "'0'")]:
        result = pipeline(rlhf_bin, tmp_path / "bad", option, bad, check=False)
        assert result.returncode != 0, bad
        assert option in result.stderr and found in result.stderr, result.stderr
    assert not (tmp_path / "bad").exists()
