"""Service contracts: OpenAPI (endpoints a service exposes) and AsyncAPI (topics it uses)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from connectors.yaml_lines import line_of, load_yaml
from kb.contract.kinds import DocumentKind, EventRole
from kb.contract.records import DocumentRecord, EventTopicRecord, Record

_MARKER = re.compile(r"""^\s*["']?(openapi|swagger|asyncapi)["']?\s*:""", re.M)
_METHODS = ("get", "post", "put", "patch", "delete", "head", "options", "trace")


@dataclass
class Contract:
    """A parsed contract: its readable summary and, for AsyncAPI, the topics and roles."""

    kind: str  # openapi | asyncapi
    title: str
    summary: str
    version: str | None = None
    endpoints: list[str] = field(default_factory=list)
    topics: list[tuple[str, EventRole, int | None]] = field(default_factory=list)


def contract_kind(path: str, text: str) -> str | None:
    """'openapi' or 'asyncapi' when a YAML/JSON file is such a contract, else None."""
    if PurePosixPath(path).suffix.lower() not in (".yaml", ".yml", ".json"):
        return None
    m = _MARKER.search(text[:4000])
    if not m:
        return None
    return "asyncapi" if m.group(1) == "asyncapi" else "openapi"


def parse_contract(kind: str, text: str, path: str) -> Contract | None:
    """The contract in a YAML/JSON text (raises yaml.YAMLError on broken syntax)."""
    docs = load_yaml(text)
    if not docs or not isinstance(docs[0], dict):
        return None
    doc = docs[0]
    info = _dict(doc.get("info"))
    title = str(info.get("title") or PurePosixPath(path).stem)
    version = str(info["version"]) if info.get("version") is not None else None
    description = str(info.get("description") or "").strip()
    if kind == "asyncapi":
        return _asyncapi(doc, title, version, description)
    return _openapi(doc, title, version, description)


def _dict(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _openapi(doc: dict[str, Any], title: str, version: str | None, description: str) -> Contract:
    spec = f"OpenAPI {doc.get('openapi') or doc.get('swagger')}"
    lines = [f"# {title} API", "", f"{spec} contract, version {version or 'unversioned'}."]
    if description:
        lines += ["", description]
    servers = [s.get("url") for s in doc.get("servers") or [] if isinstance(s, dict)]
    if servers:
        lines += ["", "Servers: " + ", ".join(str(s) for s in servers if s)]
    endpoints: list[str] = []
    paths = _dict(doc.get("paths"))
    lines += ["", "## Endpoints", ""]
    for route, ops in paths.items():
        if not isinstance(ops, dict):
            continue
        for method in _METHODS:
            op = ops.get(method)
            if not isinstance(op, dict):
                continue
            endpoint = f"{method.upper()} {route}"
            endpoints.append(endpoint)
            summary = str(op.get("summary") or op.get("description") or "").strip()
            summary = summary.splitlines()[0] if summary else ""
            flags = " (deprecated)" if op.get("deprecated") else ""
            lines.append(f"- `{endpoint}`{flags}" + (f": {summary}" if summary else ""))
    if not endpoints:
        lines.append("(no operations)")
    return Contract("openapi", title, "\n".join(lines).strip() + "\n", version, endpoints)


def _asyncapi(doc: dict[str, Any], title: str, version: str | None, description: str) -> Contract:
    lines = [f"# {title} events", "", f"AsyncAPI {doc.get('asyncapi')} contract, version "
             f"{version or 'unversioned'}."]  # fmt: skip
    if description:
        lines += ["", description]
    channels = _dict(doc.get("channels"))
    topics: list[tuple[str, EventRole, int | None]] = []
    if str(doc.get("asyncapi", "")).startswith("2") or "operations" not in doc:
        # AsyncAPI 2: `publish` = others publish to this channel, so this service receives;
        # `subscribe` = others subscribe, so this service publishes.
        for name, channel in channels.items():
            if not isinstance(channel, dict):
                continue
            if "subscribe" in channel:
                topics.append((str(name), EventRole.PUBLISH, line_of(channels, name)))
            if "publish" in channel:
                topics.append((str(name), EventRole.SUBSCRIBE, line_of(channels, name)))
    else:
        ops = _dict(doc.get("operations"))
        for op_id, op in ops.items():
            if not isinstance(op, dict):
                continue
            ref = op.get("channel", {})
            key = str(ref.get("$ref", "")).rsplit("/", 1)[-1] if isinstance(ref, dict) else ""
            channel = _dict(channels.get(key))
            topic = str(channel.get("address") or key)
            role = EventRole.PUBLISH if op.get("action") == "send" else EventRole.SUBSCRIBE
            if topic:
                topics.append((topic, role, line_of(channels, key, line_of(ops, op_id))))
    lines += ["", "## Channels", ""]
    for topic, role, _ in topics:
        channel = _dict(channels.get(topic))
        desc = str(channel.get("description") or "").strip().replace("\n", " ")
        verb = "publishes" if role is EventRole.PUBLISH else "consumes"
        lines.append(f"- `{topic}`: this service {verb} it" + (f". {desc}" if desc else ""))
    if not topics:
        lines.append("(no channels)")
    return Contract("asyncapi", title, "\n".join(lines).strip() + "\n", version, [], topics)


def contract_records(
    kind: str, path: str, text: str, prefix: str, common: dict[str, Any]
) -> list[Record]:
    """A CONTRACT document summarising the spec, plus the topics an AsyncAPI file declares."""
    contract = parse_contract(kind, text, path)
    if contract is None:
        return []
    label = "OpenAPI" if kind == "openapi" else "AsyncAPI"
    out: list[Record] = [
        DocumentRecord(
            external_id=f"{prefix}contract",
            kind=DocumentKind.CONTRACT,
            title=f"{contract.title} ({label})",
            body=contract.summary,
            meta={"spec": kind, "version": contract.version, "endpoints": contract.endpoints},
            **common,
        )
    ]
    service = common.get("service")
    if service:
        for topic, role, line in contract.topics:
            out.append(
                EventTopicRecord(
                    service, topic, role, common.get("repo"), path, line, contract_path=path
                )
            )
    return out
