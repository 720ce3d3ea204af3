#!/usr/bin/env bash
# Set up everything and run the main job on the embedded SQLite store (no Redis needed):
# a worker with the sample tasks and steady traffic, watched in `hueyctl top` (q quits;
# without a terminal, 30 s of status lines).   bash scripts/demo.sh [hueyctl demo options]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_env.sh
ensure_venv ""   # the project alone: the demo needs no test toolchain
exec "$VENV/bin/hueyctl" demo "$@"
