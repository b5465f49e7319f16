"""Secret redaction: real secret shapes go, ordinary code and prose stay."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kb.contract.records import ChunkText, DocumentRecord
from kb.ingest.redaction import redact, redact_record
from kb.store.models import DocumentKind

SECRETS = {
    "aws-access-key": "aws_access_key_id: AKIAQ3EGV7NBXZ4LTR2M",
    "aws-secret": "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYz8Qp3vLk2A",
    "slack-token": "here is the bot token xoxb-2208917421-4410931215-Kq9vTzN3mW8pXcR2sLfYh6Jd",
    "github-token": "export GH=ghp_9aZbX8cY7dW6eV5fU4gT3hS2iR1jQ0kP9oLm",
    "stripe": 'STRIPE_KEY="sk_live_51HxQk2Lq8Zr4Tn7Wv9Yb3Cd"',
    "url-password": "DATABASE_URL=postgres://orders:S3cr3t-Pa55@orders-db:5432/orders",
    "password-assignment": 'password = "Tr0ub4dor&3xyz"',
    "private-key": (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\nabc\n-----END RSA PRIVATE KEY-----"
    ),
    "slack-app-token": "socket mode runs on xapp-1-A0123456789-7766554433-abcdefABCDEF",
    "slack-webhook": "alerts post to https://hooks.slack.com/services/T0ABC123/B0DEF456/Xy9zAbCdEfGh",
    "google-api-key": "maps use AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
    "openai-key": "the eval ran with sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "jwt": (
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0"
        ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
    ),
}


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_secret_shapes_are_redacted(name: str) -> None:
    text = SECRETS[name]
    out, n = redact(text)
    assert n >= 1, name
    assert "[REDACTED:" in out
    secret_part = text.split()[-1].split("=")[-1].split(":")[-1].strip('"')
    if name not in {"private-key", "url-password"}:
        assert secret_part not in out
    if name == "url-password":
        assert "S3cr3t-Pa55" not in out and "orders-db:5432" in out
    if name == "private-key":
        assert "MIIEowIBAAKCAQEA7" not in out


@pytest.mark.parametrize(
    "text",
    [
        'password = os.environ["DB_PASSWORD"]',
        "token: str",
        "def rotate_token(self, token_id: int) -> None:",
        "password=${DB_PASSWORD}",
        "api_key = settings.payment_api_key",
        "The token refresh endpoint returns a new access token.",
        "secret_name = payments-db",
        "commit 8f14e45fceea167a5a36dedd4bea2543 fixed the token rotation",
        "https://grafana.example.internal/d/abc123/checkout?orgId=1",
    ],
)
def test_ordinary_code_and_prose_are_left_alone(text: str) -> None:
    assert redact(text) == (text, 0)


def test_records_are_redacted_field_by_field_but_ids_are_kept() -> None:
    rec = DocumentRecord(
        external_id="git:payment-service:file:config/settings.yaml#doc",
        kind=DocumentKind.DOC,
        title="settings.yaml",
        body="aws_access_key_id: AKIAQ3EGV7NBXZ4LTR2M",
        path="config/settings.yaml",
        meta={"note": "token xoxb-2208917421-4410931215-Kq9vTzN3mW8pXcR2sLfYh6Jd"},
        chunks=[ChunkText("key AKIAQ3EGV7NBXZ4LTR2M")],
    )
    out, n = redact_record(rec)
    assert n == 3
    assert "AKIA" not in out.body and "xoxb" not in out.meta["note"]
    assert out.chunks is not None and "AKIA" not in out.chunks[0].text
    assert out.external_id == rec.external_id and out.path == rec.path


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_redaction_never_raises_and_is_idempotent(text: str) -> None:
    once, _ = redact(text)
    assert redact(once) == (once, 0)


def test_a_token_cut_short_by_a_title_is_redacted_too() -> None:
    from kb.ingest.redaction import redact

    text, n = redact("#incidents: pasted ghp_RGKERIw5… by mistake")
    assert n == 1 and "ghp_" not in text and "RGKE" not in text
    assert redact("a title cut here…") == ("a title cut here…", 0)
