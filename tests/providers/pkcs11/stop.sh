#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Tears down what start.sh made. SoftHSM2 runs inside the process that loads
# it, so there is no daemon to stop: this deletes the token state (keys
# included), and only from a directory start.sh created.
set -euo pipefail

state=${1:?usage: stop.sh STATE_DIR}
if [ ! -d "$state" ]; then
  exit 0
fi
if [ ! -e "$state/.strongroom-softhsm" ]; then
  echo "stop.sh: $state was not made by start.sh; not deleting it" >&2
  exit 1
fi
rm -rf -- "$state"
echo "softhsm: token state under $state deleted"
