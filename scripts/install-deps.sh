#!/usr/bin/env bash
# Install the Debian 12 packages MANA-C needs to build and test, when missing.
# Idempotent and quiet when everything is present; runs apt-get update once
# before the first install.
set -euo pipefail

packages=(
  build-essential pkg-config python3
  mpich libmpich-dev
  openmpi-bin libopenmpi-dev
  libelf-dev libzstd-dev libxxhash-dev zlib1g-dev check libhwloc-dev
  gfortran g++
  netpipe-mpich2 netpipe-openmpi zstd
  clang libclang-rt-14-dev
  slurm-wlm munge
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=sudo
  else
    echo "install-deps: missing packages: ${missing[*]}" >&2
    echo "install-deps: not root and no sudo: install them with apt-get as root, then re-run" >&2
    exit 1
  fi
else
  SUDO=
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
