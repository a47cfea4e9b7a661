#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Runs bench/format_bench with interleaved repetitions and prints the format's
# throughput as a RATIO of the raw AES-256-GCM baseline measured in the same
# run (median of the repetitions, and best-of/max). Goal: >= 0.9x of raw.
#
# Usage: bench/run_format_bench.sh [extra Google Benchmark flags...]
# Env:
#   FORMAT_BENCH_BIN  benchmark binary (default: <repo>/build-bench/bench/format_bench)
#   REPETITIONS       repetitions per benchmark (default 5)
#   MIN_TIME          --benchmark_min_time in seconds (default 0.5)
#   OUT_JSON          keep the raw JSON here (default: a temp file, deleted)
#
# Only reports; never fails on a ratio (timings on a shared VM are not
# assertions). Exits non-zero only if the benchmark itself fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
bin="${FORMAT_BENCH_BIN:-$repo/build-bench/bench/format_bench}"
reps="${REPETITIONS:-5}"
min_time="${MIN_TIME:-0.5}"

if [ ! -x "$bin" ]; then
  echo "run_format_bench: no benchmark binary at $bin" >&2
  echo "build it: cmake -S $repo -B $repo/build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release" \
       "-DSTRONGROOM_BUILD_TESTS=OFF -DSTRONGROOM_WERROR=OFF &&" \
       "cmake --build $repo/build-bench --target format_bench" >&2
  exit 1
fi
command -v python3 >/dev/null || { echo "run_format_bench: needs python3" >&2; exit 1; }

workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT

common=(--benchmark_min_time="$min_time" --benchmark_format=console)
if "$bin" --help 2>&1 | grep -q -- '--benchmark_enable_random_interleaving'; then
  # One process; Google Benchmark shuffles every (benchmark, repetition) run,
  # so slow phases of the VM hit baseline and format alike.
  echo "run_format_bench: $reps interleaved repetitions (random interleaving), min_time ${min_time}s" >&2
  "$bin" "${common[@]}" \
    --benchmark_repetitions="$reps" \
    --benchmark_enable_random_interleaving=true \
    --benchmark_out="$workdir/run0.json" --benchmark_out_format=json "$@" >&2
else
  # Older library: interleave by running the whole suite REPETITIONS times.
  echo "run_format_bench: no random interleaving; running the suite $reps times" >&2
  for i in $(seq 1 "$reps"); do
    "$bin" "${common[@]}" --benchmark_repetitions=1 \
      --benchmark_out="$workdir/run$i.json" --benchmark_out_format=json "$@" >&2
  done
fi

if [ -n "${OUT_JSON:-}" ]; then
  python3 - "$OUT_JSON" "$workdir"/run*.json <<'PY'
import json, sys
out, files = sys.argv[1], sys.argv[2:]
merged = None
for f in files:
    d = json.load(open(f))
    if merged is None:
        merged = d
    else:
        merged["benchmarks"] += d["benchmarks"]
json.dump(merged, open(out, "w"), indent=1)
PY
  echo "run_format_bench: raw JSON kept in $OUT_JSON" >&2
fi

python3 - "$workdir"/run*.json <<'PY'
import json, statistics, sys

samples = {}   # run_name -> list of (bytes/s, items/s)
context = None
for path in sys.argv[1:]:
    d = json.load(open(path))
    context = context or d.get("context", {})
    for b in d["benchmarks"]:
        if b.get("run_type", "iteration") != "iteration" or b.get("error_occurred"):
            continue
        samples.setdefault(b["run_name"], []).append(
            (b.get("bytes_per_second", 0.0), b.get("items_per_second", 0.0)))

def stats(name, key=0):
    v = [s[key] for s in samples.get(name, [])]
    if not v:
        return None
    return statistics.median(v), max(v), min(v), len(v)

MiB = 1 << 20
def fmt_rate(x):
    return f"{x / 1e6:8.0f} MB/s"

rows = []
for size, label in ((MiB, "1 MiB"), (64 * MiB, "64 MiB")):
    seal = f"BM_RawEvpSeal16K/{size}"
    open_ = f"BM_RawEvpOpen16K/{size}"
    rnd = f"BM_RawEvpOpenRandom4K/{size}"
    rows += [
        ("encrypt", label, "(floor) raw + copy-out", f"BM_RawEvpSeal16K_CopyOut/{size}", seal, 0),
        ("encrypt", label, "StreamWriter -> buffer", f"BM_StreamEncrypt/size:{size}/buffer:1", seal, 0),
        ("encrypt", label, "StreamWriter -> discard", f"BM_StreamEncrypt/size:{size}/buffer:0", seal, 0),
        ("encrypt", label, "EncryptFile (key file)", f"BM_FileEncrypt/{size}", seal, 0),
        ("decrypt", label, "(floor) raw + copy-in", f"BM_RawEvpOpen16K_CopyIn/{size}", open_, 0),
        ("decrypt", label, "StreamReader", f"BM_StreamDecrypt/{size}", open_, 0),
        ("decrypt", label, "RangeReader 1 MiB ranges", f"BM_RangeRead1M/{size}", open_, 0),
        ("decrypt", label, "DecryptFile (key file)", f"BM_FileDecrypt/{size}", open_, 0),
        ("range4K", label, "RangeReader 4K, shared", f"BM_RangeRead4KRandom/size:{size}/fresh:0", rnd, 1),
        ("range4K", label, "RangeReader 4K, fresh", f"BM_RangeRead4KRandom/size:{size}/fresh:1", rnd, 1),
    ]

n_reps = max((len(v) for v in samples.values()), default=0)
cpu = (context or {}).get("num_cpus", "?")
print()
print(f"format/raw throughput ratios ({n_reps} repetitions, {cpu} CPUs; "
      "median = median(format)/median(raw), max = best(format)/best(raw))")
print()
hdr = f"{'dir':8} {'set':6} {'format path':26} {'format median':>15} {'raw median':>15} {'ratio med':>9} {'ratio max':>9} {'spread':>7}"
print(hdr)
print("-" * len(hdr))
core = []
for direction, label, what, fmt_name, raw_name, key in rows:
    f, r = stats(fmt_name, key), stats(raw_name, key)
    if f is None or r is None:
        continue
    med = f[0] / r[0]
    best = f[1] / r[1]
    # Spread of the format samples: (max - min) / median, a noise indicator.
    spread = (f[1] - f[2]) / f[0] if f[0] else 0.0
    if key == 1:
        fm, rm = f"{f[0] / 1e3:9.1f} k/s", f"{r[0] / 1e3:9.1f} k/s"
    else:
        fm, rm = fmt_rate(f[0]), fmt_rate(r[0])
    print(f"{direction:8} {label:6} {what:26} {fm:>15} {rm:>15} {med:8.2f}x {best:8.2f}x {spread:6.0%}")
    if what in ("StreamWriter -> buffer", "StreamReader"):
        core.append((direction, label, med))
print()
print("raw = BM_RawEvpSeal16K (encrypt), BM_RawEvpOpen16K (decrypt), BM_RawEvpOpenRandom4K (range4K, items/s)")
print("(floor) rows: raw plus the one copy a ByteSink/ByteSource interface implies (what read/write(2) costs in the CLI)")
print()
for direction, label, med in core:
    verdict = "meets" if med >= 0.9 else "BELOW"
    print(f"goal >= 0.90x: {direction} {label:6} StreamWriter/Reader median {med:.2f}x -> {verdict}")
print()
print("components (median):")
for name, what in ((f"BM_Memcpy16K/{MiB}", "memcpy, 1 MiB set"), (f"BM_Memcpy16K/{64 * MiB}", "memcpy, 64 MiB set"),
                   ("BM_Cleanse16K", "crypto::Cleanse (OPENSSL_cleanse)")):
    st = stats(name)
    if st:
        print(f"  {what:36} {st[0] / 1e6:8.0f} MB/s")
st = stats("BM_ChunkCipherDerive", 1)
if st:
    print(f"  {'ChunkCipher::Derive (per stream)':36} {1e6 / st[0]:8.2f} us")
PY
