"""What the provider SDK's typed class costs over a bare registration: one measured figure for the program gap.

The floor registers ``pulumi.CustomResource`` with the recorded camelCase inputs. The program
registers ``pulumi_vsphere.VirtualMachine``, whose generated class hands the SDK every one of
the type's ~90 properties (inputs and outputs, most of them None), and the SDK makes an Output
for each. Here the same N VMs, with the same plain inputs, are registered both ways in the
same harness, so the share of the program's gap that is the provider SDK's is a number.

``python -m benchmarks.sdk_cost 300`` prints one JSON line; importing does no I/O.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

from vsphere_k8s.facts import VM_TYPE

from .child import run_child


@dataclass(frozen=True)
class SdkFigures:
    vms: int
    typed_seconds: float  # N pulumi_vsphere.VirtualMachine
    bare_seconds: float  # N pulumi.CustomResource of the same type token and inputs

    @property
    def typed_ms(self) -> float:
        return 1000.0 * self.typed_seconds / self.vms

    @property
    def bare_ms(self) -> float:
        return 1000.0 * self.bare_seconds / self.vms


def _typed(i: int) -> None:
    import pulumi_vsphere as vsphere

    vsphere.VirtualMachine(
        f"vm-{i}",
        name=f"vm-{i}",
        resource_pool_id="resgroup-1",
        datastore_id="datastore-1",
        num_cpus=4,
        memory=8192,
        guest_id="ubuntu64Guest",
        enable_disk_uuid=True,
        network_interfaces=[vsphere.VirtualMachineNetworkInterfaceArgs(network_id="network-1", adapter_type="vmxnet3")],
        disks=[vsphere.VirtualMachineDiskArgs(label="disk0", size=40)],
        clone=vsphere.VirtualMachineCloneArgs(template_uuid="4212b0a5-3bd5-4c31-9a42-000000000001"),
        extra_config={"guestinfo.metadata": "e30=", "guestinfo.metadata.encoding": "base64"},
        tags=["urn:tag:zone", "urn:tag:region"],
    )


def _bare(i: int) -> None:
    import pulumi

    inputs: dict[str, Any] = {
        "name": f"vm-{i}",
        "resourcePoolId": "resgroup-1",
        "datastoreId": "datastore-1",
        "numCpus": 4,
        "memory": 8192,
        "guestId": "ubuntu64Guest",
        "enableDiskUuid": True,
        "networkInterfaces": [{"networkId": "network-1", "adapterType": "vmxnet3"}],
        "disks": [{"label": "disk0", "size": 40}],
        "clone": {"templateUuid": "4212b0a5-3bd5-4c31-9a42-000000000001"},
        "extraConfig": {"guestinfo.metadata": "e30=", "guestinfo.metadata.encoding": "base64"},
        "tags": ["urn:tag:zone", "urn:tag:region"],
    }
    pulumi.CustomResource(VM_TYPE, f"vm-{i}", inputs)


def _time(register: Any, n: int) -> float:
    from offline.runtime import configure, run
    from vsphere_k8s.stack_file import PROJECT

    def program() -> None:
        for i in range(n):
            register(i)

    gc.collect()
    started = time.perf_counter()
    mocks, monitor = configure({}, project=PROJECT, stack="bench")
    recording = run(program, monitor, mocks)
    seconds = time.perf_counter() - started
    if len(recording.registrations) != n:
        raise RuntimeError(f"registered {len(recording.registrations)} VMs, not {n}")
    return seconds


def measure(vms: int) -> SdkFigures:
    """Typed and bare, each after a small warm-up of both, best of two (in this interpreter)."""
    _time(_typed, 10)
    _time(_bare, 10)
    typed = min(_time(_typed, vms) for _ in range(2))
    bare = min(_time(_bare, vms) for _ in range(2))
    return SdkFigures(vms, typed, bare)


def measure_in_child(vms: int, timeout: float = 600.0) -> SdkFigures:
    """:func:`measure` in a fresh interpreter (no other run's heap or caches)."""
    return SdkFigures(**run_child("benchmarks.sdk_cost", [str(vms)], timeout))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    figures = measure(int(args[0]) if args else 300)
    print(json.dumps(asdict(figures)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
