#!/usr/bin/env bash
# Install everything the project needs on a fresh Debian machine, idempotently:
#   scripts/setup.sh            runtime + development tools + the vCenter simulator
#   scripts/setup.sh --runtime  only the Python runtime environment (offline preview)
set -euo pipefail
cd "$(dirname "$0")/.."

want_dev=1
[ "${1:-}" = "--runtime" ] && want_dev=0

log() { printf '[setup] %s\n' "$*" >&2; }

# --- Debian packages: Go + govmomi sources (vcsim), cloud-init (schema checks) ----------
if [ "$want_dev" = 1 ]; then
  need=()
  command -v go >/dev/null 2>&1 || need+=(golang-go)
  [ -d /usr/share/gocode/src/github.com/vmware/govmomi/simulator ] || need+=(golang-github-vmware-govmomi-dev)
  command -v cloud-init >/dev/null 2>&1 || need+=(cloud-init)
  if [ "${#need[@]}" -gt 0 ]; then
    sudo_cmd=""
    [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
    log "installing Debian packages: ${need[*]}"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}" >/dev/null
  fi
fi

# --- Python environment --------------------------------------------------------------------
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  "$python" -m venv .venv
fi
reqs=requirements.txt
[ "$want_dev" = 1 ] && reqs=requirements-dev.txt
stamp=".venv/.installed-$(cat requirements.txt "$reqs" | sha256sum | cut -c1-16)-$want_dev"
if [ ! -f "$stamp" ]; then
  log "installing Python packages from $reqs"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -r "$reqs"
  touch "$stamp"
fi

# --- the vCenter simulator ------------------------------------------------------------------
if [ "$want_dev" = 1 ]; then
  bin=build/bin/vcsim
  if [ ! -x "$bin" ] || [ tools/vcsim/main.go -nt "$bin" ]; then
    log "building the vCenter simulator (govmomi from Debian)"
    mkdir -p build/bin build/gopath
    (cd tools/vcsim && GOPATH="$PWD/../../build/gopath:/usr/share/gocode" GO111MODULE=off GOFLAGS= \
      GOCACHE="$PWD/../../build/gocache" go build -o "../../$bin" .)
  fi
fi
log "ready"
