#!/usr/bin/env bash
# The browser tests drive Debian's Chromium through playwright-core (which never downloads
# a browser of its own), so `make test` brings it in itself: installed with apt-get when
# missing and we may (root), otherwise one clear line saying what to install.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
else
  echo "the browser tests need Debian's chromium: sudo apt-get install chromium" >&2
  exit 1
fi
