"""`scripts/up.sh` and `scripts/down.sh`: the main job on the local simulated data centre.

    python -m tests.support.world.cli up     start the world, `pulumi up` the `local` stack, print
                                             the outputs and the node table, keep serving
    python -m tests.support.world.cli down   `pulumi destroy`, stop the world

`up` runs as a daemon (its log: build/world/world.log) holding the stack's passphrase in
memory only; `down` signals it, and it destroys the stack and stops every process. Nothing
secret is written to disk unencrypted: the state's secrets are under that passphrase.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from kubernetes import client

from toolchain.manifest import REPO_ROOT
from vsphere_k8s.topology import labels as topology

from .project import STACK_TEMPLATES, open_local_stack
from .pulumi_cli import PulumiCli
from .world import World

STACK = "local"
HOME = REPO_ROOT / "build" / "world"
PIDFILE = HOME / "world.pid"
LOG = HOME / "world.log"
READY, FAILED, DONE = "== world: ready", "== world: failed", "== world: stopped"


def node_table(core: client.CoreV1Api, vms: dict[str, str]) -> str:
    """Node, VM, providerID, zone, region: what the CPI and the bindings agree on."""
    rows = [("NODE", "VM UUID", "PROVIDER ID", "ZONE", "REGION")]
    for node in sorted(core.list_node().items, key=lambda n: str(n.metadata.name if n.metadata else "")):
        meta, spec = node.metadata, node.spec
        if meta is None or spec is None:
            continue
        labels = meta.labels or {}
        rows.append(
            (
                str(meta.name),
                vms.get(str(meta.name), "-"),
                spec.provider_id or "-",
                labels.get(topology.ZONE, "-"),
                labels.get(topology.REGION, "-"),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def _serve() -> int:
    """The daemon: world up, stack up, then wait for SIGTERM and take it all down."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    workdir = HOME / "run"
    # Each world is new (the simulator keeps nothing between runs), and so is the stack's state.
    shutil.rmtree(workdir, ignore_errors=True)
    template = STACK_TEMPLATES / f"Pulumi.{STACK}.yaml"
    expected: dict[str, bool] = {}
    world = World(workdir, expected_nodes=lambda: expected)
    cli: PulumiCli | None = None
    try:
        print("== world: starting vcsim, etcd, kube-apiserver, controller-manager, scheduler, kwok", flush=True)
        world.start()
        assert world.vcenter is not None
        cli = open_local_stack(world, STACK, template, expected)
        print(f"== pulumi up (stack {STACK}; logs in {workdir / 'logs'})", flush=True)
        up = cli.run("up", "--yes", "--skip-preview", check=False)
        print(up.stdout, flush=True)
        if up.returncode != 0:
            print(up.stderr, flush=True)
            raise RuntimeError("pulumi up failed")
        outputs: dict[str, Any] = cli.outputs()
        print("== stack outputs (secrets hidden)", flush=True)
        print(json.dumps(outputs, indent=2), flush=True)
        vms = {name: str(vm["uuid"]) for name, vm in outputs.get("nodeVms", {}).items()}
        print("== nodes", flush=True)
        print(node_table(world.core(), vms), flush=True)
        print(f"{READY}: kubeconfig {world.kubeconfig}; `scripts/down.sh` tears it all down", flush=True)
        stop.wait()
        print("== pulumi destroy", flush=True)
        down = cli.run("destroy", "--yes", "--skip-preview", check=False)
        print(down.stdout[-4000:], down.stderr[-2000:], flush=True)
        return 0 if down.returncode == 0 else 1
    except Exception as e:
        print(f"{FAILED}: {e}", flush=True)
        return 1
    finally:
        for err in world.stop():
            print(f"stop: {err}", flush=True)
        print(DONE, flush=True)


def _follow_until(markers: tuple[str, ...], offset: int, proc_alive: Any) -> str | None:
    """Print the daemon's log from ``offset`` until a marker line; return the marker met."""
    with LOG.open() as f:
        f.seek(offset)
        while True:
            line = f.readline()
            if line:
                print(line, end="", flush=True)
                for m in markers:
                    if line.startswith(m):
                        return m
                continue
            if not proc_alive():
                return None
            time.sleep(0.2)


def _pid() -> int | None:
    try:
        pid = int(PIDFILE.read_text())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def up() -> int:
    if _pid() is not None:
        print(f"the world is already running (pid {_pid()}); `scripts/down.sh` first", file=sys.stderr)
        return 1
    HOME.mkdir(parents=True, exist_ok=True)
    LOG.touch()
    offset = LOG.stat().st_size
    with LOG.open("a") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.world.cli", "serve"],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    PIDFILE.write_text(str(proc.pid))
    met = _follow_until((READY, FAILED, DONE), offset, lambda: proc.poll() is None)
    return 0 if met == READY else 1


def down() -> int:
    pid = _pid()
    if pid is None:
        print("no world is running", file=sys.stderr)
        return 0
    offset = LOG.stat().st_size
    os.kill(pid, signal.SIGTERM)

    def alive() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    _follow_until((DONE,), offset, alive)
    with contextlib.suppress(FileNotFoundError):
        PIDFILE.unlink()
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.support.world.cli")
    ap.add_argument("command", choices=["up", "down", "serve"])
    args = ap.parse_args(argv)
    return {"up": up, "down": down, "serve": _serve}[args.command]()


if __name__ == "__main__":
    sys.exit(main())
