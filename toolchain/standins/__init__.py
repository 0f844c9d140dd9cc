"""STAND-IN resource provider plugins for pulumi-vsphere, pulumi-tls and pulumi-random.

These are test doubles, not the real providers. The real plugins cannot be built
here (the Go module proxy refuses their provider modules), so the end-to-end tier
runs the real Pulumi engine against these instead. Each speaks the Pulumi
ResourceProvider gRPC protocol and keeps to the real provider's wire contract
where the program depends on it: token names, camelCase property names, ids,
which changes replace, secrets, and unknowns during preview. The vSphere one talks
to vCenter (or govmomi's vcsim) for real, through pyVmomi and the tagging REST API.

Launchers the engine finds on PATH live in ``bin/``; each runs
``python -m toolchain.standins.<plugin>``.
"""
