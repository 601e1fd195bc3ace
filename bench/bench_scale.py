"""Benchmark a rule matching thousands of tags: planning, the map it produces, a full run.

The source gets ``--tags`` tags across ``--repositories`` repositories (``scale/r000`` ...):
tiny images whose manifests differ (an annotation) but share their config and layer blobs,
so that pushing 5,000 of them takes seconds. Then:

1. **planning**, in this process with the rule's own code (:func:`plan_replication`):
   seconds, registry requests (both access logs), and what the plan hands Airflow: how many
   copy task instances (:mod:`regrep.tasks.fanout` batches above 256) and the XCom's size;
2. **skopeo sync** of the same tags into a fresh registry, for the same measures;
3. **a full run** through a real deployment (LocalExecutor, PostgreSQL): trigger to end,
   copy task instances and their states, every tag checked at the destination;
4. **the unchanged re-run** of both tools, by requests.

    .venv/bin/python bench/bench_scale.py [--tags 5000 --repositories 100] [--no-airflow]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import yaml
from bench_end_to_end import run_rule
from common import print_machine, timed

from regrep.planning.planner import plan_replication
from regrep.registry.client import RegistryClient
from regrep.rules import Rule
from regrep.tasks.fanout import MAX_COPY_TASKS, copy_entries
from tests.support.airflow_deployment import start_deployment
from tests.support.images import OCI_MANIFEST, list_tags
from tests.support.registries import RunningRegistry, start_registry

PREFIX = "scale"
REPO = Path(__file__).resolve().parent.parent
CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
LAYERS = (b"regrep scale layer one\n" * 64, b"regrep scale layer two\n" * 64)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tags", type=int, default=5000)
    parser.add_argument("--repositories", type=int, default=100)
    parser.add_argument("--no-airflow", action="store_true", help="skip the deployment run")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep its logs")
    args = parser.parse_args(argv)

    print_machine()
    failures = 0
    with tempfile.TemporaryDirectory(prefix="regrep-scale-") as tmp:
        workdir = args.keep or Path(tmp)
        source = start_registry(workdir, name="source")
        started = time.monotonic()
        expected = push_tags(source, args.tags, args.repositories)
        print(
            f"content: {args.tags} tags in {args.repositories} repositories, pushed in "
            f"{time.monotonic() - started:.0f} s"
        )
        rule = Rule.model_validate(
            {
                "name": "scale",
                "source": "src",
                "destination": "dst",
                "filters": {"name": f"{PREFIX}/**"},
            }
        )
        planned = start_registry(workdir, name="planned")
        plan_seconds, plan_requests, tasks, xcom_bytes = plan_once(rule, source, planned)
        print(
            f"\nplanning {args.tags} tags: {plan_seconds:.1f} s, {plan_requests} requests; "
            f"{tasks} copy task instances (at most {MAX_COPY_TASKS}), the mapped list (each "
            f"instance reads it) "
            f"{xcom_bytes / 1024:.0f} KiB"
        )
        planned.stop()
        skopeo = skopeo_sync(workdir, source, expected)
        print(
            f"skopeo sync: {skopeo[0]:.1f} s, {skopeo[1]} requests; "
            f"unchanged re-run {skopeo[2]} requests"
        )
        if not args.no_airflow:
            failures += airflow_run(workdir, source, expected, skopeo)
        source.stop()
    return 1 if failures else 0


def push_tags(source: RunningRegistry, tags: int, repositories: int) -> dict[str, set[str]]:
    """Push the tiny images: the shared blobs once per repository, then every manifest."""
    names = [f"{PREFIX}/r{n:03d}" for n in range(repositories)]
    per_repository = -(-tags // repositories)
    wanted = {name: {f"t{n:04d}" for n in range(per_repository)} for name in names}
    extra = per_repository * repositories - tags
    for name in names[:extra]:
        wanted[name].discard(f"t{per_repository - 1:04d}")
    session = requests.Session()
    for name in names:
        for blob in (CONFIG, *LAYERS):
            digest = sha256(blob)
            answer = session.post(f"{source.url}/v2/{name}/blobs/uploads/")
            location = requests.compat.urljoin(source.url, answer.headers["Location"])
            session.put(location, params={"digest": digest}, data=blob).raise_for_status()

    def push(item: tuple[str, str]) -> None:
        name, tag = item
        raw = manifest(f"{name}:{tag}")
        url = f"{source.url}/v2/{name}/manifests/{tag}"
        with requests.Session() as own:
            own.put(url, data=raw, headers={"Content-Type": OCI_MANIFEST}).raise_for_status()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(push, [(n, t) for n, ts in wanted.items() for t in sorted(ts)]))
    return wanted


def manifest(label: str) -> bytes:
    """An image manifest of the shared blobs, made unique by an annotation."""

    def descriptor(media_type: str, blob: bytes) -> dict[str, object]:
        return {"mediaType": media_type, "digest": sha256(blob), "size": len(blob)}

    layer = "application/vnd.oci.image.layer.v1.tar"
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor("application/vnd.oci.image.config.v1+json", CONFIG),
            "layers": [descriptor(layer, blob) for blob in LAYERS],
            "annotations": {"org.regrep.bench": label},
        }
    ).encode()


def sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def plan_once(
    rule: Rule, source: RunningRegistry, destination: RunningRegistry
) -> tuple[float, int, int, int]:
    """Plan with regrep's code: seconds, requests, copy task instances, the bytes of the
    list the copy task is mapped over."""
    before = len(source.access_log()) + len(destination.access_log())
    with (
        RegistryClient.connect(source.url, name="src") as src,
        RegistryClient.connect(destination.url) as dst,
    ):
        started = time.monotonic()
        plan = plan_replication(rule, src, dst)
        seconds = time.monotonic() - started
    requests_made = len(source.access_log()) + len(destination.access_log()) - before
    copy_map = copy_entries(plan, [[] for _ in plan.resources], [{} for _ in plan.resources])
    return seconds, requests_made, len(copy_map.instances), len(json.dumps(copy_map.instances))


def skopeo_sync(
    workdir: Path, source: RunningRegistry, expected: dict[str, set[str]]
) -> tuple[float, int, int]:
    """skopeo sync into a fresh registry, twice: seconds, requests, re-run requests."""
    config = {source.host: {"tls-verify": False, "images": {name: [] for name in expected}}}
    (workdir / "skopeo-source.yaml").write_text(yaml.safe_dump(config))
    with start_registry(workdir, name="skopeo") as destination:
        command = [
            *("skopeo", "sync", "--src", "yaml", "--dest", "docker"),
            *("--dest-tls-verify=false", "--preserve-digests"),
            str(workdir / "skopeo-source.yaml"),
            f"{destination.host}/{PREFIX}",
        ]
        before = len(source.access_log())
        seconds = timed(command, workdir / "skopeo.out").seconds
        first = len(source.access_log()) - before + len(destination.access_log())
        before = len(source.access_log()) + len(destination.access_log())
        timed(command, workdir / "skopeo-rerun.out")
        rerun = len(source.access_log()) + len(destination.access_log()) - before
    return seconds, first, rerun


def airflow_run(
    workdir: Path,
    source: RunningRegistry,
    expected: dict[str, set[str]],
    skopeo: tuple[float, int, int],
) -> int:
    """The rule's DAG on a real deployment, then again unchanged; 1 if a tag is missing."""
    destination = start_registry(workdir, name="destination")
    rules = workdir / "rules"
    rules.mkdir()
    rule = {"name": "scale", "source": "src", "destination": "dst"}
    (rules / "scale.yaml").write_text(yaml.safe_dump({**rule, "filters": {"name": f"{PREFIX}/**"}}))
    connections = {
        name: {"conn_type": "regrep_docker_registry", "host": registry.url}
        for name, registry in (("src", source), ("dst", destination))
    }
    with start_deployment(
        workdir / "airflow",
        executor="LocalExecutor",
        dags_folder=REPO / "dags",
        rules_dir=rules,
        connections=connections,
    ) as airflow:
        airflow.wait_for_dag("replicate_scale")
        before = len(source.access_log())
        run = run_rule(airflow, "replicate_scale")
        made = len(source.access_log()) - before + len(destination.access_log())
        instances = [
            ti
            for ti in airflow.task_instances("replicate_scale", run.run_id)
            if ti["task_id"] == "copy"
        ]
        states = sorted({str(ti["state"]) for ti in instances})
        labels = [ti["rendered_map_index"] for ti in instances[:2]]
        print(
            f"\nregrep rule run on Airflow: {run.seconds:.1f} s from trigger to end "
            f"(skopeo sync {skopeo[0]:.1f} s: ratio {run.seconds / skopeo[0]:.2f}), "
            f"{made} requests "
            f"(skopeo {skopeo[1]}); {len(instances)} copy task instances, states {states}, "
            f"labelled like {labels}"
        )
        missing = [
            f"{name}:{tag}"
            for name, tags in expected.items()
            for tag in tags - set(list_tags(destination, name))
        ]
        before = len(source.access_log()) + len(destination.access_log())
        again = run_rule(airflow, "replicate_scale")
        rerun = len(source.access_log()) + len(destination.access_log()) - before
        print(
            f"unchanged re-run: {again.seconds:.1f} s, {rerun} requests (skopeo {skopeo[2]}: "
            f"ratio {rerun / max(1, skopeo[2]):.2f}), {again.copy_tasks} copy tasks"
        )
    destination.stop()
    for label in missing[:20]:
        print(f"MISSING at the destination: {label}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
