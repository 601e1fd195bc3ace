"""Registry authentication: anonymous, HTTP basic, and the Docker bearer-token flow.

The registry decides the scheme through its ``WWW-Authenticate`` challenge (RFC 7235) on a
401. For ``Bearer`` (distribution "Token Authentication Specification") we ask the realm
for a token carrying the scopes the request needs, sending our basic credentials to the
realm, and cache it per scope set until shortly before it expires. A 401 carrying a wider
``scope`` (a push after a pull, a cross-repository mount) widens what we ask for that scope
set next time. Tokens and basic credentials are only ever attached to the registry's own
origin (see :mod:`regrep.registry.transport`); nothing here logs them.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from regrep.registry.credentials import (
    CredentialSource,
    RenewingCredentials,
    basic_authorization,
)
from regrep.registry.errors import Operation, RegistryError, error_for_status
from regrep.registry.transport import Transport

# RFC 9110 5.6.2 token and 5.6.4 quoted-string, as used in auth-params.
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_SCHEME_RE = re.compile(_TOKEN)
_PARAM_RE = re.compile(rf'({_TOKEN})\s*=\s*(?:"((?:[^"\\]|\\.)*)"|({_TOKEN}))')
_SEPARATORS_RE = re.compile(r"[\s,]*")
_DEFAULT_EXPIRES_IN = 60  # seconds, distribution token spec "expires_in"
_RENEW_FRACTION = 0.1  # renew this share of a token's lifetime before it ends...
_RENEW_MAX_SECONDS = 10.0  # ...but never more than this early


@dataclass(frozen=True)
class Challenge:
    """One ``WWW-Authenticate`` challenge: lower-case scheme and its parameters."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")

    @property
    def service(self) -> str | None:
        return self.params.get("service")

    @property
    def scopes(self) -> tuple[str, ...]:
        """The scopes the server says the request needs (space-separated in one param)."""
        return tuple(self.params.get("scope", "").split())

    @property
    def error(self) -> str | None:
        """RFC 6750 error code, e.g. ``insufficient_scope`` or ``invalid_token``."""
        return self.params.get("error")


def parse_challenges(header: str) -> list[Challenge]:
    """Parse a ``WWW-Authenticate`` value holding one or more challenges.

    Handles several challenges in one header (``Basic realm="a", Bearer realm="b"``),
    quoted values containing commas (scope lists) and backslash escapes.
    """
    challenges: list[tuple[str, dict[str, str]]] = []
    pos = 0
    while True:
        pos = _SEPARATORS_RE.match(header, pos).end()  # type: ignore[union-attr]
        if pos >= len(header):
            break
        param = _PARAM_RE.match(header, pos)
        if param and challenges:
            quoted, bare = param.group(2), param.group(3)
            value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
            challenges[-1][1][param.group(1).lower()] = value
            pos = param.end()
            continue
        scheme = _SCHEME_RE.match(header, pos)
        if scheme is None:
            pos += 1  # not RFC 7235 syntax (token68 padding, stray quote): skip it
            continue
        challenges.append((scheme.group(0).lower(), {}))
        pos = scheme.end()
    return [Challenge(scheme, params) for scheme, params in challenges]


def repository_scope(repository: str, *actions: str) -> str:
    """``repository:<name>:<actions>``, the resource scope of the token spec."""
    return f"repository:{repository}:{','.join(actions)}"


def pull_scopes(repository: str) -> tuple[str, ...]:
    """The token scopes a read of ``repository`` needs."""
    return (repository_scope(repository, "pull"),)


def push_scopes(repository: str) -> tuple[str, ...]:
    """The token scopes a push into ``repository`` needs."""
    return (repository_scope(repository, "pull", "push"),)


def merge_scopes(*groups: Iterable[str]) -> tuple[str, ...]:
    """Union of scope strings, actions merged per resource, in a canonical order.

    ``repository:a:pull`` + ``repository:a:push`` -> ``repository:a:pull,push``; the
    canonical order makes equal needs share one cache entry.
    """
    actions: dict[str, set[str]] = {}
    for group in groups:
        for scope in group:
            resource, _, wanted = scope.rpartition(":")
            if not resource:
                continue
            actions.setdefault(resource, set()).update(a for a in wanted.split(",") if a)
    return tuple(f"{r}:{','.join(sorted(a))}" for r, a in sorted(actions.items()))


@dataclass(frozen=True)
class Token:
    """A bearer token and when (on the monotonic clock) to stop using it."""

    value: str
    expires_at: float
    lifetime: float

    def usable(self, now: float) -> bool:
        """True until shortly before expiry, leaving time for the request to be served."""
        margin = min(self.lifetime * _RENEW_FRACTION, _RENEW_MAX_SECONDS)
        return now < self.expires_at - margin


def parse_token_response(body: Any, *, now: float, wall_now: datetime) -> Token:
    """Read a token answer: ``token`` or ``access_token``, ``expires_in``, ``issued_at``.

    ``expires_in`` defaults to 60 s (token spec). The lifetime counts from ``issued_at``
    when that is plausible on our clock; a server clock ahead of ours or wildly behind
    would otherwise make us use an expired token or renew on every request.
    """
    if not isinstance(body, dict):
        raise ValueError("token response is not a JSON object")
    value = body.get("token") or body.get("access_token")
    if not isinstance(value, str) or not value:
        raise ValueError("token response has neither token nor access_token")
    expires_in = body.get("expires_in")
    if not isinstance(expires_in, int | float) or isinstance(expires_in, bool) or expires_in <= 0:
        expires_in = _DEFAULT_EXPIRES_IN
    age = 0.0
    issued_at = body.get("issued_at")
    if isinstance(issued_at, str):
        try:
            issued = datetime.fromisoformat(issued_at)
        except ValueError:
            issued = None
        if issued is not None and issued.tzinfo is not None:
            elapsed = (wall_now - issued).total_seconds()
            age = elapsed if 0 <= elapsed < expires_in else 0.0
    return Token(value, now + expires_in - age, float(expires_in))


class Authenticator:
    """Per-endpoint auth state, shared by the client's threads.

    Only the first request of a client goes out anonymously: its 401 tells us the scheme,
    after which every request carries the right header up front. ``credentials`` replaces
    ``username``/``password`` with short-lived ones a vendor API hands out (see
    :mod:`regrep.registry.credentials`).
    """

    def __init__(
        self,
        transport: Transport,
        *,
        endpoint: str,
        username: str | None,
        password: str | None,
        credentials: CredentialSource | None = None,
    ) -> None:
        self._transport = transport
        self._renewing = RenewingCredentials(credentials) if credentials else None
        self._endpoint = endpoint
        self._username = username
        self._basic = basic_authorization(username, password)
        self._scheme: str | None = None
        self._realm = ""  # token service URL, set by the first Bearer challenge
        self._service: str | None = None
        self._tokens: dict[tuple[str, ...], Token] = {}
        self._widened: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._lock = threading.Lock()

    @property
    def anonymous(self) -> bool:
        """True when no credentials were configured."""
        return self._basic is None and self._renewing is None

    def authorization(self, scopes: Sequence[str], operation: Operation) -> str | None:
        """The Authorization header value for a request needing ``scopes``, if any."""
        if self._scheme == "basic":
            return self._credentials()[1]
        if self._scheme != "bearer":
            return None
        with self._lock:
            wanted = self._wanted(scopes)
            token = self._tokens.get(wanted)
            if token is None or not token.usable(time.monotonic()):
                token = self._fetch(wanted, operation)
                self._tokens[wanted] = token
            return f"Bearer {token.value}"

    def challenged(
        self, header: str | None, scopes: Sequence[str], offered: str | None = None
    ) -> bool:
        """Learn from a 401's challenge; True if retrying with new auth can succeed.

        ``offered`` is the Authorization the refused request carried: None when it went out
        before any thread had learnt the scheme, which the retry then supplies.
        """
        challenges = {c.scheme: c for c in parse_challenges(header or "")}
        bearer = challenges.get("bearer")
        with self._lock:
            if bearer is not None and bearer.realm:
                self._scheme, self._realm, self._service = "bearer", bearer.realm, bearer.service
                key, sent = merge_scopes(scopes), self._wanted(scopes)
                wanted = merge_scopes(sent, bearer.scopes)
                if wanted != key:
                    self._widened[key] = wanted
                # The token we sent (if any) was refused: never offer it again.
                self._tokens.pop(sent, None)
                self._tokens.pop(wanted, None)
                return True
            if "basic" in challenges and not self.anonymous:
                if self._scheme != "basic" or offered is None:
                    self._scheme = "basic"
                    return True
                # Vendor-issued credentials can lapse before their announced end.
                return self._renewing is not None and self._renewing.expire()
        return False

    def _wanted(self, scopes: Sequence[str]) -> tuple[str, ...]:
        key = merge_scopes(scopes)
        return self._widened.get(key, key)

    def _credentials(self) -> tuple[str | None, str | None]:
        """The account name and basic ``Authorization`` value to offer, if any."""
        if self._renewing is not None:
            current = self._renewing.current()
            return current.username, current.basic
        return self._username, self._basic

    def _fetch(self, scopes: tuple[str, ...], operation: Operation) -> Token:
        """GET a token from the realm (token spec "Requesting a Token")."""
        realm = self._realm
        params: list[tuple[str, str]] = [("scope", s) for s in scopes]
        if self._service:
            params.insert(0, ("service", self._service))
        account, basic = self._credentials()
        if account:
            params.append(("account", account))
        # Basic credentials go to the realm: that is how the token service authenticates.
        response = self._transport.request("GET", realm, params=params, authorization=basic)
        with response:
            if response.status_code != 200:
                token_op = Operation(
                    "GET",
                    urlsplit(realm).path,
                    operation.action,
                    operation.repository,
                    f"token service {urlsplit(realm).netloc}",
                )
                error = error_for_status(
                    response.status_code,
                    response.reason,
                    response.content,
                    token_op,
                    endpoint=self._endpoint,
                    anonymous=self.anonymous,
                    retry_after=response.headers.get("Retry-After"),
                )
                error.retried = True  # a GET: the transport has retried it already
                raise error
            try:
                return parse_token_response(
                    response.json(), now=time.monotonic(), wall_now=datetime.now(UTC)
                )
            except ValueError as exc:
                raise RegistryError(
                    f"token service {urlsplit(realm).netloc} of endpoint {self._endpoint} "
                    f"answered an unusable token response: {exc}",
                    status=response.status_code,
                    endpoint=self._endpoint,
                    repository=operation.repository,
                ) from None
