"""Upload helpers: chunk regrouping and the registry's upload progress header."""

from __future__ import annotations

import pytest

from regrep.registry.upload import SizedBody, pieces, uploaded_bytes


def test_pieces_have_the_chunk_size_whatever_comes_in() -> None:
    incoming = [b"a" * 3, b"b" * 7, b"c", b"d" * 10]
    out = list(pieces(incoming, 4))
    assert [len(p) for p in out] == [4, 4, 4, 4, 4, 1]
    assert b"".join(out) == b"".join(incoming)
    assert list(pieces([], 4)) == []


@pytest.mark.parametrize(
    ("header", "acknowledged", "expected"),
    [
        ("0-1048575", 0, 1 << 20),
        ("0-0", 0, 0),  # distribution's answer for an empty upload
        ("0-0", 1, 1),
        (None, 0, None),
        ("bytes=0-9", 0, None),
        ("0-", 0, None),
    ],
)
def test_uploaded_bytes(header: str | None, acknowledged: int, expected: int | None) -> None:
    assert uploaded_bytes(header, acknowledged) == expected


def test_a_sized_body_announces_its_length() -> None:
    body = SizedBody(iter([b"ab", b"cd"]), 4)
    assert len(body) == 4 and b"".join(body) == b"abcd"
