#!/usr/bin/env bash
# The end-to-end suite in real VS Code (code-server + headless Chromium), from a fresh machine:
#   1. test/e2e/setup.sh      Debian packages + code-server (cached; a few seconds when warm)
#   2. npm run package        the VSIX that gets installed into code-server
#   3. node's test runner     test/e2e/*.test.ts, one file at a time (each starts its own VS Code)
# Called from the project's top-level test script; usable on its own: bash test/e2e/run.sh
# Extra arguments select test files, e.g. bash test/e2e/run.sh test/e2e/smoke.test.ts
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
START=$SECONDS
# The stress scenarios hold ~1,100 client sockets in the test process and two sockets per session
# in the extension host (code-server's child, which inherits this limit): raise the open-file
# limit like test/hardening/run.sh does.
hard=$(ulimit -Hn)
want=65536
if [ "$hard" != "unlimited" ] && [ "$hard" -lt "$want" ]; then want=$hard; fi
ulimit -n "$want" 2>/dev/null || echo "[e2e] could not raise the open-file limit to $want (soft limit stays $(ulimit -n))"
echo "[e2e] setup"
bash test/e2e/setup.sh
echo "[e2e] npm run package ($((SECONDS - START))s)"
# vsce must never wait for an answer (no stdin in CI).
npm run --silent package </dev/null
if [ $# -gt 0 ]; then files=("$@"); else files=(test/e2e/*.test.ts); fi
echo "[e2e] running ${files[*]} ($((SECONDS - START))s)"
rc=0
# Outer bound: the tests bound every wait themselves; this only catches a runner that hangs.
timeout --kill-after=30 1500 \
  node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}" </dev/null || rc=$?
echo "[e2e] finished with exit code $rc after $((SECONDS - START))s"
exit $rc
