#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Creates a throwaway SoftHSM2 token whose whole state lives under STATE_DIR
# (own softhsm2.conf, own token directory; /etc/softhsm and /var/lib/softhsm
# are never touched) and prints the `export` lines a test needs:
#   eval "$(bash start.sh STATE_DIR)"
# SoftHSM2 is a library loaded into the test process, so nothing keeps
# running: "start" is creating the token, stop.sh deletes it.
# Env in: PKCS11_MODULE (default /usr/lib/softhsm/libsofthsm2.so).
set -euo pipefail

state=${1:?usage: start.sh STATE_DIR}
module=${PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}

if [ ! -e "$module" ]; then
  echo "start.sh: no PKCS#11 module at $module (apt-get install softhsm2)" >&2
  exit 1
fi
if ! command -v softhsm2-util >/dev/null; then
  echo "start.sh: softhsm2-util not found (apt-get install softhsm2)" >&2
  exit 1
fi

mkdir -p "$state/tokens"
state=$(cd "$state" && pwd)
chmod 700 "$state"
touch "$state/.strongroom-softhsm"   # stop.sh deletes only directories carrying this

random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
label="sr-$(random_hex 6)"
pin=$(random_hex 8)
so_pin=$(random_hex 8)

cat > "$state/softhsm2.conf" <<CONF
directories.tokendir = $state/tokens/
objectstore.backend = file
log.level = ERROR
slots.removable = false
slots.mechanisms = ALL
library.reset_on_fork = false
CONF
export SOFTHSM2_CONF=$state/softhsm2.conf

# SoftHSM then moves the token to a slot with a random id: select by label.
softhsm2-util --init-token --free --label "$label" --so-pin "$so_pin" --pin "$pin" >/dev/null

# The token's own directory (one per token) is what a test renames to
# simulate pulling the token out.
mapfile -t token_dirs < <(find "$state/tokens" -mindepth 1 -maxdepth 1 -type d)
if [ "${#token_dirs[@]}" -ne 1 ]; then
  echo "start.sh: expected one token directory under $state/tokens, found ${#token_dirs[@]}" >&2
  exit 1
fi

umask 077
cat > "$state/env" <<ENV
export SOFTHSM2_CONF=$state/softhsm2.conf
export PKCS11_MODULE=$module
export PKCS11_TOKEN_LABEL=$label
export PKCS11_PIN=$pin
export PKCS11_SO_PIN=$so_pin
export PKCS11_TOKEN_DIR=${token_dirs[0]}
export PKCS11_STATE_DIR=$state
ENV
cat "$state/env"
