#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the libFuzzer targets (clang-14, ASan + UBSan) and runs each for SECONDS seconds on a
# copy of its seed corpus (fuzz/README.md). CI runs `fuzz/run_fuzzers.sh 20`.
#
#   fuzz/run_fuzzers.sh [SECONDS] [TARGET...]     # SECONDS defaults to 30; TARGET to all
#
# Environment:
#   FUZZ_BUILD_DIR     build directory (default: <repo>/build-fuzz)
#   FUZZ_CMAKE_ARGS    extra configure arguments, e.g. -DSTRONGROOM_WERROR=OFF
#   FUZZ_KEEP_WORKDIR  1 keeps the temporary corpus copies and logs even on success
#   CC, CXX            compilers (default clang-14, clang++-14)
#
# Exit status: 0 if no fuzzer found anything; 1 if any fuzzer crashed, hit an oracle, leaked,
# ran out of memory or timed out (the artifact paths are printed); 2 on usage or build errors.
# The seed corpus in the repository is never modified: new inputs go to the temporary copy.
set -uo pipefail

seconds="${1:-30}"
shift || true
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || (( seconds == 0 )); then
  echo "usage: $0 [SECONDS] [TARGET...]" >&2
  exit 2
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
build="${FUZZ_BUILD_DIR:-$root/build-fuzz}"
all_targets=(stream_reader_fuzzer manifest_parser_fuzzer envelope_parser_fuzzer file_container_fuzzer)
targets=("$@")
(( ${#targets[@]} )) || targets=("${all_targets[@]}")

# ---------------------------------------------------------------------------- build
if [[ ! -f "$build/CMakeCache.txt" ]] || ! grep -q '^STRONGROOM_BUILD_FUZZ:BOOL=ON' "$build/CMakeCache.txt"; then
  echo "== configuring $build"
  # shellcheck disable=SC2086  # FUZZ_CMAKE_ARGS is a list of arguments
  CC="${CC:-clang-14}" CXX="${CXX:-clang++-14}" cmake -S "$root" -B "$build" -G Ninja \
    -DSTRONGROOM_BUILD_FUZZ=ON -DSTRONGROOM_BUILD_TESTS=OFF -DSTRONGROOM_BUILD_BENCH=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo ${FUZZ_CMAKE_ARGS:-} || exit 2
fi
echo "== building ${targets[*]}"
cmake --build "$build" --target "${targets[@]}" || exit 2

# ---------------------------------------------------------------------------- run
work="$(mktemp -d "${TMPDIR:-/tmp}/strongroom-fuzz.XXXXXX")"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# Inputs larger than libFuzzer's default limit let the stream and file targets cross chunk
# boundaries (16384-byte chunks) by mutation.
max_len_for() {
  case "$1" in
    stream_reader_fuzzer|file_container_fuzzer) echo 70000 ;;
    *) echo 8192 ;;
  esac
}

failed=0
summary=()
for t in "${targets[@]}"; do
  bin="$build/fuzz/$t"
  if [[ ! -x "$bin" ]]; then
    echo "no fuzzer binary $bin" >&2
    exit 2
  fi
  corpus="$work/corpus/$t"
  artifacts="$work/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  # Seeds only: crash-* files are regression inputs, replayed separately below.
  find "$here/corpus/$t" -maxdepth 1 -type f ! -name 'crash-*' -exec cp {} "$corpus/" \;
  log="$work/$t.log"

  # Known crash inputs must no longer crash (once fixed they stay as regression tests).
  status=ok
  mapfile -t known < <(find "$here/corpus/$t" -maxdepth 1 -type f -name 'crash-*' | sort)
  if (( ${#known[@]} )); then
    echo "== $t: replaying ${#known[@]} saved crash input(s)"
    if ! "$bin" -rss_limit_mb=2048 "${known[@]}" >"$work/$t.replay.log" 2>&1; then
      echo "!! $t: a saved crash input still fails; log: $work/$t.replay.log"
      grep -m1 -E 'ORACLE|ERROR:|runtime error' "$work/$t.replay.log" | sed 's/^/   /'
      status=FAILED
      failed=1
    fi
  fi

  echo "== $t: fuzzing for ${seconds}s"
  "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=60 \
    -max_len="$(max_len_for "$t")" -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1
  rc=$?
  last="$(grep -E '^#[0-9]+[[:space:]]+(DONE|NEW|REDUCE|pulse|INITED)' "$log" | tail -1)"
  cov="$(sed -nE 's/.* cov: ([0-9]+) .*/\1/p' <<<"$last")"
  ft="$(sed -nE 's/.* ft: ([0-9]+) .*/\1/p' <<<"$last")"
  execs="$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log")"
  speed="$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log")"
  corp="$(sed -nE 's/.* corp: ([0-9]+\/[0-9a-zA-Z]+) .*/\1/p' <<<"$last")"
  mapfile -t found < <(find "$artifacts" -type f | sort)
  if (( rc != 0 )) || (( ${#found[@]} )); then
    status=FAILED
    failed=1
    echo "!! $t: libFuzzer exited with $rc; log: $log"
    grep -m3 -E 'ORACLE FAILURE|why:|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error' "$log" \
      | sed 's/^/   /'
    for a in "${found[@]}"; do echo "   artifact: $a"; done
  fi
  summary+=("$(printf '%-24s %-7s execs=%-9s exec/s=%-7s cov=%-6s ft=%-6s corpus=%s' \
    "$t" "$status" "${execs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}")")
done

echo
echo "== summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
if (( failed )); then
  echo "fuzzing FAILED; inputs, artifacts and logs are in $work"
  echo "(reproduce: $build/fuzz/<target> <artifact>; see fuzz/README.md)"
  exit 1
fi
if [[ "${FUZZ_KEEP_WORKDIR:-0}" == 1 ]]; then
  echo "work directory kept: $work"
else
  rm -rf "$work"
fi
exit 0
