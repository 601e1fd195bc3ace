"""A rule's trigger: by hand, on Harbor's cron, or on the source's push events.

Harbor stores six-field crons (seconds first, always 0) and refuses one that fires every
minute; Airflow schedules five-field crons. :func:`normalise_cron` accepts both and words
Harbor's own reasons.
"""

from __future__ import annotations

from typing import Annotated, Literal

from croniter import CroniterError, croniter
from pydantic import Field, field_validator

from regrep.rules.strict_model import StrictModel


class ManualTrigger(StrictModel):
    """Replicate only when someone starts the DAG."""

    type: Literal["manual"]


class ScheduledTrigger(StrictModel):
    """Replicate on a cron schedule (five fields, or Harbor's six with seconds ``0``)."""

    type: Literal["scheduled"]
    cron: str

    @field_validator("cron")
    @classmethod
    def _five_field_cron(cls, value: str) -> str:
        return normalise_cron(value)


class EventBasedTrigger(StrictModel):
    """Replicate when the source reports a push (or a deletion, see ``replicate_deletion``)."""

    type: Literal["event_based"]


Trigger = Annotated[
    ManualTrigger | ScheduledTrigger | EventBasedTrigger, Field(discriminator="type")
]


SECONDS_NOT_ZERO = "the 1st field (indicating Seconds of time) of the cron setting must be 0"
"""Harbor's reason for a six-field cron with seconds other than 0 (``utils.ValidateCronString``)."""

EVERY_MINUTE = "* is not allowed for the Minutes field of the cron setting of replication policy"
"""Harbor's reason for a cron whose minute field is ``*`` (replication ``Policy.Validate``)."""


def normalise_cron(expression: str) -> str:
    """Return ``expression`` as a five-field cron, or raise ``ValueError`` saying why not.

    Harbor stores six-field crons whose first field is seconds and must be 0; Airflow
    schedules by the minute, so that field is dropped. Five fields are accepted as well.
    Either way a minute field of ``*`` (every minute) is refused, as Harbor refuses it.
    """
    fields = expression.split()
    if len(fields) == 6:
        if fields[0] != "0":
            raise ValueError(f'cron "{expression}": {SECONDS_NOT_ZERO}')
        fields = fields[1:]
    if len(fields) != 5:
        raise ValueError(
            f'cron "{expression}": expected five fields "minute hour day-of-month month '
            'day-of-week", e.g. "0 2 * * *", or Harbor\'s six with seconds 0 first'
        )
    if fields[0] == "*":
        raise ValueError(f'cron "{expression}": {EVERY_MINUTE} (it would replicate every minute)')
    normalised = " ".join(fields)
    try:
        croniter(normalised)
    except CroniterError as exc:
        raise ValueError(f'cron "{expression}": {exc}') from None
    return normalised
