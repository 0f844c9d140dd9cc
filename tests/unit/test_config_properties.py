"""Property: any mutation of a valid stack ends in a valid model or a clear ConfigError, never a crash."""

from __future__ import annotations

import copy
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offline.program import PLACEHOLDER_PASSWORD, offline_config
from vsphere_k8s.config import StackConfig
from vsphere_k8s.errors import ConfigError
from vsphere_k8s.loader import load

BASE = offline_config("sim")

Path_ = tuple[str | int, ...]


def _paths(node: Any, prefix: Path_ = ()) -> list[Path_]:
    out: list[Path_] = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


PATHS = _paths(BASE)

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(["10.0.0.0/8", "0.0.0.0/0", "::1/128", "1.2.3.4", "DC0", "sim-a", "", "-", "a" * 70]),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)

mutation = st.tuples(st.sampled_from(["replace", "delete", "duplicate", "rename"]), st.sampled_from(PATHS), junk)


def _container(value: dict[str, Any] | list[Any]) -> Any:
    return value


def _apply(raw: dict[str, Any], op: str, path: Path_, value: Any) -> None:
    parent: Any = raw
    for key in path[:-1]:
        try:
            parent = parent[key]
        except (KeyError, IndexError, TypeError):
            return  # an earlier mutation removed this branch
    last = path[-1]
    if not isinstance(parent, (dict, list)):
        return  # an earlier mutation replaced this branch with a scalar
    parent = _container(parent)
    try:
        current = parent[last]
    except (KeyError, IndexError, TypeError):
        return
    if op == "replace":
        parent[last] = value
    elif op == "delete":
        del parent[last]
    elif op == "duplicate" and isinstance(parent, list):
        parent.append(copy.deepcopy(current))
    elif op == "rename" and isinstance(parent, dict):
        parent[f"{last}X"] = parent.pop(last)


@settings(
    max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "300")),
    deadline=None,
    derandomize=not os.environ.get("HYPOTHESIS_EXAMPLES"),
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(mutation, min_size=1, max_size=3))
def test_mutations_end_in_a_model_or_a_clear_error(mutations: list[tuple[str, Path_, Any]]) -> None:
    raw = copy.deepcopy(BASE)
    for op, path, value in mutations:
        _apply(raw, op, path, value)
    try:
        cfg = load(raw, stack="sim")
    except ConfigError as error:
        assert error.issues, "a ConfigError must carry at least one issue"
        for issue in error.issues:
            assert issue.path and issue.message, issue
            assert "Traceback" not in issue.message
            assert PLACEHOLDER_PASSWORD not in str(issue), "a credential was echoed"
        assert error.render().count("\n") == len(error.issues)
    else:
        assert isinstance(cfg, StackConfig)
