"""The embedder: the bundled model, offline, 384-dim unit vectors, each text embedded once."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

from kb.embedding.embedder import CachedEmbedder, SentenceTransformerEmbedder, bundled_model_dir
from kb.store import Store


def _cos(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_bundled_model_gives_normalised_384_dim_vectors_offline(
    embedder: SentenceTransformerEmbedder,
) -> None:
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    assert embedder.model_dir == bundled_model_dir()
    assert (embedder.model_dir / "model.safetensors").exists()
    vecs = embedder.embed(
        [
            "order-service calls payment-service asynchronously through events",
            "payments are requested with an event instead of a blocking HTTP call",
            "the office coffee machine is broken again",
        ]
    )
    assert [len(v) for v in vecs] == [384, 384, 384]
    for v in vecs:
        assert math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, abs_tol=1e-4)
    assert _cos(vecs[0], vecs[1]) > _cos(vecs[0], vecs[2]) + 0.2


class CountingEmbedder:
    """The real model, counting what it is asked to embed."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner = inner
        self.model_name = inner.model_name
        self.dim = inner.dim
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        return self.inner.embed(texts)


def test_text_already_embedded_is_never_embedded_again(
    embedder: SentenceTransformerEmbedder, tmp_path
) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    store.migrate()
    counting = CountingEmbedder(embedder)
    cached = CachedEmbedder(counting, store)
    first = cached.embed(["alpha", "beta", "alpha"])
    assert counting.calls == [["alpha", "beta"]]
    again = cached.embed(["beta", "gamma", "alpha"])
    assert counting.calls[-1] == ["gamma"]
    assert again[0] == first[1] and again[2] == first[0]
    # A new process (new cache object) still finds the stored vectors.
    fresh = CachedEmbedder(counting, store)
    fresh.embed(["alpha", "beta", "gamma"])
    assert len(counting.calls) == 2
    store.close()
