"""Retrieval benchmark: Recall@1, Recall@5 and MRR of kb against three baselines.

    .venv/bin/python -m bench.retrieval                      # demo organisation, seed 42
    .venv/bin/python -m bench.retrieval --org DIR --home H   # reuse a generated org / kb home
    .venv/bin/python -m bench.retrieval --repo PATH --questions bench/eval/manage.get.gov.json

The demo run generates the demo organisation, builds a kb home with the kb CLI (ingest every
repo and the Slack export, teach the notes with `kb remember`) and asks every system the
questions of bench/eval/demo.json. Gold sources are stable identifiers (paths, commit subject
prefixes, Slack channels and threads, note text), resolved against the sources before the run;
an identifier that resolves to nothing or to several things stops the run.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.baselines import (
    Baselines,
    Source,
    TaughtNote,
    build_corpus,
    load_notes,
    read_slack_export,
)

ROOT = Path(__file__).resolve().parents[1]
EVAL_DIR = ROOT / "bench" / "eval"
DEMO_QUESTIONS = EVAL_DIR / "demo.json"
DEMO_SEED = 42
SLACK_WORKSPACE = "shopfast"

CATEGORIES = (
    "why/decision",
    "danger/never-touch",
    "incident/on-call",
    "who-knows",
    "how-to/docs",
    "history/commit",
    "unwritten-rule",
    "taught",
    # Added for the repository suite (bench/eval/suite.json):
    "code-comment",  # a comment in the code explains the constraint
    "who-decided",  # who wrote or decided X: the commit or decision record that shows it
    "when",  # when something happened or changed
    "multi-source",  # two gold sources, either counts
    "superseded-decision",  # the gold is the newer decision, not the one it replaced
    "unanswerable",
)
PATH_KINDS = ("adr", "doc", "code", "postmortem", "contract")
GOLD_KINDS = (*PATH_KINDS, "commit", "slack", "note")
_GOLD_KEYS = {
    **{k: ({"repo", "path"}, set()) for k in PATH_KINDS},
    "commit": ({"repo", "subject_prefix"}, set()),
    "slack": ({"channel"}, {"thread_ts", "date"}),
    "note": ({"contains"}, set()),
}
KB_SYSTEM = "kb"
BASELINE_ORDER = ("BM25 only", "vector only", "naive hybrid")


class EvalError(Exception):
    """The eval set or its gold sources are wrong; the message says which and where."""


# --- the eval set ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    """One benchmark question and its acceptable sources (any one counts as a hit)."""

    id: str
    question: str
    category: str
    gold: tuple[dict[str, Any], ...]
    key_facts: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        """Questions with no gold test "I don't know" later; recall ignores them."""
        return bool(self.gold)


def validate_eval_set(data: Any) -> list[str]:
    """Schema problems of a parsed eval file, as 'id: problem' strings (empty when valid)."""
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        return ["top level: expected an object with a 'questions' list"]
    errors: list[str] = []
    seen: set[str] = set()
    for n, q in enumerate(data["questions"]):
        where = q.get("id") if isinstance(q, dict) else None
        where = where or f"question #{n}"
        if not isinstance(q, dict):
            errors.append(f"{where}: not an object")
            continue
        for key in ("id", "question", "category"):
            if not isinstance(q.get(key), str) or not q[key].strip():
                errors.append(f"{where}: '{key}' must be a non-empty string")
        if q.get("id") in seen:
            errors.append(f"{where}: duplicate id")
        seen.add(q.get("id"))
        if q.get("category") not in CATEGORIES:
            errors.append(f"{where}: unknown category {q.get('category')!r}")
        gold = q.get("gold")
        if not isinstance(gold, list):
            errors.append(f"{where}: 'gold' must be a list")
            continue
        if (q.get("category") == "unanswerable") != (gold == []):
            errors.append(f"{where}: gold must be [] exactly when the category is unanswerable")
        for item in gold:
            errors += [f"{where}: {e}" for e in _gold_errors(item)]
        facts = q.get("key_facts", [])
        if not isinstance(facts, list) or not all(isinstance(f, str) and f.strip() for f in facts):
            errors.append(f"{where}: 'key_facts' must be a list of non-empty strings")
    return errors


def _gold_errors(item: Any) -> list[str]:
    if not isinstance(item, dict) or item.get("kind") not in GOLD_KINDS:
        return [f"gold {item!r}: 'kind' must be one of {', '.join(GOLD_KINDS)}"]
    required, optional = _GOLD_KEYS[item["kind"]]
    keys = set(item) - {"kind"}
    errors = [f"gold {item!r}: missing '{k}'" for k in sorted(required - keys)]
    errors += [f"gold {item!r}: unknown key '{k}'" for k in sorted(keys - required - optional)]
    errors += [
        f"gold {item!r}: '{k}' must be a non-empty string"
        for k in sorted(keys & (required | optional))
        if not isinstance(item[k], str) or not item[k].strip()
    ]
    if {"thread_ts", "date"} <= keys:
        errors.append(f"gold {item!r}: give thread_ts or date, not both")
    return errors


def load_questions(path: Path) -> tuple[dict[str, Any], list[Question]]:
    """The eval file's metadata and questions; raises EvalError if its schema is wrong."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise EvalError(f"cannot read eval file {path}: {exc}") from exc
    errors = validate_eval_set(data)
    if errors:
        raise EvalError(f"{path}: " + "; ".join(errors[:10]))
    questions = [
        Question(
            q["id"], q["question"], q["category"], tuple(q["gold"]), tuple(q.get("key_facts", []))
        )
        for q in data["questions"]
    ]
    return data, questions


# --- gold sources ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gold:
    """A gold source resolved to what a retrieved source can be compared with."""

    kind: str  # "path", "commit", "slack" or "note"
    repo: str | None = None
    path: str | None = None
    commit: str | None = None
    channel: str | None = None
    thread_ts: str | None = None
    date: str | None = None
    note: str | None = None

    def label(self) -> str:
        """A short human-readable name for reports."""
        if self.kind == "path":
            return f"{self.repo}:{self.path}"
        if self.kind == "commit":
            return f"commit {self.repo}@{(self.commit or '')[:10]}"
        if self.kind == "slack":
            where = f" thread {self.thread_ts}" if self.thread_ts else f" {self.date or ''}"
            return f"slack #{self.channel}{where.rstrip()}"
        return f"note {self.note}"


class GoldResolver:
    """Turns stable gold identifiers into Gold, checking each against the sources."""

    def __init__(
        self,
        repos: dict[str, Path],
        slack_export: Path | None = None,
        notes: Sequence[TaughtNote] = (),
    ) -> None:
        self.repos = repos
        self.notes = list(notes)
        self._subjects: dict[str, list[tuple[str, str]]] = {}
        self._files: dict[str, set[str]] = {}
        self._slack: dict[str, dict[str, set[str]]] | None = None
        self.slack_export = slack_export

    def resolve(self, item: dict[str, Any]) -> Gold:
        """One gold item as Gold; raises EvalError when it matches nothing or several things."""
        kind = item["kind"]
        if kind in PATH_KINDS:
            return self._path(item["repo"], item["path"])
        if kind == "commit":
            return self._commit(item["repo"], item["subject_prefix"])
        if kind == "slack":
            return self._slack_gold(item["channel"], item.get("thread_ts"), item.get("date"))
        return self._note(item["contains"])

    def resolve_all(self, questions: Iterable[Question]) -> dict[str, list[Gold]]:
        """Gold of every question by id; collects every problem before raising."""
        out: dict[str, list[Gold]] = {}
        errors: list[str] = []
        for q in questions:
            out[q.id] = []
            for item in q.gold:
                try:
                    out[q.id].append(self.resolve(item))
                except EvalError as exc:
                    errors.append(f"{q.id}: {exc}")
        if errors:
            raise EvalError("gold sources do not resolve:\n  " + "\n  ".join(errors))
        return out

    def _repo(self, repo: str) -> Path:
        if repo not in self.repos:
            raise EvalError(f"unknown repo {repo!r} (known: {', '.join(sorted(self.repos))})")
        return self.repos[repo]

    def _path(self, repo: str, path: str) -> Gold:
        if repo not in self._files:
            out = subprocess.run(
                ["git", "-C", str(self._repo(repo)), "ls-tree", "-r", "-z", "--name-only", "HEAD"],
                check=True,
                capture_output=True,
            ).stdout
            self._files[repo] = {p.decode() for p in out.split(b"\0") if p}
        files = self._files[repo]
        found = any(f.startswith(path) for f in files) if path.endswith("/") else path in files
        if not found:
            raise EvalError(f"{repo}:{path} does not exist at HEAD")
        return Gold("path", repo=repo, path=path)

    def _commit(self, repo: str, prefix: str) -> Gold:
        if repo not in self._subjects:
            out = subprocess.run(
                ["git", "-C", str(self._repo(repo)), "log", "--format=%H%x1f%s", "HEAD"],
                check=True,
                capture_output=True,
            ).stdout.decode("utf-8", "replace")
            self._subjects[repo] = [
                tuple(line.split("\x1f", 1))  # type: ignore[misc]
                for line in out.splitlines()
                if "\x1f" in line
            ]
        hits = [sha for sha, subject in self._subjects[repo] if subject.startswith(prefix)]
        if len(hits) != 1:
            what = "no commit" if not hits else f"{len(hits)} commits ({', '.join(hits[:3])})"
            raise EvalError(f"subject prefix {prefix!r} matches {what} in {repo}")
        return Gold("commit", repo=repo, commit=hits[0])

    def _slack_index(self) -> dict[str, dict[str, set[str]]]:
        """Channel → {"days": {...}, "ts": {message and thread ts}}."""
        if self._slack is None:
            if self.slack_export is None:
                raise EvalError("a Slack gold source needs a Slack export")
            files = read_slack_export(self.slack_export)
            index: dict[str, dict[str, set[str]]] = {
                c["name"]: {"days": set(), "ts": set()} for c in files.get("channels.json", [])
            }
            for name, messages in files.items():
                channel, _, day = name.partition("/")
                if channel not in index or not day:
                    continue
                index[channel]["days"].add(day.removesuffix(".json"))
                for msg in messages:
                    index[channel]["ts"].add(msg.get("ts", ""))
                    index[channel]["ts"].add(msg.get("thread_ts", ""))
            self._slack = index
        return self._slack

    def _slack_gold(self, channel: str, thread_ts: str | None, date: str | None) -> Gold:
        index = self._slack_index()
        if channel not in index:
            raise EvalError(f"Slack channel #{channel} is not in the export")
        if thread_ts and thread_ts not in index[channel]["ts"]:
            raise EvalError(f"#{channel} has no message or thread {thread_ts}")
        if date and date not in index[channel]["days"]:
            raise EvalError(f"#{channel} has no messages on {date}")
        return Gold("slack", channel=channel, thread_ts=thread_ts, date=date)

    def _note(self, contains: str) -> Gold:
        needle = _normalise(contains)
        found = [n.id for n in self.notes if needle in _normalise(n.text)]
        if len(found) != 1:
            raise EvalError(f"note text {contains!r} is in {len(found)} taught notes, not 1")
        return Gold("note", note=found[0])


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


# --- scoring -----------------------------------------------------------------------------------


def matches(gold: Gold, source: Source) -> bool:
    """True when a retrieved source is (or contains) the gold source."""
    if gold.kind == "path":
        if source.kind != "file" or source.repo != gold.repo or source.path is None:
            return False
        assert gold.path is not None
        if gold.path.endswith("/"):
            return source.path.startswith(gold.path)
        return source.path == gold.path
    if gold.kind == "commit":
        same_repo = source.repo is None or source.repo == gold.repo
        return source.kind == "commit" and source.commit == gold.commit and same_repo
    if gold.kind == "slack":
        if source.kind != "slack" or source.channel != gold.channel:
            return False
        if gold.thread_ts:
            return source.thread_ts == gold.thread_ts or gold.thread_ts in source.threads
        if gold.date:
            return source.day == gold.date
        return True
    return source.kind == "note" and source.note == gold.note


def first_relevant_rank(ranking: Sequence[Source], gold: Sequence[Gold]) -> int | None:
    """1-based rank of the first source that matches any gold source, or None."""
    for rank, source in enumerate(ranking, start=1):
        if any(matches(g, source) for g in gold):
            return rank
    return None


def recall_at(ranks: Sequence[int | None], k: int) -> float:
    """Share of questions whose first relevant source is within the top k."""
    if not ranks:
        return 0.0
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def mean_reciprocal_rank(ranks: Sequence[int | None]) -> float:
    """Mean of 1/rank of the first relevant source (0 when none was retrieved)."""
    if not ranks:
        return 0.0
    return sum(1.0 / r for r in ranks if r is not None) / len(ranks)


# --- kb ----------------------------------------------------------------------------------------

_THREAD_TS = re.compile(r"(\d{9,11}\.\d{6})")
_DAY_KEY = re.compile(r"day:(\d{4}-\d{2}-\d{2})")


def note_of_text(text: str, notes: Sequence[TaughtNote]) -> str | None:
    """Id of the taught note a retrieved text shows (containment either way), or None."""
    got = _normalise(text)
    if not got:
        return None
    for note in notes:
        want = _normalise(note.text)
        if want[:80] in got or (len(got) >= 40 and got[:80] in want):
            return note.id
    return None


def source_of_hit(hit: Any, notes: Sequence[TaughtNote] = ()) -> Source:
    """The Source a kb.answer.types.Hit points at, comparable with the baselines' sources."""
    meta = getattr(hit, "meta", None) or {}
    external_id = str(getattr(hit, "external_id", "") or "")
    kind = hit.kind
    if kind == "commit" and hit.commit:
        return Source("commit", repo=hit.repo, commit=hit.commit)
    if kind == "slack":
        thread_ts = meta.get("thread_ts")
        day = meta.get("date")
        if not thread_ts and not day:
            day_key = _DAY_KEY.search(external_id)
            ts_key = _THREAD_TS.search(external_id)
            day = day_key[1] if day_key else None
            thread_ts = None if day_key or not ts_key else ts_key[1]
        return Source("slack", channel=meta.get("channel"), thread_ts=thread_ts, day=day)
    if kind == "note":
        texts = (getattr(hit, "text", ""), hit.snippet, hit.title)
        note = next((n for t in texts if t and (n := note_of_text(t, notes))), None)
        return Source("note", note=note or f"unknown:{external_id}")
    if hit.path:
        return Source("file", repo=hit.repo, path=hit.path)
    return Source("other", other=external_id or hit.title)


def kb_retriever_available() -> bool:
    """True once kb.app.KB has a `retriever` (the lead is implementing it)."""
    from kb.app import KB

    return hasattr(KB, "retriever")


def kb_cli() -> list[str]:
    """The kb command of this virtual environment."""
    exe = Path(sys.executable).parent / "kb"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "kb.cli"]


def _run_kb(home: Path, *args: str, ok: tuple[int, ...] = (0,)) -> None:
    cmd = [*kb_cli(), "--home", str(home), *args]
    shown = " ".join(a if len(a) < 60 else a[:57] + "..." for a in args)
    _log(f"  kb {shown}")
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode not in ok:
        raise EvalError(
            f"`kb --home {home} {shown}` exited {done.returncode}:\n"
            f"{(done.stderr or done.stdout).strip()[-2000:]}"
        )


BUILT_MARKER = ".bench-built"


def build_kb_home(
    home: Path,
    repos: dict[str, Path],
    slack_zip: Path | None,
    notes: Sequence[TaughtNote],
) -> None:
    """Ingest every repo, the Slack export and the taught notes with the kb CLI (once)."""
    if (home / BUILT_MARKER).exists():
        _log(f"reusing kb home {home}")
        return
    home.mkdir(parents=True, exist_ok=True)
    _log(f"building kb home {home}")
    _run_kb(home, "init")
    for name, path in sorted(repos.items()):
        # exit 3: some items skipped (vendored, binary, ...), the rest is in.
        _run_kb(home, "ingest", "git", str(path), "--name", name, ok=(0, 3))
    if slack_zip is not None:
        _run_kb(
            home, "ingest", "slack-export", str(slack_zip), "--name", SLACK_WORKSPACE, ok=(0, 3)
        )
    for note in notes:
        args = ["remember", note.text, "--kind", note.kind, "--by", note.by]
        if note.service:
            args += ["--service", note.service]
        _run_kb(home, *args)
    (home / BUILT_MARKER).write_text(datetime.now(UTC).isoformat() + "\n")


def kb_system(
    home: Path, notes: Sequence[TaughtNote], app: Any | None = None
) -> Callable[[str, int], list[Source]]:
    """kb's retriever over a built home (or an open `KB`), as a ranking of Sources (each once)."""
    if app is None:
        from kb.app import KB
        from kb.settings import Settings

        app = KB(Settings(home=home))
    retriever = app.retriever

    def search(question: str, k: int = 10) -> list[Source]:
        seen: set[Source] = set()
        out: list[Source] = []
        for hit in retriever.search(question, k=k):
            source = source_of_hit(hit, notes)
            if source not in seen:
                seen.add(source)
                out.append(source)
        return out[:k]

    return search


# --- the run -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one system did on one question."""

    rank: int | None
    top: list[Source]
    seconds: float


@dataclass
class Report:
    """All results of a run, printable as markdown or JSON."""

    title: str
    questions: list[Question]
    gold: dict[str, list[Gold]]
    corpus: dict[str, int]
    systems: list[str]
    unavailable: dict[str, str] = field(default_factory=dict)
    outcomes: dict[str, dict[str, Outcome]] = field(default_factory=dict)

    def answerable(self, category: str | None = None) -> list[Question]:
        """Questions that have gold (optionally of one category)."""
        return [
            q
            for q in self.questions
            if q.answerable and (category is None or q.category == category)
        ]

    def scores(self, system: str, category: str | None = None) -> dict[str, float]:
        """Recall@1, Recall@5, MRR, n and mean latency of a system."""
        qs = self.answerable(category)
        runs = [self.outcomes[system][q.id] for q in qs]
        ranks = [o.rank for o in runs]
        return {
            "recall@1": recall_at(ranks, 1),
            "recall@5": recall_at(ranks, 5),
            "mrr": mean_reciprocal_rank(ranks),
            "n": len(qs),
            "ms_per_query": 1000 * sum(o.seconds for o in runs) / max(len(runs), 1),
        }

    def misses(self, system: str) -> list[dict[str, Any]]:
        """Questions whose top-1 source is not gold."""
        out = []
        for q in self.answerable():
            o = self.outcomes[system][q.id]
            if o.rank == 1:
                continue
            out.append(
                {
                    "id": q.id,
                    "category": q.category,
                    "rank": o.rank,
                    "top1": o.top[0].label() if o.top else None,
                    "gold": [g.label() for g in self.gold[q.id]],
                }
            )
        return out

    def to_json(self) -> dict[str, Any]:
        """The whole report as one JSON object."""
        ran = [s for s in self.systems if s in self.outcomes]
        categories = sorted({q.category for q in self.answerable()}, key=CATEGORIES.index)
        return {
            "title": self.title,
            "corpus": self.corpus,
            "questions": len(self.questions),
            "answerable": len(self.answerable()),
            "systems": {s: self.scores(s) for s in ran},
            "unavailable": self.unavailable,
            "by_category": {c: {s: self.scores(s, c) for s in ran} for c in categories},
            "misses": {s: self.misses(s) for s in ran},
            "per_question": [
                {
                    "id": q.id,
                    "category": q.category,
                    "ranks": {s: self.outcomes[s][q.id].rank for s in ran},
                    "top": {s: [x.label() for x in self.outcomes[s][q.id].top[:5]] for s in ran},
                }
                for q in self.questions
            ],
        }

    def markdown(self, misses_of: str | None = None) -> str:
        """The tables: systems × metrics, Recall@1 by category, and the rank-1 misses."""
        ran = [s for s in self.systems if s in self.outcomes]
        lines = [f"## {self.title}", ""]
        corpus = ", ".join(f"{v:,} {k}" for k, v in self.corpus.items())
        lines += [
            f"{len(self.answerable())} answerable questions "
            f"({len(self.questions) - len(self.answerable())} unanswerable ones excluded); "
            f"baseline corpus: {corpus}.",
            "",
            "| system | Recall@1 | Recall@5 | MRR | n | ms/query |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for system in self.systems:
            if system not in self.outcomes:
                lines.append(f"| {system} | {self.unavailable.get(system, 'not run')} | | | | |")
                continue
            s = self.scores(system)
            lines.append(
                f"| {system} | {s['recall@1']:.2f} | {s['recall@5']:.2f} | {s['mrr']:.2f} "
                f"| {s['n']} | {s['ms_per_query']:.0f} |"
            )
        categories = sorted({q.category for q in self.answerable()}, key=CATEGORIES.index)
        lines += [
            "",
            "Recall@1 / Recall@5 by category:",
            "",
            "| category | n | " + " | ".join(ran) + " |",
            "| --- | ---: | " + " | ".join("---:" for _ in ran) + " |",
        ]
        for c in categories:
            cells = []
            for system in ran:
                s = self.scores(system, c)
                cells.append(f"{s['recall@1']:.2f} / {s['recall@5']:.2f}")
            lines.append(f"| {c} | {len(self.answerable(c))} | " + " | ".join(cells) + " |")
        if misses_of and misses_of in self.outcomes:
            misses = self.misses(misses_of)
            lines += ["", f"{misses_of}: {len(misses)} misses at rank 1", ""]
            if misses:
                lines += [
                    "| question | category | first gold at | top-1 | gold |",
                    "| --- | --- | ---: | --- | --- |",
                ]
                for m in misses:
                    lines.append(
                        f"| {m['id']} | {m['category']} | {m['rank'] or '-'} | {m['top1']} "
                        f"| {'; '.join(m['gold'])} |"
                    )
        return "\n".join(lines)


def evaluate(
    report: Report,
    systems: dict[str, Callable[[str, int], list[Source]]],
    k: int = 10,
) -> None:
    """Ask every system every question; fill report.outcomes."""
    for name, search in systems.items():
        _log(f"evaluating {name}")
        report.outcomes[name] = {}
        for q in report.questions:
            start = time.perf_counter()
            ranking = search(q.question, k)[:k]
            took = time.perf_counter() - start
            rank = first_relevant_rank(ranking, report.gold[q.id]) if q.answerable else None
            report.outcomes[name][q.id] = Outcome(rank, ranking, took)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _demo_org(org_dir: Path | None) -> Path:
    """A generated demo organisation (seed 42): reused when DIR has a manifest."""
    from seed import generate_demo_org

    if org_dir is not None and (org_dir / "manifest.json").exists():
        _log(f"reusing demo organisation {org_dir}")
        return org_dir
    target = org_dir or Path(tempfile.mkdtemp(prefix="kb-bench-org-"))
    _log(f"generating demo organisation (seed {DEMO_SEED}) into {target}")
    generate_demo_org(target, seed=DEMO_SEED)
    return target


def _embedder() -> Any:
    from kb.embedding.embedder import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


def run(args: argparse.Namespace) -> Report:
    """Resolve gold, build the corpus and kb home, evaluate every requested system."""
    wanted = [s.strip() for s in args.systems.split(",") if s.strip()]
    if args.repo:
        if not args.questions:
            raise EvalError("--repo needs --questions FILE (the questions about that repo)")
        meta, questions = load_questions(Path(args.questions))
        name = meta.get("repo") or Path(args.repo).resolve().name
        repos = {name: Path(args.repo).resolve()}
        slack_zip: Path | None = None
        notes: list[TaughtNote] = []
        title = f"Retrieval on {meta.get('repository', name)}"
    else:
        qpath = Path(args.questions) if args.questions else DEMO_QUESTIONS
        meta, questions = load_questions(qpath)
        notes_path = qpath.parent / meta.get("notes", "demo_notes.json")
        if not notes_path.exists():
            raise EvalError(f"taught notes {notes_path} not found (key 'notes' of {qpath})")
        notes = load_notes(notes_path)
        org = _demo_org(Path(args.org).resolve() if args.org else None)
        manifest = json.loads((org / "manifest.json").read_text())
        repos = {n: org / r["path"] for n, r in sorted(manifest["repos"].items())}
        slack_zip = org / manifest["slack"]["zip"]
        title = f"Retrieval on the demo organisation (seed {manifest.get('seed', DEMO_SEED)})"

    gold = GoldResolver(repos, slack_zip, notes).resolve_all(questions)
    _log("reading the raw sources")
    docs = build_corpus(repos, slack_zip, notes)
    baselines_wanted = [s for s in BASELINE_ORDER if s in wanted]
    needs_vectors = any(s != "BM25 only" for s in baselines_wanted)
    _log("chunking and indexing the baseline corpus")
    baselines = Baselines(
        docs,
        _embedder() if needs_vectors else None,
        Path(args.cache) if args.cache else None,
        progress=True,
    )
    counts: dict[str, int] = {}
    for d in docs:
        counts[f"{d.source.kind} documents"] = counts.get(f"{d.source.kind} documents", 0) + 1
    counts["chunks"] = len(baselines.chunks)

    report = Report(title, questions, gold, counts, [*baselines_wanted, KB_SYSTEM])
    systems = {n: f for n, f in baselines.systems().items() if n in baselines_wanted}
    if KB_SYSTEM in wanted:
        if not kb_retriever_available():
            report.unavailable[KB_SYSTEM] = "not available yet"
        else:
            home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="kb-bench-home-"))
            build_kb_home(home.resolve(), repos, slack_zip, notes)
            systems[KB_SYSTEM] = kb_system(home.resolve(), notes)
    else:
        report.systems.remove(KB_SYSTEM)
    evaluate(report, systems, k=args.k)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry: print the markdown tables (or JSON) of one benchmark run."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.retrieval",
        description="Recall@1, Recall@5 and MRR of BM25, vector, a naive hybrid and kb.",
    )
    parser.add_argument("--org", help="demo organisation directory (generated if missing)")
    parser.add_argument("--home", help="kb home to use (built with the kb CLI if not yet)")
    parser.add_argument("--repo", help="an external git repository instead of the demo org")
    parser.add_argument("--questions", help="eval file (default bench/eval/demo.json)")
    parser.add_argument(
        "--systems",
        default=",".join([*BASELINE_ORDER, KB_SYSTEM]),
        help="comma-separated systems to run (default: all four)",
    )
    parser.add_argument("--k", type=int, default=10, help="sources retrieved per question")
    parser.add_argument(
        "--cache",
        default=str(Path(tempfile.gettempdir()) / "kb-bench-cache"),
        help="directory caching baseline chunk embeddings across runs ('' to disable)",
    )
    parser.add_argument(
        "--misses", default=KB_SYSTEM, help="system whose rank-1 misses are listed (default kb)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = parser.parse_args(argv)
    try:
        report = run(args)
    except EvalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        ran = list(report.outcomes)
        misses_of = args.misses if args.misses in ran else None
        if misses_of is None and ran:
            misses_of = "naive hybrid" if "naive hybrid" in ran else ran[0]
        print(report.markdown(misses_of))
        for system, why in report.unavailable.items():
            print(f"\n{system}: {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
