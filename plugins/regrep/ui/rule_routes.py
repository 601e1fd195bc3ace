"""``/regrep/api/rules``: the rules, their executions, and what the Replication page does to them.

Every route is Airflow-authenticated and authorised on the rule's DAG
(:mod:`regrep.ui.api_access`); state-changing ones are guarded against forgery. A rule is
validated by the :class:`~regrep.rules.Rule` model, as the DAG file validates it, and its
problems are answered field by field (422, ``errors: [{field, message}]``). Files are
written atomically (:mod:`regrep.rules.writing`) and the DAG file is parsed at once after
(:mod:`regrep.ui.dag_reparse`). Actions on Airflow's objects go through Airflow's REST API
as the caller: trigger, pause, ``regrep``'s stop (:func:`regrep.executions.remote.stop`)
and delete (:func:`regrep.executions.rule_removal.remove_rule`).
"""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Annotated, Any

import requests
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import GetUserDep
from airflow.models.dag import DagModel
from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from regrep.airflow_api import AirflowApi, ApiError
from regrep.executions.record import DAG_ID_PREFIX
from regrep.executions.remote import ExecutionNotFound, stop
from regrep.executions.rule_removal import RuleInUse, RuleNotFound, delete_dag, remove_rule
from regrep.registry.errors import ConnectionConfigError, RegistryError
from regrep.rules import Rule, RuleError
from regrep.rules.problems import locate
from regrep.rules.writing import set_enabled, write_rule
from regrep.rules_location import airflow_rules_dir
from regrep.ui import execution_views, rule_preview
from regrep.ui.api_access import (
    DagsReadable,
    ForgeryGuard,
    airflow_as_user,
    api_base_url,
    may_read_dag,
    require_dag,
    rule_access,
)
from regrep.ui.dag_reparse import request_parse
from regrep.ui.rule_entries import NameTaken, RuleFile, entry, find, read_folder, target_path

router = APIRouter(prefix="/api", tags=["rules"])

RuleBody = Annotated[dict[str, Any], Body(description="The rule's fields, as in its YAML file")]
Reader = Annotated[BaseUser, Depends(rule_access("GET"))]
RunReader = Annotated[BaseUser, Depends(rule_access("GET", DagAccessEntity.RUN))]
TaskReader = Annotated[BaseUser, Depends(rule_access("GET", DagAccessEntity.TASK_INSTANCE))]
Editor = Annotated[BaseUser, Depends(rule_access("PUT"))]
Remover = Annotated[BaseUser, Depends(rule_access("DELETE"))]
Runner = Annotated[BaseUser, Depends(rule_access("POST", DagAccessEntity.RUN))]
Stopper = Annotated[BaseUser, Depends(rule_access("PUT", DagAccessEntity.RUN))]


class InvalidRule(Exception):
    """A rule body the model refuses: one ``{field, message}`` per problem."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__(errors)
        self.errors = errors

    def response(self, code: int = status.HTTP_422_UNPROCESSABLE_CONTENT) -> JSONResponse:
        return JSONResponse({"detail": "the rule is invalid", "errors": self.errors}, code)


def validated(body: dict[str, Any], name: str | None = None) -> Rule:
    """The rule of ``body``, whose name must be ``name`` when given (the URL's)."""
    document = dict(body)
    if name is not None:
        document.setdefault("name", name)
        if document["name"] != name:
            raise InvalidRule(
                [
                    {
                        "field": "name",
                        "message": f'this rule is "{name}" (its URL) and keeps its name: to '
                        "rename it, create the new rule and delete this one",
                    }
                ]
            )
    try:
        return Rule.model_validate(document)
    except ValidationError as error:
        located = (locate(problem) for problem in error.errors())
        raise InvalidRule([{"field": f, "message": m} for f, m in located]) from None


def with_airflow(session: Session, files: list[RuleFile]) -> list[dict[str, Any]]:
    """The entries of ``files`` with what Airflow knows: the DAG, active and last runs."""
    dag_ids = [file.dag_id for file in files]
    paused = dict(
        session.execute(
            select(DagModel.dag_id, DagModel.is_paused).where(DagModel.dag_id.in_(dag_ids))
        ).all()
    )
    active = execution_views.active_run_ids(session, dag_ids)
    return [
        {
            **entry(file),
            "dag": {"exists": file.dag_id in paused, "is_paused": paused.get(file.dag_id)},
            "active_run_ids": active.get(file.dag_id, []),
            "last_execution": (
                execution_views.latest_execution(session, file.dag_id)
                if file.dag_id in paused
                else None
            ),
        }
        for file in files
    ]


def rule_file(name: str, *, valid: bool = True) -> RuleFile:
    """The file of the rule ``name``; 404 if none (or, with ``valid``, if it is invalid)."""
    found = find(read_folder(airflow_rules_dir()), name)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no rule {name!r} in the rules folder")
    if valid and found.rule is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"the rule file {found.path.name} is invalid: fix it first",
        )
    return found


def refused(action: str, error: ApiError) -> HTTPException:
    """Airflow's refusal of an action, as this API's answer, in Airflow's words."""
    code = error.status if 400 <= error.status < 500 else status.HTTP_502_BAD_GATEWAY
    return HTTPException(code, f"Airflow refused to {action}: {error.body[:500]}")


def airflow_call(action: str, call: Any, *args: Any) -> Any:
    """Call Airflow's REST API (through ``call``); a refusal becomes :func:`refused`'s."""
    try:
        return call(*args)
    except ApiError as error:
        raise refused(action, error) from None
    except requests.RequestException as error:
        raise unreachable(error) from None


def unreachable(error: requests.RequestException) -> HTTPException:
    """The API server could not reach its own REST API: say where it looked."""
    return HTTPException(
        status.HTTP_502_BAD_GATEWAY,
        f"regrep could not reach Airflow's REST API at {api_base_url()} ({type(error).__name__}):"
        " set REGREP_API_URL on the API server to an address it reaches itself at",
    )


@router.get("/rules", dependencies=[DagsReadable])
def list_rules(user: GetUserDep, session: SessionDep) -> dict[str, Any]:
    """Every rule file the caller may read (its DAG's read permission), invalid ones too."""
    directory = airflow_rules_dir()
    files = [f for f in read_folder(directory) if may_read_dag(user, f.dag_id)]
    return {"rules_dir": str(directory), "rules": with_airflow(session, files)}


@router.get("/rules/{name}")
def get_rule(name: str, user: Reader, session: SessionDep) -> dict[str, Any]:
    """One rule (or the invalid file going by that name)."""
    return with_airflow(session, [rule_file(name, valid=False)])[0]


@router.put("/rules/{name}")
def put_rule(
    name: str,
    body: RuleBody,
    request: Request,
    user: Editor,
    session: SessionDep,
    _: ForgeryGuard,
) -> JSONResponse:
    """Create or replace the rule ``name``: validate, write its file atomically, parse now.

    With ``If-None-Match: *`` only a new rule is created: an existing one is answered 412.
    """
    try:
        rule = validated(body, name)
    except InvalidRule as invalid:
        return invalid.response()
    directory = airflow_rules_dir()
    files = read_folder(directory)
    if request.headers.get("if-none-match") == "*" and find(files, name) is not None:
        return InvalidRule(
            [{"field": "name", "message": f"a rule named {name!r} exists already"}]
        ).response(status.HTTP_412_PRECONDITION_FAILED)
    try:
        path = target_path(directory, files, name)
    except NameTaken as taken:
        raise HTTPException(status.HTTP_409_CONFLICT, str(taken)) from None
    created = not path.exists()
    directory.mkdir(parents=True, exist_ok=True)
    write_rule(path, rule)
    parse_requested = request_parse(session)
    answer = {
        **with_airflow(session, [RuleFile(path, rule)])[0],
        "created": created,
        "parse_requested": parse_requested,
    }
    code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return JSONResponse(answer, status_code=code)


@router.delete("/rules/{name}")
def delete_rule(name: str, request: Request, user: Remover, _: ForgeryGuard) -> dict[str, Any]:
    """Remove the rule's file and DAG; 409 with the run ids while an execution is active."""
    directory = airflow_rules_dir()
    api = airflow_as_user(request)
    try:
        removed = airflow_call("delete the rule's DAG", remove_rule, api, directory, name)
        return {"deleted": name, "file": removed.path.name, "dag_id": removed.rule.dag_id}
    except RuleInUse as busy:
        raise HTTPException(
            status.HTTP_409_CONFLICT, {"message": str(busy), "run_ids": busy.run_ids}
        ) from None
    except RuleNotFound:
        broken = rule_file(name, valid=False)  # an invalid file going by that name
        broken.path.unlink()
        airflow_call("delete the invalid rule's DAG", delete_dag, api, broken.dag_id)
        return {"deleted": name, "file": broken.path.name, "dag_id": broken.dag_id}
    finally:
        api.close()


@router.post("/rules/preview")
def preview_rule(
    body: RuleBody,
    request: Request,
    user: GetUserDep,
    _: ForgeryGuard,
    limit: Annotated[int, Query(ge=1, le=rule_preview.MAX_LIMIT)] = rule_preview.DEFAULT_LIMIT,
    seconds: Annotated[
        float, Query(gt=0, le=rule_preview.MAX_SECONDS)
    ] = rule_preview.DEFAULT_SECONDS,
) -> Any:
    """What the rule in the body would replicate now; nothing is copied or saved.

    Allowed to whoever may edit the rule's DAG (any DAG, when the body names no rule yet):
    a preview reaches the registries with the endpoints' credentials.
    """
    name = body.get("name")
    named = isinstance(name, str) and name != ""
    require_dag("PUT", f"{DAG_ID_PREFIX}{name}" if named else None, request, user)
    try:
        rule = validated(body)
    except InvalidRule as invalid:
        return invalid.response()
    try:
        return rule_preview.preview(rule, limit, seconds)
    except ConnectionConfigError as error:
        fields = [f for f in ("source", "destination") if f"'{getattr(rule, f)}'" in str(error)]
        return InvalidRule([{"field": f, "message": str(error)} for f in fields or [""]]).response()
    except RegistryError as error:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, str(error)) from None
    except rule_preview.PreviewTimeout as error:
        raise HTTPException(status.HTTP_504_GATEWAY_TIMEOUT, str(error)) from None
    except ValueError as error:  # the rule cannot apply to what the source holds
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None


@router.post("/rules/{name}/run", status_code=status.HTTP_201_CREATED)
def run_rule(name: str, request: Request, user: Runner, _: ForgeryGuard) -> dict[str, Any]:
    """*Replicate now*: trigger a run of the rule's DAG, as Airflow's trigger button does."""
    rule = rule_file(name).rule
    assert rule is not None
    if not rule.enabled:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"rule {name!r} is disabled: enable it to replicate"
        )
    with closing(airflow_as_user(request)) as api:
        run = airflow_call(
            "start a run",
            api.post,
            f"/api/v2/dags/{rule.dag_id}/dagRuns",
            {"logical_date": None, "note": None},
        )
    return {"run_id": run["dag_run_id"], "state": run["state"], "dag_id": rule.dag_id}


@router.post("/rules/{name}/executions/{run_id}/stop")
def stop_execution(
    name: str, run_id: str, request: Request, user: Stopper, _: ForgeryGuard
) -> dict[str, Any]:
    """*Stop*: end the run's unfinished tasks only, then the run (regrep's truthful stop)."""
    dag_id = rule_file(name, valid=False).dag_id
    with closing(airflow_as_user(request)) as api:
        try:
            ended = airflow_call("stop the run", stop, api, dag_id, run_id)
        except ExecutionNotFound as missing:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(missing)) from None
        except ValueError as done:
            raise HTTPException(status.HTTP_409_CONFLICT, str(done)) from None
    return {"run_id": run_id, "ended": ended}


@router.post("/rules/{name}/enable")
def enable_rule(
    name: str, request: Request, user: Editor, session: SessionDep, _: ForgeryGuard
) -> dict[str, Any]:
    """Switch the rule on: ``enabled: true`` in its file, its DAG unpaused."""
    return _switch(name, True, request, session)


@router.post("/rules/{name}/disable")
def disable_rule(
    name: str, request: Request, user: Editor, session: SessionDep, _: ForgeryGuard
) -> dict[str, Any]:
    """Switch the rule off: its DAG paused, ``enabled: false`` in its file."""
    return _switch(name, False, request, session)


def _switch(name: str, enabled: bool, request: Request, session: Session) -> dict[str, Any]:
    """Enable or disable: the file says it (a DAG made anew starts so), the pause does it now.

    Enabling writes the file first and disabling pauses first, so no run starts in between
    to find the rule disabled.
    """
    file = rule_file(name)
    assert file.rule is not None
    with closing(airflow_as_user(request)) as api:
        if enabled:
            rule = _write_enabled(file.path, True)
            _pause(api, file.rule.dag_id, False)
        else:
            _pause(api, file.rule.dag_id, True)
            rule = _write_enabled(file.path, False)
    request_parse(session)
    return with_airflow(session, [RuleFile(file.path, rule)])[0]


def _write_enabled(path: Path, enabled: bool) -> Rule:
    try:
        return set_enabled(path, enabled)
    except RuleError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None


def _pause(api: AirflowApi, dag_id: str, paused: bool) -> None:
    """Pause or unpause the DAG; one not parsed yet starts as its file says anyway."""
    try:
        api.patch(f"/api/v2/dags/{dag_id}", {"is_paused": paused})
    except ApiError as error:
        if error.status != status.HTTP_404_NOT_FOUND:
            raise refused("pause or unpause the DAG", error) from None
    except requests.RequestException as error:
        raise unreachable(error) from None


@router.get("/rules/{name}/executions")
def list_executions(
    name: str,
    user: RunReader,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
) -> dict[str, Any]:
    """The rule's executions, newest first: one per DAG run."""
    dag_id = rule_file(name, valid=False).dag_id
    return {"dag_id": dag_id, "executions": execution_views.executions(session, dag_id, limit)}


@router.get("/rules/{name}/executions/{run_id}")
def get_execution(name: str, run_id: str, user: TaskReader, session: SessionDep) -> dict[str, Any]:
    """One execution with each resource's state, bytes, duration and log."""
    dag_id = rule_file(name, valid=False).dag_id
    detail = execution_views.execution_detail(session, dag_id, run_id)
    if detail is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{dag_id} has no run {run_id!r}")
    return detail
