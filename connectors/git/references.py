"""Service calls and event topics referenced by code and config (never by comments or docs)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from connectors.git.code import Comment, CommentSyntax, find_comments, source_lines
from kb.contract.kinds import EventRole


@dataclass(frozen=True)
class ServiceCall:
    """This file calls another service synchronously; detail is the endpoint when known."""

    target: str
    detail: str
    line: int


@dataclass(frozen=True)
class TopicUse:
    """This file publishes or subscribes to an event topic."""

    topic: str
    role: EventRole
    line: int


# INVENTORY_SERVICE_URL, inventory_service_url, settings.user_service_base_url
_SNAKE_REF = re.compile(
    r"\b([A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*?)_SERVICE_(?:BASE_URL|URL|URI|HOST|ADDR|ADDRESS"
    r"|ENDPOINT)\b",
    re.I,
)
# inventoryServiceUrl (JS, Java, Go)
_CAMEL_REF = re.compile(
    r"\b([a-z][a-zA-Z0-9]*?)Service(?:BaseUrl|Url|URL|Uri|Host|Addr|Endpoint)\b"
)
# A URL path, keeping {placeholders} whole: /users/{user_id}/orders
_PATH = r"/(?:[^\s\"'`)\]>,{}]|\{[^}\s]*\})*"
_URL = re.compile(rf"\b(?:https?|grpcs?|wss?)://([A-Za-z0-9][A-Za-z0-9.-]*)(?::\d+)?({_PATH})?")
# The path right after a base-URL reference: f"{X}/users", `${X}/users`, X + "/users"
_PATH_AFTER = re.compile(rf"^\)?\}}?\s*(?:\+\s*)?[\"'`]?({_PATH})")
_METHOD = re.compile(r"\.(get|post|put|patch|delete|head)\s*\(", re.I)
_METHOD_KW = re.compile(r"method\s*[=:]\s*[\"'](GET|POST|PUT|PATCH|DELETE|HEAD)[\"']", re.I)
_GENERIC = frozenset({"the", "this", "base", "my", "other", "target", "some", "any", "external"})

_Q = r"[\"'`]"
_PUBLISH_CALLS = [
    re.compile(rf"\b(?:publish|publish_event|publish_message|emit_event|send_event)\s*\(\s*"
               rf"(?:topic\s*=\s*)?{_Q}([^\"'`]+){_Q}"),
    re.compile(rf"\b\w*(?:producer|publisher|kafka|bus|broker|events?|emitter)\w*\s*\.\s*"
               rf"(?:send|send_and_wait|produce|publish|emit)\s*\(\s*(?:topic\s*=\s*)?"
               rf"{_Q}([^\"'`]+){_Q}", re.I),
    re.compile(rf"@\w+\.publisher\(\s*{_Q}([^\"'`]+){_Q}"),
]  # fmt: skip
# publish(topic, ...) with a variable: resolved through `topic = "..."` assignments.
_PUBLISH_VAR = [
    re.compile(r"\b(?:publish|publish_event|publish_message|emit_event|send_event)\s*\(\s*"
               r"([A-Za-z_]\w*)\s*[,)]"),
    re.compile(r"\b\w*(?:producer|publisher|kafka|bus|broker|emitter)\w*\s*\.\s*"
               r"(?:send|send_and_wait|produce|publish|emit)\s*\(\s*([A-Za-z_]\w*)\s*[,)]", re.I),
]  # fmt: skip
_SUBSCRIBE_CALLS = re.compile(
    r"(?:\b|@)(?:subscribe|subscriber|consume|consumer|listen|listener|on_event|"
    r"KafkaListener|KafkaConsumer|AIOKafkaConsumer|EventHandler|event_handler)\s*\(\s*"
    r"(?:topics?\s*=\s*)?[\[({]?\s*((?:[\"'][^\"']+[\"']\s*,?\s*)+)"
)
_QUOTED = re.compile(r"[\"']([^\"']+)[\"']")
_SUBSCRIBE_VAR = re.compile(
    r"(?:\b|@)(?:subscribe|consume|KafkaConsumer|AIOKafkaConsumer)\s*\(\s*(?:topics\s*=\s*)?"
    r"\*?([A-Za-z_]\w*)\s*[,)]"
)
_ASSIGN_SEQ = re.compile(
    r"^\s*([A-Za-z_]\w*)\s*(?::[^=]+)?=\s*(?:frozenset|set|tuple|list)?\(?\s*([(\[{])"
)
_ASSIGN = re.compile(r"^\s*([A-Za-z_]\w*)\s*(?::\s*\w+\s*)?=\s*[\"']([^\"']+)[\"']\s*$")
_TOPIC = re.compile(r"^[A-Za-z][A-Za-z0-9._\-/:]{0,199}$")
_DOCSTRING_START = re.compile(r"^\s*[rRbBuUfF]{0,2}(\"\"\"|''')")


def code_lines(
    text: str,
    syntax: CommentSyntax,
    python: bool = False,
    comments: list[Comment] | None = None,
) -> list[str]:
    """The lines of a source text with comments (and Python docstrings) blanked out."""
    lines = source_lines(text)
    for c in find_comments(text, syntax) if comments is None else comments:
        lines[c.line - 1] = c.code
    if python:
        _blank_docstrings(lines)
    return lines


def _blank_docstrings(lines: list[str]) -> None:
    # A triple-quoted string that starts a line is a docstring (prose); one that is assigned
    # or passed (SQL, templates) starts after `=` or `(` and is kept.
    i = 0
    while i < len(lines):
        m = _DOCSTRING_START.match(lines[i])
        if not m:
            i += 1
            continue
        delim = m.group(1)
        rest = lines[i][m.end() :]
        j = i
        if delim not in rest:
            j = i + 1
            while j < len(lines) and delim not in lines[j]:
                j += 1
        for k in range(i, min(j + 1, len(lines))):
            lines[k] = ""
        i = j + 1


def service_from_name(stem: str) -> str | None:
    """`inventory` (from INVENTORY_SERVICE_URL) → `inventory-service`."""
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", stem).lower().replace("_", "-").strip("-")
    if not name or name in _GENERIC or not name[0].isalpha():
        return None
    return f"{name}-service"


def service_from_host(host: str) -> str | None:
    """The service a URL host names: `user-service`, `user-service.shop.svc.cluster.local`."""
    labels = host.lower().split(".")
    first = labels[0]
    kube = len(labels) > 1 and "svc" in labels[1:]
    if first.endswith(("-service", "-svc")) or (kube and first not in ("localhost",)):
        return first
    return None


def service_calls(lines: list[str]) -> list[ServiceCall]:
    """Calls to other services: base-URL settings, env vars and URLs with service hosts."""
    found: dict[tuple[str, str], ServiceCall] = {}

    def add(target: str | None, detail: str, line: int) -> None:
        if target and (target, detail) not in found:
            found[(target, detail)] = ServiceCall(target, detail, line)

    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        for regex in (_SNAKE_REF, _CAMEL_REF):
            for m in regex.finditer(line):
                target = service_from_name(m.group(1))
                add(target, "", lineno)
                after = _PATH_AFTER.match(line[m.end() :])
                if target and after and after.group(1) != "/":
                    add(target, _endpoint(lines, lineno, line, after.group(1)), lineno)
        for m in _URL.finditer(line):
            target = service_from_host(m.group(1))
            add(target, "", lineno)
            if target and m.group(2) and m.group(2) != "/":
                add(target, _endpoint(lines, lineno, line, m.group(2)), lineno)
    # A bare reference adds nothing when the same file names an endpoint of that service.
    with_endpoint = {t for t, d in found if d}
    return [c for (t, d), c in found.items() if d or t not in with_endpoint]


def _endpoint(lines: list[str], lineno: int, line: str, path: str) -> str:
    path = path.split("?", 1)[0].rstrip(".,;")
    method = None
    previous = lines[lineno - 2].rstrip() if lineno >= 2 else ""
    # The method is on this line, or on the previous one when the call opens there.
    for candidate in (line, previous if previous.endswith("(") else ""):
        kw = _METHOD_KW.search(candidate)
        calls = list(_METHOD.finditer(candidate))
        if kw:
            method = kw.group(1)
        elif calls:
            method = calls[-1].group(1)
        if method:
            break
    return f"{method.upper()} {path}" if method else path


def topic_uses(lines: list[str]) -> list[TopicUse]:
    """Event topics published or subscribed to by literal name (or a name assigned one)."""
    assigned = _string_assignments(lines)
    found: dict[tuple[str, EventRole], TopicUse] = {}

    def add(topic: str, role: EventRole, line: int) -> None:
        if _TOPIC.match(topic) and not topic.isdigit() and (topic, role) not in found:
            found[(topic, role)] = TopicUse(topic, role, line)

    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if line.rstrip().endswith("(") and lineno < len(lines):
            # A call whose arguments start on the next line: publish(\n    "topic", ...)
            line = line.rstrip() + " " + lines[lineno].strip()
        for regex in _PUBLISH_CALLS:
            for m in regex.finditer(line):
                add(m.group(1), EventRole.PUBLISH, lineno)
        for regex in _PUBLISH_VAR:
            for m in regex.finditer(line):
                for topic in assigned.get(m.group(1), []):
                    add(topic, EventRole.PUBLISH, lineno)
        for m in _SUBSCRIBE_CALLS.finditer(line):
            for q in _QUOTED.finditer(m.group(1)):
                add(q.group(1), EventRole.SUBSCRIBE, lineno)
        for m in _SUBSCRIBE_VAR.finditer(line):
            for topic in assigned.get(m.group(1), []):
                add(topic, EventRole.SUBSCRIBE, lineno)
    return list(found.values())


def _string_assignments(lines: list[str]) -> dict[str, list[str]]:
    """NAME → the string literals assigned to it: `X = "a"` or `X = ("a", "b", ...)`."""
    out: dict[str, list[str]] = {}
    i = 0
    while i < len(lines):
        m = _ASSIGN.match(lines[i])
        if m:
            out.setdefault(m.group(1), []).append(m.group(2))
            i += 1
            continue
        m = _ASSIGN_SEQ.match(lines[i])
        if not m:
            i += 1
            continue
        close = {"(": ")", "[": "]", "{": "}"}[m.group(2)]
        body = lines[i][m.end() :]
        j = i
        while close not in body and j + 1 < len(lines) and j - i < 50:
            j += 1
            body += " " + lines[j]
        values = _QUOTED.findall(body.split(close, 1)[0])
        if values:
            out.setdefault(m.group(1), []).extend(values)
        i = j + 1
    return out
