"""Defaults and bounds of a rule's transfer settings.

The rule model validates these settings and the copy engine applies them; this module
imports nothing, so the rule model (which the DAG file loads) does not pull in the engine.
"""

from __future__ import annotations

DEFAULT_CONCURRENT_BLOBS = 4
"""Blobs of one manifest copied at once: enough to overlap request latency and keep both
ends busy, few enough to stay polite to a registry."""
MAX_CONCURRENT_BLOBS = 32

DEFAULT_CHUNK_MIB = 10
"""Chunk size of ``copy_by_chunk`` uploads, as Harbor's: each chunk in flight is held in
memory until the registry acknowledges it."""
MAX_CHUNK_MIB = 256
