"""Offline preview: the real program under mocks, with no credentials, engine or network.

The mocks answer the vSphere invokes the program makes the way the provider
would, and a recording monitor keeps every registration with its parent, provider,
dependencies and which inputs are secret. The offline preview, the unit tests
and the benchmarks all use this one harness:

- :mod:`.recording`: the recording monitor, :class:`Registration` and :class:`Recording`
- :mod:`.vsphere_fakes`: :class:`VSphereMocks`, the vSphere invokes and resources
- :mod:`.dynamic_fakes`: this project's dynamic resources (NodeBinding, TagAttachment)
- :mod:`.tls_random_fakes`: tls and random resources (real keys and certificates)
- :mod:`.ids`: the stable ids and UUIDs the fakes answer with
- :mod:`.runtime`: point the Pulumi runtime at the mocks (config too) and run a program
- :mod:`.program`: load a stack file and run the project's program
- :mod:`.policy_views`, :mod:`.policy_run`: the policy pack over a recording
- :mod:`.preview`: the resource tree and rendered files a reviewer reads
"""
