"""bot/manifest.yml asks for exactly what the bot uses: no missing scope, none to spare."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

BOT = Path(__file__).resolve().parents[1] / "bot"

# Each Web API method the bot calls, and the bot scope it needs (None: no scope needed).
METHOD_SCOPES: dict[str, str | None] = {
    "auth_test": None,
    "chat_postMessage": "chat:write",
    "chat_postEphemeral": "chat:write",
    "chat_update": "chat:write",
    "chat_getPermalink": None,
    "reactions_add": "reactions:write",
    "reactions_remove": "reactions:write",
    "users_info": "users:read",
    "users_list": "users:read",
    "users_conversations": "groups:read",
    "conversations_info": "channels:read",
    "conversations_history": "channels:history",
    "conversations_replies": "channels:history",
    "views_open": None,
    "files_upload_v2": "files:write",
}
# Events, and the scope each needs to be delivered.
EVENT_SCOPES = {
    "app_mention": "app_mentions:read",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
    "member_joined_channel": "channels:read",
    "channel_rename": "channels:read",
    "assistant_thread_started": "assistant:write",
    "assistant_thread_context_changed": "assistant:write",
}


def _manifest() -> dict:
    return yaml.safe_load((BOT / "manifest.yml").read_text())


def _calls() -> set[str]:
    source = "\n".join(p.read_text() for p in BOT.glob("*.py"))
    return set(re.findall(r"\bclient\.(\w+)\(", source))


def test_every_api_call_has_its_scope_and_every_scope_a_use() -> None:
    manifest = _manifest()
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    calls = _calls()
    assert calls <= set(METHOD_SCOPES), f"add to METHOD_SCOPES: {calls - set(METHOD_SCOPES)}"
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    needed = {METHOD_SCOPES[c] for c in calls} | {EVENT_SCOPES[e] for e in events}
    needed |= {"commands"}  # the slash command
    needed.discard(None)
    assert scopes == needed


def test_manifest_names_what_the_app_listens_to() -> None:
    manifest = _manifest()
    features = manifest["features"]
    assert [c["command"] for c in features["slash_commands"]] == ["/kb"]
    (shortcut,) = features["shortcuts"]
    source = (BOT / "app.py").read_text()
    assert shortcut["type"] == "message" and f'"{shortcut["callback_id"]}"' in source
    for event in manifest["settings"]["event_subscriptions"]["bot_events"]:
        name = event.split(".")[0]
        assert name.startswith("assistant_") or f'app.event("{name}")' in source, event
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is True
    prompts = [p["message"] for p in features["assistant_view"]["suggested_prompts"]]
    assert "Who knows the token code?" in prompts


def test_kb_bot_names_the_missing_settings_and_never_a_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from bot.cli import bot
    from kb.errors import ConfigError

    for name in ("KB_SLACK_APP_TOKEN", "KB_SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KB_SLACK_BOT_TOKEN", "xoxb-123-secret-value")
    runner = CliRunner()
    socket = runner.invoke(bot, [], obj={"home": str(tmp_path)})
    assert isinstance(socket.exception, ConfigError)
    assert "KB_SLACK_APP_TOKEN" in str(socket.exception)
    http = runner.invoke(bot, ["--http", "--port", "0"], obj={"home": str(tmp_path)})
    assert "KB_SLACK_SIGNING_SECRET" in str(http.exception)
    assert "secret-value" not in str(http.exception) + http.output
    assert "kb bot --http --port 3000" in runner.invoke(bot, ["--help"]).output


def test_mention_only_channels_by_name_or_id(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from botslack import slack_settings, workspace
    from fakes.slack_app import FakeSlack

    from bot.app import mention_only, web_client
    from kb import Settings

    with FakeSlack(workspace()) as slack:
        listed = Settings(
            home=tmp_path, slack_mention_only_channels="#general, C09", **slack_settings(slack)
        )
        bot = SimpleNamespace(settings=listed, client=web_client(listed))
        assert mention_only(bot, "C01") and mention_only(bot, "C09")  # by name, by id
        assert not mention_only(bot, "C02")
        every = Settings(home=tmp_path, slack_mention_only_channels="*", **slack_settings(slack))
        assert mention_only(SimpleNamespace(settings=every, client=None), "C02")
        none = Settings(home=tmp_path, slack_mention_only_channels="", **slack_settings(slack))
        assert not mention_only(SimpleNamespace(settings=none, client=None), "C02")
