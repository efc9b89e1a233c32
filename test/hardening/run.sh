#!/usr/bin/env bash
# The hardening suite: fuzz, load, slowloris, backpressure, faults, stop/restart, safe defaults.
#   bash test/hardening/run.sh            default sizes (prove the point in a few minutes on 2 cores)
#   bash test/hardening/run.sh test/hardening/load.test.ts    one file
#   bash test/hardening/long.sh           the same at larger sizes (env knobs, see long.sh)
# Raises the open-file limit first (the load tests hold ~10,000 sessions = 2 fds each in the proxy);
# Node cannot raise it itself. Children (the CLI proxy, echo targets) inherit it.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
hard=$(ulimit -Hn)
want=65536
if [ "$hard" != "unlimited" ] && [ "$hard" -lt "$want" ]; then want=$hard; fi
ulimit -n "$want" 2>/dev/null || echo "hardening: could not raise the open-file limit to $want (soft limit stays $(ulimit -n))"
echo "hardening: open-file limit $(ulimit -n) (hard $hard)"
# One file at a time: the load and backpressure tests measure the proxy's fds and memory, and
# compete for the same 2 cores; each file bounds its own waits.
# Arguments, if any, name the test files to run (default: all of them).
if [ $# -gt 0 ]; then files=("$@"); else files=(test/hardening/*.test.ts); fi
exec timeout --kill-after=10 "${HARDENING_TIMEOUT:-1200}" node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
