"""Deterministic generated content for layers, from a few bytes to benchmark-sized.

Content is pseudo-random (registries never look inside layers, and random bytes defeat any
compression or deduplication that would flatter a benchmark) and a pure function of
``(size, seed)``: the same call yields the same digest in any repository or registry. A
``GeneratedBlob`` is produced in 1 MiB chunks, once to compute its digest and again to upload
it, so memory stays flat whatever the size.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

CHUNK_SIZE = 1 << 20


@dataclass(frozen=True)
class GeneratedBlob:
    """``size`` pseudo-random bytes derived from ``seed``, never held whole in memory."""

    size: int
    seed: int | str

    def chunks(self) -> Iterator[bytes]:
        rng = random.Random(str(self.seed))
        for offset in range(0, self.size, CHUNK_SIZE):
            yield rng.randbytes(min(CHUNK_SIZE, self.size - offset))

    @cached_property
    def digest(self) -> str:
        sha = hashlib.sha256()
        for chunk in self.chunks():
            sha.update(chunk)
        return f"sha256:{sha.hexdigest()}"


Blob = bytes | GeneratedBlob


def make_blob(size: int, seed: int | str = 0) -> bytes:
    """The bytes of ``GeneratedBlob(size, seed)``, for content small enough to hold."""
    return b"".join(GeneratedBlob(size, seed).chunks())


def generated(size: int, seed: int | str) -> Blob:
    """Content of ``size`` bytes: held in memory when small, streamed when over one chunk."""
    return GeneratedBlob(size, seed) if size > CHUNK_SIZE else make_blob(size, seed)


def blob_digest(blob: Blob) -> str:
    if isinstance(blob, GeneratedBlob):
        return blob.digest
    return f"sha256:{hashlib.sha256(blob).hexdigest()}"


def blob_length(blob: Blob) -> int:
    return blob.size if isinstance(blob, GeneratedBlob) else len(blob)
