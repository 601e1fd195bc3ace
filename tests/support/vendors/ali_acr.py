"""Alibaba Cloud ACR (personal edition) at the HTTP level, before a real registry.

The CR API follows its 2016-06-07 ROA reference: ``GET /tokens`` (GetAuthorizationToken:
``{"data": {"authorizationToken", "tempUserName", "expireDate"}}``, ``expireDate`` in
milliseconds), ``GET /namespace`` (GetNamespaceList), ``GET /namespace/<name>``
(GetNamespace, ``NAMESPACE_NOT_EXIST``), ``PUT /namespace`` (CreateNamespace, body
``{"Namespace": {"Namespace": name}}``), ``GET /repos/<namespace>`` (GetRepoListByNamespace,
``Page``/``PageSize``, at most 100 a page, ``{"data": {"page", "pageSize", "total",
"repos"}}``); errors are ``{"code", "message", "requestId"}``. Requests must carry an ROA
signature (``Authorization: acs <AccessKeyId>:<signature>``), checked for its key id and
recomputed with the secret by ``regrep.hooks.signing.sign_aliyun_roa`` (whose layout the unit
tests hold to the documented string to sign). More than ``max_qps`` requests in a second
get ``Throttling.User``, as Alibaba Cloud's flow control answers.

The registry authenticates with the temporary login at a Docker token realm (``/auth``,
Alibaba's ``dockerauth``), has no catalog (``UNSUPPORTED``), and refuses pushes into a
namespace that does not exist.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from regrep.hooks.signing import sign_aliyun_roa
from tests.support.registries import RunningRegistry
from tests.support.vendors.base import (
    BearerGate,
    Emulator,
    Request,
    Response,
    TokenStore,
    VendorServer,
    push_needs_namespace,
    token_endpoint,
)

ALL_ACTIONS = frozenset(
    {
        "GetAuthorizationToken",
        "GetNamespaceList",
        "GetNamespace",
        "CreateNamespace",
        "GetRepoListByNamespace",
    }
)
MAX_PAGE_SIZE = 100


def _error(status: int, code: str, message: str) -> Response:
    return Response.json(
        {"code": code, "message": message, "requestId": secrets.token_hex(8)}, status
    )


def _data(data: Mapping[str, Any]) -> Response:
    return Response.json({"data": data, "requestId": secrets.token_hex(8)})


class AliAcrEmulator(Emulator):
    """A personal-edition registry in ``region``. ``keys`` maps AccessKey ids to secrets;
    ``permissions`` maps an id to the API actions its RAM policy allows (default all)."""

    def __init__(
        self,
        upstream: RunningRegistry,
        *,
        keys: Mapping[str, str],
        region: str = "cn-hangzhou",
        permissions: Mapping[str, Collection[str]] | None = None,
        namespaces: Collection[str] = (),
        login_ttl: float = 3600,
        max_qps: int = 15,
        tls_dir: Path | None = None,
    ) -> None:
        self.keys = dict(keys)
        self.region = region
        self.permissions = dict(permissions or {})
        self.namespaces = set(namespaces)
        self.max_qps = max_qps
        self.upstream = upstream
        self.logins = TokenStore(login_ttl)
        self.tokens = TokenStore(3600)
        self.throttled = 0
        self._recent: deque[float] = deque()
        self._rate_lock = threading.Lock()
        self.server = VendorServer("ali-acr", upstream=upstream.url, tls_dir=tls_dir)
        self.service = f"registry.aliyuncs.com:{region}:26842"
        self.server.gate = self._gate
        self._bearer = BearerGate(self.tokens, f"{self.server.url}/auth", self.service)
        self.server.route("GET", r"/auth", token_endpoint(self.tokens, self._login))
        self.server.route("GET", r"/v2/_catalog", self._no_catalog)
        api: list[tuple[str, str, str, Callable[[Request, str], Response]]] = [
            ("GET", r"/tokens", "GetAuthorizationToken", self._get_token),
            ("GET", r"/namespace", "GetNamespaceList", self._list_namespaces),
            ("GET", r"/namespace/(?P<namespace>[^/]+)", "GetNamespace", self._get_namespace),
            ("PUT", r"/namespace", "CreateNamespace", self._create_namespace),
            ("GET", r"/repos/(?P<namespace>[^/]+)", "GetRepoListByNamespace", self._list_repos),
        ]
        for method, pattern, action, handler in api:
            self.server.route(method, pattern, self._api(action, handler))

    @property
    def url(self) -> str:
        return self.server.url

    def api_calls(self, path: str) -> int:
        return len(self.server.calls(path=path))

    # -- the API ----------------------------------------------------------------------------

    def _api(
        self, action: str, handler: Callable[[Request, str], Response]
    ) -> Callable[[Request], Response]:
        """``handler`` behind the rate limit, the signature check and the RAM policy; it
        gets the caller's AccessKey id."""

        def checked(request: Request) -> Response:
            if self._over_rate():
                self.throttled += 1
                return _error(
                    400, "Throttling.User", "Request was denied due to user flow control."
                )
            key_id, problem = self._verify(request)
            if problem is not None:
                return problem
            if action not in self.permissions.get(key_id, ALL_ACTIONS):
                return _error(
                    403,
                    "Forbidden.RAM",
                    "User not authorized to operate on the specified resource, or this API "
                    "doesn't support RAM.",
                )
            return handler(request, key_id)

        return checked

    def _over_rate(self) -> bool:
        now = time.monotonic()
        with self._rate_lock:
            while self._recent and now - self._recent[0] >= 1.0:
                self._recent.popleft()
            self._recent.append(now)
            return len(self._recent) > self.max_qps

    def _verify(self, request: Request) -> tuple[str, Response | None]:
        scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
        key_id, _, _ = credential.partition(":")
        if scheme != "acs" or not key_id:
            return "", _error(400, "IncompleteSignature", "The request signature is missing.")
        secret = self.keys.get(key_id)
        if secret is None:
            return key_id, _error(
                404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."
            )
        signed_headers = {
            name: request.headers[name]
            for name in ("Accept", "Content-Type")
            if name in request.headers
        }
        when: datetime = parsedate_to_datetime(request.headers.get("Date", ""))
        expected = sign_aliyun_roa(
            request.method,
            request.signed_url,
            signed_headers,
            request.body,
            access_key_id=key_id,
            access_key_secret=secret,
            api_version=request.headers.get("x-acs-version", ""),
            now=when,
            nonce=request.headers.get("x-acs-signature-nonce", ""),
        )
        if expected["Authorization"] != request.headers["Authorization"]:
            return key_id, _error(
                400,
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our calculation.",
            )
        return key_id, None

    def _get_token(self, request: Request, key_id: str) -> Response:
        login = self.logins.issue(key_id, kind="login")
        return _data(
            {
                "tempUserName": "cr_temp_user",
                "authorizationToken": login.value,
                "expireDate": int(login.expires_at * 1000),
            }
        )

    def _list_namespaces(self, request: Request, key_id: str) -> Response:
        entries = [
            {"namespace": n, "authorizeType": "ADMIN", "namespaceStatus": "NORMAL"}
            for n in sorted(self.namespaces)
        ]
        return _data({"namespaces": entries})

    def _get_namespace(self, request: Request, key_id: str) -> Response:
        namespace = request.params["namespace"]
        if namespace not in self.namespaces:
            return _error(404, "NAMESPACE_NOT_EXIST", f"namespace {namespace} not exist")
        return _data({"namespace": namespace, "autoCreate": True, "defaultVisibility": "PRIVATE"})

    def _create_namespace(self, request: Request, key_id: str) -> Response:
        namespace = str(request.json().get("Namespace", {}).get("Namespace", ""))
        if namespace in self.namespaces:
            return _error(400, "NAMESPACE_ALREADY_EXIST", f"namespace {namespace} already exist")
        self.namespaces.add(namespace)
        return _data({"namespaceId": len(self.namespaces)})

    def _list_repos(self, request: Request, key_id: str) -> Response:
        namespace = request.params["namespace"]
        page = int(request.arg("Page") or 1)
        size = min(int(request.arg("PageSize") or 30), MAX_PAGE_SIZE)
        listed = self.server.upstream_repositories()
        names = [n for n in listed if n.startswith(f"{namespace}/")]
        repos = [
            {"repoNamespace": namespace, "repoName": n.split("/", 1)[1], "repoStatus": "NORMAL"}
            for n in names[(page - 1) * size : page * size]
        ]
        return _data({"page": page, "pageSize": size, "total": len(names), "repos": repos})

    # -- the registry -----------------------------------------------------------------------

    def _login(self, request: Request) -> str | None:
        if request.basic is None or request.basic[0] != "cr_temp_user":
            return None
        grant = self.logins.lookup(request.basic[1], kind="login")
        return grant.subject if grant is not None else None

    def _gate(self, request: Request) -> Response | None:
        return self._bearer(request) or push_needs_namespace(request, self.namespaces)

    def _no_catalog(self, request: Request) -> Response:
        return Response.registry_error(404, "UNSUPPORTED", "The operation is unsupported.")
