#!/usr/bin/env bash
# Set up everything and run the whole test suite:  bash scripts/test.sh [pytest args]
# Needs only Python 3.11+. Uses the Redis at $HUEYCTL_TEST_REDIS_URL (default: database 15
# of 127.0.0.1:6379); when none answers, starts a private redis-server on a free port
# (installing Debian's redis-server package when it is missing and we are root), and
# installs promtool and chromium + chromium-driver for the metrics and browser tests
# when they are missing and we are root (else those tests skip, saying why).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_env.sh
ensure_venv
ensure_redis
ensure_test_tools
echo "tests use Redis at $HUEYCTL_TEST_REDIS_URL" >&2
status=0
"$VENV/bin/python" -m pytest "$@" || status=$?
exit "$status"
