"""What one file of a service says about the others: settings it reads, URLs it names, gRPC
clients it builds, topics it produces or consumes, tables it touches, packages it imports.

Comments are blanked first (connectors.git.references.code_lines), so prose never counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from connectors.git.references import topic_uses
from kb.contract.kinds import EventRole

# An environment or configuration read, whatever the language: the group is the variable.
_READ = re.compile(
    r"(?:os\.Getenv|os\.LookupEnv|os\.getenv|os\.environ\.get|getenv|System\.getenv"
    r"|Environment\.GetEnvironmentVariable|env::var|System\.get_env|ENV\.fetch"
    r"|mustMapEnv\(\s*&[\w.]+\s*,|process\.env\[|os\.environ\[|ENV\[)"
    r"\s*\(?\s*[\"'`]([A-Za-z_][A-Za-z0-9_]*)[\"'`]"
    r"|process\.env\.([A-Za-z_][A-Za-z0-9_]*)"
    r"|\$\{([A-Z][A-Z0-9_]*)(?::-?[^}]*)?\}"
)
_HOLDER = re.compile(
    r"^\s*(?:(?:var|let|const|val|final|private|public|static|readonly|string|String|auto)\s+)*"
    r"(?:self\.|this\.|&?[\w]+\.)?([A-Za-z_]\w*)\s*(?::\s*[\w<>\[\]?]+\s*)?(?::=|=)(?!=)"
)
_MUST_MAP = re.compile(r"mustMapEnv\(\s*&(?:[\w]+\.)?(\w+)")
_STRING = re.compile(r"[\"'`]([^\"'`]*)[\"'`]")
_URL = re.compile(
    r"\b(?:https?|grpcs?|wss?|lb|https\+http|http\+https)://"
    r"([A-Za-z0-9][A-Za-z0-9.-]*)(?::\d+)?(/[^\s\"'`)]*)?"
)
_HOST_PORT = re.compile(r"[\"'`]([a-z][a-z0-9-]*(?:\.[a-z0-9-]+)*):(\d{2,5})[\"'`/]")
_DISCOVERY = re.compile(r"getInstances\(\s*\"([\w-]+)\"")
_HTTP_CALL = re.compile(
    r"(?i)\b(?:http\.(?:get|post|put|delete|head|newrequest\w*)|requests?\.|request\(|fetch\("
    r"|axios|got\(|urlopen|httpclient|resttemplate|webclient|\.getforobject|\.postforobject"
    r"|\.exchange\(|curl_|file_get_contents|proxy_pass|\.(?:get|post|put|patch|delete)\()"
)
# A path right after a quote, or after an interpolated base: f"{base}/items", `${base}/x`.
_PATH_LITERAL = re.compile(r"(?:[\"'`]|\}|\+\s*[\"'`])(/[A-Za-z0-9_{}$.:/-]*)")
_METHOD = re.compile(r"(?i)\b(?:http\.|\.|method\s*[:=]\s*[\"'])(get|post|put|patch|delete)\b")
_STUB = re.compile(
    r"\b(?:New)?([A-Z]\w*?)(?:Client|Stub|BlockingStub|FutureStub)\s*\("
    r"|\b([A-Z]\w*?)Grpc\.new\w*Stub\("
    r"|\bnew\s+([A-Z]\w*)\.\3Client\("
    r"|\bAddGrpcClient<\s*(?:\w+\.)*([A-Z]\w*?)Client\s*>"
)
_SQL = re.compile(
    r"\b(?:FROM|JOIN|INTO|UPDATE|TABLE(?: IF NOT EXISTS)?)\s+[\"`\[]?([A-Za-z_][\w.]*)"
)
_SQL_WRITE = re.compile(r"\b(?:INSERT|UPDATE|DELETE|CREATE|ALTER)\b")
_NOT_TABLES = frozenset({"dual", "select", "set", "where", "values", "information_schema"})
_IMPORT = re.compile(
    r"^\s*(?:from\s+([\w.]+)\s+import|import\s+([\w.]+))"
    r"|require\(\s*[\"']([^\"']+)[\"']\s*\)|\bfrom\s+[\"']([^\"']+)[\"']"
    r"|^\s*(?:import\s+)?(?:[\w.]+\s+)?\"([\w.-]+/[\w./-]+)\"\s*$"
    r"|^\s*using\s+([\w.]+)\s*;"
)
_EXTRA_SUBSCRIBE = [
    re.compile(r"subscribe\(\s*(?:listOf|List\.of|Arrays\.asList|setOf|Set\.of|"
               r"Collections\.singletonList)\(\s*\"([^\"]+)\""),
    re.compile(r"subscribe\(\s*\{[^}]*?\btopics?\s*:\s*\[?\s*[\"'`]([^\"'`]+)"),
    re.compile(r"\.Consume\(\s*\"([^\"]+)\""),
    re.compile(r"basic_consume\(\s*(?:queue\s*=\s*)?[\"']([^\"']+)"),
    re.compile(r"@RabbitListener\(\s*queues\s*=\s*\{?\s*\"([^\"]+)\""),
    re.compile(r"\.(?:Subscribe|QueueSubscribe|ChanSubscribe)\(\s*\"([^\"]+)\""),  # NATS (Go)
    re.compile(r"\bAddSubscription<\s*(\w+)\s*,"),  # an event bus keyed by event type (.NET)
]  # fmt: skip
_EXTRA_PUBLISH = [
    re.compile(r"\.send\(\s*\{[^}]*?\btopic\s*:\s*[\"'`]([^\"'`]+)"),
    re.compile(r"basic_publish\(.*?routing_key\s*=\s*[\"']([^\"']+)"),
    re.compile(r"\.Publish(?:Msg)?\(\s*\"([^\"]+)\""),  # NATS (Go)
    re.compile(r"\bnew\s+(\w+IntegrationEvent)\s*\("),  # raised for the bus by its type
]  # fmt: skip
_PUBLISH_KEY_VAR = re.compile(r"routing_key\s*=\s*(?:self\.|cls\.)?([A-Za-z_]\w*)")
_TOPIC_SETTING = re.compile(r"(?:TOPIC|QUEUE|SUBJECT|STREAM)(?:_?NAME)?$", re.I)
_PRODUCES = re.compile(r"(?i)producer|\.produce\(|\.publish\w*\(|sendmessage|\.send\(")
_CONSUMES = re.compile(r"(?i)consumer|\.subscribe\(|\.consume\(|\.poll\(|receivemessage")
_ASSIGN = re.compile(r"^\s*([A-Za-z_]\w*)\s*=\s*[\"']([^\"']+)[\"']")


@dataclass(frozen=True)
class Read:
    """A setting read: the variable, its line, what holds it, its default value."""

    var: str
    line: int
    holder: str | None
    default: str | None


@dataclass(frozen=True)
class Use:
    """A place naming something: a host, a proto service, a topic, a table, a module."""

    name: str
    line: int
    detail: str = ""


@dataclass
class FileFacts:
    """Everything one code file says about other components."""

    path: str
    reads: list[Read] = field(default_factory=list)
    hosts: list[Use] = field(default_factory=list)  # URL and host:port literals
    calls: dict[str, Use] = field(default_factory=dict)  # holder -> first HTTP call using it
    stubs: list[Use] = field(default_factory=list)  # gRPC client of a proto service
    publishes: list[Use] = field(default_factory=list)
    consumes: list[Use] = field(default_factory=list)
    tables: list[Use] = field(default_factory=list)  # detail "w" when written
    imports: list[Use] = field(default_factory=list)
    publish_call: int = -99  # the line of the last basic_publish( seen
    # Settings naming a topic or queue (KAFKA_TOPIC), and whether the file produces or
    # consumes: the topic is their value, resolved with the service's settings.
    topic_reads: list[Read] = field(default_factory=list)
    roles: set[EventRole] = field(default_factory=set)


def file_facts(path: str, lines: list[str], python: bool = False) -> FileFacts:
    """The facts of one file's code lines (comments already blanked)."""
    facts = FileFacts(path)
    assigned: dict[str, str] = {}
    for no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        m = _ASSIGN.match(line)
        if m:
            assigned.setdefault(m.group(1), m.group(2))
        _reads(facts, line, no)
        for m in _URL.finditer(line):
            facts.hosts.append(Use(m.group(1), no, m.group(2) or ""))
        for m in _HOST_PORT.finditer(line):
            facts.hosts.append(Use(m.group(1), no))
        for m in _DISCOVERY.finditer(line):
            facts.hosts.append(Use(m.group(1), no))
        for m in _STUB.finditer(line):
            if not re.search(r"\b(?:class|def|func|type|interface|struct)\s+$", line[: m.start()]):
                facts.stubs.append(Use(next(g for g in m.groups() if g), no))
        if '"' in line or "'" in line or "`" in line:
            for m in _SQL.finditer(line):
                table = m.group(1).rsplit(".", 1)[-1].lower()
                if table not in _NOT_TABLES and len(table) > 1:
                    facts.tables.append(Use(table, no, "w" if _SQL_WRITE.search(line) else "r"))
        for m in _IMPORT.finditer(line):
            facts.imports.append(Use(next(g for g in m.groups() if g), no))
        _topics(facts, line, no, assigned)
    holders = {r.holder for r in facts.reads if r.holder}
    read_lines = {r.line for r in facts.reads}
    for no, line in enumerate(lines, start=1):
        if not holders or no in read_lines or not _HTTP_CALL.search(line):
            continue
        for holder in holders:
            if holder not in facts.calls and re.search(rf"\b{re.escape(holder)}\b", line):
                facts.calls[holder] = Use(holder, no, _endpoint(line))
    facts.topic_reads = [r for r in facts.reads if _TOPIC_SETTING.search(r.var)]
    if facts.topic_reads:
        text = "\n".join(lines)
        if _PRODUCES.search(text):
            facts.roles.add(EventRole.PUBLISH)
        if _CONSUMES.search(text):
            facts.roles.add(EventRole.SUBSCRIBE)
    for use in topic_uses(lines):
        target = facts.publishes if use.role is EventRole.PUBLISH else facts.consumes
        if all(u.name != use.topic for u in target):
            target.append(Use(use.topic, use.line))
    return facts


def _reads(facts: FileFacts, line: str, no: int) -> None:
    for m in _READ.finditer(line):
        var = next(g for g in m.groups() if g)
        holder = None
        hm = _HOLDER.match(line[: m.start()] + "x")
        if hm and hm.group(1) not in ("if", "return"):
            holder = hm.group(1)
        mm = _MUST_MAP.search(line)
        if mm:
            holder = mm.group(1)
        rest = line[m.end() :]
        default = None
        if m.group(3):  # ${VAR:default}
            dm = re.match(r"\$\{[A-Z0-9_]+:-?([^}]*)\}", m.group(0))
            default = dm.group(1) if dm and dm.group(1) else None
        else:
            sm = _STRING.search(rest)
            if sm and sm.group(1):
                default = sm.group(1)
        facts.reads.append(Read(var, no, holder, default))


def _endpoint(line: str) -> str:
    path = _PATH_LITERAL.search(line)
    if not path:
        return ""
    method = _METHOD.search(line)
    route = path.group(1).split("?", 1)[0].rstrip("/") or "/"
    return f"{method.group(1).upper()} {route}" if method else route


def _topics(facts: FileFacts, line: str, no: int, assigned: dict[str, str]) -> None:
    for regex in _EXTRA_SUBSCRIBE:
        for m in regex.finditer(line):
            if all(u.name != m.group(1) for u in facts.consumes):
                facts.consumes.append(Use(m.group(1), no))
    found = [m.group(1) for regex in _EXTRA_PUBLISH for m in regex.finditer(line)]
    if "basic_publish(" in line:
        facts.publish_call = no
    km = _PUBLISH_KEY_VAR.search(line)
    if km and km.group(1) in assigned and 0 <= no - facts.publish_call <= 3:
        found.append(assigned[km.group(1)])
    for topic in found:
        if all(u.name != topic for u in facts.publishes):
            facts.publishes.append(Use(topic, no))
