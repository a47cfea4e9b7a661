#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ctest entry providers.kmip: starts a PyKMIP server in a fresh temporary
# directory (start.sh), runs the provider test binary against it with the
# connection details in KMIP_* variables, and always stops the server and
# removes the directory (stop.sh --purge). Exits with the test's status.
#
# Usage: bash run_test.sh TEST_BINARY [gtest flags...]
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BINARY=${1:?usage: run_test.sh TEST_BINARY [gtest flags...]}
shift

STATE=$(mktemp -d "${TMPDIR:-/tmp}/strongroom-kmip.XXXXXX")
cleanup() {
  local rc=$?
  bash "$HERE/stop.sh" "$STATE" --purge
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

eval "$(bash "$HERE/start.sh" "$STATE")"
# The test stops, freezes and restarts the server itself through these.
export KMIP_START="$HERE/start.sh"
export KMIP_STOP="$HERE/stop.sh"

set +e
"$BINARY" "$@"
rc=$?
set -e
if [ "$rc" -ne 0 ] && [ -f "$KMIP_SERVER_LOG" ]; then
  echo "---- last lines of the PyKMIP server log ----" >&2
  tail -n 40 "$KMIP_SERVER_LOG" >&2
fi
exit "$rc"
