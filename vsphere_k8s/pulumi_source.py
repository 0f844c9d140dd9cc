"""Read the stack configuration from Pulumi, once, and validate it.

The only module that touches ``pulumi.Config``; everything downstream takes the
validated :class:`StackConfig`.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime import config as pulumi_config
from pulumi.runtime.config import is_config_secret

from .config import StackConfig
from .errors import ConfigError, ConfigIssue
from .loader import NESTED_SECRETS, SECRET_KEYS, TOP_LEVEL_KEYS, load


def present_keys(namespace: str) -> set[str]:
    """Every key the engine passed under ``namespace`` (set explicitly or through PULUMI_CONFIG)."""
    names = set(pulumi_config.CONFIG.get()) | set(pulumi_config.get_config_env())
    prefix = f"{namespace}:"
    return {n.removeprefix(prefix) for n in names if n.startswith(prefix)}


def read_raw(config: pulumi.Config) -> tuple[dict[str, Any], list[ConfigIssue]]:
    """Every key of the project's namespace, known or not: the loader names the unknown ones.

    Reading only the known keys would let a typo (``vsphereroles``) switch a feature off in
    silence under the engine, where the offline preview rejects it.
    """
    raw: dict[str, Any] = {}
    issues: list[ConfigIssue] = []
    for key in sorted(set(TOP_LEVEL_KEYS) | present_keys(config.name)):
        try:
            value = config.get_object(key)
        except Exception as exc:  # the SDK raises its own ConfigTypeError flavours
            issues.append(ConfigIssue(key, f"is not valid YAML/JSON structured config ({exc})"))
            continue
        if value is None:
            continue
        if key in SECRET_KEYS and not is_config_secret(config.full_key(key)):
            issues.append(
                ConfigIssue(key, "holds credentials but is not a secret: set it with `pulumi config set --secret`")
            )
        nested = [leaf for leaf in NESTED_SECRETS.get(key, ()) if isinstance(value, dict) and leaf in value]
        if nested and not is_config_secret(config.full_key(key)):
            issues.append(
                ConfigIssue(
                    f"{key}.{nested[0]}",
                    "holds a credential but is not a secret: set it with "
                    f"`pulumi config set --secret --path '{key}.{nested[0]}'`",
                )
            )
        raw[key] = value
    return raw, issues


def load_stack_config() -> StackConfig:
    """The validated stack configuration; a ConfigError lists every problem."""
    config = pulumi.Config()
    raw, issues = read_raw(config)
    stack = pulumi.get_stack()
    if issues:
        # Still validate the rest so the user sees everything in one run.
        try:
            load(raw, stack=stack)
        except ConfigError as exc:
            issues += exc.issues
        raise ConfigError(issues, stack)
    return load(raw, stack=stack)
