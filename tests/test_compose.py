"""The answer composer's sentence choice, comment blocks of code and underlined headings."""

from __future__ import annotations

import pytest

from connectors.git.code import comment_blocks, comment_chunks
from kb.answer.compose import Scored, focused, new_share, sentences_of
from kb.contract.chunking import chunk_markdown
from kb.errors import ConfigError
from kb.retrieval.hybrid import RULES, Retriever

ADR = """# 7. Use Kafka for order events

Status: accepted
Date: 2024-03-01

## Context

Orders were lost when the payment service
restarted during a deploy, because the HTTP call
had no retry.

## Decision

We publish order events to Kafka. Consumers
retry until they succeed.

- at-least-once delivery
- idempotent consumers

## Links

- see the runbook
"""


def test_sentences_join_wrapped_lines_and_keep_list_items_apart() -> None:
    got = sentences_of(ADR)
    assert (
        "Orders were lost when the payment service restarted during a deploy, because the "
        "HTTP call had no retry." in got
    )
    assert "at-least-once delivery" in got and "idempotent consumers" in got
    assert not any(s.startswith(("Status:", "Date:", "#")) for s in got)


def test_bold_markers_do_not_reach_the_answer() -> None:
    got = sentences_of(
        "- **Ticket:** SHOP-412 (follow-ups SHOP-413 to SHOP-416)\n"
        "- **Impact:** checkout returned errors for **47 minutes** and 38 customers paid twice.\n\n"
        "The handler passes **kwargs through to the client unchanged.\n"
    )
    assert got == [
        "Ticket: SHOP-412 (follow-ups SHOP-413 to SHOP-416)",
        "Impact: checkout returned errors for 47 minutes and 38 customers paid twice.",
        "The handler passes **kwargs through to the client unchanged.",
    ]


def test_markdown_markup_reads_as_text_and_footnotes_are_left_out() -> None:
    got = sentences_of(
        "We met Design ~and the mayor~ [^1] and read the [18F guide](https://example.org/a_(b)).\n"
        "1. Announce it using **@here** in \\#ops-announce, as *anyone* may.\n"
        '2. Then see ![the flow](img/flow.png "flow") and keep `*args` and a * b as they are.\n'
        "Then compute ~5 s and ~/bin twice.\n\n"
        "[^1]: An inside joke.\n"
        "It goes on here, still in the footnote.\n\n"
        "After the footnote, ~~the old plan~~ the new plan holds.\n"
    )
    assert got == [
        "We met Design and read the 18F guide.",
        "Announce it using @here in #ops-announce, as anyone may.",
        "Then see the flow and keep `*args` and a * b as they are.",
        "Then compute ~5 s and ~/bin twice.",
        "After the footnote, the new plan holds.",
    ]


def test_outcome_and_labelled_sentences_are_kept_and_status_lines_and_addresses_are_not() -> None:
    got = sentences_of(
        "## Decision Outcome\n\n"
        'Chosen option: "Option 2: Lunr.js".\n\n'
        "Status: accepted\n\n"
        "Deciders: Alice, Bob and Carol\n\n"
        "Cost: Cost was not a factor in the choice.\n\n"
        "- Option 1 <https://fusejs.io/> indexes fast.\n"
        "- <https://lunrjs.com/>\n"
    )
    assert got == [
        'Chosen option: "Option 2: Lunr.js".',
        "Cost: Cost was not a factor in the choice.",
        "Option 1 indexes fast.",
    ]


def test_focused_prefers_substance_and_ends_sentences() -> None:
    passages = [
        Scored(0.5, "Use Kafka > Context", ADR.split("## Context")[1].split("##")[0], 1),
        Scored(0.5, "Use Kafka > Decision", ADR.split("## Decision")[1].split("##")[0], 2),
        Scored(0.5, "Use Kafka > Links", "- see the runbook for the order topic", 3),
    ]
    text = focused(passages, ["order", "events", "kafka", "retry"], ["because"], 200)
    assert "We publish order events to Kafka." in text
    assert "runbook" not in text  # a Links section is bookkeeping
    assert len(text) <= 200
    # Source order is kept: the context comes before the decision it led to.
    long = focused(passages, ["order", "kafka"], [], 1000)
    assert long.index("Orders were lost") < long.index("We publish")
    # The items of one list read as one sentence.
    assert "at-least-once delivery; idempotent consumers." in long


def test_a_sentence_in_two_overlapping_passages_is_quoted_once() -> None:
    shared = "Message the team channel with your user id to be made a superuser."
    passages = [
        Scored(0.6, "Setup > Access", f"Ask for admin access early. {shared}", 1),
        Scored(0.6, "Setup > Access", f"{shared} Designers get the same rights.", 2),
    ]
    text = focused(passages, ["admin", "access", "superuser"], [], 1000)
    assert text.count("superuser") == 1
    assert "Ask for admin access early." in text and "Designers get the same rights." in text


def test_a_list_and_the_line_leading_into_it_read_as_one_sentence() -> None:
    text = (
        "We compared two search libraries:\n\n"
        "- Fuse.js indexes fast\n"
        "  - but searches slowly\n"
        "- Lunr has stemming and prebuilt indexes\n\n"
        "We chose Lunr for the static site.\n"
    )
    got = focused([Scored(0.6, "Decision", text, 0)], ["search", "lunr"], [], 1000)
    assert got == (
        "We compared two search libraries: Fuse.js indexes fast; but searches slowly; Lunr has "
        "stemming and prebuilt indexes. We chose Lunr for the static site."
    )
    # Items of two lists, or a list and the prose after it, stay apart.
    two = (
        "- first list item one\n- first list item two\n\nProse between the lists.\n\n"
        "- other list item\n"
    )
    assert focused([Scored(0.6, None, two, 0)], ["list"], [], 1000) == (
        "first list item one; first list item two. Prose between the lists. other list item."
    )
    # A decision record's 'Chosen option: "X", because' leads into its reasons the same way.
    outcome = 'Chosen option: "ADR number", because\n\n- titles repeat\n- filenames are long\n'
    assert focused([Scored(0.6, "Decision Outcome", outcome, 0)], ["adr"], [], 1000) == (
        'Chosen option: "ADR number", because titles repeat; filenames are long.'
    )


def test_new_share_counts_unsaid_words() -> None:
    assert new_share("Kafka retries orders", "we use kafka for orders and retries") == 0.0
    assert new_share("Consumers are idempotent", "we use kafka") == 1.0


def test_comment_blocks_keep_prose_comments_with_the_code_they_explain() -> None:
    code = (
        "// Copyright 2024 Example Corp. Licensed under the Apache License.\n"
        "fn a() {}\n"
        "\n"
        "// The checksum leaves the FFI function out: it is derived from the checksum\n"
        "// itself, so including it would make the computation circular.\n"
        "fn checksum(f: &Function) -> u16 {\n"
        "    let x = 1; // short note\n"
        "}\n"
    )
    blocks = comment_blocks(code, "src/function.rs")
    assert [b.line for b in blocks] == [4]
    assert blocks[0].code.startswith("fn checksum")
    chunks = comment_chunks("src/function.rs", blocks)
    assert chunks[0].heading == "src/function.rs > fn checksum(f: &Function) -> u16 {"
    assert "circular" in chunks[0].text and chunks[0].start_line == 4


def test_underlined_headings_split_restructuredtext() -> None:
    text = (
        "Title\n=====\n\nIntro.\n\nContext\n-------\n\nWhy it was needed.\n\n"
        "Decision\n--------\n\nWhat we do.\n"
    )
    chunks = chunk_markdown(text)
    assert [c.heading for c in chunks] == ["Title", "Title > Context", "Title > Decision"]
    front = chunk_markdown("---\ntitle: x\n---\n# Head\n\nbody\n")
    assert [c.heading for c in front] == [None, "Head"]


def test_unknown_rule_names_are_refused() -> None:
    assert "superseded" in RULES
    with pytest.raises(ConfigError):
        Retriever(None, None, None, rules_off=["no-such-rule"])  # type: ignore[arg-type]
