#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests, when it is not there yet.
# (Elsewhere: install Chromium by hand and set KABAR_CHROMIUM to its path.)
exec bash "$(dirname "$0")/apt-install.sh" chromium chromium fonts-dejavu-core
