#!/usr/bin/env bash
# Installs what the benchmark needs from Debian: its peers microsocks, dante-server (danted) and
# tinyproxy (the HTTP CONNECT rows' peer; proxy-chain, the other, is an npm dev dependency), and
# a C compiler for its load generator (bench/load.c). Idempotent: prints "ok" and exits when all
# are present. Needs root (or sudo) only when something is missing.
# The benchmark never uses the packages' system services: it runs danted and tinyproxy itself, in the
# foreground, with loopback-only configs it writes.
set -euo pipefail

missing=()
command -v microsocks >/dev/null 2>&1 || missing+=(microsocks)
[ -x /usr/sbin/danted ] || command -v danted >/dev/null 2>&1 || missing+=(dante-server)
command -v tinyproxy >/dev/null 2>&1 || missing+=(tinyproxy)
command -v cc >/dev/null 2>&1 && [ -e /usr/include/stdio.h ] || missing+=(gcc libc6-dev)
if [ ${#missing[@]} -eq 0 ]; then
  echo "bench/setup.sh: ok (microsocks, danted, tinyproxy and cc installed)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "bench/setup.sh: need root to install ${missing[*]}: apt-get install -y ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
echo "bench/setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "bench/setup.sh: ok"
