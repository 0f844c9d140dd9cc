#!/usr/bin/env bash
# Smoke test of the project's own Python language host with the Pulumi CLI, offline (only the package index is
# used, by `pulumi install`), in a temporary directory with its own PULUMI_HOME and file:// backend:
#   - a tiny project with one dynamic-provider resource (a file on disk), stack config and a secret, through
#     stack init, config set [--secret], preview, up, up (no changes), refresh (of a drifted file), destroy,
#     stack ls, config get, stack rm;
#   - preview --policy-pack with a tiny pack of its own (stack identity and config reach the pack) and with the
#     project's pack in policies/ (with policies/venv, or else with VENV through PULUMI_PYTHON_CMD);
#   - a program that raises: the preview and the update fail, with the exception reported once;
#   - pulumi install into a virtualenv that does not exist yet, twice (the second is a no-op), then a preview.
# Each step's output is in <tmp>/logs/<step>.log; the temporary directory is removed when everything passed.
#
#   toolchain/smoke/run.sh            # KEEP=1 keeps the temporary directory even on success
#
# Inputs (environment, with defaults):
#   PULUMI_CLI              the Pulumi CLI binary        (/root/.cache/vsphere-k8s-toolchain/bin/pulumi-v3.274.1)
#   PULUMI_LANGUAGE_PYTHON  the built language host      (/root/.cache/vsphere-k8s-toolchain/bin/pulumi-language-python-dev)
#   VENV                    a virtualenv with pulumi and pulumi-policy installed (<repo>/.venv)
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=/root/.cache/vsphere-k8s-toolchain/bin
cli=$(readlink -f "${PULUMI_CLI:-$cache/pulumi-v3.274.1}")
langhost=$(readlink -f "${PULUMI_LANGUAGE_PYTHON:-$cache/pulumi-language-python-dev}")
venv=${VENV:-$repo/.venv}
for f in "$cli" "$langhost" "$venv/bin/python"; do
  [ -x "$f" ] || { echo "smoke: missing $f" >&2; exit 2; }
done

tmp=$(mktemp -d /tmp/pulumi-python-smoke.XXXXXX)
bin=$tmp/bin logs=$tmp/logs
mkdir -p "$bin" "$logs" "$tmp/home" "$tmp/state" "$tmp/out"

# One directory holds the CLI and everything it must find. The CLI prefers language hosts and the pulumi-python
# provider that sit next to its own (symlink-resolved) executable, and warns when it takes one from PATH instead,
# so the CLI is linked here as a file of its own (hard link, else a copy), not as a symlink.
ln "$cli" "$bin/pulumi" 2>/dev/null || cp "$cli" "$bin/pulumi"
ln -s "$langhost" "$bin/pulumi-language-python"
ln -s "$repo/toolchain/scripts/pulumi-language-python-exec" "$bin/"
ln -s "$repo/toolchain/scripts/pulumi-resource-pulumi-python" "$bin/"

export PULUMI_HOME=$tmp/home
export PULUMI_BACKEND_URL=file://$tmp/state
export PULUMI_CONFIG_PASSPHRASE=test
export PULUMI_SKIP_UPDATE_CHECK=1
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PATH=$bin:$PATH
unset PULUMI_PYTHON_CMD PULUMI_ACCESS_TOKEN

secret_value="smoke-secret-$RANDOM$RANDOM"

# --- the projects ----------------------------------------------------------------------------------------------
mkproject() { # dir name
  mkdir -p "$1"
  ln -s "$venv" "$1/.venv"
  cat >"$1/Pulumi.yaml" <<EOF
name: $2
runtime:
  name: python
  options:
    toolchain: pip
    virtualenv: .venv
EOF
}

mkproject "$tmp/proj" smoke
cat >"$tmp/proj/__main__.py" <<'EOF'
"""One dynamic-provider resource (a file on disk), stack config, a secret, and outputs."""

import os
import sys
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult
from smoke_providers import Echo


class FileProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        Path(props["path"]).write_text(props["content"])
        # Which interpreter pulumi-resource-pulumi-python picked, for the test to check.
        Path(props["path"] + ".provider-python").write_text(sys.executable)
        return CreateResult(id_=props["path"], outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = ["path"] if olds["path"] != news["path"] else []
        return DiffResult(changes=olds["content"] != news["content"] or bool(replaces), replaces=replaces)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        Path(news["path"]).write_text(news["content"])
        return UpdateResult(outs=news)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        path = Path(id_)
        content = path.read_text() if path.exists() else ""
        return ReadResult(id_=id_, outs={**props, "path": id_, "content": content})

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        Path(id_).unlink(missing_ok=True)


class File(Resource):
    content: pulumi.Output[str]

    def __init__(self, name: str, path: str, content: pulumi.Input[str]) -> None:
        super().__init__(FileProvider(), name, {"path": path, "content": content})


config = pulumi.Config()
greeting = config.require("greeting")
token = config.require_secret("token")
out_dir = os.environ["SMOKE_OUT"]
f = File("greeting", f"{out_dir}/greeting.txt", f"{greeting} from {pulumi.get_project()}/{pulumi.get_stack()}\n")
print(f"program: dry_run={pulumi.runtime.is_dry_run()} cwd={os.getcwd()}")
echo = Echo("echo", "from a provider in a module of the project")
pulumi.export("echo", echo.value)
pulumi.export("content", f.content)
pulumi.export("token_length", token.apply(len))
pulumi.export("token", token)
EOF
# A provider in an importable module of the project, as the project's own providers/ are: the SDK pickles it by
# reference, so the provider process must import it from the program's directory.
cat >"$tmp/proj/smoke_providers.py" <<'EOF'
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, Resource, ResourceProvider


class EchoProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_="echo", outs={"value": props["value"]})


class Echo(Resource):
    value: pulumi.Output[str]

    def __init__(self, name: str, value: str) -> None:
        super().__init__(EchoProvider(), name, {"value": value})
EOF
printf 'pulumi\n' >"$tmp/proj/requirements.txt"

mkproject "$tmp/fail" smoke-fail
cat >"$tmp/fail/__main__.py" <<'EOF'
def helper() -> None:
    raise ValueError("boom from the smoke test")


helper()
EOF

# A policy pack of its own with a virtualenv (a symlink), to check that the pack gets the stack's identity and
# config from the engine (the policy proxy) and runs in the pack's virtualenv.
mkdir -p "$tmp/policy"
ln -s "$venv" "$tmp/policy/venv"
cat >"$tmp/policy/PulumiPolicy.yaml" <<'EOF'
runtime:
  name: python
  options:
    virtualenv: venv
version: 0.0.1
description: smoke-test policy pack
EOF
cat >"$tmp/policy/__main__.py" <<'EOF'
import sys

import pulumi
from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy


def report(args, report_violation):
    greeting = pulumi.Config("smoke").get("greeting")
    report_violation(
        f"smoke-policy saw {args.resource_type} stack={pulumi.get_stack()} project={pulumi.get_project()} "
        f"greeting={greeting} python={sys.prefix}"
    )


PolicyPack(
    name="smoke-policy",
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=[ResourceValidationPolicy(name="smoke-report", description="reports every resource", validate=report)],
)
EOF

# --- the steps -------------------------------------------------------------------------------------------------
passed=0 failed=0
step() { # name dir expected-status(0|nonzero|any) command...
  local name=$1 dir=$2 want=$3 status=0
  shift 3
  (cd "$dir" && SMOKE_OUT=$tmp/out timeout 600 "$@") >"$logs/$name.log" 2>&1 || status=$?
  if [ "$want" = any ] || { [ "$want" = 0 ] && [ "$status" = 0 ]; } || { [ "$want" = nonzero ] && [ "$status" != 0 ]; }; then
    echo "ok    $name (exit $status)"
    last_ok=1
  else
    echo "FAIL  $name (exit $status, wanted $want): $logs/$name.log"
    sed 's/^/      | /' "$logs/$name.log" | tail -25
    last_ok=0
  fi
}
check() { # description condition...
  local what=$1
  shift
  if "$@"; then
    echo "ok    $what"
    passed=$((passed + 1))
  else
    echo "FAIL  $what"
    failed=$((failed + 1))
  fi
}
logged() { grep -q -- "$2" "$logs/$1.log"; }
count() { grep -c -- "$2" "$logs/$1.log" || true; }
# p: pulumi without prompts or colours (a script, so that `timeout` can run it).
printf '#!/bin/sh\nexec pulumi "$@" --non-interactive --color never\n' >"$bin/p"
chmod +x "$bin/p"

step stack-init "$tmp/proj" 0 p stack init dev
check "stack init" test "$last_ok" = 1
step config "$tmp/proj" 0 sh -c "pulumi config set greeting hello && pulumi config set --secret token '$secret_value'"
check "config set, config set --secret" test "$last_ok" = 1
step preview "$tmp/proj" 0 p preview
check "preview" test "$last_ok" = 1
check "preview ran the program as a dry run" logged preview "program: dry_run=True cwd=$tmp/proj"
check "preview plans the dynamic resource" logged preview "pulumi-python:dynamic:Resource"
step up "$tmp/proj" 0 p up --yes
check "up" test "$last_ok" = 1
check "up created the file through the dynamic provider" grep -qx "hello from smoke/dev" "$tmp/out/greeting.txt"
check "up ran the program for real" logged up "program: dry_run=False"
check "the dynamic provider ran in the project's virtualenv" \
  grep -qx "$tmp/proj/.venv/bin/python" "$tmp/out/greeting.txt.provider-python"
step outputs "$tmp/proj" 0 p stack output --json --show-secrets
check "the provider from the project's module ran" logged outputs '"echo": "from a provider in a module of the project"'
check "stack outputs, the secret's length and value" sh -c "grep -q '\"token_length\": ${#secret_value}' '$logs/outputs.log' &&
  grep -q '$secret_value' '$logs/outputs.log'"
step up-again "$tmp/proj" 0 p up --yes --expect-no-changes
check "second up has no changes" test "$last_ok" = 1
echo "drifted" >"$tmp/out/greeting.txt"
step refresh "$tmp/proj" 0 p refresh --yes
check "refresh" test "$last_ok" = 1
step export "$tmp/proj" 0 p stack export
check "refresh read the drifted file back into the state" logged export 'drifted'
step policy-own "$tmp/proj" 0 p preview --policy-pack "$tmp/policy"
check "preview --policy-pack (own pack) ran the pack" logged policy-own "smoke-policy saw pulumi-python:dynamic:Resource"
check "the pack got the stack, project and config" logged policy-own "stack=dev project=smoke greeting=hello"
check "the pack ran in its virtualenv" logged policy-own "python=$tmp/policy/venv"
if [ -x "$repo/policies/venv/bin/python" ]; then
  step policy-project "$tmp/proj" any p preview --policy-pack "$repo/policies"
else
  # policies/venv (PulumiPolicy.yaml: virtualenv venv) is not there: run the pack with the project's virtualenv.
  step policy-project "$tmp/proj" any env PULUMI_PYTHON_CMD="$venv/bin/python" p preview --policy-pack "$repo/policies"
fi
check "preview --policy-pack policies ran the project's pack" logged policy-project "vsphere-k8s@v0.1.0"
step destroy "$tmp/proj" 0 p destroy --yes
check "destroy" test "$last_ok" = 1
check "destroy deleted the file through the dynamic provider" test ! -e "$tmp/out/greeting.txt"

step stack-ls "$tmp/proj" 0 p stack ls
check "stack ls" logged stack-ls "dev"
step config-get "$tmp/proj" 0 p config get greeting
check "config get" logged config-get "hello"
step stack-rm "$tmp/proj" 0 p stack rm dev --yes
check "stack rm" test "$last_ok" = 1

step fail-init "$tmp/fail" 0 p stack init dev
step fail-preview "$tmp/fail" nonzero p preview
check "a raising program fails the preview" test "$last_ok" = 1
check "its exception is reported" logged fail-preview "ValueError: boom from the smoke test"
check "its exception is reported once" test "$(count fail-preview 'ValueError: boom from the smoke test')" = 1
check "its traceback starts in the program" sh -c "! grep -q 'pulumi-language-python-exec\|runpy' '$logs/fail-preview.log'"
check "no second, generic error" sh -c "! grep -q 'exited with code' '$logs/fail-preview.log'"
step fail-up "$tmp/fail" nonzero p up --yes
check "a raising program fails the update" test "$last_ok" = 1

# `pulumi install` (InstallDependencies): creates a missing virtualenv and installs requirements.txt; a second run
# finds the installation stamp and returns at once. Then the fresh virtualenv runs a preview.
mkdir -p "$tmp/inst"
cat >"$tmp/inst/Pulumi.yaml" <<'EOF'
name: smoke-install
runtime:
  name: python
  options:
    toolchain: pip
    virtualenv: venv
EOF
"$venv/bin/python" -c 'import importlib.metadata as m; print("pulumi==" + m.version("pulumi"))' >"$tmp/inst/requirements.txt"
printf 'import pulumi\n\npulumi.export("ok", True)\n' >"$tmp/inst/__main__.py"
step install "$tmp/inst" 0 p install
check "install created the virtualenv and installed the requirements" test -x "$tmp/inst/venv/bin/python" -a "$last_ok" = 1
start=$(date +%s)
step install-again "$tmp/inst" 0 p install
check "a second install is a quick no-op" test "$last_ok" = 1 -a $(($(date +%s) - start)) -lt 10
check "a second install found the stamp" logged install-again "are installed"
step inst-init "$tmp/inst" 0 p stack init dev
step inst-preview "$tmp/inst" 0 p preview
check "preview with the installed virtualenv" test "$last_ok" = 1

check "the secret never shows in any output but --show-secrets" sh -c \
  "! grep -l -- '$secret_value' $logs/*.log | grep -v '/outputs.log$' | grep -q ."
check "no warning about plugins taken from PATH" sh -c "! grep -q 'from \$PATH' $logs/*.log"

echo "smoke: logs in $logs"
if [ "$failed" = 0 ] && [ "${KEEP:-0}" != 1 ]; then
  rm -rf "$tmp"
fi
echo "smoke: $passed passed, $failed failed"
[ "$failed" = 0 ]
