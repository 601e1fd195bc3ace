"""From rule files to DAGs: what the DAG processor sees, and rules that must not run."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integration.airflow.dagruns import WriteRule, load_dags, run_dag

pytestmark = pytest.mark.airflow


@pytest.mark.smoke
def test_each_rule_becomes_a_dag_shaped_by_its_trigger(write_rule: WriteRule) -> None:
    write_rule("by-hand", source="src", destination="dst", description="Mirror by hand")
    write_rule(
        "nightly",
        source="src",
        destination="dst",
        trigger={"type": "scheduled", "cron": "0 0 2 * * *"},
        retries=4,
        retry_delay_minutes=7,
    )
    write_rule("on-push", source="src", destination="dst", trigger={"type": "event_based"})
    write_rule("off", source="src", destination="dst", enabled=False)

    bag = load_dags()

    assert not bag.import_errors
    assert set(bag.dags) == {
        "replicate_by-hand",
        "replicate_nightly",
        "replicate_on-push",
        "replicate_off",
    }
    manual, nightly = bag.dags["replicate_by-hand"], bag.dags["replicate_nightly"]
    assert manual.schedule is None
    assert manual.description == "Mirror by hand"
    assert "`src`" in (manual.doc_md or "")
    assert manual.tags == {"regrep", "manual"}
    assert (manual.max_active_runs, manual.catchup) == (1, False)
    assert nightly.schedule == "0 2 * * *"  # Harbor's seconds field dropped
    assert (nightly.default_args["retries"], nightly.default_args["retry_delay"]) == (
        4,
        timedelta(minutes=7),
    )
    event = bag.dags["replicate_on-push"]
    assert isinstance(event.schedule, list)
    assert [(asset.name, asset.uri) for asset in event.schedule] == [
        ("regrep-source-src", "x-regrep://src")
    ]
    assert bag.dags["replicate_off"].is_paused_upon_creation is True
    assert manual.is_paused_upon_creation is False
    assert manual.task_dict["copy"].map_index_template is not None


@pytest.mark.smoke
def test_a_worker_queue_is_the_queue_of_every_task_of_the_rule(write_rule: WriteRule) -> None:
    from airflow.sdk import conf

    write_rule(
        "near",
        source="src",
        destination="dst",
        trigger={"type": "event_based"},
        replicate_deletion=True,
        worker_queue="eu-west",
    )
    write_rule("anywhere", source="src", destination="dst")

    bag = load_dags()

    near, anywhere = bag.dags["replicate_near"], bag.dags["replicate_anywhere"]
    assert {task.task_id: task.queue for task in near.tasks} == dict.fromkeys(
        ("plan", "copy", "delete"), "eu-west"
    )
    assert "| Worker queue | `eu-west` |" in (near.doc_md or "")
    default_queue = conf.get("operators", "default_queue")
    assert {task.queue for task in anywhere.tasks} == {default_queue}
    assert "| Worker queue | Airflow's default |" in (anywhere.doc_md or "")


@pytest.mark.smoke
def test_an_invalid_rule_file_is_reported_and_the_valid_rules_still_load(
    write_rule: WriteRule, rules_dir: Path
) -> None:
    write_rule("good", source="src", destination="dst")
    write_rule("broken", source="src", destination="dst", retries=-1)
    (rules_dir / "typo.yaml").write_text("name: typo\nsource: src\ndestinaton: dst\n")

    bag = load_dags()

    assert not bag.import_errors
    assert {"replicate_good", "replicate_broken", "replicate_typo"} <= set(bag.dags)
    assert "regrep-invalid" not in bag.dags["replicate_good"].tags
    broken = bag.dags["replicate_broken"]
    assert broken.tags == {"regrep", "regrep-invalid"}
    assert "broken.yaml" in (broken.description or "")
    assert "retries" in (broken.description or "")
    typo = bag.dags["replicate_typo"].doc_md or ""
    assert str(rules_dir / "typo.yaml") in typo
    assert 'unknown field "destinaton" (did you mean "destination"?)' in typo


def test_a_rule_file_removed_from_the_folder_leaves_the_other_rules_alone(
    write_rule: WriteRule,
) -> None:
    write_rule("stays", source="src", destination="dst")
    gone = write_rule("goes", source="src", destination="dst")
    assert {"replicate_stays", "replicate_goes"} <= set(load_dags().dags)

    gone.unlink()
    bag = load_dags()

    assert not bag.import_errors
    assert "replicate_stays" in bag.dags
    assert "replicate_goes" not in bag.dags


def test_a_rule_deleted_while_the_dag_file_is_parsed_is_not_saved_again(
    write_rule: WriteRule, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``regrep rules delete`` may remove a file the DAG processor has just read: that parse
    must not hand back the DAG the command is about to delete (it came back in CI)."""
    from regrep import dag_factory

    write_rule("stays", source="src", destination="dst")
    goes = write_rule("goes", source="src", destination="dst")
    build = dag_factory.rule_dag

    def build_then_delete(rule: Any, path: Path) -> Any:
        dag = build(rule, path)
        goes.unlink(missing_ok=True)  # the file goes once the parse has read it
        return dag

    monkeypatch.setattr(dag_factory, "rule_dag", build_then_delete)
    bag = load_dags()

    assert not bag.import_errors
    assert "replicate_stays" in bag.dags
    assert "replicate_goes" not in bag.dags


def test_running_an_invalid_rule_fails_with_its_error(
    write_rule: WriteRule, capfd: pytest.CaptureFixture[str]
) -> None:
    write_rule("broken", source="src", destination="dst", retries=-1)

    run = run_dag("replicate_broken")

    assert run.state == "failed"
    assert run.task("invalid_rule").state == "failed"
    assert "broken.yaml: retries:" in "".join(capfd.readouterr())


def test_a_disabled_rule_refuses_to_run(
    write_rule: WriteRule, capfd: pytest.CaptureFixture[str]
) -> None:
    write_rule("off", source="src", destination="dst", enabled=False, retries=2)

    run = run_dag("replicate_off")

    assert run.state == "failed"
    assert (run.task("plan").state, run.task("plan").try_number) == ("failed", 1)
    assert "rule 'off' is disabled (enabled: false in its rule file)" in "".join(capfd.readouterr())


def test_running_a_task_builds_only_its_own_dag(
    write_rule: WriteRule, parsing_context: Callable[[str], None]
) -> None:
    write_rule("one", source="src", destination="dst")
    write_rule("two", source="src", destination="dst")
    write_rule("bad", source="src", destination="dst", retries=-1)
    parsing_context("replicate_two")

    assert set(load_dags().dags) == {"replicate_two"}
