"""Amazon ECR endpoints: access keys, not a password; repositories created through the API.

What differs from a plain registry (and what Harbor's ``awsecr`` adapter does too):

- Credentials are an IAM access key pair. The registry wants ``AWS`` and a password that
  ``GetAuthorizationToken`` returns, valid 12 hours ("Private registry authentication",
  ECR User Guide); the client asks for one when it first needs it, again shortly before
  it expires, and when the registry refuses it.
- API calls are AWS JSON 1.1 requests (``X-Amz-Target``) signed with SigV4 for service
  ``ecr`` at ``https://api.ecr.<region>.amazonaws.com`` (``.com.cn`` in China).
- The region and account come from the registry URL
  ``https://<account>.dkr.ecr[-fips].<region>.amazonaws.com``; the ``region`` and
  ``api_url`` extras cover other URLs (VPC endpoints, emulators).
- A repository must exist before a push: ``CreateRepository`` makes it
  (``RepositoryAlreadyExistsException`` means it is there).
- Listing uses ``DescribeRepositories`` (at most 1000 per page, ``nextToken``); manifests
  are deleted with ``BatchDeleteImage``, which ECR's registry API does not offer.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from airflow.sdk.log import mask_secret

from regrep.registry.client import DEFAULT_PAGE_SIZE, RegistryClient
from regrep.registry.credentials import Credentials
from regrep.registry.errors import (
    Forbidden,
    NotFound,
    RateLimited,
    RegistryError,
    Unauthorized,
)
from regrep.registry.provider import Provider
from regrep.registry.transport import Transport
from regrep.vendors.cloud_api import EnsuredOnce, KeyPairApi, temporary_login
from regrep.vendors.signing import sign_aws_v4

MAX_RESULTS = 1000  # DescribeRepositories' maxResults range is 1-1000
_TARGET = "AmazonEC2ContainerRegistry_V20150921"
REGISTRY_HOST = re.compile(
    r"(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?"
)
# ECR API error codes ("Errors", ECR API Reference; "Common Errors", AWS).
_KINDS: dict[str, type[RegistryError]] = {
    "UnrecognizedClientException": Unauthorized,  # unknown access key id
    "InvalidSignatureException": Unauthorized,  # wrong secret access key
    "IncompleteSignatureException": Unauthorized,
    "MissingAuthenticationTokenException": Unauthorized,
    "InvalidClientTokenId": Unauthorized,
    "ExpiredTokenException": Unauthorized,
    "AccessDeniedException": Forbidden,
    "ThrottlingException": RateLimited,
    "RepositoryNotFoundException": NotFound,
}


class EcrApi(KeyPairApi):
    """The ECR API of one registry, signed with its access keys."""

    vendor = "ECR"
    provider_name = "Amazon ECR"
    error_keys = (("__type", "code"), ("message", "Message"))
    error_kinds = _KINDS

    def __init__(
        self, transport: Transport, *, registry_id: str | None = None, **options: Any
    ) -> None:
        super().__init__(transport, **options)
        self._registry = {"registryId": registry_id} if registry_id else {}
        self._created = EnsuredOnce()

    def provider(self) -> Provider:
        """ECR's differences: listing, repository creation and deletion through its API."""
        return replace(super().provider(), delete_manifest=self.delete_manifest)

    def list_repositories(
        self, registry: RegistryClient, name_pattern: str, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[str]:
        """Every repository, ``DescribeRepositories`` page by page (at most 1000 each)."""
        page: dict[str, Any] = {"maxResults": max(1, min(page_size, MAX_RESULTS))}
        while True:
            answer = self._call(
                "DescribeRepositories", {**self._registry, **page}, "list repositories"
            )
            for repository in answer.get("repositories") or []:
                yield str(repository["repositoryName"])
            if not answer.get("nextToken"):
                return
            page["nextToken"] = answer["nextToken"]

    def ensure_namespace(self, repository: str) -> None:
        """Create the ECR repository unless this client already made sure it exists."""

        def make_sure() -> None:
            body = {**self._registry, "repositoryName": repository}
            try:
                self._call("CreateRepository", body, f"create repository {repository}", repository)
            except RegistryError as exc:
                if "RepositoryAlreadyExistsException" not in exc.codes:
                    raise

        self._created.ensure(repository, make_sure)

    def delete_manifest(self, repository: str, digest: str) -> None:
        """``BatchDeleteImage`` by digest: every tag of the image goes with it."""
        body = {
            **self._registry,
            "repositoryName": repository,
            "imageIds": [{"imageDigest": digest}],
        }
        what = f"delete {repository}@{digest}"
        answer = self._call("BatchDeleteImage", body, what, repository)
        for failure in answer.get("failures") or []:
            code, reason = failure.get("failureCode", ""), failure.get("failureReason", "")
            kind = NotFound if code == "ImageNotFound" else RegistryError
            raise kind(
                f"cannot {what} on endpoint {self.name} (ECR said {code}: {reason})",
                endpoint=self.name,
                repository=repository,
                codes=frozenset({code}),
            )

    def temporary_login(self) -> Credentials:
        """``GetAuthorizationToken``: base64 ``AWS:<password>`` and its ``expiresAt``."""
        answer = self._call("GetAuthorizationToken", dict(self._registry), "get a registry token")
        try:
            data = answer["authorizationData"][0]
            token = str(data["authorizationToken"])
            mask_secret(token)
            username, _, password = base64.b64decode(token).decode().partition(":")
            expires_at = float(data["expiresAt"])
        except (KeyError, IndexError, TypeError, ValueError, binascii.Error):
            raise RegistryError(
                f"endpoint {self.name}: ECR answered GetAuthorizationToken without a usable "
                "authorization token",
                endpoint=self.name,
            ) from None
        return temporary_login(username, password, expires_at - time.time())

    def _call(
        self, operation: str, body: Mapping[str, Any], what: str, repository: str | None = None
    ) -> Any:
        headers = {
            "X-Amz-Target": f"{_TARGET}.{operation}",
            "Content-Type": "application/x-amz-json-1.1",
        }
        with self._api.request(
            "POST",
            "/",
            target=f"{what} (ecr:{operation})",
            repository=repository,
            document=body,
            headers=headers,
        ) as response:
            return response.json()

    def _sign(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> Mapping[str, str]:
        return sign_aws_v4(
            method,
            url,
            headers,
            body,
            access_key_id=self._access_key,
            secret_access_key=self._secret_key,
            region=self.region,
            service="ecr",
            now=datetime.now(UTC),
        )
