#!/usr/bin/env bash
# Benchmarks: set up what is missing (as scripts/test.sh does), then measure and print the figures.
#   scripts/bench.sh                                  # program 10/100/1000 nodes, reconcile 10/100/500 nodes
#   scripts/bench.sh --program 10 100 --reconcile 10  # other sizes (see python -m benchmarks --help)
# Takes about 5-10 minutes on 2 cores. Not part of CI (only a small smoke test is).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python -m benchmarks "$@"
