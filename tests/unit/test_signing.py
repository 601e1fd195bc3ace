"""Vendor request signing against the vendors' own published examples."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

from regrep.vendors.signing import sign_aliyun_roa, sign_aws_v4, sign_huawei


def test_sigv4_reproduces_the_aws_documentation_example() -> None:
    # "Signature Version 4 signing process" example: IAM ListUsers, 2015-08-30 12:36:00Z.
    headers = sign_aws_v4(
        "GET",
        "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        b"",
        access_key_id="AKIDEXAMPLE",
        secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        region="us-east-1",
        service="iam",
        now=datetime(2015, 8, 30, 12, 36, tzinfo=UTC),
    )

    assert headers == {
        "X-Amz-Date": "20150830T123600Z",
        "Authorization": "AWS4-HMAC-SHA256 "
        "Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date, "
        "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
    }


def test_huawei_apig_signing_reproduces_the_signing_guide_example() -> None:
    # "AK/SK Signing and Authentication Algorithm": listing VPCs, 2019-11-15 03:36:55Z.
    headers = sign_huawei(
        "GET",
        "https://service.region.example.com/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs"
        "?limit=2&marker=13551d6b-755d-4757-b956-536f674975c0",
        {"Content-Type": "application/json"},
        b"",
        access_key="QTWAOYTTINDUT2QVKYUC",
        secret_key="MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc",
        now=datetime(2019, 11, 15, 3, 36, 55, tzinfo=UTC),
    )

    assert headers["Authorization"] == (
        "SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, "
        "SignedHeaders=content-type;host;x-sdk-date, "
        "Signature=7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"
    )


def test_aliyun_roa_signs_the_documented_string() -> None:
    # ROA v1: VERB, Accept, Content-MD5, Content-Type, Date, sorted x-acs-* headers, then the
    # resource with its query sorted; HMAC-SHA1 with the AccessKey secret, base64.
    headers = sign_aliyun_roa(
        "PUT",
        "https://cr.cn-hangzhou.aliyuncs.com/namespace?b=2&a=1",
        {"Accept": "application/json", "Content-Type": "application/json"},
        b'{"Namespace": {"Namespace": "team"}}',
        access_key_id="testid",
        access_key_secret="testsecret",
        api_version="2016-06-07",
        now=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        nonce="n1",
    )
    string_to_sign = (
        "PUT\napplication/json\n"
        f"{headers['Content-MD5']}\napplication/json\nTue, 02 Jan 2024 03:04:05 GMT\n"
        "x-acs-signature-method:HMAC-SHA1\nx-acs-signature-nonce:n1\n"
        "x-acs-signature-version:1.0\nx-acs-version:2016-06-07\n/namespace?a=1&b=2"
    )
    expected = base64.b64encode(
        hmac.new(b"testsecret", string_to_sign.encode(), hashlib.sha1).digest()
    ).decode()

    assert headers["Authorization"] == f"acs testid:{expected}"
    assert (
        headers["Content-MD5"]
        == base64.b64encode(hashlib.md5(b'{"Namespace": {"Namespace": "team"}}').digest()).decode()
    )
