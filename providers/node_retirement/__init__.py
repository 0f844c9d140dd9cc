"""NodeRetirement: a node's admission and retirement, as one dynamic resource per node.

Its create waits until the node is Ready (and, on the control plane, its etcd member is started
and caught up with the leader), so the next node of a roll waits for it; its delete retires the
node before its VM goes: cordon, drain with evictions that honour PodDisruptionBudgets, remove
the etcd member only while the remaining members keep a healthy quorum, delete the Node.
"""
