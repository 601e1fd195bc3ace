"""The rule model: Harbor's replication policy as validated, immutable pydantic models.

Every model forbids unknown fields, so a typo is an error instead of a silently ignored
setting. Cross-field checks (namespace flattening against the name filter, deletions only
for event-based rules) live on the field they concern, so their errors name that field.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
)

from regrep.engine import tuning
from regrep.oci.manifests import Platform, validate_repository
from regrep.oci.platform_filter import PlatformResult, parse_platform
from regrep.rules import patterns
from regrep.rules.strict_model import StrictModel
from regrep.rules.triggers import ManualTrigger, Trigger
from regrep.rules.worker_queues import checked_worker_queue

ResourceType = Literal["image", "chart", "artifact"]
"""Harbor's resource filter: container images, Helm charts, or any other OCI artifact."""

Mode = Literal["pull", "push"]
"""Harbor's replication mode, naming the local side: ``pull`` copies a remote source into
your registry (the destination), ``push`` copies your registry (the source) to a remote."""

FLATTEN_ALL = -1
"""``destination_namespace_replace_count`` for Harbor's "Flatten All Levels": keep only the
last path part (``a/b/c`` with namespace ``n`` becomes ``n/c``)."""

_NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")
_NAME_MAX = 200  # "replicate_" + name must fit Airflow's 250-character dag_id
_CONN_ID_RE = re.compile(r"[A-Za-z0-9_.-]+")


def _checked_connection_id(value: str) -> str:
    if _CONN_ID_RE.fullmatch(value) is None:
        raise ValueError(
            f'"{value}" is not a valid Airflow connection id (letters, digits, "_", ".", "-")'
        )
    return value


def _checked_pattern(value: str) -> str:
    patterns.validate_pattern(value)
    return value


class _DecoratedPattern(StrictModel):
    """A Harbor pattern filter: a pattern, and whether what matches is kept or excluded."""

    pattern: str = ""
    decoration: patterns.Decoration = "matches"

    _valid_pattern = field_validator("pattern")(_checked_pattern)

    def accepts(self, value: str) -> bool:
        """Return whether ``value`` passes the filter (an empty pattern passes everything)."""
        return patterns.accepts(self.pattern, value, self.decoration)

    @model_serializer(mode="wrap")
    def _shorthand(self, handler: SerializerFunctionWrapHandler) -> Any:
        """A pattern that keeps its matches is written as the plain string users write."""
        return self.pattern if self.decoration == "matches" else handler(self)


class NameFilter(_DecoratedPattern):
    """Harbor's name filter, on repository names."""

    @property
    def listing_pattern(self) -> str:
        """The pattern that bounds what to list: none when it names what to leave out.

        (Harbor's adapters list only the projects an ``excludes`` pattern names, and then
        exclude them all; regrep lists everything and excludes those.)
        """
        return self.pattern if self.decoration == "matches" else ""


class TagFilter(_DecoratedPattern):
    """Harbor's tag filter, on each tag of an artifact."""

    @property
    def selects_untagged(self) -> bool:
        """Whether artifacts without tags pass: Harbor matches their tag as ``""``.

        True without a pattern, for ``*`` and ``**``, and for ``excludes`` of any pattern
        that does not match the empty string.
        """
        return self.accepts("")


class LabelFilter(StrictModel):
    """Harbor's label filter: an artifact must carry every ``include`` label, and is dropped
    only when it carries every ``exclude`` label (Harbor's ``excludes`` decoration drops the
    artifacts that carry all the listed labels, keeps those that lack any of them).

    Labels exist only on Harbor sources; planning refuses a label filter on any other.
    """

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    @field_validator("exclude")
    @classmethod
    def _satisfiable(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        included = set(info.data.get("include", ()))
        if value and set(value) <= included:
            raise ValueError(
                f"every excluded label ({', '.join(sorted(set(value)))}) is also included: an "
                "artifact carrying all included labels carries all excluded ones, so none passes"
            )
        return value

    @property
    def active(self) -> bool:
        """Whether the filter selects anything out (an empty one keeps every artifact)."""
        return bool(self.include or self.exclude)

    def accepts(self, labels: set[str]) -> bool:
        """Return whether an artifact carrying ``labels`` passes the filter."""
        excluded = bool(self.exclude) and set(self.exclude) <= labels
        return set(self.include) <= labels and not excluded


class PlatformFilter(StrictModel):
    """Copy only some platforms of multi-platform images (see :mod:`regrep.oci.platform_filter`).

    ``values`` are ``os/architecture[/variant]``; ``result`` is ``index`` (a new index of
    the chosen children, with a new digest) or ``manifest`` (the tag points at the first
    listed platform's image itself). A plain list is shorthand for ``{values: [...]}``.
    """

    values: tuple[str, ...] = Field(min_length=1)
    result: PlatformResult = "index"

    @field_validator("values")
    @classmethod
    def _valid_platforms(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for text in value:
            parse_platform(text)
        return value

    @property
    def parsed(self) -> list[Platform]:
        """The platforms, in the order written (the preference order for ``manifest``)."""
        return [parse_platform(text) for text in self.values]


class Filters(StrictModel):
    """Harbor's resource filters, plus platforms; an absent or empty filter selects all."""

    name: NameFilter = Field(default_factory=NameFilter)
    tag: TagFilter = Field(default_factory=TagFilter)
    resource: ResourceType | None = None
    labels: LabelFilter = Field(default_factory=LabelFilter)
    platforms: PlatformFilter | None = None

    @field_validator("platforms", mode="before")
    @classmethod
    def _platform_shorthand(cls, value: Any) -> Any:
        """Accept ``platforms: [linux/amd64]`` for ``platforms: {values: [linux/amd64]}``."""
        return {"values": value} if isinstance(value, list) else value

    @field_validator("name", "tag", mode="before")
    @classmethod
    def _pattern_shorthand(cls, value: Any) -> Any:
        """Accept ``tag: "v*"`` for ``tag: {pattern: "v*"}`` (and so for ``name``); a bad
        pattern's error is then reported on ``tag`` (``name``)."""
        if value is None:
            return {}
        if isinstance(value, str):
            patterns.validate_pattern(value)
            return {"pattern": value}
        return value


def replace_namespace(repository: str, namespace: str | None, replace_count: int) -> str:
    """Harbor's ``replaceNamespace``: put ``repository`` under ``namespace`` at the destination.

    ``replace_count`` leading namespace parts (every part but the repository's own name)
    are replaced by the namespace: with ``a/b/c`` and namespace ``n``, 0 gives ``n/a/b/c``,
    1 gives ``n/b/c``, 2 gives ``n/c`` and :data:`FLATTEN_ALL` gives ``n/c``. Replacing more
    parts than the name has namespace parts is a ``ValueError`` naming the repository, as
    in Harbor (``a/b`` with 2 would lose the name ``b``). Without a namespace the name is
    unchanged.
    """
    if not namespace:
        return repository
    *parents, name = repository.split("/")
    if replace_count == FLATTEN_ALL:
        replace_count = len(parents)
    elif replace_count > len(parents):
        raise ValueError(
            f'repository "{repository}" cannot be flattened by '
            f"destination_namespace_replace_count {replace_count}: it has only "
            f"{len(parents)} namespace part(s) before its name {name!r}"
        )
    return "/".join([namespace, *parents[replace_count:], name])


class Rule(StrictModel):
    """One replication rule; the DAG factory turns each into the DAG ``replicate_<name>``.

    ``source`` and ``destination`` are Airflow connection ids. ``destination_namespace``
    puts every repository under a namespace; ``destination_namespace_replace_count`` says
    how many leading path parts it replaces (Harbor's flattening: 0 "No Flattening", 1
    "Flatten 1 Level", the default once a namespace is set, :data:`FLATTEN_ALL` "Flatten
    All Levels"; see :func:`replace_namespace`). ``override`` lets a destination tag that
    points at another digest be overwritten. ``enabled: false`` keeps the DAG paused.
    ``replicate_deletion`` is Harbor's "Delete remote resources when locally deleted" and
    only exists for event-based rules. ``copy_referrers`` copies each copied manifest's
    signatures, SBOMs and attestations with it (OCI ``subject`` referrers and cosign tags).
    ``mode`` optionally says which side is your own registry (see :data:`Mode`); planning
    then also checks that the endpoints fit it (:mod:`regrep.rules.modes`).

    Transfer settings (per copy task): ``max_concurrent_blobs`` blobs of a manifest travel
    at once; ``copy_by_chunk`` uploads each blob in chunks of ``chunk_size_mib`` MiB,
    resuming an interrupted chunk where the registry stopped, instead of one streamed PUT;
    ``speed_limit_kbps`` caps the task's transfer rate in KiB/s (absent: no limit).

    ``notify`` names Airflow connections of the ``http`` type: when an execution ends, each
    receives Harbor's replication event (:mod:`regrep.executions.notifications`).

    ``worker_queue`` names the Celery queue every task of the rule's DAG is sent to, so the
    copies run on workers near the registries (``airflow celery worker -q <queue>``); absent:
    Airflow's ``[operators] default_queue``. Executors without queues (LocalExecutor) ignore it.
    """

    name: str
    description: str = ""
    source: str
    destination: str
    filters: Filters = Field(default_factory=Filters)
    destination_namespace: str | None = Field(default=None, validate_default=True)
    destination_namespace_replace_count: Annotated[int, Field(ge=FLATTEN_ALL)] | None = Field(
        default=None, validate_default=True
    )
    trigger: Trigger = Field(default_factory=lambda: ManualTrigger(type="manual"))
    override: bool = True
    enabled: bool = True
    retries: int = Field(default=3, ge=0)
    retry_delay_minutes: int = Field(default=5, ge=0)
    replicate_deletion: bool = Field(default=False, validate_default=True)
    copy_referrers: bool = True
    mode: Mode | None = None
    max_concurrent_blobs: int = Field(
        default=tuning.DEFAULT_CONCURRENT_BLOBS, ge=1, le=tuning.MAX_CONCURRENT_BLOBS
    )
    copy_by_chunk: bool = False
    chunk_size_mib: int | None = Field(default=None, ge=1, le=tuning.MAX_CHUNK_MIB)
    speed_limit_kbps: int | None = Field(default=None, ge=1)
    notify: tuple[str, ...] = ()
    worker_queue: str | None = None

    _valid_queue = field_validator("worker_queue")(checked_worker_queue)

    @property
    def dag_id(self) -> str:
        """The Airflow DAG id of this rule."""
        return f"replicate_{self.name}"

    @property
    def chunk_size(self) -> int | None:
        """Upload chunk size in bytes with ``copy_by_chunk``; None: one PUT per blob."""
        if not self.copy_by_chunk:
            return None
        return (self.chunk_size_mib or tuning.DEFAULT_CHUNK_MIB) << 20

    def destination_repository(self, source_repository: str) -> str:
        """Return where ``source_repository`` lands; ``ValueError`` if flattening cannot apply."""
        count = self.destination_namespace_replace_count
        return replace_namespace(source_repository, self.destination_namespace, count or 0)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if _NAME_RE.fullmatch(value) is None or len(value) > _NAME_MAX:
            raise ValueError(
                f'"{value}" is not a valid rule name: use lowercase letters, digits, ".", "_" '
                f'and "-", starting with a letter or digit, at most {_NAME_MAX} characters '
                '(the DAG id is "replicate_<name>")'
            )
        return value

    @field_validator("source", "destination")
    @classmethod
    def _valid_connection_id(cls, value: str) -> str:
        return _checked_connection_id(value)

    @field_validator("notify", mode="before")
    @classmethod
    def _one_connection_shorthand(cls, value: Any) -> Any:
        """Accept ``notify: hooks`` for ``notify: [hooks]``."""
        return [value] if isinstance(value, str) else value

    @field_validator("notify")
    @classmethod
    def _valid_notify_connections(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for conn_id in value:
            _checked_connection_id(conn_id)
        repeated = sorted({conn_id for conn_id in value if value.count(conn_id) > 1})
        if repeated:
            raise ValueError(f"connection(s) {', '.join(repeated)} named more than once")
        return value

    @field_validator("destination_namespace")
    @classmethod
    def _valid_namespace(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            source, destination = info.data.get("source"), info.data.get("destination")
            if source is not None and source == destination:
                raise ValueError(
                    f'source and destination are both "{source}": without a destination '
                    "namespace every resource would be copied onto itself"
                )
            return None
        try:
            validate_repository(value)
        except ValueError:
            raise ValueError(
                f'"{value}" is not a valid namespace: use a repository path such as "mirror" '
                'or "team/mirror" (lowercase letters, digits and the separators ".", "_", "-")'
            ) from None
        return value

    @field_validator("destination_namespace_replace_count")
    @classmethod
    def _valid_replace_count(cls, value: int | None, info: ValidationInfo) -> int | None:
        if "destination_namespace" not in info.data:
            return value  # the namespace itself is invalid and already reported
        if info.data["destination_namespace"] is None:
            if value is not None:
                raise ValueError(
                    "only applies with destination_namespace (without a namespace the "
                    "repository name is kept as it is)"
                )
            return None
        count = 1 if value is None else value  # Harbor's default: "Flatten 1 Level"
        rule_filters = info.data.get("filters")
        name = None if rule_filters is None else rule_filters.name
        if name is not None and name.decoration == "matches" and count > 0:
            shallow = [d for d in patterns.fixed_depths(name.pattern) if d <= count]
            if shallow:
                raise ValueError(
                    f"replacing {count} leading namespace part(s) needs repositories with at "
                    f"least {count + 1} parts (the name itself is kept), but filters.name "
                    f'"{name.pattern}" matches names of {shallow[0]} part(s)'
                )
        return count

    @field_validator("replicate_deletion")
    @classmethod
    def _deletion_needs_events(cls, value: bool, info: ValidationInfo) -> bool:
        trigger = info.data.get("trigger")
        if value and trigger is not None and trigger.type != "event_based":
            raise ValueError(
                f"only applies to event_based triggers, not {trigger.type}: Harbor does not "
                "replicate deletions for manual or scheduled rules"
            )
        return value

    @field_validator("chunk_size_mib")
    @classmethod
    def _chunks_need_chunking(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and info.data.get("copy_by_chunk") is False:
            raise ValueError(
                "only applies with copy_by_chunk: true (without it each blob is one "
                "streamed upload)"
            )
        return value

    @field_validator("mode")
    @classmethod
    def _mode_fits_trigger(cls, value: Mode | None, info: ValidationInfo) -> Mode | None:
        trigger = info.data.get("trigger")
        if value == "pull" and trigger is not None and trigger.type == "event_based":
            raise ValueError(
                "pull mode cannot be event_based: the source is then the remote registry, "
                "which does not report its pushes to you (Harbor's adapters offer only manual "
                "and scheduled triggers for remote sources); use a scheduled trigger, or mode "
                "push if the source is your own registry"
            )
        return value
