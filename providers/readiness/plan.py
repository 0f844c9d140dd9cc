"""Pure: how to read one probe of /readyz, and the bounded wait around it.

/readyz (like /livez and /version) is readable without credentials through the
``system:public-info-viewer`` role, so the wait needs only the CA: no credential
ever reaches the provider. A server with anonymous auth disabled answers 401/403,
which still proves it serves TLS with the cluster's certificate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum

from providers.keys import Keys

KEYS = Keys(
    outputs=("attempts", "status"),
    # Another server, or another way to trust it, is another wait; a new timeout is not.
    replace=("server", "caCertPem", "insecure"),
    delete_before_replace=False,  # nothing to release: the new wait may run beside the old
)


class Verdict(Enum):
    READY = "ready"
    RETRY = "retry"
    FAIL = "fail"


@dataclass(frozen=True)
class Probe:
    status: int | None  # None: no HTTP answer (refused, timeout, TLS failure)
    body: str = ""
    error: str | None = None


class ApiNotReadyError(RuntimeError):
    pass


def classify(probe: Probe) -> tuple[Verdict, str]:
    if probe.status is None:
        return Verdict.RETRY, probe.error or "no answer"
    if probe.status == 200:
        if probe.body.strip() == "ok":
            return Verdict.READY, "ok"
        return Verdict.RETRY, f"HTTP 200 but not ok: {probe.body.strip()[:200]}"
    if probe.status in (401, 403):
        return Verdict.READY, f"HTTP {probe.status}: serving, anonymous access disabled"
    if probe.status == 429 or probe.status >= 500:
        return Verdict.RETRY, f"HTTP {probe.status}: {probe.body.strip()[:200]}"
    if probe.status == 404:
        return Verdict.FAIL, "HTTP 404 on /readyz: this endpoint is not a Kubernetes API server"
    return Verdict.FAIL, f"HTTP {probe.status}: {probe.body.strip()[:200]}"


@dataclass(frozen=True)
class WaitPlan:
    timeout_seconds: float
    initial_delay: float = 2.0
    max_delay: float = 15.0
    factor: float = 1.5

    def __post_init__(self) -> None:
        if self.timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")

    def delays(self) -> Iterator[float]:
        delay = self.initial_delay
        while True:
            yield delay
            delay = min(delay * self.factor, self.max_delay)


@dataclass(frozen=True)
class WaitResult:
    attempts: int
    elapsed: float
    reason: str


def wait_ready(
    what: str,
    probe: Callable[[float], Probe],
    plan: WaitPlan,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> WaitResult:
    """Probe until ready, a definite failure, or the deadline; ``probe`` gets the time left."""
    start = clock()
    deadline = start + plan.timeout_seconds
    for attempts, delay in enumerate(plan.delays(), start=1):
        left = deadline - clock()
        verdict, reason = classify(probe(max(1.0, min(10.0, left))))
        if verdict is Verdict.READY:
            return WaitResult(attempts, clock() - start, reason)
        if verdict is Verdict.FAIL:
            raise ApiNotReadyError(f"{what}: {reason}")
        left = deadline - clock()
        if left <= 0:
            raise ApiNotReadyError(
                f"{what} not ready after {plan.timeout_seconds:.0f}s ({attempts} probes); last answer: {reason}. "
                "Check the node consoles' /var/log/vsphere-k8s-bootstrap.log, or raise "
                "kubernetes.apiReadyTimeoutSeconds"
            )
        sleep(min(delay, left))
    raise AssertionError("unreachable")  # delays() never ends
