"""The dynamic providers' client libraries, imported once per provider process, one thread at a time.

The engine runs every dynamic provider of a stack in one process and its calls on a pool of threads.
The providers import their adapters (and with them requests, pyVmomi, the Kubernetes client) at
first use, so the program's process, which only registers resources, never loads them. Two first
calls at once then import those packages in two threads, and CPython breaks the cycle of two
threads importing a package with circular imports by handing one of them a partly initialised
module: a JoinToken and a NodeRetirement created side by side failed with "cannot import name
'parse_dict_header' from partially initialized module 'requests.utils'".

So each provider's ``configure`` (the engine calls it once per provider, before that provider's
first call) imports, under one lock, the client libraries and the adapters its calls import; the
calls' own imports then find everything loaded.
"""

from __future__ import annotations

import importlib
import threading

# The third-party packages the adapters import (at their top or inside a call).
CLIENT_LIBRARIES = (
    "urllib3",
    "requests",
    "requests.adapters",
    "yaml",
    "pyVmomi",
    "pyVim.connect",
    "kubernetes.client",
    "kubernetes.client.exceptions",
    "kubernetes.config",
)

_LOCK = threading.Lock()


def load(*modules: str) -> None:
    """Import the client libraries and ``modules`` (absolute names), holding one process-wide lock."""
    with _LOCK:
        for name in (*CLIENT_LIBRARIES, *modules):
            importlib.import_module(name)
