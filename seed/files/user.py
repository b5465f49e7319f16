"""user-service: docs, contracts and scripted history (Chen's token code, Alex after him)."""

from __future__ import annotations

from seed.deps import requirements
from seed.files import adrs
from seed.files import user_src as src
from seed.files.common import GITIGNORE, dockerfile, init_module
from seed.model import append, replace, write
from seed.script import Script

REPO = "user-service"

README = """# user-service

Customer accounts, authentication and the public signing keys other services use to
verify access tokens.

## API

- `POST /users`, `GET /users/{id}` — accounts (order-service and notification-service
  read profiles here)
- `POST /auth/token`, `POST /auth/refresh` — login and refresh-token rotation
- `GET /.well-known/jwks.json` — public keys for token verification

See [openapi.yaml](openapi.yaml) and [ADR-0001](docs/adr/0001-jwt-with-rotating-keys.md)
for how tokens and key rotation work.

## Local development

    pip install -r requirements.txt -r requirements-dev.txt
    PYTHONPATH=src uvicorn users.app:app --reload --port 8084
"""

OPENAPI = """openapi: 3.0.3
info:
  title: user-service
  version: 1.0.0
servers:
  - url: http://user-service:8080
paths:
  /users:
    post:
      summary: Register a customer
      operationId: createUser
      responses:
        '201': {description: Created}
  /users/{user_id}:
    get:
      summary: A customer's profile
      operationId: getUser
      parameters:
        - {name: user_id, in: path, required: true, schema: {type: string}}
      responses:
        '200': {description: The user}
        '404': {description: Unknown user}
  /auth/token:
    post:
      summary: Log in
      operationId: login
      responses:
        '200': {description: Access and refresh tokens}
  /auth/refresh:
    post:
      summary: Rotate a refresh token
      operationId: refresh
      responses:
        '200': {description: New tokens}
        '401': {description: Unknown, expired or reused refresh token}
  /.well-known/jwks.json:
    get:
      summary: Public signing keys
      operationId: jwks
      responses:
        '200': {description: JWKS}
"""

CODEOWNERS = """*                      @shopfast/identity @alex-morgan
src/users/tokens.py    @chenwei-dev
src/users/keys.py      @chenwei-dev
src/users/api/         @priya-sharma
"""

MAILMAP = "Priya Sharma <priya.sharma@shopfast.io> <priya.s.dev@gmail.com>\n"

KEY_ROTATION = """# Signing key rotation

Written by Chen before handing the token code over (January 2025).

## How it works

`keys.rotate_if_due()` runs hourly from a CronJob. When the current key is older than
`ROTATION_DAYS` it creates a new RSA key, makes it current and retires the old one.
The retired key stays in `/.well-known/jwks.json` for `PREVIOUS_KEY_GRACE_SECONDS`
(24 h). Services cache the JWKS for up to one hour.

## Emergency rotation (key leaked)

1. Run `python -m users.keys rotate --now` in the user-service pod.
2. Decide whether to keep the leaked key in the JWKS. Keeping it for 24 h avoids
   logging everyone out; removing it is the right call if it was really leaked.
3. Revoke all refresh token families issued before the leak if in doubt.

## Gotchas

- Never delete rows from `signing_keys` by hand; `retired_at` drives the grace window.
- Tokens carry `kid`; a verification error "unknown kid" right after a rotation means
  a service cached the JWKS longer than an hour.
"""

NOTES = [
    (
        "docs/operations.md",
        "# Operating user-service\n\n## Login errors spike\n\n"
        "Check the argon2 hashing time first: a node with throttled CPU makes logins time\n"
        "out before anything else breaks.\n",
    ),
    (
        "docs/operations.md",
        "\n## Customers logged out\n\nAlmost always the JWKS: see "
        "docs/key-rotation.md. Check the keys published at\n`/.well-known/jwks.json` "
        "against the `kid` of a failing token.\n",
    ),
    (
        "docs/operations.md",
        "\n## GDPR export requests\n\nUse the export job, never ad-hoc "
        "SQL: it also collects preferences and consent\nrecords.\n",
    ),
]


def script(s: Script) -> None:
    """Scripted commits of user-service."""
    s.skeleton(
        REPO,
        "2023-11-08 15:20",
        "alex",
        "Initial user-service: accounts API",
        [
            write("README.md", README),
            write(".gitignore", GITIGNORE),
            write(
                "requirements.txt",
                requirements(
                    [
                        "fastapi",
                        "uvicorn",
                        "pydantic",
                        "sqlalchemy",
                        "psycopg",
                        "argon2-cffi",
                        "redis",
                    ]
                ),
            ),
            write("requirements-dev.txt", requirements(["pytest"])),
            write("Dockerfile", dockerfile("users")),
            write("src/users/__init__.py", init_module("users", "user-service")),
            write("src/users/app.py", src.APP),
            write("src/users/config.py", src.CONFIG),
            write("src/users/models.py", src.MODELS),
            write("src/users/db.py", src.DB),
            write("src/users/passwords.py", src.PASSWORDS),
        ],
    )
    s.commit(
        REPO,
        "2023-11-10",
        "chen",
        "[USR-5] JWT issuance with rotating signing keys\n\n"
        "Design in docs/adr/0001-jwt-with-rotating-keys.md.\n",
        [
            write("src/users/tokens.py", src.TOKENS),
            write("src/users/keys.py", src.KEYS),
            write("tests/test_tokens.py", src.TEST_TOKENS),
            write(adrs.USER_0001_PATH, adrs.USER_0001),
            append("requirements.txt", "pyjwt==2.8.0\ncryptography==41.0.7\n"),
        ],
        key="adr-user-0001",
    )
    s.commit(
        REPO,
        "2023-11-17",
        "chen",
        "[USR-9] Auth endpoints and JWKS",
        [
            replace(
                "src/users/app.py",
                "from users import db, passwords\n",
                "from users import db, keys, passwords, tokens\n",
            ),
            append("src/users/app.py", src.AUTH_ROUTES),
        ],
    )
    s.commit(
        REPO, "2023-12-05", "alex", "USR-14: OpenAPI contract", [write("openapi.yaml", OPENAPI)]
    )
    s.commit(
        REPO,
        "2024-01-12",
        "alex",
        "USR-22: Add CODEOWNERS",
        [write(".github/CODEOWNERS", CODEOWNERS)],
    )
    s.commit(
        REPO,
        "2024-02-19",
        "priya",
        "Add profile endpoints for the account page",
        [
            write("src/users/api/__init__.py", '"""Endpoints used by the storefront."""\n'),
            write("src/users/api/profile.py", src.PROFILE),
            replace(
                "src/users/app.py",
                "from users.models import NewUser, User\n",
                "from users.api import profile\nfrom users.models import NewUser, User\n",
            ),
            replace(
                "src/users/app.py",
                'app = FastAPI(title="user-service")\n',
                'app = FastAPI(title="user-service")\napp.include_router(profile.router)\n',
            ),
        ],
    )
    s.commit(
        REPO,
        "2024-03-26",
        "priya",
        "[USR-61] Preferences endpoints",
        [
            write("src/users/api/preferences.py", src.PREFERENCES),
            replace(
                "src/users/app.py",
                "from users.api import profile\n",
                "from users.api import preferences, profile\n",
            ),
            replace(
                "src/users/app.py",
                "app.include_router(profile.router)\n",
                "app.include_router(profile.router)\napp.include_router(preferences.router)\n",
            ),
        ],
    )
    s.commit(
        REPO,
        "2024-07-02",
        "priya",
        "Add .mailmap for my personal commit email",
        [write(".mailmap", MAILMAP)],
        email="priya.s.dev@gmail.com",
    )
    s.commit(
        REPO,
        "2025-01-15",
        "chen",
        "[USR-301] Document key rotation before handover\n\n"
        "Alex takes over tokens.py and keys.py from next week.\n",
        [write("docs/key-rotation.md", KEY_ROTATION)],
        key="chen-handover",
    )
    _alex_maintains_tokens(s)


def _alex_maintains_tokens(s: Script) -> None:
    s.commit(
        REPO,
        "2025-02-20",
        "alex",
        "USR-318: Detect refresh token reuse and revoke the "
        "family\n\nADR-0001 always said so; the first version never implemented it.\n",
        [
            replace("src/users/tokens.py", src.VALID_CHECK, src.REUSE_CHECK),
            append("tests/test_tokens.py", TEST_REUSE),
        ],
        key="token-reuse",
    )
    s.commit(
        REPO,
        "2025-04-09",
        "alex",
        "USR-340: Rotate signing keys every 30 days",
        [
            replace("src/users/keys.py", "ROTATION_DAYS = 90\n", "ROTATION_DAYS = 30\n"),
            replace("docs/key-rotation.md", "`ROTATION_DAYS` it", "`ROTATION_DAYS` (30) it"),
        ],
    )
    s.commit(
        REPO,
        "2025-06-03",
        "alex",
        "USR-352: Guard the JWKS grace period\n\nWhile "
        "working on USR-340 I nearly dropped the previous key at rotation time.\n"
        "Writing the rule next to the code this time.\n",
        [
            replace("src/users/keys.py", src.KEYS_GRACE, src.KEYS_GRACE_GUARDED),
            replace(
                ".github/CODEOWNERS",
                "src/users/keys.py      @chenwei-dev\n",
                "src/users/keys.py      @alex-morgan\n",
            ),
        ],
        key="jwks-guard",
    )
    s.commit(
        REPO,
        "2025-12-02",
        "alex",
        "USR-433: Allow 30 s clock skew when verifying tokens",
        [replace("src/users/tokens.py", src.DECODE_CALL, src.DECODE_WITH_LEEWAY)],
    )
    s.commit(
        REPO,
        "2026-07-14",
        "alex",
        "USR-512: Two-week refresh tokens\n\nSecurity review "
        "asked for shorter refresh lifetimes; the storefront refreshes\ndaily anyway.\n",
        [
            replace(
                "src/users/tokens.py",
                "REFRESH_TOKEN_TTL = 30 * 24 * 3600\n",
                "REFRESH_TOKEN_TTL = 14 * 24 * 3600\n",
            ),
        ],
    )


TEST_REUSE = """

def test_reused_refresh_token_revokes_family():
    store = MemoryStore()
    store.save_refresh(tokens._digest("t1"), user_id="u1", family_id="f1", expires_at=2e9)
    store.mark_used(tokens._digest("t1"))
    with pytest.raises(tokens.InvalidToken):
        tokens.refresh(store, "t1")
    assert store.rows[tokens._digest("t1")]["expires_at"] == 0
"""
