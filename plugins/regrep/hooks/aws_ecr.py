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
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from airflow.sdk.log import mask_secret

from regrep.hooks.api import VendorAPI
from regrep.hooks.base import ConnectionConfigError, RegistryEndpoint, RegistryHook
from regrep.hooks.signing import sign_aws_v4
from regrep.hooks.vendor_errors import CodedErrors, json_error
from regrep.registry import RegistryClient
from regrep.registry.client import DEFAULT_PAGE_SIZE
from regrep.registry.credentials import Credentials
from regrep.registry.errors import (
    Forbidden,
    NotFound,
    RateLimited,
    RegistryError,
    Unauthorized,
)

MAX_RESULTS = 1000  # DescribeRepositories' maxResults range is 1-1000
_TARGET = "AmazonEC2ContainerRegistry_V20150921"
_REGISTRY_HOST = re.compile(
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


class EcrClient(RegistryClient):
    """A registry client for one ECR registry, its credentials from its access keys."""

    def __init__(
        self,
        url: str,
        *,
        access_key_id: str,
        secret_access_key: str,
        region: str,
        api_url: str,
        registry_id: str | None = None,
        verify: bool = True,
        ca_bundle: str | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(
            url,
            verify=verify,
            ca_bundle=ca_bundle,
            name=name,
            credentials=self._authorization_token,
        )
        self._access_key_id = access_key_id
        self._secret_access_key = secret_access_key
        self.region = region
        self._registry = {"registryId": registry_id} if registry_id else {}
        parse = json_error(("__type", "code"), ("message", "Message"))
        self._api = VendorAPI(
            self._transport,
            api_url,
            endpoint=self.name,
            anonymous=False,
            sign=self._sign,
            errors=CodedErrors("ECR", self.name, parse, _KINDS),
        )
        self._created: set[str] = set()
        self._created_lock = threading.Lock()

    def list_repositories(
        self, *, page_size: int = DEFAULT_PAGE_SIZE, name_pattern: str = ""
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
        with self._created_lock:
            if repository in self._created:
                return
        body = {**self._registry, "repositoryName": repository}
        try:
            self._call("CreateRepository", body, f"create repository {repository}", repository)
        except RegistryError as exc:
            if "RepositoryAlreadyExistsException" not in exc.codes:
                raise
        with self._created_lock:
            self._created.add(repository)

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

    def _authorization_token(self) -> Credentials:
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
        mask_secret(password)
        return Credentials(username, password, expires_in=max(1.0, expires_at - time.time()))

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
            access_key_id=self._access_key_id,
            secret_access_key=self._secret_access_key,
            region=self.region,
            service="ecr",
            now=datetime.now(UTC),
        )


def ecr_location(endpoint: RegistryEndpoint) -> tuple[str, str | None, str]:
    """``(region, account or None, API URL)`` of an ECR endpoint, from its URL or extras."""
    host = endpoint.url.split("://", 1)[1].split("/", 1)[0]
    match = _REGISTRY_HOST.fullmatch(host)
    region = str(endpoint.extra.get("region") or (match["region"] if match else ""))
    if not region:
        raise ConnectionConfigError(
            f"connection {endpoint.name!r}: cannot tell the AWS region from the Registry URL "
            f"{endpoint.url!r} (expected https://<account>.dkr.ecr.<region>.amazonaws.com); "
            "set the 'region' extra"
        )
    suffix = ".com.cn" if region.startswith("cn-") else ".com"
    api_url = str(endpoint.extra.get("api_url") or f"https://api.ecr.{region}.amazonaws{suffix}")
    return region, match["account"] if match else None, api_url


class AwsEcrHook(RegistryHook):
    """An Amazon ECR private registry (Harbor's "AWS ECR" provider)."""

    conn_type = "regrep_aws_ecr"
    hook_name = "Amazon ECR (regrep)"

    def make_client(self, endpoint: RegistryEndpoint) -> RegistryClient:
        if not endpoint.username or not endpoint.password:
            raise ConnectionConfigError(
                f"connection {endpoint.name!r}: Amazon ECR needs an Access Key ID and a "
                "Secret Access Key"
            )
        region, account, api_url = ecr_location(endpoint)
        return EcrClient(
            endpoint.url,
            access_key_id=endpoint.username,
            secret_access_key=endpoint.password,
            region=region,
            api_url=api_url,
            registry_id=account,
            verify=endpoint.verify,
            ca_bundle=endpoint.ca_bundle,
            name=endpoint.name,
        )
