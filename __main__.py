"""Pulumi entry point: read the stack configuration once, build the cluster, export."""

import pulumi

from components.cluster import Cluster, ClusterArgs
from vsphere_k8s.errors import ConfigError
from vsphere_k8s.pulumi_source import load_stack_config

try:
    config = load_stack_config()
except ConfigError as error:
    # A clean, complete list of problems, not a traceback; nothing is registered.
    raise pulumi.RunError(error.render()) from None

cluster = Cluster(config.cluster.name, ClusterArgs(config=config))
for key, value in cluster.exports().items():
    pulumi.export(key, value)
