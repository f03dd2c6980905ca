"""Chat templates rendered by our Jinja subset (src/tokenizer/jinja*.cpp, through `rlhf tokenize --prompt_format chat`)
against transformers' apply_chat_template, string for string and token for token, on the real chat templates of
Qwen2.5, Llama-3.1, Llama-3.2, Mistral v0.3, Gemma-2, Phi-3.5, SmolLM2 and Zephyr (tests/data/chat_templates, the
`chat_template` of each model's tokenizer_config.json), over conversations with and without a system message, one and
several turns, add_generation_prompt true and false. Where a template refuses a conversation (raise_exception: Gemma-2
has no system role, Mistral and Gemma-2 want alternating roles) we must refuse it too, with the template's message.

The tokenizer is a small byte-level BPE trained here, with every template's markers as special tokens, loaded by
transformers (PreTrainedTokenizerFast with the model's special tokens) and by us from the same folder.
"""
import json

import pytest
import tokenizers
from tokenizers import decoders, models, pre_tokenizers, trainers

from conftest import REPO, run_rlhf

TEMPLATES = REPO / "tests" / "data" / "chat_templates"

# The special tokens each model's tokenizer_config.json sets (transformers passes them to the template).
LLAMA3 = dict(bos_token="<|begin_of_text|>", eos_token="<|eot_id|>")
SPECIAL_TOKENS = {
    "qwen2.5": dict(eos_token="<|im_end|>", pad_token="<|endoftext|>"),
    "llama3.1": LLAMA3,
    "llama3.2": LLAMA3,
    "mistral-v0.3": dict(bos_token="<s>", eos_token="</s>", unk_token="<unk>"),
    "gemma2": dict(bos_token="<bos>", eos_token="<eos>", unk_token="<unk>", pad_token="<pad>"),
    "phi3.5": dict(bos_token="<s>", eos_token="<|endoftext|>", unk_token="<unk>", pad_token="<|endoftext|>"),
    "smollm2": dict(bos_token="<|im_start|>", eos_token="<|im_end|>", unk_token="<|endoftext|>", pad_token="<|im_end|>"),
    "zephyr": dict(bos_token="<s>", eos_token="</s>", unk_token="<unk>"),
}
MARKERS = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|begin_of_text|>", "<|start_header_id|>",
           "<|end_header_id|>", "<|eot_id|>", "<s>", "</s>", "<unk>", "[INST]", "[/INST]", "<bos>", "<eos>", "<pad>",
           "<start_of_turn>", "<end_of_turn>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]

SYSTEM = {"role": "system", "content": "You are terse.  Answer in one line.\n"}
U1 = {"role": "user", "content": "What is 2+2?"}
A1 = {"role": "assistant", "content": "  It is 4.\n"}
U2 = {"role": "user", "content": " Über café 😀 — and 日本語?\n\nTwo lines.\t"}
A2 = {"role": "assistant", "content": "Ja! Two\nlines.\u3000"}
CONVERSATIONS = [[U1], [SYSTEM, U1], [U1, A1], [SYSTEM, U1, A1], [U1, A1, U2], [SYSTEM, U1, A1, U2],
                 [U1, A1, U2, A2], [SYSTEM, U1, A1, U2, A2], [A1, U1], [U1, U2]]


def output_lines(result):
    return result.stdout.split("\n")[:-1]  # not splitlines(): U+2028 and U+0085 travel raw in our JSON


@pytest.fixture(scope="module")
def tokenizer_json(tmp_path_factory):
    texts = [m["content"] for c in CONVERSATIONS for m in c] * 20 + [
        "the quick brown fox jumps over the lazy dog", "Cutting Knowledge Date: December 2023 Today Date: 26 Jul 2024",
        "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.", "system user assistant model"] * 20
    tokenizer = tokenizers.Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=600, special_tokens=MARKERS,
                                                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    path = tmp_path_factory.mktemp("chat-tokenizer") / "tokenizer.json"
    tokenizer.save(str(path))
    return path


def model_folder(tmp_path, tokenizer_json, name):
    """A model folder as a Hub download has it: tokenizer.json and tokenizer_config.json with the chat_template."""
    import transformers
    template = (TEMPLATES / f"{name}.jinja").read_text(encoding="utf-8")
    folder = tmp_path / name
    folder.mkdir()
    (folder / "tokenizer.json").write_text(tokenizer_json.read_text(encoding="utf-8"), encoding="utf-8")
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "chat_template": template, **SPECIAL_TOKENS[name]}
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    reference = transformers.PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"),
                                                     **SPECIAL_TOKENS[name])
    reference.chat_template = template
    return folder, reference


def reference_render(reference, conversation, add_generation_prompt):
    """(text, ids) from apply_chat_template, or (the template's error message, None)."""
    import jinja2
    try:
        text = reference.apply_chat_template(conversation, tokenize=False, add_generation_prompt=add_generation_prompt)
    except jinja2.TemplateError as e:
        return str(e), None
    ids = reference.apply_chat_template(conversation, tokenize=True, add_generation_prompt=add_generation_prompt)
    return text, list(ids)


@pytest.mark.parametrize("name", sorted(SPECIAL_TOKENS))
def test_templates_render_as_transformers(rlhf_bin, tokenizer_json, tmp_path, name):
    folder, reference = model_folder(tmp_path, tokenizer_json, name)
    cases = [(c, g) for c in CONVERSATIONS for g in (True, False)]
    lines = "".join(json.dumps({"messages": c, "add_generation_prompt": g}, ensure_ascii=False) + "\n" for c, g in cases)
    result = run_rlhf(rlhf_bin, "tokenize", "--tokenizer", folder, "--prompt_format", "chat", input=lines)
    rendered = refused = 0
    for (conversation, generation_prompt), line in zip(cases, output_lines(result), strict=True):
        ours = json.loads(line)
        text, ids = reference_render(reference, conversation, generation_prompt)
        context = (name, [m["role"] for m in conversation], generation_prompt)
        if ids is None:
            assert "error" in ours, (context, "transformers refused with", text, "we rendered", ours.get("text"))
            assert text in ours["error"], (context, ours["error"])
            refused += 1
        else:
            assert "error" not in ours, (context, ours.get("error"))
            assert ours["text"] == text, context
            assert ours["ids"] == ids, context
            rendered += 1
    assert rendered >= 8  # every template renders most of the conversations (a template refusing all would pass)
    if name in ("gemma2", "mistral-v0.3"):
        assert refused > 0  # these templates do refuse some conversations: the comparison of errors ran


@pytest.mark.parametrize("name", sorted(SPECIAL_TOKENS))
def test_prompt_and_response_ids_match_the_rendered_conversation(rlhf_bin, tokenizer_json, tmp_path, name):
    """The prompt ids are apply_chat_template(add_generation_prompt=True)'s; prompt + response ids are the start of
    the whole conversation's ids, up to the template's end-of-turn marker (what follows it is whitespace or EOS)."""
    folder, reference = model_folder(tmp_path, tokenizer_json, name)
    pairs = [("What is 2+2?", "It is 4."), ("  Tell me a story\n", "Once upon a time..."),
             ("Über café 😀", "Ja, gern! 日本語")]
    lines = "".join(json.dumps({"prompt": p, "response": r}, ensure_ascii=False) + "\n" for p, r in pairs)
    result = run_rlhf(rlhf_bin, "tokenize", "--tokenizer", folder, "--prompt_format", "chat", input=lines)
    end_of_turn = {"qwen2.5": "<|im_end|>", "llama3.1": "<|eot_id|>", "llama3.2": "<|eot_id|>", "mistral-v0.3": "</s>",
                   "gemma2": "<end_of_turn>", "phi3.5": "<|end|>", "smollm2": "<|im_end|>", "zephyr": "</s>"}[name]
    for (prompt, response), line in zip(pairs, output_lines(result), strict=True):
        ours = json.loads(line)
        user = [{"role": "user", "content": prompt}]
        assert ours["prompt_ids"] == list(reference.apply_chat_template(user, add_generation_prompt=True)), name
        whole = list(reference.apply_chat_template(user + [{"role": "assistant", "content": response}]))
        ours_whole = ours["prompt_ids"] + ours["response_ids"]
        assert whole[:len(ours_whole)] == ours_whole, (name, reference.decode(whole), reference.decode(ours_whole))
        assert ours["response_ids"][-1] == reference.convert_tokens_to_ids(end_of_turn)
        rest = reference.decode(whole[len(ours_whole):])
        assert rest.strip() in ("", reference.eos_token), (name, rest)


def test_template_outside_the_subset_is_refused_naming_the_construct(rlhf_bin, tokenizer_json, tmp_path):
    folder = tmp_path / "macro"
    folder.mkdir()
    (folder / "tokenizer.json").write_text(tokenizer_json.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "chat_template": "{{ bos_token }}\n{% macro turn(m) %}[INST] {{ m }}{% endmacro %}{{ turn(messages[0]) }}"}))
    result = run_rlhf(rlhf_bin, "tokenize", "--tokenizer", folder, "--prompt_format", "chat",
                      input='{"prompt": "hi"}\n', check=False)
    assert result.returncode != 0
    assert "chat_template:2:1" in result.stderr and "macro" in result.stderr, result.stderr
