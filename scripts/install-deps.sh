#!/usr/bin/env bash
# install-deps.sh - installs the Debian 12 packages Freigabe needs to build, test and demo (idempotent).
#
# Skips apt entirely when every package is already installed, so local runs stay fast.
# Needs root (or sudo) only when something is missing.
set -euo pipefail

PKGS=(
  apache2 apache2-dev nginx nginx-dev redis-server
  libhiredis-dev libjansson-dev libsodium-dev libapr1-dev libaprutil1-dev
  autoconf automake libtool pkg-config check libcurl4-openssl-dev wrk
  python3-pytest python3-requests python3-nacl python3-jwt python3-redis
  chromium qrencode build-essential valgrind
  clang libclang-rt-14-dev
)

# node and npm run the browser tests (tests/browser); the machines bring Node.js 20, Debian's
# packages are only the fallback when there is none at all.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  PKGS+=(nodejs npm)
fi

missing=()
for p in "${PKGS[@]}"; do
  st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  if [ "$st" != "installed" ]; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages already installed"
  exit 0
fi

echo "install-deps: missing: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends -o Dpkg::Use-Pty=0 "${missing[@]}"
echo "install-deps: done"
