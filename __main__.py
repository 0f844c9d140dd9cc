"""Pulumi entry point: read the stack configuration once, build the cluster, export."""

import pulumi

from components.cluster import Cluster, ClusterArgs
from components.memory import previous_output
from vsphere_k8s.errors import ConfigError
from vsphere_k8s.pulumi_source import load_stack_config

try:
    config = load_stack_config()
except ConfigError as error:
    # A clean, complete list of problems, not a traceback; nothing is registered.
    raise pulumi.RunError(error.render()) from None

# The last run's node slots keep node names stable and are what a roll is planned against.
cluster = Cluster(config.cluster.name, ClusterArgs(config=config, previous_slots=previous_output("nodeSlots")))
for key, value in cluster.exports().items():
    pulumi.export(key, value)
