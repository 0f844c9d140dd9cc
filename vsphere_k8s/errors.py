"""Errors that carry a key path and a message a newcomer can act on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class ConfigIssue:
    path: str  # e.g. "topology.zones[eu-1a].datastore"
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ConfigError(Exception):
    """The stack configuration is invalid; ``issues`` lists every problem."""

    def __init__(self, issues: list[ConfigIssue], stack: str | None = None) -> None:
        self.issues = sorted(set(issues), key=lambda i: (i.path, i.message))
        self.stack = stack
        super().__init__(self.render())

    def render(self) -> str:
        where = f" of stack '{self.stack}'" if self.stack else ""
        head = f"the configuration{where} has {len(self.issues)} problem(s):"
        return "\n".join([head, *(f"  - {issue}" for issue in self.issues)])
