#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine (root, Node 20):
#
#   bash test/run-all.sh              set up (Debian packages, code-server, npm ci), build, run every suite
#   bash test/run-all.sh --no-setup   skip the setup (what `npm test` runs)
#
# Suites, each with node's test runner: unit, integration (real sockets, curl, the socks client,
# PySocks), hardening (fuzz, load, faults), e2e (real VS Code: code-server + headless Chromium).
# Ends with one line "N passed, N failed" summed over all suites; exits non-zero if any failed.
# A suite also counts as failed when its log shows a process warning (MaxListenersExceeded,
# unhandled rejection, deprecation, ...) other than the known notices in WARNING_ALLOW below, and
# the run fails when it leaves the git work tree different from how it found it (git status).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
START=$SECONDS
step() { printf '\n=== %s (+%ss)\n' "$*" "$((SECONDS - START))"; }

if [ "${1:-}" != "--no-setup" ]; then
  step "setup: Debian packages and code-server (test/e2e/setup.sh)"
  bash test/e2e/setup.sh </dev/null || { echo "setup failed"; exit 1; }
  step "npm ci"
  npm ci --no-fund --no-audit </dev/null || { echo "npm ci failed"; exit 1; }
fi

# The work tree as found (CI: a clean clone); compared at the end.
TREE_BEFORE=$(git status --porcelain 2>/dev/null || true)

step "build: tsc --noEmit, esbuild"
npm run --silent build </dev/null || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }

PASSED=0
FAILED=0
BROKEN=()
LOG_DIR=$(mktemp -d)
trap 'rm -rf "$LOG_DIR"' EXIT

# Process warnings as node prints them: "(node:PID) [CODE] SomethingWarning: text".
WARNING_RE='^[[:space:]]*\(node:[0-9]+\) (\[[A-Z0-9_]+\] )?[A-Za-z]*Warning: '
# Known, named notices that are not defects (one regex each). Keep this list short.
WARNING_ALLOW=(
  'ExperimentalWarning: The MockTimers API is an experimental feature'
)

# suite NAME COMMAND...: runs one suite, adds its counts from node's test runner summary.
suite() {
  local name=$1; shift
  step "suite: $name"
  local log="$LOG_DIR/$name.log" rc=0
  "$@" </dev/null 2>&1 | tee "$log" || rc=${PIPESTATUS[0]}
  local p f
  p=$(grep -aE '^ℹ pass [0-9]+$' "$log" | awk '{s+=$3} END {print s+0}')
  f=$(grep -aE '^ℹ fail [0-9]+$' "$log" | awk '{s+=$3} END {print s+0}')
  PASSED=$((PASSED + p))
  FAILED=$((FAILED + f))
  if [ "$rc" -ne 0 ] || [ "$p" -eq 0 ]; then
    BROKEN+=("$name (exit $rc, $p passed, $f failed)")
    [ "$f" -gt 0 ] || FAILED=$((FAILED + 1))
  fi
  local warnings
  warnings=$(grep -aE "$WARNING_RE" "$log" | grep -avE "$(IFS='|'; echo "${WARNING_ALLOW[*]}")")
  if [ -n "$warnings" ]; then
    printf 'suite %s printed process warnings:\n%s\n' "$name" "$warnings"
    BROKEN+=("$name (process warnings: $(printf '%s\n' "$warnings" | wc -l))")
    FAILED=$((FAILED + 1))
  fi
}

NODE_TEST=(node --import tsx --test --test-reporter=spec)
suite unit "${NODE_TEST[@]}" test/unit/*.test.ts
suite integration timeout --kill-after=10 900 "${NODE_TEST[@]}" --test-concurrency=1 test/integration/*.test.ts
if [ -f test/hardening/run.sh ]; then suite hardening bash test/hardening/run.sh; fi
if [ "${SKIP_E2E:-}" != "1" ]; then suite e2e bash test/e2e/run.sh; fi

step "done"
TREE_AFTER=$(git status --porcelain 2>/dev/null || true)
if [ "$TREE_AFTER" != "$TREE_BEFORE" ]; then
  echo "the suite changed the work tree (git status --porcelain, before → after):"
  diff <(printf '%s\n' "$TREE_BEFORE") <(printf '%s\n' "$TREE_AFTER")
  BROKEN+=("work tree left dirty")
fi
for b in "${BROKEN[@]}"; do echo "suite failed: $b"; done
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ] && [ ${#BROKEN[@]} -eq 0 ]
