"""Alibaba Cloud ACR (personal edition) at the HTTP level, before a real registry.

The CR API follows its 2016-06-07 ROA reference: ``GET /tokens`` (GetAuthorizationToken:
``{"data": {"authorizationToken", "tempUserName", "expireDate"}}``, ``expireDate`` in
milliseconds), ``GET /namespace`` (GetNamespaceList), ``GET /namespace/<name>``
(GetNamespace, ``NAMESPACE_NOT_EXIST``), ``PUT /namespace`` (CreateNamespace, body
``{"Namespace": {"Namespace": name}}``), ``GET /repos/<namespace>`` (GetRepoListByNamespace,
``Page``/``PageSize``, at most 100 a page, ``{"data": {"page", "pageSize", "total",
"repos"}}``); errors are ``{"code", "message", "requestId"}``. Requests must carry an ROA
signature (``Authorization: acs <AccessKeyId>:<signature>``), checked for its key id and
recomputed with the secret by ``regrep.vendors.signing.sign_aliyun_roa`` (whose layout the unit
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
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Unpack

from regrep.vendors.signing import sign_aliyun_roa
from tests.support.registries import RunningRegistry
from tests.support.vendors.base import (
    Grant,
    LoginOptions,
    Request,
    Response,
    TemporaryLoginEmulator,
    signature_matches,
)

MAX_PAGE_SIZE = 100


def _error(status: int, code: str, message: str) -> Response:
    return Response.json(
        {"code": code, "message": message, "requestId": secrets.token_hex(8)}, status
    )


def _data(data: Mapping[str, Any]) -> Response:
    return Response.json({"data": data, "requestId": secrets.token_hex(8)})


class AliAcrEmulator(TemporaryLoginEmulator):
    """A personal-edition registry in ``region``. ``keys`` maps AccessKey ids to secrets;
    ``permissions`` maps an id to the API actions its RAM policy allows (default all)."""

    actions = frozenset(
        {
            "GetAuthorizationToken",
            "GetNamespaceList",
            "GetNamespace",
            "CreateNamespace",
            "GetRepoListByNamespace",
        }
    )

    name = "ali-acr"
    realm = "/auth"
    default_region = "cn-hangzhou"
    default_login_ttl = 3600

    def __init__(
        self, upstream: RunningRegistry, *, max_qps: int = 15, **options: Unpack[LoginOptions]
    ) -> None:
        self.max_qps = max_qps
        self.throttled = 0
        self._recent: deque[float] = deque()
        self._rate_lock = threading.Lock()
        super().__init__(upstream, **options)

    @property
    def service(self) -> str:
        return f"registry.aliyuncs.com:{self.region}:26842"

    def api_calls(self, path: str) -> int:
        return len(self.server.calls(path=path))

    def _serve_api(self) -> None:
        self.server.route("GET", r"/v2/_catalog", self._no_catalog)
        self.api("GET", r"/tokens", "GetAuthorizationToken", self._get_token)
        self.api("GET", r"/namespace", "GetNamespaceList", self._list_namespaces)
        self.api("GET", r"/namespace/(?P<namespace>[^/]+)", "GetNamespace", self._get_namespace)
        self.api("PUT", r"/namespace", "CreateNamespace", self._create_namespace)
        self.api("GET", r"/repos/(?P<namespace>[^/]+)", "GetRepoListByNamespace", self._list_repos)

    # -- the API ----------------------------------------------------------------------------

    def _admit(self, request: Request) -> Response | None:
        """Flow control: more than ``max_qps`` requests in a second are throttled."""
        now = time.monotonic()
        with self._rate_lock:
            while self._recent and now - self._recent[0] >= 1.0:
                self._recent.popleft()
            self._recent.append(now)
            if len(self._recent) <= self.max_qps:
                return None
            self.throttled += 1
        return _error(400, "Throttling.User", "Request was denied due to user flow control.")

    def _forbidden(self, action: str) -> Response:
        return _error(
            403,
            "Forbidden.RAM",
            "User not authorized to operate on the specified resource, or this API "
            "doesn't support RAM.",
        )

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
        if not signature_matches(
            request,
            sign_aliyun_roa,
            signed_headers,
            when,
            access_key_id=key_id,
            access_key_secret=secret,
            api_version=request.headers.get("x-acs-version", ""),
            nonce=request.headers.get("x-acs-signature-nonce", ""),
        ):
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

    def _login_user(self, login: Grant) -> str:
        return "cr_temp_user"

    def _no_catalog(self, request: Request) -> Response:
        return Response.registry_error(404, "UNSUPPORTED", "The operation is unsupported.")
