"""What may be shown of an endpoint's connection: id, type and URL, never a credential.

The Replication page lists endpoints and notifications name them; both take what they show
from here, so neither can carry a password, a token or an extra field by accident. A URL
that embeds credentials (``https://user:secret@host``) is shown without them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from regrep.hooks.base import registry_url
from regrep.provider_info import CONNECTION_TYPES
from regrep.registry.errors import ConnectionConfigError

REGREP_SUFFIX = " (regrep)"
TYPE_LABELS = {
    str(t["connection-type"]): str(t["hook-name"]).removesuffix(REGREP_SUFFIX)
    for t in CONNECTION_TYPES
}
"""The provider's name by connection type, as the Connections form's type list shows it."""


@dataclass(frozen=True)
class EndpointInfo:
    """One connection as it may be shown: ``url`` is empty when none can be made of it."""

    conn_id: str
    conn_type: str
    url: str
    description: str = ""

    @property
    def type_label(self) -> str:
        return TYPE_LABELS.get(self.conn_type, self.conn_type)

    @property
    def is_registry(self) -> bool:
        """Whether the connection is of one of regrep's registry types."""
        return self.conn_type in TYPE_LABELS

    @classmethod
    def of(cls, connection: Any) -> EndpointInfo:
        """Describe an Airflow connection (the SDK's or the metadata model's)."""
        conn_id = str(connection.conn_id)
        try:
            url = registry_url(conn_id, connection.host, connection.schema, connection.port)
        except ConnectionConfigError:
            url = ""
        return cls(
            conn_id=conn_id,
            conn_type=str(connection.conn_type or ""),
            url=without_credentials(url),
            description=str(connection.description or ""),
        )


def without_credentials(url: str) -> str:
    """``url`` without the ``user:password@`` part of its authority."""
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
