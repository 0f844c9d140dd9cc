"""Scale and cost figures: the program under mocks as clusters grow, and the node-binding reconcile on vcsim.

Run them with ``scripts/bench.sh`` (or ``python -m benchmarks``); see benchmarks/README.md.
Importing this package does nothing.
"""
