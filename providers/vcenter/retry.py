"""Bounded retries with exponential backoff, for the transient failures vCenter answers with."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

# 409: a concurrent change won; 429: throttled; 5xx: vpxd or the reverse proxy restarting.
TRANSIENT_STATUS = frozenset({409, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 3.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)

    def delays(self) -> Iterator[float]:
        """The pause before each retry (so ``attempts - 1`` values)."""
        delay = self.base_delay
        for _ in range(max(self.attempts - 1, 0)):
            yield min(delay, self.max_delay)
            delay *= 2


class VCenterError(RuntimeError):
    """vCenter could not be reached or refused a request after the retries."""


class VCenterNotFoundError(VCenterError, LookupError):
    """vCenter answered that the object asked for does not exist (HTTP 404): deleted, or never made."""
