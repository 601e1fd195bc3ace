"""What every vendor emulator shares: a routed HTTP server in front of a real registry.

Cloud registries cannot be reached from the test machine, so each vendor's own API is
emulated at the HTTP level, following the vendor's documented request and response shapes,
while blob and manifest traffic goes to a real ``docker-registry``. A vendor module builds a
:class:`VendorServer` and gives it:

- **routes** for the vendor API: ``server.route("POST", r"/oauth2/token", handler)``, where a
  handler takes a :class:`Request` and returns a :class:`Response`. Routes are matched first
  (method, then the path with ``re.fullmatch``), so a vendor API living under ``/v2/`` (SWR's
  ``/v2/manage/...``, GCR's ``/v2/token``) works too;
- a **registry gate** (``server.gate``) deciding on ``/v2/`` traffic no route claims:
  :class:`BasicGate` (the registry takes basic credentials, as ECR's ``AWS`` + token login),
  :class:`BearerGate` (the Docker token flow, with :func:`token_endpoint` as its realm), or
  ``None``: the request then reaches the upstream untouched, ``Authorization`` included, so a
  registry started with ``auth="token"`` authenticates for itself (the vendor lets clients
  reach its registry directly). With a gate, the upstream is a registry without auth.

A route that claims a ``/v2/`` path (a vendor's own listing) applies ``server.gate`` itself
and may pass the request on with :meth:`VendorServer.forward`; :func:`capped_listing` does
that for vendors that cap page sizes. :func:`push_needs_namespace` refuses pushes into
namespaces a vendor API must create first. :class:`TokenStore` issues, checks and revokes
opaque tokens of any kind (access, refresh, temporary logins); :func:`basic_user` checks an
account's basic credentials. Listings paged by number (Harbor, Docker Hub, GitHub, GitLab)
cut their pages with :func:`numbered_page` and link them with :func:`page_url`. A vendor
emulator subclasses :class:`Emulator`, which stops its servers (also as a context manager):
:class:`HostedEmulator` when one server carries its API and registry, :class:`AccountsEmulator`
when accounts log in to a token-flow registry with basic credentials, and
:class:`TemporaryLoginEmulator` when a signed API trades access keys for temporary registry
logins. :func:`token_realm` serves a token realm and gives the gate sending clients there;
:func:`signature_matches` recomputes a vendor signature with ``regrep.vendors.signing``.

Every request is recorded (``server.requests``, filtered with :meth:`VendorServer.calls`),
so a test can assert what the client sent: paging parameters, signatures, token fetches,
whether a request was ever refused. Tokens are opaque and checked here with exact expiry
(:class:`TokenStore`); distribution's own JWTs stay valid 60 s past expiry, which would
hide a client using a lapsed token.

The upstream is a plain-HTTP registry: tests push fixtures straight into it
(``tests.support.images``) and read them back through the emulator. The ``Host`` header is
forwarded unchanged, so the registry's ``Location`` headers point back at the emulator.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import http.client
import json
import re
import secrets
import ssl
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol, Required, Self, TypedDict, Unpack
from urllib.parse import parse_qs, urlencode, urlsplit

from requests.structures import CaseInsensitiveDict

from tests.support.certs import write_server_tls
from tests.support.registries import RunningRegistry

_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length"}
)
# /v2/<name>/<kind>/...: the repository a registry request is about (names contain slashes).
_REPOSITORY_PATH = re.compile(r"/v2/(?P<name>.+?)/(?:manifests|blobs|tags|referrers)/.*")
_ACTION_FOR_METHOD = {"GET": "pull", "HEAD": "pull", "DELETE": "delete"}  # other: push


# -- requests and responses -----------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One request as a route handler or gate sees it; ``params`` are the route's groups."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: CaseInsensitiveDict[str]
    body: bytes
    params: Mapping[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter ``name``."""
        values = self.query.get(name)
        return values[0] if values else default

    @property
    def signed_url(self) -> str:
        """The URL as a client signs it (``Host`` header, path, query in its order), for
        recomputing a vendor signature; the scheme is left to the signature to ignore."""
        query = "&".join(f"{k}={v}" for k, values in self.query.items() for v in values)
        return f"http://{self.headers.get('Host', '')}{self.path}" + (f"?{query}" if query else "")

    def json(self) -> Any:
        """The JSON body (``{}`` when empty); ValueError when it is not JSON."""
        return json.loads(self.body) if self.body else {}

    def form(self) -> dict[str, str]:
        """An ``application/x-www-form-urlencoded`` body, first value of each key."""
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}

    @property
    def basic(self) -> tuple[str, str] | None:
        """``(username, password)`` of a Basic ``Authorization`` header, if well formed."""
        scheme, _, encoded = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            username, colon, password = (
                base64.b64decode(encoded, validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            return None
        return (username, password) if colon else None

    @property
    def bearer(self) -> str | None:
        """The token of a Bearer ``Authorization`` header."""
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        return token.strip() or None


@dataclass
class Response:
    """What a handler answers; ``body`` is sent as is (none for HEAD)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(
        cls, document: Any, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> Response:
        body = json.dumps(document).encode()
        return cls(status, body, {"Content-Type": "application/json", **(headers or {})})

    @classmethod
    def registry_error(
        cls, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> Response:
        """An OCI distribution error body (``{"errors": [{"code", "message"}]}``)."""
        return cls.json({"errors": [{"code": code, "message": message}]}, status, headers)


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class RecordedRequest(Request):
    """A request the emulator answered with ``status``. ``body`` is kept for route requests
    only (not blobs)."""

    status: int = 0


# -- tokens ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    """An issued token: who it is for, what it allows, until when (``time.time()``)."""

    value: str
    subject: str
    scopes: tuple[str, ...]
    expires_at: float
    kind: str

    @property
    def expires_in(self) -> int:
        return max(0, round(self.expires_at - time.time()))

    def allows(self, scope: str) -> bool:
        """True when one granted scope covers ``scope`` (``type:name:action``)."""
        resource, _, action = scope.rpartition(":")
        for granted in self.scopes:
            name, _, actions = granted.rpartition(":")
            if name == resource and ({"*", action} & set(actions.split(","))):
                return True
        return False


class TokenStore:
    """Opaque tokens with exact expiry: the token-exchange half of most vendor emulators.

    ``kind`` separates a vendor's token families (ACR's refresh and access tokens, ECR's
    authorization tokens) so one cannot be used as another. ``ttl`` is an attribute a test
    may lower to make tokens lapse quickly.
    """

    def __init__(self, ttl: float = 3600.0) -> None:
        self.ttl = ttl
        self._grants: dict[str, Grant] = {}
        self._order: list[Grant] = []
        self._lock = threading.Lock()

    def issue(
        self,
        subject: str,
        scopes: Iterable[str] = (),
        *,
        kind: str = "access",
        ttl: float | None = None,
    ) -> Grant:
        value = f"{kind}-{secrets.token_urlsafe(24)}"
        lifetime = self.ttl if ttl is None else ttl
        grant = Grant(value, subject, tuple(scopes), time.time() + lifetime, kind)
        with self._lock:
            self._grants[value] = grant
            self._order.append(grant)
        return grant

    def lookup(self, value: str | None, *, kind: str = "access") -> Grant | None:
        """The grant of a live token of ``kind``; None if unknown, expired or another kind."""
        with self._lock:
            grant = self._grants.get(value or "")
        if grant is None or grant.kind != kind or grant.expires_at <= time.time():
            return None
        return grant

    def revoke(self) -> None:
        """Forget every live token, as a vendor does when credentials are rotated."""
        with self._lock:
            self._grants.clear()

    def issued(self, kind: str = "access") -> list[Grant]:
        """Every token of ``kind`` issued so far, in order."""
        with self._lock:
            return [g for g in self._order if g.kind == kind]


# Who may do what: (subject, resource name) -> allowed actions, "*" for all.
Authorize = Callable[[str, str], Collection[str]]


def allow_all(subject: str, resource: str) -> Collection[str]:
    """The default policy: every authenticated subject may do everything."""
    return ("*",)


def basic_user(request: Request, users: Mapping[str, str]) -> str | None:
    """The user whose basic credentials ``request`` carries, checked against ``users`` (name
    -> password or token): "" when it carries none, None when they are wrong."""
    credentials = request.basic
    if credentials is None:
        return None if "Authorization" in request.headers else ""
    user, password = credentials
    return user if users.get(user) == password else None


def grant_scopes(subject: str, requested: Iterable[str], authorize: Authorize) -> list[str]:
    """The requested scopes cut down to what ``authorize`` allows (the token spec's rule)."""
    granted = []
    for scope in requested:
        kind, _, rest = scope.partition(":")
        name, _, actions = rest.rpartition(":")
        allowed = set(authorize(subject, name))
        kept = [a for a in actions.split(",") if a and ("*" in allowed or a in allowed)]
        if kept:
            granted.append(f"{kind}:{name}:{','.join(kept)}")
    return granted


def token_response(grant: Grant) -> Response:
    """The Docker token spec's answer (``token`` and ``access_token``, ``expires_in``)."""
    issued_at = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    return Response.json(
        {
            "token": grant.value,
            "access_token": grant.value,
            "expires_in": grant.expires_in,
            "issued_at": issued_at,
        }
    )


def token_endpoint(
    tokens: TokenStore,
    authenticate: Callable[[Request], str | None],
    authorize: Authorize = allow_all,
) -> Handler:
    """A Docker token-spec realm (``GET realm?service=&scope=``) issuing ``tokens``.

    ``authenticate`` names the subject from the request (usually its basic credentials) or
    returns None for bad credentials (401). Scopes are granted as far as ``authorize``
    allows; a token granting less than asked is how a registry says "no permission".
    """

    def handle(request: Request) -> Response:
        subject = authenticate(request)
        if subject is None:
            return Response.registry_error(401, "UNAUTHORIZED", "authentication required")
        requested = [s for value in request.query.get("scope", []) for s in value.split()]
        return token_response(tokens.issue(subject, grant_scopes(subject, requested, authorize)))

    return handle


# -- registry gates -------------------------------------------------------------------------


def required_scope(request: Request) -> str | None:
    """The token scope a ``/v2/`` request needs; None for the ``/v2/`` ping itself."""
    if request.path.startswith("/v2/_catalog"):
        return "registry:catalog:*"
    match = _REPOSITORY_PATH.fullmatch(request.path)
    if match is None:
        return None
    return f"repository:{match['name']}:{_ACTION_FOR_METHOD.get(request.method, 'push')}"


def push_needs_namespace(request: Request, namespaces: Collection[str]) -> Response | None:
    """Refuse (403 ``DENIED``) a push into a namespace that does not exist, as registries
    whose namespaces are made through their API do (Alibaba ACR, Huawei SWR)."""
    scope = required_scope(request) or ""
    if not (scope.startswith("repository:") and scope.endswith(":push")):
        return None
    namespace = scope.split(":")[1].split("/")[0]
    if namespace in namespaces:
        return None
    return Response.registry_error(
        403, "DENIED", f"requested access to the resource is denied: no namespace {namespace}"
    )


class RegistryGate(Protocol):
    """Decides on a ``/v2/`` request: a refusal to send, or None to forward it upstream."""

    def __call__(self, request: Request) -> Response | None: ...


@dataclass
class BasicGate:
    """A registry taking basic credentials: ``authenticate(user, password)`` names the
    subject (None: 401); ``authorize`` decides per scope (refused: 403 DENIED)."""

    authenticate: Callable[[str, str], str | None]
    authorize: Authorize = allow_all
    realm: str = "registry"

    def __call__(self, request: Request) -> Response | None:
        credentials = request.basic
        subject = self.authenticate(*credentials) if credentials else None
        if subject is None:
            challenge = {"WWW-Authenticate": f'Basic realm="{self.realm}"'}
            return Response.registry_error(
                401, "UNAUTHORIZED", "authentication required", challenge
            )
        scope = required_scope(request)
        if scope and not grant_scopes(subject, [scope], self.authorize):
            return Response.registry_error(403, "DENIED", f"requested access to {scope} denied")
        return None


@dataclass
class BearerGate:
    """A registry in the Docker token flow: a live token from ``tokens`` covering the
    request's scope passes; otherwise 401 with a ``Bearer`` challenge naming ``realm``
    (``error="invalid_token"`` for a lapsed one, ``insufficient_scope`` as distribution)."""

    tokens: TokenStore
    realm: str
    service: str
    # The scope a request needs; a vendor that asks more (ACR's metadata_read) replaces it.
    scope_for: Callable[[Request], str | None] = required_scope

    def __call__(self, request: Request) -> Response | None:
        scope = self.scope_for(request)
        grant = self.tokens.lookup(request.bearer)
        if grant is not None and (scope is None or grant.allows(scope)):
            return None
        params = [f'realm="{self.realm}"', f'service="{self.service}"']
        if scope:
            params.append(f'scope="{scope}"')
        if request.bearer and grant is None:
            params.append('error="invalid_token"')
        elif grant is not None:
            params.append('error="insufficient_scope"')
        challenge = {"WWW-Authenticate": "Bearer " + ",".join(params)}
        return Response.registry_error(401, "UNAUTHORIZED", "authentication required", challenge)


def token_realm(
    server: VendorServer,
    path: str,
    tokens: TokenStore,
    service: str,
    authenticate: Callable[[Request], str | None],
    authorize: Authorize = allow_all,
    *,
    scope_for: Callable[[Request], str | None] = required_scope,
) -> BearerGate:
    """Serve a Docker token realm (:func:`token_endpoint`) at ``path`` on ``server`` and
    return the :class:`BearerGate` that sends a registry's clients there for ``service``."""
    server.route("GET", path, token_endpoint(tokens, authenticate, authorize))
    return BearerGate(tokens, f"{server.url}{path}", service, scope_for)


# -- signatures -----------------------------------------------------------------------------

# One of regrep.vendors.signing's signers: (method, url, headers, body, *, ..., now) -> headers.
Signer = Callable[..., Mapping[str, str]]


def signature_matches(
    request: Request,
    sign: Signer,
    headers: Mapping[str, str],
    now: dt.datetime,
    **credentials: str,
) -> bool:
    """Whether ``request``'s ``Authorization`` is what ``sign`` makes of its method, URL,
    ``headers`` and body at ``now`` with ``credentials``: a vendor's signature check."""
    expected = sign(
        request.method, request.signed_url, headers, request.body, now=now, **credentials
    )
    return expected["Authorization"] == request.headers.get("Authorization")


def sdk_signed(
    request: Request, signed: str, date_header: str
) -> tuple[dict[str, str], dt.datetime]:
    """What an AK/SK signature in the SigV4 style (AWS, Huawei APIG) covers besides the
    method, URL and body: the values of the ``signed`` (``;``-separated) headers but ``host``
    and ``date_header``, which the signer adds itself, and the time ``date_header`` gives."""
    skipped = ("host", date_header.lower())
    headers = {h: request.headers.get(h, "") for h in signed.split(";") if h not in skipped}
    when = dt.datetime.strptime(request.headers.get(date_header, ""), "%Y%m%dT%H%M%SZ")
    return headers, when.replace(tzinfo=dt.UTC)


# -- the server -----------------------------------------------------------------------------


class VendorServer:
    """The emulator, serving from daemon threads on a free loopback port until ``stop``.

    ``upstream`` is the base URL of the plain-HTTP registry that gets ``/v2/`` traffic no
    route claims (None: such requests get 404). ``tls_dir`` makes it serve HTTPS with a
    generated CA written there (``ca_cert``).
    """

    def __init__(
        self,
        name: str,
        *,
        upstream: str | None = None,
        gate: RegistryGate | None = None,
        tls_dir: Path | None = None,
    ) -> None:
        self.name = name
        self.upstream = urlsplit(upstream).netloc if upstream else None
        self.gate = gate
        self.requests: list[RecordedRequest] = []
        self.ca_cert: Path | None = None
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._lock = threading.Lock()
        self._server = _HttpServer(("127.0.0.1", 0), _Handler)
        self._server.vendor = self
        if tls_dir is not None:
            files = write_server_tls(tls_dir)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(files.cert, files.key)
            self._server.socket = context.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
            self.ca_cert = files.ca_cert
        self.tls = tls_dir is not None
        self.host = f"127.0.0.1:{self._server.server_address[1]}"
        self.url = f"{'https' if self.tls else 'http'}://{self.host}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"vendor-{name}", daemon=True
        )
        self._thread.start()

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """Answer ``method`` requests whose path fully matches ``pattern`` with ``handler``."""
        self._routes.append((method.upper(), re.compile(pattern), handler))

    def calls(self, method: str | None = None, path: str | None = None) -> list[RecordedRequest]:
        """Recorded requests, optionally only one method and paths fully matching ``path``."""
        with self._lock:
            recorded = list(self.requests)
        return [
            r
            for r in recorded
            if (method is None or r.method == method.upper())
            and (path is None or re.fullmatch(path, r.path))
        ]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> VendorServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _record(self, request: Request, status: int, *, keep_body: bool) -> None:
        entry = RecordedRequest(
            request.method,
            request.path,
            request.query,
            request.headers,
            request.body if keep_body else b"",
            status=status,
        )
        with self._lock:
            self.requests.append(entry)

    def _dispatch(self, request: Request) -> tuple[Response, bool]:
        """The answer to ``request`` and whether a route (not the registry) gave it."""
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if method == request.method and match:
                routed = Request(
                    request.method,
                    request.path,
                    request.query,
                    request.headers,
                    request.body,
                    match.groupdict(),
                )
                try:
                    return handler(routed), True
                except Exception as exc:  # a broken handler must say why, not hang the client
                    return Response.json({"emulator_error": repr(exc)}, 500), True
        if not request.path.startswith("/v2/") or self.upstream is None:
            return Response.json({"message": f"no route for {request.path}"}, 404), False
        refusal = self.gate(request) if self.gate is not None else None
        return (refusal if refusal is not None else self.forward(request)), False

    def upstream_repositories(self) -> list[str]:
        """Every repository the upstream registry holds (its whole catalog), sorted: what
        a vendor API that lists repositories itself answers from."""
        names: list[str] = []
        query: Mapping[str, list[str]] = {"n": ["1000"]}  # distribution's largest page
        while True:
            answer = self.forward(Request("GET", "/v2/_catalog", query, CaseInsensitiveDict(), b""))
            if answer.status != 200:
                raise RuntimeError(f"upstream catalog: {answer.status} {answer.body[:200]!r}")
            names += json.loads(answer.body).get("repositories") or []
            link = re.search(r"<([^>]+)>", answer.headers.get("Link", ""))
            if link is None:
                return sorted(names)
            query = parse_qs(urlsplit(link.group(1)).query)

    def upstream_tags(self, repository: str) -> list[str] | None:
        """The tags of ``repository`` in the upstream registry, sorted; None when it does not
        hold the repository."""
        path = f"/v2/{repository}/tags/list"
        answer = self.forward(Request("GET", path, {}, CaseInsensitiveDict(), b""))
        if answer.status != 200:
            return None
        return sorted(json.loads(answer.body).get("tags") or [])

    def delete_upstream_manifest(self, repository: str, digest: str) -> bool:
        """Delete a manifest in the upstream registry (for vendor delete APIs); False if
        it was not there."""
        path = f"/v2/{repository}/manifests/{digest}"
        return self.forward(Request("DELETE", path, {}, CaseInsensitiveDict(), b"")).status == 202

    def forward(self, request: Request) -> Response:
        """Send ``request`` to the upstream registry as it is, without the gate: for routes
        that adjust a registry request (a vendor's page limit) before passing it on."""
        if self.upstream is None:
            return Response.json({"message": "no upstream registry"}, 502)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        if self.gate is not None:
            headers.pop("Authorization", None)  # the gate consumed it; upstream has no auth
        if self.tls:
            headers["X-Forwarded-Proto"] = "https"  # so Location headers say https
        if request.body or request.method in ("PUT", "POST", "PATCH"):
            headers["Content-Length"] = str(len(request.body))
        url = request.path + (f"?{_encode_query(request.query)}" if request.query else "")
        connection = http.client.HTTPConnection(self.upstream, timeout=60)
        try:
            connection.request(request.method, url, body=request.body or None, headers=headers)
            answer = connection.getresponse()
            body = answer.read()
            kept = {k: v for k, v in answer.getheaders() if k.lower() not in _HOP_BY_HOP}
            if request.method == "HEAD":
                kept["Content-Length"] = answer.getheader("Content-Length", "0")
            return Response(answer.status, body, kept)
        finally:
            connection.close()


def capped_listing(server: VendorServer, limit: Callable[[], int]) -> Handler:
    """A route for a registry listing (``/v2/_catalog``, ``.../tags/list``) that serves at
    most ``limit()`` entries a page whatever ``n`` asks, as vendors cap page sizes: the
    request passes the server's gate, then goes upstream with ``n`` lowered, and the
    upstream's ``Link`` header leads the client on."""

    def handle(request: Request) -> Response:
        refusal = server.gate(request) if server.gate is not None else None
        if refusal is not None:
            return refusal
        asked = int(request.arg("n") or limit())
        query = {**request.query, "n": [str(min(asked, limit()))]}
        return server.forward(replace(request, query=query))

    return handle


class Emulator:
    """A vendor emulator: stopping it stops every :class:`VendorServer` it holds as an
    attribute; as a context manager it stops on leaving."""

    def stop(self) -> None:
        for server in [v for v in vars(self).values() if isinstance(v, VendorServer)]:
            server.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class HostedEmulator(Emulator):
    """An emulator serving its API and its registry from one server, ``server`` (HTTPS
    with a CA of its own when given ``tls_dir``), in front of the real registry ``upstream``."""

    def __init__(
        self, name: str, upstream: RunningRegistry, *, tls_dir: Path | None = None
    ) -> None:
        self.upstream = upstream
        self.server = VendorServer(name, upstream=upstream.url, tls_dir=tls_dir)

    @property
    def url(self) -> str:
        return self.server.url


class Accounts(TypedDict, total=False):
    """What an :class:`AccountsEmulator` is given besides its upstream."""

    users: Required[Mapping[str, str]]
    private: Collection[str]
    max_page_size: int


class AccountsEmulator(Emulator):
    """A vendor whose accounts (``users``: name -> password or access token) log in with
    basic credentials at the token realm of a registry in front of ``upstream``, issuing
    ``tokens``. By default an account pulls and pushes what it owns (:meth:`_owns`,
    ``owner_actions``) and anyone pulls a repository that is not ``private``. API listings
    paged by number take their size in ``page_size_param`` (``default_page_size`` when
    absent) and serve at most ``max_page_size`` entries a page."""

    owner_actions: tuple[str, ...] = ("pull", "push")
    page_size_param = "per_page"
    default_page_size = 10

    def __init__(self, upstream: RunningRegistry, **accounts: Unpack[Accounts]) -> None:
        self.upstream = upstream
        self.users = dict(accounts["users"])
        self.private = set(accounts.get("private", ()))
        self.max_page_size = accounts.get("max_page_size", 100)
        self.tokens = TokenStore()

    def _page_of(self, request: Request, items: list[Any]) -> Page:
        """The page of ``items`` that ``request`` asks for (:func:`numbered_page`)."""
        return numbered_page(
            request,
            items,
            size_param=self.page_size_param,
            default_size=self.default_page_size,
            max_size=self.max_page_size,
        )

    def _account(self, request: Request) -> str | None:
        """The account of basic credentials, "" when anonymous, None when wrong."""
        return basic_user(request, self.users)

    def _token_realm(self, server: VendorServer, path: str, service: str) -> BearerGate:
        """The token realm at ``path`` on ``server``, for the accounts, and its gate."""
        return token_realm(server, path, self.tokens, service, self._account, self._may)

    def _owns(self, subject: str, namespace: str) -> bool:
        """Whether account ``subject`` owns ``namespace`` (none by default)."""
        return False

    def _may(self, subject: str, resource: str) -> Collection[str]:
        if subject and self._owns(subject, resource.split("/", 1)[0]):
            return self.owner_actions
        return () if resource in self.private else ("pull",)


class LoginOptions(TypedDict, total=False):
    """What a :class:`TemporaryLoginEmulator` is given besides its upstream."""

    keys: Required[Mapping[str, str]]
    region: str
    permissions: Mapping[str, Collection[str]]
    namespaces: Collection[str]
    login_ttl: float
    tls_dir: Path | None


class TemporaryLoginEmulator(HostedEmulator, ABC):
    """A cloud registry whose signed API trades access keys for temporary registry logins
    (Alibaba ACR, Huawei SWR), named ``name``. ``keys`` maps key ids to secrets;
    ``permissions`` a key id to the API actions its policy allows (default ``actions``, all
    of them). Logins (``logins``, kind ``login``) live ``login_ttl`` seconds (default
    ``default_login_ttl``); the registry takes a live one at its token realm ``realm`` and
    refuses pushes into a namespace not in ``namespaces``. ``region`` defaults to
    ``default_region``."""

    name: str
    realm: str
    actions: frozenset[str]
    default_region: str
    default_login_ttl: float

    def __init__(self, upstream: RunningRegistry, **options: Unpack[LoginOptions]) -> None:
        super().__init__(self.name, upstream, tls_dir=options.get("tls_dir"))
        self.keys = dict(options["keys"])
        self.region = options.get("region", self.default_region)
        self.permissions = dict(options.get("permissions", {}))
        self.namespaces = set(options.get("namespaces", ()))
        self.logins = TokenStore(options.get("login_ttl", self.default_login_ttl))
        self.tokens = TokenStore(3600)
        self._bearer = token_realm(self.server, self.realm, self.tokens, self.service, self._login)
        self.server.gate = self._gate
        self._serve_api()

    @property
    @abstractmethod
    def service(self) -> str:
        """The ``service`` of the registry's token realm."""

    def api(
        self, method: str, pattern: str, action: str, handler: Callable[[Request, str], Response]
    ) -> None:
        """Serve API ``action`` with ``handler`` behind :meth:`_admit`, the signature check
        and the key's policy; ``handler`` gets the caller's key id."""

        def checked(request: Request) -> Response:
            refusal = self._admit(request)
            if refusal is not None:
                return refusal
            key_id, problem = self._verify(request)
            if problem is not None:
                return problem
            if action not in self.permissions.get(key_id, self.actions):
                return self._forbidden(action)
            return handler(request, key_id)

        self.server.route(method, pattern, checked)

    @abstractmethod
    def _serve_api(self) -> None:
        """Serve the API's actions (with :meth:`api`) and whatever else the vendor routes."""

    def _admit(self, request: Request) -> Response | None:
        """A refusal before anything is checked (flow control); None lets it through."""
        return None

    @abstractmethod
    def _verify(self, request: Request) -> tuple[str, Response | None]:
        """The key id a request is signed with, and the refusal of a bad signature."""

    @abstractmethod
    def _forbidden(self, action: str) -> Response:
        """The answer to a key whose policy does not allow ``action``."""

    @abstractmethod
    def _login_user(self, login: Grant) -> str:
        """The user name that goes with temporary login ``login``."""

    def _login(self, request: Request) -> str | None:
        if request.basic is None:
            return None
        user, password = request.basic
        login = self.logins.lookup(password, kind="login")
        return login.subject if login is not None and user == self._login_user(login) else None

    def _gate(self, request: Request) -> Response | None:
        return self._bearer(request) or push_needs_namespace(request, self.namespaces)


@dataclass(frozen=True)
class Page:
    """Page ``number`` (from 1) of ``size`` entries of a listing of ``total``: its ``items``."""

    number: int
    size: int
    total: int
    items: list[Any]

    @property
    def last(self) -> int:
        """The number of the last page (1 for an empty listing)."""
        return max(1, -(-self.total // self.size))

    def has(self, number: int) -> bool:
        """Whether page ``number`` has entries."""
        return number >= 1 and (number - 1) * self.size < self.total


def numbered_page(
    request: Request, items: list[Any], *, size_param: str, default_size: int, max_size: int
) -> Page:
    """The page of ``items`` that ``request`` asks for with ``page`` and ``size_param``
    (``default_size`` when absent), at most ``max_size`` entries whatever it asks."""
    number = int(request.arg("page", "1") or 1)
    size = min(int(request.arg(size_param, str(default_size)) or default_size), max_size)
    return Page(number, size, len(items), items[(number - 1) * size : number * size])


def page_url(request: Request, number: int, base: str = "", **query: str | int) -> str:
    """``base`` + ``request``'s path and query, asking for page ``number`` (and ``query``
    changed): a paging link, absolute or not as the vendor writes them."""
    kept = {k: v[0] for k, v in request.query.items()} | query | {"page": number}
    return f"{base}{request.path}?{urlencode(kept)}"


def _encode_query(query: Mapping[str, list[str]]) -> str:
    return urlencode([(k, v) for k, values in query.items() for v in values])


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    vendor: VendorServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HttpServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``VendorServer.requests`` instead of stderr."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        request = Request(
            self.command,
            url.path,
            parse_qs(url.query, keep_blank_values=True),
            CaseInsensitiveDict(dict(self.headers.items())),
            self._read_body(),
        )
        vendor = self.server.vendor
        response, routed = vendor._dispatch(request)
        vendor._record(request, response.status, keep_body=routed)
        self.send_response(response.status)
        for key, value in response.headers.items():
            self.send_header(key, value)
        if "Content-Length" not in response.headers:
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = do_GET

    def _read_body(self) -> bytes:
        """The request body, whether sent with a length or chunked (streamed uploads)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))
