"""``python -m benchmarks.engine``: the figures users feel, through the real engine on the local simulated data centre.

python -m benchmarks.engine                              # everything at full size (long: see benchmarks/README.md)
python -m benchmarks.engine --preview 10 100 --race 10 --noop --cold   # some sizes; an empty list skips a part
python -m benchmarks.engine --json engine.json           # also write the raw figures
python -m benchmarks.engine --preview 100 --skip-checkpoints --noop --race   # previews without per-step snapshots

Parts: ``--preview`` (preview_cost: program vs engine floor, and peak RSS), ``--noop`` (noop_cost:
second up and preview --refresh), ``--race`` (cpi_race: the real CPI, NodeBinding and the floor),
``--hosts`` (dynamic-provider hosts for NodeBinding in the race; 1 = Pulumi's default), ``--parallel``
(``pulumi up --parallel`` values for NodeBinding, one run each; 0 = the default), ``--no-cpi`` (the race
without the real CPI), ``--cold``
(cold_start: toolchain timings).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .report import growth_exponent, table

PREVIEW_SIZES = (10, 100, 1000)
NOOP_SIZES = (10, 100, 500)
RACE_SIZES = (10, 100, 500)
PREVIEW_TARGET = 1.15


def _progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def preview_table(figures: list[Any]) -> str:
    rows = []
    previous = None
    for f in figures:
        k = (
            growth_exponent(previous.resources, previous.program_seconds, f.resources, f.program_seconds)
            if previous
            else float("nan")
        )
        kf = (
            growth_exponent(previous.resources, previous.floor_seconds, f.resources, f.floor_seconds)
            if previous
            else float("nan")
        )
        rows.append(
            [
                f.nodes,
                f.resources,
                f.program_seconds,
                f.floor_seconds,
                f"{f.ratio:.2f}x",
                "-" if math.isnan(k) else f"{k:.2f}",
                "-" if math.isnan(kf) else f"{kf:.2f}",
                f.program_rss_mib.get("engine", 0.0),
                f.program_rss_mib.get("program", 0.0),
                f.program_rss_mib.get("dynamic provider host", 0.0),
                f"{f.program_cpu_s.get('engine', 0.0):.1f} / {f.floor_cpu_s.get('engine', 0.0):.1f}",
                f"{f.program_cpu_s.get('program', 0.0):.1f} / {f.floor_cpu_s.get('program', 0.0):.1f}",
            ]
        )
        previous = f
    headers = [
        "nodes",
        "resources",
        "program s",
        "floor s",
        "ratio",
        "k prog",
        "k floor",
        "engine MiB",
        "program MiB",
        "dyn host MiB",
        "engine CPU s",
        "program CPU s",
    ]
    skip = any(f.skip_checkpoints for f in figures)
    return (
        "pulumi preview of a new stack: program vs engine floor (same registrations, bare, same CLI and plugins)"
        + (", PULUMI_SKIP_CHECKPOINTS=true" if skip else "")
        + "\n\n"
        + table(headers, rows)
        + "\nk: growth exponent of wall time against resources since the previous row (1.00 = linear); MiB: peak RSS"
        " in the program's preview; CPU s: the program's preview / the floor's, per process role"
    )


def noop_table(figures: list[Any]) -> str:
    rows = [
        [f.nodes, f.command, f.seconds, f.round_trips, f.logins, f.api_reads, f.api_writes, f.changes] for f in figures
    ]
    headers = ["nodes", "command", "wall s", "vC round trips", "vC logins", "API reads", "API writes", "summary"]
    return (
        "No-op up and preview --refresh (dynamic providers' vCenter calls; the stack's API-server requests)\n\n"
        + table(headers, rows)
    )


def race_table(figures: list[Any]) -> str:
    rows = []
    by_n: dict[int, dict[str, Any]] = {}
    for f in figures:
        by_n.setdefault(f.nodes, {})[f.contender] = f
    for f in figures:
        floor = next((x for c, x in by_n[f.nodes].items() if c.startswith("floor")), None)
        cpi = next((x for c, x in by_n[f.nodes].items() if c.startswith("CPI")), None)
        rows.append(
            [
                f.nodes,
                f.contender,
                f.seconds,
                f"{cpi.seconds / f.seconds:.1f}x" if cpi else "-",
                f"{f.seconds / floor.seconds:.1f}x" if floor else "-",
                "-" if f.round_trips is None else f.round_trips,
                "-" if f.logins is None else f.logins,
                f.api_reads,
                f.api_writes,
                f"{f.extra['worker_occupancy']:.2f}" if "worker_occupancy" in f.extra else "-",
            ]
        )
    headers = [
        "nodes",
        "contender",
        "s to all bound",
        "CPI / this",
        "this / floor",
        "vC round trips",
        "vC logins",
        "API reads",
        "API writes",
        "host occupancy",
    ]
    return (
        "Reconcile: N freshly registered nodes until all carry providerID, zone and region\n"
        "(same vcsim, same API server, each contender alone)\n\n"
        + table(headers, rows)
        + "\nhost occupancy: provider-call time / (4 workers x hosts x span of the calls);"
        " near 1.00 the hosts' pools are the limit"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engine", description=__doc__.split("\n")[0])
    parser.add_argument("--preview", type=int, nargs="*", default=list(PREVIEW_SIZES), metavar="NODES")
    parser.add_argument("--noop", type=int, nargs="*", default=list(NOOP_SIZES), metavar="NODES")
    parser.add_argument("--race", type=int, nargs="*", default=list(RACE_SIZES), metavar="NODES")
    parser.add_argument("--hosts", type=int, nargs="*", default=[1], help="dynamic-provider hosts for NodeBinding")
    parser.add_argument(
        "--parallel",
        type=int,
        nargs="*",
        default=[0],
        help="pulumi up --parallel values for NodeBinding in the race, one run each (0: the default)",
    )
    parser.add_argument("--no-cpi", action="store_true", help="leave the real CPI out of the race")
    parser.add_argument("--repeats", type=int, default=1, help="program/floor preview pairs per size (best kept)")
    parser.add_argument(
        "--skip-checkpoints",
        action="store_true",
        help="previews, the no-op part's first up and the race's pulumi up with PULUMI_SKIP_CHECKPOINTS=true"
        " (no snapshot per step; the no-op figures themselves, second up and refresh, run without it)",
    )
    parser.add_argument("--cold", action="store_true", help="also time the toolchain (warm) and read its build log")
    parser.add_argument("--workdir", type=Path, help="where the worlds run (default: a temporary directory)")
    parser.add_argument("--json", type=Path, help="also write the raw figures to this file")
    args = parser.parse_args(argv)

    from . import cold_start, cpi_race, noop_cost, preview_cost

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-engine-"))
    raw: dict[str, Any] = {}
    if args.preview:
        figures = preview_cost.run(
            args.preview,
            workdir / "preview",
            repeats=args.repeats,
            skip_checkpoints=args.skip_checkpoints,
            progress=_progress,
        )
        print(preview_table(figures) + "\n")
        raw["preview"] = [{**asdict(f), "ratio": f.ratio} for f in figures]
        big = max(figures, key=lambda f: f.nodes)
        mark = "met" if big.ratio <= PREVIEW_TARGET else "NOT met"
        print(f"  [{mark}] program within {PREVIEW_TARGET}x of the floor at {big.nodes} nodes: {big.ratio:.2f}x")
        print(
            f"  [info] peak RSS at {big.nodes} nodes (MiB): "
            + json.dumps({k: round(v) for k, v in big.program_rss_mib.items()})
            + "\n"
        )
    if args.noop:
        noop = noop_cost.run(args.noop, workdir / "noop", progress=_progress, skip_checkpoints=args.skip_checkpoints)
        print(noop_table(noop) + "\n")
        raw["noop"] = [asdict(f) for f in noop]
    if args.race:
        race = cpi_race.run(
            args.race,
            workdir / "race",
            hosts=args.hosts,
            skip_checkpoints=args.skip_checkpoints,
            parallel=args.parallel or [0],
            cpi=not args.no_cpi,
            progress=_progress,
        )
        print(race_table(race) + "\n")
        raw["race"] = [asdict(f) for f in race]
    if args.cold:
        cold = cold_start.measure(progress=_progress)
        print(cold_start.report(cold) + "\n")
        raw["cold"] = asdict(cold)
    if args.json:
        args.json.write_text(json.dumps(raw, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
