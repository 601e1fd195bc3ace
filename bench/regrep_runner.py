"""Copy every tag under a repository prefix with regrep's engine, as one rule run would.

Run by ``bench_copy.py`` in a process of its own, so that the parent times it like the
``skopeo`` process and reads its peak RSS alone (``os.wait4``). It lists the source
repositories and tags with :class:`RegistryClient` and copies each tag to the same name
with :func:`copy_resource`, ``workers`` images at once (modelling Airflow's parallel mapped
copy tasks). Each copy gets the ``mount_from`` the plan task gives a mapped copy (the
MOUNT_CANDIDATES repositories just before it in plan order, most recent first), so a shared
base layer is mounted rather than sent again, as skopeo does with its blob cache.
Prints one JSON line: the copy's own seconds (no interpreter start-up) and the totals of
the ``CopyResult``s.

    python bench/regrep_runner.py http://127.0.0.1:5000 http://127.0.0.1:5001 \\
        --prefix bench/ --workers 4 [--profile regrep.prof]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from regrep.registry import RegistryClient
from regrep.transfer import CopyResult, copy_resource

MOUNT_CANDIDATES = 2  # as regrep.operators.plan, which imports Airflow


def copy_all(
    source: RegistryClient, destination: RegistryClient, prefix: str, workers: int
) -> list[CopyResult]:
    """List the tags of every source repository starting with ``prefix`` and copy them."""
    resources = [
        (repository, tag)
        for repository in sorted(source.list_repositories())
        if repository.startswith(prefix)
        for tag in sorted(source.list_tags(repository))
    ]
    repositories = list(dict.fromkeys(repository for repository, _ in resources))

    def copy(resource: tuple[str, str]) -> CopyResult:
        repository, tag = resource
        earlier = repositories[: repositories.index(repository)]
        mount_from = earlier[::-1][:MOUNT_CANDIDATES]
        return copy_resource(
            source, destination, repository, tag, repository, mount_from=mount_from
        )

    with ThreadPoolExecutor(workers, thread_name_prefix="regrep-copy") as pool:
        return list(pool.map(copy, resources))


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
    parser.add_argument("--profile", metavar="PATH", help="write cProfile stats of all threads")
    args = parser.parse_args(argv)

    profiles = profile_threads() if args.profile else []
    with (
        RegistryClient(args.source, name="source") as source,
        RegistryClient(args.destination, name="destination") as destination,
    ):
        started = time.perf_counter()
        results = copy_all(source, destination, args.prefix, args.workers)
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
