"""What build files say of a component: the names it goes by, whether it runs (a service)
or is used (a library), and code it takes from outside its folder (a shared library)."""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable
from pathlib import PurePosixPath

from connectors.git.code import PROGRAM_SUFFIXES
from connectors.git.servicemap import deploy
from connectors.git.servicemap.deploy import Unread
from connectors.git.servicemap.model import Component, Layout
from connectors.git.servicemap.vocab import LIBRARY_DIRS
from kb.contract.identity import service_key
from kb.contract.kinds import ComponentKind

TextOf = Callable[[str], "str | None"]


_PACKAGE_NAME = {
    "package.json": re.compile(r"^\s*\"name\"\s*:\s*\"([^\"]+)\""),
    "pyproject.toml": re.compile(r"^\s*name\s*=\s*[\"']([^\"']+)"),
    "setup.py": re.compile(r"\bname\s*=\s*[\"']([^\"']+)"),
    "cargo.toml": re.compile(r"^\s*name\s*=\s*\"([^\"]+)\""),
    "go.mod": re.compile(r"^module\s+(\S+)"),
}


def build_names(layout: Layout, text_of: TextOf) -> None:
    """Names build files give: kept as aliases when they mean the same component."""
    for c in layout.components:
        for path in c.build_files:
            name = PurePosixPath(path).name
            found: str | None = None
            if name.lower().endswith((".csproj", ".fsproj")):
                found = PurePosixPath(name).stem
            elif name.lower() in _PACKAGE_NAME:
                text = text_of(path) or ""
                if name.lower() == "package.json" and _broken_json(path, text, layout):
                    continue
                for line in text.split("\n")[:60]:
                    m = _PACKAGE_NAME[name.lower()].search(line)
                    if m:
                        found = m.group(1)
                        break
            if not found:
                continue
            c.packages.add(found)
            short = found.rsplit("/", 1)[-1]
            if service_key(short) in c.name_keys():
                c.spell(short)


def _broken_json(path: str, text: str, layout: Layout) -> bool:
    """Report a JSON build file that does not parse (its line), so it is read for nothing."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        layout.unread.append(Unread(path, exc.lineno, f"invalid JSON: {exc.msg}"))
        return True
    return False


def classify(layout: Layout, text_of: TextOf, paths: list[str]) -> None:
    """A component neither deployed nor built into an image is a library if it does not run."""
    for c in layout.components:
        deployed = any(d.source != "dockerfile" for d in c.deployables)
        has_image = any(d.source == "dockerfile" for d in c.deployables)
        if deployed or has_image:
            continue
        if _runs(c, text_of, paths):
            continue
        c.kind = ComponentKind.LIBRARY
    for c in layout.components:
        if (
            c.kind is ComponentKind.SERVICE
            and {p.lower() for p in PurePosixPath(c.path).parts[:-1]} & LIBRARY_DIRS
            and not c.deployables
        ):
            c.kind = ComponentKind.LIBRARY


def _runs(c: Component, text_of: TextOf, paths: list[str]) -> bool:
    """Whether a component's build says it is an application (not a library)."""
    for path in c.build_files:
        name = PurePosixPath(path).name.lower()
        text = text_of(path) or ""
        if name.endswith(".csproj") and (
            re.search(r"Sdk\.(Web|Worker)", text) or re.search(r"<OutputType>\s*Exe", text)
        ):
            return True
        if name in ("pom.xml", "build.gradle", "build.gradle.kts") and re.search(
            r"spring-boot-maven-plugin|org\.springframework\.boot|\bapplication\b|mainClass", text
        ):
            return True
        if name == "package.json" and re.search(r"\"start\"\s*:", text):
            return True
    prefix = c.path + "/"
    for path in paths:
        top_go = path.startswith(prefix) and path.endswith(".go") and "/" not in path[len(prefix) :]
        if top_go and re.search(r"(?m)^package main\b", text_of(path) or ""):
            return True
    return False


def copied_code(layout: Layout, paths: list[str], text_of: TextOf) -> None:
    """Code a service's Dockerfile copies in from outside any component is a shared library
    (otel-demo's src/shared/tools.py): the service uses it, and its code is the service's."""
    for c in [c for c in layout.components if c.kind is ComponentKind.SERVICE]:
        sources = [
            (d.path, src, line)
            for d in c.deployables
            if d.source == "dockerfile"
            for src, line in deploy.dockerfile_copies(text_of(d.path) or "")
        ] + [
            (b, src, line)
            for b in c.build_files
            if b.lower().endswith((".csproj", ".fsproj"))  # <Compile Include="..\Shared\X.cs">
            for src, line in _linked_sources(text_of(b) or "")
        ]
        for where, src, line in sources:
            files = _sources(src.strip("/"), posixpath.dirname(where), paths)
            files = [
                f for f in files
                if _unowned(layout, f) and PurePosixPath(f).suffix in PROGRAM_SUFFIXES
            ]  # fmt: skip
            if not files:
                continue
            folder = posixpath.dirname(files[0]) if len(files) == 1 else src.strip("/")
            lib = next((x for x in layout.components if x.path == folder), None)
            if lib is None:
                lib = Component(PurePosixPath(folder).name, folder, ComponentKind.LIBRARY)
                layout.components.append(lib)
            c.copied.extend(f for f in files if f not in c.copied)
            c.refs.append((folder, where, line))


def _linked_sources(text: str) -> list[tuple[str, int]]:
    """Source files a .NET project compiles in from elsewhere: (relative path, line)."""
    out: list[tuple[str, int]] = []
    for no, line in enumerate(text.split("\n"), start=1):
        m = re.search(r"<Compile\s+Include=\"(\.\.[^\"]+)\"", line)
        if m:
            out.append((m.group(1).replace("\\", "/"), no))
    return out


def _unowned(layout: Layout, path: str) -> bool:
    owner = layout.owner_of(path)
    return owner is None or owner.kind is ComponentKind.LIBRARY


def _sources(src: str, here: str, paths: list[str]) -> list[str]:
    """The repository files a COPY source means: from the root context, else the folder's."""
    if src in ("", ".", "*"):
        return []
    for base in (src.removeprefix("./"), posixpath.normpath(posixpath.join(here, src))):
        hits = [p for p in paths if p == base or p.startswith(base.rstrip("/") + "/")]
        if hits:
            return hits
    return []
