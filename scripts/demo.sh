#!/usr/bin/env bash
# Set up everything and run the main job on the embedded SQLite store (no Redis needed):
# a worker with the sample tasks and steady traffic.   bash scripts/demo.sh [hueyctl demo options]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_env.sh
ensure_venv
if [ "$#" -eq 0 ]; then set -- --duration 30; fi
exec "$VENV/bin/hueyctl" demo "$@"
