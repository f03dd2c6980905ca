"""How far a frozen model held in bf16 (run under bf16 autocast, as PPO's reference and reward model are with
--dtype bfloat16) is from fp32: next-token log-probs of `rlhf forward --dtype bfloat16` against `rlhf forward` (fp32) and
against transformers in fp32, on a random model of a bench preset's shape (default: the ~25M Llama) saved by
transformers.

    $VENV/bin/python bench/bf16_accuracy.py --rlhf build/rlhf [--hidden 512 --layers 6 --heads 8 --vocab 8192]
"""
import argparse
import pathlib
import subprocess
import tempfile

import torch
import transformers
from safetensors.torch import load_file, save_file


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rlhf", required=True)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--vocab", type=int, default=8192)
    parser.add_argument("--rows", type=int, default=4)
    parser.add_argument("--length", type=int, default=128)
    a = parser.parse_args()
    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=a.vocab, hidden_size=a.hidden, intermediate_size=4 * a.hidden,
                                      num_hidden_layers=a.layers, num_attention_heads=a.heads,
                                      num_key_value_heads=a.heads, max_position_embeddings=512,
                                      tie_word_embeddings=True)
    model = transformers.LlamaForCausalLM(config).eval()
    ids = torch.randint(1, a.vocab, (a.rows, a.length))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        model.save_pretrained(tmp / "model")
        save_file({"input_ids": ids}, tmp / "in.safetensors")
        logprobs = {}
        for dtype in ("float32", "bfloat16"):
            subprocess.run([a.rlhf, "forward", "--model", tmp / "model", "--input", tmp / "in.safetensors", "--output",
                            tmp / f"{dtype}.safetensors", "--dtype", dtype], check=True)
            logprobs[dtype] = load_file(tmp / f"{dtype}.safetensors")["logits"].double().log_softmax(-1)
    with torch.no_grad():
        logprobs["transformers"] = model(input_ids=ids).logits.double().log_softmax(-1)
    targets = ids[:, 1:].unsqueeze(-1)
    token = {k: v[:, :-1].gather(-1, targets).squeeze(-1) for k, v in logprobs.items()}  # log p(next token)
    n = sum(p.numel() for p in model.parameters())
    print(f"random Llama, {n / 1e6:.1f}M parameters, {a.rows} x {a.length} tokens")
    for name, reference in (("rlhf fp32", token["float32"]), ("transformers fp32", token["transformers"])):
        for other in ("float32", "bfloat16"):
            if name == "rlhf fp32" and other == "float32":
                continue
            d = (token[other] - reference).abs()
            print(f"  rlhf {other:8s} vs {name:18s}: next-token log-prob |diff| max {d.max():.2e}, mean {d.mean():.2e}"
                  f"; summed over a {a.length}-token row: max {(token[other] - reference).sum(1).abs().max():.2e}")
    full = (logprobs["bfloat16"] - logprobs["float32"]).abs()
    print(f"  full log-softmax over the vocabulary, bf16 vs fp32: max {full.max():.2e}, mean {full.mean():.2e}")


if __name__ == "__main__":
    main()
