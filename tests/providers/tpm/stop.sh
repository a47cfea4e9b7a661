#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Stops the swtpm that start.sh started for STATE_DIR, by its recorded PID:
# TPM2_Shutdown(CLEAR) first (an orderly shutdown, else the next start counts
# as unorderly against dictionary-attack protection), then SIGTERM, then
# SIGKILL if it has not gone within 5 s. Keeps STATE_DIR/nv unless --purge.
#
#   stop.sh STATE_DIR [--purge]
set -uo pipefail
state=${1:?usage: stop.sh STATE_DIR [--purge]}
running() { [ -n "${1:-}" ] && ps -o stat= -p "$1" 2>/dev/null | grep -qv '^Z'; }

if [ -s "$state/swtpm.pid" ]; then
  pid=$(cat "$state/swtpm.pid")
  if running "$pid"; then
    if [ -s "$state/port" ]; then
      timeout 5 tpm2_shutdown -T "swtpm:host=127.0.0.1,port=$(cat "$state/port")" -c \
        >/dev/null 2>&1 || true
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do running "$pid" || break; sleep 0.1; done
    if running "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$state/swtpm.pid"
fi
if [ "${2:-}" = "--purge" ]; then rm -rf "$state"; fi
exit 0
