#!/usr/bin/env bash
# A short demonstration of file encryption with the strongroom command:
# encrypt, inspect, decrypt, and a tampering attempt. Installs and builds
# first, like scripts/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRONGROOM_BUILD_TESTS=OFF \
  -DSTRONGROOM_BUILD_BENCH=OFF >/dev/null
cmake --build build -j "$(nproc)" --target strongroom

S=$PWD/build/src/cli/strongroom
demo=$(mktemp -d)
trap 'rm -rf "$demo"' EXIT
cd "$demo"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

echo "strongroom demo in $demo (removed afterwards)"
head -c $((64 << 20)) /dev/urandom >photos.tar
step "$S" keygen demo.key
step "$S" encrypt --key-file demo.key -o photos.tar.sr photos.tar
step ls -l photos.tar photos.tar.sr
step "$S" inspect photos.tar.sr
step "$S" decrypt --key-file demo.key -o restored.tar photos.tar.sr
step cmp photos.tar restored.tar
echo "identical"

echo
echo "Now flip one byte in the middle of the ciphertext and try again:"
printf '\x01' | dd of=photos.tar.sr bs=1 seek=$((32 << 20)) conv=notrunc status=none
if "$S" decrypt --key-file demo.key -o tampered.tar photos.tar.sr; then
  echo "UNEXPECTED: tampering was not detected" >&2
  exit 1
fi
[ ! -e tampered.tar ] && echo "detected; no output file was created"

echo
echo "Passphrases work too (Argon2id): STRONGROOM_PASSPHRASE=... $S encrypt -o F.sr F"
echo "The binary is $S; '$S --help' lists every command."
