"""Program cost: the whole program under mocks against the floor of the SDK registering the same resources bare.

The program is ``__main__.py`` run by the offline harness (``offline.program.run_program``:
config validation, the plan, every component, the mocks answering every invoke and resource).

The floor is what the same Pulumi SDK costs in the same harness for the same registrations
with none of the program around them: the recording of the program's run is replayed, each
registration in its original order as a bare ``CustomResource`` / ``ComponentResource`` /
``ProviderResource`` of the same type token and name, with the same resolved inputs (secret
inputs wrapped as secrets again), the same parent, the same explicit provider, and the same
component outputs registered; the same ``VSphereMocks`` answer it (so the mocks' own cost,
e.g. generating the PKI's keys, is in both). What the floor leaves out is exactly the
program: loading and checking the config, planning nodes and addresses, rendering
cloud-init/kubeadm/guestinfo/manifests, the invokes (lookups), and the Output plumbing
between resources (the floor's inputs are already resolved, so it has no dependencies and
no dependency-cycle checks), and the provider SDKs' typed argument classes (the floor
registers ``pulumi.CustomResource`` with the recorded camelCase inputs; that translation
is a few percent of a run in the profile).

The program and the floor each run in a fresh interpreter (the program's child hands the
recorded registrations to the floor's child in a pickle), after the same small warm-up
(a 10-node program and its floor), so that imports are paid before the clock starts and
neither side pays for the other's heap in garbage collection; each child prints one
JSON line.
"""

from __future__ import annotations

import gc
import json
import pickle
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .child import run_child

STACK = "bench"


@dataclass(frozen=True)
class ProgramFigures:
    nodes: int
    registrations: int  # resources the program registered (custom + component + provider)
    custom: int
    components: int
    program_seconds: float  # best of ``repeats``
    floor_seconds: float  # best of ``repeats``
    baseline_rss_mib: float  # after imports and a warm-up run, before the measured ones
    peak_rss_mib: float  # after the program's measured runs (before the floor ran)

    @property
    def ratio(self) -> float:
        return self.program_seconds / self.floor_seconds if self.floor_seconds else float("inf")

    @property
    def overhead(self) -> float:
        """What the program adds over the floor, as a fraction of the floor (0.15 = 15%)."""
        return self.ratio - 1.0


@dataclass(frozen=True)
class Replay:
    """One recorded registration, as plain data the floor re-registers."""

    urn: str
    kind: str  # "custom", "component" or "provider"
    type: str
    name: str
    parent: str
    provider: str  # "<urn>::<id>" of an explicit provider, or ""
    inputs: dict[str, Any]
    secret_inputs: frozenset[str]
    component_outputs: dict[str, Any]


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def run_program_once(nodes: int) -> tuple[float, Any]:
    """(seconds, recording) of one run of the real program at ``nodes`` nodes."""
    from offline.program import run_program

    from .scale_config import scale_config

    raw = scale_config(nodes)
    started = time.perf_counter()
    result = run_program(raw, stack=STACK)
    return time.perf_counter() - started, result.recording


def replays(recording: Any) -> list[Replay]:
    out = []
    for reg in recording.registrations.values():
        kind = "custom" if reg.custom else "component"
        if reg.type.startswith("pulumi:providers:"):
            kind = "provider"
        out.append(
            Replay(
                urn=reg.urn,
                kind=kind,
                type=reg.type,
                name=reg.name,
                parent=reg.parent,
                provider=reg.provider,
                inputs=dict(reg.inputs),
                secret_inputs=frozenset(reg.secret_inputs),
                component_outputs=dict(reg.component_outputs),
            )
        )
    return out


def floor_program(items: list[Replay]) -> Callable[[], None]:
    """A Pulumi program that registers ``items`` bare, in order, with their parents and providers."""

    def program() -> None:
        import pulumi

        made: dict[str, pulumi.Resource] = {}
        for item in items:
            props: dict[str, Any] = {
                k: (pulumi.Output.secret(v) if k in item.secret_inputs else v) for k, v in item.inputs.items()
            }
            provider_urn = item.provider.rsplit("::", 1)[0] if item.provider else ""
            opts = pulumi.ResourceOptions(
                parent=made.get(item.parent),
                provider=made.get(provider_urn) if provider_urn else None,  # type: ignore[arg-type]
            )
            res: pulumi.Resource
            if item.kind == "provider":
                res = pulumi.ProviderResource(item.type.split(":")[-1], item.name, props, opts)
            elif item.kind == "custom":
                res = pulumi.CustomResource(item.type, item.name, props, opts)
            else:
                component = pulumi.ComponentResource(item.type, item.name, None, opts)
                component.register_outputs(item.component_outputs)
                res = component
            made[item.urn] = res

    return program


def run_floor_once(items: list[Replay]) -> tuple[float, Any]:
    """(seconds, recording) of registering ``items`` bare in the same harness (same mocks, same monitor)."""
    from offline.runtime import configure, run
    from vsphere_k8s.stack_file import PROJECT

    started = time.perf_counter()
    mocks, monitor = configure({}, project=PROJECT, stack=STACK)
    recording = run(floor_program(items), monitor, mocks)
    return time.perf_counter() - started, recording


def _warm_up(nodes: int) -> list[Replay]:
    """One small program run and its floor, so imports and first-use caches are paid before the clock."""
    _, recording = run_program_once(nodes)
    items = replays(recording)
    run_floor_once(items)
    gc.collect()
    return items


def program_side(nodes: int, repeats: int, replay_file: Path, warmup_nodes: int = 10) -> dict[str, Any]:
    """Child 1: time the program; write what it registered (and a small warm-up set) for the floor's child."""
    warm = _warm_up(warmup_nodes)
    baseline = _rss_mib()
    best = float("inf")
    recording: Any = None
    for _ in range(max(1, repeats)):
        recording = None
        gc.collect()
        seconds, recording = run_program_once(nodes)
        best = min(best, seconds)
    peak = _rss_mib()
    items = replays(recording)
    with replay_file.open("wb") as handle:
        pickle.dump((warm, items), handle)
    custom = sum(1 for r in recording.registrations.values() if r.custom)
    return {
        "nodes": nodes,
        "registrations": len(items),
        "custom": custom,
        "components": len(items) - custom,
        "program_seconds": best,
        "baseline_rss_mib": baseline,
        "peak_rss_mib": peak,
    }


def floor_side(repeats: int, replay_file: Path) -> dict[str, Any]:
    """Child 2: a fresh interpreter registers the same resources bare (after the same warm-up)."""
    with replay_file.open("rb") as handle:
        warm, items = pickle.load(handle)  # noqa: S301 - our own file, written by the program's child
    run_floor_once(warm)
    best = float("inf")
    for _ in range(max(1, repeats)):
        gc.collect()
        seconds, recording = run_floor_once(items)
        if len(recording.registrations) != len(items):
            raise RuntimeError(f"the floor registered {len(recording.registrations)} resources, not {len(items)}")
        best = min(best, seconds)
        del recording
    return {"floor_seconds": best}


def _child(args: list[str], timeout: float) -> dict[str, Any]:
    return run_child("benchmarks.program_cost", args, timeout)


def measure(nodes: int, repeats: int = 1, timeout: float = 900.0) -> ProgramFigures:
    """Program and floor at ``nodes`` nodes, each in a fresh interpreter (no shared heap, GC state or RSS peak)."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        replay_file = Path(tmp) / "replay.pickle"
        program = _child(["program", str(nodes), "--repeats", str(repeats), "--replay", str(replay_file)], timeout)
        floor = _child(["floor", "--repeats", str(repeats), "--replay", str(replay_file)], timeout)
    return ProgramFigures(**program, **floor)


def profile(nodes: int, top: int = 25) -> str:
    """cProfile of one program run at ``nodes`` nodes (after a warm-up), sorted by own time."""
    import cProfile
    import io
    import pstats

    run_program_once(10)
    profiler = cProfile.Profile()
    profiler.enable()
    run_program_once(nodes)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="program cost under mocks (children of benchmarks.run)")
    parser.add_argument("side", choices=["program", "floor", "profile", "measure"])
    parser.add_argument("nodes", type=int, nargs="?", default=100)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--replay", type=Path, help="where the program's child leaves the registrations")
    args = parser.parse_args(argv)
    if args.side == "profile":
        print(profile(args.nodes))
    elif args.side == "measure":
        figures = measure(args.nodes, args.repeats)
        print(json.dumps({**asdict(figures), "ratio": figures.ratio}))
    elif args.side == "program":
        print(json.dumps(program_side(args.nodes, args.repeats, args.replay)))
    else:
        print(json.dumps(floor_side(args.repeats, args.replay)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
