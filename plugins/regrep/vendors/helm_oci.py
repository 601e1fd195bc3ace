"""A packaged Helm chart as the OCI artifact ``helm push`` makes of it, byte for byte.

``helm push`` (helm/helm ``pkg/registry/client.go`` ``Push``, Helm 3.15+) uploads:

- the config blob ``json.Marshal(chart.Metadata)``: the chart's ``Chart.yaml`` as Helm
  loads it (``pkg/chart/metadata.go`` field order, empty fields omitted, strings sanitised
  by ``Metadata.Validate``), media type ``application/vnd.cncf.helm.config.v1+json``;
- one layer, the ``.tgz`` unchanged, ``application/vnd.cncf.helm.chart.content.v1.tar+gzip``;
- an OCI image manifest ``{"schemaVersion":2,"config":...,"layers":[...],"annotations":...}``
  (no ``mediaType`` member), annotated by ``generateOCIAnnotations`` (``pkg/registry/chart.go``):
  description, title, version, url, created, source, authors, then the chart's own
  annotations except title and version;
- under the tag ``version`` with ``+`` replaced by ``_`` (OCI tags cannot hold ``+``).

Everything is serialised the way Go's ``encoding/json`` does (compact, map keys sorted,
``<``, ``>``, ``&`` escaped), and YAML scalars reach string fields the way
``sigs.k8s.io/yaml`` converts them (``appVersion: 1.10`` becomes ``"1.1"``), so a chart
replicated here has the digest ``helm push`` gives it with the same creation time. That
time is Helm's one non-deterministic input (the archive's modification time, or now): we
take the chart repository index's ``created`` for the version, so every path a chart takes
through regrep gives one digest. What differs from ``helm push``: no provenance layer (a
``.prov`` file is not fetched); the newer Helm 4 fields (``depends-on``) and its escaping of
non-ASCII annotation values are not reproduced.
"""

from __future__ import annotations

import io
import math
import re
import struct
import tarfile
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import yaml

from regrep.oci.manifests import HELM_CONFIG, OCI_MANIFEST, Descriptor, Manifest, sha256_digest

CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
MAX_CHART_BYTES = 100 << 20  # Helm refuses decompressed charts over 100 MiB too
_CREATED_RE = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)")
_GO_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b"}
_GO_ESCAPES |= {"\f": "\\f", "<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}
_GO_ESCAPES |= {"\u2028": "\\u2028", "\u2029": "\\u2029"}


class _GoYamlLoader(yaml.SafeLoader):
    """YAML as ``sigs.k8s.io/yaml`` reads it into ``interface{}``: timestamps stay text."""


_GoYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(text: bytes | str) -> Any:
    """Parse YAML the way Helm's loader sees it (timestamps kept as written)."""
    return yaml.load(text, Loader=_GoYamlLoader)  # a SafeLoader: no arbitrary objects


@dataclass(frozen=True)
class ChartArtifact:
    """A chart version as an OCI artifact: the manifest, and the config blob's bytes."""

    manifest: Manifest
    config: bytes

    @property
    def layer(self) -> Descriptor:
        """The descriptor of the chart archive layer."""
        return self.manifest.layers[0]


def oci_tag(version: str) -> str:
    """Helm's tag for a chart version: ``1.0.0+build.1`` -> ``1.0.0_build.1``."""
    return version.replace("+", "_")


def chart_artifact(archive: bytes, created: str) -> ChartArtifact:
    """The artifact ``helm push`` makes of ``archive`` created at ``created``.

    ``created`` is an RFC 3339 time (the index's ``created``); ``ValueError`` says what is
    wrong with an archive Helm would not load either.
    """
    metadata = chart_metadata(archive)
    config = go_json(metadata).encode()
    config_descriptor = {
        "mediaType": HELM_CONFIG,
        "digest": sha256_digest(config),
        "size": len(config),
    }
    layer = {"mediaType": CHART_LAYER, "digest": sha256_digest(archive), "size": len(archive)}
    raw = go_json(
        {
            "schemaVersion": 2,
            "config": config_descriptor,
            "layers": [layer],
            "annotations": dict(sorted(oci_annotations(metadata, _rfc3339(created)).items())),
        }
    ).encode()
    return ChartArtifact(Manifest.parse(raw, OCI_MANIFEST), config)


def chart_metadata(archive: bytes) -> dict[str, Any]:
    """``chart.Metadata`` of a packaged chart, as Helm's loader builds it, in Go's order.

    ``Chart.yaml`` first, then a ``requirements.yaml`` next to it (apiVersion v1 charts keep
    their dependencies there), a missing ``apiVersion`` meaning v1.
    """
    files = _top_level_files(archive, ("Chart.yaml", "requirements.yaml"))
    if "Chart.yaml" not in files:
        raise ValueError("the chart archive has no Chart.yaml")
    document: dict[str, Any] = {}
    for name in ("Chart.yaml", "requirements.yaml"):
        loaded = load_yaml(files[name]) if name in files else None
        if loaded is not None and not isinstance(loaded, dict):
            raise ValueError(f"{name} is not a YAML mapping")
        document.update(loaded or {})
    metadata = _convert(document, _METADATA, "Chart.yaml")
    metadata.setdefault("apiVersion", "v1")
    for required in ("name", "version"):
        if not metadata.get(required):
            raise ValueError(f"Chart.yaml has no {required}")
    return {key: metadata[key] for key, _ in _METADATA if key in metadata}


def oci_annotations(metadata: Mapping[str, Any], created: str) -> dict[str, str]:
    """Helm's ``generateOCIAnnotations``: the chart's fields, then its own annotations."""
    annotations: dict[str, str] = {}

    def add(key: str, value: str | None) -> None:
        if value and value.strip():
            annotations[f"org.opencontainers.image.{key}"] = value

    add("description", metadata.get("description"))
    add("title", metadata.get("name"))
    add("version", metadata.get("version"))
    add("url", metadata.get("home"))
    add("created", created)
    add("source", (metadata.get("sources") or [None])[0])
    maintainers = metadata.get("maintainers") or []
    if maintainers:
        add("authors", ", ".join(_author(m) for m in maintainers))
    immutable = {"org.opencontainers.image.version", "org.opencontainers.image.title"}
    for key, value in (metadata.get("annotations") or {}).items():
        if key not in immutable:
            annotations[key] = value
    return annotations


def go_json(value: Any) -> str:
    """``value`` as Go's ``json.Marshal`` writes it; dicts keep their (struct) order."""
    if isinstance(value, dict):
        members = (f"{go_json(str(key))}:{go_json(item)}" for key, item in value.items())
        return "{" + ",".join(members) + "}"
    if isinstance(value, list):
        return "[" + ",".join(go_json(item) for item in value) + "]"
    if isinstance(value, str):
        return '"' + "".join(_GO_ESCAPES.get(c) or _control(c) for c in value) + '"'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    raise TypeError(f"cannot serialise {type(value).__name__} as JSON")


# -- chart.Metadata, field by field ----------------------------------------------------------

Converter = Callable[[Any, str], Any]


def _string(value: Any, where: str) -> str:
    """A YAML scalar in a Go string field, as ``sigs.k8s.io/yaml`` converts it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float32(value)
    if isinstance(value, str):
        return value
    raise ValueError(f"{where} must be a string, not {type(value).__name__}")


def _text(value: Any, where: str) -> str:
    """A string field ``Metadata.Validate`` sanitises."""
    return _sanitize(_string(value, where))


def _texts(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{where} must be a list")
    return [_text(item, f"{where}[{i}]") for i, item in enumerate(value)]


def _flag(value: Any, where: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ValueError(f"{where} must be true or false")
    return value


def _string_map(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be a mapping")
    converted = {_string(k, where): _string(v, f"{where}.{k}") for k, v in value.items()}
    return dict(sorted(converted.items()))  # a Go map: keys sorted when marshalled


def _any(value: Any, where: str) -> Any:
    """An ``interface{}`` value (``import-values``): maps get Go's sorted keys."""
    if isinstance(value, dict):
        return {_string(k, where): _any(v, where) for k, v in sorted(value.items(), key=str)}
    if isinstance(value, list):
        return [_any(item, where) for item in value]
    return value


def _records(fields: tuple[tuple[str, Converter], ...], kept: frozenset[str]) -> Converter:
    """A list of structs (``[]*Maintainer``, ``[]*Dependency``); null entries are errors."""

    def convert(value: Any, where: str) -> list[dict[str, Any]]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise ValueError(f"{where} must be a list")
        records = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise ValueError(f"{where}[{i}] must be a mapping")
            record = _convert(item, fields, f"{where}[{i}]")
            records.append(
                {key: record.get(key, "") for key, _ in fields if key in record or key in kept}
            )
        return records

    return convert


def _convert(
    document: Mapping[str, Any], fields: tuple[tuple[str, Converter], ...], where: str
) -> dict[str, Any]:
    """The fields Go would unmarshal, converted, with the ones ``omitempty`` drops left out.

    Like ``encoding/json``, a key matches its field case-insensitively; unknown keys go.
    """
    by_name = {key.lower(): (key, convert) for key, convert in fields}
    converted: dict[str, Any] = {}
    for raw_key, value in document.items():
        known = by_name.get(str(raw_key).lower())
        if known is not None:
            key, convert = known
            converted[key] = convert(value, f"{where} {key}")
    return {key: value for key, value in converted.items() if value not in ("", [], {}, False)}


_MAINTAINER: tuple[tuple[str, Converter], ...] = (("name", _text), ("email", _text), ("url", _text))
_DEPENDENCY: tuple[tuple[str, Converter], ...] = (
    ("name", _text),
    ("version", _text),
    ("repository", _text),
    ("condition", _text),
    ("tags", _texts),
    ("enabled", _flag),
    ("import-values", lambda value, where: _any(value or [], where)),
    ("alias", _string),
)
# chart.Metadata (helm/helm pkg/chart/metadata.go), in struct order.
_METADATA: tuple[tuple[str, Converter], ...] = (
    ("name", _text),
    ("home", _text),
    ("sources", _texts),
    ("version", _string),
    ("description", _text),
    ("keywords", _texts),
    ("maintainers", _records(_MAINTAINER, frozenset())),
    ("icon", _text),
    ("apiVersion", _string),
    ("condition", _text),
    ("tags", _text),
    ("appVersion", _text),
    ("deprecated", _flag),
    ("annotations", _string_map),
    ("kubeVersion", _text),
    ("dependencies", _records(_DEPENDENCY, frozenset({"name", "repository"}))),
    ("type", _string),
)


# -- Go's conversions ------------------------------------------------------------------------


def _sanitize(text: str) -> str:
    """Helm's ``sanitizeString``: spaces become " ", other unprintable characters go."""
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if char in "\t\n\v\f\r\x85\xa0" or category in ("Zs", "Zl", "Zp"):
            kept.append(" ")
        elif category[0] in "LMNPS":
            kept.append(char)
    return "".join(kept)


def _control(char: str) -> str:
    return f"\\u{ord(char):04x}" if ord(char) < 0x20 else char


def _go_float32(value: float) -> str:
    """``strconv.FormatFloat(value, 'g', -1, 32)``: the shortest float32 digits."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value) or abs(value) > 3.4028234663852886e38:
        return "+Inf" if value > 0 else "-Inf"
    single = _float32(value)
    if single == 0:
        return "-0" if math.copysign(1, single) < 0 else "0"
    for precision in range(1, 10):
        mantissa, _, exponent = f"{single:.{precision - 1}e}".partition("e")
        if _float32(float(f"{mantissa}e{exponent}")) == single:
            break
    sign = "-" if mantissa.startswith("-") else ""
    digits = mantissa.lstrip("-").replace(".", "")
    exp = int(exponent)
    if exp < -4 or exp >= 6:  # Go's %e choice for the shortest 'g' format
        fraction = f".{digits[1:]}" if len(digits) > 1 else ""
        return f"{sign}{digits[0]}{fraction}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    point = exp + 1
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _float32(value: float) -> float:
    return float(struct.unpack("f", struct.pack("f", value))[0])


def _author(maintainer: Mapping[str, str]) -> str:
    name, email = maintainer.get("name", ""), maintainer.get("email", "")
    return name + (f" ({email})" if email else "")


def _rfc3339(created: str) -> str:
    """Go's ``time.RFC3339`` of an index ``created`` time, in UTC, whole seconds."""
    found = _CREATED_RE.fullmatch(created.strip())
    if found is None:
        raise ValueError(f"created time {created!r} is not RFC 3339")
    zone = "+00:00" if found.group(2) == "Z" else found.group(2)
    moment = datetime.fromisoformat(found.group(1) + zone).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _top_level_files(archive: bytes, names: tuple[str, ...]) -> dict[str, bytes]:
    """The files ``<chart dir>/<name>`` of a chart archive (subcharts' ones are not)."""
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            for member in tar:
                parts = member.name.lstrip("./").split("/")
                if member.isfile() and len(parts) == 2 and parts[1] in names:
                    if member.size > MAX_CHART_BYTES:
                        raise ValueError(f"{parts[1]} is larger than {MAX_CHART_BYTES} bytes")
                    extracted = tar.extractfile(member)
                    if extracted is not None:
                        found[parts[1]] = extracted.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ValueError(f"not a gzipped tar archive of a chart: {exc}") from None
    return found
