#!/usr/bin/env bash
# Set everything up on the embedded default (SQLite, local media served at /media/, a file
# cache every process shares) and run the site on http://127.0.0.1:8000 (KABAR_ADDR=host:port
# to change it) with the sample posts imported. Ready at "Starting development server at …".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV="${VENV:-.venv}"
export DEBUG="${DEBUG:-1}"
"$VENV/bin/python" manage.py migrate --noinput
"$VENV/bin/python" manage.py import_posts samples/posts
# A background worker drains the task queue (image caching) while the site runs.
"$VENV/bin/python" manage.py run_worker --interval 2 &
worker=$!
# The server runs in the background too: bash runs a trap only once its foreground command has
# ended, so a SIGTERM (a service manager, `kill`) would wait for a server that never ends.
# Ctrl-C, SIGTERM or either process ending stops both and then this script.
"$VENV/bin/python" manage.py runserver "${KABAR_ADDR:-127.0.0.1:8000}" &
server=$!
stop() {
  kill -TERM "$server" "$worker" 2>/dev/null || true
  wait "$server" "$worker" 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
wait -n "$server" "$worker"
