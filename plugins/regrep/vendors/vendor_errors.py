"""Cloud vendor API refusals read by their error code, as the registry client's typed errors.

Cloud APIs (ECR, Alibaba CR, Huawei SWR, Azure's token services) answer with a JSON body
carrying an error code and message, and often put "access denied" or "throttled" behind a
400. :class:`CodedErrors` is a :data:`regrep.vendors.vendor_api.ErrorReader` that reads the code,
maps it to the typed error (by the vendor's documented codes first, the status second) and
words the message like the registry's own (``bad credentials for endpoint X``, ``no
permission to ...``), so ``test_connection`` and the operators treat a vendor API failure
exactly like a registry failure. The vendor's message is quoted: vendors do not echo
secrets in error messages.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from regrep.registry.errors import (
    Forbidden,
    NotFound,
    Operation,
    RateLimited,
    RegistryError,
    ServerError,
    Unauthorized,
    parse_retry_after,
)

_BY_STATUS: dict[int, type[RegistryError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    429: RateLimited,
}
_MESSAGE_LIMIT = 300


@dataclass(frozen=True)
class VendorRefusal:
    """What a vendor said when refusing: its error code and message (either may be empty)."""

    code: str
    message: str


def json_error(
    code_keys: Collection[str], message_keys: Collection[str]
) -> Callable[[requests.Response], VendorRefusal]:
    """Read a JSON error body's code and message under the first of ``code_keys`` /
    ``message_keys`` present (vendors disagree on the names)."""

    def parse(response: requests.Response) -> VendorRefusal:
        try:
            body: Any = response.json()
        except ValueError:
            return VendorRefusal("", response.text[:_MESSAGE_LIMIT].strip())
        if not isinstance(body, dict):
            return VendorRefusal("", "")
        code = next((str(body[k]) for k in code_keys if body.get(k)), "")
        message = next((str(body[k]) for k in message_keys if body.get(k)), "")
        # AWS qualifies codes ("com.amazon.coral.service#UnrecognizedClientException").
        return VendorRefusal(code.rpartition("#")[2], message[:_MESSAGE_LIMIT])

    return parse


class CodedErrors:
    """Typed errors for ``vendor``'s API: ``kinds`` maps its error codes to error types.

    The operation's ``target`` is what the call does, in the words of a message ("get a
    registry token (ecr:GetAuthorizationToken)").
    """

    def __init__(
        self,
        vendor: str,
        endpoint: str,
        parse: Callable[[requests.Response], VendorRefusal],
        kinds: Mapping[str, type[RegistryError]] | None = None,
    ) -> None:
        self.vendor = vendor
        self._endpoint = endpoint
        self._parse = parse
        self._kinds = dict(kinds or {})

    def __call__(self, response: requests.Response, operation: Operation) -> RegistryError:
        failure = self._parse(response)
        status = response.status_code
        kind = self._kinds.get(failure.code) or _BY_STATUS.get(status)
        if kind is None:
            kind = ServerError if status >= 500 else RegistryError
        said = ": ".join(part for part in (failure.code, failure.message) if part)
        detail = f" ({self.vendor} API said {status}{' ' + said if said else ''})"
        endpoint, what = self._endpoint, operation.target
        messages: dict[type[RegistryError], str] = {
            Unauthorized: f"bad credentials for endpoint {endpoint}{detail}",
            Forbidden: f"no permission to {what} on endpoint {endpoint}{detail}",
            NotFound: f"cannot {what}: not found on endpoint {endpoint}{detail}",
            RateLimited: f"endpoint {endpoint} is rate limiting requests to {what}{detail}: "
            "retried by Airflow",
            ServerError: f"endpoint {endpoint} failed to {what}{detail}: retried by Airflow",
        }
        kwargs: dict[str, Any] = {
            "status": status,
            "endpoint": endpoint,
            "repository": operation.repository,
            "codes": frozenset({failure.code} - {""}),
        }
        if kind is RateLimited:
            kwargs["retry_after"] = parse_retry_after(response.headers.get("Retry-After"))
        return kind(messages.get(kind, f"endpoint {endpoint} refused to {what}{detail}"), **kwargs)
