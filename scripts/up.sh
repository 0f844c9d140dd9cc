#!/usr/bin/env bash
# The main job on the embedded local data centre, no credentials needed: builds what is
# missing (first run: the toolchain, 40-50 minutes on 2 cores), starts govmomi's vCenter
# simulator, a real Kubernetes control plane with kwok's nodes and the real vSphere CPI on
# loopback, runs `pulumi up` of the `local` stack (stacks/world/Pulumi.local.yaml) through the
# real CLI, and prints the stack's outputs and a table of the nodes with their VM, providerID,
# zone and region. `scripts/down.sh` destroys the stack and stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python -m tests.support.world.cli up
