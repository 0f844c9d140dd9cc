#!/usr/bin/env bash
# The one test command: set up what is missing, then lint, type-check and run every test.
# Extra arguments go to pytest (e.g. scripts/test.sh -k config).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff"; ruff check . && ruff format --check .
echo "== mypy"; mypy .
echo "== actionlint"; "$(python -c 'from toolchain.manifest import locate; print(locate("actionlint"))')" .github/workflows/*.yml
echo "== pytest"; exec pytest "$@"
