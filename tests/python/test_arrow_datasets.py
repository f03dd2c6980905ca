"""`--dataset_name` on folders that Hugging Face `datasets` wrote with save_to_disk (the real package, in the venv).

- A DatasetDict of each kind of TRL data, saved in several shards of several record batches each (datasets' own writer,
  its batch size made small), trains exactly as the same rows exported by `datasets`' own to_json: `rlhf sft` and
  `rlhf rm` log the same per-step losses and evaluation metrics (metrics.jsonl) on both. The rows hold conversational
  `messages` (multi-turn), prompt-completion rows beside them (the columns a row lacks are None), unicode, and
  chosen/rejected as strings and as message lists (with and without a `prompt` list).
- A save_to_disk Dataset (not a dict) is the training split; a shard cut short or damaged is a clear error naming the
  file, never a crash.
"""
import json
import shutil

import pyarrow as pa
import pytest

datasets = pytest.importorskip("datasets")  # requirements.txt has it: make setup installs it

from test_stages_cli import COMMON, run_rlhf, world  # noqa: F401 (world: a fixture)
from test_trl_configs import models, read_jsonl, run  # noqa: F401 (models: a fixture)

datasets.disable_progress_bars()
UNICODE = " — ünïcödé 日本語 🤗"


def user(text):
    return {"role": "user", "content": text}


def assistant(text):
    return {"role": "assistant", "content": text}


def save_both(tmp_path, name, splits, monkeypatch, **save_options):
    """`splits` (name -> rows) saved by DatasetDict.save_to_disk into NAME-arrow, and the same rows, read back with
    load_from_disk, exported by Dataset.to_json into NAME-jsonl/SPLIT.jsonl. Record batches of 4 rows: datasets writes
    batches of config.DEFAULT_MAX_BATCH_SIZE rows (1,000), which tiny data would never split."""
    monkeypatch.setattr(datasets.config, "DEFAULT_MAX_BATCH_SIZE", 4)
    arrow, jsonl = tmp_path / f"{name}-arrow", tmp_path / f"{name}-jsonl"
    datasets.DatasetDict({s: datasets.Dataset.from_list(rows) for s, rows in splits.items()}).save_to_disk(
        str(arrow), **save_options)
    saved = datasets.load_from_disk(str(arrow))
    jsonl.mkdir()
    for split in splits:
        assert saved[split].to_list() == splits[split]  # what was saved is what was meant
        saved[split].to_json(str(jsonl / f"{split}.jsonl"), force_ascii=False)
    return arrow, jsonl


def batches_per_file(folder):
    """Record batches in each .arrow file of a save_to_disk split folder, read by pyarrow."""
    counts = {}
    for path in sorted(folder.glob("*.arrow")):
        with pa.OSFile(str(path)) as source:
            counts[path.name] = sum(1 for _ in pa.ipc.open_stream(source))
    return counts


def logged(path):
    """Per step: the losses and metrics metrics.jsonl holds (timings left out)."""
    keep = ("loss", "accuracy", "margin", "grad_norm", "num_tokens", "learning_rate", "epoch")
    return [{k: v for k, v in line.items() if k == "step" or any(word in k for word in keep)}
            for line in read_jsonl(path / "metrics.jsonl")]


def sft_rows(world):
    """Every third row a multi-turn conversation, every third a two-turn one, the rest prompt-completion with unicode;
    every row holds every column, None where it has none (what datasets stores for a mixed dataset)."""
    rows = []
    for i, r in enumerate(read_jsonl(world["files"]["sft"])):
        if i % 3 == 0:
            messages = [user(r["prompt"]), assistant("Let me see."), user("Please answer" + UNICODE),
                        assistant(r["completion"])]
            rows.append({"prompt": None, "completion": None, "messages": messages})
        elif i % 3 == 1:
            rows.append({"prompt": r["prompt"] + UNICODE, "completion": r["completion"], "messages": None})
        else:
            rows.append({"prompt": None, "completion": None, "messages": [user(r["prompt"]), assistant(r["completion"])]})
    return rows


def train_on_both(rlhf_bin, stage, arrow, jsonl, tmp_path, args):
    """`rlhf STAGE` on the saved folder and on its JSONL export; the metrics each logged."""
    for name, folder in (("from-arrow", arrow), ("from-jsonl", jsonl)):
        run_rlhf(rlhf_bin, stage, "--dataset_name", folder, "--output_dir", tmp_path / name, *args)
    return logged(tmp_path / "from-arrow"), logged(tmp_path / "from-jsonl")


def test_sft_on_a_saved_datasetdict_equals_its_jsonl_export(rlhf_bin, world, tmp_path, monkeypatch):
    rows = sft_rows(world)
    test_rows = [{"prompt": None, "completion": None, "messages": [user(r["prompt"]), assistant(r["completion"])]}
                 for r in read_jsonl(world["files"]["sft_eval"])]
    arrow, jsonl = save_both(tmp_path, "sft", {"train": rows[:60], "test": test_rows}, monkeypatch,
                             num_shards={"train": 3, "test": 1})
    assert list(batches_per_file(arrow / "train").values()) == [5, 5, 5]  # 3 shards of 20 rows, batches of 4
    args = ["--model_name_or_path", world["base"], "--prompt_format", "hh", "--assistant_only_loss", "true",
            "--max_length", "64", "--per_device_train_batch_size", "4", "--learning_rate", "3e-3", "--max_steps", "6",
            "--logging_steps", "1", "--eval_strategy", "steps", "--eval_steps", "3", *COMMON]
    from_arrow, from_jsonl = train_on_both(rlhf_bin, "sft", arrow, jsonl, tmp_path, args)
    assert [m["step"] for m in from_arrow if "loss" in m] == [1, 2, 3, 4, 5, 6]
    assert sum("eval/loss" in m for m in from_arrow) == 2
    assert from_arrow == from_jsonl


def preference_pairs(world):
    """TRL's preference pairs from the world's rankings: the best response against, in turn, each worse one."""
    pairs = []
    for n, r in enumerate(read_jsonl(world["files"]["rankings"])):
        order = sorted(range(len(r["responses"])), key=lambda i: r["ranks"][i])
        prompt = r["prompt"] + (UNICODE if n % 2 else "")
        pairs.append((prompt, r["responses"][order[0]], r["responses"][order[1 + n % 3]]))
    return pairs


@pytest.mark.parametrize("form", ["strings", "messages"])
def test_rm_on_a_saved_datasetdict_equals_its_jsonl_export(rlhf_bin, world, models, tmp_path, monkeypatch, form):
    """strings: {"prompt", "chosen", "rejected"} in shards of at most 1 KB. messages: chosen/rejected as message lists,
    the prompt implicit (their shared first message) in even rows and a message list in odd ones (None in the others)."""
    pairs = preference_pairs(world)
    if form == "strings":
        rows = [{"prompt": p, "chosen": c, "rejected": r} for p, c, r in pairs]
        options = {"max_shard_size": "1KB"}
    else:
        rows = [{"prompt": None, "chosen": [user(p), assistant(c)], "rejected": [user(p), assistant(r)]} if n % 2 == 0
                else {"prompt": [user(p)], "chosen": [assistant(c)], "rejected": [assistant(r)]}
                for n, (p, c, r) in enumerate(pairs)]
        options = {"num_shards": {"train": 3, "test": 2}}
    arrow, jsonl = save_both(tmp_path, "rm", {"train": rows[:64], "test": rows[64:]}, monkeypatch, **options)
    shards = batches_per_file(arrow / "train")
    assert len(shards) >= 3 and max(shards.values()) > 1, shards
    args = ["--model_name_or_path", models["sft"], "--prompt_format", "hh", "--max_length", "64",
            "--per_device_train_batch_size", "4", "--learning_rate", "1e-3", "--max_steps", "6", "--logging_steps", "1",
            "--eval_strategy", "steps", "--eval_steps", "3", *COMMON]
    from_arrow, from_jsonl = train_on_both(rlhf_bin, "rm", arrow, jsonl, tmp_path, args)
    assert [m["step"] for m in from_arrow if "loss" in m] == [1, 2, 3, 4, 5, 6]
    assert sum("eval/accuracy" in m for m in from_arrow) == 2
    assert from_arrow == from_jsonl


def test_a_saved_dataset_is_the_training_split_and_damage_is_a_clear_error(rlhf_bin, world, tmp_path):
    rows = read_jsonl(world["files"]["sft"])
    saved = tmp_path / "saved"
    datasets.Dataset.from_list(rows).save_to_disk(str(saved), num_shards=2)
    args = ["--model_name_or_path", world["base"], "--max_length", "48", "--per_device_train_batch_size", "4",
            "--max_steps", "1", "--device", "cpu", "--seed", "3"]  # not --quiet: the reader's summary is printed
    result = run(rlhf_bin, "sft", "--dataset_name", saved, "--output_dir", tmp_path / "out", *args)
    assert result.returncode == 0, result.stderr
    assert "data-00001-of-00002.arrow (2 files): 80 examples" in result.stderr, result.stderr  # both shards read

    shard = saved / "data-00001-of-00002.arrow"
    whole = shard.read_bytes()
    for n, damaged in enumerate([whole[:len(whole) // 2], whole[:-8], whole[:8] + b"\xff" * 16 + whole[24:], b""]):
        shard.write_bytes(damaged)
        result = run(rlhf_bin, "sft", "--dataset_name", saved, "--output_dir", tmp_path / f"damaged-{n}", *args)
        assert result.returncode == 1, (n, result.returncode, result.stderr)  # an error, not a signal
        assert f"{shard}: " in result.stderr and "expected" in result.stderr, (n, result.stderr)
    shard.write_bytes(whole)
    (saved / "state.json").write_text(json.dumps({"_data_files": [{"filename": "data-00002-of-00002.arrow"}]}))
    result = run(rlhf_bin, "sft", "--dataset_name", saved, "--output_dir", tmp_path / "missing", *args)
    assert result.returncode == 1 and "data-00002-of-00002.arrow, which is not in the folder" in result.stderr


def test_a_datasetdict_without_the_train_split_names_its_splits(rlhf_bin, world, tmp_path):
    rows = read_jsonl(world["files"]["sft"])[:8]
    saved = tmp_path / "saved"
    datasets.DatasetDict({"train_sft": datasets.Dataset.from_list(rows)}).save_to_disk(str(saved))
    args = ["--model_name_or_path", world["base"], "--max_length", "48", "--max_steps", "1", *COMMON]
    result = run(rlhf_bin, "sft", "--dataset_name", saved, "--output_dir", tmp_path / "out", *args)
    assert result.returncode == 1 and "found splits train_sft (set dataset_train_split)" in result.stderr, result.stderr
    result = run(rlhf_bin, "sft", "--dataset_name", saved, "--dataset_train_split", "train_sft",
                 "--output_dir", tmp_path / "out", *args)
    assert result.returncode == 0, result.stderr
    shutil.rmtree(saved)
