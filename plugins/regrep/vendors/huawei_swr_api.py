"""Huawei Cloud SWR (SoftWare Repository for Container) endpoints: an AK/SK pair.

What differs from a plain registry (Harbor's ``huawei`` adapter does the same through SWR's
older ``/dockyard`` API; regrep uses the documented API, "SWR API Reference"):

- Credentials are an IAM access key pair (AK/SK). The registry takes the temporary login
  that ``CreateSecret`` (``POST /v2/manage/utils/secret?projectname=<region>``) returns:
  ``{"auths": {"<registry host>": {"auth": base64("<user>:<password>")}}}``, valid until
  the ``X-Swr-Expireat`` response header; the client asks again shortly before that, and
  when the registry refuses it.
- API calls are signed with the AK/SK (APIG ``SDK-HMAC-SHA256``) at
  ``https://swr-api.<region>.myhuaweicloud.com``; the region comes from the registry URL
  ``https://swr.<region>.myhuaweicloud.com`` or the ``region`` extra.
- Listing uses ``ListReposDetails`` (``GET /v2/manage/repos``, ``offset``/``limit``, at
  most 100 a page, the total in ``Content-Range``); SWR has no usable catalog.
- A namespace (organization) must exist before a push: ``CreateNamespace``
  (``POST /v2/manage/namespaces``; 409 means it exists). Repositories are created on push.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import requests
from airflow.sdk.log import mask_secret

from regrep.registry.client import DEFAULT_PAGE_SIZE, RegistryClient
from regrep.registry.credentials import Credentials
from regrep.registry.errors import RegistryError
from regrep.registry.transport import Transport
from regrep.vendors.cloud_api import EnsuredOnce, KeyPairApi, temporary_login
from regrep.vendors.signing import sign_huawei

PAGE_SIZE = 100  # ListReposDetails' page size
_FALLBACK_LOGIN_LIFETIME = 3600.0  # if X-Swr-Expireat is missing (SWR's last longer)
REGISTRY_HOST = re.compile(r"swr\.(?P<region>[a-z0-9-]+)\.myhuaweicloud\.(?:com|cn)")
_CONTENT_RANGE = re.compile(r"(\d+)-(\d+)/(\d+)")


class SwrApi(KeyPairApi):
    """The SWR API of one region, signed with the AK/SK."""

    vendor = "Huawei SWR"
    provider_name = "Huawei SWR"
    error_keys = (("error_code", "errorCode"), ("error_msg", "errorMessage"))

    def __init__(self, transport: Transport, **options: Any) -> None:
        super().__init__(transport, **options)
        self._namespaces = EnsuredOnce()

    def list_repositories(
        self, registry: RegistryClient, name_pattern: str, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[str]:
        """Every repository of the account in this region, ``ListReposDetails`` page by page."""
        limit, offset = max(1, min(page_size, PAGE_SIZE)), 0
        while True:
            with self._api.request(
                "GET",
                "/v2/manage/repos",
                target="list repositories",
                params={"offset": offset, "limit": limit},
            ) as response:
                repos: Any = response.json()
                content_range = response.headers.get("Content-Range", "")
            if not isinstance(repos, list):
                raise RegistryError(
                    f"endpoint {self.name}: ListReposDetails answered something else than a "
                    "list of repositories",
                    endpoint=self.name,
                )
            for repo in repos:
                yield f"{repo['namespace']}/{repo['name']}"
            offset += len(repos)
            total = _CONTENT_RANGE.fullmatch(content_range.strip())
            if len(repos) < limit or (total and offset >= int(total.group(3))):
                return

    def ensure_namespace(self, repository: str) -> None:
        """Create the repository's namespace (organization) unless it exists."""
        namespace = repository.split("/", 1)[0]
        self._namespaces.ensure(
            namespace,
            lambda: self._api.request(
                "POST",
                "/v2/manage/namespaces",
                target=f"create namespace {namespace}",
                action="push",
                repository=repository,
                document={"namespace": namespace},
                ok=(200, 201, 409),  # 409: it exists already
            ).close(),
        )

    def temporary_login(self) -> Credentials:
        """``CreateSecret``: the registry login and, in ``X-Swr-Expireat``, its end."""
        with self._api.request(
            "POST",
            "/v2/manage/utils/secret",
            target="create a temporary registry login",
            params={"projectname": self.region},
            document={},
        ) as response:
            username, password = self._login_from(response)
            expires = response.headers.get("X-Swr-Expireat", "")
        try:
            lifetime = datetime.fromisoformat(expires).timestamp() - time.time()
        except ValueError:
            lifetime = _FALLBACK_LOGIN_LIFETIME
        return temporary_login(username, password, lifetime)

    def _login_from(self, response: requests.Response) -> tuple[str, str]:
        """The login of the ``auths`` entry for this registry (or the only one)."""
        try:
            auths: dict[str, Any] = response.json()["auths"]
            entry = auths.get(self.host) or next(iter(auths.values()))
            auth = str(entry["auth"])
            mask_secret(auth)
            username, colon, password = base64.b64decode(auth).decode().partition(":")
        except (ValueError, KeyError, TypeError, StopIteration, binascii.Error):
            colon = ""
        if not colon:
            raise RegistryError(
                f"endpoint {self.name}: CreateSecret answered without a usable login",
                endpoint=self.name,
            )
        return username, password

    def _sign(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> Mapping[str, str]:
        return sign_huawei(
            method,
            url,
            headers,
            body,
            access_key=self._access_key,
            secret_key=self._secret_key,
            now=datetime.now(UTC),
        )
