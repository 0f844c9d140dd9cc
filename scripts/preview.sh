#!/usr/bin/env bash
# The main job on the embedded default, with no credentials, engine or network:
# run the program for a stack under mocks, print the resource tree, write every
# rendered file to build/preview/<stack>/ and check the policy pack over it.
#   scripts/preview.sh [stack]   (default: sim)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --runtime
stack=${1:-sim}
exec .venv/bin/python -m offline --stack "$stack" --out "build/preview/$stack" "${@:2}"
