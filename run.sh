#!/usr/bin/env bash
# The main job, on the embedded defaults. Until the research, portfolio and rebalance steps land,
# it is the paper-exchange demo: a sample basket traded on a paper account, offline, no real money.
# Arguments go to scripts/paper_demo.py (--account FILE.yaml, --basket FILE.json). Log: data/logs/.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup_venv.sh requirements.txt
mkdir -p data/logs
log="data/logs/run-$(date -u +%Y%m%dT%H%M%SZ).log"
set +e
.venv/bin/python scripts/paper_demo.py "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
echo "log: $log"
exit "$status"
