"""The host name a test deployment's Celery worker gives the task instances it runs.

Airflow records the host of each task instance from ``[core] hostname_callable`` (by default
the machine's FQDN). The workers of a test deployment all run on this one machine, so each is
started with its own name in :data:`HOSTNAME_ENV` and this function as its callable: a test
then reads from the REST API which worker ran what. Nothing else is imported here, because
every task process imports this module.
"""

from __future__ import annotations

import os

HOSTNAME_ENV = "REGREP_E2E_WORKER_HOSTNAME"
HOSTNAME_CALLABLE = f"{__name__}.worker_hostname"


def worker_hostname() -> str:
    """The name of the worker this process belongs to."""
    return os.environ[HOSTNAME_ENV]
