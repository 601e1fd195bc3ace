"""How one copy task moves blobs: the rule's transfer settings and what its copies share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from regrep.engine.bandwidth import Bandwidth
from regrep.engine.ledger import BlobLedger
from regrep.engine.tuning import DEFAULT_CONCURRENT_BLOBS

if TYPE_CHECKING:
    from regrep.rules import Rule


@dataclass(frozen=True)
class Transfer:
    """How a copy task moves blobs: the rule's settings and what its copies share.

    ``max_concurrent_blobs`` blobs of a manifest travel at once. ``chunk_size`` (bytes)
    sends each blob as PATCHes of that size, resumable when one is interrupted, instead of
    one streamed PUT; each chunk in flight is held in memory. ``bandwidth`` caps the bytes
    per second of the whole task, and the ``ledger`` lets its copies share their uploads.
    Stopping is the registry clients' (their :class:`~regrep.registry.cancellation.Cancellation`).
    """

    max_concurrent_blobs: int = DEFAULT_CONCURRENT_BLOBS
    chunk_size: int | None = None
    bandwidth: Bandwidth | None = None
    ledger: BlobLedger = field(default_factory=BlobLedger)

    @classmethod
    def of(cls, rule: Rule) -> Transfer:
        """The transfer settings of ``rule``, for one copy task."""
        kbps = rule.speed_limit_kbps
        return cls(
            max_concurrent_blobs=rule.max_concurrent_blobs,
            chunk_size=rule.chunk_size,
            bandwidth=Bandwidth.from_kbps(kbps) if kbps is not None else None,
        )
