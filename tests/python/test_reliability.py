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
- Non-finite losses (learning_rate 1e30): the run stops, naming the step and the last checkpoint written before the
  last finite step; the later ones are set aside, none is written during the streak, and a resume from the one named
  finishes.
- Degenerate data: comparisons between identical responses are counted and left out; an empty prompt is refused.
- Bad input caught before training: test_bad_input.py.
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
from safetensors.torch import load_file

from test_bad_input import DEEP, small_model, write
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
    (lambda s: s.update(step=10.5), 'expected a whole number from 0 to 2^53 under "step", found 10.5'),
    (lambda s: s.update(step=1e30), 'expected a whole number from 0 to 2^53 under "step", found 1e+30'),
    (lambda s: s.update(step=-5), 'expected a whole number from 0 to 2^53 under "step", found -5'),
    (lambda s: s["optimizer_steps"].update({"optimizer/0": -1}),
     "expected optimizer_steps from 1 to 2^53, found optimizer/0: -1"),
], ids=["no epoch", "no step", "a string", "no optimizer_steps", "a null optimizer step", "nested 100,000 deep",
        "step 10.5", "step 1e30", "step -5", "optimizer step -1"])
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
    # Step 1 is finite and its update explodes the weights; steps 2-4 run on them. The checkpoint of step 1 holds
    # those weights (it was called "the last good checkpoint", and resuming from it repeated the streak): it is set
    # aside, none is written during the streak, and the message names none as good.
    checkpoints = out / "checkpoints"
    assert message == ("error: training stopped at step 4: 3 steps in a row with a non-finite loss or gradient norm "
                       "since step 2 (last loss nan, gradient norm nan); no checkpoint holds weights that trained a "
                       f"finite step; start again with a lower --learning_rate; set aside {checkpoints}/step-1.non-finite "
                       "(the weights the non-finite steps ran on)")
    assert sorted(p.name for p in checkpoints.iterdir()) == ["step-1.non-finite"]
    skipped = [row for row in metrics_without_time(out / "metrics.jsonl") if row["skipped_steps"] > 0]
    assert skipped and skipped[-1]["step"] == 3  # the last logged step before the stop had skipped ones
    result = rlhf(rlhf_bin, *sft_args(world), "--output_dir", out, "--resume_from_checkpoint", "true")
    assert result.returncode == 1 and "expected a checkpoint to resume from" in result.stderr  # no loop


def test_divergence_names_the_checkpoint_before_the_streak_and_its_advice_works(rlhf_bin, world, tmp_path):
    out = tmp_path / "run"
    one = ["--save_steps", "1", "--save_total_limit", "1", "--max_bad_steps", "3", "--warmup_ratio", "0"]
    ok(rlhf(rlhf_bin, *sft_args(world, *one, "--num_train_epochs", "1"), "--output_dir", out))  # steps 1-10
    # A second epoch with an exploding learning rate: step 11 is finite and explodes the weights, 12-14 are not finite.
    result = rlhf(rlhf_bin, *sft_args(world, *one, "--learning_rate", "1e30"), "--output_dir", out,
                  "--resume_from_checkpoint", "true")
    message = result.stderr.strip().splitlines()[-1]
    print("\n" + message)
    assert result.returncode == 1, result.stderr
    checkpoints = out / "checkpoints"
    assert message == ("error: training stopped at step 14: 3 steps in a row with a non-finite loss or gradient norm "
                       "since step 12 (last loss nan, gradient norm nan); the last good checkpoint is "
                       f"{checkpoints}/step-10 (--resume_from_checkpoint true continues from it; lower --learning_rate "
                       f"first); set aside {checkpoints}/step-11.non-finite (the weights the non-finite steps ran on)")
    # --save_total_limit 1 kept step-10 beside step-11 (step-11 was not known good yet), and nothing was written during
    # the streak.
    assert sorted(p.name for p in checkpoints.iterdir()) == ["latest", "step-10", "step-11.non-finite"]
    assert (checkpoints / "latest").read_text().strip() == "step-10"
    # Following the advice works.
    result = ok(rlhf(rlhf_bin, *sft_args(world, *one), "--output_dir", out, "--resume_from_checkpoint", "true"))
    assert "(step 10)" in result.stderr
    rows = [row for row in metrics_without_time(out / "metrics.jsonl") if row["step"] > 10 and "loss" in row]
    assert len(rows) == 10 and all(row["skipped_steps"] == 0 for row in rows)


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
        assert message.endswith(f"set aside {out}/checkpoints/step-1.non-finite (the weights the non-finite steps "
                                "ran on)")
        logged = [row for row in metrics_without_time(out / "metrics.jsonl") if "loss" in row]
        assert logged and all("skipped_steps" in row for row in logged)
        assert logged[-1]["skipped_steps"] > 0
    else:
        assert message.startswith("error: training stopped at step 1: ")  # inside the first iteration
        assert message.endswith("no checkpoint holds weights that trained a finite step; start again with a lower "
                                "--learning_rate")


# ------------------------------------------------------------------------------------------------ notices

def cpu_flags():
    with open("/proc/cpuinfo") as f:
        return next((line for line in f if line.startswith("flags")), "").split()


@pytest.mark.parametrize("isa", ["avx512", "avx2", "native"])
def test_bf16_training_says_when_it_is_slower_than_fp32(rlhf_bin, world, tmp_path, isa):
    flags = cpu_flags()
    avx512_core = all(f in flags for f in ("avx512f", "avx512bw", "avx512vl", "avx512dq"))
    if "avx_ne_convert" in flags and not avx512_core:
        pytest.skip("oneDNN's bf16 kernels through AVX-NE-CONVERT: a case this test does not cover")
    native_bf16 = "avx512_bf16" in flags or "amx_bf16" in flags
    # oneDNN converting every bf16 product (AVX-512 without bf16 arithmetic: the cap avx512 hides AVX512-BF16) made
    # training about 2x slower than fp32 without a word; with bf16 hardware, or fp32 products (avx2), it costs no time.
    slower = avx512_core and (isa == "avx512" or (isa == "native" and not native_bf16))
    result = subprocess.run([str(rlhf_bin), "--threads", "1", "sft", "--model_name_or_path", str(world["base"]),
                             "--dataset", str(world["files"]["sft"]), "--max_steps", "2", "--dtype", "bfloat16",
                             "--output_dir", str(tmp_path / "run"), *COMMON],
                            capture_output=True, text=True, timeout=600, env={**ENV, "RLHF_CPU_ISA": isa})
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if line.startswith("note: --dtype bfloat16")]
    print("\n" + "\n".join(notes))
    assert len(notes) == (1 if slower else 0), result.stderr
    if slower:
        assert "trains about 2x slower than float32 on this CPU" in notes[0]


# ------------------------------------------------------------------------------------------------ degenerate data

def test_an_empty_prompt_to_generate_is_an_error(rlhf_bin, world):
    result = rlhf(rlhf_bin, "generate", "--model", world["base"], "--prompt", "What is", "--prompt", "",
                  "--max_new_tokens", "4", "--device", "cpu")
    message = result.stderr.strip().splitlines()[-1]
    print("\n" + message)
    assert result.returncode == 1, result.stderr
    # It sampled from padding alone (or failed in torch's select()).
    assert message == ("error: generate: prompt 2 (--prompt, then --prompts, in order): expected text of at least one "
                       "token in the raw format, found an empty prompt (give some text, or a --prompt_format that adds "
                       "a template)")



def test_comparisons_of_identical_responses_are_counted_and_left_out(rlhf_bin, world, tmp_path):
    rows = [json.loads(line) for line in world["files"]["rankings"].read_text().splitlines()][:16]
    pairs = [{"prompt": "What is 1 plus 1?", "chosen": "2.", "rejected": "3."},
             {"prompt": "What is 1 plus 2?", "chosen": "3.", "rejected": "3."}]           # chosen = rejected
    rows[0] = {"prompt": rows[0]["prompt"], "responses": ["1.", "1.", "2.", "4."], "ranking": [0, 2, 1, 3]}
    path = write(tmp_path / "rankings.jsonl", "".join(json.dumps(r) + "\n" for r in rows + pairs))
    out = tmp_path / "run"
    result = ok(rlhf(rlhf_bin, "rm", "--model_name_or_path", world["base"], "--dataset", path, "--max_length", "48",
                     "--per_device_train_batch_size", "4", "--output_dir", out, *COMMON))
    # Responses 0 and 1 of rows[0] are one text ranked 1st and 3rd: one comparison of six; the second pair has no other.
    notices = [line for line in result.stderr.splitlines() if "identical" in line]
    print("\n" + "\n".join(notices))
    assert notices == [f"rm: {path}: 2 comparisons between identical responses (chosen = rejected) left out"]
