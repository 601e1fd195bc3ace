"""The rule preview (what a rule would replicate now, nothing copied) and the rules folder as
the Replication page lists it, against real registries and Airflow's connection lookup."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from regrep.rules import Rule
from regrep.ui import rule_preview
from regrep.ui.rule_entries import NameTaken, entry, find, read_folder, target_path
from tests.integration.airflow.dagruns import Connect
from tests.support.images import list_tags, manifest_digest, push_image
from tests.support.registries import RegistryPair, RunningRegistry

pytestmark = pytest.mark.airflow


def test_the_preview_tells_new_changed_and_in_place_without_copying(
    registry_pair: RegistryPair, connect: Connect
) -> None:
    source, destination = registry_pair
    connect("src", source)
    connect("dst", destination)
    push_image(source, "library/alpine", "1.0")
    push_image(destination, "mirror/alpine", "1.0", seed="library/alpine:1.0")  # the same
    push_image(source, "library/alpine", "1.1")
    push_image(destination, "mirror/alpine", "1.1", seed="elsewhere")
    push_image(source, "library/nginx", "2.0")
    push_image(source, "other/web", "1.0")  # not selected by the name filter
    rule = Rule.model_validate(
        {
            "name": "mirror",
            "source": "src",
            "destination": "dst",
            "filters": {"name": "library/**"},
            "destination_namespace": "mirror",
        }
    )

    preview = rule_preview.preview(rule)

    statuses = {item["source"]: (item["destination"], item["status"]) for item in preview["items"]}
    assert statuses == {
        "library/alpine:1.0": ("mirror/alpine:1.0", "in_place"),
        "library/alpine:1.1": ("mirror/alpine:1.1", "changed"),
        "library/nginx:2.0": ("mirror/nginx:2.0", "new"),
    }
    assert (preview["total"], preview["inspected"], preview["complete"]) == (3, 3, True)
    assert preview["counts"] == {"new": 1, "changed": 1, "in_place": 1}
    changed = next(i for i in preview["items"] if i["status"] == "changed")
    assert "it is overwritten" in changed["note"]
    assert list_tags(destination, "mirror/nginx") == []  # nothing was copied
    assert manifest_digest(destination, "mirror/alpine", "1.1") != changed["digest"]


def test_a_large_source_is_counted_whole_but_only_its_first_tags_inspected(
    registry_pair: RegistryPair, connect: Connect
) -> None:
    source, destination = registry_pair
    connect("src", source)
    connect("dst", destination)
    for repository in ("apps/a", "apps/b"):
        for tag in ("1", "2", "3"):
            push_image(source, repository, tag, layer_sizes=(64,))
    rule = Rule(name="big", source="src", destination="dst")

    preview = rule_preview.preview(rule, limit=4)

    assert (preview["total"], preview["inspected"], preview["limit"]) == (6, 4, 4)
    assert [item["source"] for item in preview["items"]] == [
        "apps/a:1",
        "apps/a:2",
        "apps/a:3",
        "apps/b:1",
    ]
    assert all(item["status"] == "new" for item in preview["items"])


@contextmanager
def silent_registry() -> Iterator[str]:
    """A server that accepts connections and never answers (a hung registry)."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        with suppress(OSError):
            while True:
                held.append(listener.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        for connection in held:  # the preview's requests end with a reset
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()


def test_a_preview_that_runs_out_of_time_says_so(
    registry: RunningRegistry, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect("dst", registry)
    with silent_registry() as url:
        monkeypatch.setenv(
            "AIRFLOW_CONN_HUNG", f'{{"conn_type": "regrep_docker_registry", "host": "{url}"}}'
        )
        rule = Rule(name="hung", source="hung", destination="dst")

        with pytest.raises(rule_preview.PreviewTimeout, match="did not answer within 1 s"):
            rule_preview.preview(rule, seconds=1)


INVALID = "name: broken\nsource: src\ndestination: dst\nretries: -1\n"


def test_the_rules_folder_lists_invalid_files_with_their_problems(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text("name: good\nsource: src\ndestination: dst\n")
    (tmp_path / "broken.yaml").write_text(INVALID)
    (tmp_path / "garbage.yml").write_text("name: [unclosed\n")

    files = read_folder(tmp_path)
    entries = {e["name"]: e for e in map(entry, files)}

    assert set(entries) == {"good", "broken", "garbage"}
    assert entries["good"]["valid"] is True
    assert entries["good"]["summary"]["trigger"] == "manual"
    assert entries["broken"]["valid"] is False
    assert entries["broken"]["problems"] == [
        "retries: Input should be greater than or equal to 0 (got -1)"
    ]
    assert entries["broken"]["document"]["retries"] == -1  # the form can show and fix it
    assert entries["broken"]["dag_id"] == "replicate_broken"
    assert entries["garbage"]["document"] is None
    assert "invalid YAML" in entries["garbage"]["problems"][0]


def test_a_rule_is_written_to_its_own_file_and_never_over_another_rule(tmp_path: Path) -> None:
    (tmp_path / "custom-name.yml").write_text("name: mirror\nsource: src\ndestination: dst\n")
    (tmp_path / "taken.yaml").write_text("name: other\nsource: src\ndestination: dst\n")
    (tmp_path / "broken.yaml").write_text(INVALID)
    files = read_folder(tmp_path)

    assert target_path(tmp_path, files, "mirror") == tmp_path / "custom-name.yml"
    assert target_path(tmp_path, files, "broken") == tmp_path / "broken.yaml"  # its fix
    assert target_path(tmp_path, files, "fresh") == tmp_path / "fresh.yaml"
    assert find(files, "other") is not None
    with pytest.raises(NameTaken, match=r"taken\.yaml holds the rule 'other'"):
        target_path(tmp_path, files, "taken")
