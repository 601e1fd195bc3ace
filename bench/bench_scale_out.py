"""Benchmark what limits a registry pair when copies scale out: the registries' CPU and disk.

A rule's copies can spread over as many Celery workers as you start, but every byte still
goes through one source and one destination registry. This measures what each GiB costs
them, and how throughput grows with the copies running at once against one pair.

One run pushes ``--images`` images of unique layers (``--layer-mib``; nothing shared, so
every blob is copied exactly once: 8 images of 2 x 64 MiB, 1 GiB, by default) to a source
registry, then, per repetition, copies them all into a FRESH destination registry with each
tool, in an order rotated per repetition:

* ``skopeo sync`` (one image at a time, its layers in parallel), the baseline;
* regrep's engine with 1, 2, 4 and 8 copies at once (``--copies``): the copy slots of the
  Celery workers serving the pair (workers x ``worker_concurrency``), each copy with
  ``max_concurrent_blobs`` 4 as a copy task has (``bench/regrep_runner.py``).

For each copy: the wall time, the copier's CPU (its process alone), each registry's CPU
(``/proc/<pid>/stat``) and the bytes the destination registry wrote (``write_bytes`` of
``/proc/<pid>/io``), for the disk holding the registries (``/proc/diskstats``) the bytes
written and the share of the time it was busy, and how many of the machine's CPUs were busy
(``/proc/stat``: every process and the kernel). The registries and the copier share this
machine's CPUs, so the last says when the machine, not the registries, is the limit; disk and
machine figures count whatever else runs too. Every destination digest is checked against the
source's: the exit code is 1 if one differs, never for a figure.

    .venv/bin/python bench/bench_scale_out.py [--images 8 --layer-mib 64,64 --repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable, Sequence
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

from tests.support.images import PushedImage, manifest_digest, push_image
from tests.support.registries import RunningRegistry, start_registry

PREFIX = "scale"
GIB = 1 << 30
SECTOR = 512  # /proc/diskstats counts 512-byte sectors whatever the device's own size


@dataclass(frozen=True)
class Usage:
    """A registry process's CPU seconds and storage writes so far."""

    cpu_seconds: float
    written: int

    @classmethod
    def of(cls, registry: RunningRegistry) -> Usage:
        stat = Path(f"/proc/{registry.process.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": field 3 is fields[0]
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        io = Path(f"/proc/{registry.process.pid}/io").read_text().splitlines()
        written = next(int(line.split()[1]) for line in io if line.startswith("write_bytes:"))
        return cls(cpu, written)

    def __sub__(self, earlier: Usage) -> Usage:
        return Usage(self.cpu_seconds - earlier.cpu_seconds, self.written - earlier.written)


@dataclass(frozen=True)
class Disk:
    """The disk under a directory, from ``/proc/diskstats``: sectors written, ms busy."""

    sectors_written: int
    busy_ms: int

    @classmethod
    def under(cls, directory: Path) -> Disk:
        device = os.stat(directory).st_dev
        wanted = (os.major(device), os.minor(device))
        for line in Path("/proc/diskstats").read_text().splitlines():
            fields = line.split()
            if (int(fields[0]), int(fields[1])) == wanted:
                return cls(int(fields[9]), int(fields[12]))
        raise RuntimeError(f"no /proc/diskstats line for device {wanted} of {directory}")

    def __sub__(self, earlier: Disk) -> Disk:
        return Disk(self.sectors_written - earlier.sectors_written, self.busy_ms - earlier.busy_ms)


@dataclass(frozen=True)
class Machine:
    """All CPUs' busy and idle time so far (``/proc/stat``, clock ticks): every process's
    work counts, the kernel's (loopback network, page cache, the disk driver) too."""

    busy: int
    idle: int

    @classmethod
    def now(cls) -> Machine:
        ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = ticks[3] + ticks[4]  # idle, iowait
        return cls(sum(ticks[:8]) - idle, idle)  # user..steal; guest time is inside user

    def __sub__(self, earlier: Machine) -> Machine:
        return Machine(self.busy - earlier.busy, self.idle - earlier.idle)

    @property
    def busy_cpus(self) -> float:
        """How many of the machine's CPUs were busy, on average."""
        return len(os.sched_getaffinity(0)) * self.busy / max(1, self.busy + self.idle)


@dataclass(frozen=True)
class Run:
    """One copy of everything by one tool, and what it cost whom."""

    seconds: float
    copier_cpu: float
    source: Usage
    destination: Usage
    disk: Disk
    machine: Machine
    misplaced: tuple[str, ...]  # repositories whose digest differs from the source's

    @property
    def destination_cpus(self) -> float:
        """The destination registry's CPU seconds per wall second."""
        return self.destination.cpu_seconds / self.seconds

    @property
    def disk_write_rate(self) -> float:
        """Bytes the disk wrote per wall second."""
        return self.disk.sectors_written * SECTOR / self.seconds

    @property
    def disk_busy(self) -> float:
        """The share of the wall time the disk was doing I/O."""
        return self.disk.busy_ms / 1000 / self.seconds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--images", type=int, default=8, help="images (one repository each)")
    parser.add_argument("--layer-mib", default="64,64", help="each image's unique layers, MiB")
    parser.add_argument("--copies", default="1,2,4,8", help="regrep's copies at once to try")
    parser.add_argument("--repeat", type=int, default=3, help="copies per tool")
    args = parser.parse_args(argv)
    sizes = [int(part) * MIB for part in args.layer_mib.split(",")]
    tools = contenders([int(count) for count in args.copies.split(",")])

    print_machine()
    wrong: set[str] = set()
    with (
        tempfile.TemporaryDirectory(prefix="regrep-scale-out-") as tmp,
        start_registry(Path(tmp), name="source") as source,
    ):
        workdir = Path(tmp)
        images = [
            push_image(source, f"{PREFIX}/app-{index}", TAG, layer_sizes=sizes)
            for index in range(args.images)
        ]
        total = sum(sum(image.blobs.values()) + len(image.manifest_bytes) for image in images)
        print(
            f"content: {args.images} images of layers {args.layer_mib} MiB, {total / MIB:.0f} MiB"
        )
        write_skopeo_source(workdir, source, images)
        runs: dict[Tool, list[Run]] = {tool: [] for tool in tools}
        # Each repetition starts with the next tool, so none always copies first.
        for repetition in range(args.repeat):
            for tool in tools[repetition % len(tools) :] + tools[: repetition % len(tools)]:
                run = copy_once(tool, source, images, workdir, str(repetition))
                runs[tool].append(run)
                wrong |= {f"{tool.name}: {name}" for name in run.misplaced}
                print(f"  {repetition + 1}: {tool.name:<17} {run.seconds:6.2f} s")
        print_report(runs, total)
    if wrong:
        print(f"DIGESTS DIFFER from the source's: {', '.join(sorted(wrong))}", file=sys.stderr)
    return 1 if wrong else 0


def contenders(copies: Sequence[int]) -> list[Tool]:
    """``skopeo sync``, then regrep's engine with each number of ``copies`` at once."""

    def skopeo(source: RunningRegistry, destination: RunningRegistry, workdir: Path) -> list[str]:
        return skopeo_sync_command(workdir, destination, PREFIX)

    def regrep(count: int) -> Command:
        return lambda src, dst, _: runner_command(src, dst, PREFIX, "--workers", str(count))

    regreps = [Tool(f"regrep {count} at once", regrep(count), is_regrep=True) for count in copies]
    return [Tool("skopeo sync", skopeo, is_regrep=False), *regreps]


def copy_once(
    tool: Tool, source: RunningRegistry, images: Sequence[PushedImage], workdir: Path, label: str
) -> Run:
    """Copy everything with ``tool`` into a fresh destination, measuring who spent what."""
    name = f"dst-{label}-{tool.name.replace(' ', '-')}"
    destination = start_registry(workdir, name=name)
    try:
        before = (Usage.of(source), Usage.of(destination), Disk.under(workdir), Machine.now())
        measured = timed(tool.command(source, destination, workdir), workdir / f"{name}.out")
        after = (Usage.of(source), Usage.of(destination), Disk.under(workdir), Machine.now())
        misplaced = tuple(
            image.repository
            for image in images
            if manifest_digest(destination, image.repository, TAG) != image.digest
        )
    finally:
        destination.stop()
        shutil.rmtree(destination.data_dir, ignore_errors=True)
    return Run(
        seconds=measured.seconds,
        copier_cpu=measured.cpu_seconds,
        source=after[0] - before[0],
        destination=after[1] - before[1],
        disk=after[2] - before[2],
        machine=after[3] - before[3],
        misplaced=misplaced,
    )


def median(runs: Sequence[Run], figure: Callable[[Run], float]) -> float:
    return statistics.median(figure(run) for run in runs)


def print_report(runs: dict[Tool, list[Run]], total: int) -> None:
    """Per tool, medians: throughput, CPU seconds per GiB of each process, the CPUs, the disk."""
    gib = total / GIB
    print(
        f"\n{'tool':<17} {'wall s':>6} {'MiB/s':>6} {'ratio':>5}   {'CPU s per GiB copied':^22}"
        f" {'CPUs busy':^15} {'dst wrote':>9} {'disk':>6} {'disk':>5}"
    )
    print(
        f"{'':<17} {'':>6} {'':>6} {'':>5} {'copier':>6} {'src reg':>7} {'dst reg':>7}"
        f" {'dst reg':>7} {'all':>7} {'per byte':>9} {'MiB/s':>6} {'busy':>5}"
    )
    baseline = median(next(iter(runs.values())), lambda r: r.seconds)
    for tool, tool_runs in runs.items():
        wall = median(tool_runs, lambda r: r.seconds)
        print(
            f"{tool.name:<17} {wall:6.2f} {total / MIB / wall:6.0f} {wall / baseline:5.2f}"
            f" {median(tool_runs, lambda r: r.copier_cpu) / gib:6.2f}"
            f" {median(tool_runs, lambda r: r.source.cpu_seconds) / gib:7.2f}"
            f" {median(tool_runs, lambda r: r.destination.cpu_seconds) / gib:7.2f}"
            f" {median(tool_runs, lambda r: r.destination_cpus):7.2f}"
            f" {median(tool_runs, lambda r: r.machine.busy_cpus):7.2f}"
            f" {median(tool_runs, lambda r: r.destination.written) / total:9.2f}"
            f" {median(tool_runs, lambda r: r.disk_write_rate) / MIB:6.0f}"
            f" {median(tool_runs, lambda r: r.disk_busy):5.0%}"
        )
    print(
        "\n(medians; ratio: wall time / skopeo's; CPU s per GiB: the copier's process and each"
        "\n registry's; CPUs busy: the destination registry's CPU seconds per wall second, and"
        f"\n the whole machine's of its {len(os.sched_getaffinity(0))} (the kernel's work"
        " too); dst wrote: bytes the destination"
        "\n registry wrote per byte copied; disk: the device under the registries, whole"
        "\n machine: MiB written per second and share of the time busy)"
    )


if __name__ == "__main__":
    sys.exit(main())
