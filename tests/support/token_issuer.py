"""A Docker token authentication server for registries started with ``auth="token"``.

It speaks the protocol of distribution's ``spec/auth/token.md``: a client that got
``401 WWW-Authenticate: Bearer realm=...,service=...,scope=...`` asks
``GET realm?service=S&scope=repository:NAME:pull,push`` (optionally with basic auth) and gets
``{"token", "access_token", "expires_in", "issued_at"}``. Tokens are ES256 JWTs with the
signing certificate in the ``x5c`` header; the registry trusts that certificate through
``auth.token.rootcertbundle`` (see ``registry/auth/token/token.go``).

Tests steer it (``expires_in``, the access policy) and observe it (``requests``), so they can
prove a client caches tokens, renews them, and asks for the scopes it needs. Note that
distribution accepts a token up to 60 s past ``exp`` (its ``Leeway``): assert renewal on
``tokens_issued``, not on the registry refusing an expired token.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt

from tests.support.certs import generate_signing_cert

# user (None = anonymous), resource name -> allowed actions ("*" = all).
AccessPolicy = Mapping[str, Collection[str]] | Callable[[str | None, str], Collection[str]]
FULL_ACCESS = frozenset({"pull", "push", "delete"})
ADMIN_USERNAME = "regrep-admin"


@dataclass(frozen=True)
class TokenRequest:
    """One answered token request: who asked, for which scopes, what was granted, and the
    token itself (tests prove it never shows up in a log)."""

    user: str | None
    scopes: tuple[str, ...]
    access: tuple[dict[str, Any], ...]
    expires_in: int
    token: str = field(repr=False)


class TokenIssuer:
    """The token server, serving from a daemon thread on a free loopback port.

    ``users`` maps names to passwords. ``access`` maps a user to the actions it has on every
    repository, or is a callable ``(user or None, repository) -> actions``; by default every
    user has pull, push and delete. ``anonymous`` are the actions of requests without
    credentials when ``access`` is not a callable. Both, like ``expires_in``, are attributes
    a test may change while the issuer runs.

    The catalog (``registry:catalog:*``) is granted to whoever may pull ``"catalog"``. An extra
    admin user (``admin_username``/``admin_password``) always gets what it asks for: the test
    support pushes and inspects with it.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        users: Mapping[str, str] | None = None,
        access: AccessPolicy | None = None,
        anonymous: Collection[str] = (),
        expires_in: int = 300,
        service: str = "regrep-test",
        issuer: str = "regrep-test-issuer",
    ) -> None:
        self.users: dict[str, str] = dict(users or {})
        self.admin_username = ADMIN_USERNAME
        self.admin_password = secrets.token_urlsafe(16)
        self.access = access
        self.anonymous = frozenset(anonymous)
        self.expires_in = expires_in
        self.service = service
        self.issuer = issuer
        self.requests: list[TokenRequest] = []
        self._lock = threading.Lock()
        self._signer = generate_signing_cert()
        workdir.mkdir(parents=True, exist_ok=True)
        self.rootcertbundle = workdir / "token-signer.pem"
        self.rootcertbundle.write_bytes(self._signer.cert_pem())
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.issuer = self
        self.realm = f"http://127.0.0.1:{self._server.server_address[1]}/token"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="token-issuer", daemon=True
        )
        self._thread.start()

    @property
    def tokens_issued(self) -> int:
        """Tokens signed so far, the support's own admin tokens included: compare counts
        taken before and after the code under test."""
        with self._lock:
            return len(self.requests)

    @property
    def requested_scopes(self) -> list[str]:
        """Every scope asked for, in order, across all requests."""
        with self._lock:
            return [scope for request in self.requests for scope in request.scopes]

    def registry_config(self) -> dict[str, Any]:
        """The ``auth.token`` section of a distribution config trusting this issuer."""
        return {
            "realm": self.realm,
            "service": self.service,
            "issuer": self.issuer,
            "rootcertbundle": str(self.rootcertbundle),
        }

    def authenticate(self, username: str, password: str) -> bool:
        if username == self.admin_username:
            return secrets.compare_digest(password, self.admin_password)
        expected = self.users.get(username)
        return expected is not None and secrets.compare_digest(password, expected)

    def allowed(self, user: str | None, name: str) -> frozenset[str]:
        """The actions ``user`` may perform on resource ``name``."""
        if user == self.admin_username:
            return frozenset({"*"})
        if callable(self.access):
            return frozenset(self.access(user, name))
        if user is None:
            return self.anonymous
        if self.access is None:
            return FULL_ACCESS
        return frozenset(self.access.get(user, ()))

    def issue(self, user: str | None, scopes: Collection[str]) -> dict[str, Any]:
        """Sign a token granting ``user`` the intersection of ``scopes`` and its rights."""
        access = tuple(a for scope in scopes if (a := self._grant(user, scope)) is not None)
        expires_in = self.expires_in
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": user or "",
            "aud": self.service,  # distribution 2.8 decodes aud as a single string
            "exp": now + expires_in,
            "nbf": now,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": list(access),
        }
        x5c = [base64.b64encode(self._signer.cert_der()).decode()]
        token = jwt.encode(claims, self._signer.key, algorithm="ES256", headers={"x5c": x5c})
        with self._lock:
            self.requests.append(TokenRequest(user, tuple(scopes), access, expires_in, token))
        issued_at = dt.datetime.fromtimestamp(now, dt.UTC).isoformat().replace("+00:00", "Z")
        return {
            "token": token,
            "access_token": token,
            "expires_in": expires_in,
            "issued_at": issued_at,
        }

    def _grant(self, user: str | None, scope: str) -> dict[str, Any] | None:
        kind, _, rest = scope.partition(":")
        name, _, actions = rest.rpartition(":")
        allowed = self.allowed(user, name)
        if kind == "registry" and name == "catalog":
            granted = ["*"] if allowed & {"pull", "*"} else []
        else:
            granted = [a for a in actions.split(",") if a and ("*" in allowed or a in allowed)]
        if not granted:
            return None
        return {"type": kind, "name": name, "actions": granted}

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> TokenIssuer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    issuer: TokenIssuer


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path != "/token":
            self._reply(404, {"errors": [{"code": "NOT_FOUND", "message": url.path}]})
            return
        issuer = self.server.issuer
        try:
            user = self._basic_user(issuer)
        except PermissionError:
            self._reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]})
            return
        query = parse_qs(url.query)
        scopes = [s for value in query.get("scope", []) for s in value.split()]
        self._reply(200, issuer.issue(user, scopes))

    def _basic_user(self, issuer: TokenIssuer) -> str | None:
        """The authenticated user, None when anonymous; PermissionError on bad credentials."""
        header = self.headers.get("Authorization", "")
        if not header:
            return None
        scheme, _, encoded = header.partition(" ")
        try:
            username, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError as error:
            raise PermissionError("malformed basic credentials") from error
        if scheme.lower() != "basic" or not issuer.authenticate(username, password):
            raise PermissionError(f"bad credentials for {username!r}")
        return username

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests read ``TokenIssuer.requests`` instead of a log."""
