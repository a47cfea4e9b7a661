#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Starts a software TPM 2.0 (swtpm, TCP socket mode) for the TPM provider tests.
#
#   start.sh STATE_DIR [PORT] [--no-startup]
#
# The TPM command channel listens on 127.0.0.1:PORT and the swtpm control
# channel on PORT+1. Without PORT a free pair is picked (and retried if
# another process wins the race). The TPM's NV state (seeds, PCR banks, DA
# counters) lives in STATE_DIR/nv, so stopping and starting again with the
# same STATE_DIR is a reboot of the same TPM: blobs sealed before still load.
#
# Unless --no-startup is given, the script sends TPM2_Startup(CLEAR) and
# relaxes dictionary-attack lockout (a test TPM must not lock itself for
# 17 minutes after a few unorderly stops). With --no-startup the TPM is left
# powered on but not started, the state a client's own Esys_Startup handles.
#
# On success prints shell assignments (eval them):
#   SWTPM_TCTI=swtpm:host=127.0.0.1,port=PORT SWTPM_PORT=PORT SWTPM_PID=PID
set -euo pipefail

state=${1:?usage: start.sh STATE_DIR [PORT] [--no-startup]}
shift
port=""
startup=1
for arg in "$@"; do
  case $arg in
    --no-startup) startup=0 ;;
    *[!0-9]*|'') echo "start.sh: bad argument '$arg'" >&2; exit 2 ;;
    *) port=$arg ;;
  esac
done

command -v swtpm >/dev/null || { echo "start.sh: swtpm is not installed" >&2; exit 1; }
mkdir -p "$state/nv"
state=$(cd "$state" && pwd)

# A process counts as running unless it is gone or a zombie (PID 1 on this
# machine reaps late, and kill -0 succeeds on zombies).
running() { [ -n "${1:-}" ] && ps -o stat= -p "$1" 2>/dev/null | grep -qv '^Z'; }
port_busy() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
pick_port() {
  local p
  for _ in $(seq 1 50); do
    p=$(( (RANDOM % 20000) + 30000 ))
    if ! port_busy "$p" && ! port_busy $((p + 1)); then echo "$p"; return 0; fi
  done
  return 1
}

if [ -s "$state/swtpm.pid" ] && running "$(cat "$state/swtpm.pid")"; then
  echo "start.sh: swtpm already running for $state (pid $(cat "$state/swtpm.pid"))" >&2
  exit 1
fi
rm -f "$state/swtpm.pid"

started=0
for attempt in 1 2 3 4 5; do
  p=${port:-$(pick_port)} || { echo "start.sh: no free port pair" >&2; exit 1; }
  # not-need-init: no CMD_INIT on the control channel is needed before the
  # first command. No startup-* flag: TPM2_Startup is sent below, or by the
  # client (--no-startup).
  if swtpm socket --tpm2 \
      --tpmstate dir="$state/nv" \
      --server type=tcp,port="$p",bindaddr=127.0.0.1 \
      --ctrl type=tcp,port=$((p + 1)),bindaddr=127.0.0.1 \
      --flags not-need-init \
      --pid file="$state/swtpm.pid" \
      --log file="$state/swtpm.log",level=1 \
      --daemon 2>>"$state/swtpm.log"; then
    for _ in $(seq 1 100); do
      if [ -s "$state/swtpm.pid" ] && ss -Hltn "sport = :$p" 2>/dev/null | grep -q 127.0.0.1; then
        started=1; break
      fi
      sleep 0.05
    done
  fi
  [ $started = 1 ] && break
  if [ -s "$state/swtpm.pid" ] && running "$(cat "$state/swtpm.pid")"; then
    kill -TERM "$(cat "$state/swtpm.pid")" || true
  fi
  rm -f "$state/swtpm.pid"
  [ -n "$port" ] && break   # a fixed port that failed: do not wander off
done
[ $started = 1 ] || { echo "start.sh: swtpm did not start; see $state/swtpm.log" >&2; exit 1; }
echo "$p" >"$state/port"
tcti="swtpm:host=127.0.0.1,port=$p"

if [ $startup = 1 ]; then
  # TPM2_RC_INITIALIZE (already started) is fine.
  tpm2_startup -T "$tcti" -c >/dev/null 2>&1 || true
  tpm2_dictionarylockout -T "$tcti" --clear-lockout >/dev/null 2>&1 ||
    echo "start.sh: warning: could not clear DA lockout" >&2
  tpm2_dictionarylockout -T "$tcti" --setup-parameters --max-tries=1000 --recovery-time=1 \
    --lockout-recovery-time=1 >/dev/null 2>&1 ||
    echo "start.sh: warning: could not relax DA parameters" >&2
fi

echo "SWTPM_TCTI=$tcti SWTPM_PORT=$p SWTPM_PID=$(cat "$state/swtpm.pid")"
