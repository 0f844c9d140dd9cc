"""The GitOps flow's invariants, read from the workflow files themselves.

GitHub runs these files, not this test; the test keeps them true to the repository:
every environment stack is previewed with the policy pack, forks get the offline
preview, rollouts are gated and ordered, and secrets only come from GitHub secrets.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
STACKS = {p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in (ROOT / "stacks").glob("Pulumi.*.yaml")}
ENVIRONMENT_STACKS = STACKS - {"sim"}  # sim is the local simulator: offline only


def load(name: str) -> dict[str, Any]:
    data: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as a boolean
    return data


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job.get("steps", []) if str(s.get("uses", "")).startswith(action)]


def runs(job: dict[str, Any]) -> str:
    return "\n".join(str(s.get("run", "")) for s in job.get("steps", []))


def test_ci_runs_the_one_test_command_on_every_push() -> None:
    ci = load("ci.yml")
    assert "push" in ci["on"] and "workflow_call" in ci["on"]
    assert "scripts/test.sh" in runs(ci["jobs"]["test"])


def test_offline_preview_covers_every_stack_and_needs_no_secret() -> None:
    offline = load("preview.yml")["jobs"]["offline"]
    assert set(offline["strategy"]["matrix"]["stack"]) == STACKS
    assert "python -m offline --stack" in runs(offline)
    assert "secrets." not in yaml.safe_dump(offline)
    assert "if" not in offline  # forks included


def test_pulumi_preview_per_environment_with_policy_pack_and_pr_comment() -> None:
    preview = load("preview.yml")
    assert list(preview["on"]) == ["pull_request"]
    job = preview["jobs"]["pulumi"]
    assert set(job["strategy"]["matrix"]["stack"]) == ENVIRONMENT_STACKS
    assert job["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert job["needs"] == "offline"
    (step,) = steps_using(job, "pulumi/actions@")
    w = step["with"]
    assert (w["command"], w["diff"], w["comment-on-pr"], w["policyPacks"]) == ("preview", True, True, "policies")
    assert w["policyPackConfigs"] == "policies/config/${{ matrix.stack }}.json"
    assert job["permissions"]["pull-requests"] == "write"
    # The PR's code meets a stack's credentials only in that stack's own preview environment
    # (its secrets, its reviewers), never with repository-wide secrets.
    assert job["environment"]["name"] == "${{ matrix.stack }}-preview"


def test_docs_tell_the_same_environments() -> None:
    text = (ROOT / "docs" / "gitops.md").read_text()
    assert all(f"`{s}-preview`" in text for s in ENVIRONMENT_STACKS)
    assert "never\nrepository-wide" in text or "never repository-wide" in text.replace("\n", " ")


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_every_stack_has_a_pack_config(stack: str) -> None:
    assert (ROOT / "policies" / "config" / f"{stack}.json").exists()


def test_deploy_is_gated_and_ordered() -> None:
    deploy = load("deploy.yml")
    assert deploy["on"]["push"]["branches"] == ["main"]
    assert deploy["concurrency"]["cancel-in-progress"] is False
    jobs = deploy["jobs"]
    assert jobs["test"]["uses"] == "./.github/workflows/ci.yml"
    deployed = {name: job for name, job in jobs.items() if job.get("uses") == "./.github/workflows/pulumi-up.yml"}
    assert set(deployed) == ENVIRONMENT_STACKS
    assert all(job["with"]["stack"] == name and job["secrets"] == "inherit" for name, job in deployed.items())

    # prod after every other environment, everything after the tests
    def needs(name: str) -> set[str]:
        direct = jobs[name].get("needs", [])
        direct = {direct} if isinstance(direct, str) else set(direct)
        return direct.union(*(needs(d) for d in direct))

    assert needs("prod") >= (ENVIRONMENT_STACKS - {"prod"}) | {"test"}
    assert all("test" in needs(name) for name in deployed)

    up = load("pulumi-up.yml")["jobs"]["up"]
    assert up["environment"]["name"] == "${{ inputs.stack }}"  # GitHub environment protection rules apply
    (step,) = steps_using(up, "pulumi/actions@")
    assert (step["with"]["command"], step["with"]["policyPacks"]) == ("up", "policies")


@pytest.mark.parametrize("name", sorted(p.name for p in WORKFLOWS.glob("*.yml")))
def test_credentials_only_from_github_secrets(name: str) -> None:
    text = (WORKFLOWS / name).read_text()
    for key, value in re.findall(r"^\s*((?:PULUMI|AWS)_[A-Z_]*(?:TOKEN|PASSPHRASE|KEY)[A-Z_]*):\s*(.+)$", text, re.M):
        assert value.strip().startswith("${{ secrets."), f"{name}: {key} must come from a GitHub secret"
