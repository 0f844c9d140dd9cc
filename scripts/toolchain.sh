#!/usr/bin/env bash
# Build the pinned real tools (toolchain/manifest.toml) into the cache outside the repo:
# the Pulumi CLI and language host, the kubernetes provider plugin, etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubeadm, kwok, the vSphere CPI and vcsim.
# Cold on 2 cores: 40-50 minutes (62 CPU-minutes for 11 of the 12 tools; 15 GB of Go module and build caches, 0.9 GB of binaries);
# warm (all cached): under a second.
#   scripts/toolchain.sh              build what is missing, with progress
#   scripts/toolchain.sh --check      check the manifest against the wrapper modules
#   scripts/toolchain.sh --print-path the PATH entries that hold the tools
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
[ -x .venv/bin/python ] && python=.venv/bin/python
if ! command -v go >/dev/null 2>&1; then
  [ -x /usr/local/go/bin/go ] && export PATH="/usr/local/go/bin:$PATH"
fi
exec "$python" -m toolchain.build "$@"
