#!/usr/bin/env bash
# Run the benchmark suite (ours vs huey 3.5, about 10 minutes), then the Redis CPU per task
# per workload (benchmarks/redis_cpu.py, about 4 more):  bash benchmarks/run.sh [options]
# Sets up .venv with the project and its `bench` extra (huey, py-spy, pyinstrument), makes
# sure redis-server exists (Debian's package when missing and we are root), then runs
# `python -m benchmarks.suite`, which starts and stops its own redis-server on a free port.
# Options go to the suite: --smoke, --repeats N, --only W1,W2, --markdown FILE, --json FILE.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_env.sh
ensure_venv
stamp="$VENV/.bench-installed-$(cat pyproject.toml | cksum | cut -d' ' -f1)"
if [ ! -e "$stamp" ]; then
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[test,bench]" >&2
  touch "$stamp"
fi
ensure_redis_server "the benchmarks start a redis-server of their own"
"$VENV/bin/python" -m benchmarks.suite "$@"
smoke=()
for arg in "$@"; do [ "$arg" = --smoke ] && smoke=(--smoke); done
# Redis CPU per task twice: without the slow log first (its per-command work would be in
# `cpu`, and ours sends more, smaller commands: the figure a shard's ceiling is made of),
# then with it (`cmd` and the per-command breakdown).
echo "Redis CPU per task, slow log off (the cpu figures to quote):"
"$VENV/bin/python" -m benchmarks.redis_cpu --no-slowlog ${smoke[@]+"${smoke[@]}"}
echo "Redis CPU per task, slow log on (cmd and the breakdown; cpu includes the log's work):"
exec "$VENV/bin/python" -m benchmarks.redis_cpu ${smoke[@]+"${smoke[@]}"}
