"""The CLI as a user meets it: help with examples, init, config redaction, clean errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from kb.cli import cli


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "kb.cli", *args], capture_output=True, text=True, env=full_env
    )


def test_help_lists_every_command_with_an_example() -> None:
    runner = CliRunner()
    top = runner.invoke(cli, ["--help"], obj={})
    assert top.exit_code == 0
    ctx = click.Context(cli)
    names = cli.list_commands(ctx)
    # `seed` is not kb's own: the demo organisation adds it through an entry point.
    assert {"init", "config", "seed", "status", "ingest"} <= set(names)
    assert "seed" not in cli.commands
    examples = top.output.split("Examples:")[1]
    leaves: list[tuple[str, ...]] = []
    for name in names:
        cmd = cli.get_command(ctx, name)
        assert cmd is not None, name
        if isinstance(cmd, click.Group):
            leaves.extend((name, sub) for sub in cmd.commands)
            group_help = runner.invoke(cli, [name, "--help"], obj={})
            assert "Examples:" in group_help.output, name
        else:
            leaves.append((name,))
    assert ("ingest", "git") in leaves and ("ingest", "slack-export") in leaves
    for path in leaves:
        assert "kb " + " ".join(path) in examples, path
        sub = runner.invoke(cli, [*path, "--help"], obj={})
        assert sub.exit_code == 0 and "Examples:" in sub.output, path


def test_init_creates_then_reports_up_to_date(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = _run("--home", str(home), "init", "--json")
    assert first.returncode == 0, first.stderr
    info = json.loads(first.stdout)
    assert info["revision_before"] is None and info["revision"]
    assert (home / "kb.sqlite3").exists() and (home / "chroma").is_dir()
    second = _run("--home", str(home), "init")
    assert second.returncode == 0 and "up to date" in second.stdout
    status = _run("--home", str(home), "status", "--json")
    assert json.loads(status.stdout)["documents"] == 0


def test_home_defaults_to_env_then_dot_kb(tmp_path: Path) -> None:
    res = _run("config", "--json", env={"KB_HOME": str(tmp_path / "h")})
    assert json.loads(res.stdout)["home"] == str(tmp_path / "h")
    res = subprocess.run(
        [sys.executable, "-m", "kb.cli", "config", "--json"],
        capture_output=True, text=True, cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith("KB_")},
    )  # fmt: skip
    assert json.loads(res.stdout)["home"] == ".kb"


def test_config_redacts_secrets() -> None:
    env = {
        "KB_SLACK_BOT_TOKEN": "xoxb-1111-2222-abcdefghijklmnop",
        "KB_SLACK_SIGNING_SECRET": "8f14e45fceea167a5a36dedd4bea2543",
        "KB_LLM_API_KEY": "sk-proj-abcdefghijklmnopqrstuvwxyz",
        "KB_DATABASE_URL": "postgresql://kb:hunter2@db.internal:5432/kb",
        "KB_LLM_PROVIDER": "openai",
    }
    for args in (("config",), ("config", "--json")):
        res = _run(*args, env=env)
        assert res.returncode == 0, res.stderr
        for secret in ("xoxb-1111", "8f14e45f", "sk-proj", "hunter2"):
            assert secret not in res.stdout
    values = json.loads(_run("config", "--json", env=env).stdout)
    assert values["slack_bot_token"] == "**********"
    assert values["llm_provider"] == "openai"
    assert values["database_url"] == "postgresql://kb:**********@db.internal:5432/kb"


def test_config_lists_each_setting_with_its_variable_and_description(tmp_path: Path) -> None:
    from dataclasses import fields

    from kb.settings import Settings

    env = {"KB_HOME": str(tmp_path), "KB_EMBEDDING_BATCH_SIZE": "32", "COLUMNS": "400"}
    res = _run("config", env=env)
    assert res.returncode == 0, res.stderr
    rows = {line.split()[1]: line for line in res.stdout.splitlines() if line.startswith("│")}
    for spec in fields(Settings):
        row = rows[spec.name]
        assert f"KB_{spec.name.upper()}" in row and spec.metadata["description"] in row
    assert "│ 32 " in rows["embedding_batch_size"]
    assert "(derived)" in rows["effective_database_url"]


def test_bad_settings_and_unreachable_database_give_one_line_errors(tmp_path: Path) -> None:
    bad = _run("config", env={"KB_LLM_PROVIDER": "gpt-everything"})
    assert bad.returncode == 1
    assert "invalid settings: KB_LLM_PROVIDER='gpt-everything'" in bad.stderr
    assert "'ollama'" in bad.stderr and "Traceback" not in bad.stderr
    down = _run(
        "--home", str(tmp_path), "init",
        env={"KB_DATABASE_URL": "postgresql://kb@127.0.0.1:1/kb"},
    )  # fmt: skip
    assert down.returncode == 1
    assert "cannot reach the database" in down.stderr and "Traceback" not in down.stderr
    missing = _run("--home", str(tmp_path / "none"), "status")
    assert missing.returncode == 1 and "kb init" in missing.stderr


def test_seed_into_a_relative_directory(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "kb.cli", "seed", "out/org", "--json"],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "payment-service" in json.loads(res.stdout)["repos"]
    assert (tmp_path / "out/org/repos/payment-service/.git").is_dir()
    again = subprocess.run(
        [sys.executable, "-m", "kb.cli", "seed", "out/org"], capture_output=True, text=True,
        cwd=tmp_path,
    )  # fmt: skip
    assert again.returncode == 1 and "out/org" in again.stderr and "Traceback" not in again.stderr
