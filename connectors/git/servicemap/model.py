"""The service map's picture of one repository: its components (services and libraries,
each a folder under the names it goes by), its infrastructure, and what could not be read."""

from __future__ import annotations

from dataclasses import dataclass, field

from connectors.git.servicemap.deploy import Deployable, Unread
from kb.contract.identity import service_key
from kb.contract.kinds import ComponentKind, InfraKind


@dataclass
class Component:
    """A service or library of the repository: a folder and the names it goes by."""

    name: str
    path: str
    kind: ComponentKind = ComponentKind.SERVICE
    aliases: list[str] = field(default_factory=list)
    owner: str | None = None
    deployables: list[Deployable] = field(default_factory=list)
    build_files: list[str] = field(default_factory=list)
    # Names a library is imported by (package name, module path), besides its folder's.
    packages: set[str] = field(default_factory=set)
    # Code from outside its folder that its image copies in (a shared file), and where the
    # build points at a library folder: (folder, path, line).
    copied: list[str] = field(default_factory=list)
    refs: list[tuple[str, str, int]] = field(default_factory=list)

    def spell(self, name: str) -> None:
        """Keep another spelling of this component's name."""
        if name and name != self.name and name not in self.aliases:
            self.aliases.append(name)

    def name_keys(self) -> set[str]:
        return {service_key(n) for n in (self.name, *self.aliases)} - {""}


@dataclass
class Infra:
    name: str
    kind: InfraKind
    path: str | None
    line: int | None


@dataclass
class Layout:
    """The components, infrastructure and deployables of one repository."""

    components: list[Component]
    infra: list[Infra]
    deployables: list[Deployable]
    unread: list[Unread]
    protos: dict[str, tuple[str, int]]  # proto service -> (path, line)

    def by_key(self, name: str) -> Component | None:
        """The component a name means (exact spelling first, then the normalised key)."""
        for c in self.components:
            if name == c.name or name in c.aliases:
                return c
        key = service_key(name)
        hits = [c for c in self.components if key in c.name_keys()]
        return hits[0] if len(hits) == 1 else None

    def server_of(self, proto_service: str) -> Component | None:
        """The service serving a proto service: the one whose folder holds the .proto, else
        the one its name means (shared protos/ folders: PaymentService is payment)."""
        if proto_service not in self.protos:
            return None
        path = self.protos[proto_service][0]
        holder = self.owner_of(path)
        alone = sum(p == path for p, _ in self.protos.values()) == 1  # not a copy of them all
        if holder is not None and holder.kind is ComponentKind.SERVICE and alone:
            return holder
        return self.by_key(proto_service)

    def infra_named(self, name: str) -> Infra | None:
        """Known infrastructure of that name (`admin-server` is `spring-petclinic-admin-server`)."""
        key = service_key(name)
        for i in self.infra:
            other = service_key(i.name)
            if key and other and (other == key or other.endswith(key) or key.endswith(other)):
                return i
        return None

    def owner_of(self, path: str) -> Component | None:
        """The component whose folder holds `path` (the deepest one)."""
        best: Component | None = None
        for c in self.components:
            if (c.path == "" or path.startswith(c.path + "/")) and (
                best is None or len(c.path) > len(best.path)
            ):
                best = c
        return best
