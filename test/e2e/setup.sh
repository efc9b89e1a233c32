#!/usr/bin/env bash
# Prepares this machine for the end-to-end suite (test/e2e): Debian packages and code-server.
#
# Idempotent and non-interactive (CI runs it as root, CI=true, no stdin). A second run finds
# everything in place and takes a few seconds.
#
#   SOCKS5_E2E_CACHE   where code-server is installed (default ~/.cache/socks5-proxy-e2e);
#                      deliberately outside the repository's node_modules, so `npm ci` never
#                      builds VS Code.
#
# code-server is VS Code (server + web workbench) published on the npm registry; it is the only
# real VS Code that can be installed here (VS Code downloads from Microsoft are not reachable).
# The offline install needs a few tricks, all explained inline.
set -euo pipefail

CS_VERSION=4.100.3          # = VS Code 1.100.3; the last line that still runs on Node 20
CACHE="${SOCKS5_E2E_CACHE:-$HOME/.cache/socks5-proxy-e2e}"
CS_DIR="$CACHE/code-server-$CS_VERSION"
CS_BIN="$CS_DIR/node_modules/.bin/code-server"
MARKER="$CS_DIR/.install-complete"

START=$SECONDS
log() { echo "[e2e-setup +$((SECONDS - START))s] $*"; }
die() { echo "[e2e-setup] ERROR: $*" >&2; exit 1; }
trap 'rc=$?; [ $rc -eq 0 ] || echo "[e2e-setup] FAILED (exit $rc) after $((SECONDS - START))s at line $LINENO" >&2' EXIT

[ "$(id -u)" = 0 ] || command -v sudo >/dev/null || die "needs root (or sudo) for apt-get"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
command -v node >/dev/null || die "node is not installed"
command -v npm >/dev/null || die "npm is not installed"
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
[ "$NODE_MAJOR" = 20 ] || log "WARNING: code-server $CS_VERSION is built for Node 20, this is Node $(node -v)"

# ---------------------------------------------------------------- Debian packages
# chromium: the browser that drives the workbench and the browser that uses the proxy.
# curl, python3-socks, torsocks: real SOCKS clients used by the tests (torsocks: Tor's RESOLVE
# extensions; --no-install-recommends keeps the tor daemon itself out).
# wget, git, python3-requests, openssl: the HTTP proxy door's clients (test/integration/http-clients.test.ts)
#   and the self-signed certificate of its TLS origin.
# netcat-openbsd, ncat, openssh-client, python3-pip: with git and python3-requests, the clients whose
# "Use This Proxy With…" lines test/integration/reach.test.ts runs (nc/ncat as ssh's ProxyCommand).
# ripgrep: stands in for @vscode/ripgrep's binary (its postinstall downloads from GitHub).
# libkrb5-dev libxkbfile-dev libsecret-1-dev pkg-config python3 make g++: code-server's native modules.
# fonts: readable screenshots (fonts-wqy-microhei: Chinese text in the zh-cn run and its screenshot).
# dante-server, tinyproxy, squid: real peer proxies the upstream tests chain to (test/support/peers.ts
#   runs them on loopback with temp configs; their system services are not used).
# systemd: systemd-analyze verify for docs/socks5-proxy-cli.service (test/integration/package.test.ts).
PKGS=(chromium curl ca-certificates python3 python3-socks torsocks dante-server tinyproxy squid wget git python3-requests openssl ripgrep make g++ pkg-config
      netcat-openbsd ncat openssh-client python3-pip
      libkrb5-dev libxkbfile-dev libsecret-1-dev fonts-liberation fonts-dejavu-core fonts-wqy-microhei procps systemd)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  APT_LOG=$(mktemp)
  if ! { $SUDO apt-get update -qq && \
         $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; } </dev/null >"$APT_LOG" 2>&1; then
    cat "$APT_LOG" >&2; die "apt-get failed"
  fi
  rm -f "$APT_LOG"
else
  log "Debian packages already installed"
fi
[ -x /usr/bin/chromium ] || die "/usr/bin/chromium missing after install"
[ -x /usr/bin/rg ] || die "/usr/bin/rg missing after install"

# ---------------------------------------------------------------- code-server
# (capture first: `cmd | grep -q` under pipefail fails when grep closes the pipe early)
# The version line is the one that starts with a digit: on its very first run code-server also
# prints "Wrote default config file …" (a fresh machine has no ~/.config/code-server yet).
cs_version() { local out; out=$("$CS_BIN" --version 2>/dev/null) || return 1; printf '%s\n' "$out" | grep -m1 -E '^[0-9]+\.' ; }
cs_ok() { [ -f "$MARKER" ] && [[ "$(cs_version)" == "$CS_VERSION "* ]]; }

if cs_ok; then
  log "code-server $CS_VERSION already installed in $CS_DIR"
else
  log "installing code-server $CS_VERSION into $CS_DIR (takes a few minutes on 2 cores)"
  rm -rf "$CS_DIR"
  mkdir -p "$CS_DIR"
  cd "$CS_DIR"
  # A package.json of its own so npm never walks up into another project.
  printf '{ "name": "socks5-proxy-e2e-code-server", "private": true }\n' > package.json

  export npm_config_yes=true           # node-pty's postinstall runs `npx node-gyp`
  export npm_config_unsafe_perm=true   # code-server's scripts refuse to run as root otherwise
  export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
  export npm_config_python=/usr/bin/python3   # node-gyp: Debian's python, not a pyenv shim
  export PYTHON=/usr/bin/python3

  log "npm install code-server@$CS_VERSION --ignore-scripts"
  npm install --no-save --ignore-scripts --loglevel=error "code-server@$CS_VERSION" </dev/null
  log "npm rebuild argon2"
  npm rebuild --loglevel=error argon2 </dev/null

  VS="$CS_DIR/node_modules/code-server/lib/vscode"
  [ -d "$VS" ] || die "$VS not found: unexpected code-server layout"
  cd "$VS"
  log "lib/vscode: npm install --omit=dev --ignore-scripts"
  npm install --omit=dev --ignore-scripts --loglevel=error </dev/null
  # @vscode/ripgrep's postinstall downloads rg from GitHub unless bin/ already exists.
  mkdir -p node_modules/@vscode/ripgrep/bin
  ln -sf /usr/bin/rg node_modules/@vscode/ripgrep/bin/rg
  log "lib/vscode: npm rebuild (native modules)"
  npm rebuild --unsafe-perm --loglevel=error </dev/null
  ln -sfn node_modules node_modules.asar
  cd "$VS/extensions"
  log "lib/vscode/extensions: npm install --omit=dev"
  npm install --omit=dev --unsafe-perm --loglevel=error </dev/null

  cd "$CS_DIR"
  v=$(cs_version) || die "code-server --version failed"
  [[ "$v" == "$CS_VERSION "* ]] || die "code-server --version prints '$v', expected $CS_VERSION"
  touch "$MARKER"
fi
log "code-server: $(cs_version)"
log "chromium:    $(/usr/bin/chromium --version 2>/dev/null || true)"
log "done in $((SECONDS - START))s (code-server binary: $CS_BIN)"
