"""``python -m benchmarks``: measure, then print the figures as tables.

python -m benchmarks                       # everything (program 10/100/1000, reconcile 10/100/500)
python -m benchmarks --program 10 100      # only some sizes
python -m benchmarks --reconcile           # no reconcile sizes: skip that part
python -m benchmarks --json figures.json   # also write the raw figures
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .report import program_table, reconcile_tables, sdk_lines, verdicts

PROGRAM_SIZES = (10, 100, 1000)
RECONCILE_SIZES = (10, 100, 500)


def _progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description="plan and reconcile cost figures")
    parser.add_argument("--program", type=int, nargs="*", default=list(PROGRAM_SIZES), metavar="NODES")
    parser.add_argument("--reconcile", type=int, nargs="*", default=list(RECONCILE_SIZES), metavar="NODES")
    parser.add_argument("--repeats", type=int, default=1, help="program runs per size (the best is kept)")
    parser.add_argument("--json", type=Path, help="also write the raw figures to this file")
    args = parser.parse_args(argv)

    from . import program_cost, reconcile_cost, sdk_cost

    raw: dict[str, Any] = {}
    program = []
    for n in args.program:
        _progress(f"program: {n} nodes (program, then floor, each in a fresh interpreter)")
        program.append(program_cost.measure(n, repeats=args.repeats))
    sdk = None
    if program:
        biggest = max(args.program)
        _progress(f"provider SDK: {biggest} typed VMs vs bare, in a fresh interpreter")
        sdk = sdk_cost.measure_in_child(biggest)
    reconcile = reconcile_cost.run(args.reconcile, progress=_progress) if args.reconcile else []

    if program:
        print(program_table(program))
        if sdk is not None:
            print(sdk_lines(sdk, program))
            raw["sdk"] = asdict(sdk)
        print()
        raw["program"] = [{**asdict(f), "ratio": f.ratio} for f in program]
    if reconcile:
        for table in reconcile_tables(reconcile):
            print(table)
            print()
        raw["reconcile"] = [
            {
                "nodes": f.nodes,
                "vcenter_ratio": f.vcenter_ratio,
                "wall_ratio": f.wall_ratio,
                "passes": [asdict(p) for p in (f.per_node, f.batched, f.second)],
            }
            for f in reconcile
        ]
    for line in verdicts(program, reconcile):
        print(line)
    if args.json:
        args.json.write_text(json.dumps(raw, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
