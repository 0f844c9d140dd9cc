#!/usr/bin/env bash
# Install everything the project needs on a fresh Debian machine, idempotently:
#   scripts/setup.sh            runtime + development tools + the real toolchain (scripts/toolchain.sh)
#   scripts/setup.sh --runtime  only the Python runtime environment (offline preview)
set -euo pipefail
cd "$(dirname "$0")/.."

want_dev=1
[ "${1:-}" = "--runtime" ] && want_dev=0

log() { printf '[setup] %s\n' "$*" >&2; }

# --- Debian packages: cloud-init (schema checks), shellcheck (the workflows' run steps, through
# actionlint); Go comes with the machine image --------------------------------------------------
if [ "$want_dev" = 1 ]; then
  need=()
  command -v cloud-init >/dev/null 2>&1 || need+=(cloud-init)
  command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
  if [ "${#need[@]}" -gt 0 ]; then
    sudo_cmd=""
    [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
    log "installing Debian packages: ${need[*]}"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
    log "Go 1.26 is needed to build the toolchain (the machine image has it in /usr/local/go)"
    exit 1
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

# --- the policy pack's virtualenv: the project's own (same pinned pulumi, pulumi-policy) ------
if [ "$want_dev" = 1 ] && [ ! -e policies/venv ]; then
  ln -s ../.venv policies/venv
fi

# --- the real tools, built from Go modules into the cache (toolchain/manifest.toml) ----------------
if [ "$want_dev" = 1 ]; then
  scripts/toolchain.sh
fi
log "ready"
