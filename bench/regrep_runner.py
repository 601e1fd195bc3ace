"""Copy every tag under a repository prefix with regrep's engine, as one rule run would.

Run by the benchmarks in a process of its own, so that the parent times it like the
``skopeo`` process and reads its peak RSS alone (``os.wait4``). It does what a run's tasks
do, minus Airflow: the plan lists the source repositories and tags and copies the blobs
several images share once (:func:`~regrep.engine.seeding.seed_shared_blobs`); then each tag is
copied with :func:`copy_resource`, ``workers`` at once (Airflow's parallel mapped copy
tasks), each copy with a :class:`Transfer` of its own, as each task has (no ledger shared
between copies), told where the shared blobs are and given the ``mount_from`` the plan
task gives (the MOUNT_CANDIDATES repositories before it in plan order, most recent first).
Prints one JSON line: the copy's own seconds (no interpreter start-up) and the totals of
the ``CopyResult``s.

    python bench/regrep_runner.py http://127.0.0.1:5000 http://127.0.0.1:5001 \\
        --prefix bench/ --workers 4 [--chunk-mib 10] [--speed-limit-kbps 10240] \\
        [--profile regrep.prof]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import logging
import pstats
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from regrep.engine.bandwidth import Bandwidth
from regrep.engine.resource_copy import CopyResult, copy_resource
from regrep.engine.seeding import seed_shared_blobs
from regrep.engine.transfer import Transfer
from regrep.registry.client import RegistryClient

MOUNT_CANDIDATES = 2  # as regrep.tasks.plan_task, which imports Airflow
log = logging.getLogger("regrep.bench")


@dataclass(frozen=True)
class Planned:
    """One tag to copy, to the same name (a :class:`regrep.planning.planner.Resource` without
    the rule models, which this process does not need)."""

    source_repository: str
    tag: str
    digest: str

    @property
    def destination_repository(self) -> str:
        return self.source_repository


def plan(source: RegistryClient, prefix: str) -> list[Planned]:
    """Every tag of the source repositories starting with ``prefix``, with its digest."""
    found = []
    for repository in sorted(source.list_repositories()):
        if repository.startswith(prefix):
            for tag in sorted(source.list_tags(repository)):
                head = source.head_manifest(repository, tag)
                if head is not None:
                    found.append(Planned(repository, tag, head.digest))
    return found


def copy_all(
    source: RegistryClient,
    destination: RegistryClient,
    prefix: str,
    workers: int,
    settings: Transfer,
) -> list[CopyResult]:
    """Plan, copy shared blobs once, then copy every tag ``workers`` at once."""
    planned = plan(source, prefix)
    seeded = seed_shared_blobs(source, destination, planned, transfer=settings, log=log)
    repositories = list(dict.fromkeys(p.source_repository for p in planned))

    def copy(index: int) -> CopyResult:
        item = planned[index]
        earlier = repositories[: repositories.index(item.source_repository)]
        transfer = Transfer(
            max_concurrent_blobs=settings.max_concurrent_blobs,
            chunk_size=settings.chunk_size,
            bandwidth=settings.bandwidth,
        )
        for digest, repository in seeded[index].items():
            transfer.ledger.note(digest, repository)
        return copy_resource(
            source,
            destination,
            item.source_repository,
            item.tag,
            item.destination_repository,
            mount_from=earlier[::-1][:MOUNT_CANDIDATES],
            transfer=transfer,
        )

    with ThreadPoolExecutor(workers, thread_name_prefix="regrep-copy") as pool:
        return list(pool.map(copy, range(len(planned))))


def profile_threads() -> list[cProfile.Profile]:
    """Profile every thread started from now on (cProfile alone sees only its own thread)."""
    profiles: list[cProfile.Profile] = []
    run = threading.Thread.run

    def profiled_run(thread: threading.Thread) -> None:
        profile = cProfile.Profile()
        profiles.append(profile)
        profile.runcall(run, thread)

    threading.Thread.run = profiled_run  # type: ignore[method-assign, assignment]
    return profiles


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("source", help="source registry URL")
    parser.add_argument("destination", help="destination registry URL")
    parser.add_argument("--prefix", default="", help="copy repositories starting with this")
    parser.add_argument("--workers", type=int, default=1, help="images copied at once")
    parser.add_argument("--blobs", type=int, default=4, help="blobs of an image copied at once")
    parser.add_argument("--chunk-mib", type=int, help="upload in chunks of this size")
    parser.add_argument("--speed-limit-kbps", type=int, help="KiB/s for the whole run")
    parser.add_argument("--profile", metavar="PATH", help="write cProfile stats of all threads")
    args = parser.parse_args(argv)

    settings = Transfer(
        max_concurrent_blobs=args.blobs,
        chunk_size=args.chunk_mib << 20 if args.chunk_mib else None,
        bandwidth=Bandwidth.from_kbps(args.speed_limit_kbps) if args.speed_limit_kbps else None,
    )
    profiles = profile_threads() if args.profile else []
    with (
        RegistryClient.connect(args.source, name="source") as source,
        RegistryClient.connect(args.destination, name="destination") as destination,
    ):
        started = time.perf_counter()
        results = copy_all(source, destination, args.prefix, args.workers, settings)
        seconds = time.perf_counter() - started
    if profiles:
        stats = pstats.Stats(profiles[0])
        for profile in profiles[1:]:
            stats.add(profile)
        stats.dump_stats(args.profile)
    summary = {
        "seconds": seconds,
        "statuses": Counter(result.status for result in results),
        "bytes_copied": sum(result.bytes_copied for result in results),
        "blobs_copied": sum(result.blobs_copied for result in results),
        "blobs_mounted": sum(result.blobs_mounted for result in results),
        "blobs_existing": sum(result.blobs_existing for result in results),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
