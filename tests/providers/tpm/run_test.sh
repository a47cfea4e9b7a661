#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ctest entry providers.tpm: starts a throwaway swtpm (start.sh), runs the
# TpmProvider test binary against it, always stops it (stop.sh --purge), and
# exits with the binary's status.
#
#   run_test.sh PATH/TO/tpm_provider_swtpm_test [gtest args...]
set -u
bin=${1:?usage: run_test.sh PATH/TO/tpm_provider_swtpm_test [gtest args...]}
shift
here=$(cd "$(dirname "$0")" && pwd)
for tool in swtpm tpm2_startup tpm2_pcrreset tpm2_getcap tpm2_changeauth; do
  command -v "$tool" >/dev/null || { echo "run_test.sh: $tool is not installed" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/strongroom-tpm.XXXXXX")
cleanup() {
  bash "$here/stop.sh" "$work/swtpm" --purge
  rm -rf "$work"
}
trap cleanup EXIT

if ! vars=$(bash "$here/start.sh" "$work/swtpm"); then
  echo "run_test.sh: swtpm did not start" >&2
  exit 1
fi
eval "$vars"
export SWTPM_TCTI SWTPM_PORT SWTPM_STATE="$work/swtpm" SWTPM_HARNESS="$here"
# ESAPI logs every TPM error it sees at level ERROR; the tests provoke many.
export TSS2_LOG=${TSS2_LOG:-all+none}
echo "run_test.sh: swtpm pid $SWTPM_PID on $SWTPM_TCTI, state $work/swtpm"

"$bin" "$@"
status=$?
echo "run_test.sh: test binary exited with $status"
exit $status
