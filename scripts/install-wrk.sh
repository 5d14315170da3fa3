#!/usr/bin/env bash
# Install Debian's wrk (the HTTP load generator bench/site_bench.py drives), when it is not there yet.
set -euo pipefail
if command -v wrk >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-wrk: wrk is missing and apt-get is not available; install wrk (https://github.com/wg/wrk)" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-wrk: installing Debian's wrk (once)…" >&2
$SUDO apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends wrk >/dev/null
command -v wrk >/dev/null
