"""A .NET Aspire app host: the system's topology written in C# rather than YAML.

`builder.AddProject<Projects.Basket_API>("basket-api")` runs a project under a name;
`.WithReference(basketApi)` hands it another project's address (Aspire service discovery)
and `.WithEnvironment("Identity__Url", identityEndpoint)` a setting naming another project;
`builder.AddRedis("redis")`, `.AddRabbitMQ("eventbus")`, `postgres.AddDatabase("x")` are
infrastructure. Read line by line: one statement per chain, up to its `;`.
"""

from __future__ import annotations

import re

from connectors.git.servicemap.deploy import Binding, Deployable
from kb.contract.kinds import InfraKind

_PROJECT = re.compile(r"(?:var\s+(\w+)\s*=\s*)?\w+\.AddProject<Projects\.(\w+)>\(\s*\"([\w.-]+)\"")
_RESOURCE = re.compile(r"(?:var\s+(\w+)\s*=\s*)?\w+\.Add(\w+?)\(\s*\"([\w.-]+)\"")
_DATABASE = re.compile(r"var\s+(\w+)\s*=\s*(\w+)\.AddDatabase\(\s*\"([\w.-]+)\"")
_ENDPOINT = re.compile(r"var\s+(\w+)\s*=\s*(\w+)\.GetEndpoint\(")
_REFERENCE = re.compile(r"\.WithReference\(\s*(\w+)\s*\)")
_ENVIRONMENT = re.compile(r"\.WithEnvironment\(\s*\"([\w:]+)\"\s*,\s*(\w+)\s*\)")
_INFRA_METHODS: dict[str, InfraKind] = {
    "Redis": InfraKind.CACHE, "Valkey": InfraKind.CACHE, "Garnet": InfraKind.CACHE,
    "RabbitMQ": InfraKind.BROKER, "Kafka": InfraKind.BROKER, "Nats": InfraKind.BROKER,
    "AzureServiceBus": InfraKind.BROKER, "Postgres": InfraKind.DATABASE,
    "SqlServer": InfraKind.DATABASE, "MySql": InfraKind.DATABASE, "MongoDB": InfraKind.DATABASE,
    "Oracle": InfraKind.DATABASE, "Yarp": InfraKind.PROXY, "Elasticsearch": InfraKind.SEARCH,
    "Keycloak": InfraKind.EXTERNAL, "Ollama": InfraKind.EXTERNAL, "OpenAI": InfraKind.EXTERNAL,
}  # fmt: skip


def is_app_host(csproj_text: str) -> bool:
    """Whether a .csproj is an Aspire app host (it runs the others; it is no service)."""
    return "Aspire.AppHost" in csproj_text or "<IsAspireHost>true" in csproj_text


def app_host(text: str, path: str) -> tuple[list[Deployable], list[tuple[str, InfraKind, int]]]:
    """The projects an app host runs (folder: the project's name, `Basket.API`) with what
    they are handed, and its infrastructure (name, kind, line)."""
    projects: dict[str, Deployable] = {}  # variable -> project
    infra: list[tuple[str, InfraKind, int]] = []
    endpoints: dict[str, str] = {}  # endpoint variable -> project variable
    servers: dict[str, str] = {}  # database server variable -> its engine (postgres ...)
    databases: dict[str, str] = {}  # database variable -> engine://server/name
    current: Deployable | None = None
    for no, line in enumerate(text.split("\n"), start=1):
        r = None
        m = _PROJECT.search(line)
        if m:
            var, project, name = m.groups()
            current = Deployable(name, "aspire", path, no, folder=project.replace("_", "."))
            projects[var or f"_{no}"] = current
        elif (r := _RESOURCE.search(line)) is not None and r.group(2) in _INFRA_METHODS:
            infra.append((r.group(3), _INFRA_METHODS[r.group(2)], no))
            current = None
        elif (d := _DATABASE.search(line)) is not None and d.group(2) in servers:
            databases[d.group(1)] = f"{servers[d.group(2)]}://{d.group(2)}/{d.group(3)}"
            current = None
        elif (e := _ENDPOINT.search(line)) is not None:
            endpoints[e.group(1)] = e.group(2)
        if r is not None and r.group(1) and _INFRA_METHODS.get(r.group(2)) is InfraKind.DATABASE:
            servers[r.group(1)] = r.group(2).lower()
        if current is not None:
            for ref in _REFERENCE.finditer(line):
                if ref.group(1) in databases:  # a connection string to that database
                    name = databases[ref.group(1)].rsplit("/", 1)[-1]
                    current.env.append(
                        Binding(f"ConnectionStrings__{name}", databases[ref.group(1)], path, no)
                    )
                target = projects.get(ref.group(1))
                if target is not None:
                    current.env.append(Binding(f"services__{target.name}", target.name, path, no))
            for env in _ENVIRONMENT.finditer(line):
                target = projects.get(endpoints.get(env.group(2), env.group(2)))
                if target is not None:
                    current.env.append(Binding(env.group(1), target.name, path, no))
        if line.rstrip().endswith(";"):
            current = None
    return list(projects.values()), infra
