"""No secret ever shows: not in task logs, XComs, rendered fields or error messages.

Two full ``dag.test()`` runs between password-protected registries (htpasswd at the
source, token auth at the destination, a webhook secret on the source connection): one
that replicates, one refused for a wrong password. Everything Airflow recorded and every
log line, DEBUG included, is searched for the passwords, the basic-auth header values,
the webhook secret and every bearer token the issuer handed out.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
from pathlib import Path

import pytest

from tests.integration.airflow.dagruns import Connect, WriteRule, run_dag
from tests.support.images import push_image
from tests.support.registries import RunningRegistry, TokenRegistry

pytestmark = pytest.mark.airflow


def recorded_by_airflow(dag_ids: list[str]) -> str:
    """Every XCom and rendered template field of the DAGs' runs, and every log file."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    parts: list[str] = []
    with create_session() as session:
        for xcom in session.scalars(select(XComModel).where(XComModel.dag_id.in_(dag_ids))):
            parts.append(json.dumps(XComModel.deserialize_value(xcom), default=str))
        rendered = select(RenderedTaskInstanceFields).where(
            RenderedTaskInstanceFields.dag_id.in_(dag_ids)
        )
        for fields in session.scalars(rendered):
            parts.append(json.dumps(fields.rendered_fields, default=str))
    logs = Path(os.environ["AIRFLOW_HOME"]) / "logs"
    parts += [p.read_text(errors="replace") for p in logs.rglob("*") if p.is_file()]
    return "\n".join(parts)


def basic(user: str | None, password: str | None) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def test_no_secret_appears_in_logs_records_or_errors(
    htpasswd_registry: RunningRegistry,
    token_registry: TokenRegistry,
    connect: Connect,
    write_rule: WriteRule,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    source = htpasswd_registry
    destination, issuer = token_registry.registry, token_registry.issuer
    push_image(source, "apps/web", "1.0")
    push_image(source, "apps/api", "2.0")
    webhook_secret = secrets.token_urlsafe(24)
    wrong = secrets.token_urlsafe(12)
    writer = issuer.users["writer"]
    connect("src", source, webhook_secret=webhook_secret)
    connect("dst", destination, login="writer", password=writer)
    connect("dst_refusing", destination, login="writer", password=wrong)
    write_rule("mirror", source="src", destination="dst", retries=0)
    write_rule("refused", source="src", destination="dst_refusing", retries=0)
    caplog.set_level(logging.DEBUG)

    replicated = run_dag("replicate_mirror")
    refused = run_dag("replicate_refused")

    assert (replicated.state, refused.state) == ("success", "failed")
    seen = "\n".join(
        [
            caplog.text,
            *capfd.readouterr(),
            recorded_by_airflow(["replicate_mirror", "replicate_refused"]),
        ]
    )
    assert "copied src/apps/web:1.0 to dst/apps/web:1.0" in seen  # the task logs are there,
    assert "bad credentials for endpoint dst_refusing" in seen  # the error too...
    tokens = [request.token for request in issuer.requests if request.user == "writer"]
    assert tokens  # ...and so were tokens to look for
    hidden = {
        "source password": source.password,
        "source basic auth": basic(source.username, source.password),
        "destination password": writer,
        "destination basic auth": basic("writer", writer),
        "wrong password": wrong,
        "wrong basic auth": basic("writer", wrong),
        "webhook secret": webhook_secret,
        **{f"bearer token {i}": token for i, token in enumerate(tokens)},
    }
    leaked = [name for name, value in hidden.items() if value and value in seen]
    assert leaked == []
