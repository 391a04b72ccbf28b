#!/usr/bin/env bash
# The whole job on this machine: research the index twice with Gemini, pick the basket, score the
# published baskets (docs/performance), commit and push docs/, then rebalance the logged-in Zerodha
# account to the new basket (live by default).
#
#   ./run.sh          the job (needs GEMINI_API_KEYS, KITE_API_KEY, KITE_API_SECRET, ENCRYPTION_KEY
#                     in .env and this morning's `python3 scripts/kite_login.py`)
#   ./run.sh demo     offline: the sample basket on a paper account, no keys, no real money
#
# Settings, from the environment (defaults in brackets):
#   INDEX [NIFTY SMALLCAP 250]  PASSES [2]  WORKERS [10]  FILTER_TOP_N [20]  BASKET_SIZE_K [5]
#   LIVE_REBALANCE [1: real orders; 0: a dry run]  QUIET_REBALANCE [1 without a terminal, else 0:
#   confirm before live orders]  TARGET_DEFICIT, MIN_ORDER_VALUE, COST_WEIGHT, DRIFT_BAND [the rebalancer's
#   defaults]  CAPITAL [the whole account]  KEEP [none: SYM,SYM holdings left untouched]
#   NOTIFY_URLS [none: apprise URLs told of failures, the new basket and the rebalance's result]
# Each step's output is also kept in data/logs/{run id}_{index}_{step}.log; the first failed step stops the run.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup_venv.sh requirements.txt
export RUN_ID=${RUN_ID:-$(date -u +%Y%m%dT%H%M%SZ)}
export INDEX=${INDEX:-NIFTY SMALLCAP 250}

if [ "${1:-}" = "demo" ]; then
  exec scripts/run_step.sh demo
elif [ $# -gt 0 ]; then
  echo "usage: ./run.sh [demo]   (settings come from the environment: see the top of run.sh)" >&2
  exit 2
fi

case "${LIVE_REBALANCE:-1}" in
  1) mode=live ;;
  0) mode=dry-run ;;
  *) echo "error: LIVE_REBALANCE must be 1 (live orders) or 0 (dry run), not '${LIVE_REBALANCE}'" >&2; exit 2 ;;
esac
if [ -t 0 ]; then quiet_default=0; else quiet_default=1; fi
export PASSES=${PASSES:-2} WORKERS=${WORKERS:-10} TOP_N=${FILTER_TOP_N:-20} BASKET_K=${BASKET_SIZE_K:-5}
export MODE=$mode QUIET=${QUIET_REBALANCE:-$quiet_default} BASKET=""
export TARGET_DEFICIT=${TARGET_DEFICIT:-} MIN_ORDER_VALUE=${MIN_ORDER_VALUE:-}
export COST_WEIGHT=${COST_WEIGHT:-} DRIFT_BAND=${DRIFT_BAND:-} CAPITAL=${CAPITAL:-} KEEP=${KEEP:-}

for step in research portfolio score publish notify-published rebalance; do
  echo "== $step =="
  scripts/run_step.sh "$step"
done
echo "Done. Logs: data/logs/${RUN_ID}_${INDEX// /_}_*.log"
