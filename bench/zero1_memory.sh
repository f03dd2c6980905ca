#!/bin/bash
# ZeRO-1 memory: 2 ranks on 127.0.0.1 (plain RANK/WORLD_SIZE variables), the 19.1M-parameter GPT-2 of
# bench/zero1_memory_setup.py, 3 SFT steps with and without --zero_stage 1; each rank prints the AdamW-moment bytes it
# holds and its peak RSS (VmHWM) at the end. Usage: $VENV/bin/python bench/zero1_memory_setup.py && bash bench/zero1_memory.sh
B=${RLHF_BUILD:-build}/rlhf
W=/tmp/zero1/world
for zero in 0 1; do
  port=$((29600 + zero))
  for rank in 0 1; do
    OMP_NUM_THREADS=1 RANK=$rank WORLD_SIZE=2 LOCAL_RANK=$rank MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
      "$B" sft --init_config $W/cfg/config.json --tokenizer $W/base --dataset $W/sft.jsonl --max_steps 3 \
        --per_device_train_batch_size 2 --max_length 48 --device cpu --quiet true --save_every_epoch false \
        --zero_stage $zero --output_dir /tmp/zero1/out-$zero 2>&1 | grep -E "AdamW|error" &
  done
  wait
done
