"""The model and data of bench/zero1_memory.sh: the tiny world of tests/python/test_stages_cli.py (tokenizer, SFT
JSONL) and the config.json of a randomly initialised 19.1M-parameter GPT-2 (512 wide, 6 layers)."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "python"))
import transformers  # noqa: E402
from test_stages_cli import make_world  # noqa: E402

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/zero1/world")
root.mkdir(parents=True, exist_ok=True)
files, base, tokenizer = make_world(root)
config = transformers.GPT2Config(vocab_size=len(tokenizer), n_embd=512, n_layer=6, n_head=8, n_positions=128,
                                 bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id)
(root / "cfg").mkdir(exist_ok=True)
config.to_json_file(root / "cfg" / "config.json")
