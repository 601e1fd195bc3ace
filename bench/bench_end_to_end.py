"""Benchmark a rule run on a real Airflow deployment against ``skopeo sync``, end to end.

Images like ``bench_copy.py``'s (pushed once to a source registry) are replicated by a rule's
DAG on a real deployment on this machine (``tests/support/airflow_deployment.py``: API
server, scheduler, DAG processor, triggerer; LocalExecutor; PostgreSQL), and by ``skopeo
sync`` into a fresh registry, alternating which goes first. Two workloads (``--workload``):
``mid``, 8 images of three 96 MiB layers, the first shared (1.6 GiB: a run's fixed cost
shows), and ``large``, ``bench_copy.py``'s 3.4 GiB. regrep's time is from the trigger
request to the run's ``end_date`` (plan, mapped copies: everything a user waits for);
skopeo's is its process. Each regrep repetition copies into a fresh destination too (one
rule per destination registry, all started with the deployment).

The deployment's first run is a 1-image rule (**fresh**: nothing has run yet on the
deployment); after the repetitions a second 1-image rule runs into its own empty destination
(**warm**): the difference is what a fresh deployment's first run pays. The deployment runs
Airflow's defaults (the harness's 5 s DAG re-parsing is set back to 30 s); ``--airflow``
changes a setting, e.g. ``--airflow scheduler__scheduler_idle_sleep_time=0.2`` (regrep's
deployment files ship that). The breakdown of the median run (between tasks, in them, CPU of
each Airflow component) shows where time goes.

Then the **unchanged re-run**: the first rule runs again, and skopeo syncs again into its
own filled destination. Both registries' access logs count the requests each re-run made
and the blob reads at the source; the re-run must start no copy task.

    .venv/bin/python bench/bench_end_to_end.py [--workload mid|large] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml
from bench_copy import DEFAULT_LAYERS, PREFIX, describe_content, layer_sizes, push_images
from bench_scale_out import Machine
from common import TAG, print_machine, skopeo_sync_command, timed, write_skopeo_source

from tests.support.airflow_deployment import Deployment, start_deployment
from tests.support.images import PushedImage, manifest_digest, push_image
from tests.support.registries import AccessLogEntry, RunningRegistry, start_registry

REPO = Path(__file__).resolve().parent.parent
WORKLOADS = {"mid": (8, "96,96,96"), "large": (8, DEFAULT_LAYERS)}
"""Images and layer sizes (MiB, the first shared) of each ``--workload``."""
TARGETS = {"mid": 0.8, "large": 1.0}
"""Trigger-to-end over skopeo's time that each workload aims at (issue 14; README)."""
RERUN_TARGET, SMALL_TARGET, FRESH_TARGET = 2.0, 3.0, 1.0
"""Seconds: an unchanged re-run, a 1-image run, a fresh deployment's extra on its first."""
WARMUP, SMALL = "warmup", "small"
POLL_SECONDS = 3.0


@dataclass(frozen=True)
class RuleRun:
    """One DAG run: trigger to end, and where the time and the CPU went."""

    run_id: str
    seconds: float
    phases: dict[str, float]
    copy_tasks: int
    copy_overhead: float  # median task duration minus the engine's own seconds
    airflow_cpu: dict[str, float]  # CPU seconds of each Airflow component, its tasks included
    machine_cpu: float  # busy CPU seconds of the whole machine, trigger to the end's discovery


@dataclass(frozen=True)
class Rerun:
    """What an unchanged re-run cost at both registries."""

    seconds: float
    requests: int
    blob_reads: int
    copy_tasks: int


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="mid")
    parser.add_argument("--images", type=int, help="images (one repository each)")
    parser.add_argument("--layer-mib", type=layer_sizes, help="instead of the workload's")
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep its logs")
    parser.add_argument(
        "--airflow",
        action="append",
        default=[],
        metavar="SECTION__KEY=VALUE",
        help="an Airflow setting for the deployment (AIRFLOW__SECTION__KEY), e.g. "
        "scheduler__scheduler_idle_sleep_time=0.2; repeatable",
    )
    args = parser.parse_args(argv)
    images_default, layers_default = WORKLOADS[args.workload]
    args.images = args.images or images_default
    args.layer_mib = args.layer_mib or layer_sizes(layers_default)
    target = TARGETS[args.workload]

    print_machine()
    wrong: list[str] = []
    with tempfile.TemporaryDirectory(prefix="regrep-e2e-") as tmp:
        workdir = args.keep or Path(tmp)
        source = start_registry(workdir, name="source")
        images = push_images(source, args.images, args.layer_mib)
        for one_image in (WARMUP, SMALL):
            push_image(source, f"{one_image}/tiny", TAG, layer_sizes=(1024,))
        total = sum({d: s for i in images for d, s in i.blobs.items()}.values())
        print(f"content: {describe_content(args.images, args.layer_mib, total)}")
        write_skopeo_source(workdir, source, images)
        targets = [start_registry(workdir, name=f"regrep-{n}") for n in range(args.repeat)]
        warm = {name: start_registry(workdir, name=name) for name in (WARMUP, SMALL)}
        started = time.monotonic()
        settings = dict(setting.split("=", 1) for setting in args.airflow)
        with deployment(workdir, source, targets, warm, settings) as airflow:
            tuned = ", ".join(f"{key}={value}" for key, value in settings.items()) or "defaults"
            print(
                f"deployment up in {time.monotonic() - started:.0f} s (LocalExecutor, "
                f"PostgreSQL; Airflow settings: {tuned})"
            )
            for rule in [
                *(f"replicate_{name}" for name in warm),
                *map(rule_id, range(args.repeat)),
            ]:
                airflow.wait_for_dag(rule)
            fresh = run_rule(airflow, "replicate_" + WARMUP)
            print(f"the deployment's first run, a 1-image rule: {fresh.seconds:.2f} s")
            regrep: list[RuleRun] = []
            skopeo: list[float] = []
            skopeo_cpu: list[float] = []
            for n in range(args.repeat):
                for tool in ("skopeo", "regrep") if n % 2 == 0 else ("regrep", "skopeo"):
                    # What the previous copy left in the page cache is written out first, so
                    # that no run pays for writing out its predecessor's gigabytes.
                    os.sync()
                    if tool == "regrep":
                        run = run_rule(airflow, rule_id(n))
                        wrong += mismatches(f"regrep run {n}", targets[n], images)
                        if n > 0:  # the first one stays filled for the unchanged re-run
                            targets[n].stop()
                            shutil.rmtree(targets[n].data_dir, ignore_errors=True)
                        regrep.append(run)
                        seconds = run.seconds
                    else:
                        seconds, cpu, found = skopeo_sync(workdir, source, images, f"skopeo-{n}")
                        wrong += found
                        skopeo.append(seconds)
                        skopeo_cpu.append(cpu)
                    print(f"  repetition {n + 1}: {tool:<7} {seconds:6.2f} s", flush=True)
            print_runs(regrep, skopeo, target)
            print_machine_cpu(regrep, skopeo_cpu)
            small = run_rule(airflow, "replicate_" + SMALL)
            print_small(fresh, small)
            print_reruns(
                rerun_rule(airflow, source, targets[0]), rerun_skopeo(workdir, source, images)
            )
        for registry in (source, *warm.values(), *targets):
            registry.stop()
    for line in wrong:
        print(f"DIGEST MISMATCH: {line}", file=sys.stderr)
    return 1 if wrong else 0


def rule_id(n: int) -> str:
    return f"replicate_e2e-{n}"


def deployment(
    workdir: Path,
    source: RunningRegistry,
    targets: Sequence[RunningRegistry],
    warm: Mapping[str, RunningRegistry],
    settings: Mapping[str, str],
) -> Deployment:
    """A LocalExecutor deployment with one rule per destination, and the 1-image rules."""
    rules = workdir / "rules"
    rules.mkdir()
    endpoints = {"src": source, **warm} | {f"dst{n}": t for n, t in enumerate(targets)}
    specs = [(name, name, f"{name}/**") for name in warm] + [
        (f"e2e-{n}", f"dst{n}", f"{PREFIX}/**") for n in range(len(targets))
    ]
    for name, destination, pattern in specs:
        rule = {
            "name": name,
            "source": "src",
            "destination": destination,
            "filters": {"name": pattern},
            "trigger": {"type": "manual"},
            "retries": 0,
        }
        (rules / f"{name}.yaml").write_text(yaml.safe_dump(rule))
    connections = {
        name: {"conn_type": "regrep_docker_registry", "host": registry.url}
        for name, registry in endpoints.items()
    }
    return start_deployment(
        workdir / "airflow",
        executor="LocalExecutor",
        dags_folder=REPO / "dags",
        rules_dir=rules,
        connections=connections,
        extra_env={
            # Back to Airflow's default: the test harness re-parses DAG files every 5 s so
            # tests see new rules quickly; here the rules exist before the deployment starts.
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
            **{f"AIRFLOW__{key.upper()}": value for key, value in settings.items()},
        },
    )


def run_rule(airflow: Deployment, dag_id: str) -> RuleRun:
    """Trigger ``dag_id``; the time from the trigger request to the run's end."""
    cpu_before = {c.name: tree_cpu_seconds([c.process.pid]) for c in airflow.components}
    machine = Machine.now()
    started = time.time()
    run_id = airflow.trigger(dag_id)
    state = wait_for_end(airflow, dag_id, run_id)
    machine_cpu = busy_seconds(Machine.now() - machine)
    cpu = {
        c.name: tree_cpu_seconds([c.process.pid]) - cpu_before[c.name] for c in airflow.components
    }
    if state != "success":
        raise RuntimeError(f"{dag_id} run {run_id} ended {state}")
    run = airflow.api.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
    instances = airflow.task_instances(dag_id, run_id)
    end = stamp(run["end_date"])
    return RuleRun(
        run_id=run_id,
        seconds=end - started,
        phases=phases(started, instances, end),
        copy_tasks=sum(1 for ti in instances if ti["task_id"] == "copy" and ti["map_index"] >= 0),
        copy_overhead=copy_overhead(airflow, dag_id, run_id, instances),
        airflow_cpu=cpu,
        machine_cpu=machine_cpu,
    )


def busy_seconds(spent: Machine) -> float:
    """The CPU seconds all of the machine's CPUs were busy (every process, the kernel)."""
    return spent.busy / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(roots: Iterable[int]) -> float:
    """CPU time of processes and all their descendants, reaped ones included (proc(5)).

    A task process's CPU moves into its parent's ``cutime`` when the parent reaps it, so
    summing every live process's own and children's time counts each second once.
    """
    stats: dict[int, list[str]] = {}
    for path in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError):
            stats[int(path.parent.name)] = path.read_text().rsplit(")", 1)[1].split()
    children: dict[int, list[int]] = {}
    for pid, fields in stats.items():
        children.setdefault(int(fields[1]), []).append(pid)
    pending, ticks = list(roots), 0
    while pending:
        pid = pending.pop()
        own = stats.get(pid)
        if own is not None:
            ticks += sum(int(value) for value in own[11:15])  # utime stime cutime cstime
        pending += children.get(pid, [])
    return ticks / os.sysconf("SC_CLK_TCK")


def wait_for_end(airflow: Deployment, dag_id: str, run_id: str, timeout: float = 1800) -> str:
    """The run's final state. Polled every few seconds: the run's own ``end_date`` is the
    measure, so polling faster would only add the API server's work to the run's."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        state = str(airflow.api.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"])
        if state in ("success", "failed"):
            return state
    raise TimeoutError(f"{dag_id} run {run_id} did not end within {timeout:.0f} s")


def phases(started: float, instances: list[dict[str, Any]], end: float) -> dict[str, float]:
    """Seconds spent before, in and between the tasks of a run."""
    by_task: dict[str, list[dict[str, Any]]] = {}
    for ti in instances:
        if ti["start_date"]:
            by_task.setdefault(ti["task_id"], []).append(ti)
    marks = [("trigger", started)]
    for task in ("plan", "copy"):
        tis = by_task.get(task, [])
        if tis:
            marks.append((f"{task} start", min(stamp(t["start_date"]) for t in tis)))
            marks.append((f"{task} end", max(stamp(t["end_date"]) for t in tis)))
    marks.append(("run end", end))
    return {f"{a}->{b}": tb - ta for (a, ta), (b, tb) in pairwise(marks)}


def copy_overhead(
    airflow: Deployment, dag_id: str, run_id: str, instances: list[dict[str, Any]]
) -> float:
    """Median of a copy task's duration minus what its engine reported: Airflow's share."""
    extra = []
    for ti in instances:
        if ti["task_id"] != "copy" or ti["map_index"] < 0:
            continue
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/copy/xcomEntries/return_value"
        value = airflow.api.get(path, map_index=ti["map_index"], deserialize="true")["value"]
        results = value if isinstance(value, list) else [value]
        extra.append(float(ti["duration"]) - sum(float(r["seconds"]) for r in results))
    return statistics.median(extra) if extra else 0.0


def stamp(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def skopeo_sync(
    workdir: Path, source: RunningRegistry, images: Sequence[PushedImage], name: str
) -> tuple[float, float, list[str]]:
    """``skopeo sync`` into a fresh registry: its seconds, the machine's busy CPU seconds
    and any digest mismatch."""
    destination = start_registry(workdir, name=name)
    try:
        machine = Machine.now()
        seconds = timed(
            skopeo_sync_command(workdir, destination, PREFIX), workdir / f"{name}.out"
        ).seconds
        cpu = busy_seconds(Machine.now() - machine)
        return seconds, cpu, mismatches(name, destination, images)
    finally:
        destination.stop()
        shutil.rmtree(destination.data_dir, ignore_errors=True)


def mismatches(what: str, destination: RunningRegistry, images: Sequence[PushedImage]) -> list[str]:
    return [
        f"{what}: {image.repository}:{TAG} is {found}, source {image.digest}"
        for image in images
        if (found := manifest_digest(destination, image.repository, TAG)) != image.digest
    ]


def rerun_rule(airflow: Deployment, source: RunningRegistry, target: RunningRegistry) -> Rerun:
    """Run the first rule again over its filled destination; what it cost at both ends."""
    before = (len(source.access_log()), len(target.access_log()))
    run = run_rule(airflow, rule_id(0))
    return counted(run.seconds, source, target, before, run.copy_tasks)


def rerun_skopeo(workdir: Path, source: RunningRegistry, images: Sequence[PushedImage]) -> Rerun:
    """skopeo sync into a fresh registry, then again; what the second sync cost."""
    destination = start_registry(workdir, name="skopeo-rerun")
    try:
        command = skopeo_sync_command(workdir, destination, PREFIX)
        timed(command, workdir / "skopeo-first.out")
        before = (len(source.access_log()), len(destination.access_log()))
        seconds = timed(command, workdir / "skopeo-rerun.out").seconds
        return counted(seconds, source, destination, before, 0)
    finally:
        destination.stop()


def counted(
    seconds: float,
    source: RunningRegistry,
    destination: RunningRegistry,
    before: tuple[int, int],
    copy_tasks: int,
) -> Rerun:
    at_source = source.access_log()[before[0] :]
    at_destination = destination.access_log()[before[1] :]
    return Rerun(
        seconds=seconds,
        requests=len(at_source) + len(at_destination),
        blob_reads=sum(is_blob_read(entry) for entry in at_source),
        copy_tasks=copy_tasks,
    )


def is_blob_read(entry: AccessLogEntry) -> bool:
    return entry.method == "GET" and "/blobs/sha256:" in entry.path


def print_runs(regrep: Sequence[RuleRun], skopeo: Sequence[float], target: float) -> None:
    wall = [run.seconds for run in regrep]
    print(
        f"\n{'tool':<26} {'wall s median':>13} {'min':>6} {'max':>6}\n"
        f"{'skopeo sync':<26} {statistics.median(skopeo):13.2f} {min(skopeo):6.2f} "
        f"{max(skopeo):6.2f}\n"
        f"{'regrep rule run (Airflow)':<26} {statistics.median(wall):13.2f} {min(wall):6.2f} "
        f"{max(wall):6.2f}"
    )
    paired = [mine / theirs for mine, theirs in zip(wall, skopeo, strict=True)]
    print(
        f"\nratio regrep/skopeo = {statistics.median(wall) / statistics.median(skopeo):.2f} "
        f"(target <= {target:.2f})   [trigger to run end; per repetition "
        f"{min(paired):.2f}..{max(paired):.2f}]"
    )
    median_run = sorted(regrep, key=lambda run: run.seconds)[len(regrep) // 2]
    print(
        f"where the median run's time went ({median_run.copy_tasks} copy tasks, "
        f"{median_run.copy_overhead:.2f} s of each copy task outside the copy engine):"
    )
    for phase, seconds in median_run.phases.items():
        print(f"  {phase:<28} {seconds:6.2f} s")
    print(
        "and the CPU seconds of Airflow's processes (the scheduler's include the "
        "LocalExecutor's task processes): "
        + ", ".join(f"{name} {cpu:.1f}" for name, cpu in median_run.airflow_cpu.items())
    )


def print_machine_cpu(regrep: Sequence[RuleRun], skopeo: Sequence[float]) -> None:
    """What each tool's run cost the whole machine: on two CPUs, where the registries'
    hashing keeps both busy, a run's wall time follows this."""
    mine = [run.machine_cpu for run in regrep]
    print(
        f"busy CPU seconds of the whole machine per run (registries, kernel, Airflow and its "
        f"database included), median (min..max): skopeo {statistics.median(skopeo):.1f} "
        f"({min(skopeo):.1f}..{max(skopeo):.1f}), regrep {statistics.median(mine):.1f} "
        f"({min(mine):.1f}..{max(mine):.1f}; up to {POLL_SECONDS:.0f} s after the run's end "
        "included)"
    )


def print_small(fresh: RuleRun, warm: RuleRun) -> None:
    print(
        f"\n1-image rule, trigger to end: warm {warm.seconds:.2f} s "
        f"(target <= {SMALL_TARGET:.0f}), "
        f"the deployment's first run {fresh.seconds:.2f} s: "
        f"{fresh.seconds - warm.seconds:+.2f} s (target <= +{FRESH_TARGET:.0f}); phases warm / "
        "first: "
        + ", ".join(
            f"{phase} {warm.phases.get(phase, 0):.2f} / {seconds:.2f}"
            for phase, seconds in fresh.phases.items()
        )
    )


def print_reruns(regrep: Rerun, skopeo: Rerun) -> None:
    print(
        f"\nunchanged re-run        {'seconds':>8} {'requests':>9} {'blob reads':>10} "
        f"{'copy tasks':>10}\n"
        f"skopeo sync             {skopeo.seconds:8.2f} {skopeo.requests:9d} "
        f"{skopeo.blob_reads:10d} {'-':>10}\n"
        f"regrep rule run         {regrep.seconds:8.2f} {regrep.requests:9d} "
        f"{regrep.blob_reads:10d} {regrep.copy_tasks:10d}   (target <= {RERUN_TARGET:.0f} s)"
    )
    print(
        f"requests regrep/skopeo = {regrep.requests / max(1, skopeo.requests):.2f} "
        "(target <= 1.00; both registries' access logs), blob reads "
        f"{regrep.blob_reads} (target 0), copy tasks {regrep.copy_tasks} (target 0)"
    )


if __name__ == "__main__":
    sys.exit(main())
