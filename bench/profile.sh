#!/usr/bin/env bash
# Profiles this project's server under one benchmark load (node --cpu-prof) and prints the
# hottest functions.   bash bench/profile.sh [conn|down1|up1|rtt|udp32] [seconds]
# Builds the CLI (not minified, so names survive) and bench/load.c into a temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."
WHAT=${1:-conn}
SECS=${2:-5}
W=$(mktemp -d /tmp/socks5-prof-XXXXXX)
cc -O2 -o "$W/load" bench/load.c
npx esbuild src/cli.ts --bundle --platform=node --target=node20 --outfile="$W/cli.js" --log-level=warning
NOFILE=$(ulimit -Hn)
mkfifo "$W/targets.in" "$W/targets.out"
prlimit --nofile="$NOFILE:$NOFILE" -- "$W/load" targets 127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4 < "$W/targets.in" > "$W/targets.out" &
TPID=$!
exec 4> "$W/targets.in"   # the targets run until this fd closes
read -r PORTS < "$W/targets.out"
port() { node -e "console.log(JSON.parse(process.argv[1]).$1)" "$PORTS"; }
prlimit --nofile="$NOFILE:$NOFILE" -- node --cpu-prof --cpu-prof-dir="$W" "$W/cli.js" --port 0 -q --max-connections 30000 > "$W/cli.out" &
SPID=$!
for _ in $(seq 100); do grep -q listening "$W/cli.out" 2>/dev/null && break; sleep 0.05; done
SPORT=$(sed -E 's/.*:([0-9]+)$/\1/' "$W/cli.out")
MS=$((SECS * 1000))
case "$WHAT" in
  conn) ARGS="mode=connrate conc=64 hosts=127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4 target=127.0.0.1:$(port echo)" ;;
  down1) ARGS="mode=tput dir=down streams=1 target=127.0.0.1:$(port source)" ;;
  up1) ARGS="mode=tput dir=up streams=1 target=127.0.0.1:$(port sink)" ;;
  rtt) ARGS="mode=rtt size=64 target=127.0.0.1:$(port echo)" ;;
  udp32) ARGS="mode=udp inflight=32 size=64 target=127.0.0.1:$(port udp)" ;;
  *) echo "unknown load $WHAT" >&2; exit 2 ;;
esac
prlimit --nofile="$NOFILE:$NOFILE" -- "$W/load" client proxy=127.0.0.1:"$SPORT" warm=300 measure="$MS" $ARGS | grep '^{'
kill -INT "$SPID"; wait "$SPID" || true
exec 4>&-
wait "$TPID" || true
PROF=$(ls "$W"/*.cpuprofile)
node --import tsx bench/profile-top.ts "$PROF" 25
echo "profile: $PROF"
