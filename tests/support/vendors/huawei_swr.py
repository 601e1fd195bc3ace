"""Huawei Cloud SWR at the HTTP level, before a real registry.

The API follows the SWR API Reference: ``POST /v2/manage/utils/secret?projectname=<region>``
(CreateSecret: ``{"auths": {"<registry host>": {"auth": base64("<region>@<AK>:<password>")}}}``
with ``X-Swr-Dockerlogin`` and ``X-Swr-Expireat`` headers), ``GET /v2/manage/repos``
(ListReposDetails: ``offset``/``limit``, at most 100 a page, a JSON array of repositories and
``Content-Range: <first>-<last>/<total>``) and ``POST /v2/manage/namespaces``
(CreateNamespace ``{"namespace"}``: 201, or 409 when it exists). Requests carry an APIG
AK/SK signature (``SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=..., Signature=...`` and
``X-Sdk-Date``), recomputed with the SK by ``regrep.vendors.signing.sign_huawei`` (held by the
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
from datetime import UTC, datetime

from regrep.vendors.signing import sign_huawei
from tests.support.vendors.base import (
    Grant,
    Request,
    Response,
    TemporaryLoginEmulator,
    sdk_signed,
    signature_matches,
)

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


class SwrEmulator(TemporaryLoginEmulator):
    """SWR in one region. ``keys`` maps AKs to SKs; ``permissions`` maps an AK to the API
    actions its IAM policy allows (default all)."""

    actions = frozenset({"CreateSecret", "ListReposDetails", "CreateNamespace"})

    name = "swr"
    realm = "/swr/auth/v2/registry/auth"
    service = "dockyard"
    default_region = "cn-north-4"
    default_login_ttl = 6 * 3600

    def _serve_api(self) -> None:
        self.api("POST", r"/v2/manage/utils/secret", "CreateSecret", self._create_secret)
        self.api("GET", r"/v2/manage/repos", "ListReposDetails", self._list_repos)
        self.api("POST", r"/v2/manage/namespaces", "CreateNamespace", self._create_namespace)

    def _forbidden(self, action: str) -> Response:
        return Response.json(
            {"errorMessage": f"Insufficient permissions: swr:{action} is not allowed"}, 403
        )

    def _verify(self, request: Request) -> tuple[str, Response | None]:
        match = _AUTHORIZATION.fullmatch(request.headers.get("Authorization", ""))
        if match is None:
            return "", _apig_error("the Authorization header is malformed")
        key = match["key"]
        secret = self.keys.get(key)
        if secret is None:
            return key, _apig_error(f"ak {key} not exist")
        headers, when = sdk_signed(request, match["signed"], "X-Sdk-Date")
        if not signature_matches(
            request, sign_huawei, headers, when, access_key=key, secret_key=secret
        ):
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

    def _login_user(self, login: Grant) -> str:
        return login.subject
