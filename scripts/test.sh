#!/usr/bin/env bash
# Set everything up and run the whole test suite (extra arguments go to pytest).
# Environment: DATABASE_URL (default SQLite), REDIS_URL, PYTHON, VENV.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/install-browser.sh
VENV="${VENV:-.venv}"
# pytest exits 5 when it ran no test: that is a failure here, as any non-zero status.
exec "$VENV/bin/python" -m pytest "$@"
