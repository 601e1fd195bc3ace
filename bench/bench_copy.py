"""Benchmark regrep's copy engine against ``skopeo sync`` between loopback registries.

One run pushes the same generated images to a source registry (``bench/app-0..N-1:1.0``,
each with layers of ``--layer-mib`` MiB: by default a 256 MiB base layer shared by every
image, then unique layers of 256, 128, 16 and 1 MiB, 3.4 GiB in all; random bytes, so
nothing compresses), then,
for each repetition, copies them all into a FRESH empty destination registry with each
tool, in an order rotated per repetition:

* ``skopeo sync``: one process for every repository, from a YAML source list; it copies the
  images one after another and the layers of an image in parallel. ``--preserve-digests``
  makes it copy the bytes as they are, like regrep (without it skopeo gzips layers that do
  not look compressed, which changes every digest).
* regrep one image at a time, and ``--workers`` images at once (a thread pool modelling
  Airflow's parallel mapped copy tasks): one process each (``regrep_runner.py``) that plans
  as the plan task does (list, copy the shared base once) and copies every tag with
  ``copy_resource``, each copy on its own as each copy task is.

Both produce the same destination names (skopeo appends the source repository's last path
component to ``<dst>/bench``). Each process is timed from start to exit, its peak RSS and
CPU time are its own (``common.timed``), and the destination's access log counts the requests, blob
uploads and cross-repository mounts it needed. Every destination manifest digest is checked
against the source's: the exit code is 1 if one differs, never for a missed target.

    .venv/bin/python bench/bench_copy.py [--images 8 --layer-mib 256,256,128,16,1 --repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import shutil
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from common import (
    MIB,
    TAG,
    Command,
    Tool,
    print_machine,
    runner_command,
    skopeo_sync_command,
    timed,
    write_skopeo_source,
)

from tests.support.images import GeneratedBlob, PushedImage, manifest_digest, push_image
from tests.support.registries import RunningRegistry, start_registry

PREFIX = "bench"
TARGET_RATIO = 0.8
TARGET_MEMORY_MIB = 100
DEFAULT_LAYERS = "256,256,128,16,1"


@dataclass(frozen=True)
class Run:
    """One copy by one tool: what its process cost and what the destination saw."""

    seconds: float
    inner_seconds: float | None  # regrep's own timing, without interpreter start-up
    peak_rss_mib: float
    cpu_seconds: float
    source_cpu_seconds: float  # the source registry's CPU time during the copy
    destination_cpu_seconds: float  # the destination registry's
    requests: int
    uploads: int
    mounts: int


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--images", type=int, default=8, help="images (one repository each)")
    parser.add_argument(
        "--layer-mib",
        type=layer_sizes,
        default=layer_sizes(DEFAULT_LAYERS),
        help="each image's layer sizes in MiB, the first shared by all images "
        f"(default {DEFAULT_LAYERS})",
    )
    parser.add_argument("--repeat", type=int, default=3, help="copies per tool")
    parser.add_argument("--workers", type=int, default=4, help="images regrep copies at once")
    parser.add_argument("--profile", action="store_true", help="then cProfile one regrep copy")
    args = parser.parse_args(argv)

    tools = [
        Tool("skopeo sync", skopeo_command, is_regrep=False),
        Tool("regrep 1 at a time", regrep_command(1), is_regrep=True),
        Tool(f"regrep {args.workers} at once", regrep_command(args.workers), is_regrep=True),
    ]
    print_machine()
    mismatched: list[str] = []
    with (
        tempfile.TemporaryDirectory(prefix="regrep-bench-") as tmp,
        start_registry(Path(tmp), name="source") as source,
    ):
        workdir = Path(tmp)
        images = push_images(source, args.images, args.layer_mib)
        total = content_bytes(images)
        print(f"content: {describe_content(args.images, args.layer_mib, total)}")
        write_skopeo_source(workdir, source, images)
        runs: dict[Tool, list[Run]] = {tool: [] for tool in tools}
        for repetition in range(args.repeat):
            shift = repetition % len(tools)
            for tool in tools[shift:] + tools[:shift]:
                run, wrong = copy_once(tool, source, images, workdir, f"{repetition}")
                runs[tool].append(run)
                mismatched += wrong
                print(f"  repetition {repetition + 1}: {tool.name:<20} {run.seconds:6.2f} s")
        print_report(runs, total)
        if args.profile:
            profile(source, images, workdir)
    for line in mismatched:
        print(f"DIGEST MISMATCH: {line}", file=sys.stderr)
    return 1 if mismatched else 0


def skopeo_command(
    source: RunningRegistry, destination: RunningRegistry, workdir: Path
) -> list[str]:
    """``skopeo sync`` of every source repository; the YAML source sets no TLS for it."""
    return skopeo_sync_command(workdir, destination, PREFIX)


def regrep_command(workers: int, *extra: str) -> Command:
    """The runner copying every ``bench/`` repository, ``workers`` images at once."""

    def command(source: RunningRegistry, destination: RunningRegistry, workdir: Path) -> list[str]:
        return runner_command(source, destination, PREFIX, "--workers", str(workers), *extra)

    return command


def layer_sizes(text: str) -> list[int]:
    """``"128,100,8"`` -> layer sizes in bytes (the first one is the shared base)."""
    sizes = [int(part) * MIB for part in text.split(",") if part.strip()]
    if not sizes or min(sizes) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected sizes in MiB such as 128,100,8")
    return sizes


def describe_content(images: int, sizes: Sequence[int], total: int) -> str:
    """One line saying what the benchmark copies."""
    base, *unique = (size // MIB for size in sizes)
    layers = f"a {base} MiB base layer shared by all" + (
        f" + unique layers of {', '.join(map(str, unique))} MiB" if unique else ""
    )
    return f"{images} images, {layers}: {total / MIB:.0f} MiB of distinct blobs and manifests"


def push_images(source: RunningRegistry, count: int, sizes: Sequence[int]) -> list[PushedImage]:
    """``bench/app-N:1.0``: the first of ``sizes`` is a base layer common to all."""
    base = [GeneratedBlob(sizes[0], f"{PREFIX}/base")]
    return [
        push_image(
            source,
            f"{PREFIX}/app-{index}",
            TAG,
            layer_sizes=sizes[1:],
            base_layers=base,
            seed=f"{PREFIX}/app-{index}",
        )
        for index in range(count)
    ]


def content_bytes(images: Sequence[PushedImage]) -> int:
    """What a full copy must transfer at least: each distinct blob once, every manifest."""
    blobs = {digest: size for image in images for digest, size in image.blobs.items()}
    return sum(blobs.values()) + sum(len(image.manifest_bytes) for image in images)


def copy_once(
    tool: Tool, source: RunningRegistry, images: Sequence[PushedImage], workdir: Path, label: str
) -> tuple[Run, list[str]]:
    """Copy with ``tool`` into a fresh destination; the run and any digest mismatches."""
    name = f"dst-{label}-{tool.name.replace(' ', '-')}"
    destination = start_registry(workdir, name=name)
    try:
        output = workdir / f"{name}.out"
        before = process_cpu_seconds(source)
        measured = timed(tool.command(source, destination, workdir), output)
        source_cpu = process_cpu_seconds(source) - before
        destination_cpu = process_cpu_seconds(destination)
        log = destination.access_log()
        wrong = [
            f"{tool.name}: {image.repository}:{TAG} is {found} at the destination, "
            f"{image.digest} at the source"
            for image in images
            if (found := manifest_digest(destination, image.repository, TAG)) != image.digest
        ]
    finally:
        destination.stop()
        shutil.rmtree(destination.data_dir, ignore_errors=True)
    inner = json.loads(output.read_text().splitlines()[-1])["seconds"] if tool.is_regrep else None
    run = Run(
        seconds=measured.seconds,
        inner_seconds=inner,
        peak_rss_mib=measured.peak_rss_mib,
        cpu_seconds=measured.cpu_seconds,
        source_cpu_seconds=source_cpu,
        destination_cpu_seconds=destination_cpu,
        requests=len(log),
        uploads=sum(e.method == "PUT" and "/blobs/uploads/" in e.path for e in log),
        mounts=sum(e.method == "POST" and "mount=" in e.path and e.status == 201 for e in log),
    )
    return run, wrong


def process_cpu_seconds(registry: RunningRegistry) -> float:
    """User + system CPU time the registry's process has used so far (proc(5) stat)."""
    stat = Path(f"/proc/{registry.process.pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": field 3 is fields[0]
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def print_report(runs: dict[Tool, list[Run]], total: int) -> None:
    """The table, then regrep/skopeo ratios of median wall times and regrep's peak memory."""
    header = (
        f"\n{'tool':<20} {'wall s median':>13} {'min':>6} {'max':>6} {'MiB/s':>6} "
        f"{'in-proc s':>9} {'CPU s':>6} {'src CPU':>7} {'dst CPU':>7} {'RSS MiB':>7} "
        f"{'requests':>8} {'uploads':>7} {'mounts':>6}"
    )
    print(header)
    for tool, tool_runs in runs.items():
        wall = [run.seconds for run in tool_runs]
        median = statistics.median(wall)
        inner = [run.inner_seconds for run in tool_runs if run.inner_seconds is not None]
        last = tool_runs[-1]
        print(
            f"{tool.name:<20} {median:13.2f} {min(wall):6.2f} {max(wall):6.2f} "
            f"{total / MIB / median:6.0f} "
            f"{f'{statistics.median(inner):.2f}' if inner else '-':>9} "
            f"{statistics.median(run.cpu_seconds for run in tool_runs):6.2f} "
            f"{statistics.median(run.source_cpu_seconds for run in tool_runs):7.2f} "
            f"{statistics.median(run.destination_cpu_seconds for run in tool_runs):7.2f} "
            f"{max(run.peak_rss_mib for run in tool_runs):7.0f} "
            f"{last.requests:8d} {last.uploads:7d} {last.mounts:6d}"
        )
    skopeo, *regreps = runs
    baseline = [run.seconds for run in runs[skopeo]]
    print()
    for tool in regreps:
        wall = [run.seconds for run in runs[tool]]
        paired = [mine / theirs for mine, theirs in zip(wall, baseline, strict=True)]
        print(
            f"ratio regrep/skopeo = {statistics.median(wall) / statistics.median(baseline):.2f}"
            f" (target <= {TARGET_RATIO:.2f})   [{tool.name}; of the minima "
            f"{min(wall) / min(baseline):.2f}; per repetition {min(paired):.2f}..{max(paired):.2f}]"
        )
    peak = max(run.peak_rss_mib for tool in regreps for run in runs[tool])
    print(f"peak memory = {peak:.0f} MiB (target < {TARGET_MEMORY_MIB} MiB)   [largest regrep RSS]")
    print(
        "(CPU s: the tool's process; src/dst CPU: each registry's during the copy; medians."
        "\n requests/uploads/mounts: at the destination, last repetition)"
    )


def profile(source: RunningRegistry, images: Sequence[PushedImage], workdir: Path) -> None:
    """Copy once more, one image at a time, under cProfile (all threads): where time went."""
    stats_path = workdir / "regrep.prof"
    tool = Tool("regrep profiled", regrep_command(1, "--profile", str(stats_path)), True)
    run, _ = copy_once(tool, source, images, workdir, "profile")
    print(f"\ncProfile of regrep 1 at a time ({run.seconds:.2f} s wall, slower under the profiler)")
    stats = pstats.Stats(str(stats_path))
    stats.sort_stats("tottime").print_stats(15)
    stats.sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    sys.exit(main())
