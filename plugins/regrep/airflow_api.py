"""A small client for Airflow 3's REST API v2: how the ``regrep`` commands reach Airflow.

The commands talk to a running API server, as a user's tooling would, so they work from any
machine that can reach it: a bearer token, given (``REGREP_API_TOKEN``) or obtained from
``POST /auth/token`` with a user name and password (and obtained again when it expires);
JSON in and out; errors that carry the status and the server's answer, so a failure says
what the server said rather than "400". The tests drive their Airflow deployments with it
too. No Airflow import: only ``requests``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

import requests

# The API server's [api] maximum_page_limit: asking for more is silently capped.
PAGE_SIZE = 100
URL_ENV, USER_ENV, PASSWORD_ENV, TOKEN_ENV = (
    "REGREP_API_URL",
    "REGREP_API_USER",
    "REGREP_API_PASSWORD",
    "REGREP_API_TOKEN",
)
DEFAULT_URL = "http://localhost:8080"


class ApiError(RuntimeError):
    """A non-2xx answer, with what was asked and what the server replied."""

    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{method} {path} -> HTTP {status}: {body[:2000]}")
        self.method = method
        self.path = path
        self.status = status
        self.body = body


class ApiConfigError(ValueError):
    """The environment does not say how to reach or log in to the API server."""


class AirflowApi:
    """REST API v2 client: a fixed ``token``, or ``username``/``password`` to log in with."""

    def __init__(
        self,
        base_url: str,
        username: str | None = None,
        password: str | None = None,
        *,
        token: str | None = None,
        timeout: float = 30,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._username = username
        self._password = password
        self._timeout = timeout
        self._session = requests.Session()
        self._token = token

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> AirflowApi:
        """The API server of ``$REGREP_API_URL`` with ``$REGREP_API_TOKEN``, or with
        ``$REGREP_API_USER`` and ``$REGREP_API_PASSWORD``."""
        url = environ.get(URL_ENV) or DEFAULT_URL
        token = environ.get(TOKEN_ENV)
        username, password = environ.get(USER_ENV), environ.get(PASSWORD_ENV)
        if not token and not (username and password):
            raise ApiConfigError(
                f"set {TOKEN_ENV}, or {USER_ENV} and {PASSWORD_ENV}, to reach Airflow's REST "
                f"API at {url} (set {URL_ENV} for another address)"
            )
        return cls(url, username, password, token=token or None)

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

        Cursor pagination (Airflow 3.3) stays correct while the collection grows between
        pages, which offset pagination does not while a run is still creating mapped instances.
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
        if response.status_code == 401 and self._password is not None:
            self._token = None  # expired: log in again
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
