"""Image events as asset-event extras, and what an event-triggered run replicates."""

from __future__ import annotations

from typing import Any

import pytest

from regrep.planning.event_scope import Deletion, scope_of
from regrep.planning.image_events import EventError, ImageEvent, latest_per_resource
from regrep.rules import Rule

DIGEST = "sha256:" + "c" * 64


def rule(**fields: Any) -> Rule:
    return Rule.model_validate(
        {"name": "r", "source": "src", "destination": "dst", "trigger": {"type": "event_based"}}
        | fields
    )


def test_an_event_travels_as_an_asset_event_extra() -> None:
    event = ImageEvent("delete", "apps/web", "1.0", DIGEST)
    extra = event.to_extra()
    assert extra == {"action": "delete", "repository": "apps/web", "tag": "1.0", "digest": DIGEST}
    assert ImageEvent.from_extra(extra) == event
    assert ImageEvent.from_extra({"repository": "apps/web", "note": "ignored"}) == ImageEvent(
        "push", "apps/web"
    )
    assert ImageEvent.from_extra({}) == ImageEvent()  # "something changed at the source"


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"action": "pull", "repository": "a"}, "action 'pull' is not one of push, delete"),
        ({"tag": "1"}, "an event naming a tag or digest must name its repository"),
        ({"action": "delete", "repository": "a"}, "a delete event must name a repository"),
        ({"repository": "a", "tag": DIGEST}, f"invalid tag {DIGEST!r}"),
        ({"repository": "a", "digest": "nope"}, "invalid digest 'nope'"),
        ({"repository": 7}, "field 'repository' must be a string, got 7"),
    ],
)
def test_a_bad_extra_names_its_problem(extra: dict[str, Any], problem: str) -> None:
    with pytest.raises(EventError) as caught:
        ImageEvent.from_extra(extra)
    assert problem in str(caught.value)


def test_the_last_event_of_a_resource_wins() -> None:
    pushed, deleted = ImageEvent("push", "a", "1"), ImageEvent("delete", "a", "1", DIGEST)
    other = ImageEvent("push", "b", "1")
    assert latest_per_resource([pushed, other, deleted]) == [deleted, other]
    assert latest_per_resource([deleted, pushed]) == [pushed]


def test_a_run_no_event_triggered_replicates_everything() -> None:
    assert scope_of(rule(), None).only is None


def test_pushes_name_the_tags_and_repositories_to_plan() -> None:
    scope = scope_of(
        rule(),
        [
            ImageEvent("push", "apps/web", "1.0"),
            ImageEvent("push", "apps/web", "1.1"),
            ImageEvent("push", "apps/api"),  # the whole repository
            ImageEvent("push", "apps/db", "2"),
            ImageEvent("push", "apps/db", f"sha256-{'c' * 64}.sig"),  # a signature, late
            ImageEvent("push", "apps/untagged", None, DIGEST),
        ],
    )
    assert scope.only == {
        "apps/web": {"1.0", "1.1"},
        "apps/api": None,
        "apps/db": None,
        "apps/untagged": {DIGEST},  # planned by digest where the tag filter selects it
    }
    assert scope.deletions == []


def test_an_event_naming_nothing_replans_the_whole_source() -> None:
    assert scope_of(rule(), [ImageEvent("push", "apps/web", "1"), ImageEvent()]).only is None


def test_events_that_name_nothing_to_copy_plan_nothing() -> None:
    assert scope_of(rule(), []).only == {}


def test_deletions_follow_the_rule_filters_and_namespace() -> None:
    events = [
        ImageEvent("delete", "apps/web", "1.0", DIGEST),
        ImageEvent("delete", "apps/api", None, DIGEST),
        ImageEvent("delete", "apps/web", "dev-1"),  # excluded by the tag filter
        ImageEvent("delete", "tools/x", "1"),  # excluded by the name filter
    ]
    mirrored = rule(
        replicate_deletion=True,
        filters={"name": "apps/**", "tag": {"pattern": "dev-*", "decoration": "excludes"}},
        destination_namespace="mirror",
    )
    assert scope_of(mirrored, events).deletions == [
        Deletion("apps/web:1.0", "mirror/web", "1.0", DIGEST),
        Deletion(f"apps/api@{DIGEST}", "mirror/api", None, DIGEST),
    ]
    assert scope_of(rule(), events).deletions == []  # replicate_deletion is off
