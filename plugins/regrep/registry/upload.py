"""The pieces of a blob upload that are not HTTP: the session, the body, the chunks.

A blob upload is a session the registry opens (end-4a POST, or a cross-repository mount
that could not mount, end-11) and the bytes sent into it: by default ONE streamed PUT
with a ``Content-Length`` (:class:`SizedBody`), or with ``copy_by_chunk`` PATCHes of a
fixed size (:func:`pieces`) whose progress the registry reports in a ``Range`` header
(:func:`uploaded_bytes`), so an interrupted chunk resumes where the registry stopped.
:class:`~regrep.registry.client.RegistryClient` sends the requests.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class BlobUpload:
    """An open upload session: ``url`` is where the registry said to send the bytes."""

    repository: str
    digest: str
    url: str

    @property
    def target(self) -> str:
        """What the session is for, in error messages."""
        return f"upload of blob {self.digest} to {self.repository}"


class SizedBody:
    """An iterable body whose length is known: sent with ``Content-Length``.

    requests frames a generator with chunked transfer encoding, and urllib3 then copies
    every piece once more to add the chunk header. With ``__len__`` it announces the
    length and hands each piece to ``sendall`` as it is: the registry reads a plain body.
    """

    def __init__(self, chunks: Iterable[bytes], size: int) -> None:
        self._chunks = chunks
        self._size = size

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._chunks)


def pieces(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """Regroup ``chunks`` into pieces of exactly ``size`` bytes (the last one shorter).

    Each piece is built with one join of views of the incoming chunks: one copy, and about
    three pieces' worth of memory at most (the one being sent, the parts and the join).
    """
    parts: list[memoryview] = []
    held = 0
    for chunk in chunks:
        view = memoryview(chunk)
        while view:
            part = view[: size - held]
            parts.append(part)
            held += len(part)
            view = view[len(part) :]
            if held == size:
                yield b"".join(parts)
                parts, held = [], 0
    if parts:
        yield b"".join(parts)


def uploaded_bytes(range_header: str | None, acknowledged: int) -> int | None:
    """How many bytes the registry holds, from an upload status ``Range: 0-<last>``.

    ``<last>`` is the index of the last byte received (end-13). distribution answers
    ``0-0`` for an empty upload too, so ``0-0`` means 0 unless a byte was already
    ``acknowledged``. None when the header is missing or malformed.
    """
    start, _, last = (range_header or "").partition("-")
    if start.strip() != "0" or not last.strip().isdigit():
        return None
    end = int(last) + 1
    return 0 if end == 1 and acknowledged == 0 else end
