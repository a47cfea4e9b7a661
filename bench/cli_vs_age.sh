#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Wall time of `strongroom encrypt/decrypt --key-file` against `age` in
# X25519 key/recipient mode (`age -r`, `age -d -i`), and against `cat` (a pure
# I/O copy), on one file of random data, in one run, interleaved.
#
# Comparable modes: strongroom's key-file mode and age's recipient/identity
# mode both skip any password KDF. (age with a passphrase runs scrypt and
# strongroom with a passphrase runs Argon2id: those measure KDF settings, not
# the data path, and are deliberately not compared here.) age encrypts with
# ChaCha20-Poly1305 in 64 KiB chunks; strongroom with AES-256-GCM in 16 KiB
# chunks (docs/FORMAT.md).
#
# Usage: bench/cli_vs_age.sh [SIZE_MIB (default 1024)] [DIR (default /tmp)]
# Env:
#   STRONGROOM_BIN  strongroom binary (default: <repo>/build-bench/src/cli/strongroom)
#   ROUNDS          rounds per mode and direction (default 3)
#   MODES           "stream file" (default), or just one of them
#   QUIET_PSI       before each timed run, wait until the CPU pressure
#                   (/proc/pressure/cpu "some" avg10, %) is below this
#                   (default 25; 100 disables waiting) ...
#   QUIET_MAX_WAIT  ... but at most this many seconds (default 120)
#
# Two modes, each measured for all three tools:
#   stream  `tool < IN > OUT` for everyone: nobody fsyncs. Measures the data
#           path (CPU + page-cache I/O). This is the headline comparison.
#   file    strongroom `-o OUT IN`, which writes a temporary file, fsyncs it
#           and the directory, then renames (AtomicFile); `age -o OUT IN`;
#           `cat IN > OUT`. age and cat do not fsync on their own, so for a
#           like-for-like durable write each of them is followed by
#           `sync OUT` INSIDE the timed region. Measures what a user waits
#           for, mostly disk write-back.
#
# Fairness: every timed run starts after an untimed `sync` (no write-back of a
# previous run's dirty pages leaks into the next run) with its output file
# deleted. The input stays in the page cache for all tools alike. Within a
# round the order of the tools rotates (sr,age,cat / age,cat,sr / cat,sr,age)
# so no tool always runs first. No run is dropped; medians are reported.
# Wall time is the headline; the user+sys CPU time of each run is reported
# too, because on a shared VM other load inflates wall time but hardly CPU
# time. The machine's load average and CPU pressure before and after are
# printed: distrust wall-time figures taken under load.
# Decrypted outputs are compared with the input (cmp) once per tool.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
size_mib="${1:-1024}"
base_dir="${2:-/tmp}"
sr="${STRONGROOM_BIN:-$repo/build-bench/src/cli/strongroom}"
rounds="${ROUNDS:-3}"
modes="${MODES:-stream file}"

die() { echo "cli_vs_age: $*" >&2; exit 1; }
[ -x "$sr" ] || die "no strongroom binary at $sr (set STRONGROOM_BIN)"
for tool in age age-keygen openssl python3 cmp; do
  command -v "$tool" >/dev/null || die "needs $tool"
done
[[ "$size_mib" =~ ^[0-9]+$ ]] && [ "$size_mib" -gt 0 ] || die "SIZE_MIB must be a positive integer"

# Disk: the input, one ciphertext per tool, one output at a time (+10 %).
need_kib=$(( size_mib * 1024 * 4 * 11 / 10 ))
avail_kib=$(df -Pk "$base_dir" | awk 'NR == 2 { print $4 }')
[ "$avail_kib" -gt "$need_kib" ] ||
  die "$base_dir has $((avail_kib / 1024)) MiB free, needs about $((need_kib / 1024)) MiB"

work="$(mktemp -d "$base_dir/sr-vs-age.XXXXXX")"
trap 'rm -rf "$work"' EXIT
in="$work/input.bin"
bytes=$(( size_mib * 1048576 ))

echo "cli_vs_age: $size_mib MiB of random data in $work" >&2
# AES-256-CTR keystream of zeros: fast, incompressible, realistic content.
# (openssl dies of SIGPIPE when head has enough; that is expected.)
{ openssl enc -aes-256-ctr -pass pass:x -nosalt -pbkdf2 < /dev/zero 2>/dev/null || true; } |
  head -c "$bytes" > "$in"
[ "$(stat -c %s "$in")" -eq "$bytes" ] || die "could not create the input"

"$sr" keygen "$work/sr.key"
age-keygen -o "$work/age.key" 2>/dev/null
recipient="$(age-keygen -y "$work/age.key")"

# Ciphertexts for the decryption rounds (untimed).
"$sr" encrypt --key-file "$work/sr.key" -o "$work/sr.enc" "$in"
age -r "$recipient" -o "$work/age.enc" "$in"

# ---------------------------------------------------------------- commands
# $1 = output path. Each function is one timed run.
enc_stream_sr()  { "$sr" encrypt --key-file "$work/sr.key" < "$in" > "$1"; }
enc_stream_age() { age -r "$recipient" < "$in" > "$1"; }
enc_stream_cat() { cat < "$in" > "$1"; }
dec_stream_sr()  { "$sr" decrypt --key-file "$work/sr.key" < "$work/sr.enc" > "$1"; }
dec_stream_age() { age -d -i "$work/age.key" < "$work/age.enc" > "$1"; }
dec_stream_cat() { cat < "$work/sr.enc" > "$1"; }

enc_file_sr()  { "$sr" encrypt --key-file "$work/sr.key" -o "$1" "$in"; }
enc_file_age() { age -r "$recipient" -o "$1" "$in" && sync "$1"; }
enc_file_cat() { cat "$in" > "$1" && sync "$1"; }
dec_file_sr()  { "$sr" decrypt --key-file "$work/sr.key" -o "$1" "$work/sr.enc"; }
dec_file_age() { age -d -i "$work/age.key" -o "$1" "$work/age.enc" && sync "$1"; }
dec_file_cat() { cat "$work/sr.enc" > "$1" && sync "$1"; }

results="$work/results.txt"   # mode dir tool wall_ns cpu_ticks
: > "$results"

# user + sys CPU time of this shell's waited-for children, in clock ticks
# (/proc/PID/stat fields 16 and 17). CPU time is far less disturbed than wall
# time when other work shares the machine, so both are reported.
children_cpu() { awk '{ print $16 + $17 }' "/proc/$$/stat"; }
clk_tck=$(getconf CLK_TCK)

quiet_psi="${QUIET_PSI:-25}"
quiet_max_wait="${QUIET_MAX_WAIT:-120}"
cpu_psi() {  # integer part of the 10 s CPU pressure, or 0 if unavailable
  if [ -r /proc/pressure/cpu ]; then
    awk '/^some/ { split($2, a, "="); print int(a[2]) }' /proc/pressure/cpu
  else
    echo 0
  fi
}
wait_quiet() {  # other work on a shared VM disturbs wall time: wait for a lull
  local waited=0
  while [ "$(cpu_psi)" -ge "$quiet_psi" ] && [ "$waited" -lt "$quiet_max_wait" ]; do
    sleep 2
    waited=$(( waited + 2 ))
  done
}
noisy_runs=0

timed() {  # timed MODE DIR TOOL
  local fn="${2}_${1}_${3}" out="$work/out.$3"
  rm -f "$out"
  sync
  wait_quiet
  local psi
  psi=$(cpu_psi)
  [ "$psi" -lt "$quiet_psi" ] || noisy_runs=$(( noisy_runs + 1 ))
  local t0 t1 c0 c1
  c0=$(children_cpu)
  t0=$(date +%s%N)
  "$fn" "$out" || die "$fn failed"
  t1=$(date +%s%N)
  c1=$(children_cpu)
  echo "$1 $2 $3 $(( t1 - t0 )) $(( c1 - c0 ))" >> "$results"
  printf '  %-6s %-3s %-4s wall %7.3f s  cpu %6.2f s  (cpu pressure at start %s%%)\n' \
    "$1" "$2" "$3" \
    "$(awk -v n="$(( t1 - t0 ))" 'BEGIN { print n / 1e9 }')" \
    "$(awk -v c="$(( c1 - c0 ))" -v h="$clk_tck" 'BEGIN { print c / h }')" "$psi" >&2
}

machine_load() {
  local psi=""
  [ -r /proc/pressure/cpu ] && psi=", cpu pressure $(awk '/^some/ { print $2 }' /proc/pressure/cpu)"
  echo "load average $(cut -d' ' -f1-3 /proc/loadavg)$psi"
}
load_before="$(machine_load)"

verified_sr=0
verified_age=0
orders=("sr age cat" "age cat sr" "cat sr age")
for mode in $modes; do
  for dir in enc dec; do
    for r in $(seq 0 $(( rounds - 1 ))); do
      for tool in ${orders[$(( r % 3 ))]}; do
        timed "$mode" "$dir" "$tool"
        if [ "$dir" = dec ] && [ "$tool" = sr ] && [ "$verified_sr" = 0 ]; then
          cmp "$in" "$work/out.sr" || die "strongroom decrypt output differs from the input"
          verified_sr=1
        fi
        if [ "$dir" = dec ] && [ "$tool" = age ] && [ "$verified_age" = 0 ]; then
          cmp "$in" "$work/out.age" || die "age decrypt output differs from the input"
          verified_age=1
        fi
        rm -f "$work/out.$tool"
      done
    done
  done
done
echo "cli_vs_age: decrypted outputs verified with cmp (strongroom: $verified_sr, age: $verified_age)" >&2
load_after="$(machine_load) ; runs started under cpu pressure >= ${quiet_psi}%: $noisy_runs"

python3 - "$results" "$bytes" "$size_mib" "$rounds" "$sr" "$clk_tck" "$load_before" "$load_after" <<'PY'
import statistics, sys
path, nbytes, size_mib, rounds, sr, tck, before, after = sys.argv[1:9]
nbytes, tck = int(nbytes), int(tck)
t, cpu = {}, {}
for line in open(path):
    mode, d, tool, ns, ticks = line.split()
    t.setdefault((mode, d, tool), []).append(int(ns) / 1e9)
    cpu.setdefault((mode, d, tool), []).append(int(ticks) / tck)
print()
print(f"strongroom ({sr}) vs age (X25519 recipient) vs cat: {size_mib} MiB, "
      f"{rounds} interleaved rounds, median wall time; MB/s = 10^6 bytes/s of plaintext")
print(f"machine before: {before}; after: {after}")
names = {"sr": "strongroom --key-file", "age": "age -r / -d -i", "cat": "cat (I/O copy)"}
for mode in ("stream", "file"):
    if not any(k[0] == mode for k in t):
        continue
    print()
    print("mode stream: tool < IN > OUT, no fsync" if mode == "stream" else
          "mode file: strongroom -o (fsync + rename); age -o + sync OUT; cat > OUT + sync OUT")
    hdr = (f"{'dir':8} {'tool':22} {'median s':>9} {'min s':>7} {'max s':>7} {'MB/s':>7} {'of cat':>7}"
           f" {'cpu s':>7}")
    print(hdr)
    print("-" * len(hdr))
    for d, dname in (("enc", "encrypt"), ("dec", "decrypt")):
        med = {tool: statistics.median(t[(mode, d, tool)]) for tool in ("sr", "age", "cat")}
        for tool in ("sr", "age", "cat"):
            v = t[(mode, d, tool)]
            c = statistics.median(cpu[(mode, d, tool)])
            print(f"{dname:8} {names[tool]:22} {med[tool]:9.3f} {min(v):7.3f} {max(v):7.3f} "
                  f"{nbytes / med[tool] / 1e6:7.0f} {med['cat'] / med[tool]:6.0%} {c:7.2f}")
        csr = statistics.median(cpu[(mode, d, "sr")])
        cage = statistics.median(cpu[(mode, d, "age")])
        print(f"{'':8} age_time / strongroom_time = {med['age'] / med['sr']:.2f} "
              f"({'strongroom faster' if med['age'] > med['sr'] else 'age faster'}); "
              f"on CPU time (user+sys): {cage / csr:.2f}")
PY
