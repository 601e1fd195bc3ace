"""`make demo`: regrep's main job on the embedded default, from nothing to a finished run.

It starts two real registries (Debian's ``docker-registry``) on loopback ports, pushes a few
generated images into the source, writes a demo rule, starts ``airflow standalone`` (SQLite,
LocalExecutor) with both registries as Airflow connections, triggers the rule's DAG through
the REST API and prints the run's result. Everything it starts keeps running so the user can
explore the UI; ``make demo-stop`` (``demo.py stop``) ends it. All state lives in ``.demo/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.images import make_blob, push_image, push_index  # noqa: E402
from tests.support.registries import RunningRegistry, start_registry  # noqa: E402

STATE = REPO / ".demo"
PIDS = STATE / "pids.json"
DAG_ID = "replicate_demo"
RULE = """\
# The demo rule: mirror everything under library/ into the destination's "mirror" namespace.
name: demo
description: Mirror the demo library images into the mirror namespace
source: demo_source
destination: demo_destination
filters:
  name: "library/**"
  tag: "*"
destination_namespace: mirror
destination_namespace_replace_count: 1
trigger: {type: manual}
override: true
retries: 1
retry_delay_minutes: 1
"""
# SQLite serialises writers: keep task concurrency low so no result is lost to
# "database is locked" (see the README for when to move to PostgreSQL).
SQLITE_CONCURRENCY = "2"


def free_port(preferred: int) -> int:
    """Return ``preferred`` when it is free on loopback, otherwise any free port."""
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError("no free loopback port")


def airflow_env(port: int) -> dict[str, str]:
    """Environment for every Airflow command of the demo."""
    env = dict(os.environ)
    env.update(
        {
            "PATH": f"{REPO / '.venv' / 'bin'}:{env.get('PATH', '')}",
            "AIRFLOW_HOME": str(STATE / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__CORE__PARALLELISM": SQLITE_CONCURRENCY,
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": SQLITE_CONCURRENCY,
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            # As docker-compose.yaml ships it: a run's tasks start sooner (docs/performance.md).
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.2",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "REGREP_RULES_DIR": str(STATE / "rules"),
        }
    )
    return env


def run_airflow(env: dict[str, str], *args: str) -> None:
    """Run one ``airflow`` CLI command, failing loudly with its output."""
    done = subprocess.run(["airflow", *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"airflow {' '.join(args[:2])} failed:\n{done.stdout}{done.stderr}")


def wait_for(what: str, check: Callable[[], bool], timeout: float) -> None:
    """Poll ``check`` until it is true, or stop the demo saying what never happened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1)
    raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}; see {STATE}/airflow.log")


def seed_source(source: RunningRegistry) -> None:
    """Push the demo images: a shared base layer, several tags, a multi-platform index."""
    base = (make_blob(2 * 1024 * 1024, seed="demo-base"),)
    push_image(source, "library/hello", "1.0", layer_sizes=(512 * 1024,), base_layers=base)
    push_image(source, "library/hello", "1.1", layer_sizes=(512 * 1024,), base_layers=base)
    push_image(source, "library/tools/cli", "2.0", layer_sizes=(1024 * 1024,), base_layers=base)
    push_index(source, "library/multiarch", "latest")
    push_image(source, "internal/not-mirrored", "1.0", layer_sizes=(256 * 1024,))


def connection_json(registry: RunningRegistry) -> str:
    return json.dumps({"conn_type": "regrep_docker_registry", "host": registry.url})


def api(port: int, token: str, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(
        method,
        f"http://127.0.0.1:{port}{path}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
        **kwargs,
    )


def start() -> None:
    if PIDS.exists():
        stop()
    STATE.mkdir(exist_ok=True)
    (STATE / "rules").mkdir(exist_ok=True)
    source = start_registry(STATE / "source", name="demo-source", detach=True)
    destination = start_registry(STATE / "destination", name="demo-destination", detach=True)
    port = free_port(8080)
    env = airflow_env(port)
    pids: dict[str, int] = {"source": source.process.pid, "destination": destination.process.pid}
    PIDS.write_text(json.dumps(pids))
    print(f"registries: source {source.url}, destination {destination.url}")

    seed_source(source)
    (STATE / "rules" / "demo.yaml").write_text(RULE)
    print(f"demo rule written to {STATE / 'rules' / 'demo.yaml'}")

    run_airflow(env, "db", "migrate")
    for conn_id, registry in (("demo_source", source), ("demo_destination", destination)):
        subprocess.run(["airflow", "connections", "delete", conn_id], env=env, capture_output=True)
        run_airflow(env, "connections", "add", conn_id, "--conn-json", connection_json(registry))

    log = (STATE / "airflow.log").open("ab")
    standalone = subprocess.Popen(
        ["airflow", "standalone"], env=env, stdout=log, stderr=log, start_new_session=True
    )
    pids["airflow"] = standalone.pid
    PIDS.write_text(json.dumps(pids))
    print(f"airflow standalone starting (log: {STATE / 'airflow.log'}) ...")

    def api_up() -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2).ok
        except requests.RequestException:
            return False

    wait_for("the Airflow API server", api_up, 240)
    password_file = STATE / "airflow" / "simple_auth_manager_passwords.json.generated"
    wait_for("the admin password", password_file.exists, 60)
    password = json.loads(password_file.read_text())["admin"]
    token = requests.post(
        f"http://127.0.0.1:{port}/auth/token",
        json={"username": "admin", "password": password},
        timeout=30,
    ).json()["access_token"]

    wait_for(f"DAG {DAG_ID}", lambda: api(port, token, "GET", f"/api/v2/dags/{DAG_ID}").ok, 180)
    api(port, token, "PATCH", f"/api/v2/dags/{DAG_ID}", json={"is_paused": False})
    run = api(port, token, "POST", f"/api/v2/dags/{DAG_ID}/dagRuns", json={"logical_date": None})
    run.raise_for_status()
    run_id = run.json()["dag_run_id"]
    print(f"triggered {DAG_ID} run {run_id}; waiting for it to finish ...")

    run_path = f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}"
    wait_for(
        f"run {run_id}",
        lambda: api(port, token, "GET", run_path).json()["state"] in ("success", "failed"),
        600,
    )
    state = api(port, token, "GET", run_path).json()["state"]
    instances = api(port, token, "GET", f"{run_path}/taskInstances").json()["task_instances"]
    print(f"\nrun {run_id}: {state.upper()}")
    for ti in sorted(instances, key=lambda t: (t["task_id"], t["map_index"])):
        label = ti.get("rendered_map_index") or ""
        print(f"  {ti['task_id']:<8} {label:<32} {ti['state']}")
    catalog = requests.get(f"{destination.url}/v2/_catalog", timeout=10).json()
    print(f"\ndestination repositories: {', '.join(catalog.get('repositories', []))}")
    print(
        f"\nAirflow UI:   http://127.0.0.1:{port}  (login admin / {password})\n"
        f"Replication:  http://127.0.0.1:{port}/plugin/replication  (rules and executions)\n"
        f"REST API:     http://127.0.0.1:{port}/api/v2  (POST /auth/token for a bearer token)\n"
        f"rules folder: {STATE / 'rules'}  (REGREP_RULES_DIR)\n"
        f"stop it all:  make demo-stop"
    )
    if state != "success":
        raise SystemExit(1)


def stop() -> None:
    """Stop what ``start`` left running: Airflow on SIGINT (how standalone shuts down)."""
    if not PIDS.exists():
        print("nothing to stop")
        return
    pids = json.loads(PIDS.read_text())
    if "airflow" in pids:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pids["airflow"], signal.SIGINT)
            for _ in range(60):
                os.killpg(pids["airflow"], 0)  # raises once the process group is gone
                time.sleep(0.5)
            os.killpg(pids["airflow"], signal.SIGKILL)
    for name in ("source", "destination"):
        if name in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pids[name], signal.SIGTERM)
    PIDS.unlink()
    print("demo stopped")


if __name__ == "__main__":
    {"start": start, "stop": stop}[sys.argv[1] if len(sys.argv) > 1 else "start"]()
