"""Harbor's replication webhook: when an execution ends, tell the rule's ``notify`` endpoints.

Harbor posts a ``REPLICATION`` event to a project's webhooks when a replication ends. A
rule's ``notify`` names Airflow connections of the HTTP provider's ``http`` type; each gets
one POST per ended execution, sent with the provider's ``HttpHook`` (the connection's host
is the URL, its login and password basic auth, its extra JSON extra headers, such as an
``Authorization`` header), so receivers written for Harbor read it unchanged:

- Harbor's fields (``type``, ``occur_at``, ``operator`` and ``event_data.replication`` with
  ``job_status``, ``trigger_type``, the source and destination ``*_resource`` and the
  ``successful_artifact`` / ``failed_artifact`` lists, at most :data:`LISTED_ARTIFACTS`
  each), from the execution's record (:mod:`regrep.executions.record`);
- regrep's own, under ``event_data.regrep``: the rule, DAG and run ids, the run's start and
  end, its counts and bytes copied, and the run's URL in Airflow's UI.

The listener calls :func:`announce` where it learns that a run ended: inside the transaction
that ends it, in the scheduler's loop (or the API server's request that stopped it). Nothing
slow may happen there, so :func:`announce` only copies what the payload needs and starts a
daemon thread, which waits for the run's end to be committed (a receiver asking Airflow
about the run then sees it ended), reads the rule's ``notify`` from its file and delivers:
:data:`TRIES` tries per endpoint, :data:`TIMEOUT_SECONDS` each, growing pauses between. A
failure is logged and changes nothing else: the execution's outcome is the run's own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from regrep.executions.record import DAG_ID_PREFIX, Execution, Outcome

if TYPE_CHECKING:
    from airflow.models.dagrun import DagRun

    from regrep.hooks.endpoint_info import EndpointInfo
    from regrep.rules import Rule

log = logging.getLogger(__name__)

EVENT_TYPE = "REPLICATION"
HTTP_CONN_TYPE = "http"
TRIES = 3
TIMEOUT_SECONDS = 10.0
FIRST_PAUSE_SECONDS = 1.0  # then 2 s: three tries end within about 33 s
COMMIT_WAIT_SECONDS = 30.0
COMMIT_POLL_SECONDS = 0.5
LISTED_ARTIFACTS = 100

# Harbor's trigger types by Airflow run type, and its job status by run state.
TRIGGER_TYPES = {"manual": "MANUAL", "scheduled": "SCHEDULED", "asset_triggered": "EVENT_BASED"}
SUCCEEDED, FAILED, STOPPED = "Success", "Error", "Stopped"
# Harbor's registry types (its adapters' names) for regrep's connection types.
REGISTRY_TYPES = {
    "regrep_docker_registry": "docker-registry",
    "regrep_harbor": "harbor",
    "regrep_docker_hub": "docker-hub",
    "regrep_aws_ecr": "aws-ecr",
    "regrep_azure_acr": "azure-acr",
    "regrep_ali_acr": "ali-acr",
    "regrep_google_gcr": "google-gcr",
    "regrep_huawei_swr": "huawei-SWR",
    "regrep_helm_repo": "helm-hub",
    "regrep_quay": "quay",
    "regrep_github_ghcr": "github-ghcr",
    "regrep_gitlab": "gitlab",
    "regrep_jfrog": "jfrog-artifactory",
}


@dataclass(frozen=True)
class EndedRun:
    """What a notification says about one ended run, copied out of the listener's session."""

    dag_id: str
    run_id: str
    state: str
    run_type: str
    start: datetime | None
    end: datetime | None
    execution: Execution

    @property
    def rule_name(self) -> str:
        return self.dag_id.removeprefix(DAG_ID_PREFIX)


def announce(dag_run: DagRun, execution: Execution) -> None:
    """Notify the rule's ``notify`` endpoints of the run's end, in the background."""
    try:
        ended = EndedRun(
            dag_id=dag_run.dag_id,
            run_id=dag_run.run_id,
            state=execution.state,
            run_type=str(getattr(dag_run.run_type, "value", dag_run.run_type)),
            start=dag_run.start_date,
            end=dag_run.end_date,
            execution=execution,
        )
        threading.Thread(
            target=deliver_all, args=(ended,), name=f"regrep-notify-{ended.run_id}", daemon=True
        ).start()
    except Exception:
        log.exception("could not start the notifications of run %s", dag_run.run_id)


def deliver_all(ended: EndedRun) -> None:
    """The background thread's work: every ``notify`` endpoint of the rule, once each."""
    try:
        rule = _rule(ended.rule_name)
        if rule is None or not rule.notify:
            return
        if not _wait_for_commit(ended):
            log.warning(
                "run %s of %s was not seen ending within %.0f s: not notified",
                ended.run_id,
                ended.dag_id,
                COMMIT_WAIT_SECONDS,
            )
            return
        payload = replication_event(
            rule, ended, _endpoint(rule.source), _endpoint(rule.destination), _base_url()
        )
        for conn_id in rule.notify:
            deliver(conn_id, payload)
    except Exception:
        log.exception("notifications of run %s of %s failed", ended.run_id, ended.dag_id)


def deliver(conn_id: str, payload: Mapping[str, Any]) -> bool:
    """POST ``payload`` to the ``http`` connection ``conn_id``; False (logged) on failure."""
    import tenacity
    from airflow.providers.http.hooks.http import HttpHook

    run = payload["event_data"]["regrep"]["run_id"]
    try:
        hook = HttpHook(method="POST", http_conn_id=conn_id)
        conn_type = hook.get_connection(conn_id).conn_type
        if conn_type != HTTP_CONN_TYPE:
            log.error(
                "notification of run %s not sent to %s: the connection's type is %r, not %r",
                run,
                conn_id,
                conn_type,
                HTTP_CONN_TYPE,
            )
            return False
        hook.run_with_advanced_retry(
            _retry_args={
                "stop": tenacity.stop_after_attempt(TRIES),
                "wait": tenacity.wait_exponential(multiplier=FIRST_PAUSE_SECONDS),
                "retry": tenacity.retry_if_exception_type(Exception),
                "before_sleep": lambda state: log.warning(
                    "notification of run %s to %s failed (try %d of %d): %s",
                    run,
                    conn_id,
                    state.attempt_number,
                    TRIES,
                    state.outcome.exception() if state.outcome else "",
                ),
                "reraise": True,
            },
            json=dict(payload),
            extra_options={"timeout": TIMEOUT_SECONDS, "check_response": True},
        )
    except Exception as error:
        log.error("notification of run %s to %s failed: %s", run, conn_id, error)
        return False
    log.info("notified %s of the end of run %s", conn_id, run)
    return True


def replication_event(
    rule: Rule, ended: EndedRun, source: EndpointInfo, destination: EndpointInfo, base_url: str
) -> dict[str, Any]:
    """The JSON document sent: Harbor's replication event plus ``event_data.regrep``."""
    execution = ended.execution
    trigger = TRIGGER_TYPES.get(ended.run_type, "MANUAL")
    kind = rule.filters.resource or "artifact"
    succeeded = [o for o in execution.outcomes if o.status in ("copied", "deleted")]
    failed = [o for o in execution.outcomes if o.status in ("failed", "stopped")]
    replication: dict[str, Any] = {
        "harbor_hostname": urlsplit(base_url).hostname or "",
        "job_status": job_status(execution),
        "description": rule.description,
        "artifact_type": kind,
        "override_mode": rule.override,
        "trigger_type": trigger,
        "execution_timestamp": _unix(ended.start),
        "src_resource": harbor_resource(source, None),
        "dest_resource": harbor_resource(destination, rule.destination_namespace),
        "successful_artifact": [_artifact(o, kind) for o in succeeded[:LISTED_ARTIFACTS]],
        "failed_artifact": [_artifact(o, kind) for o in failed[:LISTED_ARTIFACTS]],
    }
    summary = execution.summary()
    regrep = {
        "rule": rule.name,
        "dag_id": ended.dag_id,
        "run_id": ended.run_id,
        "state": ended.state,
        "start_date": ended.start.isoformat() if ended.start else None,
        "end_date": ended.end.isoformat() if ended.end else None,
        "run_url": f"{base_url.rstrip('/')}/dags/{ended.dag_id}/runs/{quote(ended.run_id)}",
        "counts": execution.tally(),
        "total": len(execution.outcomes) + execution.unchanged,
        "bytes_copied": summary["bytes_copied"],
        "artifacts_left_out": max(0, len(succeeded) - LISTED_ARTIFACTS)
        + max(0, len(failed) - LISTED_ARTIFACTS),
    }
    return {
        "type": EVENT_TYPE,
        "occur_at": _unix(ended.end) or int(time.time()),
        "operator": trigger,
        "event_data": {"replication": replication, "regrep": regrep},
    }


def job_status(execution: Execution) -> str:
    """Harbor's status of the ended execution: Success, Error, or Stopped when nothing failed
    but some resources were stopped before they finished."""
    if execution.state == "success":
        return SUCCEEDED
    tally = execution.tally()
    return STOPPED if tally["stopped"] and not tally["failed"] else FAILED


def _artifact(outcome: Outcome, kind: str) -> dict[str, str]:
    """One entry of Harbor's ``successful_artifact`` / ``failed_artifact`` lists."""
    entry = {
        "type": kind,
        "status": SUCCEEDED if outcome.status in ("copied", "deleted") else FAILED,
        "name_tag": outcome.label,
    }
    return {**entry, "fail_reason": outcome.message} if entry["status"] == FAILED else entry


def _unix(moment: datetime | None) -> int:
    return int(moment.timestamp()) if moment is not None else 0


def _rule(name: str) -> Rule | None:
    """The rule as its file says now; None (logged) when it is gone or invalid."""
    from regrep.executions.rule_removal import find_rule
    from regrep.rules_location import airflow_rules_dir

    directory = airflow_rules_dir()
    found = find_rule(directory, name)
    if found is None:
        log.info("no valid rule %r in %s: its run's end is not notified", name, directory)
        return None
    return found[1]


def _endpoint(conn_id: str) -> EndpointInfo:
    """The connection's type and registry URL (never its credentials); blanks if unknown."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    from regrep.hooks.endpoint_info import EndpointInfo

    try:
        return EndpointInfo.of(BaseHook.get_connection(conn_id))
    except AirflowNotFoundException:
        return EndpointInfo(conn_id, "", "")


def harbor_resource(endpoint: EndpointInfo, namespace: str | None) -> dict[str, str]:
    """An endpoint as Harbor's ``src_resource`` / ``dest_resource`` names it."""
    described = {
        "registry_name": endpoint.conn_id,
        "registry_type": REGISTRY_TYPES.get(endpoint.conn_type, endpoint.conn_type),
        "endpoint": endpoint.url,
    }
    return {**described, "namespace": namespace} if namespace else described


def _base_url() -> str:
    """The UI's address, as Airflow builds its own links (``[api] base_url``)."""
    from airflow.configuration import conf

    return conf.get("api", "base_url", fallback="http://localhost:8080/")


def _wait_for_commit(ended: EndedRun) -> bool:
    """Wait until the run's final state is committed; False if it never shows."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    deadline = time.monotonic() + COMMIT_WAIT_SECONDS
    while True:
        with create_session() as session:
            state = session.scalar(
                select(DagRun.state).where(
                    DagRun.dag_id == ended.dag_id, DagRun.run_id == ended.run_id
                )
            )
        if state is not None and str(state) == ended.state:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(COMMIT_POLL_SECONDS)
