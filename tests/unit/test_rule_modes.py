"""Rule modes: the optional ``mode`` naming the local side, its checks and its wording."""

from __future__ import annotations

from pathlib import Path

import pytest

from regrep.rules import Rule, RuleError, load_rule, modes

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "rules" / "examples"


def _rule(**fields: object) -> Rule:
    return Rule.model_validate({"name": "r", "source": "remote", "destination": "mine", **fields})


def test_mode_is_optional_and_named_in_harbors_words() -> None:
    assert _rule().mode is None
    assert modes.describe(_rule()) == "Replicate remote to mine"
    assert modes.describe(_rule(mode="pull")) == "Pull-based: remote remote into local mine"
    assert modes.describe(_rule(mode="push", description="Publish")) == (
        "Push-based: local remote to remote mine. Publish"
    )
    assert modes.mode_row(_rule(mode="pull")) == "pull-based (local: `mine`)"
    assert modes.mode_row(_rule()) == "not set"


def test_a_pull_mode_rule_cannot_wait_for_the_remote_to_report_pushes(tmp_path: Path) -> None:
    path = tmp_path / "rule.yaml"
    path.write_text(
        "name: r\nsource: remote\ndestination: mine\nmode: pull\ntrigger: {type: event_based}\n"
    )

    with pytest.raises(RuleError) as refused:
        load_rule(path)

    assert str(refused.value) == (
        f"{path}: mode: pull mode cannot be event_based: the source is then the remote "
        "registry, which does not report its pushes to you (Harbor's adapters offer only "
        "manual and scheduled triggers for remote sources); use a scheduled trigger, or "
        "mode push if the source is your own registry"
    )
    assert _rule(mode="push", trigger={"type": "event_based"}).mode == "push"


def test_an_unknown_mode_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rule.yaml"
    path.write_text("name: r\nsource: remote\ndestination: mine\nmode: mirror\n")

    with pytest.raises(RuleError, match=r"mode: Input should be 'pull' or 'push'"):
        load_rule(path)


def test_the_mode_examples_load() -> None:
    assert load_rule(EXAMPLES / "pull-mode.yaml").mode == "pull"
    assert load_rule(EXAMPLES / "push-mode.yaml").mode == "push"
