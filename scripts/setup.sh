#!/usr/bin/env bash
# One idempotent set-up: Debian packages, then a Python venv (outside the clone, keyed by requirements.txt's hash) that holds
# torch (whose bundled LibTorch we build against) and the reference libraries the tests compare with.
# Prints the venv path as its last line. Quick the second time: every step checks before it acts.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"

apt_packages=(build-essential cmake ninja-build git python3-venv pkg-config
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libsentencepiece-dev sentencepiece libgtest-dev googletest libpcre2-dev zlib1g-dev libicu-dev)
# Gloo's headers (torch's own gloo is compiled into libtorch_cpu; ProcessGroupGloo.hpp includes gloo's headers):
# data-parallel training on CPU (src/train/distributed.cpp).
apt_packages+=(libgloo-dev)
# ccache: a fresh clone's Release and ASan builds each reuse the objects earlier builds of the same flags compiled
# (CMakeLists.txt; not each other's: their flags differ).
apt_packages+=(ccache)
# clang with its libFuzzer and sanitizer runtimes: `make fuzz` (tests/fuzz/README.md).
apt_packages+=(clang libclang-rt-14-dev)
# Headless Chromium renders the evaluation report in tests/python/test_report.py (about 120 MB; the test skips without it).
apt_packages+=(chromium)
missing=()
for p in "${apt_packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${missing[@]}" >&2
fi

python_bin="${RLHF_PYTHON:-$(command -v python3)}"
req="$here/requirements.txt"
hash=$(cat "$req" | sha256sum | cut -c1-12)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/rlhf.cpp"
venv="$cache/venv-$hash"
mkdir -p "$cache"
# Set-ups running side by side (several clones or worktrees) wait for one another instead of rebuilding one venv twice.
exec 8>"$cache/venv.lock"
flock 8
if [ ! -f "$venv/.complete" ]; then
  echo "setup: creating venv $venv (first time: downloads torch, a few minutes)" >&2
  rm -rf "$venv"
  mkdir -p "$cache"
  "$python_bin" -m venv "$venv" >&2
  "$venv/bin/pip" install -q --upgrade pip >&2
  PIP_CACHE_DIR="$cache/pip" "$venv/bin/pip" install -q -r "$req" >&2
  touch "$venv/.complete"
fi
exec 8>&-

# llama.cpp for the GGUF tests (tests/python/test_gguf_llama_cpp.py): llama-cpp-python compiles it from source, CPU only,
# without -march=native so the cached wheel suits any machine of this kind, without OpenMP so it shares the test process
# with torch's. 15-30 minutes on 2 cores the first time; then pip's wheel cache installs it in seconds. A failed build is
# not fatal (those tests skip with a message) and is not retried on every set-up; a lock keeps parallel set-ups to one build.
req_llama="$here/requirements-llama.txt"
llama_marker="$venv/.llama-$(sha256sum < "$req_llama" | cut -c1-12)"
if [ ! -f "$llama_marker" ] && [ ! -f "$llama_marker.failed" ]; then
  exec 9>"$cache/llama-build.lock"
  flock 9
  if [ ! -f "$llama_marker" ] && [ ! -f "$llama_marker.failed" ]; then
    echo "setup: installing $(grep -v '^#' "$req_llama" | xargs) (first time: builds llama.cpp from source, slow)" >&2
    if CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_CUDA=OFF -DGGML_OPENMP=OFF -DLLAVA_BUILD=OFF" CMAKE_BUILD_PARALLEL_LEVEL=2 \
       PIP_CACHE_DIR="$cache/pip" "$venv/bin/pip" install -q -r "$req_llama" >&2; then
      touch "$llama_marker"
    else
      echo "setup: warning: llama-cpp-python did not build; the llama.cpp tests will skip (rm $llama_marker.failed to retry)" >&2
      touch "$llama_marker.failed"
    fi
  fi
  exec 9>&-
fi
ln -sfn "$venv" "$cache/venv-current"
echo "$venv"
