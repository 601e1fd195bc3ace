"""Amazon ECR at the HTTP level: its API and its registry login, before a real registry.

The API follows the ECR API Reference (AWS JSON 1.1: ``POST /`` with
``X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.<Operation>``, SigV4-signed for service
``ecr``): ``GetAuthorizationToken``, ``DescribeRepositories`` (``maxResults`` 1-1000,
``nextToken``), ``CreateRepository`` and ``BatchDeleteImage``, with ECR's error shape
``{"__type", "message"}``: ``UnrecognizedClientException`` (unknown key id, 403),
``InvalidSignatureException`` (wrong secret, 403), ``AccessDeniedException`` (400),
``RepositoryAlreadyExistsException``, ``RepositoryNotFoundException``,
``InvalidParameterException``.

Signatures are checked for their shape (``AWS4-HMAC-SHA256 Credential=<key id>/<date>/
<region>/ecr/aws4_request, SignedHeaders=..., Signature=...``), the key id and the region,
then recomputed with the secret by ``regrep.vendors.signing.sign_aws_v4``, whose output the
unit tests hold to AWS's published example.

The registry takes ``AWS`` + the token's password as basic credentials (Docker's ``docker
login -u AWS``) and, like ECR, refuses pushes to a repository nobody created (404
``NAME_UNKNOWN``). Tokens live ``token_ttl`` seconds (ECR: 12 hours), enforced exactly.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from regrep.vendors.signing import sign_aws_v4
from tests.support.registries import RunningRegistry
from tests.support.vendors.base import (
    BasicGate,
    HostedEmulator,
    Request,
    Response,
    TokenStore,
    required_scope,
    sdk_signed,
    signature_matches,
)

TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921."
ALL_ACTIONS = frozenset(
    {"GetAuthorizationToken", "DescribeRepositories", "CreateRepository", "BatchDeleteImage"}
)
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<day>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), "
    r"Signature=(?P<signature>[0-9a-f]{64})"
)
_JSON = "application/x-amz-json-1.1"


def _error(status: int, kind: str, message: str) -> Response:
    return Response.json({"__type": kind, "message": message}, status, {"Content-Type": _JSON})


class EcrEmulator(HostedEmulator):
    """ECR for one account and region. ``keys`` maps access key ids to secrets;
    ``permissions`` maps a key id to the API operations it may call (default: all) and
    ``registry_access`` to its registry actions (default: pull, push, delete)."""

    def __init__(
        self,
        upstream: RunningRegistry,
        *,
        keys: Mapping[str, str],
        region: str = "us-east-1",
        account: str = "123456789012",
        permissions: Mapping[str, Collection[str]] | None = None,
        registry_access: Mapping[str, Collection[str]] | None = None,
        token_ttl: float = 12 * 3600,
        tls_dir: Path | None = None,
    ) -> None:
        super().__init__("ecr", upstream, tls_dir=tls_dir)
        self.keys = dict(keys)
        self.region = region
        self.account = account
        self.permissions = dict(permissions or {})
        self.registry_access = dict(registry_access or {})
        self.tokens = TokenStore(token_ttl)
        self.repositories: dict[str, float] = {}  # name -> createdAt
        self._basic = BasicGate(self._login, self._authorize, realm=f"{self.server.url}/")
        self.server.gate = self._gate
        self.server.route("POST", r"/", self._api)
        self._operations: dict[str, Callable[[str, dict[str, Any]], Response]] = {
            "GetAuthorizationToken": self._get_authorization_token,
            "DescribeRepositories": self._describe_repositories,
            "CreateRepository": self._create_repository,
            "BatchDeleteImage": self._batch_delete_image,
        }

    def create_repository(self, name: str) -> None:
        """What a test's setup does in the console: the repository exists from now on."""
        self.repositories.setdefault(name, time.time())

    def api_calls(self, operation: str) -> int:
        """How many times ``operation`` was called."""
        return sum(
            1
            for call in self.server.calls("POST", "/")
            if call.headers.get("X-Amz-Target") == TARGET_PREFIX + operation
        )

    # -- the registry side ------------------------------------------------------------------

    def _login(self, username: str, password: str) -> str | None:
        grant = self.tokens.lookup(password, kind="ecr")
        return grant.subject if username == "AWS" and grant is not None else None

    def _authorize(self, key_id: str, repository: str) -> Collection[str]:
        return self.registry_access.get(key_id, ("pull", "push", "delete"))

    def _gate(self, request: Request) -> Response | None:
        refusal = self._basic(request)
        if refusal is not None:
            return refusal
        scope = required_scope(request)
        if scope and scope.startswith("repository:"):
            name = scope.split(":")[1]
            if name not in self.repositories:
                return Response.registry_error(
                    404,
                    "NAME_UNKNOWN",
                    f"The repository with name '{name}' does not exist in the registry "
                    f"with id '{self.account}'",
                )
        return None

    # -- the API side -----------------------------------------------------------------------

    def _api(self, request: Request) -> Response:
        key_id, problem = self._verify(request)
        if problem is not None:
            return problem
        operation = request.headers.get("X-Amz-Target", "").removeprefix(TARGET_PREFIX)
        handler = self._operations.get(operation)
        if handler is None:
            return _error(400, "UnknownOperationException", f"unknown operation {operation}")
        if operation not in self.permissions.get(key_id, ALL_ACTIONS):
            return _error(
                400,
                "AccessDeniedException",
                f"User: arn:aws:iam::{self.account}:user/{key_id} is not authorized to "
                f"perform: ecr:{operation} on resource: *",
            )
        return handler(key_id, request.json())

    def _verify(self, request: Request) -> tuple[str, Response | None]:
        header = request.headers.get("Authorization", "")
        match = _AUTHORIZATION.fullmatch(header)
        if match is None:
            return "", _error(400, "IncompleteSignatureException", "malformed Authorization")
        key_id = match["key"]
        secret = self.keys.get(key_id)
        if secret is None:
            return key_id, _error(
                403,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        if (match["region"], match["service"]) != (self.region, "ecr"):
            return key_id, _error(
                403, "InvalidSignatureException", "Credential should be scoped to ecr in region"
            )
        headers, when = sdk_signed(request, match["signed"], "X-Amz-Date")
        if not signature_matches(
            request,
            sign_aws_v4,
            headers,
            when,
            access_key_id=key_id,
            secret_access_key=secret,
            region=self.region,
            service="ecr",
        ):
            return key_id, _error(
                403,
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you "
                "provided. Check your AWS Secret Access Key and signing method.",
            )
        return key_id, None

    def _get_authorization_token(self, key_id: str, body: dict[str, Any]) -> Response:
        grant = self.tokens.issue(key_id, kind="ecr")
        token = base64.b64encode(f"AWS:{grant.value}".encode()).decode()
        data = {
            "authorizationToken": token,
            "expiresAt": grant.expires_at,
            "proxyEndpoint": self.url,
        }
        return Response.json({"authorizationData": [data]}, headers={"Content-Type": _JSON})

    def _describe_repositories(self, key_id: str, body: dict[str, Any]) -> Response:
        limit = body.get("maxResults", 100)
        if not isinstance(limit, int) or not 1 <= limit <= 1000:
            return _error(
                400,
                "InvalidParameterException",
                "Invalid parameter at 'maxResults' failed to satisfy constraint: 'Member must "
                "have value less than or equal to 1000'",
            )
        names = sorted(self.repositories)
        wanted = body.get("repositoryNames")
        if wanted:
            missing = [n for n in wanted if n not in self.repositories]
            if missing:
                return _error(
                    400, "RepositoryNotFoundException", f"The repository with name '{missing[0]}'"
                )
            names = [n for n in names if n in wanted]
        start = int(base64.b64decode(body["nextToken"])) if body.get("nextToken") else 0
        page = names[start : start + limit]
        answer: dict[str, Any] = {"repositories": [self._repository(n) for n in page]}
        if start + limit < len(names):
            answer["nextToken"] = base64.b64encode(str(start + limit).encode()).decode()
        return Response.json(answer, headers={"Content-Type": _JSON})

    def _create_repository(self, key_id: str, body: dict[str, Any]) -> Response:
        name = str(body.get("repositoryName", ""))
        if name in self.repositories:
            return _error(
                400,
                "RepositoryAlreadyExistsException",
                f"The repository with name '{name}' already exists in the registry with id "
                f"'{self.account}'",
            )
        self.create_repository(name)
        return Response.json(
            {"repository": self._repository(name)}, headers={"Content-Type": _JSON}
        )

    def _batch_delete_image(self, key_id: str, body: dict[str, Any]) -> Response:
        name = str(body.get("repositoryName", ""))
        deleted, failures = [], []
        for image in body.get("imageIds", []):
            if self.server.delete_upstream_manifest(name, image.get("imageDigest", "")):
                deleted.append(image)
            else:
                failures.append(
                    {"imageId": image, "failureCode": "ImageNotFound", "failureReason": "not found"}
                )
        return Response.json(
            {"imageIds": deleted, "failures": failures}, headers={"Content-Type": _JSON}
        )

    def _repository(self, name: str) -> dict[str, Any]:
        host = f"{self.account}.dkr.ecr.{self.region}.amazonaws.com"
        return {
            "repositoryArn": f"arn:aws:ecr:{self.region}:{self.account}:repository/{name}",
            "registryId": self.account,
            "repositoryName": name,
            "repositoryUri": f"{host}/{name}",
            "createdAt": self.repositories[name],
            "imageTagMutability": "MUTABLE",
        }
