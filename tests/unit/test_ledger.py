"""The blob ledger: one upload per digest per process, failures forgotten."""

from __future__ import annotations

import threading

from regrep.engine.ledger import BlobLedger


def test_the_first_asker_uploads_and_the_others_learn_where() -> None:
    ledger = BlobLedger()
    assert ledger.acquire("sha256:a") is None  # ours to upload
    answers: list[str | None] = []
    waiter = threading.Thread(target=lambda: answers.append(ledger.acquire("sha256:a")))
    waiter.start()
    waiter.join(0.1)
    assert waiter.is_alive()  # waits while the upload is in progress
    ledger.release("sha256:a", "team/app")
    waiter.join(5)
    assert answers == ["team/app"]
    assert ledger.holder("sha256:a") == "team/app"


def test_a_failed_upload_passes_the_turn_to_a_waiter() -> None:
    ledger = BlobLedger()
    assert ledger.acquire("sha256:b") is None
    answers: list[str | None] = []
    waiter = threading.Thread(target=lambda: answers.append(ledger.acquire("sha256:b")))
    waiter.start()
    ledger.release("sha256:b", None)
    waiter.join(5)
    assert answers == [None]  # the waiter uploads it now
    assert ledger.holder("sha256:b") is None


def test_noted_blobs_need_no_upload() -> None:
    ledger = BlobLedger()
    ledger.note("sha256:c", "first")
    ledger.note("sha256:c", "second")
    assert ledger.acquire("sha256:c") == "first"
