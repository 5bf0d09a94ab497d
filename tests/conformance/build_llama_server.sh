#!/usr/bin/env bash
# Builds a CPU llama-server from the pinned llama-cpp-python source package (PyPI), once per machine.
# The binary and the vocab/template files the suite needs are cached under $COT_PROXY_CACHE
# (default ~/.cache/cot-proxy/llama-<version>/); a second run finds them and does nothing.
# First build: about 11 minutes on 2 cores. Prints the cache folder on its last line.
set -euo pipefail

version="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
cache="${COT_PROXY_CACHE:-$HOME/.cache/cot-proxy}/llama-$version"
python="${PYTHON:-python3}"

if [ -x "$cache/bin/llama-server" ] && [ -f "$cache/.complete" ]; then
	echo "$cache"
	exit 0
fi

if ! command -v cmake >/dev/null || ! command -v g++ >/dev/null; then
	echo "build_llama_server: cmake and g++ are needed (apt-get install cmake g++)" >&2
	exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "build_llama_server: downloading llama-cpp-python $version (source package)" >&2
"$python" -m pip download --quiet --no-deps --no-binary :all: \
	"llama-cpp-python==$version" -d "$work" >&2
tar -xzf "$work/llama_cpp_python-$version.tar.gz" -C "$work"
src="$work/llama_cpp_python-$version/vendor/llama.cpp"

echo "build_llama_server: building llama-server (CPU) in $work, about 11 minutes on 2 cores" >&2
# No prebuilt web UI (it would be downloaded), no curl/openssl (no network use), portable code.
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
	-DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
	-DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DBUILD_SHARED_LIBS=OFF >&2
cmake --build "$work/build" --target llama-server -j "$(nproc)" >&2

mkdir -p "$cache/bin" "$cache/models"
cp "$work/build/bin/llama-server" "$cache/bin/"
# The vocab-only files the suite's tiny models take their tokenizers from (Qwen2/Qwen3, Qwen3.5).
cp "$src"/models/ggml-vocab-qwen2.gguf "$src"/models/ggml-vocab-qwen35.gguf "$cache/models/"
cp -r "$src/models/templates" "$cache/"
# e.g. "llama-cpp-python 0.3.36: version: 0.5.0-dev (build 1, commit 0c1e570)"
echo "llama-cpp-python $version: $("$cache/bin/llama-server" --version 2>&1 | grep '^version:')" >"$cache/VERSION"
touch "$cache/.complete"
echo "$cache"
