"""A rule's transfer settings: concurrency, chunked uploads, speed limit."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from regrep.engine.transfer import Transfer
from regrep.rules import Rule

MINIMAL: dict[str, Any] = {"name": "m", "source": "src", "destination": "dst"}


def test_defaults_stream_each_blob_in_one_put_without_limit() -> None:
    rule = Rule.model_validate(MINIMAL)
    assert (rule.max_concurrent_blobs, rule.chunk_size, rule.speed_limit_kbps) == (4, None, None)
    transfer = Transfer.of(rule)
    assert (transfer.max_concurrent_blobs, transfer.chunk_size, transfer.bandwidth) == (
        4,
        None,
        None,
    )


def test_settings_reach_the_transfer() -> None:
    rule = Rule.model_validate(
        {
            **MINIMAL,
            "max_concurrent_blobs": 8,
            "copy_by_chunk": True,
            "chunk_size_mib": 32,
            "speed_limit_kbps": 2048,
        }
    )
    transfer = Transfer.of(rule)
    assert transfer.max_concurrent_blobs == 8
    assert transfer.chunk_size == 32 << 20
    assert transfer.bandwidth is not None and transfer.bandwidth.rate == 2048 * 1024


def test_chunking_defaults_to_ten_mib() -> None:
    assert Rule.model_validate({**MINIMAL, "copy_by_chunk": True}).chunk_size == 10 << 20


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"chunk_size_mib": 5}, "only applies with copy_by_chunk: true"),
        ({"copy_by_chunk": True, "chunk_size_mib": 0}, "greater than or equal to 1"),
        ({"copy_by_chunk": True, "chunk_size_mib": 1024}, "less than or equal to 256"),
        ({"max_concurrent_blobs": 0}, "greater than or equal to 1"),
        ({"max_concurrent_blobs": 100}, "less than or equal to 32"),
        ({"speed_limit_kbps": -1}, "greater than or equal to 1"),
    ],
)
def test_invalid_settings(settings: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Rule.model_validate({**MINIMAL, **settings})
