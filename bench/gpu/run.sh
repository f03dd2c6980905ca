#!/usr/bin/env bash
# Issue 13's GPU figures on a lent GPU machine, in one call: the rlhf binary built here (a CUDA build against the
# pinned torch 2.11.0 wheel) runs against that machine's own torch 2.11.0 libraries, beside transformers there and TRL
# carried as wheels. Prepare here with bench/gpu/prepare.sh, then on the machine:  bash bench/gpu/run.sh OUT_DIR
set -u
out=${1:?usage: bench/gpu/run.sh OUT_DIR}
mkdir -p "$out"
here=$(cd "$(dirname "$0")/../.." && pwd)
bundle=/tmp/rlhf-gpu
mkdir -p $bundle && tar -xJf "$here/.gpu/bundle.tar.xz" -C $bundle || exit 1
torch_lib=$(python3 -c "import os, torch; print(os.path.dirname(torch.__file__) + '/lib')")
export LD_LIBRARY_PATH=$bundle/lib:$torch_lib
rlhf=$bundle/rlhf
step() {  # step NAME SECONDS COMMAND...: its output in OUT/NAME.log, the last lines here
  local name=$1 seconds=$2; shift 2
  echo "== $name ($(date +%T))"
  timeout "$seconds" "$@" > "$out/$name.log" 2>&1
  echo "rc $? after $SECONDS s total"
  grep -v "Writing model\|it/s\]\|^\s*$" "$out/$name.log" | tail -n 14
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
ldd $rlhf | grep "not found"
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
step gemm 60 $rlhf bench --device cuda --gemm --gemm_sizes 2048,4096,8192 --gemm_dtypes bfloat16,float32
step gpt2-small 170 python3 bench/gpu/peers.py --rlhf $rlhf --shape gpt2-small --json "$out/gpt2-small.json"
# TRL 1.12.0 (the last with PPOTrainer) and datasets, carried as wheels; the machine's transformers first, else the
# project's pinned 4.57.6 stack (carried too).
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "$here"/.whl/*.whl
trl_args=(bench/peer/ppo_vs_trl.py --rlhf $rlhf --device cuda --shape gpt2-small --bf16 --threads 16
          --rollout_batch_size 64 --num_mini_batches 4 --prompt_length 32 --response_length 64 --iterations 2 5 --json)
PYTHONPATH=/tmp/site step trl 200 python3 "${trl_args[@]}"
if ! grep -q '"speedup"' "$out/trl.log"; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site-old "$here"/.whl/old/*.whl
  PYTHONPATH=/tmp/site-old:/tmp/site step trl-transformers-4.57 200 python3 "${trl_args[@]}"
fi
step qwen2-0.5b 200 python3 bench/gpu/peers.py --rlhf $rlhf --shape qwen2-0.5b --json "$out/qwen2-0.5b.json"
