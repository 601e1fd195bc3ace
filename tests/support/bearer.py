"""The client half of the token protocol, for the test oracle's ``requests`` sessions.

Deliberately minimal and independent of regrep's own auth code: on a
``401 WWW-Authenticate: Bearer`` challenge it fetches a token from the realm with basic
credentials, asking for every action on the challenged repositories (pull, push, delete), and
replays the request. Tokens are cached per repository and attached up front, which matters for
streamed uploads: their body cannot be replayed, but the ``POST`` that opened the upload has
already fetched the token the ``PUT`` needs.
"""

from __future__ import annotations

import re
import threading
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase

# /v2/<name>/<endpoint>/...: the repository a request is about (names may contain slashes).
_REPOSITORY_PATH = re.compile(r"^/v2/(.+?)/(?:manifests|blobs|tags|referrers)/")
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


def _cache_key(path: str) -> str | None:
    if path.startswith("/v2/_catalog"):
        return "registry:catalog"
    match = _REPOSITORY_PATH.match(path)
    return f"repository:{match.group(1)}" if match else None


def _widen(scope: str) -> str:
    """Ask for every action on a repository, so one token per repository serves all calls."""
    kind, _, rest = scope.partition(":")
    name, _, _ = rest.rpartition(":")
    return f"repository:{name}:pull,push,delete" if kind == "repository" else scope


class BearerAuth(AuthBase):
    """``requests`` auth answering Bearer challenges with tokens fetched as ``username``."""

    def __init__(self, username: str, password: str) -> None:
        self._credentials = (username, password)
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        key = _cache_key(urlsplit(request.url or "").path)
        with self._lock:
            token = self._tokens.get(key) if key else None
        if token:
            request.headers["Authorization"] = f"Bearer {token}"
        request.hooks["response"].append(self._on_response)
        return request

    def _on_response(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        challenge = response.headers.get("WWW-Authenticate", "")
        if response.status_code != 401 or not challenge.lower().startswith("bearer "):
            return response
        params = dict(_CHALLENGE_PARAM.findall(challenge))
        scopes = [_widen(scope) for scope in params.get("scope", "").split()]
        answer = requests.get(
            params["realm"],
            params={"service": params.get("service", ""), "scope": scopes},
            auth=self._credentials,
            timeout=30,
        )
        answer.raise_for_status()
        token = answer.json()["token"]
        key = _cache_key(urlsplit(response.request.url or "").path)
        if key:
            with self._lock:
                self._tokens[key] = token
        # Replay once, straight through the adapter (as requests' digest auth does): the
        # adapter runs no hooks, so a second 401 is returned rather than looping.
        response.content  # noqa: B018 - drain the body so the connection can be reused
        response.close()
        retry = response.request.copy()
        retry.headers["Authorization"] = f"Bearer {token}"
        replayed: requests.Response = response.connection.send(retry, **kwargs)
        replayed.history.append(response)
        replayed.request = retry
        return replayed
