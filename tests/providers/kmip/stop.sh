#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Stops the PyKMIP server that start.sh STATE_DIR started (by its recorded
# PID only). Keeps certificates, database and port for a restart unless
# --purge is given, which also deletes STATE_DIR.
#
# PyKMIP stops cleanly on SIGINT (KeyboardInterrupt runs its shutdown, which
# also ends its two helper processes). SIGTERM only sets a flag its accept
# loop may not look at for a while, so it is the fallback, sent to the
# server's own process group (it runs under setsid: PGID = PID), then SIGKILL.
#
# --kill skips the orderly stop and SIGKILLs the group at once: a crash, as
# the outage tests want it. (An orderly stop waits up to 10 s for each client
# session that is still connected, with the listening socket still open.)
#
# Usage: bash stop.sh STATE_DIR [--purge] [--kill]
set -uo pipefail

STATE=${1:?usage: stop.sh STATE_DIR [--purge] [--kill]}
shift
PURGE= KILL=
for arg in "$@"; do
  case $arg in
    --purge) PURGE=1 ;;
    --kill) KILL=1 ;;
    *) echo "stop.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done
PIDFILE=$STATE/kmip.pid

group_alive() { # any non-zombie process left in process group $1
  ps -eo pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}

group_is_ours() { # every live member of group $1 is a pykmip-server process (forks keep the cmdline)
  local member any=
  for member in $(ps -eo pid=,pgid= | awk -v g="$1" '$2 == g { print $1 }'); do
    [ -r "/proc/$member/cmdline" ] || continue
    grep -q pykmip-server "/proc/$member/cmdline" 2>/dev/null || return 1
    any=1
  done
  [ -n "$any" ]
}

if [ -s "$PIDFILE" ]; then
  pid=$(cat "$PIDFILE")
  if [ -n "$KILL" ] && group_is_ours "$pid"; then
    kill -KILL -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do group_alive "$pid" || break; sleep 0.05; done
  elif group_is_ours "$pid"; then
    kill -CONT -- "-$pid" 2>/dev/null || true   # a test may have frozen it
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do group_alive "$pid" || break; sleep 0.1; done
    if group_alive "$pid" && group_is_ours "$pid"; then
      kill -TERM -- "-$pid" 2>/dev/null || true
      for _ in $(seq 1 30); do group_alive "$pid" || break; sleep 0.1; done
      if group_alive "$pid" && group_is_ours "$pid"; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
    fi
  fi
  rm -f "$PIDFILE"
fi
if [ -n "$PURGE" ]; then rm -rf "$STATE"; fi
exit 0
