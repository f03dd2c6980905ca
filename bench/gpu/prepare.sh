#!/usr/bin/env bash
# Here, before a GPU call (the GPU machine cannot download): packs what bench/gpu/run.sh needs into two folders that
# git ignores and the device call carries (carry: [".gpu", ".whl"]):
#   .gpu/bundle.tar.xz  build/rlhf (a CUDA build: the pinned torch wheel is cu130) and the Debian 12 libraries it
#                       links that the GPU machine's image lacks; torch's own libraries are that machine's (same 2.11.0)
#   .whl/               TRL 1.12.0 and datasets for bench/peer/ppo_vs_trl.py (Python 3.12 there), and in .whl/old the
#                       project's transformers 4.57.6 stack, used only if TRL fails with the machine's transformers
# Usage: make build && bash bench/gpu/prepare.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
for ignored in /.gpu/ /.whl/; do grep -qxF "$ignored" .git/info/exclude 2>/dev/null || echo "$ignored" >> .git/info/exclude; done
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/lib" .gpu .whl/old
cp build/rlhf "$stage/" && strip "$stage/rlhf"
for lib in libyaml-cpp.so.0.7 libsentencepiece.so.0 libicuuc.so.72 libicudata.so.72; do
  cp -L "/lib/x86_64-linux-gnu/$lib" "$stage/lib/"
done
tar -C "$stage" -cJf .gpu/bundle.tar.xz .
wheels() {  # wheels DIR NAME==VERSION...: for the GPU machine's CPython 3.12, without dependencies
  local dir=$1; shift
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d "$dir" "$@"
}
wheels .whl trl==1.12.0 datasets==4.7.0 dill==0.4.0 multiprocess==0.70.18 fsspec==2026.2.0
wheels .whl/old transformers==4.57.6 tokenizers==0.22.1 huggingface-hub==0.36.2
du -sh .gpu .whl
