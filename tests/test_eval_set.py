"""The public eval sets (bench/eval): valid, spread over source kinds, gold that exists in the
demo organisation; and the benchmark's scoring, right on hand-made rankings. No model loaded."""

from __future__ import annotations

import itertools
import json
import re
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gitrepo import Repo

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
from bench.eval_check import check, copy_errors, key_fact_errors  # noqa: E402
from bench.keyfacts import (  # noqa: E402
    Coverage,
    answer_head,
    conveyed,
    coverage,
    focused_extract,
    gold_text,
    sentences,
    shared_runs,
    words,
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
from bench.suite import (  # noqa: E402
    PARTS,
    SUITE_FILE,
    AnswerOutcome,
    RepoResult,
    SuiteSet,
    answer_scores,
    clone_commands,
    load_suite,
    markdown,
    mrr_at,
    note_build_env,
    parse_env,
    repo_problem,
    retrieval_scores,
    suite_errors,
    to_json,
)
from kb.retrieval.hits import Hit  # noqa: E402
from kb.store.models import WisdomKind  # noqa: E402
from seed import generate_demo_org  # noqa: E402

EVAL_FILES = sorted(
    p
    for p in EVAL_DIR.glob("*.json")
    if not p.name.endswith("_notes.json") and p.name != "suite.json"
)
DEMO_NOTES = EVAL_DIR / "demo_notes.json"

# Categories added for the repository suite; the demo set predates them.
SUITE_CATEGORIES = {"code-comment", "who-decided", "when", "multi-source", "superseded-decision"}

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
        assert data["commits"] >= 50 and data["adrs"] >= 5
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
    facts = {"id": "e", "question": "q?", "category": "unanswerable", "gold": [], "key_facts": [""]}
    assert validate_eval_set({"questions": [facts]}) == [
        "e: 'key_facts' must be a list of non-empty strings"
    ]


def test_demo_set_size_categories_and_spread(demo_questions: list[Question]) -> None:
    answerable = [q for q in demo_questions if q.answerable]
    assert len(answerable) >= 45
    assert sum(1 for q in demo_questions if q.category == "unanswerable") >= 3
    assert {q.category for q in demo_questions} == set(CATEGORIES) - SUITE_CATEGORIES
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


# --- the repository suite (bench/eval/suite.json) --------------------------------------------

SUITE_SETS = load_suite()
MGG = "manage.get.gov"


def _set_data(s: SuiteSet) -> dict[str, Any]:
    return json.loads(s.file.read_text())


@pytest.mark.parametrize("s", SUITE_SETS, ids=[s.name for s in SUITE_SETS])
def test_suite_set_schema_and_key_facts(s: SuiteSet) -> None:
    data = _set_data(s)
    assert validate_eval_set(data) == []
    assert re.fullmatch(r"[0-9a-f]{40}", data["head"])
    assert data["url"] == f"https://github.com/{data['repository']}"
    assert data["language"] and data["commits"] >= 50 and data["adrs"] >= 5
    for q in data["questions"]:
        assert key_fact_errors(q) == [], q["id"]
        assert all(len(f) <= 200 for f in q.get("key_facts", [])), q["id"]
        assert {g["repo"] for g in q["gold"]} <= {data["repo"]}
    # Every answerable question names 2-4 facts; unanswerable ones none.
    answerable = [q for q in data["questions"] if q["gold"]]
    assert all(2 <= len(q["key_facts"]) <= 4 for q in answerable)


def test_suite_lists_every_repository_set_once_in_one_part() -> None:
    raw = json.loads(SUITE_FILE.read_text())
    assert suite_errors(raw) == []
    listed = sorted(s.file.name for s in SUITE_SETS)
    on_disk = sorted(p.name for p in EVAL_FILES if p != DEMO_QUESTIONS)
    assert listed == on_disk
    names = [s.name for s in SUITE_SETS]
    assert len(names) == len(set(names))  # a repository is in exactly one part
    assert {s.part for s in SUITE_SETS} == set(PARTS)


def test_split_keeps_a_large_diverse_held_out_part() -> None:
    tuning = [s for s in SUITE_SETS if s.part == "tuning"]
    heldout = [s for s in SUITE_SETS if s.part == "heldout"]
    assert MGG in {s.name for s in tuning}
    assert len([s for s in tuning if s.name != MGG]) >= 2
    assert len(heldout) >= 3
    assert len({s.language for s in heldout}) >= 2
    qs = [q for s in heldout for q in _set_data(s)["questions"]]
    assert sum(1 for q in qs if q["gold"]) >= 120
    assert sum(1 for q in qs if not q["gold"]) >= 20
    for s in heldout:
        data = _set_data(s)
        assert data["commits"] >= 1000, s.name
        assert sum(1 for q in data["questions"] if not q["gold"]) >= 5, s.name
    new = [q for s in SUITE_SETS if s.name != MGG for q in _set_data(s)["questions"]]
    assert sum(1 for q in new if q["gold"]) >= 200
    assert sum(1 for q in new if not q["gold"]) >= 20


# Minimum questions per category over the new sets (manage.get.gov not counted).
MIN_SUITE_CATEGORY = {
    "why/decision": 50,
    "history/commit": 20,
    "how-to/docs": 25,
    "code-comment": 15,
    "who-decided": 6,
    "when": 8,
    "multi-source": 8,
    "superseded-decision": 6,
    "unanswerable": 20,
}


def test_suite_spread_by_category() -> None:
    new = [s for s in SUITE_SETS if s.name != MGG]
    counts = Counter(q["category"] for s in new for q in _set_data(s)["questions"])
    for category, minimum in MIN_SUITE_CATEGORY.items():
        assert counts[category] >= minimum, (category, counts)
    for s in new:
        data = _set_data(s)
        by_category = Counter(q["category"] for q in data["questions"])
        assert len(by_category) >= 7, (s.name, by_category)
        for q in data["questions"]:
            if q["category"] == "multi-source":
                assert len(q["gold"]) >= 2, q["id"]
            if q["category"] == "superseded-decision":
                assert q.get("note"), q["id"]  # the trap is written down


# --- the six-word copy check ------------------------------------------------------------------


def test_shared_runs_finds_six_word_copies_only() -> None:
    source = "We decided, after much debate: the Cache is flushed every night at 2am."
    assert shared_runs("Is it true the cache is flushed every night at 2am?", source) == [
        "the cache is flushed every night",
        "cache is flushed every night at",
        "is flushed every night at 2am",
    ]
    assert shared_runs("Why is the cache flushed every night?", source) == []  # 5 words
    assert shared_runs("THE CACHE-IS FLUSHED, every night!", source) == [
        "the cache is flushed every night"
    ]
    assert shared_runs("", source) == [] and shared_runs("a b c d e f", "") == []
    assert words("Don't re-run v2.1") == ["don", "t", "re", "run", "v2", "1"]


def test_copy_and_key_fact_errors_on_hand_made_questions() -> None:
    source = "Migrations are run by hand with a Cloud Foundry task after each deploy."
    q = {
        "id": "q1",
        "question": "Who runs the migrations?",
        "gold": [{"kind": "doc"}],
        "key_facts": [
            "An operator applies them manually",
            "They are run by hand with a Cloud Foundry task",
        ],
    }
    errors = copy_errors(q, [source])
    assert errors == [
        "q1: key fact 2 copies 'are run by hand with a'",
        "q1: key fact 2 copies 'run by hand with a cloud'",
        "q1: key fact 2 copies 'by hand with a cloud foundry'",
        "q1: key fact 2 copies 'hand with a cloud foundry task'",
    ]
    assert copy_errors({**q, "key_facts": q["key_facts"][:1]}, [source]) == []
    assert key_fact_errors(q) == []
    assert key_fact_errors({**q, "key_facts": ["only one"]}) == ["q1: needs 2-4 key facts"]
    assert key_fact_errors({**q, "key_facts": ["a"] * 5}) == ["q1: needs 2-4 key facts"]
    assert key_fact_errors({**q, "gold": [], "key_facts": []}) == []
    assert key_fact_errors({**q, "gold": []}) == ["q1: an unanswerable question has no key facts"]


def test_eval_check_against_a_real_repository(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit(
        "Use Postgres for orders\n\nThe data is relational and we need transactions.",
        {"docs/adr/0001-postgres.md": "# 1. Use Postgres\n\nThe data is relational.\n"},
    )
    repo.commit("Tune the pool size", {"src/pool.py": "SIZE = 4  # two per core\n"})
    repo.commit("Tune the pool timeout", {"src/pool.py": "SIZE = 4\nTIMEOUT = 3\n"})

    def write(questions: list[dict[str, Any]], head: str | None = None) -> Path:
        path = tmp_path / "set.json"
        data = {"repo": "repo", "head": head or repo.head(), "questions": questions}
        path.write_text(json.dumps(data))
        return path

    good = {
        "id": "why-pg",
        "question": "Which database holds orders, and why that one?",
        "category": "why/decision",
        "gold": [{"kind": "adr", "repo": "repo", "path": "docs/adr/0001-postgres.md"}],
        "key_facts": ["Orders live in Postgres", "Order data has relations between tables"],
    }
    who = {
        "id": "who-pg",
        "question": "Who chose the orders database?",
        "category": "who-decided",
        "gold": [{"kind": "commit", "repo": "repo", "subject_prefix": "Use Postgres"}],
        "key_facts": ["Alice Doe made the choice", "It was in January 2024"],
    }
    errors, questions = check(repo.path, write([good, who]))
    assert errors == [] and [q.id for q in questions] == ["why-pg", "who-pg"]

    copied = {**good, "question": "Why Postgres, given the data is relational?"}
    ambiguous = {**who, "gold": [{"kind": "commit", "repo": "repo", "subject_prefix": "Tune"}]}
    missing = {**good, "id": "gone", "gold": [{"kind": "doc", "repo": "repo", "path": "no.md"}]}
    one_fact = {**good, "id": "thin", "key_facts": ["Orders live in Postgres"]}
    errors, _ = check(repo.path, write([copied, ambiguous, missing, one_fact], head="f" * 40))
    text = "\n".join(errors)
    assert f"is at {repo.head()}, the set is pinned to {'f' * 40}" in text
    assert "why-pg: question copies" not in text  # five words at most
    assert "who-pg: subject prefix 'Tune' matches 2 commits" in text
    assert "gone: repo:no.md does not exist at HEAD" in text
    assert "thin: needs 2-4 key facts" in text
    copied6 = {
        **good,
        "question": "Is it true that the data is relational and we need transactions?",
    }
    errors, _ = check(repo.path, write([{**copied6, "gold": who["gold"]}]))
    assert errors == [
        "why-pg: question copies 'the data is relational and we'",
        "why-pg: question copies 'data is relational and we need'",
        "why-pg: question copies 'is relational and we need transactions'",
    ]
    # A commit's source text carries who made it and when, as the baselines index it.
    text = gold_text(repo.path, who["gold"][0])
    assert text.startswith("Commit by Alice Doe on 2024-01-01: Use Postgres for orders")
    assert "we need transactions" in text
    assert gold_text(repo.path, {"kind": "doc", "path": "docs/"}).startswith("# 1. Use Postgres")


# --- coverage arithmetic -----------------------------------------------------------------------


def _unit(*xs: float) -> np.ndarray:
    v = np.asarray(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_conveyed_and_coverage_on_hand_made_vectors() -> None:
    facts = np.stack([_unit(1, 0, 0), _unit(0, 1, 0), _unit(0, 0, 1)])
    # Best cosines: fact 0 -> 0.5 (the threshold itself counts), fact 1 -> 0.866, fact 2 -> 1.
    said = np.stack([_unit(0.5, np.sqrt(0.75), 0), _unit(0, 0, 1)])
    assert conveyed(facts, said, 0.5) == [True, True, True]
    assert conveyed(facts, said, 0.9) == [False, False, True]
    assert coverage(facts, said, 0.9) == pytest.approx(1 / 3)
    assert coverage(facts, said[1:], 0.5) == pytest.approx(1 / 3)
    assert coverage(facts, np.zeros((0, 3), dtype=np.float32), 0.5) == 0.0
    assert coverage(np.zeros((0, 3), dtype=np.float32), said, 0.5) == 0.0


def test_focused_extract_takes_the_closest_parts_in_source_order() -> None:
    parts = ["intro " * 5, "the answer " * 20, "noise", "more answer " * 3]
    question = _unit(1, 0)
    vectors = np.stack([_unit(0, 1), _unit(1, 0.1), _unit(0.1, 1), _unit(1, 0.3)])
    # Closest first: part 1 (220 chars), part 3 (36), part 2 (5), part 0 (30); one space joins.
    assert focused_extract(parts, question, vectors, budget=1000) == [0, 1, 2, 3]
    assert focused_extract(parts, question, vectors, budget=270) == [1, 2, 3]
    # Part 1 does not fit; the shorter, less similar parts still do.
    assert focused_extract(parts, question, vectors, budget=50) == [2, 3]
    assert focused_extract([], question, np.zeros((0, 2)), budget=10) == []


def test_sentences_and_answer_head() -> None:
    wrapped = "We chose a message broker for payments because the checkout must not\n"
    text = (
        "Payments are async [1]. The broker retries twice [2, 3]!\n"
        "- Watch out: never deploy on a Friday afternoon, the on-call team is thin\n"
        "  then\n- Ask: Alex Morgan [4]\n\n"
        f"{wrapped}block on the payment provider.\nShort line\nanother short line\n\n"
        "## Decision\nretry = 3\n"
        "    # three tries are enough for a network blip, a fourth would only\n"
        "    # delay the error.\nok = True"
    )
    assert sentences(text) == [
        "Payments are async.",
        "The broker retries twice!",
        # A long line that stops mid-sentence continues on the next line of its kind.
        "Watch out: never deploy on a Friday afternoon, the on-call team is thin then",
        "Ask: Alex Morgan",
        "We chose a message broker for payments because the checkout must not block on the "
        "payment provider.",
        "Short line",  # short lines (headings, code, settings) stay alone
        "another short line",
        "retry = 3",  # "Decision" alone is one word: dropped
        "three tries are enough for a network blip, a fourth would only delay the error.",
        "ok = True",
    ]
    assert answer_head("x" * 2000) == "x" * 1500


def test_coverage_class_with_a_fake_embedder() -> None:
    vocab = ["postgres", "relational", "manual", "cache"]

    def embed(texts: Sequence[str]) -> list[list[float]]:
        return [[float(w in t.lower()) + 1e-6 for w in vocab] for t in texts]

    cov = Coverage(embed)
    facts = ["Uses Postgres", "Migrations are manual"]
    assert cov.of_text(facts, "We use Postgres. It is relational.") == 0.5
    assert cov.of_text(facts, "Postgres it is. Steps are manual.") == 1.0
    source = "Intro about the cache.\nWe chose Postgres because data is relational.\nThe end."
    assert cov.extract("why postgres", source, budget=50) == (
        "We chose Postgres because data is relational."
    )
    # Parts are joined one a line, so the extract splits back into the same sentences.
    two = cov.extract("why postgres", source, budget=60)
    assert two == "We chose Postgres because data is relational.\nThe end."
    assert sentences(two) == ["We chose Postgres because data is relational.", "The end."]


# --- the harness's arithmetic and output -----------------------------------------------------


def test_mrr_at_and_retrieval_scores() -> None:
    ranks = [1, 2, 6, None]
    assert mrr_at(ranks, 5) == pytest.approx((1 + 0.5) / 4)
    assert mrr_at(ranks, 10) == pytest.approx((1 + 0.5 + 1 / 6) / 4)
    s = retrieval_scores(ranks)
    assert (s["recall@1"], s["recall@5"], s["n"]) == (0.25, 0.5, 4)
    assert mrr_at([], 5) == 0.0


def test_answer_scores_coverage_and_honesty() -> None:
    qs = [
        Question("a", "?", "why/decision", ({"kind": "adr"},), ("f1", "f2")),
        Question("b", "?", "how-to/docs", ({"kind": "doc"},), ("f1", "f2")),
        Question("u1", "?", "unanswerable", ()),
        Question("u2", "?", "unanswerable", ()),
    ]
    outcomes = {
        "a": AnswerOutcome(True, 1.0, 0.5),
        "b": AnswerOutcome(False, 0.0, 1.0),
        "u1": AnswerOutcome(False, None, None),
        "u2": AnswerOutcome(True, None, None),
    }
    s = answer_scores(qs, outcomes)
    assert s["coverage"] == 0.5 and s["reference_coverage"] == 0.75 and s["n_key_facts"] == 2
    assert s["idk_unanswerable"] == 0.5 and s["n_unanswerable"] == 2
    assert s["idk_answerable"] == 0.5 and s["n_answerable"] == 2
    empty = answer_scores(qs, {})
    assert empty["coverage"] is None and empty["idk_unanswerable"] is None


def test_parse_env_and_clone_commands(tmp_path: Path) -> None:
    assert parse_env(["KB_RULE_X=off", "KB_Y=a=b"]) == {"KB_RULE_X": "off", "KB_Y": "a=b"}
    with pytest.raises(EvalError, match="VAR=VALUE"):
        parse_env(["KB_RULE_X"])
    s = next(x for x in SUITE_SETS if x.name == MGG)
    assert clone_commands(s, tmp_path) == [
        f"git clone https://github.com/cisagov/manage.get.gov {tmp_path / MGG}",
        f"git -C {tmp_path / MGG} checkout {s.head}",
    ]
    assert "is not a git checkout" in (repo_problem(s, tmp_path) or "")
    repo = Repo(tmp_path / MGG)
    repo.commit("first", {"a.txt": "a\n"})
    assert f"is at {repo.head()}, the set is pinned to {s.head}" in (
        repo_problem(s, tmp_path) or ""
    )


def _suite_result(part: str) -> RepoResult:
    questions = [
        Question("secret-why", "why async?", "why/decision", ({"kind": "adr"},), ("f", "g")),
        Question("secret-none", "what is our CDN?", "unanswerable", ()),
    ]
    gold = {"secret-why": [Gold("path", repo="order-service", path=ADR.path)], "secret-none": []}
    report = Report("t", questions, gold, {"chunks": 0}, ["BM25 only", "kb"])
    rankings = {"BM25 only": [README, ADR], "kb": [ADR]}
    evaluate(report, {n: (lambda q, k, r=r: r) for n, r in rankings.items()})
    s = SuiteSet(Path("x.json"), part, "order-service", "o/order-service", "u", "h", "Go")
    answers = {
        "secret-why": AnswerOutcome(True, 0.5, 1.0),
        "secret-none": AnswerOutcome(True, None, None),
    }
    return RepoResult(s, report, answers)


def test_held_out_output_is_aggregate_only_unless_asked() -> None:
    result = _suite_result("heldout")
    text = markdown("heldout", [result], {"KB_RULE_X": "off"}, show_questions=False)
    assert "secret" not in text and "why async" not in text
    assert "| order-service | kb | 1.00 | 1.00 | 1.00 | 1.00 | 1 |" in text
    assert "| order-service | BM25 only | 0.00 | 1.00 | 0.50 | 0.50 | 1 |" in text
    assert "| overall | 0.50 | 1.00 | 1 | 0.00 | 1 | 0.00 | 1 |" in text
    assert "kb environment: KB_RULE_X=off" in text
    data = to_json("heldout", [result], {}, show_questions=False, k=10)
    assert "secret" not in json.dumps(data)
    assert data["overall"]["systems"]["kb"]["mrr@5"] == 1.0
    shown = markdown("heldout", [result], {}, show_questions=True)
    assert "secret-why" not in shown  # kb hit it at rank 1: no miss to list
    assert "secret-none (unanswerable): answered an unanswerable question" in shown
    detailed = to_json("heldout", [result], {}, show_questions=True, k=10)
    assert [q["id"] for q in detailed["repos"]["order-service"]["per_question"]] == [
        "secret-why",
        "secret-none",
    ]


def test_a_reused_home_warns_when_built_with_other_kb_env(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    note_build_env(tmp_path, {"KB_RULE_X": "off"})
    assert json.loads((tmp_path / ".bench-kb-env.json").read_text()) == {"KB_RULE_X": "off"}
    note_build_env(tmp_path, {"KB_RULE_X": "off"})
    assert capsys.readouterr().err == ""
    note_build_env(tmp_path, {})
    assert "was built with --kb-env {'KB_RULE_X': 'off'}" in capsys.readouterr().err


def test_the_ablation_table_has_as_many_cells_in_every_row() -> None:
    from bench.ablate import ALL_ON, table

    text = table({ALL_ON: [1, 2, None, 1], "origin": [2, 2, None, 1]})
    rows = text.splitlines()
    assert len({row.count("|") for row in rows}) == 1, rows
    assert rows[-1].startswith("| origin | 0.250 | 0.750 |") and "-0.250" in rows[-1]
