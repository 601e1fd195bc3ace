"""A rule's ``worker_queue``: the Celery queue of its tasks, validated where it is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from regrep.rules import Rule, RuleError, load_rule

MINIMAL = "name: m\nsource: src\ndestination: dst\n"


def test_absent_means_airflows_default_queue() -> None:
    rule = Rule.model_validate({"name": "m", "source": "src", "destination": "dst"})
    assert rule.worker_queue is None


@pytest.mark.parametrize("queue", ["a", "eu-west-1", "dc2.registry", "Region_B", "x" * 255])
def test_celery_queue_names_are_taken(queue: str) -> None:
    rule = Rule.model_validate(
        {"name": "m", "source": "src", "destination": "dst", "worker_queue": queue}
    )
    assert rule.worker_queue == queue


@pytest.mark.parametrize(
    "queue",
    ["", "eu west", "a,b", "-a", "amq.replication", "x" * 256, "région", "a/b", "a:b"],
)
def test_a_name_no_broker_or_worker_takes_is_refused_naming_the_field(
    queue: str, tmp_path: Path
) -> None:
    path = tmp_path / "rule.yaml"
    path.write_text(f"{MINIMAL}worker_queue: '{queue}'\n")

    with pytest.raises(RuleError) as caught:
        load_rule(path)

    assert str(caught.value) == (
        f'{path}: worker_queue: "{queue}" is not a valid Celery queue name: use letters, '
        'digits, ".", "_" and "-", starting with a letter or digit, at most 255 characters, '
        'not starting with "amq." (the name `airflow celery worker -q` takes)'
    )


def test_a_queue_that_is_not_text_is_refused_naming_the_field(tmp_path: Path) -> None:
    path = tmp_path / "rule.yaml"
    path.write_text(f"{MINIMAL}worker_queue: 7\n")

    with pytest.raises(RuleError, match=r"worker_queue: Input should be a valid string \(got 7\)"):
        load_rule(path)
