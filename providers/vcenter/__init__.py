"""Adapters shared by the dynamic providers: one vCenter session per process, tags, inventory."""
