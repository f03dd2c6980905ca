"""Reliability through the CLI, on the tiny world of test_stages_cli.py (a byte-level BPE tokenizer trained by HF
tokenizers, a tiny GPT-2 saved by transformers, addition prompts):

- Kill and resume: `rlhf sft` gets SIGKILL (or SIGINT) at a random step (seeded), is resumed with
  --resume_from_checkpoint true, and its metrics.jsonl and every model.safetensors equal an uninterrupted run's
  exactly (CPU, --threads 1). SIGINT must write a checkpoint of the step it stopped at and exit 130.
- A full disk (RLIMIT_FSIZE, as `ulimit -f` sets it) and an unwritable output folder: exit 1 with an error that names the
  path; the previous checkpoint stays the latest and a later resume continues from it.
- Damaged checkpoints (state.json, relabelled tensors) name the file and what is wrong.
- The output folder: a second run into it is refused naming the first's pid; a failed start keeps the previous
  training_args.json; NAME.tmp-PID files a killed save left are removed at the next start.
- Non-finite losses (learning_rate 1e30, a NaN weight): the run stops, naming the step and the last checkpoint.
- Bad input caught before training (BAD_INPUTS): each gives exit 1 and an `error: ...` line naming what is wrong. With
  RLHF_BAD_INPUT_TABLE=FILE the messages are written as the Markdown table of README.md's "Bad input" section.
"""
import json
import os
import pathlib
import random
import resource
import shutil
import signal
import subprocess
import time

import pytest
import torch
import transformers
from safetensors.torch import load_file, save_file

from test_stages_cli import COMMON, ENV, make_world, write_jsonl


def rlhf(rlhf_bin, *args, preexec_fn=None, wrapper=(), timeout=600):
    return subprocess.run([*wrapper, str(rlhf_bin), "--threads", "1", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=ENV, preexec_fn=preexec_fn)


def ok(result):
    assert result.returncode == 0, f"exit {result.returncode}:\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("reliability")
    files, base, tokenizer = make_world(root)
    return {"root": root, "files": files, "base": base, "tokenizer": tokenizer}


def sft_args(world, *extra):
    f = world["files"]
    return ["sft", "--model_name_or_path", world["base"], "--dataset", f["sft"], "--eval_dataset", f["sft_eval"],
            "--num_train_epochs", "2", "--per_device_train_batch_size", "4", "--gradient_accumulation_steps", "2",
            "--learning_rate", "3e-3", "--warmup_ratio", "0.1", "--max_length", "48", "--logging_steps", "1",
            "--save_steps", "2", *COMMON, *extra]


def metrics_without_time(path):
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows:
        row.pop("wall_time")
    return rows


def model_files(output_dir):
    return sorted(p.relative_to(output_dir) for p in output_dir.rglob("model.safetensors")
                  if "checkpoints" not in p.parts)


def assert_same_models(a_dir, b_dir):
    assert model_files(a_dir) == model_files(b_dir)
    for relative in model_files(a_dir):
        a, b = load_file(a_dir / relative), load_file(b_dir / relative)
        assert a.keys() == b.keys()
        for name in a:
            assert torch.equal(a[name], b[name]), (relative, name, (a[name] - b[name]).abs().max())


def last_logged_step(metrics):
    try:
        lines = metrics.read_text().splitlines()
    except FileNotFoundError:
        return 0
    for line in reversed(lines):
        try:
            return json.loads(line)["step"]
        except (ValueError, KeyError):
            continue  # a line being written
    return 0


# ------------------------------------------------------------------------------------------------- kill and resume

@pytest.fixture(scope="module")
def uninterrupted(rlhf_bin, world):
    out = world["root"] / "uninterrupted"
    ok(rlhf(rlhf_bin, *sft_args(world), "--output_dir", out))
    return out


@pytest.mark.parametrize("signal_name,seed", [("SIGKILL", 1), ("SIGKILL", 2), ("SIGKILL", 3), ("SIGINT", 4)])
def test_killed_at_a_random_step_then_resumed_equals_uninterrupted(rlhf_bin, world, uninterrupted, tmp_path,
                                                                   signal_name, seed):
    rng = random.Random(seed)
    rows = [json.loads(line) for line in (uninterrupted / "metrics.jsonl").read_text().splitlines()]
    total = max(row["step"] for row in rows)
    seconds_per_step = (rows[-1]["wall_time"] - rows[0]["wall_time"]) / max(1, total - 1)
    kill_after = rng.randint(3, total - 4)  # a logged step; a checkpoint (every 2 steps) exists by then
    # Lands anywhere in the next step or two (forward, backward, checkpoint, an epoch's eval), whatever the machine's
    # speed: the uninterrupted run's pace sets the scale.
    delay = rng.uniform(0.0, 1.5 * seconds_per_step)
    out = tmp_path / "run"
    proc = subprocess.Popen([str(rlhf_bin), "--threads", "1", *map(str, sft_args(world)), "--output_dir", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.time() + 300
    while last_logged_step(out / "metrics.jsonl") < kill_after and proc.poll() is None and time.time() < deadline:
        time.sleep(0.002)
    time.sleep(delay)
    assert proc.poll() is None, f"the run ended before step {kill_after}:\n{proc.stderr.read()}"
    proc.send_signal(getattr(signal, signal_name))
    _, stderr = proc.communicate(timeout=300)
    latest = (out / "checkpoints" / "latest").read_text().strip()
    print(f"\n{signal_name} after step {last_logged_step(out / 'metrics.jsonl')} (+{delay * 1000:.0f} ms); "
          f"latest checkpoint {latest}")
    if signal_name == "SIGINT":
        assert proc.returncode == 130, f"expected exit 130 after SIGINT, got {proc.returncode}:\n{stderr}"
        assert "interrupted: checkpoint written" in stderr
        # The checkpoint is of the step the run stopped at: nothing trained is lost.
        assert latest == f"step-{last_logged_step(out / 'metrics.jsonl')}"
    else:
        assert proc.returncode == -signal.SIGKILL
    assert not (out / "model.safetensors").exists(), "the run had finished: nothing to resume"

    ok(rlhf(rlhf_bin, *sft_args(world), "--output_dir", out, "--resume_from_checkpoint", "true"))
    assert metrics_without_time(out / "metrics.jsonl") == metrics_without_time(uninterrupted / "metrics.jsonl")
    assert_same_models(uninterrupted, out)


# ---------------------------------------------------------------------------------------- disk full, unwritable

def test_a_full_disk_names_the_path_and_keeps_the_previous_checkpoint(rlhf_bin, world, tmp_path):
    out = tmp_path / "run"
    one_epoch = sft_args(world, "--num_train_epochs", "1")
    two_epochs = sft_args(world, "--num_train_epochs", "2")
    ok(rlhf(rlhf_bin, *one_epoch, "--output_dir", out))
    assert (out / "checkpoints" / "latest").read_text().strip() == "step-10"
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.suffix != ".jsonl" and "tfevents" not in p.name
              and p.name != "training_args.json"}

    # Continue for a second epoch with 100 KiB per file (ulimit -f 100): metrics and small JSON files fit, the first
    # checkpoint's 160 kB of weights do not.
    limit = 100 * 1024
    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    result = rlhf(rlhf_bin, *two_epochs, "--output_dir", out, "--resume_from_checkpoint", "true",
                  preexec_fn=limit_file_size)
    message = result.stderr.strip().splitlines()[-1]
    print("\n" + message)
    assert result.returncode == 1, f"expected exit 1 (not a SIGXFSZ kill), got {result.returncode}:\n{result.stderr}"
    assert message.startswith(f"error: {out}/checkpoints/.tmp-step-12/modules.safetensors: expected room to write")
    assert "File too large (nothing replaced)" in message
    # Nothing earlier is lost: the latest checkpoint is still step 10 and every earlier file is as it was, with no
    # half-written folder beside them.
    assert (out / "checkpoints" / "latest").read_text().strip() == "step-10"
    assert {p: p.read_bytes() for p in before} == before
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["latest", "step-10", "step-8"]
    # ... and a resume with room to write continues from it.
    result = ok(rlhf(rlhf_bin, *two_epochs, "--output_dir", out, "--resume_from_checkpoint", "true"))
    assert "(step 10)" in result.stderr
    assert (out / "checkpoints" / "latest").read_text().strip() == "step-20"


def test_an_unwritable_output_folder_names_the_path(rlhf_bin, world, tmp_path):
    out = tmp_path / "run"
    ok(rlhf(rlhf_bin, *sft_args(world, "--max_steps", "2"), "--output_dir", out))
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    # Root ignores permission bits: without CAP_DAC_OVERRIDE it obeys them like anyone else.
    wrapper = ()
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: cannot make a folder unwritable")
        wrapper = ("setpriv", "--bounding-set=-dac_override,-dac_read_search", "--")
    for folder in [out, *[p for p in out.rglob("*") if p.is_dir()]]:
        folder.chmod(0o555)
    try:
        result = rlhf(rlhf_bin, *sft_args(world, "--max_steps", "4"), "--output_dir", out, "--resume_from_checkpoint",
                      "true", wrapper=wrapper)
    finally:
        for folder in [out, *[p for p in out.rglob("*") if p.is_dir()]]:
            folder.chmod(0o755)
    print("\n" + result.stderr.strip())
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip() == f"error: {out}/.rlhf.lock: expected a writable location, found Permission denied"
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("edit,expected", [
    (lambda s: s.pop("epoch"), 'expected the key "epoch", found none (the keys are '),
    (lambda s: s.pop("step"), 'expected the key "step", found none'),
    (lambda s: s.update(window_loss="0.5"), 'expected a number under "window_loss", found "0.5"'),
    (lambda s: s.pop("optimizer_steps"), 'expected an object under "optimizer_steps", found no such key'),
    (lambda s: s["optimizer_steps"].update({"optimizer/0": None}),
     "expected integer optimizer_steps, found optimizer/0: null"),
    (lambda s: s.update(epoch="DEEP"),
     "expected JSON nested at most 256 levels deep, found nesting deeper than 256 at column"),
], ids=["no epoch", "no step", "a string", "no optimizer_steps", "a null optimizer step", "nested 100,000 deep"])
def test_a_damaged_checkpoint_state_names_the_file_and_key(rlhf_bin, world, tmp_path, edit, expected):
    out = tmp_path / "run"
    ok(rlhf(rlhf_bin, *sft_args(world, "--max_steps", "2"), "--output_dir", out))
    path = out / "checkpoints" / "step-2" / "state.json"
    state = json.loads(path.read_text())
    edit(state)
    path.write_text(json.dumps(state).replace('"DEEP"', DEEP))  # a SIGSEGV when printed (issue 29)
    result = rlhf(rlhf_bin, *sft_args(world, "--max_steps", "4"), "--output_dir", out,
                  "--resume_from_checkpoint", "true")
    message = result.stderr.strip().splitlines()[-1]
    print("\n" + message)
    assert result.returncode == 1, result.stderr
    # It was nlohmann's "type must be number, but is null" (and a missing optimizer_steps resumed without AdamW's moments).
    assert message.startswith(f"error: {path}: {expected}"), message


def relabel(path, name, dtype, shape):
    """Rewrites the safetensors header at `path` so that tensor `name` claims `dtype` and `shape` (same bytes)."""
    data = path.read_bytes()
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + length])
    header[name].update(dtype=dtype, shape=shape)
    text = json.dumps(header).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + data[8 + length:])


@pytest.mark.parametrize("dtype", ["I32", "F16"])
def test_a_relabelled_checkpoint_tensor_names_the_file_and_tensor(rlhf_bin, world, tmp_path, dtype):
    out = tmp_path / "run"
    ok(rlhf(rlhf_bin, *sft_args(world, "--max_steps", "2"), "--output_dir", out))
    path = out / "checkpoints" / "step-2" / "modules.safetensors"
    name = "model/embed_positions"
    rows, columns = load_file(path)[name].shape
    # Same byte count, so the header is valid: it was read as int64, 2-4 times its bytes, past the end of the file.
    relabel(path, name, dtype, [rows, columns] if dtype == "I32" else [2 * rows, columns])
    result = rlhf(rlhf_bin, *sft_args(world, "--max_steps", "4"), "--output_dir", out, "--resume_from_checkpoint", "true")
    message = result.stderr.strip().splitlines()[-1]
    print("\n" + message)
    assert result.returncode == 1, result.stderr
    assert message == (f"error: {path} tensor '{name}': expected dtype F32 (as checkpoints are written), found {dtype}")


# ----------------------------------------------------------------------------------------------- the output folder

def test_a_failed_start_keeps_the_previous_training_args(rlhf_bin, world, tmp_path):
    out = tmp_path / "run"
    ok(rlhf(rlhf_bin, *sft_args(world, "--max_steps", "2"), "--output_dir", out))
    before = (out / "training_args.json").read_text()
    assert json.loads(before)["max_steps"] == 2
    for stage, args in [("sft", sft_args(world, "--max_steps", "3")),
                        ("rm", ["rm", "--model_name_or_path", world["base"], "--dataset", world["files"]["rankings"],
                                *COMMON])]:
        # A dataset that does not exist: the run fails before it starts and the previous run's options stay, and so
        # do its results, --overwrite_output_dir or not (they are removed once a run has loaded what it needs).
        args = [tmp_path / "missing.jsonl" if a in (world["files"]["sft"], world["files"]["rankings"]) else a
                for a in args]
        result = rlhf(rlhf_bin, *args, "--output_dir", out, "--overwrite_output_dir")
        assert result.returncode == 1, result.stderr
        assert "missing.jsonl" in result.stderr.strip().splitlines()[-1], result.stderr
        assert (out / "training_args.json").read_text() == before, stage
        assert (out / "model.safetensors").exists() and (out / "checkpoints" / "step-2").exists(), stage
    # A run that starts writes its own.
    ok(rlhf(rlhf_bin, *sft_args(world, "--max_steps", "4"), "--output_dir", out, "--resume_from_checkpoint", "true"))
    assert json.loads((out / "training_args.json").read_text())["max_steps"] == 4


def test_leftover_temporary_files_are_removed_on_start(rlhf_bin, world, tmp_path):
    out = tmp_path / "run"
    ok(rlhf(rlhf_bin, *sft_args(world, "--max_steps", "2"), "--output_dir", out))
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid no process has now: the run killed during its final save
    leftovers = [out / f"model.safetensors.tmp-{gone.pid}", out / "checkpoints" / f"latest.tmp-{gone.pid}"]
    kept = [out / f"model.safetensors.tmp-{os.getpid()}",  # a live process's file
            out / "notes.tmp-draft"]                         # not our pattern
    for path in leftovers + kept:
        path.write_bytes(b"half a file")
    result = ok(rlhf(rlhf_bin, *sft_args(world, "--max_steps", "4"), "--output_dir", out,
                     "--resume_from_checkpoint", "true"))
    assert f"{out}: removed 2 temporary files left by a run that was killed while saving" in result.stderr
    assert not any(path.exists() for path in leftovers)
    assert all(path.exists() for path in kept)


def test_a_second_run_into_a_used_output_folder_is_refused(rlhf_bin, world, tmp_path):
    out = tmp_path / "run"
    first = subprocess.Popen([str(rlhf_bin), "--threads", "1", *map(str, sft_args(world, "--num_train_epochs", "50")),
                              "--output_dir", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=ENV)
    try:
        deadline = time.time() + 120
        while last_logged_step(out / "metrics.jsonl") < 1 and first.poll() is None and time.time() < deadline:
            time.sleep(0.01)
        assert first.poll() is None, first.stderr.read()
        result = rlhf(rlhf_bin, *sft_args(world), "--output_dir", out)
        message = result.stderr.strip().splitlines()[-1]
        print("\n" + message)
        assert result.returncode == 1, result.stderr
        assert message == (f"error: {out}: expected an output folder no other run is using, found one in use by process "
                           f"{first.pid} ({out}/.rlhf.lock); wait for it to end or choose another --output_dir")
        assert first.poll() is None  # the first run goes on
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=300)
    assert first.returncode == 130
    # The first run's log is whole (two runs used to interleave it), and the folder is free again.
    assert all(json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines())
    ok(rlhf(rlhf_bin, *sft_args(world, "--max_steps", "2"), "--output_dir", out, "--overwrite_output_dir"))


# ----------------------------------------------------------------------------------------------- non-finite loss

def test_an_exploding_learning_rate_stops_naming_the_step_and_checkpoint(rlhf_bin, world, tmp_path):
    out = tmp_path / "run"
    result = rlhf(rlhf_bin, *sft_args(world, "--learning_rate", "1e30", "--warmup_ratio", "0", "--max_bad_steps", "3",
                                      "--save_steps", "1"), "--output_dir", out)
    message = result.stderr.strip().splitlines()[-1]
    print("\n" + message)
    assert result.returncode == 1, result.stderr
    latest = (out / "checkpoints" / "latest").read_text().strip()
    assert message.startswith("error: training stopped at step ")
    assert "3 steps in a row with a non-finite loss or gradient norm" in message
    assert f"the last good checkpoint is {out}/checkpoints/{latest}" in message
    stopped = int(message.split("training stopped at step ")[1].split(":")[0])
    skipped = [row for row in metrics_without_time(out / "metrics.jsonl") if row["skipped_steps"] > 0]
    assert skipped and skipped[-1]["step"] == stopped - 1  # the last logged step before the stop had skipped ones
    # The checkpoint named holds finite weights (skipped steps never reach them).
    assert all(torch.isfinite(t).all() for t in load_file(out / "checkpoints" / latest / "modules.safetensors").values())


@pytest.mark.parametrize("stage", ["rm", "ppo"])
def test_rm_and_ppo_skip_count_and_stop_on_non_finite_steps(rlhf_bin, world, tmp_path, stage):
    f, out = world["files"], tmp_path / "run"
    if stage == "rm":
        args = ["rm", "--model_name_or_path", world["base"], "--dataset", f["rankings"], "--logging_steps", "1",
                "--per_device_train_batch_size", "2", "--max_length", "48", "--save_steps", "1"]
    else:  # four minibatches per iteration: the first update explodes the weights, the next three are skipped
        args = ["ppo", "--sft_model_path", world["base"], "--reward_model_path",
                small_model(world, tmp_path, "rm", classifier=True), "--dataset", f["prompts"], "--total_episodes", "64",
                "--rollout_batch_size", "8", "--num_mini_batches", "4", "--num_ppo_epochs", "1", "--response_length", "8",
                "--max_length", "48"]
    result = rlhf(rlhf_bin, *args, "--learning_rate", "1e30", "--warmup_ratio", "0", "--max_bad_steps", "3",
                  "--output_dir", out, *COMMON)
    message = result.stderr.strip().splitlines()[-1]
    print("\n" + message)
    assert result.returncode == 1, result.stderr
    assert message.startswith("error: training stopped at step ")
    assert "3 steps in a row with a non-finite loss or gradient norm" in message
    if stage == "rm":  # the skipped steps are counted in metrics.jsonl, as sft counts them
        latest = (out / "checkpoints" / "latest").read_text().strip()
        assert f"the last good checkpoint is {out}/checkpoints/{latest}" in message
        logged = [row for row in metrics_without_time(out / "metrics.jsonl") if "loss" in row]
        assert logged and all("skipped_steps" in row for row in logged)
        assert logged[-1]["skipped_steps"] > 0
    else:
        assert message.startswith("error: training stopped at step 1: ")  # inside the first iteration
        assert message.endswith("no checkpoint was written yet")


def test_a_nan_weight_stops_before_any_checkpoint(rlhf_bin, world, tmp_path):
    model = tmp_path / "nan-model"
    shutil.copytree(world["base"], model)
    weights = load_file(model / "model.safetensors")
    weights["transformer.h.0.mlp.c_fc.weight"][0, 0] = float("nan")
    save_file(weights, model / "model.safetensors", metadata={"format": "pt"})
    result = rlhf(rlhf_bin, "sft", "--model_name_or_path", model, "--dataset", world["files"]["sft"],
                  "--max_bad_steps", "2", "--output_dir", tmp_path / "run", *COMMON)
    message = result.stderr.strip().splitlines()[-1]
    print("\n" + message)
    assert result.returncode == 1
    assert message.startswith("error: training stopped at step 2: 2 steps in a row with a non-finite loss")
    assert message.endswith("no checkpoint was written yet")


# ------------------------------------------------------------------------------------------------------ bad input

def small_model(world, tmp_path, name, vocab_size=None, n_positions=128, classifier=False):
    """A GPT-2 beside a copy of the world's tokenizer files, saved by transformers."""
    folder = tmp_path / name
    tokenizer = world["tokenizer"]
    tokenizer.save_pretrained(folder)
    eot = tokenizer.eos_token_id
    config = transformers.GPT2Config(vocab_size=vocab_size or len(tokenizer), n_embd=32, n_layer=1, n_head=4,
                                     n_positions=n_positions, bos_token_id=eot, eos_token_id=eot, pad_token_id=eot)
    torch.manual_seed(0)
    model_class = transformers.GPT2ForSequenceClassification if classifier else transformers.GPT2LMHeadModel
    if classifier:
        config.num_labels = 1
    model_class(config).save_pretrained(folder)
    return folder


def other_tokenizer_rm(world, tmp_path):
    """A reward model directory whose tokenizer has the same size but different merges (trained on other text)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    folder = small_model(world, tmp_path, "other-rm", classifier=True)
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(["The reward model reads other tokens entirely."] * 50 + ["zzz yyy xxx"] * 50,
                                  trainers.BpeTrainer(vocab_size=280, special_tokens=["<|endoftext|>"],
                                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                      show_progress=False))
    transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|endoftext|>",
                                         pad_token="<|endoftext|>").save_pretrained(folder)
    (folder / "reward_normalization.json").write_text('{"offset": 0.0}')
    return folder


def no_eos_model(world, tmp_path):
    folder = small_model(world, tmp_path, "no-eos")
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config.update(eos_token=None, pad_token=None, bos_token=None)
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    (folder / "special_tokens_map.json").unlink(missing_ok=True)
    return folder


def huge_config_model(world, tmp_path):
    folder = small_model(world, tmp_path, "huge-config")
    config = json.loads((folder / "config.json").read_text())
    config.update(n_embd=8192, n_layer=48, n_head=64)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def nan_model(world, tmp_path):
    folder = small_model(world, tmp_path, "nan-weight")
    weights = load_file(folder / "model.safetensors")
    weights["transformer.h.0.mlp.c_fc.weight"][0, 0] = float("nan")
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    return folder


def truncated_weights_model(world, tmp_path):
    folder = small_model(world, tmp_path, "truncated")
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    return folder


def pickle_model(world, tmp_path):
    folder = small_model(world, tmp_path, "pickle")
    model = transformers.GPT2LMHeadModel.from_pretrained(folder)
    (folder / "model.safetensors").unlink()
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    return folder


def broken_tokenizer_model(world, tmp_path):
    folder = small_model(world, tmp_path, "broken-tokenizer")
    text = (folder / "tokenizer.json").read_text()
    (folder / "tokenizer.json").write_text(text[: len(text) // 3])
    return folder


def write(path, text):
    path.write_text(text)
    return path


DEEP = "[" * 100000 + "]" * 100000  # 200 KB; 60-75k levels crashed nlohmann's dump() (SIGSEGV, issue 29)


def with_deep_value(obj, put):
    """`obj` as JSON text with the value that `put` places (as the string "DEEP") nested 100,000 levels deep (Python's
    json would recurse on such a value)."""
    put(obj)
    return json.dumps(obj).replace('"DEEP"', DEEP)


def deep_model(world, tmp_path, file):
    """A good model whose `file` holds a value nested 100,000 levels deep where an error message printed it."""
    folder = small_model(world, tmp_path, "deep")
    path = folder / file
    if file == "model.safetensors":
        data = path.read_bytes()
        length = int.from_bytes(data[:8], "little")
        header = with_deep_value(json.loads(data[8:8 + length]), lambda h: h.update(__metadata__={"format": "DEEP"}))
        path.write_bytes(len(header.encode()).to_bytes(8, "little") + header.encode() + data[8 + length:])
    elif file == "config.json":
        path.write_text(with_deep_value(json.loads(path.read_text()), lambda c: c.update(architectures="DEEP")))
    elif file == "tokenizer.json":
        path.write_text(with_deep_value(json.loads(path.read_text()), lambda t: t["model"]["vocab"].update(a="DEEP")))
    else:
        path.write_text(with_deep_value(json.loads(path.read_text()), lambda c: c.update(eos_token="DEEP")))
    return folder


# (name shown in the README, a function (world, tmp_path) -> the CLI arguments, the start of the message expected).
BAD_INPUTS = [
    ("tokenizer with more ids than the model's embedding (sft)",
     lambda w, t: ["sft", "--model_name_or_path", small_model(w, t, "small-vocab", vocab_size=100),
                   "--dataset", w["files"]["sft"]],
     "expected an embedding with a row for each of the tokenizer's"),
    ("tokenizer with more ids than the model's embedding (rm)",
     lambda w, t: ["rm", "--model_name_or_path", small_model(w, t, "small-vocab", vocab_size=100),
                   "--dataset", w["files"]["rankings"]],
     "expected an embedding with a row for each of the tokenizer's"),
    ("tokenizer without an EOS token (sft)",
     lambda w, t: ["sft", "--model_name_or_path", no_eos_model(w, t), "--dataset", w["files"]["sft"]],
     "expected an end-of-response token for the plain format (eos_token)"),
    ("tokenizer without an EOS token (ppo)",
     lambda w, t: ["ppo", "--sft_model_path", no_eos_model(w, t), "--reward_model_path",
                   small_model(w, t, "rm", classifier=True), "--dataset", w["files"]["prompts"]],
     "expected an end-of-response token for the plain format (eos_token)"),
    ("every example longer than --max_length (sft, --max_length 6)",
     lambda w, t: ["sft", "--model_name_or_path", w["base"], "--dataset", w["files"]["sft"], "--max_length", "6"],
     "expected some examples that fit --max_length 6 tokens, found none: all 80 are longer"),
    ("every ranking longer than --max_length (rm, --max_length 6)",
     lambda w, t: ["rm", "--model_name_or_path", w["base"], "--dataset", w["files"]["rankings"], "--max_length", "6"],
     "expected some examples that fit --max_length 6 tokens"),
    ("every prompt longer than max_length - response_length (ppo)",
     lambda w, t: ["ppo", "--sft_model_path", w["base"], "--reward_model_path", small_model(w, t, "rm", classifier=True),
                   "--dataset", w["files"]["prompts"], "--max_length", "12", "--response_length", "8"],
     "expected some examples that fit --max_length minus --response_length = 4 tokens"),
    ("sequences longer than GPT-2's positions (n_positions 16)",
     lambda w, t: ["sft", "--model_name_or_path", small_model(w, t, "short", n_positions=16), "--dataset",
                   w["files"]["sft"], "--max_length", "32"],
     "expected sequences of at most the 16 positions of"),
    ("reward model with a different tokenizer (ppo)",
     lambda w, t: ["ppo", "--sft_model_path", w["base"], "--reward_model_path", other_tokenizer_rm(w, t),
                   "--dataset", w["files"]["prompts"]],
     "expected a reward model with the policy's tokenizer (same vocabulary and ids)"),
    ("--logging_steps 0 (was a division by zero)",
     lambda w, t: ["sft", "--model_name_or_path", w["base"], "--dataset", w["files"]["sft"], "--logging_steps", "0"],
     "sft: --logging_steps: expected 1 or more, found 0"),
    ("--max_length 0",
     lambda w, t: ["sft", "--model_name_or_path", w["base"], "--dataset", w["files"]["sft"], "--max_length", "0"],
     "sft: --max_length: expected 2 tokens or more, found 0"),
    ("--num_mini_batches 0 (ppo)",
     lambda w, t: ["ppo", "--sft_model_path", w["base"], "--reward_model_path", small_model(w, t, "rm", classifier=True),
                   "--dataset", w["files"]["prompts"], "--num_mini_batches", "0"],
     "ppo: --num_mini_batches: expected 1 or more, found 0"),
    ("a NaN weight in the SFT model (ppo: sampling the first rollout)",
     lambda w, t: ["ppo", "--sft_model_path", nan_model(w, t), "--reward_model_path",
                   small_model(w, t, "rm", classifier=True), "--dataset", w["files"]["prompts"]],
     "sampling: expected finite next-token probabilities, found NaN or inf at new token 0"),
    ("config.json sizes the weights cannot fill (n_embd 8192, 48 layers)",
     lambda w, t: ["sft", "--model_name_or_path", huge_config_model(w, t), "--dataset", w["files"]["sft"]],
     "config.json: expected sizes that the checkpoint's tensors can fill"),
    ("model.safetensors cut in half",
     lambda w, t: ["sft", "--model_name_or_path", truncated_weights_model(w, t), "--dataset", w["files"]["sft"]],
     "model.safetensors tensor"),
    ("only a pickle checkpoint (pytorch_model.bin)",
     lambda w, t: ["sft", "--model_name_or_path", pickle_model(w, t), "--dataset", w["files"]["sft"]],
     "expected model.safetensors (pickled .bin/.pt checkpoints are never loaded"),
    ("tokenizer.json cut short",
     lambda w, t: ["sft", "--model_name_or_path", broken_tokenizer_model(w, t), "--dataset", w["files"]["sft"]],
     "tokenizer.json: expected valid JSON"),
    ("config.json with \"architectures\" nested 100,000 levels deep (was a SIGSEGV)",
     lambda w, t: ["sft", "--model_name_or_path", deep_model(w, t, "config.json"), "--dataset", w["files"]["sft"]],
     "deep/config.json: expected JSON nested at most 256 levels deep, found nesting deeper than 256 at column"),
    ("tokenizer.json with a vocabulary id nested 100,000 levels deep (was a SIGSEGV)",
     lambda w, t: ["sft", "--model_name_or_path", deep_model(w, t, "tokenizer.json"), "--dataset", w["files"]["sft"]],
     "deep/tokenizer.json: expected JSON nested at most 256 levels deep, found nesting deeper than 256 at column"),
    ("tokenizer_config.json with eos_token nested 100,000 levels deep (was a SIGSEGV)",
     lambda w, t: ["sft", "--model_name_or_path", deep_model(w, t, "tokenizer_config.json"), "--dataset",
                   w["files"]["sft"]],
     "deep/tokenizer_config.json: expected JSON nested at most 256 levels deep, found nesting deeper than 256 at"),
    ("a model.safetensors header with __metadata__ nested 100,000 levels deep (was a SIGSEGV)",
     lambda w, t: ["sft", "--model_name_or_path", deep_model(w, t, "model.safetensors"), "--dataset",
                   w["files"]["sft"]],
     "deep/model.safetensors: expected JSON nested at most 256 levels deep, found nesting deeper than 256 at column"),
    ("a JSONL line nested 100,000 levels deep",
     lambda w, t: ["sft", "--model_name_or_path", w["base"], "--dataset",
                   write(t / "deep.jsonl", '{"prompt": "a", "completion": "b"}\n{"prompt": ' + DEEP + '}\n')],
     "deep.jsonl:2: expected JSON nested at most 256 levels deep, found nesting deeper than 256 at column 267"),
    ("a malformed JSONL line",
     lambda w, t: ["sft", "--model_name_or_path", w["base"], "--dataset",
                   write(t / "bad.jsonl", '{"prompt": "a", "completion": "b"}\n{"prompt": "a", "completion": \n')],
     "bad.jsonl:2: expected a JSON value, found invalid JSON at column"),
    ("a JSONL line of another format (rankings given to sft)",
     lambda w, t: ["sft", "--model_name_or_path", w["base"], "--dataset", w["files"]["rankings"]],
     "rankings.jsonl:1: expected"),
    ("an unknown key in --config YAML",
     lambda w, t: ["sft", "--config", write(t / "c.yaml", "learning_rat: 1e-4\n"), "--model_name_or_path", w["base"],
                   "--dataset", w["files"]["sft"]],
     "c.yaml:1: unknown option 'learning_rat' (did you mean 'learning_rate'?)"),
    ("a YAML list as key in --config",
     lambda w, t: ["sft", "--config", write(t / "c.yaml", "[a, b]: 1\n"), "--model_name_or_path", w["base"],
                   "--dataset", w["files"]["sft"]],
     "c.yaml:1: expected an option name, found a list, mapping or null as key"),
]


@pytest.mark.parametrize("name,make_args,expected", BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_is_refused_before_training(rlhf_bin, world, tmp_path, name, make_args, expected):
    args = make_args(world, tmp_path)
    result = rlhf(rlhf_bin, *args, "--output_dir", tmp_path / "out", "--device", "cpu", "--quiet", "true")
    message = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
    print(f"\n{name}: {message}")
    assert result.returncode == 1, f"exit {result.returncode}:\n{result.stderr}"
    assert message.startswith("error: ") and expected in message, message
    assert "(unexpected)" not in message  # every one is a checked rlhf::Error
    assert not (tmp_path / "out" / "checkpoints").exists()  # refused before the first step
    table = os.environ.get("RLHF_BAD_INPUT_TABLE")
    if table:
        shown = message.replace(str(tmp_path), "…").replace(str(world["root"]), "…").replace("|", "\\|")
        with open(table, "a", encoding="utf-8") as f:
            f.write(f"| {name} | `{shown}` |\n")
