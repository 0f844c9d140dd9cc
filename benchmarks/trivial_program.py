"""The floor of ``pulumi up`` itself: N dynamic resources whose provider does nothing.

``benchmarks.up_floor`` writes a project whose ``__main__.py`` calls :func:`main` with ``trivial.json``
beside it: ``count`` (0 = an empty program) and ``log``, a file to which each ``create`` appends the time
it ran (in the dynamic-provider host), so the benchmark can tell start-up from the creates.
The provider lives in this importable module, as the project's own providers do, so the SDK pickles it by
reference (a provider class of ``__main__`` is pickled by value, and dill's recursive pickling of it hit
Python's recursion limit after about 300 resources).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from pulumi.dynamic import CreateResult, Resource, ResourceProvider


class Noop(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
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


MAIN = (
    "import json\nfrom pathlib import Path\n\nfrom benchmarks.trivial_program import main\n\n"
    'main(json.loads((Path(__file__).resolve().parent / "trivial.json").read_text()))\n'
)
