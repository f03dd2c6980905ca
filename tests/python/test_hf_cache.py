"""`--model_name_or_path org/name` (and every command's `--model org/name`, `rlhf eval --model NAME=org/name`) finds a model already in the local Hugging
Face cache, offline, where huggingface_hub itself finds it: the hub layout (blobs, snapshots of symlinks, refs/main)
is built here by hand, and huggingface_hub's snapshot_download(local_files_only=True) is the reference."""
import hashlib
import json
import os

import huggingface_hub
import pytest
import transformers

from conftest import run_rlhf
from test_bad_input import small_model, world  # noqa: F401  (the module fixture)


def hub_cache_with(model_dir, cache, repo_id, revision="0123456789abcdef0123456789abcdef01234567"):
    """Puts model_dir's files into `cache` as huggingface_hub lays out a download: content-addressed blobs, a
    snapshot folder of relative symlinks to them, refs/main naming the snapshot."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "blobs").mkdir(parents=True)
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    for file in sorted(model_dir.iterdir()):
        data = file.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        (snapshot / file.name).symlink_to(os.path.relpath(blob, snapshot))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    return snapshot


def cached_tiny_model(world, tmp_path, monkeypatch):
    """A tiny GPT-2 folder, also in a Hub cache under HF_HOME as someone/tiny-gpt2; returns (folder, HF_HOME)."""
    model = small_model(world, tmp_path, "tiny")
    home = tmp_path / "hf-home"
    hub_cache_with(model, home / "hub", "someone/tiny-gpt2")
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    return model, home


def test_a_hub_id_in_the_local_cache_is_the_model_huggingface_hub_finds(rlhf_bin, world, tmp_path, monkeypatch):  # noqa: F811
    model = small_model(world, tmp_path, "tiny")
    home = tmp_path / "hf-home"
    snapshot = hub_cache_with(model, home / "hub", "someone/tiny-gpt2")
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    # huggingface_hub read HF_HOME when it was imported: the cache folder is passed as HF_HOME/hub would give it.
    reference = huggingface_hub.snapshot_download("someone/tiny-gpt2", local_files_only=True, cache_dir=home / "hub")
    assert os.path.realpath(reference) == os.path.realpath(snapshot)
    # The same folder as transformers opens offline by the same name.
    transformers.AutoModelForCausalLM.from_pretrained("someone/tiny-gpt2", local_files_only=True, cache_dir=home / "hub")

    result = run_rlhf(rlhf_bin, "generate", "--model", "someone/tiny-gpt2", "--prompt", "What is 1 plus 2?",
                      "--max_new_tokens", "4", "--do_sample", "false")
    assert f"someone/tiny-gpt2: found in the Hugging Face cache at {reference}" in result.stderr, result.stderr
    local = run_rlhf(rlhf_bin, "generate", "--model", str(model), "--prompt", "What is 1 plus 2?",
                     "--max_new_tokens", "4", "--do_sample", "false")
    assert result.stdout == local.stdout and json.loads(result.stdout.splitlines()[0])

    # HF_HUB_CACHE wins over HF_HOME, as in huggingface_hub.
    other = tmp_path / "elsewhere"
    hub_cache_with(model, other, "someone/tiny-gpt2", revision="f" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(other))
    result = run_rlhf(rlhf_bin, "generate", "--model", "someone/tiny-gpt2", "--prompt", "hi", "--max_new_tokens", "2")
    assert str(other / "models--someone--tiny-gpt2" / "snapshots" / ("f" * 40)) in result.stderr, result.stderr


def test_training_stages_take_a_hub_id_from_the_cache(rlhf_bin, world, tmp_path, monkeypatch):  # noqa: F811
    model, home = cached_tiny_model(world, tmp_path, monkeypatch)
    out = tmp_path / "sft"
    result = run_rlhf(rlhf_bin, "sft", "--model_name_or_path", "someone/tiny-gpt2", "--dataset",
                      world["files"]["sft"], "--output_dir", out, "--max_steps", "2",
                      "--per_device_train_batch_size", "4")
    assert "found in the Hugging Face cache" in result.stderr, result.stderr
    assert (out / "model.safetensors").exists()


def test_a_hub_id_in_no_cache_is_a_clear_error_and_nothing_is_downloaded(rlhf_bin, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    result = run_rlhf(rlhf_bin, "generate", "--model", "someone/absent-model", "--prompt", "hi", check=False)
    assert result.returncode != 0
    assert "error: someone/absent-model: expected a local model folder, or a Hub id already in the local Hugging " \
           "Face cache (" + str(tmp_path / "empty-home" / "hub") in result.stderr, result.stderr
    assert "huggingface-cli download someone/absent-model" in result.stderr
    # refs/main naming a snapshot that is not there.
    repo = tmp_path / "empty-home" / "hub" / "models--someone--absent-model"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    result = run_rlhf(rlhf_bin, "generate", "--model", "someone/absent-model", "--prompt", "hi", check=False)
    assert result.returncode != 0 and "refs/main naming snapshot abc123, which is missing" in result.stderr, result.stderr


def test_every_command_that_takes_a_model_takes_a_hub_id_from_the_cache(rlhf_bin, world, tmp_path, monkeypatch):  # noqa: F811
    """export, export-gguf, forward, chat-template, bench and `eval --model NAME=org/name` open the cached snapshot:
    what each writes from the Hub id is byte for byte what it writes from the folder itself."""
    model, home = cached_tiny_model(world, tmp_path, monkeypatch)
    ids = tmp_path / "ids.safetensors"
    from safetensors.torch import save_file
    import torch
    save_file({"input_ids": torch.tensor([[5, 6, 7, 8]], dtype=torch.int64)}, ids)
    line = json.dumps({"messages": [{"role": "user", "content": "hi"}],
                       "chat_template": "{% for m in messages %}{{ m['content'] }}{{ eos_token }}{% endfor %}"}) + "\n"
    for name, source in (("hub", "someone/tiny-gpt2"), ("local", str(model))):
        out = tmp_path / name
        out.mkdir()
        run_rlhf(rlhf_bin, "export", "--model", source, "--out", out / "hf")
        # general.name is the folder's name unless given
        run_rlhf(rlhf_bin, "export-gguf", "--model", source, "--out", out / "model.gguf", "--name", "tiny")
        run_rlhf(rlhf_bin, "forward", "--model", source, "--input", ids, "--output", out / "logits.safetensors")
        (out / "chat.txt").write_text(run_rlhf(rlhf_bin, "chat-template", "--model", source, input=line).stdout)
        bench = run_rlhf(rlhf_bin, "bench", "--generate", "--model", source, "--json", "--max_new_tokens", "2")
        opened = "models--someone--tiny-gpt2/snapshots/" if name == "hub" else str(model)
        assert opened in json.loads(bench.stdout)["generate"]["model"], bench.stdout[-500:]
        run_rlhf(rlhf_bin, "eval", "--model", f"tiny={source}", "--out", out / "report", "--real_data_items", "4",
                 "--batch_size", "2", "--quiet", "true")
    for file in ("hf/model.safetensors", "hf/config.json", "model.gguf", "logits.safetensors", "chat.txt"):
        assert (tmp_path / "hub" / file).read_bytes() == (tmp_path / "local" / file).read_bytes(), file
    hub, local = (json.loads((tmp_path / n / "report" / "summary.json").read_text())["real_data"]["tiny"]
                  for n in ("hub", "local"))
    assert "models--someone--tiny-gpt2/snapshots/" in hub.pop("dir") and local.pop("dir") == str(model)
    assert hub == local and "crows_pairs" in hub
