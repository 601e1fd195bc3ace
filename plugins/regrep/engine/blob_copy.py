"""Make blobs exist in one destination repository, the cheapest way available.

Per blob, in order of cost:

1. **existing**: the destination repository has it (the ledger knows, or one HEAD);
2. **mounted**: another repository of the destination registry holds it, so one POST
   links it (end-11): the source repository when both ends are one registry, a
   repository this process has put it into (:class:`~regrep.engine.ledger.BlobLedger`, waiting
   for an upload of it in progress), or one of the ``mount_from`` repositories the
   caller expects to hold it. Only the last of those is asked blindly: the others get a
   HEAD first, since a missed mount leaves an upload session to cancel, while the last
   one's session simply carries the upload;
3. **copied**: one streamed GET at the source into one upload at the destination,
   verified by digest on the way, paced by the task's bandwidth, as one PUT or in
   resumable chunks (``send_blob``). An interrupted stream restarts
   the blob in a new session (:func:`~regrep.registry.retry.restart_interrupted`).

A few blobs travel at once; the first failure cancels those not yet started. A stopped
task (:mod:`regrep.registry.cancellation`) abandons them all: the streams in flight end at
their next chunk (the clients break off a download blocked on a slow source), their upload
sessions are cancelled, no blob starts, and
:class:`~regrep.registry.cancellation.CopyStopped` propagates, so the caller pushes no
manifest.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Literal

from regrep.engine.sizes import human_size, rate
from regrep.engine.transfer import Transfer
from regrep.oci.manifests import Descriptor
from regrep.registry.blobstream import BlobStream
from regrep.registry.cancellation import CopyStopped
from regrep.registry.protocols import DestinationRegistry, SourceRegistry
from regrep.registry.retry import restart_interrupted
from regrep.registry.upload import BlobUpload

Placement = Literal["existing", "mounted", "copied"]
"""How a blob came to be in the destination repository."""


class BlobCopier:
    """Copies blobs into one destination repository; thread-safe tallies.

    ``mount_from`` names other destination repositories that may hold the blobs, likeliest
    first (the caller knows what it replicated before).
    """

    def __init__(
        self,
        source: SourceRegistry,
        destination: DestinationRegistry,
        source_repository: str,
        destination_repository: str,
        *,
        mount_from: Sequence[str],
        transfer: Transfer,
        log: logging.Logger,
    ) -> None:
        self.source, self.destination = source, destination
        self.src_repo, self.dst_repo = source_repository, destination_repository
        self.transfer, self.log = transfer, log
        self.stop = destination.stop  # the task's: its clients were built with it
        # A mount only works inside one registry; same host is our test for that.
        same_registry = source.host.lower() == destination.host.lower()
        self.source_mount = (
            source_repository
            if same_registry and source_repository != destination_repository
            else None
        )
        excluded = {destination_repository, self.source_mount}
        self.mount_from = tuple(dict.fromkeys(r for r in mount_from if r not in excluded))
        self.lock = threading.Lock()
        self.bytes_copied = self.copied = self.mounted = self.existing = 0

    def copy_all(self, blobs: Sequence[Descriptor], *, anew: bool = False) -> None:
        """Copy ``blobs`` a few at a time; the first failure cancels what has not started.

        ``anew``: the destination repository has lost them, whatever the ledger says.
        Raises :class:`CopyStopped` when the task's copies were stopped, before or during
        these, even if they all made it: the caller must not push what needs them. An
        exception raised in this thread while it waits (the stop's signal, Airflow's
        timeout, Ctrl-C) stops the copies in flight too, instead of waiting for them.
        """
        stop = self.stop
        stop.check()
        workers = max(1, self.transfer.max_concurrent_blobs)
        with ThreadPoolExecutor(workers, thread_name_prefix="regrep-blob") as pool:
            futures = [pool.submit(self.copy, blob, anew=anew) for blob in blobs]
            try:
                wait(futures, return_when=FIRST_EXCEPTION)
            except BaseException as interrupted:
                stop.cancel(f"interrupted by {type(interrupted).__name__}")
                self._stopped(futures)
                raise  # the pool's exit waits for the streams, which end at their next chunk
            if stop.stopped:
                self._stopped(futures)
                stop.check()
            for future in futures:
                future.cancel()
            for future in futures:
                error = None if future.cancelled() else future.exception()
                if error is not None:
                    raise error
        stop.check()  # stopped as the last blob arrived: push nothing that needs them

    def _stopped(self, futures: Sequence[Future[None]]) -> None:
        """Cancel the copies that have not started and say what the stop abandoned."""
        pending = sum(future.cancel() for future in futures)
        running = sum(not future.done() for future in futures)
        self.log.warning(
            "blob copies to %s stopped (%s): %d in flight abandoned, %d not started",
            self.dst_repo,
            self.stop.reason,
            running,
            pending,
        )

    def copy(self, blob: Descriptor, *, anew: bool = False) -> None:
        """Make one blob exist in the destination repository."""
        self.stop.check()
        started = time.monotonic()
        placed = self._place(blob, self._mount_source(blob.digest)) if anew else self._ensure(blob)
        self._tally(placed, blob, started)

    def _ensure(self, blob: Descriptor) -> tuple[Placement, int, str | None]:
        """Already there; else mounted from where this process put it; else placed by us,
        while other copies of the process that want it wait (:class:`BlobLedger`)."""
        digest, ledger = blob.digest, self.transfer.ledger
        holder = ledger.holder(digest)
        if holder is None and self.destination.blob_size(self.dst_repo, digest) is not None:
            holder = self.dst_repo
        if holder is None:
            holder = ledger.acquire(digest)
        if holder is None:  # ours to upload
            try:
                outcome = self._place(blob, self._mount_source(digest))
            except BaseException:
                ledger.release(digest, None)
                raise
            ledger.release(digest, self.dst_repo)
            return outcome
        placed = ("existing", 0, None) if holder == self.dst_repo else self._place(blob, holder)
        ledger.note(digest, self.dst_repo)
        return placed

    def _mount_source(self, digest: str) -> str | None:
        """The repository to ask for a mount of ``digest``, None if there is none."""
        if self.source_mount is not None:
            return self.source_mount  # it holds the blob: we are copying it from there
        for repository in self.mount_from[:-1]:
            if self.destination.blob_size(repository, digest) is not None:
                return repository
        return self.mount_from[-1] if self.mount_from else None

    def _place(self, blob: Descriptor, mount_from: str | None) -> tuple[Placement, int, str | None]:
        """Mount ``blob`` from ``mount_from``, or else upload it: (outcome, bytes, from)."""
        self.stop.check()  # e.g. woken by the ledger when a stopped upload gave up
        if mount_from is None:
            upload = self.destination.start_upload(self.dst_repo, blob.digest)
        else:
            mounted = self.destination.try_mount(self.dst_repo, blob.digest, mount_from)
            if mounted is None:
                return "mounted", 0, mount_from
            upload = mounted
        sessions = [upload]

        def attempt() -> int:
            if sessions:  # a stop from now on ends in send_blob, which cancels the session
                session = sessions.pop()
            else:
                self.stop.check()  # a stopped copy is not restarted
                session = self.destination.start_upload(self.dst_repo, blob.digest)
            return self._stream(blob, session)

        # A broken stream cannot be replayed request by request: the blob restarts whole.
        copied = restart_interrupted(
            attempt,
            what=f"copy of blob {blob.digest}",
            log=self.log,
            policy=self.destination.policy,
            stop=self.stop,
        )
        return "copied", copied, None

    def _stream(self, blob: Descriptor, upload: BlobUpload) -> int:
        """GET the blob at the source straight into ``upload``; the bytes sent.

        A stop ends the stream at its next chunk; the clients break off the download it
        waits on, or the upload it is sending (a destination that stopped reading), and
        ``send_blob`` cancels the upload session, so nothing half-written remains.
        """
        stop, bandwidth = self.stop, self.transfer.bandwidth
        opened: BlobStream | None = None
        try:
            with self.source.open_blob(self.src_repo, blob.digest) as stream:
                opened = stream
                size = stream.size if stream.size is not None else blob.size
                chunks = stop.guard(stream)
                self.destination.send_blob(
                    upload,
                    chunks if bandwidth is None else bandwidth.throttle(chunks, stop=stop),
                    size=size if size >= 0 else None,
                    chunk_size=self.transfer.chunk_size,
                )
                return stream.bytes_read
        except BaseException as error:
            if not stop.stopped:
                raise
            self.log.warning(
                "abandoned blob %s (%s) after %s: %s",
                blob.digest,
                human_size(blob.size),
                human_size(opened.bytes_read if opened is not None else 0),
                stop.reason,
            )
            if isinstance(error, CopyStopped):
                raise
            raise CopyStopped(stop.reason) from error  # the aborted read failed first

    def _tally(
        self, outcome: tuple[Placement, int, str | None], blob: Descriptor, started: float
    ) -> None:
        kind, copied, mounted_from = outcome
        seconds = time.monotonic() - started
        with self.lock:
            if kind == "existing":
                self.existing += 1
            elif kind == "mounted":
                self.mounted += 1
            else:
                self.copied += 1
                self.bytes_copied += copied
        if kind == "existing":
            self.log.info(
                "existing blob %s (%s) at destination, checked in %.2f s",
                blob.digest,
                human_size(blob.size),
                seconds,
            )
        elif kind == "mounted":
            self.log.info(
                "mounted blob %s (%s) from %s in %.2f s, no bytes transferred",
                blob.digest,
                human_size(blob.size),
                mounted_from,
                seconds,
            )
        else:
            self.log.info(
                "copied blob %s (%s) in %.2f s, %s",
                blob.digest,
                human_size(copied),
                seconds,
                rate(copied, seconds),
            )
