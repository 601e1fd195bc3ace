"""Replication DAGs run for real (``dag.test()``) between real registries."""

from __future__ import annotations

import re

import pytest

from tests.integration.airflow.dagruns import Connect, WriteRule, run_dag, run_note
from tests.support.images import manifest_digest, push_image, push_index
from tests.support.registries import RegistryPair, RunningRegistry, TokenRegistry

pytestmark = [pytest.mark.airflow, pytest.mark.slow]


def test_copies_everything_then_reruns_only_what_changed(
    registry_pair: RegistryPair, connect: Connect, write_rule: WriteRule
) -> None:
    source, destination = registry_pair
    connect("src", source)
    connect("dst", destination)
    base = push_image(source, "library/base", "1.0")
    images = [
        base,
        push_image(source, "apps/web", "1.0", base_layers=base.layers),
        push_image(source, "apps/api", "2.0", base_layers=base.layers),
        push_image(source, "apps/web", "1.1"),
        push_index(source, "apps/multi", "latest"),
    ]
    write_rule("mirror", source="src", destination="dst", retries=0)

    first = run_dag("replicate_mirror")

    assert first.state == "success"
    assert sorted(t.label or "" for t in first.mapped("copy")) == [
        "apps/api:2.0",
        "apps/multi:latest",
        "apps/web:1.0",
        "apps/web:1.1",
        "library/base:1.0",
    ]
    assert all(t.state == "success" for t in first.mapped("copy"))
    for image in images:
        assert manifest_digest(destination, image.repository, image.reference) == image.digest
        for child in image.children:
            assert manifest_digest(destination, image.repository, child.digest) == child.digest
    assert first.summary is not None
    assert (first.summary["copied"], first.summary["failed"]) == (5, 0)
    assert first.summary["bytes_copied"] > 0

    unchanged = run_dag("replicate_mirror")

    assert unchanged.state == "success"
    assert unchanged.mapped("copy") == []
    assert unchanged.task("copy").state == "skipped"
    assert unchanged.summary is not None
    assert (unchanged.summary["copied"], unchanged.summary["unchanged"]) == (0, 5)

    worker = push_image(source, "apps/worker", "1.0", base_layers=base.layers)

    third = run_dag("replicate_mirror")

    assert [t.label for t in third.mapped("copy")] == ["apps/worker:1.0"]
    assert manifest_digest(destination, "apps/worker", "1.0") == worker.digest
    assert third.summary is not None
    # The base layers are mounted from a repository that already holds them, not re-sent.
    assert third.summary["blobs_mounted"] == len(base.layers)


def test_override_off_keeps_a_differing_destination_and_on_replaces_it(
    registry_pair: RegistryPair, connect: Connect, write_rule: WriteRule
) -> None:
    source, destination = registry_pair
    connect("src", source)
    connect("dst", destination)
    wanted = push_image(source, "apps/web", "1.0")
    other = push_image(destination, "apps/web", "1.0", seed="changed at the destination")
    write_rule("keep", source="src", destination="dst", override=False, retries=0)
    write_rule("replace", source="src", destination="dst", override=True, retries=0)

    kept = run_dag("replicate_keep")

    assert kept.state == "success"
    assert kept.summary is not None
    assert (kept.summary["skipped"], kept.summary["copied"]) == (1, 0)
    assert manifest_digest(destination, "apps/web", "1.0") == other.digest

    replaced = run_dag("replicate_replace")

    assert replaced.state == "success"
    assert replaced.summary is not None
    assert replaced.summary["copied"] == 1
    assert manifest_digest(destination, "apps/web", "1.0") == wanted.digest


def test_destination_namespace_replaces_and_flattens_path_parts(
    registry_pair: RegistryPair, connect: Connect, write_rule: WriteRule
) -> None:
    source, destination = registry_pair
    connect("src", source)
    connect("dst", destination)
    app = push_image(source, "team/app", "1")
    tool = push_image(source, "org/group/tool", "2")
    write_rule(
        "one-level",
        source="src",
        destination="dst",
        filters={"name": "team/**"},
        destination_namespace="mirror",
        destination_namespace_replace_count=1,
    )
    write_rule(
        "flat",
        source="src",
        destination="dst",
        filters={"name": "org/**"},
        destination_namespace="flat",
        destination_namespace_replace_count=-1,
    )

    assert run_dag("replicate_one-level").state == "success"
    assert run_dag("replicate_flat").state == "success"

    assert manifest_digest(destination, "mirror/app", "1") == app.digest
    assert manifest_digest(destination, "flat/tool", "2") == tool.digest
    assert manifest_digest(destination, "team/app", "1") is None


@pytest.mark.parametrize("refusing", ["src", "dst"])
def test_refused_credentials_fail_the_plan_at_once_naming_the_endpoint(
    refusing: str,
    registry: RunningRegistry,
    htpasswd_registry: RunningRegistry,
    connect: Connect,
    write_rule: WriteRule,
    capfd: pytest.CaptureFixture[str],
) -> None:
    guarded, plain = htpasswd_registry, registry
    push_image(guarded if refusing == "src" else plain, "apps/web", "1.0")
    connect(refusing, guarded, password="not-the-password")
    connect("dst" if refusing == "src" else "src", plain)
    write_rule("mirror", source="src", destination="dst", retries=2, retry_delay_minutes=0)

    run = run_dag("replicate_mirror")

    assert run.state == "failed"
    plan = run.task("plan")
    assert (plan.state, plan.try_number) == ("failed", 1)  # failed for good, not retried
    assert run.mapped("copy") == []
    output = "".join(capfd.readouterr())
    assert re.search(
        rf"AirflowFailException: bad credentials for endpoint {refusing}\b.*\(not retried\)", output
    )
    assert "nothing was replicated: the plan task ended failed" in run_note(run)


def test_a_destination_refusing_pushes_fails_the_copy_and_the_run(
    registry: RunningRegistry,
    token_registry: TokenRegistry,
    connect: Connect,
    write_rule: WriteRule,
    capfd: pytest.CaptureFixture[str],
) -> None:
    push_image(registry, "apps/web", "1.0")
    push_image(registry, "apps/api", "1.0")
    connect("src", registry)
    connect(
        "dst",
        token_registry.registry,
        login="reader",
        password=token_registry.issuer.users["reader"],
    )
    write_rule("mirror", source="src", destination="dst", retries=2, retry_delay_minutes=0)

    run = run_dag("replicate_mirror")

    assert run.state == "failed"
    copies = run.mapped("copy")
    assert [(t.label, t.state, t.try_number) for t in copies] == [
        ("apps/api:1.0", "failed", 1),
        ("apps/web:1.0", "failed", 1),
    ]
    output = "".join(capfd.readouterr())
    assert "no permission to push apps/web on endpoint dst" in output
    assert run.summary is not None
    assert run.summary["failures"] == ["apps/api:1.0", "apps/web:1.0"]
    note = run_note(run)
    assert f"{'failed':<12} {2:>6}" in note
    assert any(line.startswith("failed       apps/web:1.0: no permission to push") for line in note)


def test_a_plan_longer_than_airflow_can_map_is_copied_in_batches(
    registry_pair: RegistryPair,
    connect: Connect,
    write_rule: WriteRule,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source, destination = registry_pair
    connect("src", source)
    connect("dst", destination)
    images = [push_image(source, "apps/web", tag, layer_sizes=(64,)) for tag in "12345"]
    monkeypatch.setenv("AIRFLOW__CORE__MAX_MAP_LENGTH", "2")
    monkeypatch.setattr("regrep.tasks.fanout.MIN_BATCH", 1)  # batches of 20 would need 40 tags
    write_rule("mirror", source="src", destination="dst", retries=0)

    run = run_dag("replicate_mirror")

    assert run.state == "success"
    assert [(t.label, t.state) for t in run.mapped("copy")] == [
        ("apps/web:1 (+2 more)", "success"),
        ("apps/web:4 (+1 more)", "success"),
    ]
    for image in images:
        assert manifest_digest(destination, "apps/web", image.reference) == image.digest
    assert run.summary is not None
    assert (run.summary["copied"], run.summary["failed"]) == (5, 0)
