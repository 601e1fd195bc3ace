"""What distribution's notifications and Harbor's webhooks say, as image events."""

from __future__ import annotations

from typing import Any

import pytest

from regrep.planning.image_events import ImageEvent
from regrep.webhooks.payloads import PayloadError, parse_payload

DIGEST = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64
MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def distribution_event(action: str, **target: Any) -> dict[str, Any]:
    """One event of distribution 2.8's envelope, as its notifications bridge writes it."""
    return {
        "id": "b2e8f5d4",
        "timestamp": "2024-01-01T00:00:00Z",
        "action": action,
        "target": target,
        "request": {"id": "r1", "addr": "127.0.0.1", "method": "PUT", "useragent": "test"},
        "actor": {},
        "source": {"addr": "registry:5000", "instanceID": "i1"},
    }


def test_a_distribution_envelope_yields_its_manifest_pushes_and_deletions() -> None:
    envelope = {
        "events": [
            distribution_event(
                "push",
                mediaType="application/octet-stream",
                digest=OTHER,
                repository="apps/web",
                url=f"http://registry:5000/v2/apps/web/blobs/{OTHER}",
            ),
            distribution_event(
                "push",
                mediaType=MANIFEST,
                digest=DIGEST,
                repository="apps/web",
                url=f"http://registry:5000/v2/apps/web/manifests/{DIGEST}",
                tag="1.0",
            ),
            distribution_event(
                "pull", mediaType=MANIFEST, digest=DIGEST, repository="apps/web", tag="1.0"
            ),
            distribution_event(  # a platform image of an index: no tag of its own
                "push",
                mediaType=MANIFEST,
                digest=OTHER,
                repository="apps/web",
                url=f"http://registry:5000/v2/apps/web/manifests/{OTHER}",
            ),
            distribution_event("delete", digest=DIGEST, repository="apps/web"),
        ]
    }

    assert parse_payload(envelope) == [
        ImageEvent("push", "apps/web", "1.0", DIGEST),
        ImageEvent("delete", "apps/web", None, DIGEST),
    ]


def test_a_manifest_push_is_recognised_by_media_type_without_a_url() -> None:
    envelope = {
        "events": [
            distribution_event("push", mediaType=MANIFEST, repository="a", tag="1", digest=DIGEST)
        ]
    }
    assert parse_payload(envelope) == [ImageEvent("push", "a", "1", DIGEST)]


def harbor(kind: str, resources: list[dict[str, str]]) -> dict[str, Any]:
    """Harbor's Default webhook payload."""
    return {
        "type": kind,
        "occur_at": 1700000000,
        "operator": "admin",
        "event_data": {
            "resources": resources,
            "repository": {
                "date_created": 1700000000,
                "name": "web",
                "namespace": "library",
                "repo_full_name": "library/web",
                "repo_type": "public",
            },
        },
    }


def test_harbor_push_and_delete_payloads() -> None:
    pushed = harbor(
        "PUSH_ARTIFACT",
        [
            {"digest": DIGEST, "tag": "1.0", "resource_url": "harbor/library/web:1.0"},
            {"digest": OTHER, "tag": OTHER, "resource_url": f"harbor/library/web@{OTHER}"},
        ],
    )
    deleted = harbor("DELETE_ARTIFACT", [{"digest": DIGEST, "tag": "1.0"}, {"digest": OTHER}])

    assert parse_payload(pushed) == [ImageEvent("push", "library/web", "1.0", DIGEST)]
    assert parse_payload(deleted) == [
        ImageEvent("delete", "library/web", "1.0", DIGEST),
        ImageEvent("delete", "library/web", None, OTHER),
    ]
    assert parse_payload(harbor("PULL_ARTIFACT", [{"digest": DIGEST, "tag": "1.0"}])) == []


def test_harbor_cloudevents_payload() -> None:
    default = harbor("PUSH_ARTIFACT", [{"digest": DIGEST, "tag": "2.0"}])
    cloud = {
        "specversion": "1.0",
        "id": "e1",
        "source": "/projects/1/webhook/policies/1",
        "type": "harbor.artifact.pushed",
        "datacontenttype": "application/json",
        "data": default["event_data"],
    }
    assert parse_payload(cloud) == [ImageEvent("push", "library/web", "2.0", DIGEST)]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ([], "the body must be a JSON object"),
        ({"hello": 1}, "neither a distribution notification"),
        ({"events": {}}, "'events' must be a list"),
        ({"events": ["push"]}, "events[0] must be a JSON object"),
        ({"events": [{"action": "push"}]}, "events[0].target must be a JSON object"),
        (
            {"events": [distribution_event("push", mediaType=MANIFEST, tag="1")]},
            "events[0]: no repository",
        ),
        (
            {"events": [distribution_event("push", mediaType=MANIFEST, repository="A", tag="1")]},
            "events[0]: invalid repository name 'A'",
        ),
        (
            {"events": [distribution_event("delete", repository="a")]},
            "events[0]: a delete event must name a repository and a tag or digest",
        ),
        ({"type": "PUSH_ARTIFACT", "event_data": {}}, "repository must be a JSON object"),
        (
            {"type": "PUSH_ARTIFACT", "event_data": {"repository": {"repo_full_name": "a"}}},
            "event_data.resources must be a list",
        ),
    ],
)
def test_malformed_bodies_say_what_is_wrong(body: Any, problem: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_payload(body)
    assert problem in str(caught.value)
