"""The OCI distribution client: importable without Airflow.

``RegistryClient`` is the one way regrep talks to a registry; its failures are the typed
errors of :mod:`regrep.registry.errors`.
"""

from __future__ import annotations

from regrep.registry.blobstream import BlobStream
from regrep.registry.client import RegistryClient

__all__ = ["BlobStream", "RegistryClient"]
