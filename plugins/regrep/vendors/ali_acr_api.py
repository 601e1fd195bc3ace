"""Alibaba Cloud Container Registry (personal edition) endpoints: an AccessKey pair.

What differs from a plain registry, as in Harbor's ``aliacr`` adapter:

- Credentials are a RAM AccessKey pair. The registry takes a temporary user name and
  password that the CR API's ``GetAuthorizationToken`` (``GET /tokens``, API version
  2016-06-07) hands out with their ``expireDate``; the client asks again shortly before
  they lapse, and when the registry refuses them.
- API calls are ROA requests signed with the AccessKey (signature version 1.0) at
  ``https://cr.<region>.aliyuncs.com``; the region comes from the registry URL
  ``https://registry[-vpc|-internal].<region>.aliyuncs.com`` or the ``region`` extra.
- The registry has no usable catalog, so when ``/v2/_catalog`` is refused the client lists
  through the API: ``GET /namespace``, then ``GET /repos/<namespace>`` page by page
  (``Page``/``PageSize``, at most 100 a page, until ``total``).
- API calls are spaced to stay under the API's request rate (Harbor keeps ACR at 15 per
  second; regrep at 10) and a ``Throttling`` answer is a rate limit, retried by Airflow.
- A namespace must exist before a push: ``GET /namespace/<name>``, and ``PUT /namespace``
  when it does not. Repositories are then created on push (the namespace's default).
- Enterprise Edition instances (``*.cr.aliyuncs.com``) use another API (``cr_ee``) and are
  refused with a pointer to the plain registry type.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from regrep.registry.cancellation import Cancellation
from regrep.registry.client import DEFAULT_PAGE_SIZE, RegistryClient
from regrep.registry.credentials import Credentials
from regrep.registry.errors import (
    Forbidden,
    NotFound,
    RateLimited,
    RegistryError,
    Unauthorized,
)
from regrep.registry.transport import Transport
from regrep.vendors.cloud_api import EnsuredOnce, KeyPairApi, temporary_login
from regrep.vendors.signing import sign_aliyun_roa

API_VERSION = "2016-06-07"
PAGE_SIZE = 100  # GetRepoListByNamespace's largest PageSize
MAX_RATE = 10.0  # API requests per second
REGISTRY_HOST = re.compile(r"registry(?:-vpc|-internal)?\.(?P<region>[a-z0-9-]+)\.aliyuncs\.com")
ENTERPRISE_HOST = re.compile(r".+\.cr\.aliyuncs\.com")
# Alibaba Cloud's common error codes and CR's own.
_KINDS: dict[str, type[RegistryError]] = {
    "InvalidAccessKeyId.NotFound": Unauthorized,
    "InvalidAccessKeyId.Inactive": Unauthorized,
    "SignatureDoesNotMatch": Unauthorized,
    "IncompleteSignature": Unauthorized,
    "Forbidden.RAM": Forbidden,
    "NoPermission": Forbidden,
    "Throttling": RateLimited,
    "Throttling.User": RateLimited,
    "Throttling.Api": RateLimited,
    "NAMESPACE_NOT_EXIST": NotFound,
}


class _Spacing:
    """At most ``rate`` calls a second across threads: each call waits for its slot."""

    def __init__(self, rate: float, stop: Cancellation) -> None:
        self._interval = 1.0 / rate
        self._next = 0.0
        self._lock = threading.Lock()
        self._stop = stop

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self._interval
        if slot > now:
            self._stop.wait(slot - now)


class AliAcrApi(KeyPairApi):
    """The CR API of an Alibaba ACR personal-edition registry, signed with its AccessKey."""

    vendor = "Alibaba CR"
    provider_name = "Alibaba ACR"
    error_keys = (("code",), ("message",))
    error_kinds = _KINDS

    def __init__(self, transport: Transport, **options: Any) -> None:
        super().__init__(transport, **options)
        self._spacing = _Spacing(MAX_RATE, transport.stop)
        self._catalog_available = True
        self._namespaces = EnsuredOnce()

    def list_repositories(
        self, registry: RegistryClient, name_pattern: str, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[str]:
        """The catalog if the registry serves one, else every namespace's repositories."""
        if self._catalog_available:
            try:
                listed = list(registry.catalog(page_size=page_size))
            except RegistryError as exc:
                unavailable = isinstance(exc, NotFound | Forbidden) or exc.status == 405
                if not (unavailable or "UNSUPPORTED" in exc.codes):
                    raise
                self._catalog_available = False  # ask once per client, not per listing
            else:
                yield from listed
                return
        namespaces = self._call("GET", "/namespace", "list namespaces")["namespaces"]
        for entry in namespaces:
            yield from self._repositories(str(entry["namespace"]), min(page_size, PAGE_SIZE))

    def ensure_namespace(self, repository: str) -> None:
        """Create the repository's namespace unless it exists."""
        namespace = repository.split("/", 1)[0]

        def make_sure() -> None:
            try:
                self._call(
                    "GET", f"/namespace/{quote(namespace, safe='')}", f"read namespace {namespace}"
                )
            except NotFound:
                self._call(
                    "PUT",
                    "/namespace",
                    f"create namespace {namespace}",
                    document={"Namespace": {"Namespace": namespace}},
                    repository=repository,
                )

        self._namespaces.ensure(namespace, make_sure)

    def _repositories(self, namespace: str, page_size: int) -> Iterator[str]:
        page = 1
        while True:
            data = self._call(
                "GET",
                f"/repos/{quote(namespace, safe='')}",
                f"list the repositories of namespace {namespace}",
                params={"Page": page, "PageSize": page_size},
            )
            for repo in data.get("repos") or []:
                yield f"{repo['repoNamespace']}/{repo['repoName']}"
            if int(data.get("page", page)) * int(data.get("pageSize", page_size)) >= int(
                data.get("total", 0)
            ):
                return
            page += 1

    def temporary_login(self) -> Credentials:
        """``GetAuthorizationToken``: a temporary user, its password and ``expireDate``."""
        data = self._call("GET", "/tokens", "get a temporary registry login")
        try:
            username, password = str(data["tempUserName"]), str(data["authorizationToken"])
            expires_at = int(data["expireDate"]) / 1000  # milliseconds since the epoch
        except (KeyError, TypeError, ValueError):
            raise RegistryError(
                f"endpoint {self.name}: the CR API answered GetAuthorizationToken without a "
                "usable login",
                endpoint=self.name,
            ) from None
        return temporary_login(username, password, expires_at - time.time())

    def _call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        params: Mapping[str, str | int] | None = None,
        document: Any = None,
        repository: str | None = None,
    ) -> Any:
        """One API call, spaced under the rate limit; its ``data`` object."""
        self._spacing.wait()
        with self._api.request(
            method, path, target=what, params=params, document=document, repository=repository
        ) as response:
            body: Any = response.json()
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise RegistryError(
                f"endpoint {self.name}: the CR API answered {method} {path} without data",
                endpoint=self.name,
                repository=repository,
            )
        return data

    def _sign(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> Mapping[str, str]:
        return sign_aliyun_roa(
            method,
            url,
            headers,
            body,
            access_key_id=self._access_key,
            access_key_secret=self._secret_key,
            api_version=API_VERSION,
            now=datetime.now(UTC),
        )
