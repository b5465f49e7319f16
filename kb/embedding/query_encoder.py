"""A light query encoder: the bundled model exported to ONNX, run with onnxruntime.

`kb ask` from a cold process cannot afford importing torch (seconds); this encoder needs
only onnxruntime, the Rust `tokenizers` and numpy, and reproduces sentence-transformers'
pipeline (truncation, padding, mean pooling, L2 norm) so its vectors are interchangeable
with the ingest embedder's. The export itself needs torch and is paid once, by `kb init`
or an ingest, which import torch anyway.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from kb.embedding.embedder import EMBEDDING_DIM, _force_offline, bundled_model_dir
from kb.errors import ConfigError

log = logging.getLogger(__name__)

# Bump when the export (graph, inputs, outputs) changes: older exports are then redone.
EXPORT_FORMAT = 1
# onnxruntime 1.31 runs opsets up to 23; 17 is the first with LayerNormalization and is
# what the TorchScript exporter handles best.
OPSET = 17
ONNX_NAME = "query-encoder.onnx"
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
# An export must reproduce torch's own output on these within this cosine distance.
SELF_CHECK_TEXTS = ("why is order to payment asynchronous?", "", "x " * 400)
SELF_CHECK_MAX_DISTANCE = 1e-5

# mkstemp makes 0600 files; the bot or dashboard may run as another user than the ingest.
PUBLIC_FILE_MODE = 0o644

FloatArray = npt.NDArray[np.float32]


def identity_path(onnx_path: Path) -> Path:
    """The JSON beside an export that names the model it was made from."""
    return onnx_path.with_suffix(".json")


def model_name_for(model_dir: Path | None) -> str:
    """The embedding-cache key, the same rule as SentenceTransformerEmbedder's."""
    # Must stay in step with kb.embedding.embedder: equal names make cached vectors interchangeable.
    if model_dir is None:
        return "all-MiniLM-L6-v2"
    return f"sentence-transformers:{model_dir.name}"


@dataclass(frozen=True)
class PipelineConfig:
    """What sentence-transformers does around the transformer, read from the model dir."""

    max_seq_length: int
    do_lower_case: bool
    dim: int

    @classmethod
    def read(cls, model_dir: Path) -> PipelineConfig:
        """Read and check the model's module list, pooling and truncation settings."""
        modules = _read_json(model_dir / "modules.json")
        kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
        if kinds[:2] != ["Transformer", "Pooling"] or not set(kinds[2:]) <= {"Normalize"}:
            raise ConfigError(
                f"{model_dir}: modules {kinds} are not Transformer + mean Pooling (+ Normalize); "
                "the ONNX query encoder cannot reproduce this model, kb falls back to "
                "sentence-transformers"
            )
        pooling = _read_json(model_dir / modules[1].get("path", "1_Pooling") / "config.json")
        modes = {k for k, v in pooling.items() if k.startswith("pooling_mode_") and v}
        if modes != {"pooling_mode_mean_tokens"}:
            raise ConfigError(
                f"{model_dir}: pooling {sorted(modes)} is not mean pooling; the ONNX query "
                "encoder supports mean pooling only"
            )
        sbert = _read_json(model_dir / "sentence_bert_config.json")
        config = _read_json(model_dir / "config.json")
        # sentence-transformers truncates at the smallest of these limits.
        limits = [
            sbert.get("max_seq_length"),
            _read_json_or_empty(model_dir / "tokenizer_config.json").get("model_max_length"),
            config.get("max_position_embeddings"),
        ]
        max_len = min(int(v) for v in limits if isinstance(v, int | float) and v > 0)
        dim = int(pooling.get("word_embedding_dimension") or config.get("hidden_size") or 0)
        return cls(max_len, bool(sbert.get("do_lower_case", False)), dim or EMBEDDING_DIM)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc


def _read_json_or_empty(path: Path) -> dict[str, Any]:
    return _read_json(path) if path.exists() else {}


def _weights_file(model_dir: Path) -> Path:
    for name in WEIGHT_FILES:
        if (model_dir / name).exists():
            return model_dir / name
    raise ConfigError(f"{model_dir} has no model weights ({' or '.join(WEIGHT_FILES)})")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _kb_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("system-wisdom")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def _model_identity(model_dir: Path) -> dict[str, Any]:
    weights = _weights_file(model_dir)
    st = weights.stat()
    return {
        "model_dir": str(model_dir.resolve()),
        "weights": weights.name,
        "model_sha256": _sha256(weights),
        "model_size": st.st_size,
        "model_mtime_ns": st.st_mtime_ns,
    }


def _model_matches(recorded: dict[str, Any], model_dir: Path) -> bool:
    """Whether the weights are those the export was made from (hash only if stat differs)."""
    try:
        weights = _weights_file(model_dir)
        st = weights.stat()
    except (ConfigError, OSError):
        return False
    if weights.name != recorded.get("weights") or st.st_size != recorded.get("model_size"):
        return False
    if st.st_mtime_ns == recorded.get("model_mtime_ns"):
        # Same size and mtime: trust the recorded hash; hashing 90 MB costs ~0.2 s, which
        # the cold `kb ask` path cannot afford on every start.
        return True
    return _sha256(weights) == recorded.get("model_sha256")


def _read_identity(onnx_path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(identity_path(onnx_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _export_is_valid(onnx_path: Path, model_dir: Path, *, full: bool) -> bool:
    """An export made by this format from these weights, complete on disk.

    `full` also checks the ONNX file's hash and kb's version (for `ensure`, not `load`).
    """
    ident = _read_identity(onnx_path)
    if ident is None or ident.get("format") != EXPORT_FORMAT:
        return False
    try:
        size = onnx_path.stat().st_size
    except OSError:
        return False
    if size != ident.get("onnx_size") or not _model_matches(ident, model_dir):
        return False
    if full:
        return ident.get("kb_version") == _kb_version() and _sha256(onnx_path) == ident.get(
            "onnx_sha256"
        )
    return True


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, PUBLIC_FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _export_lock(directory: Path) -> Iterator[None]:
    """Serialise exporters: two ingests starting together should not both pay the export."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: the atomic rename still keeps it safe
        yield
        return
    with (directory / ".query-encoder.lock").open("a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def export_onnx(model_dir: Path, out_path: Path) -> Path:
    """Export the model's transformer to ONNX at `out_path` (atomically) with its identity."""
    _force_offline()
    config = PipelineConfig.read(model_dir)
    identity = _model_identity(model_dir)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    # Eager attention: the SDPA path decides from the example mask (all ones or not) at
    # trace time, which would freeze one branch into the graph.
    model = AutoModel.from_pretrained(
        str(model_dir), local_files_only=True, attn_implementation="eager"
    ).eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    wrapper = LastHiddenState(model).eval()
    tokenizer = _load_tokenizer(model_dir, config.max_seq_length)
    # A padded example so the traced mask arithmetic is the general one.
    ids, mask, types = _encode(tokenizer, ["a padded example", "x"], config.do_lower_case)
    example = tuple(torch.from_numpy(a) for a in (ids, mask, types))
    axes = {0: "batch", 1: "sequence"}

    fd, tmp_name = tempfile.mkstemp(dir=out_path.parent, prefix=f".{out_path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # The exporter warns about tracing and its own deprecation; neither applies.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapper,
                example,
                str(tmp),
                input_names=list(INPUT_NAMES),
                output_names=["last_hidden_state"],
                dynamic_axes={name: axes for name in (*INPUT_NAMES, "last_hidden_state")},
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
        _self_check(tmp, tokenizer, config, wrapper)
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        tmp.chmod(PUBLIC_FILE_MODE)
        identity.update(
            format=EXPORT_FORMAT,
            kb_version=_kb_version(),
            torch=torch.__version__,
            opset=OPSET,
            max_seq_length=config.max_seq_length,
            onnx_size=tmp.stat().st_size,
            onnx_sha256=_sha256(tmp),
            exported_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )
        # The ONNX file first, then its identity: a reader that sees the new file with the
        # old identity finds the size wrong and falls back, never loads a mismatched pair.
        os.replace(tmp, out_path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _atomic_write_text(identity_path(out_path), json.dumps(identity, indent=2) + "\n")
    log.info("exported %s to %s in %.1fs", model_dir, out_path, time.perf_counter() - started)
    return out_path


def _self_check(path: Path, tokenizer: Any, config: PipelineConfig, model: Any) -> None:
    """Refuse an export whose vectors drift from torch's on a few probe texts."""
    import torch

    session = _session(path, threads=1)
    ids, mask, types = _encode(tokenizer, list(SELF_CHECK_TEXTS), config.do_lower_case)
    got = _pool(session.run(None, {"input_ids": ids, "attention_mask": mask,
                                   "token_type_ids": types})[0], mask)  # fmt: skip
    with torch.no_grad():
        hidden = model(*(torch.from_numpy(a) for a in (ids, mask, types))).numpy()
    want = _pool(hidden, mask)
    worst = float(np.max(1.0 - np.sum(got * want, axis=1)))
    if worst > SELF_CHECK_MAX_DISTANCE:
        raise ConfigError(
            f"ONNX export of the embedding model drifts from torch (1 - cos = {worst})"
        )


def _load_tokenizer(model_dir: Path, max_length: int) -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    # tokenizer.json ships its own truncation (128) and fixed padding; sentence-transformers
    # overrides both: truncate at max_seq_length, pad to the longest text of the batch.
    tokenizer.enable_truncation(max_length=max_length, strategy="longest_first")
    padding = tokenizer.padding or {}
    pad_token = str(padding.get("pad_token") or "[PAD]")
    pad_id = padding.get("pad_id")
    if pad_id is None:
        pad_id = tokenizer.token_to_id(pad_token) or 0
    tokenizer.enable_padding(pad_id=int(pad_id), pad_token=pad_token, direction="right")
    return tokenizer


def _encode(
    tokenizer: Any, texts: list[str], lower: bool
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    batch = tokenizer.encode_batch([t.lower() for t in texts] if lower else texts)
    ids = np.array([e.ids for e in batch], dtype=np.int64)
    mask = np.array([e.attention_mask for e in batch], dtype=np.int64)
    types = np.array([e.type_ids for e in batch], dtype=np.int64)
    return ids, mask, types


def _pool(hidden: Any, mask: npt.NDArray[np.int64]) -> FloatArray:
    """Mean over real tokens, then unit length: sentence-transformers' Pooling + Normalize."""
    weights = mask[..., None].astype(np.float32)
    summed = np.sum(np.asarray(hidden, dtype=np.float32) * weights, axis=1)
    # The clamps are sentence-transformers' own (1e-9 on counts, 1e-12 on norms).
    means = summed / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(means, axis=1, keepdims=True)
    return (means / np.clip(norms, 1e-12, None)).astype(np.float32)


def _default_threads() -> int:
    # One query is small: beyond a few threads, synchronisation costs more than it saves,
    # and the bot or dashboard may answer several questions at once.
    return max(1, min(4, os.cpu_count() or 1))


def _session(path: Path, threads: int | None = None) -> Any:
    import onnxruntime as ort

    if hasattr(ort, "disable_telemetry_events"):
        ort.disable_telemetry_events()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or _default_threads()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: the CLI's stderr is for the user
    # Idle pool threads would otherwise spin between operators: on a 2-core box shared with
    # chromadb, SQL and other processes that made a short query ~3x slower, not faster.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxQueryEncoder:
    """The Embedder protocol over an ONNX export: no torch, same vectors (1 - cos <= 1e-4)."""

    def __init__(
        self,
        onnx_path: Path,
        model_dir: Path | None = None,
        batch_size: int = 32,
        threads: int | None = None,
    ) -> None:
        self.onnx_path = onnx_path
        self.model_dir = model_dir or bundled_model_dir()
        self.model_name = model_name_for(model_dir)
        self.batch_size = batch_size
        self.config = PipelineConfig.read(self.model_dir)
        self.dim = self.config.dim
        self.tokenizer = _load_tokenizer(self.model_dir, self.config.max_seq_length)
        self.session = _session(onnx_path, threads)
        # Inputs the graph really has (an export may have dropped an unused one).
        self._inputs = {i.name for i in self.session.get_inputs()}

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed texts, normalised to unit length, in input order."""
        return [v.tolist() for v in self.embed_array(texts)]

    def embed_array(self, texts: Sequence[str]) -> FloatArray:
        """Embed texts into an (n, dim) float32 array of unit vectors."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Batches of similar lengths pad less (sentence-transformers sorts the same way).
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            chosen = order[start : start + self.batch_size]
            out[chosen] = self._embed_batch([texts[i] for i in chosen])
        return out

    def _embed_batch(self, texts: list[str]) -> FloatArray:
        ids, mask, types = _encode(self.tokenizer, texts, self.config.do_lower_case)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        hidden = self.session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[0]
        return _pool(hidden, mask)


def onnx_path_in(cache_dir: Path) -> Path:
    """Where the export lives in a cache dir (KB_HOME/models)."""
    return cache_dir / ONNX_NAME


def ensure_query_encoder(cache_dir: Path, model_dir: Path | None = None) -> Path:
    """Export the model to `cache_dir` unless an up-to-date export is there; its path.

    Raises ConfigError if the model cannot be exported (callers fall back to torch).
    """
    model_dir = model_dir or bundled_model_dir()
    path = onnx_path_in(cache_dir)
    if _export_is_valid(path, model_dir, full=True):
        return path
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _export_lock(cache_dir):
        # Another process may have exported while this one waited for the lock.
        if not _export_is_valid(path, model_dir, full=True):
            try:
                export_onnx(model_dir, path)
            except ConfigError:
                raise
            except Exception as exc:  # torch's exporter, a full disk, a read-only home
                raise ConfigError(
                    f"could not export {model_dir} to ONNX at {path}: {exc}; `kb ask` will "
                    "load sentence-transformers instead (slower to start)"
                ) from exc
    return path


def load_query_encoder(cache_dir: Path, model_dir: Path | None = None) -> OnnxQueryEncoder | None:
    """The ONNX encoder if a valid export for this model is in `cache_dir`, else None."""
    path = onnx_path_in(cache_dir)
    try:
        resolved = model_dir or bundled_model_dir()
        if not _export_is_valid(path, resolved, full=False):
            return None
        return OnnxQueryEncoder(path, model_dir)
    except Exception as exc:
        # A corrupt file or an unsupported model: the caller falls back to torch.
        log.warning(
            "ONNX query encoder at %s unusable (%s); using sentence-transformers", path, exc
        )
        return None
