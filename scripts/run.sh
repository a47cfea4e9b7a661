#!/usr/bin/env bash
# Installs every dependency, builds strongroom (release) and runs the S3
# server with embedded defaults: 127.0.0.1:9000, data in ./strongroom-data,
# the root key in ./strongroom-keys (development key mode). On first start it
# prints the admin access key once, and how to point awscli at the server.
# Extra arguments go to `strongroom serve` (see `--help`). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRONGROOM_BUILD_TESTS=OFF \
  -DSTRONGROOM_BUILD_BENCH=OFF >/dev/null
cmake --build build -j "$(nproc)" --target strongroom

exec build/src/cli/strongroom serve "$@"
