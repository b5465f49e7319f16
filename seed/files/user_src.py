"""user-service Python sources, as first written (later commits patch them)."""

from __future__ import annotations

CONFIG = '''"""Runtime settings for user-service, read once from the environment."""

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    database_url: str = os.environ.get("DATABASE_URL", "postgresql://users@localhost/users")
    redis_url: str = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
    jwt_issuer: str = os.environ.get("JWT_ISSUER", "https://auth.shopfast.io")


settings = Settings()
'''

MODELS = '''"""User models exposed by the API."""

from pydantic import BaseModel, EmailStr


class NewUser(BaseModel):
    email: EmailStr
    password: str
    display_name: str


class User(BaseModel):
    user_id: str
    email: EmailStr
    display_name: str
    locale: str = "en-GB"
    payment_customer_ref: str | None = None
'''

DB = '''"""Postgres access for users and refresh tokens."""

import logging
import uuid

from sqlalchemy import create_engine, text

from users.config import settings
from users.models import NewUser, User

log = logging.getLogger(__name__)
engine = create_engine(settings.database_url, pool_pre_ping=True)


def create_user(new: NewUser, password_hash: str) -> User:
    """Insert a user and return it."""
    user = User(user_id=str(uuid.uuid4()), email=new.email, display_name=new.display_name)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO users (user_id, email, display_name, password_hash)"
                 " VALUES (:user_id, :email, :display_name, :h)"),
            {**user.model_dump(include={"user_id", "email", "display_name"}), "h": password_hash},
        )
    return user


def get_user(user_id: str) -> User | None:
    """Load a user by id."""
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT * FROM users WHERE user_id = :id"), {"id": user_id}
        ).mappings().first()
    return User(**row) if row else None
'''

PASSWORDS = '''"""Password hashing with argon2id."""

import logging

from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError

log = logging.getLogger(__name__)
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash with the library's current parameters."""
    return _hasher.hash(password)


def check_password(password_hash: str, password: str) -> bool:
    """True if the password matches."""
    try:
        return _hasher.verify(password_hash, password)
    except VerifyMismatchError:
        return False
'''

APP = '''"""HTTP API of user-service."""

import logging

from fastapi import FastAPI, HTTPException

from users import db, passwords
from users.models import NewUser, User

log = logging.getLogger(__name__)
app = FastAPI(title="user-service")


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}


@app.post("/users", status_code=201)
def create_user(new: NewUser) -> User:
    """Register a customer."""
    return db.create_user(new, passwords.hash_password(new.password))


@app.get("/users/{user_id}")
def get_user(user_id: str) -> User:
    """A customer's profile (used by order-service and notification-service)."""
    user = db.get_user(user_id)
    if user is None:
        raise HTTPException(status_code=404, detail="user not found")
    return user
'''

AUTH_ROUTES = '''

@app.post("/auth/token")
def login(email: str, password: str) -> dict:
    """Exchange credentials for an access token and a refresh token."""
    user_id = tokens.authenticate(email, password)
    return {"access_token": tokens.issue_access_token(user_id, ["customer"]),
            "refresh_token": tokens.issue_refresh_token(tokens.store, user_id)}


@app.post("/auth/refresh")
def refresh(refresh_token: str) -> dict:
    """Rotate a refresh token."""
    access, new_refresh = tokens.refresh(tokens.store, refresh_token)
    return {"access_token": access, "refresh_token": new_refresh}


@app.get("/.well-known/jwks.json")
def jwks() -> dict:
    """Public signing keys; services cache this for up to an hour."""
    return keys.jwks(keys.store)
'''

KEYS_GRACE = "PREVIOUS_KEY_GRACE_SECONDS = 24 * 3600\n"
KEYS_GRACE_GUARDED = (
    """\
# DO NOT remove the previous key from the JWKS before the 24 h grace period ends:
# services cache the JWKS for an hour and clients hold tokens signed with the old key,
# so dropping it early logs every customer out at once (ADR-0001, USR-352).
"""
    + KEYS_GRACE
)

KEYS = (
    '''"""Signing keys for access tokens: rotation and the public JWKS (ADR-0001)."""

import logging
import time
import uuid
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

log = logging.getLogger(__name__)

ROTATION_DAYS = 90
'''
    + KEYS_GRACE
    + '''

@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_pem: bytes
    public_jwk: dict
    created_at: float
    retired_at: float | None = None


def new_key(now: float) -> SigningKey:
    """Generate a 2048-bit RSA signing key."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    kid = uuid.uuid4().hex[:16]
    jwk = {**RSAAlgorithm.to_jwk(private.public_key(), as_dict=True), "kid": kid, "use": "sig"}
    return SigningKey(kid, pem, jwk, now)


def rotate_if_due(store, now: float | None = None) -> SigningKey | None:
    """Rotate the signing key when it is older than ROTATION_DAYS."""
    now = time.time() if now is None else now
    current = store.current()
    if current is not None and now - current.created_at < ROTATION_DAYS * 86400:
        return None
    fresh = new_key(now)
    store.promote(fresh, retire=current, at=now)
    log.info("rotated signing key to %s", fresh.kid)
    return fresh


def jwks(store, now: float | None = None) -> dict:
    """The current public key plus the previous one during its grace period."""
    now = time.time() if now is None else now
    published = [store.current()]
    previous = store.previous()
    if previous is not None and now - previous.retired_at < PREVIOUS_KEY_GRACE_SECONDS:
        published.append(previous)
    return {"keys": [key.public_jwk for key in published]}
'''
)

VALID_CHECK = """    if record is None or record["expires_at"] < time.time():
        raise InvalidToken("unknown or expired refresh token")
"""
REUSE_CHECK = (
    VALID_CHECK
    + """    if record["used"]:
        # A rotated token came back: someone kept a copy. Revoke the whole family.
        store.revoke_family(record["family_id"])
        log.warning("refresh token reuse in family %s", record["family_id"])
        raise InvalidToken("refresh token reuse detected")
"""
)

DECODE_CALL = """    return jwt.decode(token, public, algorithms=["RS256"], audience="shopfast",
                      issuer=settings.jwt_issuer)
"""
DECODE_WITH_LEEWAY = """    # 30 s of leeway: some mobile clients' clocks drift (USR-433).
    return jwt.decode(token, public, algorithms=["RS256"], audience="shopfast",
                      issuer=settings.jwt_issuer, leeway=30)
"""

TOKENS = (
    '''"""Access and refresh tokens (ADR-0001: JWT with rotating signing keys).

Access tokens are RS256 JWTs valid for 15 minutes. Refresh tokens are opaque, stored
hashed, and rotated on every use.
"""

import hashlib
import logging
import secrets
import time

import jwt

from users import keys
from users.config import settings

log = logging.getLogger(__name__)

ACCESS_TOKEN_TTL = 15 * 60
REFRESH_TOKEN_TTL = 30 * 24 * 3600
store = None  # bound at startup to the Redis-backed token store


class InvalidToken(Exception):
    """The token is unknown, expired, revoked or malformed."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_access_token(user_id: str, scopes: list[str]) -> str:
    """A signed access token for a user."""
    now = int(time.time())
    key = keys.store.current()
    claims = {
        "sub": user_id, "iss": settings.jwt_issuer, "aud": "shopfast",
        "iat": now, "exp": now + ACCESS_TOKEN_TTL, "scope": " ".join(scopes),
    }
    return jwt.encode(claims, key.private_pem, algorithm="RS256", headers={"kid": key.kid})


def verify_access_token(token: str) -> dict:
    """Claims of a valid access token; raises InvalidToken otherwise."""
    try:
        kid = jwt.get_unverified_header(token)["kid"]
    except (jwt.DecodeError, KeyError) as exc:
        raise InvalidToken("malformed token") from exc
    public = keys.store.public_key(kid)
'''
    + DECODE_CALL
    + '''

def issue_refresh_token(store, user_id: str, family_id: str | None = None) -> str:
    """A new refresh token, optionally continuing an existing token family."""
    token = secrets.token_urlsafe(32)
    store.save_refresh(
        _digest(token), user_id=user_id, family_id=family_id or secrets.token_hex(8),
        expires_at=time.time() + REFRESH_TOKEN_TTL,
    )
    return token


def refresh(store, token: str) -> tuple[str, str]:
    """Exchange a refresh token for a new access token and a new refresh token."""
    record = store.get_refresh(_digest(token))
'''
    + VALID_CHECK
    + """    store.mark_used(_digest(token))
    access = issue_access_token(record["user_id"], ["customer"])
    return access, issue_refresh_token(store, record["user_id"], record["family_id"])
"""
)

TEST_TOKENS = '''"""Tests for users.tokens."""

import pytest

from users import tokens


class MemoryStore:
    def __init__(self):
        self.rows = {}

    def save_refresh(self, digest, **row):
        self.rows[digest] = {**row, "used": False}

    def get_refresh(self, digest):
        return self.rows.get(digest)

    def mark_used(self, digest):
        self.rows[digest]["used"] = True

    def revoke_family(self, family_id):
        for row in self.rows.values():
            if row["family_id"] == family_id:
                row["expires_at"] = 0


def test_unknown_refresh_token_rejected():
    with pytest.raises(tokens.InvalidToken):
        tokens.refresh(MemoryStore(), "nope")
'''

PROFILE = '''"""Profile endpoints for the storefront (account page)."""

import logging

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from users import db

log = logging.getLogger(__name__)
router = APIRouter(prefix="/users/{user_id}/profile", tags=["profile"])


class ProfileUpdate(BaseModel):
    display_name: str | None = None
    locale: str | None = None


@router.get("")
def get_profile(user_id: str) -> dict:
    """What the account page shows."""
    user = db.get_user(user_id)
    if user is None:
        raise HTTPException(status_code=404, detail="user not found")
    return {"display_name": user.display_name, "locale": user.locale, "email": user.email}


@router.patch("")
def update_profile(user_id: str, update: ProfileUpdate) -> dict:
    """Change display name or locale."""
    changes = update.model_dump(exclude_none=True)
    log.info("profile update for %s: %s", user_id, sorted(changes))
    return {"user_id": user_id, **changes}
'''

PREFERENCES = '''"""Marketing and notification preferences shown in the storefront settings."""

import logging

from fastapi import APIRouter
from pydantic import BaseModel

log = logging.getLogger(__name__)
router = APIRouter(prefix="/users/{user_id}/preferences", tags=["preferences"])


class Preferences(BaseModel):
    marketing_email: bool = False
    order_updates_email: bool = True
    sms: bool = False


@router.get("")
def get_preferences(user_id: str) -> Preferences:
    """Current preferences (defaults until the customer changes them)."""
    return Preferences()


@router.put("")
def put_preferences(user_id: str, prefs: Preferences) -> Preferences:
    """Replace the customer's preferences."""
    log.info("preferences updated for %s", user_id)
    return prefs
'''
