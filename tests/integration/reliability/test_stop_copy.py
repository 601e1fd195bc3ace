"""A stopped copy ends at once, cleanly: no blob finishes, nothing is tagged, the log says so.

Airflow 3.3 stops a running task (the UI's *Mark as failed*, the REST PATCH of its run) by
having the supervisor send the task process SIGTERM at its next heartbeat, then SIGKILL 5 s
later. The Task SDK's SIGTERM handler only calls ``on_kill``; regrep's copy task stops its
blob streams itself (:mod:`regrep.registry.cancellation`). These tests copy a big blob from a slow
source (a throttling relay in front of a real registry, or regrep's own bandwidth limit) and
stop it: first with a real SIGTERM to this process while ``copy_resource`` runs in its main
thread, as in a task process, then through Airflow's real stop path on a real deployment.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import yaml

from regrep.airflow_api import ApiError
from regrep.engine.bandwidth import Bandwidth
from regrep.engine.resource_copy import copy_resource
from regrep.engine.transfer import Transfer
from regrep.registry.cancellation import Cancellation, CopyStopped
from regrep.registry.client import RegistryClient
from regrep.rules import Rule
from regrep.tasks.plan_task import plan_run
from regrep.tasks.termination import stop_on_termination
from tests.integration.airflow.dagruns import Connect
from tests.integration.deployment.conftest import STARTED
from tests.integration.reliability.conftest import FaultyPair
from tests.support.airflow_deployment import Deployment, start_deployment
from tests.support.blobs import blob_digest, make_blob
from tests.support.images import blob_size, manifest_digest, push_image
from tests.support.registries import RegistryPair, start_registry
from tests.support.throttle import throttled
from tests.support.waiting import wait_for

MIB = 1 << 20
KIB = 1024
BIG = 8 * MIB  # 32 s at 256 KiB/s: a stop that waited for the blob would show


@contextmanager
def sdk_handler() -> Iterator[list[int]]:
    """Stand in for the Task SDK's SIGTERM handler (it calls ``on_kill`` and returns).

    It is what ``stop_on_termination`` must chain to, and it keeps a SIGTERM that no copy
    handles from killing the test run.
    """
    calls: list[int] = []

    def on_kill(signum: int, frame: FrameType | None) -> None:
        calls.append(signum)

    previous = signal.signal(signal.SIGTERM, on_kill)
    try:
        yield calls
    finally:
        signal.signal(signal.SIGTERM, previous)


def terminate_after(seconds: float) -> list[float]:
    """SIGTERM this process in ``seconds``, as the supervisor does; the moment it was sent."""
    sent: list[float] = []

    def fire() -> None:
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGTERM)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    return sent


def blob_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("regrep-blob")]


@pytest.mark.slow
@pytest.mark.parametrize("slowness", ["slow source", "bandwidth limit in chunks"])
def test_sigterm_abandons_the_blobs_in_flight_and_tags_nothing(
    registry_pair: RegistryPair, slowness: str, caplog: pytest.LogCaptureFixture
) -> None:
    src, dst = registry_pair
    image = push_image(src, "apps/big", "1", layer_sizes=(BIG, 64 * KIB, 2 * MIB))
    log = logging.getLogger("tests.stop_copy")
    with (
        throttled(src, bytes_per_second=256 * KIB) as slow_url,
        sdk_handler() as sdk_calls,
        caplog.at_level(logging.INFO, logger=log.name),
    ):
        stop = Cancellation()  # the task's: its clients are built with it
        if slowness == "slow source":
            source, transfer = RegistryClient.connect(slow_url, name="src", stop=stop), Transfer()
        else:  # a fast source paced by regrep's limiter, sending PATCHes of 1 MiB
            limit = Bandwidth(256 * KIB)
            source = RegistryClient.connect(src.url, name="src", stop=stop)
            transfer = Transfer(bandwidth=limit, chunk_size=MIB)
        destination = RegistryClient.connect(dst.url, name="dst", stop=stop)
        sent = terminate_after(2.0)
        with (
            pytest.raises(CopyStopped, match="terminated"),
            stop_on_termination(stop, log, what="apps/big:1"),
        ):
            copy_resource(
                source, destination, "apps/big", "1", "apps/big", transfer=transfer, log=log
            )
        stopped_after = time.monotonic() - sent[0]

    assert stopped_after < 2.0, f"the copy took {stopped_after:.1f} s to stop"
    assert blob_threads() == []  # every stream ended: nothing keeps the process alive
    assert sdk_calls == [signal.SIGTERM]  # the Task SDK's handler (on_kill) still ran
    assert signal.getsignal(signal.SIGTERM) is not None
    assert manifest_digest(dst, "apps/big", "1") is None
    big = next(digest for digest, size in image.blobs.items() if size == BIG)
    assert blob_size(dst, "apps/big", big) is None
    requests = dst.access_log()
    assert not [r for r in requests if "/manifests/" in r.path and r.method == "PUT"]
    assert [r for r in requests if r.method == "DELETE" and "/blobs/uploads/" in r.path]
    messages = [record.getMessage() for record in caplog.records]
    assert any(m.startswith("stopping the copy: the task was terminated") for m in messages)
    assert any(m.startswith(f"abandoned blob {big}") for m in messages)
    assert any(m.startswith("stopped copying apps/big:1: ") for m in messages)


def test_a_copy_stopped_before_its_blobs_pushes_nothing(registry_pair: RegistryPair) -> None:
    """A stop that came while the manifest was read: no blob starts, no manifest is put."""
    src, dst = registry_pair
    push_image(src, "apps/small", "1")
    stop = Cancellation()
    stop.cancel("stopped by the test")
    with pytest.raises(CopyStopped, match="stopped by the test"):
        copy_resource(
            RegistryClient.connect(src.url, name="src", stop=stop),
            RegistryClient.connect(dst.url, name="dst", stop=stop),
            "apps/small",
            "1",
            "apps/small",
            transfer=Transfer(),
        )
    assert manifest_digest(dst, "apps/small", "1") is None
    assert not [r for r in dst.access_log() if r.method in ("POST", "PUT", "PATCH")]


@pytest.mark.slow
def test_a_stopped_plan_abandons_the_shared_blobs_it_was_seeding(
    registry_pair: RegistryPair, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    """The plan copies blobs that several resources share before the copies fan out: a
    SIGTERM then (a run marked failed while planning) ends it as promptly as a copy."""
    src, dst = registry_pair
    connect("src", src)
    connect("dst", dst)
    base = make_blob(BIG, seed="stop-plan-base")
    for tag in ("1", "2"):
        push_image(src, "apps/web", tag, layer_sizes=(KIB,), base_layers=(base,))
    rule = Rule.model_validate(
        {"name": "stop-plan", "source": "src", "destination": "dst", "speed_limit_kbps": 256}
    )
    with sdk_handler() as sdk_calls, caplog.at_level(logging.INFO):
        sent = terminate_after(2.0)
        with pytest.raises(CopyStopped, match="terminated"):
            plan_run(rule)
        stopped_after = time.monotonic() - sent[0]

    assert stopped_after < 2.0, f"the plan took {stopped_after:.1f} s to stop"
    assert blob_threads() == []
    assert sdk_calls == [signal.SIGTERM]
    assert blob_size(dst, "apps/web", blob_digest(base)) is None
    messages = [record.getMessage() for record in caplog.records]
    assert any(
        m.startswith("stopped copying the shared blobs of rule stop-plan: ") for m in messages
    )


@pytest.mark.slow
def test_a_stop_breaks_off_an_upload_the_destination_stopped_reading(
    faulty_pair: FaultyPair, caplog: pytest.LogCaptureFixture
) -> None:
    """The destination stops reading the blob's PUT (its proxy takes 64 KiB, then waits
    for hours): once the sockets' buffers are full, the copy's thread blocks sending a chunk
    until the socket times out (60 s), where no check between chunks reaches it. A SIGTERM
    shuts that connection down, and the upload session is cancelled."""
    image = push_image(faulty_pair.source.registry, "apps/big", "1", layer_sizes=(4 * BIG,))
    big = next(digest for digest, size in image.blobs.items() if size == 4 * BIG)
    faulty_pair.destination.slow("PUT", big.removeprefix("sha256:"), rate=1.0)  # stalled
    log = logging.getLogger("tests.stop_copy")
    stop = Cancellation()
    with sdk_handler(), caplog.at_level(logging.INFO, logger=log.name):
        sent = terminate_after(3.0)
        with (
            pytest.raises(CopyStopped, match="terminated"),
            stop_on_termination(stop, log, what="apps/big:1"),
        ):
            copy_resource(
                RegistryClient.connect(faulty_pair.source.url, name="src", stop=stop),
                RegistryClient.connect(faulty_pair.destination.url, name="dst", stop=stop),
                "apps/big",
                "1",
                "apps/big",
                transfer=Transfer(),
                log=log,
            )
        stopped_after = time.monotonic() - sent[0]

    assert stopped_after < 2.0, f"the copy took {stopped_after:.1f} s to stop"
    assert blob_threads() == []
    dst = faulty_pair.destination.upstream
    assert blob_size(dst, "apps/big", big) is None
    assert manifest_digest(dst, "apps/big", "1") is None
    assert faulty_pair.destination.requests("DELETE", "/blobs/uploads/")  # session cancelled
    messages = [record.getMessage() for record in caplog.records]
    assert any(m.startswith(f"abandoned blob {big}") for m in messages)


def test_a_stop_does_not_wait_out_a_retry_after(
    faulty_pair: FaultyPair, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    """The destination answers 429 with ``Retry-After: 25`` (within what a request waits
    for): the task's clients wait on its stop, so a SIGTERM ends the wait, and the plan."""
    push_image(faulty_pair.source.registry, "apps/web", "1", layer_sizes=(KIB,))
    connect("src", faulty_pair.source.registry)
    connect("dst", faulty_pair.destination.registry)
    faulty_pair.destination.fail(
        "HEAD", "/manifests/1", 429, times=3, headers={"Retry-After": "25"}
    )
    rule = Rule.model_validate({"name": "stop-retry", "source": "src", "destination": "dst"})
    with sdk_handler(), caplog.at_level(logging.WARNING):
        sent = terminate_after(1.0)
        with pytest.raises(CopyStopped, match="terminated"):
            plan_run(rule)
        stopped_after = time.monotonic() - sent[0]

    assert stopped_after < 2.0, f"the plan took {stopped_after:.1f} s to stop"
    assert any("Retry-After 25 s" in record.getMessage() for record in caplog.records)
    assert len(faulty_pair.destination.requests("HEAD", "/manifests/1")) == 1  # no retry


# --- Airflow's own stop, on a real deployment ------------------------------------------------


def log_entries(
    deployment: Deployment, dag_id: str, run_id: str, task_id: str, map_index: int
) -> list[dict[str, Any]]:
    """A task attempt's structured log entries (``event``, ``timestamp``, ``level``...);
    none while the task instance does not exist yet (its run is still planning)."""
    path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/1"
    try:
        answer = deployment.api.get(path, map_index=map_index, full_content="true")
    except ApiError as error:
        if error.status == 404:
            return []
        raise
    return [entry for entry in answer["content"] if isinstance(entry, dict)]


def logged_at(entries: list[dict[str, Any]], event: str) -> datetime:
    """When the first entry whose message starts with ``event`` was logged."""
    for entry in entries:
        if str(entry.get("event", "")).startswith(event):
            return datetime.fromisoformat(str(entry["timestamp"]))
    raise AssertionError(f"no {event!r} in the task log: {[e.get('event') for e in entries]}")


@pytest.fixture
def deployment(
    request: pytest.FixtureRequest, registry_tools: None, tmp_path: Path
) -> Iterator[tuple[Deployment, Path]]:
    """A LocalExecutor deployment on PostgreSQL reading rules from its own directory."""
    rules = tmp_path / "rules"
    rules.mkdir()
    running = start_deployment(
        tmp_path / "airflow",
        executor="LocalExecutor",
        rules_dir=rules,
        extra_env={
            "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",  # the stop is noticed in 1 s
        },
    )
    request.node.stash.setdefault(STARTED, []).append(running)  # log tails on failure
    try:
        yield running, rules
    finally:
        running.stop()


@pytest.mark.slow
@pytest.mark.airflow
def test_marking_the_run_failed_stops_its_copy_before_sigkill(
    deployment: tuple[Deployment, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    site, rules = deployment
    workdir = tmp_path_factory.mktemp("registries")
    with (
        start_registry(workdir, name="stop-src") as src,
        start_registry(workdir, name="stop-dst") as dst,
        throttled(src, bytes_per_second=256 * KIB) as slow_url,
    ):
        image = push_image(src, "apps/big", "1", layer_sizes=(BIG,))
        site.create_connection("stop_src", "regrep_docker_registry", slow_url)
        site.create_connection("stop_dst", "regrep_docker_registry", dst.url)
        rule = {"name": "stop", "source": "stop_src", "destination": "stop_dst", "retries": 0}
        (rules / "stop.yaml").write_text(yaml.safe_dump(rule))
        dag_id = "replicate_stop"
        site.wait_for_dag(dag_id)
        run_id = site.trigger(dag_id)

        def copying() -> bool | None:
            entries = log_entries(site, dag_id, run_id, "copy", 0)
            return any(str(e.get("event", "")).startswith("copying ") for e in entries) or None

        wait_for("the copy to start", copying)
        time.sleep(3)  # well into the 32 s blob
        site.api.patch(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}", {"state": "failed"})

        def ended() -> list[dict[str, Any]] | None:
            entries = log_entries(site, dag_id, run_id, "copy", 0)
            return entries if any(e.get("event") == "Task killed!" for e in entries) else None

        entries = wait_for("the supervisor to end the copy", ended, timeout=60)
        events = [str(e.get("event", "")) for e in entries]
        # The supervisor sends SIGTERM right after saying so, and SIGKILL 5 s later. ("Task
        # killed!" is no measure: the supervisor may notice a prompt exit only at the 5 s.)
        told = logged_at(entries, "Server indicated the task shouldn't be running anymore")
        stopped = logged_at(entries, "stopped copying apps/big:1: ")
        assert (stopped - told).total_seconds() < 2.0, events
        assert "stopping the copy: the task was terminated (SIGTERM)" in " ".join(events)
        assert logged_at(entries, "Task failed with exception") >= stopped  # the runner's turn
        (ti,) = [t for t in site.task_instances(dag_id, run_id) if t["task_id"] == "copy"]
        finished = wait_for(
            "the supervisor to report the copy's end",
            lambda: re.search(
                rf"Workload finished .*exit_code=(<[^>]*>|\S+) .*workload_id={ti['id']}",
                site.log_path("scheduler").read_text(errors="replace"),
            ),
            timeout=30,
        )
        # It ended by itself: SIGKILLed, it would be "<Negsignal.SIGKILL: -9>".
        assert finished.group(1) == "0"
        assert manifest_digest(dst, "apps/big", "1") is None
        big = next(digest for digest, size in image.blobs.items() if size == BIG)
        assert blob_size(dst, "apps/big", big) is None
        assert site.api.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"] == "failed"
