"""Settings: KB_* variables, keyword overrides, conversion, bounds, secrets and clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import FrozenInstanceError, fields
from pathlib import Path

import pytest

from kb.errors import ConfigError
from kb.settings import REDACTED, Secret, Settings, SettingsError


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No KB_* variable from the developer's shell or CI leaks into these tests."""
    for name in list(os.environ):
        if name.lower().startswith("kb_"):
            monkeypatch.delenv(name)
    return monkeypatch


def invalid(**given: object) -> str:
    with pytest.raises(SettingsError) as caught:
        Settings(**given)  # type: ignore[arg-type]
    return str(caught.value)


def test_importing_settings_does_not_import_pydantic() -> None:
    code = "import sys, kb.settings; kb.settings.Settings(); print('pydantic' in sys.modules)"
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_defaults_without_any_variable() -> None:
    settings = Settings()
    assert settings.home == Path(".kb")
    assert settings.database_url is None and settings.chroma_collection == "kb_chunks"
    assert settings.embedding_batch_size == 64 and settings.llm_timeout_s == 30.0
    assert settings.llm_provider == "none" and settings.llm_api_key is None
    assert settings.departed_after_days == 270 and settings.max_file_bytes == 1_000_000
    assert settings.sqlite_path == Path(".kb/kb.sqlite3")
    assert settings.chroma_path == Path(".kb/chroma")
    assert settings.models_path == Path(".kb/models")
    assert settings.effective_database_url == f"sqlite:///{Path('.kb/kb.sqlite3').resolve()}"


def test_a_keyword_wins_over_its_variable_even_when_it_equals_the_default(
    clean_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = clean_environment
    env.setenv("KB_HOME", str(tmp_path / "from-env"))
    env.setenv("KB_LLM_PROVIDER", "openai")
    env.setenv("KB_DATABASE_URL", "postgresql://kb@db/kb")
    env.setenv("KB_EMBEDDING_BATCH_SIZE", "8")
    from_env = Settings()
    assert from_env.home == tmp_path / "from-env" and from_env.llm_provider == "openai"
    assert from_env.embedding_batch_size == 8
    given = Settings(home=tmp_path / "given", llm_provider="none", database_url=None)
    assert given.home == tmp_path / "given"
    assert given.llm_provider == "none"  # the default, given explicitly: still wins
    assert given.database_url is None
    assert given.embedding_batch_size == 8  # not given: from the environment


def test_variable_names_are_case_insensitive_and_unknown_ones_ignored(
    clean_environment: pytest.MonkeyPatch,
) -> None:
    clean_environment.setenv("kb_llm_model", "llama3.1:8b")
    clean_environment.setenv("Kb_Chroma_Collection", "mixed")
    clean_environment.setenv("KB_NOT_A_SETTING", "whatever")
    clean_environment.setenv("LLM_MODEL", "no prefix, not read")
    settings = Settings()
    assert settings.llm_model == "llama3.1:8b"
    assert settings.chroma_collection == "mixed"
    assert not hasattr(settings, "not_a_setting")


def test_environment_strings_are_converted_by_field_type(
    clean_environment: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "KB_EMBEDDING_BATCH_SIZE": " 32 ",
        "KB_DEPARTED_AFTER_DAYS": "90.0",
        "KB_MAX_FILE_BYTES": "2_000_000",
        "KB_LLM_TIMEOUT_S": "2.5",
        "KB_EMBEDDING_MODEL_DIR": "/models/mini",
        "KB_LLM_BASE_URL": "",
        "KB_SLACK_API_URL": "http://127.0.0.1:9/api/",
    }.items():
        clean_environment.setenv(name, value)
    settings = Settings()
    assert settings.embedding_batch_size == 32 and type(settings.embedding_batch_size) is int
    assert settings.departed_after_days == 90 and type(settings.departed_after_days) is int
    assert settings.max_file_bytes == 2_000_000
    assert settings.llm_timeout_s == 2.5 and type(settings.llm_timeout_s) is float
    assert settings.embedding_model_dir == Path("/models/mini")
    assert settings.llm_base_url == ""  # set but empty stays a string, as before
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"


def test_keyword_values_are_converted_too(tmp_path: Path) -> None:
    settings = Settings(
        home=str(tmp_path),  # type: ignore[arg-type]
        llm_timeout_s=3,
        embedding_batch_size="16",  # type: ignore[arg-type]
        embedding_model_dir=str(tmp_path / "m"),  # type: ignore[arg-type]
    )
    assert settings.home == tmp_path and isinstance(settings.home, Path)
    assert settings.llm_timeout_s == 3.0 and type(settings.llm_timeout_s) is float
    assert settings.embedding_batch_size == 16
    assert settings.embedding_model_dir == tmp_path / "m"


@pytest.mark.parametrize(
    ("variable", "good", "bad", "reason"),
    [
        ("KB_EMBEDDING_BATCH_SIZE", "1", "0", "must be >= 1"),
        ("KB_EMBEDDING_BATCH_SIZE", "4096", "4097", "must be <= 4096"),
        ("KB_LLM_TIMEOUT_S", "0.001", "0", "must be > 0"),
        ("KB_LLM_TIMEOUT_S", "0.001", "nan", "must be > 0"),
        ("KB_DEPARTED_AFTER_DAYS", "1", "0", "must be >= 1"),
        ("KB_MAX_FILE_BYTES", "1", "-5", "must be >= 1"),
    ],
)
def test_each_bound_accepts_its_edge_and_names_the_variable_past_it(
    clean_environment: pytest.MonkeyPatch, variable: str, good: str, bad: str, reason: str
) -> None:
    field_name = variable[3:].lower()
    clean_environment.setenv(variable, good)
    assert getattr(Settings(), field_name) == float(good)
    clean_environment.setenv(variable, bad)
    assert invalid() == f"invalid settings: {variable}={bad!r}: {reason}"


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("KB_EMBEDDING_BATCH_SIZE", "lots", "must be a whole number"),
        ("KB_EMBEDDING_BATCH_SIZE", "32.5", "must be a whole number"),
        ("KB_LLM_TIMEOUT_S", "", "must be a number"),
    ],
)
def test_unparseable_numbers_name_the_variable(
    clean_environment: pytest.MonkeyPatch, variable: str, value: str, reason: str
) -> None:
    clean_environment.setenv(variable, value)
    assert invalid() == f"invalid settings: {variable}={value!r}: {reason}"


@pytest.mark.parametrize("provider", ["none", "openai", "ollama"])
def test_llm_provider_takes_each_of_its_choices(
    clean_environment: pytest.MonkeyPatch, provider: str
) -> None:
    clean_environment.setenv("KB_LLM_PROVIDER", provider)
    assert Settings().llm_provider == provider


@pytest.mark.parametrize("provider", ["OpenAI", " openai", "gpt-everything", ""])
def test_llm_provider_rejects_anything_else(
    clean_environment: pytest.MonkeyPatch, provider: str
) -> None:
    clean_environment.setenv("KB_LLM_PROVIDER", provider)
    assert invalid() == (
        f"invalid settings: KB_LLM_PROVIDER={provider!r}: must be one of 'none', 'openai', 'ollama'"
    )


def test_the_error_names_the_variable_as_it_was_set_or_the_field_given(
    clean_environment: pytest.MonkeyPatch,
) -> None:
    clean_environment.setenv("kb_embedding_batch_size", "0")
    clean_environment.setenv("KB_LLM_TIMEOUT_S", "soon")
    message = invalid(departed_after_days=0, llm_model=3)
    assert "kb_embedding_batch_size='0': must be >= 1" in message
    assert "KB_LLM_TIMEOUT_S='soon': must be a number" in message
    assert "departed_after_days=0: must be >= 1" in message
    assert "llm_model=3: must be a string" in message
    assert "\n" not in message and message.startswith("invalid settings: ")


def test_settings_error_is_a_config_error_with_each_problem() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings(embedding_batch_size=0, llm_timeout_s=-1)
    assert isinstance(caught.value, SettingsError)
    assert caught.value.problems == [
        "embedding_batch_size=0: must be >= 1",
        "llm_timeout_s=-1: must be > 0",
    ]


def test_home_expands_tilde_from_variable_and_keyword(
    clean_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_environment.setenv("HOME", str(tmp_path))
    clean_environment.setenv("KB_HOME", "~/kb-env")
    assert Settings().home == tmp_path / "kb-env"
    assert Settings(home=Path("~/kb-given")).home == tmp_path / "kb-given"
    assert invalid(home=None) == "invalid settings: home=None: must be a path"


def test_secrets_never_show_in_repr_str_or_redacted(
    clean_environment: pytest.MonkeyPatch,
) -> None:
    clean_environment.setenv("KB_SLACK_BOT_TOKEN", "xoxb-from-env")
    clean_environment.setenv("KB_SLACK_APP_TOKEN", "")
    clean_environment.setenv("KB_DATABASE_URL", "postgresql://kb:hunter2@db:5432/kb")
    settings = Settings(llm_api_key="sk-given")
    assert settings.slack_bot_token == Secret("xoxb-from-env")
    assert settings.slack_bot_token.get_secret_value() == "xoxb-from-env"
    assert settings.llm_api_key is not None
    assert settings.llm_api_key.get_secret_value() == "sk-given"
    for shown in (repr(settings), str(settings), str(settings.redacted())):
        assert "xoxb-from-env" not in shown and "sk-given" not in shown
    assert repr(settings.llm_api_key) == f"Secret('{REDACTED}')"
    values = settings.redacted()
    assert values["slack_bot_token"] == values["llm_api_key"] == REDACTED
    assert values["slack_app_token"] == ""  # set but empty: shown as empty, not as a secret
    assert values["slack_signing_secret"] is None
    assert values["database_url"] == f"postgresql://kb:{REDACTED}@db:5432/kb"
    assert values["effective_database_url"] == f"postgresql://kb:{REDACTED}@db:5432/kb"
    assert "hunter2" not in str(values)


def test_a_secret_is_compared_by_value_and_accepted_in_any_form() -> None:
    class Foreign:  # pydantic's SecretStr has this shape
        def get_secret_value(self) -> str:
            return "s3"

    assert Secret("a") == Secret("a") and Secret("a") != Secret("b")
    assert Secret("a") != "a"  # never equal to the plain string it hides
    assert len({Secret("a"), Secret("a")}) == 1
    assert not Secret("") and Secret("x")
    assert str(Secret("x")) == REDACTED and str(Secret("")) == ""
    for given in ("s3", Secret("s3"), Foreign()):
        assert Settings(llm_api_key=given).llm_api_key == Secret("s3")  # type: ignore[arg-type]
    message = invalid(slack_bot_token=12345)
    assert message == "invalid settings: slack_bot_token: must be a string or a Secret"


def test_every_field_has_a_description_and_settings_are_frozen() -> None:
    for spec in fields(Settings):
        assert len(spec.metadata["description"]) > 10, spec.name
    settings = Settings()
    with pytest.raises(FrozenInstanceError):
        settings.home = Path("elsewhere")  # type: ignore[misc]


def test_an_unknown_keyword_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="homme"):
        Settings(homme=Path("x"))  # type: ignore[call-arg]
