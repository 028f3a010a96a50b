#!/usr/bin/env bash
# The admin console's end-to-end test drives Debian's Chromium with playwright-core. Installs it
# when it is missing and we may (root with apt-get); otherwise says how, and fails.
set -euo pipefail

CHROMIUM=${AEGLE_CHROMIUM:-/usr/bin/chromium}

if [ -x "$CHROMIUM" ]; then
  exit 0
fi

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Chromium is not installed ($CHROMIUM); installing Debian's chromium package for the console test" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends chromium >&2
  [ -x "$CHROMIUM" ] && exit 0
fi

echo "The admin console test needs Chromium at $CHROMIUM: install it (sudo apt-get install chromium)," >&2
echo "or point AEGLE_CHROMIUM at a Chromium or Chrome binary." >&2
exit 1
