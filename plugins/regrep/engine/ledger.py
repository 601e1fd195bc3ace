"""Which destination repositories hold which blobs, as far as this process knows.

Copies that run in one process (the resources of a batched copy task, the benchmark's
threads) share one :class:`BlobLedger`, so a blob several of them need crosses the wire
once: the first copy to want it uploads it, the others wait for that upload and then
mount the blob from the repository it went to (go-containerregistry's "once per digest";
a failed upload is forgotten, so the next copy tries it itself). Knowing a holder also
spares the HEAD requests that would look for one.
"""

from __future__ import annotations

import threading


class BlobLedger:
    """Thread-safe ``digest -> destination repository`` for one destination registry."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, str] = {}
        self._uploading: dict[str, threading.Event] = {}

    def holder(self, digest: str) -> str | None:
        """A repository known to hold ``digest``, without waiting."""
        with self._lock:
            return self._held.get(digest)

    def note(self, digest: str, repository: str) -> None:
        """Record that ``repository`` holds ``digest`` (found there, or mounted into it)."""
        with self._lock:
            self._held.setdefault(digest, repository)

    def acquire(self, digest: str) -> str | None:
        """A repository holding ``digest``, waiting for an upload of it in progress.

        None makes the caller the uploader of ``digest``: it must call :meth:`release`,
        and other threads asking meanwhile wait for it.
        """
        while True:
            with self._lock:
                held = self._held.get(digest)
                if held is not None:
                    return held
                uploading = self._uploading.get(digest)
                if uploading is None:
                    self._uploading[digest] = threading.Event()
                    return None
            uploading.wait()

    def release(self, digest: str, repository: str | None) -> None:
        """End the upload :meth:`acquire` gave the caller; ``repository`` None if it failed."""
        with self._lock:
            if repository is not None:
                self._held.setdefault(digest, repository)
            self._uploading.pop(digest).set()
