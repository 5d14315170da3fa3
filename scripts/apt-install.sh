#!/usr/bin/env bash
# Install Debian packages when a command is missing: apt-install.sh COMMAND PACKAGE...
# Used for the test and benchmark tools that come from Debian (chromium, wrk).
set -euo pipefail
command_name="$1"
shift
if command -v "$command_name" >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "apt-install: $command_name is missing and apt-get is not available; install it by hand" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "apt-install: installing $* (once)…" >&2
$SUDO apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
command -v "$command_name" >/dev/null
