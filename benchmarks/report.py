"""Tables and verdicts from measured figures (pure: formatting only)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .program_cost import ProgramFigures
from .reconcile_cost import PassFigures, ReconcileFigures
from .sdk_cost import SdkFigures

PROGRAM_OVERHEAD_TARGET = 0.15  # the program adds at most 15% over the floor at the largest size
LINEAR_EXPONENT_LIMIT = 1.15  # time ~ registrations^k; k above this is not linear
RECONCILE_RATIO_TARGET = 20.0  # per-node wall time / batched wall time at the largest size


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table, right-aligned numbers, a rule under the header."""
    cells = [[str(h) for h in headers], *[[_cell(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append(
            "  ".join(c.rjust(w) if n and _numeric(c) else c.ljust(w) for c, w in zip(row, widths, strict=True))
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def _numeric(text: str) -> bool:
    return text.replace(".", "", 1).replace("x", "").replace("%", "").replace("-", "", 1).replace("+", "").isdigit()


def growth_exponent(x1: float, y1: float, x2: float, y2: float) -> float:
    """k in y ~ x^k between two points (1.0 is linear, 2.0 quadratic)."""
    if x1 <= 0 or x2 <= 0 or y1 <= 0 or y2 <= 0 or x1 == x2:
        return math.nan
    return math.log(y2 / y1) / math.log(x2 / x1)


def program_table(figures: Sequence[ProgramFigures]) -> str:
    rows = []
    previous: ProgramFigures | None = None
    for f in figures:
        k = (
            growth_exponent(previous.registrations, previous.program_seconds, f.registrations, f.program_seconds)
            if previous
            else math.nan
        )
        kf = (
            growth_exponent(previous.registrations, previous.floor_seconds, f.registrations, f.floor_seconds)
            if previous
            else math.nan
        )
        rows.append(
            [
                f.nodes,
                f.registrations,
                f.program_seconds,
                f.floor_seconds,
                f"{f.ratio:.2f}x",
                f"{f.overhead * 100:+.0f}%",
                1000.0 * f.program_seconds / f.registrations,
                "-" if math.isnan(k) else f"{k:.2f}",
                "-" if math.isnan(kf) else f"{kf:.2f}",
                f.peak_rss_mib,
                f.peak_rss_mib - f.baseline_rss_mib,
            ]
        )
        previous = f
    title = "Program under mocks vs the SDK floor (same registrations, bare, same harness)"
    headers = [
        "nodes",
        "resources",
        "program s",
        "floor s",
        "ratio",
        "overhead",
        "ms/resource",
        "k prog",
        "k floor",
        "peak RSS MiB",
        "of which plan MiB",
    ]
    note = "k: growth exponent of wall time against resources since the previous row (1.00 = linear)"
    return f"{title}\n\n{table(headers, rows)}\n{note}"


def sdk_lines(sdk: SdkFigures, program: Sequence[ProgramFigures]) -> str:
    """The provider SDK's typed class against a bare registration, and its share of the program's gap."""
    extra = sdk.typed_seconds - sdk.bare_seconds
    text = (
        f"Provider SDK: {sdk.vms} pulumi_vsphere.VirtualMachine {sdk.typed_ms:.2f} ms each, the same VMs as bare "
        f"CustomResource {sdk.bare_ms:.2f} ms each (+{extra:.1f} s)"
    )
    same = [f for f in program if f.nodes == sdk.vms]
    if same:
        gap = same[0].program_seconds - same[0].floor_seconds
        text += f": {extra / gap:.0%} of the program's {gap:.1f} s over the floor at {sdk.vms} nodes"
    return text


def _pass_row(p: PassFigures) -> list[object]:
    return [
        p.nodes,
        p.pattern,
        p.round_trips,
        p.soap_calls,
        p.rest_calls,
        p.logins,
        p.vcenter_seconds,
        p.api_seconds,
        p.seconds,
        p.vcenter_writes,
        p.kube_reads,
        p.kube_writes,
    ]


def reconcile_tables(figures: Sequence[ReconcileFigures]) -> list[str]:
    headers = [
        "nodes",
        "pattern",
        "round trips",
        "SOAP",
        "REST",
        "logins",
        "vCenter s",
        "API s",
        "wall s",
        "vC writes",
        "API reads",
        "API writes",
    ]
    rows = [_pass_row(p) for f in figures for p in (f.per_node, f.batched, f.second)]
    passes = (
        "Reconcile on vcsim + Kubernetes emulator: bind and label N nodes\n"
        "(logins = SOAP + REST session logins; vCenter s = time inside vCenter round trips; API s = time inside\n"
        "Kubernetes requests, summed over the engine's concurrent calls; wall s = the whole pass)\n\n"
        + table(headers, rows)
    )
    ratios = "Per-node (CPI) pattern / batched NodeBinding, same run, same simulator\n\n" + table(
        ["nodes", "round trips per-node", "round trips batched", "vCenter time ratio", "wall time ratio"],
        [
            [
                f.nodes,
                f.per_node.round_trips,
                f.batched.round_trips,
                f"{f.vcenter_ratio:.1f}x",
                f"{f.wall_ratio:.1f}x",
            ]
            for f in figures
        ],
    )
    return [passes, ratios]


def verdicts(program: Sequence[ProgramFigures], reconcile: Sequence[ReconcileFigures]) -> list[str]:
    """One line per target: met or not, with the figure that decides it."""
    out = ["Targets:"]

    def line(ok: bool, text: str) -> None:
        out.append(f"  [{'met' if ok else 'NOT met'}] {text}")

    if program:
        big = max(program, key=lambda f: f.nodes)
        line(
            big.overhead <= PROGRAM_OVERHEAD_TARGET,
            f"program adds <= {PROGRAM_OVERHEAD_TARGET:.0%} over the floor at {big.nodes} nodes: "
            f"adds {big.overhead:.0%} ({big.program_seconds:.1f}s vs {big.floor_seconds:.1f}s)",
        )
        if len(program) > 1:
            ordered = sorted(program, key=lambda f: f.nodes)
            a, b = ordered[-2], ordered[-1]
            k = growth_exponent(a.registrations, a.program_seconds, b.registrations, b.program_seconds)
            kf = growth_exponent(a.registrations, a.floor_seconds, b.registrations, b.floor_seconds)
            line(
                k <= LINEAR_EXPONENT_LIMIT,
                f"program grows linearly: time ~ resources^{k:.2f} from {a.nodes} to {b.nodes} nodes "
                f"(the bare floor: ^{kf:.2f})",
            )
        out.append(f"  [info] peak RSS of the {big.nodes}-node plan: {big.peak_rss_mib:.0f} MiB")
    if reconcile:
        trips = {f.nodes: f.batched.round_trips for f in reconcile}
        line(
            len(set(trips.values())) == 1,
            "batched round trips do not grow with N: " + ", ".join(f"{trips[n]} at {n}" for n in sorted(trips)),
        )
        logins = sorted({n for f in reconcile for n in (f.batched.logins, f.second.logins)})
        line(
            logins == [1],
            "one vCenter login per run: "
            + ", ".join(map(str, logins))
            + " per run at every N"
            + ("" if logins == [1] else " (one SOAP + one REST: the tagging API has its own session)"),
        )
        big_r = max(reconcile, key=lambda f: f.nodes)
        line(
            big_r.wall_ratio >= RECONCILE_RATIO_TARGET,
            f">= {RECONCILE_RATIO_TARGET:.0f}x less wall time than the per-node pattern at {big_r.nodes} nodes: "
            f"{big_r.wall_ratio:.1f}x end to end, {big_r.vcenter_ratio:.1f}x on the vCenter side",
        )
        writes = [(f.nodes, f.second.vcenter_writes, f.second.kube_writes) for f in reconcile]
        line(
            all(v == 0 and k == 0 for _, v, k in writes),
            "second reconcile writes nothing: "
            + ", ".join(f"{v} vCenter + {k} API-server writes at {n}" for n, v, k in writes),
        )
    return out
