"""The floor of ``pulumi up`` itself: N dynamic resources whose provider does nothing.

Copied as the ``__main__.py`` of a project of its own (``benchmarks.up_floor``), with ``trivial.json``
beside it: ``count`` (0 = an empty program) and ``log``, a file to which each ``create`` appends the time
it ran (in the dynamic-provider host), so the benchmark can tell start-up from the creates.
The provider is defined here, in the program's ``__main__``, so the SDK pickles it by value; it imports
nothing but the standard library at call time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pulumi.dynamic import CreateResult, Resource, ResourceProvider


class Noop(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        import time
        import uuid

        # One short line per call, appended with O_APPEND: the host's four workers may write at once.
        with open(props["log"], "a") as f:
            f.write(f"{time.time():.6f}\n")
        return CreateResult(id_=uuid.uuid4().hex, outs=dict(props))


class Trivial(Resource):
    def __init__(self, name: str, log: str) -> None:
        super().__init__(Noop(), name, {"log": log})


def main(spec: dict[str, Any]) -> None:
    for i in range(spec["count"]):
        Trivial(f"t-{i}", spec["log"])


if __name__ == "__main__":
    main(json.loads((Path(__file__).resolve().parent / "trivial.json").read_text()))
