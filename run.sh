#!/usr/bin/env bash
# The main job, on the embedded defaults. Until the research step lands, it rebalances the sample
# basket (examples/sample_basket.json) on a fresh paper account (examples/paper_account.yaml),
# through the real rebalancer and the paper exchange: offline, no real money.
# Extra arguments go to scripts/rebalance_portfolio.py. Log: data/logs/.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup_venv.sh requirements.txt
mkdir -p data/logs
log="data/logs/run-$(date -u +%Y%m%dT%H%M%SZ).log"
set +e
.venv/bin/python scripts/rebalance_portfolio.py examples/sample_basket.json --paper --paper-reset --quiet \
  --report-json data/logs/rebalance-report.json "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
echo "log: $log"
exit "$status"
