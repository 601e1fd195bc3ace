"""A small client for Airflow 3's REST API v2, as end-to-end tests and scripts use it.

It speaks to a running API server exactly as a user's tooling would: a bearer token from
``POST /auth/token`` (SimpleAuthManager), JSON in and out, and errors that carry the status and
the server's answer so a failing test says what the server said rather than "400".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import requests

# The API server's [api] maximum_page_limit: asking for more is silently capped.
PAGE_SIZE = 100


class ApiError(RuntimeError):
    """A non-2xx answer, with what was asked and what the server replied."""

    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{method} {path} -> HTTP {status}: {body[:2000]}")
        self.method = method
        self.path = path
        self.status = status
        self.body = body


class AirflowApi:
    """REST API v2 client that logs in on first use and again when its token expires."""

    def __init__(self, base_url: str, username: str, password: str, *, timeout: float = 30) -> None:
        self.base_url = base_url.rstrip("/")
        self._username = username
        self._password = password
        self._timeout = timeout
        self._session = requests.Session()
        self._token: str | None = None

    def close(self) -> None:
        self._session.close()

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Mapping[str, Any] | None = None) -> Any:
        return self.request("POST", path, json=body if body is not None else {})

    def patch(self, path: str, body: Mapping[str, Any], **params: Any) -> Any:
        return self.request("PATCH", path, json=body, params=params)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def paginate(self, path: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Yield every item of a collection endpoint, following its keyset cursor.

        Cursor pagination (Airflow 3.3) stays correct while the collection grows between pages,
        which offset pagination does not while a run is still creating mapped instances.
        """
        cursor = ""
        while True:
            page = self.get(path, limit=PAGE_SIZE, cursor=cursor, **params)
            yield from page[key]
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send one request; parse JSON, return text for other media types, raise ApiError."""
        response = self._send(method, path, **kwargs)
        if response.status_code == 401:
            self._token = None
            response = self._send(method, path, **kwargs)
        if not response.ok:
            raise ApiError(method, path, response.status_code, response.text)
        if not response.content:
            return None
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self._session.request(
            method,
            f"{self.base_url}{path}",
            headers={"Authorization": f"Bearer {self._login()}"},
            timeout=self._timeout,
            **kwargs,
        )

    def _login(self) -> str:
        if self._token is None:
            response = self._session.post(
                f"{self.base_url}/auth/token",
                json={"username": self._username, "password": self._password},
                timeout=self._timeout,
            )
            if response.status_code != 201:
                raise ApiError("POST", "/auth/token", response.status_code, response.text)
            self._token = str(response.json()["access_token"])
        return self._token
