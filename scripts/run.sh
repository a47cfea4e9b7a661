#!/usr/bin/env bash
# Installs every dependency, builds strongroom (release) and runs the S3
# server with embedded defaults: 127.0.0.1:9000, data in ./strongroom-data,
# the keyring in ./strongroom-keys.
#
# The first run creates the keyring with `strongroom init`: on a terminal it
# asks for a new passphrase (twice); otherwise it generates one and prints it
# once. Either way it prints the admin access key once. Every run then starts
# `strongroom serve`, which asks for the passphrase on a terminal; without one
# (no terminal, no STRONGROOM_PASSPHRASE) the server starts sealed and prints
# how to unseal it (`strongroom unseal`). A key directory that holds only a
# development key from an earlier version of this script keeps running in
# development mode (--dev). Running it again is safe: an existing keyring is
# never touched.
#
# Extra arguments go to `strongroom serve` (see `--help`); --data-dir,
# --key-dir and --config are passed to `init` too. Ctrl-C stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRONGROOM_BUILD_TESTS=OFF \
  -DSTRONGROOM_BUILD_BENCH=OFF >/dev/null
cmake --build build -j "$(nproc)" --target strongroom

bin=build/src/cli/strongroom
key_dir=strongroom-keys
dev=0
init_args=()
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  arg=${args[i]}
  case "$arg" in
    --data-dir|--key-dir|--config)
      value=${args[i + 1]:-}
      init_args+=("$arg" "$value")
      i=$((i + 1)) ;;
    --data-dir=*|--key-dir=*|--config=*)
      init_args+=("$arg")
      value=${arg#*=}
      arg=${arg%%=*} ;;
    --dev) dev=1; continue ;;
    *) continue ;;
  esac
  if [ "$arg" = --config ] && [ -r "$value" ]; then
    # Simple TOML lines only: key-dir = "..." and dev = true.
    from_config=$(sed -n 's/^[[:space:]]*key[-_]dir[[:space:]]*=[[:space:]]*"\(.*\)"[[:space:]]*$/\1/p' "$value" | tail -1)
    [ -n "$from_config" ] && key_dir=$from_config
    grep -Eq '^[[:space:]]*dev[[:space:]]*=[[:space:]]*true' "$value" && dev=1
  fi
  [ "$arg" = --key-dir ] && key_dir=$value
done
# A --key-dir flag wins over the config file, as in `strongroom serve`.
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --key-dir) key_dir=${args[i + 1]:-} ;;
    --key-dir=*) key_dir=${args[i]#*=} ;;
  esac
done

if [ "$dev" = 0 ] && [ ! -e "$key_dir/root.sealed" ]; then
  if [ -e "$key_dir/root.key" ]; then
    echo "note: $key_dir holds a development key (root.key) from an earlier run:" \
         "serving in development mode (--dev). Use new directories and 'strongroom init'" \
         "for a sealed keyring."
    set -- --dev "$@"
  else
    echo "First run: creating the keyring in $key_dir (strongroom init)."
    "$bin" init "${init_args[@]}"
    echo
  fi
fi

exec "$bin" serve "$@"
