"""The program's read of its own last outputs: through the engine's function, a checkpoint being written retried."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components import memory


class Answer:
    def __init__(self, value: dict[str, Any]) -> None:
        self.value = value


def test_a_checkpoint_being_written_is_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    def invoke(token: str, args: dict[str, Any]) -> Answer:
        calls.append(args)
        assert token == "pulumi:pulumi:readStackOutputs"
        if len(calls) < 3:
            raise Exception("invoke of pulumi:pulumi:readStackOutputs failed: failed to load checkpoint: EOF")
        return Answer({"outputs": {"nodeSlots": {"cp-a-0": {"name": "c-cp-a-0"}}}})

    monkeypatch.setattr(pulumi.runtime, "invoke", invoke)
    monkeypatch.setattr(memory, "PAUSE", 0.0)
    assert memory.previous_output("nodeSlots") == {"cp-a-0": {"name": "c-cp-a-0"}}
    assert len(calls) == 3
    assert calls[0]["name"].endswith(f"/{pulumi.get_project()}/{pulumi.get_stack()}")


def test_any_other_failure_is_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    def invoke(_token: str, _args: dict[str, Any]) -> Answer:
        raise Exception("invoke of pulumi:pulumi:readStackOutputs failed: permission denied")

    monkeypatch.setattr(pulumi.runtime, "invoke", invoke)
    with pytest.raises(Exception, match="permission denied"):
        memory.previous_output("nodeSlots")


def test_a_new_stack_has_no_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pulumi.runtime, "invoke", lambda _t, _a: Answer({}))
    assert memory.previous_output("nodeSlots") is None
