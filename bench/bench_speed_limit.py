"""Benchmark ``speed_limit_kbps``: does a limited copy hold its rate over a 30 s copy?

One image with a single layer sized to take ``--seconds`` at the limit is pushed to a
source registry, then copied into a fresh destination: by ``skopeo sync`` (which has no
speed limit: the rate the machine allows), and by regrep limited to ``--kbps`` (KiB/s),
once with one streamed PUT and once with ``copy_by_chunk``. The destination registry's
upload file is sampled every ``--sample`` seconds from its storage directory, so the rate
is observed where the bytes land, not where regrep says it sent them: the average over the
copy (the copy engine's own time, from its first request to its last) and the slowest and
fastest 5-second windows at the destination are printed, as ratios to the limit (target:
within 10%). With ``copy_by_chunk`` a chunk is read at the limited rate and then sent whole
(as Harbor paces its chunked copies), so the destination sees the bytes arrive a chunk at a
time: its windows span at least ten chunks (15 s for 10 MiB chunks at 8 MiB/s).

    .venv/bin/python bench/bench_speed_limit.py [--kbps 8192 --seconds 30]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path

from common import (
    MIB,
    TAG,
    print_machine,
    runner_command,
    skopeo_sync_command,
    timed,
    write_skopeo_source,
)

from tests.support.images import PushedImage, manifest_digest, push_image
from tests.support.registries import RunningRegistry, start_registry

PREFIX = "limited"
TOLERANCE = 0.10
WINDOW = 5.0
CHUNK_MIB = 10


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--kbps", type=int, default=8192, help="the limit, KiB/s")
    parser.add_argument("--seconds", type=int, default=30, help="how long the copy should take")
    parser.add_argument("--sample", type=float, default=0.5, help="sampling period, seconds")
    args = parser.parse_args(argv)

    print_machine()
    size = args.kbps * 1024 * args.seconds
    failures = 0
    with (
        tempfile.TemporaryDirectory(prefix="regrep-limit-") as tmp,
        start_registry(Path(tmp), name="source") as source,
    ):
        workdir = Path(tmp)
        image = push_image(source, f"{PREFIX}/big", TAG, layer_sizes=(size,))
        print(f"content: one {size / MIB:.0f} MiB layer; limit {args.kbps} KiB/s")
        write_skopeo_source(workdir, source, [image])
        destination = start_registry(workdir, name="skopeo")
        seconds = timed(
            skopeo_sync_command(workdir, destination, PREFIX), workdir / "skopeo.out"
        ).seconds
        destination.stop()
        print(f"skopeo sync (no limit):    {size / MIB / seconds:7.1f} MiB/s")
        limit = args.kbps * 1024
        chunked = ["--chunk-mib", str(CHUNK_MIB)]
        chunk_window = max(WINDOW, 10 * CHUNK_MIB * MIB / (args.kbps * 1024))
        for mode, extra, window in (
            ("one PUT", [], WINDOW),
            ("copy_by_chunk", chunked, chunk_window),
        ):
            name = f"regrep-{mode.replace(' ', '-')}"
            destination = start_registry(workdir, name=name)
            output = workdir / f"{name}.json"
            process = run_regrep(source, destination, args.kbps, extra, output)
            samples = watch(destination, args.sample, process)
            copy_seconds = json.loads(output.read_text().splitlines()[-1])["seconds"]
            average = size / copy_seconds
            failures += report(f"regrep, {mode}", average, samples, limit, size, window)
            failures += check(destination, image)
            destination.stop()
            shutil.rmtree(destination.data_dir, ignore_errors=True)
    return 1 if failures else 0


def run_regrep(
    source: RunningRegistry,
    destination: RunningRegistry,
    kbps: int,
    extra: list[str],
    output: Path,
) -> subprocess.Popen[bytes]:
    """The runner copying the image at the limit; its JSON summary goes to ``output``."""
    command = runner_command(source, destination, PREFIX, "--speed-limit-kbps", str(kbps), *extra)
    with output.open("wb") as out:
        return subprocess.Popen(command, stdout=out)


def watch(
    destination: RunningRegistry, period: float, process: subprocess.Popen[bytes]
) -> list[tuple[float, int]]:
    """``(seconds, bytes received)`` at the destination until ``process`` exits."""
    uploads = destination.data_dir / "docker/registry/v2/repositories"
    samples: list[tuple[float, int]] = []
    started = time.monotonic()
    while process.poll() is None:
        time.sleep(period)
        samples.append((time.monotonic() - started, received_bytes(uploads)))
    if process.returncode:
        raise RuntimeError(f"the regrep copy exited with {process.returncode}")
    return samples


def received_bytes(repositories: Path) -> int:
    """The bytes of the uploads in progress (a finished one moves away as a blob)."""
    total = 0
    for path in repositories.glob("**/_uploads/*/data"):
        with suppress(OSError):
            total += path.stat().st_size
    return total


def report(
    what: str,
    average: float,
    samples: list[tuple[float, int]],
    limit: int,
    size: int,
    window: float,
) -> int:
    """Print the rates seen; 1 if one is more than TOLERANCE off the limit, else 0."""
    moving = [(t, n) for t, n in samples if 0 < n < size]
    windows = []
    for index, (t_start, n_start) in enumerate(moving):
        end = next(((t, n) for t, n in moving[index:] if t - t_start >= window), None)
        if end is not None:
            windows.append((end[1] - n_start) / (end[0] - t_start))
    rates = [average, *windows]
    worst = max(abs(rate / limit - 1) for rate in rates)
    print(
        f"{what:<26} average {average / MIB:7.2f} MiB/s over {size / average:4.1f} s = "
        f"{average / limit:.3f} of the limit; {window:.0f} s windows at the destination "
        f"{min(windows, default=average) / limit:.3f}..{max(windows, default=average) / limit:.3f}"
        f" (target within {TOLERANCE:.0%})"
    )
    return int(worst > TOLERANCE)


def check(destination: RunningRegistry, image: PushedImage) -> int:
    found = manifest_digest(destination, image.repository, TAG)
    if found != image.digest:
        print(f"DIGEST MISMATCH: {image.repository}:{TAG} is {found}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
