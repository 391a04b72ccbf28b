#!/usr/bin/env bash
# Run one step of scripts/pipeline.py from the repository's root, echoing its output and keeping a
# copy in data/logs/{RUN_ID}_{INDEX}_{step}.log (spaces in the index become underscores).
# Usage: scripts/run_step.sh STEP    (RUN_ID defaults to the time now, UTC; INDEX to NIFTY SMALLCAP 250)
set -euo pipefail
cd "$(dirname "$0")/.."
step=${1:?usage: scripts/run_step.sh STEP}
run_id=${RUN_ID:-$(date -u +%Y%m%dT%H%M%SZ)}
index=${INDEX:-NIFTY SMALLCAP 250}
# The logs show holdings, orders and account values: only this user may read them (folder 0700, files 0600).
mkdir -p data/logs
chmod 700 data/logs
log="data/logs/${run_id}_${index// /_}_${step}.log"
(umask 077 && : >>"$log")
chmod 600 "$log"
python=.venv/bin/python
[ -x "$python" ] || python=python3
set +e
"$python" -u scripts/pipeline.py "$step" 2>&1 | tee -a "$log"
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  echo "The $step step failed (exit $status). Its log: $log" >&2
fi
exit "$status"
