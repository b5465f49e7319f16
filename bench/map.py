"""Service-map benchmark: kb's `kb map` against hand-checked ground truth of public systems.

    .venv/bin/python -m bench.map --repos-dir /tmp/mapsystems [--system NAME] [--json]
    .venv/bin/python -m bench.map --repos-dir /tmp/mapsystems --truth-only

Each system of bench/map/<system>.json names its repositories, the commit each is pinned to
and the directory under --repos-dir where its clone is expected. For each system the run

1. checks every clone is at its pinned commit (else prints the clone/checkout commands and
   stops);
2. builds a fresh kb home in a temp dir with the kb CLI: `kb --home H init`, then
   `kb --home H ingest git DIR --name NAME` for each repository, timed;
3. runs `kb --home H map --format json`, timed (best of three); when kb reads
   KB_MAP_EXTRACTION, the same ingest is timed again in another fresh home with
   KB_MAP_EXTRACTION=0, and the map's share of the ingest is (with - without) / with;
4. scores the map against the ground truth (`score`, a pure function) and prints one table
   per system and an overall table, with the targets.

`--truth-only` needs no kb: it checks the ground truth against the pinned checkouts (every
code location exists and its line names the edge: its via, the callee or the topic).

The repositories stay where they are; nothing of them is copied into this project.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TRUTH_DIR = ROOT / "bench" / "map"
KB = [str(ROOT / ".venv" / "bin" / "kb")]

EDGE_KINDS = ("sync_http", "grpc", "async_event", "shared_db", "library")
INFRA_KINDS = (
    "broker",
    "database",
    "cache",
    "proxy",
    "collector",
    "observability",
    "loadgen",
    "registry",
    "config",
    "feature_flags",
    "search",
    "external",
)
# bench/map/README.md states these; the run prints each system's figures against them.
TARGETS = {
    "edge_precision": 0.85,
    "edge_recall": 0.85,
    "service_recall": 0.95,
    "evidence_real": 1.0,
    "map_share_of_ingest": 0.10,
    "map_ms": 300.0,
}
NOT_AVAILABLE = "kb map is not available in this kb"
MAP_SWITCH = "KB_MAP_EXTRACTION"


class TruthError(ValueError):
    """A ground-truth file that does not follow the schema of bench/map/README.md."""


# --------------------------------------------------------------------------- names


_SUFFIXES = ("services", "service", "svc")


def normalise(name: str) -> str:
    """One spelling per service: case, accents, separators and a trailing "service" dropped.

    `checkout`, `checkoutservice`, `checkout-service`, `Checkout_Service` and
    `CheckoutService` all give "checkout".
    """
    folded = unicodedata.normalize("NFKD", name)
    folded = "".join(c for c in folded if not unicodedata.combining(c)).casefold()
    flat = re.sub(r"[^a-z0-9]", "", folded)
    for suffix in _SUFFIXES:
        if flat.endswith(suffix) and len(flat) > len(suffix):
            return flat[: -len(suffix)]
    return flat


# --------------------------------------------------------------------------- truth


@dataclass(frozen=True)
class Location:
    """A code location of the ground truth: a line of a file of one of the system's repos."""

    repo: str
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.repo}:{self.path}:{self.line}"


@dataclass
class RepoPin:
    name: str
    url: str
    commit: str
    dir: str


@dataclass
class Entity:
    """A service, a library or an infrastructure component of the ground truth."""

    name: str
    category: str  # "service" | "library" | "infra"
    kind: str = ""  # infra kind
    repo: str = ""
    path: str = ""
    aliases: list[str] = field(default_factory=list)
    optional: bool = False
    code: list[Location] = field(default_factory=list)

    def spellings(self) -> list[str]:
        """The name, its aliases and the last part of its path (the repo's name for the
        root of a repo of its own): what may name it."""
        names = [self.name, *self.aliases]
        path = self.path.rstrip("/")
        if path in ("", "."):
            if self.path and self.repo:
                names.append(self.repo)
        else:
            names.append(path.rsplit("/", 1)[-1])
        return names


@dataclass
class Use:
    service: str
    infra: str
    via: str
    code: list[Location]


@dataclass
class TruthEdge:
    src: str
    dst: str
    kind: str
    via: str
    env: str
    code: list[Location]
    doc: dict[str, str]
    optional: bool = False

    @property
    def key(self) -> tuple[str, str] | frozenset[str]:
        """shared_db is symmetric: either direction names the same edge."""
        if self.kind == "shared_db":
            return frozenset((self.src, self.dst))
        return (self.src, self.dst)

    def __str__(self) -> str:
        return f"{self.src} -> {self.dst} ({self.kind}, {self.via})"


@dataclass
class System:
    name: str
    title: str
    upstream: str
    repos: list[RepoPin]
    layout: dict[str, str]
    services: list[Entity]
    libraries: list[Entity]
    infrastructure: list[Entity]
    edges: list[TruthEdge]
    uses: list[Use]
    docs: list[dict[str, str]]
    hard_cases: list[tuple[Location, str]]

    @property
    def entities(self) -> list[Entity]:
        return [*self.services, *self.libraries, *self.infrastructure]

    def entity(self, name: str) -> Entity:
        for e in self.entities:
            if e.name == name:
                return e
        raise KeyError(name)

    def repo(self, name: str) -> RepoPin:
        for r in self.repos:
            if r.name == name:
                return r
        raise KeyError(name)


def parse_location(text: str, default_repo: str, repos: Iterable[str]) -> Location:
    """`path:line` in the system's only (or first) repo, or `repo:path:line`."""
    m = re.fullmatch(r"(?:([^:]+):)?([^:]+):(\d+)", text)
    if not m:
        raise TruthError(f"code location {text!r} is not path:line or repo:path:line")
    repo, path, line = m.group(1) or default_repo, m.group(2), int(m.group(3))
    if repo not in set(repos):
        raise TruthError(f"code location {text!r}: no repo {repo!r} in this system")
    if line < 1 or path.startswith("/"):
        raise TruthError(f"code location {text!r}: line from 1, path relative to the repo")
    return Location(repo, path, line)


def _req(obj: dict[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise TruthError(f"{where}: missing {key!r}")
    return obj[key]


def load_system(path: Path) -> System:
    """Read one ground-truth file and check its schema and its internal consistency."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise TruthError(f"{path.name}: not JSON: {exc}") from exc
    return system_from_dict(raw, path.name)


def system_from_dict(raw: dict[str, Any], where: str = "truth") -> System:
    """Build a System from its JSON form; TruthError on anything inconsistent."""
    repos = [
        RepoPin(
            _req(r, "name", where),
            _req(r, "url", where),
            _req(r, "commit", where),
            _req(r, "dir", where),
        )
        for r in _req(raw, "repos", where)
    ]
    if not repos:
        raise TruthError(f"{where}: no repos")
    for r in repos:
        if not re.fullmatch(r"[0-9a-f]{40}", r.commit):
            raise TruthError(f"{where}: repo {r.name}: commit must be 40 hex digits")
    repo_names = [r.name for r in repos]
    if len(set(repo_names)) != len(repo_names):
        raise TruthError(f"{where}: two repos with one name")
    default = repos[0].name

    def locs(items: list[str], ctx: str) -> list[Location]:
        try:
            return [parse_location(t, default, repo_names) for t in items]
        except TruthError as exc:
            raise TruthError(f"{where}: {ctx}: {exc}") from exc

    services: list[Entity] = []
    uses: list[Use] = []
    for s in _req(raw, "services", where):
        name = _req(s, "name", where)
        services.append(
            Entity(
                name,
                "service",
                repo=s.get("repo", default),
                path=_req(s, "path", where),
                aliases=list(s.get("aliases", [])),
                optional=bool(s.get("optional", False)),
            )
        )
        for u in s.get("uses", []):
            ctx = f"service {name} uses {u.get('infra')}"
            uses.append(Use(name, _req(u, "infra", ctx), u.get("via", ""), locs(u["code"], ctx)))
    libraries = [
        Entity(
            _req(lib, "name", where),
            "library",
            repo=lib.get("repo", default),
            path=_req(lib, "path", where),
            aliases=list(lib.get("aliases", [])),
        )
        for lib in raw.get("libraries", [])
    ]
    infra = []
    for i in _req(raw, "infrastructure", where):
        name, kind = _req(i, "name", where), _req(i, "kind", where)
        if kind not in INFRA_KINDS:
            raise TruthError(f"{where}: infrastructure {name}: kind {kind!r} not in {INFRA_KINDS}")
        infra.append(
            Entity(
                name,
                "infra",
                kind=kind,
                repo=i.get("repo", default),
                path=i.get("path", ""),
                aliases=list(i.get("aliases", [])),
                code=locs(i.get("code", []), f"infrastructure {name}"),
            )
        )
    all_entities = [*services, *libraries, *infra]
    names = [e.name for e in all_entities]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise TruthError(f"{where}: names used twice: {sorted(dupes)}")
    # One spelling must name one thing, else matching would be ambiguous.
    owner: dict[str, str] = {}
    for e in all_entities:
        if e.repo not in repo_names:
            raise TruthError(f"{where}: {e.name}: no repo {e.repo!r}")
        for spelling in e.spellings():
            n = normalise(spelling)
            if not n:
                raise TruthError(f"{where}: {e.name}: empty spelling {spelling!r}")
            if owner.setdefault(n, e.name) != e.name:
                raise TruthError(
                    f"{where}: {spelling!r} of {e.name} normalises like {owner[n]} ({n!r})"
                )
    by_name = {e.name: e for e in all_entities}
    for u in uses:
        if by_name.get(u.infra, Entity("", "")).category != "infra":
            raise TruthError(f"{where}: {u.service} uses {u.infra!r}, no such infrastructure")
    edges: list[TruthEdge] = []
    for e in _req(raw, "edges", where):
        src, dst, kind = _req(e, "from", where), _req(e, "to", where), _req(e, "kind", where)
        ctx = f"edge {src} -> {dst}"
        if kind not in EDGE_KINDS:
            raise TruthError(f"{where}: {ctx}: kind {kind!r} not in {EDGE_KINDS}")
        if by_name.get(src, Entity("", "")).category != "service":
            raise TruthError(f"{where}: {ctx}: {src!r} is not a service")
        want = "library" if kind == "library" else "service"
        if by_name.get(dst, Entity("", "")).category != want:
            raise TruthError(f"{where}: {ctx}: {dst!r} is not a {want}")
        if src == dst:
            raise TruthError(f"{where}: {ctx}: an edge to itself")
        if kind == "shared_db" and src > dst:
            raise TruthError(f"{where}: {ctx}: a shared_db edge runs from the first name in order")
        doc = _req(e, "doc", ctx)
        if not isinstance(doc, dict) or "path" not in doc:
            raise TruthError(f"{where}: {ctx}: doc must be {{path, section}}")
        code = locs(_req(e, "code", ctx), ctx)
        if not code:
            raise TruthError(f"{where}: {ctx}: no code location")
        edges.append(
            TruthEdge(
                src,
                dst,
                kind,
                _req(e, "via", ctx),
                e.get("env", ""),
                code,
                doc,
                bool(e.get("optional", False)),
            )
        )
    seen: set[tuple[Any, str]] = set()
    for edge in edges:
        if (edge.key, edge.kind) in seen:
            raise TruthError(f"{where}: edge listed twice: {edge}")
        seen.add((edge.key, edge.kind))
    hard = [
        (locs([_req(h, "code", where)], "hard case")[0], _req(h, "note", where))
        for h in raw.get("hard_cases", [])
    ]
    layout = _req(raw, "layout", where)
    if layout.get("kind") not in ("monorepo", "multi-repo"):
        raise TruthError(f"{where}: layout.kind must be monorepo or multi-repo")
    return System(
        _req(raw, "system", where),
        raw.get("title", raw["system"]),
        _req(raw, "upstream", where),
        repos,
        layout,
        services,
        libraries,
        infra,
        edges,
        uses,
        list(raw.get("docs", [])),
        hard,
    )


def load_systems(truth_dir: Path = TRUTH_DIR) -> list[System]:
    """Every bench/map/*.json, in name order."""
    return [load_system(p) for p in sorted(truth_dir.glob("*.json"))]


# --------------------------------------------------------------------------- scoring


@dataclass
class Score:
    """How one map compares with one system's ground truth."""

    system: str
    services_required: int = 0
    services_found: int = 0
    services_missed: list[str] = field(default_factory=list)
    predicted_services: int = 0
    predicted_unmatched: list[str] = field(default_factory=list)
    infra_as_service: list[str] = field(default_factory=list)
    libraries_as_service: list[str] = field(default_factory=list)
    infra_required: int = 0
    infra_found: int = 0
    edges_required: int = 0
    edges_found: int = 0
    edges_missed: list[str] = field(default_factory=list)
    predicted_pairs: int = 0  # distinct directed pairs, optional matches left out
    true_pairs: int = 0
    false_edges: list[str] = field(default_factory=list)
    edges_to_infra: int = 0
    kind_matched: int = 0
    kind_agree: int = 0
    kind_confusions: list[str] = field(default_factory=list)
    evidence_total: int = 0
    evidence_real: int = 0
    evidence_bad: list[str] = field(default_factory=list)
    edges_without_evidence: int = 0

    @staticmethod
    def _ratio(num: int, den: int) -> float | None:
        return num / den if den else None

    @property
    def service_recall(self) -> float | None:
        return self._ratio(self.services_found, self.services_required)

    @property
    def service_precision(self) -> float | None:
        unmatched = len(self.predicted_unmatched)
        return self._ratio(self.predicted_services - unmatched, self.predicted_services)

    @property
    def infra_precision(self) -> float | None:
        """Share of reported services that are not infrastructure."""
        bad = len(self.infra_as_service)
        return self._ratio(self.predicted_services - bad, self.predicted_services)

    @property
    def infra_recall(self) -> float | None:
        return self._ratio(self.infra_found, self.infra_required)

    @property
    def edge_precision(self) -> float | None:
        return self._ratio(self.true_pairs, self.predicted_pairs)

    @property
    def edge_recall(self) -> float | None:
        return self._ratio(self.edges_found, self.edges_required)

    @property
    def kind_agreement(self) -> float | None:
        return self._ratio(self.kind_agree, self.kind_matched)

    @property
    def evidence_share(self) -> float | None:
        return self._ratio(self.evidence_real, self.evidence_total)

    def figures(self) -> dict[str, Any]:
        """The ratios, for JSON output."""
        return {
            "service_recall": self.service_recall,
            "service_precision": self.service_precision,
            "infra_precision": self.infra_precision,
            "infra_recall": self.infra_recall,
            "edge_precision": self.edge_precision,
            "edge_recall": self.edge_recall,
            "kind_agreement": self.kind_agreement,
            "evidence_share": self.evidence_share,
        }


def merge_scores(scores: list[Score], name: str = "overall") -> Score:
    """Pool the counts of several systems (micro-average); lists are prefixed by system."""
    total = Score(name)
    for s in scores:
        for f, v in asdict(s).items():
            if f == "system":
                continue
            if isinstance(v, list):
                getattr(total, f).extend(f"{s.system}: {x}" for x in v)
            else:
                setattr(total, f, getattr(total, f) + v)
    return total


class _Resolver:
    """Names of a map to the entities of the truth, through names, aliases and paths."""

    def __init__(self, system: System, predicted_services: list[dict[str, Any]]):
        self.index: dict[str, Entity] = {}
        for e in system.entities:
            for spelling in e.spellings():
                self.index[normalise(spelling)] = e
        # An edge may name a service by any spelling the map gave that service.
        self.predicted: dict[str, dict[str, Any]] = {}
        for s in predicted_services:
            for spelling in _spellings(s):
                self.predicted.setdefault(normalise(spelling), s)

    def entity(self, name: str) -> Entity | None:
        n = normalise(name)
        if n in self.index:
            return self.index[n]
        svc = self.predicted.get(n)
        if svc is not None:
            return self.service(svc)
        return None

    def service(self, svc: dict[str, Any]) -> Entity | None:
        for spelling in _spellings(svc):
            hit = self.index.get(normalise(spelling))
            if hit is not None:
                return hit
        return None

    def key(self, name: str) -> str:
        e = self.entity(name)
        return e.name if e is not None else f"?{normalise(name)}"


def _spellings(svc: dict[str, Any]) -> list[str]:
    names = [str(svc.get("name") or ""), *(str(a) for a in svc.get("aliases") or [])]
    path = str(svc.get("path") or "").rstrip("/")
    if path and path != ".":
        names.append(path.rsplit("/", 1)[-1])
    elif svc.get("repo"):  # a service that is a whole repository
        names.append(str(svc["repo"]))
    return [n for n in names if normalise(n)]


EvidenceCheck = Callable[[str, str, int], bool]


def score(system: System, kb_map: dict[str, Any], evidence_exists: EvidenceCheck) -> Score:
    """Compare a `kb map --format json` document with a system's ground truth.

    Services match through their normalised names, aliases and the last part of their path.
    Edges are compared as directed (from, to) pairs after the same resolution (shared_db
    in either direction); several edges of the map between one pair count once. An edge
    matching only an optional truth edge counts neither way. `evidence_exists(repo, path,
    line)` says whether a location is real at the pinned commit.
    """
    sc = Score(system.name)
    predicted_services = [s for s in kb_map.get("services") or [] if isinstance(s, dict)]
    res = _Resolver(system, predicted_services)

    matched: set[str] = set()
    for svc in predicted_services:
        hit = res.service(svc)
        label = str(svc.get("name"))
        sc.predicted_services += 1
        if hit is None:
            sc.predicted_unmatched.append(label)
        elif hit.category == "infra":
            sc.infra_as_service.append(f"{label} (is {hit.name}, {hit.kind})")
            sc.predicted_unmatched.append(label)
        elif hit.category == "library":
            sc.libraries_as_service.append(f"{label} (is library {hit.name})")
            sc.predicted_unmatched.append(label)
        else:
            matched.add(hit.name)
    required = [s for s in system.services if not s.optional]
    sc.services_required = len(required)
    sc.services_found = sum(1 for s in required if s.name in matched)
    sc.services_missed = [s.name for s in required if s.name not in matched]

    reported_infra = {
        e.name
        for i in kb_map.get("infrastructure") or []
        if isinstance(i, dict) and (e := res.entity(str(i.get("name") or ""))) is not None
    }
    sc.infra_required = len(system.infrastructure)
    sc.infra_found = sum(1 for i in system.infrastructure if i.name in reported_infra)

    # Predicted edges, grouped by resolved directed pair.
    pairs: dict[tuple[str, str], set[str]] = {}
    labels: dict[tuple[str, str], str] = {}
    for e in kb_map.get("edges") or []:
        if not isinstance(e, dict):
            continue
        pair = (res.key(str(e.get("from") or "")), res.key(str(e.get("to") or "")))
        pairs.setdefault(pair, set()).add(str(e.get("kind") or ""))
        labels.setdefault(pair, f"{e.get('from')} -> {e.get('to')}")
        evidence = [ev for ev in e.get("evidence") or [] if isinstance(ev, dict)]
        if not evidence:
            sc.edges_without_evidence += 1
        for ev in evidence:
            sc.evidence_total += 1
            repo, path, line = str(ev.get("repo")), str(ev.get("path")), ev.get("line")
            ok = isinstance(line, int) and line >= 1 and evidence_exists(repo, path, line)
            if ok:
                sc.evidence_real += 1
            else:
                sc.evidence_bad.append(f"{repo}:{path}:{line}")

    def truth_for(pair: tuple[str, str]) -> list[TruthEdge]:
        return [t for t in system.edges if t.key in (pair, frozenset(pair))]

    infra_names = {i.name for i in system.infrastructure}
    for pair, _kinds in pairs.items():
        hits = truth_for(pair)
        if hits and all(t.optional for t in hits):
            continue
        sc.predicted_pairs += 1
        if hits:
            sc.true_pairs += 1
        else:
            sc.false_edges.append(labels[pair])
            if pair[0] in infra_names or pair[1] in infra_names:
                sc.edges_to_infra += 1

    for t in system.edges:
        if t.optional:
            continue
        sc.edges_required += 1
        kinds: set[str] = set(pairs.get((t.src, t.dst), set()))
        if t.kind == "shared_db":
            kinds |= pairs.get((t.dst, t.src), set())
        found = (t.src, t.dst) in pairs or (t.kind == "shared_db" and (t.dst, t.src) in pairs)
        if not found:
            sc.edges_missed.append(str(t))
            continue
        sc.edges_found += 1
        sc.kind_matched += 1
        if t.kind in kinds:
            sc.kind_agree += 1
        else:
            sc.kind_confusions.append(f"{t}: map says {', '.join(sorted(kinds))}")
    return sc


# --------------------------------------------------------------------------- git


def _git(repo_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(repo_dir), *args], capture_output=True, text=True, check=False
    )


class PinnedFiles:
    """Files of the systems' repositories as they are at the pinned commits (git objects)."""

    def __init__(self, system: System, repos_dir: Path):
        self.system = system
        self.repos_dir = repos_dir
        self._trees: dict[str, set[str]] = {}
        self._lines: dict[tuple[str, str], list[str] | None] = {}

    def _dir(self, repo: str) -> Path:
        return self.repos_dir / self.system.repo(repo).dir

    def tree(self, repo: str) -> set[str]:
        """Every file and directory path of the repo at its pinned commit."""
        if repo not in self._trees:
            pin = self.system.repo(repo)
            res = _git(self._dir(repo), "ls-tree", "-r", "-t", "--name-only", pin.commit)
            self._trees[repo] = set(res.stdout.splitlines()) if res.returncode == 0 else set()
        return self._trees[repo]

    def lines(self, repo: str, path: str) -> list[str] | None:
        """The file's lines at the pinned commit, None when it is not there."""
        key = (repo, path)
        if key not in self._lines:
            text: list[str] | None = None
            if path in self.tree(repo):
                pin = self.system.repo(repo)
                res = subprocess.run(
                    ["git", "-C", str(self._dir(repo)), "show", f"{pin.commit}:{path}"],
                    capture_output=True,
                    check=False,
                )
                if res.returncode == 0:
                    text = res.stdout.decode("utf-8", "replace").splitlines()
            self._lines[key] = text
        return self._lines[key]

    def exists(self, repo: str, path: str, line: int) -> bool:
        """The evidence check of the score: the repo is the system's, the file has the line."""
        if repo not in {r.name for r in self.system.repos}:
            return False
        lines = self.lines(repo, path)
        return lines is not None and 1 <= line <= len(lines)


def checkout_problems(system: System, repos_dir: Path) -> list[str]:
    """Clones that are missing or not at their pinned commit, with the commands to fix them."""
    out = []
    for r in system.repos:
        d = repos_dir / r.dir
        head = _git(d, "rev-parse", "HEAD") if d.is_dir() else None
        if head is None or head.returncode != 0:
            out.append(
                f"{r.name}: no git clone at {d}\n"
                f"    git clone {r.url} {shlex.quote(str(d))}\n"
                f"    git -C {shlex.quote(str(d))} checkout -q {r.commit}"
            )
        elif head.stdout.strip() != r.commit:
            out.append(
                f"{r.name}: {d} is at {head.stdout.strip()[:12]}, not at the pinned commit\n"
                f"    git -C {shlex.quote(str(d))} fetch origin\n"
                f"    git -C {shlex.quote(str(d))} checkout -q {r.commit}"
            )
    return out


# --------------------------------------------------------------------------- truth-only


_TOKEN_MIN = 3


def _flat(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.casefold())


def via_tokens(*texts: str) -> set[str]:
    """The words of a via ("orderingdb (ordering.orders)" gives orderingdb, ordering, orders...)."""
    tokens: set[str] = set()
    for part in re.split(r"[,;|()\s]+", ",".join(texts)):
        tokens.add(_flat(part))
        tokens.update(_flat(p) for p in part.split("."))
    return {t for t in tokens if len(t) >= _TOKEN_MIN}


def edge_tokens(system: System, edge: TruthEdge) -> set[str]:
    """What a line showing the edge may name: the via, the env var, the callee's spellings."""
    tokens = {normalise(s) for s in system.entity(edge.dst).spellings()}
    return {t for t in tokens if len(t) >= _TOKEN_MIN} | via_tokens(edge.via, edge.env)


def check_truth(system: System, files: PinnedFiles) -> list[str]:
    """Ground truth against the pinned checkout: what is missing or does not name its edge."""
    problems: list[str] = []

    def check_loc(loc: Location, tokens: set[str], ctx: str) -> None:
        lines = files.lines(loc.repo, loc.path)
        if lines is None:
            problems.append(f"{ctx}: {loc}: no such file at the pinned commit")
        elif loc.line > len(lines):
            problems.append(f"{ctx}: {loc}: the file has {len(lines)} lines")
        elif tokens and not any(t in _flat(lines[loc.line - 1]) for t in tokens):
            problems.append(
                f"{ctx}: {loc}: the line names none of {sorted(tokens)}: "
                f"{lines[loc.line - 1].strip()[:100]!r}"
            )

    for e in system.entities:
        if e.path not in ("", ".") and e.path.rstrip("/") not in files.tree(e.repo):
            problems.append(f"{e.category} {e.name}: no path {e.repo}:{e.path}")
        for loc in e.code:
            check_loc(loc, {normalise(s) for s in e.spellings()}, f"infrastructure {e.name}")
    for u in system.uses:
        infra = system.entity(u.infra)
        tokens = {normalise(s) for s in infra.spellings()} | via_tokens(u.via)
        for loc in u.code:
            check_loc(
                loc, {t for t in tokens if len(t) >= _TOKEN_MIN}, f"{u.service} uses {u.infra}"
            )
    docs = [*system.docs, *(e.doc for e in system.edges)]
    for doc in docs:
        repo = doc.get("repo", system.repos[0].name)
        lines = files.lines(repo, doc["path"])
        if lines is None:
            problems.append(f"doc {repo}:{doc['path']}: no such file at the pinned commit")
            continue
        section = doc.get("section", "")
        if section and not any(section.casefold() in ln.casefold() for ln in lines):
            problems.append(f"doc {repo}:{doc['path']}: no section {section!r}")
    for edge in system.edges:
        tokens = edge_tokens(system, edge)
        for loc in edge.code:
            check_loc(loc, tokens, f"edge {edge}")
    for loc, _note in system.hard_cases:
        check_loc(loc, set(), "hard case")
    return problems


# --------------------------------------------------------------------------- running kb


@dataclass
class Run:
    """Timings and output of kb on one system."""

    ingest_s: float = 0.0
    ingest_nomap_s: float | None = None
    map_ms: float | None = None
    kb_map: dict[str, Any] | None = None
    available: bool = True
    switch: bool = False
    note: str = ""

    @property
    def map_share(self) -> float | None:
        """The map's share of the ingest: (with - without) / with."""
        if self.ingest_nomap_s is None or not self.ingest_s:
            return None
        return max(0.0, self.ingest_s - self.ingest_nomap_s) / self.ingest_s


def kb_reads_switch(kb_source: Path = ROOT) -> bool:
    """Whether this kb's source reads KB_MAP_EXTRACTION (else ingest can't skip the map)."""
    for pkg in ("kb", "connectors"):
        for py in (kb_source / pkg).rglob("*.py"):
            if MAP_SWITCH in py.read_text(encoding="utf-8", errors="replace"):
                return True
    return False


def _kb(kb: list[str], home: Path, *args: str, env: dict[str, str] | None = None):
    t0 = time.perf_counter()
    res = subprocess.run(
        [*kb, "--home", str(home), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        check=False,
        env={**os.environ, **(env or {})},
    )
    return time.perf_counter() - t0, res


def map_unavailable(res: subprocess.CompletedProcess[str]) -> bool:
    """click's answer to a command it does not know."""
    return res.returncode == 2 and "No such command 'map'" in (res.stderr or "")


def _ingest_all(kb: list[str], home: Path, system: System, repos_dir: Path, env=None) -> float:
    secs, res = _kb(kb, home, "init")
    if res.returncode != 0:
        raise RuntimeError(f"kb init failed ({res.returncode}): {res.stderr[-2000:]}")
    total = 0.0
    for r in system.repos:
        secs, res = _kb(
            kb, home, "ingest", "git", str(repos_dir / r.dir), "--name", r.name, env=env
        )
        if res.returncode not in (0, 3):  # 3: some items skipped, reported
            raise RuntimeError(
                f"kb ingest git {r.dir} failed ({res.returncode}): {res.stderr[-2000:]}"
            )
        total += secs
    return total


def run_kb(
    system: System,
    repos_dir: Path,
    kb: list[str],
    switch: bool,
    keep: bool = False,
    ingest_runs: int = 1,
) -> Run:
    """Ingest the system into fresh homes and run `kb map`; see the module docstring.

    With `ingest_runs` > 1 each ingest (with and without the map, alternately) is repeated
    in fresh homes and the fastest kept: on a shared machine one run each is mostly noise.
    """
    run = Run(switch=switch)
    root = Path(tempfile.mkdtemp(prefix=f"kb-map-{system.name}-"))
    home = root / "home"
    # Ask first: a kb without `map` is told in a second, not after an ingest.
    _, res = _kb(kb, home, "map", "--help")
    if map_unavailable(res):
        run.available = False
        run.note = NOT_AVAILABLE
        _cleanup(root, keep)
        return run
    home = root / "map"
    run.ingest_s = _ingest_all(kb, home, system, repos_dir)
    times = []
    for _ in range(3):
        secs, res = _kb(kb, home, "map", "--format", "json")
        if res.returncode != 0:
            if map_unavailable(res):
                run.available, run.note = False, NOT_AVAILABLE
                _cleanup(root, keep)
                return run
            raise RuntimeError(f"kb map failed ({res.returncode}): {res.stderr[-2000:]}")
        times.append(secs)
    run.map_ms = min(times) * 1000
    try:
        run.kb_map = json.loads(res.stdout)
    except json.JSONDecodeError as exc:
        raise RuntimeError(f"kb map --format json printed no JSON: {exc}") from exc
    if switch:
        run.ingest_nomap_s = _ingest_all(
            kb, root / "nomap", system, repos_dir, env={MAP_SWITCH: "0"}
        )
        for i in range(1, ingest_runs):
            again = _ingest_all(kb, root / f"map{i}", system, repos_dir)
            run.ingest_s = min(run.ingest_s, again)
            again = _ingest_all(kb, root / f"nomap{i}", system, repos_dir, env={MAP_SWITCH: "0"})
            run.ingest_nomap_s = min(run.ingest_nomap_s, again)
    else:
        run.note = (
            f"{MAP_SWITCH} is not read by this kb: the map's share of the ingest is not measured"
        )
    if keep:
        print(f"{system.name}: kb homes kept in {root}", file=sys.stderr)
    _cleanup(root, keep)
    return run


def _cleanup(root: Path, keep: bool) -> None:
    if not keep:
        subprocess.run(["rm", "-rf", str(root)], check=False)


# --------------------------------------------------------------------------- report


def _fmt(v: float | None, pct: bool = False) -> str:
    if v is None:
        return "—"
    return f"{v * 100:.0f}%" if pct else f"{v:.2f}"


def _met(v: float | None, target: float, lower_is_better: bool = False) -> str:
    if v is None:
        return "—"
    ok = v <= target if lower_is_better else v >= target - 1e-9
    return "yes" if ok else "no"


def system_table(system: System, sc: Score, run: Run | None) -> str:
    """One system's figures against the targets, as a markdown table."""
    rows = [
        (
            "service recall",
            f"{_fmt(sc.service_recall)} ({sc.services_found}/{sc.services_required})",
            f"≥ {TARGETS['service_recall']}",
            _met(sc.service_recall, TARGETS["service_recall"]),
        ),
        (
            "edge precision",
            f"{_fmt(sc.edge_precision)} ({sc.true_pairs}/{sc.predicted_pairs})",
            f"≥ {TARGETS['edge_precision']}",
            _met(sc.edge_precision, TARGETS["edge_precision"]),
        ),
        (
            "edge recall",
            f"{_fmt(sc.edge_recall)} ({sc.edges_found}/{sc.edges_required})",
            f"≥ {TARGETS['edge_recall']}",
            _met(sc.edge_recall, TARGETS["edge_recall"]),
        ),
        (
            "kind agreement (matched edges)",
            f"{_fmt(sc.kind_agreement)} ({sc.kind_agree}/{sc.kind_matched})",
            "—",
            "—",
        ),
        (
            "evidence locations real",
            f"{_fmt(sc.evidence_share)} ({sc.evidence_real}/{sc.evidence_total}); "
            f"{sc.edges_without_evidence} edges without",
            "every one",
            _met(
                sc.evidence_share if not sc.edges_without_evidence else 0.0,
                TARGETS["evidence_real"],
            ),
        ),
        (
            "infrastructure precision (no infra as service)",
            f"{_fmt(sc.infra_precision)} ({len(sc.infra_as_service)} infra reported as services)",
            "1.00",
            _met(sc.infra_precision, 1.0),
        ),
        (
            "infrastructure recall",
            f"{_fmt(sc.infra_recall)} ({sc.infra_found}/{sc.infra_required})",
            "—",
            "—",
        ),
    ]
    if run is not None:
        rows.append(
            (
                "ingest s",
                f"{run.ingest_s:.1f}"
                + (f" (without map {run.ingest_nomap_s:.1f})" if run.ingest_nomap_s else ""),
                "—",
                "—",
            )
        )
        rows.append(
            (
                "map share of ingest",
                _fmt(run.map_share, pct=True),
                f"≤ {TARGETS['map_share_of_ingest'] * 100:.0f}%",
                _met(run.map_share, TARGETS["map_share_of_ingest"], lower_is_better=True),
            )
        )
        rows.append(
            (
                "kb map --format json ms",
                "—" if run.map_ms is None else f"{run.map_ms:.0f}",
                f"≤ {TARGETS['map_ms']:.0f}",
                _met(run.map_ms, TARGETS["map_ms"], True),
            )
        )
    out = [
        f"### {system.title} ({system.name})",
        "",
        "| metric | value | target | met |",
        "|---|---|---|---|",
    ]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    details = [
        ("missed services", sc.services_missed),
        ("infrastructure reported as services", sc.infra_as_service),
        ("libraries reported as services", sc.libraries_as_service),
        ("unmatched services", [n for n in sc.predicted_unmatched]),
        ("missed edges", sc.edges_missed),
        ("false edges", sc.false_edges),
        ("kind confusions", sc.kind_confusions),
        ("evidence not real", sc.evidence_bad[:20]),
    ]
    for label, items in details:
        if items:
            out.append(f"\n{label} ({len(items)}): " + "; ".join(items))
    if run is not None and run.note:
        out.append(f"\nnote: {run.note}")
    return "\n".join(out)


def overall_table(results: list[tuple[System, Score, Run | None]]) -> str:
    """One row per system and the pooled figures."""
    head = (
        "| system | services R | edges P | edges R | kind agree | evidence real "
        "| infra precision | ingest s | map share | map ms |\n"
        "|---|---|---|---|---|---|---|---|---|---|"
    )
    rows = [head]
    for system, sc, run in results:
        rows.append(
            f"| {system.name} | {_fmt(sc.service_recall)} | {_fmt(sc.edge_precision)} "
            f"| {_fmt(sc.edge_recall)} | {_fmt(sc.kind_agreement)} | {_fmt(sc.evidence_share)} "
            f"| {_fmt(sc.infra_precision)} "
            f"| {'—' if run is None else f'{run.ingest_s:.1f}'} "
            f"| {'—' if run is None else _fmt(run.map_share, pct=True)} "
            f"| {'—' if run is None or run.map_ms is None else f'{run.map_ms:.0f}'} |"
        )
    pooled = merge_scores([sc for _, sc, _ in results])
    shares = [r.map_share for _, _, r in results if r is not None and r.map_share is not None]
    ms = [r.map_ms for _, _, r in results if r is not None and r.map_ms is not None]
    rows.append(
        f"| **overall** | {_fmt(pooled.service_recall)} | {_fmt(pooled.edge_precision)} "
        f"| {_fmt(pooled.edge_recall)} | {_fmt(pooled.kind_agreement)} "
        f"| {_fmt(pooled.evidence_share)} | {_fmt(pooled.infra_precision)} | — "
        f"| {_fmt(max(shares), pct=True) if shares else '—'} (worst) "
        f"| {f'{max(ms):.0f}' if ms else '—'} (worst) |"
    )
    rows.append(
        f"| **target** | ≥ {TARGETS['service_recall']} | ≥ {TARGETS['edge_precision']} "
        f"| ≥ {TARGETS['edge_recall']} | — | every one | 1.00 | — "
        f"| ≤ {TARGETS['map_share_of_ingest'] * 100:.0f}% | ≤ {TARGETS['map_ms']:.0f} |"
    )
    return "\n".join(rows)


def truth_summary(system: System) -> str:
    """Counts of the ground truth: services, infrastructure and edges by kind."""
    req = [e for e in system.edges if not e.optional]
    by_kind = {k: sum(1 for e in req if e.kind == k) for k in EDGE_KINDS}
    kinds = ", ".join(f"{k} {n}" for k, n in by_kind.items() if n)
    opt = len(system.edges) - len(req)
    n_opt_svc = sum(1 for s in system.services if s.optional)
    return (
        f"{system.name}: {len(system.services) - n_opt_svc} services"
        f"{f' (+{n_opt_svc} optional)' if n_opt_svc else ''}, {len(system.libraries)} libraries, "
        f"{len(system.infrastructure)} infrastructure, {len(req)} edges ({kinds})"
        f"{f' +{opt} optional' if opt else ''}"
    )


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos-dir", type=Path, required=True, help="where the clones are")
    parser.add_argument("--system", action="append", help="only this system (repeatable)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--truth-only", action="store_true", help="check the ground truth against the checkouts"
    )
    parser.add_argument("--truth-dir", type=Path, default=TRUTH_DIR, help=argparse.SUPPRESS)
    parser.add_argument("--kb", default=KB[0], help="the kb executable (default: the venv's)")
    parser.add_argument("--keep", action="store_true", help="keep the temp kb homes")
    parser.add_argument(
        "--ingest-runs", type=int, default=1, help="time each ingest N times, keep the fastest"
    )
    args = parser.parse_args(argv)

    systems = load_systems(args.truth_dir)
    if args.system:
        unknown = set(args.system) - {s.name for s in systems}
        if unknown:
            parser.error(f"no such system: {', '.join(sorted(unknown))}")
        systems = [s for s in systems if s.name in args.system]
    repos_dir = args.repos_dir.resolve()

    missing = {s.name: checkout_problems(s, repos_dir) for s in systems}
    if any(missing.values()):
        for name, probs in missing.items():
            for p in probs:
                print(f"{name}: {p}", file=sys.stderr)
        print("clone the repositories at their pinned commits, then run again", file=sys.stderr)
        return 1

    if args.truth_only:
        report: dict[str, Any] = {}
        bad = 0
        for s in systems:
            problems = check_truth(s, PinnedFiles(s, repos_dir))
            bad += len(problems)
            report[s.name] = {"summary": truth_summary(s), "problems": problems}
            if not args.json:
                print(truth_summary(s))
                for p in problems:
                    print(f"  {p}")
        if args.json:
            print(json.dumps(report, indent=1))
        elif not bad:
            print("every code location exists and names its edge")
        return 1 if bad else 0

    kb = [args.kb]
    switch = kb_reads_switch()
    results: list[tuple[System, Score, Run | None]] = []
    for s in systems:
        print(f"{s.name}: kb init, ingest of {len(s.repos)} repo(s), kb map ...", file=sys.stderr)
        run = run_kb(s, repos_dir, kb, switch, args.keep, args.ingest_runs)
        if not run.available:
            print(NOT_AVAILABLE, file=sys.stderr if args.json else sys.stdout)
            if args.json:
                print(json.dumps({"available": False, "error": NOT_AVAILABLE}))
            return 2
        assert run.kb_map is not None
        sc = score(s, run.kb_map, PinnedFiles(s, repos_dir).exists)
        results.append((s, sc, run))
    if args.json:
        out = {
            "targets": TARGETS,
            "systems": {
                s.name: {
                    **asdict(sc),
                    **sc.figures(),
                    "run": {
                        **{k: v for k, v in asdict(run).items() if k != "kb_map"},
                        "map_share": run.map_share,
                    }
                    if run
                    else None,
                }
                for s, sc, run in results
            },
            "overall": merge_scores([sc for _, sc, _ in results]).figures(),
        }
        print(json.dumps(out, indent=1))
        return 0
    for s, sc, ran in results:
        print(system_table(s, sc, ran) + "\n")
    print("### Overall\n")
    print(overall_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
