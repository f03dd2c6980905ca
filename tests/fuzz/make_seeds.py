"""Writes the fuzz targets' seed corpora (tests/fuzz/corpus/TARGET/) and the fixed tokenizers of fuzz_tokenizer_encode
(tests/fuzz/data/) with the reference implementations: safetensors (checkpoints too), gguf, transformers' config
classes, HF tokenizers and sentencepiece. Seeds are valid files of each format, so the fuzzer starts from inside the
format. Run it with the project's venv Python when a format's reader learns something new; the outputs are committed.
"""
import gzip
import io
import json
import pathlib
import shutil

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
WORDS = ("the quick brown fox jumps over the lazy dog while 12 ducks and 345 geese watch; ünïcödé café naïve "
         "日本語 テキスト 🤗 emoji, tabs\tand\nnew lines. What is 3 plus 4? It is 7.").split(" ")
TEXTS = [" ".join(WORDS[i:] + WORDS[:i]) for i in range(len(WORDS))]


def target(name):
    folder = CORPUS / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def safetensors_seeds():
    from safetensors.numpy import save
    out = target("safetensors")
    rng = np.random.default_rng(0)
    (out / "f32.safetensors").write_bytes(save({"wte.weight": rng.standard_normal((4, 3)).astype(np.float32),
                                                "ln_f.bias": np.zeros(3, np.float32)}, metadata={"format": "pt"}))
    (out / "mixed.safetensors").write_bytes(save({"a": np.arange(6, dtype=np.int64).reshape(2, 3),
                                                  "b": np.ones((2, 2), np.float16), "c": np.array([1, 0], np.bool_),
                                                  "d": np.arange(5, dtype=np.uint8), "e": np.float64(2.5).reshape(()),
                                                  "f": np.zeros((0, 4), np.float32)}))
    (out / "empty.safetensors").write_bytes(save({}))


def checkpoint_seeds():
    """state.json, a NUL byte, then modules.safetensors, as a run training a Linear(3, 2) with AdamW writes them."""
    from safetensors.numpy import save
    out = target("checkpoint")
    rng = np.random.default_rng(0)
    state = {"epoch": 0, "micro_batch": 1, "metrics_lines": 2, "optimizer_steps": {"optimizer/0": 1, "optimizer/1": 1},
             "step": 2, "window_loss": 0.5, "window_steps": 1}
    tensors = {"model/weight": rng.standard_normal((2, 3)).astype(np.float32), "model/bias": np.zeros(2, np.float32),
               "optimizer/0/exp_avg": rng.standard_normal((2, 3)).astype(np.float32),
               "generator/sampling": np.arange(16, dtype=np.uint8)}
    (out / "good").write_bytes(json.dumps(state, indent=2).encode() + b"\0" + save(tensors))
    relabelled = dict(tensors, **{"model/weight": tensors["model/weight"].view(np.int32)})  # same bytes, I32
    damaged = dict(state, step=10.5, optimizer_steps={"optimizer/0": -1})
    (out / "damaged").write_bytes(json.dumps(damaged).encode() + b"\0" + save(relabelled))
    (out / "half-step").write_bytes(json.dumps(dict(state, step=10.5)).encode() + b"\0" + save(tensors))


def gguf_seeds():
    import gguf
    out = target("gguf")
    path = out / "model.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_uint8("test.u8", 7), writer.add_int8("test.i8", -7), writer.add_uint16("test.u16", 700)
    writer.add_int16("test.i16", -700), writer.add_uint32("test.u32", 70000), writer.add_int32("test.i32", -70000)
    writer.add_float32("test.f32", 0.5), writer.add_uint64("test.u64", 2**40), writer.add_int64("test.i64", -2**40)
    writer.add_float64("test.f64", 0.25), writer.add_bool("test.bool", True), writer.add_string("test.string", "ünï")
    writer.add_array("tokenizer.ggml.tokens", ["a", "b", "<s>"])
    writer.add_array("tokenizer.ggml.scores", [0.0, -1.0, -2.0])
    writer.add_array("tokenizer.ggml.token_type", [1, 1, 3])
    rng = np.random.default_rng(0)
    writer.add_tensor("token_embd.weight", rng.standard_normal((3, 32)).astype(np.float32))
    writer.add_tensor("output_norm.weight", np.ones(32, np.float16))
    q = gguf.quants.quantize(rng.standard_normal((2, 32)).astype(np.float32), gguf.GGMLQuantizationType.Q8_0)
    writer.add_tensor("output.weight", q, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    writer.write_header_to_file(), writer.write_kv_data_to_file(), writer.write_tensors_to_file()
    writer.close()


def config_seeds():
    import transformers
    out = target("model_config")
    configs = {
        "gpt2.json": transformers.GPT2Config(vocab_size=320, n_embd=32, n_layer=2, n_head=4, n_positions=128,
                                             eos_token_id=0, bos_token_id=0),
        "llama.json": transformers.LlamaConfig(vocab_size=320, hidden_size=64, intermediate_size=172,
                                               num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                               max_position_embeddings=256, eos_token_id=[2, 3], tie_word_embeddings=True,
                                               rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                             "high_freq_factor": 4.0,
                                                             "original_max_position_embeddings": 128}),
        "qwen2.json": transformers.Qwen2Config(vocab_size=320, hidden_size=64, intermediate_size=128,
                                               num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2),
    }
    for name, config in configs.items():
        config.architectures = [type(config).__name__.replace("Config", "") +
                                ("LMHeadModel" if name == "gpt2.json" else "ForCausalLM")]
        (out / name).write_text(config.to_json_string())


def yaml_seeds():
    out = target("options_yaml")
    (out / "stage.yaml").write_text("num_train_epochs: 3\nmax_steps: -1\nlearning_rate: 3e-4\nwarmup_ratio: 0.1\n"
                                    "quiet: true\noutput_dir: runs/sft  # a comment\n")
    (out / "quoted.yaml").write_text("---\noutput_dir: \"a: b\"\nquiet: off\nlearning_rate: .5\n...\n")
    (out / "anchors.yaml").write_text("output_dir: &dir runs/x\nmax_steps: 0x10\n")


def write_jsonl(path, rows, compress=False):
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    path.write_bytes(gzip.compress(text.encode()) if compress else text.encode())


def jsonl_seeds():
    out = target("jsonl")
    write_jsonl(out / "sft.jsonl", [{"prompt": t, "completion": t[::-1]} for t in TEXTS[:4]])
    write_jsonl(out / "chat.jsonl", [{"messages": [{"role": "system", "content": "Be brief."},
                                                   {"role": "user", "content": TEXTS[0]},
                                                   {"role": "assistant", "content": TEXTS[1]}]}])
    write_jsonl(out / "text.jsonl.gz", [{"text": t} for t in TEXTS[:3]], compress=True)
    write_jsonl(out / "rankings.jsonl", [
        {"prompt": "p", "responses": ["a", "b", "c", "d"], "ranks": [1, 2, 2, 3]},
        {"prompt": "p", "responses": ["a", "b", "c"], "ranking": [2, 0, 1]},
        {"prompt": "p", "chosen": "good", "rejected": "bad"},
        {"chosen": "\n\nHuman: hi\n\nAssistant: hello", "rejected": "\n\nHuman: hi\n\nAssistant: go away"}])
    write_jsonl(out / "prompts.jsonl", [{"prompt": t, "task": "add", "user": 3} for t in TEXTS[:2]])
    (out / "crows.csv").write_text('"",sent_more,sent_less,stereo_antistereo,bias_type,annotations\n'
                                   '0,"He is ""loud"".","She is loud.",stereo,gender,"[[\'gender\']]"\n')


def bpe_tokenizer(variant):
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    tokenizer = Tokenizer(models.BPE())
    if variant == "bytelevel":
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    elif variant == "split":
        tokenizer.normalizer = normalizers.NFC()
        split = Regex(r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                      r"\s*[\r\n]+|\s+(?!\S)|\s+")
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(split, "isolated"),
                                                           pre_tokenizers.ByteLevel(add_prefix_space=False,
                                                                                    use_regex=False)])
    else:
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                           pre_tokenizers.ByteLevel(add_prefix_space=True)])
    tokenizer.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>"] if variant != "split" else ["<|im_start|>", "<|im_end|>"]
    tokenizer.train_from_iterator(TEXTS * 3, trainers.BpeTrainer(vocab_size=300, special_tokens=specials,
                                                                 initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                                 show_progress=False))
    return tokenizer


def sentencepiece_model(model_type):
    import sentencepiece as spm
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(TEXTS * 20), model_writer=model, vocab_size=400 if model_type == "bpe" else 100,
                                   model_type=model_type, byte_fallback=model_type == "bpe",
                                   character_coverage=1.0, minloglevel=2,
                                   normalization_rule_name="identity")  # no 240 kB charsmap: small seeds
    return model.getvalue()


def tokenizer_seeds():
    out = target("tokenizer_json")
    for variant in ("bytelevel", "split", "digits"):
        (out / f"{variant}.json").write_text(bpe_tokenizer(variant).to_str())
    data = HERE / "data"
    data.mkdir(exist_ok=True)
    (data / "tokenizer.json").write_text(bpe_tokenizer("bytelevel").to_str())
    out = target("sentencepiece_model")
    for model_type in ("bpe", "unigram"):
        (out / f"{model_type}.model").write_bytes(sentencepiece_model(model_type))
    (data / "tokenizer.model").write_bytes(sentencepiece_model("bpe"))
    out = target("tokenizer_encode")
    for i, text in enumerate(["Hello world! 123", TEXTS[3], "<|endoftext|>a<|endoftext|>", "\xe9\n\t  x"]):
        for selector in (0, 1, 2, 5):
            (out / f"text-{i}-{selector}").write_bytes(bytes([selector]) + text.encode())
    (out / "invalid-utf8").write_bytes(b"\x00ab\xff\xfecd")


def arrow_seeds():
    """The readable Arrow files of tests/data/arrow (written there by write_fixtures.py with pyarrow)."""
    out = target("arrow_stream")
    for path in sorted((HERE.parent / "data" / "arrow").glob("*.arrow")):
        if not path.name.startswith("bad-"):
            shutil.copyfile(path, out / path.name)


if __name__ == "__main__":
    safetensors_seeds()
    checkpoint_seeds()
    gguf_seeds()
    config_seeds()
    yaml_seeds()
    jsonl_seeds()
    tokenizer_seeds()
    arrow_seeds()
    for folder in sorted(CORPUS.iterdir()):
        print(f"{folder.name}: {len(list(folder.iterdir()))} seeds")
