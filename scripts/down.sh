#!/usr/bin/env bash
# Tear down what scripts/up.sh started: `pulumi destroy` of the local stack, then every process.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m tests.support.world.cli down
