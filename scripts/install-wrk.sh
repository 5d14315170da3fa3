#!/usr/bin/env bash
# Install Debian's wrk (the HTTP load generator the site and load benchmarks drive), when missing.
exec bash "$(dirname "$0")/apt-install.sh" wrk wrk
