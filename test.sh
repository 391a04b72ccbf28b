#!/usr/bin/env bash
# Set up .venv with the test tools, then: lint, all tests, and the benchmarks' quick smoke runs.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup_venv.sh requirements-dev.txt
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest "$@"
.venv/bin/python bench/paper_exchange_bench.py --quick
.venv/bin/python bench/rebalance_bench.py --quick
.venv/bin/python bench/research_bench.py --quick
