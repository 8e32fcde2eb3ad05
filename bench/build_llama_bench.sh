#!/usr/bin/env bash
# Build llama.cpp's `llama-bench` from the exact source llama-cpp-python vendors (outside the project tree).
# Usage: bench/build_llama_bench.sh [BUILD_ROOT]   (default: $SAGE_TUI_CACHE or ~/.cache/sage-tui, under llama-bench/)
set -euo pipefail
VERSION="$(python3 -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))' 2>/dev/null || echo 0.3.36)"
PY="${PYTHON:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/python}"
[ -x "$PY" ] && VERSION="$("$PY" -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))')"
ROOT="${1:-${SAGE_TUI_CACHE:-$HOME/.cache/sage-tui}/llama-bench}"
mkdir -p "$ROOT"
cd "$ROOT"
if [ ! -f "llama_cpp_python-$VERSION.tar.gz" ]; then
  # the sdist only (build dependencies stay wheels; metadata is not built)
  "$PY" -m pip download --no-deps --no-binary llama-cpp-python --no-build-isolation "llama-cpp-python==$VERSION" -d . \
    || "$PY" -m pip download --no-deps --no-binary llama-cpp-python "llama-cpp-python==$VERSION" -d .
fi
[ -d "llama_cpp_python-$VERSION" ] || tar xzf "llama_cpp_python-$VERSION.tar.gz"
SRC="$ROOT/llama_cpp_python-$VERSION/vendor/llama.cpp"
cmake -S "$SRC" -B build -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=ON >/dev/null
cmake --build build --target llama-bench -j "${JOBS:-2}"
echo "$ROOT/build/bin/llama-bench"
