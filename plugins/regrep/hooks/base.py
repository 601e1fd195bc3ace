"""The base hook of every registry provider: an Airflow connection in, a registry client out.

Modelled on Airflow's provider hooks (HTTP, Docker, Amazon): one hook class per connection
type, the connection read lazily, the secret masked the moment it is read. A provider
(Harbor, ECR, GCR, ...) subclasses :class:`RegistryHook`, sets ``conn_type``/``hook_name``
and, where its registry differs from the distribution spec (listing, namespace creation,
credentials from a vendor API), overrides :meth:`RegistryHook.make_client` to compose its
API client's strategies (:mod:`regrep.vendors`) into the
:class:`~regrep.registry.client.RegistryClient`. Everything else is shared.

The connection form (labels, placeholders, the ``verify`` and ``ca_bundle`` fields) is
declared in ``regrep.provider_info``, the Airflow 3.2+ way, instead of the deprecated hook
methods ``get_ui_field_behaviour``/``get_connection_form_widgets``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret

from regrep.registry.auth import Authenticator
from regrep.registry.cancellation import Cancellation
from regrep.registry.client import RegistryClient
from regrep.registry.credentials import CredentialSource
from regrep.registry.errors import ConnectionConfigError, RegistryError
from regrep.registry.exchange import Exchange
from regrep.registry.protocols import DestinationRegistry, SourceRegistry
from regrep.registry.transport import Transport


@dataclass(frozen=True)
class RegistryEndpoint:
    """Everything needed to reach one registry; the secret is masked as soon as it exists."""

    name: str
    url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    verify: bool = True
    ca_bundle: str | None = None
    # The connection's extra fields: provider options (Docker Hub's API URL, ...), some
    # of them secret (an API token): never in the repr.
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.password:
            # No ``name``: with one, Airflow masks only values of "sensitive-looking" keys.
            mask_secret(self.password)

    def transport(self, stop: Cancellation | None = None) -> Transport:
        """HTTP for this endpoint (its TLS settings), every wait of it ending on ``stop``."""
        return Transport(
            endpoint=self.name, verify=self.verify, ca_bundle=self.ca_bundle, stop=stop
        )

    def exchange(
        self,
        transport: Transport,
        *,
        credentials: CredentialSource | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> Exchange:
        """Requests to the registry over ``transport``, with this endpoint's login, or the
        given one, or ``credentials`` a vendor API hands out."""
        if credentials is None:
            username, password = username or self.username, password or self.password
        auth = Authenticator(
            transport,
            endpoint=self.name,
            username=username,
            password=password,
            credentials=credentials,
        )
        return Exchange(self.url, self.name, transport, auth)

    def client(self, stop: Cancellation | None = None) -> RegistryClient:
        """A distribution client for this endpoint (no provider differences)."""
        return RegistryClient(self.exchange(self.transport(stop)))


def registry_url(conn_id: str, host: str | None, schema: str | None, port: int | None) -> str:
    """Build ``scheme://host[:port]`` from the connection's host, schema and port fields.

    Airflow stores a connection three ways: JSON with the full URL in ``host``; a URI such
    as ``regrep-docker-registry://user:pw@https://host:5000`` (scheme kept in ``host``, port
    split off); or the HTTP-provider habit of ``schema=https`` next to a bare host.
    """
    value = (host or "").strip().rstrip("/")
    if not value:
        raise ConnectionConfigError(f"connection {conn_id!r}: the Registry URL is empty")
    if "://" in value:
        scheme, rest = value.split("://", 1)
    elif schema in ("http", "https"):
        scheme, rest = schema, value
    else:
        raise ConnectionConfigError(
            f"connection {conn_id!r}: Registry URL {value!r} has no scheme; "
            f"write it in full, e.g. https://{value}"
        )
    if scheme not in ("http", "https"):
        raise ConnectionConfigError(
            f"connection {conn_id!r}: Registry URL {value!r} must start with https:// or http://"
        )
    authority, slash, path = rest.partition("/")
    if port and not re.search(r":\d+$", authority):
        authority = f"{authority}:{port}"
    return f"{scheme}://{authority}{slash}{path}"


def parse_verify(conn_id: str, value: Any) -> bool:
    """Read the ``verify`` extra: a JSON bool, or the string a URI-form connection carries."""
    if value is None or value == "":
        return True
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ConnectionConfigError(
        f"connection {conn_id!r}: extra 'verify' must be true or false, not {value!r}"
    )


def parse_list(conn_id: str, key: str, value: Any) -> tuple[str, ...]:
    """Read a list extra: a JSON list, or the comma-separated string a URI carries."""
    if value is None or value == "":
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ConnectionConfigError(
            f"connection {conn_id!r}: extra {key!r} must be a list of names or a "
            f"comma-separated string, not {value!r}"
        )
    return tuple(item.strip() for item in items if item.strip())


class RegistryHook(BaseHook):
    """Connects regrep to one registry endpoint described by an Airflow connection."""

    conn_name_attr = "registry_conn_id"
    default_conn_name = "registry_default"
    conn_type: ClassVar[str]
    hook_name: ClassVar[str]

    def __init__(self, registry_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.registry_conn_id = registry_conn_id

    def get_endpoint(self) -> RegistryEndpoint:
        """Read the connection: host = registry URL, login/password = access id/secret."""
        conn = self.get_connection(self.registry_conn_id)
        extra = conn.extra_dejson
        ca_bundle = extra.get("ca_bundle") or None
        return RegistryEndpoint(
            name=self.registry_conn_id,
            url=self.endpoint_url(conn.host, conn.schema, conn.port),
            username=conn.login or None,
            password=conn.password or None,
            verify=parse_verify(self.registry_conn_id, extra.get("verify")),
            ca_bundle=str(ca_bundle) if ca_bundle else None,
            extra=extra,
        )

    def endpoint_url(self, host: str | None, schema: str | None, port: int | None) -> str:
        """The registry URL from the connection's fields; a provider with a well-known
        registry (Docker Hub) overrides this to supply or correct it."""
        return registry_url(self.registry_conn_id, host, schema, port)

    def cannot_push(self, endpoint: RegistryEndpoint) -> str | None:
        """Why this endpoint can never receive replicated content, or None when it can.

        A static chart repository or an anonymous Docker Hub is readable only; planning
        refuses a rule that would push to one before any transfer starts.
        """
        return None

    def get_client(self, stop: Cancellation | None = None) -> SourceRegistry:
        """Return a client for this endpoint; its ``name`` (used in messages) is the conn id.

        ``stop`` is the task's: every wait and transfer of the client ends on it.
        """
        return self.make_client(self.get_endpoint(), stop)

    def get_destination(self, stop: Cancellation | None = None) -> DestinationRegistry:
        """A client for this endpoint as a destination: one that can take pushes.

        :func:`~regrep.tasks.rule_clients.check_destination` refuses an endpoint that cannot, with
        the rule's words, before this is called; this is the type's own guard.
        """
        client = self.get_client(stop)
        if isinstance(client, DestinationRegistry):
            return client
        client.close()
        endpoint = self.get_endpoint()
        raise ConnectionConfigError(
            f"connection {endpoint.name!r} cannot be a replication destination: "
            f"{self.cannot_push(endpoint) or 'its endpoint takes no pushes'}"
        )

    def make_client(
        self, endpoint: RegistryEndpoint, stop: Cancellation | None = None
    ) -> SourceRegistry:
        """Build the client; a provider with its own API or credentials overrides this."""
        return endpoint.client(stop)

    def get_conn(self) -> SourceRegistry:
        """Airflow's generic accessor; the same as :meth:`get_client`."""
        return self.get_client()

    def test_connection(self) -> tuple[bool, str]:
        """Ping ``/v2/`` with the credentials; the UI's *Test* button shows the message."""
        try:
            endpoint = self.get_endpoint()
            with self.make_client(endpoint) as client:
                client.ping()
        except (ConnectionConfigError, RegistryError) as error:
            # The typed errors already say which: unreachable, TLS, bad credentials.
            return False, str(error)
        who = f"as {endpoint.username!r}" if endpoint.username else "anonymously"
        return True, f"Connected to {client.url} {who}"
