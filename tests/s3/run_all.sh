#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Runs every end-to-end S3 client suite against a freshly started strongroom
# server (each suite starts its own on 127.0.0.1 with an ephemeral port) and
# prints one summary line:
#
#   s3 clients: N passed, N failed
#
# Exits non-zero if any test failed or errored (a missing client binary is a
# failure, never a skip). Needs the server binary (default
# build/src/cli/strongroom, override with STRONGROOM_BIN) and Debian's
# /usr/bin/python3 with python3-boto3, awscli, s3cmd, rclone, golang-go and
# golang-github-minio-minio-go-v7-dev.
#
# Usage: tests/s3/run_all.sh [suite ...]     e.g. tests/s3/run_all.sh test_boto3 test_ops
set -u

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${SR_PYTHON:-/usr/bin/python3}"
SUITE_TIMEOUT="${SR_SUITE_TIMEOUT:-900}"
SUITES=("$@")
if [ ${#SUITES[@]} -eq 0 ]; then
  SUITES=(test_boto3 test_awscli test_s3cmd test_rclone test_minio_go test_bad_input test_ops
          test_sse test_canary test_tamper test_lifecycle test_audit)
fi

LOGDIR="$(mktemp -d "${TMPDIR:-/tmp}/sr-s3-logs-XXXXXX")"
trap 'rm -rf "$LOGDIR"' EXIT

total_passed=0
total_failed=0
failed_suites=()
started=$(date +%s)

for suite in "${SUITES[@]}"; do
  suite="${suite%.py}"
  suite="${suite##*/}"
  log="$LOGDIR/$suite.log"
  echo "=== $suite"
  suite_started=$(date +%s)
  (cd "$HERE" && timeout --signal=TERM --kill-after=30 "$SUITE_TIMEOUT" \
      "$PYTHON" -m unittest -v "$suite") >"$log" 2>&1
  rc=$?
  cat "$log"
  # Count distinct tests: "Ran N tests" minus the distinct failing tests
  # (a test with several failing subtests counts once; setUpClass and
  # tearDownClass errors count as one failure each).
  read -r passed failed < <("$PYTHON" - "$log" "$rc" <<'EOF'
import re, sys
text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
rc = int(sys.argv[2])
ran = sum(int(n) for n in re.findall(r"^Ran (\d+) tests?", text, re.M))
failing = set()
for kind, name, where in re.findall(r"^(FAIL|ERROR): (\S+) \(([^)]*)\)", text, re.M):
    failing.add((name, where))
failed_tests = {f for f in failing if f[0] not in ("setUpClass", "tearDownClass",
                                                      "setUpModule", "tearDownModule")}
failed = len(failing)
passed = max(ran - len(failed_tests), 0)
if rc != 0 and failed == 0:
    failed = 1  # crashed, timed out or failed to import
print(passed, failed)
EOF
)
  echo "=== $suite: $passed passed, $failed failed ($(( $(date +%s) - suite_started ))s, exit $rc)"
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
  if [ "$failed" -ne 0 ] || [ "$rc" -ne 0 ]; then
    failed_suites+=("$suite")
    [ "$failed" -eq 0 ] && total_failed=$((total_failed + 1))
  fi
done

echo
if [ ${#failed_suites[@]} -ne 0 ]; then
  echo "failing suites: ${failed_suites[*]}"
fi
echo "total time: $(( $(date +%s) - started ))s"
echo "s3 clients: $total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
