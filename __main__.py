"""Pulumi entry point: read the stack configuration once, build the cluster, export."""

import sys

import pulumi

from components.cluster import Cluster, ClusterArgs
from components.memory import previous_output
from vsphere_k8s.errors import ConfigError
from vsphere_k8s.pulumi_source import load_stack_config

# The SDK's dependency-cycle check recurses once per link of a dependency chain, and a pool's
# retirements form one chain (a link per node: drains run one batch at a time), so the default
# limit of 1000 stops a preview of a pool of about a thousand nodes.
sys.setrecursionlimit(max(sys.getrecursionlimit(), 20_000))

try:
    config = load_stack_config()
except ConfigError as error:
    # A clean, complete list of problems, not a traceback; nothing is registered.
    raise pulumi.RunError(error.render()) from None

# The last run's node slots keep node names stable and are what a roll is planned against.
cluster = Cluster(config.cluster.name, ClusterArgs(config=config, previous_slots=previous_output("nodeSlots")))
for key, value in cluster.exports().items():
    pulumi.export(key, value)
