#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Starts a real PyKMIP server (Debian python3-pykmip, /usr/bin/pykmip-server)
# for the KMIP provider tests, with everything under STATE_DIR:
#   pki/      a throwaway P-256 CA; a server certificate for 127.0.0.1 and
#             localhost; client certificates (EKU clientAuth) for "strongroom"
#             and "intruder" (a second identity that owns nothing), one whose
#             EKU is serverAuth only and a self-signed "rogue" one (the server
#             must refuse both)
#   server.conf, pykmip.db, server.log, stdout.log, policies/
#   port      the TCP port, chosen free at first start and kept for restarts
#   kmip.pid  the server's PID (also its process group: it runs under setsid)
# Safe to run again: certificates, database and port are reused, and a live
# server is left alone. Prints `export KMIP_...` lines for eval.
#
# Usage: eval "$(bash start.sh STATE_DIR)"      stop with: bash stop.sh STATE_DIR
set -euo pipefail

STATE=${1:?usage: start.sh STATE_DIR}
PY=/usr/bin/python3          # Debian's python: the one that has the kmip module
SERVER=/usr/bin/pykmip-server
HOST=127.0.0.1

[ -x "$SERVER" ] || { echo "start.sh: $SERVER not found (apt-get install python3-pykmip)" >&2; exit 2; }
command -v openssl >/dev/null || { echo "start.sh: openssl not found" >&2; exit 2; }
command -v ss >/dev/null || { echo "start.sh: ss not found (apt-get install iproute2)" >&2; exit 2; }

mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
PKI=$STATE/pki
mkdir -p "$PKI" "$STATE/policies"

# ---- PKI ----------------------------------------------------------------------
new_key() { # file: a P-256 key in PKCS#8, as PyKMIP's ssl module wants it
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
  chmod 600 "$1"
}
if [ ! -s "$PKI/ca.crt" ]; then
  new_key "$PKI/ca.key"
  openssl req -x509 -new -key "$PKI/ca.key" -sha256 -days 30 -subj "/CN=strongroom-kmip-test-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$PKI/ca.crt" 2>/dev/null
fi
leaf() { # name common-name extended-key-usage [subjectAltName]
  local name=$1 cn=$2 eku=$3 san=${4:-}
  [ -s "$PKI/$name.crt" ] && return 0
  new_key "$PKI/$name.key"
  openssl req -new -key "$PKI/$name.key" -subj "/CN=$cn" -out "$PKI/$name.csr" 2>/dev/null
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyAgreement"
    echo "extendedKeyUsage=$eku"
    if [ -n "$san" ]; then echo "subjectAltName=$san"; fi
  } > "$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 30 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}
leaf server kmip-server serverAuth "IP:127.0.0.1,DNS:localhost"
# The client certificate's CN is the KMIP identity that owns what it creates.
leaf client strongroom clientAuth
leaf intruder intruder clientAuth
leaf noeku no-client-eku serverAuth
# A client certificate from a CA the server does not trust.
if [ ! -s "$PKI/rogue.crt" ]; then
  new_key "$PKI/rogue.key"
  openssl req -x509 -new -key "$PKI/rogue.key" -sha256 -days 30 -subj "/CN=strongroom" \
    -addext "basicConstraints=critical,CA:FALSE" -addext "extendedKeyUsage=clientAuth" \
    -out "$PKI/rogue.crt" 2>/dev/null
fi

# ---- server ---------------------------------------------------------------------
alive() { # the recorded PID is a live (not zombie) pykmip-server
  [ -s "$STATE/kmip.pid" ] || return 1
  local pid stat
  pid=$(cat "$STATE/kmip.pid")
  stat=$(ps -o stat= -p "$pid" 2>/dev/null) || return 1
  case $stat in Z*) return 1 ;; esac
  grep -q pykmip-server "/proc/$pid/cmdline" 2>/dev/null
}
listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q "$HOST:$1 "; }
free_port() { # a port the kernel hands out for port 0, released again
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

write_config() {
  cat > "$STATE/server.conf" <<EOF
[server]
hostname=$HOST
port=$1
certificate_path=$PKI/server.crt
key_path=$PKI/server.key
ca_path=$PKI/ca.crt
auth_suite=TLS1.2
policy_path=$STATE/policies
enable_tls_client_auth=True
logging_level=INFO
database_path=$STATE/pykmip.db
EOF
}

launch() { # port -> 0 once listening; 1 if the server died (e.g. port taken)
  write_config "$1"
  # No daemon mode: run it in its own session so it outlives this shell and
  # its helper processes share its process group.
  setsid "$PY" "$SERVER" -f "$STATE/server.conf" -l "$STATE/server.log" \
    > "$STATE/stdout.log" 2>&1 < /dev/null &
  echo $! > "$STATE/kmip.pid"
  # Wait for the socket with ss, not a probe connection (a bare TCP connect
  # makes PyKMIP log a failed handshake).
  for _ in $(seq 1 200); do
    if listening "$1"; then return 0; fi
    alive || return 1
    sleep 0.05
  done
  echo "start.sh: pykmip-server did not listen on $HOST:$1 within 10 s" >&2
  exit 1
}

if ! alive; then
  if [ -s "$STATE/port" ]; then
    # A restart: same port, so clients configured with it find the server again.
    PORT=$(cat "$STATE/port")
    launch "$PORT" || { echo "start.sh: pykmip-server died; see $STATE/stdout.log" >&2; tail -5 "$STATE/stdout.log" >&2; exit 1; }
  else
    started=
    for _ in 1 2 3 4 5; do
      PORT=$(free_port)
      if launch "$PORT"; then started=1; break; fi
    done
    [ -n "$started" ] || { echo "start.sh: pykmip-server would not start; see $STATE/stdout.log" >&2; tail -5 "$STATE/stdout.log" >&2; exit 1; }
    echo "$PORT" > "$STATE/port"
  fi
fi
PORT=$(cat "$STATE/port")

cat <<EOF
export KMIP_STATE_DIR=$STATE
export KMIP_HOST=$HOST
export KMIP_PORT=$PORT
export KMIP_CA=$PKI/ca.crt
export KMIP_CLIENT_CERT=$PKI/client.crt
export KMIP_CLIENT_KEY=$PKI/client.key
export KMIP_INTRUDER_CERT=$PKI/intruder.crt
export KMIP_INTRUDER_KEY=$PKI/intruder.key
export KMIP_NOEKU_CERT=$PKI/noeku.crt
export KMIP_NOEKU_KEY=$PKI/noeku.key
export KMIP_ROGUE_CERT=$PKI/rogue.crt
export KMIP_ROGUE_KEY=$PKI/rogue.key
export KMIP_SERVER_LOG=$STATE/server.log
EOF
