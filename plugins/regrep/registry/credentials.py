"""Registry credentials that expire, fetched again shortly before they do.

Several registries take a password that a vendor API hands out for a while only: AWS ECR's
``GetAuthorizationToken`` (12 hours), Alibaba ACR's temporary login, Huawei SWR's
temporary login command, an Azure ACR refresh token. The provider's client passes a
callback that fetches them (``RegistryClient(credentials=...)``); :class:`RenewingCredentials`
calls it on first use, again shortly before the credentials expire, and again when the
registry refuses them, so a replication longer than their lifetime never fails on them.
The callback raises the registry client's typed errors when the vendor API refuses.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

_RENEW_FRACTION = 0.1  # renew this share of the lifetime before the end...
_RENEW_MAX_SECONDS = 300.0  # ...but no earlier than five minutes before it


@dataclass(frozen=True)
class Credentials:
    """A registry username and password, valid ``expires_in`` seconds (None: no known end)."""

    username: str
    password: str = field(repr=False)
    expires_in: float | None = None

    @property
    def basic(self) -> str:
        """Their ``Authorization: Basic`` value."""
        return f"Basic {_base64_pair(self.username, self.password)}"


CredentialSource = Callable[[], Credentials]


def basic_authorization(username: str | None, password: str | None) -> str | None:
    """The HTTP basic ``Authorization`` value of an account; None when anonymous."""
    return f"Basic {_base64_pair(username, password or '')}" if username else None


def _base64_pair(username: str, password: str) -> str:
    return base64.b64encode(f"{username}:{password}".encode()).decode()


class RenewingCredentials:
    """The current credentials from a :data:`CredentialSource`; safe to share between threads."""

    def __init__(self, source: CredentialSource) -> None:
        self._source = source
        self._current: Credentials | None = None
        self._renew_at = 0.0  # time.monotonic() after which the source is asked again
        self._lock = threading.Lock()

    def current(self) -> Credentials:
        """The cached credentials, fetched anew when missing or about to expire."""
        with self._lock:
            if self._current is None or time.monotonic() >= self._renew_at:
                fetched = time.monotonic()
                self._current = self._source()
                lifetime = self._current.expires_in
                margin = min(lifetime * _RENEW_FRACTION, _RENEW_MAX_SECONDS) if lifetime else 0.0
                self._renew_at = fetched + lifetime - margin if lifetime else float("inf")
            return self._current

    def expire(self) -> bool:
        """Forget the credentials (the registry refused them); True if there were any."""
        with self._lock:
            had = self._current is not None
            self._current = None
            return had
