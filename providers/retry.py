"""Bounded retries with exponential backoff, for every client a dynamic provider talks through.

The vCenter connection (SOAP and REST) and the Kubernetes node client each decide what is worth
the same request again (a dropped connection, a 503); how long to wait, how often, and how to give
up is decided here, once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


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

    def start(
        self, give_up: Callable[[BaseException | str], BaseException], on_retry: Callable[[], None] | None = None
    ) -> Retries:
        """The retries of one operation; ``give_up(cause)`` is the error once they are spent."""
        return Retries(self, give_up, on_retry)


class Retries:
    """One operation's retry budget: pause before the next attempt, or raise when none is left."""

    def __init__(
        self,
        policy: RetryPolicy,
        give_up: Callable[[BaseException | str], BaseException],
        on_retry: Callable[[], None] | None = None,
    ) -> None:
        self._policy = policy
        self._delays = policy.delays()
        self._give_up = give_up
        self._on_retry = on_retry

    def pause(self, cause: BaseException | str) -> None:
        """``cause`` (the failure or a word for it) was transient: wait for the next attempt, or give up."""
        delay = next(self._delays, None)
        if delay is None:
            raise self._give_up(cause) from (cause if isinstance(cause, BaseException) else None)
        if self._on_retry is not None:
            self._on_retry()
        self._policy.sleep(delay)
