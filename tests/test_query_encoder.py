"""The ONNX query encoder: same vectors as sentence-transformers, no torch, safe exports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kb.embedding.embedder import SentenceTransformerEmbedder, bundled_model_dir
from kb.embedding.query_encoder import (
    ONNX_NAME,
    OnnxQueryEncoder,
    PipelineConfig,
    ensure_query_encoder,
    identity_path,
    load_query_encoder,
)
from kb.errors import ConfigError

MAX_COSINE_DISTANCE = 1e-4

LONG_PROSE = " ".join(
    f"Payment retries {i} times before the order service marks checkout failed." for i in range(40)
)
TEXTS = [
    "",
    "a",
    "why?",
    "payment-service timeouts",
    "why is order↔payment async?",
    "Why is order to payment asynchronous?",
    "who knows the inventory service best",
    "what happened in INC-2024-03-14 checkout outage",
    "  leading and trailing whitespace  ",
    "line one\nline two\n\ttabbed",
    "UPPER CASE QUESTION ABOUT KAFKA TOPICS",
    "Ünïcödé: naïve café, Straße, ﬁ ligature",
    "日本語のテキストと中文文本",
    "Привет, почему платежи асинхронные?",
    "emoji 🚀🔥 deploy on friday 😱",
    "def retry(fn, attempts=3):\n    # DO NOT TOUCH: legacy\n    return fn()",
    "SELECT * FROM orders WHERE status = 'PENDING' AND created_at < now() - interval '1 day';",
    '{"service": "payment", "timeout_ms": 3000, "retries": [1, 2, 4]}',
    "ADR-0007: Use an outbox and Kafka between order and payment (superseded by ADR-0012)",
    "https://shopfast.slack.com/archives/C0INCIDENTS/p1710412345000100",
    "git log --follow -- services/payment/gateway.py",
    "x" * 2000,
    "word " * 600,
    LONG_PROSE,
    LONG_PROSE.upper(),
    "🙂" * 300,
    "a\u200bzero\u200bwidth\u200bspace and\u00a0no-break\u00a0space",
    "tabs\tand\rcarriage\r\nreturns",
    "numbers 3.14159 2.71828 1e-9 0xDEADBEEF",
    "The on-call engineer at 3 AM asks: payment-service latency p99 > 2s, what changed?",
]


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One export of the bundled model for the whole module (it costs a few seconds)."""
    directory = tmp_path_factory.mktemp("models")
    ensure_query_encoder(directory)
    return directory


@pytest.fixture(scope="module")
def encoder(export_dir: Path) -> OnnxQueryEncoder:
    """The ONNX encoder loaded from the module's export."""
    loaded = load_query_encoder(export_dir)
    assert loaded is not None
    return loaded


def cosine_distances(a: list[list[float]], b: list[list[float]]) -> np.ndarray:
    """1 - cos between paired rows (inputs are unit vectors)."""
    return 1.0 - np.sum(np.asarray(a) * np.asarray(b), axis=1)


def copy_export(src: Path, dst: Path) -> Path:
    """A private copy of the export, for tests that damage or redo it."""
    dst.mkdir()
    for name in (ONNX_NAME, identity_path(Path(ONNX_NAME)).name):
        shutil.copy2(src / name, dst / name)
    return dst


def test_vectors_equal_sentence_transformers(
    encoder: OnnxQueryEncoder, embedder: SentenceTransformerEmbedder
) -> None:
    assert encoder.model_name == embedder.model_name == "all-MiniLM-L6-v2"
    assert encoder.dim == embedder.dim == 384
    ours = encoder.embed(TEXTS)
    theirs = embedder.embed(TEXTS)
    distances = cosine_distances(ours, theirs)
    worst = int(np.argmax(distances))
    assert distances[worst] <= MAX_COSINE_DISTANCE, TEXTS[worst][:80]
    assert np.allclose(np.linalg.norm(np.asarray(ours), axis=1), 1.0, atol=1e-5)


def test_truncates_at_max_seq_length_like_sentence_transformers(
    encoder: OnnxQueryEncoder, embedder: SentenceTransformerEmbedder
) -> None:
    # tokenizer.json alone truncates at 128; sentence-transformers at 256 (its config).
    assert PipelineConfig.read(bundled_model_dir()).max_seq_length == 256
    words = [f"w{i}" for i in range(400)]
    n_tokens = len(encoder.tokenizer.encode(" ".join(words[:70])).ids)
    assert 128 < n_tokens < 256  # [CLS] + about 200 word pieces + [SEP]
    within_256 = " ".join(words[:70])
    longer = " ".join(words)
    texts = [within_256, within_256 + " and more", longer, longer + " and something else"]
    ours = encoder.embed(texts)
    assert cosine_distances(ours, embedder.embed(texts)).max() <= MAX_COSINE_DISTANCE
    # Words past token 256 are ignored; words between 128 and 256 are not.
    assert cosine_distances([ours[2]], [ours[3]])[0] < 1e-6
    assert cosine_distances([ours[0]], [ours[1]])[0] > 1e-4


def test_batch_equals_one_by_one(encoder: OnnxQueryEncoder) -> None:
    # Mixed lengths, so most texts are padded in the batch (256-token ones are slow on CPU).
    texts = [t for t in TEXTS if len(t) < 300] + [LONG_PROSE]
    batch = encoder.embed(texts)
    single = [encoder.embed([t])[0] for t in texts]
    assert np.abs(np.asarray(batch) - np.asarray(single)).max() < 1e-5
    assert encoder.embed([]) == []
    # Input order is kept even though batches are sorted by length inside.
    assert np.allclose(encoder.embed(texts[::-1]), batch[::-1], atol=1e-5)


def test_fresh_process_never_imports_torch(export_dir: Path, encoder: OnnxQueryEncoder) -> None:
    script = f"""
import json, sys
from pathlib import Path
from kb.embedding.query_encoder import load_query_encoder
enc = load_query_encoder(Path({str(export_dir)!r}))
vec = enc.embed(["why is order to payment async?"])[0]
heavy = sorted(m for m in sys.modules
               if m.split(".")[0] in ("torch", "transformers", "sentence_transformers"))
print(json.dumps({{"heavy": heavy, "vec": vec}}))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["heavy"] == []
    want = encoder.embed(["why is order to payment async?"])
    assert cosine_distances([result["vec"]], want)[0] < 1e-6


def test_up_to_date_export_is_not_redone(export_dir: Path) -> None:
    onnx = export_dir / ONNX_NAME
    before = (onnx.stat().st_mtime_ns, identity_path(onnx).read_text())
    assert ensure_query_encoder(export_dir) == onnx
    assert (onnx.stat().st_mtime_ns, identity_path(onnx).read_text()) == before
    identity = json.loads(identity_path(onnx).read_text())
    assert identity["model_size"] == (bundled_model_dir() / "model.safetensors").stat().st_size
    assert identity["onnx_size"] == onnx.stat().st_size
    # Readable by the bot or dashboard running as another user than the ingest.
    assert onnx.stat().st_mode & 0o777 == identity_path(onnx).stat().st_mode & 0o777 == 0o644
    # The export was written through a temp file and renamed: nothing half-written is left.
    assert sorted(p.name for p in export_dir.iterdir() if not p.name.startswith(".q")) == [
        "query-encoder.json",
        "query-encoder.onnx",
    ]
    assert not list(export_dir.glob("*.tmp")) and not list(export_dir.glob(".*.tmp"))


def test_export_from_another_model_is_redone(export_dir: Path, tmp_path: Path) -> None:
    cache = copy_export(export_dir, tmp_path / "models")
    ident_file = identity_path(cache / ONNX_NAME)
    identity = json.loads(ident_file.read_text())
    real_sha = identity["model_sha256"]
    identity.update(model_sha256="0" * 64, model_mtime_ns=1)
    ident_file.write_text(json.dumps(identity))

    assert load_query_encoder(cache) is None  # stale: callers fall back to torch
    ensure_query_encoder(cache)
    assert json.loads(ident_file.read_text())["model_sha256"] == real_sha
    assert load_query_encoder(cache) is not None


def test_older_export_format_is_not_loaded(export_dir: Path, tmp_path: Path) -> None:
    cache = copy_export(export_dir, tmp_path / "models")
    ident_file = identity_path(cache / ONNX_NAME)
    identity = json.loads(ident_file.read_text())
    ident_file.write_text(json.dumps({**identity, "format": 0}))
    assert load_query_encoder(cache) is None
    ident_file.write_text("{not json")
    assert load_query_encoder(cache) is None
    ident_file.unlink()
    assert load_query_encoder(cache) is None
    assert load_query_encoder(tmp_path / "nothing-here") is None


def test_corrupt_export_is_detected_and_redone(
    export_dir: Path, tmp_path: Path, encoder: OnnxQueryEncoder
) -> None:
    cache = copy_export(export_dir, tmp_path / "models")
    onnx = cache / ONNX_NAME
    size = onnx.stat().st_size
    # Same size, garbage content: only onnxruntime or the hash can tell.
    with onnx.open("r+b") as fh:
        fh.write(b"\xff" * 4096)
    assert load_query_encoder(cache) is None
    # Truncated, as a crash mid-copy would leave it.
    with onnx.open("r+b") as fh:
        fh.truncate(size // 2)
    assert load_query_encoder(cache) is None

    ensure_query_encoder(cache)
    repaired = load_query_encoder(cache)
    assert repaired is not None
    assert onnx.stat().st_size == size
    question = ["who owns the payment service?"]
    assert cosine_distances(repaired.embed(question), encoder.embed(question))[0] < 1e-6


def test_unsupported_pooling_is_refused(tmp_path: Path) -> None:
    model = tmp_path / "cls-model"
    shutil.copytree(bundled_model_dir(), model, ignore=shutil.ignore_patterns("*.safetensors"))
    pooling = model / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    config.update(pooling_mode_cls_token=True, pooling_mode_mean_tokens=False)
    pooling.write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="mean pooling"):
        PipelineConfig.read(model)
    with pytest.raises(ConfigError, match="mean pooling"):
        ensure_query_encoder(tmp_path / "models", model)
    assert load_query_encoder(tmp_path / "models", model) is None
