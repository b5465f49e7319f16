"""The public eval sets (bench/eval): valid, spread over source kinds, gold that exists in the
demo organisation; and the benchmark's scoring, right on hand-made rankings. No model loaded."""

from __future__ import annotations

import itertools
import json
import re
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # bench/ is not an installed package
    sys.path.insert(0, str(ROOT))

from facts import make_hit  # noqa: E402

from bench.baselines import (  # noqa: E402
    BM25,
    Baselines,
    Document,
    Source,
    TaughtNote,
    load_notes,
    reciprocal_rank_fusion,
    split_text,
)
from bench.retrieval import (  # noqa: E402
    CATEGORIES,
    DEMO_QUESTIONS,
    EVAL_DIR,
    PATH_KINDS,
    EvalError,
    Gold,
    GoldResolver,
    Question,
    Report,
    evaluate,
    first_relevant_rank,
    load_questions,
    matches,
    mean_reciprocal_rank,
    recall_at,
    source_of_hit,
    validate_eval_set,
)
from kb.retrieval.hits import Hit  # noqa: E402
from kb.store.models import WisdomKind  # noqa: E402
from seed import generate_demo_org  # noqa: E402

EVAL_FILES = sorted(p for p in EVAL_DIR.glob("*.json") if not p.name.endswith("_notes.json"))
DEMO_NOTES = EVAL_DIR / "demo_notes.json"

# Minimum number of demo questions whose first (main) gold source is of each kind.
MIN_PRIMARY_KIND = {"adr": 8, "commit": 6, "doc/code": 6, "slack": 8, "note": 5, "postmortem": 4}

DONE_WHEN = {
    "why is payment→order async?": ("order-service", "docs/adr/0003-async-payment-via-events.md"),
    "what must i never touch in inventory?": ("inventory-service", "src/inventory/reservations.py"),
    "who knows the user token code now?": ("user-service", "src/users/tokens.py"),
}


@pytest.fixture(scope="module")
def demo_questions() -> list[Question]:
    return load_questions(DEMO_QUESTIONS)[1]


@pytest.fixture(scope="module")
def demo_notes() -> list[TaughtNote]:
    return load_notes(DEMO_NOTES)


@pytest.fixture(scope="module")
def demo_org(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    org = generate_demo_org(tmp_path_factory.mktemp("org"), seed=42)
    repos = {name: org.repo_path(name) for name in org.repos}
    return {"org": org, "repos": repos, "slack": org.slack_zip}


@pytest.fixture(scope="module")
def resolver(demo_org: dict[str, Any], demo_notes: list[TaughtNote]) -> GoldResolver:
    return GoldResolver(demo_org["repos"], demo_org["slack"], demo_notes)


# --- the files ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", EVAL_FILES, ids=[p.name for p in EVAL_FILES])
def test_eval_file_is_valid(path: Path) -> None:
    data = json.loads(path.read_text())
    assert validate_eval_set(data) == []
    ids = [q["id"] for q in data["questions"]]
    assert len(ids) == len(set(ids))
    assert sum(1 for q in data["questions"] if q["gold"]) >= 20


def test_there_is_an_external_repository_set() -> None:
    external = [p for p in EVAL_FILES if p != DEMO_QUESTIONS]
    assert external, "bench/eval needs questions about a real public repository"
    for path in external:
        data = json.loads(path.read_text())
        assert data["repository"].count("/") == 1
        assert data["commits"] >= 1000 and data["adrs"] >= 5
        repos = {g["repo"] for q in data["questions"] for g in q["gold"] if "repo" in g}
        assert repos == {data["repo"]}


def test_validation_catches_broken_entries() -> None:
    broken = {
        "questions": [
            {"id": "a", "question": "q?", "category": "why/decision", "gold": []},
            {"id": "a", "question": "", "category": "nonsense", "gold": [{"kind": "adr"}]},
            {"id": "c", "question": "q?", "category": "unanswerable", "gold": [{"kind": "x"}]},
            {
                "id": "d",
                "question": "q?",
                "category": "history/commit",
                "gold": [
                    {"kind": "commit", "repo": "r", "sha": "abc"},
                    {"kind": "slack", "channel": "c", "thread_ts": "1.2", "date": "2024-01-01"},
                ],
            },
        ]
    }
    errors = "\n".join(validate_eval_set(broken))
    assert "a: gold must be [] exactly when the category is unanswerable" in errors
    assert "a: duplicate id" in errors
    assert "unknown category 'nonsense'" in errors
    assert "missing 'path'" in errors and "missing 'repo'" in errors
    assert "c: gold must be []" in errors
    assert "missing 'subject_prefix'" in errors and "unknown key 'sha'" in errors
    assert "thread_ts or date, not both" in errors
    assert validate_eval_set([]) == ["top level: expected an object with a 'questions' list"]


def test_demo_set_size_categories_and_spread(demo_questions: list[Question]) -> None:
    answerable = [q for q in demo_questions if q.answerable]
    assert len(answerable) >= 45
    assert sum(1 for q in demo_questions if q.category == "unanswerable") >= 3
    assert {q.category for q in demo_questions} == set(CATEGORIES)
    assert sum(1 for q in answerable if q.category == "incident/on-call") >= 4

    def primary(q: Question) -> str:
        kind = q.gold[0]["kind"]
        return "doc/code" if kind in ("doc", "code", "contract") else kind

    spread = Counter(primary(q) for q in answerable)
    for kind, minimum in MIN_PRIMARY_KIND.items():
        assert spread[kind] >= minimum, (kind, spread)


def test_done_when_questions_are_in_the_demo_set(demo_questions: list[Question]) -> None:
    by_text = {q.question.lower(): q for q in demo_questions}
    for text, (repo, path) in DONE_WHEN.items():
        assert text in by_text, text
        gold = by_text[text].gold
        assert {"repo": repo, "path": path} in [
            {"repo": g.get("repo"), "path": g.get("path")} for g in gold
        ]
    async_gold = by_text["why is payment→order async?"].gold
    superseded = "docs/adr/0002-synchronous-payment-calls.md"
    assert all(g.get("path") != superseded for g in async_gold)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def test_questions_paraphrase_their_sources(
    demo_questions: list[Question], demo_org: dict[str, Any], demo_notes: list[TaughtNote]
) -> None:
    # A question in a new hire's words shares no run of five words with its gold file or note.
    notes = {n.id: n.text for n in demo_notes}
    copied = []
    for q in demo_questions:
        words = _words(q.question)
        runs = {" ".join(words[i : i + 5]) for i in range(len(words) - 4)}
        for item in q.gold:
            if item["kind"] in PATH_KINDS:
                repo = demo_org["repos"][item["repo"]]
                text = (repo / item["path"]).read_text()
            elif item["kind"] == "note":
                text = next(t for t in notes.values() if item["contains"] in t)
            else:
                continue
            source = " ".join(_words(text))
            copied += [(q.id, run) for run in runs if run in source]
    assert copied == []


def test_taught_notes_are_realistic_and_attributed(demo_org: dict[str, Any]) -> None:
    notes = load_notes(DEMO_NOTES)
    org = demo_org["org"]
    people = {p["name"] for p in org.people.values() if not p["is_bot"]}
    assert len(notes) >= 5
    assert len({n.id for n in notes}) == len(notes)
    kinds = {k.value for k in WisdomKind}
    for note in notes:
        assert note.by in people, note.by
        assert note.kind in kinds, note.kind
        assert note.service is None or note.service in org.services
        assert date.fromisoformat(note.date) <= org.as_of.date()
        assert 80 <= len(note.text) <= 600


# --- gold against the generated demo organisation --------------------------------------------


def test_every_demo_gold_source_exists(
    demo_questions: list[Question], resolver: GoldResolver
) -> None:
    gold = resolver.resolve_all(demo_questions)
    resolved = [g for q in demo_questions for g in gold[q.id]]
    assert len(resolved) == sum(len(q.gold) for q in demo_questions)
    assert {g.kind for g in resolved} == {"path", "commit", "slack", "note"}
    assert all(len(g.commit or "x" * 40) == 40 for g in resolved)


def test_commit_gold_resolves_to_the_manifest_sha(
    demo_questions: list[Question], resolver: GoldResolver, demo_org: dict[str, Any]
) -> None:
    story = demo_org["org"].stories["async_payments"]
    expected = {(s["repo"], s["sha"]) for s in story["sources"] if s["kind"] == "commit"}
    question = next(q for q in demo_questions if q.id == "payment-order-async")
    got = {
        (g.repo, g.commit)
        for g in (resolver.resolve(item) for item in question.gold)
        if g.kind == "commit"
    }
    assert got == expected


@pytest.mark.parametrize(
    "item, message",
    [
        ({"kind": "code", "repo": "order-service", "path": "src/nope.py"}, "does not exist"),
        ({"kind": "doc", "repo": "nope-service", "path": "README.md"}, "unknown repo"),
        ({"kind": "commit", "repo": "order-service", "subject_prefix": "SHOP-412"}, "commits"),
        ({"kind": "commit", "repo": "order-service", "subject_prefix": "NOPE-1:"}, "no commit"),
        ({"kind": "slack", "channel": "nope"}, "not in the export"),
        ({"kind": "slack", "channel": "general", "thread_ts": "1.000001"}, "no message"),
        ({"kind": "slack", "channel": "general", "date": "1999-01-01"}, "no messages on"),
        ({"kind": "note", "contains": "the"}, "taught notes, not 1"),
        ({"kind": "note", "contains": "never written anywhere"}, "in 0 taught notes"),
    ],
)
def test_resolver_fails_loudly(resolver: GoldResolver, item: dict, message: str) -> None:
    with pytest.raises(EvalError, match=message):
        resolver.resolve(item)


# --- scoring ----------------------------------------------------------------------------------

ADR = Source("file", repo="order-service", path="docs/adr/0003-async-payment-via-events.md")
README = Source("file", repo="order-service", path="README.md")
COMMIT = Source("commit", repo="order-service", commit="a" * 40)
DAY = Source(
    "slack",
    channel="eng-backend",
    day="2026-09-15",
    threads=frozenset({"1789481400.818220", "1789482120.505240"}),
)
THREAD = Source("slack", channel="eng-backend", thread_ts="1789481400.818220")
NOTE = Source("note", note="argon2-memory")


def test_matching_rules() -> None:
    adr = Gold("path", repo="order-service", path="docs/adr/0003-async-payment-via-events.md")
    assert matches(adr, ADR)
    assert not matches(adr, README)
    assert not matches(adr, Source("file", repo="payment-service", path=ADR.path))
    assert matches(Gold("path", repo="order-service", path="docs/"), ADR)
    assert not matches(Gold("path", repo="order-service", path="docs/"), README)
    commit = Gold("commit", repo="order-service", commit="a" * 40)
    assert matches(commit, COMMIT)
    assert not matches(commit, Source("commit", repo="order-service", commit="b" * 40))
    assert not matches(commit, Source("commit", repo="payment-service", commit="a" * 40))
    thread = Gold("slack", channel="eng-backend", thread_ts="1789481400.818220")
    assert matches(thread, THREAD)
    assert matches(thread, DAY)  # a channel-day document holding the thread
    assert not matches(thread, Source("slack", channel="eng-backend", thread_ts="1.000001"))
    assert not matches(thread, Source("slack", channel="general", thread_ts=THREAD.thread_ts))
    day = Gold("slack", channel="eng-backend", date="2026-09-15")
    assert matches(day, DAY) and not matches(day, THREAD)
    assert matches(Gold("slack", channel="eng-backend"), THREAD)
    assert matches(Gold("note", note="argon2-memory"), NOTE)
    assert not matches(Gold("note", note="month-end-close"), NOTE)
    assert not matches(Gold("note", note="argon2-memory"), README)


def test_first_relevant_rank_recall_and_mrr() -> None:
    gold = [Gold("commit", repo="order-service", commit="a" * 40)]
    assert first_relevant_rank([COMMIT, README], gold) == 1
    assert first_relevant_rank([README, ADR, COMMIT], gold) == 3
    assert first_relevant_rank([README, ADR], gold) is None
    assert first_relevant_rank([], gold) is None
    ranks = [1, 3, None, 1, 6]
    assert recall_at(ranks, 1) == pytest.approx(2 / 5)
    assert recall_at(ranks, 5) == pytest.approx(3 / 5)
    assert recall_at(ranks, 10) == pytest.approx(4 / 5)
    assert mean_reciprocal_rank(ranks) == pytest.approx((1 + 1 / 3 + 0 + 1 + 1 / 6) / 5)
    assert recall_at([], 1) == 0.0 and mean_reciprocal_rank([]) == 0.0


def _hit(kind: str, **fields: Any) -> Hit:
    base: dict[str, Any] = {
        "document_id": 1,
        "external_id": "x",
        "kind": kind,
        "title": "t",
        "repo": None,
        "path": None,
        "commit": None,
        "url": None,
        "snippet": "",
        "score": 1.0,
    }
    return make_hit(**{**base, **fields})


def test_kb_hits_map_to_sources() -> None:
    notes = load_notes(DEMO_NOTES)
    adr = _hit("adr", repo="order-service", path=ADR.path)
    assert source_of_hit(adr) == ADR
    assert source_of_hit(_hit("commit", repo="order-service", commit="a" * 40)) == COMMIT
    thread = _hit("slack", meta={"channel": "eng-backend", "thread_ts": "1789481400.818220"})
    assert source_of_hit(thread) == THREAD
    day = _hit(
        "slack",
        external_id="slack:shopfast:C0L0AXT5FD6:day:2024-05-21",
        meta={"channel": "eng-backend"},
    )
    assert source_of_hit(day) == Source("slack", channel="eng-backend", day="2024-05-21")
    argon = next(n for n in notes if n.id == "argon2-memory")
    taught = _hit("note", text=argon.text, snippet=argon.text[:120])
    assert source_of_hit(taught, notes) == NOTE
    unknown = source_of_hit(_hit("note", text="something nobody taught"), notes)
    assert unknown.kind == "note" and unknown.note != "argon2-memory"


def test_report_scores_systems_on_hand_made_rankings() -> None:
    questions = [
        Question("q1", "why async?", "why/decision", ({"kind": "adr"},)),
        Question("q2", "who knows tokens?", "who-knows", ({"kind": "commit"},)),
        Question("q3", "what is our CDN?", "unanswerable", ()),
    ]
    gold = {
        "q1": [Gold("path", repo="order-service", path=ADR.path)],
        "q2": [Gold("commit", repo="order-service", commit="a" * 40)],
        "q3": [],
    }
    rankings = {
        "perfect": {"why async?": [ADR, README], "who knows tokens?": [COMMIT]},
        "late": {"why async?": [README, ADR], "who knows tokens?": [README, NOTE]},
    }
    report = Report("t", questions, gold, {"chunks": 0}, ["perfect", "late", "kb"])

    def system(answers: dict[str, list[Source]]) -> Any:
        return lambda question, k: answers.get(question, [])

    evaluate(report, {name: system(answers) for name, answers in rankings.items()})
    assert report.scores("perfect")["recall@1"] == 1.0
    late = report.scores("late")
    assert (late["recall@1"], late["recall@5"], late["mrr"], late["n"]) == (0.0, 0.5, 0.25, 2)
    assert report.scores("late", "why/decision")["recall@5"] == 1.0
    assert [m["id"] for m in report.misses("late")] == ["q1", "q2"]
    assert report.misses("late")[0]["top1"] == README.label()
    text = report.markdown("late")
    assert "| perfect | 1.00 | 1.00 | 1.00 | 2 |" in text
    assert "| kb | not run |" in text and "late: 2 misses at rank 1" in text


# --- the baselines' building blocks ------------------------------------------------------------


def test_recursive_splitter_keeps_chunks_small_and_overlapping() -> None:
    paragraph = " ".join(f"word{i}" for i in range(150))  # ~1,000 characters
    text = "\n\n".join([paragraph] * 4)
    chunks = split_text(text)
    assert len(chunks) >= 4
    assert all(len(c) <= 1000 for c in chunks)
    assert any(a[-100:] in b for a, b in itertools.pairwise(chunks))
    assert split_text("short note") == ["short note"]
    assert split_text("") == []


def test_bm25_ranks_the_rare_matching_term_first() -> None:
    index = BM25(["the lock order of reservations", "the the the", "deadlock in reservations"])
    scores = index.scores("deadlock reservations")
    assert scores.argmax() == 2
    assert scores[1] == 0.0
    assert index.idf("deadlock") > index.idf("reservations") > 0 == index.idf("missing")


def test_reciprocal_rank_fusion_and_source_dedupe() -> None:
    fused = reciprocal_rank_fusion([[ADR, README, COMMIT], [COMMIT, ADR]])
    assert fused == [ADR, COMMIT, README]
    long = "lock order warehouse sku. " * 80  # several chunks of one document
    docs = [Document(ADR, long), Document(README, "checkout calls inventory")]
    ranking = Baselines(docs).bm25("warehouse lock order", k=10)
    assert ranking == [ADR]
