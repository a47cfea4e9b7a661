#!/usr/bin/env bash
# SSE benchmark (issue #4 item 9): what the AEAD step costs the S3 server.
#
#   bench/sse_bench.sh                       # builds both binaries, 7 interleaved rounds (~3 min)
#   SSE_BENCH_REPS=5 SSE_BENCH_BUILD=0 bench/sse_bench.sh
#
# Two Release binaries of the same tree, identical except for the CMake option
# STRONGROOM_BENCH_NULL_AEAD (top-level CMakeLists.txt):
#   normal     build-sbench/src/cli/strongroom     AES-256-GCM (OpenSSL EVP)
#   null-AEAD  build-nullaead/src/cli/strongroom   crypto::AesGcm256 Seal/Open are a plain
#              copy with an all-zero tag that Open does not check (src/crypto/aes_gcm.cc)
# Everything else -- HTTP, SigV4, the Cobblestone framing and key schedule, MD5
# for the ETag, envelope/manifest/metadata sealing (through the same copy), blob
# fsync, catalog -- runs the same code in both. The null-AEAD binary protects
# nothing and refuses to start unless STRONGROOM_BENCH_NULL_AEAD_OK=1; this
# script sets that for it alone. It never touches build/ or build-test/.
#
# Each binary runs as its own server on 127.0.0.1:0 with a fresh data dir
# (keyring made by `strongroom init` with a passphrase, or --dev with
# SSE_BENCH_START=dev), plain HTTP with --allow-insecure-sse-on-loopback so
# SSE-C needs no TLS, access log to /dev/null. Clients: curl with path-style
# SigV4 presigned URLs (UNSIGNED-PAYLOAD, as bench/server_bench.sh); for SSE-C
# the three x-amz-server-side-encryption-customer-* headers are sent (from a
# file, not argv) and are part of the signature (X-Amz-SignedHeaders).
#
# Per round, for SSE-S3 (the default, no header) and SSE-C, each server gets a
# PUT of the same SIZE MiB random file (curl -T, Content-Length, the server
# fsyncs the blob before 200) and GETS GETs of it to /dev/null; the order of the
# two servers alternates between rounds; objects are deleted (untimed) after
# each round. Reported: median MB/s (10^6 B/s) of each case on each server,
# ratio = normal / null-AEAD throughput, and server CPU seconds per GiB
# (utime+stime from /proc/PID/stat around each request, summed over the
# rounds; less disturbed by neighbours than wall time). No timed assertions: the script reports.
#
# Environment (defaults in brackets):
#   SSE_BENCH_REPS         rounds, >= 5 [7]
#   SSE_BENCH_SIZE_MIB     object size [64]
#   SSE_BENCH_GETS         GETs of each object per round (each one a sample; a GET
#                          takes only ~40 ms, so single samples are noisy) [5]
#   SSE_BENCH_BUILD        1: configure and build both binaries first [1]
#   SSE_BENCH_NORMAL_DIR   build dir of the normal binary [build-sbench]
#   SSE_BENCH_NULL_DIR     build dir of the null-AEAD binary [build-nullaead]
#   SSE_BENCH_START        init (sealed keyring, passphrase) or dev [init]
#   SSE_BENCH_TMPDIR       parent of the work dir [/var/tmp]
#   SSE_BENCH_QUIET_PSI    wait before each round until CPU pressure avg10 < this % [25]
#   SSE_BENCH_QUIET_WAIT   ... but at most this many seconds [60]
#   SSE_BENCH_MD           report file [bench/SSE.md for default REPS/SIZE, else WORK/SSE.md; '' none]
#   SSE_BENCH_KEEP         1: keep the work dir [0]
set -euo pipefail
export LC_ALL=C
unset AWS_CA_BUNDLE AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ENDPOINT_URL || true

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${SSE_BENCH_PYTHON:-/usr/bin/python3}
REPS=${SSE_BENCH_REPS:-7}
SIZE_MIB=${SSE_BENCH_SIZE_MIB:-64}
GETS=${SSE_BENCH_GETS:-5}
BUILD=${SSE_BENCH_BUILD:-1}
NORMAL_DIR=${SSE_BENCH_NORMAL_DIR:-$ROOT/build-sbench}
NULL_DIR=${SSE_BENCH_NULL_DIR:-$ROOT/build-nullaead}
START_MODE=${SSE_BENCH_START:-init}
TMP_PARENT=${SSE_BENCH_TMPDIR:-/var/tmp}
QUIET_PSI=${SSE_BENCH_QUIET_PSI:-25}
QUIET_WAIT=${SSE_BENCH_QUIET_WAIT:-60}
KEEP=${SSE_BENCH_KEEP:-0}
BUCKET=ssebench
REGION=us-east-1
OP_TIMEOUT=600

log() { printf '[sse_bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.1f", b / 1e6 / s; else print "nan" }'; }
median() { printf '%s\n' "$@" | { grep -v '^nan$' || true; } | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) printf "%.1f", v[(NR + 1) / 2]; else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minmax() { printf '%s\n' "$@" | { grep -v '^nan$' || true; } | sort -g | awk 'NR == 1 { a = $1 } { b = $1 } END { if (NR) printf "%s-%s", a, b; else print "n/a" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }
psi() { awk -F'[ =]' '/^some/ { print $3 }' /proc/pressure/cpu 2>/dev/null || echo "n/a"; }

((REPS >= 5)) || die "SSE_BENCH_REPS must be at least 5 (median of >= 5 runs)"
for tool in curl cmake ninja openssl awk "$PY"; do command -v "$tool" >/dev/null || die "missing tool: $tool"; done
"$PY" -c 'import boto3, botocore' 2>/dev/null || die "$PY has no boto3 (apt-get install python3-boto3)"
[[ $START_MODE == init || $START_MODE == dev ]] || die "SSE_BENCH_START must be init or dev"

MD_DEFAULT=0
[[ $REPS == 7 && $SIZE_MIB == 64 && $GETS == 5 ]] && MD_DEFAULT=1

WORK=$(mktemp -d "$TMP_PARENT/strongroom-ssebench.XXXXXX")
declare -A PID=() ENDPOINT=() BIN=() DATA=()
cleanup() {
  local rc=$?
  for name in "${!PID[@]}"; do
    local p=${PID[$name]}
    if [[ -n $p ]] && kill -0 "$p" 2>/dev/null; then
      kill -TERM "$p" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
      kill -KILL "$p" 2>/dev/null || true
    fi
  done
  if [[ $KEEP == 1 ]]; then log "kept work dir $WORK"; else rm -rf "$WORK"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

RUN_START=$(now)
DATE_START=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
PSI_START=$(psi)
CMDLINE="bench/sse_bench.sh"
for v in SSE_BENCH_REPS SSE_BENCH_SIZE_MIB SSE_BENCH_GETS SSE_BENCH_BUILD SSE_BENCH_NORMAL_DIR SSE_BENCH_NULL_DIR \
         SSE_BENCH_START SSE_BENCH_TMPDIR SSE_BENCH_QUIET_PSI SSE_BENCH_QUIET_WAIT; do
  if [[ -n ${!v:-} ]]; then CMDLINE="$v='${!v}' $CMDLINE"; fi
done

# ------------------------------------------------------------------ build ---
configure() { # dir null(ON|OFF)
  cmake -S "$ROOT" -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRONGROOM_BUILD_TESTS=OFF \
    -DSTRONGROOM_BUILD_BENCH=OFF -DSTRONGROOM_BUILD_FUZZ=OFF -DSTRONGROOM_WERROR=OFF \
    -DSTRONGROOM_BENCH_NULL_AEAD="$2" >"$WORK/cmake-$(basename "$1").log" 2>&1 ||
    { tail -20 "$WORK/cmake-$(basename "$1").log" >&2; die "cmake failed for $1"; }
}
if [[ $BUILD == 1 ]]; then
  log "building the normal Release binary in $NORMAL_DIR"
  configure "$NORMAL_DIR" OFF
  cmake --build "$NORMAL_DIR" --target strongroom -j 2 >"$WORK/build-normal.log" 2>&1 ||
    { grep -E 'error|FAILED' "$WORK/build-normal.log" | head -20 >&2; die "build failed ($NORMAL_DIR)"; }
  log "building the null-AEAD Release binary in $NULL_DIR"
  configure "$NULL_DIR" ON
  cmake --build "$NULL_DIR" --target strongroom -j 2 >"$WORK/build-null.log" 2>&1 ||
    { grep -E 'error|FAILED' "$WORK/build-null.log" | head -20 >&2; die "build failed ($NULL_DIR)"; }
fi
BIN[normal]=$NORMAL_DIR/src/cli/strongroom
BIN[null]=$NULL_DIR/src/cli/strongroom
for name in normal null; do [[ -x ${BIN[$name]} ]] || die "no binary at ${BIN[$name]}"; done
grep -q 'STRONGROOM_BENCH_NULL_AEAD:BOOL=ON' "$NULL_DIR/CMakeCache.txt" || die "$NULL_DIR is not a null-AEAD build"
grep -q 'STRONGROOM_BENCH_NULL_AEAD:BOOL=ON' "$NORMAL_DIR/CMakeCache.txt" && die "$NORMAL_DIR is a null-AEAD build"
grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$NORMAL_DIR/CMakeCache.txt" || die "$NORMAL_DIR is not a Release build"

# The guard: the null-AEAD binary must refuse to run without the opt-in.
if env -u STRONGROOM_BENCH_NULL_AEAD_OK "${BIN[null]}" --version >"$WORK/guard.out" 2>&1; then
  die "the null-AEAD binary ran without STRONGROOM_BENCH_NULL_AEAD_OK=1"
fi
grep -q 'REFUSING TO RUN' "$WORK/guard.out" || die "the null-AEAD binary failed without its refusal message"
env -u STRONGROOM_BENCH_NULL_AEAD_OK "${BIN[normal]}" --version >/dev/null 2>&1 || die "the normal binary does not run"
log "guard: the null-AEAD binary refuses to run without STRONGROOM_BENCH_NULL_AEAD_OK=1"

# ----------------------------------------------------------------- python ---
cat >"$WORK/helper.py" <<'EOF'
"""presign / mkbucket / delete / blobcheck for sse_bench.sh (boto3, botocore)."""
import base64, hashlib, os, sys
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

def sse_headers(mode):
    if mode != "c":
        return {}
    key = bytes.fromhex(os.environ["SSE_BENCH_CUSTOMER_KEY_HEX"])
    return {"x-amz-server-side-encryption-customer-algorithm": "AES256",
            "x-amz-server-side-encryption-customer-key": base64.b64encode(key).decode(),
            "x-amz-server-side-encryption-customer-key-MD5":
                base64.b64encode(hashlib.md5(key).digest()).decode()}

def presign(endpoint, method, path, mode, expires=7200):
    req = AWSRequest(method=method, url=endpoint + path, headers=sse_headers(mode))
    creds = Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
    S3SigV4QueryAuth(creds, "s3", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
                     expires=expires).add_auth(req)
    if mode == "c" and "x-amz-server-side-encryption-customer-key" not in req.url:
        sys.exit("SSE-C headers are not in X-Amz-SignedHeaders: " + req.url)
    return req.url

def signed(endpoint, method, path):
    import urllib.request
    url = presign(endpoint, method, path, "s3", 600)
    r = urllib.request.Request(url, method=method, data=b"" if method == "PUT" else None)
    with urllib.request.urlopen(r, timeout=60) as resp:
        return resp.status

cmd = sys.argv[1]
if cmd == "urls":        # urls ENDPOINT BUCKET REPS -> "mode rep method url" lines
    endpoint, bucket, reps = sys.argv[2], sys.argv[3], int(sys.argv[4])
    for rep in range(1, reps + 2):   # one spare for the verification round
        for mode in ("s3", "c"):
            for method in ("PUT", "GET"):
                print(mode, rep, method, presign(endpoint, method, f"/{bucket}/{mode}-{rep}", mode))
elif cmd == "headers":   # headers MODE -> curl -H @file lines
    for k, v in sse_headers(sys.argv[2]).items():
        print(f"{k}: {v}")
elif cmd == "mkbucket":
    print(signed(sys.argv[2], "PUT", "/" + sys.argv[3]))
elif cmd == "delete":
    print(signed(sys.argv[2], "DELETE", f"/{sys.argv[3]}/{sys.argv[4]}"))
elif cmd == "blobcheck":  # blobcheck DATA_DIR FILE -> plain|sealed (is the file's first 4 KiB in a blob?)
    data_dir, src = sys.argv[2], sys.argv[3]
    with open(src, "rb") as f:
        probe = f.read(4096)
    found = False
    for d, _, files in os.walk(os.path.join(data_dir, "blobs")):
        for name in files:
            with open(os.path.join(d, name), "rb") as f:
                if probe in f.read(1 << 20):
                    found = True
    print("plain" if found else "sealed")
else:
    sys.exit("unknown command " + cmd)
EOF

# ---------------------------------------------------------------- servers ---
AWS_ACCESS_KEY_ID="ssebench$(openssl rand -hex 6)"
AWS_SECRET_ACCESS_KEY=$(openssl rand -hex 20)
AWS_DEFAULT_REGION=$REGION
SSE_BENCH_CUSTOMER_KEY_HEX=$(openssl rand -hex 32)   # a throwaway SSE-C key
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION SSE_BENCH_CUSTOMER_KEY_HEX
PASSPHRASE_FILE="$WORK/passphrase"
(umask 077; openssl rand -hex 24 >"$PASSPHRASE_FILE")
"$PY" "$WORK/helper.py" headers c >"$WORK/ssec-headers.txt"
chmod 600 "$WORK/ssec-headers.txt"

server_env() { # name -> env assignments for `env`
  local e=(STRONGROOM_ACCESS_KEY="$AWS_ACCESS_KEY_ID" STRONGROOM_SECRET_KEY="$AWS_SECRET_ACCESS_KEY")
  [[ $1 == null ]] && e+=(STRONGROOM_BENCH_NULL_AEAD_OK=1)
  printf '%s\n' "${e[@]}"
}
start_server() { # name
  local name=$1 dir="$WORK/$1" out err
  mkdir -p "$dir"
  DATA[$name]="$dir/data"
  out="$dir/server.out" err="$dir/server.err"
  mapfile -t envs < <(server_env "$name")
  local args=(serve --listen 127.0.0.1:0 --data-dir "$dir/data" --key-dir "$dir/keys"
              --access-log /dev/null --allow-insecure-sse-on-loopback)
  if [[ $START_MODE == init ]]; then
    env "${envs[@]}" STRONGROOM_PASSPHRASE="$(cat "$PASSPHRASE_FILE")" "${BIN[$name]}" init \
      --data-dir "$dir/data" --key-dir "$dir/keys" </dev/null >"$dir/init.out" 2>&1 ||
      { cat "$dir/init.out" >&2; die "strongroom init failed ($name)"; }
    args+=(--passphrase-file "$PASSPHRASE_FILE")
  else
    args+=(--dev)
  fi
  env "${envs[@]}" "${BIN[$name]}" "${args[@]}" </dev/null >"$out" 2>"$err" &
  PID[$name]=$!
  local ep=""
  for _ in $(seq 1 150); do
    ep=$(sed -n 's/.* listening on \(http:\/\/127\.0\.0\.1:[0-9]*\).*/\1/p' "$out" | head -1)
    [[ -n $ep ]] && break
    kill -0 "${PID[$name]}" 2>/dev/null || { cat "$err" >&2; die "$name server exited at start"; }
    sleep 0.1
  done
  [[ -n $ep ]] || { cat "$err" >&2; die "$name server did not print its address"; }
  ENDPOINT[$name]=$ep
  local status
  status=$("$PY" "$WORK/helper.py" mkbucket "$ep" "$BUCKET" 2>&1) || die "$name: cannot create the bucket: $status"
  log "$name server: ${BIN[$name]} at $ep (pid ${PID[$name]}, $START_MODE start)"
}
start_server normal
start_server null
grep -q 'WARNING: strongroom built with STRONGROOM_BENCH_NULL_AEAD' "$WORK/null/server.err" ||
  die "the null-AEAD server did not print its warning"
if grep -q 'STRONGROOM_BENCH_NULL_AEAD' "$WORK/normal/server.err"; then die "the normal server claims to be null-AEAD"; fi

declare -A URL=()
for name in normal null; do
  while read -r mode rep method url; do URL[$name,$mode,$rep,$method]=$url; done \
    < <("$PY" "$WORK/helper.py" urls "${ENDPOINT[$name]}" "$BUCKET" "$REPS")
done

CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }' || echo 0; }

SIZE_BYTES=$((SIZE_MIB * 1024 * 1024))
SRC="$WORK/object.bin"
head -c "$SIZE_BYTES" /dev/urandom >"$SRC"

FAILURES=()
note_failure() { FAILURES+=("$*"); log "FAILURE: $*"; }
declare -A MB=() TICKS=() OKS=()   # key: name,mode,op -> MB/s samples; CPU ticks; successful requests

# One timed request: op name mode rep. Appends an MB/s sample, adds up server CPU ticks.
run_op() {
  local op=$1 name=$2 mode=$3 rep=$4 hdr=() url code secs bytes t0 cpu
  [[ $mode == c ]] && hdr=(-H "@$WORK/ssec-headers.txt")
  t0=$(cpu_ticks "${PID[$name]}")
  if [[ $op == PUT ]]; then
    url=${URL[$name,$mode,$rep,PUT]}
    read -r code secs bytes < <(curl -sS -o "$WORK/curl-body.txt" --max-time $OP_TIMEOUT "${hdr[@]}" \
      -w '%{http_code} %{time_total} %{size_upload}\n' -T "$SRC" "$url" 2>>"$WORK/curl.err" || echo "000 0 0")
  else
    url=${URL[$name,$mode,$rep,GET]}
    read -r code secs bytes < <(curl -sS -o /dev/null --max-time $OP_TIMEOUT "${hdr[@]}" \
      -w '%{http_code} %{time_total} %{size_download}\n' "$url" 2>>"$WORK/curl.err" || echo "000 0 0")
  fi
  cpu=$(( $(cpu_ticks "${PID[$name]}") - t0 ))
  if [[ $code == 200 && $bytes == "$SIZE_BYTES" ]]; then
    MB[$name,$mode,$op]+=" $(mbps "$SIZE_BYTES" "$secs")"
    # CPU is summed over the rounds: one request is only a few clock ticks.
    TICKS[$name,$mode,$op]=$(( ${TICKS[$name,$mode,$op]:-0} + cpu ))
    OKS[$name,$mode,$op]=$(( ${OKS[$name,$mode,$op]:-0} + 1 ))
  else
    MB[$name,$mode,$op]+=" nan"
    note_failure "$op $name sse-$mode rep $rep: http=$code bytes=$bytes $(head -c 300 "$WORK/curl-body.txt" 2>/dev/null)"
  fi
}

wait_quiet() {
  local waited=0 p
  while :; do
    p=$(psi)
    [[ $p == n/a ]] && return 0
    awk -v p="$p" -v q="$QUIET_PSI" 'BEGIN { exit !(p < q) }' && return 0
    ((waited >= QUIET_WAIT)) && { PRESSURED=$((PRESSURED + 1)); return 0; }
    sleep 2; waited=$((waited + 2))
  done
}

# ----------------------------------------------------------------- rounds ---
log "$REPS rounds: PUT + ${GETS}x GET of $SIZE_MIB MiB, SSE-S3 and SSE-C, on both servers (order alternating)"
PRESSURED=0
for rep in $(seq 1 "$REPS"); do
  wait_quiet
  if ((rep % 2)); then order=(normal null); else order=(null normal); fi
  for mode in s3 c; do
    for name in "${order[@]}"; do run_op PUT "$name" "$mode" "$rep"; done
    for _ in $(seq 1 "$GETS"); do
      for name in "${order[@]}"; do run_op GET "$name" "$mode" "$rep"; done
    done
  done
  line="round $rep (${order[*]}):"
  for mode in s3 c; do for op in PUT GET; do for name in normal null; do
    line+=" $op-$mode-$name=$(awk '{ print $NF }' <<<"${MB[$name,$mode,$op]}")"
  done; done; done
  log "$line MB/s"
  for name in normal null; do for mode in s3 c; do
    "$PY" "$WORK/helper.py" delete "${ENDPOINT[$name]}" "$BUCKET" "$mode-$rep" >/dev/null 2>&1 ||
      note_failure "cannot delete $mode-$rep on $name"
  done; done
done

# Same-run reference: OpenSSL's own AES-256-GCM and MD5 speed on 16 KiB
# blocks (the chunk size), one core, in 10^6 B/s.
ossl_speed() { # args... -> MB/s
  openssl speed -seconds 2 -bytes 16384 "$@" 2>/dev/null | awk 'END { sub(/k$/, "", $NF); printf "%.0f", $NF / 1000 }'
}
AES_SEAL_MBPS=$(ossl_speed -evp aes-256-gcm)
AES_OPEN_MBPS=$(ossl_speed -decrypt -evp aes-256-gcm)
MD5_MBPS=$(ossl_speed -evp md5)
log "openssl speed, 16 KiB blocks: AES-256-GCM seal $AES_SEAL_MBPS MB/s, open $AES_OPEN_MBPS MB/s, MD5 $MD5_MBPS MB/s"

# ------------------------------------------------------------ verification ---
# Untimed: every case round-trips, and the null build really stores plaintext
# (the switch is in effect) while the normal one does not.
VERIFY=()
vrep=$((REPS + 1))
for name in normal null; do
  for mode in s3 c; do
    hdr=(); [[ $mode == c ]] && hdr=(-H "@$WORK/ssec-headers.txt")
    curl -sS -o /dev/null --max-time $OP_TIMEOUT "${hdr[@]}" -T "$SRC" "${URL[$name,$mode,$vrep,PUT]}" 2>>"$WORK/curl.err" || true
    if curl -sS -f --max-time $OP_TIMEOUT "${hdr[@]}" "${URL[$name,$mode,$vrep,GET]}" 2>>"$WORK/curl.err" | cmp -s - "$SRC"; then
      VERIFY+=("$name sse-$mode round trip identical: yes")
    else
      VERIFY+=("$name sse-$mode round trip identical: NO"); note_failure "$name sse-$mode round trip differs"
    fi
  done
  stored=$("$PY" "$WORK/helper.py" blobcheck "${DATA[$name]}" "$SRC")
  VERIFY+=("$name blobs hold the plaintext: $([[ $stored == plain ]] && echo yes || echo no)")
done
[[ ${VERIFY[*]} == *"normal blobs hold the plaintext: no"* ]] || note_failure "the normal server stored plaintext"
[[ ${VERIFY[*]} == *"null blobs hold the plaintext: yes"* ]] || note_failure "the null-AEAD server encrypted (switch not in effect?)"

ERR_LINES=""
for name in normal null; do
  n=$(grep -cv 'WARNING: strongroom built with STRONGROOM_BENCH_NULL_AEAD\|development\|dev mode\|^$' "$WORK/$name/server.err" || true)
  ERR_LINES+="$name: $n; "
done

# ---------------------------------------------------------------- summary ---
cpu_per_gib() { # name mode op -> server CPU seconds per GiB over all successful requests
  awk -v t="${TICKS[$1,$2,$3]:-0}" -v n="${OKS[$1,$2,$3]:-0}" -v hz="$CLK_TCK" -v b="$SIZE_BYTES" \
    'BEGIN { if (n == 0) print "nan"; else printf "%.2f", t / hz / (n * b / 1073741824) }'
}
RUN_SECS=$(awk -v a="$RUN_START" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }')
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
PSI_END=$(psi)
TABLE="| Case | normal MB/s, median (min-max) | null-AEAD MB/s, median (min-max) | ratio normal/null | server CPU s/GiB normal / null | CPU ratio null/normal | expected from openssl speed |
| --- | --- | --- | --- | --- | --- | --- |"
TEXT=$(printf '%-12s %28s %28s %6s %22s %9s %8s\n' case "normal MB/s med (min-max)" "null MB/s med (min-max)" ratio "CPU s/GiB normal/null" "CPU ratio" expected)
declare -A RATIO=()
for mode in s3 c; do
  for op in PUT GET; do
    # shellcheck disable=SC2086
    nm=$(median ${MB[normal,$mode,$op]}); nr=$(minmax ${MB[normal,$mode,$op]})
    # shellcheck disable=SC2086
    zm=$(median ${MB[null,$mode,$op]}); zr=$(minmax ${MB[null,$mode,$op]})
    nc=$(cpu_per_gib normal "$mode" "$op"); zc=$(cpu_per_gib null "$mode" "$op")
    r=$(ratio "$nm" "$zm")
    RATIO[$mode,$op]=$r
    cr=$(ratio "$zc" "$nc")
    # If the server were one CPU-bound pipeline, the AEAD would add
    # 1 GiB / (OpenSSL's AES-GCM speed) to the null build's CPU per GiB.
    aes=$AES_SEAL_MBPS; [[ $op == GET ]] && aes=$AES_OPEN_MBPS
    expect=$(awk -v z="$zc" -v a="$aes" 'BEGIN { if (z == "nan" || a + 0 == 0) print "n/a"; else { c = 1073.741824 / a; printf "%.2f", z / (z + c) } }')
    label="SSE-$( [[ $mode == s3 ]] && echo S3 || echo C ) $op"
    TABLE+=$'\n'"| $label | $nm ($nr) | $zm ($zr) | **$r** | $nc / $zc | $cr | $expect |"
    TEXT+=$'\n'$(printf '%-12s %28s %28s %6s %22s %9s %8s' "$label" "$nm ($nr)" "$zm ($zr)" "$r" "$nc / $zc" "$cr" "$expect")
  done
done
GOALS=""
for mode in s3 c; do for op in PUT GET; do
  r=${RATIO[$mode,$op]}
  verdict=$(awk -v r="$r" 'BEGIN { if (r == "n/a") print "n/a"; else if (r >= 0.9) print "meets"; else print "BELOW" }')
  GOALS+="- SSE-$( [[ $mode == s3 ]] && echo S3 || echo C ) $op: $r x -> $verdict the 0.9x goal"$'\n'
done; done
echo
echo "SSE benchmark: ${SIZE_MIB} MiB objects, $REPS interleaved rounds ($GETS GETs each), MB/s = 10^6 B/s; ratio = normal / null-AEAD"
echo "$TEXT"
echo
printf '%s' "$GOALS"
printf '%s\n' "${VERIFY[@]}"
echo "openssl speed (16 KiB, one core): AES-256-GCM seal $AES_SEAL_MBPS MB/s, open $AES_OPEN_MBPS MB/s; MD5 $MD5_MBPS MB/s"
echo "rounds started under CPU pressure >= ${QUIET_PSI}% after waiting ${QUIET_WAIT}s: $PRESSURED of $REPS"
echo "load average start/end: $LOAD_START / $LOAD_END; cpu pressure avg10 start/end: $PSI_START / $PSI_END"
((${#FAILURES[@]})) && printf 'failure: %s\n' "${FAILURES[@]}"

MD=${SSE_BENCH_MD-}
if [[ -z ${SSE_BENCH_MD+x} ]]; then
  if ((MD_DEFAULT)); then MD="$ROOT/bench/SSE.md"; else MD="$WORK/SSE.md"; KEEP=1; fi
fi
if [[ -n $MD ]]; then
  GIT_HEAD=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
  GIT_DIRTY=$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null | wc -l)
  CPU_MODEL=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
  FAILTEXT="none"
  ((${#FAILURES[@]})) && FAILTEXT=$(printf -- '- %s\n' "${FAILURES[@]}")
  cat >"$MD" <<EOF
# SSE benchmark: the cost of the AEAD step

Written by \`bench/sse_bench.sh\` on $DATE_START (the run took $RUN_SECS s). Issue #4 item 9:
SSE-S3 and SSE-C PUT/GET of ${SIZE_MIB} MiB objects against the same server built twice, once as
shipped and once with the AEAD step swapped for a plain copy. Goal: normal ≥ 0.9× the
null-AEAD throughput. The script reports; it asserts no number.

Command (from the repository root; builds both binaries first):

\`\`\`
$CMDLINE
\`\`\`

## Results

$TABLE

Goal (≥ 0.9×):

$GOALS
Checks: $(printf '%s; ' "${VERIFY[@]}")server stderr lines besides the expected warnings: $ERR_LINES
rounds started under CPU pressure ≥ ${QUIET_PSI}% (after waiting up to ${QUIET_WAIT} s): $PRESSURED of $REPS.

Failures: $FAILTEXT

## Method

- **Two binaries, one difference.** \`build-sbench\` (Release, \`-DSTRONGROOM_BENCH_NULL_AEAD=OFF\`)
  and \`build-nullaead\` (Release, \`-DSTRONGROOM_BENCH_NULL_AEAD=ON\`), same tree (git $GIT_HEAD,
  $GIT_DIRTY modified tracked files at run time). The option turns \`crypto::AesGcm256::Seal\` into a
  \`memmove\` plus a zero 16-byte tag and \`Open\` into a \`memmove\` that checks nothing. Everything
  else runs unchanged: HTTP parsing and socket I/O, SigV4, the Cobblestone framing (HKDF key
  schedule, commitment, 16 KiB chunking, batching), MD5 for the ETag (second thread), the
  envelope/manifest/metadata seals (through the same copy), the blob write with fsync, the
  catalog transaction. So normal/null is the share of throughput the AEAD costs end to end.
  The null binary refuses to start without \`STRONGROOM_BENCH_NULL_AEAD_OK=1\` and prints a
  warning on every start; CMake refuses the option outside Release builds without tests.
- **Servers.** Both run at once, each on 127.0.0.1:0 with its own fresh data dir on the same
  filesystem, $START_MODE start ($([[ $START_MODE == init ]] && echo "\`strongroom init\` with a passphrase, then \`serve --passphrase-file\`" || echo "\`serve --dev\`")),
  \`--access-log /dev/null --allow-insecure-sse-on-loopback\` (plain HTTP; SSE-C needs no TLS on loopback).
- **Requests.** curl $(curl --version | awk 'NR == 1 { print $2 }') with path-style SigV4 presigned URLs (botocore
  \`S3SigV4QueryAuth\`, UNSIGNED-PAYLOAD). SSE-S3 is the bucket default (no header). SSE-C sends
  the algorithm, key and key-MD5 headers (from a file), which are in X-Amz-SignedHeaders.
  PUT: \`curl -T FILE\` (Content-Length; the server fsyncs the blob before answering). GET:
  \`curl -o /dev/null\` right after (ciphertext in the page cache). Object: ${SIZE_MIB} MiB from /dev/urandom.
- **Interleaving.** $REPS rounds; in each, for SSE-S3 then SSE-C: PUT on both servers, then
  $GETS times a GET on both; the server order alternates between rounds; objects are deleted
  (untimed) after each round. Before each round the script waits (up to ${QUIET_WAIT} s) for CPU
  pressure < ${QUIET_PSI}%. Medians of the $REPS PUT and $((REPS * GETS)) GET samples per case and
  server; MB = 10^6 bytes.
- **CPU ratio and expectation.** "CPU ratio" = CPU per GiB of the null build / of the normal
  build: the throughput ratio a purely CPU-bound server would show, far less noisy than wall
  time on this shared VM. "Expected" = null CPU / (null CPU + 1 GiB / OpenSSL's AES-256-GCM
  speed), the ratio if the AEAD cost exactly what \`openssl speed -evp aes-256-gcm\` (16 KiB
  blocks) says and nothing overlapped: this run measured seal $AES_SEAL_MBPS MB/s, open
  $AES_OPEN_MBPS MB/s (and MD5, which every PUT computes for the ETag, $MD5_MBPS MB/s).
- **Server CPU.** utime+stime of each server process (/proc/PID/stat, ${CLK_TCK} Hz ticks) around
  each request, summed over all rounds of a case and divided by the GiB moved (one request is
  only a few ticks). "AEAD share" = (CPU normal − CPU null) / CPU normal: the part of
  the server's CPU the AES-GCM seal/open takes.
- **Verification (untimed).** One more PUT/GET per case and server compared with \`cmp\`; the data
  dirs are searched for the object's first 4 KiB: the normal server's blobs must not hold it,
  the null server's must (proving the switch is in effect).

## Machine

- $(nproc) vCPU, $CPU_MODEL; kernel $(uname -r); filesystem of the data dirs: $(df -PT "$WORK" | awk 'NR == 2 { print $1 " (" $2 ")" }')
- Load average start/end: $LOAD_START / $LOAD_END; CPU pressure avg10 start/end: $PSI_START / $PSI_END %.
  The client (curl) runs on the same 2 vCPUs as the servers.

See bench/README.md ("SSE benchmark") for what dominates these figures.
EOF
  log "wrote $MD"
fi
exit 0
