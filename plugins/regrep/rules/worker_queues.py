"""A rule's ``worker_queue``: a Celery queue name that every broker and worker accepts.

The name becomes a Redis key (or an SQS queue, or an AMQP short string of at most 255 bytes,
where RabbitMQ keeps ``amq.*`` for itself), and is written on the worker's command line as
``airflow celery worker -q a,b``, where a "," or a space would split it. So: letters, digits,
".", "_" and "-", starting with a letter or digit.
"""

from __future__ import annotations

import re

QUEUE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
QUEUE_MAX = 255


def checked_worker_queue(value: str | None) -> str | None:
    """Return ``value`` (None: Airflow's default queue), or raise ``ValueError`` saying why not."""
    if value is None:
        return None
    if QUEUE_RE.fullmatch(value) is None or len(value) > QUEUE_MAX or value.startswith("amq."):
        raise ValueError(
            f'"{value}" is not a valid Celery queue name: use letters, digits, ".", "_" and '
            f'"-", starting with a letter or digit, at most {QUEUE_MAX} characters, not '
            'starting with "amq." (the name `airflow celery worker -q` takes)'
        )
    return value
