"""A rule's ``speed_limit_kbps``: a token bucket on the bytes a copy task streams.

One :class:`Bandwidth` is shared by every blob a task copies at once, so the task as a
whole keeps to the limit, as Harbor's per-task speed limit does. A stream takes tokens
for each slice of bytes before passing it on; a slice taken when the bucket is empty is
a debt the taker sleeps off, and later takers queue behind it (Go's
``rate.Limiter.ReserveN``), so concurrent streams share the rate instead of each using
it. Slices are a tenth of a second's worth of bytes: a slow limit then trickles instead of
sending a whole chunk and pausing for seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from regrep.registry.cancellation import Cancellation

KIB = 1024
_MIN_SLICE = 4 * KIB


class Bandwidth:
    """At most ``bytes_per_second`` on average, with bursts up to ``burst`` bytes.

    The bucket starts empty, so even the first bytes of a copy are paced. ``clock`` and
    ``sleep`` are injectable for testing the arithmetic.
    """

    def __init__(
        self,
        bytes_per_second: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if bytes_per_second <= 0:
            raise ValueError(f"a bandwidth must be positive, not {bytes_per_second}")
        self.rate = float(bytes_per_second)
        self.slice = max(_MIN_SLICE, int(self.rate / 10))
        self.burst = float(burst if burst is not None else self.slice)
        self._clock, self._sleep = clock, sleep
        self._tokens = 0.0
        self._stamp = clock()
        self._lock = threading.Lock()

    @classmethod
    def from_kbps(cls, kbps: int) -> Bandwidth:
        """The limit of a rule's ``speed_limit_kbps`` (KiB per second, as Harbor counts)."""
        return cls(kbps * KIB)

    def take(self, amount: int, *, pause: Callable[[float], None] | None = None) -> float:
        """Wait until ``amount`` bytes may pass; the seconds waited.

        ``pause`` replaces the sleep: a stoppable copy waits on its
        :class:`~regrep.registry.cancellation.Cancellation`, which raises when the copy is stopped.
        """
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= amount
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            (pause or self._sleep)(wait)
        return wait

    def throttle(
        self, chunks: Iterable[bytes], *, stop: Cancellation | None = None
    ) -> Iterator[bytes]:
        """Pass ``chunks`` on in slices, each once the bucket allows it.

        With ``stop``, the waits end (raising :class:`~regrep.registry.cancellation.CopyStopped`) as
        soon as the copy is stopped: queued behind other streams' debts, a wait can last a
        while, and a stopped task must not sit it out.
        """
        pause = stop.wait if stop is not None else None
        for chunk in chunks:
            for offset in range(0, len(chunk), self.slice):
                piece = chunk[offset : offset + self.slice]  # the chunk itself if it fits
                self.take(len(piece), pause=pause)
                yield piece
