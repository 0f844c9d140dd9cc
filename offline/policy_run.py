"""The policy pack over an offline run: the check a pull request from a fork gets.

Same rules and the same pack-config file format as ``pulumi preview --policy-pack``;
here secrecy is known too, so plaintext credentials in inputs and outputs are caught.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from policies.evaluate import Finding, PackConfig, PackConfigError, evaluate
from policies.rules import Level

from . import policy_views
from .recording import Recording

__all__ = ["PackConfig", "PackConfigError", "PolicyReport", "check", "default_pack_config", "report_lines"]

PACK_CONFIG_DIR = Path(__file__).resolve().parent.parent / "policies" / "config"


@dataclass(frozen=True)
class PolicyReport:
    findings: list[Finding]

    @property
    def mandatory(self) -> list[Finding]:
        return [f for f in self.findings if f.level == Level.MANDATORY]

    @property
    def advisory(self) -> list[Finding]:
        return [f for f in self.findings if f.level == Level.ADVISORY]

    @property
    def failed(self) -> bool:
        return bool(self.mandatory)


def default_pack_config(stack: str, directory: Path = PACK_CONFIG_DIR) -> Path | None:
    """``policies/config/<stack>.json`` when it exists: the file CI passes to the engine too."""
    path = directory / f"{stack}.json"
    return path if path.exists() else None


def check(rec: Recording, pack: PackConfig | None = None) -> PolicyReport:
    return PolicyReport(evaluate(policy_views.views(rec), pack))


def _where(urn: str | None) -> str:
    if not urn:
        return "stack"
    type_token = urn.split("::")[-2].rsplit("$", 1)[-1]
    return f"{type_token.rsplit(':', 1)[-1]} {urn.rsplit('::', 1)[-1]}"


def report_lines(report: PolicyReport) -> list[str]:
    lines = [f"Policies: {len(report.mandatory)} mandatory, {len(report.advisory)} advisory violation(s)"]
    for finding in sorted(report.findings, key=lambda f: (f.level != Level.MANDATORY, f.policy)):
        lines.append(f"  [{finding.level.value}] {finding.policy}: {_where(finding.urn)}")
        lines.append(f"      {finding.message}")
    return lines


def summary(findings: Sequence[Finding]) -> str:
    return ", ".join(sorted({f.policy for f in findings})) or "none"
