"""Our tokenizers (through `rlhf tokenize`) against the real ones: HF `tokenizers` for byte-level BPE and `sentencepiece`
for tokenizer.model files, on tokenizers this test trains itself (GPT-2-style, Llama-3-style with its Split regex and
special tokens, Qwen2-style with NFC; SentencePiece BPE and unigram) and on GPT-2's real files.

Texts: HH-RLHF dialogues and CrowS-Pairs sentences from ../shared/data (skipped with a message when absent) plus
generated random Unicode (emoji, CJK, combining marks, long digit runs, whitespace runs, newlines). On every line our
ids equal the reference's, our decode equals the reference's decode, and decode(encode(x)) == x wherever the
reference round-trips. Our own BPE trainer's tokenizer.json must load in HF tokenizers and encode to our ids.
"""
import csv
import gzip
import json
import random
import time

import pytest
import sentencepiece as spm
import tokenizers
from tokenizers import Regex, decoders, models, normalizers, pre_tokenizers, processors, trainers

from conftest import SHARED, run_rlhf

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
QWEN2_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
DATA = SHARED / "data"


# ---------------------------------------------------------------------------------------------------------- texts

def shared_texts():
    if not DATA.exists():
        return []
    texts = []
    with gzip.open(DATA / "hh-rlhf" / "harmless-base-test-part1.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            texts += [row["chosen"], row["rejected"]]
    with open(DATA / "crows-pairs" / "crows_pairs_anonymized.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            texts += [row["sent_more"], row["sent_less"]]
    return texts


WORDS = ("the quick brown fox jumps over lazy dog it's THEY'LL we'VE I'm you'd don't Hello HELLO naïve café résumé "
         "Straße über ελληνικά русский язык עברית العربية हिन्दी ไทย 日本語 中文 한국어 ǅemal ﬁne ſtate").split()
EMOJI = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷", "❤️", "🤖", "🧑🏿‍🚀", "✌🏻", "🏳️‍🌈", "🙂"]
COMBINING = ["e\u0301", "a\u0308", "n\u0303", "\u0301", "o\u0302\u0323", "\u0915\u094d\u0937", "A\u030a", "\u1100\u1161",
             "\u0041\u0300\u0316", "\u05e9\u05c1"]
SPACES = [" ", "  ", "\t", "\n", "\r\n", "\n\n", "\u00a0", "\u3000", "\u2028", "\u0085", "\u200b", "\u2009", "\x0b"]
NUMBERS = ["²", "³", "¼", "Ⅻ", "٣٤", "۵", "१२", "௧", "①", "𝟙"]


def random_text(rng):
    parts = []
    for _ in range(rng.randint(1, 40)):
        kind = rng.randrange(11)
        if kind == 0:
            parts.append(rng.choice(EMOJI))
        elif kind == 1:
            parts.append("".join(chr(rng.choice([rng.randint(0x4E00, 0x9FA5), rng.randint(0x3041, 0x30FA),
                                                  rng.randint(0xAC00, 0xD7A3)])) for _ in range(rng.randint(1, 6))))
        elif kind == 2:
            parts.append(rng.choice(COMBINING))
        elif kind == 3:
            parts.append("".join(rng.choice("0123456789") for _ in range(rng.randint(1, 60))))
        elif kind == 4:
            parts.append("".join(rng.choice(SPACES) for _ in range(rng.randint(1, 12))))
        elif kind == 5:
            parts.append(rng.choice(NUMBERS))
        elif kind == 6:
            parts.append("".join(rng.choice("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") for _ in range(rng.randint(1, 5))))
        elif kind == 7:  # any character of the long-assigned planes (no surrogates, no noncharacters)
            parts.append("".join(chr(rng.choice([rng.randint(0x20, 0x2FFF), rng.randint(0xA000, 0xD7FF),
                                                  rng.randint(0xF900, 0xFFFD)])) for _ in range(rng.randint(1, 4))))
        else:
            parts.append(rng.choice(WORDS))
        if rng.random() < 0.6:
            parts.append(" ")
    return "".join(parts)


def random_texts(n, seed):
    rng = random.Random(seed)
    texts = [random_text(rng) for _ in range(n)]
    texts += ["", " ", "\n", "   leading", "trailing   ", "a" * 3000, " " * 500 + "x", "1" * 1000, "\u0085\u0085x",
              "x'ſ 'S 'LL 'Ve", "e\u0301\u0301 Å", "\r\n\r\n\t \u00a0\n"]
    return texts


@pytest.fixture(scope="module")
def corpus():
    texts = shared_texts()
    if not texts:
        print(f"note: {DATA} is absent; comparing on generated text only")
    return texts + random_texts(400, seed=12)


@pytest.fixture(scope="module")
def training_texts(corpus):
    # Tokenizers are trained on the shared real texts. Generated text alone is too exotic to train on (SentencePiece
    # refuses its alphabet, and HF's own round trip falls under the test's floor), so these tests skip without it.
    texts = shared_texts()
    if not texts:
        pytest.skip(f"{DATA} is absent: the trained-tokenizer comparisons need its real texts")
    return texts


@pytest.fixture(scope="module")
def hf_trained(training_texts, tmp_path_factory):
    """train(style) -> (tokenizer, tokenizer.json path), trained by HF tokenizers once per module."""
    cache = {}

    def train(style):
        if style not in cache:
            cache[style] = train_hf_bpe(training_texts, style, tmp_path_factory.mktemp(f"hf-{style}"))
        return cache[style]
    return train


def with_specials(texts, specials, seed):
    """Some texts with special tokens written into them (they must come out as single ids)."""
    rng = random.Random(seed)
    out = []
    for text in texts[:300]:
        cut = rng.randint(0, len(text))
        out.append(text[:cut] + rng.choice(specials) + text[cut:] + rng.choice(["", " ", "x"]) + rng.choice(specials))
    return out


# ------------------------------------------------------------------------------------------------------- helpers

def output_lines(result):
    # Not str.splitlines(): that also splits at U+2028 and U+0085, which our JSON output carries raw.
    return result.stdout.split("\n")[:-1]


def run_tokenize(rlhf_bin, tokenizer_path, texts=(), id_lists=(), skip_special=False):
    """One `rlhf tokenize --round_trip true` run (each run loads LibTorch, so the tests batch their questions):
    (ids, decoded) for each text, then the decoded text of each id list."""
    lines = [json.dumps({"text": t}, ensure_ascii=False) for t in texts]
    lines += [json.dumps({"ids": ids, "skip_special": skip_special}) for ids in id_lists]
    result = run_rlhf(rlhf_bin, "tokenize", "--tokenizer", tokenizer_path, "--round_trip", "true",
                      input="".join(line + "\n" for line in lines))
    rows = [json.loads(line) for line in output_lines(result)]
    assert len(rows) == len(lines)
    encoded, decoded = rows[:len(texts)], rows[len(texts):]
    return [r["ids"] for r in encoded], [r["decoded"] for r in encoded], [r["text"] for r in decoded]


def assert_same_ids(texts, ours, theirs, what):
    bad = [(t, o, r) for t, o, r in zip(texts, ours, theirs) if o != r]
    assert not bad, f"{what}: {len(bad)} of {len(texts)} lines differ; first: " + "; ".join(
        f"{t[:80]!r}: ours {o[:20]} vs ref {r[:20]}" for t, o, r in bad[:3])


def check_round_trip(texts, decoded, ref_decoded, what):
    """Our decode equals the reference's on every line; so decode(encode(x)) == x wherever the reference round-trips
    (nearly every line; SentencePiece's default unigram setup normalizes with NFKC and maps rare characters to <unk>,
    so it is exempt from the 90% floor)."""
    bad = [(t, d, r) for t, d, r in zip(texts, decoded, ref_decoded) if d != r]
    assert not bad, f"{what}: decode differs from the reference on {len(bad)} lines; first: {bad[0]!r}"
    round_trips = sum(r == t for t, r in zip(texts, ref_decoded))
    assert round_trips > 0.9 * len(texts) or what.startswith("sentencepiece unigram"), (what, round_trips, len(texts))


def train_hf_bpe(texts, style, tmp_path, vocab_size=1500):
    """A byte-level BPE trained by HF tokenizers: GPT-2-style, Llama-3-style (Split + ByteLevel(use_regex=false),
    special tokens, ignore_merges) or Qwen2-style (NFC, Qwen2 Split, ChatML tokens)."""
    tok = tokenizers.Tokenizer(models.BPE())
    specials = {"gpt2": ["<|endoftext|>"], "llama3": LLAMA3_SPECIALS, "qwen2": QWEN2_SPECIALS}[style]
    if style == "gpt2":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    else:
        pattern = LLAMA3_PATTERN if style == "llama3" else QWEN2_PATTERN
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])
    if style == "qwen2":
        tok.normalizer = normalizers.NFC()
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    if style == "llama3":  # names the BOS when no tokenizer_config.json does
        tok.post_processor = processors.TemplateProcessing(
            single="<|begin_of_text|> $A", special_tokens=[("<|begin_of_text|>", tok.token_to_id("<|begin_of_text|>"))])
    spec = json.loads(tok.to_str())
    if style == "llama3":
        spec["model"]["ignore_merges"] = True
    if style == "gpt2":  # the "a b" string form of merges, as tokenizers < 0.20 wrote them
        spec["model"]["merges"] = [" ".join(pair) if isinstance(pair, list) else pair for pair in spec["model"]["merges"]]
    tok = tokenizers.Tokenizer.from_str(json.dumps(spec))
    if style == "llama3":  # an ordinary added token with lstrip/rstrip, and one matched in normalized text
        tok.add_tokens([tokenizers.AddedToken("<mask>", lstrip=True, rstrip=True, normalized=False),
                        tokenizers.AddedToken("zebra crossing", normalized=True)])
    path = tmp_path / f"{style}-tokenizer.json"
    tok.save(str(path))
    return tok, path


# --------------------------------------------------------------------------------------------------------- tests

@pytest.mark.parametrize("style", ["gpt2", "llama3", "qwen2"])
def test_bpe_trained_by_hf_tokenizers(rlhf_bin, corpus, hf_trained, style):
    tok, path = hf_trained(style)
    specials = {"gpt2": ["<|endoftext|>"], "llama3": LLAMA3_SPECIALS + ["<mask>", " <mask> ", "zebra crossing"],
                "qwen2": QWEN2_SPECIALS}[style]
    texts = corpus + with_specials(corpus, specials, seed=3)
    theirs = [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]
    ours, decoded, skipped = run_tokenize(rlhf_bin, path, texts, id_lists=theirs[-50:], skip_special=True)
    assert_same_ids(texts, ours, theirs, f"{style}-style BPE")
    check_round_trip(texts, decoded, tok.decode_batch(theirs, skip_special_tokens=False), f"{style}-style BPE")
    assert skipped == tok.decode_batch(theirs[-50:], skip_special_tokens=True)


BYTE_LEVEL_NO_REGEX = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}
PRE_TOKENIZER_VARIANTS = {
    "byte_level_prefix_space": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
    "splits_merging": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious", "invert": False},
        {"type": "Split", "pattern": {"Regex": r"\p{N}"}, "behavior": "Contiguous", "invert": False},
        {"type": "Split", "pattern": {"Regex": r"[[:punct:]]"}, "behavior": "MergedWithNext", "invert": False},
        BYTE_LEVEL_NO_REGEX]},
    "splits_removing": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": r"\s+"}, "behavior": "Isolated", "invert": True},
        {"type": "Split", "pattern": {"Regex": r"[aeiou]"}, "behavior": "Removed", "invert": False},
        {"type": "Digits", "individual_digits": True},
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}]},
}


@pytest.mark.parametrize("variant", sorted(PRE_TOKENIZER_VARIANTS))
def test_pre_tokenizer_variants(rlhf_bin, corpus, hf_trained, tmp_path, variant):
    """Every Split behaviour, invert, Digits, Sequence and add_prefix_space, on a GPT-2-style vocabulary."""
    tok, _ = hf_trained("gpt2")
    spec = json.loads(tok.to_str())
    spec["pre_tokenizer"] = PRE_TOKENIZER_VARIANTS[variant]
    path = tmp_path / "variant.json"
    path.write_text(json.dumps(spec))
    reference = tokenizers.Tokenizer.from_file(str(path))
    texts = corpus[-450:] + corpus[:200]
    theirs = [e.ids for e in reference.encode_batch(texts, add_special_tokens=False)]
    assert_same_ids(texts, run_tokenize(rlhf_bin, path, texts)[0], theirs, variant)


def test_gpt2_real_files(rlhf_bin, corpus, shared_data):
    from transformers import GPT2TokenizerFast
    folder = shared_data / "gpt2-tokenizer"
    reference = GPT2TokenizerFast(str(folder / "vocab.json"), str(folder / "merges.txt"))
    texts = corpus + with_specials(corpus, ["<|endoftext|>"], seed=4)
    theirs = reference(texts, add_special_tokens=False)["input_ids"]
    # Random id sequences split characters anywhere: the lossy UTF-8 repair must match HF's (U+FFFD per maximal subpart).
    rng = random.Random(7)
    id_lists = [[rng.randrange(50257) for _ in range(rng.randint(1, 12))] for _ in range(300)]
    id_lists += [[rng.choice(range(124, 256)) for _ in range(rng.randint(1, 6))] for _ in range(300)]
    ours, decoded, random_decoded = run_tokenize(rlhf_bin, folder, texts, id_lists=id_lists)
    assert_same_ids(texts, ours, theirs, "GPT-2 vocab.json + merges.txt")
    check_round_trip(texts, decoded, reference.batch_decode(theirs, clean_up_tokenization_spaces=False), "GPT-2")
    assert random_decoded == reference.batch_decode(id_lists, clean_up_tokenization_spaces=False)


@pytest.mark.parametrize("model_type", ["bpe", "unigram"])
def test_sentencepiece(rlhf_bin, corpus, training_texts, tmp_path, model_type):
    prefix = tmp_path / f"sp-{model_type}"
    options = dict(model_type=model_type, vocab_size=1000, character_coverage=0.9995, num_threads=2,
                   input_sentence_size=4000, shuffle_input_sentence=True, max_sentence_length=1 << 16,
                   minloglevel=2, bos_id=1, eos_id=2, unk_id=0)
    if model_type == "bpe":  # Llama-2 style: bytes for unseen characters, no normalization, digits split
        options.update(byte_fallback=True, split_digits=True, normalization_rule_name="identity",
                       remove_extra_whitespaces=False, allow_whitespace_only_pieces=True)
    spm.SentencePieceTrainer.train(sentence_iterator=iter(training_texts), model_prefix=str(prefix), **options)
    path = prefix.with_suffix(".model")
    reference = spm.SentencePieceProcessor(model_file=str(path))
    texts = [t for t in corpus if "<s>" not in t and "</s>" not in t and "<unk>" not in t]
    theirs = reference.encode(texts)
    ours, decoded, _ = run_tokenize(rlhf_bin, path, texts)
    assert_same_ids(texts, ours, theirs, f"sentencepiece {model_type}")
    check_round_trip(texts, decoded, reference.decode(theirs), f"sentencepiece {model_type}")


def test_our_trained_tokenizer_loads_in_hf(rlhf_bin, corpus, training_texts, tmp_path):
    import transformers
    corpus_file = tmp_path / "corpus.jsonl"
    corpus_file.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in training_texts),
                           encoding="utf-8")
    out = tmp_path / "ours"
    run_rlhf(rlhf_bin, "train-tokenizer", "--input", corpus_file, "--output_dir", out, "--vocab_size", 2000,
             "--special_tokens", "<|endoftext|>,<|pad|>", "--pad_token", "<|pad|>")
    reference = tokenizers.Tokenizer.from_file(str(out / "tokenizer.json"))
    assert reference.get_vocab_size() == 2000
    texts = corpus + with_specials(corpus, ["<|endoftext|>", "<|pad|>"], seed=9)
    theirs = [e.ids for e in reference.encode_batch(texts, add_special_tokens=False)]
    ours, decoded, _ = run_tokenize(rlhf_bin, out, texts)
    assert_same_ids(texts, ours, theirs, "our trained tokenizer in HF tokenizers")
    assert decoded == reference.decode_batch(theirs, skip_special_tokens=False)
    fast = transformers.AutoTokenizer.from_pretrained(str(out))  # transformers reads the folder too
    assert (fast.eos_token, fast.pad_token) == ("<|endoftext|>", "<|pad|>")
    assert fast(texts[:20], add_special_tokens=False)["input_ids"] == ours[:20]
    # The most frequent adjacent pair of the corpus is the first merge (counted here independently, in Python).
    merges = json.loads((out / "tokenizer.json").read_text(encoding="utf-8"))["model"]["merges"]
    assert merges[0] == list(most_frequent_pair(training_texts))


def byte_level_alphabet():
    """GPT-2's byte -> printable character table: printable Latin-1 bytes stand for themselves, the rest take
    U+0100 onwards in byte order."""
    keep = [b for b in range(256) if ord("!") <= b <= ord("~") or 0xA1 <= b <= 0xAC or 0xAE <= b <= 0xFF]
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    assert sorted(table.values()) == sorted(pre_tokenizers.ByteLevel.alphabet())
    return table


def most_frequent_pair(texts):
    import regex
    gpt2 = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
    table = byte_level_alphabet()
    counts = {}
    for text in texts:
        for piece in gpt2.findall(text):
            data = piece.encode("utf-8")
            for a, b in zip(data, data[1:]):
                counts[(a, b)] = counts.get((a, b), 0) + 1
    (a, b), _ = max(counts.items(), key=lambda kv: kv[1])
    return table[a], table[b]


def test_bpe_training_speed(rlhf_bin, tmp_path):
    """~5 MB of varied text to a 8k vocabulary on one core: well under a minute (the demo trains its own)."""
    rng = random.Random(1)
    syllables = ["ka", "to", "ri", "ne", "mo", "sa", "lu", "pe", "di", "ga", "zo", "fi", "he", "wu", "ja", "qu"]
    vocabulary = ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 5))) for _ in range(30000)]
    lines, size = [], 0
    while size < 5_000_000:
        line = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(5, 30))) + rng.choice([".", "!", "?", ","])
        lines.append(json.dumps({"text": line}) + "\n")
        size += len(line)
    corpus_file = tmp_path / "big.jsonl"
    corpus_file.write_text("".join(lines))
    start = time.perf_counter()
    run_rlhf(rlhf_bin, "--threads", 1, "train-tokenizer", "--input", corpus_file, "--output_dir", tmp_path / "big",
             "--vocab_size", 8000)
    seconds = time.perf_counter() - start
    assert seconds < 30, f"training took {seconds:.1f} s"
    assert tokenizers.Tokenizer.from_file(str(tmp_path / "big" / "tokenizer.json")).get_vocab_size() == 8000


# ------------------------------------------------------------------------------------------------- chat templates

CHATML_TEMPLATE = (r"{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
                   r"{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
                   r"{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
                   r"{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
LLAMA3_TEMPLATE = (r"{% set loop_messages = messages %}{% for message in loop_messages %}"
                   r"{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
                   r"+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
                   r"{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
                   r"{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")
ZEPHYR_TEMPLATE = "\n".join([
    r"{% for message in messages %}", r"{% if message['role'] == 'user' %}",
    r"{{ '<|user|>\n' + message['content'] + eos_token }}", r"{% elif message['role'] == 'system' %}",
    r"{{ '<|system|>\n' + message['content'] + eos_token }}", r"{% elif message['role'] == 'assistant' %}",
    r"{{ '<|assistant|>\n'  + message['content'] + eos_token }}", r"{% endif %}",
    r"{% if loop.last and add_generation_prompt %}", r"{{ '<|assistant|>' }}", r"{% endif %}", r"{% endfor %}"])


@pytest.mark.parametrize("template", ["chatml", "llama3", "zephyr"])
def test_chat_templates_match_transformers(rlhf_bin, hf_trained, tmp_path, template):
    import transformers
    style = {"chatml": "qwen2", "llama3": "llama3", "zephyr": "gpt2"}[template]
    tok, path = hf_trained(style)
    folder = tmp_path / template
    folder.mkdir()
    (folder / "tokenizer.json").write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    if template == "zephyr":
        tok = tokenizers.Tokenizer.from_file(str(path))
        tok.add_special_tokens(["</s>"])
        tok.save(str(folder / "tokenizer.json"))
    config = {"chatml": dict(chat_template=CHATML_TEMPLATE, eos_token="<|im_end|>", bos_token=None),
              "llama3": dict(chat_template=LLAMA3_TEMPLATE, bos_token="<|begin_of_text|>", eos_token="<|eot_id|>"),
              "zephyr": dict(chat_template=ZEPHYR_TEMPLATE, bos_token="<|endoftext|>", eos_token="</s>")}[template]
    (folder / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "PreTrainedTokenizerFast", **config}))
    reference = transformers.PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"), **{
        k: v for k, v in config.items() if k != "chat_template"})
    reference.chat_template = config["chat_template"]
    pairs = [("What is 2+2?", "It is 4."), ("  Tell me a story\n", "Once upon a time..."),
             ("Über café 😀", "Ja, gern! 日本語"), ("multi\n\nline prompt", "\nleading newline")]
    lines = "".join(json.dumps({"prompt": p, "response": r}) + "\n" for p, r in pairs)
    out = run_rlhf(rlhf_bin, "tokenize", "--tokenizer", folder, "--prompt_format", "chat", input=lines)
    end_token = {"chatml": "<|im_end|>", "llama3": "<|eot_id|>", "zephyr": "</s>"}[template]
    for (prompt, response), line in zip(pairs, output_lines(out), strict=True):
        ours = json.loads(line)
        rendered = reference.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                                 add_generation_prompt=True)
        assert ours["prompt_ids"] == reference.encode(rendered, add_special_tokens=False), (template, rendered)
        # The response as the template writes it after the prompt (Llama-3's trims it), up to its end-of-turn token.
        whole = reference.apply_chat_template([{"role": "user", "content": prompt}, {"role": "assistant", "content": response}],
                                              tokenize=False)
        assert whole.startswith(rendered)
        written = whole[len(rendered):whole.index(end_token, len(rendered))]
        assert written == (response.strip() if template == "llama3" else response)
        expected_response = reference.encode(written, add_special_tokens=False) + [reference.convert_tokens_to_ids(end_token)]
        assert ours["response_ids"] == expected_response
        # A response that starts with a visible character tokenizes the same alone as after its prompt (the formats end
        # where the pre-tokenizer cuts anyway); one that starts with whitespace may not, which is why we encode apart.
        if not response[0].isspace():
            joint = reference.encode(rendered + response, add_special_tokens=False)
            assert ours["prompt_ids"] + ours["response_ids"][:-1] == joint


def test_bad_input_lines_name_the_line(rlhf_bin, hf_trained):
    _, path = hf_trained("gpt2")
    result = run_rlhf(rlhf_bin, "tokenize", "--tokenizer", path, input='{"text": "fine"}\n{"txt": "no"}\n', check=False)
    assert result.returncode != 0 and "stdin:2" in result.stderr, result.stderr
    assert result.stdout.count("\n") == 1
    result = run_rlhf(rlhf_bin, "tokenize", "--tokenizer", path, input='{"text": "fine"}\nnot json\n', check=False)
    assert result.returncode != 0 and "stdin:2" in result.stderr, result.stderr
