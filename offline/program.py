"""Load a stack file and run the project's program under mocks."""

from __future__ import annotations

import copy
import runpy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.sync_await import _sync_await

from vsphere_k8s.loader import load, secret_keys
from vsphere_k8s.stack_file import PROJECT, read_stack_file

from .recording import Recording
from .runtime import configure, run
from .vsphere_fakes import VSphereMocks

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER_USER = "offline-placeholder@vsphere.local"  # the form the CSI driver accepts
PLACEHOLDER_PASSWORD = "offline-placeholder-password"  # noqa: S105 - not a credential: offline runs only


def _placeholders(value: Any, path: str) -> Any:
    """Replace encrypted leaves with placeholders so the structure is still checked."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return PLACEHOLDER_PASSWORD if path.endswith("password") else PLACEHOLDER_USER
        return {k: _placeholders(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholders(v, path) for v in value]
    return value


def offline_config(stack: str, stacks_dir: Path = ROOT / "stacks") -> dict[str, Any]:
    """The stack's config with placeholder credentials: offline runs never see real ones."""
    raw, _encrypted = read_stack_file(stacks_dir / f"Pulumi.{stack}.yaml")
    raw = dict(_placeholders(copy.deepcopy(raw), ""))
    if "credentials" not in raw:
        raw["credentials"] = {
            vc.get("name"): {"username": PLACEHOLDER_USER, "password": PLACEHOLDER_PASSWORD}
            for vc in raw.get("vcenters") or []
            if isinstance(vc, dict)
        }
    return raw


@dataclass
class OfflineRun:
    recording: Recording
    mocks: VSphereMocks
    exports: dict[str, Any]


def run_program(
    config: dict[str, Any],
    *,
    stack: str,
    mocks: VSphereMocks | None = None,
    program: Path = ROOT / "__main__.py",
) -> OfflineRun:
    """Validate ``config`` (raising ConfigError), then run the program on it under mocks."""
    load(config, stack=stack)  # fail before anything is registered, as the program does
    mocks, monitor = configure(config, project=PROJECT, stack=stack, secret_keys=secret_keys(config), mocks=mocks)

    def program_main() -> None:
        runpy.run_path(str(program), run_name="__pulumi_offline__")

    recording = run(program_main, monitor, mocks)
    root = pulumi.runtime.get_root_resource()
    exports: dict[str, Any] = {}
    for key, value in (getattr(root, "outputs", None) or {}).items():
        exports[key] = _sync_await(pulumi.Output.from_input(value).future())
    return OfflineRun(recording, mocks, exports)
