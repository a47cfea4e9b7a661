#!/usr/bin/env bash
# Installs every package strongroom needs to build, test, fuzz and benchmark on Debian 12.
# Idempotent: apt-get skips what is already installed. Run as root or with sudo available.
set -euo pipefail

packages=(
  # toolchain
  build-essential g++ cmake ninja-build ccache pkg-config
  clang-14 libclang-rt-14-dev clang-tidy-14 clang-format-14
  # libraries
  libssl-dev libexpected-dev libargon2-dev libcli11-dev libfmt-dev
  nlohmann-json3-dev zlib1g-dev libboost1.81-dev libsqlite3-dev libpugixml-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-cryptography python3-argon2
  age time curl wrk
  # real S3 clients for the server tests
  awscli python3-boto3 s3cmd rclone golang-go golang-github-minio-minio-go-v7-dev
  # real key providers (issue 5): KMIP server, PKCS#11 HSM, TPM 2.0 emulator
  python3-pykmip softhsm2 opensc libp11-kit-dev swtpm swtpm-tools tpm2-tools libtss2-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
