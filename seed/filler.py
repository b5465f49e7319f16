"""Everyday commits between the story beats: features, fixes, tests, docs and chores."""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from seed.codegen import (
    DEF_LINE,
    KNOB_LINE,
    KNOBS,
    VOCAB,
    Snippet,
    function_block,
    make_snippet,
    module_header,
    tests_header,
)
from seed.deps import VERSIONS, dependabot_message, next_version, pins
from seed.messages import FEATURE_WHY, FIX_REASONS, FIX_WHY, LOG_WHY, commit_message
from seed.model import CommitPlan, Op, Tree, append, write
from seed.people import person

_IMPORTED = re.compile(r"import (\w+)$", re.M)
_TEST_DEF = re.compile(r"^def (test_\w+)\(", re.M)

# Wiring modules change only in story commits; everyday work goes into domain modules.
_NOT_FOR_FILLER = frozenset({"__init__.py", "config.py", "events.py", "main.py", "app.py"})

TICKET_PREFIX = {
    "payment-service": "PAY",
    "order-service": "ORD",
    "inventory-service": "INV",
    "user-service": "USR",
    "notification-service": "NOTIF",
    "analytics-service": "ANA",
    "platform": "PLAT",
}

# Misspellings planted in early docs; "fix typo" commits correct them one by one.
TYPOS: tuple[tuple[str, str], ...] = (
    ("recieve", "receive"),
    ("seperate", "separate"),
    ("occured", "occurred"),
    ("dependancy", "dependency"),
    ("enviroment", "environment"),
    ("wich", "which"),
    ("idempotant", "idempotent"),
    ("retreive", "retrieve"),
    ("accross", "across"),
    ("untill", "until"),
)

# Local-dev images, oldest first: platform chores walk them forward.
IMAGE_TAGS: dict[str, tuple[str, ...]] = {
    "postgres": ("15.5", "15.6", "16.1", "16.2", "16.3", "16.4", "16.6", "17.2", "17.4"),
    "bitnami/kafka": ("3.6.0", "3.6.1", "3.7.0", "3.7.1", "3.8.0", "3.9.0"),
    "redis": ("7.2.3", "7.2.4", "7.2.5", "7.4.0", "7.4.1", "7.4.2"),
    "mailhog/mailhog": ("v1.0.0", "v1.0.1"),
}

_KIND_WEIGHTS = (
    ("feature", 34),
    ("fix", 22),
    ("log", 8),
    ("test", 10),
    ("docs", 12),
    ("chore", 5),
    ("refactor", 3),
    ("tweak", 6),
)


@dataclass
class FillerEngine:
    """Turns a scheduled filler slot into a concrete, repo-consistent commit."""

    repo: str
    rng: random.Random
    notes: list[tuple[str, str]] = field(default_factory=list)
    protected: dict[str, tuple[str, ...]] = field(default_factory=dict)
    reserved_tickets: set[str] = field(default_factory=set)
    anchors: list[tuple[int, int]] = field(default_factory=list)
    _used: set[int] = field(default_factory=set)
    _now: int = 0

    def ticket(self, when: int) -> str:
        """A free ticket id, numbered like the tracker was at that time (see `anchors`)."""
        prefix = TICKET_PREFIX[self.repo]
        number = _interpolate(self.anchors, when) + self.rng.randint(0, 2)
        while number in self._used or f"{prefix}-{number}" in self.reserved_tickets:
            number += 1
        self._used.add(number)
        return f"{prefix}-{number}"

    def fill(self, plan: CommitPlan, tree: Tree, creators: dict[str, str]) -> bool:
        """Choose what the commit does and set its message and ops; False if nothing fits."""
        if plan.kind == "dependabot":
            return self._dependabot(plan, tree)
        self._now = plan.when
        rng = self.rng
        kinds = [k for k, _ in _KIND_WEIGHTS]
        weights = [w for _, w in _KIND_WEIGHTS]
        if self.repo == "platform":
            kinds, weights = ["docs", "platform"], [40, 60]
        for kind in [*rng.choices(kinds, weights, k=6), "feature"]:
            made = getattr(self, f"_{kind}")(plan, tree, creators)
            if made is not None:
                summary, ops, body, style = made
                plan.ops = ops
                plan.message = commit_message(
                    plan.author,
                    style,
                    self.ticket(plan.when),
                    summary,
                    body,
                    VOCAB.get(self.repo),
                    rng,
                )
                return True
        return False

    def _dependabot(self, plan: CommitPlan, tree: Tree) -> bool:
        for path in self.rng.sample(["requirements.txt", "requirements-dev.txt"], k=2):
            text = tree.get(path)
            if not isinstance(text, str):
                continue
            movable = [(n, v) for n, v in sorted(pins(text).items()) if next_version(n, v)]
            if not movable:
                continue
            name, old = self.rng.choice(movable)
            new = next_version(name, old)
            assert new is not None
            plan.ops = [write(path, text.replace(f"{name}=={old}\n", f"{name}=={new}\n"))]
            plan.message = dependabot_message(name, old, new)
            return True
        return False

    # -- choosing files -------------------------------------------------------------------

    def _modules(self, tree: Tree, author: str, creators: dict[str, str]) -> list[str]:
        pkg = VOCAB[self.repo].pkg
        found = []
        for path in sorted(tree):
            if not (path.startswith(f"src/{pkg}/") and path.endswith(".py")):
                continue
            if path.rsplit("/", 1)[1] in _NOT_FOR_FILLER:
                continue
            owners = next((v for k, v in self.protected.items() if path.startswith(k)), None)
            if owners is not None and author not in owners:
                continue
            found.append(path)
        # People mostly work in code they wrote or inherited from someone who has left.
        today = datetime.fromtimestamp(self._now, UTC).date()
        mine = [
            p
            for p in found
            if creators.get(p) == author or _departed_before(creators.get(p), today)
        ]
        if mine and self.rng.random() < 0.6:
            return mine
        return found

    @staticmethod
    def _test_path(module_path: str) -> str:
        return "tests/test_" + module_path.rsplit("/", 1)[1]

    def _dotted(self, module_path: str) -> str:
        pkg = VOCAB[self.repo].pkg
        return module_path[len(f"src/{pkg}/") : -3].replace("/", ".")

    # -- kinds of change ----------------------------------------------------------------

    def _feature(self, plan, tree, creators):
        v = VOCAB.get(self.repo)
        modules = self._modules(tree, plan.author, creators) if v else []
        if not modules:
            return None
        rng = self.rng
        ops: list[Op] = []
        if rng.random() < 0.03:
            noun = rng.choice(v.nouns)
            path = f"src/{v.pkg}/{noun}_{rng.choice(('rules', 'helpers', 'policy', 'queries'))}.py"
            if path in tree:
                return None
            text = module_header(
                v.pkg,
                "",
                f"{noun.replace('_', ' ').capitalize()} "
                f"{path.rsplit('_', 1)[1][:-3]} shared by the handlers.",
            )
        else:
            path = rng.choice(modules)
            text = tree[path]
        assert isinstance(text, str)
        # Names must stay unique in the module, its tests and the shared pagination module.
        tests, shared = (
            tree.get(self._test_path(path), ""),
            tree.get(f"src/{v.pkg}/pagination.py", ""),
        )
        assert isinstance(tests, str) and isinstance(shared, str)
        taken = set(DEF_LINE.findall(text + shared)) | set(_IMPORTED.findall(tests))
        snippet = make_snippet(v, self._dotted(path), taken, rng)
        text = _with_time_import(text) if snippet.needs_time else text
        ops.append(write(path, text + "\n\n" + snippet.code))
        test_op = self._test_op(tree, path, snippet)
        if test_op is not None and rng.random() < 0.7:
            ops.append(test_op)
        if self.notes and rng.random() < 0.12:
            ops.append(self._note_op(tree))
        why = rng.choice(FEATURE_WHY).format(
            Summary=snippet.summary[0].upper() + snippet.summary[1:],
            nouns=_plural_words(snippet.noun),
            field=snippet.field,
        )
        return snippet.summary, ops, why, "feat"

    def _test_op(self, tree: Tree, module_path: str, snippet: Snippet) -> Op | None:
        v = VOCAB[self.repo]
        test_path = self._test_path(module_path)
        existing = tree.get(test_path, "")
        assert isinstance(existing, str)
        if set(_TEST_DEF.findall(snippet.test)) & set(_TEST_DEF.findall(existing)):
            return None
        if test_path not in tree:
            return write(test_path, tests_header(v.pkg, self._dotted(module_path)) + snippet.test)
        return append(test_path, snippet.test)

    def _knobbed(self, plan, tree, creators):
        candidates = []
        for path in self._modules(tree, plan.author, creators):
            text = tree[path]
            assert isinstance(text, str)
            for m in KNOB_LINE.finditer(text):
                candidates.append((path, m))
        return candidates

    def _fix(self, plan, tree, creators):
        candidates = self._knobbed(plan, tree, creators)
        if not candidates:
            return None
        rng = self.rng
        path, m = rng.choice(candidates)
        knob, old = m.group(1), m.group(2)
        new = rng.choice([k for k in KNOBS[knob] if k != old])
        text = tree[path]
        assert isinstance(text, str)
        owner = _owner(text, m.start())
        text = text[: m.start()] + f"    {knob} = {new}" + text[m.end() :]
        adj = "low" if int(new) > int(old) else "high"
        what = knob.replace("_", " ")
        verb = "raise" if int(new) > int(old) else "lower"
        summary = f"{verb} {what} in {owner} to {new}"
        body = rng.choice(FIX_WHY).format(
            knob=f"`{knob}`", old=old, new=new, adj=adj, reason=rng.choice(FIX_REASONS)
        )
        ops = [write(path, text)]
        # Some fixes come with a regression test, numbered so names never collide.
        tests = tree.get(self._test_path(path), "")
        assert isinstance(tests, str)
        case = f"regression_{tests.count(f'def test_{owner}_') + 1}"
        snippet = _snippet_for(VOCAB[self.repo], self._dotted(path), owner, text, case)
        test_op = self._test_op(tree, path, snippet) if snippet is not None else None
        if test_op is not None and rng.random() < 0.4:
            ops.append(test_op)
        return summary, ops, body[0].upper() + body[1:], "fix"

    def _tweak(self, plan, tree, creators):
        # Behaviour-neutral clean-up: a guard or a clearer error on an existing function.
        made = self._fix(plan, tree, creators)
        if made is None:
            return None
        summary, ops, _, _ = made
        return summary, ops, None, "fix"

    def _log(self, plan, tree, creators):
        rng = self.rng
        modules = self._modules(tree, plan.author, creators)
        for path in rng.sample(modules, k=min(3, len(modules))):
            text = tree[path]
            assert isinstance(text, str)
            if "log = logging.getLogger" not in text:
                continue
            names = [n for n in DEF_LINE.findall(text) if f'log.debug("{n}' not in text]
            if not names:
                continue
            name = rng.choice(names)
            m = re.search(rf'^def {name}\((\w+).*\n(    """.*"""\n)?', text, re.M)
            if m is None or m.group(2) is None:
                continue
            line = f'    log.debug("{name} %r", {m.group(1)})\n'
            text = text[: m.end()] + line + text[m.end() :]
            return f"add debug logging to {name}", [write(path, text)], LOG_WHY, "chore"
        return None

    def _test(self, plan, tree, creators):
        v = VOCAB.get(self.repo)
        if v is None:
            return None
        for path in self._modules(tree, plan.author, creators):
            text = tree[path]
            tests = tree.get(self._test_path(path), "")
            assert isinstance(text, str) and isinstance(tests, str)
            for name in DEF_LINE.findall(text):
                if f"import {name}\n" in tests:
                    continue
                snippet = _snippet_for(v, self._dotted(path), name, text)
                test_op = self._test_op(tree, path, snippet) if snippet is not None else None
                if test_op is not None:
                    return f"add tests for {name}", [test_op], None, "test"
        return None

    def _note_op(self, tree: Tree) -> Op:
        path, section = self.notes.pop(0)
        return append(path, section) if path in tree else write(path, section.lstrip())

    def _docs(self, plan, tree, creators):
        for path in sorted(tree):
            text = tree[path]
            if not (path.endswith(".md") and isinstance(text, str)):
                continue
            if "/adr/" in path or "/decisions/" in path or "postmortems" in path:
                continue
            for wrong, right in TYPOS:
                if wrong in text:
                    return (
                        f"fix typo in {path}",
                        [write(path, text.replace(wrong, right, 1))],
                        None,
                        "docs",
                    )
        if self.notes:
            path, section = self.notes[0]
            title = section.strip().splitlines()[0].lstrip("# ")
            return f"document {title[0].lower() + title[1:]}", [self._note_op(tree)], None, "docs"
        return None

    def _chore(self, plan, tree, creators):
        text = tree.get("requirements.txt")
        if not isinstance(text, str):
            return None
        movable = [(n, v) for n, v in sorted(pins(text).items()) if next_version(n, v)]
        if not movable:
            return None
        picked = self.rng.sample(movable, k=min(len(movable), self.rng.randint(1, 3)))
        names = []
        for name, version in sorted(picked):
            new = next_version(name, version)
            assert new is not None and name in VERSIONS
            text = text.replace(f"{name}=={version}\n", f"{name}=={new}\n")
            names.append(name)
        return "bump " + ", ".join(names), [write("requirements.txt", text)], None, "chore"

    def _refactor(self, plan, tree, creators):
        v = VOCAB.get(self.repo)
        if v is None:
            return None
        for path in self._modules(tree, plan.author, creators):
            text = tree[path]
            assert isinstance(text, str)
            shared = tree.get(f"src/{v.pkg}/pagination.py", "")
            assert isinstance(shared, str)
            names = [
                n
                for n in DEF_LINE.findall(text)
                if n.startswith(("chunk_", "page_")) and f"def {n}(" not in shared
            ]
            if len(names) < 2:
                continue
            target = f"src/{v.pkg}/pagination.py"
            span = [function_block(text, n) for n in names]
            moved = "".join(text[a:b].rstrip("\n") + "\n\n\n" for a, b in span if a is not None)
            for name in names:
                a, b = function_block(text, name) or (0, 0)
                text = text[:a].rstrip("\n") + "\n" + ("\n\n" + text[b:] if text[b:] else "")
            header = tree.get(target) or module_header(v.pkg, "", "Batching and paging helpers.")
            assert isinstance(header, str)
            ops = [write(path, text), write(target, header + "\n\n" + moved.rstrip("\n") + "\n")]
            tests = tree.get(self._test_path(path))
            if isinstance(tests, str):
                old = f"from {v.pkg}.{self._dotted(path)} import "
                fixed = tests
                for name in names:
                    fixed = fixed.replace(
                        old + name + "\n", f"from {v.pkg}.pagination import " + name + "\n"
                    )
                ops.append(write(self._test_path(path), fixed))
            return (
                f"move batching helpers out of {path.rsplit('/', 1)[1]}",
                ops,
                "They are used by more than one handler now.",
                "refactor",
            )
        return None

    def _platform(self, plan, tree, creators):
        text = tree.get("docker-compose.yml")
        if not isinstance(text, str):
            return None
        for image, tags in IMAGE_TAGS.items():
            m = re.search(rf"image: {re.escape(image)}:([\w.\-]+)\n", text)
            if m is None or m.group(1) not in tags or m.group(1) == tags[-1]:
                continue
            new = tags[tags.index(m.group(1)) + 1]
            text = text.replace(m.group(0), f"image: {image}:{new}\n")
            summary = f"bump {image.rsplit('/', 1)[-1]} image to {new} for local dev"
            return summary, [write("docker-compose.yml", text)], None, "chore"
        return None


def _departed_before(key: str | None, today: date) -> bool:
    left = person(key).left if key else None
    return left is not None and left < today


def _interpolate(anchors: list[tuple[int, int]], when: int) -> int:
    # Ticket numbers grow with time; anchors are (epoch, number) of tickets the story uses.
    if len(anchors) < 2:
        return 20
    for (t0, n0), (t1, n1) in itertools.pairwise(anchors):
        if t0 <= when <= t1:
            return n0 + (n1 - n0) * (when - t0) // max(1, t1 - t0)
    (t0, n0), (t1, n1) = anchors[0], anchors[-1]
    slope = (n1 - n0) / max(1, t1 - t0)
    return n1 + int(slope * (when - t1)) if when > t1 else n0


def _with_time_import(text: str) -> str:
    if "\nimport time\n" in text or "import logging\n" not in text:
        return text
    return text.replace("import logging\n", "import logging\nimport time\n", 1)


def _owner(text: str, offset: int) -> str:
    names = [(m.start(), m.group(1)) for m in DEF_LINE.finditer(text) if m.start() < offset]
    return names[-1][1] if names else "module"


def _snippet_for(v, module: str, name: str, text: str, case: str = "edge_cases") -> Snippet | None:
    # Only generated helpers have a known shape to test; hand-written code gets tests by hand.
    span = function_block(text, name)
    if span is None or not KNOB_LINE.search(text[span[0] : span[1]]):
        return None
    if name.startswith("validate_"):
        body = f"    with pytest.raises(ValueError):\n        {name}({{}})\n"
    elif name.startswith(("chunk_", "count_")):
        body = f"    assert not {name}([])\n"
    elif name.startswith("page_"):
        body = f"    assert {name}([], 0) == ([], None)\n"
    elif name.startswith("normalise_"):
        body = f'    assert {name}("  A   b ") == "a b"\n'
    elif name.startswith("is_"):
        body = f'    assert {name}({{"updated_at": 0.0}}, now=10_000_000.0)\n'
    elif name.startswith("record_"):
        body = (
            "    seen = []\n\n    class Metrics:\n        def observe(self, name, value):\n"
            f"            seen.append(name)\n\n    {name}(Metrics(), {{}})\n"
            "    assert seen\n"
        )
    else:
        action = name.split("_", 1)[0]
        body = (
            f"    class Client:\n        def {action}(self, ident):\n"
            f'            return {{"id": ident}}\n\n'
            f'    assert {name}(Client(), "a1")["id"] == "a1"\n'
        )
    test = f"\n\ndef test_{name}_{case}():\n    from {v.pkg}.{module} import {name}\n\n{body}"
    return Snippet(name, "", "", test)


def _plural_words(noun: str) -> str:
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")
