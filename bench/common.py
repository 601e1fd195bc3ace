"""What every benchmark shares: the machine line, timed child processes, skopeo's invocation.

Each benchmark prints ratios against ``skopeo`` measured in the same run, so they all need
the same few things: to say what machine (and how loaded) the figures come from, to run a
tool as a process of its own and time it, and to call ``skopeo sync`` the same way (so that
its figures compare between benchmarks). They live here rather than in one benchmark that
the others import, which would drag that benchmark's content and options along.

Importing this module also puts the repository root on ``sys.path``, so that a benchmark run
as a script (``python bench/bench_x.py``: only ``bench/`` is on the path) can import
``tests.support``; import it before ``tests.support``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # so that tests.support imports when run as a script

from tests.support.images import PushedImage  # noqa: E402
from tests.support.registries import RunningRegistry  # noqa: E402

MIB = 1 << 20
TAG = "1.0"
RUNNER = Path(__file__).with_name("regrep_runner.py")
SKOPEO_SOURCE = "skopeo-source.yaml"

Command = Callable[[RunningRegistry, RunningRegistry, Path], list[str]]


@dataclass(frozen=True)
class Tool:
    """A way to copy everything from the source to an empty destination: one process,
    given the source, the destination and the work directory."""

    name: str
    command: Command
    is_regrep: bool


def print_machine() -> None:
    """What the figures depend on: CPUs, load (the machine may be shared), tool versions."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in cpuinfo.splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    skopeo = subprocess.run(["skopeo", "--version"], capture_output=True, text=True).stdout
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"machine: {len(os.sched_getaffinity(0))} CPUs ({model}), load average {load}")
    print(f"tools: {skopeo.strip()}, Python {sys.version.split()[0]}")


# Spawns the command, waits for it and writes "exit-code maxrss-KiB utime stime floor-KiB
# seconds" to the file named first. Run with ``-I -S`` and importing only built-in modules, so
# that its own peak, which Linux carries over into the child across exec as the child's
# starting ``ru_maxrss``, stays a few MiB (a benchmark's own process holds tens).
WRAPPER = """\
import os, sys, time
report, command = sys.argv[1], sys.argv[2:]
with open('/proc/self/status') as status:
    floor = next(line for line in status if line.startswith('VmHWM:')).split()[1]
started = time.perf_counter()
pid = os.posix_spawnp(command[0], command, os.environ)
_, code, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - started
with open(report, 'w') as out:
    out.write(f'{os.waitstatus_to_exitcode(code)} {usage.ru_maxrss} {usage.ru_utime} '
              f'{usage.ru_stime} {floor} {seconds}')
"""


@dataclass(frozen=True)
class Measured:
    """What one tool's process cost, measured by the kernel for that process alone."""

    seconds: float
    peak_rss_mib: float
    cpu_seconds: float
    floor_mib: float  # the wrapper's own peak: the least ``peak_rss_mib`` can show


def timed(command: list[str], output: Path) -> Measured:
    """Run ``command`` (stdout to ``output``, stderr beside it) through :data:`WRAPPER`.

    ``os.wait4`` on the tool straight from here would report at least this process's own
    peak as the tool's: the wrapper, a process of a few MiB, makes the tool's figure its own.
    """
    report = output.with_suffix(".measured")
    wrapped = [sys.executable, "-I", "-S", "-c", WRAPPER, str(report), *command]
    with output.open("wb") as out, output.with_suffix(".err").open("wb") as err:
        subprocess.run(wrapped, stdin=subprocess.DEVNULL, stdout=out, stderr=err, check=True)
    code, maxrss_kib, utime, stime, floor_kib, seconds = report.read_text().split()
    if int(code) != 0:
        tail = output.with_suffix(".err").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{' '.join(command)} exited with {code}:\n{tail}")
    return Measured(
        seconds=float(seconds),
        peak_rss_mib=int(maxrss_kib) / 1024,  # KiB on Linux
        cpu_seconds=float(utime) + float(stime),
        floor_mib=int(floor_kib) / 1024,
    )


def write_skopeo_source(
    workdir: Path, source: RunningRegistry, images: Sequence[PushedImage]
) -> None:
    """skopeo's ``--src yaml`` list: every repository, all its tags (an empty list)."""
    repositories: dict[str, list[str]] = {image.repository: [] for image in images}
    config = {source.host: {"tls-verify": False, "images": repositories}}
    (workdir / SKOPEO_SOURCE).write_text(yaml.safe_dump(config))


def skopeo_sync_command(workdir: Path, destination: RunningRegistry, prefix: str) -> list[str]:
    """``skopeo sync`` of what ``write_skopeo_source`` listed into ``<destination>/prefix``.

    skopeo appends each source repository's last path component to the destination, so
    ``prefix/name`` lands as ``prefix/name``, the name regrep copies to. ``--preserve-digests``
    copies the bytes as they are, like regrep: without it skopeo gzips layers that do not
    look compressed, which changes every digest.
    """
    return [
        *("skopeo", "sync", "--src", "yaml", "--dest", "docker"),
        *("--dest-tls-verify=false", "--preserve-digests"),
        str(workdir / SKOPEO_SOURCE),
        f"{destination.host}/{prefix}",
    ]


def runner_command(
    source: RunningRegistry, destination: RunningRegistry, prefix: str, *extra: str
) -> list[str]:
    """``regrep_runner.py`` copying every ``prefix/`` repository, with its options ``extra``.

    The runner is a process of its own, like skopeo, so that both are timed and measured
    the same way and regrep's figures do not include the benchmark's own process.
    """
    return [
        *(sys.executable, str(RUNNER), source.url, destination.url),
        *("--prefix", f"{prefix}/", *extra),
    ]
