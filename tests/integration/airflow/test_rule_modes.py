"""A rule's mode in the DAGs: the description and documentation, and a pull-mode run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.airflow.dagruns import Connect, WriteRule, load_dags, run_dag
from tests.support.helm_repo import ChartRepository, package_chart, write_index
from tests.support.images import list_tags
from tests.support.registries import RunningRegistry

pytestmark = pytest.mark.airflow


def test_the_mode_leads_the_dag_description(write_rule: WriteRule) -> None:
    write_rule("pull-in", source="hub", destination="harbor", mode="pull")
    write_rule("push-out", source="harbor", destination="ghcr", mode="push", description="Publish")
    write_rule("plain", source="a", destination="b")

    dags = load_dags().dags

    assert dags["replicate_pull-in"].description == "Pull-based: remote hub into local harbor"
    assert dags["replicate_push-out"].description == (
        "Push-based: local harbor to remote ghcr. Publish"
    )
    assert dags["replicate_plain"].description == "Replicate a to b"
    assert "| Replication mode | pull-based (local: `harbor`) |" in (
        dags["replicate_pull-in"].doc_md or ""
    )


@pytest.mark.slow
def test_a_pull_mode_rule_replicates_a_chart_repository(
    tmp_path: Path,
    registry: RunningRegistry,
    connect: Connect,
    write_rule: WriteRule,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A real static chart repository (``tests.support.helm_repo``) into a real registry,
    through the DAG: planning and each copy task read the charts with clients of their own."""
    charts = [
        package_chart(tmp_path, "apiVersion: v2\nname: web\nversion: 1.0.0\n"),
        package_chart(tmp_path, "apiVersion: v2\nname: web\nversion: 1.1.0+build.2\n"),
    ]
    write_index(tmp_path, charts)
    with ChartRepository(tmp_path) as served:
        document = {"conn_type": "regrep_helm_repo", "host": served.url}
        monkeypatch.setenv("AIRFLOW_CONN_CHARTS", json.dumps(document))
        connect("mine", registry)
        write_rule(
            "charts",
            source="charts",
            destination="mine",
            mode="pull",
            destination_namespace="helm",
            destination_namespace_replace_count=0,
            retries=0,
        )

        run = run_dag("replicate_charts")

    assert run.state == "success"
    assert sorted(t.label or "" for t in run.mapped("copy")) == ["web:1.0.0", "web:1.1.0_build.2"]
    assert list_tags(registry, "helm/web") == ["1.0.0", "1.1.0_build.2"]
