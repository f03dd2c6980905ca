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


# Jinja features one at a time, rendered by Jinja itself as transformers configures it (trim_blocks, lstrip_blocks,
# loop controls, its tojson, raise_exception) and by `rlhf chat-template`; a case Jinja refuses must be refused too.
FEATURES = [
    "{% for m in messages %}\n  {% if m.role == 'user' %}\n    U:{{ m.content }}\n  {% endif %}\n{% endfor %}\n",
    "a  {%- if true -%}  b  {%- endif -%}  c\n\n",
    "  {%+ if true %}x{% endif %}\n  {% if true %}y{% endif %}",
    "{# comment #}\n  {#- c -#}  x\n",
    "{% set x = 1 %}{% for m in messages %}{% set x = 2 %}{{ x }}{% endfor %}{{ x }}",
    "{% set ns = namespace(n=0, s='') %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}",
    "{% for m in messages %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.first }}/{{ loop.last }}/{{ loop.length }}/"
    "{{ loop.revindex }}/{{ loop.previtem is defined }};{% endfor %}",
    "{% for m in messages if m.role != 'system' %}{{ m.role }}{{ loop.index }}{% else %}none{% endfor %}",
    "{% for m in [] %}x{% else %}empty{% endfor %}",
    "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}"
    "{% endfor %}",
    "{{ 'a' + messages[0].content | trim + 'b' }}",
    "{{ not 1 == 2 }} {{ 1 + 2 * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} "
    "{{ 1.5 + 1 }} {{ 'ab' * 2 }}",
    "{{ messages[-1].role }} {{ messages[1:] | length }} {{ 'abcdef'[1:4] }} {{ 'abcdef'[::-1] }} {{ 'héllo'[:-1] }} "
    "{{ [1, 2, 3][::2] }} {{ messages[9] is defined }}",
    "{{ 'ell' in 'hello' }} {{ 'x' not in ['x'] }} {{ 'role' in messages[0] }} {{ 1 ~ 'a' ~ none ~ true }}",
    "{{ x is defined }} {{ none is none }} {{ 'a' is string }} {{ 1 is string }} {{ messages is iterable }} "
    "{{ messages[0] is mapping }} {{ 3 is odd }} {{ 4 is divisibleby 2 }} {{ x is not defined }} {{ 1 is number }}",
    "{{ x | default('d') }} {{ '' | default('e', true) }} {{ 'AbC' | upper }}{{ 'AbC' | lower }} {{ messages | length }} "
    "{{ 'hello world' | title }} {{ 'hello' | capitalize }} {{ messages | first | tojson }} {{ 'xyz' | last }}",
    "{{ messages[0] | tojson }} {{ {'a': [1, 2.5, none, true], 'b': 'é\"\\n'} | tojson(indent=2) }} {{ [] | tojson }}",
    "{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | join(', ') }} "
    "{{ messages | rejectattr('role', 'equalto', 'user') | list | length }} {{ [1, 2, 3] | reject('odd') | list }}",
    "{{ [1, 'a', none, true, 2.0, {'k': 'v'}] }} {{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 3 | string + 'x' }}",
    "{% for k, v in {'a': 1, 'b': 2} | items %}{{ k }}={{ v }};{% endfor %}{% for k, v in {'c': 3}.items() %}{{ k }}"
    "{{ v }}{% endfor %}{{ {'d': 4}.get('d') }}{{ {'d': 4}.get('e', 5) }}",
    "{{ '  x  '.strip() }}|{{ 'a,b'.split(',') }}|{{ 'abc'.startswith('ab') }}|{{ 'a b  c'.split() }}|"
    "{{ 'aXa'.replace('a', 'b') }}|{{ 'xxhixx'.strip('x') }}|{{ 'Hi'.upper() }}",
    "{{ 'yes' if messages else 'no' }} {{ 'y' if false }}|{{ messages[0]['role'] == messages[0].role }}",
    "{{ 'a' 'b' }} {{ \"q'\" }} {{ '\\u00e9\\x41\\t\\\\' }} {{ date_string }}",
    "{%- if messages[0].role == 'system' %}{%- set messages = messages[1:] %}{%- endif %}{{ messages | length }}",
    "{% generation %}kept{% endgeneration %}",
    "{{ undefined_thing.attr }}",
    "{{ 'a' + none }}",
    "{{ 1 + missing }}",
    "{{ raise_exception('Conversation roles must alternate') }}",
]


def test_jinja_features_render_as_jinja(rlhf_bin):
    from transformers.utils.chat_template_utils import _compile_jinja_template
    import jinja2
    messages = [SYSTEM, U1, A1, U2]
    lines, expected = [], []
    for template in FEATURES:
        variables = {"date_string": "7 Dec 2026"}
        try:
            expected.append(_compile_jinja_template(template).render(
                messages=messages, tools=None, documents=None, add_generation_prompt=False, **variables))
        except jinja2.TemplateError as e:  # UndefinedError is one
            expected.append(e)
        except TypeError as e:  # 'a' + none
            expected.append(e)
        lines.append(json.dumps({"messages": messages, "chat_template": template, "special_tokens": {},
                                 "variables": variables}, ensure_ascii=False))
    result = run_rlhf(rlhf_bin, "chat-template", input="".join(line + "\n" for line in lines))
    for template, want, line in zip(FEATURES, expected, output_lines(result), strict=True):
        ours = json.loads(line)
        if isinstance(want, Exception):
            assert "error" in ours, (template, "Jinja refused with", str(want), "we rendered", ours.get("text"))
            assert "chat_template:1:" in ours["error"], ours["error"]  # says where
            if isinstance(want, jinja2.TemplateError) and "raise_exception" in template:
                assert str(want) in ours["error"]
        else:
            assert ours.get("text") == want, (template, ours)


# SmolLM2's template with transformers' {% generation %} markers around each assistant reply (as templates written for
# TRL's assistant_only_loss have them): apply_chat_template(return_assistant_tokens_mask=True) marks those tokens.
GENERATION_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{% if message['role'] == 'assistant' %}{{ '<|im_start|>assistant\n' }}{% generation %}"
    "{{ message['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\n' }}"
    "{% else %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


def test_every_assistant_reply_is_trained_as_transformers_marks_it(rlhf_bin, tokenizer_json, tmp_path):
    import transformers
    folder = tmp_path / "generation"
    folder.mkdir()
    (folder / "tokenizer.json").write_text(tokenizer_json.read_text(encoding="utf-8"), encoding="utf-8")
    special = SPECIAL_TOKENS["smollm2"]
    (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": GENERATION_TEMPLATE, **special}))
    reference = transformers.PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"), **special)
    reference.chat_template = GENERATION_TEMPLATE
    conversations = [[U1, A1], [SYSTEM, U1, A1, U2, A2], [U1, A2, U2, A1, U1, A2]]
    lines = "".join(json.dumps({"messages": c, "assistant_mask": True}, ensure_ascii=False) + "\n" for c in conversations)
    result = run_rlhf(rlhf_bin, "tokenize", "--tokenizer", folder, "--prompt_format", "chat", input=lines)
    for conversation, line in zip(conversations, output_lines(result), strict=True):
        ours = json.loads(line)
        want = reference.apply_chat_template(conversation, tokenize=True, return_dict=True,
                                             return_assistant_tokens_mask=True)
        n = len(ours["ids"])
        assert ours["ids"] == want["input_ids"][:n]
        assert ours["assistant_mask"] == want["assistant_masks"][:n]
        assert sum(want["assistant_masks"][n:]) == 0 and reference.decode(want["input_ids"][n:]).strip() == ""
        assert sum(ours["assistant_mask"]) > 0


def test_conversational_data_through_sft_rm_and_ppo(rlhf_bin, tokenizer_json, tmp_path):
    """TRL's conversational formats in every stage with a model's chat template: SFT on multi-turn `messages`, the RM on
    `chosen`/`rejected` message lists (implicit prompt), PPO on `prompt` message lists, whose rollouts start with the
    template's rendering of each prompt (apply_chat_template(..., add_generation_prompt=True))."""
    import os
    import subprocess
    import torch
    import transformers
    from safetensors.torch import load_file

    name = "smollm2"
    base, reference = model_folder(tmp_path, tokenizer_json, name)
    torch.manual_seed(0)
    pad = reference.convert_tokens_to_ids("<|im_end|>")
    config = transformers.GPT2Config(vocab_size=reference.vocab_size, n_embd=32, n_layer=2, n_head=4, n_positions=256,
                                     bos_token_id=pad, eos_token_id=pad, pad_token_id=pad)
    transformers.GPT2LMHeadModel(config).save_pretrained(base)

    def user(text):
        return {"role": "user", "content": text}

    def assistant(text):
        return {"role": "assistant", "content": text}

    questions = [f"What is {a} plus {b}?" for a in range(4) for b in range(4)]
    sft = [{"messages": [user(q), assistant("Let me see."), user("Go on."), assistant(f"It is {len(q)}.")]} for q in questions]
    pairs = [{"chosen": [user(q), assistant("A number.")], "rejected": [user(q), assistant("No idea.")]} for q in questions]
    prompts = [{"prompt": [SYSTEM, user(q)], "id": i} for i, q in enumerate(questions[:8])]
    files = {}
    for key, rows in (("sft", sft), ("rm", pairs), ("ppo", prompts)):
        files[key] = tmp_path / f"{key}.jsonl"
        files[key].write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="passive")
    common = ["--device", "cpu", "--quiet", "true", "--seed", "1", "--prompt_format", "chat", "--max_length", "160",
              "--per_device_train_batch_size", "4", "--learning_rate", "1e-3"]

    def stage(*args):
        result = subprocess.run([str(rlhf_bin), *map(str, args), *common], capture_output=True, text=True, timeout=600,
                                env=env)
        assert result.returncode == 0, result.stderr
        return result

    stage("sft", "--model_name_or_path", base, "--dataset", files["sft"], "--output_dir", tmp_path / "sft",
          "--num_train_epochs", "1")
    stage("rm", "--model_name_or_path", tmp_path / "sft", "--dataset", files["rm"], "--output_dir", tmp_path / "rm",
          "--num_train_epochs", "1", "--normalize_dataset", files["sft"])
    # The RM's normalisation read the conversational demonstrations: transformers' RM on each (the conversation as
    # apply_chat_template writes it, up to the last reply's <|im_end|>) scores 0 on average once the offset is taken.
    offset = json.loads((tmp_path / "rm" / "reward_normalization.json").read_text())["offset"]
    rm = transformers.AutoModelForSequenceClassification.from_pretrained(tmp_path / "rm").eval()
    rewards = []
    for row in sft:
        ids = list(reference.apply_chat_template(row["messages"]))
        ids = ids[:len(ids) - ids[::-1].index(pad)]
        with torch.no_grad():  # <|im_end|> is also the pad token: the head is read at the last position by hand
            rewards.append(rm.score(rm.transformer(input_ids=torch.tensor([ids])).last_hidden_state)[0, -1, 0].item())
    assert abs(offset) > 1e-4
    assert sum(rewards) / len(rewards) - offset == pytest.approx(0.0, abs=1e-5)
    stage("ppo", "--sft_model_path", tmp_path / "sft", "--reward_model_path", tmp_path / "rm", "--dataset",
          files["ppo"], "--output_dir", tmp_path / "ppo", "--total_episodes", "8", "--rollout_batch_size", "8",
          "--num_mini_batches", "2", "--response_length", "6", "--save_rollouts", "true")
    rollout = load_file(tmp_path / "ppo" / "rollouts" / "iteration-1.safetensors")
    ids, mask, responses = rollout["ids"], rollout["mask"], rollout["response_ids"]
    prompt_width = ids.shape[1] - responses.shape[1]
    want = {tuple(reference.apply_chat_template(p["prompt"], add_generation_prompt=True)) for p in prompts}
    seen = {tuple(row[:prompt_width][m[:prompt_width] == 1].tolist()) for row, m in zip(ids, mask)}
    assert seen <= want and len(seen) >= 2, (seen, want)


@pytest.mark.parametrize("legacy", [False, True])
def test_sentencepiece_model_with_a_chat_template_encodes_as_llama_tokenizer(rlhf_bin, tmp_path, legacy):
    """A tokenizer.model folder (Mistral / Llama-2 style, no tokenizer.json) with Mistral v0.3's template: our ids are
    HF's LlamaTokenizer's for tokenizer_config.json's "legacy" either way. legacy: false (Mistral's and Llama-2-chat's
    configs) puts no "▁" after a special token (after "</s>" before "[INST]"); legacy: true does."""
    import sentencepiece as spm
    import transformers
    texts = [m["content"] for c in CONVERSATIONS for m in c] * 20 + ["the quick brown fox jumps over the lazy dog"] * 20
    folder = tmp_path / "sp"
    folder.mkdir()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts), model_prefix=str(folder / "tokenizer"), model_type="bpe", vocab_size=400,
        byte_fallback=True, split_digits=True, normalization_rule_name="identity", remove_extra_whitespaces=False,
        allow_whitespace_only_pieces=True, user_defined_symbols=["[INST]", "[/INST]"], bos_id=1, eos_id=2, unk_id=0,
        minloglevel=2)
    template = (TEMPLATES / "mistral-v0.3.jinja").read_text(encoding="utf-8")
    special = dict(bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "LlamaTokenizer", "chat_template": template, "legacy": legacy, "add_bos_token": False,
         **special}), encoding="utf-8")
    reference = transformers.LlamaTokenizer(vocab_file=str(folder / "tokenizer.model"), legacy=legacy,
                                            add_bos_token=False, **special)
    reference.chat_template = template
    cases = [(c, g) for c in CONVERSATIONS for g in (True, False)]
    lines = "".join(json.dumps({"messages": c, "add_generation_prompt": g}, ensure_ascii=False) + "\n" for c, g in cases)
    result = run_rlhf(rlhf_bin, "tokenize", "--tokenizer", folder, "--prompt_format", "chat", input=lines)
    rendered = 0
    for (conversation, generation_prompt), line in zip(cases, output_lines(result), strict=True):
        ours = json.loads(line)
        text, ids = reference_render(reference, conversation, generation_prompt)
        context = ([m["role"] for m in conversation], generation_prompt)
        if ids is None:
            assert "error" in ours and text in ours["error"], (context, ours)
            continue
        assert ours["text"] == text, context
        assert ours["ids"] == ids, (context, text)
        rendered += 1
    assert rendered >= 8
    # Plain text with special tokens inside, spaces around them and "▁" written out.
    plain = ["hello world", " leading space", "a</s>b", "x <s> y", "<s>What is 2+2?", "two  spaces</s>  after",
             "\u2581odd \u2581marks", "</s>", "ends with </s>", "[INST] Hi [/INST] Hello</s>[INST] Bye [/INST]"]
    lines = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in plain)
    result = run_rlhf(rlhf_bin, "tokenize", "--tokenizer", folder, input=lines)
    for text, line in zip(plain, output_lines(result), strict=True):
        assert json.loads(line)["ids"] == reference.encode(text, add_special_tokens=False), text
