"""regrep: Harbor-style replication of registry content, built on Apache Airflow."""

from __future__ import annotations

__version__ = "0.1.0"
