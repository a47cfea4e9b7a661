#!/usr/bin/env bash
# Installs every dependency, builds strongroom with AddressSanitizer and
# UBSan, and runs every test: the layering check, a short fuzzing run of each
# libFuzzer target, then all unit, vector, interop and end-to-end tests (ctest).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

jobs=$(nproc)
cmake -S . -B build-test -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSTRONGROOM_SANITIZE=ON \
  -DSTRONGROOM_BUILD_BENCH=ON
cmake --build build-test -j "$jobs"

echo "== layering check"
/usr/bin/python3 tools/check_layers.py

echo "== fuzz smoke run"
bash fuzz/run_fuzzers.sh "${STRONGROOM_FUZZ_SECONDS:-20}"

echo "== ctest"
ctest --test-dir build-test --output-on-failure -j "$jobs"
