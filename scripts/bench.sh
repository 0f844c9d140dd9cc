#!/usr/bin/env bash
# Benchmarks: set up what is missing (as scripts/test.sh does), then measure and print the figures.
#   scripts/bench.sh                                  # program 10/100/1000 nodes, reconcile 10/100/500 nodes
#   scripts/bench.sh --program 10 100 --reconcile 10  # other sizes (see python -m benchmarks --help)
# Takes about 75 s on 2 idle cores (plus setup on a fresh machine). Not part of CI (only small smoke tests are).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python -m benchmarks "$@"
