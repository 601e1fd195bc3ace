"""The speed limit's token bucket: its arithmetic, on a fake clock."""

from __future__ import annotations

import threading

import pytest

from regrep.engine.bandwidth import KIB, Bandwidth


class FakeClock:
    """Time that moves only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.lock = threading.Lock()

    def clock(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def bucket(rate: float, clock: FakeClock, **kwargs: float) -> Bandwidth:
    return Bandwidth(rate, clock=clock.clock, sleep=clock.sleep, **kwargs)


def test_a_stream_takes_as_long_as_its_bytes_at_the_rate() -> None:
    clock = FakeClock()
    limit = bucket(1000 * KIB, clock)
    chunks = [b"x" * (1 << 20)] * 30  # 30 MiB at 1000 KiB/s: 30.72 s
    sent = sum(len(piece) for piece in limit.throttle(chunks))
    assert sent == 30 << 20
    assert clock.now - 100.0 == pytest.approx(30 * 1024 / 1000)


def test_slices_are_a_tenth_of_a_second_of_bytes() -> None:
    clock = FakeClock()
    limit = bucket(100 * KIB, clock)
    pieces = list(limit.throttle([b"y" * (50 * KIB)]))
    assert [len(p) for p in pieces] == [10 * KIB] * 5
    assert b"".join(pieces) == b"y" * (50 * KIB)
    assert clock.now - 100.0 == pytest.approx(0.5)


def test_idle_time_refills_at_most_a_burst() -> None:
    clock = FakeClock()
    limit = bucket(1000.0, clock, burst=500.0)
    clock.sleep(60)  # a minute idle earns 500 bytes, not 60,000
    assert limit.take(500) == 0.0
    assert limit.take(1000) == pytest.approx(1.0)


def test_concurrent_takers_queue_behind_each_other() -> None:
    waits: list[float] = []
    limit = Bandwidth(1000.0, clock=lambda: 100.0, sleep=waits.append)  # all at one instant
    threads = [threading.Thread(target=limit.take, args=(1000,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Each reserves its 1000 bytes behind the others': 4000 bytes take 4 s in all.
    assert sorted(waits) == pytest.approx([1.0, 2.0, 3.0, 4.0])


def test_kbps_are_kibibytes_per_second() -> None:
    assert Bandwidth.from_kbps(512).rate == 512 * 1024


def test_a_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        Bandwidth(0)
