"""The optional LLM answerer: prompt, citation checking, fallbacks, and real provider round trips.

Chat models are langchain's own fake (a real subclass that records what it was sent) and, for
the providers, real langchain-openai / langchain-ollama clients talking HTTP to local fakes.
"""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from facts import make_hit
from fakes.ollama_api import FakeOllama
from fakes.openai_api import FakeOpenAI
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatResult
from pydantic import Field

from kb.answer.llm import (
    MAX_SOURCES,
    SOURCE_BUDGET_CHARS,
    LLMAnswerer,
    LLMResult,
    build_chat_model,
    build_llm_answerer,
    clean_citations,
)
from kb.errors import ConfigError, MissingExtraError
from kb.retrieval.hits import Hit
from kb.settings import Secret, Settings

QUESTION = "Why is order to payment asynchronous?"
SECRET = "sk-very-secret-key-0000"


class RecordingFakeChatModel(GenericFakeChatModel):
    """langchain's fake chat model, also keeping every message list it was sent."""

    received: list[list[BaseMessage]] = Field(default_factory=list)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.received.append(list(messages))
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


class BrokenChatModel(GenericFakeChatModel):
    """A chat model whose call fails the way a network call does."""

    def _generate(self, *args: Any, **kwargs: Any) -> ChatResult:
        raise TimeoutError("the model did not answer in time")


def _hit(number: int, **fields: Any) -> Hit:
    base: dict[str, Any] = {
        "document_id": number,
        "external_id": f"doc:{number}",
        "kind": "doc",
        "title": f"Document {number}",
        "repo": "shop",
        "path": f"docs/d{number}.md",
        "commit": None,
        "url": None,
        "snippet": f"snippet {number}",
        "score": 1.0 / number,
        "text": f"Text of document {number}.",
    }
    base.update(fields)
    return make_hit(**base)


@pytest.fixture
def hits() -> list[Hit]:
    """Four sources of different kinds, best first; the second is a superseded ADR."""
    return [
        _hit(
            1,
            kind="adr",
            title="ADR-0007: Order to payment is asynchronous",
            path="docs/adr/0007-async-payments.md",
            commit="a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
            status="accepted",
            author="Dana Reyes",
            created_at=datetime(2023, 3, 1, tzinfo=UTC),
            text="We publish OrderPlaced to the payments queue because synchronous calls "
            "to the payment provider timed out under Black Friday load (INC-42).",
        ),
        _hit(
            2,
            kind="adr",
            title="ADR-0003: Synchronous payment calls",
            path="docs/adr/0003-sync-payments.md",
            status="Superseded by ADR-0007",
            text="Order service calls payment-service synchronously over HTTP.",
        ),
        _hit(
            3,
            kind="slack",
            title="Thread in #inc-payments",
            repo=None,
            path=None,
            meta={"channel": "inc-payments"},
            author="Sam Okafor",
            created_at=datetime(2022, 11, 25, tzinfo=UTC),
            text="Payment provider p99 hit 30s, order-service threads exhausted.",
        ),
        _hit(
            4,
            kind="commit",
            title="Move payment capture to a consumer",
            commit="ffeeddccbbaa99887766554433221100ffeeddcc",
            path=None,
            text="Move payment capture to the payments-queue consumer.",
        ),
    ]


def _answerer(*replies: str) -> tuple[LLMAnswerer, RecordingFakeChatModel]:
    model = RecordingFakeChatModel(messages=iter([AIMessage(content=r) for r in replies]))
    return LLMAnswerer(model, name="fake"), model


# -- citations ----------------------------------------------------------------------------


def test_valid_citations_are_kept_in_first_use_order(hits: list[Hit]) -> None:
    answerer, _ = _answerer(
        "Payments are asynchronous because synchronous calls timed out [3][1]. "
        "The synchronous design [2] is history [1, 2]."
    )
    result = answerer.answer(QUESTION, hits)
    assert result == LLMResult(
        text="Payments are asynchronous because synchronous calls timed out [3][1]. "
        "The synchronous design [2] is history [1][2].",
        cited=[3, 1, 2],
    )


def test_numbers_matching_no_source_are_removed_without_leaving_gaps(hits: list[Hit]) -> None:
    answerer, _ = _answerer(
        "[9] Payments are asynchronous [1, 7]. The queue is Kafka [12]. Owners [0] changed."
    )
    result = answerer.answer(QUESTION, hits)
    assert result is not None
    assert result.text == "Payments are asynchronous [1]. The queue is Kafka. Owners changed."
    assert result.cited == [1]
    assert "  " not in result.text


def test_an_answer_with_only_invalid_citations_falls_back(hits: list[Hit]) -> None:
    answerer, _ = _answerer("Because of the new event bus [5][6, 8].")
    assert answerer.answer(QUESTION, hits) is None


def test_an_answer_with_no_citation_at_all_falls_back(hits: list[Hit]) -> None:
    answerer, _ = _answerer("Because asynchronous is more scalable.")
    assert answerer.answer(QUESTION, hits) is None


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "   \n",
        "I don't know.",
        "I don’t know — the sources only cover billing [2].",
        "I do not know.",
        "The sources do not answer this question.",
        "<think>Source [1] looks relevant [1].</think>",
        "<think>still thinking about [1] when the output was cut",
    ],
)
def test_empty_or_dont_know_answers_fall_back(hits: list[Hit], reply: str) -> None:
    answerer, _ = _answerer(reply)
    assert answerer.answer(QUESTION, hits) is None


def test_reasoning_is_dropped_and_the_answer_kept(hits: list[Hit]) -> None:
    answerer, _ = _answerer("<think>Maybe [4]?</think>\nIt avoids provider timeouts [1].")
    assert answerer.answer(QUESTION, hits) == LLMResult("It avoids provider timeouts [1].", [1])


@pytest.mark.parametrize(
    ("raw", "text", "cited"),
    [
        ("Async [1].", "Async [1].", [1]),
        ("Async [1, 3].", "Async [1][3].", [1, 3]),
        ("Async [1,3; 2].", "Async [1][3][2].", [1, 3, 2]),
        ("Async [1][2].", "Async [1][2].", [1, 2]),
        ("Async [1 and 2].", "Async [1][2].", [1, 2]),
        ("Async [1†source].", "Async [1].", [1]),
        ("Async 【2†L10-L20】.", "Async [2].", [2]),
        ("Async [^3].", "Async [3].", [3]),
        ("Async [Source 2].", "Async [2].", [2]),
        ("Async [sources: 1, 4].", "Async [1][4].", [1, 4]),
        ("Async [2-4].", "Async [2][3][4].", [2, 3, 4]),
        ("Async [1, 1] and again [1].", "Async [1] and again [1].", [1]),
        (
            "Async [1]. See [the ADR](http://x/adr) and [ ] item, since [2023].",
            "Async [1]. See [the ADR](http://x/adr) and [ ] item, since [2023].",
            [1],
        ),
        ("Line one [1].\n[7] Line two [2].", "Line one [1].\nLine two [2].", [1, 2]),
    ],
)
def test_citation_variants_are_normalised(raw: str, text: str, cited: list[int]) -> None:
    assert clean_citations(raw, source_count=4) == LLMResult(text, cited)


def test_a_failing_model_logs_a_warning_and_falls_back(
    hits: list[Hit], caplog: pytest.LogCaptureFixture
) -> None:
    answerer = LLMAnswerer(BrokenChatModel(messages=iter([])), name="broken")
    with caplog.at_level(logging.WARNING, logger="kb.answer.llm"):
        assert answerer.answer(QUESTION, hits) is None
    assert "broken" in caplog.text and "TimeoutError" in caplog.text


def test_no_sources_means_no_model_call() -> None:
    answerer, model = _answerer("Anything [1].")
    assert answerer.answer(QUESTION, []) is None
    assert model.received == []


# -- the prompt ---------------------------------------------------------------------------


def test_the_prompt_holds_the_numbered_sources_and_the_question_only(hits: list[Hit]) -> None:
    answerer, model = _answerer("Timeouts [1].")
    answerer.answer(QUESTION, hits)

    [messages] = model.received
    assert [type(m) for m in messages] == [SystemMessage, HumanMessage]
    system, human = (str(m.content) for m in messages)
    assert "only" in system.lower() and "[1]" in system and "I don't know" in system
    assert "SUPERSEDED" in system

    lines = human.splitlines()
    assert lines[0] == "Sources:"
    assert lines[-1] == f"Question: {QUESTION}"
    headers = [line for line in lines if line.startswith("[")]
    assert headers == [
        "[1] ADR: ADR-0007: Order to payment is asynchronous | status: accepted | "
        "shop/docs/adr/0007-async-payments.md | commit a1b2c3d4e5f6 | 2023-03-01 | by Dana Reyes",
        "[2] ADR: ADR-0003: Synchronous payment calls | status: Superseded by ADR-0007 — "
        "SUPERSEDED, history not the current decision | shop/docs/adr/0003-sync-payments.md",
        "[3] slack: Thread in #inc-payments | channel #inc-payments | 2022-11-25 | by Sam Okafor",
        "[4] commit: Move payment capture to a consumer | shop | commit ffeeddccbbaa",
    ]
    for hit in hits:
        assert hit.text in human
    # Nothing but sources and question: every non-empty line is a header, a text, or framing.
    allowed = {"Sources:", f"Question: {QUESTION}", *headers, *(h.text for h in hits)}
    assert {line for line in lines if line} == allowed


def test_the_snippet_stands_in_when_a_hit_has_no_text(hits: list[Hit]) -> None:
    answerer, model = _answerer("Timeouts [1].")
    answerer.answer(QUESTION, [_hit(1, text="", snippet="only the snippet survives")])
    assert "only the snippet survives" in str(model.received[0][1].content)


def test_long_sources_are_trimmed_to_the_budget_best_first() -> None:
    long_hits = [_hit(n, text=f"source{n} " + "word " * 4000) for n in range(1, 7)]
    answerer, model = _answerer("Timeouts [1].")
    answerer.answer(QUESTION, long_hits)
    human = str(model.received[0][1].content)
    assert len(human) < SOURCE_BUDGET_CHARS + 1500
    positions = [human.index(f"[{n}] doc: Document {n}") for n in range(1, 7)]
    assert positions == sorted(positions)
    for n in range(1, 7):
        assert f"source{n} word" in human  # every source keeps some of its text
    assert human.count(" …") == 6


def test_only_the_first_sources_are_shown_and_citable() -> None:
    many = [_hit(n) for n in range(1, MAX_SOURCES + 6)]
    answerer, model = _answerer(f"From [2] and [{MAX_SOURCES + 2}].")
    result = answerer.answer(QUESTION, many)
    human = str(model.received[0][1].content)
    assert f"[{MAX_SOURCES}] doc" in human and f"[{MAX_SOURCES + 1}] doc" not in human
    assert result == LLMResult("From [2] and.", [2])


# -- building the chat model from settings -----------------------------------------------


def _settings(tmp_path: Path, **fields: Any) -> Settings:
    return Settings(home=tmp_path / "kb", **fields)


def test_provider_none_means_no_model(tmp_path: Path) -> None:
    settings = _settings(tmp_path, llm_provider="none", llm_model="ignored")
    assert build_chat_model(settings) is None
    assert build_llm_answerer(settings) is None


@pytest.mark.parametrize("provider", ["openai", "ollama"])
def test_a_provider_without_a_model_name_is_a_config_error(tmp_path: Path, provider: str) -> None:
    with pytest.raises(ConfigError, match="KB_LLM_MODEL"):
        build_chat_model(_settings(tmp_path, llm_provider=provider, llm_model=" "))


def test_a_base_url_that_is_not_http_is_a_config_error(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, llm_provider="openai", llm_model="m", llm_base_url="127.0.0.1:8000/v1"
    )
    with pytest.raises(ConfigError, match="KB_LLM_BASE_URL"):
        build_chat_model(settings)


@pytest.mark.parametrize(
    ("provider", "module", "extra"),
    [("openai", "langchain_openai", "openai"), ("ollama", "langchain_ollama", "ollama")],
)
def test_a_missing_provider_package_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, provider: str, module: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    with pytest.raises(MissingExtraError) as caught:
        build_chat_model(_settings(tmp_path, llm_provider=provider, llm_model="m"))
    assert f"system-wisdom[{extra}]" in str(caught.value)
    assert caught.value.extra == extra


def test_kb_llm_imports_without_the_provider_packages() -> None:
    code = (
        "import sys\n"
        "sys.modules['langchain_openai'] = sys.modules['langchain_ollama'] = None\n"
        "import kb.answer.llm\n"
        "assert 'langchain_core.language_models' not in sys.modules, 'imported eagerly'\n"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# -- a real round trip over HTTP: OpenAI-compatible ---------------------------------------


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key="sk-test") as server:
        yield server


def _openai_settings(tmp_path: Path, url: str, **fields: Any) -> Settings:
    values: dict[str, Any] = {
        "llm_provider": "openai",
        "llm_base_url": url + "/v1",
        "llm_model": "test",
        "llm_api_key": Secret("sk-test"),
        "llm_timeout_s": 5.0,
        "slack_bot_token": SECRET,
        **fields,
    }
    return _settings(tmp_path, **values)


def test_openai_compatible_round_trip(
    tmp_path: Path, openai_server: FakeOpenAI, hits: list[Hit]
) -> None:
    settings = _openai_settings(tmp_path, openai_server.url)
    answerer = build_llm_answerer(settings)
    assert answerer is not None and answerer.name == "openai:test"
    openai_server.reply("Synchronous calls timed out under load [1]; see the incident [3†source].")

    result = answerer.answer(QUESTION, hits)

    assert result == LLMResult(
        "Synchronous calls timed out under load [1]; see the incident [3].", [1, 3]
    )
    [call] = openai_server.chat_calls()
    assert call.path == "/v1/chat/completions"
    assert call.headers["authorization"] == "Bearer sk-test"
    body = call.body
    assert body["model"] == "test"
    assert body["temperature"] == 0
    assert not body.get("stream")
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    user = body["messages"][1]["content"]
    assert user.startswith("Sources:\n\n[1] ADR: ADR-0007")
    assert "[4] commit: Move payment capture" in user
    assert user.endswith(f"Question: {QUESTION}")
    # Only sources and question leave the machine: no settings, no secrets, no local paths.
    sent = json.dumps(body)
    for private in (SECRET, "sk-test", str(tmp_path), "KB_", "127.0.0.1"):
        assert private not in sent


def test_openai_without_a_key_sends_a_placeholder_not_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hits: list[Hit]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    with FakeOpenAI() as server:
        server.reply("Timeouts [1].")
        settings = _openai_settings(tmp_path, server.url, llm_api_key=None)
        answerer = build_llm_answerer(settings)
        assert answerer is not None
        assert answerer.answer(QUESTION, hits) == LLMResult("Timeouts [1].", [1])
        [call] = server.chat_calls()
    assert call.headers["authorization"] == "Bearer not-needed"


def test_openai_http_500_falls_back_without_retrying(
    tmp_path: Path, openai_server: FakeOpenAI, hits: list[Hit]
) -> None:
    openai_server.fail(500, times=5)
    answerer = build_llm_answerer(_openai_settings(tmp_path, openai_server.url))
    assert answerer is not None
    assert answerer.answer(QUESTION, hits) is None
    assert len(openai_server.chat_calls()) == 1  # no retry: fall back at once


def test_openai_rate_limit_falls_back(
    tmp_path: Path, openai_server: FakeOpenAI, hits: list[Hit]
) -> None:
    openai_server.fail(429, times=5)
    answerer = build_llm_answerer(_openai_settings(tmp_path, openai_server.url))
    assert answerer is not None
    assert answerer.answer(QUESTION, hits) is None


def test_openai_timeout_falls_back_quickly(
    tmp_path: Path, openai_server: FakeOpenAI, hits: list[Hit]
) -> None:
    openai_server.hang(times=5)
    answerer = build_llm_answerer(_openai_settings(tmp_path, openai_server.url, llm_timeout_s=0.5))
    assert answerer is not None
    started = time.monotonic()
    assert answerer.answer(QUESTION, hits) is None
    assert time.monotonic() - started < 2.5
    assert 1 <= len(openai_server.chat_calls()) <= 2


def test_openai_connection_refused_falls_back(tmp_path: Path, hits: list[Hit]) -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    answerer = build_llm_answerer(_openai_settings(tmp_path, f"http://127.0.0.1:{port}"))
    assert answerer is not None
    started = time.monotonic()
    assert answerer.answer(QUESTION, hits) is None
    assert time.monotonic() - started < 3


# -- a real round trip over HTTP: Ollama --------------------------------------------------


def test_ollama_model_points_at_the_base_url(tmp_path: Path) -> None:
    from langchain_ollama import ChatOllama

    settings = _settings(
        tmp_path,
        llm_provider="ollama",
        llm_model="llama3.1:8b",
        llm_base_url="http://10.0.0.5:11434",
    )
    model = build_chat_model(settings)  # no network: nothing listens there
    assert isinstance(model, ChatOllama)
    assert model.base_url == "http://10.0.0.5:11434"
    assert model.model == "llama3.1:8b"
    assert model.temperature == 0


def test_ollama_round_trip(tmp_path: Path, hits: list[Hit]) -> None:
    with FakeOllama() as server:
        server.reply("The provider timed out under load [1] [6].")
        settings = _settings(
            tmp_path,
            llm_provider="ollama",
            llm_model="test",
            llm_base_url=server.url,
            slack_bot_token=SECRET,
        )
        answerer = build_llm_answerer(settings)
        assert answerer is not None and answerer.name == "ollama:test"
        result = answerer.answer(QUESTION, hits)
        [call] = server.chat_calls()
    assert result == LLMResult("The provider timed out under load [1].", [1])
    assert call.path == "/api/chat"
    assert call.body["model"] == "test"
    assert call.body["options"]["temperature"] == 0
    assert [m["role"] for m in call.body["messages"]] == ["system", "user"]
    assert "[2] ADR: ADR-0003" in call.body["messages"][1]["content"]
    assert SECRET not in json.dumps(call.body)


def test_ollama_timeout_falls_back_quickly(tmp_path: Path, hits: list[Hit]) -> None:
    with FakeOllama() as server:
        server.hang()
        settings = _settings(
            tmp_path,
            llm_provider="ollama",
            llm_model="test",
            llm_base_url=server.url,
            llm_timeout_s=0.5,
        )
        answerer = build_llm_answerer(settings)
        assert answerer is not None
        started = time.monotonic()
        assert answerer.answer(QUESTION, hits) is None
        assert time.monotonic() - started < 2
