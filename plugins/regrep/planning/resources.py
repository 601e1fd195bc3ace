"""What a plan is made of: the resources to replicate, the repositories refused, the plan.

A :class:`Resource` travels from the plan task to its copy task through XCom, so it has a
plain JSON form (:meth:`Resource.to_dict`) that older plans read back too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from regrep.oci.manifests import is_digest


@dataclass(frozen=True)
class Resource:
    """One artifact to replicate: where it comes from, where it goes, and what it is.

    ``tag`` is None for an artifact without tags, which is copied by its ``digest`` and
    gets no tag at the destination either. ``referrer_tags`` are the referrer tags of the
    source repository that the copy's referrer survey may ask about, handed on by the plan
    that listed them; None when not known, and the copy lists the repository's tags. A hint,
    not part of what the resource is, so it takes no part in comparisons.
    """

    source_repository: str
    tag: str | None
    destination_repository: str
    digest: str
    media_type: str
    referrer_tags: tuple[str, ...] | None = field(default=None, compare=False)

    @property
    def reference(self) -> str:
        """What the resource is asked for by: its tag, or its digest when it has none."""
        return self.digest if self.tag is None else self.tag

    @property
    def label(self) -> str:
        """``repo:tag`` (``repo@sha256:...`` untagged) at the source, for logs and task names."""
        return labelled(self.source_repository, self.reference)

    @property
    def destination_label(self) -> str:
        """``repo:tag`` (``repo@sha256:...`` untagged) at the destination."""
        return labelled(self.destination_repository, self.reference)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (Airflow passes plans between tasks through XCom).

        ``referrer_tags`` is left out when unknown, which is also how a resource planned
        before resources carried it reads back; ``tag`` is None for an untagged artifact.
        """
        data: dict[str, Any] = {name: getattr(self, name) for name in _TEXT_FIELDS}
        data["tag"] = self.tag
        if self.referrer_tags is not None:
            data["referrer_tags"] = list(self.referrer_tags)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Resource:
        """Rebuild a resource from :meth:`to_dict`; ``ValueError`` if a field is missing."""
        values: dict[str, str] = {}
        for name in _TEXT_FIELDS:
            value = data.get(name)
            if not isinstance(value, str):
                raise ValueError(f"resource field {name!r} must be a string, got {value!r}")
            values[name] = value
        tag = data.get("tag")
        if tag is not None and not isinstance(tag, str):
            raise ValueError(f"resource field 'tag' must be a string or null, got {tag!r}")
        tags = data.get("referrer_tags")
        if tags is not None and not (
            isinstance(tags, list) and all(isinstance(tag, str) for tag in tags)
        ):
            raise ValueError(f"resource field 'referrer_tags' must list strings, got {tags!r}")
        return cls(**values, tag=tag, referrer_tags=None if tags is None else tuple(tags))


_TEXT_FIELDS = tuple(
    f.name for f in dataclasses.fields(Resource) if f.name not in ("tag", "referrer_tags")
)


def labelled(repository: str, reference: str) -> str:
    """``repository:tag``, or ``repository@digest`` for a digest."""
    return f"{repository}{'@' if is_digest(reference) else ':'}{reference}"


@dataclass(frozen=True)
class Refusal:
    """A source repository the rule cannot replicate, and why (``label`` names it)."""

    label: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """A JSON-serialisable form for XCom."""
        return {"label": self.label, "message": self.message}


@dataclass(frozen=True)
class Plan:
    """What one run of a rule has to do.

    ``resources`` are the tags and untagged artifacts to copy, ``unchanged`` those whose
    destination already holds the digest they would get (and, with ``copy_referrers``, all
    their referrers), and ``listed`` the number that passed the name and tag filters (the
    resource, label and platform filters drop some of those from both lists). Referrers
    that travel with their subjects are not counted. ``refused`` are the repositories the
    rule cannot apply to (see the module's docstring).
    """

    resources: list[Resource]
    unchanged: list[Resource]
    listed: int
    refused: list[Refusal] = field(default_factory=list)
