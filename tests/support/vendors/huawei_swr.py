"""Huawei Cloud SWR at the HTTP level, before a real registry.

The API follows the SWR API Reference: ``POST /v2/manage/utils/secret?projectname=<region>``
(CreateSecret: ``{"auths": {"<registry host>": {"auth": base64("<region>@<AK>:<password>")}}}``
with ``X-Swr-Dockerlogin`` and ``X-Swr-Expireat`` headers), ``GET /v2/manage/repos``
(ListReposDetails: ``offset``/``limit``, at most 100 a page, a JSON array of repositories and
``Content-Range: <first>-<last>/<total>``) and ``POST /v2/manage/namespaces``
(CreateNamespace ``{"namespace"}``: 201, or 409 when it exists). Requests carry an APIG
AK/SK signature (``SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=..., Signature=...`` and
``X-Sdk-Date``), recomputed with the SK by ``regrep.hooks.signing.sign_huawei`` (held by the
unit tests to Huawei's published example); a bad one gets APIG's 401 ``APIGW.0301``
``{"error_code", "error_msg"}``.

The registry authenticates the temporary login at its Docker token realm
(``/swr/auth/v2/registry/auth``, as Harbor's adapter shows) and refuses pushes into a
namespace that does not exist.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from pathlib import Path

from regrep.hooks.signing import sign_huawei
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

ALL_ACTIONS = frozenset({"CreateSecret", "ListReposDetails", "CreateNamespace"})
MAX_LIMIT = 100
_AUTHORIZATION = re.compile(
    r"SDK-HMAC-SHA256 Access=(?P<key>[^,]+), SignedHeaders=(?P<signed>[a-z0-9;-]+), "
    r"Signature=(?P<signature>[0-9a-f]{64})"
)


def _apig_error(message: str) -> Response:
    return Response.json(
        {
            "error_code": "APIGW.0301",
            "error_msg": f"Incorrect IAM authentication information: {message}",
            "request_id": secrets.token_hex(16),
        },
        401,
    )


class SwrEmulator(Emulator):
    """SWR in one region. ``keys`` maps AKs to SKs; ``permissions`` maps an AK to the API
    actions its IAM policy allows (default all)."""

    def __init__(
        self,
        upstream: RunningRegistry,
        *,
        keys: Mapping[str, str],
        region: str = "cn-north-4",
        permissions: Mapping[str, Collection[str]] | None = None,
        namespaces: Collection[str] = (),
        login_ttl: float = 6 * 3600,
        tls_dir: Path | None = None,
    ) -> None:
        self.keys = dict(keys)
        self.region = region
        self.permissions = dict(permissions or {})
        self.namespaces = set(namespaces)
        self.upstream = upstream
        self.logins = TokenStore(login_ttl)
        self.tokens = TokenStore(3600)
        self.server = VendorServer("swr", upstream=upstream.url, tls_dir=tls_dir)
        realm = f"{self.server.url}/swr/auth/v2/registry/auth"
        self._bearer = BearerGate(self.tokens, realm, "dockyard")
        self.server.gate = self._gate
        self.server.route(
            "GET", r"/swr/auth/v2/registry/auth", token_endpoint(self.tokens, self._login)
        )
        api: list[tuple[str, str, str, Callable[[Request, str], Response]]] = [
            ("POST", r"/v2/manage/utils/secret", "CreateSecret", self._create_secret),
            ("GET", r"/v2/manage/repos", "ListReposDetails", self._list_repos),
            ("POST", r"/v2/manage/namespaces", "CreateNamespace", self._create_namespace),
        ]
        for method, pattern, action, handler in api:
            self.server.route(method, pattern, self._api(action, handler))

    @property
    def url(self) -> str:
        return self.server.url

    def _api(
        self, action: str, handler: Callable[[Request, str], Response]
    ) -> Callable[[Request], Response]:
        """``handler`` behind the signature check and the IAM policy; it gets the AK."""

        def checked(request: Request) -> Response:
            key, problem = self._verify(request)
            if problem is not None:
                return problem
            if action not in self.permissions.get(key, ALL_ACTIONS):
                return Response.json(
                    {"errorMessage": f"Insufficient permissions: swr:{action} is not allowed"}, 403
                )
            return handler(request, key)

        return checked

    def _verify(self, request: Request) -> tuple[str, Response | None]:
        match = _AUTHORIZATION.fullmatch(request.headers.get("Authorization", ""))
        if match is None:
            return "", _apig_error("the Authorization header is malformed")
        key = match["key"]
        secret = self.keys.get(key)
        if secret is None:
            return key, _apig_error(f"ak {key} not exist")
        signed = [h for h in match["signed"].split(";") if h not in ("host", "x-sdk-date")]
        when = datetime.strptime(request.headers.get("X-Sdk-Date", ""), "%Y%m%dT%H%M%SZ")
        expected = sign_huawei(
            request.method,
            request.signed_url,
            {name: request.headers.get(name, "") for name in signed},
            request.body,
            access_key=key,
            secret_key=secret,
            now=when.replace(tzinfo=UTC),
        )
        if expected["Authorization"] != request.headers["Authorization"]:
            return key, _apig_error("verify aksk signature fail")
        return key, None

    def _create_secret(self, request: Request, key: str) -> Response:
        login = self.logins.issue(f"{self.region}@{key}", kind="login")
        user = f"{self.region}@{key}"
        auth = base64.b64encode(f"{user}:{login.value}".encode()).decode()
        expires = datetime.fromtimestamp(login.expires_at, UTC).isoformat().replace("+00:00", "Z")
        return Response.json(
            {"auths": {self.server.host: {"auth": auth}}},
            headers={
                "X-Swr-Dockerlogin": f"docker login -u {user} -p {login.value} {self.server.host}",
                "X-Swr-Expireat": expires,
            },
        )

    def _list_repos(self, request: Request, key: str) -> Response:
        offset = int(request.arg("offset") or 0)
        limit = min(int(request.arg("limit") or MAX_LIMIT), MAX_LIMIT)
        listed = self.server.upstream_repositories()
        names = [n for n in listed if "/" in n and n.split("/", 1)[0] in self.namespaces]
        page = names[offset : offset + limit]
        repos = [
            {"namespace": n.split("/", 1)[0], "name": n.split("/", 1)[1], "category": "other"}
            for n in page
        ]
        last = offset + len(page) - 1
        return Response.json(repos, headers={"Content-Range": f"{offset}-{last}/{len(names)}"})

    def _create_namespace(self, request: Request, key: str) -> Response:
        namespace = str(request.json().get("namespace", ""))
        if namespace in self.namespaces:
            return Response.json({"errorMessage": f"Namespace {namespace} already exists"}, 409)
        self.namespaces.add(namespace)
        return Response(201)

    def _login(self, request: Request) -> str | None:
        if request.basic is None:
            return None
        grant = self.logins.lookup(request.basic[1], kind="login")
        return grant.subject if grant is not None and grant.subject == request.basic[0] else None

    def _gate(self, request: Request) -> Response | None:
        return self._bearer(request) or push_needs_namespace(request, self.namespaces)
