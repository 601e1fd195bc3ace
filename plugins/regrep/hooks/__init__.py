"""Hooks: one per registry provider, each turning an Airflow connection into a client.

:func:`registry_hook` picks the hook class from the connection's type using the
connection types declared in ``regrep.provider_info``, so adding a provider means adding
its hook class and its ``provider_info`` entry, nothing here.
"""

from __future__ import annotations

from importlib import import_module

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from regrep.hooks.base import RegistryEndpoint, RegistryHook
from regrep.provider_info import CONNECTION_TYPES
from regrep.registry.errors import ConnectionConfigError

__all__ = ["ConnectionConfigError", "RegistryEndpoint", "RegistryHook", "registry_hook"]


def registry_hook(conn_id: str) -> RegistryHook:
    """Return the hook for the connection ``conn_id``, chosen by its connection type.

    Raises :class:`ConnectionConfigError` naming the connection when it does not exist or
    is not of a registry type regrep supports (which it lists).
    """
    try:
        conn_type = BaseHook.get_connection(conn_id).conn_type
    except AirflowNotFoundException:
        raise ConnectionConfigError(
            f"connection {conn_id!r} is not defined: create it (Admin > Connections, or an "
            f"AIRFLOW_CONN_{conn_id.upper()} variable)"
        ) from None
    hook_classes = {t["connection-type"]: t["hook-class-name"] for t in CONNECTION_TYPES}
    if conn_type not in hook_classes:
        raise ConnectionConfigError(
            f"connection {conn_id!r} has type {conn_type!r}, which is not a registry type "
            f"regrep supports ({', '.join(sorted(hook_classes))})"
        )
    module, _, class_name = hook_classes[conn_type].rpartition(".")
    hook: RegistryHook = getattr(import_module(module), class_name)(conn_id)
    return hook
