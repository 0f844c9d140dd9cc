"""Offline preview: `python -m offline --stack sim --out build/preview/sim`.

Runs the real program under Pulumi's mocks (no engine, no credentials, no vCenter),
prints the resource tree and writes every rendered file for review.
Exit codes: 0 ok, 1 a mandatory policy failed, 2 the stack configuration is invalid.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from vsphere_k8s.errors import ConfigError

from . import policy_run
from .preview import rendered_files, resources_json, tree_lines, type_counts, write_files
from .program import ROOT, offline_config, run_program

GENERATED = ("cloud-init", "manifests", "config", "resources.json")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m offline", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="sim", help="stack name: stacks/Pulumi.<stack>.yaml (default: sim)")
    parser.add_argument("--out", type=Path, help="folder for rendered files (default: build/preview/<stack>)")
    parser.add_argument("--quiet", action="store_true", help="print the summary only, not the tree")
    parser.add_argument(
        "--no-policies",
        "--no-policy",
        dest="no_policy",
        action="store_true",
        help="skip the policy pack (on by default)",
    )
    parser.add_argument(
        "--policy-config", type=Path, help="pack config JSON (default: policies/config/<stack>.json if present)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stack_file = ROOT / "stacks" / f"Pulumi.{args.stack}.yaml"
    if not stack_file.exists():
        print(f"error: no stack file {stack_file.relative_to(ROOT)}", file=sys.stderr)
        return 2
    out: Path = args.out or ROOT / "build" / "preview" / args.stack
    try:
        run = run_program(offline_config(args.stack), stack=args.stack)
    except ConfigError as error:
        print(error.render(), file=sys.stderr)
        return 2

    if not args.quiet:
        print(f"Resource tree of stack '{args.stack}' (offline, placeholder credentials):")
        for line in tree_lines(run.recording):
            print(f"  {line}")
    counts = type_counts(run.recording)
    print(f"\n{sum(counts.values())} resources:")
    for type_token, count in counts.items():
        print(f"  {count:5d}  {type_token}")

    for name in GENERATED:  # stale files from an earlier run would mislead a reviewer
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    files = list(rendered_files(run.recording))
    write_files(out, files)
    (out / "resources.json").write_text(resources_json(run.recording))
    print(f"\nwrote {len(files)} rendered files and resources.json to {out}")
    if args.no_policy:
        return 0
    # The same pack `pulumi preview --policy-pack policies` runs; mandatory violations fail the run.
    try:
        pack_file = args.policy_config or policy_run.default_pack_config(args.stack)
        pack = policy_run.PackConfig.load(pack_file) if pack_file else None
    except policy_run.PackConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    report = policy_run.check(run.recording, pack)
    print()
    for line in policy_run.report_lines(report):
        print(line)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
