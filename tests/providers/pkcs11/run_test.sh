#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ctest entry providers.pkcs11: creates a throwaway SoftHSM2 token, runs the
# PKCS#11 provider tests against it and deletes it again, whatever happens.
#   run_test.sh TEST_BINARY [gtest arguments...]
# Exit status: the test binary's.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=${1:?usage: run_test.sh TEST_BINARY [gtest arguments...]}
shift

state=$(mktemp -d "${TMPDIR:-/tmp}/strongroom-pkcs11.XXXXXX")
cleanup() {
  if [ -e "$state/.strongroom-softhsm" ]; then
    bash "$here/stop.sh" "$state" >/dev/null || true
  else
    rmdir "$state" 2>/dev/null || true   # start.sh failed before creating anything
  fi
}
trap cleanup EXIT
trap "exit 130" INT
trap "exit 143" TERM

exports=$(bash "$here/start.sh" "$state")   # fails the script if start.sh fails
eval "$exports"
echo "run_test.sh: SoftHSM2 token '$PKCS11_TOKEN_LABEL' under $state (module $PKCS11_MODULE)"

status=0
"$bin" "$@" || status=$?
exit "$status"
