"""`rlhf eval` on a small fake run (a tiny world, random tiny GPT-2 models made with transformers), then the report in
headless Chromium: it loads without console messages, every figure is there, and a screenshot is saved as a test
artefact (build/test-artifacts/report.png). Also checks one number of the summary against transformers: the held-out
pretraining log-likelihood of the base model."""
import json
import math
import os
import pathlib
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from conftest import BUILD, run_rlhf

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
EOS = "<|endoftext|>"
N_POSITIONS = 192
MODELS = ["base", "flan_sft", "sft", "ppo", "ppo_ptx"]
FIGURES = ["fig-goals", "fig-task-success", "fig-winrate", "fig-likert", "fig-metadata", "table-features", "fig-rm-cv",
           "fig-rm-score", "fig-truthfulness", "fig-idk", "fig-hallucination", "fig-toxicity", "fig-harmful",
           "fig-winogender", "fig-crows", "fig-tax", "fig-compute", "fig-curves", "fig-samples"]


def read_jsonl(path):
    # Lines end at "\n" only: a sampled response may hold U+2028 or U+0085, which str.splitlines() also splits at.
    return [json.loads(line) for line in pathlib.Path(path).read_text().split("\n") if line.strip()]


def write_jsonl(path, rows):
    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(path).write_text("".join(json.dumps(r) + "\n" for r in rows))


def train_tokenizer(corpus_texts, out_dir):
    """A small byte-level BPE on the world's corpus (HF tokenizers), with <|endoftext|> as EOS and pad."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=[EOS], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus_texts, trainer)
    out_dir.mkdir(parents=True, exist_ok=True)
    tok.save(str(out_dir / "tokenizer.json"))
    (out_dir / "tokenizer_config.json").write_text(json.dumps({"eos_token": EOS, "pad_token": EOS}))
    return tok


def save_model(model, tok_dir, out_dir):
    model.save_pretrained(out_dir, safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tok_dir / name, out_dir / name)


def gpt2_config(vocab_size, eos_id, **extra):
    return transformers.GPT2Config(vocab_size=vocab_size, n_embd=32, n_layer=2, n_head=2, n_positions=N_POSITIONS,
                                   bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=eos_id, **extra)


@pytest.fixture(scope="module")
def fake_run(rlhf_bin, tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    run_rlhf(rlhf_bin, "world", "--out", run / "world", "--corpus_documents", 200, "--heldout_documents", 12,
             "--prompts", 120, "--users", 12, "--benchmark_items", 10)
    corpus = [r["text"] for r in read_jsonl(run / "world" / "corpus.jsonl")]
    tok = train_tokenizer(corpus, run / "tokenizer")
    vocab, eos_id = tok.get_vocab_size(), tok.token_to_id(EOS)
    for seed, key in enumerate(MODELS):
        torch.manual_seed(seed)
        save_model(transformers.GPT2LMHeadModel(gpt2_config(vocab, eos_id)), run / "tokenizer", run / "models" / key)
    torch.manual_seed(99)
    rm = transformers.GPT2ForSequenceClassification(gpt2_config(vocab, eos_id, num_labels=1))
    save_model(rm, run / "tokenizer", run / "models" / "rm")
    log = read_jsonl(run / "world" / "prompt_log.jsonl")
    write_jsonl(run / "data" / "test.jsonl", log[:5])
    # Two short prompts, as the base few-shot prefix takes only demonstrations that fit beside a test prompt.
    short = [r for r in log[5:] if len(r["prompt"]) < 70][:2]
    write_jsonl(run / "data" / "sft.jsonl", [{"prompt": r["prompt"], "completion": "I don't know."} for r in short])
    # What the pipeline writes: compute per stage (keyed by stage), the RM folds, each stage's metrics.jsonl.
    (run / "compute.json").write_text(json.dumps({
        "pretrain": {"parameters": 60000, "tokens_trained": 200000, "tokens_generated": 0, "tokens_scored": 0, "seconds": 12.0},
        "ppo": {"parameters": 60000, "tokens_trained": 5000, "tokens_generated": 5000, "tokens_scored": 15000, "seconds": 30.0}}))
    (run / "rm_cv.json").write_text(json.dumps({"folds": [
        {"held_out_group": g, "test_accuracy": 0.6 + 0.01 * g, "train_groups_accuracy": 0.65, "test_comparisons": 40}
        for g in range(5)]}))
    (run / "stages").mkdir()  # the rankings stage's record: the agreement of the RM's own rankings
    (run / "stages" / "rankings.json").write_text(json.dumps({"summary": {"inter_labeler_agreement": 0.8}}))
    write_jsonl(run / "models" / "sft" / "metrics.jsonl",
                [{"step": s, "wall_time": 0, "loss": 3 - 0.1 * s, "eval/loss": 3.1 - 0.1 * s} for s in range(1, 8)])
    write_jsonl(run / "models" / "ppo" / "metrics.jsonl",
                [{"step": s, "wall_time": 0, "objective/scores": 0.1 * s, "objective/kl": 0.05 * s, "loss/policy_avg": -0.01,
                  "loss/value_avg": 0.3 / s} for s in range(1, 6)])
    result = run_rlhf(rlhf_bin, "eval", "--run", run, "--test_prompts", 5, "--benchmark_items", 6,
                      "--toxicity_prompts", 4, "--toxicity_samples", 2, "--heldout_documents", 6, "--max_new_tokens", 8,
                      "--few_shot_examples", 2, "--real_data_items", 16, "--batch_size", 3, "--greedy", "true",
                      timeout=900)
    assert "report.html" in result.stdout
    return run


def test_summary_holds_every_measure(fake_run):
    s = json.loads((fake_run / "report" / "summary.json").read_text())
    ids = [m["id"] for m in s["models"]]
    assert ids == ["base", "base_few_shot", "flan_sft", "sft", "ppo", "ppo_ptx"]
    pref = s["preference"]["all"]["models"]
    for key in ids:
        for labelers in ("training", "held_out"):
            w = pref[key][labelers]["win_rate"]
            assert w["n"] == 5 and 0 <= w["low"] <= w["value"] <= w["high"] <= 1
            assert w["wins"] + w["ties"] + w["losses"] == 5
            assert 1 <= pref[key][labelers]["likert"]["mean"] <= 7
    assert pref["sft"]["training"]["win_rate"]["ties"] == 5  # SFT against itself: all ties
    for key in ["base", "flan_sft", "sft", "ppo", "ppo_ptx"]:
        assert set(s["truthfulness"][key]) == {"plain", "instruction_qa"}
        assert s["toxicity"][key]["plain"]["prompts"] == 4 and s["toxicity"][key]["plain"]["samples"] == 8
        assert 0 <= s["toxicity"][key]["respectful"]["expected_max_toxicity"] <= 1
        assert 0 <= s["bias"]["winogender"][key]["plain"]["normalised_entropy"]["mean"] <= 1
        assert s["bias"]["crows_pairs"][key]["respectful"]["stereotype_preferred"]["n"] == 6
        assert s["public_suite"][key]["score"]["n"] == 6
        assert s["rm_score"]["all"][key]["n"] == 5
    assert s["rm_generalisation"]["held_out_accuracy"]["mean"] == pytest.approx(0.62)
    stages = [r["stage"] for r in s["compute"]["stages"]]
    assert stages == ["pretrain", "ppo", "eval"]
    pretrain = s["compute"]["stages"][0]
    assert pretrain["flops"] == pytest.approx(6 * 60000 * 200000)
    assert pretrain["petaflop_s_days"] == pytest.approx(6 * 60000 * 200000 / 8.64e19)
    assert "objective/kl" in s["training_curves"]["all"]["ppo"]
    assert s["samples"]["all"][0]["responses"].keys() >= {"base", "sft", "ppo_ptx"}


def test_goals_recompute_from_the_summary(fake_run):
    """Every goal is there; those with a measure recompute from the summary's own numbers (the held-out win rate, the
    per-item scores, the folds over the rankings' agreement); those without one (or without their inputs) are null."""
    s = json.loads((fake_run / "report" / "summary.json").read_text())
    goals = s["goals"]
    assert len(goals) == 12
    for goal in goals.values():
        assert goal.keys() >= {"value", "ci", "target", "met"}
        assert goal["value"] is not None or (goal["met"] is None and goal["note"])
    win = s["preference"]["all"]["models"]["ppo_ptx"]["held_out"]["win_rate"]
    assert goals["ppo_ptx_vs_sft_heldout"]["value"] == pytest.approx(win["value"])
    assert goals["ppo_ptx_vs_sft_heldout"]["ci"] == pytest.approx([win["low"], win["high"]])
    for key in ("sft", "ppo"):
        items = s["public_suite"][key]["per_item"]
        assert sum(items) / len(items) == pytest.approx(s["public_suite"][key]["score"]["value"])
    sft, ppo = s["public_suite"]["sft"]["per_item"], s["public_suite"]["ppo"]["per_item"]
    tax = goals["alignment_tax_public_suite"]
    assert tax["value"] == pytest.approx(sum(a - b for a, b in zip(sft, ppo)) / len(sft))
    assert tax["ci"][0] <= tax["value"] <= tax["ci"][1]
    made_up = {key: s["hallucination"][key]["per_item"] for key in ("sft", "ppo_ptx")}
    assert goals["hallucination_ppo_ptx_vs_sft"]["value"] == pytest.approx(
        sum(a - b for a, b in zip(made_up["ppo_ptx"], made_up["sft"])) / len(made_up["sft"]))
    assert s["rm_generalisation"]["agreement"] == {"mean": 0.8, "source": "the RM's rankings", "std": None}
    assert goals["rm_accuracy_over_agreement"]["value"] == pytest.approx(0.62 / 0.8)
    assert goals["compute_order"]["value"] is None  # the fake run's compute.json has no SFT or PPO-ptx stage
    assert goals["generalises_to_held_out_categories"]["value"] is None
    assert goals["generalises_to_held_out_categories"]["met"] is None
    # The fake world's harmful benchmark (6 items judged): PPO-ptx's compliance there, however random its answers.
    harmful = s["harmful_compliance_benchmark"]["ppo_ptx"]
    assert goals["harmful_compliance_ppo_ptx"]["n"] == harmful["n"] == 6
    assert goals["harmful_compliance_ppo_ptx"]["value"] == pytest.approx(harmful["value"])


def idk_items(fake_run, model):
    """(source:id, answerable, idk) of every pooled item of a model, from the per-item records: the test prompts
    (responses.jsonl, the checker's features) and the TruthfulQA analogue asked plainly (benchmark_responses.jsonl)."""
    rows = [r for r in read_jsonl(fake_run / "report" / "responses.jsonl") if r["model"] == model]
    bench = [r for r in read_jsonl(fake_run / "report" / "benchmark_responses.jsonl")
             if r["model"] == model and r["suite"] == "truthfulqa" and r["condition"] == "plain"]
    assert all(r["source"] == "test_prompts" for r in rows) and len(rows) == 5 and len(bench) == 6
    return ([("test_prompts:" + r["prompt_id"], r["features"]["answerable"], r["features"]["idk"]) for r in rows] +
            [("truthfulqa:" + r["prompt_id"], r["answerable"], r["idk"]) for r in bench])


def test_idk_shares_and_goal_recompute_from_the_records(fake_run):
    s = json.loads((fake_run / "report" / "summary.json").read_text())
    unanswerable = {}
    for model in ("base", "sft", "ppo", "ppo_ptx"):
        items = idk_items(fake_run, model)
        for answerable in (False, True):
            flags = [idk for _, a, idk in items if a == answerable]
            share = s["idk"][model]["answerable" if answerable else "unanswerable"]
            assert share["n"] == len(flags)
            assert share["value"] == (pytest.approx(sum(flags) / len(flags)) if flags else None)
        unanswerable[model] = {i: idk for i, a, idk in items if not a}
        assert s["idk"][model]["unanswerable_items"]["ids"] == list(unanswerable[model])
    # The fake world's TruthfulQA items include fictional ones, so the goal is measured: paired over the same items.
    assert unanswerable["base"], "no unanswerable item in the fake run: the goal below would not be exercised"
    goal = s["goals"]["idk_unanswerable_ppo_ptx_vs_base"]
    differences = [unanswerable["ppo_ptx"][i] - unanswerable["base"][i] for i in unanswerable["base"]]
    assert goal["n"] == len(differences)
    assert goal["value"] == pytest.approx(sum(differences) / len(differences))
    assert goal["ci"][0] <= goal["value"] <= goal["ci"][1]
    assert goal["met"] == (goal["ci"][0] > 0)


def torch_logistic(x, y, l2):
    """The reference fit: maximise sum y log p + (1 - y) log(1 - p) - l2/2 slope^2, p = sigmoid(a + b x), with torch's
    L-BFGS (another optimiser than the C++ Newton steps)."""
    xs, ys = torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)
    params = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([params], max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-15,
                                  line_search_fn="strong_wolfe")

    def closure():
        optimiser.zero_grad()
        z = params[0] + params[1] * xs
        loss = -(ys * torch.nn.functional.logsigmoid(z) + (1 - ys) * torch.nn.functional.logsigmoid(-z)).sum() \
            + 0.5 * l2 * params[1] ** 2
        loss.backward()
        return loss

    for _ in range(5):
        optimiser.step(closure)
    return params.detach().tolist()


def test_length_controlled_win_rate_recomputes_from_the_records(fake_run):
    """Each model's length-controlled win rate against SFT: the per-prompt outcomes (responses.jsonl "preference") on
    the word-count difference over its standard deviation, fitted with a ridge of 1 on the slope, read at equal length."""
    s = json.loads((fake_run / "report" / "summary.json").read_text())
    rows = read_jsonl(fake_run / "report" / "responses.jsonl")
    sft_words = {r["prompt_id"]: r["features"]["words"] for r in rows if r["model"] == "sft"}
    for model in ("base", "ppo", "ppo_ptx"):
        mine = [r for r in rows if r["model"] == model]
        for labelers in ("training", "held_out"):
            y = [r["preference"][labelers] for r in mine]
            d = [r["features"]["words"] - sft_words[r["prompt_id"]] for r in mine]
            entry = s["preference"]["all"]["models"][model][labelers]
            assert entry["win_rate"]["value"] == pytest.approx(sum(y) / len(y))
            sd = (sum((v - sum(d) / len(d)) ** 2 for v in d) / len(d)) ** 0.5
            x = [v / sd if sd > 0 else 0.0 for v in d]
            intercept, slope = torch_logistic(x, y, 1.0)
            lc = entry["win_rate_length_controlled"]
            assert lc["n"] == 5
            assert lc["value"] == pytest.approx(1 / (1 + math.exp(-intercept)), abs=1e-6), (model, labelers, y, d)
            assert lc["length_slope"] == pytest.approx(slope, abs=1e-6)
            assert lc["mean_length_difference"] == pytest.approx(sum(d) / len(d))


def test_response_shares_recompute_from_the_records(fake_run):
    """Where a win could come from, per model (issue 24): the shares of polite, list-formatted, prompt-copying and
    on-task responses in summary.json are the means of responses.jsonl's per-item checker features, and on_task is
    there for every item."""
    s = json.loads((fake_run / "report" / "summary.json").read_text())
    rows = read_jsonl(fake_run / "report" / "responses.jsonl")
    for model, entry in s["preference"]["all"]["models"].items():
        mine = [r["features"] for r in rows if r["model"] == model]
        assert mine, model
        for key in ("polite", "list_formatted", "copies_prompt", "on_task", "success"):
            assert entry["features"][key] == pytest.approx(sum(float(f[key]) for f in mine) / len(mine)), (model, key)


def test_heldout_likelihood_matches_transformers(fake_run):
    """The mean per-token NLL of held-out text, recomputed with transformers: the text after an <|endoftext|> start
    token, cut to the context."""
    s = json.loads((fake_run / "report" / "summary.json").read_text())
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(fake_run / "tokenizer" / "tokenizer.json"))
    model = transformers.GPT2LMHeadModel.from_pretrained(fake_run / "models" / "base").eval()
    eos_id = tok.token_to_id(EOS)
    total, count = 0.0, 0
    for doc in read_jsonl(fake_run / "world" / "heldout_corpus.jsonl")[:6]:
        ids = tok.encode(doc["text"]).ids[:N_POSITIONS - 1]
        x = torch.tensor([[eos_id] + ids])
        with torch.no_grad():
            logprobs = torch.log_softmax(model(x).logits[0, :-1].double(), -1)
        total += logprobs.gather(-1, x[0, 1:, None]).sum().item()
        count += len(ids)
    assert s["heldout_nll"]["base"]["tokens"] == count
    assert s["heldout_nll"]["base"]["nll_per_token"] == pytest.approx(-total / count, rel=1e-4)


def test_pronoun_entropy_matches_transformers(fake_run):
    """Winogender analogue: log p(" he" | "The nurse said that") etc., the context and the pronoun encoded
    separately, turned into normalised entropy (entropy / ln 3), averaged over items; recomputed with transformers."""
    s = json.loads((fake_run / "report" / "summary.json").read_text())
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(fake_run / "tokenizer" / "tokenizer.json"))
    model = transformers.GPT2LMHeadModel.from_pretrained(fake_run / "models" / "sft").eval()
    entropies = []
    for item in read_jsonl(fake_run / "world" / "benchmarks" / "winogender.jsonl")[:6]:
        context = tok.encode(item["prefix"]).ids
        probabilities = []
        for pronoun in item["choices"]:
            continuation = tok.encode(" " + pronoun).ids
            x = torch.tensor([context + continuation])
            with torch.no_grad():
                logprobs = torch.log_softmax(model(x).logits[0, :-1].double(), -1)
            picked = logprobs[len(context) - 1:].gather(-1, x[0, len(context):, None])
            probabilities.append(math.exp(picked.sum().item()))
        p = [q / sum(probabilities) for q in probabilities]
        entropies.append(-sum(q * math.log(q) for q in p if q > 0) / math.log(len(p)))
    measured = s["bias"]["winogender"]["sft"]["plain"]["normalised_entropy"]
    assert measured["n"] == 6
    assert measured["mean"] == pytest.approx(sum(entropies) / len(entropies), rel=1e-4)


def test_greedy_responses_match_transformers(fake_run):
    """The responses labelers judged (greedy here), recomputed with transformers' generate: the plain prompt format,
    prompts batched by length with left padding (batch size 3 mixes lengths), cut at EOS, decoded, trimmed."""
    s = json.loads((fake_run / "report" / "summary.json").read_text())
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(fake_run / "tokenizer" / "tokenizer.json"))
    eos_id = tok.token_to_id(EOS)
    # Different prompts get different responses, so a response given to the wrong prompt would be caught.
    assert len({sample["responses"]["base"] for sample in s["samples"]["all"]}) > 1
    for key in ("base", "ppo_ptx"):
        model = transformers.GPT2LMHeadModel.from_pretrained(fake_run / "models" / key).eval()
        for sample in s["samples"]["all"]:
            ids = tok.encode("Instruction: " + sample["prompt"] + "\nResponse:").ids
            with torch.no_grad():
                out = model.generate(torch.tensor([ids]), max_new_tokens=8, do_sample=False, eos_token_id=eos_id,
                                     pad_token_id=eos_id)
            expected = tok.decode(out[0, len(ids):].tolist(), skip_special_tokens=True)
            for stop in ("\nInstruction:", "\n\nInstruction"):
                expected = expected.split(stop)[0]
            assert sample["responses"][key] == expected.strip(), (key, sample["prompt"])


def test_report_is_well_formed_and_offline(fake_run):
    html = (fake_run / "report" / "report.html").read_text()
    assert "<script" not in html
    svgs = html.split("<svg")[1:]
    assert len(svgs) >= 12
    for chunk in svgs:  # every inline SVG parses as XML (a browser would draw nothing after a broken one)
        ET.fromstring("<svg" + chunk[:chunk.index("</svg>") + len("</svg>")])
    # Nothing to fetch: the only URL is the SVG namespace's name.
    assert "https://" not in html
    assert html.count("http://") == html.count("http://www.w3.org/2000/svg")


def chromium(args, tmp_path, timeout=180):
    return subprocess.run([CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
                           f"--user-data-dir={tmp_path / 'chromium-profile'}", *args],
                          capture_output=True, text=True, timeout=timeout)


def console_messages(stderr):
    # With --enable-logging=stderr every console message (log, error, uncaught exception) is an ":INFO:CONSOLE" line.
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian package `chromium`; scripts/setup.sh)")
def test_report_in_headless_chromium(fake_run, tmp_path):
    # The detector first: a page that does log must be caught, or the check below proves nothing.
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><script>console.error('boom'); missing();</script></body></html>")
    probe = chromium(["--enable-logging=stderr", "--v=0", "--dump-dom", bad.as_uri()], tmp_path)
    assert len(console_messages(probe.stderr)) >= 2, probe.stderr[-2000:]

    page = (fake_run / "report" / "report.html").resolve()
    loaded = chromium(["--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri()], tmp_path)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert console_messages(loaded.stderr) == []
    dom = loaded.stdout
    for figure_id in FIGURES:
        assert f'id="{figure_id}"' in dom, f"{figure_id} missing from the rendered page"
    assert dom.count("<svg") >= 12

    artifacts = BUILD / "test-artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    screenshot = artifacts / "report.png"
    screenshot.unlink(missing_ok=True)
    shot = chromium([f"--screenshot={screenshot}", "--window-size=1200,3000", "--hide-scrollbars", page.as_uri()], tmp_path)
    assert shot.returncode == 0, shot.stderr[-2000:]
    data = screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1200, 3000)
    assert len(data) > 50_000  # a page of charts, not a blank image
