#!/usr/bin/env bash
# The hardening suite at larger sizes. Every knob can be overridden from the environment:
#   FUZZ_CASES FUZZ_PARALLEL FUZZ_SEED FUZZ_UDP_DATAGRAMS   network fuzz
#   FUZZ_RUNS FUZZ_SEED                                     property tests (test/unit/fuzz-*.test.ts)
#   LOAD_CONCURRENT LOAD_CHURN LOAD_CHURN_PARALLEL          load (CONNECT)
#   LOAD_BIND LOAD_UDP LOAD_BIND_CHURN LOAD_UDP_CHURN       load (BIND listeners, UDP associations)
#   LOAD_HEAP_ROUNDS LOAD_HEAP_ROUND_SIZE                   heap flat over rounds of churn
#   LIMITS_FLOOD                                            clients flooding a maxConnections of 50
#   SLOWLORIS_CLIENTS BACKPRESSURE_SECONDS BACKPRESSURE_SESSIONS
#   STOP_BUSY_SESSIONS STOP_IDLE_SESSIONS STOP_HANDSHAKING STOP_CONNECTING STOP_BIND_WAITING STOP_UDP
# LOAD_CONCURRENT is capped by the open-file limit (2 fds a session in one proxy process).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export FUZZ_CASES=${FUZZ_CASES:-100000}
export FUZZ_UDP_DATAGRAMS=${FUZZ_UDP_DATAGRAMS:-200000}
export FUZZ_RUNS=${FUZZ_RUNS:-50000}
export LOAD_CONCURRENT=${LOAD_CONCURRENT:-30000}
export LOAD_CHURN=${LOAD_CHURN:-1000000}
export LOAD_BIND=${LOAD_BIND:-5000}
export LOAD_UDP=${LOAD_UDP:-5000}
export LOAD_BIND_CHURN=${LOAD_BIND_CHURN:-50000}
export LOAD_UDP_CHURN=${LOAD_UDP_CHURN:-50000}
export LOAD_HEAP_ROUNDS=${LOAD_HEAP_ROUNDS:-10}
export LIMITS_FLOOD=${LIMITS_FLOOD:-6000}
export SLOWLORIS_CLIENTS=${SLOWLORIS_CLIENTS:-500}
export BACKPRESSURE_SECONDS=${BACKPRESSURE_SECONDS:-60}
export STOP_BUSY_SESSIONS=${STOP_BUSY_SESSIONS:-2000}
export STOP_IDLE_SESSIONS=${STOP_IDLE_SESSIONS:-2000}
export HARDENING_TIMEOUT=${HARDENING_TIMEOUT:-10800}
node --import tsx --test --test-reporter=spec test/unit/fuzz-*.test.ts || exit 1
exec bash test/hardening/run.sh
