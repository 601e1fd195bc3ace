"""Pure auth parsing: challenges, scopes and token responses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from regrep.registry.auth import (
    Challenge,
    merge_scopes,
    parse_challenges,
    parse_token_response,
    repository_scope,
)

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def test_bearer_challenge_with_comma_in_quoted_scope() -> None:
    header = (
        'Bearer realm="https://auth.example/token",service="registry.example",'
        'scope="repository:team/app:pull,push",error="insufficient_scope"'
    )
    [challenge] = parse_challenges(header)
    assert challenge.scheme == "bearer"
    assert challenge.realm == "https://auth.example/token"
    assert challenge.service == "registry.example"
    assert challenge.scopes == ("repository:team/app:pull,push",)
    assert challenge.error == "insufficient_scope"


def test_several_challenges_spaces_and_escapes() -> None:
    header = (
        'Basic realm="Registry \\"main\\"", Bearer realm = "https://a/t" , '
        'service=svc, scope="repository:a:pull repository:b:pull"'
    )
    basic, bearer = parse_challenges(header)
    assert basic == Challenge("basic", {"realm": 'Registry "main"'})
    assert bearer.realm == "https://a/t"
    assert bearer.service == "svc"
    assert bearer.scopes == ("repository:a:pull", "repository:b:pull")


@pytest.mark.parametrize("header", ["", "   ", ",,", '"'])
def test_empty_or_garbage_header(header: str) -> None:
    assert all(c.realm is None for c in parse_challenges(header))


def test_scheme_case_insensitive_and_unknown_schemes_kept() -> None:
    schemes = [c.scheme for c in parse_challenges('NEGOTIATE, BASIC realm="x"')]
    assert schemes == ["negotiate", "basic"]


def test_merge_scopes_merges_actions_per_resource() -> None:
    merged = merge_scopes(
        [repository_scope("dst", "pull")],
        ["repository:dst:push", repository_scope("src", "pull")],
        ["registry:catalog:*"],
    )
    assert merged == ("registry:catalog:*", "repository:dst:pull,push", "repository:src:pull")
    # Canonical: the same need in another order is the same cache key.
    assert merge_scopes(["repository:a:push,pull"]) == merge_scopes(
        ["repository:a:pull", "repository:a:push"]
    )
    assert merge_scopes([]) == ()


def test_token_field_names_and_default_lifetime() -> None:
    token = parse_token_response({"access_token": "abc"}, now=100.0, wall_now=NOW)
    assert token.value == "abc"
    assert token.expires_at == 160.0  # 60 s default (token spec)
    preferred = parse_token_response(
        {"token": "t", "access_token": "a", "expires_in": 300}, now=0.0, wall_now=NOW
    )
    assert (preferred.value, preferred.expires_at) == ("t", 300.0)


def test_issued_at_counts_against_lifetime() -> None:
    issued = (NOW - timedelta(seconds=20)).isoformat().replace("+00:00", "Z")
    token = parse_token_response(
        {"token": "t", "expires_in": 60, "issued_at": issued}, now=0.0, wall_now=NOW
    )
    assert token.expires_at == 40.0


@pytest.mark.parametrize("offset", [timedelta(seconds=30), timedelta(hours=-2)])
def test_implausible_issued_at_is_ignored(offset: timedelta) -> None:
    # A server clock ahead of ours, or far behind, must not make tokens look expired.
    issued = (NOW + offset).isoformat()
    token = parse_token_response(
        {"token": "t", "expires_in": 60, "issued_at": issued}, now=0.0, wall_now=NOW
    )
    assert token.expires_at == 60.0


def test_token_renewed_shortly_before_expiry() -> None:
    token = parse_token_response({"token": "t", "expires_in": 60}, now=0.0, wall_now=NOW)
    assert token.usable(49.0)
    assert not token.usable(55.0)  # inside the 6 s renewal margin
    short = parse_token_response({"token": "t", "expires_in": 2}, now=0.0, wall_now=NOW)
    assert short.usable(1.7) and not short.usable(1.9)


@pytest.mark.parametrize(
    ("body", "problem"),
    [([], "not a JSON object"), ({}, "neither token"), ({"token": ""}, "neither token")],
)
def test_unusable_token_responses(body: object, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_token_response(body, now=0.0, wall_now=NOW)


def test_bad_expires_in_falls_back_to_default() -> None:
    for value in (0, -5, "60", True, None):
        token = parse_token_response({"token": "t", "expires_in": value}, now=0.0, wall_now=NOW)
        assert token.expires_at == 60.0
