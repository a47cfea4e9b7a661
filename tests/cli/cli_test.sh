#!/usr/bin/env bash
# End-to-end tests of `strongroom encrypt|decrypt|inspect|keygen` and of the
# keyring and key commands (`init`, `unseal`, `serve` start-up, `user add`,
# `key ...`), run the way a user runs them. Usage: cli_test.sh PATH/TO/strongroom
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

# ---------------------------------------------------------------- keyring
# init, unseal and the key commands. Servers listen on 127.0.0.1:0 and are
# stopped with SIGTERM.
usage() {  # usage NAME COMMAND...: exit status 2
  local name=$1; shift
  "$@" >"$work/.out" 2>&1; local rc=$?
  if [ "$rc" -eq 2 ]; then passed=$((passed + 1)); echo "ok   $name"
  else failed=$((failed + 1)); echo "FAIL $name: rc=$rc"; sed 's/^/     /' "$work/.out"; fi
}
fails_with() {  # fails_with NAME REGEX COMMAND...: as fails, and the line matches REGEX
  local name=$1 pattern=$2; shift 2
  fails "$name" "$@"
  if ! grep -Eq -- "$pattern" "$work/.err"; then
    passed=$((passed - 1)); failed=$((failed + 1)); echo "FAIL $name: the message lacks /$pattern/"
  fi
}
D=(--data-dir srv/data --key-dir srv/keys)

check "init without a passphrase or terminal generates one and prints it once" bash -c \
  "'$S' init ${D[*]} </dev/null >init.txt 2>init.err && [ ! -s init.err ] && \
   [ \"\$(grep -c '^  passphrase: ' init.txt)\" = 1 ] && \
   p=\$(sed -n 's/^  passphrase: //p' init.txt) && [ \${#p} -ge 40 ] && \
   [ \"\$(grep -o -- \"\$p\" init.txt | wc -l)\" = 1 ] && printf '%s\n' \"\$p\" >gen.pass"
check "init prints the admin access key and secret once" bash -c \
  "grep -q '^  export AWS_ACCESS_KEY_ID=[A-Z2-7]\{20\}$' init.txt && \
   [ \"\$(grep -c 'AWS_SECRET_ACCESS_KEY=' init.txt)\" = 1 ]"
check "the keyring is root.sealed, 0600, in a 0700 directory" bash -c \
  "[ \"\$(stat -c %a srv/keys/root.sealed)\" = 600 ] && [ \"\$(stat -c %a srv/keys)\" = 700 ] && \
   [ ! -e srv/keys/root.key ]"
check "the generated passphrase opens root.sealed (a 32-byte root key)" bash -c \
  "'$S' decrypt --passphrase-file gen.pass -o root.bin srv/keys/root.sealed && \
   [ \"\$(stat -c %s root.bin)\" = 32 ]"
fails "the wrong passphrase does not open root.sealed" \
  "$S" decrypt --passphrase-file wrong.txt -o root2.bin srv/keys/root.sealed
cp srv/keys/root.sealed sealed.before
fails_with "init refuses when a keyring exists" 'already exists' "$S" init "${D[@]}"
check "a refused init leaves the keyring alone" cmp sealed.before srv/keys/root.sealed
fails "init refuses a development key directory" bash -c \
  "mkdir -p devk && head -c 32 /dev/urandom >devk/root.key && chmod 600 devk/root.key && \
   '$S' init --data-dir devd --key-dir devk </dev/null"
fails "init refuses a short passphrase" bash -c \
  "STRONGROOM_PASSPHRASE=short '$S' init --data-dir s2/data --key-dir s2/keys"
check "init with --passphrase-fd uses that passphrase and prints none" bash -c \
  "'$S' init --data-dir s3/data --key-dir s3/keys --passphrase-fd 3 3<pass.txt </dev/null >fd.txt && \
   ! grep -q 'passphrase:' fd.txt && ! grep -q horse fd.txt && \
   '$S' decrypt --passphrase-file pass.txt -o fdroot.bin s3/keys/root.sealed"
check "init asks twice on a terminal, without echo" bash -c \
  "(sleep 1; printf 'terminal passphrase\nterminal passphrase\n'; sleep 2) | \
   script -qec \"'$S' init --data-dir s4/data --key-dir s4/keys\" /dev/null >tinit.log; \
   grep -q 'Confirm passphrase' tinit.log && ! grep -q 'terminal passphrase' tinit.log && \
   ! grep -q '^  passphrase:' tinit.log && \
   STRONGROOM_PASSPHRASE='terminal passphrase' '$S' decrypt -o troot.bin s4/keys/root.sealed"
check "init on a terminal refuses different answers" bash -c \
  "(sleep 1; printf 'first passphrase\nsecond passphrase\n'; sleep 2) | \
   script -qec \"'$S' init --data-dir s5/data --key-dir s5/keys; echo rc=\\\$?\" /dev/null >tbad.log; \
   grep -q 'do not match' tbad.log && grep -q 'rc=1' tbad.log && [ ! -e s5/keys/root.sealed ]"

fails_with "serve without a keyring says to run init (or --dev)" 'strongroom init.*--dev' \
  "$S" serve --data-dir none/data --key-dir none/keys --listen 127.0.0.1:0
check "a refused serve creates no data directory" test ! -e none/data
fails_with "serve with a wrong passphrase exits 1" 'wrong passphrase' \
  "$S" serve "${D[@]}" --listen 127.0.0.1:0 --passphrase-file wrong.txt
fails_with "unseal without a running server exits 1" 'no strongroom server is running' "$S" unseal "${D[@]}" --passphrase-file gen.pass
check "serve asks for the passphrase on a terminal and starts unsealed" bash -c \
  "(sleep 1; cat gen.pass; sleep 4) | script -qec \"timeout --foreground 4 '$S' serve ${D[*]} --listen 127.0.0.1:0\" /dev/null >tserve.log; \
   grep -q 'Keyring passphrase' tserve.log && grep -q 'unsealed (the root key is held only in memory)' tserve.log && \
   ! grep -q \"\$(cat gen.pass)\" tserve.log && ! grep -q SEALED tserve.log"
check "a prompt outside the terminal's foreground group still dies on SIGTERM" bash -c \
  "(sleep 6) | timeout 30 script -qc \"sh -c \\\"timeout 2 '$S' serve ${D[*]} --listen 127.0.0.1:0; true\\\"\" /dev/null >/dev/null"

# A server started without a passphrase: sealed until `unseal`.
"$S" serve "${D[@]}" --listen 127.0.0.1:0 --access-log - </dev/null >serve.log 2>&1 &
server_pid=$!
for _ in $(seq 50); do grep -q 'listening on' serve.log && break; sleep 0.1; done
check "a server without a passphrase starts sealed and says how to unseal" bash -c \
  "grep -q '^SEALED' serve.log && grep -q 'strongroom unseal --data-dir srv/data' serve.log"
check "the control socket is a 0600 socket" bash -c \
  "[ -S srv/data/control.sock ] && [ \"\$(stat -c %a srv/data/control.sock)\" = 600 ]"
fails_with "unseal with a wrong passphrase exits 1" 'wrong passphrase' "$S" unseal "${D[@]}" --passphrase-file wrong.txt
fails "unseal with no passphrase and no terminal exits 1" "$S" unseal "${D[@]}"
check "unseal asks on a terminal" bash -c \
  "(sleep 1; cat gen.pass; sleep 1) | script -qec \"'$S' unseal ${D[*]}\" /dev/null >tunseal.log; \
   grep -q 'unsealed: the server' tunseal.log"
check "unseal of an unsealed server says so and succeeds" bash -c \
  "'$S' unseal ${D[*]} --passphrase-fd 3 3<gen.pass | grep -qx 'already unsealed'"

AK=$(sed -n 's/^  export AWS_ACCESS_KEY_ID=//p' init.txt)
check "key create prints the new id and alias" bash -c \
  "'$S' key create photos --description 'holiday photos' ${D[*]} >create.txt && \
   grep -Eq '^created key [0-9a-f-]{36} \(alias/photos\)$' create.txt"
KID=$(grep -Eo '[0-9a-f-]{36}' create.txt)
fails_with "key create refuses a taken alias" 'alias/photos' "$S" key create photos "${D[@]}"
fails "key create refuses a bad name" "$S" key create 'bad name!' "${D[@]}"
fails "key create refuses the reserved aws/ prefix" "$S" key create aws/mine "${D[@]}"
check "key list shows the default key and the new one" bash -c \
  "'$S' key list ${D[*]} >list.txt && head -1 list.txt | grep -q '^KEY ID *STATE *ALIASES *CREATED *DESCRIPTION$' && \
   grep -Eq '^$KID +enabled +alias/photos +20[0-9-]{8}T[0-9:]{8}Z +holiday photos$' list.txt && \
   grep -q 'alias/aws/s3' list.txt && [ \"\$(wc -l <list.txt)\" = 3 ]"
check "key describe by alias, bare name, id and ARN" bash -c \
  "for ref in alias/photos photos $KID arn:aws:kms:us-east-1:000000000000:key/$KID \
              arn:aws:kms:us-east-1:000000000000:alias/photos; do \
     '$S' key describe \$ref ${D[*]} >describe.txt && grep -q \"^key id: *$KID\$\" describe.txt || exit 1; \
   done; grep -q '^version: *1$' describe.txt && grep -q '^grantees: *none' describe.txt && \
   grep -q '^description: *holiday photos$' describe.txt"
fails "key describe of an unknown key" "$S" key describe no-such-key "${D[@]}"
check "key alias adds an alias" bash -c \
  "'$S' key alias photos pictures ${D[*]} && '$S' key describe alias/pictures ${D[*]} | grep -q \"^key id: *$KID\$\" && \
   '$S' key list ${D[*]} | grep -q 'alias/photos,alias/pictures'"
check "a second key" "$S" key create videos "${D[@]}"
fails_with "key alias refuses an alias of another key" 'alias/videos' \
  "$S" key alias photos alias/videos "${D[@]}"
check "key alias --remove removes it" bash -c \
  "'$S' key alias photos alias/pictures --remove ${D[*]} && ! '$S' key describe pictures ${D[*]} 2>/dev/null"
fails "key alias --remove of an alias the key does not have" \
  "$S" key alias photos pictures --remove "${D[@]}"
check "key disable and enable" bash -c \
  "'$S' key disable photos ${D[*]} | grep -q 'is disabled' && \
   '$S' key list ${D[*]} | grep -Eq '^$KID +disabled ' && \
   '$S' key enable $KID ${D[*]} | grep -q 'is enabled' && \
   '$S' key describe photos ${D[*]} | grep -q '^state: *enabled$'"
fails_with "key grant refuses an unknown access key" 'NOSUCHACCESSKEY' "$S" key grant photos NOSUCHACCESSKEY "${D[@]}"
check "key grant and describe lists the grantee" bash -c \
  "'$S' key grant photos $AK ${D[*]} | grep -q \"granted $AK\" && \
   '$S' key describe photos ${D[*]} | grep -q \"^grantees: *$AK\$\""
check "key revoke withdraws it" bash -c \
  "'$S' key revoke photos $AK ${D[*]} && '$S' key describe photos ${D[*]} | grep -q '^grantees: *none'"
fails "key revoke without a grant" "$S" key revoke photos "$AK" "${D[@]}"
fails "key commands need a catalog" "$S" key list --data-dir nowhere --key-dir nowhere
usage "key create without a name is a usage error" "$S" key create "${D[@]}"
usage "an unknown key subcommand is a usage error" "$S" key frobnicate "${D[@]}"
usage "--passphrase-file and --passphrase-fd exclude each other" \
  "$S" unseal "${D[@]}" --passphrase-file gen.pass --passphrase-fd 0

fails "user add without the passphrase exits 1" bash -c \
  "'$S' user add --access-key SRCLIUSER0000000001 ${D[*]} </dev/null"
check "user add with --passphrase-fd" bash -c \
  "'$S' user add --access-key SRCLIUSER0000000001 ${D[*]} --passphrase-fd 3 3<gen.pass >useradd.txt && \
   grep -q '^access key: SRCLIUSER0000000001$' useradd.txt && grep -q '^secret key: ' useradd.txt && \
   '$S' user list ${D[*]} | grep -qx 'SRCLIUSER0000000001'"

kill -TERM "$server_pid"
wait "$server_pid"
rc=$?
check "the server stops cleanly and removes its control socket" bash -c \
  "[ $rc = 0 ] && [ ! -e srv/data/control.sock ]"

STRONGROOM_PASSPHRASE=$(cat gen.pass) "$S" serve "${D[@]}" --listen 127.0.0.1:0 </dev/null >serve2.log 2>&1 &
server_pid=$!
for _ in $(seq 50); do grep -q 'listening on' serve2.log && break; sleep 0.1; done
check "STRONGROOM_PASSPHRASE unseals at start" grep -q 'unsealed (the root key is held only in memory)' serve2.log
check "STRONGROOM_PASSPHRASE is wiped from the server's environment" bash -c \
  "[ -r /proc/$server_pid/environ ] && ! grep -qaF \"\$(cat gen.pass)\" /proc/$server_pid/environ"
kill -TERM "$server_pid"
wait "$server_pid"

printf 'dev = true\nkey-dir = "cfgdev/keys"\ndata-dir = "cfgdev/data"\n' >dev.toml
check "dev = true in the config file is development mode" bash -c \
  "timeout 3 '$S' serve --config dev.toml --listen 127.0.0.1:0 </dev/null >cfgdev.log 2>&1; \
   grep -q 'DEVELOPMENT KEY MODE' cfgdev.log && [ -s cfgdev/keys/root.key ] && [ ! -e cfgdev/keys/root.sealed ]"
fails_with "init refuses a configuration in development mode" 'dev = true' \
  "$S" init --config dev.toml

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
