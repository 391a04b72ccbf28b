#!/usr/bin/env bash
# Create .venv (Python 3.11 or newer) and install the pinned requirements into it, again only when
# a requirements file or pyproject.toml changed.  Usage: scripts/setup_venv.sh [requirements file]
set -euo pipefail
cd "$(dirname "$0")/.."
requirements=${1:-requirements.txt}
python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "error: niftybaskets needs Python 3.11 or newer; $python is $("$python" --version 2>&1)." \
       "Install one and run again with PYTHON=/path/to/python3.11" >&2
  exit 2
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
hash=$(cat requirements*.txt pyproject.toml | sha256sum | cut -c1-16)
stamp=".venv/.installed-$(basename "$requirements" .txt)-$hash"
# requirements-dev.txt includes requirements.txt: an install of the first serves both.
if [ ! -f "$stamp" ] && [ ! -f ".venv/.installed-requirements-dev-$hash" ]; then
  echo "setting up .venv from $requirements (the first time takes a minute or two)..."
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements" -e .
  touch "$stamp"
fi
