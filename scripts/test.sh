#!/usr/bin/env bash
# Run the whole test suite: ruff, the import contracts, mypy, then pytest.
# "No tests collected" counts as a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m ruff check . || exit 1
.venv/bin/lint-imports --no-cache || exit 1
.venv/bin/python -m mypy || exit 1
.venv/bin/python -m pytest "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit "$status"
