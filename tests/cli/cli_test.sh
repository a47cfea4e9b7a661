#!/usr/bin/env bash
# End-to-end tests of `strongroom encrypt|decrypt|inspect|keygen`, run the way
# a user runs them. Usage: cli_test.sh PATH/TO/strongroom
set -u
S=$(readlink -f "${1:?usage: cli_test.sh PATH/TO/strongroom}")
export STRONGROOM_ARGON2_PARAMS=1,8192,1   # cheap KDF for tests; stored in each file
unset STRONGROOM_PASSPHRASE
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
passed=0
failed=0

check() {  # check NAME COMMAND...: the command must succeed
  local name=$1; shift
  if "$@" >"$work/.out" 2>&1; then passed=$((passed + 1)); echo "ok   $name"
  else failed=$((failed + 1)); echo "FAIL $name"; sed 's/^/     /' "$work/.out"; fi
}
fails() {  # fails NAME COMMAND...: exit status 1 and a one-line reason
  local name=$1; shift
  "$@" >"$work/.out" 2>"$work/.err"; local rc=$?
  if [ "$rc" -eq 1 ] && [ "$(wc -l <"$work/.err")" -eq 1 ] && grep -q '^strongroom: ' "$work/.err"; then
    passed=$((passed + 1)); echo "ok   $name ($(cat "$work/.err"))"
  else
    failed=$((failed + 1)); echo "FAIL $name: rc=$rc stderr:"; sed 's/^/     /' "$work/.err"
  fi
}

head -c 3000000 /dev/urandom >plain.bin
: >empty.bin
printf 'correct horse battery staple\n' >pass.txt
printf 'wrong passphrase\n' >wrong.txt
"$S" keygen key.bin
"$S" keygen other.bin

check "keygen makes a 32-byte file with mode 0600" \
  bash -c '[ "$(stat -c %s key.bin)" = 32 ] && [ "$(stat -c %a key.bin)" = 600 ]'
fails "keygen refuses to overwrite" "$S" keygen key.bin

for src in key pass; do
  if [ $src = key ]; then opt=(--key-file key.bin); else opt=(--passphrase-file pass.txt); fi
  check "$src: encrypt then decrypt a 3 MB file" bash -c \
    "'$S' encrypt ${opt[*]} -o c.$src plain.bin && '$S' decrypt ${opt[*]} -o p.$src c.$src && cmp plain.bin p.$src"
  check "$src: empty file round trip" bash -c \
    "'$S' encrypt ${opt[*]} -o e.$src empty.bin && '$S' decrypt ${opt[*]} -o e2.$src e.$src && cmp empty.bin e2.$src"
  check "$src: stdin to stdout round trip through pipes" bash -c \
    "cat plain.bin | '$S' encrypt ${opt[*]} | '$S' decrypt ${opt[*]} | cmp - plain.bin"
  check "$src: ciphertext differs from plaintext and between runs" bash -c \
    "'$S' encrypt ${opt[*]} -o c2.$src plain.bin && ! cmp -s c.$src c2.$src && ! cmp -s <(tail -c +200 c.$src | head -c 100000) <(head -c 100000 plain.bin)"
done

check "passphrase from STRONGROOM_PASSPHRASE" bash -c \
  "STRONGROOM_PASSPHRASE='correct horse battery staple' '$S' decrypt -o env.out c.pass && cmp env.out plain.bin"
check "piped runs print nothing on stderr" bash -c \
  "'$S' encrypt --key-file key.bin -o quiet.sr plain.bin 2>err.txt && [ ! -s err.txt ]"
check "--force overwrites" "$S" encrypt --key-file key.bin --force -o c.key plain.bin

fails "wrong passphrase" "$S" decrypt --passphrase-file wrong.txt -o out1 c.pass
check "wrong passphrase leaves no output" test ! -e out1
fails "wrong key file" "$S" decrypt --key-file other.bin -o out2 c.key
check "wrong key leaves no output" test ! -e out2
fails "key file given for a passphrase file" "$S" decrypt --key-file key.bin -o out3 c.pass
fails "output exists without --force" "$S" decrypt --key-file key.bin -o plain.bin c.key
check "existing output untouched after refusal" cmp plain.bin p.key

size=$(stat -c %s c.key)
head -c $((size - 1)) c.key >trunc1.sr
head -c $((size - 150)) c.key >trunc150.sr
head -c 2000 c.key >trunc2000.sr
cp c.key trailing.sr && printf 'x' >>trailing.sr
cp c.key flipped.sr && printf '\xff' | dd of=flipped.sr bs=1 seek=100000 conv=notrunc status=none
cp c.key flipped_trailer.sr && printf '\x00' | dd of=flipped_trailer.sr bs=1 seek=$((size - 20)) conv=notrunc status=none
cp c.key badmagic.sr && printf 'X' | dd of=badmagic.sr bs=1 seek=0 conv=notrunc status=none
for f in trunc1 trunc150 trunc2000 trailing flipped flipped_trailer badmagic; do
  fails "corrupt input ($f) is refused" "$S" decrypt --key-file key.bin -o out.$f $f.sr
  check "corrupt input ($f) leaves no output" test ! -e out.$f
done
fails "corrupt input on stdout exits 1" bash -c "'$S' decrypt --key-file key.bin flipped.sr >/dev/null"
check "no temporary files are left behind" bash -c '! ls | grep -q strongroom-'

fails "missing input file" "$S" encrypt --key-file key.bin -o x.sr no-such-file
fails "short key file" bash -c "head -c 16 key.bin >short.key; '$S' encrypt --key-file short.key -o y.sr plain.bin"
fails "no passphrase and no terminal" bash -c "'$S' encrypt -o z.sr plain.bin </dev/null"
check "usage errors exit 2" bash -c "'$S' encrypt --bogus 2>/dev/null; [ \$? -eq 2 ]"
check "refuses to write ciphertext to a terminal" bash -c \
  "script -qec \"'$S' encrypt --key-file key.bin plain.bin\" /dev/null | grep -q 'refusing to write ciphertext to a terminal'"

check "passphrase prompt on a terminal, without echo" bash -c \
  "(sleep 1; printf 'tty secret\ntty secret\n'; sleep 1) | script -qec \"'$S' encrypt -o tty.sr plain.bin\" /dev/null >tty.log; \
   STRONGROOM_PASSPHRASE='tty secret' '$S' decrypt -o tty.out tty.sr && cmp tty.out plain.bin && ! grep -q 'tty secret' tty.log"
check "progress bar on a terminal" bash -c \
  "head -c 20000000 /dev/zero >big.bin; script -qec \"'$S' encrypt --key-file key.bin -o big.sr big.bin\" /dev/null | tr '\r' '\n' | grep -q 'encrypting.*100%'"

check "inspect shows fields and no secrets" bash -c \
  "'$S' inspect c.pass >inspect.txt && grep -q 'argon2id:        t=1 m=8192 KiB p=1' inspect.txt && \
   grep -q 'plaintext 3000000 bytes' inspect.txt && grep -q 'agree' inspect.txt && \
   ! grep -qi 'horse' inspect.txt"
fails "inspect of a non-strongroom file" "$S" inspect plain.bin

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
