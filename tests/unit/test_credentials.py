"""Short-lived registry credentials: fetched once, renewed before they lapse, or when refused."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from regrep.registry import credentials as module
from regrep.registry.credentials import Credentials, RenewingCredentials


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    fake = Clock()
    monkeypatch.setattr(module.time, "monotonic", fake.monotonic)
    yield fake


def _source(lifetime: float | None) -> tuple[list[int], RenewingCredentials]:
    fetched: list[int] = []

    def fetch() -> Credentials:
        fetched.append(1)
        return Credentials("AWS", f"password-{len(fetched)}", expires_in=lifetime)

    return fetched, RenewingCredentials(fetch)


def test_credentials_are_renewed_a_tenth_of_their_life_before_they_end(clock: Clock) -> None:
    fetched, renewing = _source(100.0)

    assert renewing.current().password == "password-1"
    clock.now += 89
    assert renewing.current().password == "password-1"
    clock.now += 1  # 10 s before the end
    assert renewing.current().password == "password-2"
    assert len(fetched) == 2


def test_long_lived_credentials_are_renewed_five_minutes_before_they_end(clock: Clock) -> None:
    fetched, renewing = _source(12 * 3600.0)  # ECR's authorization token

    renewing.current()
    clock.now += 12 * 3600 - 301
    renewing.current()
    clock.now += 1
    renewing.current()

    assert len(fetched) == 2


def test_refused_credentials_are_fetched_again_and_endless_ones_kept(clock: Clock) -> None:
    fetched, renewing = _source(None)

    assert renewing.current().basic == "Basic " + base64.b64encode(b"AWS:password-1").decode()
    clock.now += 10**9
    renewing.current()
    assert renewing.expire()
    assert renewing.current().password == "password-2"
    assert len(fetched) == 2


def test_the_password_stays_out_of_repr() -> None:
    assert "s3cret" not in repr(Credentials("user", "s3cret-value", 60))
