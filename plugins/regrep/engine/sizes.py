"""Byte counts and rates as the task logs and execution records show them."""

from __future__ import annotations

MIB = 1 << 20
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def human_size(num_bytes: int) -> str:
    """``1536`` -> ``"1.5 KiB"``; a negative size is unknown (schema1 layers)."""
    if num_bytes < 0:
        return "unknown size"
    size, unit = float(num_bytes), 0
    while size >= 1024 and unit < len(_UNITS) - 1:
        size, unit = size / 1024, unit + 1
    return f"{num_bytes} B" if unit == 0 else f"{size:.1f} {_UNITS[unit]}"


def rate(num_bytes: int, seconds: float) -> str:
    """Throughput for the task log."""
    return f"{num_bytes / MIB / max(seconds, 1e-6):.1f} MiB/s"
