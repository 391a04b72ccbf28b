#!/usr/bin/env bash
# Make sure a headless Chromium is there for tests/site/test_browser.py: install Debian's
# `chromium` package when none is on PATH and we can (root or passwordless sudo, apt-get).
# Prints one line about what it did and never fails the caller: without Chromium that test skips.
set -uo pipefail

for name in chromium chromium-browser; do
  if found=$(command -v "$name"); then
    echo "chromium: found $found"
    exit 0
  fi
done
if [ -x /usr/bin/chromium ]; then
  echo "chromium: found /usr/bin/chromium"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium: not installed and no apt-get here; the browser test will skip (install Chromium yourself)"
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  as_root=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root="sudo -n"
else
  echo "chromium: not installed and no root or passwordless sudo; the browser test will skip" \
       "(run: sudo apt-get install chromium)"
  exit 0
fi

log=$(mktemp)
if $as_root apt-get update -qq >"$log" 2>&1 \
  && $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >>"$log" 2>&1 \
  && command -v chromium >/dev/null 2>&1; then
  echo "chromium: installed $(chromium --version 2>/dev/null || echo 'Debian package chromium')"
else
  echo "chromium: installing Debian's chromium failed (the browser test will skip): $(tail -n 1 "$log")"
fi
rm -f "$log"
exit 0
