"""A local fake Ollama over HTTP: `POST /api/chat` (streamed NDJSON or one JSON object).

Like a real Ollama it also speaks the OpenAI-compatible API under /v1 (inherited from
`FakeOpenAI`, with the same reply queue, failure injection and request recording).
`url` goes to KB_LLM_BASE_URL as is.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from fakes.openai_api import FakeOpenAI


class FakeOllama(FakeOpenAI):
    """A fake Ollama server on 127.0.0.1."""

    routes: ClassVar[dict[tuple[str, str], str]] = {
        **FakeOpenAI.routes,
        ("POST", "/api/chat"): "ollama_chat",
        ("GET", "/api/version"): "version",
        ("GET", "/api/tags"): "tags",
    }

    def ollama_chat(self, body: Any) -> tuple[int, Any]:
        text = self.next_reply()
        model = body.get("model", "")
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        done = {
            "model": model,
            "created_at": created,
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "total_duration": 1000,
            "prompt_eval_count": 10,
            "eval_count": 5,
        }
        if body.get("stream") is False:
            return 200, {**done, "message": {"role": "assistant", "content": text}}
        # Streamed like Ollama: one line per word, then the closing `done` line.
        words = text.split(" ")
        parts = [
            {
                "model": model,
                "created_at": created,
                "message": {"role": "assistant", "content": w if i == 0 else " " + w},
                "done": False,
            }
            for i, w in enumerate(words)
        ]
        return 200, [*parts, done]

    def version(self, body: Any) -> tuple[int, Any]:
        return 200, {"version": "0.6.0"}

    def tags(self, body: Any) -> tuple[int, Any]:
        return 200, {"models": [{"name": "test", "model": "test"}]}
