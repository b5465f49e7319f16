"""How stored history becomes authorship facts, in each of the bus factor's two modes.

- ``avelino2016``: the reference tool's identities (upper-cased email, merged by upper-cased
  name), its reading of `;` in paths, every tracked file, bots counted;
- ``default``: people as kb merged them from every source, co-authors credited, bots left
  out with the files only they touched, excluded files (vendored, generated…) left out.
"""

from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from kb.analysis.authorship import AuthorshipMap, Change, authorship_map
from kb.contract.identity import normalise_email, normalise_name
from kb.contract.kinds import ChangeType
from kb.store import history as sh


def java_fold(text: str) -> str:
    """The reference tool's identity key: accents stripped, ';' -> '&', upper-cased."""
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    stripped = stripped.replace("\u0141", "L").replace("\u0142", "l")  # what NFD leaves
    return stripped.replace(";", "&").upper()


@dataclass
class Developer:
    """Someone whose changes count, as one analysis mode sees them."""

    key: str
    name: str
    emails: set[str] = field(default_factory=set)
    person_id: int | None = None
    departed: bool = False
    last_activity: datetime | None = None


@dataclass
class RepoFacts:
    """One repository analysed: authorship of its files, its developers, what was left out."""

    name: str
    head: str | None
    authorship: AuthorshipMap[str]
    files: list[str]  # analysed files (have history, not excluded)
    excluded: Counter[str]
    developers: dict[str, Developer]
    history: sh.RepoHistory
    credit: dict[int, tuple[str, ...]]  # commit id -> developer keys credited


def compat_facts(hist: sh.RepoHistory, developers: dict[str, Developer]) -> RepoFacts:
    """The reference tool's view: usernames by upper-cased email, merged by upper-cased name."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    # Thousands of commits, a few hundred identities: fold and merge each identity once.
    user_of_identity: dict[tuple[str, str, str | None], str | None] = {}
    user_of: dict[int, str] = {}
    for c in hist.commits.values():
        identity = (c.author_email, c.author_name, c.committer_email)
        if identity not in user_of_identity:
            email, name = java_fold(c.author_email), java_fold(c.author_name)
            if not email and not name:
                email = java_fold(c.committer_email or "")
            user = None
            if email or name:
                user = "E:" + email if email else "N:" + name
                find(user)
                if name:
                    union(user, "N:" + name)
            user_of_identity[identity] = user
        user = user_of_identity[identity]
        if user is not None:
            user_of[c.id] = user
    members: dict[str, set[str]] = {}
    for node in list(parent):
        members.setdefault(find(node), set()).add(node)
    names: defaultdict[str, Counter[str]] = defaultdict(Counter)
    credit_of_root: dict[str, tuple[str]] = {}  # one developer key, shared by their commits
    credit: dict[int, tuple[str, ...]] = {}
    for cid, user in user_of.items():
        root = find(user)
        if root not in credit_of_root:
            emails = sorted(m[2:] for m in members[root] if m.startswith("E:"))
            credit_of_root[root] = ("||".join(emails) or root[2:],)
        credit[cid] = credit_of_root[root]
        key = credit_of_root[root][0]
        c = hist.commits[cid]
        names[key][c.author_name or c.author_email] += 1
        dev = developers.get(key)
        if dev is None:
            dev = developers[key] = Developer(key=key, name="")
        if c.author_email:
            dev.emails.add(c.author_email)
        if dev.last_activity is None or c.authored_at > dev.last_activity:
            dev.last_activity = c.authored_at
    for key, counter in names.items():
        developers[key].name = counter.most_common(1)[0][0]
    changes = [
        Change(ch.kind, *_as_reference_reads(ch), credit[ch.commit_id])
        for ch in hist.changes
        if ch.commit_id in credit
    ]
    amap = authorship_map(hist.files, changes)
    return RepoFacts(
        hist.name, hist.head, amap, sorted(amap.files), Counter(), developers, hist, credit
    )


def _as_reference_reads(ch: sh.ChangeRow) -> tuple[str, str | None]:
    """(path, old path) as the reference tool parses its `sha;STATUS;old;new` lines.

    It splits on ";", so a path holding one is cut there: "data;1.csv" is read as "data"
    (and the file at HEAD then has no history).
    """
    if ch.kind is ChangeType.RENAME:
        fields = f"{ch.old_path};{ch.path}".split(";")
        return fields[1], fields[0]
    return ch.path.split(";", 1)[0], ch.old_path


def default_facts(
    hist: sh.RepoHistory,
    developers: dict[str, Developer],
    people: dict[int, sh.PersonRow],
    identities: dict[tuple[str, str], int],
) -> RepoFacts:
    """kb's view: people as merged from every source, co-authors credited, bots left out."""

    def human(pid: int | None) -> str | None:
        if pid is None:
            return None
        person = people.get(pid)
        if person is None or person.is_bot:
            return None
        key = f"p{pid}"
        if key not in developers:
            developers[key] = Developer(
                key=key,
                name=person.name,
                emails={person.email} if person.email else set(),
                person_id=pid,
                last_activity=person.last_activity_at,
            )
        return key

    credit: dict[int, tuple[str, ...]] = {}
    credit_alone: dict[int | None, tuple[str, ...]] = {}  # no co-author: one per author, shared
    for c in hist.commits.values():
        if not c.co_authors and c.person_id in credit_alone:
            credit[c.id] = credit_alone[c.person_id]
            continue
        keys: list[str] = []
        for pid in (c.person_id, *(_co_author(identities, co) for co in c.co_authors)):
            key = human(pid)
            if key is not None and key not in keys:
                keys.append(key)
        credit[c.id] = tuple(keys)
        if not c.co_authors:
            credit_alone[c.person_id] = credit[c.id]
    analysed = {p for p, why in hist.files.items() if why is None}
    excluded = Counter(why for why in hist.files.values() if why is not None)
    changes = [
        Change(ch.kind, ch.path, ch.old_path, credit.get(ch.commit_id, ())) for ch in hist.changes
    ]
    amap = authorship_map(analysed, changes)
    # A file only bots (or nobody we know) ever touched holds no one's knowledge: drop it.
    bot_only = [p for p, devs in amap.files.items() if not devs]
    for p in bot_only:
        del amap.files[p]
    if bot_only:
        excluded["bots only"] = len(bot_only)
    return RepoFacts(
        hist.name, hist.head, amap, sorted(amap.files), excluded, developers, hist, credit
    )


def _co_author(identities: dict[tuple[str, str], int], text: str) -> int | None:
    name, _, rest = text.partition("<")
    email = rest.rstrip(">").strip()
    if email:
        pid = identities.get(("email", normalise_email(email)))
        if pid is not None:
            return pid
    return identities.get(("name", normalise_name(name))) if name.strip() else None
