"""Retrieval ranking: what a question names, terse commits, and the fused scores."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from gitrepo import Repo

from kb.app import KB
from kb.contract.connector import SourceConfig
from kb.retrieval.commit_search import CommitLog, words_of
from kb.retrieval.hybrid import Retriever, _plain_subject
from kb.retrieval.intent import _stem, names_of, period_named, read_intent
from kb.store.search import CommitMessage

SERVICES = {
    "user-service": "Customer accounts, authentication and the signing keys.",
    "notification-service": "Sends customer emails in reaction to platform events.",
    "order-service": "Owns orders: checkout and order status.",
}


def test_a_service_is_found_by_what_it_does_and_a_person_by_first_name() -> None:
    intent = read_intent(
        "Who took over the email service when Jamie left?", SERVICES, ["Jamie Lee"]
    )
    assert intent.services == ["notification-service"]
    assert intent.people == ["Jamie Lee"]
    assert intent.who and not intent.history  # "when Jamie left" is no question about time
    accounts = read_intent("the accounts API is slow", SERVICES)
    assert accounts.services == ["user-service"]
    # A bare common word names a service only loosely; "x service" names it for sure.
    loose = read_intent("why are orders stuck?", SERVICES)
    assert loose.services == loose.loose_services == ["order-service"]
    named = read_intent("why is the order service slow?", SERVICES)
    assert named.services == ["order-service"] and named.loose_services == []


@pytest.mark.parametrize(
    ("question", "kind", "expected"),
    [
        ("When did we start revoking token families?", "history", True),
        ("Do we have a backup processor for when Stripe is down?", "history", False),
        ("Do we have a backup processor for when Stripe is down?", "incident", True),
        ("Where are the decisions written down?", "incident", False),
        ("Where are the decisions written down?", "why", True),
        ("Can I rename a column without telling anyone?", "danger", True),
        ("Is it OK to change the consumer offset?", "danger", True),
        ("Why does the report leave out orders that were never paid?", "danger", False),
        ("Before the event-based design, how did checkout take the money?", "past", True),
        ("Why must it call the API before it can send anything?", "past", False),
        ("Are there hours when I should not run migrations?", "howto", False),
        # Paging someone asks who; a web page does not.
        ("Which team should I page when checkout fails?", "who", True),
        ("Is there anyone to page the on-call for the email service?", "who", True),
        ("How do I take a page off the site and redirect its visitors?", "who", False),
        ("Why is the multi-page request form not built on the wizard?", "who", False),
    ],
)
def test_question_kinds(question: str, kind: str, expected: bool) -> None:
    assert getattr(read_intent(question, SERVICES), kind) is expected


def test_periods_a_question_names() -> None:
    assert period_named("dashboards blank for a day in May 2026?") == (
        date(2026, 5, 1),
        date(2026, 6, 1),
    )
    assert period_named("the December 2024 outage") == (date(2024, 12, 1), date(2025, 1, 1))
    assert period_named("what broke on 2025-02-11?") == (date(2025, 2, 11), date(2025, 2, 12))
    assert period_named("anything in 2023?") == (date(2023, 1, 1), date(2024, 1, 1))
    assert period_named("may I deploy on Friday?") is None
    assert period_named("ticket 2026-13") is None


def test_commit_subjects_lose_their_ticket_and_pull_request_noise() -> None:
    assert _plain_subject("#5159: Reduce timeout to 30 seconds -[potato] (#5247)") == (
        "Reduce timeout to 30 seconds"
    )
    assert _plain_subject("USR-512: Two-week refresh tokens") == "Two-week refresh tokens"
    assert _plain_subject("(#12)") == "(#12)"  # nothing left: keep what there was


def test_commit_log_ranks_by_rare_words_and_reports_coverage() -> None:
    messages = [
        "Reduce gunicorn timeout to 30 seconds",
        "increase timeout",
        "Add request timeout",
        "Upgrade Django to 5.2",
        *[f"Fix typo in page {i}" for i in range(40)],
    ]
    log = CommitLog([CommitMessage(i, f"{i:040x}", "r", m) for i, m in enumerate(messages)], _stem)
    found = log.search(words_of("when was the gunicorn timeout cut to 30 seconds?"), 3)
    assert found[0].commit.message == messages[0]
    assert found[0].coverage > 2 * found[1].coverage
    assert words_of("Django 5.2") == ["django", "5.2"]
    assert log.search(["5.2"], 5)[0].commit.message == "Upgrade Django to 5.2"
    assert log.search(["kubernetes"], 5) == []


@pytest.fixture
def terse_repo(tmp_path: Path) -> Path:
    repo = Repo(tmp_path / "web")
    repo.commit(
        "Initial import",
        {
            "README.md": "# web\n\nThe web front end. Run it with `make serve`; it listens on "
            "port 8000 behind the load balancer.\n\n## Timeouts\n\nRequests time out "
            "after the gunicorn worker timeout set in `gunicorn.conf.py`.\n",
            "gunicorn.conf.py": "timeout = 120\nworkers = 4\n",
        },
    )
    for i in range(12):
        repo.commit(f"Tweak page {i} styles", {f"static/page_{i}.css": f"p {{ margin: {i}px }}\n"})
    repo.commit("Reduce gunicorn timeout to 30 seconds", {"gunicorn.conf.py": "timeout = 30\n"})
    repo.commit("Fix footer link", {"static/footer.css": "a { color: blue }\n"})
    return repo.path


def test_a_commit_that_is_only_a_subject_answers_a_history_question(
    kb_app: KB, terse_repo: Path
) -> None:
    kb_app.ingestor().run(SourceConfig("git", "web", str(terse_repo), {}))
    retriever = kb_app.retriever
    hits = retriever.search("When was the gunicorn worker timeout cut to 30 seconds?", k=5)
    assert hits[0].kind == "commit", [(h.kind, h.title) for h in hits]
    assert hits[0].title == "Reduce gunicorn timeout to 30 seconds"
    assert hits[0].repo == "web" and hits[0].commit and len(hits[0].commit) == 40
    # It is not a document: a question that asks no history gets the README, not the log.
    plain = retriever.search("Which port does the web front end listen on?", k=5)
    assert plain[0].path == "README.md"
    assert all(h.document_id > 0 for h in plain)


@pytest.mark.parametrize(
    ("question", "names"),
    [
        ("How do I generate GraphQL schemas from my UniFFI interfaces?", ["GraphQL", "UniFFI"]),
        ("What was decided about Erlang NIF bindings? Ask Maria.", ["Erlang", "NIF", "Maria"]),
        ("Why are dates strings in the ADR DTOs?", ["ADR", "DTO"]),
        ("Why does the build call Next.js directly?", ["Next.js"]),
        ("I don't have Swift installed; how do I run the tests?", ["Swift"]),
        ("Why is the gunicorn timeout 30 seconds?", []),
        # A month or a weekday is a date, not a name ("the March 2024 outage").
        ("Did the March 2024 outage also break Stripe webhooks on Friday?", ["Stripe"]),
        ("Why did we move off GraphQL in May?", ["GraphQL"]),
    ],
)
def test_the_names_a_question_uses(question: str, names: list[str]) -> None:
    # A capital that only starts a sentence ("Ask", "What", "I") names nothing.
    assert names_of(question) == names


def test_a_question_about_something_nothing_mentions_gets_i_dont_know(
    kb_app: KB, terse_repo: Path
) -> None:
    kb_app.ingestor().run(SourceConfig("git", "web", str(terse_repo), {}))
    # Close to the README in every other word, but nothing here mentions Kubernetes.
    answer = kb_app.ask("Why do the web front end's Kubernetes probes time out?", record=False)
    assert not answer.answered
    assert answer.answer.startswith(
        "I don't know: nothing in the knowledge base mentions Kubernetes"
    )
    assert answer.citations and all(c.role == "closest" for c in answer.citations)
    # A name found anywhere (a file's text, in any case: "Gunicorn" in gunicorn.conf.py) is
    # no reason to give up.
    known = kb_app.ask("Why do the web front end's Gunicorn requests time out?", record=False)
    assert known.answered and known.citations[0].path == "README.md"


def test_a_test_fixture_that_looks_like_the_answer_ranks_below_the_real_source(
    kb_app: KB, tmp_path: Path
) -> None:
    repo = Repo(tmp_path / "shop")
    repo.commit(
        "Record the order events decision",
        {
            "docs/adr/0001-order-events.md": "# 1. Publish order events to Kafka\n\n"
            "## Context\n\nOrders were lost when the payment service restarted.\n\n"
            "## Decision\n\nWe publish order events to Kafka; consumers retry.\n",
            # An integration test's sample project, shaped like the real decision.
            "tests/fixtures/project/docs/adr/0001-kafka.md": "# 1. Use Kafka for order events\n\n"
            "We use Kafka for order events.\n",
        },
    )
    kb_app.ingestor().run(SourceConfig("git", "shop", str(repo.path), {}))
    question = "Why do we use Kafka for order events?"
    fixture = "tests/fixtures/project/docs/adr/0001-kafka.md"
    off = Retriever(kb_app.store, kb_app.vectors, kb_app.query_encoder, rules_off={"test_files"})
    assert off.search(question, k=3)[0].path == fixture  # its words match best
    assert kb_app.retriever.search(question, k=3)[0].path == "docs/adr/0001-order-events.md"


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Who frees the error buffer in RustCallStatus?", True),
        ("Why is askama.toml pulled in with include_bytes?", True),
        ("Why does `make serve` bind port 8000?", True),
        ("Why does build() run twice?", True),
        ("Why do we publish docs to GitHub Pages?", False),
        ("How do I cut a UniFFI release?", False),
        ("What is end-to-end testing for?", False),
    ],
)
def test_questions_that_name_code(question: str, expected: bool) -> None:
    assert read_intent(question, SERVICES).code is expected


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Who wrote the decision about order events?", True),
        ("When was Docker support added?", True),
        ("When did the project start using Kafka?", True),
        ("Who knows the payment code now?", False),
        ("Who has run the service since the person who wrote it left?", False),
        ("When was the timeout cut to 30 seconds?", False),
        ("Why did we add a retry to the consumer?", False),
    ],
)
def test_questions_that_ask_who_wrote_or_when_something_came(question: str, expected: bool) -> None:
    assert read_intent(question, SERVICES).origin is expected


def test_who_wrote_a_decision_is_answered_by_the_commit_that_added_it(
    kb_app: KB, tmp_path: Path
) -> None:
    repo = Repo(tmp_path / "shop")
    adr = "docs/adr/0001-order-events.md"
    added = repo.commit(
        "Record the order events decision",
        {
            "docs/decisions/0001-order-events.md": "# 1. Publish order events to Kafka\n\n"
            "## Context\n\nOrders were lost when "
            "the payment service restarted.\n\n## Decision\n\nWe publish order events to "
            "Kafka; consumers retry.\n",
            "README.md": "# shop\n\nThe shop's order and payment services.\n",
        },
        author=("Ana Lima", "ana@example.com"),
    )
    # The decisions folder was renamed later: the rename is not who wrote it.
    (repo.path / "docs/adr").mkdir(parents=True)
    repo.git("mv", "docs/decisions/0001-order-events.md", adr)
    repo.commit("Move decision records to docs/adr", author=("Bo Chen", "bo@example.com"))
    repo.commit("Fix a typo", {adr: "# 1. Publish order events to Kafka\n\n## Context\n\n"
                "Orders were lost whenever the payment service restarted.\n\n## Decision\n\n"
                "We publish order events to Kafka; consumers retry.\n"})  # fmt: skip
    kb_app.ingestor().run(SourceConfig("git", "shop", str(repo.path), {}))
    question = "Who wrote the decision to publish order events to Kafka?"
    off = Retriever(kb_app.store, kb_app.vectors, kb_app.query_encoder, rules_off={"origin"})
    assert off.search(question, k=3)[0].path == adr
    hits = kb_app.retriever.search(question, k=3)
    assert (hits[0].kind, hits[0].commit, hits[0].source.author) == ("commit", added, "Ana Lima")
    assert hits[1].path == adr  # the decision itself follows its author's commit
    # Any other question about the decision is answered by the record itself.
    assert kb_app.retriever.search("Why do we publish order events?", k=3)[0].path == adr


def test_a_why_that_names_a_file_is_answered_by_its_comment(kb_app: KB, tmp_path: Path) -> None:
    repo = Repo(tmp_path / "web")
    repo.commit(
        "Serve the web front end with gunicorn",
        {
            "docs/adr/0002-gunicorn-workers.md": "# 2. Serve with gunicorn workers\n\n"
            "## Context\n\nThe web front end needs several workers and a worker timeout.\n\n"
            "## Decision\n\nWe serve it with gunicorn: four workers, and a worker timeout "
            "set in gunicorn.conf.py.\n",
            "gunicorn.conf.py": "workers = 4\n"
            "# 120 s, not the usual 30: the yearly report export takes up to 90 seconds and a\n"
            "# shorter worker timeout kills it half way.\n"
            "timeout = 120\n",
        },
    )
    kb_app.ingestor().run(SourceConfig("git", "web", str(repo.path), {}))
    question = "Why is the worker timeout in gunicorn.conf.py so long?"
    off = Retriever(kb_app.store, kb_app.vectors, kb_app.query_encoder, rules_off={"code_name"})
    assert off.search(question, k=3)[0].path == "docs/adr/0002-gunicorn-workers.md"
    assert kb_app.retriever.search(question, k=3)[0].path == "gunicorn.conf.py"


def test_who_wrote_a_file_added_by_the_last_commit_is_answered_by_that_commit(
    kb_app: KB, tmp_path: Path
) -> None:
    repo = Repo(tmp_path / "shop")
    repo.commit("Start the shop", {"README.md": "# shop\n\nThe shop's services.\n"})
    added = repo.commit(
        "Record the order events decision",
        {
            "docs/adr/0001-order-events.md": "# 1. Publish order events to Kafka\n\n"
            "## Decision\n\nWe publish order events to Kafka; consumers retry.\n"
        },
        author=("Ana Lima", "ana@example.com"),
    )  # HEAD: the files are read at this commit too
    kb_app.ingestor().run(SourceConfig("git", "shop", str(repo.path), {}))
    hits = kb_app.retriever.search("Who wrote the decision to publish order events?", k=3)
    assert (hits[0].kind, hits[0].commit) == ("commit", added)
    assert hits[1].path == "docs/adr/0001-order-events.md"


def test_one_change_landed_twice_is_one_source(kb_app: KB, tmp_path: Path) -> None:
    repo = Repo(tmp_path / "bindings")
    repo.commit("Initial import", {"README.md": "# bindings\n\nForeign-language bindings.\n"})
    message = (
        "Remove the oneshot dependency\n\n"
        "The futures code now completes its one-shot channel itself, so the oneshot crate\n"
        "and its patched fork are no longer needed.\n"
    )
    landed = repo.clock + timedelta(days=30)
    # The same change, applied twice: same message, same author, same time.
    first = repo.commit(message, {"Cargo.toml": "[dependencies]\n"}, when=landed)
    second = repo.commit(message, {"futures.rs": "// completes its own channel\n"}, when=landed)
    repo.commit("Fix footer link", {"footer.css": "a { color: blue }\n"})
    kb_app.ingestor().run(SourceConfig("git", "bindings", str(repo.path), {}))
    hits = kb_app.retriever.search("When was the oneshot dependency removed?", k=5)
    removals = [h for h in hits if h.title == "Remove the oneshot dependency"]
    assert len(removals) == 1, [(h.kind, h.title, h.commit) for h in hits]
    assert removals[0].commit in (first, second)
    assert hits[0] is removals[0]
