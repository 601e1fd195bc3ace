"""HMAC request signing of the cloud vendor APIs regrep calls with an access key pair.

Three schemes, each a pure function from a request to the headers to add:

- :func:`sign_aws_v4`: AWS Signature Version 4 (ECR). "Create a signed AWS API request",
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
- :func:`sign_huawei`: Huawei Cloud's APIG ``SDK-HMAC-SHA256`` (SWR), SigV4's canonical
  request with a trailing ``/`` on the path, no credential scope and the secret as the key.
  "AK/SK Signing and Authentication Algorithm", https://support.huaweicloud.com/devg-apisign/
- :func:`sign_aliyun_roa`: Alibaba Cloud's ROA signature version 1.0 (ACR's CR API),
  HMAC-SHA1 over the method, content headers, ``x-acs-*`` headers and the resource.
  https://www.alibabacloud.com/help/doc-detail/167752.htm

No SDK (botocore, huaweicloudsdkcore, aliyun-python-sdk) is needed for the few calls regrep
makes. The secret never leaves this module except as a signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Mapping
from datetime import datetime
from email.utils import format_datetime
from urllib.parse import parse_qsl, quote, unquote, urlsplit


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac256(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _encode(value: str) -> str:
    """RFC 3986 percent-encoding of everything but the unreserved characters."""
    return quote(value, safe="-_.~")


def _canonical_request(
    method: str, url: str, headers: Mapping[str, str], body: bytes, *, trailing_slash: bool
) -> tuple[str, str]:
    """The SigV4-style canonical request and its signed-header list.

    Every header given is signed (``host`` is added from the URL); the query is sorted by
    encoded name then value; each path segment is encoded once (the paths regrep signs
    need no more: ECR's is ``/``).
    """
    parts = urlsplit(url)
    path = "/".join(_encode(unquote(part)) for part in (parts.path or "/").split("/"))
    if trailing_slash and not path.endswith("/"):
        path += "/"
    query = sorted(
        (_encode(k), _encode(v)) for k, v in parse_qsl(parts.query, keep_blank_values=True)
    )
    lowered = {k.lower(): " ".join(v.strip().split()) for k, v in headers.items()}
    lowered["host"] = parts.netloc
    signed = sorted(lowered)
    canonical = "\n".join(
        [
            method.upper(),
            path,
            "&".join(f"{k}={v}" for k, v in query),
            "".join(f"{name}:{lowered[name]}\n" for name in signed),
            ";".join(signed),
            _sha256(body),
        ]
    )
    return canonical, ";".join(signed)


def sign_aws_v4(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    access_key_id: str,
    secret_access_key: str,
    region: str,
    service: str,
    now: datetime,
) -> dict[str, str]:
    """The ``X-Amz-Date`` and ``Authorization`` headers of a SigV4-signed request."""
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    canonical, signed = _canonical_request(
        method, url, {**headers, "X-Amz-Date": amz_date}, body, trailing_slash=False
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    string_to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{_sha256(canonical.encode())}"
    key = f"AWS4{secret_access_key}".encode()
    for part in (day, region, service, "aws4_request"):
        key = _hmac256(key, part)
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return {
        "X-Amz-Date": amz_date,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={access_key_id}/{scope}, "
        f"SignedHeaders={signed}, Signature={signature}",
    }


def sign_huawei(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    access_key: str,
    secret_key: str,
    now: datetime,
) -> dict[str, str]:
    """The ``X-Sdk-Date`` and ``Authorization`` headers of an APIG AK/SK-signed request."""
    sdk_date = now.strftime("%Y%m%dT%H%M%SZ")
    canonical, signed = _canonical_request(
        method, url, {**headers, "X-Sdk-Date": sdk_date}, body, trailing_slash=True
    )
    string_to_sign = f"SDK-HMAC-SHA256\n{sdk_date}\n{_sha256(canonical.encode())}"
    signature = hmac.new(secret_key.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()
    return {
        "X-Sdk-Date": sdk_date,
        "Authorization": f"SDK-HMAC-SHA256 Access={access_key}, SignedHeaders={signed}, "
        f"Signature={signature}",
    }


def sign_aliyun_roa(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    access_key_id: str,
    access_key_secret: str,
    api_version: str,
    now: datetime,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers of an ROA-signed request: ``Date``, ``x-acs-*``, ``Authorization``.

    ``headers`` should carry ``Accept`` and, with a body, ``Content-Type``; their values
    are part of the string to sign.
    """
    added = {
        "Date": format_datetime(now, usegmt=True),
        "x-acs-signature-method": "HMAC-SHA1",
        "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
        "x-acs-signature-version": "1.0",
        "x-acs-version": api_version,
    }
    if body:
        added["Content-MD5"] = base64.b64encode(hashlib.md5(body).digest()).decode()
    every = {k.lower(): v for k, v in {**headers, **added}.items()}
    acs = "".join(
        f"{name}:{every[name].strip()}\n"
        for name in sorted(n for n in every if n.startswith("x-acs-"))
    )
    parts = urlsplit(url)
    query = sorted(parse_qsl(parts.query, keep_blank_values=True))
    resource = parts.path + (
        "?" + "&".join(f"{k}={v}" if v else k for k, v in query) if query else ""
    )
    string_to_sign = "\n".join(
        [
            method.upper(),
            every.get("accept", ""),
            every.get("content-md5", ""),
            every.get("content-type", ""),
            every["date"],
        ]
    )
    string_to_sign += "\n" + acs + resource
    digest = hmac.new(access_key_secret.encode(), string_to_sign.encode(), hashlib.sha1).digest()
    added["Authorization"] = f"acs {access_key_id}:{base64.b64encode(digest).decode()}"
    return added
