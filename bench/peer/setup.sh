#!/usr/bin/env bash
# The peers' venv: ~/.cache/rlhf.cpp/peer-<hash of requirements.txt>, seeing the project's venv (torch 2.11.0,
# transformers) through a .pth file so that both sides run the same torch. Idempotent; prints the venv's path.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
main_venv="$(bash "$here/../../scripts/setup.sh")"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/rlhf.cpp"
venv="$cache/peer-$(cat "$here/requirements.txt" "$main_venv/pyvenv.cfg" | sha256sum | cut -c1-12)"
if [ ! -f "$venv/.ready" ]; then
  "$main_venv/bin/python" -m venv "$venv"
  site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  main_site="$("$main_venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  echo "$main_site" > "$site/rlhf-main-venv.pth"
  PIP_CACHE_DIR="$cache/pip" "$venv/bin/pip" install -q -r "$here/requirements.txt" >&2
  touch "$venv/.ready"
fi
echo "$venv"
