#!/usr/bin/env bash
# Benchmarks: set up what is missing (as scripts/test.sh does), then measure and print the figures.
#   scripts/bench.sh                                  # program 10/100/1000 nodes, reconcile 10/100/500 nodes
#   scripts/bench.sh --program 10 100 --reconcile 10  # other sizes (see python -m benchmarks --help)
#   scripts/bench.sh --engine [--preview 10 100 --noop 10 --race 10 100 --cold ...]
#                                                     # through the real engine on the simulated data centre
#                                                     # (python -m benchmarks.engine --help; hours at full size)
#   .venv/bin/python -m benchmarks.up_floor 0 1 500 --skip-checkpoints   # the floor of `pulumi up` itself
# Takes about 75 s on 2 idle cores (plus setup on a fresh machine). Not part of CI (only small smoke tests are).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [[ "${1:-}" == "--engine" ]]; then
  shift
  exec .venv/bin/python -m benchmarks.engine "$@"
fi
exec .venv/bin/python -m benchmarks "$@"
