"""Have the DAG processor parse regrep's DAG file now, not at its next refresh.

A saved rule becomes a DAG when the DAG file that reads the rules folder is parsed again,
which the DAG processor does every ``[dag_processor] min_file_process_interval`` (30 s by
default, longer in many deployments). Airflow's ``PUT /api/v2/parseDagFile/{file_token}``
jumps that queue by recording a ``DagPriorityParsingRequest`` for the file; so does this
module, for the file that builds regrep's DAGs:

- the file of the rule DAGs Airflow knows (``replicate_*``), the most recently parsed;
- before the first rule has a DAG, the DAG bundles' Python files that build regrep's DAGs
  (those mentioning :data:`FACTORY_MODULE`), local bundles only.

Airflow's route requires the caller's permission on the DAGs of that file; here the caller
was checked for the rule's own DAG before the file was written.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from regrep.executions.record import DAG_ID_PREFIX

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

FACTORY_MODULE = "regrep.dag_factory"
SCANNED_FILES = 2000  # Python files read per bundle, at most, looking for the factory


def request_parse(session: Session) -> bool:
    """Ask for the rule DAGs' file to be parsed next; False when no such file was found."""
    from airflow.models.dagbag import DagPriorityParsingRequest
    from sqlalchemy import select

    found = known_dag_file(session) or next(factory_files(), None)
    if found is None:
        log.warning("no DAG file builds regrep's DAGs yet: rules appear at the next refresh")
        return False
    bundle_name, relative_fileloc = found
    pending = session.scalar(
        select(DagPriorityParsingRequest.id).where(
            DagPriorityParsingRequest.bundle_name == bundle_name,
            DagPriorityParsingRequest.relative_fileloc == relative_fileloc,
        )
    )
    if pending is None:  # one request per file: its id is a hash of the file's location
        session.add(DagPriorityParsingRequest(bundle_name, relative_fileloc))
    return True


def known_dag_file(session: Session) -> tuple[str, str] | None:
    """``(bundle, relative path)`` of the file the newest rule DAGs were parsed from."""
    from airflow.models.dag import DagModel
    from sqlalchemy import select

    row = session.execute(
        select(DagModel.bundle_name, DagModel.relative_fileloc)
        .where(
            DagModel.dag_id.startswith(DAG_ID_PREFIX, autoescape=True),
            DagModel.relative_fileloc.is_not(None),
            DagModel.last_parsed_time.is_not(None),
        )
        .order_by(DagModel.last_parsed_time.desc())
        .limit(1)
    ).first()
    return (str(row[0]), str(row[1])) if row is not None else None


def factory_files() -> Iterator[tuple[str, str]]:
    """``(bundle, relative path)`` of each local bundle file that builds regrep's DAGs."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    for bundle in DagBundlesManager().get_all_dag_bundles():  # type: ignore[no-untyped-call]
        try:
            root = Path(bundle.path)
        except Exception:  # a remote bundle not checked out on this server
            continue
        if not root.is_dir():
            continue
        for index, path in enumerate(sorted(root.rglob("*.py"))):
            if index >= SCANNED_FILES:
                break
            try:
                if FACTORY_MODULE in path.read_text(encoding="utf-8", errors="replace"):
                    yield bundle.name, str(path.relative_to(root))
            except OSError:
                continue
