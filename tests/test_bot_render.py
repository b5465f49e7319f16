"""Block Kit rendering of kb's answers: Slack's size limits, links, the teller of a note."""

from __future__ import annotations

from typing import Any

from kb import Answer, Citation


def test_a_long_answer_is_split_within_block_kit_limits() -> None:
    from bot.render import BLOCKS_PER_MESSAGE, answer_blocks, messages, split_text

    paragraph = "The order service retries with backoff. " * 40
    long = Answer("q?", "\n\n".join([paragraph] * 60), 0.8, [], id="abc")
    long.citations = [Citation(_source(n), "snippet", 1.0, number=n) for n in range(1, 80)]
    blocks = answer_blocks(long)
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if "text" in b)
    chunks = list(messages(blocks))
    assert len(chunks) > 1 and all(len(c) <= BLOCKS_PER_MESSAGE for c in chunks)
    assert chunks[-1][-1]["type"] == "actions"  # the buttons close the last message
    assert "".join(split_text("word " * 2000, 100)).replace(" ", "") == "word" * 2000


def _source(n: int) -> Any:
    from kb.store.search import SourceRef

    return SourceRef(
        n,
        f"doc:{n}",
        "adr",
        f"ADR {n}: a decision [draft]",
        "repo",
        None,
        "docs/adr.md",
        "abc",
        f"https://git.example/adr/{n}",
        "Ann",
        None,
        None,
        {},
    )


def test_markdown_becomes_mrkdwn_and_a_note_names_its_teller() -> None:
    from datetime import UTC, datetime

    from bot.render import citation_line, mrkdwn

    assert mrkdwn("**Why** see [ADR 3](https://x.example/a) & <b>") == (
        "*Why* see <https://x.example/a|ADR 3> &amp; &lt;b&gt;"
    )
    from kb.store.search import SourceRef

    note = SourceRef(
        1,
        "taught:1",
        "note",
        "Drain the consumer first",
        None,
        None,
        None,
        None,
        "https://acme.slack.com/archives/C1/p1",
        "Bob Brown",
        datetime(2026, 11, 3, tzinfo=UTC),
        None,
        {},
    )
    line = citation_line(Citation(note, "", 1.0, number=2))
    assert line.startswith("*[2]* taught note: <https://acme.slack.com/archives/C1/p1|")
    assert line.endswith("taught by Bob Brown, 2026-11-03")


def test_tables_become_lines_a_phone_shows_whole() -> None:
    from bot.render import mrkdwn

    table = "Changes:\n\n| score | change |\n| ---: | --- |\n| 0.9 | `abc` fix |\n| 0.2 | docs |"
    assert mrkdwn(table) == "Changes:\n\n*score · change*\n• 0.9 · `abc` fix\n• 0.2 · docs"
