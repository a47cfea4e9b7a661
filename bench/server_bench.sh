#!/usr/bin/env bash
# S3 server benchmark: throughput, small-object ops/s and peak RSS, each figure
# reported next to a baseline measured in the same run on the same machine.
#
#   bench/server_bench.sh                              # full run (~4 min on the 2-vCPU VM)
#   SERVER_BENCH_BIG_GIB=1 SERVER_BENCH_WRK_SECS=5 SERVER_BENCH_REPS=3 bench/server_bench.sh   # quick (~1.5 min)
#
# The server: a release build in build-sbench/ (GCC 12 at -O3 needs
# -DSTRONGROOM_WERROR=OFF, see the notes in bench/SERVER.md):
#   cmake -S . -B build-sbench -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRONGROOM_BUILD_TESTS=OFF \
#     -DSTRONGROOM_BUILD_BENCH=OFF -DSTRONGROOM_WERROR=OFF && cmake --build build-sbench --target strongroom
#
# Neutral clients only (curl, wrk, awscli v2 via /usr/bin/aws, dd), so the
# same script can measure another S3 server: set SERVER_BENCH_ENDPOINT (and
# AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, SERVER_BENCH_SERVER_PID for RSS,
# SERVER_BENCH_DD_DIR for a directory on the server's data filesystem,
# SERVER_BENCH_HEALTH_PATH for its trivial endpoint, e.g. /minio/health/live).
# Without SERVER_BENCH_ENDPOINT it starts the strongroom release binary on
# 127.0.0.1:0 with a fresh data dir and stops it at the end.
#
# Steps: (1) dd baselines, (2) 64 MiB presigned PUT/GET with curl interleaved
# with dd, (3) wrk 4 KiB GET/PUT ops/s against /health at the same connection
# counts, (4) peak RSS during a big single PUT, a big GET and a big multipart
# upload with awscli v2, (5) summary table, also written to bench/SERVER.md.
# No timed assertions: the output is figures and ratios. Every loop is bounded
# and every client has a time limit. Traffic goes to 127.0.0.1 only.
#
# Environment (defaults in brackets):
#   SERVER_BENCH_BIN            server binary [build-sbench/src/cli/strongroom]
#   SERVER_BENCH_MID_MIB        size of the curl PUT/GET object [64]
#   SERVER_BENCH_REPS           repetitions of the curl/dd round [5]
#   SERVER_BENCH_WRK_SECS       duration of each wrk run [15]
#   SERVER_BENCH_CONNS          wrk connection counts [16 64]
#   SERVER_BENCH_WRK_THREADS    wrk threads [2]
#   SERVER_BENCH_BIG_GIB        size of the big uploads in GiB, 0 skips step 4 [5]
#   SERVER_BENCH_MPU            1: also the awscli multipart upload [1]
#   SERVER_BENCH_MPU_CHUNK_MIB  awscli multipart_chunksize [8]
#   SERVER_BENCH_MPU_CONCURRENCY awscli max_concurrent_requests [10]
#   SERVER_BENCH_VERIFY         1: read the big objects back and compare (untimed) [1]
#   SERVER_BENCH_SAMPLE_SECS    RSS sampling period [0.5]
#   SERVER_BENCH_TMPDIR         parent of the work dir (data dir, dd files) [/var/tmp]
#   SERVER_BENCH_MD             where to write the report [bench/SERVER.md for a
#                               run with default sizes, else WORK/SERVER.md; '' = none]
#   SERVER_BENCH_KEEP           1: keep the work dir [0]
set -euo pipefail
export LC_ALL=C
unset AWS_CA_BUNDLE AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ENDPOINT_URL || true

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LIB="$ROOT/bench/server_bench_lib.py"
PUT_LUA="$ROOT/bench/wrk/put.lua"
PY=${SERVER_BENCH_PYTHON:-/usr/bin/python3}
AWS=${SERVER_BENCH_AWS:-/usr/bin/aws}
BIN=${SERVER_BENCH_BIN:-$ROOT/build-sbench/src/cli/strongroom}
MID_MIB=${SERVER_BENCH_MID_MIB:-64}
REPS=${SERVER_BENCH_REPS:-5}
WRK_SECS=${SERVER_BENCH_WRK_SECS:-15}
CONNS=${SERVER_BENCH_CONNS:-16 64}
WRK_THREADS=${SERVER_BENCH_WRK_THREADS:-2}
BIG_GIB=${SERVER_BENCH_BIG_GIB:-5}
MPU=${SERVER_BENCH_MPU:-1}
MPU_CHUNK_MIB=${SERVER_BENCH_MPU_CHUNK_MIB:-8}
MPU_CONC=${SERVER_BENCH_MPU_CONCURRENCY:-10}
VERIFY=${SERVER_BENCH_VERIFY:-1}
SAMPLE=${SERVER_BENCH_SAMPLE_SECS:-0.5}
TMP_PARENT=${SERVER_BENCH_TMPDIR:-/var/tmp}
ENDPOINT=${SERVER_BENCH_ENDPOINT:-}
SERVER_PID=${SERVER_BENCH_SERVER_PID:-}
DD_DIR=${SERVER_BENCH_DD_DIR:-}
HEALTH_PATH=${SERVER_BENCH_HEALTH_PATH:-/health}
BUCKET=${SERVER_BENCH_BUCKET:-sbench}
KEEP=${SERVER_BENCH_KEEP:-0}
BIG_TIMEOUT=3600   # seconds, per big transfer
MAX_SAMPLES=20000  # bound of every RSS sampling loop

DEFAULT_SIZES=0
if [[ $MID_MIB == 64 && $REPS == 5 && $WRK_SECS == 15 && $CONNS == "16 64" && $BIG_GIB == 5 && $MPU == 1 && -z $ENDPOINT ]]; then
  DEFAULT_SIZES=1
fi

log() { printf '[server_bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
# awk arithmetic helpers (decimal MB = 1e6 bytes, as dd prints)
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.1f", b / 1e6 / s; else print "nan" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }
median() { printf '%s\n' "$@" | { grep -v '^nan$' || true; } | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) printf "%.1f", v[(NR + 1) / 2]; else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for tool in curl wrk dd openssl awk "$PY"; do
  command -v "$tool" >/dev/null || die "missing tool: $tool"
done
"$PY" -c 'import boto3' 2>/dev/null || die "$PY has no boto3 (apt-get install python3-boto3)"

WORK=$(mktemp -d "$TMP_PARENT/strongroom-sbench.XXXXXX")
STARTED_SERVER_PID=""
SAMPLER_PID=""
cleanup() {
  local rc=$?
  if [[ -n $SAMPLER_PID ]]; then touch "$WORK/stop-sampler"; wait "$SAMPLER_PID" 2>/dev/null || true; fi
  if [[ -n $STARTED_SERVER_PID ]] && kill -0 "$STARTED_SERVER_PID" 2>/dev/null; then
    kill -TERM "$STARTED_SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$STARTED_SERVER_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$STARTED_SERVER_PID" 2>/dev/null || true
  fi
  if [[ $KEEP == 1 ]]; then
    log "kept work dir $WORK"
  else
    rm -rf "$WORK"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

RUN_START=$(now)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
CMDLINE="bench/server_bench.sh"
for v in SERVER_BENCH_BIN SERVER_BENCH_MID_MIB SERVER_BENCH_REPS SERVER_BENCH_WRK_SECS SERVER_BENCH_CONNS \
         SERVER_BENCH_WRK_THREADS SERVER_BENCH_BIG_GIB SERVER_BENCH_MPU SERVER_BENCH_MPU_CHUNK_MIB \
         SERVER_BENCH_MPU_CONCURRENCY SERVER_BENCH_VERIFY SERVER_BENCH_SAMPLE_SECS SERVER_BENCH_TMPDIR \
         SERVER_BENCH_ENDPOINT SERVER_BENCH_HEALTH_PATH; do
  if [[ -n ${!v:-} ]]; then CMDLINE="$v='${!v}' $CMDLINE"; fi
done

# ---------------------------------------------------------------- server ---
SERVER_NAME="external"
if [[ -z $ENDPOINT ]]; then
  [[ -x $BIN ]] || die "no server binary at $BIN (build it as the header of this script says)"
  DATA="$WORK/data"
  KEYS="$WORK/keys"
  STRONGROOM_ACCESS_KEY="sbench$(openssl rand -hex 6)"
  STRONGROOM_SECRET_KEY="$(openssl rand -hex 20)"
  export STRONGROOM_ACCESS_KEY STRONGROOM_SECRET_KEY
  "$BIN" serve --listen 127.0.0.1:0 --data-dir "$DATA" --key-dir "$KEYS" --access-log /dev/null \
    >"$WORK/server.out" 2>"$WORK/server.err" </dev/null &
  STARTED_SERVER_PID=$!
  SERVER_PID=$STARTED_SERVER_PID
  for _ in $(seq 1 100); do
    ENDPOINT=$(sed -n 's/.* listening on \(http:\/\/127\.0\.0\.1:[0-9]*\).*/\1/p' "$WORK/server.out" | head -1)
    [[ -n $ENDPOINT ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.err" >&2; die "server exited at start"; }
    sleep 0.1
  done
  [[ -n $ENDPOINT ]] || die "server did not print its address"
  SERVER_NAME=$(head -1 "$WORK/server.out" | sed 's/ listening on.*//')
  export AWS_ACCESS_KEY_ID=$STRONGROOM_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$STRONGROOM_SECRET_KEY
  DD_DIR=${DD_DIR:-$WORK/dd}   # same filesystem as the data dir, outside it
else
  [[ -n ${AWS_ACCESS_KEY_ID:-} && -n ${AWS_SECRET_ACCESS_KEY:-} ]] || die "SERVER_BENCH_ENDPOINT needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
  DATA=""
  DD_DIR=${DD_DIR:-$WORK/dd}
fi
case $ENDPOINT in
  http://127.*|http://localhost*|http://\[::1\]*) ;;
  *) die "refusing non-loopback endpoint $ENDPOINT" ;;
esac
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
mkdir -p "$DD_DIR"
log "server $SERVER_NAME at $ENDPOINT (pid ${SERVER_PID:-unknown}), work dir $WORK"

"$PY" "$LIB" mkbucket "$ENDPOINT" "$BUCKET"
presign() { "$PY" "$LIB" presign "$ENDPOINT" "$1" "$BUCKET" "$2" 7200; }

CLK_TCK=$(getconf CLK_TCK)
# utime + stime of the server in clock ticks (fields 14 and 15 of
# /proc/PID/stat, counted after the "(comm)" field, which may hold spaces).
cpu_ticks() {
  if [[ -z $SERVER_PID ]]; then echo 0; return; fi
  sed 's/^.*) //' "/proc/$SERVER_PID/stat" 2>/dev/null | awk '{ print $12 + $13 }' || echo 0
}
# Server CPU seconds since the ticks in $1.
cpu_secs_since() { awk -v a="$(cpu_ticks)" -v b="$1" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", (a - b) / hz }'; }
rss_field() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || true; }
IDLE_RSS_MIB="n/a"
if [[ -n $SERVER_PID ]]; then IDLE_RSS_MIB=$(calc "$(rss_field "$SERVER_PID" VmRSS) / 1024"); fi

# RSS sampling of the server: VmRSS (and the number of open file
# descriptors) every SAMPLE s, and VmHWM (peak) which is first reset to the
# current RSS with clear_refs=5 so that it covers only this phase. The peak
# reported is max(sampled VmRSS, VmHWM at the end).
sampler_start() {
  SAMPLES="$WORK/rss-$1.txt"
  : >"$SAMPLES"
  [[ -n $SERVER_PID ]] || return 0
  PHASE_TICKS=$(cpu_ticks)
  HWM_RESET=0
  if echo 5 >"/proc/$SERVER_PID/clear_refs" 2>/dev/null; then HWM_RESET=1; fi
  rm -f "$WORK/stop-sampler"
  (
    n=0
    while ((n < MAX_SAMPLES)) && [[ ! -e $WORK/stop-sampler ]] && kill -0 "$SERVER_PID" 2>/dev/null; do
      fds=("/proc/$SERVER_PID/fd/"*)
      awk -v fds="${#fds[@]}" '$1 == "VmRSS:" { r = $2 } $1 == "VmHWM:" { h = $2 } END { print r, h, fds }' "/proc/$SERVER_PID/status" >>"$SAMPLES" 2>/dev/null || true
      sleep "$SAMPLE"
      n=$((n + 1))
    done
  ) &
  SAMPLER_PID=$!
}
# Sets PEAK_MIB, START_MIB, PEAK_FDS and CPU_S (server CPU seconds in the
# phase; n/a without a PID). Not for use in $(...):
# it must wait for the sampler, which only the parent shell can.
sampler_stop() {
  PEAK_MIB="n/a" START_MIB="n/a" PEAK_FDS="n/a" CPU_S="n/a"
  [[ -n $SERVER_PID ]] || return 0
  CPU_S=$(cpu_secs_since "$PHASE_TICKS")
  local hwm
  hwm=$(rss_field "$SERVER_PID" VmHWM)
  touch "$WORK/stop-sampler"
  wait "$SAMPLER_PID" 2>/dev/null || true
  SAMPLER_PID=""
  [[ $HWM_RESET == 1 ]] || hwm=0
  read -r PEAK_MIB START_MIB PEAK_FDS < <(awk -v hwm="${hwm:-0}" 'NR == 1 { first = $1 } { if ($1 > m) m = $1; if ($3 > f) f = $3 } END { if (hwm > m) m = hwm; printf "%.1f %.1f %d\n", m / 1024, first / 1024, f }' "$SAMPLES")
}

server_alive() {
  [[ -z $SERVER_PID ]] || kill -0 "$SERVER_PID" 2>/dev/null || die "server process $SERVER_PID died; stderr tail: $(tail -5 "$WORK/server.err" 2>/dev/null)"
}

# Runs dd, prints the seconds dd reports.
dd_secs() {
  local out
  out=$(dd "$@" 2>&1) || { log "dd failed: $out"; echo nan; return; }
  awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") print $(i - 1) }' <<<"$out"
}

# Server CPU seconds per GiB moved in a big phase.
per_gib() { awk -v c="$1" -v g="$BIG_GIB" 'BEGIN { if (c == "n/a" || g == 0) print "n/a"; else printf "%.2f", c / g }'; }
FAILURES=()
note_failure() { FAILURES+=("$*"); log "FAILURE: $*"; }

# curl PUT/GET: prints "HTTP_CODE SECONDS BYTES". Content-Length is sent
# because -T names a regular file (no chunked encoding).
curl_put() {
  curl -sS -o "$WORK/curl-body.txt" --max-time "$3" -w '%{http_code} %{time_total} %{size_upload}' -T "$1" "$2" 2>>"$WORK/curl.err" || true
}
curl_get() {
  curl -sS -o "$2" --max-time "$3" -w '%{http_code} %{time_total} %{size_download}' "$1" 2>>"$WORK/curl.err" || true
}

# ------------------------------------------------ 1+2: dd and 64 MiB curl ---
MID_BYTES=$((MID_MIB * 1024 * 1024))
log "step 1+2: ${MID_MIB} MiB dd baselines and presigned curl PUT/GET, $REPS reps interleaved"
head -c "$MID_BYTES" /dev/urandom >"$WORK/mid.bin"
PUT_MID_URL=$(presign PUT mid.bin)
GET_MID_URL=$(presign GET mid.bin)
DDW=() DDR=() CPUT=() CGET=()
for rep in $(seq 1 "$REPS"); do
  s=$(dd_secs if="$WORK/mid.bin" of="$DD_DIR/dd-mid.bin" bs=1M conv=fdatasync)
  DDW+=("$(mbps "$MID_BYTES" "$s")")
  s=$(dd_secs if="$DD_DIR/dd-mid.bin" of=/dev/null bs=1M)
  DDR+=("$(mbps "$MID_BYTES" "$s")")
  read -r code secs bytes <<<"$(curl_put "$WORK/mid.bin" "$PUT_MID_URL" 600)"
  if [[ $code == 200 && $bytes == "$MID_BYTES" ]]; then CPUT+=("$(mbps "$MID_BYTES" "$secs")"); else
    note_failure "64MiB PUT rep $rep: http=$code bytes=$bytes $(head -c 300 "$WORK/curl-body.txt" 2>/dev/null)"; CPUT+=(nan); fi
  read -r code secs bytes <<<"$(curl_get "$GET_MID_URL" /dev/null 600)"
  if [[ $code == 200 && $bytes == "$MID_BYTES" ]]; then CGET+=("$(mbps "$MID_BYTES" "$secs")"); else
    note_failure "64MiB GET rep $rep: http=$code bytes=$bytes"; CGET+=(nan); fi
  log "  rep $rep: dd write ${DDW[-1]} MB/s, dd read ${DDR[-1]} MB/s, PUT ${CPUT[-1]} MB/s, GET ${CGET[-1]} MB/s"
done
rm -f "$DD_DIR/dd-mid.bin"
MID_VERIFIED="no"
read -r code _ _ <<<"$(curl_get "$GET_MID_URL" "$WORK/mid.got" 600)"
if [[ $code == 200 ]] && cmp -s "$WORK/mid.bin" "$WORK/mid.got"; then MID_VERIFIED="yes"; else note_failure "64MiB GET content differs from what was PUT (http=$code)"; fi
rm -f "$WORK/mid.got"
DDW_MED=$(median "${DDW[@]}"); DDR_MED=$(median "${DDR[@]}")
CPUT_MED=$(median "${CPUT[@]}"); CGET_MED=$(median "${CGET[@]}")
server_alive

# ------------------------------------------------------------- 3: wrk ---
log "step 3: wrk ${WRK_SECS}s runs, ${WRK_THREADS} threads, connections: $CONNS"
# Same-run disk baseline for the small PUT: 4 KiB writes each followed by a
# sync (O_DSYNC), one writer.
DSYNC_N=2000
s=$(dd_secs if=/dev/zero of="$DD_DIR/dd-dsync.bin" bs=4k count=$DSYNC_N oflag=dsync)
DSYNC_OPS=$(awk -v n=$DSYNC_N -v s="$s" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "nan" }')
rm -f "$DD_DIR/dd-dsync.bin"
log "  dd 4 KiB O_DSYNC writes: $DSYNC_OPS ops/s"

head -c 4096 /dev/urandom >"$WORK/o4k.bin"
PUT_4K_URL=$(presign PUT obj4k)
GET_4K_URL=$(presign GET obj4k)
read -r code _ _ <<<"$(curl_put "$WORK/o4k.bin" "$PUT_4K_URL" 60)"
[[ $code == 200 ]] || die "cannot PUT the 4 KiB object (http=$code): $(cat "$WORK/curl-body.txt")"

declare -A WRK
run_wrk() { # label conns url [lua]
  local label=$1 c=$2 url=$3 lua=${4:-} out="$WORK/wrk-$1-$2.txt"
  local args=(-t"$WRK_THREADS" -c"$c" -d"${WRK_SECS}s" --timeout 10s --latency)
  [[ -n $lua ]] && args+=(-s "$lua")
  local t0
  t0=$(cpu_ticks)
  WRK_BODY_FILE="$WORK/o4k.bin" timeout $((WRK_SECS + 60)) wrk "${args[@]}" "$url" >"$out" 2>&1 || log "wrk $label c=$c exited non-zero"
  local cpu
  cpu=$(cpu_secs_since "$t0")
  read -r rps p50 p99 non2xx errs reqs <<<"$("$PY" "$LIB" wrk "$out")"
  local us_per_req="n/a"
  [[ -z $SERVER_PID || $reqs == 0 ]] || us_per_req=$(awk -v c="$cpu" -v n="$reqs" 'BEGIN { printf "%.0f", c * 1e6 / n }')
  WRK[$label-$c]="$rps $p50 $p99 $non2xx $errs $reqs $us_per_req"
  if [[ $non2xx != 0 || $errs != 0 ]]; then note_failure "wrk $label c=$c: $non2xx non-2xx responses, $errs socket errors of $reqs requests"; fi
  log "  $label c=$c: $rps req/s, p50 ${p50} ms, p99 ${p99} ms, non-2xx $non2xx, socket errors $errs, server CPU ${us_per_req} us/req"
  server_alive
}
sampler_start wrk
for c in $CONNS; do
  run_wrk health "$c" "$ENDPOINT$HEALTH_PATH"
  run_wrk get4k "$c" "$GET_4K_URL"
  run_wrk put4k "$c" "$PUT_4K_URL" "$PUT_LUA"
done
sampler_stop; WRK_PEAK_MIB=$PEAK_MIB; WRK_START_MIB=$START_MIB; WRK_FDS=$PEAK_FDS
# The object must still be a valid 4 KiB object after the overwrite storm.
read -r code _ bytes <<<"$(curl_get "$GET_4K_URL" "$WORK/o4k.got" 60)"
if [[ $code == 200 ]] && cmp -s "$WORK/o4k.bin" "$WORK/o4k.got"; then WRK_VERIFIED=yes; else WRK_VERIFIED=no; note_failure "4 KiB object after the PUT storm: http=$code bytes=$bytes, content differs"; fi

# ---------------------------------------------------- 4: big transfers ---
BIG_DONE=0
BIG_BYTES=$((BIG_GIB * 1024 * 1024 * 1024))
if ((BIG_GIB > 0)); then
  avail_kib=$(df -Pk "$DD_DIR" | awk 'NR == 2 { print $4 }')
  need_kib=$((BIG_BYTES / 1024 * 22 / 10 + 2 * 1024 * 1024))
  if ((avail_kib < need_kib)); then
    log "step 4 skipped: $((avail_kib / 1024 / 1024)) GiB free on $DD_DIR, need $((need_kib / 1024 / 1024)) GiB"
  else
    BIG_DONE=1
  fi
fi
if ((BIG_DONE)); then
  log "step 4: ${BIG_GIB} GiB file (openssl aes-256-ctr keystream | dd conv=fdatasync)"
  BIG="$DD_DIR/big.bin"
  t0=$(now)
  head -c "$BIG_BYTES" /dev/zero | openssl enc -aes-256-ctr -pass pass:strongroom-sbench -nosalt -pbkdf2 2>/dev/null |
    dd of="$BIG" bs=1M iflag=fullblock conv=fdatasync status=none
  t1=$(now)
  [[ $(stat -c %s "$BIG") == "$BIG_BYTES" ]] || die "big file has the wrong size"
  BIG_DDW=$(mbps "$BIG_BYTES" "$(calc "$t1 - $t0" 3)")
  BIG_DDR=$(mbps "$BIG_BYTES" "$(dd_secs if="$BIG" of=/dev/null bs=1M)")
  log "  file written at $BIG_DDW MB/s (generator + disk, fdatasync), read back at $BIG_DDR MB/s"

  log "  single PUT of ${BIG_GIB} GiB (curl -T, presigned)"
  stored_before=0
  [[ -z $DATA ]] || stored_before=$(du -sb "$DATA" | awk '{ print $1 }')
  sampler_start bigput
  read -r code secs bytes <<<"$(curl_put "$BIG" "$(presign PUT big.bin)" $BIG_TIMEOUT)"
  sampler_stop; BIGPUT_PEAK=$PEAK_MIB; BIGPUT_START=$START_MIB; BIGPUT_FDS=$PEAK_FDS; BIGPUT_CPU=$(per_gib "$CPU_S")
  if [[ $code == 200 && $bytes == "$BIG_BYTES" ]]; then BIGPUT_MBPS=$(mbps "$BIG_BYTES" "$secs"); else
    BIGPUT_MBPS=nan; note_failure "big PUT: http=$code bytes=$bytes time=${secs}s $(head -c 300 "$WORK/curl-body.txt" 2>/dev/null)"; fi
  STORED_RATIO="n/a"
  if [[ -n $DATA ]]; then
    stored_after=$(du -sb "$DATA" | awk '{ print $1 }')
    STORED_RATIO=$(awk -v a="$stored_after" -v b="$stored_before" -v n="$BIG_BYTES" 'BEGIN { printf "%.4f", (a - b) / n }')
  fi
  log "  PUT: $BIGPUT_MBPS MB/s, peak RSS $BIGPUT_PEAK MiB (from $BIGPUT_START MiB); data dir / plaintext = $STORED_RATIO"
  server_alive

  log "  single GET of ${BIG_GIB} GiB to /dev/null"
  sampler_start bigget
  read -r code secs bytes <<<"$(curl_get "$(presign GET big.bin)" /dev/null $BIG_TIMEOUT)"
  sampler_stop; BIGGET_PEAK=$PEAK_MIB; BIGGET_START=$START_MIB; BIGGET_FDS=$PEAK_FDS; BIGGET_CPU=$(per_gib "$CPU_S")
  if [[ $code == 200 && $bytes == "$BIG_BYTES" ]]; then BIGGET_MBPS=$(mbps "$BIG_BYTES" "$secs"); else
    BIGGET_MBPS=nan; note_failure "big GET: http=$code bytes=$bytes time=${secs}s"; fi
  log "  GET: $BIGGET_MBPS MB/s, peak RSS $BIGGET_PEAK MiB (from $BIGGET_START MiB)"
  server_alive

  BIG_VERIFIED="skipped"
  if [[ $VERIFY == 1 ]]; then
    log "  verify: GET | cmp (untimed)"
    if curl -sS --max-time $BIG_TIMEOUT "$(presign GET big.bin)" | cmp -s - "$BIG"; then BIG_VERIFIED=yes; else BIG_VERIFIED=no; note_failure "big GET content differs from the file"; fi
  fi
  "$PY" "$LIB" delete "$ENDPOINT" "$BUCKET" big.bin || note_failure "cannot delete big.bin"

  MPU_MBPS="skipped" MPU_PEAK="n/a" MPU_START="n/a" MPU_VERIFIED="skipped" MPUGET_PEAK="n/a" MPUGET_MBPS="skipped" MPU_FDS="n/a" MPUGET_FDS="n/a" MPU_CPU="n/a" MPUGET_CPU="n/a"
  if [[ $MPU == 1 ]]; then
    [[ -x $AWS ]] || die "no awscli v2 at $AWS"
    cat >"$WORK/aws-config" <<EOF
[default]
region = $AWS_DEFAULT_REGION
s3 =
  addressing_style = path
  multipart_threshold = 8MB
  multipart_chunksize = ${MPU_CHUNK_MIB}MB
  max_concurrent_requests = $MPU_CONC
EOF
    AWS_VERSION=$(AWS_CONFIG_FILE="$WORK/aws-config" "$AWS" --version 2>&1 | awk '{ print $1 }')
    log "  multipart upload of ${BIG_GIB} GiB with $AWS_VERSION (${MPU_CHUNK_MIB} MiB parts, $MPU_CONC concurrent)"
    sampler_start mpu
    t0=$(now)
    if AWS_CONFIG_FILE="$WORK/aws-config" AWS_SHARED_CREDENTIALS_FILE=/dev/null timeout $BIG_TIMEOUT \
      "$AWS" --endpoint-url "$ENDPOINT" s3 cp --no-progress "$BIG" "s3://$BUCKET/big-mpu.bin" >"$WORK/aws-mpu.log" 2>&1; then
      t1=$(now)
      MPU_MBPS=$(mbps "$BIG_BYTES" "$(calc "$t1 - $t0" 3)")
    else
      MPU_MBPS=nan
      note_failure "awscli multipart upload failed: $(tail -3 "$WORK/aws-mpu.log" | tr '\n' ' ')"
    fi
    sampler_stop; MPU_PEAK=$PEAK_MIB; MPU_START=$START_MIB; MPU_FDS=$PEAK_FDS; MPU_CPU=$(per_gib "$CPU_S")
    log "  multipart: $MPU_MBPS MB/s, peak RSS $MPU_PEAK MiB (from $MPU_START MiB)"
    server_alive
    if [[ $MPU_MBPS != nan ]]; then
      size=$("$PY" "$LIB" head "$ENDPOINT" "$BUCKET" big-mpu.bin 2>/dev/null || echo "?")
      [[ $size == "$BIG_BYTES" ]] || note_failure "multipart object has size $size, expected $BIG_BYTES"
      log "  GET of the ${BIG_GIB} GiB multipart object to /dev/null"
      sampler_start mpuget
      read -r code secs bytes <<<"$(curl_get "$(presign GET big-mpu.bin)" /dev/null $BIG_TIMEOUT)"
      sampler_stop; MPUGET_PEAK=$PEAK_MIB MPUGET_START=$START_MIB MPUGET_FDS=$PEAK_FDS MPUGET_CPU=$(per_gib "$CPU_S")
      if [[ $code == 200 && $bytes == "$BIG_BYTES" ]]; then MPUGET_MBPS=$(mbps "$BIG_BYTES" "$secs"); else
        MPUGET_MBPS=nan; note_failure "multipart GET: http=$code bytes=$bytes time=${secs}s"; fi
      log "  multipart GET: $MPUGET_MBPS MB/s, peak RSS $MPUGET_PEAK MiB (from $MPUGET_START MiB)"
      server_alive
      if [[ $VERIFY == 1 ]]; then
        log "  verify multipart object: GET | cmp (untimed)"
        if curl -sS --max-time $BIG_TIMEOUT "$(presign GET big-mpu.bin)" | cmp -s - "$BIG"; then MPU_VERIFIED=yes; else MPU_VERIFIED=no; note_failure "multipart object content differs from the file"; fi
      fi
      "$PY" "$LIB" delete "$ENDPOINT" "$BUCKET" big-mpu.bin || note_failure "cannot delete big-mpu.bin"
    fi
  fi
  rm -f "$BIG"
fi
"$PY" "$LIB" delete "$ENDPOINT" "$BUCKET" mid.bin || true
"$PY" "$LIB" delete "$ENDPOINT" "$BUCKET" obj4k || true
server_alive
FINAL_RSS_MIB="n/a"
[[ -z $SERVER_PID ]] || FINAL_RSS_MIB=$(calc "$(rss_field "$SERVER_PID" VmRSS) / 1024")
LEFTOVER="n/a"
if [[ -n $DATA ]]; then
  # Every object was deleted: what is left is catalog plus any blob garbage
  # (e.g. from the overwrite storm or multipart parts).
  LEFTOVER="$(du -sb "$DATA" | awk '{ printf "%.1f MiB", $1 / 1048576 }') in $(find "$DATA" -type f | wc -l) files"
fi
SERVER_ERR_LINES="n/a"
if [[ -n $STARTED_SERVER_PID ]]; then
  SERVER_ERR_LINES=0
  [[ ! -s $WORK/server.err ]] || SERVER_ERR_LINES=$(wc -l <"$WORK/server.err")
fi
rm -f "$WORK/mid.bin" "$WORK/o4k.got"
RUN_SECS=$(calc "$(now) - $RUN_START" 0)

# ------------------------------------------------------------ 5: report ---
w() { echo "${WRK[$1]:-nan nan nan 0 0 0 n/a}" | awk -v f="$2" '{ print $f }'; }
TABLE="| Figure | Server | Same-run baseline | Ratio |
| --- | --- | --- | --- |
| ${MID_MIB} MiB PUT, curl presigned, median of $REPS | $CPUT_MED MB/s | dd write conv=fdatasync: $DDW_MED MB/s | PUT/dd-write **$(ratio "$CPUT_MED" "$DDW_MED")** |
| ${MID_MIB} MiB GET to /dev/null, median of $REPS | $CGET_MED MB/s | dd read (page cache): $DDR_MED MB/s | GET/dd-read **$(ratio "$CGET_MED" "$DDR_MED")** |"
for c in $CONNS; do
  TABLE+="
| 4 KiB GET, wrk c=$c | $(w get4k-$c 1) req/s, p50 $(w get4k-$c 2) ms, p99 $(w get4k-$c 3) ms; server CPU $(w get4k-$c 7) us/req | /health c=$c: $(w health-$c 1) req/s, p50 $(w health-$c 2) ms, p99 $(w health-$c 3) ms; $(w health-$c 7) us/req | GET4K/health **$(ratio "$(w get4k-$c 1)" "$(w health-$c 1)")** |
| 4 KiB PUT, wrk c=$c | $(w put4k-$c 1) req/s, p50 $(w put4k-$c 2) ms, p99 $(w put4k-$c 3) ms; server CPU $(w put4k-$c 7) us/req | /health as above; dd 4 KiB O_DSYNC: $DSYNC_OPS writes/s | PUT4K/health **$(ratio "$(w put4k-$c 1)" "$(w health-$c 1)")**, PUT4K/dsync $(ratio "$(w put4k-$c 1)" "$DSYNC_OPS") |"
done
TABLE+="
| Peak RSS over all wrk runs | $WRK_PEAK_MIB MiB (from $WRK_START_MIB MiB), peak open fds $WRK_FDS | idle after start: $IDLE_RSS_MIB MiB | |"
if ((BIG_DONE)); then
  TABLE+="
| ${BIG_GIB} GiB single PUT, curl presigned | $BIGPUT_MBPS MB/s; peak RSS **$BIGPUT_PEAK MiB**; peak fds $BIGPUT_FDS; CPU $BIGPUT_CPU s/GiB | file creation (openssl \| dd fdatasync): $BIG_DDW MB/s | PUT/create **$(ratio "$BIGPUT_MBPS" "$BIG_DDW")** |
| ${BIG_GIB} GiB single GET to /dev/null | $BIGGET_MBPS MB/s; peak RSS **$BIGGET_PEAK MiB**; peak fds $BIGGET_FDS; CPU $BIGGET_CPU s/GiB | dd read of the file: $BIG_DDR MB/s | GET/dd-read **$(ratio "$BIGGET_MBPS" "$BIG_DDR")** |"
  if [[ $MPU == 1 ]]; then
    TABLE+="
| ${BIG_GIB} GiB multipart PUT, awscli v2, ${MPU_CHUNK_MIB} MiB parts x $MPU_CONC | $MPU_MBPS MB/s; peak RSS **$MPU_PEAK MiB**; peak fds $MPU_FDS; CPU $MPU_CPU s/GiB | file creation: $BIG_DDW MB/s | MPU/create **$(ratio "$MPU_MBPS" "$BIG_DDW")** |
| ${BIG_GIB} GiB GET of the multipart object to /dev/null | $MPUGET_MBPS MB/s; peak RSS **$MPUGET_PEAK MiB**; peak fds $MPUGET_FDS; CPU $MPUGET_CPU s/GiB | dd read of the file: $BIG_DDR MB/s | GET/dd-read **$(ratio "$MPUGET_MBPS" "$BIG_DDR")** |"
  fi
  TABLE+="
| Data dir growth / plaintext bytes for the big PUT | $STORED_RATIO | | |"
fi
# The memory goal (not a timing): big transfers stream in < 100 MiB RSS.
GOAL_MIB=100
GOALS=""
goal() { # label peak
  [[ $2 != n/a ]] || return 0
  if awk -v p="$2" -v g="$GOAL_MIB" 'BEGIN { exit !(p >= g) }'; then GOALS+="- OVER the ${GOAL_MIB} MiB goal: $1 peaked at $2 MiB"$'\n'; else GOALS+="- within the ${GOAL_MIB} MiB goal: $1 peaked at $2 MiB"$'\n'; fi
}
if ((BIG_DONE)); then
  goal "${BIG_GIB} GiB single PUT" "$BIGPUT_PEAK"
  goal "${BIG_GIB} GiB single GET" "$BIGGET_PEAK"
  if [[ $MPU == 1 ]]; then
    goal "${BIG_GIB} GiB multipart PUT" "$MPU_PEAK"
    goal "${BIG_GIB} GiB GET of the multipart object" "$MPUGET_PEAK"
  fi
fi
[[ -n $GOALS ]] || GOALS="- no big transfer measured"$'\n'
GOALS=${GOALS%$'\n'}
CHECKS="64 MiB round trip identical: $MID_VERIFIED; 4 KiB object intact after the PUT storm: $WRK_VERIFIED"
((BIG_DONE)) && CHECKS+="; ${BIG_GIB} GiB single-PUT object identical: $BIG_VERIFIED; multipart object identical: $MPU_VERIFIED"
CHECKS+="; data dir after deleting every object: $LEFTOVER; server stderr lines: $SERVER_ERR_LINES; RSS at the end: $FINAL_RSS_MIB MiB"
if ((${#FAILURES[@]})); then
  FAILTEXT=$(printf -- '- %s\n' "${FAILURES[@]}")
else
  FAILTEXT="- none (every request answered 2xx, no socket errors, the server stayed up)"
fi

CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM_GIB=$(awk '/^MemTotal/ { printf "%.1f", $2 / 1024 / 1024 }' /proc/meminfo)
FS_LINE=$(df -PTh "$DD_DIR" | awk 'NR == 2 { print $1 " (" $2 "), " $5 " free" }')
GIT_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
[[ -z $(git -C "$ROOT" status --porcelain -- src 2>/dev/null) ]] || GIT_REV+=" with uncommitted changes under src/"
BUILD_NOTE="external server at $ENDPOINT (pid ${SERVER_PID:-unknown}), not started by this script"
START_NOTE=""
if [[ -n $STARTED_SERVER_PID ]]; then
  BUILD_TYPE=$(awk -F= '/^CMAKE_BUILD_TYPE:/ { print $2 }' "$(dirname "$(dirname "$(dirname "$BIN")")")/CMakeCache.txt" 2>/dev/null || echo "?")
  BUILD_NOTE="\`${BIN#"$ROOT"/}\` (CMAKE_BUILD_TYPE=${BUILD_TYPE:-?}), built $(date -u -r "$BIN" '+%Y-%m-%d %H:%M UTC'); git HEAD at run time $GIT_REV"
  # Non-test sources changed after the build: the figures may not match HEAD.
  STALE=$(find "$ROOT/src" -newer "$BIN" -type f \( -name '*.cc' -o -name '*.h' \) \
    ! -name '*_test.cc' ! -name '*test_util*' ! -path '*/testing/*' 2>/dev/null | wc -l)
  if ((STALE > 0)); then BUILD_NOTE+="; NOTE: $STALE non-test source files under src/ are newer than the binary"; fi
  START_NOTE="
  Started as \`strongroom serve --listen 127.0.0.1:0 --data-dir D --key-dir K --access-log /dev/null\`
  (development key mode, default worker threads)"
fi
CURL_V=$(curl --version | awk 'NR == 1 { print $2 }')
WRK_V=$({ wrk -v 2>&1 || true; } | awk 'NR == 1 { print $2 }')
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "== S3 server bench, $DATE, ${RUN_SECS}s =="
echo "server: $SERVER_NAME ($ENDPOINT); $BUILD_NOTE"
echo "machine: $(nproc) vCPU $CPU_MODEL, $MEM_GIB GiB RAM, kernel $(uname -r), data fs $FS_LINE"
echo "load average (1/5/15 min) at start: $LOAD_START, at end: $LOAD_END"
echo
echo "$TABLE"
echo
echo "memory goal:"
echo "$GOALS"
echo "checks: $CHECKS"
echo "failures:"
echo "$FAILTEXT"

MD=${SERVER_BENCH_MD-}
if [[ -z ${SERVER_BENCH_MD+x} ]]; then
  if ((DEFAULT_SIZES)); then MD="$ROOT/bench/SERVER.md"; else MD="$WORK/SERVER.md"; KEEP=1; fi
fi
# A hand-written section starting with this heading survives regeneration.
NOTES_HEADING="## Notes (hand-written; kept when the script rewrites this file)"
NOTES=""
if [[ -n $MD && -f $MD ]] && grep -qxF "$NOTES_HEADING" "$MD"; then
  NOTES=$(sed -n "/^## Notes (hand-written; kept when the script rewrites this file)\$/,\$p" "$MD")
fi
if [[ -n $MD ]]; then
  cat >"$MD" <<EOF
# S3 server benchmark

Written by \`bench/server_bench.sh\` on $DATE (the run took ${RUN_SECS} s). Every
figure is paired with a baseline measured **in the same run on the same
machine**, and the ratio is the number to compare across runs and machines:
this is a noisy 2-vCPU VM where absolute figures drift by tens of percent
between runs. There are no timed pass/fail thresholds; the only goal checked is
memory (peak RSS of big transfers < ${GOAL_MIB} MiB).

Command (from the repository root, with the release server built in build-sbench/ as
the header of the script says; about 4 minutes here):

\`\`\`
$CMDLINE
\`\`\`

A quick run: \`SERVER_BENCH_BIG_GIB=1 SERVER_BENCH_WRK_SECS=5 SERVER_BENCH_REPS=3 bench/server_bench.sh\`
(about 1.5 minutes; its report goes to the work dir, not here). Another S3 server:
\`SERVER_BENCH_ENDPOINT=http://127.0.0.1:PORT SERVER_BENCH_SERVER_PID=PID SERVER_BENCH_HEALTH_PATH=/minio/health/live\`
with its credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.

## Machine and build

- CPU: $(nproc) vCPU, $CPU_MODEL; RAM $MEM_GIB GiB; kernel $(uname -r)
- Data directory filesystem (also where the dd baselines write): $FS_LINE
- Load average (1/5/15 min) at the start: $LOAD_START; at the end: $LOAD_END (the bench itself
  keeps about 2-3 runnable; a start value well above 1 means other work shared the VM)
- Server: $SERVER_NAME; $BUILD_NOTE.$START_NOTE
- Clients: curl $CURL_V, wrk $WRK_V (${WRK_THREADS} threads), ${AWS_VERSION:-awscli not run}; all on the same
  2 vCPUs as the server, so client CPU competes with the server in every throughput figure
- All requests go to 127.0.0.1 with path-style SigV4 presigned URLs (botocore
  \`generate_presigned_url\`, region $AWS_DEFAULT_REGION); awscli signs each of its requests itself

## Results

$TABLE

Memory goal:

$GOALS

Checks: $CHECKS.

Failures seen during the run:

$FAILTEXT

## What each figure means

- **${MID_MIB} MiB PUT / dd write.** \`curl -T file PRESIGNED_PUT_URL\` (curl sends
  Content-Length and \`Expect: 100-continue\`) versus
  \`dd if=file of=DATA_FS/f bs=1M conv=fdatasync\` of the same random file on
  the data directory's filesystem. Both end with the data on disk (the server
  fsyncs before answering 200), so the ratio is the share of the raw
  sequential-write speed that the server keeps after HTTP, SigV4, AES-GCM
  encryption and the catalog commit. $REPS rounds of dd-write, dd-read, PUT,
  GET are interleaved so that drift hits both sides; medians are reported.
  MB = 10^6 bytes, as dd prints. On this VM a ${MID_MIB} MiB dd write is largely
  absorbed by a write cache below the VM and swings by 2x between runs, so this
  ratio is noisy; the ${BIG_GIB} GiB PUT/create ratio is the steadier write figure.
- **${MID_MIB} MiB GET / dd read.** \`curl -o /dev/null PRESIGNED_GET_URL\` versus
  \`dd if=f of=/dev/null bs=1M\`. No cache is dropped: both the dd file and the
  server's ciphertext were just written and are read from the page cache, so
  this compares the server's decrypt + HTTP path against a memory-speed read.
- **4 KiB GET / PUT ops/s.** \`wrk -t$WRK_THREADS -cN -d${WRK_SECS}s --latency\` on a presigned
  GET URL of a 4 KiB object, and with \`bench/wrk/put.lua\` on a presigned PUT URL
  (4 KiB body). A presigned URL signs the path, so every PUT overwrites the same
  key (last writer wins); that still runs the full PUT path: signature check,
  encryption, fsync of the blob, catalog commit. The baseline is the same wrk
  command on \`$HEALTH_PATH\` (no auth, trivial body), measured right before at the
  same connection count: GET4K/health and PUT4K/health are the fractions of the
  server's bare HTTP request rate that an authenticated, encrypted 4 KiB
  GET/PUT achieves. p50/p99 are wrk's latency percentiles. PUT4K/dsync compares
  with one dd writer doing 4 KiB O_DSYNC writes ($DSYNC_N of them): above 1 means
  the server overlaps or batches syncs across connections. That dd baseline swings
  by up to 10x between runs on this VM (the host's sync latency varies), so read
  PUT4K/dsync as an order of magnitude only.
- **Server CPU.** utime + stime of the server process (/proc/PID/stat) over a wrk run
  divided by the requests wrk completed (us/req), or over a big transfer divided by
  its size (s/GiB). CPU time is much less sensitive than throughput to the client
  and to neighbours on the VM, so it is the best figure to compare across runs.
- **Peak RSS.** The server's /proc/PID/status is read every ${SAMPLE} s during a phase;
  VmHWM is reset to the current RSS at the phase start (\`echo 5 > /proc/PID/clear_refs\`),
  so peak = max(sampled VmRSS, VmHWM at the end) covers only that phase, including
  memory kept from earlier phases ("from X MiB" is RSS at the phase start).
  The goal for ${BIG_GIB} GiB transfers is < ${GOAL_MIB} MiB: the server must stream, not buffer.
  Page cache is not part of RSS. "Peak fds" is the largest count of entries in
  /proc/PID/fd seen by the sampler (sockets, blob files, catalog, logs).
- **${BIG_GIB} GiB single PUT / GET.** The file is made first (an AES-CTR keystream from
  \`openssl enc\` piped into \`dd conv=fdatasync\`); its rate is the "file creation" baseline,
  a sustained-write figure closer to the disk's real limit than the ${MID_MIB} MiB dd. Then
  \`curl -T file\` (Content-Length set; the server refuses a PUT without it) and
  \`curl -o /dev/null\`. The GET is compared with a dd read of the source file (page cache).
- **${BIG_GIB} GiB multipart PUT.** \`/usr/bin/aws s3 cp\` (awscli v2) with ${MPU_CHUNK_MIB} MiB parts and
  $MPU_CONC concurrent part uploads, timed end to end (create, parts, complete).
  The multipart object is then read back with \`curl -o /dev/null\` (timed, RSS sampled),
  since a multipart object is stored and read differently from a single PUT.
- **Data dir growth / plaintext.** Growth of the data directory (\`du -sb\`) across the big PUT
  divided by its plaintext size: the at-rest overhead of the encrypted format plus catalog.
- **Checks.** Untimed: every object read back is compared byte for byte with what was
  sent (the big ones with \`curl | cmp\`), the 4 KiB object must still be intact after
  the concurrent-overwrite storm, and after every object is deleted the data directory
  should hold only the catalog.
EOF
  if [[ -n $NOTES ]]; then printf '\n%s\n' "$NOTES" >>"$MD"; fi
  log "wrote $MD"
fi
if ((${#FAILURES[@]})); then log "${#FAILURES[@]} failure(s), see above"; fi
exit 0
