#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Peak resident memory (GNU time %M, KiB) of `strongroom encrypt/decrypt` on a
# large file of random data: key-file mode file->file and through real pipes
# (stdin and stdout both pipes), plus passphrase mode with the default
# Argon2id costs, plus an empty input as the process baseline.
#
# Goal (issue): the data path stays under 64 MiB whatever the file size.
# Passphrase mode is reported separately: Argon2id with the format's default
# m = 65536 KiB allocates 64 MiB by design (docs/FORMAT.md §7), before any
# data is processed, so its peak is ~64 MiB + the process baseline. That
# memory is freed before the data path starts; it is the KDF's cost, not the
# data path's.
#
# Usage: bench/cli_rss.sh [SIZE_MIB (default 4096)] [DIR (default /tmp)]
# Env: STRONGROOM_BIN (default: <repo>/build-bench/src/cli/strongroom)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
size_mib="${1:-4096}"
base_dir="${2:-/tmp}"
sr="${STRONGROOM_BIN:-$repo/build-bench/src/cli/strongroom}"
gnu_time=/usr/bin/time

die() { echo "cli_rss: $*" >&2; exit 1; }
[ -x "$sr" ] || die "no strongroom binary at $sr (set STRONGROOM_BIN)"
[ -x "$gnu_time" ] || die "needs GNU time at $gnu_time (package 'time')"
command -v openssl >/dev/null || die "needs openssl"
[[ "$size_mib" =~ ^[0-9]+$ ]] && [ "$size_mib" -gt 0 ] || die "SIZE_MIB must be a positive integer"

# Disk: input + ciphertext (+ a decrypted copy in file mode) + 10 %.
need_kib=$(( size_mib * 1024 * 3 * 11 / 10 ))
avail_kib=$(df -Pk "$base_dir" | awk 'NR == 2 { print $4 }')
[ "$avail_kib" -gt "$need_kib" ] ||
  die "$base_dir has $((avail_kib / 1024)) MiB free, needs about $((need_kib / 1024)) MiB"

work="$(mktemp -d "$base_dir/sr-rss.XXXXXX")"
trap 'rm -rf "$work"' EXIT
in="$work/input.bin"
bytes=$(( size_mib * 1048576 ))
echo "cli_rss: $size_mib MiB of random data in $work" >&2
{ openssl enc -aes-256-ctr -pass pass:x -nosalt -pbkdf2 < /dev/zero 2>/dev/null || true; } |
  head -c "$bytes" > "$in"
[ "$(stat -c %s "$in")" -eq "$bytes" ] || die "could not create the input"
: > "$work/empty.bin"

"$sr" keygen "$work/sr.key"
printf 'correct horse battery staple\n' > "$work/pass.txt"
unset STRONGROOM_ARGON2_PARAMS STRONGROOM_PASSPHRASE  # the format's default costs

rows="$work/rows.txt"
: > "$rows"
rss() {  # rss LABEL -- command... ; stdin/stdout as set up by the caller
  local label="$1"; shift
  "$gnu_time" -f %M -o "$work/rss.txt" "$@" || die "$label failed"
  echo "$label|$(cat "$work/rss.txt")" >> "$rows"
  echo "  $label: $(cat "$work/rss.txt") KiB" >&2
}
key=(--key-file "$work/sr.key")
pass=(--passphrase-file "$work/pass.txt")

# Process baseline: the same binary and libraries, no data path at all.
rss "baseline: strongroom keygen (no data path)" "$sr" keygen "$work/baseline.key"
# Fixed cost of the data path: its buffers, but no data.
rss "key file, empty input, encrypt file->file" "$sr" encrypt "${key[@]}" -o "$work/empty.enc" "$work/empty.bin"
rss "key file, empty input, decrypt file->file" "$sr" decrypt "${key[@]}" -o "$work/empty.dec" "$work/empty.enc"

# Key file, file -> file.
rss "key file, ${size_mib} MiB, encrypt file->file" "$sr" encrypt "${key[@]}" -o "$work/k.enc" "$in"
rss "key file, ${size_mib} MiB, decrypt file->file" "$sr" decrypt "${key[@]}" -o "$work/k.dec" "$work/k.enc"
cmp "$in" "$work/k.dec" || die "file->file round trip differs"
rm -f "$work/k.dec"

# Key file, real pipes on both sides. The encrypted pipe output is checked
# by decrypting it through a pipe straight into cmp.
cat "$in" | rss "key file, ${size_mib} MiB, encrypt pipe->pipe" "$sr" encrypt "${key[@]}" | cat > "$work/p.enc"
cat "$work/p.enc" | rss "key file, ${size_mib} MiB, decrypt pipe->pipe" "$sr" decrypt "${key[@]}" |
  cmp - "$in" || die "pipe round trip differs"
rm -f "$work/p.enc"

# Passphrase, default Argon2id (t=3, m=64 MiB, p=4). Not part of the
# data-path goal: see the header comment.
rss "passphrase (Argon2id m=64 MiB), empty input, encrypt file->file" "$sr" encrypt "${pass[@]}" -o "$work/empty.penc" "$work/empty.bin"
rss "passphrase (Argon2id m=64 MiB), ${size_mib} MiB, encrypt file->file" "$sr" encrypt "${pass[@]}" -o "$work/p.enc" "$in"
rm -f "$work/k.enc"
rss "passphrase (Argon2id m=64 MiB), ${size_mib} MiB, decrypt file->file" "$sr" decrypt "${pass[@]}" -o "$work/p.dec" "$work/p.enc"
cmp "$in" "$work/p.dec" || die "passphrase round trip differs"

echo
echo "strongroom peak RSS (GNU time %M), input $size_mib MiB of random data"
printf '%-68s %10s %8s\n' "case" "KiB" "MiB"
printf '%.0s-' {1..88}; echo
base=0
while IFS='|' read -r label kib; do
  printf '%-68s %10s %8.1f\n' "$label" "$kib" "$(awk -v k="$kib" 'BEGIN { print k / 1024 }')"
  case "$label" in "baseline:"*) base=$kib ;; esac
done < "$rows"
echo
echo "data-path increment (largest key-file case minus the keygen baseline of $base KiB):"
awk -F'|' -v b="$base" -v s="$size_mib MiB" '
  index($1, "key file, " s) == 1 { d = $2 - b; if (d > m) m = d }
  END { printf "  %d KiB = %.1f MiB (goal: data path < 64 MiB)\n", m, m / 1024 }' "$rows"
