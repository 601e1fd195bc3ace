"""Harbor's replication cases in real runs (``dag.test()``): an untagged artifact copied by
digest, and a repository the namespace flattening cannot apply to.

The Harbor source is Harbor emulated at the HTTP level (``tests.support.vendors.harbor``:
its REST API v2.0 lists the artifact pushed by digest, as Harbor's database does; a plain
registry cannot list it), in front of a real ``docker-registry``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import pytest

from tests.integration.airflow.dagruns import Connect, WriteRule, run_dag, run_note
from tests.support.images import manifest_digest, push_image
from tests.support.registries import RegistryPair
from tests.support.vendors.harbor import HarborEmulator

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

PASSWORD = secrets.token_urlsafe(12)


@pytest.fixture
def harbor(registry_pair: RegistryPair) -> Iterator[HarborEmulator]:
    with HarborEmulator(registry_pair.source, users={"bob": PASSWORD}) as emulator:
        emulator.add_project("team", members=["bob"])
        yield emulator


def test_an_untagged_artifact_is_replicated_by_digest_and_named_by_it(
    harbor: HarborEmulator,
    registry_pair: RegistryPair,
    connect: Connect,
    write_rule: WriteRule,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    destination = registry_pair.destination
    monkeypatch.setenv(
        "AIRFLOW_CONN_HARBOR",
        json.dumps(
            {"conn_type": "regrep_harbor", "host": harbor.url, "login": "bob", "password": PASSWORD}
        ),
    )
    connect("dst", destination)
    tagged = push_image(harbor.upstream, "team/app", "1.0")
    untagged = push_image(harbor.upstream, "team/app", None)
    harbor.keep_untagged("team/app", untagged.digest)
    write_rule("pull", source="harbor", destination="dst", filters={"name": "team/**"}, retries=0)

    run = run_dag("replicate_pull")

    assert run.state == "success"
    label = f"team/app@{untagged.digest}"
    assert [(t.label, t.state) for t in run.mapped("copy")] == [
        ("team/app:1.0", "success"),
        (label, "success"),
    ]
    assert manifest_digest(destination, "team/app", untagged.digest) == untagged.digest
    assert manifest_digest(destination, "team/app", "1.0") == tagged.digest
    record = run_note(run)
    assert any(
        line.startswith(f"copied       {label}: copied harbor/{label} to dst/{label}")
        for line in record
    ), record

    again = run_dag("replicate_pull")

    assert again.state == "success"
    assert again.summary is not None
    assert (again.summary["copied"], again.summary["unchanged"]) == (0, 2)


def test_a_repository_too_shallow_for_the_flattening_fails_alone(
    registry_pair: RegistryPair,
    connect: Connect,
    write_rule: WriteRule,
    capfd: pytest.CaptureFixture[str],
) -> None:
    source, destination = registry_pair
    connect("src", source)
    connect("dst", destination)
    deep = push_image(source, "team/tools/cli", "2")
    push_image(source, "team/app", "1")
    write_rule(
        "flatten",
        source="src",
        destination="dst",
        destination_namespace="mirror",
        destination_namespace_replace_count=2,
        retries=0,
    )

    run = run_dag("replicate_flatten")

    assert run.state == "failed"
    assert run.task("plan").state == "success"
    assert [(t.label, t.state) for t in run.mapped("copy")] == [
        ("team/tools/cli:2", "success"),
        ("refused: team/app", "failed"),  # the instance that fails the run, naming them
    ]
    assert manifest_digest(destination, "mirror/cli", "2") == deep.digest
    reason = (
        'repository "team/app" cannot be flattened by destination_namespace_replace_count 2: '
        "it has only 1 namespace part(s) before its name 'app'"
    )
    assert f"failed       team/app: {reason}" in run_note(run)
    assert (
        f"the rule cannot replicate 1 source repositories, not copied: team/app: {reason}"
        in "".join(capfd.readouterr())
    )
    assert run.summary is not None
    assert (run.summary["copied"], run.summary["failures"]) == (1, ["team/app"])
