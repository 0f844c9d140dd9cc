"""One reset for every per-process cache the dynamic providers keep.

A provider process lives for one engine run (`pulumi up`, `pulumi refresh`): it keeps one vCenter
session per endpoint, one inventory and tag snapshot per connection, one Kubernetes client (with its
node list) per kubeconfig. Tests and benchmarks that stand for a new run call :func:`reset_caches`,
so none can drop one cache and keep another (a snapshot keyed by the ``id()`` of a connection that
is gone would match a new connection at the same address).
"""

from __future__ import annotations

import sys

# (module, its reset), in the order they are dropped: what is keyed by a connection before the
# connections. A module never imported holds nothing, and is not imported to be emptied.
_HOLDERS = (
    ("providers.node_binding.vcenter", "forget_snapshots"),
    ("providers.node_binding.kube", "_forget_clients"),
    ("providers.node_join.kube", "_forget_clients"),
    ("providers.kubeadm_config.kube", "_forget_clients"),
    ("providers.vcenter.connection", "_forget_connections"),
)


def reset_caches() -> None:
    """Close every cached session and drop every cached snapshot and client: the next call starts as a
    new provider process does."""
    for name, reset in _HOLDERS:
        module = sys.modules.get(name)
        if module is not None:
            getattr(module, reset)()
