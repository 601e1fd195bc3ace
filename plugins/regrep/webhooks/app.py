"""``POST /regrep/webhooks/<source connection id>``: a registry's webhook becomes asset events.

A router of regrep's app in Airflow's API server (:mod:`regrep.plugin_app`). Registries are
no Airflow users, so the sender proves itself with the connection's extra
``webhook_secret``, sent as the whole ``Authorization`` header value: what Harbor's *Auth
Header* field and distribution's notification ``headers`` send. The answers:

- 404: no such connection; 403: the connection has no ``webhook_secret`` (webhooks are off
  for it); 401: the header is missing or wrong. Nothing is recorded, and the secret is never
  logged or echoed.
- 400: the body is not JSON, or neither format (:mod:`regrep.webhooks.payloads`).
- 503 with ``Retry-After`` when the metadata database stays busy (SQLite's "database is
  locked" under a burst) after a few short in-process tries: the events are recorded in one
  transaction, so nothing was recorded and the sender's redelivery records them once.
- 200 otherwise, with how many image events were received and recorded. A body without a
  push or delete (a pull, a blob upload) records nothing and is still a success, as is an
  endpoint no event-based rule listens to: distribution retries a failed delivery for ever,
  blocking every later event to the endpoint.

Each image event is recorded the way ``POST /api/v2/assets/events`` records one (Airflow's
``AssetManager.register_asset_change``), so Airflow queues a run of every unpaused rule
scheduled on the source's asset.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Sequence

from fastapi import APIRouter, HTTPException, Request, status
from starlette.concurrency import run_in_threadpool

from regrep.planning.image_events import ImageEvent, asset_name, asset_uri
from regrep.webhooks.payloads import PayloadError, parse_payload

log = logging.getLogger(__name__)

SECRET_FIELD = "webhook_secret"
# Tries of the recording transaction while the database is busy, and the pause between them.
RECORD_TRIES = 4
RECORD_PAUSE_SECONDS = 0.25

router = APIRouter(tags=["webhooks"])


@router.post("/webhooks/{conn_id}")
async def receive(conn_id: str, request: Request) -> dict[str, int]:
    """Authenticate, parse, and record one asset event per image event."""
    secret = await run_in_threadpool(webhook_secret, conn_id)
    sent = request.headers.get("authorization", "")
    if not hmac.compare_digest(sent.encode(), secret.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"send connection {conn_id!r}'s webhook_secret as the Authorization header",
        )
    try:
        events = parse_payload(json.loads(await request.body()))
    except (ValueError, PayloadError) as error:  # json's errors are ValueErrors
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"unreadable webhook: {error}") from None
    recorded = await record_with_retries(conn_id, events) if events else 0
    return {"received": len(events), "recorded": recorded}


async def record_with_retries(conn_id: str, events: Sequence[ImageEvent]) -> int:
    """Record the events, trying again briefly while the database is busy, else answer 503."""
    from sqlalchemy.exc import OperationalError

    for attempt in range(1, RECORD_TRIES + 1):
        try:
            return await run_in_threadpool(record_events, conn_id, events)
        except OperationalError as error:
            log.warning(
                "webhook for %s: metadata database busy (try %d of %d): %s",
                conn_id,
                attempt,
                RECORD_TRIES,
                error.orig,
            )
            if attempt < RECORD_TRIES:
                await asyncio.sleep(RECORD_PAUSE_SECONDS * attempt)
    raise HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        "the metadata database is busy; nothing was recorded, deliver again",
        headers={"Retry-After": "1"},
    )


def webhook_secret(conn_id: str) -> str:
    """The connection's webhook secret; 404 or 403 when there is none to check against."""
    from airflow.models.connection import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        connection = Connection.get_connection_from_secrets(conn_id)
    except AirflowNotFoundException:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no connection {conn_id!r}") from None
    secret = connection.extra_dejson.get(SECRET_FIELD)
    if not isinstance(secret, str) or not secret:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"connection {conn_id!r} accepts no webhooks: set its extra {SECRET_FIELD!r}",
        )
    return secret


def record_events(conn_id: str, events: Sequence[ImageEvent]) -> int:
    """Record the events on the source's asset; return how many were recorded.

    None is recorded when Airflow does not know the asset: no event-based rule replicates
    from this endpoint (yet).
    """
    from airflow.assets.manager import asset_manager
    from airflow.serialization.definitions.assets import SerializedAssetUniqueKey
    from airflow.utils.session import create_session

    asset = SerializedAssetUniqueKey(name=asset_name(conn_id), uri=asset_uri(conn_id))
    recorded = 0
    with create_session() as session:
        for event in events:
            outcome = asset_manager.register_asset_change(
                asset=asset, extra=event.to_extra(), source_is_api=True, session=session
            )
            if outcome is None:
                break
            recorded += 1
    labels = ", ".join(f"{event.action} {event.label}" for event in events)
    if recorded:
        log.info("webhook for %s: recorded %s", conn_id, labels)
    else:
        log.warning(
            "webhook for %s: no event-based rule replicates from it; ignored %s", conn_id, labels
        )
    return recorded
