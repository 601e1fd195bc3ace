"""Bad input fails with an error that names what is wrong, and the destination is untouched.

Each case is one mistake a user makes: in the rule file (malformed YAML, an unknown field,
a bad pattern), in a connection (unknown id, wrong type, URL without scheme), in the
network (unreachable host, a certificate that does not verify), or in the content (a blob
whose bytes do not match its digest). Rule files are read as the DAG factory reads them;
the others run the plan task's body, and the corrupt blob a whole ``dag.test()`` run.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from regrep.rules import load_rule
from regrep.tasks.plan_task import plan_run
from tests.integration.airflow.dagruns import Connect, WriteRule, run_dag
from tests.integration.reliability.integrity import stored_state
from tests.support.images import push_image
from tests.support.registries import RegistryPair, RunningRegistry

pytestmark = pytest.mark.airflow  # the plan task's body, and one dag.test() run


@dataclass
class Bench:
    """What a case may use: the registries, connections, rule files and fixtures."""

    source: RunningRegistry
    destination: RunningRegistry
    connect: Connect
    write_rule: WriteRule
    monkeypatch: pytest.MonkeyPatch
    request: pytest.FixtureRequest
    caplog: pytest.LogCaptureFixture
    corrupt: str | None = None  # the digest of a blob made corrupt at the source

    def define(self, conn_id: str, document: dict[str, object]) -> None:
        self.monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(document))

    def rule_error(self, text: str) -> str:
        path: Path = self.write_rule("placeholder", file="bad")
        path.write_text(text)
        return failure(lambda: load_rule(path))

    def plan_error(self, source: str = "src", destination: str = "dst") -> str:
        path = self.write_rule("mirror", source=source, destination=destination)
        return failure(lambda: plan_run(load_rule(path)))


def failure(action: Callable[[], object]) -> str:
    """The text of the error ``action`` raises (as a task log shows it)."""
    try:
        action()
    except Exception as error:  # the case decides which type; the text is the contract
        return f"{type(error).__name__}: {error}"
    raise AssertionError("no error raised")


def malformed_yaml(bench: Bench) -> str:
    return bench.rule_error("name: mirror\nsource: [src\ndestination: dst\n")


def unknown_field(bench: Bench) -> str:
    return bench.rule_error("name: mirror\nsource: src\ndestination: dst\noverrride: false\n")


def bad_pattern(bench: Bench) -> str:
    return bench.rule_error(
        "name: mirror\nsource: src\ndestination: dst\nfilters: {name: 'library/[a-'}\n"
    )


def unknown_connection(bench: Bench) -> str:
    return bench.plan_error(source="nowhere")


def wrong_connection_type(bench: Bench) -> str:
    bench.define("src", {"conn_type": "http", "host": bench.source.url})
    return bench.plan_error()


def url_without_scheme(bench: Bench) -> str:
    bench.define("src", {"conn_type": "regrep_docker_registry", "host": bench.source.host})
    return bench.plan_error()


def unreachable_host(bench: Bench) -> str:
    closed = f"http://127.0.0.1:{free_port()}"
    bench.define("src", {"conn_type": "regrep_docker_registry", "host": closed})
    return bench.plan_error()


def tls_verification_failure(bench: Bench) -> str:
    tls: RunningRegistry = bench.request.getfixturevalue("tls_registry")
    bench.destination = tls
    push_image(bench.source, "apps/web", "1.0")  # so that the plan asks the destination
    # Verification on, and the registry's private CA not given: the certificate fails.
    bench.define(
        "dst",
        {
            "conn_type": "regrep_docker_registry",
            "host": tls.url,
            "login": tls.username,
            "password": tls.password,
        },
    )
    return bench.plan_error()


def blob_not_matching_its_digest(bench: Bench) -> str:
    image = push_image(bench.source, "apps/web", "1.0", layer_sizes=(64 * 1024,))
    layer = max(image.blobs, key=lambda digest: image.blobs[digest])
    hexdigest = layer.removeprefix("sha256:")
    stored = bench.source.data_dir / f"docker/registry/v2/blobs/sha256/{hexdigest[:2]}"
    data = stored / hexdigest / "data"
    data.write_bytes(data.read_bytes()[::-1])  # same size, other bytes: bit rot at the source
    bench.corrupt = layer
    bench.write_rule("mirror", source="src", destination="dst", retries=0)
    run = run_dag("replicate_mirror")
    assert (run.state, run.mapped("copy")[0].state) == ("failed", "failed")
    return bench.caplog.text


CASES: dict[str, tuple[Callable[[Bench], str], str]] = {
    "malformed YAML": (
        malformed_yaml,
        r"RuleError: \S+/bad\.yaml: line 3: invalid YAML: expected ',' or ']'",
    ),
    "unknown field": (
        unknown_field,
        r'RuleError: \S+/bad\.yaml: unknown field "overrride" \(did you mean "override"\?\)',
    ),
    "bad pattern": (
        bad_pattern,
        r"RuleError: \S+/bad\.yaml: filters\.name: pattern \"library/\[a-\": unclosed character",
    ),
    "unknown connection id": (
        unknown_connection,
        r"AirflowFailException: connection 'nowhere' is not defined.* \(not retried\)",
    ),
    "wrong connection type": (
        wrong_connection_type,
        r"AirflowFailException: connection 'src' has type 'http', which is not a registry type "
        r"regrep supports",
    ),
    "URL without scheme": (
        url_without_scheme,
        r"AirflowFailException: connection 'src': Registry URL '127\.0\.0\.1:\d+' has no scheme; "
        r"write it in full, e\.g\. https://127\.0\.0\.1:\d+",
    ),
    "unreachable host": (  # transient: Airflow's task retry takes it from here
        unreachable_host,
        r"ConnectionFailed: cannot reach endpoint src \(GET /v2/_catalog\): .*Connection refused",
    ),
    "TLS failure": (
        tls_verification_failure,
        r"AirflowFailException: TLS certificate problem with endpoint dst \(127\.0\.0\.1:\d+\): "
        r".*CERTIFICATE_VERIFY_FAILED.*set ca_bundle.* \(not retried\)",
    ),
    "blob not matching its digest": (
        blob_not_matching_its_digest,
        r"endpoint src sent wrong content for blob sha256:[0-9a-f]{64} of apps/web: got 65536 "
        r"bytes hashing to sha256:",
    ),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_fails_clearly_and_changes_nothing(
    case: str,
    registry_pair: RegistryPair,
    connect: Connect,
    write_rule: WriteRule,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    source, destination = registry_pair
    push_image(destination, "existing/app", "1.0")  # what the destination must keep as is
    connect("src", source)
    connect("dst", destination)
    bench = Bench(source, destination, connect, write_rule, monkeypatch, request, caplog)
    make_mistake, names_it = CASES[case]
    before = stored_state(destination)

    error = make_mistake(bench)

    assert re.search(names_it, error), error
    tags, blobs = stored_state(destination)
    assert tags == before[0]
    if bench.corrupt is None:
        assert blobs == before[1]
    else:  # its intact siblings, copied meanwhile, may stay (untagged); it never lands
        assert bench.corrupt not in blobs
    if bench.destination is not destination:  # the case aimed at a registry of its own
        assert stored_state(bench.destination) == ({}, frozenset())
